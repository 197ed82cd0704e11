/* buf.c - growable capped byte buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void xllm_buf_init(xllm_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit ? limit : SIZE_MAX / 2;
}

void xllm_buf_free(xllm_buf *b)
{
    xllm_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

xllm_status xllm_buf_reserve(xllm_buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;
    if (extra > b->limit - b->len)
        return xllm_fail(XLLM_ERR_LIMIT, "buffer would exceed its cap of %zu bytes", b->limit);
    need = b->len + extra + 1;
    if (need <= b->cap)
        return XLLM_OK;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    p = xllm_realloc(b->data, ncap);
    if (!p)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory growing a buffer to %zu bytes", ncap);
    b->data = p;
    b->cap = ncap;
    return XLLM_OK;
}

xllm_status xllm_buf_append(xllm_buf *b, const void *p, size_t n)
{
    xllm_status st = xllm_buf_reserve(b, n);
    if (st != XLLM_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return XLLM_OK;
}

xllm_status xllm_buf_puts(xllm_buf *b, const char *s) { return xllm_buf_append(b, s, strlen(s)); }

xllm_status xllm_buf_printf(xllm_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    xllm_status st;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return xllm_fail(XLLM_ERR_INTERNAL, "bad format string");
    }
    st = xllm_buf_reserve(b, (size_t)n);
    if (st == XLLM_OK) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return st;
}

char *xllm_buf_take(xllm_buf *b)
{
    char *d = b->data;
    if (!d)
        d = xllm_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
