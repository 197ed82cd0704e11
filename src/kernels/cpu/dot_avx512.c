/* dot_avx512.c - AVX-512 (F/BW/VL/DQ + VNNI) tile kernels of every weight
 * type: y[c][r] = dot(weight row r, activation row c). 32-element block types
 * take 4 weight rows x up to 4 activations per register tile, two blocks per
 * step, integer dots with vpdpbusd (weights made unsigned, the offset taken
 * back through the activation block sums); K-quants take 1 weight row x up
 * to 4 activations, a super-block decoded once per tile (maddubs + vpdpwssd
 * with the sub-block scales, mins through Q8_K's bsums); F32/F16/BF16 weights
 * use f32 FMA. Compiled with AVX-512 flags; called only after the CPU check. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("no-avxvnni") /* keep VNNI EVEX-only: AVX-VNNI is not required */
#endif
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"
#include "kernels/cpu/tile_driver.h"

#define ALWAYS static inline __attribute__((always_inline))
/* Fully unroll the small register-tile loops so the accumulators stay in registers. */
#define UNROLL _Pragma("GCC unroll 8")

ALWAYS uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

ALWAYS uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

ALWAYS float h2f(const uint8_t *p) { return _cvtsh_ss(ld16(p)); }

/* [lo x8, hi x8] */
ALWAYS __m512 pair_ps(float lo, float hi)
{
    return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1);
}

/* ================= F32 / F16 / BF16 weights, f32 activations ================= */

#define FNR 4

ALWAYS __m512 load_fw(const int kind, const uint8_t *row, int64_t i, __mmask16 m)
{
    if (kind == FW_F32)
        return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i);
    if (kind == FW_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

ALWAYS void float_step(const int kind, const int NC, const uint8_t *const *wr, const uint8_t *a, size_t as,
                       int64_t i, __mmask16 m, __m512 acc[FNR][TILE_NC])
{
    __m512 wv[FNR];
    UNROLL
    for (int r = 0; r < FNR; r++)
        wv[r] = load_fw(kind, wr[r], i, m);
    UNROLL
    for (int c = 0; c < NC; c++) {
        __m512 av = _mm512_maskz_loadu_ps(m, (const float *)(a + (size_t)c * as) + i);
        UNROLL
        for (int r = 0; r < FNR; r++)
            acc[r][c] = _mm512_fmadd_ps(wv[r], av, acc[r][c]);
    }
}

ALWAYS void float_micro(const int kind, int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a,
                        size_t as, float *y, size_t ys, const int NC)
{
    __m512 acc[FNR][TILE_NC];
    UNROLL
    for (int r = 0; r < FNR; r++)
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[r][c] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        float_step(kind, NC, wr, a, as, i, 0xFFFF, acc);
    if (i < n)
        float_step(kind, NC, wr, a, as, i, (__mmask16)((1u << (n - i)) - 1), acc);
    UNROLL
    for (int c = 0; c < NC; c++)
        UNROLL
        for (int r = 0; r < rn; r++)
            y[(size_t)c * ys + (size_t)r] = _mm512_reduce_add_ps(acc[r][c]);
}

XLLM_DEFINE_FLOAT_TILES(avx512, FNR)

/* ============ 32-element block types x Q8_0 activations ============ */

#define BNR 4

ALWAYS int blk_has_min(const int k) { return k == B_Q4_1 || k == B_Q5_1; }
/* log2 of the offset added to make the levels unsigned (0: none) */
ALWAYS int blk_off_log2(const int k)
{
    return k == B_Q4_0 ? 3 : k == B_Q5_0 ? 4 : (k == B_Q8_0 || k == B_IQ4_NL) ? 7 : 0;
}

/* 16 packed bytes of two blocks -> 64 nibbles in element order */
ALWAYS __m512i nibbles2(const uint8_t *q0, const uint8_t *q1)
{
    __m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                        _mm_loadu_si128((const __m128i *)q1), 1);
    __m512i z = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(x));
    z = _mm512_srlv_epi64(z, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

/* Two consecutive weight blocks as 64 unsigned levels (value + offset). */
ALWAYS __m512i decode2(const int k, const uint8_t *b0, const uint8_t *b1)
{
    const int qs = blk_qs(k);
    if (k == B_Q8_0) {
        __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + qs))),
                                       _mm256_loadu_si256((const __m256i *)(b1 + qs)), 1);
        return _mm512_xor_si512(z, _mm512_set1_epi8((char)0x80));
    }
    __m512i z = nibbles2(b0 + qs, b1 + qs);
    if (k == B_IQ4_NL) {
        const __m512i tbl = _mm512_broadcast_i32x4(_mm_setr_epi8(
            (char)(-127 + 128), (char)(-104 + 128), (char)(-83 + 128), (char)(-65 + 128), (char)(-49 + 128),
            (char)(-35 + 128), (char)(-22 + 128), (char)(-10 + 128), (char)(1 + 128), (char)(13 + 128),
            (char)(25 + 128), (char)(38 + 128), (char)(53 + 128), (char)(69 + 128), (char)(89 + 128),
            (char)(113 + 128)));
        return _mm512_shuffle_epi8(tbl, z);
    }
    if (k == B_Q5_0 || k == B_Q5_1) {
        const int qh = k == B_Q5_0 ? 2 : 4;
        __mmask64 hi = _cvtu64_mask64((uint64_t)ld32(b0 + qh) | (uint64_t)ld32(b1 + qh) << 32);
        z = _mm512_mask_add_epi8(z, hi, z, _mm512_set1_epi8(16));
    }
    return z;
}

