/* test_dot.c - every SIMD tile kernel (AVX2, AVX-512) of every weight type
 * against the scalar reference dot product: odd row and activation counts,
 * several block multiples of columns, quantized real-looking weights and raw
 * random bytes (every bit pattern, extreme levels), NaN-filled outputs. */
#include <stdlib.h>

#include "../test.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "kernels/cpu/kernels_impl.h"
#include "ktest_util.h"

/* |simd - ref| <= DOT_REL_TOL * sum |w_i * a_i| (+ a tiny absolute floor):
 * both are exact integer sums scaled in f32, only the summation order differs. */
#define DOT_REL_TOL 2e-5
#define DOT_ABS_TOL 1e-30

#define MAX_NR 9
#define MAX_NC 6

static const uint32_t dot_types[] = {
    XLLM_DTYPE_F32,  XLLM_DTYPE_F16,  XLLM_DTYPE_BF16, XLLM_DTYPE_Q4_0, XLLM_DTYPE_Q4_1,
    XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K,
    XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q5_K, XLLM_DTYPE_Q6_K, XLLM_DTYPE_IQ4_NL,
};

/* Byte offsets of the f16 scale fields of a block (overwritten with sane
 * values when a block is otherwise random bytes); -1 ends the list. */
static void scale_fields(uint32_t t, int off[3])
{
    off[0] = off[1] = off[2] = -1;
    switch (t) {
    case XLLM_DTYPE_Q4_1: case XLLM_DTYPE_Q5_1: case XLLM_DTYPE_Q4_K: case XLLM_DTYPE_Q5_K:
        off[0] = 0; off[1] = 2; break;
    case XLLM_DTYPE_Q2_K: off[0] = 80; off[1] = 82; break;
    case XLLM_DTYPE_Q3_K: off[0] = 108; break;
    case XLLM_DTYPE_Q6_K: off[0] = 208; break;
    default: off[0] = 0; break;
    }
}

/* rows x cols weights of type t: quantized Gaussian rows, or random bytes. */
static uint8_t *make_weights(uint32_t t, int rows, int64_t cols, int raw, krng *r, size_t *stride)
{
    int ok;
    const xllm_dtype_info *info = xllm_dtype_get(t);
    *stride = (size_t)xllm_dtype_row_bytes(t, (uint64_t)cols, &ok);
    uint8_t *w = malloc(*stride * (size_t)rows);
    float *x = malloc(sizeof(float) * (size_t)cols);
    for (int i = 0; i < rows; i++) {
        uint8_t *row = w + *stride * (size_t)i;
        krng_fill(r, x, cols, 0.05f);
        xllm_quantize_row(t, x, row, cols);
        if (!raw || info->block_elems == 1)
            continue;
        int off[3];
        scale_fields(t, off);
        for (size_t b = 0; b < *stride; b++)
            row[b] = (uint8_t)krng_u32(r);
        for (size_t blk = 0; blk < *stride / info->block_bytes; blk++)
            for (int k = 0; k < 3 && off[k] >= 0; k++)
                put16(row + blk * info->block_bytes, (size_t)off[k],
                      xllm_f32_to_f16(0.001f + (float)(krng_u32(r) % 1000) * 1e-5f));
    }
    free(x);
    return w;
}

/* n activation rows in format at; signs_only: +-1 values (extreme levels). */
static uint8_t *make_acts(uint32_t at, int n, int64_t cols, int signs_only, krng *r, size_t *stride)
{
    int ok;
    *stride = (size_t)xllm_dtype_row_bytes(at, (uint64_t)cols, &ok);
    uint8_t *a = malloc(*stride * (size_t)n);
    float *x = malloc(sizeof(float) * (size_t)cols);
    for (int c = 0; c < n; c++) {
        krng_fill(r, x, cols, 1.0f);
        if (signs_only)
            for (int64_t i = 0; i < cols; i++)
                x[i] = x[i] < 0 ? -1.0f : 1.0f;
        xllm_quantize_row(at, x, a + *stride * (size_t)c, cols);
    }
    free(x);
    return a;
}

/* sum |w_i a_i| from dequantized rows: the scale of the rounding error */
static double magnitude(uint32_t wt, uint32_t at, const uint8_t *w, const uint8_t *a, int64_t cols)
{
    float *fw = malloc(sizeof(float) * (size_t)cols), *fa = malloc(sizeof(float) * (size_t)cols);
    double m = 0;
    xllm_dequantize_row(wt, w, fw, cols);
    xllm_dequantize_row(at, a, fa, cols);
    for (int64_t i = 0; i < cols; i++)
        m += fabs((double)fw[i] * fa[i]);
    free(fw);
    free(fa);
    return m;
}

