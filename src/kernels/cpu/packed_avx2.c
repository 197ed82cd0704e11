/* packed_avx2.c - AVX2 (+FMA, F16C) tiles over the packed layouts of
 * kernels_impl.h (Q4_0x16 and Q8_0x16 with Q8X activations, Q6_Kx16 with
 * Q8_K, F16x16 with f32) and the AVX2 Q8X quantizer, for CPUs without
 * AVX-512. Called only after the CPU check. */
#include <immintrin.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"

/* A 32-byte half of a 64-byte chunk holds 4 levels of each of 8 rows (lane j
 * = row 8h + j). With no vpdpbusd, maddubs multiplies the unsigned nibbles
 * with 4 broadcast activation bytes into int16 pairs; the 8 chunk products
 * of a block are summed in int16 (each |pair| <= 2 * 15 * 128 = 3840, so the
 * sum of 8 stays below 32768: exact) and widened once by madd(1). Integer
 * sums are exact, and every output is one chain of per-block FMAs in block
 * order, whatever the tile shape (batch invariance). */

#define ALWAYS static inline __attribute__((always_inline))
#define PNC 4            /* activation rows per register tile */
#define PF_BYTES 4096    /* software prefetch distance of the decode streams */
#define UNROLL _Pragma("GCC unroll 8")
/* Empty asm that claims to change the first n (a constant) of the vectors v and memory: an
 * ordering point the compiler cannot move loads or arithmetic across. */
#define PIN(v, n)                                                                               \
    do {                                                                                        \
        if ((n) == 1)                                                                           \
            __asm__ volatile("" : "+x"(v[0])::"memory");                                        \
        else if ((n) == 2)                                                                      \
            __asm__ volatile("" : "+x"(v[0]), "+x"(v[1])::"memory");                            \
        else if ((n) == 3)                                                                      \
            __asm__ volatile("" : "+x"(v[0]), "+x"(v[1]), "+x"(v[2])::"memory");                \
        else                                                                                    \
            __asm__ volatile("" : "+x"(v[0]), "+x"(v[1]), "+x"(v[2]), "+x"(v[3])::"memory");    \
    } while (0)

ALWAYS int32_t ld32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

ALWAYS __m256i bcast32(const uint8_t *p) { return _mm256_set1_epi32(ld32(p)); }

/* The 8 level vectors of half h of a Q4_0x16 block q: w[k] the low nibbles
 * of chunk k (elements 4k..), w[4 + k] the high ones (16 + 4k..). */
ALWAYS void q4_half(const uint8_t *q, const int h, __m256i *w)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    UNROLL
    for (int k = 0; k < 4; k++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(q + 64 * k + 32 * h));
        w[k] = _mm256_and_si256(raw, m4);
        w[4 + k] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    }
}

/* Lane j: the integer dot of the 32 levels of row j (offset 8 taken back
 * through the block sum) with the Q8X block ab. */
ALWAYS __m256i half_dot(const __m256i *w, const uint8_t *ab)
{
    __m256i p[8];
    UNROLL
    for (int k = 0; k < 4; k++) {
        p[k] = _mm256_maddubs_epi16(w[k], bcast32(ab + 8 + 4 * k));
        p[4 + k] = _mm256_maddubs_epi16(w[4 + k], bcast32(ab + 24 + 4 * k));
    }
    __m256i s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3])),
                                 _mm256_add_epi16(_mm256_add_epi16(p[4], p[5]), _mm256_add_epi16(p[6], p[7])));
    s = _mm256_madd_epi16(s, _mm256_set1_epi16(1));
    return _mm256_sub_epi32(s, _mm256_set1_epi32(8 * ld32(ab + 4)));
}

/* NG groups (group_bytes apart) x NC activation rows; NG * NC <= 4. With one
 * activation row (decode) two groups give four independent streams. */
