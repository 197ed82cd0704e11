/* vocab.c - builds an xllm_tokenizer from the standard GGUF tokenizer metadata
 * (tokenizer.ggml.*), frees it, and answers the accessors of tokenizer.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tok_internal.h"

#define KEY(s) "tokenizer.ggml." s

static const struct {
    const char *name;
    xllm_vocab_type type;
} model_names[] = {
    {"llama", XLLM_VOCAB_SPM}, {"gpt2", XLLM_VOCAB_BPE}, {"bert", XLLM_VOCAB_WPM}, {"t5", XLLM_VOCAB_UGM}};

/* Control tokens that end a generation in the models we know (llama.cpp keeps a
 * similar list: GGUF files only name EOS and sometimes EOT). */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
    "<|end_of_text|>", ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"), "<|return|>",
    "<|call|>", "</s>", "<eos>"};

static xllm_status read_tokens(xllm_tokenizer *t, const xllm_gguf *g)
{
    xllm_gguf_type at;
    uint64_t count;
    xllm_status st = xllm_gguf_get_arr(g, KEY("tokens"), &at, &count);
    if (st)
        return st == XLLM_ERR_NOT_FOUND ? xllm_fail(XLLM_ERR_FORMAT, "%s: no tokenizer.ggml.tokens", xllm_gguf_path(g))
                                        : st;
    if (at != XLLM_GGUF_STRING || count == 0 || count > XLLM_MAX_VOCAB)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens must be 1..%u strings (has %llu of type %d)",
                         xllm_gguf_path(g), XLLM_MAX_VOCAB, (unsigned long long)count, (int)at);
    int64_t idx = xllm_gguf_find(g, KEY("tokens"));
    t->n_vocab = (int32_t)count;
    size_t total = 0;
    for (uint64_t j = 0; j < count; j++) {
        xllm_str s = xllm_gguf_arr_str(g, idx, j);
        if (s.len > XLLM_MAX_TOKEN_BYTES)
            return xllm_fail(XLLM_ERR_LIMIT, "%s: token %llu is %llu bytes (limit %u)", xllm_gguf_path(g),
                             (unsigned long long)j, (unsigned long long)s.len, XLLM_MAX_TOKEN_BYTES);
        total += s.len;
    }
    t->pool = xllm_malloc(total + 1);
    t->off = xllm_malloc(count * sizeof *t->off);
    t->len = xllm_malloc(count * sizeof *t->len);
    t->scores = xllm_calloc(count, sizeof *t->scores);
    t->types = xllm_malloc(count);
    t->eog = xllm_calloc(count, 1);
    if (!t->pool || !t->off || !t->len || !t->scores || !t->types || !t->eog)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for %llu tokens", xllm_gguf_path(g),
                         (unsigned long long)count);
    size_t o = 0;
    for (uint64_t j = 0; j < count; j++) {
        xllm_str s = xllm_gguf_arr_str(g, idx, j);
        if (s.len)
            memcpy(t->pool + o, s.ptr, s.len);
        t->off[j] = (uint32_t)o;
        t->len[j] = (uint32_t)s.len;
        if (s.len > t->max_token_len)
            t->max_token_len = s.len;
        o += s.len;
    }
    memset(t->types, XLLM_TOKEN_NORMAL, count);
    return XLLM_OK;
}

static xllm_status read_numeric(xllm_tokenizer *t, const xllm_gguf *g)
{
    xllm_gguf_type at;
    uint64_t count;
    if (!xllm_gguf_get_arr(g, KEY("scores"), &at, &count)) {
        if (count != (uint64_t)t->n_vocab)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tokenizer.ggml.scores has %llu entries for %d tokens",
                             xllm_gguf_path(g), (unsigned long long)count, t->n_vocab);
        int64_t idx = xllm_gguf_find(g, KEY("scores"));
        if (at == XLLM_GGUF_FLOAT32)
            memcpy(t->scores, xllm_gguf_arr_data(g, idx), count * sizeof(float));
        else if (at != XLLM_GGUF_STRING && at != XLLM_GGUF_ARRAY)
            for (uint64_t j = 0; j < count; j++)
                t->scores[j] = (float)xllm_gguf_arr_get_f64(g, idx, j);
        else
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tokenizer.ggml.scores is not numeric", xllm_gguf_path(g));
    }
    if (!xllm_gguf_get_arr(g, KEY("token_type"), &at, &count)) {
        if (count != (uint64_t)t->n_vocab || at == XLLM_GGUF_STRING || at == XLLM_GGUF_ARRAY)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tokenizer.ggml.token_type must be %d integers",
                             xllm_gguf_path(g), t->n_vocab);
        int64_t idx = xllm_gguf_find(g, KEY("token_type"));
        for (uint64_t j = 0; j < count; j++) {
            double v = xllm_gguf_arr_get_f64(g, idx, j);
            if (!(v >= 0 && v <= XLLM_TOKEN_BYTE))
                return xllm_fail(XLLM_ERR_FORMAT, "%s: token %llu has token type %g (0..6 expected)",
                                 xllm_gguf_path(g), (unsigned long long)j, v);
            t->types[j] = (uint8_t)v;
        }
    }
    return XLLM_OK;
}

