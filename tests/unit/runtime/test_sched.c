/* test_sched.c - the scheduler against the fake engine: outputs equal to a
 * solo reference in any batch, chunked prefill under the budget, prefix
 * reuse, preemption and recompute, cancellation, priorities, queue limits,
 * logprobs against a double log-softmax, seeded sampling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fake_engine.h"
#include "runtime/kv_blocks.h"
#include "runtime/sched.h"
#include "../test.h"
#include "tokenizer/tokenizer.h"

#define DEMO "models/kjv-demo.gguf"
#define MAXGEN 256

typedef struct out_rec {
    int32_t toks[MAXGEN];
    int32_t n, n_prompt_events, n_final;
    xllm_finish finish;
    int32_t n_cached, n_generated, n_preempted;
    char text[4096];
    size_t text_len;
    float lp[MAXGEN];
    int32_t n_top[MAXGEN];
    xllm_top_logprob top[MAXGEN][4];
} out_rec;

static void on_event(void *user, const xllm_gen_event *ev)
{
    out_rec *r = user;
    if (ev->type == XLLM_EVENT_FINAL) {
        r->n_final++;
        r->finish = ev->finish;
        r->n_cached = ev->n_cached;
        r->n_generated = ev->n_generated;
        r->n_preempted = ev->n_preempted;
        return;
    }
    if (ev->is_prompt) {
        r->n_prompt_events++;
        return;
    }
    if (ev->text_len && r->text_len + ev->text_len < sizeof r->text) {
        memcpy(r->text + r->text_len, ev->text, ev->text_len);
        r->text_len += ev->text_len;
    }
    if (ev->token >= 0 && r->n < MAXGEN) {
        r->lp[r->n] = ev->logprob;
        r->n_top[r->n] = ev->n_top;
        for (int32_t i = 0; i < ev->n_top && i < 4; i++)
            r->top[r->n][i] = ev->top[i];
        r->toks[r->n++] = ev->token;
    }
}

typedef struct rig {
    xllm_tokenizer *tok;
    fake_engine fe;
    xllm_sched *s;
    int32_t n_vocab;
} rig;

static int rig_open(rig *r, int32_t n_blocks, const xllm_sched_params *p)
{
    memset(r, 0, sizeof *r);
    if (xllm_tokenizer_open_path(DEMO, &r->tok) != XLLM_OK)
        return -1;
    r->n_vocab = xllm_tokenizer_n_vocab(r->tok);
    if (fake_engine_init(&r->fe, r->n_vocab, n_blocks, 4096))
        return -1;
    return xllm_sched_new(fake_engine_api(), (xllm_engine_ctx *)&r->fe, r->tok, n_blocks, 256, p, &r->s) == XLLM_OK
               ? 0
               : -1;
}

static void rig_close(rig *r)
{
    xllm_sched_free(r->s);
    fake_engine_free(&r->fe);
    xllm_tokenizer_free(r->tok);
}

static int run_all(rig *r, int max_steps)
{
    int n = 0;
    while (!xllm_sched_idle(r->s) && n < max_steps) {
        if (xllm_sched_step(r->s) != XLLM_OK)
            return -1;
        n++;
    }
    return n;
}

/* Greedy continuation by the fake engine's definition, one sequence. */
static void solo_ref(int32_t n_vocab, const int32_t *prompt, int32_t n_prompt, int32_t n_new, int32_t *out)
{
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(n_prompt + n_new));
    float *lg = malloc(sizeof(float) * (size_t)n_vocab);
    memcpy(seq, prompt, sizeof(int32_t) * (size_t)n_prompt);
    for (int32_t i = 0; i < n_new; i++) {
        int32_t best = 0;
        fake_logits(n_vocab, seq, n_prompt + i, lg);
        for (int32_t v = 1; v < n_vocab; v++)
            if (lg[v] > lg[best])
                best = v;
        seq[n_prompt + i] = out[i] = best;
    }
    free(seq);
    free(lg);
}

static void make_prompt(int32_t *p, int32_t n, int32_t seed, int32_t n_vocab)
{
    uint32_t x = (uint32_t)seed * 2654435761u + 12345u;
    for (int32_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = 10 + (int32_t)((x >> 8) % (uint32_t)(n_vocab - 20));
    }
}

static xllm_gen_params greedy(int32_t max_tokens)
{
    xllm_gen_params g = xllm_gen_params_default();
    g.max_tokens = max_tokens;
    g.ignore_eos = 1;
    return g;
}

