/* quant_k.c - scalar reference (de)quantizers of the K-quants (Q2_K..Q6_K and
 * the Q8_K activation format): per-sub-block scale/min fitting, then the
 * sub-block scales quantized against one f16 super-block scale. Layouts and
 * formulas: quant_blocks.h. */
#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"
#include "kernels/cpu/quant_fit.h"

#define QK XLLM_QK_K

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Quantize non-negative sub-block values v[0..n) against one scale:
 * d = max / qmax (rounded to f16, returned), out[j] = round(v[j] / d). */
static uint16_t quantize_scales(const float *v, int n, int qmax, uint8_t *out)
{
    float max = 0;
    for (int j = 0; j < n; j++)
        max = fmaxf(max, v[j]);
    uint16_t dh = xllm_f32_to_f16(max / (float)qmax);
    float d = xllm_f16_to_f32(dh), id = d > 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++)
        out[j] = (uint8_t)clampi(xllm_nearest_int(v[j] * id), 0, qmax);
    return dh;
}

/* Signed sub-block scales against one scale d so that the largest maps to
 * lo (lo < 0): out[j] = clamp(round(v[j] / d), lo, hi). Returns d. */
static float quantize_signed_scales(const float *v, int n, int lo, int hi, int *out)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(v[j]) > amax) {
            amax = fabsf(v[j]);
            max = v[j];
        }
    if (amax == 0) {
        memset(out, 0, sizeof(int) * (size_t)n);
        return 0;
    }
    float iscale = (float)lo / max;
    for (int j = 0; j < n; j++)
        out[j] = clampi(xllm_nearest_int(v[j] * iscale), lo, hi);
    return 1.0f / iscale;
}

static float group_error(const float *x, int n, float scale, float min, const uint8_t *q)
{
    float e = 0;
    for (int i = 0; i < n; i++) {
        float d = scale * (float)q[i] + min - x[i];
        e += d * d;
    }
    return e;
}

/* After the scales are quantized: try the neighbouring integer scale and min
 * (and zero) of one group, keep the pair that reconstructs x best, and leave
 * the matching levels in q. Bounds the error by the group's own energy even
 * when f16 rounding of d or dmin is coarse (tiny rows). */
static void refine_scale_min(const float *x, int n, int qmax, float d, float dmin, int lim,
                             uint8_t *sc, uint8_t *mn, uint8_t *q)
{
    uint8_t trial[32];
    float best = INFINITY;
    int bs = 0, bm = 0;
    for (int k = 0; k < 10; k++) {
        int s = k < 9 ? *sc + k / 3 - 1 : 0, m = k < 9 ? *mn + k % 3 - 1 : 0;
        if (s < 0 || s > lim || m < 0 || m > lim)
            continue;
        xllm_requantize_scale_min(x, n, qmax, d * (float)s, -dmin * (float)m, trial);
        float e = group_error(x, n, d * (float)s, -dmin * (float)m, trial);
        if (e < best) {
            best = e;
            bs = s;
            bm = m;
            memcpy(q, trial, (size_t)n);
        }
    }
    *sc = (uint8_t)bs;
    *mn = (uint8_t)bm;
}

/* 6-bit packing of Q4_K/Q5_K scales and mins (layout in quant_blocks.h). */
static void pack_scales_k4(const uint8_t *sc, const uint8_t *mn, uint8_t *s)
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

void xllm_q4k_unpack_scales(const uint8_t *s, uint8_t *sc, uint8_t *mn)
{
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = s[j] & 63;
            mn[j] = s[j + 4] & 63;
        } else {
            sc[j] = (uint8_t)((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
            mn[j] = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
        }
    }
}

/* Q4_K / Q5_K share the fit: 8 sub-blocks of 32, x ~ d*sc*q - dmin*mn. */
static void fit_k4(const float *x, int qmax, uint16_t *dh, uint16_t *dminh, uint8_t *scales, uint8_t *q)
{
    float scale[8], negmin[8];
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) {
        float min;
        xllm_fit_scale_min(x + 32 * j, 32, qmax, 1, &scale[j], &min, q + 32 * j);
        negmin[j] = -min;
    }
    *dh = quantize_scales(scale, 8, 63, sc);
    *dminh = quantize_scales(negmin, 8, 63, mn);
    float d = xllm_f16_to_f32(*dh), dmin = xllm_f16_to_f32(*dminh);
    for (int j = 0; j < 8; j++)
        refine_scale_min(x + 32 * j, 32, qmax, d, dmin, 63, &sc[j], &mn[j], q + 32 * j);
    pack_scales_k4(sc, mn, scales);
}

