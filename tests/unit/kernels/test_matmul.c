/* test_matmul.c - xllm_matmul against a double-precision product of the
 * dequantized weights with the f32 activations, for every weight type, odd
 * shapes, n = 1 and prefill sizes, the selected and the scalar variant, and
 * 1, 2 and 3 threads; plus argument errors. */
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/dtype.h"
#include "base/status.h"
#include "kernels/cpu/kernels_impl.h"
#include "ktest_util.h"

/* Besides rounding (MM_REL_TOL of sum |w x|), the only error is the 8-bit
 * activation quantization: per element at most half a step (block amax/254)
 * plus the f16 rounding of the Q8_0 scale (relative 2^-11, taken as 1e-3). */
#define MM_REL_TOL 2e-5
#define MM_ACT_SCALE_TOL 1e-3

static const uint32_t mm_types[] = {
    XLLM_DTYPE_F32,  XLLM_DTYPE_F16,  XLLM_DTYPE_BF16, XLLM_DTYPE_Q4_0, XLLM_DTYPE_Q4_1,
    XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K,
    XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q5_K, XLLM_DTYPE_Q6_K, XLLM_DTYPE_IQ4_NL,
};

typedef struct mm_case {
    uint32_t t;
    int64_t rows, cols, n;
    uint8_t *w;    /* [rows][row bytes] */
    float *wf;     /* [rows][cols] dequantized */
    float *x;      /* [n][cols] */
    double *yref;  /* [n][rows] */
    double *tol;   /* [n][rows] */
} mm_case;

static void case_build(mm_case *mc, uint32_t t, int64_t rows, int64_t cols, int64_t n, krng *r)
{
    int ok;
    size_t stride = (size_t)xllm_dtype_row_bytes(t, (uint64_t)cols, &ok);
    const xllm_type_traits *tr = xllm_type_traits_get(t);
    int64_t ablk = tr->vec_dot_type == XLLM_DTYPE_F32 ? 1 : (int64_t)xllm_dtype_get(tr->vec_dot_type)->block_elems;
    *mc = (mm_case){t, rows, cols, n, malloc(stride * (size_t)rows), malloc(sizeof(float) * (size_t)(rows * cols)),
                    malloc(sizeof(float) * (size_t)(n * cols)), malloc(sizeof(double) * (size_t)(n * rows)),
                    malloc(sizeof(double) * (size_t)(n * rows))};
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    for (int64_t i = 0; i < rows; i++) {
        krng_fill(r, tmp, cols, 0.05f);
        CHECK_OK(xllm_quantize_row(t, tmp, mc->w + stride * (size_t)i, cols));
        CHECK_OK(xllm_dequantize_row(t, mc->w + stride * (size_t)i, mc->wf + i * cols, cols));
    }
    krng_fill(r, mc->x, n * cols, 1.0f);
    for (int64_t c = 0; c < n; c++) {
        const float *x = mc->x + c * cols;
        for (int64_t i = 0; i < rows; i++) {
            const float *w = mc->wf + i * cols;
            double s = 0, mag = 0, qerr = 0;
            for (int64_t k0 = 0; k0 < cols; k0 += ablk) {
                double amax = 0;
                for (int64_t k = k0; k < k0 + ablk; k++)
                    amax = fmax(amax, fabs(x[k]));
                for (int64_t k = k0; k < k0 + ablk; k++) {
                    s += (double)w[k] * x[k];
                    mag += fabs((double)w[k] * x[k]);
                    if (ablk > 1)
                        qerr += fabs(w[k]) * (amax / 254.0 + MM_ACT_SCALE_TOL * fabs(x[k]));
                }
            }
            mc->yref[c * rows + i] = s;
            mc->tol[c * rows + i] = MM_REL_TOL * mag + qerr + 1e-30;
        }
    }
    free(tmp);
}

