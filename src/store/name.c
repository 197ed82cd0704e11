/* name.c - parsing, validation and printing of Ollama model names. */
#include "store/name.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum part_kind { PART_HOST, PART_NAMESPACE, PART_MODEL, PART_TAG } part_kind;

static const char *part_label[] = {"host", "namespace", "model name", "tag"};

static int is_alnum_us(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int part_valid(part_kind k, const char *s, size_t n)
{
    size_t max = k == PART_HOST ? XLLM_NAME_HOST_MAX : XLLM_NAME_PART_MAX;
    if (n < 1 || n > max || !is_alnum_us(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (c == '-' || c == '_' || is_alnum_us(c))
            continue;
        if (c == '.' && k != PART_NAMESPACE)
            continue;
        if (c == ':' && k == PART_HOST)
            continue;
        return 0;
    }
    return 1;
}

static xllm_status set_part(part_kind k, const char *s, size_t n, char *dst, const char *whole)
{
    if (!part_valid(k, s, n))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT,
                         "invalid model name '%s': bad %s '%.*s' (letters, digits, '_', '-'%s; at most %d characters)",
                         whole, part_label[k], (int)(n > 400 ? 400 : n), s,
                         k == PART_NAMESPACE ? "" : (k == PART_HOST ? ", '.', ':'" : ", '.'"),
                         k == PART_HOST ? XLLM_NAME_HOST_MAX : XLLM_NAME_PART_MAX);
    memcpy(dst, s, n);
    dst[n] = 0;
    return XLLM_OK;
}

xllm_status xllm_model_name_parse(const char *s, xllm_model_name *out)
{
    const char *end, *colon, *slash, *p;
    xllm_status st;
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "empty model name");
    if (strlen(s) > XLLM_NAME_STR_MAX + 16)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "model name too long (%zu bytes)", strlen(s));
    snprintf(out->host, sizeof out->host, "%s", XLLM_NAME_DEFAULT_HOST);
    snprintf(out->ns, sizeof out->ns, "%s", XLLM_NAME_DEFAULT_NAMESPACE);
    snprintf(out->tag, sizeof out->tag, "%s", XLLM_NAME_DEFAULT_TAG);
    p = strstr(s, "://");
    if (p)
        s = p + 3;
    end = s + strlen(s);
    /* The tag: after the last ':' when it comes after the last '/' ('/'
     * cannot be in a tag, so a host's port is not mistaken for one). */
    colon = strrchr(s, ':');
    slash = strrchr(s, '/');
    if (colon && (!slash || colon > slash)) {
        st = set_part(PART_TAG, colon + 1, (size_t)(end - colon - 1), out->tag, s);
        if (st != XLLM_OK)
            return st;
        end = colon;
    }
    /* model, then namespace, then host, from the right. */
    for (p = end; p > s && p[-1] != '/'; p--)
        ;
    st = set_part(PART_MODEL, p, (size_t)(end - p), out->model, s);
    if (st != XLLM_OK || p == s)
        return st;
    end = p - 1;
    for (p = end; p > s && p[-1] != '/'; p--)
        ;
    st = set_part(PART_NAMESPACE, p, (size_t)(end - p), out->ns, s);
    if (st != XLLM_OK || p == s)
        return st;
    end = p - 1;
    if (memchr(s, '/', (size_t)(end - s)))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "invalid model name '%s': too many '/' parts", s);
    st = set_part(PART_HOST, s, (size_t)(end - s), out->host, s);
    if (st != XLLM_OK)
        return st;
    if (!strcasecmp(out->host, "huggingface.co"))
        snprintf(out->host, sizeof out->host, "%s", XLLM_NAME_HF_HOST);
    return XLLM_OK;
}

void xllm_model_name_display(const xllm_model_name *n, char *buf, size_t cap)
{
    if (!strcasecmp(n->host, XLLM_NAME_DEFAULT_HOST)) {
        if (!strcasecmp(n->ns, XLLM_NAME_DEFAULT_NAMESPACE))
            snprintf(buf, cap, "%s:%s", n->model, n->tag);
        else
            snprintf(buf, cap, "%s/%s:%s", n->ns, n->model, n->tag);
        return;
    }
    xllm_model_name_full(n, buf, cap);
}

void xllm_model_name_full(const xllm_model_name *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s/%s:%s", n->host, n->ns, n->model, n->tag);
}

void xllm_model_name_path(const xllm_model_name *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s/%s/%s", n->host, n->ns, n->model, n->tag);
}

int xllm_model_name_is_hf(const xllm_model_name *n)
{
    return !strcasecmp(n->host, XLLM_NAME_HF_HOST);
}

int xllm_model_name_equal(const xllm_model_name *a, const xllm_model_name *b)
{
    return !strcasecmp(a->host, b->host) && !strcasecmp(a->ns, b->ns) && !strcasecmp(a->model, b->model) &&
           !strcasecmp(a->tag, b->tag);
}
