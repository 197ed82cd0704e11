/* test_convert.c - `xllm convert` in both directions: HF -> GGUF -> HF round
 * trips compared byte for byte (F32), the per-tensor types of quantized
 * outputs (llama-quantize's rules, expectations written out here), sharded
 * safetensors output, tokenizer files of an HF output, and atomicity: a
 * failing or interrupted conversion leaves no output and no partial file. */
#include <jansson.h>
#include <math.h>

#include "../test.h"
#include "base/alloc.h"
#include "conv_util.h"
#include "model/convert.h"
#include "model/hf.h"
#include "tokenizer/tokenizer.h"

static const char *llama_cfg =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 96,"
    " \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"num_key_value_heads\": 2, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-05,"
    " \"rope_theta\": 10000.0, \"tie_word_embeddings\": false, \"bos_token_id\": 1, \"eos_token_id\": 2}";

static const cu_dims tiny = {96, 64, 128, 2, 4, 2, 16};

/* A tiny HF model directory of kind under a new temp dir; returns 1 on success. */
static int make_model(char *dir, size_t cap, int kind, const char *cfg, int tied)
{
    cu_model m = {.seed = 11};
    int ok = cu_mkdtemp(dir, cap);
    cu_decoder(&m, kind, tiny, tied);
    ok = ok && cu_write_model(dir, &m, cfg);
    cu_free(&m);
    return ok;
}

static json_t *load_json(const char *dir, const char *name)
{
    char *p = xllm_path_join(dir, name);
    json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
    xllm_free(p);
    return j;
}

/* Every tensor of a's safetensors appears in b with identical bytes
 * (norm_tol > 0: tensors named "*norm*" may differ by that much). */
static void compare_hf_dirs(const char *a, const char *b, double norm_tol)
{
    xllm_st_set *sa = NULL, *sb = NULL;
    CHECK_OK(xllm_st_open_dir(a, &sa));
    CHECK_OK(xllm_st_open_dir(b, &sb));
    if (sa && sb) {
        CHECK_EQ_INT(xllm_st_n_tensors(sa), xllm_st_n_tensors(sb));
        for (int64_t i = 0; i < xllm_st_n_tensors(sa); i++) {
            const xllm_st_tensor *x = xllm_st_tensor_at(sa, i), *y = xllm_st_find(sb, x->name);
            if (norm_tol > 0 && strstr(x->name, "norm") && y && x->nbytes == y->nbytes) {
                for (uint64_t k = 0; k < x->nbytes / 4; k++)
                    CHECK_NEAR(((const float *)x->data)[k], ((const float *)y->data)[k], norm_tol);
                continue;
            }
            CHECK_MSG(cu_same_tensor(x, y), "tensor '%s' differs after the round trip", x->name);
        }
    }
    xllm_st_close(sa);
    xllm_st_close(sb);
}

static void roundtrip(int kind, const char *cfg, int tied, double norm_tol)
{
    char dir[64], gguf[128], back[128];
    xllm_convert_opts o = {.type = "f32", .n_threads = 2};
    xllm_gguf *g = NULL;
    CHECK(make_model(dir, sizeof dir, kind, cfg, tied));
    snprintf(gguf, sizeof gguf, "%s/out.gguf", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    CHECK_OK(xllm_convert(dir, gguf, &o));
    CHECK_OK(xllm_gguf_open(gguf, &g));
    if (g) {
        uint32_t ft = 99, qv = 0;
        CHECK_OK(xllm_gguf_get_u32(g, "general.file_type", &ft));
        CHECK_EQ_INT(ft, 0);
        CHECK_OK(xllm_gguf_get_u32(g, "general.quantization_version", &qv));
        CHECK_EQ_INT(qv, 2);
        for (int64_t i = 0; i < xllm_gguf_n_tensors(g); i++)
            CHECK_EQ_INT(xllm_gguf_tensor_at(g, i)->dtype, XLLM_DTYPE_F32);
        xllm_gguf_close(g);
    }
    CHECK_OK(xllm_convert(gguf, back, &o));
    compare_hf_dirs(dir, back, norm_tol);
    cu_rm_tree(dir);
}

TEST(convert_roundtrip_llama_f32_bitwise)
{
    xllm_log_level log_prev = cu_quiet();
    roundtrip(CU_LLAMA, llama_cfg, 0, 0);
    xllm_log_set_level(log_prev);
}

TEST(convert_roundtrip_qwen2_phi3_gemma2)
{
    xllm_log_level log_prev = cu_quiet();
    roundtrip(CU_QWEN2,
              "{\"model_type\": \"qwen2\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
              " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128,"
              " \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true}",
              1, 0);
    roundtrip(CU_PHI3,
              "{\"model_type\": \"phi3\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
              " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128,"
              " \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": false}",
              0, 0);
    /* gemma norms: (w + 1) - 1 in f32 is w within one ulp of 1 */
    roundtrip(CU_GEMMA2,
              "{\"model_type\": \"gemma2\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
              " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 16,"
              " \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-06, \"sliding_window\": 8,"
              " \"query_pre_attn_scalar\": 24, \"final_logit_softcapping\": 30.0, \"attn_logit_softcapping\": 50.0}",
              1, 2.5e-7);
    xllm_log_set_level(log_prev);
}

