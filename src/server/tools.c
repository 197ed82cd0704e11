/* tools.c - tool calling: request decoding (each API's shape, checked field
 * by field), the template's call format and the call grammar (from the tools'
 * parameter schemas). The calls are parsed back in tool_stream.c. */
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

/* Field names each request shape allows in a tool and its parts (NULL: any). */
static const char *const CHAT_TOOL[] = {"type", "function", NULL};
static const char *const CHAT_FN[] = {"name", "description", "parameters", "strict", NULL};
static const char *const ANT_TOOL[] = {"type", "name", "description", "input_schema", "cache_control", NULL};
static const char *const RSP_TOOL[] = {"type", "name", "description", "parameters", "strict", NULL};
static const char *const CHAT_CHOICE[] = {"type", "function", NULL};
static const char *const ANT_CHOICE[] = {"type", "name", "disable_parallel_tool_use", NULL};
static const char *const RSP_CHOICE[] = {"type", "name", NULL};

/* An unknown key of o is a 400 naming "where.key". */
static int check_keys(json_t *o, const char *const *allowed, const char *where, srv_err *e)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k))
            i++;
        if (!allowed[i]) {
            char param[64];
            snprintf(param, sizeof param, "%s.%s", where, k);
            return srv_err_set(e, 400, param, NULL, "'%s.%.60s' is not a known field", where, k);
        }
    }
    return 0;
}

/* Names as OpenAI and Anthropic accept them: [a-zA-Z0-9_-]{1,64}. */
static int check_name(const char *name, const char *where, srv_err *e)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
        return srv_err_set(e, 400, where, NULL, "'%s' must be 1 to 64 letters, digits, '_' or '-'", where);
    return 0;
}

/* One tool in OpenAI's chat shape from the request's shape. */
static json_t *norm_tool(json_t *t, size_t i, srv_tools_shape shape, srv_err *e)
{
    char where[64];
    json_t *fn = t, *params;
    const char *name, *desc, *type = json_string_value(json_object_get(t, "type"));
    const char *pkey = shape == SRV_TS_ANTHROPIC ? "input_schema" : "parameters";
    snprintf(where, sizeof where, "tools[%zu]", i);
    if (!json_is_object(t)) {
        srv_err_set(e, 400, where, NULL, "'%s' must be an object", where);
        return NULL;
    }
    if (shape == SRV_TS_CHAT || shape == SRV_TS_OLLAMA) {
        fn = json_object_get(t, "function");
        if (!json_is_object(fn)) {
            srv_err_set(e, 400, where, NULL, "'%s' must be {\"type\":\"function\",\"function\":{\"name\":...}}", where);
            return NULL;
        }
    }
    if (shape == SRV_TS_ANTHROPIC && type && strcmp(type, "custom")) {
        srv_err_set(e, 400, where, NULL, "'%s.type' '%.40s': only custom tools (name, input_schema) are supported",
                    where, type);
        return NULL;
    }
    if ((shape == SRV_TS_CHAT || shape == SRV_TS_RESPONSES) && (!type || strcmp(type, "function"))) {
        srv_err_set(e, 400, where, NULL, "'%s.type' must be \"function\" (other tool types are not supported)", where);
        return NULL;
    }
    if (shape != SRV_TS_OLLAMA &&
        check_keys(t, shape == SRV_TS_CHAT ? CHAT_TOOL : shape == SRV_TS_ANTHROPIC ? ANT_TOOL : RSP_TOOL, where, e))
        return NULL;
    snprintf(where, sizeof where, "tools[%zu].function", i);
    if (shape == SRV_TS_CHAT && check_keys(fn, CHAT_FN, where, e))
        return NULL;
    snprintf(where, sizeof where, "tools[%zu]%s.name", i, fn == t ? "" : ".function");
    name = json_string_value(json_object_get(fn, "name"));
    if ((shape == SRV_TS_OLLAMA && (!name || !*name || strlen(name) > 64)) ||
        (shape != SRV_TS_OLLAMA && check_name(name, where, e))) {
        if (shape == SRV_TS_OLLAMA)
            srv_err_set(e, 400, where, NULL, "'%s' must be a name of 1 to 64 characters", where);
        return NULL;
    }
    params = json_object_get(fn, pkey);
    if ((params && !json_is_object(params)) || (shape == SRV_TS_ANTHROPIC && !params)) {
        snprintf(where, sizeof where, "tools[%zu]%s.%s", i, fn == t ? "" : ".function", pkey);
        srv_err_set(e, 400, where, NULL, "'%s' must be a JSON schema object", where);
        return NULL;
    }
    desc = json_string_value(json_object_get(fn, "description"));
    params = params ? json_incref(params) : json_pack("{s:s,s:{}}", "type", "object", "properties");
    return json_pack("{s:s,s:{s:s,s:s,s:o}}", "type", "function", "function", "name", name, "description",
                     desc ? desc : "", "parameters", params);
}

