/* test_attn.c - xllm_attn_fold's AVX-512 and AVX2 variants over f32, f16
 * and q8_0 KV rows, and xllm_silu_mul's AVX-512 and AVX2 variants, against the scalar
 * references. Attention: random queries, keys and values, chunks of 1..64
 * keys folded one after another (so the running-max rescale is exercised),
 * head sizes with and without a SIMD tail or a partial q8_0 block, with and
 * without soft-capping; the KV row formats themselves. */
#include <stdlib.h>
#include <string.h>

#include "base/fp16.h"

#include "../test.h"
#include "kernels/cpu/kernels_impl.h"
#include "ktest_util.h"

/* f32 sums in another order and a polynomial exp (~2 ulp) against expf. */
#define ATTN_REL_TOL 2e-5

static const uint32_t kv_types[] = {XLLM_DTYPE_F32, XLLM_DTYPE_F16, XLLM_DTYPE_Q8_0};

typedef void (*fold_fn)(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                        int dv, float scale, float cap, float *m, float *l, float *acc);

/* Random rows stored as kv, chunks of 1..64 keys folded one after another
 * (so the running-max rescale is exercised) by fn and by the reference. */
static void check_fold_variant(fold_fn fn, uint32_t kv)
{
    static const int dims[][2] = {{64, 64}, {128, 128}, {80, 40}, {7, 9}, {16, 16}, {48, 96}};
    static const int chunks[] = {1, 5, 16, 33, 64};
    krng r = {31337 + kv};
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++)
        for (int cap = 0; cap < 2; cap++) {
            int dk = dims[di][0], dv = dims[di][1], total = 0;
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
                total += chunks[c];
            size_t kb = xllm_kv_row_bytes(kv, dk), vb = xllm_kv_row_bytes(kv, dv);
            float *q = malloc(sizeof(float) * (size_t)dk), *row = malloc(sizeof(float) * (size_t)(dk + dv));
            uint8_t *k = malloc(kb * (size_t)total), *v = malloc(vb * (size_t)total);
            float *acc0 = calloc((size_t)dv, sizeof(float)), *acc1 = calloc((size_t)dv, sizeof(float));
            const void **kr = malloc(sizeof(void *) * (size_t)total), **vr = malloc(sizeof(void *) * (size_t)total);
            float *vmag = calloc((size_t)dv, sizeof(float));
            krng_fill(&r, q, dk, 1.0f);
            for (int j = 0; j < total; j++) {
                krng_fill(&r, row, dk + dv, 1.0f);
                for (int d = 0; d < dv; d++)
                    vmag[d] += fabsf(row[dk + d]);
                xllm_kv_store_row(kv, row, dk, k + (size_t)j * kb);
                xllm_kv_store_row(kv, row + dk, dv, v + (size_t)j * vb);
                kr[j] = k + (size_t)j * kb;
                vr[j] = v + (size_t)j * vb;
            }
            float m0 = -INFINITY, l0 = 0, m1 = -INFINITY, l1 = 0, scale = 1.0f / sqrtf((float)dk);
            int at = 0;
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                xllm_attn_fold_ref(kv, q, kr + at, vr + at, chunks[c], dk, dv, scale, cap ? 5.0f : 0.0f, &m0, &l0,
                                   acc0);
                fn(kv, q, kr + at, vr + at, chunks[c], dk, dv, scale, cap ? 5.0f : 0.0f, &m1, &l1, acc1);
                at += chunks[c];
            }
            CHECK_NEAR(m1, m0, ATTN_REL_TOL * (fabsf(m0) + 1));
            CHECK_NEAR(l1, l0, ATTN_REL_TOL * l0);
            for (int d = 0; d < dv; d++)
                CHECK_MSG(fabs(acc1[d] / l1 - acc0[d] / l0) <= ATTN_REL_TOL * vmag[d] / total + 1e-7,
                          "kv %u dk %d dv %d cap %d: out[%d] %g, reference %g", kv, dk, dv, cap, d, acc1[d] / l1,
                          acc0[d] / l0);
            free(q);
            free(row);
            free(k);
            free(v);
            free(acc0);
            free(acc1);
            free(kr);
            free(vr);
            free(vmag);
        }
}

TEST(attn_fold_avx512_matches_reference)
{
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    for (size_t t = 0; t < sizeof(kv_types) / sizeof(kv_types[0]); t++)
        check_fold_variant(xllm_attn_fold_avx512, kv_types[t]);
}

TEST(attn_fold_avx2_matches_reference)
{
    if (!xllm_isa_supported(XLLM_ISA_AVX2)) {
        test_skip("CPU lacks AVX2");
        return;
    }
    for (size_t t = 0; t < sizeof(kv_types) / sizeof(kv_types[0]); t++)
        check_fold_variant(xllm_attn_fold_avx2, kv_types[t]);
}

/* The typed reference is the f32 reference over the rows as stored (exact),
 * and the stored rows are the documented formats. */
