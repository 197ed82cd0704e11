/* gotmpl_exec.c - executes a parsed Go template as text/template's exec.go does:
 * pipelines, variables, field chains with missingkey=zero, if/with/range with
 * break/continue, {{template}}, Go's builtin functions and Ollama's additions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/limits.h"
#include "template/gotmpl_impl.h"

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

typedef struct var {
    const char *name;
    gt_val v;
} var;

typedef struct state {
    const xllm_gotmpl *t;
    const gt_list *root;
    gt_arena *a;
    xllm_buf *out;
    size_t out_start;
    const gt_exec_opts *opts;
    var *vars;
    int nvars, cap;
    long steps;
    int depth;
} state;

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };

static xllm_status fail(state *s, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static xllm_status fail(state *s, int pos, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gt_fail_at(s->t, pos, XLLM_ERR_INVALID_ARGUMENT, "%s", msg);
}

static xllm_status oom(void)
{
    return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "go template: out of memory (or over %u bytes of values)",
                     XLLM_GOTMPL_MAX_ARENA);
}

static xllm_status push(state *s, const char *name, gt_val v)
{
    if (s->nvars == s->cap) {
        int cap = s->cap ? s->cap * 2 : 32;
        var *nv = gt_alloc(s->a, sizeof(var) * (size_t)cap);
        if (!nv)
            return oom();
        if (s->nvars)
            memcpy(nv, s->vars, sizeof(var) * (size_t)s->nvars);
        s->vars = nv;
        s->cap = cap;
    }
    s->vars[s->nvars++] = (var){name, v};
    return XLLM_OK;
}

static var *find_var(state *s, const char *name)
{
    for (int i = s->nvars - 1; i >= 0; i--)
        if (strcmp(s->vars[i].name, name) == 0)
            return &s->vars[i];
    return NULL;
}

/* reflect's conversion of an interface{} result to its concrete value */
static gt_val concrete(gt_val v)
{
    return v.kind == GV_NIL ? gt_invalid() : v;
}

static int has_final(const gt_val *final)
{
    return final != NULL;
}

/* ---- evaluation ---- */
static xllm_status eval_pipeline(state *s, gt_val dot, const gt_pipe *p, gt_val *out);
static xllm_status eval_arg(state *s, gt_val dot, const gt_arg *a, int want_value, gt_val *out);

static xllm_status method_call(state *s, const gt_val *recv, const char *name, int pos, int nargs,
                               int final, int *found, gt_val *out)
{
    *found = 0;
    const gt_type *t = recv->type;
    if (!t || (t->stringer == GS_NONE && !t->tsmethod))
        return XLLM_OK;
    int is_string = strcmp(name, "String") == 0 && t->stringer != GS_NONE;
    int is_ts = strcmp(name, "ToTypeScriptType") == 0 && t->tsmethod;
    if (!is_string && !is_ts)
        return XLLM_OK;
    *found = 1;
    if (nargs > 1 || final)
        return fail(s, pos, "wrong number of args for %s: want 0 got %d", name, nargs - 1 + final);
    xllm_buf b;
    xllm_buf_init(&b, 0);
    xllm_status st;
    if (is_string) {
        st = gt_print(&b, recv);
    } else {
        st = gt_ts_type(&b, recv);
    }
    if (st == XLLM_OK) {
        char *p = gt_strndup(s->a, b.data ? b.data : "", b.len);
        if (!p)
            st = oom();
        else
            *out = gt_str(p, b.len);
    }
    xllm_buf_free(&b);
    return st;
}

static xllm_status eval_field(state *s, const char *name, int pos, int nargs, int final, gt_val recv,
                              gt_val *out)
{
    if (recv.kind == GV_INVALID) {
        *out = gt_invalid();
        return XLLM_OK;
    }
    if (recv.kind == GV_NIL)
        return fail(s, pos, "nil pointer evaluating interface {}.%s", name);
    int found;
    TRY(method_call(s, &recv, name, pos, nargs, final, &found, out));
    if (found)
        return XLLM_OK;
    int has_args = nargs > 1 || final;
    if (recv.kind == GV_MAP) {
        if (has_args)
            return fail(s, pos, "%s is not a method but has arguments", name);
        if (!gt_map_get(&recv, name, strlen(name), out))
            *out = s->opts->missing_invalid ? gt_invalid() : gt_zero_elem(s->a, recv.type);
        return XLLM_OK;
    }
    const gt_type *st_type = recv.kind == GV_STRUCT ? recv.type : recv.kind == GV_PTR ? recv.type->elem : NULL;
    if (st_type) {
        for (int i = 0; i < st_type->nfields; i++) {
            if (strcmp(st_type->fields[i].name, name) != 0)
                continue;
            if (recv.kind == GV_PTR && !recv.u.seq)
                return fail(s, pos, "nil pointer evaluating %s.%s", recv.type->name, name);
            if (has_args)
                return fail(s, pos, "%s has arguments but cannot be invoked as function", name);
            *out = recv.u.seq->items[i];
            return XLLM_OK;
        }
    }
    return fail(s, pos, "can't evaluate field %s in type %s", name, gt_type_name(&recv));
}

