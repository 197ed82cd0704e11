/* runner_client.h - talking to a runner process (`xllm runner`, one per
 * loaded model instance) over its Unix socket: spawn it, read its hello
 * (model info), submit generation requests and receive their events, cancel,
 * embed, ask for stats, shut it down. Used by the server and the tests.
 *
 * The wire protocol (runner_proto.h) is small, versioned and length-framed.
 * Events of a request arrive on the client's reader thread and are handed to
 * the request's callback there (xllm_gen_event from sched.h; its pointers are
 * valid during the callback only). When the connection drops (runner died),
 * every pending request gets a FINAL event with finish ERROR and the error
 * text "runner exited ...".
 *
 * Ownership: the client owns its socket and reader thread; xllm_rclient_close
 * joins the thread (no callback runs after it returns). Threading: submit,
 * cancel, embed and stats may be called from any thread concurrently;
 * callbacks must not block for long (they delay every other request's events).
 * From inside a callback only cancel may be called (submit, stats and embed
 * wait for the reader thread the callback runs on: they fail with
 * INVALID_ARGUMENT there). */
#ifndef XLLM_RUNTIME_RUNNER_CLIENT_H
#define XLLM_RUNTIME_RUNNER_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/status.h"
#include "runtime/sched.h"

/* What a runner says about itself right after connect (the hello frame). */
typedef struct xllm_runner_info {
    int32_t protocol;        /* XLLM_RUNNER_PROTOCOL of the runner */
    char engine[32];         /* "cpu", "cuda" */
    char model_path[4096];
    char arch[32];
    int32_t n_vocab, n_embd, n_layer, n_ctx_train;
    int32_t n_ctx;           /* largest context per request */
    int32_t is_encoder;      /* 1: embeddings only */
    int32_t kv_type;         /* xllm_kv_type in use */
    uint32_t kv_types;       /* supported by the engine (bit per type) */
    int32_t n_blocks, max_running, max_waiting;
    uint64_t weight_bytes, kv_bytes, scratch_bytes;
    uint64_t load_ns;        /* model load time */
    int32_t pid;
} xllm_runner_info;

/* A generation request. Exactly one of prompt_text / prompt_tokens is given;
 * text is tokenized by the runner with add_special / parse_special as in
 * xllm_tokenize (chat prompts rendered from a template: add_special 0 when
 * the template writes BOS itself, parse_special 1). */
typedef struct xllm_runner_request {
    const char *prompt_text;
    size_t prompt_len;
    int32_t add_special, parse_special;
    const int32_t *prompt_tokens;
    int32_t n_prompt_tokens;
    xllm_gen_params params;
    const char *grammar;     /* GBNF for constrained decoding (NULL: params.grammar, which may be NULL
                                too); root rule and lazy triggers come from params */
    const char *trace_id;    /* request id for the runner's log lines (may be NULL) */
} xllm_runner_request;

typedef struct xllm_rclient xllm_rclient;

/* Connect to a runner listening on socket_path, retrying until timeout_ms
 * (the runner may still be starting), and read its hello. */
xllm_status xllm_rclient_connect(const char *socket_path, int timeout_ms, xllm_rclient **out);
void xllm_rclient_close(xllm_rclient *c); /* NULL-safe */
const xllm_runner_info *xllm_rclient_info(const xllm_rclient *c);
int xllm_rclient_alive(const xllm_rclient *c); /* 0 once the connection dropped */

/* Submit; *id is the runner's request id (callbacks carry it). A refusal by
 * the runner (queue full, prompt too long, bad parameter) comes back as a
 * status here with the runner's message, and no callback runs. */
xllm_status xllm_rclient_submit(xllm_rclient *c, const xllm_runner_request *r, xllm_gen_cb cb, void *user,
                                uint64_t *id);
xllm_status xllm_rclient_cancel(xllm_rclient *c, uint64_t id);
xllm_status xllm_rclient_stats(xllm_rclient *c, xllm_sched_stats *out, int timeout_ms);

/* Encoders: embeddings of n inputs (texts, or token arrays when texts is
 * NULL), out: heap [n][n_embd] (xllm_free), *n_embd set; n_tokens[i] receives
 * each input's token count (for usage). */
xllm_status xllm_rclient_embed(xllm_rclient *c, const char *const *texts, const int32_t *const *tokens,
                               const int32_t *n_tok_in, int32_t n, int32_t truncate, float **out,
                               int32_t *n_embd, int32_t *n_tokens, int timeout_ms);

/* Ask the runner to exit (running requests are cancelled). */
xllm_status xllm_rclient_shutdown(xllm_rclient *c);

/* A runner process started by this process. */
typedef struct xllm_runner_spawn_params {
    const char *xllm_bin;    /* the xllm binary (argv[0] of the server, or XLLM_BIN) */
    const char *model_path;  /* GGUF file or HF directory */
    const char *socket_path; /* where the runner listens (created by the runner) */
    int32_t n_threads;       /* <= 0: one per CPU */
    int32_t kv_type;         /* xllm_kv_type */
    int64_t kv_mem;          /* bytes for the KV pool (0: default share of free memory) */
    int32_t kv_blocks;       /* > 0 overrides kv_mem */
    int32_t n_ctx;           /* <= 0: model's, capped */
    int32_t max_running, max_waiting, step_tokens;
    const char *device;      /* "cpu", "cuda", "cuda:N" or NULL (auto) */
    const char *log_path;    /* runner's stderr goes here (NULL: inherit) */
} xllm_runner_spawn_params;

typedef struct xllm_runner_proc {
    pid_t pid;
    char socket_path[108];
} xllm_runner_proc;

/* fork + exec `xllm runner ...`; the runner exits when its parent dies. */
xllm_status xllm_runner_spawn(const xllm_runner_spawn_params *p, xllm_runner_proc *out);
/* Wait for exit up to timeout_ms, then SIGKILL; returns the exit status (or -signal). */
int xllm_runner_reap(xllm_runner_proc *p, int timeout_ms);

#endif
