/* api_xllm.c - xllm's own /v0/health and /v0/system, the llama.cpp-style
 * utilities POST /tokenize, /detokenize, /apply-template (a vocabulary-only
 * GGUF is enough) and GET /openapi.json. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sysinfo.h"
#include "cli/commands.h"
#include "server/http.h"

/* ---- /v0/health (a task: it asks each loaded runner for its stats) ---- */

typedef struct health_job {
    srv *s;
    json_t *body;
} health_job;

static void health_work(void *arg, const srv_task_model *tm)
{
    health_job *h = arg;
    srv_models *m = srv_get_models(h->s);
    json_t *models = json_array();
    (void)tm;
    int loading = 0;
    for (int i = 0; i < srv_models_count(m); i++) {
        srv_model *md = srv_models_at(m, i);
        srv_model_state st;
        json_t *o;
        srv_model_state_get(md, &st);
        o = json_pack("{s:s, s:s, s:i}", "name", srv_model_name(md), "state",
                      st.loaded ? "loaded" : st.loading ? "loading" : "unloaded", "active_requests", st.active);
        if (st.loading) {
            loading = 1;
            json_object_set_new(o, "progress", json_real(st.load_progress));
        }
        if (st.loaded) {
            xllm_sched_stats ss;
            json_object_set_new(o, "engine", json_string(st.engine));
            json_object_set_new(o, "pid", json_integer(st.pid));
            json_object_set_new(o, "context_length", json_integer(st.n_ctx));
            json_object_set_new(o, "memory_bytes", json_integer((json_int_t)(st.weight_bytes + st.kv_bytes)));
            if (srv_model_stats(md, &ss) == 0)
                json_object_set_new(o, "scheduler",
                                    json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:f}", "running", ss.running,
                                              "waiting", ss.waiting, "blocks_total", ss.blocks_total, "blocks_used",
                                              ss.blocks_used, "cached_tokens", (json_int_t)ss.cached_tokens,
                                              "generated_tokens", (json_int_t)ss.generated_tokens, "requests_done",
                                              (json_int_t)ss.requests_done, "decode_tokens_per_s",
                                              ss.decode_tokens_per_s));
        }
        json_array_append_new(models, o);
    }
    h->body = json_pack("{s:s, s:o, s:[{s:s, s:I, s:I}]}", "status", loading ? "loading" : "ok", "models", models,
                        "devices", "type", "cpu", "memory_total", (json_int_t)xllm_total_ram_bytes(), "memory_free",
                        (json_int_t)srv_mem_available());
}

static void health_finish(srv_req *r, void *arg)
{
    health_job *h = arg;
    srv_reply_json(r, 200, h->body);
    h->body = NULL;
}

static void health_free(void *arg)
{
    health_job *h = arg;
    json_decref(h->body);
    xllm_free(h);
}

void srv_xllm_health(srv_req *r)
{
    health_job *h = xllm_calloc(1, sizeof *h);
    if (!h) {
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    h->s = srv_req_server(r);
    srv_task_start(r, NULL, 0, health_work, health_finish, h, health_free);
}

void srv_xllm_system(srv_req *r)
{
    json_t *o = json_pack("{s:s, s:{s:s, s:i}, s:{s:I, s:I}, s:[], s:{s:[s, s, s, s]}, s:[s], s:I}", "version",
                          XLLM_VERSION, "cpu", "name", xllm_cpu_name(), "cores", xllm_online_cpus(), "ram", "total",
                          (json_int_t)xllm_total_ram_bytes(), "available", (json_int_t)srv_mem_available(), "gpus",
                          "build", "features", "http", "gzip", "sse", "cpu-engine", "engines", "cpu", "rss_bytes",
                          (json_int_t)xllm_rss_bytes());
    srv_reply_json(r, 200, o);
}

/* The model of a utility request: "model" when given, else the only one. */
static srv_model *util_model(srv_req *r, json_t *root)
{
    srv_models *m = srv_get_models(srv_req_server(r));
    json_t *name = json_object_get(root, "model");
    if (json_is_string(name))
        return srv_req_model(r, json_string_value(name));
    if (name && !json_is_null(name)) {
        srv_reply_error(r, 400, "model", NULL, "'model' must be a string");
        return NULL;
    }
    if (srv_models_count(m) == 1)
        return srv_models_at(m, 0);
    srv_reply_error(r, 400, "model", NULL, "'model' is required (this server serves %d models)", srv_models_count(m));
    return NULL;
}

void srv_xllm_tokenize(srv_req *r)
{
    json_t *root = srv_req_json(r), *out;
    srv_model *md;
    const xllm_tokenizer *tok;
    const char *content = NULL;
    int add_special = 0, parse_special = 1, pieces = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    srv_err e;
    if (!root)
        return;
    if (!(md = util_model(r, root)))
        goto out;
    if (srv_get_str(root, "content", "content", &content, &e) ||
        srv_get_bool(root, "add_special", "add_special", &add_special, &e) ||
        srv_get_bool(root, "parse_special", "parse_special", &parse_special, &e) ||
        srv_get_bool(root, "with_pieces", "with_pieces", &pieces, &e)) {
        srv_reply_err(r, &e);
        goto out;
    }
    if (!content) {
        srv_reply_error(r, 400, "content", NULL, "'content' (the text to tokenize) is required");
        goto out;
    }
    if (srv_model_tokenizer(md, &tok)) {
        srv_reply_error(r, 500, "model", NULL, "%s", xllm_last_error());
        goto out;
    }
    if (xllm_tokenize(tok, content, strlen(content), add_special, parse_special, &ids, &n)) {
        srv_reply_error(r, 400, "content", NULL, "%s", xllm_last_error());
        goto out;
    }
    out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, pieces ? json_pack("{s:i, s:o}", "id", ids[i], "piece", srv_token_json(tok, ids[i]))
                                          : json_integer(ids[i]));
    xllm_free(ids);
    srv_reply_json(r, 200, json_pack("{s:o}", "tokens", out));
out:
    json_decref(root);
}

