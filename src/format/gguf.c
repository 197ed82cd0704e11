/* gguf.c - GGUF v2/v3 reader (bounds-checked cursor over the mapping),
 * in-memory builder and atomic v3 writer. Layout: see gguf.h. */
#include "format/gguf.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fs.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF values are read in place: little-endian hosts only");

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_ALIGNMENT_KEY "general.alignment"
/* Smallest encoding of one element in the file, used to refuse counts that
 * cannot fit in what remains before anything is allocated. */
#define MIN_KV_BYTES 13     /* u64 key length + u32 type + 1-byte value */
#define MIN_TENSOR_BYTES 32 /* u64 name length + u32 n_dims + u64 ne + u32 type + u64 offset */
#define MIN_STRING_BYTES 8
#define MIN_ARRAY_BYTES 12
/* Tensor names the builder accepts: llama.cpp refuses names of 64 bytes or
 * more (GGML_MAX_NAME), so the writer never produces one. Reading is lenient. */
#define GGUF_MAX_TENSOR_NAME 63

typedef struct gguf_kv {
    char *key;         /* NUL-terminated copy */
    xllm_gguf_value v;
    int owned;         /* bytes of v (strings, array data) are heap copies, not the mapping */
} gguf_kv;

typedef struct gguf_attachment {
    void *ptr;
    void (*destroy)(void *);
} gguf_attachment;

/* Open-addressing hash of names to indices (slot = index + 1, 0 = empty). */
typedef struct name_index {
    uint32_t *slots;
    uint32_t mask; /* capacity - 1; capacity is a power of two */
} name_index;

struct xllm_gguf {
    char *path;
    uint32_t version;
    xllm_mmap map;                /* file mapping (open) */
    const unsigned char *base;    /* [size] bytes parsed (mapping or caller's buffer) */
    size_t size;
    uint64_t data_offset;         /* start of the data section */
    gguf_kv *kvs;                 /* [n_kv] in file / insertion order */
    int64_t n_kv, cap_kv;
    name_index kv_index;
    xllm_gguf_tensor *tensors;    /* [n_tensors] in file / insertion order */
    void **tensor_owned;          /* [n_tensors] heap buffer owned per tensor or NULL */
    int64_t n_tensors, cap_tensors;
    name_index tensor_index;
    gguf_attachment *attachments; /* [n_attachments] */
    int64_t n_attachments;
};

/* ---- value types ---- */

static const struct {
    const char *name;
    uint8_t size;
} type_table[XLLM_GGUF_TYPE_COUNT] = {
    [XLLM_GGUF_UINT8] = {"uint8", 1},   [XLLM_GGUF_INT8] = {"int8", 1},
    [XLLM_GGUF_UINT16] = {"uint16", 2}, [XLLM_GGUF_INT16] = {"int16", 2},
    [XLLM_GGUF_UINT32] = {"uint32", 4}, [XLLM_GGUF_INT32] = {"int32", 4},
    [XLLM_GGUF_FLOAT32] = {"float32", 4}, [XLLM_GGUF_BOOL] = {"bool", 1},
    [XLLM_GGUF_STRING] = {"string", 0}, [XLLM_GGUF_ARRAY] = {"array", 0},
    [XLLM_GGUF_UINT64] = {"uint64", 8}, [XLLM_GGUF_INT64] = {"int64", 8},
    [XLLM_GGUF_FLOAT64] = {"float64", 8},
};

const char *xllm_gguf_type_name(uint32_t t) { return t < XLLM_GGUF_TYPE_COUNT ? type_table[t].name : "?"; }
size_t xllm_gguf_type_size(uint32_t t) { return t < XLLM_GGUF_TYPE_COUNT ? type_table[t].size : 0; }

/* A decoded number: kind says which field holds it. */
typedef struct gguf_num {
    enum { NUM_UNSIGNED, NUM_SIGNED, NUM_FLOAT } kind;
    uint64_t u;
    int64_t i;
    double f;
} gguf_num;

/* Decode a fixed-size element of type t at p; 0 if t is not numeric/bool. */
static int decode_num(uint32_t t, const void *p, gguf_num *n)
{
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } x;
    size_t sz = xllm_gguf_type_size(t);
    if (!sz)
        return 0;
    memcpy(&x, p, sz);
    n->kind = NUM_UNSIGNED;
    switch (t) {
    case XLLM_GGUF_UINT8: n->u = x.u8; break;
    case XLLM_GGUF_BOOL: n->u = x.u8 != 0; break;
    case XLLM_GGUF_UINT16: n->u = x.u16; break;
    case XLLM_GGUF_UINT32: n->u = x.u32; break;
    case XLLM_GGUF_UINT64: n->u = x.u64; break;
    case XLLM_GGUF_INT8: n->kind = NUM_SIGNED; n->i = x.i8; break;
    case XLLM_GGUF_INT16: n->kind = NUM_SIGNED; n->i = x.i16; break;
    case XLLM_GGUF_INT32: n->kind = NUM_SIGNED; n->i = x.i32; break;
    case XLLM_GGUF_INT64: n->kind = NUM_SIGNED; n->i = x.i64; break;
    case XLLM_GGUF_FLOAT32: n->kind = NUM_FLOAT; n->f = x.f32; break;
    case XLLM_GGUF_FLOAT64: n->kind = NUM_FLOAT; n->f = x.f64; break;
    default: return 0;
    }
    if (n->kind == NUM_UNSIGNED)
        n->f = (double)n->u;
    else if (n->kind == NUM_SIGNED)
        n->f = (double)n->i;
    return 1;
}

/* ---- name index ---- */

typedef const char *(*name_at_fn)(const xllm_gguf *g, int64_t i);
static const char *kv_name_at(const xllm_gguf *g, int64_t i) { return g->kvs[i].key; }
static const char *tensor_name_at(const xllm_gguf *g, int64_t i) { return g->tensors[i].name; }

static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int64_t index_find(const name_index *ix, const xllm_gguf *g, name_at_fn name_at, const char *name)
{
    uint32_t h;
    if (!ix->slots || !name)
        return -1;
    for (h = hash_name(name) & ix->mask; ix->slots[h]; h = (h + 1) & ix->mask)
        if (!strcmp(name_at(g, ix->slots[h] - 1), name))
            return ix->slots[h] - 1;
    return -1;
}

static void index_put(name_index *ix, const char *name, int64_t i)
{
    uint32_t h = hash_name(name) & ix->mask;
    while (ix->slots[h])
        h = (h + 1) & ix->mask;
    ix->slots[h] = (uint32_t)(i + 1);
}

