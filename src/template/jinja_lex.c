/* jinja_lex.c - the Jinja2 lexer: splits a template into text and tag tokens with
 * Jinja2's whitespace control as transformers sets it (trim_blocks, lstrip_blocks,
 * `-` and `+` modifiers), raw blocks, comments, and Python-style literals. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "template/jinja_impl.h"
#include "template/jinja_str.h"

typedef struct lexer {
    jarena *a;
    const char *src;
    size_t len, pos;
    int line;
    size_t line_start;
    jtoks *toks;
} lexer;

/* Bytes of the whitespace character (Python's \\s on str: str.isspace) at p, 0 if none. */
static size_t ws_at(const char *p, size_t n)
{
    unsigned char ch = (unsigned char)p[0];
    if (ch < 0x80)
        return jcp_isspace(ch) ? 1 : 0;
    int32_t cp = 0;
    size_t k = 1;
    while (k < n && k < 4 && ((unsigned char)p[k] & 0xC0) == 0x80)
        k++;
    if (ch >= 0xC2 && ch < 0xE0 && k >= 2)
        cp = ((ch & 0x1F) << 6) | (p[1] & 0x3F), k = 2;
    else if (ch >= 0xE0 && ch < 0xF0 && k >= 3)
        cp = ((ch & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F), k = 3;
    else
        return 0;
    return jcp_isspace(cp) ? k : 0;
}

/* Bytes of the whitespace character that ends at p[n-1], 0 if none. */
static size_t ws_before(const char *p, size_t n)
{
    size_t b = n;
    while (b > 0 && n - b < 4 && ((unsigned char)p[b - 1] & 0xC0) == 0x80)
        b--;
    if (b > 0 && ((unsigned char)p[b - 1] & 0x80))
        b--;
    else if (b == n)
        b = n - 1;
    else
        return 0;
    return ws_at(p + b, n - b) == n - b ? n - b : 0;
}
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static int is_name0(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int is_name(char ch) { return is_name0(ch) || is_digit(ch); }

static xllm_status lex_fail_st(lexer *L, xllm_status st, const char *msg)
{
    return xllm_fail(st, "template %s at line %d, column %d: %s",
                     st == XLLM_ERR_UNSUPPORTED ? "construct not supported" : "syntax error", L->line,
                     (int)(L->pos - L->line_start) + 1, msg);
}

static xllm_status lex_fail(lexer *L, const char *msg) { return lex_fail_st(L, XLLM_ERR_FORMAT, msg); }

/* Advance to p, counting lines. */
static void lex_move(lexer *L, size_t p)
{
    for (; L->pos < p; L->pos++)
        if (L->src[L->pos] == '\n') {
            L->line++;
            L->line_start = L->pos + 1;
        }
}

static xllm_status lex_push(lexer *L, int type, const char *s, size_t n, int line, int col, jtok **out)
{
    jtoks *t = L->toks;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        jtok *nt = jarena_alloc(L->a, ncap * sizeof *nt);
        if (!nt)
            return XLLM_ERR_LIMIT;
        if (t->n)
            memcpy(nt, t->t, t->n * sizeof *nt);
        t->t = nt;
        t->cap = ncap;
    }
    jtok *k = &t->t[t->n++];
    memset(k, 0, sizeof *k);
    k->type = (uint8_t)type;
    k->s = s;
    k->n = n;
    k->line = line;
    k->col = col;
    if (out)
        *out = k;
    return XLLM_OK;
}

static int col_of(const lexer *L) { return (int)(L->pos - L->line_start) + 1; }

static void put_utf8(char *o, size_t *n, uint32_t cp)
{
    if (cp < 0x80)
        o[(*n)++] = (char)cp;
    else if (cp < 0x800) {
        o[(*n)++] = (char)(0xC0 | (cp >> 6));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*n)++] = (char)(0xE0 | (cp >> 12));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*n)++] = (char)(0xF0 | (cp >> 18));
        o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int hexval(char ch)
{
    if (is_digit(ch))
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decode a string literal body with Python's escapes (Jinja2 uses unicode-escape). */
static xllm_status lex_unescape(lexer *L, const char *p, size_t n, char **out, size_t *outn)
{
    char *o = jarena_alloc(L->a, n + 1);
    size_t k = 0;
    if (!o)
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 >= n) {
            o[k++] = p[i];
            continue;
        }
        char e = p[++i];
        int digits = 0;
        switch (e) {
        case '\n': break;
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'v': o[k++] = '\v'; break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        case 'N': return lex_fail_st(L, XLLM_ERR_UNSUPPORTED, "\\N{...} escapes in string literals");
        default:
            if (e >= '0' && e <= '7') {
                uint32_t v = 0;
                int m = 0;
                while (m < 3 && i < n && p[i] >= '0' && p[i] <= '7') {
                    v = v * 8 + (uint32_t)(p[i++] - '0');
                    m++;
                }
                i--;
                put_utf8(o, &k, v);
            } else {
                o[k++] = '\\';
                o[k++] = e;
            }
        }
        if (digits) {
            uint32_t v = 0;
            for (int d = 0; d < digits; d++) {
                int h = i + 1 + (size_t)d < n ? hexval(p[i + 1 + d]) : -1;
                if (h < 0)
                    return lex_fail(L, "truncated \\x, \\u or \\U escape in a string literal");
                v = v * 16 + (uint32_t)h;
            }
            i += (size_t)digits;
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return lex_fail(L, "escape outside the Unicode range (or a surrogate) in a string literal");
            put_utf8(o, &k, v);
        }
    }
    o[k] = 0;
    *out = o;
    *outn = k;
    return XLLM_OK;
}

