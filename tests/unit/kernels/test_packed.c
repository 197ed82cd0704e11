/* test_packed.c - the packed weight layouts: the AVX-512 and AVX2 packed tiles against
 * the scalar packed reference (which reads the packed bytes back element by
 * element), that reference against the standard-layout reference dot (so the
 * repacking loses nothing), the AVX2 tiles' batch invariance, and the Q8X
 * quantizers bit for bit. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "base/fs.h"
#include "base/status.h"
#include "kernels/cpu/kernels_impl.h"
#include "ktest_util.h"

/* Integer dots are exact; what differs is the order of the f32 sums of the
 * per-block products (SIMD) against the double sum of the reference. */
#define PK_REL_TOL 1e-5

typedef struct pk_type {
    uint32_t dtype;
    xllm_packed_fn tile;
} pk_type;

/* Packed weight of random rows (standard rows kept in *std). */
static xllm_weight pk_weight(uint32_t t, int64_t rows, int64_t cols, uint8_t **std, krng *r)
{
    int ok;
    size_t rb = (size_t)xllm_dtype_row_bytes(t, (uint64_t)cols, &ok);
    float *tmp = malloc(sizeof(float) * (size_t)cols);
    *std = malloc(rb * (size_t)rows);
    for (int64_t i = 0; i < rows; i++) {
        krng_fill(r, tmp, cols, 0.05f);
        CHECK_OK(xllm_quantize_row(t, tmp, *std + rb * (size_t)i, cols));
    }
    free(tmp);
    xllm_weight w = {t, rows, cols, *std, NULL};
    CHECK_OK(xllm_weight_prepare(&w));
    return w;
}

/* One output per (activation row, group) call: every row alone through the
 * n = 1 kernel of a single group (no pairing). */
static void tile_one_by_one(xllm_packed_fn tile, const xllm_packed *p, const uint8_t *a, size_t as, int64_t n,
                            float *y, size_t ys)
{
    for (int64_t c = 0; c < n; c++)
        for (int64_t g = 0; g < p->rows / XLLM_PACK_ROWS; g++)
            tile(p, g, g + 1, a + (size_t)c * as, as, 1, y + (size_t)c * ys, ys);
}

/* The tiles of one ISA against the packed reference and the standard
 * reference dot; invariant: also the floats of one row at a time. */
