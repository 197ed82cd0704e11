/* quant_ref.c - scalar reference (de)quantizers of the plain types and the
 * 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL), with
 * least-squares scale search. Layouts: quant_blocks.h. */
#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"
#include "kernels/cpu/quant_fit.h"

static const int8_t iq4nl_values[16] = XLLM_IQ4NL_VALUES;
#define IQ4NL_STEPS 3 /* IQ4_NL scale search: extreme mapped to either end -+ 3 */

/* ---- plain types ---- */

void xllm_dequantize_row_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void xllm_quantize_row_f32(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void xllm_dequantize_row_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = xllm_f16_to_f32(h[i]);
}

void xllm_quantize_row_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = xllm_f32_to_f16(src[i]);
}

void xllm_dequantize_row_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = xllm_bf16_to_f32(h[i]);
}

void xllm_quantize_row_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = xllm_f32_to_bf16(src[i]);
}

/* ---- nibble helpers: element j in the low nibble of qs[j], j+16 in the high ---- */

static void pack_nibbles(const uint8_t *q, uint8_t *qs)
{
    for (int j = 0; j < XLLM_QK32 / 2; j++)
        qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
}

static void unpack_nibbles(const uint8_t *qs, uint8_t *q)
{
    for (int j = 0; j < XLLM_QK32 / 2; j++) {
        q[j] = qs[j] & 15;
        q[j + 16] = qs[j] >> 4;
    }
}

static void pack_high_bits(const uint8_t *q, uint8_t qh[4])
{
    uint32_t h = 0;
    for (int j = 0; j < XLLM_QK32; j++)
        h |= (uint32_t)((q[j] >> 4) & 1) << j;
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

static void add_high_bits(const uint8_t qh[4], uint8_t *q)
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int j = 0; j < XLLM_QK32; j++)
        q[j] |= (uint8_t)(((h >> j) & 1) << 4);
}

/* ---- Q4_0 / Q5_0: symmetric, x = d * (q - offset) ---- */

static uint16_t fit_sym_block(const float *x, int qmin, int qmax, uint8_t *q)
{
    int8_t l[XLLM_QK32];
    float d = xllm_fit_symmetric(x, XLLM_QK32, qmin, qmax, l);
    uint16_t dh = xllm_f32_to_f16(d);
    xllm_requantize_symmetric(x, XLLM_QK32, qmin, qmax, xllm_f16_to_f32(dh), l);
    for (int j = 0; j < XLLM_QK32; j++)
        q[j] = (uint8_t)(l[j] - qmin);
    return dh;
}

void xllm_quantize_row_q4_0(const float *src, void *dst, int64_t n)
{
    xllm_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        b[i].d = fit_sym_block(src, -8, 7, q);
        pack_nibbles(q, b[i].qs);
    }
}

void xllm_dequantize_row_q4_0(const void *src, float *dst, int64_t n)
{
    const xllm_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        float d = xllm_f16_to_f32(b[i].d);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)(q[j] - 8);
    }
}

void xllm_quantize_row_q5_0(const float *src, void *dst, int64_t n)
{
    xllm_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        b[i].d = fit_sym_block(src, -16, 15, q);
        pack_nibbles(q, b[i].qs);
        pack_high_bits(q, b[i].qh);
    }
}

void xllm_dequantize_row_q5_0(const void *src, float *dst, int64_t n)
{
    const xllm_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        float d = xllm_f16_to_f32(b[i].d);
        unpack_nibbles(b[i].qs, q);
        add_high_bits(b[i].qh, q);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)(q[j] - 16);
    }
}

/* ---- Q4_1 / Q5_1: x = d * q + m ---- */

static void fit_min_block(const float *x, int qmax, uint16_t *dh, uint16_t *mh, uint8_t *q)
{
    float scale, min;
    xllm_fit_scale_min(x, XLLM_QK32, qmax, 0, &scale, &min, q);
    *dh = xllm_f32_to_f16(scale);
    *mh = xllm_f32_to_f16(min);
    xllm_requantize_scale_min(x, XLLM_QK32, qmax, xllm_f16_to_f32(*dh), xllm_f16_to_f32(*mh), q);
}

void xllm_quantize_row_q4_1(const float *src, void *dst, int64_t n)
{
    xllm_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        fit_min_block(src, 15, &b[i].d, &b[i].m, q);
        pack_nibbles(q, b[i].qs);
    }
}

void xllm_dequantize_row_q4_1(const void *src, float *dst, int64_t n)
{
    const xllm_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        float d = xllm_f16_to_f32(b[i].d), m = xllm_f16_to_f32(b[i].m);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)q[j] + m;
    }
}

void xllm_quantize_row_q5_1(const float *src, void *dst, int64_t n)
{
    xllm_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        fit_min_block(src, 31, &b[i].d, &b[i].m, q);
        pack_nibbles(q, b[i].qs);
        pack_high_bits(q, b[i].qh);
    }
}