void xllm_quantize_row_q4_k(const float *src, void *dst, int64_t n)
{
    xllm_block_q4_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        uint8_t q[QK];
        fit_k4(src, 15, &b[i].d, &b[i].dmin, b[i].scales, q);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * p + l] = (uint8_t)(q[64 * p + l] | q[64 * p + 32 + l] << 4);
    }
}

void xllm_dequantize_row_q4_k(const void *src, float *dst, int64_t n)
{
    const xllm_block_q4_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        uint8_t sc[8], mn[8];
        float d = xllm_f16_to_f32(b[i].d), dmin = xllm_f16_to_f32(b[i].dmin);
        xllm_q4k_unpack_scales(b[i].scales, sc, mn);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                uint8_t byte = b[i].qs[32 * p + l];
                dst[64 * p + l] = d * sc[2 * p] * (float)(byte & 15) - dmin * mn[2 * p];
                dst[64 * p + 32 + l] = d * sc[2 * p + 1] * (float)(byte >> 4) - dmin * mn[2 * p + 1];
            }
    }
}

void xllm_quantize_row_q5_k(const float *src, void *dst, int64_t n)
{
    xllm_block_q5_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        uint8_t q[QK];
        fit_k4(src, 31, &b[i].d, &b[i].dmin, b[i].scales, q);
        memset(b[i].qh, 0, sizeof(b[i].qh));
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                b[i].qs[32 * p + l] = (uint8_t)((q[64 * p + l] & 15) | (q[64 * p + 32 + l] & 15) << 4);
        for (int k = 0; k < 8; k++)
            for (int l = 0; l < 32; l++)
                b[i].qh[l] |= (uint8_t)((q[32 * k + l] >> 4) << k);
    }
}

void xllm_dequantize_row_q5_k(const void *src, float *dst, int64_t n)
{
    const xllm_block_q5_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        uint8_t sc[8], mn[8];
        float d = xllm_f16_to_f32(b[i].d), dmin = xllm_f16_to_f32(b[i].dmin);
        xllm_q4k_unpack_scales(b[i].scales, sc, mn);
        for (int k = 0; k < 8; k++)
            for (int l = 0; l < 32; l++) {
                uint8_t byte = b[i].qs[32 * (k / 2) + l];
                int q = ((k & 1) ? byte >> 4 : byte & 15) | ((b[i].qh[l] >> k) & 1) << 4;
                dst[32 * k + l] = d * sc[k] * (float)q - dmin * mn[k];
            }
    }
}

/* 2-bit field of element e in a Q2_K/Q3_K qs array. */
static int q2_get(const uint8_t *qs, int e)
{
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
}

static void q2_put(uint8_t *qs, int e, int v)
{
    qs[32 * (e / 128) + e % 32] |= (uint8_t)((v & 3) << (2 * ((e / 32) % 4)));
}

void xllm_quantize_row_q2_k(const float *src, void *dst, int64_t n)
{
    xllm_block_q2_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        float scale[16], negmin[16];
        uint8_t q[QK], sc[16], mn[16];
        for (int j = 0; j < 16; j++) {
            float min;
            xllm_fit_scale_min(src + 16 * j, 16, 3, 1, &scale[j], &min, q + 16 * j);
            negmin[j] = -min;
        }
        b[i].d = quantize_scales(scale, 16, 15, sc);
        b[i].dmin = quantize_scales(negmin, 16, 15, mn);
        float d = xllm_f16_to_f32(b[i].d), dmin = xllm_f16_to_f32(b[i].dmin);
        memset(b[i].qs, 0, sizeof(b[i].qs));
        for (int j = 0; j < 16; j++) {
            refine_scale_min(src + 16 * j, 16, 3, d, dmin, 15, &sc[j], &mn[j], q + 16 * j);
            b[i].scales[j] = (uint8_t)(sc[j] | mn[j] << 4);
        }
        for (int e = 0; e < QK; e++)
            q2_put(b[i].qs, e, q[e]);
    }
}

void xllm_dequantize_row_q2_k(const void *src, float *dst, int64_t n)
{
    const xllm_block_q2_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        float d = xllm_f16_to_f32(b[i].d), dmin = xllm_f16_to_f32(b[i].dmin);
        for (int e = 0; e < QK; e++) {
            uint8_t s = b[i].scales[e / 16];
            dst[e] = d * (float)(s & 15) * (float)q2_get(b[i].qs, e) - dmin * (float)(s >> 4);
        }
    }
}

