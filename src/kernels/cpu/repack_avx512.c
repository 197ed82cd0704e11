/* repack_avx512.c - the repacking of repack.c with AVX-512 gathers: one
 * 16-lane gather collects the same 4 bytes of the 16 rows of a group, which
 * is exactly one 64-byte chunk of the packed layouts (lane j = row j). Must
 * produce the bytes of xllm_pack_fill_ref exactly (test_packed.c). */
#include <immintrin.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "kernels/cpu/kernels_impl.h"

#define R XLLM_PACK_ROWS

/* Byte offsets of the 16 rows of a group, stride bytes apart. */
static __m512i row_offsets(size_t stride)
{
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)stride));
}

static __m512i gather16(__m512i rows, const uint8_t *at) { return _mm512_i32gather_epi32(rows, at, 1); }

/* The low and high f16 halves of 16 gathered dwords, 16 rows each. */
static void store_halves(uint8_t *lo, uint8_t *hi, __m512i v)
{
    _mm256_storeu_si256((__m256i *)lo, _mm512_cvtepi32_epi16(v));
    if (hi)
        _mm256_storeu_si256((__m256i *)hi, _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
}

/* Pull the next group's standard rows (contiguous, bytes long) into the
 * cache, the share of block b of nb: the gathers wait on memory otherwise. */
static void prefetch_share(const uint8_t *next, size_t bytes, int64_t b, int64_t nb)
{
    size_t lines = (bytes + 63) / 64, per = (lines + (size_t)nb - 1) / (size_t)nb;
    for (size_t i = (size_t)b * per; i < (size_t)(b + 1) * per && i < lines; i++)
        _mm_prefetch((const char *)next + i * 64, _MM_HINT_T0);
}

/* xllm_q5_pack_qh on 16 rows: per 16-bit half, a 4 x 4 bit transpose (bit
 * 4k+t to bit 4t+k, two delta swaps), then nibble t of the low half and of
 * the high half make byte t. */
static __m512i q5_qh16(__m512i h)
{
    const __m512i m1 = _mm512_set1_epi32(0x0A0A0A0A), m2 = _mm512_set1_epi32(0x00CC00CC);
    __m512i t = _mm512_and_si512(_mm512_xor_si512(h, _mm512_srli_epi32(h, 3)), m1);
    h = _mm512_xor_si512(h, _mm512_xor_si512(t, _mm512_slli_epi32(t, 3)));
    t = _mm512_and_si512(_mm512_xor_si512(h, _mm512_srli_epi32(h, 6)), m2);
    h = _mm512_xor_si512(h, _mm512_xor_si512(t, _mm512_slli_epi32(t, 6)));
    __m512i lo = _mm512_and_si512(h, _mm512_set1_epi32(0xFFFF)), hi = _mm512_srli_epi32(h, 16), out = lo;
    for (int n = 0; n < 2; n++, lo = hi) { /* nibble t of the half to bits 8t (low) or 8t + 4 (high) */
        __m512i s = _mm512_or_si512(
            _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0x000F)),
                            _mm512_slli_epi32(_mm512_and_si512(lo, _mm512_set1_epi32(0x00F0)), 4)),
            _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(lo, _mm512_set1_epi32(0x0F00)), 8),
                            _mm512_slli_epi32(_mm512_and_si512(lo, _mm512_set1_epi32(0xF000)), 12)));
        out = n == 0 ? s : _mm512_or_si512(out, _mm512_slli_epi32(s, 4));
    }
    return out;
}

/* Block b of the 16 rows of one group: row j's standard block at blk + j * rb
 * (the gather offsets in rows), the group's packed bytes from gq. */
typedef struct block_at {
    const uint8_t *blk;
    size_t rb;
    __m512i rows;
    uint8_t *gq;
    int64_t b;
} block_at;

/* The 16 rows' f16 d when it is the block's last field (Q6_K, Q3_K): read
 * with the two bytes before it, so no gather passes the block's end. */
static void store_last_d(uint8_t *out, __m512i rows, const uint16_t *d)
{
    store_halves(out, NULL, _mm512_srli_epi32(gather16(rows, (const uint8_t *)d - 2), 16));
}

/* 32-element layouts: d (and m) planes, qh plane (Q5), qs chunks. */
static void block_q32(const xllm_packed *p, const block_at *t)
{
    const xllm_q32_kind kd = xllm_q32_kind_of((xllm_pack_format)p->format);
    const __m512i flip = _mm512_set1_epi32(p->format == XLLM_PACK_Q8_0X16 ? (int)0x80808080u : 0);
    uint8_t *gd = t->gq + (size_t)p->nb * kd.qsb, *gm = gd + (size_t)p->nb * 32;
    uint8_t *gh = gm + (size_t)p->nb * (kd.has_m ? 32 : 0);
    const size_t b = (size_t)t->b;
    store_halves(gd + b * R * 2, kd.has_m ? gm + b * R * 2 : NULL, gather16(t->rows, t->blk)); /* d, m at 0, 2 */
    if (kd.has_qh)
        _mm512_storeu_si512(gh + b * 64, q5_qh16(gather16(t->rows, t->blk + kd.qs_off - 4)));
    for (size_t c = 0; c < kd.qsb / 64; c++)
        _mm512_storeu_si512(t->gq + b * kd.qsb + c * 64,
                            _mm512_xor_si512(gather16(t->rows, t->blk + kd.qs_off + 4 * c), flip));
}

