/* test_runner_proto.c - the runner wire protocol alone: every frame type
 * encoded and decoded back field by field, the header checks (partial
 * frames, bad magic, unknown version, oversized length), malformed payloads
 * refused with a status, and allocation failures during decode leaving
 * nothing behind. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "runtime/runner_proto.h"
#include "../test.h"

/* Encode into a fresh buffer, check the header, hand back the payload. */
static const uint8_t *one_frame(xllm_buf *b, int type, size_t *len)
{
    xllm_rframe_header h;
    size_t total = 0;
    CHECK_OK(xllm_rproto_peek((const uint8_t *)b->data, b->len, &h, &total));
    CHECK_EQ_INT(total, b->len);
    CHECK_EQ_INT(h.type, type);
    CHECK_EQ_INT(h.version, XLLM_RUNNER_PROTOCOL);
    *len = h.len;
    return (const uint8_t *)b->data + XLLM_RPROTO_HEADER_SIZE;
}

TEST(rproto_header_checks)
{
    xllm_buf b;
    xllm_rframe_header h;
    size_t total = 99;
    uint8_t bad[8];
    xllm_buf_init(&b, 0);
    CHECK_OK(xllm_rproto_put_shutdown(&b));
    CHECK_EQ_INT(b.len, 8);
    /* every prefix of a frame is "need more", never an error */
    for (size_t n = 0; n < b.len; n++) {
        CHECK_OK(xllm_rproto_peek((const uint8_t *)b.data, n, &h, &total));
        CHECK_EQ_INT(total, 0);
    }
    CHECK_OK(xllm_rproto_peek((const uint8_t *)b.data, b.len, &h, &total));
    CHECK_EQ_INT(total, 8);
    CHECK_EQ_INT(h.type, XLLM_RF_SHUTDOWN);
    memcpy(bad, b.data, 8);
    bad[0] = 'G'; /* an HTTP client on the socket */
    CHECK_EQ_INT(xllm_rproto_peek(bad, 8, &h, &total), XLLM_ERR_FORMAT);
    CHECK_EQ_INT(xllm_rproto_peek(bad, 1, &h, &total), XLLM_ERR_FORMAT);
    memcpy(bad, b.data, 8);
    bad[2] = XLLM_RUNNER_PROTOCOL + 1;
    CHECK_EQ_INT(xllm_rproto_peek(bad, 3, &h, &total), XLLM_ERR_ABI_MISMATCH);
    CHECK(strstr(xllm_last_error(), "version 2") != NULL);
    memcpy(bad, b.data, 8);
    bad[4] = bad[5] = bad[6] = bad[7] = 0xff;
    CHECK_EQ_INT(xllm_rproto_peek(bad, 8, &h, &total), XLLM_ERR_LIMIT);
    CHECK_EQ_STR(xllm_rframe_name(XLLM_RF_TOKEN), "token");
    CHECK_EQ_STR(xllm_rframe_name(200), "unknown");
    xllm_buf_free(&b);
}

TEST(rproto_hello_roundtrip)
{
    xllm_runner_info a, b;
    xllm_buf buf;
    size_t len;
    memset(&a, 0, sizeof a);
    a.protocol = XLLM_RUNNER_PROTOCOL;
    snprintf(a.engine, sizeof a.engine, "cpu");
    snprintf(a.model_path, sizeof a.model_path, "/m/kjv \"demo\".gguf");
    snprintf(a.arch, sizeof a.arch, "llama");
    a.n_vocab = 8192, a.n_embd = 256, a.n_layer = 4, a.n_ctx_train = 512, a.n_ctx = 384, a.is_encoder = 0;
    a.kv_type = 2, a.kv_types = 7, a.n_blocks = 123, a.max_running = 16, a.max_waiting = 1000;
    a.weight_bytes = 17110432ull, a.kv_bytes = 5ull << 32, a.scratch_bytes = 99, a.load_ns = 123456789012ull;
    a.pid = 4242;
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_hello(&buf, &a));
    const uint8_t *p = one_frame(&buf, XLLM_RF_HELLO, &len);
    CHECK_OK(xllm_rproto_get_hello(p, len, &b));
    CHECK_EQ_STR(b.engine, "cpu");
    CHECK_EQ_STR(b.model_path, a.model_path);
    CHECK_EQ_STR(b.arch, "llama");
    CHECK(!memcmp(&a, &b, sizeof a));
    xllm_buf_free(&buf);
}

