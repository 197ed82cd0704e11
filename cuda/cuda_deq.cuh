/* cuda_deq.cuh - device dequantization of one 32-element sub-block of a GGUF
 * row (every type the engine reads), in registers. Sub-block s covers row
 * elements 32s..32s+31; for the K-quants it is sub-block s % 8 of super-block
 * s / 8. Layouts: src/kernels/cpu/quant_blocks.h. Header for the .cu files. */
#ifndef XLLM_CUDA_DEQ_CUH
#define XLLM_CUDA_DEQ_CUH

#include <stdint.h>
#include <cuda_fp16.h>

#include "cuda_limits.h"

#define XC_T_F32 0
#define XC_T_F16 1
#define XC_T_Q4_0 2
#define XC_T_Q4_1 3
#define XC_T_Q5_0 6
#define XC_T_Q5_1 7
#define XC_T_Q8_0 8
#define XC_T_Q2_K 10
#define XC_T_Q3_K 11
#define XC_T_Q4_K 12
#define XC_T_Q5_K 13
#define XC_T_Q6_K 14
#define XC_T_IQ4_NL 20
#define XC_T_BF16 30

/* X(name, id) for every dtype with a kernel. */
#define XC_DTYPES(X) \
    X(f32, XC_T_F32) X(f16, XC_T_F16) X(bf16, XC_T_BF16) X(q8_0, XC_T_Q8_0) X(q4_0, XC_T_Q4_0) \
    X(q4_1, XC_T_Q4_1) X(q5_0, XC_T_Q5_0) X(q5_1, XC_T_Q5_1) X(q2_k, XC_T_Q2_K) X(q3_k, XC_T_Q3_K) \
    X(q4_k, XC_T_Q4_K) X(q5_k, XC_T_Q5_K) X(q6_k, XC_T_Q6_K) X(iq4_nl, XC_T_IQ4_NL) \
    X(q4_0p, XC_T_Q4_0P) X(q8_0p, XC_T_Q8_0P)

__constant__ static const int8_t xc_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                        1,    13,   25,  38,  53,  69,  89,  113};

static __device__ __forceinline__ float xc_h2f(const uint8_t *p)
{
    return __half2float(__ushort_as_half(*(const uint16_t *)p));
}

static __device__ __forceinline__ uint32_t xc_ld32_2(const uint8_t *p) /* 2-byte aligned */
{
    const uint16_t *h = (const uint16_t *)p;
    return (uint32_t)h[0] | (uint32_t)h[1] << 16;
}

/* Packed rows (cuda_pack.h): 16-byte chunk k of sub-block s's quants, and its scale. */
static __device__ __forceinline__ uint4 xc_pk_chunk(const uint8_t *row, int nsub, int s, int k, int nchunk)
{
    int g0 = s & ~31, n = nsub - g0 < 32 ? nsub - g0 : 32;
    return *(const uint4 *)(row + ((size_t)g0 * nchunk + (size_t)k * n + (s - g0)) * 16);
}

static __device__ __forceinline__ float xc_pk_scale(const uint8_t *row, int nsub, int s, int qbytes)
{
    return xc_h2f(row + (size_t)nsub * qbytes + 2 * (size_t)s);
}

/* Q4_0 / Q4_1 / IQ4_NL / Q5_x nibbles: element j low nibble of qs[j], j+16 high. */
static __device__ __forceinline__ void xc_nibbles(const uint8_t *qs, int q[32])
{
#pragma unroll
    for (int k = 0; k < 8; k++) {
        uint32_t v = *(const uint16_t *)(qs + 2 * k);
        q[2 * k] = (int)(v & 15u);
        q[2 * k + 16] = (int)((v >> 4) & 15u);
        q[2 * k + 1] = (int)((v >> 8) & 15u);
        q[2 * k + 17] = (int)((v >> 12) & 15u);
    }
}

