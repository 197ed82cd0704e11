/* jinja_filters.c - Jinja2's builtin filters and tests as Jinja2 3.x defines them,
 * with transformers' tojson (ensure_ascii=False, indent, separators, sort_keys).
 * Filters Jinja2 has but xllm does not implement are in the table with no function:
 * they parse and give a clear error when a render reaches them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "template/jinja_impl.h"
#include "template/jinja_str.h"

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

typedef xllm_status (*filter_fn)(jctx *c, jv v, const jargs *a, jscope *sc, jv *out);

static jv list_val(jlist *l, unsigned flags) { return (jv){.type = JV_LIST, .flags = (uint8_t)flags, .u.l = l}; }

static xllm_status to_str(jctx *c, jv v, jv *out) { return jv_to_str(c, v, out); }

static xllm_status to_list(jctx *c, jv v, jlist **out)
{
    if (v.type == JV_NONE || jv_is_number(v))
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'%s' object is not iterable", jv_type_name(v));
    return jinja_iterate(c, v, out);
}

/* environment.getitem along a dotted path "a.b.0" (map / selectattr / sort attribute). */
static xllm_status attr_path(jctx *c, jv v, jv attr, jv *out)
{
    if (attr.type == JV_INT)
        return jinja_getitem(c, v, attr, out);
    if (attr.type != JV_STR)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "attribute must be a string or an integer");
    const char *p = attr.u.s.p, *end = p + attr.u.s.n;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);
        jv key = jv_str(p, n);
        int digits = n > 0;
        for (size_t i = 0; i < n; i++)
            digits &= p[i] >= '0' && p[i] <= '9';
        if (digits)
            key = jv_int(strtoll(p, NULL, 10));
        if (v.type == JV_UNDEF)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%.*s", (int)v.u.s.n, v.u.s.p ? v.u.s.p : "");
        TRY(jinja_getitem(c, v, key, &v));
        if (!dot)
            break;
        p = dot + 1;
    }
    *out = v;
    return XLLM_OK;
}

/* ---- simple filters ---- */
/* Jinja2 filters that compute on their input (s + "\n", int(x), x.items(), getattr)
 * fail on Undefined like Python does; the others see str(Undefined) == "". */
static xllm_status no_undefined(jctx *c, jv v)
{
    if (v.type != JV_UNDEF)
        return XLLM_OK;
    return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%.*s", (int)v.u.s.n, v.u.s.p ? v.u.s.p : "undefined value");
}

static xllm_status f_abs(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    if (v.type == JV_FLOAT)
        *out = jv_float(fabs(v.u.f));
    else if (v.type == JV_INT || v.type == JV_BOOL)
        *out = jv_int(llabs(v.type == JV_INT ? v.u.i : v.u.b));
    else
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "bad operand type for abs(): '%s'", jv_type_name(v));
    return XLLM_OK;
}

static xllm_status f_attr(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *name = jargs_get(a, 0, "name");
    TRY(no_undefined(c, v));
    if (!name || name->type != JV_STR)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "attr takes an attribute name");
    if (v.type == JV_DICT) { /* getattr, not getitem: dict keys are no attributes */
        jv m;
        if (jinja_method_find(v, name->u.s.p, name->u.s.n, &m))
            return jinja_getattr(c, v, name->u.s.p, name->u.s.n, out);
        *out = jv_undef("dict object has no such attribute");
        return XLLM_OK;
    }
    return jinja_getattr(c, v, name->u.s.p, name->u.s.n, out);
}

static xllm_status f_batch(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *cnt = jargs_get(a, 0, "linecount"), *fill = jargs_get(a, 1, "fill_with");
    jlist *items, *res = jlist_new(c, 0), *cur = NULL;
    if (!cnt || cnt->type != JV_INT || cnt->u.i <= 0)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "batch takes a positive count");
    TRY(to_list(c, v, &items));
    if (!res)
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++) {
        if (!cur || cur->n == (size_t)cnt->u.i) {
            if (!(cur = jlist_new(c, 0)))
                return XLLM_ERR_LIMIT;
            TRY(jlist_push(c, res, list_val(cur, 0)));
        }
        TRY(jlist_push(c, cur, items->v[i]));
    }
    while (fill && fill->type != JV_NONE && cur && cur->n < (size_t)cnt->u.i)
        TRY(jlist_push(c, cur, *fill));
    *out = list_val(res, JV_F_GEN);
    return XLLM_OK;
}

static xllm_status f_case(jctx *c, jv v, int mode, jv *out)
{
    TRY(to_str(c, v, &v));
    return jstr_case(c, v, mode, out);
}
static xllm_status f_upper(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)a, (void)sc; return f_case(c, v, JCASE_UPPER, out); }
static xllm_status f_lower(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)a, (void)sc; return f_case(c, v, JCASE_LOWER, out); }
static xllm_status f_title(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)a, (void)sc; return f_case(c, v, JCASE_JINJA_TITLE, out); }
static xllm_status f_capitalize(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)a, (void)sc; return f_case(c, v, JCASE_CAPITALIZE, out); }

static xllm_status f_center(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *w = jargs_get(a, 0, "width");
    int64_t width = w && w->type == JV_INT ? w->u.i : 80;
    TRY(to_str(c, v, &v));
    int64_t n = (int64_t)utf8_count(v.u.s.p, v.u.s.n);
    if (width <= n || width > (1 << 20)) {
        *out = v;
        return XLLM_OK;
    }
    size_t pad = (size_t)(width - n), left = pad / 2 + (pad & (size_t)width & 1);
    char *p = jarena_alloc(&c->arena, v.u.s.n + pad + 1);
    if (!p)
        return XLLM_ERR_LIMIT;
    memset(p, ' ', left);
    memcpy(p + left, v.u.s.p, v.u.s.n);
    memset(p + left + v.u.s.n, ' ', pad - left);
    *out = jv_str(p, v.u.s.n + pad);
    return XLLM_OK;
}

