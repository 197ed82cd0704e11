/* test_quant.c - row (de)quantization: quantize->dequantize error per type
 * within named tolerances, known-answer dequantization of hand-built blocks
 * (expected values from the GGUF formulas, written here independently of the
 * kernels), and argument errors. */
#include <stdlib.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "base/status.h"
#include "kernels/cpu/kernels.h"
#include "ktest_util.h"

/* Relative RMS error of quantize -> dequantize on Gaussian rows with a few
 * 6-sigma outliers (measured values are well below these; see the report). */
#define TOL_F16 0.001
#define TOL_BF16 0.005
#define TOL_Q8_0 0.01
#define TOL_Q6_K 0.03
#define TOL_Q5_0 0.065
#define TOL_Q5_1 0.05
#define TOL_Q5_K 0.05
#define TOL_Q4_0 0.12
#define TOL_Q4_1 0.10
#define TOL_Q4_K 0.10
#define TOL_IQ4_NL 0.11
#define TOL_Q3_K 0.20
#define TOL_Q2_K 0.35

static const struct {
    uint32_t type;
    double tol;
} roundtrip_cases[] = {
    {XLLM_DTYPE_F32, 0.0},        {XLLM_DTYPE_F16, TOL_F16},   {XLLM_DTYPE_BF16, TOL_BF16},
    {XLLM_DTYPE_Q8_0, TOL_Q8_0},  {XLLM_DTYPE_Q6_K, TOL_Q6_K}, {XLLM_DTYPE_Q5_0, TOL_Q5_0},
    {XLLM_DTYPE_Q5_1, TOL_Q5_1},  {XLLM_DTYPE_Q5_K, TOL_Q5_K}, {XLLM_DTYPE_Q4_0, TOL_Q4_0},
    {XLLM_DTYPE_Q4_1, TOL_Q4_1},  {XLLM_DTYPE_Q4_K, TOL_Q4_K}, {XLLM_DTYPE_IQ4_NL, TOL_IQ4_NL},
    {XLLM_DTYPE_Q3_K, TOL_Q3_K},  {XLLM_DTYPE_Q2_K, TOL_Q2_K},
};

#define RT_N 4096

static double roundtrip_rel_rms(uint32_t t, const float *x, int64_t n)
{
    int ok;
    uint64_t bytes = xllm_dtype_row_bytes(t, (uint64_t)n, &ok);
    uint8_t *q = malloc(bytes);
    float *y = malloc(sizeof(float) * (size_t)n);
    double err = 0, ref = 0;
    CHECK_OK(xllm_quantize_row(t, x, q, n));
    fill_nan(y, (size_t)n);
    CHECK_OK(xllm_dequantize_row(t, q, y, n));
    for (int64_t i = 0; i < n; i++) {
        err += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        ref += (double)x[i] * x[i];
    }
    free(q);
    free(y);
    return ref > 0 ? sqrt(err / ref) : sqrt(err);
}

TEST(quant_roundtrip_error_per_type)
{
    krng r = {0x1234567};
    float *x = malloc(sizeof(float) * RT_N);
    krng_fill(&r, x, RT_N, 0.02f);
    for (size_t c = 0; c < sizeof(roundtrip_cases) / sizeof(roundtrip_cases[0]); c++) {
        uint32_t t = roundtrip_cases[c].type;
        double e = roundtrip_rel_rms(t, x, RT_N);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "    %-6s rel rms %.5f (tol %.3f)\n", xllm_dtype_name(t), e, roundtrip_cases[c].tol);
        CHECK_MSG(e <= roundtrip_cases[c].tol, "%s: rel rms %g > %g", xllm_dtype_name(t), e,
                  roundtrip_cases[c].tol);
        CHECK(xllm_can_quantize(t));
    }
    free(x);
}

/* Edge rows: all zero, constant, positive only, tiny, huge range. Every
 * type must stay finite and keep the error bounded relative to the row. */
