/* test_gen.c - random-weight models of real shapes (xllm gen-model), on the
 * small test shape: standard tensor names and types (the q4_k_m mix),
 * weights that look like real ones (finite, mean ~0, std ~0.02), norms 1, and
 * the vocabulary imported from a tokenizer directory. */
#include <math.h>

#include "../test.h"
#include "base/alloc.h"
#include "conv_util.h"
#include "kernels/cpu/kernels.h"
#include "model/convert.h"

#define FIXTURE_TOKENIZER "tests/fixtures/models/llama"

static void weight_stats(const xllm_gguf_tensor *t, double *mean, double *std, int *finite)
{
    uint64_t n = t->ne[0] * t->ne[1];
    float *f = xllm_malloc(n * sizeof *f);
    double s = 0, s2 = 0;
    *finite = 1;
    CHECK_OK(xllm_dequantize_row(t->dtype, t->data, f, (int64_t)n));
    for (uint64_t i = 0; i < n; i++) {
        *finite &= isfinite(f[i]) != 0;
        s += f[i];
        s2 += (double)f[i] * f[i];
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
    xllm_free(f);
}

static void gen_and_check(const char *type, uint32_t embd_type, uint32_t out_type, uint32_t v0, uint32_t v1)
{
    char dir[64], path[128];
    xllm_gen_opts o = {.shape = "test-tiny", .type = type, .seed = 7, .n_threads = 2};
    xllm_gguf *g = NULL;
    int have_vocab = xllm_path_exists(FIXTURE_TOKENIZER "/tokenizer.json");
    o.vocab_dir = have_vocab ? FIXTURE_TOKENIZER : NULL;
    CHECK(cu_mkdtemp(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    CHECK_OK(xllm_gen_model(&o, path));
    CHECK_OK(xllm_gguf_open(path, &g));
    if (g) {
        const xllm_gguf_tensor *q = xllm_gguf_find_tensor(g, "blk.1.attn_q.weight");
        const xllm_gguf_tensor *n = xllm_gguf_find_tensor(g, "blk.0.ffn_norm.weight");
        double mean = 1, std = 0;
        int finite = 0;
        uint32_t u = 0;
        CHECK_EQ_INT(xllm_gguf_n_tensors(g), 2 + 2 * 9 + 1);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "token_embd.weight")->dtype, embd_type);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "output.weight")->dtype, out_type);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "blk.0.attn_v.weight")->dtype, v0);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "blk.1.attn_v.weight")->dtype, v1);
        CHECK_OK(xllm_gguf_get_u32(g, "llama.embedding_length", &u));
        CHECK_EQ_INT(u, 256);
        CHECK(q && n);
        if (q) {
            weight_stats(q, &mean, &std, &finite);
            CHECK(finite);
            CHECK_NEAR(mean, 0.0, 0.002);
            CHECK_NEAR(std, 0.02, 0.004);
        }
        if (n)
            CHECK(((const float *)n->data)[0] == 1.0f && ((const float *)n->data)[255] == 1.0f);
        if (have_vocab) {
            xllm_gguf_type at;
            uint64_t count = 0;
            CHECK_OK(xllm_gguf_get_arr(g, "tokenizer.ggml.tokens", &at, &count));
            CHECK_EQ_INT(count, 320);
        }
        xllm_gguf_close(g);
    }
    cu_rm_tree(dir);
}

TEST(gen_model_q4_0) { gen_and_check("q4_0", XLLM_DTYPE_Q4_0, XLLM_DTYPE_Q6_K, XLLM_DTYPE_Q4_0, XLLM_DTYPE_Q4_0); }
/* 2 layers: use_more_bits(1, 2) is true, (0, 2) false */
TEST(gen_model_q4_k_m) { gen_and_check("q4_k_m", XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q6_K, XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q6_K); }
TEST(gen_model_f16_q8_0)
{
    gen_and_check("f16", XLLM_DTYPE_F16, XLLM_DTYPE_F16, XLLM_DTYPE_F16, XLLM_DTYPE_F16);
    gen_and_check("q8_0", XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q8_0);
}

TEST(gen_model_errors)
{
    xllm_gen_opts o = {.shape = "gpt5", .type = "q4_0"};
    CHECK(xllm_gen_model(&o, "/tmp/xllm-never.gguf") == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "gpt5") && strstr(xllm_last_error(), "tinyllama-1.1b"));
    o.shape = "test-tiny";
    o.type = "q9";
    CHECK(xllm_gen_model(&o, "/tmp/xllm-never.gguf") == XLLM_ERR_INVALID_ARGUMENT);
    if (xllm_path_exists(FIXTURE_TOKENIZER "/tokenizer.json")) {
        o.shape = "tinyllama-1.1b"; /* 32000 tokens needed, the fixture has 320 */
        o.type = "q4_0";
        o.vocab_dir = FIXTURE_TOKENIZER;
        CHECK(xllm_gen_model(&o, "/tmp/xllm-never.gguf") == XLLM_ERR_INVALID_ARGUMENT);
        CHECK(strstr(xllm_last_error(), "32000") != NULL);
    }
    CHECK(!xllm_path_exists("/tmp/xllm-never.gguf"));
}
