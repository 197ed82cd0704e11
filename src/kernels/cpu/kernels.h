/* kernels.h - the CPU compute kernels other layers call: a persistent thread
 * pool, row (de)quantization for every GGUF type, and the weight matmul used by
 * every linear layer (prefill: matrix-matrix; decode: n == 1).
 *
 * Variants (scalar reference, AVX2, AVX-512) are chosen once at start-up from
 * the CPU's features (xllm_kernels_init); the scalar reference stays callable
 * for tests (xllm_kernels_force_scalar).
 * Threading: xllm_pool_run must be called from one thread at a time per pool. */
#ifndef XLLM_KERNELS_CPU_KERNELS_H
#define XLLM_KERNELS_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"
#include "base/status.h"

/* ---- thread pool ---- */
typedef struct xllm_pool xllm_pool;
/* n_threads <= 0 means one per online CPU. The calling thread takes part. */
xllm_status xllm_pool_create(int n_threads, xllm_pool **out);
void xllm_pool_destroy(xllm_pool *p);
int xllm_pool_size(const xllm_pool *p);
/* Run fn(ctx, task, n_tasks) for task = 0..n_tasks-1 across the pool and wait. */
void xllm_pool_run(xllm_pool *p, void (*fn)(void *ctx, int task, int n_tasks), void *ctx, int n_tasks);

/* ---- start-up ---- */
/* Detect CPU features and pick kernel variants (the best the CPU has, or the
 * family XLLM_CPU_ISA=scalar|avx2|avx512 names). Returns XLLM_ERR_UNSUPPORTED
 * with a message naming the missing feature if the build or XLLM_CPU_ISA needs
 * one the CPU lacks, XLLM_ERR_INVALID_ARGUMENT for an unknown XLLM_CPU_ISA. */
xllm_status xllm_kernels_init(void);
const char *xllm_kernels_variant(void); /* "avx512", "avx2" or "scalar" */
void xllm_kernels_force_scalar(int on);  /* tests: compare variants */

/* ---- rows ---- */
/* Dequantize n elements (n a multiple of the block size) of type t to f32. */
xllm_status xllm_dequantize_row(uint32_t t, const void *src, float *dst, int64_t n);
/* Quantize n f32 elements to type t (reference quantizers: F32, F16, BF16,
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL). */
xllm_status xllm_quantize_row(uint32_t t, const float *src, void *dst, int64_t n);
int xllm_can_quantize(uint32_t t);

/* ---- linear layers ---- */
/* A weight matrix W [rows][cols] stored as GGUF stores it: rows of cols
 * elements of dtype (ne[0] = cols, ne[1] = rows). The kernel may keep a
 * repacked copy in `packed` (owned by the weight, freed by xllm_weight_release). */
typedef struct xllm_weight {
    uint32_t dtype;
    int64_t rows;       /* output features */
    int64_t cols;       /* input features */
    const void *data;   /* [rows][row_bytes(cols)] */
    void *packed;       /* optional kernel-private layout, NULL if none */
} xllm_weight;

/* Optional: convert to a faster layout at load (may release the mapped pages
 * of data afterwards). Safe to skip. */
xllm_status xllm_weight_prepare(xllm_weight *w);
void xllm_weight_release(xllm_weight *w);

/* y[n][rows] = x[n][cols] * W^T, f32 activations; threads from pool (NULL = the
 * calling thread only). Scratch for quantized activations is internal. */
xllm_status xllm_matmul(xllm_pool *pool, const xllm_weight *w, const float *x, int64_t n, float *y);
/* y[k] = x * w[k]^T for count weights with the same input (fused q/k/v or
 * gate/up): one activation quantization and one pool run where the weights
 * share a packed layout, else one xllm_matmul each. */
xllm_status xllm_matmul_fused(xllm_pool *pool, const xllm_weight *const *w, int count, const float *x, int64_t n,
                              float *const *y);

/* ---- element-wise ---- */
/* out[n] = silu(g) * u = g / (1 + exp(-g)) * u (u NULL: silu(g)); out may equal g or u. */
void xllm_silu_mul(const float *g, const float *u, float *out, int64_t n);
void xllm_silu_mul_ref(const float *g, const float *u, float *out, int64_t n);

/* ---- attention ---- */
/* KV rows: one head's n elements of a key or value in element type kv, one of
 * XLLM_DTYPE_F32, XLLM_DTYPE_F16 or XLLM_DTYPE_Q8_0 (GGUF Q8_0 blocks of 32;
 * a row whose n is not a multiple of 32 is padded with zeros to whole
 * blocks). 1 if kv is one of those. */
int xllm_kv_dtype_supported(uint32_t kv);
/* Bytes of one row of n elements of kv (0: kv unsupported). */
size_t xllm_kv_row_bytes(uint32_t kv, int n);
/* Convert src[n] into one row of kv at dst (xllm_kv_row_bytes(kv, n) bytes):
 * f16 rounds to nearest even, q8_0 quantizes as xllm_quantize_row. Depends
 * only on src (the same row gives the same bytes whatever else runs). */
void xllm_kv_store_row(uint32_t kv, const float *src, int n, void *dst);

/* One online-softmax step of one query q[dk]: fold n keys kr[j] (rows of dk
 * elements of kv) with values vr[j] (rows of dv elements of kv) into the
 * running max m, sum l and weighted sum acc[dv], score_j = q.k_j * scale,
 * soft-capped to cap * tanh(score / cap) if cap > 0. Start from m =
 * -INFINITY, l = 0, acc = 0; the output is acc / l. dk, dv <=
 * XLLM_MAX_HEAD_DIM. The order of every sum depends only on (n, dk, dv) and
 * the ISA, never on what else the caller runs. */
void xllm_attn_fold(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk, int dv,
                    float scale, float cap, float *m, float *l, float *acc);
/* The scalar reference of xllm_attn_fold (tests): every row converted to f32
 * first, then f32 arithmetic. */
void xllm_attn_fold_ref(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                        int dv, float scale, float cap, float *m, float *l, float *acc);

#endif
