/* grammar_vocab.c - the per-model token trie (token byte strings sorted,
 * nodes in preorder with subtree ends) and the mask walk: one linear pass
 * over the trie per grammar state, skipping every subtree whose prefix the
 * grammar refuses, with the state's memoized byte transitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "runtime/grammar_impl.h"

enum { KIND_BANNED = 0, KIND_TEXT = 1, KIND_END = 2 };

struct xllm_grammar_vocab {
    int32_t n_vocab;
    size_t words;        /* (n_vocab + 63) / 64 */
    char *bytes;         /* all token pieces */
    uint32_t *off;       /* [n_vocab + 1] piece of token t: bytes[off[t] .. off[t + 1]) */
    uint8_t *kind;       /* [n_vocab] KIND_* */
    uint32_t n_nodes;    /* trie without its root, preorder */
    uint8_t *nbyte;      /* [n_nodes] edge byte into the node */
    uint32_t *ndepth;    /* [n_nodes] 1 = child of the root */
    uint32_t *nend;      /* [n_nodes] first node after the subtree */
    uint32_t *ntok;      /* [n_nodes + 1] tokens ending at node i: toks[ntok[i] .. ntok[i + 1]) */
    int32_t *toks;
    uint32_t max_depth;
    int32_t *eog;        /* end-of-generation tokens */
    uint32_t n_eog;
};

static int cmp_piece(const void *a, const void *b, void *ctx)
{
    const xllm_grammar_vocab *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->off[x + 1] - v->off[x], ly = v->off[y + 1] - v->off[y];
    int c = memcmp(v->bytes + v->off[x], v->bytes + v->off[y], lx < ly ? lx : ly);
    if (c)
        return c;
    return lx != ly ? (lx < ly ? -1 : 1) : (x < y ? -1 : x > y);
}

static int token_kind(const xllm_tokenizer *tok, int32_t id, size_t len)
{
    if (xllm_tokenizer_is_eog(tok, id))
        return KIND_END;
    xllm_token_type t = xllm_tokenizer_token_type(tok, id);
    if (t == XLLM_TOKEN_CONTROL || t == XLLM_TOKEN_UNKNOWN || t == XLLM_TOKEN_UNUSED || !len)
        return KIND_BANNED;
    return KIND_TEXT;
}

static xllm_status read_pieces(const xllm_tokenizer *tok, xllm_grammar_vocab *v)
{
    xllm_buf all;
    xllm_buf_init(&all, 1u << 30);
    char *piece = xllm_malloc(XLLM_MAX_TOKEN_BYTES);
    xllm_status st = piece ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar vocab: out of memory");
    for (int32_t id = 0; id < v->n_vocab && !st; id++) {
        int32_t n = xllm_token_to_piece(tok, id, 0, piece, XLLM_MAX_TOKEN_BYTES);
        if (n < 0 || n > XLLM_MAX_TOKEN_BYTES)
            n = 0;
        v->kind[id] = (uint8_t)token_kind(tok, id, (size_t)n);
        if (v->kind[id] != KIND_TEXT)
            n = 0;
        v->off[id] = (uint32_t)all.len;
        st = xllm_buf_append(&all, piece, (size_t)n);
    }
    v->off[v->n_vocab] = (uint32_t)all.len;
    xllm_free(piece);
    if (!st && !all.data)
        st = xllm_buf_append(&all, "", 1);
    v->bytes = xllm_buf_take(&all);
    xllm_buf_free(&all);
    return st;
}

/* Preorder trie from the pieces in sorted order: a token creates the nodes
 * below its common prefix with the previous token. */
