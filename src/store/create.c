/* create.c - building a model from a parsed Modelfile, and writing the
 * Modelfile of a stored model back. */
#include "store/create.h"

#include <dirent.h>
#include <sys/stat.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "format/gguf.h"
#include "store/store_internal.h"

typedef struct build {
    xllm_store *s;
    const xllm_create_opts *o;
    xllm_manifest m;
    json_t *params;   /* merged params object */
    json_t *messages; /* array or NULL (inherited layer kept) */
    store_added added;
    char family[64];
} build;

static void emit(const build *b, const char *status)
{
    xllm_pull_event ev = {status, NULL, 0, 0};
    if (b->o && b->o->progress)
        b->o->progress(&ev, b->o->ud);
}

static void emit_layer(const build *b, const char *what, const char *digest)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s %s", what, digest);
    emit(b, msg);
}

/* ~/x and relative paths; heap. */
static char *expand_path(const build *b, const char *v)
{
    char tmp[4096];
    if (!strncmp(v, "~/", 2) && getenv("HOME"))
        snprintf(tmp, sizeof tmp, "%s/%s", getenv("HOME"), v + 2);
    else if (v[0] != '/' && b->o && b->o->base_dir && strcmp(b->o->base_dir, ".") != 0)
        snprintf(tmp, sizeof tmp, "%s/%s", b->o->base_dir, v);
    else
        snprintf(tmp, sizeof tmp, "%s", v);
    return xllm_strdup(tmp);
}

static xllm_status add_blob_file(build *b, const char *path, const char *media, const char *title)
{
    char digest[XLLM_DIGEST_STR_LEN];
    uint64_t size = 0;
    int was_new = 0;
    xllm_status st;
    emit(b, "copying file");
    st = xllm_store_add_file(b->s, path, digest, &size, &was_new);
    if (st != XLLM_OK)
        return st;
    if (was_new && (st = store_added_push(&b->added, digest)) != XLLM_OK)
        return st;
    emit_layer(b, was_new ? "creating new layer" : "using existing layer", digest);
    return xllm_manifest_add(&b->m, media, digest, size, title);
}

static xllm_status add_text(build *b, const char *media, const char *text)
{
    char digest[XLLM_DIGEST_STR_LEN];
    int was_new = 0;
    xllm_status st = xllm_store_add_bytes(b->s, text, strlen(text), digest, &was_new);
    if (st != XLLM_OK)
        return st;
    if (was_new && (st = store_added_push(&b->added, digest)) != XLLM_OK)
        return st;
    emit_layer(b, was_new ? "creating new layer" : "using existing layer", digest);
    return xllm_manifest_add(&b->m, media, digest, strlen(text), NULL);
}

static int gguf_file(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(magic, 1, 4, f) : 0;
    if (f)
        fclose(f);
    return n == 4 && !memcmp(magic, "GGUF", 4);
}

static void read_family(build *b, const char *path)
{
    xllm_gguf *g = NULL;
    xllm_str s;
    if (xllm_gguf_open(path, &g) == XLLM_OK && xllm_gguf_get_str(g, "general.architecture", &s) == XLLM_OK)
        snprintf(b->family, sizeof b->family, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
    xllm_gguf_close(g);
    xllm_clear_error();
}

static int hf_dir_file(const char *name)
{
    static const char *keep[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
                                 "special_tokens_map.json", "tokenizer.model", "model.safetensors.index.json", NULL};
    size_t n = strlen(name);
    for (int i = 0; keep[i]; i++)
        if (!strcmp(name, keep[i]))
            return 1;
    return n > 12 && !strcmp(name + n - 12, ".safetensors");
}

static xllm_status from_hf_dir(build *b, const char *dir)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort), found_cfg = 0;
    xllm_status st = XLLM_OK;
    if (n < 0)
        return xllm_fail(XLLM_ERR_IO, "cannot read directory %s", dir);
    for (int i = 0; i < n; i++) {
        if (st == XLLM_OK && hf_dir_file(list[i]->d_name)) {
            char *p = xllm_path_join(dir, list[i]->d_name);
            found_cfg |= !strcmp(list[i]->d_name, "config.json");
            st = p ? add_blob_file(b, p, XLLM_MT_HF_FILE, list[i]->d_name) : XLLM_ERR_OUT_OF_MEMORY;
            xllm_free(p);
        }
        free(list[i]);
    }
    free(list);
    if (st == XLLM_OK && !found_cfg)
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: not a Hugging Face model directory (no config.json)", dir);
    return st;
}

