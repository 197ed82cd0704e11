/* fuzz_safetensors.c - libFuzzer target: parse a safetensors buffer, then
 * walk every tensor (lookup by name, every data byte) and the metadata.
 * Build with `make fuzz`; run as tests/fuzz/README.md says. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/safetensors.h"

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xllm_st_set *s = NULL;
    if (xllm_st_open_memory(data, size, "fuzz.safetensors", &s) != XLLM_OK)
        return 0;
    for (int64_t i = 0; i < xllm_st_n_tensors(s); i++) {
        const xllm_st_tensor *t = xllm_st_tensor_at(s, i);
        const unsigned char *p = t->data;
        uint64_t sum = 0;
        if (xllm_st_find(s, t->name) != t || t->n_dims > XLLM_MAX_DIMS)
            __builtin_trap();
        for (uint64_t j = 0; j < t->nbytes; j++)
            sum += p[j];
        sink += sum + strlen(t->name) + t->dtype + t->elem_size + strlen(t->st_dtype);
    }
    for (int64_t i = 0; i < xllm_st_n_meta(s); i++) {
        const char *k = xllm_st_meta_key(s, i);
        if (xllm_st_meta_get(s, k) != xllm_st_meta_value(s, i))
            __builtin_trap();
        sink += strlen(k);
    }
    xllm_st_close(s);
    return 0;
}
