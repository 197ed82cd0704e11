/* jinja_eval.c - renders the syntax tree: scopes (a fresh scope per loop iteration,
 * as Jinja2 has), statements, expressions with Python operators, macros and call
 * blocks, Undefined as Jinja2's default Undefined, and the step / depth / output
 * limits. The public entry points xllm_jinja_parse / render are here too. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "template/jinja_impl.h"

struct xllm_jinja {
    jarena arena;
    char *src;
    jnode *root;
};

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

xllm_status jerr(jctx *c, xllm_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c && c->where)
        return xllm_fail(st, "template error at line %d, column %d: %s", c->where->line, c->where->col, msg);
    return xllm_fail(st, "template error: %s", msg);
}

xllm_status jinja_check_step(jctx *c)
{
    if (++c->steps > XLLM_JINJA_MAX_STEPS)
        return jerr(c, XLLM_ERR_LIMIT, "template ran more than %u steps (XLLM_JINJA_MAX_STEPS)",
                    XLLM_JINJA_MAX_STEPS);
    return XLLM_OK;
}

/* ---- scopes ---- */
static jscope *scope_new(jctx *c, jscope *parent)
{
    jscope *s = jarena_alloc(&c->arena, sizeof *s);
    if (s) {
        memset(s, 0, sizeof *s);
        s->parent = parent;
    }
    return s;
}

static jv *scope_find(jscope *s, const char *name, size_t n)
{
    for (; s; s = s->parent)
        for (size_t i = s->n; i-- > 0;)
            if (s->lens[i] == n && memcmp(s->names[i], name, n) == 0)
                return &s->vals[i];
    return NULL;
}

static xllm_status scope_set(jctx *c, jscope *s, const char *name, size_t n, jv v)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->lens[i] == n && memcmp(s->names[i], name, n) == 0) {
            s->vals[i] = v;
            return XLLM_OK;
        }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        const char **nn = jarena_alloc(&c->arena, ncap * sizeof *nn);
        size_t *nl = jarena_alloc(&c->arena, ncap * sizeof *nl);
        jv *nv = jarena_alloc(&c->arena, ncap * sizeof *nv);
        if (!nn || !nl || !nv)
            return XLLM_ERR_LIMIT;
        if (s->n) {
            memcpy(nn, s->names, s->n * sizeof *nn);
            memcpy(nl, s->lens, s->n * sizeof *nl);
            memcpy(nv, s->vals, s->n * sizeof *nv);
        }
        s->names = nn;
        s->lens = nl;
        s->vals = nv;
        s->cap = ncap;
    }
    s->names[s->n] = name;
    s->lens[s->n] = n;
    s->vals[s->n++] = v;
    return XLLM_OK;
}

static void scope_capture(jscope *s)
{
    for (; s && !s->captured; s = s->parent)
        s->captured = 1;
}

/* ---- output ---- */
static xllm_status out_append(jctx *c, const char *p, size_t n)
{
    if (n > XLLM_JINJA_MAX_OUTPUT || c->out->len + n > c->out_base + XLLM_JINJA_MAX_OUTPUT)
        return jerr(c, XLLM_ERR_LIMIT, "template output larger than %u bytes (XLLM_JINJA_MAX_OUTPUT)",
                    XLLM_JINJA_MAX_OUTPUT);
    return xllm_buf_append(c->out, p, n);
}

static xllm_status out_value(jctx *c, jv v)
{
    if (v.type == JV_STR)
        return out_append(c, v.u.s.p, v.u.s.n);
    size_t before = c->out->len;
    TRY(jv_str_append(c, v, c->out));
    if (c->out->len > c->out_base + XLLM_JINJA_MAX_OUTPUT) {
        c->out->len = before;
        return jerr(c, XLLM_ERR_LIMIT, "template output larger than %u bytes (XLLM_JINJA_MAX_OUTPUT)",
                    XLLM_JINJA_MAX_OUTPUT);
    }
    return XLLM_OK;
}

static xllm_status exec_body(jctx *c, const jnode *n, jscope *sc);

/* Render body into a new string value (block set, filter blocks, macro calls). */
static xllm_status capture(jctx *c, const jnode *body, jscope *sc, jv *out)
{
    xllm_buf tmp, *saved = c->out;
    size_t saved_base = c->out_base;
    xllm_buf_init(&tmp, XLLM_JINJA_MAX_OUTPUT);
    c->out = &tmp;
    c->out_base = 0;
    xllm_status st = exec_body(c, body, sc);
    c->out = saved;
    c->out_base = saved_base;
    if (!st) {
        char *p = jarena_strndup(&c->arena, tmp.data ? tmp.data : "", tmp.len);
        if (!p)
            st = XLLM_ERR_LIMIT;
        else
            *out = jv_str(p, tmp.len);
    }
    xllm_buf_free(&tmp);
    return st;
}

/* ---- expressions ---- */
static xllm_status undefined_error(jctx *c, jv u)
{
    if (u.u.s.p)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%.*s", (int)u.u.s.n, u.u.s.p);
    return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "undefined value");
}