TEST(rproto_submit_roundtrip)
{
    const char *stops[] = {"\n\n", "Amen", "ü"};
    const int32_t bt[] = {5, 7, 9};
    const float bv[] = {-INFINITY, 2.5f, INFINITY};
    xllm_runner_request r;
    xllm_rproto_submit s;
    xllm_buf buf;
    size_t len;
    memset(&r, 0, sizeof r);
    r.prompt_text = "In the beginning\0x";
    r.prompt_len = 18; /* an embedded NUL travels */
    r.add_special = 0;
    r.parse_special = 1;
    r.params = xllm_gen_params_default();
    r.params.sampling.temperature = 0.7f;
    r.params.sampling.top_k = 40;
    r.params.sampling.top_p = 0.9f;
    r.params.sampling.min_p = 0.05f;
    r.params.sampling.typical_p = 0.95f;
    r.params.sampling.repeat_penalty = 1.1f;
    r.params.sampling.presence_penalty = 0.25f;
    r.params.sampling.frequency_penalty = -0.5f;
    r.params.sampling.penalty_last_n = 64;
    r.params.sampling.seed = 0xfedcba9876543210ull; /* high bit set */
    r.params.max_tokens = 77;
    r.params.n_ctx = 256;
    r.params.logprobs = 1;
    r.params.top_logprobs = 5;
    r.params.prompt_logprobs = 1;
    r.params.ignore_eos = 1;
    r.params.priority = XLLM_PRIORITY_BATCH;
    r.params.stops = stops;
    r.params.n_stops = 3;
    r.params.bias_tokens = bt;
    r.params.bias_values = bv;
    r.params.n_bias = 3;
    r.params.cache_salt = 0x8000000000000001ull;
    r.grammar = "root ::= \"yes\" | \"no\"";
    r.trace_id = "req-42";
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_submit(&buf, 991, &r));
    const uint8_t *p = one_frame(&buf, XLLM_RF_SUBMIT, &len);
    CHECK_OK(xllm_rproto_get_submit(p, len, &s));
    CHECK_EQ_INT(s.tag, 991);
    CHECK_EQ_INT(s.req.prompt_len, 18);
    CHECK(!memcmp(s.req.prompt_text, r.prompt_text, 18));
    CHECK(s.req.prompt_tokens == NULL);
    CHECK_EQ_INT(s.req.add_special, 0);
    CHECK_EQ_INT(s.req.parse_special, 1);
    const xllm_gen_params *q = &s.req.params;
    const xllm_sampler_params *a = &r.params.sampling, *b = &q->sampling; /* field by field: padding differs */
    CHECK(a->temperature == b->temperature && a->top_k == b->top_k && a->top_p == b->top_p);
    CHECK(a->min_p == b->min_p && a->typical_p == b->typical_p && a->repeat_penalty == b->repeat_penalty);
    CHECK(a->presence_penalty == b->presence_penalty && a->frequency_penalty == b->frequency_penalty);
    CHECK(a->penalty_last_n == b->penalty_last_n && a->seed == b->seed);
    CHECK_EQ_INT(q->max_tokens, 77);
    CHECK_EQ_INT(q->n_ctx, 256);
    CHECK_EQ_INT(q->logprobs, 1);
    CHECK_EQ_INT(q->top_logprobs, 5);
    CHECK_EQ_INT(q->prompt_logprobs, 1);
    CHECK_EQ_INT(q->ignore_eos, 1);
    CHECK_EQ_INT(q->priority, XLLM_PRIORITY_BATCH);
    CHECK(q->cache_salt == r.params.cache_salt);
    CHECK_EQ_INT(q->n_stops, 3);
    for (int i = 0; i < 3 && q->n_stops == 3; i++)
        CHECK_EQ_STR(q->stops[i], stops[i]);
    CHECK_EQ_INT(q->n_bias, 3);
    for (int i = 0; i < 3 && q->n_bias == 3; i++) {
        CHECK_EQ_INT(q->bias_tokens[i], bt[i]);
        CHECK(q->bias_values[i] == bv[i]);
    }
    CHECK_EQ_STR(s.req.grammar, r.grammar);
    CHECK_EQ_STR(q->grammar, r.grammar); /* the scheduler reads it from params */
    CHECK(q->grammar_root == NULL && q->n_grammar_triggers == 0 && q->n_grammar_trigger_tokens == 0);
    CHECK_EQ_STR(s.req.trace_id, "req-42");
    xllm_rproto_submit_free(&s);
    xllm_buf_free(&buf);

    /* grammar from params, with its start rule and lazy triggers */
    const char *words[] = {"<tool_call>", "{"};
    const int32_t ttoks[] = {128010};
    r.grammar = NULL;
    r.params.grammar = "start ::= \"x\"";
    r.params.grammar_root = "start";
    r.params.grammar_triggers = words;
    r.params.n_grammar_triggers = 2;
    r.params.grammar_trigger_tokens = ttoks;
    r.params.n_grammar_trigger_tokens = 1;
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_submit(&buf, 992, &r));
    p = one_frame(&buf, XLLM_RF_SUBMIT, &len);
    CHECK_OK(xllm_rproto_get_submit(p, len, &s));
    q = &s.req.params;
    CHECK_EQ_STR(q->grammar, "start ::= \"x\"");
    CHECK_EQ_STR(s.req.grammar, q->grammar);
    CHECK_EQ_STR(q->grammar_root, "start");
    CHECK_EQ_INT(q->n_grammar_triggers, 2);
    if (q->n_grammar_triggers == 2) {
        CHECK_EQ_STR(q->grammar_triggers[0], "<tool_call>");
        CHECK_EQ_STR(q->grammar_triggers[1], "{");
    }
    CHECK_EQ_INT(q->n_grammar_trigger_tokens, 1);
    CHECK(q->n_grammar_trigger_tokens == 1 && q->grammar_trigger_tokens[0] == 128010);
    xllm_rproto_submit_free(&s);
    xllm_buf_free(&buf);

    /* token prompt, defaults for everything else */
    const int32_t toks[] = {1, 2, 3, 8191};
    memset(&r, 0, sizeof r);
    r.prompt_tokens = toks;
    r.n_prompt_tokens = 4;
    r.params = xllm_gen_params_default();
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_submit(&buf, 1, &r));
    p = one_frame(&buf, XLLM_RF_SUBMIT, &len);
    CHECK_OK(xllm_rproto_get_submit(p, len, &s));
    CHECK(s.req.prompt_text == NULL);
    CHECK_EQ_INT(s.req.n_prompt_tokens, 4);
    CHECK(s.req.n_prompt_tokens == 4 && !memcmp(s.req.prompt_tokens, toks, sizeof toks));
    CHECK_EQ_INT(s.req.params.priority, XLLM_PRIORITY_INTERACTIVE);
    CHECK(s.req.grammar == NULL && s.req.trace_id == NULL);
    xllm_rproto_submit_free(&s);
    xllm_buf_free(&buf);
}

