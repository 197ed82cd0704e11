/* runner.c - the runner process's loop: one model instance behind a Unix
 * socket, many clients, one thread (poll, apply frames, step, write). */
#include "runtime/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/sysinfo.h"
#include "runtime/runner_proto.h"

/* Bytes read from one client per loop turn (others get their turn). */
#define READ_CHUNK (256u << 10)
/* After shutdown: how long final events may take to drain to the clients. */
#define DRAIN_MS 2000

typedef struct rclient {
    int fd;        /* -1: free slot */
    uint32_t gen;  /* bumped on every reuse of the slot */
    int closing;   /* stop reading; close once out is sent */
    int dead;      /* drop at the next turn (overflow, write error) */
    xllm_buf in;
    xllm_buf out;
    size_t out_off; /* bytes of out already sent */
} rclient;

typedef struct runner runner;

typedef struct rreq {
    runner *r;
    uint64_t id;   /* 0: free */
    int client;    /* -1: its client is gone (events dropped) */
    uint32_t gen;
    int next_free;
    char trace[XLLM_RUNNER_MAX_TRACE_ID + 1];
} rreq;

struct runner {
    xllm_instance *in;
    xllm_runner_info info;
    int lfd;
    const char *socket_path;
    int32_t parent_pid;
    size_t max_out;
    rclient cl[XLLM_RUNNER_MAX_CLIENTS];
    struct pollfd pfd[XLLM_RUNNER_MAX_CLIENTS + 1];
    int pfd_client[XLLM_RUNNER_MAX_CLIENTS + 1];
    rreq *req;
    int n_req, free_req;
    int shutdown;
};

static volatile sig_atomic_t g_stop, g_wake;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_wake(int sig)
{
    (void)sig;
    g_wake = 1;
}

/* ---- request slots ---- */

static rreq *req_alloc(runner *r, int client, const char *trace)
{
    rreq *q;
    if (r->free_req < 0)
        return NULL;
    q = &r->req[r->free_req];
    r->free_req = q->next_free;
    q->client = client;
    q->gen = r->cl[client].gen;
    q->id = 0;
    snprintf(q->trace, sizeof q->trace, "%s", trace && trace[0] ? trace : "-");
    return q;
}

static void req_release(runner *r, rreq *q)
{
    q->id = 0;
    q->client = -1;
    q->next_free = r->free_req;
    r->free_req = (int)(q - r->req);
}

static const char *kv_name(int32_t t)
{
    static const char *const names[XLLM_KV_TYPE_COUNT] = {"f16", "q8_0", "f32"};
    return t >= 0 && t < XLLM_KV_TYPE_COUNT ? names[t] : "?";
}

/* ---- clients ---- */

static void client_drop(runner *r, int ci, const char *why)
{
    rclient *c = &r->cl[ci];
    int n = 0;
    if (c->fd < 0)
        return;
    for (int i = 0; i < r->n_req; i++) {
        rreq *q = &r->req[i];
        if (q->id && q->client == ci && q->gen == c->gen) {
            if (r->in->sched)
                xllm_sched_cancel(r->in->sched, q->id);
            q->client = -1; /* its final event is dropped; the slot is freed then */
            n++;
        }
    }
    XLLM_INFO("runner: client %d dropped (%s); %d request(s) cancelled", ci, why, n);
    close(c->fd);
    c->fd = -1;
    c->gen++;
    c->closing = c->dead = 0;
    xllm_buf_free(&c->in);
    xllm_buf_free(&c->out);
    c->out_off = 0;
}

/* A frame could not be queued for the client (its unsent output is over the
 * cap, or memory ran out): drop it at the end of this turn. */
static void client_check(rclient *c, xllm_status st)
{
    if (st != XLLM_OK)
        c->dead = 1;
}

static void client_accept(runner *r)
{
    int fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), ci;
    if (fd < 0)
        return;
    for (ci = 0; ci < XLLM_RUNNER_MAX_CLIENTS && r->cl[ci].fd >= 0; ci++) {
    }
    if (ci == XLLM_RUNNER_MAX_CLIENTS) {
        xllm_buf b;
        xllm_buf_init(&b, 0);
        if (xllm_rproto_put_error(&b, 0, 0, XLLM_ERR_LIMIT, "runner: too many clients") == XLLM_OK &&
            send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        }
        xllm_buf_free(&b);
        close(fd);
        XLLM_WARN("runner: refused a client: %d connected (limit)", XLLM_RUNNER_MAX_CLIENTS);
        return;
    }
    rclient *c = &r->cl[ci];
    c->fd = fd;
    xllm_buf_init(&c->in, XLLM_RPROTO_HEADER_SIZE + XLLM_RUNNER_MAX_FRAME + READ_CHUNK);
    xllm_buf_init(&c->out, r->max_out);
    c->out_off = 0;
    client_check(c, xllm_rproto_put_hello(&c->out, &r->info));
    XLLM_INFO("runner: client %d connected", ci);
}

