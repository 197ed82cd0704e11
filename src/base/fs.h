/* fs.h - files: read-only mmap of a whole file, reading a small file into memory,
 * and atomic writes (write to "<path>.partial", fsync, rename) so that an
 * interrupted writer never leaves a partial output under the final name.
 * Threading: an xllm_mmap may be read from any thread. */
#ifndef XLLM_BASE_FS_H
#define XLLM_BASE_FS_H

#include <stdio.h>
#include <stddef.h>

#include "base/status.h"

typedef struct xllm_mmap {
    const unsigned char *data; /* [size] bytes, read-only; NULL when size == 0 */
    size_t size;
} xllm_mmap;

xllm_status xllm_mmap_open(xllm_mmap *m, const char *path);
void xllm_mmap_close(xllm_mmap *m);

/* 1 if [p, p + n) lies in one mapping made by xllm_mmap_open (read-only,
 * private, file-backed: its pages may be dropped and fault back in). */
int xllm_mmap_contains(const void *p, size_t n);
/* Copy [p, p + n) of such a mapping into dst with pread, without touching
 * the mapping (cheaper than faulting its pages in: no page-table entry per
 * page). XLLM_ERR_NOT_FOUND: not in a mapping; XLLM_ERR_IO: the read failed.
 * Reports nothing (the caller falls back to reading the mapping). */
xllm_status xllm_mmap_pread(const void *p, size_t n, void *dst);

/* Read a whole file (at most max bytes) into a NUL-terminated heap buffer. */
xllm_status xllm_read_file(const char *path, size_t max, char **out, size_t *out_len);

int xllm_path_exists(const char *path);
int xllm_is_dir(const char *path);

/* Atomic output file. Write through f; commit renames into place, abort removes. */
typedef struct xllm_atomic_file {
    FILE *f;
    char *final_path;
    char *tmp_path;
} xllm_atomic_file;

xllm_status xllm_atomic_open(xllm_atomic_file *af, const char *path);
xllm_status xllm_atomic_commit(xllm_atomic_file *af);
void xllm_atomic_abort(xllm_atomic_file *af);

/* Join dir and name with a '/' into a heap string (NULL on OOM). */
char *xllm_path_join(const char *dir, const char *name);

#endif