static xllm_status f_length(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    switch (v.type) {
    case JV_UNDEF: *out = jv_int(0); return XLLM_OK;
    case JV_STR: *out = jv_int((int64_t)utf8_count(v.u.s.p, v.u.s.n)); return XLLM_OK;
    case JV_LIST:
        if (v.flags & JV_F_GEN)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "object of type 'generator' has no len()");
        *out = jv_int((int64_t)v.u.l->n);
        return XLLM_OK;
    case JV_DICT: *out = jv_int((int64_t)v.u.d->n); return XLLM_OK;
    case JV_LOOP: *out = jv_int((int64_t)((jloop *)v.u.ptr)->items->n); return XLLM_OK;
    default: return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "object of type '%s' has no len()", jv_type_name(v));
    }
}

static xllm_status f_default(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)c, (void)sc;
    jv *d = jargs_get(a, 0, "default_value"), *b = jargs_get(a, 1, "boolean");
    int use = v.type == JV_UNDEF || (b && jv_truthy(*b) && !jv_truthy(v));
    *out = use ? (d ? *d : jv_str("", 0)) : v;
    return XLLM_OK;
}

static xllm_status f_escape(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    xllm_buf b;
    xllm_status st = XLLM_OK;
    TRY(to_str(c, v, &v));
    xllm_buf_init(&b, XLLM_JINJA_MAX_OUTPUT);
    for (size_t i = 0; !st && i < v.u.s.n; i++) {
        const char *rep = NULL;
        switch (v.u.s.p[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&#34;"; break;
        case '\'': rep = "&#39;"; break;
        }
        st = rep ? xllm_buf_puts(&b, rep) : xllm_buf_append(&b, v.u.s.p + i, 1);
    }
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

static xllm_status f_first_last(jctx *c, jv v, int last, jv *out)
{
    jlist *items;
    if (v.type == JV_LIST && (v.flags & JV_F_GEN) && last)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'generator' object is not reversible");
    TRY(to_list(c, v, &items));
    *out = items->n ? items->v[last ? items->n - 1 : 0]
                    : jv_undef(last ? "No last item, sequence was empty." : "No first item, sequence was empty.");
    return XLLM_OK;
}
static xllm_status f_first(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)a, (void)sc; return f_first_last(c, v, 0, out); }
static xllm_status f_last(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)a, (void)sc; return f_first_last(c, v, 1, out); }

