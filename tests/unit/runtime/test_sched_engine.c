/* test_sched_engine.c - the scheduler over the real CPU engine and the demo
 * model: 16 concurrent requests of different lengths, each identical to its
 * solo greedy output (batch invariance end to end); solo greedy equal to the
 * plain session loop; a shared prefix skips its prefill; stop strings cut
 * the streamed text exactly. */
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "engine/session.h"
#include "runtime/instance.h"
#include "runtime/sampler.h"

#define DEMO "models/kjv-demo.gguf"
#define NGEN 20

typedef struct rec {
    int32_t toks[64];
    int32_t n, n_cached, done;
    xllm_finish finish;
    char text[2048];
    size_t len;
} rec;

static void on_ev(void *user, const xllm_gen_event *ev)
{
    rec *r = user;
    if (ev->type == XLLM_EVENT_FINAL) {
        r->done = 1;
        r->finish = ev->finish;
        r->n_cached = ev->n_cached;
        return;
    }
    if (ev->token >= 0 && r->n < 64)
        r->toks[r->n++] = ev->token;
    if (ev->text_len && r->len + ev->text_len < sizeof r->text) {
        memcpy(r->text + r->len, ev->text, ev->text_len);
        r->len += ev->text_len;
        r->text[r->len] = 0;
    }
}

static xllm_instance *open_demo(void)
{
    xllm_instance_params p = xllm_instance_params_default();
    xllm_instance *in = NULL;
    p.model_path = DEMO;
    p.n_threads = 2;
    p.kv_blocks = 300;
    p.max_batch_tokens = 64; /* long prompts arrive in several chunks */
    if (xllm_instance_open(&p, &in) != XLLM_OK)
        return NULL;
    return in;
}

static void drain(xllm_instance *in)
{
    for (int i = 0; i < 100000 && !xllm_sched_idle(in->sched); i++)
        if (xllm_sched_step(in->sched) != XLLM_OK)
            break;
}

static int32_t prompt_of(xllm_instance *in, int i, int32_t *ids, int32_t cap)
{
    static const char *const texts[] = {"In the beginning", "And the LORD said unto Moses,",
                                        "Blessed are the meek:", "The LORD is my shepherd; I shall not want.",
                                        "And it came to pass"};
    char buf[512];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s %.*s", texts[i % 5], i * 7, "and the children of Israel went out of Egypt and");
    if (xllm_tokenize_into(in->tok, buf, strlen(buf), 1, 0, ids, (size_t)cap, &n) != XLLM_OK)
        return 0;
    return (int32_t)n;
}

TEST(sched_engine_16_concurrent_equal_solo)
{
    static rec solo[16], batch[16];
    int32_t ids[16][128], n[16];
    xllm_gen_params g = xllm_gen_params_default();
    xllm_instance *in = open_demo();
    if (!in) {
        test_skip("demo model not loadable");
        return;
    }
    memset(solo, 0, sizeof solo);
    memset(batch, 0, sizeof batch);
    g.max_tokens = NGEN;
    for (int i = 0; i < 16; i++) {
        n[i] = prompt_of(in, i, ids[i], 128);
        CHECK(n[i] > 0);
        CHECK(xllm_sched_submit(in->sched, ids[i], n[i], &g, on_ev, &solo[i], NULL) == XLLM_OK);
        drain(in);
    }
    for (int i = 0; i < 16; i++)
        CHECK(xllm_sched_submit(in->sched, ids[i], n[i], &g, on_ev, &batch[i], NULL) == XLLM_OK);
    drain(in);
    for (int i = 0; i < 16; i++) {
        CHECK(solo[i].done && batch[i].done);
        CHECK_EQ_INT(batch[i].n, solo[i].n);
        CHECK_MSG(!memcmp(batch[i].toks, solo[i].toks, sizeof(int32_t) * (size_t)solo[i].n),
                  "request %d: batched output differs from solo", i);
        CHECK_EQ_STR(batch[i].text, solo[i].text);
    }
    xllm_instance_close(in);
}