void srv_xllm_detokenize(srv_req *r)
{
    json_t *root = srv_req_json(r), *s;
    srv_model *md;
    const xllm_tokenizer *tok;
    int32_t *ids = NULL, n = 0;
    char *text = NULL;
    size_t len = 0;
    srv_err e;
    if (!root)
        return;
    if (!(md = util_model(r, root)))
        goto out;
    if (srv_model_tokenizer(md, &tok)) {
        srv_reply_error(r, 500, "model", NULL, "%s", xllm_last_error());
        goto out;
    }
    if (srv_decode_token_array(json_object_get(root, "tokens"), "tokens", xllm_tokenizer_n_vocab(tok), &ids, &n, &e)) {
        srv_reply_err(r, &e);
        goto out;
    }
    if (xllm_detokenize(tok, ids, (size_t)n, 1, &text, &len)) {
        srv_reply_error(r, 400, "tokens", NULL, "%s", xllm_last_error());
        goto out;
    }
    s = json_stringn(text, len);
    srv_reply_json(r, 200, json_pack("{s:o}", "content", s ? s : json_string("")));
out:
    xllm_free(ids);
    xllm_free(text);
    json_decref(root);
}

void srv_xllm_apply_template(srv_req *r)
{
    json_t *root = srv_req_json(r), *msgs = NULL, *s;
    srv_model *md;
    srv_err e;
    char *prompt = NULL;
    size_t len = 0;
    int32_t add_special;
    if (!root)
        return;
    if (!(md = util_model(r, root)))
        goto out;
    if (srv_decode_messages(json_object_get(root, "messages"), NULL, "messages", &msgs, &e) ||
        srv_render_chat(md, msgs, 1, &prompt, &len, &add_special, &e)) {
        srv_reply_err(r, &e);
        goto out;
    }
    s = json_stringn(prompt, len);
    srv_reply_json(r, 200, json_pack("{s:o}", "prompt", s ? s : json_string("")));
out:
    xllm_free(prompt);
    json_decref(msgs);
    json_decref(root);
}

/* ---- /openapi.json ---- */

static const struct {
    const char *path, *method, *summary;
} api_doc[] = {
    {"/v1/chat/completions", "post", "OpenAI chat completions (SSE when stream is true)"},
    {"/v1/completions", "post", "OpenAI text completions (echo, logprobs)"},
    {"/v1/embeddings", "post", "OpenAI embeddings (float or base64)"},
    {"/v1/models", "get", "OpenAI model list"},
    {"/v1/models/{model}", "get", "OpenAI model object"},
    {"/v1/responses", "post", "OpenAI Responses API (streaming events, previous_response_id)"},
    {"/v1/messages", "post", "Anthropic Messages API (SSE when stream is true)"},
    {"/v1/messages/count_tokens", "post", "Anthropic token count of a messages request"},
    {"/api/generate", "post", "Ollama generate (NDJSON stream by default)"},
    {"/api/chat", "post", "Ollama chat (NDJSON stream by default)"},
    {"/api/embed", "post", "Ollama embeddings of one or more inputs"},
    {"/api/embeddings", "post", "Ollama embedding of a prompt (older endpoint)"},
    {"/api/tags", "get", "Ollama list of local models"},
    {"/api/show", "post", "Ollama model details, template and metadata"},
    {"/api/ps", "get", "Ollama loaded models"},
    {"/api/version", "get", "server version"},
    {"/v0/health", "get", "health: ok or loading, models, scheduler state, devices"},
    {"/v0/system", "get", "CPU, RAM, GPUs, version, build features"},
    {"/tokenize", "post", "llama.cpp-style tokenize {content} -> {tokens}"},
    {"/detokenize", "post", "llama.cpp-style detokenize {tokens} -> {content}"},
    {"/apply-template", "post", "render messages with the model's chat template -> {prompt}"},
};

void srv_xllm_openapi(srv_req *r)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < sizeof api_doc / sizeof api_doc[0]; i++) {
        json_t *op = json_pack("{s:s, s:{s:{s:s}}}", "summary", api_doc[i].summary, "responses", "200", "description",
                               "success; errors use the API family's error shape");
        json_t *item = json_object_get(paths, api_doc[i].path);
        if (!strcmp(api_doc[i].method, "post"))
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:{s:s}}}}", "required", 1, "content", "application/json",
                                          "schema", "type", "object"));
        if (!item) {
            item = json_object();
            json_object_set_new(paths, api_doc[i].path, item);
        }
        json_object_set_new(item, api_doc[i].method, op);
    }
    srv_reply_json(r, 200,
                   json_pack("{s:s, s:{s:s, s:s}, s:o}", "openapi", "3.1.0", "info", "title", "xllm", "version",
                             XLLM_VERSION, "paths", paths));
}