/* Python int(str) / float(str): surrounding whitespace, sign, underscores between digits. */
static int parse_int_str(jv s, int base, int64_t *out)
{
    jv t = jstr_strip(s, NULL, 3);
    const char *p = t.u.s.p;
    size_t n = t.u.s.n, i = 0;
    int neg = 0, digits = 0;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (base == 16 && i + 1 < n && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X'))
        i += 2;
    uint64_t v = 0;
    for (; i < n; i++) {
        int d;
        if (p[i] == '_' && digits && i + 1 < n && p[i + 1] != '_')
            continue;
        if (p[i] >= '0' && p[i] <= '9')
            d = p[i] - '0';
        else if (p[i] >= 'a' && p[i] <= 'z')
            d = p[i] - 'a' + 10;
        else if (p[i] >= 'A' && p[i] <= 'Z')
            d = p[i] - 'A' + 10;
        else
            return 0;
        if (d >= base || v > (uint64_t)INT64_MAX / (uint64_t)base)
            return 0;
        v = v * (uint64_t)base + (uint64_t)d;
        digits++;
    }
    if (!digits)
        return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static int parse_float_str(jv s, double *out)
{
    jv t = jstr_strip(s, NULL, 3);
    char buf[128], *end;
    size_t k = 0;
    if (!t.u.s.n || t.u.s.n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < t.u.s.n; i++)
        if (t.u.s.p[i] != '_')
            buf[k++] = t.u.s.p[i];
    buf[k] = 0;
    if (strchr(buf, 'x') || strchr(buf, 'X') || strchr(buf, 'p')) /* strtod's hex floats: not Python */
        return 0;
    *out = strtod(buf, &end);
    return *end == 0;
}

static xllm_status f_int(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *d = jargs_get(a, 0, "default"), *b = jargs_get(a, 1, "base");
    int base = b && b->type == JV_INT ? (int)b->u.i : 10;
    int64_t i;
    double f;
    TRY(no_undefined(c, v));
    *out = d ? *d : jv_int(0);
    if (v.type == JV_INT || v.type == JV_BOOL)
        *out = jv_int(v.type == JV_INT ? v.u.i : v.u.b);
    else if (v.type == JV_FLOAT && isfinite(v.u.f) && fabs(v.u.f) < 9.2e18)
        *out = jv_int((int64_t)v.u.f);
    else if (v.type == JV_STR && base >= 2 && base <= 36 && parse_int_str(v, base, &i))
        *out = jv_int(i);
    else if (v.type == JV_STR && parse_float_str(v, &f) && isfinite(f) && fabs(f) < 9.2e18)
        *out = jv_int((int64_t)f);
    (void)c;
    return XLLM_OK;
}

static xllm_status f_float(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *d = jargs_get(a, 0, "default");
    double f;
    TRY(no_undefined(c, v));
    *out = d ? *d : jv_float(0.0);
    if (jv_is_number(v))
        *out = jv_float(jv_num(v));
    else if (v.type == JV_STR && parse_float_str(v, &f))
        *out = jv_float(f);
    return XLLM_OK;
}

static xllm_status f_indent(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *w = jargs_get(a, 0, "width"), *first = jargs_get(a, 1, "first"), *blank = jargs_get(a, 2, "blank");
    jv ind = jv_str("    ", 4), lines;
    TRY(no_undefined(c, v));
    TRY(to_str(c, v, &v));
    if (w && w->type == JV_STR) {
        ind = *w;
    } else if (w && w->type == JV_INT) {
        if (w->u.i < 0 || w->u.i > 1024)
            return jerr(c, XLLM_ERR_LIMIT, "indent width out of range");
        char *p = jarena_alloc(&c->arena, (size_t)w->u.i + 1);
        if (!p)
            return XLLM_ERR_LIMIT;
        memset(p, ' ', (size_t)w->u.i);
        ind = jv_str(p, (size_t)w->u.i);
    }
    /* Jinja2 appends "\n" and splits lines, so a trailing newline is dropped */
    jv withnl;
    char *tmp = jarena_alloc(&c->arena, v.u.s.n + 2);
    if (!tmp)
        return XLLM_ERR_LIMIT;
    memcpy(tmp, v.u.s.p, v.u.s.n);
    tmp[v.u.s.n] = '\n';
    withnl = jv_str(tmp, v.u.s.n + 1);
    TRY(jstr_splitlines(c, withnl, 0, &lines));
    xllm_buf b;
    xllm_status st = XLLM_OK;
    xllm_buf_init(&b, XLLM_JINJA_MAX_OUTPUT);
    if (first && jv_truthy(*first))
        st = xllm_buf_append(&b, ind.u.s.p, ind.u.s.n);
    for (size_t i = 0; !st && i < lines.u.l->n; i++) {
        jv ln = lines.u.l->v[i];
        if (i) {
            st = xllm_buf_append(&b, "\n", 1);
            if (!st && (ln.u.s.n || (blank && jv_truthy(*blank))))
                st = xllm_buf_append(&b, ind.u.s.p, ind.u.s.n);
        }
        if (!st)
            st = xllm_buf_append(&b, ln.u.s.p, ln.u.s.n);
    }
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

static xllm_status f_items(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    jlist *l = jlist_new(c, 0);
    if (!l)
        return XLLM_ERR_LIMIT;
    if (v.type == JV_UNDEF) {
        *out = list_val(l, JV_F_GEN);
        return XLLM_OK;
    }
    if (v.type != JV_DICT)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "can only get item pairs from a mapping");
    for (size_t i = 0; i < v.u.d->n; i++) {
        jlist *pair = jlist_new(c, 2);
        if (!pair)
            return XLLM_ERR_LIMIT;
        pair->v[0] = v.u.d->k[i];
        pair->v[1] = v.u.d->v[i];
        pair->n = 2;
        TRY(jlist_push(c, l, list_val(pair, JV_F_TUPLE)));
    }
    *out = list_val(l, JV_F_GEN);
    return XLLM_OK;
}

static xllm_status f_join(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *d = jargs_get(a, 0, "d"), *attr = jargs_get(a, 1, "attribute");
    jlist *items, *strs;
    jv sep = jv_str("", 0);
    if (d)
        TRY(to_str(c, *d, &sep));
    TRY(to_list(c, v, &items));
    if (!(strs = jlist_new(c, items->n)))
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++) {
        jv x = items->v[i];
        if (attr)
            TRY(attr_path(c, x, *attr, &x));
        TRY(to_str(c, x, &strs->v[strs->n++]));
    }
    return jstr_join(c, strs, sep, out);
}

static xllm_status f_list(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    jlist *items, *l;
    TRY(to_list(c, v, &items));
    if (!(l = jlist_new(c, items->n)))
        return XLLM_ERR_LIMIT;
    memcpy(l->v, items->v, items->n * sizeof(jv));
    l->n = items->n;
    *out = list_val(l, 0);
    return XLLM_OK;
}

static xllm_status f_replace(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *o = jargs_get(a, 0, "old"), *n = jargs_get(a, 1, "new"), *cnt = jargs_get(a, 2, "count");
    jv os, ns;
    if (!o || !n)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "replace takes old and new");
    TRY(to_str(c, v, &v));
    TRY(to_str(c, *o, &os));
    TRY(to_str(c, *n, &ns));
    return jstr_replace(c, v, os, ns, cnt && cnt->type == JV_INT ? cnt->u.i : -1, out);
}

static xllm_status f_reverse(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    jlist *items, *l;
    if (v.type == JV_STR) {
        char *p = jarena_alloc(&c->arena, v.u.s.n + 1);
        size_t k = v.u.s.n;
        if (!p)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < v.u.s.n;) {
            size_t m = utf8_offset(v.u.s.p + i, v.u.s.n - i, 1);
            k -= m;
            memcpy(p + k, v.u.s.p + i, m);
            i += m;
        }
        p[v.u.s.n] = 0;
        *out = jv_str(p, v.u.s.n);
        return XLLM_OK;
    }
    TRY(to_list(c, v, &items));
    if (!(l = jlist_new(c, items->n)))
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++)
        l->v[l->n++] = items->v[items->n - 1 - i];
    *out = list_val(l, JV_F_GEN);
    return XLLM_OK;
}

