/* manifest.c - parsing and writing Ollama (Docker v2) manifests with jansson. */
#include "store/manifest.h"

#include <jansson.h>
#include <string.h>

#include "base/alloc.h"

static xllm_status layer_parse(json_t *o, xllm_layer *l, const char *where)
{
    json_t *mt = json_object_get(o, "mediaType"), *dg = json_object_get(o, "digest");
    json_t *sz = json_object_get(o, "size"), *ann = json_object_get(o, "annotations");
    memset(l, 0, sizeof *l);
    if (!json_is_string(mt) || !json_is_string(dg) || !json_is_integer(sz) || json_integer_value(sz) < 0)
        return xllm_fail(XLLM_ERR_FORMAT, "manifest: %s lacks mediaType, digest or size", where);
    if (!xllm_digest_valid(json_string_value(dg), 0))
        return xllm_fail(XLLM_ERR_FORMAT, "manifest: %s has a bad digest '%.80s'", where, json_string_value(dg));
    if (strlen(json_string_value(mt)) >= sizeof l->media_type)
        return xllm_fail(XLLM_ERR_FORMAT, "manifest: %s media type too long", where);
    strcpy(l->media_type, json_string_value(mt));
    strcpy(l->digest, json_string_value(dg));
    l->size = (uint64_t)json_integer_value(sz);
    if (json_is_object(ann)) {
        json_t *t = json_object_get(ann, "org.opencontainers.image.title");
        if (json_is_string(t)) {
            l->title = xllm_strdup(json_string_value(t));
            if (!l->title)
                return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "manifest: no memory");
        }
    }
    return XLLM_OK;
}

xllm_status xllm_manifest_parse(const char *json, size_t len, xllm_manifest *out)
{
    json_error_t err;
    json_t *root, *cfg, *layers;
    xllm_status st = XLLM_ERR_FORMAT;
    memset(out, 0, sizeof *out);
    root = json_loadb(json, len, 0, &err);
    if (!root)
        return xllm_fail(XLLM_ERR_FORMAT, "manifest: invalid JSON at line %d column %d: %s", err.line, err.column,
                         err.text);
    if (!json_is_object(root)) {
        xllm_fail(XLLM_ERR_FORMAT, "manifest: not a JSON object");
        goto out;
    }
    cfg = json_object_get(root, "config");
    if (json_is_object(cfg)) {
        st = layer_parse(cfg, &out->config, "config");
        if (st != XLLM_OK)
            goto out;
        out->has_config = 1;
    }
    layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        st = xllm_fail(XLLM_ERR_FORMAT, "manifest: no \"layers\" array");
        goto out;
    }
    if (json_array_size(layers)) {
        out->layers = xllm_calloc(json_array_size(layers), sizeof *out->layers);
        if (!out->layers) {
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "manifest: no memory");
            goto out;
        }
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        char where[32];
        snprintf(where, sizeof where, "layer %zu", i);
        st = layer_parse(json_array_get(layers, i), &out->layers[i], where);
        if (st != XLLM_OK)
            goto out;
        out->n_layers = i + 1;
    }
    st = XLLM_OK;
out:
    json_decref(root);
    if (st != XLLM_OK)
        xllm_manifest_free(out);
    return st;
}

static json_t *layer_json(const xllm_layer *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "mediaType", json_string(l->media_type));
    json_object_set_new(o, "digest", json_string(l->digest));
    json_object_set_new(o, "size", json_integer((json_int_t)l->size));
    if (l->title) {
        json_t *a = json_object();
        json_object_set_new(a, "org.opencontainers.image.title", json_string(l->title));
        json_object_set_new(o, "annotations", a);
    }
    return o;
}

xllm_status xllm_manifest_serialize(const xllm_manifest *m, char **out, size_t *len)
{
    json_t *root = json_object(), *layers = json_array();
    char *s;
    json_object_set_new(root, "schemaVersion", json_integer(2));
    json_object_set_new(root, "mediaType", json_string(XLLM_MT_MANIFEST));
    if (m->has_config)
        json_object_set_new(root, "config", layer_json(&m->config));
    for (size_t i = 0; i < m->n_layers; i++)
        json_array_append_new(layers, layer_json(&m->layers[i]));
    json_object_set_new(root, "layers", layers);
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "manifest: no memory to write it");
    *out = xllm_strdup(s);
    free(s);
    if (!*out)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "manifest: no memory to write it");
    if (len)
        *len = strlen(*out);
    return XLLM_OK;
}

void xllm_manifest_free(xllm_manifest *m)
{
    for (size_t i = 0; i < m->n_layers; i++)
        xllm_free(m->layers[i].title);
    xllm_free(m->layers);
    xllm_free(m->config.title);
    memset(m, 0, sizeof *m);
}

xllm_status xllm_manifest_add(xllm_manifest *m, const char *media_type, const char *digest, uint64_t size,
                              const char *title)
{
    xllm_layer *l = xllm_realloc(m->layers, (m->n_layers + 1) * sizeof *l);
    if (!l)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "manifest: no memory");
    m->layers = l;
    l += m->n_layers;
    memset(l, 0, sizeof *l);
    snprintf(l->media_type, sizeof l->media_type, "%s", media_type);
    snprintf(l->digest, sizeof l->digest, "%s", digest);
    l->size = size;
    if (title && !(l->title = xllm_strdup(title)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "manifest: no memory");
    m->n_layers++;
    return XLLM_OK;
}

void xllm_manifest_remove_type(xllm_manifest *m, const char *media_type)
{
    size_t j = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        if (!strcmp(m->layers[i].media_type, media_type)) {
            xllm_free(m->layers[i].title);
            continue;
        }
        m->layers[j++] = m->layers[i];
    }
    m->n_layers = j;
}

const xllm_layer *xllm_manifest_find(const xllm_manifest *m, const char *media_type)
{
    for (size_t i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].media_type, media_type))
            return &m->layers[i];
    return NULL;
}

uint64_t xllm_manifest_size(const xllm_manifest *m)
{
    uint64_t s = m->has_config ? m->config.size : 0;
    for (size_t i = 0; i < m->n_layers; i++)
        s += m->layers[i].size;
    return s;
}
