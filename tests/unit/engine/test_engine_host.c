/* test_engine_host.c - engine manifests (validated before dlopen), plugin
 * libraries built by the test itself with cc (good, wrong ABI, wrong name),
 * and the built-in CPU engine driven through the ABI table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "../model/tiny_model.h"
#include "engine/engine_host.h"

#define GOOD_MANIFEST                                                                                            \
    "{\"name\": \"toy\", \"version\": \"1.0\", \"abi_version\": 1, \"library\": \"libtoy.so\","                \
    " \"formats\": [\"gguf\"], \"architectures\": [\"llama\", \"qwen2\"], \"devices\": [\"cuda\"]}"

TEST(engine_manifest_valid)
{
    xllm_engine_manifest m;
    CHECK_OK(xllm_engine_manifest_parse(GOOD_MANIFEST, strlen(GOOD_MANIFEST), "/opt/e/toy.json", &m));
    CHECK_EQ_STR(m.name, "toy");
    CHECK_EQ_STR(m.library, "/opt/e/libtoy.so");
    CHECK_EQ_INT(m.n_architectures, 2);
    CHECK(xllm_engine_manifest_supports(&m, "gguf", "qwen2"));
    CHECK(!xllm_engine_manifest_supports(&m, "safetensors", NULL));
    CHECK(!xllm_engine_manifest_supports(&m, NULL, "gemma2"));
    xllm_engine_manifest_free(&m);
}

static void bad_manifest(const char *from, const char *to, xllm_status want, const char *needle)
{
    char text[1024];
    const char *at = strstr(GOOD_MANIFEST, from);
    xllm_engine_manifest m;
    if (!at) {
        CHECK_MSG(0, "test bug: '%s' not in manifest", from);
        return;
    }
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD_MANIFEST), GOOD_MANIFEST, to, at + strlen(from));
    CHECK_EQ_INT(xllm_engine_manifest_parse(text, strlen(text), "m.json", &m), want);
    CHECK_MSG(strstr(xllm_last_error(), needle) != NULL, "'%s' lacks '%s'", xllm_last_error(), needle);
}

TEST(engine_manifest_errors)
{
    bad_manifest("{", "[", XLLM_ERR_FORMAT, "m.json");
    bad_manifest("\"name\": \"toy\", ", "", XLLM_ERR_FORMAT, "lacks \"name\"");
    bad_manifest("\"toy\"", "\"Toy Engine\"", XLLM_ERR_FORMAT, "[a-z0-9_.-]");
    bad_manifest("\"abi_version\": 1", "\"abi_version\": 2", XLLM_ERR_ABI_MISMATCH, "ABI 2, this xllm speaks ABI 1");
    bad_manifest("\"abi_version\": 1", "\"abi_version\": \"1\"", XLLM_ERR_FORMAT, "abi_version");
    bad_manifest("[\"gguf\"]", "[]", XLLM_ERR_FORMAT, "\"formats\" must be a non-empty array");
    bad_manifest("[\"gguf\"]", "[\"onnx\"]", XLLM_ERR_FORMAT, "unknown value \"onnx\"");
    bad_manifest("[\"cuda\"]", "[\"tpu\"]", XLLM_ERR_FORMAT, "\"tpu\"");
    bad_manifest("[\"llama\", \"qwen2\"]", "\"llama\"", XLLM_ERR_FORMAT, "architectures");
    bad_manifest("\"libtoy.so\"", "\"/usr/lib/libtoy.so\"", XLLM_ERR_FORMAT, "relative");
    bad_manifest("\"libtoy.so\"", "\"../libtoy.so\"", XLLM_ERR_FORMAT, "relative");
    bad_manifest("\"1.0\"", "1.0", XLLM_ERR_FORMAT, "\"version\"");
}

static const char toy_source[] =
    "#include \"xllm/engine.h\"\n"
    "static int mr(const xllm_engine_load_params *p, xllm_engine_memory *o) { (void)p; o->total_bytes = 7; return 0; }\n"
    "static int ld(const xllm_engine_load_params *p, xllm_engine_ctx **o) { (void)p; *o = 0; return XLLM_ENGINE_UNSUPPORTED; }\n"
    "static void fr(xllm_engine_ctx *c) { (void)c; }\n"
    "static int fw(xllm_engine_ctx *c, const xllm_batch *b) { (void)c; (void)b; return 0; }\n"
    "static const char *le(xllm_engine_ctx *c) { (void)c; return \"toy: no devices\"; }\n"
    "static int mi(xllm_engine_ctx *c, xllm_engine_model_info *o) { (void)c; (void)o; return 0; }\n"
    "static const xllm_engine_api api = {ABI, sizeof(xllm_engine_api), NAME, \"1.0\", mr, ld, fr, fw, le, mi, 0};\n"
    "const xllm_engine_api *xllm_engine_entry(unsigned v) { (void)v; return &api; }\n";

/* Build dir/<lib> from toy_source with the given ABI and name; 0 on success. */
static int build_toy(const char *dir, const char *lib, unsigned abi, const char *name)
{
    char cmd[1024], src[512];
    FILE *f;
    snprintf(src, sizeof src, "%s/toy.c", dir);
    if (!(f = fopen(src, "w")))
        return -1;
    fputs(toy_source, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -Iinclude -DABI=%uu '-DNAME=\"%s\"' -o %s/%s %s 2>/dev/null", abi,
             name, dir, lib, src);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "w"))) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(engine_plugin_open)
{
    char dir[] = "/tmp/xllm-engine-XXXXXX", path[512];
    xllm_engine *e = NULL;
    xllm_engine_ctx *ctx = (xllm_engine_ctx *)1;
    xllm_engine_load_params lp = {sizeof lp, "m.gguf", 0, 1, 1, 0, -1, 1, XLLM_KV_F16};
    xllm_engine_memory mem = {sizeof mem, 0, 0, 0, 0};
    if (!mkdtemp(dir) || build_toy(dir, "libtoy.so", 1, "toy") || build_toy(dir, "libold.so", 99, "toy") ||
        build_toy(dir, "libother.so", 1, "other")) {
        test_skip("no C compiler to build the test plugin");
        return;
    }
    write_text(dir, "toy.json", GOOD_MANIFEST);
    snprintf(path, sizeof path, "%s/toy.json", dir);
    CHECK_OK(xllm_engine_open(path, &e));
    if (e) {
        CHECK_EQ_INT(e->api->memory_required(&lp, &mem), XLLM_ENGINE_OK);
        CHECK_EQ_INT(mem.total_bytes, 7);
        CHECK_EQ_INT(e->api->load(&lp, &ctx), XLLM_ENGINE_UNSUPPORTED);
        CHECK(ctx == NULL);
        CHECK_EQ_STR(e->api->last_error(NULL), "toy: no devices");
        CHECK(e->api->kv_copy_block == NULL); /* optional entry */
        xllm_engine_close(e);
        e = NULL;
    }
    write_text(dir, "old.json", "{\"name\": \"toy\", \"version\": \"1\", \"abi_version\": 1, \"library\": \"libold.so\","
                                " \"formats\": [\"gguf\"], \"architectures\": [\"llama\"], \"devices\": [\"cpu\"]}");
    snprintf(path, sizeof path, "%s/old.json", dir);
    CHECK_EQ_INT(xllm_engine_open(path, &e), XLLM_ERR_ABI_MISMATCH);
    CHECK(strstr(xllm_last_error(), "ABI version 99, this xllm speaks 1") != NULL);
    write_text(dir, "other.json", "{\"name\": \"toy\", \"version\": \"1\", \"abi_version\": 1, \"library\": "
                                  "\"libother.so\", \"formats\": [\"gguf\"], \"architectures\": [\"llama\"],"
                                  " \"devices\": [\"cpu\"]}");
    snprintf(path, sizeof path, "%s/other.json", dir);
    CHECK_EQ_INT(xllm_engine_open(path, &e), XLLM_ERR_ABI_MISMATCH);
    CHECK(strstr(xllm_last_error(), "\"other\"") != NULL);
    write_text(dir, "gone.json", "{\"name\": \"toy\", \"version\": \"1\", \"abi_version\": 1, \"library\": "
                                 "\"libgone.so\", \"formats\": [\"gguf\"], \"architectures\": [\"llama\"],"
                                 " \"devices\": [\"cpu\"]}");
    snprintf(path, sizeof path, "%s/gone.json", dir);
    CHECK_EQ_INT(xllm_engine_open(path, &e), XLLM_ERR_IO);
    CHECK(e == NULL);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    CHECK_EQ_INT(system(path), 0);
}

