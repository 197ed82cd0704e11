/* packed_avx512.c - AVX-512 VNNI tiles over the packed 16-row layouts of
 * kernels_impl.h (Q4_0x16, Q8_0x16 with Q8X activations; Q4_Kx16, Q6_Kx16
 * with Q8_K activations), and the Q8X quantizer. Lane j of every vector is row j of the group: a 64-byte load
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
/* Software prefetch distance of the decode streams, in super-blocks / blocks:
 * the kernels issue too few loads per byte for the hardware prefetcher alone
 * to keep DRAM busy (measured: Q4_K 22 -> 34 GB/s on one core). */
#define PF_SB 2
#define PF_BYTES 4096 /* 32-element block streams (F16 needs none: 3 instructions per 32 bytes) */
#define UNROLL _Pragma("GCC unroll 8")
#define Q8K_BYTES sizeof(xllm_block_q8_k) /* f32 d, qs[256] at 4, int16 bsums[16] at 260 */

ALWAYS int32_t ld32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

ALWAYS __m512i bcast32(const uint8_t *p) { return _mm512_set1_epi32(ld32(p)); }

/* The 32-element kinds: Q8_0 (bytes, offset 128), Q4_0 (nibbles, offset 8),
 * IQ4_NL (nibbles through the level table, shifted by 128), Q4_1 (nibbles,
 * no offset, plus m times the activation block sum), Q5_0 / Q5_1 (nibbles
 * and a fifth bit; offset 16 / plus m). */
enum { KQ8_0, KQ4_0, KIQ4_NL, KQ4_1, KQ5_0, KQ5_1 };

/* Unsigned offset of a kind's weight levels (taken back through the Q8X sum). */
ALWAYS int32_t kind_offset(const int kind)
{
    return kind == KQ4_0 ? 8 : kind == KQ5_0 ? 16 : kind == KQ4_1 || kind == KQ5_1 ? 0 : 128;
}

ALWAYS int kind_has_m(const int kind) { return kind == KQ4_1 || kind == KQ5_1; }

/* Weights of chunk k of a nibble kind: levels of elements 4k.. (lo) and
 * 16+4k.. (hi); Q4_0/Q4_1 hi stays 16 x the nibble (shifted back in the sum);
 * Q5 kinds take bit k / 4 + k of each qh byte as bit 4. */
ALWAYS void nibble_levels(const int kind, __m512i raw, __m512i qh, const int k, __m512i *lo, __m512i *hi)
{
    const __m512i m4 = _mm512_set1_epi8(15);
    if (kind == KQ5_0 || kind == KQ5_1) {
        const __m512i m10 = _mm512_set1_epi8(0x10);
        *lo = _mm512_or_si512(_mm512_and_si512(raw, m4), _mm512_and_si512(_mm512_slli_epi16(qh, 4 - k), m10));
        *hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(raw, 4), m4),
                              _mm512_and_si512(_mm512_srli_epi16(qh, k), m10));
    } else if (kind == KIQ4_NL) {
        const __m512i lut = _mm512_broadcast_i32x4(
            _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
                          (char)197, (char)217, (char)241)); /* XLLM_IQ4NL_VALUES + 128 */
        *lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(raw, m4));
        *hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4));
    } else {
        *lo = _mm512_and_si512(raw, m4);
        *hi = _mm512_andnot_si512(m4, raw);
    }
}

/* The block's f32 result from the two integer sums: d * da * sum, + m * da * s (Q4_1). */
ALWAYS __m512 block_result(const int kind, __m512i lo, __m512i hi, __m512 d_da, const uint8_t *gm, const uint8_t *ab,
                           __m512 acc)
{
    if (kind == KQ4_0 || kind == KQ4_1) /* exact: every high product was a multiple of 16 */
        hi = _mm512_srai_epi32(hi, 4);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(lo, hi)), d_da, acc);
    if (kind_has_m(kind)) {
        float da;
        memcpy(&da, ab, 4);
        __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)gm));
        acc = _mm512_fmadd_ps(m, _mm512_set1_ps(da * (float)ld32(ab + 4)), acc);
    }
    return acc;
}

