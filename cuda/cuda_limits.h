/* cuda_limits.h - the CUDA engine's fixed sizes, shared by the host C files
 * and the kernels (no includes, plain macros). */
#ifndef XLLM_CUDA_LIMITS_H
#define XLLM_CUDA_LIMITS_H

/* Tokens a matmul handles with the weights read once (the mat-vec kernels keep
 * one accumulator per token in registers); larger batches go through cuBLAS. */
#define XC_MMV_MAX_TOKENS 8
/* Head dimensions the attention and rope kernels hold in registers (8 per lane). */
#define XC_MAX_HEAD_DIM 256

#endif
