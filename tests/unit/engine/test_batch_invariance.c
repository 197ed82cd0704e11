/* test_batch_invariance.c - the CPU engine's batch invariance: the logits row
 * of every position of every sequence is bit-identical whether the sequence
 * runs alone (prompt in one chunk, one thread) or in forward calls shared
 * with up to 15 other sequences of other lengths, with its prompt in chunks
 * of 7 or token by token, then decoded alongside the others (two threads,
 * other block ids, other offsets in the batch). Driven through
 * xllm_cpu_forward with hand-built block tables, for every weight type the
 * converter writes (a tiny random llama, quantized with the reference
 * quantizers), each KV type, a sliding-window arch (gemma2) and the demo
 * model as shipped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "../model/ref_check.h"
#include "../model/tiny_model.h"
#include "base/dtype.h"
#include "engine/cpu_engine.h"
#include "model/model.h"

#define N_SEQ 16
#define N_GEN 2           /* single-token steps after each prompt */
#define MAX_LEN 48        /* prompt + generated positions of the longest sequence (>= 42) */
#define BLOCKS_PER_SEQ 3  /* ceil(MAX_LEN / 16) */
#define BUDGET 128        /* tokens per mixed forward call (crosses the matmul's 64-row blocks) */

static const int32_t prompt_len[N_SEQ] = {40, 1, 3, 17, 33, 9, 16, 2, 25, 12, 5, 31, 8, 20, 6, 14};

enum { MODE_SOLO, MODE_CHUNK7, MODE_TOKEN, MODE_COUNT };
static const char *const mode_name[MODE_COUNT] = {"alone", "chunks of 7 among 15 others",
                                                  "token by token among 15 others"};

typedef struct inv_run {
    int32_t n_vocab;
    int n_seq; /* sequences 0 .. n_seq-1 of prompt_len take part */
    int32_t tok[N_SEQ][MAX_LEN];
    float *logits[MODE_COUNT]; /* [N_SEQ][MAX_LEN][n_vocab] */
} inv_run;

static int32_t seq_len(int s) { return prompt_len[s] + N_GEN; }

/* Tokens of sequence s in step `step` of mode: the next prompt chunk, or one
 * decode token once the prompt is in. */
static int32_t chunk_of(int mode, int s, int32_t done)
{
    if (done >= seq_len(s))
        return 0;
    if (done >= prompt_len[s])
        return 1;
    if (mode == MODE_CHUNK7)
        return prompt_len[s] - done < 7 ? prompt_len[s] - done : 7;
    if (mode == MODE_TOKEN && s == 0)
        return 1;
    return prompt_len[s] - done;
}

/* Run every sequence to its end in mode; logits of every position into
 * r->logits[mode]. 0 on success. */