TEST(attn_kv_rows_and_typed_reference)
{
    enum { DK = 40, DV = 24, N = 9 };
    krng r = {99};
    float src[N][DK + DV], back[N][DK + 32 + DV + 32], q[DK];
    uint8_t k[N][2 * 34], v[N][34];
    const void *kr[N], *vr[N], *kf[N], *vf[N];
    CHECK(xllm_kv_dtype_supported(XLLM_DTYPE_F16) && xllm_kv_dtype_supported(XLLM_DTYPE_Q8_0) &&
          xllm_kv_dtype_supported(XLLM_DTYPE_F32) && !xllm_kv_dtype_supported(XLLM_DTYPE_Q4_0));
    CHECK_EQ_INT((int)xllm_kv_row_bytes(XLLM_DTYPE_F16, DK), 2 * DK);
    CHECK_EQ_INT((int)xllm_kv_row_bytes(XLLM_DTYPE_Q8_0, DK), 2 * 34); /* 40 -> two blocks */
    CHECK_EQ_INT((int)xllm_kv_row_bytes(XLLM_DTYPE_Q8_0, 16), 34);
    CHECK_EQ_INT((int)xllm_kv_row_bytes(XLLM_DTYPE_F32, DK), 4 * DK);
    krng_fill(&r, q, DK, 1.0f);
    for (int j = 0; j < N; j++) {
        krng_fill(&r, src[j], DK + DV, 1.0f);
        xllm_kv_store_row(XLLM_DTYPE_Q8_0, src[j], DK, k[j]);
        xllm_kv_store_row(XLLM_DTYPE_Q8_0, src[j] + DK, DV, v[j]);
        CHECK_OK(xllm_dequantize_row(XLLM_DTYPE_Q8_0, k[j], back[j], 64));
        CHECK_OK(xllm_dequantize_row(XLLM_DTYPE_Q8_0, v[j], back[j] + 64, 32));
        for (int d = DK; d < 64; d++)
            CHECK(back[j][d] == 0.0f); /* the padding of the partial block */
        for (int d = 0; d < DK; d++)
            CHECK_NEAR(back[j][d], src[j][d], fabsf(src[j][d]) * 0.01f + 0.05f);
        kr[j] = k[j];
        vr[j] = v[j];
        kf[j] = back[j];
        vf[j] = back[j] + 64;
    }
    {
        uint8_t ref[34];
        CHECK_OK(xllm_quantize_row(XLLM_DTYPE_Q8_0, src[0], ref, 32));
        CHECK(memcmp(ref, k[0], 34) == 0); /* a whole block is xllm_quantize_row's */
    }
    float m0 = -INFINITY, l0 = 0, a0[DV] = {0}, m1 = -INFINITY, l1 = 0, a1[DV] = {0};
    xllm_attn_fold_ref(XLLM_DTYPE_Q8_0, q, kr, vr, N, DK, DV, 0.3f, 0.0f, &m0, &l0, a0);
    xllm_attn_fold_ref(XLLM_DTYPE_F32, q, kf, vf, N, DK, DV, 0.3f, 0.0f, &m1, &l1, a1);
    CHECK(m0 == m1 && l0 == l1 && memcmp(a0, a1, sizeof a0) == 0);
    {
        uint16_t h[DK];
        xllm_kv_store_row(XLLM_DTYPE_F16, src[1], DK, h);
        for (int d = 0; d < DK; d++)
            CHECK(h[d] == xllm_f32_to_f16(src[1][d]));
    }
}

TEST(attn_fold_dispatch_matches_reference)
{
    float q[4] = {1, 0, 0, 0}, k0[4] = {1, 0, 0, 0}, k1[4] = {0, 0, 0, 0}, v0[2] = {1, 2}, v1[2] = {3, 4};
    const void *kr[2] = {k0, k1}, *vr[2] = {v0, v1};
    float m = -INFINITY, l = 0, acc[2] = {0, 0};
    xllm_attn_fold(XLLM_DTYPE_F32, q, kr, vr, 2, 4, 2, 1.0f, 0.0f, &m, &l, acc);
    /* weights e^1 and e^0 relative to the max 1: 1 and e^-1 */
    double w1 = exp(-1.0);
    CHECK_NEAR(m, 1.0, 1e-6);
    CHECK_NEAR(l, 1.0 + w1, 1e-6);
    CHECK_NEAR(acc[0] / l, (1.0 + 3.0 * w1) / (1.0 + w1), 1e-6);
    CHECK_NEAR(acc[1] / l, (2.0 + 4.0 * w1) / (1.0 + w1), 1e-6);
}

/* silu through the polynomial exp: a few ulp of expf over the whole range */
#define SILU_REL_TOL 1e-6

static void check_silu(xllm_isa isa, void (*fn)(const float *, const float *, float *, int64_t))
{
    enum { N = 1000 };
    static float g[N], u[N], y0[N], y1[N];
    krng r = {77};
    if (!xllm_isa_supported(isa)) {
        test_skip("CPU lacks the ISA");
        return;
    }
    krng_fill(&r, g, N, 4.0f);
    krng_fill(&r, u, N, 1.0f);
    g[0] = -200.0f; /* exp overflow side: silu -> -0 */
    g[1] = 200.0f;  /* underflow side: silu -> x */
    g[2] = 0.0f;
    g[3] = -88.5f; /* around the clamps of the polynomial exp */
    g[4] = 87.5f;
    for (int withu = 0; withu < 2; withu++)
        for (int n = N - 3; n >= N - 10; n -= 7) { /* odd tails */
            fill_nan(y1, N);
            xllm_silu_mul_ref(g, withu ? u : NULL, y0, n);
            fn(g, withu ? u : NULL, y1, n);
            for (int i = 0; i < n; i++)
                CHECK_NEAR(y1[i], y0[i], SILU_REL_TOL * fabsf(y0[i]) + 1e-30);
            CHECK(isnan(y1[n])); /* nothing written past n */
        }
}

TEST(silu_mul_avx512_matches_reference) { check_silu(XLLM_ISA_AVX512, xllm_silu_mul_avx512); }

TEST(silu_mul_avx2_matches_reference) { check_silu(XLLM_ISA_AVX2, xllm_silu_mul_avx2); }
