/* run_chat.c - a conversation of `xllm run` against the server (/api/chat) or
 * an in-process instance (chat template, or plain continuation). */
#include "cli/run_chat.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "cli/api_client.h"
#include "cli/common.h"
#include "cli/measure.h"
#include "server/params.h"
#include "store/modelfile.h"

static volatile sig_atomic_t stop_answer;

void run_chat_interrupt(void)
{
    stop_answer = 1;
    cli_api_interrupt();
}

xllm_status run_chat_open(run_chat *c, const char *model, int n_threads, int n_ctx, int32_t kv_type)
{
    xllm_status st = XLLM_OK;
    memset(c, 0, sizeof *c);
    c->model = xllm_strdup(model);
    c->messages = json_array();
    c->options = json_object();
    c->n_threads = n_threads;
    c->n_ctx = n_ctx;
    c->kv_type = kv_type;
    if (!c->model || !c->messages || !c->options)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "run");
    if (xllm_path_exists(model)) {
        xllm_instance_params ip = xllm_instance_params_default();
        xllm_str src;
        ip.model_path = model;
        ip.n_threads = n_threads;
        ip.n_ctx = n_ctx;
        ip.kv_type = kv_type;
        ip.sched.max_running = 1;
        if ((st = xllm_instance_open(&ip, &c->in)) != XLLM_OK || (st = cli_open_container(model, &c->g)) != XLLM_OK)
            return st;
        if (!c->in->sched)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s is an embedding model; use xllm embed", model);
        if (xllm_chat_template_source(c->g, NULL, &src) == XLLM_OK &&
            (st = xllm_chat_template_new(src.ptr, (size_t)src.len, &c->tmpl)) != XLLM_OK)
            return xllm_fail_wrap(st, "%s: chat template", model);
        xllm_clear_error();
    }
    return XLLM_OK;
}

void run_chat_close(run_chat *c)
{
    xllm_chat_template_free(c->tmpl);
    xllm_gguf_close(c->g);
    xllm_instance_close(c->in);
    json_decref(c->messages);
    json_decref(c->options);
    xllm_free(c->model);
    xllm_free(c->system);
    memset(c, 0, sizeof *c);
}

void run_chat_clear(run_chat *c) { json_array_clear(c->messages); }

xllm_status run_chat_set_option(run_chat *c, const char *name, const char *value)
{
    return xllm_params_set(c->options, name, value);
}

/* The conversation so far, with the system prompt first. */
static json_t *messages_with_system(const run_chat *c)
{
    json_t *m = json_array();
    if (c->system)
        json_array_append_new(m, json_pack("{s:s,s:s}", "role", "system", "content", c->system));
    json_array_extend(m, c->messages);
    return m;
}

/* ---- server ---- */

typedef struct stream_state {
    xllm_buf answer;
    json_t *final;  /* the done:true object */
} stream_state;

static int on_chat_line(void *user, json_t *line)
{
    stream_state *s = user;
    const char *piece = json_string_value(json_object_get(json_object_get(line, "message"), "content"));
    if (piece && *piece) {
        fputs(piece, stdout);
        fflush(stdout);
        xllm_buf_puts(&s->answer, piece);
    }
    if (json_is_true(json_object_get(line, "done")))
        s->final = json_incref(line);
    return 0;
}

static void print_stats(const json_t *f)
{
    double total = (double)json_integer_value(json_object_get(f, "total_duration")) / 1e9;
    double load = (double)json_integer_value(json_object_get(f, "load_duration")) / 1e9;
    json_int_t pc = json_integer_value(json_object_get(f, "prompt_eval_count"));
    double pd = (double)json_integer_value(json_object_get(f, "prompt_eval_duration")) / 1e9;
    json_int_t ec = json_integer_value(json_object_get(f, "eval_count"));
    double ed = (double)json_integer_value(json_object_get(f, "eval_duration")) / 1e9;
    fprintf(stderr, "total duration:       %.6fs\nload duration:        %.6fs\n", total, load);
    fprintf(stderr, "prompt eval count:    %lld token(s)\nprompt eval duration: %.6fs\n", (long long)pc, pd);
    fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", pd > 0 ? pc / pd : 0.0);
    fprintf(stderr, "eval count:           %lld token(s)\neval duration:        %.6fs\n", (long long)ec, ed);
    fprintf(stderr, "eval rate:            %.2f tokens/s\n", ed > 0 ? ec / ed : 0.0);
}

