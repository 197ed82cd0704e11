/* cpu_internal.h - the CPU engine context shared by its files (cpu_engine.c:
 * setup, batch checks, the layer loop; cpu_attention.c: KV writes and
 * attention). Not for use outside src/engine. */
#ifndef XLLM_ENGINE_CPU_INTERNAL_H
#define XLLM_ENGINE_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/cpu_engine.h"
#include "kernels/cpu/kernels.h"

struct xllm_cpu_ctx {
    const xllm_model *m;
    const xllm_hparams *hp;
    xllm_cpu_params p;
    xllm_pool *pool;
    int n_tasks;          /* pool size: tasks of one parallel step */
    xllm_pooling pooling; /* encoders */
    size_t embd_row_bytes; /* bytes of one token_embd row */
    size_t pos_row_bytes;  /* bytes of one position_embd row (0: none) */

    /* KV pool (decoders): layer l's K at kv + l * layer_bytes, V after K;
     * rows of kv_dtype (xllm_kv_row_bytes) */
    uint8_t *kv;
    size_t kv_bytes;      /* of the kv mapping */
    uint32_t kv_dtype;    /* XLLM_DTYPE_F32 / F16 / Q8_0 (from p.kv_type) */
    size_t k_row_bytes;   /* one head's key row: head_dim_k elements */
    size_t v_row_bytes;   /* one head's value row: head_dim_v elements */
    size_t k_block_bytes; /* n_head_kv * BLOCK * k_row_bytes */
    size_t v_block_bytes; /* n_head_kv * BLOCK * v_row_bytes */
    size_t layer_bytes;   /* n_blocks * (k_block_bytes + v_block_bytes) */

    /* scratch for max_batch_tokens = T tokens */
    float *x;       /* [T][n_embd] residual stream */
    float *h;       /* [T][n_embd] normed input / projection output */
    float *q;       /* [T][n_head * head_dim_k] */
    float *k;       /* [T][n_head_kv * head_dim_k] */
    float *v;       /* [T][n_head_kv * head_dim_v] */
    float *att;     /* [T][n_head * head_dim_v] */
    float *big;     /* [T][max(qkv, ffn_up rows)] fused qkv or ffn gate/up output */
    float *ff;      /* [T][n_ff] ffn up output / activation */
    float *rope;    /* [2][T][n_rot]: cos/sin tables for global and sliding-window layers */
    float *task;    /* [n_tasks][task_floats] per-task attention scratch */
    size_t task_floats;
    int32_t *seq_start; /* [T + 1] tokens of sequence s: seq_tok[seq_start[s] .. seq_start[s+1]) */
    int32_t *seq_tok;   /* [T] */
    int32_t *rows;      /* [T] tokens that want logits */

    /* the batch being run */
    const xllm_batch *b;
    int32_t n_rows;
    char error[512]; /* last error of this context */
};

/* Per-layer state handed to parallel tasks. */
typedef struct xllm_layer_job {
    xllm_cpu_ctx *c;
    const xllm_tensors *L;
    int32_t layer;
    int swa;             /* this layer uses the sliding window */
    const float *rope;   /* [T][n_rot] table for this layer */
} xllm_layer_job;

/* Run fn(arg, i) for i in [0, n) across the pool. */
void xllm_cpu_par_for(xllm_cpu_ctx *c, int64_t n, void (*fn)(void *arg, int64_t i), void *arg);

/* Per-token: biases, q/k norm, rope, and (decoders) the KV write. */
void xllm_cpu_qkv_finish(xllm_layer_job *job);
/* Attention of every (token, head) into c->att. */
void xllm_cpu_attention(xllm_layer_job *job);

static inline uint8_t *xllm_cpu_k_layer(const xllm_cpu_ctx *c, int32_t l) { return c->kv + (size_t)l * c->layer_bytes; }
static inline uint8_t *xllm_cpu_v_layer(const xllm_cpu_ctx *c, int32_t l)
{
    return c->kv + (size_t)l * c->layer_bytes + (size_t)c->p.n_blocks * c->k_block_bytes;
}

#endif