/* One group of 16 rows against NC activation rows. */
ALWAYS void group_tile(const int kind, const uint8_t *gq, const uint8_t *gd, int64_t nb, const uint8_t *a, size_t as,
                       const int NC, float *y, size_t ys)
{
    const size_t qsb = kind == KQ8_0 ? 512 : 256;
    const int32_t off = kind_offset(kind);
    const uint8_t *gm = gd + (size_t)nb * 32, *gh = gm + (kind_has_m(kind) ? (size_t)nb * 32 : 0); /* m, qh */
    __m512 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = gq + (size_t)b * qsb;
        __m512i w[8];
        if (kind != KQ8_0) {
            UNROLL
            for (int k = 0; k < 4; k++)
                nibble_levels(kind, _mm512_loadu_si512((const void *)(q + 64 * k)),
                              kind >= KQ5_0 ? _mm512_loadu_si512((const void *)(gh + (size_t)b * 64))
                                            : _mm512_setzero_si512(),
                              k, &w[k], &w[4 + k]);
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
            __m512i i0 = _mm512_set1_epi32(-ld32(ab + 4) * off), i1 = _mm512_setzero_si512();
            UNROLL
            for (int k = 0; k < 4; k++) {
                /* nibbles: chunk k holds elements 4k.. (low) and 16+4k.. (high);
                 * Q8_0: chunk k holds elements 4k.. */
                i0 = _mm512_dpbusd_epi32(i0, w[k], bcast32(ab + 8 + 4 * k));
                i1 = _mm512_dpbusd_epi32(i1, w[4 + k], bcast32(ab + 8 + 16 + 4 * k));
            }
            acc[c] = block_result(kind, i0, i1, _mm512_mul_ps(dw, _mm512_set1_ps(da)), gm + (size_t)b * 32, ab,
                                  acc[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

/* Decode (one activation row): two groups per pass share the activation
 * broadcasts, and their two independent streams keep more loads in flight
 * (DRAM-bound: fewer instructions per byte streamed). */
ALWAYS void group_pair_n1(const int kind, const uint8_t *gq0, const uint8_t *gq1, int64_t nb, const uint8_t *a,
                          float *y)
{
    const size_t qsb = kind == KQ8_0 ? 512 : 256;
    const int32_t off = kind_offset(kind);
    const uint8_t *gd0 = gq0 + (size_t)nb * qsb, *gd1 = gq1 + (size_t)nb * qsb;
    const size_t hoff = (size_t)nb * (kind_has_m(kind) ? 64 : 32); /* qh plane after d (and m) */
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *ab = a + (size_t)b * XLLM_Q8X_BYTES;
        const uint8_t *q0 = gq0 + (size_t)b * qsb, *q1 = gq1 + (size_t)b * qsb;
        float da;
        UNROLL
        for (int l = 0; l < (int)qsb; l += 64) {
            _mm_prefetch((const char *)(q0 + PF_BYTES + l), _MM_HINT_T0);
            _mm_prefetch((const char *)(q1 + PF_BYTES + l), _MM_HINT_T0);
        }
        if ((b & 1) == 0) {
            _mm_prefetch((const char *)(gd0 + (size_t)b * 32 + PF_BYTES / 8), _MM_HINT_T0);
            _mm_prefetch((const char *)(gd1 + (size_t)b * 32 + PF_BYTES / 8), _MM_HINT_T0);
        }
        memcpy(&da, ab, 4);
        __m512i corr = _mm512_set1_epi32(-ld32(ab + 4) * off);
        __m512i s0 = corr, s1 = corr, t0 = _mm512_setzero_si512(), t1 = _mm512_setzero_si512();
        __m512i qh0 = _mm512_setzero_si512(), qh1 = qh0;
        if (kind >= KQ5_0) {
            qh0 = _mm512_loadu_si512((const void *)(gd0 + hoff + (size_t)b * 64));
            qh1 = _mm512_loadu_si512((const void *)(gd1 + hoff + (size_t)b * 64));
        }
        UNROLL
        for (int k = 0; k < 4; k++) {
            __m512i alo = bcast32(ab + 8 + 4 * k), ahi = bcast32(ab + 24 + 4 * k), l0, h0, l1, h1;
            if (kind != KQ8_0) {
                nibble_levels(kind, _mm512_loadu_si512((const void *)(q0 + 64 * k)), qh0, k, &l0, &h0);
                nibble_levels(kind, _mm512_loadu_si512((const void *)(q1 + 64 * k)), qh1, k, &l1, &h1);
            } else {
                l0 = _mm512_loadu_si512((const void *)(q0 + 64 * k));
                h0 = _mm512_loadu_si512((const void *)(q0 + 256 + 64 * k));
                l1 = _mm512_loadu_si512((const void *)(q1 + 64 * k));
                h1 = _mm512_loadu_si512((const void *)(q1 + 256 + 64 * k));
            }
            s0 = _mm512_dpbusd_epi32(s0, l0, alo);
            t0 = _mm512_dpbusd_epi32(t0, h0, ahi);
            s1 = _mm512_dpbusd_epi32(s1, l1, alo);
            t1 = _mm512_dpbusd_epi32(t1, h1, ahi);
        }
        __m512 dav = _mm512_set1_ps(da);
        __m512 d0 = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(gd0 + (size_t)b * 32))), dav);
        __m512 d1 = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(gd1 + (size_t)b * 32))), dav);
        acc0 = block_result(kind, s0, t0, d0, gd0 + (size_t)nb * 32 + (size_t)b * 32, ab, acc0);
        acc1 = block_result(kind, s1, t1, d1, gd1 + (size_t)nb * 32 + (size_t)b * 32, ab, acc1);
    }
    _mm512_storeu_ps(y, acc0);
    _mm512_storeu_ps(y + XLLM_PACK_ROWS, acc1);
}

