/* test_cuda_pack.c - the CUDA engine's upload packing (cuda/cuda_pack.c):
 * which types and widths are packed, and every quant byte and scale of a
 * packed Q4_0 / Q8_0 row at the position the kernels read it from, checked
 * against the GGUF block layout element by element (a tail group of fewer
 * than 32 sub-blocks included). */
#include <string.h>

#include "../test.h"
#include "base/dtype.h"
#include "cuda_limits.h"
#include "cuda_pack.h"

/* Where the kernels read quant byte i (0..qbytes) and the scale of sub-block s. */
static size_t quant_at(int64_t nsub, int qbytes, int64_t s, int i)
{
    int64_t g0 = s / 32 * 32, n = nsub - g0 < 32 ? nsub - g0 : 32;
    int nchunk = qbytes / 16, k = i / 16;
    return (size_t)((g0 * nchunk + k * n + (s - g0)) * 16 + i % 16);
}

static void check_pack(uint32_t dtype, int qbytes, int64_t cols)
{
    int64_t nsub = cols / 32, rows = 3;
    int block = 2 + qbytes;
    size_t rb = (size_t)(nsub * block);
    static uint8_t src[3 * 40 * 34], dst[3 * 40 * 34];
    int bad = 0;
    for (size_t i = 0; i < rb * (size_t)rows; i++)
        src[i] = (uint8_t)(i * 131u + 7u);
    memset(dst, 0xee, sizeof dst);
    xc_pack_rows(dtype, src, rows, cols, dst);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t s = 0; s < nsub; s++) {
            const uint8_t *b = src + r * (int64_t)rb + s * block, *row = dst + r * (int64_t)rb;
            bad += memcmp(row + nsub * qbytes + 2 * s, b, 2) != 0;
            for (int i = 0; i < qbytes; i++)
                bad += row[quant_at(nsub, qbytes, s, i)] != b[2 + i];
        }
    CHECK_EQ_INT(bad, 0);
}

TEST(cuda_pack_layouts)
{
    CHECK_EQ_INT((int)xc_pack_dtype(XLLM_DTYPE_Q4_0, 4096), XC_T_Q4_0P);
    CHECK_EQ_INT((int)xc_pack_dtype(XLLM_DTYPE_Q8_0, 5632), XC_T_Q8_0P);
    CHECK_EQ_INT((int)xc_pack_dtype(XLLM_DTYPE_Q8_0, 32 * 12), XLLM_DTYPE_Q8_0); /* rows not 16-byte aligned */
    CHECK_EQ_INT((int)xc_pack_dtype(XLLM_DTYPE_Q4_K, 4096), XLLM_DTYPE_Q4_K);
    CHECK_EQ_INT((int)xc_pack_dtype(XLLM_DTYPE_F16, 4096), XLLM_DTYPE_F16);
    CHECK_EQ_INT((int)xc_pack_base(XC_T_Q4_0P), XLLM_DTYPE_Q4_0);
    CHECK_EQ_INT((int)xc_pack_base(XC_T_Q8_0P), XLLM_DTYPE_Q8_0);
    CHECK_EQ_INT((int)xc_pack_base(XLLM_DTYPE_Q6_K), XLLM_DTYPE_Q6_K);
    check_pack(XLLM_DTYPE_Q4_0, 16, 32 * 40); /* one full group of 32 sub-blocks, a tail of 8 */
    check_pack(XLLM_DTYPE_Q8_0, 32, 32 * 40);
    check_pack(XLLM_DTYPE_Q8_0, 32, 32 * 8);
}