TEST(rproto_submit_refuses_what_json_cannot_carry)
{
    xllm_runner_request r;
    xllm_buf buf;
    const float nanv[] = {NAN};
    const int32_t one[] = {1};
    memset(&r, 0, sizeof r);
    r.params = xllm_gen_params_default();
    xllm_buf_init(&buf, 0);
    CHECK_EQ_INT(xllm_rproto_put_submit(&buf, 1, &r), XLLM_ERR_INVALID_ARGUMENT); /* no prompt */
    r.prompt_text = "\xff\xfe";
    r.prompt_len = 2;
    CHECK_EQ_INT(xllm_rproto_put_submit(&buf, 1, &r), XLLM_ERR_INVALID_ARGUMENT); /* not UTF-8 */
    r.prompt_text = "ok";
    r.params.sampling.temperature = NAN;
    CHECK_EQ_INT(xllm_rproto_put_submit(&buf, 1, &r), XLLM_ERR_INVALID_ARGUMENT);
    r.params.sampling.temperature = 0;
    r.params.bias_tokens = one;
    r.params.bias_values = nanv;
    r.params.n_bias = 1;
    CHECK_EQ_INT(xllm_rproto_put_submit(&buf, 1, &r), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(buf.len, 0); /* a failed encode leaves nothing */
    xllm_buf_free(&buf);
}

/* Payloads that must be refused with a status (never a crash). */
TEST(rproto_submit_malformed)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"text\": \"a\", \"tokens\": [1]}",
        "{}",
        "{\"text\": 5}",
        "{\"tokens\": [1, \"x\"]}",
        "{\"tokens\": [1, 4294967296]}",
        "{\"text\": \"a\", \"top_k\": 1.5}",
        "{\"text\": \"a\", \"temperature\": \"hot\"}",
        "{\"text\": \"a\", \"temperature\": 1e300}",
        "{\"text\": \"a\", \"priority\": \"urgent\"}",
        "{\"text\": \"a\", \"stops\": \"x\"}",
        "{\"text\": \"a\", \"stops\": [\"\"]}",
        "{\"text\": \"a\", \"stops\": [1]}",
        "{\"text\": \"a\", \"logit_bias\": [[1]]}",
        "{\"text\": \"a\", \"logit_bias\": [[1, \"lots\"]]}",
        "{\"text\": \"a\", \"logit_bias\": {\"1\": 2}}",
        "{\"text\": \"a\", \"add_special\": 2}",
        "{\"text\": \"a\", \"grammar\": 3}",
        "{\"text\": \"a\", \"grammar\": \"g\", \"grammar_triggers\": [\"\"]}",
        "{\"text\": \"a\", \"grammar\": \"g\", \"grammar_trigger_tokens\": [\"x\"]}",
        "{\"text\": \"a\", \"grammar\": \"g\", \"grammar_root\": 1}",
        "{\"text\": \"a\", \"text\": \"b\"}",
        "{\"text\": \"a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xllm_rproto_submit s;
        xllm_status st = xllm_rproto_get_submit((const uint8_t *)bad[i], strlen(bad[i]), &s);
        CHECK_MSG(st != XLLM_OK, "accepted bad submit %zu: %s", i, bad[i]);
        CHECK(s.text == NULL && s.tokens == NULL && s.stops == NULL);
        CHECK(strlen(xllm_last_error()) > 0);
    }
    /* too many stops */
    char many[1024] = "{\"text\":\"a\",\"stops\":[";
    for (int i = 0; i <= XLLM_MAX_STOP_STRINGS; i++)
        strcat(many, i ? ",\"s\"" : "\"s\"");
    strcat(many, "]}");
    xllm_rproto_submit s;
    CHECK_EQ_INT(xllm_rproto_get_submit((const uint8_t *)many, strlen(many), &s), XLLM_ERR_LIMIT);
    /* a refusal still knows the tag */
    const char *t = "{\"tag\": 77, \"text\": 1}";
    CHECK(xllm_rproto_get_submit((const uint8_t *)t, strlen(t), &s) != XLLM_OK);
    CHECK_EQ_INT(s.tag, 77);
}

