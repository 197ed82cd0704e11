/* cuda_kernels.cu - the non-matmul kernels of the forward pass: embeddings,
 * norms, residual adds (with gemma's sandwich norm and BERT-style post-LN),
 * FFN activations, soft-capping, q/k/v finishing (bias, q/k norm, rope, the
 * paged KV write in f16 or q8_0) and attention over the KV block tables.
 * Every reduction runs in a fixed order inside one block or warp, so a row's
 * result never depends on the other rows of the batch. */
#include <cuda_fp16.h>
#include <math.h>

#include "cuda_deq.cuh"
#include "cuda_kernels.h"
#include "cuda_limits.h"

#define ROW_THREADS 1024 /* a decode row is one block: wide, so its passes are short */
#define ATT_WARPS 16 /* most warps of an attention block */
#define ATT_CHUNK 4   /* positions one warp folds per step (independent loads in flight) */
#define KV_BLOCK 16   /* XLLM_KV_BLOCK_SIZE */
#define HD_REGS (XC_MAX_HEAD_DIM / 32)

/* xllm_norm_kind, xllm_rope_kind, xllm_act, xllm_ffn_kind, xllm_kv_type values */
#define NORM_RMS 0
#define ROPE_NORM 1
#define ROPE_NEOX 2
#define ACT_SILU 0
#define ACT_GELU_TANH 1
#define ACT_GELU_ERF 2
#define FFN_GATED 0
#define FFN_GATED_FUSED 1
#define KV_Q8_0 1

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (ROW_THREADS), same value in every thread, fixed order. */
static __device__ float block_sum(float v, float *sh)
{
    int w = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float s = 0.0f;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0)
        sh[w] = v;
    __syncthreads();
    for (int i = 0; i < ROW_THREADS / 32; i++)
        s += sh[i];
    return s;
}

static unsigned blocks_for(int64_t n, int per) { return (unsigned)((n + per - 1) / per); }

/* ---- embeddings ---- */

__global__ void k_embed(const uint8_t *te, uint32_t dtype, size_t row_bytes, int nsub, const int32_t *tokens,
                        float scale, float *x)
{
    const uint8_t *row = te + (size_t)tokens[blockIdx.x] * row_bytes;
    float *out = x + (size_t)blockIdx.x * nsub * 32;
    for (int s = threadIdx.x; s < nsub; s += blockDim.x) {
        float w[32];
        xc_deq32_any(dtype, row, nsub, s, w);
#pragma unroll
        for (int j = 0; j < 32; j++)
            out[s * 32 + j] = w[j] * scale;
    }
}

extern "C" int xck_embed(cudaStream_t s, const xc_mat *te, const int32_t *tokens, int n, float scale, float *x)
{
    k_embed<<<n, 128, 0, s>>>((const uint8_t *)te->d, te->dtype, te->row_bytes, (int)(te->cols / 32), tokens, scale,
                              x);
    return (int)cudaGetLastError();
}

/* ---- norms and residuals ---- */

/* In place over a row held in global memory: y = norm(x) * w (+ b); with xq
 * also y's int8 sub-blocks (row `row` of xq / xd): element i is lane i % 32 of
 * warp (i / 32) % warps, so each warp quantizes whole sub-blocks from its
 * registers (D % 32 == 0: the warps active at each step are whole). */
static __device__ void row_norm(int kind, const float *x, const float *w, const float *b, float eps, float *y, int D,
                                float *sh, int8_t *xq = NULL, float2 *xd = NULL, int64_t row = 0)
{
    float mean = 0.0f, ss = 0.0f, r;
    if (kind != NORM_RMS) {
        float s = 0.0f;
        for (int i = threadIdx.x; i < D; i += ROW_THREADS)
            s += x[i];
        mean = block_sum(s, sh) / (float)D;
    }
    for (int i = threadIdx.x; i < D; i += ROW_THREADS) {
        float d = x[i] - mean;
        ss += d * d;
    }
    ss = block_sum(ss, sh);
    r = (float)(1.0 / sqrt((double)ss / (double)D + (double)eps));
    for (int i = threadIdx.x; i < D; i += ROW_THREADS) {
        float v = (x[i] - mean) * r;
        if (w)
            v *= w[i];
        if (b)
            v += b[i];
        y[i] = v;
        if (xq)
            xc_quant_sub(v, row * (D / 32) + i / 32, xq, xd);
    }
}