static void check_packed_tiles(const pk_type *types, size_t ntypes, const char *isa, int invariant)
{
    static const int64_t shapes[][3] = {{16, 256, 1}, {32, 512, 3}, {48, 256, 4}, {16, 2048, 9}, {64, 768, 5},
                                        {16, 256, 17}, {48, 512, 1},  {48, 256, 11}, {64, 512, 16}, {80, 256, 1}};
    krng r = {4242};
    for (size_t k = 0; k < ntypes; k++)
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
            int64_t rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2];
            uint8_t *std;
            xllm_weight w = pk_weight(types[k].dtype, rows, cols, &std, &r);
            const xllm_packed *p = w.packed;
            CHECK_MSG(p != NULL, "%s %lld x %lld was not packed", xllm_dtype_name(types[k].dtype),
                      (long long)rows, (long long)cols);
            if (!p) {
                free(std);
                continue;
            }
            const uint32_t pat = xllm_pack_act_dtype((xllm_pack_format)p->format);
            const int k8 = pat == XLLM_DTYPE_Q8_K, f32 = pat == XLLM_DTYPE_F32;
            size_t as = f32  ? (size_t)cols * sizeof(float)
                        : k8 ? (size_t)(cols / XLLM_QK_K) * sizeof(xllm_block_q8_k)
                             : (size_t)(cols / XLLM_QK32) * XLLM_Q8X_BYTES, rb;
            uint32_t at = f32 ? XLLM_DTYPE_F32 : k8 ? XLLM_DTYPE_Q8_K : XLLM_DTYPE_Q8_0; /* standard activation type */
            int ok;
            rb = (size_t)xllm_dtype_row_bytes(types[k].dtype, (uint64_t)cols, &ok);
            float *x = malloc(sizeof(float) * (size_t)(n * cols));
            uint8_t *a = malloc(as * (size_t)n);
            float *y = malloc(sizeof(float) * (size_t)(n * rows)), *yr = malloc(sizeof(float) * (size_t)(n * rows));
            krng_fill(&r, x, n * cols, 1.0f);
            for (int64_t c = 0; c < n; c++) {
                if (f32)
                    memcpy(a + (size_t)c * as, x + c * cols, as);
                else if (k8)
                    xllm_quantize_row_q8_k(x + c * cols, a + (size_t)c * as, cols);
                else
                    xllm_quantize_row_q8x_ref(x + c * cols, a + (size_t)c * as, cols);
            }
            fill_nan(y, (size_t)(n * rows));
            fill_nan(yr, (size_t)(n * rows));
            types[k].tile(p, 0, rows / XLLM_PACK_ROWS, a, as, (int)n, y, (size_t)rows);
            xllm_packed_tile_ref(p, 0, rows / XLLM_PACK_ROWS, a, as, (int)n, yr, (size_t)rows);
            if (invariant) {
                float *y1 = malloc(sizeof(float) * (size_t)(n * rows));
                fill_nan(y1, (size_t)(n * rows));
                tile_one_by_one(types[k].tile, p, a, as, n, y1, (size_t)rows);
                CHECK_MSG(memcmp(y, y1, sizeof(float) * (size_t)(n * rows)) == 0,
                          "%s %s %lld x %lld n %lld: one row at a time differs from the batch",
                          xllm_dtype_name(types[k].dtype), isa, (long long)rows, (long long)cols, (long long)n);
                free(y1);
            }
            /* the standard-layout reference: Q8_0 activations carry the same levels and scale as Q8X */
            uint8_t *a0 = malloc(as);
            float *wf = malloc(sizeof(float) * (size_t)cols), *af = malloc(sizeof(float) * (size_t)cols);
            int bad = 0;
            for (int64_t c = 0; c < n && bad < 3; c++) {
                if (f32)
                    memcpy(a0, x + c * cols, as);
                else if (k8)
                    xllm_quantize_row_q8_k(x + c * cols, a0, cols);
                else
                    xllm_quantize_row_q8_0(x + c * cols, a0, cols);
                for (int64_t i = 0; i < rows && bad < 3; i++) {
                    const xllm_type_traits *tr = xllm_type_traits_get(types[k].dtype);
                    double ref = tr->vec_dot(cols, std + rb * (size_t)i, a0);
                    double got = y[c * rows + i], pref = yr[c * rows + i], mag = 0;
                    CHECK_OK(xllm_dequantize_row(types[k].dtype, std + rb * (size_t)i, wf, cols));
                    CHECK_OK(xllm_dequantize_row(at, a0, af, cols));
                    for (int64_t e = 0; e < cols; e++)
                        mag += fabs((double)wf[e] * af[e]);
                    double tol = PK_REL_TOL * mag + 1e-30;
                    if (!(fabs(got - pref) <= tol) || !(fabs(pref - ref) <= tol)) {
                        bad++;
                        CHECK_MSG(0, "%s %lld x %lld n %lld: y[%lld][%lld] %s %.9g packed ref %.9g std ref %.9g",
                                  xllm_dtype_name(types[k].dtype), (long long)rows, (long long)cols, (long long)n,
                                  (long long)c, (long long)i, isa, got, pref, ref);
                    }
                }
            }
            free(a0);
            free(wf);
            free(af);
            free(x);
            free(a);
            free(y);
            free(yr);
            xllm_weight_release(&w);
            free(std);
        }
}

