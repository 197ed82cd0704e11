/* gen.c - a generating request between MHD and the runner: acquire the model
 * on the server's worker pool (loading it there when needed, parked while
 * another request loads it), submit every choice, queue the runner's events
 * per request, stream them through a content reader that suspends on an
 * empty queue, cancel at once when the client goes away. Also the pool's
 * blocking tasks (embeddings, runner stats). */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/sysinfo.h"
#include "server/http_internal.h"

typedef enum gen_phase { GEN_STARTING, GEN_STARTED, GEN_FAILED } gen_phase;

typedef struct gen_choice {
    srv_gen *g;
    int32_t idx;
    uint64_t id;      /* runner request id once submitted */
    int submitted, final;
    double t_last;    /* monotonic time of its last generated token (0: none yet) */
} gen_choice;

struct srv_gen {
    srv *s;
    srv_gen *next_live, *prev_live;
    pthread_mutex_t mu;
    int refs;                       /* request + worker + each unfinished choice */
    struct MHD_Connection *conn;    /* NULL once the request is over */
    int suspended;
    gen_phase phase;
    srv_err err;
    int pending;                    /* choices without their FINAL event */
    srv_event *head, *tail;
    srv_model *md;
    xllm_rclient *rc;
    int acquired;
    srv_gen_req req;
    char trace[64];
    gen_choice *ch;
    uint64_t load_ns;
    double t_arrival;               /* the HTTP request's arrival (TTFT) */
    srv_job job;                    /* acquire + submit on the worker pool */
    srv_model_waiter wait;          /* parked there while the model loads */
    int key;                        /* API key index (rate limits) or -1 */
    int wait_counted;               /* parked once already (metrics) */
    int64_t n_prompt, n_gen;        /* over the choices' FINAL events */
};

#define GEN_OF(p, field) ((srv_gen *)(void *)((char *)(p) - offsetof(srv_gen, field)))

static void gen_free(srv_gen *g)
{
    srv *s = g->s;
    srv_event *e = g->head;
    while (e) {
        srv_event *n = e->next;
        xllm_free(e);
        e = n;
    }
    pthread_mutex_lock(&s->gen_mu);
    if (g->prev_live)
        g->prev_live->next_live = g->next_live;
    else
        s->gens = g->next_live;
    if (g->next_live)
        g->next_live->prev_live = g->prev_live;
    s->n_gens--;
    pthread_cond_broadcast(&s->gen_cv);
    pthread_mutex_unlock(&s->gen_mu);
    srv_gen_req_free(&g->req);
    xllm_free(g->ch);
    pthread_mutex_destroy(&g->mu);
    xllm_free(g);
}

static void gen_unref(srv_gen *g)
{
    int last;
    pthread_mutex_lock(&g->mu);
    last = --g->refs == 0;
    pthread_mutex_unlock(&g->mu);
    if (last)
        gen_free(g);
}

/* Resume the connection when it waits for what just happened (mu held). */
static void wake_locked(srv_gen *g)
{
    if (!g->suspended || !g->conn || g->phase == GEN_STARTING)
        return;
    if (g->phase == GEN_STARTED && !g->req.stream && g->pending > 0)
        return;
    g->suspended = 0;
    MHD_resume_connection(g->conn);
}

static srv_event *event_copy(const gen_choice *ch, const xllm_gen_event *ev)
{
    size_t el = ev->error ? strlen(ev->error) : 0, sl = ev->stop_string ? strlen(ev->stop_string) : 0;
    size_t tl = ev->type == XLLM_EVENT_TOKEN ? ev->text_len : 0;
    srv_event *e = xllm_malloc(sizeof *e + tl + el + sl + 3);
    char *p;
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->choice = ch->idx;
    e->type = ev->type;
    e->token = ev->token;
    e->is_prompt = ev->is_prompt;
    e->logprob = ev->logprob;
    e->n_top = ev->n_top < 0 ? 0 : ev->n_top > XLLM_MAX_TOP_LOGPROBS ? XLLM_MAX_TOP_LOGPROBS : ev->n_top;
    if (e->n_top && ev->top)
        memcpy(e->top, ev->top, e->n_top * sizeof e->top[0]);
    else
        e->n_top = 0;
    e->finish = ev->finish;
    e->n_prompt = ev->n_prompt;
    e->n_cached = ev->n_cached;
    e->n_generated = ev->n_generated;
    e->t = ev->t;
    p = e->text;
    if (tl)
        memcpy(p, ev->text, tl);
    p[tl] = '\0';
    e->text_len = tl;
    p += tl + 1;
    if (ev->error) {
        memcpy(p, ev->error, el + 1);
        e->error = p;
        p += el + 1;
    }
    if (ev->stop_string) {
        memcpy(p, ev->stop_string, sl + 1);
        e->stop_string = p;
    }
    return e;
}