/* FROM a store name: every layer of it (pulled first when missing). */
static xllm_status from_name(build *b, const char *name)
{
    xllm_manifest base;
    char *text = NULL;
    size_t len;
    xllm_status st = xllm_store_read_manifest(b->s, name, NULL, &base, NULL, NULL);
    if (st == XLLM_ERR_NOT_FOUND) {
        xllm_pull_opts po = {b->o ? b->o->progress : NULL, b->o ? b->o->ud : NULL, NULL};
        st = xllm_store_pull(b->s, name, &po);
        if (st == XLLM_OK)
            st = xllm_store_read_manifest(b->s, name, NULL, &base, NULL, NULL);
    }
    if (st != XLLM_OK)
        return xllm_fail_wrap(st, "FROM %s", name);
    for (size_t i = 0; i < base.n_layers && st == XLLM_OK; i++) {
        const xllm_layer *l = &base.layers[i];
        if (!strcmp(l->media_type, XLLM_MT_PARAMS)) {
            char *p = xllm_store_blob_path(b->s, l->digest);
            json_t *old = NULL;
            st = p ? xllm_read_file(p, 1u << 20, &text, &len) : XLLM_ERR_OUT_OF_MEMORY;
            xllm_free(p);
            if (st == XLLM_OK && (old = json_loads(text, 0, NULL)) && json_is_object(old))
                json_object_update(b->params, old);
            json_decref(old);
            xllm_free(text);
            text = NULL;
            continue;
        }
        emit_layer(b, "using existing layer", l->digest);
        st = xllm_manifest_add(&b->m, l->media_type, l->digest, l->size, l->title);
        if (st == XLLM_OK && !strcmp(l->media_type, XLLM_MT_MODEL)) {
            char *p = xllm_store_blob_path(b->s, l->digest);
            if (p)
                read_family(b, p);
            xllm_free(p);
        }
    }
    xllm_manifest_free(&base);
    return st;
}

static xllm_status from_cmd(build *b, const xllm_mf_cmd *c)
{
    const char *v = c->value[0] == '@' ? c->value + 1 : c->value;
    char *path;
    xllm_status st;
    if (xllm_digest_valid(v, 0)) {
        char *p = xllm_store_blob_path(b->s, v);
        st = p && xllm_path_exists(p) ? XLLM_OK : xllm_fail(XLLM_ERR_NOT_FOUND, "FROM %s: no such blob in the store", v);
        if (st == XLLM_OK && !gguf_file(p))
            st = xllm_fail(XLLM_ERR_FORMAT, "FROM %s: the blob is not a GGUF file", v);
        if (st == XLLM_OK) {
            struct stat sb; /* the blob's name is its digest: no need to hash it again */
            st = stat(p, &sb) == 0 ? xllm_manifest_add(&b->m, XLLM_MT_MODEL, v, (uint64_t)sb.st_size, NULL)
                                   : xllm_fail(XLLM_ERR_IO, "FROM %s: cannot stat the blob", v);
            read_family(b, p);
        }
        xllm_free(p);
        return st;
    }
    path = expand_path(b, c->value);
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    if (xllm_is_dir(path)) {
        st = from_hf_dir(b, path);
    } else if (xllm_path_exists(path)) {
        st = gguf_file(path) ? add_blob_file(b, path, XLLM_MT_MODEL, NULL)
                             : xllm_fail(XLLM_ERR_FORMAT, "FROM %s: not a GGUF file (no GGUF header)", path);
        if (st == XLLM_OK)
            read_family(b, path);
    } else if (c->value[0] == '.' || c->value[0] == '/' || c->value[0] == '~') {
        st = xllm_fail(XLLM_ERR_NOT_FOUND, "FROM %s: no such file or directory (looked for %s)", c->value, path);
    } else {
        st = from_name(b, c->value);
    }
    xllm_free(path);
    return st;
}

