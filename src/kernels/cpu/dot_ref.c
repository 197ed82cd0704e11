/* dot_ref.c - the scalar reference dot products: dequantize a weight block and
 * the matching activation block with the reference dequantizers and
 * accumulate in double. Deliberately the plainest formulation, so it is an
 * independent oracle for the integer SIMD kernels. Also the scalar tiles. */
#include "base/dtype.h"
#include "kernels/cpu/kernels_impl.h"

#define REF_CHUNK 256 /* elements per step; every block size divides it */

static float ref_dot(uint32_t wt, int64_t n, const void *w, const void *a)
{
    const xllm_type_traits *tw = xllm_type_traits_get(wt);
    const xllm_type_traits *ta = xllm_type_traits_get(tw->vec_dot_type);
    const xllm_dtype_info *iw = xllm_dtype_get(wt), *ia = xllm_dtype_get(tw->vec_dot_type);
    const uint8_t *pw = w, *pa = a;
    float fw[REF_CHUNK], fa[REF_CHUNK];
    double sum = 0;
    for (int64_t i = 0; i < n;) {
        /* a chunk is a whole number of blocks of both types */
        int64_t step = n - i < REF_CHUNK ? n - i : REF_CHUNK;
        if (iw->block_elems > 1 || ia->block_elems > 1) {
            uint32_t blk = iw->block_elems > ia->block_elems ? iw->block_elems : ia->block_elems;
            step = blk;
        }
        tw->dequantize_row(pw, fw, step);
        ta->dequantize_row(pa, fa, step);
        for (int64_t j = 0; j < step; j++)
            sum += (double)fw[j] * (double)fa[j];
        pw += step / iw->block_elems * iw->block_bytes;
        pa += step / ia->block_elems * ia->block_bytes;
        i += step;
    }
    return (float)sum;
}

#define DEFINE_REF(name, dt)                                                              \
    float xllm_vec_dot_##name##_ref(int64_t n, const void *w, const void *a)              \
    {                                                                                     \
        return ref_dot(dt, n, w, a);                                                      \
    }                                                                                     \
    void xllm_tile_##name##_ref(int64_t n, const void *w, size_t ws, int nr,              \
                                const void *a, size_t as, int nc, float *y, size_t ys)    \
    {                                                                                     \
        for (int c = 0; c < nc; c++)                                                      \
            for (int r = 0; r < nr; r++)                                                  \
                y[(size_t)c * ys + (size_t)r] = ref_dot(dt, n, (const uint8_t *)w + (size_t)r * ws, \
                                                        (const uint8_t *)a + (size_t)c * as);   \
    }

DEFINE_REF(f32, XLLM_DTYPE_F32)
DEFINE_REF(f16, XLLM_DTYPE_F16)
DEFINE_REF(bf16, XLLM_DTYPE_BF16)
DEFINE_REF(q4_0, XLLM_DTYPE_Q4_0)
DEFINE_REF(q4_1, XLLM_DTYPE_Q4_1)
DEFINE_REF(q5_0, XLLM_DTYPE_Q5_0)
DEFINE_REF(q5_1, XLLM_DTYPE_Q5_1)
DEFINE_REF(q8_0, XLLM_DTYPE_Q8_0)
DEFINE_REF(q2_k, XLLM_DTYPE_Q2_K)
DEFINE_REF(q3_k, XLLM_DTYPE_Q3_K)
DEFINE_REF(q4_k, XLLM_DTYPE_Q4_K)
DEFINE_REF(q5_k, XLLM_DTYPE_Q5_K)
DEFINE_REF(q6_k, XLLM_DTYPE_Q6_K)
DEFINE_REF(iq4_nl, XLLM_DTYPE_IQ4_NL)
