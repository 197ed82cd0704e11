/* tool_messages.c - conversation history with tool calls, from Anthropic's
 * content blocks (tool_use, tool_result) and the Responses API's input items
 * (function_call, function_call_output) into the OpenAI chat messages that
 * srv_decode_messages and the templates read. */
#include <stdio.h>
#include <string.h>

#include "server/tools.h"

/* {id, type:"function", function:{name, arguments}} (arguments: object or JSON text). */
static json_t *call_json(json_t *id, json_t *name, json_t *args)
{
    return json_pack("{s:O, s:s, s:{s:O, s:O}}", "id", id, "type", "function", "function", "name", name, "arguments",
                     args);
}

/* Anthropic assistant blocks: text blocks stay content, tool_use blocks become tool_calls. */
static json_t *ant_assistant(json_t *blocks, size_t mi, srv_err *e)
{
    json_t *out = json_pack("{s:s, s:[], s:[]}", "role", "assistant", "content", "tool_calls"), *b;
    size_t i;
    json_array_foreach(blocks, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        json_t *id = json_object_get(b, "id"), *name = json_object_get(b, "name"), *input = json_object_get(b, "input");
        if (!type || strcmp(type, "tool_use")) {
            if (!type || strcmp(type, "thinking")) /* thinking blocks are not shown to the model again */
                json_array_append(json_object_get(out, "content"), b);
            continue;
        }
        if (!json_is_string(id) || !json_is_string(name) || !json_is_object(input)) {
            char param[96];
            snprintf(param, sizeof param, "messages[%zu].content[%zu]", mi, i);
            json_decref(out);
            srv_err_set(e, 400, param, NULL, "'%s': a tool_use block needs 'id', 'name' and an 'input' object", param);
            return NULL;
        }
        json_array_append_new(json_object_get(out, "tool_calls"), call_json(id, name, input));
    }
    if (json_array_size(json_object_get(out, "tool_calls")) == 0)
        json_object_del(out, "tool_calls");
    return out;
}

/* Anthropic user blocks: runs of ordinary blocks become user messages, each
 * tool_result a tool message (is_error: its text starts "Error: "). */
static int ant_user(json_t *out, json_t *blocks, size_t mi, srv_err *e)
{
    json_t *run = json_array(), *b;
    size_t i;
    int rc = 0;
    json_array_foreach(blocks, i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        json_t *id = json_object_get(b, "tool_use_id"), *c = json_object_get(b, "content"), *err;
        if (!type || strcmp(type, "tool_result")) {
            json_array_append(run, b);
            continue;
        }
        if (!json_is_string(id)) {
            char param[96];
            snprintf(param, sizeof param, "messages[%zu].content[%zu].tool_use_id", mi, i);
            rc = srv_err_set(e, 400, param, NULL, "'%s' is required (a string)", param);
            break;
        }
        if (json_array_size(run)) {
            json_array_append_new(out, json_pack("{s:s, s:O}", "role", "user", "content", run));
            json_array_clear(run);
        }
        err = json_is_true(json_object_get(b, "is_error")) ? json_pack("{s:s, s:s}", "type", "text", "text", "Error: ")
                                                           : NULL;
        if (!c || json_is_null(c))
            c = json_string("");
        else if (json_is_string(c))
            c = json_pack("[{s:s, s:O}]", "type", "text", "text", c);
        else
            c = json_deep_copy(c);
        if (err && json_is_array(c))
            json_array_insert_new(c, 0, err);
        else
            json_decref(err);
        json_array_append_new(out, json_pack("{s:s, s:O, s:o}", "role", "tool", "tool_call_id", id, "content", c));
    }
    if (!rc && json_array_size(run))
        json_array_append_new(out, json_pack("{s:s, s:O}", "role", "user", "content", run));
    json_decref(run);
    return rc;
}

