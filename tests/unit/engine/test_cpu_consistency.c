/* test_cpu_consistency.c - self-consistency of the CPU forward pass on tiny
 * random models of every architecture: the same tokens must give the same
 * logits whether a sequence is prefilled at once, decoded token by token,
 * prefilled in chunks, or batched with another sequence (interleaved, in
 * scattered KV blocks). These are properties, not oracles (the HF fixture
 * test is the oracle). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "../model/tiny_model.h"
#include "engine/cpu_engine.h"
#include "model/model.h"

#define MAX_SEQ 2
#define TOL 2e-5

typedef struct seqdef {
    int32_t tok[64];
    int32_t n;
    int32_t blocks[8];
} seqdef;

typedef struct runner {
    xllm_cpu_ctx *c;
    int32_t V;
    seqdef *s;
    int n_seqs;
} runner;

/* One batch: count[s] tokens of sequence s from start[s]; interleave orders
 * tokens round-robin across sequences. Logits of every token go to
 * out[s][pos][V]. Returns 0 on success. */
static int feed(runner *r, const int32_t *start, const int32_t *count, int interleave, float **out)
{
    int32_t tok[128], pos[128], seq[128], n = 0, nb[MAX_SEQ];
    const int32_t *tables[MAX_SEQ];
    float *logits;
    int32_t maxc = 0;
    for (int s = 0; s < r->n_seqs; s++) {
        tables[s] = r->s[s].blocks;
        nb[s] = 8;
        maxc = count[s] > maxc ? count[s] : maxc;
    }
    for (int32_t k = 0; k < maxc; k++) /* token k of each sequence, or all of s before s + 1 */
        for (int s = 0; s < r->n_seqs; s++)
            for (int32_t j = interleave ? k : (k ? count[s] : 0); j < (interleave ? k + 1 : count[s]); j++) {
                if (j >= count[s])
                    break;
                tok[n] = r->s[s].tok[start[s] + j];
                pos[n] = start[s] + j;
                seq[n++] = s;
            }
    logits = malloc(sizeof(float) * (size_t)n * (size_t)r->V);
    xllm_batch b = {sizeof b, n, tok, pos, seq, r->n_seqs, tables, nb, NULL, logits, NULL};
    if (!logits || xllm_cpu_forward(r->c, &b) != XLLM_OK) {
        fprintf(stderr, "  forward: %s\n", xllm_last_error());
        free(logits);
        return -1;
    }
    for (int32_t i = 0; i < n; i++)
        memcpy(out[seq[i]] + (size_t)pos[i] * (size_t)r->V, logits + (size_t)i * (size_t)r->V,
               sizeof(float) * (size_t)r->V);
    free(logits);
    return 0;
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        md = d > md || isnan(d) ? d : md;
        mr = fabs(b[i]) > mr ? fabs(b[i]) : mr;
    }
    return mr > 0 ? md / mr : md;
}