static xllm_status f_round(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *pr = jargs_get(a, 0, "precision"), *m = jargs_get(a, 1, "method");
    int64_t prec = pr && pr->type == JV_INT ? pr->u.i : 0;
    if (!jv_is_number(v))
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "round of a %s", jv_type_name(v));
    if (prec < 0 || prec > 30)
        return jerr(c, XLLM_ERR_UNSUPPORTED, "round with a precision outside 0..30");
    const char *meth = m && m->type == JV_STR ? m->u.s.p : "common";
    size_t ml = m && m->type == JV_STR ? m->u.s.n : 6;
    if (v.type != JV_FLOAT && ml == 6 && !memcmp(meth, "common", 6)) {
        *out = jv_int(v.type == JV_INT ? v.u.i : v.u.b);
        return XLLM_OK;
    }
    double x = jv_num(v), r;
    if (ml == 6 && !memcmp(meth, "common", 6)) {
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)prec, x); /* exact value, ties to even: Python's round */
        r = prec ? strtod(buf, NULL) : rint(x);
    } else if ((ml == 4 && !memcmp(meth, "ceil", 4)) || (ml == 5 && !memcmp(meth, "floor", 5))) {
        double s = pow(10, (double)prec);
        r = (ml == 4 ? ceil(x * s) : floor(x * s)) / s;
    } else {
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "method must be common, ceil or floor");
    }
    *out = jv_float(r);
    return XLLM_OK;
}

static xllm_status f_safe(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    if (v.type == JV_STR) {
        *out = v;
        return XLLM_OK;
    }
    return jv_to_str(c, v, out);
}

static xllm_status f_string(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { return f_safe(c, v, a, sc, out); }

static xllm_status f_trim(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *chars = jargs_get(a, 0, "chars");
    TRY(to_str(c, v, &v));
    if (chars && chars->type != JV_NONE && chars->type != JV_STR)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "trim's chars must be a string");
    *out = jstr_strip(v, chars && chars->type == JV_STR ? chars : NULL, 3);
    return XLLM_OK;
}

static xllm_status f_wordcount(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)a, (void)sc;
    TRY(to_str(c, v, &v));
    int64_t n = 0;
    int in_word = 0;
    for (size_t i = 0; i < v.u.s.n;) {
        size_t k = utf8_offset(v.u.s.p + i, v.u.s.n - i, 1);
        jv ch = jv_str(v.u.s.p + i, k);
        int w = (k == 1 && v.u.s.p[i] == '_') || jstr_is(ch, JCLS_ALNUM);
        if (w && !in_word)
            n++;
        in_word = w;
        i += k;
    }
    *out = jv_int(n);
    return XLLM_OK;
}

static xllm_status f_tojson(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    /* transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
    jv *asc = jargs_get(a, 0, "ensure_ascii"), *ind = jargs_get(a, 1, "indent");
    jv *sep = jargs_get(a, 2, "separators"), *sk = jargs_get(a, 3, "sort_keys");
    const char *indent = NULL, *isep = NULL, *ksep = NULL;
    char *tmp;
    if (ind && ind->type == JV_INT) {
        if (ind->u.i < 0 || ind->u.i > 64)
            return jerr(c, XLLM_ERR_UNSUPPORTED, "tojson indent outside 0..64");
        if (!(tmp = jarena_alloc(&c->arena, (size_t)ind->u.i + 1)))
            return XLLM_ERR_LIMIT;
        memset(tmp, ' ', (size_t)ind->u.i);
        tmp[ind->u.i] = 0;
        indent = tmp;
    } else if (ind && ind->type == JV_STR) {
        if (!(indent = jarena_strndup(&c->arena, ind->u.s.p, ind->u.s.n)))
            return XLLM_ERR_LIMIT;
    } else if (ind && ind->type != JV_NONE) {
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "tojson indent must be an integer or a string");
    }
    if (sep && sep->type != JV_NONE) {
        if (sep->type != JV_LIST || sep->u.l->n != 2 || sep->u.l->v[0].type != JV_STR ||
            sep->u.l->v[1].type != JV_STR)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "tojson separators must be two strings");
        isep = jarena_strndup(&c->arena, sep->u.l->v[0].u.s.p, sep->u.l->v[0].u.s.n);
        ksep = jarena_strndup(&c->arena, sep->u.l->v[1].u.s.p, sep->u.l->v[1].u.s.n);
        if (!isep || !ksep)
            return XLLM_ERR_LIMIT;
    }
    xllm_buf b;
    xllm_buf_init(&b, XLLM_JINJA_MAX_OUTPUT);
    xllm_status st = jv_tojson(c, v, indent, isep, ksep, sk && jv_truthy(*sk), asc && jv_truthy(*asc), &b);
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

/* ---- sorting (stable merge sort with a fallible comparison) ---- */
typedef struct sortctx {
    jctx *c;
    jv *keys;
    int reverse;
    xllm_status st;
} sortctx;

static int sort_less(sortctx *s, size_t x, size_t y)
{
    int cmp = 0;
    if (!s->st)
        s->st = jv_compare(s->c, s->keys[y], s->keys[x], &cmp); /* y < x ? */
    return s->reverse ? cmp > 0 : cmp < 0;
}

static void merge_sort(sortctx *s, size_t *idx, size_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(s, idx, tmp, h);
    merge_sort(s, idx + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = sort_less(s, idx[i], idx[j]) ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/* Key for sort / unique / dictsort / min / max: attribute, then lower() unless case_sensitive. */
static xllm_status sort_key(jctx *c, jv x, const jv *attr, int case_sensitive, jv *out)
{
    if (attr && attr->type != JV_NONE)
        TRY(attr_path(c, x, *attr, &x));
    if (x.type == JV_STR && !case_sensitive)
        return jstr_case(c, x, JCASE_LOWER, out);
    *out = x;
    return XLLM_OK;
}

static xllm_status sorted_order(jctx *c, jlist *items, jv *keys, int reverse, size_t **order)
{
    size_t *idx = jarena_alloc(&c->arena, (items->n + 1) * sizeof *idx);
    size_t *tmp = jarena_alloc(&c->arena, (items->n + 1) * sizeof *tmp);
    if (!idx || !tmp)
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++)
        idx[i] = i;
    sortctx s = {c, keys, reverse, XLLM_OK};
    merge_sort(&s, idx, tmp, items->n);
    *order = idx;
    return s.st;
}

static xllm_status f_sort(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *rev = jargs_get(a, 0, "reverse"), *cs = jargs_get(a, 1, "case_sensitive"), *attr = jargs_get(a, 2, "attribute");
    jlist *items, *l;
    size_t *order;
    if (rev && rev->type == JV_UNDEF) /* sorted(reverse=Undefined) is a TypeError */
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'Undefined' object cannot be interpreted as an integer");
    TRY(to_list(c, v, &items));
    jv *keys = jarena_alloc(&c->arena, (items->n + 1) * sizeof *keys);
    if (!keys || !(l = jlist_new(c, items->n)))
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++)
        TRY(sort_key(c, items->v[i], attr, cs && jv_truthy(*cs), &keys[i]));
    TRY(sorted_order(c, items, keys, rev && jv_truthy(*rev), &order));
    for (size_t i = 0; i < items->n; i++)
        l->v[l->n++] = items->v[order[i]];
    *out = list_val(l, 0);
    return XLLM_OK;
}

static xllm_status f_dictsort(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    jv *cs = jargs_get(a, 0, "case_sensitive"), *by = jargs_get(a, 1, "by"), *rev = jargs_get(a, 2, "reverse");
    jv items;
    jlist *l;
    size_t *order;
    int by_value = by && by->type == JV_STR && by->u.s.n == 5 && !memcmp(by->u.s.p, "value", 5);
    jargs none = {0};
    TRY(no_undefined(c, v));
    TRY(f_items(c, v, &none, sc, &items));
    jv *keys = jarena_alloc(&c->arena, (items.u.l->n + 1) * sizeof *keys);
    if (!keys || !(l = jlist_new(c, items.u.l->n)))
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items.u.l->n; i++)
        TRY(sort_key(c, items.u.l->v[i].u.l->v[by_value], NULL, cs && jv_truthy(*cs), &keys[i]));
    TRY(sorted_order(c, items.u.l, keys, rev && jv_truthy(*rev), &order));
    for (size_t i = 0; i < items.u.l->n; i++)
        l->v[l->n++] = items.u.l->v[order[i]];
    *out = list_val(l, 0);
    return XLLM_OK;
}

