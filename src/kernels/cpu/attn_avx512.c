/* attn_avx512.c - AVX-512 online-softmax attention step: dot products with
 * 16-wide FMAs, a vector exp (Cephes-style polynomial; test_attn.c holds it to
 * the scalar reference within ATTN_REL_TOL) over the
 * chunk's scores, and the V update with broadcast weights; and the SiLU
 * gate with the same exp. Compiled with
 * AVX-512 flags; called only after the CPU check. */
#include <immintrin.h>
#include <math.h>

#include "kernels/cpu/kernels_impl.h"

#define ALWAYS static inline __attribute__((always_inline))

/* exp(x): underflows to 0 below about -104, overflows to inf above 88.7
 * (scalef saturates). */
ALWAYS __m512 exp_neg(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(100.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

ALWAYS float dot16(const float *a, const float *b, int n)
{
    __m512 s = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16)
        s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s);
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s);
    }
    return _mm512_reduce_add_ps(s);
}

void xllm_attn_fold_avx512(const float *q, const float *const *kr, const float *const *vr, int n, int dk, int dv,
                           float scale, float cap, float *m, float *l, float *acc)
{
    float sc[XLLM_ATTN_MAX_CHUNK] __attribute__((aligned(64)));
    float mb = -INFINITY;
    for (int j = 0; j < n; j++) {
        float s = dot16(q, kr[j], dk) * scale;
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
    __m512 mv = _mm512_set1_ps(*m), lsum = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        __m512 w = exp_neg(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, sc + j), mv));
        w = _mm512_maskz_mov_ps(k, w);
        lsum = _mm512_add_ps(lsum, w);
        _mm512_store_ps(sc + j, w);
    }
    *l += _mm512_reduce_add_ps(lsum);
    for (int d = 0; d < dv; d += 16) {
        __mmask16 k = dv - d >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (dv - d)) - 1);
        __m512 a0 = _mm512_maskz_loadu_ps(k, acc + d), a1 = _mm512_setzero_ps();
        int j = 0;
        for (; j + 2 <= n; j += 2) {
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), _mm512_maskz_loadu_ps(k, vr[j] + d), a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j + 1]), _mm512_maskz_loadu_ps(k, vr[j + 1] + d), a1);
        }
        if (j < n)
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(sc[j]), _mm512_maskz_loadu_ps(k, vr[j] + d), a0);
        _mm512_mask_storeu_ps(acc + d, k, _mm512_add_ps(a0, a1));
    }
}

void xllm_silu_mul_avx512(const float *g, const float *u, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(k, g + i);
        __m512 s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_neg(_mm512_sub_ps(_mm512_setzero_ps(), x))));
        if (u)
            s = _mm512_mul_ps(s, _mm512_maskz_loadu_ps(k, u + i));
        _mm512_mask_storeu_ps(out + i, k, s);
    }
}
