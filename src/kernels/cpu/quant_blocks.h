/* quant_blocks.h - byte-exact GGUF quantization block layouts, shared by the C
 * kernels and (later) the CUDA ones. Plain C89-compatible structs: no C11
 * keywords except _Static_assert, and that only behind XLLM_BLOCK_ASSERT.
 *
 * Conventions of every block: all multi-byte fields little-endian; "f16" fields
 * are IEEE half bit patterns kept as uint16_t (convert with base/fp16.h);
 * element i of a block is the i-th value of the row slice the block covers.
 * Sizes are asserted against the dtype table (base/dtype.c). Pure data: no
 * ownership, no threading concerns. */
#ifndef XLLM_KERNELS_CPU_QUANT_BLOCKS_H
#define XLLM_KERNELS_CPU_QUANT_BLOCKS_H

#include <stdint.h>

#define XLLM_QK32 32  /* elements per block of the legacy types and IQ4_NL */
#define XLLM_QK_K 256 /* elements per K-quant super-block */
#define XLLM_K_SCALE_BYTES 12

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
#define XLLM_BLOCK_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#define XLLM_BLOCK_ASSERT(cond, msg)
#endif

/* Q4_0, 18 bytes, x = d * (q - 8):
 *   off size field
 *     0    2 d       f16 scale
 *     2   16 qs[16]  element j: low nibble of qs[j]; element j+16: high nibble */
typedef struct xllm_block_q4_0 {
    uint16_t d;
    uint8_t qs[XLLM_QK32 / 2];
} xllm_block_q4_0;

/* Q4_1, 20 bytes, x = d * q + m:
 *     0    2 d       f16 scale
 *     2    2 m       f16 minimum
 *     4   16 qs[16]  nibbles as in Q4_0 */
typedef struct xllm_block_q4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[XLLM_QK32 / 2];
} xllm_block_q4_1;

/* Q5_0, 22 bytes, x = d * (q - 16), q = nibble | high bit << 4:
 *     0    2 d       f16 scale
 *     2    4 qh[4]   32-bit LE word; bit i = 5th bit of element i
 *     6   16 qs[16]  low nibbles as in Q4_0 */
typedef struct xllm_block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[XLLM_QK32 / 2];
} xllm_block_q5_0;

/* Q5_1, 24 bytes, x = d * q + m:
 *     0    2 d       f16 scale
 *     2    2 m       f16 minimum
 *     4    4 qh[4]   as Q5_0
 *     8   16 qs[16]  as Q5_0 */
typedef struct xllm_block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[XLLM_QK32 / 2];
} xllm_block_q5_1;

/* Q8_0, 34 bytes, x = d * q:
 *     0    2 d       f16 scale
 *     2   32 qs[32]  int8 */
typedef struct xllm_block_q8_0 {
    uint16_t d;
    int8_t qs[XLLM_QK32];
} xllm_block_q8_0;

/* Q8_1, 36 bytes, x = d * q (activation format):
 *     0    2 d       f16 scale
 *     2    2 s       f16, d * sum(qs)
 *     4   32 qs[32]  int8 */
typedef struct xllm_block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[XLLM_QK32];
} xllm_block_q8_1;

/* Q2_K, 84 bytes, 16 sub-blocks of 16; sub-block j = elements 16j..16j+15:
 *   x = d * (scales[j] & 15) * q - dmin * (scales[j] >> 4), q in 0..3
 *     0   16 scales[16]  low nibble scale, high nibble min, per sub-block
 *    16   64 qs[64]      2-bit q; element 128h + 32s + l (h 0..1, s 0..3,
 *                        l 0..31) is bits 2s..2s+1 of qs[32h + l]
 *    80    2 d           f16 scale of scales
 *    82    2 dmin        f16 scale of mins */
