/* jinja_value.c - the arena and the values of the Jinja2 interpreter with Python's
 * semantics: truthiness, ==, ordering, str() / repr() (float repr, quote choice,
 * escapes), and json.dumps as transformers' tojson calls it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "template/jinja_impl.h"

/* ---- arena ---- */
struct jarena_chunk {
    jarena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

#define JARENA_CHUNK (64u << 10)

void jarena_init(jarena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

void jarena_free(jarena *a)
{
    jarena_chunk *c = a->head;
    while (c) {
        jarena_chunk *n = c->next;
        xllm_free(c);
        c = n;
    }
    a->head = NULL;
    a->used = 0;
}

void *jarena_alloc(jarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > a->limit - a->used || n > a->limit) {
        xllm_fail(XLLM_ERR_LIMIT, "template memory limit of %zu bytes exceeded", a->limit);
        return NULL;
    }
    jarena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > JARENA_CHUNK / 2 ? n : JARENA_CHUNK;
        c = xllm_malloc(sizeof *c + cap);
        if (!c) {
            xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory in a template");
            return NULL;
        }
        c->used = 0;
        c->cap = cap;
        if (n > JARENA_CHUNK / 2 && a->head) { /* big block: keep the current chunk on top */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->mem + c->used;
    c->used += n;
    a->used += n;
    return p;
}

char *jarena_strndup(jarena *a, const char *s, size_t n)
{
    char *p = jarena_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* ---- constructors ---- */
jv jv_undef(const char *hint)
{
    jv v = {.type = JV_UNDEF};
    v.u.s.p = hint;
    v.u.s.n = hint ? strlen(hint) : 0;
    return v;
}
jv jv_none(void) { return (jv){.type = JV_NONE}; }
jv jv_bool(int b) { return (jv){.type = JV_BOOL, .u.b = !!b}; }
jv jv_int(int64_t i) { return (jv){.type = JV_INT, .u.i = i}; }
jv jv_float(double f) { return (jv){.type = JV_FLOAT, .u.f = f}; }
jv jv_str(const char *p, size_t n)
{
    jv v = {.type = JV_STR};
    v.u.s.p = p ? p : "";
    v.u.s.n = n;
    return v;
}
jv jv_cstr(const char *s) { return jv_str(s, strlen(s)); }

jlist *jlist_new(jctx *c, size_t cap)
{
    jlist *l = jarena_alloc(&c->arena, sizeof *l);
    if (!l)
        return NULL;
    l->n = 0;
    l->cap = cap ? cap : 1; /* never NULL, so memcpy of zero items stays defined */
    l->v = jarena_alloc(&c->arena, l->cap * sizeof(jv));
    if (!l->v)
        return NULL;
    return l;
}

xllm_status jlist_push(jctx *c, jlist *l, jv v)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4;
        jv *nv = jarena_alloc(&c->arena, ncap * sizeof(jv));
        if (!nv)
            return XLLM_ERR_LIMIT;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(jv));
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = v;
    return XLLM_OK;
}

jdict *jdict_new(jctx *c, size_t cap)
{
    jdict *d = jarena_alloc(&c->arena, sizeof *d);
    if (!d)
        return NULL;
    d->n = 0;
    d->cap = cap ? cap : 1;
    d->k = jarena_alloc(&c->arena, d->cap * sizeof(jv));
    d->v = jarena_alloc(&c->arena, d->cap * sizeof(jv));
    if (!d->k || !d->v)
        return NULL;
    return d;
}

jv *jdict_get(const jdict *d, jv k)
{
    if (k.type == JV_STR)
        return jdict_get_str(d, k.u.s.p, k.u.s.n);
    for (size_t i = 0; i < d->n; i++)
        if (jv_equal(d->k[i], k))
            return &d->v[i];
    return NULL;
}

jv *jdict_get_str(const jdict *d, const char *k, size_t n)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].type == JV_STR && d->k[i].u.s.n == n && memcmp(d->k[i].u.s.p, k, n) == 0)
            return &d->v[i];
    return NULL;
}

