/* packed_avx512.c - AVX-512 VNNI tiles over the packed 16-row layouts of
 * kernels_impl.h (Q4_0x16, Q8_0x16) with Q8X activations, and the Q8X
 * quantizer. Lane j of every vector is row j of the group: a 64-byte load
 * holds 4 levels of each of 16 rows, vpdpbusd multiplies them with 4
 * broadcast activation bytes, and the 16 outputs leave with one store, so
 * no horizontal sums are needed. Compiled with AVX-512 flags; called only
 * after the CPU check. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("no-avxvnni") /* keep VNNI EVEX-only: AVX-VNNI is not required */
#endif
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"

#define ALWAYS static inline __attribute__((always_inline))
#define PNC 4 /* activation rows per register tile */
#define UNROLL _Pragma("GCC unroll 8")

ALWAYS int32_t ld32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

ALWAYS __m512i bcast32(const uint8_t *p) { return _mm512_set1_epi32(ld32(p)); }

/* One group of 16 rows against NC activation rows; K4 selects Q4_0x16
 * (nibbles, offset 8) over Q8_0x16 (bytes, offset 128). */
ALWAYS void group_tile(const int K4, const uint8_t *gq, const uint8_t *gd, int64_t nb, const uint8_t *a, size_t as,
                       const int NC, float *y, size_t ys)
{
    const __m512i m4 = _mm512_set1_epi8(15);
    const size_t qsb = K4 ? 256 : 512;
    const int sh = K4 ? 3 : 7;
    __m512 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = gq + (size_t)b * qsb;
        __m512i w[8];
#ifdef PK_PF
        UNROLL
        for (int k = 0; k < (int)(qsb / 64); k++)
            _mm_prefetch((const char *)(q + PK_PF + 64 * k), _MM_HINT_T0);
#endif
        if (K4) {
            UNROLL
            for (int k = 0; k < 4; k++) {
                __m512i raw = _mm512_loadu_si512((const void *)(q + 64 * k));
                w[k] = _mm512_and_si512(raw, m4);
                w[4 + k] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            }
        } else {
            UNROLL
            for (int k = 0; k < 8; k++)
                w[k] = _mm512_loadu_si512((const void *)(q + 64 * k));
        }
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(gd + (size_t)b * 32)));
        UNROLL
        for (int c = 0; c < NC; c++) {
            const uint8_t *ab = a + (size_t)c * as + (size_t)b * XLLM_Q8X_BYTES;
            float da;
            memcpy(&da, ab, 4);
            __m512i i0 = _mm512_set1_epi32(-(ld32(ab + 4) << sh)), i1 = _mm512_setzero_si512();
            UNROLL
            for (int k = 0; k < 4; k++) {
                /* Q4_0: chunk k holds elements 4k.. (low) and 16+4k.. (high);
                 * Q8_0: chunk k holds elements 4k.. */
                i0 = _mm512_dpbusd_epi32(i0, w[k], bcast32(ab + 8 + 4 * k));
                i1 = _mm512_dpbusd_epi32(i1, w[4 + k], bcast32(ab + 8 + 16 + 4 * k));
            }
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(i0, i1)),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(da)), acc[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

ALWAYS void packed_driver(const int K4, const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t as,
                          int nc, float *y, size_t ys)
{
    const size_t qsb = K4 ? 256 : 512;
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *gq = p->data + (size_t)g * p->group_bytes, *gd = gq + (size_t)p->nb * qsb;
        float *yg = y + (size_t)g * XLLM_PACK_ROWS;
        for (int c0 = 0; c0 < nc; c0 += PNC) {
            const uint8_t *ac = a + (size_t)c0 * as;
            float *yc = yg + (size_t)c0 * ys;
            switch (nc - c0 < PNC ? nc - c0 : PNC) {
            case 1: group_tile(K4, gq, gd, p->nb, ac, as, 1, yc, ys); break;
            case 2: group_tile(K4, gq, gd, p->nb, ac, as, 2, yc, ys); break;
            case 3: group_tile(K4, gq, gd, p->nb, ac, as, 3, yc, ys); break;
            default: group_tile(K4, gq, gd, p->nb, ac, as, 4, yc, ys); break;
            }
        }
    }
}

void xllm_packed_q4_0x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride)
{
    packed_driver(1, p, g0, g1, a, a_stride, nc, y, y_stride);
}

void xllm_packed_q8_0x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride)
{
    packed_driver(0, p, g0, g1, a, a_stride, nc, y, y_stride);
}

/* ---- Q8X quantizer (bit-identical to xllm_quantize_row_q8x_ref) ---- */

/* round half away from zero, as xllm_nearest_int */
ALWAYS __m512i round_away(__m512 v)
{
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    __m512 half = _mm512_or_ps(_mm512_and_ps(v, sign), _mm512_set1_ps(0.5f));
    return _mm512_cvttps_epi32(_mm512_add_ps(v, half));
}

void xllm_quantize_row_q8x_avx512(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32, out += XLLM_Q8X_BYTES) {
        __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_loadu_ps(src + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        float dr = xllm_f16_to_f32(xllm_f32_to_f16(d));
        __m512 idv = _mm512_set1_ps(id);
        __m512i q0 = round_away(_mm512_mul_ps(v0, idv)), q1 = round_away(_mm512_mul_ps(v1, idv));
        int32_t s = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        memcpy(out, &dr, 4);
        memcpy(out + 4, &s, 4);
        _mm_storeu_si128((__m128i *)(out + 8), _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(out + 24), _mm512_cvtsepi32_epi8(q1));
    }
}
