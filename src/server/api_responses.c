/* api_responses.c - OpenAI's Responses API (POST /v1/responses): input as
 * text, message, function_call and function_call_output items, function
 * tools, instructions, previous_response_id over a bounded in-memory store of
 * conversations, the response object and its streaming events
 * (response.created ... response.completed, function_call_arguments.delta). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "server/http_internal.h"
#include "server/layer_params.h"
#include "server/tools.h"

typedef struct rsp_state {
    srv *s;
    char id[64], msg_id[64];
    char model[256];
    char prev[64];
    int64_t created;
    json_t *messages;       /* the conversation sent (kept for store) */
    int store;
    int32_t max_output;
    double temperature, top_p;
    char *instructions;
    xllm_buf text;
    srv_final final;
    char err[512];
    int seq;
    /* function tools: the answer parsed as it is generated */
    srv_tools tools;
    srv_tool_stream ts;
    int ts_on;
    json_t *calls;          /* function_call output items */
    json_t *tools_echo, *choice_echo; /* the request's tools and tool_choice */
    int n_items, msg_open, msg_index, call_index; /* stream: output items added, the message's, the call's */
    xllm_buf *out;          /* the stream being written while text is fed (NULL: not streamed) */
} rsp_state;

void srv_responses_init(srv *s)
{
    pthread_mutex_init(&s->resp_mu, NULL);
}

void srv_responses_free(srv *s)
{
    for (int i = 0; i < XLLM_SERVER_MAX_RESPONSES; i++)
        json_decref(s->resp[i].messages);
    pthread_mutex_destroy(&s->resp_mu);
}

/* A copy of the stored conversation of id, or NULL. */
static json_t *stored_get(srv *s, const char *id)
{
    json_t *m = NULL;
    pthread_mutex_lock(&s->resp_mu);
    for (int i = 0; i < XLLM_SERVER_MAX_RESPONSES && !m; i++)
        if (s->resp[i].messages && !strcmp(s->resp[i].id, id))
            m = json_deep_copy(s->resp[i].messages);
    pthread_mutex_unlock(&s->resp_mu);
    return m;
}

static void stored_put(srv *s, const char *id, json_t *messages)
{
    pthread_mutex_lock(&s->resp_mu);
    json_decref(s->resp[s->resp_next].messages);
    snprintf(s->resp[s->resp_next].id, sizeof s->resp[s->resp_next].id, "%s", id);
    s->resp[s->resp_next].messages = messages;
    s->resp_next = (s->resp_next + 1) % XLLM_SERVER_MAX_RESPONSES;
    pthread_mutex_unlock(&s->resp_mu);
}

static void rsp_free(void *p)
{
    rsp_state *st = p;
    if (!st)
        return;
    json_decref(st->messages);
    xllm_free(st->instructions);
    xllm_buf_free(&st->text);
    if (st->ts_on)
        srv_tool_stream_free(&st->ts);
    srv_tools_free(&st->tools);
    json_decref(st->calls);
    json_decref(st->tools_echo);
    json_decref(st->choice_echo);
    xllm_free(st);
}

static json_t *text_json(const rsp_state *st)
{
    json_t *t = json_stringn(st->text.data ? st->text.data : "", st->text.len);
    return t ? t : json_string("");
}

static json_t *message_item(const rsp_state *st, int done)
{
    json_t *content = json_array();
    if (done)
        json_array_append_new(content, json_pack("{s:s, s:o, s:[]}", "type", "output_text", "text", text_json(st),
                                                 "annotations"));
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", "message", "id", st->msg_id, "status",
                     done ? "completed" : "in_progress", "role", "assistant", "content", content);
}

static json_t *response_obj(const rsp_state *st, const char *status)
{
    int done = !strcmp(status, "completed") || !strcmp(status, "incomplete");
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:o, s:o, s:o, s:o, s:f, s:f, s:s, s:[], s:b, s:{s:{s:s}}}",
                          "id", st->id, "object", "response", "created_at", (json_int_t)st->created, "status", status,
                          "model", st->model, "error", "incomplete_details",
                          (done && st->final.finish == XLLM_FINISH_LENGTH)
                              ? json_pack("{s:s}", "reason", "max_output_tokens")
                              : json_null(),
                          "instructions", st->instructions ? json_string(st->instructions) : json_null(),
                          "max_output_tokens", st->max_output > 0 ? json_integer(st->max_output) : json_null(),
                          "previous_response_id", st->prev[0] ? json_string(st->prev) : json_null(), "temperature",
                          st->temperature, "top_p", st->top_p, "tool_choice", "auto", "tools",
                          "parallel_tool_calls", st->tools.parallel, "text", "format", "type", "text");
    if (st->tools_echo)
        json_object_set(o, "tools", st->tools_echo);
    if (st->choice_echo)
        json_object_set(o, "tool_choice", st->choice_echo);
    json_object_set_new(o, "output", json_array());
    if (done && (st->text.len || !json_array_size(st->calls)))
        json_array_append_new(json_object_get(o, "output"), message_item(st, 1));
    if (done && st->calls)
        json_array_extend(json_object_get(o, "output"), st->calls);
    json_object_set_new(o, "store", json_boolean(st->store));
    if (done) {
        int32_t in = st->final.n_prompt, out = st->final.n_generated;
        json_object_set_new(o, "usage",
                            json_pack("{s:i, s:{s:i}, s:i, s:{s:i}, s:i}", "input_tokens", in, "input_tokens_details",
                                      "cached_tokens", st->final.n_cached, "output_tokens", out,
                                      "output_tokens_details", "reasoning_tokens", 0, "total_tokens", in + out));
    } else {
        json_object_set_new(o, "usage", json_null());
    }
    return o;
}

