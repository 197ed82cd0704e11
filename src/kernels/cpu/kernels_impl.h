/* kernels_impl.h - internals of the CPU kernels shared by their files and the
 * unit tests: the per-dtype traits table (reference row functions, the scalar
 * reference dot product and the tile kernel of each ISA) and the ISA ids.
 * Everything here is plain functions over caller-owned memory; all of it is
 * thread-safe (no state) except the ISA selection in kernels.c. */
#ifndef XLLM_KERNELS_CPU_KERNELS_IMPL_H
#define XLLM_KERNELS_CPU_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant_blocks.h"

typedef enum xllm_isa {
    XLLM_ISA_SCALAR = 0,
    XLLM_ISA_AVX2 = 1,
    XLLM_ISA_AVX512 = 2,
    XLLM_ISA_COUNT = 3
} xllm_isa;

/* n elements (a multiple of the block size), no checks. */
typedef void (*xllm_dequant_fn)(const void *src, float *dst, int64_t n);
typedef void (*xllm_quant_fn)(const float *src, void *dst, int64_t n);
/* Reference dot of one weight row w (n elements of the weight type) with one
 * activation row a (n elements of the traits' vec_dot_type). */
typedef float (*xllm_vec_dot_fn)(int64_t n, const void *w, const void *a);
/* Tile kernel: for r < nr, c < nc:
 *   y[c * y_stride + r] = dot(w + r * w_stride, a + c * a_stride)
 * over n elements; strides in bytes except y_stride (floats). nr, nc >= 1,
 * any size: the kernel loops over its own register tile. */
typedef void (*xllm_tile_fn)(int64_t n, const void *w, size_t w_stride, int nr,
                             const void *a, size_t a_stride, int nc, float *y, size_t y_stride);

typedef struct xllm_type_traits {
    xllm_dequant_fn dequantize_row; /* NULL: unsupported type */
    xllm_quant_fn quantize_row;     /* NULL: no quantizer */
    xllm_vec_dot_fn vec_dot;        /* NULL: no matmul for this weight type */
    uint32_t vec_dot_type;          /* activation format of vec_dot / tile */
    xllm_tile_fn tile[XLLM_ISA_COUNT]; /* NULL where an ISA has no variant */
    /* activation formats only: quantize_row per ISA, bit-identical to it */
    xllm_quant_fn quantize_act[XLLM_ISA_COUNT];
} xllm_type_traits;

/* Traits of dtype t, or NULL if t is out of range. */
const xllm_type_traits *xllm_type_traits_get(uint32_t t);
/* 1 if the running CPU can execute kernels of this ISA. */
int xllm_isa_supported(xllm_isa isa);
/* The ISA xllm_matmul uses now (initializes on first use). */
xllm_isa xllm_kernels_isa(void);
const char *xllm_isa_name(xllm_isa isa);
/* Use isa's kernels from now on (tests, benchmarks); XLLM_ERR_UNSUPPORTED
 * naming the missing feature if the CPU cannot run them. */
xllm_status xllm_kernels_set_isa(xllm_isa isa);

/* ---- reference rows (quant_ref.c, quant_k.c) ---- */
#define XLLM_REF_TYPES(X) \
    X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q8_1) \
    X(q2_k) X(q3_k) X(q4_k) X(q5_k) X(q6_k) X(q8_k) X(iq4_nl)
#define XLLM_DECLARE_REF(name)                                                  \
    void xllm_dequantize_row_##name(const void *src, float *dst, int64_t n);    \
    void xllm_quantize_row_##name(const float *src, void *dst, int64_t n);
XLLM_REF_TYPES(XLLM_DECLARE_REF)
#undef XLLM_DECLARE_REF

/* ---- reference dot products and scalar tiles (dot_ref.c), SIMD tiles
 * (dot_avx2.c, dot_avx512.c) ---- */
#define XLLM_DOT_TYPES(X) \
    X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) \
    X(q2_k) X(q3_k) X(q4_k) X(q5_k) X(q6_k) X(iq4_nl)
