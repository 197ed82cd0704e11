/* gen_corpus.c - writes the small seed corpus of the fuzz targets (each file
 * < 4 KB) with xllm's own writers plus a few hand-built variants:
 *   cc -std=c11 -D_GNU_SOURCE -Isrc tests/fuzz/gen_corpus.c build/libxllm.a -ljansson -lpcre2-8 -lutf8proc -lcrypto -ldl -lm -pthread -o /tmp/gen_corpus
 *   /tmp/gen_corpus tests/fuzz/corpus */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/dtype.h"
#include "format/gguf.h"
#include "format/safetensors.h"
#include "runtime/runner_proto.h"

#include <math.h>
#include <sys/stat.h>

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

static int write_buf(const char *dir, const char *name, const xllm_buf *b)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/runner/%s", dir, name);
    if (!(f = fopen(path, "wb")))
        return 1;
    fwrite(b->data, 1, b->len, f);
    return fclose(f) != 0;
}

/* Runner protocol: one file per frame type and one stream of them all. */
static int runner_seed(const char *dir)
{
    static const char *const stops[] = {"\n", "Amen"};
    static const int32_t toks[] = {1, 2, 3}, bt[] = {5};
    static const float bv[] = {-INFINITY}, emb[4] = {0.5f, 1, -1, 2};
    static const int32_t ntok[2] = {1, 3};
    static const xllm_top_logprob top[2] = {{7, -0.1f}, {8, -2.5f}};
    xllm_buf all, one;
    xllm_runner_info info = {.protocol = XLLM_RUNNER_PROTOCOL, .engine = "cpu", .arch = "llama", .n_vocab = 8192};
    xllm_runner_request r = {.prompt_text = "In the beginning", .prompt_len = 16, .add_special = 1};
    xllm_gen_event tok = {.type = XLLM_EVENT_TOKEN, .request_id = 1, .token = 7, .text = "God", .text_len = 3,
                          .logprob = -0.1f, .n_top = 2, .top = top};
    xllm_gen_event fin = {.type = XLLM_EVENT_FINAL, .request_id = 1, .finish = XLLM_FINISH_STOP, .stop_string = "Amen",
                          .n_prompt = 4, .n_generated = 9};
    xllm_sched_stats stats = {.running = 1, .blocks_total = 64};
    const char *texts[] = {"a"};
    char path[512];
    int rc = 0;
    snprintf(path, sizeof path, "%s/runner", dir);
    mkdir(path, 0755);
    r.params = xllm_gen_params_default();
    r.params.stops = stops, r.params.n_stops = 2;
    r.params.bias_tokens = bt, r.params.bias_values = bv, r.params.n_bias = 1;
    r.trace_id = "t1";
    r.params.grammar = "root ::= \"a\" | \"b\"";
    r.params.grammar_triggers = stops, r.params.n_grammar_triggers = 1;
    r.params.grammar_trigger_tokens = toks, r.params.n_grammar_trigger_tokens = 2;
    xllm_buf_init(&all, 0);
    xllm_buf_init(&one, 0);
#define SEED(name, call)                                   \
    do {                                                   \
        one.len = 0;                                       \
        CHECK(call(&one));                                 \
        rc |= write_buf(dir, name, &one);                  \
        CHECK(xllm_buf_append(&all, one.data, one.len));   \
    } while (0)
#define HELLO(b) xllm_rproto_put_hello(b, &info)
#define SUBMIT(b) xllm_rproto_put_submit(b, 3, &r)
#define TOKEN(b) xllm_rproto_put_event(b, &tok)
#define FINAL(b) xllm_rproto_put_event(b, &fin)
#define STATS(b) xllm_rproto_put_stats(b, 4, &stats)
#define EMBED(b) xllm_rproto_put_embed_req(b, 5, texts, NULL, NULL, 1, 0)
#define EMBEDR(b) xllm_rproto_put_embed_reply(b, 5, 2, 2, ntok, emb)
#define ERR(b) xllm_rproto_put_error(b, 1, 3, XLLM_ERR_LIMIT, "queue full")
#define CANCEL(b) xllm_rproto_put_cancel(b, 1)
    SEED("hello.bin", HELLO);
    SEED("submit.bin", SUBMIT);
    r.prompt_text = NULL, r.prompt_tokens = toks, r.n_prompt_tokens = 3;
    SEED("submit_tokens.bin", SUBMIT);
    SEED("token.bin", TOKEN);
    SEED("final.bin", FINAL);
    SEED("stats.bin", STATS);
    SEED("embed.bin", EMBED);
    SEED("embed_reply.bin", EMBEDR);
    SEED("error.bin", ERR);
    SEED("cancel.bin", CANCEL);
    SEED("shutdown.bin", xllm_rproto_put_shutdown);
    rc |= write_buf(dir, "stream.bin", &all);
    xllm_buf_free(&all);
    xllm_buf_free(&one);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    return gguf_seed(dir, "model_a32.gguf", 0, 1) || gguf_seed(dir, "model_a64.gguf", 64, 1) ||
           gguf_seed(dir, "vocab_only.gguf", 0, 0) || gguf_seed(dir, "model_a1.gguf", 1, 1) || gguf_v2_seed(dir) ||
           st_seed(dir) || runner_seed(dir);
}