static xllm_status apply(build *b, const xllm_mf_cmd *c)
{
    switch (c->kind) {
    case XLLM_MF_FROM:
        return from_cmd(b, c);
    case XLLM_MF_PARAMETER:
        return XLLM_OK; /* collected in order by create() */
    case XLLM_MF_TEMPLATE:
        xllm_manifest_remove_type(&b->m, XLLM_MT_TEMPLATE);
        return add_text(b, XLLM_MT_TEMPLATE, c->value);
    case XLLM_MF_SYSTEM:
        xllm_manifest_remove_type(&b->m, XLLM_MT_SYSTEM);
        return add_text(b, XLLM_MT_SYSTEM, c->value);
    case XLLM_MF_LICENSE:
        return add_text(b, XLLM_MT_LICENSE, c->value);
    case XLLM_MF_ADAPTER: {
        char *p;
        xllm_status st;
        if (xllm_digest_valid(c->value, 0)) {
            if (!xllm_store_has_blob(b->s, c->value, UINT64_MAX))
                return xllm_fail(XLLM_ERR_NOT_FOUND, "ADAPTER %s: no such blob in the store", c->value);
            p = xllm_store_blob_path(b->s, c->value);
        } else {
            p = expand_path(b, c->value);
        }
        if (!p)
            return XLLM_ERR_OUT_OF_MEMORY;
        st = gguf_file(p) ? add_blob_file(b, p, XLLM_MT_ADAPTER, NULL)
                          : xllm_fail(XLLM_ERR_FORMAT, "ADAPTER %s: not a GGUF file", p);
        xllm_free(p);
        return st;
    }
    case XLLM_MF_MESSAGE: {
        json_t *m = json_object();
        if (!b->messages)
            b->messages = json_array();
        json_object_set_new(m, "role", json_string(c->name));
        json_object_set_new(m, "content", json_string(c->value));
        json_array_append_new(b->messages, m);
        return XLLM_OK;
    }
    }
    return XLLM_ERR_INTERNAL;
}

static xllm_status add_json_layer(build *b, const char *media, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    xllm_status st;
    if (!text)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    xllm_manifest_remove_type(&b->m, media);
    st = add_text(b, media, text);
    free(text);
    return st;
}

static xllm_status add_config(build *b)
{
    json_t *c = json_object(), *fam = json_array(), *diff = json_array(), *rootfs = json_object();
    char *text;
    xllm_status st;
    int was_new = 0;
    int is_hf = xllm_manifest_find(&b->m, XLLM_MT_HF_FILE) != NULL;
    for (size_t i = 0; i < b->m.n_layers; i++)
        json_array_append_new(diff, json_string(b->m.layers[i].digest));
    if (b->family[0])
        json_array_append_new(fam, json_string(b->family));
    json_object_set_new(c, "model_format", json_string(is_hf ? "safetensors" : "gguf"));
    json_object_set_new(c, "model_family", json_string(b->family));
    json_object_set_new(c, "model_families", fam);
    json_object_set_new(c, "model_type", json_string(""));
    json_object_set_new(c, "file_type", json_string(""));
    json_object_set_new(c, "architecture", json_string("amd64"));
    json_object_set_new(c, "os", json_string("linux"));
    json_object_set_new(rootfs, "type", json_string("layers"));
    json_object_set_new(rootfs, "diff_ids", diff);
    json_object_set_new(c, "rootfs", rootfs);
    text = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(c);
    if (!text)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    st = xllm_store_add_bytes(b->s, text, strlen(text), b->m.config.digest, &was_new);
    if (st == XLLM_OK && was_new)
        st = store_added_push(&b->added, b->m.config.digest);
    b->m.config.size = strlen(text);
    snprintf(b->m.config.media_type, sizeof b->m.config.media_type, "%s", XLLM_MT_CONFIG);
    b->m.has_config = 1;
    free(text);
    return st;
}