static xllm_status f_unique(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *cs = jargs_get(a, 0, "case_sensitive"), *attr = jargs_get(a, 1, "attribute");
    jlist *items, *l, *seen;
    TRY(to_list(c, v, &items));
    if (!(l = jlist_new(c, 0)) || !(seen = jlist_new(c, 0)))
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++) {
        jv k;
        int dup = 0;
        TRY(sort_key(c, items->v[i], attr, cs && jv_truthy(*cs), &k));
        for (size_t j = 0; j < seen->n && !dup; j++)
            dup = jv_equal(seen->v[j], k);
        if (dup)
            continue;
        TRY(jlist_push(c, seen, k));
        TRY(jlist_push(c, l, items->v[i]));
    }
    *out = list_val(l, JV_F_GEN);
    return XLLM_OK;
}

static xllm_status f_minmax(jctx *c, jv v, const jargs *a, int want_max, jv *out)
{
    jv *cs = jargs_get(a, 0, "case_sensitive"), *attr = jargs_get(a, 1, "attribute");
    jlist *items;
    TRY(to_list(c, v, &items));
    if (!items->n) {
        *out = jv_undef("No aggregated item, sequence was empty.");
        return XLLM_OK;
    }
    size_t best = 0;
    jv bk;
    TRY(sort_key(c, items->v[0], attr, cs && jv_truthy(*cs), &bk));
    for (size_t i = 1; i < items->n; i++) {
        jv k;
        int cmp;
        TRY(sort_key(c, items->v[i], attr, cs && jv_truthy(*cs), &k));
        TRY(jv_compare(c, k, bk, &cmp));
        if (want_max ? cmp > 0 : cmp < 0) {
            best = i;
            bk = k;
        }
    }
    *out = items->v[best];
    return XLLM_OK;
}
static xllm_status f_max(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)sc; return f_minmax(c, v, a, 1, out); }
static xllm_status f_min(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)sc; return f_minmax(c, v, a, 0, out); }

static xllm_status f_sum(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    (void)sc;
    jv *attr = jargs_get(a, 0, "attribute"), *start = jargs_get(a, 1, "start");
    jlist *items;
    jv acc = start ? *start : jv_int(0);
    TRY(to_list(c, v, &items));
    for (size_t i = 0; i < items->n; i++) {
        jv x = items->v[i];
        if (attr && attr->type != JV_NONE)
            TRY(attr_path(c, x, *attr, &x));
        if (!jv_is_number(x) || !jv_is_number(acc))
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "sum of non-numbers");
        if (acc.type == JV_FLOAT || x.type == JV_FLOAT)
            acc = jv_float(jv_num(acc) + jv_num(x));
        else if (__builtin_add_overflow(acc.type == JV_INT ? acc.u.i : acc.u.b, x.type == JV_INT ? x.u.i : x.u.b,
                                        &acc.u.i))
            return jerr(c, XLLM_ERR_UNSUPPORTED, "integer sum outside 64 bits");
        else
            acc.type = JV_INT;
    }
    *out = acc;
    return XLLM_OK;
}

