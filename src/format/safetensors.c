/* safetensors.c - safetensors reader (single file, memory, sharded model
 * directory) with strict header checks, and the atomic writer. Layout: see
 * safetensors.h. */
#include "format/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fs.h"

#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"
#define ST_METADATA_KEY "__metadata__"
#define ST_MAX_NAME XLLM_MAX_GGUF_STRING

typedef struct st_dtype_entry {
    const char *name;
    uint32_t dtype; /* xllm_dtype or XLLM_ST_DTYPE_OTHER */
    uint32_t size;
} st_dtype_entry;

static const st_dtype_entry st_dtypes[] = {
    {"F64", XLLM_DTYPE_F64, 8},        {"F32", XLLM_DTYPE_F32, 4},        {"F16", XLLM_DTYPE_F16, 2},
    {"BF16", XLLM_DTYPE_BF16, 2},      {"I64", XLLM_DTYPE_I64, 8},        {"I32", XLLM_DTYPE_I32, 4},
    {"I16", XLLM_DTYPE_I16, 2},        {"I8", XLLM_DTYPE_I8, 1},          {"U8", XLLM_ST_DTYPE_OTHER, 1},
    {"BOOL", XLLM_ST_DTYPE_OTHER, 1},  {"U16", XLLM_ST_DTYPE_OTHER, 2},   {"U32", XLLM_ST_DTYPE_OTHER, 4},
    {"U64", XLLM_ST_DTYPE_OTHER, 8},   {"F8_E4M3", XLLM_ST_DTYPE_OTHER, 1}, {"F8_E5M2", XLLM_ST_DTYPE_OTHER, 1},
};
#define N_ST_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

typedef struct st_file {
    char *path;
    xllm_mmap map;
    const unsigned char *base; /* [size] */
    size_t size;
} st_file;

struct xllm_st_set {
    char *name;
    st_file *files; /* [n_files] */
    int64_t n_files;
    xllm_st_tensor *tensors; /* [n_tensors], sorted by name once opened */
    int64_t n_tensors, cap_tensors;
    char **meta; /* [2 * n_meta]: key, value, ... */
    int64_t n_meta, cap_meta;
};

static const st_dtype_entry *dtype_by_name(const char *name)
{
    for (size_t i = 0; i < N_ST_DTYPES; i++)
        if (!strcmp(st_dtypes[i].name, name))
            return &st_dtypes[i];
    return NULL;
}

static const st_dtype_entry *dtype_by_xllm(uint32_t dtype)
{
    for (size_t i = 0; i < N_ST_DTYPES; i++)
        if (st_dtypes[i].dtype == dtype && dtype != XLLM_ST_DTYPE_OTHER)
            return &st_dtypes[i];
    return NULL;
}

uint32_t xllm_st_dtype_size(uint32_t dtype)
{
    const st_dtype_entry *e = dtype_by_xllm(dtype);
    return e ? e->size : 0;
}

const char *xllm_st_dtype_name(uint32_t dtype)
{
    const st_dtype_entry *e = dtype_by_xllm(dtype);
    return e ? e->name : NULL;
}

/* ---- set lifetime and accessors ---- */

void xllm_st_close(xllm_st_set *s)
{
    if (!s)
        return;
    for (int64_t i = 0; i < s->n_tensors; i++)
        xllm_free((void *)s->tensors[i].name);
    for (int64_t i = 0; i < 2 * s->n_meta; i++)
        xllm_free(s->meta[i]);
    for (int64_t i = 0; i < s->n_files; i++) {
        xllm_mmap_close(&s->files[i].map);
        xllm_free(s->files[i].path);
    }
    xllm_free(s->files);
    xllm_free(s->tensors);
    xllm_free(s->meta);
    xllm_free(s->name);
    xllm_free(s);
}

