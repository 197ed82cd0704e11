/* details.h - the "details" Ollama reports per model in /api/tags and
 * /api/show (format, family, families, parameter_size like "8.0B",
 * quantization_level like "Q4_K_M"): from the config blob when it has them
 * (pulled Ollama models), else read from the GGUF's metadata and tensors
 * (created and Hugging Face models; a safetensors model reports format
 * "safetensors" and the family from config.json). Plain values; no
 * ownership or threading rules. */
#ifndef XLLM_STORE_DETAILS_H
#define XLLM_STORE_DETAILS_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "store/store.h"

typedef struct xllm_model_details {
    char format[16];
    char family[64];
    char parameter_size[32];
    char quantization_level[32];
} xllm_model_details;

/* Ollama's format.HumanNumber: "8B", "8.1B", "494.03M", "12K", "999". */
void xllm_human_number(uint64_t n, char *buf, size_t cap);
/* llama.cpp's general.file_type number as Ollama names it ("Q4_K_M"), or NULL. */
const char *xllm_file_type_name(uint32_t ftype);

/* Details of a GGUF file. */
xllm_status xllm_gguf_details(const char *path, xllm_model_details *d);
/* Details of a resolved model (config blob first, then its files). */
xllm_status xllm_model_ref_details(const xllm_model_ref *r, xllm_model_details *d);

#endif
