/* gotmpl_fmt.c - Go's formatting of template values: fmt's %v and Printf verbs
 * (as fmt prints float64, maps, slices, structs, nil and Stringers) and
 * encoding/json's Marshal (HTML-safe escaping, sorted map keys, struct tags). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/gotmpl_impl.h"

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

/* ---- floats ---- */

/* Shortest decimal digits that round-trip f (f finite, > 0): digits and the
 * decimal exponent dp such that f = 0.DIGITS * 10^dp. */
static int shortest_digits(double f, char *digits, int *dp)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, f);
        if (strtod(buf, NULL) == f || p == 17)
            break;
    }
    int nd = 0;
    char *e = strchr(buf, 'e');
    for (char *c = buf; c < e; c++)
        if (*c >= '0' && *c <= '9')
            digits[nd++] = *c;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    *dp = atoi(e + 1) + 1;
    return nd;
}

/* 'e' form of shortest digits: d.ddde±XX */
static void put_e(char *dst, size_t cap, int neg, const char *d, int nd, int dp)
{
    int exp = dp - 1;
    size_t n = 0;
    if (neg)
        dst[n++] = '-';
    dst[n++] = d[0];
    if (nd > 1) {
        dst[n++] = '.';
        for (int i = 1; i < nd && n + 8 < cap; i++)
            dst[n++] = d[i];
    }
    snprintf(dst + n, cap - n, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

static void put_f(char *dst, size_t cap, int neg, const char *d, int nd, int dp)
{
    size_t n = 0;
    if (neg)
        dst[n++] = '-';
    if (dp <= 0) {
        dst[n++] = '0';
        dst[n++] = '.';
        for (int i = 0; i < -dp && n + 2 < cap; i++)
            dst[n++] = '0';
        for (int i = 0; i < nd && n + 2 < cap; i++)
            dst[n++] = d[i];
    } else {
        for (int i = 0; i < dp && n + 2 < cap; i++)
            dst[n++] = i < nd ? d[i] : '0';
        if (nd > dp) {
            dst[n++] = '.';
            for (int i = dp; i < nd && n + 2 < cap; i++)
                dst[n++] = d[i];
        }
    }
    dst[n] = 0;
}

static int special_float(char *dst, size_t cap, double f, int plus_inf)
{
    if (isnan(f)) {
        snprintf(dst, cap, "NaN");
        return 1;
    }
    if (isinf(f)) {
        snprintf(dst, cap, "%s", f < 0 ? "-Inf" : plus_inf ? "+Inf" : "Inf");
        return 1;
    }
    if (f == 0) {
        snprintf(dst, cap, "%s", signbit(f) ? "-0" : "0");
        return 1;
    }
    return 0;
}

void gt_format_float_g(char *dst, size_t cap, double f)
{
    if (special_float(dst, cap, f, 1))
        return;
    char d[40];
    int dp, nd = shortest_digits(fabs(f), d, &dp);
    int exp = dp - 1;
    int eprec = 6; /* strconv 'g' with the shortest precision decides at 6 digits */
    if (exp < -4 || exp >= eprec)
        put_e(dst, cap, f < 0, d, nd, dp);
    else
        put_f(dst, cap, f < 0, d, nd, dp);
}

/* encoding/json's float64: 'f' unless < 1e-6 or >= 1e21, then 'e' without a
 * leading zero in a negative exponent. */
static void format_float_json(char *dst, size_t cap, double f)
{
    if (f == 0) {
        snprintf(dst, cap, "%s", signbit(f) ? "-0" : "0");
        return;
    }
    char d[40];
    int dp, nd = shortest_digits(fabs(f), d, &dp);
    double a = fabs(f);
    if (a < 1e-6 || a >= 1e21) {
        put_e(dst, cap, f < 0, d, nd, dp);
        char *e = strchr(dst, 'e');
        if (e && e[1] == '-' && e[2] == '0')
            memmove(e + 2, e + 3, strlen(e + 3) + 1);
    } else {
        put_f(dst, cap, f < 0, d, nd, dp);
    }
}

/* ---- UTF-8 and quoting ---- */
static int utf8_dec(const unsigned char *s, size_t n, long *cp)
{
    if (!n)
        return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)len > n)
        return -1;
    long v = s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const long minv[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < minv[len] || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
        return -1;
    *cp = v;
    return len;
}

/* unicode.IsPrint, approximated outside ASCII: separators, controls, format
 * characters and private use are not printable; everything else is. */
static int is_print(long r);

int gt_is_print(long r)
{
    return is_print(r);
}

int gt_utf8_decode(const char *s, size_t n, long *cp)
{
    return utf8_dec((const unsigned char *)s, n, cp);
}

static int is_print(long r)
{
    if (r < 0x80)
        return r >= 0x20 && r < 0x7F;
    if (r < 0xA0 || r == 0xAD || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200F) ||
        (r >= 0x2028 && r <= 0x202F) || (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF ||
        (r >= 0xFFF9 && r <= 0xFFFB) || (r >= 0x600 && r <= 0x605) || r == 0x61C || r == 0x6DD ||
        r == 0x70F || r == 0x180E || (r >= 0xE000 && r <= 0xF8FF) || r >= 0xF0000 ||
        (r >= 0xE0000 && r <= 0xE007F) || r == 0xFFFE || r == 0xFFFF)
        return 0;
    return 1;
}

static xllm_status quote(xllm_buf *out, const char *s, size_t n, int ascii);

xllm_status gt_quote(xllm_buf *out, const char *s, size_t n)
{
    return quote(out, s, n, 0);
}

/* strconv.Quote, or QuoteToASCII when ascii is set */
static xllm_status quote(xllm_buf *out, const char *s, size_t n, int ascii)
{
    static const char hex[] = "0123456789abcdef";
    TRY(xllm_buf_append(out, "\"", 1));
    for (size_t i = 0; i < n;) {
        long r;
        int len = utf8_dec((const unsigned char *)s + i, n - i, &r);
        if (len < 0) {
            char b[5] = {'\\', 'x', hex[(unsigned char)s[i] >> 4], hex[s[i] & 15], 0};
            TRY(xllm_buf_append(out, b, 4));
            i++;
            continue;
        }
        if (r == '"' || r == '\\') {
            char b[2] = {'\\', (char)r};
            TRY(xllm_buf_append(out, b, 2));
        } else if (is_print(r) && !(ascii && r >= 0x80)) {
            TRY(xllm_buf_append(out, s + i, (size_t)len));
        } else {
            const char *esc = NULL;
            switch (r) {
            case '\a': esc = "\\a"; break;
            case '\b': esc = "\\b"; break;
            case '\f': esc = "\\f"; break;
            case '\n': esc = "\\n"; break;
            case '\r': esc = "\\r"; break;
            case '\t': esc = "\\t"; break;
            case '\v': esc = "\\v"; break;
            }
            if (esc)
                TRY(xllm_buf_puts(out, esc));
            else if (r < ' ' || r == 0x7F)
                TRY(xllm_buf_printf(out, "\\x%c%c", hex[r >> 4], hex[r & 15]));
            else if (r < 0x10000)
                TRY(xllm_buf_printf(out, "\\u%04lx", r));
            else
                TRY(xllm_buf_printf(out, "\\U%08lx", r));
        }
        i += (size_t)len;
    }
    return xllm_buf_append(out, "\"", 1);
}

/* ---- encoding/json ---- */
static xllm_status gjson_string(xllm_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    TRY(xllm_buf_append(out, "\"", 1));
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t adv = 1;
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
                i++;
                continue;
            }
            switch (c) {
            case '"': esc = "\\\""; break;
            case '\\': esc = "\\\\"; break;
            case '\n': esc = "\\n"; break;
            case '\r': esc = "\\r"; break;
            case '\t': esc = "\\t"; break;
            case '\b': esc = "\\b"; break; /* Go >= 1.22 */
            case '\f': esc = "\\f"; break;
            default:
                snprintf(ubuf, sizeof ubuf, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
                esc = ubuf;
            }
        } else {
            long r;
            int len = utf8_dec((const unsigned char *)s + i, n - i, &r);
            if (len < 0) {
                esc = "\\ufffd";
            } else if (r == 0x2028 || r == 0x2029) {
                snprintf(ubuf, sizeof ubuf, "\\u202%c", r == 0x2028 ? '8' : '9');
                esc = ubuf;
                adv = (size_t)len;
            } else {
                i += (size_t)len;
                continue;
            }
        }
        TRY(xllm_buf_append(out, s + last, i - last));
        TRY(xllm_buf_puts(out, esc));
        i += adv;
        last = i;
    }
    TRY(xllm_buf_append(out, s + last, n - last));
    return xllm_buf_append(out, "\"", 1);
}