/* files: {"file name": "sha256:<hex>"} of blobs already in the store (the
 * /api/create "files" field): one GGUF becomes the model layer, otherwise
 * each file a Hugging Face file layer. */
static xllm_status from_files(build *b, json_t *files)
{
    const char *fname;
    json_t *v;
    size_t n_gguf = 0;
    json_object_foreach(files, fname, v)
    {
        size_t n = strlen(fname);
        n_gguf += n > 5 && !strcmp(fname + n - 5, ".gguf");
    }
    json_object_foreach(files, fname, v)
    {
        const char *d = json_string_value(v);
        char *p;
        uint64_t size;
        struct stat sb;
        int gguf = n_gguf == 1 && strlen(fname) > 5 && !strcmp(fname + strlen(fname) - 5, ".gguf");
        xllm_status st;
        if (!store_title_ok(fname))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "files: bad file name '%.80s'", fname);
        if (!d || !xllm_digest_valid(d, 0))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "files: %s: want a \"sha256:<hex>\" digest", fname);
        p = xllm_store_blob_path(b->s, d);
        if (!p)
            return XLLM_ERR_OUT_OF_MEMORY;
        if (stat(p, &sb) != 0) {
            xllm_free(p);
            return xllm_fail(XLLM_ERR_NOT_FOUND, "files: %s: blob %s is not in the store (upload it first)", fname, d);
        }
        size = (uint64_t)sb.st_size;
        if (gguf)
            read_family(b, p);
        xllm_free(p);
        emit_layer(b, "using existing layer", d);
        st = xllm_manifest_add(&b->m, gguf ? XLLM_MT_MODEL : XLLM_MT_HF_FILE, d, size, gguf ? NULL : fname);
        if (st != XLLM_OK)
            return st;
    }
    return XLLM_OK;
}

xllm_status xllm_store_create(xllm_store *s, const char *name, const xllm_modelfile *mf, const xllm_create_opts *o)
{
    return store_create_run(s, name, mf, NULL, o);
}

xllm_status store_create_run(xllm_store *s, const char *name, const xllm_modelfile *mf, void *files,
                             const xllm_create_opts *o)
{
    build b;
    xllm_model_name n;
    char *bytes = NULL;
    size_t len = 0;
    json_t *newp = json_object();
    xllm_status st = xllm_model_name_parse(name, &n);
    memset(&b, 0, sizeof b);
    b.s = s;
    b.o = o;
    b.params = json_object();
    if (st == XLLM_OK)
        emit(&b, "gathering model components");
    /* FROM first, wherever it is written; then the rest in order. */
    for (size_t i = 0; st == XLLM_OK && i < mf->n; i++)
        if (mf->cmds[i].kind == XLLM_MF_FROM) {
            st = apply(&b, &mf->cmds[i]);
            if (st != XLLM_OK)
                st = xllm_fail_wrap(st, "%s:%d", mf->label, mf->cmds[i].line);
        }
    for (size_t i = 0; st == XLLM_OK && i < mf->n; i++) {
        if (mf->cmds[i].kind == XLLM_MF_FROM)
            continue;
        if (mf->cmds[i].kind == XLLM_MF_PARAMETER)
            st = xllm_params_set(newp, mf->cmds[i].name, mf->cmds[i].value);
        else
            st = apply(&b, &mf->cmds[i]);
        if (st != XLLM_OK)
            st = xllm_fail_wrap(st, "%s:%d", mf->label, mf->cmds[i].line);
    }
    if (st == XLLM_OK && files)
        st = from_files(&b, files);
    if (st == XLLM_OK && !xllm_manifest_find(&b.m, XLLM_MT_MODEL) && !xllm_manifest_find(&b.m, XLLM_MT_HF_FILE))
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: FROM gave no model weights", mf->label);
    if (st == XLLM_OK) {
        json_object_update(b.params, newp);
        if (json_object_size(b.params))
            st = add_json_layer(&b, XLLM_MT_PARAMS, b.params);
    }
    if (st == XLLM_OK && b.messages)
        st = add_json_layer(&b, XLLM_MT_MESSAGES, b.messages);
    if (st == XLLM_OK)
        st = add_config(&b);
    if (st == XLLM_OK)
        st = xllm_manifest_serialize(&b.m, &bytes, &len);
    if (st == XLLM_OK) {
        emit(&b, "writing manifest");
        st = xllm_store_write_manifest(s, &n, bytes, len);
    }
    if (st == XLLM_OK) {
        store_added_free(&b.added);
        emit(&b, "success");
    } else {
        store_added_rollback(s, &b.added);
    }
    xllm_free(bytes);
    json_decref(newp);
    json_decref(b.params);
    json_decref(b.messages);
    xllm_manifest_free(&b.m);
    return st;
}

