/* cpu_engine.h - the built-in CPU engine: a context that owns the paged KV
 * pool, the activation scratch and a thread pool for one loaded model, and
 * the forward pass over a flat multi-sequence batch (include/xllm/engine.h's
 * xllm_batch).
 *
 * KV layout, per layer, one pool of n_blocks blocks of XLLM_KV_BLOCK_SIZE
 * positions, elements of the context's KV type (xllm_kv_type: f16 by
 * default, q8_0, f32):
 *   K[block][kv_head][slot][head_dim_k]   V[block][kv_head][slot][head_dim_v]
 * so one (block, kv_head) is a contiguous 16-row tile for the attention
 * loop. A q8_0 row is head_dim / 32 GGUF Q8_0 blocks (34 bytes: f16 scale +
 * 32 int8); a head_dim that is not a multiple of 32 is padded with zeros to
 * whole blocks (head_dim 16: 34 bytes a row, no saving over f16's 32).
 * Encoders keep K/V of the batch in f32 scratch (no pool).
 *
 * Batch invariance: the logits row of a token depends only on its sequence's
 * tokens and positions (and the KV type), never on the other tokens of the
 * batch or on how the prompt was split into forward calls: every reduction
 * (matmul dot products, attention over KV blocks of 16 positions) runs in an
 * order fixed by the row alone (tests/unit/engine/test_batch_invariance.c).
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
    int32_t kv_type;          /* xllm_kv_type of the KV pool (decoders) */
} xllm_cpu_params;

typedef struct xllm_cpu_ctx xllm_cpu_ctx;

/* n_blocks 0, max_batch_tokens 512, n_threads 0, pooling -1, normalize 1,
 * kv_type XLLM_KV_F16. */
xllm_cpu_params xllm_cpu_params_default(void);

/* The xllm dtype of KV type t (XLLM_DTYPE_F16, _Q8_0, _F32), or
 * XLLM_ERR_INVALID_ARGUMENT for an unknown t. */
xllm_status xllm_cpu_kv_dtype(int32_t t, uint32_t *dtype);
/* Name of KV type t ("f16", "q8_0", "f32"; "?" if unknown) and the reverse
 * (-1 if unknown). */
const char *xllm_kv_type_name(int32_t t);
int32_t xllm_kv_type_parse(const char *name);

/* KV pool and scratch bytes for a model with hyper-parameters hp (KV bytes
 * by p->kv_type; an unknown type counts as f32). */
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
int32_t xllm_cpu_ctx_kv_type(const xllm_cpu_ctx *c);

#endif
