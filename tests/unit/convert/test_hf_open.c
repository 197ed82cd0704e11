/* test_hf_open.c - the HF directory -> GGUF view: standard names and shapes,
 * the llama Q/K permutation (checked against an index formula written here),
 * gemma norms stored as 1 + w, tied embeddings, llama3 rope_freqs (checked
 * against HF's formula in double precision), hyper-parameter keys, and errors
 * that name the file and the problem. */
#include <math.h>

#include "../test.h"
#include "conv_util.h"
#include "model/hf.h"
#include "model/hf_map.h"

static const cu_dims tiny = {96, 64, 128, 2, 4, 2, 16};

static const char *llama_cfg =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 96,"
    " \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
    " \"num_key_value_heads\": 2, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-05,"
    " \"rope_theta\": 10000.0, \"tie_word_embeddings\": false}";

static const xllm_st_tensor *find_hf(const cu_model *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name))
            return &m->t[i];
    return NULL;
}

TEST(permute_rows_inverse_is_identity)
{
    xllm_log_level log_prev = cu_quiet();
    float a[8 * 3], b[8 * 3], c[8 * 3];
    for (int i = 0; i < 24; i++)
        a[i] = (float)i;
    /* 2 heads of 4 rows: GGUF row (h, 2j + k) = HF row (h, k * 2 + j) */
    xllm_hf_permute_rows(a, b, 8, 3 * sizeof(float), 2, 0);
    CHECK_EQ_INT((int)b[1 * 3], 2 * 3);  /* gguf row 1 = hf row 2 */
    CHECK_EQ_INT((int)b[2 * 3], 1 * 3);  /* gguf row 2 = hf row 1 */
    CHECK_EQ_INT((int)b[5 * 3], 6 * 3);  /* head 1: gguf row 5 = hf row 6 */
    xllm_hf_permute_rows(b, c, 8, 3 * sizeof(float), 2, 1);
    CHECK(memcmp(a, c, sizeof a) == 0);
    xllm_log_set_level(log_prev);
}

TEST(hf_open_llama_names_shapes_permutation)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64];
    cu_model m = {.seed = 1};
    xllm_gguf *g = NULL;
    uint32_t u = 0;
    float f = 0;
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_LLAMA, tiny, 0);
    CHECK(cu_write_model(dir, &m, llama_cfg));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        const xllm_gguf_tensor *q = xllm_gguf_find_tensor(g, "blk.1.attn_q.weight");
        const xllm_gguf_tensor *k = xllm_gguf_find_tensor(g, "blk.0.attn_k.weight");
        const xllm_gguf_tensor *v = xllm_gguf_find_tensor(g, "blk.0.attn_v.weight");
        const xllm_st_tensor *hq = find_hf(&m, "model.layers.1.self_attn.q_proj.weight");
        const xllm_st_tensor *hk = find_hf(&m, "model.layers.0.self_attn.k_proj.weight");
        const xllm_st_tensor *hv = find_hf(&m, "model.layers.0.self_attn.v_proj.weight");
        char *arch = xllm_gguf_dup_str(g, "general.architecture");
        int bad = 0;
        CHECK_EQ_STR(arch, "llama");
        xllm_free(arch);
        CHECK_OK(xllm_gguf_get_u32(g, "llama.block_count", &u));
        CHECK_EQ_INT(u, 2);
        CHECK_OK(xllm_gguf_get_u32(g, "llama.attention.head_count_kv", &u));
        CHECK_EQ_INT(u, 2);
        CHECK_OK(xllm_gguf_get_u32(g, "llama.rope.dimension_count", &u));
        CHECK_EQ_INT(u, 16);
        CHECK_OK(xllm_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f));
        CHECK_NEAR(f, 1e-5, 1e-12);
        CHECK(xllm_gguf_find_tensor(g, "output.weight") != NULL);
        CHECK(xllm_gguf_find_tensor(g, "token_embd.weight") != NULL);
        CHECK(xllm_gguf_find_tensor(g, "blk.1.ffn_down.weight") != NULL);
        CHECK_EQ_INT(xllm_gguf_n_tensors(g), 3 + 2 * 9);
        CHECK(q && k && v && hq && hk && hv);
        if (q && k && v && hq && hk && hv) {
            CHECK_EQ_INT(q->ne[0], 64);
            CHECK_EQ_INT(q->ne[1], 64);
            CHECK_EQ_INT(k->ne[1], 32);
            CHECK_EQ_INT(q->dtype, XLLM_DTYPE_F32);
            /* GGUF row r of head h, position i = 2j + s holds HF row h*hd + s*hd/2 + j */
            for (int r = 0; r < 64; r++) {
                int h = r / 16, i = r % 16, src = h * 16 + (i % 2) * 8 + i / 2;
                bad += memcmp((const float *)q->data + r * 64, (const float *)hq->data + src * 64, 64 * 4) != 0;
            }
            for (int r = 0; r < 32; r++) {
                int h = r / 16, i = r % 16, src = h * 16 + (i % 2) * 8 + i / 2;
                bad += memcmp((const float *)k->data + r * 64, (const float *)hk->data + src * 64, 64 * 4) != 0;
            }
            CHECK_EQ_INT(bad, 0);
            CHECK(memcmp(v->data, hv->data, hv->nbytes) == 0); /* V unchanged */
        }
        xllm_gguf_close(g);
    }
    cu_free(&m);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

