/* fuzz_jinja.c - libFuzzer target: the input is a Jinja2 template; it is parsed and,
 * when it parses, rendered against a chat context with messages (string and list
 * content, tool calls, a tool result, reasoning), tools and special tokens, through
 * both xllm_jinja_render and the chat-template entry point. Any crash, hang or
 * unbounded growth is a bug: every limit must end in a status. Build: make fuzz; run:
 *   build-fuzz/fuzz_jinja -max_total_time=300 -timeout=10 -dict=tests/fuzz/jinja.dict DIR
 * (seed DIR with tests/fixtures/templates/corpus/*.jinja). */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "template/chat_template.h"
#include "template/jinja.h"

static json_t *ctx;

static const char ctx_json[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi \\u00e9\"},{\"type\":\"image\"}]},"
    "{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"think\",\"tool_calls\":[{\"id\":\"c1\","
    "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1.5,\"y\":[null,true]}}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"{\\\"ok\\\":1}\"},"
    "{\"role\":\"user\",\"content\":\"again\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"}}}}}],"
    "\"documents\":null,\"add_generation_prompt\":true,\"bos_token\":\"<s>\",\"eos_token\":\"</s>\","
    "\"enable_thinking\":false,\"n\":3,\"s\":\"  str  \"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx)
        ctx = json_loads(ctx_json, 0, NULL);
    xllm_jinja *t = NULL;
    if (xllm_jinja_parse((const char *)data, size, &t) == XLLM_OK) {
        xllm_buf out;
        xllm_buf_init(&out, 0);
        (void)xllm_jinja_render(t, ctx, &out);
        xllm_buf_free(&out);
        xllm_jinja_free(t);
    }
    xllm_chat_template *ct = NULL;
    if (size < 4096 && xllm_chat_template_new((const char *)data, size, &ct) == XLLM_OK) {
        xllm_buf out;
        xllm_buf_init(&out, 1u << 20);
        (void)xllm_chat_template_render(ct, ctx, &out);
        xllm_buf_free(&out);
        xllm_chat_template_free(ct);
    }
    return 0;
}
