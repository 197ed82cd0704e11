/* download.c - parallel ranged downloads with curl multi, written with
 * pwrite at each part's offset; size, status and stall checks. */
#include "store/download.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "store/http.h"

typedef struct part {
    CURL *c;
    struct curl_slist *list;
    int fd;
    uint64_t off, len, got; /* len UINT64_MAX: unknown (one part) */
    int ranged;
    int no_range;  /* a ranged request got 200: the server ignores Range */
    int overflow;  /* more bytes than asked */
    int werr;      /* errno of a failed write */
    int done;
    CURLcode rc;
    char errbuf[CURL_ERROR_SIZE];
} part;

void store_emit(const xllm_pull_opts *o, const char *status, const char *digest, uint64_t total, uint64_t done)
{
    xllm_pull_event ev = {status, digest, total, done};
    if (o && o->progress)
        o->progress(&ev, o->ud);
}

static size_t part_write(char *p, size_t sz, size_t n, void *ud)
{
    part *pt = ud;
    size_t len = sz * n, off = 0;
    long code = 0;
    curl_easy_getinfo(pt->c, CURLINFO_RESPONSE_CODE, &code);
    if (pt->ranged && code == 200) {
        pt->no_range = 1;
        return 0;
    }
    if (pt->len != UINT64_MAX && pt->got + len > pt->len) {
        pt->overflow = 1;
        return 0;
    }
    while (off < len) {
        ssize_t w = pwrite(pt->fd, p + off, len - off, (off_t)(pt->off + pt->got + off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            pt->werr = errno;
            return 0;
        }
        off += (size_t)w;
    }
    pt->got += len;
    return len;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *e = getenv(name);
    unsigned long long v = e ? strtoull(e, NULL, 10) : 0;
    return v ? (uint64_t)v : def;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static xllm_status write_error(const store_dl *d, int err)
{
    if (err == ENOSPC || err == EDQUOT)
        return xllm_fail(XLLM_ERR_IO, "no space left on the disk for %s (%llu bytes needed); nothing was kept",
                         d->path, (unsigned long long)d->size);
    if (err == EFBIG)
        return xllm_fail(XLLM_ERR_IO, "cannot write %s: file size limit exceeded (%s); nothing was kept", d->path,
                         strerror(err));
    return xllm_fail(XLLM_ERR_IO, "cannot write %s: %s; nothing was kept", d->path, strerror(err));
}

static xllm_status part_result(const store_dl *d, part *q);

/* Judge the parts: a finished part's failure first (the cause), then the
 * parts it stopped. */
static xllm_status parts_result(const store_dl *d, part *pt, int k)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < k; i++) {
            part *q = &pt[i];
            xllm_status st;
            if (pass == 0 && !(q->done && (q->rc != CURLE_OK || q->werr || q->overflow)))
                continue;
            st = part_result(d, q);
            if (st != XLLM_OK)
                return st;
        }
    return XLLM_OK;
}

static xllm_status part_result(const store_dl *d, part *q)
{
    long code = 0;
    curl_easy_getinfo(q->c, CURLINFO_RESPONSE_CODE, &code);
    if (q->werr)
        return write_error(d, q->werr);
    if (q->overflow)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: the server sent more than the %llu bytes expected", d->url,
                         (unsigned long long)q->len);
    if (q->rc == CURLE_HTTP_RETURNED_ERROR || code >= 400) {
        if (code == 404)
            return xllm_fail(XLLM_ERR_NOT_FOUND, "%s: not found (HTTP 404)", d->url);
        if (code == 401 || code == 403)
            return xllm_fail(XLLM_ERR_IO, "%s: access denied (HTTP %ld); a gated or private model needs a token",
                             d->url, code);
        return xllm_fail(XLLM_ERR_IO, "%s: HTTP %ld", d->url, code);
    }
    if (q->rc != CURLE_OK && !q->no_range)
        return xllm_http_fail(q->rc, d->url, q->errbuf);
    if (!q->no_range && q->len != UINT64_MAX && q->got != q->len)
        return xllm_fail(XLLM_ERR_IO,
                         "%s: the connection was dropped after %llu of %llu bytes; nothing was kept", d->url,
                         (unsigned long long)(q->off + q->got), (unsigned long long)d->size);
    return XLLM_OK;
}

