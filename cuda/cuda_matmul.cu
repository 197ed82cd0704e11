/* cuda_matmul.cu - the weight matmuls: a mat-vec kernel per dtype (one warp
 * per output row, each weight sub-block dequantized once in registers and
 * applied to every token of a small batch), and the large-batch path through
 * cuBLAS (f16/bf16 tensor cores; quantized weights dequantized to an f16 copy
 * first, f32 weights in f32). */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda_deq.cuh"
#include "cuda_kernels.h"
#include "cuda_limits.h"

#define MMV_WARPS 4
#define MMV_MAX_R 4 /* rows per warp */

/* The fixed-order warp sum (xor butterfly: every lane gets the same bits). */
static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* x of up to XC_MMV_MAX_TOKENS tokens, one chunk of 32 sub-blocks (1024
 * columns) at a time, in shared memory: [token][sub-block][32 + 4 pad] floats
 * (the pad keeps a quarter-warp's 16-byte reads on distinct banks). */
#define MMV_PAD 36
#define MMV_CHUNK 32

/* Warp w of the block owns rows r0 + w*R .. r0 + w*R + R-1; lane l takes
 * sub-block c + l of every chunk c, so each weight byte is read once and x
 * comes from shared memory (loaded once per block, not once per row). */
static __device__ __forceinline__ void mmv_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows, int nsub,
                                                const float *x, int64_t ldx, int n, float *y, int64_t ldy, int R)
{
    __shared__ __align__(16) float xs[XC_MMV_MAX_TOKENS][MMV_CHUNK][MMV_PAD];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    int64_t r0 = ((int64_t)blockIdx.x * MMV_WARPS + w) * R;
    float acc[MMV_MAX_R][XC_MMV_MAX_TOKENS];
#pragma unroll
    for (int r = 0; r < MMV_MAX_R; r++)
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++)
            acc[r][t] = 0.0f;
    for (int c0 = 0; c0 < nsub; c0 += MMV_CHUNK) {
        int nc = nsub - c0 < MMV_CHUNK ? nsub - c0 : MMV_CHUNK, s = c0 + lane;
        __syncthreads();
        for (int i = threadIdx.x; i < n * nc * 8; i += MMV_WARPS * 32) { /* float4 units */
            int t = i / (nc * 8), rem = i % (nc * 8), sb = rem / 8, k = rem % 8;
            *(float4 *)&xs[t][sb][4 * k] = __ldg((const float4 *)(x + (size_t)t * ldx + (size_t)(c0 + sb) * 32) + k);
        }
        __syncthreads();
        if (lane >= nc)
            continue;
        if (n == 1) {
            float xr[32];
#pragma unroll
            for (int k = 0; k < 8; k++) {
                float4 v = *(const float4 *)&xs[0][lane][4 * k];
                xr[4 * k] = v.x, xr[4 * k + 1] = v.y, xr[4 * k + 2] = v.z, xr[4 * k + 3] = v.w;
            }
#pragma unroll
            for (int r = 0; r < MMV_MAX_R; r++) {
                float wv[32], p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f;
                if (r >= R || r0 + r >= rows)
                    break;
                xc_deq32(T, W + (size_t)(r0 + r) * row_bytes, nsub, s, wv);
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    p0 = fmaf(wv[4 * k], xr[4 * k], p0);
                    p1 = fmaf(wv[4 * k + 1], xr[4 * k + 1], p1);
                    p2 = fmaf(wv[4 * k + 2], xr[4 * k + 2], p2);
                    p3 = fmaf(wv[4 * k + 3], xr[4 * k + 3], p3);
                }
                acc[r][0] += (p0 + p1) + (p2 + p3);
            }
            continue;
        }