/* Rebuild with room for at least want entries (load factor <= 1/2). */
static xllm_status index_rebuild(name_index *ix, const xllm_gguf *g, name_at_fn name_at, int64_t n, int64_t want)
{
    uint32_t cap = 16;
    uint32_t *slots;
    while ((int64_t)cap < 2 * want)
        cap *= 2;
    slots = xllm_calloc(cap, sizeof *slots);
    if (!slots)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory indexing %lld names", (long long)want);
    xllm_free(ix->slots);
    ix->slots = slots;
    ix->mask = cap - 1;
    for (int64_t i = 0; i < n; i++)
        index_put(ix, name_at(g, i), i);
    return XLLM_OK;
}

/* Entry n (already stored at index n) joins the index. */
static xllm_status index_add(name_index *ix, const xllm_gguf *g, name_at_fn name_at, int64_t n)
{
    if (!ix->slots || 2 * (int64_t)(n + 1) > (int64_t)ix->mask + 1)
        return index_rebuild(ix, g, name_at, n + 1, 2 * (n + 1));
    index_put(ix, name_at(g, n), n);
    return XLLM_OK;
}

/* ---- values: free and deep copy ---- */

static void value_free(xllm_gguf_value *v, int owned)
{
    if (v->type == XLLM_GGUF_STRING && owned)
        xllm_free((void *)v->str.ptr);
    if (v->type != XLLM_GGUF_ARRAY)
        return;
    if (v->arr_type == XLLM_GGUF_ARRAY && v->arr_sub) {
        for (uint64_t j = 0; j < v->count; j++)
            value_free((xllm_gguf_value *)&v->arr_sub[j], owned);
        xllm_free((void *)v->arr_sub);
    } else if (v->arr_type == XLLM_GGUF_STRING) {
        xllm_free((void *)v->arr_strs); /* owned: one block with the bytes */
    } else if (owned) {
        xllm_free((void *)v->arr_data);
    }
    memset(v, 0, sizeof *v);
}

static xllm_status copy_fail(const char *key, const char *what)
{
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf key '%s': %s", key, what);
}

/* Deep copy src into dst (owned); dst is left empty on failure. */
static xllm_status value_copy(xllm_gguf_value *dst, const xllm_gguf_value *src, const char *key, int depth)
{
    xllm_status rc = XLLM_ERR_OUT_OF_MEMORY;
    size_t esz;
    memset(dst, 0, sizeof *dst);
    if ((uint32_t)src->type >= XLLM_GGUF_TYPE_COUNT)
        return copy_fail(key, "unknown value type");
    dst->type = src->type;
    if (src->type == XLLM_GGUF_STRING) {
        char *p;
        if (src->str.len > XLLM_MAX_GGUF_STRING || (src->str.len && !src->str.ptr))
            return copy_fail(key, "string too long or NULL");
        p = xllm_malloc(src->str.len + 1);
        if (!p)
            goto oom;
        if (src->str.len)
            memcpy(p, src->str.ptr, src->str.len);
        p[src->str.len] = 0;
        dst->str.ptr = p;
        dst->str.len = src->str.len;
        return XLLM_OK;
    }
    if (src->type != XLLM_GGUF_ARRAY) {
        memcpy(dst->scalar, src->scalar, sizeof dst->scalar);
        return XLLM_OK;
    }
    if ((uint32_t)src->arr_type >= XLLM_GGUF_TYPE_COUNT)
        return copy_fail(key, "unknown array element type");
    if (src->count > XLLM_MAX_GGUF_ARRAY)
        return xllm_fail(XLLM_ERR_LIMIT, "gguf key '%s': array of %llu elements exceeds the limit of %u", key,
                         (unsigned long long)src->count, XLLM_MAX_GGUF_ARRAY);
    if (depth + 1 > XLLM_MAX_GGUF_ARRAY_DEPTH)
        return xllm_fail(XLLM_ERR_LIMIT, "gguf key '%s': arrays nested deeper than %d", key,
                         XLLM_MAX_GGUF_ARRAY_DEPTH);
    dst->arr_type = src->arr_type;
    esz = xllm_gguf_type_size(src->arr_type);
    if (esz) {
        void *p = xllm_malloc(src->count * esz);
        if (src->count && !src->arr_data) {
            xllm_free(p);
            return copy_fail(key, "array data is NULL");
        }
        if (!p)
            goto oom;
        if (src->count)
            memcpy(p, src->arr_data, src->count * esz);
        dst->arr_data = p;
        dst->count = src->count;
    } else if (src->arr_type == XLLM_GGUF_STRING) {
        uint64_t total = 0;
        xllm_str *strs;
        char *bytes;
        if (src->count && !src->arr_strs)
            return copy_fail(key, "string array is NULL");
        for (uint64_t j = 0; j < src->count; j++) {
            if (src->arr_strs[j].len > XLLM_MAX_GGUF_STRING || (src->arr_strs[j].len && !src->arr_strs[j].ptr))
                return copy_fail(key, "array string too long or NULL");
            total += src->arr_strs[j].len + 1;
        }
        strs = xllm_malloc(src->count * sizeof *strs + total);
        if (!strs)
            goto oom;
        bytes = (char *)(strs + src->count);
        for (uint64_t j = 0; j < src->count; j++) {
            uint64_t n = src->arr_strs[j].len;
            if (n)
                memcpy(bytes, src->arr_strs[j].ptr, n);
            bytes[n] = 0;
            strs[j].ptr = bytes;
            strs[j].len = n;
            bytes += n + 1;
        }
        dst->arr_strs = strs;
        dst->count = src->count;
    } else {
        xllm_gguf_value *sub;
        if (src->count && !src->arr_sub)
            return copy_fail(key, "nested array is NULL");
        sub = xllm_calloc(src->count ? src->count : 1, sizeof *sub);
        if (!sub)
            goto oom;
        dst->arr_sub = sub;
        dst->count = src->count;
        for (uint64_t j = 0; j < src->count; j++) {
            if (src->arr_sub[j].type != XLLM_GGUF_ARRAY) {
                rc = copy_fail(key, "element of an array of arrays is not an array");
                goto fail;
            }
            rc = value_copy(&sub[j], &src->arr_sub[j], key, depth + 1);
            if (rc != XLLM_OK)
                goto fail;
        }
    }
    return XLLM_OK;
oom:
    rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "gguf key '%s': out of memory copying the value", key);
fail:
    value_free(dst, 1);
    return rc;
}

/* ---- container lifetime ---- */

static xllm_gguf *gguf_alloc(const char *name)
{
    xllm_gguf *g = xllm_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->path = xllm_strdup(name ? name : "(memory)");
    if (!g->path) {
        xllm_free(g);
        return NULL;
    }
    g->version = 3;
    return g;
}

