/* json_schema_str.c - the leaves of the schema converter: GBNF literals,
 * string schemas (length, format, pattern: a regex subset translated to the
 * JSON-escaped form of each character), integer ranges as digit grammars,
 * and the shared rules (value, string, number, ...). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "runtime/json_schema.h"
#include "runtime/json_schema_impl.h"

xllm_status jc_literal(xllm_buf *b, const char *s, size_t n)
{
    xllm_status st = xllm_buf_puts(b, "\"");
    for (size_t i = 0; i < n && !st; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            st = xllm_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7F)
            st = xllm_buf_printf(b, "\\x%02X", ch);
        else
            st = xllm_buf_append(b, s + i, 1);
    }
    return st ? st : xllm_buf_puts(b, "\"");
}

xllm_status jc_value_literal(jconv *c, xllm_buf *b, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "value cannot be written as JSON");
    xllm_status st = jc_literal(b, t, strlen(t));
    free(t); /* jansson's allocation */
    return st;
}

xllm_status jc_write_common(jconv *c)
{
    const char *sp = (c->flags & XLLM_JSON_SPACE) ? "\" \"?" : "\"\"";
    return xllm_buf_printf(
        &c->rules,
        JC_VALUE " ::= " JC_OBJECT " | " JC_ARRAY " | " JC_STRING " | " JC_NUMBER " | \"true\" | \"false\" | \"null\"\n"
        JC_OBJECT " ::= \"{\" (" JC_STRING " \":\" " JC_SP " " JC_VALUE " (\",\" " JC_SP " " JC_STRING " \":\" " JC_SP
        " " JC_VALUE ")*)? \"}\"\n"
        JC_ARRAY " ::= \"[\" (" JC_VALUE " (\",\" " JC_SP " " JC_VALUE ")*)? \"]\"\n"
        JC_STRING " ::= \"\\\"\" " JC_CHAR "* \"\\\"\"\n"
        JC_CHAR " ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F] | [dD] [0-7]) "
        "[0-9a-fA-F]{2})\n"
        JC_NUMBER " ::= " JC_INTEGER " (\".\" [0-9]{1,15})? ([eE] [-+]? [0-9]{1,2})?\n"
        JC_INTEGER " ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n"
        JC_SP " ::= %s\n",
        sp);
}

/* ---- formats ---- */

#define G_DATE "[12] [0-9]{3} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])"
#define G_HHMM "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9]"
#define G_TIME G_HHMM " \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? (\"Z\" | [+-] " G_HHMM ")"
#define G_LABEL "[a-z0-9] ([a-z0-9-]{0,20} [a-z0-9])?"
#define G_HOST G_LABEL " (\".\" " G_LABEL "){0,3}"
#define G_OCTET "(\"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9])"

static const struct {
    const char *name, *gbnf;
} formats[] = {
    {"date", G_DATE},
    {"time", G_TIME},
    {"date-time", G_DATE " \"T\" " G_TIME},
    {"uuid", "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}"},
    {"email", "[a-z0-9] [a-z0-9._+-]{0,20} \"@\" [a-z0-9]{1,20} (\".\" [a-z]{2,6}){1,2}"},
    {"hostname", G_HOST},
    {"ipv4", G_OCTET " \".\" " G_OCTET " \".\" " G_OCTET " \".\" " G_OCTET},
    {"uri", "(\"http\" | \"https\") \"://\" " G_HOST " (\"/\" [a-zA-Z0-9._~-]{0,20}){0,4}"},
};

/* ---- patterns: a regex subset -> the JSON-escaped text of matching strings ---- */

typedef struct rx {
    jconv *c;
    const char *p, *end;
    xllm_buf *b;
    int depth;
} rx;

typedef struct cpset {
    uint32_t r[64][2];
    int n;
    int shorthand; /* contains \d \w \s */
} cpset;

static xllm_status rx_err(rx *r, const char *what)
{
    return jc_fail(r->c, XLLM_ERR_UNSUPPORTED, "pattern: %s (at offset %d)", what, (int)(r->end - r->p));
}