xllm_status jdict_set(jctx *c, jdict *d, jv k, jv v)
{
    jv *old = jdict_get(d, k);
    if (old) {
        *old = v;
        return XLLM_OK;
    }
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 4;
        jv *nk = jarena_alloc(&c->arena, ncap * sizeof(jv));
        jv *nv = jarena_alloc(&c->arena, ncap * sizeof(jv));
        if (!nk || !nv)
            return XLLM_ERR_LIMIT;
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(jv));
            memcpy(nv, d->v, d->n * sizeof(jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = ncap;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
    return XLLM_OK;
}

xllm_status jv_from_json(jctx *c, const json_t *j, jv *out)
{
    xllm_status st;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jdict *d = jdict_new(c, json_object_size(j));
        const char *k;
        json_t *v;
        if (!d)
            return XLLM_ERR_LIMIT;
        json_object_foreach((json_t *)j, k, v) {
            jv x;
            if ((st = jv_from_json(c, v, &x)))
                return st;
            d->k[d->n] = jv_cstr(k);
            d->v[d->n++] = x;
        }
        *out = (jv){.type = JV_DICT, .u.d = d};
        return XLLM_OK;
    }
    case JSON_ARRAY: {
        jlist *l = jlist_new(c, json_array_size(j));
        if (!l)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < json_array_size(j); i++)
            if ((st = jv_from_json(c, json_array_get(j, i), &l->v[l->n++])))
                return st;
        *out = (jv){.type = JV_LIST, .u.l = l};
        return XLLM_OK;
    }
    case JSON_STRING: *out = jv_str(json_string_value(j), json_string_length(j)); return XLLM_OK;
    case JSON_INTEGER: *out = jv_int(json_integer_value(j)); return XLLM_OK;
    case JSON_REAL: *out = jv_float(json_real_value(j)); return XLLM_OK;
    case JSON_TRUE: *out = jv_bool(1); return XLLM_OK;
    case JSON_FALSE: *out = jv_bool(0); return XLLM_OK;
    default: *out = jv_none(); return XLLM_OK;
    }
}

/* ---- Python semantics ---- */
int jv_is_number(jv v) { return v.type == JV_INT || v.type == JV_FLOAT || v.type == JV_BOOL; }

double jv_num(jv v)
{
    return v.type == JV_FLOAT ? v.u.f : v.type == JV_INT ? (double)v.u.i : v.type == JV_BOOL ? v.u.b : 0;
}

int jv_truthy(jv v)
{
    switch (v.type) {
    case JV_UNDEF:
    case JV_NONE: return 0;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0;
    case JV_STR: return v.u.s.n != 0;
    case JV_LIST: return (v.flags & JV_F_GEN) || v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0;
    default: return 1;
    }
}

int jv_equal(jv a, jv b)
{
    if (jv_is_number(a) && jv_is_number(b)) {
        if (a.type != JV_FLOAT && b.type != JV_FLOAT)
            return (a.type == JV_INT ? a.u.i : a.u.b) == (b.type == JV_INT ? b.u.i : b.u.b);
        return jv_num(a) == jv_num(b);
    }
    if (a.type != b.type)
        return 0;
    switch (a.type) {
    case JV_UNDEF:
    case JV_NONE: return 1;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case JV_LIST:
        if (a.u.l->n != b.u.l->n || a.flags != b.flags || (a.flags & JV_F_GEN))
            return 0;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!jv_equal(a.u.l->v[i], b.u.l->v[i]))
                return 0;
        return 1;
    case JV_DICT:
        if (a.u.d->n != b.u.d->n)
            return 0;
        for (size_t i = 0; i < a.u.d->n; i++) {
            jv *o = jdict_get(b.u.d, a.u.d->k[i]);
            if (!o || !jv_equal(a.u.d->v[i], *o))
                return 0;
        }
        return 1;
    case JV_METHOD: return a.id == b.id && a.u.self == b.u.self;
    case JV_FUNC: return a.id == b.id;
    default: return a.u.ptr == b.u.ptr;
    }
}

