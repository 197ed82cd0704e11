/* compare_diff.c - divergence of two outputs and their side-by-side display. */
#include "cli/compare_diff.h"

#include <string.h>
#include <utf8proc.h>

#include "base/alloc.h"

#define NEWLINE_SIGN "\xe2\x86\xb5" /* U+21B5 */

void cli_diverge(const char *ta, size_t la, const int32_t *ia, int32_t na, const char *tb, size_t lb,
                 const int32_t *ib, int32_t nb, int shared_vocab, cli_divergence *d)
{
    size_t i = 0;
    int32_t k = 0;
    while (i < la && i < lb && ta[i] == tb[i])
        i++;
    while (i > 0 && i < la && ((unsigned char)ta[i] & 0xC0) == 0x80)
        i--; /* back to the start of the character that differs */
    d->token = -1;
    if (shared_vocab) {
        while (k < na && k < nb && ia[k] == ib[k])
            k++;
        d->identical = k == na && k == nb;
        d->token = d->identical ? -1 : k;
    } else {
        d->identical = la == lb && i == la;
    }
    /* same ids always give the same text; different ids may still spell it */
    d->byte = d->identical || (i == la && i == lb) ? (size_t)-1 : i;
}

/* Display form of s: newline sign, '?' for control bytes, the mark at byte mark. */
static char *render(const char *s, size_t mark)
{
    size_t n = strlen(s), o = 0;
    char *r = xllm_malloc(3 * n + sizeof CLI_DIFF_MARK);
    if (!r)
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == mark) {
            memcpy(r + o, CLI_DIFF_MARK, sizeof CLI_DIFF_MARK - 1);
            o += sizeof CLI_DIFF_MARK - 1;
        }
        if (i == n)
            break;
        if (c == '\n') {
            memcpy(r + o, NEWLINE_SIGN, sizeof NEWLINE_SIGN - 1);
            o += sizeof NEWLINE_SIGN - 1;
        } else {
            r[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
    r[o] = 0;
    return r;
}

/* Terminal columns of the character at s (CJK and emoji take 2, combining
 * marks 0); *len receives its byte length (1 for a byte that is not UTF-8). */
static int char_width(const char *s, size_t *len)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp);
    if (n < 1) {
        *len = 1;
        return 1;
    }
    *len = (size_t)n;
    return utf8proc_charwidth(cp);
}

/* Print what fits in width columns of *p (advancing it), padded to width when pad. */
static void column(FILE *f, const char **p, int width, int pad)
{
    int shown = 0;
    const char *s = *p;
    while (*s) {
        size_t len;
        int w = char_width(s, &len);
        if (shown + w > width)
            break;
        fwrite(s, 1, len, f);
        s += len;
        shown += w;
    }
    if (s == *p && *s) { /* a character wider than the column: show it anyway */
        size_t len;
        shown += char_width(s, &len);
        fwrite(s, 1, len, f);
        s += len;
    }
    *p = s;
    for (; pad && shown < width; shown++)
        fputc(' ', f);
}

void cli_print_side_by_side(FILE *f, const char *indent, const char *a, const char *b, size_t mark, int width)
{
    char *ra = render(a, mark), *rb = render(b, mark);
    const char *pa = ra, *pb = rb;
    if (width < 8)
        width = 8;
    if (!ra || !rb) {
        fprintf(f, "%s(out of memory)\n", indent);
    } else {
        do {
            fputs(indent, f);
            column(f, &pa, width, 1);
            fputs(" | ", f);
            column(f, &pb, width, 0);
            fputc('\n', f);
        } while (*pa || *pb);
    }
    xllm_free(ra);
    xllm_free(rb);
}