static xllm_status set_new(const char *name, int64_t n_files, xllm_st_set **out)
{
    xllm_st_set *s = xllm_calloc(1, sizeof *s);
    *out = NULL;
    if (s) {
        s->name = xllm_strdup(name);
        s->files = xllm_calloc((size_t)n_files, sizeof *s->files);
    }
    if (!s || !s->name || !s->files) {
        xllm_st_close(s);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    *out = s;
    return XLLM_OK;
}

int64_t xllm_st_n_tensors(const xllm_st_set *s) { return s->n_tensors; }
int64_t xllm_st_n_files(const xllm_st_set *s) { return s->n_files; }
int64_t xllm_st_n_meta(const xllm_st_set *s) { return s->n_meta; }

const xllm_st_tensor *xllm_st_tensor_at(const xllm_st_set *s, int64_t i)
{
    return i >= 0 && i < s->n_tensors ? &s->tensors[i] : NULL;
}

const char *xllm_st_file_path(const xllm_st_set *s, int64_t i)
{
    return i >= 0 && i < s->n_files ? s->files[i].path : NULL;
}

const char *xllm_st_meta_key(const xllm_st_set *s, int64_t i) { return i >= 0 && i < s->n_meta ? s->meta[2 * i] : NULL; }

const char *xllm_st_meta_value(const xllm_st_set *s, int64_t i)
{
    return i >= 0 && i < s->n_meta ? s->meta[2 * i + 1] : NULL;
}

const char *xllm_st_meta_get(const xllm_st_set *s, const char *key)
{
    for (int64_t i = 0; key && i < s->n_meta; i++)
        if (!strcmp(s->meta[2 * i], key))
            return s->meta[2 * i + 1];
    return NULL;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const xllm_st_tensor *)a)->name, ((const xllm_st_tensor *)b)->name);
}

const xllm_st_tensor *xllm_st_find(const xllm_st_set *s, const char *name)
{
    xllm_st_tensor key;
    if (!name || !s->n_tensors)
        return NULL;
    key.name = name;
    return bsearch(&key, s->tensors, (size_t)s->n_tensors, sizeof *s->tensors, cmp_tensor_name);
}

/* ---- header parsing ---- */

static xllm_status meta_add(xllm_st_set *s, const char *key, const char *value, const char *file)
{
    char *k, *v;
    if (xllm_st_meta_get(s, key))
        return XLLM_OK; /* first shard wins */
    if (s->n_meta == s->cap_meta) {
        int64_t cap = s->cap_meta ? 2 * s->cap_meta : 8;
        char **m = xllm_realloc(s->meta, (size_t)cap * 2 * sizeof *m);
        if (!m)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
        s->meta = m;
        s->cap_meta = cap;
    }
    k = xllm_strdup(key);
    v = xllm_strdup(value);
    if (!k || !v) {
        xllm_free(k);
        xllm_free(v);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
    }
    s->meta[2 * s->n_meta] = k;
    s->meta[2 * s->n_meta + 1] = v;
    s->n_meta++;
    return XLLM_OK;
}

static xllm_status parse_metadata(xllm_st_set *s, json_t *obj, const char *file)
{
    const char *k;
    json_t *v;
    xllm_status st;
    if (!json_is_object(obj))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: __metadata__ is not an object", file);
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", file, k);
        if ((st = meta_add(s, k, json_string_value(v), file)) != XLLM_OK)
            return st;
    }
    return XLLM_OK;
}

/* A JSON integer in [0, max] into *out; 0 if it is not one. */
static int json_u64(json_t *v, uint64_t max, uint64_t *out)
{
    json_int_t x;
    if (!json_is_integer(v))
        return 0;
    x = json_integer_value(v);
    if (x < 0 || (uint64_t)x > max)
        return 0;
    *out = (uint64_t)x;
    return 1;
}

