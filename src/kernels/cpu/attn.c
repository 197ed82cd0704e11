/* attn.c - the online-softmax attention step (xllm_attn_fold) and the SiLU
 * gate (xllm_silu_mul): scalar references and the dispatch to the ISA
 * variant chosen at start-up. */
#include <math.h>

#include "kernels/cpu/kernels_impl.h"


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

void xllm_attn_fold_ref(const float *q, const float *const *kr, const float *const *vr, int n, int dk, int dv,
                        float scale, float cap, float *m, float *l, float *acc)
{
    for (int j0 = 0; j0 < n; j0 += XLLM_ATTN_MAX_CHUNK) {
        int nn = n - j0 < XLLM_ATTN_MAX_CHUNK ? n - j0 : XLLM_ATTN_MAX_CHUNK;
        float sc[XLLM_ATTN_MAX_CHUNK], mb = -INFINITY;
        for (int j = 0; j < nn; j++) {
            float s = dot_ref(q, kr[j0 + j], dk) * scale;
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
            const float *vj = vr[j0 + j];
            *l += w;
            for (int d = 0; d < dv; d++)
                acc[d] += w * vj[d];
        }
    }
}

void xllm_attn_fold(const float *q, const float *const *kr, const float *const *vr, int n, int dk, int dv,
                    float scale, float cap, float *m, float *l, float *acc)
{
    if (xllm_kernels_isa() == XLLM_ISA_AVX512) {
        for (int j0 = 0; j0 < n; j0 += XLLM_ATTN_MAX_CHUNK)
            xllm_attn_fold_avx512(q, kr + j0, vr + j0, n - j0 < XLLM_ATTN_MAX_CHUNK ? n - j0 : XLLM_ATTN_MAX_CHUNK,
                                  dk, dv, scale, cap, m, l, acc);
        return;
    }
    xllm_attn_fold_ref(q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
}

void xllm_silu_mul_ref(const float *g, const float *u, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float s = g[i] / (1.0f + expf(-g[i]));
        out[i] = u ? s * u[i] : s;
    }
}

void xllm_silu_mul(const float *g, const float *u, float *out, int64_t n)
{
    if (xllm_kernels_isa() == XLLM_ISA_AVX512)
        xllm_silu_mul_avx512(g, u, out, n);
    else
        xllm_silu_mul_ref(g, u, out, n);
}
