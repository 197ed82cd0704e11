/* jinja_parse.c - recursive-descent parser from tokens to the syntax tree, following
 * Jinja2's grammar (operator precedence, filters and tests, call arguments, tuples,
 * statements with their end tags). Unknown tags and filters are syntax errors as in
 * Jinja2; tags xllm does not implement are XLLM_ERR_UNSUPPORTED. */
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "template/jinja_impl.h"

typedef struct parser {
    jarena *a;
    const jtoks *t;
    size_t pos;
    int depth;
} parser;

typedef struct nvec {
    jnode **v;
    size_t n, cap;
} nvec;

static const jtok *cur(parser *P) { return &P->t->t[P->pos]; }
static const jtok *peek(parser *P, size_t k)
{
    size_t i = P->pos + k;
    return &P->t->t[i < P->t->n ? i : P->t->n - 1];
}
static void adv(parser *P)
{
    if (P->pos + 1 < P->t->n)
        P->pos++;
}

static int tok_is(const jtok *t, int type, const char *s)
{
    return t->type == type && (!s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0));
}
static int is_op(parser *P, const char *s) { return tok_is(cur(P), JT_OP, s); }
static int is_name(parser *P, const char *s) { return tok_is(cur(P), JT_NAME, s); }

static const char *tok_desc(const jtok *t, char *buf, size_t cap)
{
    switch (t->type) {
    case JT_EOF: return "end of template";
    case JT_TEXT: return "template data";
    case JT_VAR_BEGIN: return "'{{'";
    case JT_VAR_END: return "end of print statement";
    case JT_BLOCK_BEGIN: return "'{%'";
    case JT_BLOCK_END: return "end of statement block";
    case JT_STRING: return "string literal";
    default: snprintf(buf, cap, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s); return buf;
    }
}

static xllm_status perr(parser *P, const jtok *t, xllm_status st, const char *fmt, const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    return xllm_fail(st, "template %s at line %d, column %d: %s",
                     st == XLLM_ERR_UNSUPPORTED ? "construct not supported" : "syntax error", t->line, t->col,
                     msg);
    (void)P;
}

static xllm_status expect_op(parser *P, const char *s)
{
    char buf[64], want[64];
    if (is_op(P, s)) {
        adv(P);
        return XLLM_OK;
    }
    snprintf(want, sizeof want, "expected '%s', got %s", s, tok_desc(cur(P), buf, sizeof buf));
    return perr(P, cur(P), XLLM_ERR_FORMAT, "%s", want);
}

static xllm_status expect_type(parser *P, int type, const char *what)
{
    char buf[64], msg[128];
    if (cur(P)->type == type) {
        adv(P);
        return XLLM_OK;
    }
    snprintf(msg, sizeof msg, "expected %s, got %s", what, tok_desc(cur(P), buf, sizeof buf));
    return perr(P, cur(P), XLLM_ERR_FORMAT, "%s", msg);
}

