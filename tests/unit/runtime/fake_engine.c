/* fake_engine.c - the deterministic scheduler-test engine (see fake_engine.h). */
#include "fake_engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t mix(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return h;
}

static void logits_from_hash(int32_t n_vocab, uint64_t h, float *out)
{
    for (int32_t v = 0; v < n_vocab; v++)
        out[v] = (float)(mix(h ^ ((uint64_t)v * 0x2545f4914f6cdd1dull)) % 100000) / 10000.0f;
}

static uint64_t seq_hash(const int32_t *toks, int32_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (int32_t i = 0; i < n; i++)
        h = mix(h ^ (uint64_t)(uint32_t)toks[i]) + (uint64_t)i;
    return h;
}

void fake_logits(int32_t n_vocab, const int32_t *toks, int32_t n, float *out)
{
    logits_from_hash(n_vocab, seq_hash(toks, n), out);
}

int fake_engine_init(fake_engine *e, int32_t n_vocab, int32_t n_blocks, int32_t n_ctx_train)
{
    memset(e, 0, sizeof *e);
    e->n_vocab = n_vocab;
    e->n_blocks = n_blocks;
    e->n_ctx_train = n_ctx_train;
    e->kv = malloc(sizeof(int32_t) * (size_t)n_blocks * XLLM_KV_BLOCK_SIZE);
    if (!e->kv)
        return -1;
    for (int32_t i = 0; i < n_blocks * XLLM_KV_BLOCK_SIZE; i++)
        e->kv[i] = -1;
    return 0;
}

void fake_engine_free(fake_engine *e) { free(e->kv); }

static int fake_forward(xllm_engine_ctx *ctx, const xllm_batch *b)
{
    fake_engine *e = (fake_engine *)ctx;
    int32_t row = 0, hist[4096];
    if (e->fail_next) {
        e->fail_next = 0;
        return XLLM_ENGINE_DEVICE_ERROR;
    }
    e->calls++;
    e->tokens_run += b->n_tokens;
    if (b->n_tokens > e->max_call_tokens)
        e->max_call_tokens = b->n_tokens;
    for (int32_t i = 0; i < b->n_tokens; i++) { /* KV writes first, as an engine does per layer */
        int32_t s = b->seq[i], p = b->positions[i], blk = p / XLLM_KV_BLOCK_SIZE;
        if (blk >= b->block_counts[s])
            return XLLM_ENGINE_INVALID_ARGUMENT;
        e->kv[b->block_tables[s][blk] * XLLM_KV_BLOCK_SIZE + p % XLLM_KV_BLOCK_SIZE] = b->tokens[i];
    }
    for (int32_t i = 0; i < b->n_tokens; i++) {
        int32_t s = b->seq[i], p = b->positions[i];
        if (b->want_logits && !b->want_logits[i])
            continue;
        if (p + 1 > (int32_t)(sizeof hist / sizeof hist[0]))
            return XLLM_ENGINE_INVALID_ARGUMENT;
        for (int32_t j = 0; j <= p; j++)
            hist[j] = e->kv[b->block_tables[s][j / XLLM_KV_BLOCK_SIZE] * XLLM_KV_BLOCK_SIZE + j % XLLM_KV_BLOCK_SIZE];
        fake_logits(e->n_vocab, hist, p + 1, b->logits + (size_t)row * (size_t)e->n_vocab);
        row++;
    }
    if (e->spin_ns) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do
            clock_gettime(CLOCK_MONOTONIC, &t1);
        while ((uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec) < e->spin_ns);
    }
    return XLLM_ENGINE_OK;
}

static const char *fake_last_error(xllm_engine_ctx *ctx)
{
    (void)ctx;
    return "fake engine failure";
}

static int fake_model_info(xllm_engine_ctx *ctx, xllm_engine_model_info *out)
{
    fake_engine *e = (fake_engine *)ctx;
    out->n_vocab = e->n_vocab;
    out->n_embd = 8;
    out->n_layer = 1;
    out->n_ctx_train = e->n_ctx_train;
    out->block_size = XLLM_KV_BLOCK_SIZE;
    out->is_encoder = 0;
    strcpy(out->arch, "fake");
    out->kv_types = 1u << XLLM_KV_F32;
    out->kv_type = XLLM_KV_F32;
    return XLLM_ENGINE_OK;
}

static const xllm_engine_api fake_api = {
    XLLM_ENGINE_ABI_VERSION, sizeof(xllm_engine_api), "fake", "0", NULL, NULL, NULL, fake_forward,
    fake_last_error,         fake_model_info,          NULL,
};

const xllm_engine_api *fake_engine_api(void) { return &fake_api; }