/* ---- K-quants x Q8_K ---- */


ALWAYS __m512i scales16(const uint8_t *p, int sign) /* 16 bytes -> 16 int32 lanes */
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return sign ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

ALWAYS int32_t ld16s(const uint8_t *p)
{
    int16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* The fifth bit of Q5_K levels: bit sh of each qh byte moved to bit 4. */
ALWAYS __m512i q5_bit(__m512i qh, const int sh)
{
    const __m512i m10 = _mm512_set1_epi8(0x10);
    if (sh <= 4)
        return _mm512_and_si512(_mm512_slli_epi16(qh, 4 - sh), m10);
    return _mm512_and_si512(_mm512_srli_epi16(qh, sh - 4), m10);
}

/* Q4_K, and Q5_K (Q5 = 1): the same super-block plus a plane of fifth bits. */
ALWAYS void q4k_tile(const int Q5, const uint8_t *gq, int64_t nb, const uint8_t *a, size_t as, const int NC, float *y,
                     size_t ys)
{
    const __m512i m4 = _mm512_set1_epi8(15);
    const int sbb = Q5 ? XLLM_Q5K_SB : XLLM_Q4K_SB;
    __m512 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = gq + (size_t)b * sbb;
        __m512i isum[PNC];
        for (int l = 0; l < sbb; l += 64)
            _mm_prefetch((const char *)(o + PF_SB * sbb + l), _MM_HINT_T0);
        UNROLL
        for (int c = 0; c < NC; c++)
            isum[c] = _mm512_setzero_si512();
        UNROLL
        for (int p = 0; p < 4; p++) {
            __m512i lo[PNC], hi[PNC];
            UNROLL
            for (int c = 0; c < NC; c++)
                lo[c] = hi[c] = _mm512_setzero_si512();
            UNROLL
            for (int k = 0; k < 8; k++) {
                __m512i raw = _mm512_loadu_si512((const void *)(o + (8 * p + k) * 64)), wl, wh;
                if (Q5) {
                    __m512i qh = _mm512_loadu_si512((const void *)(o + XLLM_Q4K_SB + k * 64));
                    wl = _mm512_or_si512(_mm512_and_si512(raw, m4), q5_bit(qh, 2 * p));
                    wh = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(raw, 4), m4), q5_bit(qh, 2 * p + 1));
                } else {
                    wl = _mm512_and_si512(raw, m4);
                    wh = _mm512_andnot_si512(m4, raw); /* 16 x high nibble */
                }
                UNROLL
                for (int c = 0; c < NC; c++) {
                    const uint8_t *aq = a + (size_t)c * as + (size_t)b * Q8K_BYTES + 4 + 64 * p + 4 * k;
                    lo[c] = _mm512_dpbusd_epi32(lo[c], wl, bcast32(aq));
                    hi[c] = _mm512_dpbusd_epi32(hi[c], wh, bcast32(aq + 32));
                }
            }
            /* sub-blocks 2p (low nibbles) and 2p + 1 (high) */
            __m512i sl = scales16(o + XLLM_Q4K_SC + 32 * p, 0), sh = scales16(o + XLLM_Q4K_SC + 32 * p + 16, 0);
            UNROLL
            for (int c = 0; c < NC; c++) {
                __m512i h = Q5 ? hi[c] : _mm512_srai_epi32(hi[c], 4); /* Q4_K: exact, 16 x nibble */
                isum[c] = _mm512_add_epi32(isum[c], _mm512_add_epi32(_mm512_mullo_epi32(lo[c], sl),
                                                                     _mm512_mullo_epi32(h, sh)));
            }
        }
        /* the mins against the activation's bsums: min s (both int16 halves of a
         * lane) times the pair of bsums of sub-block s, one vpdpwssd each */
        __m512i mdup[8], msum[PNC];
        UNROLL
        for (int s = 0; s < 8; s++) {
            __m512i m = scales16(o + XLLM_Q4K_MN + 16 * s, 0);
            mdup[s] = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));
        }
        UNROLL
        for (int c = 0; c < NC; c++) {
            msum[c] = _mm512_setzero_si512();
            UNROLL
            for (int s = 0; s < 8; s++)
                msum[c] = _mm512_dpwssd_epi32(msum[c], mdup[s],
                                              bcast32(a + (size_t)c * as + (size_t)b * Q8K_BYTES + 260 + 4 * s));
        }
        __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + XLLM_Q4K_D)));
        __m512 mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + XLLM_Q4K_DMIN)));
        UNROLL
        for (int c = 0; c < NC; c++) {
            float da;
            memcpy(&da, a + (size_t)c * as + (size_t)b * Q8K_BYTES, 4);
            __m512 dav = _mm512_set1_ps(da);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(dv, dav), acc[c]);
            acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[c]), _mm512_mul_ps(mv, dav), acc[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

/* top 2 bits of quarter k (levels 64k + 4u + t) moved to bits 4-5 */
ALWAYS __m512i q6_high(__m512i h, const int k)
{
    const __m512i m30 = _mm512_set1_epi8(0x30);
    if (k == 0)
        return _mm512_and_si512(h, m30);
    if (k == 1)
        return _mm512_and_si512(_mm512_srli_epi16(h, 2), m30);
    if (k == 2)
        return _mm512_and_si512(_mm512_slli_epi16(h, 4), m30);
    return _mm512_and_si512(_mm512_slli_epi16(h, 2), m30);
}

/* Q6_K, Q3_K, Q2_K: 16 sub-blocks of 16 levels each, one tile. */
enum { S16_Q6, S16_Q3, S16_Q2 };

/* Levels 16sb + 4i .. + 3 of the 16 rows (one byte each). Q6_K: the ql / qh
 * planes; Q3_K / Q2_K: level 16sb + 4i + t = 128h + 32k + 4m + t sits in bits
 * 2k of byte t of qs chunk 8h + m, Q3_K's third bit in bit sb / 2 of hmask chunk m. */
ALWAYS __m512i s16_levels(const int F, const uint8_t *o, const int sb, const int i)
{
    const __m512i m3 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(4), m15 = _mm512_set1_epi8(15);
    if (F == S16_Q6) {
        const int k = sb / 4, u = 4 * (sb % 4) + i;
        __m512i l = _mm512_loadu_si512((const void *)(o + (u + 16 * (k & 1)) * 64));
        __m512i lq = k < 2 ? _mm512_and_si512(l, m15) : _mm512_and_si512(_mm512_srli_epi16(l, 4), m15);
        return _mm512_or_si512(lq, q6_high(_mm512_loadu_si512((const void *)(o + XLLM_Q6K_QH + u * 64)), k));
    }
    const int m = 4 * (sb % 2) + i, k = (sb % 8) / 2, sh = sb / 2;
    __m512i l = _mm512_loadu_si512((const void *)(o + (8 * (sb / 8) + m) * 64));
    __m512i q = _mm512_and_si512(_mm512_srli_epi16(l, 2 * k), m3);
    if (F == S16_Q3) {
        __m512i h = _mm512_loadu_si512((const void *)(o + XLLM_Q3K_HM + m * 64));
        h = sh <= 2 ? _mm512_slli_epi16(h, 2 - sh) : _mm512_srli_epi16(h, sh - 2);
        q = _mm512_or_si512(q, _mm512_and_si512(h, m4));
    }
    return q;
}

/* Signed int8 scales (Q6_K, Q3_K; the level offset 32 / 4 taken back through
 * the Q8_K bsums) or a 4-bit scale and min per sub-block (Q2_K, d and dmin in
 * the super-block). */
ALWAYS void s16_tile(const int F, const uint8_t *gq, const uint8_t *gd, int64_t nb, const uint8_t *a, size_t as,
                     const int NC, float *y, size_t ys)
{
    const int sbb = F == S16_Q6 ? XLLM_Q6K_SB : F == S16_Q3 ? XLLM_Q3K_SB : XLLM_Q2K_SB;
    const int off = F == S16_Q6 ? 32 : F == S16_Q3 ? 4 : 0;
    const int sco = F == S16_Q6 ? XLLM_Q6K_SC : F == S16_Q3 ? XLLM_Q3K_SC : XLLM_Q2K_SC;
    const __m512i m15 = _mm512_set1_epi32(15);
    __m512 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = gq + (size_t)b * sbb;
        __m512i isum[PNC], msum[PNC];
        for (int l = 0; l < sbb; l += 64)
            _mm_prefetch((const char *)(o + PF_SB * sbb + l), _MM_HINT_T0);
        UNROLL
        for (int c = 0; c < NC; c++)
            isum[c] = msum[c] = _mm512_setzero_si512();
#pragma GCC unroll 16
        for (int sb = 0; sb < 16; sb++) {
            __m512i is[PNC];
            UNROLL
            for (int c = 0; c < NC; c++)
                is[c] = _mm512_set1_epi32(-off * ld16s(a + (size_t)c * as + (size_t)b * Q8K_BYTES + 260 + 2 * sb));
            UNROLL
            for (int i = 0; i < 4; i++) {
                __m512i q = s16_levels(F, o, sb, i);
                UNROLL
                for (int c = 0; c < NC; c++)
                    is[c] = _mm512_dpbusd_epi32(
                        is[c], q, bcast32(a + (size_t)c * as + (size_t)b * Q8K_BYTES + 4 + 16 * sb + 4 * i));
            }
            __m512i sc = scales16(o + sco + 16 * sb, F != S16_Q2), mn = _mm512_srli_epi32(sc, 4);
            if (F == S16_Q2)
                sc = _mm512_and_si512(sc, m15);
            UNROLL
            for (int c = 0; c < NC; c++) {
                isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(is[c], sc));
                if (F == S16_Q2) {
                    __m512i bs = _mm512_set1_epi32(ld16s(a + (size_t)c * as + (size_t)b * Q8K_BYTES + 260 + 2 * sb));
                    msum[c] = _mm512_add_epi32(msum[c], _mm512_mullo_epi32(mn, bs));
                }
            }
        }
        const uint8_t *dp = F == S16_Q2 ? o + XLLM_Q2K_D : gd + (size_t)b * 32;
        __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dp));
        UNROLL
        for (int c = 0; c < NC; c++) {
            float da;
            memcpy(&da, a + (size_t)c * as + (size_t)b * Q8K_BYTES, 4);
            __m512 dav = _mm512_set1_ps(da);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(dv, dav), acc[c]);
            if (F == S16_Q2) {
                __m512 mv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + XLLM_Q2K_DMIN)));
                acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[c]), _mm512_mul_ps(mv, dav), acc[c]);
            }
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm512_storeu_ps(y + (size_t)c * ys, acc[c]);
}

