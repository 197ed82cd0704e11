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
 * over .Messages).
 * Details: role is lower-cased; content is a string, null ("") or a list of text
 * parts (one message per part, as Ollama's OpenAI layer does); thinking comes from
 * "thinking", "reasoning_content" or "reasoning"; tool_calls[].function.arguments is
 * an object or a JSON string, .Index from function.index (else the call's index,
 * else 0); a tool message's .ToolName is "tool_name" or "name", else the name of the
 * earlier call with its tool_call_id. "system" (the Modelfile SYSTEM) is prepended
 * as a system message unless the first message is one. "think": true/false or
 * "high"/"medium"/"low" (.ThinkLevel "medium" for true); absent: .IsThinkSet false.
 * No truncation to a context size (the caller's job). */
xllm_status xllm_gotmpl_render_chat(const xllm_gotmpl *t, const json_t *chat, xllm_buf *out);

#endif