/* (\d+_)*\d+ at s: its length, 0 if none. */
static size_t digit_run(const char *s, size_t rem)
{
    size_t k = 0;
    while (k < rem && (is_digit(s[k]) || (s[k] == '_' && k > 0 && k + 1 < rem && is_digit(s[k + 1]))))
        k++;
    return k;
}

/* Jinja2's number literals: a float (not right after '.') is digits with a
 * fraction and/or an exponent; an integer is 0b / 0o / 0x, [1-9](_?\d)* or 0(_?0)*
 * ("05" is two integers, as in Jinja2). */
static xllm_status lex_number(lexer *L, const char *s, size_t rem, int after_dot, int line, int col)
{
    char num[80];
    size_t k = digit_run(s, rem), nn = 0;
    int isf = 0, base = 10;
    jtok *t;
    if (!after_dot) {
        size_t f = k, frac = 0;
        if (f < rem && s[f] == '.' && (frac = digit_run(s + f + 1, rem - f - 1)))
            f += 1 + frac;
        size_t e = f;
        if (e < rem && (s[e] == 'e' || s[e] == 'E')) {
            size_t x = e + 1;
            if (x < rem && (s[x] == '+' || s[x] == '-'))
                x++;
            size_t ed = x < rem ? digit_run(s + x, rem - x) : 0;
            if (ed) {
                e = x + ed;
                isf = 1;
            }
        }
        if (frac)
            isf = 1;
        if (isf)
            k = isf && e > f ? e : f;
    }
    if (!isf) {
        char p = rem > 1 ? (char)(s[1] | 0x20) : 0;
        if (s[0] == '0' && (p == 'b' || p == 'o' || p == 'x')) {
            base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
            k = 2;
            while (k < rem && (s[k] == '_' || hexval(s[k]) >= 0) && !(s[k] == '_' && s[k - 1] == '_')) {
                if (s[k] != '_' && hexval(s[k]) >= base)
                    break;
                k++;
            }
            while (k > 2 && s[k - 1] == '_')
                k--;
            if (k == 2)
                k = 1; /* "0x" alone: the integer 0, then a name */
        } else if (s[0] == '0') {
            k = 1;
            while (k < rem && (s[k] == '0' || (s[k] == '_' && k + 1 < rem && s[k + 1] == '0')))
                k++;
        }
    }
    for (size_t i = (base == 10 ? 0 : 2); i < k; i++)
        if (s[i] != '_') {
            if (nn >= sizeof num - 1)
                return lex_fail(L, "number literal too long");
            num[nn++] = s[i];
        }
    num[nn] = 0;
    xllm_status st = lex_push(L, isf ? JT_FLOAT : JT_INT, s, k, line, col, &t);
    if (st)
        return st;
    if (isf) {
        t->f = strtod(num, NULL);
    } else {
        unsigned long long v = 0;
        for (size_t d = 0; d < nn; d++) {
            unsigned dig = (unsigned)hexval(num[d]);
            if (v > ((unsigned long long)INT64_MAX - dig) / (unsigned)base)
                return lex_fail_st(L, XLLM_ERR_UNSUPPORTED, "integer literal larger than 64 bits (Python's big integers)");
            v = v * (unsigned)base + dig;
        }
        t->i = (int64_t)v;
    }
    lex_move(L, L->pos + k);
    return XLLM_OK;
}

static const char *const lex_ops2[] = {"//", "**", "==", "!=", "<=", ">="};
static const char lex_ops1[] = "+-*/%~<>=()[]{},.:|;";