/* Fill t (all but name/data/file) from its JSON entry; *begin gets its offset in the data region. */
static xllm_status parse_tensor(xllm_st_tensor *t, const char *name, json_t *obj, uint64_t data_len, const char *file,
                                uint64_t *begin_out)
{
    json_t *dt = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape");
    json_t *offs = json_object_get(obj, "data_offsets");
    const st_dtype_entry *e;
    uint64_t begin, end, count = 1;
    size_t n_dims;
    if (!json_is_object(obj))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' entry is not an object", file, name);
    if (!json_is_string(dt))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has no dtype string", file, name);
    e = dtype_by_name(json_string_value(dt));
    if (!e)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported dtype '%.32s'", file, name,
                         json_string_value(dt));
    if (!json_is_array(shape))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has no shape array", file, name);
    n_dims = json_array_size(shape);
    if (n_dims > XLLM_MAX_DIMS)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions (at most %d supported)", file, name,
                         n_dims, XLLM_MAX_DIMS);
    t->dtype = e->dtype;
    t->st_dtype = e->name;
    t->elem_size = e->size;
    t->n_dims = (uint32_t)n_dims;
    for (size_t d = 0; d < XLLM_MAX_DIMS; d++) {
        t->shape[d] = 1;
        if (d < n_dims && !json_u64(json_array_get(shape, d), UINT64_MAX, &t->shape[d]))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' shape[%zu] is not a non-negative integer", file, name,
                             d);
        if (d < n_dims && t->shape[d] && count > UINT64_MAX / t->shape[d])
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' element count overflows", file, name);
        if (d < n_dims)
            count *= t->shape[d];
    }
    if (count > UINT64_MAX / e->size)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' byte size overflows", file, name);
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_u64(json_array_get(offs, 0), UINT64_MAX, &begin) ||
        !json_u64(json_array_get(offs, 1), UINT64_MAX, &end))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' data_offsets is not [begin, end]", file, name);
    if (begin > end || end > data_len)
        return xllm_fail(XLLM_ERR_FORMAT,
                         "%s: tensor '%s' data_offsets [%llu, %llu] are outside the data region (%llu bytes)", file,
                         name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_len);
    t->nbytes = count * e->size;
    if (end - begin != t->nbytes)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has %llu bytes but its %s shape needs %llu", file, name,
                         (unsigned long long)(end - begin), e->name, (unsigned long long)t->nbytes);
    *begin_out = begin;
    return XLLM_OK;
}

static xllm_status grow_tensors(xllm_st_set *s, size_t more, const char *file)
{
    int64_t cap;
    xllm_st_tensor *t;
    if ((uint64_t)s->n_tensors + more > XLLM_MAX_TENSORS)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: more than %d tensors", file, XLLM_MAX_TENSORS);
    if ((uint64_t)s->n_tensors + more <= (uint64_t)s->cap_tensors)
        return XLLM_OK;
    cap = s->n_tensors + (int64_t)more;
    t = xllm_realloc(s->tensors, (size_t)cap * sizeof *t);
    if (!t)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for %lld tensors", file, (long long)cap);
    s->tensors = t;
    s->cap_tensors = cap;
    return XLLM_OK;
}

/* Parse file fi of the set (its bytes already in files[fi].base/size). */
static xllm_status parse_file(xllm_st_set *s, int64_t fi)
{
    const st_file *f = &s->files[fi];
    const char *file = f->path;
    uint64_t hlen, data_len;
    const unsigned char *data;
    json_t *root = NULL;
    json_error_t jerr;
    const char *k;
    json_t *v;
    xllm_status rc = XLLM_ERR_FORMAT;
    if (f->size < 8)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: not a safetensors file (only %zu bytes)", file, f->size);
    memcpy(&hlen, f->base, 8);
    if (hlen > XLLM_MAX_SAFETENSORS_HEADER)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: header length %llu exceeds the limit of %u bytes", file,
                         (unsigned long long)hlen, XLLM_MAX_SAFETENSORS_HEADER);
    if (hlen > f->size - 8)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: header of %llu bytes runs past the end of the file (%zu bytes)", file,
                         (unsigned long long)hlen, f->size);
    if (hlen < 2 || f->base[8] != '{')
        return xllm_fail(XLLM_ERR_FORMAT, "%s: not a safetensors file (header does not start with '{')", file);
    data = f->base + 8 + hlen;
    data_len = f->size - 8 - hlen;
    root = json_loadb((const char *)f->base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: bad JSON header at byte %d: %s", file, jerr.position, jerr.text);
    if (!json_is_object(root)) {
        rc = xllm_fail(XLLM_ERR_FORMAT, "%s: JSON header is not an object", file);
        goto out;
    }
    if ((rc = grow_tensors(s, json_object_size(root), file)) != XLLM_OK)
        goto out;
    json_object_foreach(root, k, v) {
        xllm_st_tensor *t = &s->tensors[s->n_tensors];
        uint64_t begin = 0;
        if (!strcmp(k, ST_METADATA_KEY)) {
            if ((rc = parse_metadata(s, v, file)) != XLLM_OK)
                goto out;
            continue;
        }
        memset(t, 0, sizeof *t);
        if (!k[0] || strlen(k) > ST_MAX_NAME) {
            rc = xllm_fail(XLLM_ERR_FORMAT, "%s: empty or overlong tensor name", file);
            goto out;
        }
        if ((rc = parse_tensor(t, k, v, data_len, file, &begin)) != XLLM_OK)
            goto out;
        t->data = data + begin;
        t->file = (uint32_t)fi;
        t->name = xllm_strdup(k);
        if (!t->name) {
            rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
            goto out;
        }
        s->n_tensors++;
    }
    rc = XLLM_OK;
out:
    json_decref(root);
    return rc;
}