static int run_mode(const xllm_model *m, int32_t kv_type, int mode, inv_run *r)
{
    xllm_cpu_params p = xllm_cpu_params_default();
    xllm_cpu_ctx *c = NULL;
    int32_t tables[N_SEQ][BLOCKS_PER_SEQ], counts[N_SEQ], done[N_SEQ] = {0};
    const int32_t *tp[N_SEQ];
    int32_t tok[BUDGET], pos[BUDGET], seq[BUDGET];
    float *out = malloc(sizeof(float) * BUDGET * (size_t)r->n_vocab);
    int rc = -1;
    p.n_blocks = 53; /* prime: the mode's id map below is a permutation */
    p.max_batch_tokens = BUDGET;
    p.n_threads = mode == MODE_SOLO ? 1 : 2;
    p.kv_type = kv_type;
    if (!out || xllm_cpu_ctx_create(m, &p, &c) != XLLM_OK)
        goto out;
    for (int s = 0; s < N_SEQ; s++) { /* other block ids in every mode */
        for (int k = 0; k < BLOCKS_PER_SEQ; k++)
            tables[s][k] = (int32_t)((s * BLOCKS_PER_SEQ + k) * (2 * mode + 1) + 3 * mode) % p.n_blocks;
        counts[s] = BLOCKS_PER_SEQ;
        tp[s] = tables[s];
    }
    for (int step = 0, solo = 0;; step++) {
        int32_t n = 0;
        for (int i = 0; i < r->n_seq; i++) {
            int s = mode == MODE_SOLO ? solo : (i + 5 * step) % r->n_seq; /* rotate the offsets */
            int32_t k = chunk_of(mode, s, done[s]);
            if (k > BUDGET - n)
                k = BUDGET - n;
            for (int32_t j = 0; j < k; j++, n++) {
                tok[n] = r->tok[s][done[s] + j];
                pos[n] = done[s] + j;
                seq[n] = s;
            }
            if (mode == MODE_SOLO)
                break;
        }
        if (n == 0) {
            if (mode == MODE_SOLO && ++solo < r->n_seq)
                continue;
            break;
        }
        xllm_batch b = {sizeof b, n, tok, pos, seq, N_SEQ, tp, counts, NULL, out, NULL};
        if (xllm_cpu_forward(c, &b) != XLLM_OK) {
            fprintf(stderr, "  batch invariance: forward: %s\n", xllm_last_error());
            goto out;
        }
        for (int32_t i = 0; i < n; i++) {
            memcpy(r->logits[mode] + ((size_t)seq[i] * MAX_LEN + (size_t)pos[i]) * (size_t)r->n_vocab,
                   out + (size_t)i * (size_t)r->n_vocab, sizeof(float) * (size_t)r->n_vocab);
            done[seq[i]]++;
        }
    }
    rc = 0;
out:
    xllm_cpu_ctx_free(c);
    free(out);
    return rc;
}

/* Every mode against the solo run; 1 if all rows are equal bit for bit. */
static int check_model(const char *what, const xllm_model *m, int32_t kv_type, int n_seq)
{
    inv_run r;
    int ok = 1;
    size_t rows = (size_t)N_SEQ * MAX_LEN;
    memset(&r, 0, sizeof r);
    r.n_vocab = m->hp.n_vocab;
    r.n_seq = n_seq;
    for (int s = 0; s < N_SEQ; s++)
        for (int i = 0; i < MAX_LEN; i++)
            r.tok[s][i] = (int32_t)(((uint32_t)s * 7919u + (uint32_t)i * 104729u + 17u) % (uint32_t)r.n_vocab);
    for (int mode = 0; mode < MODE_COUNT; mode++) {
        r.logits[mode] = calloc(rows * (size_t)r.n_vocab, sizeof(float));
        if (!r.logits[mode] || run_mode(m, kv_type, mode, &r)) {
            CHECK_MSG(0, "%s, %s KV: mode %s did not run", what, xllm_kv_type_name(kv_type), mode_name[mode]);
            ok = 0;
            goto out;
        }
    }
    for (int mode = 1; mode < MODE_COUNT; mode++)
        for (int s = 0; s < n_seq && ok; s++)
            for (int32_t p = 0; p < seq_len(s); p++) {
                size_t at = ((size_t)s * MAX_LEN + (size_t)p) * (size_t)r.n_vocab;
                const float *a = r.logits[0] + at, *b = r.logits[mode] + at;
                if (memcmp(a, b, sizeof(float) * (size_t)r.n_vocab) != 0) {
                    double worst = 0;
                    for (int32_t v = 0; v < r.n_vocab; v++)
                        worst = fabs((double)a[v] - b[v]) > worst ? fabs((double)a[v] - b[v]) : worst;
                    CHECK_MSG(0, "%s, %s KV: sequence %d position %d %s differs from alone (max |diff| %.3g)", what,
                              xllm_kv_type_name(kv_type), s, p, mode_name[mode], worst);
                    ok = 0;
                    break;
                }
            }
out:
    for (int mode = 0; mode < MODE_COUNT; mode++)
        free(r.logits[mode]);
    return ok;
}

static tiny_cfg inv_cfg(const char *arch)
{
    tiny_cfg c = tiny_default(arch);
    c.n_vocab = 320;
    c.n_embd = 256; /* K-quant rows: whole 256-element super-blocks */
    c.n_ff = 256;
    c.n_head = 8;
    c.n_head_kv = 4;
    c.head_dim = 32;
    c.fused_qkv = 0;
    return c;
}

