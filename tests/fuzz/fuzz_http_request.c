/* fuzz_http_request.c - libFuzzer target: an HTTP request body through every
 * JSON -> request decoder of the server (OpenAI chat and completions, Ollama,
 * Anthropic, messages, token arrays, keep_alive durations). Each must answer
 * with success or a 4xx/5xx status and message, never crash or leak.
 * Build with `make fuzz`; run as tests/fuzz/README.md says. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "server/params.h"

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