static int add_range(cpset *s, uint32_t lo, uint32_t hi)
{
    if (s->n == 64)
        return -1;
    s->r[s->n][0] = lo, s->r[s->n][1] = hi;
    s->n++;
    return 0;
}

static int cmp_r(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void normalize(cpset *s)
{
    qsort(s->r, (size_t)s->n, sizeof s->r[0], cmp_r);
    int m = 0;
    for (int i = 0; i < s->n; i++) {
        if (m && s->r[i][0] <= s->r[m - 1][1] + 1) {
            if (s->r[i][1] > s->r[m - 1][1])
                s->r[m - 1][1] = s->r[i][1];
        } else
            s->r[m][0] = s->r[i][0], s->r[m][1] = s->r[i][1], m++;
    }
    s->n = m;
}

/* Complement within [0, top]. */
static int complement(cpset *s, uint32_t top)
{
    cpset o = {.n = 0};
    uint32_t next = 0;
    normalize(s);
    for (int i = 0; i < s->n && next <= top; i++) {
        if (s->r[i][0] > next && add_range(&o, next, s->r[i][0] - 1 < top ? s->r[i][0] - 1 : top))
            return -1;
        next = s->r[i][1] + 1;
    }
    if (next <= top && add_range(&o, next, top))
        return -1;
    o.shorthand = s->shorthand;
    *s = o;
    return 0;
}

static int shorthand(cpset *s, char k)
{
    int neg = k == 'D' || k == 'W' || k == 'S', rc = 0;
    cpset t = {.n = 0};
    switch (k | 0x20) {
    case 'd':
        rc = add_range(&t, '0', '9');
        break;
    case 'w':
        rc = add_range(&t, '0', '9') || add_range(&t, 'A', 'Z') || add_range(&t, 'a', 'z') || add_range(&t, '_', '_');
        break;
    default: /* s */
        rc = add_range(&t, '\t', '\r') || add_range(&t, ' ', ' ');
    }
    /* Python's \d \w \s are Unicode-aware: the ASCII members are a safe subset,
     * and the negations are taken within ASCII so they stay a subset too. */
    if (!rc && neg)
        rc = complement(&t, 0x7F);
    for (int i = 0; i < t.n && !rc; i++)
        rc = add_range(s, t.r[i][0], t.r[i][1]);
    s->shorthand = 1;
    return rc;
}

static int hexv(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* One (possibly escaped) character; *set_out set when it was a shorthand. */
static xllm_status rx_char(rx *r, uint32_t *cp, cpset *sh, int *is_set)
{
    *is_set = 0;
    const unsigned char *q = (const unsigned char *)r->p;
    if (*q != '\\') {
        int n = q[0] < 0x80 ? 1 : (q[0] & 0xE0) == 0xC0 ? 2 : (q[0] & 0xF0) == 0xE0 ? 3 : 4;
        if (r->p + n > r->end)
            return rx_err(r, "invalid UTF-8");
        uint32_t v = n == 1 ? q[0] : n == 2 ? q[0] & 0x1F : n == 3 ? q[0] & 0x0F : q[0] & 0x07;
        for (int i = 1; i < n; i++)
            v = (v << 6) | (q[i] & 0x3F);
        r->p += n;
        *cp = v;
        return XLLM_OK;
    }
    if (r->p + 1 >= r->end)
        return rx_err(r, "pattern ends in a backslash");
    char k = r->p[1];
    r->p += 2;
    if (strchr("dwsDWS", k)) {
        *is_set = 1;
        return shorthand(sh, k) ? rx_err(r, "class too complex") : XLLM_OK;
    }
    static const char from[] = "ntrfv0", to[] = "\n\t\r\f\v";
    const char *f = strchr(from, k);
    if (f && k) {
        *cp = k == '0' ? 0 : (uint32_t)(unsigned char)to[f - from];
        return XLLM_OK;
    }
    if (k == 'x' || k == 'u') {
        int nd = k == 'x' ? 2 : 4;
        uint32_t v = 0;
        for (int i = 0; i < nd; i++) {
            int h = r->p < r->end ? hexv(*r->p) : -1;
            if (h < 0)
                return rx_err(r, "bad \\x or \\u escape");
            v = v * 16 + (uint32_t)h, r->p++;
        }
        *cp = v;
        return XLLM_OK;
    }
    if ((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') || (k >= '1' && k <= '9'))
        return rx_err(r, "escape not supported (word boundaries, back-references, \\p classes)");
    *cp = (uint32_t)(unsigned char)k;
    return XLLM_OK;
}

static xllm_status put_cp(xllm_buf *b, uint32_t cp)
{
    return cp < 0x80 ? xllm_buf_printf(b, "\\x%02X", cp) : xllm_buf_printf(b, "\\U%08X", cp);
}

/* A set of characters as JSON string text: a class of the plain ones, plus
 * the escaped forms of '"', '\' and control characters in the set. */
static xllm_status emit_set(rx *r, cpset *s)
{
    normalize(s);
    xllm_buf *b = r->b;
    xllm_status st = xllm_buf_puts(b, "(");
    int alts = 0;
    cpset plain = {.n = 0};
    for (int i = 0; i < s->n; i++) {
        uint32_t lo = s->r[i][0], hi = s->r[i][1];
        if (lo > 0x10FFFF)
            continue;
        if (hi > 0x10FFFF)
            hi = 0x10FFFF;
        for (uint32_t x = lo; x <= hi && x < 0x20; x++) { /* controls */
            static const char *const named[0x20] = {[8] = "b", [9] = "t", [10] = "n", [12] = "f", [13] = "r"};
            char lit[8];
            if (named[x])
                snprintf(lit, sizeof lit, "\\%s", named[x]);
            else
                snprintf(lit, sizeof lit, "\\u%04x", x);
            st = st ? st : xllm_buf_puts(b, alts++ ? " | " : "");
            st = st ? st : jc_literal(b, lit, strlen(lit));
        }
        if (lo <= '"' && hi >= '"' && !st) {
            st = xllm_buf_puts(b, alts++ ? " | " : "");
            st = st ? st : jc_literal(b, "\\\"", 2);
        }
        if (lo <= '\\' && hi >= '\\' && !st) {
            st = xllm_buf_puts(b, alts++ ? " | " : "");
            st = st ? st : jc_literal(b, "\\\\", 2);
        }
        /* plain part: [lo, hi] minus controls, '"', '\', surrogates */
        uint32_t cuts[][2] = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0xD800, 0xDFFF}};
        uint32_t a = lo;
        for (size_t k = 0; k < 4 && a <= hi; k++) {
            if (cuts[k][1] < a)
                continue;
            if (cuts[k][0] > a && add_range(&plain, a, cuts[k][0] - 1 < hi ? cuts[k][0] - 1 : hi))
                return rx_err(r, "class too complex");
            if (cuts[k][0] <= hi)
                a = cuts[k][1] + 1;
            else
                a = hi + 1;
        }
        if (a <= hi && add_range(&plain, a, hi))
            return rx_err(r, "class too complex");
    }
    if (plain.n && !st) {
        st = xllm_buf_puts(b, alts++ ? " | [" : "[");
        for (int i = 0; i < plain.n && !st; i++) {
            st = put_cp(b, plain.r[i][0]);
            if (!st && plain.r[i][1] != plain.r[i][0])
                st = xllm_buf_puts(b, "-") ? XLLM_ERR_LIMIT : put_cp(b, plain.r[i][1]);
        }
        st = st ? st : xllm_buf_puts(b, "]");
    }
    if (!alts && !st)
        return jc_fail(r->c, XLLM_ERR_INVALID_ARGUMENT, "pattern: a character class matches nothing");
    return st ? st : xllm_buf_puts(b, ")");
}

static xllm_status rx_class(rx *r, cpset *s)
{
    r->p++; /* '[' */
    int neg = r->p < r->end && *r->p == '^';
    r->p += neg;
    int first = 1;
    while (r->p < r->end && (*r->p != ']' || first)) {
        first = 0;
        if (r->p + 1 < r->end && r->p[0] == '[' && r->p[1] == ':')
            return rx_err(r, "POSIX classes are not supported");
        uint32_t lo, hi;
        int is_set;
        xllm_status st = rx_char(r, &lo, s, &is_set);
        if (st)
            return st;
        if (is_set)
            continue;
        hi = lo;
        if (r->p + 1 < r->end && *r->p == '-' && r->p[1] != ']') {
            r->p++;
            if ((st = rx_char(r, &hi, s, &is_set)))
                return st;
            if (is_set || hi < lo)
                return rx_err(r, "bad range in a class");
        }
        if (add_range(s, lo, hi))
            return rx_err(r, "class too complex");
    }
    if (r->p >= r->end)
        return rx_err(r, "unterminated class");
    r->p++;
    if (neg && complement(s, s->shorthand ? 0x7F : 0x10FFFF))
        return rx_err(r, "class too complex");
    return XLLM_OK;
}

static xllm_status rx_alt(rx *r);

static int read_int(rx *r, uint32_t *v)
{
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return -1;
    uint64_t x = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        if ((x = x * 10 + (uint64_t)(*r->p++ - '0')) > XLLM_GRAMMAR_MAX_REPEAT)
            return -2;
    *v = (uint32_t)x;
    return 0;
}

/* A quantifier at r->p, written after the atom; a '{' that is no quantifier is literal. */
static xllm_status rx_quant(rx *r, int *was)
{
    *was = 0;
    if (r->p >= r->end)
        return XLLM_OK;
    char q = *r->p;
    if (q == '*' || q == '+' || q == '?') {
        r->p++;
        *was = 1;
        xllm_status st = xllm_buf_printf(r->b, "%c", q);
        if (!st && r->p < r->end && *r->p == '+')
            return rx_err(r, "possessive quantifiers are not supported");
        if (r->p < r->end && *r->p == '?')
            r->p++; /* lazy: the same language */
        return st;
    }
    if (q != '{')
        return XLLM_OK;
    const char *save = r->p++;
    uint32_t m, n;
    int rc = read_int(r, &m), open = 0;
    if (!rc) {
        n = m;
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            open = r->p < r->end && *r->p == '}';
            if (!open)
                rc = read_int(r, &n);
        }
    }
    if (rc == -2)
        return rx_err(r, "repetition count too large");
    if (rc || r->p >= r->end || *r->p != '}') {
        r->p = save;
        return XLLM_OK;
    }
    r->p++;
    if (!open && n < m)
        return rx_err(r, "repetition {m,n} with n < m");
    *was = 1;
    if (r->p < r->end && *r->p == '?')
        r->p++;
    return open ? xllm_buf_printf(r->b, "{%u,}", m) : xllm_buf_printf(r->b, "{%u,%u}", m, n);
}

static xllm_status rx_atom(rx *r)
{
    char ch = *r->p;
    xllm_status st;
    if (ch == '(') {
        r->p++;
        if (r->p < r->end && *r->p == '?') {
            if (r->p + 1 < r->end && r->p[1] == ':')
                r->p += 2;
            else
                return rx_err(r, "lookaround and named groups are not supported");
        }
        if (++r->depth > 32)
            return rx_err(r, "groups nested too deep");
        if ((st = xllm_buf_puts(r->b, "(")) || (st = rx_alt(r)))
            return st;
        r->depth--;
        if (r->p >= r->end || *r->p != ')')
            return rx_err(r, "unbalanced parenthesis");
        r->p++;
        return xllm_buf_puts(r->b, ")");
    }
    cpset s = {.n = 0};
    if (ch == '[') {
        if ((st = rx_class(r, &s)))
            return st;
        return emit_set(r, &s);
    }
    if (ch == '.') {
        r->p++;
        add_range(&s, 0, '\n' - 1);
        add_range(&s, '\n' + 1, 0x10FFFF);
        return emit_set(r, &s);
    }
    if (ch == '^' || ch == '$')
        return rx_err(r, "anchors inside the pattern are not supported");
    if (ch == '*' || ch == '+' || ch == '?')
        return rx_err(r, "quantifier without an atom");
    uint32_t cp;
    int is_set;
    if ((st = rx_char(r, &cp, &s, &is_set)))
        return st;
    if (!is_set && add_range(&s, cp, cp))
        return rx_err(r, "class too complex");
    return emit_set(r, &s);
}

static xllm_status rx_seq(rx *r)
{
    xllm_status st = XLLM_OK;
    int any = 0;
    while (!st && r->p < r->end && *r->p != '|' && *r->p != ')') {
        if ((st = xllm_buf_puts(r->b, any++ ? " " : "")))
            break;
        if ((st = rx_atom(r)))
            break;
        int was;
        if ((st = rx_quant(r, &was)))
            break;
        if (was && r->p < r->end && strchr("*+?", *r->p))
            return rx_err(r, "stacked quantifiers");
    }
    if (!any && !st)
        st = xllm_buf_puts(r->b, "\"\"");
    return st;
}

static xllm_status rx_alt(rx *r)
{
    xllm_status st = rx_seq(r);
    while (!st && r->p < r->end && *r->p == '|') {
        r->p++;
        if (!(st = xllm_buf_puts(r->b, " | ")))
            st = rx_seq(r);
    }
    return st;
}

static xllm_status pattern(jconv *c, const char *pat, xllm_buf *b)
{
    size_t n = strlen(pat);
    rx r = {c, pat, pat + n, b, 0};
    if (n && pat[0] == '^')
        r.p++;
    if (r.end > r.p && r.end[-1] == '$') { /* an anchor unless escaped by an odd run of backslashes */
        size_t bs = 0;
        while (r.end - 1 - (ptrdiff_t)bs > r.p && r.end[-2 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            r.end--;
    }
    xllm_status st = xllm_buf_puts(b, "\"\\\"\" (");
    if (!st)
        st = rx_alt(&r);
    if (!st && r.p != r.end)
        st = rx_err(&r, "unbalanced parenthesis");
    return st ? st : xllm_buf_puts(b, ") \"\\\"\"");
}

static int get_count(const json_t *s, const char *key, long long *v)
{
    json_t *x = json_object_get(s, key);
    if (!x)
        return 0;
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return -1;
    *v = json_integer_value(x);
    return 1;
}

xllm_status jc_string(jconv *c, const json_t *s, xllm_buf *b)
{
    json_t *fmt = json_object_get(s, "format"), *pat = json_object_get(s, "pattern");
    long long min = 0, max = -1;
    int hmin = get_count(s, "minLength", &min), hmax = get_count(s, "maxLength", &max);
    if (hmin < 0 || hmax < 0)
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "minLength/maxLength must be non-negative integers");
    if ((fmt || pat) && (hmin || hmax))
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "minLength/maxLength together with %s", fmt ? "format" : "pattern");
    if (fmt && pat)
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "format together with pattern");
    if (fmt) {
        const char *f = json_string_value(fmt);
        for (size_t i = 0; f && i < sizeof formats / sizeof formats[0]; i++)
            if (!strcmp(f, formats[i].name))
                return xllm_buf_printf(b, "\"\\\"\" %s \"\\\"\"", formats[i].gbnf);
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "format '%s' (known: date, time, date-time, uuid, email, hostname, "
                       "ipv4, uri)", f ? f : "?");
    }
    if (pat) {
        if (!json_is_string(pat))
            return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "pattern must be a string");
        return pattern(c, json_string_value(pat), b);
    }
    if (hmax && max < min)
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "maxLength %lld below minLength %lld", max, min);
    if (min > XLLM_GRAMMAR_MAX_REPEAT || max > XLLM_GRAMMAR_MAX_REPEAT)
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "string length bound above %d", XLLM_GRAMMAR_MAX_REPEAT);
    if (!min && !hmax)
        return xllm_buf_puts(b, JC_STRING);
    if (!hmax)
        return xllm_buf_printf(b, "\"\\\"\" " JC_CHAR "{%lld,} \"\\\"\"", min);
    return xllm_buf_printf(b, "\"\\\"\" " JC_CHAR "{%lld,%lld} \"\\\"\"", min, max);
}

