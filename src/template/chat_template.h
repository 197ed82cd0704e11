/* chat_template.h - the one entry point for rendering a chat into a prompt: a model's
 * chat template in either dialect (Hugging Face Jinja2, or Ollama's Go
 * text/template, detected per template), which template a model carries, and the
 * special-token variables (bos_token, eos_token, ...) from its vocabulary.
 *
 * Ownership: xllm_chat_template_new copies the source; free with
 * xllm_chat_template_free. Render appends to the caller's buffer. Strings returned
 * by xllm_chat_template_source point into the container and live as long as it.
 * Threading: a template is immutable once made; renders may run concurrently. */
#ifndef XLLM_TEMPLATE_CHAT_TEMPLATE_H
#define XLLM_TEMPLATE_CHAT_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"
#include "format/gguf.h"

typedef struct xllm_chat_template xllm_chat_template;

/* Detects the dialect (Go when xllm_gotmpl_detect says so, else Jinja2) and parses. */
xllm_status xllm_chat_template_new(const char *src, size_t len, xllm_chat_template **out);
void xllm_chat_template_free(xllm_chat_template *t);
int xllm_chat_template_is_go(const xllm_chat_template *t);

/* chat: {"messages":[...], "tools":[...]?, "documents":?, "add_generation_prompt":bool,
 * "bos_token":..., "eos_token":..., plus any extra variables (e.g. "enable_thinking")}.
 * Jinja2: every key is a template variable (transformers passes the same names);
 * tools and documents are None and add_generation_prompt False when absent, as
 * apply_chat_template passes them.
 * Go: rendered with Ollama's semantics (xllm_gotmpl_render_chat). */
xllm_status xllm_chat_template_render(const xllm_chat_template *t, const json_t *chat, xllm_buf *out);

/* The template a model carries: GGUF key tokenizer.chat_template, or
 * tokenizer.chat_template.<name> when name != NULL. A Hugging Face directory opened
 * with xllm_hf_open carries tokenizer_config.json's chat_template (a string, or each
 * {name, template} of a list: "default" as the plain key) or chat_template.jinja
 * under the same keys. XLLM_ERR_NOT_FOUND with a message when there is none. */
xllm_status xllm_chat_template_source(const xllm_gguf *g, const char *name, xllm_str *out);

/* Set bos_token, eos_token, unk_token, pad_token, sep_token, cls_token, mask_token in
 * chat from the vocabulary's token ids (tokenizer.ggml.*_token_id), leaving keys the
 * object already has. Tokens the vocabulary lacks are not set. */
xllm_status xllm_chat_template_add_special_tokens(const xllm_gguf *g, json_t *chat);

#endif
