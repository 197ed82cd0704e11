/* alloc.c - allocation wrappers with a failure-injection hook for tests. */
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_after = -1;

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void xllm_alloc_fail_after(long n) { fail_after = n; }

void *xllm_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *xllm_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *xllm_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

char *xllm_strndup(const char *s, size_t n)
{
    char *d = xllm_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *xllm_strdup(const char *s) { return xllm_strndup(s, strlen(s)); }

void *xllm_aligned_alloc(size_t alignment, size_t n)
{
    void *p = NULL;
    if (should_fail())
        return NULL;
    if (posix_memalign(&p, alignment, n ? n : 1) != 0)
        return NULL;
    return p;
}

void xllm_free(void *p) { free(p); }
