/* cuda_plan.h - the GPU-free half of the CUDA engine: which models and weight
 * types it runs, how much device memory a load needs (weights, paged KV,
 * scratch), and the checks of a batch plus its flattening into the arrays the
 * kernels read (one block-table matrix, the rows that want logits).
 *
 * Plain C (no CUDA headers): the unit tests link this file on machines
 * without CUDA. Ownership: xc_batch_plan's arrays belong to the plan
 * (xc_plan_free). Threading: no shared state. */
#ifndef XLLM_CUDA_PLAN_H
#define XLLM_CUDA_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "cuda_limits.h"
#include "model/arch.h"
#include "model/model.h"
#include "xllm/engine.h"


/* 1 if the CUDA kernels read this GGUF dtype (matrix weights). */
int xc_dtype_supported(uint32_t dtype);
/* 1 if kv is an xllm_kv_type the engine stores (bit mask of all: xc_kv_types). */
int xc_kv_supported(int32_t kv);
uint32_t xc_kv_types(void);
/* Bytes of one KV element row of n values for a KV type (f16: 2n, q8_0: 34 n/32). */
uint64_t xc_kv_row_bytes(int32_t kv, int64_t n);

/* Architecture and shape checks a load must pass (message names the model). */
xllm_status xc_model_check(const xllm_hparams *hp, const char *what);

typedef struct xc_sizes {
    uint64_t weight_bytes;  /* matrices as stored + f32 vectors + rope tables */
    uint64_t kv_bytes;      /* n_blocks * n_layer * block of K and V */
    uint64_t scratch_bytes; /* activations, f16 staging, dequantized weight tile */
    uint64_t kv_block_bytes; /* one block of one layer: K then V */
    uint64_t k_block_bytes;  /* the K half of it */
    uint64_t max_matrix_elems; /* largest matrix (rows * cols) */
    int64_t max_cols;        /* widest matrix input */
} xc_sizes;

/* hp and the model's tensors (weights may be unread: only dtypes and shapes
 * are used). n_blocks, max_batch_tokens and kv_type as in the load params. */
xllm_status xc_plan_sizes(const xllm_model *m, int32_t n_blocks, int32_t max_batch_tokens, int32_t kv_type,
                          xc_sizes *out);

/* The padded block-table width for a batch whose longest sequence needs `need`
 * blocks: a power of two, at least XC_TABLE_MIN_WIDTH, so a captured decode
 * graph (keyed by the width) is reused across many positions. */
int32_t xc_table_width(int32_t need);

/* A checked batch, flattened for the device. */
typedef struct xc_batch_plan {
    int32_t n_tokens, n_seqs;
    int32_t table_stride; /* block-table entries per sequence in tables (xc_table_width) */
    int32_t *tables;      /* [n_seqs][table_stride], unused entries 0 */
    int32_t *rows;        /* [n_rows] token indices that want logits */
    int32_t n_rows;
    size_t cap_tables, cap_rows; /* allocated entries */
} xc_batch_plan;

/* Check b against the context limits (vocabulary, max_batch_tokens, pool of
 * n_blocks) like the CPU engine, then fill plan (arrays reused across calls).
 * err gets the message (also set as the thread's last error). */
xllm_status xc_batch_plan_make(const xllm_hparams *hp, int32_t n_blocks, int32_t max_batch_tokens,
                               const xllm_batch *b, xc_batch_plan *plan, char *err, size_t err_len);
void xc_batch_plan_free(xc_batch_plan *plan);

#endif