ALWAYS void q4_tile(const int NG, const uint8_t *gq, size_t gb, int64_t nb, const uint8_t *a, size_t as,
                    const int NC, float *y, size_t ys)
{
    __m256 acc[4][PNC];
    UNROLL
    for (int h = 0; h < 2 * NG; h++)
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[h][c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        UNROLL
        for (int g = 0; g < NG; g++) {
            const uint8_t *q = gq + (size_t)g * gb + (size_t)b * 256, *gd = gq + (size_t)g * gb + (size_t)nb * 256;
            if (NC == 1) {
                UNROLL
                for (int l = 0; l < 256; l += 64)
                    _mm_prefetch((const char *)(q + PF_BYTES + l), _MM_HINT_T0);
                if ((b & 1) == 0)
                    _mm_prefetch((const char *)(gd + (size_t)b * 32 + PF_BYTES / 8), _MM_HINT_T0);
            }
            UNROLL
            for (int h = 0; h < 2; h++) {
                __m256i w[8];
                q4_half(q, h, w);
                __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gd + (size_t)b * 32 + 16 * h)));
                UNROLL
                for (int c = 0; c < NC; c++) {
                    const uint8_t *ab = a + (size_t)c * as + (size_t)b * XLLM_Q8X_BYTES;
                    float da;
                    memcpy(&da, ab, 4);
                    acc[2 * g + h][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(half_dot(w, ab)),
                                                        _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[2 * g + h][c]);
                }
            }
        }
    }
    UNROLL
    for (int h = 0; h < 2 * NG; h++)
        UNROLL
        for (int c = 0; c < NC; c++)
            _mm256_storeu_ps(y + (size_t)c * ys + (size_t)(8 * h), acc[h][c]);
}

/* Half h (8 rows) of one group x NC activation rows, for NC > 1: the chunk
 * loop outside the activation loop, so only 2 level vectors, NC int16 sums
 * and NC accumulators are live (the two-half tile held 8 level vectors and 8
 * accumulators and spilled). Per block the same exact integer dot and one
 * FMA in block order as q4_tile: bit-identical results. */
ALWAYS void q4_half_tile(const uint8_t *gq, int h, int64_t nb, const uint8_t *a, size_t as, const int NC, float *y,
                         size_t ys)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    const uint8_t *gd = gq + (size_t)nb * 256 + 16 * h;
    __m256 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = gq + (size_t)b * 256 + 32 * h, *ab = a + (size_t)b * XLLM_Q8X_BYTES;
        __m256i s[PNC];
        UNROLL
        for (int k = 0; k < 4; k++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(q + 64 * k));
            __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            UNROLL
            for (int c = 0; c < NC; c++) {
                const uint8_t *ac = ab + (size_t)c * as;
                __m256i t = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast32(ac + 8 + 4 * k)),
                                             _mm256_maddubs_epi16(hi, bcast32(ac + 24 + 4 * k)));
                s[c] = k == 0 ? t : _mm256_add_epi16(s[c], t);
            }
            /* keep the chunk order: unconstrained, the compiler hoists all 32
             * products first and spills them */
            PIN(s, NC);
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gd + (size_t)b * 32)));
        UNROLL
        for (int c = 0; c < NC; c++) {
            const uint8_t *ac = ab + (size_t)c * as;
            float da;
            memcpy(&da, ac, 4);
            __m256i d = _mm256_sub_epi32(_mm256_madd_epi16(s[c], _mm256_set1_epi16(1)),
                                         _mm256_slli_epi32(bcast32(ac + 4), 3));
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm256_storeu_ps(y + (size_t)c * ys + 8 * h, acc[c]);
}

/* ---- Q6_Kx16 (Q8_K activations) ---- */

#define Q8K_BYTES sizeof(xllm_block_q8_k) /* f32 d, qs[256] at 4, int16 bsums[16] at 260 */

ALWAYS __m256i ld64(const uint8_t *p) /* 8 bytes into the low half of a vector */
{
    int64_t v;
    memcpy(&v, p, 8);
    return _mm256_castsi128_si256(_mm_cvtsi64_si128(v));
}