/* Q4_K and Q5_K (the same block but for qh and the offset of qs). */
static void block_q4k(const xllm_packed *p, const block_at *t)
{
    const int q5 = p->format == XLLM_PACK_Q5_KX16;
    const size_t qs = q5 ? offsetof(xllm_block_q5_k, qs) : offsetof(xllm_block_q4_k, qs);
    uint8_t *o = t->gq + (size_t)t->b * (q5 ? XLLM_Q5K_SB : XLLM_Q4K_SB);
    for (int pc = 0; pc < 32; pc++)
        _mm512_storeu_si512(o + (size_t)pc * 64, gather16(t->rows, t->blk + qs + 4 * pc));
    for (int c = 0; q5 && c < 8; c++)
        _mm512_storeu_si512(o + XLLM_Q4K_SB + (size_t)c * 64,
                            gather16(t->rows, t->blk + offsetof(xllm_block_q5_k, qh) + 4 * c));
    store_halves(o + XLLM_Q4K_D, o + XLLM_Q4K_DMIN, gather16(t->rows, t->blk)); /* d, dmin at 0, 2 in both */
    for (int j = 0; j < R; j++) {
        uint8_t sc[8], mn[8];
        xllm_q4k_unpack_scales(t->blk + (size_t)j * t->rb + offsetof(xllm_block_q4_k, scales), sc, mn);
        for (int s = 0; s < 8; s++) {
            o[XLLM_Q4K_SC + s * R + j] = sc[s];
            o[XLLM_Q4K_MN + s * R + j] = mn[s];
        }
    }
}

/* Q6_K: 2 gathers of ql make the low nibbles of chunks v and v + 16, 2 of qh
 * the 2-bit high parts of chunks u and u + 8 (layout in repack.c). */
static void block_q6k(const xllm_packed *p, const block_at *t)
{
    const __m512i m0 = _mm512_set1_epi32(0x0F0F0F0F), m1 = _mm512_set1_epi32(0x03030303),
                  m2 = _mm512_set1_epi32(0x30303030);
    const xllm_block_q6_k *blk = (const xllm_block_q6_k *)t->blk;
    uint8_t *o = t->gq + (size_t)t->b * XLLM_Q6K_SB, *gd = t->gq + (size_t)p->nb * XLLM_Q6K_SB;
    for (int v = 0; v < 16; v++) {
        const uint8_t *ql = blk->ql + 4 * (v % 8) + 32 * (v / 8);
        __m512i a = gather16(t->rows, ql), c = gather16(t->rows, ql + 64);
        _mm512_storeu_si512(o + v * 64,
                            _mm512_or_si512(_mm512_and_si512(a, m0), _mm512_slli_epi32(_mm512_and_si512(c, m0), 4)));
        _mm512_storeu_si512(o + (v + 16) * 64, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a, 4), m0),
                                                                _mm512_andnot_si512(m0, c)));
    }
    for (int u = 0; u < 16; u++) {
        const uint8_t *qh = blk->qh + 4 * (u % 8);
        const int sh = 2 * (u / 8);
        __m512i a = _mm512_srli_epi32(gather16(t->rows, qh), sh);
        __m512i c = _mm512_srli_epi32(gather16(t->rows, qh + 32), sh);
        __m512i hi = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(a, m1), 4),
                                     _mm512_slli_epi32(_mm512_and_si512(a, m2), 2));
        __m512i lo = _mm512_or_si512(_mm512_and_si512(c, m1), _mm512_srli_epi32(_mm512_and_si512(c, m2), 2));
        _mm512_storeu_si512(o + XLLM_Q6K_QH + u * 64, _mm512_or_si512(hi, lo));
    }
    store_last_d(gd + (size_t)t->b * R * 2, t->rows, &blk->d);
    for (int j = 0; j < R; j++)
        for (int s = 0; s < 16; s++)
            o[XLLM_Q6K_SC + s * R + j] = (uint8_t)((const xllm_block_q6_k *)(t->blk + (size_t)j * t->rb))->scales[s];
}