ALWAYS void blk_step(const int k, const int NC, const uint8_t *const *w, const uint8_t *a, size_t as,
                     __m512 acc[BNR][TILE_NC])
{
    const int bb = blk_bytes(k), sh = blk_off_log2(k);
    __m512i av[TILE_NC], bias[TILE_NC];
    __m512 ad[TILE_NC], asum[TILE_NC];
    UNROLL
    for (int c = 0; c < NC; c++) {
        const uint8_t *a0 = a + (size_t)c * as, *a1 = a0 + Q8_0_BYTES;
        av[c] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a0 + 2))),
                                   _mm256_loadu_si256((const __m256i *)(a1 + 2)), 1);
        ad[c] = pair_ps(h2f(a0), h2f(a1));
        __m512i sa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), av[c]);
        if (sh)
            bias[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sa, sh));
        else
            bias[c] = _mm512_setzero_si512();
        if (blk_has_min(k))
            asum[c] = _mm512_mul_ps(_mm512_cvtepi32_ps(sa), ad[c]);
    }
    UNROLL
    for (int r = 0; r < BNR; r++) {
        const uint8_t *b0 = w[r], *b1 = b0 + bb;
        __m512i wq = decode2(k, b0, b1);
        __m512 wd = pair_ps(h2f(b0), h2f(b1));
        __m512 wm = blk_has_min(k) ? pair_ps(h2f(b0 + 2), h2f(b1 + 2)) : _mm512_setzero_ps();
        UNROLL
        for (int c = 0; c < NC; c++) {
            __m512i p = _mm512_dpbusd_epi32(bias[c], wq, av[c]);
            acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(wd, ad[c]), acc[r][c]);
            if (blk_has_min(k))
                acc[r][c] = _mm512_fmadd_ps(asum[c], wm, acc[r][c]);
        }
    }
}