TEST(packed_tiles_match_packed_reference)
{
    const pk_type types[] = {{XLLM_DTYPE_Q4_0, xllm_packed_q4_0x16_avx512},
                             {XLLM_DTYPE_Q8_0, xllm_packed_q8_0x16_avx512},
                             {XLLM_DTYPE_IQ4_NL, xllm_packed_iq4_nlx16_avx512},
                             {XLLM_DTYPE_Q4_1, xllm_packed_q4_1x16_avx512},
                             {XLLM_DTYPE_Q5_0, xllm_packed_q5_0x16_avx512},
                             {XLLM_DTYPE_Q5_1, xllm_packed_q5_1x16_avx512},
                             {XLLM_DTYPE_Q4_K, xllm_packed_q4_kx16_avx512},
                             {XLLM_DTYPE_Q5_K, xllm_packed_q5_kx16_avx512},
                             {XLLM_DTYPE_Q6_K, xllm_packed_q6_kx16_avx512},
                             {XLLM_DTYPE_Q3_K, xllm_packed_q3_kx16_avx512},
                             {XLLM_DTYPE_Q2_K, xllm_packed_q2_kx16_avx512},
                             {XLLM_DTYPE_F16, xllm_packed_f16x16_avx512}};
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    xllm_isa isa = xllm_kernels_isa();
    CHECK_OK(xllm_kernels_set_isa(XLLM_ISA_AVX512)); /* packed as on an AVX-512 machine, whatever XLLM_CPU_ISA says */
    check_packed_tiles(types, sizeof(types) / sizeof(types[0]), "avx512", 0);
    CHECK_OK(xllm_kernels_set_isa(isa));
}

/* The AVX2 tiles (the layouts xllm_pack_choose packs for AVX2) against the
 * same references and tolerance, and one activation row at a time through
 * the single-group n = 1 kernel: the same floats (batch invariance). */
TEST(packed_avx2_tiles_match_packed_reference)
{
    const pk_type types[] = {{XLLM_DTYPE_Q4_0, xllm_packed_q4_0x16_avx2}, {XLLM_DTYPE_Q6_K, xllm_packed_q6_kx16_avx2},
                             {XLLM_DTYPE_Q8_0, xllm_packed_q8_0x16_avx2},
                             {XLLM_DTYPE_F16, xllm_packed_f16x16_avx2}};
    if (!xllm_isa_supported(XLLM_ISA_AVX2)) {
        test_skip("CPU lacks AVX2");
        return;
    }
    xllm_isa isa = xllm_kernels_isa();
    CHECK_OK(xllm_kernels_set_isa(XLLM_ISA_AVX2)); /* the weights packed as on an AVX2 machine */
    check_packed_tiles(types, sizeof(types) / sizeof(types[0]), "avx2", 1);
    CHECK_OK(xllm_kernels_set_isa(isa));
}

/* The AVX-512 repacking writes the bytes of the scalar one, for every layout,
 * on random bytes (every bit pattern of scales and levels), whole matrices and
 * group sub-ranges, and F16 with an odd column count. */