/* Write what the socket takes now. */
static void client_flush(runner *r, int ci)
{
    rclient *c = &r->cl[ci];
    while (c->fd >= 0 && c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            c->dead = 1;
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
    } else if (c->out_off > c->out.len / 2) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
}

/* ---- events from the scheduler ---- */

static void log_final(const rreq *q, const xllm_gen_event *ev)
{
    XLLM_INFO("runner: request %llu [%s] %s%s%s: prompt %d (cached %d), generated %d, preempted %d, "
              "queue %.1f ms, prefill %.1f ms, decode %.1f ms",
              (unsigned long long)ev->request_id, q->trace, xllm_finish_str(ev->finish), ev->error ? ": " : "",
              ev->error ? ev->error : "", ev->n_prompt, ev->n_cached, ev->n_generated, ev->n_preempted,
              (double)ev->t.queue_ns / 1e6, (double)ev->t.prefill_ns / 1e6, (double)ev->t.decode_ns / 1e6);
}

static void on_gen_event(void *user, const xllm_gen_event *ev)
{
    rreq *q = user;
    runner *r = q->r;
    if (q->client >= 0) {
        rclient *c = &r->cl[q->client];
        if (c->fd >= 0 && c->gen == q->gen && !c->dead)
            client_check(c, xllm_rproto_put_event(&c->out, ev));
    }
    if (ev->type == XLLM_EVENT_FINAL) {
        log_final(q, ev);
        req_release(r, q);
    }
}

/* ---- frames from clients ---- */

static void handle_submit(runner *r, int ci, const uint8_t *p, size_t len)
{
    rclient *c = &r->cl[ci];
    xllm_rproto_submit s;
    xllm_status st;
    int32_t *ids = NULL;
    size_t n = 0;
    rreq *q = NULL;
    uint64_t id = 0;
    if ((st = xllm_rproto_get_submit(p, len, &s)) != XLLM_OK)
        goto reply;
    if (r->shutdown) {
        st = xllm_fail(XLLM_ERR_CANCELLED, "runner: shutting down");
        goto reply;
    }
    if (!r->in->sched) {
        st = xllm_fail(XLLM_ERR_UNSUPPORTED, "runner: %s is an embedding model; it serves embed requests only",
                       r->info.model_path);
        goto reply;
    }
    if (s.req.prompt_text) {
        st = xllm_tokenize(r->in->tok, s.req.prompt_text, s.req.prompt_len, s.req.add_special, s.req.parse_special,
                           &ids, &n);
        if (st != XLLM_OK)
            goto reply;
    }
    if (!(q = req_alloc(r, ci, s.req.trace_id))) {
        st = xllm_fail(XLLM_ERR_LIMIT, "runner: %d requests in flight (limit)", r->n_req);
        goto reply;
    }
    st = xllm_sched_submit(r->in->sched, ids ? ids : s.req.prompt_tokens, ids ? (int32_t)n : s.req.n_prompt_tokens,
                           &s.req.params, on_gen_event, q, &id);
    if (st == XLLM_OK) {
        q->id = id;
        XLLM_INFO("runner: request %llu [%s] from client %d: %d prompt tokens, max_tokens %d",
                  (unsigned long long)id, q->trace, ci, ids ? (int)n : s.req.n_prompt_tokens, s.req.params.max_tokens);
    } else {
        req_release(r, q);
    }
reply:
    if (st != XLLM_OK)
        XLLM_INFO("runner: submit [%s] from client %d refused: %s", s.trace_id ? s.trace_id : "-", ci,
                  xllm_last_error());
    client_check(c, xllm_rproto_put_submit_reply(&c->out, s.tag, id, st, st == XLLM_OK ? NULL : xllm_last_error()));
    xllm_free(ids);
    xllm_rproto_submit_free(&s);
}

