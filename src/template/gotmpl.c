/* gotmpl.c - entry points of the Go text/template dialect (detection, parse,
 * render); the real parser and executor land in gotmpl_parse.c / gotmpl_exec.c. */
#include "template/gotmpl.h"

#include <string.h>

#include "base/alloc.h"

int xllm_gotmpl_detect(const char *src, size_t len)
{
    (void)src;
    (void)len;
    return 0;
}

xllm_status xllm_gotmpl_parse(const char *src, size_t len, xllm_gotmpl **out)
{
    (void)src;
    (void)len;
    *out = NULL;
    return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: not implemented yet");
}

void xllm_gotmpl_free(xllm_gotmpl *t)
{
    (void)t;
}

xllm_status xllm_gotmpl_render(const xllm_gotmpl *t, const json_t *data, xllm_buf *out)
{
    (void)t;
    (void)data;
    (void)out;
    return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: not implemented yet");
}

xllm_status xllm_gotmpl_render_chat(const xllm_gotmpl *t, const json_t *chat, xllm_buf *out)
{
    (void)t;
    (void)chat;
    (void)out;
    return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template: not implemented yet");
}