static int json_empty(const gt_val *v)
{
    switch (v->kind) {
    case GV_INVALID:
    case GV_NIL: return 1;
    case GV_BOOL: return !v->u.b;
    case GV_INT:
    case GV_UINT8: return v->u.i == 0;
    case GV_FLOAT: return v->u.f == 0;
    case GV_STRING: return v->u.s.n == 0;
    case GV_SLICE:
    case GV_MAP: return !v->u.seq || v->u.seq->n == 0;
    case GV_PTR:
    case GV_OMAP: return !v->u.seq;
    case GV_STRUCT: return 0;
    }
    return 0;
}

static xllm_status json_val(xllm_buf *out, const gt_val *v, int depth)
{
    char num[64];
    if (depth > 200)
        return xllm_fail(XLLM_ERR_LIMIT, "go template: json: value nested too deeply");
    switch (v->kind) {
    case GV_INVALID:
    case GV_NIL: return xllm_buf_puts(out, "null");
    case GV_BOOL: return xllm_buf_puts(out, v->u.b ? "true" : "false");
    case GV_INT:
    case GV_UINT8: return xllm_buf_printf(out, "%lld", v->u.i);
    case GV_FLOAT:
        if (!isfinite(v->u.f))
            return xllm_fail(XLLM_ERR_FORMAT, "go template: json: unsupported value");
        format_float_json(num, sizeof num, v->u.f);
        return xllm_buf_puts(out, num);
    case GV_STRING: return gjson_string(out, v->u.s.p, v->u.s.n);
    case GV_SLICE: {
        const gt_seq *s = v->u.seq;
        if (!s)
            return xllm_buf_puts(out, "null");
        if (v->type && v->type->proptype_json && s->n == 1)
            return json_val(out, &s->items[0], depth + 1);
        TRY(xllm_buf_append(out, "[", 1));
        for (int i = 0; i < s->n; i++) {
            if (i)
                TRY(xllm_buf_append(out, ",", 1));
            TRY(json_val(out, &s->items[i], depth + 1));
        }
        return xllm_buf_append(out, "]", 1);
    }
    case GV_MAP:
    case GV_OMAP: {
        const gt_seq *s = v->u.seq;
        if (!s)
            return xllm_buf_puts(out, "null");
        TRY(xllm_buf_append(out, "{", 1));
        for (int i = 0; i < s->n; i++) {
            if (i)
                TRY(xllm_buf_append(out, ",", 1));
            TRY(gjson_string(out, s->keys[i], s->key_lens[i]));
            TRY(xllm_buf_append(out, ":", 1));
            TRY(json_val(out, &s->items[i], depth + 1));
        }
        return xllm_buf_append(out, "}", 1);
    }
    case GV_PTR: {
        if (!v->u.seq)
            return xllm_buf_puts(out, "null");
        gt_val st = *v;
        st.kind = GV_STRUCT;
        st.type = v->type->elem;
        return json_val(out, &st, depth + 1);
    }
    case GV_STRUCT: {
        const gt_seq *s = v->u.seq;
        const gt_type *t = v->type;
        TRY(xllm_buf_append(out, "{", 1));
        int first = 1;
        for (int i = 0; i < t->nfields; i++) {
            if (t->fields[i].omitempty && json_empty(&s->items[i]))
                continue;
            if (!first)
                TRY(xllm_buf_append(out, ",", 1));
            first = 0;
            TRY(gjson_string(out, t->fields[i].json, strlen(t->fields[i].json)));
            TRY(xllm_buf_append(out, ":", 1));
            TRY(json_val(out, &s->items[i], depth + 1));
        }
        return xllm_buf_append(out, "}", 1);
    }
    }
    return XLLM_ERR_INTERNAL;
}

