/* jinja_str.c - Python str operations on UTF-8 for the Jinja2 interpreter: case
 * mapping (utf8proc), whitespace as str.isspace sees it, strip / split / replace /
 * splitlines / join, and the is*() character classes. */
#include <string.h>
#include <utf8proc.h>

#include "template/jinja_str.h"

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

static size_t next_cp(const char *p, size_t n, int32_t *cp)
{
    utf8proc_int32_t v;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, &v);
    if (k <= 0) {
        *cp = (unsigned char)p[0];
        return 1;
    }
    *cp = v;
    return (size_t)k;
}

/* Start of the code point that ends at p[n-1]. */
static size_t prev_cp(const char *p, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)p[i] & 0xC0) == 0x80)
        i--;
    return i;
}

int jcp_isspace(int32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    if (cp == 0x85)
        return 1;
    int cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

static int cp_cased(int32_t cp)
{
    int cat = utf8proc_category(cp);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

static size_t put_cp(char *o, int32_t cp) { return (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)o); }

/* Jinja2's title filter splits words at runs of [-\s({\[<]. */
static int jinja_title_sep(int32_t cp) { return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || jcp_isspace(cp); }

xllm_status jstr_case(jctx *c, jv s, int mode, jv *out)
{
    char *o = jarena_alloc(&c->arena, s.u.s.n * 3 + 4);
    size_t k = 0;
    int prev_cased = 0, word_start = 1, first = 1;
    if (!o)
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < s.u.s.n;) {
        int32_t cp, r;
        i += next_cp(s.u.s.p + i, s.u.s.n - i, &cp);
        switch (mode) {
        case JCASE_UPPER: r = utf8proc_toupper(cp); break;
        case JCASE_LOWER: r = utf8proc_tolower(cp); break;
        case JCASE_PYTITLE:
            r = prev_cased ? utf8proc_tolower(cp) : utf8proc_totitle(cp);
            prev_cased = cp_cased(cp);
            break;
        case JCASE_CAPITALIZE:
            r = first ? utf8proc_totitle(cp) : utf8proc_tolower(cp);
            break;
        default: /* Jinja title: first character of each piece upper, the rest lower */
            if (jinja_title_sep(cp)) {
                r = cp;
                word_start = 1;
            } else {
                r = word_start ? utf8proc_toupper(cp) : utf8proc_tolower(cp);
                word_start = 0;
            }
        }
        first = 0;
        k += put_cp(o + k, r);
    }
    o[k] = 0;
    *out = jv_str(o, k);
    return XLLM_OK;
}

static int in_chars(const jv *chars, int32_t cp)
{
    if (!chars)
        return jcp_isspace(cp);
    for (size_t i = 0; i < chars->u.s.n;) {
        int32_t x;
        i += next_cp(chars->u.s.p + i, chars->u.s.n - i, &x);
        if (x == cp)
            return 1;
    }
    return 0;
}

jv jstr_strip(jv s, const jv *chars, int mode)
{
    size_t b = 0, e = s.u.s.n;
    while ((mode & 1) && b < e) {
        int32_t cp;
        size_t k = next_cp(s.u.s.p + b, e - b, &cp);
        if (!in_chars(chars, cp))
            break;
        b += k;
    }
    while ((mode & 2) && e > b) {
        size_t st = prev_cp(s.u.s.p + b, e - b) + b;
        int32_t cp;
        next_cp(s.u.s.p + st, e - st, &cp);
        if (!in_chars(chars, cp))
            break;
        e = st;
    }
    return jv_str(s.u.s.p + b, e - b);
}

static xllm_status push_part(jctx *c, jlist *l, const char *p, size_t n, int front)
{
    if (!front)
        return jlist_push(c, l, jv_str(p, n));
    TRY(jlist_push(c, l, jv_none()));
    memmove(l->v + 1, l->v, (l->n - 1) * sizeof(jv));
    l->v[0] = jv_str(p, n);
    return XLLM_OK;
}