TEST(engine_cpu_builtin_abi)
{
    char dir[] = "/tmp/xllm-cpuabi-XXXXXX", path[512];
    tiny_cfg c = tiny_default("qwen3");
    xllm_gguf *g = NULL;
    xllm_engine *e = NULL;
    xllm_engine_ctx *ctx = NULL;
    xllm_engine_load_params lp = {sizeof lp, path, 4, 8, 1, 0, -1, 1, XLLM_KV_F16};
    xllm_engine_memory mem = {sizeof mem, 0, 0, 0, 0};
    xllm_engine_model_info info = {.struct_size = sizeof info};
    int32_t tok[2] = {3, 4}, pos[2] = {0, 1}, seq[2] = {0, 0}, blocks[1] = {2}, nb = 1;
    const int32_t *tables[1] = {blocks};
    float logits[2 * 64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/tiny.gguf", dir);
    CHECK_EQ_INT(tiny_build(&c, &g), 0);
    CHECK_OK(xllm_gguf_write(g, path));
    xllm_gguf_close(g);
    CHECK_OK(xllm_engine_open_cpu(&e));
    if (!e)
        return;
    CHECK(xllm_engine_manifest_supports(&e->manifest, "safetensors", "nomic-bert"));
    CHECK_EQ_INT(e->api->memory_required(&lp, &mem), XLLM_ENGINE_OK);
    CHECK_EQ_INT(mem.kv_bytes, 4ull * 16 * 32 * 2 * 2); /* blocks * slots * (K+V) * f16 * layers */
    CHECK(mem.weight_bytes > 0 && mem.total_bytes == mem.weight_bytes + mem.kv_bytes + mem.scratch_bytes);
    lp.kv_type = XLLM_KV_F32;
    CHECK_EQ_INT(e->api->memory_required(&lp, &mem), XLLM_ENGINE_OK);
    CHECK_EQ_INT(mem.kv_bytes, 4ull * 16 * 32 * 4 * 2);
    lp.kv_type = XLLM_KV_Q8_0; /* 2 kv heads x 8 dims, K and V: each row one padded 34-byte block */
    CHECK_EQ_INT(e->api->memory_required(&lp, &mem), XLLM_ENGINE_OK);
    CHECK_EQ_INT(mem.kv_bytes, 4ull * 16 * 2 * 2 * 34 * 2);
    lp.kv_type = 7;
    CHECK_EQ_INT(e->api->memory_required(&lp, &mem), XLLM_ENGINE_UNSUPPORTED);
    CHECK_EQ_INT(e->api->load(&lp, &ctx), XLLM_ENGINE_UNSUPPORTED);
    CHECK(strstr(e->api->last_error(NULL), "KV type 7") != NULL);
    /* a caller built before kv_type: its struct ends before it, f16 is assumed */
    lp.kv_type = 7;
    lp.struct_size = offsetof(xllm_engine_load_params, kv_type);
    CHECK_EQ_INT(e->api->load(&lp, &ctx), XLLM_ENGINE_OK);
    if (ctx) {
        CHECK_EQ_INT(e->api->model_info(ctx, &info), XLLM_ENGINE_OK);
        CHECK_EQ_INT(info.kv_type, XLLM_KV_F16);
        e->api->free(ctx);
        ctx = NULL;
    }
    lp.struct_size = sizeof lp;
    lp.kv_type = XLLM_KV_Q8_0;
    CHECK_EQ_INT(e->api->load(&lp, &ctx), XLLM_ENGINE_OK);
    if (ctx) {
        xllm_batch b = {sizeof b, 2, tok, pos, seq, 1, tables, &nb, NULL, logits, NULL};
        CHECK_EQ_INT(e->api->model_info(ctx, &info), XLLM_ENGINE_OK);
        CHECK_EQ_INT(info.kv_types, (1u << XLLM_KV_F16) | (1u << XLLM_KV_Q8_0) | (1u << XLLM_KV_F32));
        CHECK_EQ_INT(info.kv_type, XLLM_KV_Q8_0);
        CHECK_EQ_STR(info.arch, "qwen3");
        CHECK_EQ_INT(info.n_vocab, 64);
        CHECK_EQ_INT(info.block_size, 16);
        CHECK_EQ_INT(e->api->forward(ctx, &b), XLLM_ENGINE_OK);
        blocks[0] = 9;
        CHECK_EQ_INT(e->api->forward(ctx, &b), XLLM_ENGINE_INVALID_ARGUMENT);
        CHECK(strstr(e->api->last_error(ctx), "block") != NULL);
        CHECK_EQ_INT(e->api->kv_copy_block(ctx, 2, 3), XLLM_ENGINE_OK);
        e->api->free(ctx);
    }
    lp.model_path = "/nonexistent/x.gguf";
    CHECK(e->api->load(&lp, &ctx) != XLLM_ENGINE_OK);
    CHECK(strstr(e->api->last_error(NULL), "/nonexistent/x.gguf") != NULL);
    xllm_engine_close(e);
    unlink(path);
    rmdir(dir);
}
