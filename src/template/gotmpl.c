/* gotmpl.c - entry points of the Go text/template dialect: dialect detection,
 * parse / free, and rendering with a JSON object as the template's data. */
#include "template/gotmpl.h"

#include <ctype.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "template/gotmpl_impl.h"

static const char *const go_words[] = {"range", "if", "with", "end", "else", "template", "define", "block",
                                       "break", "continue"};

/* Does the action starting after "{{" at p look like Go's ({{ .X }}, {{ $x }},
 * {{- range ...}}, {{ end }}, or a comment action)? */
static int go_action(const char *p, const char *e)
{
    if (p < e && *p == '-' && p + 1 < e && isspace((unsigned char)p[1]))
        p += 2;
    if (p + 1 < e && p[0] == '/' && p[1] == '*')
        return 1;
    while (p < e && isspace((unsigned char)*p))
        p++;
    if (p >= e)
        return 0;
    if (*p == '.' || *p == '$')
        return 1;
    for (size_t i = 0; i < sizeof go_words / sizeof go_words[0]; i++) {
        size_t n = strlen(go_words[i]);
        /* a Go keyword is followed by a space or the action's end; Jinja's
         * {{ range(3)|list }} calls a function of that name */
        if ((size_t)(e - p) > n && memcmp(p, go_words[i], n) == 0 &&
            (isspace((unsigned char)p[n]) || p[n] == '}' || p[n] == '-'))
            return 1;
    }
    return 0;
}

int xllm_gotmpl_detect(const char *src, size_t len)
{
    if (!src)
        return 0;
    const char *e = src + len;
    if (len >= 2 && (memmem(src, len, "{%", 2) || memmem(src, len, "{#", 2)))
        return 0; /* Jinja2 statements or comments */
    for (const char *p = src; p + 1 < e;) {
        const char *q = memmem(p, (size_t)(e - p), "{{", 2);
        if (!q)
            break;
        if (go_action(q + 2, e))
            return 1;
        p = q + 2;
    }
    return 0;
}

xllm_status xllm_gotmpl_parse(const char *src, size_t len, xllm_gotmpl **out)
{
    *out = NULL;
    if (!src && len)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "go template: no source");
    xllm_gotmpl *t = xllm_calloc(1, sizeof(*t));
    if (!t)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "go template: out of memory");
    t->src = xllm_malloc(len + 1);
    if (!t->src) {
        xllm_free(t);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "go template: out of memory");
    }
    if (len)
        memcpy(t->src, src, len);
    t->src[len] = 0;
    t->src_len = len;
    xllm_status st = gt_parse(t);
    if (st) {
        xllm_gotmpl_free(t);
        return st;
    }
    *out = t;
    return XLLM_OK;
}

void xllm_gotmpl_free(xllm_gotmpl *t)
{
    if (!t)
        return;
    gt_arena_free(&t->arena);
    xllm_free(t->src);
    xllm_free(t);
}

xllm_status xllm_gotmpl_render(const xllm_gotmpl *t, const json_t *data, xllm_buf *out)
{
    if (!t || !out)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "go template: no template or output");
    gt_arena a = {.limit = XLLM_GOTMPL_MAX_ARENA};
    gt_val d;
    xllm_status st;
    if (!data || json_is_null(data)) {
        d = gt_invalid();
        st = XLLM_OK;
    } else if (!json_is_object(data)) {
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "go template: the data must be a JSON object");
    } else {
        st = gt_from_json(&a, data, &d);
        if (st)
            st = xllm_fail(st, "go template: out of memory converting the data");
    }
    if (st == XLLM_OK) {
        size_t start = out->len;
        st = gt_execute(t, t->root, &a, &d, NULL, out);
        if (st) { /* nothing half-rendered */
            out->len = start;
            if (out->data)
                out->data[start] = 0;
        }
    }
    gt_arena_free(&a);
    return st;
}
