/* hf_export.c - a GGUF vocabulary (tokenizer.ggml.*) written as a Hugging Face
 * tokenizer.json + tokenizer_config.json; hf_export.h says which form each
 * vocabulary type takes. The pipeline pieces mirror what hf_import.c reads back. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/fs.h"
#include "base/log.h"
#include "tokenizer/hf_export.h"
#include "tokenizer/tok_internal.h"

#define KEY(s) "tokenizer.ggml." s
#define SP_SPACE "\xe2\x96\x81"

typedef struct hfx {
    const xllm_gguf *g;
    const xllm_tokenizer *t;
    const char *src;  /* the GGUF's name, for messages */
    int oom;          /* a JSON value could not be built for want of memory */
    int32_t bad_id;   /* first token whose text is not valid UTF-8, or -1 */
    xllm_buf scratch;
} hfx;

/* The pipeline of one vocabulary type (NULL members are written as null). */
typedef struct hf_parts {
    json_t *normalizer, *pre_tokenizer, *post_processor, *decoder, *model;
} hf_parts;

/* A JSON value that must exist: NULL marks the export failed (out of memory, or a
 * token that is not valid UTF-8, which tok_json records). */
static json_t *chk(hfx *x, json_t *j)
{
    if (!j)
        x->oom = 1;
    return j;
}

/* ---- token texts ---- */

/* Token id's text as Hugging Face spells it: bert's phantom-space form undone
 * ("\u2581word" -> "word", "ing" -> "##ing", "[CLS]" kept, as llama.cpp maps it). */
static const char *hf_text(hfx *x, int32_t id, size_t *n)
{
    const char *s = tok_text(x->t, id);
    size_t len = x->t->len[id];
    if (x->t->type != XLLM_VOCAB_WPM) {
        *n = len;
        return s;
    }
    if (len >= 3 && !memcmp(s, SP_SPACE, 3)) {
        *n = len - 3;
        return s + 3;
    }
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        *n = len;
        return s;
    }
    x->scratch.len = 0;
    if (xllm_buf_puts(&x->scratch, "##") || xllm_buf_append(&x->scratch, s, len)) {
        x->oom = 1;
        return NULL;
    }
    *n = x->scratch.len;
    return x->scratch.data;
}

static json_t *tok_json(hfx *x, int32_t id)
{
    size_t n;
    const char *s;
    json_t *v;
    if (id < 0)
        return json_null();
    if (!(s = hf_text(x, id, &n)))
        return NULL;
    if (!(v = json_stringn(s, n)) && x->bad_id < 0)
        x->bad_id = id;
    return v;
}

/* ---- model: vocabulary and merges ---- */

/* A bert token "\u2581x" whose text came before is most likely HF's "##\u2581x" (both
 * read "\u2581x" in the phantom-space form): name it so, when that is free. */
static const char *bert_alt(hfx *x, int32_t id, size_t *n)
{
    const char *s = tok_text(x->t, id);
    size_t len = x->t->len[id];
    if (x->t->type != XLLM_VOCAB_WPM || len < 3 || memcmp(s, SP_SPACE, 3))
        return NULL;
    x->scratch.len = 0;
    if (xllm_buf_puts(&x->scratch, "##") || xllm_buf_append(&x->scratch, s, len)) {
        x->oom = 1;
        return NULL;
    }
    *n = x->scratch.len;
    return x->scratch.data;
}