/* Sort by name and refuse duplicates (only possible across shards). */
static xllm_status finish_set(xllm_st_set *s)
{
    if (s->n_tensors > 1)
        qsort(s->tensors, (size_t)s->n_tensors, sizeof *s->tensors, cmp_tensor_name);
    for (int64_t i = 1; i < s->n_tensors; i++)
        if (!strcmp(s->tensors[i - 1].name, s->tensors[i].name))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' appears in both %s and %s", s->name, s->tensors[i].name,
                             s->files[s->tensors[i - 1].file].path, s->files[s->tensors[i].file].path);
    return XLLM_OK;
}

xllm_status xllm_st_open_memory(const void *data, size_t size, const char *name, xllm_st_set **out)
{
    xllm_st_set *s = NULL;
    xllm_status rc;
    if (!name)
        name = "(memory)";
    if ((rc = set_new(name, 1, &s)) != XLLM_OK)
        return rc;
    s->n_files = 1;
    s->files[0].path = xllm_strdup(name);
    s->files[0].base = data;
    s->files[0].size = data ? size : 0;
    if (!s->files[0].path)
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    else if ((rc = parse_file(s, 0)) == XLLM_OK)
        rc = finish_set(s);
    if (rc != XLLM_OK) {
        xllm_st_close(s);
        return rc;
    }
    *out = s;
    return XLLM_OK;
}

/* Map path as file fi of s and parse it. */
static xllm_status add_file(xllm_st_set *s, int64_t fi, char *path)
{
    xllm_status rc;
    s->files[fi].path = path;
    s->n_files = fi + 1;
    if ((rc = xllm_mmap_open(&s->files[fi].map, path)) != XLLM_OK)
        return rc;
    s->files[fi].base = s->files[fi].map.data;
    s->files[fi].size = s->files[fi].map.size;
    return parse_file(s, fi);
}

xllm_status xllm_st_open_file(const char *path, xllm_st_set **out)
{
    xllm_st_set *s = NULL;
    char *p;
    xllm_status rc;
    *out = NULL;
    if ((rc = set_new(path, 1, &s)) != XLLM_OK)
        return rc;
    p = xllm_strdup(path);
    if (!p)
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    else if ((rc = add_file(s, 0, p)) == XLLM_OK)
        rc = finish_set(s);
    if (rc != XLLM_OK) {
        xllm_st_close(s);
        return rc;
    }
    *out = s;
    return XLLM_OK;
}

/* ---- sharded directories ---- */