/* ---- drivers: groups x register tiles of up to PNC activation rows ---- */

/* Packed formats; the 32-element ones are their kinds above. */
enum {
    F_Q8_0 = KQ8_0,
    F_Q4_0 = KQ4_0,
    F_IQ4_NL = KIQ4_NL,
    F_Q4_1 = KQ4_1,
    F_Q5_0 = KQ5_0,
    F_Q5_1 = KQ5_1,
    F_Q4_K,
    F_Q5_K,
    F_Q6_K,
    F_Q3_K,
    F_Q2_K
};

ALWAYS void tile_nc(const int f, const xllm_packed *p, const uint8_t *gq, const uint8_t *a, size_t as, const int NC,
                    float *y, size_t ys)
{
    if (f <= F_Q5_1)
        group_tile(f, gq, gq + (size_t)p->nb * (f == F_Q8_0 ? 512 : 256), p->nb, a, as, NC, y, ys);
    else if (f == F_Q4_K)
        q4k_tile(0, gq, p->nb, a, as, NC, y, ys);
    else if (f == F_Q5_K)
        q4k_tile(1, gq, p->nb, a, as, NC, y, ys);
    else if (f == F_Q2_K)
        s16_tile(S16_Q2, gq, NULL, p->nb, a, as, NC, y, ys);
    else if (f == F_Q3_K)
        s16_tile(S16_Q3, gq, gq + (size_t)p->nb * XLLM_Q3K_SB, p->nb, a, as, NC, y, ys);
    else
        s16_tile(S16_Q6, gq, gq + (size_t)p->nb * XLLM_Q6K_SB, p->nb, a, as, NC, y, ys);
}