void xllm_gguf_close(xllm_gguf *g)
{
    if (!g)
        return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        value_free(&g->kvs[i].v, g->kvs[i].owned);
        xllm_free(g->kvs[i].key);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        xllm_free((void *)g->tensors[i].name);
        xllm_free(g->tensor_owned[i]);
    }
    for (int64_t i = g->n_attachments - 1; i >= 0; i--)
        if (g->attachments[i].destroy)
            g->attachments[i].destroy(g->attachments[i].ptr);
    xllm_free(g->attachments);
    xllm_free(g->kvs);
    xllm_free(g->tensors);
    xllm_free(g->tensor_owned);
    xllm_free(g->kv_index.slots);
    xllm_free(g->tensor_index.slots);
    xllm_mmap_close(&g->map);
    xllm_free(g->path);
    xllm_free(g);
}

xllm_status xllm_gguf_new(xllm_gguf **out)
{
    *out = gguf_alloc("(new gguf)");
    if (!*out)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory creating a gguf container");
    return XLLM_OK;
}

xllm_status xllm_gguf_attach(xllm_gguf *g, void *ptr, void (*destroy)(void *))
{
    gguf_attachment *a = xllm_realloc(g->attachments, (size_t)(g->n_attachments + 1) * sizeof *a);
    if (!a) {
        if (destroy)
            destroy(ptr);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory attaching a resource");
    }
    g->attachments = a;
    a[g->n_attachments].ptr = ptr;
    a[g->n_attachments].destroy = destroy;
    g->n_attachments++;
    return XLLM_OK;
}

/* ---- reading ---- */

/* A bounds-checked cursor; ctx names the item being read for error messages. */
typedef struct cursor {
    const unsigned char *p;
    size_t size;
    size_t pos;
    const char *file;
    char ctx[160];
} cursor;

static size_t cur_left(const cursor *c) { return c->size - c->pos; }

static xllm_status cur_take(cursor *c, uint64_t n, const char *what, const unsigned char **out)
{
    if (n > cur_left(c))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: truncated: %s%s%s at offset %zu needs %llu bytes, only %zu left",
                         c->file, c->ctx, c->ctx[0] ? ": " : "", what, c->pos, (unsigned long long)n,
                         cur_left(c));
    *out = c->p + c->pos;
    c->pos += (size_t)n;
    return XLLM_OK;
}

static xllm_status cur_u32(cursor *c, const char *what, uint32_t *v)
{
    const unsigned char *p = NULL;
    xllm_status st = cur_take(c, 4, what, &p);
    if (st == XLLM_OK)
        memcpy(v, p, 4);
    return st;
}

static xllm_status cur_u64(cursor *c, const char *what, uint64_t *v)
{
    const unsigned char *p = NULL;
    xllm_status st = cur_take(c, 8, what, &p);
    if (st == XLLM_OK)
        memcpy(v, p, 8);
    return st;
}

static xllm_status cur_fail(const cursor *c, xllm_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static xllm_status cur_fail(const cursor *c, xllm_status st, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xllm_fail(st, "%s: %s%s%s (at offset %zu)", c->file, c->ctx, c->ctx[0] ? ": " : "", msg, c->pos);
}

static xllm_status cur_string(cursor *c, const char *what, xllm_str *s)
{
    uint64_t len;
    const unsigned char *p;
    xllm_status st = cur_u64(c, what, &len);
    if (st != XLLM_OK)
        return st;
    if (len > XLLM_MAX_GGUF_STRING)
        return cur_fail(c, XLLM_ERR_LIMIT, "%s length %llu exceeds the limit of %u bytes", what,
                        (unsigned long long)len, XLLM_MAX_GGUF_STRING);
    if (len > cur_left(c)) {
        return xllm_fail(XLLM_ERR_FORMAT, "%s: %s%s%s of %llu bytes at offset %zu runs past the end of the file (%zu left)",
                         c->file, c->ctx, c->ctx[0] ? ": " : "", what, (unsigned long long)len, c->pos,
                         cur_left(c));
    }
    st = cur_take(c, len, what, &p);
    s->ptr = (const char *)p;
    s->len = len;
    return st;
}

/* Printable, shortened copy of a name from the file for messages. */
static void printable(char *dst, size_t cap, const char *src, uint64_t len)
{
    size_t n = 0;
    for (uint64_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[n++] = ch >= 32 && ch < 127 ? (char)ch : '?';
    }
    if (len > n && n + 4 <= cap) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = 0;
}

static xllm_status parse_value(cursor *c, uint32_t type, int depth, xllm_gguf_value *v);

static xllm_status parse_array(cursor *c, int depth, xllm_gguf_value *v)
{
    uint32_t et;
    uint64_t count, min;
    const unsigned char *p;
    xllm_status st;
    if ((st = cur_u32(c, "array element type", &et)) != XLLM_OK ||
        (st = cur_u64(c, "array length", &count)) != XLLM_OK)
        return st;
    if (et >= XLLM_GGUF_TYPE_COUNT)
        return cur_fail(c, XLLM_ERR_FORMAT, "unknown array element type %u", et);
    /* depth counts the arrays around this one: 0 for a top-level array */
    if (et == XLLM_GGUF_ARRAY && depth + 1 >= XLLM_MAX_GGUF_ARRAY_DEPTH)
        return cur_fail(c, XLLM_ERR_LIMIT, "arrays nested deeper than %d levels", XLLM_MAX_GGUF_ARRAY_DEPTH);
    if (count > XLLM_MAX_GGUF_ARRAY)
        return cur_fail(c, XLLM_ERR_LIMIT, "array of %llu elements exceeds the limit of %u", (unsigned long long)count,
                        XLLM_MAX_GGUF_ARRAY);
    min = et == XLLM_GGUF_STRING ? MIN_STRING_BYTES : et == XLLM_GGUF_ARRAY ? MIN_ARRAY_BYTES : xllm_gguf_type_size(et);
    if (count * min > cur_left(c))
        return cur_fail(c, XLLM_ERR_FORMAT, "array of %llu elements runs past the end of the file",
                        (unsigned long long)count);
    v->arr_type = et;
    if (et != XLLM_GGUF_STRING && et != XLLM_GGUF_ARRAY) {
        st = cur_take(c, count * min, "array data", &p);
        v->arr_data = p;
        v->count = count;
        return st;
    }
    if (et == XLLM_GGUF_STRING) {
        xllm_str *strs = xllm_calloc(count ? count : 1, sizeof *strs);
        if (!strs)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for an array of %llu strings", c->file,
                             (unsigned long long)count);
        v->arr_strs = strs;
        v->count = count;
        for (uint64_t j = 0; j < count; j++)
            if ((st = cur_string(c, "array string", &strs[j])) != XLLM_OK)
                return st;
        return XLLM_OK;
    }
    xllm_gguf_value *sub = xllm_calloc(count ? count : 1, sizeof *sub);
    if (!sub)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for an array of %llu arrays", c->file,
                         (unsigned long long)count);
    v->arr_sub = sub;
    v->count = count;
    for (uint64_t j = 0; j < count; j++)
        if ((st = parse_value(c, XLLM_GGUF_ARRAY, depth + 1, &sub[j])) != XLLM_OK)
            return st;
    return XLLM_OK;
}