/* Tokens inside {{ }} or {% %} up to the closing delimiter (end = "}}" or "%}"). */
static xllm_status lex_tag_body(lexer *L, char endc, int *trim_after)
{
    xllm_status st;
    for (;;) {
        size_t w;
        while (L->pos < L->len && (w = ws_at(L->src + L->pos, L->len - L->pos)))
            lex_move(L, L->pos + w);
        if (L->pos >= L->len)
            return lex_fail(L, endc == '}' ? "unexpected end of template, expected '}}'"
                                           : "unexpected end of template, expected '%}'");
        const char *s = L->src + L->pos;
        size_t rem = L->len - L->pos;
        int line = L->line, col = col_of(L);
        if ((s[0] == '-' || (s[0] == '+' && endc == '%')) && rem >= 3 && s[1] == endc && s[2] == '}') {
            *trim_after = s[0] == '-' ? 2 : 0;
            lex_move(L, L->pos + 3);
            return XLLM_OK;
        }
        if (rem >= 2 && s[0] == endc && s[1] == '}') {
            *trim_after = endc == '%' ? 1 : 0;
            lex_move(L, L->pos + 2);
            return XLLM_OK;
        }
        if (is_name0(s[0])) {
            size_t k = 1;
            while (k < rem && is_name(s[k]))
                k++;
            if ((st = lex_push(L, JT_NAME, s, k, line, col, NULL)))
                return st;
            lex_move(L, L->pos + k);
        } else if (is_digit(s[0])) {
            int after_dot = L->toks->n && L->toks->t[L->toks->n - 1].type == JT_OP &&
                            L->toks->t[L->toks->n - 1].s[0] == '.' && L->toks->t[L->toks->n - 1].n == 1;
            if ((st = lex_number(L, s, rem, after_dot, line, col)))
                return st;
        } else if (s[0] == '\'' || s[0] == '"') {
            size_t k = 1;
            while (k < rem && s[k] != s[0])
                k += (s[k] == '\\' && k + 1 < rem) ? 2 : 1;
            if (k >= rem)
                return lex_fail(L, "unterminated string literal");
            char *v = NULL;
            size_t vn = 0;
            if ((st = lex_unescape(L, s + 1, k - 1, &v, &vn)))
                return st;
            if ((st = lex_push(L, JT_STRING, v, vn, line, col, NULL)))
                return st;
            lex_move(L, L->pos + k + 1);
        } else {
            size_t k = 0;
            for (size_t o = 0; o < sizeof lex_ops2 / sizeof *lex_ops2; o++)
                if (rem >= 2 && s[0] == lex_ops2[o][0] && s[1] == lex_ops2[o][1])
                    k = 2;
            if (!k && strchr(lex_ops1, s[0]) && s[0])
                k = 1;
            if (!k) {
                char msg[64];
                snprintf(msg, sizeof msg, "unexpected character '%c'", s[0]);
                return lex_fail(L, msg);
            }
            if ((st = lex_push(L, JT_OP, s, k, line, col, NULL)))
                return st;
            lex_move(L, L->pos + k);
        }
    }
}

/* After a tag: mode 2 strips all whitespace ("-%}"), 1 one newline (trim_blocks). */
static void lex_trim_after(lexer *L, int mode)
{
    size_t w;
    if (mode == 2) {
        while (L->pos < L->len && (w = ws_at(L->src + L->pos, L->len - L->pos)))
            lex_move(L, L->pos + w);
    } else if (mode == 1 && L->pos < L->len && L->src[L->pos] == '\n') {
        lex_move(L, L->pos + 1);
    }
}

/* Does a "{% raw %}" (with optional - / + modifiers) start at p? Sets *end past it. */
static int lex_is_tag_word(const lexer *L, size_t p, const char *word, size_t *end, int *strip_after)
{
    const char *s = L->src;
    size_t n = L->len, wl = strlen(word);
    p += 2;
    if (p < n && (s[p] == '-' || s[p] == '+'))
        p++;
    for (size_t w; p < n && (w = ws_at(s + p, n - p));)
        p += w;
    if (p + wl > n || memcmp(s + p, word, wl) != 0 || (p + wl < n && is_name(s[p + wl])))
        return 0;
    p += wl;
    for (size_t w; p < n && (w = ws_at(s + p, n - p));)
        p += w;
    *strip_after = 1; /* (the caller decides whether trim_blocks applies) */
    if (p < n && (s[p] == '-' || s[p] == '+')) {
        *strip_after = s[p] == '-' ? 2 : 0;
        p++;
    }
    if (p + 2 > n || s[p] != '%' || s[p + 1] != '}')
        return 0;
    *end = p + 2;
    return 1;
}