/* ---- Modelfile text of a stored model ------------------------------------------- */

static void param_lines(xllm_buf *b, const char *params_json)
{
    json_t *o = params_json ? json_loads(params_json, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    json_object_foreach(o, k, v)
    {
        json_t *items = json_is_array(v) ? v : NULL;
        size_t n = items ? json_array_size(items) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *x = items ? json_array_get(items, i) : v;
            char num[64];
            const char *text = num;
            if (json_is_string(x))
                text = json_string_value(x);
            else if (json_is_integer(x))
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(x));
            else if (json_is_real(x))
                snprintf(num, sizeof num, "%.15g", json_real_value(x));
            else if (json_is_boolean(x))
                snprintf(num, sizeof num, "%s", json_is_true(x) ? "true" : "false");
            else
                continue;
            xllm_buf_printf(b, "PARAMETER %s ", k);
            xllm_modelfile_quote(b, text, 0);
            xllm_buf_puts(b, "\n");
        }
    }
    json_decref(o);
}

xllm_status xllm_store_modelfile_text(const xllm_model_ref *r, char **out)
{
    xllm_buf b;
    xllm_buf_init(&b, 0);
    xllm_buf_printf(&b, "# Modelfile generated by \"xllm show\"\n# To build a new Modelfile based on this, replace "
                        "FROM with:\n# FROM %s\n\nFROM %s\n",
                    r->entry.display, r->model_path);
    for (size_t i = 0; i < r->n_adapters; i++)
        xllm_buf_printf(&b, "ADAPTER %s\n", r->adapter_paths[i]);
    if (r->template_text) {
        xllm_buf_puts(&b, "TEMPLATE ");
        xllm_modelfile_quote(&b, r->template_text, 1);
        xllm_buf_puts(&b, "\n");
    }
    if (r->system) {
        xllm_buf_puts(&b, "SYSTEM ");
        xllm_modelfile_quote(&b, r->system, 1);
        xllm_buf_puts(&b, "\n");
    }
    param_lines(&b, r->params_json);
    if (r->messages_json) {
        json_t *a = json_loads(r->messages_json, 0, NULL);
        for (size_t i = 0; json_is_array(a) && i < json_array_size(a); i++) {
            json_t *m = json_array_get(a, i);
            const char *role = json_string_value(json_object_get(m, "role"));
            const char *content = json_string_value(json_object_get(m, "content"));
            if (!role || !content)
                continue;
            xllm_buf_printf(&b, "MESSAGE %s ", role);
            xllm_modelfile_quote(&b, content, 0);
            xllm_buf_puts(&b, "\n");
        }
        json_decref(a);
    }
    for (size_t i = 0; i < r->n_licenses; i++) {
        xllm_buf_puts(&b, "LICENSE ");
        xllm_modelfile_quote(&b, r->licenses[i], 1);
        xllm_buf_puts(&b, "\n");
    }
    if (!b.data) {
        xllm_buf_free(&b);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    }
    *out = xllm_buf_take(&b);
    return XLLM_OK;
}
