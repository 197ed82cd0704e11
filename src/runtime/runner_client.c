/* runner_client.c - the client side of a runner connection (runner_client.h):
 * connect + hello, a reader thread that hands events to the callbacks of
 * their requests, synchronous calls (submit, stats, embed) matched to their
 * replies by tag, and spawning / reaping runner processes. */
#include "runtime/runner_client.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "runtime/runner_proto.h"

/* How long a submit waits for the runner's accept / refusal (tokenizing a
 * very long prompt included). */
#define SUBMIT_TIMEOUT_MS 60000

typedef enum call_kind { CALL_SUBMIT, CALL_STATS, CALL_EMBED } call_kind;

/* One synchronous call waiting for its reply (lives on the caller's stack). */
typedef struct call {
    uint64_t tag;
    call_kind kind;
    int done;
    xllm_status st;
    char msg[XLLM_MAX_ERROR_MESSAGE];
    xllm_gen_cb cb; /* submit */
    void *user;
    uint64_t id;
    xllm_sched_stats *stats; /* stats */
    int32_t n_max, n, n_embd; /* embed */
    int32_t *n_tokens;
    float *emb;
    struct call *next;
} call;

/* A live request: id -> callback (open addressing, linear probing). */
typedef struct slot {
    uint64_t id; /* 0: empty */
    xllm_gen_cb cb;
    void *user;
} slot;

struct xllm_rclient {
    int fd;
    pthread_t reader;
    int reader_started;
    pthread_mutex_t mu; /* calls, table, next_tag, dead_msg */
    pthread_cond_t cv;
    pthread_mutex_t wmu; /* one frame written at a time */
    atomic_int alive;
    char dead_msg[256];
    xllm_runner_info info;
    uint64_t next_tag;
    call *calls;
    slot *tab;
    size_t tab_cap, tab_n;
    xllm_buf in;
};

/* ---- request table (callers hold mu) ---- */

static size_t tab_find(const xllm_rclient *c, uint64_t id)
{
    size_t m = c->tab_cap - 1, i = (size_t)(id * 0x9e3779b97f4a7c15ull) & m;
    while (c->tab[i].id && c->tab[i].id != id)
        i = (i + 1) & m;
    return i;
}

static xllm_status tab_put(xllm_rclient *c, uint64_t id, xllm_gen_cb cb, void *user)
{
    if ((c->tab_n + 1) * 2 > c->tab_cap) {
        size_t old_cap = c->tab_cap;
        slot *old = c->tab, *t = xllm_calloc(old_cap ? old_cap * 2 : 64, sizeof(slot));
        if (!t)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner client: request table");
        c->tab = t;
        c->tab_cap = old_cap ? old_cap * 2 : 64;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].id)
                c->tab[tab_find(c, old[i].id)] = old[i];
        xllm_free(old);
    }
    size_t i = tab_find(c, id);
    if (!c->tab[i].id)
        c->tab_n++;
    c->tab[i] = (slot){id, cb, user};
    return XLLM_OK;
}

/* Remove id (backward-shift deletion keeps probe chains whole). */
static void tab_del(xllm_rclient *c, uint64_t id)
{
    size_t m = c->tab_cap - 1, i, j;
    if (!c->tab_cap || !c->tab[i = tab_find(c, id)].id)
        return;
    c->tab[i].id = 0;
    c->tab_n--;
    for (j = (i + 1) & m; c->tab[j].id; j = (j + 1) & m) {
        size_t home = (size_t)(c->tab[j].id * 0x9e3779b97f4a7c15ull) & m;
        /* move j back into the hole at i when its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            c->tab[i] = c->tab[j];
            c->tab[j].id = 0;
            i = j;
        }
    }
}

static int tab_get(const xllm_rclient *c, uint64_t id, slot *out)
{
    size_t i;
    if (!c->tab_cap || !c->tab[i = tab_find(c, id)].id)
        return 0;
    *out = c->tab[i];
    return 1;
}

/* ---- writing ---- */

static xllm_status write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return xllm_fail(XLLM_ERR_IO, "runner client: write: %s", w < 0 ? strerror(errno) : "closed");
        p += w;
        n -= (size_t)w;
    }
    return XLLM_OK;
}