TEST(sched_batch_equals_solo)
{
    rig r;
    static out_rec rec[16];
    int32_t prompts[16][80], ref[40];
    xllm_gen_params g = greedy(24);
    xllm_sched_params sp = xllm_sched_params_default();
    sp.step_tokens = 64; /* force chunked prefill */
    if (rig_open(&r, 256, &sp)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < 16; i++) {
        int32_t n = 5 + i * 4;
        make_prompt(prompts[i], n, i, r.n_vocab);
        CHECK(xllm_sched_submit(r.s, prompts[i], n, &g, on_event, &rec[i], NULL) == XLLM_OK);
    }
    CHECK(run_all(&r, 10000) > 0);
    CHECK(r.fe.max_call_tokens <= 64);
    for (int i = 0; i < 16; i++) {
        solo_ref(r.n_vocab, prompts[i], 5 + i * 4, 24, ref);
        CHECK_EQ_INT(rec[i].n_final, 1);
        CHECK_EQ_INT(rec[i].finish, XLLM_FINISH_LENGTH);
        CHECK_EQ_INT(rec[i].n, 24);
        CHECK_MSG(!memcmp(rec[i].toks, ref, sizeof(int32_t) * 24), "request %d differs from its solo output", i);
    }
    rig_close(&r);
}