static xllm_status eval_chain(state *s, gt_val recv, const gt_arg *a, const char *const *idents, int n,
                              int nargs, const gt_val *final, gt_val *out)
{
    for (int i = 0; i < n - 1; i++)
        TRY(eval_field(s, idents[i], a->pos, 1, 0, recv, &recv));
    return eval_field(s, idents[n - 1], a->pos, nargs, has_final(final), recv, out);
}

static xllm_status not_a_function(state *s, const gt_arg *a, int nargs, const gt_val *final)
{
    if (nargs > 1 || final)
        return fail(s, a->pos, "can't give argument to non-function");
    return XLLM_OK;
}

static xllm_status ideal_constant(state *s, const gt_arg *a, gt_val *out)
{
    int hex = a->text_len > 1 && a->text[0] == '0' && (a->text[1] == 'x' || a->text[1] == 'X');
    int floaty = !a->is_char && memchr(a->text, '.', a->text_len);
    for (size_t i = 0; !hex && !a->is_char && i < a->text_len; i++)
        floaty |= a->text[i] == 'e' || a->text[i] == 'E';
    if (hex)
        for (size_t i = 0; i < a->text_len; i++)
            floaty |= a->text[i] == 'p' || a->text[i] == 'P' || a->text[i] == '.';
    if (a->is_float && floaty) {
        *out = gt_float(a->fval);
        return XLLM_OK;
    }
    if (a->is_int) {
        *out = gt_int(a->ival);
        return XLLM_OK;
    }
    return fail(s, a->pos, "%.*s overflows int", (int)a->text_len, a->text);
}

static xllm_status call_function(state *s, gt_val dot, const gt_arg *fn, const gt_arg *const *args,
                                 int nargs, const gt_val *final, gt_val *out);

static xllm_status eval_command(state *s, gt_val dot, const gt_cmd *c, const gt_val *final, gt_val *out)
{
    const gt_arg *a = c->args[0];
    switch (a->kind) {
    case GA_FIELD: return eval_chain(s, dot, a, a->idents, a->nidents, c->nargs, final, out);
    case GA_CHAIN: {
        if (a->node->kind == GA_NIL)
            return fail(s, a->pos, "indirection through explicit nil");
        gt_val recv;
        TRY(eval_arg(s, dot, a->node, 0, &recv));
        return eval_chain(s, recv, a, a->idents, a->nidents, c->nargs, final, out);
    }
    case GA_IDENT:
        return call_function(s, dot, a, (const gt_arg *const *)c->args + 1, c->nargs - 1, final, out);
    case GA_PIPE:
        TRY(not_a_function(s, a, c->nargs, final));
        return eval_pipeline(s, dot, a->pipe, out);
    case GA_VAR: {
        var *v = find_var(s, a->name);
        if (!v)
            return fail(s, a->pos, "undefined variable: %s", a->name);
        if (a->nidents == 0) {
            TRY(not_a_function(s, a, c->nargs, final));
            *out = v->v;
            return XLLM_OK;
        }
        return eval_chain(s, v->v, a, a->idents, a->nidents, c->nargs, final, out);
    }
    default: break;
    }
    TRY(not_a_function(s, a, c->nargs, final));
    switch (a->kind) {
    case GA_BOOL: *out = gt_bool(a->b); return XLLM_OK;
    case GA_DOT: *out = dot; return XLLM_OK;
    case GA_NIL: return fail(s, a->pos, "nil is not a command");
    case GA_NUMBER: return ideal_constant(s, a, out);
    case GA_STRING: *out = gt_str(a->text, a->text_len); return XLLM_OK;
    default: return XLLM_ERR_INTERNAL;
    }
}

static xllm_status eval_pipeline(state *s, gt_val dot, const gt_pipe *p, gt_val *out)
{
    gt_val v = gt_invalid();
    for (int i = 0; i < p->ncmds; i++) {
        gt_val prev = v;
        TRY(eval_command(s, dot, p->cmds[i], i > 0 ? &prev : NULL, &v));
        v = concrete(v);
    }
    for (int i = 0; i < p->ndecl; i++) {
        if (p->is_assign) {
            var *x = find_var(s, p->decl[i]);
            if (!x)
                return fail(s, p->pos, "undefined variable: %s", p->decl[i]);
            x->v = v;
        } else {
            TRY(push(s, p->decl[i], v));
        }
    }
    *out = v;
    return XLLM_OK;
}

/* evalArg: want_value 1 for reflect.Value parameters (an invalid value is an
 * error there), 0 for interface{} parameters (invalid becomes nil). */
static xllm_status eval_arg(state *s, gt_val dot, const gt_arg *a, int want_value, gt_val *out)
{
    gt_val v;
    switch (a->kind) {
    case GA_DOT: v = dot; break;
    case GA_NIL:
        *out = want_value ? gt_invalid() : gt_nil();
        return XLLM_OK;
    case GA_FIELD: TRY(eval_chain(s, dot, a, a->idents, a->nidents, 1, NULL, &v)); break;
    case GA_VAR: {
        var *x = find_var(s, a->name);
        if (!x)
            return fail(s, a->pos, "undefined variable: %s", a->name);
        v = x->v;
        if (a->nidents)
            TRY(eval_chain(s, v, a, a->idents, a->nidents, 1, NULL, &v));
        break;
    }
    case GA_PIPE: TRY(eval_pipeline(s, dot, a->pipe, &v)); break;
    case GA_IDENT: TRY(call_function(s, dot, a, NULL, 0, NULL, &v)); break;
    case GA_CHAIN: {
        gt_cmd c = {.args = (gt_arg **)&a, .nargs = 1, .pos = a->pos};
        TRY(eval_command(s, dot, &c, NULL, &v));
        break;
    }
    case GA_BOOL: *out = gt_bool(a->b); return XLLM_OK;
    case GA_NUMBER: return ideal_constant(s, a, out);
    case GA_STRING: *out = gt_str(a->text, a->text_len); return XLLM_OK;
    default: return XLLM_ERR_INTERNAL;
    }
    if (v.kind == GV_INVALID && !want_value)
        v = gt_nil(); /* an interface{} parameter gets nil */
    *out = v;
    return XLLM_OK;
}

