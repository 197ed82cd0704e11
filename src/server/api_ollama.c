/* api_ollama.c - Ollama's /api/generate, /api/chat (NDJSON streams, final
 * statistics in nanoseconds, context), /api/tags, /api/show, /api/ps,
 * /api/version and the "Ollama is running" root. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/sysinfo.h"
#include "cli/commands.h"
#include "server/http.h"
#include "server/tools.h"

typedef struct oll_state {
    int chat;
    char model[256];
    xllm_buf text;
    int32_t *ctx;           /* generate: prompt tokens then generated ones */
    int32_t n_ctx, cap_ctx;
    srv_final final;
    char err[512];
    int have_final;
    srv_tools tools;        /* chat with tools: parsed for calls (as they come when streamed) */
    srv_tool_stream ts;
    int ts_on;
    xllm_buf *out;          /* the stream being written while text is fed */
} oll_state;

static void oll_free(void *p)
{
    oll_state *st = p;
    if (!st)
        return;
    xllm_buf_free(&st->text);
    xllm_free(st->ctx);
    if (st->ts_on)
        srv_tool_stream_free(&st->ts);
    srv_tools_free(&st->tools);
    xllm_free(st);
}

static void ctx_push(oll_state *st, int32_t id)
{
    if (st->n_ctx == st->cap_ctx) {
        int32_t cap = st->cap_ctx ? st->cap_ctx * 2 : 256;
        int32_t *n = xllm_realloc(st->ctx, (size_t)cap * sizeof *n);
        if (!n)
            return;
        st->ctx = n;
        st->cap_ctx = cap;
    }
    st->ctx[st->n_ctx++] = id;
}

static json_t *oll_base(const oll_state *st)
{
    char ts[40];
    srv_rfc3339(srv_wall_now(), ts);
    return json_pack("{s:s, s:s}", "model", st->model, "created_at", ts);
}

static void add_content(json_t *o, const oll_state *st, const char *text, size_t len)
{
    json_t *s = json_stringn(text, len);
    if (!s)
        s = json_string("");
    if (st->chat)
        json_object_set_new(o, "message", json_pack("{s:s, s:o}", "role", "assistant", "content", s));
    else
        json_object_set_new(o, "response", s);
}

/* Ollama's message.tool_calls: [{function: {name, arguments (object)}}]. */
static void add_tool_calls(json_t *o, const oll_state *st, const char *text, size_t len)
{
    size_t i;
    json_t *content = NULL, *calls = srv_tools_parse(&st->tools, text, len, "call_", &content), *c, *list;
    add_content(o, st, json_string_value(content), json_string_length(content));
    json_decref(content);
    if (!calls)
        return;
    list = json_array();
    json_array_foreach(calls, i, c)
        json_array_append_new(list, json_pack("{s:{s:O,s:O}}", "function", "name", json_object_get(c, "name"),
                                              "arguments", json_object_get(c, "arguments")));
    json_object_set_new(json_object_get(o, "message"), "tool_calls", list);
    json_decref(calls);
}

/* Streamed chat with tools: content as it comes, each call in a chunk of its
 * own once complete (as Ollama streams them). */
static void oll_tool_sink(void *ctx, const srv_tool_delta *d)
{
    oll_state *st = ctx;
    json_t *o, *args;
    if (d->kind == SRV_TD_CONTENT) {
        o = oll_base(st);
        add_content(o, st, d->text, d->len);
    } else if (d->kind == SRV_TD_CALL_END) {
        args = json_loadb(d->text, d->len, 0, NULL);
        if (!json_is_object(args)) { /* cut off (num_predict): no call */
            json_decref(args);
            return;
        }
        o = oll_base(st);
        add_content(o, st, "", 0);
        json_object_set_new(json_object_get(o, "message"), "tool_calls",
                            json_pack("[{s:{s:s, s:o}}]", "function", "name", d->name, "arguments", args));
    } else {
        return;
    }
    json_object_set_new(o, "done", json_false());
    srv_ndjson(st->out, o);
}

