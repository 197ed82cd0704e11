/* repack.c - the packed weight layouts of kernels_impl.h: which layout a
 * weight gets, the repacking from standard GGUF rows, the Q8X activation
 * quantizer (reference) and the scalar reference of the packed tile, which
 * reads the packed bytes back one element at a time. */
#include <stddef.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"

#define R XLLM_PACK_ROWS

xllm_pack_format xllm_pack_choose(uint32_t dtype, int64_t rows, int64_t cols, xllm_isa isa)
{
    if (isa < XLLM_ISA_AVX2 || rows <= 0 || rows % R || cols <= 0)
        return XLLM_PACK_NONE;
    if (isa == XLLM_ISA_AVX2) { /* only the layouts with an AVX2 tile (packed_avx2.c) */
        xllm_pack_format f = xllm_pack_choose(dtype, rows, cols, XLLM_ISA_AVX512);
        return f == XLLM_PACK_Q4_0X16 || f == XLLM_PACK_Q8_0X16 || f == XLLM_PACK_Q6_KX16 || f == XLLM_PACK_F16X16
                   ? f
                   : XLLM_PACK_NONE;
    }
    if (dtype == XLLM_DTYPE_Q4_0 && cols % XLLM_QK32 == 0)
        return XLLM_PACK_Q4_0X16;
    if (dtype == XLLM_DTYPE_Q8_0 && cols % XLLM_QK32 == 0)
        return XLLM_PACK_Q8_0X16;
    if (dtype == XLLM_DTYPE_IQ4_NL && cols % XLLM_QK32 == 0)
        return XLLM_PACK_IQ4_NLX16;
    if (dtype == XLLM_DTYPE_Q4_1 && cols % XLLM_QK32 == 0)
        return XLLM_PACK_Q4_1X16;
    if (dtype == XLLM_DTYPE_Q5_0 && cols % XLLM_QK32 == 0)
        return XLLM_PACK_Q5_0X16;
    if (dtype == XLLM_DTYPE_Q5_1 && cols % XLLM_QK32 == 0)
        return XLLM_PACK_Q5_1X16;
    if (dtype == XLLM_DTYPE_Q4_K && cols % XLLM_QK_K == 0)
        return XLLM_PACK_Q4_KX16;
    if (dtype == XLLM_DTYPE_Q5_K && cols % XLLM_QK_K == 0)
        return XLLM_PACK_Q5_KX16;
    if (dtype == XLLM_DTYPE_Q2_K && cols % XLLM_QK_K == 0)
        return XLLM_PACK_Q2_KX16;
    if (dtype == XLLM_DTYPE_Q3_K && cols % XLLM_QK_K == 0)
        return XLLM_PACK_Q3_KX16;
    if (dtype == XLLM_DTYPE_Q6_K && cols % XLLM_QK_K == 0)
        return XLLM_PACK_Q6_KX16;
    if (dtype == XLLM_DTYPE_F16)
        return XLLM_PACK_F16X16;
    return XLLM_PACK_NONE;
}

size_t xllm_pack_group_bytes(xllm_pack_format f, int64_t cols)
{
    size_t b;
    switch (f) {
    case XLLM_PACK_Q4_0X16:
    case XLLM_PACK_IQ4_NLX16: b = (size_t)(cols / XLLM_QK32) * (256 + 32); break;
    case XLLM_PACK_Q4_1X16: b = (size_t)(cols / XLLM_QK32) * (256 + 64); break;
    case XLLM_PACK_Q5_0X16: b = (size_t)(cols / XLLM_QK32) * (256 + 32 + 64); break;
    case XLLM_PACK_Q5_1X16: b = (size_t)(cols / XLLM_QK32) * (256 + 64 + 64); break;
    case XLLM_PACK_Q8_0X16: b = (size_t)(cols / XLLM_QK32) * (512 + 32); break;
    case XLLM_PACK_Q4_KX16: b = (size_t)(cols / XLLM_QK_K) * XLLM_Q4K_SB; break;
    case XLLM_PACK_Q5_KX16: b = (size_t)(cols / XLLM_QK_K) * XLLM_Q5K_SB; break;
    case XLLM_PACK_Q6_KX16: b = (size_t)(cols / XLLM_QK_K) * (XLLM_Q6K_SB + 32); break;
    case XLLM_PACK_Q3_KX16: b = (size_t)(cols / XLLM_QK_K) * (XLLM_Q3K_SB + 32); break;
    case XLLM_PACK_Q2_KX16: b = (size_t)(cols / XLLM_QK_K) * XLLM_Q2K_SB; break;
    case XLLM_PACK_F16X16: b = (size_t)cols * 2 * R; break;
    default: return 0;
    }
    return (b + 63) & ~(size_t)63;
}