/* Parse one value of type into v; on failure v may be partly filled (value_free frees it). */
static xllm_status parse_value(cursor *c, uint32_t type, int depth, xllm_gguf_value *v)
{
    const unsigned char *p;
    xllm_status st;
    if (type >= XLLM_GGUF_TYPE_COUNT)
        return cur_fail(c, XLLM_ERR_FORMAT, "unknown value type %u", type);
    v->type = type;
    if (type == XLLM_GGUF_STRING)
        return cur_string(c, "string value", &v->str);
    if (type == XLLM_GGUF_ARRAY)
        return parse_array(c, depth, v);
    st = cur_take(c, xllm_gguf_type_size(type), "value", &p);
    if (st == XLLM_OK)
        memcpy(v->scalar, p, xllm_gguf_type_size(type));
    return st;
}

static xllm_status check_name(const cursor *c, const char *what, xllm_str s)
{
    if (s.len == 0)
        return cur_fail(c, XLLM_ERR_FORMAT, "empty %s", what);
    if (memchr(s.ptr, 0, s.len))
        return cur_fail(c, XLLM_ERR_FORMAT, "%s contains a NUL byte", what);
    return XLLM_OK;
}

/* Read the name of a metadata entry or tensor: a non-empty string without NUL
 * bytes, copied to *out; shown[SHOWN_CAP] gets a printable form of it for
 * messages, and the error context becomes "<label> '<shown>'". */
#define SHOWN_CAP 80
static xllm_status read_name(xllm_gguf *g, cursor *c, const char *what, const char *label, char **out,
                             char *shown)
{
    xllm_str name;
    xllm_status st;
    if ((st = cur_string(c, what, &name)) != XLLM_OK || (st = check_name(c, what, name)) != XLLM_OK)
        return st;
    printable(shown, SHOWN_CAP, name.ptr, name.len);
    snprintf(c->ctx, sizeof c->ctx, "%s '%s'", label, shown);
    *out = xllm_strndup(name.ptr, name.len);
    return *out ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", g->path);
}

static xllm_status parse_kvs(xllm_gguf *g, cursor *c, uint64_t n_kv)
{
    xllm_status st;
    g->kvs = xllm_calloc(n_kv ? n_kv : 1, sizeof *g->kvs);
    if (!g->kvs)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for %llu keys", g->path, (unsigned long long)n_kv);
    g->cap_kv = (int64_t)n_kv;
    if ((st = index_rebuild(&g->kv_index, g, kv_name_at, 0, (int64_t)n_kv)) != XLLM_OK)
        return st;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &g->kvs[i];
        uint32_t type;
        char shown[SHOWN_CAP];
        snprintf(c->ctx, sizeof c->ctx, "metadata entry %llu", (unsigned long long)i);
        if ((st = read_name(g, c, "key", "metadata key", &kv->key, shown)) != XLLM_OK)
            return st;
        g->n_kv = (int64_t)i + 1;
        if (index_find(&g->kv_index, g, kv_name_at, kv->key) >= 0)
            return cur_fail(c, XLLM_ERR_FORMAT, "duplicate key");
        index_put(&g->kv_index, kv->key, (int64_t)i);
        if ((st = cur_u32(c, "value type", &type)) != XLLM_OK || (st = parse_value(c, type, 0, &kv->v)) != XLLM_OK)
            return st;
    }
    c->ctx[0] = 0;
    return XLLM_OK;
}

/* The alignment named by general.alignment (default 32); fails unless it is a
 * uint32 that is a nonzero power of two. */
static xllm_status find_alignment(const xllm_gguf *g, uint64_t *out)
{
    int64_t i = xllm_gguf_find(g, GGUF_ALIGNMENT_KEY);
    uint32_t a;
    *out = GGUF_DEFAULT_ALIGNMENT;
    if (i < 0)
        return XLLM_OK;
    if (g->kvs[i].v.type != XLLM_GGUF_UINT32)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: %s has type %s, expected uint32", g->path, GGUF_ALIGNMENT_KEY,
                         xllm_gguf_type_name(g->kvs[i].v.type));
    memcpy(&a, g->kvs[i].v.scalar, 4);
    if (a == 0 || (a & (a - 1)))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: %s is %u, not a nonzero power of two", g->path, GGUF_ALIGNMENT_KEY, a);
    *out = a;
    return XLLM_OK;
}

/* Check dims/type/size of a tensor description; fills t->nbytes. name is for messages. */
static xllm_status tensor_geometry(xllm_gguf_tensor *t, const char *file, const char *name)
{
    const xllm_dtype_info *di = xllm_dtype_get(t->dtype);
    uint64_t rows = 1, row_bytes;
    int ok;
    if (t->n_dims < 1 || t->n_dims > XLLM_MAX_DIMS)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1..%d supported)", file, name,
                         t->n_dims, XLLM_MAX_DIMS);
    if (!di)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has unknown type %u", file, name, t->dtype);
    if (!di->block_bytes)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which is not supported", file, name,
                         di->name);
    for (uint32_t d = 0; d < XLLM_MAX_DIMS; d++) {
        if (d >= t->n_dims)
            t->ne[d] = 1;
        if (t->ne[d] == 0)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' dimension %u is 0", file, name, d);
        if (d > 0) {
            if (t->ne[d] > UINT64_MAX / rows)
                return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' element count overflows", file, name);
            rows *= t->ne[d];
        }
    }
    if (t->ne[0] % di->block_elems)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' row length %llu is not a multiple of the %s block size %u",
                         file, name, (unsigned long long)t->ne[0], di->name, di->block_elems);
    row_bytes = xllm_dtype_row_bytes(t->dtype, t->ne[0], &ok);
    if (!ok || row_bytes > UINT64_MAX / rows || row_bytes * rows > (UINT64_MAX >> 2))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' byte size overflows", file, name);
    t->nbytes = row_bytes * rows;
    return XLLM_OK;
}