__global__ void k_norm(int kind, const float *x, const int32_t *rows, const float *w, const float *b, float eps,
                       float *y, int D)
{
    __shared__ float sh[ROW_THREADS / 32];
    int r = blockIdx.x, src = rows ? rows[r] : r;
    row_norm(kind, x + (size_t)src * D, w, b, eps, y + (size_t)r * D, D, sh);
}

extern "C" int xck_norm(cudaStream_t s, int kind, const float *x, const int32_t *rows, const float *w,
                        const float *b, float eps, float *y, int n, int D)
{
    k_norm<<<n, ROW_THREADS, 0, s>>>(kind, x, rows, w, b, eps, y, D);
    return (int)cudaGetLastError();
}

/* Per row: x += h when h is set (the residual the previous block left
 * pending), y = norm(x) * w (+ b), and when xq is set y's int8 form for the
 * next matmul (xc_quant_sub, as xck_quant_x). y may be h. */
__global__ void k_res_norm(int kind, float *x, const float *h, const float *w, const float *b, float eps, float *y,
                           int D, int8_t *xq, float2 *xd)
{
    __shared__ float sh[ROW_THREADS / 32];
    size_t o = (size_t)blockIdx.x * D;
    if (h)
        for (int i = threadIdx.x; i < D; i += ROW_THREADS)
            x[o + i] += h[o + i];
    /* its sums order every read of h before the writes of y */
    row_norm(kind, x + o, w, b, eps, y + o, D, sh, xq, xd, blockIdx.x);
}

extern "C" int xck_res_norm(cudaStream_t s, int kind, float *x, const float *h, const float *w, const float *b,
                            float eps, float *y, int n, int D, int8_t *xq, void *xd)
{
    k_res_norm<<<n, ROW_THREADS, 0, s>>>(kind, x, h, w, b, eps, y, D, xq, (float2 *)xd);
    return (int)cudaGetLastError();
}

__global__ void k_residual(int kind, float *h, float *x, const float *bias, const float *post_norm,
                           const float *post_ln, const float *post_ln_b, float eps, int D)
{
    __shared__ float sh[ROW_THREADS / 32];
    float *hr = h + (size_t)blockIdx.x * D, *xr = x + (size_t)blockIdx.x * D;
    if (bias)
        for (int i = threadIdx.x; i < D; i += ROW_THREADS)
            hr[i] += bias[i];
    if (post_norm) {
        __syncthreads();
        row_norm(kind, hr, post_norm, NULL, eps, hr, D, sh);
    }
    for (int i = threadIdx.x; i < D; i += ROW_THREADS)
        xr[i] += hr[i];
    if (post_ln) {
        __syncthreads();
        row_norm(kind, xr, post_ln, post_ln_b, eps, xr, D, sh);
    }
}

extern "C" int xck_residual(cudaStream_t s, int kind, float *h, float *x, const float *bias, const float *post_norm,
                            const float *post_ln, const float *post_ln_b, float eps, int n, int D)
{
    k_residual<<<n, ROW_THREADS, 0, s>>>(kind, h, x, bias, post_norm, post_ln, post_ln_b, eps, D);
    return (int)cudaGetLastError();
}

/* ---- activations ---- */

