/* api_openai.c - OpenAI's /v1/chat/completions, /v1/completions, /v1/models
 * and /v1/models/{id}: request decoding, SSE chunks and the final objects in
 * OpenAI's exact shapes (usage always, with prompt_tokens_details). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "cli/commands.h"
#include "server/http.h"
#include "server/layer_params.h"
#include "server/tools.h"

typedef struct oai_choice {
    xllm_buf text;
    json_t *lp;             /* chat: logprobs.content list; completions: the logprobs object */
    size_t text_off;        /* completions text_offset (stream) */
    size_t prompt_off;      /* text_offset of the next echoed prompt token */
    xllm_finish finish;
    int32_t n_prompt, n_cached, n_generated;
    char err[512];
    int role_sent;
    /* chat with tools, streamed: calls parsed as they are generated */
    srv_tool_stream ts;
    int ts_on, n_calls;
    struct oai_state *st;
    xllm_buf *out;          /* the stream being written while text is fed */
} oai_choice;

typedef struct oai_state {
    int chat;
    char id[64];
    int64_t created;
    char model[256];
    int n;
    oai_choice *ch;
    int include_usage;
    int logprobs, top;
    char *echo;             /* completions echo: prompt text put before the answer */
    size_t echo_len;
    int echo_lp;            /* echo with prompt logprobs from the runner */
    int n_final;
    srv_tools tools;        /* chat with tools: parsed for calls (as they come when streamed) */
} oai_state;

static void oai_free(void *p)
{
    oai_state *st = p;
    if (!st)
        return;
    for (int i = 0; i < st->n; i++) {
        xllm_buf_free(&st->ch[i].text);
        json_decref(st->ch[i].lp);
        if (st->ch[i].ts_on)
            srv_tool_stream_free(&st->ch[i].ts);
    }
    xllm_free(st->ch);
    xllm_free(st->echo);
    srv_tools_free(&st->tools);
    xllm_free(st);
}

static oai_state *oai_new(int chat, const srv_gen_req *g)
{
    oai_state *st = xllm_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->ch = xllm_calloc((size_t)g->n, sizeof *st->ch);
    if (!st->ch) {
        xllm_free(st);
        return NULL;
    }
    st->chat = chat;
    st->n = g->n;
    srv_make_id(chat ? "chatcmpl-" : "cmpl-", st->id);
    st->created = srv_unix_now();
    snprintf(st->model, sizeof st->model, "%s", g->model);
    st->include_usage = g->include_usage;
    st->logprobs = g->params.logprobs;
    st->top = g->params.top_logprobs;
    for (int i = 0; i < st->n; i++)
        xllm_buf_init(&st->ch[i].text, 0);
    return st;
}

static const char *finish_name(xllm_finish f)
{
    switch (f) {
    case XLLM_FINISH_LENGTH: return "length";
    case XLLM_FINISH_ERROR: return "error";
    default: return "stop";
    }
}

static json_t *token_bytes(const xllm_tokenizer *tok, int32_t id)
{
    char buf[256];
    int32_t n = tok ? xllm_token_to_piece(tok, id, 1, buf, sizeof buf) : 0;
    json_t *a = json_array();
    for (int32_t i = 0; i < n && i < (int32_t)sizeof buf; i++)
        json_array_append_new(a, json_integer((unsigned char)buf[i]));
    return a;
}

static json_t *lp_num(float lp)
{
    return isfinite(lp) ? json_real(lp) : json_real(-9999.0);
}

/* One token in chat's logprobs.content shape. */
static json_t *chat_lp_entry(srv_req *r, const srv_event *ev)
{
    const xllm_tokenizer *tok = srv_req_tokenizer(r);
    json_t *top = json_array();
    for (int i = 0; i < ev->n_top; i++)
        json_array_append_new(top, json_pack("{s:o, s:o, s:o}", "token", srv_token_json(tok, ev->top[i].token),
                                             "logprob", lp_num(ev->top[i].logprob), "bytes",
                                             token_bytes(tok, ev->top[i].token)));
    return json_pack("{s:o, s:o, s:o, s:o}", "token", srv_token_json(tok, ev->token), "logprob", lp_num(ev->logprob),
                     "bytes", token_bytes(tok, ev->token), "top_logprobs", top);
}