TEST(packed_fill_avx512_equals_reference)
{
    static const struct {
        uint32_t dtype;
        int64_t rows, cols;
    } cases[] = {{XLLM_DTYPE_Q4_0, 48, 96},   {XLLM_DTYPE_Q4_0, 32, 2048}, {XLLM_DTYPE_Q8_0, 48, 160},
                 {XLLM_DTYPE_Q8_0, 16, 32},   {XLLM_DTYPE_Q4_K, 48, 768},  {XLLM_DTYPE_Q4_K, 16, 256},
                 {XLLM_DTYPE_Q6_K, 48, 512},  {XLLM_DTYPE_Q6_K, 32, 256},  {XLLM_DTYPE_F16, 48, 33},
                 {XLLM_DTYPE_F16, 32, 1},     {XLLM_DTYPE_F16, 16, 200},   {XLLM_DTYPE_Q5_K, 48, 768},
                 {XLLM_DTYPE_Q5_K, 16, 512},  {XLLM_DTYPE_IQ4_NL, 48, 96}, {XLLM_DTYPE_Q4_1, 48, 160},
                 {XLLM_DTYPE_Q4_1, 16, 32},   {XLLM_DTYPE_Q5_0, 48, 96},   {XLLM_DTYPE_Q5_1, 32, 64},
                 {XLLM_DTYPE_Q3_K, 48, 512},  {XLLM_DTYPE_Q2_K, 48, 512}};
    krng r = {77};
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int ok;
        const int64_t rows = cases[k].rows, cols = cases[k].cols, groups = rows / XLLM_PACK_ROWS;
        xllm_pack_format f = xllm_pack_choose(cases[k].dtype, rows, cols, XLLM_ISA_AVX512);
        size_t rb = (size_t)xllm_dtype_row_bytes(cases[k].dtype, (uint64_t)cols, &ok);
        size_t gb = xllm_pack_group_bytes(f, cols), n = (size_t)groups * gb;
        uint8_t *src = malloc(rb * (size_t)rows), *want = calloc(1, n), *got = calloc(1, n);
        for (size_t i = 0; i < rb * (size_t)rows; i++)
            src[i] = (uint8_t)(krng_u32(&r) >> 13);
        int64_t nb = f == XLLM_PACK_F16X16 ? cols
                     : f == XLLM_PACK_Q4_KX16 || f == XLLM_PACK_Q5_KX16 || f == XLLM_PACK_Q6_KX16 ||
                               f == XLLM_PACK_Q3_KX16 || f == XLLM_PACK_Q2_KX16
                         ? cols / XLLM_QK_K
                                                                         : cols / XLLM_QK32;
        xllm_packed pw = {(uint32_t)f, rows, cols, nb, gb, want}, pg = pw;
        pg.data = got;
        xllm_pack_fill_ref(&pw, src, 0, groups);
        xllm_pack_fill_avx512(&pg, src, 0, groups / 2); /* two ranges, as the two load threads do */
        xllm_pack_fill_avx512(&pg, src, groups / 2, groups);
        CHECK_MSG(f != XLLM_PACK_NONE && memcmp(want, got, n) == 0, "%s %lld x %lld: avx512 repack differs",
                  xllm_dtype_name(cases[k].dtype), (long long)rows, (long long)cols);
        free(src);
        free(want);
        free(got);
    }
}

/* A weight whose rows lie in a file mapping is repacked from pread chunks
 * (matmul.c fill_from_file: two threads above 8 MiB, 256 KiB reads): the same
 * bytes as a weight repacked from heap rows. Random bytes, 9.4 MB of Q4_0 and
 * an F16 weight whose chunks hold an odd number of groups. */
TEST(packed_fill_from_mapped_file_equals_heap)
{
    static const struct {
        uint32_t dtype;
        int64_t rows, cols;
    } cases[] = {{XLLM_DTYPE_Q4_0, 4096, 4096}, {XLLM_DTYPE_F16, 208, 3000}};
    char dir[] = "/tmp/xllm-test-XXXXXX";
    krng r = {31};
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    xllm_isa isa = xllm_kernels_isa();
    CHECK_OK(xllm_kernels_set_isa(XLLM_ISA_AVX512)); /* both layouts packed, whatever XLLM_CPU_ISA says */
    CHECK(mkdtemp(dir) != NULL);
    char *path = xllm_path_join(dir, "w.bin");
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int ok;
        const int64_t rows = cases[k].rows, cols = cases[k].cols;
        size_t n = (size_t)xllm_dtype_row_bytes(cases[k].dtype, (uint64_t)cols, &ok) * (size_t)rows;
        uint8_t *std = malloc(n);
        for (size_t i = 0; i < n; i++)
            std[i] = (uint8_t)(krng_u32(&r) >> 13);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite("pad", 1, 3, f) == 3 && fwrite(std, 1, n, f) == n); /* rows at an odd offset */
        if (f)
            fclose(f);
        xllm_mmap m;
        CHECK_OK(xllm_mmap_open(&m, path));
        xllm_weight wh = {cases[k].dtype, rows, cols, std, NULL}, wm = {cases[k].dtype, rows, cols, m.data + 3, NULL};
        CHECK(xllm_mmap_contains(wm.data, n));
        CHECK_OK(xllm_weight_prepare(&wh));
        CHECK_OK(xllm_weight_prepare(&wm));
        const xllm_packed *ph = wh.packed, *pm = wm.packed;
        CHECK(ph && pm);
        if (ph && pm)
            CHECK_MSG(memcmp(ph->data, pm->data, (size_t)(rows / XLLM_PACK_ROWS) * ph->group_bytes) == 0,
                      "%s: repack from the mapped file differs", xllm_dtype_name(cases[k].dtype));
        xllm_weight_release(&wh);
        xllm_weight_release(&wm);
        xllm_mmap_close(&m);
        free(std);
    }
    unlink(path);
    rmdir(dir);
    xllm_free(path);
    CHECK_OK(xllm_kernels_set_isa(isa));
}

