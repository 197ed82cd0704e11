/* test_params.c - the HTTP request decoders (server/params.c): every field's
 * range and type check names the field, and a table of hostile bodies (deep
 * nesting, huge numbers, wrong types, invalid UTF-8, empty input) each gives
 * a clear 4xx and never crashes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "server/params.h"
#include "../test.h"

/* Decode body as an OpenAI chat (chat=1) / completions (0) request; returns
 * the error status (0 = accepted) and fills g. */
static int decode_openai(const char *body, int chat, srv_gen_req *g, srv_err *e)
{
    json_t *j = srv_parse_json(body, strlen(body), e);
    int rc;
    srv_gen_req_init(g, SRV_API_OPENAI);
    if (!j)
        return e->status;
    rc = srv_decode_model(j, g, e) || srv_decode_openai(j, chat, g, e);
    json_decref(j);
    return rc ? e->status : 0;
}

TEST(server_params_openai_fields)
{
    srv_gen_req g;
    srv_err e;
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"temperature\":0.5,\"top_p\":0.9,\"n\":3,\"stop\":[\"a\",\"bc\"],"
                               "\"seed\":42,\"max_tokens\":7,\"presence_penalty\":1,\"frequency_penalty\":-1,"
                               "\"logit_bias\":{\"5\":-100,\"9\":3},\"logprobs\":true,\"top_logprobs\":4,"
                               "\"top_k\":10,\"min_p\":0.1,\"repeat_penalty\":1.2,\"user\":\"u\",\"stream\":true,"
                               "\"stream_options\":{\"include_usage\":true}}",
                               1, &g, &e),
                 0);
    CHECK_EQ_STR(g.model, "m");
    CHECK_NEAR(g.params.sampling.temperature, 0.5, 1e-6);
    CHECK_NEAR(g.params.sampling.top_p, 0.9, 1e-6);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_INT(g.params.n_stops, 2);
    CHECK_EQ_STR(g.params.stops[1], "bc");
    CHECK_EQ_INT(g.params.sampling.seed, 42);
    CHECK_EQ_INT(g.params.max_tokens, 7);
    CHECK_EQ_INT(g.params.n_bias, 2);
    CHECK(isinf(g.params.bias_values[0]) && g.params.bias_values[0] < 0);
    CHECK_EQ_INT(g.params.logprobs, 1);
    CHECK_EQ_INT(g.params.top_logprobs, 4);
    CHECK_EQ_INT(g.params.sampling.top_k, 10);
    CHECK_NEAR(g.params.sampling.repeat_penalty, 1.2, 1e-6);
    CHECK_EQ_INT(g.stream, 1);
    CHECK_EQ_INT(g.include_usage, 1);
    srv_gen_req_free(&g);
    /* OpenAI defaults on /v1: temperature 1, nucleus off; completions max_tokens 16 */
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\"}", 0, &g, &e), 0);
    CHECK_NEAR(g.params.sampling.temperature, 1.0, 1e-6);
    CHECK_EQ_INT(g.params.sampling.top_k, 0);
    CHECK_EQ_INT(g.params.max_tokens, 16);
    srv_gen_req_free(&g);
    /* completions: logprobs is an int, echo */
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"logprobs\":2,\"echo\":true}", 0, &g, &e), 0);
    CHECK_EQ_INT(g.params.top_logprobs, 2);
    CHECK_EQ_INT(g.params.prompt_logprobs, 1);
    srv_gen_req_free(&g);
}