TEST(sched_decodes_continue_during_long_prefill)
{
    rig r;
    static out_rec a, b;
    int32_t pa[8], pb[600];
    int64_t calls_before;
    xllm_gen_params g = greedy(200);
    xllm_sched_params sp = xllm_sched_params_default();
    sp.step_tokens = 32;
    if (rig_open(&r, 256, &sp)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    make_prompt(pa, 8, 1, r.n_vocab);
    make_prompt(pb, 600, 2, r.n_vocab);
    CHECK(xllm_sched_submit(r.s, pa, 8, &g, on_event, &a, NULL) == XLLM_OK);
    for (int i = 0; i < 3; i++)
        xllm_sched_step(r.s);
    CHECK_EQ_INT(a.n, 3);
    g.max_tokens = 2;
    CHECK(xllm_sched_submit(r.s, pb, 600, &g, on_event, &b, NULL) == XLLM_OK);
    calls_before = r.fe.calls;
    /* 600 prompt tokens at 31 per step (one slot goes to a's decode): ~20 steps,
     * each of which also gives a a token */
    while (b.n == 0 && r.fe.calls - calls_before < 100)
        xllm_sched_step(r.s);
    CHECK(r.fe.calls - calls_before >= 600 / 31);
    CHECK_EQ_INT(a.n, 3 + (int32_t)(r.fe.calls - calls_before));
    CHECK(r.fe.max_call_tokens <= 32);
    run_all(&r, 10000);
    rig_close(&r);
}

TEST(sched_prefix_cache_reuse)
{
    rig r;
    static out_rec a, b, c;
    int32_t pa[100], pb[100], ref[8];
    int64_t before;
    xllm_sched_stats st;
    xllm_gen_params g = greedy(8);
    if (rig_open(&r, 64, NULL)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    make_prompt(pa, 100, 7, r.n_vocab);
    memcpy(pb, pa, sizeof pb);
    pb[90] = pa[90] == 11 ? 12 : 11; /* shares the first 90 tokens: 5 full blocks */
    CHECK(xllm_sched_submit(r.s, pa, 100, &g, on_event, &a, NULL) == XLLM_OK);
    run_all(&r, 1000);
    before = r.fe.tokens_run;
    CHECK(xllm_sched_submit(r.s, pb, 100, &g, on_event, &b, NULL) == XLLM_OK);
    run_all(&r, 1000);
    CHECK_EQ_INT(b.n_cached, 80);
    CHECK_EQ_INT(r.fe.tokens_run - before, 20 + 7); /* 20 prompt tokens computed, then 7 decodes */
    solo_ref(r.n_vocab, pb, 100, 8, ref);
    CHECK(!memcmp(b.toks, ref, sizeof ref));
    /* the same prompt again: all blocks but the one holding the last token */
    CHECK(xllm_sched_submit(r.s, pa, 100, &g, on_event, &c, NULL) == XLLM_OK);
    run_all(&r, 1000);
    CHECK_EQ_INT(c.n_cached, 96);
    CHECK(!memcmp(c.toks, a.toks, sizeof(int32_t) * 8));
    xllm_sched_stats_get(r.s, &st);
    CHECK_EQ_INT(st.cached_tokens, 80 + 96);
    CHECK(st.prefix_hits >= 11);
    CHECK_EQ_INT(st.blocks_used, 0);
    CHECK(st.blocks_cached > 0);
    rig_close(&r);
}

TEST(sched_preemption_recomputes)
{
    rig r;
    static out_rec rec[4];
    int32_t p[4][20], ref[100];
    xllm_sched_stats st;
    xllm_gen_params g = greedy(100);
    /* 4 requests of 120 tokens need 8 blocks each; the pool has 16 */
    if (rig_open(&r, 16, NULL)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(rec, 0, sizeof rec);
    for (int i = 0; i < 4; i++) {
        make_prompt(p[i], 20, 30 + i, r.n_vocab);
        CHECK(xllm_sched_submit(r.s, p[i], 20, &g, on_event, &rec[i], NULL) == XLLM_OK);
    }
    CHECK(run_all(&r, 100000) > 0);
    xllm_sched_stats_get(r.s, &st);
    CHECK(st.preemptions > 0);
    for (int i = 0; i < 4; i++) {
        solo_ref(r.n_vocab, p[i], 20, 100, ref);
        CHECK_EQ_INT(rec[i].n, 100);
        CHECK_MSG(!memcmp(rec[i].toks, ref, sizeof ref), "request %d differs after preemption", i);
    }
    CHECK(rec[3].n_preempted > 0);
    CHECK_EQ_INT(st.blocks_used, 0);
    rig_close(&r);
}

TEST(sched_cancel_frees_and_spares_others)
{
    rig r;
    static out_rec a, b;
    int32_t pa[30], pb[30], ref[40];
    uint64_t ida, idb;
    xllm_sched_stats st;
    xllm_gen_params g = greedy(40);
    if (rig_open(&r, 64, NULL)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    make_prompt(pa, 30, 3, r.n_vocab);
    make_prompt(pb, 30, 4, r.n_vocab);
    CHECK(xllm_sched_submit(r.s, pa, 30, &g, on_event, &a, &ida) == XLLM_OK);
    CHECK(xllm_sched_submit(r.s, pb, 30, &g, on_event, &b, &idb) == XLLM_OK);
    for (int i = 0; i < 5; i++)
        xllm_sched_step(r.s);
    CHECK(xllm_sched_cancel(r.s, ida) == XLLM_OK);
    xllm_sched_step(r.s);
    CHECK_EQ_INT(a.n_final, 1);
    CHECK_EQ_INT(a.finish, XLLM_FINISH_CANCELLED);
    CHECK_EQ_INT(a.n, 5);
    xllm_sched_stats_get(r.s, &st);
    CHECK_EQ_INT(st.running, 1);
    CHECK_EQ_INT(st.blocks_used, 3); /* only b's: 36 tokens */
    CHECK(xllm_sched_cancel(r.s, ida) == XLLM_ERR_NOT_FOUND);
    run_all(&r, 1000);
    solo_ref(r.n_vocab, pb, 30, 40, ref);
    CHECK(!memcmp(b.toks, ref, sizeof ref));
    rig_close(&r);
}

TEST(sched_priorities_and_aging)
{
    rig r;
    static out_rec a, b;
    int32_t pa[4] = {20, 21, 22, 23}, pb[4] = {30, 31, 32, 33};
    xllm_gen_params g = greedy(2);
    xllm_sched_params sp = xllm_sched_params_default();
    sp.max_running = 1;
    sp.batch_max_wait_ms = 60000;
    if (rig_open(&r, 64, &sp)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    g.priority = XLLM_PRIORITY_BATCH;
    CHECK(xllm_sched_submit(r.s, pa, 4, &g, on_event, &a, NULL) == XLLM_OK);
    g.priority = XLLM_PRIORITY_INTERACTIVE;
    CHECK(xllm_sched_submit(r.s, pb, 4, &g, on_event, &b, NULL) == XLLM_OK);
    xllm_sched_step(r.s);
    CHECK_EQ_INT(b.n, 1); /* interactive went first */
    CHECK_EQ_INT(a.n, 0);
    run_all(&r, 100);
    CHECK_EQ_INT(a.n, 2);
    rig_close(&r);

    /* a batch request older than batch_max_wait_ms goes before interactive work */
    sp.batch_max_wait_ms = 0;
    if (rig_open(&r, 64, &sp))
        return;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    g.priority = XLLM_PRIORITY_BATCH;
    CHECK(xllm_sched_submit(r.s, pa, 4, &g, on_event, &a, NULL) == XLLM_OK);
    g.priority = XLLM_PRIORITY_INTERACTIVE;
    CHECK(xllm_sched_submit(r.s, pb, 4, &g, on_event, &b, NULL) == XLLM_OK);
    xllm_sched_step(r.s);
    CHECK_EQ_INT(a.n, 1);
    CHECK_EQ_INT(b.n, 0);
    run_all(&r, 100);
    rig_close(&r);
}

TEST(sched_limits_and_errors)
{
    rig r;
    static out_rec a;
    int32_t p[300];
    xllm_gen_params g = greedy(4);
    xllm_sched_params sp = xllm_sched_params_default();
    sp.max_waiting = 2;
    if (rig_open(&r, 8, &sp)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&a, 0, sizeof a);
    make_prompt(p, 300, 5, r.n_vocab);
    /* 8 blocks hold 128 positions: a 200-token prompt can never fit */
    CHECK(xllm_sched_submit(r.s, p, 200, &g, on_event, &a, NULL) == XLLM_ERR_LIMIT);
    CHECK(strstr(xllm_last_error(), "128") != NULL);
    CHECK(xllm_sched_submit(r.s, p, 0, &g, on_event, &a, NULL) == XLLM_ERR_INVALID_ARGUMENT);
    p[0] = r.n_vocab + 5;
    CHECK(xllm_sched_submit(r.s, p, 3, &g, on_event, &a, NULL) == XLLM_ERR_INVALID_ARGUMENT);
    p[0] = 50;
    g.top_logprobs = 21;
    CHECK(xllm_sched_submit(r.s, p, 3, &g, on_event, &a, NULL) == XLLM_ERR_INVALID_ARGUMENT);
    g.top_logprobs = 0;
    CHECK(xllm_sched_submit(r.s, p, 3, &g, on_event, &a, NULL) == XLLM_OK);
    CHECK(xllm_sched_submit(r.s, p, 3, &g, on_event, &a, NULL) == XLLM_OK);
    CHECK(xllm_sched_submit(r.s, p, 3, &g, on_event, &a, NULL) == XLLM_ERR_LIMIT);
    CHECK(strstr(xllm_last_error(), "queue full") != NULL);
    /* an engine failure ends the step's requests with an error event */
    r.fe.fail_next = 1;
    CHECK(xllm_sched_step(r.s) != XLLM_OK);
    CHECK_EQ_INT(a.n_final, 2);
    CHECK_EQ_INT(a.finish, XLLM_FINISH_ERROR);
    CHECK(xllm_sched_idle(r.s));
    rig_close(&r);
}

TEST(sched_logprobs_match_double_softmax)
{
    rig r;
    static out_rec a;
    int32_t p[10], ref[6];
    float *lg;
    xllm_gen_params g = greedy(6);
    if (rig_open(&r, 64, NULL)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&a, 0, sizeof a);
    make_prompt(p, 10, 9, r.n_vocab);
    g.logprobs = 1;
    g.top_logprobs = 4;
    g.prompt_logprobs = 1;
    CHECK(xllm_sched_submit(r.s, p, 10, &g, on_event, &a, NULL) == XLLM_OK);
    run_all(&r, 100);
    CHECK_EQ_INT(a.n_prompt_events, 10);
    solo_ref(r.n_vocab, p, 10, 6, ref);
    lg = malloc(sizeof(float) * (size_t)r.n_vocab);
    for (int i = 0; i < 6; i++) {
        int32_t seqv[16];
        double mx = -1e30, sum = 0;
        memcpy(seqv, p, sizeof p);
        memcpy(seqv + 10, ref, sizeof(int32_t) * (size_t)i);
        fake_logits(r.n_vocab, seqv, 10 + i, lg);
        for (int32_t v = 0; v < r.n_vocab; v++)
            mx = lg[v] > mx ? lg[v] : mx;
        for (int32_t v = 0; v < r.n_vocab; v++)
            sum += exp((double)lg[v] - mx);
        CHECK_NEAR(a.lp[i], (double)lg[ref[i]] - mx - log(sum), 1e-5);
        CHECK_EQ_INT(a.n_top[i], 4);
        CHECK_EQ_INT(a.top[i][0].token, ref[i]); /* greedy: the chosen token is the most likely */
        for (int k = 0; k < 4; k++)
            CHECK_NEAR(a.top[i][k].logprob, (double)lg[a.top[i][k].token] - mx - log(sum), 1e-5);
        for (int k = 1; k < 4; k++)
            CHECK(a.top[i][k].logprob <= a.top[i][k - 1].logprob);
    }
    free(lg);
    rig_close(&r);
}

TEST(sched_seeded_sampling_batch_invariant)
{
    rig r;
    static out_rec solo, mates[5], again;
    int32_t p[12], q[12];
    xllm_gen_params g = greedy(30);
    g.sampling.temperature = 1.0f;
    g.sampling.top_k = 50;
    g.sampling.seed = 1234;
    if (rig_open(&r, 128, NULL)) {
        test_skip("demo model tokenizer not available");
        return;
    }
    memset(&solo, 0, sizeof solo);
    memset(&again, 0, sizeof again);
    memset(mates, 0, sizeof mates);
    make_prompt(p, 12, 77, r.n_vocab);
    CHECK(xllm_sched_submit(r.s, p, 12, &g, on_event, &solo, NULL) == XLLM_OK);
    run_all(&r, 1000);
    for (int i = 0; i < 5; i++) {
        xllm_gen_params m = g;
        m.sampling.seed = (uint64_t)i;
        make_prompt(q, 12, 100 + i, r.n_vocab);
        CHECK(xllm_sched_submit(r.s, q, 3 + i, &m, on_event, &mates[i], NULL) == XLLM_OK);
    }
    CHECK(xllm_sched_submit(r.s, p, 12, &g, on_event, &again, NULL) == XLLM_OK);
    run_all(&r, 1000);
    CHECK_EQ_INT(again.n, 30);
    CHECK(!memcmp(solo.toks, again.toks, sizeof(int32_t) * 30));
    rig_close(&r);
}

TEST(kv_blocks_lru_and_prefix_keys)
{
    xllm_kv_blocks *p;
    int32_t t1[XLLM_KV_BLOCK_SIZE], t2[XLLM_KV_BLOCK_SIZE], a, b, c;
    uint64_t k1, k2;
    for (int i = 0; i < XLLM_KV_BLOCK_SIZE; i++) {
        t1[i] = i;
        t2[i] = i + 100;
    }
    CHECK(xllm_kv_blocks_new(3, &p) == XLLM_OK);
    k1 = xllm_kv_block_key(0, t1, 0);
    k2 = xllm_kv_block_key(k1, t2, 0);
    CHECK(k1 != k2 && k1 != xllm_kv_block_key(0, t1, 7) && k2 != xllm_kv_block_key(0, t2, 0));
    a = xllm_kv_blocks_alloc(p);
    b = xllm_kv_blocks_alloc(p);
    xllm_kv_blocks_publish(p, a, k1, 0, t1, 0);
    xllm_kv_blocks_publish(p, b, k2, k1, t2, 0);
    CHECK_EQ_INT(xllm_kv_blocks_lookup(p, k1, 0, t1, 0), a); /* in use: shared */
    CHECK_EQ_INT(xllm_kv_blocks_refcount(p, a), 2);
    CHECK_EQ_INT(xllm_kv_blocks_lookup(p, k2, 0, t2, 0), -1); /* wrong parent */
    xllm_kv_blocks_release(p, a);
    xllm_kv_blocks_release(p, a);
    xllm_kv_blocks_release(p, b);
    CHECK_EQ_INT(xllm_kv_blocks_free_count(p), 3);
    CHECK_EQ_INT(xllm_kv_blocks_cached_count(p), 2);
    /* free list order: the never-used block first, then a, then b */
    c = xllm_kv_blocks_alloc(p);
    CHECK(c != a && c != b);
    CHECK_EQ_INT(xllm_kv_blocks_lookup(p, k2, k1, t2, 0), b); /* still cached after release */
    CHECK_EQ_INT(xllm_kv_blocks_alloc(p), a);                 /* reuse drops a's key */
    CHECK_EQ_INT(xllm_kv_blocks_lookup(p, k1, 0, t1, 0), -1);
    CHECK_EQ_INT(xllm_kv_blocks_alloc(p), -1);
    CHECK_EQ_INT(xllm_kv_blocks_cached_count(p), 0);
    xllm_kv_blocks_free(p);
}