static xllm_status read_merges(xllm_tokenizer *t, const xllm_gguf *g)
{
    xllm_gguf_type at;
    uint64_t count;
    if (xllm_gguf_get_arr(g, KEY("merges"), &at, &count))
        return t->type == XLLM_VOCAB_BPE
                   ? xllm_fail(XLLM_ERR_FORMAT, "%s: a gpt2 vocabulary needs tokenizer.ggml.merges", xllm_gguf_path(g))
                   : XLLM_OK;
    if (at != XLLM_GGUF_STRING || count > XLLM_MAX_GGUF_ARRAY)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tokenizer.ggml.merges must be strings", xllm_gguf_path(g));
    xllm_status st = tok_pairmap_init(&t->merges, count);
    if (st)
        return st;
    int64_t idx = xllm_gguf_find(g, KEY("merges"));
    xllm_buf cat;
    xllm_buf_init(&cat, 0);
    for (uint64_t j = 0; j < count && !st; j++) {
        xllm_str m = xllm_gguf_arr_str(g, idx, j);
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp) {
            st = xllm_fail(XLLM_ERR_FORMAT, "%s: merge %llu ('%.*s') is not 'left right'", xllm_gguf_path(g),
                           (unsigned long long)j, (int)(m.len > 60 ? 60 : m.len), m.ptr);
            break;
        }
        size_t la = (size_t)(sp - m.ptr), lb = m.len - la - 1;
        int32_t a = tok_find(t, m.ptr, la), b = tok_find(t, sp + 1, lb);
        cat.len = 0;
        if ((st = xllm_buf_append(&cat, m.ptr, la)) || (st = xllm_buf_append(&cat, sp + 1, lb)))
            break;
        int32_t r = tok_find(t, cat.data, cat.len);
        if (a >= 0 && b >= 0 && r >= 0) /* a merge whose parts are not tokens can never apply */
            st = tok_pairmap_put(&t->merges, a, b, (int32_t)j, r);
    }
    xllm_buf_free(&cat);
    t->has_merges = 1;
    return st;
}

static int32_t get_id(const xllm_tokenizer *t, const xllm_gguf *g, const char *key)
{
    uint32_t v;
    if (xllm_gguf_get_u32(g, key, &v) || v >= (uint32_t)t->n_vocab)
        return -1;
    return (int32_t)v;
}

static int get_flag(const xllm_gguf *g, const char *key, int dflt)
{
    int v;
    return xllm_gguf_get_bool(g, key, &v) ? dflt : v;
}

static xllm_status read_specials(xllm_tokenizer *t, const xllm_gguf *g)
{
    t->bos = get_id(t, g, KEY("bos_token_id"));
    t->eos = get_id(t, g, KEY("eos_token_id"));
    t->eot = get_id(t, g, KEY("eot_token_id"));
    t->unk = get_id(t, g, KEY("unknown_token_id"));
    t->pad = get_id(t, g, KEY("padding_token_id"));
    t->sep = get_id(t, g, KEY("seperator_token_id"));
    t->cls = get_id(t, g, KEY("cls_token_id"));
    t->mask = get_id(t, g, KEY("mask_token_id"));
    int spm = t->type == XLLM_VOCAB_SPM, wpm = t->type == XLLM_VOCAB_WPM, ugm = t->type == XLLM_VOCAB_UGM;
    if (wpm && t->bos < 0)
        t->bos = t->cls;
    if (t->unk < 0) {
        for (int32_t i = 0; i < t->n_vocab; i++)
            if (t->types[i] == XLLM_TOKEN_UNKNOWN) {
                t->unk = i;
                break;
            }
    }
    t->add_bos = get_flag(g, KEY("add_bos_token"), spm || wpm);
    t->add_eos = get_flag(g, KEY("add_eos_token"), ugm);
    t->add_sep = get_flag(g, KEY("add_sep_token"), wpm);
    t->add_space_prefix = get_flag(g, KEY("add_space_prefix"), spm || ugm);
    t->remove_extra_ws = get_flag(g, KEY("remove_extra_whitespaces"), 0);
    if (t->eot < 0)
        for (size_t k = 0; k < 6 && t->eot < 0; k++) { /* the turn enders of the list */
            int32_t id = tok_find(t, eog_texts[k], strlen(eog_texts[k]));
            if (id >= 0 && t->types[id] == XLLM_TOKEN_CONTROL)
                t->eot = id;
        }
    for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++) {
        int32_t id = tok_find(t, eog_texts[k], strlen(eog_texts[k]));
        if (id >= 0 && t->types[id] == XLLM_TOKEN_CONTROL)
            t->eog[id] = 1;
    }
    if (t->eos >= 0)
        t->eog[t->eos] = 1;
    if (t->eot >= 0)
        t->eog[t->eot] = 1;
    return XLLM_OK;
}

