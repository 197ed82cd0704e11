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

/* The fixed-order warp sum (xor butterfly: every lane gets the same bits). */
static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* One warp per row r: y[t][r] = sum_s dot(W[r] sub-block s, x[t] sub-block s). */
static __device__ __forceinline__ void mmv_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows, int nsub,
                                                const float *x, int64_t ldx, int n, float *y, int64_t ldy)
{
    int lane = threadIdx.x & 31;
    int64_t r = (int64_t)blockIdx.x * MMV_WARPS + (threadIdx.x >> 5);
    float acc[XC_MMV_MAX_TOKENS];
    if (r >= rows)
        return;
    const uint8_t *row = W + (size_t)r * row_bytes;
#pragma unroll
    for (int t = 0; t < XC_MMV_MAX_TOKENS; t++)
        acc[t] = 0.0f;
    for (int s = lane; s < nsub; s += 32) {
        float w[32];
        xc_deq32(T, row, s, w);
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
            if (t < n) {
                const float4 *xv = (const float4 *)(x + (size_t)t * ldx + (size_t)s * 32);
                float p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f;
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    float4 v = __ldg(xv + k);
                    p0 = fmaf(w[4 * k], v.x, p0);
                    p1 = fmaf(w[4 * k + 1], v.y, p1);
                    p2 = fmaf(w[4 * k + 2], v.z, p2);
                    p3 = fmaf(w[4 * k + 3], v.w, p3);
                }
                acc[t] += (p0 + p1) + (p2 + p3);
            }
        }
    }
#pragma unroll
    for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
        if (t < n) {
            float v = warp_sum(acc[t]);
            if (lane == 0)
                y[(size_t)t * ldy + r] = v;
        }
    }
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
    xc_deq32(T, W + (size_t)r * row_bytes, s, w);
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
                                                                   float *y, int64_t ldy)                        \
    {                                                                                                          \
        mmv_body(id, W, rb, rows, nsub, x, ldx, n, y, ldy);                                                    \
    }                                                                                                          \
    __global__ void k_deq16_##name(const uint8_t *W, size_t rb, int64_t rows, int nsub, __half *out)           \
    {                                                                                                          \
        deq16_body(id, W, rb, rows, nsub, out);                                                                \
    }
XC_DTYPES(XC_KERNELS)
#undef XC_KERNELS

typedef void (*mmv_fn)(const uint8_t *, size_t, int64_t, int, const float *, int64_t, int, float *, int64_t);
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

static int mmv(xck_blas *b, const xc_mat *w, const float *x, int n, float *y)
{
    mmv_fn f = mmv_for(w->dtype);
    int nsub = (int)(w->cols / 32);
    if (!f)
        return (int)cudaErrorInvalidValue;
    for (int t0 = 0; t0 < n; t0 += XC_MMV_MAX_TOKENS) {
        int k = n - t0 < XC_MMV_MAX_TOKENS ? n - t0 : XC_MMV_MAX_TOKENS;
        f<<<blocks_for(w->rows, MMV_WARPS), MMV_WARPS * 32, 0, b->stream>>>(
            (const uint8_t *)w->d, w->row_bytes, w->rows, nsub, x + (size_t)t0 * w->cols, w->cols, k,
            y + (size_t)t0 * w->rows, w->rows);
    }
    return (int)cudaGetLastError();
}

/* cuBLAS status as a negative number, so callers tell it from a cudaError_t. */
static int blas_rc(cublasStatus_t st) { return st == CUBLAS_STATUS_SUCCESS ? (int)cudaGetLastError() : -(int)st; }

extern "C" int xck_matmul(xck_blas *b, const xc_mat *w, const float *x, int n, float *y)
{
    const float one = 1.0f, zero = 0.0f;
    cublasHandle_t h = (cublasHandle_t)b->handle;
    int64_t m = w->rows, k = w->cols, count = (int64_t)n * k;
    if (n <= XC_MMV_MAX_TOKENS || b->mmv_only || !h)
        return mmv(b, w, x, n, y);
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