static xllm_status run_parts(const store_dl *d, int fd, int k, int *retry_single)
{
    part pt[XLLM_PULL_MAX_PARTS];
    CURLM *m = curl_multi_init();
    xllm_status st = XLLM_OK;
    int running = 0, no_range = 0;
    double last = 0;
    uint64_t chunk = d->size == UINT64_MAX ? UINT64_MAX : d->size / (uint64_t)k;
    memset(pt, 0, sizeof pt);
    *retry_single = 0;
    if (!m)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "curl: no memory");
    for (int i = 0; i < k; i++) {
        part *q = &pt[i];
        q->fd = fd;
        q->off = (uint64_t)i * (chunk == UINT64_MAX ? 0 : chunk);
        q->len = d->size == UINT64_MAX ? UINT64_MAX : (i == k - 1 ? d->size - q->off : chunk);
        q->ranged = k > 1;
        q->c = xllm_http_handle(d->url, NULL, d->bearer, &q->list);
        if (!q->c) {
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "curl: no memory");
            break;
        }
        curl_easy_setopt(q->c, CURLOPT_WRITEFUNCTION, part_write);
        curl_easy_setopt(q->c, CURLOPT_WRITEDATA, q);
        curl_easy_setopt(q->c, CURLOPT_ERRORBUFFER, q->errbuf);
        curl_easy_setopt(q->c, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(q->c, CURLOPT_PRIVATE, q);
        if (q->ranged) {
            char range[64];
            snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)q->off,
                     (unsigned long long)(q->off + q->len - 1));
            curl_easy_setopt(q->c, CURLOPT_RANGE, range);
        }
        curl_multi_add_handle(m, q->c);
    }
    while (st == XLLM_OK) {
        CURLMsg *msg;
        int left;
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            st = xllm_fail(XLLM_ERR_IO, "%s: curl multi failure", d->url);
            break;
        }
        while ((msg = curl_multi_info_read(m, &left))) {
            part *q = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            q->rc = msg->data.result;
            q->done = 1;
            if (q->no_range)
                no_range = 1;
            if (q->rc != CURLE_OK)
                running = 0; /* one failed part fails the blob: stop the others */
        }
        if (d->opts && d->opts->cancel && *d->opts->cancel) {
            st = xllm_fail(XLLM_ERR_CANCELLED, "pull cancelled");
            break;
        }
        if (now_s() - last >= 0.1 || !running) {
            uint64_t got = 0;
            for (int i = 0; i < k; i++)
                got += pt[i].got;
            store_emit(d->opts, d->status, d->digest, d->size == UINT64_MAX ? got : d->size, got);
            last = now_s();
        }
        if (!running)
            break;
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    if (st == XLLM_OK) {
        if (no_range && k > 1)
            *retry_single = 1;
        else
            st = parts_result(d, pt, k);
    }
    for (int i = 0; i < k; i++) {
        if (!pt[i].c)
            continue;
        curl_multi_remove_handle(m, pt[i].c);
        curl_easy_cleanup(pt[i].c);
        curl_slist_free_all(pt[i].list);
    }
    curl_multi_cleanup(m);
    return st;
}

xllm_status store_download(const store_dl *d)
{
    uint64_t part_size = env_u64("XLLM_PULL_PART_SIZE", 100000000ull);
    uint64_t max_parts = env_u64("XLLM_PULL_PARTS", 4);
    int k = 1, retry = 0, fd;
    xllm_status st;
    if (max_parts > XLLM_PULL_MAX_PARTS)
        max_parts = XLLM_PULL_MAX_PARTS;
    if (d->size != UINT64_MAX && d->size >= 2 * part_size) {
        uint64_t want = d->size / part_size;
        k = (int)(want < max_parts ? want : max_parts);
        if (k < 1)
            k = 1;
    }
    fd = open(d->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return xllm_fail(XLLM_ERR_IO, "cannot create %s: %s", d->path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* the lock tells store_open the file is live */
        close(fd);
        return xllm_fail(XLLM_ERR_IO, "%s is being written by another pull of the same blob; try again when it "
                         "has finished", d->path);
    }
    if (ftruncate(fd, 0) != 0) {
        st = write_error(d, errno);
        goto out;
    }
    if (d->size != UINT64_MAX && d->size > 0) {
        int e = posix_fallocate(fd, 0, (off_t)d->size);
        if (e == ENOSPC || e == EFBIG || e == EDQUOT) {
            st = write_error(d, e);
            goto out;
        }
    }
    st = run_parts(d, fd, k, &retry);
    if (st == XLLM_OK && retry) {
        if (ftruncate(fd, 0) != 0) {
            st = write_error(d, errno);
            goto out;
        }
        st = run_parts(d, fd, 1, &retry);
    }
    if (st == XLLM_OK && fsync(fd) != 0)
        st = write_error(d, errno);
out:
    if (st == XLLM_OK && d->keep_fd) {
        *d->keep_fd = fd;
        return XLLM_OK;
    }
    if (st != XLLM_OK)
        unlink(d->path); /* before close: the lock still guards the name */
    if (close(fd) != 0 && st == XLLM_OK)
        st = write_error(d, errno);
    return st;
}
