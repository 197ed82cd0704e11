/* ugm.c - SentencePiece's normalizer (shared by the "llama" and "t5" models) and the
 * unigram model ("t5"): best-scoring segmentation by dynamic programming (Viterbi),
 * as sentencepiece's optimized encoder does.
 *
 * Precompiled charsmap blob (tokenizer.ggml.precompiled_charsmap, from the model's
 * normalizer_spec):
 *   off  size  field
 *   0    4     trie_size (u32 LE, bytes; a multiple of 4)
 *   4    ts    darts-clone double array: u32 units
 *   4+ts rest  NUL-terminated replacement strings; a trie value is an offset here */
#include <string.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

#define SP_SPACE "\xe2\x96\x81"

xllm_status tok_ugm_setup(xllm_tokenizer *t)
{
    if (t->charsmap_len) {
        uint32_t ts;
        if (t->charsmap_len < 4)
            return xllm_fail(XLLM_ERR_FORMAT, "tokenizer: precompiled charsmap is %zu bytes", t->charsmap_len);
        memcpy(&ts, t->charsmap, 4);
        if (ts % 4 || ts > t->charsmap_len - 4)
            return xllm_fail(XLLM_ERR_FORMAT, "tokenizer: precompiled charsmap trie size %u does not fit in %zu bytes",
                             ts, t->charsmap_len);
        t->cm_trie = (const uint32_t *)(t->charsmap + 4);
        t->cm_trie_units = ts / 4;
        t->cm_norm = (const char *)t->charsmap + 4 + ts;
        t->cm_norm_len = t->charsmap_len - 4 - ts;
    }
    if (t->type != XLLM_VOCAB_UGM)
        return XLLM_OK;
    xllm_status st = tok_trie_init(&t->piece_trie);
    t->ugm_min_score = 1e30f;
    t->ugm_max_score = -1e30f;
    for (int32_t id = 0; id < t->n_vocab && !st; id++) {
        uint8_t ty = t->types[id];
        if (ty == XLLM_TOKEN_NORMAL) {
            if (t->scores[id] < t->ugm_min_score)
                t->ugm_min_score = t->scores[id];
            if (t->scores[id] > t->ugm_max_score)
                t->ugm_max_score = t->scores[id];
        }
        if ((ty == XLLM_TOKEN_NORMAL || ty == XLLM_TOKEN_USER_DEFINED) && t->len[id])
            st = tok_trie_add(&t->piece_trie, tok_text(t, id), t->len[id], id);
    }
    if (t->ugm_min_score > t->ugm_max_score)
        t->ugm_min_score = t->ugm_max_score = 0;
    return st;
}

/* darts-clone unit fields */
static uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t du_label(uint32_t u) { return u & ((1u << 31) | 0xffu); }
static int du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t du_value(uint32_t u) { return u & ((1u << 31) - 1); }

static uint32_t cm_unit(const xllm_tokenizer *t, size_t i)
{
    uint32_t u;
    memcpy(&u, t->cm_trie + i, 4);
    return u;
}

/* Longest charsmap rule at s: its input length (0 = none) and replacement. */
static size_t cm_longest(const xllm_tokenizer *t, const char *s, size_t n, const char **rep, size_t *rep_len)
{
    if (!t->cm_trie_units)
        return 0;
    size_t best = 0, pos = 0;
    uint32_t value = 0;
    pos ^= du_offset(cm_unit(t, 0));
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        pos ^= c;
        if (pos >= t->cm_trie_units)
            break;
        uint32_t u = cm_unit(t, pos);
        if (du_label(u) != c)
            break;
        pos ^= du_offset(u);
        if (pos >= t->cm_trie_units)
            break;
        if (du_has_leaf(u)) {
            best = i + 1;
            value = du_value(cm_unit(t, pos));
        }
    }
    if (!best || value >= t->cm_norm_len)
        return 0;
    const char *r = t->cm_norm + value;
    const char *end = memchr(r, 0, t->cm_norm_len - value);
    *rep = r;
    *rep_len = end ? (size_t)(end - r) : t->cm_norm_len - value;
    return best;
}

/* One normalization step at s: consumed input bytes, and the output piece. */
static size_t norm_prefix(const xllm_tokenizer *t, const char *s, size_t n, const char **piece, size_t *plen)
{
    int32_t id;
    size_t k;
    if (t->user_defined_in_model && (k = tok_trie_longest(&t->user_trie, s, n, &id))) {
        *piece = s;
        *plen = k;
        return k;
    }
    if ((k = cm_longest(t, s, n, piece, plen)))
        return k;
    k = tok_utf8_len_lenient((unsigned char)s[0]);
    if (k > n)
        k = n;
    *piece = s;
    *plen = k;
    return k;
}