/* Append one token to a completions logprobs object {tokens, token_logprobs, top_logprobs, text_offset}. */
static void cmpl_lp_add(srv_req *r, json_t *lp, const srv_event *ev, size_t offset)
{
    const xllm_tokenizer *tok = srv_req_tokenizer(r);
    json_t *top = json_object();
    char buf[256];
    for (int i = 0; i < ev->n_top; i++) {
        int32_t n = xllm_token_to_piece(tok, ev->top[i].token, 1, buf, sizeof buf - 1);
        if (n < 0)
            continue;
        buf[n < (int32_t)sizeof buf ? n : (int32_t)sizeof buf - 1] = '\0';
        if (json_stringn(buf, strlen(buf)) == NULL)
            snprintf(buf, sizeof buf, "bytes:%d", ev->top[i].token);
        json_object_set_new(top, buf, lp_num(ev->top[i].logprob));
    }
    json_array_append_new(json_object_get(lp, "tokens"), srv_token_json(tok, ev->token));
    json_array_append_new(json_object_get(lp, "token_logprobs"),
                          (ev->is_prompt && !isfinite(ev->logprob)) ? json_null() : lp_num(ev->logprob));
    json_array_append_new(json_object_get(lp, "top_logprobs"),
                          (ev->is_prompt && !isfinite(ev->logprob)) ? (json_decref(top), json_null()) : top);
    json_array_append_new(json_object_get(lp, "text_offset"), json_integer((json_int_t)offset));
}

static json_t *cmpl_lp_new(void)
{
    return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
}

static json_t *usage_json(const oai_state *st)
{
    int32_t prompt = 0, cached = 0, gen = 0;
    for (int i = 0; i < st->n; i++) {
        if (i == 0) {
            prompt = st->ch[i].n_prompt;
            cached = st->ch[i].n_cached;
        }
        gen += st->ch[i].n_generated;
    }
    return json_pack("{s:i, s:i, s:i, s:{s:i, s:i}, s:{s:i, s:i, s:i, s:i}}", "prompt_tokens", prompt,
                     "completion_tokens", gen, "total_tokens", prompt + gen, "prompt_tokens_details", "cached_tokens",
                     cached, "audio_tokens", 0, "completion_tokens_details", "reasoning_tokens", 0, "audio_tokens", 0,
                     "accepted_prediction_tokens", 0, "rejected_prediction_tokens", 0);
}

static json_t *chunk_base(const oai_state *st)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", st->id, "object",
                     st->chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)st->created,
                     "model", st->model, "system_fingerprint", "xllm-" XLLM_VERSION);
}

static void record_final(oai_choice *c, const srv_event *ev)
{
    c->finish = ev->finish;
    c->n_prompt = ev->n_prompt;
    c->n_cached = ev->n_cached;
    c->n_generated = ev->n_generated;
    if (ev->error)
        snprintf(c->err, sizeof c->err, "%s", ev->error);
}

/* OpenAI's tool_calls list from parsed calls; stream: with the index of each. */
static json_t *tool_calls_json(json_t *calls, int stream)
{
    json_t *out = json_array(), *c;
    size_t i;
    json_array_foreach(calls, i, c)
    {
        char *args = json_dumps(json_object_get(c, "arguments"), JSON_COMPACT);
        json_t *tc = json_pack("{s:O,s:s,s:{s:O,s:s}}", "id", json_object_get(c, "id"), "type", "function",
                               "function", "name", json_object_get(c, "name"), "arguments", args ? args : "{}");
        if (stream)
            json_object_set_new(tc, "index", json_integer((json_int_t)i));
        json_array_append_new(out, tc);
        free(args);
    }
    return out;
}

/* The content and tool calls of a chat answer with tools: *content (new
 * reference: the text before the calls, or null) and the calls (or NULL). */
static json_t *answer_calls(const oai_state *st, const oai_choice *c, json_t **content)
{
    json_t *calls = srv_tools_parse(&st->tools, c->text.data, c->text.len, "call_", content);
    if (calls && json_string_length(*content) == 0) {
        json_decref(*content);
        *content = json_null();
    }
    return calls;
}

/* Streamed chat with tools: one chunk per parsed piece, as OpenAI streams
 * them (a call's first delta has index, id, type, name and arguments "",
 * later ones argument fragments). */