static xllm_status parse_tensor_info(xllm_gguf *g, cursor *c, uint64_t i, uint64_t alignment)
{
    xllm_gguf_tensor *t = &g->tensors[i];
    char shown[SHOWN_CAP], *name = NULL;
    xllm_status st;
    snprintf(c->ctx, sizeof c->ctx, "tensor %llu", (unsigned long long)i);
    st = read_name(g, c, "tensor name", "tensor", &name, shown);
    t->name = name;
    if (st != XLLM_OK)
        return st;
    g->n_tensors = (int64_t)i + 1;
    if (index_find(&g->tensor_index, g, tensor_name_at, t->name) >= 0)
        return cur_fail(c, XLLM_ERR_FORMAT, "duplicate tensor name");
    index_put(&g->tensor_index, t->name, (int64_t)i);
    if ((st = cur_u32(c, "dimension count", &t->n_dims)) != XLLM_OK)
        return st;
    if (t->n_dims < 1 || t->n_dims > XLLM_MAX_DIMS)
        return tensor_geometry(t, g->path, shown);
    for (uint32_t d = 0; d < t->n_dims; d++)
        if ((st = cur_u64(c, "dimension", &t->ne[d])) != XLLM_OK)
            return st;
    if ((st = cur_u32(c, "type", &t->dtype)) != XLLM_OK || (st = cur_u64(c, "data offset", &t->offset)) != XLLM_OK)
        return st;
    if ((st = tensor_geometry(t, g->path, shown)) != XLLM_OK)
        return st;
    if (t->offset % alignment)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' data offset %llu is not a multiple of the alignment %llu",
                         g->path, shown, (unsigned long long)t->offset, (unsigned long long)alignment);
    return XLLM_OK;
}

static xllm_status parse_tensors(xllm_gguf *g, cursor *c, uint64_t n_tensors, uint64_t alignment)
{
    xllm_status st;
    g->tensors = xllm_calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    g->tensor_owned = xllm_calloc(n_tensors ? n_tensors : 1, sizeof *g->tensor_owned);
    if (!g->tensors || !g->tensor_owned)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for %llu tensors", g->path,
                         (unsigned long long)n_tensors);
    g->cap_tensors = (int64_t)n_tensors;
    if ((st = index_rebuild(&g->tensor_index, g, tensor_name_at, 0, (int64_t)n_tensors)) != XLLM_OK)
        return st;
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((st = parse_tensor_info(g, c, i, alignment)) != XLLM_OK)
            return st;
    c->ctx[0] = 0;
    g->data_offset = (c->pos + alignment - 1) / alignment * alignment;
    for (uint64_t i = 0; i < n_tensors; i++) {
        xllm_gguf_tensor *t = &g->tensors[i];
        uint64_t start = g->data_offset;
        if (start > g->size || t->offset > g->size - start || t->nbytes > g->size - start - t->offset)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' data (offset %llu, %llu bytes) runs past the end of the file (%zu bytes)",
                             g->path, t->name, (unsigned long long)(start + t->offset), (unsigned long long)t->nbytes,
                             g->size);
        t->data = g->base + start + t->offset;
    }
    return XLLM_OK;
}

static uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

static xllm_status parse_header(xllm_gguf *g, cursor *c, uint64_t *n_tensors, uint64_t *n_kv)
{
    const unsigned char *magic;
    xllm_status st;
    if (c->size < 4)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: not a GGUF file (only %zu bytes)", g->path, c->size);
    if ((st = cur_take(c, 4, "magic", &magic)) != XLLM_OK)
        return st;
    if (memcmp(magic, "GGUF", 4))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: not a GGUF file (bad magic %02x %02x %02x %02x, expected \"GGUF\")",
                         g->path, magic[0], magic[1], magic[2], magic[3]);
    if ((st = cur_u32(c, "version", &g->version)) != XLLM_OK)
        return st;
    if (g->version == 1)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: GGUF version 1 is not supported (convert it again with a current tool)",
                         g->path);
    if (g->version != 2 && g->version != 3) {
        uint32_t sw = bswap32(g->version);
        if (sw >= 1 && sw <= 3)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported (version reads as %u byte-swapped)",
                             g->path, sw);
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: unsupported GGUF version %u", g->path, g->version);
    }
    if ((st = cur_u64(c, "tensor count", n_tensors)) != XLLM_OK || (st = cur_u64(c, "metadata count", n_kv)) != XLLM_OK)
        return st;
    if (*n_tensors > XLLM_MAX_TENSORS)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: %llu tensors exceeds the limit of %d", g->path,
                         (unsigned long long)*n_tensors, XLLM_MAX_TENSORS);
    if (*n_kv > XLLM_MAX_METADATA_KV)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: %llu metadata entries exceeds the limit of %d", g->path,
                         (unsigned long long)*n_kv, XLLM_MAX_METADATA_KV);
    if (*n_kv * MIN_KV_BYTES + *n_tensors * MIN_TENSOR_BYTES > cur_left(c))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: truncated: %llu metadata entries and %llu tensors cannot fit in the %zu bytes left",
                         g->path, (unsigned long long)*n_kv, (unsigned long long)*n_tensors, cur_left(c));
    return XLLM_OK;
}

static xllm_status parse(xllm_gguf *g)
{
    cursor c = {.p = g->base, .size = g->size, .file = g->path};
    uint64_t n_tensors, n_kv, alignment;
    xllm_status st;
    if ((st = parse_header(g, &c, &n_tensors, &n_kv)) != XLLM_OK || (st = parse_kvs(g, &c, n_kv)) != XLLM_OK ||
        (st = find_alignment(g, &alignment)) != XLLM_OK)
        return st;
    return parse_tensors(g, &c, n_tensors, alignment);
}

xllm_status xllm_gguf_open_memory(const void *data, size_t size, const char *name, xllm_gguf **out)
{
    xllm_gguf *g = gguf_alloc(name);
    xllm_status rc;
    *out = NULL;
    if (!g)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory opening %s", name ? name : "gguf");
    g->base = data;
    g->size = data ? size : 0;
    rc = parse(g);
    if (rc != XLLM_OK) {
        xllm_gguf_close(g);
        return rc;
    }
    *out = g;
    return XLLM_OK;
}

xllm_status xllm_gguf_open(const char *path, xllm_gguf **out)
{
    xllm_gguf *g = gguf_alloc(path);
    xllm_status rc;
    *out = NULL;
    if (!g)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory opening %s", path);
    rc = xllm_mmap_open(&g->map, path);
    if (rc == XLLM_OK) {
        g->base = g->map.data;
        g->size = g->map.size;
        rc = parse(g);
    }
    if (rc != XLLM_OK) {
        xllm_gguf_close(g);
        return rc;
    }
    *out = g;
    return XLLM_OK;
}

/* ---- getters ---- */

uint32_t xllm_gguf_version(const xllm_gguf *g) { return g->version; }
const char *xllm_gguf_path(const xllm_gguf *g) { return g->path; }
uint64_t xllm_gguf_data_offset(const xllm_gguf *g) { return g->data_offset; }

uint64_t xllm_gguf_alignment(const xllm_gguf *g)
{
    uint64_t a;
    return find_alignment(g, &a) == XLLM_OK ? a : GGUF_DEFAULT_ALIGNMENT;
}

