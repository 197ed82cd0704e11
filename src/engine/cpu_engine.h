/* cpu_engine.h - the built-in CPU engine: a context that owns the paged KV
 * pool, the activation scratch and a thread pool for one loaded model, and
 * the forward pass over a flat multi-sequence batch (include/xllm/engine.h's
 * xllm_batch).
 *
 * KV layout, per layer, one pool of n_blocks blocks of XLLM_KV_BLOCK_SIZE
 * positions (f32):
 *   K[block][kv_head][slot][head_dim_k]   V[block][kv_head][slot][head_dim_v]
 * so one (block, kv_head) is a contiguous 16 x head_dim tile for the
 * attention loop. Encoders keep K/V of the batch in scratch (no pool).
 *
 * Ownership: the context borrows the model (keep it loaded until
 * xllm_cpu_ctx_free). Nothing is allocated inside xllm_cpu_forward.
 * Threading: one caller at a time per context; the context's pool does the
 * parallel work (matmuls over all tokens, attention over (token, head)). */
#ifndef XLLM_ENGINE_CPU_ENGINE_H
#define XLLM_ENGINE_CPU_ENGINE_H

#include <stdint.h>

#include "base/status.h"
#include "model/model.h"
#include "xllm/engine.h"

typedef struct xllm_cpu_params {
    int32_t n_blocks;         /* KV blocks per layer (decoders; ignored by encoders) */
    int32_t max_batch_tokens; /* largest n_tokens of one forward call */
    int32_t n_threads;        /* <= 0: one per online CPU */
    int32_t pooling;          /* encoders: -1 = model's pooling_type, else xllm_pooling */
    int32_t normalize;        /* encoders: L2-normalize pooled embeddings */
} xllm_cpu_params;

typedef struct xllm_cpu_ctx xllm_cpu_ctx;

/* n_blocks 0, max_batch_tokens 512, n_threads 0, pooling -1, normalize 1. */
xllm_cpu_params xllm_cpu_params_default(void);

/* KV pool and scratch bytes for a model with hyper-parameters hp. */
void xllm_cpu_memory_required(const xllm_hparams *hp, const xllm_cpu_params *p, uint64_t *kv_bytes,
                              uint64_t *scratch_bytes);

xllm_status xllm_cpu_ctx_create(const xllm_model *m, const xllm_cpu_params *p, xllm_cpu_ctx **out);
void xllm_cpu_ctx_free(xllm_cpu_ctx *c);

/* Run one step (see xllm_batch). The batch is checked first (token ids,
 * positions, sequence indices, block ids, output buffers); a bad batch gives
 * XLLM_ERR_INVALID_ARGUMENT and changes nothing. */
xllm_status xllm_cpu_forward(xllm_cpu_ctx *c, const xllm_batch *b);

/* Copy KV block src to dst in every layer. */
xllm_status xllm_cpu_kv_copy_block(xllm_cpu_ctx *c, int32_t src, int32_t dst);

const xllm_model *xllm_cpu_ctx_model(const xllm_cpu_ctx *c);
int32_t xllm_cpu_ctx_n_blocks(const xllm_cpu_ctx *c);
int32_t xllm_cpu_ctx_max_batch(const xllm_cpu_ctx *c);
xllm_pooling xllm_cpu_ctx_pooling(const xllm_cpu_ctx *c);

#endif