static xllm_status send_frame(xllm_rclient *c, const xllm_buf *b)
{
    xllm_status st;
    if (!atomic_load(&c->alive))
        return xllm_fail(XLLM_ERR_IO, "runner client: %s", c->dead_msg[0] ? c->dead_msg : "connection closed");
    pthread_mutex_lock(&c->wmu);
    st = write_all(c->fd, b->data, b->len);
    pthread_mutex_unlock(&c->wmu);
    return st;
}

/* ---- the reader thread ---- */

static call *call_take(xllm_rclient *c, uint64_t tag, call_kind kind)
{
    for (call **pp = &c->calls; *pp; pp = &(*pp)->next)
        if ((*pp)->tag == tag && (*pp)->kind == kind) {
            call *k = *pp;
            *pp = k->next;
            return k;
        }
    return NULL;
}

static void call_finish(xllm_rclient *c, call *k, xllm_status st, const char *msg)
{
    k->st = st;
    if (msg)
        snprintf(k->msg, sizeof k->msg, "%s", msg);
    k->done = 1;
    pthread_cond_broadcast(&c->cv);
}

static void on_submit_reply(xllm_rclient *c, const uint8_t *p, size_t len)
{
    uint64_t tag, id;
    xllm_status st;
    char msg[XLLM_MAX_ERROR_MESSAGE];
    call *k;
    xllm_buf b;
    int orphan = 0;
    if (xllm_rproto_get_submit_reply(p, len, &tag, &id, &st, msg, sizeof msg) != XLLM_OK) {
        XLLM_WARN("runner client: %s", xllm_last_error());
        return;
    }
    pthread_mutex_lock(&c->mu);
    if ((k = call_take(c, tag, CALL_SUBMIT))) {
        /* registered before the caller wakes, so no event can miss it */
        if (st == XLLM_OK && tab_put(c, id, k->cb, k->user) != XLLM_OK) {
            st = XLLM_ERR_OUT_OF_MEMORY;
            snprintf(msg, sizeof msg, "%s", xllm_last_error());
            orphan = 1;
        }
        k->id = id;
        call_finish(c, k, st, msg);
    } else {
        orphan = 1; /* the caller gave up waiting */
    }
    pthread_mutex_unlock(&c->mu);
    if (orphan && id) { /* nobody will read this request's events: stop it */
        xllm_buf_init(&b, 0);
        if (xllm_rproto_put_cancel(&b, id) == XLLM_OK)
            send_frame(c, &b);
        xllm_buf_free(&b);
    }
}

static void on_event(xllm_rclient *c, int type, const uint8_t *p, size_t len)
{
    xllm_top_logprob top[XLLM_MAX_TOP_LOGPROBS];
    xllm_rproto_final f;
    xllm_gen_event ev;
    const xllm_gen_event *e = &ev;
    slot s;
    int found;
    xllm_status st = type == XLLM_RF_TOKEN ? xllm_rproto_get_token(p, len, &ev, top) : xllm_rproto_get_final(p, len, &f);
    if (st != XLLM_OK) {
        XLLM_WARN("runner client: %s", xllm_last_error());
        return;
    }
    if (type == XLLM_RF_FINAL)
        e = &f.ev;
    pthread_mutex_lock(&c->mu);
    found = tab_get(c, e->request_id, &s);
    if (found && type == XLLM_RF_FINAL)
        tab_del(c, e->request_id);
    pthread_mutex_unlock(&c->mu);
    if (!found)
        XLLM_WARN("runner client: %s event for request %llu, which is not live", xllm_rframe_name(type),
                  (unsigned long long)e->request_id);
    else if (s.cb)
        s.cb(s.user, e);
}