/* Each bad body: the status and the field the message must name. */
static const struct {
    const char *body;
    int chat, status;
    const char *param;
} bad[] = {
    {"", 1, 400, ""},
    {"[1,2]", 1, 400, ""},
    {"{\"model\":", 1, 400, ""},
    {"{\"model\":\"m\"} trailing", 1, 400, ""},
    {"{}", 1, 400, "model"},
    {"{\"model\":\"\"}", 1, 400, "model"},
    {"{\"model\":5}", 1, 400, "model"},
    {"{\"model\":\"m\",\"temperature\":2.5}", 1, 400, "temperature"},
    {"{\"model\":\"m\",\"temperature\":-0.1}", 1, 400, "temperature"},
    {"{\"model\":\"m\",\"temperature\":\"hot\"}", 1, 400, "temperature"},
    {"{\"model\":\"m\",\"top_p\":0}", 1, 400, "top_p"},
    {"{\"model\":\"m\",\"top_p\":1.5}", 1, 400, "top_p"},
    {"{\"model\":\"m\",\"top_k\":-1}", 1, 400, "top_k"},
    {"{\"model\":\"m\",\"min_p\":2}", 1, 400, "min_p"},
    {"{\"model\":\"m\",\"n\":0}", 1, 400, "n"},
    {"{\"model\":\"m\",\"n\":1.5}", 1, 400, "n"},
    {"{\"model\":\"m\",\"max_tokens\":0}", 1, 400, "max_tokens"},
    {"{\"model\":\"m\",\"max_tokens\":1e300}", 1, 400, "max_tokens"},
    {"{\"model\":\"m\",\"max_completion_tokens\":-5}", 1, 400, "max_completion_tokens"},
    {"{\"model\":\"m\",\"presence_penalty\":3}", 1, 400, "presence_penalty"},
    {"{\"model\":\"m\",\"frequency_penalty\":-2.5}", 1, 400, "frequency_penalty"},
    {"{\"model\":\"m\",\"stop\":7}", 1, 400, "stop"},
    {"{\"model\":\"m\",\"stop\":[1]}", 1, 400, "stop"},
    {"{\"model\":\"m\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}", 1, 400, "stop"},
    {"{\"model\":\"m\",\"logit_bias\":{\"x\":1}}", 1, 400, "logit_bias"},
    {"{\"model\":\"m\",\"logit_bias\":{\"3\":500}}", 1, 400, "logit_bias"},
    {"{\"model\":\"m\",\"logit_bias\":[1]}", 1, 400, "logit_bias"},
    {"{\"model\":\"m\",\"top_logprobs\":3}", 1, 400, "top_logprobs"},
    {"{\"model\":\"m\",\"logprobs\":true,\"top_logprobs\":21}", 1, 400, "top_logprobs"},
    {"{\"model\":\"m\",\"logprobs\":21}", 0, 400, "logprobs"},
    {"{\"model\":\"m\",\"stream\":\"yes\"}", 1, 400, "stream"},
    {"{\"model\":\"m\",\"stream_options\":{\"include_usage\":true}}", 1, 400, "stream_options"},
    {"{\"model\":\"m\",\"seed\":123456789012345678901234567890}", 1, 400, ""},
    {"{\"model\":\"m\",\"seed\":\"x\"}", 1, 400, "seed"},
    {"{\"model\":\"m\",\"response_format\":{\"type\":\"xml\"}}", 1, 400, "response_format"},
    {"{\"model\":\"m\",\"response_format\":{\"type\":\"json_schema\"}}", 1, 400, "response_format.json_schema"},
    {"{\"model\":\"m\",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"not\":{}}}}}", 1,
     400, "response_format.json_schema.schema"},
    {"{\"model\":\"m\",\"grammar\":7}", 0, 400, "grammar"},
    {"{\"model\":\"m\",\"user\":5}", 1, 400, "user"},
    {"{\"model\":\"m\",\"repeat_penalty\":0}", 1, 400, "repeat_penalty"},
    {"{\"model\":\"\xff\xfe\"}", 1, 400, ""},
    {"{\"model\":\"m\",\"best_of\":3}", 0, 400, "best_of"},
};

