/* cuda_kernels.h - the CUDA engine's device kernels as plain C launchers
 * (cuda_kernels.cu, cuda_matmul.cu): embeddings, norms, q/k/v finishing with
 * rope and the paged KV write, attention over block tables, activations,
 * residual adds, soft-capping, and the weight matmuls (mat-vec kernels that
 * read each weight once for up to XC_MMV_MAX_TOKENS rows; cuBLAS above).
 *
 * Every pointer named d_* or documented as device is device memory. Each
 * launcher enqueues on the given stream and returns cudaGetLastError() (0 on
 * success). Reductions run in a fixed order that does not depend on the batch
 * (a row's result is independent of the other rows). Threading: a launcher may
 * be called from any thread holding the stream; no global state except the
 * cuBLAS handle in xck_blas. */
#ifndef XLLM_CUDA_KERNELS_H
#define XLLM_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A weight matrix on the device: rows of cols elements of a GGUF dtype or a
 * packed layout (XC_T_Q4_0P, XC_T_Q8_0P: cuda_pack.h). */
typedef struct xc_mat {
    uint32_t dtype;
    int64_t rows, cols;
    size_t row_bytes;
    const void *d; /* device, 256-byte aligned, rows * row_bytes */
} xc_mat;

/* cuBLAS and the staging buffers of the large-batch matmul path. */
typedef struct xck_blas {
    void *handle;     /* cublasHandle_t, NULL until xck_blas_init */
    cudaStream_t stream;
    void *act16;      /* device [max_tokens][max_cols] f16/bf16 activations */
    void *w16;        /* device f16 copy of one dequantized matrix (NULL: none needed) */
    int mmv_only;     /* 1: every batch through the mat-vec kernels (batch invariant) */
    int8_t *xq;       /* device [XC_MMV_MAX_TOKENS][max_cols] int8 activations (NULL: f32 mat-vec only) */
    void *xd;         /* device float2 [XC_MMV_MAX_TOKENS][max_cols / 32]: scale, scale * sum */
    int mmvq_rows;    /* rows per warp of the int8 mat-vec (0: by matrix height; a tuning knob) */
} xck_blas;

/* 1 if dtype has an int8-activation mat-vec kernel (Q8_0, Q4_0, Q4_K, Q6_K and the packed Q4_0P, Q8_0P). */
int xck_mmvq_supported(uint32_t dtype);
/* x[n][cols] f32 to int8 sub-blocks of 32 (xq) with scale and scaled sum (xd). */
int xck_quant_x(cudaStream_t s, const float *x, int n, int64_t cols, int8_t *xq, void *xd);
/* y[n][rows] = W x from the int8 x in xq / xd, n <= XC_MMV_MAX_TOKENS. */
int xck_mmvq(cudaStream_t s, const xc_mat *w, int n, float *y, const int8_t *xq, const void *xd, int rows_per_warp);

int xck_blas_init(xck_blas *b, cudaStream_t stream); /* 0 or a cublasStatus_t */
void xck_blas_free(xck_blas *b);
const char *xck_blas_error(int st);

/* y[n][rows] = x[n][cols] * W^T (device f32 x and y, row-major). */
int xck_matmul(xck_blas *b, const xc_mat *w, const float *x, int n, float *y);
/* The same; x_quantized: b->xq / xd already hold x's int8 form (an earlier
 * matmul on the same x, or a fused norm), used when the int8 mat-vec runs. */
int xck_matmul_ex(xck_blas *b, const xc_mat *w, const float *x, int n, float *y, int x_quantized);

/* x[i] = dequant(te row tokens[i]) * scale, i < n. */
int xck_embed(cudaStream_t s, const xc_mat *te, const int32_t *tokens, int n, float scale, float *x);

/* y[r] = norm(x[rows ? rows[r] : r]) for r < n rows of D (kind: xllm_norm_kind). */
int xck_norm(cudaStream_t s, int kind, const float *x, const int32_t *rows, const float *w, const float *b, float eps,
             float *y, int n, int D);