TEST(sched_engine_solo_equals_session_greedy)
{
    static rec r;
    int32_t ids[128], n, ref[NGEN];
    float *lg;
    xllm_session *s = NULL;
    xllm_gen_params g = xllm_gen_params_default();
    xllm_instance *in = open_demo();
    if (!in || xllm_session_open(DEMO, 2, 256, &s) != XLLM_OK) {
        xllm_instance_close(in);
        test_skip("demo model not loadable");
        return;
    }
    memset(&r, 0, sizeof r);
    n = prompt_of(in, 3, ids, 128);
    lg = malloc(sizeof(float) * (size_t)xllm_session_n_vocab(s));
    CHECK(xllm_session_eval(s, ids, n, 0, lg) == XLLM_OK);
    for (int i = 0; i < NGEN; i++) {
        ref[i] = xllm_argmax(lg, xllm_session_n_vocab(s));
        CHECK(xllm_session_eval(s, &ref[i], 1, 0, lg) == XLLM_OK);
    }
    g.max_tokens = NGEN;
    g.ignore_eos = 1;
    CHECK(xllm_sched_submit(in->sched, ids, n, &g, on_ev, &r, NULL) == XLLM_OK);
    drain(in);
    CHECK_EQ_INT(r.n, NGEN);
    CHECK(!memcmp(r.toks, ref, sizeof ref));
    free(lg);
    xllm_session_close(s);
    xllm_instance_close(in);
}

TEST(sched_engine_prefix_and_stops)
{
    static rec a, b, c;
    int32_t ids[200], n;
    const char *stop[1];
    char cut[64];
    xllm_sched_stats st0, st1;
    xllm_gen_params g = xllm_gen_params_default();
    xllm_instance *in = open_demo();
    const char *text = "And God said, Let there be light: and there was light. And God saw the light, that it "
                       "was good: and God divided the light from the darkness.";
    size_t nn = 0;
    if (!in) {
        test_skip("demo model not loadable");
        return;
    }
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    CHECK(xllm_tokenize_into(in->tok, text, strlen(text), 1, 0, ids, 200, &nn) == XLLM_OK);
    n = (int32_t)nn;
    g.max_tokens = 24;
    CHECK(xllm_sched_submit(in->sched, ids, n, &g, on_ev, &a, NULL) == XLLM_OK);
    drain(in);
    xllm_sched_stats_get(in->sched, &st0);
    CHECK(xllm_sched_submit(in->sched, ids, n, &g, on_ev, &b, NULL) == XLLM_OK);
    drain(in);
    xllm_sched_stats_get(in->sched, &st1);
    CHECK_EQ_INT(b.n_cached, (n - 1) / 16 * 16);
    CHECK(b.n_cached >= 16);
    CHECK_EQ_STR(b.text, a.text);
    /* stop on a piece of the text seen: the output is the text before it */
    CHECK(a.len > 12);
    snprintf(cut, sizeof cut, "%.5s", a.text + a.len / 2);
    stop[0] = cut;
    g.stops = stop;
    g.n_stops = 1;
    CHECK(xllm_sched_submit(in->sched, ids, n, &g, on_ev, &c, NULL) == XLLM_OK);
    drain(in);
    CHECK_EQ_INT(c.finish, XLLM_FINISH_STOP);
    CHECK(strstr(a.text, cut) != NULL);
    CHECK_EQ_INT(c.len, (size_t)(strstr(a.text, cut) - a.text));
    CHECK(!strncmp(c.text, a.text, c.len));
    xllm_instance_close(in);
}

/* A grammar constrains every output, alone and batched; a malformed one is
 * refused at submit with its position. */
TEST(sched_engine_grammar)
{
    static rec r[4];
    int32_t ids[64];
    size_t nn = 0;
    xllm_gen_params g = xllm_gen_params_default();
    xllm_instance *in = open_demo();
    const char *gbnf = "root ::= \" \" (\"Amen\" | \"Selah\") \", \" [a-z]+ (\" \" [a-z]+){1,3} \".\"\n";
    if (!in) {
        test_skip("demo model not loadable");
        return;
    }
    memset(r, 0, sizeof r);
    CHECK(xllm_tokenize_into(in->tok, "And the LORD said", 17, 1, 0, ids, 64, &nn) == XLLM_OK);
    g.max_tokens = 40;
    g.grammar = "root ::= \"a\" (";
    CHECK(xllm_sched_submit(in->sched, ids, (int32_t)nn, &g, on_ev, &r[0], NULL) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "1:") != NULL);
    g.grammar = gbnf;
    for (int i = 0; i < 4; i++) {
        g.sampling.temperature = i ? 1.0f : 0.0f;
        g.sampling.seed = (uint64_t)i;
        CHECK(xllm_sched_submit(in->sched, ids, (int32_t)nn - (i & 1), &g, on_ev, &r[i], NULL) == XLLM_OK);
    }
    drain(in);
    for (int i = 0; i < 4; i++) {
        const char *t = r[i].text, *p;
        int words = 0;
        CHECK_MSG(r[i].finish == XLLM_FINISH_STOP, "request %d finished %d: '%s'", i, r[i].finish, t);
        CHECK_MSG(!strncmp(t, " Amen, ", 7) || !strncmp(t, " Selah, ", 8), "request %d: '%s'", i, t);
        p = strchr(t, ',') + 2;
        for (; *p && *p != '.'; p++) {
            CHECK_MSG((*p >= 'a' && *p <= 'z') || *p == ' ', "request %d: '%s'", i, t);
            words += *p == ' ';
        }
        CHECK_MSG(*p == '.' && p[1] == 0 && words >= 1 && words <= 3, "request %d: '%s'", i, t);
    }
    xllm_instance_close(in);
}