static void emit(rsp_state *st, xllm_buf *out, const char *type, json_t *o)
{
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "sequence_number", json_integer(st->seq++));
    srv_sse(out, type, o);
}

/* Stream: the message item opens (at the next output index) and closes. */
static void msg_open(rsp_state *st, xllm_buf *out)
{
    st->msg_index = st->n_items++;
    st->msg_open = 1;
    emit(st, out, "response.output_item.added",
         json_pack("{s:i, s:o}", "output_index", st->msg_index, "item", message_item(st, 0)));
    emit(st, out, "response.content_part.added",
         json_pack("{s:s, s:i, s:i, s:{s:s, s:s, s:[]}}", "item_id", st->msg_id, "output_index", st->msg_index,
                   "content_index", 0, "part", "type", "output_text", "text", "", "annotations"));
}

static void msg_close(rsp_state *st, xllm_buf *out)
{
    if (!st->msg_open)
        return;
    st->msg_open = 0;
    emit(st, out, "response.output_text.done",
         json_pack("{s:s, s:i, s:i, s:o}", "item_id", st->msg_id, "output_index", st->msg_index, "content_index", 0,
                   "text", text_json(st)));
    emit(st, out, "response.content_part.done",
         json_pack("{s:s, s:i, s:i, s:{s:s, s:o, s:[]}}", "item_id", st->msg_id, "output_index", st->msg_index,
                   "content_index", 0, "part", "type", "output_text", "text", text_json(st), "annotations"));
    emit(st, out, "response.output_item.done",
         json_pack("{s:i, s:o}", "output_index", st->msg_index, "item", message_item(st, 1)));
}

static void rsp_begin(srv_req *r, xllm_buf *out)
{
    rsp_state *st = srv_req_api_state(r);
    emit(st, out, "response.created", json_pack("{s:o}", "response", response_obj(st, "in_progress")));
    emit(st, out, "response.in_progress", json_pack("{s:o}", "response", response_obj(st, "in_progress")));
    if (!st->ts_on) /* with tools, items open as the answer shows what they are */
        msg_open(st, out);
}

static void text_delta(rsp_state *st, xllm_buf *out, const char *text, size_t len)
{
    emit(st, out, "response.output_text.delta",
         json_pack("{s:s, s:i, s:i, s:s%}", "item_id", st->msg_id, "output_index", st->msg_index, "content_index", 0,
                   "delta", text, len));
}

/* The parsed answer: a message item, then one function_call item per call. */
static void rsp_tool_sink(void *ctx, const srv_tool_delta *d)
{
    rsp_state *st = ctx;
    json_t *item = json_array_get(st->calls, json_array_size(st->calls) - 1);
    char id[64], call_id[64];
    if (d->kind == SRV_TD_CONTENT) {
        xllm_buf_append(&st->text, d->text, d->len);
        if (st->out && !st->msg_open)
            msg_open(st, st->out);
        if (st->out)
            text_delta(st, st->out, d->text, d->len);
    } else if (d->kind == SRV_TD_CALL) {
        srv_make_id("fc_", id);
        srv_make_id("call_", call_id);
        item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "function_call", "id", id, "call_id", call_id,
                         "name", d->name, "arguments", "", "status", "in_progress");
        json_array_append_new(st->calls, item);
        if (!st->out)
            return;
        msg_close(st, st->out);
        st->call_index = st->n_items++;
        emit(st, st->out, "response.output_item.added",
             json_pack("{s:i, s:O}", "output_index", st->call_index, "item", item));
    } else if (d->kind == SRV_TD_ARGS) {
        if (st->out)
            emit(st, st->out, "response.function_call_arguments.delta",
                 json_pack("{s:O, s:i, s:s%}", "item_id", json_object_get(item, "id"), "output_index", st->call_index,
                           "delta", d->text, d->len));
    } else { /* SRV_TD_CALL_END */
        json_object_set_new(item, "arguments", json_stringn(d->text, d->len));
        json_object_set_new(item, "status", json_string("completed"));
        if (!st->out)
            return;
        emit(st, st->out, "response.function_call_arguments.done",
             json_pack("{s:O, s:i, s:O}", "item_id", json_object_get(item, "id"), "output_index", st->call_index,
                       "arguments", json_object_get(item, "arguments")));
        emit(st, st->out, "response.output_item.done", json_pack("{s:i, s:O}", "output_index", st->call_index,
                                                                 "item", item));
    }
}

