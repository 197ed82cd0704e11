/* layer_params.c - Modelfile params / system layers under OpenAI and
 * Anthropic requests: one table of Ollama options and the request fields of
 * each API that override them. */
#include "server/layer_params.h"

#include <string.h>

#include "base/alloc.h"

/* What a row copies from the decoded layer into the request. */
typedef enum layer_field {
    LF_TEMPERATURE,
    LF_TOP_P,
    LF_TOP_K,
    LF_MIN_P,
    LF_TYPICAL_P,
    LF_REPEAT_PENALTY,
    LF_REPEAT_LAST_N,
    LF_PRESENCE,
    LF_FREQUENCY,
    LF_SEED,
    LF_MAX_TOKENS,
    LF_STOP,
    LF_NUM_CTX,
} layer_field;

/* Option of the params layer, and per API the request fields (space
 * separated, "" none) that win over it. */
static const struct {
    const char *opt;
    const char *over[3]; /* by srv_layer_api */
    layer_field f;
} rows[] = {
    {"temperature", {"temperature", "temperature", "temperature"}, LF_TEMPERATURE},
    {"top_p", {"top_p", "top_p", "top_p"}, LF_TOP_P},
    {"top_k", {"top_k", "top_k", "top_k"}, LF_TOP_K},
    {"min_p", {"min_p", "", "min_p"}, LF_MIN_P},
    {"typical_p", {"", "", ""}, LF_TYPICAL_P},
    {"repeat_penalty", {"repeat_penalty", "", "repeat_penalty"}, LF_REPEAT_PENALTY},
    {"repeat_last_n", {"", "", ""}, LF_REPEAT_LAST_N},
    {"presence_penalty", {"presence_penalty", "", ""}, LF_PRESENCE},
    {"frequency_penalty", {"frequency_penalty", "", ""}, LF_FREQUENCY},
    {"seed", {"seed", "", ""}, LF_SEED},
    {"num_predict", {"max_tokens max_completion_tokens", "max_output_tokens", "max_tokens"}, LF_MAX_TOKENS},
    {"stop", {"stop", "", "stop_sequences"}, LF_STOP},
    {"num_ctx", {"", "", ""}, LF_NUM_CTX},
};

/* Whether root gives one of the space-separated fields (null = not given). */
static int request_has(json_t *root, const char *names)
{
    char name[64];
    const char *p = names;
    while (*p) {
        size_t n = strcspn(p, " ");
        json_t *v;
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        v = json_object_get(root, name);
        if (v && !json_is_null(v))
            return 1;
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

static int copy_stops(srv_gen_req *g, const srv_gen_req *from, srv_err *e)
{
    for (int i = 0; i < g->n_stops; i++)
        xllm_free(g->stops[i]);
    g->n_stops = 0;
    for (int i = 0; i < from->n_stops; i++) {
        if (!(g->stops[i] = xllm_strdup(from->stops[i])))
            return srv_err_set(e, 500, "stop", NULL, "out of memory");
        g->n_stops = i + 1;
    }
    g->params.stops = (const char *const *)g->stops;
    g->params.n_stops = g->n_stops;
    return 0;
}

static int copy_field(layer_field f, srv_gen_req *g, const srv_gen_req *from, srv_err *e)
{
    xllm_sampler_params *s = &g->params.sampling;
    const xllm_sampler_params *fs = &from->params.sampling;
    switch (f) {
    case LF_TEMPERATURE: s->temperature = fs->temperature; break;
    case LF_TOP_P: s->top_p = fs->top_p; break;
    case LF_TOP_K: s->top_k = fs->top_k; break;
    case LF_MIN_P: s->min_p = fs->min_p; break;
    case LF_TYPICAL_P: s->typical_p = fs->typical_p; break;
    case LF_REPEAT_PENALTY: s->repeat_penalty = fs->repeat_penalty; break;
    case LF_REPEAT_LAST_N: s->penalty_last_n = fs->penalty_last_n; break;
    case LF_PRESENCE: s->presence_penalty = fs->presence_penalty; break;
    case LF_FREQUENCY: s->frequency_penalty = fs->frequency_penalty; break;
    case LF_SEED: s->seed = fs->seed; break;
    case LF_MAX_TOKENS:
        if (from->max_tokens_given) {
            g->params.max_tokens = from->params.max_tokens;
            g->max_tokens_given = 1;
        }
        break;
    case LF_STOP: return copy_stops(g, from, e);
    case LF_NUM_CTX:
        if (from->params.n_ctx > 0)
            g->params.n_ctx = from->params.n_ctx;
        break;
    }
    return 0;
}

int srv_layer_params_apply(const char *params_json, srv_layer_api api, json_t *root, srv_gen_req *g, srv_err *e)
{
    json_t *params, *wrap;
    srv_gen_req from;
    int rc = 0;
    if (!params_json || !params_json[0])
        return 0;
    params = json_loads(params_json, 0, NULL);
    if (!json_is_object(params)) {
        json_decref(params);
        return srv_err_set(e, 500, "model", NULL, "the model's params layer is not a JSON object");
    }
    wrap = json_pack("{s:o}", "options", params);
    srv_gen_req_init(&from, SRV_API_OLLAMA);
    if (!wrap) {
        rc = srv_err_set(e, 500, "model", NULL, "out of memory");
        goto out;
    }
    if (srv_decode_ollama(wrap, &from, e)) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, " (in the model's params layer)");
        e->status = 500; /* the model is at fault, not the request */
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !rc; i++)
        if (json_object_get(params, rows[i].opt) && !request_has(root, rows[i].over[api]))
            rc = copy_field(rows[i].f, g, &from, e);
out:
    srv_gen_req_free(&from);
    json_decref(wrap);
    return rc;
}

void srv_layer_system_apply(const char *system, json_t *msgs)
{
    size_t i;
    json_t *m;
    if (!system || !system[0] || !json_is_array(msgs))
        return;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && (!strcmp(role, "system") || !strcmp(role, "developer")))
            return;
    }
    json_array_insert_new(msgs, 0, json_pack("{s:s, s:s}", "role", "system", "content", system));
}