static void chat_tool_sink(void *ctx, const srv_tool_delta *d)
{
    oai_choice *c = ctx;
    oai_state *st = c->st;
    json_t *delta, *chunk, *tc = NULL;
    char id[64];
    if (d->kind == SRV_TD_CALL_END) {
        c->n_calls++;
        return;
    }
    delta = json_object();
    if (!c->role_sent)
        json_object_set_new(delta, "role", json_string("assistant"));
    c->role_sent = 1;
    if (d->kind == SRV_TD_CONTENT) {
        json_object_set_new(delta, "content", json_stringn(d->text, d->len));
    } else if (d->kind == SRV_TD_CALL) {
        srv_make_id("call_", id);
        tc = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}}", "index", d->index, "id", id, "type", "function", "function",
                       "name", d->name, "arguments", "");
    } else {
        tc = json_pack("{s:i, s:{s:s%}}", "index", d->index, "function", "arguments", d->text, d->len);
    }
    if (tc)
        json_object_set_new(delta, "tool_calls", json_pack("[o]", tc));
    chunk = chunk_base(st);
    json_object_set_new(chunk, "choices", json_pack("[{s:i, s:o, s:n, s:n}]", "index", (int)(c - st->ch), "delta",
                                                    delta, "logprobs", "finish_reason"));
    if (st->include_usage)
        json_object_set_new(chunk, "usage", json_null());
    srv_sse(c->out, NULL, chunk);
}

/* Stream end of a chat with tools: what the parser still held, then the finish chunk. */
static void stream_tool_end(oai_state *st, const srv_event *ev, xllm_buf *out)
{
    oai_choice *c = &st->ch[ev->choice];
    json_t *chunk;
    c->out = out;
    srv_tool_stream_finish(&c->ts);
    chunk = chunk_base(st);
    json_object_set_new(chunk, "choices",
                        json_pack("[{s:i,s:{},s:n,s:s}]", "index", ev->choice, "delta", "logprobs", "finish_reason",
                                  c->n_calls && ev->finish != XLLM_FINISH_LENGTH ? "tool_calls"
                                                                                 : finish_name(ev->finish)));
    if (st->include_usage)
        json_object_set_new(chunk, "usage", json_null());
    srv_sse(out, NULL, chunk);
}

static void oai_event(srv_req *r, const srv_event *ev, xllm_buf *out)
{
    oai_state *st = srv_req_api_state(r);
    oai_choice *c = &st->ch[ev->choice];
    json_t *chunk, *choice, *lp = json_null();
    if (ev->type == XLLM_EVENT_FINAL) {
        record_final(c, ev);
        st->n_final++;
        if (!out)
            return;
        if (ev->finish == XLLM_FINISH_ERROR) {
            srv_sse(out, NULL, json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", c->err[0] ? c->err : "error",
                                         "type", "server_error", "param", "code"));
            return;
        }
        if (c->ts_on) {
            stream_tool_end(st, ev, out);
            return;
        }
        chunk = chunk_base(st);
        if (st->chat)
            choice = json_pack("{s:i, s:{}, s:n, s:s}", "index", ev->choice, "delta", "logprobs", "finish_reason",
                               finish_name(ev->finish));
        else
            choice = json_pack("{s:i, s:s, s:n, s:s}", "index", ev->choice, "text", "", "logprobs", "finish_reason",
                               finish_name(ev->finish));
        json_object_set_new(chunk, "choices", json_pack("[o]", choice));
        if (st->include_usage)
            json_object_set_new(chunk, "usage", json_null());
        srv_sse(out, NULL, chunk);
        return;
    }
    /* a token */
    if (out && c->ts_on) {
        c->out = out;
        srv_tool_stream_feed(&c->ts, ev->text, ev->text_len);
        return;
    }
    if (!out) {
        size_t off = c->text.len + st->echo_len;
        if (ev->is_prompt) {
            char piece[256];
            int32_t n = xllm_token_to_piece(srv_req_tokenizer(r), ev->token, 0, piece, sizeof piece);
            off = c->prompt_off;
            c->prompt_off += n > 0 ? (size_t)n : 0;
        }
        if (st->logprobs) {
            if (!c->lp)
                c->lp = st->chat ? json_pack("{s:[]}", "content") : cmpl_lp_new();
            if (st->chat)
                json_array_append_new(json_object_get(c->lp, "content"), chat_lp_entry(r, ev));
            else
                cmpl_lp_add(r, c->lp, ev, off);
        }
        if (!ev->is_prompt)
            xllm_buf_append(&c->text, ev->text, ev->text_len);
        return;
    }
    if (st->logprobs) {
        if (st->chat) {
            lp = json_pack("{s:[o]}", "content", chat_lp_entry(r, ev));
        } else {
            lp = cmpl_lp_new();
            cmpl_lp_add(r, lp, ev, st->echo_len + c->text_off);
        }
    }
    c->text_off += ev->text_len;
    if (ev->text_len == 0 && !st->logprobs && c->role_sent) {
        json_decref(lp);
        return;
    }
    chunk = chunk_base(st);
    if (st->chat) {
        json_t *delta = json_object();
        if (!c->role_sent)
            json_object_set_new(delta, "role", json_string("assistant"));
        json_object_set_new(delta, "content", json_stringn(ev->text, ev->text_len));
        c->role_sent = 1;
        choice = json_pack("{s:i, s:o, s:o, s:n}", "index", ev->choice, "delta", delta, "logprobs", lp,
                           "finish_reason");
    } else {
        choice = json_pack("{s:i, s:s%, s:o, s:n}", "index", ev->choice, "text", ev->text, ev->text_len, "logprobs",
                           lp, "finish_reason");
    }
    json_object_set_new(chunk, "choices", json_pack("[o]", choice));
    if (st->include_usage)
        json_object_set_new(chunk, "usage", json_null());
    srv_sse(out, NULL, chunk);
}

