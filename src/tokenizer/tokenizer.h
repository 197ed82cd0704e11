/* tokenizer.h - text <-> token ids for every vocabulary type real models use, loaded
 * only from the standard GGUF tokenizer metadata (tokenizer.ggml.*):
 *   "llama"  SentencePiece BPE: merges by score (sentencepiece), or by merge rank when
 *            the file carries tokenizer.ggml.merges (Hugging Face tokenizer.json form);
 *            byte fallback <0xNN>, the leading-space rule (add_space_prefix)
 *   "t5"     SentencePiece unigram (Viterbi), precompiled charsmap normalizer
 *   "gpt2"   byte-level BPE, merge ranks, pre-tokenizer regexes chosen by
 *            tokenizer.ggml.pre (PCRE2, UTF+UCP, JIT); an unknown pre is an error
 *   "bert"   WordPiece with the BERT normalizer (uncased: lower-case, strip accents,
 *            CJK and punctuation split)
 * Input text that is not valid UTF-8 is read as if each maximal invalid subpart were
 * U+FFFD (what Python's errors="replace" and Rust's from_utf8_lossy do).
 *
 * Ownership: xllm_tokenizer_load copies what it needs from the container (the GGUF
 * may be closed right after). Arrays returned through out-pointers are heap memory
 * the caller frees with xllm_free.
 * Threading: a loaded tokenizer is immutable; any number of threads may tokenize and
 * detokenize with it at once. A detokenizer stream belongs to one thread. */
#ifndef XLLM_TOKENIZER_TOKENIZER_H
#define XLLM_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "format/gguf.h"

typedef struct xllm_tokenizer xllm_tokenizer;

/* GGUF token types (tokenizer.ggml.token_type). */
typedef enum xllm_token_type {
    XLLM_TOKEN_UNDEFINED = 0,
    XLLM_TOKEN_NORMAL = 1,
    XLLM_TOKEN_UNKNOWN = 2,
    XLLM_TOKEN_CONTROL = 3,
    XLLM_TOKEN_USER_DEFINED = 4,
    XLLM_TOKEN_UNUSED = 5,
    XLLM_TOKEN_BYTE = 6
} xllm_token_type;

typedef enum xllm_vocab_type {
    XLLM_VOCAB_SPM = 1,  /* "llama" */
    XLLM_VOCAB_BPE = 2,  /* "gpt2" */
    XLLM_VOCAB_WPM = 3,  /* "bert" */
    XLLM_VOCAB_UGM = 4   /* "t5" */
} xllm_vocab_type;

xllm_status xllm_tokenizer_load(const xllm_gguf *g, xllm_tokenizer **out);
/* path: a .gguf file (a vocabulary-only one is fine) or a Hugging Face directory
 * (tokenizer.json [+ tokenizer_config.json], or a SentencePiece tokenizer.model). */
xllm_status xllm_tokenizer_open_path(const char *path, xllm_tokenizer **out);
void xllm_tokenizer_free(xllm_tokenizer *tok);

/* Tokenize len bytes of text. add_special: add BOS/EOS (CLS/SEP for bert) as the
 * vocabulary asks (add_bos_token / add_eos_token / add_sep_token). parse_special:
 * control tokens written in the text become their ids (longest match first); when 0
 * they are ordinary text. User-defined tokens are always matched (as Hugging Face
 * and sentencepiece do). *ids: heap array (xllm_free) of *n ids. */
xllm_status xllm_tokenize(const xllm_tokenizer *tok, const char *text, size_t len, int add_special,
                          int parse_special, int32_t **ids, size_t *n);
/* Same into a caller buffer of cap ids; XLLM_ERR_LIMIT (with *n = ids needed) when
 * it does not fit. */
xllm_status xllm_tokenize_into(const xllm_tokenizer *tok, const char *text, size_t len, int add_special,
                               int parse_special, int32_t *ids, size_t cap, size_t *n);

/* The bytes a token stands for (byte tokens give their byte, byte-level BPE tokens
 * their raw bytes, SPM's U+2581 becomes a space; control tokens give their text
 * when render_special, else nothing). Writes at most cap bytes; returns the length
 * needed (may exceed cap), or -1 for an id out of range. */
int32_t xllm_token_to_piece(const xllm_tokenizer *tok, int32_t id, int render_special, char *buf, size_t cap);
/* Decode a whole sequence (as Hugging Face's decode does: SPM's first leading space
 * stripped, bert's word pieces joined). *text: NUL-terminated heap string. */
xllm_status xllm_detokenize(const xllm_tokenizer *tok, const int32_t *ids, size_t n, int render_special,
                            char **text, size_t *len);

/* Streaming detokenizer: push ids one at a time and get back only complete UTF-8;
 * bytes of a character split over several tokens are held until it completes.
 * The text pointers stay valid until the next call on the stream. */
typedef struct xllm_detok xllm_detok;
xllm_status xllm_detok_new(const xllm_tokenizer *tok, int render_special, xllm_detok **out);
/* Push one id; *text and *len receive the newly completed text (possibly empty). */
xllm_status xllm_detok_push(xllm_detok *d, int32_t id, const char **text, size_t *len);
/* End of stream: bytes still held (an incomplete character) come out as U+FFFD. */
xllm_status xllm_detok_flush(xllm_detok *d, const char **text, size_t *len);
void xllm_detok_free(xllm_detok *d);
/* The stream continues earlier text (a generation after its prompt): the
 * leading-space strip of SPM / WordPiece decoding does not apply. */
void xllm_detok_continue(xllm_detok *d);

/* Accessors. Ids are -1 when the vocabulary has no such token. */
int32_t xllm_tokenizer_n_vocab(const xllm_tokenizer *tok);
xllm_vocab_type xllm_tokenizer_type(const xllm_tokenizer *tok);
int32_t xllm_tokenizer_bos(const xllm_tokenizer *tok);
int32_t xllm_tokenizer_eos(const xllm_tokenizer *tok);
int32_t xllm_tokenizer_eot(const xllm_tokenizer *tok);
int32_t xllm_tokenizer_unk(const xllm_tokenizer *tok);
int32_t xllm_tokenizer_pad(const xllm_tokenizer *tok);
int xllm_tokenizer_add_bos(const xllm_tokenizer *tok);
int xllm_tokenizer_add_eos(const xllm_tokenizer *tok);
/* 1 for control tokens (BOS, EOS, chat markers, ...). */
int xllm_tokenizer_is_special(const xllm_tokenizer *tok, int32_t id);
/* 1 for tokens that end a generation (EOS, EOT and other end-of-generation markers). */
int xllm_tokenizer_is_eog(const xllm_tokenizer *tok, int32_t id);
xllm_token_type xllm_tokenizer_token_type(const xllm_tokenizer *tok, int32_t id);
/* The token's text as stored in the vocabulary (not NUL-terminated), or NULL. */
const char *xllm_tokenizer_token_text(const xllm_tokenizer *tok, int32_t id, size_t *len);
/* The id of a token given by its exact vocabulary text, or -1. */
int32_t xllm_tokenizer_find(const xllm_tokenizer *tok, const char *text, size_t len);

#endif