TEST(quant_roundtrip_edge_rows)
{
    float x[512];
    for (int kind = 0; kind < 5; kind++) {
        for (int i = 0; i < 512; i++) {
            switch (kind) {
            case 0: x[i] = 0; break;
            case 1: x[i] = 0.75f; break;
            case 2: x[i] = (float)(i % 29) * 0.01f + 0.5f; break;
            case 3: x[i] = (float)((i * 7) % 13 - 6) * 1e-6f; break;
            default: x[i] = (i % 64 == 5) ? 100.0f : (float)((i * 5) % 11 - 5) * 0.01f; break;
            }
        }
        for (size_t c = 0; c < sizeof(roundtrip_cases) / sizeof(roundtrip_cases[0]); c++) {
            uint32_t t = roundtrip_cases[c].type;
            double e = roundtrip_rel_rms(t, x, 512);
            /* zero rows must come back exactly; the others within 2x the
             * Gaussian tolerance (outlier rows are harder), tiny rows may hit
             * f16 subnormal scales so they only need to stay finite */
            if (kind == 0)
                CHECK_MSG(e == 0, "%s: zero row not exact (%g)", xllm_dtype_name(t), e);
            else if (kind != 3 && kind != 4)
                CHECK_MSG(e <= 2 * roundtrip_cases[c].tol + 1e-6, "%s kind %d: rel rms %g",
                          xllm_dtype_name(t), kind, e);
            else
                CHECK_MSG(isfinite(e) && e <= 1.0, "%s kind %d: rel rms %g", xllm_dtype_name(t), kind, e);
        }
    }
}