/* ---- builtins ---- */
typedef enum bkind { BK_INVALID, BK_BOOL, BK_INT, BK_UINT, BK_FLOAT, BK_STRING } bkind;

static bkind basic_kind(const gt_val *v)
{
    switch (v->kind) {
    case GV_BOOL: return BK_BOOL;
    case GV_INT: return BK_INT;
    case GV_UINT8: return BK_UINT;
    case GV_FLOAT: return BK_FLOAT;
    case GV_STRING: return BK_STRING;
    default: return BK_INVALID;
    }
}

static int str_cmp(const gt_val *a, const gt_val *b)
{
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int c = memcmp(a->u.s.p, b->u.s.p, n);
    if (c)
        return c;
    return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
}

static int is_nilish(const gt_val *v)
{
    switch (v->kind) {
    case GV_INVALID:
    case GV_NIL: return 1;
    case GV_SLICE:
    case GV_MAP:
    case GV_PTR:
    case GV_OMAP: return v->u.seq == NULL;
    default: return 0;
    }
}

static xllm_status fn_eq(state *s, int pos, gt_val a1, const gt_val *rest, int n, int *res)
{
    a1 = concrete(a1);
    if (n == 0)
        return fail(s, pos, "error calling eq: missing argument for comparison");
    bkind k1 = basic_kind(&a1);
    for (int i = 0; i < n; i++) {
        gt_val b = concrete(rest[i]);
        bkind k2 = basic_kind(&b);
        int truth = 0;
        if (k1 != k2) {
            if (k1 == BK_INT && k2 == BK_UINT)
                truth = a1.u.i >= 0 && a1.u.i == b.u.i;
            else if (k1 == BK_UINT && k2 == BK_INT)
                truth = b.u.i >= 0 && a1.u.i == b.u.i;
            else if (a1.kind != GV_INVALID && b.kind != GV_INVALID)
                return fail(s, pos, "error calling eq: incompatible types for comparison");
        } else {
            switch (k1) {
            case BK_BOOL: truth = a1.u.b == b.u.b; break;
            case BK_FLOAT: truth = a1.u.f == b.u.f; break;
            case BK_INT:
            case BK_UINT: truth = a1.u.i == b.u.i; break;
            case BK_STRING: truth = str_cmp(&a1, &b) == 0; break;
            case BK_INVALID:
                if (is_nilish(&a1) || is_nilish(&b)) {
                    if (a1.kind != b.kind && a1.kind != GV_INVALID && b.kind != GV_INVALID)
                        return fail(s, pos, "error calling eq: non-comparable types");
                    truth = is_nilish(&a1) == is_nilish(&b);
                } else {
                    return xllm_fail(XLLM_ERR_UNSUPPORTED,
                                     "go template: eq of %s values is not supported", gt_type_name(&b));
                }
                break;
            }
        }
        if (truth) {
            *res = 1;
            return XLLM_OK;
        }
    }
    *res = 0;
    return XLLM_OK;
}

static xllm_status fn_lt(state *s, int pos, const char *name, gt_val a, gt_val b, int *res)
{
    a = concrete(a);
    b = concrete(b);
    bkind k1 = basic_kind(&a), k2 = basic_kind(&b);
    if (k1 == BK_INVALID || k2 == BK_INVALID)
        return fail(s, pos, "error calling %s: invalid type for comparison", name);
    if (k1 != k2) {
        if (k1 == BK_INT && k2 == BK_UINT)
            *res = a.u.i < b.u.i;
        else if (k1 == BK_UINT && k2 == BK_INT)
            *res = b.u.i >= 0 && a.u.i < b.u.i;
        else
            return fail(s, pos, "error calling %s: incompatible types for comparison", name);
        return XLLM_OK;
    }
    switch (k1) {
    case BK_BOOL: return fail(s, pos, "error calling %s: invalid type for comparison", name);
    case BK_FLOAT: *res = a.u.f < b.u.f; break;
    case BK_STRING: *res = str_cmp(&a, &b) < 0; break;
    default: *res = a.u.i < b.u.i; break;
    }
    return XLLM_OK;
}

static xllm_status index_arg(state *s, int pos, const char *fn, const gt_val *ix, long long cap,
                             long long *out)
{
    if (ix->kind == GV_INT || ix->kind == GV_UINT8)
        *out = ix->u.i;
    else if (ix->kind == GV_INVALID || ix->kind == GV_NIL)
        return fail(s, pos, "error calling %s: cannot index slice/array with nil", fn);
    else
        return fail(s, pos, "error calling %s: cannot index slice/array with type %s", fn,
                    gt_type_name(ix));
    if (*out < 0 || *out > cap)
        return fail(s, pos, "error calling %s: index out of range: %lld", fn, *out);
    return XLLM_OK;
}