static void on_reply(xllm_rclient *c, int type, const uint8_t *p, size_t len)
{
    uint64_t tag = 0;
    xllm_status st;
    call *k;
    int has_tag;
    char msg[XLLM_MAX_ERROR_MESSAGE];
    pthread_mutex_lock(&c->mu);
    if (type == XLLM_RF_STATS_REPLY) {
        xllm_sched_stats s;
        st = xllm_rproto_get_stats(p, len, &tag, &s);
        if ((k = call_take(c, tag, CALL_STATS))) {
            *k->stats = s;
            call_finish(c, k, st, st == XLLM_OK ? NULL : xllm_last_error());
        }
    } else if (type == XLLM_RF_EMBED_REPLY) {
        if (len >= 8 && (k = call_take(c, xllm_rproto_embed_reply_tag(p, len), CALL_EMBED))) {
            st = xllm_rproto_get_embed_reply(p, len, &tag, k->n_max, &k->n, &k->n_embd, k->n_tokens, &k->emb);
            call_finish(c, k, st, st == XLLM_OK ? NULL : xllm_last_error());
        }
    } else if (xllm_rproto_get_error(p, len, &has_tag, &tag, &st, msg, sizeof msg) == XLLM_OK) {
        k = NULL;
        for (int kind = CALL_SUBMIT; has_tag && !k && kind <= CALL_EMBED; kind++)
            k = call_take(c, tag, (call_kind)kind);
        if (k)
            call_finish(c, k, st, msg);
        else
            XLLM_WARN("runner client: runner says: %s: %s", xllm_status_str(st), msg);
    }
    pthread_mutex_unlock(&c->mu);
}

static void dispatch(xllm_rclient *c, const xllm_rframe_header *h, const uint8_t *p)
{
    switch (h->type) {
    case XLLM_RF_SUBMIT_REPLY:
        on_submit_reply(c, p, h->len);
        break;
    case XLLM_RF_TOKEN:
    case XLLM_RF_FINAL:
        on_event(c, h->type, p, h->len);
        break;
    case XLLM_RF_STATS_REPLY:
    case XLLM_RF_EMBED_REPLY:
    case XLLM_RF_ERROR:
        on_reply(c, h->type, p, h->len);
        break;
    default:
        XLLM_WARN("runner client: ignoring a %s frame from the runner", xllm_rframe_name(h->type));
        break;
    }
}

/* The connection is gone: fail every waiting call and every live request. */
static void drop(xllm_rclient *c, const char *why)
{
    xllm_gen_event ev;
    pthread_mutex_lock(&c->mu);
    if (!c->dead_msg[0])
        snprintf(c->dead_msg, sizeof c->dead_msg, "runner exited (%s)", why);
    atomic_store(&c->alive, 0);
    while (c->calls) {
        call *k = c->calls;
        c->calls = k->next;
        call_finish(c, k, XLLM_ERR_IO, c->dead_msg);
    }
    pthread_mutex_unlock(&c->mu);
    memset(&ev, 0, sizeof ev);
    ev.type = XLLM_EVENT_FINAL;
    ev.finish = XLLM_FINISH_ERROR;
    ev.error = c->dead_msg;
    ev.logprob = NAN;
    for (;;) { /* one at a time, without the lock while the callback runs */
        slot s = {0, NULL, NULL};
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->tab_cap && !s.id; i++)
            if (c->tab[i].id)
                s = c->tab[i];
        if (s.id)
            tab_del(c, s.id);
        pthread_mutex_unlock(&c->mu);
        if (!s.id)
            break;
        ev.request_id = s.id;
        if (s.cb)
            s.cb(s.user, &ev);
    }
}