xllm_status gt_json(xllm_buf *out, const gt_val *v)
{
    return json_val(out, v, 0);
}

/* ---- fmt ---- */
typedef struct spec {
    int plus, minus, sharp, space, zero;
    int plus_v; /* %+v: field names for structs; numbers get no sign */
    int erroring; /* inside a bad-verb report: fmt calls no String methods */
    char verb_utf8[4]; /* the verb as written, for bad-verb reports */
    int verb_len;
    int width, prec; /* -1: none */
    char verb;
} spec;

static xllm_status print_val(xllm_buf *out, const gt_val *v, const spec *sp, int depth);

/* n copies of byte c, in chunks (widths reach 1e6 and more) */
static xllm_status fill(xllm_buf *out, char c, size_t n)
{
    char chunk[256];
    memset(chunk, c, sizeof chunk);
    TRY(xllm_buf_reserve(out, n));
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        TRY(xllm_buf_append(out, chunk, k));
        n -= k;
    }
    return XLLM_OK;
}

static xllm_status pad(xllm_buf *out, const spec *sp, const char *s, size_t n, int numeric)
{
    size_t runes = 0;
    for (size_t i = 0; i < n; i++)
        runes += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (sp->width < 0 || (size_t)sp->width <= runes)
        return xllm_buf_append(out, s, n);
    size_t nfill = (size_t)sp->width - runes;
    if (sp->minus) {
        TRY(xllm_buf_append(out, s, n));
        return fill(out, ' ', nfill);
    }
    if (sp->zero && numeric) {
        size_t sign = n && (s[0] == '-' || s[0] == '+' || s[0] == ' ');
        TRY(xllm_buf_append(out, s, sign));
        TRY(fill(out, '0', nfill));
        return xllm_buf_append(out, s + sign, n - sign);
    }
    TRY(fill(out, sp->zero ? '0' : ' ', nfill)); /* fmt pads text with zeros too under '0' */
    return xllm_buf_append(out, s, n);
}