static void oai_begin(srv_req *r, xllm_buf *out)
{
    oai_state *st = srv_req_api_state(r);
    if (!st->chat && st->echo && st->echo_len) {
        json_t *chunk = chunk_base(st);
        for (int i = 0; i < st->n; i++) {
            json_t *c = json_pack("{s:i, s:s%, s:n, s:n}", "index", i, "text", st->echo, st->echo_len, "logprobs",
                                  "finish_reason");
            json_t *k = json_deep_copy(chunk);
            json_object_set_new(k, "choices", json_pack("[o]", c));
            srv_sse(out, NULL, k);
        }
        json_decref(chunk);
    }
}

static void oai_end(srv_req *r, xllm_buf *out)
{
    oai_state *st = srv_req_api_state(r);
    json_t *body, *choices;
    if (out) {
        if (st->include_usage) {
            json_t *chunk = chunk_base(st);
            json_object_set_new(chunk, "choices", json_array());
            json_object_set_new(chunk, "usage", usage_json(st));
            srv_sse(out, NULL, chunk);
        }
        xllm_buf_puts(out, "data: [DONE]\n\n");
        return;
    }
    for (int i = 0; i < st->n; i++)
        if (st->ch[i].finish == XLLM_FINISH_ERROR) {
            srv_reply_error(r, 500, "", NULL, "generation failed: %s", st->ch[i].err[0] ? st->ch[i].err : "error");
            return;
        }
    choices = json_array();
    for (int i = 0; i < st->n; i++) {
        oai_choice *c = &st->ch[i];
        json_t *text = NULL, *ch;
        if (!st->chat && st->echo) {
            xllm_buf b;
            xllm_buf_init(&b, 0);
            xllm_buf_append(&b, st->echo, st->echo_len);
            xllm_buf_append(&b, c->text.data ? c->text.data : "", c->text.len);
            text = json_stringn(b.data ? b.data : "", b.len);
            xllm_buf_free(&b);
        } else {
            text = json_stringn(c->text.data ? c->text.data : "", c->text.len);
        }
        if (!text)
            text = json_string("");
        if (st->chat && srv_tools_active(&st->tools)) {
            json_t *content, *calls = answer_calls(st, c, &content), *msg;
            json_decref(text);
            msg = json_pack("{s:s, s:o, s:n}", "role", "assistant", "content", content, "refusal");
            if (calls)
                json_object_set_new(msg, "tool_calls", tool_calls_json(calls, 0));
            ch = json_pack("{s:i, s:o, s:O?, s:s}", "index", i, "message", msg, "logprobs",
                           c->lp ? c->lp : json_null(), "finish_reason", calls ? "tool_calls" : finish_name(c->finish));
            json_decref(calls);
        } else if (st->chat)
            ch = json_pack("{s:i, s:{s:s, s:o, s:n}, s:O?, s:s}", "index", i, "message", "role", "assistant",
                           "content", text, "refusal", "logprobs", c->lp ? c->lp : json_null(), "finish_reason",
                           finish_name(c->finish));
        else
            ch = json_pack("{s:i, s:o, s:O?, s:s}", "index", i, "text", text, "logprobs",
                           c->lp ? c->lp : json_null(), "finish_reason", finish_name(c->finish));
        json_array_append_new(choices, ch);
    }
    body = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o}", "id", st->id, "object",
                     st->chat ? "chat.completion" : "text_completion", "created", (json_int_t)st->created, "model",
                     st->model, "system_fingerprint", "xllm-" XLLM_VERSION, "choices", choices, "usage",
                     usage_json(st));
    srv_reply_json(r, 200, body);
}

static const srv_gen_ops oai_ops = {"text/event-stream", oai_begin, oai_event, oai_end};

