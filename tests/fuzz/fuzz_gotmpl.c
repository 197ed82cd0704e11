/* fuzz_gotmpl.c - libFuzzer target for the Go-template dialect: parse the input as a
 * template, render it with a JSON data object and as a chat (messages, tools,
 * thinking) through Ollama's semantics. Any status is fine; a crash, an ASan report,
 * a hang or unbounded memory is not (limits in base/limits.h bound the work).
 * Build with `make fuzz`; run as tests/fuzz/README.md says. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "template/gotmpl.h"

static json_t *data, *chat;

static void setup(void)
{
    if (data)
        return;
    data = json_loads("{\"System\":\"sys\",\"Prompt\":\"hi\",\"Response\":\"\",\"n\":3,\"f\":1.5,"
                      "\"l\":[1,\"two\",null,true],\"m\":{\"a\":{\"b\":[2]}},\"t\":true}",
                      0, NULL);
    chat = json_loads(
        "{\"think\":true,\"system\":\"S\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"hm\",\"tool_calls\":[{\"id\":\"c1\","
        "\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1,\"y\":[true]}}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r\"},{\"role\":\"user\",\"content\":\"u\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","
        "\"parameters\":{\"type\":\"object\",\"required\":[\"x\"],\"properties\":{\"x\":{\"type\":"
        "\"integer\",\"enum\":[1,2]},\"y\":{\"type\":[\"array\",\"null\"],\"items\":{\"type\":\"boolean\"},"
        "\"properties\":{\"z\":{\"type\":\"string\"}}}}}}}]}",
        0, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
    setup();
    if (len > 16384)
        return 0;
    (void)xllm_gotmpl_detect((const char *)buf, len);
    xllm_gotmpl *t;
    if (xllm_gotmpl_parse((const char *)buf, len, &t) != XLLM_OK)
        return 0;
    xllm_buf out;
    xllm_buf_init(&out, 0);
    (void)xllm_gotmpl_render(t, data, &out);
    out.len = 0;
    (void)xllm_gotmpl_render_chat(t, chat, &out);
    xllm_buf_free(&out);
    xllm_gotmpl_free(t);
    return 0;
}