static json_t *final_json(srv_req *r, const oll_state *st, const char *text, size_t len)
{
    const srv_final *f = &st->final;
    json_t *o = oll_base(st);
    uint64_t total = (uint64_t)((xllm_now() - srv_req_start(r)) * 1e9);
    if (srv_tools_active(&st->tools))
        add_tool_calls(o, st, text, len);
    else
        add_content(o, st, text, len);
    json_object_set_new(o, "done", json_true());
    json_object_set_new(o, "done_reason", json_string(f->finish == XLLM_FINISH_LENGTH ? "length" : "stop"));
    if (!st->chat) {
        json_t *c = json_array();
        for (int32_t i = 0; i < st->n_ctx; i++)
            json_array_append_new(c, json_integer(st->ctx[i]));
        json_object_set_new(o, "context", c);
    }
    json_object_set_new(o, "total_duration", json_integer((json_int_t)total));
    json_object_set_new(o, "load_duration", json_integer((json_int_t)srv_req_load_ns(r)));
    json_object_set_new(o, "prompt_eval_count", json_integer(f->n_prompt - f->n_cached));
    json_object_set_new(o, "prompt_eval_duration", json_integer((json_int_t)(f->t.prefill_ns + f->t.queue_ns)));
    json_object_set_new(o, "eval_count", json_integer(f->n_generated));
    json_object_set_new(o, "eval_duration", json_integer((json_int_t)(f->t.decode_ns ? f->t.decode_ns : 1)));
    return o;
}

static void oll_event(srv_req *r, const srv_event *ev, xllm_buf *out)
{
    oll_state *st = srv_req_api_state(r);
    if (ev->type == XLLM_EVENT_FINAL) {
        st->final = srv_final_of(ev);
        st->have_final = 1;
        if (ev->error)
            snprintf(st->err, sizeof st->err, "%s", ev->error);
        if (out) {
            if (ev->finish == XLLM_FINISH_ERROR) {
                srv_ndjson(out, json_pack("{s:s}", "error", st->err[0] ? st->err : "generation failed"));
            } else if (st->ts_on) { /* what the parser still held, then done */
                st->out = out;
                srv_tool_stream_finish(&st->ts);
                srv_ndjson(out, final_json(r, st, "", 0));
            } else {
                srv_ndjson(out, final_json(r, st, "", 0));
            }
        }
        return;
    }
    if (ev->is_prompt)
        return;
    if (!st->chat)
        ctx_push(st, ev->token);
    if (out && st->ts_on) {
        st->out = out;
        srv_tool_stream_feed(&st->ts, ev->text, ev->text_len);
        return;
    }
    if (!out || srv_tools_active(&st->tools)) {
        xllm_buf_append(&st->text, ev->text, ev->text_len);
        return;
    }
    if (ev->text_len == 0)
        return;
    {
        json_t *o = oll_base(st);
        add_content(o, st, ev->text, ev->text_len);
        json_object_set_new(o, "done", json_false());
        srv_ndjson(out, o);
    }
}

static void oll_end(srv_req *r, xllm_buf *out)
{
    oll_state *st = srv_req_api_state(r);
    if (out)
        return;
    if (st->have_final && st->final.finish == XLLM_FINISH_ERROR) {
        srv_reply_error(r, 500, "", NULL, "%s", st->err[0] ? st->err : "generation failed");
        return;
    }
    srv_reply_json(r, 200, final_json(r, st, st->text.data ? st->text.data : "", st->text.len));
}

static const srv_gen_ops oll_ops = {"application/x-ndjson", NULL, oll_event, oll_end};

/* A request with no prompt loads (or with keep_alive 0 unloads) the model. */
typedef struct oll_load {
    srv_model *md;
    double keep_alive_s;
    int chat, unload, failed, http;
    char err[640];
    char model[256];
} oll_load;

/* Pool worker: a load is the task's acquire (with keep_alive) and nothing else. */
static void load_work(void *arg, const srv_task_model *tm)
{
    oll_load *l = arg;
    (void)tm;
    if (l->unload)
        srv_model_unload(l->md);
}