TEST(convert_reverse_config_json)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], gguf[128], back[128];
    xllm_convert_opts o = {.type = "f32", .n_threads = 1};
    json_t *c;
    const char *llama3 =
        "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128,"
        " \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true,"
        " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
        " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}}";
    CHECK(make_model(dir, sizeof dir, CU_LLAMA, llama3, 1));
    snprintf(gguf, sizeof gguf, "%s/m.gguf", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    CHECK_OK(xllm_convert(dir, gguf, &o));
    CHECK_OK(xllm_convert(gguf, back, &o));
    c = load_json(back, "config.json");
    CHECK(c != NULL);
    if (c) {
        json_t *rs = json_object_get(c, "rope_scaling");
        CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(c, "architectures"), 0)), "LlamaForCausalLM");
        CHECK_EQ_INT(json_integer_value(json_object_get(c, "hidden_size")), 64);
        CHECK_EQ_INT(json_integer_value(json_object_get(c, "num_key_value_heads")), 2);
        CHECK_EQ_INT(json_integer_value(json_object_get(c, "max_position_embeddings")), 128);
        CHECK_EQ_INT(json_integer_value(json_object_get(c, "vocab_size")), 96);
        CHECK_NEAR(json_number_value(json_object_get(c, "rms_norm_eps")), 1e-5, 1e-12);
        CHECK_NEAR(json_number_value(json_object_get(c, "rope_theta")), 500000.0, 0);
        CHECK(json_is_true(json_object_get(c, "tie_word_embeddings")));
        CHECK_EQ_STR(json_string_value(json_object_get(rs, "rope_type")), "llama3");
        CHECK_NEAR(json_number_value(json_object_get(rs, "factor")), 8.0, 0);
        CHECK_NEAR(json_number_value(json_object_get(rs, "high_freq_factor")), 4.0, 1e-6);
        CHECK_EQ_INT(json_integer_value(json_object_get(rs, "original_max_position_embeddings")), 64);
        json_decref(c);
    }
    compare_hf_dirs(dir, back, 0);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