static void handle_cancel(runner *r, int ci, const uint8_t *p, size_t len)
{
    rclient *c = &r->cl[ci];
    uint64_t id;
    xllm_status st = xllm_rproto_get_cancel(p, len, &id);
    if (st != XLLM_OK) {
        client_check(c, xllm_rproto_put_error(&c->out, 0, 0, st, xllm_last_error()));
        return;
    }
    /* only the client's own requests; unknown or finished ids are ignored
     * (the final event may be on its way) */
    for (int i = 0; i < r->n_req; i++)
        if (r->req[i].id == id && r->req[i].client == ci && r->req[i].gen == c->gen && r->in->sched)
            xllm_sched_cancel(r->in->sched, id);
}

static void handle_stats(runner *r, int ci, const uint8_t *p, size_t len)
{
    rclient *c = &r->cl[ci];
    xllm_sched_stats s;
    uint64_t tag = 0;
    memset(&s, 0, sizeof s);
    xllm_rproto_get_tag(p, len, &tag);
    if (r->in->sched)
        xllm_sched_stats_get(r->in->sched, &s);
    else
        s.blocks_total = r->info.n_blocks;
    client_check(c, xllm_rproto_put_stats(&c->out, tag, &s));
}

/* Token ids of embed input i (tokenized, or as given), cut to max when truncating. */
static xllm_status embed_tokens(runner *r, const xllm_rproto_embed *e, int32_t i, int32_t max, int32_t **ids,
                                int32_t *n)
{
    size_t cnt = 0;
    xllm_status st;
    *ids = NULL;
    if (e->texts[i]) {
        if ((st = xllm_tokenize(r->in->tok, e->texts[i], strlen(e->texts[i]), 1, 0, ids, &cnt)) != XLLM_OK)
            return st;
    } else {
        cnt = (size_t)e->n_tokens[i];
        if (!(*ids = xllm_malloc(sizeof(int32_t) * (cnt ? cnt : 1))))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "embed tokens");
        memcpy(*ids, e->tokens[i], sizeof(int32_t) * cnt);
    }
    for (size_t k = 0; k < cnt; k++)
        if ((*ids)[k] < 0 || (*ids)[k] >= r->info.n_vocab)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "embed input %d: token %d is outside the vocabulary (0..%d)",
                             i, (*ids)[k], r->info.n_vocab - 1);
    if (cnt == 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "embed input %d has no tokens", i);
    if (cnt > (size_t)max && !e->truncate)
        return xllm_fail(XLLM_ERR_LIMIT, "embed input %d has %zu tokens; the model takes at most %d (truncate to cut)",
                         i, cnt, max);
    *n = cnt > (size_t)max ? max : (int32_t)cnt;
    return XLLM_OK;
}

/* Forward calls over whole sequences, as many as fit in one call. */
static xllm_status embed_run(runner *r, int32_t **ids, const int32_t *n, int32_t count, int32_t max_tok,
                             float *out)
{
    const xllm_engine_api *api = r->in->engine->api;
    int32_t dim = r->info.n_embd, *tok = NULL, *pos = NULL, *seq = NULL;
    xllm_status st = XLLM_OK;
    tok = xllm_malloc(sizeof(int32_t) * (size_t)max_tok);
    pos = xllm_malloc(sizeof(int32_t) * (size_t)max_tok);
    seq = xllm_malloc(sizeof(int32_t) * (size_t)max_tok);
    if (!tok || !pos || !seq)
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "embed batch");
    for (int32_t first = 0; st == XLLM_OK && first < count;) {
        int32_t used = 0, ns = 0;
        while (first + ns < count && used + n[first + ns] <= max_tok) {
            for (int32_t k = 0; k < n[first + ns]; k++) {
                tok[used + k] = ids[first + ns][k];
                pos[used + k] = k;
                seq[used + k] = ns;
            }
            used += n[first + ns++];
        }
        xllm_batch b;
        memset(&b, 0, sizeof b);
        b.struct_size = sizeof b;
        b.n_tokens = used;
        b.tokens = tok;
        b.positions = pos;
        b.seq = seq;
        b.n_seqs = ns;
        b.embeddings = out + (size_t)first * (size_t)dim;
        int rc = api->forward(r->in->ctx, &b);
        if (rc != XLLM_ENGINE_OK)
            st = xllm_fail(xllm_engine_status_to(rc), "embed: %s", api->last_error(r->in->ctx));
        first += ns;
    }
    xllm_free(tok);
    xllm_free(pos);
    xllm_free(seq);
    return st;
}