static int safe_shard_name(const char *n)
{
    return n[0] && !strchr(n, '/') && strcmp(n, ".") && strcmp(n, "..") && strlen(n) < 4096;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The distinct shard names of weight_map, sorted (names borrowed from the JSON). */
static xllm_status shard_names(json_t *wm, const char *index, const char ***out, int64_t *n_out)
{
    size_t n = json_object_size(wm), n_unique = 0;
    const char **names, *k;
    json_t *v;
    *out = NULL;
    *n_out = 0;
    names = xllm_calloc(n ? n : 1, sizeof *names);
    if (!names)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", index);
    n = 0;
    json_object_foreach(wm, k, v) {
        if (!json_is_string(v) || !safe_shard_name(json_string_value(v))) {
            xllm_free(names);
            return xllm_fail(XLLM_ERR_FORMAT, "%s: weight_map entry '%s' does not name a shard file in the directory",
                             index, k);
        }
        names[n++] = json_string_value(v);
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(names[i], names[n_unique - 1]))
            names[n_unique++] = names[i];
    if (n_unique > XLLM_MAX_SHARDS) {
        xllm_free(names);
        return xllm_fail(XLLM_ERR_LIMIT, "%s: %zu shards exceeds the limit of %d", index, n_unique, XLLM_MAX_SHARDS);
    }
    *out = names;
    *n_out = (int64_t)n_unique;
    return XLLM_OK;
}

static xllm_status open_sharded(const char *dir, const char *index, xllm_st_set **out)
{
    char *text = NULL;
    json_t *root = NULL, *wm;
    json_error_t jerr;
    const char **names = NULL, *k;
    json_t *v;
    int64_t n_shards = 0;
    xllm_st_set *s = NULL;
    xllm_status rc;
    if ((rc = xllm_read_file(index, XLLM_MAX_JSON_FILE, &text, NULL)) != XLLM_OK)
        return rc;
    rc = XLLM_ERR_FORMAT;
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = xllm_fail(XLLM_ERR_FORMAT, "%s: bad JSON at line %d: %s", index, jerr.line, jerr.text);
        goto out;
    }
    wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        rc = xllm_fail(XLLM_ERR_FORMAT, "%s: no weight_map object", index);
        goto out;
    }
    if ((rc = shard_names(wm, index, &names, &n_shards)) != XLLM_OK || (rc = set_new(dir, n_shards, &s)) != XLLM_OK)
        goto out;
    for (int64_t i = 0; i < n_shards; i++) {
        char *p = xllm_path_join(dir, names[i]);
        if (!p) {
            rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
            goto out;
        }
        if ((rc = add_file(s, i, p)) != XLLM_OK)
            goto out;
    }
    if ((rc = finish_set(s)) != XLLM_OK)
        goto out;
    json_object_foreach(wm, k, v) {
        const xllm_st_tensor *t = xllm_st_find(s, k);
        const char *want = json_string_value(v);
        const char *have = t ? strrchr(s->files[t->file].path, '/') + 1 : NULL;
        if (!t || strcmp(have, want)) {
            rc = xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' is listed in %s but %s", index, k, want,
                           t ? "found in another shard" : "not found in it");
            goto out;
        }
    }
    *out = s;
    s = NULL;
    rc = XLLM_OK;
out:
    xllm_st_close(s);
    xllm_free(names);
    json_decref(root);
    xllm_free(text);
    return rc;
}

xllm_status xllm_st_open_dir(const char *dir, xllm_st_set **out)
{
    char *index = NULL, *single = NULL;
    xllm_status rc;
    *out = NULL;
    if (!xllm_is_dir(dir)) {
        if (xllm_path_exists(dir))
            return xllm_st_open_file(dir, out);
        return xllm_fail(XLLM_ERR_NOT_FOUND, "%s: no such directory", dir);
    }
    index = xllm_path_join(dir, ST_INDEX_NAME);
    single = xllm_path_join(dir, ST_SINGLE_NAME);
    if (!index || !single)
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
    else if (xllm_path_exists(index))
        rc = open_sharded(dir, index, out);
    else if (xllm_path_exists(single))
        rc = xllm_st_open_file(single, out);
    else
        rc = xllm_fail(XLLM_ERR_NOT_FOUND, "%s: no %s or %s", dir, ST_SINGLE_NAME, ST_INDEX_NAME);
    xllm_free(index);
    xllm_free(single);
    return rc;
}

/* ---- writing ---- */

static xllm_status check_write_tensor(const xllm_st_tensor *t, const char *path, const char **dtype_name,
                                      uint32_t *esize)
{
    const st_dtype_entry *e = NULL;
    uint64_t count = 1;
    if (!t->name || !t->name[0] || !strcmp(t->name, ST_METADATA_KEY))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: a tensor has an empty or reserved name", path);
    if (t->dtype == XLLM_ST_DTYPE_OTHER)
        e = t->st_dtype ? dtype_by_name(t->st_dtype) : NULL;
    else
        e = dtype_by_xllm(t->dtype);
    if (!e)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which safetensors cannot hold", path,
                         t->name, t->dtype == XLLM_ST_DTYPE_OTHER ? (t->st_dtype ? t->st_dtype : "?")
                                                                  : xllm_dtype_name(t->dtype));
    if (t->n_dims > XLLM_MAX_DIMS)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has %u dimensions", path, t->name, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->shape[d] > INT64_MAX || (t->shape[d] && count > UINT64_MAX / t->shape[d]))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: tensor '%s' shape overflows", path, t->name);
        count *= t->shape[d];
    }
    if (count > UINT64_MAX / e->size || count * e->size != t->nbytes || (t->nbytes && !t->data))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: tensor '%s' has %llu bytes of data, its shape needs %llu",
                         path, t->name, (unsigned long long)t->nbytes, (unsigned long long)(count * e->size));
    *dtype_name = e->name;
    *esize = e->size;
    return XLLM_OK;
}