TEST(rproto_submit_alloc_failures)
{
    const char *stops[] = {"a", "bb"};
    const int32_t bt[] = {5, 7};
    const float bv[] = {1, 2};
    xllm_runner_request r;
    xllm_buf buf;
    size_t len;
    memset(&r, 0, sizeof r);
    r.prompt_text = "text";
    r.prompt_len = 4;
    r.params = xllm_gen_params_default();
    r.params.stops = stops;
    r.params.n_stops = 2;
    r.params.bias_tokens = bt;
    r.params.bias_values = bv;
    r.params.n_bias = 2;
    r.grammar = "g";
    r.trace_id = "t";
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_submit(&buf, 3, &r));
    const uint8_t *p = one_frame(&buf, XLLM_RF_SUBMIT, &len);
    int ok_at = -1;
    for (int n = 0; n < 40 && ok_at < 0; n++) {
        xllm_rproto_submit s;
        xllm_alloc_fail_after(n);
        xllm_status st = xllm_rproto_get_submit(p, len, &s);
        xllm_alloc_fail_after(-1);
        if (st == XLLM_OK) {
            ok_at = n;
            CHECK_EQ_INT(s.req.params.n_stops, 2);
            xllm_rproto_submit_free(&s);
        } else {
            CHECK_EQ_INT(st, XLLM_ERR_OUT_OF_MEMORY);
        }
    }
    CHECK(ok_at > 0);
    xllm_buf_free(&buf);
}

