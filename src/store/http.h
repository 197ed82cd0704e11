/* http.h - the registry clients' HTTP through libcurl: one set of options
 * for every request (redirects followed, connect and stall timeouts, user
 * agent, optional bearer token), GET into a capped memory buffer, and the
 * reply cache for registry metadata (<cache>/registry/<sha256 of URL>,
 * fresh for XLLM_REGISTRY_CACHE_TTL seconds, default 600).
 *
 * Environment: XLLM_PULL_STALL_TIMEOUT (seconds without a byte before a
 * transfer is abandoned, default 30), XLLM_CACHE_DIR (default ~/.xllm/cache).
 * Threading: curl's global init happens once (pthread_once); each call uses
 * its own handle, so calls may run on several threads. */
#ifndef XLLM_STORE_HTTP_H
#define XLLM_STORE_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct xllm_http_reply {
    long status;        /* final HTTP status after redirects (0: none) */
    xllm_buf body;      /* owned; xllm_http_reply_free */
    char docker_digest[80]; /* Docker-Content-Digest header, or "" */
} xllm_http_reply;

/* A new easy handle with the common options; headers (may be NULL) are
 * appended to *list (freed by the caller with curl_slist_free_all). accept
 * and bearer may be NULL. */
CURL *xllm_http_handle(const char *url, const char *accept, const char *bearer, struct curl_slist **list);

/* GET url into r->body (at most max bytes). Transport failures are
 * XLLM_ERR_IO / XLLM_ERR_TIMEOUT with a message naming the URL; any HTTP
 * status is returned in r->status with XLLM_OK (the caller judges it). */
xllm_status xllm_http_get(const char *url, const char *accept, const char *bearer, size_t max, xllm_http_reply *r);
void xllm_http_reply_free(xllm_http_reply *r);

/* Seconds without progress before a transfer is abandoned. */
long xllm_http_stall_seconds(void);
/* Plain-English text of a failed curl transfer ("connection dropped after
 * 100 of 300 bytes", "no data for 30 seconds", ...), recorded with xllm_fail. */
xllm_status xllm_http_fail(CURLcode rc, const char *url, const char *errbuf);

/* Registry metadata cache. get: XLLM_OK and a heap copy when a fresh entry
 * exists, XLLM_ERR_NOT_FOUND otherwise (no message). put: best effort. */
xllm_status xllm_http_cache_get(const char *url, char **body, size_t *len);
void xllm_http_cache_put(const char *url, const char *body, size_t len);

#endif