/* fmt's badVerb: "%!verb(type=value)", the value printed with %v under the same
 * flags, width and precision, and without String methods. */
static xllm_status bad_verb_spec(xllm_buf *out, const gt_val *v, const spec *sp)
{
    TRY(xllm_buf_append(out, "%!", 2));
    if (sp->verb_len > 0)
        TRY(xllm_buf_append(out, sp->verb_utf8, (size_t)sp->verb_len));
    else
        TRY(xllm_buf_append(out, &sp->verb, 1)); /* may be a NUL byte, as in Go */
    TRY(xllm_buf_append(out, "(", 1));
    if (v->kind == GV_NIL || v->kind == GV_INVALID)
        return xllm_buf_puts(out, "<nil>)");
    TRY(xllm_buf_printf(out, "%s=", gt_type_name(v)));
    spec sv = *sp;
    sv.verb = 'v';
    sv.verb_len = 0;
    sv.erroring = 1;
    TRY(print_val(out, v, &sv, 0));
    return xllm_buf_append(out, ")", 1);
}


static void utf8_enc(long r, char *b, int *n)
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
        r = 0xFFFD;
    if (r < 0x80) {
        b[0] = (char)r;
        *n = 1;
    } else if (r < 0x800) {
        b[0] = (char)(0xC0 | (r >> 6));
        b[1] = (char)(0x80 | (r & 0x3F));
        *n = 2;
    } else if (r < 0x10000) {
        b[0] = (char)(0xE0 | (r >> 12));
        b[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[2] = (char)(0x80 | (r & 0x3F));
        *n = 3;
    } else {
        b[0] = (char)(0xF0 | (r >> 18));
        b[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        b[3] = (char)(0x80 | (r & 0x3F));
        *n = 4;
    }
}

static xllm_status fmt_int(xllm_buf *out, const gt_val *v, const spec *sp)
{
    long long x = v->u.i;
    char buf[96], digits[80];
    unsigned long long u = x < 0 ? 0 - (unsigned long long)x : (unsigned long long)x;
    int base = 10, upper = 0;
    const char *prefix = "";
    switch (sp->verb) {
    case 'v':
    case 'd': break;
    case 'b': base = 2; prefix = sp->sharp ? "0b" : ""; break;
    case 'o': base = 8; prefix = sp->sharp ? "0" : ""; break;
    case 'O': base = 8; prefix = "0o"; break;
    case 'x': base = 16; prefix = sp->sharp ? "0x" : ""; break;
    case 'X': base = 16; upper = 1; prefix = sp->sharp ? "0X" : ""; break;
    case 'c': {
        char b[4];
        int n;
        utf8_enc((long)x, b, &n);
        return pad(out, sp, b, (size_t)n, 0);
    }
    case 'q': {
        char b[4];
        int n;
        utf8_enc((long)x, b, &n);
        xllm_buf q;
        xllm_buf_init(&q, 0);
        xllm_status st = gt_quote(&q, b, (size_t)n);
        if (st == XLLM_OK && q.len >= 2) {
            q.data[0] = '\'';
            q.data[q.len - 1] = '\'';
            if (n == 1 && b[0] == '\'') {
                st = pad(out, sp, "'\\''", 4, 0);
            } else if (n == 1 && b[0] == '"') {
                st = pad(out, sp, "'\"'", 3, 0);
            } else {
                st = pad(out, sp, q.data, q.len, 0);
            }
        }
        xllm_buf_free(&q);
        return st;
    }
    case 'U': {
        snprintf(buf, sizeof buf, "U+%04llX", u);
        return pad(out, sp, buf, strlen(buf), 0);
    }
    default: return bad_verb_spec(out, v, sp);
    }
    int nd = 0;
    const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[nd++] = dig[u % (unsigned)base];
        u /= (unsigned)base;
    } while (u && nd < 70);
    int prec = sp->prec;
    if (prec == 0 && x == 0)
        nd = 0;
    size_t n = 0;
    if (x < 0)
        buf[n++] = '-';
    else if (sp->plus)
        buf[n++] = '+';
    else if (sp->space)
        buf[n++] = ' ';
    for (const char *p = prefix; *p; p++)
        buf[n++] = *p;
    spec s2 = *sp;
    if (prec >= 0)
        s2.zero = 0;
    xllm_buf num; /* precision pads with zeros to any length */
    xllm_buf_init(&num, 0);
    xllm_status st = xllm_buf_append(&num, buf, n);
    if (st == XLLM_OK && prec > nd)
        st = fill(&num, '0', (size_t)(prec - nd));
    while (st == XLLM_OK && nd > 0) {
        st = xllm_buf_append(&num, &digits[nd - 1], 1);
        nd--;
    }
    if (st == XLLM_OK)
        st = pad(out, &s2, num.data ? num.data : "", num.len, 1);
    xllm_buf_free(&num);
    return st;
}