static void load_finish(srv_req *r, void *arg)
{
    oll_load *l = arg;
    char ts[40];
    json_t *o;
    if (l->failed) {
        srv_reply_error(r, l->http, "model", NULL, "%s", l->err);
        return;
    }
    srv_rfc3339(srv_wall_now(), ts);
    o = json_pack("{s:s, s:s, s:b, s:s}", "model", l->model, "created_at", ts, "done", 1, "done_reason",
                  l->unload ? "unload" : "load");
    if (l->chat)
        json_object_set_new(o, "message", json_pack("{s:s, s:s}", "role", "assistant", "content", ""));
    else
        json_object_set_new(o, "response", json_string(""));
    srv_reply_json(r, 200, o);
}

static void start_load(srv_req *r, srv_model *md, const srv_gen_req *g, int chat)
{
    oll_load *l = xllm_calloc(1, sizeof *l);
    if (!l) {
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    l->md = md;
    l->keep_alive_s = g->keep_alive_s;
    l->chat = chat;
    l->unload = g->keep_alive_s == 0;
    snprintf(l->model, sizeof l->model, "%s", srv_model_name(md));
    srv_task_start(r, l->unload ? NULL : md, l->keep_alive_s, load_work, load_finish, l, xllm_free);
}

/* Ollama's `template` override: the Go-template engine is another branch;
 * the common {{ .System }} / {{ .Prompt }} only form is substituted here. */
static int apply_template(const char *tmpl, const char *system, const char *prompt, xllm_buf *b, srv_err *e)
{
    const char *p = tmpl;
    while (*p) {
        const char *o = strstr(p, "{{");
        const char *c;
        char name[32];
        size_t n;
        if (!o) {
            xllm_buf_puts(b, p);
            break;
        }
        xllm_buf_append(b, p, (size_t)(o - p));
        c = strstr(o, "}}");
        if (!c)
            return srv_err_set(e, 400, "template", NULL, "'template': unclosed '{{'");
        n = 0;
        for (const char *q = o + 2; q < c && n + 1 < sizeof name; q++)
            if (*q != ' ' && *q != '-')
                name[n++] = *q;
        name[n] = '\0';
        if (!strcmp(name, ".Prompt"))
            xllm_buf_puts(b, prompt);
        else if (!strcmp(name, ".System"))
            xllm_buf_puts(b, system ? system : "");
        else
            return srv_err_set(e, 400, "template", NULL,
                               "'template': only {{ .System }} and {{ .Prompt }} are supported in a request's template "
                               "override (found '{{%.*s}}')",
                               (int)(c - o - 2), o + 2);
        p = c + 2;
    }
    return 0;
}

static int is_blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

/* A store model's params layer as the request's default options: decode the
 * request again with options = params overridden by the request's own (the
 * first decode validated the request as sent). 0 or -1 + e. */
static int apply_params(srv_model *md, json_t *root, srv_gen_req *g, srv_err *e)
{
    const char *pj = srv_model_params_json(md);
    json_t *params, *opts;
    int rc;
    if (!pj || !pj[0])
        return 0;
    params = json_loads(pj, 0, NULL);
    if (!json_is_object(params)) {
        json_decref(params);
        return 0;
    }
    opts = json_object_get(root, "options");
    if (json_is_object(opts))
        json_object_update(params, opts);
    json_object_set_new(root, "options", params);
    srv_gen_req_free(g);
    srv_gen_req_init(g, SRV_API_OLLAMA);
    rc = srv_decode_model(root, g, e) || srv_decode_ollama(root, g, e) ? -1 : 0;
    if (rc)
        e->status = 500; /* the model's params layer is at fault, not the request */
    return rc;
}

/* The system layer when the conversation has no system message. */
static void apply_system(srv_model *md, json_t *msgs)
{
    const char *sys = srv_model_system(md);
    size_t i;
    json_t *m;
    if (!sys || !sys[0] || !json_is_array(msgs))
        return;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && !strcmp(role, "system"))
            return;
    }
    json_array_insert_new(msgs, 0, json_pack("{s:s, s:s}", "role", "system", "content", sys));
}