TEST(packed_layout_declines_shapes)
{
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_0, 15, 64, XLLM_ISA_AVX512), XLLM_PACK_NONE);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_0, 32, 64, XLLM_ISA_SCALAR), XLLM_PACK_NONE);
    /* AVX2: only the layouts with an AVX2 tile */
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_0, 32, 64, XLLM_ISA_AVX2), XLLM_PACK_Q4_0X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_0, 24, 64, XLLM_ISA_AVX2), XLLM_PACK_NONE);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q6_K, 32, 512, XLLM_ISA_AVX2), XLLM_PACK_Q6_KX16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q8_0, 32, 64, XLLM_ISA_AVX2), XLLM_PACK_Q8_0X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_F16, 32, 33, XLLM_ISA_AVX2), XLLM_PACK_F16X16);
    static const uint32_t no_avx2_tile[] = {XLLM_DTYPE_Q4_1, XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1,
                                            XLLM_DTYPE_IQ4_NL, XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K, XLLM_DTYPE_Q4_K,
                                            XLLM_DTYPE_Q5_K, XLLM_DTYPE_F32};
    for (size_t i = 0; i < sizeof(no_avx2_tile) / sizeof(no_avx2_tile[0]); i++)
        CHECK_EQ_INT(xllm_pack_choose(no_avx2_tile[i], 32, 512, XLLM_ISA_AVX2), XLLM_PACK_NONE);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_F32, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_NONE);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_0, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_Q4_0X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q8_0, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_Q8_0X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_K, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_NONE);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_K, 32, 512, XLLM_ISA_AVX512), XLLM_PACK_Q4_KX16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q6_K, 32, 256, XLLM_ISA_AVX512), XLLM_PACK_Q6_KX16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q5_K, 32, 256, XLLM_ISA_AVX512), XLLM_PACK_Q5_KX16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q5_K, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_NONE);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_IQ4_NL, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_IQ4_NLX16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q4_1, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_Q4_1X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q5_0, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_Q5_0X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q5_1, 32, 64, XLLM_ISA_AVX512), XLLM_PACK_Q5_1X16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q3_K, 32, 256, XLLM_ISA_AVX512), XLLM_PACK_Q3_KX16);
    CHECK_EQ_INT(xllm_pack_choose(XLLM_DTYPE_Q2_K, 32, 256, XLLM_ISA_AVX512), XLLM_PACK_Q2_KX16);
}