/* Levels 16sb + 4i .. + 3 (0..63) of the 8 rows of half h: the ql nibble
 * and the two qh bits of quarter k = sb / 4 moved to bits 4-5. */
ALWAYS __m256i q6_levels(const uint8_t *o, const int h, const int sb, const int i)
{
    const __m256i m15 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    const int k = sb / 4, u = 4 * (sb % 4) + i;
    __m256i l = _mm256_loadu_si256((const __m256i *)(o + (u + 16 * (k & 1)) * 64 + 32 * h));
    __m256i qh = _mm256_loadu_si256((const __m256i *)(o + XLLM_Q6K_QH + u * 64 + 32 * h));
    l = k < 2 ? _mm256_and_si256(l, m15) : _mm256_and_si256(_mm256_srli_epi16(l, 4), m15);
    qh = k == 0 ? qh : k == 1 ? _mm256_srli_epi16(qh, 2) : k == 2 ? _mm256_slli_epi16(qh, 4) : _mm256_slli_epi16(qh, 2);
    return _mm256_or_si256(l, _mm256_and_si256(qh, m30));
}

/* Lane j (row 8h + j): the int8 scales of sub-blocks s0 and s1 of that row
 * as two int16 (s0 == s1: the scale twice, for madd). */
ALWAYS __m256i q6_scale_pair(const uint8_t *sc, const int h, const int s0, const int s1)
{
    __m128i a = _mm256_castsi256_si128(ld64(sc + 16 * s0 + 8 * h));
    __m128i b = s0 == s1 ? a : _mm256_castsi256_si128(ld64(sc + 16 * s1 + 8 * h));
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b));
}

/* Half h (8 rows) of one Q6_Kx16 group x NC Q8_K activation rows. Per
 * super-block, lane j's exact int32 sum_sb sc_j,sb * (dot_sb - 32 bsum_sb):
 * the offset through madd of scale pairs with bsum pairs, each sub-block's
 * two 8-level products summed in int16 (2 * 2 * 63 * 127 < 32768) and
 * scaled by a madd with the scale pair; then one FMA per super-block, in
 * super-block order whatever NC is (batch invariance). */
ALWAYS void q6k_half_tile(const uint8_t *gq, const uint8_t *gd, const int h, int64_t nb, const uint8_t *a, size_t as,
                          const int NC, float *y, size_t ys)
{
    __m256 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *o = gq + (size_t)b * XLLM_Q6K_SB, *sc = o + XLLM_Q6K_SC, *ab = a + (size_t)b * Q8K_BYTES;
        __m256i is[PNC];
        if (NC == 1 && h == 0) /* decode: the first half's pass brings both halves' lines */
            for (int l = 0; l < XLLM_Q6K_SB; l += 64)
                _mm_prefetch((const char *)(o + 2 * XLLM_Q6K_SB + l), _MM_HINT_T0);
        UNROLL
        for (int m = 0; m < 8; m++) {
            __m256i sp = q6_scale_pair(sc, h, 2 * m, 2 * m + 1);
            UNROLL
            for (int c = 0; c < NC; c++) {
                __m256i t = _mm256_madd_epi16(sp, bcast32(ab + (size_t)c * as + 260 + 4 * m));
                is[c] = m == 0 ? t : _mm256_add_epi32(is[c], t);
            }
        }
        UNROLL
        for (int c = 0; c < NC; c++)
            is[c] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(is[c], 5));
        PIN(is, NC);