TEST(hf_open_gemma2_norms_tied_swa)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64];
    cu_model m = {.seed = 2};
    xllm_gguf *g = NULL;
    const char *cfg =
        "{\"architectures\": [\"Gemma2ForCausalLM\"], \"model_type\": \"gemma2\", \"vocab_size\": 96,"
        " \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
        " \"num_key_value_heads\": 2, \"head_dim\": 16, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-06,"
        " \"rope_theta\": 10000.0, \"query_pre_attn_scalar\": 24, \"attn_logit_softcapping\": 50.0,"
        " \"final_logit_softcapping\": 30.0, \"sliding_window\": 8, \"tie_word_embeddings\": true}";
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_GEMMA2, tiny, 1);
    CHECK(cu_write_model(dir, &m, cfg));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        const xllm_gguf_tensor *n = xllm_gguf_find_tensor(g, "blk.1.post_ffw_norm.weight");
        const xllm_st_tensor *hn = find_hf(&m, "model.layers.1.post_feedforward_layernorm.weight");
        const xllm_gguf_tensor *q = xllm_gguf_find_tensor(g, "blk.0.attn_q.weight");
        const xllm_st_tensor *hq = find_hf(&m, "model.layers.0.self_attn.q_proj.weight");
        float f = 0;
        xllm_gguf_type at;
        uint64_t count = 0;
        int64_t idx;
        CHECK(xllm_gguf_find_tensor(g, "output.weight") == NULL);
        CHECK(xllm_gguf_find_tensor(g, "blk.0.post_attention_norm.weight") != NULL);
        CHECK(xllm_gguf_find_tensor(g, "blk.0.ffn_norm.weight") != NULL);
        CHECK(n && hn && q && hq);
        if (n && hn)
            for (int i = 0; i < 64; i++)
                CHECK_NEAR(((const float *)n->data)[i], ((const float *)hn->data)[i] + 1.0f, 0);
        if (q && hq) /* gemma keeps HF's rotate-half order */
            CHECK(memcmp(q->data, hq->data, hq->nbytes) == 0);
        CHECK_OK(xllm_gguf_get_f32(g, "gemma2.attention.scale", &f));
        CHECK_NEAR(f, 1.0 / sqrt(24.0), 1e-7);
        CHECK_OK(xllm_gguf_get_f32(g, "gemma2.final_logit_softcapping", &f));
        CHECK_NEAR(f, 30.0, 0);
        CHECK_OK(xllm_gguf_get_arr(g, "gemma2.attention.sliding_window_pattern", &at, &count));
        CHECK_EQ_INT(at, XLLM_GGUF_BOOL);
        CHECK_EQ_INT(count, 2);
        idx = xllm_gguf_find(g, "gemma2.attention.sliding_window_pattern");
        CHECK(xllm_gguf_arr_get_f64(g, idx, 0) == 1 && xllm_gguf_arr_get_f64(g, idx, 1) == 0);
        xllm_gguf_close(g);
    }
    cu_free(&m);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* rope_freqs against HF's llama3 formula (modeling_rope_utils), computed here in double. */