static const char *hint_name(jctx *c, const char *name, size_t n)
{
    char *h = jarena_alloc(&c->arena, n + 20);
    if (h)
        snprintf(h, n + 20, "'%.*s' is undefined", (int)n, name);
    return h;
}

/* Evaluate a call's arguments into stack[0..JARGS_STACK) when they fit (callees copy
 * what they keep), else into the arena. */
#define JARGS_STACK 8
static xllm_status eval_args(jctx *c, const jnode *n, jscope *sc, jv *stack, jv **pos, jv **kw)
{
    *pos = *kw = NULL;
    if (n->nargs + n->nkw <= JARGS_STACK) {
        *pos = stack;
        *kw = stack + n->nargs;
        for (size_t i = 0; i < n->nargs; i++)
            TRY(jinja_eval(c, n->args[i], sc, &stack[i]));
        for (size_t i = 0; i < n->nkw; i++)
            TRY(jinja_eval(c, n->kwargs[i], sc, &stack[n->nargs + i]));
        return XLLM_OK;
    }
    if (n->nargs) {
        *pos = jarena_alloc(&c->arena, n->nargs * sizeof(jv));
        if (!*pos)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < n->nargs; i++)
            TRY(jinja_eval(c, n->args[i], sc, &(*pos)[i]));
    }
    if (n->nkw) {
        *kw = jarena_alloc(&c->arena, (n->nkw + 1) * sizeof(jv));
        if (!*kw)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < n->nkw; i++)
            TRY(jinja_eval(c, n->kwargs[i], sc, &(*kw)[i]));
    }
    return XLLM_OK;
}

static xllm_status int_overflow(jctx *c)
{
    return jerr(c, XLLM_ERR_UNSUPPORTED, "integer result outside 64 bits (Python's big integers are not supported)");
}

static int64_t as_int(jv v) { return v.type == JV_BOOL ? v.u.b : v.u.i; }

static xllm_status repeat_seq(jctx *c, jv seq, int64_t times, jv *out)
{
    if (times < 0)
        times = 0;
    if (seq.type == JV_STR) {
        if (seq.u.s.n && (uint64_t)times > XLLM_JINJA_MAX_OUTPUT / seq.u.s.n)
            return jerr(c, XLLM_ERR_LIMIT, "string repetition larger than %u bytes", XLLM_JINJA_MAX_OUTPUT);
        size_t n = seq.u.s.n * (size_t)times;
        char *p = jarena_alloc(&c->arena, n + 1);
        if (!p)
            return XLLM_ERR_LIMIT;
        for (int64_t i = 0; i < times; i++)
            memcpy(p + (size_t)i * seq.u.s.n, seq.u.s.p, seq.u.s.n);
        *out = jv_str(p, n);
        return XLLM_OK;
    }
    if (seq.u.l->n && (uint64_t)times > XLLM_JINJA_MAX_RANGE * 10ull / seq.u.l->n)
        return jerr(c, XLLM_ERR_LIMIT, "list repetition too large");
    jlist *l = jlist_new(c, seq.u.l->n * (size_t)times);
    if (!l)
        return XLLM_ERR_LIMIT;
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq.u.l->n; k++)
            l->v[l->n++] = seq.u.l->v[k];
    *out = (jv){.type = JV_LIST, .flags = seq.flags, .u.l = l};
    return XLLM_OK;
}

static xllm_status concat_str(jctx *c, jv a, jv b, jv *out)
{
    size_t n = a.u.s.n + b.u.s.n;
    char *p = jarena_alloc(&c->arena, n + 1);
    if (!p)
        return XLLM_ERR_LIMIT;
    memcpy(p, a.u.s.p, a.u.s.n);
    memcpy(p + a.u.s.n, b.u.s.p, b.u.s.n);
    p[n] = 0;
    *out = jv_str(p, n);
    return XLLM_OK;
}

static double py_fmod(double a, double b)
{
    double m = fmod(a, b);
    if (m != 0 && ((m < 0) != (b < 0)))
        m += b;
    return m;
}

