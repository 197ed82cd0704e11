/* dtype.h - tensor element types with GGML/GGUF numbering and their block
 * geometry (elements per block, bytes per block). The numbering is the GGUF
 * standard's; files written by other tools depend on it. Kernel function tables
 * live in kernels/cpu; this header is plain data so every layer can size tensors. */
#ifndef XLLM_BASE_DTYPE_H
#define XLLM_BASE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum xllm_dtype {
    XLLM_DTYPE_F32 = 0,
    XLLM_DTYPE_F16 = 1,
    XLLM_DTYPE_Q4_0 = 2,
    XLLM_DTYPE_Q4_1 = 3,
    /* 4, 5: removed Q4_2/Q4_3 */
    XLLM_DTYPE_Q5_0 = 6,
    XLLM_DTYPE_Q5_1 = 7,
    XLLM_DTYPE_Q8_0 = 8,
    XLLM_DTYPE_Q8_1 = 9,
    XLLM_DTYPE_Q2_K = 10,
    XLLM_DTYPE_Q3_K = 11,
    XLLM_DTYPE_Q4_K = 12,
    XLLM_DTYPE_Q5_K = 13,
    XLLM_DTYPE_Q6_K = 14,
    XLLM_DTYPE_Q8_K = 15,
    XLLM_DTYPE_IQ2_XXS = 16,
    XLLM_DTYPE_IQ2_XS = 17,
    XLLM_DTYPE_IQ3_XXS = 18,
    XLLM_DTYPE_IQ1_S = 19,
    XLLM_DTYPE_IQ4_NL = 20,
    XLLM_DTYPE_IQ3_S = 21,
    XLLM_DTYPE_IQ2_S = 22,
    XLLM_DTYPE_IQ4_XS = 23,
    XLLM_DTYPE_I8 = 24,
    XLLM_DTYPE_I16 = 25,
    XLLM_DTYPE_I32 = 26,
    XLLM_DTYPE_I64 = 27,
    XLLM_DTYPE_F64 = 28,
    XLLM_DTYPE_IQ1_M = 29,
    XLLM_DTYPE_BF16 = 30,
    XLLM_DTYPE_COUNT = 31
} xllm_dtype;

typedef struct xllm_dtype_info {
    const char *name;     /* "Q4_K"; NULL for unassigned numbers */
    uint32_t block_elems; /* elements per block (1 for plain types) */
    uint32_t block_bytes; /* bytes per block; 0 when the size is unknown to us */
} xllm_dtype_info;

/* Geometry of t, or NULL if t is out of range or unassigned. */
const xllm_dtype_info *xllm_dtype_get(uint32_t t);
const char *xllm_dtype_name(uint32_t t); /* "?" when unknown */
/* Parse "q4_k", "Q8_0", "f16" ... ; returns -1 when unknown. */
int xllm_dtype_from_name(const char *name);
/* Bytes of one row of n elements; 0 if n is not a multiple of the block size
 * or the type is unknown. Sets *ok to 0 on overflow or bad input. */
uint64_t xllm_dtype_row_bytes(uint32_t t, uint64_t n, int *ok);

#endif
