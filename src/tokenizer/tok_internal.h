/* tok_internal.h - the tokenizer's private structures, shared by the files of
 * src/tokenizer/ only. Everything here is owned by the xllm_tokenizer and freed by
 * xllm_tokenizer_free; after loading it is read-only (thread-safe to share). */
#ifndef XLLM_TOKENIZER_TOK_INTERNAL_H
#define XLLM_TOKENIZER_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "tokenizer/tokenizer.h"

/* ---- growable id vector (tokenize output and scratch) ---- */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
xllm_status tok_ids_push(tok_ids *a, int32_t id);
void tok_ids_free(tok_ids *a);

/* ---- string -> id map over the vocabulary texts (open addressing) ---- */
typedef struct tok_strmap {
    int32_t *slots; /* [mask + 1] token id, -1 = empty */
    uint32_t mask;
} tok_strmap;

/* ---- (left id, right id) -> merge rank + result id ---- */
typedef struct tok_pairmap {
    uint64_t *keys;  /* [mask + 1] (left << 32 | right) + 1, 0 = empty */
    int32_t *rank;   /* [mask + 1] */
    int32_t *result; /* [mask + 1] id of the merged token */
    uint32_t mask;
} tok_pairmap;

/* ---- byte trie over the texts of tokens matched before the model runs ---- */
typedef struct tok_trie {
    /* node 0 is the root; children found through a hash of (node, byte). */
    int32_t *term;      /* [n_nodes] token id ending here, -1 none */
    uint64_t *edge_key; /* [edge_mask + 1] (node << 8 | byte) + 1, 0 = empty */
    int32_t *edge_to;   /* [edge_mask + 1] */
    uint32_t edge_mask;
    int32_t n_nodes, cap_nodes;
} tok_trie;

/* ---- pre-tokenizer (byte-level BPE) ---- */
#define TOK_MAX_REGEX 8
typedef struct tok_pre_def {
    const char *name;              /* tokenizer.ggml.pre value */
    const char *regex[TOK_MAX_REGEX]; /* Hugging Face regexes, applied in order (Isolated splits) */
    int nfc;                       /* tokenizer.json NFC normalizer */
    int ignore_merges;             /* a word that is a whole token is not merged */
} tok_pre_def;

typedef enum tok_spm_mode {
    TOK_SPM_SCORES = 0, /* sentencepiece: best score of the merged piece */
    TOK_SPM_RANKS = 1   /* Hugging Face BPE over SPM-normalized text: merge ranks */
} tok_spm_mode;

struct xllm_tokenizer {
    xllm_vocab_type type;
    int32_t n_vocab;
    char *pool;            /* all token texts, back to back */
    uint32_t *off;         /* [n_vocab] offset into pool */
    uint32_t *len;         /* [n_vocab] text length in bytes */
    float *scores;         /* [n_vocab] */
    uint8_t *types;        /* [n_vocab] xllm_token_type */
    uint8_t *eog;          /* [n_vocab] 1 = ends generation */
    tok_strmap map;
    tok_pairmap merges;    /* BPE and SPM rank mode */
    int has_merges;
    tok_spm_mode spm_mode;
    /* SPM: no merge can cross the start of a U+2581 run unless some token holds
     * "c U+2581" for the char c before it; those c are listed here (sorted), and the
     * text is merged in independent chunks (much faster on long inputs) */
    int spm_chunks;
    uint32_t *spm_glue;
    size_t n_spm_glue;
    int32_t byte_tok[256]; /* SPM: id of <0xNN>; BPE: id of the byte-level char of byte b; -1 none */
    int32_t bos, eos, eot, unk, pad, sep, cls, mask;
    int add_bos, add_eos, add_sep, add_space_prefix, remove_extra_ws;
    size_t max_token_len;
    /* raw-text matching before the model: control tokens (only when parse_special)
     * and, for HF-style vocabularies, user-defined ones */
    tok_trie special;
    int user_defined_in_model; /* sentencepiece: user-defined pieces matched after normalization */
    tok_trie user_trie;        /* those user-defined pieces, for the SPM/UGM models */
    /* gpt2 */
    const tok_pre_def *pre;
    void *re[TOK_MAX_REGEX];   /* pcre2_code_8 * */
    int n_re;
    /* t5 (unigram) */
    uint8_t *charsmap;         /* precompiled charsmap blob (may be NULL) */
    size_t charsmap_len;
    const uint32_t *cm_trie;   /* into charsmap: double-array units */
    size_t cm_trie_units;
    const char *cm_norm;       /* into charsmap: replacement strings */
    size_t cm_norm_len;
    float ugm_min_score, ugm_max_score;
    tok_trie piece_trie;       /* unigram pieces (normal, user-defined) */
};

