/* cuda_engine.h - the CUDA engine context: the model's weights uploaded once
 * to device memory, the paged KV pool, scratch for max_batch_tokens, and the
 * forward pass over a flat multi-sequence batch (cuda_engine.c). The ABI
 * table around it is cuda_plugin.c.
 *
 * Ownership: xc_ctx owns its container, model, device buffers, stream and
 * cuBLAS handle; xc_ctx_free releases all of them (every device byte).
 * Threading: one thread at a time per context (one stream per context). */
#ifndef XLLM_CUDA_ENGINE_H
#define XLLM_CUDA_ENGINE_H

#include <stdint.h>

#include "base/status.h"
#include "format/gguf.h"
#include "model/model.h"
#include "xllm/engine.h"

typedef struct xc_ctx xc_ctx;

/* Open path (GGUF file or Hugging Face directory) and read the model without
 * touching the GPU; g and m are the caller's (xllm_model_free, xllm_gguf_close). */
xllm_status xc_open_model(const char *path, xllm_gguf **g, xllm_model **m);

/* Load onto device p->device. Fails with XLLM_ERR_DEVICE (no driver, no GPU,
 * too old) or XLLM_ERR_OUT_OF_MEMORY with a message naming the sizes. */
xllm_status xc_ctx_create(const xllm_engine_load_params *p, xc_ctx **out);
void xc_ctx_free(xc_ctx *c);
xllm_status xc_forward(xc_ctx *c, const xllm_batch *b);
xllm_status xc_kv_copy_block(xc_ctx *c, int32_t src, int32_t dst);
const xllm_model *xc_ctx_model(const xc_ctx *c);
int32_t xc_ctx_kv_type(const xc_ctx *c);
const char *xc_ctx_error(const xc_ctx *c);

#endif