static jnode *mk(parser *P, int kind, const jtok *t)
{
    jnode *n = jarena_alloc(P->a, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = t->line;
    n->col = t->col;
    return n;
}

static xllm_status vpush(parser *P, nvec *v, jnode *n)
{
    if (v->n == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 4;
        jnode **nv = jarena_alloc(P->a, ncap * sizeof *nv);
        if (!nv)
            return XLLM_ERR_LIMIT;
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = ncap;
    }
    v->v[v->n++] = n;
    return XLLM_OK;
}

#define TRY(x)                          \
    do {                                \
        xllm_status try_st_ = (x);      \
        if (try_st_)                    \
            return try_st_;             \
    } while (0)
#define NEW(var, kind, tok)             \
    do {                                \
        if (!((var) = mk(P, kind, tok))) \
            return XLLM_ERR_LIMIT;      \
    } while (0)

static xllm_status parse_expr(parser *P, int condexpr, jnode **out);
static xllm_status parse_tuple(parser *P, int condexpr, int explicit_paren, jnode **out);
static xllm_status parse_unary(parser *P, int with_filter, jnode **out);
static xllm_status parse_primary(parser *P, jnode **out);
static xllm_status parse_postfix(parser *P, jnode *n, jnode **out);

static xllm_status enter(parser *P)
{
    if (++P->depth > XLLM_JINJA_MAX_DEPTH)
        return perr(P, cur(P), XLLM_ERR_LIMIT, "nesting deeper than %s", "the limit (XLLM_JINJA_MAX_DEPTH)");
    return XLLM_OK;
}

/* Call arguments after '(' : positional, name=value, *args / **kwargs refused. */
static xllm_status parse_call_args(parser *P, jnode *call)
{
    nvec pos = {0}, kw = {0};
    const char *names[64];
    size_t lens[64];
    TRY(expect_op(P, "("));
    while (!is_op(P, ")")) {
        if (pos.n + kw.n)
            TRY(expect_op(P, ","));
        if (is_op(P, ")"))
            break;
        if (is_op(P, "*") || is_op(P, "**"))
            return perr(P, cur(P), XLLM_ERR_UNSUPPORTED, "%s", "*args / **kwargs in calls");
        jnode *e;
        if (cur(P)->type == JT_NAME && tok_is(peek(P, 1), JT_OP, "=")) {
            if (kw.n >= 64)
                return perr(P, cur(P), XLLM_ERR_LIMIT, "%s", "more than 64 keyword arguments");
            names[kw.n] = cur(P)->s;
            lens[kw.n] = cur(P)->n;
            adv(P);
            adv(P);
            TRY(parse_expr(P, 1, &e));
            TRY(vpush(P, &kw, e));
        } else {
            if (kw.n)
                return perr(P, cur(P), XLLM_ERR_FORMAT, "%s", "positional argument after keyword argument");
            TRY(parse_expr(P, 1, &e));
            TRY(vpush(P, &pos, e));
        }
    }
    adv(P);
    call->args = pos.v;
    call->nargs = pos.n;
    call->kwargs = kw.v;
    call->nkw = kw.n;
    if (kw.n) {
        call->kwnames = jarena_alloc(P->a, kw.n * sizeof *call->kwnames);
        call->kwlens = jarena_alloc(P->a, kw.n * sizeof *call->kwlens);
        if (!call->kwnames || !call->kwlens)
            return XLLM_ERR_LIMIT;
        memcpy(call->kwnames, names, kw.n * sizeof *names);
        memcpy(call->kwlens, lens, kw.n * sizeof *lens);
    }
    return XLLM_OK;
}

/* name(.name)* for filters and tests. */
static xllm_status parse_dotted(parser *P, jnode *n)
{
    const jtok *t = cur(P);
    TRY(expect_type(P, JT_NAME, "a name"));
    n->name = t->s;
    n->name_len = t->n;
    while (is_op(P, ".") && peek(P, 1)->type == JT_NAME) {
        adv(P);
        n->name_len = (size_t)(cur(P)->s + cur(P)->n - n->name);
        adv(P);
    }
    return XLLM_OK;
}

static xllm_status parse_filter(parser *P, jnode *arg, jnode **out)
{
    jnode *f;
    NEW(f, JN_FILTER, cur(P));
    TRY(parse_dotted(P, f));
    f->filter_id = jinja_filter_find(f->name, f->name_len); /* -1: checked by check_unknown */
    f->a = arg;
    if (is_op(P, "("))
        TRY(parse_call_args(P, f));
    *out = f;
    return XLLM_OK;
}

static xllm_status parse_test(parser *P, jnode *arg, jnode **out)
{
    jnode *t;
    NEW(t, JN_TEST, cur(P));
    adv(P); /* is */
    if (is_name(P, "not")) {
        t->op = 1;
        adv(P);
    }
    TRY(parse_dotted(P, t));
    t->filter_id = jinja_test_find(t->name, t->name_len);
    t->a = arg;
    const jtok *k = cur(P);
    if (is_op(P, "(")) {
        TRY(parse_call_args(P, t));
    } else if ((k->type == JT_NAME || k->type == JT_STRING || k->type == JT_INT || k->type == JT_FLOAT ||
                is_op(P, "[") || is_op(P, "{")) &&
               !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and")) {
        if (is_name(P, "is"))
            return perr(P, k, XLLM_ERR_FORMAT, "%s", "you cannot chain multiple tests with is");
        jnode *e;
        TRY(parse_primary(P, &e));
        TRY(parse_postfix(P, e, &e));
        t->args = jarena_alloc(P->a, sizeof *t->args);
        if (!t->args)
            return XLLM_ERR_LIMIT;
        t->args[0] = e;
        t->nargs = 1;
    }
    *out = t;
    return XLLM_OK;
}

static xllm_status parse_filter_expr(parser *P, jnode *n, jnode **out)
{
    for (;;) {
        if (is_op(P, "|")) {
            adv(P);
            TRY(parse_filter(P, n, &n));
        } else if (is_name(P, "is")) {
            TRY(parse_test(P, n, &n));
        } else if (is_op(P, "(")) {
            jnode *c;
            NEW(c, JN_CALL, cur(P));
            c->a = n;
            TRY(parse_call_args(P, c));
            n = c;
        } else {
            break;
        }
    }
    *out = n;
    return XLLM_OK;
}

static xllm_status parse_subscript(parser *P, jnode **out)
{
    const jtok *t = cur(P);
    jnode *parts[3] = {NULL, NULL, NULL};
    int colons = 0;
    if (!is_op(P, ":"))
        TRY(parse_expr(P, 1, &parts[0]));
    if (!is_op(P, ":")) {
        *out = parts[0];
        return XLLM_OK;
    }
    while (is_op(P, ":") && colons < 2) {
        adv(P);
        colons++;
        if (!is_op(P, ":") && !is_op(P, "]") && !is_op(P, ","))
            TRY(parse_expr(P, 1, &parts[colons]));
    }
    jnode *s;
    NEW(s, JN_SLICE, t);
    s->b = parts[0];
    s->c = parts[1];
    s->d = parts[2];
    *out = s;
    return XLLM_OK;
}

static xllm_status parse_postfix(parser *P, jnode *n, jnode **out)
{
    for (;;) {
        const jtok *t = cur(P);
        if (is_op(P, ".")) {
            adv(P);
            const jtok *k = cur(P);
            jnode *g;
            if (k->type == JT_NAME) {
                NEW(g, JN_GETATTR, t);
                g->name = k->s;
                g->name_len = k->n;
            } else if (k->type == JT_INT) {
                jnode *lit;
                NEW(g, JN_GETITEM, t);
                NEW(lit, JN_LITERAL, k);
                lit->lit = jv_int(k->i);
                g->b = lit;
            } else {
                return perr(P, k, XLLM_ERR_FORMAT, "%s", "expected a name or number after '.'");
            }
            adv(P);
            g->a = n;
            n = g;
        } else if (is_op(P, "[")) {
            adv(P);
            jnode *idx, *g;
            TRY(parse_subscript(P, &idx));
            if (is_op(P, ","))
                return perr(P, cur(P), XLLM_ERR_UNSUPPORTED, "%s", "tuple subscripts");
            TRY(expect_op(P, "]"));
            if (idx->kind == JN_SLICE) {
                g = idx;
            } else {
                NEW(g, JN_GETITEM, t);
                g->b = idx;
            }
            g->a = n;
            n = g;
        } else if (is_op(P, "(")) {
            jnode *c;
            NEW(c, JN_CALL, t);
            c->a = n;
            TRY(parse_call_args(P, c));
            n = c;
        } else {
            break;
        }
    }
    *out = n;
    return XLLM_OK;
}

static xllm_status parse_seq(parser *P, int kind, const char *close, jnode **out)
{
    jnode *l;
    nvec items = {0};
    NEW(l, kind, cur(P));
    adv(P);
    while (!is_op(P, close)) {
        if (items.n)
            TRY(expect_op(P, ","));
        if (is_op(P, close))
            break;
        jnode *e;
        TRY(parse_expr(P, 1, &e));
        TRY(vpush(P, &items, e));
        if (kind == JN_DICT) {
            TRY(expect_op(P, ":"));
            TRY(parse_expr(P, 1, &e));
            TRY(vpush(P, &items, e));
        }
    }
    adv(P);
    l->args = items.v;
    l->nargs = items.n;
    *out = l;
    return XLLM_OK;
}

static xllm_status parse_primary(parser *P, jnode **out)
{
    const jtok *t = cur(P);
    jnode *n;
    char buf[64];
    TRY(enter(P));
    if (t->type == JT_NAME) {
        static const struct { const char *s; int kind; } lits[] = {
            {"true", JV_BOOL}, {"True", JV_BOOL}, {"false", 0}, {"False", 0}, {"none", JV_NONE}, {"None", JV_NONE}};
        NEW(n, JN_NAME, t);
        n->name = t->s;
        n->name_len = t->n;
        for (size_t i = 0; i < sizeof lits / sizeof *lits; i++)
            if (tok_is(t, JT_NAME, lits[i].s)) {
                n->kind = JN_LITERAL;
                n->lit = lits[i].kind == JV_NONE ? jv_none() : jv_bool(lits[i].kind == JV_BOOL);
            }
        adv(P);
    } else if (t->type == JT_STRING) {
        NEW(n, JN_LITERAL, t);
        size_t total = 0;
        for (size_t k = P->pos; P->t->t[k].type == JT_STRING; k++)
            total += P->t->t[k].n;
        char *s = jarena_alloc(P->a, total + 1);
        if (!s)
            return XLLM_ERR_LIMIT;
        total = 0;
        while (cur(P)->type == JT_STRING) { /* adjacent literals concatenate */
            memcpy(s + total, cur(P)->s, cur(P)->n);
            total += cur(P)->n;
            adv(P);
        }
        s[total] = 0;
        n->lit = jv_str(s, total);
    } else if (t->type == JT_INT || t->type == JT_FLOAT) {
        NEW(n, JN_LITERAL, t);
        n->lit = t->type == JT_INT ? jv_int(t->i) : jv_float(t->f);
        adv(P);
    } else if (is_op(P, "(")) {
        adv(P);
        TRY(parse_tuple(P, 1, 1, &n));
        TRY(expect_op(P, ")"));
    } else if (is_op(P, "[")) {
        TRY(parse_seq(P, JN_LIST, "]", &n));
    } else if (is_op(P, "{")) {
        TRY(parse_seq(P, JN_DICT, "}", &n));
    } else {
        return perr(P, t, XLLM_ERR_FORMAT, "unexpected %s", tok_desc(t, buf, sizeof buf));
    }
    P->depth--;
    *out = n;
    return XLLM_OK;
}

static xllm_status parse_unary(parser *P, int with_filter, jnode **out)
{
    const jtok *t = cur(P);
    jnode *n;
    TRY(enter(P));
    if (is_op(P, "-") || is_op(P, "+")) {
        NEW(n, JN_UNARY, t);
        n->op = (uint8_t)t->s[0];
        adv(P);
        TRY(parse_unary(P, 0, &n->a));
    } else {
        TRY(parse_primary(P, &n));
    }
    TRY(parse_postfix(P, n, &n));
    if (with_filter)
        TRY(parse_filter_expr(P, n, &n));
    P->depth--;
    *out = n;
    return XLLM_OK;
}

/* Binary operator levels, loosest first (Jinja2: + -, ~, * / // %, **). */
static const char *const bin_levels[][5] = {
    {"+", "-", NULL}, {"~", NULL}, {"*", "/", "//", "%", NULL}, {"**", NULL}};

static xllm_status parse_binary(parser *P, int level, jnode **out)
{
    if (level == 4)
        return parse_unary(P, 1, out);
    jnode *l;
    TRY(parse_binary(P, level + 1, &l));
    for (;;) {
        const char *op = NULL;
        for (int i = 0; bin_levels[level][i]; i++)
            if (is_op(P, bin_levels[level][i]))
                op = bin_levels[level][i];
        if (!op)
            break;
        jnode *b;
        NEW(b, JN_BINARY, cur(P));
        b->op = (uint8_t)(strcmp(op, "//") == 0 ? 'F' : strcmp(op, "**") == 0 ? 'P' : op[0]);
        adv(P);
        b->a = l;
        TRY(parse_binary(P, level + 1, &b->b));
        l = b;
    }
    *out = l;
    return XLLM_OK;
}

static xllm_status parse_compare(parser *P, jnode **out)
{
    static const struct { const char *s; int op; } ops[] = {
        {"==", JC_EQ}, {"!=", JC_NE}, {"<", JC_LT}, {"<=", JC_LE}, {">", JC_GT}, {">=", JC_GE}};
    jnode *first, *cmp = NULL;
    nvec rhs = {0};
    uint8_t opv[32];
    TRY(parse_binary(P, 0, &first));
    for (;;) {
        int op = -1;
        const jtok *t = cur(P);
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
            if (is_op(P, ops[i].s))
                op = ops[i].op;
        if (op >= 0) {
            adv(P);
        } else if (is_name(P, "in")) {
            op = JC_IN;
            adv(P);
        } else if (is_name(P, "not") && tok_is(peek(P, 1), JT_NAME, "in")) {
            op = JC_NOTIN;
            adv(P);
            adv(P);
        } else {
            break;
        }
        if (!cmp)
            NEW(cmp, JN_COMPARE, t);
        if (rhs.n >= 32)
            return perr(P, t, XLLM_ERR_LIMIT, "%s", "more than 32 chained comparisons");
        opv[rhs.n] = (uint8_t)op;
        jnode *e;
        TRY(parse_binary(P, 0, &e));
        TRY(vpush(P, &rhs, e));
    }
    if (!cmp) {
        *out = first;
        return XLLM_OK;
    }
    cmp->a = first;
    cmp->args = rhs.v;
    cmp->nargs = rhs.n;
    cmp->ops = jarena_alloc(P->a, rhs.n);
    if (!cmp->ops)
        return XLLM_ERR_LIMIT;
    memcpy(cmp->ops, opv, rhs.n);
    *out = cmp;
    return XLLM_OK;
}

static xllm_status parse_not(parser *P, jnode **out)
{
    if (is_name(P, "not")) {
        jnode *n;
        NEW(n, JN_UNARY, cur(P));
        n->op = 'n';
        adv(P);
        TRY(enter(P));
        TRY(parse_not(P, &n->a));
        P->depth--;
        *out = n;
        return XLLM_OK;
    }
    return parse_compare(P, out);
}

static xllm_status parse_logic(parser *P, int is_or, jnode **out)
{
    jnode *l;
    TRY(is_or ? parse_logic(P, 0, &l) : parse_not(P, &l));
    while (is_name(P, is_or ? "or" : "and")) {
        jnode *b;
        NEW(b, is_or ? JN_OR : JN_AND, cur(P));
        adv(P);
        b->a = l;
        TRY(is_or ? parse_logic(P, 0, &b->b) : parse_not(P, &b->b));
        l = b;
    }
    *out = l;
    return XLLM_OK;
}

static xllm_status parse_expr(parser *P, int condexpr, jnode **out)
{
    jnode *e;
    TRY(enter(P));
    TRY(parse_logic(P, 1, &e));
    while (condexpr && is_name(P, "if")) {
        jnode *c;
        NEW(c, JN_COND, cur(P));
        adv(P);
        c->b = e;
        TRY(parse_logic(P, 1, &c->a));
        if (is_name(P, "else")) {
            adv(P);
            TRY(parse_expr(P, 1, &c->c));
        }
        e = c;
    }
    P->depth--;
    *out = e;
    return XLLM_OK;
}

/* Does the current token end a tuple (in a tag or before "in" / "recursive")? */
static int tuple_end(parser *P)
{
    const jtok *t = cur(P);
    return t->type == JT_VAR_END || t->type == JT_BLOCK_END || t->type == JT_EOF || is_op(P, ")") ||
           is_name(P, "in") || is_name(P, "recursive") || is_name(P, "if") || is_op(P, "=");
}

static xllm_status parse_tuple(parser *P, int condexpr, int explicit_paren, jnode **out)
{
    const jtok *t = cur(P);
    nvec items = {0};
    int comma = 0;
    if (explicit_paren && is_op(P, ")")) {
        jnode *n;
        NEW(n, JN_TUPLE, t);
        *out = n;
        return XLLM_OK;
    }
    for (;;) {
        jnode *e;
        TRY(parse_expr(P, condexpr, &e));
        TRY(vpush(P, &items, e));
        if (!is_op(P, ","))
            break;
        comma = 1;
        adv(P);
        if (tuple_end(P))
            break;
    }
    if (!comma) {
        *out = items.v[0];
        return XLLM_OK;
    }
    jnode *n;
    NEW(n, JN_TUPLE, t);
    n->args = items.v;
    n->nargs = items.n;
    *out = n;
    return XLLM_OK;
}

/* ---- statements ---- */
static xllm_status parse_body(parser *P, const char *const *ends, jnode **body, const jtok **end_tok);

static xllm_status block_end(parser *P) { return expect_type(P, JT_BLOCK_END, "end of statement block"); }

/* Names of an assignment target: a, or a, b, or (a, b). */
static xllm_status parse_names(parser *P, jnode *n)
{
    const char *names[32];
    size_t lens[32], k = 0;
    int paren = is_op(P, "(");
    if (paren)
        adv(P);
    for (;;) {
        const jtok *t = cur(P);
        TRY(expect_type(P, JT_NAME, "a name"));
        if (k >= 32)
            return perr(P, t, XLLM_ERR_LIMIT, "%s", "more than 32 names in one assignment");
        names[k] = t->s;
        lens[k++] = t->n;
        if (!is_op(P, ","))
            break;
        adv(P);
        if (paren && is_op(P, ")"))
            break;
    }
    if (paren)
        TRY(expect_op(P, ")"));
    n->names = jarena_alloc(P->a, k * sizeof *n->names);
    n->name_lens = jarena_alloc(P->a, k * sizeof *n->name_lens);
    if (!n->names || !n->name_lens)
        return XLLM_ERR_LIMIT;
    memcpy(n->names, names, k * sizeof *names);
    memcpy(n->name_lens, lens, k * sizeof *lens);
    n->nnames = k;
    return XLLM_OK;
}

static xllm_status parse_for(parser *P, jnode *n)
{
    static const char *const ends[] = {"endfor", "else", NULL};
    const jtok *e;
    TRY(parse_names(P, n));
    if (!is_name(P, "in"))
        return perr(P, cur(P), XLLM_ERR_FORMAT, "%s", "expected 'in' in a for loop");
    adv(P);
    TRY(parse_tuple(P, 0, 0, &n->a));
    if (is_name(P, "if")) {
        adv(P);
        TRY(parse_expr(P, 1, &n->b));
    }
    if (is_name(P, "recursive"))
        return perr(P, cur(P), XLLM_ERR_UNSUPPORTED, "%s", "recursive for loops");
    TRY(block_end(P));
    TRY(parse_body(P, ends, &n->body, &e));
    if (tok_is(e, JT_NAME, "else")) {
        static const char *const ends2[] = {"endfor", NULL};
        TRY(block_end(P));
        TRY(parse_body(P, ends2, &n->c, &e));
    }
    return block_end(P);
}

static xllm_status parse_if(parser *P, jnode *n)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    const jtok *e;
    TRY(parse_tuple(P, 0, 0, &n->a)); /* Jinja2: no conditional expression as an if test */
    TRY(block_end(P));
    TRY(parse_body(P, ends, &n->body, &e));
    if (tok_is(e, JT_NAME, "elif")) {
        jnode *el;
        NEW(el, JN_IF, e);
        n->c = el;
        return parse_if(P, el);
    }
    if (tok_is(e, JT_NAME, "else")) {
        static const char *const ends2[] = {"endif", NULL};
        TRY(block_end(P));
        TRY(parse_body(P, ends2, &n->d, &e));
    }
    return block_end(P);
}