#pragma unroll
        for (int r = 0; r < MMV_MAX_R; r++) {
            float wv[32];
            if (r >= R || r0 + r >= rows)
                break;
            xc_deq32(T, W + (size_t)(r0 + r) * row_bytes, nsub, s, wv);
#pragma unroll
            for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
                float p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f;
                if (t >= n)
                    break;
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    float4 v = *(const float4 *)&xs[t][lane][4 * k];
                    p0 = fmaf(wv[4 * k], v.x, p0);
                    p1 = fmaf(wv[4 * k + 1], v.y, p1);
                    p2 = fmaf(wv[4 * k + 2], v.z, p2);
                    p3 = fmaf(wv[4 * k + 3], v.w, p3);
                }
                acc[r][t] += (p0 + p1) + (p2 + p3);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < MMV_MAX_R; r++) {
        if (r >= R || r0 + r >= rows)
            break;
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
            if (t >= n)
                break;
            float v = warp_sum(acc[r][t]);
            if (lane == 0)
                y[(size_t)t * ldy + r0 + r] = v;
        }
    }
}

/* Batch of one: warp w owns MMV1_R rows; x comes through L1/L2 once per warp
 * (shared by its rows) and each lane folds two sub-blocks per step, so enough
 * independent weight loads are in flight to keep HBM busy. */
#define MMV1_R 2
static __device__ __forceinline__ void mmv1_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows, int nsub,
                                                 const float *x, float *y)
{
    int lane = threadIdx.x & 31;
    int64_t r0 = ((int64_t)blockIdx.x * MMV_WARPS + (threadIdx.x >> 5)) * MMV1_R;
    float acc[MMV1_R];
#pragma unroll
    for (int r = 0; r < MMV1_R; r++)
        acc[r] = 0.0f;
    if (r0 >= rows)
        return;
    for (int s0 = lane; s0 < nsub; s0 += 64) {
#pragma unroll
        for (int u = 0; u < 2; u++) {
            int s = s0 + 32 * u;
            float xr[32];
            if (s >= nsub)
                break;
            const float4 *xv = (const float4 *)(x + (size_t)s * 32);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                float4 v = __ldg(xv + k);
                xr[4 * k] = v.x, xr[4 * k + 1] = v.y, xr[4 * k + 2] = v.z, xr[4 * k + 3] = v.w;
            }
#pragma unroll
            for (int r = 0; r < MMV1_R; r++) {
                float wv[32], p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f;
                if (r0 + r >= rows)
                    break;
                xc_deq32(T, W + (size_t)(r0 + r) * row_bytes, nsub, s, wv);
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    p0 = fmaf(wv[4 * k], xr[4 * k], p0);
                    p1 = fmaf(wv[4 * k + 1], xr[4 * k + 1], p1);
                    p2 = fmaf(wv[4 * k + 2], xr[4 * k + 2], p2);
                    p3 = fmaf(wv[4 * k + 3], xr[4 * k + 3], p3);
                }
                acc[r] += (p0 + p1) + (p2 + p3);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) {
        float v = warp_sum(acc[r]);
        if (lane == 0 && r0 + r < rows)
            y[r0 + r] = v;
    }
}

/* F16 / BF16 weights, n <= XC_MMV_MAX_TOKENS tokens of f32 x: lane l reads
 * 16-byte chunk 32 i + l (8 elements) of each of the warp's MMVH_R rows, so
 * one warp load covers 512 contiguous bytes; x comes through L1. Each
 * token's sums run in the same order whatever n is. */
#define MMVH_R 2
static __device__ __forceinline__ void h8_to_f(int T, uint4 v, float w[8])
{
    uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; e++) {
        if (T == XC_T_F16) {
            float2 f = __half22float2(*(const __half2 *)&u[e]);
            w[2 * e] = f.x, w[2 * e + 1] = f.y;
        } else {
            w[2 * e] = __uint_as_float(u[e] << 16);
            w[2 * e + 1] = __uint_as_float(u[e] & 0xffff0000u);
        }
    }
}

