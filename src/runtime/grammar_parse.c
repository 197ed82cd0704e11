/* grammar_parse.c - the GBNF parser (llama.cpp's grammar syntax): rules,
 * alternation, groups, * + ? {m} {m,} {m,n}, literals and character classes
 * with escapes, '.', comments. Repetitions and groups become generated rules;
 * errors carry line:column. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "runtime/grammar_impl.h"

#define REPEAT_INF UINT32_MAX

typedef struct parser {
    const char *s, *p, *end;
    gb_builder b;
    int depth;
    const char *name; /* user rule being parsed (names generated rules) */
    size_t name_len;
    int line;         /* its line */
} parser;

static void line_col(const parser *P, const char *at, int *line, int *col)
{
    *line = 1, *col = 1;
    for (const char *q = P->s; q < at && q < P->end; q++) {
        if (*q == '\n')
            (*line)++, *col = 1;
        else if (((unsigned char)*q & 0xC0) != 0x80)
            (*col)++;
    }
}

__attribute__((format(printf, 3, 4))) static xllm_status perr(const parser *P, const char *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    line_col(P, at, &line, &col);
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar %d:%d: %s", line, col, msg);
}

/* A status from the builder (limits, memory, empty class) gets the position. */
static xllm_status pwrap(const parser *P, const char *at, xllm_status st)
{
    if (!st)
        return st;
    int line, col;
    line_col(P, at, &line, &col);
    return xllm_fail_wrap(st, "grammar %d:%d", line, col);
}