/* Filters of a block: name(args)|name(args)... applied to a JN_CAPTURE. */
static xllm_status parse_block_filters(parser *P, jnode **out)
{
    jnode *cap;
    NEW(cap, JN_CAPTURE, cur(P));
    jnode *n = cap;
    do {
        if (is_op(P, "|"))
            adv(P);
        TRY(parse_filter(P, n, &n));
    } while (is_op(P, "|"));
    *out = n;
    return XLLM_OK;
}

static xllm_status parse_set(parser *P, jnode *n)
{
    const jtok *t = cur(P);
    TRY(expect_type(P, JT_NAME, "a name after set"));
    jnode *target;
    NEW(target, JN_NAME, t);
    target->name = t->s;
    target->name_len = t->n;
    if (is_op(P, ".")) {
        adv(P);
        const jtok *k = cur(P);
        TRY(expect_type(P, JT_NAME, "an attribute name"));
        jnode *g;
        NEW(g, JN_GETATTR, k);
        g->a = target;
        g->name = k->s;
        g->name_len = k->n;
        target = g;
    } else if (is_op(P, ",")) {
        P->pos--;
        NEW(target, JN_TUPLE, t);
        TRY(parse_names(P, target));
    }
    n->a = target;
    if (is_op(P, "=")) {
        adv(P);
        TRY(parse_tuple(P, 1, 0, &n->b));
        return block_end(P);
    }
    if (target->kind != JN_NAME)
        return perr(P, cur(P), XLLM_ERR_FORMAT, "%s", "a block set assigns one name");
    n->kind = JN_SETBLOCK;
    if (is_op(P, "|"))
        TRY(parse_block_filters(P, &n->b));
    static const char *const ends[] = {"endset", NULL};
    const jtok *e;
    TRY(block_end(P));
    TRY(parse_body(P, ends, &n->body, &e));
    return block_end(P);
}