static void case_free(mm_case *mc)
{
    free(mc->w);
    free(mc->wf);
    free(mc->x);
    free(mc->yref);
    free(mc->tol);
}

/* prepare: repack the weight first (xllm_weight_prepare; a packed layout
 * where the kernels have one for this type and shape). */
static void case_check(const mm_case *mc, xllm_pool *pool, const char *variant, int prepare)
{
    xllm_weight w = {mc->t, mc->rows, mc->cols, mc->w, NULL};
    float *y = malloc(sizeof(float) * (size_t)(mc->n * mc->rows));
    fill_nan(y, (size_t)(mc->n * mc->rows));
    if (prepare)
        CHECK_OK(xllm_weight_prepare(&w));
    CHECK_OK(xllm_matmul(pool, &w, mc->x, mc->n, y));
    xllm_weight_release(&w);
    int bad = 0;
    for (int64_t k = 0; k < mc->n * mc->rows && bad < 3; k++)
        if (!(fabs(y[k] - mc->yref[k]) <= mc->tol[k])) {
            bad++;
            CHECK_MSG(0, "%s%s %s threads %d rows %lld cols %lld n %lld: y[%lld][%lld] = %.9g, ref %.9g (tol %g)",
                      variant, prepare ? " prepared" : "", xllm_dtype_name(mc->t), xllm_pool_size(pool), (long long)mc->rows,
                      (long long)mc->cols, (long long)mc->n, (long long)(k / mc->rows),
                      (long long)(k % mc->rows), y[k], mc->yref[k], mc->tol[k]);
        }
    free(y);
}

TEST(matmul_matches_double_reference)
{
    krng r = {777};
    xllm_pool *pools[3];
    for (int p = 0; p < 3; p++)
        CHECK_OK(xllm_pool_create(p + 1, &pools[p]));
    /* {rows, blocks (or 17-element units) per row, n}; rows that are multiples
     * of 16 also take the packed layouts, n = 70 crosses the activation block
     * (n = 140 also the F16 one of 128 rows); 1296 rows = 81 groups at n = 1
     * take the finer decode split with an odd group count */
    static const int64_t shapes[][3] = {{1, 1, 1},   {5, 2, 3},  {37, 3, 1}, {19, 1, 70},  {64, 2, 9},  {16, 1, 1},
                                        {48, 3, 5},  {32, 2, 70}, {48, 2, 1}, {32, 2, 140}, {1296, 1, 1}};
    for (size_t k = 0; k < sizeof(mm_types) / sizeof(mm_types[0]); k++) {
        uint32_t t = mm_types[k];
        int64_t blk = xllm_dtype_get(t)->block_elems;
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
            mm_case mc;
            int64_t cols = blk > 1 ? blk * shapes[s][1] : 17 * shapes[s][1] + 3;
            case_build(&mc, t, shapes[s][0], cols, shapes[s][2], &r);
            for (int scalar = 0; scalar < 2; scalar++) {
                xllm_kernels_force_scalar(scalar);
                for (int p = 0; p < 3; p++)
                    for (int prep = 0; prep < 2; prep++)
                        case_check(&mc, pools[p], xllm_kernels_variant(), prep);
                if (s == 0 || s == 5)
                    case_check(&mc, NULL, xllm_kernels_variant(), 1);
            }
            case_free(&mc);
        }
    }
    xllm_kernels_force_scalar(0);
    for (int p = 0; p < 3; p++)
        xllm_pool_destroy(pools[p]);
}

/* Batch invariance of the kernels: row c of a 140-row product (two threads;
 * 140 crosses the 64- and 128-row activation blocks and leaves partial
 * register tiles) is bit-identical to row c computed alone (n = 1, one
 * thread: the decode kernels), for every weight type, every ISA the CPU runs,
 * standard and packed rows (80 rows: five 16-row groups, an odd count). */