/* ---- map / select / reject / selectattr / rejectattr ---- */
static xllm_status shift_args(jctx *c, const jargs *a, size_t skip, jargs *out)
{
    *out = *a;
    out->pos = a->pos + (skip < a->npos ? skip : a->npos);
    out->npos = a->npos > skip ? a->npos - skip : 0;
    (void)c;
    return XLLM_OK;
}

static xllm_status f_map(jctx *c, jv v, const jargs *a, jscope *sc, jv *out)
{
    jlist *items, *l;
    jv *attr = jargs_get(a, 99, "attribute"), *dflt = jargs_get(a, 99, "default");
    TRY(to_list(c, v, &items));
    if (!(l = jlist_new(c, items->n)))
        return XLLM_ERR_LIMIT;
    if (attr) {
        for (size_t i = 0; i < items->n; i++) {
            jv x;
            TRY(attr_path(c, items->v[i], *attr, &x));
            l->v[l->n++] = x.type == JV_UNDEF && dflt ? *dflt : x;
        }
    } else if (items->n) { /* Jinja2 looks the filter up at the first item */
        if (!a->npos || a->pos[0].type != JV_STR)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "map requires a filter name or attribute=");
        int id = jinja_filter_find(a->pos[0].u.s.p, a->pos[0].u.s.n);
        if (id < 0)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "no filter named '%.*s'", (int)a->pos[0].u.s.n, a->pos[0].u.s.p);
        jargs rest;
        TRY(shift_args(c, a, 1, &rest));
        for (size_t i = 0; i < items->n; i++)
            TRY(jinja_filter_apply(c, id, items->v[i], &rest, sc, &l->v[l->n++]));
    }
    *out = list_val(l, JV_F_GEN);
    return XLLM_OK;
}

static xllm_status select_common(jctx *c, jv v, const jargs *a, int by_attr, int keep_if, jv *out)
{
    jlist *items, *l;
    size_t skip = by_attr ? 1 : 0;
    TRY(to_list(c, v, &items));
    if (!(l = jlist_new(c, 0)))
        return XLLM_ERR_LIMIT;
    if (by_attr && !a->npos)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "selectattr / rejectattr need an attribute");
    int test = -1;
    jargs rest = {0};
    if (a->npos > skip && items->n) { /* looked up at the first item, as Jinja2 does */
        if (a->pos[skip].type != JV_STR)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "the test name must be a string");
        test = jinja_test_find(a->pos[skip].u.s.p, a->pos[skip].u.s.n);
        if (test < 0)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "no test named '%.*s'", (int)a->pos[skip].u.s.n,
                        a->pos[skip].u.s.p);
        TRY(shift_args(c, a, skip + 1, &rest));
    }
    for (size_t i = 0; i < items->n; i++) {
        jv x = items->v[i];
        int t;
        if (by_attr)
            TRY(attr_path(c, x, a->pos[0], &x));
        if (test >= 0)
            TRY(jinja_test_apply(c, test, x, &rest, &t));
        else
            t = jv_truthy(x);
        if (!!t == keep_if)
            TRY(jlist_push(c, l, items->v[i]));
    }
    *out = list_val(l, JV_F_GEN);
    return XLLM_OK;
}
static xllm_status f_select(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)sc; return select_common(c, v, a, 0, 1, out); }
static xllm_status f_reject(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)sc; return select_common(c, v, a, 0, 0, out); }
static xllm_status f_selectattr(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)sc; return select_common(c, v, a, 1, 1, out); }
static xllm_status f_rejectattr(jctx *c, jv v, const jargs *a, jscope *sc, jv *out) { (void)sc; return select_common(c, v, a, 1, 0, out); }

/* ---- table ---- */
typedef struct filter_row {
    const char *name;
    filter_fn fn;       /* NULL: Jinja2 has it, xllm does not */
    const char *params; /* Jinja2's parameter names after the value ("a,b"); NULL: *args, **kwargs */
} filter_row;

static const filter_row filters[] = {
    {"abs", f_abs, ""}, {"attr", f_attr, "name"}, {"batch", f_batch, "linecount,fill_with"},
    {"capitalize", f_capitalize, ""}, {"center", f_center, "width"}, {"count", f_length, ""},
    {"d", f_default, "default_value,boolean"}, {"default", f_default, "default_value,boolean"},
    {"dictsort", f_dictsort, "case_sensitive,by,reverse"}, {"e", f_escape, ""}, {"escape", f_escape, ""},
    {"filesizeformat", NULL, NULL}, {"first", f_first, ""}, {"float", f_float, "default"},
    {"forceescape", f_escape, ""}, {"format", NULL, NULL}, {"groupby", NULL, NULL},
    {"indent", f_indent, "width,first,blank"}, {"int", f_int, "default,base"}, {"items", f_items, ""},
    {"join", f_join, "d,attribute"}, {"last", f_last, ""}, {"length", f_length, ""}, {"list", f_list, ""},
    {"lower", f_lower, ""}, {"map", f_map, NULL}, {"max", f_max, "case_sensitive,attribute"},
    {"min", f_min, "case_sensitive,attribute"}, {"pprint", NULL, NULL}, {"random", NULL, NULL},
    {"reject", f_reject, NULL}, {"rejectattr", f_rejectattr, NULL}, {"replace", f_replace, "old,new,count"},
    {"reverse", f_reverse, ""}, {"round", f_round, "precision,method"}, {"safe", f_safe, ""},
    {"select", f_select, NULL}, {"selectattr", f_selectattr, NULL}, {"slice", NULL, NULL},
    {"sort", f_sort, "reverse,case_sensitive,attribute"}, {"string", f_string, ""}, {"striptags", NULL, NULL},
    {"sum", f_sum, "attribute,start"}, {"title", f_title, ""},
    {"tojson", f_tojson, "ensure_ascii,indent,separators,sort_keys"}, {"trim", f_trim, "chars"},
    {"truncate", NULL, NULL}, {"unique", f_unique, "case_sensitive,attribute"}, {"upper", f_upper, ""},
    {"urlencode", NULL, NULL}, {"urlize", NULL, NULL}, {"wordcount", f_wordcount, ""}, {"wordwrap", NULL, NULL},
    {"xmlattr", NULL, NULL},
};