static xllm_status build_tries(xllm_tokenizer *t)
{
    xllm_status st;
    if ((st = tok_trie_init(&t->special)) || (st = tok_trie_init(&t->user_trie)))
        return st;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        uint8_t ty = t->types[id];
        if (!t->len[id])
            continue;
        if (ty == XLLM_TOKEN_CONTROL || ty == XLLM_TOKEN_UNKNOWN)
            st = tok_trie_add(&t->special, tok_text(t, id), t->len[id], id);
        else if (ty == XLLM_TOKEN_USER_DEFINED)
            st = tok_trie_add(&t->user_trie, tok_text(t, id), t->len[id], id);
        if (st)
            return st;
    }
    return XLLM_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The chars c for which some token contains "c U+2581" (see spm_glue). */
static xllm_status spm_chunk_setup(xllm_tokenizer *t)
{
    size_t cap = 0;
    t->spm_chunks = tok_find(t, "\xe2\x96\x81", 3) >= 0;
    for (int32_t id = 0; id < t->n_vocab && t->spm_chunks; id++) {
        const unsigned char *s = (const unsigned char *)tok_text(t, id);
        size_t n = t->len[id], i = 0, adv;
        uint32_t prev = 0;
        while (i < n) {
            uint32_t c = tok_utf8_decode(s + i, n - i, &adv);
            if (c == 0x2581 && i > 0 && prev != 0x2581) {
                if (t->n_spm_glue == cap) {
                    cap = cap ? cap * 2 : 16;
                    uint32_t *g = xllm_realloc(t->spm_glue, cap * sizeof *g);
                    if (!g)
                        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
                    t->spm_glue = g;
                }
                t->spm_glue[t->n_spm_glue++] = prev;
            }
            prev = c;
            i += adv;
        }
    }
    if (t->n_spm_glue)
        qsort(t->spm_glue, t->n_spm_glue, sizeof *t->spm_glue, cmp_u32);
    return XLLM_OK;
}

static void read_bytes_map(xllm_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        char s[8];
        if (t->type == XLLM_VOCAB_BPE) {
            size_t n = tok_utf8_encode(tok_byte_to_cp((uint8_t)b), s);
            t->byte_tok[b] = tok_find(t, s, n);
        } else {
            snprintf(s, sizeof s, "<0x%02X>", b);
            t->byte_tok[b] = tok_find(t, s, 6);
        }
    }
}