TEST(matmul_rows_independent_of_batch)
{
    enum { N = 140, ROWS = 80 };
    krng r = {4242};
    xllm_pool *pool;
    CHECK_OK(xllm_pool_create(2, &pool));
    for (int isa = XLLM_ISA_SCALAR; isa < XLLM_ISA_COUNT; isa++) {
        if (!xllm_isa_supported((xllm_isa)isa))
            continue;
        CHECK_OK(xllm_kernels_set_isa((xllm_isa)isa));
        for (size_t k = 0; k < sizeof(mm_types) / sizeof(mm_types[0]); k++) {
            uint32_t t = mm_types[k];
            int64_t blk = xllm_dtype_get(t)->block_elems, cols = blk > 1 ? 2 * blk : 35;
            mm_case mc;
            case_build(&mc, t, ROWS, cols, N, &r);
            float *all = malloc(sizeof(float) * N * ROWS), one[ROWS];
            for (int prep = 0; prep < 2; prep++) {
                xllm_weight w = {t, ROWS, cols, mc.w, NULL};
                if (prep)
                    CHECK_OK(xllm_weight_prepare(&w));
                CHECK_OK(xllm_matmul(pool, &w, mc.x, N, all));
                for (int64_t c = 0; c < N; c++) {
                    CHECK_OK(xllm_matmul(NULL, &w, mc.x + c * cols, 1, one));
                    if (memcmp(one, all + c * ROWS, sizeof one) != 0) {
                        CHECK_MSG(0, "%s %s%s: row %lld of %d differs from the row alone", xllm_dtype_name(t),
                                  xllm_isa_name((xllm_isa)isa), w.packed ? " packed" : "", (long long)c, N);
                        break;
                    }
                }
                xllm_weight_release(&w);
            }
            free(all);
            case_free(&mc);
        }
    }
    xllm_kernels_force_scalar(0);
    xllm_pool_destroy(pool);
}

TEST(matmul_argument_errors)
{
    float x[64] = {0}, y[8];
    uint8_t wbuf[4 * 18] = {0};
    xllm_weight w = {XLLM_DTYPE_Q4_0, 2, 33, wbuf, NULL};
    CHECK_EQ_INT(xllm_matmul(NULL, &w, x, 1, y), XLLM_ERR_INVALID_ARGUMENT);
    w.cols = 32;
    CHECK_OK(xllm_matmul(NULL, &w, x, 1, y));
    CHECK_NEAR(y[0], 0, 0);
    CHECK_EQ_INT(xllm_matmul(NULL, &w, x, -1, y), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_matmul(NULL, &w, NULL, 1, y), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_OK(xllm_matmul(NULL, &w, x, 0, y));
    w.dtype = XLLM_DTYPE_IQ2_XXS;
    w.cols = 256;
    CHECK_EQ_INT(xllm_matmul(NULL, &w, x, 1, y), XLLM_ERR_UNSUPPORTED);
    w.dtype = XLLM_DTYPE_Q4_K;
    w.cols = 32;
    CHECK_EQ_INT(xllm_matmul(NULL, &w, x, 1, y), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_weight_prepare(&w), XLLM_ERR_INVALID_ARGUMENT);
    w.cols = 256;
    CHECK_OK(xllm_weight_prepare(&w));
    xllm_weight_release(&w);
    CHECK(w.packed == NULL);
}

TEST(kernels_variant_selection)
{
    CHECK_OK(xllm_kernels_init());
    const char *v = xllm_kernels_variant();
    CHECK(!strcmp(v, "avx512") || !strcmp(v, "avx2") || !strcmp(v, "scalar"));
    if (xllm_isa_supported(XLLM_ISA_AVX512))
        CHECK_EQ_STR(v, "avx512");
    xllm_kernels_force_scalar(1);
    CHECK_EQ_STR(xllm_kernels_variant(), "scalar");
    xllm_kernels_force_scalar(0);
    CHECK_EQ_STR(xllm_kernels_variant(), v);
}
