/* alloc.c - allocation wrappers with a failure-injection hook for tests. */
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Zeroed pages straight from the kernel, backed lazily on first touch (so a
 * KV pool costs memory only for the positions used). huge: the range starts
 * 2 MiB aligned and its whole 2 MiB units are marked for transparent huge
 * pages (not the tail, which would otherwise round up to a 2 MiB page). */
#define HUGE_ALIGN ((size_t)2 << 20)

static size_t page_round(size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t m = (pg > 0 ? (size_t)pg : 4096) - 1;
    return (n + m) & ~m;
}

void *xllm_pages_alloc(size_t n, int huge)
{
    size_t extra = huge ? HUGE_ALIGN : 0;
    if (n == 0 || n > SIZE_MAX - extra - HUGE_ALIGN || should_fail())
        return NULL;
    size_t len = page_round(n);
    uint8_t *m = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (!huge)
        return m;
    uint8_t *p = (uint8_t *)(((uintptr_t)m + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (p + len < m + len + extra)
        munmap(p + len, (size_t)(m + len + extra - (p + len)));
#ifdef MADV_HUGEPAGE
    if (len >= HUGE_ALIGN)
        madvise(p, len & ~(HUGE_ALIGN - 1), MADV_HUGEPAGE); /* advisory */
#endif
    return p;
}

void xllm_pages_free(void *p, size_t n)
{
    if (p)
        munmap(p, page_round(n));
}