/* The JSON header text for the tensors (offsets consecutive in the given order). */
static xllm_status build_header(const char *path, const xllm_st_tensor *ts, int64_t n, const char *const *meta,
                                int64_t n_meta, char **out)
{
    json_t *root = json_object(), *md = json_object();
    uint64_t off = 0;
    xllm_status rc = XLLM_ERR_OUT_OF_MEMORY;
    int bad = !root || !md;
    *out = NULL;
    for (int64_t i = 0; !bad && i < n_meta; i++) {
        if (!meta[2 * i] || !meta[2 * i + 1]) {
            rc = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: NULL metadata key or value", path);
            goto out;
        }
        bad = json_object_set_new(md, meta[2 * i], json_string(meta[2 * i + 1])) != 0;
    }
    if (!bad && !json_object_get(md, "format"))
        bad = json_object_set_new(md, "format", json_string("pt")) != 0;
    if (!bad)
        bad = json_object_set(root, ST_METADATA_KEY, md) != 0;
    for (int64_t i = 0; !bad && i < n; i++) {
        const char *dn = NULL;
        uint32_t es = 0;
        json_t *e, *shape;
        if ((rc = check_write_tensor(&ts[i], path, &dn, &es)) != XLLM_OK)
            goto out;
        if (json_object_get(root, ts[i].name)) {
            rc = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: duplicate tensor name '%s'", path, ts[i].name);
            goto out;
        }
        shape = json_array();
        for (uint32_t d = 0; shape && d < ts[i].n_dims; d++)
            bad |= json_array_append_new(shape, json_integer((json_int_t)ts[i].shape[d])) != 0;
        e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dn, "shape", shape, "data_offsets", (json_int_t)off,
                      (json_int_t)(off + ts[i].nbytes));
        bad |= !e || json_object_set_new(root, ts[i].name, e) != 0;
        off += ts[i].nbytes;
        rc = XLLM_ERR_OUT_OF_MEMORY;
    }
    if (!bad)
        *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rc = *out ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory building the header", path);
out:
    json_decref(md);
    json_decref(root);
    return rc;
}

xllm_status xllm_st_write(const char *path, const xllm_st_tensor *tensors, int64_t n, const char *const *meta,
                          int64_t n_meta)
{
    static const char spaces[8] = "        ";
    xllm_atomic_file af;
    char *header = NULL;
    uint64_t hlen, padded;
    int bad;
    xllm_status rc;
    if (n < 0 || n > XLLM_MAX_TENSORS || n_meta < 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: bad tensor or metadata count", path);
    if ((rc = build_header(path, tensors, n, meta, n_meta, &header)) != XLLM_OK)
        return rc;
    hlen = strlen(header);
    padded = (hlen + 7) / 8 * 8;
    if (padded > XLLM_MAX_SAFETENSORS_HEADER) {
        free(header);
        return xllm_fail(XLLM_ERR_LIMIT, "%s: header of %llu bytes exceeds the limit", path, (unsigned long long)padded);
    }
    if ((rc = xllm_atomic_open(&af, path)) != XLLM_OK) {
        free(header);
        return rc;
    }
    bad = fwrite(&padded, 8, 1, af.f) != 1 || fwrite(header, 1, hlen, af.f) != hlen ||
          fwrite(spaces, 1, padded - hlen, af.f) != padded - hlen;
    for (int64_t i = 0; !bad && i < n; i++)
        bad = tensors[i].nbytes && fwrite(tensors[i].data, 1, tensors[i].nbytes, af.f) != tensors[i].nbytes;
    free(header); /* from jansson's allocator */
    if (bad) {
        xllm_atomic_abort(&af);
        return xllm_fail(XLLM_ERR_IO, "%s: write failed", path);
    }
    return xllm_atomic_commit(&af);
}