/* Runner client thread: one event of one choice. */
static void on_event(void *user, const xllm_gen_event *ev)
{
    gen_choice *ch = user;
    srv_gen *g = ch->g;
    srv_event *e = NULL;
    int final = ev->type == XLLM_EVENT_FINAL, last = 0;
    if (ev->type == XLLM_EVENT_TOKEN && !ev->is_prompt) {
        double now = xllm_now();
        if (ch->t_last > 0)
            srv_metrics_observe(&g->s->metrics.itl, now - ch->t_last);
        else
            srv_metrics_observe(&g->s->metrics.ttft, now - g->t_arrival);
        ch->t_last = now;
    }
    pthread_mutex_lock(&g->mu);
    if (g->conn)
        e = event_copy(ch, ev);
    if (e) {
        if (g->tail)
            g->tail->next = e;
        else
            g->head = e;
        g->tail = e;
    }
    if (final && !ch->final) {
        ch->final = 1;
        g->pending--;
        last = g->pending == 0;
        if (ev->n_prompt > g->n_prompt)
            g->n_prompt = ev->n_prompt; /* the prompt counts once for n choices */
        g->n_gen += ev->n_generated;
        atomic_fetch_add(&g->s->metrics.tokens_out, (uint64_t)(ev->n_generated > 0 ? ev->n_generated : 0));
        atomic_fetch_add(&g->s->metrics.tokens_cached, (uint64_t)(ev->n_cached > 0 ? ev->n_cached : 0));
    }
    wake_locked(g);
    pthread_mutex_unlock(&g->mu);
    if (final) {
        if (last) {
            atomic_fetch_add(&g->s->metrics.tokens_in, (uint64_t)g->n_prompt);
            if (g->key >= 0)
                srv_keys_charge(g->s->keys, g->key, g->n_prompt + g->n_gen, xllm_now());
            if (g->acquired)
                srv_model_release(g->md, g->req.keep_alive_s);
        }
        gen_unref(g);
    }
}

static int status_of(xllm_status st, const char *msg, char code[48])
{
    code[0] = '\0';
    switch (st) {
    case XLLM_ERR_LIMIT:
        if (strstr(msg, "context") || strstr(msg, "prompt")) {
            snprintf(code, 48, "context_length_exceeded");
            return 400;
        }
        snprintf(code, 48, "queue_full");
        return 503;
    case XLLM_ERR_INVALID_ARGUMENT:
        return 400;
    case XLLM_ERR_CANCELLED:
        return 503;
    default:
        return 500;
    }
}