static __device__ __forceinline__ void mmvh_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows,
                                                 int nchunk, const float *x, int64_t ldx, int n, float *y,
                                                 int64_t ldy)
{
    int lane = threadIdx.x & 31;
    int64_t r0 = ((int64_t)blockIdx.x * MMV_WARPS + (threadIdx.x >> 5)) * MMVH_R;
    float acc[MMVH_R][XC_MMV_MAX_TOKENS];
    if (r0 >= rows)
        return;
#pragma unroll
    for (int r = 0; r < MMVH_R; r++)
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++)
            acc[r][t] = 0.0f;
#pragma unroll 2
    for (int c = lane; c < nchunk; c += 32) {
        float w[MMVH_R][8];
#pragma unroll
        for (int r = 0; r < MMVH_R; r++) {
            int64_t row = r0 + r < rows ? r0 + r : r0; /* a missing last row repeats the first (not stored) */
            h8_to_f(T, __ldg((const uint4 *)(W + (size_t)row * row_bytes) + c), w[r]);
        }
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
            if (t >= n)
                break;
            const float4 *xv = (const float4 *)(x + (size_t)t * ldx + 8 * (size_t)c);
            float4 a = __ldg(xv), b = __ldg(xv + 1);
#pragma unroll
            for (int r = 0; r < MMVH_R; r++) {
                float p0 = w[r][0] * a.x, p1 = w[r][1] * a.y;
                p0 = fmaf(w[r][2], a.z, p0), p1 = fmaf(w[r][3], a.w, p1);
                p0 = fmaf(w[r][4], b.x, p0), p1 = fmaf(w[r][5], b.y, p1);
                p0 = fmaf(w[r][6], b.z, p0), p1 = fmaf(w[r][7], b.w, p1);
                acc[r][t] += p0 + p1;
            }
        }
    }
#pragma unroll
    for (int r = 0; r < MMVH_R; r++) {
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
            if (t >= n)
                break;
            float v = warp_sum(acc[r][t]);
            if (lane == 0 && r0 + r < rows)
                y[(size_t)t * ldy + r0 + r] = v;
        }
    }
}

__global__ void __launch_bounds__(MMV_WARPS * 32) k_mmvh_f16(const uint8_t *W, size_t rb, int64_t rows, int nchunk,
                                                             const float *x, int64_t ldx, int n, float *y, int64_t ldy)
{
    mmvh_body(XC_T_F16, W, rb, rows, nchunk, x, ldx, n, y, ldy);
}

__global__ void __launch_bounds__(MMV_WARPS * 32) k_mmvh_bf16(const uint8_t *W, size_t rb, int64_t rows, int nchunk,
                                                              const float *x, int64_t ldx, int n, float *y,
                                                              int64_t ldy)
{
    mmvh_body(XC_T_BF16, W, rb, rows, nchunk, x, ldx, n, y, ldy);
}

/* Dequantize every sub-block of W to f16 (one thread per sub-block). */
static __device__ __forceinline__ void deq16_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows, int nsub,
                                                  __half *out)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * nsub)
        return;
    int64_t r = i / nsub;
    int s = (int)(i % nsub);
    float w[32];
    xc_deq32(T, W + (size_t)r * row_bytes, nsub, s, w);
    uint4 *o = (uint4 *)(out + (size_t)i * 32);
#pragma unroll
    for (int k = 0; k < 4; k++) {
        uint4 v;
        __half2 h0 = __floats2half2_rn(w[8 * k], w[8 * k + 1]), h1 = __floats2half2_rn(w[8 * k + 2], w[8 * k + 3]);
        __half2 h2 = __floats2half2_rn(w[8 * k + 4], w[8 * k + 5]), h3 = __floats2half2_rn(w[8 * k + 6], w[8 * k + 7]);
        v.x = *(uint32_t *)&h0, v.y = *(uint32_t *)&h1, v.z = *(uint32_t *)&h2, v.w = *(uint32_t *)&h3;
        o[k] = v;
    }
}

