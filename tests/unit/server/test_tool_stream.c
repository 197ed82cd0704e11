/* test_tool_stream.c - the tool-call parser (server/tool_stream.c) over every
 * call format: content and calls out of whole texts, the same result for
 * every way the text is cut into pieces (the oracle: the whole-text parse),
 * early content, argument fragments, decoded "response" strings; the tool
 * field checks and history conversion of server/tools.c, tool_messages.c. */
#include <string.h>

#include "base/buf.h"
#include "server/tools.h"
#include "../test.h"

typedef struct rec {
    xllm_buf content;
    xllm_buf calls;   /* name(args) per call, ';' between */
    int n_args;       /* ARGS deltas */
    int bad_order;    /* ARGS or CALL_END without its CALL first, or wrong index */
    int open;         /* index of the open call, -1 none */
    int n_calls;
} rec;

static void rec_sink(void *ctx, const srv_tool_delta *d)
{
    rec *r = ctx;
    switch (d->kind) {
    case SRV_TD_CONTENT: xllm_buf_append(&r->content, d->text, d->len); break;
    case SRV_TD_CALL:
        r->bad_order |= r->open != -1 || d->index != r->n_calls;
        r->open = d->index;
        xllm_buf_printf(&r->calls, "%s%s(", r->n_calls ? ";" : "", d->name);
        break;
    case SRV_TD_ARGS:
        r->bad_order |= r->open != d->index;
        r->n_args++;
        xllm_buf_append(&r->calls, d->text, d->len);
        break;
    case SRV_TD_CALL_END:
        r->bad_order |= r->open != d->index;
        xllm_buf_puts(&r->calls, ")");
        r->open = -1;
        r->n_calls++;
        break;
    }
}

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    xllm_buf_init(&r->content, 0);
    xllm_buf_init(&r->calls, 0);
    r->open = -1;
}

static void rec_free(rec *r)
{
    xllm_buf_free(&r->content);
    xllm_buf_free(&r->calls);
}

/* Parse text in pieces of `piece` bytes (0: whole). */
static void run(const srv_tools *t, const char *text, size_t piece, rec *r)
{
    srv_tool_stream s;
    size_t n = strlen(text);
    rec_init(r);
    srv_tool_stream_init(&s, t, rec_sink, r);
    for (size_t i = 0; i < n; i += piece ? piece : n)
        srv_tool_stream_feed(&s, text + i, piece && n - i > piece ? piece : n - i);
    srv_tool_stream_finish(&s);
    srv_tool_stream_free(&s);
}

static const char *str(const xllm_buf *b) { return b->data ? b->data : ""; }

typedef struct parse_case {
    srv_tool_format fmt;
    srv_tool_choice choice;
    const char *text, *content, *calls;
} parse_case;

