/* api_anthropic.c - Anthropic's Messages API: POST /v1/messages (system,
 * multi-turn, stop_sequences, streaming events message_start ...
 * message_stop) and POST /v1/messages/count_tokens. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "server/http.h"
#include "server/layer_params.h"

typedef struct ant_state {
    char id[64];
    char model[256];
    int32_t n_input;        /* counted by the server before the start */
    xllm_buf text;
    srv_final final;
    char stop_seq[4096];
    char err[512];
} ant_state;

static void ant_free(void *p)
{
    ant_state *st = p;
    if (!st)
        return;
    xllm_buf_free(&st->text);
    xllm_free(st);
}

static const char *stop_reason(const ant_state *st)
{
    if (st->final.finish == XLLM_FINISH_LENGTH)
        return "max_tokens";
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
    srv_sse(out, "content_block_start",
            json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start", "index", 0, "content_block", "type",
                      "text", "text", ""));
    srv_sse(out, "ping", json_pack("{s:s}", "type", "ping"));
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
        if (!out)
            return;
        if (ev->finish == XLLM_FINISH_ERROR) {
            srv_sse(out, "error", json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", "api_error",
                                            "message", st->err[0] ? st->err : "generation failed"));
            return;
        }
        srv_sse(out, "content_block_stop", json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
        srv_sse(out, "message_delta",
                json_pack("{s:s, s:{s:s, s:o}, s:o}", "type", "message_delta", "delta", "stop_reason", stop_reason(st),
                          "stop_sequence", stop_seq_json(st), "usage", usage_json(st, 1)));
        srv_sse(out, "message_stop", json_pack("{s:s}", "type", "message_stop"));
        return;
    }
    if (ev->is_prompt)
        return;
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
    json_t *text;
    if (out)
        return;
    if (st->final.finish == XLLM_FINISH_ERROR) {
        srv_reply_error(r, 500, "", NULL, "%s", st->err[0] ? st->err : "generation failed");
        return;
    }
    text = json_stringn(st->text.data ? st->text.data : "", st->text.len);
    srv_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:o}], s:s, s:o, s:o}", "id", st->id, "type", "message",
                             "role", "assistant", "model", st->model, "content", "type", "text", "text",
                             text ? text : json_string(""), "stop_reason", stop_reason(st), "stop_sequence",
                             stop_seq_json(st), "usage", usage_json(st, 1)));
}

static const srv_gen_ops ant_ops = {"text/event-stream", ant_begin, ant_event, ant_end};

/* Decode model + messages and render; shared by both endpoints. */
static int ant_prompt(srv_req *r, json_t *root, srv_gen_req *g, srv_model **md, srv_err *e)
{
    json_t *msgs = NULL;
    char *text = NULL;
    size_t len = 0;
    if (srv_decode_model(root, g, e))
        return -1;
    if (!(*md = srv_req_model(r, g->model)))
        return 1;
    if (srv_layer_params_apply(srv_model_params_json(*md), SRV_LAYER_ANTHROPIC, root, g, e))
        return -1;
    if (srv_decode_messages(json_object_get(root, "messages"), json_object_get(root, "system"), "messages", &msgs, e))
        return -1;
    srv_layer_system_apply(srv_model_system(*md), msgs);
    if (srv_render_chat(*md, msgs, 1, &text, &len, &g->add_special, e)) {
        json_decref(msgs);
        return -1;
    }
    json_decref(msgs);
    srv_gen_req_set_prompt(g, text, len);
    return 0;
}

void srv_anthropic_messages(srv_req *r)
{
    json_t *root = srv_req_json(r);
    srv_gen_req g;
    srv_err e;
    srv_model *md = NULL;
    ant_state *st;
    int rc;
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    if (!root)
        return;
    if (srv_decode_anthropic(root, &g, &e))
        goto fail;
    rc = ant_prompt(r, root, &g, &md, &e);
    if (rc > 0)
        goto out;
    if (rc < 0)
        goto fail;
    if (!(st = xllm_calloc(1, sizeof *st))) {
        srv_err_set(&e, 500, "", NULL, "out of memory");
        goto fail;
    }
    xllm_buf_init(&st->text, 0);
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
    srv_gen_req_free(&g);
}

void srv_anthropic_count_tokens(srv_req *r)
{
    json_t *root = srv_req_json(r);
    srv_gen_req g;
    srv_err e;
    srv_model *md = NULL;
    int32_t n = 0;
    int rc;
    srv_gen_req_init(&g, SRV_API_ANTHROPIC);
    if (!root)
        return;
    rc = ant_prompt(r, root, &g, &md, &e);
    if (rc == 0 && srv_count_tokens(md, g.prompt, g.prompt_len, g.add_special, &n, &e) == 0)
        srv_reply_json(r, 200, json_pack("{s:i}", "input_tokens", n));
    else if (rc < 0 || rc == 0)
        srv_reply_err(r, &e);
    json_decref(root);
    srv_gen_req_free(&g);
}