static xllm_status fmt_float(xllm_buf *out, const gt_val *v, const spec *sp)
{
    double f = v->u.f;
    char buf[800]; /* %.400f of 1e308: 711 bytes */
    char verb = sp->verb;
    if (verb == 'b' || verb == 'x' || verb == 'X')
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%%c of a float is not supported", verb);
    if (!verb || !strchr("veEfFgG", verb))
        return bad_verb_spec(out, v, sp);
    if (!isfinite(f)) {
        special_float(buf, sizeof buf, f, sp->plus);
        spec s2 = *sp;
        s2.zero = 0;
        return pad(out, &s2, buf, strlen(buf), 0);
    }
    if ((verb == 'v' || verb == 'g' || verb == 'G') && sp->prec < 0) {
        gt_format_float_g(buf + 1, sizeof buf - 1, f);
        if (verb == 'G') {
            char *e = strchr(buf + 1, 'e');
            if (e)
                *e = 'E';
        }
    } else {
        char cfmt[16];
        int prec = sp->prec < 0 ? 6 : sp->prec;
        if (prec > 400)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf float precision over 400");
        char cv = verb == 'F' ? 'f' : verb == 'v' ? 'g' : verb; /* %.Nv is %.Ng */
        snprintf(cfmt, sizeof cfmt, "%%%s.*%c", sp->sharp ? "#" : "", cv);
        snprintf(buf + 1, sizeof buf - 1, cfmt, prec, f);
    }
    const char *s = buf + 1;
    if (s[0] != '-' && (sp->plus || sp->space)) {
        buf[0] = sp->plus ? '+' : ' ';
        s = buf;
    }
    return pad(out, sp, s, strlen(s), 1);
}