/* Submit every choice (any thread). Sets phase; never touches MHD. */
static void submit_all(srv_gen *g)
{
    int n_ok = 0, gone;
    xllm_status st = XLLM_OK;
    pthread_mutex_lock(&g->mu);
    g->pending = g->req.n;
    pthread_mutex_unlock(&g->mu);
    for (int i = 0; i < g->req.n; i++) {
        xllm_runner_request rq;
        uint64_t id = 0;
        memset(&rq, 0, sizeof rq);
        rq.prompt_text = g->req.prompt;
        rq.prompt_len = g->req.prompt ? g->req.prompt_len : 0;
        rq.prompt_tokens = g->req.prompt ? NULL : g->req.tokens;
        rq.n_prompt_tokens = g->req.prompt ? 0 : g->req.n_tokens;
        rq.add_special = g->req.add_special;
        rq.parse_special = 1;
        rq.params = g->req.params;
        rq.grammar = g->req.grammar;
        if (rq.params.n_ctx > xllm_rclient_info(g->rc)->n_ctx)
            rq.params.n_ctx = 0; /* Ollama's num_ctx above what the runner serves: the runner's context */
        if (i > 0 && rq.params.sampling.seed != 0)
            rq.params.sampling.seed += (uint64_t)i; /* n > 1 with a seed: different, reproducible choices */
        rq.trace_id = g->trace;
        if (atomic_load(&g->s->stopping)) {
            st = xllm_fail(XLLM_ERR_CANCELLED, "the server is shutting down");
            break;
        }
        pthread_mutex_lock(&g->mu);
        g->refs++;
        pthread_mutex_unlock(&g->mu);
        st = xllm_rclient_submit(g->rc, &rq, on_event, &g->ch[i], &id);
        if (st) {
            pthread_mutex_lock(&g->mu);
            g->refs--;
            pthread_mutex_unlock(&g->mu);
            break;
        }
        pthread_mutex_lock(&g->mu);
        g->ch[i].id = id;
        g->ch[i].submitted = 1;
        gone = g->conn == NULL;
        pthread_mutex_unlock(&g->mu);
        if (gone) /* the client left during the submit: srv_gen_detach did not see this one */
            xllm_rclient_cancel(g->rc, id);
        n_ok++;
    }
    if (st) {
        char msg[640];
        int last;
        snprintf(msg, sizeof msg, "%s", xllm_last_error());
        for (int i = 0; i < n_ok; i++)
            xllm_rclient_cancel(g->rc, g->ch[i].id);
        pthread_mutex_lock(&g->mu); /* the MHD thread reads err once the phase is FAILED (shutdown sets it early) */
        g->err.status = status_of(st, msg, g->err.code);
        snprintf(g->err.param, sizeof g->err.param, "%s", "");
        snprintf(g->err.msg, sizeof g->err.msg, "%s", msg[0] ? msg : xllm_status_str(st));
        g->pending -= g->req.n - n_ok;
        last = g->pending == 0;
        g->phase = GEN_FAILED;
        pthread_mutex_unlock(&g->mu);
        if (last && g->acquired)
            srv_model_release(g->md, g->req.keep_alive_s);
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->phase = GEN_STARTED;
    pthread_mutex_unlock(&g->mu);
}

/* Pool worker: acquire the model (or park until its load ends) and submit. */
static void gen_job(srv_job *job)
{
    srv_gen *g = GEN_OF(job, job);
    int http = 500, parked = 0;
    gen_phase phase;
    int gone;
    pthread_mutex_lock(&g->mu);
    phase = g->phase;
    gone = g->conn == NULL;
    pthread_mutex_unlock(&g->mu);
    if (phase != GEN_STARTING || gone) { /* failed meanwhile (shutdown), or the client left while it waited */
        gen_unref(g);
        return;
    }
    /* once parked, gen_wake may run this job on another worker (and the
     * request may end and free g) before acquire returns here: g is not
     * touched after a park, so what the park needs is read before it */
    int first_wait = !g->wait_counted;
    srv *s = g->s;
    g->wait_counted = 1;
    if (srv_model_acquire_or_park(g->md, &g->rc, &http, &g->wait, &parked) == XLLM_OK) {
        if (parked) {
            if (first_wait)
                atomic_fetch_add(&s->metrics.load_waits, 1);
            return; /* gen_wake queues this job again; the worker goes on with other work */
        }
        g->acquired = 1;
        g->load_ns = (uint64_t)((xllm_now() - g->t_arrival) * 1e9);
        submit_all(g);
    } else {
        pthread_mutex_lock(&g->mu);
        g->err.status = http;
        snprintf(g->err.param, sizeof g->err.param, "%s", "model");
        snprintf(g->err.code, sizeof g->err.code, "%s", http == 503 ? "insufficient_memory" : "model_load_failed");
        snprintf(g->err.msg, sizeof g->err.msg, "%s", xllm_last_error());
        g->pending = 0;
        g->phase = GEN_FAILED;
        pthread_mutex_unlock(&g->mu);
    }
    pthread_mutex_lock(&g->mu);
    wake_locked(g);
    pthread_mutex_unlock(&g->mu);
    gen_unref(g);
}

/* The model's state changed while g was parked (manager's lock held). */
static void gen_wake(srv_model_waiter *w)
{
    srv_gen *g = GEN_OF(w, wait);
    srv_pool_push(g->s->pool, &g->job, 0);
}

/* ---- MHD side ---- */

static srv_event *take_events(srv_gen *g, int *pending)
{
    srv_event *e = g->head;
    g->head = g->tail = NULL;
    *pending = g->pending;
    return e;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    srv_req *r = cls;
    srv_gen *g = r->gen;
    (void)pos;
    for (;;) {
        srv_event *e;
        int pending;
        if (r->out_pos < r->out.len) {
            size_t n = r->out.len - r->out_pos;
            if (n > max)
                n = max;
            memcpy(buf, r->out.data + r->out_pos, n);
            r->out_pos += n;
            if (r->out_pos == r->out.len)
                r->out_pos = r->out.len = 0;
            return (ssize_t)n;
        }
        if (r->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&g->mu);
        e = take_events(g, &pending);
        if (!e && pending > 0 && atomic_load(&r->s->closing)) {
            pthread_mutex_unlock(&g->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR; /* shutdown: the stream is cut */
        }
        if (!e && pending > 0) {
            g->suspended = 1;
            MHD_suspend_connection(r->conn);
            pthread_mutex_unlock(&g->mu);
            return 0;
        }
        pthread_mutex_unlock(&g->mu);
        while (e) {
            srv_event *n = e->next;
            r->ops->event(r, e, &r->out);
            xllm_free(e);
            e = n;
        }
        if (pending == 0) {
            if (r->ops->end)
                r->ops->end(r, &r->out);
            r->ended = 1;
        }
    }
}

static void stream_free(void *cls)
{
    srv_req_unref(cls);
}

static void queue_stream(srv_req *r)
{
    struct MHD_Response *resp;
    if (r->ops->begin)
        r->ops->begin(r, &r->out);
    r->replied = 1;
    r->status = 200;
    srv_req_ref(r);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, XLLM_SERVER_STREAM_BLOCK, stream_reader, r, stream_free);
    if (!resp) {
        srv_req_unref(r);
        return;
    }
    MHD_add_response_header(resp, "Content-Type", r->ops->stream_type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    MHD_add_response_header(resp, "X-Request-ID", r->id);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->s->cors_origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "X-Request-ID");
    srv_add_limit_headers(r, resp);
    MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
}

void srv_gen_resume_step(srv_req *r)
{
    srv_gen *g = r->gen;
    srv_event *e;
    int pending;
    if (!g || r->replied)
        return;
    pthread_mutex_lock(&g->mu);
    if ((g->phase == GEN_STARTING || (g->phase == GEN_STARTED && !g->req.stream && g->pending > 0)) &&
        atomic_load(&r->s->closing)) {
        pthread_mutex_unlock(&g->mu);
        srv_reply_error(r, 503, "", "shutting_down", "the server is shutting down");
        return;
    }
    if (g->phase == GEN_STARTING || (g->phase == GEN_STARTED && !g->req.stream && g->pending > 0)) {
        g->suspended = 1;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&g->mu);
        return;
    }
    if (g->phase == GEN_FAILED) {
        srv_err err = g->err;
        pthread_mutex_unlock(&g->mu);
        srv_reply_err(r, &err);
        return;
    }
    if (g->req.stream) {
        pthread_mutex_unlock(&g->mu);
        queue_stream(r);
        return;
    }
    e = take_events(g, &pending);
    pthread_mutex_unlock(&g->mu);
    while (e) {
        srv_event *n = e->next;
        r->ops->event(r, e, NULL);
        xllm_free(e);
        e = n;
    }
    r->ops->end(r, NULL);
}