static int on_generate_line(void *user, json_t *line)
{
    json_t *m = json_pack("{s:{s:O}}", "message", "content", json_object_get(line, "response"));
    json_object_set(m, "done", json_object_get(line, "done"));
    if (json_is_true(json_object_get(line, "done")))
        json_object_update(m, line);
    on_chat_line(user, m);
    json_decref(m);
    return 0;
}

/* /api/chat with the history, or /api/generate with raw text (--raw). */
static xllm_status server_turn(run_chat *c, const char *text, xllm_buf *answer, json_t **final)
{
    stream_state s;
    json_t *req = c->raw ? json_pack("{s:s,s:s,s:b,s:b,s:O}", "model", c->model, "prompt", text, "raw", 1, "stream",
                                     1, "options", c->options)
                         : json_pack("{s:s,s:o,s:b,s:O}", "model", c->model, "messages", messages_with_system(c),
                                     "stream", 1, "options", c->options);
    xllm_status st;
    memset(&s, 0, sizeof s);
    xllm_buf_init(&s.answer, 64u << 20);
    st = cli_api_stream(c->raw ? "/api/generate" : "/api/chat", req, c->raw ? on_generate_line : on_chat_line, &s);
    json_decref(req);
    *answer = s.answer;
    *final = s.final;
    return st;
}

/* ---- in-process ---- */

typedef struct local_state {
    xllm_buf *answer;
    xllm_instance *in;
    uint64_t id;
    xllm_gen_event fin;
} local_state;

static void on_local_event(void *user, const xllm_gen_event *ev)
{
    local_state *s = user;
    if (ev->type == XLLM_EVENT_FINAL) {
        s->fin = *ev;
        return;
    }
    if (ev->text_len) {
        fwrite(ev->text, 1, ev->text_len, stdout);
        fflush(stdout);
        xllm_buf_append(s->answer, ev->text, ev->text_len);
    }
    if (stop_answer)
        xllm_sched_cancel(s->in->sched, s->id);
}

/* The request's parameters as the server derives them for /api/chat: Ollama's
 * defaults, then the session's options (/set parameter), every Ollama option
 * name decoded by the same code (server/params.c). */
static xllm_status local_params(const run_chat *c, srv_gen_req *g)
{
    srv_err e;
    json_t *root = json_pack("{s:s,s:O}", "model", c->model, "options", c->options);
    int bad;
    srv_gen_req_init(g, SRV_API_OLLAMA);
    bad = !root || srv_decode_ollama(root, g, &e);
    json_decref(root);
    return bad ? xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s", root ? e.msg : "out of memory") : XLLM_OK;
}

/* The prompt: the chat template over the history, or the user's text alone. */
static xllm_status local_prompt(run_chat *c, const char *text, int32_t **ids, size_t *n)
{
    xllm_buf b;
    json_t *chat;
    xllm_status st;
    if (!c->tmpl || c->raw)
        return xllm_tokenize(c->in->tok, text, strlen(text), 1, 1, ids, n);
    xllm_buf_init(&b, 64u << 20);
    chat = json_pack("{s:o,s:b}", "messages", messages_with_system(c), "add_generation_prompt", 1);
    if ((st = xllm_chat_template_add_special_tokens(c->g, chat)) == XLLM_OK &&
        (st = xllm_chat_template_render(c->tmpl, chat, &b)) == XLLM_OK)
        st = xllm_tokenize(c->in->tok, b.data ? b.data : "", b.len, 0, 1, ids, n);
    json_decref(chat);
    xllm_buf_free(&b);
    return st;
}

