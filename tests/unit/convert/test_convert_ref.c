/* test_convert_ref.c - the converter against the oracle: every fixture model
 * converted to GGUF in each type, reloaded from the file, must reproduce the
 * reference logits (encoders: embeddings / hidden states) within a named
 * tolerance per type (relative L2 over all positions; see ref_check.h).
 * Tolerances are measured maxima over the fixtures with headroom; the figures
 * are printed with TEST_VERBOSE=1. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../test.h"
#include "../model/ref_check.h"
#include "conv_util.h"
#include "kernels/cpu/kernels.h"
#include "model/convert.h"
#include "model/hf.h"
#include "tokenizer/tokenizer.h"

/* Measured maxima over the 9 fixtures (CPU engine, which also quantizes
 * activations for quantized weights): f32 3.9e-7, f16 8.3e-4, bf16 7.2e-3,
 * q8_0 2.9e-2, q4_0 0.32, q4_k_m 0.28 (only the llama fixture has 256-wide
 * rows; the others fall back to Q5_0/Q8_0 in q4_k_m). The tiny random models
 * amplify weight error ~3-5x into the logits (see the weight-level test below).
 * Wrong weights (e.g. a missed permutation) give ~1.0 or more. */
#define TOL_F32 1e-4
#define TOL_F16 2e-3
#define TOL_BF16 1.5e-2
#define TOL_Q8_0 5e-2
#define TOL_Q4_0 0.5
#define TOL_Q4_K_M 0.45

static const char *const fixtures[] = {"llama", "llama3", "qwen2", "qwen3", "gemma2",
                                       "gemma3", "phi3", "bert", "nomic-bert"};

static void check_type(const char *type, double tol)
{
    char tmp[64];
    int ran = 0;
    CHECK(cu_mkdtemp(tmp, sizeof tmp));
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char dir[128], out[192];
        xllm_convert_opts o = {.type = type, .n_threads = 2};
        xllm_gguf *g = NULL;
        double err;
        snprintf(dir, sizeof dir, "tests/fixtures/models/%s", fixtures[i]);
        if (!xllm_path_exists(dir))
            continue;
        snprintf(out, sizeof out, "%s/%s-%s.gguf", tmp, fixtures[i], type);
        CHECK_OK(xllm_convert(dir, out, &o));
        CHECK_OK(xllm_gguf_open(out, &g));
        if (!g)
            continue;
        err = ref_check_logits(dir, g);
        ran++;
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  convert %-10s %-6s rel L2 %.3g (tol %g)\n", fixtures[i], type, err, tol);
        CHECK_MSG(err >= 0 && err <= tol, "%s as %s: relative L2 error %.3g (tolerance %g)", fixtures[i], type, err,
                  tol);
        xllm_gguf_close(g);
        unlink(out);
    }
    cu_rm_tree(tmp);
    if (!ran)
        test_skip("fixtures not generated");
}

TEST(convert_ref_f32) { check_type("f32", TOL_F32); }
TEST(convert_ref_f16) { check_type("f16", TOL_F16); }
TEST(convert_ref_bf16) { check_type("bf16", TOL_BF16); }
TEST(convert_ref_q8_0) { check_type("q8_0", TOL_Q8_0); }
TEST(convert_ref_q4_0) { check_type("q4_0", TOL_Q4_0); }
TEST(convert_ref_q4_k_m) { check_type("q4_k_m", TOL_Q4_K_M); }

/* Converter-level check, engine excluded: every 2-D weight of the llama
 * fixture (normal weights, 256-wide rows) converted, dequantized and compared
 * with the HF view's F32 tensor. Bounds: the types' relative RMS error on
 * normal data (q8_0 0.0054, q4_0 0.081, q4_1 0.070, q5_0 0.040, q5_1 0.034,
 * q4_k 0.070, q5_k 0.035, q6_k 0.017, f16 2e-4, bf16 1.7e-3) plus 30%. */