/* Python's TypeError for arguments the filter's signature does not take. */
static xllm_status check_params(jctx *c, const filter_row *f, const jargs *a)
{
    if (!f->params)
        return XLLM_OK;
    size_t n = 0;
    const char *p = f->params;
    for (const char *q = p; *q; q++)
        n += *q == ',';
    n += *p != 0;
    if (a->npos > n)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%s() takes at most %zu arguments after the value (%zu given)",
                    f->name, n, a->npos);
    for (size_t k = 0; k < a->nkw; k++) {
        int found = 0;
        size_t i = 0;
        for (const char *s = p; *s; i++) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (len == a->kwl[k] && !memcmp(s, a->kwn[k], len)) {
                found = 1;
                if (i < a->npos)
                    return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%s() got multiple values for argument '%.*s'",
                                f->name, (int)len, s);
            }
            s = e ? e + 1 : s + len;
        }
        if (!found)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%s() got an unexpected keyword argument '%.*s'", f->name,
                        (int)a->kwl[k], a->kwn[k]);
    }
    return XLLM_OK;
}

#define NFILTERS (int)(sizeof filters / sizeof *filters)

int jinja_filter_find(const char *name, size_t n)
{
    for (int i = 0; i < NFILTERS; i++)
        if (strlen(filters[i].name) == n && memcmp(filters[i].name, name, n) == 0)
            return i;
    return -1;
}

xllm_status jinja_filter_apply(jctx *c, int id, jv v, const jargs *a, jscope *sc, jv *out)
{
    TRY(jinja_check_step(c));
    if (id < 0 || id >= NFILTERS)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "no filter named '%.*s' found",
                    c->where ? (int)c->where->name_len : 0, c->where ? c->where->name : "");
    if (!filters[id].fn)
        return jerr(c, XLLM_ERR_UNSUPPORTED, "the '%s' filter is not supported by xllm", filters[id].name);
    TRY(check_params(c, &filters[id], a));
    return filters[id].fn(c, v, a, sc, out);
}

/* ---- tests ---- */
enum {
    T_BOOLEAN, T_CALLABLE, T_DEFINED, T_DIVISIBLEBY, T_EQ, T_ESCAPED, T_EVEN, T_FALSE, T_FILTER, T_FLOAT, T_GE,
    T_GT, T_IN, T_INTEGER, T_ITERABLE, T_LE, T_LOWER, T_LT, T_MAPPING, T_NE, T_NONE, T_NUMBER, T_ODD,
    T_SAMEAS, T_SEQUENCE, T_STRING, T_TEST, T_TRUE, T_UNDEFINED, T_UPPER
};

static const struct { const char *name; int id; } tests[] = {
    {"boolean", T_BOOLEAN}, {"callable", T_CALLABLE}, {"defined", T_DEFINED}, {"divisibleby", T_DIVISIBLEBY},
    {"eq", T_EQ}, {"equalto", T_EQ}, {"==", T_EQ}, {"escaped", T_ESCAPED}, {"even", T_EVEN}, {"false", T_FALSE},
    {"filter", T_FILTER}, {"float", T_FLOAT}, {"ge", T_GE}, {">=", T_GE}, {"gt", T_GT}, {"greaterthan", T_GT},
    {">", T_GT}, {"in", T_IN}, {"integer", T_INTEGER}, {"iterable", T_ITERABLE}, {"le", T_LE}, {"<=", T_LE},
    {"lower", T_LOWER}, {"lt", T_LT}, {"lessthan", T_LT}, {"<", T_LT}, {"mapping", T_MAPPING}, {"ne", T_NE},
    {"!=", T_NE}, {"none", T_NONE}, {"number", T_NUMBER}, {"odd", T_ODD}, {"sameas", T_SAMEAS},
    {"sequence", T_SEQUENCE}, {"string", T_STRING}, {"test", T_TEST}, {"true", T_TRUE},
    {"undefined", T_UNDEFINED}, {"upper", T_UPPER},
};

int jinja_test_find(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
        if (strlen(tests[i].name) == n && memcmp(tests[i].name, name, n) == 0)
            return tests[i].id;
    return -1;
}

static xllm_status test_cmp(jctx *c, int id, jv v, jv *o, int *out)
{
    int cmp;
    if (!o)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "the comparison test needs an argument");
    if (id == T_EQ || id == T_NE) {
        *out = jv_equal(v, *o) == (id == T_EQ);
        return XLLM_OK;
    }
    TRY(jv_compare(c, v, *o, &cmp));
    *out = id == T_GE ? cmp >= 0 : id == T_GT ? cmp > 0 : id == T_LE ? cmp <= 0 : cmp < 0;
    return XLLM_OK;
}