static xllm_status fmt_string(xllm_buf *out, const char *s, size_t n, const spec *sp, const gt_val *v)
{
    switch (sp->verb) {
    case 'v':
    case 's': {
        if (sp->prec >= 0) { /* precision counts runes */
            size_t i = 0;
            for (int r = 0; i < n && r < sp->prec; r++) {
                i++;
                while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
                    i++;
            }
            n = i;
        }
        return pad(out, sp, s, n, 0);
    }
    case 'q': {
        if (sp->sharp)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%#q is not supported");
        xllm_buf q;
        xllm_buf_init(&q, 0);
        xllm_status st = quote(&q, s, n, sp->plus);
        if (st == XLLM_OK)
            st = pad(out, sp, q.data ? q.data : "", q.len, 0);
        xllm_buf_free(&q);
        return st;
    }
    case 'x':
    case 'X': {
        const char *dig = sp->verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        xllm_buf h;
        xllm_buf_init(&h, 0);
        xllm_status st = XLLM_OK;
        if (sp->sharp)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%#x of a string is not supported");
        if (sp->prec >= 0 && (size_t)sp->prec < n) /* precision limits the input bytes */
            n = (size_t)sp->prec;
        for (size_t i = 0; i < n && st == XLLM_OK; i++) {
            char b[3] = {dig[(unsigned char)s[i] >> 4], dig[s[i] & 15], ' '};
            st = xllm_buf_append(&h, b, sp->space && i + 1 < n ? 3 : 2);
        }
        if (st == XLLM_OK)
            st = pad(out, sp, h.data ? h.data : "", h.len, 0);
        xllm_buf_free(&h);
        return st;
    }
    default: return bad_verb_spec(out, v, sp);
    }
}

/* A Stringer's String() result, or 0 when v's type has none. */
static xllm_status stringer_text(const gt_val *v, xllm_buf *tmp, int *has)
{
    *has = 0;
    if (!v->type || v->type->stringer == GS_NONE)
        return XLLM_OK;
    *has = 1;
    switch (v->type->stringer) {
    case GS_JSON: return gt_json(tmp, v);
    case GS_JSON_OR_EMPTY:
        if (!v->u.seq)
            return xllm_buf_puts(tmp, "{}");
        return gt_json(tmp, v);
    case GS_PROPTYPE: {
        const gt_seq *s = v->u.seq;
        if (!s || s->n == 0)
            return XLLM_OK;
        if (s->n == 1)
            return xllm_buf_append(tmp, s->items[0].u.s.p, s->items[0].u.s.n);
        gt_val plain = *v;
        plain.type = &gt_type_strings;
        spec sv = {.width = -1, .prec = -1, .verb = 'v'};
        return print_val(tmp, &plain, &sv, 0);
    }
    default: return XLLM_OK;
    }
}