static xllm_status binary(jctx *c, int op, jv a, jv b, jv *out)
{
    if (op == '~') {
        jv sa, sb;
        TRY(jv_to_str(c, a, &sa));
        TRY(jv_to_str(c, b, &sb));
        return concat_str(c, sa, sb, out);
    }
    if (a.type == JV_UNDEF)
        return undefined_error(c, a);
    if (b.type == JV_UNDEF)
        return undefined_error(c, b);
    int ints = (a.type == JV_INT || a.type == JV_BOOL) && (b.type == JV_INT || b.type == JV_BOOL);
    if (jv_is_number(a) && jv_is_number(b)) {
        int64_t x = as_int(a), y = as_int(b), r;
        double fx = jv_num(a), fy = jv_num(b);
        switch (op) {
        case '+':
            if (!ints)
                break;
            if (__builtin_add_overflow(x, y, &r))
                return int_overflow(c);
            *out = jv_int(r);
            return XLLM_OK;
        case '-':
            if (!ints)
                break;
            if (__builtin_sub_overflow(x, y, &r))
                return int_overflow(c);
            *out = jv_int(r);
            return XLLM_OK;
        case '*':
            if (!ints)
                break;
            if (__builtin_mul_overflow(x, y, &r))
                return int_overflow(c);
            *out = jv_int(r);
            return XLLM_OK;
        case '/':
            if (fy == 0)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "division by zero");
            *out = jv_float(fx / fy);
            return XLLM_OK;
        case 'F':
        case '%':
            if (ints) {
                if (y == 0)
                    return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1)
                    return int_overflow(c);
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    q--;
                    m += y;
                }
                *out = jv_int(op == 'F' ? q : m);
                return XLLM_OK;
            }
            if (fy == 0)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "float division or modulo by zero");
            *out = jv_float(op == 'F' ? floor(fx / fy) : py_fmod(fx, fy));
            return XLLM_OK;
        case 'P':
            if (ints && y >= 0) {
                int64_t acc = 1;
                for (int64_t i = 0; i < y; i++) {
                    if (__builtin_mul_overflow(acc, x, &acc))
                        return int_overflow(c);
                    if (acc == 0 || acc == 1)
                        break;
                }
                if (acc == 1 && x == -1 && (y & 1))
                    acc = -1;
                *out = jv_int(acc);
                return XLLM_OK;
            }
            if (fx == 0 && fy < 0)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "0.0 cannot be raised to a negative power");
            if (fx < 0 && fy != floor(fy))
                return jerr(c, XLLM_ERR_UNSUPPORTED, "a negative number to a fractional power (a complex number)");
            *out = jv_float(pow(fx, fy));
            return XLLM_OK;
        }
        switch (op) {
        case '+': *out = jv_float(fx + fy); return XLLM_OK;
        case '-': *out = jv_float(fx - fy); return XLLM_OK;
        case '*': *out = jv_float(fx * fy); return XLLM_OK;
        }
    }
    if (op == '+' && a.type == JV_STR && b.type == JV_STR)
        return concat_str(c, a, b, out);
    if (op == '+' && a.type == JV_LIST && b.type == JV_LIST && (a.flags & JV_F_TUPLE) == (b.flags & JV_F_TUPLE)) {
        jlist *l = jlist_new(c, a.u.l->n + b.u.l->n);
        if (!l)
            return XLLM_ERR_LIMIT;
        memcpy(l->v, a.u.l->v, a.u.l->n * sizeof(jv));
        memcpy(l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(jv));
        l->n = a.u.l->n + b.u.l->n;
        *out = (jv){.type = JV_LIST, .flags = a.flags, .u.l = l};
        return XLLM_OK;
    }
    if (op == '*' && (a.type == JV_STR || a.type == JV_LIST) && (b.type == JV_INT || b.type == JV_BOOL))
        return repeat_seq(c, a, as_int(b), out);
    if (op == '*' && (b.type == JV_STR || b.type == JV_LIST) && (a.type == JV_INT || a.type == JV_BOOL))
        return repeat_seq(c, b, as_int(a), out);
    if (op == '%' && a.type == JV_STR)
        return jerr(c, XLLM_ERR_UNSUPPORTED, "printf-style string formatting with '%%'");
    static const char *const names[] = {['+'] = "+", ['-'] = "-", ['*'] = "*", ['/'] = "/", ['F'] = "//",
                                        ['%'] = "%", ['P'] = "**"};
    return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "unsupported operand type(s) for %s: '%s' and '%s'", names[op],
                jv_type_name(a), jv_type_name(b));
}

static xllm_status contains(jctx *c, jv needle, jv hay, int *out)
{
    switch (hay.type) {
    case JV_STR:
        if (needle.type != JV_STR)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'in <string>' requires string as left operand, not %s",
                        jv_type_name(needle));
        *out = needle.u.s.n == 0 || memmem(hay.u.s.p, hay.u.s.n, needle.u.s.p, needle.u.s.n) != NULL;
        return XLLM_OK;
    case JV_LIST:
        *out = 0;
        for (size_t i = 0; i < hay.u.l->n && !*out; i++)
            *out = jv_equal(hay.u.l->v[i], needle);
        return XLLM_OK;
    case JV_DICT:
    case JV_NS: *out = jdict_get(hay.u.d, needle) != NULL; return XLLM_OK;
    case JV_UNDEF: *out = 0; return XLLM_OK;
    default:
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "argument of type '%s' is not iterable", jv_type_name(hay));
    }
}

static xllm_status compare(jctx *c, int op, jv a, jv b, int *out)
{
    int cmp;
    switch (op) {
    case JC_EQ: *out = jv_equal(a, b); return XLLM_OK;
    case JC_NE: *out = !jv_equal(a, b); return XLLM_OK;
    case JC_IN: return contains(c, a, b, out);
    case JC_NOTIN: TRY(contains(c, a, b, out)); *out = !*out; return XLLM_OK;
    }
    if (a.type == JV_UNDEF)
        return undefined_error(c, a);
    if (b.type == JV_UNDEF)
        return undefined_error(c, b);
    if ((a.type == JV_FLOAT && isnan(a.u.f)) || (b.type == JV_FLOAT && isnan(b.u.f))) {
        *out = 0;
        return XLLM_OK;
    }
    TRY(jv_compare(c, a, b, &cmp));
    *out = op == JC_LT ? cmp < 0 : op == JC_LE ? cmp <= 0 : op == JC_GT ? cmp > 0 : cmp >= 0;
    return XLLM_OK;
}