uint32_t xllm_pack_act_dtype(xllm_pack_format f)
{
    if (f == XLLM_PACK_F16X16)
        return XLLM_DTYPE_F32;
    return f == XLLM_PACK_Q4_KX16 || f == XLLM_PACK_Q5_KX16 || f == XLLM_PACK_Q6_KX16 || f == XLLM_PACK_Q3_KX16 ||
                   f == XLLM_PACK_Q2_KX16
               ? XLLM_DTYPE_Q8_K
               : XLLM_DTYPE_Q8_0;
}

/* ---- repacking ---- */

/* Q4_0/Q8_0/IQ4_NL/Q4_1/Q5_0/Q5_1: 4 levels (bytes of qs) at a time into chunk c, lane j. */
static void fill_q32(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    const xllm_q32_kind kd = xllm_q32_kind_of((xllm_pack_format)p->format);
    const uint32_t flip = p->format == XLLM_PACK_Q8_0X16 ? 0x80808080u : 0; /* Q8_0 levels made unsigned */
    for (int64_t g = g0; g < g1; g++) {
        uint8_t *gq = p->data + (size_t)g * p->group_bytes, *gd = gq + (size_t)p->nb * kd.qsb;
        uint8_t *gm = gd + (size_t)p->nb * 32, *gh = gm + (size_t)p->nb * (kd.has_m ? 32 : 0);
        for (int j = 0; j < R; j++) {
            const uint8_t *row = src + (size_t)(g * R + j) * (size_t)p->nb * kd.block_bytes;
            for (int64_t b = 0; b < p->nb; b++) {
                const uint8_t *blk = row + (size_t)b * kd.block_bytes; /* d at 0, then m (Q4_1), qs */
                memcpy(gd + ((size_t)b * R + (size_t)j) * 2, blk, 2);
                if (kd.has_m)
                    memcpy(gm + ((size_t)b * R + (size_t)j) * 2, blk + 2, 2);
                if (kd.has_qh)
                    xllm_q5_pack_qh(blk + kd.qs_off - 4, gh + ((size_t)b * R + (size_t)j) * 4);
                for (size_t c = 0; c < kd.qsb / 64; c++) {
                    uint32_t v;
                    memcpy(&v, blk + kd.qs_off + 4 * c, 4);
                    v ^= flip;
                    memcpy(gq + (size_t)b * kd.qsb + c * 64 + (size_t)j * 4, &v, 4);
                }
            }
        }
    }
}

