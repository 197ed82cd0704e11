/* jinja.h - a Jinja2 interpreter for chat templates, configured as Hugging Face
 * transformers configures Jinja2 for apply_chat_template: ImmutableSandboxedEnvironment,
 * trim_blocks, lstrip_blocks, the loopcontrols extension, the `generation` block,
 * tojson(ensure_ascii=False, indent, separators, sort_keys), raise_exception and
 * strftime_now globals (SOURCE_DATE_EPOCH, when set, fixes the clock).
 *
 * Ownership: xllm_jinja_parse copies the source; the parsed template is freed with
 * xllm_jinja_free. xllm_jinja_render appends the output to a caller buffer (its cap,
 * and XLLM_JINJA_MAX_OUTPUT, bound it); on error *out may hold a partial render.
 * Errors: XLLM_ERR_FORMAT for syntax errors, XLLM_ERR_INVALID_ARGUMENT for errors a
 * template raises while rendering (including raise_exception), XLLM_ERR_UNSUPPORTED
 * for constructs xllm does not implement, XLLM_ERR_LIMIT for the caps in
 * base/limits.h; the message names the template line and column.
 * Threading: a parsed template is immutable; any number of threads may render it at
 * once (each render has its own memory). */
#ifndef XLLM_TEMPLATE_JINJA_H
#define XLLM_TEMPLATE_JINJA_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct xllm_jinja xllm_jinja;

xllm_status xllm_jinja_parse(const char *src, size_t len, xllm_jinja **out);
void xllm_jinja_free(xllm_jinja *t);
/* vars: a JSON object; every key becomes a template variable (object key order is
 * kept as the dict order templates see). */
xllm_status xllm_jinja_render(const xllm_jinja *t, const json_t *vars, xllm_buf *out);

#endif