TEST(convert_weight_error_per_type)
{
    static const struct { const char *type; double tol; } types[] = {
        {"f16", 3e-4},   {"bf16", 2.3e-3}, {"q8_0", 7e-3},   {"q4_0", 0.105}, {"q4_1", 0.091},
        {"q5_0", 0.052}, {"q5_1", 0.045},  {"q4_k_m", 0.091}, {"q5_k_m", 0.046}, {"q6_k", 0.022},
    };
    const char *dir = "tests/fixtures/models/llama";
    char tmp[64], out[128];
    xllm_gguf *view = NULL;
    if (!xllm_path_exists(dir)) {
        test_skip("fixtures not generated");
        return;
    }
    CHECK(cu_mkdtemp(tmp, sizeof tmp));
    CHECK_OK(xllm_hf_open(dir, &view));
    for (size_t k = 0; view && k < sizeof types / sizeof types[0]; k++) {
        xllm_convert_opts o = {.type = types[k].type, .n_threads = 2};
        xllm_gguf *g = NULL;
        double e = 0, r = 0;
        snprintf(out, sizeof out, "%s/w.gguf", tmp);
        CHECK_OK(xllm_convert(dir, out, &o));
        CHECK_OK(xllm_gguf_open(out, &g));
        for (int64_t i = 0; g && i < xllm_gguf_n_tensors(view); i++) {
            const xllm_gguf_tensor *a = xllm_gguf_tensor_at(view, i), *b = xllm_gguf_find_tensor(g, a->name);
            uint64_t n = a->ne[0] * a->ne[1];
            float *x, *y;
            CHECK(b != NULL);
            if (!b || a->n_dims < 2)
                continue;
            x = xllm_malloc(n * sizeof *x);
            y = xllm_malloc(n * sizeof *y);
            CHECK_OK(xllm_dequantize_row(a->dtype, a->data, x, (int64_t)n));
            CHECK_OK(xllm_dequantize_row(b->dtype, b->data, y, (int64_t)n));
            for (uint64_t j = 0; j < n; j++) {
                e += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
                r += (double)x[j] * x[j];
            }
            xllm_free(x);
            xllm_free(y);
        }
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  weights as %-6s rel RMS %.4f (tol %g)\n", types[k].type, sqrt(e / r), types[k].tol);
        CHECK_MSG(r > 0 && sqrt(e / r) <= types[k].tol, "%s: weight rel RMS error %.4f (tol %g)", types[k].type,
                  sqrt(e / r), types[k].tol);
        xllm_gguf_close(g);
        unlink(out);
    }
    xllm_gguf_close(view);
    cu_rm_tree(tmp);
}

/* The written tokenizer files give the fixture's reference ids (with and without
 * BOS/EOS) and carry its chat template. */
static void check_tokenizer_files(const char *name, const char *dir, const char *back)
{
    char path[256];
    xllm_tokenizer *t = NULL;
    json_t *ref, *c, *ca, *cb;
    size_t i;
    snprintf(path, sizeof path, "%s/tokenizer_reference.json", dir);
    ref = json_load_file(path, 0, NULL);
    CHECK_OK(xllm_tokenizer_open_path(back, &t));
    json_array_foreach(json_object_get(ref, "cases"), i, c) {
        const char *text = json_string_value(json_object_get(c, "text"));
        for (int special = 0; t && text && special < 2; special++) {
            json_t *want = json_object_get(c, special ? "ids_with_special" : "ids");
            int32_t *ids = NULL;
            size_t n = 0, ok;
            CHECK_OK(xllm_tokenize(t, text, strlen(text), special, 1, &ids, &n));
            ok = json_array_size(want) == n;
            for (size_t k = 0; ok && k < n; k++)
                ok = json_integer_value(json_array_get(want, k)) == ids[k];
            CHECK_MSG(ok, "%s: written tokenizer: case %zu (special %d) differs", name, i, special);
            xllm_free(ids);
        }
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    ca = json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", back);
    cb = json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL);
    CHECK_MSG(cb != NULL, "%s: no tokenizer_config.json written", name);
    if (ca && cb && json_is_string(json_object_get(ca, "chat_template")))
        CHECK(json_equal(json_object_get(ca, "chat_template"), json_object_get(cb, "chat_template")));
    xllm_tokenizer_free(t);
    json_decref(ref);
    json_decref(ca);
    json_decref(cb);
}

/* Every fixture: HF -> GGUF (f32) -> HF. The written safetensors hold the
 * fixture's tensors bit for bit (gemma norms within one ulp of 1: (w+1)-1),
 * config.json repeats the fixture's hyper-parameters, and the written
 * directory, loaded again, still reproduces the reference outputs. */