/* Text before a tag at tagpos, with the tag's whitespace control applied. */
static xllm_status lex_text(lexer *L, size_t tagpos, char kind, char mod)
{
    size_t b = L->pos, e = tagpos;
    size_t w;
    if (mod == '-') {
        while (e > b && (w = ws_before(L->src + b, e - b)))
            e -= w;
    } else if (kind != '{' && mod != '+') {
        size_t l = e;
        while (l > b && L->src[l - 1] != '\n')
            l--;
        int line_start = l > b || b == 0 || L->src[b - 1] == '\n';
        size_t k = l;
        while (k < e && (L->src[k] == ' ' || L->src[k] == '\t'))
            k++;
        if (line_start && k == e)
            e = l;
    }
    xllm_status st = XLLM_OK;
    if (e > b)
        st = lex_push(L, JT_TEXT, L->src + b, e - b, L->line, col_of(L), NULL);
    lex_move(L, tagpos);
    return st;
}

/* {% raw %}: Jinja2 applies "-" after the opening tag but not trim_blocks. */
static xllm_status lex_raw(lexer *L, size_t after, int strip_open)
{
    lex_move(L, after);
    lex_trim_after(L, strip_open == 2 ? 2 : 0);
    for (size_t p = L->pos; p + 1 < L->len; p++) {
        size_t end;
        int strip;
        if (L->src[p] != '{' || L->src[p + 1] != '%' || !lex_is_tag_word(L, p, "endraw", &end, &strip))
            continue;
        char mod = p + 2 < L->len ? L->src[p + 2] : 0;
        xllm_status st = lex_text(L, p, '%', mod == '-' || mod == '+' ? mod : 0);
        if (st)
            return st;
        lex_move(L, end);
        lex_trim_after(L, strip);
        return XLLM_OK;
    }
    return lex_fail(L, "missing {% endraw %}");
}

xllm_status jinja_lex(jarena *a, const char *src, size_t len, jtoks *toks)
{
    lexer L = {a, src, len, 0, 1, 0, toks};
    xllm_status st;
    while (L.pos < L.len) {
        const char *hit = NULL;
        for (size_t p = L.pos; p + 1 < L.len; p++)
            if (src[p] == '{' && (src[p + 1] == '{' || src[p + 1] == '%' || src[p + 1] == '#')) {
                hit = src + p;
                break;
            }
        if (!hit) {
            if ((st = lex_push(&L, JT_TEXT, src + L.pos, L.len - L.pos, L.line, col_of(&L), NULL)))
                return st;
            break;
        }
        size_t tp = (size_t)(hit - src);
        char kind = hit[1];
        char mod = tp + 2 < len && (src[tp + 2] == '-' || src[tp + 2] == '+') ? src[tp + 2] : 0;
        if (kind == '{' && mod == '+')
            mod = 0; /* "{{+" is a unary plus, not a modifier */
        size_t raw_end;
        int raw_strip;
        int raw = kind == '%' && lex_is_tag_word(&L, tp, "raw", &raw_end, &raw_strip);
        if ((st = lex_text(&L, tp, kind, mod)))
            return st;
        if (raw) {
            if ((st = lex_raw(&L, raw_end, raw_strip)))
                return st;
            continue;
        }
        int line = L.line, col = col_of(&L);
        lex_move(&L, tp + 2 + (mod ? 1 : 0));
        if (kind == '#') {
            const char *e = NULL;
            for (size_t p = L.pos; p + 1 < L.len; p++)
                if (src[p] == '#' && src[p + 1] == '}') {
                    e = src + p;
                    break;
                }
            if (!e)
                return lex_fail(&L, "unterminated comment (missing '#}')");
            size_t ep = (size_t)(e - src);
            int trim = ep > L.pos && src[ep - 1] == '-' ? 2 : (ep > L.pos && src[ep - 1] == '+' ? 0 : 1);
            lex_move(&L, ep + 2);
            lex_trim_after(&L, trim);
            continue;
        }
        int trim = 0;
        if ((st = lex_push(&L, kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, hit, 2, line, col, NULL)))
            return st;
        if ((st = lex_tag_body(&L, kind == '{' ? '}' : '%', &trim)))
            return st;
        if ((st = lex_push(&L, kind == '{' ? JT_VAR_END : JT_BLOCK_END, src + L.pos - 2, 2, L.line, col_of(&L),
                           NULL)))
            return st;
        lex_trim_after(&L, trim);
    }
    return lex_push(&L, JT_EOF, src + L.len, 0, L.line, col_of(&L), NULL);
}