static void handle_embed(runner *r, int ci, const uint8_t *p, size_t len)
{
    rclient *c = &r->cl[ci];
    xllm_rproto_embed e;
    int32_t **ids = NULL, *n = NULL, max = r->info.n_ctx < r->in->max_batch_tokens ? r->info.n_ctx
                                                                                   : r->in->max_batch_tokens;
    float *out = NULL;
    xllm_status st;
    if ((st = xllm_rproto_get_embed_req(p, len, &e)) != XLLM_OK)
        goto reply;
    if (!r->info.is_encoder) {
        st = xllm_fail(XLLM_ERR_UNSUPPORTED, "runner: %s is not an embedding model", r->info.model_path);
        goto reply;
    }
    if (r->in->info.pooling == 0) {
        st = xllm_fail(XLLM_ERR_UNSUPPORTED, "runner: %s has no pooling (per-token embeddings are not served)",
                       r->info.model_path);
        goto reply;
    }
    ids = xllm_calloc((size_t)e.n, sizeof(int32_t *));
    n = xllm_calloc((size_t)e.n, sizeof(int32_t));
    out = xllm_malloc(sizeof(float) * (size_t)e.n * (size_t)r->info.n_embd);
    if (!ids || !n || !out) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "embed of %d inputs", e.n);
        goto reply;
    }
    for (int32_t i = 0; st == XLLM_OK && i < e.n; i++)
        st = embed_tokens(r, &e, i, max, &ids[i], &n[i]);
    if (st == XLLM_OK)
        st = embed_run(r, ids, n, e.n, max, out);
reply:
    if (st == XLLM_OK)
        client_check(c, xllm_rproto_put_embed_reply(&c->out, e.tag, e.n, r->info.n_embd, n, out));
    else
        client_check(c, xllm_rproto_put_error(&c->out, 1, e.tag, st, xllm_last_error()));
    for (int32_t i = 0; ids && i < e.n; i++)
        xllm_free(ids[i]);
    xllm_free(ids);
    xllm_free(n);
    xllm_free(out);
    xllm_rproto_embed_free(&e);
}

static void handle_frame(runner *r, int ci, const xllm_rframe_header *h, const uint8_t *p)
{
    rclient *c = &r->cl[ci];
    uint64_t tag = 0;
    int has_tag;
    switch (h->type) {
    case XLLM_RF_SUBMIT:
        handle_submit(r, ci, p, h->len);
        break;
    case XLLM_RF_CANCEL:
        handle_cancel(r, ci, p, h->len);
        break;
    case XLLM_RF_STATS:
        handle_stats(r, ci, p, h->len);
        break;
    case XLLM_RF_EMBED:
        handle_embed(r, ci, p, h->len);
        break;
    case XLLM_RF_SHUTDOWN:
        XLLM_INFO("runner: shutdown asked by client %d", ci);
        r->shutdown = 1;
        break;
    default: /* a well-framed frame we do not take: say so, skip it */
        has_tag = h->type != XLLM_RF_TOKEN && h->type != XLLM_RF_EMBED_REPLY && xllm_rproto_get_tag(p, h->len, &tag);
        client_check(c, xllm_rproto_put_error(&c->out, has_tag, tag, XLLM_ERR_UNSUPPORTED,
                                              h->type < XLLM_RF_COUNT ? "runner: this frame type goes the other way"
                                                                      : "runner: unknown frame type"));
        XLLM_WARN("runner: client %d sent a %s frame (type %u); skipped", ci, xllm_rframe_name(h->type), h->type);
        break;
    }
}

/* Read what is there, then apply every whole frame. A bad header gets an
 * ERROR frame and the connection is closed after it is sent. */
static void client_read(runner *r, int ci)
{
    rclient *c = &r->cl[ci];
    size_t off = 0, got = 0;
    while (got < READ_CHUNK) {
        if (xllm_buf_reserve(&c->in, 65536) != XLLM_OK)
            break;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            client_drop(r, ci, n == 0 ? "disconnected" : strerror(errno));
            return;
        }
        c->in.len += (size_t)n;
        got += (size_t)n;
    }
    while (c->fd >= 0 && !c->closing && !c->dead) {
        xllm_rframe_header h;
        size_t total;
        xllm_status st = xllm_rproto_peek((const uint8_t *)c->in.data + off, c->in.len - off, &h, &total);
        if (st != XLLM_OK) {
            XLLM_WARN("runner: client %d: %s; closing it", ci, xllm_last_error());
            client_check(c, xllm_rproto_put_error(&c->out, 0, 0, st, xllm_last_error()));
            c->closing = 1;
            break;
        }
        if (!total)
            break;
        handle_frame(r, ci, &h, (const uint8_t *)c->in.data + off + XLLM_RPROTO_HEADER_SIZE);
        off += total;
    }
    if (c->fd >= 0) {
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
    }
}