static __device__ __forceinline__ void xc_k4_scale(const uint8_t *s, int j, float *sc, float *mn)
{
    if (j < 4) {
        *sc = (float)(s[j] & 63);
        *mn = (float)(s[j + 4] & 63);
    } else {
        *sc = (float)((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
        *mn = (float)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

static __device__ __forceinline__ int xc_q3k_scale(const uint8_t *s, int j)
{
    int low = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

/* w[0..32) = sub-block s of the row (of nsub). T is a compile-time constant at every call. */
static __device__ __forceinline__ void xc_deq32(int T, const uint8_t *row, int nsub, int s, float w[32])
{
    switch (T) {
    case XC_T_Q4_0P: {
        uint4 v = xc_pk_chunk(row, nsub, s, 0, 1);
        uint32_t u[4] = {v.x, v.y, v.z, v.w};
        float d = xc_pk_scale(row, nsub, s, 16);
#pragma unroll
        for (int k = 0; k < 4; k++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                w[4 * k + e] = d * (float)((int)((u[k] >> (8 * e)) & 15u) - 8);
                w[16 + 4 * k + e] = d * (float)((int)((u[k] >> (8 * e + 4)) & 15u) - 8);
            }
        break;
    }
    case XC_T_Q8_0P: {
        float d = xc_pk_scale(row, nsub, s, 32);
#pragma unroll
        for (int c = 0; c < 2; c++) {
            uint4 v = xc_pk_chunk(row, nsub, s, c, 2);
            uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int k = 0; k < 4; k++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    w[16 * c + 4 * k + e] = d * (float)(int8_t)(u[k] >> (8 * e));
        }
        break;
    }
    case XC_T_F32: {
        const float4 *p = (const float4 *)(row + (size_t)s * 128);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            float4 v = p[k];
            w[4 * k] = v.x, w[4 * k + 1] = v.y, w[4 * k + 2] = v.z, w[4 * k + 3] = v.w;
        }
        break;
    }
    case XC_T_F16: {
        const uint4 *p = (const uint4 *)(row + (size_t)s * 64);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            uint4 v = p[k];
            uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float2 f = __half22float2(*(const __half2 *)&u[e]);
                w[8 * k + 2 * e] = f.x, w[8 * k + 2 * e + 1] = f.y;
            }
        }
        break;
    }
    case XC_T_BF16: {
        const uint4 *p = (const uint4 *)(row + (size_t)s * 64);
#pragma unroll
        for (int k = 0; k < 4; k++) {
            uint4 v = p[k];
            uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int e = 0; e < 4; e++) {
                w[8 * k + 2 * e] = __uint_as_float(u[e] << 16);
                w[8 * k + 2 * e + 1] = __uint_as_float(u[e] & 0xffff0000u);
            }
        }
        break;
    }
    case XC_T_Q8_0: {
        const uint8_t *b = row + (size_t)s * 34;
        float d = xc_h2f(b);
#pragma unroll
        for (int k = 0; k < 16; k++) {
            uint16_t v = *(const uint16_t *)(b + 2 + 2 * k);
            w[2 * k] = d * (float)(int8_t)(v & 0xff);
            w[2 * k + 1] = d * (float)(int8_t)(v >> 8);
        }
        break;
    }
    case XC_T_Q4_0:
    case XC_T_IQ4_NL: {
        const uint8_t *b = row + (size_t)s * 18;
        float d = xc_h2f(b);
        int q[32];
        xc_nibbles(b + 2, q);
#pragma unroll
        for (int j = 0; j < 32; j++)
            w[j] = T == XC_T_Q4_0 ? d * (float)(q[j] - 8) : d * (float)xc_iq4nl_values[q[j]];
        break;
    }
    case XC_T_Q4_1: {
        const uint8_t *b = row + (size_t)s * 20;
        float d = xc_h2f(b), m = xc_h2f(b + 2);
        int q[32];
        xc_nibbles(b + 4, q);
#pragma unroll
        for (int j = 0; j < 32; j++)
            w[j] = d * (float)q[j] + m;
        break;
    }
    case XC_T_Q5_0:
    case XC_T_Q5_1: {
        const int one = T == XC_T_Q5_1;
        const uint8_t *b = row + (size_t)s * (one ? 24 : 22);
        float d = xc_h2f(b), m = one ? xc_h2f(b + 2) : 0.0f;
        uint32_t h = xc_ld32_2(b + (one ? 4 : 2));
        int q[32];
        xc_nibbles(b + (one ? 8 : 6), q);
#pragma unroll
        for (int j = 0; j < 32; j++) {
            int v = q[j] | (int)((h >> j) & 1u) << 4;
            w[j] = one ? d * (float)v + m : d * (float)(v - 16);
        }
        break;
    }
    case XC_T_Q4_K:
    case XC_T_Q5_K: {
        const int five = T == XC_T_Q5_K;
        const uint8_t *b = row + (size_t)(s / 8) * (five ? 176 : 144);
        int j = s % 8;
        float d = xc_h2f(b), dmin = xc_h2f(b + 2), sc, mn;
        xc_k4_scale(b + 4, j, &sc, &mn);
        const uint8_t *qs = b + (five ? 48 : 16) + 32 * (j / 2);
        const uint8_t *qh = b + 16;
        float ds = d * sc, dm = dmin * mn;
        int shift = 4 * (j & 1);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            uint32_t v = *(const uint32_t *)(qs + 4 * k);
            uint32_t hv = five ? *(const uint32_t *)(qh + 4 * k) : 0;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int q = (int)((v >> (8 * e + shift)) & 15u);
                if (five)
                    q |= (int)((hv >> (8 * e + j)) & 1u) << 4;
                w[4 * k + e] = ds * (float)q - dm;
            }
        }
        break;
    }
    case XC_T_Q2_K: {
        const uint8_t *b = row + (size_t)(s / 8) * 84;
        int j = s % 8;
        float d = xc_h2f(b + 80), dmin = xc_h2f(b + 82);
        const uint8_t *qs = b + 16 + 32 * (j / 4);
        int shift = 2 * (j % 4);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            uint8_t sv = b[2 * j + half];
            float ds = d * (float)(sv & 15), dm = dmin * (float)(sv >> 4);
#pragma unroll
            for (int l = 0; l < 16; l++)
                w[16 * half + l] = ds * (float)((qs[16 * half + l] >> shift) & 3) - dm;
        }
        break;
    }
    case XC_T_Q3_K: {
        const uint8_t *b = row + (size_t)(s / 8) * 110;
        int j = s % 8;
        float d = xc_h2f(b + 108);
        const uint8_t *qs = b + 32 + 32 * (j / 4);
        int shift = 2 * (j % 4);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            float ds = d * (float)xc_q3k_scale(b + 96, 2 * j + half);
#pragma unroll
            for (int l = 0; l < 16; l++) {
                int e = 16 * half + l;
                int q = ((qs[e] >> shift) & 3) | ((b[e] >> j) & 1) << 2;
                w[e] = ds * (float)(q - 4);
            }
        }
        break;
    }
    case XC_T_Q6_K: {
        const uint8_t *b = row + (size_t)(s / 8) * 210;
        int j = s % 8, h = j / 4, sub = j % 4;
        float d = xc_h2f(b + 208);
        const uint8_t *ql = b + 64 * h + 32 * (sub & 1);
        const uint8_t *qh = b + 128 + 32 * h;
        const int8_t *sc = (const int8_t *)(b + 192);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            float ds = d * (float)sc[2 * j + half];
#pragma unroll
            for (int l = 0; l < 16; l++) {
                int e = 16 * half + l;
                int low = sub < 2 ? ql[e] & 15 : ql[e] >> 4;
                int q = low | ((qh[e] >> (2 * sub)) & 3) << 4;
                w[e] = ds * (float)(q - 32);
            }
        }
        break;
    }
    default:
#pragma unroll
        for (int j = 0; j < 32; j++)
            w[j] = 0.0f;
    }
}

/* One warp quantizes the 32 values v (one per lane) of activation sub-block
 * sb: q = round(v / d), d = amax / 127; xd[sb] = (d, d * sum(q)). Every
 * producer of int8 activations (xck_quant_x, the fused norms) calls this, so
 * they agree bit for bit. */
static __device__ __forceinline__ void xc_quant_sub(float v, int64_t sb, int8_t *xq, float2 *xd)
{
    int lane = threadIdx.x & 31;
    float a = fabsf(v);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        a = fmaxf(a, __shfl_xor_sync(0xffffffffu, a, o));
    float d = a / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    int q = __float2int_rn(v * id);
    xq[sb * 32 + lane] = (int8_t)q;
    int sum = q;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0)
        xd[sb] = make_float2(d, d * (float)sum);
}

/* Run-time dtype (embedding rows: not hot). */
static __device__ void xc_deq32_any(uint32_t t, const uint8_t *row, int nsub, int s, float w[32])
{
    switch (t) {
#define XC_CASE(name, id) \
    case id: xc_deq32(id, row, nsub, s, w); return;
        XC_DTYPES(XC_CASE)
#undef XC_CASE
    default: xc_deq32(-1, row, nsub, s, w);
    }
}

#endif