TEST(convert_sharded_hf_output_reopens)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], gguf[128], back[128], again[128];
    xllm_convert_opts o = {.type = "f32", .n_threads = 1, .shard_bytes = 40000};
    xllm_gguf *a = NULL, *b = NULL;
    CHECK(make_model(dir, sizeof dir, CU_LLAMA, llama_cfg, 0));
    snprintf(gguf, sizeof gguf, "%s/m.gguf", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    snprintf(again, sizeof again, "%s/again.gguf", dir);
    CHECK_OK(xllm_convert(dir, gguf, &o));
    CHECK_OK(xllm_convert(gguf, back, &o));
    CHECK(cu_count_entries(back, "-of-") > 1);
    CHECK_EQ_INT(cu_count_entries(back, "model.safetensors.index.json"), 1);
    compare_hf_dirs(dir, back, 0);
    /* GGUF -> HF -> GGUF gives the same tensors */
    CHECK_OK(xllm_convert(back, again, &o));
    CHECK_OK(xllm_gguf_open(gguf, &a));
    CHECK_OK(xllm_gguf_open(again, &b));
    if (a && b) {
        CHECK_EQ_INT(xllm_gguf_n_tensors(a), xllm_gguf_n_tensors(b));
        for (int64_t i = 0; i < xllm_gguf_n_tensors(a); i++) {
            const xllm_gguf_tensor *x = xllm_gguf_tensor_at(a, i), *y = xllm_gguf_find_tensor(b, x->name);
            CHECK_MSG(y && y->nbytes == x->nbytes && !memcmp(x->data, y->data, x->nbytes), "%s differs", x->name);
        }
    }
    xllm_gguf_close(a);
    xllm_gguf_close(b);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* ---- types ---- */

static uint32_t type_of(const char *ft, int has_output, int n_layers, const char *name, uint64_t ne0, uint64_t ne1)
{
    xllm_mix_counts mc = {n_layers, n_layers, has_output};
    uint64_t ne[4] = {ne0, ne1, 1, 1};
    return xllm_convert_tensor_type(xllm_ftype_find(ft), &mc, name, ne1 > 1 ? 2 : 1, ne);
}

TEST(convert_tensor_type_rules)
{
    xllm_log_level log_prev = cu_quiet();
    /* use_more_bits over 8 layers: 0, 3, 6, 7 */
    static const int more[8] = {1, 0, 0, 1, 0, 0, 1, 1};
    for (int l = 0; l < 8; l++) {
        char v[32], d[32], q[32];
        snprintf(v, sizeof v, "blk.%d.attn_v.weight", l);
        snprintf(d, sizeof d, "blk.%d.ffn_down.weight", l);
        snprintf(q, sizeof q, "blk.%d.attn_q.weight", l);
        CHECK_EQ_INT(type_of("q4_k_m", 1, 8, v, 4096, 1024), more[l] ? XLLM_DTYPE_Q6_K : XLLM_DTYPE_Q4_K);
        CHECK_EQ_INT(type_of("q4_k_m", 1, 8, d, 14336, 4096), more[l] ? XLLM_DTYPE_Q6_K : XLLM_DTYPE_Q4_K);
        CHECK_EQ_INT(type_of("q5_k_m", 1, 8, d, 14336, 4096), more[l] ? XLLM_DTYPE_Q6_K : XLLM_DTYPE_Q5_K);
        CHECK_EQ_INT(type_of("q4_k_m", 1, 8, q, 4096, 4096), XLLM_DTYPE_Q4_K);
        CHECK_EQ_INT(type_of("q4_0", 1, 8, v, 4096, 1024), XLLM_DTYPE_Q4_0);
    }
    CHECK_EQ_INT(type_of("q4_k_m", 1, 8, "output.weight", 4096, 128256), XLLM_DTYPE_Q6_K);
    CHECK_EQ_INT(type_of("q4_k_m", 1, 8, "token_embd.weight", 4096, 128256), XLLM_DTYPE_Q4_K);
    CHECK_EQ_INT(type_of("q4_k_m", 0, 8, "token_embd.weight", 4096, 128256), XLLM_DTYPE_Q6_K); /* tied */
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "output.weight", 4096, 32000), XLLM_DTYPE_Q6_K);
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "token_embd.weight", 4096, 32000), XLLM_DTYPE_Q4_0);
    CHECK_EQ_INT(type_of("q8_0", 1, 8, "output.weight", 4096, 32000), XLLM_DTYPE_Q8_0);
    CHECK_EQ_INT(type_of("q6_k", 1, 8, "blk.0.ffn_up.weight", 4096, 11008), XLLM_DTYPE_Q6_K);
    CHECK_EQ_INT(type_of("q4_k_m", 1, 8, "blk.0.attn_qkv.weight", 3072, 9216), XLLM_DTYPE_Q5_K);
    CHECK_EQ_INT(type_of("q5_k_m", 1, 8, "blk.0.attn_qkv.weight", 3072, 9216), XLLM_DTYPE_Q6_K);
    /* fallbacks on 64-wide rows */
    CHECK_EQ_INT(type_of("q4_k_m", 1, 8, "blk.1.attn_q.weight", 64, 64), XLLM_DTYPE_Q5_0);
    CHECK_EQ_INT(type_of("q4_k_m", 1, 8, "blk.0.attn_v.weight", 64, 32), XLLM_DTYPE_Q8_0);
    CHECK_EQ_INT(type_of("q5_k_m", 1, 8, "blk.1.attn_q.weight", 64, 64), XLLM_DTYPE_Q5_1);
    CHECK_EQ_INT(type_of("q4_k_m", 1, 8, "output.weight", 64, 96), XLLM_DTYPE_Q8_0);
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "output.weight", 64, 96), XLLM_DTYPE_Q8_0);
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "blk.0.attn_q.weight", 48, 48), XLLM_DTYPE_F16);
    /* always F32 */
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "blk.0.attn_norm.weight", 4096, 1), XLLM_DTYPE_F32);
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "blk.0.attn_q.bias", 4096, 1), XLLM_DTYPE_F32);
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "position_embd.weight", 384, 512), XLLM_DTYPE_F32);
    CHECK_EQ_INT(type_of("q4_0", 1, 8, "token_types.weight", 384, 2), XLLM_DTYPE_F32);
    CHECK_EQ_INT(type_of("f16", 1, 8, "token_types.weight", 384, 2), XLLM_DTYPE_F32);
    CHECK_EQ_INT(type_of("bf16", 1, 8, "output.weight", 4096, 32000), XLLM_DTYPE_BF16);
    CHECK(xllm_ftype_find("q4_k_m")->llama_ftype == 15 && xllm_ftype_find("bf16")->llama_ftype == 32 &&
          xllm_ftype_find("q8_0")->llama_ftype == 7 && xllm_ftype_find("q5_1")->llama_ftype == 9);
    xllm_log_set_level(log_prev);
}