/* ---- the loop ---- */

static int parent_gone(const runner *r) { return r->parent_pid > 0 && getppid() != r->parent_pid; }

static int poll_once(runner *r, int timeout_ms)
{
    int n = 0;
    if (!r->shutdown) {
        r->pfd[n] = (struct pollfd){r->lfd, POLLIN, 0};
        r->pfd_client[n++] = -1;
    }
    for (int i = 0; i < XLLM_RUNNER_MAX_CLIENTS; i++) {
        rclient *c = &r->cl[i];
        if (c->fd < 0)
            continue;
        r->pfd[n] = (struct pollfd){c->fd, (short)((c->closing ? 0 : POLLIN) | (c->out_off < c->out.len ? POLLOUT : 0)),
                                    0};
        r->pfd_client[n++] = i;
    }
    if (poll(r->pfd, (nfds_t)n, timeout_ms) < 0)
        return errno == EINTR ? 0 : -1;
    for (int k = 0; k < n; k++) {
        int ci = r->pfd_client[k];
        if (ci < 0) {
            if (r->pfd[k].revents & POLLIN)
                client_accept(r);
            continue;
        }
        if (r->cl[ci].fd < 0)
            continue;
        if (r->pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (r->cl[ci].closing)
                client_drop(r, ci, "hung up");
            else
                client_read(r, ci);
        }
    }
    return 0;
}

/* Write, and drop the clients that fell too far behind or finished closing. */
static void flush_all(runner *r)
{
    for (int i = 0; i < XLLM_RUNNER_MAX_CLIENTS; i++) {
        rclient *c = &r->cl[i];
        if (c->fd < 0)
            continue;
        if (!c->dead)
            client_flush(r, i);
        if (c->dead)
            client_drop(r, i, "output overflow or write error");
        else if (c->closing && c->out_off == c->out.len)
            client_drop(r, i, "malformed stream");
    }
}

static void cancel_all(runner *r)
{
    for (int i = 0; i < r->n_req && r->in->sched; i++)
        if (r->req[i].id)
            xllm_sched_cancel(r->in->sched, r->req[i].id);
}

static int any_output(const runner *r)
{
    for (int i = 0; i < XLLM_RUNNER_MAX_CLIENTS; i++)
        if (r->cl[i].fd >= 0 && !r->cl[i].dead && r->cl[i].out_off < r->cl[i].out.len)
            return 1;
    return 0;
}

static void serve_loop(runner *r)
{
    double drain_until = 0;
    for (;;) {
        int busy = r->in->sched && !xllm_sched_idle(r->in->sched);
        if (!r->shutdown && (g_stop || parent_gone(r))) {
            XLLM_INFO("runner: %s: cancelling %s", g_stop ? "signal" : "parent process gone", "all requests");
            r->shutdown = 1;
        }
        if (r->shutdown && drain_until == 0) {
            cancel_all(r);
            drain_until = xllm_now() + DRAIN_MS / 1000.0;
        }
        if (r->shutdown && ((!busy && !any_output(r)) || xllm_now() > drain_until))
            break;
        g_wake = 0;
        if (poll_once(r, busy ? 0 : 100) < 0) {
            XLLM_ERROR("runner: poll: %s", strerror(errno));
            break;
        }
        if (r->in->sched && !xllm_sched_idle(r->in->sched)) {
            xllm_status st = xllm_sched_step(r->in->sched);
            if (st != XLLM_OK)
                XLLM_ERROR("runner: step failed (its requests got an error): %s", xllm_last_error());
        }
        flush_all(r);
    }
}

/* ---- set-up ---- */