/* ---- integer ranges ---- */

/* Digit strings x..y of the same length (no sign). */
static xllm_status same_len(xllm_buf *b, const char *x, const char *y, size_t n)
{
    if (n == 0)
        return XLLM_OK;
    if (n == 1)
        return x[0] == y[0] ? xllm_buf_printf(b, "\"%c\"", x[0]) : xllm_buf_printf(b, "[%c-%c]", x[0], y[0]);
    if (x[0] == y[0]) {
        xllm_status st = xllm_buf_printf(b, "\"%c\" ", x[0]);
        return st ? st : same_len(b, x + 1, y + 1, n - 1);
    }
    int x0 = 1, y9 = 1;
    for (size_t i = 1; i < n; i++)
        x0 &= x[i] == '0', y9 &= y[i] == '9';
    if (x0 && y9)
        return xllm_buf_printf(b, "[%c-%c] [0-9]{%zu}", x[0], y[0], n - 1);
    char nines[24], zeros[24];
    memset(nines, '9', sizeof nines);
    memset(zeros, '0', sizeof zeros);
    xllm_status st = xllm_buf_printf(b, "(\"%c\" (", x[0]);
    st = st ? st : same_len(b, x + 1, nines, n - 1);
    st = st ? st : xllm_buf_puts(b, ")");
    if (!st && x[0] + 1 <= y[0] - 1)
        st = xllm_buf_printf(b, " | [%c-%c] [0-9]{%zu}", x[0] + 1, y[0] - 1, n - 1);
    st = st ? st : xllm_buf_printf(b, " | \"%c\" (", y[0]);
    st = st ? st : same_len(b, zeros, y + 1, n - 1);
    return st ? st : xllm_buf_puts(b, "))");
}

