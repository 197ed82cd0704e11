/* dtype.c - the block geometry table of every GGUF tensor type. */
#include "base/dtype.h"

#include <strings.h>

static const xllm_dtype_info infos[XLLM_DTYPE_COUNT] = {
    [XLLM_DTYPE_F32] = {"F32", 1, 4},
    [XLLM_DTYPE_F16] = {"F16", 1, 2},
    [XLLM_DTYPE_Q4_0] = {"Q4_0", 32, 18},
    [XLLM_DTYPE_Q4_1] = {"Q4_1", 32, 20},
    [XLLM_DTYPE_Q5_0] = {"Q5_0", 32, 22},
    [XLLM_DTYPE_Q5_1] = {"Q5_1", 32, 24},
    [XLLM_DTYPE_Q8_0] = {"Q8_0", 32, 34},
    [XLLM_DTYPE_Q8_1] = {"Q8_1", 32, 36},
    [XLLM_DTYPE_Q2_K] = {"Q2_K", 256, 84},
    [XLLM_DTYPE_Q3_K] = {"Q3_K", 256, 110},
    [XLLM_DTYPE_Q4_K] = {"Q4_K", 256, 144},
    [XLLM_DTYPE_Q5_K] = {"Q5_K", 256, 176},
    [XLLM_DTYPE_Q6_K] = {"Q6_K", 256, 210},
    [XLLM_DTYPE_Q8_K] = {"Q8_K", 256, 292},
    [XLLM_DTYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [XLLM_DTYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [XLLM_DTYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [XLLM_DTYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [XLLM_DTYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [XLLM_DTYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [XLLM_DTYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [XLLM_DTYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [XLLM_DTYPE_I8] = {"I8", 1, 1},
    [XLLM_DTYPE_I16] = {"I16", 1, 2},
    [XLLM_DTYPE_I32] = {"I32", 1, 4},
    [XLLM_DTYPE_I64] = {"I64", 1, 8},
    [XLLM_DTYPE_F64] = {"F64", 1, 8},
    [XLLM_DTYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [XLLM_DTYPE_BF16] = {"BF16", 1, 2},
};

const xllm_dtype_info *xllm_dtype_get(uint32_t t)
{
    if (t >= XLLM_DTYPE_COUNT || !infos[t].name)
        return NULL;
    return &infos[t];
}

const char *xllm_dtype_name(uint32_t t)
{
    const xllm_dtype_info *i = xllm_dtype_get(t);
    return i ? i->name : "?";
}

int xllm_dtype_from_name(const char *name)
{
    for (int t = 0; t < XLLM_DTYPE_COUNT; t++)
        if (infos[t].name && !strcasecmp(infos[t].name, name))
            return t;
    return -1;
}

uint64_t xllm_dtype_row_bytes(uint32_t t, uint64_t n, int *ok)
{
    const xllm_dtype_info *i = xllm_dtype_get(t);
    *ok = 0;
    if (!i || !i->block_bytes || n % i->block_elems)
        return 0;
    if (n / i->block_elems > UINT64_MAX / i->block_bytes)
        return 0;
    *ok = 1;
    return n / i->block_elems * i->block_bytes;
}