static __device__ __forceinline__ float act1(int a, float x)
{
    if (a == ACT_SILU)
        return x / (1.0f + expf(-x));
    if (a == ACT_GELU_TANH)
        return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

__global__ void k_act(int ffn, int act, float *big, float *ff, const float *up_b, const float *gate_b, int64_t n,
                      int F)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * F)
        return;
    int64_t t = i / F;
    int f = (int)(i % F);
    if (ffn == FFN_GATED) {
        float u = big[i] + (up_b ? up_b[f] : 0.0f), g = ff[i] + (gate_b ? gate_b[f] : 0.0f);
        ff[i] = act1(act, g) * u;
    } else if (ffn == FFN_GATED_FUSED) {
        const float *row = big + t * 2 * F;
        float g = row[f] + (up_b ? up_b[f] : 0.0f), u = row[F + f] + (up_b ? up_b[F + f] : 0.0f);
        ff[i] = act1(act, g) * u;
    } else {
        ff[i] = act1(act, big[i] + (up_b ? up_b[f] : 0.0f));
    }
}

extern "C" int xck_act(cudaStream_t s, int ffn, int act, float *big, float *ff, const float *up_b,
                       const float *gate_b, int n, int F)
{
    k_act<<<blocks_for((int64_t)n * F, 256), 256, 0, s>>>(ffn, act, big, ff, up_b, gate_b, n, F);
    return (int)cudaGetLastError();
}

/* The fused-layout gated activation (ff = act(big[:F]) * big[F:], no biases)
 * with ff's int8 form for the down matmul: one warp per 32 values. */
__global__ void k_act_q(int act, const float *big, float *ff, int64_t n_sub, int F, int8_t *xq, float2 *xd)
{
    int64_t sb = (int64_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5);
    if (sb >= n_sub)
        return;
    int64_t i = sb * 32 + (threadIdx.x & 31), t = i / F;
    int f = (int)(i % F);
    const float *row = big + t * 2 * F;
    float v = act1(act, row[f]) * row[F + f];
    ff[i] = v;
    xc_quant_sub(v, sb, xq, xd);
}

extern "C" int xck_act_q(cudaStream_t s, int act, const float *big, float *ff, int n, int F, int8_t *xq, void *xd)
{
    int64_t n_sub = (int64_t)n * F / 32;
    k_act_q<<<blocks_for(n_sub, 8), 256, 0, s>>>(act, big, ff, n_sub, F, xq, (float2 *)xd);
    return (int)cudaGetLastError();
}

__global__ void k_softcap(float *x, int64_t n, float cap)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = cap * tanhf(x[i] / cap);
}

extern "C" int xck_softcap(cudaStream_t s, float *x, int64_t n, float cap)
{
    k_softcap<<<blocks_for(n, 256), 256, 0, s>>>(x, n, cap);
    return (int)cudaGetLastError();
}

/* ---- KV rows ---- */

static __device__ __forceinline__ size_t kv_row_bytes(int kv_type, int hd)
{
    return kv_type == KV_Q8_0 ? (size_t)hd / 32 * 34 : (size_t)hd * 2;
}

static __device__ __forceinline__ uint8_t *kv_row(void *base, size_t block_bytes, int32_t blk, int kvh, int slot,
                                                  int kv_type, int hd)
{
    return (uint8_t *)base + (size_t)blk * block_bytes + ((size_t)kvh * KV_BLOCK + slot) * kv_row_bytes(kv_type, hd);
}

/* Lane holds elements d = lane + 32 r of a head row. */
static __device__ __forceinline__ void kv_store(uint8_t *row, int kv_type, int hd, const float v[HD_REGS])
{
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int r = 0; r < HD_REGS; r++) {
        if (32 * r >= hd)
            break;
        if (kv_type == KV_Q8_0) {
            float amax = warp_max(fabsf(v[r])), d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
            uint8_t *b = row + 34 * r;
            if (lane == 0)
                *(__half *)b = __float2half_rn(d);
            b[2 + lane] = (uint8_t)(int8_t)__float2int_rn(v[r] * id);
        } else if (32 * r + lane < hd) {
            ((__half *)row)[32 * r + lane] = __float2half_rn(v[r]);
        }
    }
}