/* (a, b=default, ...) for macros and call blocks. */
static xllm_status parse_params(parser *P, jnode *n)
{
    const char *names[64];
    size_t lens[64], k = 0;
    nvec defs = {0};
    TRY(expect_op(P, "("));
    while (!is_op(P, ")")) {
        if (k)
            TRY(expect_op(P, ","));
        const jtok *t = cur(P);
        TRY(expect_type(P, JT_NAME, "a parameter name"));
        if (k >= 64)
            return perr(P, t, XLLM_ERR_LIMIT, "%s", "more than 64 parameters");
        names[k] = t->s;
        lens[k++] = t->n;
        jnode *d = NULL;
        if (is_op(P, "=")) {
            adv(P);
            TRY(parse_expr(P, 1, &d));
        } else if (defs.n && defs.v[defs.n - 1]) {
            return perr(P, t, XLLM_ERR_FORMAT, "%s", "non-default argument follows default argument");
        }
        TRY(vpush(P, &defs, d));
    }
    adv(P);
    n->names = jarena_alloc(P->a, (k ? k : 1) * sizeof *n->names);
    n->name_lens = jarena_alloc(P->a, (k ? k : 1) * sizeof *n->name_lens);
    if (!n->names || !n->name_lens)
        return XLLM_ERR_LIMIT;
    memcpy(n->names, names, k * sizeof *names);
    memcpy(n->name_lens, lens, k * sizeof *lens);
    n->nnames = k;
    n->args = defs.v;
    n->nargs = defs.n;
    return XLLM_OK;
}