#pragma GCC unroll 16
        for (int sb = 0; sb < 16; sb++) {
            __m256i sp = q6_scale_pair(sc, h, sb, sb);
            UNROLL
            for (int i = 0; i < 4; i += 2) {
                __m256i q0 = q6_levels(o, h, sb, i), q1 = q6_levels(o, h, sb, i + 1);
                UNROLL
                for (int c = 0; c < NC; c++) {
                    const uint8_t *aq = ab + (size_t)c * as + 4 + 16 * sb + 4 * i;
                    __m256i t = _mm256_add_epi16(_mm256_maddubs_epi16(q0, bcast32(aq)),
                                                 _mm256_maddubs_epi16(q1, bcast32(aq + 4)));
                    is[c] = _mm256_add_epi32(is[c], _mm256_madd_epi16(t, sp));
                }
                PIN(is, NC);
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gd + (size_t)b * 32 + 16 * h)));
        UNROLL
        for (int c = 0; c < NC; c++) {
            float da;
            memcpy(&da, ab + (size_t)c * as, 4);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[c]), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm256_storeu_ps(y + (size_t)c * ys + 8 * h, acc[c]);
}

/* ---- Q8_0x16 (Q8X activations) ---- */

/* Half h of one Q8_0x16 group x NC activation rows (NC <= 3). The levels
 * are stored + 128 (0..255, too wide for maddubs' int16 pairs), so each is
 * split into nibbles: u = 16 hi + lo, both sums kept in int16 over the 8
 * chunks of a block (8 * 2 * 15 * 127 < 32768), combined exactly in int32
 * and the offset 128 taken back through the block sum; one FMA per block. */
ALWAYS void q8_half_tile(const uint8_t *gq, int h, int64_t nb, const uint8_t *a, size_t as, const int NC, float *y,
                         size_t ys)
{
    const __m256i m4 = _mm256_set1_epi8(15);
    const uint8_t *gd = gq + (size_t)nb * 512 + 16 * h;
    __m256 acc[PNC];
    UNROLL
    for (int c = 0; c < NC; c++)
        acc[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = gq + (size_t)b * 512 + 32 * h, *ab = a + (size_t)b * XLLM_Q8X_BYTES;
        __m256i sl[PNC], sh[PNC];
        if (NC == 1 && h == 0) /* decode: the first half's pass brings both halves' lines */
            for (int l = 0; l < 512; l += 64)
                _mm_prefetch((const char *)(q + PF_BYTES + l), _MM_HINT_T0);
        UNROLL
        for (int k = 0; k < 8; k++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(q + 64 * k));
            __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            UNROLL
            for (int c = 0; c < NC; c++) {
                __m256i av = bcast32(ab + (size_t)c * as + 8 + 4 * k);
                __m256i tl = _mm256_maddubs_epi16(lo, av), th = _mm256_maddubs_epi16(hi, av);
                sl[c] = k == 0 ? tl : _mm256_add_epi16(sl[c], tl);
                sh[c] = k == 0 ? th : _mm256_add_epi16(sh[c], th);
            }
            PIN(sl, NC);
            PIN(sh, NC);
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(gd + (size_t)b * 32)));
        UNROLL
        for (int c = 0; c < NC; c++) {
            const uint8_t *ac = ab + (size_t)c * as;
            float da;
            memcpy(&da, ac, 4);
            __m256i d = _mm256_add_epi32(_mm256_madd_epi16(sh[c], _mm256_set1_epi16(16)),
                                         _mm256_madd_epi16(sl[c], _mm256_set1_epi16(1)));
            d = _mm256_sub_epi32(d, _mm256_slli_epi32(bcast32(ac + 4), 7));
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(dw, _mm256_set1_ps(da)), acc[c]);
        }
    }
    UNROLL
    for (int c = 0; c < NC; c++)
        _mm256_storeu_ps(y + (size_t)c * ys + 8 * h, acc[c]);
}

/* ---- F16x16 (f32 activations): outer products ---- */

#define F16_NC 6        /* activation rows of the full tile: 2 halves x 6 = 12 accumulators */
#define F16_PF_COLS 128 /* decode prefetch distance in columns (4 KiB of a group) */

/* NG groups (group_bytes apart) x NC activation rows, both 8-row halves of
 * each group: one accumulator per (half, activation row) fed in column
 * order, so every output is the same chain of FMAs whatever the tile shape
 * (batch invariance). 2 * NG * NC <= 12. */