static xllm_status eval_slice(jctx *c, jv obj, jv *parts, jv *out)
{
    int64_t n, idx[3] = {0, 0, 1};
    int has[3];
    if (obj.type == JV_UNDEF)
        return undefined_error(c, obj);
    if (obj.type != JV_STR && obj.type != JV_LIST)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'%s' object is not subscriptable", jv_type_name(obj));
    n = obj.type == JV_STR ? (int64_t)utf8_count(obj.u.s.p, obj.u.s.n) : (int64_t)obj.u.l->n;
    for (int i = 0; i < 3; i++) {
        if (parts[i].type == JV_UNDEF)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "slice indices must be integers or None");
        has[i] = parts[i].type != JV_NONE;
        if (has[i] && parts[i].type != JV_INT && parts[i].type != JV_BOOL)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "slice indices must be integers or None");
        if (has[i])
            idx[i] = as_int(parts[i]);
    }
    int64_t step = has[2] ? idx[2] : 1;
    if (step == 0)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "slice step cannot be zero");
    int64_t lo = step < 0 ? -1 : 0, hi = step < 0 ? n - 1 : n;
    int64_t start = has[0] ? idx[0] : (step < 0 ? hi : lo), stop = has[1] ? idx[1] : (step < 0 ? lo : hi);
    if (has[0]) {
        if (start < 0)
            start = start + n < lo ? lo : start + n;
        else if (start > hi)
            start = hi;
    }
    if (has[1]) {
        if (stop < 0)
            stop = stop + n < lo ? lo : stop + n;
        else if (stop > hi)
            stop = hi;
    }
    if (obj.type == JV_LIST) {
        jlist *l = jlist_new(c, 0);
        if (!l)
            return XLLM_ERR_LIMIT;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            TRY(jlist_push(c, l, obj.u.l->v[i]));
        *out = (jv){.type = JV_LIST, .flags = obj.flags, .u.l = l};
        return XLLM_OK;
    }
    if (step == 1) {
        size_t b = utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)start);
        size_t e = stop > start ? utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)stop) : b;
        *out = jv_str(obj.u.s.p + b, e - b);
        return XLLM_OK;
    }
    char *p = jarena_alloc(&c->arena, obj.u.s.n + 1);
    size_t k = 0;
    if (!p)
        return XLLM_ERR_LIMIT;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        size_t b = utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
        size_t e = utf8_offset(obj.u.s.p + b, obj.u.s.n - b, 1) + b;
        memcpy(p + k, obj.u.s.p + b, e - b);
        k += e - b;
    }
    p[k] = 0;
    *out = jv_str(p, k);
    return XLLM_OK;
}

static xllm_status eval_filter(jctx *c, const jnode *n, jscope *sc, jv in, jv *out)
{
    jargs a = {0};
    jv *pos, *kw, stack[JARGS_STACK];
    TRY(eval_args(c, n, sc, stack, &pos, &kw));
    a.pos = pos;
    a.npos = n->nargs;
    a.kwn = n->kwnames;
    a.kwl = n->kwlens;
    a.kwv = kw;
    a.nkw = n->nkw;
    c->where = n;
    return jinja_filter_apply(c, n->filter_id, in, &a, sc, out);
}

