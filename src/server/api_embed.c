/* api_embed.c - embeddings: OpenAI /v1/embeddings (strings, token arrays,
 * float or base64), Ollama /api/embed and the older /api/embeddings. The
 * runner call blocks, so it runs as a server task off the HTTP threads. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/limits.h"
#include "base/sysinfo.h"
#include "server/http.h"

typedef enum emb_kind { EMB_OPENAI, EMB_OLLAMA, EMB_OLLAMA_OLD } emb_kind;

typedef struct emb_job {
    emb_kind kind;
    srv_model *md;
    char model[256];
    int32_t n;
    char **texts;          /* [n] or NULL */
    int32_t **tokens;      /* [n] or NULL */
    int32_t *n_tok;
    int32_t truncate;
    int base64;
    double keep_alive_s;
    double t0;
    /* results */
    float *out;
    int32_t n_embd;
    int32_t *n_tokens;
    uint64_t load_ns;
    srv_err err;
    int failed;
} emb_job;

static void emb_free(void *p)
{
    emb_job *j = p;
    for (int32_t i = 0; j->texts && i < j->n; i++)
        xllm_free(j->texts[i]);
    for (int32_t i = 0; j->tokens && i < j->n; i++)
        xllm_free(j->tokens[i]);
    xllm_free(j->texts);
    xllm_free(j->tokens);
    xllm_free(j->n_tok);
    xllm_free(j->out);
    xllm_free(j->n_tokens);
    xllm_free(j);
}

/* Pool worker, with the model acquired by the task. */
static void emb_work(void *arg, const srv_task_model *tm)
{
    emb_job *j = arg;
    xllm_rclient *rc = tm->rc;
    xllm_status st;
    j->load_ns = tm->load_ns;
    j->n_tokens = xllm_calloc((size_t)j->n, sizeof *j->n_tokens);
    st = j->n_tokens ? xllm_rclient_embed(rc, (const char *const *)j->texts, (const int32_t *const *)j->tokens, j->n_tok,
                                          j->n, j->truncate, &j->out, &j->n_embd, j->n_tokens, 120000)
                     : XLLM_ERR_OUT_OF_MEMORY;
    if (st) {
        srv_err_set(&j->err, st == XLLM_ERR_INVALID_ARGUMENT || st == XLLM_ERR_UNSUPPORTED || st == XLLM_ERR_LIMIT ? 400 : 500,
                    "input", NULL, "embedding failed: %s", xllm_last_error());
        j->failed = 1;
    }
}

static json_t *vec_json(const float *v, int32_t n)
{
    json_t *a = json_array();
    for (int32_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static void emb_finish(srv_req *r, void *arg)
{
    emb_job *j = arg;
    int64_t total = 0;
    json_t *data;
    if (j->failed) {
        srv_reply_err(r, &j->err);
        return;
    }
    for (int32_t i = 0; i < j->n; i++)
        total += j->n_tokens[i];
    srv_req_charge_tokens(r, total, 0);
    if (j->kind == EMB_OLLAMA_OLD) {
        srv_reply_json(r, 200, json_pack("{s:o}", "embedding", vec_json(j->out, j->n_embd)));
        return;
    }
    data = json_array();
    for (int32_t i = 0; i < j->n; i++) {
        const float *v = j->out + (size_t)i * j->n_embd;
        if (j->kind == EMB_OLLAMA) {
            json_array_append_new(data, vec_json(v, j->n_embd));
        } else if (j->base64) {
            size_t nb = (size_t)j->n_embd * sizeof(float);
            char *b64 = xllm_malloc(4 * ((nb + 2) / 3) + 1);
            if (b64) {
                xllm_base64_encode((const unsigned char *)v, nb, b64);
                json_array_append_new(data, json_pack("{s:s, s:i, s:s}", "object", "embedding", "index", i,
                                                      "embedding", b64));
                xllm_free(b64);
            }
        } else {
            json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", i, "embedding",
                                                  vec_json(v, j->n_embd)));
        }
    }
    if (j->kind == EMB_OLLAMA)
        srv_reply_json(r, 200, json_pack("{s:s, s:o, s:I, s:I, s:I}", "model", j->model, "embeddings", data,
                                         "total_duration", (json_int_t)((xllm_now() - j->t0) * 1e9), "load_duration",
                                         (json_int_t)j->load_ns, "prompt_eval_count", (json_int_t)total));
    else
        srv_reply_json(r, 200, json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                                         j->model, "usage", "prompt_tokens", (json_int_t)total, "total_tokens",
                                         (json_int_t)total));
}