TEST(server_params_hostile_bodies)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        srv_gen_req g;
        srv_err e;
        int st = decode_openai(bad[i].body, bad[i].chat, &g, &e);
        CHECK_MSG(st == bad[i].status, "body %zu '%s': status %d, want %d (%s)", i, bad[i].body, st, bad[i].status,
                  st ? e.msg : "accepted");
        if (st && bad[i].param[0])
            CHECK_MSG(!strcmp(e.param, bad[i].param) && strstr(e.msg, bad[i].param),
                      "body %zu: param '%s' msg '%s', want '%s' named", i, e.param, e.msg, bad[i].param);
        srv_gen_req_free(&g);
    }
}

TEST(server_params_json_errors_line_column)
{
    srv_err e;
    json_t *j = srv_parse_json("{\n  \"model\": \"m\",\n  \"x\": tru\n}", 31, &e);
    CHECK(j == NULL);
    CHECK_EQ_INT(e.status, 400);
    CHECK_MSG(strstr(e.msg, "line 3") != NULL, "msg: %s", e.msg);
    CHECK_MSG(strstr(e.msg, "column") != NULL, "msg: %s", e.msg);
}

TEST(server_params_deep_nesting_and_huge)
{
    /* 100k nested arrays: jansson's depth limit refuses it without recursion trouble */
    size_t n = 100000;
    char *b = xllm_malloc(2 * n + 32);
    srv_err e;
    json_t *j;
    size_t o = (size_t)sprintf(b, "{\"model\":\"m\",\"x\":");
    for (size_t i = 0; i < n; i++)
        b[o++] = '[';
    for (size_t i = 0; i < n; i++)
        b[o++] = ']';
    b[o++] = '}';
    j = srv_parse_json(b, o, &e);
    CHECK(j == NULL);
    CHECK_EQ_INT(e.status, 400);
    xllm_free(b);
    /* a number too large for a double */
    j = srv_parse_json("{\"model\":\"m\",\"temperature\":1e999}", 34, &e);
    CHECK(j == NULL);
}

static int decode_ollama(const char *body, srv_gen_req *g, srv_err *e)
{
    json_t *j = srv_parse_json(body, strlen(body), e);
    int rc;
    srv_gen_req_init(g, SRV_API_OLLAMA);
    if (!j)
        return e->status;
    rc = srv_decode_model(j, g, e) || srv_decode_ollama(j, g, e);
    json_decref(j);
    return rc ? e->status : 0;
}

TEST(server_params_ollama)
{
    srv_gen_req g;
    srv_err e;
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\"}", &g, &e), 0);
    CHECK_NEAR(g.params.sampling.temperature, 0.8, 1e-6); /* Ollama's defaults */
    CHECK_EQ_INT(g.params.sampling.top_k, 40);
    CHECK_NEAR(g.params.sampling.top_p, 0.9, 1e-6);
    CHECK_NEAR(g.params.sampling.repeat_penalty, 1.1, 1e-6);
    CHECK_EQ_INT(g.stream, 1);
    CHECK(isnan(g.keep_alive_s));
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"stream\":false,\"keep_alive\":\"1h30m\",\"options\":{\"num_predict\":5,"
                               "\"temperature\":0,\"seed\":7,\"stop\":[\"x\"],\"num_ctx\":512,\"repeat_last_n\":-1,"
                               "\"num_gpu\":99,\"use_mmap\":true,\"typical_p\":0.5}}",
                               &g, &e),
                 0);
    CHECK_EQ_INT(g.stream, 0);
    CHECK_NEAR(g.keep_alive_s, 5400, 1e-9);
    CHECK_EQ_INT(g.params.max_tokens, 5);
    CHECK_EQ_INT(g.params.sampling.seed, 7);
    CHECK_EQ_INT(g.params.n_stops, 1);
    CHECK_EQ_INT(g.params.n_ctx, 512);
    CHECK_EQ_INT(g.params.sampling.penalty_last_n, -1);
    CHECK_NEAR(g.params.sampling.typical_p, 0.5, 1e-6);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"keep_alive\":-1}", &g, &e), 0);
    CHECK(g.keep_alive_s < 0);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"keep_alive\":\"soon\"}", &g, &e), 400);
    CHECK_EQ_STR(e.param, "keep_alive");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"format\":\"json\"}", &g, &e), 0); /* JSON mode: a grammar */
    CHECK(g.grammar != NULL && g.params.grammar == g.grammar);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"format\":\"yaml\"}", &g, &e), 400);
    CHECK_EQ_STR(e.param, "format");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"format\":{\"type\":\"array\",\"uniqueItems\":true}}", &g, &e),
                 400);
    CHECK_EQ_STR(e.param, "format");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"images\":[\"aGk=\"]}", &g, &e), 400);
    CHECK_EQ_STR(e.param, "images");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"options\":{\"temprature\":1}}", &g, &e), 400);
    CHECK(strstr(e.msg, "temprature") != NULL);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"options\":{\"top_k\":\"many\"}}", &g, &e), 400);
    CHECK_EQ_STR(e.param, "options.top_k");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"options\":[]}", &g, &e), 400);
    srv_gen_req_free(&g);
}