static void *reader_main(void *arg)
{
    xllm_rclient *c = arg;
    char why[200] = "connection closed";
    for (;;) {
        xllm_rframe_header h;
        size_t total, off = 0;
        ssize_t r;
        if (xllm_buf_reserve(&c->in, 65536) != XLLM_OK) {
            snprintf(why, sizeof why, "%s", xllm_last_error());
            break;
        }
        r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                snprintf(why, sizeof why, "read: %s", strerror(errno));
            break;
        }
        c->in.len += (size_t)r;
        xllm_status st = XLLM_OK;
        while ((st = xllm_rproto_peek((const uint8_t *)c->in.data + off, c->in.len - off, &h, &total)) == XLLM_OK &&
               total)
        {
            dispatch(c, &h, (const uint8_t *)c->in.data + off + XLLM_RPROTO_HEADER_SIZE);
            off += total;
        }
        if (st != XLLM_OK) {
            snprintf(why, sizeof why, "%s", xllm_last_error());
            break;
        }
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
    }
    drop(c, why);
    return NULL;
}

/* ---- connect / close ---- */

static int ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int)((t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static xllm_status connect_retry(const char *path, int timeout_ms, int *fd_out)
{
    struct sockaddr_un sa;
    struct timespec t0;
    int err = 0;
    if (strlen(path) >= sizeof sa.sun_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner client: socket path %s is longer than %zu bytes", path,
                         sizeof sa.sun_path - 1);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return xllm_fail(XLLM_ERR_IO, "runner client: socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            *fd_out = fd;
            return XLLM_OK;
        }
        err = errno;
        close(fd);
        if ((err != ENOENT && err != ECONNREFUSED && err != EAGAIN) || ms_since(&t0) >= timeout_ms)
            break;
        usleep(10000);
    }
    return xllm_fail(err == ENOENT || err == ECONNREFUSED ? XLLM_ERR_TIMEOUT : XLLM_ERR_IO,
                     "runner client: cannot connect to %s within %d ms: %s", path, timeout_ms, strerror(err));
}

/* Read frames until the hello, within the time left. */
static xllm_status read_hello(xllm_rclient *c, const char *path, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        xllm_rframe_header h;
        size_t total;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        xllm_status st = xllm_rproto_peek((const uint8_t *)c->in.data, c->in.len, &h, &total);
        if (st != XLLM_OK)
            return xllm_fail_wrap(st, "runner client: %s", path);
        if (total) {
            const uint8_t *p = (const uint8_t *)c->in.data + XLLM_RPROTO_HEADER_SIZE;
            if (h.type == XLLM_RF_ERROR) {
                int has_tag;
                uint64_t tag;
                char msg[XLLM_MAX_ERROR_MESSAGE];
                if (xllm_rproto_get_error(p, h.len, &has_tag, &tag, &st, msg, sizeof msg) == XLLM_OK)
                    return xllm_fail(st, "runner at %s refused the connection: %s", path, msg);
            }
            if (h.type != XLLM_RF_HELLO)
                return xllm_fail(XLLM_ERR_FORMAT, "runner client: %s sent a %s frame before its hello", path,
                                 xllm_rframe_name(h.type));
            if ((st = xllm_rproto_get_hello(p, h.len, &c->info)) != XLLM_OK)
                return st;
            memmove(c->in.data, c->in.data + total, c->in.len - total);
            c->in.len -= total;
            return XLLM_OK;
        }
        int left = timeout_ms - ms_since(&t0);
        if (left <= 0)
            return xllm_fail(XLLM_ERR_TIMEOUT, "runner client: no hello from %s within %d ms", path, timeout_ms);
        if (poll(&pfd, 1, left) < 0 && errno != EINTR)
            return xllm_fail(XLLM_ERR_IO, "runner client: poll: %s", strerror(errno));
        if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if ((st = xllm_buf_reserve(&c->in, 4096)) != XLLM_OK)
            return st;
        ssize_t r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (r == 0)
            return xllm_fail(XLLM_ERR_IO, "runner client: %s closed the connection before its hello", path);
        if (r < 0 && errno != EINTR)
            return xllm_fail(XLLM_ERR_IO, "runner client: read from %s: %s", path, strerror(errno));
        if (r > 0)
            c->in.len += (size_t)r;
    }
}