ALWAYS void blk_micro(const int k, int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a, size_t as,
                      float *y, size_t ys, const int NC)
{
    const int bb = blk_bytes(k);
    const int64_t nb = n / XLLM_QK32;
    __m512 acc[BNR][TILE_NC];
    const uint8_t *w[BNR];
    UNROLL
    for (int r = 0; r < BNR; r++)
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[r][c] = _mm512_setzero_ps();
    int64_t ib = 0;
    for (; ib + 2 <= nb; ib += 2) {
        UNROLL
        for (int r = 0; r < BNR; r++)
            w[r] = wr[r] + (size_t)ib * (size_t)bb;
        blk_step(k, NC, w, a + (size_t)ib * Q8_0_BYTES, as, acc);
    }
    if (ib < nb) { /* odd block count: pad the last block with a zero block */
        uint8_t wt[BNR][2 * 34], at[TILE_NC][2 * Q8_0_BYTES];
        UNROLL
        for (int r = 0; r < BNR; r++) {
            memset(wt[r], 0, sizeof(wt[r]));
            memcpy(wt[r], wr[r] + (size_t)ib * (size_t)bb, (size_t)bb);
            w[r] = wt[r];
        }
        UNROLL
        for (int c = 0; c < NC; c++) {
            memset(at[c], 0, sizeof(at[c]));
            memcpy(at[c], a + (size_t)c * as + (size_t)ib * Q8_0_BYTES, Q8_0_BYTES);
        }
        blk_step(k, NC, w, at[0], sizeof(at[0]), acc);
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        UNROLL
        for (int r = 0; r < rn; r++)
            y[(size_t)c * ys + (size_t)r] = _mm512_reduce_add_ps(acc[r][c]);
}

XLLM_DEFINE_BLOCK_TILES(avx512, BNR)

/* ================= K-quants x Q8_K activations ================= */

/* A decoded super-block: 256 unsigned levels in element order, the int16
 * scale of each element pair, and the per-16 correction against bsums:
 *   dot = d * da * sum(sc * q * a) + dcorr * da * sum_g(corr[g] * bsums[g]) */
typedef struct kdec {
    __m512i q[4];
    __m512i sc[4];
    __m256i corr;
    float d, dcorr;
} kdec;

/* int16 lanes [s[4k + lane/8]] (16-element groups) or [s[2k + lane/16]]
 * (32-element groups) of zmm k, from 16 int16 scales s */
ALWAYS void spread16(__m256i s, kdec *kd)
{
    __m512i z = _mm512_castsi256_si512(s);
    UNROLL
    for (int k = 0; k < 4; k++) {
        const __m512i idx = _mm512_set_epi16(
            4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3,
            4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2,
            4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
            4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k);
        kd->sc[k] = _mm512_permutexvar_epi16(idx, z);
    }
}

ALWAYS void spread32(__m128i s8, kdec *kd) /* s8: 8 int16 scales */
{
    __m512i z = _mm512_castsi128_si512(s8);
    UNROLL
    for (int k = 0; k < 4; k++) {
        const __m512i idx = _mm512_set_epi16(
            2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1,
            2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1,
            2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k,
            2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k, 2 * k);
        kd->sc[k] = _mm512_permutexvar_epi16(idx, z);
    }
}

/* Q4_K/Q5_K: 8 six-bit scales and mins from the 12 scale bytes */
ALWAYS void k4_scales(const uint8_t *s, kdec *kd)
{
    uint32_t u0 = ld32(s), u1 = ld32(s + 4), u2 = ld32(s + 8);
    uint32_t sc_lo = u0 & 0x3f3f3f3fu, sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4;
    uint32_t mn_lo = u1 & 0x3f3f3f3fu, mn_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4;
    __m128i sc = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc_hi, (int)sc_lo));
    __m128i mn = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn_hi, (int)mn_lo));
    spread32(sc, kd);
    kd->corr = _mm256_set_m128i(_mm_unpackhi_epi16(mn, mn), _mm_unpacklo_epi16(mn, mn));
}

/* 2-bit fields of Q2_K/Q3_K qs: zmm k = elements 64k..64k+63 */
ALWAYS void low2_bits(const uint8_t *qs, kdec *kd)
{
    const __m512i m3 = _mm512_set1_epi8(3);
    UNROLL
    for (int h = 0; h < 2; h++) {
        __m512i z = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * h)));
        kd->q[2 * h] = _mm512_and_si512(_mm512_srlv_epi64(z, _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2)), m3);
        kd->q[2 * h + 1] = _mm512_and_si512(_mm512_srlv_epi64(z, _mm512_setr_epi64(4, 4, 4, 4, 6, 6, 6, 6)), m3);
    }
}

