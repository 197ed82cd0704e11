/* tools.c - tool calling: request decoding, the template's call format, the
 * call grammar (from the tools' parameter schemas) and parsing calls back. */
#include "server/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "runtime/json_schema.h"
#include "server/http.h"
#include "server/models.h"

/* ---- decoding ---- */

/* One tool in OpenAI's shape, from OpenAI/Ollama {type, function} or
 * Anthropic {name, description, input_schema}. */
static json_t *norm_tool(json_t *t, size_t i, srv_err *e)
{
    json_t *fn = json_object_get(t, "function"), *params;
    const char *name, *desc;
    if (!json_is_object(fn) && json_is_string(json_object_get(t, "name"))) /* Anthropic */
        fn = t;
    name = json_string_value(json_object_get(fn, "name"));
    if (!json_is_object(fn) || !name || !*name) {
        srv_err_set(e, 400, "tools", NULL, "tools[%zu] must be {\"type\":\"function\",\"function\":{\"name\":...}}", i);
        return NULL;
    }
    params = json_object_get(fn, fn == t ? "input_schema" : "parameters");
    if (params && !json_is_object(params)) {
        srv_err_set(e, 400, "tools", NULL, "tools[%zu]: the parameters schema must be an object", i);
        return NULL;
    }
    desc = json_string_value(json_object_get(fn, "description"));
    params = params ? json_incref(params) : json_pack("{s:s,s:{}}", "type", "object", "properties");
    return json_pack("{s:s,s:{s:s,s:s,s:o}}", "type", "function", "function", "name", name, "description",
                     desc ? desc : "", "parameters", params);
}

static int decode_choice(json_t *c, srv_api api, srv_tools *t, srv_err *e)
{
    const char *s = json_string_value(c);
    const char *type = json_string_value(json_object_get(c, "type"));
    const char *name = json_string_value(json_object_get(json_object_get(c, "function"), "name"));
    if (!c || json_is_null(c))
        return 0;
    if (api == SRV_API_ANTHROPIC && type) { /* auto | any | tool | none */
        s = !strcmp(type, "any") ? "required" : !strcmp(type, "tool") ? NULL : type;
        name = json_string_value(json_object_get(c, "name"));
    }
    if (s && !strcmp(s, "auto"))
        t->choice = SRV_TOOL_AUTO;
    else if (s && !strcmp(s, "none"))
        t->choice = SRV_TOOL_NONE;
    else if (s && !strcmp(s, "required"))
        t->choice = SRV_TOOL_REQUIRED;
    else if (name && *name) {
        t->choice = SRV_TOOL_NAMED;
        snprintf(t->named, sizeof t->named, "%s", name);
    } else
        return srv_err_set(e, 400, "tool_choice", NULL,
                           "'tool_choice' must be \"auto\", \"none\", \"required\" or a named function");
    return 0;
}

int srv_tools_decode(json_t *root, srv_api api, srv_tools *t, srv_err *e)
{
    json_t *tools = json_object_get(root, "tools"), *v;
    size_t i;
    int found = 0;
    memset(t, 0, sizeof *t);
    t->parallel = 1;
    if (!tools || json_is_null(tools) || (json_is_array(tools) && json_array_size(tools) == 0))
        return 0;
    if (!json_is_array(tools))
        return srv_err_set(e, 400, "tools", NULL, "'tools' must be a list of tools");
    t->tools = json_array();
    json_array_foreach(tools, i, v)
    {
        json_t *n = norm_tool(v, i, e);
        if (!n)
            return -1;
        json_array_append_new(t->tools, n);
    }
    if (decode_choice(json_object_get(root, "tool_choice"), api, t, e) ||
        srv_get_bool(root, "parallel_tool_calls", "parallel_tool_calls", &t->parallel, e))
        return -1;
    if (t->choice != SRV_TOOL_NAMED)
        return 0;
    json_array_foreach(t->tools, i, v)
        found |= !strcmp(json_string_value(json_object_get(json_object_get(v, "function"), "name")), t->named);
    return found ? 0 : srv_err_set(e, 400, "tool_choice", NULL, "tool_choice names '%s', which is not in 'tools'",
                                   t->named);
}