void srv_ollama_generate(srv_req *r)
{
    json_t *root = srv_req_json(r), *ctxj;
    srv_gen_req g;
    srv_err e;
    srv_model *md;
    const char *prompt = "", *system = NULL, *tmpl = NULL, *suffix = NULL;
    int raw = 0;
    const xllm_tokenizer *tok;
    oll_state *st = NULL;
    char *text = NULL;
    size_t len = 0;
    int32_t add_special = 1;
    srv_gen_req_init(&g, SRV_API_OLLAMA);
    if (!root)
        return;
    if (srv_decode_model(root, &g, &e) || srv_decode_ollama(root, &g, &e) ||
        srv_get_str(root, "prompt", "prompt", &prompt, &e) || srv_get_str(root, "system", "system", &system, &e) ||
        srv_get_str(root, "template", "template", &tmpl, &e) || srv_get_str(root, "suffix", "suffix", &suffix, &e) ||
        srv_get_bool(root, "raw", "raw", &raw, &e))
        goto fail;
    if (!prompt)
        prompt = "";
    if (suffix && suffix[0]) {
        srv_err_set(&e, 400, "suffix", NULL, "'suffix' (fill-in-the-middle) is not supported by this model");
        goto fail;
    }
    if (!(md = srv_req_model(r, g.model)))
        goto out;
    if (apply_params(md, root, &g, &e))
        goto fail;
    if (!system)
        system = srv_model_system(md);
    ctxj = json_object_get(root, "context");
    if (is_blank(prompt) && !json_array_size(ctxj)) {
        start_load(r, md, &g, 0);
        goto out;
    }
    if (srv_model_tokenizer(md, &tok)) {
        srv_err_set(&e, 500, "model", NULL, "%s", xllm_last_error());
        goto fail;
    }
    if (!tmpl && !raw && srv_model_from_store(md)) {
        /* a template layer the Go engine cannot parse: the {{ .System }} /
         * {{ .Prompt }} substitution of a request's template */
        const char *terr = NULL;
        const struct xllm_gguf *meta;
        if (!srv_model_template(md, &terr, &meta) && terr)
            tmpl = srv_model_chat_template(md);
    }
    if (raw) {
        text = xllm_strdup(prompt);
        len = strlen(prompt);
    } else if (tmpl && tmpl[0]) {
        xllm_buf b;
        xllm_buf_init(&b, XLLM_SERVER_MAX_BODY * 2u);
        if (apply_template(tmpl, system, prompt, &b, &e)) {
            xllm_buf_free(&b);
            goto fail;
        }
        len = b.len;
        text = b.data ? xllm_buf_take(&b) : xllm_strdup("");
    } else {
        json_t *msgs = json_array();
        if (system && system[0])
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system));
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", prompt));
        if (srv_render_chat(md, msgs, 1, &text, &len, &add_special, &e)) {
            json_decref(msgs);
            goto fail;
        }
        json_decref(msgs);
    }
    if (!(st = xllm_calloc(1, sizeof *st))) {
        xllm_free(text);
        srv_err_set(&e, 500, "", NULL, "out of memory");
        goto fail;
    }
    xllm_buf_init(&st->text, 0);
    snprintf(st->model, sizeof st->model, "%s", g.model);
    /* The prompt as ids: the context of earlier turns, then this text. */
    {
        int32_t *prev = NULL, n_prev = 0, *ids = NULL;
        size_t n_ids = 0;
        if (json_array_size(ctxj) &&
            srv_decode_token_array(ctxj, "context", xllm_tokenizer_n_vocab(tok), &prev, &n_prev, &e)) {
            xllm_free(text);
            goto fail;
        }
        if (xllm_tokenize(tok, text, len, n_prev ? 0 : add_special, 1, &ids, &n_ids)) {
            xllm_free(prev);
            xllm_free(text);
            srv_err_set(&e, 400, "prompt", NULL, "tokenizing the prompt failed: %s", xllm_last_error());
            goto fail;
        }
        xllm_free(text);
        for (int32_t i = 0; i < n_prev; i++)
            ctx_push(st, prev[i]);
        for (size_t i = 0; i < n_ids; i++)
            ctx_push(st, ids[i]);
        xllm_free(prev);
        xllm_free(ids);
        if (st->n_ctx == 0) {
            srv_err_set(&e, 400, "prompt", NULL, "'prompt' is empty");
            goto fail;
        }
        g.tokens = xllm_malloc((size_t)st->n_ctx * sizeof *g.tokens);
        if (!g.tokens) {
            srv_err_set(&e, 500, "", NULL, "out of memory");
            goto fail;
        }
        memcpy(g.tokens, st->ctx, (size_t)st->n_ctx * sizeof *g.tokens);
        g.n_tokens = st->n_ctx;
    }
    json_decref(root);
    srv_gen_start(r, md, &g, &oll_ops, st, oll_free);
    return;