static xllm_status parse_macro(parser *P, jnode *n)
{
    static const char *const ends[] = {"endmacro", NULL};
    const jtok *t = cur(P), *e;
    TRY(expect_type(P, JT_NAME, "a macro name"));
    n->name = t->s;
    n->name_len = t->n;
    TRY(parse_params(P, n));
    TRY(block_end(P));
    TRY(parse_body(P, ends, &n->body, &e));
    return block_end(P);
}

static xllm_status parse_call_block(parser *P, jnode *n)
{
    static const char *const ends[] = {"endcall", NULL};
    const jtok *e;
    n->name = "caller";
    n->name_len = 6;
    if (is_op(P, "("))
        TRY(parse_params(P, n));
    TRY(parse_expr(P, 1, &n->a));
    if (n->a->kind != JN_CALL)
        return perr(P, cur(P), XLLM_ERR_FORMAT, "%s", "expected a call after 'call'");
    TRY(block_end(P));
    TRY(parse_body(P, ends, &n->body, &e));
    return block_end(P);
}

static xllm_status parse_with(parser *P, jnode *n)
{
    static const char *const ends[] = {"endwith", NULL};
    const char *names[32];
    size_t lens[32], k = 0;
    nvec vals = {0};
    const jtok *e;
    while (cur(P)->type != JT_BLOCK_END) {
        if (k)
            TRY(expect_op(P, ","));
        const jtok *t = cur(P);
        TRY(expect_type(P, JT_NAME, "a name"));
        if (k >= 32)
            return perr(P, t, XLLM_ERR_LIMIT, "%s", "more than 32 names in with");
        names[k] = t->s;
        lens[k++] = t->n;
        TRY(expect_op(P, "="));
        jnode *v;
        TRY(parse_expr(P, 1, &v));
        TRY(vpush(P, &vals, v));
    }
    n->names = jarena_alloc(P->a, (k ? k : 1) * sizeof *n->names);
    n->name_lens = jarena_alloc(P->a, (k ? k : 1) * sizeof *n->name_lens);
    if (!n->names || !n->name_lens)
        return XLLM_ERR_LIMIT;
    memcpy(n->names, names, k * sizeof *names);
    memcpy(n->name_lens, lens, k * sizeof *lens);
    n->nnames = k;
    n->args = vals.v;
    n->nargs = vals.n;
    TRY(block_end(P));
    TRY(parse_body(P, ends, &n->body, &e));
    return block_end(P);
}