/* A real file: 8 layers of 256-wide rows in q4_k_m. */
TEST(convert_q4_k_m_file_types)
{
    xllm_log_level log_prev = cu_quiet();
    static const int more[8] = {1, 0, 0, 1, 0, 0, 1, 1};
    cu_dims d = {96, 256, 256, 8, 4, 2, 64};
    cu_model m = {.seed = 21};
    char dir[64], gguf[128];
    xllm_convert_opts o = {.type = "q4_k_m", .n_threads = 2};
    xllm_gguf *g = NULL;
    const char *cfg =
        "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 256, \"num_hidden_layers\": 8,"
        " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128,"
        " \"rms_norm_eps\": 1e-05}";
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_LLAMA, d, 0);
    CHECK(cu_write_model(dir, &m, cfg));
    cu_free(&m);
    snprintf(gguf, sizeof gguf, "%s/q.gguf", dir);
    CHECK_OK(xllm_convert(dir, gguf, &o));
    CHECK_OK(xllm_gguf_open(gguf, &g));
    if (g) {
        uint32_t ft = 0;
        CHECK_OK(xllm_gguf_get_u32(g, "general.file_type", &ft));
        CHECK_EQ_INT(ft, 15);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "token_embd.weight")->dtype, XLLM_DTYPE_Q4_K);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "output.weight")->dtype, XLLM_DTYPE_Q6_K);
        CHECK_EQ_INT(xllm_gguf_find_tensor(g, "output_norm.weight")->dtype, XLLM_DTYPE_F32);
        for (int l = 0; l < 8; l++) {
            char n[40];
            snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
            CHECK_EQ_INT(xllm_gguf_find_tensor(g, n)->dtype, more[l] ? XLLM_DTYPE_Q6_K : XLLM_DTYPE_Q4_K);
            snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l);
            CHECK_EQ_INT(xllm_gguf_find_tensor(g, n)->dtype, more[l] ? XLLM_DTYPE_Q6_K : XLLM_DTYPE_Q4_K);
            snprintf(n, sizeof n, "blk.%d.ffn_gate.weight", l);
            CHECK_EQ_INT(xllm_gguf_find_tensor(g, n)->dtype, XLLM_DTYPE_Q4_K);
            snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l);
            CHECK_EQ_INT(xllm_gguf_find_tensor(g, n)->dtype, XLLM_DTYPE_F32);
        }
        xllm_gguf_close(g);
    }
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* ---- failures ---- */