/* add `add` to the bytes of zmm k whose bit (2k | half) is set in the 32-byte h */
ALWAYS void high_bits(const uint8_t *h, int add, kdec *kd)
{
    __m512i z = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)h));
    UNROLL
    for (int k = 0; k < 4; k++) {
        __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
                                         _mm256_set1_epi8((char)(1 << (2 * k + 1))), 1);
        __mmask64 m = _mm512_test_epi8_mask(z, bit);
        kd->q[k] = _mm512_mask_add_epi8(kd->q[k], m, kd->q[k], _mm512_set1_epi8((char)add));
    }
}

ALWAYS void decode_q2_k(const uint8_t *b, kdec *kd)
{
    __m128i s = _mm_loadu_si128((const __m128i *)b);
    low2_bits(b + 16, kd);
    spread16(_mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(15))), kd);
    kd->corr = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(15)));
    kd->d = h2f(b + 80);
    kd->dcorr = -h2f(b + 82);
}

ALWAYS void decode_q3_k(const uint8_t *b, kdec *kd)
{
    uint32_t a0 = ld32(b + 96), a1 = ld32(b + 100), t = ld32(b + 104);
    uint32_t s0 = (a0 & 0x0f0f0f0fu) | ((t >> 0) & 0x03030303u) << 4;
    uint32_t s1 = (a1 & 0x0f0f0f0fu) | ((t >> 2) & 0x03030303u) << 4;
    uint32_t s2 = ((a0 >> 4) & 0x0f0f0f0fu) | ((t >> 4) & 0x03030303u) << 4;
    uint32_t s3 = ((a1 >> 4) & 0x0f0f0f0fu) | ((t >> 6) & 0x03030303u) << 4;
    __m128i s8 = _mm_sub_epi8(_mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0), _mm_set1_epi8(32));
    __m256i s16 = _mm256_cvtepi8_epi16(s8);
    low2_bits(b + 32, kd);
    high_bits(b, 4, kd);
    spread16(s16, kd);
    kd->corr = s16;
    kd->d = h2f(b + 108);
    kd->dcorr = -4.0f * kd->d;
}

ALWAYS void decode_q4_k(const uint8_t *b, kdec *kd)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    UNROLL
    for (int p = 0; p < 4; p++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * p));
        kd->q[p] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(x, m15)),
                                      _mm256_and_si256(_mm256_srli_epi16(x, 4), m15), 1);
    }
    k4_scales(b + 4, kd);
    kd->d = h2f(b);
    kd->dcorr = -h2f(b + 2);
}

ALWAYS void decode_q5_k(const uint8_t *b, kdec *kd)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    UNROLL
    for (int p = 0; p < 4; p++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(b + 48 + 32 * p));
        kd->q[p] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(x, m15)),
                                      _mm256_and_si256(_mm256_srli_epi16(x, 4), m15), 1);
    }
    high_bits(b + 16, 16, kd);
    k4_scales(b + 4, kd);
    kd->d = h2f(b);
    kd->dcorr = -h2f(b + 2);
}

ALWAYS void decode_q6_k(const uint8_t *b, kdec *kd)
{
    const __m512i m15 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3);
    UNROLL
    for (int h = 0; h < 2; h++) {
        __m512i l = _mm512_loadu_si512((const void *)(b + 64 * h));
        __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h)));
        __m512i h01 = _mm512_and_si512(_mm512_srlv_epi64(q, _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2)), m3);
        __m512i h23 = _mm512_and_si512(_mm512_srlv_epi64(q, _mm512_setr_epi64(4, 4, 4, 4, 6, 6, 6, 6)), m3);
        kd->q[2 * h] = _mm512_or_si512(_mm512_and_si512(l, m15), _mm512_slli_epi16(h01, 4));
        kd->q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m15), _mm512_slli_epi16(h23, 4));
    }
    __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));
    spread16(s16, kd);
    kd->corr = s16;
    kd->d = h2f(b + 208);
    kd->dcorr = -32.0f * kd->d;
}


ALWAYS int k_bytes(const int k) { return k == K_Q2 ? 84 : k == K_Q3 ? 110 : k == K_Q4 ? 144 : k == K_Q5 ? 176 : 210; }

