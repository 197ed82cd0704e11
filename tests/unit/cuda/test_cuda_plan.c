/* test_cuda_plan.c - the CUDA engine's GPU-free parts: batch checks and the
 * flattened block tables (cuda/cuda_plan.c), memory planning against sizes
 * computed by hand for the demo model, device-spec parsing, and (when the
 * plugin is built: XLLM_CUDA_MANIFEST) its manifest, ABI table and a load
 * without a GPU that fails with a clear message. */
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "cuda_plan.h"
#include "engine/engine_host.h"
#include "format/gguf.h"
#include "model/model.h"

static xllm_hparams toy_hp(void)
{
    xllm_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.arch = xllm_arch_find("llama");
    hp.n_vocab = 100;
    hp.n_embd = 64;
    hp.n_layer = 2;
    hp.n_head = 4;
    hp.n_head_kv = 2;
    hp.head_dim_k = hp.head_dim_v = 16;
    return hp;
}

TEST(cuda_plan_tables)
{
    xllm_hparams hp = toy_hp();
    int32_t tok[5] = {1, 2, 3, 4, 5}, pos[5] = {0, 16, 17, 40, 3}, seq[5] = {0, 0, 0, 1, 2};
    int32_t t0[2] = {7, 9}, t1[3] = {1, 2, 11}, t2[1] = {5};
    const int32_t *tabs[3] = {t0, t1, t2};
    int32_t counts[3] = {2, 3, 1};
    uint8_t want[5] = {0, 1, 0, 1, 1};
    float logits[1];
    char err[256];
    xllm_batch b;
    xc_batch_plan p;
    memset(&p, 0, sizeof p);
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    b.n_tokens = 5, b.tokens = tok, b.positions = pos, b.seq = seq, b.n_seqs = 3;
    b.block_tables = tabs, b.block_counts = counts, b.want_logits = want, b.logits = logits;
    CHECK_OK(xc_batch_plan_make(&hp, 16, 8, &b, &p, err, sizeof err));
    CHECK_EQ_INT(p.table_stride, 16); /* seq 1 reaches position 40: 3 blocks, padded to 16 */
    CHECK_EQ_INT(p.tables[0], 7);
    CHECK_EQ_INT(p.tables[1], 9);
    CHECK_EQ_INT(p.tables[2], 0);
    CHECK_EQ_INT(p.tables[15], 0);
    CHECK_EQ_INT(p.tables[16], 1);
    CHECK_EQ_INT(p.tables[18], 11);
    CHECK_EQ_INT(p.tables[19], 0);
    CHECK_EQ_INT(p.tables[32], 5);
    /* padded widths: powers of two from 16, so decode graphs are reused */
    CHECK_EQ_INT(xc_table_width(1), 16);
    CHECK_EQ_INT(xc_table_width(16), 16);
    CHECK_EQ_INT(xc_table_width(17), 32);
    CHECK_EQ_INT(xc_table_width(129), 256);
    CHECK_EQ_INT(p.n_rows, 3);
    CHECK_EQ_INT(p.rows[0], 1);
    CHECK_EQ_INT(p.rows[2], 4);
    /* a block id outside the pool, a table too short, a bad token */
    t1[2] = 16;
    CHECK(xc_batch_plan_make(&hp, 16, 8, &b, &p, err, sizeof err) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err, "pool has 16") != NULL);
    t1[2] = 11;
    counts[1] = 2;
    CHECK(xc_batch_plan_make(&hp, 16, 8, &b, &p, err, sizeof err) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err, "need 3") != NULL);
    counts[1] = 3;
    tok[2] = 100;
    CHECK(xc_batch_plan_make(&hp, 16, 8, &b, &p, err, sizeof err) == XLLM_ERR_INVALID_ARGUMENT);
    tok[2] = 3;
    CHECK(xc_batch_plan_make(&hp, 16, 4, &b, &p, err, sizeof err) == XLLM_ERR_INVALID_ARGUMENT); /* > max batch */
    b.logits = NULL;
    CHECK(xc_batch_plan_make(&hp, 16, 8, &b, &p, err, sizeof err) == XLLM_ERR_INVALID_ARGUMENT);
    xc_batch_plan_free(&p);
}

TEST(cuda_plan_types_and_checks)
{
    xllm_hparams hp = toy_hp();
    CHECK(xc_dtype_supported(XLLM_DTYPE_Q4_K));
    CHECK(xc_dtype_supported(XLLM_DTYPE_IQ4_NL));
    CHECK(!xc_dtype_supported(XLLM_DTYPE_IQ2_XXS));
    CHECK(xc_kv_supported(XLLM_KV_F16) && xc_kv_supported(XLLM_KV_Q8_0) && !xc_kv_supported(XLLM_KV_F32));
    CHECK_EQ_INT((int)xc_kv_row_bytes(XLLM_KV_Q8_0, 128), 136);
    CHECK_EQ_INT((int)xc_kv_row_bytes(XLLM_KV_F16, 128), 256);
    CHECK_OK(xc_model_check(&hp, "toy"));
    hp.head_dim_k = 512;
    CHECK(xc_model_check(&hp, "toy") == XLLM_ERR_UNSUPPORTED);
    hp = toy_hp();
    hp.arch = xllm_arch_find("bert");
    CHECK(xc_model_check(&hp, "toy") == XLLM_ERR_UNSUPPORTED);
}

