/* hf_export.h - GGUF tokenizer metadata (tokenizer.ggml.*) written out as a Hugging
 * Face tokenizer: DIR/tokenizer.json + DIR/tokenizer_config.json. The reverse of
 * hf_import.h; a file written here imports back to the same vocabulary, and Hugging
 * Face `tokenizers` loading it produces the ids xllm does:
 *   "gpt2"  BPE (vocab, merges, ignore_merges per pre type), NFC where the pre type
 *           asks, Split(regex, Isolated) per pre-tokenizer regex + ByteLevel (or
 *           ByteLevel with its own regex for GPT-2's), ByteLevel decoder
 *   "llama" BPE with byte_fallback; merges from tokenizer.ggml.merges, or derived from
 *           the scores as transformers' SentencePiece converter does (pairs of pieces
 *           whose concatenation is a piece, by the merged piece's score); normalizer
 *           Prepend U+2581 (add_space_prefix) + Replace ' ' -> U+2581
 *   "bert"  WordPiece ("##" continuation, llama.cpp's phantom-space form undone),
 *           BertNormalizer (lower-case), BertPreTokenizer, [CLS] $A [SEP]
 *   "t5"    refused (XLLM_ERR_UNSUPPORTED): see hf_export.c
 * Control and unknown tokens become special added tokens, user-defined ones
 * non-special added tokens; BOS/EOS (CLS/SEP) go into a TemplateProcessing
 * post-processor when add_bos_token / add_eos_token (add_sep_token) ask.
 * tokenizer_config.json: bos/eos/unk/pad (bert: cls/sep/mask) tokens, add_bos_token,
 * add_eos_token, chat_template (tokenizer.chat_template[.NAME]), model_max_length
 * (<arch>.context_length).
 *
 * Returns XLLM_ERR_NOT_FOUND (no message) when g has no tokenizer.ggml.model, and
 * XLLM_ERR_UNSUPPORTED (message names the vocabulary type and why) when the
 * vocabulary cannot be written exactly; nothing is written in either case, nor on
 * any other error (a file half written is removed).
 *
 * Ownership: g stays the caller's. Threading: no shared state. */
#ifndef XLLM_TOKENIZER_HF_EXPORT_H
#define XLLM_TOKENIZER_HF_EXPORT_H

#include "base/status.h"
#include "format/gguf.h"

xllm_status xllm_tokenizer_export_hf(const xllm_gguf *g, const char *dir);

#endif
