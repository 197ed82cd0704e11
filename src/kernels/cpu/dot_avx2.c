/* dot_avx2.c - AVX2/FMA/F16C tile kernels of every weight type (the fallback
 * for CPUs without AVX-512): y[c][r] = dot(weight row r, activation row c).
 * 32-element block types: 2 weight rows x up to 4 activations per register
 * tile, one block per step, signed levels through maddubs(|w|, sign(a, w));
 * K-quants: 1 weight row x up to 4 activations, the super-block decoded once
 * per tile into levels + per-16 scales, mins through Q8_K's bsums;
 * F32/F16/BF16 weights: f32 FMA. Called only after the CPU check. */
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"
#include "kernels/cpu/tile_driver.h"

#define ALWAYS static inline __attribute__((always_inline))
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

ALWAYS float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ================= F32 / F16 / BF16 weights, f32 activations ================= */

#define FNR 2

ALWAYS __m256 load_fw(const int kind, const uint8_t *row, int64_t i)
{
    if (kind == FW_F32)
        return _mm256_loadu_ps((const float *)row + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + i));
    if (kind == FW_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

ALWAYS void float_step(const int kind, const int NC, const uint8_t *const *wr, const uint8_t *a, size_t as,
                       int64_t i, __m256 acc[FNR][TILE_NC])
{
    __m256 wv[FNR];
    UNROLL
    for (int r = 0; r < FNR; r++)
        wv[r] = load_fw(kind, wr[r], i);
    UNROLL
    for (int c = 0; c < NC; c++) {
        __m256 av = _mm256_loadu_ps((const float *)(a + (size_t)c * as) + i);
        UNROLL
        for (int r = 0; r < FNR; r++)
            acc[r][c] = _mm256_fmadd_ps(wv[r], av, acc[r][c]);
    }
}

ALWAYS void float_micro(const int kind, int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a,
                        size_t as, float *y, size_t ys, const int NC)
{
    const size_t esz = kind == FW_F32 ? 4 : 2;
    __m256 acc[FNR][TILE_NC];
    UNROLL
    for (int r = 0; r < FNR; r++)
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[r][c] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        float_step(kind, NC, wr, a, as, i, acc);
    if (i < n) { /* tail: copy the last < 8 elements into zero-padded rows */
        uint8_t wt[FNR][32], at[TILE_NC][32];
        const uint8_t *wp[FNR];
        for (int r = 0; r < FNR; r++) {
            memset(wt[r], 0, sizeof(wt[r]));
            memcpy(wt[r], wr[r] + (size_t)i * esz, (size_t)(n - i) * esz);
            wp[r] = wt[r];
        }
        for (int c = 0; c < NC; c++) {
            memset(at[c], 0, sizeof(at[c]));
            memcpy(at[c], a + (size_t)c * as + (size_t)i * 4, (size_t)(n - i) * 4);
        }
        float_step(kind, NC, wp, at[0], sizeof(at[0]), 0, acc);
    }
    for (int c = 0; c < NC; c++)
        for (int r = 0; r < rn; r++)
            y[(size_t)c * ys + (size_t)r] = hsum8(acc[r][c]);
}

XLLM_DEFINE_FLOAT_TILES(avx2, FNR)

/* ============ 32-element block types x Q8_0 activations ============ */

#define BNR 2

ALWAYS int blk_has_min(const int k) { return k == B_Q4_1 || k == B_Q5_1; }

ALWAYS __m256i nibbles(const uint8_t *q)
{
    __m128i x = _mm_loadu_si128((const __m128i *)q);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(15));
}