void srv_tools_free(srv_tools *t)
{
    json_decref(t->tools);
    t->tools = NULL;
}

int srv_tools_active(const srv_tools *t) { return t->tools && t->choice != SRV_TOOL_NONE; }

/* ---- format and prompt ---- */

int srv_tools_setup(srv_tools *t, const char *tmpl, json_t *messages, srv_err *e)
{
    xllm_buf b;
    t->fmt = !tmpl || !strstr(tmpl, "tools")       ? SRV_TF_GENERIC
             : strstr(tmpl, "<tool_call>")          ? SRV_TF_HERMES
             : strstr(tmpl, "[TOOL_CALLS]")         ? SRV_TF_MISTRAL
             : strstr(tmpl, "<|python_tag|>") || strstr(tmpl, "\"parameters\"") ? SRV_TF_LLAMA3
                                                    : SRV_TF_GENERIC;
    /* the template knows no tools. required / a named function: the grammar
     * alone makes the call (no prompt text, for small contexts); auto: the
     * tools are described compactly in a system message */
    if (t->fmt != SRV_TF_GENERIC || t->choice != SRV_TOOL_AUTO || !t->tools)
        return 0;
    /* name(arguments): description, one line each; the grammar holds the types */
    xllm_buf_init(&b, 4u << 20);
    xllm_buf_puts(&b, "Tools:");
    for (size_t i = 0; i < json_array_size(t->tools); i++) {
        json_t *fn = json_object_get(json_array_get(t->tools, i), "function"), *v;
        const char *k, *sep = "";
        xllm_buf_printf(&b, "\n%s(", json_string_value(json_object_get(fn, "name")));
        json_object_foreach(json_object_get(json_object_get(fn, "parameters"), "properties"), k, v)
        {
            xllm_buf_printf(&b, "%s%s", sep, k);
            sep = ",";
        }
        xllm_buf_printf(&b, "): %s", json_string_value(json_object_get(fn, "description")));
    }
    xllm_buf_puts(&b, "\nReply {\"tool_call\":{\"name\":..,\"arguments\":{..}}} or {\"response\":\"..\"}");
    if (!b.data || json_array_insert_new(messages, 0, json_pack("{s:s,s:s}", "role", "system", "content", b.data))) {
        xllm_buf_free(&b);
        return srv_err_set(e, 500, "tools", NULL, "out of memory");
    }
    xllm_buf_free(&b);
    return 0;
}

/* ---- grammar ---- */

/* The JSON schema of one call {"name": const, ARGS: parameters} (ARGS is
 * "parameters" for Llama 3, "arguments" otherwise), anyOf over the tools
 * (only the named one for SRV_TOOL_NAMED). */