TEST(convert_fixture_hf_roundtrip)
{
    static const char *const keys[] = {"hidden_size", "intermediate_size", "num_hidden_layers",
                                       "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
                                       "layer_norm_eps", "rope_theta", "rope_local_base_freq",
                                       "max_position_embeddings", "sliding_window", "query_pre_attn_scalar",
                                       "attn_logit_softcapping", "final_logit_softcapping", "vocab_size",
                                       "n_embd", "n_layer", "n_head", "n_inner", "rotary_emb_base",
                                       "layer_norm_epsilon", "original_max_position_embeddings"};
    char tmp[64];
    int ran = 0;
    CHECK(cu_mkdtemp(tmp, sizeof tmp));
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char dir[128], gguf[192], back[192];
        xllm_convert_opts o = {.type = "f32", .n_threads = 2};
        xllm_st_set *a = NULL, *b = NULL;
        xllm_gguf *view = NULL;
        json_t *ca, *cb;
        snprintf(dir, sizeof dir, "tests/fixtures/models/%s", fixtures[i]);
        if (!xllm_path_exists(dir))
            continue;
        ran++;
        snprintf(gguf, sizeof gguf, "%s/%s.gguf", tmp, fixtures[i]);
        snprintf(back, sizeof back, "%s/%s-hf", tmp, fixtures[i]);
        CHECK_OK(xllm_convert(dir, gguf, &o));
        CHECK_OK(xllm_convert(gguf, back, &o));
        CHECK_OK(xllm_st_open_dir(dir, &a));
        CHECK_OK(xllm_st_open_dir(back, &b));
        for (int64_t k = 0; a && b && k < xllm_st_n_tensors(b); k++) {
            const xllm_st_tensor *y = xllm_st_tensor_at(b, k), *x = xllm_st_find(a, y->name);
            if (x && strstr(y->name, "norm") && strstr(fixtures[i], "gemma") && x->nbytes == y->nbytes) {
                for (uint64_t e = 0; e < x->nbytes / 4; e++)
                    CHECK_NEAR(((const float *)x->data)[e], ((const float *)y->data)[e], 2.5e-7);
                continue;
            }
            CHECK_MSG(cu_same_tensor(x, y), "%s: tensor '%s' differs after HF -> GGUF -> HF", fixtures[i], y->name);
        }
        if (a && b) /* only the pooler of bert is dropped (llama.cpp drops it too) */
            CHECK_EQ_INT(xllm_st_n_tensors(a) - xllm_st_n_tensors(b), !strcmp(fixtures[i], "bert") ? 2 : 0);
        xllm_st_close(a);
        xllm_st_close(b);
        ca = json_load_file(strcat(strcpy(gguf, dir), "/config.json"), JSON_DECODE_INT_AS_REAL, NULL);
        cb = json_load_file(strcat(strcpy(gguf, back), "/config.json"), JSON_DECODE_INT_AS_REAL, NULL);
        CHECK(ca && cb);
        for (size_t k = 0; ca && cb && k < sizeof keys / sizeof keys[0]; k++) {
            json_t *x = json_object_get(ca, keys[k]), *y = json_object_get(cb, keys[k]);
            if (!json_is_number(x) ||
                (!strcmp(keys[k], "sliding_window") && json_is_false(json_object_get(ca, "use_sliding_window"))))
                continue;
            CHECK_MSG(json_is_number(y) && fabs(json_number_value(x) - json_number_value(y)) <=
                                               1e-6 * fabs(json_number_value(x)),
                      "%s: config %s %g became %g", fixtures[i], keys[k], json_number_value(x),
                      json_is_number(y) ? json_number_value(y) : -1.0);
        }
        if (ca && cb)
            CHECK(json_equal(json_object_get(ca, "layer_types"), json_object_get(cb, "layer_types")) ||
                  !json_object_get(ca, "layer_types"));
        if (ca)
            json_decref(ca);
        if (cb)
            json_decref(cb);
        check_tokenizer_files(fixtures[i], dir, back);
        /* the written directory still computes the reference (our HF loader) */
        {
            xllm_log_level prev = cu_quiet();
            CHECK_OK(xllm_hf_open(back, &view));
            xllm_log_set_level(prev);
        }
        if (view) {
            double err = ref_check_logits(dir, view);
            CHECK_MSG(err >= 0 && err <= TOL_F32, "%s: written HF directory: rel L2 %.3g", fixtures[i], err);
            xllm_gguf_close(view);
        }
    }
    cu_rm_tree(tmp);
    if (!ran)
        test_skip("fixtures not generated");
}