/* Q4_K and Q5_K (the same block but for qh and the offset of qs). */
static void fill_q4k(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    const int q5 = p->format == XLLM_PACK_Q5_KX16;
    const size_t bb = q5 ? sizeof(xllm_block_q5_k) : sizeof(xllm_block_q4_k), sbb = q5 ? XLLM_Q5K_SB : XLLM_Q4K_SB;
    const size_t qs = q5 ? offsetof(xllm_block_q5_k, qs) : offsetof(xllm_block_q4_k, qs);
    for (int64_t g = g0; g < g1; g++)
        for (int j = 0; j < R; j++) {
            const uint8_t *row = (const uint8_t *)src + (size_t)(g * R + j) * (size_t)p->nb * bb;
            for (int64_t b = 0; b < p->nb; b++) {
                const uint8_t *blk = row + (size_t)b * bb; /* d, dmin, scales at 0, 2, 4 in both */
                uint8_t *o = p->data + (size_t)g * p->group_bytes + (size_t)b * sbb, sc[8], mn[8];
                for (int pc = 0; pc < 32; pc++) /* pc = 8p + c */
                    memcpy(o + (size_t)pc * 64 + (size_t)j * 4, blk + qs + 4 * pc, 4);
                xllm_q4k_unpack_scales(blk + offsetof(xllm_block_q4_k, scales), sc, mn);
                for (int s = 0; s < 8; s++) {
                    o[XLLM_Q4K_SC + s * R + j] = sc[s];
                    o[XLLM_Q4K_MN + s * R + j] = mn[s];
                }
                memcpy(o + XLLM_Q4K_D + 2 * j, blk, 2);
                memcpy(o + XLLM_Q4K_DMIN + 2 * j, blk + 2, 2);
                for (int c = 0; q5 && c < 8; c++)
                    memcpy(o + XLLM_Q4K_SB + (size_t)c * 64 + (size_t)j * 4,
                           blk + offsetof(xllm_block_q5_k, qh) + 4 * c, 4);
            }
        }
}

/* The 256 levels (0..63) of a Q6_K block (quant_blocks.h). */
static void q6k_levels(const xllm_block_q6_k *b, uint8_t *q)
{
    for (int e = 0; e < XLLM_QK_K; e++) {
        int h = e / 128, s = (e / 32) % 4, l = e % 32;
        uint8_t lo = b->ql[64 * h + l + 32 * (s & 1)];
        q[e] = (uint8_t)((s < 2 ? lo & 15 : lo >> 4) | ((b->qh[32 * h + l] >> (2 * s)) & 3) << 4);
    }
}

static void fill_q6k(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    for (int64_t g = g0; g < g1; g++) {
        uint8_t *gd = p->data + (size_t)g * p->group_bytes + (size_t)p->nb * XLLM_Q6K_SB;
        for (int j = 0; j < R; j++) {
            const xllm_block_q6_k *row = (const xllm_block_q6_k *)src + (size_t)(g * R + j) * (size_t)p->nb;
            for (int64_t b = 0; b < p->nb; b++) {
                uint8_t *o = p->data + (size_t)g * p->group_bytes + (size_t)b * XLLM_Q6K_SB, q[XLLM_QK_K];
                q6k_levels(&row[b], q);
                for (int v = 0; v < 32; v++)
                    for (int t = 0; t < 4; t++)
                        o[v * 64 + j * 4 + t] = (uint8_t)((q[4 * v + t] & 15) | (q[128 + 4 * v + t] & 15) << 4);
                for (int u = 0; u < 16; u++)
                    for (int t = 0; t < 4; t++) {
                        int e = 4 * u + t;
                        o[XLLM_Q6K_QH + u * 64 + j * 4 + t] = (uint8_t)((q[e] >> 4) << 4 | (q[e + 64] >> 4) << 6 |
                                                                 (q[e + 128] >> 4) | (q[e + 192] >> 4) << 2);
                    }
                for (int s = 0; s < 16; s++)
                    o[XLLM_Q6K_SC + s * R + j] = (uint8_t)row[b].scales[s];
                memcpy(gd + ((size_t)b * R + (size_t)j) * 2, &row[b].d, 2);
            }
        }
    }
}