#define XLLM_DECLARE_DOT(name)                                                  \
    float xllm_vec_dot_##name##_ref(int64_t n, const void *w, const void *a);   \
    void xllm_tile_##name##_ref(int64_t n, const void *w, size_t ws, int nr,    \
                                const void *a, size_t as, int nc, float *y, size_t ys); \
    void xllm_tile_##name##_avx2(int64_t n, const void *w, size_t ws, int nr,   \
                                 const void *a, size_t as, int nc, float *y, size_t ys); \
    void xllm_tile_##name##_avx512(int64_t n, const void *w, size_t ws, int nr, \
                                   const void *a, size_t as, int nc, float *y, size_t ys);
XLLM_DOT_TYPES(XLLM_DECLARE_DOT)
#undef XLLM_DECLARE_DOT

/* SIMD quantizers of the activation formats (bit-identical to the reference). */
void xllm_quantize_row_q8_0_avx2(const float *src, void *dst, int64_t n);
void xllm_quantize_row_q8_0_avx512(const float *src, void *dst, int64_t n);
void xllm_quantize_row_q8_k_avx2(const float *src, void *dst, int64_t n);
void xllm_quantize_row_q8_k_avx512(const float *src, void *dst, int64_t n);

/* ---- packed weight layouts (repack.c; kernels in packed_avx512.c) ----
 * xllm_weight_prepare may replace a matrix's standard rows by a layout that
 * interleaves XLLM_PACK_ROWS rows, so one 64-byte load feeds vpdpbusd with 4
 * consecutive elements of each of 16 rows (lane j = row j) and the tile
 * writes 16 outputs with one store. On CPUs with the AVX-512 kernels every
 * layout below; with the AVX2 kernels only those that have an AVX2 tile
 * (Q4_0x16: two 32-byte halves of 8 rows). The standard rows stay the
 * reference. One group of 16 rows, nb blocks of 32 elements per row (q = the
 * row's standard qs bytes):
 *
 *   Q4_0x16   off          size     field
 *             0            nb*256   qs[nb][4][16][4]: block b, chunk c, row j,
 *                                   byte t = q_j[4c + t] (low nibble element
 *                                   4c+t, high nibble element 16+4c+t)
 *             nb*256       nb*32    d[nb][16] f16 scale of block b of row j
 *   Q8_0x16   0            nb*512   qs[nb][8][16][4]: byte t of chunk c, row j
 *                                   = q_j[4c + t] ^ 0x80 (levels made unsigned)
 *             nb*512       nb*32    d[nb][16] f16
 *   IQ4_NLx16 the Q4_0x16 bytes; a nibble indexes the IQ4_NL levels
 *   Q4_1x16   the Q4_0x16 bytes (nibbles without offset), then
 *             nb*288       nb*32    m[nb][16] f16 (x = d * q + m)
 *   Q5_0x16   the Q4_0x16 bytes (low 4 bits of the levels, offset 16), then
 *             nb*288       nb*64    qh[nb][16][4]: byte t of row j has in bit k the fifth
 *                                   bit of element 4k+t and in bit 4+k that of 16+4k+t
 *   Q5_1x16   the Q4_1x16 bytes, then qh as in Q5_0x16 at nb*320
 *
 *
 * K-quants, per super-block of 256 (nb super-blocks per row):
 *   Q4_Kx16   0            2048     qs[4 p][8 c][16][4]: byte t of row j = q_j[32p + 4c + t]
 *                                   (low nibble element 64p+4c+t, high 64p+32+4c+t)
 *             2048         128      sc[8][16] u8 6-bit scale of sub-block s (32) of row j
 *             2176         128      mn[8][16] u8 6-bit min
 *             2304         32       d[16] f16;  2336 32  dmin[16] f16   (2368 per super-block)
 *   Q5_Kx16   0            2368     the Q4_Kx16 super-block (its qs = the low 4 bits)
 *             2368         512      qh[8 c][16][4]: byte t of row j = qh_j[4c + t]; bit 2p
 *                                   adds 16 to element 64p+4c+t, bit 2p+1 to 64p+32+4c+t
 *                                   (2880 per super-block)
 *   Q6_Kx16   0            2048     ql[32 v][16][4]: low nibble = low 4 bits of level
 *                                   4v+t, high nibble = of level 128+4v+t
 *             2048         1024     qh[16 u][16][4]: top 2 bits of levels 4u+t (bits 4-5),
 *                                   64+4u+t (6-7), 128+4u+t (0-1), 192+4u+t (2-3)
 *             3072         256      sc[16][16] int8 scale of sub-block s (16) of row j
 *             (3328 per super-block; then d[nb][16] f16 after all super-blocks)
 *   Q3_Kx16   0            1024     lo[16 c][16][4]: byte t of row j = qs_j[4c + t]: bits 2k-2k+1
 *                                   = low 2 bits of level 128(c/8)+32k+4(c%8)+t (levels 0..7,
 *                                   value level - 4)
 *             1024         512      hi[8 c][16][4]: byte t of row j = hmask_j[4c + t]: bit s =
 *                                   bit 2 of level 32s+4c+t
 *             1536         256      sc[16][16] int8 scale (-32..31) of sub-block s (16) of row j
 *             (1792 per super-block; then d[nb][16] f16 after all super-blocks)
 *   Q2_Kx16   0            1024     qs as the Q3_Kx16 lo plane (levels 0..3)
 *             1024         256      sc[16][16]: the scale byte of sub-block s (16) of row j
 *                                   (low nibble scale, high nibble min)
 *             1280         32       d[16] f16;  1312 32  dmin[16] f16   (1344 per super-block)
 *
 * Float weights:
 *   F16x16    0            cols*32  w[cols][16] f16: element k of row j at 32k + 2j
 *
 * Activations of the packed kernels are f32 rows for F16x16, Q8X blocks (below) for Q4_0/Q8_0:
 * the Q8_0 quantization with its scale widened to f32 and the block sum,
 * which takes back the unsigned offset (8 or 128) of the weight levels; the
 * K-quant layouts take Q8_K (its bsums take back offsets and mins). */
