/* gen_corpus.c - writes the small seed corpus of the fuzz targets (each file
 * < 4 KB) with xllm's own writers plus a few hand-built variants:
 *   cc -std=c11 -D_GNU_SOURCE -Isrc tests/fuzz/gen_corpus.c build/libxllm.a -ljansson -lm -pthread -o /tmp/gen_corpus
 *   /tmp/gen_corpus tests/fuzz/corpus */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/dtype.h"
#include "format/gguf.h"
#include "format/safetensors.h"

#define CHECK(x) do { if ((x) != XLLM_OK) { fprintf(stderr, "%s: %s\n", #x, xllm_last_error()); return 1; } } while (0)

static int gguf_seed(const char *dir, const char *name, uint32_t alignment, int with_tensors)
{
    char path[512];
    xllm_gguf *g = NULL;
    static float f32[16];
    static unsigned char q8[34], q4k[144];
    const char *toks[5] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81the", "a"};
    int32_t types[5] = {2, 3, 3, 1, 1};
    float scores[5] = {0, 0, 0, -1.5f, -2.0f};
    uint64_t ne1[2] = {4, 4}, ne2[1] = {32}, ne3[1] = {256};
    xllm_gguf_value inner, outer;
    uint8_t bytes[3] = {1, 2, 3};
    for (int i = 0; i < 16; i++)
        f32[i] = (float)i;
    snprintf(path, sizeof path, "%s/gguf/%s", dir, name);
    CHECK(xllm_gguf_new(&g));
    CHECK(xllm_gguf_set_str(g, "general.architecture", "llama"));
    if (alignment)
        CHECK(xllm_gguf_set_u32(g, "general.alignment", alignment));
    CHECK(xllm_gguf_set_u32(g, "llama.block_count", 1));
    CHECK(xllm_gguf_set_f32(g, "llama.rope.freq_base", 10000.0f));
    CHECK(xllm_gguf_set_bool(g, "tokenizer.ggml.add_bos_token", 1));
    CHECK(xllm_gguf_set_u64(g, "general.size", 12345));
    CHECK(xllm_gguf_set_i32(g, "general.neg", -7));
    CHECK(xllm_gguf_set_arr_str(g, "tokenizer.ggml.tokens", toks, NULL, 5));
    CHECK(xllm_gguf_set_arr(g, "tokenizer.ggml.token_type", XLLM_GGUF_INT32, types, 5));
    CHECK(xllm_gguf_set_arr(g, "tokenizer.ggml.scores", XLLM_GGUF_FLOAT32, scores, 5));
    memset(&inner, 0, sizeof inner);
    memset(&outer, 0, sizeof outer);
    inner.type = XLLM_GGUF_ARRAY; inner.arr_type = XLLM_GGUF_UINT8; inner.arr_data = bytes; inner.count = 3;
    outer.type = XLLM_GGUF_ARRAY; outer.arr_type = XLLM_GGUF_ARRAY; outer.arr_sub = &inner; outer.count = 1;
    CHECK(xllm_gguf_set_value(g, "test.nested", &outer));
    if (with_tensors) {
        CHECK(xllm_gguf_add_tensor(g, "blk.0.attn_q.weight", XLLM_DTYPE_F32, 2, ne1, f32, 64));
        CHECK(xllm_gguf_add_tensor(g, "token_embd.weight", XLLM_DTYPE_Q8_0, 1, ne2, q8, 34));
        CHECK(xllm_gguf_add_tensor(g, "output.weight", XLLM_DTYPE_Q4_K, 1, ne3, q4k, 144));
    }
    CHECK(xllm_gguf_write(g, path));
    xllm_gguf_close(g);
    return 0;
}

static int st_seed(const char *dir)
{
    char path[512];
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[4] = {0x3c00, 0x4000, 0x4200, 0x4400};
    xllm_st_tensor ts[3] = {
        {.name = "model.embed_tokens.weight", .dtype = XLLM_DTYPE_F32, .n_dims = 2, .shape = {2, 3}, .data = a, .nbytes = 24},
        {.name = "model.norm.weight", .dtype = XLLM_DTYPE_F16, .n_dims = 1, .shape = {4}, .data = h, .nbytes = 8},
        {.name = "lm_head.weight", .dtype = XLLM_DTYPE_BF16, .n_dims = 2, .shape = {2, 2}, .data = h, .nbytes = 8},
    };
    const char *meta[2] = {"producer", "xllm"};
    static const char hand[] = "{\"__metadata__\":{\"format\":\"pt\"},\"flag\":{\"dtype\":\"BOOL\",\"shape\":[],"
                               "\"data_offsets\":[0,1]},\"e\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[1,1]}}";
    FILE *f;
    uint64_t n = sizeof hand - 1;
    snprintf(path, sizeof path, "%s/safetensors/three.safetensors", dir);
    CHECK(xllm_st_write(path, ts, 3, meta, 1));
    snprintf(path, sizeof path, "%s/safetensors/one.safetensors", dir);
    CHECK(xllm_st_write(path, ts + 1, 1, NULL, 0));
    snprintf(path, sizeof path, "%s/safetensors/empty.safetensors", dir);
    CHECK(xllm_st_write(path, ts, 0, NULL, 0));
    snprintf(path, sizeof path, "%s/safetensors/hand.safetensors", dir);
    f = fopen(path, "wb");
    if (!f || fwrite(&n, 8, 1, f) != 1 || fwrite(hand, 1, n, f) != n || fputc(1, f) == EOF || fclose(f) != 0)
        return 1;
    return 0;
}

/* A v2 vocabulary-only file built by hand. */
static int gguf_v2_seed(const char *dir)
{
    char path[512];
    FILE *f;
    uint32_t v = 2, type = XLLM_GGUF_STRING;
    uint64_t n_t = 0, n_kv = 1, klen = 12, vlen = 4;
    snprintf(path, sizeof path, "%s/gguf/v2_vocab.gguf", dir);
    f = fopen(path, "wb");
    if (!f)
        return 1;
    fwrite("GGUF", 1, 4, f);
    fwrite(&v, 4, 1, f);
    fwrite(&n_t, 8, 1, f);
    fwrite(&n_kv, 8, 1, f);
    fwrite(&klen, 8, 1, f);
    fwrite("general.name", 1, 12, f);
    fwrite(&type, 4, 1, f);
    fwrite(&vlen, 8, 1, f);
    fwrite("tiny", 1, 4, f);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    return gguf_seed(dir, "model_a32.gguf", 0, 1) || gguf_seed(dir, "model_a64.gguf", 64, 1) ||
           gguf_seed(dir, "vocab_only.gguf", 0, 0) || gguf_seed(dir, "model_a1.gguf", 1, 1) || gguf_v2_seed(dir) ||
           st_seed(dir);
}