static xllm_status print_val(xllm_buf *out, const gt_val *v, const spec *sp, int depth)
{
    if (depth > 100)
        return xllm_fail(XLLM_ERR_LIMIT, "go template: value nested too deeply to print");
    if (v->type && v->type->stringer != GS_NONE && !sp->erroring && sp->verb && strchr("vsxXq", sp->verb)) {
        xllm_buf tmp;
        xllm_buf_init(&tmp, 0);
        int has;
        xllm_status st = stringer_text(v, &tmp, &has);
        if (st == XLLM_OK)
            st = fmt_string(out, tmp.data ? tmp.data : "", tmp.len, sp, v);
        xllm_buf_free(&tmp);
        return st;
    }
    switch (v->kind) {
    case GV_INVALID:
    case GV_NIL:
        if (sp->verb == 'v' || depth > 0)
            return pad(out, sp, "<nil>", 5, 0);
        return bad_verb_spec(out, v, sp);
    case GV_BOOL:
        if (sp->verb != 'v' && sp->verb != 't')
            return bad_verb_spec(out, v, sp);
        return pad(out, sp, v->u.b ? "true" : "false", v->u.b ? 4 : 5, 0);
    case GV_INT:
    case GV_UINT8: return fmt_int(out, v, sp);
    case GV_FLOAT: return fmt_float(out, v, sp);
    case GV_STRING: return fmt_string(out, v->u.s.p, v->u.s.n, sp, v);
    case GV_SLICE: {
        const gt_seq *s = v->u.seq;
        TRY(xllm_buf_append(out, "[", 1));
        for (int i = 0; s && i < s->n; i++) {
            if (i)
                TRY(xllm_buf_append(out, " ", 1));
            TRY(print_val(out, &s->items[i], sp, depth + 1));
        }
        return xllm_buf_append(out, "]", 1);
    }
    case GV_MAP: {
        const gt_seq *s = v->u.seq;
        TRY(xllm_buf_puts(out, "map["));
        for (int i = 0; s && i < s->n; i++) {
            if (i)
                TRY(xllm_buf_append(out, " ", 1));
            gt_val k = gt_str(s->keys[i], s->key_lens[i]);
            TRY(print_val(out, &k, sp, depth + 1));
            TRY(xllm_buf_append(out, ":", 1));
            TRY(print_val(out, &s->items[i], sp, depth + 1));
        }
        return xllm_buf_append(out, "]", 1);
    }
    case GV_STRUCT: {
        const gt_seq *s = v->u.seq;
        if (sp->plus_v)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%+v of a struct is not supported");
        TRY(xllm_buf_append(out, "{", 1));
        for (int i = 0; i < s->n; i++) {
            if (i)
                TRY(xllm_buf_append(out, " ", 1));
            TRY(print_val(out, &s->items[i], sp, depth + 1));
        }
        return xllm_buf_append(out, "}", 1);
    }
    case GV_PTR:
        if (depth == 0 && v->u.seq) {
            gt_val st = *v;
            st.kind = GV_STRUCT;
            st.type = v->type->elem;
            TRY(xllm_buf_append(out, "&", 1));
            return print_val(out, &st, sp, depth);
        }
        if (!v->u.seq)
            return pad(out, sp, "<nil>", 5, 0);
        return xllm_fail(XLLM_ERR_UNSUPPORTED,
                         "go template: printing a pointer inside a value (Go prints its address)");
    case GV_OMAP:
        if (!v->u.seq)
            return pad(out, sp, "<nil>", 5, 0);
        return xllm_fail(XLLM_ERR_UNSUPPORTED,
                         "go template: printing %s (Go prints its address)", gt_type_name(v));
    }
    return XLLM_ERR_INTERNAL;
}

xllm_status gt_print(xllm_buf *out, const gt_val *v)
{
    if (v->kind == GV_INVALID)
        return xllm_buf_puts(out, "<no value>");
    spec sv = {.width = -1, .prec = -1, .verb = 'v'};
    return print_val(out, v, &sv, 0);
}

static int is_string_kind(const gt_val *v)
{
    return v->kind == GV_STRING && !(v->type && v->type->stringer);
}

xllm_status gt_sprint(xllm_buf *out, const gt_val *args, int n, int ln)
{
    spec sv = {.width = -1, .prec = -1, .verb = 'v'};
    for (int i = 0; i < n; i++) {
        /* Sprint: a space between operands when neither is a string; Sprintln: always */
        if (i > 0 && (ln || (!is_string_kind(&args[i - 1]) && !is_string_kind(&args[i]))))
            TRY(xllm_buf_append(out, " ", 1));
        gt_val a = args[i];
        if (a.kind == GV_INVALID)
            a = gt_nil();
        TRY(print_val(out, &a, &sv, 0));
    }
    if (ln)
        TRY(xllm_buf_append(out, "\n", 1));
    return XLLM_OK;
}

/* fmt's parsenum: 1 with the number, 0 when there is none; a digit after a
 * number over 1e6 is an overflow: *i jumps to the end (then "%!(NOVERB)"). */
static int parse_num(const char *f, size_t n, size_t *i, int *out)
{
    if (*i >= n || f[*i] < '0' || f[*i] > '9')
        return 0;
    long v = 0;
    while (*i < n && f[*i] >= '0' && f[*i] <= '9') {
        if (v > 1000000) {
            *i = n;
            return 0;
        }
        v = v * 10 + (f[*i] - '0');
        (*i)++;
    }
    *out = (int)v;
    return 1;
}

