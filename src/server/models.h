/* models.h - the server's model manager: the models served under names, the
 * runner process of each loaded one (started on the first request, stopped
 * after keep_alive of idleness), the memory check before a load (LRU unload
 * of idle runners, never one with running requests) and the vocabulary /
 * metadata the server itself reads (tokenize, templates, /api/show).
 *
 * Ownership: the manager owns every srv_model and its runner; an acquired
 * model stays loaded until released. Threading: all calls are thread-safe
 * (one mutex + condition); srv_model_acquire blocks while a load runs, so it
 * is called from worker threads, never from an HTTP polling thread (those use
 * srv_model_try_acquire); srv_model_acquire_or_park never waits for another
 * caller's load (the server's workers use it, so a load pins one worker and
 * the requests waiting for it hold none). */
#ifndef XLLM_SERVER_MODELS_H
#define XLLM_SERVER_MODELS_H

#include <jansson.h>
#include <stdint.h>

#include "base/status.h"
#include "runtime/runner_client.h"
#include "tokenizer/tokenizer.h"

typedef struct srv_models srv_models;
typedef struct srv_model srv_model;

typedef struct srv_models_cfg {
    const char *xllm_bin;    /* binary to start runners with */
    int32_t n_threads;       /* runner compute threads (<= 0: all CPUs) */
    int32_t kv_type;
    int32_t n_ctx;           /* <= 0: model's */
    int32_t max_running;     /* runner batch: sequences at once (<= 0: the runner's 16) */
    int32_t max_waiting;     /* runner queue (<= 0: the runner's 1000); beyond it 503 queue_full */
    double idle_timeout_s;   /* default keep_alive (300) */
    const char *run_dir;     /* sockets and runner logs */
    const char *device;      /* runner device ("cpu", "cuda:N") or NULL: the runner's default */
} srv_models_cfg;

xllm_status srv_models_new(const srv_models_cfg *cfg, srv_models **out);
/* Stop every runner (shutdown, then reap with a deadline) and free all. */
void srv_models_free(srv_models *m);
/* Shutdown begins: acquires fail from now on ("shutting down"), parked ones
 * are woken to see it, a load in progress gives up. Idempotent. */
void srv_models_stop(srv_models *m);
/* Lifetime counters (metrics). */
typedef struct srv_models_counts {
    uint64_t loads, load_failures, unloads;
    uint64_t runner_exits; /* runners that died on their own; the next request starts a new one */
} srv_models_counts;
void srv_models_counts_get(srv_models *m, srv_models_counts *out);
xllm_status srv_models_add(srv_models *m, const char *name, const char *path);
/* A model of the store (store_models.c): its blob, manifest digest, size and
 * time, and the text layers Ollama applies (copied). */
typedef struct srv_store_layers {
    const char *digest;        /* "sha256:<hex>" of the manifest */
    uint64_t size;             /* layers + config */
    int64_t mtime;
    const char *template_text; /* template layer (Go or Jinja) or NULL: the GGUF's */
    const char *system;        /* system layer or NULL */
    const char *params_json;   /* params layer (JSON object text) or NULL */
} srv_store_layers;
xllm_status srv_models_add_store(srv_models *m, const char *name, const char *path, const srv_store_layers *sl);
/* Drop from listing and lookup (a deleted or replaced store model); the entry
 * lives on until the manager is freed, so requests holding it stay valid. */
void srv_models_hide(srv_models *m, srv_model *md);
/* Show a hidden store entry of that name and manifest digest again (a model
 * deleted and pulled back); 1 if there was one. */
int srv_models_unhide(srv_models *m, const char *name, const char *digest);
/* Store sync (store_models.c): add the store's models not known yet, hide
 * those gone or replaced. Thread-safe; --model names win over store names. */
void srv_models_sync_store(srv_models *m);
/* Find, and on a miss re-read the store once and find again. */
srv_model *srv_models_lookup(srv_models *m, const char *name);
int srv_models_count(srv_models *m);
/* By name; "name:latest" matches "name" and the other way round. NULL if unknown. */
srv_model *srv_models_find(srv_models *m, const char *name);
srv_model *srv_models_at(srv_models *m, int i);

