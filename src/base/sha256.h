/* sha256.h - SHA-256 through OpenSSL's EVP interface: incremental hashing,
 * one-shot hashing of a buffer or a file, and "sha256:<hex>" digest strings.
 * Threading: a hasher belongs to one thread at a time; the functions are
 * reentrant. */
#ifndef XLLM_BASE_SHA256_H
#define XLLM_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* "sha256:" + 64 lowercase hex digits + NUL. */
#define XLLM_DIGEST_STR_LEN 72

typedef struct xllm_sha256 {
    void *ctx; /* EVP_MD_CTX *, owned */
} xllm_sha256;

xllm_status xllm_sha256_init(xllm_sha256 *h);
void xllm_sha256_update(xllm_sha256 *h, const void *p, size_t n);
/* Writes 64 hex digits + NUL into hex and releases the context. */
void xllm_sha256_final(xllm_sha256 *h, char hex[65]);
/* Releases the context without a result (NULL-safe, idempotent). */
void xllm_sha256_discard(xllm_sha256 *h);

xllm_status xllm_sha256_buf(const void *p, size_t n, char hex[65]);
/* Hash a whole file; *size (may be NULL) receives its length. */
xllm_status xllm_sha256_file(const char *path, char hex[65], uint64_t *size);

/* 1 if s is "sha256:" followed by exactly 64 lowercase hex digits. Also
 * accepts "sha256-<hex>" (the blob file spelling) when dash_ok. */
int xllm_digest_valid(const char *s, int dash_ok);

#endif
