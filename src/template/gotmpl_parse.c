/* gotmpl_parse.c - lexer and parser of Go's text/template language, following
 * text/template/parse: delimiters {{ }}, trim markers "{{- " and " -}}",
 * comments, pipelines with declarations, control structures and define/block. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "template/gotmpl_impl.h"

/* ---- arena ---- */
struct gt_block {
    struct gt_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *gt_alloc(gt_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (a->limit && a->used_bytes + n > a->limit)
        return NULL;
    struct gt_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 32768 ? n : 32768;
        b = xllm_malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    a->used_bytes += n;
    memset(p, 0, n);
    return p;
}

char *gt_strndup(gt_arena *a, const char *s, size_t n)
{
    char *p = gt_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

void gt_arena_free(gt_arena *a)
{
    struct gt_block *b = a->head;
    while (b) {
        struct gt_block *next = b->next;
        xllm_free(b);
        b = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}

gt_list *gt_list_new(gt_arena *a)
{
    return gt_alloc(a, sizeof(gt_list));
}

xllm_status gt_list_add(gt_arena *a, gt_list *l, gt_node *n)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        gt_node **nn = gt_alloc(a, sizeof(*nn) * (size_t)cap);
        if (!nn)
            return XLLM_ERR_OUT_OF_MEMORY;
        if (l->n)
            memcpy(nn, l->nodes, sizeof(*nn) * (size_t)l->n);
        l->nodes = nn;
        l->cap = cap;
    }
    l->nodes[l->n++] = n;
    return XLLM_OK;
}

void gt_line_col(const char *src, size_t len, int pos, int *line, int *col)
{
    int ln = 1, c = 1;
    for (size_t i = 0; i < len && (int)i < pos; i++) {
        if (src[i] == '\n') {
            ln++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = ln;
    *col = c;
}

xllm_status gt_fail_at(const xllm_gotmpl *t, int pos, xllm_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    gt_line_col(t->src, t->src_len, pos, &line, &col);
    return xllm_fail(st, "go template: line %d, column %d: %s", line, col, msg);
}

/* ---- lexer: the whole source into a token array ---- */
typedef enum tok_type {
    T_EOF,
    T_TEXT,
    T_LDELIM,
    T_RDELIM,
    T_SPACE,
    T_ASSIGN,  /* = */
    T_DECLARE, /* := */
    T_PIPE,
    T_LPAREN,
    T_RPAREN,
    T_CHAR, /* a printable ASCII char such as ',' */
    T_STRING,
    T_RAWSTRING,
    T_CHARCONST,
    T_NUMBER,
    T_BOOL,
    T_DOT,
    T_FIELD,
    T_VARIABLE,
    T_IDENT,
    /* keywords */
    T_BLOCK,
    T_BREAK,
    T_CONTINUE,
    T_DEFINE,
    T_ELSE,
    T_END,
    T_IF,
    T_NIL,
    T_RANGE,
    T_TEMPLATE,
    T_WITH,
} tok_type;

typedef struct tok {
    tok_type type;
    int pos;
    const char *s;
    size_t n;
} tok;

typedef struct lexer {
    const xllm_gotmpl *t;
    const char *src;
    size_t len, pos;
    tok *toks;
    int ntoks, cap;
    int paren;
    xllm_status st;
} lexer;

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alnum(int c)
{
    return c == '_' || isalnum(c) || c >= 0x80;
}

static xllm_status lex_emit(lexer *l, tok_type type, size_t start, size_t end)
{
    if (l->ntoks == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        if (cap > XLLM_GOTMPL_MAX_TOKENS)
            return gt_fail_at(l->t, (int)start, XLLM_ERR_LIMIT, "template has more than %d tokens",
                              XLLM_GOTMPL_MAX_TOKENS);
        tok *nt = xllm_realloc(l->toks, sizeof(tok) * (size_t)cap);
        if (!nt)
            return XLLM_ERR_OUT_OF_MEMORY;
        l->toks = nt;
        l->cap = cap;
    }
    l->toks[l->ntoks++] = (tok){type, (int)start, l->src + start, end - start};
    return XLLM_OK;
}

static int left_trim_marker(const lexer *l, size_t p)
{
    return p + 1 < l->len && l->src[p] == '-' && is_space((unsigned char)l->src[p + 1]);
}

/* " -}}" or "}}" at p: returns length of the delimiter incl. marker, 0 if none. */
static int at_right_delim(const lexer *l, size_t p, int *trim)
{
    if (p + 3 < l->len + 0 && is_space((unsigned char)l->src[p]) && l->src[p + 1] == '-' &&
        l->src[p + 2] == '}' && l->src[p + 3] == '}') {
        *trim = 1;
        return 4;
    }
    if (p + 1 < l->len && l->src[p] == '}' && l->src[p + 1] == '}') {
        *trim = 0;
        return 2;
    }
    return 0;
}

static int at_terminator(const lexer *l, size_t p)
{
    if (p >= l->len)
        return 1;
    int c = (unsigned char)l->src[p], trim;
    if (is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(')
        return 1;
    return at_right_delim(l, p, &trim) > 0;
}

static const struct {
    const char *w;
    tok_type t;
} keywords[] = {
    {"block", T_BLOCK}, {"break", T_BREAK}, {"continue", T_CONTINUE}, {"define", T_DEFINE},
    {"else", T_ELSE},   {"end", T_END},     {"if", T_IF},             {"nil", T_NIL},
    {"range", T_RANGE}, {"template", T_TEMPLATE}, {"with", T_WITH},
};

static xllm_status lex_fail(lexer *l, size_t pos, const char *msg)
{
    return gt_fail_at(l->t, (int)pos, XLLM_ERR_FORMAT, "%s", msg);
}

/* Go's scanNumber: sign, base prefix, digits with underscores, fraction, exponent, 'i'. */
static int scan_number(lexer *l)
{
    size_t p = l->pos;
    if (p < l->len && (l->src[p] == '+' || l->src[p] == '-'))
        p++;
    const char *digits = "0123456789_";
    if (p + 1 < l->len && l->src[p] == '0' && strchr("xXoObB", l->src[p + 1]) && l->src[p + 1]) {
        char c = (char)tolower((unsigned char)l->src[p + 1]);
        p += 2;
        digits = c == 'x' ? "0123456789abcdefABCDEF_" : c == 'o' ? "01234567_" : "01_";
    }
    while (p < l->len && strchr(digits, l->src[p]) && l->src[p])
        p++;
    if (p < l->len && l->src[p] == '.') {
        p++;
        while (p < l->len && strchr(digits, l->src[p]) && l->src[p])
            p++;
    }
    if (strlen(digits) == 11 && p < l->len && (l->src[p] == 'e' || l->src[p] == 'E')) {
        p++;
        if (p < l->len && (l->src[p] == '+' || l->src[p] == '-'))
            p++;
        while (p < l->len && isdigit((unsigned char)l->src[p]))
            p++;
    }
    if (strlen(digits) == 23 && p < l->len && (l->src[p] == 'p' || l->src[p] == 'P')) {
        p++;
        if (p < l->len && (l->src[p] == '+' || l->src[p] == '-'))
            p++;
        while (p < l->len && isdigit((unsigned char)l->src[p]))
            p++;
    }
    if (p < l->len && l->src[p] == 'i')
        p++;
    int ok = !(p < l->len && is_alnum((unsigned char)l->src[p]));
    l->pos = ok ? p : p + 1;
    return ok;
}

static xllm_status lex_quote(lexer *l, char q, tok_type type)
{
    size_t start = l->pos++;
    for (;;) {
        if (l->pos >= l->len)
            return lex_fail(l, start, q == '`' ? "unterminated raw quoted string"
                                               : "unterminated quoted string");
        char c = l->src[l->pos++];
        if (q != '`' && c == '\\') {
            if (l->pos < l->len && l->src[l->pos] != '\n') {
                l->pos++;
                continue;
            }
            return lex_fail(l, start, "unterminated quoted string");
        }
        if (q != '`' && c == '\n')
            return lex_fail(l, start, "unterminated quoted string");
        if (c == q)
            break;
    }
    return lex_emit(l, type, start, l->pos);
}

static xllm_status lex_inside(lexer *l)
{
    for (;;) {
        int trim;
        int d = at_right_delim(l, l->pos, &trim);
        if (d) {
            if (l->paren > 0)
                return lex_fail(l, l->pos, "unclosed left paren");
            xllm_status st = lex_emit(l, T_RDELIM, l->pos, l->pos + (size_t)d);
            l->pos += (size_t)d;
            if (trim)
                while (l->pos < l->len && is_space((unsigned char)l->src[l->pos]))
                    l->pos++;
            return st;
        }
        if (l->pos >= l->len)
            return lex_fail(l, l->pos, "unclosed action");
        size_t start = l->pos;
        int c = (unsigned char)l->src[l->pos];
        xllm_status st = XLLM_OK;
        if (is_space(c)) {
            while (l->pos < l->len && is_space((unsigned char)l->src[l->pos]))
                l->pos++;
            /* a trim-marked closing delimiter starts with the last space */
            if (at_right_delim(l, l->pos - 1, &trim) && trim) {
                l->pos--;
                if (l->pos == start)
                    continue;
            }
            st = lex_emit(l, T_SPACE, start, l->pos);
        } else if (c == '=') {
            l->pos++;
            st = lex_emit(l, T_ASSIGN, start, l->pos);
        } else if (c == ':') {
            if (l->pos + 1 >= l->len || l->src[l->pos + 1] != '=')
                return lex_fail(l, start, "expected :=");
            l->pos += 2;
            st = lex_emit(l, T_DECLARE, start, l->pos);
        } else if (c == '|') {
            l->pos++;
            st = lex_emit(l, T_PIPE, start, l->pos);
        } else if (c == '"' || c == '`') {
            st = lex_quote(l, (char)c, c == '"' ? T_STRING : T_RAWSTRING);
        } else if (c == '\'') {
            l->pos++;
            for (;;) {
                if (l->pos >= l->len || l->src[l->pos] == '\n')
                    return lex_fail(l, start, "unterminated character constant");
                char ch = l->src[l->pos++];
                if (ch == '\\' && l->pos < l->len) {
                    l->pos++;
                    continue;
                }
                if (ch == '\'')
                    break;
            }
            st = lex_emit(l, T_CHARCONST, start, l->pos);
        } else if (c == '$' || (c == '.' && !(l->pos + 1 < l->len &&
                                               isdigit((unsigned char)l->src[l->pos + 1])))) {
            l->pos++;
            if (at_terminator(l, l->pos)) {
                st = lex_emit(l, c == '$' ? T_VARIABLE : T_DOT, start, l->pos);
            } else {
                while (l->pos < l->len && is_alnum((unsigned char)l->src[l->pos]))
                    l->pos++;
                if (!at_terminator(l, l->pos))
                    return lex_fail(l, l->pos, "bad character in field or variable name");
                st = lex_emit(l, c == '$' ? T_VARIABLE : T_FIELD, start, l->pos);
            }
        } else if (c == '.' || c == '+' || c == '-' || isdigit(c)) {
            if (!scan_number(l))
                return lex_fail(l, start, "bad number syntax");
            if (l->pos < l->len && (l->src[l->pos] == '+' || l->src[l->pos] == '-'))
                return lex_fail(l, start, "complex numbers are not supported");
            st = lex_emit(l, T_NUMBER, start, l->pos);
        } else if (is_alnum(c)) {
            while (l->pos < l->len && is_alnum((unsigned char)l->src[l->pos]))
                l->pos++;
            if (!at_terminator(l, l->pos))
                return lex_fail(l, l->pos, "bad character after identifier");
            size_t n = l->pos - start;
            tok_type type = T_IDENT;
            for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
                if (strlen(keywords[k].w) == n && memcmp(keywords[k].w, l->src + start, n) == 0)
                    type = keywords[k].t;
            if ((n == 4 && memcmp(l->src + start, "true", 4) == 0) ||
                (n == 5 && memcmp(l->src + start, "false", 5) == 0))
                type = T_BOOL;
            st = lex_emit(l, type, start, l->pos);
        } else if (c == '(') {
            l->paren++;
            l->pos++;
            st = lex_emit(l, T_LPAREN, start, l->pos);
        } else if (c == ')') {
            if (--l->paren < 0)
                return lex_fail(l, start, "unexpected right paren");
            l->pos++;
            st = lex_emit(l, T_RPAREN, start, l->pos);
        } else if (c < 0x80 && isprint(c)) {
            l->pos++;
            st = lex_emit(l, T_CHAR, start, l->pos);
        } else {
            return lex_fail(l, start, "unrecognized character in action");
        }
        if (st)
            return st;
    }
}

static xllm_status lex_all(lexer *l)
{
    xllm_status st;
    while (l->pos < l->len) {
        const char *p = l->len - l->pos >= 2 ? memmem(l->src + l->pos, l->len - l->pos, "{{", 2) : NULL;
        size_t at = p ? (size_t)(p - l->src) : l->len;
        size_t text_end = at;
        if (p && left_trim_marker(l, at + 2))
            while (text_end > l->pos && is_space((unsigned char)l->src[text_end - 1]))
                text_end--;
        if (text_end > l->pos && (st = lex_emit(l, T_TEXT, l->pos, text_end)))
            return st;
        if (!p) {
            l->pos = l->len;
            break;
        }
        l->pos = at + 2;
        size_t after = left_trim_marker(l, l->pos) ? 2 : 0;
        if (l->pos + after + 1 < l->len && l->src[l->pos + after] == '/' &&
            l->src[l->pos + after + 1] == '*') {
            size_t cstart = l->pos + after + 2;
            const char *e = l->len > cstart ? memmem(l->src + cstart, l->len - cstart, "*/", 2) : NULL;
            if (!e)
                return lex_fail(l, at, "unclosed comment");
            int trim;
            size_t q = (size_t)(e - l->src) + 2;
            int d = at_right_delim(l, q, &trim);
            if (!d)
                return lex_fail(l, at, "comment ends before closing delimiter");
            l->pos = q + (size_t)d;
            if (trim)
                while (l->pos < l->len && is_space((unsigned char)l->src[l->pos]))
                    l->pos++;
            continue;
        }
        if ((st = lex_emit(l, T_LDELIM, at, l->pos + after)))
            return st;
        l->pos += after;
        if ((st = lex_inside(l)))
            return st;
    }
    return lex_emit(l, T_EOF, l->len, l->len);
}

/* ---- parser ---- */
typedef struct parser {
    xllm_gotmpl *t;
    gt_arena *a;
    tok *toks;
    int ntoks, i;
    const char **vars; /* declared variable names in scope */
    int nvars, capvars;
    int range_depth;
    int depth;
} parser;

static xllm_status perr(parser *p, const tok *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static xllm_status perr(parser *p, const tok *k, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gt_fail_at(p->t, k->pos, XLLM_ERR_FORMAT, "%s", msg);
}

static const tok *next(parser *p)
{
    const tok *k = &p->toks[p->i];
    if (p->i < p->ntoks - 1)
        p->i++;
    return k;
}

static const tok *peek(parser *p)
{
    return &p->toks[p->i];
}

static const tok *next_nonspace(parser *p)
{
    const tok *k;
    do {
        k = next(p);
    } while (k->type == T_SPACE);
    return k;
}

static const tok *peek_nonspace(parser *p)
{
    int save = p->i;
    const tok *k = next_nonspace(p);
    p->i = save;
    return k;
}

static void backup_to(parser *p, const tok *k)
{
    p->i = (int)(k - p->toks);
}

static const char *describe(const tok *k)
{
    switch (k->type) {
    case T_EOF: return "EOF";
    case T_RDELIM: return "}}";
    case T_RPAREN: return ")";
    default: return "token";
    }
}

static xllm_status unexpected(parser *p, const tok *k, const char *ctx)
{
    return perr(p, k, "unexpected %s \"%.*s\" in %s", describe(k), (int)(k->n > 40 ? 40 : k->n), k->s,
                ctx);
}

static xllm_status push_var(parser *p, const char *name)
{
    if (p->nvars == p->capvars) {
        int cap = p->capvars ? p->capvars * 2 : 16;
        const char **nv = gt_alloc(p->a, sizeof(*nv) * (size_t)cap);
        if (!nv)
            return XLLM_ERR_OUT_OF_MEMORY;
        if (p->nvars)
            memcpy(nv, p->vars, sizeof(*nv) * (size_t)p->nvars);
        p->vars = nv;
        p->capvars = cap;
    }
    p->vars[p->nvars++] = name;
    return XLLM_OK;
}

#define TRY(x)                       \
    do {                             \
        xllm_status try_st_ = (x);   \
        if (try_st_)                 \
            return try_st_;          \
    } while (0)
#define NEW(p, T) ((T *)gt_alloc((p)->a, sizeof(T)))

/* strconv.Unquote of a Go string literal. */
static xllm_status unquote(parser *p, const tok *k, const char **out, size_t *out_len)
{
    char *dst = gt_alloc(p->a, k->n + 1);
    if (!dst)
        return XLLM_ERR_OUT_OF_MEMORY;
    size_t n = 0;
    const char *s = k->s + 1, *e = k->s + k->n - 1;
    if (k->s[0] == '`') {
        for (; s < e; s++)
            if (*s != '\r')
                dst[n++] = *s;
        *out = dst;
        *out_len = n;
        return XLLM_OK;
    }
    char q = k->s[0];
    while (s < e) {
        if (*s != '\\') {
            if (*s == q)
                return perr(p, k, "invalid syntax in quoted string");
            dst[n++] = *s++;
            continue;
        }
        s++;
        char c = *s++;
        const char *simple = "a\ab\bf\fn\nr\rt\tv\v\\\\";
        const char *m = strchr(simple, c);
        if (c && m && ((m - simple) % 2) == 0) {
            dst[n++] = m[1];
        } else if (c == q) {
            dst[n++] = c;
        } else if (c == 'x' || c == 'u' || c == 'U' || (c >= '0' && c <= '7')) {
            int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 3;
            const char *d0 = c >= '0' && c <= '7' ? s - 1 : s;
            if (e - d0 < digits)
                return perr(p, k, "invalid syntax in quoted string");
            char buf[9];
            memcpy(buf, d0, (size_t)digits);
            buf[digits] = 0;
            char *end;
            unsigned long v = strtoul(buf, &end, c >= '0' && c <= '7' ? 8 : 16);
            if (*end)
                return perr(p, k, "invalid syntax in quoted string");
            s = d0 + digits;
            if (c == 'x' || (c >= '0' && c <= '7')) {
                if (v > 255)
                    return perr(p, k, "invalid syntax in quoted string");
                dst[n++] = (char)v;
            } else {
                if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
                    return perr(p, k, "invalid syntax in quoted string");
                unsigned char u[4];
                int un = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
                if (un == 1) {
                    u[0] = (unsigned char)v;
                } else if (un == 2) {
                    u[0] = (unsigned char)(0xC0 | (v >> 6));
                    u[1] = (unsigned char)(0x80 | (v & 0x3F));
                } else if (un == 3) {
                    u[0] = (unsigned char)(0xE0 | (v >> 12));
                    u[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
                    u[2] = (unsigned char)(0x80 | (v & 0x3F));
                } else {
                    u[0] = (unsigned char)(0xF0 | (v >> 18));
                    u[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
                    u[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
                    u[3] = (unsigned char)(0x80 | (v & 0x3F));
                }
                memcpy(dst + n, u, (size_t)un);
                n += (size_t)un;
            }
        } else {
            return perr(p, k, "invalid escape in quoted string");
        }
    }
    *out = dst;
    *out_len = n;
    return XLLM_OK;
}

static int decode_utf8(const unsigned char *s, size_t n, long *cp)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)len > n)
        return 0;
    long v = s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* Go's rule: an underscore only between digits, or between a base prefix and a digit. */
static int underscores_ok(const char *s, size_t n)
{
    size_t i = 0;
    char saw = '^';
    int hex = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        s++, n--;
    if (n >= 2 && s[0] == '0' && strchr("bBoOxX", s[1]) && s[1]) {
        i = 2;
        saw = '0';
        hex = s[1] == 'x' || s[1] == 'X';
    }
    for (; i < n; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || (hex && isxdigit((unsigned char)c))) {
            saw = '0';
        } else if (c == '_') {
            if (saw != '0')
                return 0;
            saw = '_';
        } else {
            if (saw == '_')
                return 0;
            saw = '!';
        }
    }
    return saw != '_';
}

static xllm_status number_node(parser *p, const tok *k, gt_arg *a)
{
    a->kind = GA_NUMBER;
    a->text = k->s;
    a->text_len = k->n;
    if (k->type == T_CHARCONST) {
        const char *s;
        size_t n;
        tok q = *k;
        TRY(unquote(p, &q, &s, &n));
        long cp;
        int used = decode_utf8((const unsigned char *)s, n, &cp);
        if (!used || (size_t)used != n) {
            if (n == 1) {
                cp = (unsigned char)s[0];
            } else {
                return perr(p, k, "malformed character constant");
            }
        }
        a->is_int = a->is_float = a->is_char = 1;
        a->ival = cp;
        a->fval = (double)cp;
        return XLLM_OK;
    }
    if (!underscores_ok(k->s, k->n))
        return perr(p, k, "illegal number syntax: %.*s", (int)k->n, k->s);
    char buf[128];
    size_t n = 0;
    if (k->n >= sizeof buf)
        return perr(p, k, "number literal too long");
    for (size_t i = 0; i < k->n && n + 1 < sizeof buf; i++)
        if (k->s[i] != '_')
            buf[n++] = k->s[i];
    buf[n] = 0;
    if (n && buf[n - 1] == 'i')
        return perr(p, k, "complex numbers are not supported");
    int hex = (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) ||
              (n > 3 && (buf[0] == '-' || buf[0] == '+') && buf[1] == '0' &&
               (buf[2] == 'x' || buf[2] == 'X'));
    int floaty = hex ? (strpbrk(buf, ".pP") != NULL) : (strpbrk(buf, ".eE") != NULL);
    if (!floaty) {
        const char *d = buf;
        int neg = 0;
        if (*d == '+' || *d == '-')
            neg = *d++ == '-';
        int base = 10;
        if (d[0] == '0' && d[1]) {
            char b = (char)tolower((unsigned char)d[1]);
            if (b == 'x') base = 16, d += 2;
            else if (b == 'o') base = 8, d += 2;
            else if (b == 'b') base = 2, d += 2;
            else base = 8, d += 1;
        }
        errno = 0;
        char *end;
        unsigned long long u = strtoull(d, &end, base);
        if (*end || end == d)
            return perr(p, k, "illegal number syntax: %.*s", (int)k->n, k->s);
        if (errno || (!neg && u > (unsigned long long)INT64_MAX) ||
            (neg && u > (unsigned long long)INT64_MAX + 1))
            return perr(p, k, "integer overflow: %.*s", (int)k->n, k->s);
        a->is_int = a->is_float = 1;
        a->ival = neg ? (long long)(0 - u) : (long long)u;
        a->fval = (double)a->ival;
        return XLLM_OK;
    }
    errno = 0;
    char *end;
    double f = strtod(buf, &end);
    if (*end || end == buf || isinf(f)) /* Go: out of range is a syntax error here */
        return perr(p, k, "illegal number syntax: %.*s", (int)k->n, k->s);
    a->is_float = 1;
    a->fval = f;
    if (f >= -9.2e18 && f <= 9.2e18 && (double)(long long)f == f) {
        a->is_int = 1;
        a->ival = (long long)f;
    }
    return XLLM_OK;
}

static xllm_status parse_pipeline(parser *p, const char *ctx, tok_type end, gt_pipe **out);

static xllm_status add_ident(parser *p, gt_arg *a, const char *s, size_t n)
{
    const char **ni = gt_alloc(p->a, sizeof(*ni) * (size_t)(a->nidents + 1));
    if (!ni)
        return XLLM_ERR_OUT_OF_MEMORY;
    if (a->nidents)
        memcpy(ni, a->idents, sizeof(*ni) * (size_t)a->nidents);
    if (!(ni[a->nidents] = gt_strndup(p->a, s, n)))
        return XLLM_ERR_OUT_OF_MEMORY;
    a->idents = ni;
    a->nidents++;
    return XLLM_OK;
}

static xllm_status parse_term(parser *p, gt_arg **out)
{
    const tok *k = next_nonspace(p);
    *out = NULL;
    gt_arg *a = NEW(p, gt_arg);
    if (!a)
        return XLLM_ERR_OUT_OF_MEMORY;
    a->pos = k->pos;
    switch (k->type) {
    case T_IDENT:
        if ((a->fn = gt_func_id(k->s, k->n)) < 0)
            return perr(p, k, "function \"%.*s\" not defined", (int)k->n, k->s);
        a->kind = GA_IDENT;
        a->name = gt_strndup(p->a, k->s, k->n);
        break;
    case T_DOT: a->kind = GA_DOT; break;
    case T_NIL: a->kind = GA_NIL; break;
    case T_VARIABLE: {
        a->kind = GA_VAR;
        a->name = gt_strndup(p->a, k->s, k->n);
        int found = 0;
        for (int i = 0; i < p->nvars; i++)
            found |= strcmp(p->vars[i], a->name) == 0;
        if (!found)
            return perr(p, k, "undefined variable \"%s\"", a->name);
        break;
    }
    case T_FIELD:
        a->kind = GA_FIELD;
        TRY(add_ident(p, a, k->s + 1, k->n - 1));
        break;
    case T_BOOL:
        a->kind = GA_BOOL;
        a->b = k->s[0] == 't';
        break;
    case T_CHARCONST:
    case T_NUMBER: TRY(number_node(p, k, a)); break;
    case T_LPAREN:
        a->kind = GA_PIPE;
        if (++p->depth > XLLM_GOTMPL_MAX_DEPTH)
            return perr(p, k, "nesting deeper than %d", XLLM_GOTMPL_MAX_DEPTH);
        TRY(parse_pipeline(p, "parenthesized pipeline", T_RPAREN, &a->pipe));
        p->depth--;
        break;
    case T_STRING:
    case T_RAWSTRING:
        a->kind = GA_STRING;
        TRY(unquote(p, k, &a->text, &a->text_len));
        break;
    default:
        backup_to(p, k);
        return XLLM_OK;
    }
    *out = a;
    return XLLM_OK;
}

static xllm_status parse_operand(parser *p, gt_arg **out)
{
    gt_arg *node;
    TRY(parse_term(p, &node));
    *out = node;
    if (!node || peek(p)->type != T_FIELD)
        return XLLM_OK;
    const tok *first = peek(p);
    switch (node->kind) {
    case GA_FIELD:
    case GA_VAR:
        while (peek(p)->type == T_FIELD) {
            const tok *f = next(p);
            TRY(add_ident(p, node, f->s + 1, f->n - 1));
        }
        return XLLM_OK;
    case GA_BOOL:
    case GA_STRING:
    case GA_NUMBER:
    case GA_NIL:
    case GA_DOT: return perr(p, first, "unexpected . after term");
    default: break;
    }
    gt_arg *chain = NEW(p, gt_arg);
    if (!chain)
        return XLLM_ERR_OUT_OF_MEMORY;
    chain->kind = GA_CHAIN;
    chain->pos = first->pos;
    chain->node = node;
    while (peek(p)->type == T_FIELD) {
        const tok *f = next(p);
        TRY(add_ident(p, chain, f->s + 1, f->n - 1));
    }
    *out = chain;
    return XLLM_OK;
}

static xllm_status parse_command(parser *p, gt_cmd **out)
{
    gt_cmd *cmd = NEW(p, gt_cmd);
    if (!cmd)
        return XLLM_ERR_OUT_OF_MEMORY;
    cmd->pos = peek_nonspace(p)->pos;
    int cap = 0;
    for (;;) {
        peek_nonspace(p);
        gt_arg *op;
        TRY(parse_operand(p, &op));
        if (op) {
            if (cmd->nargs == cap) {
                cap = cap ? cap * 2 : 4;
                gt_arg **na = gt_alloc(p->a, sizeof(*na) * (size_t)cap);
                if (!na)
                    return XLLM_ERR_OUT_OF_MEMORY;
                if (cmd->nargs)
                    memcpy(na, cmd->args, sizeof(*na) * (size_t)cmd->nargs);
                cmd->args = na;
            }
            cmd->args[cmd->nargs++] = op;
        }
        const tok *k = next(p);
        if (k->type == T_SPACE)
            continue;
        if (k->type == T_RDELIM || k->type == T_RPAREN)
            backup_to(p, k);
        else if (k->type != T_PIPE)
            return unexpected(p, k, "operand");
        break;
    }
    if (cmd->nargs == 0)
        return perr(p, peek(p), "empty command");
    *out = cmd;
    return XLLM_OK;
}

static xllm_status pipe_add_decl(parser *p, gt_pipe *pipe, const tok *v)
{
    const char **nd = gt_alloc(p->a, sizeof(*nd) * (size_t)(pipe->ndecl + 1));
    if (!nd)
        return XLLM_ERR_OUT_OF_MEMORY;
    if (pipe->ndecl)
        memcpy(nd, pipe->decl, sizeof(*nd) * (size_t)pipe->ndecl);
    if (!(nd[pipe->ndecl] = gt_strndup(p->a, v->s, v->n)))
        return XLLM_ERR_OUT_OF_MEMORY;
    pipe->decl = nd;
    pipe->ndecl++;
    return push_var(p, nd[pipe->ndecl - 1]);
}

static xllm_status parse_pipeline(parser *p, const char *ctx, tok_type end, gt_pipe **out)
{
    gt_pipe *pipe = NEW(p, gt_pipe);
    if (!pipe)
        return XLLM_ERR_OUT_OF_MEMORY;
    pipe->pos = peek_nonspace(p)->pos;
    for (;;) { /* declarations */
        const tok *v = peek_nonspace(p);
        if (v->type != T_VARIABLE)
            break;
        next_nonspace(p);
        const tok *after = peek(p);
        const tok *nx = peek_nonspace(p);
        if (nx->type == T_ASSIGN || nx->type == T_DECLARE) {
            pipe->is_assign = nx->type == T_ASSIGN;
            next_nonspace(p);
            TRY(pipe_add_decl(p, pipe, v));
            break;
        }
        if (nx->type == T_CHAR && nx->s[0] == ',') {
            next_nonspace(p);
            TRY(pipe_add_decl(p, pipe, v));
            if (strcmp(ctx, "range") == 0 && pipe->ndecl < 2) {
                tok_type tt = peek_nonspace(p)->type;
                if (tt == T_VARIABLE || tt == T_RDELIM || tt == T_RPAREN)
                    continue;
                return perr(p, nx, "range can only initialize variables");
            }
            return perr(p, nx, "too many declarations in %s", ctx);
        }
        if (after->type == T_SPACE)
            backup_to(p, v);
        else
            backup_to(p, v);
        break;
    }
    int cap = 0;
    for (;;) {
        const tok *k = next_nonspace(p);
        if (k->type == end) {
            if (pipe->ncmds == 0)
                return perr(p, k, "missing value for %s", ctx);
            for (int i = 1; i < pipe->ncmds; i++) {
                gt_arg_kind ak = pipe->cmds[i]->args[0]->kind;
                if (ak == GA_BOOL || ak == GA_DOT || ak == GA_NIL || ak == GA_NUMBER || ak == GA_STRING)
                    return perr(p, k, "non executable command in pipeline stage %d", i + 1);
            }
            *out = pipe;
            return XLLM_OK;
        }
        switch (k->type) {
        case T_BOOL: case T_CHARCONST: case T_DOT: case T_FIELD: case T_IDENT: case T_NUMBER:
        case T_NIL: case T_RAWSTRING: case T_STRING: case T_VARIABLE: case T_LPAREN: {
            backup_to(p, k);
            gt_cmd *cmd = NULL;
            TRY(parse_command(p, &cmd));
            if (pipe->ncmds == cap) {
                cap = cap ? cap * 2 : 4;
                gt_cmd **nc = gt_alloc(p->a, sizeof(*nc) * (size_t)cap);
                if (!nc)
                    return XLLM_ERR_OUT_OF_MEMORY;
                if (pipe->ncmds)
                    memcpy(nc, pipe->cmds, sizeof(*nc) * (size_t)pipe->ncmds);
                pipe->cmds = nc;
            }
            pipe->cmds[pipe->ncmds++] = cmd;
            break;
        }
        default: return unexpected(p, k, ctx);
        }
    }
}

/* A list ends at {{end}} or {{else}}: *stop is T_END / T_ELSE and its token. */
static xllm_status parse_list(parser *p, gt_list **out, tok_type *stop, const tok **stop_tok);

static xllm_status expect_rdelim(parser *p, const char *ctx)
{
    const tok *k = next_nonspace(p);
    if (k->type != T_RDELIM)
        return unexpected(p, k, ctx);
    return XLLM_OK;
}

static xllm_status parse_control(parser *p, gt_node_kind kind, const tok *kw, gt_node **out)
{
    const char *ctx = kind == GN_IF ? "if" : kind == GN_RANGE ? "range" : "with";
    int mark = p->nvars;
    gt_node *n = NEW(p, gt_node);
    if (!n)
        return XLLM_ERR_OUT_OF_MEMORY;
    n->kind = kind;
    n->pos = kw->pos;
    if (++p->depth > XLLM_GOTMPL_MAX_DEPTH)
        return perr(p, kw, "nesting deeper than %d", XLLM_GOTMPL_MAX_DEPTH);
    TRY(parse_pipeline(p, ctx, T_RDELIM, &n->pipe));
    if (kind == GN_RANGE)
        p->range_depth++;
    tok_type stop;
    const tok *stop_tok;
    TRY(parse_list(p, &n->list, &stop, &stop_tok));
    if (kind == GN_RANGE)
        p->range_depth--;
    if (stop == T_ELSE) {
        const tok *k = peek_nonspace(p);
        if (kind != GN_RANGE && (k->type == T_IF || k->type == T_WITH)) {
            /* {{else if}} / {{else with}}: a nested control that owns the one {{end}} */
            next_nonspace(p);
            n->else_list = gt_list_new(p->a);
            gt_node *inner;
            if (!n->else_list)
                return XLLM_ERR_OUT_OF_MEMORY;
            TRY(parse_control(p, k->type == T_IF ? GN_IF : GN_WITH, k, &inner));
            TRY(gt_list_add(p->a, n->else_list, inner));
        } else {
            TRY(expect_rdelim(p, "else"));
            TRY(parse_list(p, &n->else_list, &stop, &stop_tok));
            if (stop != T_END)
                return perr(p, stop_tok, "expected end; found else");
        }
    }
    p->depth--;
    p->nvars = mark;
    *out = n;
    return XLLM_OK;
}

static xllm_status template_name(parser *p, const char *ctx, const char **name)
{
    const tok *k = next_nonspace(p);
    if (k->type != T_STRING && k->type != T_RAWSTRING)
        return unexpected(p, k, ctx);
    size_t n;
    return unquote(p, k, name, &n);
}

static xllm_status add_define(parser *p, const char *name, gt_list *list, const tok *at)
{
    xllm_gotmpl *t = p->t;
    int empty = 1;
    for (int i = 0; i < list->n && empty; i++) {
        gt_node *nd = list->nodes[i];
        if (nd->kind != GN_TEXT)
            empty = 0;
        for (size_t j = 0; empty && nd->kind == GN_TEXT && j < nd->text_len; j++)
            empty = is_space((unsigned char)nd->text[j]);
    }
    for (int i = 0; i < t->ndefs; i++) {
        if (strcmp(t->defs[i].name, name) != 0)
            continue;
        int old_empty = t->defs[i].list->n == 0;
        if (!empty && !old_empty)
            return perr(p, at, "multiple definition of template \"%s\"", name);
        if (!empty)
            t->defs[i].list = list;
        return XLLM_OK;
    }
    if (t->ndefs >= XLLM_GOTMPL_MAX_DEFINES)
        return perr(p, at, "more than %d defined templates", XLLM_GOTMPL_MAX_DEFINES);
    gt_define *nd = gt_alloc(p->a, sizeof(*nd) * (size_t)(t->ndefs + 1));
    if (!nd)
        return XLLM_ERR_OUT_OF_MEMORY;
    if (t->ndefs)
        memcpy(nd, t->defs, sizeof(*nd) * (size_t)t->ndefs);
    nd[t->ndefs].name = name;
    nd[t->ndefs].list = empty ? gt_list_new(p->a) : list;
    if (!nd[t->ndefs].list)
        return XLLM_ERR_OUT_OF_MEMORY;
    t->defs = nd;
    t->ndefs++;
    return XLLM_OK;
}

/* Parse a define / block body with a fresh variable scope ($ only). */
static xllm_status parse_body(parser *p, const char *ctx, gt_list **list, const tok *at)
{
    const char **saved = p->vars;
    int saved_n = p->nvars, saved_cap = p->capvars, saved_rd = p->range_depth;
    p->vars = NULL;
    p->nvars = p->capvars = 0;
    p->range_depth = 0;
    TRY(push_var(p, "$"));
    tok_type stop;
    const tok *stop_tok;
    TRY(parse_list(p, list, &stop, &stop_tok));
    if (stop != T_END)
        return perr(p, stop_tok ? stop_tok : at, "unexpected else in %s", ctx);
    p->vars = saved;
    p->nvars = saved_n;
    p->capvars = saved_cap;
    p->range_depth = saved_rd;
    return XLLM_OK;
}

/* After "{{": one action. *stop set for end / else. */
static xllm_status parse_action(parser *p, gt_node **out, tok_type *stop, const tok **stop_tok)
{
    const tok *k = next_nonspace(p);
    *out = NULL;
    *stop = T_EOF;
    gt_node *n;
    switch (k->type) {
    case T_IF: return parse_control(p, GN_IF, k, out);
    case T_RANGE: return parse_control(p, GN_RANGE, k, out);
    case T_WITH: return parse_control(p, GN_WITH, k, out);
    case T_END:
        TRY(expect_rdelim(p, "end"));
        *stop = T_END;
        *stop_tok = k;
        return XLLM_OK;
    case T_ELSE: /* the enclosing control reads the rest ("}}" or "if ...") */
        *stop = T_ELSE;
        *stop_tok = k;
        return XLLM_OK;
    case T_BREAK:
    case T_CONTINUE:
        TRY(expect_rdelim(p, k->type == T_BREAK ? "{{break}}" : "{{continue}}"));
        if (p->range_depth == 0)
            return perr(p, k, "{{%s}} outside {{range}}", k->type == T_BREAK ? "break" : "continue");
        if (!(n = NEW(p, gt_node)))
            return XLLM_ERR_OUT_OF_MEMORY;
        n->kind = k->type == T_BREAK ? GN_BREAK : GN_CONTINUE;
        n->pos = k->pos;
        *out = n;
        return XLLM_OK;
    case T_TEMPLATE:
    case T_BLOCK: {
        int block = k->type == T_BLOCK;
        const char *ctx = block ? "block clause" : "template clause";
        if (!(n = NEW(p, gt_node)))
            return XLLM_ERR_OUT_OF_MEMORY;
        n->kind = GN_TEMPLATE;
        n->pos = k->pos;
        TRY(template_name(p, ctx, &n->name));
        if (block) {
            TRY(parse_pipeline(p, ctx, T_RDELIM, &n->pipe));
            gt_list *body;
            TRY(parse_body(p, ctx, &body, k));
            TRY(add_define(p, n->name, body, k));
        } else {
            const tok *nx = next_nonspace(p);
            if (nx->type != T_RDELIM) {
                backup_to(p, nx);
                TRY(parse_pipeline(p, ctx, T_RDELIM, &n->pipe));
            }
        }
        *out = n;
        return XLLM_OK;
    }
    default: break;
    }
    backup_to(p, k);
    if (!(n = NEW(p, gt_node)))
        return XLLM_ERR_OUT_OF_MEMORY;
    n->kind = GN_ACTION;
    n->pos = k->pos;
    TRY(parse_pipeline(p, "command", T_RDELIM, &n->pipe));
    *out = n;
    return XLLM_OK;
}

static xllm_status text_or_action(parser *p, gt_node **out, tok_type *stop, const tok **stop_tok)
{
    const tok *k = next_nonspace(p);
    *stop = T_EOF;
    if (k->type == T_TEXT) {
        gt_node *n = NEW(p, gt_node);
        if (!n)
            return XLLM_ERR_OUT_OF_MEMORY;
        n->kind = GN_TEXT;
        n->pos = k->pos;
        n->text = k->s;
        n->text_len = k->n;
        *out = n;
        return XLLM_OK;
    }
    if (k->type == T_LDELIM)
        return parse_action(p, out, stop, stop_tok);
    return unexpected(p, k, "input");
}

static xllm_status parse_list(parser *p, gt_list **out, tok_type *stop, const tok **stop_tok)
{
    gt_list *l = gt_list_new(p->a);
    if (!l)
        return XLLM_ERR_OUT_OF_MEMORY;
    while (peek_nonspace(p)->type != T_EOF) {
        gt_node *n;
        TRY(text_or_action(p, &n, stop, stop_tok));
        if (*stop == T_END || *stop == T_ELSE) {
            *out = l;
            return XLLM_OK;
        }
        TRY(gt_list_add(p->a, l, n));
    }
    return perr(p, peek(p), "unexpected EOF");
}

static xllm_status parse_top(parser *p)
{
    gt_list *root = gt_list_new(p->a);
    if (!root)
        return XLLM_ERR_OUT_OF_MEMORY;
    TRY(push_var(p, "$"));
    while (peek(p)->type != T_EOF) {
        const tok *k = peek(p);
        if (k->type == T_LDELIM) {
            next(p);
            const tok *kw = next_nonspace(p);
            if (kw->type == T_DEFINE) {
                const char *name;
                TRY(template_name(p, "define clause", &name));
                TRY(expect_rdelim(p, "define clause"));
                gt_list *body;
                TRY(parse_body(p, "define clause", &body, kw));
                TRY(add_define(p, name, body, kw));
                continue;
            }
            backup_to(p, k);
        }
        gt_node *n;
        tok_type stop;
        const tok *stop_tok = NULL;
        TRY(text_or_action(p, &n, &stop, &stop_tok));
        if (stop == T_END || stop == T_ELSE)
            return perr(p, stop_tok, "unexpected {{%s}}", stop == T_END ? "end" : "else");
        TRY(gt_list_add(p->a, root, n));
    }
    p->t->root = root;
    return XLLM_OK;
}

xllm_status gt_parse(xllm_gotmpl *t)
{
    lexer l = {.t = t, .src = t->src, .len = t->src_len};
    xllm_status st = lex_all(&l);
    if (st == XLLM_OK) {
        parser p = {.t = t, .a = &t->arena, .toks = l.toks, .ntoks = l.ntoks};
        st = parse_top(&p);
    }
    xllm_free(l.toks);
    if (st == XLLM_ERR_OUT_OF_MEMORY)
        return xllm_fail(st, "go template: out of memory while parsing");
    return st;
}