#define XC_KERNELS(name, id)                                                                                   \
    __global__ void __launch_bounds__(MMV_WARPS * 32) k_mmv_##name(const uint8_t *W, size_t rb, int64_t rows,   \
                                                                   int nsub, const float *x, int64_t ldx, int n, \
                                                                   float *y, int64_t ldy, int R)                 \
    {                                                                                                          \
        mmv_body(id, W, rb, rows, nsub, x, ldx, n, y, ldy, R);                                                 \
    }                                                                                                          \
    __global__ void __launch_bounds__(MMV_WARPS * 32) k_mmv1_##name(const uint8_t *W, size_t rb, int64_t rows,  \
                                                                    int nsub, const float *x, float *y)          \
    {                                                                                                          \
        mmv1_body(id, W, rb, rows, nsub, x, y);                                                                \
    }                                                                                                          \
    __global__ void k_deq16_##name(const uint8_t *W, size_t rb, int64_t rows, int nsub, __half *out)           \
    {                                                                                                          \
        deq16_body(id, W, rb, rows, nsub, out);                                                                \
    }
XC_DTYPES(XC_KERNELS)
#undef XC_KERNELS

typedef void (*mmv_fn)(const uint8_t *, size_t, int64_t, int, const float *, int64_t, int, float *, int64_t, int);
typedef void (*mmv1_fn)(const uint8_t *, size_t, int64_t, int, const float *, float *);
typedef void (*deq16_fn)(const uint8_t *, size_t, int64_t, int, __half *);

static mmv_fn mmv_for(uint32_t t)
{
    switch (t) {
#define XC_CASE(name, id) \
    case id: return k_mmv_##name;
        XC_DTYPES(XC_CASE)
#undef XC_CASE
    }
    return NULL;
}

static mmv1_fn mmv1_for(uint32_t t)
{
    switch (t) {
#define XC_CASE(name, id) \
    case id: return k_mmv1_##name;
        XC_DTYPES(XC_CASE)
#undef XC_CASE
    }
    return NULL;
}

static deq16_fn deq16_for(uint32_t t)
{
    switch (t) {
#define XC_CASE(name, id) \
    case id: return k_deq16_##name;
        XC_DTYPES(XC_CASE)
#undef XC_CASE
    }
    return NULL;
}

__global__ void k_to_f16(const float *x, __half *y, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = __float2half_rn(x[i]);
}

__global__ void k_to_bf16(const float *x, __nv_bfloat16 *y, int64_t n)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = __float2bfloat16_rn(x[i]);
}

static unsigned blocks_for(int64_t n, int per) { return (unsigned)((n + per - 1) / per); }

extern "C" int xck_blas_init(xck_blas *b, cudaStream_t stream)
{
    cublasHandle_t h;
    cublasStatus_t st = cublasCreate(&h);
    if (st != CUBLAS_STATUS_SUCCESS)
        return (int)st;
    cublasSetStream(h, stream);
    cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
    b->handle = h;
    b->stream = stream;
    return 0;
}

extern "C" void xck_blas_free(xck_blas *b)
{
    if (b->handle)
        cublasDestroy((cublasHandle_t)b->handle);
    b->handle = NULL;
}

extern "C" const char *xck_blas_error(int st) { return cublasGetStatusString((cublasStatus_t)st); }