TEST(hf_open_llama3_rope_freqs)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64];
    cu_model m = {.seed = 3};
    xllm_gguf *g = NULL;
    const char *cfg =
        "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128,"
        " \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true,"
        " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0,"
        " \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}}";
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_LLAMA, tiny, 1);
    CHECK(cu_write_model(dir, &m, cfg));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        const xllm_gguf_tensor *rf = xllm_gguf_find_tensor(g, "rope_freqs.weight");
        CHECK(rf != NULL);
        CHECK(xllm_gguf_find_tensor(g, "output.weight") == NULL);
        CHECK(xllm_gguf_find(g, "llama.rope.scaling.type") < 0); /* llama.cpp writes none for llama3 */
        if (rf) {
            int bands[3] = {0, 0, 0};
            CHECK_EQ_INT(rf->ne[0], 8);
            for (int i = 0; i < 8; i++) {
                double inv = pow(500000.0, -2.0 * i / 16), wl = 2 * M_PI / inv, want_inv;
                double got = ((const float *)rf->data)[i];
                if (wl < 64.0 / 4) {
                    want_inv = inv;
                    bands[0]++;
                } else if (wl > 64.0 / 1) {
                    want_inv = inv / 8;
                    bands[2]++;
                } else {
                    double s = (64.0 / wl - 1) / (4 - 1);
                    want_inv = (1 - s) * inv / 8 + s * inv;
                    bands[1]++;
                }
                CHECK_NEAR(inv / got, want_inv, 1e-5 * want_inv); /* GGUF divides theta by the factor */
            }
            CHECK(bands[0] && bands[1] && bands[2]);
        }
        xllm_gguf_close(g);
    }
    cu_free(&m);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

static void expect_error(const char *dir, const char *part1, const char *part2)
{
    xllm_gguf *g = NULL;
    xllm_status st = xllm_hf_open(dir, &g);
    CHECK(st != XLLM_OK);
    CHECK(g == NULL);
    CHECK_MSG(strstr(xllm_last_error(), part1) != NULL, "error '%s' lacks '%s'", xllm_last_error(), part1);
    if (part2)
        CHECK_MSG(strstr(xllm_last_error(), part2) != NULL, "error '%s' lacks '%s'", xllm_last_error(), part2);
    if (g)
        xllm_gguf_close(g);
}