#define XLLM_PACK_ROWS 16

/* Bytes of one packed super-block of 16 rows (the tables above); Q6_K and
 * Q3_K keep their d plane after all super-blocks. */
#define XLLM_Q4K_SB 2368
#define XLLM_Q5K_SB 2880
#define XLLM_Q6K_SB 3328
#define XLLM_Q3K_SB 1792
#define XLLM_Q2K_SB 1344
/* Field offsets inside those super-blocks (the tables above). */
#define XLLM_Q4K_SC 2048   /* sc[8][16] */
#define XLLM_Q4K_MN 2176   /* mn[8][16] */
#define XLLM_Q4K_D 2304    /* d[16] f16 */
#define XLLM_Q4K_DMIN 2336 /* dmin[16] f16 */
#define XLLM_Q6K_QH 2048   /* qh[16][16][4] */
#define XLLM_Q6K_SC 3072   /* sc[16][16] int8 */
#define XLLM_Q3K_HM 1024   /* hi (hmask) plane */
#define XLLM_Q3K_SC 1536   /* sc[16][16] int8 */
#define XLLM_Q2K_SC 1024   /* scale bytes [16][16] */
#define XLLM_Q2K_D 1280    /* d[16] f16 */
#define XLLM_Q2K_DMIN 1312 /* dmin[16] f16 */

typedef enum xllm_pack_format {
    XLLM_PACK_NONE = 0,
    XLLM_PACK_Q4_0X16 = 1,
    XLLM_PACK_Q8_0X16 = 2,
    XLLM_PACK_Q4_KX16 = 3,
    XLLM_PACK_Q6_KX16 = 4,
    XLLM_PACK_F16X16 = 5,
    XLLM_PACK_Q5_KX16 = 6,
    XLLM_PACK_IQ4_NLX16 = 7,
    XLLM_PACK_Q4_1X16 = 8,
    XLLM_PACK_Q5_0X16 = 9,
    XLLM_PACK_Q5_1X16 = 10,
    XLLM_PACK_Q3_KX16 = 11,
    XLLM_PACK_Q2_KX16 = 12,
    XLLM_PACK_COUNT = 13
} xllm_pack_format;