/* Build cfg, convert its matrices to dtype (F32: as built), load with the
 * kernels' repacking, and check it with each KV type in kv (bit mask). */
static void check_type(const tiny_cfg *cfg, uint32_t dtype, uint32_t kv_mask)
{
    xllm_gguf *g = NULL, *q = NULL;
    xllm_model *m = NULL;
    xllm_model_params mp = {1};
    char what[96];
    int n_conv = 0;
    CHECK_EQ_INT(tiny_build(cfg, &g), 0);
    if (!g)
        return;
    if (dtype != XLLM_DTYPE_F32) {
        q = ref_convert_copy(g, dtype, &n_conv);
        CHECK_MSG(q && n_conv >= 7, "%s: %d tensors converted", xllm_dtype_name(dtype), n_conv);
    }
    snprintf(what, sizeof what, "%s %s weights", cfg->arch, xllm_dtype_name(dtype));
    if ((q || dtype == XLLM_DTYPE_F32) && xllm_model_load(q ? q : g, &mp, &m) == XLLM_OK) {
        for (int32_t t = 0; t < XLLM_KV_TYPE_COUNT; t++)
            if (kv_mask & (1u << t)) {
                int ok = check_model(what, m, t, N_SEQ);
                if (getenv("TEST_VERBOSE"))
                    fprintf(stderr, "  %-28s %-4s KV: %s\n", what, xllm_kv_type_name(t),
                            ok ? "bit-identical" : "DIFFERS");
            }
    } else {
        CHECK_MSG(0, "%s: load failed: %s", what, xllm_last_error());
    }
    xllm_model_free(m);
    xllm_gguf_close(q);
    xllm_gguf_close(g);
}

#define KV_F16_ONLY (1u << XLLM_KV_F16)
#define KV_ALL ((1u << XLLM_KV_F16) | (1u << XLLM_KV_Q8_0) | (1u << XLLM_KV_F32))

/* Every weight type with the default (f16) KV. */
TEST(batch_invariance_weight_types)
{
    static const uint32_t types[] = {XLLM_DTYPE_F32,  XLLM_DTYPE_F16,  XLLM_DTYPE_BF16, XLLM_DTYPE_Q8_0,
                                     XLLM_DTYPE_Q4_0, XLLM_DTYPE_Q4_1, XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1,
                                     XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K, XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q5_K,
                                     XLLM_DTYPE_Q6_K, XLLM_DTYPE_IQ4_NL};
    tiny_cfg c = inv_cfg("llama");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        check_type(&c, types[i], KV_F16_ONLY);
}

/* Each KV type (q8_0, f32; f16 above) with a float and a quantized weight type. */
TEST(batch_invariance_kv_types)
{
    tiny_cfg c = inv_cfg("llama");
    check_type(&c, XLLM_DTYPE_F16, KV_ALL & ~KV_F16_ONLY);
    check_type(&c, XLLM_DTYPE_Q4_0, KV_ALL & ~KV_F16_ONLY);
}

/* The demo model as shipped (F16 weights, trained, 8 layers, 8192-token
 * vocabulary) with the default KV type; 6 of the sequences (its 8192-row
 * output head makes every token 6x the tiny model's work). */
TEST(batch_invariance_demo_model)
{
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    xllm_model_params mp = {1};
    CHECK_OK(xllm_gguf_open("models/kjv-demo.gguf", &g));
    if (g && xllm_model_load(g, &mp, &m) == XLLM_OK) {
        int ok = check_model("kjv-demo", m, XLLM_KV_F16, 6);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  %-28s %-4s KV: %s\n", "kjv-demo F16 weights", "f16", ok ? "bit-identical" : "DIFFERS");
    }
    xllm_model_free(m);
    xllm_gguf_close(g);
}

/* Sliding-window layers (window 8 < the 42-position sequences), soft-caps. */
TEST(batch_invariance_sliding_window)
{
    tiny_cfg c = inv_cfg("gemma2");
    c.sliding_window = 8;
    c.attn_softcap = 50.0f;
    c.final_softcap = 30.0f;
    check_type(&c, XLLM_DTYPE_Q8_0, KV_ALL);
}