static json_t *vocab_json(hfx *x, int *n_dup)
{
    json_t *v = json_object();
    *n_dup = 0;
    for (int32_t id = 0; v && id < x->t->n_vocab; id++) {
        size_t n;
        const char *s = hf_text(x, id, &n);
        if (s && json_object_getn(v, s, n) && (!(s = bert_alt(x, id, &n)) || json_object_getn(v, s, n))) {
            (*n_dup)++; /* a text seen before: the first id keeps it */
            continue;
        }
        if (!s || json_object_setn_new(v, s, n, json_integer(id))) {
            x->bad_id = x->bad_id < 0 && !x->oom ? id : x->bad_id;
            break;
        }
    }
    if (v && (x->oom || x->bad_id >= 0)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* Append the merge [a, b] when a, b and a+b are all tokens (Hugging Face refuses a
 * file with any other; xllm ignores them, so dropping them changes nothing). */
static int add_merge(hfx *x, json_t *arr, const char *a, size_t la, const char *b, size_t lb)
{
    const xllm_tokenizer *t = x->t;
    x->scratch.len = 0;
    if (xllm_buf_append(&x->scratch, a, la) || xllm_buf_append(&x->scratch, b, lb))
        return -1;
    if (tok_find(t, a, la) < 0 || tok_find(t, b, lb) < 0 || tok_find(t, x->scratch.data, la + lb) < 0)
        return 0;
    json_t *m = json_pack("[s%s%]", a, la, b, lb);
    return m && !json_array_append_new(arr, m) ? 1 : -1;
}

static xllm_status merges_from_gguf(hfx *x, json_t *arr)
{
    xllm_gguf_type at;
    uint64_t count, skipped = 0;
    if (xllm_gguf_get_arr(x->g, KEY("merges"), &at, &count) || at != XLLM_GGUF_STRING)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tokenizer.ggml.merges is not a string array", x->src);
    int64_t idx = xllm_gguf_find(x->g, KEY("merges"));
    for (uint64_t j = 0; j < count; j++) {
        xllm_str m = xllm_gguf_arr_str(x->g, idx, j);
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        int r = sp ? add_merge(x, arr, m.ptr, (size_t)(sp - m.ptr), sp + 1, m.len - (size_t)(sp - m.ptr) - 1) : 0;
        if (r < 0)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: merge %llu is not valid UTF-8 (or out of memory)", x->src,
                             (unsigned long long)j);
        skipped += r == 0;
    }
    if (skipped)
        XLLM_WARN("%s: %llu merges name no token and are left out of tokenizer.json", x->src,
                  (unsigned long long)skipped);
    return XLLM_OK;
}

/* A candidate merge derived from the scores. */
typedef struct dmerge {
    float score;          /* of the merged piece */
    uint32_t lchars, rchars;
    int32_t piece, l, r;
} dmerge;

/* transformers' generate_merges order: score, then left and right length in
 * characters (all descending), then the piece's id and the parts' ids. */
static int dmerge_cmp(const void *pa, const void *pb)
{
    const dmerge *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->lchars != b->lchars)
        return a->lchars > b->lchars ? -1 : 1;
    if (a->rchars != b->rchars)
        return a->rchars > b->rchars ? -1 : 1;
    if (a->piece != b->piece)
        return a->piece < b->piece ? -1 : 1;
    return a->l != b->l ? (a->l < b->l ? -1 : 1) : (a->r > b->r) - (a->r < b->r);
}

static uint32_t n_chars(const char *s, size_t n)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* sentencepiece merges into normal, user-defined and unused pieces only (control,
 * unknown and byte pieces are never the result of a merge). */
static int mergeable(uint8_t ty)
{
    return ty == XLLM_TOKEN_NORMAL || ty == XLLM_TOKEN_USER_DEFINED || ty == XLLM_TOKEN_UNUSED ||
           ty == XLLM_TOKEN_UNDEFINED;
}

static xllm_status collect_dmerges(const xllm_tokenizer *t, dmerge **out, size_t *n_out)
{
    dmerge *v = NULL;
    size_t n = 0, cap = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = tok_text(t, id);
        size_t len = t->len[id];
        if (!mergeable(t->types[id]))
            continue;
        for (size_t k = 1; k < len; k++) {
            if (((unsigned char)s[k] & 0xc0) == 0x80)
                continue; /* not a character boundary */
            int32_t l = tok_find(t, s, k), r = tok_find(t, s + k, len - k);
            if (l < 0 || r < 0)
                continue;
            if (n == cap) {
                dmerge *nv = xllm_realloc(v, (cap = cap ? cap * 2 : 4096) * sizeof *v);
                if (!nv) {
                    xllm_free(v);
                    return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory deriving merges");
                }
                v = nv;
            }
            v[n++] = (dmerge){t->scores[id], n_chars(s, k), n_chars(s + k, len - k), id, l, r};
        }
    }
    *out = v;
    *n_out = n;
    return XLLM_OK;
}