static int is_word(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void skip_space(parser *P, int newline_ok)
{
    while (P->p < P->end) {
        char c = *P->p;
        if (c == ' ' || c == '\t')
            P->p++;
        else if (c == '#')
            while (P->p < P->end && *P->p != '\n')
                P->p++;
        else if ((c == '\n' || c == '\r') && newline_ok)
            P->p++;
        else
            break;
    }
}

static xllm_status rule_named(parser *P, const char *name, size_t len, const char *at, uint32_t *id)
{
    for (uint32_t r = 0; r < P->b.n_rules; r++)
        if (P->b.rules[r].user && strlen(P->b.rules[r].name) == len && !memcmp(P->b.rules[r].name, name, len)) {
            *id = r;
            return XLLM_OK;
        }
    xllm_status st = gb_new_rule(&P->b, name, len, id);
    if (st)
        return pwrap(P, at, st);
    P->b.rules[*id].user = 1;
    line_col(P, at, &P->b.rules[*id].ref_line, &P->b.rules[*id].ref_col);
    return XLLM_OK;
}

static xllm_status new_generated(parser *P, uint32_t *id)
{
    xllm_status st = gb_new_rule(&P->b, P->name, P->name_len, id);
    if (st)
        return pwrap(P, P->p, st);
    P->b.rules[*id].defined = 1;
    P->b.rules[*id].ref_line = P->line;
    return XLLM_OK;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One UTF-8 character of the source. */
static xllm_status source_char(parser *P, uint32_t *cp)
{
    const unsigned char *q = (const unsigned char *)P->p;
    size_t left = (size_t)(P->end - P->p);
    unsigned c = q[0];
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || (size_t)n > left)
        return perr(P, P->p, "invalid UTF-8 in grammar text");
    uint32_t v = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (int i = 1; i < n; i++) {
        if ((q[i] & 0xC0) != 0x80)
            return perr(P, P->p, "invalid UTF-8 in grammar text");
        v = (v << 6) | (q[i] & 0x3F);
    }
    static const uint32_t minv[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < minv[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return perr(P, P->p, "invalid UTF-8 in grammar text");
    P->p += n;
    *cp = v;
    return XLLM_OK;
}

/* One character of a literal or class, escapes decoded. */
static xllm_status parse_char(parser *P, uint32_t *cp)
{
    if (*P->p != '\\')
        return source_char(P, cp);
    const char *at = P->p++;
    if (P->p >= P->end)
        return perr(P, at, "unfinished escape");
    char c = *P->p++;
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int i = 0; i < digits; i++) {
            int h = P->p < P->end ? hexval(*P->p) : -1;
            if (h < 0)
                return perr(P, at, "escape \\%c needs %d hex digits", c, digits);
            v = v * 16 + (uint32_t)h;
            P->p++;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return perr(P, at, "escape gives U+%X, not a Unicode scalar value", v);
        *cp = v;
        return XLLM_OK;
    }
    static const char from[] = "ntr\\\"[]-^/.", to[] = "\n\t\r\\\"[]-^/.";
    const char *f = memchr(from, c, sizeof from - 1);
    if (!f)
        return perr(P, at, "unknown escape \\%c", c);
    *cp = (uint32_t)(unsigned char)to[f - from];
    return XLLM_OK;
}

static xllm_status push_byte(parser *P, uint32_t rule, unsigned char c)
{
    xllm_byteset s = {{0}};
    s.w[c >> 6] = 1ull << (c & 63);
    uint32_t idx;
    xllm_status st = gb_set_index(&P->b, &s, &idx);
    if (!st)
        st = gb_push(&P->b, rule, (xllm_gelem){GE_BYTES, idx});
    return pwrap(P, P->p, st);
}

static xllm_status parse_literal(parser *P, uint32_t rule)
{
    const char *at = P->p++;
    while (P->p < P->end && *P->p != '"') {
        uint32_t cp;
        xllm_status st = parse_char(P, &cp);
        if (st)
            return st;
        unsigned char u[4];
        int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n == 1)
            u[0] = (unsigned char)cp;
        else {
            for (int i = n - 1; i > 0; i--, cp >>= 6)
                u[i] = (unsigned char)(0x80 | (cp & 63));
            u[0] = (unsigned char)((n == 2 ? 0xC0 : n == 3 ? 0xE0 : 0xF0) | cp);
        }
        for (int i = 0; i < n; i++)
            if ((st = push_byte(P, rule, u[i])))
                return st;
    }
    if (P->p >= P->end)
        return perr(P, at, "unterminated string literal");
    P->p++;
    return XLLM_OK;
}

static int cmp_range(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Sort, merge, optionally complement, and cut out the surrogates, in place
 * (r has room for n + 2 ranges). Returns the new count. */
static size_t normalize_ranges(uint32_t (*r)[2], size_t n, int negate)
{
    qsort(r, n, sizeof *r, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && r[i][0] <= r[m - 1][1] + 1) {
            if (r[i][1] > r[m - 1][1])
                r[m - 1][1] = r[i][1];
        } else {
            r[m][0] = r[i][0], r[m][1] = r[i][1];
            m++;
        }
    }
    if (negate) {
        uint32_t next = 0;
        size_t k = 0;
        uint32_t tmp[2];
        for (size_t i = 0; i < m; i++) {
            tmp[0] = r[i][0], tmp[1] = r[i][1];
            if (tmp[0] > next)
                r[k][0] = next, r[k][1] = tmp[0] - 1, k++;
            next = tmp[1] + 1;
        }
        if (next <= 0x10FFFF)
            r[k][0] = next, r[k][1] = 0x10FFFF, k++;
        m = k;
    }
    /* drop U+D800..DFFF; only a range spanning all of it splits in two */
    size_t k = 0, split_at = SIZE_MAX;
    uint32_t split_hi = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t lo = r[i][0], hi = r[i][1];
        if (hi < 0xD800 || lo > 0xDFFF)
            r[k][0] = lo, r[k][1] = hi, k++;
        else if (lo < 0xD800 && hi > 0xDFFF)
            split_at = k, split_hi = hi, r[k][0] = lo, r[k][1] = 0xD7FF, k++;
        else if (lo < 0xD800)
            r[k][0] = lo, r[k][1] = 0xD7FF, k++;
        else if (hi > 0xDFFF)
            r[k][0] = 0xE000, r[k][1] = hi, k++;
    }
    if (split_at != SIZE_MAX) {
        memmove(r + split_at + 2, r + split_at + 1, (k - split_at - 1) * sizeof *r);
        r[split_at + 1][0] = 0xE000, r[split_at + 1][1] = split_hi;
        k++;
    }
    return k;
}

