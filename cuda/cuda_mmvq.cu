/* cuda_mmvq.cu - decode mat-vec kernels on int8 activations for the types
 * whose weights are 8-bit-or-less integers under one scale per 32 (Q8_0,
 * Q4_0) or per sub-block (Q4_K, Q6_K): x is quantized once per matmul to
 * int8 blocks of 32 with an f32 scale and scaled sum (xck_quant_x), and each
 * weight sub-block is unpacked to signed bytes and folded with __dp4a. The
 * reduction order (sub-blocks lane, lane+32, ... then the warp butterfly) does
 * not depend on the number of tokens, so batches of 1..8 agree bit for bit. */
#include <cuda_fp16.h>

#include "cuda_deq.cuh"
#include "cuda_kernels.h"
#include "cuda_limits.h"

#define Q_WARPS 4
#define Q_R 4 /* most rows per warp (each x load serves them all) */

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* One warp per sub-block of 32 values (xc_quant_sub). */
__global__ void k_quant_x(const float *x, int64_t n_sub, int8_t *xq, float2 *xd)
{
    int64_t sb = (int64_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    if (sb >= n_sub)
        return;
    xc_quant_sub(x[sb * 32 + (threadIdx.x & 31)], sb, xq, xd);
}

/* Weight sub-block s of a row (of nsub) as 8 words of signed bytes (element
 * order) and its scale terms: dot = dw * dx * sum(q * xq) - mw * sx. */
static __device__ __forceinline__ void wq_sub(int T, const uint8_t *row, int nsub, int s, int q[8], float *dw,
                                              float *mw)
{
    *mw = 0.0f;
    if (T == XC_T_Q4_0P) { /* one 16-byte load: nibbles of elements k, k + 16 */
        uint4 v = xc_pk_chunk(row, nsub, s, 0, 1);
        uint32_t u[4] = {v.x, v.y, v.z, v.w};
        *dw = xc_pk_scale(row, nsub, s, 16);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            q[k] = (int)__vsub4(u[k] & 0x0f0f0f0fu, 0x08080808u);
            q[k + 4] = (int)__vsub4((u[k] >> 4) & 0x0f0f0f0fu, 0x08080808u);
        }
    } else if (T == XC_T_Q8_0P) { /* two 16-byte loads */
        uint4 a = xc_pk_chunk(row, nsub, s, 0, 2), b = xc_pk_chunk(row, nsub, s, 1, 2);
        *dw = xc_pk_scale(row, nsub, s, 32);
        q[0] = (int)a.x, q[1] = (int)a.y, q[2] = (int)a.z, q[3] = (int)a.w;
        q[4] = (int)b.x, q[5] = (int)b.y, q[6] = (int)b.z, q[7] = (int)b.w;
    } else if (T == XC_T_Q8_0) {
        const uint8_t *b = row + (size_t)s * 34;
        *dw = xc_h2f(b);
#pragma unroll
        for (int k = 0; k < 8; k++)
            q[k] = (int)xc_ld32_2(b + 2 + 4 * k);
    } else if (T == XC_T_Q4_0) {
        const uint8_t *b = row + (size_t)s * 18;
        *dw = xc_h2f(b);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            uint32_t v = xc_ld32_2(b + 2 + 4 * k);
            q[k] = (int)__vsub4(v & 0x0f0f0f0fu, 0x08080808u);            /* elements 4k..4k+3 */
            q[k + 4] = (int)__vsub4((v >> 4) & 0x0f0f0f0fu, 0x08080808u); /* elements 16+4k.. */
        }
    } else if (T == XC_T_Q4_K) { /* 144-byte super-blocks: qs 16-byte aligned, two 16-byte loads */
        const uint8_t *b = row + (size_t)(s / 8) * 144;
        int j = s % 8, shift = 4 * (j & 1);
        float sc, mn;
        xc_k4_scale(b + 4, j, &sc, &mn);
        *dw = xc_h2f(b) * sc;
        *mw = xc_h2f(b + 2) * mn;
        const uint4 *qs = (const uint4 *)(b + 16 + 32 * (j / 2));
        uint4 v0 = qs[0], v1 = qs[1];
        uint32_t u[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
#pragma unroll
        for (int k = 0; k < 8; k++)
            q[k] = (int)((u[k] >> shift) & 0x0f0f0f0fu);
    }
}

/* Q6_K: two 16-element halves with their own int8 scales. */
static __device__ __forceinline__ float q6k_dot(const uint8_t *row, int s, const int *xw, float dx)
{
    const uint8_t *b = row + (size_t)(s / 8) * 210;
    int j = s % 8, h = j / 4, sub = j % 4;
    const uint8_t *ql = b + 64 * h + 32 * (sub & 1), *qh = b + 128 + 32 * h;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = xc_h2f(b + 208), r = 0.0f;
#pragma unroll
    for (int half = 0; half < 2; half++) {
        int acc = 0;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            int e = 16 * half + 4 * k;
            uint32_t lo = xc_ld32_2(ql + e), hi = xc_ld32_2(qh + e);
            lo = sub < 2 ? lo & 0x0f0f0f0fu : (lo >> 4) & 0x0f0f0f0fu;
            hi = ((hi >> (2 * sub)) & 0x03030303u) << 4;
            acc = __dp4a((int)__vsub4(lo | hi, 0x20202020u), xw[4 * half + k], acc);
        }
        r += d * (float)sc[2 * j + half] * (float)acc;
    }
    return r * dx;
}