static __device__ __forceinline__ void kv_load(const uint8_t *row, int kv_type, int hd, float v[HD_REGS])
{
    int lane = threadIdx.x & 31;
#pragma unroll
    for (int r = 0; r < HD_REGS; r++)
        v[r] = 0.0f; /* every register: the dot products run over all HD_REGS */
#pragma unroll
    for (int r = 0; r < HD_REGS; r++) {
        if (32 * r >= hd)
            break;
        if (kv_type == KV_Q8_0) {
            const uint8_t *b = row + 34 * r;
            v[r] = __half2float(*(const __half *)b) * (float)(int8_t)b[2 + lane];
        } else if (32 * r + lane < hd) {
            v[r] = __half2float(((const __half *)row)[32 * r + lane]);
        }
    }
}

/* ---- q/k/v finishing ---- */

__global__ void __launch_bounds__(128) k_qkv(xck_batch b, xck_qkv_args a, xck_kv kv)
{
    __shared__ float buf[4][XC_MAX_HEAD_DIM];
    int t = blockIdx.x, w = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int pos = b.pos[t];
    int32_t blk = b.tables[(size_t)b.seq[t] * b.table_stride + pos / KV_BLOCK];
    int slot = pos % KV_BLOCK, half = a.n_rot / 2;
    for (int hh = blockIdx.y * 4 + w; hh < a.n_head + 2 * a.n_kv; hh += 4 * gridDim.y) {
        int kind = hh < a.n_head ? 0 : hh < a.n_head + a.n_kv ? 1 : 2; /* q, k, v */
        int h = kind == 0 ? hh : kind == 1 ? hh - a.n_head : hh - a.n_head - a.n_kv;
        int hd = kind == 2 ? a.hd_v : a.hd_k;
        const float *in = kind == 0 ? a.q_in + (size_t)t * a.sq : kind == 1 ? a.k_in + (size_t)t * a.sk
                                                                              : a.v_in + (size_t)t * a.sv;
        const float *bias = kind == 0 ? a.bq : kind == 1 ? a.bk : a.bv;
        const float *nw = kind == 0 ? a.q_norm : kind == 1 ? a.k_norm : NULL;
        float v[HD_REGS];
        in += (size_t)h * hd;
        if (bias)
            bias += (size_t)h * hd;
#pragma unroll
        for (int r = 0; r < HD_REGS; r++) {
            int d = 32 * r + lane;
            v[r] = d < hd ? in[d] + (bias ? bias[d] : 0.0f) : 0.0f;
        }
        if (nw) {
            float ss = 0.0f;
#pragma unroll
            for (int r = 0; r < HD_REGS; r++)
                ss += v[r] * v[r];
            ss = warp_sum(ss);
            float rs = (float)(1.0 / sqrt((double)ss / (double)hd + (double)a.eps));
#pragma unroll
            for (int r = 0; r < HD_REGS; r++) {
                int d = 32 * r + lane;
                v[r] = d < hd ? v[r] * rs * nw[d] : 0.0f;
            }
        }
        if (kind < 2 && a.n_rot) {
#pragma unroll
            for (int r = 0; r < HD_REGS; r++)
                if (32 * r + lane < hd)
                    buf[w][32 * r + lane] = v[r];
            __syncwarp();
#pragma unroll
            for (int r = 0; r < HD_REGS; r++) {
                int d = 32 * r + lane, i, first;
                float x0, x1;
                if (d >= a.n_rot)
                    continue;
                if (a.rope_kind == ROPE_NORM) {
                    i = d / 2, first = !(d & 1);
                    x0 = buf[w][d & ~1], x1 = buf[w][d | 1];
                } else {
                    i = d % half, first = d < half;
                    x0 = buf[w][i], x1 = buf[w][i + half];
                }
                float ang = (float)pos * a.inv_freq[i];
                double sd, cd;
                sincos((double)ang, &sd, &cd);
                float c = (float)cd * a.mscale, s = (float)sd * a.mscale;
                v[r] = first ? x0 * c - x1 * s : x0 * s + x1 * c;
            }
            __syncwarp();
        }
        if (kind == 0) {
            float *out = a.q_out + (size_t)t * a.n_head * a.hd_k + (size_t)h * a.hd_k;
#pragma unroll
            for (int r = 0; r < HD_REGS; r++)
                if (32 * r + lane < hd)
                    out[32 * r + lane] = v[r];
        } else {
            uint8_t *row = kind == 1 ? kv_row(kv.k, kv.k_block_bytes, blk, h, slot, kv.kv_type, hd)
                                     : kv_row(kv.v, kv.v_block_bytes, blk, h, slot, kv.kv_type, hd);
            kv_store(row, kv.kv_type, hd, v);
        }
    }
}

