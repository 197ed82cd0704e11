/* attn_avx2.c - AVX2/FMA/F16C online-softmax attention step over f32, f16
 * (F16C conversion) or q8_0 (int8 widened to f32, times the block scale) KV
 * rows, for CPUs without AVX-512: 8-wide dot products, the scores' exp with
 * the polynomial of attn_avx512.c (exponent built from integers), and the V
 * update with broadcast weights; and the SiLU gate with the same exp.
 * test_attn.c holds both to the scalar references.
 * Compiled with AVX2 flags; called only after the CPU check. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "base/limits.h"
#include "kernels/cpu/kernels_impl.h"

#define ALWAYS static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

enum { KV_F32, KV_F16, KV_Q8 };

ALWAYS float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* exp(x) for x <= 88; 0 below -87.3 (where expf is 2^-126 or smaller). */
ALWAYS __m256 exp8(__m256 x)
{
    __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

ALWAYS const uint8_t *q8_block(const uint8_t *row, int i) { return row + (size_t)(i / 32) * sizeof(xllm_block_q8_0); }

ALWAYS float q8_scale(const uint8_t *row, int i)
{
    uint16_t h;
    memcpy(&h, q8_block(row, i), 2);
    return _cvtsh_ss(h);
}

/* 8 elements from element i (q8_0: i a multiple of 8; unscaled levels). */
ALWAYS __m256 load8(const int kind, const uint8_t *row, int i)
{
    if (kind == KV_F32)
        return _mm256_loadu_ps((const float *)row + i);
    if (kind == KV_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q8_block(row, i) + 2 + i % 32))));
}

/* One element (tails; q8_0: unscaled level). */
ALWAYS float elem(const int kind, const uint8_t *row, int i)
{
    if (kind == KV_F32)
        return ((const float *)row)[i];
    if (kind == KV_F16) {
        uint16_t h;
        memcpy(&h, row + 2 * (size_t)i, 2);
        return _cvtsh_ss(h);
    }
    return (float)(int8_t)q8_block(row, i)[2 + i % 32];
}

/* q . k: two 8-lane accumulators (elements 16i.. and 16i+8..), then the
 * scalar tail (q8_0: q is zero-padded to whole blocks; each block's sum, two
 * halves added, times its scale, blocks alternating between the two). */
ALWAYS float kdot(const int kind, const float *q, const uint8_t *k, int dk)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    if (kind == KV_Q8) {
        for (int i = 0; i < dk; i += 32) {
            __m256 b0 = _mm256_mul_ps(_mm256_loadu_ps(q + i), load8(kind, k, i));
            __m256 b1 = _mm256_mul_ps(_mm256_loadu_ps(q + i + 16), load8(kind, k, i + 16));
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8(kind, k, i + 8), b0);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24), load8(kind, k, i + 24), b1);
            __m256 d = _mm256_set1_ps(q8_scale(k, i));
            if ((i / 32) % 2 == 0)
                s0 = _mm256_fmadd_ps(_mm256_add_ps(b0, b1), d, s0);
            else
                s1 = _mm256_fmadd_ps(_mm256_add_ps(b0, b1), d, s1);
        }
        return hsum8(_mm256_add_ps(s0, s1));
    }
    int i = 0;
    for (; i + 16 <= dk; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(kind, k, i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8(kind, k, i + 8), s1);
    }
    if (i + 8 <= dk) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(kind, k, i), s0);
        i += 8;
    }
    float t = hsum8(_mm256_add_ps(s0, s1));
    for (; i < dk; i++)
        t += q[i] * elem(kind, k, i);
    return t;
}

ALWAYS float vweight(const int kind, float w, const uint8_t *row, int d)
{
    return kind == KV_Q8 ? w * q8_scale(row, d) : w;
}

/* acc[d0 .. d0 + 8 NV) += sum_j w_j v_j, the NV vectors in registers, keys
 * in order (one chain per element; q8_0: NV * 8 <= 32 or a multiple of 32,
 * d0 a multiple of 8 NV, so each vector lies in one block). */