TEST(server_params_anthropic)
{
    srv_gen_req g;
    srv_err e;
    json_t *j = json_loads("{\"model\":\"m\",\"temperature\":1.5,\"max_tokens\":3}", 0, NULL);
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    CHECK(srv_decode_anthropic(j, &g, &e) != 0); /* Anthropic's temperature is 0..1 */
    CHECK_EQ_STR(e.param, "temperature");
    json_decref(j);
    srv_gen_req_free(&g);
    j = json_loads("{\"model\":\"m\"}", 0, NULL);
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    CHECK(srv_decode_anthropic(j, &g, &e) != 0);
    CHECK_EQ_STR(e.param, "max_tokens");
    json_decref(j);
    srv_gen_req_free(&g);
    j = json_loads("{\"model\":\"m\",\"max_tokens\":9,\"stop_sequences\":[\"\\n\\n\"],\"top_k\":5}", 0, NULL);
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    CHECK_EQ_INT(srv_decode_anthropic(j, &g, &e), 0);
    CHECK_EQ_INT(g.params.max_tokens, 9);
    CHECK_EQ_INT(g.params.n_stops, 1);
    CHECK_EQ_INT(g.params.sampling.top_k, 5);
    json_decref(j);
    srv_gen_req_free(&g);
}

TEST(server_params_messages)
{
    static const struct {
        const char *msgs;
        int ok;
        const char *param;
    } cases[] = {
        {"[{\"role\":\"user\",\"content\":\"hi\"}]", 1, ""},
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}]", 1, ""},
        {"[]", 0, "messages"},
        {"{}", 0, "messages"},
        {"[{\"role\":\"user\",\"content\":\"   \"}]", 0, "messages"},
        {"[{\"role\":\"wizard\",\"content\":\"hi\"}]", 0, "messages[0]"},
        {"[{\"role\":\"user\"}]", 0, "messages[0]"},
        {"[{\"role\":\"user\",\"content\":5}]", 0, "messages[0].content"},
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]", 0,
         "messages[0].content"},
        {"[3]", 0, "messages[0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *m = json_loads(cases[i].msgs, 0, NULL), *out = NULL;
        srv_err e;
        int rc = srv_decode_messages(m, NULL, "messages", &out, &e);
        CHECK_MSG((rc == 0) == cases[i].ok, "case %zu: rc %d (%s)", i, rc, rc ? e.msg : "");
        if (rc == 0 && i == 1)
            CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "content")), "ab");
        if (rc)
            CHECK_MSG(!strcmp(e.param, cases[i].param), "case %zu: param '%s' want '%s'", i, e.param, cases[i].param);
        json_decref(out);
        json_decref(m);
    }
    {
        /* Anthropic's top-level system goes first */
        json_t *m = json_loads("[{\"role\":\"user\",\"content\":\"q\"}]", 0, NULL), *sys = json_string("be brief"),
               *out = NULL;
        srv_err e;
        CHECK_EQ_INT(srv_decode_messages(m, sys, "messages", &out, &e), 0);
        CHECK_EQ_INT(json_array_size(out), 2);
        CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "role")), "system");
        json_decref(out);
        json_decref(m);
        json_decref(sys);
    }
}