/* Q3_K: qs and hmask bytes 4 at a time into their planes, signed scales, d. */
static void fill_q3k(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    for (int64_t g = g0; g < g1; g++) {
        uint8_t *gq = p->data + (size_t)g * p->group_bytes, *gd = gq + (size_t)p->nb * XLLM_Q3K_SB;
        for (int j = 0; j < R; j++) {
            const xllm_block_q3_k *row = (const xllm_block_q3_k *)src + (size_t)(g * R + j) * (size_t)p->nb;
            for (int64_t b = 0; b < p->nb; b++) {
                uint8_t *o = gq + (size_t)b * XLLM_Q3K_SB;
                for (int c = 0; c < 16; c++)
                    memcpy(o + c * 64 + j * 4, row[b].qs + 4 * c, 4);
                for (int c = 0; c < 8; c++)
                    memcpy(o + XLLM_Q3K_HM + c * 64 + j * 4, row[b].hmask + 4 * c, 4);
                for (int s = 0; s < 16; s++)
                    o[XLLM_Q3K_SC + s * R + j] = (uint8_t)(int8_t)xllm_q3k_scale(row[b].scales, s);
                memcpy(gd + ((size_t)b * R + (size_t)j) * 2, &row[b].d, 2);
            }
        }
    }
}

/* Q2_K: qs bytes 4 at a time, scale bytes, d and dmin. */
static void fill_q2k(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    for (int64_t g = g0; g < g1; g++)
        for (int j = 0; j < R; j++) {
            const xllm_block_q2_k *row = (const xllm_block_q2_k *)src + (size_t)(g * R + j) * (size_t)p->nb;
            for (int64_t b = 0; b < p->nb; b++) {
                uint8_t *o = p->data + (size_t)g * p->group_bytes + (size_t)b * XLLM_Q2K_SB;
                for (int c = 0; c < 16; c++)
                    memcpy(o + c * 64 + j * 4, row[b].qs + 4 * c, 4);
                for (int s = 0; s < 16; s++)
                    o[XLLM_Q2K_SC + s * R + j] = row[b].scales[s];
                memcpy(o + XLLM_Q2K_D + 2 * j, &row[b].d, 2);
                memcpy(o + XLLM_Q2K_DMIN + 2 * j, &row[b].dmin, 2);
            }
        }
}

/* 16 x 16 tiles: 16 contiguous elements of each row in, 16 rows of each
 * element out, so reads and writes both stay sequential. */
static void fill_f16(xllm_packed *p, const uint8_t *src, int64_t g0, int64_t g1)
{
    const size_t cols = (size_t)p->cols;
    for (int64_t g = g0; g < g1; g++) {
        const uint16_t *rows = (const uint16_t *)src + (size_t)(g * R) * cols;
        uint16_t *o = (uint16_t *)(p->data + (size_t)g * p->group_bytes);
        size_t k0 = 0;
        for (; k0 + 16 <= cols; k0 += 16) {
            uint16_t t[16][R];
            for (int j = 0; j < R; j++)
                for (int k = 0; k < 16; k++)
                    t[k][j] = rows[(size_t)j * cols + k0 + (size_t)k];
            memcpy(o + k0 * R, t, sizeof t);
        }
        for (; k0 < cols; k0++)
            for (int j = 0; j < R; j++)
                o[k0 * R + (size_t)j] = rows[(size_t)j * cols + k0];
    }
}

void xllm_pack_fill(xllm_packed *p, const void *src, int64_t g0, int64_t g1)
{
    if (xllm_kernels_isa() == XLLM_ISA_AVX512)
        xllm_pack_fill_avx512(p, src, g0, g1);
    else
        xllm_pack_fill_ref(p, src, g0, g1);
}

void xllm_pack_fill_ref(xllm_packed *p, const void *src, int64_t g0, int64_t g1)
{
    if (p->format == XLLM_PACK_F16X16)
        fill_f16(p, src, g0, g1);
    else if (p->format == XLLM_PACK_Q4_KX16 || p->format == XLLM_PACK_Q5_KX16)
        fill_q4k(p, src, g0, g1);
    else if (p->format == XLLM_PACK_Q6_KX16)
        fill_q6k(p, src, g0, g1);
    else if (p->format == XLLM_PACK_Q3_KX16)
        fill_q3k(p, src, g0, g1);
    else if (p->format == XLLM_PACK_Q2_KX16)
        fill_q2k(p, src, g0, g1);
    else
        fill_q32(p, src, g0, g1);
}