static int set_choice(srv_tools *t, const char *s, const char *name)
{
    if (s && !strcmp(s, "auto"))
        t->choice = SRV_TOOL_AUTO;
    else if (s && !strcmp(s, "none"))
        t->choice = SRV_TOOL_NONE;
    else if (s && (!strcmp(s, "required") || !strcmp(s, "any")))
        t->choice = SRV_TOOL_REQUIRED;
    else if (name && *name) {
        t->choice = SRV_TOOL_NAMED;
        snprintf(t->named, sizeof t->named, "%s", name);
    } else
        return -1;
    return 0;
}

/* Anthropic: {type: auto|any|tool|none, name, disable_parallel_tool_use}. */
static int decode_choice_anthropic(json_t *c, srv_tools *t, srv_err *e)
{
    const char *type = json_string_value(json_object_get(c, "type"));
    json_t *dp = json_object_get(c, "disable_parallel_tool_use");
    if (!json_is_object(c) || !type)
        return srv_err_set(e, 400, "tool_choice", NULL, "'tool_choice' must be an object with a 'type'");
    if (check_keys(c, ANT_CHOICE, "tool_choice", e))
        return -1;
    if (dp && !json_is_boolean(dp))
        return srv_err_set(e, 400, "tool_choice.disable_parallel_tool_use", NULL,
                           "'tool_choice.disable_parallel_tool_use' must be a boolean");
    t->parallel = !json_is_true(dp);
    if (!strcmp(type, "tool")) {
        if (!json_is_string(json_object_get(c, "name")))
            return srv_err_set(e, 400, "tool_choice.name", NULL, "'tool_choice.name' is required for type \"tool\"");
        return set_choice(t, NULL, json_string_value(json_object_get(c, "name")));
    }
    if (strcmp(type, "auto") && strcmp(type, "any") && strcmp(type, "none"))
        return srv_err_set(e, 400, "tool_choice.type", NULL,
                           "'tool_choice.type' must be \"auto\", \"any\", \"tool\" or \"none\"");
    return set_choice(t, type, NULL);
}

static int decode_choice(json_t *c, srv_tools_shape shape, srv_tools *t, srv_err *e)
{
    const char *s = json_string_value(c), *type = json_string_value(json_object_get(c, "type"));
    const char *name;
    if (!c || json_is_null(c))
        return 0;
    if (shape == SRV_TS_ANTHROPIC)
        return decode_choice_anthropic(c, t, e);
    if (json_is_object(c)) {
        if (!type || strcmp(type, "function"))
            return srv_err_set(e, 400, "tool_choice.type", NULL, "'tool_choice.type' must be \"function\"");
        if (shape != SRV_TS_OLLAMA && check_keys(c, shape == SRV_TS_RESPONSES ? RSP_CHOICE : CHAT_CHOICE,
                                                 "tool_choice", e))
            return -1;
    }
    name = shape == SRV_TS_RESPONSES ? json_string_value(json_object_get(c, "name"))
                                     : json_string_value(json_object_get(json_object_get(c, "function"), "name"));
    if ((s && !strcmp(s, "any")) || set_choice(t, s, json_is_object(c) ? name : NULL))
        return srv_err_set(e, 400, "tool_choice", NULL,
                           "'tool_choice' must be \"auto\", \"none\", \"required\" or a named function");
    return 0;
}

int srv_tools_decode(json_t *root, srv_tools_shape shape, srv_tools *t, srv_err *e)
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
        json_t *n = norm_tool(v, i, shape, e);
        if (!n)
            return -1;
        json_array_append_new(t->tools, n);
    }
    if (decode_choice(json_object_get(root, "tool_choice"), shape, t, e) ||
        (shape != SRV_TS_ANTHROPIC &&
         srv_get_bool(root, "parallel_tool_calls", "parallel_tool_calls", &t->parallel, e)))
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
    /* "tools" in any case: Jinja's `tools`, Ollama's Go `.Tools` */
    t->fmt = !tmpl || !strcasestr(tmpl, "tools")   ? SRV_TF_GENERIC
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

int srv_tools_begin(srv_model *md, json_t *root, srv_tools_shape shape, json_t *msgs, srv_tools *t,
                    srv_gen_req *g, srv_err *e)
{
    const char *root_rule, *const *triggers;
    char *gbnf, *prompt = NULL;
    size_t len = 0;
    int n;
    if (srv_tools_decode(root, shape, t, e))
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
    srv_tools_fill_tool_names(msgs);
    if (srv_render_chat_tools(md, msgs, srv_tools_active(t) ? t->tools : NULL, 1, &prompt, &len, &g->add_special, e))
        return -1;
    srv_gen_req_set_prompt(g, prompt, len);
    return 0;
}
