/* test_attn.c - xllm_attn_fold's and xllm_silu_mul's AVX-512 variants
 * against the scalar references. Attention: random queries, keys and values, chunks of 1..64 keys folded
 * one after another (so the running-max rescale is exercised), head sizes
 * with and without a 16-lane tail, with and without soft-capping. */
#include <stdlib.h>

#include "../test.h"
#include "kernels/cpu/kernels_impl.h"
#include "ktest_util.h"

/* f32 sums in another order and a polynomial exp (~2 ulp) against expf. */
#define ATTN_REL_TOL 2e-5

TEST(attn_fold_avx512_matches_reference)
{
    static const int dims[][2] = {{64, 64}, {128, 128}, {80, 40}, {7, 9}};
    static const int chunks[] = {1, 5, 16, 33, 64};
    krng r = {31337};
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++)
        for (int cap = 0; cap < 2; cap++) {
            int dk = dims[di][0], dv = dims[di][1], total = 0;
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
                total += chunks[c];
            float *q = malloc(sizeof(float) * (size_t)dk), *k = malloc(sizeof(float) * (size_t)(dk * total));
            float *v = malloc(sizeof(float) * (size_t)(dv * total));
            float *acc0 = calloc((size_t)dv, sizeof(float)), *acc1 = calloc((size_t)dv, sizeof(float));
            const float **kr = malloc(sizeof(float *) * (size_t)total), **vr = malloc(sizeof(float *) * (size_t)total);
            krng_fill(&r, q, dk, 1.0f);
            krng_fill(&r, k, dk * total, 1.0f);
            krng_fill(&r, v, dv * total, 1.0f);
            for (int j = 0; j < total; j++) {
                kr[j] = k + (size_t)j * (size_t)dk;
                vr[j] = v + (size_t)j * (size_t)dv;
            }
            float m0 = -INFINITY, l0 = 0, m1 = -INFINITY, l1 = 0, scale = 1.0f / sqrtf((float)dk);
            int at = 0;
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                xllm_attn_fold_ref(q, kr + at, vr + at, chunks[c], dk, dv, scale, cap ? 5.0f : 0.0f, &m0, &l0, acc0);
                xllm_attn_fold_avx512(q, kr + at, vr + at, chunks[c], dk, dv, scale, cap ? 5.0f : 0.0f, &m1, &l1,
                                      acc1);
                at += chunks[c];
            }
            CHECK_NEAR(m1, m0, ATTN_REL_TOL * (fabsf(m0) + 1));
            CHECK_NEAR(l1, l0, ATTN_REL_TOL * l0);
            for (int d = 0; d < dv; d++) {
                double mag = 0;
                for (int j = 0; j < total; j++)
                    mag += fabsf(vr[j][d]);
                CHECK_NEAR(acc1[d] / l1, acc0[d] / l0, ATTN_REL_TOL * mag / total + 1e-7);
            }
            free(q);
            free(k);
            free(v);
            free(acc0);
            free(acc1);
            free(kr);
            free(vr);
        }
}

TEST(attn_fold_dispatch_matches_reference)
{
    float q[4] = {1, 0, 0, 0}, k0[4] = {1, 0, 0, 0}, k1[4] = {0, 0, 0, 0}, v0[2] = {1, 2}, v1[2] = {3, 4};
    const float *kr[2] = {k0, k1}, *vr[2] = {v0, v1};
    float m = -INFINITY, l = 0, acc[2] = {0, 0};
    xllm_attn_fold(q, kr, vr, 2, 4, 2, 1.0f, 0.0f, &m, &l, acc);
    /* weights e^1 and e^0 relative to the max 1: 1 and e^-1 */
    double w1 = exp(-1.0);
    CHECK_NEAR(m, 1.0, 1e-6);
    CHECK_NEAR(l, 1.0 + w1, 1e-6);
    CHECK_NEAR(acc[0] / l, (1.0 + 3.0 * w1) / (1.0 + w1), 1e-6);
    CHECK_NEAR(acc[1] / l, (2.0 + 4.0 * w1) / (1.0 + w1), 1e-6);
}

/* silu through the polynomial exp: a few ulp of expf over the whole range */
#define SILU_REL_TOL 1e-6

TEST(silu_mul_avx512_matches_reference)
{
    enum { N = 1000 };
    static float g[N], u[N], y0[N], y1[N];
    krng r = {77};
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    krng_fill(&r, g, N, 4.0f);
    krng_fill(&r, u, N, 1.0f);
    g[0] = -200.0f; /* exp overflow side: silu -> -0 */
    g[1] = 200.0f;  /* underflow side: silu -> x */
    g[2] = 0.0f;
    for (int withu = 0; withu < 2; withu++) {
        fill_nan(y1, N);
        xllm_silu_mul_ref(g, withu ? u : NULL, y0, N - 3);
        xllm_silu_mul_avx512(g, withu ? u : NULL, y1, N - 3); /* odd tail */
        for (int i = 0; i < N - 3; i++)
            CHECK_NEAR(y1[i], y0[i], SILU_REL_TOL * fabsf(y0[i]) + 1e-30);
        CHECK(isnan(y1[N - 3])); /* nothing written past n */
    }
}