ALWAYS void vchunk(const int kind, const int NV, const float *sc, const void *const *vr, int n, int d0, float *acc)
{
    __m256 a[8];
    UNROLL
    for (int v = 0; v < NV; v++)
        a[v] = _mm256_loadu_ps(acc + d0 + 8 * v);
    for (int j = 0; j < n; j++) {
        __m256 w[2]; /* q8_0: the weight times the scale of each block the vectors span */
        UNROLL
        for (int b = 0; b < (NV + 3) / 4; b++)
            w[b] = _mm256_set1_ps(vweight(kind, sc[j], vr[j], d0 + 32 * b));
        UNROLL
        for (int v = 0; v < NV; v++)
            a[v] = _mm256_fmadd_ps(w[v / 4], load8(kind, vr[j], d0 + 8 * v), a[v]);
    }
    UNROLL
    for (int v = 0; v < NV; v++)
        _mm256_storeu_ps(acc + d0 + 8 * v, a[v]);
}

ALWAYS void fold(const int kind, const float *q, const void *const *kr, const void *const *vr, int n, int dk, int dv,
                 float scale, float cap, float *m, float *l, float *acc)
{
    float sc[XLLM_ATTN_MAX_CHUNK] __attribute__((aligned(32)));
    float qp[XLLM_MAX_HEAD_DIM + 32] __attribute__((aligned(32)));
    float mb = -INFINITY;
    if (kind == KV_Q8) { /* whole blocks: zeros after the head's end */
        int full = (dk + 31) / 32 * 32;
        memcpy(qp, q, sizeof(float) * (size_t)dk);
        memset(qp + dk, 0, sizeof(float) * (size_t)(full - dk));
        q = qp;
    }
    for (int j = 0; j < n; j++) {
        float s = kdot(kind, q, kr[j], dk) * scale;
        if (cap > 0.0f)
            s = cap * tanhf(s / cap);
        sc[j] = s;
        mb = s > mb ? s : mb;
    }
    for (int j = n; j % 8; j++)
        sc[j] = -INFINITY; /* exp8 gives 0 */
    if (mb > *m) {
        float r = *m == -INFINITY ? 0.0f : expf(*m - mb);
        for (int d = 0; d < dv; d++)
            acc[d] *= r;
        *l *= r;
        *m = mb;
    }
    __m256 mv = _mm256_set1_ps(*m), lsum = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) {
        __m256 w = exp8(_mm256_sub_ps(_mm256_load_ps(sc + j), mv));
        lsum = _mm256_add_ps(lsum, w);
        _mm256_store_ps(sc + j, w);
    }
    *l += hsum8(lsum);
    int d = 0;
    for (; d + 64 <= dv; d += 64)
        vchunk(kind, 8, sc, vr, n, d, acc);
    for (; d + 8 <= dv; d += 8)
        vchunk(kind, 1, sc, vr, n, d, acc);
    for (; d < dv; d++)
        for (int j = 0; j < n; j++)
            acc[d] += vweight(kind, sc[j], vr[j], d) * elem(kind, vr[j], d);
}

void xllm_attn_fold_avx2(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                         int dv, float scale, float cap, float *m, float *l, float *acc)
{
    if (kv == XLLM_DTYPE_F16)
        fold(KV_F16, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
    else if (kv == XLLM_DTYPE_Q8_0)
        fold(KV_Q8, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
    else
        fold(KV_F32, q, kr, vr, n, dk, dv, scale, cap, m, l, acc);
}

/* SiLU gate with exp8; the tail (n % 8) through a masked load and store. */
void xllm_silu_mul_avx2(const float *g, const float *u, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 8) {
        int left = n - i >= 8 ? 8 : (int)(n - i);
        __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 x = _mm256_maskload_ps(g + i, k);
        __m256 s = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        if (u)
            s = _mm256_mul_ps(s, _mm256_maskload_ps(u + i, k));
        _mm256_maskstore_ps(out + i, k, s);
    }
}
