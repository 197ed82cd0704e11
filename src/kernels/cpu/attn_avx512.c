/* attn_avx512.c - AVX-512 online-softmax attention step over f32, f16 (F16C
 * conversion) or q8_0 (int8 widened to f32, times the block scale) KV rows:
 * dot products with 16-wide FMAs, a vector exp (Cephes-style polynomial;
 * test_attn.c holds it to the scalar reference within ATTN_REL_TOL) over the
 * chunk's scores, and the V update with broadcast weights; and the SiLU gate
 * with the same exp. Compiled with AVX-512 flags; called only after the CPU
 * check. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

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

/* KV element kinds, fixed per instantiation of the fold below. */
enum { KV_F32, KV_F16, KV_Q8 };

/* lanes [0, left) of 16 */
ALWAYS __mmask16 tail_mask(int left)
{
    return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

/* 16 elements of a row from element i, masked by k (q8_0: i a multiple of
 * 16, within one block; the scale is applied by the caller). */
ALWAYS __m512 load16(const int kind, const uint8_t *row, int i, __mmask16 k)
{
    if (kind == KV_F32)
        return _mm512_maskz_loadu_ps(k, (const float *)row + i);
    if (kind == KV_F16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, (const uint16_t *)row + i));
    const uint8_t *qs = row + (size_t)(i / 32) * sizeof(xllm_block_q8_0) + 2 + i % 32;
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, qs)));
}

ALWAYS float q8_scale(const uint8_t *row, int i)
{
    uint16_t h;
    memcpy(&h, row + (size_t)(i / 32) * sizeof(xllm_block_q8_0), 2);
    return _cvtsh_ss(h);
}

/* q . k over dk elements: one accumulator, 16 lanes, blocks in order
 * (q8_0: the block's two halves summed, then times its scale). */
ALWAYS float kdot(const int kind, const float *q, const uint8_t *k, int dk)
{
    __m512 s = _mm512_setzero_ps();
    if (kind == KV_Q8) {
        for (int i = 0; i < dk; i += 32) {
            __m512 lo = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail_mask(dk - i), q + i), load16(kind, k, i, 0xFFFF));
            __m512 b = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask(dk - i - 16), q + i + 16),
                                       load16(kind, k, i + 16, 0xFFFF), lo);
            s = _mm512_fmadd_ps(b, _mm512_set1_ps(q8_scale(k, i)), s);
        }
        return _mm512_reduce_add_ps(s);
    }
    for (int i = 0; i < dk; i += 16) {
        __mmask16 m = tail_mask(dk - i);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), load16(kind, k, i, m), s);
    }
    return _mm512_reduce_add_ps(s);
}

ALWAYS void fold(const int kind, const float *q, const void *const *kr, const void *const *vr, int n, int dk, int dv,
                 float scale, float cap, float *m, float *l, float *acc)
{
    float sc[XLLM_ATTN_MAX_CHUNK] __attribute__((aligned(64)));
    float mb = -INFINITY;
    for (int j = 0; j < n; j++) {
        float s = kdot(kind, q, kr[j], dk) * scale;
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
        __mmask16 k = tail_mask(n - j);
        __m512 w = exp_neg(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, sc + j), mv));
        w = _mm512_maskz_mov_ps(k, w);
        lsum = _mm512_add_ps(lsum, w);
        _mm512_store_ps(sc + j, w);
    }
    *l += _mm512_reduce_add_ps(lsum);
    for (int d = 0; d < dv; d += 16) {
        __mmask16 k = tail_mask(dv - d);
        __m512 a0 = _mm512_maskz_loadu_ps(k, acc + d), a1 = _mm512_setzero_ps();
        int j = 0;
        /* q8_0: the weight times the row's block scale, one broadcast */
#define VW(jj) _mm512_set1_ps(kind == KV_Q8 ? sc[jj] * q8_scale(vr[jj], d) : sc[jj])
        for (; j + 2 <= n; j += 2) {
            a0 = _mm512_fmadd_ps(VW(j), load16(kind, vr[j], d, k), a0);
            a1 = _mm512_fmadd_ps(VW(j + 1), load16(kind, vr[j + 1], d, k), a1);
        }
        if (j < n)
            a0 = _mm512_fmadd_ps(VW(j), load16(kind, vr[j], d, k), a0);
#undef VW
        _mm512_mask_storeu_ps(acc + d, k, _mm512_add_ps(a0, a1));
    }
}

void xllm_attn_fold_avx512(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                           int dv, float scale, float cap, float *m, float *l, float *acc)
{
    if (kv == XLLM_DTYPE_F16)
        fold(KV_F16, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
    else if (kv == XLLM_DTYPE_Q8_0)
        fold(KV_Q8, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
    else
        fold(KV_F32, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
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