TEST(packed_q8x_quantizer_bit_exact)
{
    enum { N = 256 };
    static float x[N];
    static uint8_t ref[N / 32 * XLLM_Q8X_BYTES], got[N / 32 * XLLM_Q8X_BYTES];
    krng r = {5};
    krng_fill(&r, x, N, 0.7f);
    for (int i = 0; i < 32; i++)
        x[i] = 0; /* a zero block */
    for (int i = 64; i < 96; i++) /* amax 127: scale 1, exact .5 ties */
        x[i] = i % 32 == 0 ? 127.0f : (float)((i * 37) % 254 - 127) + ((i & 1) ? 0.5f : 0.0f);
    xllm_quantize_row_q8x_ref(x, ref, N);
    /* the reference is Q8_0 with a wider scale and the sum */
    xllm_block_q8_0 b8[N / 32];
    xllm_quantize_row_q8_0(x, b8, N);
    for (int b = 0; b < N / 32; b++) {
        const xllm_block_q8x *q = (const xllm_block_q8x *)ref + b;
        int32_t s = 0;
        for (int j = 0; j < 32; j++)
            s += b8[b].qs[j];
        CHECK(q->d == xllm_f16_to_f32(b8[b].d));
        CHECK_EQ_INT(q->s, s);
        CHECK(memcmp(q->qs, b8[b].qs, 32) == 0);
    }
    if (xllm_isa_supported(XLLM_ISA_AVX2)) {
        memset(got, 0x5a, sizeof(got));
        xllm_quantize_row_q8x_avx2(x, got, N);
        CHECK_MSG(memcmp(ref, got, sizeof(ref)) == 0, "avx2 Q8X quantizer differs from the reference");
    }
    if (!xllm_isa_supported(XLLM_ISA_AVX512)) {
        test_skip("CPU lacks AVX-512");
        return;
    }
    memset(got, 0x5a, sizeof(got));
    xllm_quantize_row_q8x_avx512(x, got, N);
    CHECK_MSG(memcmp(ref, got, sizeof(ref)) == 0, "avx512 Q8X quantizer differs from the reference");
}

/* Fused projections give the very floats of separate matmuls (the same
 * activations and tiles, only the split over tasks differs), also when one
 * weight cannot be packed and the call falls back to one matmul each. */
TEST(packed_fused_matmul_equals_separate)
{
    static const int64_t rows[3] = {64, 16, 32};
    /* F16 with n >= 8 and Q4_0/Q8_0 decode: the fused split may cut a
     * weight's groups where a separate run pairs them (32-row tile, pair
     * kernel); the floats must not change */
    static const struct {
        uint32_t dtype;
        int64_t n;
    } cases[] = {{XLLM_DTYPE_Q4_K, 3}, {XLLM_DTYPE_F16, 9}, {XLLM_DTYPE_F16, 16},
                 {XLLM_DTYPE_Q4_0, 1}, {XLLM_DTYPE_Q8_0, 1}, {XLLM_DTYPE_Q4_0, 5},
                 {XLLM_DTYPE_IQ4_NL, 1}, {XLLM_DTYPE_Q4_1, 1}, {XLLM_DTYPE_Q5_0, 1}, {XLLM_DTYPE_Q5_1, 3}};
    const int64_t cols = 512;
    krng r = {99};
    xllm_pool *pool;
    CHECK_OK(xllm_pool_create(2, &pool));
    for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++)
        for (int odd = 0; odd < 2; odd++) {
            const int64_t n = cases[t].n;
            uint8_t *std[3];
            xllm_weight w[3];
            float *ys[3], *yf[3], *x = malloc(sizeof(float) * (size_t)(n * cols));
            krng_fill(&r, x, n * cols, 1.0f);
            for (int k = 0; k < 3; k++) {
                int64_t rk = odd && k == 1 ? 24 : rows[k]; /* 24 rows: not packable */
                w[k] = pk_weight(cases[t].dtype, rk, cols, &std[k], &r);
                ys[k] = malloc(sizeof(float) * (size_t)(n * rk));
                yf[k] = malloc(sizeof(float) * (size_t)(n * rk));
                fill_nan(yf[k], (size_t)(n * rk));
                CHECK_OK(xllm_matmul(pool, &w[k], x, n, ys[k]));
            }
            const xllm_weight *wp[3] = {&w[0], &w[1], &w[2]};
            CHECK_OK(xllm_matmul_fused(pool, wp, 3, x, n, yf));
            for (int k = 0; k < 3; k++) {
                CHECK_MSG(memcmp(ys[k], yf[k], sizeof(float) * (size_t)(n * w[k].rows)) == 0,
                          "%s n %lld weight %d: fused differs from separate", xllm_dtype_name(cases[t].dtype),
                          (long long)n, k);
                xllm_weight_release(&w[k]);
                free(std[k]);
                free(ys[k]);
                free(yf[k]);
            }
            free(x);
        }
    xllm_pool_destroy(pool);
}
