/* alloc.h - the allocation wrappers every module uses. Tests can make the Nth
 * allocation fail (xllm_alloc_fail_after) to prove error paths free what they took.
 * Threading: the fail counter is global and meant for single-threaded tests. */
#ifndef XLLM_BASE_ALLOC_H
#define XLLM_BASE_ALLOC_H

#include <stddef.h>

void *xllm_malloc(size_t n);
void *xllm_calloc(size_t count, size_t size);   /* checks count*size overflow */
void *xllm_realloc(void *p, size_t n);
char *xllm_strdup(const char *s);
char *xllm_strndup(const char *s, size_t n);
void xllm_free(void *p);                        /* NULL-safe */
/* Aligned allocation (alignment a power of two >= sizeof(void*)); free with xllm_free. */
void *xllm_aligned_alloc(size_t alignment, size_t n);
/* Zeroed, page-aligned memory from the kernel, faulted in on first touch;
 * huge != 0: 2 MiB aligned and marked for transparent huge pages. Free with
 * xllm_pages_free(p, n) with the same n. */
void *xllm_pages_alloc(size_t n, int huge);
void xllm_pages_free(void *p, size_t n);

/* Test hook: after n more successful allocations, every allocation fails
 * (returns NULL). n < 0 disables. */
void xllm_alloc_fail_after(long n);

#endif
