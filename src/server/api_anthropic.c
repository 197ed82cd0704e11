/* api_anthropic.c - Anthropic's Messages API: POST /v1/messages (system,
 * multi-turn, stop_sequences, tools with tool_use / tool_result blocks,
 * streaming events message_start ... message_stop, tool input as
 * input_json_delta fragments) and POST /v1/messages/count_tokens. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "server/http.h"
#include "server/layer_params.h"
#include "server/tools.h"

typedef struct ant_state {
    char id[64];
    char model[256];
    int32_t n_input;        /* counted by the server before the start */
    xllm_buf text;
    srv_final final;
    char stop_seq[4096];
    char err[512];
    /* tools: the answer parsed as it is generated */
    srv_tools tools;
    srv_tool_stream ts;
    int ts_on;
    json_t *calls;          /* the tool_use blocks */
    int n_blocks, block_open; /* stream: blocks started; the last one still open */
    xllm_buf *out;          /* the stream being written while text is fed (NULL: not streamed) */
} ant_state;

static void ant_free(void *p)
{
    ant_state *st = p;
    if (!st)
        return;
    xllm_buf_free(&st->text);
    if (st->ts_on)
        srv_tool_stream_free(&st->ts);
    srv_tools_free(&st->tools);
    json_decref(st->calls);
    xllm_free(st);
}

static const char *stop_reason(const ant_state *st)
{
    if (st->final.finish == XLLM_FINISH_LENGTH)
        return "max_tokens";
    if (json_array_size(st->calls))
        return "tool_use";
    return st->stop_seq[0] ? "stop_sequence" : "end_turn";
}

static json_t *stop_seq_json(const ant_state *st)
{
    return st->stop_seq[0] ? json_string(st->stop_seq) : json_null();
}

static json_t *usage_json(const ant_state *st, int final)
{
    int32_t cached = final ? st->final.n_cached : 0;
    int32_t input = final ? st->final.n_prompt - cached : st->n_input;
    return json_pack("{s:i, s:i, s:i, s:i}", "input_tokens", input, "output_tokens", final ? st->final.n_generated : 0,
                     "cache_creation_input_tokens", 0, "cache_read_input_tokens", cached);
}

static void ant_begin(srv_req *r, xllm_buf *out)
{
    ant_state *st = srv_req_api_state(r);
    srv_sse(out, "message_start",
            json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:n, s:o}}", "type", "message_start", "message", "id",
                      st->id, "type", "message", "role", "assistant", "model", st->model, "content", "stop_reason",
                      "stop_sequence", "usage", usage_json(st, 0)));
    if (!st->ts_on) /* with tools, blocks open as the answer shows what they are */
        srv_sse(out, "content_block_start",
                json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start", "index", 0, "content_block",
                          "type", "text", "text", ""));
    srv_sse(out, "ping", json_pack("{s:s}", "type", "ping"));
}

static void block_start(ant_state *st, json_t *block)
{
    srv_sse(st->out, "content_block_start", json_pack("{s:s, s:i, s:o}", "type", "content_block_start", "index",
                                                      st->n_blocks++, "content_block", block));
    st->block_open = 1;
}

static void block_stop(ant_state *st)
{
    if (!st->block_open)
        return;
    srv_sse(st->out, "content_block_stop",
            json_pack("{s:s, s:i}", "type", "content_block_stop", "index", st->n_blocks - 1));
    st->block_open = 0;
}