ALWAYS void k_decode(const int k, const uint8_t *b, kdec *kd)
{
    if (k == K_Q2)
        decode_q2_k(b, kd);
    else if (k == K_Q3)
        decode_q3_k(b, kd);
    else if (k == K_Q4)
        decode_q4_k(b, kd);
    else if (k == K_Q5)
        decode_q5_k(b, kd);
    else
        decode_q6_k(b, kd);
}

#define KNR 1

ALWAYS void k_micro(const int k, int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a, size_t as,
                    float *y, size_t ys, const int NC)
{
    const int bb = k_bytes(k);
    const int64_t nb = n / XLLM_QK_K;
    __m512 acc[TILE_NC];
    __m256 accm[TILE_NC];
    (void)rn;
    UNROLL
    for (int c = 0; c < NC; c++) {
        acc[c] = _mm512_setzero_ps();
        accm[c] = _mm256_setzero_ps();
    }
    for (int64_t ib = 0; ib < nb; ib++) {
        kdec kd;
        k_decode(k, wr[0] + (size_t)ib * (size_t)bb, &kd);
        UNROLL
        for (int c = 0; c < NC; c++) {
            const uint8_t *ab = a + (size_t)c * as + (size_t)ib * sizeof(xllm_block_q8_k);
            float da;
            memcpy(&da, ab, 4);
            __m512i isum = _mm512_setzero_si512();
            UNROLL
            for (int j = 0; j < 4; j++) {
                __m512i p = _mm512_maddubs_epi16(kd.q[j], _mm512_loadu_si512((const void *)(ab + 4 + 64 * j)));
                isum = _mm512_dpwssd_epi32(isum, p, kd.sc[j]);
            }
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(kd.d * da), acc[c]);
            __m256i m = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(ab + 260)), kd.corr);
            accm[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(kd.dcorr * da), accm[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        y[(size_t)c * ys] = _mm512_reduce_add_ps(_mm512_add_ps(acc[c], _mm512_zextps256_ps512(accm[c])));
}

XLLM_DEFINE_KQUANT_TILES(avx512, KNR)

/* ================= activation quantizers (bit-identical to the reference) ================= */

/* round half away from zero, as xllm_nearest_int: trunc(v + copysign(0.5, v)) */
ALWAYS __m512i round_away(__m512 v)
{
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    __m512 half = _mm512_or_ps(_mm512_and_ps(v, sign), _mm512_set1_ps(0.5f));
    return _mm512_cvttps_epi32(_mm512_add_ps(v, half));
}

ALWAYS float inv_scale(float amax, float *d)
{
    *d = amax / 127.0f;
    return *d > 0 ? 1.0f / *d : 0.0f;
}

void xllm_quantize_row_q8_0_avx512(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32, out += Q8_0_BYTES) {
        __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_loadu_ps(src + 16);
        float d, amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        __m512 id = _mm512_set1_ps(inv_scale(amax, &d));
        uint16_t dh = xllm_f32_to_f16(d);
        memcpy(out, &dh, 2);
        _mm_storeu_si128((__m128i *)(out + 2), _mm512_cvtsepi32_epi8(round_away(_mm512_mul_ps(v0, id))));
        _mm_storeu_si128((__m128i *)(out + 18), _mm512_cvtsepi32_epi8(round_away(_mm512_mul_ps(v1, id))));
    }
}

void xllm_quantize_row_q8_k_avx512(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK_K; i++, src += XLLM_QK_K, out += sizeof(xllm_block_q8_k)) {
        __m512 m = _mm512_setzero_ps();
        for (int k = 0; k < 16; k++)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(src + 16 * k)));
        float d, amax = _mm512_reduce_max_ps(m);
        __m512 id = _mm512_set1_ps(inv_scale(amax, &d));
        int16_t bsums[16];
        memcpy(out, &d, 4);
        for (int k = 0; k < 16; k++) {
            __m512i q = round_away(_mm512_mul_ps(_mm512_loadu_ps(src + 16 * k), id));
            _mm_storeu_si128((__m128i *)(out + 4 + 16 * k), _mm512_cvtsepi32_epi8(q));
            bsums[k] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        memcpy(out + 260, bsums, sizeof(bsums));
    }
}
