/* hf_import.h - import a Hugging Face tokenizer directory into GGUF metadata.
 *
 * Reads DIR/tokenizer.json (+ DIR/tokenizer_config.json, DIR/chat_template.jinja
 * when present) or, failing that, a SentencePiece DIR/tokenizer.model, and sets on g
 * exactly the standard GGUF tokenizer keys:
 *   tokenizer.ggml.model        "gpt2" (byte-level BPE), "llama" (SentencePiece BPE),
 *                               "bert" (WordPiece, llama.cpp's phantom-space form),
 *                               "t5" (SentencePiece unigram)
 *   tokenizer.ggml.pre          pre-tokenizer name (gpt2 only; derived from the
 *                               tokenizer.json pre_tokenizer regex; unknown regex = error)
 *   tokenizer.ggml.tokens       [n_vocab] strings
 *   tokenizer.ggml.scores       [n_vocab] f32
 *   tokenizer.ggml.token_type   [n_vocab] i32 (1 normal, 2 unknown, 3 control,
 *                               4 user-defined, 5 unused, 6 byte)
 *   tokenizer.ggml.merges       [n_merges] strings "a b" (both BPE forms; llama then merges by rank)
 *   tokenizer.ggml.{bos,eos,unknown,padding,seperator,cls,mask}_token_id  u32 (where known)
 *   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix  bool
 *   (bert) add_sep_token; (tokenizer.model) remove_extra_whitespaces, precompiled_charsmap
 *   tokenizer.chat_template (+ tokenizer.chat_template.<name> for named templates)
 * Errors name the file and what is not supported (an unknown pre-tokenizer regex is
 * quoted; a cased BERT and normalizers other than NFC / U+2581 rules are refused).
 * Keys already present in g with these names are replaced.
 *
 * Ownership: g stays the caller's; everything set is copied into g.
 * Threading: no shared state; safe to call from several threads on different g. */
#ifndef XLLM_TOKENIZER_HF_IMPORT_H
#define XLLM_TOKENIZER_HF_IMPORT_H

#include "base/status.h"
#include "format/gguf.h"

xllm_status xllm_tokenizer_import_hf(const char *dir, xllm_gguf *g);

#endif