fail:
    oll_free(st);
    srv_reply_err(r, &e);
out:
    json_decref(root);
    srv_gen_req_free(&g);
}

void srv_ollama_chat(srv_req *r)
{
    json_t *root = srv_req_json(r), *msgs = NULL, *in;
    srv_gen_req g;
    srv_err e;
    srv_model *md;
    oll_state *st;
    srv_tools tools;
    memset(&tools, 0, sizeof tools);
    srv_gen_req_init(&g, SRV_API_OLLAMA);
    if (!root)
        return;
    if (srv_decode_model(root, &g, &e) || srv_decode_ollama(root, &g, &e))
        goto fail;
    if (!(md = srv_req_model(r, g.model)))
        goto out;
    if (apply_params(md, root, &g, &e))
        goto fail;
    in = json_object_get(root, "messages");
    if (!in || json_is_null(in) || (json_is_array(in) && json_array_size(in) == 0)) {
        start_load(r, md, &g, 1);
        goto out;
    }
    if (srv_decode_messages(in, NULL, "messages", &msgs, &e))
        goto fail;
    apply_system(md, msgs);
    if (srv_tools_begin(md, root, SRV_TS_OLLAMA, msgs, &tools, &g, &e))
        goto fail;
    if (!(st = xllm_calloc(1, sizeof *st))) {
        srv_err_set(&e, 500, "", NULL, "out of memory");
        goto fail;
    }
    st->chat = 1;
    st->tools = tools;
    tools.tools = NULL;
    if (g.stream && srv_tools_active(&st->tools)) {
        st->ts_on = 1;
        srv_tool_stream_init(&st->ts, &st->tools, oll_tool_sink, st);
    }
    xllm_buf_init(&st->text, 0);
    snprintf(st->model, sizeof st->model, "%s", g.model);
    json_decref(root);
    json_decref(msgs);
    srv_gen_start(r, md, &g, &oll_ops, st, oll_free);
    return;
fail:
    srv_reply_err(r, &e);
out:
    json_decref(root);
    json_decref(msgs);
    srv_tools_free(&tools);
    srv_gen_req_free(&g);
}

/* A stable digest-like id of a served file (path, size, mtime), 64 hex. */
static void model_digest(srv_model *md, char out[72])
{
    uint64_t h[4] = {1469598103934665603ull, 1099511628211ull, 0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full};
    const char *p = srv_model_path(md);
    if (srv_model_from_store(md) && !strncmp(srv_model_digest(md), "sha256:", 7)) {
        snprintf(out, 72, "%s", srv_model_digest(md) + 7); /* Ollama lists the manifest's hex */
        return;
    }
    for (size_t i = 0; p[i]; i++)
        for (int k = 0; k < 4; k++)
            h[k] = (h[k] ^ (unsigned char)p[i]) * 0x100000001b3ull + (uint64_t)k;
    h[0] ^= srv_model_file_bytes(md);
    h[1] ^= (uint64_t)srv_model_mtime(md);
    snprintf(out, 72, "%016llx%016llx%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1],
             (unsigned long long)h[2], (unsigned long long)h[3]);
}

static json_t *tag_json(srv_model *md)
{
    char ts[40], dg[72];
    srv_rfc3339((double)srv_model_mtime(md), ts);
    model_digest(md, dg);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "name", srv_model_name(md), "model", srv_model_name(md),
                     "modified_at", ts, "size", (json_int_t)srv_model_file_bytes(md), "digest", dg, "details",
                     srv_model_details_json(md));
}

