/* test_session.c - the in-process session (what `xllm logits/run/embed` use):
 * opening a Hugging Face fixture directory, evaluating in several calls,
 * last-row vs all-rows logits, reset, context limit, embeddings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "engine/session.h"

static float *load_f32(const char *path, size_t n)
{
    char *data = NULL;
    size_t len = 0;
    float *out = NULL;
    if (xllm_read_file(path, 1u << 24, &data, &len) == XLLM_OK && len == n * sizeof(float) &&
        (out = malloc(len)))
        memcpy(out, data, len);
    xllm_free(data);
    return out;
}

static double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

/* tests/fixtures/models/llama/reference.json case 1: 5 tokens */
static const int32_t llama_case1[5] = {36, 183, 300, 69, 272};

TEST(session_llama_fixture)
{
    const char *dir = "tests/fixtures/models/llama";
    xllm_session *s = NULL;
    xllm_session_params sp = xllm_session_params_default();
    float *ref, *all, last[320];
    if (!xllm_path_exists(dir)) {
        test_skip("fixture not generated");
        return;
    }
    CHECK_OK(xllm_session_open(dir, 1, 16, &s)); /* the default KV type is f16 */
    CHECK(s && xllm_cpu_ctx_kv_type(xllm_session_ctx(s)) == XLLM_KV_F16);
    xllm_session_close(s);
    sp.n_threads = 2;
    sp.n_ctx = 40;
    sp.kv_type = XLLM_KV_F32; /* matched to the reference at 1e-4: the exact KV type */
    CHECK_OK(xllm_session_open_ex(dir, &sp, &s));
    if (!s)
        return;
    CHECK_EQ_INT(xllm_cpu_ctx_kv_type(xllm_session_ctx(s)), XLLM_KV_F32);
    CHECK_EQ_INT(xllm_session_n_vocab(s), 320);
    CHECK_EQ_INT(xllm_session_n_ctx(s), 48); /* rounded up to whole blocks */
    ref = load_f32("tests/fixtures/models/llama/logits-1.f32", 5 * 320);
    all = calloc(5 * 320, sizeof(float));
    CHECK(ref && all);
    if (ref && all) {
        CHECK_OK(xllm_session_eval(s, llama_case1, 2, 1, all));
        CHECK_OK(xllm_session_eval(s, llama_case1 + 2, 3, 1, all + 2 * 320));
        CHECK_EQ_INT(xllm_session_n_past(s), 5);
        CHECK(rel_l2(all, ref, 5 * 320) < 1e-4);
        xllm_session_reset(s);
        CHECK_OK(xllm_session_eval(s, llama_case1, 5, 0, last));
        CHECK(rel_l2(last, ref + 4 * 320, 320) < 1e-4);
        CHECK_EQ_INT(xllm_session_eval(s, llama_case1, 44, 0, NULL), XLLM_ERR_LIMIT); /* 5 + 44 > 48 */
        CHECK_EQ_INT(xllm_session_embed(s, llama_case1, 5, last), XLLM_ERR_INVALID_ARGUMENT);
    }
    free(ref);
    free(all);
    xllm_session_close(s);
}

/* tests/fixtures/models/bert/reference.json case 0: 3 tokens */
TEST(session_bert_embed)
{
    const char *dir = "tests/fixtures/models/bert";
    xllm_session *s = NULL;
    const int32_t tok[3] = {55, 0, 44};
    float emb[64], *ref;
    if (!xllm_path_exists(dir)) {
        test_skip("fixture not generated");
        return;
    }
    CHECK_OK(xllm_session_open(dir, 1, 0, &s));
    if (!s)
        return;
    ref = load_f32("tests/fixtures/models/bert/emb-0.f32", 64);
    CHECK_OK(xllm_session_embed(s, tok, 3, emb));
    if (ref)
        CHECK_MSG(rel_l2(emb, ref, 64) < 1e-4, "bert embedding rel L2 %g", rel_l2(emb, ref, 64));
    CHECK_EQ_INT(xllm_session_eval(s, tok, 3, 0, emb), XLLM_ERR_INVALID_ARGUMENT);
    free(ref);
    xllm_session_close(s);
}

TEST(session_open_errors)
{
    xllm_session *s = NULL;
    CHECK(xllm_session_open("/nonexistent/model.gguf", 1, 0, &s) != XLLM_OK);
    CHECK(s == NULL);
    CHECK(strstr(xllm_last_error(), "/nonexistent/model.gguf") != NULL);
    if (xllm_path_exists("tests/fixtures/models/llama")) {
        xllm_session_params sp = xllm_session_params_default();
        sp.kv_type = 9;
        CHECK_EQ_INT(xllm_session_open_ex("tests/fixtures/models/llama", &sp, &s), XLLM_ERR_INVALID_ARGUMENT);
        CHECK(s == NULL && strstr(xllm_last_error(), "kv_type") != NULL);
    }
}