int srv_tools_anthropic_history(json_t *messages, json_t **out, srv_err *e)
{
    json_t *m;
    size_t i;
    *out = NULL;
    if (!json_is_array(messages)) { /* srv_decode_messages reports it */
        *out = messages ? json_incref(messages) : NULL;
        return 0;
    }
    *out = json_array();
    json_array_foreach(messages, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *c = json_object_get(m, "content"), *a;
        if (!json_is_array(c) || !role) {
            json_array_append(*out, m);
        } else if (!strcmp(role, "assistant")) {
            if (!(a = ant_assistant(c, i, e)))
                goto fail;
            json_array_append_new(*out, a);
        } else if (ant_user(*out, c, i, e)) {
            goto fail;
        }
    }
    return 0;
fail:
    json_decref(*out);
    *out = NULL;
    return -1;
}

/* ---- the Responses API's input items ---- */

static int rsp_item(json_t *out, json_t *it, size_t i, srv_err *e)
{
    const char *type = json_string_value(json_object_get(it, "type"));
    json_t *last = json_array_get(out, json_array_size(out) - 1), *id, *name, *args, *output;
    char param[96];
    snprintf(param, sizeof param, "input[%zu]", i);
    if (!type || !strcmp(type, "message"))
        return json_array_append(out, it);
    if (!strcmp(type, "function_call")) {
        id = json_object_get(it, "call_id");
        name = json_object_get(it, "name");
        args = json_object_get(it, "arguments");
        if (!json_is_string(id) || !json_is_string(name) || !json_is_string(args))
            return srv_err_set(e, 400, param, NULL, "'%s': a function_call needs 'call_id', 'name' and 'arguments' strings",
                               param);
        /* consecutive calls are one assistant turn */
        if (!last || !json_is_array(json_object_get(last, "tool_calls")) ||
            !json_is_null(json_object_get(last, "content"))) {
            last = json_pack("{s:s, s:n, s:[]}", "role", "assistant", "content", "tool_calls");
            json_array_append_new(out, last);
        }
        return json_array_append_new(json_object_get(last, "tool_calls"), call_json(id, name, args));
    }
    if (!strcmp(type, "function_call_output")) {
        id = json_object_get(it, "call_id");
        output = json_object_get(it, "output");
        if (!json_is_string(id) || !(json_is_string(output) || json_is_array(output)))
            return srv_err_set(e, 400, param, NULL, "'%s': a function_call_output needs 'call_id' and 'output'", param);
        return json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "role", "tool", "tool_call_id", id, "content",
                                                    output));
    }
    return srv_err_set(e, 400, param, NULL,
                       "'%s' has type '%.40s'; message, function_call and function_call_output items are supported",
                       param, type);
}

int srv_tools_responses_input(json_t *input, json_t **out, srv_err *e)
{
    json_t *it;
    size_t i;
    *out = json_array();
    json_array_foreach(input, i, it)
    {
        if (rsp_item(*out, it, i, e) < 0) {
            json_decref(*out);
            *out = NULL;
            return -1;
        }
    }
    /* the function_call assistant turns get "" content for srv_decode_messages */
    json_array_foreach(*out, i, it)
        if (json_is_null(json_object_get(it, "content")))
            json_object_set_new(it, "content", json_string(""));
    return 0;
}

void srv_tools_fill_tool_names(json_t *msgs)
{
    json_t *m;
    size_t i;
    json_array_foreach(msgs, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "tool_call_id"));
        if (!id || json_object_get(m, "name"))
            continue;
        for (size_t j = i; j-- > 0;) {
            json_t *tc = json_object_get(json_array_get(msgs, j), "tool_calls"), *c;
            size_t k;
            json_array_foreach(tc, k, c)
                if (!strcmp(json_string_value(json_object_get(c, "id")) ? json_string_value(json_object_get(c, "id"))
                                                                        : "",
                            id)) {
                    json_object_set(m, "name", json_object_get(json_object_get(c, "function"), "name"));
                    j = 0;
                    break;
                }
        }
    }
}
