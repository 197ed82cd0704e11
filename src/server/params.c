/* params.c - JSON request bodies of the OpenAI, Ollama and Anthropic APIs into
 * one validated generation request (see params.h). */
#include "server/params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "runtime/json_schema.h"
#include "server/tools.h"

int srv_err_set(srv_err *e, int status, const char *param, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void srv_gen_req_init(srv_gen_req *g, srv_api api)
{
    memset(g, 0, sizeof *g);
    g->params = xllm_gen_params_default();
    g->params.sampling = xllm_sampler_defaults();
    if (api == SRV_API_OLLAMA) {
        g->params.sampling.temperature = 0.8f; /* Ollama's defaults (sampler_defaults has the rest) */
    } else {
        /* OpenAI / Anthropic: temperature 1, nucleus and penalties off. */
        g->params.sampling.temperature = 1.0f;
        g->params.sampling.top_k = 0;
        g->params.sampling.top_p = 1.0f;
        g->params.sampling.min_p = 0.0f;
        g->params.sampling.repeat_penalty = 1.0f;
    }
    g->params.max_tokens = -1;
    g->add_special = 1;
    g->n = 1;
    g->keep_alive_s = NAN;
}

void srv_gen_req_free(srv_gen_req *g)
{
    if (!g)
        return;
    xllm_free(g->prompt);
    xllm_free(g->tokens);
    for (int i = 0; i < g->n_stops; i++)
        xllm_free(g->stops[i]);
    xllm_free(g->grammar);
    g->prompt = NULL;
    g->tokens = NULL;
    g->grammar = NULL;
    g->params.grammar = NULL;
    g->n_stops = 0;
}

void srv_gen_req_set_prompt(srv_gen_req *g, char *text_owned, size_t len)
{
    xllm_free(g->prompt);
    g->prompt = text_owned;
    g->prompt_len = len;
}

json_t *srv_parse_json(const char *body, size_t len, srv_err *e)
{
    json_error_t je;
    json_t *root;
    if (!body || len == 0) {
        srv_err_set(e, 400, "", NULL, "the request body is empty: a JSON object is expected");
        return NULL;
    }
    root = json_loadb(body, len, 0, &je);
    if (!root) {
        srv_err_set(e, 400, "", NULL, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        srv_err_set(e, 400, "", NULL, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

static json_t *field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return (v && !json_is_null(v)) ? v : NULL;
}

int srv_get_num(json_t *o, const char *key, const char *name, double lo, double hi, double *out, srv_err *e)
{
    json_t *v = field(o, key);
    double d;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return srv_err_set(e, 400, name, NULL, "'%s' must be a number", name);
    d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return srv_err_set(e, 400, name, NULL, "'%s' is %g; it must be between %g and %g", name, d, lo, hi);
    *out = d;
    return 0;
}

int srv_get_int(json_t *o, const char *key, const char *name, int64_t lo, int64_t hi, int64_t *out, srv_err *e)
{
    json_t *v = field(o, key);
    double d;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < lo || i > hi)
            return srv_err_set(e, 400, name, NULL, "'%s' is %lld; it must be between %lld and %lld", name,
                               (long long)i, (long long)lo, (long long)hi);
        *out = i;
        return 0;
    }
    if (!json_is_real(v))
        return srv_err_set(e, 400, name, NULL, "'%s' must be an integer", name);
    d = json_real_value(v);
    if (d != floor(d))
        return srv_err_set(e, 400, name, NULL, "'%s' must be an integer (got %g)", name, d);
    if (d < (double)lo || d > (double)hi)
        return srv_err_set(e, 400, name, NULL, "'%s' is %g; it must be between %lld and %lld", name, d,
                           (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return 0;
}

int srv_get_bool(json_t *o, const char *key, const char *name, int *out, srv_err *e)
{
    json_t *v = field(o, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return srv_err_set(e, 400, name, NULL, "'%s' must be true or false", name);
    *out = json_is_true(v);
    return 0;
}

int srv_get_str(json_t *o, const char *key, const char *name, const char **out, srv_err *e)
{
    json_t *v = field(o, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return srv_err_set(e, 400, name, NULL, "'%s' must be a string", name);
    *out = json_string_value(v);
    return 0;
}

int srv_decode_model(json_t *root, srv_gen_req *g, srv_err *e)
{
    const char *m = NULL;
    if (srv_get_str(root, "model", "model", &m, e))
        return -1;
    if (!m || !m[0])
        return srv_err_set(e, 400, "model", NULL, "'model' is required: name one of the models in GET /v1/models");
    if (strlen(m) >= sizeof g->model)
        return srv_err_set(e, 400, "model", NULL, "'model' is longer than %zu bytes", sizeof g->model - 1);
    snprintf(g->model, sizeof g->model, "%s", m);
    return 0;
}

/* stop: a string or a list of strings (at most XLLM_MAX_STOP_STRINGS, each non-empty). */
static int decode_stops(json_t *v, const char *name, srv_gen_req *g, srv_err *e)
{
    size_t i, n;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return 0;
        g->stops[0] = xllm_strndup(json_string_value(v), json_string_length(v));
        if (!g->stops[0])
            return srv_err_set(e, 500, name, NULL, "out of memory");
        g->n_stops = 1;
        return 0;
    }
    if (!json_is_array(v))
        return srv_err_set(e, 400, name, NULL, "'%s' must be a string or a list of strings", name);
    n = json_array_size(v);
    if (n > XLLM_MAX_STOP_STRINGS)
        return srv_err_set(e, 400, name, NULL, "'%s' has %zu entries; at most %d are supported", name, n,
                           XLLM_MAX_STOP_STRINGS);
    for (i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s))
            return srv_err_set(e, 400, name, NULL, "'%s[%zu]' must be a string", name, i);
        if (json_string_length(s) == 0)
            continue;
        if (json_string_length(s) > XLLM_MAX_STOP_BYTES)
            return srv_err_set(e, 400, name, NULL, "'%s[%zu]' is longer than %d bytes", name, i,
                               XLLM_MAX_STOP_BYTES);
        g->stops[g->n_stops] = xllm_strndup(json_string_value(s), json_string_length(s));
        if (!g->stops[g->n_stops])
            return srv_err_set(e, 500, name, NULL, "out of memory");
        g->n_stops++;
    }
    return 0;
}

static void link_stops(srv_gen_req *g)
{
    g->params.stops = (const char *const *)g->stops;
    g->params.n_stops = g->n_stops;
}

/* logit_bias: {"token id": bias in [-100, 100]}. */
static int decode_bias(json_t *v, srv_gen_req *g, srv_err *e)
{
    const char *k;
    json_t *b;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return srv_err_set(e, 400, "logit_bias", NULL, "'logit_bias' must be an object of token id -> bias");
    if (json_object_size(v) > sizeof g->bias_tok / sizeof g->bias_tok[0])
        return srv_err_set(e, 400, "logit_bias", NULL, "'logit_bias' has %zu entries; at most %zu are supported",
                           json_object_size(v), sizeof g->bias_tok / sizeof g->bias_tok[0]);
    json_object_foreach(v, k, b) {
        char *end = NULL;
        long id = strtol(k, &end, 10);
        double d;
        if (!k[0] || *end || id < 0 || id > INT32_MAX)
            return srv_err_set(e, 400, "logit_bias", NULL, "'logit_bias' key '%.40s' is not a token id", k);
        if (!json_is_number(b))
            return srv_err_set(e, 400, "logit_bias", NULL, "'logit_bias[%ld]' must be a number", id);
        d = json_number_value(b);
        if (!(d >= -100 && d <= 100))
            return srv_err_set(e, 400, "logit_bias", NULL, "'logit_bias[%ld]' is %g; it must be between -100 and 100",
                               id, d);
        g->bias_tok[g->n_bias] = (int32_t)id;
        g->bias_val[g->n_bias] = d <= -100 ? -INFINITY : (float)d;
        g->n_bias++;
    }
    g->params.bias_tokens = g->bias_tok;
    g->params.bias_values = g->bias_val;
    g->params.n_bias = g->n_bias;
    return 0;
}

static int decode_top_p(json_t *o, const char *key, srv_gen_req *g, srv_err *e)
{
    double d = g->params.sampling.top_p;
    if (srv_get_num(o, key, key, 0, 1, &d, e))
        return -1;
    if (d <= 0)
        return srv_err_set(e, 400, key, NULL, "'%s' is %g; it must be greater than 0 and at most 1", key, d);
    g->params.sampling.top_p = (float)d;
    return 0;
}

/* The sampling fields OpenAI-style APIs share (names as OpenAI spells them). */
static int decode_common_sampling(json_t *root, srv_gen_req *g, srv_err *e, double temp_hi)
{
    double d;
    int64_t i;
    xllm_sampler_params *s = &g->params.sampling;

    d = s->temperature;
    if (srv_get_num(root, "temperature", "temperature", 0, temp_hi, &d, e))
        return -1;
    s->temperature = (float)d;
    if (decode_top_p(root, "top_p", g, e))
        return -1;
    i = s->top_k;
    if (srv_get_int(root, "top_k", "top_k", 0, INT32_MAX, &i, e))
        return -1;
    s->top_k = (int32_t)i;
    d = s->min_p;
    if (srv_get_num(root, "min_p", "min_p", 0, 1, &d, e))
        return -1;
    s->min_p = (float)d;
    d = s->repeat_penalty;
    if (srv_get_num(root, "repeat_penalty", "repeat_penalty", 0, 10, &d, e))
        return -1;
    if (d <= 0)
        return srv_err_set(e, 400, "repeat_penalty", NULL, "'repeat_penalty' must be greater than 0");
    s->repeat_penalty = (float)d;
    return 0;
}

/* The output grammar: a JSON schema (schema NULL: any JSON object) turned
 * into GBNF, or raw GBNF text. param names the field in errors. */
static int set_grammar(srv_gen_req *g, json_t *schema, const char *gbnf, const char *param, srv_err *e)
{
    char *text = NULL;
    size_t len = 0;
    xllm_status st;
    if (gbnf) {
        if (!(text = xllm_strdup(gbnf)))
            return srv_err_set(e, 500, param, NULL, "out of memory");
    } else {
        st = schema ? xllm_json_schema_to_gbnf(schema, 0, &text, &len) : xllm_json_object_gbnf(0, &text, &len);
        if (st != XLLM_OK)
            return srv_err_set(e, 400, param, NULL, "%s: %s", param, xllm_last_error());
    }
    xllm_free(g->grammar);
    g->grammar = text;
    g->params.grammar = text;
    return 0;
}

/* The `grammar` extension field (llama-server's name): raw GBNF. */
static int decode_grammar_field(json_t *root, srv_gen_req *g, srv_err *e)
{
    const char *gbnf = NULL;
    if (srv_get_str(root, "grammar", "grammar", &gbnf, e))
        return -1;
    return gbnf && *gbnf ? set_grammar(g, NULL, gbnf, "grammar", e) : 0;
}

/* OpenAI response_format: text, json_object, or json_schema {name, schema, strict}. */
static int decode_response_format(json_t *rf, srv_gen_req *g, srv_err *e)
{
    const char *t = json_is_object(rf) ? json_string_value(json_object_get(rf, "type")) : NULL;
    json_t *js;
    if (!t)
        return srv_err_set(e, 400, "response_format", NULL, "'response_format' must be an object with a 'type'");
    if (!strcmp(t, "text"))
        return 0;
    if (!strcmp(t, "json_object"))
        return set_grammar(g, NULL, NULL, "response_format", e);
    if (strcmp(t, "json_schema") != 0)
        return srv_err_set(e, 400, "response_format", NULL,
                           "'response_format' type '%.40s' is not one of 'text', 'json_object', 'json_schema'", t);
    js = json_object_get(rf, "json_schema");
    if (!json_is_object(js) || !json_object_get(js, "schema"))
        return srv_err_set(e, 400, "response_format.json_schema", NULL,
                           "'response_format.json_schema' must be an object with a 'schema'");
    return set_grammar(g, json_object_get(js, "schema"), NULL, "response_format.json_schema.schema", e);
}

/* The scheduling class (SPEC S-4): "priority": "interactive" | "batch" (an
 * xllm extension on every API), and OpenAI's service_tier "flex" (its
 * slower, cheaper tier) as batch; other tiers keep the default. */
static int decode_priority(json_t *root, srv_gen_req *g, srv_err *e)
{
    const char *p = NULL, *tier = NULL;
    if (srv_get_str(root, "priority", "priority", &p, e) || srv_get_str(root, "service_tier", "service_tier", &tier, e))
        return -1;
    if (tier && !strcmp(tier, "flex"))
        g->params.priority = XLLM_PRIORITY_BATCH;
    if (!p)
        return 0;
    if (!strcmp(p, "batch"))
        g->params.priority = XLLM_PRIORITY_BATCH;
    else if (!strcmp(p, "interactive"))
        g->params.priority = XLLM_PRIORITY_INTERACTIVE;
    else
        return srv_err_set(e, 400, "priority", NULL, "'priority' must be \"interactive\" or \"batch\"");
    return 0;
}

int srv_decode_openai(json_t *root, int chat, srv_gen_req *g, srv_err *e)
{
    double d;
    int64_t i;
    int b;
    const char *user = NULL;
    json_t *so;
    xllm_sampler_params *s = &g->params.sampling;

    if (srv_get_bool(root, "stream", "stream", &g->stream, e))
        return -1;
    so = field(root, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return srv_err_set(e, 400, "stream_options", NULL, "'stream_options' must be an object");
        if (!g->stream)
            return srv_err_set(e, 400, "stream_options", NULL, "'stream_options' is only allowed when 'stream' is true");
        if (srv_get_bool(so, "include_usage", "stream_options.include_usage", &g->include_usage, e))
            return -1;
    }
    i = -1;
    if (srv_get_int(root, "max_tokens", "max_tokens", 1, INT32_MAX, &i, e))
        return -1;
    if (chat && srv_get_int(root, "max_completion_tokens", "max_completion_tokens", 1, INT32_MAX, &i, e))
        return -1;
    if (i > 0) {
        g->params.max_tokens = (int32_t)i;
        g->max_tokens_given = 1;
    } else if (!chat) {
        g->params.max_tokens = 16; /* OpenAI's completions default */
    }
    if (decode_common_sampling(root, g, e, 2))
        return -1;
    i = 1;
    if (srv_get_int(root, "n", "n", 1, XLLM_SERVER_MAX_N, &i, e))
        return -1;
    g->n = (int32_t)i;
    if (decode_stops(field(root, "stop"), "stop", g, e))
        return -1;
    link_stops(g);
    i = 0;
    if (field(root, "seed")) {
        if (srv_get_int(root, "seed", "seed", INT64_MIN, INT64_MAX, &i, e))
            return -1;
        s->seed = (uint64_t)i;
    } else {
        s->seed = 0; /* the runner draws one */
    }
    d = 0;
    if (srv_get_num(root, "presence_penalty", "presence_penalty", -2, 2, &d, e))
        return -1;
    s->presence_penalty = (float)d;
    d = 0;
    if (srv_get_num(root, "frequency_penalty", "frequency_penalty", -2, 2, &d, e))
        return -1;
    s->frequency_penalty = (float)d;
    if (decode_bias(field(root, "logit_bias"), g, e))
        return -1;
    if (chat) {
        b = 0;
        if (srv_get_bool(root, "logprobs", "logprobs", &b, e))
            return -1;
        g->params.logprobs = b;
        i = 0;
        if (srv_get_int(root, "top_logprobs", "top_logprobs", 0, XLLM_MAX_TOP_LOGPROBS, &i, e))
            return -1;
        if (i > 0 && !b)
            return srv_err_set(e, 400, "top_logprobs", NULL, "'top_logprobs' needs 'logprobs' set to true");
        g->params.top_logprobs = (int32_t)i;
    } else {
        i = -1;
        if (srv_get_int(root, "logprobs", "logprobs", 0, XLLM_MAX_TOP_LOGPROBS, &i, e))
            return -1;
        if (i >= 0) {
            g->params.logprobs = 1;
            g->params.top_logprobs = (int32_t)i;
        }
        if (srv_get_bool(root, "echo", "echo", &g->echo, e))
            return -1;
        if (g->echo && g->params.logprobs)
            g->params.prompt_logprobs = 1;
        if (field(root, "suffix"))
            return srv_err_set(e, 400, "suffix", NULL, "'suffix' (fill-in-the-middle) is not supported");
        i = 1;
        if (srv_get_int(root, "best_of", "best_of", 1, XLLM_SERVER_MAX_N, &i, e))
            return -1;
        if (i != g->n && field(root, "best_of"))
            return srv_err_set(e, 400, "best_of", NULL, "'best_of' other than 'n' is not supported");
    }
    if (srv_get_str(root, "user", "user", &user, e))
        return -1;
    b = 0;
    if (srv_get_bool(root, "ignore_eos", "ignore_eos", &b, e)) /* llama-server / vLLM extension */
        return -1;
    g->params.ignore_eos = b;
    if (field(root, "response_format") && decode_response_format(field(root, "response_format"), g, e))
        return -1;
    if (decode_grammar_field(root, g, e) || decode_priority(root, g, e))
        return -1;
    return 0;
}

/* Ollama's option names (docs/modelfile.md and api.md); the ones that concern
 * loading (num_gpu, use_mmap, ...) are accepted and ignored per request. */
static const char *const ollama_ignored[] = {
    "num_keep", "penalize_newline", "numa", "num_batch", "num_gpu", "main_gpu", "low_vram", "f16_kv",
    "vocab_only", "use_mmap", "use_mlock", "num_thread", "logits_all", "embedding_only", "tfs_z",
};

static int decode_ollama_options(json_t *o, srv_gen_req *g, srv_err *e)
{
    const char *k;
    json_t *v;
    double d;
    int64_t i;
    xllm_sampler_params *s = &g->params.sampling;
    if (!o)
        return 0;
    if (!json_is_object(o))
        return srv_err_set(e, 400, "options", NULL, "'options' must be an object");
    json_object_foreach(o, k, v) {
        static const char *const known[] = {"seed", "num_predict", "top_k", "top_p", "min_p", "typical_p",
                                            "repeat_last_n", "temperature", "repeat_penalty",
                                            "presence_penalty", "frequency_penalty", "stop", "num_ctx",
                                            "mirostat", "mirostat_tau", "mirostat_eta"};
        int ok = 0;
        for (size_t j = 0; j < sizeof known / sizeof known[0] && !ok; j++)
            ok = !strcmp(k, known[j]);
        for (size_t j = 0; j < sizeof ollama_ignored / sizeof ollama_ignored[0] && !ok; j++)
            ok = !strcmp(k, ollama_ignored[j]);
        if (!ok)
            return srv_err_set(e, 400, "options", NULL, "unknown option 'options.%.60s'", k);
    }
#define OPT_NUM(key, lo, hi, dst)                                                  \
    do {                                                                           \
        d = (dst);                                                                 \
        if (srv_get_num(o, key, "options." key, lo, hi, &d, e))                    \
            return -1;                                                             \
        (dst) = (float)d;                                                          \
    } while (0)
    OPT_NUM("temperature", 0, 2, s->temperature);
    OPT_NUM("min_p", 0, 1, s->min_p);
    OPT_NUM("typical_p", 0, 1, s->typical_p);
    OPT_NUM("repeat_penalty", 0, 10, s->repeat_penalty);
    OPT_NUM("presence_penalty", -2, 2, s->presence_penalty);
    OPT_NUM("frequency_penalty", -2, 2, s->frequency_penalty);
#undef OPT_NUM
    if (field(o, "top_p")) {
        d = 1;
        if (srv_get_num(o, "top_p", "options.top_p", 0, 1, &d, e))
            return -1;
        s->top_p = d <= 0 ? 1.0f : (float)d;
    }
    i = s->top_k;
    if (srv_get_int(o, "top_k", "options.top_k", 0, INT32_MAX, &i, e))
        return -1;
    s->top_k = (int32_t)i;
    i = s->penalty_last_n;
    if (srv_get_int(o, "repeat_last_n", "options.repeat_last_n", -1, XLLM_SAMPLER_MAX_WINDOW, &i, e))
        return -1;
    s->penalty_last_n = (int32_t)i;
    if (field(o, "seed")) {
        i = 0;
        if (srv_get_int(o, "seed", "options.seed", INT64_MIN, INT64_MAX, &i, e))
            return -1;
        s->seed = (uint64_t)i;
    }
    i = -1;
    if (srv_get_int(o, "num_predict", "options.num_predict", -2, INT32_MAX, &i, e))
        return -1;
    g->params.max_tokens = i <= 0 ? -1 : (int32_t)i;
    if (i > 0)
        g->max_tokens_given = 1;
    i = 0;
    if (srv_get_int(o, "num_ctx", "options.num_ctx", 0, INT32_MAX, &i, e))
        return -1;
    if (i > 0)
        g->params.n_ctx = (int32_t)i;
    i = 0;
    if (srv_get_int(o, "mirostat", "options.mirostat", 0, 2, &i, e))
        return -1;
    if (i != 0)
        return srv_err_set(e, 400, "options.mirostat", NULL, "'options.mirostat' sampling is not supported (use 0)");
    if (decode_stops(field(o, "stop"), "options.stop", g, e))
        return -1;
    link_stops(g);
    return 0;
}

int srv_parse_duration(json_t *v, double *seconds, srv_err *e)
{
    const char *p;
    double total = 0;
    int neg = 0, any = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        *seconds = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return srv_err_set(e, 400, "keep_alive", NULL, "'keep_alive' must be a number of seconds or a duration like \"5m\"");
    p = json_string_value(v);
    if (*p == '-') {
        neg = 1;
        p++;
    }
    while (*p) {
        char *end;
        double x = strtod(p, &end), mul;
        if (end == p)
            goto bad;
        p = end;
        if (!strncmp(p, "ms", 2)) {
            mul = 1e-3;
            p += 2;
        } else if (*p == 'h') {
            mul = 3600;
            p++;
        } else if (*p == 'm') {
            mul = 60;
            p++;
        } else if (*p == 's') {
            mul = 1;
            p++;
        } else if (!*p && !any) {
            mul = 1; /* a bare number: seconds */
        } else {
            goto bad;
        }
        total += x * mul;
        any = 1;
    }
    if (!any)
        goto bad;
    *seconds = neg ? -total : total;
    return 0;
bad:
    return srv_err_set(e, 400, "keep_alive", NULL, "'keep_alive' \"%.40s\" is not a duration (e.g. \"5m\", \"1h\", \"-1\")",
                       json_string_value(v));
}

int srv_decode_ollama(json_t *root, srv_gen_req *g, srv_err *e)
{
    json_t *f;
    g->stream = 1; /* Ollama streams unless told not to */
    if (srv_get_bool(root, "stream", "stream", &g->stream, e))
        return -1;
    if (decode_ollama_options(field(root, "options"), g, e))
        return -1;
    if (srv_parse_duration(field(root, "keep_alive"), &g->keep_alive_s, e))
        return -1;
    f = field(root, "format");
    if (json_is_string(f) && !strcmp(json_string_value(f), "json")) {
        if (set_grammar(g, NULL, NULL, "format", e))
            return -1;
    } else if (json_is_object(f)) {
        if (set_grammar(g, f, NULL, "format", e))
            return -1;
    } else if (f && !json_is_null(f) && !(json_is_string(f) && json_string_length(f) == 0)) {
        return srv_err_set(e, 400, "format", NULL, "'format' must be \"json\" or a JSON schema object");
    }
    if (decode_grammar_field(root, g, e) || decode_priority(root, g, e))
        return -1;
    f = field(root, "images");
    if (f && (!json_is_array(f) || json_array_size(f) > 0))
        return srv_err_set(e, 400, "images", NULL, "'images': this model has no vision support");
    f = field(root, "think");
    if (f && !json_is_boolean(f) && !json_is_string(f))
        return srv_err_set(e, 400, "think", NULL, "'think' must be true, false or \"low\"/\"medium\"/\"high\"");
    if (f && (json_is_true(f) || (json_is_string(f) && json_string_length(f) > 0)))
        return srv_err_set(e, 400, "think", NULL, "'think': this model does not support thinking");
    return 0;
}

int srv_decode_anthropic(json_t *root, srv_gen_req *g, srv_err *e)
{
    int64_t i = -1;
    if (srv_get_bool(root, "stream", "stream", &g->stream, e))
        return -1;
    if (!field(root, "max_tokens"))
        return srv_err_set(e, 400, "max_tokens", NULL, "max_tokens: Field required");
    if (srv_get_int(root, "max_tokens", "max_tokens", 1, INT32_MAX, &i, e))
        return -1;
    g->params.max_tokens = (int32_t)i;
    g->max_tokens_given = 1;
    if (decode_common_sampling(root, g, e, 1))
        return -1;
    if (decode_stops(field(root, "stop_sequences"), "stop_sequences", g, e))
        return -1;
    link_stops(g);
    g->params.sampling.seed = 0;
    return decode_priority(root, g, e);
}

/* Text of a content value: a string, or a list of parts where the text ones
 * ({"type":"text","text":...}) are joined. Returns a new string or NULL (e). */
static json_t *content_text(json_t *c, const char *field_name, srv_err *e)
{
    xllm_buf b;
    json_t *out = NULL;
    if (json_is_string(c))
        return json_incref(c);
    if (!json_is_array(c)) {
        srv_err_set(e, 400, field_name, NULL, "'%s' must be a string or a list of content parts", field_name);
        return NULL;
    }
    xllm_buf_init(&b, XLLM_SERVER_MAX_BODY);
    for (size_t i = 0; i < json_array_size(c); i++) {
        json_t *p = json_array_get(c, i);
        const char *t = json_is_object(p) ? json_string_value(json_object_get(p, "type")) : NULL;
        json_t *txt = json_is_object(p) ? json_object_get(p, "text") : NULL;
        if (!t) {
            srv_err_set(e, 400, field_name, NULL, "'%s[%zu]' must be an object with a 'type'", field_name, i);
            goto out;
        }
        if (!strcmp(t, "text") || !strcmp(t, "input_text") || !strcmp(t, "output_text")) {
            if (!json_is_string(txt)) {
                srv_err_set(e, 400, field_name, NULL, "'%s[%zu].text' must be a string", field_name, i);
                goto out;
            }
            if (xllm_buf_append(&b, json_string_value(txt), json_string_length(txt))) {
                srv_err_set(e, 413, field_name, NULL, "'%s' is too long", field_name);
                goto out;
            }
        } else if (!strcmp(t, "image_url") || !strcmp(t, "image") || !strcmp(t, "input_image")) {
            srv_err_set(e, 400, field_name, NULL, "'%s[%zu]': this model has no vision support (image parts)",
                        field_name, i);
            goto out;
        } else {
            srv_err_set(e, 400, field_name, NULL, "'%s[%zu]' has unsupported type '%.40s'", field_name, i, t);
            goto out;
        }
    }
    out = json_stringn(b.data ? b.data : "", b.len);
    if (!out)
        srv_err_set(e, 400, field_name, NULL, "'%s' is not valid UTF-8", field_name);
out:
    xllm_buf_free(&b);
    return out;
}

static int push_message(json_t *arr, const char *role, json_t *content)
{
    json_t *m = json_pack("{s:s, s:O}", "role", role, "content", content);
    return m ? json_array_append_new(arr, m) : -1;
}

int srv_decode_messages(json_t *messages, json_t *system, const char *fname, json_t **out, srv_err *e)
{
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool"};
    json_t *arr = json_array();
    char name[96];
    int nonempty = 0;
    if (!arr)
        return srv_err_set(e, 500, fname, NULL, "out of memory");
    if (system && !json_is_null(system)) {
        json_t *t = content_text(system, "system", e);
        if (!t)
            goto fail;
        if (json_string_length(t) > 0)
            push_message(arr, "system", t);
        json_decref(t);
    }
    if (!messages || !json_is_array(messages)) {
        srv_err_set(e, 400, fname, NULL, "'%s' is required and must be a list of messages", fname);
        goto fail;
    }
    if (json_array_size(messages) == 0) {
        srv_err_set(e, 400, fname, NULL, "'%s' is empty: at least one message is required", fname);
        goto fail;
    }
    if (json_array_size(messages) > XLLM_SERVER_MAX_MESSAGES) {
        srv_err_set(e, 400, fname, NULL, "'%s' has %zu messages; at most %d are accepted", fname,
                    json_array_size(messages), XLLM_SERVER_MAX_MESSAGES);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i), *c, *t;
        const char *role;
        int ok = 0;
        snprintf(name, sizeof name, "%s[%zu]", fname, i);
        if (!json_is_object(m)) {
            srv_err_set(e, 400, name, NULL, "'%s' must be an object with 'role' and 'content'", name);
            goto fail;
        }
        role = json_string_value(json_object_get(m, "role"));
        for (size_t j = 0; role && j < sizeof roles / sizeof roles[0]; j++)
            ok |= !strcmp(role, roles[j]);
        if (!ok) {
            srv_err_set(e, 400, name, NULL, "'%s.role' must be one of system, developer, user, assistant, tool", name);
            goto fail;
        }
        if (json_array_size(json_object_get(m, "images")) > 0) {
            srv_err_set(e, 400, name, NULL, "'%s.images': this model has no vision support", name);
            goto fail;
        }
        c = json_object_get(m, "content");
        if (!c || json_is_null(c)) {
            if (!strcmp(role, "assistant") && json_object_get(m, "tool_calls"))
                c = json_string("");
            else {
                srv_err_set(e, 400, name, NULL, "'%s.content' is required", name);
                goto fail;
            }
        } else {
            json_incref(c);
        }
        snprintf(name, sizeof name, "%s[%zu].content", fname, i);
        t = content_text(c, name, e);
        json_decref(c);
        if (!t)
            goto fail;
        for (const char *p = json_string_value(t); *p; p++)
            if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
                nonempty = 1;
                break;
            }
        push_message(arr, !strcmp(role, "developer") ? "system" : role, t);
        srv_tools_copy_message_fields(json_array_get(arr, json_array_size(arr) - 1), m);
        json_decref(t);
    }
    if (!nonempty) {
        srv_err_set(e, 400, fname, NULL, "'%s' has no text: every message content is empty or whitespace", fname);
        goto fail;
    }
    *out = arr;
    return 0;
fail:
    json_decref(arr);
    return -1;
}

int srv_decode_token_array(json_t *arr, const char *fname, int32_t n_vocab, int32_t **ids, int32_t *n, srv_err *e)
{
    size_t cnt;
    int32_t *v;
    if (!json_is_array(arr))
        return srv_err_set(e, 400, fname, NULL, "'%s' must be a list of token ids", fname);
    cnt = json_array_size(arr);
    if (cnt > (size_t)XLLM_SERVER_MAX_BODY / 2)
        return srv_err_set(e, 400, fname, NULL, "'%s' is too long", fname);
    v = xllm_malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v)
        return srv_err_set(e, 500, fname, NULL, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        json_t *x = json_array_get(arr, i);
        json_int_t t;
        if (!json_is_integer(x)) {
            xllm_free(v);
            return srv_err_set(e, 400, fname, NULL, "'%s[%zu]' must be an integer token id", fname, i);
        }
        t = json_integer_value(x);
        if (t < 0 || t > INT32_MAX || (n_vocab > 0 && t >= n_vocab)) {
            xllm_free(v);
            return srv_err_set(e, 400, fname, NULL, "'%s[%zu]' is %lld: not a token id of this vocabulary (0..%d)",
                               fname, i, (long long)t, n_vocab > 0 ? n_vocab - 1 : INT32_MAX);
        }
        v[i] = (int32_t)t;
    }
    *ids = v;
    *n = (int32_t)cnt;
    return 0;
}