/* sentencepiece BPE merges the adjacent pair whose concatenation is the piece with
 * the best score; as merge ranks that is every such pair ordered by that score. */
static xllm_status merges_from_scores(hfx *x, json_t *arr)
{
    dmerge *v = NULL;
    size_t n = 0;
    xllm_status st = collect_dmerges(x->t, &v, &n);
    if (st)
        return st;
    if (n)
        qsort(v, n, sizeof *v, dmerge_cmp);
    for (size_t i = 0; i < n && !st; i++) {
        const xllm_tokenizer *t = x->t;
        if (add_merge(x, arr, tok_text(t, v[i].l), t->len[v[i].l], tok_text(t, v[i].r), t->len[v[i].r]) < 0)
            st = xllm_fail(XLLM_ERR_FORMAT, "%s: token %d or %d is not valid UTF-8", x->src, v[i].l, v[i].r);
    }
    xllm_free(v);
    return st;
}

static xllm_status bpe_model(hfx *x, int spm, json_t **out)
{
    const xllm_tokenizer *t = x->t;
    int n_dup, byte_fallback = 0;
    json_t *vocab = vocab_json(x, &n_dup), *merges = json_array();
    xllm_status st = XLLM_OK;
    if (!vocab || !merges)
        goto fail;
    if (n_dup)
        XLLM_WARN("%s: %d tokens repeat an earlier token's text; tokenizer.json maps that text to the first",
                  x->src, n_dup);
    if ((st = t->has_merges ? merges_from_gguf(x, merges) : merges_from_scores(x, merges)))
        goto fail;
    for (int b = 0; b < 256 && spm; b++)
        byte_fallback |= t->byte_tok[b] >= 0;
    *out = json_pack("{s:s, s:n, s:o, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE", "dropout", "unk_token",
                     tok_json(x, t->unk), "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", spm,
                     "byte_fallback", byte_fallback, "ignore_merges", t->pre && t->pre->ignore_merges, "vocab",
                     vocab, "merges", merges);
    return *out ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory building tokenizer.json", x->src);
fail:
    json_decref(vocab);
    json_decref(merges);
    return st ? st : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory building tokenizer.json", x->src);
}

/* ---- post-processor: BOS/EOS (CLS/SEP) around the sequence ---- */

static json_t *special_ref(hfx *x, int32_t id, int type_id)
{
    return json_pack("{s:{s:o, s:i}}", "SpecialToken", "id", tok_json(x, id), "type_id", type_id);
}

static json_t *seq_ref(const char *which, int type_id)
{
    return json_pack("{s:{s:s, s:i}}", "Sequence", "id", which, "type_id", type_id);
}

/* single: [first] $A [last]; pair: the same, then [first:1] (not for bert) $B:1 [last:1]. */
static json_t *template_json(hfx *x, int32_t first, int32_t last, int bert)
{
    json_t *single = json_array(), *pair = json_array(), *sp = json_object();
    int32_t ends[2] = {first, last};
    if (first >= 0) {
        json_array_append_new(single, special_ref(x, first, 0));
        json_array_append_new(pair, special_ref(x, first, 0));
    }
    json_array_append_new(single, seq_ref("A", 0));
    json_array_append_new(pair, seq_ref("A", 0));
    if (last >= 0) {
        json_array_append_new(single, special_ref(x, last, 0));
        json_array_append_new(pair, special_ref(x, last, 0));
    }
    if (first >= 0 && !bert)
        json_array_append_new(pair, special_ref(x, first, 1));
    json_array_append_new(pair, seq_ref("B", 1));
    if (last >= 0)
        json_array_append_new(pair, special_ref(x, last, 1));
    for (int k = 0; k < 2; k++) {
        size_t n;
        if (ends[k] < 0)
            continue;
        json_t *v = json_pack("{s:o, s:[i], s:[o]}", "id", tok_json(x, ends[k]), "ids", (int)ends[k], "tokens",
                              tok_json(x, ends[k]));
        const char *s = v ? hf_text(x, ends[k], &n) : NULL; /* after tok_json: they may share the scratch */
        if (!s) {
            json_decref(v);
            x->oom = 1;
        } else if (json_object_setn_new(sp, s, n, v)) {
            x->oom = 1;
        }
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair", pair,
                     "special_tokens", sp);
}