TEST(quant_row_argument_errors)
{
    float x[64] = {0}, y[64];
    uint8_t q[256];
    CHECK_EQ_INT(xllm_quantize_row(XLLM_DTYPE_Q4_0, x, q, 33), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_dequantize_row(XLLM_DTYPE_Q4_K, q, y, 64), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_dequantize_row(XLLM_DTYPE_Q4_0, q, y, -32), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_dequantize_row(99, q, y, 32), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_dequantize_row(4, q, y, 32), XLLM_ERR_INVALID_ARGUMENT); /* unassigned number */
    CHECK_EQ_INT(xllm_dequantize_row(XLLM_DTYPE_IQ2_XXS, q, y, 256), XLLM_ERR_UNSUPPORTED);
    CHECK_EQ_INT(xllm_quantize_row(XLLM_DTYPE_IQ2_XXS, x, q, 256), XLLM_ERR_UNSUPPORTED);
    CHECK_EQ_INT(xllm_dequantize_row(XLLM_DTYPE_Q8_0, NULL, y, 32), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_OK(xllm_dequantize_row(XLLM_DTYPE_Q8_0, NULL, NULL, 0));
    CHECK(!xllm_can_quantize(XLLM_DTYPE_IQ2_XXS));
    CHECK(!xllm_can_quantize(1000));
    CHECK(xllm_can_quantize(XLLM_DTYPE_Q4_K));
}

/* ---- known answers: raw bytes at the GGUF offsets, expected by formula ---- */

static void check_dequant(uint32_t t, const uint8_t *blk, const float *expect, int n)
{
    float y[256];
    fill_nan(y, 256);
    CHECK_OK(xllm_dequantize_row(t, blk, y, n));
    for (int i = 0; i < n; i++)
        CHECK_MSG(y[i] == expect[i], "%s element %d: %.9g, expected %.9g", xllm_dtype_name(t), i, y[i], expect[i]);
}

static int nib(const uint8_t *qs, int i) { return i < 16 ? qs[i] & 15 : qs[i - 16] >> 4; }

TEST(quant_known_answer_plain)
{
    uint8_t h[8], b[8], f[8];
    float e[4] = {1.0f, -2.0f, 0.5f, 65504.0f};
    put16(h, 0, 0x3C00); put16(h, 2, 0xC000); put16(h, 4, 0x3800); put16(h, 6, 0x7BFF);
    check_dequant(XLLM_DTYPE_F16, h, e, 4);
    float eb[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    put16(b, 0, 0x3F80); put16(b, 2, 0xC000); put16(b, 4, 0x3F00); put16(b, 6, 0x4040);
    check_dequant(XLLM_DTYPE_BF16, b, eb, 4);
    put32f(f, 0, 1.25f); put32f(f, 4, -3.5f);
    float ef[2] = {1.25f, -3.5f};
    check_dequant(XLLM_DTYPE_F32, f, ef, 2);
}

TEST(quant_known_answer_q4_0_q4_1_iq4_nl)
{
    static const int iq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    uint8_t b0[18], b1[20], bn[18];
    float e0[32], e1[32], en[32];
    put16(b0, 0, 0x3800);           /* d = 0.5 */
    put16(b1, 0, 0x3400);           /* d = 0.25 */
    put16(b1, 2, 0xBC00);           /* m = -1 */
    put16(bn, 0, 0x4000);           /* d = 2 */
    for (int j = 0; j < 16; j++)
        b0[2 + j] = b1[4 + j] = bn[2 + j] = (uint8_t)(j | (15 - j) << 4);
    for (int i = 0; i < 32; i++) {
        int q = nib(b0 + 2, i);
        e0[i] = (float)(q - 8) * 0.5f;
        e1[i] = 0.25f * (float)q - 1.0f;
        en[i] = 2.0f * (float)iq4[q];
    }
    check_dequant(XLLM_DTYPE_Q4_0, b0, e0, 32);
    check_dequant(XLLM_DTYPE_Q4_1, b1, e1, 32);
    check_dequant(XLLM_DTYPE_IQ4_NL, bn, en, 32);
}

TEST(quant_known_answer_q5_0_q5_1_q8_0)
{
    uint8_t b0[22], b1[24], b8[34];
    const uint8_t qh[4] = {0x0F, 0xF0, 0x5A, 0xA5};
    uint32_t qhw = 0xA55AF00Fu;
    float e0[32], e1[32], e8[32];
    put16(b0, 0, 0x3800);                /* d = 0.5 */
    put16(b1, 0, 0x3400);                /* d = 0.25 */
    put16(b1, 2, 0x3C00);                /* m = 1 */
    put16(b8, 0, 0x3000);                /* d = 0.125 */
    memcpy(b0 + 2, qh, 4);
    memcpy(b1 + 4, qh, 4);
    for (int j = 0; j < 16; j++)
        b0[6 + j] = b1[8 + j] = (uint8_t)((3 * j) % 16 | ((5 * j + 1) % 16) << 4);
    for (int j = 0; j < 32; j++)
        b8[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    for (int i = 0; i < 32; i++) {
        int q = nib(b0 + 6, i) | (int)((qhw >> i) & 1) << 4;
        e0[i] = (float)(q - 16) * 0.5f;
        e1[i] = 0.25f * (float)q + 1.0f;
        e8[i] = 0.125f * (float)(i * 8 - 128);
    }
    check_dequant(XLLM_DTYPE_Q5_0, b0, e0, 32);
    check_dequant(XLLM_DTYPE_Q5_1, b1, e1, 32);
    check_dequant(XLLM_DTYPE_Q8_0, b8, e8, 32);
}

static void random_bytes(uint8_t *p, int n, uint64_t seed)
{
    krng r = {seed};
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)krng_u32(&r);
}

TEST(quant_known_answer_q2_k)
{
    uint8_t b[84];
    float e[256];
    random_bytes(b, 84, 11);
    put16(b, 80, 0x3800); /* d = 0.5 */
    put16(b, 82, 0x3400); /* dmin = 0.25 */
    const uint8_t *sc = b, *q = b + 16;
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                int is = 8 * n + 2 * j + l / 16;
                float dl = 0.5f * (float)(sc[is] & 0xF), ml = 0.25f * (float)(sc[is] >> 4);
                e[128 * n + 32 * j + l] = dl * (float)((q[32 * n + l] >> (2 * j)) & 3) - ml;
            }
    check_dequant(XLLM_DTYPE_Q2_K, b, e, 256);
}

TEST(quant_known_answer_q3_k)
{
    uint8_t b[110];
    float e[256];
    int8_t scales[16];
    uint32_t aux[4];
    random_bytes(b, 110, 12);
    put16(b, 108, 0x3400); /* d = 0.25 */
    /* the 12-byte 6-bit scale block, unpacked by 32-bit masks as documented */
    memcpy(aux, b + 96, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
    aux[3] = ((aux[1] >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
    aux[0] = (aux[0] & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
    aux[1] = (aux[1] & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
    memcpy(scales, aux, 16);
    const uint8_t *hm = b, *q = b + 32;
    uint8_t m = 1;
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 4; j++, m = (uint8_t)(m << 1))
            for (int l = 0; l < 32; l++) {
                int is = 8 * n + 2 * j + l / 16;
                int v = ((q[32 * n + l] >> (2 * j)) & 3) - ((hm[l] & m) ? 0 : 4);
                e[128 * n + 32 * j + l] = 0.25f * (float)(scales[is] - 32) * (float)v;
            }
    check_dequant(XLLM_DTYPE_Q3_K, b, e, 256);
}

static void scale_min_k4(int j, const uint8_t *q, int *d, int *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

TEST(quant_known_answer_q4_k_q5_k)
{
    uint8_t b4[144], b5[176];
    float e4[256], e5[256];
    random_bytes(b4, 144, 13);
    random_bytes(b5, 176, 14);
    put16(b4, 0, 0x3800); put16(b4, 2, 0x3400); /* d = 0.5, dmin = 0.25 */
    put16(b5, 0, 0x3400); put16(b5, 2, 0x3800); /* d = 0.25, dmin = 0.5 */
    for (int j = 0; j < 4; j++) {
        int sc1, m1, sc2, m2;
        scale_min_k4(2 * j, b4 + 4, &sc1, &m1);
        scale_min_k4(2 * j + 1, b4 + 4, &sc2, &m2);
        for (int l = 0; l < 32; l++) {
            uint8_t q = b4[16 + 32 * j + l];
            e4[64 * j + l] = 0.5f * (float)sc1 * (float)(q & 0xF) - 0.25f * (float)m1;
            e4[64 * j + 32 + l] = 0.5f * (float)sc2 * (float)(q >> 4) - 0.25f * (float)m2;
        }
        scale_min_k4(2 * j, b5 + 4, &sc1, &m1);
        scale_min_k4(2 * j + 1, b5 + 4, &sc2, &m2);
        uint8_t u1 = (uint8_t)(1 << (2 * j)), u2 = (uint8_t)(2 << (2 * j));
        for (int l = 0; l < 32; l++) {
            uint8_t q = b5[48 + 32 * j + l], h = b5[16 + l];
            e5[64 * j + l] = 0.25f * (float)sc1 * (float)((q & 0xF) + (h & u1 ? 16 : 0)) - 0.5f * (float)m1;
            e5[64 * j + 32 + l] = 0.25f * (float)sc2 * (float)((q >> 4) + (h & u2 ? 16 : 0)) - 0.5f * (float)m2;
        }
    }
    check_dequant(XLLM_DTYPE_Q4_K, b4, e4, 256);
    check_dequant(XLLM_DTYPE_Q5_K, b5, e5, 256);
}

TEST(quant_known_answer_q6_k)
{
    uint8_t b[210];
    float e[256];
    random_bytes(b, 210, 15);
    put16(b, 208, 0x3000); /* d = 0.125 */
    for (int n = 0; n < 2; n++) {
        const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * n);
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
            int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
            int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            float *y = e + 128 * n;
            y[l] = 0.125f * (float)sc[is] * (float)q1;
            y[l + 32] = 0.125f * (float)sc[is + 2] * (float)q2;
            y[l + 64] = 0.125f * (float)sc[is + 4] * (float)q3;
            y[l + 96] = 0.125f * (float)sc[is + 6] * (float)q4;
        }
    }
    check_dequant(XLLM_DTYPE_Q6_K, b, e, 256);
}

/* Quantizers must write bytes the documented way: quantizing values that are
 * exactly representable gives them back exactly. */
TEST(quant_exact_levels_survive)
{
    float x[32], y[32];
    uint8_t q[40];
    for (int i = 0; i < 32; i++)
        x[i] = (float)((i * 11) % 16 - 8) * 0.25f; /* levels -8..7 of d = 0.25 */
    x[3] = -2.0f;                                  /* make sure -8 is present */
    CHECK_OK(xllm_quantize_row(XLLM_DTYPE_Q4_0, x, q, 32));
    CHECK_OK(xllm_dequantize_row(XLLM_DTYPE_Q4_0, q, y, 32));
    for (int i = 0; i < 32; i++)
        CHECK_NEAR(y[i], x[i], 1e-6);
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i - 16) * 0.5f;
    CHECK_OK(xllm_quantize_row(XLLM_DTYPE_Q8_0, x, q, 32));
    CHECK_OK(xllm_dequantize_row(XLLM_DTYPE_Q8_0, q, y, 32));
    for (int i = 0; i < 32; i++) /* half a step (8/127) plus the f16 scale rounding */
        CHECK_NEAR(y[i], x[i], 8.0 / 254 + 8.0 / 1024);
}