static xllm_status push_class(parser *P, uint32_t rule, uint32_t (*r)[2], size_t n, int negate, const char *at)
{
    n = normalize_ranges(r, n, negate);
    xllm_gelem e;
    xllm_status st = gb_class(&P->b, (const uint32_t(*)[2])r, n, &e);
    if (st)
        return st == XLLM_ERR_INVALID_ARGUMENT ? perr(P, at, "character class matches nothing") : pwrap(P, at, st);
    return pwrap(P, at, gb_push(&P->b, rule, e));
}

static xllm_status parse_class(parser *P, uint32_t rule)
{
    const char *at = P->p++;
    int negate = P->p < P->end && *P->p == '^';
    P->p += negate;
    size_t n = 0, cap = 16;
    uint32_t(*r)[2] = xllm_malloc((cap + 2) * sizeof *r);
    xllm_status st = r ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    while (!st && P->p < P->end && *P->p != ']') {
        uint32_t lo, hi;
        if ((st = parse_char(P, &lo)))
            break;
        hi = lo;
        if (P->p + 1 < P->end && *P->p == '-' && P->p[1] != ']') {
            P->p++;
            if ((st = parse_char(P, &hi)))
                break;
            if (hi < lo) {
                st = perr(P, at, "character range is backwards");
                break;
            }
        }
        if (n == cap) {
            void *q = xllm_realloc(r, (cap * 2 + 2) * sizeof *r);
            if (!q) {
                st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
                break;
            }
            r = q, cap *= 2;
        }
        r[n][0] = lo, r[n][1] = hi, n++;
    }
    if (!st && P->p >= P->end)
        st = perr(P, at, "unterminated character class");
    if (!st) {
        P->p++;
        st = push_class(P, rule, r, n, negate, at);
    }
    xllm_free(r);
    return st;
}

static xllm_status parse_count(parser *P, uint32_t *v)
{
    const char *at = P->p;
    uint64_t x = 0;
    if (P->p >= P->end || *P->p < '0' || *P->p > '9')
        return perr(P, at, "expected a number in {m,n}");
    while (P->p < P->end && *P->p >= '0' && *P->p <= '9') {
        x = x * 10 + (uint64_t)(*P->p++ - '0');
        if (x > XLLM_GRAMMAR_MAX_REPEAT)
            return perr(P, at, "repetition count above %d", XLLM_GRAMMAR_MAX_REPEAT);
    }
    *v = (uint32_t)x;
    return XLLM_OK;
}

static xllm_status push_items(parser *P, uint32_t rule, const xllm_gelem *items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        xllm_status st = gb_push(&P->b, rule, items[i]);
        if (st)
            return pwrap(P, P->p, st);
    }
    return XLLM_OK;
}

/* items{min,max}: min copies, then either R ::= items R | "" (max infinite)
 * or max-min nested optionals R_k ::= items R_{k-1} | "" (unambiguous). */
static xllm_status emit_repeat(parser *P, uint32_t rule, const xllm_gelem *items, uint32_t n, uint32_t min,
                               uint32_t max)
{
    xllm_status st = XLLM_OK;
    for (uint32_t i = 0; i < min && !st; i++)
        st = push_items(P, rule, items, n);
    if (st || max == min)
        return st;
    uint32_t prev = 0, r = 0;
    uint32_t k = max == REPEAT_INF ? 1 : max - min;
    for (uint32_t j = 0; j < k; j++) {
        if ((st = new_generated(P, &r)) || (st = pwrap(P, P->p, gb_new_alt(&P->b, r))) ||
            (st = push_items(P, r, items, n)))
            return st;
        if (max == REPEAT_INF || j > 0) {
            uint32_t tail = max == REPEAT_INF ? r : prev;
            if ((st = pwrap(P, P->p, gb_push(&P->b, r, (xllm_gelem){GE_REF, tail}))))
                return st;
        }
        if ((st = pwrap(P, P->p, gb_new_alt(&P->b, r))))
            return st;
        prev = r;
    }
    return pwrap(P, P->p, gb_push(&P->b, rule, (xllm_gelem){GE_REF, r}));
}