static xllm_status parse_statement(parser *P, jnode **out)
{
    const jtok *t = cur(P);
    jnode *n;
    static const char *const unsupported[] = {"block", "extends", "include", "import", "from", "autoescape",
                                              "trans", NULL};
    static const char *const gen_ends[] = {"endgeneration", NULL};
    static const char *const filter_ends[] = {"endfilter", NULL};
    if (t->type != JT_NAME)
        return perr(P, t, XLLM_ERR_FORMAT, "%s", "expected a tag name after '{%'");
    NEW(n, JN_TEXT, t);
    adv(P);
    if (tok_is(t, JT_NAME, "for")) {
        n->kind = JN_FOR;
        TRY(parse_for(P, n));
    } else if (tok_is(t, JT_NAME, "if")) {
        n->kind = JN_IF;
        TRY(parse_if(P, n));
    } else if (tok_is(t, JT_NAME, "set")) {
        n->kind = JN_SET;
        TRY(parse_set(P, n));
    } else if (tok_is(t, JT_NAME, "macro")) {
        n->kind = JN_MACRO;
        TRY(parse_macro(P, n));
    } else if (tok_is(t, JT_NAME, "call")) {
        n->kind = JN_CALLBLOCK;
        TRY(parse_call_block(P, n));
    } else if (tok_is(t, JT_NAME, "filter")) {
        const jtok *e;
        n->kind = JN_FILTERBLOCK;
        TRY(parse_block_filters(P, &n->b));
        TRY(block_end(P));
        TRY(parse_body(P, filter_ends, &n->body, &e));
        TRY(block_end(P));
    } else if (tok_is(t, JT_NAME, "break") || tok_is(t, JT_NAME, "continue")) {
        n->kind = tok_is(t, JT_NAME, "break") ? JN_BREAK : JN_CONTINUE;
        TRY(block_end(P));
    } else if (tok_is(t, JT_NAME, "with")) {
        n->kind = JN_WITH;
        TRY(parse_with(P, n));
    } else if (tok_is(t, JT_NAME, "generation")) {
        const jtok *e;
        n->kind = JN_GENERATION;
        TRY(block_end(P));
        TRY(parse_body(P, gen_ends, &n->body, &e));
        TRY(block_end(P));
    } else {
        char nm[64];
        snprintf(nm, sizeof nm, "%.*s", (int)(t->n > 40 ? 40 : t->n), t->s);
        for (int i = 0; unsupported[i]; i++)
            if (tok_is(t, JT_NAME, unsupported[i]))
                return perr(P, t, XLLM_ERR_UNSUPPORTED, "the '%s' tag", nm);
        return perr(P, t, XLLM_ERR_FORMAT, "encountered unknown tag '%s'", nm);
    }
    *out = n;
    return XLLM_OK;
}