TEST(rproto_submit_reply_and_cancel)
{
    xllm_buf buf;
    size_t len;
    uint64_t tag, id;
    xllm_status st;
    char msg[128];
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_submit_reply(&buf, 5, 1234, XLLM_OK, NULL));
    const uint8_t *p = one_frame(&buf, XLLM_RF_SUBMIT_REPLY, &len);
    CHECK_OK(xllm_rproto_get_submit_reply(p, len, &tag, &id, &st, msg, sizeof msg));
    CHECK_EQ_INT(tag, 5);
    CHECK_EQ_INT(id, 1234);
    CHECK_EQ_INT(st, XLLM_OK);
    buf.len = 0;
    CHECK_OK(xllm_rproto_put_submit_reply(&buf, 6, 0, XLLM_ERR_LIMIT, "queue full: 1000 waiting"));
    p = one_frame(&buf, XLLM_RF_SUBMIT_REPLY, &len);
    CHECK_OK(xllm_rproto_get_submit_reply(p, len, &tag, &id, &st, msg, sizeof msg));
    CHECK_EQ_INT(tag, 6);
    CHECK_EQ_INT(st, XLLM_ERR_LIMIT);
    CHECK_EQ_STR(msg, "queue full: 1000 waiting");
    buf.len = 0;
    CHECK_OK(xllm_rproto_put_cancel(&buf, 0xffffffffffffull));
    p = one_frame(&buf, XLLM_RF_CANCEL, &len);
    CHECK_OK(xllm_rproto_get_cancel(p, len, &id));
    CHECK(id == 0xffffffffffffull);
    CHECK_EQ_INT(xllm_rproto_get_cancel((const uint8_t *)"{\"id\":\"x\"}", 10, &id), XLLM_ERR_FORMAT);
    xllm_buf_free(&buf);
}