/* Q3_K 6-bit signed scales (stored + 32), layout in quant_blocks.h. */
int xllm_q3k_scale(const uint8_t *s, int j)
{
    int low = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

void xllm_quantize_row_q3_k(const float *src, void *dst, int64_t n)
{
    xllm_block_q3_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        float scale[16];
        int sc[16];
        int8_t l[16];
        for (int j = 0; j < 16; j++)
            scale[j] = xllm_fit_symmetric(src + 16 * j, 16, -4, 3, l);
        b[i].d = xllm_f32_to_f16(quantize_signed_scales(scale, 16, -32, 31, sc));
        float d = xllm_f16_to_f32(b[i].d);
        memset(b[i].scales, 0, sizeof(b[i].scales));
        memset(b[i].qs, 0, sizeof(b[i].qs));
        memset(b[i].hmask, 0, sizeof(b[i].hmask));
        for (int j = 0; j < 16; j++) {
            int u = sc[j] + 32;
            b[i].scales[j % 8] |= (uint8_t)((u & 15) << (j < 8 ? 0 : 4));
            b[i].scales[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
            xllm_requantize_symmetric(src + 16 * j, 16, -4, 3, d * (float)sc[j], l);
            for (int k = 0; k < 16; k++) {
                int e = 16 * j + k, q = l[k] + 4;
                q2_put(b[i].qs, e, q & 3);
                b[i].hmask[e % 32] |= (uint8_t)((q >> 2) << (e / 32));
            }
        }
    }
}

void xllm_dequantize_row_q3_k(const void *src, float *dst, int64_t n)
{
    const xllm_block_q3_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        float d = xllm_f16_to_f32(b[i].d);
        for (int e = 0; e < QK; e++) {
            int hbit = (b[i].hmask[e % 32] >> (e / 32)) & 1;
            int q = q2_get(b[i].qs, e) | hbit << 2;
            dst[e] = d * (float)xllm_q3k_scale(b[i].scales, e / 16) * (float)(q - 4);
        }
    }
}

/* Q6_K element e: ql nibble and qh bit pair (layout in quant_blocks.h). */
static int q6_get(const xllm_block_q6_k *b, int e)
{
    int h = e / 128, s = (e / 32) % 4, l = e % 32;
    uint8_t lo = b->ql[64 * h + l + 32 * (s & 1)];
    int low = s < 2 ? lo & 15 : lo >> 4;
    return low | ((b->qh[32 * h + l] >> (2 * s)) & 3) << 4;
}

void xllm_quantize_row_q6_k(const float *src, void *dst, int64_t n)
{
    xllm_block_q6_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        float scale[16];
        int sc[16];
        int8_t l[16];
        for (int j = 0; j < 16; j++)
            scale[j] = xllm_fit_symmetric(src + 16 * j, 16, -32, 31, l);
        b[i].d = xllm_f32_to_f16(quantize_signed_scales(scale, 16, -128, 127, sc));
        float d = xllm_f16_to_f32(b[i].d);
        memset(b[i].ql, 0, sizeof(b[i].ql));
        memset(b[i].qh, 0, sizeof(b[i].qh));
        for (int j = 0; j < 16; j++) {
            b[i].scales[j] = (int8_t)sc[j];
            xllm_requantize_symmetric(src + 16 * j, 16, -32, 31, d * (float)sc[j], l);
            for (int k = 0; k < 16; k++) {
                int e = 16 * j + k, q = l[k] + 32;
                int h = e / 128, s = (e / 32) % 4, p = e % 32;
                b[i].ql[64 * h + p + 32 * (s & 1)] |= (uint8_t)((q & 15) << (s < 2 ? 0 : 4));
                b[i].qh[32 * h + p] |= (uint8_t)((q >> 4) << (2 * s));
            }
        }
    }
}

void xllm_dequantize_row_q6_k(const void *src, float *dst, int64_t n)
{
    const xllm_block_q6_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK) {
        float d = xllm_f16_to_f32(b[i].d);
        for (int e = 0; e < QK; e++)
            dst[e] = d * (float)b[i].scales[e / 16] * (float)(q6_get(&b[i], e) - 32);
    }
}

/* Q8_K: activation format of the K-quants, d = amax / 127, plus 16-sums. */
void xllm_quantize_row_q8_k(const float *src, void *dst, int64_t n)
{
    xllm_block_q8_k *b = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        float amax = 0;
        for (int e = 0; e < QK; e++) /* NaN compares false: ignored, as by fmaxf */
            amax = fabsf(src[e]) > amax ? fabsf(src[e]) : amax;
        float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
        b[i].d = d;
        for (int e = 0; e < QK; e++)
            b[i].qs[e] = (int8_t)xllm_nearest_int(src[e] * id);
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int k = 0; k < 16; k++)
                sum += b[i].qs[16 * j + k];
            b[i].bsums[j] = (int16_t)sum;
        }
    }
}

void xllm_dequantize_row_q8_k(const void *src, float *dst, int64_t n)
{
    const xllm_block_q8_k *b = src;
    for (int64_t i = 0; i < n / QK; i++, dst += QK)
        for (int e = 0; e < QK; e++)
            dst[e] = b[i].d * (float)b[i].qs[e];
}