const char *jv_type_name(jv v)
{
    switch (v.type) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v.flags & JV_F_TUPLE ? "tuple" : "list";
    case JV_DICT: return "dict";
    case JV_NS: return "Namespace";
    case JV_MACRO: return "Macro";
    case JV_LOOP: return "LoopContext";
    case JV_CYCLER: return "Cycler";
    case JV_JOINER: return "Joiner";
    default: return "builtin_function_or_method";
    }
}

xllm_status jv_compare(jctx *c, jv a, jv b, int *cmp)
{
    if (jv_is_number(a) && jv_is_number(b)) {
        if (a.type != JV_FLOAT && b.type != JV_FLOAT) {
            int64_t x = a.type == JV_INT ? a.u.i : a.u.b, y = b.type == JV_INT ? b.u.i : b.u.b;
            *cmp = (x > y) - (x < y);
        } else {
            double x = jv_num(a), y = jv_num(b);
            *cmp = (x > y) - (x < y); /* NaN compares as equal here; Python gives False both ways */
        }
        return XLLM_OK;
    }
    if (a.type == JV_STR && b.type == JV_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        int r = memcmp(a.u.s.p, b.u.s.p, n); /* UTF-8 byte order is code point order */
        *cmp = r ? (r > 0) - (r < 0) : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
        return XLLM_OK;
    }
    if (a.type == JV_LIST && b.type == JV_LIST && (a.flags & JV_F_TUPLE) == (b.flags & JV_F_TUPLE)) {
        size_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_equal(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return jv_compare(c, a.u.l->v[i], b.u.l->v[i], cmp);
        }
        *cmp = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return XLLM_OK;
    }
    return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'<' not supported between instances of '%s' and '%s'",
                jv_type_name(a), jv_type_name(b));
}

/* ---- UTF-8 ---- */
size_t utf8_count(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)p[i] & 0xC0) != 0x80;
    return k;
}

size_t utf8_offset(const char *p, size_t n, size_t cp)
{
    size_t i = 0;
    while (i < n && cp) {
        i++;
        while (i < n && ((unsigned char)p[i] & 0xC0) == 0x80)
            i++;
        cp--;
    }
    return i;
}

/* ---- str / repr ---- */
void jfloat_repr(double f, char *buf, size_t cap)
{
    if (isnan(f)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, cap, f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) { /* shortest digits that read back (Python's repr) */
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    char digits[24];
    size_t nd = 0;
    const char *q = e + (e[0] == '-');
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    size_t k = 0;
    char out[64];
    if (f < 0 || (f == 0 && signbit(f)))
        out[k++] = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out[k++] = '0';
            out[k++] = '.';
            for (int z = 0; z < -exp - 1; z++)
                out[k++] = '0';
            for (size_t d = 0; d < nd; d++)
                out[k++] = digits[d];
        } else {
            for (int d = 0; d <= exp; d++)
                out[k++] = (size_t)d < nd ? digits[d] : '0';
            out[k++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t d = (size_t)exp + 1; d < nd; d++)
                    out[k++] = digits[d];
            else
                out[k++] = '0';
        }
        out[k] = 0;
    } else {
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            for (size_t d = 1; d < nd; d++)
                out[k++] = digits[d];
        }
        snprintf(out + k, sizeof out - k, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(buf, cap, "%s", out);
}

static int py_printable(int32_t cp)
{
    if (cp == ' ')
        return 1;
    if (cp < 0x20 || cp == 0x7F)
        return 0;
    if (cp < 0x7F)
        return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS: return 0;
    default: return 1;
    }
}