ALWAYS void packed_driver(const int f, const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t as,
                          int nc, float *y, size_t ys)
{
    if (nc == 1 && f <= F_Q5_1)
        for (; g0 + 2 <= g1; g0 += 2) {
            const uint8_t *gq = p->data + (size_t)g0 * p->group_bytes;
            group_pair_n1(f, gq, gq + p->group_bytes, p->nb, a, y + (size_t)g0 * XLLM_PACK_ROWS);
        }
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *gq = p->data + (size_t)g * p->group_bytes;
        float *yg = y + (size_t)g * XLLM_PACK_ROWS;
        for (int c0 = 0; c0 < nc; c0 += PNC) {
            const uint8_t *ac = a + (size_t)c0 * as;
            float *yc = yg + (size_t)c0 * ys;
            switch (nc - c0 < PNC ? nc - c0 : PNC) {
            case 1: tile_nc(f, p, gq, ac, as, 1, yc, ys); break;
            case 2: tile_nc(f, p, gq, ac, as, 2, yc, ys); break;
            case 3: tile_nc(f, p, gq, ac, as, 3, yc, ys); break;
            default: tile_nc(f, p, gq, ac, as, 4, yc, ys); break;
            }
        }
    }
}

#define DEFINE_PACKED(name, f)                                                                      \
    void xllm_packed_##name##_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, \
                                     size_t a_stride, int nc, float *y, size_t y_stride)            \
    {                                                                                               \
        packed_driver(f, p, g0, g1, a, a_stride, nc, y, y_stride);                                  \
    }

