/* convert_gen.c - random-weight llama GGUF models of real shapes for
 * benchmarks. Weights are ~N(0, 0.02): a pool of random blocks is quantized
 * once with the reference quantizers, then every tensor is filled with blocks
 * picked at random from the pool (valid, finite, realistic magnitudes) at
 * memory speed, in parallel, streaming to disk. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/log.h"
#include "kernels/cpu/kernels.h"
#include "model/convert.h"
#include "tokenizer/hf_import.h"

#define POOL_UNITS 4096u      /* distinct random blocks per dtype */
#define PLAIN_UNIT 64u        /* elements per pool unit of F32/F16/BF16 */
#define GEN_CHUNK_BYTES (16u << 20)

typedef struct gen_shape {
    const char *name, *title;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    float rope_base, eps;
} gen_shape;

static const gen_shape shapes[] = {
    {"tinyllama-1.1b", "TinyLlama-1.1B shape, random weights", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, 1e-5f},
    {"llama3-8b", "Llama-3-8B shape, random weights", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, 1e-5f},
    /* small shape for the unit tests (not a real model) */
    {"test-tiny", "test shape, random weights", 256, 2, 4, 2, 512, 320, 256, 10000.0f, 1e-5f},
};

const char *xllm_gen_shape_names(void) { return "tinyllama-1.1b, llama3-8b, test-tiny"; }

typedef struct gen_pool {
    unsigned char *data; /* [POOL_UNITS][unit_bytes] */
    uint64_t unit_elems, unit_bytes;
} gen_pool;

typedef struct gen_job {
    xllm_gguf_tensor *infos;
    int64_t n;
    gen_pool pools[XLLM_DTYPE_COUNT];
    xllm_pool *pool;
    int n_tasks;
    uint64_t seed;
    unsigned char *chunk;
    /* chunk in progress */
    int64_t cur;
    uint64_t row_bytes, row0, n_rows;
} gen_job;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gauss(uint64_t *s)
{
    double u = ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
    double v = (double)(splitmix(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u)) * cos(2 * M_PI * v));
}