extern "C" int xck_qkv(cudaStream_t s, const xck_batch *b, const xck_qkv_args *a, const xck_kv *kv)
{
    dim3 grid((unsigned)b->n_tokens, (unsigned)((a->n_head + 2 * a->n_kv + 3) / 4)); /* a warp per head */
    k_qkv<<<grid, 128, 0, s>>>(*b, *a, *kv);
    return (int)cudaGetLastError();
}

/* ---- attention ---- */

/* One block per (head, token); warp w of NW folds chunks w, w + NW, ... of
 * ATT_CHUNK positions from lo..p with an online softmax; the warps' states
 * are then combined in warp order. */
static __device__ __forceinline__ void attn_body(int NW, const xck_batch &b, const xck_attn_args &a, const xck_kv &kv)
{
    __shared__ float sm_m[ATT_WARPS], sm_l[ATT_WARPS];
    __shared__ float sm_acc[ATT_WARPS][XC_MAX_HEAD_DIM];
    int h = blockIdx.x, t = blockIdx.y, w = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int kvh = h / (a.n_head / a.n_kv), p = b.pos[t], lo = 0;
    const int32_t *table = b.tables + (size_t)b.seq[t] * b.table_stride;
    const float *q = a.q + (size_t)t * a.n_head * a.hd_k + (size_t)h * a.hd_k;
    float qr[HD_REGS], acc[HD_REGS], m = -INFINITY, l = 0.0f;
    if (a.window > 0 && p - a.window + 1 > 0)
        lo = p - a.window + 1;
#pragma unroll
    for (int r = 0; r < HD_REGS; r++) {
        int d = 32 * r + lane;
        qr[r] = d < a.hd_k ? q[d] : 0.0f;
        acc[r] = 0.0f;
    }
    for (int j0 = lo + w * ATT_CHUNK; j0 <= p; j0 += NW * ATT_CHUNK) {
        float sc[ATT_CHUNK], cmax = -INFINITY;
#pragma unroll
        for (int c = 0; c < ATT_CHUNK; c++) {
            int j = j0 + c;
            float kr[HD_REGS], dot = 0.0f;
            sc[c] = -INFINITY;
            if (j > p)
                continue;
            kv_load(kv_row(kv.k, kv.k_block_bytes, table[j / KV_BLOCK], kvh, j % KV_BLOCK, kv.kv_type, a.hd_k),
                    kv.kv_type, a.hd_k, kr);
#pragma unroll
            for (int r = 0; r < HD_REGS; r++)
                dot = fmaf(qr[r], kr[r], dot);
            sc[c] = dot;
        }
#pragma unroll
        for (int c = 0; c < ATT_CHUNK; c++) {
            if (j0 + c > p)
                continue;
            float s = warp_sum(sc[c]) * a.scale;
            if (a.softcap > 0.0f)
                s = a.softcap * tanhf(s / a.softcap);
            sc[c] = s;
            cmax = fmaxf(cmax, s);
        }
        float mn = fmaxf(m, cmax), corr = expf(m - mn);
        l *= corr;
#pragma unroll
        for (int r = 0; r < HD_REGS; r++)
            acc[r] *= corr;
#pragma unroll
        for (int c = 0; c < ATT_CHUNK; c++) {
            int j = j0 + c;
            float vr[HD_REGS];
            if (j > p)
                continue;
            float e = expf(sc[c] - mn);
            l += e;
            kv_load(kv_row(kv.v, kv.v_block_bytes, table[j / KV_BLOCK], kvh, j % KV_BLOCK, kv.kv_type, a.hd_v),
                    kv.kv_type, a.hd_v, vr);
#pragma unroll
            for (int r = 0; r < HD_REGS; r++)
                acc[r] = fmaf(e, vr[r], acc[r]);
        }
        m = mn;
    }
    if (lane == 0)
        sm_m[w] = m, sm_l[w] = l;
#pragma unroll
    for (int r = 0; r < HD_REGS; r++)
        if (32 * r + lane < a.hd_v)
            sm_acc[w][32 * r + lane] = acc[r];
    __syncthreads();
    float M = -INFINITY, L = 0.0f;
    for (int i = 0; i < NW; i++)
        M = fmaxf(M, sm_m[i]);
    for (int i = 0; i < NW; i++)
        L += sm_l[i] * (sm_m[i] == -INFINITY ? 0.0f : expf(sm_m[i] - M));
    float *out = a.out + (size_t)t * a.n_head * a.hd_v + (size_t)h * a.hd_v;
    for (int d = threadIdx.x; d < a.hd_v; d += NW * 32) {
        float o = 0.0f;
        for (int i = 0; i < NW; i++)
            if (sm_m[i] != -INFINITY)
                o += sm_acc[i][d] * expf(sm_m[i] - M);
        o = L > 0.0f ? o / L : 0.0f;
        out[d] = o;
        if (NW == ATT_WARPS && a.xq) /* decode only (keeps the prefill kernel lean); whole warps: hd_v % 32 == 0 */
            xc_quant_sub(o, ((int64_t)t * a.n_head * a.hd_v + (int64_t)h * a.hd_v + d) / 32, a.xq, (float2 *)a.xd);
    }
}