xllm_status jinja_eval(jctx *c, const jnode *n, jscope *sc, jv *out)
{
    jv a, b;
    int t;
    TRY(jinja_check_step(c));
    c->where = n;
    switch (n->kind) {
    case JN_LITERAL: *out = n->lit; return XLLM_OK;
    case JN_NAME: {
        jv *v = scope_find(sc, n->name, n->name_len);
        if (v) {
            *out = *v;
            return XLLM_OK;
        }
        if (jinja_global_find(n->name, n->name_len, out))
            return XLLM_OK;
        *out = jv_undef(hint_name(c, n->name, n->name_len));
        return XLLM_OK;
    }
    case JN_CAPTURE: *out = c->capture; return XLLM_OK;
    case JN_GETATTR:
        TRY(jinja_eval(c, n->a, sc, &a));
        c->where = n;
        if (a.type == JV_UNDEF)
            return undefined_error(c, a);
        return jinja_getattr(c, a, n->name, n->name_len, out);
    case JN_GETITEM:
        TRY(jinja_eval(c, n->a, sc, &a));
        TRY(jinja_eval(c, n->b, sc, &b));
        c->where = n;
        if (a.type == JV_UNDEF)
            return undefined_error(c, a);
        return jinja_getitem(c, a, b, out);
    case JN_SLICE: {
        jv parts[3] = {jv_none(), jv_none(), jv_none()};
        TRY(jinja_eval(c, n->a, sc, &a));
        if (n->b)
            TRY(jinja_eval(c, n->b, sc, &parts[0]));
        if (n->c)
            TRY(jinja_eval(c, n->c, sc, &parts[1]));
        if (n->d)
            TRY(jinja_eval(c, n->d, sc, &parts[2]));
        c->where = n;
        return eval_slice(c, a, parts, out);
    }
    case JN_CALL: {
        jv *pos, *kw, stack[JARGS_STACK];
        TRY(jinja_eval(c, n->a, sc, &a));
        TRY(eval_args(c, n, sc, stack, &pos, &kw));
        c->where = n;
        return jinja_call(c, a, pos, n->nargs, n->kwnames, n->kwlens, kw, n->nkw, out);
    }
    case JN_FILTER:
        TRY(jinja_eval(c, n->a, sc, &a));
        return eval_filter(c, n, sc, a, out);
    case JN_TEST: {
        jargs ar = {0};
        jv *pos, *kw, stack[JARGS_STACK];
        TRY(jinja_eval(c, n->a, sc, &a));
        TRY(eval_args(c, n, sc, stack, &pos, &kw));
        ar.pos = pos;
        ar.npos = n->nargs;
        ar.kwn = n->kwnames;
        ar.kwl = n->kwlens;
        ar.kwv = kw;
        ar.nkw = n->nkw;
        c->where = n;
        TRY(jinja_test_apply(c, n->filter_id, a, &ar, &t));
        *out = jv_bool(n->op ? !t : t);
        return XLLM_OK;
    }
    case JN_UNARY:
        TRY(jinja_eval(c, n->a, sc, &a));
        c->where = n;
        if (n->op == 'n') {
            *out = jv_bool(!jv_truthy(a));
            return XLLM_OK;
        }
        if (a.type == JV_UNDEF)
            return undefined_error(c, a);
        if (!jv_is_number(a))
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "bad operand type for unary %c: '%s'", n->op, jv_type_name(a));
        if (n->op == '+') {
            *out = a.type == JV_BOOL ? jv_int(a.u.b) : a;
        } else if (a.type == JV_FLOAT) {
            *out = jv_float(-a.u.f);
        } else {
            if (as_int(a) == INT64_MIN)
                return int_overflow(c);
            *out = jv_int(-as_int(a));
        }
        return XLLM_OK;
    case JN_BINARY:
        TRY(jinja_eval(c, n->a, sc, &a));
        TRY(jinja_eval(c, n->b, sc, &b));
        c->where = n;
        return binary(c, n->op, a, b, out);
    case JN_AND:
    case JN_OR:
        TRY(jinja_eval(c, n->a, sc, &a));
        if (jv_truthy(a) == (n->kind == JN_OR)) {
            *out = a;
            return XLLM_OK;
        }
        return jinja_eval(c, n->b, sc, out);
    case JN_COMPARE:
        TRY(jinja_eval(c, n->a, sc, &a));
        for (size_t i = 0; i < n->nargs; i++) {
            TRY(jinja_eval(c, n->args[i], sc, &b));
            c->where = n;
            TRY(compare(c, n->ops[i], a, b, &t));
            if (!t) {
                *out = jv_bool(0);
                return XLLM_OK;
            }
            a = b;
        }
        *out = jv_bool(1);
        return XLLM_OK;
    case JN_COND:
        TRY(jinja_eval(c, n->a, sc, &a));
        if (jv_truthy(a))
            return jinja_eval(c, n->b, sc, out);
        if (n->c)
            return jinja_eval(c, n->c, sc, out);
        *out = jv_undef("the inline if-expression evaluated to false and no else section was defined");
        return XLLM_OK;
    case JN_LIST:
    case JN_TUPLE: {
        jlist *l = jlist_new(c, n->nargs);
        if (!l)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < n->nargs; i++)
            TRY(jinja_eval(c, n->args[i], sc, &l->v[l->n++]));
        *out = (jv){.type = JV_LIST, .flags = n->kind == JN_TUPLE ? JV_F_TUPLE : 0, .u.l = l};
        return XLLM_OK;
    }
    case JN_DICT: {
        jdict *d = jdict_new(c, n->nargs / 2);
        if (!d)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i + 1 < n->nargs; i += 2) {
            TRY(jinja_eval(c, n->args[i], sc, &a));
            TRY(jinja_eval(c, n->args[i + 1], sc, &b));
            if (a.type == JV_LIST && !(a.flags & JV_F_TUPLE))
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "unhashable type: 'list'");
            if (a.type == JV_DICT)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "unhashable type: '%s'", jv_type_name(a));
            TRY(jdict_set(c, d, a, b));
        }
        *out = (jv){.type = JV_DICT, .u.d = d};
        return XLLM_OK;
    }
    default: return jerr(c, XLLM_ERR_INTERNAL, "statement node in an expression");
    }
}

/* ---- macros ---- */
static int uses_name(const jnode *n, const char *name, int depth)
{
    size_t len = strlen(name);
    if (!n || depth > XLLM_JINJA_MAX_DEPTH)
        return 0;
    for (; n; n = n->next) {
        if (n->kind == JN_NAME && n->name_len == len && memcmp(n->name, name, len) == 0)
            return 1;
        if (uses_name(n->a, name, depth + 1) || uses_name(n->b, name, depth + 1) ||
            uses_name(n->c, name, depth + 1) || uses_name(n->d, name, depth + 1) ||
            uses_name(n->body, name, depth + 1))
            return 1;
        for (size_t i = 0; i < n->nargs; i++)
            if (uses_name(n->args[i], name, depth + 1))
                return 1;
        for (size_t i = 0; i < n->nkw; i++)
            if (uses_name(n->kwargs[i], name, depth + 1))
                return 1;
    }
    return 0;
}