static long long val_len(const gt_val *v)
{
    if (v->kind == GV_STRING)
        return (long long)v->u.s.n;
    return v->u.seq ? v->u.seq->n : 0;
}

static xllm_status fn_index(state *s, int pos, gt_val item, const gt_val *ix, int n, gt_val *out)
{
    item = concrete(item);
    if (item.kind == GV_INVALID)
        return fail(s, pos, "error calling index: index of untyped nil");
    for (int i = 0; i < n; i++) {
        gt_val x = concrete(ix[i]);
        if (item.kind == GV_NIL || (item.kind == GV_PTR && !item.u.seq))
            return fail(s, pos, "error calling index: index of nil pointer");
        if (item.kind == GV_SLICE || item.kind == GV_STRING) {
            long long k = 0, len = val_len(&item);
            TRY(index_arg(s, pos, "index", &x, len, &k));
            if (k == len)
                return fail(s, pos, "error calling index: index out of range: %lld", k);
            if (item.kind == GV_STRING) {
                gt_val b = {.kind = GV_UINT8};
                b.u.i = (unsigned char)item.u.s.p[k];
                item = b;
            } else {
                item = item.u.seq->items[k];
            }
        } else if (item.kind == GV_MAP) {
            if (x.kind != GV_STRING) {
                if (x.kind == GV_INVALID || x.kind == GV_NIL)
                    return fail(s, pos, "error calling index: value is nil; should be of type string");
                return fail(s, pos, "error calling index: value has type %s; should be string",
                            gt_type_name(&x));
            }
            if (!gt_map_get(&item, x.u.s.p, x.u.s.n, &item))
                item = gt_zero_elem(s->a, item.type);
        } else {
            return fail(s, pos, "error calling index: can't index item of type %s", gt_type_name(&item));
        }
    }
    *out = item;
    return XLLM_OK;
}

static xllm_status fn_slice(state *s, int pos, gt_val item, const gt_val *ix, int n, gt_val *out)
{
    item = concrete(item);
    if (item.kind == GV_INVALID)
        return fail(s, pos, "error calling slice: slice of untyped nil");
    if (n > 3)
        return fail(s, pos, "error calling slice: too many slice indexes: %d", n);
    if (item.kind == GV_STRING && n == 3)
        return fail(s, pos, "error calling slice: cannot 3-index slice a string");
    if (item.kind != GV_STRING && item.kind != GV_SLICE)
        return fail(s, pos, "error calling slice: can't slice item of type %s", gt_type_name(&item));
    long long len = val_len(&item), idx[3] = {0, len, len};
    for (int i = 0; i < n; i++)
        TRY(index_arg(s, pos, "slice", &ix[i], len, &idx[i]));
    if (idx[0] > idx[1])
        return fail(s, pos, "error calling slice: invalid slice index: %lld > %lld", idx[0], idx[1]);
    if (n == 3 && idx[1] > idx[2])
        return fail(s, pos, "error calling slice: invalid slice index: %lld > %lld", idx[1], idx[2]);
    *out = item;
    if (item.kind == GV_STRING) {
        out->u.s.p = item.u.s.p + idx[0];
        out->u.s.n = (size_t)(idx[1] - idx[0]);
        return XLLM_OK;
    }
    if (!item.u.seq)
        return XLLM_OK;
    gt_seq *sq = gt_alloc(s->a, sizeof(*sq));
    if (!sq)
        return oom();
    sq->n = (int)(idx[1] - idx[0]);
    sq->items = item.u.seq->items + idx[0];
    out->u.seq = sq;
    return XLLM_OK;
}

/* html/template-free escapers of text/template */
static xllm_status esc_html(xllm_buf *o, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        switch (p[i]) {
        case '"': e = "&#34;"; break;
        case '\'': e = "&#39;"; break;
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '\0': e = "\xEF\xBF\xBD"; break;
        }
        TRY(e ? xllm_buf_puts(o, e) : xllm_buf_append(o, p + i, 1));
    }
    return XLLM_OK;
}

static xllm_status esc_js(xllm_buf *o, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        const char *e = NULL;
        char u[8];
        switch (c) {
        case '\\': e = "\\\\"; break;
        case '\'': e = "\\'"; break;
        case '"': e = "\\\""; break;
        case '<': e = "\\u003C"; break;
        case '>': e = "\\u003E"; break;
        case '&': e = "\\u0026"; break;
        case '=': e = "\\u003D"; break;
        default:
            if (c < ' ') {
                snprintf(u, sizeof u, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                e = u;
            } else if (c >= 0x80) { /* a rune: kept when printable, else \uXXXX */
                long r;
                int len = gt_utf8_decode(p + i, n - i, &r);
                if (len > 0 && !gt_is_print(r)) {
                    TRY(xllm_buf_printf(o, "\\u%04lX", r));
                    i += (size_t)len - 1;
                    continue;
                }
                if (len > 1) {
                    TRY(xllm_buf_append(o, p + i, (size_t)len));
                    i += (size_t)len - 1;
                    continue;
                }
            }
        }
        TRY(e ? xllm_buf_puts(o, e) : xllm_buf_append(o, p + i, 1));
    }
    return XLLM_OK;
}