/* byte i = 0xFF where bit i of the 32-bit word is set */
ALWAYS __m256i bits_to_bytes(uint32_t bits)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* One weight block as 32 levels: signed values, or unsigned for the _1 types. */
ALWAYS __m256i decode1(const int k, const uint8_t *b)
{
    const int qs = blk_qs(k);
    if (k == B_Q8_0)
        return _mm256_loadu_si256((const __m256i *)(b + qs));
    __m256i z = nibbles(b + qs);
    if (k == B_IQ4_NL) {
        const __m256i tbl = _mm256_broadcastsi128_si256(
            _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
        return _mm256_shuffle_epi8(tbl, z);
    }
    if (k == B_Q5_0 || k == B_Q5_1) {
        __m256i hb = _mm256_and_si256(bits_to_bytes(ld32(b + (k == B_Q5_0 ? 2 : 4))), _mm256_set1_epi8(16));
        z = _mm256_or_si256(z, hb);
    }
    if (k == B_Q4_0)
        z = _mm256_sub_epi8(z, _mm256_set1_epi8(8));
    if (k == B_Q5_0)
        z = _mm256_sub_epi8(z, _mm256_set1_epi8(16));
    return z;
}

ALWAYS void blk_step(const int k, const int NC, const uint8_t *const *w, const uint8_t *a, size_t as,
                     __m256 acc[BNR][TILE_NC])
{
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i av[TILE_NC];
    float ad[TILE_NC];
    __m256 asum[TILE_NC];
    UNROLL
    for (int c = 0; c < NC; c++) {
        const uint8_t *ab = a + (size_t)c * as;
        av[c] = _mm256_loadu_si256((const __m256i *)(ab + 2));
        ad[c] = h2f(ab);
        if (blk_has_min(k)) {
            __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), av[c]), ones16);
            asum[c] = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(ad[c]));
        }
    }
    UNROLL
    for (int r = 0; r < BNR; r++) {
        __m256i wq = decode1(k, w[r]);
        float wd = h2f(w[r]);
        __m256i wabs = blk_has_min(k) ? wq : _mm256_sign_epi8(wq, wq);
        UNROLL
        for (int c = 0; c < NC; c++) {
            __m256i as8 = blk_has_min(k) ? av[c] : _mm256_sign_epi8(av[c], wq);
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, as8), ones16);
            acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(wd * ad[c]), acc[r][c]);
            if (blk_has_min(k))
                acc[r][c] = _mm256_fmadd_ps(asum[c], _mm256_set1_ps(h2f(w[r] + 2)), acc[r][c]);
        }
    }
}

ALWAYS void blk_micro(const int k, int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a, size_t as,
                      float *y, size_t ys, const int NC)
{
    const int bb = blk_bytes(k);
    const int64_t nb = n / XLLM_QK32;
    __m256 acc[BNR][TILE_NC];
    const uint8_t *w[BNR];
    UNROLL
    for (int r = 0; r < BNR; r++)
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        UNROLL
        for (int r = 0; r < BNR; r++)
            w[r] = wr[r] + (size_t)ib * (size_t)bb;
        blk_step(k, NC, w, a + (size_t)ib * Q8_0_BYTES, as, acc);
    }
    for (int c = 0; c < NC; c++)
        for (int r = 0; r < rn; r++)
            y[(size_t)c * ys + (size_t)r] = hsum8(acc[r][c]);
}

XLLM_DEFINE_BLOCK_TILES(avx2, BNR)

/* ================= K-quants x Q8_K activations ================= */

/* A decoded super-block: 8 chunks of 32 unsigned levels, the int16 scale
 * vector of each chunk, the per-16 correction against bsums:
 *   dot = d * da * sum(sc * q * a) + dcorr * da * sum_g(corr[g] * bsums[g]) */
typedef struct kdec {
    __m256i q[8];
    __m256i sc[8];
    __m256i corr;
    float d, dcorr;
} kdec;

/* chunk j covers groups 2j (lanes 0-7) and 2j+1 (lanes 8-15) */
ALWAYS void scales16(const int16_t *s, kdec *kd)
{
    UNROLL
    for (int j = 0; j < 8; j++)
        kd->sc[j] = _mm256_set_m128i(_mm_set1_epi16(s[2 * j + 1]), _mm_set1_epi16(s[2 * j]));
}