static __device__ __forceinline__ void mmvq_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows, int nsub,
                                                 const int8_t *xq, const float2 *xd, int n, float *y, int64_t ldy,
                                                 int R)
{
    int lane = threadIdx.x & 31;
    int64_t r0 = ((int64_t)blockIdx.x * Q_WARPS + (threadIdx.x >> 5)) * R;
    float acc[Q_R][XC_MMV_MAX_TOKENS];
    if (r0 >= rows)
        return;
#pragma unroll
    for (int r = 0; r < Q_R; r++)
#pragma unroll
        for (int t = 0; t < XC_MMV_MAX_TOKENS; t++)
            acc[r][t] = 0.0f;
#pragma unroll 4
    for (int s = lane; s < nsub; s += 32) {
#pragma unroll
        for (int r = 0; r < Q_R; r++) {
            const uint8_t *row = W + (size_t)(r0 + r) * row_bytes;
            int q[8];
            float dw = 0.0f, mw = 0.0f;
            if (r >= R || r0 + r >= rows)
                break;
            if (T != XC_T_Q6_K)
                wq_sub(T, row, nsub, s, q, &dw, &mw);
#pragma unroll
            for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
                if (t >= n)
                    break;
                const int4 *xv = (const int4 *)(xq + ((size_t)t * nsub + s) * 32);
                int4 a = __ldg(xv), b = __ldg(xv + 1);
                int xw[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
                float2 dx = __ldg(xd + (size_t)t * nsub + s);
                if (T == XC_T_Q6_K) {
                    acc[r][t] += q6k_dot(row, s, xw, dx.x);
                } else {
                    int isum = 0;
#pragma unroll
                    for (int k = 0; k < 8; k++)
                        isum = __dp4a(q[k], xw[k], isum);
                    acc[r][t] += dw * dx.x * (float)isum - mw * dx.y;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < Q_R; r++) {
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

/* One row per warp, U sub-blocks a lane in flight: every weight load of a
 * step is issued before any of its dot products (without this the loads of
 * one step wait for the last step's math and HBM sees too few bytes in
 * flight). Sub-blocks fold in the order lane, lane + 32, ... as in mmvq_body,
 * for every n. Not for Q6_K (its own dot). */
#define Q_U 4
static __device__ __forceinline__ void mmvq1_body(int T, const uint8_t *W, size_t row_bytes, int64_t rows, int nsub,
                                                  const int8_t *xq, const float2 *xd, int n, float *y, int64_t ldy)
{
    int lane = threadIdx.x & 31;
    int64_t r = (int64_t)blockIdx.x * Q_WARPS + (threadIdx.x >> 5);
    const uint8_t *row = W + (size_t)r * row_bytes;
    float acc[XC_MMV_MAX_TOKENS];
    if (r >= rows)
        return;
#pragma unroll
    for (int t = 0; t < XC_MMV_MAX_TOKENS; t++)
        acc[t] = 0.0f;
    for (int s0 = lane; s0 < nsub; s0 += 32 * Q_U) {
        int q[Q_U][8];
        float dw[Q_U], mw[Q_U];
#pragma unroll
        for (int u = 0; u < Q_U; u++) {
            int s = s0 + 32 * u;
            dw[u] = mw[u] = 0.0f;
            if (s < nsub)
                wq_sub(T, row, nsub, s, q[u], &dw[u], &mw[u]);
        }
#pragma unroll
        for (int u = 0; u < Q_U; u++) {
            int s = s0 + 32 * u;
            if (s >= nsub)
                break;
#pragma unroll
            for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
                if (t >= n)
                    break;
                const int4 *xv = (const int4 *)(xq + ((size_t)t * nsub + s) * 32);
                int4 a = __ldg(xv), b = __ldg(xv + 1);
                int xw[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
                float2 dx = __ldg(xd + (size_t)t * nsub + s);
                int isum = 0;
#pragma unroll
                for (int k = 0; k < 8; k++)
                    isum = __dp4a(q[u][k], xw[k], isum);
                acc[t] += dw[u] * dx.x * (float)isum - mw[u] * dx.y;
            }
        }
    }
#pragma unroll
    for (int t = 0; t < XC_MMV_MAX_TOKENS; t++) {
        if (t >= n)
            break;
        float v = warp_sum(acc[t]);
        if (lane == 0)
            y[(size_t)t * ldy + r] = v;
    }
}

#define XC_Q1_KERNEL(name, id)                                                                               \
    __global__ void __launch_bounds__(Q_WARPS * 32) k_mmvq1_##name(const uint8_t *W, size_t rb, int64_t rows, \
                                                                   int nsub, const int8_t *xq, const float2 *xd, \
                                                                   int n, float *y, int64_t ldy)              \
    {                                                                                                        \
        mmvq1_body(id, W, rb, rows, nsub, xq, xd, n, y, ldy);                                                \
    }
XC_Q1_KERNEL(q8_0, XC_T_Q8_0)
XC_Q1_KERNEL(q4_0, XC_T_Q4_0)
XC_Q1_KERNEL(q4_k, XC_T_Q4_K)
XC_Q1_KERNEL(q4_0p, XC_T_Q4_0P)
XC_Q1_KERNEL(q8_0p, XC_T_Q8_0P)

#define XC_Q_KERNEL(name, id)                                                                               \
    __global__ void __launch_bounds__(Q_WARPS * 32) k_mmvq_##name(const uint8_t *W, size_t rb, int64_t rows, \
                                                                  int nsub, const int8_t *xq, const float2 *xd, \
                                                                  int n, float *y, int64_t ldy, int R)       \
    {                                                                                                       \
        mmvq_body(id, W, rb, rows, nsub, xq, xd, n, y, ldy, R);                                             \
    }
XC_Q_KERNEL(q8_0, XC_T_Q8_0)
XC_Q_KERNEL(q4_0, XC_T_Q4_0)
XC_Q_KERNEL(q4_k, XC_T_Q4_K)
XC_Q_KERNEL(q6_k, XC_T_Q6_K)
XC_Q_KERNEL(q4_0p, XC_T_Q4_0P)
XC_Q_KERNEL(q8_0p, XC_T_Q8_0P)

extern "C" int xck_mmvq_supported(uint32_t dtype)
{
    return dtype == XC_T_Q8_0 || dtype == XC_T_Q4_0 || dtype == XC_T_Q4_K || dtype == XC_T_Q6_K ||
           dtype == XC_T_Q4_0P || dtype == XC_T_Q8_0P;
}

/* x[n][cols] (f32) to int8 sub-blocks in xq / xd (device scratch of n * cols
 * bytes and n * cols / 32 float2), as the mat-vec below reads them. */
extern "C" int xck_quant_x(cudaStream_t st, const float *x, int n, int64_t cols, int8_t *xq, void *xd)
{
    int64_t nq = (int64_t)n * (cols / 32);
    k_quant_x<<<(unsigned)((nq + 7) / 8), 256, 0, st>>>(x, nq, xq, (float2 *)xd);
    return (int)cudaGetLastError();
}

/* y[n][rows] = x[n][cols] * W^T for n <= XC_MMV_MAX_TOKENS; x already in xq / xd
 * (xck_quant_x). rows_per_warp 0: mmvq1_body (Q6_K: 1 row per warp below 8192
 * rows, 2 above); 1..Q_R: mmvq_body with that many rows per warp (a tuning
 * knob). A row's sums do not depend on the kernel, R or n. */
extern "C" int xck_mmvq(cudaStream_t st, const xc_mat *w, int n, float *y, const int8_t *xq, const void *xd_, int R)
{
    int nsub = (int)(w->cols / 32);
    const float2 *xd = (const float2 *)xd_;
    const uint8_t *W = (const uint8_t *)w->d;
    unsigned blocks;
    if (R == 0 && w->dtype != XC_T_Q6_K) { /* the default: one row per warp, loads ahead */
        unsigned b1 = (unsigned)((w->rows + Q_WARPS - 1) / Q_WARPS);
        switch (w->dtype) {
#define XC_Q1_CASE(name, id)                                                                                 \
    case id: k_mmvq1_##name<<<b1, Q_WARPS * 32, 0, st>>>(W, w->row_bytes, w->rows, nsub, xq, xd, n, y, w->rows); break;
            XC_Q1_CASE(q8_0, XC_T_Q8_0)
            XC_Q1_CASE(q4_0, XC_T_Q4_0)
            XC_Q1_CASE(q4_k, XC_T_Q4_K)
            XC_Q1_CASE(q4_0p, XC_T_Q4_0P)
            XC_Q1_CASE(q8_0p, XC_T_Q8_0P)
#undef XC_Q1_CASE
        default: return (int)cudaErrorInvalidValue;
        }
        return (int)cudaGetLastError();
    }
    if (R < 1 || R > Q_R)
        R = w->rows < 8192 ? 1 : 2;
    blocks = (unsigned)((w->rows + Q_WARPS * R - 1) / (Q_WARPS * R));
    switch (w->dtype) {
#define XC_Q_CASE(name, id)                                                                                  \
    case id:                                                                                                 \
        k_mmvq_##name<<<blocks, Q_WARPS * 32, 0, st>>>(W, w->row_bytes, w->rows, nsub, xq, xd, n, y, w->rows, R); \
        break;
        XC_Q_CASE(q8_0, XC_T_Q8_0)
        XC_Q_CASE(q4_0, XC_T_Q4_0)
        XC_Q_CASE(q4_k, XC_T_Q4_K)
        XC_Q_CASE(q6_k, XC_T_Q6_K)
        XC_Q_CASE(q4_0p, XC_T_Q4_0P)
        XC_Q_CASE(q8_0p, XC_T_Q8_0P)
#undef XC_Q_CASE
    default: return (int)cudaErrorInvalidValue;
    }
    return (int)cudaGetLastError();
}