void xllm_dequantize_row_q5_1(const void *src, float *dst, int64_t n)
{
    const xllm_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        float d = xllm_f16_to_f32(b[i].d), m = xllm_f16_to_f32(b[i].m);
        unpack_nibbles(b[i].qs, q);
        add_high_bits(b[i].qh, q);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)q[j] + m;
    }
}

/* ---- Q8_0 / Q8_1: round to nearest with d = amax / 127 (also the
 * activation formats, so kept plain and fast) ---- */

static float q8_block(const float *x, int8_t *qs)
{
    float amax = 0;
    for (int j = 0; j < XLLM_QK32; j++) /* NaN compares false: ignored, as by fmaxf */
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < XLLM_QK32; j++)
        qs[j] = (int8_t)xllm_nearest_int(x[j] * id);
    return d;
}

void xllm_quantize_row_q8_0(const float *src, void *dst, int64_t n)
{
    xllm_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32)
        b[i].d = xllm_f32_to_f16(q8_block(src, b[i].qs));
}

void xllm_dequantize_row_q8_0(const void *src, float *dst, int64_t n)
{
    const xllm_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        float d = xllm_f16_to_f32(b[i].d);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)b[i].qs[j];
    }
}

void xllm_quantize_row_q8_1(const float *src, void *dst, int64_t n)
{
    xllm_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        float d = q8_block(src, b[i].qs);
        int sum = 0;
        for (int j = 0; j < XLLM_QK32; j++)
            sum += b[i].qs[j];
        b[i].d = xllm_f32_to_f16(d);
        b[i].s = xllm_f32_to_f16(d * (float)sum);
    }
}

void xllm_dequantize_row_q8_1(const void *src, float *dst, int64_t n)
{
    const xllm_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        float d = xllm_f16_to_f32(b[i].d);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)b[i].qs[j];
    }
}

/* ---- IQ4_NL: x = d * values[q], values non-uniform ---- */

/* Index of the level nearest to u: count the midpoints below it (branch-free). */
static int iq4nl_nearest(float u)
{
    static const float mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f, -4.5f,
                                  7.0f,    19.0f,  31.5f,  45.5f,  61.0f,  79.0f,  101.0f};
    int idx = 0;
    for (int k = 0; k < 15; k++)
        idx += u > mid[k];
    return idx;
}

/* Least-squares error of x against d * values[q] with q nearest to x/d;
 * returns the refitted d in *dfit. */
static float iq4nl_try(const float *x, float d, float *dfit, uint8_t *q)
{
    float sxv = 0, svv = 0, sxx = 0;
    float id = 1.0f / d;
    for (int j = 0; j < XLLM_QK32; j++) {
        q[j] = (uint8_t)iq4nl_nearest(x[j] * id);
        float v = iq4nl_values[q[j]];
        sxv += x[j] * v;
        svv += v * v;
        sxx += x[j] * x[j];
    }
    *dfit = svv > 0 ? sxv / svv : 0;
    return sxx - *dfit * sxv; /* residual of the fitted scale */
}

void xllm_quantize_row_iq4_nl(const float *src, void *dst, int64_t n)
{
    xllm_block_iq4_nl *b = dst;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, src += XLLM_QK32) {
        uint8_t q[XLLM_QK32], qbest[XLLM_QK32];
        float amax = 0, max = 0, best = INFINITY, dbest = 0;
        for (int j = 0; j < XLLM_QK32; j++)
            if (fabsf(src[j]) > amax) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        memset(qbest, 8, sizeof(qbest)); /* values[8] = 1: nearest to zero */
        for (int t = -IQ4NL_STEPS; amax > 0 && t <= IQ4NL_STEPS; t++) {
            /* map the extreme to either end of the table, nudged by t */
            for (int side = 0; side < 2; side++) {
                float level = side ? 113.0f + (float)t : -127.0f + (float)t;
                float dfit, err = iq4nl_try(src, max / level, &dfit, q);
                if (err < best && dfit != 0) {
                    best = err;
                    dbest = dfit;
                    memcpy(qbest, q, sizeof(q));
                }
            }
        }
        b[i].d = xllm_f32_to_f16(dbest);
        float dr = xllm_f16_to_f32(b[i].d);
        if (dr != 0)
            iq4nl_try(src, dr, &dbest, qbest); /* reassign for the stored scale */
        pack_nibbles(qbest, b[i].qs);
    }
}

void xllm_dequantize_row_iq4_nl(const void *src, float *dst, int64_t n)
{
    const xllm_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / XLLM_QK32; i++, dst += XLLM_QK32) {
        uint8_t q[XLLM_QK32];
        float d = xllm_f16_to_f32(b[i].d);
        unpack_nibbles(b[i].qs, q);
        for (int j = 0; j < XLLM_QK32; j++)
            dst[j] = d * (float)iq4nl_values[q[j]];
    }
}
