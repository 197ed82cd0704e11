/* http.h - the HTTP side of `xllm serve`: a libmicrohttpd daemon (internal
 * thread pool over epoll, keep-alive, suspend/resume), the route table, and
 * what every response gets (X-Request-ID, CORS, gzip, the API's error shape),
 * plus the generation glue: a request that generates is suspended while the
 * runner works, events of the runner are queued per request and a streaming
 * response's content reader drains that queue (suspending again when it is
 * empty), so a slow client never holds a thread or the runner.
 *
 * Ownership: srv owns the daemon, the model manager and the request objects;
 * a srv_req lives from the first byte of a request until MHD reports it done
 * and its response freed. API handlers (api_*.c) run on an MHD thread, one at
 * a time per request; runner events arrive on the runner client's thread and
 * only touch the per-request queue under its mutex. Threads are bounded: MHD's
 * pool, the server's worker pool (pool.h: every generation's acquire + submit
 * and every blocking task), a small store-job pool (pull, create), the model
 * manager's reaper and one reader per runner connection; none per request. */
#ifndef XLLM_SERVER_HTTP_H
#define XLLM_SERVER_HTTP_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "server/models.h"
#include "server/params.h"

typedef struct srv srv;
typedef struct srv_req srv_req;
typedef struct srv_gen srv_gen;

typedef struct srv_cfg {
    const char *host;          /* default 127.0.0.1 */
    int port;                  /* default 32769; 0 picks a free one */
    int http_threads;          /* MHD thread pool (default 4) */
    int workers;               /* worker pool (<= 0: XLLM_SERVER_WORKERS) */
    const char *api_key;       /* bearer token or NULL (XLLM_API_KEY): a key without limits */
    const struct srv_key_cfg *keys; /* more keys, with limits (--api-key, --api-keys FILE) */
    int n_keys;
    const char *cors_origin;   /* "*" (default) or the allowed origins, comma separated */
    int no_gzip;               /* 1: never gzip responses (server.gzip false) */
    const char *allowed_hosts; /* extra Host names, comma separated (XLLM_ALLOWED_HOSTS) */
    srv_models_cfg models;
} srv_cfg;

/* Start listening (the daemon's threads serve from here on). */
xllm_status srv_new(const srv_cfg *cfg, srv **out);
int srv_port(const srv *s);
srv_models *srv_get_models(srv *s);
/* Graceful stop: stop accepting, let running generations finish for up to
 * wait_s seconds, cancel the rest, stop the daemon and every runner. */
void srv_free(srv *s, double wait_s);

/* ---- for the API handlers ---- */

/* One runner event, copied for the request's queue. */
typedef struct srv_event {
    struct srv_event *next;
    int32_t choice;            /* index of the choice (OpenAI n) */
    xllm_gen_event_type type;
    int32_t token, is_prompt;
    float logprob;
    int32_t n_top;
    xllm_top_logprob top[XLLM_MAX_TOP_LOGPROBS];
    xllm_finish finish;
    int32_t n_prompt, n_cached, n_generated;
    xllm_gen_timings t;
    const char *error;         /* FINAL: NULL or the text */
    const char *stop_string;
    size_t text_len;
    char text[];               /* piece, then error and stop_string strings */
} srv_event;

/* What an API keeps of a FINAL event. */
typedef struct srv_final {
    xllm_finish finish;
    int32_t n_prompt, n_cached, n_generated;
    xllm_gen_timings t;
} srv_final;

static inline srv_final srv_final_of(const srv_event *ev)
{
    srv_final f = {ev->finish, ev->n_prompt, ev->n_cached, ev->n_generated, ev->t};
    return f;
}

/* How an API turns events into its format. Called on MHD threads only. */
typedef struct srv_gen_ops {
    const char *stream_type;   /* Content-Type of the stream */
    /* stream: bytes sent first (may be NULL) */
    void (*begin)(srv_req *r, xllm_buf *out);
    /* one event; out != NULL when streaming, else accumulate */
    void (*event)(srv_req *r, const srv_event *ev, xllm_buf *out);
    /* stream: the closing bytes; non-stream: call srv_reply_json */
    void (*end)(srv_req *r, xllm_buf *out);
} srv_gen_ops;

/* Request accessors. */
srv *srv_req_server(srv_req *r);
const char *srv_req_path(srv_req *r);
const char *srv_req_method(srv_req *r);
const char *srv_req_id(srv_req *r);
const char *srv_req_body(srv_req *r, size_t *len);
const char *srv_req_header(srv_req *r, const char *name);
srv_api srv_req_api(srv_req *r);
double srv_req_start(srv_req *r); /* monotonic seconds at arrival */
/* Tokens a request used (its key's tokens-per-minute limit; metrics). */
void srv_req_charge_tokens(srv_req *r, int64_t prompt, int64_t generated);

