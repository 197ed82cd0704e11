/* cuda_pack.h - the packed row layouts the decode mat-vec kernels stream with
 * 16-byte coalesced loads, made on the host at upload (GPU-free C, so the unit
 * tests check them without a GPU).
 *
 * A packed row keeps the GGUF row's size. Q4_0 → XC_T_Q4_0P: the 16 quant
 * bytes of every 32-element sub-block back to back, then the f16 scales.
 * Q8_0 → XC_T_Q8_0P: the 32 quant bytes of each sub-block as two 16-byte
 * chunks, stored chunk-major within groups of 32 sub-blocks (group g of n
 * sub-blocks: chunk k of sub-block j at (32 g * 2 + k n + j) * 16), then the
 * scales. So lane j of a warp reading sub-block 32 g + j touches one 512-byte
 * span per load. Threading: pure functions. */
#ifndef XLLM_CUDA_PACK_H
#define XLLM_CUDA_PACK_H

#include <stdint.h>

/* The packed dtype id a matrix of this GGUF dtype and width is uploaded as,
 * or dtype itself when it stays in the GGUF layout (other types; rows whose
 * packed start would not be 16-byte aligned). */
uint32_t xc_pack_dtype(uint32_t dtype, int64_t cols);

/* dst (rows * row bytes) = the packed form of src (GGUF rows of dtype).
 * Only for dtypes where xc_pack_dtype(dtype, cols) != dtype. */
void xc_pack_rows(uint32_t dtype, const uint8_t *src, int64_t rows, int64_t cols, uint8_t *dst);

/* The GGUF dtype a (possibly packed) dtype id stores. */
uint32_t xc_pack_base(uint32_t dtype);

#endif
