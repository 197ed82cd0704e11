/* test_model_load.c - the loader's checks: hyper-parameters from standard
 * GGUF keys, tied output, and clear errors for a missing tensor, a wrong
 * shape, an unknown architecture, a missing key; plus the CPU engine's batch
 * checks and memory estimate. */
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "engine/cpu_engine.h"
#include "engine/session.h"
#include "model/model.h"
#include "tiny_model.h"

TEST(model_load_llama_hparams)
{
    tiny_cfg c = tiny_default("llama");
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    uint64_t bytes = 0;
    CHECK_EQ_INT(tiny_build(&c, &g), 0);
    CHECK_OK(xllm_model_load(g, NULL, &m));
    if (m) {
        const xllm_hparams *hp = xllm_model_hparams(m);
        CHECK_EQ_STR(hp->arch->name, "llama");
        CHECK_EQ_INT(hp->n_vocab, 64);
        CHECK_EQ_INT(hp->n_embd, 32);
        CHECK_EQ_INT(hp->n_layer, 2);
        CHECK_EQ_INT(hp->n_head_kv, 2);
        CHECK_EQ_INT(hp->n_rot, 8);
        CHECK(m->tied_output);
        CHECK(m->glob.mat[XLLM_R_OUTPUT].data == m->glob.mat[XLLM_R_TOKEN_EMBD].data);
        CHECK(m->layers[1].mat[XLLM_R_ATTN_Q].rows == 32);
        CHECK(m->layers[1].vec[XLLM_R_FFN_NORM] != NULL);
        CHECK(!xllm_model_is_encoder(m));
        CHECK_NEAR(hp->attn_scale, 1.0 / sqrt(8.0), 1e-7);
        CHECK_OK(xllm_model_memory_required(g, &bytes));
        CHECK(bytes >= m->weight_bytes && bytes > 0);
    }
    xllm_model_free(m);
    xllm_gguf_close(g);
}

static void expect_load_error(tiny_cfg c, xllm_status want, const char *needle1, const char *needle2)
{
    xllm_gguf *g = NULL;
    xllm_model *m = (xllm_model *)1;
    CHECK_EQ_INT(tiny_build(&c, &g), 0);
    CHECK_EQ_INT(xllm_model_load(g, NULL, &m), want);
    CHECK(m == NULL);
    CHECK_MSG(strstr(xllm_last_error(), needle1) != NULL, "message '%s' lacks '%s'", xllm_last_error(), needle1);
    if (needle2)
        CHECK_MSG(strstr(xllm_last_error(), needle2) != NULL, "message '%s' lacks '%s'", xllm_last_error(), needle2);
    xllm_gguf_close(g);
}

TEST(model_load_missing_tensor)
{
    tiny_cfg c = tiny_default("qwen3");
    c.skip = "blk.1.attn_k_norm.weight";
    expect_load_error(c, XLLM_ERR_FORMAT, "missing tensor 'blk.1.attn_k_norm.weight'", "[8]");
}

TEST(model_load_missing_attention_input)
{
    tiny_cfg c = tiny_default("llama");
    c.skip = "blk.0.attn_v.weight";
    expect_load_error(c, XLLM_ERR_FORMAT, "blk.0.attn_qkv.weight", "attn_q/attn_k/attn_v");
}

TEST(model_load_bad_shape)
{
    tiny_cfg c = tiny_default("phi3");
    c.bad_shape = "blk.1.ffn_up.weight";
    /* phi3's fused ffn_up is [n_embd, 2 * n_ff] */
    expect_load_error(c, XLLM_ERR_FORMAT, "'blk.1.ffn_up.weight' has shape [33, 96], expected [32, 96]", NULL);
}

TEST(model_load_unknown_arch)
{
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_OK(xllm_gguf_set_str(g, "general.architecture", "mamba"));
    CHECK_EQ_INT(xllm_model_load(g, NULL, &m), XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "'mamba'") && strstr(xllm_last_error(), "gemma3"));
    CHECK_OK(xllm_gguf_remove(g, "general.architecture"));
    CHECK_EQ_INT(xllm_model_load(g, NULL, &m), XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "general.architecture") != NULL);
    xllm_gguf_close(g);
}

TEST(model_load_bad_keys)
{
    tiny_cfg c = tiny_default("llama");
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    CHECK_EQ_INT(tiny_build(&c, &g), 0);
    CHECK_OK(xllm_gguf_remove(g, "llama.block_count"));
    CHECK_EQ_INT(xllm_model_load(g, NULL, &m), XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "'llama.block_count'") != NULL);
    CHECK_OK(xllm_gguf_set_u32(g, "llama.block_count", 2));
    CHECK_OK(xllm_gguf_set_u32(g, "llama.attention.head_count_kv", 3));
    CHECK_EQ_INT(xllm_model_load(g, NULL, &m), XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "head_count_kv 3") != NULL);
    CHECK_OK(xllm_gguf_set_u32(g, "llama.attention.head_count_kv", 2));
    CHECK_OK(xllm_gguf_set_str(g, "llama.rope.scaling.type", "yarn"));
    CHECK_EQ_INT(xllm_model_load(g, NULL, &m), XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "'yarn'") != NULL);
    CHECK_OK(xllm_gguf_set_str(g, "llama.rope.scaling.type", "linear"));
    CHECK_OK(xllm_gguf_set_f32(g, "llama.rope.scaling.factor", 4.0f));
    CHECK_OK(xllm_model_load(g, NULL, &m));
    if (m)
        CHECK_NEAR(m->rope_inv_freq[1], 0.25 / pow(10000.0, 2.0 / 8.0), 1e-7);
    xllm_model_free(m);
    xllm_gguf_close(g);
}