/* Replies (exactly one per request). */
void srv_reply_json(srv_req *r, int status, json_t *body); /* steals body */
void srv_reply_raw(srv_req *r, int status, const char *content_type, const char *data, size_t len);
void srv_reply_err(srv_req *r, const srv_err *e);
void srv_reply_error(srv_req *r, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Parse the body as a JSON object, replying 400 (line, column) on failure. */
json_t *srv_req_json(srv_req *r);

/* The model named in g->model; replies 404 model_not_found (or 400 when no
 * model is served) and returns NULL when unknown. */
srv_model *srv_req_model(srv_req *r, const char *name);

/* Start a generation of g (taken; freed by the server) with g->n choices for
 * model md. The request is suspended until the runner accepted it (the first
 * request of a model waits for its load), then answered by ops: a stream
 * (begin, event per token, end) or, for non-streaming, one reply in end()
 * after every choice finished. api_state belongs to the API (freed with
 * state_free when the request ends). Errors of the start are replied. */
void srv_gen_start(srv_req *r, srv_model *md, srv_gen_req *g, const srv_gen_ops *ops, void *api_state,
                   void (*state_free)(void *));
void *srv_req_api_state(srv_req *r);
const srv_gen_req *srv_req_gen_req(srv_req *r);
/* Nanoseconds this request waited for its model to load (0 when loaded). */
uint64_t srv_req_load_ns(srv_req *r);
srv_model *srv_req_gen_model(srv_req *r);
const xllm_tokenizer *srv_req_tokenizer(srv_req *r); /* of the generating model (may be NULL) */

/* Run work(arg, tm) on the worker pool (it may block: embeddings, stats),
 * then finish(r, arg) on an MHD thread, which replies. With md != NULL the
 * task first acquires md (loading it when needed; while another request
 * loads it the task parks and holds no worker), tm->rc is its runner, and md
 * is released with keep_alive_s after work; a failed load is replied by the
 * task (finish is not called). A full queue replies 503. arg_free(arg) when
 * both are done (the client may have left). */
typedef struct srv_task_model {
    xllm_rclient *rc;          /* NULL without md */
    uint64_t load_ns;          /* time spent acquiring (the load, when there was one) */
} srv_task_model;
void srv_task_start(srv_req *r, srv_model *md, double keep_alive_s, void (*work)(void *, const srv_task_model *),
                    void (*finish)(srv_req *, void *), void *arg, void (*arg_free)(void *));

/* Route handlers (api_*.c). */
typedef void (*srv_handler)(srv_req *r);
void srv_openai_chat(srv_req *r);
void srv_openai_completions(srv_req *r);
void srv_openai_embeddings(srv_req *r);
void srv_openai_models(srv_req *r);
void srv_openai_model(srv_req *r);
void srv_openai_responses(srv_req *r);
void srv_ollama_generate(srv_req *r);
void srv_ollama_chat(srv_req *r);
void srv_ollama_embed(srv_req *r);
void srv_ollama_embeddings(srv_req *r);
void srv_ollama_tags(srv_req *r);
void srv_ollama_show(srv_req *r);
void srv_ollama_ps(srv_req *r);
void srv_ollama_version(srv_req *r);
void srv_ollama_root(srv_req *r);
void srv_store_pull(srv_req *r);   /* api_store.c */
void srv_store_create(srv_req *r);
void srv_store_copy(srv_req *r);
void srv_store_delete(srv_req *r);
void srv_store_push(srv_req *r);
void srv_store_blob(srv_req *r);
/* /api/show of a store model: parameters, system, modelfile, license into o. */
void srv_store_show_fields(srv_model *md, json_t *o);
void srv_anthropic_messages(srv_req *r);
void srv_anthropic_count_tokens(srv_req *r);
void srv_xllm_health(srv_req *r);
void srv_xllm_metrics(srv_req *r);   /* api_metrics.c */
void srv_xllm_system(srv_req *r);
void srv_xllm_tokenize(srv_req *r);
void srv_xllm_detokenize(srv_req *r);
void srv_xllm_apply_template(srv_req *r);
void srv_xllm_openapi(srv_req *r);

/* Shared by the APIs (api_common.c): the chat prompt of messages (the plain
 * [{role, content}] list of srv_decode_messages) with the model's template;
 * *prompt heap (xllm_free); *add_special 0 when the template wrote BOS. */
int srv_render_chat(srv_model *md, json_t *messages, int add_generation_prompt, char **prompt, size_t *len,
                    int32_t *add_special, srv_err *e);
/* The same with the request's tools passed to the template as `tools` (NULL: none). */
int srv_render_chat_tools(srv_model *md, json_t *messages, json_t *tools, int add_generation_prompt, char **prompt,
                          size_t *len, int32_t *add_special, srv_err *e);
/* Token count of text with md's vocabulary (add_special as given); -1 + e. */
int srv_count_tokens(srv_model *md, const char *text, size_t len, int add_special, int32_t *n, srv_err *e);
/* Token text as UTF-8 (invalid bytes become U+FFFD) into a new JSON string. */
json_t *srv_token_json(const xllm_tokenizer *tok, int32_t id);
/* "chatcmpl-..." style id: prefix + 24 random hex chars into buf[64]. */
void srv_make_id(const char *prefix, char buf[64]);
/* Unix seconds now (whole, and with the fraction). */
int64_t srv_unix_now(void);
double srv_wall_now(void);
/* RFC 3339 time (Ollama's "2024-01-01T00:00:00.000000Z" shape) into buf[40]. */
void srv_rfc3339(double unix_s, char buf[40]);
/* Append "data: <json>\n\n" (SSE) / "<json>\n" (NDJSON), steals j. */
void srv_sse(xllm_buf *out, const char *event, json_t *j);
void srv_ndjson(xllm_buf *out, json_t *j);

#endif