/* The parsed answer: a text block, then one tool_use block per call. */
static void ant_tool_sink(void *ctx, const srv_tool_delta *d)
{
    ant_state *st = ctx;
    char id[64];
    json_t *input;
    if (d->kind == SRV_TD_CONTENT) {
        xllm_buf_append(&st->text, d->text, d->len);
        if (!st->out)
            return;
        if (!st->block_open)
            block_start(st, json_pack("{s:s, s:s}", "type", "text", "text", ""));
        srv_sse(st->out, "content_block_delta",
                json_pack("{s:s, s:i, s:{s:s, s:s%}}", "type", "content_block_delta", "index", st->n_blocks - 1,
                          "delta", "type", "text_delta", "text", d->text, d->len));
    } else if (d->kind == SRV_TD_CALL) {
        srv_make_id("toolu_", id);
        json_array_append_new(st->calls, json_pack("{s:s, s:s, s:s, s:{}}", "type", "tool_use", "id", id, "name",
                                                   d->name, "input"));
        if (!st->out)
            return;
        block_stop(st);
        block_start(st, json_pack("{s:s, s:s, s:s, s:{}}", "type", "tool_use", "id", id, "name", d->name, "input"));
    } else if (d->kind == SRV_TD_ARGS) {
        if (st->out)
            srv_sse(st->out, "content_block_delta",
                    json_pack("{s:s, s:i, s:{s:s, s:s%}}", "type", "content_block_delta", "index", st->n_blocks - 1,
                              "delta", "type", "input_json_delta", "partial_json", d->text, d->len));
    } else { /* SRV_TD_CALL_END; unfinished arguments (max_tokens) leave input {} */
        input = json_loadb(d->text, d->len, 0, NULL);
        if (json_is_object(input))
            json_object_set(json_array_get(st->calls, json_array_size(st->calls) - 1), "input", input);
        json_decref(input);
        if (st->out)
            block_stop(st);
    }
}

static void ant_event(srv_req *r, const srv_event *ev, xllm_buf *out)
{
    ant_state *st = srv_req_api_state(r);
    if (ev->type == XLLM_EVENT_FINAL) {
        st->final = srv_final_of(ev);
        if (ev->stop_string)
            snprintf(st->stop_seq, sizeof st->stop_seq, "%s", ev->stop_string);
        if (ev->error)
            snprintf(st->err, sizeof st->err, "%s", ev->error);
        st->out = out;
        if (st->ts_on && ev->finish != XLLM_FINISH_ERROR)
            srv_tool_stream_finish(&st->ts);
        if (!out)
            return;
        if (ev->finish == XLLM_FINISH_ERROR) {
            srv_sse(out, "error", json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", "api_error",
                                            "message", st->err[0] ? st->err : "generation failed"));
            return;
        }
        if (!st->ts_on)
            srv_sse(out, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
        else if (st->n_blocks == 0) { /* an empty answer: one empty text block */
            block_start(st, json_pack("{s:s, s:s}", "type", "text", "text", ""));
            block_stop(st);
        } else
            block_stop(st);
        srv_sse(out, "message_delta",
                json_pack("{s:s, s:{s:s, s:o}, s:o}", "type", "message_delta", "delta", "stop_reason", stop_reason(st),
                          "stop_sequence", stop_seq_json(st), "usage", usage_json(st, 1)));
        srv_sse(out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
        return;
    }
    if (ev->is_prompt)
        return;
    if (st->ts_on) {
        st->out = out;
        srv_tool_stream_feed(&st->ts, ev->text, ev->text_len);
        return;
    }
    if (!out) {
        xllm_buf_append(&st->text, ev->text, ev->text_len);
        return;
    }
    if (ev->text_len == 0)
        return;
    srv_sse(out, "content_block_delta",
            json_pack("{s:s, s:i, s:{s:s, s:s%}}", "type", "content_block_delta", "index", 0, "delta", "type",
                      "text_delta", "text", ev->text, ev->text_len));
}

static void ant_end(srv_req *r, xllm_buf *out)
{
    ant_state *st = srv_req_api_state(r);
    json_t *text, *content;
    if (out)
        return;
    if (st->final.finish == XLLM_FINISH_ERROR) {
        srv_reply_error(r, 500, "", NULL, "%s", st->err[0] ? st->err : "generation failed");
        return;
    }
    text = json_stringn(st->text.data ? st->text.data : "", st->text.len);
    content = json_array();
    if (st->text.len || !json_array_size(st->calls))
        json_array_append_new(content, json_pack("{s:s, s:o}", "type", "text", "text", text ? text : json_string("")));
    else
        json_decref(text);
    if (st->calls)
        json_array_extend(content, st->calls);
    srv_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o}", "id", st->id, "type", "message", "role",
                             "assistant", "model", st->model, "content", content, "stop_reason", stop_reason(st),
                             "stop_sequence", stop_seq_json(st), "usage", usage_json(st, 1)));
}