/* The template when the vocabulary adds a token at either end, else NULL. */
static json_t *ends_template(hfx *x)
{
    const xllm_tokenizer *t = x->t;
    int bert = t->type == XLLM_VOCAB_WPM;
    int32_t first = xllm_tokenizer_add_bos(t) ? t->bos : -1;
    int32_t last = bert ? (t->add_sep ? t->sep : -1) : (xllm_tokenizer_add_eos(t) ? t->eos : -1);
    return first >= 0 || last >= 0 ? chk(x, template_json(x, first, last, bert)) : NULL;
}

/* ---- the pipelines ---- */

static json_t *byte_level(int prefix, int trim, int use_regex)
{
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", prefix, "trim_offsets", trim,
                     "use_regex", use_regex);
}

static json_t *replace_json(const char *from, const char *to)
{
    return json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", from, "content", to);
}

/* Split(regex, Isolated) per pre-tokenizer regex, then ByteLevel; GPT-2's single
 * regex is ByteLevel's own. */
static xllm_status gpt2_pre(hfx *x, json_t **out)
{
    const tok_pre_def *d = x->t->pre, *gpt2 = tok_pre_find("gpt-2");
    int prefix = x->t->add_space_prefix, n = 0;
    while (n < TOK_MAX_REGEX && d->regex[n])
        n++;
    if (n == 1 && gpt2 && !strcmp(d->regex[0], gpt2->regex[0])) {
        *out = chk(x, byte_level(prefix, 1, 1));
        return XLLM_OK;
    }
    if (prefix) /* ByteLevel would add the space to every split, not once per text */
        return xllm_fail(XLLM_ERR_UNSUPPORTED,
                         "%s: tokenizer type gpt2 with pre-tokenizer '%s' and add_space_prefix cannot be written as "
                         "tokenizer.json",
                         x->src, d->name);
    json_t *seq = json_array();
    for (int i = 0; i < n && seq; i++)
        json_array_append_new(seq, json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex",
                                             d->regex[i], "behavior", "Isolated", "invert", 0));
    if (seq)
        json_array_append_new(seq, byte_level(0, 1, 0));
    *out = chk(x, json_pack("{s:s, s:o}", "type", "Sequence", "pretokenizers", seq));
    return XLLM_OK;
}

static xllm_status build_gpt2(hfx *x, hf_parts *p)
{
    json_t *tpl = ends_template(x);
    xllm_status st = gpt2_pre(x, &p->pre_tokenizer);
    if (st) {
        json_decref(tpl);
        return st;
    }
    if (x->t->pre->nfc)
        p->normalizer = chk(x, json_pack("{s:s}", "type", "NFC"));
    p->post_processor = chk(x, tpl ? json_pack("{s:s, s:[o, o]}", "type", "Sequence", "processors",
                                               byte_level(1, 0, 1), tpl)
                                   : byte_level(1, 0, 1));
    p->decoder = chk(x, byte_level(1, 1, 1));
    return bpe_model(x, 0, &p->model);
}