TEST(convert_bad_arguments_name_the_problem)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], out[128], nonempty[128];
    xllm_convert_opts o = {.type = "q3_x", .n_threads = 1};
    CHECK(make_model(dir, sizeof dir, CU_LLAMA, llama_cfg, 0));
    snprintf(out, sizeof out, "%s/o.gguf", dir);
    CHECK(xllm_convert(dir, out, &o) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "q3_x") && strstr(xllm_last_error(), "q4_k_m"));
    CHECK(!xllm_path_exists(out));
    o.type = "f32";
    CHECK_OK(xllm_convert(dir, out, &o));
    /* reverse into a non-empty directory is refused */
    snprintf(nonempty, sizeof nonempty, "%s", dir);
    CHECK(xllm_convert(out, nonempty, &o) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "refusing") != NULL);
    o.dtype = "q4_0";
    snprintf(nonempty, sizeof nonempty, "%s/new", dir);
    CHECK(xllm_convert(out, nonempty, &o) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "--dtype") != NULL);
    CHECK(!xllm_path_exists(nonempty));
    /* input that is neither */
    CHECK(xllm_convert("/nonexistent/model.gguf", out, &o) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "/nonexistent/model.gguf") != NULL);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

TEST(convert_interrupted_leaves_no_output)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], out[128], back[128];
    xllm_convert_opts o = {.type = "q8_0", .n_threads = 1, .test_fail_after = 5};
    CHECK(make_model(dir, sizeof dir, CU_LLAMA, llama_cfg, 0));
    snprintf(out, sizeof out, "%s/o.gguf", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    CHECK(xllm_convert(dir, out, &o) == XLLM_ERR_CANCELLED);
    CHECK(!xllm_path_exists(out));
    CHECK_EQ_INT(cu_count_entries(dir, "partial"), 0);
    /* reverse direction, several shards, fails after the first */
    o.test_fail_after = 0;
    o.type = "f32";
    CHECK_OK(xllm_convert(dir, out, &o));
    o.test_fail_after = 1;
    o.shard_bytes = 40000;
    CHECK(xllm_convert(out, back, &o) == XLLM_ERR_CANCELLED);
    CHECK(!xllm_path_exists(back));
    CHECK_EQ_INT(cu_count_entries(dir, "partial"), 0);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* Every allocation failure on the way either fails cleanly (no output, no
 * partial file) or the conversion succeeds. */
TEST(convert_alloc_failures_leave_no_output)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], out[128], back[128];
    xllm_convert_opts o = {.type = "q4_0", .n_threads = 1}, rev = {.n_threads = 1};
    int failures = 0, done = 0;
    CHECK(make_model(dir, sizeof dir, CU_QWEN2,
                     "{\"model_type\": \"qwen2\", \"hidden_size\": 64, \"intermediate_size\": 128,"
                     " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                     " \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-06}",
                     1));
    snprintf(out, sizeof out, "%s/o.gguf", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    for (long n = 0; n < 400 && !done; n += 3) {
        xllm_status st;
        xllm_alloc_fail_after(n);
        st = xllm_convert(dir, out, &o);
        xllm_alloc_fail_after(-1);
        if (st == XLLM_OK) {
            done = 1;
            break;
        }
        failures++;
        CHECK_MSG(!xllm_path_exists(out), "output exists after failure at allocation %ld", n);
        CHECK_EQ_INT(cu_count_entries(dir, "partial"), 0);
    }
    CHECK(done);
    CHECK(failures > 5);
    done = 0;
    for (long n = 0; n < 400 && !done; n += 3) {
        xllm_status st;
        xllm_alloc_fail_after(n);
        st = xllm_convert(out, back, &rev);
        xllm_alloc_fail_after(-1);
        if (st == XLLM_OK) {
            done = 1;
            break;
        }
        CHECK_MSG(!xllm_path_exists(back), "output dir exists after failure at allocation %ld", n);
        CHECK_EQ_INT(cu_count_entries(dir, "partial"), 0);
    }
    CHECK(done);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

TEST(convert_gguf_unknown_arch_is_refused)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], path[128], back[128];
    xllm_gguf *g = NULL;
    float w[4] = {1, 2, 3, 4};
    uint64_t ne[1] = {4};
    CHECK(cu_mkdtemp(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    snprintf(back, sizeof back, "%s/back", dir);
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_OK(xllm_gguf_set_str(g, "general.architecture", "mamba"));
    CHECK_OK(xllm_gguf_add_tensor(g, "x.weight", XLLM_DTYPE_F32, 1, ne, w, sizeof w));
    CHECK_OK(xllm_gguf_write(g, path));
    xllm_gguf_close(g);
    CHECK(xllm_convert(path, back, NULL) == XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "mamba") && strstr(xllm_last_error(), "m.gguf"));
    CHECK(!xllm_path_exists(back));
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* A GGUF with vocabulary type `model` (tiny SentencePiece-style pieces) and one
 * embedding tensor, converted to an HF directory in memory. */
static xllm_status convert_with_vocab(const char *model, const char *back)
{
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c",
                                       "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab", "abc", "\xe2\x96\x81" "abc"};
    enum { N = sizeof toks / sizeof toks[0] };
    uint64_t lens[N], ne[2] = {4, N};
    float scores[N], w[4 * N] = {0};
    int32_t types[N];
    xllm_gguf *g = NULL;
    xllm_status st;
    for (int i = 0; i < N; i++) {
        lens[i] = strlen(toks[i]);
        scores[i] = -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
    }
    if ((st = xllm_gguf_new(&g)) == XLLM_OK &&
        ((st = xllm_gguf_set_str(g, "general.architecture", "llama")) ||
         (st = xllm_gguf_set_u32(g, "llama.context_length", 64)) ||
         (st = xllm_gguf_set_str(g, "tokenizer.ggml.model", model)) ||
         (st = xllm_gguf_set_arr_str(g, "tokenizer.ggml.tokens", toks, lens, N)) ||
         (st = xllm_gguf_set_arr(g, "tokenizer.ggml.scores", XLLM_GGUF_FLOAT32, scores, N)) ||
         (st = xllm_gguf_set_arr(g, "tokenizer.ggml.token_type", XLLM_GGUF_INT32, types, N)) ||
         (st = xllm_gguf_set_u32(g, "tokenizer.ggml.bos_token_id", 1)) ||
         (st = xllm_gguf_set_u32(g, "tokenizer.ggml.eos_token_id", 2)) ||
         (st = xllm_gguf_set_str(g, "tokenizer.chat_template", "{{ messages }}")) ||
         (st = xllm_gguf_add_tensor(g, "token_embd.weight", XLLM_DTYPE_F32, 2, ne, w, sizeof w))) == XLLM_OK)
        st = xllm_convert_to_hf(g, back, NULL);
    xllm_gguf_close(g);
    return st;
}

