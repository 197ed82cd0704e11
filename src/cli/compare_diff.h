/* compare_diff.h - where two generated outputs part, and printing them side
 * by side in two columns with the divergence marked, for `xllm compare`.
 * Pure functions over caller strings; nothing is kept. */
#ifndef XLLM_CLI_COMPARE_DIFF_H
#define XLLM_CLI_COMPARE_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Marker printed where the outputs part (U+00BB, one column wide). */
#define CLI_DIFF_MARK "\xc2\xbb"

typedef struct cli_divergence {
    int identical;  /* same token ids (shared vocabulary) or same text */
    size_t byte;    /* first differing byte, on a UTF-8 character start; SIZE_MAX when identical */
    int32_t token;  /* first differing token index (shared vocabulary only), else -1 */
} cli_divergence;

/* Compare outputs a (text ta[la], ids ia[na]) and b (tb[lb], ib[nb]). Token ids are
 * compared only when shared_vocab; otherwise only the texts. */
void cli_diverge(const char *ta, size_t la, const int32_t *ia, int32_t na, const char *tb, size_t lb,
                 const int32_t *ib, int32_t nb, int shared_vocab, cli_divergence *d);

/* Print a and b in two columns of width (at least 8) terminal columns each
 * (East Asian wide characters count 2), separated by " | ", wrapping; newlines
 * show as U+21B5, other control characters as '?'; CLI_DIFF_MARK is inserted
 * at byte mark of both (none when mark is SIZE_MAX). Each line starts with
 * indent. */
void cli_print_side_by_side(FILE *f, const char *indent, const char *a, const char *b, size_t mark, int width);

#endif