static xllm_status call_macro(jctx *c, jmacro *m, jv *args, size_t nargs, const char **kwn, const size_t *kwl,
                              jv *kwv, size_t nkw, jv *out)
{
    const jnode *d = m->def;
    jscope *sc = scope_new(c, m->closure);
    jlist *extra = jlist_new(c, 0);
    jdict *kwextra = jdict_new(c, 0);
    if (!sc || !extra || !kwextra)
        return XLLM_ERR_LIMIT;
    if (c->depth >= XLLM_JINJA_MAX_DEPTH)
        return jerr(c, XLLM_ERR_LIMIT, "macro calls nested deeper than %d (XLLM_JINJA_MAX_DEPTH)",
                    XLLM_JINJA_MAX_DEPTH);
    int *set = jarena_alloc(&c->arena, (d->nnames + 1) * sizeof *set);
    if (!set)
        return XLLM_ERR_LIMIT;
    memset(set, 0, (d->nnames + 1) * sizeof *set);
    for (size_t i = 0; i < nargs; i++) {
        if (i < d->nnames) {
            TRY(scope_set(c, sc, d->names[i], d->name_lens[i], args[i]));
            set[i] = 1;
        } else {
            TRY(jlist_push(c, extra, args[i]));
        }
    }
    jv caller = {.type = JV_UNDEF};
    for (size_t k = 0; k < nkw; k++) {
        size_t i;
        for (i = 0; i < d->nnames; i++)
            if (d->name_lens[i] == kwl[k] && memcmp(d->names[i], kwn[k], kwl[k]) == 0)
                break;
        if (i < d->nnames) {
            if (set[i])
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "macro '%.*s' got multiple values for argument '%.*s'",
                            (int)d->name_len, d->name, (int)kwl[k], kwn[k]);
            TRY(scope_set(c, sc, d->names[i], d->name_lens[i], kwv[k]));
            set[i] = 1;
        } else if (kwl[k] == 6 && memcmp(kwn[k], "caller", 6) == 0) {
            caller = kwv[k];
        } else {
            TRY(jdict_set(c, kwextra, jv_str(kwn[k], kwl[k]), kwv[k]));
        }
    }
    if (extra->n && !uses_name(d->body, "varargs", 0))
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "macro '%.*s' takes not more than %zu argument(s)",
                    (int)d->name_len, d->name, d->nnames);
    if (kwextra->n && !uses_name(d->body, "kwargs", 0))
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "macro '%.*s' takes no keyword argument '%.*s'",
                    (int)d->name_len, d->name, (int)kwextra->k[0].u.s.n, kwextra->k[0].u.s.p);
    for (size_t i = 0; i < d->nnames; i++) {
        if (set[i])
            continue;
        jv v = jv_undef(NULL);
        if (i < d->nargs && d->args[i])
            TRY(jinja_eval(c, d->args[i], sc, &v));
        else
            v = jv_undef(hint_name(c, d->names[i], d->name_lens[i]));
        TRY(scope_set(c, sc, d->names[i], d->name_lens[i], v));
    }
    TRY(scope_set(c, sc, "varargs", 7, (jv){.type = JV_LIST, .flags = JV_F_TUPLE, .u.l = extra}));
    TRY(scope_set(c, sc, "kwargs", 6, (jv){.type = JV_DICT, .u.d = kwextra}));
    if (caller.type != JV_UNDEF)
        TRY(scope_set(c, sc, "caller", 6, caller));
    c->depth++;
    int saved_ctrl = c->ctrl;
    c->ctrl = JCTRL_NONE;
    xllm_status st = capture(c, d->body, sc, out);
    c->ctrl = saved_ctrl;
    c->depth--;
    return st;
}

xllm_status jinja_call(jctx *c, jv fn, jv *args, size_t nargs, const char **kwn, const size_t *kwl, jv *kwv,
                       size_t nkw, jv *out)
{
    jargs a = {args, nargs, kwn, kwl, kwv, nkw};
    switch (fn.type) {
    case JV_MACRO: return call_macro(c, fn.u.ptr, args, nargs, kwn, kwl, kwv, nkw, out);
    case JV_FUNC:
    case JV_JOINER: return jinja_global_call(c, fn, &a, out);
    case JV_METHOD: return jinja_method_call(c, fn, &a, out);
    case JV_UNDEF: return undefined_error(c, fn);
    default: return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'%s' object is not callable", jv_type_name(fn));
    }
}

/* ---- statements ---- */
static xllm_status assign_names(jctx *c, jscope *sc, const char **names, const size_t *lens, size_t n, jv v)
{
    if (n == 1)
        return scope_set(c, sc, names[0], lens[0], v);
    jlist *items;
    if (v.type == JV_LIST) {
        items = v.u.l;
    } else {
        TRY(jinja_iterate(c, v, &items));
    }
    if (items->n != n)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%s values to unpack (expected %zu, got %zu)",
                    items->n < n ? "not enough" : "too many", n, items->n);
    for (size_t i = 0; i < n; i++)
        TRY(scope_set(c, sc, names[i], lens[i], items->v[i]));
    return XLLM_OK;
}