ALWAYS void f16_tile(const int NG, const int NC, const uint8_t *gq, size_t gb, int64_t cols, const uint8_t *a,
                     size_t as, float *y, size_t ys)
{
    __m256 acc[8][F16_NC];
    UNROLL
    for (int h = 0; h < 2 * NG; h++)
        UNROLL
        for (int c = 0; c < NC; c++)
            acc[h][c] = _mm256_setzero_ps();
    for (int64_t k = 0; k < cols; k++) {
        __m256 wv[8];
        UNROLL
        for (int g = 0; g < NG; g++) {
            const uint8_t *wk = gq + (size_t)g * gb + (size_t)k * 32;
            if (NC == 1 && (k & 1) == 0)
                _mm_prefetch((const char *)(wk + F16_PF_COLS * 32), _MM_HINT_T0);
            wv[2 * g] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)wk));
            wv[2 * g + 1] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wk + 16)));
        }
        UNROLL
        for (int c = 0; c < NC; c++) {
            __m256 b = _mm256_broadcast_ss((const float *)(a + (size_t)c * as) + k);
            UNROLL
            for (int h = 0; h < 2 * NG; h++)
                acc[h][c] = _mm256_fmadd_ps(wv[h], b, acc[h][c]);
        }
    }
    UNROLL
    for (int h = 0; h < 2 * NG; h++)
        UNROLL
        for (int c = 0; c < NC; c++)
            _mm256_storeu_ps(y + (size_t)c * ys + (size_t)(8 * h), acc[h][c]);
}

/* Groups side by side for a tail of nc (< F16_NC) activation rows, enough
 * independent accumulators to hide the FMA latency. */
static int f16_groups_for(int nc) { return nc == 1 ? 4 : nc <= 3 ? 2 : 1; }

static void f16_tail(int ng, int nc, const uint8_t *gq, size_t gb, int64_t cols, const uint8_t *a, size_t as,
                     float *y, size_t ys)
{
    switch (ng * 8 + nc) {
#define F16_CASE(G, C) \
    case (G) * 8 + (C): f16_tile(G, C, gq, gb, cols, a, as, y, ys); break;
        F16_CASE(4, 1) F16_CASE(3, 1) F16_CASE(2, 1) F16_CASE(1, 1) F16_CASE(2, 2) F16_CASE(1, 2)
        F16_CASE(2, 3) F16_CASE(1, 3) F16_CASE(1, 4)
#undef F16_CASE
    default: f16_tile(1, 5, gq, gb, cols, a, as, y, ys); break;
    }
}

void xllm_packed_f16x16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                             int nc, float *y, size_t y_stride)
{
    const size_t gb = p->group_bytes;
    const int full = nc / F16_NC * F16_NC, rest = nc - full, per = f16_groups_for(rest ? rest : 1);
    for (int64_t g = g0; g < g1; g++)
        for (int c0 = 0; c0 < full; c0 += F16_NC)
            f16_tile(1, F16_NC, p->data + (size_t)g * gb, gb, p->cols, a + (size_t)c0 * a_stride, a_stride,
                     y + (size_t)c0 * y_stride + (size_t)g * XLLM_PACK_ROWS, y_stride);
    if (rest)
        for (int64_t g = g0; g < g1; g += per) {
            int ng = g1 - g < per ? (int)(g1 - g) : per;
            f16_tail(ng, rest, p->data + (size_t)g * gb, gb, p->cols, a + (size_t)full * a_stride, a_stride,
                     y + (size_t)full * y_stride + (size_t)g * XLLM_PACK_ROWS, y_stride);
        }
}

/* ---- drivers: every layout runs one 8-row half of a group at a time over
 * register tiles of up to tile_nc(kind) activation rows ---- */

enum { KIND_Q4_0, KIND_Q8_0, KIND_Q6_K };