static xllm_status local_turn(run_chat *c, const char *text, xllm_buf *answer, json_t **final)
{
    local_state s;
    srv_gen_req g;
    int32_t *ids = NULL;
    size_t n = 0;
    xllm_status st;
    memset(&s, 0, sizeof s);
    xllm_buf_init(answer, 64u << 20);
    s.answer = answer;
    s.in = c->in;
    *final = NULL;
    if ((st = local_params(c, &g)) == XLLM_OK && (st = local_prompt(c, text, &ids, &n)) == XLLM_OK &&
        (st = xllm_sched_submit(c->in->sched, ids, (int32_t)n, &g.params, on_local_event, &s, &s.id)) == XLLM_OK)
        while (st == XLLM_OK && !xllm_sched_idle(c->in->sched))
            st = xllm_sched_step(c->in->sched);
    xllm_free(ids);
    srv_gen_req_free(&g);
    if (st == XLLM_OK && s.fin.finish == XLLM_FINISH_ERROR)
        st = xllm_fail(XLLM_ERR_INTERNAL, "%s", s.fin.error ? s.fin.error : "generation failed");
    if (st == XLLM_OK)
        *final = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "total_duration",
                           (json_int_t)(s.fin.t.queue_ns + s.fin.t.prefill_ns + s.fin.t.decode_ns), "load_duration",
                           (json_int_t)0, "prompt_eval_count", (json_int_t)s.fin.n_prompt, "prompt_eval_duration",
                           (json_int_t)s.fin.t.prefill_ns, "eval_count", (json_int_t)s.fin.n_generated,
                           "eval_duration", (json_int_t)s.fin.t.decode_ns);
    return st;
}

xllm_status run_chat_turn(run_chat *c, const char *text)
{
    xllm_buf answer;
    json_t *final = NULL;
    xllm_status st;
    stop_answer = 0;
    json_array_append_new(c->messages, json_pack("{s:s,s:s}", "role", "user", "content", text));
    st = c->in ? local_turn(c, text, &answer, &final) : server_turn(c, text, &answer, &final);
    if (st == XLLM_ERR_CANCELLED)
        st = XLLM_OK; /* Ctrl-C: keep what was said */
    /* a chat keeps its history; a plain continuation (no template) does not */
    if (answer.len && !c->raw && (!c->in || c->tmpl))
        json_array_append_new(c->messages, json_pack("{s:s,s:s%}", "role", "assistant", "content", answer.data,
                                                     answer.len));
    else
        json_array_remove(c->messages, json_array_size(c->messages) - 1);
    fputs(answer.len && answer.data[answer.len - 1] == '\n' ? "\n" : "\n\n", stdout);
    fflush(stdout);
    if (st == XLLM_OK && c->verbose && final)
        print_stats(final);
    json_decref(final);
    xllm_buf_free(&answer);
    return st;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "?";
}

void run_chat_show_info(const run_chat *c)
{
    if (c->in) {
        cli_model_facts f;
        if (cli_model_facts_get(c->model, &f) != XLLM_OK)
            return;
        printf("  Model\n    architecture        %s\n    context length      %d\n    embedding length    %d\n"
               "    quantization        %s\n    chat template       %s\n\n",
               f.arch, c->in->n_ctx, c->in->info.n_embd, f.quant, c->tmpl ? "yes" : "none (plain continuation)");
    } else {
        xllm_buf b;
        long status = 0;
        json_t *req = json_pack("{s:s}", "model", c->model), *r, *d;
        xllm_buf_init(&b, 64u << 20);
        if (cli_api_call("POST", "/api/show", req, &status, &b) == XLLM_OK && status == 200 &&
            (r = json_loadb(b.data, b.len, 0, NULL)) != NULL) {
            d = json_object_get(r, "details");
            printf("  Model\n    architecture        %s\n    parameters          %s\n    quantization        %s\n\n",
                   jstr(d, "family"), jstr(d, "parameter_size"), jstr(d, "quantization_level"));
            json_decref(r);
        } else {
            printf("could not get model info from the server\n");
        }
        json_decref(req);
        xllm_buf_free(&b);
    }
}
