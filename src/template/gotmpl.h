/* gotmpl.h - Ollama's chat templates: Go text/template, parsed and rendered with
 * the data and extra functions Ollama's template package supplies.
 *
 * Ownership: xllm_gotmpl_parse allocates the template; the caller frees it with
 * xllm_gotmpl_free. Render functions append to the caller's buffer (capped by
 * limits in base/limits.h) and never keep references to the data.
 * Threading: a parsed template is immutable; it may be rendered from several
 * threads at once. Errors carry the template line and column via xllm_fail. */
#ifndef XLLM_TEMPLATE_GOTMPL_H
#define XLLM_TEMPLATE_GOTMPL_H

#include <stddef.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct xllm_gotmpl xllm_gotmpl;

/* 1: Go text/template dialect ({{ .X }}, {{- range .Messages }}...), 0: Jinja2 or plain. */
int xllm_gotmpl_detect(const char *src, size_t len);

xllm_status xllm_gotmpl_parse(const char *src, size_t len, xllm_gotmpl **out);
void xllm_gotmpl_free(xllm_gotmpl *t);

/* data: JSON object, keys are the Go field names (.System, .Messages, ...). */
xllm_status xllm_gotmpl_render(const xllm_gotmpl *t, const json_t *data, xllm_buf *out);

/* chat: {"messages":[{role, content, tool_calls?, thinking?/reasoning_content?,
 * tool_name?...}], "tools":[...]?, "think": bool?, "system": ...?} in OpenAI/Ollama
 * message shape; renders the prompt as Ollama's server would for that conversation
 * with this template (.System, .Prompt, .Response, .Messages, .Tools, .Think, ...;
 * messages collapsed into System/Prompt/Response when the template does not range
 * over .Messages). */
xllm_status xllm_gotmpl_render_chat(const xllm_gotmpl *t, const json_t *chat, xllm_buf *out);

#endif