/* a->wide (decode batches): 16 warps, so a short step is spread wide; else 8. */
__global__ void __launch_bounds__(ATT_WARPS * 32) k_attention16(xck_batch b, xck_attn_args a, xck_kv kv)
{
    attn_body(ATT_WARPS, b, a, kv);
}

__global__ void __launch_bounds__(ATT_WARPS / 2 * 32) k_attention8(xck_batch b, xck_attn_args a, xck_kv kv)
{
    attn_body(ATT_WARPS / 2, b, a, kv);
}

extern "C" int xck_attention(cudaStream_t s, const xck_batch *b, const xck_attn_args *a, const xck_kv *kv)
{
    dim3 grid((unsigned)a->n_head, (unsigned)b->n_tokens);
    if (a->wide)
        k_attention16<<<grid, ATT_WARPS * 32, 0, s>>>(*b, *a, *kv);
    else
        k_attention8<<<grid, ATT_WARPS / 2 * 32, 0, s>>>(*b, *a, *kv);
    return (int)cudaGetLastError();
}

extern "C" int xck_kv_copy(cudaStream_t s, const xck_kv *kv, int32_t src, int32_t dst)
{
    cudaError_t e = cudaMemcpyAsync((uint8_t *)kv->k + (size_t)dst * kv->k_block_bytes,
                                    (const uint8_t *)kv->k + (size_t)src * kv->k_block_bytes, kv->k_block_bytes,
                                    cudaMemcpyDeviceToDevice, s);
    if (e == cudaSuccess)
        e = cudaMemcpyAsync((uint8_t *)kv->v + (size_t)dst * kv->v_block_bytes,
                            (const uint8_t *)kv->v + (size_t)src * kv->v_block_bytes, kv->v_block_bytes,
                            cudaMemcpyDeviceToDevice, s);
    return (int)e;
}
