/* instance.h - one loaded model instance ready to generate: the engine (CPU
 * built in, or a plugin), its context with a KV pool sized from the request
 * (blocks, bytes, or a share of free memory), the tokenizer and the
 * scheduler. The runner process serves one; `xllm run`, `benchmark` and
 * `profile` drive one in-process through the same scheduler.
 *
 * Ownership: the instance owns everything it opened; xllm_instance_close
 * frees it all. Threading: as the scheduler (one thread). */
#ifndef XLLM_RUNTIME_INSTANCE_H
#define XLLM_RUNTIME_INSTANCE_H

#include <stdint.h>

#include "base/status.h"
#include "engine/engine_host.h"
#include "runtime/sched.h"
#include "tokenizer/tokenizer.h"

typedef struct xllm_instance_params {
    const char *model_path;  /* GGUF file or Hugging Face directory */
    const char *device;      /* "cpu", "cuda", "cuda:N", "auto"; NULL: $XLLM_DEVICE or cpu
                                (xllm_engine_open_auto; a GPU that fails to load falls back to cpu) */
    int32_t n_threads;       /* <= 0: one per CPU */
    int32_t kv_type;         /* xllm_kv_type (default F16) */
    int64_t kv_mem;          /* bytes for the KV pool; 0: see kv_blocks */
    int32_t kv_blocks;       /* > 0: exactly this many blocks; 0 with kv_mem 0: enough for
                                max_running full contexts, capped at a quarter of free RAM */
    int32_t n_ctx;           /* largest context per request; <= 0: min(model's, 4096) */
    int32_t max_batch_tokens; /* largest forward call (engine scratch); <= 0: 512 */
    xllm_sched_params sched; /* max_running, max_waiting, step_tokens, ... */
} xllm_instance_params;

/* Defaults: f16 KV, automatic pool, n_ctx 0, scheduler defaults. */
xllm_instance_params xllm_instance_params_default(void);

typedef struct xllm_instance {
    xllm_engine *engine;
    xllm_engine_ctx *ctx;
    xllm_tokenizer *tok;
    xllm_sched *sched;              /* NULL for encoders (embeddings only) */
    xllm_engine_model_info info;
    xllm_engine_memory mem;         /* as reported before the load */
    int32_t n_blocks, n_ctx, max_batch_tokens;
    int32_t device;                 /* GPU number passed to the engine */
    uint64_t kv_block_bytes;        /* one block, all layers */
    double load_s;
} xllm_instance;

xllm_status xllm_instance_open(const xllm_instance_params *p, xllm_instance **out);
void xllm_instance_close(xllm_instance *in);

#endif