xllm_status gt_sprintf(xllm_buf *out, const char *f, size_t n, const gt_val *args, int nargs)
{
    int argi = 0;
    for (size_t i = 0; i < n;) {
        if (f[i] != '%') {
            size_t j = i;
            while (j < n && f[j] != '%')
                j++;
            TRY(xllm_buf_append(out, f + i, j - i));
            i = j;
            continue;
        }
        i++;
        spec sp = {.width = -1, .prec = -1};
        for (; i < n; i++) {
            char c = f[i];
            if (c == '+') sp.plus = 1;
            else if (c == '-') sp.minus = 1, sp.zero = 0;
            else if (c == '#') sp.sharp = 1;
            else if (c == ' ') sp.space = 1;
            else if (c == '0') sp.zero = !sp.minus;
            else break;
        }
        if (i < n && f[i] == '[')
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf argument indexes are not supported");
        if (i < n && f[i] == '*') {
            i++;
            if (argi < nargs && (args[argi].kind == GV_INT || args[argi].kind == GV_UINT8) &&
                args[argi].u.i <= 1000000 && args[argi].u.i >= -1000000) {
                sp.width = (int)args[argi++].u.i;
                if (sp.width < 0) {
                    sp.minus = 1;
                    sp.width = -sp.width;
                }
            } else {
                TRY(xllm_buf_puts(out, "%!(BADWIDTH)"));
                if (argi < nargs)
                    argi++;
            }
        } else {
            parse_num(f, n, &i, &sp.width);
        }
        if (i + 1 < n && f[i] == '.') { /* a '.' at the very end is the verb */
            i++;
            if (i < n && f[i] == '*') {
                i++;
                if (argi < nargs && (args[argi].kind == GV_INT || args[argi].kind == GV_UINT8) &&
                    args[argi].u.i >= 0 && args[argi].u.i <= 1000000) {
                    sp.prec = (int)args[argi++].u.i;
                } else {
                    TRY(xllm_buf_puts(out, "%!(BADPREC)"));
                    if (argi < nargs)
                        argi++;
                }
            } else if (!parse_num(f, n, &i, &sp.prec)) {
                sp.prec = 0;
            }
        }
        if (i >= n) {
            TRY(xllm_buf_puts(out, "%!(NOVERB)"));
            break;
        }
        long r;
        int rl = utf8_dec((const unsigned char *)f + i, n - i, &r);
        if (rl <= 0) {
            r = 0xFFFD;
            rl = 1;
        }
        i += (size_t)rl;
        utf8_enc(r, sp.verb_utf8, &sp.verb_len);
        if (r == '%') {
            TRY(xllm_buf_append(out, "%", 1));
            continue;
        }
        if (argi >= nargs) {
            TRY(xllm_buf_append(out, "%!", 2));
            TRY(xllm_buf_append(out, sp.verb_utf8, (size_t)sp.verb_len));
            TRY(xllm_buf_puts(out, "(MISSING)"));
            continue;
        }
        if (r == 'w')
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%w is not supported");
        gt_val a = args[argi++];
        if (a.kind == GV_INVALID)
            a = gt_nil();
        sp.verb = r < 0x80 ? (char)r : 1; /* 1: no verb of fmt's, a bad verb for every value */
        if (sp.verb == 'v' && sp.sharp)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%#v (Go syntax) is not supported");
        if (sp.verb == 'v' && sp.plus) {
            sp.plus = 0;
            sp.plus_v = 1;
        }
        if (sp.verb == 'T') {
            const char *tn = a.kind == GV_NIL ? "<nil>" : gt_type_name(&a);
            TRY(pad(out, &sp, tn, strlen(tn), 0));
            continue;
        }
        if (sp.verb == 'p')
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: printf %%p is not supported");
        TRY(print_val(out, &a, &sp, 0));
    }
    if (argi < nargs) {
        TRY(xllm_buf_puts(out, "%!(EXTRA "));
        for (int k = argi; k < nargs; k++) {
            if (k > argi)
                TRY(xllm_buf_puts(out, ", "));
            gt_val a = args[k];
            if (a.kind == GV_INVALID || a.kind == GV_NIL) {
                TRY(xllm_buf_puts(out, "<nil>"));
                continue;
            }
            TRY(xllm_buf_printf(out, "%s=", gt_type_name(&a)));
            spec sv = {.width = -1, .prec = -1, .verb = 'v'};
            TRY(print_val(out, &a, &sv, 0));
        }
        TRY(xllm_buf_append(out, ")", 1));
    }
    return XLLM_OK;
}