static xllm_status esc_url(xllm_buf *o, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            TRY(xllm_buf_append(o, p + i, 1));
        } else if (c == ' ') {
            TRY(xllm_buf_append(o, "+", 1));
        } else {
            char b[3] = {'%', hex[c >> 4], hex[c & 15]};
            TRY(xllm_buf_append(o, b, 3));
        }
    }
    return XLLM_OK;
}

static xllm_status ts_one(xllm_buf *out, const gt_val *t)
{
    static const char *const map[][2] = {{"string", "string"},   {"number", "number"},
                                         {"integer", "number"},  {"boolean", "boolean"},
                                         {"array", "any[]"},     {"object", "Record<string, any>"},
                                         {"null", "null"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (t->u.s.n == strlen(map[i][0]) && memcmp(t->u.s.p, map[i][0], t->u.s.n) == 0)
            return xllm_buf_puts(out, map[i][1]);
    return xllm_buf_puts(out, "any");
}

/* api.ToolProperty.ToTypeScriptType */
xllm_status gt_ts_type(xllm_buf *out, const gt_val *prop)
{
    const gt_seq *f = prop->u.seq;
    const gt_seq *anyof = f->items[0].u.seq, *types = f->items[1].u.seq;
    if (anyof && anyof->n > 0) {
        for (int i = 0; i < anyof->n; i++) {
            if (i)
                TRY(xllm_buf_puts(out, " | "));
            TRY(gt_ts_type(out, &anyof->items[i]));
        }
        return XLLM_OK;
    }
    if (!types || types->n == 0)
        return xllm_buf_puts(out, "any");
    for (int i = 0; i < types->n; i++) {
        if (i)
            TRY(xllm_buf_puts(out, " | "));
        TRY(ts_one(out, &types->items[i]));
    }
    return XLLM_OK;
}

static xllm_status date_string(state *s, int days_back, gt_val *out)
{
    time_t now = time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    struct tm tm;
    if (sde && *sde) {
        now = (time_t)strtoll(sde, NULL, 10);
        gmtime_r(&now, &tm);
        tm.tm_mday -= days_back;
        time_t t2 = timegm(&tm);
        gmtime_r(&t2, &tm);
    } else {
        localtime_r(&now, &tm);
        tm.tm_mday -= days_back;
        tm.tm_isdst = -1;
        time_t t2 = mktime(&tm);
        localtime_r(&t2, &tm);
    }
    char *p = gt_alloc(s->a, 32);
    if (!p)
        return oom();
    int n = snprintf(p, 32, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    *out = gt_str(p, (size_t)n);
    return XLLM_OK;
}

static xllm_status buf_to_val(state *s, xllm_buf *b, gt_val *out)
{
    char *p = gt_strndup(s->a, b->data ? b->data : "", b->len);
    size_t n = b->len;
    xllm_buf_free(b);
    if (!p)
        return oom();
    *out = gt_str(p, n);
    return XLLM_OK;
}

typedef struct fninfo {
    const char *name;
    int min, max;   /* argument counts; max -1: variadic */
    int value_args; /* reflect.Value parameters (an invalid value passes as is) */
    int extra;      /* added by Ollama's template package */
} fninfo;

/* indexed by gt_func */
static const fninfo fns[GF_COUNT] = {
    [GF_AND] = {"and", 1, -1, 1, 0},          [GF_OR] = {"or", 1, -1, 1, 0},
    [GF_NOT] = {"not", 1, 1, 1, 0},           [GF_LEN] = {"len", 1, 1, 1, 0},
    [GF_INDEX] = {"index", 1, -1, 1, 0},      [GF_SLICE] = {"slice", 1, -1, 1, 0},
    [GF_EQ] = {"eq", 1, -1, 1, 0},            [GF_NE] = {"ne", 2, 2, 1, 0},
    [GF_LT] = {"lt", 2, 2, 1, 0},             [GF_LE] = {"le", 2, 2, 1, 0},
    [GF_GT] = {"gt", 2, 2, 1, 0},             [GF_GE] = {"ge", 2, 2, 1, 0},
    [GF_PRINT] = {"print", 0, -1, 0, 0},      [GF_PRINTF] = {"printf", 1, -1, 0, 0},
    [GF_PRINTLN] = {"println", 0, -1, 0, 0},  [GF_HTML] = {"html", 0, -1, 0, 0},
    [GF_JS] = {"js", 0, -1, 0, 0},            [GF_URLQUERY] = {"urlquery", 0, -1, 0, 0},
    [GF_CALL] = {"call", 1, -1, 1, 0},        [GF_JSON] = {"json", 1, 1, 0, 1},
    [GF_CURRENT_DATE] = {"currentDate", 0, -1, 0, 1},
    [GF_YESTERDAY_DATE] = {"yesterdayDate", 0, -1, 0, 1},
    [GF_TS_TYPE] = {"toTypeScriptType", 1, 1, 0, 1},
};

int gt_func_id(const char *name, size_t n)
{
    for (int i = 0; i < GF_COUNT; i++)
        if (strlen(fns[i].name) == n && memcmp(fns[i].name, name, n) == 0)
            return i;
    return -1;
}

static xllm_status call_function(state *s, gt_val dot, const gt_arg *fn, const gt_arg *const *args,
                                 int nargs, const gt_val *final, gt_val *out)
{
    const char *name = fn->name;
    int pos = fn->pos, id = fn->fn;
    const fninfo *fi = id >= 0 && id < GF_COUNT ? &fns[id] : NULL;
    if (!fi || (s->opts->no_extra_funcs && fi->extra))
        return fail(s, pos, "\"%s\" is not a defined function", name);
    int total = nargs + (final != NULL);
    if (total < fi->min || (fi->max >= 0 && total > fi->max)) {
        if (fi->max < 0)
            return fail(s, pos, "wrong number of args for %s: want at least %d got %d", name, fi->min, nargs);
        return fail(s, pos, "wrong number of args for %s: want %d got %d", name, fi->max, total);
    }
    if (id == GF_AND || id == GF_OR) {
        int want = id == GF_OR;
        gt_val v = gt_invalid();
        for (int i = 0; i < nargs; i++) {
            TRY(eval_arg(s, dot, args[i], 1, &v));
            if (gt_is_truthy(&v) == want) {
                *out = v;
                return XLLM_OK;
            }
        }
        if (final)
            v = *final;
        *out = v;
        return XLLM_OK;
    }
    gt_val *av = gt_alloc(s->a, sizeof(gt_val) * (size_t)(total ? total : 1));
    if (!av)
        return oom();
    int string_args = id == GF_CURRENT_DATE || id == GF_YESTERDAY_DATE;
    for (int i = 0; i < nargs; i++) {
        if ((string_args || (i == 0 && id == GF_PRINTF))) {
            const gt_arg *a = args[i];
            if (a->kind == GA_BOOL || a->kind == GA_NUMBER || a->kind == GA_NIL || a->kind == GA_DOT) {
                if (a->kind != GA_DOT)
                    return fail(s, a->pos, "expected string");
            }
            TRY(eval_arg(s, dot, a, 0, &av[i]));
            if (av[i].kind != GV_STRING)
                return fail(s, a->pos, "wrong type for value; expected string; got %s",
                            gt_type_name(&av[i]));
            continue;
        }
        TRY(eval_arg(s, dot, args[i], fi->value_args, &av[i]));
    }
    if (final) {
        gt_val f = *final;
        if (f.kind == GV_INVALID) {
            if (fi->value_args)
                f = gt_invalid();
            else if (string_args || (nargs == 0 && id == GF_PRINTF))
                return fail(s, pos, "invalid value; expected string");
            else
                f = gt_nil();
        } else if ((string_args || (nargs == 0 && id == GF_PRINTF)) && f.kind != GV_STRING) {
            return fail(s, pos, "wrong type for value; expected string; got %s", gt_type_name(&f));
        }
        av[nargs] = f;
    }
    if (id == GF_NOT) {
        *out = gt_bool(!gt_is_truthy(&av[0]));
    } else if (id == GF_LEN) {
        gt_val x = av[0];
        if (x.kind == GV_NIL || (x.kind == GV_PTR && !x.u.seq))
            return fail(s, pos, "error calling len: len of nil pointer");
        if (x.kind == GV_INVALID)
            return fail(s, pos, "error calling len: len of an invalid value");
        if (x.kind != GV_STRING && x.kind != GV_SLICE && x.kind != GV_MAP)
            return fail(s, pos, "error calling len: len of type %s", gt_type_name(&x));
        *out = gt_int(val_len(&x));
    } else if (id == GF_INDEX) {
        TRY(fn_index(s, pos, av[0], av + 1, total - 1, out));
    } else if (id == GF_SLICE) {
        TRY(fn_slice(s, pos, av[0], av + 1, total - 1, out));
    } else if (id == GF_EQ || id == GF_NE) {
        int r;
        TRY(fn_eq(s, pos, av[0], av + 1, total - 1, &r));
        *out = gt_bool(id == GF_EQ ? r : !r);
    } else if (id == GF_LT || id == GF_LE || id == GF_GT || id == GF_GE) {
        int lt = 0, eq = 0;
        TRY(fn_lt(s, pos, name, av[0], av[1], &lt));
        if (id == GF_LE && !lt)
            TRY(fn_eq(s, pos, av[0], av + 1, 1, &eq));
        if (id == GF_GT && !lt)
            TRY(fn_eq(s, pos, av[0], av + 1, 1, &eq));
        int r = id == GF_LT ? lt : id == GF_LE ? (lt || eq) : id == GF_GT ? !(lt || eq) : !lt;
        *out = gt_bool(r);
    } else if (id == GF_CALL) {
        gt_val f = concrete(av[0]);
        if (f.kind == GV_INVALID)
            return fail(s, pos, "error calling call: call of nil");
        return fail(s, pos, "error calling call: non-function of type %s", gt_type_name(&f));
    } else if (id == GF_JSON) {
        xllm_buf b;
        xllm_buf_init(&b, XLLM_GOTMPL_MAX_OUTPUT);
        xllm_status st = gt_json(&b, &av[0]);
        if (st == XLLM_ERR_UNSUPPORTED || st == XLLM_ERR_LIMIT || st == XLLM_ERR_OUT_OF_MEMORY) {
            xllm_buf_free(&b);
            return st;
        }
        if (st) /* json.Marshal errors give "" */
            b.len = 0;
        return buf_to_val(s, &b, out);
    } else if (string_args) {
        return date_string(s, id == GF_YESTERDAY_DATE, out);
    } else if (id == GF_TS_TYPE) {
        xllm_buf b;
        xllm_buf_init(&b, 0);
        if (av[0].kind == GV_STRUCT && av[0].type == &gt_type_tool_property)
            TRY(gt_ts_type(&b, &av[0]));
        else
            TRY(xllm_buf_puts(&b, "any"));
        return buf_to_val(s, &b, out);
    } else { /* print printf println html js urlquery */
        xllm_buf b;
        xllm_buf_init(&b, XLLM_GOTMPL_MAX_OUTPUT);
        xllm_status st;
        if (id == GF_PRINTF)
            st = gt_sprintf(&b, av[0].u.s.p, av[0].u.s.n, av + 1, total - 1);
        else if (id == GF_PRINTLN)
            st = gt_sprint(&b, av, total, 1);
        else if (total == 1 && av[0].kind == GV_STRING && !av[0].type)
            st = xllm_buf_append(&b, av[0].u.s.p, av[0].u.s.n);
        else if (id == GF_PRINT)
            st = gt_sprint(&b, av, total, 0);
        else { /* html/js/urlquery: evalArgs' printableValue first */
            for (int i = 0; i < total; i++) {
                if (av[i].kind == GV_NIL || av[i].kind == GV_INVALID)
                    av[i] = gt_str("<no value>", 10);
                else if (av[i].kind == GV_PTR && av[i].u.seq) {
                    av[i].kind = GV_STRUCT;
                    av[i].type = av[i].type->elem;
                }
            }
            st = gt_sprint(&b, av, total, 0);
        }
        if (st == XLLM_OK && (id == GF_HTML || id == GF_JS || id == GF_URLQUERY)) {
            xllm_buf e;
            xllm_buf_init(&e, XLLM_GOTMPL_MAX_OUTPUT);
            st = id == GF_HTML ? esc_html(&e, b.data ? b.data : "", b.len)
               : id == GF_JS ? esc_js(&e, b.data ? b.data : "", b.len)
                                : esc_url(&e, b.data ? b.data : "", b.len);
            xllm_buf_free(&b);
            b = e;
        }
        if (st) {
            xllm_buf_free(&b);
            return st;
        }
        return buf_to_val(s, &b, out);
    }
    return XLLM_OK;
}

/* ---- walking ---- */
static xllm_status walk(state *s, gt_val dot, const gt_list *l, int *ctl);

static xllm_status step(state *s, int pos)
{
    if (++s->steps > XLLM_GOTMPL_MAX_STEPS)
        return gt_fail_at(s->t, pos, XLLM_ERR_LIMIT, "more than %d execution steps",
                          XLLM_GOTMPL_MAX_STEPS);
    if (s->out->len - s->out_start > XLLM_GOTMPL_MAX_OUTPUT)
        return gt_fail_at(s->t, pos, XLLM_ERR_LIMIT, "output larger than %u bytes",
                          XLLM_GOTMPL_MAX_OUTPUT);
    return XLLM_OK;
}

static xllm_status walk_if_with(state *s, gt_val dot, const gt_node *n, int *ctl)
{
    int mark = s->nvars;
    gt_val v;
    TRY(eval_pipeline(s, dot, n->pipe, &v));
    xllm_status st = XLLM_OK;
    if (gt_is_truthy(&v))
        st = walk(s, n->kind == GN_WITH ? v : dot, n->list, ctl);
    else if (n->else_list)
        st = walk(s, dot, n->else_list, ctl);
    s->nvars = mark;
    return st;
}

static xllm_status range_iter(state *s, const gt_node *n, gt_val index, gt_val elem, int *ctl)
{
    const gt_pipe *p = n->pipe;
    if (p->ndecl > 0) {
        if (p->is_assign) {
            var *x = find_var(s, p->decl[0]);
            if (!x)
                return fail(s, n->pos, "undefined variable: %s", p->decl[0]);
            x->v = p->ndecl > 1 ? index : elem;
        } else {
            s->vars[s->nvars - 1].v = elem;
        }
    }
    if (p->ndecl > 1) {
        if (p->is_assign) {
            var *x = find_var(s, p->decl[1]);
            if (!x)
                return fail(s, n->pos, "undefined variable: %s", p->decl[1]);
            x->v = elem;
        } else {
            s->vars[s->nvars - 2].v = index;
        }
    }
    int mark = s->nvars;
    xllm_status st = walk(s, elem, n->list, ctl);
    s->nvars = mark;
    return st;
}

static xllm_status walk_range(state *s, gt_val dot, const gt_node *n)
{
    int mark0 = s->nvars;
    gt_val v;
    TRY(eval_pipeline(s, dot, n->pipe, &v));
    int ran = 0;
    xllm_status st = XLLM_OK;
    if (v.kind == GV_SLICE || v.kind == GV_MAP) {
        int len = v.u.seq ? v.u.seq->n : 0;
        for (int i = 0; i < len && st == XLLM_OK; i++) {
            int ctl = CTL_NONE;
            if ((st = step(s, n->pos)))
                break;
            gt_val key = v.kind == GV_MAP ? gt_str(v.u.seq->keys[i], v.u.seq->key_lens[i]) : gt_int(i);
            st = range_iter(s, n, key, v.u.seq->items[i], &ctl);
            ran = 1;
            if (ctl == CTL_BREAK)
                break;
        }
    } else if (v.kind == GV_INT) { /* Go >= 1.22: range over an integer */
        if (n->pipe->ndecl > 1)
            st = fail(s, n->pos, "can't use %lld to iterate over more than one variable", v.u.i);
        for (long long i = 0; st == XLLM_OK && i < v.u.i; i++) {
            int ctl = CTL_NONE;
            if ((st = step(s, n->pos)))
                break;
            st = range_iter(s, n, gt_int(i), gt_int(i), &ctl);
            ran = 1;
            if (ctl == CTL_BREAK)
                break;
        }
    } else if (v.kind != GV_INVALID) {
        xllm_buf b;
        xllm_buf_init(&b, 256);
        gt_print(&b, &v);
        st = fail(s, n->pos, "range can't iterate over %.*s", (int)(b.len > 60 ? 60 : b.len),
                  b.data ? b.data : "");
        xllm_buf_free(&b);
    }
    if (st == XLLM_OK && !ran && n->else_list) {
        int ctl = CTL_NONE;
        st = walk(s, dot, n->else_list, &ctl);
    }
    s->nvars = mark0;
    return st;
}

static const gt_list *find_template(state *s, const char *name)
{
    if (name[0] == 0)
        return s->root;
    if (s->opts->no_defines)
        return NULL;
    for (int i = 0; i < s->t->ndefs; i++)
        if (strcmp(s->t->defs[i].name, name) == 0)
            return s->t->defs[i].list;
    return NULL;
}

static xllm_status walk_template(state *s, gt_val dot, const gt_node *n)
{
    const gt_list *l = find_template(s, n->name);
    if (!l)
        return fail(s, n->pos, "no such template \"%s\"", n->name);
    if (s->depth >= XLLM_GOTMPL_MAX_CALL_DEPTH)
        return gt_fail_at(s->t, n->pos, XLLM_ERR_LIMIT, "exceeded maximum template depth (%d)",
                          XLLM_GOTMPL_MAX_CALL_DEPTH);
    gt_val nd = gt_invalid();
    if (n->pipe)
        TRY(eval_pipeline(s, dot, n->pipe, &nd));
    /* no dynamic scoping: the called template sees only $ */
    var *saved = s->vars;
    int saved_n = s->nvars, saved_cap = s->cap;
    s->vars = NULL;
    s->nvars = s->cap = 0;
    xllm_status st = push(s, "$", nd);
    s->depth++;
    int ctl = CTL_NONE;
    if (st == XLLM_OK)
        st = walk(s, nd, l, &ctl);
    s->depth--;
    s->vars = saved;
    s->nvars = saved_n;
    s->cap = saved_cap;
    return st;
}

static xllm_status walk(state *s, gt_val dot, const gt_list *l, int *ctl)
{
    for (int i = 0; l && i < l->n; i++) {
        const gt_node *n = l->nodes[i];
        TRY(step(s, n->pos));
        switch (n->kind) {
        case GN_TEXT: TRY(xllm_buf_append(s->out, n->text, n->text_len)); break;
        case GN_ACTION: {
            gt_val v;
            TRY(eval_pipeline(s, dot, n->pipe, &v));
            if (n->pipe->ndecl == 0) {
                if (v.kind == GV_PTR && v.u.seq) { /* printValue indirects a pointer */
                    v.kind = GV_STRUCT;
                    v.type = v.type->elem;
                }
                xllm_status st = gt_print(s->out, &v);
                if (st == XLLM_ERR_UNSUPPORTED)
                    return gt_fail_at(s->t, n->pos, st, "%s", xllm_last_error());
                TRY(st);
            }
            break;
        }
        case GN_IF:
        case GN_WITH:
            TRY(walk_if_with(s, dot, n, ctl));
            if (*ctl)
                return XLLM_OK;
            break;
        case GN_RANGE: TRY(walk_range(s, dot, n)); break;
        case GN_TEMPLATE: TRY(walk_template(s, dot, n)); break;
        case GN_BREAK: *ctl = CTL_BREAK; return XLLM_OK;
        case GN_CONTINUE: *ctl = CTL_CONTINUE; return XLLM_OK;
        }
    }
    return XLLM_OK;
}

xllm_status gt_execute(const xllm_gotmpl *t, const gt_list *root, gt_arena *a, const gt_val *data,
                       const gt_exec_opts *opts, xllm_buf *out)
{
    gt_exec_opts none = {0};
    state s = {.t = t, .root = root, .a = a, .out = out, .out_start = out->len, .opts = opts ? opts : &none};
    xllm_status st = push(&s, "$", *data);
    int ctl = CTL_NONE;
    if (st == XLLM_OK)
        st = walk(&s, *data, root, &ctl);
    if (st == XLLM_ERR_OUT_OF_MEMORY && !*xllm_last_error())
        return oom();
    return st;
}
