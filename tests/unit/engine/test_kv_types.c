/* test_kv_types.c - the logit error each KV cache element type adds: the demo
 * model (models/kjv-demo.gguf against transformers' logits) and every decoder
 * fixture (tests/fixtures/models, against the float64 references), run with
 * f32, f16 and q8_0 KV; the worst relative L2 error over every position of
 * every case must stay under the type's bound (docs/engine.md lists the
 * measured figures; TEST_VERBOSE=1 prints them). Also kv_copy_block per type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/fs.h"
#include "engine/cpu_engine.h"
#include "model/model.h"
#include "model/hf.h"
#include "../model/ref_check.h"

/* Bounds on the worst relative L2 logit error vs the reference, about twice
 * to five times the worst figure measured (docs/engine.md): f16 rounds K and
 * V to 11 significant bits, q8_0 to 8 bits per 32-element block. The
 * fixtures' random weights make attention sharp (errors ~10x the demo's). */
static const double fixture_tol[XLLM_KV_TYPE_COUNT] = {
    [XLLM_KV_F32] = 1e-4,
    [XLLM_KV_F16] = 2e-3,
    [XLLM_KV_Q8_0] = 2e-2,
};
static const double demo_tol[XLLM_KV_TYPE_COUNT] = {
    [XLLM_KV_F32] = 1e-4,
    [XLLM_KV_F16] = 2e-4,
    [XLLM_KV_Q8_0] = 5e-3,
};

static void check_model(const char *what, const char *fixture, xllm_gguf *g, const double *kv_tol)
{
    double err[XLLM_KV_TYPE_COUNT];
    for (int32_t t = 0; t < XLLM_KV_TYPE_COUNT; t++) {
        err[t] = ref_check_logits_kv(fixture, g, t);
        CHECK_MSG(err[t] >= 0 && err[t] <= kv_tol[t], "%s, %s KV: relative L2 error %.3g (bound %g)", what,
                  xllm_kv_type_name(t), err[t], kv_tol[t]);
    }
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "  %-8s rel L2  f32 %.2e  f16 %.2e  q8_0 %.2e\n", what, err[XLLM_KV_F32], err[XLLM_KV_F16],
                err[XLLM_KV_Q8_0]);
}

static void check_fixture(const char *arch)
{
    char dir[256];
    xllm_gguf *g = NULL;
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", arch);
    if (!xllm_path_exists(dir)) {
        test_skip("fixture not generated");
        return;
    }
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g)
        check_model(arch, dir, g, fixture_tol);
    xllm_gguf_close(g);
}

TEST(kv_types_demo_model)
{
    xllm_gguf *g = NULL;
    CHECK_OK(xllm_gguf_open("models/kjv-demo.gguf", &g));
    if (g)
        check_model("kjv-demo", "tests/fixtures/kjv-demo", g, demo_tol);
    xllm_gguf_close(g);
}

TEST(kv_types_fixtures)
{
    static const char *const archs[] = {"llama", "llama3", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"};
    for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
        check_fixture(archs[i]);
}

/* kv_copy_block of each type: a decode step that reads its second block
 * through a copy gives the logits of the original, bit for bit. */
TEST(kv_types_copy_block)
{
    enum { N = 20 };
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    int32_t tok[N + 1], pos[N + 1], seq[N + 1] = {0}, nb = 2;
    int32_t orig[2] = {0, 1}, copy[2] = {0, 5};
    float *a = NULL, *b = NULL;
    CHECK_OK(xllm_gguf_open("models/kjv-demo.gguf", &g));
    if (!g || xllm_model_load(g, NULL, &m) != XLLM_OK)
        goto out;
    a = malloc(sizeof(float) * (size_t)m->hp.n_vocab);
    b = malloc(sizeof(float) * (size_t)m->hp.n_vocab);
    for (int32_t i = 0; i <= N; i++) {
        tok[i] = (int32_t)((i * 37 + 11) % m->hp.n_vocab);
        pos[i] = i;
    }
    for (int32_t t = 0; a && b && t < XLLM_KV_TYPE_COUNT; t++) {
        xllm_cpu_params p = xllm_cpu_params_default();
        xllm_cpu_ctx *c = NULL;
        const int32_t *t_orig[1] = {orig}, *t_copy[1] = {copy};
        uint8_t want[N] = {0};
        p.n_blocks = 8;
        p.max_batch_tokens = N;
        p.n_threads = 2;
        p.kv_type = t;
        CHECK_OK(xllm_cpu_ctx_create(m, &p, &c));
        if (!c)
            continue;
        xllm_batch pre = {sizeof pre, N, tok, pos, seq, 1, t_orig, &nb, want, NULL, NULL};
        xllm_batch dec = {sizeof dec, 1, tok + N, pos + N, seq, 1, t_orig, &nb, NULL, a, NULL};
        CHECK_OK(xllm_cpu_forward(c, &pre));
        CHECK_OK(xllm_cpu_kv_copy_block(c, 1, 5));
        CHECK_OK(xllm_cpu_forward(c, &dec));
        dec.block_tables = t_copy;
        dec.logits = b;
        CHECK_OK(xllm_cpu_forward(c, &dec));
        CHECK_MSG(memcmp(a, b, sizeof(float) * (size_t)m->hp.n_vocab) == 0, "%s KV: logits through the copy differ",
                  xllm_kv_type_name(t));
        CHECK_EQ_INT(xllm_cpu_kv_copy_block(c, 1, 8), XLLM_ERR_INVALID_ARGUMENT);
        xllm_cpu_ctx_free(c);
    }
out:
    free(a);
    free(b);
    xllm_model_free(m);
    xllm_gguf_close(g);
}