/* Arguments a test takes after the value (Jinja2's signatures). */
static size_t test_arity(int id)
{
    switch (id) {
    case T_DIVISIBLEBY: case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT: case T_GE: case T_IN:
    case T_SAMEAS: return 1;
    default: return 0;
    }
}

xllm_status jinja_test_apply(jctx *c, int id, jv v, const jargs *a, int *out)
{
    jv *o = jargs_get(a, 0, NULL);
    TRY(jinja_check_step(c));
    if (id >= 0 && (a->npos + a->nkw != test_arity(id) || a->nkw))
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "the test takes %zu argument(s), %zu given", test_arity(id),
                    a->npos + a->nkw);
    switch (id) {
    case T_BOOLEAN: *out = v.type == JV_BOOL; return XLLM_OK;
    case T_CALLABLE:
        *out = v.type == JV_MACRO || v.type == JV_FUNC || v.type == JV_METHOD || v.type == JV_JOINER ||
               v.type == JV_UNDEF || v.type == JV_LOOP; /* Undefined and LoopContext have __call__ */
        return XLLM_OK;
    case T_DEFINED: *out = v.type != JV_UNDEF; return XLLM_OK;
    case T_UNDEFINED: *out = v.type == JV_UNDEF; return XLLM_OK;
    case T_NONE: *out = v.type == JV_NONE; return XLLM_OK;
    case T_TRUE: *out = v.type == JV_BOOL && v.u.b; return XLLM_OK;
    case T_FALSE: *out = v.type == JV_BOOL && !v.u.b; return XLLM_OK;
    case T_STRING: *out = v.type == JV_STR; return XLLM_OK;
    case T_MAPPING: *out = v.type == JV_DICT; return XLLM_OK;
    case T_NUMBER: *out = jv_is_number(v); return XLLM_OK;
    case T_INTEGER: *out = v.type == JV_INT; return XLLM_OK;
    case T_FLOAT: *out = v.type == JV_FLOAT; return XLLM_OK;
    case T_ITERABLE:
        *out = v.type == JV_STR || v.type == JV_LIST || v.type == JV_DICT || v.type == JV_UNDEF || v.type == JV_LOOP;
        return XLLM_OK;
    case T_SEQUENCE:
        *out = v.type == JV_STR || (v.type == JV_LIST && !(v.flags & JV_F_GEN)) || v.type == JV_DICT ||
               v.type == JV_UNDEF;
        return XLLM_OK;
    case T_EVEN:
    case T_ODD:
    case T_DIVISIBLEBY: {
        if (v.type != JV_INT && v.type != JV_BOOL && v.type != JV_FLOAT)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%s test of a %s", id == T_DIVISIBLEBY ? "divisibleby" : "even/odd",
                        jv_type_name(v));
        if (v.type == JV_FLOAT)
            return jerr(c, XLLM_ERR_UNSUPPORTED, "even / odd / divisibleby on floats");
        int64_t x = v.type == JV_INT ? v.u.i : v.u.b, d = 2;
        if (id == T_DIVISIBLEBY) {
            if (!o || o->type != JV_INT || o->u.i == 0)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "divisibleby needs a non-zero integer");
            d = o->u.i;
        }
        int64_t m = d == -1 ? 0 : x % d;
        *out = id == T_ODD ? m != 0 : m == 0;
        return XLLM_OK;
    }
    case T_LOWER:
    case T_UPPER: {
        jv s;
        TRY(jv_to_str(c, v, &s));
        *out = jstr_is(s, id == T_LOWER ? JCLS_LOWER : JCLS_UPPER);
        return XLLM_OK;
    }
    case T_IN: {
        if (!o)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "the in test needs a container");
        jlist *items;
        if (o->type == JV_STR) {
            if (v.type != JV_STR)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'in <string>' requires string as left operand");
            *out = !v.u.s.n || memmem(o->u.s.p, o->u.s.n, v.u.s.p, v.u.s.n) != NULL;
            return XLLM_OK;
        }
        if (o->type == JV_DICT) {
            *out = jdict_get(o->u.d, v) != NULL;
            return XLLM_OK;
        }
        TRY(jinja_iterate(c, *o, &items));
        *out = 0;
        for (size_t i = 0; i < items->n && !*out; i++)
            *out = jv_equal(items->v[i], v);
        return XLLM_OK;
    }
    case T_SAMEAS:
        if (!o)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "sameas needs an argument");
        if (v.type != o->type)
            *out = 0;
        else if (v.type == JV_NONE || v.type == JV_BOOL)
            *out = jv_equal(v, *o);
        else if (v.type == JV_LIST || v.type == JV_DICT || v.type == JV_NS)
            *out = v.u.ptr == o->u.ptr;
        else
            return jerr(c, XLLM_ERR_UNSUPPORTED, "sameas on %s values (Python object identity)", jv_type_name(v));
        return XLLM_OK;
    case T_FILTER:
    case T_TEST:
        if (v.type != JV_STR)
            *out = 0;
        else
            *out = (id == T_FILTER ? jinja_filter_find(v.u.s.p, v.u.s.n) : jinja_test_find(v.u.s.p, v.u.s.n)) >= 0;
        return XLLM_OK;
    case T_ESCAPED: return jerr(c, XLLM_ERR_UNSUPPORTED, "the escaped test (Markup strings)");
    case -1:
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "no test named '%.*s' found", c->where ? (int)c->where->name_len : 0,
                    c->where ? c->where->name : "");
    default: return test_cmp(c, id, v, o, out);
    }
}