/* input: a string, a list of strings, a list of ids, a list of id lists. */
static int decode_input(json_t *in, const char *fname, emb_job *j, int32_t n_vocab, srv_err *e)
{
    size_t n;
    int tokens;
    if (json_is_string(in)) {
        j->n = 1;
        j->texts = xllm_calloc(1, sizeof *j->texts);
        if (!j->texts || !(j->texts[0] = xllm_strdup(json_string_value(in))))
            return srv_err_set(e, 500, fname, NULL, "out of memory");
        if (!j->texts[0][0])
            return srv_err_set(e, 400, fname, NULL, "'%s' is empty", fname);
        return 0;
    }
    if (!json_is_array(in) || (n = json_array_size(in)) == 0)
        return srv_err_set(e, 400, fname, NULL, "'%s' must be a non-empty string or list", fname);
    if (n > XLLM_SERVER_MAX_EMBED_INPUTS)
        return srv_err_set(e, 400, fname, NULL, "'%s' has %zu inputs; at most %d are accepted", fname, n,
                           XLLM_SERVER_MAX_EMBED_INPUTS);
    if (json_is_integer(json_array_get(in, 0))) {
        j->n = 1;
        j->tokens = xllm_calloc(1, sizeof *j->tokens);
        j->n_tok = xllm_calloc(1, sizeof *j->n_tok);
        if (!j->tokens || !j->n_tok)
            return srv_err_set(e, 500, fname, NULL, "out of memory");
        return srv_decode_token_array(in, fname, n_vocab, &j->tokens[0], &j->n_tok[0], e);
    }
    tokens = json_is_array(json_array_get(in, 0));
    j->n = (int32_t)n;
    if (tokens) {
        j->tokens = xllm_calloc(n, sizeof *j->tokens);
        j->n_tok = xllm_calloc(n, sizeof *j->n_tok);
        if (!j->tokens || !j->n_tok)
            return srv_err_set(e, 500, fname, NULL, "out of memory");
    } else if (!(j->texts = xllm_calloc(n, sizeof *j->texts))) {
        return srv_err_set(e, 500, fname, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(in, i);
        char name[64];
        snprintf(name, sizeof name, "%s[%zu]", fname, i);
        if (tokens) {
            if (srv_decode_token_array(x, name, n_vocab, &j->tokens[i], &j->n_tok[i], e))
                return -1;
            if (j->n_tok[i] == 0)
                return srv_err_set(e, 400, name, NULL, "'%s' is empty", name);
        } else {
            if (!json_is_string(x))
                return srv_err_set(e, 400, name, NULL, "'%s' must be a string", name);
            if (json_string_length(x) == 0)
                return srv_err_set(e, 400, name, NULL, "'%s' is empty", name);
            if (!(j->texts[i] = xllm_strdup(json_string_value(x))))
                return srv_err_set(e, 500, name, NULL, "out of memory");
        }
    }
    return 0;
}

static void embed(srv_req *r, emb_kind kind)
{
    json_t *root = srv_req_json(r);
    emb_job *j;
    srv_err e;
    srv_gen_req g;
    const char *fmt = NULL;
    const xllm_tokenizer *tok = NULL;
    int64_t dims = 0;
    int trunc = 1;
    if (!root)
        return;
    srv_gen_req_init(&g, SRV_API_OPENAI);
    j = xllm_calloc(1, sizeof *j);
    if (!j) {
        json_decref(root);
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    j->kind = kind;
    j->t0 = srv_req_start(r);
    j->keep_alive_s = NAN;
    if (srv_decode_model(root, &g, &e))
        goto fail;
    snprintf(j->model, sizeof j->model, "%s", g.model);
    if (!(j->md = srv_req_model(r, g.model))) {
        json_decref(root);
        emb_free(j);
        return;
    }
    if (srv_model_tokenizer(j->md, &tok)) {
        srv_err_set(&e, 500, "model", NULL, "%s", xllm_last_error());
        goto fail;
    }
    if (kind == EMB_OPENAI) {
        if (srv_get_str(root, "encoding_format", "encoding_format", &fmt, &e))
            goto fail;
        if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64")) {
            srv_err_set(&e, 400, "encoding_format", NULL, "'encoding_format' must be 'float' or 'base64'");
            goto fail;
        }
        j->base64 = fmt && !strcmp(fmt, "base64");
        if (srv_get_int(root, "dimensions", "dimensions", 1, INT32_MAX, &dims, &e))
            goto fail;
        if (dims) {
            srv_err_set(&e, 400, "dimensions", NULL, "'dimensions' (shortened embeddings) is not supported");
            goto fail;
        }
        if (decode_input(json_object_get(root, "input"), "input", j, xllm_tokenizer_n_vocab(tok), &e))
            goto fail;
    } else {
        if (srv_parse_duration(json_object_get(root, "keep_alive"), &j->keep_alive_s, &e) ||
            srv_get_bool(root, "truncate", "truncate", &trunc, &e))
            goto fail;
        if (kind == EMB_OLLAMA_OLD) {
            json_t *p = json_object_get(root, "prompt");
            if (!json_is_string(p) || json_string_length(p) == 0) {
                srv_err_set(&e, 400, "prompt", NULL, "'prompt' must be a non-empty string");
                goto fail;
            }
            if (decode_input(p, "prompt", j, 0, &e))
                goto fail;
        } else if (decode_input(json_object_get(root, "input"), "input", j, xllm_tokenizer_n_vocab(tok), &e)) {
            goto fail;
        }
    }
    j->truncate = trunc;
    json_decref(root);
    srv_task_start(r, j->md, j->keep_alive_s, emb_work, emb_finish, j, emb_free);
    return;
fail:
    json_decref(root);
    emb_free(j);
    srv_reply_err(r, &e);
}

void srv_openai_embeddings(srv_req *r) { embed(r, EMB_OPENAI); }
void srv_ollama_embed(srv_req *r) { embed(r, EMB_OLLAMA); }
void srv_ollama_embeddings(srv_req *r) { embed(r, EMB_OLLAMA_OLD); }