static void check_decoder(tiny_cfg cfg)
{
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    xllm_cpu_params p = xllm_cpu_params_default();
    seqdef sd[2] = {{.n = 37, .blocks = {5, 0, 9, 1, 2, 3, 4, 6}}, {.n = 21, .blocks = {3, 7, 8, 10, 11, 12, 13, 14}}};
    runner r = {0};
    float *ref[2], *got[2];
    uint64_t rng = 99;
    CHECK_EQ_INT(tiny_build(&cfg, &g), 0);
    if (!g)
        return;
    CHECK_OK(xllm_model_load(g, NULL, &m));
    p.n_blocks = 16;
    p.max_batch_tokens = 64;
    p.n_threads = 2;
    if (!m || xllm_cpu_ctx_create(m, &p, &r.c) != XLLM_OK) {
        CHECK_MSG(0, "%s: setup failed: %s", cfg.arch, xllm_last_error());
        goto out;
    }
    for (int s = 0; s < 2; s++)
        for (int32_t i = 0; i < sd[s].n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            sd[s].tok[i] = (int32_t)((rng >> 33) % (uint64_t)cfg.n_vocab);
        }
    r.V = cfg.n_vocab;
    r.s = sd;
    for (int s = 0; s < 2; s++) {
        ref[s] = calloc((size_t)sd[s].n * (size_t)r.V, sizeof(float));
        got[s] = calloc((size_t)sd[s].n * (size_t)r.V, sizeof(float));
    }
    /* reference: each sequence alone, whole prefill */
    for (int s = 0; s < 2; s++) {
        seqdef *one = &sd[s];
        int32_t st0 = 0, cnt = one->n;
        runner r1 = {r.c, r.V, one, 1};
        CHECK_EQ_INT(feed(&r1, &st0, &cnt, 0, &ref[s]), 0);
    }
    { /* token-by-token decode of A */
        runner r1 = {r.c, r.V, &sd[0], 1};
        for (int32_t i = 0; i < sd[0].n; i++) {
            int32_t one = 1;
            CHECK_EQ_INT(feed(&r1, &i, &one, 0, &got[0]), 0);
        }
        CHECK_MSG(max_rel_diff(got[0], ref[0], (size_t)sd[0].n * r.V) < TOL, "%s: decode != prefill (%g)", cfg.arch,
                  max_rel_diff(got[0], ref[0], (size_t)sd[0].n * r.V));
    }
    { /* chunked prefill 5 + 16 + 16 */
        runner r1 = {r.c, r.V, &sd[0], 1};
        int32_t starts[3] = {0, 5, 21}, counts[3] = {5, 16, 16};
        memset(got[0], 0, sizeof(float) * (size_t)sd[0].n * r.V);
        for (int k = 0; k < 3; k++)
            CHECK_EQ_INT(feed(&r1, &starts[k], &counts[k], 0, &got[0]), 0);
        CHECK_MSG(max_rel_diff(got[0], ref[0], (size_t)sd[0].n * r.V) < TOL, "%s: chunked != full (%g)", cfg.arch,
                  max_rel_diff(got[0], ref[0], (size_t)sd[0].n * r.V));
    }
    { /* two sequences per batch, interleaved: prefill chunks, then mixed decode */
        int32_t st1[2] = {0, 0}, c1[2] = {20, 10}, st2[2] = {20, 10}, c2[2] = {9, 6};
        r.n_seqs = 2;
        memset(got[0], 0, sizeof(float) * (size_t)sd[0].n * r.V);
        memset(got[1], 0, sizeof(float) * (size_t)sd[1].n * r.V);
        CHECK_EQ_INT(feed(&r, st1, c1, 1, got), 0);
        CHECK_EQ_INT(feed(&r, st2, c2, 0, got), 0);
        for (int32_t k = 0; k < 8; k++) { /* A at 29.., B at 16.. decode together */
            int32_t st[2] = {29 + k, 16 + k < sd[1].n ? 16 + k : sd[1].n - 1}, c[2] = {1, 16 + k < sd[1].n};
            CHECK_EQ_INT(feed(&r, st, c, 1, got), 0);
        }
        for (int s = 0; s < 2; s++)
            CHECK_MSG(max_rel_diff(got[s], ref[s], (size_t)sd[s].n * r.V) < TOL, "%s: batched seq %d != alone (%g)",
                      cfg.arch, s, max_rel_diff(got[s], ref[s], (size_t)sd[s].n * r.V));
    }
    for (int s = 0; s < 2; s++) {
        free(ref[s]);
        free(got[s]);
    }
out:
    xllm_cpu_ctx_free(r.c);
    xllm_model_free(m);
    xllm_gguf_close(g);
}

TEST(cpu_consistency_llama)
{
    tiny_cfg c = tiny_default("llama");
    c.untied = 1;
    check_decoder(c);
}

TEST(cpu_consistency_qwen2_bias)
{
    tiny_cfg c = tiny_default("qwen2");
    c.biases = 1;
    check_decoder(c);
}

TEST(cpu_consistency_qwen3) { check_decoder(tiny_default("qwen3")); }