ALWAYS int tile_nc(const int kind) { return kind == KIND_Q8_0 ? 3 : PNC; } /* what fits 16 registers */

ALWAYS void half_tile(const int kind, const xllm_packed *p, const uint8_t *gq, int h, const uint8_t *a, size_t as,
                      const int NC, float *y, size_t ys)
{
    if (kind == KIND_Q4_0)
        q4_half_tile(gq, h, p->nb, a, as, NC, y, ys);
    else if (kind == KIND_Q8_0)
        q8_half_tile(gq, h, p->nb, a, as, NC, y, ys);
    else
        q6k_half_tile(gq, gq + (size_t)p->nb * XLLM_Q6K_SB, h, p->nb, a, as, NC, y, ys);
}

ALWAYS void half_driver(const int kind, const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t as,
                        int nc, float *y, size_t ys)
{
    const int W = tile_nc(kind);
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *gq = p->data + (size_t)g * p->group_bytes;
        float *yg = y + (size_t)g * XLLM_PACK_ROWS;
        for (int c0 = 0; c0 < nc; c0 += W) {
            const uint8_t *ac = a + (size_t)c0 * as;
            float *yc = yg + (size_t)c0 * ys;
            for (int h = 0; h < 2; h++)
                switch (nc - c0 < W ? nc - c0 : W) {
                case 1: half_tile(kind, p, gq, h, ac, as, 1, yc, ys); break;
                case 2: half_tile(kind, p, gq, h, ac, as, 2, yc, ys); break;
                case 3: half_tile(kind, p, gq, h, ac, as, 3, yc, ys); break;
                default: half_tile(kind, p, gq, h, ac, as, W, yc, ys); break;
                }
        }
    }
}

/* Q4_0 decode (one activation row) streams two groups at once (q4_tile);
 * every other case takes the half tiles. */
void xllm_packed_q4_0x16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                              int nc, float *y, size_t y_stride)
{
    if (nc == 1) {
        const size_t gb = p->group_bytes;
        for (; g0 + 2 <= g1; g0 += 2)
            q4_tile(2, p->data + (size_t)g0 * gb, gb, p->nb, a, a_stride, 1, y + (size_t)g0 * XLLM_PACK_ROWS,
                    y_stride);
        if (g0 < g1)
            q4_tile(1, p->data + (size_t)g0 * gb, gb, p->nb, a, a_stride, 1, y + (size_t)g0 * XLLM_PACK_ROWS,
                    y_stride);
        return;
    }
    half_driver(KIND_Q4_0, p, g0, g1, a, a_stride, nc, y, y_stride);
}

void xllm_packed_q8_0x16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                              int nc, float *y, size_t y_stride)
{
    half_driver(KIND_Q8_0, p, g0, g1, a, a_stride, nc, y, y_stride);
}

void xllm_packed_q6_kx16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                              int nc, float *y, size_t y_stride)
{
    half_driver(KIND_Q6_K, p, g0, g1, a, a_stride, nc, y, y_stride);
}

/* ---- Q8X quantizer: the AVX2 Q8_0 quantizer (bit-identical to the
 * reference) per block, its scale widened and the levels summed ---- */

void xllm_quantize_row_q8x_avx2(const float *src, void *dst, int64_t n)
{
    uint8_t *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32, out += XLLM_Q8X_BYTES) {
        xllm_block_q8_0 b;
        uint16_t dh;
        xllm_quantize_row_q8_0_avx2(src, &b, XLLM_QK32);
        memcpy(&dh, &b.d, 2);
        float d = xllm_f16_to_f32(dh);
        __m256i q = _mm256_loadu_si256((const __m256i *)b.qs);
        /* sum of 32 int8: madd of maddubs(1, q) pairs, then the 8 lanes */
        __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
        int32_t sum = _mm_cvtsi128_si32(t);
        memcpy(out, &d, 4);
        memcpy(out + 4, &sum, 4);
        memcpy(out + 8, b.qs, XLLM_QK32);
    }
}