static const srv_gen_ops ant_ops = {"text/event-stream", ant_begin, ant_event, ant_end};

/* Decode model, messages (tool_use / tool_result blocks too) and tools, and
 * render; shared by both endpoints. */
static int ant_prompt(srv_req *r, json_t *root, srv_gen_req *g, srv_model **md, srv_tools *t, srv_err *e)
{
    json_t *conv = NULL, *msgs = NULL;
    int rc = -1;
    memset(t, 0, sizeof *t);
    if (srv_decode_model(root, g, e))
        return -1;
    if (!(*md = srv_req_model(r, g->model)))
        return 1;
    if (srv_layer_params_apply(srv_model_params_json(*md), SRV_LAYER_ANTHROPIC, root, g, e))
        return -1;
    if (srv_tools_anthropic_history(json_object_get(root, "messages"), &conv, e) ||
        srv_decode_messages(conv, json_object_get(root, "system"), "messages", &msgs, e))
        goto out;
    srv_layer_system_apply(srv_model_system(*md), msgs);
    if (srv_tools_begin(*md, root, SRV_TS_ANTHROPIC, msgs, t, g, e))
        goto out;
    rc = 0;
out:
    json_decref(conv);
    json_decref(msgs);
    return rc;
}

void srv_anthropic_messages(srv_req *r)
{
    json_t *root = srv_req_json(r);
    srv_gen_req g;
    srv_err e;
    srv_model *md = NULL;
    ant_state *st;
    srv_tools tools;
    int rc;
    memset(&tools, 0, sizeof tools);
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    if (!root)
        return;
    if (srv_decode_anthropic(root, &g, &e))
        goto fail;
    rc = ant_prompt(r, root, &g, &md, &tools, &e);
    if (rc > 0)
        goto out;
    if (rc < 0)
        goto fail;
    if (!(st = xllm_calloc(1, sizeof *st))) {
        srv_err_set(&e, 500, "", NULL, "out of memory");
        goto fail;
    }
    xllm_buf_init(&st->text, 0);
    st->tools = tools;
    memset(&tools, 0, sizeof tools);
    if (srv_tools_active(&st->tools)) {
        st->ts_on = 1;
        st->calls = json_array();
        srv_tool_stream_init(&st->ts, &st->tools, ant_tool_sink, st);
    }
    srv_make_id("msg_", st->id);
    snprintf(st->model, sizeof st->model, "%s", g.model);
    if (srv_count_tokens(md, g.prompt, g.prompt_len, g.add_special, &st->n_input, &e)) {
        ant_free(st);
        goto fail;
    }
    json_decref(root);
    srv_gen_start(r, md, &g, &ant_ops, st, ant_free);
    return;
fail:
    srv_reply_err(r, &e);
out:
    json_decref(root);
    srv_tools_free(&tools);
    srv_gen_req_free(&g);
}

void srv_anthropic_count_tokens(srv_req *r)
{
    json_t *root = srv_req_json(r);
    srv_gen_req g;
    srv_err e;
    srv_model *md = NULL;
    srv_tools tools;
    int32_t n = 0;
    int rc;
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    if (!root)
        return;
    rc = ant_prompt(r, root, &g, &md, &tools, &e);
    if (rc == 0 && srv_count_tokens(md, g.prompt, g.prompt_len, g.add_special, &n, &e) == 0)
        srv_reply_json(r, 200, json_pack("{s:i}", "input_tokens", n));
    else if (rc < 0 || rc == 0)
        srv_reply_err(r, &e);
    srv_tools_free(&tools);
    json_decref(root);
    srv_gen_req_free(&g);
}