/* GGUF -> HF writes tokenizer.json + tokenizer_config.json (same ids, template,
 * context length); a vocabulary the exporter refuses (t5) costs only the
 * tokenizer files, not the conversion. */
TEST(convert_hf_writes_tokenizer_files)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], back[128], path[192];
    xllm_tokenizer *t = NULL;
    json_t *cfg;
    CHECK(cu_mkdtemp(dir, sizeof dir));
    snprintf(back, sizeof back, "%s/spm", dir);
    CHECK_OK(convert_with_vocab("llama", back));
    CHECK_OK(xllm_tokenizer_open_path(back, &t));
    if (t) {
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(xllm_tokenize(t, "abc ab cab", 10, 1, 1, &ids, &n));
        /* <s> \u2581abc \u2581ab \u2581 c ab */
        CHECK(n == 6 && ids[0] == 1 && ids[1] == 11 && ids[2] == 9 && ids[3] == 3 && ids[4] == 6 && ids[5] == 8);
        xllm_free(ids);
    }
    xllm_tokenizer_free(t);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", back);
    cfg = json_load_file(path, 0, NULL);
    CHECK(cfg && json_integer_value(json_object_get(cfg, "model_max_length")) == 64 &&
          !strcmp(json_string_value(json_object_get(cfg, "chat_template")), "{{ messages }}") &&
          json_is_true(json_object_get(cfg, "add_bos_token")));
    json_decref(cfg);
    snprintf(back, sizeof back, "%s/t5", dir);
    CHECK_OK(convert_with_vocab("t5", back));
    snprintf(path, sizeof path, "%s/config.json", back);
    CHECK(xllm_path_exists(path));
    snprintf(path, sizeof path, "%s/tokenizer.json", back);
    CHECK(!xllm_path_exists(path));
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}