xllm_status jstr_split(jctx *c, jv s, const jv *sep, int64_t maxsplit, int from_right, jv *out)
{
    jlist *l = jlist_new(c, 0);
    const char *p = s.u.s.p;
    size_t n = s.u.s.n;
    if (!l)
        return XLLM_ERR_LIMIT;
    *out = (jv){.type = JV_LIST, .u.l = l};
    if (sep) {
        size_t m = sep->u.s.n;
        if (!from_right) {
            size_t b = 0;
            for (size_t i = 0; i + m <= n && maxsplit != 0;) {
                if (memcmp(p + i, sep->u.s.p, m) == 0) {
                    TRY(push_part(c, l, p + b, i - b, 0));
                    i += m;
                    b = i;
                    maxsplit--;
                } else {
                    i++;
                }
            }
            return push_part(c, l, p + b, n - b, 0);
        }
        size_t e = n;
        for (size_t i = n; i >= m && maxsplit != 0;) {
            if (memcmp(p + i - m, sep->u.s.p, m) == 0) {
                TRY(push_part(c, l, p + i, e - i, 1));
                i -= m;
                e = i;
                maxsplit--;
            } else {
                i--;
            }
        }
        return push_part(c, l, p, e, 1);
    }
    /* whitespace split: runs of whitespace, no empty strings */
    if (from_right && maxsplit >= 0)
        return jerr(c, XLLM_ERR_UNSUPPORTED, "rsplit() on whitespace with maxsplit");
    size_t i = 0;
    for (;;) {
        int32_t cp;
        while (i < n && jcp_isspace((next_cp(p + i, n - i, &cp), cp)))
            i += next_cp(p + i, n - i, &cp);
        if (i >= n)
            break;
        if (maxsplit == 0) {
            jv rest = jstr_strip(jv_str(p + i, n - i), NULL, 2);
            return push_part(c, l, rest.u.s.p, rest.u.s.n, 0);
        }
        size_t b = i;
        while (i < n) {
            size_t k = next_cp(p + i, n - i, &cp);
            if (jcp_isspace(cp))
                break;
            i += k;
        }
        TRY(push_part(c, l, p + b, i - b, 0));
        maxsplit--;
    }
    return XLLM_OK;
}

xllm_status jstr_replace(jctx *c, jv s, jv old, jv new_, int64_t count, jv *out)
{
    xllm_buf b;
    xllm_status st = XLLM_OK;
    xllm_buf_init(&b, 1u << 30);
    if (!old.u.s.n) { /* Python inserts new_ between every character (and at both ends) */
        for (size_t i = 0; !st && i <= s.u.s.n;) {
            if (count != 0) {
                st = xllm_buf_append(&b, new_.u.s.p, new_.u.s.n);
                count--;
            }
            if (i == s.u.s.n)
                break;
            size_t k = utf8_offset(s.u.s.p + i, s.u.s.n - i, 1);
            if (!st)
                st = xllm_buf_append(&b, s.u.s.p + i, k);
            i += k;
        }
    } else {
        size_t run = 0;
        for (size_t i = 0; !st && i + old.u.s.n <= s.u.s.n && count != 0;) {
            if (memcmp(s.u.s.p + i, old.u.s.p, old.u.s.n) == 0) {
                st = xllm_buf_append(&b, s.u.s.p + run, i - run);
                if (!st)
                    st = xllm_buf_append(&b, new_.u.s.p, new_.u.s.n);
                i += old.u.s.n;
                run = i;
                count--;
            } else {
                i++;
            }
        }
        if (!st)
            st = xllm_buf_append(&b, s.u.s.p + run, s.u.s.n - run);
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

int64_t jstr_count(jv s, jv sub)
{
    if (!sub.u.s.n)
        return (int64_t)utf8_count(s.u.s.p, s.u.s.n) + 1;
    int64_t k = 0;
    for (size_t i = 0; i + sub.u.s.n <= s.u.s.n;) {
        if (memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n) == 0) {
            k++;
            i += sub.u.s.n;
        } else {
            i++;
        }
    }
    return k;
}

int64_t jstr_find(jv s, jv sub, int last)
{
    int64_t at = -1;
    for (size_t i = 0; i + sub.u.s.n <= s.u.s.n; i++)
        if (memcmp(s.u.s.p + i, sub.u.s.p, sub.u.s.n) == 0) {
            at = (int64_t)i;
            if (!last)
                break;
        }
    return at < 0 ? -1 : (int64_t)utf8_count(s.u.s.p, (size_t)at);
}

xllm_status jstr_join(jctx *c, const jlist *items, jv sep, jv *out)
{
    size_t n = 0;
    for (size_t i = 0; i < items->n; i++)
        n += items->v[i].u.s.n + (i ? sep.u.s.n : 0);
    char *p = jarena_alloc(&c->arena, n + 1);
    size_t k = 0;
    if (!p)
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < items->n; i++) {
        if (i) {
            memcpy(p + k, sep.u.s.p, sep.u.s.n);
            k += sep.u.s.n;
        }
        memcpy(p + k, items->v[i].u.s.p, items->v[i].u.s.n);
        k += items->v[i].u.s.n;
    }
    p[k] = 0;
    *out = jv_str(p, k);
    return XLLM_OK;
}