/* Q3_K: qs and hmask dwords as they are; the scales one row at a time. */
static void block_q3k(const xllm_packed *p, const block_at *t)
{
    const xllm_block_q3_k *blk = (const xllm_block_q3_k *)t->blk;
    uint8_t *o = t->gq + (size_t)t->b * XLLM_Q3K_SB, *gd = t->gq + (size_t)p->nb * XLLM_Q3K_SB;
    for (int c = 0; c < 16; c++)
        _mm512_storeu_si512(o + c * 64, gather16(t->rows, blk->qs + 4 * c));
    for (int c = 0; c < 8; c++)
        _mm512_storeu_si512(o + XLLM_Q3K_HM + c * 64, gather16(t->rows, blk->hmask + 4 * c));
    store_last_d(gd + (size_t)t->b * R * 2, t->rows, &blk->d);
    for (int j = 0; j < R; j++)
        for (int s = 0; s < 16; s++)
            o[XLLM_Q3K_SC + s * R + j] =
                (uint8_t)(int8_t)xllm_q3k_scale(((const xllm_block_q3_k *)(t->blk + (size_t)j * t->rb))->scales, s);
}

/* Q2_K: qs dwords, d with dmin; the scale bytes one row at a time. */
static void block_q2k(const xllm_packed *p, const block_at *t)
{
    const xllm_block_q2_k *blk = (const xllm_block_q2_k *)t->blk;
    uint8_t *o = t->gq + (size_t)t->b * XLLM_Q2K_SB;
    (void)p;
    for (int c = 0; c < 16; c++)
        _mm512_storeu_si512(o + c * 64, gather16(t->rows, blk->qs + 4 * c));
    /* d, dmin: the last 4 bytes */
    store_halves(o + XLLM_Q2K_D, o + XLLM_Q2K_DMIN, gather16(t->rows, (const uint8_t *)&blk->d));
    for (int j = 0; j < R; j++)
        for (int s = 0; s < 16; s++)
            o[XLLM_Q2K_SC + s * R + j] = ((const xllm_block_q2_k *)(t->blk + (size_t)j * t->rb))->scales[s];
}

/* Groups [g0, g1) block by block (bb standard bytes per block), the next
 * group's rows prefetched meanwhile. */
static void fill_blocks(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1, size_t bb,
                        void (*fn)(const xllm_packed *, const block_at *))
{
    block_at t;
    t.rb = (size_t)p->nb * bb;
    t.rows = row_offsets(t.rb);
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *gs = src + (size_t)g * R * t.rb;
        t.gq = p->data + (size_t)g * p->group_bytes;
        for (t.b = 0; t.b < p->nb; t.b++) {
            t.blk = gs + (size_t)t.b * bb;
            if (g + 1 < g1)
                prefetch_share(gs + R * t.rb, R * t.rb, t.b, p->nb);
            fn(p, &t);
        }
    }
}

/* Columns k and k + 1 of the 16 rows per gather. */
static void fill_f16(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    const size_t cols = (size_t)p->cols, rb = cols * 2;
    const __m512i rows = row_offsets(rb);
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *gs = src + (size_t)g * R * rb;
        uint8_t *o = p->data + (size_t)g * p->group_bytes;
        size_t k = 0;
        for (; k + 2 <= cols; k += 2)
            store_halves(o + k * R * 2, o + (k + 1) * R * 2, gather16(rows, gs + k * 2));
        for (; k < cols; k++)
            for (int j = 0; j < R; j++)
                memcpy(o + (k * R + (size_t)j) * 2, gs + (size_t)j * rb + k * 2, 2);
    }
}

void xllm_pack_fill_avx512(xllm_packed *p, const void *src, int64_t g0, int64_t g1)
{
    size_t rb = p->group_bytes / R; /* a row's share of a group: the standard row is no longer */
    if (rb > (size_t)INT_MAX / R) { /* row offsets must fit the gathers' 32-bit indices */
        xllm_pack_fill_ref(p, src, g0, g1);
        return;
    }
    switch ((xllm_pack_format)p->format) {
    case XLLM_PACK_Q4_0X16:
    case XLLM_PACK_Q8_0X16:
    case XLLM_PACK_IQ4_NLX16:
    case XLLM_PACK_Q4_1X16:
    case XLLM_PACK_Q5_0X16:
    case XLLM_PACK_Q5_1X16:
        fill_blocks(p, src, g0, g1, xllm_q32_kind_of((xllm_pack_format)p->format).block_bytes, block_q32);
        break;
    case XLLM_PACK_Q4_KX16: fill_blocks(p, src, g0, g1, sizeof(xllm_block_q4_k), block_q4k); break;
    case XLLM_PACK_Q5_KX16: fill_blocks(p, src, g0, g1, sizeof(xllm_block_q5_k), block_q4k); break;
    case XLLM_PACK_Q6_KX16: fill_blocks(p, src, g0, g1, sizeof(xllm_block_q6_k), block_q6k); break;
    case XLLM_PACK_Q3_KX16: fill_blocks(p, src, g0, g1, sizeof(xllm_block_q3_k), block_q3k); break;
    case XLLM_PACK_Q2_KX16: fill_blocks(p, src, g0, g1, sizeof(xllm_block_q2_k), block_q2k); break;
    case XLLM_PACK_F16X16: fill_f16(p, src, g0, g1); break;
    default: xllm_pack_fill_ref(p, src, g0, g1); break;
    }
}