static void store_answer(rsp_state *st)
{
    json_t *m;
    if (!st->store || !st->messages)
        return;
    m = json_deep_copy(st->messages);
    json_array_append_new(m, json_pack("{s:s, s:o}", "role", "assistant", "content", text_json(st)));
    if (json_array_size(st->calls)) { /* in the template's shape: arguments as objects */
        json_t *tc = json_array(), *c;
        size_t i;
        json_array_foreach(st->calls, i, c)
        {
            json_t *args = json_loads(json_string_value(json_object_get(c, "arguments")), 0, NULL);
            json_array_append_new(tc, json_pack("{s:O, s:s, s:{s:O, s:o}}", "id", json_object_get(c, "call_id"),
                                                "type", "function", "function", "name", json_object_get(c, "name"),
                                                "arguments", json_is_object(args) ? args : json_object()));
            if (!json_is_object(args))
                json_decref(args);
        }
        json_object_set_new(json_array_get(m, json_array_size(m) - 1), "tool_calls", tc);
    }
    stored_put(st->s, st->id, m);
}

static void rsp_event(srv_req *r, const srv_event *ev, xllm_buf *out)
{
    rsp_state *st = srv_req_api_state(r);
    const char *status;
    if (ev->type == XLLM_EVENT_FINAL) {
        st->final = srv_final_of(ev);
        if (ev->error)
            snprintf(st->err, sizeof st->err, "%s", ev->error);
        st->out = out;
        if (st->ts_on && ev->finish != XLLM_FINISH_ERROR)
            srv_tool_stream_finish(&st->ts);
        if (ev->finish != XLLM_FINISH_ERROR)
            store_answer(st);
        if (!out)
            return;
        if (ev->finish == XLLM_FINISH_ERROR) {
            emit(st, out, "error", json_pack("{s:n, s:s, s:n}", "code", "message", st->err, "param"));
            return;
        }
        status = ev->finish == XLLM_FINISH_LENGTH ? "incomplete" : "completed";
        if (st->n_items == 0) /* an empty answer: an empty message, as response_obj lists it */
            msg_open(st, out);
        msg_close(st, out);
        emit(st, out, !strcmp(status, "completed") ? "response.completed" : "response.incomplete",
             json_pack("{s:o}", "response", response_obj(st, status)));
        return;
    }
    if (ev->is_prompt)
        return;
    if (st->ts_on) {
        st->out = out;
        srv_tool_stream_feed(&st->ts, ev->text, ev->text_len);
        return;
    }
    xllm_buf_append(&st->text, ev->text, ev->text_len);
    if (out && ev->text_len)
        text_delta(st, out, ev->text, ev->text_len);
}

static void rsp_end(srv_req *r, xllm_buf *out)
{
    rsp_state *st = srv_req_api_state(r);
    if (out)
        return;
    if (st->final.finish == XLLM_FINISH_ERROR) {
        srv_reply_error(r, 500, "", NULL, "%s", st->err[0] ? st->err : "generation failed");
        return;
    }
    srv_reply_json(r, 200, response_obj(st, st->final.finish == XLLM_FINISH_LENGTH ? "incomplete" : "completed"));
}

static const srv_gen_ops rsp_ops = {"text/event-stream", rsp_begin, rsp_event, rsp_end};