/* Length of the line break at p (0 if none): \r\n, \n, \r, \v, \f, \x1c-\x1e, U+0085,
 * U+2028, U+2029 (Python's str.splitlines). */
static size_t line_break(const char *p, size_t n)
{
    unsigned char ch = (unsigned char)p[0];
    if (ch == '\r')
        return n > 1 && p[1] == '\n' ? 2 : 1;
    if (ch == '\n' || ch == '\v' || ch == '\f' || (ch >= 0x1C && ch <= 0x1E))
        return 1;
    if (ch == 0xC2 && n > 1 && (unsigned char)p[1] == 0x85)
        return 2;
    if (ch == 0xE2 && n > 2 && (unsigned char)p[1] == 0x80 && ((unsigned char)p[2] == 0xA8 || (unsigned char)p[2] == 0xA9))
        return 3;
    return 0;
}

xllm_status jstr_splitlines(jctx *c, jv s, int keepends, jv *out)
{
    jlist *l = jlist_new(c, 0);
    if (!l)
        return XLLM_ERR_LIMIT;
    size_t b = 0;
    for (size_t i = 0; i < s.u.s.n;) {
        size_t k = line_break(s.u.s.p + i, s.u.s.n - i);
        if (!k) {
            i++;
            continue;
        }
        TRY(jlist_push(c, l, jv_str(s.u.s.p + b, (keepends ? i + k : i) - b)));
        i += k;
        b = i;
    }
    if (b < s.u.s.n)
        TRY(jlist_push(c, l, jv_str(s.u.s.p + b, s.u.s.n - b)));
    *out = (jv){.type = JV_LIST, .u.l = l};
    return XLLM_OK;
}

int jstr_is(jv s, int cls)
{
    int any_cased = 0;
    if (!s.u.s.n)
        return 0;
    for (size_t i = 0; i < s.u.s.n;) {
        int32_t cp;
        i += next_cp(s.u.s.p + i, s.u.s.n - i, &cp);
        int cat = utf8proc_category(cp);
        int alpha = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        int digit = cat == UTF8PROC_CATEGORY_ND;
        int numeric = digit || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
        switch (cls) {
        case JCLS_DIGIT: if (!digit) return 0; break;
        case JCLS_ALPHA: if (!alpha) return 0; break;
        case JCLS_ALNUM: if (!alpha && !numeric) return 0; break;
        case JCLS_SPACE: if (!jcp_isspace(cp)) return 0; break;
        case JCLS_UPPER:
            if (cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
                return 0;
            any_cased |= cat == UTF8PROC_CATEGORY_LU;
            break;
        default:
            if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT)
                return 0;
            any_cased |= cat == UTF8PROC_CATEGORY_LL;
        }
    }
    return cls == JCLS_UPPER || cls == JCLS_LOWER ? any_cased : 1;
}

xllm_status jstr_zfill(jctx *c, jv s, int64_t width, jv *out)
{
    int64_t n = (int64_t)utf8_count(s.u.s.p, s.u.s.n);
    if (width <= n) {
        *out = s;
        return XLLM_OK;
    }
    if (width > (1 << 20))
        return jerr(c, XLLM_ERR_LIMIT, "zfill width too large");
    size_t pad = (size_t)(width - n), sign = s.u.s.n && (s.u.s.p[0] == '-' || s.u.s.p[0] == '+');
    char *p = jarena_alloc(&c->arena, s.u.s.n + pad + 1);
    if (!p)
        return XLLM_ERR_LIMIT;
    if (sign)
        p[0] = s.u.s.p[0];
    memset(p + sign, '0', pad);
    memcpy(p + sign + pad, s.u.s.p + sign, s.u.s.n - sign);
    p[s.u.s.n + pad] = 0;
    *out = jv_str(p, s.u.s.n + pad);
    return XLLM_OK;
}
