/* buf.h - a growable byte buffer with a hard cap. The buffer owns data;
 * xllm_buf_free releases it. Not thread-safe. Always NUL-terminated when
 * non-empty so text can be used as a C string. */
#ifndef XLLM_BASE_BUF_H
#define XLLM_BASE_BUF_H

#include <stddef.h>

#include "base/status.h"

typedef struct xllm_buf {
    char *data;
    size_t len;
    size_t cap;   /* allocated bytes */
    size_t limit; /* hard cap on len; 0 means SIZE_MAX/2 */
} xllm_buf;

void xllm_buf_init(xllm_buf *b, size_t limit);
void xllm_buf_free(xllm_buf *b);
xllm_status xllm_buf_reserve(xllm_buf *b, size_t extra);
xllm_status xllm_buf_append(xllm_buf *b, const void *p, size_t n);
xllm_status xllm_buf_puts(xllm_buf *b, const char *s);
xllm_status xllm_buf_printf(xllm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (who frees it with xllm_free); b becomes empty. */
char *xllm_buf_take(xllm_buf *b);

#endif