ALWAYS void k4_scales(const uint8_t *s, kdec *kd)
{
    uint32_t u0 = ld32(s), u1 = ld32(s + 4), u2 = ld32(s + 8);
    uint32_t v[4] = {u0 & 0x3f3f3f3fu, (u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4,
                     u1 & 0x3f3f3f3fu, ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4};
    uint8_t b[16]; /* 8 scales, then 8 mins */
    int16_t mn[16];
    memcpy(b, v, 16);
    UNROLL
    for (int j = 0; j < 8; j++) {
        kd->sc[j] = _mm256_set1_epi16(b[j]);
        mn[2 * j] = mn[2 * j + 1] = b[8 + j];
    }
    kd->corr = _mm256_loadu_si256((const __m256i *)mn);
}

/* 2-bit fields of Q2_K/Q3_K: chunk j = bits 2(j%4) of qs[32(j/4) + l] */
ALWAYS void low2_bits(const uint8_t *qs, kdec *kd)
{
    const __m256i m3 = _mm256_set1_epi8(3);
    UNROLL
    for (int h = 0; h < 2; h++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(qs + 32 * h));
        kd->q[4 * h] = _mm256_and_si256(x, m3);
        kd->q[4 * h + 1] = _mm256_and_si256(_mm256_srli_epi16(x, 2), m3);
        kd->q[4 * h + 2] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m3);
        kd->q[4 * h + 3] = _mm256_and_si256(_mm256_srli_epi16(x, 6), m3);
    }
}

/* add `add` to the bytes of chunk j whose bit j is set in the 32-byte h */
ALWAYS void high_bits(const uint8_t *h, int add, kdec *kd)
{
    __m256i x = _mm256_loadu_si256((const __m256i *)h);
    UNROLL
    for (int j = 0; j < 8; j++) {
        const __m256i bit = _mm256_set1_epi8((char)(1 << j));
        __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(x, bit), bit);
        kd->q[j] = _mm256_add_epi8(kd->q[j], _mm256_and_si256(set, _mm256_set1_epi8((char)add)));
    }
}

ALWAYS void decode_q2_k(const uint8_t *b, kdec *kd)
{
    int16_t sc[16], mn[16];
    for (int g = 0; g < 16; g++) {
        sc[g] = b[g] & 15;
        mn[g] = b[g] >> 4;
    }
    low2_bits(b + 16, kd);
    scales16(sc, kd);
    kd->corr = _mm256_loadu_si256((const __m256i *)mn);
    kd->d = h2f(b + 80);
    kd->dcorr = -h2f(b + 82);
}

ALWAYS void decode_q3_k(const uint8_t *b, kdec *kd)
{
    uint32_t a0 = ld32(b + 96), a1 = ld32(b + 100), t = ld32(b + 104);
    uint32_t v[4] = {(a0 & 0x0f0f0f0fu) | ((t >> 0) & 0x03030303u) << 4,
                     (a1 & 0x0f0f0f0fu) | ((t >> 2) & 0x03030303u) << 4,
                     ((a0 >> 4) & 0x0f0f0f0fu) | ((t >> 4) & 0x03030303u) << 4,
                     ((a1 >> 4) & 0x0f0f0f0fu) | ((t >> 6) & 0x03030303u) << 4};
    uint8_t u[16];
    int16_t sc[16];
    memcpy(u, v, 16);
    for (int g = 0; g < 16; g++)
        sc[g] = (int16_t)(u[g] - 32);
    low2_bits(b + 32, kd);
    high_bits(b, 4, kd);
    scales16(sc, kd);
    kd->corr = _mm256_loadu_si256((const __m256i *)sc);
    kd->d = h2f(b + 108);
    kd->dcorr = -4.0f * kd->d;
}

ALWAYS void nibble_chunks(const uint8_t *qs, kdec *kd)
{
    const __m256i m15 = _mm256_set1_epi8(15);
    UNROLL
    for (int p = 0; p < 4; p++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
        kd->q[2 * p] = _mm256_and_si256(x, m15);
        kd->q[2 * p + 1] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m15);
    }
}

ALWAYS void decode_q4_k(const uint8_t *b, kdec *kd)
{
    nibble_chunks(b + 16, kd);
    k4_scales(b + 4, kd);
    kd->d = h2f(b);
    kd->dcorr = -h2f(b + 2);
}

ALWAYS void decode_q5_k(const uint8_t *b, kdec *kd)
{
    nibble_chunks(b + 48, kd);
    high_bits(b + 16, 16, kd);
    k4_scales(b + 4, kd);
    kd->d = h2f(b);
    kd->dcorr = -h2f(b + 2);
}