DEFINE_PACKED(q4_0x16, F_Q4_0)
DEFINE_PACKED(q8_0x16, F_Q8_0)
DEFINE_PACKED(iq4_nlx16, F_IQ4_NL)
DEFINE_PACKED(q4_1x16, F_Q4_1)
DEFINE_PACKED(q5_0x16, F_Q5_0)
DEFINE_PACKED(q5_1x16, F_Q5_1)
DEFINE_PACKED(q4_kx16, F_Q4_K)
DEFINE_PACKED(q5_kx16, F_Q5_K)
DEFINE_PACKED(q6_kx16, F_Q6_K)
DEFINE_PACKED(q3_kx16, F_Q3_K)
DEFINE_PACKED(q2_kx16, F_Q2_K)

/* ---- F16 weights x f32 activations: outer products, 16 rows x NC ---- */

/* NG groups (16 rows each, group_bytes apart) x NC activation rows: one
 * accumulator per (group, activation row), fed in column order, so every
 * output is the same chain of FMAs whatever the tile shape (batch
 * invariance: a row's floats do not depend on how many rows share its
 * call). Decode hides the FMA latency with several groups side by side
 * instead of splitting the column sum. NG * NC <= 16. */
ALWAYS void f16_tile(const int NG, const int NC, const uint8_t *gq, size_t group_bytes, int64_t cols,
                     const uint8_t *a, size_t as, float *y, size_t ys)
{
    __m512 acc[4][8];
    const float *x[8];
    const uint16_t *w[4];
    UNROLL
    for (int g = 0; g < NG; g++) {
        w[g] = (const uint16_t *)(gq + (size_t)g * group_bytes);
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[g][c] = _mm512_setzero_ps();
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        x[c] = (const float *)(a + (size_t)c * as);
    for (int64_t k = 0; k < cols; k++) {
        __m512 wv[4];
        UNROLL
        for (int g = 0; g < NG; g++)
            wv[g] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w[g] + (size_t)k * 16)));
        UNROLL
        for (int c = 0; c < NC; c++) {
            __m512 b = _mm512_set1_ps(x[c][k]);
            UNROLL
            for (int g = 0; g < NG; g++)
                acc[g][c] = _mm512_fmadd_ps(wv[g], b, acc[g][c]);
        }
    }
    UNROLL
    for (int g = 0; g < NG; g++)
        UNROLL
        for (int c = 0; c < NC; c++)
            _mm512_storeu_ps(y + (size_t)c * ys + (size_t)g * XLLM_PACK_ROWS, acc[g][c]);
}