TEST(rproto_token_roundtrip)
{
    xllm_top_logprob top[XLLM_MAX_TOP_LOGPROBS], got[XLLM_MAX_TOP_LOGPROBS];
    xllm_gen_event ev, back;
    xllm_buf buf;
    size_t len;
    memset(&ev, 0, sizeof ev);
    for (int i = 0; i < XLLM_MAX_TOP_LOGPROBS; i++)
        top[i] = (xllm_top_logprob){100 + i, -0.125f * (float)i};
    ev.type = XLLM_EVENT_TOKEN;
    ev.request_id = 0x1122334455667788ull;
    ev.token = 8191;
    ev.is_prompt = 1;
    ev.text = "let there be\xe2\x80\x94";
    ev.text_len = strlen(ev.text);
    ev.logprob = -1.0e-7f;
    ev.n_top = XLLM_MAX_TOP_LOGPROBS;
    ev.top = top;
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_event(&buf, &ev));
    const uint8_t *p = one_frame(&buf, XLLM_RF_TOKEN, &len);
    CHECK_EQ_INT(len, XLLM_RPROTO_TOKEN_FIXED + 8 * XLLM_MAX_TOP_LOGPROBS + ev.text_len);
    CHECK_OK(xllm_rproto_get_token(p, len, &back, got));
    CHECK_EQ_INT(back.type, XLLM_EVENT_TOKEN);
    CHECK(back.request_id == ev.request_id);
    CHECK_EQ_INT(back.token, 8191);
    CHECK_EQ_INT(back.is_prompt, 1);
    CHECK(back.logprob == ev.logprob);
    CHECK_EQ_INT(back.n_top, XLLM_MAX_TOP_LOGPROBS);
    CHECK(!memcmp(got, top, sizeof top));
    CHECK_EQ_INT(back.text_len, ev.text_len);
    CHECK(!memcmp(back.text, ev.text, ev.text_len));
    /* NaN logprob (not asked) and no text survive too */
    buf.len = 0;
    ev.logprob = NAN;
    ev.n_top = 0;
    ev.text_len = 0;
    ev.is_prompt = 0;
    CHECK_OK(xllm_rproto_put_event(&buf, &ev));
    p = one_frame(&buf, XLLM_RF_TOKEN, &len);
    CHECK_OK(xllm_rproto_get_token(p, len, &back, got));
    CHECK(isnan(back.logprob));
    CHECK_EQ_INT(back.text_len, 0);
    /* lengths that disagree with the fields */
    uint8_t raw[64];
    memcpy(raw, p, len);
    CHECK_EQ_INT(xllm_rproto_get_token(raw, len - 1, &back, got), XLLM_ERR_FORMAT);
    raw[17] = 21;
    CHECK_EQ_INT(xllm_rproto_get_token(raw, len, &back, got), XLLM_ERR_FORMAT);
    raw[17] = 0;
    raw[20] = 5; /* claims 5 text bytes */
    CHECK_EQ_INT(xllm_rproto_get_token(raw, len, &back, got), XLLM_ERR_FORMAT);
    raw[20] = 0xff, raw[23] = 0xff; /* huge text length must not overflow the check */
    CHECK_EQ_INT(xllm_rproto_get_token(raw, len, &back, got), XLLM_ERR_FORMAT);
    ev.n_top = 21;
    CHECK_EQ_INT(xllm_rproto_put_event(&buf, &ev), XLLM_ERR_INVALID_ARGUMENT);
    xllm_buf_free(&buf);
}

TEST(rproto_final_roundtrip)
{
    xllm_gen_event ev;
    xllm_rproto_final f;
    xllm_buf buf;
    size_t len;
    memset(&ev, 0, sizeof ev);
    ev.type = XLLM_EVENT_FINAL;
    ev.request_id = 9;
    ev.finish = XLLM_FINISH_STOP;
    ev.stop_string = "Amen";
    ev.n_prompt = 100, ev.n_cached = 64, ev.n_generated = 17, ev.n_preempted = 2;
    ev.t.queue_ns = 1, ev.t.prefill_ns = 20000000000ull, ev.t.decode_ns = 3;
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_event(&buf, &ev));
    const uint8_t *p = one_frame(&buf, XLLM_RF_FINAL, &len);
    CHECK_OK(xllm_rproto_get_final(p, len, &f));
    CHECK_EQ_INT(f.ev.type, XLLM_EVENT_FINAL);
    CHECK_EQ_INT(f.ev.request_id, 9);
    CHECK_EQ_INT(f.ev.finish, XLLM_FINISH_STOP);
    CHECK_EQ_STR(f.ev.stop_string, "Amen");
    CHECK(f.ev.error == NULL);
    CHECK_EQ_INT(f.ev.n_prompt, 100);
    CHECK_EQ_INT(f.ev.n_cached, 64);
    CHECK_EQ_INT(f.ev.n_generated, 17);
    CHECK_EQ_INT(f.ev.n_preempted, 2);
    CHECK(!memcmp(&f.ev.t, &ev.t, sizeof ev.t));
    for (int fin = XLLM_FINISH_STOP; fin <= XLLM_FINISH_ERROR; fin++) {
        buf.len = 0;
        ev.finish = (xllm_finish)fin;
        ev.stop_string = NULL;
        ev.error = fin == XLLM_FINISH_ERROR ? "engine: device lost" : NULL;
        CHECK_OK(xllm_rproto_put_event(&buf, &ev));
        p = one_frame(&buf, XLLM_RF_FINAL, &len);
        CHECK_OK(xllm_rproto_get_final(p, len, &f));
        CHECK_EQ_INT(f.ev.finish, fin);
        if (fin == XLLM_FINISH_ERROR)
            CHECK_EQ_STR(f.ev.error, "engine: device lost");
    }
    CHECK_EQ_INT(xllm_rproto_get_final((const uint8_t *)"{\"id\":1,\"finish\":\"done\"}", 24, &f), XLLM_ERR_FORMAT);
    xllm_buf_free(&buf);
}