static xllm_status make_pool(gen_job *j, uint32_t t)
{
    gen_pool *p = &j->pools[t];
    const xllm_dtype_info *d = xllm_dtype_get(t);
    uint64_t s = j->seed ^ (0x51ed27ull * (t + 1)), n;
    float *f;
    xllm_status st;
    int ok = 1;
    if (p->data)
        return XLLM_OK;
    p->unit_elems = d->block_elems > 1 ? d->block_elems : PLAIN_UNIT;
    p->unit_bytes = xllm_dtype_row_bytes(t, p->unit_elems, &ok);
    n = POOL_UNITS * p->unit_elems;
    f = xllm_malloc(n * sizeof *f);
    p->data = xllm_malloc(POOL_UNITS * p->unit_bytes);
    if (!f || !p->data) {
        xllm_free(f);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (uint64_t i = 0; i < n; i++)
        f[i] = 0.02f * gauss(&s);
    st = xllm_quantize_row(t, f, p->data, (int64_t)n);
    xllm_free(f);
    return st;
}

static void gen_task(void *ctx, int task, int n_tasks)
{
    gen_job *j = ctx;
    const xllm_gguf_tensor *t = &j->infos[j->cur];
    const gen_pool *p = &j->pools[t->dtype];
    uint64_t per = (j->n_rows + (uint64_t)n_tasks - 1) / (uint64_t)n_tasks;
    uint64_t a = per * (uint64_t)task, b = a + per < j->n_rows ? a + per : j->n_rows;
    for (uint64_t r = a; r < b; r++) {
        unsigned char *out = j->chunk + r * j->row_bytes;
        uint64_t s = j->seed ^ ((uint64_t)j->cur << 40) ^ (j->row0 + r) * 0x2545f4914f6cdd1dull;
        if (t->n_dims == 1) { /* norms: ones */
            for (uint64_t i = 0; i < t->ne[0]; i++)
                ((float *)out)[i] = 1.0f;
            continue;
        }
        for (uint64_t u = 0; u < t->ne[0] / p->unit_elems; u++)
            memcpy(out + u * p->unit_bytes, p->data + (splitmix(&s) % POOL_UNITS) * p->unit_bytes, p->unit_bytes);
        if (t->ne[0] % p->unit_elems) /* plain types only: quantized rows are whole blocks */
            memcpy(out + t->ne[0] / p->unit_elems * p->unit_bytes, p->data + (splitmix(&s) % POOL_UNITS) * p->unit_bytes,
                   j->row_bytes - t->ne[0] / p->unit_elems * p->unit_bytes);
    }
}

static xllm_status gen_fill(void *ctx, int64_t i, FILE *f)
{
    gen_job *j = ctx;
    const xllm_gguf_tensor *t = &j->infos[i];
    uint64_t rows = t->ne[1], per_chunk;
    int ok = 1;
    j->cur = i;
    j->row_bytes = xllm_dtype_row_bytes(t->dtype, t->ne[0], &ok);
    per_chunk = GEN_CHUNK_BYTES / j->row_bytes ? GEN_CHUNK_BYTES / j->row_bytes : 1;
    for (uint64_t r = 0; r < rows; r += per_chunk) {
        j->row0 = r;
        j->n_rows = rows - r < per_chunk ? rows - r : per_chunk;
        xllm_pool_run(j->pool, gen_task, j, j->n_tasks);
        if (fwrite(j->chunk, 1, j->n_rows * j->row_bytes, f) != j->n_rows * j->row_bytes)
            return xllm_fail(XLLM_ERR_IO, "writing tensor '%s' failed", t->name);
    }
    return XLLM_OK;
}

/* ---- layout ---- */

#define MAX_GEN_TENSORS (2 + 9 * 512 + 2)

typedef struct gen_names {
    char (*name)[48];
    int64_t n;
} gen_names;

static void add_info(gen_job *j, gen_names *nm, const char *name, uint64_t ne0, uint64_t ne1)
{
    xllm_gguf_tensor *t = &j->infos[j->n];
    snprintf(nm->name[j->n], sizeof nm->name[0], "%s", name);
    memset(t, 0, sizeof *t);
    t->name = nm->name[j->n];
    t->n_dims = ne1 > 1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = t->ne[3] = 1;
    j->n++;
}

static void layout(gen_job *j, gen_names *nm, const gen_shape *s, uint32_t n_layer)
{
    uint32_t kv = s->n_embd / s->n_head * s->n_head_kv;
    static const char *const fmt[] = {"blk.%u.attn_norm.weight", "blk.%u.attn_q.weight", "blk.%u.attn_k.weight",
                                      "blk.%u.attn_v.weight",    "blk.%u.attn_output.weight",
                                      "blk.%u.ffn_norm.weight",  "blk.%u.ffn_gate.weight",
                                      "blk.%u.ffn_up.weight",    "blk.%u.ffn_down.weight"};
    const uint64_t dims[][2] = {{s->n_embd, 1},      {s->n_embd, s->n_embd}, {s->n_embd, kv},
                                {s->n_embd, kv},     {s->n_embd, s->n_embd}, {s->n_embd, 1},
                                {s->n_embd, s->n_ff}, {s->n_embd, s->n_ff},  {s->n_ff, s->n_embd}};
    add_info(j, nm, "token_embd.weight", s->n_embd, s->n_vocab);
    for (uint32_t l = 0; l < n_layer; l++)
        for (int k = 0; k < 9; k++) {
            char name[48];
            snprintf(name, sizeof name, fmt[k], l);
            add_info(j, nm, name, dims[k][0], dims[k][1]);
        }
    add_info(j, nm, "output_norm.weight", s->n_embd, 1);
    add_info(j, nm, "output.weight", s->n_embd, s->n_vocab);
}

static xllm_status set_meta(xllm_gguf *g, const gen_shape *s, const xllm_ftype_info *ft, uint32_t n_layer,
                            const char *vocab_dir)
{
    xllm_status st = XLLM_OK;
#define U(k, v) if (st == XLLM_OK) st = xllm_gguf_set_u32(g, k, v)
#define F(k, v) if (st == XLLM_OK) st = xllm_gguf_set_f32(g, k, v)
    if (st == XLLM_OK)
        st = xllm_gguf_set_str(g, "general.architecture", "llama");
    if (st == XLLM_OK)
        st = xllm_gguf_set_str(g, "general.name", s->title);
    U("general.file_type", ft->llama_ftype);
    U("general.quantization_version", 2);
    U("llama.context_length", s->n_ctx);
    U("llama.embedding_length", s->n_embd);
    U("llama.block_count", n_layer);
    U("llama.feed_forward_length", s->n_ff);
    U("llama.rope.dimension_count", s->n_embd / s->n_head);
    U("llama.attention.head_count", s->n_head);
    U("llama.attention.head_count_kv", s->n_head_kv);
    U("llama.vocab_size", s->n_vocab);
    F("llama.attention.layer_norm_rms_epsilon", s->eps);
    F("llama.rope.freq_base", s->rope_base);
#undef U
#undef F
    if (st != XLLM_OK || !vocab_dir) {
        if (!vocab_dir)
            XLLM_WARN("gen-model: no --vocab-from directory; the model has no vocabulary");
        return st;
    }
    if ((st = xllm_tokenizer_import_hf(vocab_dir, g)) != XLLM_OK)
        return xllm_fail_wrap(st, "%s: vocabulary", vocab_dir);
    {
        xllm_gguf_type at;
        uint64_t count = 0;
        if (xllm_gguf_get_arr(g, "tokenizer.ggml.tokens", &at, &count) != XLLM_OK || count != s->n_vocab)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: vocabulary has %llu tokens; shape %s needs %u",
                             vocab_dir, (unsigned long long)count, s->name, s->n_vocab);
    }
    return XLLM_OK;
}