xllm_status tok_sp_normalize(const xllm_tokenizer *t, const char *s, size_t n, int prefix, xllm_buf *out)
{
    const char *piece;
    size_t plen, i = 0;
    int rx = t->remove_extra_ws;
    xllm_status st = XLLM_OK;
    if (rx) {
        while (i < n) {
            size_t k = norm_prefix(t, s + i, n - i, &piece, &plen);
            if (plen != 1 || piece[0] != ' ')
                break;
            i += k;
        }
    }
    if (i == n)
        return XLLM_OK;
    if (prefix && t->add_space_prefix && (st = xllm_buf_puts(out, SP_SPACE)))
        return st;
    int prev_space = rx;
    while (i < n && !st) {
        size_t k = norm_prefix(t, s + i, n - i, &piece, &plen);
        i += k;
        while (prev_space && plen && piece[0] == ' ') {
            piece++;
            plen--;
        }
        if (!plen)
            continue;
        for (size_t j = 0; j < plen && !st; j++)
            st = piece[j] == ' ' ? xllm_buf_puts(out, SP_SPACE) : xllm_buf_append(out, piece + j, 1);
        prev_space = rx && piece[plen - 1] == ' ';
    }
    if (rx)
        while (out->len >= 3 && !memcmp(out->data + out->len - 3, SP_SPACE, 3))
            out->len -= 3;
    return st;
}

typedef struct best_node {
    float score;
    int32_t start; /* -1: not reached */
    int32_t id;
} best_node;

/* An unknown piece becomes bytes (byte fallback) or one unknown token; runs of
 * unknown pieces fuse into one, as sentencepiece does. */
static xllm_status emit_unigram(const xllm_tokenizer *t, const char *p, size_t n, int32_t id, int *prev_unk,
                                tok_ids *out)
{
    int was_unk = *prev_unk;
    *prev_unk = 0;
    if (id != t->unk || id < 0)
        return id >= 0 ? tok_ids_push(out, id) : XLLM_OK;
    int have_bytes = 1;
    for (size_t k = 0; k < n && have_bytes; k++)
        have_bytes = t->byte_tok[(uint8_t)p[k]] >= 0;
    if (!have_bytes) {
        *prev_unk = 1;
        return was_unk ? XLLM_OK : tok_ids_push(out, id);
    }
    xllm_status st = XLLM_OK;
    for (size_t k = 0; k < n && !st; k++)
        st = tok_ids_push(out, t->byte_tok[(uint8_t)p[k]]);
    return st;
}

xllm_status tok_ugm_fragment(const xllm_tokenizer *t, const char *s, size_t n, int prefix, tok_ids *out)
{
    xllm_buf w;
    xllm_buf_init(&w, 0);
    best_node *best = NULL;
    int32_t *path = NULL;
    xllm_status rc = tok_sp_normalize(t, s, n, prefix, &w);
    if (rc || !w.len)
        goto out;
    size_t len = w.len;
    const char *p = w.data;
    best = xllm_malloc((len + 1) * sizeof *best);
    path = xllm_malloc((len + 1) * sizeof *path);
    if (!best || !path) {
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (%zu bytes of text)", len);
        goto out;
    }
    for (size_t i = 0; i <= len; i++) {
        best[i].start = -1;
        best[i].score = 0;
        best[i].id = -1;
    }
    const float unk_score = t->ugm_min_score - 10.0f;
    for (size_t at = 0; at < len;) {
        float here = best[at].score;
        size_t mblen = tok_utf8_len_lenient((unsigned char)p[at]);
        if (mblen > len - at)
            mblen = len - at;
        int single = 0;
        int32_t node = 0;
        for (size_t k = at; k < len; k++) {
            node = tok_trie_child(&t->piece_trie, node, (uint8_t)p[k]);
            if (node < 0)
                break;
            int32_t id = t->piece_trie.term[node];
            if (id < 0)
                continue;
            size_t plen = k + 1 - at;
            float sc = t->types[id] == XLLM_TOKEN_USER_DEFINED ? (float)plen * t->ugm_max_score - 0.1f
                                                               : t->scores[id];
            best_node *b = &best[k + 1];
            if (b->start < 0 || sc + here > b->score) {
                b->score = sc + here;
                b->start = (int32_t)at;
                b->id = id;
            }
            if (plen == mblen)
                single = 1;
        }
        if (!single) {
            best_node *b = &best[at + mblen];
            if (b->start < 0 || unk_score + here > b->score) {
                b->score = unk_score + here;
                b->start = (int32_t)at;
                b->id = t->unk;
            }
        }
        at += mblen;
    }
    size_t np = 0;
    for (size_t end = len; end > 0; end = (size_t)best[end].start) {
        if (best[end].start < 0) {
            rc = xllm_fail(XLLM_ERR_INTERNAL, "tokenizer: unigram lattice has a gap at byte %zu", end);
            goto out;
        }
        path[np++] = (int32_t)end;
    }
    int prev_unk = 0;
    for (size_t k = np; k-- > 0 && !rc;) {
        size_t end = (size_t)path[k], start = (size_t)best[end].start;
        rc = emit_unigram(t, p + start, end - start, best[end].id, &prev_unk, out);
    }
out:
    xllm_free(best);
    xllm_free(path);
    xllm_buf_free(&w);
    return rc;
}
