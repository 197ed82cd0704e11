/* cpu_plugin.c - the built-in CPU engine behind the engine ABI table
 * (include/xllm/engine.h): opens the model file itself (GGUF file or Hugging
 * Face directory), loads it, and maps statuses to the coarse ABI codes. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "engine/cpu_engine.h"
#include "engine/engine_host.h"
#include "model/hf.h"
#include "model/model.h"

struct xllm_engine_ctx {
    xllm_gguf *g;
    xllm_model *m;
    xllm_cpu_ctx *c;
    char error[XLLM_MAX_ERROR_MESSAGE];
};

/* Fields of p the caller's struct_size covers, over defaults. */
static xllm_status read_params(const xllm_engine_load_params *p, xllm_engine_load_params *q)
{
    memset(q, 0, sizeof *q);
    q->n_threads = 0;
    q->pooling = -1;
    q->normalize = 1;
    q->max_batch_tokens = 512;
    q->kv_type = XLLM_KV_F16; /* callers built before kv_type existed */
    if (!p || p->struct_size < offsetof(xllm_engine_load_params, n_threads) + sizeof(int32_t))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cpu engine: load params missing or too old");
    memcpy(q, p, p->struct_size < sizeof *q ? p->struct_size : sizeof *q);
    if (!q->model_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cpu engine: no model_path");
    if (q->kv_type < 0 || q->kv_type >= XLLM_KV_TYPE_COUNT)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "cpu engine: KV type %d is not one of f16 (0), q8_0 (1), f32 (2)",
                         q->kv_type);
    return XLLM_OK;
}

static xllm_status open_container(const char *path, xllm_gguf **g)
{
    return xllm_is_dir(path) ? xllm_hf_open(path, g) : xllm_gguf_open(path, g);
}

static xllm_cpu_params cpu_params(const xllm_engine_load_params *q)
{
    xllm_cpu_params cp = xllm_cpu_params_default();
    cp.n_blocks = q->n_blocks;
    cp.max_batch_tokens = q->max_batch_tokens;
    cp.n_threads = q->n_threads;
    cp.pooling = q->pooling;
    cp.normalize = q->normalize;
    cp.kv_type = q->kv_type;
    return cp;
}

static int cpu_memory_required(const xllm_engine_load_params *p, xllm_engine_memory *out)
{
    xllm_engine_load_params q;
    xllm_gguf *g = NULL;
    xllm_hparams hp;
    xllm_cpu_params cp;
    xllm_status st;
    uint64_t w = 0, kv = 0, scratch = 0;
    if ((st = read_params(p, &q)) != XLLM_OK || (st = open_container(q.model_path, &g)) != XLLM_OK)
        return xllm_engine_status_from(st);
    if ((st = xllm_hparams_read(g, &hp)) == XLLM_OK && (st = xllm_model_memory_required(g, &w)) == XLLM_OK) {
        cp = cpu_params(&q);
        xllm_cpu_memory_required(&hp, &cp, &kv, &scratch);
        if (out && out->struct_size >= sizeof *out) {
            out->weight_bytes = w;
            out->kv_bytes = kv;
            out->scratch_bytes = scratch;
            out->total_bytes = w + kv + scratch;
        } else {
            st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cpu engine: memory_required needs an xllm_engine_memory");
        }
    }
    xllm_gguf_close(g);
    return xllm_engine_status_from(st);
}

static void cpu_free(xllm_engine_ctx *e)
{
    if (!e)
        return;
    xllm_cpu_ctx_free(e->c);
    xllm_model_free(e->m);
    xllm_gguf_close(e->g);
    xllm_free(e);
}

static int cpu_load(const xllm_engine_load_params *p, xllm_engine_ctx **out)
{
    xllm_engine_load_params q;
    xllm_model_params mp = {1};
    xllm_cpu_params cp;
    xllm_engine_ctx *e = NULL;
    xllm_status st;
    if (!out)
        return XLLM_ENGINE_INVALID_ARGUMENT;
    *out = NULL;
    if ((st = read_params(p, &q)) != XLLM_OK)
        return xllm_engine_status_from(st);
    if (!(e = xllm_calloc(1, sizeof *e)))
        return xllm_engine_status_from(xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cpu engine context"));
    cp = cpu_params(&q);
    if ((st = open_container(q.model_path, &e->g)) != XLLM_OK || (st = xllm_model_load(e->g, &mp, &e->m)) != XLLM_OK ||
        (st = xllm_cpu_ctx_create(e->m, &cp, &e->c)) != XLLM_OK) {
        cpu_free(e);
        return xllm_engine_status_from(st);
    }
    *out = e;
    return XLLM_ENGINE_OK;
}

static int cpu_forward(xllm_engine_ctx *e, const xllm_batch *b)
{
    xllm_status st;
    if (!e)
        return XLLM_ENGINE_INVALID_ARGUMENT;
    st = xllm_cpu_forward(e->c, b);
    if (st != XLLM_OK)
        snprintf(e->error, sizeof e->error, "%s", xllm_last_error());
    return xllm_engine_status_from(st);
}

static const char *cpu_last_error(xllm_engine_ctx *e) { return e ? e->error : xllm_last_error(); }

static int cpu_model_info(xllm_engine_ctx *e, xllm_engine_model_info *out)
{
    const xllm_hparams *hp;
    if (!e || !out || out->struct_size < sizeof *out)
        return XLLM_ENGINE_INVALID_ARGUMENT;
    hp = &e->m->hp;
    out->n_vocab = hp->n_vocab;
    out->n_embd = hp->n_embd;
    out->n_layer = hp->n_layer;
    out->n_ctx_train = hp->n_ctx_train;
    out->block_size = XLLM_KV_BLOCK_SIZE;
    out->is_encoder = xllm_model_is_encoder(e->m);
    out->pooling = (int32_t)xllm_cpu_ctx_pooling(e->c);
    snprintf(out->arch, sizeof out->arch, "%s", hp->arch->name);
    out->kv_types = 1u << XLLM_KV_F16 | 1u << XLLM_KV_Q8_0 | 1u << XLLM_KV_F32;
    out->kv_type = xllm_cpu_ctx_kv_type(e->c);
    return XLLM_ENGINE_OK;
}

static int cpu_kv_copy_block(xllm_engine_ctx *e, int32_t src, int32_t dst)
{
    xllm_status st;
    if (!e)
        return XLLM_ENGINE_INVALID_ARGUMENT;
    st = xllm_cpu_kv_copy_block(e->c, src, dst);
    if (st != XLLM_OK)
        snprintf(e->error, sizeof e->error, "%s", xllm_last_error());
    return xllm_engine_status_from(st);
}

static const xllm_engine_api cpu_api = {
    XLLM_ENGINE_ABI_VERSION,
    sizeof(xllm_engine_api),
    "cpu",
    "0.1.0",
    cpu_memory_required,
    cpu_load,
    cpu_free,
    cpu_forward,
    cpu_last_error,
    cpu_model_info,
    cpu_kv_copy_block,
};

const xllm_engine_api *xllm_engine_cpu_api(void) { return &cpu_api; }