/* Per row: x += h if h (a pending residual), y = norm(x, w, b); with xq also
 * y as int8 sub-blocks in xq / xd (as xck_quant_x; D % 32 == 0). y may be h. */
int xck_res_norm(cudaStream_t s, int kind, float *x, const float *h, const float *w, const float *b, float eps,
                 float *y, int n, int D, int8_t *xq, void *xd);

/* Per row: h += bias; h = norm(h, post_norm) if set; x += h; x = norm(x, post_ln, post_ln_b) if set. */
int xck_residual(cudaStream_t s, int kind, float *h, float *x, const float *bias, const float *post_norm,
                 const float *post_ln, const float *post_ln_b, float eps, int n, int D);

/* FFN activation (ffn: xllm_ffn_kind, act: xllm_act): gated: ff = act(ff + gate_b) * (big + up_b);
 * fused: ff = act(big[:F]) * big[F:] (after up_b); plain: ff = act(big + up_b). */
int xck_act(cudaStream_t s, int ffn, int act, float *big, float *ff, const float *up_b, const float *gate_b, int n,
            int F);

/* The fused layout's activation ff = act(big[:F]) * big[F:] (no biases), also
 * as int8 sub-blocks in xq / xd (F % 32 == 0). */
int xck_act_q(cudaStream_t s, int act, const float *big, float *ff, int n, int F, int8_t *xq, void *xd);

/* x = cap * tanh(x / cap) over n floats. */
int xck_softcap(cudaStream_t s, float *x, int64_t n, float cap);

/* The paged KV cache of one layer. */
typedef struct xck_kv {
    void *k, *v;           /* device: [n_blocks][n_kv][BLOCK][row] */
    size_t k_block_bytes, v_block_bytes;
    int kv_type;           /* xllm_kv_type: f16 or q8_0 */
} xck_kv;

/* The batch as the kernels see it (device arrays). */
typedef struct xck_batch {
    int n_tokens;
    const int32_t *pos, *seq; /* [n_tokens] */
    const int32_t *tables;    /* [n_seqs][table_stride] */
    int table_stride;
} xck_batch;

typedef struct xck_qkv_args {
    const float *q_in, *k_in, *v_in; /* device rows of stride sq/sk/sv floats */
    int64_t sq, sk, sv;
    const float *bq, *bk, *bv;       /* biases or NULL */
    const float *q_norm, *k_norm;    /* per-head RMS norm weights or NULL */
    float eps;
    int n_head, n_kv, hd_k, hd_v, n_rot, rope_kind; /* xllm_rope_kind */
    const float *inv_freq;           /* device [n_rot / 2] */
    float mscale;                    /* rope attn factor */
    float *q_out;                    /* device [n_tokens][n_head * hd_k] */
} xck_qkv_args;

/* Biases, q/k norm, rope, and the K/V write into the blocks of kv. */
int xck_qkv(cudaStream_t s, const xck_batch *b, const xck_qkv_args *a, const xck_kv *kv);

typedef struct xck_attn_args {
    const float *q;   /* device [n_tokens][n_head * hd_k] */
    float *out;       /* device [n_tokens][n_head * hd_v] */
    int n_head, n_kv, hd_k, hd_v;
    float scale, softcap;
    int window;       /* sliding window (0: none) */
    int wide;         /* 1: 16 warps per (token, head), else 8 (the fold order differs: keep it per mode) */
    int8_t *xq;       /* non-NULL (wide, hd_v % 32 == 0): out also as int8 sub-blocks (xck_quant_x's layout) */
    void *xd;
} xck_attn_args;

/* Causal attention of every (token, head) over positions 0..p of its sequence. */
int xck_attention(cudaStream_t s, const xck_batch *b, const xck_attn_args *a, const xck_kv *kv);

/* Copy one block (K and V) of one layer. */
int xck_kv_copy(cudaStream_t s, const xck_kv *kv, int32_t src, int32_t dst);

#ifdef __cplusplus
}
#endif

#endif