void srv_ollama_tags(srv_req *r)
{
    srv_models *m = srv_get_models(srv_req_server(r));
    json_t *a = json_array();
    int n;
    srv_model *v[XLLM_SERVER_MAX_MODELS];
    srv_models_sync_store(m);
    n = srv_models_count(m);
    for (int i = 0; i < n && i < XLLM_SERVER_MAX_MODELS; i++)
        v[i] = srv_models_at(m, i);
    for (int i = 1; i < n; i++) /* newest first, as Ollama lists */
        for (int k = i; k > 0 && v[k] && v[k - 1] && srv_model_mtime(v[k]) > srv_model_mtime(v[k - 1]); k--) {
            srv_model *t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    for (int i = 0; i < n; i++)
        if (v[i])
            json_array_append_new(a, tag_json(v[i]));
    srv_reply_json(r, 200, json_pack("{s:o}", "models", a));
}

void srv_ollama_show(srv_req *r)
{
    json_t *root = srv_req_json(r), *o;
    const char *name = NULL;
    srv_err e;
    srv_model *md;
    const char *tmpl;
    char ts[40];
    xllm_buf mf;
    if (!root)
        return;
    if (srv_get_str(root, "model", "model", &name, &e) || (!name && srv_get_str(root, "name", "name", &name, &e))) {
        json_decref(root);
        srv_reply_err(r, &e);
        return;
    }
    if (!name || !name[0]) {
        json_decref(root);
        srv_reply_error(r, 400, "model", NULL, "'model' is required");
        return;
    }
    md = srv_models_lookup(srv_get_models(srv_req_server(r)), name);
    if (!md) {
        srv_reply_error(r, 404, "model", "model_not_found", "model '%s' not found", name);
        json_decref(root);
        return;
    }
    json_decref(root);
    tmpl = srv_model_chat_template(md);
    srv_rfc3339((double)srv_model_mtime(md), ts);
    xllm_buf_init(&mf, 0);
    xllm_buf_printf(&mf, "# Modelfile generated by \"xllm show\"\nFROM %s\n", srv_model_path(md));
    if (tmpl)
        xllm_buf_printf(&mf, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl);
    o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:[s], s:s}", "modelfile", mf.data ? mf.data : "", "parameters", "",
                  "template", tmpl ? tmpl : "", "details", srv_model_details_json(md), "model_info",
                  srv_model_info_json(md), "capabilities", "completion", "modified_at", ts);
    xllm_buf_free(&mf);
    if (o && srv_model_from_store(md))
        srv_store_show_fields(md, o);
    srv_reply_json(r, 200, o);
}

void srv_ollama_ps(srv_req *r)
{
    srv_models *m = srv_get_models(srv_req_server(r));
    json_t *a = json_array();
    for (int i = 0; i < srv_models_count(m); i++) {
        srv_model *md = srv_models_at(m, i);
        srv_model_state st;
        char ts[40], dg[72];
        srv_model_state_get(md, &st);
        if (!st.loaded)
            continue;
        if (st.expires_at > 0)
            srv_rfc3339(st.expires_at, ts);
        else
            snprintf(ts, sizeof ts, "2318-01-01T00:00:00.000000Z"); /* Ollama's "Forever" */
        model_digest(md, dg);
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:s, s:o, s:s, s:I, s:i}", "name", srv_model_name(md),
                                           "model", srv_model_name(md), "size",
                                           (json_int_t)(st.weight_bytes + st.kv_bytes), "digest", dg, "details",
                                           srv_model_details_json(md), "expires_at", ts, "size_vram",
                                           (json_int_t)(strcmp(st.engine, "cpu") ? st.weight_bytes + st.kv_bytes : 0),
                                           "context_length", st.n_ctx));
    }
    srv_reply_json(r, 200, json_pack("{s:o}", "models", a));
}

void srv_ollama_version(srv_req *r)
{
    srv_reply_json(r, 200, json_pack("{s:s}", "version", XLLM_VERSION));
}

void srv_ollama_root(srv_req *r)
{
    static const char msg[] = "Ollama is running";
    srv_reply_raw(r, 200, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}