/* util.c */
uint64_t tok_hash(const void *p, size_t n);
xllm_status tok_strmap_build(xllm_tokenizer *t);
int32_t tok_find(const xllm_tokenizer *t, const char *s, size_t n);
xllm_status tok_pairmap_init(tok_pairmap *m, size_t n);
xllm_status tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t result);
int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *result);
void tok_pairmap_free(tok_pairmap *m);
xllm_status tok_trie_init(tok_trie *tr);
xllm_status tok_trie_add(tok_trie *tr, const char *s, size_t n, int32_t id);
int32_t tok_trie_child(const tok_trie *tr, int32_t node, uint8_t byte);
/* Longest token at s[0..n): returns its byte length (0 = none) and sets *id. */
size_t tok_trie_longest(const tok_trie *tr, const char *s, size_t n, int32_t *id);
void tok_trie_free(tok_trie *tr);
/* UTF-8: length of the valid sequence at s (1..4), or 0 when invalid there. */
size_t tok_utf8_valid_len(const unsigned char *s, size_t n);
/* Length to skip for an invalid sequence at s (its maximal subpart, >= 1). */
size_t tok_utf8_invalid_len(const unsigned char *s, size_t n);
size_t tok_utf8_len_lenient(unsigned char c); /* sequence length from the lead byte, 1 for junk */
uint32_t tok_utf8_decode(const unsigned char *s, size_t n, size_t *adv);
size_t tok_utf8_encode(uint32_t cp, char *out);
/* Copy of text with every maximal invalid UTF-8 subpart replaced by U+FFFD; *out is
 * NULL (and nothing allocated) when text is already valid. */
xllm_status tok_utf8_sanitize(const char *text, size_t len, char **out, size_t *out_len);
/* GPT-2 byte <-> unicode code point map. */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp); /* -1 when cp is not a byte-level char */

/* pretok.c */
const tok_pre_def *tok_pre_find(const char *name);
const tok_pre_def *tok_pre_match(const char *const *regex, int n, int nfc, int ignore_merges);
xllm_status tok_pre_compile(xllm_tokenizer *t);
void tok_pre_free(xllm_tokenizer *t);
/* Split text into words; each word is (start, end) byte offsets into text. */
typedef struct tok_span {
    size_t start, end;
} tok_span;
xllm_status tok_pre_split(const xllm_tokenizer *t, const char *text, size_t len, tok_span **spans, size_t *n);
xllm_status tok_nfc(const char *text, size_t len, char **out, size_t *out_len);

/* ugm.c - sentencepiece's normalizer (user-defined pieces kept, charsmap, extra
 * whitespace, dummy prefix when prefix, ' ' -> U+2581) into out */
xllm_status tok_sp_normalize(const xllm_tokenizer *t, const char *s, size_t n, int prefix, xllm_buf *out);

/* bpe.c - the models; each appends ids for one fragment of raw text. The cache
 * (one per tokenize call, may be NULL) remembers the ids of words already seen;
 * it points into the text, so it lives no longer than the call. */
typedef struct tok_cache tok_cache;
tok_cache *tok_cache_new(void);
void tok_cache_free(tok_cache *c);
xllm_status tok_bpe_fragment(const xllm_tokenizer *t, const char *s, size_t n, tok_cache *cache, tok_ids *out);
xllm_status tok_spm_fragment(const xllm_tokenizer *t, const char *s, size_t n, int prefix, tok_cache *cache,
                             tok_ids *out);
/* ugm.c */
xllm_status tok_ugm_setup(xllm_tokenizer *t);
xllm_status tok_ugm_fragment(const xllm_tokenizer *t, const char *s, size_t n, int prefix, tok_ids *out);
/* wpm.c */
xllm_status tok_wpm_fragment(const xllm_tokenizer *t, const char *s, size_t n, tok_ids *out);

static inline const char *tok_text(const xllm_tokenizer *t, int32_t id)
{
    return t->pool + t->off[id];
}

#endif