static json_t *precompiled_json(hfx *x)
{
    const xllm_tokenizer *t = x->t;
    char *b64 = xllm_malloc(4 * ((t->charsmap_len + 2) / 3) + 1);
    json_t *j = NULL;
    if (b64) {
        xllm_base64_encode(t->charsmap, t->charsmap_len, b64);
        j = json_pack("{s:s, s:s}", "type", "Precompiled", "precompiled_charsmap", b64);
    }
    xllm_free(b64);
    return j;
}

/* [Precompiled charsmap], [Prepend U+2581 (add_space_prefix)], Replace ' ' -> U+2581:
 * Hugging Face normalizes each piece of text between added tokens, which is where
 * xllm (and transformers' legacy Llama tokenizer) put the leading space too. */
static json_t *spm_normalizer(hfx *x)
{
    json_t *seq = json_array();
    if (x->t->charsmap_len)
        json_array_append_new(seq, precompiled_json(x));
    if (x->t->add_space_prefix)
        json_array_append_new(seq, json_pack("{s:s, s:s}", "type", "Prepend", "prepend", SP_SPACE));
    json_array_append_new(seq, replace_json(" ", SP_SPACE));
    return json_pack("{s:s, s:o}", "type", "Sequence", "normalizers", seq);
}

static json_t *spm_decoder(hfx *x)
{
    json_t *seq = json_pack("[o, {s:s}, {s:s}]", replace_json(SP_SPACE, " "), "type", "ByteFallback", "type", "Fuse");
    if (seq && x->t->add_space_prefix)
        json_array_append_new(seq, json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ", "start", 1,
                                             "stop", 0));
    return json_pack("{s:s, s:o}", "type", "Sequence", "decoders", seq);
}

static xllm_status build_spm(hfx *x, hf_parts *p)
{
    if (x->t->remove_extra_ws)
        return xllm_fail(XLLM_ERR_UNSUPPORTED,
                         "%s: tokenizer type llama with remove_extra_whitespaces cannot be written as tokenizer.json "
                         "yet",
                         x->src);
    p->normalizer = chk(x, spm_normalizer(x));
    p->post_processor = ends_template(x);
    p->decoder = chk(x, spm_decoder(x));
    return bpe_model(x, 1, &p->model);
}

static xllm_status build_bert(hfx *x, hf_parts *p)
{
    const xllm_tokenizer *t = x->t;
    int n_dup;
    json_t *vocab = vocab_json(x, &n_dup);
    if (!vocab)
        return XLLM_OK; /* reported by the caller (bad_id / oom) */
    if (n_dup)
        XLLM_WARN("%s: %d tokens repeat an earlier token's text; tokenizer.json maps that text to the first",
                  x->src, n_dup);
    p->normalizer = chk(x, json_pack("{s:s, s:b, s:b, s:n, s:b}", "type", "BertNormalizer", "clean_text", 1,
                                     "handle_chinese_chars", 1, "strip_accents", "lowercase", 1));
    p->pre_tokenizer = chk(x, json_pack("{s:s}", "type", "BertPreTokenizer"));
    p->post_processor = ends_template(x);
    p->decoder = chk(x, json_pack("{s:s, s:s, s:b}", "type", "WordPiece", "prefix", "##", "cleanup", 1));
    p->model = json_pack("{s:s, s:o, s:s, s:i, s:o}", "type", "WordPiece", "unk_token",
                         t->unk >= 0 ? tok_json(x, t->unk) : json_string("[UNK]"), "continuing_subword_prefix", "##",
                         "max_input_chars_per_word", 100, "vocab", vocab);
    return XLLM_OK;
}

/* Hugging Face's Unigram differs from sentencepiece's (and so from xllm's) in ways a
 * tokenizer.json cannot undo: its Precompiled normalizer works per grapheme cluster
 * where sentencepiece takes the longest byte match, remove_extra_whitespaces has no
 * exact normalizer form the importer reads back, and user-defined pieces are matched
 * before normalization instead of inside the Viterbi search. */