static void check_tile(xllm_isa isa, uint32_t t, int64_t cols, int raw, int signs, krng *r)
{
    const xllm_type_traits *tr = xllm_type_traits_get(t);
    size_t ws, as;
    uint8_t *w = make_weights(t, MAX_NR, cols, raw, r, &ws);
    uint8_t *a = make_acts(tr->vec_dot_type, MAX_NC, cols, signs, r, &as);
    float ref[MAX_NC][MAX_NR], y[MAX_NC * (MAX_NR + 3)];
    double mag[MAX_NC][MAX_NR];
    for (int c = 0; c < MAX_NC; c++)
        for (int i = 0; i < MAX_NR; i++) {
            ref[c][i] = tr->vec_dot(cols, w + ws * (size_t)i, a + as * (size_t)c);
            mag[c][i] = magnitude(t, tr->vec_dot_type, w + ws * (size_t)i, a + as * (size_t)c, cols);
        }
    static const int nrs[] = {1, 2, 3, 4, 5, 7, 9}, ncs[] = {1, 2, 3, 4, 5, 6};
    for (size_t ir = 0; ir < sizeof(nrs) / sizeof(nrs[0]); ir++)
        for (size_t ic = 0; ic < sizeof(ncs) / sizeof(ncs[0]); ic++) {
            int nr = nrs[ir], nc = ncs[ic];
            size_t ys = (size_t)nr + 3; /* a gap after each row of outputs */
            fill_nan(y, sizeof(y) / sizeof(y[0]));
            tr->tile[isa](cols, w, ws, nr, a, as, nc, y, ys);
            for (int c = 0; c < nc; c++) {
                for (int i = 0; i < nr; i++) {
                    double tol = DOT_REL_TOL * mag[c][i] + DOT_ABS_TOL;
                    float v = y[(size_t)c * ys + (size_t)i];
                    CHECK_MSG(fabs((double)v - ref[c][i]) <= tol,
                              "%s %s cols %lld raw %d signs %d nr %d nc %d [%d][%d]: %.9g vs ref %.9g (tol %g)",
                              xllm_isa_name(isa), xllm_dtype_name(t), (long long)cols, raw, signs, nr, nc,
                              c, i, v, ref[c][i], tol);
                }
                for (size_t g = (size_t)nr; g < ys; g++)
                    CHECK_MSG(isnan(y[(size_t)c * ys + g]), "%s %s: tile wrote outside its outputs",
                              xllm_isa_name(isa), xllm_dtype_name(t));
            }
        }
    free(w);
    free(a);
}

static void check_isa(xllm_isa isa)
{
    krng r = {0xabcdef + (uint64_t)isa};
    if (!xllm_isa_supported(isa)) {
        test_skip("CPU lacks this ISA");
        return;
    }
    for (size_t k = 0; k < sizeof(dot_types) / sizeof(dot_types[0]); k++) {
        uint32_t t = dot_types[k];
        const xllm_dtype_info *info = xllm_dtype_get(t);
        const xllm_type_traits *tr = xllm_type_traits_get(t);
        int blk = (int)(info->block_elems > 1 ? info->block_elems : 1);
        int64_t plain_cols[] = {1, 7, 16, 33, 100, 257};
        int64_t block_mult[] = {1, 2, 3, 5, 8};
        CHECK(tr->tile[isa] != NULL);
        for (int c = 0; c < 6; c++) {
            int64_t cols = blk == 1 ? plain_cols[c] : (c < 5 ? block_mult[c] * blk : 0);
            if (cols == 0)
                continue;
            check_tile(isa, t, cols, 0, 0, &r);
            check_tile(isa, t, cols, 1, c % 2, &r);
        }
    }
}

TEST(dot_avx2_matches_reference) { check_isa(XLLM_ISA_AVX2); }
TEST(dot_avx512_matches_reference) { check_isa(XLLM_ISA_AVX512); }
TEST(dot_scalar_tile_matches_reference) { check_isa(XLLM_ISA_SCALAR); }

/* The SIMD activation quantizers must write the very bytes of the reference
 * (so every ISA's matmul sees the same activations): random rows, zero
 * blocks, exact .5 ties and values at the clamp. */
TEST(dot_activation_quantizers_bit_exact)
{
    enum { N = 1024 };
    static float x[N];
    static uint8_t ref[N / 256 * 292], got[N / 256 * 292];
    const uint32_t types[] = {XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q8_K};
    krng r = {99};
    krng_fill(&r, x, N, 0.7f);
    for (int i = 0; i < 256; i++)
        x[i] = 0; /* a zero super-block */
    for (int i = 256; i < 288; i++)
        x[i] = (float)(i - 256) - 15.5f; /* one block of evenly spaced values */
    for (int i = 512; i < 768; i++) /* amax 127 in every block: scale 1, exact .5 ties */
        x[i] = i % 32 == 0 ? 127.0f : (float)((i * 37) % 254 - 127) + ((i & 1) ? 0.5f : 0.0f);
    for (size_t k = 0; k < 2; k++) {
        const xllm_type_traits *tr = xllm_type_traits_get(types[k]);
        int ok;
        size_t bytes = (size_t)xllm_dtype_row_bytes(types[k], N, &ok);
        tr->quantize_row(x, ref, N);
        for (int isa = XLLM_ISA_AVX2; isa < XLLM_ISA_COUNT; isa++) {
            if (!xllm_isa_supported((xllm_isa)isa))
                continue;
            memset(got, 0x5a, sizeof(got));
            tr->quantize_act[isa](x, got, N);
            CHECK_MSG(memcmp(ref, got, bytes) == 0, "%s %s quantizer differs from the reference",
                      xllm_isa_name((xllm_isa)isa), xllm_dtype_name(types[k]));
        }
    }
}