static xllm_status repr_str(const char *p, size_t n, xllm_buf *b)
{
    int sq = memchr(p, '\'', n) != NULL, dq = memchr(p, '"', n) != NULL;
    char quote = sq && !dq ? '"' : '\'';
    xllm_status st = xllm_buf_append(b, &quote, 1);
    size_t i = 0;
    while (!st && i < n) {
        unsigned char ch = (unsigned char)p[i];
        char esc[16];
        if (ch == '\\' || ch == (unsigned char)quote) {
            esc[0] = '\\';
            esc[1] = (char)ch;
            st = xllm_buf_append(b, esc, 2);
            i++;
            continue;
        }
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            st = xllm_buf_append(b, ch == '\n' ? "\\n" : ch == '\r' ? "\\r" : "\\t", 2);
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            cp = ch;
            k = 1;
        }
        if (py_printable(cp)) {
            st = xllm_buf_append(b, p + i, (size_t)k);
        } else {
            if (cp < 0x100)
                snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
            else if (cp < 0x10000)
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            else
                snprintf(esc, sizeof esc, "\\U%08x", (unsigned)cp);
            st = xllm_buf_puts(b, esc);
        }
        i += (size_t)k;
    }
    return st ? st : xllm_buf_append(b, &quote, 1);
}

static xllm_status val_text(jctx *c, jv v, xllm_buf *b, int repr)
{
    char num[64];
    xllm_status st = XLLM_OK;
    switch (v.type) {
    case JV_UNDEF: return repr ? xllm_buf_puts(b, "Undefined") : XLLM_OK;
    case JV_NONE: return xllm_buf_puts(b, "None");
    case JV_BOOL: return xllm_buf_puts(b, v.u.b ? "True" : "False");
    case JV_INT: return xllm_buf_printf(b, "%lld", (long long)v.u.i);
    case JV_FLOAT: jfloat_repr(v.u.f, num, sizeof num); return xllm_buf_puts(b, num);
    case JV_STR: return repr ? repr_str(v.u.s.p, v.u.s.n, b) : xllm_buf_append(b, v.u.s.p, v.u.s.n);
    case JV_LIST: {
        int tup = v.flags & JV_F_TUPLE;
        const char *view = v.flags & JV_F_KEYS ? "dict_keys(" : v.flags & JV_F_VALUES ? "dict_values("
                           : v.flags & JV_F_ITEMS ? "dict_items(" : NULL;
        if (v.flags & JV_F_GEN)
            return jerr(c, XLLM_ERR_UNSUPPORTED, "printing a generator (its Python text holds a memory address)");
        if (view && (st = xllm_buf_puts(b, view)))
            return st;
        st = xllm_buf_puts(b, tup ? "(" : "[");
        for (size_t i = 0; !st && i < v.u.l->n; i++) {
            if (i)
                st = xllm_buf_puts(b, ", ");
            if (!st)
                st = val_text(c, v.u.l->v[i], b, 1);
        }
        if (!st && tup && v.u.l->n == 1)
            st = xllm_buf_puts(b, ",");
        if (!st)
            st = xllm_buf_puts(b, tup ? ")" : "]");
        return st || !view ? st : xllm_buf_puts(b, ")");
    }
    case JV_NS:
        if ((st = xllm_buf_puts(b, "<Namespace ")))
            return st;
        /* fall through */
    case JV_DICT:
        st = xllm_buf_puts(b, "{");
        for (size_t i = 0; !st && i < v.u.d->n; i++) {
            if (i)
                st = xllm_buf_puts(b, ", ");
            if (!st)
                st = val_text(c, v.u.d->k[i], b, 1);
            if (!st)
                st = xllm_buf_puts(b, ": ");
            if (!st)
                st = val_text(c, v.u.d->v[i], b, 1);
        }
        if (!st)
            st = xllm_buf_puts(b, "}");
        return st || v.type != JV_NS ? st : xllm_buf_puts(b, ">");
    case JV_JOINER:
    case JV_CYCLER:
    case JV_LOOP:
    case JV_MACRO:
    case JV_FUNC:
    case JV_METHOD:
    default:
        return jerr(c, XLLM_ERR_UNSUPPORTED, "printing a %s object (its Python text holds a memory address)",
                    jv_type_name(v));
    }
}