static int mmv(xck_blas *b, const xc_mat *w, const float *x, int n, float *y, int x_quantized)
{
    mmv_fn f = mmv_for(w->dtype);
    int nsub = (int)(w->cols / 32);
    if (!f)
        return (int)cudaErrorInvalidValue;
    for (int t0 = 0; t0 < n; t0 += XC_MMV_MAX_TOKENS) {
        int k = n - t0 < XC_MMV_MAX_TOKENS ? n - t0 : XC_MMV_MAX_TOKENS, R = MMV_MAX_R;
        if (b->xq && xck_mmvq_supported(w->dtype)) {
            int rc = x_quantized && n <= XC_MMV_MAX_TOKENS
                         ? 0
                         : xck_quant_x(b->stream, x + (size_t)t0 * w->cols, k, w->cols, b->xq, b->xd);
            if (rc || (rc = xck_mmvq(b->stream, w, k, y + (size_t)t0 * w->rows, b->xq, b->xd, b->mmvq_rows)))
                return rc;
            continue;
        }
        if (w->dtype == XC_T_F16 || w->dtype == XC_T_BF16) {
            (w->dtype == XC_T_F16 ? k_mmvh_f16 : k_mmvh_bf16)<<<blocks_for(w->rows, MMV_WARPS * MMVH_R),
                                                                MMV_WARPS * 32, 0, b->stream>>>(
                (const uint8_t *)w->d, w->row_bytes, w->rows, (int)(w->cols / 8), x + (size_t)t0 * w->cols, w->cols,
                k, y + (size_t)t0 * w->rows, w->rows);
            continue;
        }
        if (k == 1) {
            mmv1_for(w->dtype)<<<blocks_for(w->rows, MMV_WARPS * MMV1_R), MMV_WARPS * 32, 0, b->stream>>>(
                (const uint8_t *)w->d, w->row_bytes, w->rows, nsub, x + (size_t)t0 * w->cols,
                y + (size_t)t0 * w->rows);
            continue;
        }
        f<<<blocks_for(w->rows, MMV_WARPS * R), MMV_WARPS * 32, 0, b->stream>>>(
            (const uint8_t *)w->d, w->row_bytes, w->rows, nsub, x + (size_t)t0 * w->cols, w->cols, k,
            y + (size_t)t0 * w->rows, w->rows, R);
    }
    return (int)cudaGetLastError();
}

/* cuBLAS status as a negative number, so callers tell it from a cudaError_t. */
static int blas_rc(cublasStatus_t st) { return st == CUBLAS_STATUS_SUCCESS ? (int)cudaGetLastError() : -(int)st; }

extern "C" int xck_matmul(xck_blas *b, const xc_mat *w, const float *x, int n, float *y)
{
    return xck_matmul_ex(b, w, x, n, y, 0);
}

extern "C" int xck_matmul_ex(xck_blas *b, const xc_mat *w, const float *x, int n, float *y, int x_quantized)
{
    const float one = 1.0f, zero = 0.0f;
    cublasHandle_t h = (cublasHandle_t)b->handle;
    int64_t m = w->rows, k = w->cols, count = (int64_t)n * k;
    if (n <= XC_MMV_MAX_TOKENS || b->mmv_only || !h)
        return mmv(b, w, x, n, y, x_quantized);
    /* column-major view: Y[rows x n] = W^T'[rows x cols] * X[cols x n] */
    if (w->dtype == XC_T_F32)
        return blas_rc(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, n, (int)k, &one, (const float *)w->d, (int)k,
                                   x, (int)k, &zero, y, (int)m));
    if (w->dtype == XC_T_BF16) {
        k_to_bf16<<<blocks_for(count, 256), 256, 0, b->stream>>>(x, (__nv_bfloat16 *)b->act16, count);
        return blas_rc(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, n, (int)k, &one, w->d, CUDA_R_16BF, (int)k,
                                    b->act16, CUDA_R_16BF, (int)k, &zero, y, CUDA_R_32F, (int)m, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT));
    }
    const void *a = w->d;
    if (w->dtype != XC_T_F16) {
        deq16_fn f = deq16_for(w->dtype);
        if (!f || !b->w16)
            return (int)cudaErrorInvalidValue;
        f<<<blocks_for(m * (k / 32), 256), 256, 0, b->stream>>>((const uint8_t *)w->d, w->row_bytes, m, (int)(k / 32),
                                                                 (__half *)b->w16);
        a = b->w16;
    }
    k_to_f16<<<blocks_for(count, 256), 256, 0, b->stream>>>(x, (__half *)b->act16, count);
    return blas_rc(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)m, n, (int)k, &one, a, CUDA_R_16F, (int)k, b->act16,
                                CUDA_R_16F, (int)k, &zero, y, CUDA_R_32F, (int)m, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT));
}