static const parse_case CASES[] = {
    {SRV_TF_HERMES, SRV_TOOL_AUTO, "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
     "Let me look.\n", "get_weather({\"city\": \"Paris\"})"},
    {SRV_TF_HERMES, SRV_TOOL_AUTO,
     "<tool_call>\n{\"name\":\"a\",\"arguments\":{\"x\":[1,{\"y\":\"}\"}]}}\n</tool_call>\n<tool_call>\n{\"arguments\":{},\"name\":\"b\"}\n</tool_call> tail",
     "", "a({\"x\":[1,{\"y\":\"}\"}]});b({})"},
    {SRV_TF_HERMES, SRV_TOOL_AUTO, "No call here, a < b and <tool but not a call.", "No call here, a < b and <tool but not a call.", ""},
    {SRV_TF_HERMES, SRV_TOOL_AUTO, "ends on a partial <tool_c", "ends on a partial <tool_c", ""},
    {SRV_TF_LLAMA3, SRV_TOOL_AUTO, "{\"name\": \"f\", \"parameters\": {\"q\": \"a \\\"b\\\"\"}}", "", "f({\"q\": \"a \\\"b\\\"\"})"},
    {SRV_TF_LLAMA3, SRV_TOOL_AUTO, "<|python_tag|>{\"name\":\"f\",\"parameters\":{}};{\"name\":\"g\",\"parameters\":{\"n\":1}}", "",
     "f({});g({\"n\":1})"},
    {SRV_TF_LLAMA3, SRV_TOOL_AUTO, "Paris is sunny {today}.", "Paris is sunny {today}.", ""},
    {SRV_TF_LLAMA3, SRV_TOOL_AUTO, "{\"answer\": 42}", "{\"answer\": 42}", ""},
    {SRV_TF_MISTRAL, SRV_TOOL_AUTO, "[TOOL_CALLS] [{\"name\":\"f\",\"arguments\":{\"a\":true}},{\"name\":\"g\",\"arguments\":{\"b\":null}}]",
     "", "f({\"a\":true});g({\"b\":null})"},
    {SRV_TF_MISTRAL, SRV_TOOL_AUTO, "[1, 2] is a list", "[1, 2] is a list", ""},
    {SRV_TF_MISTRAL, SRV_TOOL_AUTO, "[TOOL", "[TOOL", ""},
    {SRV_TF_GENERIC, SRV_TOOL_REQUIRED, "{\"name\":\"f\",\"arguments\":{\"k\":\"v\"}}", "", "f({\"k\":\"v\"})"},
    {SRV_TF_GENERIC, SRV_TOOL_AUTO, "{\"tool_call\":{\"name\":\"f\",\"arguments\":{\"k\":[]}}}", "", "f({\"k\":[]})"},
    {SRV_TF_GENERIC, SRV_TOOL_AUTO, "{\"response\":\"Hi\\n\\\"you\\\" caf\\u00e9 \\ud83d\\ude00\"}",
     "Hi\n\"you\" caf\xc3\xa9 \xf0\x9f\x98\x80", ""},
    {SRV_TF_GENERIC, SRV_TOOL_AUTO, "not json at all", "not json at all", ""},
    {SRV_TF_GENERIC, SRV_TOOL_REQUIRED, "{\"name\":\"f\",\"arguments\":{\"k\":\"v", "", "f({\"k\":\"v)"},
};

static srv_tools tools_of(srv_tool_format fmt, srv_tool_choice choice)
{
    srv_tools t;
    memset(&t, 0, sizeof t);
    t.tools = json_array(); /* srv_tools_active needs a list */
    t.choice = choice;
    t.fmt = fmt;
    t.parallel = 1;
    return t;
}

TEST(server_tool_stream_formats_any_piece_size)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const parse_case *c = &CASES[i];
        srv_tools t = tools_of(c->fmt, c->choice);
        for (size_t piece = 0; piece <= 9; piece++) {
            rec r;
            run(&t, c->text, piece, &r);
            CHECK_MSG(!strcmp(str(&r.content), c->content), "case %zu piece %zu: content '%s'", i, piece,
                      str(&r.content));
            CHECK_MSG(!strcmp(str(&r.calls), c->calls), "case %zu piece %zu: calls '%s'", i, piece, str(&r.calls));
            CHECK_MSG(!r.bad_order, "case %zu piece %zu: delta order", i, piece);
            rec_free(&r);
        }
        srv_tools_free(&t);
    }
}

TEST(server_tool_stream_arguments_in_fragments)
{
    srv_tools t = tools_of(SRV_TF_HERMES, SRV_TOOL_AUTO);
    rec r;
    run(&t, "<tool_call>\n{\"name\":\"f\",\"arguments\":{\"city\":\"Paris\",\"unit\":\"c\"}}\n</tool_call>", 3, &r);
    CHECK(r.n_args >= 5); /* one per piece once the name is known */
    CHECK_EQ_STR(str(&r.calls), "f({\"city\":\"Paris\",\"unit\":\"c\"})");
    rec_free(&r);
    /* arguments written before the name are held, then sent after the call starts */
    run(&t, "<tool_call>{\"arguments\":{\"a\":1},\"name\":\"late\"}</tool_call>", 1, &r);
    CHECK_EQ_STR(str(&r.calls), "late({\"a\":1})");
    CHECK(!r.bad_order);
    rec_free(&r);
    srv_tools_free(&t);
}