xllm_status xllm_tokenizer_load(const xllm_gguf *g, xllm_tokenizer **out)
{
    xllm_status rc;
    *out = NULL;
    xllm_tokenizer *t = xllm_calloc(1, sizeof *t);
    char *model = NULL, *pre = NULL;
    if (!t)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    model = xllm_gguf_dup_str(g, KEY("model"));
    if (!model) {
        rc = xllm_fail(XLLM_ERR_FORMAT, "%s: no tokenizer.ggml.model string", xllm_gguf_path(g));
        goto out;
    }
    for (size_t i = 0; i < sizeof model_names / sizeof model_names[0]; i++)
        if (!strcmp(model, model_names[i].name))
            t->type = model_names[i].type;
    if (!t->type) {
        rc = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tokenizer model '%s' is not supported (llama, gpt2, bert, t5 are)",
                       xllm_gguf_path(g), model);
        goto out;
    }
    if ((rc = read_tokens(t, g)) || (rc = read_numeric(t, g)) || (rc = tok_strmap_build(t)) ||
        (rc = read_merges(t, g)) || (rc = read_specials(t, g)))
        goto out;
    t->spm_mode = t->has_merges ? TOK_SPM_RANKS : TOK_SPM_SCORES;
    /* sentencepiece matches user-defined pieces after normalization, inside the
     * model; Hugging Face (and so the rank mode) before, on the raw text */
    t->user_defined_in_model = t->type == XLLM_VOCAB_UGM || (t->type == XLLM_VOCAB_SPM && !t->has_merges);
    read_bytes_map(t);
    if ((rc = build_tries(t)))
        goto out;
    if (t->type == XLLM_VOCAB_SPM && (rc = spm_chunk_setup(t)))
        goto out;
    if (t->type == XLLM_VOCAB_BPE) {
        pre = xllm_gguf_dup_str(g, KEY("pre"));
        t->pre = tok_pre_find(pre ? pre : "default");
        if (!t->pre) {
            rc = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: unknown pre-tokenizer tokenizer.ggml.pre = '%s'",
                           xllm_gguf_path(g), pre);
            goto out;
        }
        if ((rc = tok_pre_compile(t)))
            goto out;
    }
    if (t->type == XLLM_VOCAB_UGM || t->type == XLLM_VOCAB_SPM) {
        xllm_gguf_type at;
        uint64_t count;
        if (!xllm_gguf_get_arr(g, KEY("precompiled_charsmap"), &at, &count) && count) {
            if (at != XLLM_GGUF_UINT8 && at != XLLM_GGUF_INT8) {
                rc = xllm_fail(XLLM_ERR_FORMAT, "%s: precompiled_charsmap must be bytes", xllm_gguf_path(g));
                goto out;
            }
            t->charsmap = xllm_malloc(count);
            if (!t->charsmap) {
                rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
                goto out;
            }
            memcpy(t->charsmap, xllm_gguf_arr_data(g, xllm_gguf_find(g, KEY("precompiled_charsmap"))), count);
            t->charsmap_len = count;
        }
    }
    if ((rc = tok_ugm_setup(t)))
        goto out;
    *out = t;
    t = NULL;
out:
    xllm_free(model);
    xllm_free(pre);
    xllm_tokenizer_free(t);
    return rc;
}

void xllm_tokenizer_free(xllm_tokenizer *t)
{
    if (!t)
        return;
    xllm_free(t->pool);
    xllm_free(t->off);
    xllm_free(t->len);
    xllm_free(t->scores);
    xllm_free(t->types);
    xllm_free(t->eog);
    xllm_free(t->map.slots);
    tok_pairmap_free(&t->merges);
    tok_trie_free(&t->special);
    tok_trie_free(&t->user_trie);
    tok_trie_free(&t->piece_trie);
    tok_pre_free(t);
    xllm_free(t->charsmap);
    xllm_free(t->spm_glue);
    xllm_free(t);
}

xllm_status xllm_tokenizer_open_path(const char *path, xllm_tokenizer **out)
{
    xllm_gguf *g = NULL;
    xllm_status rc;
    *out = NULL;
    if (xllm_is_dir(path)) {
        if ((rc = xllm_gguf_new(&g)))
            return rc;
        rc = xllm_tokenizer_import_hf(path, g);
    } else {
        rc = xllm_gguf_open(path, &g);
    }
    if (!rc)
        rc = xllm_tokenizer_load(g, out);
    xllm_gguf_close(g);
    return rc;
}

/* ---- accessors ---- */

int32_t xllm_tokenizer_n_vocab(const xllm_tokenizer *t) { return t->n_vocab; }
xllm_vocab_type xllm_tokenizer_type(const xllm_tokenizer *t) { return t->type; }
int32_t xllm_tokenizer_bos(const xllm_tokenizer *t) { return t->bos; }
int32_t xllm_tokenizer_eos(const xllm_tokenizer *t) { return t->eos; }
int32_t xllm_tokenizer_eot(const xllm_tokenizer *t) { return t->eot; }
int32_t xllm_tokenizer_unk(const xllm_tokenizer *t) { return t->unk; }
int32_t xllm_tokenizer_pad(const xllm_tokenizer *t) { return t->pad; }
int xllm_tokenizer_add_bos(const xllm_tokenizer *t) { return t->add_bos && t->bos >= 0; }
int xllm_tokenizer_add_eos(const xllm_tokenizer *t) { return t->add_eos && t->eos >= 0; }

int xllm_tokenizer_is_special(const xllm_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && t->types[id] == XLLM_TOKEN_CONTROL;
}

int xllm_tokenizer_is_eog(const xllm_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

xllm_token_type xllm_tokenizer_token_type(const xllm_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? (xllm_token_type)t->types[id] : XLLM_TOKEN_UNDEFINED;
}

const char *xllm_tokenizer_token_text(const xllm_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab)
        return NULL;
    *len = t->len[id];
    return tok_text(t, id);
}

int32_t xllm_tokenizer_find(const xllm_tokenizer *t, const char *text, size_t len)
{
    return tok_find(t, text, len);
}