void srv_openai_responses(srv_req *r)
{
    json_t *root = srv_req_json(r), *input, *items = NULL, *msgs = NULL, *conv = NULL;
    srv_gen_req g;
    srv_err e;
    srv_model *md;
    rsp_state *st = NULL;
    const char *prev = NULL, *instr = NULL;
    int64_t max_out = 0;
    int store = 1;
    srv_tools tools;
    memset(&tools, 0, sizeof tools);
    tools.parallel = 1;
    srv_gen_req_init(&g, SRV_API_OPENAI);
    if (!root)
        return;
    if (srv_decode_model(root, &g, &e) || srv_get_bool(root, "stream", "stream", &g.stream, &e) ||
        srv_get_str(root, "previous_response_id", "previous_response_id", &prev, &e) ||
        srv_get_str(root, "instructions", "instructions", &instr, &e) ||
        srv_get_int(root, "max_output_tokens", "max_output_tokens", 1, INT32_MAX, &max_out, &e) ||
        srv_get_bool(root, "store", "store", &store, &e))
        goto fail;
    /* the sampling fields share the chat decoder (max_tokens etc. are absent here) */
    {
        json_t *s = json_pack("{s:O?, s:O?, s:O?}", "temperature", json_object_get(root, "temperature"), "top_p",
                              json_object_get(root, "top_p"), "top_k", json_object_get(root, "top_k"));
        int rc = srv_decode_openai(s, 1, &g, &e);
        json_decref(s);
        if (rc)
            goto fail;
        g.stream = json_is_true(json_object_get(root, "stream"));
    }
    if (max_out > 0) {
        g.params.max_tokens = (int32_t)max_out;
        g.max_tokens_given = 1;
    }
    if (!(md = srv_req_model(r, g.model)))
        goto out;
    if (srv_layer_params_apply(srv_model_params_json(md), SRV_LAYER_RESPONSES, root, &g, &e))
        goto fail;
    input = json_object_get(root, "input");
    if (json_is_string(input)) {
        items = json_pack("[{s:s, s:O}]", "role", "user", "content", input);
    } else if (json_is_array(input)) {
        if (srv_tools_responses_input(input, &items, &e))
            goto fail;
    } else {
        srv_err_set(&e, 400, "input", NULL, "'input' is required: a string or a list of message items");
        goto fail;
    }
    {
        json_t *sys = instr ? json_string(instr) : NULL;
        int rc = srv_decode_messages(items, sys, "input", &msgs, &e);
        json_decref(sys);
        if (rc)
            goto fail;
    }
    if (prev && prev[0]) {
        conv = stored_get(srv_req_server(r), prev);
        if (!conv) {
            srv_err_set(&e, 404, "previous_response_id", NULL,
                        "previous response '%.60s' not found (only the last %d stored responses are kept)", prev,
                        XLLM_SERVER_MAX_RESPONSES);
            goto fail;
        }
        /* instructions of the earlier turn are not carried over (as OpenAI does) */
        for (size_t i = json_array_size(conv); i-- > 0;)
            if (!strcmp(json_string_value(json_object_get(json_array_get(conv, i), "role")), "system"))
                json_array_remove(conv, i);
        json_array_extend(conv, msgs);
        json_decref(msgs);
        msgs = conv;
        conv = NULL;
        if (instr) { /* keep the system message first */
            json_t *sys = json_pack("{s:s, s:s}", "role", "system", "content", instr);
            for (size_t i = 0; i < json_array_size(msgs); i++)
                if (!strcmp(json_string_value(json_object_get(json_array_get(msgs, i), "role")), "system")) {
                    json_array_remove(msgs, i);
                    break;
                }
            json_array_insert_new(msgs, 0, sys);
        }
    }
    srv_layer_system_apply(srv_model_system(md), msgs);
    if (srv_tools_begin(md, root, SRV_TS_RESPONSES, msgs, &tools, &g, &e))
        goto fail;
    if (!(st = xllm_calloc(1, sizeof *st))) {
        srv_err_set(&e, 500, "", NULL, "out of memory");
        goto fail;
    }
    st->s = srv_req_server(r);
    srv_make_id("resp_", st->id);
    srv_make_id("msg_", st->msg_id);
    snprintf(st->model, sizeof st->model, "%s", g.model);
    snprintf(st->prev, sizeof st->prev, "%s", prev ? prev : "");
    st->created = srv_unix_now();
    st->messages = msgs;
    msgs = NULL;
    st->store = store;
    st->max_output = (int32_t)max_out;
    st->temperature = g.params.sampling.temperature;
    st->top_p = g.params.sampling.top_p;
    st->instructions = instr ? xllm_strdup(instr) : NULL;
    xllm_buf_init(&st->text, 0);
    st->tools = tools;
    memset(&tools, 0, sizeof tools);
    if (st->tools.tools) {
        st->tools_echo = json_incref(json_object_get(root, "tools"));
        st->choice_echo = json_incref(json_object_get(root, "tool_choice"));
    }
    if (srv_tools_active(&st->tools)) {
        st->ts_on = 1;
        st->calls = json_array();
        srv_tool_stream_init(&st->ts, &st->tools, rsp_tool_sink, st);
    }
    json_decref(root);
    json_decref(items);
    srv_gen_start(r, md, &g, &rsp_ops, st, rsp_free);
    return;
fail:
    srv_reply_err(r, &e);
out:
    json_decref(root);
    json_decref(items);
    json_decref(msgs);
    json_decref(conv);
    srv_tools_free(&tools);
    srv_gen_req_free(&g);
}