TEST(model_sliding_window_layers)
{
    tiny_cfg c = tiny_default("gemma3");
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    uint8_t pat[6] = {1, 0, 1, 1, 0, 0};
    c.n_layer = 6;
    c.sliding_window = 4;
    CHECK_EQ_INT(tiny_build(&c, &g), 0);
    CHECK_OK(xllm_model_load(g, NULL, &m));
    if (m) { /* gemma3 default: 5 local then 1 global */
        CHECK(m->hp.swa_layer[0] && m->hp.swa_layer[4] && !m->hp.swa_layer[5]);
        CHECK_NEAR(m->rope_inv_freq_swa[0], 1.0, 0); /* i = 0: base^0 */
        CHECK_NEAR(m->hp.rope_base_swa, 10000.0, 0);
    }
    xllm_model_free(m);
    m = NULL;
    CHECK_OK(xllm_gguf_set_arr(g, "gemma3.attention.sliding_window_pattern", XLLM_GGUF_BOOL, pat, 6));
    CHECK_OK(xllm_model_load(g, NULL, &m));
    if (m)
        for (int i = 0; i < 6; i++)
            CHECK_EQ_INT(m->hp.swa_layer[i], pat[i]);
    xllm_model_free(m);
    xllm_gguf_close(g);
}

TEST(cpu_batch_checks)
{
    tiny_cfg c = tiny_default("llama");
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    xllm_cpu_ctx *ctx = NULL;
    xllm_cpu_params p = xllm_cpu_params_default();
    int32_t tok[3] = {1, 2, 3}, pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0}, blocks[1] = {0}, nb = 1;
    const int32_t *tables[1] = {blocks};
    float logits[3 * 64];
    uint64_t kv = 0, scratch = 0;
    CHECK_EQ_INT(tiny_build(&c, &g), 0);
    CHECK_OK(xllm_model_load(g, NULL, &m));
    p.n_blocks = 2;
    p.max_batch_tokens = 3;
    CHECK_OK(xllm_cpu_ctx_create(m, &p, &ctx));
    if (!ctx)
        goto out;
    xllm_cpu_memory_required(&m->hp, &p, &kv, &scratch);
    CHECK_EQ_INT(kv, 2ull * 16 * (16 + 16) * 2 * 2); /* blocks * slots * (K+V widths) * f16 * layers */
    xllm_batch b = {sizeof b, 3, tok, pos, seq, 1, tables, &nb, NULL, logits, NULL};
    CHECK_OK(xllm_cpu_forward(ctx, &b));
    tok[1] = 64;
    CHECK_EQ_INT(xllm_cpu_forward(ctx, &b), XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "vocabulary") != NULL);
    tok[1] = 2;
    pos[2] = 16; /* needs a second block; the table lists one */
    CHECK_EQ_INT(xllm_cpu_forward(ctx, &b), XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "need 2") != NULL);
    pos[2] = 2;
    blocks[0] = 2; /* pool has blocks 0, 1 */
    CHECK_EQ_INT(xllm_cpu_forward(ctx, &b), XLLM_ERR_INVALID_ARGUMENT);
    blocks[0] = 0;
    seq[1] = 1;
    CHECK_EQ_INT(xllm_cpu_forward(ctx, &b), XLLM_ERR_INVALID_ARGUMENT);
    seq[1] = 0;
    b.n_tokens = 4;
    CHECK_EQ_INT(xllm_cpu_forward(ctx, &b), XLLM_ERR_INVALID_ARGUMENT);
    b.n_tokens = 3;
    b.logits = NULL;
    CHECK_EQ_INT(xllm_cpu_forward(ctx, &b), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_OK(xllm_cpu_kv_copy_block(ctx, 0, 1));
    CHECK_EQ_INT(xllm_cpu_kv_copy_block(ctx, 0, 2), XLLM_ERR_INVALID_ARGUMENT);
out:
    xllm_cpu_ctx_free(ctx);
    xllm_model_free(m);
    xllm_gguf_close(g);
}

/* Every allocation of load + context creation + session open may fail: each
 * must return an error (no crash, no leak under ASan), and with enough room
 * everything succeeds. */
TEST(model_load_alloc_failures)
{
    tiny_cfg c = tiny_default("gemma2");
    int ok_at = -1;
    c.sliding_window = 4;
    for (long n = 0; n < 400 && ok_at < 0; n++) {
        xllm_gguf *g = NULL;
        xllm_model *m = NULL;
        xllm_cpu_ctx *ctx = NULL;
        xllm_session *s = NULL;
        xllm_cpu_params p = xllm_cpu_params_default();
        xllm_status st;
        p.n_blocks = 2;
        p.max_batch_tokens = 4;
        p.n_threads = 1;
        if (tiny_build(&c, &g))
            break;
        xllm_alloc_fail_after(n);
        st = xllm_model_load(g, NULL, &m);
        if (st == XLLM_OK)
            st = xllm_cpu_ctx_create(m, &p, &ctx);
        xllm_alloc_fail_after(-1);
        xllm_cpu_ctx_free(ctx);
        xllm_model_free(m);
        if (st == XLLM_OK) {
            xllm_alloc_fail_after(n);
            st = xllm_session_open_gguf(g, 1, 32, &s); /* takes g, also on failure */
            xllm_alloc_fail_after(-1);
            g = NULL;
            if (st == XLLM_OK)
                ok_at = (int)n;
        }
        CHECK_MSG(st == XLLM_OK || st == XLLM_ERR_OUT_OF_MEMORY, "fail_after %ld: status %d: %s", n, (int)st,
                  xllm_last_error());
        xllm_session_close(s);
        xllm_gguf_close(g);
    }
    CHECK(ok_at > 0);
}
