/* test_layer_params.c - a store model's params layer (Ollama option names)
 * as defaults under OpenAI, Responses and Anthropic requests: the request's
 * own field always wins, absent fields take the layer's value, and the
 * system layer only fills a chat that has no system message. */
#include <math.h>
#include <string.h>

#include "server/layer_params.h"
#include "../test.h"

static const char *layer = "{\"temperature\":0.25,\"top_k\":7,\"top_p\":0.5,\"num_predict\":11,\"seed\":99,"
                           "\"stop\":[\"<end>\",\"###\"],\"repeat_penalty\":1.3,\"num_ctx\":128}";

/* Decode body for api, apply the layer; returns the status (0 ok). */
static int run(srv_layer_api api, const char *body, const char *params, srv_gen_req *g)
{
    srv_err e;
    json_t *root = srv_parse_json(body, strlen(body), &e);
    int rc;
    srv_gen_req_init(g, api == SRV_LAYER_ANTHROPIC ? SRV_API_ANTHROPIC : SRV_API_OPENAI);
    if (!root)
        return e.status;
    rc = srv_decode_model(root, g, &e) ||
         (api == SRV_LAYER_ANTHROPIC ? srv_decode_anthropic(root, g, &e) : srv_decode_openai(root, 1, g, &e)) ||
         srv_layer_params_apply(params, api, root, g, &e);
    json_decref(root);
    return rc ? e.status : 0;
}

TEST(server_layer_params_openai)
{
    srv_gen_req g;
    /* nothing in the request: every option of the layer */
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI, "{\"model\":\"m\"}", layer, &g), 0);
    CHECK_NEAR(g.params.sampling.temperature, 0.25, 1e-6);
    CHECK_EQ_INT(g.params.sampling.top_k, 7);
    CHECK_NEAR(g.params.sampling.top_p, 0.5, 1e-6);
    CHECK_EQ_INT(g.params.max_tokens, 11);
    CHECK_EQ_INT(g.params.sampling.seed, 99);
    CHECK_NEAR(g.params.sampling.repeat_penalty, 1.3, 1e-6);
    CHECK_EQ_INT(g.params.n_ctx, 128);
    CHECK_EQ_INT(g.params.n_stops, 2);
    CHECK_EQ_STR(g.params.stops[0], "<end>");
    CHECK_EQ_STR(g.params.stops[1], "###");
    srv_gen_req_free(&g);
    /* the request's fields win, one by one; null counts as not given */
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI,
                     "{\"model\":\"m\",\"temperature\":0,\"max_completion_tokens\":3,\"stop\":\"x\",\"seed\":5,"
                     "\"top_k\":null}",
                     layer, &g),
                 0);
    CHECK_NEAR(g.params.sampling.temperature, 0, 0);
    CHECK_EQ_INT(g.params.max_tokens, 3);
    CHECK_EQ_INT(g.params.n_stops, 1);
    CHECK_EQ_STR(g.params.stops[0], "x");
    CHECK_EQ_INT(g.params.sampling.seed, 5);
    CHECK_EQ_INT(g.params.sampling.top_k, 7);
    CHECK_NEAR(g.params.sampling.top_p, 0.5, 1e-6);
    srv_gen_req_free(&g);
    /* no layer: OpenAI's own defaults stay */
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI, "{\"model\":\"m\"}", NULL, &g), 0);
    CHECK_NEAR(g.params.sampling.temperature, 1, 0);
    CHECK_EQ_INT(g.params.sampling.top_k, 0);
    CHECK_EQ_INT(g.params.n_stops, 0);
    srv_gen_req_free(&g);
}

TEST(server_layer_params_other_apis)
{
    srv_gen_req g;
    /* Anthropic: max_tokens is required, so num_predict never applies; its
     * stop_sequences win over the layer's stop */
    CHECK_EQ_INT(run(SRV_LAYER_ANTHROPIC, "{\"model\":\"m\",\"max_tokens\":20,\"stop_sequences\":[\"q\"]}", layer, &g),
                 0);
    CHECK_EQ_INT(g.params.max_tokens, 20);
    CHECK_EQ_INT(g.params.n_stops, 1);
    CHECK_EQ_STR(g.params.stops[0], "q");
    CHECK_NEAR(g.params.sampling.temperature, 0.25, 1e-6);
    CHECK_EQ_INT(g.params.sampling.seed, 99);
    srv_gen_req_free(&g);
    /* a field of another API's spelling does not count: "stop" on /v1/messages */
    CHECK_EQ_INT(run(SRV_LAYER_ANTHROPIC, "{\"model\":\"m\",\"max_tokens\":20,\"stop\":[\"q\"]}", layer, &g), 0);
    CHECK_EQ_INT(g.params.n_stops, 2);
    srv_gen_req_free(&g);
    /* Responses: max_output_tokens is its own spelling */
    CHECK_EQ_INT(run(SRV_LAYER_RESPONSES, "{\"model\":\"m\",\"max_output_tokens\":4}", layer, &g), 0);
    CHECK_EQ_INT(g.params.max_tokens, -1); /* the request gave max_output_tokens (the handler applies it) */
    srv_gen_req_free(&g);
    CHECK_EQ_INT(run(SRV_LAYER_RESPONSES, "{\"model\":\"m\"}", "{\"num_predict\":-1}", &g), 0);
    CHECK_EQ_INT(g.params.max_tokens, -1);
    srv_gen_req_free(&g);
}

TEST(server_layer_params_bad_layer)
{
    srv_gen_req g;
    /* the layer is the model's fault: 500, with a message that says so */
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI, "{\"model\":\"m\"}", "{\"temperature\":\"hot\"}", &g), 500);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI, "{\"model\":\"m\"}", "[1,2]", &g), 500);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI, "{\"model\":\"m\"}", "{\"mirostat\":2}", &g), 500);
    srv_gen_req_free(&g);
    CHECK_EQ_INT(run(SRV_LAYER_OPENAI, "{\"model\":\"m\"}", "", &g), 0);
    srv_gen_req_free(&g);
}

TEST(server_layer_system)
{
    json_t *a = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");
    json_t *b = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", "mine", "role", "user", "content",
                          "hi");
    json_t *c = json_pack("[{s:s, s:s}]", "role", "developer", "content", "dev");
    srv_layer_system_apply("You are KJV.", a);
    CHECK_EQ_INT(json_array_size(a), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(a, 0), "role")), "system");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(a, 0), "content")), "You are KJV.");
    srv_layer_system_apply("You are KJV.", b);
    CHECK_EQ_INT(json_array_size(b), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(b, 0), "content")), "mine");
    srv_layer_system_apply("You are KJV.", c);
    CHECK_EQ_INT(json_array_size(c), 1);
    srv_layer_system_apply("", a);
    srv_layer_system_apply(NULL, a);
    CHECK_EQ_INT(json_array_size(a), 2);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