const char *srv_model_name(const srv_model *md);
const char *srv_model_path(const srv_model *md);
uint64_t srv_model_file_bytes(const srv_model *md);
int64_t srv_model_mtime(const srv_model *md);
int srv_model_from_store(const srv_model *md);
const char *srv_model_digest(const srv_model *md);   /* "" unless from the store */
const char *srv_model_system(const srv_model *md);   /* system layer or NULL */
const char *srv_model_params_json(const srv_model *md); /* params layer or NULL */

/* Vocabulary and metadata, loaded once on first use (a vocabulary-only GGUF
 * is enough). The returned objects live as long as the manager. */
xllm_status srv_model_tokenizer(srv_model *md, const xllm_tokenizer **out);
/* tokenizer.chat_template or NULL when the model has none. */
const char *srv_model_chat_template(srv_model *md);
/* The parsed chat template (NULL when the model has none, or *err says why
 * it could not be parsed) and the metadata container it came from. */
struct xllm_chat_template;
struct xllm_gguf;
const struct xllm_chat_template *srv_model_template(srv_model *md, const char **err, const struct xllm_gguf **meta);
/* Metadata for /api/show: a new object of general.* / arch keys (model_info). */
json_t *srv_model_info_json(srv_model *md);
const char *srv_model_arch(srv_model *md);
/* Ollama's details object: format, family, parameter_size, quantization_level. */
json_t *srv_model_details_json(srv_model *md);

/* Get the running runner, starting it when needed (blocks until loaded). On
 * success the model counts one more active user until srv_model_release. On a
 * load failure, *http_status is 500/503/507-like and the message is in
 * xllm_last_error(). */
xllm_status srv_model_acquire(srv_model *md, xllm_rclient **rc, int *http_status);
/* A parked acquire: wake(w) is called (with the manager's lock held, so it
 * must only queue work) when the model's state changed; the owner then calls
 * srv_model_acquire_or_park again with the same w. Zero it before the first
 * call; it must stay valid while parked (w->next belongs to the manager). */
typedef struct srv_model_waiter {
    struct srv_model_waiter *next;
    void (*wake)(struct srv_model_waiter *w);
    int seen;
    uint64_t seen_seq;
} srv_model_waiter;
/* As srv_model_acquire, except that when another caller is loading (or
 * stopping) the model it parks w, sets *parked = 1 and returns XLLM_OK at
 * once. When the model is unloaded the caller loads it (blocking). */
xllm_status srv_model_acquire_or_park(srv_model *md, xllm_rclient **rc, int *http_status, srv_model_waiter *w,
                                      int *parked);
/* Undo an acquire without touching keep_alive (a task that pinned the model). */
void srv_model_unpin(srv_model *md);
/* Non-blocking: succeeds only when the runner is up (returns 0), else -1. */
int srv_model_try_acquire(srv_model *md, xllm_rclient **rc);
/* keep_alive_s: NAN server default, 0 unload when idle, < 0 never. */
void srv_model_release(srv_model *md, double keep_alive_s);

/* State for /v0/health, /api/ps. */
typedef struct srv_model_state {
    int loaded, loading, active;
    double load_progress;    /* 0..1 while loading (time-based estimate) */
    double expires_at;       /* wall-clock seconds; 0 = never / not loaded */
    uint64_t weight_bytes, kv_bytes;
    int32_t n_ctx;
    char engine[32];
    int32_t pid;
} srv_model_state;
void srv_model_state_get(srv_model *md, srv_model_state *st);
/* Runner stats of a loaded model (0) or -1 when not loaded. */
int srv_model_stats(srv_model *md, xllm_sched_stats *st);
/* Unload (Ollama keep_alive 0 with an empty prompt; xllm stop): now when idle,
 * else its running requests are aborted and it unloads when they let go; 0 ok. */
int srv_model_unload(srv_model *md);

/* Free memory: MemAvailable of /proc/meminfo, in bytes. */
uint64_t srv_mem_available(void);

#endif