TEST(server_params_tokens_and_duration)
{
    srv_err e;
    int32_t *ids = NULL, n = 0;
    json_t *a = json_loads("[1,2,3]", 0, NULL);
    double s = 0;
    CHECK_EQ_INT(srv_decode_token_array(a, "prompt", 10, &ids, &n, &e), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(ids[2], 3);
    xllm_free(ids);
    json_decref(a);
    a = json_loads("[1,20]", 0, NULL);
    CHECK(srv_decode_token_array(a, "prompt", 10, &ids, &n, &e) != 0);
    CHECK(strstr(e.msg, "prompt[1]") != NULL);
    json_decref(a);
    a = json_loads("[1,-2]", 0, NULL);
    CHECK(srv_decode_token_array(a, "prompt", 0, &ids, &n, &e) != 0);
    json_decref(a);
    a = json_string("5m");
    CHECK_EQ_INT(srv_parse_duration(a, &s, &e), 0);
    CHECK_NEAR(s, 300, 1e-9);
    json_decref(a);
    a = json_string("250ms");
    CHECK_EQ_INT(srv_parse_duration(a, &s, &e), 0);
    CHECK_NEAR(s, 0.25, 1e-9);
    json_decref(a);
    a = json_string("-1m");
    CHECK_EQ_INT(srv_parse_duration(a, &s, &e), 0);
    CHECK(s < 0);
    json_decref(a);
    a = json_string("5x");
    CHECK(srv_parse_duration(a, &s, &e) != 0);
    json_decref(a);
}

/* The scheduling class: "priority" on every API, OpenAI's service_tier "flex". */
TEST(server_params_priority)
{
    srv_gen_req g;
    srv_err e;
    json_t *j;
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"prompt\":\"x\"}", 0, &g, &e), 0);
    CHECK(g.params.priority == XLLM_PRIORITY_INTERACTIVE);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"prompt\":\"x\",\"priority\":\"batch\"}", 0, &g, &e), 0);
    CHECK(g.params.priority == XLLM_PRIORITY_BATCH);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"prompt\":\"x\",\"service_tier\":\"flex\"}", 0, &g, &e), 0);
    CHECK(g.params.priority == XLLM_PRIORITY_BATCH);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"prompt\":\"x\",\"service_tier\":\"auto\"}", 0, &g, &e), 0);
    CHECK(g.params.priority == XLLM_PRIORITY_INTERACTIVE);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"prompt\":\"x\",\"priority\":\"high\"}", 0, &g, &e), 400);
    CHECK_EQ_STR(e.param, "priority");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_openai("{\"model\":\"m\",\"prompt\":\"x\",\"priority\":1}", 0, &g, &e), 400);
    CHECK_EQ_STR(e.param, "priority");
    srv_gen_req_free(&g);
    CHECK_EQ_INT(decode_ollama("{\"model\":\"m\",\"priority\":\"batch\"}", &g, &e), 0);
    CHECK(g.params.priority == XLLM_PRIORITY_BATCH);
    srv_gen_req_free(&g);
    j = json_loads("{\"max_tokens\":4,\"priority\":\"batch\"}", 0, NULL);
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    CHECK_EQ_INT(srv_decode_anthropic(j, &g, &e), 0);
    CHECK(g.params.priority == XLLM_PRIORITY_BATCH);
    srv_gen_req_free(&g);
    json_decref(j);
}