static xllm_status exec_for(jctx *c, const jnode *n, jscope *sc)
{
    jv it;
    jlist *items;
    TRY(jinja_eval(c, n->a, sc, &it));
    c->where = n;
    if (it.type == JV_UNDEF) {
        items = jlist_new(c, 0);
        if (!items)
            return XLLM_ERR_LIMIT;
    } else {
        TRY(jinja_iterate(c, it, &items));
    }
    if (n->b) { /* {% for x in xs if cond %}: loop.* counts only the kept items */
        jlist *kept = jlist_new(c, items->n);
        if (!kept)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < items->n; i++) {
            jscope *fs = scope_new(c, sc);
            jv cond;
            if (!fs)
                return XLLM_ERR_LIMIT;
            TRY(assign_names(c, fs, n->names, n->name_lens, n->nnames, items->v[i]));
            TRY(jinja_eval(c, n->b, fs, &cond));
            if (jv_truthy(cond))
                kept->v[kept->n++] = items->v[i];
        }
        items = kept;
    }
    jloop *lp = jarena_alloc(&c->arena, sizeof *lp);
    if (!lp)
        return XLLM_ERR_LIMIT;
    memset(lp, 0, sizeof *lp);
    lp->items = items;
    lp->depth = 1; /* only recursive loops (not supported) go deeper */
    jscope *is = NULL;
    for (size_t i = 0; i < items->n; i++) {
        /* a fresh scope per iteration, as Jinja2 has; the last one is reused unless a
         * macro or caller defined in it holds on to it */
        if (!is || is->captured) {
            if (!(is = scope_new(c, sc)))
                return XLLM_ERR_LIMIT;
        } else {
            is->n = 0;
        }
        TRY(jinja_check_step(c));
        lp->index = i;
        TRY(assign_names(c, is, n->names, n->name_lens, n->nnames, items->v[i]));
        TRY(scope_set(c, is, "loop", 4, (jv){.type = JV_LOOP, .u.ptr = lp}));
        TRY(exec_body(c, n->body, is));
        if (c->ctrl == JCTRL_BREAK) {
            c->ctrl = JCTRL_NONE;
            break;
        }
        c->ctrl = JCTRL_NONE;
    }
    if (!items->n && n->c)
        TRY(exec_body(c, n->c, sc));
    return XLLM_OK;
}

static xllm_status exec_set(jctx *c, const jnode *n, jscope *sc)
{
    jv v;
    const jnode *t = n->a;
    if (n->kind == JN_SETBLOCK) {
        TRY(capture(c, n->body, sc, &v));
        if (n->b) {
            jv saved = c->capture;
            c->capture = v;
            xllm_status st = jinja_eval(c, n->b, sc, &v);
            c->capture = saved;
            TRY(st);
        }
    } else {
        TRY(jinja_eval(c, n->b, sc, &v));
    }
    c->where = n;
    if (t->kind == JN_NAME)
        return scope_set(c, sc, t->name, t->name_len, v);
    if (t->kind == JN_TUPLE)
        return assign_names(c, sc, t->names, t->name_lens, t->nnames, v);
    jv *obj = scope_find(sc, t->a->name, t->a->name_len);
    if (!obj || obj->type != JV_NS)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "cannot assign attribute on non-namespace object");
    return jdict_set(c, obj->u.d, jv_str(t->name, t->name_len), v);
}