void srv_gen_start(srv_req *r, srv_model *md, srv_gen_req *req, const srv_gen_ops *ops, void *api_state,
                   void (*state_free)(void *))
{
    srv_gen *g = xllm_calloc(1, sizeof *g);
    srv *s = r->s;
    r->ops = ops;
    r->api_state = api_state;
    r->api_state_free = state_free;
    if (!g || !(g->ch = xllm_calloc(req->n > 0 ? req->n : 1, sizeof *g->ch))) {
        xllm_free(g);
        srv_gen_req_free(req);
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    g->s = s;
    g->req = *req;
    g->req.params.stops = (const char *const *)g->req.stops;
    g->req.params.bias_tokens = g->req.bias_tok;
    g->req.params.bias_values = g->req.bias_val;
    memset(req, 0, sizeof *req);
    for (int i = 0; i < g->req.n; i++) {
        g->ch[i].g = g;
        g->ch[i].idx = i;
    }
    snprintf(g->trace, sizeof g->trace, "%s", r->id);
    pthread_mutex_init(&g->mu, NULL);
    g->refs = 1;
    g->conn = r->conn;
    g->md = md;
    g->phase = GEN_STARTING;
    g->t_arrival = r->t_start;
    g->key = r->key;
    if (r->key >= 0 && srv_keys_priority(s->keys, r->key) == XLLM_PRIORITY_BATCH)
        g->req.params.priority = XLLM_PRIORITY_BATCH;
    g->job.run = gen_job;
    g->wait.wake = gen_wake;
    pthread_mutex_lock(&s->gen_mu);
    g->next_live = s->gens;
    if (s->gens)
        s->gens->prev_live = g;
    s->gens = g;
    s->n_gens++;
    pthread_mutex_unlock(&s->gen_mu);
    r->gen = g;
    /* Acquire (maybe load) and submit on the worker pool: a submit is a round
     * trip to the runner, which may be in the middle of a step, and an HTTP
     * thread must not wait for that. */
    pthread_mutex_lock(&g->mu);
    g->refs++;
    g->suspended = 1;
    MHD_suspend_connection(r->conn);
    if (srv_pool_push(s->pool, &g->job, 1)) {
        g->refs--;
        g->phase = GEN_FAILED;
        srv_err_set(&g->err, 503, "", "queue_full", "the server's queue is full (%d requests waiting); retry later",
                    XLLM_SERVER_MAX_QUEUE);
        wake_locked(g);
    }
    pthread_mutex_unlock(&g->mu);
}

void srv_gen_detach(srv_req *r, int client_gone)
{
    srv_gen *g = r->gen;
    uint64_t ids[XLLM_SERVER_MAX_N];
    int n = 0;
    srv_event *e;
    int pending;
    pthread_mutex_lock(&g->mu);
    g->conn = NULL;
    e = take_events(g, &pending);
    for (int i = 0; i < g->req.n; i++)
        if (g->ch[i].submitted && !g->ch[i].final)
            ids[n++] = g->ch[i].id;
    pthread_mutex_unlock(&g->mu);
    while (e) {
        srv_event *nx = e->next;
        xllm_free(e);
        e = nx;
    }
    if (n > 0) {
        if (client_gone)
            XLLM_INFO("[%s] client disconnected: cancelling %d running sequence(s)", r->id, n);
        for (int i = 0; i < n; i++)
            xllm_rclient_cancel(g->rc, ids[i]);
    }
    r->gen = NULL;
    gen_unref(g);
}

void srv_gen_cancel_all(srv *s)
{
    pthread_mutex_lock(&s->gen_mu);
    for (srv_gen *g = s->gens; g; g = g->next_live) {
        pthread_mutex_lock(&g->mu);
        for (int i = 0; i < g->req.n; i++)
            if (g->ch[i].submitted && !g->ch[i].final)
                xllm_rclient_cancel(g->rc, g->ch[i].id);
        if (g->phase == GEN_STARTING) {
            g->phase = GEN_FAILED;
            g->err.status = 503;
            snprintf(g->err.msg, sizeof g->err.msg, "the server is shutting down");
            wake_locked(g);
        }
        pthread_mutex_unlock(&g->mu);
    }
    pthread_mutex_unlock(&s->gen_mu);
}

const srv_gen_req *srv_req_gen_req(srv_req *r) { return r->gen ? &r->gen->req : NULL; }
uint64_t srv_req_load_ns(srv_req *r) { return r->gen ? r->gen->load_ns : 0; }
srv_model *srv_req_gen_model(srv_req *r) { return r->gen ? r->gen->md : NULL; }

const xllm_tokenizer *srv_req_tokenizer(srv_req *r)
{
    const xllm_tokenizer *t = NULL;
    if (!r->gen || srv_model_tokenizer(r->gen->md, &t))
        return NULL;
    return t;
}

/* ---- blocking work off the MHD threads (embeddings, stats, store jobs) ---- */

typedef struct srv_task {
    struct srv_task *next_live, *prev_live; /* s->tasks (s->gen_mu) */
    pthread_mutex_t mu;
    int refs;
    struct MHD_Connection *conn;
    int done, suspended;
    srv *s;
    srv_pool *pool;
    srv_job job;
    srv_model_waiter wait;
    srv_model *md;           /* acquired before work (NULL: none) */
    double keep_alive_s, t0;
    srv_task_model tm;
    srv_err err;             /* the acquire failed: replied instead of finish */
    int failed;
    void (*work)(void *, const srv_task_model *);
    void (*finish)(srv_req *, void *);
    void *arg;
    void (*arg_free)(void *);
    void (*gone)(void *);
} srv_task;

#define TASK_OF(p, field) ((srv_task *)(void *)((char *)(p) - offsetof(srv_task, field)))

static void task_unref(srv_task *t)
{
    int last;
    pthread_mutex_lock(&t->mu);
    last = --t->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (!last)
        return;
    pthread_mutex_lock(&t->s->gen_mu);
    if (t->prev_live)
        t->prev_live->next_live = t->next_live;
    else
        t->s->tasks = t->next_live;
    if (t->next_live)
        t->next_live->prev_live = t->prev_live;
    pthread_mutex_unlock(&t->s->gen_mu);
    if (t->arg_free)
        t->arg_free(t->arg);
    pthread_mutex_destroy(&t->mu);
    xllm_free(t);
}

static void task_done(srv_task *t)
{
    pthread_mutex_lock(&t->mu);
    t->done = 1;
    if (t->conn && t->suspended) {
        t->suspended = 0;
        MHD_resume_connection(t->conn);
    }
    pthread_mutex_unlock(&t->mu);
    task_unref(t);
}

static void task_wake(srv_model_waiter *w)
{
    srv_task *t = TASK_OF(w, wait);
    srv_pool_push(t->pool, &t->job, 0);
}

static void task_job(srv_job *job)
{
    srv_task *t = TASK_OF(job, job);
    if (t->md) {
        int http = 500, parked = 0;
        if (srv_model_acquire_or_park(t->md, &t->tm.rc, &http, &t->wait, &parked)) {
            srv_err_set(&t->err, http, "model", http == 503 ? "insufficient_memory" : "model_load_failed", "%s",
                        xllm_last_error());
            t->failed = 1;
            task_done(t);
            return;
        }
        if (parked)
            return;
        t->tm.load_ns = (uint64_t)((xllm_now() - t->t0) * 1e9);
    }
    t->work(t->arg, &t->tm);
    if (t->md)
        srv_model_release(t->md, t->keep_alive_s);
    task_done(t);
}

void srv_task_start_on(srv_req *r, srv_pool *pool, srv_model *md, double keep_alive_s,
                       void (*work)(void *, const srv_task_model *), void (*finish)(srv_req *, void *), void *arg,
                       void (*arg_free)(void *), void (*gone)(void *))
{
    srv_task *t = xllm_calloc(1, sizeof *t);
    if (!t) {
        if (arg_free)
            arg_free(arg);
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    pthread_mutex_init(&t->mu, NULL);
    t->refs = 2;
    t->conn = r->conn;
    t->s = r->s;
    t->pool = pool;
    t->job.run = task_job;
    t->wait.wake = task_wake;
    t->md = md;
    t->keep_alive_s = keep_alive_s;
    t->t0 = r->t_start;
    t->work = work;
    t->finish = finish;
    t->arg = arg;
    t->arg_free = arg_free;
    t->gone = gone;
    r->task = t;
    pthread_mutex_lock(&r->s->gen_mu);
    t->next_live = r->s->tasks;
    if (r->s->tasks)
        r->s->tasks->prev_live = t;
    r->s->tasks = t;
    pthread_mutex_unlock(&r->s->gen_mu);
    pthread_mutex_lock(&t->mu);
    t->suspended = 1;
    MHD_suspend_connection(r->conn);
    if (srv_pool_push(pool, &t->job, 1)) {
        srv_err_set(&t->err, 503, "", "queue_full", "the server's queue is full; retry later");
        t->failed = 1;
        t->refs = 1;
        t->done = 1;
        t->suspended = 0;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&t->mu);
}

void srv_task_start(srv_req *r, srv_model *md, double keep_alive_s, void (*work)(void *, const srv_task_model *),
                    void (*finish)(srv_req *, void *), void *arg, void (*arg_free)(void *))
{
    srv_task_start_on(r, r->s->pool, md, keep_alive_s, work, finish, arg, arg_free, NULL);
}

/* Access handler after a task resumed the connection. */
void srv_task_step(srv_req *r)
{
    srv_task *t = r->task;
    int done;
    if (r->replied)
        return;
    pthread_mutex_lock(&t->mu);
    done = t->done;
    if (!done && atomic_load(&r->s->closing)) {
        pthread_mutex_unlock(&t->mu);
        srv_reply_error(r, 503, "", "shutting_down", "the server is shutting down");
        return;
    }
    if (!done) {
        t->suspended = 1;
        MHD_suspend_connection(r->conn);
    }
    pthread_mutex_unlock(&t->mu);
    if (!done)
        return;
    if (t->failed)
        srv_reply_err(r, &t->err);
    else
        t->finish(r, t->arg);
}

void srv_task_detach(srv_req *r)
{
    srv_task *t = r->task;
    int running;
    pthread_mutex_lock(&t->mu);
    t->conn = NULL;
    running = !t->done;
    pthread_mutex_unlock(&t->mu);
    if (running && t->gone)
        t->gone(t->arg); /* the job holds its reference: arg is alive */
    r->task = NULL;
    task_unref(t);
}

/* ---- shutdown: no connection may stay suspended ---- */

/* Running tasks whose request is still there (gen_mu held). */
static int tasks_running_locked(srv *s)
{
    int n = 0;
    for (srv_task *t = s->tasks; t; t = t->next_live) {
        pthread_mutex_lock(&t->mu);
        n += t->conn && !t->done;
        pthread_mutex_unlock(&t->mu);
    }
    return n;
}

void srv_close_suspended(srv *s, double wait_s)
{
    double t0 = xllm_now();
    pthread_mutex_lock(&s->gen_mu);
    for (srv_task *t = s->tasks; t; t = t->next_live) {
        pthread_mutex_lock(&t->mu);
        if (t->conn && !t->done && t->gone)
            t->gone(t->arg);
        pthread_mutex_unlock(&t->mu);
    }
    while (tasks_running_locked(s) > 0 && xllm_now() - t0 < wait_s) {
        pthread_mutex_unlock(&s->gen_mu);
        usleep(20000);
        pthread_mutex_lock(&s->gen_mu);
    }
    atomic_store(&s->closing, 1);
    for (srv_task *t = s->tasks; t; t = t->next_live) {
        pthread_mutex_lock(&t->mu);
        if (t->conn && t->suspended) {
            t->suspended = 0;
            MHD_resume_connection(t->conn);
        }
        pthread_mutex_unlock(&t->mu);
    }
    for (srv_closer *c = s->closers; c; c = c->next)
        c->close(c);
    for (srv_gen *g = s->gens; g; g = g->next_live) {
        pthread_mutex_lock(&g->mu);
        if (g->conn && g->suspended) {
            g->suspended = 0;
            MHD_resume_connection(g->conn);
        }
        pthread_mutex_unlock(&g->mu);
    }
    pthread_mutex_unlock(&s->gen_mu);
}

void srv_closer_add(srv *s, srv_closer *c)
{
    pthread_mutex_lock(&s->gen_mu);
    c->prev = NULL;
    c->next = s->closers;
    if (s->closers)
        s->closers->prev = c;
    s->closers = c;
    pthread_mutex_unlock(&s->gen_mu);
}

void srv_closer_remove(srv *s, srv_closer *c)
{
    pthread_mutex_lock(&s->gen_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->closers = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->gen_mu);
}
