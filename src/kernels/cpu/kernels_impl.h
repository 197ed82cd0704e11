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

/* Shared helpers of the reference quantizers. */
static inline int xllm_nearest_int(float f)
{
    /* round half away from zero, branch-free (random signs would mispredict);
     * |f| is small (< 2^22) in every caller. The SIMD quantizers match it. */
    return (int)(f + __builtin_copysignf(0.5f, f));
}

#endif
