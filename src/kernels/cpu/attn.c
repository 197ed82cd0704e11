/* attn.c - the KV row formats (f32, f16, q8_0: sizes and the store), the
 * online-softmax attention step (xllm_attn_fold) and the SiLU gate
 * (xllm_silu_mul): scalar references and the dispatch to the ISA variant
 * chosen at start-up. */
#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "base/limits.h"
#include "kernels/cpu/kernels_impl.h"

/* ---- KV rows ---- */

int xllm_kv_dtype_supported(uint32_t kv)
{
    return kv == XLLM_DTYPE_F32 || kv == XLLM_DTYPE_F16 || kv == XLLM_DTYPE_Q8_0;
}

static int q8_blocks(int n) { return (n + XLLM_QK32 - 1) / XLLM_QK32; }

size_t xllm_kv_row_bytes(uint32_t kv, int n)
{
    switch (kv) {
    case XLLM_DTYPE_F32: return (size_t)n * sizeof(float);
    case XLLM_DTYPE_F16: return (size_t)n * sizeof(uint16_t);
    case XLLM_DTYPE_Q8_0: return (size_t)q8_blocks(n) * sizeof(xllm_block_q8_0);
    default: return 0;
    }
}

void xllm_kv_store_row(uint32_t kv, const float *src, int n, void *dst)
{
    if (kv == XLLM_DTYPE_F32) {
        memcpy(dst, src, sizeof(float) * (size_t)n);
    } else if (kv == XLLM_DTYPE_F16) {
        uint16_t *h = dst;
        for (int i = 0; i < n; i++)
            h[i] = xllm_f32_to_f16(src[i]);
    } else if (kv == XLLM_DTYPE_Q8_0) {
        int full = n / XLLM_QK32 * XLLM_QK32;
        xllm_quantize_row_q8_0(src, dst, full);
        if (full < n) { /* the last, partial block: zeros after the row's end */
            float pad[XLLM_QK32] = {0};
            memcpy(pad, src + full, sizeof(float) * (size_t)(n - full));
            xllm_quantize_row_q8_0(pad, (xllm_block_q8_0 *)dst + full / XLLM_QK32, XLLM_QK32);
        }
    }
}

/* One KV row as n floats: f32 rows are returned as they are, others are
 * converted into tmp (XLLM_MAX_HEAD_DIM + XLLM_QK32 floats). */
static const float *kv_row_f32(uint32_t kv, const void *row, int n, float *tmp)
{
    if (kv == XLLM_DTYPE_F32)
        return row;
    if (kv == XLLM_DTYPE_F16)
        xllm_dequantize_row_f16(row, tmp, n);
    else
        xllm_dequantize_row_q8_0(row, tmp, (int64_t)q8_blocks(n) * XLLM_QK32);
    return tmp;
}

/* ---- attention ---- */

static float dot_ref(const float *a, const float *b, int n)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void xllm_attn_fold_ref(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                        int dv, float scale, float cap, float *m, float *l, float *acc)
{
    float tmp[XLLM_MAX_HEAD_DIM + XLLM_QK32];
    for (int j0 = 0; j0 < n; j0 += XLLM_ATTN_MAX_CHUNK) {
        int nn = n - j0 < XLLM_ATTN_MAX_CHUNK ? n - j0 : XLLM_ATTN_MAX_CHUNK;
        float sc[XLLM_ATTN_MAX_CHUNK], mb = -INFINITY;
        for (int j = 0; j < nn; j++) {
            float s = dot_ref(q, kv_row_f32(kv, kr[j0 + j], dk, tmp), dk) * scale;
            if (cap > 0.0f)
                s = cap * tanhf(s / cap);
            sc[j] = s;
            mb = s > mb ? s : mb;
        }
        if (mb > *m) {
            float r = *m == -INFINITY ? 0.0f : expf(*m - mb);
            for (int d = 0; d < dv; d++)
                acc[d] *= r;
            *l *= r;
            *m = mb;
        }
        for (int j = 0; j < nn; j++) {
            float w = expf(sc[j] - *m);
            const float *vj = kv_row_f32(kv, vr[j0 + j], dv, tmp);
            *l += w;
            for (int d = 0; d < dv; d++)
                acc[d] += w * vj[d];
        }
    }
}

void xllm_attn_fold(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk, int dv,
                    float scale, float cap, float *m, float *l, float *acc)
{
    xllm_isa isa = xllm_kernels_isa();
    if (isa == XLLM_ISA_SCALAR) {
        xllm_attn_fold_ref(kv, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
        return;
    }
    for (int j0 = 0; j0 < n; j0 += XLLM_ATTN_MAX_CHUNK) {
        int nn = n - j0 < XLLM_ATTN_MAX_CHUNK ? n - j0 : XLLM_ATTN_MAX_CHUNK;
        if (isa == XLLM_ISA_AVX512)
            xllm_attn_fold_avx512(kv, q, kr + j0, vr + j0, nn, dk, dv, scale, cap, m, l, acc);
        else
            xllm_attn_fold_avx2(kv, q, kr + j0, vr + j0, nn, dk, dv, scale, cap, m, l, acc);
    }
}

/* ---- SiLU ---- */

void xllm_silu_mul_ref(const float *g, const float *u, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float s = g[i] / (1.0f + expf(-g[i]));
        out[i] = u ? s * u[i] : s;
    }
}

void xllm_silu_mul(const float *g, const float *u, float *out, int64_t n)
{
    xllm_isa isa = xllm_kernels_isa();
    if (isa == XLLM_ISA_AVX512)
        xllm_silu_mul_avx512(g, u, out, n);
    else if (isa == XLLM_ISA_AVX2)
        xllm_silu_mul_avx2(g, u, out, n);
    else
        xllm_silu_mul_ref(g, u, out, n);
}
