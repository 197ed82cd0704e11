/* download.h - one URL into one file through libcurl's multi interface: in
 * parallel Range parts when the size is known and large, progress reported
 * between transfers, cancellable. Internal to the store (pull.c, pull_hf.c).
 * On failure the file is removed. */
#ifndef XLLM_STORE_DOWNLOAD_H
#define XLLM_STORE_DOWNLOAD_H

#include <stdint.h>

#include "store/pull.h"

typedef struct store_dl {
    const char *url;
    const char *bearer;   /* or NULL */
    const char *path;     /* output file (created / truncated) */
    uint64_t size;        /* expected bytes; UINT64_MAX: unknown */
    const char *status;   /* progress status text ("pulling 0123456789ab") */
    const char *digest;   /* progress digest, or NULL */
    const xllm_pull_opts *opts;
    int *keep_fd;         /* non-NULL: on success the file stays open (and
                           * locked against store_open's cleanup) in *keep_fd */
} store_dl;

xllm_status store_download(const store_dl *d);

/* The progress callback, if any. */
void store_emit(const xllm_pull_opts *o, const char *status, const char *digest, uint64_t total, uint64_t done);

#endif
