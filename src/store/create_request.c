/* create_request.c - Ollama's /api/create request body turned into Modelfile
 * commands (plus its "files" map) and handed to the create operation. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "store/create.h"
#include "store/store_internal.h"

static xllm_status add(xllm_modelfile *mf, xllm_mf_kind kind, const char *name, const char *value)
{
    xllm_mf_cmd *v = xllm_realloc(mf->cmds, (mf->n + 1) * sizeof *v);
    if (!v)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    mf->cmds = v;
    v += mf->n;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->line = (int)mf->n + 1;
    v->name = name ? xllm_strdup(name) : NULL;
    v->value = xllm_strdup(value);
    mf->n++;
    if ((name && !v->name) || !v->value)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    return XLLM_OK;
}

/* One JSON scalar as Modelfile text. */
static int scalar_text(json_t *x, char *buf, size_t cap)
{
    if (json_is_string(x))
        snprintf(buf, cap, "%s", json_string_value(x));
    else if (json_is_integer(x))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(x));
    else if (json_is_real(x) && json_real_value(x) == (double)(long long)json_real_value(x) &&
             json_real_value(x) < 9e15 && json_real_value(x) > -9e15)
        snprintf(buf, cap, "%lld", (long long)json_real_value(x));
    else if (json_is_real(x))
        snprintf(buf, cap, "%.17g", json_real_value(x));
    else if (json_is_boolean(x))
        snprintf(buf, cap, "%s", json_is_true(x) ? "true" : "false");
    else
        return 0;
    return 1;
}

static xllm_status add_params(xllm_modelfile *mf, json_t *params)
{
    const char *k;
    json_t *v;
    char text[4096];
    xllm_status st = XLLM_OK;
    if (!params)
        return XLLM_OK;
    if (!json_is_object(params))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "parameters: want an object");
    json_object_foreach(params, k, v)
    {
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t i = 0; i < n && st == XLLM_OK; i++) {
            json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
            if (!scalar_text(x, text, sizeof text))
                return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "parameters.%s: want a number, string or boolean", k);
            st = add(mf, XLLM_MF_PARAMETER, k, text);
        }
    }
    return st;
}

static xllm_status add_text_field(xllm_modelfile *mf, json_t *req, const char *field, xllm_mf_kind kind)
{
    json_t *v = json_object_get(req, field);
    xllm_status st = XLLM_OK;
    if (!v || json_is_null(v))
        return XLLM_OK;
    if (json_is_string(v))
        return add(mf, kind, NULL, json_string_value(v));
    if (!json_is_array(v) || kind != XLLM_MF_LICENSE)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: want a string", field);
    for (size_t i = 0; i < json_array_size(v) && st == XLLM_OK; i++) {
        const char *t = json_string_value(json_array_get(v, i));
        st = t ? add(mf, kind, NULL, t) : xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: want strings", field);
    }
    return st;
}

static xllm_status add_messages(xllm_modelfile *mf, json_t *msgs)
{
    xllm_status st = XLLM_OK;
    if (!msgs || json_is_null(msgs))
        return XLLM_OK;
    if (!json_is_array(msgs))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "messages: want an array");
    for (size_t i = 0; i < json_array_size(msgs) && st == XLLM_OK; i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!role || !content || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT,
                             "messages[%zu]: want a role (system, user or assistant) and a content", i);
        st = add(mf, XLLM_MF_MESSAGE, role, content);
    }
    return st;
}

static xllm_status add_adapters(xllm_modelfile *mf, json_t *ad)
{
    const char *k;
    json_t *v;
    xllm_status st = XLLM_OK;
    if (!ad || json_is_null(ad))
        return XLLM_OK;
    if (!json_is_object(ad))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "adapters: want an object of file name -> digest");
    json_object_foreach(ad, k, v)
    {
        if (!json_is_string(v))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "adapters.%s: want a digest", k);
        if (st == XLLM_OK)
            st = add(mf, XLLM_MF_ADAPTER, NULL, json_string_value(v));
    }
    return st;
}

xllm_status xllm_store_create_request(xllm_store *s, const char *json, size_t len, const xllm_create_opts *o)
{
    json_error_t err;
    json_t *req = json_loadb(json, len, 0, &err), *files;
    const char *name, *from, *text, *q;
    xllm_modelfile mf;
    xllm_status st = XLLM_OK;
    memset(&mf, 0, sizeof mf);
    if (!json_is_object(req)) {
        json_decref(req);
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "request: invalid JSON (line %d: %s)", err.line, err.text);
    }
    name = json_string_value(json_object_get(req, "model"));
    if (!name)
        name = json_string_value(json_object_get(req, "name"));
    text = json_string_value(json_object_get(req, "modelfile"));
    from = json_string_value(json_object_get(req, "from"));
    files = json_object_get(req, "files");
    q = json_string_value(json_object_get(req, "quantize"));
    if (!name || !*name)
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "model: the name of the new model is required");
    else if (q && *q)
        st = xllm_fail(XLLM_ERR_UNSUPPORTED, "quantize: not supported yet (use 'xllm convert --type %s')", q);
    else if (files && !json_is_object(files))
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "files: want an object of file name -> digest");
    if (st == XLLM_OK && text && !from && !files) {
        st = xllm_modelfile_parse(text, strlen(text), "modelfile", &mf);
        if (st == XLLM_OK)
            st = xllm_store_create(s, name, &mf, o);
        xllm_modelfile_free(&mf);
        json_decref(req);
        return st;
    }
    if (st == XLLM_OK && !from && !files)
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "from or files: say what the model is built on");
    mf.label = xllm_strdup("request");
    if (st == XLLM_OK && from)
        st = add(&mf, XLLM_MF_FROM, NULL, from);
    if (st == XLLM_OK)
        st = add_adapters(&mf, json_object_get(req, "adapters"));
    if (st == XLLM_OK)
        st = add_text_field(&mf, req, "template", XLLM_MF_TEMPLATE);
    if (st == XLLM_OK)
        st = add_text_field(&mf, req, "system", XLLM_MF_SYSTEM);
    if (st == XLLM_OK)
        st = add_text_field(&mf, req, "license", XLLM_MF_LICENSE);
    if (st == XLLM_OK)
        st = add_params(&mf, json_object_get(req, "parameters"));
    if (st == XLLM_OK)
        st = add_messages(&mf, json_object_get(req, "messages"));
    if (st == XLLM_OK)
        st = store_create_run(s, name, &mf, files, o);
    xllm_modelfile_free(&mf);
    json_decref(req);
    return st;
}
