/* http.c - libcurl setup, capped GETs, transfer error texts and the
 * registry reply cache. */
#include "store/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/sha256.h"
#include "store/store_internal.h"

#define USER_AGENT "xllm/0.1 (registry client)"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

long xllm_http_stall_seconds(void)
{
    const char *e = getenv("XLLM_PULL_STALL_TIMEOUT");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 ? v : 30;
}

CURL *xllm_http_handle(const char *url, const char *accept, const char *bearer, struct curl_slist **list)
{
    CURL *c;
    char hdr[4200];
    pthread_once(&curl_once, curl_init_once);
    c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, xllm_http_stall_seconds());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (accept) {
        snprintf(hdr, sizeof hdr, "Accept: %s", accept);
        *list = curl_slist_append(*list, hdr);
    }
    if (bearer && *bearer && strlen(bearer) < 4096) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", bearer);
        *list = curl_slist_append(*list, hdr);
    }
    if (*list)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *list);
    return c;
}

typedef struct get_ctx {
    xllm_http_reply *r;
    int overflow;
} get_ctx;

static size_t get_write(char *p, size_t sz, size_t n, void *ud)
{
    get_ctx *g = ud;
    if (xllm_buf_append(&g->r->body, p, sz * n) != XLLM_OK) {
        g->overflow = 1;
        return 0;
    }
    return sz * n;
}

static size_t get_header(char *p, size_t sz, size_t n, void *ud)
{
    xllm_http_reply *r = ud;
    size_t len = sz * n;
    static const char key[] = "docker-content-digest:";
    if (len > sizeof key && !strncasecmp(p, key, sizeof key - 1)) {
        size_t i = sizeof key - 1, j = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < len && p[i] != '\r' && p[i] != '\n' && j + 1 < sizeof r->docker_digest)
            r->docker_digest[j++] = p[i++];
        r->docker_digest[j] = 0;
    }
    return len;
}

xllm_status xllm_http_fail(CURLcode rc, const char *url, const char *errbuf)
{
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return xllm_fail(XLLM_ERR_TIMEOUT, "%s: the connection stalled (no data for %ld seconds): %s", url,
                         xllm_http_stall_seconds(), detail);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return xllm_fail(XLLM_ERR_IO, "%s: the connection was dropped before the transfer finished: %s", url, detail);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return xllm_fail(XLLM_ERR_IO, "%s: cannot connect: %s", url, detail);
    default:
        return xllm_fail(XLLM_ERR_IO, "%s: %s", url, detail);
    }
}

xllm_status xllm_http_get(const char *url, const char *accept, const char *bearer, size_t max, xllm_http_reply *r)
{
    struct curl_slist *list = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    get_ctx g = {r, 0};
    CURLcode rc;
    CURL *c;
    memset(r, 0, sizeof *r);
    xllm_buf_init(&r->body, max);
    c = xllm_http_handle(url, accept, bearer, &list);
    if (!c) {
        curl_slist_free_all(list);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "curl: no memory");
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, get_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, get_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(list);
    if (g.overflow)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: reply larger than %zu bytes", url, max);
    if (rc != CURLE_OK)
        return xllm_http_fail(rc, url, errbuf);
    if (!r->body.data && xllm_buf_append(&r->body, "", 0) != XLLM_OK)
        return XLLM_ERR_OUT_OF_MEMORY;
    return XLLM_OK;
}

void xllm_http_reply_free(xllm_http_reply *r) { xllm_buf_free(&r->body); }

/* ---- cache ------------------------------------------------------------------ */

static char *cache_path(const char *url, int make_dir)
{
    const char *base = getenv("XLLM_CACHE_DIR");
    char dir[4096], hex[65], name[80];
    if (base && *base)
        snprintf(dir, sizeof dir, "%s/registry", base);
    else if (getenv("HOME"))
        snprintf(dir, sizeof dir, "%s/.xllm/cache/registry", getenv("HOME"));
    else
        return NULL;
    if (make_dir && store_mkdirs(dir) != XLLM_OK) {
        xllm_clear_error();
        return NULL;
    }
    if (xllm_sha256_buf(url, strlen(url), hex) != XLLM_OK)
        return NULL;
    snprintf(name, sizeof name, "%s.json", hex);
    return xllm_path_join(dir, name);
}

static long cache_ttl(void)
{
    const char *e = getenv("XLLM_REGISTRY_CACHE_TTL");
    return e ? strtol(e, NULL, 10) : 600;
}

xllm_status xllm_http_cache_get(const char *url, char **body, size_t *len)
{
    char *p = cache_path(url, 0);
    struct stat sb;
    xllm_status st = XLLM_ERR_NOT_FOUND;
    if (p && stat(p, &sb) == 0 && (long)(time(NULL) - sb.st_mtime) < cache_ttl())
        st = xllm_read_file(p, 64u << 20, body, len);
    xllm_free(p);
    if (st != XLLM_OK)
        xllm_clear_error();
    return st == XLLM_OK ? XLLM_OK : XLLM_ERR_NOT_FOUND;
}

void xllm_http_cache_put(const char *url, const char *body, size_t len)
{
    char *p = cache_path(url, 1);
    xllm_atomic_file af;
    if (p && xllm_atomic_open(&af, p) == XLLM_OK) {
        if (fwrite(body, 1, len, af.f) == len)
            xllm_atomic_commit(&af);
        else
            xllm_atomic_abort(&af);
    }
    xllm_free(p);
    xllm_clear_error();
}