static xllm_status build_ugm(hfx *x, hf_parts *p)
{
    (void)p;
    return xllm_fail(XLLM_ERR_UNSUPPORTED,
                     "%s: tokenizer type t5 (SentencePiece unigram) cannot be written as tokenizer.json yet (Hugging "
                     "Face's Unigram normalizes differently)",
                     x->src);
}

static const struct {
    xllm_vocab_type type;
    xllm_status (*build)(hfx *x, hf_parts *p);
} forms[] = {
    {XLLM_VOCAB_BPE, build_gpt2},
    {XLLM_VOCAB_SPM, build_spm},
    {XLLM_VOCAB_WPM, build_bert},
    {XLLM_VOCAB_UGM, build_ugm},
};

/* Control and unknown tokens: special; user-defined: not. All matched on the raw
 * text (normalized: false), as xllm does. */
static json_t *added_tokens_json(hfx *x)
{
    const xllm_tokenizer *t = x->t;
    json_t *arr = json_array();
    for (int32_t id = 0; arr && id < t->n_vocab; id++) {
        uint8_t ty = t->types[id];
        int special = ty == XLLM_TOKEN_CONTROL || ty == XLLM_TOKEN_UNKNOWN;
        if ((!special && ty != XLLM_TOKEN_USER_DEFINED) || !t->len[id])
            continue;
        json_t *a = json_pack("{s:i, s:o, s:b, s:b, s:b, s:b, s:b}", "id", (int)id, "content", tok_json(x, id),
                              "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", special);
        if (!a || json_array_append_new(arr, a)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static void parts_free(hf_parts *p)
{
    json_decref(p->normalizer);
    json_decref(p->pre_tokenizer);
    json_decref(p->post_processor);
    json_decref(p->decoder);
    json_decref(p->model);
}

static xllm_status build_tokenizer_json(hfx *x, json_t **out)
{
    hf_parts p = {0};
    xllm_status st = XLLM_ERR_UNSUPPORTED;
    json_t *added = NULL;
    *out = NULL;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        if (forms[i].type == x->t->type)
            st = forms[i].build(x, &p);
    if (st && x->bad_id < 0)
        goto out;
    added = added_tokens_json(x);
    if (x->bad_id >= 0) { /* the cause of a failed value, whatever st says */
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: token %d is not valid UTF-8; tokenizer.json cannot hold it", x->src,
                       x->bad_id);
        goto out;
    }
    if (!added || !p.model || x->oom) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory building tokenizer.json", x->src);
        goto out;
    }
    *out = json_pack("{s:s, s:n, s:n, s:o, s:o?, s:o?, s:o?, s:o?, s:o}", "version", "1.0", "truncation", "padding",
                     "added_tokens", added, "normalizer", p.normalizer, "pre_tokenizer", p.pre_tokenizer,
                     "post_processor", p.post_processor, "decoder", p.decoder, "model", p.model);
    memset(&p, 0, sizeof p); /* handed over (json_pack takes the references even when it fails) */
    added = NULL;
    if (!*out)
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory building tokenizer.json", x->src);
out:
    parts_free(&p);
    json_decref(added);
    return st;
}

/* ---- tokenizer_config.json ---- */

static void set_token(hfx *x, json_t *c, const char *key, int32_t id)
{
    json_object_set_new(c, key, tok_json(x, id));
}

/* tokenizer.chat_template -> a string; with named ones (tokenizer.chat_template.NAME)
 * transformers' list form [{name, template}]. */
static void set_chat_templates(hfx *x, json_t *c)
{
    static const char pfx[] = "tokenizer.chat_template";
    json_t *list = json_array();
    xllm_str def = {0};
    int have_def = !xllm_gguf_get_str(x->g, pfx, &def);
    if (have_def)
        json_array_append_new(list, json_pack("{s:s, s:s%}", "name", "default", "template", def.ptr, (size_t)def.len));
    for (int64_t i = 0; i < xllm_gguf_n_kv(x->g); i++) {
        const char *k = xllm_gguf_key(x->g, i);
        xllm_str s;
        if (strncmp(k, pfx, sizeof pfx - 1) || k[sizeof pfx - 1] != '.' || xllm_gguf_get_str(x->g, k, &s))
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s%}", "name", k + sizeof pfx, "template", s.ptr, (size_t)s.len));
    }
    if (json_array_size(list) == 1 && have_def)
        json_object_set_new(c, "chat_template", json_stringn(def.ptr, def.len));
    else if (json_array_size(list))
        json_object_set(c, "chat_template", list);
    json_decref(list);
}

