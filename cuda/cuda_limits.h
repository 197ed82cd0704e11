/* cuda_limits.h - the CUDA engine's fixed sizes, shared by the host C files
 * and the kernels (no includes, plain macros). */
#ifndef XLLM_CUDA_LIMITS_H
#define XLLM_CUDA_LIMITS_H

/* Tokens a matmul handles with the weights read once (the mat-vec kernels keep
 * one accumulator per token in registers); larger batches go through cuBLAS. */
#define XC_MMV_MAX_TOKENS 8
/* Head dimensions the attention and rope kernels hold in registers (8 per lane). */
#define XC_MAX_HEAD_DIM 256

/* Narrowest padded block-table width (16 blocks = 256 positions): decode graphs
 * are captured per width, so widths are powers of two from here. */
#define XC_TABLE_MIN_WIDTH 16

/* Packed weight layouts (cuda_pack.h): dtype ids past GGUF's, only on the device. */
#define XC_T_Q4_0P 258
#define XC_T_Q8_0P 264

#endif