ALWAYS void decode_q6_k(const uint8_t *b, kdec *kd)
{
    const __m256i m15 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
    int16_t sc[16];
    UNROLL
    for (int h = 0; h < 2; h++) {
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
        __m256i q = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
        __m256i lo[4] = {_mm256_and_si256(l0, m15), _mm256_and_si256(l1, m15),
                         _mm256_and_si256(_mm256_srli_epi16(l0, 4), m15),
                         _mm256_and_si256(_mm256_srli_epi16(l1, 4), m15)};
        UNROLL
        for (int s = 0; s < 4; s++) {
            __m256i hb = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
            kd->q[4 * h + s] = _mm256_or_si256(lo[s], _mm256_slli_epi16(hb, 4));
        }
    }
    for (int g = 0; g < 16; g++)
        sc[g] = (int8_t)b[192 + g];
    scales16(sc, kd);
    kd->corr = _mm256_loadu_si256((const __m256i *)sc);
    kd->d = h2f(b + 208);
    kd->dcorr = -32.0f * kd->d;
}

#define KNR 1

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

ALWAYS void k_micro(const int k, int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a, size_t as,
                    float *y, size_t ys, const int NC)
{
    const int bb = k_bytes(k);
    const int64_t nb = n / XLLM_QK_K;
    __m256 acc[TILE_NC];
    (void)rn;
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        kdec kd;
        k_decode(k, wr[0] + (size_t)ib * (size_t)bb, &kd);
        UNROLL
        for (int c = 0; c < NC; c++) {
            const uint8_t *ab = a + (size_t)c * as + (size_t)ib * sizeof(xllm_block_q8_k);
            float da;
            memcpy(&da, ab, 4);
            __m256i isum = _mm256_setzero_si256();
            UNROLL
            for (int j = 0; j < 8; j++) {
                __m256i p = _mm256_maddubs_epi16(kd.q[j], _mm256_loadu_si256((const __m256i *)(ab + 4 + 32 * j)));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, kd.sc[j]));
            }
            __m256i m = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(ab + 260)), kd.corr);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(kd.d * da), acc[c]);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(kd.dcorr * da), acc[c]);
        }
    }
    for (int c = 0; c < NC; c++)
        y[(size_t)c * ys] = hsum8(acc[c]);
}

XLLM_DEFINE_KQUANT_TILES(avx2, KNR)

/* ================= activation quantizers (bit-identical to the reference) ================= */

/* round half away from zero, as xllm_nearest_int: trunc(v + copysign(0.5, v)) */
ALWAYS __m256i round_away(__m256 v)
{
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    __m256 half = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(0.5f));
    return _mm256_cvttps_epi32(_mm256_add_ps(v, half));
}

ALWAYS __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

ALWAYS float hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

ALWAYS int hsum8i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

ALWAYS float inv_scale(float amax, float *d)
{
    *d = amax / 127.0f;
    return *d > 0 ? 1.0f / *d : 0.0f;
}

/* 32 floats -> 32 int8 in order; the int32 levels are left in q[4] */
ALWAYS void quant32(const float *src, __m256 id, uint8_t *out, __m256i q[4])
{
    for (int k = 0; k < 4; k++)
        q[k] = round_away(_mm256_mul_ps(_mm256_loadu_ps(src + 8 * k), id));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)out, p);
}

void xllm_quantize_row_q8_0_avx2(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32, out += Q8_0_BYTES) {
        __m256 m = abs8(_mm256_loadu_ps(src));
        for (int k = 1; k < 4; k++)
            m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(src + 8 * k)));
        float d;
        __m256 id = _mm256_set1_ps(inv_scale(hmax8(m), &d));
        __m256i q[4];
        uint16_t dh = xllm_f32_to_f16(d);
        memcpy(out, &dh, 2);
        quant32(src, id, out + 2, q);
    }
}

void xllm_quantize_row_q8_k_avx2(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK_K; i++, src += XLLM_QK_K, out += sizeof(xllm_block_q8_k)) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < 32; k++)
            m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(src + 8 * k)));
        float d;
        __m256 id = _mm256_set1_ps(inv_scale(hmax8(m), &d));
        int16_t bsums[16];
        memcpy(out, &d, 4);
        for (int j = 0; j < 8; j++) {
            __m256i q[4];
            quant32(src + 32 * j, id, out + 4 + 32 * j, q);
            bsums[2 * j] = (int16_t)hsum8i(_mm256_add_epi32(q[0], q[1]));
            bsums[2 * j + 1] = (int16_t)hsum8i(_mm256_add_epi32(q[2], q[3]));
        }
        memcpy(out + 260, bsums, sizeof(bsums));
    }
}
