/* cuda_plugin.c - the CUDA engine behind the engine ABI table
 * (include/xllm/engine.h): the one exported symbol, memory planning without a
 * GPU, and the coarse status mapping. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cuda_engine.h"
#include "cuda_plan.h"

#define XC_VERSION "0.1.0"

/* xllm_status -> engine status (the host's table is not linked in). */
static int status_from(xllm_status st)
{
    switch (st) {
    case XLLM_OK: return XLLM_ENGINE_OK;
    case XLLM_ERR_INVALID_ARGUMENT:
    case XLLM_ERR_FORMAT:
    case XLLM_ERR_LIMIT: return XLLM_ENGINE_INVALID_ARGUMENT;
    case XLLM_ERR_UNSUPPORTED: return XLLM_ENGINE_UNSUPPORTED;
    case XLLM_ERR_OUT_OF_MEMORY: return XLLM_ENGINE_OUT_OF_MEMORY;
    case XLLM_ERR_IO:
    case XLLM_ERR_NOT_FOUND: return XLLM_ENGINE_IO_ERROR;
    case XLLM_ERR_DEVICE: return XLLM_ENGINE_DEVICE_ERROR;
    case XLLM_ERR_CANCELLED: return XLLM_ENGINE_CANCELLED;
    case XLLM_ERR_TIMEOUT: return XLLM_ENGINE_TIMEOUT;
    case XLLM_ERR_ABI_MISMATCH: return XLLM_ENGINE_ABI_MISMATCH;
    default: return XLLM_ENGINE_INTERNAL;
    }
}

static int cuda_memory_required(const xllm_engine_load_params *p, xllm_engine_memory *out)
{
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    xc_sizes sz;
    xllm_status st;
    int32_t kv = XLLM_KV_F16;
    if (!p || p->struct_size < offsetof(xllm_engine_load_params, n_threads) || !p->model_path || !out ||
        out->struct_size < sizeof *out)
        return status_from(xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cuda engine: memory_required needs params and output"));
    if (p->struct_size >= offsetof(xllm_engine_load_params, kv_type) + sizeof(int32_t))
        kv = p->kv_type;
    if ((st = xc_open_model(p->model_path, &g, &m)) != XLLM_OK)
        return status_from(st);
    if ((st = xc_model_check(&m->hp, p->model_path)) == XLLM_OK &&
        (st = xc_plan_sizes(m, p->n_blocks, p->max_batch_tokens > 0 ? p->max_batch_tokens : 512, kv, &sz)) ==
            XLLM_OK) {
        out->weight_bytes = sz.weight_bytes;
        out->kv_bytes = sz.kv_bytes;
        out->scratch_bytes = sz.scratch_bytes;
        out->total_bytes = sz.weight_bytes + sz.kv_bytes + sz.scratch_bytes;
    }
    xllm_model_free(m);
    xllm_gguf_close(g);
    return status_from(st);
}

static int cuda_load(const xllm_engine_load_params *p, xllm_engine_ctx **out)
{
    xc_ctx *c = NULL;
    xllm_status st;
    if (!out)
        return XLLM_ENGINE_INVALID_ARGUMENT;
    *out = NULL;
    st = xc_ctx_create(p, &c);
    *out = (xllm_engine_ctx *)c;
    return status_from(st);
}

static void cuda_free(xllm_engine_ctx *e) { xc_ctx_free((xc_ctx *)e); }

static int cuda_forward(xllm_engine_ctx *e, const xllm_batch *b)
{
    return e ? status_from(xc_forward((xc_ctx *)e, b)) : XLLM_ENGINE_INVALID_ARGUMENT;
}

static const char *cuda_last_error(xllm_engine_ctx *e) { return e ? xc_ctx_error((xc_ctx *)e) : xllm_last_error(); }

static int cuda_model_info(xllm_engine_ctx *e, xllm_engine_model_info *out)
{
    const xllm_hparams *hp;
    if (!e || !out || out->struct_size < offsetof(xllm_engine_model_info, kv_types))
        return XLLM_ENGINE_INVALID_ARGUMENT;
    hp = &xc_ctx_model((xc_ctx *)e)->hp;
    out->n_vocab = hp->n_vocab;
    out->n_embd = hp->n_embd;
    out->n_layer = hp->n_layer;
    out->n_ctx_train = hp->n_ctx_train;
    out->block_size = XLLM_KV_BLOCK_SIZE;
    out->is_encoder = 0;
    out->pooling = 0;
    snprintf(out->arch, sizeof out->arch, "%s", hp->arch->name);
    if (out->struct_size >= sizeof *out) {
        out->kv_types = xc_kv_types();
        out->kv_type = xc_ctx_kv_type((xc_ctx *)e);
    }
    return XLLM_ENGINE_OK;
}

static int cuda_kv_copy_block(xllm_engine_ctx *e, int32_t src, int32_t dst)
{
    return e ? status_from(xc_kv_copy_block((xc_ctx *)e, src, dst)) : XLLM_ENGINE_INVALID_ARGUMENT;
}

static const xllm_engine_api cuda_api = {
    XLLM_ENGINE_ABI_VERSION,
    sizeof(xllm_engine_api),
    "cuda",
    XC_VERSION,
    cuda_memory_required,
    cuda_load,
    cuda_free,
    cuda_forward,
    cuda_last_error,
    cuda_model_info,
    cuda_kv_copy_block,
};

__attribute__((visibility("default"))) const xllm_engine_api *xllm_engine_entry(uint32_t host_abi_version)
{
    return host_abi_version == XLLM_ENGINE_ABI_VERSION ? &cuda_api : NULL;
}