static xllm_status exec_stmt(jctx *c, const jnode *n, jscope *sc)
{
    jv v;
    TRY(jinja_check_step(c));
    c->where = n;
    switch (n->kind) {
    case JN_TEXT: return out_append(c, n->name, n->name_len);
    case JN_OUTPUT: TRY(jinja_eval(c, n->a, sc, &v)); c->where = n; return out_value(c, v);
    case JN_IF:
        for (;;) {
            TRY(jinja_eval(c, n->a, sc, &v));
            if (jv_truthy(v))
                return exec_body(c, n->body, sc);
            if (!n->c)
                return exec_body(c, n->d, sc);
            n = n->c;
        }
    case JN_FOR: return exec_for(c, n, sc);
    case JN_SET:
    case JN_SETBLOCK: return exec_set(c, n, sc);
    case JN_MACRO: {
        jmacro *m = jarena_alloc(&c->arena, sizeof *m);
        if (!m)
            return XLLM_ERR_LIMIT;
        m->def = n;
        m->closure = sc;
        m->caller_body = NULL;
        scope_capture(sc);
        return scope_set(c, sc, n->name, n->name_len, (jv){.type = JV_MACRO, .u.ptr = m});
    }
    case JN_CALLBLOCK: {
        const jnode *call = n->a;
        jmacro *m = jarena_alloc(&c->arena, sizeof *m);
        jv fn, *pos, *kw, *stack = jarena_alloc(&c->arena, JARGS_STACK * sizeof(jv));
        if (!m || !stack)
            return XLLM_ERR_LIMIT;
        m->def = n;
        m->closure = sc;
        m->caller_body = n->body;
        scope_capture(sc);
        TRY(jinja_eval(c, call->a, sc, &fn));
        TRY(eval_args(c, call, sc, stack, &pos, &kw));
        const char **kwn = jarena_alloc(&c->arena, (call->nkw + 1) * sizeof *kwn);
        size_t *kwl = jarena_alloc(&c->arena, (call->nkw + 1) * sizeof *kwl);
        jv *kwv = jarena_alloc(&c->arena, (call->nkw + 1) * sizeof *kwv);
        if (!kwn || !kwl || !kwv)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < call->nkw; i++) {
            kwn[i] = call->kwnames[i];
            kwl[i] = call->kwlens[i];
            kwv[i] = kw[i];
        }
        kwn[call->nkw] = "caller";
        kwl[call->nkw] = 6;
        kwv[call->nkw] = (jv){.type = JV_MACRO, .u.ptr = m};
        c->where = n;
        TRY(jinja_call(c, fn, pos, call->nargs, kwn, kwl, kwv, call->nkw + 1, &v));
        return out_value(c, v);
    }
    case JN_FILTERBLOCK: {
        jv saved = c->capture;
        TRY(capture(c, n->body, sc, &v));
        c->capture = v;
        xllm_status st = jinja_eval(c, n->b, sc, &v);
        c->capture = saved;
        TRY(st);
        return out_value(c, v);
    }
    case JN_BREAK: c->ctrl = JCTRL_BREAK; return XLLM_OK;
    case JN_CONTINUE: c->ctrl = JCTRL_CONTINUE; return XLLM_OK;
    case JN_WITH: {
        jscope *ws = scope_new(c, sc);
        if (!ws)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < n->nnames; i++) {
            TRY(jinja_eval(c, n->args[i], sc, &v));
            TRY(scope_set(c, ws, n->names[i], n->name_lens[i], v));
        }
        return exec_body(c, n->body, ws);
    }
    case JN_GENERATION: return exec_body(c, n->body, sc);
    default: return jerr(c, XLLM_ERR_INTERNAL, "expression node as a statement");
    }
}

static xllm_status exec_body(jctx *c, const jnode *n, jscope *sc)
{
    for (; n; n = n->next) {
        TRY(exec_stmt(c, n, sc));
        if (c->ctrl)
            return XLLM_OK;
    }
    return XLLM_OK;
}

/* ---- public API ---- */
xllm_status xllm_jinja_parse(const char *src, size_t len, xllm_jinja **out)
{
    xllm_status rc = XLLM_ERR_OUT_OF_MEMORY;
    xllm_jinja *t = NULL;
    jtoks toks = {0};
    *out = NULL;
    if (len > XLLM_JINJA_MAX_SOURCE)
        return xllm_fail(XLLM_ERR_LIMIT, "template of %zu bytes is larger than %u (XLLM_JINJA_MAX_SOURCE)", len,
                         XLLM_JINJA_MAX_SOURCE);
    t = xllm_calloc(1, sizeof *t);
    if (!t)
        goto out;
    jarena_init(&t->arena, XLLM_JINJA_MAX_MEMORY);
    /* Jinja2 normalizes newlines to \n and drops one trailing newline. */
    t->src = jarena_alloc(&t->arena, len + 1);
    if (!t->src) {
        rc = XLLM_ERR_LIMIT;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            t->src[k++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            t->src[k++] = src[i];
        }
    }
    if (k && t->src[k - 1] == '\n')
        k--;
    t->src[k] = 0;
    if ((rc = jinja_lex(&t->arena, t->src, k, &toks)))
        goto out;
    if ((rc = jinja_parse_tokens(&t->arena, &toks, &t->root)))
        goto out;
    *out = t;
    t = NULL;
    rc = XLLM_OK;
out:
    if (rc == XLLM_ERR_OUT_OF_MEMORY && !xllm_last_error()[0])
        xllm_fail(rc, "out of memory parsing a template");
    xllm_jinja_free(t);
    return rc;
}

void xllm_jinja_free(xllm_jinja *t)
{
    if (!t)
        return;
    jarena_free(&t->arena);
    xllm_free(t);
}

xllm_status xllm_jinja_render(const xllm_jinja *t, const json_t *vars, xllm_buf *out)
{
    jctx c;
    xllm_status rc;
    memset(&c, 0, sizeof c);
    jarena_init(&c.arena, XLLM_JINJA_MAX_MEMORY);
    c.out = out;
    c.out_base = out->len;
    c.src = t->src;
    c.globals = scope_new(&c, NULL);
    if (!c.globals) {
        rc = XLLM_ERR_LIMIT;
        goto out;
    }
    if (vars && !json_is_object(vars)) {
        rc = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "template variables must be a JSON object");
        goto out;
    }
    if (vars) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)vars, k, v) {
            jv x;
            if ((rc = jv_from_json(&c, v, &x)) || (rc = scope_set(&c, c.globals, k, strlen(k), x)))
                goto out;
        }
    }
    rc = exec_body(&c, t->root, c.globals);
out:
    jarena_free(&c.arena);
    return rc;
}