/* Content that is clearly not a call goes out at once, not at the end. */
TEST(server_tool_stream_content_early)
{
    srv_tools h = tools_of(SRV_TF_HERMES, SRV_TOOL_AUTO), l = tools_of(SRV_TF_LLAMA3, SRV_TOOL_AUTO);
    srv_tool_stream s;
    rec r;
    rec_init(&r);
    srv_tool_stream_init(&s, &h, rec_sink, &r);
    srv_tool_stream_feed(&s, "Hello <to", 9);
    CHECK_EQ_STR(str(&r.content), "Hello "); /* "<to" may begin a call */
    srv_tool_stream_feed(&s, "day", 3);
    CHECK_EQ_STR(str(&r.content), "Hello <today");
    srv_tool_stream_finish(&s);
    srv_tool_stream_free(&s);
    rec_free(&r);
    rec_init(&r);
    srv_tool_stream_init(&s, &l, rec_sink, &r);
    srv_tool_stream_feed(&s, "  ", 2);
    CHECK_EQ_STR(str(&r.content), "");
    srv_tool_stream_feed(&s, "Sure", 4);
    CHECK_EQ_STR(str(&r.content), "  Sure");
    srv_tool_stream_finish(&s);
    srv_tool_stream_free(&s);
    rec_free(&r);
    srv_tools_free(&h);
    srv_tools_free(&l);
}

TEST(server_tool_parse_whole_text)
{
    srv_tools t = tools_of(SRV_TF_HERMES, SRV_TOOL_AUTO);
    const char *whole = "Hm.<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":[1]}}</tool_call>";
    const char *cut = "<tool_call>{\"name\":\"f\",\"arguments\":{\"a\":";
    json_t *content, *calls;
    calls = srv_tools_parse(&t, whole, strlen(whole), "toolu_", &content);
    CHECK(calls && json_array_size(calls) == 1);
    CHECK_EQ_STR(json_string_value(content), "Hm.");
    CHECK(!strncmp(json_string_value(json_object_get(json_array_get(calls, 0), "id")), "toolu_", 6));
    CHECK(json_is_array(json_object_get(json_object_get(json_array_get(calls, 0), "arguments"), "a")));
    json_decref(calls);
    json_decref(content);
    /* a call cut off: no valid call; the text stays the answer */
    calls = srv_tools_parse(&t, cut, strlen(cut), "call_", &content);
    CHECK(calls == NULL);
    CHECK_EQ_STR(json_string_value(content), cut);
    json_decref(content);
    srv_tools_free(&t);
}

typedef struct decode_case {
    srv_tools_shape shape;
    const char *body;
    int status;
    const char *param;
} decode_case;

static const decode_case DECODES[] = {
    {SRV_TS_CHAT, "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}]}", 0, ""},
    {SRV_TS_CHAT, "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"paramters\":{}}}]}", 400,
     "tools[0].function.paramters"},
    {SRV_TS_CHAT, "{\"tools\":[{\"type\":\"function\",\"extra\":1,\"function\":{\"name\":\"f\"}}]}", 400, "tools[0].extra"},
    {SRV_TS_CHAT, "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"bad name\"}}]}", 400, "tools[0].function.name"},
    {SRV_TS_CHAT, "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":\"any\"}", 400,
     "tool_choice"},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"any\"}}", 0,
     ""},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"name\":\"f\"}]}", 400, "tools[0].input_schema"},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"name\":\"f\",\"input_schema\":{},\"strict\":true}]}", 400, "tools[0].strict"},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]}", 400, "tools[0]"},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],\"tool_choice\":{\"type\":\"tool\"}}", 400,
     "tool_choice.name"},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],\"tool_choice\":{\"type\":\"auto\",\"x\":1}}", 400,
     "tool_choice.x"},
    {SRV_TS_ANTHROPIC, "{\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],\"tool_choice\":\"auto\"}", 400, "tool_choice"},
    {SRV_TS_RESPONSES, "{\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{},\"strict\":true}]}", 0, ""},
    {SRV_TS_RESPONSES, "{\"tools\":[{\"type\":\"web_search\"}]}", 400, "tools[0]"},
    {SRV_TS_RESPONSES, "{\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"function\":{}}]}", 400, "tools[0].function"},
    {SRV_TS_RESPONSES, "{\"tools\":[{\"type\":\"function\",\"name\":\"f\"}],\"tool_choice\":{\"type\":\"function\",\"name\":\"g\"}}",
     400, "tool_choice"},
};