TEST(rproto_stats_roundtrip)
{
    xllm_sched_stats a, b;
    xllm_buf buf;
    size_t len;
    uint64_t tag;
    memset(&a, 0, sizeof a);
    a.running = 16, a.waiting = 3, a.blocks_total = 1000, a.blocks_used = 700, a.blocks_cached = 55;
    a.prefix_hits = 10, a.prefix_misses = 11, a.cached_tokens = 160, a.prompt_tokens = 1ull << 40;
    a.generated_tokens = 12, a.steps = 13, a.preemptions = 14, a.requests_done = 15;
    a.decode_tokens_per_s = 123.456789, a.last_step_ns = 16, a.last_sched_ns = 17;
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_stats_req(&buf, 44));
    const uint8_t *p = one_frame(&buf, XLLM_RF_STATS, &len);
    CHECK(xllm_rproto_get_tag(p, len, &tag));
    CHECK_EQ_INT(tag, 44);
    buf.len = 0;
    CHECK_OK(xllm_rproto_put_stats(&buf, 45, &a));
    p = one_frame(&buf, XLLM_RF_STATS_REPLY, &len);
    CHECK_OK(xllm_rproto_get_stats(p, len, &tag, &b));
    CHECK_EQ_INT(tag, 45);
    CHECK(!memcmp(&a, &b, sizeof a));
    xllm_buf_free(&buf);
}

TEST(rproto_embed_roundtrip)
{
    const char *texts[] = {"a", "bé"};
    const int32_t t0[] = {1, 2, 3}, t1[] = {4};
    const int32_t *toks[] = {t0, t1};
    const int32_t nt[] = {3, 1};
    xllm_rproto_embed e;
    xllm_buf buf;
    size_t len;
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_embed_req(&buf, 8, texts, NULL, NULL, 2, 1));
    const uint8_t *p = one_frame(&buf, XLLM_RF_EMBED, &len);
    CHECK_OK(xllm_rproto_get_embed_req(p, len, &e));
    CHECK_EQ_INT(e.tag, 8);
    CHECK_EQ_INT(e.n, 2);
    CHECK_EQ_INT(e.truncate, 1);
    CHECK_EQ_STR(e.texts[0], "a");
    CHECK_EQ_STR(e.texts[1], "bé");
    xllm_rproto_embed_free(&e);
    buf.len = 0;
    CHECK_OK(xllm_rproto_put_embed_req(&buf, 9, NULL, toks, nt, 2, 0));
    p = one_frame(&buf, XLLM_RF_EMBED, &len);
    CHECK_OK(xllm_rproto_get_embed_req(p, len, &e));
    CHECK(e.texts[0] == NULL && e.texts[1] == NULL);
    CHECK_EQ_INT(e.n_tokens[0], 3);
    CHECK_EQ_INT(e.n_tokens[1], 1);
    CHECK(!memcmp(e.tokens[0], t0, sizeof t0));
    CHECK_EQ_INT(e.tokens[1][0], 4);
    xllm_rproto_embed_free(&e);
    CHECK(xllm_rproto_get_embed_req((const uint8_t *)"{\"inputs\":[]}", 13, &e) != XLLM_OK);
    CHECK(xllm_rproto_get_embed_req((const uint8_t *)"{\"inputs\":[{}]}", 15, &e) != XLLM_OK);

    float data[2 * 3] = {0.5f, -1, 3.25f, NAN, 1e-30f, 7};
    const int32_t ntok[2] = {3, 1};
    int32_t n, dim, got_nt[2];
    float *out = NULL;
    uint64_t tag;
    buf.len = 0;
    CHECK_OK(xllm_rproto_put_embed_reply(&buf, 10, 2, 3, ntok, data));
    p = one_frame(&buf, XLLM_RF_EMBED_REPLY, &len);
    CHECK_OK(xllm_rproto_get_embed_reply(p, len, &tag, 2, &n, &dim, got_nt, &out));
    CHECK_EQ_INT(tag, 10);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(dim, 3);
    CHECK(!memcmp(got_nt, ntok, sizeof ntok));
    CHECK(out && !memcmp(out, data, sizeof data)); /* bit-exact, NaN included */
    xllm_free(out);
    /* more inputs than asked for, or a short payload */
    CHECK_EQ_INT(xllm_rproto_get_embed_reply(p, len, &tag, 1, &n, &dim, got_nt, &out), XLLM_ERR_FORMAT);
    CHECK_EQ_INT(xllm_rproto_get_embed_reply(p, len - 4, &tag, 2, &n, &dim, got_nt, &out), XLLM_ERR_FORMAT);
    CHECK(out == NULL);
    xllm_buf_free(&buf);
}