/* The header xllm_weight.packed points to (data follows it in the same
 * allocation, 64-byte aligned). */
typedef struct xllm_packed {
    uint32_t format;     /* xllm_pack_format */
    int64_t rows, cols;  /* rows a multiple of XLLM_PACK_ROWS */
    int64_t nb;          /* blocks (32) or super-blocks (256) per row */
    size_t group_bytes;  /* bytes of one group of XLLM_PACK_ROWS rows */
    uint8_t *data;       /* [rows / 16][group_bytes] */
} xllm_packed;

/* Q8X, 40 bytes, x = d * q (activation format of the packed kernels):
 *     0    4 d       f32 scale (the f16-rounded Q8_0 scale)
 *     4    4 s       int32 sum of qs
 *     8   32 qs[32]  int8, as Q8_0 */
typedef struct xllm_block_q8x {
    float d;
    int32_t s;
    int8_t qs[XLLM_QK32];
} xllm_block_q8x;
#define XLLM_Q8X_BYTES 40
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q8x) == XLLM_Q8X_BYTES, "Q8X block is 40 bytes");

/* Packed tile: y[c * y_stride + r] for rows r of groups [g0, g1) and
 * activation rows c < nc (Q8X rows a_stride bytes apart). */
typedef void (*xllm_packed_fn)(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                               int nc, float *y, size_t y_stride);

/* The layout xllm_weight_prepare would choose for a weight (XLLM_PACK_NONE:
 * keep the standard rows). */
xllm_pack_format xllm_pack_choose(uint32_t dtype, int64_t rows, int64_t cols, xllm_isa isa);
/* Bytes of one group of 16 rows of cols elements (a multiple of 64). */
size_t xllm_pack_group_bytes(xllm_pack_format f, int64_t cols);
/* Activation type of a layout's tiles: XLLM_DTYPE_F32, XLLM_DTYPE_Q8_K, or
 * XLLM_DTYPE_Q8_0 standing for Q8X. */
uint32_t xllm_pack_act_dtype(xllm_pack_format f);
/* Repack groups [g0, g1) of the standard rows src of p's shape into p->data
 * (disjoint ranges may run on different threads). */
void xllm_pack_fill(xllm_packed *p, const void *src, int64_t g0, int64_t g1);
/* The scalar reference of the repacking, and the AVX-512 one (same bytes). */
void xllm_pack_fill_ref(xllm_packed *p, const void *src, int64_t g0, int64_t g1);
void xllm_pack_fill_avx512(xllm_packed *p, const void *src, int64_t g0, int64_t g1);
/* Q8X quantizers: reference and AVX-512 (bit-identical). */
void xllm_quantize_row_q8x_ref(const float *src, void *dst, int64_t n);
void xllm_quantize_row_q8x_avx512(const float *src, void *dst, int64_t n);
void xllm_quantize_row_q8x_avx2(const float *src, void *dst, int64_t n);
/* Scalar reference of the packed tile (any format), and the AVX-512 tiles. */
void xllm_packed_tile_ref(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride, int nc,
                          float *y, size_t y_stride);
/* AVX2 (+FMA, F16C) tiles (packed_avx2.c): Q4_0x16, Q8_0x16, Q6_Kx16, F16x16 so far; on
 * AVX2 CPUs xllm_pack_choose packs only the layouts listed here. */