/* Groups side by side for a tile of nc (< 8) activation rows: enough
 * independent accumulators (>= 4) to hide the FMA latency. */
static int f16_groups_for(int nc) { return nc == 1 ? 4 : nc <= 3 ? 2 : 1; }

/* ng (<= f16_groups_for(nc)) groups x nc (< 8) activation rows. */
static void f16_tail(int ng, int nc, const uint8_t *gq, size_t gb, int64_t cols, const uint8_t *a, size_t as,
                     float *y, size_t ys)
{
#define F16_CASE(G, C)                                                                                              \
    case (G) * 8 + (C): f16_tile(G, C, gq, gb, cols, a, as, y, ys); break;
    switch (ng * 8 + nc) {
        F16_CASE(4, 1) F16_CASE(3, 1) F16_CASE(2, 1) F16_CASE(1, 1) F16_CASE(2, 2) F16_CASE(1, 2)
        F16_CASE(2, 3) F16_CASE(1, 3) F16_CASE(1, 4) F16_CASE(1, 5) F16_CASE(1, 6)
        default: f16_tile(1, 7, gq, gb, cols, a, as, y, ys); break;
    }
#undef F16_CASE
}

/* Panels of up to 4 groups: full 8-row activation tiles two groups at a
 * time (32 rows x 8: 16 accumulators fed by 2 weight conversions and 8
 * broadcasts per column; measured one core, 5632 x 2048, 120 activation
 * rows: 80-82 -> 100-101 GMAC/s against 16 x 8), then the last < 8 rows
 * with several groups side by side. */
void xllm_packed_f16x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                               int nc, float *y, size_t y_stride)
{
    const size_t gb = p->group_bytes;
    const int full = nc / 8 * 8, rest = nc - full, per = f16_groups_for(rest ? rest : 1);
    for (int64_t g = g0; g < g1; g += 4) {
        int64_t ge = g + 4 < g1 ? g + 4 : g1;
        for (int64_t h = g; h < ge && full; h += 2) {
            const uint8_t *gq = p->data + (size_t)h * gb;
            for (int c = 0; c < full; c += 8) {
                const uint8_t *ac = a + (size_t)c * a_stride;
                float *yc = y + (size_t)c * y_stride + (size_t)h * XLLM_PACK_ROWS;
                if (h + 1 < ge)
                    f16_tile(2, 8, gq, gb, p->cols, ac, a_stride, yc, y_stride);
                else
                    f16_tile(1, 8, gq, gb, p->cols, ac, a_stride, yc, y_stride);
            }
        }
        for (int64_t h = g; h < ge && rest; h += per) {
            int ng = (int)(ge - h < per ? ge - h : per);
            f16_tail(ng, rest, p->data + (size_t)h * gb, gb, p->cols, a + (size_t)full * a_stride, a_stride,
                     y + (size_t)full * y_stride + (size_t)h * XLLM_PACK_ROWS, y_stride);
        }
    }
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