TEST(rproto_error_roundtrip)
{
    xllm_buf buf;
    size_t len;
    int has_tag;
    uint64_t tag;
    xllm_status st;
    char msg[64];
    xllm_buf_init(&buf, 0);
    CHECK_OK(xllm_rproto_put_error(&buf, 0, 0, XLLM_ERR_ABI_MISMATCH, "version 9"));
    const uint8_t *p = one_frame(&buf, XLLM_RF_ERROR, &len);
    CHECK_OK(xllm_rproto_get_error(p, len, &has_tag, &tag, &st, msg, sizeof msg));
    CHECK_EQ_INT(has_tag, 0);
    CHECK_EQ_INT(st, XLLM_ERR_ABI_MISMATCH);
    CHECK_EQ_STR(msg, "version 9");
    buf.len = 0;
    CHECK_OK(xllm_rproto_put_error(&buf, 1, 3, XLLM_ERR_UNSUPPORTED, "bytes \xff\xfe")); /* not UTF-8 */
    p = one_frame(&buf, XLLM_RF_ERROR, &len);
    CHECK_OK(xllm_rproto_get_error(p, len, &has_tag, &tag, &st, msg, sizeof msg));
    CHECK_EQ_INT(has_tag, 1);
    CHECK_EQ_INT(tag, 3);
    CHECK_EQ_INT(st, XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(msg, "not UTF-8") != NULL);
    CHECK_EQ_INT(xllm_rproto_status_parse("no such status"), XLLM_ERR_INTERNAL);
    CHECK_EQ_INT(xllm_rproto_status_parse("limit exceeded"), XLLM_ERR_LIMIT);
    xllm_buf_free(&buf);
}

TEST(rproto_buffer_cap_drops_whole_frame)
{
    xllm_buf buf;
    xllm_gen_event ev;
    char text[200];
    memset(text, 'a', sizeof text);
    memset(&ev, 0, sizeof ev);
    ev.type = XLLM_EVENT_TOKEN;
    ev.text = text;
    ev.text_len = sizeof text;
    xllm_buf_init(&buf, 300);
    CHECK_OK(xllm_rproto_put_event(&buf, &ev));
    size_t one = buf.len;
    CHECK_EQ_INT(xllm_rproto_put_event(&buf, &ev), XLLM_ERR_LIMIT);
    CHECK_EQ_INT(buf.len, one); /* no half frame left behind */
    xllm_buf_free(&buf);
}