TEST(hf_open_errors_name_file_and_problem)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64], broken[128];
    cu_model m = {.seed = 4};
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_LLAMA, tiny, 0);
    /* no config.json */
    expect_error(dir, "config.json", NULL);
    /* corrupt config.json */
    CHECK(cu_write_model(dir, &m, "{\"model_type\": \"llama\",\n \"hidden_size\": }"));
    expect_error(dir, "config.json:2", "invalid JSON");
    /* unknown architecture */
    CHECK(cu_write_text(dir, "config.json", "{\"model_type\": \"mamba\", \"architectures\": [\"MambaForCausalLM\"]}"));
    expect_error(dir, "mamba", "supported: llama");
    /* missing hyper-parameter */
    CHECK(cu_write_text(dir, "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 64}"));
    expect_error(dir, "max_position_embeddings", "config.json");
    /* missing tensor */
    cu_drop(&m, "model.layers.1.mlp.up_proj.weight");
    CHECK(cu_write_model(dir, &m, llama_cfg));
    expect_error(dir, "model.layers.1.mlp.up_proj.weight", "missing");
    /* unexpected tensor */
    cu_add(&m, 64, 128, "model.layers.1.mlp.up_proj.weight", 0);
    cu_add(&m, 4, 4, "model.extra_thing.weight", 0);
    CHECK(cu_write_model(dir, &m, llama_cfg));
    expect_error(dir, "model.extra_thing.weight", "model.safetensors");
    /* corrupt safetensors */
    CHECK(cu_write_text(dir, "model.safetensors", "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":"));
    expect_error(dir, "model.safetensors", NULL);
    /* not a directory */
    snprintf(broken, sizeof broken, "%s/nope", dir);
    expect_error(broken, "nope", NULL);
    cu_free(&m);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

TEST(hf_open_phi3_bert_nomic_names)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64];
    cu_model m = {.seed = 5};
    xllm_gguf *g = NULL;
    const char *phi3 =
        "{\"model_type\": \"phi3\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128,"
        " \"original_max_position_embeddings\": 128, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,"
        " \"partial_rotary_factor\": 0.5, \"sliding_window\": null}";
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_PHI3, tiny, 0);
    CHECK(cu_write_model(dir, &m, phi3));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        const xllm_gguf_tensor *qkv = xllm_gguf_find_tensor(g, "blk.0.attn_qkv.weight");
        const xllm_gguf_tensor *up = xllm_gguf_find_tensor(g, "blk.1.ffn_up.weight");
        uint32_t rot = 0;
        CHECK(qkv && qkv->ne[0] == 64 && qkv->ne[1] == 128);
        CHECK(up && up->ne[0] == 64 && up->ne[1] == 256);
        CHECK_OK(xllm_gguf_get_u32(g, "phi3.rope.dimension_count", &rot));
        CHECK_EQ_INT(rot, 8);
        CHECK(xllm_gguf_find(g, "phi3.attention.sliding_window") < 0);
        xllm_gguf_close(g);
        g = NULL;
    }
    cu_free(&m);
    /* bert with the "bert." prefix of BertForMaskedLM, a pooler and an MLM head to skip */
    {
        const char *bert =
            "{\"model_type\": \"bert\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 1,"
            " \"num_attention_heads\": 4, \"max_position_embeddings\": 32, \"layer_norm_eps\": 1e-12}";
        static const struct { const char *n; int r, c; } bt[] = {
            {"bert.embeddings.word_embeddings.weight", 96, 64},
            {"bert.embeddings.position_embeddings.weight", 32, 64},
            {"bert.embeddings.token_type_embeddings.weight", 2, 64},
            {"bert.embeddings.LayerNorm.weight", 64, 0}, {"bert.embeddings.LayerNorm.bias", 64, 0},
            {"bert.encoder.layer.0.attention.self.query.weight", 64, 64},
            {"bert.encoder.layer.0.attention.self.query.bias", 64, 0},
            {"bert.encoder.layer.0.attention.self.key.weight", 64, 64},
            {"bert.encoder.layer.0.attention.self.key.bias", 64, 0},
            {"bert.encoder.layer.0.attention.self.value.weight", 64, 64},
            {"bert.encoder.layer.0.attention.self.value.bias", 64, 0},
            {"bert.encoder.layer.0.attention.output.dense.weight", 64, 64},
            {"bert.encoder.layer.0.attention.output.dense.bias", 64, 0},
            {"bert.encoder.layer.0.attention.output.LayerNorm.weight", 64, 0},
            {"bert.encoder.layer.0.attention.output.LayerNorm.bias", 64, 0},
            {"bert.encoder.layer.0.intermediate.dense.weight", 128, 64},
            {"bert.encoder.layer.0.intermediate.dense.bias", 128, 0},
            {"bert.encoder.layer.0.output.dense.weight", 64, 128},
            {"bert.encoder.layer.0.output.dense.bias", 64, 0},
            {"bert.encoder.layer.0.output.LayerNorm.weight", 64, 0},
            {"bert.encoder.layer.0.output.LayerNorm.bias", 64, 0},
            {"bert.pooler.dense.weight", 64, 64}, {"cls.predictions.bias", 96, 0},
        };
        for (size_t i = 0; i < sizeof bt / sizeof bt[0]; i++)
            cu_add(&m, (uint64_t)bt[i].r, (uint64_t)bt[i].c, bt[i].n, 0);
        CHECK(cu_write_model(dir, &m, bert));
        CHECK(cu_write_text(dir, "modules.json",
                            "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                            "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]"));
        {
            char sub[128];
            snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
            mkdir(sub, 0755);
            CHECK(cu_write_text(sub, "config.json", "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false}"));
        }
        CHECK_OK(xllm_hf_open(dir, &g));
        if (g) {
            uint32_t pool = 0;
            int causal = 1;
            CHECK(xllm_gguf_find_tensor(g, "blk.0.layer_output_norm.bias") != NULL);
            CHECK(xllm_gguf_find_tensor(g, "blk.0.attn_output_norm.weight") != NULL);
            CHECK(xllm_gguf_find_tensor(g, "token_types.weight") != NULL);
            CHECK(xllm_gguf_find_tensor(g, "position_embd.weight") != NULL);
            CHECK_EQ_INT(xllm_gguf_n_tensors(g), 21);
            CHECK_OK(xllm_gguf_get_u32(g, "bert.pooling_type", &pool));
            CHECK_EQ_INT(pool, 2);
            CHECK_OK(xllm_gguf_get_bool(g, "bert.attention.causal", &causal));
            CHECK_EQ_INT(causal, 0);
            xllm_gguf_close(g);
        }
        cu_free(&m);
    }
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* The real fixtures (when generated) open with the expected GGUF keys. */
TEST(hf_open_fixture_keys)
{
    xllm_log_level log_prev = cu_quiet();
    static const struct { const char *dir, *key; double want; } cases[] = {
        {"tests/fixtures/models/gemma3", "gemma3.rope.freq_base_swa", 10000.0},
        {"tests/fixtures/models/gemma3", "gemma3.rope.scaling.factor", 8.0},
        {"tests/fixtures/models/gemma3", "gemma3.attention.sliding_window", 8},
        {"tests/fixtures/models/qwen3", "qwen3.attention.key_length", 32},
        {"tests/fixtures/models/nomic-bert", "nomic-bert.rope.freq_base", 1000.0},
        {"tests/fixtures/models/bert", "bert.pooling_type", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xllm_gguf *g = NULL;
        float f = -1;
        if (!xllm_path_exists(cases[i].dir)) {
            test_skip("fixtures not generated");
            break;
        }
        CHECK_OK(xllm_hf_open(cases[i].dir, &g));
        if (!g)
            continue;
        CHECK_OK(xllm_gguf_get_f32(g, cases[i].key, &f));
        CHECK_MSG(f == (float)cases[i].want, "%s: %s = %g, want %g", cases[i].dir, cases[i].key, f, cases[i].want);
        xllm_gguf_close(g);
    }
    xllm_log_set_level(log_prev);
}

/* mistral maps to llama (permuted Q/K); Gemma3ForConditionalGeneration's text
 * part comes from text_config and "language_model." tensors, vision skipped. */
TEST(hf_open_mistral_and_gemma3_multimodal)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64];
    cu_model m = {.seed = 6};
    xllm_gguf *g = NULL;
    const char *mistral =
        "{\"model_type\": \"mistral\", \"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 64,"
        " \"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\": 4,"
        " \"num_key_value_heads\": 2, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-05,"
        " \"sliding_window\": 4096, \"tie_word_embeddings\": false}";
    const char *gemma3 =
        "{\"model_type\": \"gemma3\", \"architectures\": [\"Gemma3ForConditionalGeneration\"],"
        " \"text_config\": {\"model_type\": \"gemma3_text\", \"hidden_size\": 64, \"intermediate_size\": 128,"
        " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 16,"
        " \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-06, \"sliding_window\": 8,"
        " \"sliding_window_pattern\": 2, \"rope_theta\": 1000000.0, \"rope_local_base_freq\": 10000.0,"
        " \"query_pre_attn_scalar\": 16}, \"vision_config\": {\"hidden_size\": 32}}";
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_LLAMA, tiny, 0);
    CHECK(cu_write_model(dir, &m, mistral));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        char *arch = xllm_gguf_dup_str(g, "general.architecture");
        uint32_t sw = 0;
        CHECK_EQ_STR(arch, "llama");
        xllm_free(arch);
        CHECK_OK(xllm_gguf_get_u32(g, "llama.attention.sliding_window", &sw));
        CHECK_EQ_INT(sw, 4096);
        xllm_gguf_close(g);
        g = NULL;
    }
    cu_free(&m);
    m.seed = 7;
    cu_decoder(&m, CU_GEMMA3, tiny, 1);
    for (int i = 0; i < m.n; i++) {
        char tmp[96];
        snprintf(tmp, sizeof tmp, "language_model.%s", m.names[i]);
        memcpy(m.names[i], tmp, sizeof tmp);
    }
    cu_add(&m, 8, 8, "vision_tower.vision_model.embeddings.patch_embedding.weight", 0);
    cu_add(&m, 8, 0, "multi_modal_projector.mm_soft_emb_norm.weight", 0);
    CHECK(cu_write_model(dir, &m, gemma3));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        float f = 0;
        xllm_gguf_type at;
        uint64_t count = 0;
        int64_t idx;
        CHECK(xllm_gguf_find_tensor(g, "blk.1.attn_k_norm.weight") != NULL);
        CHECK(xllm_gguf_find_tensor(g, "token_embd.weight") != NULL);
        CHECK_EQ_INT(xllm_gguf_n_tensors(g), 2 + 2 * 13);
        CHECK_OK(xllm_gguf_get_f32(g, "gemma3.rope.freq_base", &f));
        CHECK_NEAR(f, 1e6, 0);
        CHECK_OK(xllm_gguf_get_f32(g, "gemma3.rope.freq_base_swa", &f));
        CHECK_NEAR(f, 1e4, 0);
        CHECK_OK(xllm_gguf_get_arr(g, "gemma3.attention.sliding_window_pattern", &at, &count));
        idx = xllm_gguf_find(g, "gemma3.attention.sliding_window_pattern");
        CHECK(count == 2 && xllm_gguf_arr_get_f64(g, idx, 0) == 1 && xllm_gguf_arr_get_f64(g, idx, 1) == 0);
        xllm_gguf_close(g);
    }
    cu_free(&m);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}