xllm_status xllm_rclient_connect(const char *socket_path, int timeout_ms, xllm_rclient **out)
{
    xllm_rclient *c;
    xllm_status st;
    struct timespec t0;
    *out = NULL;
    if (!socket_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner client: no socket path");
    if (!(c = xllm_calloc(1, sizeof *c)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner client");
    c->fd = -1;
    c->next_tag = 1;
    xllm_buf_init(&c->in, XLLM_RPROTO_HEADER_SIZE + XLLM_RUNNER_MAX_FRAME + 65536);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->wmu, NULL);
    pthread_cond_init(&c->cv, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((st = connect_retry(socket_path, timeout_ms, &c->fd)) != XLLM_OK ||
        (st = read_hello(c, socket_path, timeout_ms - ms_since(&t0))) != XLLM_OK)
        goto fail;
    atomic_store(&c->alive, 1);
    if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
        st = xllm_fail(XLLM_ERR_INTERNAL, "runner client: cannot start the reader thread");
        goto fail;
    }
    c->reader_started = 1;
    *out = c;
    return XLLM_OK;
fail:
    atomic_store(&c->alive, 0);
    xllm_rclient_close(c);
    return st;
}

void xllm_rclient_close(xllm_rclient *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (!c->dead_msg[0])
        snprintf(c->dead_msg, sizeof c->dead_msg, "runner connection closed by the client");
    pthread_mutex_unlock(&c->mu);
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR); /* wakes the reader; it fails what is left */
    if (c->reader_started)
        pthread_join(c->reader, NULL);
    if (c->fd >= 0)
        close(c->fd);
    xllm_buf_free(&c->in);
    xllm_free(c->tab);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->wmu);
    pthread_cond_destroy(&c->cv);
    xllm_free(c);
}

const xllm_runner_info *xllm_rclient_info(const xllm_rclient *c) { return &c->info; }
int xllm_rclient_alive(const xllm_rclient *c) { return atomic_load(&((xllm_rclient *)c)->alive); }

/* ---- synchronous calls ---- */

/* Register k (tag assigned), send the frame that encode builds, wait for the
 * reply. */