void xllm_quantize_row_q8x_ref(const float *src, void *dst, int64_t n)
{
    xllm_block_q8x *out = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        xllm_block_q8_0 b;
        int32_t s = 0;
        xllm_quantize_row_q8_0(src, &b, XLLM_QK32);
        out[i].d = xllm_f16_to_f32(b.d);
        for (int j = 0; j < XLLM_QK32; j++)
            s += b.qs[j];
        out[i].s = s;
        memcpy(out[i].qs, b.qs, XLLM_QK32);
    }
}

/* ---- scalar reference of the packed tile ---- */

static float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return xllm_f16_to_f32(h);
}

/* Dequantized weight of element k (0..cols) of row j of group gq. */
static double packed_weight(const xllm_packed *p, const uint8_t *gq, int j, int64_t k)
{
    if (p->format == XLLM_PACK_F16X16)
        return f16_at(gq + (size_t)k * 2 * R + 2 * (size_t)j);
    if (p->format == XLLM_PACK_Q4_0X16 || p->format == XLLM_PACK_Q8_0X16 || p->format == XLLM_PACK_IQ4_NLX16 ||
        p->format == XLLM_PACK_Q4_1X16 || p->format == XLLM_PACK_Q5_0X16 || p->format == XLLM_PACK_Q5_1X16) {
        static const int8_t iq4nl[16] = XLLM_IQ4NL_VALUES;
        const xllm_q32_kind kd = xllm_q32_kind_of((xllm_pack_format)p->format);
        const size_t qsb = kd.qsb;
        int64_t b = k / XLLM_QK32;
        int e = (int)(k % XLLM_QK32);
        double d = f16_at(gq + (size_t)p->nb * qsb + ((size_t)b * R + (size_t)j) * 2);
        if (p->format == XLLM_PACK_Q8_0X16)
            return d * ((int)gq[(size_t)b * 512 + (size_t)(e / 4) * 64 + (size_t)j * 4 + (size_t)(e % 4)] - 128);
        uint8_t byte = gq[(size_t)b * 256 + (size_t)((e % 16) / 4) * 64 + (size_t)j * 4 + (size_t)(e % 4)];
        int q = e < 16 ? byte & 15 : byte >> 4;
        double m = kd.has_m ? f16_at(gq + (size_t)p->nb * (256 + 32) + ((size_t)b * R + (size_t)j) * 2) : 0;
        if (kd.has_qh) { /* bit k: element 4k+t, bit 4+k: element 16+4k+t */
            uint8_t hb = gq[(size_t)p->nb * (256 + 32 + (kd.has_m ? 32 : 0)) + ((size_t)b * R + (size_t)j) * 4 +
                            (size_t)(e % 4)];
            q |= ((hb >> ((e % 16) / 4 + (e < 16 ? 0 : 4))) & 1) << 4;
            return kd.has_m ? d * q + m : d * (q - 16);
        }
        if (p->format == XLLM_PACK_IQ4_NLX16)
            return d * iq4nl[q];
        return kd.has_m ? d * q + m : d * (q - 8);
    }
    int64_t b = k / XLLM_QK_K;
    int e = (int)(k % XLLM_QK_K);
    if (p->format == XLLM_PACK_Q4_KX16 || p->format == XLLM_PACK_Q5_KX16) {
        const int q5 = p->format == XLLM_PACK_Q5_KX16;
        const uint8_t *o = gq + (size_t)b * (q5 ? XLLM_Q5K_SB : XLLM_Q4K_SB);
        int pp = e / 64, hi = (e % 64) >= 32, l = e % 32, s = 2 * pp + hi;
        uint8_t byte = o[(size_t)(8 * pp + l / 4) * 64 + (size_t)j * 4 + (size_t)(l % 4)];
        int q = hi ? byte >> 4 : byte & 15;
        if (q5)
            q |= ((o[XLLM_Q4K_SB + (size_t)(l / 4) * 64 + (size_t)j * 4 + (size_t)(l % 4)] >> s) & 1) << 4;
        return (double)f16_at(o + XLLM_Q4K_D + 2 * j) * o[XLLM_Q4K_SC + s * R + j] * q -
               (double)f16_at(o + XLLM_Q4K_DMIN + 2 * j) * o[XLLM_Q4K_MN + s * R + j];
    }
    if (p->format == XLLM_PACK_Q2_KX16) {
        const uint8_t *o = gq + (size_t)b * XLLM_Q2K_SB;
        int t = e % 4, m = (e % 32) / 4;
        int q = (o[(8 * (e / 128) + m) * 64 + j * 4 + t] >> (2 * ((e % 128) / 32))) & 3;
        uint8_t sc = o[XLLM_Q2K_SC + (e / 16) * R + j];
        return (double)f16_at(o + XLLM_Q2K_D + 2 * j) * (sc & 15) * q -
               (double)f16_at(o + XLLM_Q2K_DMIN + 2 * j) * (sc >> 4);
    }
    if (p->format == XLLM_PACK_Q3_KX16) {
        const uint8_t *o = gq + (size_t)b * XLLM_Q3K_SB;
        int t = e % 4, m = (e % 32) / 4;
        int lo = (o[(8 * (e / 128) + m) * 64 + j * 4 + t] >> (2 * ((e % 128) / 32))) & 3;
        int hb = (o[XLLM_Q3K_HM + m * 64 + j * 4 + t] >> (e / 32)) & 1;
        double d = f16_at(gq + (size_t)p->nb * XLLM_Q3K_SB + ((size_t)b * R + (size_t)j) * 2);
        return d * (int8_t)o[XLLM_Q3K_SC + (e / 16) * R + j] * ((lo | hb << 2) - 4);
    }
    const uint8_t *o = gq + (size_t)b * XLLM_Q6K_SB;
    int v = e % 128 / 4, t = e % 4, u = e % 64 / 4, quarter = e / 64;
    uint8_t lo = o[v * 64 + j * 4 + t], hb = o[XLLM_Q6K_QH + u * 64 + j * 4 + t];
    static const int hshift[4] = {4, 6, 0, 2};
    int q = (e < 128 ? lo & 15 : lo >> 4) | ((hb >> hshift[quarter]) & 3) << 4;
    double d = f16_at(gq + (size_t)p->nb * XLLM_Q6K_SB + ((size_t)b * R + (size_t)j) * 2);
    return d * (int8_t)o[XLLM_Q6K_SC + (e / 16) * R + j] * (q - 32);
}