static json_t *calls_schema(const srv_tools *t)
{
    const char *args = t->fmt == SRV_TF_LLAMA3 ? "parameters" : "arguments";
    json_t *any = json_array(), *v;
    size_t i;
    json_array_foreach(t->tools, i, v)
    {
        json_t *fn = json_object_get(v, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if (t->choice == SRV_TOOL_NAMED && strcmp(name, t->named))
            continue;
        json_array_append_new(any, json_pack("{s:s,s:{s:{s:s},s:O},s:[s,s]}", "type", "object", "properties", "name",
                                             "const", name, args, json_object_get(fn, "parameters"), "required",
                                             "name", args));
    }
    if (json_array_size(any) == 1) {
        json_t *one = json_incref(json_array_get(any, 0));
        json_decref(any);
        return one;
    }
    return json_pack("{s:o}", "anyOf", any);
}

int srv_tools_grammar(const srv_tools *t, char **gbnf, const char **root, const char *const **triggers,
                      int *n_triggers, srv_err *e)
{
    static const char *const hermes_trigger[] = {"<tool_call>"};
    static const char *const llama_trigger[] = {"{\"name\""};
    static const char *const mistral_trigger[] = {"[{\"name\""};
    json_t *call, *schema;
    char *text = NULL;
    size_t len = 0;
    xllm_buf b;
    xllm_status st;
    *gbnf = NULL;
    *root = NULL;
    *triggers = NULL;
    *n_triggers = 0;
    if (!srv_tools_active(t))
        return 0;
    call = calls_schema(t);
    if (t->fmt == SRV_TF_GENERIC && t->choice == SRV_TOOL_AUTO) /* {"tool_call": call} | {"response": text} */
        schema = json_pack("{s:[{s:s,s:{s:o},s:[s]},{s:s,s:{s:{s:s}},s:[s]}]}", "anyOf", "type", "object",
                           "properties", "tool_call", call, "required", "tool_call", "type", "object", "properties",
                           "response", "type", "string", "required", "response");
    else /* the call object alone */
        schema = call;
    st = xllm_json_schema_to_gbnf(schema, 0, &text, &len);
    json_decref(schema);
    if (st != XLLM_OK)
        return srv_err_set(e, 400, "tools", NULL, "tools: a parameters schema cannot be used: %s", xllm_last_error());
    if (t->fmt == SRV_TF_GENERIC) {
        *gbnf = text;
        return 0;
    }
    /* wrap the call: the converter's start rule is root; ours is tool-calls */
    xllm_buf_init(&b, 8u << 20);
    xllm_buf_puts(&b, text);
    xllm_free(text);
    if (t->fmt == SRV_TF_HERMES)
        xllm_buf_printf(&b, "\ntool-calls ::= \"<tool_call>\\n\" root \"\\n</tool_call>\"%s\n",
                        t->parallel ? " (\"\\n<tool_call>\\n\" root \"\\n</tool_call>\")*" : "");
    else if (t->fmt == SRV_TF_MISTRAL)
        xllm_buf_printf(&b, "\ntool-calls ::= \"[\" root %s\"]\"\n", t->parallel ? "(\",\" root)* " : "");
    else
        xllm_buf_printf(&b, "\ntool-calls ::= root%s\n", t->parallel ? " (\";\" root)*" : "");
    *gbnf = xllm_buf_take(&b);
    *root = "tool-calls";
    if (t->choice == SRV_TOOL_AUTO) {
        *triggers = t->fmt == SRV_TF_HERMES ? hermes_trigger : t->fmt == SRV_TF_MISTRAL ? mistral_trigger : llama_trigger;
        *n_triggers = 1;
    }
    return *gbnf ? 0 : srv_err_set(e, 500, "tools", NULL, "out of memory");
}

/* ---- parsing ---- */

static json_t *make_call(json_t *obj, const char *args_key)
{
    char id[64];
    const char *name = json_string_value(json_object_get(obj, "name"));
    json_t *args = json_object_get(obj, args_key);
    if (!args)
        args = json_object_get(obj, "arguments");
    if (!name || !json_is_object(args))
        return NULL;
    srv_make_id("call_", id);
    return json_pack("{s:s,s:s,s:O}", "id", id, "name", name, "arguments", args);
}

/* Calls in a run of JSON values starting at p (objects, or one array of
 * objects), separated by whitespace, ';' or ','. */
static void parse_json_calls(const char *p, const char *end, const char *args_key, json_t *out)
{
    while (p < end) {
        json_error_t err;
        json_t *v;
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ';' || *p == ','))
            p++;
        if (p >= end || !(v = json_loadb(p, (size_t)(end - p), JSON_DISABLE_EOF_CHECK, &err)))
            return;
        if (json_is_array(v)) {
            size_t i;
            json_t *x, *c;
            json_array_foreach(v, i, x)
            {
                if ((c = make_call(x, args_key)) != NULL)
                    json_array_append_new(out, c);
            }
        } else {
            json_t *c = make_call(v, args_key);
            if (c)
                json_array_append_new(out, c);
        }
        json_decref(v);
        p += err.position;
    }
}

