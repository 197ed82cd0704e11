/* http_internal.h - the server's and a request's fields, shared by http.c
 * (lifecycle), gen.c (generation glue) and api_responses.c (stored
 * conversations). Not for the API handlers: they use http.h. */
#ifndef XLLM_SERVER_HTTP_INTERNAL_H
#define XLLM_SERVER_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/limits.h"
#include "server/http.h"
#include "server/keys.h"
#include "server/metrics.h"
#include "server/pool.h"

/* A suspended connection that is neither a generation nor a task (a
 * streamed store job): shutdown calls close() (gen_mu held; it must end the
 * suspension, only taking its own lock) before MHD_stop_daemon. */
typedef struct srv_closer {
    struct srv_closer *next, *prev;
    void (*close)(struct srv_closer *c);
} srv_closer;

/* One stored Responses API turn (previous_response_id). */
typedef struct srv_stored_response {
    char id[64];
    json_t *messages; /* the conversation including the answer */
} srv_stored_response;

struct srv {
    struct MHD_Daemon *d;
    srv_models *models;
    char host[256];
    int port;
    int wildcard;
    char cors_origin[1024]; /* "*" or allowed origins, comma separated */
    int no_gzip;
    srv_keys *keys;         /* API keys (NULL: no auth) */
    char allowed_hosts[1024];
    double t_start;
    atomic_int stopping;
    srv_pool *pool;            /* workers: generations' acquire + submit, tasks */
    srv_pool *store_pool;      /* store jobs (pull, create): long, never on a worker */
    srv_metrics metrics;
    /* live generations (gen.c) */
    pthread_mutex_t gen_mu;
    pthread_cond_t gen_cv;
    int n_gens;
    srv_gen *gens; /* list through srv_gen.next_live */
    struct srv_task *tasks; /* live tasks (gen_mu), list through srv_task.next_live */
    srv_closer *closers;    /* (gen_mu) */
    atomic_int closing; /* shutdown's last pass: nothing suspends any more */
    /* Responses API store: a ring, oldest replaced */
    pthread_mutex_t resp_mu;
    srv_stored_response resp[XLLM_SERVER_MAX_RESPONSES];
    int resp_next;
};

struct srv_req {
    srv *s;
    struct MHD_Connection *conn;
    atomic_int refs;           /* MHD's request + a streaming response */
    char method[16];
    char path[1024];
    char id[64];
    char traceparent[128];
    srv_api api;
    int key;                   /* index in s->keys of the request's key, -1: none */
    srv_limit_state lim;       /* the key's limits and what is left (x-ratelimit-* headers) */
    double t_start;
    xllm_buf body;
    int too_large;
    int dispatched;
    int replied;
    int status;
    /* generation */
    srv_gen *gen;
    struct srv_task *task;     /* blocking work on a thread (embeddings) */
    const srv_gen_ops *ops;
    void *api_state;
    void (*api_state_free)(void *);
    struct srv_upload *upload; /* POST /api/blobs: the body streamed into the store (api_store.c) */
    xllm_buf out;              /* stream bytes formatted, not yet handed to MHD */
    size_t out_pos;
    int ended;                 /* stream: end() written */
};

void srv_req_ref(srv_req *r);
/* x-ratelimit-limit/remaining-requests|tokens for a key with limits (any reply). */
void srv_add_limit_headers(srv_req *r, struct MHD_Response *resp);
void srv_req_unref(srv_req *r);
json_t *srv_error_body(srv_api api, const srv_err *e);

/* gen.c */
void srv_gen_resume_step(srv_req *r);         /* access handler called again after a resume */
void srv_gen_detach(srv_req *r, int client_gone); /* request over: cancel what still runs */
void srv_gen_cancel_all(srv *s);              /* shutdown */
/* Shutdown, before MHD_stop_daemon (which aborts on a suspended connection):
 * tell running tasks their request is going (a pull stops), wait up to
 * wait_s for them, then resume every suspended connection with `closing`
 * set, so each is answered 503 or its stream ends. */
void srv_close_suspended(srv *s, double wait_s);
void srv_closer_add(srv *s, srv_closer *c);
void srv_closer_remove(srv *s, srv_closer *c);
void srv_task_step(srv_req *r);
/* srv_task_start on a given pool (store jobs use s->store_pool); gone(arg),
 * when not NULL, is called if the request ends (client gone, shutdown)
 * before the work did, so long work can stop. */
void srv_task_start_on(srv_req *r, srv_pool *pool, srv_model *md, double keep_alive_s,
                       void (*work)(void *, const srv_task_model *), void (*finish)(srv_req *, void *), void *arg,
                       void (*arg_free)(void *), void (*gone)(void *));
void srv_task_detach(srv_req *r);

/* api_store.c: a blob upload bypasses the body buffer and its limit */
int srv_upload_begin(srv_req *r);                /* 1: replied (bad digest, no store) */
void srv_upload_chunk(srv_req *r, const char *p, size_t n);
void srv_upload_free(srv_req *r);                /* aborts an uncommitted upload */

/* http.c: the route table's endpoints for metrics ("/v1/models/{id}" style names) */
int srv_route_count(void);
const char *srv_route_label(int i);

/* api_responses.c */
void srv_responses_init(srv *s);
void srv_responses_free(srv *s);

#endif