void xllm_packed_tile_ref(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride, int nc,
                          float *y, size_t y_stride)
{
    const uint32_t at = xllm_pack_act_dtype((xllm_pack_format)p->format);
    const int k = at == XLLM_DTYPE_Q8_K;
    for (int64_t g = g0; g < g1; g++) {
        const uint8_t *gq = p->data + (size_t)g * p->group_bytes;
        for (int c = 0; c < nc; c++) {
            const uint8_t *ar = a + (size_t)c * a_stride;
            for (int j = 0; j < R; j++) {
                double sum = 0;
                for (int64_t e = 0; e < p->cols; e++) {
                    double av;
                    if (at == XLLM_DTYPE_F32) {
                        av = ((const float *)ar)[e];
                    } else if (k) {
                        const xllm_block_q8_k *ab = (const xllm_block_q8_k *)ar + e / XLLM_QK_K;
                        av = (double)ab->d * ab->qs[e % XLLM_QK_K];
                    } else {
                        const xllm_block_q8x *ab = (const xllm_block_q8x *)ar + e / XLLM_QK32;
                        av = (double)ab->d * ab->qs[e % XLLM_QK32];
                    }
                    sum += packed_weight(p, gq, j, e) * av;
                }
                y[(size_t)c * y_stride + (size_t)(g * R + j)] = (float)sum;
            }
        }
    }
}