json_t *srv_tools_parse(const srv_tools *t, const char *text, size_t len, size_t *content_len, json_t **content)
{
    const char *end = text + len, *p;
    json_t *calls = json_array();
    *content_len = len;
    *content = NULL;
    if (!srv_tools_active(t) || !text) {
        json_decref(calls);
        return NULL;
    }
    if (t->fmt == SRV_TF_HERMES) {
        for (p = text; (p = memmem(p, (size_t)(end - p), "<tool_call>", 11)) != NULL;) {
            const char *q = memmem(p, (size_t)(end - p), "</tool_call>", 12);
            if (*content_len == len)
                *content_len = (size_t)(p - text);
            parse_json_calls(p + 11, q ? q : end, "arguments", calls);
            p = q ? q + 12 : end;
        }
    } else if (t->fmt == SRV_TF_GENERIC) {
        json_t *v = json_loadb(text, len, 0, NULL), *tc = json_object_get(v, "tool_call"), *c;
        if (!tc && json_object_get(v, "name"))
            tc = v; /* required / named: the bare call */
        if (tc && (c = make_call(tc, "arguments")) != NULL) {
            json_array_append_new(calls, c);
            *content_len = 0;
        } else if (json_is_string(json_object_get(v, "response"))) {
            *content = json_incref(json_object_get(v, "response"));
        }
        json_decref(v);
    } else { /* Llama 3 / Mistral: the text is the call(s), after optional markers */
        p = text;
        while (p < end && (*p == ' ' || *p == '\n'))
            p++;
        if (end - p >= 14 && !memcmp(p, "<|python_tag|>", 14))
            p += 14;
        if (end - p >= 12 && !memcmp(p, "[TOOL_CALLS]", 12))
            p += 12;
        if (p < end && (*p == '{' || *p == '[')) {
            parse_json_calls(p, end, t->fmt == SRV_TF_LLAMA3 ? "parameters" : "arguments", calls);
            if (json_array_size(calls))
                *content_len = (size_t)(p - text);
        }
    }
    if (json_array_size(calls) == 0) {
        json_decref(calls);
        return NULL;
    }
    return calls;
}

void srv_tools_copy_message_fields(json_t *dst, json_t *src)
{
    json_t *tc = json_object_get(src, "tool_calls"), *v;
    size_t i;
    if (json_is_array(tc)) {
        json_t *out = json_array();
        json_array_foreach(tc, i, v)
        {
            json_t *fn = json_object_get(v, "function"), *args = json_object_get(fn, "arguments"), *obj;
            /* OpenAI sends arguments as a JSON string; templates want the object */
            obj = json_is_string(args) ? json_loads(json_string_value(args), 0, NULL)
                  : args               ? json_incref(args)
                                       : NULL;
            json_array_append_new(out, json_pack("{s:s?,s:s,s:{s:s?,s:o}}", "id",
                                                 json_string_value(json_object_get(v, "id")), "type", "function",
                                                 "function", "name", json_string_value(json_object_get(fn, "name")),
                                                 "arguments", obj ? obj : json_object()));
        }
        json_object_set_new(dst, "tool_calls", out);
    }
    if (json_is_string(json_object_get(src, "tool_call_id")))
        json_object_set(dst, "tool_call_id", json_object_get(src, "tool_call_id"));
    if (json_is_string(json_object_get(src, "name")))
        json_object_set(dst, "name", json_object_get(src, "name"));
    if (json_is_string(json_object_get(src, "tool_name")))
        json_object_set(dst, "name", json_object_get(src, "tool_name"));
}

int srv_tools_begin(srv_model *md, json_t *root, srv_api api, json_t *msgs, srv_tools *t, srv_gen_req *g,
                    srv_err *e)
{
    const char *root_rule, *const *triggers;
    char *gbnf, *prompt = NULL;
    size_t len = 0;
    int n;
    if (srv_tools_decode(root, api, t, e))
        return -1;
    if (srv_tools_active(t)) {
        if (g->grammar)
            return srv_err_set(e, 400, "tools", NULL, "'tools' cannot be combined with a response format or grammar");
        if (srv_tools_setup(t, srv_model_chat_template(md), msgs, e) ||
            srv_tools_grammar(t, &gbnf, &root_rule, &triggers, &n, e))
            return -1;
        g->grammar = gbnf;
        g->params.grammar = gbnf;
        g->params.grammar_root = root_rule;
        g->params.grammar_triggers = triggers;
        g->params.n_grammar_triggers = n;
    }
    if (srv_render_chat_tools(md, msgs, srv_tools_active(t) ? t->tools : NULL, 1, &prompt, &len, &g->add_special, e))
        return -1;
    srv_gen_req_set_prompt(g, prompt, len);
    return 0;
}