/* Decode, render, start: shared by chat and completions. */
static void oai_generate(srv_req *r, int chat)
{
    srv_gen_req g;
    srv_err e;
    json_t *root = srv_req_json(r), *msgs = NULL;
    srv_model *md;
    oai_state *st;
    srv_tools tools;
    memset(&tools, 0, sizeof tools);
    srv_gen_req_init(&g, SRV_API_OPENAI);
    if (!root)
        return;
    if (srv_decode_model(root, &g, &e) || srv_decode_openai(root, chat, &g, &e))
        goto fail;
    if (!(md = srv_req_model(r, g.model)))
        goto out;
    if (srv_layer_params_apply(srv_model_params_json(md), SRV_LAYER_OPENAI, root, &g, &e))
        goto fail;
    if (chat) {
        if (srv_decode_messages(json_object_get(root, "messages"), NULL, "messages", &msgs, &e))
            goto fail;
        srv_layer_system_apply(srv_model_system(md), msgs);
        if (srv_tools_begin(md, root, SRV_TS_CHAT, msgs, &tools, &g, &e))
            goto fail;
    } else {
        json_t *p = json_object_get(root, "prompt");
        const xllm_tokenizer *tok = NULL;
        if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)))
            p = json_array_get(p, 0);
        if (json_is_string(p)) {
            const char *s = json_string_value(p);
            size_t i = 0;
            while (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')
                i++;
            if (!s[i]) {
                srv_err_set(&e, 400, "prompt", NULL, "'prompt' is empty or whitespace only");
                goto fail;
            }
            srv_gen_req_set_prompt(&g, xllm_strndup(s, json_string_length(p)), json_string_length(p));
        } else if (json_is_array(p) && json_array_size(p) > 0 && json_is_integer(json_array_get(p, 0))) {
            if (srv_model_tokenizer(md, &tok)) {
                srv_err_set(&e, 500, "model", NULL, "%s", xllm_last_error());
                goto fail;
            }
            if (srv_decode_token_array(p, "prompt", xllm_tokenizer_n_vocab(tok), &g.tokens, &g.n_tokens, &e))
                goto fail;
            g.add_special = 0;
        } else if (!p || json_is_null(p)) {
            srv_err_set(&e, 400, "prompt", NULL, "'prompt' is required");
            goto fail;
        } else {
            srv_err_set(&e, 400, "prompt", NULL,
                        "'prompt' must be a string or a list of token ids (a batch of several prompts is not supported)");
            goto fail;
        }
        if (g.n_tokens == 0 && !g.prompt) {
            srv_err_set(&e, 400, "prompt", NULL, "'prompt' is empty");
            goto fail;
        }
    }
    if (!(st = oai_new(chat, &g))) {
        srv_err_set(&e, 500, "", NULL, "out of memory");
        goto fail;
    }
    st->tools = tools;
    tools.tools = NULL;
    for (int i = 0; g.stream && srv_tools_active(&st->tools) && i < st->n; i++) {
        st->ch[i].st = st;
        st->ch[i].ts_on = 1;
        srv_tool_stream_init(&st->ch[i].ts, &st->tools, chat_tool_sink, &st->ch[i]);
    }
    if (g.echo) {
        if (g.prompt) {
            st->echo = xllm_strndup(g.prompt, g.prompt_len);
            st->echo_len = g.prompt_len;
        } else {
            const xllm_tokenizer *tok = NULL;
            size_t n = 0;
            if (!srv_model_tokenizer(md, &tok))
                xllm_detokenize(tok, g.tokens, (size_t)g.n_tokens, 1, &st->echo, &n);
            st->echo_len = n;
        }
        st->echo_lp = g.params.prompt_logprobs;
    }
    json_decref(root);
    json_decref(msgs);
    srv_gen_start(r, md, &g, &oai_ops, st, oai_free);
    return;
fail:
    srv_reply_err(r, &e);
out:
    json_decref(root);
    json_decref(msgs);
    srv_tools_free(&tools);
    srv_gen_req_free(&g);
}

void srv_openai_chat(srv_req *r) { oai_generate(r, 1); }
void srv_openai_completions(srv_req *r) { oai_generate(r, 0); }

static json_t *model_obj(srv_model *md)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "id", srv_model_name(md), "object", "model", "created",
                     (json_int_t)srv_model_mtime(md), "owned_by", "library");
}

void srv_openai_models(srv_req *r)
{
    srv_models *m = srv_get_models(srv_req_server(r));
    json_t *data = json_array();
    srv_models_sync_store(m);
    for (int i = 0; i < srv_models_count(m); i++)
        json_array_append_new(data, model_obj(srv_models_at(m, i)));
    srv_reply_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void srv_openai_model(srv_req *r)
{
    const char *id = srv_req_path(r) + strlen("/v1/models/");
    srv_model *md = srv_req_model(r, id);
    if (md)
        srv_reply_json(r, 200, model_obj(md));
}
