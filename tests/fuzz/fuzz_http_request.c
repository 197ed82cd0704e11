/* fuzz_http_request.c - libFuzzer target: an HTTP request body through every
 * JSON -> request decoder of the server (OpenAI chat and completions, Ollama,
 * Anthropic, messages, token arrays, keep_alive durations, tools and
 * tool_choice in every shape, tool-call history) and the body's text through
 * the tool-call parser of every call format. Each must answer with success or
 * a 4xx/5xx status and message, never crash or leak.
 * Build with `make fuzz`; run as tests/fuzz/README.md says. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "server/params.h"
#include "server/tools.h"

static void tool_sink(void *ctx, const srv_tool_delta *d)
{
    (void)ctx;
    (void)d;
}

/* Tools and history of every shape; the raw text through every call format. */
static void run_tools(json_t *root, const uint8_t *data, size_t size)
{
    srv_err e;
    json_t *out = NULL;
    for (int shape = SRV_TS_CHAT; shape <= SRV_TS_RESPONSES; shape++) {
        srv_tools t;
        srv_tools_decode(root, (srv_tools_shape)shape, &t, &e);
        srv_tools_free(&t);
    }
    if (srv_tools_anthropic_history(json_object_get(root, "messages"), &out, &e) == 0)
        json_decref(out);
    if (json_is_array(json_object_get(root, "input")) &&
        srv_tools_responses_input(json_object_get(root, "input"), &out, &e) == 0) {
        srv_tools_fill_tool_names(out);
        json_decref(out);
    }
    for (int fmt = SRV_TF_GENERIC; fmt <= SRV_TF_MISTRAL; fmt++)
        for (int choice = SRV_TOOL_AUTO; choice <= SRV_TOOL_REQUIRED; choice += 2) {
            srv_tools t = {json_array(), (srv_tool_choice)choice, "", 1, (srv_tool_format)fmt};
            srv_tool_stream st;
            json_t *content = NULL, *calls;
            srv_tool_stream_init(&st, &t, tool_sink, NULL);
            for (size_t i = 0; i < size; i += 7)
                srv_tool_stream_feed(&st, (const char *)data + i, size - i < 7 ? size - i : 7);
            srv_tool_stream_finish(&st);
            srv_tool_stream_free(&st);
            calls = srv_tools_parse(&t, (const char *)data, size, "call_", &content);
            json_decref(calls);
            json_decref(content);
            srv_tools_free(&t);
        }
}

static void run(json_t *root, srv_api api, int chat)
{
    srv_gen_req g;
    srv_err e;
    json_t *msgs = NULL;
    srv_gen_req_init(&g, api);
    srv_decode_model(root, &g, &e);
    if (api == SRV_API_OPENAI)
        srv_decode_openai(root, chat, &g, &e);
    else if (api == SRV_API_OLLAMA)
        srv_decode_ollama(root, &g, &e);
    else
        srv_decode_anthropic(root, &g, &e);
    if (srv_decode_messages(json_object_get(root, "messages"), json_object_get(root, "system"), "messages", &msgs,
                            &e) == 0)
        json_decref(msgs);
    srv_gen_req_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_err e;
    json_t *root = srv_parse_json((const char *)data, size, &e), *p;
    int32_t *ids = NULL, n = 0;
    double s;
    if (!root)
        return 0;
    run_tools(root, data, size);
    run(root, SRV_API_OPENAI, 1);
    run(root, SRV_API_OPENAI, 0);
    run(root, SRV_API_OLLAMA, 0);
    run(root, SRV_API_ANTHROPIC, 0);
    p = json_object_get(root, "prompt");
    if (srv_decode_token_array(p, "prompt", 32000, &ids, &n, &e) == 0)
        xllm_free(ids);
    srv_parse_duration(json_object_get(root, "keep_alive"), &s, &e);
    json_decref(root);
    return 0;
}
