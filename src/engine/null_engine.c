/* null_engine.c - the "null" device (benchmarks only): the CPU engine loads
 * the model (tokenizer, shapes, KV pool sizes stay real) but forward writes a
 * fixed logits row instantly, so a run through the scheduler measures the
 * scheduler's own bookkeeping, sampling and grammar work. */
#include <string.h>

#include "base/alloc.h"
#include "engine/engine_host.h"

struct xllm_engine_ctx {
    xllm_engine_ctx *inner; /* the CPU engine's context */
    int32_t n_vocab;
    float *row;             /* [n_vocab] the logits every row gets */
};

static int null_memory_required(const xllm_engine_load_params *p, xllm_engine_memory *out)
{
    return xllm_engine_cpu_api()->memory_required(p, out);
}

static void null_free(xllm_engine_ctx *e)
{
    if (!e)
        return;
    xllm_engine_cpu_api()->free(e->inner);
    xllm_free(e->row);
    xllm_free(e);
}

/* A fixed row with a spread of values (a hash of the token id), so greedy,
 * top-k/top-p and grammar masks see an ordinary-looking distribution. */
static void fill_row(float *row, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)i * 2654435761u;
        h ^= h >> 15;
        row[i] = (float)(h % 2000u) / 200.0f - 5.0f;
    }
}

static int null_load(const xllm_engine_load_params *p, xllm_engine_ctx **out)
{
    const xllm_engine_api *cpu = xllm_engine_cpu_api();
    xllm_engine_model_info mi;
    xllm_engine_ctx *e = xllm_calloc(1, sizeof *e);
    int rc;
    *out = NULL;
    if (!e)
        return xllm_engine_status_from(xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "null engine context"));
    if ((rc = cpu->load(p, &e->inner)) != 0) {
        xllm_free(e);
        return rc;
    }
    memset(&mi, 0, sizeof mi);
    mi.struct_size = sizeof mi;
    if ((rc = cpu->model_info(e->inner, &mi)) != 0) {
        null_free(e);
        return rc;
    }
    e->n_vocab = mi.n_vocab;
    if (!(e->row = xllm_malloc(sizeof(float) * (size_t)(mi.n_vocab > 0 ? mi.n_vocab : 1)))) {
        null_free(e);
        return xllm_engine_status_from(xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "null engine logits"));
    }
    fill_row(e->row, e->n_vocab);
    *out = e;
    return 0;
}

static int null_forward(xllm_engine_ctx *e, const xllm_batch *b)
{
    int32_t rows = 0;
    if (!e || !b || !b->logits)
        return xllm_engine_status_from(xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "null engine: no logits buffer"));
    for (int32_t i = 0; i < b->n_tokens; i++)
        if (!b->want_logits || b->want_logits[i])
            memcpy(b->logits + (size_t)rows++ * (size_t)e->n_vocab, e->row, sizeof(float) * (size_t)e->n_vocab);
    return 0;
}

static const char *null_last_error(xllm_engine_ctx *e)
{
    return xllm_engine_cpu_api()->last_error(e ? e->inner : NULL);
}

static int null_model_info(xllm_engine_ctx *e, xllm_engine_model_info *out)
{
    return xllm_engine_cpu_api()->model_info(e ? e->inner : NULL, out);
}

static const xllm_engine_api null_api = {
    XLLM_ENGINE_ABI_VERSION,
    sizeof(xllm_engine_api),
    "null",
    "1",
    null_memory_required,
    null_load,
    null_free,
    null_forward,
    null_last_error,
    null_model_info,
    NULL,
};

const xllm_engine_api *xllm_engine_null_api(void)
{
    return &null_api;
}