/* phi3 longrope: rope_factors_long/short tensors and attn_factor =
 * sqrt(1 + ln(ctx / orig_ctx) / ln(orig_ctx)), as llama.cpp's converter. */
TEST(hf_open_phi3_longrope)
{
    xllm_log_level log_prev = cu_quiet();
    char dir[64];
    cu_model m = {.seed = 8};
    xllm_gguf *g = NULL;
    const char *cfg =
        "{\"model_type\": \"phi3\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
        " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 4096,"
        " \"original_max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0,"
        " \"rope_scaling\": {\"type\": \"longrope\", \"long_factor\": [1,2,3,4,5,6,7,8],"
        " \"short_factor\": [1,1,1,1,1.5,1.5,2,2]}}";
    CHECK(cu_mkdtemp(dir, sizeof dir));
    cu_decoder(&m, CU_PHI3, tiny, 0);
    CHECK(cu_write_model(dir, &m, cfg));
    CHECK_OK(xllm_hf_open(dir, &g));
    if (g) {
        const xllm_gguf_tensor *l = xllm_gguf_find_tensor(g, "rope_factors_long.weight");
        const xllm_gguf_tensor *s = xllm_gguf_find_tensor(g, "rope_factors_short.weight");
        float f = 0;
        uint32_t u = 0;
        CHECK(l && s && l->ne[0] == 8 && s->ne[0] == 8);
        if (l && s)
            CHECK(((const float *)l->data)[7] == 8.0f && ((const float *)s->data)[4] == 1.5f);
        CHECK_OK(xllm_gguf_get_f32(g, "phi3.rope.scaling.attn_factor", &f));
        CHECK_NEAR(f, sqrt(1 + log(8.0) / log(512.0)), 1e-6);
        CHECK_OK(xllm_gguf_get_u32(g, "phi3.rope.scaling.original_context_length", &u));
        CHECK_EQ_INT(u, 512);
        xllm_gguf_close(g);
    }
    cu_free(&m);
    cu_rm_tree(dir);
    xllm_log_set_level(log_prev);
}