xllm_status xllm_gen_model(const xllm_gen_opts *o, const char *path)
{
    const gen_shape *s = NULL;
    const xllm_ftype_info *ft = xllm_ftype_find(o->type ? o->type : "f16");
    gen_job j;
    gen_names nm = {0};
    xllm_mix_counts mc;
    xllm_gguf *meta = NULL;
    const char **names = NULL;
    uint32_t n_layer;
    uint64_t max_row = 0;
    xllm_status st;
    memset(&j, 0, sizeof j);
    for (size_t i = 0; o->shape && i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, o->shape))
            s = &shapes[i];
    if (!s)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "unknown shape '%s' (use one of: %s)",
                         o->shape ? o->shape : "", xllm_gen_shape_names());
    if (!ft)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "unknown type '%s' (use one of: %s)", o->type,
                         xllm_ftype_names());
    if ((st = xllm_kernels_init()) != XLLM_OK)
        return st;
    n_layer = o->n_layer_override > 0 && (uint32_t)o->n_layer_override < s->n_layer ? (uint32_t)o->n_layer_override
                                                                                     : s->n_layer;
    j.seed = o->seed ? o->seed : 0x5eed;
    j.infos = xllm_calloc(MAX_GEN_TENSORS, sizeof *j.infos);
    nm.name = xllm_calloc(MAX_GEN_TENSORS, sizeof *nm.name);
    names = xllm_calloc(MAX_GEN_TENSORS, sizeof *names);
    if (!j.infos || !nm.name || !names) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    if ((st = xllm_gguf_new(&meta)) != XLLM_OK || (st = set_meta(meta, s, ft, n_layer, o->vocab_dir)) != XLLM_OK)
        goto out;
    layout(&j, &nm, s, n_layer);
    for (int64_t i = 0; i < j.n; i++)
        names[i] = j.infos[i].name;
    xllm_mix_count_names(names, j.n, &mc);
    for (int64_t i = 0; i < j.n && st == XLLM_OK; i++) {
        xllm_gguf_tensor *t = &j.infos[i];
        int ok = 1;
        t->dtype = xllm_convert_tensor_type(ft, &mc, t->name, t->n_dims, t->ne);
        t->nbytes = xllm_dtype_row_bytes(t->dtype, t->ne[0], &ok) * t->ne[1];
        max_row = t->nbytes / t->ne[1] > max_row ? t->nbytes / t->ne[1] : max_row;
        st = make_pool(&j, t->dtype);
    }
    if (st != XLLM_OK)
        goto out;
    if ((st = xllm_pool_create(o->n_threads, &j.pool)) != XLLM_OK)
        goto out;
    j.n_tasks = xllm_pool_size(j.pool);
    if (!(j.chunk = xllm_malloc(max_row > GEN_CHUNK_BYTES ? max_row : GEN_CHUNK_BYTES))) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    st = xllm_conv_write_gguf(meta, j.infos, j.n, gen_fill, &j, path); /* closes meta */
    meta = NULL;
out:
    xllm_gguf_close(meta);
    for (int t = 0; t < XLLM_DTYPE_COUNT; t++)
        xllm_free(j.pools[t].data);
    if (j.pool)
        xllm_pool_destroy(j.pool);
    xllm_free(j.chunk);
    xllm_free(j.infos);
    xllm_free(nm.name);
    xllm_free(names);
    return st;
}