xllm_status jv_str_append(jctx *c, jv v, xllm_buf *b) { return val_text(c, v, b, 0); }
xllm_status jv_repr_append(jctx *c, jv v, xllm_buf *b) { return val_text(c, v, b, 1); }

xllm_status jv_to_str(jctx *c, jv v, jv *out)
{
    if (v.type == JV_STR) {
        *out = v;
        return XLLM_OK;
    }
    xllm_buf b;
    xllm_buf_init(&b, XLLM_JINJA_MAX_OUTPUT);
    xllm_status st = jv_str_append(c, v, &b);
    if (!st) {
        char *p = jarena_strndup(&c->arena, b.data ? b.data : "", b.len);
        if (!p)
            st = XLLM_ERR_LIMIT;
        else
            *out = jv_str(p, b.len);
    }
    xllm_buf_free(&b);
    return st;
}

/* ---- json.dumps ---- */
static xllm_status json_str(const char *p, size_t n, int ascii, xllm_buf *b)
{
    xllm_status st = xllm_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; !st && i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\' && (ch < 0x80 || !ascii))
            continue;
        if (i > run)
            st = xllm_buf_append(b, p + run, i - run);
        run = i + 1;
        char esc[16];
        if (ch >= 0x80) { /* ensure_ascii: \\uXXXX, surrogate pairs above U+FFFF */
            utf8proc_int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
            if (k <= 0) {
                cp = 0xFFFD;
                k = 1;
            }
            if (cp >= 0x10000)
                snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
                         0xDC00 + ((cp - 0x10000) & 0x3FF));
            else
                snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            i += (size_t)k - 1;
            run = i + 1;
            if (!st)
                st = xllm_buf_puts(b, esc);
            continue;
        }
        switch (ch) {
        case '"': strcpy(esc, "\\\""); break;
        case '\\': strcpy(esc, "\\\\"); break;
        case '\n': strcpy(esc, "\\n"); break;
        case '\r': strcpy(esc, "\\r"); break;
        case '\t': strcpy(esc, "\\t"); break;
        case '\b': strcpy(esc, "\\b"); break;
        case '\f': strcpy(esc, "\\f"); break;
        default: snprintf(esc, sizeof esc, "\\u%04x", ch);
        }
        if (!st)
            st = xllm_buf_puts(b, esc);
    }
    if (!st && n > run)
        st = xllm_buf_append(b, p + run, n - run);
    return st ? st : xllm_buf_append(b, "\"", 1);
}

typedef struct jsonopt {
    const char *indent; /* NULL: one line */
    const char *isep, *ksep;
    int sort, ascii;
} jsonopt;

static xllm_status json_nl(xllm_buf *b, const jsonopt *o, int level)
{
    if (!o->indent)
        return XLLM_OK;
    xllm_status st = xllm_buf_append(b, "\n", 1);
    for (int i = 0; !st && i < level; i++)
        st = xllm_buf_puts(b, o->indent);
    return st;
}

/* A dict key as json.dumps writes it (str, or int/float/bool/None converted). */
static xllm_status json_key(jctx *c, jv k, int ascii, xllm_buf *b)
{
    char num[64];
    switch (k.type) {
    case JV_STR: return json_str(k.u.s.p, k.u.s.n, ascii, b);
    case JV_INT: snprintf(num, sizeof num, "\"%lld\"", (long long)k.u.i); return xllm_buf_puts(b, num);
    case JV_BOOL: return xllm_buf_puts(b, k.u.b ? "\"true\"" : "\"false\"");
    case JV_NONE: return xllm_buf_puts(b, "\"null\"");
    case JV_FLOAT: jfloat_repr(k.u.f, num + 1, sizeof num - 2); num[0] = '"'; strcat(num, "\"");
        return xllm_buf_puts(b, num);
    default: return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "keys must be str, int, float, bool or None, not %s",
                         jv_type_name(k));
    }
}