TEST(cpu_consistency_gemma2_window)
{
    tiny_cfg c = tiny_default("gemma2");
    c.sliding_window = 5;
    c.attn_softcap = 3.0f;
    c.final_softcap = 4.0f;
    check_decoder(c);
}

TEST(cpu_consistency_gemma3_window)
{
    tiny_cfg c = tiny_default("gemma3");
    c.sliding_window = 19; /* crosses block boundaries */
    c.n_layer = 3;
    check_decoder(c);
}

TEST(cpu_consistency_phi3) { check_decoder(tiny_default("phi3")); }

static void check_encoder(const char *arch, int pooling)
{
    tiny_cfg cfg = tiny_default(arch);
    xllm_gguf *g = NULL;
    xllm_model *m = NULL;
    xllm_cpu_ctx *c = NULL;
    xllm_cpu_params p = xllm_cpu_params_default();
    int32_t tok[22], pos[22], seq[22], order[22];
    float alone[2][22 * 32], both[22 * 32];
    int32_t na = 9, nb = 13, D = cfg.n_embd;
    CHECK_EQ_INT(tiny_build(&cfg, &g), 0);
    if (!g)
        return;
    CHECK_OK(xllm_model_load(g, NULL, &m));
    p.max_batch_tokens = 32;
    p.pooling = pooling;
    if (!m || xllm_cpu_ctx_create(m, &p, &c) != XLLM_OK) {
        CHECK_MSG(0, "%s: setup: %s", arch, xllm_last_error());
        goto out;
    }
    for (int32_t i = 0; i < na + nb; i++) {
        tok[i] = (i * 7 + 3) % cfg.n_vocab;
        pos[i] = i < na ? i : i - na;
        seq[i] = i >= na;
    }
    for (int s = 0; s < 2; s++) { /* each alone */
        int32_t zero[22] = {0};
        xllm_batch b = {sizeof b, s ? nb : na, tok + (s ? na : 0), pos + (s ? na : 0), zero, 1, NULL, NULL, NULL,
                        NULL, alone[s]};
        CHECK_OK(xllm_cpu_forward(c, &b));
    }
    { /* both in one batch, interleaved order */
        int32_t t2[22], p2[22], s2[22], n = 0;
        for (int32_t k = 0; k < nb; k++) {
            if (k < na)
                order[n++] = k;
            order[n++] = na + k;
        }
        for (int32_t i = 0; i < n; i++) {
            t2[i] = tok[order[i]];
            p2[i] = pos[order[i]];
            s2[i] = seq[order[i]];
        }
        xllm_batch b = {sizeof b, n, t2, p2, s2, 2, NULL, NULL, NULL, NULL, both};
        CHECK_OK(xllm_cpu_forward(c, &b));
        if (pooling == XLLM_POOLING_NONE) { /* rows follow the batch order */
            for (int32_t i = 0; i < n; i++) {
                int32_t src = order[i], s = src >= na;
                const float *want = alone[s] + (size_t)(src - (s ? na : 0)) * D;
                CHECK_MSG(max_rel_diff(both + (size_t)i * D, want, (size_t)D) < TOL, "%s: token %d differs", arch, i);
            }
        } else {
            for (int s = 0; s < 2; s++)
                CHECK_MSG(max_rel_diff(both + (size_t)s * D, alone[s], (size_t)D) < TOL,
                          "%s pooling %d: seq %d batched != alone", arch, pooling, s);
            double nrm = 0;
            for (int32_t d = 0; d < D; d++)
                nrm += (double)both[d] * both[d];
            CHECK_NEAR(nrm, 1.0, 1e-5);
        }
    }
out:
    xllm_cpu_ctx_free(c);
    xllm_model_free(m);
    xllm_gguf_close(g);
}

TEST(cpu_consistency_bert_mean) { check_encoder("bert", -1); }
TEST(cpu_consistency_bert_cls) { check_encoder("bert", XLLM_POOLING_CLS); }
TEST(cpu_consistency_bert_tokens) { check_encoder("bert", XLLM_POOLING_NONE); }
TEST(cpu_consistency_nomic_bert) { check_encoder("nomic-bert", XLLM_POOLING_LAST); }