static xllm_status build_trie(xllm_grammar_vocab *v)
{
    int32_t n_text = 0;
    for (int32_t id = 0; id < v->n_vocab; id++)
        n_text += v->kind[id] == KIND_TEXT;
    size_t max_nodes = v->off[v->n_vocab];
    int32_t *ids = xllm_malloc(((size_t)n_text + 1) * sizeof *ids);
    uint32_t *open = xllm_malloc((XLLM_MAX_TOKEN_BYTES + 1) * sizeof *open);
    v->toks = xllm_malloc(((size_t)n_text + 1) * sizeof *v->toks);
    v->nbyte = xllm_malloc(max_nodes + 1);
    v->ndepth = xllm_malloc((max_nodes + 1) * sizeof *v->ndepth);
    v->nend = xllm_malloc((max_nodes + 1) * sizeof *v->nend);
    v->ntok = xllm_malloc((max_nodes + 2) * sizeof *v->ntok);
    xllm_status st = XLLM_OK;
    if (!ids || !open || !v->toks || !v->nbyte || !v->ndepth || !v->nend || !v->ntok) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar vocab: out of memory");
        goto out;
    }
    n_text = 0;
    for (int32_t id = 0; id < v->n_vocab; id++)
        if (v->kind[id] == KIND_TEXT)
            ids[n_text++] = id;
    qsort_r(ids, (size_t)n_text, sizeof *ids, cmp_piece, v);
    uint32_t n = 0, n_toks = 0, prev_len = 0;
    const char *prev = "";
    for (int32_t i = 0; i < n_text; i++) {
        const char *p = v->bytes + v->off[ids[i]];
        uint32_t len = v->off[ids[i] + 1] - v->off[ids[i]], lcp = 0;
        while (lcp < len && lcp < prev_len && p[lcp] == prev[lcp])
            lcp++;
        for (uint32_t d = lcp + 1; d <= prev_len; d++) /* close what this token leaves */
            v->nend[open[d]] = n;
        for (uint32_t d = lcp + 1; d <= len; d++) {
            v->nbyte[n] = (uint8_t)p[d - 1];
            v->ndepth[n] = d;
            v->ntok[n] = n_toks;
            open[d] = n++;
        }
        v->toks[n_toks++] = ids[i];
        if (len > v->max_depth)
            v->max_depth = len;
        prev = p, prev_len = len;
    }
    for (uint32_t d = 1; d <= prev_len; d++)
        v->nend[open[d]] = n;
    v->ntok[n] = n_toks;
    v->n_nodes = n;
out:
    xllm_free(ids);
    xllm_free(open);
    return st;
}

xllm_status xllm_grammar_vocab_new(const xllm_tokenizer *tok, xllm_grammar_vocab **out)
{
    *out = NULL;
    xllm_grammar_vocab *v = xllm_calloc(1, sizeof *v);
    if (!v)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar vocab: out of memory");
    v->n_vocab = xllm_tokenizer_n_vocab(tok);
    v->words = ((size_t)v->n_vocab + 63) / 64;
    v->off = xllm_malloc(((size_t)v->n_vocab + 1) * sizeof *v->off);
    v->kind = xllm_malloc((size_t)v->n_vocab + 1);
    v->eog = xllm_malloc(((size_t)v->n_vocab + 1) * sizeof *v->eog);
    xllm_status st = XLLM_OK;
    if (!v->off || !v->kind || !v->eog)
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar vocab: out of memory");
    if (!st)
        st = read_pieces(tok, v);
    if (!st)
        st = build_trie(v);
    for (int32_t id = 0; !st && id < v->n_vocab; id++)
        if (v->kind[id] == KIND_END)
            v->eog[v->n_eog++] = id;
    if (st) {
        xllm_grammar_vocab_free(v);
        return st;
    }
    *out = v;
    return XLLM_OK;
}

void xllm_grammar_vocab_free(xllm_grammar_vocab *v)
{
    if (!v)
        return;
    xllm_free(v->bytes);
    xllm_free(v->off);
    xllm_free(v->kind);
    xllm_free(v->nbyte);
    xllm_free(v->ndepth);
    xllm_free(v->nend);
    xllm_free(v->ntok);
    xllm_free(v->toks);
    xllm_free(v->eog);
    xllm_free(v);
}

int32_t xllm_grammar_vocab_n(const xllm_grammar_vocab *v)
{
    return v->n_vocab;
}

/* One pass over the trie from set `set`. Returns 0, or -1 when a transition
 * failed for memory (the mask is then smaller than it should be, still sound). */
static int walk(xllm_grammar_state *s, const xllm_grammar_vocab *v, int32_t set, uint64_t *mask, void *scratch)
{
    const int32_t **rows = scratch;
    int32_t *sets = (int32_t *)(rows + v->max_depth + 1);
    int failed = 0;
    memset(mask, 0, v->words * sizeof *mask);
    sets[0] = set;
    rows[0] = xllm_gstate_row(s, set);
    const uint8_t *nbyte = v->nbyte;
    const uint32_t *ndepth = v->ndepth, *nend = v->nend, *ntok = v->ntok;
    for (uint32_t i = 0; i < v->n_nodes;) {
        uint32_t d = ndepth[i];
        const int32_t *row = rows[d - 1];
        int32_t nx = row ? row[nbyte[i]] : XLLM_GTRANS_UNKNOWN;
        if (nx == XLLM_GTRANS_UNKNOWN)
            nx = xllm_gstate_step(s, sets[d - 1], nbyte[i]);
        if (nx < 0) {
            failed |= nx == -2;
            i = nend[i];
            continue;
        }
        sets[d] = nx;
        if (i + 1 < v->n_nodes && ndepth[i + 1] > d) /* only rows that will be read */
            rows[d] = xllm_gstate_row(s, nx);
        for (uint32_t t = ntok[i]; t < ntok[i + 1]; t++)
            mask[v->toks[t] >> 6] |= 1ull << (v->toks[t] & 63);
        i++;
    }
    if (xllm_gstate_set_accepting(s, set))
        for (uint32_t k = 0; k < v->n_eog; k++)
            mask[v->eog[k] >> 6] |= 1ull << (v->eog[k] & 63);
    return failed ? -1 : 0;
}

