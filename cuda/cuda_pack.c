/* cuda_pack.c - host-side repacking of Q4_0 / Q8_0 rows into the layouts the
 * CUDA mat-vec kernels read with 16-byte coalesced loads (cuda_pack.h). */
#include "cuda_pack.h"

#include <string.h>

#include "base/dtype.h"
#include "cuda_limits.h"

uint32_t xc_pack_dtype(uint32_t dtype, int64_t cols)
{
    int64_t nsub = cols / 32;
    if (cols % 32 || nsub % 8) /* packed rows of nsub * 18 or 34 bytes: 16-byte aligned when nsub % 8 == 0 */
        return dtype;
    if (dtype == XLLM_DTYPE_Q4_0)
        return XC_T_Q4_0P;
    if (dtype == XLLM_DTYPE_Q8_0)
        return XC_T_Q8_0P;
    return dtype;
}

uint32_t xc_pack_base(uint32_t dtype)
{
    if (dtype == XC_T_Q4_0P)
        return XLLM_DTYPE_Q4_0;
    if (dtype == XC_T_Q8_0P)
        return XLLM_DTYPE_Q8_0;
    return dtype;
}

/* One row: quants chunk-major in groups of 32 sub-blocks, then the scales. */
static void pack_row(const uint8_t *src, int64_t nsub, int qbytes, uint8_t *dst)
{
    int nchunk = qbytes / 16, block = 2 + qbytes;
    uint8_t *scales = dst + nsub * qbytes;
    for (int64_t s = 0; s < nsub; s++) {
        const uint8_t *b = src + s * block;
        int64_t g0 = s / 32 * 32, n = nsub - g0 < 32 ? nsub - g0 : 32, j = s - g0;
        memcpy(scales + 2 * s, b, 2);
        for (int k = 0; k < nchunk; k++)
            memcpy(dst + (g0 * nchunk + k * n + j) * 16, b + 2 + 16 * k, 16);
    }
}

void xc_pack_rows(uint32_t dtype, const uint8_t *src, int64_t rows, int64_t cols, uint8_t *dst)
{
    int64_t nsub = cols / 32;
    int qbytes = dtype == XLLM_DTYPE_Q8_0 ? 32 : 16, block = 2 + qbytes;
    for (int64_t r = 0; r < rows; r++)
        pack_row(src + r * nsub * block, nsub, qbytes, dst + r * nsub * block);
}