int64_t xllm_gguf_n_kv(const xllm_gguf *g) { return g->n_kv; }
const char *xllm_gguf_key(const xllm_gguf *g, int64_t i) { return i >= 0 && i < g->n_kv ? g->kvs[i].key : NULL; }
int64_t xllm_gguf_find(const xllm_gguf *g, const char *key)
{
    if (!g->kv_index.slots && key) /* only after a failed rebuild in remove */
        for (int64_t i = 0; i < g->n_kv; i++)
            if (!strcmp(g->kvs[i].key, key))
                return i;
    return index_find(&g->kv_index, g, kv_name_at, key);
}

const xllm_gguf_value *xllm_gguf_kv_value(const xllm_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? &g->kvs[i].v : NULL;
}

xllm_gguf_type xllm_gguf_kv_type(const xllm_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? g->kvs[i].v.type : XLLM_GGUF_TYPE_COUNT;
}

static const xllm_gguf_value *find_value(const xllm_gguf *g, const char *key)
{
    return xllm_gguf_kv_value(g, xllm_gguf_find(g, key));
}

static xllm_status type_mismatch(const xllm_gguf *g, const char *key, const xllm_gguf_value *v, const char *want)
{
    return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' has type %s, expected %s", g->path, key,
                     xllm_gguf_type_name(v->type), want);
}

/* Integer value of key (integers and bool): *neg set for negative values held in *i. */
static xllm_status get_int(const xllm_gguf *g, const char *key, const char *want, gguf_num *n)
{
    const xllm_gguf_value *v = find_value(g, key);
    if (!v)
        return XLLM_ERR_NOT_FOUND;
    if (!decode_num(v->type, v->scalar, n) || n->kind == NUM_FLOAT)
        return type_mismatch(g, key, v, want);
    return XLLM_OK;
}

xllm_status xllm_gguf_get_u32(const xllm_gguf *g, const char *key, uint32_t *out)
{
    gguf_num n;
    xllm_status st = get_int(g, key, "an unsigned 32-bit integer", &n);
    if (st != XLLM_OK)
        return st;
    if (n.kind == NUM_SIGNED ? (n.i < 0 || n.i > (int64_t)UINT32_MAX) : n.u > UINT32_MAX)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' value %.0f does not fit an unsigned 32-bit integer", g->path,
                         key, n.f);
    *out = n.kind == NUM_SIGNED ? (uint32_t)n.i : (uint32_t)n.u;
    return XLLM_OK;
}

xllm_status xllm_gguf_get_i64(const xllm_gguf *g, const char *key, int64_t *out)
{
    gguf_num n;
    xllm_status st = get_int(g, key, "an integer", &n);
    if (st != XLLM_OK)
        return st;
    if (n.kind == NUM_UNSIGNED && n.u > INT64_MAX)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' value %llu does not fit a signed 64-bit integer", g->path, key,
                         (unsigned long long)n.u);
    *out = n.kind == NUM_SIGNED ? n.i : (int64_t)n.u;
    return XLLM_OK;
}

xllm_status xllm_gguf_get_f32(const xllm_gguf *g, const char *key, float *out)
{
    const xllm_gguf_value *v = find_value(g, key);
    gguf_num n;
    if (!v)
        return XLLM_ERR_NOT_FOUND;
    if (v->type == XLLM_GGUF_BOOL || !decode_num(v->type, v->scalar, &n))
        return type_mismatch(g, key, v, "a number");
    if (isfinite(n.f) && fabs(n.f) > FLT_MAX)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' value %g does not fit a 32-bit float", g->path, key, n.f);
    *out = (float)n.f;
    return XLLM_OK;
}

xllm_status xllm_gguf_get_bool(const xllm_gguf *g, const char *key, int *out)
{
    gguf_num n;
    xllm_status st = get_int(g, key, "a bool", &n);
    if (st != XLLM_OK)
        return st;
    if (n.kind == NUM_SIGNED ? (n.i != 0 && n.i != 1) : n.u > 1)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' is not 0 or 1, expected a bool", g->path, key);
    *out = n.kind == NUM_SIGNED ? (int)n.i : (int)n.u;
    return XLLM_OK;
}

xllm_status xllm_gguf_get_str(const xllm_gguf *g, const char *key, xllm_str *out)
{
    const xllm_gguf_value *v = find_value(g, key);
    if (!v)
        return XLLM_ERR_NOT_FOUND;
    if (v->type != XLLM_GGUF_STRING)
        return type_mismatch(g, key, v, "a string");
    *out = v->str;
    return XLLM_OK;
}

char *xllm_gguf_dup_str(const xllm_gguf *g, const char *key)
{
    const xllm_gguf_value *v = find_value(g, key);
    if (!v || v->type != XLLM_GGUF_STRING)
        return NULL;
    return xllm_strndup(v->str.ptr ? v->str.ptr : "", v->str.len);
}

xllm_status xllm_gguf_get_arr(const xllm_gguf *g, const char *key, xllm_gguf_type *arr_type, uint64_t *count)
{
    const xllm_gguf_value *v = find_value(g, key);
    if (!v)
        return XLLM_ERR_NOT_FOUND;
    if (v->type != XLLM_GGUF_ARRAY)
        return type_mismatch(g, key, v, "an array");
    if (arr_type)
        *arr_type = v->arr_type;
    if (count)
        *count = v->count;
    return XLLM_OK;
}

const void *xllm_gguf_arr_data(const xllm_gguf *g, int64_t i)
{
    const xllm_gguf_value *v = xllm_gguf_kv_value(g, i);
    return v && v->type == XLLM_GGUF_ARRAY ? v->arr_data : NULL;
}

xllm_str xllm_gguf_arr_str(const xllm_gguf *g, int64_t i, uint64_t j)
{
    const xllm_gguf_value *v = xllm_gguf_kv_value(g, i);
    xllm_str none = {NULL, 0};
    if (!v || v->type != XLLM_GGUF_ARRAY || v->arr_type != XLLM_GGUF_STRING || j >= v->count)
        return none;
    return v->arr_strs[j];
}

double xllm_gguf_arr_get_f64(const xllm_gguf *g, int64_t i, uint64_t j)
{
    const xllm_gguf_value *v = xllm_gguf_kv_value(g, i);
    gguf_num n;
    if (!v || v->type != XLLM_GGUF_ARRAY || !v->arr_data || j >= v->count ||
        !decode_num(v->arr_type, (const unsigned char *)v->arr_data + j * xllm_gguf_type_size(v->arr_type), &n))
        return NAN;
    return n.f;
}

int64_t xllm_gguf_n_tensors(const xllm_gguf *g) { return g->n_tensors; }