static xllm_status call_run(xllm_rclient *c, call *k, xllm_status (*encode)(xllm_buf *, uint64_t, const void *),
                            const void *arg, int timeout_ms)
{
    struct timespec dl;
    xllm_buf b;
    xllm_status st;
    if (c->reader_started && pthread_equal(pthread_self(), c->reader))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT,
                         "runner client: submit / stats / embed called from an event callback (it would wait for itself)");
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    xllm_buf_init(&b, 0);
    pthread_mutex_lock(&c->mu);
    k->tag = c->next_tag++;
    k->done = 0;
    pthread_mutex_unlock(&c->mu);
    if ((st = encode(&b, k->tag, arg)) != XLLM_OK) {
        xllm_buf_free(&b);
        return st;
    }
    pthread_mutex_lock(&c->mu);
    if (!atomic_load(&c->alive)) {
        pthread_mutex_unlock(&c->mu);
        xllm_buf_free(&b);
        return xllm_fail(XLLM_ERR_IO, "runner client: %s", c->dead_msg[0] ? c->dead_msg : "connection closed");
    }
    k->next = c->calls;
    c->calls = k;
    pthread_mutex_unlock(&c->mu);
    st = send_frame(c, &b);
    xllm_buf_free(&b);
    pthread_mutex_lock(&c->mu);
    while (st == XLLM_OK && !k->done)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT)
            break;
    if (!k->done) { /* still listed: unlink it */
        for (call **pp = &c->calls; *pp; pp = &(*pp)->next)
            if (*pp == k) {
                *pp = k->next;
                break;
            }
        if (st == XLLM_OK)
            st = xllm_fail(XLLM_ERR_TIMEOUT, "runner client: no reply from the runner within %d ms", timeout_ms);
    } else if ((st = k->st) != XLLM_OK) {
        xllm_fail(st, "%s", k->msg);
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

static xllm_status enc_submit(xllm_buf *b, uint64_t tag, const void *arg)
{
    return xllm_rproto_put_submit(b, tag, arg);
}

xllm_status xllm_rclient_submit(xllm_rclient *c, const xllm_runner_request *r, xllm_gen_cb cb, void *user,
                                uint64_t *id)
{
    call k;
    xllm_status st;
    memset(&k, 0, sizeof k);
    k.kind = CALL_SUBMIT;
    k.cb = cb;
    k.user = user;
    st = call_run(c, &k, enc_submit, r, SUBMIT_TIMEOUT_MS);
    if (id)
        *id = st == XLLM_OK ? k.id : 0;
    return st;
}

xllm_status xllm_rclient_cancel(xllm_rclient *c, uint64_t id)
{
    xllm_buf b;
    xllm_status st;
    slot s;
    int known;
    pthread_mutex_lock(&c->mu);
    known = tab_get(c, id, &s);
    pthread_mutex_unlock(&c->mu);
    if (!known)
        return xllm_fail(XLLM_ERR_NOT_FOUND, "runner client: no live request %llu", (unsigned long long)id);
    xllm_buf_init(&b, 0);
    if ((st = xllm_rproto_put_cancel(&b, id)) == XLLM_OK)
        st = send_frame(c, &b);
    xllm_buf_free(&b);
    return st;
}

static xllm_status enc_stats(xllm_buf *b, uint64_t tag, const void *arg)
{
    (void)arg;
    return xllm_rproto_put_stats_req(b, tag);
}

xllm_status xllm_rclient_stats(xllm_rclient *c, xllm_sched_stats *out, int timeout_ms)
{
    call k;
    memset(&k, 0, sizeof k);
    k.kind = CALL_STATS;
    k.stats = out;
    return call_run(c, &k, enc_stats, NULL, timeout_ms);
}

typedef struct embed_args {
    const char *const *texts;
    const int32_t *const *tokens;
    const int32_t *n_tok;
    int32_t n, truncate;
} embed_args;

static xllm_status enc_embed(xllm_buf *b, uint64_t tag, const void *arg)
{
    const embed_args *a = arg;
    return xllm_rproto_put_embed_req(b, tag, a->texts, a->tokens, a->n_tok, a->n, a->truncate);
}

xllm_status xllm_rclient_embed(xllm_rclient *c, const char *const *texts, const int32_t *const *tokens,
                               const int32_t *n_tok_in, int32_t n, int32_t truncate, float **out,
                               int32_t *n_embd, int32_t *n_tokens, int timeout_ms)
{
    embed_args a = {texts, tokens, n_tok_in, n, truncate};
    call k;
    xllm_status st;
    *out = NULL;
    memset(&k, 0, sizeof k);
    k.kind = CALL_EMBED;
    k.n_max = n;
    k.n_tokens = n_tokens;
    st = call_run(c, &k, enc_embed, &a, timeout_ms);
    if (st == XLLM_OK && k.n != n) {
        xllm_free(k.emb);
        return xllm_fail(XLLM_ERR_FORMAT, "runner client: %d embeddings for %d inputs", k.n, n);
    }
    if (st != XLLM_OK) {
        xllm_free(k.emb); /* a late reply after a timeout is dropped by the reader */
        return st;
    }
    *out = k.emb;
    *n_embd = k.n_embd;
    return XLLM_OK;
}

xllm_status xllm_rclient_shutdown(xllm_rclient *c)
{
    xllm_buf b;
    xllm_status st;
    xllm_buf_init(&b, 0);
    if ((st = xllm_rproto_put_shutdown(&b)) == XLLM_OK)
        st = send_frame(c, &b);
    xllm_buf_free(&b);
    return st;
}

/* ---- runner processes ---- */

static const char *kv_type_name(int32_t t)
{
    static const char *const names[XLLM_KV_TYPE_COUNT] = {"f16", "q8_0", "f32"};
    return t >= 0 && t < XLLM_KV_TYPE_COUNT ? names[t] : NULL;
}

/* argv of `xllm runner ...` into argv[] (strings in num[][]); returns the count. */
static int spawn_argv(const xllm_runner_spawn_params *p, const char **argv, char num[][32])
{
    int n = 0, k = 0;
#define ARG_INT(flag, v)                                       \
    do {                                                       \
        snprintf(num[k], sizeof num[k], "%lld", (long long)(v)); \
        argv[n++] = flag;                                      \
        argv[n++] = num[k++];                                  \
    } while (0)
    argv[n++] = p->xllm_bin;
    argv[n++] = "runner";
    argv[n++] = "--socket";
    argv[n++] = p->socket_path;
    argv[n++] = "--model";
    argv[n++] = p->model_path;
    argv[n++] = "--kv-type";
    argv[n++] = kv_type_name(p->kv_type);
    if (p->n_threads > 0)
        ARG_INT("--threads", p->n_threads);
    if (p->kv_blocks > 0)
        ARG_INT("--kv-blocks", p->kv_blocks);
    else if (p->kv_mem > 0)
        ARG_INT("--kv-mem", p->kv_mem);
    if (p->n_ctx > 0)
        ARG_INT("--ctx", p->n_ctx);
    if (p->max_running > 0)
        ARG_INT("--max-running", p->max_running);
    if (p->max_waiting > 0)
        ARG_INT("--max-queue", p->max_waiting);
    if (p->step_tokens > 0)
        ARG_INT("--step-tokens", p->step_tokens);
    if (p->device) {
        argv[n++] = "--device";
        argv[n++] = p->device;
    }
    ARG_INT("--parent-pid", getpid());
#undef ARG_INT
    argv[n] = NULL;
    return n;
}

xllm_status xllm_runner_spawn(const xllm_runner_spawn_params *p, xllm_runner_proc *out)
{
    const char *argv[40];
    char num[10][32];
    int log_fd = -1;
    pid_t pid;
    memset(out, 0, sizeof *out);
    if (!p || !p->xllm_bin || !p->model_path || !p->socket_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner spawn: needs the xllm binary, a model and a socket path");
    if (strlen(p->socket_path) >= sizeof out->socket_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner spawn: socket path %s is longer than %zu bytes",
                         p->socket_path, sizeof out->socket_path - 1);
    if (!kv_type_name(p->kv_type))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner spawn: unknown KV type %d", p->kv_type);
    spawn_argv(p, argv, num);
    if (p->log_path && (log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
        return xllm_fail(XLLM_ERR_IO, "runner spawn: cannot open log %s: %s", p->log_path, strerror(errno));
    pid = fork();
    if (pid < 0) {
        int e = errno;
        if (log_fd >= 0)
            close(log_fd);
        return xllm_fail(XLLM_ERR_IO, "runner spawn: fork: %s", strerror(e));
    }
    if (pid == 0) { /* child: async-signal-safe calls only */
        static const char msg[] = "xllm runner: exec failed\n";
        if (log_fd >= 0)
            dup2(log_fd, 2);
        close_range(3, ~0u, 0);
        execv(p->xllm_bin, (char *const *)argv);
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
        _exit(127);
    }
    if (log_fd >= 0)
        close(log_fd);
    out->pid = pid;
    snprintf(out->socket_path, sizeof out->socket_path, "%s", p->socket_path);
    XLLM_DEBUG("runner spawn: pid %d for %s on %s", (int)pid, p->model_path, p->socket_path);
    return XLLM_OK;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

int xllm_runner_reap(xllm_runner_proc *p, int timeout_ms)
{
    struct timespec t0;
    int status = 0;
    pid_t r;
    if (!p || p->pid <= 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && ms_since(&t0) < timeout_ms)
        usleep(5000);
    if (r == 0) {
        XLLM_WARN("runner %d did not exit within %d ms: killing it", (int)p->pid, timeout_ms);
        kill(p->pid, SIGKILL);
        while ((r = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR) {
        }
    }
    p->pid = 0;
    if (p->socket_path[0])
        unlink(p->socket_path); /* a killed runner leaves its socket behind */
    return r > 0 ? exit_code(status) : -1;
}