typedef struct xllm_block_q2_k {
    uint8_t scales[XLLM_QK_K / 16];
    uint8_t qs[XLLM_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} xllm_block_q2_k;

/* Q3_K, 110 bytes, 16 sub-blocks of 16:
 *   x = d * (sc[j] - 32) * (q - 4), q = low 2 bits | hmask bit << 2 (0..7)
 *     0   32 hmask[32]   high bit of element 128h + 32s + l is bit 4h + s of
 *                        hmask[l]
 *    32   64 qs[64]      low 2 bits, arranged as Q2_K's qs
 *    96   12 scales[12]  16 6-bit scales: low 4 bits of sc[j] are
 *                        scales[j] & 15 (j < 8) or scales[j-8] >> 4 (j >= 8);
 *                        high 2 bits are (scales[8 + j%4] >> 2*(j/4)) & 3
 *   108    2 d           f16 scale of scales */
typedef struct xllm_block_q3_k {
    uint8_t hmask[XLLM_QK_K / 8];
    uint8_t qs[XLLM_QK_K / 4];
    uint8_t scales[XLLM_K_SCALE_BYTES];
    uint16_t d;
} xllm_block_q3_k;

/* Q4_K, 144 bytes, 8 sub-blocks of 32:
 *   x = d * sc[j] * q - dmin * mn[j], q in 0..15
 *     0    2 d           f16 scale of scales
 *     2    2 dmin        f16 scale of mins
 *     4   12 scales[12]  6-bit sc/mn: j < 4: sc = s[j] & 63, mn = s[j+4] & 63;
 *                        j >= 4: sc = (s[j+4] & 15) | (s[j-4] >> 6) << 4,
 *                                mn = (s[j+4] >> 4) | (s[j] >> 6) << 4
 *    16  128 qs[128]     element 64p + l (p 0..3, l 0..31): low nibble of
 *                        qs[32p + l]; element 64p + 32 + l: its high nibble */
typedef struct xllm_block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[XLLM_K_SCALE_BYTES];
    uint8_t qs[XLLM_QK_K / 2];
} xllm_block_q4_k;

/* Q5_K, 176 bytes, as Q4_K with a 5th bit, q in 0..31:
 *     0    2 d
 *     2    2 dmin
 *     4   12 scales[12]  as Q4_K
 *    16   32 qh[32]      5th bit of element 32k + l is bit k of qh[l]
 *    48  128 qs[128]     low nibbles as Q4_K */
typedef struct xllm_block_q5_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[XLLM_K_SCALE_BYTES];
    uint8_t qh[XLLM_QK_K / 8];
    uint8_t qs[XLLM_QK_K / 2];
} xllm_block_q5_k;

/* Q6_K, 210 bytes, 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q 0..63
 *     0  128 ql[128]     low 4 bits: element 128h + 32s + l (s 0..3) uses
 *                        ql[64h + l + 32*(s&1)], low nibble if s < 2 else high
 *   128   64 qh[64]      high 2 bits: bits 2s..2s+1 of qh[32h + l]
 *   192   16 scales[16]  int8 sub-block scales
 *   208    2 d           f16 scale of scales */
typedef struct xllm_block_q6_k {
    uint8_t ql[XLLM_QK_K / 2];
    uint8_t qh[XLLM_QK_K / 4];
    int8_t scales[XLLM_QK_K / 16];
    uint16_t d;
} xllm_block_q6_k;

/* Q8_K, 292 bytes, x = d * q (activation format of the K-quants):
 *     0    4 d           f32 scale
 *     4  256 qs[256]     int8
 *   260   32 bsums[16]   int16, sum of qs[16j..16j+15] */
typedef struct xllm_block_q8_k {
    float d;
    int8_t qs[XLLM_QK_K];
    int16_t bsums[XLLM_QK_K / 16];
} xllm_block_q8_k;

/* IQ4_NL, 18 bytes, x = d * xllm_iq4nl_values[q]:
 *     0    2 d       f16 scale
 *     2   16 qs[16]  4-bit table indices, nibbles as Q4_0 */
typedef struct xllm_block_iq4_nl {
    uint16_t d;
    uint8_t qs[XLLM_QK32 / 2];
} xllm_block_iq4_nl;

/* The 16 non-linear levels of IQ4_NL (and IQ4_XS). */
#define XLLM_IQ4NL_VALUES {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

XLLM_BLOCK_ASSERT(sizeof(xllm_block_q4_0) == 18, "Q4_0 block is 18 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q4_1) == 20, "Q4_1 block is 20 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q5_0) == 22, "Q5_0 block is 22 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q5_1) == 24, "Q5_1 block is 24 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q8_0) == 34, "Q8_0 block is 34 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q8_1) == 36, "Q8_1 block is 36 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q2_k) == 84, "Q2_K block is 84 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q3_k) == 110, "Q3_K block is 110 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q4_k) == 144, "Q4_K block is 144 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q5_k) == 176, "Q5_K block is 176 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q6_k) == 210, "Q6_K block is 210 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_q8_k) == 292, "Q8_K block is 292 bytes");
XLLM_BLOCK_ASSERT(sizeof(xllm_block_iq4_nl) == 18, "IQ4_NL block is 18 bytes");

#endif