static int key_cmp_ctx(const void *x, const void *y)
{
    const jv *a = *(const jv *const *)x, *b = *(const jv *const *)y;
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int r = memcmp(a->u.s.p, b->u.s.p, n);
    return r ? r : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
}

static xllm_status json_val(jctx *c, jv v, const jsonopt *o, int level, xllm_buf *b)
{
    char num[64];
    xllm_status st = XLLM_OK;
    if (level > XLLM_JINJA_MAX_DEPTH)
        return jerr(c, XLLM_ERR_LIMIT, "tojson: nesting deeper than %d", XLLM_JINJA_MAX_DEPTH);
    switch (v.type) {
    case JV_NONE: return xllm_buf_puts(b, "null");
    case JV_BOOL: return xllm_buf_puts(b, v.u.b ? "true" : "false");
    case JV_INT: return xllm_buf_printf(b, "%lld", (long long)v.u.i);
    case JV_FLOAT:
        if (isnan(v.u.f))
            return xllm_buf_puts(b, "NaN");
        if (isinf(v.u.f))
            return xllm_buf_puts(b, v.u.f < 0 ? "-Infinity" : "Infinity");
        jfloat_repr(v.u.f, num, sizeof num);
        return xllm_buf_puts(b, num);
    case JV_STR: return json_str(v.u.s.p, v.u.s.n, o->ascii, b);
    case JV_LIST:
        if (v.flags & JV_F_GEN)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "Object of type generator is not JSON serializable");
        if (v.flags & (JV_F_KEYS | JV_F_VALUES | JV_F_ITEMS))
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "Object of type dict view is not JSON serializable");
        if (!v.u.l->n)
            return xllm_buf_puts(b, "[]");
        st = xllm_buf_puts(b, "[");
        for (size_t i = 0; !st && i < v.u.l->n; i++) {
            if (i)
                st = xllm_buf_puts(b, o->isep);
            if (!st)
                st = json_nl(b, o, level + 1);
            if (!st)
                st = json_val(c, v.u.l->v[i], o, level + 1, b);
        }
        if (!st)
            st = json_nl(b, o, level);
        return st ? st : xllm_buf_puts(b, "]");
    case JV_DICT: {
        jdict *d = v.u.d;
        if (!d->n)
            return xllm_buf_puts(b, "{}");
        const jv **order = jarena_alloc(&c->arena, d->n * sizeof *order);
        if (!order)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < d->n; i++)
            order[i] = &d->k[i];
        if (o->sort) {
            for (size_t i = 0; i < d->n; i++)
                if (d->k[i].type != JV_STR)
                    return jerr(c, XLLM_ERR_UNSUPPORTED, "tojson(sort_keys=true) with non-string keys");
            qsort(order, d->n, sizeof *order, key_cmp_ctx);
        }
        st = xllm_buf_puts(b, "{");
        for (size_t i = 0; !st && i < d->n; i++) {
            size_t at = (size_t)(order[i] - d->k);
            if (i)
                st = xllm_buf_puts(b, o->isep);
            if (!st)
                st = json_nl(b, o, level + 1);
            if (!st)
                st = json_key(c, d->k[at], o->ascii, b);
            if (!st)
                st = xllm_buf_puts(b, o->ksep);
            if (!st)
                st = json_val(c, d->v[at], o, level + 1, b);
        }
        if (!st)
            st = json_nl(b, o, level);
        return st ? st : xllm_buf_puts(b, "}");
    }
    default:
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "Object of type %s is not JSON serializable", jv_type_name(v));
    }
}

xllm_status jv_tojson(jctx *c, jv v, const char *indent, const char *item_sep, const char *key_sep,
                      int sort_keys, int ascii, xllm_buf *b)
{
    jsonopt o = {indent, item_sep ? item_sep : (indent ? "," : ", "), key_sep ? key_sep : ": ", sort_keys, ascii};
    return json_val(c, v, &o, 0, b);
}