/* The mask of the current state: cached, or walked (and kept when it fits). */
static xllm_status current_mask(xllm_grammar_state *s, const xllm_grammar_vocab *v, const uint64_t **out)
{
    xllm_status st = xllm_gstate_prepare(s);
    if (st)
        return st;
    int32_t set = xllm_gstate_current(s);
    const uint64_t *m = xllm_gstate_mask(s, set);
    xllm_gstate_count(s, m != NULL);
    if (m) {
        *out = m;
        return XLLM_OK;
    }
    void *scratch;
    uint64_t *mask;
    if ((st = xllm_gstate_scratch(s, v->max_depth, v->words, &scratch, &mask)))
        return st;
    if (walk(s, v, set, mask, scratch) == 0 && xllm_gstate_keep_mask(s, set, mask, v->words))
        mask = (uint64_t *)xllm_gstate_mask(s, set);
    *out = mask;
    return XLLM_OK;
}

xllm_status xllm_grammar_allowed(xllm_grammar_state *s, const xllm_grammar_vocab *v, uint64_t *bits)
{
    if (xllm_gstate_lazy_open(s) || xllm_gstate_ended(s)) {
        int all = !xllm_gstate_ended(s);
        memset(bits, all ? 0xFF : 0, v->words * sizeof *bits);
        if (all && v->n_vocab % 64)
            bits[v->words - 1] = (1ull << (v->n_vocab % 64)) - 1;
        return XLLM_OK;
    }
    const uint64_t *m;
    xllm_status st = current_mask(s, v, &m);
    if (!st)
        memcpy(bits, m, v->words * sizeof *bits);
    return st;
}

xllm_status xllm_grammar_apply(xllm_grammar_state *s, const xllm_grammar_vocab *v, float *logits)
{
    if (xllm_gstate_lazy_open(s))
        return XLLM_OK;
    if (xllm_gstate_ended(s)) {
        for (int32_t i = 0; i < v->n_vocab; i++)
            logits[i] = -INFINITY;
        return XLLM_OK;
    }
    const uint64_t *m;
    xllm_status st = current_mask(s, v, &m);
    if (st)
        return st;
    for (size_t w = 0; w < v->words; w++) {
        uint64_t off = ~m[w];
        if (w == v->words - 1 && v->n_vocab % 64)
            off &= (1ull << (v->n_vocab % 64)) - 1;
        while (off) {
            logits[w * 64 + (size_t)__builtin_ctzll(off)] = -INFINITY;
            off &= off - 1;
        }
    }
    return XLLM_OK;
}

xllm_status xllm_grammar_accept(xllm_grammar_state *s, const xllm_grammar_vocab *v, int32_t token)
{
    if (token < 0 || token >= v->n_vocab)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: token %d out of range (vocabulary of %d)", token,
                         v->n_vocab);
    return xllm_gstate_accept_token(s, token, v->kind[token], v->bytes + v->off[token],
                                    v->off[token + 1] - v->off[token]);
}

xllm_status xllm_grammar_peek(xllm_grammar_state *s, const xllm_grammar_vocab *v, int32_t token, size_t *remaining)
{
    if (token < 0 || token >= v->n_vocab)
        return XLLM_ERR_INVALID_ARGUMENT;
    return xllm_gstate_peek(s, v->kind[token], v->bytes + v->off[token], v->off[token + 1] - v->off[token],
                            remaining);
}

xllm_status xllm_grammar_max_after(xllm_grammar_state *s, const xllm_grammar_vocab *v, size_t *out)
{
    const uint64_t *m;
    size_t most = 0, after;
    xllm_status st;
    *out = 0;
    if (xllm_gstate_lazy_open(s) || xllm_gstate_ended(s))
        return XLLM_OK;
    if ((st = current_mask(s, v, &m)) != XLLM_OK)
        return st;
    int32_t set = xllm_gstate_current(s);
    if (xllm_gstate_max_after(s, set, out))
        return XLLM_OK;
    for (size_t w = 0; w < v->words; w++)
        for (uint64_t on = m[w]; on; on &= on - 1) {
            int32_t t = (int32_t)(w * 64 + (size_t)__builtin_ctzll(on));
            if ((st = xllm_grammar_peek(s, v, t, &after)) == XLLM_OK)
                most = after > most ? after : most;
            else if (st != XLLM_ERR_INVALID_ARGUMENT)
                return xllm_fail(st, "grammar: out of memory");
        }
    xllm_gstate_keep_max_after(s, set, most);
    *out = most;
    return XLLM_OK;
}