static xllm_status parse_repeat(parser *P, uint32_t rule, uint32_t sym_start)
{
    const char *at = P->p;
    gb_alt *a = &P->b.rules[rule].alts[P->b.rules[rule].n_alts - 1];
    if (sym_start == UINT32_MAX || sym_start >= a->n)
        return perr(P, at, "'%c' without anything before it to repeat", *at);
    uint32_t min = 0, max = REPEAT_INF;
    char c = *P->p++;
    if (c == '+')
        min = 1;
    else if (c == '?')
        max = 1;
    else if (c == '{') {
        xllm_status st;
        skip_space(P, 1);
        if ((st = parse_count(P, &min)))
            return st;
        skip_space(P, 1);
        max = min;
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            skip_space(P, 1);
            max = REPEAT_INF;
            if (P->p < P->end && *P->p != '}' && (st = parse_count(P, &max)))
                return st;
            skip_space(P, 1);
        }
        if (P->p >= P->end || *P->p != '}')
            return perr(P, at, "expected '}' to close {m,n}");
        P->p++;
        if (max < min)
            return perr(P, at, "repetition {%u,%u} has max below min", min, max);
    }
    uint32_t n = a->n - sym_start;
    xllm_gelem *items = xllm_malloc(n * sizeof *items);
    if (!items)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    memcpy(items, a->v + sym_start, n * sizeof *items);
    a->n = sym_start;
    P->b.n_elems -= n;
    xllm_status st = emit_repeat(P, rule, items, n, min, max);
    xllm_free(items);
    return st;
}

static xllm_status parse_alternates(parser *P, uint32_t rule, int nested);

static xllm_status parse_sequence(parser *P, uint32_t rule, int nested)
{
    uint32_t sym_start = UINT32_MAX;
    xllm_status st = XLLM_OK;
    while (!st && P->p < P->end) {
        char c = *P->p;
        uint32_t here = P->b.rules[rule].alts[P->b.rules[rule].n_alts - 1].n;
        if (c == '"') {
            sym_start = here;
            st = parse_literal(P, rule);
        } else if (c == '[') {
            sym_start = here;
            st = parse_class(P, rule);
        } else if (c == '.') {
            uint32_t r[4][2] = {{0, 0x10FFFF}};
            sym_start = here;
            st = push_class(P, rule, r, 1, 0, P->p++);
        } else if (is_word(c)) {
            const char *at = P->p;
            while (P->p < P->end && is_word(*P->p))
                P->p++;
            uint32_t ref;
            sym_start = here;
            if (!(st = rule_named(P, at, (size_t)(P->p - at), at, &ref)))
                st = pwrap(P, at, gb_push(&P->b, rule, (xllm_gelem){GE_REF, ref}));
        } else if (c == '(') {
            const char *at = P->p++;
            uint32_t sub;
            if (++P->depth > XLLM_GRAMMAR_MAX_NESTING)
                return perr(P, at, "groups nested deeper than %d", XLLM_GRAMMAR_MAX_NESTING);
            skip_space(P, 1);
            sym_start = here;
            if ((st = new_generated(P, &sub)) || (st = parse_alternates(P, sub, 1)))
                break;
            P->depth--;
            if (P->p >= P->end || *P->p != ')')
                return perr(P, at, "'(' is not closed");
            P->p++;
            st = pwrap(P, at, gb_push(&P->b, rule, (xllm_gelem){GE_REF, sub}));
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            st = parse_repeat(P, rule, sym_start);
            sym_start = UINT32_MAX;
        } else
            break;
        skip_space(P, nested);
    }
    return st;
}