const xllm_gguf_tensor *xllm_gguf_tensor_at(const xllm_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const xllm_gguf_tensor *xllm_gguf_find_tensor(const xllm_gguf *g, const char *name)
{
    return xllm_gguf_tensor_at(g, index_find(&g->tensor_index, g, tensor_name_at, name));
}

/* ---- building ---- */

xllm_status xllm_gguf_set_value(xllm_gguf *g, const char *key, const xllm_gguf_value *v)
{
    xllm_gguf_value nv;
    int64_t i;
    xllm_status st;
    if (!key || !key[0] || strlen(key) > XLLM_MAX_GGUF_STRING || !v)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf: empty, NULL or too long key");
    if ((st = value_copy(&nv, v, key, 0)) != XLLM_OK)
        return st;
    i = xllm_gguf_find(g, key);
    if (i >= 0) {
        value_free(&g->kvs[i].v, g->kvs[i].owned);
        g->kvs[i].v = nv;
        g->kvs[i].owned = 1;
        return XLLM_OK;
    }
    if (g->n_kv >= XLLM_MAX_METADATA_KV) {
        st = xllm_fail(XLLM_ERR_LIMIT, "gguf: more than %d metadata entries", XLLM_MAX_METADATA_KV);
        goto fail;
    }
    if (g->n_kv == g->cap_kv) {
        int64_t cap = g->cap_kv ? 2 * g->cap_kv : 16;
        gguf_kv *kvs = xllm_realloc(g->kvs, (size_t)cap * sizeof *kvs);
        if (!kvs)
            goto oom;
        g->kvs = kvs;
        g->cap_kv = cap;
    }
    g->kvs[g->n_kv].key = xllm_strdup(key);
    if (!g->kvs[g->n_kv].key)
        goto oom;
    g->kvs[g->n_kv].v = nv;
    g->kvs[g->n_kv].owned = 1;
    if ((st = index_add(&g->kv_index, g, kv_name_at, g->n_kv)) != XLLM_OK) {
        xllm_free(g->kvs[g->n_kv].key);
        goto fail;
    }
    g->n_kv++;
    return XLLM_OK;
oom:
    st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "gguf: out of memory setting '%s'", key);
fail:
    value_free(&nv, 1);
    return st;
}

static xllm_status set_scalar(xllm_gguf *g, const char *key, xllm_gguf_type t, const void *p)
{
    xllm_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    memcpy(v.scalar, p, xllm_gguf_type_size(t));
    return xllm_gguf_set_value(g, key, &v);
}

xllm_status xllm_gguf_set_u32(xllm_gguf *g, const char *key, uint32_t v) { return set_scalar(g, key, XLLM_GGUF_UINT32, &v); }
xllm_status xllm_gguf_set_i32(xllm_gguf *g, const char *key, int32_t v) { return set_scalar(g, key, XLLM_GGUF_INT32, &v); }
xllm_status xllm_gguf_set_u64(xllm_gguf *g, const char *key, uint64_t v) { return set_scalar(g, key, XLLM_GGUF_UINT64, &v); }
xllm_status xllm_gguf_set_f32(xllm_gguf *g, const char *key, float v) { return set_scalar(g, key, XLLM_GGUF_FLOAT32, &v); }

xllm_status xllm_gguf_set_bool(xllm_gguf *g, const char *key, int v)
{
    uint8_t b = v != 0;
    return set_scalar(g, key, XLLM_GGUF_BOOL, &b);
}

xllm_status xllm_gguf_set_strn(xllm_gguf *g, const char *key, const char *s, uint64_t len)
{
    xllm_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = XLLM_GGUF_STRING;
    v.str.ptr = s;
    v.str.len = len;
    return xllm_gguf_set_value(g, key, &v);
}

xllm_status xllm_gguf_set_str(xllm_gguf *g, const char *key, const char *s)
{
    if (!s)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf key '%s': NULL string", key ? key : "?");
    return xllm_gguf_set_strn(g, key, s, strlen(s));
}

xllm_status xllm_gguf_set_arr(xllm_gguf *g, const char *key, xllm_gguf_type elem_type, const void *data, uint64_t count)
{
    xllm_gguf_value v;
    if (!xllm_gguf_type_size(elem_type))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf key '%s': set_arr needs a numeric element type, not %s",
                         key ? key : "?", xllm_gguf_type_name(elem_type));
    memset(&v, 0, sizeof v);
    v.type = XLLM_GGUF_ARRAY;
    v.arr_type = elem_type;
    v.arr_data = data;
    v.count = count;
    return xllm_gguf_set_value(g, key, &v);
}

xllm_status xllm_gguf_set_arr_str(xllm_gguf *g, const char *key, const char *const *strs, const uint64_t *lens,
                                  uint64_t count)
{
    xllm_gguf_value v;
    xllm_str *views;
    xllm_status st;
    if (count > XLLM_MAX_GGUF_ARRAY)
        return xllm_fail(XLLM_ERR_LIMIT, "gguf key '%s': array of %llu strings exceeds the limit", key ? key : "?",
                         (unsigned long long)count);
    views = xllm_calloc(count ? count : 1, sizeof *views);
    if (!views)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "gguf: out of memory setting '%s'", key ? key : "?");
    for (uint64_t j = 0; j < count; j++) {
        views[j].ptr = strs[j];
        views[j].len = lens ? lens[j] : (strs[j] ? strlen(strs[j]) : 0);
    }
    memset(&v, 0, sizeof v);
    v.type = XLLM_GGUF_ARRAY;
    v.arr_type = XLLM_GGUF_STRING;
    v.arr_strs = views;
    v.count = count;
    st = xllm_gguf_set_value(g, key, &v);
    xllm_free(views);
    return st;
}

xllm_status xllm_gguf_copy_kv(xllm_gguf *dst, const xllm_gguf *src, int64_t i)
{
    if (i < 0 || i >= src->n_kv)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: no metadata entry %lld", src->path, (long long)i);
    return xllm_gguf_set_value(dst, src->kvs[i].key, &src->kvs[i].v);
}

xllm_status xllm_gguf_remove(xllm_gguf *g, const char *key)
{
    int64_t i = xllm_gguf_find(g, key);
    if (i < 0)
        return XLLM_ERR_NOT_FOUND;
    value_free(&g->kvs[i].v, g->kvs[i].owned);
    xllm_free(g->kvs[i].key);
    memmove(&g->kvs[i], &g->kvs[i + 1], (size_t)(g->n_kv - i - 1) * sizeof *g->kvs);
    g->n_kv--;
    if (index_rebuild(&g->kv_index, g, kv_name_at, g->n_kv, g->n_kv) != XLLM_OK) {
        xllm_free(g->kv_index.slots); /* a stale index would name moved entries */
        g->kv_index.slots = NULL;
        return XLLM_ERR_OUT_OF_MEMORY;
    }
    return XLLM_OK;
}

