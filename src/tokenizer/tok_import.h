/* tok_import.h - helpers shared by the importers (hf_import.c, spm_model.c): JSON
 * loading, a SentencePiece tokenizer.model reader, chat templates. Results go into
 * the caller's GGUF container (copied); nothing is kept. */
#ifndef XLLM_TOKENIZER_TOK_IMPORT_H
#define XLLM_TOKENIZER_TOK_IMPORT_H

#include <jansson.h>

#include "base/status.h"
#include "format/gguf.h"

/* dir/name parsed (NULL and XLLM_OK when absent and not required). */
xllm_status tok_json_load(const char *dir, const char *name, int required, json_t **out);
/* A SentencePiece ModelProto file -> tokenizer.ggml.* ("llama" for BPE, "t5" for unigram). */
xllm_status tok_import_spm_model(const char *path, xllm_gguf *g);
/* tokenizer_config.json beside a tokenizer.model: add_bos/add_eos, chat templates. */
xllm_status tok_import_spm_config(const char *dir, json_t *cfg, xllm_gguf *g);
xllm_status tok_import_chat_templates(const char *dir, json_t *cfg, xllm_gguf *g);

#endif