TEST(server_tools_decode_fields)
{
    for (size_t i = 0; i < sizeof DECODES / sizeof DECODES[0]; i++) {
        const decode_case *c = &DECODES[i];
        json_t *root = json_loads(c->body, 0, NULL);
        srv_tools t;
        srv_err e;
        int rc;
        memset(&e, 0, sizeof e);
        rc = srv_tools_decode(root, c->shape, &t, &e);
        CHECK_MSG((rc ? e.status : 0) == c->status, "case %zu: status %d (%s)", i, rc ? e.status : 0, e.msg);
        CHECK_MSG(!strcmp(rc ? e.param : "", c->param), "case %zu: param '%s'", i, e.param);
        srv_tools_free(&t);
        json_decref(root);
    }
}

TEST(server_tools_anthropic_history)
{
    json_t *m = json_loads("[{\"role\":\"user\",\"content\":\"w?\"},"
                           "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Looking.\"},"
                           "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},"
                           "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
                           "\"content\":\"down\",\"is_error\":true},{\"type\":\"text\",\"text\":\"and?\"}]}]",
                           0, NULL);
    json_t *out = NULL, *msgs = NULL;
    srv_err e;
    CHECK_EQ_INT(srv_tools_anthropic_history(m, &out, &e), 0);
    CHECK_EQ_INT(srv_decode_messages(out, NULL, "messages", &msgs, &e), 0);
    srv_tools_fill_tool_names(msgs);
    CHECK_EQ_INT((int)json_array_size(msgs), 4);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(msgs, 1), "content")), "Looking.");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(
                     json_array_get(msgs, 1), "tool_calls"), 0), "function"), "name")),
                 "get_weather");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(msgs, 2), "role")), "tool");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(msgs, 2), "content")), "Error: down");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(msgs, 2), "name")), "get_weather");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(msgs, 3), "content")), "and?");
    json_decref(out);
    json_decref(msgs);
    json_decref(m);
    m = json_loads("[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"name\":\"f\",\"input\":{}}]}]", 0, NULL);
    CHECK(srv_tools_anthropic_history(m, &out, &e) < 0);
    CHECK_EQ_STR(e.param, "messages[0].content[0]");
    json_decref(m);
}

TEST(server_tools_responses_input)
{
    json_t *in = json_loads("[{\"role\":\"user\",\"content\":\"w?\"},"
                            "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"},"
                            "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"g\",\"arguments\":\"{}\"},"
                            "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":\"ok\"}]",
                            0, NULL);
    json_t *out = NULL, *msgs = NULL, *tc;
    srv_err e;
    CHECK_EQ_INT(srv_tools_responses_input(in, &out, &e), 0);
    CHECK_EQ_INT(srv_decode_messages(out, NULL, "input", &msgs, &e), 0);
    srv_tools_fill_tool_names(msgs);
    CHECK_EQ_INT((int)json_array_size(msgs), 3);
    tc = json_object_get(json_array_get(msgs, 1), "tool_calls");
    CHECK_EQ_INT((int)json_array_size(tc), 2);
    CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(json_array_get(tc, 0), "function"),
                                                             "arguments"), "a")) == 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(msgs, 2), "name")), "g");
    json_decref(out);
    json_decref(msgs);
    json_decref(in);
    in = json_loads("[{\"type\":\"reasoning\",\"summary\":[]}]", 0, NULL);
    CHECK(srv_tools_responses_input(in, &out, &e) < 0);
    CHECK_EQ_STR(e.param, "input[0]");
    json_decref(in);
}

/* A call name longer than the parser keeps is cut on a character boundary:
 * cut inside a multi-byte character it was not UTF-8, and every API's JSON
 * for the call failed (the whole-text parse dropped the call). */
TEST(server_tool_stream_long_name_cut_on_utf8_boundary)
{
    srv_tools t = tools_of(SRV_TF_HERMES, SRV_TOOL_AUTO);
    char text[512], name[200];
    json_t *content, *calls;
    const char *got;
    memset(name, 'a', 126);
    memcpy(name + 126, "\xc3\xa9\xc3\xa9", 5); /* bytes 127..130: two 'é' */
    snprintf(text, sizeof text, "<tool_call>{\"name\":\"%s\",\"arguments\":{\"k\":1}}</tool_call>", name);
    calls = srv_tools_parse(&t, text, strlen(text), "call_", &content);
    CHECK(calls && json_array_size(calls) == 1);
    got = json_string_value(json_object_get(json_array_get(calls, 0), "name"));
    CHECK(got != NULL);
    CHECK_EQ_INT((long long)(got ? strlen(got) : 0), 126);
    json_decref(calls);
    json_decref(content);
    srv_tools_free(&t);
}