static xllm_status add_tensor(xllm_gguf *g, const char *name, uint32_t dtype, uint32_t n_dims, const uint64_t *ne,
                              const void *data, uint64_t nbytes, void *owned)
{
    xllm_gguf_tensor t;
    xllm_status st;
    memset(&t, 0, sizeof t);
    if (!name || !name[0] || !ne || !data) {
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf: add_tensor: empty name, NULL shape or NULL data");
        goto fail;
    }
    if (strlen(name) > GGUF_MAX_TENSOR_NAME) {
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf: tensor name '%.80s' is longer than %d bytes", name,
                       GGUF_MAX_TENSOR_NAME);
        goto fail;
    }
    if (xllm_gguf_find_tensor(g, name)) {
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf: duplicate tensor name '%s'", name);
        goto fail;
    }
    if (g->n_tensors >= XLLM_MAX_TENSORS) {
        st = xllm_fail(XLLM_ERR_LIMIT, "gguf: more than %d tensors", XLLM_MAX_TENSORS);
        goto fail;
    }
    t.dtype = dtype;
    t.n_dims = n_dims;
    for (uint32_t d = 0; d < n_dims && n_dims <= XLLM_MAX_DIMS; d++) /* ne is read only for a valid rank */
        t.ne[d] = ne[d];
    if ((st = tensor_geometry(&t, "gguf", name)) != XLLM_OK)
        goto fail;
    if (t.nbytes != nbytes) {
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "gguf: tensor '%s' has %llu bytes of data, its shape needs %llu", name,
                       (unsigned long long)nbytes, (unsigned long long)t.nbytes);
        goto fail;
    }
    if (g->n_tensors == g->cap_tensors) {
        int64_t cap = g->cap_tensors ? 2 * g->cap_tensors : 16;
        xllm_gguf_tensor *ts = xllm_realloc(g->tensors, (size_t)cap * sizeof *ts);
        void **os;
        if (ts)
            g->tensors = ts;
        os = ts ? xllm_realloc(g->tensor_owned, (size_t)cap * sizeof *os) : NULL;
        if (!os)
            goto oom;
        g->tensor_owned = os;
        g->cap_tensors = cap;
    }
    t.name = xllm_strdup(name);
    if (!t.name)
        goto oom;
    t.data = data;
    if (g->n_tensors > 0) {
        const xllm_gguf_tensor *prev = &g->tensors[g->n_tensors - 1];
        uint64_t a = xllm_gguf_alignment(g);
        t.offset = (prev->offset + prev->nbytes + a - 1) / a * a;
    }
    g->tensors[g->n_tensors] = t;
    g->tensor_owned[g->n_tensors] = owned;
    if ((st = index_add(&g->tensor_index, g, tensor_name_at, g->n_tensors)) != XLLM_OK) {
        xllm_free((void *)t.name);
        goto fail;
    }
    g->n_tensors++;
    return XLLM_OK;
oom:
    st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "gguf: out of memory adding tensor '%s'", name);
fail:
    xllm_free(owned);
    return st;
}

xllm_status xllm_gguf_add_tensor(xllm_gguf *g, const char *name, uint32_t dtype, uint32_t n_dims, const uint64_t *ne,
                                 const void *data, uint64_t nbytes)
{
    return add_tensor(g, name, dtype, n_dims, ne, data, nbytes, NULL);
}

xllm_status xllm_gguf_add_tensor_owned(xllm_gguf *g, const char *name, uint32_t dtype, uint32_t n_dims,
                                       const uint64_t *ne, void *data, uint64_t nbytes)
{
    return add_tensor(g, name, dtype, n_dims, ne, data, nbytes, data);
}

/* ---- writing ---- */

typedef struct writer {
    FILE *f;
    uint64_t pos;
    int err;
} writer;

static void w_bytes(writer *w, const void *p, uint64_t n)
{
    if (!w->err && n && fwrite(p, 1, (size_t)n, w->f) != n)
        w->err = 1;
    w->pos += n;
}

static void w_u32(writer *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_u64(writer *w, uint64_t v) { w_bytes(w, &v, 8); }
static void w_str(writer *w, xllm_str s) { w_u64(w, s.len); w_bytes(w, s.ptr, s.len); }

static void w_pad(writer *w, uint64_t alignment)
{
    static const unsigned char zeros[64];
    while (w->pos % alignment) {
        uint64_t n = alignment - w->pos % alignment;
        w_bytes(w, zeros, n < sizeof zeros ? n : sizeof zeros);
    }
}

/* Array elements only (the type tag is written by the caller). */
static void w_value(writer *w, const xllm_gguf_value *v)
{
    if (v->type == XLLM_GGUF_STRING) {
        w_str(w, v->str);
        return;
    }
    if (v->type != XLLM_GGUF_ARRAY) {
        w_bytes(w, v->scalar, xllm_gguf_type_size(v->type));
        return;
    }
    w_u32(w, v->arr_type);
    w_u64(w, v->count);
    if (v->arr_type == XLLM_GGUF_STRING)
        for (uint64_t j = 0; j < v->count; j++)
            w_str(w, v->arr_strs[j]);
    else if (v->arr_type == XLLM_GGUF_ARRAY)
        for (uint64_t j = 0; j < v->count; j++)
            w_value(w, &v->arr_sub[j]);
    else
        w_bytes(w, v->arr_data, v->count * xllm_gguf_type_size(v->arr_type));
}

xllm_status xllm_gguf_write(const xllm_gguf *g, const char *path)
{
    xllm_atomic_file af;
    writer w = {0};
    uint64_t alignment, offset = 0;
    xllm_status st = find_alignment(g, &alignment);
    if (st != XLLM_OK)
        return st;
    if ((st = xllm_atomic_open(&af, path)) != XLLM_OK)
        return st;
    w.f = af.f;
    w_bytes(&w, "GGUF", 4);
    w_u32(&w, 3);
    w_u64(&w, (uint64_t)g->n_tensors);
    w_u64(&w, (uint64_t)g->n_kv);
    for (int64_t i = 0; i < g->n_kv; i++) {
        xllm_str key = {g->kvs[i].key, strlen(g->kvs[i].key)};
        w_str(&w, key);
        w_u32(&w, g->kvs[i].v.type);
        w_value(&w, &g->kvs[i].v);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const xllm_gguf_tensor *t = &g->tensors[i];
        xllm_str name = {t->name, strlen(t->name)};
        w_str(&w, name);
        w_u32(&w, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            w_u64(&w, t->ne[d]);
        w_u32(&w, t->dtype);
        w_u64(&w, offset);
        offset = (offset + t->nbytes + alignment - 1) / alignment * alignment;
    }
    w_pad(&w, alignment);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        w_bytes(&w, g->tensors[i].data, g->tensors[i].nbytes);
        w_pad(&w, alignment);
    }
    if (w.err) {
        xllm_atomic_abort(&af);
        return xllm_fail(XLLM_ERR_IO, "%s: write failed", path);
    }
    return xllm_atomic_commit(&af);
}