static int ndigits(int64_t v)
{
    int n = 1;
    while (v >= 10)
        v /= 10, n++;
    return n;
}

static int64_t pow10i(int n)
{
    int64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* Non-negative integers in [a, b] (b < 0: unbounded, up to 16 digits). */
static xllm_status nonneg(xllm_buf *b, int64_t a, int64_t hi)
{
    int la = ndigits(a), lb = hi < 0 ? 16 : ndigits(hi);
    xllm_status st = xllm_buf_puts(b, "(");
    for (int L = la; L <= lb && !st; L++) {
        int64_t lo = L == la ? a : pow10i(L - 1), top = (hi >= 0 && L == lb) ? hi : pow10i(L) - 1;
        if (L > la && hi < 0) { /* everything longer than a, at once */
            st = xllm_buf_printf(b, " | [1-9] [0-9]{%d,15}", L - 1);
            break;
        }
        char x[24], y[24];
        snprintf(x, sizeof x, "%lld", (long long)lo);
        snprintf(y, sizeof y, "%lld", (long long)top);
        st = xllm_buf_puts(b, L > la ? " | " : "");
        st = st ? st : same_len(b, x, y, (size_t)L);
    }
    return st ? st : xllm_buf_puts(b, ")");
}

xllm_status jc_int_range(jconv *c, xllm_buf *b, int has_lo, int64_t lo, int has_hi, int64_t hi)
{
    const int64_t lim = 1000000000000000LL; /* 1e15: well inside 16 digits */
    if ((has_lo && (lo > lim || lo < -lim)) || (has_hi && (hi > lim || hi < -lim)))
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "integer bound beyond +-1e15");
    if (has_lo && has_hi && lo > hi)
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "no integer between the minimum and the maximum");
    if (!has_lo && !has_hi)
        return xllm_buf_puts(b, JC_INTEGER);
    xllm_status st = xllm_buf_puts(b, "(");
    int alts = 0;
    if (!has_lo || lo < 0) { /* negative part: "-" then |x| in [max(1, -hi), -lo] */
        int64_t nlo = has_hi && hi < 0 ? -hi : 1;
        st = st ? st : xllm_buf_puts(b, "\"-\" ");
        st = st ? st : nonneg(b, nlo, has_lo ? -lo : -1);
        alts++;
    }
    if (!has_hi || hi >= 0) {
        st = st ? st : xllm_buf_puts(b, alts ? " | " : "");
        st = st ? st : nonneg(b, has_lo && lo > 0 ? lo : 0, has_hi ? hi : -1);
    }
    return st ? st : xllm_buf_puts(b, ")");
}