static xllm_status listen_on(runner *r, const char *path)
{
    struct sockaddr_un sa;
    struct stat sb;
    mode_t old;
    if (strlen(path) >= sizeof sa.sun_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner: socket path %s is longer than %zu bytes", path,
                         sizeof sa.sun_path - 1);
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner: %s exists and is not a socket", path);
        unlink(path); /* a stale socket of an earlier runner */
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    if ((r->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return xllm_fail(XLLM_ERR_IO, "runner: socket: %s", strerror(errno));
    old = umask(077); /* only this user may connect */
    int rc = bind(r->lfd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(r->lfd, 64) != 0)
        return xllm_fail(XLLM_ERR_IO, "runner: cannot listen on %s: %s", path, strerror(errno));
    r->socket_path = path;
    return XLLM_OK;
}

static void fill_info(runner *r, const xllm_runner_params *p)
{
    xllm_runner_info *f = &r->info;
    const xllm_instance *in = r->in;
    memset(f, 0, sizeof *f);
    f->protocol = XLLM_RUNNER_PROTOCOL;
    snprintf(f->engine, sizeof f->engine, "%s", in->engine->api->name);
    snprintf(f->model_path, sizeof f->model_path, "%s", p->inst.model_path);
    snprintf(f->arch, sizeof f->arch, "%s", in->info.arch);
    f->n_vocab = in->info.n_vocab;
    f->n_embd = in->info.n_embd;
    f->n_layer = in->info.n_layer;
    f->n_ctx_train = in->info.n_ctx_train;
    f->n_ctx = in->sched ? xllm_sched_n_ctx(in->sched) : in->n_ctx;
    f->is_encoder = in->info.is_encoder;
    f->kv_type = in->info.kv_type;
    f->kv_types = in->info.kv_types;
    f->n_blocks = in->n_blocks;
    f->max_running = p->inst.sched.max_running;
    f->max_waiting = p->inst.sched.max_waiting;
    f->weight_bytes = in->mem.weight_bytes;
    f->kv_bytes = in->mem.kv_bytes;
    f->scratch_bytes = in->mem.scratch_bytes;
    f->load_ns = (uint64_t)(in->load_s * 1e9);
    f->pid = (int32_t)getpid();
}

static void signals_setup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop; /* no SA_RESTART: poll returns at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_wake; /* parent death: the loop checks getppid() */
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void runner_free(runner *r)
{
    for (int i = 0; i < XLLM_RUNNER_MAX_CLIENTS; i++)
        if (r->cl[i].fd >= 0) {
            client_flush(r, i);
            client_drop(r, i, "runner exiting");
        }
    if (r->lfd >= 0) {
        close(r->lfd);
        if (r->socket_path)
            unlink(r->socket_path);
    }
    xllm_instance_close(r->in);
    xllm_free(r->req);
}

xllm_status xllm_runner_serve(const xllm_runner_params *p)
{
    runner r;
    xllm_status st;
    memset(&r, 0, sizeof r);
    r.lfd = -1;
    for (int i = 0; i < XLLM_RUNNER_MAX_CLIENTS; i++)
        r.cl[i].fd = -1;
    g_stop = 0;
    signals_setup();
    /* the parent thread's death sends SIGHUP; a parent that died before this
     * line is caught by the getppid check */
    prctl(PR_SET_PDEATHSIG, SIGHUP);
    r.parent_pid = p->parent_pid > 0 ? p->parent_pid : (int32_t)getppid();
    r.max_out = p->max_client_out > 0 ? (size_t)p->max_client_out : XLLM_RUNNER_MAX_CLIENT_OUT;
    if (parent_gone(&r))
        return xllm_fail(XLLM_ERR_CANCELLED, "runner: parent process %d is gone", p->parent_pid);
    if (p->device && strcmp(p->device, "cpu") && strcmp(p->device, "auto"))
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "runner: device %s: only the CPU engine is built in (no engine plugin "
                         "for it was found)", p->device);
    if ((st = xllm_instance_open(&p->inst, &r.in)) != XLLM_OK)
        goto out;
    r.n_req = p->inst.sched.max_running + p->inst.sched.max_waiting + 64;
    if (!(r.req = xllm_calloc((size_t)r.n_req, sizeof(rreq)))) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner: %d request slots", r.n_req);
        goto out;
    }
    for (int i = 0; i < r.n_req; i++) {
        r.req[i].r = &r;
        r.req[i].client = -1;
        r.req[i].next_free = i + 1 < r.n_req ? i + 1 : -1;
    }
    r.free_req = 0;
    fill_info(&r, p);
    if ((st = listen_on(&r, p->socket_path)) != XLLM_OK)
        goto out;
    XLLM_INFO("runner: pid %d serving %s (%s, %d KV blocks of %s, context %d) on %s", (int)getpid(),
              p->inst.model_path, r.info.arch, r.info.n_blocks, kv_name(r.info.kv_type), r.info.n_ctx,
              p->socket_path);
    serve_loop(&r);
    st = XLLM_OK;
out:
    runner_free(&r);
    return st;
}
