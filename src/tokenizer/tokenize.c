/* tokenize.c - text -> ids: repairs invalid UTF-8, adds BOS/CLS, splits the text at
 * special tokens written in it (longest match first), runs the vocabulary's model on
 * the pieces between them, adds EOS/SEP. */
#include <string.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

static xllm_status run_model(const xllm_tokenizer *t, const char *s, size_t n, int prefix, tok_cache *cache,
                             tok_ids *out)
{
    if (!n)
        return XLLM_OK;
    switch (t->type) {
    case XLLM_VOCAB_BPE:
        return tok_bpe_fragment(t, s, n, cache, out);
    case XLLM_VOCAB_SPM:
        return tok_spm_fragment(t, s, n, prefix, cache, out);
    case XLLM_VOCAB_UGM:
        return tok_ugm_fragment(t, s, n, prefix, out);
    case XLLM_VOCAB_WPM:
        return tok_wpm_fragment(t, s, n, out);
    }
    return xllm_fail(XLLM_ERR_INTERNAL, "tokenizer: bad vocabulary type %d", (int)t->type);
}

/* Longest raw-text token at s: control/unknown ones only when parse_special,
 * user-defined ones when the model does not match them itself. */
static size_t match_special(const xllm_tokenizer *t, const char *s, size_t n, int parse_special, int32_t *id)
{
    size_t best = 0;
    int32_t bid = -1;
    if (parse_special)
        best = tok_trie_longest(&t->special, s, n, &bid);
    if (!t->user_defined_in_model) {
        int32_t uid;
        size_t k = tok_trie_longest(&t->user_trie, s, n, &uid);
        if (k > best) {
            best = k;
            bid = uid;
        }
    }
    *id = bid;
    return best;
}

static xllm_status tokenize(const xllm_tokenizer *t, const char *text, size_t len, int add_special,
                            int parse_special, tok_ids *out)
{
    char *fixed = NULL;
    size_t fixed_len;
    tok_cache *cache = NULL;
    xllm_status rc = tok_utf8_sanitize(text, len, &fixed, &fixed_len);
    if (rc)
        return rc;
    cache = tok_cache_new(); /* NULL (no cache) is fine */
    if (fixed) {
        text = fixed;
        len = fixed_len;
    }
    if (add_special && t->add_bos && t->bos >= 0 && (rc = tok_ids_push(out, t->bos)))
        goto out;
    /* SentencePiece's leading space goes on the text's first piece and on a piece
     * that follows a special token (Hugging Face's legacy rule, llama.cpp's too). */
    size_t frag = 0;
    int prefix = 1;
    int quick = parse_special || !t->user_defined_in_model;
    for (size_t i = 0; quick && i < len;) {
        int32_t id;
        size_t k = match_special(t, text + i, len - i, parse_special, &id);
        if (!k) {
            i++;
            continue;
        }
        if ((rc = run_model(t, text + frag, i - frag, prefix, cache, out)) || (rc = tok_ids_push(out, id)))
            goto out;
        i += k;
        frag = i;
        prefix = 1;
    }
    if (frag < len && (rc = run_model(t, text + frag, len - frag, prefix, cache, out)))
        goto out;
    if (add_special && t->add_eos && t->eos >= 0 && (rc = tok_ids_push(out, t->eos)))
        goto out;
    if (add_special && t->add_sep && t->sep >= 0 && (rc = tok_ids_push(out, t->sep)))
        goto out;
out:
    tok_cache_free(cache);
    xllm_free(fixed);
    return rc;
}

xllm_status xllm_tokenize(const xllm_tokenizer *t, const char *text, size_t len, int add_special, int parse_special,
                          int32_t **ids, size_t *n)
{
    tok_ids out = {0};
    *ids = NULL;
    *n = 0;
    if (!text && len)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "tokenize: NULL text");
    xllm_status rc = tokenize(t, text ? text : "", len, add_special, parse_special, &out);
    if (rc) {
        tok_ids_free(&out);
        return rc;
    }
    if (!out.v) { /* empty result: still hand back a valid (freeable) pointer */
        out.v = xllm_malloc(sizeof *out.v);
        if (!out.v)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenize: out of memory");
    }
    *ids = out.v;
    *n = out.n;
    return XLLM_OK;
}

xllm_status xllm_tokenize_into(const xllm_tokenizer *t, const char *text, size_t len, int add_special,
                               int parse_special, int32_t *ids, size_t cap, size_t *n)
{
    int32_t *v;
    xllm_status rc = xllm_tokenize(t, text, len, add_special, parse_special, &v, n);
    if (rc)
        return rc;
    if (*n > cap) {
        xllm_free(v);
        return xllm_fail(XLLM_ERR_LIMIT, "tokenize: %zu tokens do not fit in %zu", *n, cap);
    }
    if (*n)
        memcpy(ids, v, *n * sizeof *ids);
    xllm_free(v);
    return XLLM_OK;
}
