/* instance.c - opening a model instance: engine, KV pool sizing, tokenizer,
 * scheduler. */
#include "runtime/instance.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/sysinfo.h"
#include "model/hf.h"
#include "model/model.h"

xllm_instance_params xllm_instance_params_default(void)
{
    xllm_instance_params p;
    memset(&p, 0, sizeof p);
    p.kv_type = XLLM_KV_F16;
    p.sched = xllm_sched_params_default();
    return p;
}

static xllm_engine_load_params load_params(const xllm_instance_params *p, int32_t device, int32_t n_blocks,
                                           int32_t max_batch)
{
    xllm_engine_load_params lp;
    memset(&lp, 0, sizeof lp);
    lp.struct_size = sizeof lp;
    lp.model_path = p->model_path;
    lp.n_blocks = n_blocks;
    lp.max_batch_tokens = max_batch;
    lp.n_threads = p->n_threads;
    lp.device = device;
    lp.pooling = -1;
    lp.normalize = 1;
    lp.kv_type = p->kv_type;
    return lp;
}

static xllm_status engine_status(const xllm_engine *e, int rc, const char *what)
{
    return xllm_fail(xllm_engine_status_to(rc), "%s: %s", what, e->api->last_error(NULL));
}

/* Blocks for the pool: explicit count, bytes, or max_running full contexts
 * capped at a quarter of the memory available now. */
static xllm_status size_pool(xllm_instance *in, const xllm_instance_params *p, int32_t n_ctx)
{
    xllm_engine_load_params lp;
    xllm_engine_memory m1 = {sizeof m1, 0, 0, 0, 0}, m2 = {sizeof m2, 0, 0, 0, 0};
    int64_t want, cap;
    int rc;
    lp = load_params(p, in->device, 1, in->max_batch_tokens);
    if ((rc = in->engine->api->memory_required(&lp, &m1)) != XLLM_ENGINE_OK)
        return engine_status(in->engine, rc, p->model_path);
    lp.n_blocks = 2;
    if ((rc = in->engine->api->memory_required(&lp, &m2)) != XLLM_ENGINE_OK)
        return engine_status(in->engine, rc, p->model_path);
    in->kv_block_bytes = m2.kv_bytes > m1.kv_bytes ? m2.kv_bytes - m1.kv_bytes : 1;
    if (p->kv_blocks > 0) {
        in->n_blocks = p->kv_blocks;
    } else if (p->kv_mem > 0) {
        in->n_blocks = (int32_t)(p->kv_mem / (int64_t)in->kv_block_bytes);
    } else {
        want = (int64_t)p->sched.max_running * ((n_ctx + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE);
        cap = (int64_t)(xllm_available_ram_bytes() / 4 / in->kv_block_bytes);
        in->n_blocks = (int32_t)(want < cap || cap <= 0 ? want : cap);
    }
    if (in->n_blocks < (n_ctx + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE && p->kv_blocks <= 0 &&
        p->kv_mem <= 0)
        in->n_blocks = (n_ctx + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    if (in->n_blocks < 1)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "KV pool of %lld bytes holds no block of %llu bytes",
                         (long long)p->kv_mem, (unsigned long long)in->kv_block_bytes);
    return XLLM_OK;
}

/* Load statuses after which the CPU engine is tried instead of a plugin. */
static int falls_back(xllm_status st)
{
    return st == XLLM_ERR_DEVICE || st == XLLM_ERR_UNSUPPORTED || st == XLLM_ERR_OUT_OF_MEMORY;
}

/* Size the pool for this engine, then load. */
static xllm_status load_engine(xllm_instance *in, const xllm_instance_params *p)
{
    xllm_engine_load_params lp;
    xllm_status st;
    int rc;
    if ((st = size_pool(in, p, in->n_ctx)) != XLLM_OK)
        return st;
    lp = load_params(p, in->device, in->n_blocks, in->max_batch_tokens);
    in->mem.struct_size = sizeof in->mem;
    if ((rc = in->engine->api->memory_required(&lp, &in->mem)) != XLLM_ENGINE_OK ||
        (rc = in->engine->api->load(&lp, &in->ctx)) != XLLM_ENGINE_OK)
        return engine_status(in->engine, rc, p->model_path);
    return XLLM_OK;
}

/* The model's training context, from its metadata (before loading it). */
static xllm_status model_ctx(const char *path, int32_t *n_ctx)
{
    xllm_gguf *g = NULL;
    xllm_hparams hp;
    xllm_status st = xllm_is_dir(path) ? xllm_hf_open(path, &g) : xllm_gguf_open(path, &g);
    if (st == XLLM_OK && (st = xllm_hparams_read(g, &hp)) == XLLM_OK)
        *n_ctx = hp.n_ctx_train;
    xllm_gguf_close(g);
    return st;
}

xllm_status xllm_instance_open(const xllm_instance_params *p, xllm_instance **out)
{
    xllm_instance *in = NULL;
    xllm_status st;
    double t0 = xllm_now();
    int rc;
    *out = NULL;
    if (!p || !p->model_path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "instance: no model path");
    if (!(in = xllm_calloc(1, sizeof *in)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "instance");
    in->max_batch_tokens = p->max_batch_tokens > 0 ? p->max_batch_tokens : 512;
    if ((st = xllm_engine_open_auto(p->device, &in->engine, &in->device)) != XLLM_OK ||
        (st = xllm_tokenizer_open_path(p->model_path, &in->tok)) != XLLM_OK)
        goto out;
    in->n_ctx = p->n_ctx;
    if (in->n_ctx <= 0) {
        if ((st = model_ctx(p->model_path, &in->n_ctx)) != XLLM_OK)
            goto out;
        if (in->n_ctx <= 0 || in->n_ctx > 4096)
            in->n_ctx = 4096;
    }
    if ((st = load_engine(in, p)) != XLLM_OK && in->engine->dl &&
        (falls_back(st))) { /* a GPU that cannot take the model: the CPU engine */
        XLLM_WARN("%s engine: %s; using the CPU engine", in->engine->api->name, xllm_last_error());
        xllm_engine_close(in->engine);
        in->device = 0;
        if ((st = xllm_engine_open_cpu(&in->engine)) == XLLM_OK)
            st = load_engine(in, p);
    }
    if (st != XLLM_OK)
        goto out;
    in->info.struct_size = sizeof in->info;
    if ((rc = in->engine->api->model_info(in->ctx, &in->info)) != XLLM_ENGINE_OK) {
        st = xllm_fail(xllm_engine_status_to(rc), "%s: %s", p->model_path, in->engine->api->last_error(in->ctx));
        goto out;
    }
    if (!in->info.is_encoder) {
        xllm_sched_params sp = p->sched;
        if (in->n_ctx > in->n_blocks * XLLM_KV_BLOCK_SIZE)
            in->n_ctx = in->n_blocks * XLLM_KV_BLOCK_SIZE;
        sp.n_ctx = in->n_ctx;
        if ((st = xllm_sched_new(in->engine->api, in->ctx, in->tok, in->n_blocks, in->max_batch_tokens, &sp,
                                 &in->sched)) != XLLM_OK)
            goto out;
    }
    in->load_s = xllm_now() - t0;
    *out = in;
    in = NULL;
out:
    xllm_instance_close(in);
    return st;
}

void xllm_instance_close(xllm_instance *in)
{
    if (!in)
        return;
    xllm_sched_free(in->sched);
    if (in->ctx)
        in->engine->api->free(in->ctx);
    xllm_tokenizer_free(in->tok);
    xllm_engine_close(in->engine);
    xllm_free(in);
}