/* 8 sampled requests under one grammar (two prompts, n-choices style), run
 * with the grammar cache (one compile, shared tables) and without (one per
 * request): every request's tokens are the same both ways. */
static void run_grammar_requests(int cache, rec *r, int n, xllm_sched_stats *st)
{
    const char *gbnf = "root ::= \" {\\\"name\\\": \\\"\" [a-z ]{1,12} \"\\\", \\\"age\\\": \" [0-9]{1,3} "
                       "\", \\\"tags\\\": [\" (tag (\", \" tag){0,3})? \"]}\"\n"
                       "tag ::= \"\\\"\" [a-zA-Z]{1,8} \"\\\"\"\n";
    xllm_instance_params ip = xllm_instance_params_default();
    xllm_instance *in = NULL;
    int32_t ids[64];
    size_t nn = 0;
    ip.model_path = DEMO;
    ip.n_threads = 2;
    ip.kv_blocks = 300;
    ip.sched.grammar_cache = cache;
    memset(r, 0, sizeof *r * (size_t)n);
    if (xllm_instance_open(&ip, &in) != XLLM_OK)
        return;
    for (int i = 0; i < n; i++) {
        xllm_gen_params g = xllm_gen_params_default();
        const char *pr = i & 1 ? "And the LORD said" : "In the beginning";
        CHECK(xllm_tokenize_into(in->tok, pr, strlen(pr), 1, 0, ids, 64, &nn) == XLLM_OK);
        g.max_tokens = 48;
        g.grammar = gbnf;
        g.sampling.temperature = 1.0f;
        g.sampling.seed = (uint64_t)(i / 2 + 1);
        CHECK(xllm_sched_submit(in->sched, ids, (int32_t)nn, &g, on_ev, &r[i], NULL) == XLLM_OK);
    }
    drain(in);
    xllm_sched_stats_get(in->sched, st);
    xllm_instance_close(in);
}

TEST(sched_engine_grammar_shared_equals_separate)
{
    static rec shared[8], alone[8];
    xllm_sched_stats s1, s0;
    memset(&s1, 0, sizeof s1);
    memset(&s0, 0, sizeof s0);
    run_grammar_requests(1, shared, 8, &s1);
    if (!shared[0].done) {
        test_skip("demo model not loadable");
        return;
    }
    run_grammar_requests(0, alone, 8, &s0);
    CHECK_EQ_INT((int)s1.grammar_misses, 1);
    CHECK_EQ_INT((int)s1.grammar_hits, 7);
    CHECK_EQ_INT((int)s0.grammar_misses, 8);
    CHECK_EQ_INT((int)s0.grammar_hits, 0);
    for (int i = 0; i < 8; i++) {
        CHECK_MSG(shared[i].done && alone[i].done, "request %d did not finish", i);
        CHECK_EQ_INT(shared[i].n, alone[i].n);
        CHECK_MSG(!memcmp(shared[i].toks, alone[i].toks, sizeof(int32_t) * (size_t)shared[i].n),
                  "request %d: tokens differ with the shared grammar cache", i);
        CHECK_MSG(shared[i].text[0] == ' ' && shared[i].text[1] == '{', "request %d: '%s'", i, shared[i].text);
    }
    /* same seed, other prompt: different outputs, so sharing is not trivially equal */
    CHECK(shared[0].n != shared[1].n || memcmp(shared[0].toks, shared[1].toks, sizeof(int32_t) * (size_t)shared[0].n));
}