/* Statements until a block whose tag name is in ends (NULL: until EOF); the end
 * tag's name token is consumed and returned in *end_tok. */
static xllm_status parse_body(parser *P, const char *const *ends, jnode **body, const jtok **end_tok)
{
    jnode *head = NULL, **tail = &head;
    TRY(enter(P));
    for (;;) {
        const jtok *t = cur(P);
        jnode *n = NULL;
        if (t->type == JT_EOF) {
            if (ends)
                return perr(P, t, XLLM_ERR_FORMAT, "unexpected end of template, expected '%s'", ends[0]);
            break;
        }
        if (t->type == JT_TEXT) {
            NEW(n, JN_TEXT, t);
            n->name = t->s;
            n->name_len = t->n;
            adv(P);
        } else if (t->type == JT_VAR_BEGIN) {
            NEW(n, JN_OUTPUT, t);
            adv(P);
            TRY(parse_tuple(P, 1, 0, &n->a));
            TRY(expect_type(P, JT_VAR_END, "end of print statement"));
        } else if (t->type == JT_BLOCK_BEGIN) {
            const jtok *k = peek(P, 1);
            int is_end = 0;
            for (int i = 0; ends && ends[i]; i++)
                is_end |= tok_is(k, JT_NAME, ends[i]);
            if (is_end) {
                adv(P);
                adv(P);
                *end_tok = k;
                break;
            }
            if (k->type == JT_NAME && k->n > 3 && memcmp(k->s, "end", 3) == 0) {
                char nm[64];
                snprintf(nm, sizeof nm, "%.*s", (int)(k->n > 40 ? 40 : k->n), k->s);
                return perr(P, k, XLLM_ERR_FORMAT, "unexpected '%s'", nm);
            }
            if (tok_is(k, JT_NAME, "elif") || tok_is(k, JT_NAME, "else"))
                return perr(P, k, XLLM_ERR_FORMAT, "unexpected '%s'", tok_is(k, JT_NAME, "else") ? "else" : "elif");
            adv(P);
            TRY(parse_statement(P, &n));
        } else {
            char buf[64];
            return perr(P, t, XLLM_ERR_FORMAT, "unexpected %s", tok_desc(t, buf, sizeof buf));
        }
        *tail = n;
        tail = &n->next;
    }
    P->depth--;
    *body = head;
    return XLLM_OK;
}