static json_t *build_config(hfx *x)
{
    const xllm_tokenizer *t = x->t;
    json_t *c = json_object();
    char *arch = xllm_gguf_dup_str(x->g, "general.architecture");
    char key[160];
    uint32_t ctx;
    if (!c)
        goto out;
    json_object_set_new(c, "tokenizer_class", json_string("PreTrainedTokenizerFast"));
    if (t->type == XLLM_VOCAB_WPM) {
        set_token(x, c, "cls_token", t->cls >= 0 ? t->cls : t->bos);
        set_token(x, c, "sep_token", t->sep);
        set_token(x, c, "mask_token", t->mask);
        json_object_set_new(c, "do_lower_case", json_true());
    } else {
        json_object_set_new(c, "add_bos_token", json_boolean(xllm_tokenizer_add_bos(t)));
        json_object_set_new(c, "add_eos_token", json_boolean(xllm_tokenizer_add_eos(t)));
        set_token(x, c, "bos_token", t->bos);
        set_token(x, c, "eos_token", t->eos);
    }
    set_token(x, c, "unk_token", t->unk);
    set_token(x, c, "pad_token", t->pad);
    json_object_set_new(c, "clean_up_tokenization_spaces", json_false());
    snprintf(key, sizeof key, "%s.context_length", arch ? arch : "");
    if (arch && !xllm_gguf_get_u32(x->g, key, &ctx))
        json_object_set_new(c, "model_max_length", json_integer(ctx));
    set_chat_templates(x, c);
out:
    xllm_free(arch);
    return c;
}

/* ---- writing ---- */

static xllm_status dump(const char *dir, const char *name, json_t *j, size_t flags, char **path)
{
    *path = xllm_path_join(dir, name);
    if (!*path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (json_dump_file(j, *path, flags) != 0) {
        unlink(*path);
        return xllm_fail(XLLM_ERR_IO, "%s: cannot write", *path);
    }
    return XLLM_OK;
}

xllm_status xllm_tokenizer_export_hf(const xllm_gguf *g, const char *dir)
{
    hfx x = {.g = g, .src = xllm_gguf_path(g), .bad_id = -1};
    xllm_tokenizer *t = NULL;
    json_t *tj = NULL, *cfg = NULL;
    char *p1 = NULL, *p2 = NULL;
    xllm_status rc;
    xllm_buf_init(&x.scratch, 0);
    if (xllm_gguf_find(g, KEY("model")) < 0)
        return XLLM_ERR_NOT_FOUND;
    if ((rc = xllm_tokenizer_load(g, &t)))
        goto out;
    x.t = t;
    if ((rc = build_tokenizer_json(&x, &tj)))
        goto out;
    if (!(cfg = build_config(&x)) || x.bad_id >= 0) {
        rc = x.bad_id >= 0 ? xllm_fail(XLLM_ERR_FORMAT, "%s: token %d is not valid UTF-8", x.src, x.bad_id)
                           : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    if (!(rc = dump(dir, "tokenizer.json", tj, JSON_COMPACT, &p1)) &&
        (rc = dump(dir, "tokenizer_config.json", cfg, JSON_INDENT(2), &p2)))
        unlink(p1);
out:
    json_decref(tj);
    json_decref(cfg);
    xllm_free(p1);
    xllm_free(p2);
    xllm_buf_free(&x.scratch);
    xllm_tokenizer_free(t);
    return rc;
}