static xllm_status parse_alternates(parser *P, uint32_t rule, int nested)
{
    xllm_status st = pwrap(P, P->p, gb_new_alt(&P->b, rule));
    if (!st)
        st = parse_sequence(P, rule, nested);
    while (!st) {
        const char *save = P->p;
        if (!nested) /* a rule may continue on a line that starts with '|' */
            skip_space(P, 1);
        if (P->p >= P->end || *P->p != '|') {
            P->p = save;
            break;
        }
        P->p++;
        skip_space(P, 1);
        if (!(st = pwrap(P, P->p, gb_new_alt(&P->b, rule))))
            st = parse_sequence(P, rule, nested);
    }
    return st;
}

static xllm_status parse_rule(parser *P)
{
    const char *at = P->p;
    while (P->p < P->end && is_word(*P->p))
        P->p++;
    if (P->p == at)
        return perr(P, at, "expected a rule name");
    size_t len = (size_t)(P->p - at);
    skip_space(P, 0);
    if (P->end - P->p < 3 || memcmp(P->p, "::=", 3) != 0)
        return perr(P, P->p, "expected '::=' after rule name");
    P->p += 3;
    skip_space(P, 1);
    uint32_t rule;
    xllm_status st = rule_named(P, at, len, at, &rule);
    if (st)
        return st;
    if (P->b.rules[rule].defined)
        return perr(P, at, "rule '%.*s' defined twice", (int)len, at);
    P->b.rules[rule].defined = 1;
    P->name = at, P->name_len = len;
    line_col(P, at, &P->line, &P->b.rules[rule].ref_col);
    P->b.rules[rule].ref_line = P->line;
    if ((st = parse_alternates(P, rule, 0)))
        return st;
    skip_space(P, 0);
    if (P->p < P->end && *P->p != '\n' && *P->p != '\r') {
        if (*P->p == ')')
            return perr(P, P->p, "')' without a matching '('");
        return perr(P, P->p, "unexpected '%c'", *P->p);
    }
    return XLLM_OK;
}

xllm_status xllm_grammar_compile(const char *gbnf, size_t len, const char *root, xllm_grammar **out)
{
    *out = NULL;
    if (len > XLLM_GRAMMAR_MAX_TEXT)
        return xllm_fail(XLLM_ERR_LIMIT, "grammar: %zu bytes, more than %u", len, XLLM_GRAMMAR_MAX_TEXT);
    if (!root)
        root = "root";
    parser P;
    memset(&P, 0, sizeof P);
    P.s = P.p = gbnf;
    P.end = gbnf + len;
    xllm_grammar *g = NULL;
    xllm_status st = XLLM_OK;
    skip_space(&P, 1);
    while (!st && P.p < P.end) {
        st = parse_rule(&P);
        skip_space(&P, 1);
    }
    uint32_t root_id = UINT32_MAX;
    for (uint32_t r = 0; !st && r < P.b.n_rules; r++) {
        gb_rule *R = &P.b.rules[r];
        if (R->user && !R->defined)
            st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar %d:%d: undefined rule '%s'", R->ref_line,
                           R->ref_col, R->name);
        else if (R->user && !strcmp(R->name, root))
            root_id = r;
    }
    if (!st && root_id == UINT32_MAX)
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: no rule named '%s'", root);
    if (!st && !(g = xllm_calloc(1, sizeof *g)))
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    if (!st && (st = gb_finish(&P.b, root_id, g)))
        xllm_fail_wrap(st, "grammar");
    if (st) {
        xllm_grammar_free(g);
        g = NULL;
    }
    gb_free(&P.b);
    *out = g;
    return st;
}

void xllm_grammar_free(xllm_grammar *g)
{
    if (!g)
        return;
    xllm_free(g->elems);
    xllm_free(g->alt_start);
    xllm_free(g->rule_alt);
    xllm_free(g->sets);
    xllm_free(g->suffix_min);
    xllm_free(g);
}

uint32_t xllm_grammar_n_rules(const xllm_grammar *g)
{
    return g->n_rules;
}