/* Unknown filters and tests are errors when the template is compiled, except where
 * Jinja2 compiles them in a "soft" frame: directly inside an if statement (test,
 * bodies, elif, else) or a conditional expression; there they fail only when
 * evaluated. Bodies of for, macro, call, set, filter, with and generation blocks
 * start hard again. */
static xllm_status check_unknown(const jnode *n, int soft, int depth)
{
    if (depth > 4 * XLLM_JINJA_MAX_DEPTH)
        return XLLM_OK;
    for (; n; n = n->next) {
        int in = soft, body = soft;
        switch (n->kind) {
        case JN_IF:
        case JN_COND: in = body = 1; break;
        case JN_FOR:
        case JN_MACRO:
        case JN_CALLBLOCK:
        case JN_WITH:
        case JN_GENERATION: body = 0; break;
        case JN_SETBLOCK:
        case JN_FILTERBLOCK: in = body = 0; break;
        case JN_FILTER:
        case JN_TEST:
            if (n->filter_id < 0 && !soft) {
                char nm[64];
                snprintf(nm, sizeof nm, "%.*s", (int)(n->name_len > 40 ? 40 : n->name_len), n->name);
                return xllm_fail(XLLM_ERR_FORMAT, "template syntax error at line %d, column %d: no %s named '%s'",
                                 n->line, n->col, n->kind == JN_FILTER ? "filter" : "test", nm);
            }
            break;
        }
        xllm_status st;
        const jnode *kids[4] = {n->a, n->b, n->c, n->d};
        for (int i = 0; i < 4; i++) {
            /* for: a iter, b filter, c else body; if: c elif, d else body */
            int s2 = (n->kind == JN_FOR && i == 2) ? body : (n->kind == JN_IF && i >= 2) ? body : in;
            if (kids[i] && (st = check_unknown(kids[i], s2, depth + 1)))
                return st;
        }
        if (n->body && (st = check_unknown(n->body, body, depth + 1)))
            return st;
        for (size_t i = 0; i < n->nargs; i++)
            if (n->args[i] && (st = check_unknown(n->args[i], in, depth + 1)))
                return st;
        for (size_t i = 0; i < n->nkw; i++)
            if ((st = check_unknown(n->kwargs[i], in, depth + 1)))
                return st;
    }
    return XLLM_OK;
}

xllm_status jinja_parse_tokens(jarena *a, const jtoks *toks, jnode **root)
{
    parser P = {a, toks, 0, 0};
    const jtok *e = NULL;
    xllm_status st = parse_body(&P, NULL, root, &e);
    return st ? st : check_unknown(*root, 0, 0);
}
