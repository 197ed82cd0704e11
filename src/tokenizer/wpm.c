/* wpm.c - WordPiece ("bert"): Hugging Face's BertNormalizer (drop control chars,
 * whitespace to ' ', CJK ideographs as words, NFD accent stripping, lower-casing),
 * BertPreTokenizer (split on whitespace, punctuation as single-char words) and the
 * greedy longest-match-first WordPiece over a GGUF vocabulary in llama.cpp's
 * "phantom space" form (word-initial pieces start with U+2581, continuation pieces
 * are bare: HF's "##ing" is stored as "ing"). */
#include <string.h>
#include <utf8proc.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

#define WPM_MAX_WORD_CHARS 100 /* HF's max_input_chars_per_word */

static int is_ws(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

static int is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return 0;
    /* HF drops Cc, Cf, Co, Cs; unassigned code points (Cn, e.g. U+10FFFF) stay */
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO ||
           cat == UTF8PROC_CATEGORY_CS;
}

static int is_punct(uint32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return 1;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(uint32_t c)
{
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) ||
           (c >= 0x2a700 && c <= 0x2b73f) || (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/* Greedy longest-match-first over one word (UTF-8, already normalized). */
static xllm_status wpm_word(const xllm_tokenizer *t, const char *w, size_t n, size_t n_chars, xllm_buf *tmp,
                            tok_ids *out)
{
    size_t mark = out->n;
    xllm_status st;
    if (n_chars > WPM_MAX_WORD_CHARS)
        return t->unk >= 0 ? tok_ids_push(out, t->unk) : XLLM_OK;
    for (size_t start = 0; start < n;) {
        tmp->len = 0;
        if (start == 0 && (st = xllm_buf_puts(tmp, "\xe2\x96\x81")))
            return st;
        size_t head = tmp->len;
        if ((st = xllm_buf_append(tmp, w + start, n - start)))
            return st;
        int32_t id = -1;
        size_t end = n;
        while (end > start) {
            if (end - start + head <= t->max_token_len &&
                (id = tok_find(t, tmp->data, head + end - start)) >= 0)
                break;
            do /* back up one character */
                end--;
            while (end > start && ((unsigned char)w[end] & 0xc0) == 0x80);
        }
        if (id < 0) {
            out->n = mark; /* the whole word is unknown */
            return t->unk >= 0 ? tok_ids_push(out, t->unk) : XLLM_OK;
        }
        if ((st = tok_ids_push(out, id)))
            return st;
        start = end;
    }
    return XLLM_OK;
}

xllm_status tok_wpm_fragment(const xllm_tokenizer *t, const char *s, size_t n, tok_ids *out)
{
    xllm_buf word, tmp;
    xllm_buf_init(&word, 0);
    xllm_buf_init(&tmp, 0);
    size_t word_chars = 0;
    xllm_status rc = XLLM_OK;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && !rc;) {
        size_t adv;
        uint32_t c = tok_utf8_decode(u + i, n - i, &adv);
        i += adv;
        int boundary = 0, alone = 0;
        if (c == 0 || c == 0xfffd || is_control(c))
            continue;
        if (is_ws(c))
            boundary = 1;
        else if (is_cjk(c))
            alone = 1;
        utf8proc_int32_t dec[16];
        utf8proc_ssize_t nd = 0;
        if (!boundary) {
            int last = 0;
            nd = utf8proc_decompose_char((utf8proc_int32_t)c, dec, 16, UTF8PROC_DECOMPOSE, &last);
            if (nd < 0 || nd > 16) {
                dec[0] = (utf8proc_int32_t)c;
                nd = 1;
            }
        }
        if (boundary || alone || (nd == 1 && is_punct((uint32_t)utf8proc_tolower(dec[0])))) {
            if (word.len && (rc = wpm_word(t, word.data, word.len, word_chars, &tmp, out)))
                break;
            word.len = 0;
            word_chars = 0;
            if (boundary)
                continue;
        }
        for (utf8proc_ssize_t k = 0; k < nd && !rc; k++) {
            if (utf8proc_category(dec[k]) == UTF8PROC_CATEGORY_MN)
                continue;
            uint32_t lc = (uint32_t)utf8proc_tolower(dec[k]);
            char b[4];
            size_t bl = tok_utf8_encode(lc, b);
            if (is_punct(lc) && nd > 1) { /* a punctuation char out of a decomposition */
                if (word.len && (rc = wpm_word(t, word.data, word.len, word_chars, &tmp, out)))
                    break;
                word.len = word_chars = 0;
                rc = wpm_word(t, b, bl, 1, &tmp, out);
                continue;
            }
            rc = xllm_buf_append(&word, b, bl);
            word_chars++;
        }
        if (!rc && (alone || (nd == 1 && is_punct((uint32_t)utf8proc_tolower(dec[0]))))) {
            if (word.len)
                rc = wpm_word(t, word.data, word.len, word_chars, &tmp, out);
            word.len = 0;
            word_chars = 0;
        }
    }
    if (!rc && word.len)
        rc = wpm_word(t, word.data, word.len, word_chars, &tmp, out);
    xllm_buf_free(&word);
    xllm_buf_free(&tmp);
    return rc;
}