/* The demo model (8 layers, 4 kv heads of 32, vocab 8192, dim 256, ffn 768). */
TEST(cuda_plan_sizes_demo)
{
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    xllm_model_params mp = {0};
    xc_sizes sz;
    CHECK_OK(xllm_gguf_open("models/kjv-demo.gguf", &g));
    CHECK_OK(xllm_model_load(g, &mp, &m));
    CHECK_OK(xc_plan_sizes(m, 10, 64, XLLM_KV_F16, &sz));
    CHECK_EQ_INT((int)sz.k_block_bytes, 16 * 4 * 32 * 2);
    CHECK_EQ_INT((int)sz.kv_block_bytes, 2 * 16 * 4 * 32 * 2);
    CHECK_EQ_INT((int)sz.kv_bytes, 10 * 8 * 2 * 16 * 4 * 32 * 2);
    CHECK_EQ_INT((int)sz.max_cols, 768);
    CHECK(sz.weight_bytes >= m->weight_bytes - (uint64_t)8192 * 256 * 2 && sz.weight_bytes <= m->weight_bytes + 65536);
    CHECK_OK(xc_plan_sizes(m, 10, 64, XLLM_KV_Q8_0, &sz));
    CHECK_EQ_INT((int)sz.k_block_bytes, 16 * 4 * 34);
    CHECK(xc_plan_sizes(m, 10, 64, XLLM_KV_F32, &sz) == XLLM_ERR_UNSUPPORTED);
    xllm_model_free(m);
    xllm_gguf_close(g);
}

TEST(cuda_device_parse)
{
    const char *kind;
    int32_t idx;
    CHECK_OK(xllm_device_parse("cuda:3", &kind, &idx));
    CHECK_EQ_STR(kind, "cuda");
    CHECK_EQ_INT(idx, 3);
    CHECK_OK(xllm_device_parse("cpu", &kind, &idx));
    CHECK_EQ_STR(kind, "cpu");
    CHECK_OK(xllm_device_parse("auto", &kind, &idx));
    CHECK_EQ_STR(kind, "auto");
    CHECK(xllm_device_parse("cuda:", &kind, &idx) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_device_parse("gpu", &kind, &idx) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_device_parse("cuda:-1", &kind, &idx) == XLLM_ERR_INVALID_ARGUMENT);
}

/* The built plugin (make CUDA=1): manifest, table, planning, a clear load error without a GPU. */
TEST(cuda_plugin_abi)
{
    const char *mp = getenv("XLLM_CUDA_MANIFEST");
    xllm_engine *e = NULL;
    xllm_engine_load_params p;
    xllm_engine_memory mem;
    xllm_engine_ctx *ctx = NULL;
    int rc;
    if (!mp || !*mp)
        return; /* plugin not built here */
    CHECK_OK(xllm_engine_open(mp, &e));
    CHECK_EQ_STR(e->api->name, "cuda");
    CHECK(xllm_engine_manifest_supports(&e->manifest, "gguf", "qwen3"));
    CHECK(!xllm_engine_manifest_supports(&e->manifest, NULL, "bert"));
    CHECK(e->api->kv_copy_block != NULL);
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.model_path = "models/kjv-demo.gguf";
    p.n_blocks = 10;
    p.max_batch_tokens = 64;
    mem.struct_size = sizeof mem;
    CHECK_EQ_INT(e->api->memory_required(&p, &mem), XLLM_ENGINE_OK);
    CHECK_EQ_INT((int)mem.kv_bytes, 10 * 8 * 2 * 16 * 4 * 32 * 2);
    CHECK(mem.total_bytes == mem.weight_bytes + mem.kv_bytes + mem.scratch_bytes);
    p.kv_type = XLLM_KV_F32;
    CHECK_EQ_INT(e->api->memory_required(&p, &mem), XLLM_ENGINE_UNSUPPORTED);
    p.kv_type = XLLM_KV_F16;
    rc = e->api->load(&p, &ctx);
    if (rc == XLLM_ENGINE_OK) { /* a machine with a GPU */
        xllm_engine_model_info info;
        info.struct_size = sizeof info;
        CHECK_EQ_INT(e->api->model_info(ctx, &info), XLLM_ENGINE_OK);
        CHECK_EQ_INT(info.n_vocab, 8192);
        CHECK((info.kv_types >> XLLM_KV_Q8_0) & 1u);
        e->api->free(ctx);
    } else {
        CHECK_EQ_INT(rc, XLLM_ENGINE_DEVICE_ERROR);
        CHECK(ctx == NULL);
        CHECK(strstr(e->api->last_error(NULL), "cuda") != NULL);
    }
    xllm_engine_close(e);
}