void xllm_packed_q4_0x16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                              int nc, float *y, size_t y_stride);
void xllm_packed_q8_0x16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                              int nc, float *y, size_t y_stride);
void xllm_packed_f16x16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                             int nc, float *y, size_t y_stride);
void xllm_packed_q6_kx16_avx2(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                              int nc, float *y, size_t y_stride);
void xllm_packed_q4_0x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q8_0x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q4_kx16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_f16x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                               int nc, float *y, size_t y_stride);
void xllm_packed_q5_kx16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_iq4_nlx16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                  int nc, float *y, size_t y_stride);
void xllm_packed_q4_1x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q5_0x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q5_1x16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q3_kx16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q2_kx16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);
void xllm_packed_q6_kx16_avx512(const xllm_packed *p, int64_t g0, int64_t g1, const uint8_t *a, size_t a_stride,
                                int nc, float *y, size_t y_stride);

/* The 32-element layouts (Q4_0x16, Q8_0x16, IQ4_NLx16, Q4_1x16, Q5_0x16,
 * Q5_1x16): the standard block's bytes and where its qs start (its qh, if
 * any, are the 4 bytes before), the packed qs bytes per block, and whether
 * planes of m and of qh follow the d plane (in that order). */
typedef struct xllm_q32_kind {
    size_t block_bytes, qs_off, qsb;
    int has_m, has_qh;
} xllm_q32_kind;

static inline xllm_q32_kind xllm_q32_kind_of(xllm_pack_format f)
{
    switch (f) {
    case XLLM_PACK_Q8_0X16: return (xllm_q32_kind){sizeof(xllm_block_q8_0), 2, 512, 0, 0};
    case XLLM_PACK_Q4_1X16: return (xllm_q32_kind){sizeof(xllm_block_q4_1), 4, 256, 1, 0};
    case XLLM_PACK_Q5_0X16: return (xllm_q32_kind){sizeof(xllm_block_q5_0), 6, 256, 0, 1};
    case XLLM_PACK_Q5_1X16: return (xllm_q32_kind){sizeof(xllm_block_q5_1), 8, 256, 1, 1};
    default: return (xllm_q32_kind){sizeof(xllm_block_q4_0), 2, 256, 0, 0}; /* Q4_0, IQ4_NL */
    }
}

/* The packed qh bytes of one row's block from its 32 fifth bits (Q5_0x16). */
static inline void xllm_q5_pack_qh(const uint8_t qh[4], uint8_t out[4])
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int t = 0; t < 4; t++) {
        uint8_t v = 0;
        for (int k = 0; k < 4; k++)
            v |= (uint8_t)(((h >> (4 * k + t)) & 1) << k | ((h >> (16 + 4 * k + t)) & 1) << (4 + k));
        out[t] = v;
    }
}

/* Q3_K: the signed scale (-32..31) of sub-block j (0..15) from the 12 packed
 * bytes, shared by the reference kernels and the repacker. */
int xllm_q3k_scale(const uint8_t *s, int j);

/* Q4_K/Q5_K: the 8 sub-blocks' 6-bit scales and mins from the 12 packed bytes
 * (quant_blocks.h), shared by the reference kernels and the repacker. */
void xllm_q4k_unpack_scales(const uint8_t *s, uint8_t *sc, uint8_t *mn);
void xllm_silu_mul_avx512(const float *g, const float *u, float *out, int64_t n);
void xllm_silu_mul_avx2(const float *g, const float *u, float *out, int64_t n);
#define XLLM_ATTN_MAX_CHUNK 64 /* keys per call of the SIMD attention step */
/* SIMD attention steps (attn_avx512.c, attn_avx2.c) over KV rows of type kv
 * (xllm_attn_fold); n <= XLLM_ATTN_MAX_CHUNK. */
void xllm_attn_fold_avx512(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                           int dv, float scale, float cap, float *m, float *l, float *acc);
void xllm_attn_fold_avx2(uint32_t kv, const float *q, const void *const *kr, const void *const *vr, int n, int dk,
                         int dv, float scale, float cap, float *m, float *l, float *acc);

/* Shared helpers of the reference quantizers. */
static inline int xllm_nearest_int(float f)
{
    /* round half away from zero, branch-free (random signs would mispredict);
     * |f| is small (< 2^22) in every caller. The SIMD quantizers match it. */
    return (int)(f + __builtin_copysignf(0.5f, f));
}

#endif
