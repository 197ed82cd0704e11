/* store.c - the model store: opening, listing, resolving, deleting (blobs
 * reference-counted by scanning manifests), copying, and writing blobs and
 * manifests atomically. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "store/store_internal.h"

xllm_status store_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return xllm_fail(XLLM_ERR_LIMIT, "path too long: %s", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0)
            continue;
        tmp[i] = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return xllm_fail(XLLM_ERR_IO, "cannot create directory %s: %s", tmp, strerror(errno));
        tmp[i] = i == n ? 0 : '/';
    }
    if (!xllm_is_dir(path))
        return xllm_fail(XLLM_ERR_IO, "%s exists and is not a directory", path);
    return XLLM_OK;
}

static void remove_partials(const char *blobs)
{
    DIR *d = opendir(blobs);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 8 && !strcmp(e->d_name + n - 8, ".partial")) {
            char *p = xllm_path_join(blobs, e->d_name);
            int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
            /* a live writer (this or another process) holds a lock on it */
            if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
                unlink(p);
            if (fd >= 0)
                close(fd);
            xllm_free(p);
        }
    }
    closedir(d);
}

xllm_status xllm_store_open(const char *dir, xllm_store **out)
{
    xllm_store *s;
    xllm_status st;
    char def[4096];
    *out = NULL;
    if (!dir || !*dir)
        dir = getenv("XLLM_MODELS_DIR");
    if (!dir || !*dir) {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "no models directory: set XLLM_MODELS_DIR or HOME");
        snprintf(def, sizeof def, "%s/.xllm/models", home);
        dir = def;
    }
    s = xllm_calloc(1, sizeof *s);
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    s->dir = xllm_strdup(dir);
    s->blobs = xllm_path_join(dir, "blobs");
    s->manifests = xllm_path_join(dir, "manifests");
    if (!s->dir || !s->blobs || !s->manifests) {
        xllm_store_close(s);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    }
    if ((st = store_mkdirs(s->blobs)) != XLLM_OK || (st = store_mkdirs(s->manifests)) != XLLM_OK) {
        xllm_store_close(s);
        return xllm_fail_wrap(st, "models directory %s", dir);
    }
    remove_partials(s->blobs);
    *out = s;
    return XLLM_OK;
}

void xllm_store_close(xllm_store *s)
{
    if (!s)
        return;
    xllm_free(s->dir);
    xllm_free(s->blobs);
    xllm_free(s->manifests);
    xllm_free(s);
}

const char *xllm_store_dir(const xllm_store *s) { return s->dir; }

char *xllm_store_blob_path(const xllm_store *s, const char *digest)
{
    char name[80];
    char *p;
    if (!xllm_digest_valid(digest, 1)) {
        xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "malformed digest '%.80s' (want sha256:<64 hex digits>)", digest);
        return NULL;
    }
    snprintf(name, sizeof name, "sha256-%s", digest + 7);
    p = xllm_path_join(s->blobs, name);
    if (!p)
        xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    return p;
}

char *store_partial_path(const xllm_store *s, const char *digest)
{
    char name[96];
    char *p;
    if (!xllm_digest_valid(digest, 1)) {
        xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "malformed digest '%.80s'", digest);
        return NULL;
    }
    snprintf(name, sizeof name, "sha256-%s.partial", digest + 7);
    p = xllm_path_join(s->blobs, name);
    if (!p)
        xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    return p;
}

int xllm_store_has_blob(const xllm_store *s, const char *digest, uint64_t size)
{
    struct stat sb;
    char *p = xllm_store_blob_path(s, digest);
    int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (size == UINT64_MAX || (uint64_t)sb.st_size == size);
    xllm_free(p);
    xllm_clear_error();
    return ok;
}

/* ---- walking the manifests --------------------------------------------- */

typedef int (*walk_fn)(const xllm_model_name *n, const char *path, void *ud);

static int skip_entry(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n > 8 && !strcmp(name + n - 8, ".partial"));
}

/* Visit manifests/<host>/<ns>/<model>/<tag>: depth 0..3 are directories. */
static int walk_level(const char *dir, int depth, char parts[4][XLLM_NAME_HOST_MAX + 1], walk_fn fn, void *ud,
                      int *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int stop = 0;
    if (!d)
        return 0;
    while (!stop && (e = readdir(d))) {
        char *p;
        if (skip_entry(e->d_name) || strlen(e->d_name) > XLLM_NAME_HOST_MAX)
            continue;
        p = xllm_path_join(dir, e->d_name);
        if (!p)
            break;
        strcpy(parts[depth], e->d_name);
        if (depth < 3) {
            if (xllm_is_dir(p))
                stop = walk_level(p, depth + 1, parts, fn, ud, count);
        } else if (!xllm_is_dir(p) && ++*count <= XLLM_STORE_MAX_MANIFESTS) {
            char full[XLLM_NAME_STR_MAX + 8];
            xllm_model_name n;
            snprintf(full, sizeof full, "%s/%s/%s:%s", parts[0], parts[1], parts[2], parts[3]);
            if (xllm_model_name_parse(full, &n) == XLLM_OK)
                stop = fn(&n, p, ud);
            xllm_clear_error();
        }
        xllm_free(p);
    }
    closedir(d);
    return stop;
}

static void walk_manifests(xllm_store *s, walk_fn fn, void *ud)
{
    char parts[4][XLLM_NAME_HOST_MAX + 1];
    int count = 0;
    walk_level(s->manifests, 0, parts, fn, ud, &count);
}

static xllm_status read_entry(const xllm_model_name *n, const char *path, xllm_store_entry *e, xllm_manifest *m,
                              char **bytes, size_t *len)
{
    char *data = NULL, hex[65];
    size_t dlen = 0;
    struct stat sb;
    xllm_manifest tmp;
    xllm_status st = xllm_read_file(path, XLLM_STORE_MAX_MANIFEST, &data, &dlen);
    if (st != XLLM_OK)
        return st;
    st = xllm_manifest_parse(data, dlen, &tmp);
    if (st != XLLM_OK) {
        xllm_free(data);
        return xllm_fail_wrap(st, "%s", path);
    }
    memset(e, 0, sizeof *e);
    e->name = *n;
    xllm_model_name_display(n, e->display, sizeof e->display);
    xllm_sha256_buf(data, dlen, hex);
    snprintf(e->digest, sizeof e->digest, "sha256:%s", hex);
    memcpy(e->id, hex, 12);
    e->size = xllm_manifest_size(&tmp);
    e->modified = stat(path, &sb) == 0 ? (int64_t)sb.st_mtime : 0;
    if (m)
        *m = tmp;
    else
        xllm_manifest_free(&tmp);
    if (bytes) {
        *bytes = data;
        *len = dlen;
    } else {
        xllm_free(data);
    }
    return XLLM_OK;
}

typedef struct list_ctx {
    xllm_store_entry *v;
    size_t n, cap;
    int oom;
} list_ctx;

static int list_visit(const xllm_model_name *n, const char *path, void *ud)
{
    list_ctx *c = ud;
    xllm_store_entry e;
    if (read_entry(n, path, &e, NULL, NULL, NULL) != XLLM_OK) {
        xllm_clear_error();
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        xllm_store_entry *v = xllm_realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return 1;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = e;
    return 0;
}

static int by_modified_desc(const void *a, const void *b)
{
    const xllm_store_entry *x = a, *y = b;
    if (x->modified != y->modified)
        return x->modified < y->modified ? 1 : -1;
    return strcmp(x->display, y->display);
}

xllm_status xllm_store_list(xllm_store *s, xllm_store_entry **out, size_t *n)
{
    list_ctx c = {0};
    walk_manifests(s, list_visit, &c);
    if (c.oom) {
        xllm_free(c.v);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory to list the models");
    }
    if (c.n)
        qsort(c.v, c.n, sizeof *c.v, by_modified_desc);
    *out = c.v;
    *n = c.n;
    return XLLM_OK;
}

/* ---- finding one manifest ------------------------------------------------ */

typedef struct find_ctx {
    const xllm_model_name *want;
    xllm_model_name found;
    char *path;
} find_ctx;

static int find_visit(const xllm_model_name *n, const char *path, void *ud)
{
    find_ctx *c = ud;
    if (!xllm_model_name_equal(n, c->want))
        return 0;
    c->found = *n;
    c->path = xllm_strdup(path);
    return 1;
}

/* Manifest path of a parsed name (heap), or NULL when there is none. */
static char *find_manifest(xllm_store *s, const xllm_model_name *n, xllm_model_name *found)
{
    char rel[XLLM_NAME_STR_MAX + 8];
    char *p;
    find_ctx c;
    memset(&c, 0, sizeof c);
    c.want = n;
    xllm_model_name_path(n, rel, sizeof rel);
    p = xllm_path_join(s->manifests, rel);
    if (p && xllm_path_exists(p) && !xllm_is_dir(p)) {
        *found = *n;
        return p;
    }
    xllm_free(p);
    walk_manifests(s, find_visit, &c);
    *found = c.found;
    return c.path;
}

static xllm_status not_found(const char *name)
{
    return xllm_fail(XLLM_ERR_NOT_FOUND, "model '%s' not found (see 'xllm list'; fetch it with 'xllm pull %s')", name,
                     name);
}

xllm_status xllm_store_read_manifest(xllm_store *s, const char *name, xllm_store_entry *entry, xllm_manifest *m,
                                     char **bytes, size_t *len)
{
    xllm_model_name n, found;
    xllm_store_entry tmp;
    char *path;
    xllm_status st = xllm_model_name_parse(name, &n);
    if (st != XLLM_OK)
        return st;
    path = find_manifest(s, &n, &found);
    if (!path)
        return not_found(name);
    st = read_entry(&found, path, entry ? entry : &tmp, m, bytes, len);
    xllm_free(path);
    return st;
}

/* ---- resolve ---------------------------------------------------------------- */

static xllm_status read_text_layer(xllm_store *s, const xllm_layer *l, char **out)
{
    char *p = xllm_store_blob_path(s, l->digest);
    size_t len;
    xllm_status st;
    if (!p)
        return XLLM_ERR_INVALID_ARGUMENT;
    st = xllm_read_file(p, XLLM_STORE_MAX_TEXT_LAYER, out, &len);
    xllm_free(p);
    return st;
}

static xllm_status push_str(char ***v, size_t *n, char *s)
{
    char **nv;
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    nv = xllm_realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) {
        xllm_free(s);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    }
    nv[(*n)++] = s;
    *v = nv;
    return XLLM_OK;
}

/* Every layer present with its size; the model layer a GGUF. */
static xllm_status check_blobs(xllm_store *s, const xllm_model_ref *r)
{
    for (size_t i = 0; i <= r->manifest.n_layers; i++) {
        const xllm_layer *l = i < r->manifest.n_layers ? &r->manifest.layers[i] : &r->manifest.config;
        char *p;
        struct stat sb;
        const char *why = NULL;
        char detail[160] = "";
        if (i == r->manifest.n_layers && !r->manifest.has_config)
            break;
        p = xllm_store_blob_path(s, l->digest);
        if (!p)
            return XLLM_ERR_INVALID_ARGUMENT;
        if (stat(p, &sb) != 0) {
            why = "is missing";
        } else if ((uint64_t)sb.st_size != l->size) {
            why = "has the wrong size";
            snprintf(detail, sizeof detail, " (%llu bytes, the manifest says %llu)", (unsigned long long)sb.st_size,
                     (unsigned long long)l->size);
        } else if (!strcmp(l->media_type, XLLM_MT_MODEL) || !strcmp(l->media_type, XLLM_MT_PROJECTOR) ||
                   !strcmp(l->media_type, XLLM_MT_ADAPTER)) {
            unsigned char magic[4] = {0};
            FILE *f = fopen(p, "rb");
            size_t got = f ? fread(magic, 1, 4, f) : 0;
            if (f)
                fclose(f);
            if (got != 4 || memcmp(magic, "GGUF", 4) != 0)
                why = "is not a GGUF file (bad header)";
        }
        if (why) {
            xllm_status st = xllm_fail(XLLM_ERR_FORMAT,
                                       "model '%s' is damaged: blob %s (%s) %s%s; remove and download it again "
                                       "with: xllm rm %s && xllm pull %s",
                                       r->entry.display, p, l->media_type, why, detail, r->entry.display,
                                       r->entry.display);
            xllm_free(p);
            return st;
        }
        xllm_free(p);
    }
    return XLLM_OK;
}

static xllm_status resolve_layers(xllm_store *s, xllm_model_ref *r)
{
    xllm_status st = XLLM_OK;
    int n_hf = 0;
    for (size_t i = 0; i < r->manifest.n_layers && st == XLLM_OK; i++) {
        const xllm_layer *l = &r->manifest.layers[i];
        const char *mt = l->media_type;
        char *text = NULL;
        if (!strcmp(mt, XLLM_MT_MODEL)) {
            xllm_free(r->model_path);
            r->model_path = xllm_store_blob_path(s, l->digest);
        } else if (!strcmp(mt, XLLM_MT_PROJECTOR)) {
            xllm_free(r->projector_path);
            r->projector_path = xllm_store_blob_path(s, l->digest);
        } else if (!strcmp(mt, XLLM_MT_ADAPTER)) {
            st = push_str(&r->adapter_paths, &r->n_adapters, xllm_store_blob_path(s, l->digest));
        } else if (!strcmp(mt, XLLM_MT_HF_FILE)) {
            n_hf++;
        } else if (!strcmp(mt, XLLM_MT_TEMPLATE) || !strcmp(mt, XLLM_MT_SYSTEM) || !strcmp(mt, XLLM_MT_PARAMS) ||
                   !strcmp(mt, XLLM_MT_MESSAGES) || !strcmp(mt, XLLM_MT_LICENSE)) {
            char **dst = !strcmp(mt, XLLM_MT_TEMPLATE) ? &r->template_text
                         : !strcmp(mt, XLLM_MT_SYSTEM) ? &r->system
                         : !strcmp(mt, XLLM_MT_PARAMS) ? &r->params_json
                         : !strcmp(mt, XLLM_MT_MESSAGES) ? &r->messages_json
                                                          : NULL;
            st = read_text_layer(s, l, &text);
            if (st != XLLM_OK)
                break;
            if (dst) {
                xllm_free(*dst);
                *dst = text;
            } else {
                st = push_str(&r->licenses, &r->n_licenses, text);
            }
        }
    }
    if (st == XLLM_OK && r->manifest.has_config)
        st = read_text_layer(s, &r->manifest.config, &r->config_json);
    if (st == XLLM_OK && !r->model_path && n_hf) {
        st = store_hf_dir(s, r, &r->model_path);
        r->model_is_dir = 1;
    }
    if (st == XLLM_OK && !r->model_path)
        st = xllm_fail(XLLM_ERR_FORMAT, "model '%s' has no model layer", r->entry.display);
    return st;
}

xllm_status xllm_store_resolve(xllm_store *s, const char *name, xllm_model_ref *out)
{
    xllm_status st;
    memset(out, 0, sizeof *out);
    st = xllm_store_read_manifest(s, name, &out->entry, &out->manifest, NULL, NULL);
    if (st == XLLM_OK)
        st = check_blobs(s, out);
    if (st == XLLM_OK)
        st = resolve_layers(s, out);
    if (st != XLLM_OK)
        xllm_model_ref_free(out);
    return st;
}

void xllm_model_ref_free(xllm_model_ref *r)
{
    xllm_manifest_free(&r->manifest);
    xllm_free(r->model_path);
    xllm_free(r->projector_path);
    for (size_t i = 0; i < r->n_adapters; i++)
        xllm_free(r->adapter_paths[i]);
    xllm_free(r->adapter_paths);
    for (size_t i = 0; i < r->n_licenses; i++)
        xllm_free(r->licenses[i]);
    xllm_free(r->licenses);
    xllm_free(r->template_text);
    xllm_free(r->system);
    xllm_free(r->params_json);
    xllm_free(r->messages_json);
    xllm_free(r->config_json);
    memset(r, 0, sizeof *r);
}

/* ---- reference counting ------------------------------------------------------ */

typedef struct ref_ctx {
    const char (*digests)[XLLM_DIGEST_STR_LEN];
    size_t n;
    unsigned char *used; /* [n] */
} ref_ctx;

static int ref_visit(const xllm_model_name *n, const char *path, void *ud)
{
    ref_ctx *c = ud;
    xllm_store_entry e;
    xllm_manifest m;
    (void)n;
    if (read_entry(n, path, &e, &m, NULL, NULL) != XLLM_OK) {
        xllm_clear_error();
        return 0;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (m.has_config && !strcmp(m.config.digest, c->digests[i]))
            c->used[i] = 1;
        for (size_t j = 0; j < m.n_layers && !c->used[i]; j++)
            if (!strcmp(m.layers[j].digest, c->digests[i]))
                c->used[i] = 1;
    }
    xllm_manifest_free(&m);
    return 0;
}

void store_prune_blobs(xllm_store *s, const char (*digests)[XLLM_DIGEST_STR_LEN], size_t n)
{
    ref_ctx c = {digests, n, NULL};
    if (!n)
        return;
    c.used = xllm_calloc(n, 1);
    if (!c.used)
        return; /* keeping blobs is the safe failure */
    walk_manifests(s, ref_visit, &c);
    for (size_t i = 0; i < n; i++) {
        char *p;
        if (c.used[i])
            continue;
        p = xllm_store_blob_path(s, digests[i]);
        if (p)
            unlink(p);
        xllm_free(p);
    }
    xllm_free(c.used);
    xllm_clear_error();
}

xllm_status store_added_push(store_added *a, const char *digest)
{
    char (*v)[XLLM_DIGEST_STR_LEN] = xllm_realloc(a->digests, (a->n + 1) * sizeof *v);
    if (!v)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    snprintf(v[a->n++], XLLM_DIGEST_STR_LEN, "%s", digest);
    a->digests = v;
    return XLLM_OK;
}

void store_added_rollback(xllm_store *s, store_added *a)
{
    char saved[XLLM_MAX_ERROR_MESSAGE];
    snprintf(saved, sizeof saved, "%s", xllm_last_error()); /* pruning clears it */
    store_prune_blobs(s, (const char (*)[XLLM_DIGEST_STR_LEN])a->digests, a->n);
    store_added_free(a);
    if (saved[0])
        xllm_fail(XLLM_ERR_INTERNAL, "%s", saved);
}

void store_added_free(store_added *a)
{
    xllm_free(a->digests);
    a->digests = NULL;
    a->n = 0;
}

/* Remove empty directories from dir up to (not including) stop. */
static void remove_empty_parents(const char *path, const char *stop)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (;;) {
        char *slash = strrchr(tmp, '/');
        if (!slash)
            return;
        *slash = 0;
        if (strlen(tmp) <= strlen(stop) || rmdir(tmp) != 0)
            return;
    }
}

xllm_status xllm_store_delete(xllm_store *s, const char *name)
{
    xllm_model_name n, found;
    xllm_store_entry e;
    xllm_manifest m;
    char (*digests)[XLLM_DIGEST_STR_LEN] = NULL;
    size_t nd = 0;
    char *path;
    xllm_status st = xllm_model_name_parse(name, &n);
    if (st != XLLM_OK)
        return st;
    path = find_manifest(s, &n, &found);
    if (!path)
        return not_found(name);
    st = read_entry(&found, path, &e, &m, NULL, NULL);
    if (st != XLLM_OK) {
        /* An unreadable manifest is still removed: it is what the user asked. */
        xllm_clear_error();
        memset(&m, 0, sizeof m);
    }
    digests = xllm_calloc(m.n_layers + 1, sizeof *digests);
    if (!digests) {
        xllm_manifest_free(&m);
        xllm_free(path);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    }
    for (size_t i = 0; i < m.n_layers; i++)
        strcpy(digests[nd++], m.layers[i].digest);
    if (m.has_config)
        strcpy(digests[nd++], m.config.digest);
    if (unlink(path) != 0) {
        st = xllm_fail(XLLM_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    } else {
        remove_empty_parents(path, s->manifests);
        store_prune_blobs(s, (const char (*)[XLLM_DIGEST_STR_LEN])digests, nd);
        if (st == XLLM_OK)
            store_hf_dir_remove(s, e.digest);
        st = XLLM_OK;
    }
    xllm_free(digests);
    xllm_manifest_free(&m);
    xllm_free(path);
    return st;
}

/* The digests of the manifest at path (heap array), NULL when none/unreadable. */
static char (*old_digests(const char *path, size_t *n))[XLLM_DIGEST_STR_LEN]
{
    char *data = NULL;
    size_t len = 0;
    xllm_manifest m;
    char (*v)[XLLM_DIGEST_STR_LEN] = NULL;
    *n = 0;
    if (!xllm_path_exists(path) || xllm_read_file(path, XLLM_STORE_MAX_MANIFEST, &data, &len) != XLLM_OK) {
        xllm_clear_error();
        return NULL;
    }
    if (xllm_manifest_parse(data, len, &m) == XLLM_OK) {
        v = xllm_calloc(m.n_layers + 1, sizeof *v);
        for (size_t i = 0; v && i < m.n_layers; i++)
            strcpy(v[(*n)++], m.layers[i].digest);
        if (v && m.has_config)
            strcpy(v[(*n)++], m.config.digest);
        xllm_manifest_free(&m);
    }
    xllm_clear_error();
    xllm_free(data);
    return v;
}

xllm_status xllm_store_write_manifest(xllm_store *s, const xllm_model_name *name, const char *bytes, size_t len)
{
    char (*old)[XLLM_DIGEST_STR_LEN] = NULL;
    size_t n_old = 0;
    char rel[XLLM_NAME_STR_MAX + 8];
    char *path, *dir, *slash;
    xllm_atomic_file af;
    xllm_status st;
    xllm_model_name_path(name, rel, sizeof rel);
    path = xllm_path_join(s->manifests, rel);
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    dir = xllm_strdup(path);
    if (!dir) {
        xllm_free(path);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    }
    slash = strrchr(dir, '/');
    *slash = 0;
    st = store_mkdirs(dir);
    xllm_free(dir);
    if (st == XLLM_OK) {
        old = old_digests(path, &n_old);
        st = xllm_atomic_open(&af, path);
    }
    if (st == XLLM_OK) {
        if (fwrite(bytes, 1, len, af.f) != len) {
            st = xllm_fail(XLLM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
            xllm_atomic_abort(&af);
        } else {
            st = xllm_atomic_commit(&af);
        }
    }
    if (st == XLLM_OK && old)
        store_prune_blobs(s, (const char (*)[XLLM_DIGEST_STR_LEN])old, n_old);
    xllm_free(old);
    xllm_free(path);
    return st;
}

xllm_status xllm_store_copy(xllm_store *s, const char *src, const char *dst)
{
    xllm_model_name dn;
    char *bytes = NULL;
    size_t len = 0;
    xllm_status st = xllm_model_name_parse(dst, &dn);
    if (st != XLLM_OK)
        return st;
    st = xllm_store_read_manifest(s, src, NULL, NULL, &bytes, &len);
    if (st == XLLM_OK)
        st = xllm_store_write_manifest(s, &dn, bytes, len);
    xllm_free(bytes);
    return st;
}

/* ---- writing blobs ------------------------------------------------------------- */

struct xllm_blob_writer {
    xllm_store *s;
    char expected[XLLM_DIGEST_STR_LEN];
    char *tmp_path;
    FILE *f;
    xllm_sha256 h;
    uint64_t size;
    int failed;
};

xllm_status xllm_blob_writer_open(xllm_store *s, const char *expected, xllm_blob_writer **out)
{
    static unsigned counter; /* unique partial names; atomic: writers may run on several threads */
    unsigned id = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    xllm_blob_writer *w;
    char name[128];
    xllm_status st;
    *out = NULL;
    if (expected && !xllm_digest_valid(expected, 0))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "malformed digest '%.80s' (want sha256:<64 hex digits>)",
                         expected);
    w = xllm_calloc(1, sizeof *w);
    if (!w)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    w->s = s;
    if (expected) {
        snprintf(w->expected, sizeof w->expected, "%s", expected);
        snprintf(name, sizeof name, "sha256-%s-%d-%u.partial", expected + 7, (int)getpid(), id);
    } else {
        snprintf(name, sizeof name, "upload-%d-%u.partial", (int)getpid(), id);
    }
    w->tmp_path = xllm_path_join(s->blobs, name);
    if (!w->tmp_path) {
        xllm_free(w);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    }
    st = xllm_sha256_init(&w->h);
    if (st != XLLM_OK) {
        xllm_free(w->tmp_path);
        xllm_free(w);
        return st;
    }
    w->f = fopen(w->tmp_path, "wb");
    if (w->f)
        flock(fileno(w->f), LOCK_EX); /* new file: cannot block; tells store_open it is live */
    if (!w->f) {
        st = xllm_fail(XLLM_ERR_IO, "cannot create %s: %s", w->tmp_path, strerror(errno));
        xllm_blob_writer_abort(w);
        return st;
    }
    *out = w;
    return XLLM_OK;
}

xllm_status xllm_blob_writer_write(xllm_blob_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return XLLM_ERR_IO;
    if (n && fwrite(p, 1, n, w->f) != n) {
        w->failed = 1;
        return xllm_fail(XLLM_ERR_IO, "writing %s: %s", w->tmp_path, strerror(errno));
    }
    xllm_sha256_update(&w->h, p, n);
    w->size += n;
    return XLLM_OK;
}

xllm_status xllm_blob_writer_commit(xllm_blob_writer *w, char digest[XLLM_DIGEST_STR_LEN], uint64_t *size,
                                    int *was_new)
{
    char hex[65], got[XLLM_DIGEST_STR_LEN];
    char *final = NULL;
    xllm_status st = XLLM_OK;
    int bad, err;
    if (was_new)
        *was_new = 0;
    bad = w->failed || fflush(w->f) != 0 || ferror(w->f) || fsync(fileno(w->f)) != 0;
    err = errno;
    if (fclose(w->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    w->f = NULL;
    xllm_sha256_final(&w->h, hex);
    snprintf(got, sizeof got, "sha256:%s", hex);
    if (bad) {
        st = w->failed ? XLLM_ERR_IO : xllm_fail(XLLM_ERR_IO, "writing %s: %s", w->tmp_path, strerror(err));
    } else if (w->expected[0] && strcmp(got, w->expected) != 0) {
        st = xllm_fail(XLLM_ERR_FORMAT, "digest mismatch: expected %s, the data has %s", w->expected, got);
    } else if (!(final = xllm_store_blob_path(w->s, got))) {
        st = XLLM_ERR_OUT_OF_MEMORY;
    } else if (xllm_path_exists(final)) {
        unlink(w->tmp_path);
    } else if (rename(w->tmp_path, final) != 0) {
        st = xllm_fail(XLLM_ERR_IO, "cannot rename %s into place: %s", w->tmp_path, strerror(errno));
    } else if (was_new) {
        *was_new = 1;
    }
    if (st == XLLM_OK) {
        if (digest)
            snprintf(digest, XLLM_DIGEST_STR_LEN, "%s", got);
        if (size)
            *size = w->size;
    }
    xllm_free(final);
    xllm_blob_writer_abort(w);
    return st;
}

void xllm_blob_writer_abort(xllm_blob_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->tmp_path)
        unlink(w->tmp_path);
    xllm_sha256_discard(&w->h);
    xllm_free(w->tmp_path);
    xllm_free(w);
}

xllm_status xllm_store_add_file(xllm_store *s, const char *path, char digest[XLLM_DIGEST_STR_LEN], uint64_t *size,
                                int *was_new)
{
    unsigned char buf[1 << 16];
    xllm_blob_writer *w;
    size_t n;
    xllm_status st;
    FILE *f = fopen(path, "rb");
    if (!f)
        return xllm_fail(errno == ENOENT ? XLLM_ERR_NOT_FOUND : XLLM_ERR_IO, "%s: %s", path, strerror(errno));
    st = xllm_blob_writer_open(s, NULL, &w);
    while (st == XLLM_OK && (n = fread(buf, 1, sizeof buf, f)) > 0)
        st = xllm_blob_writer_write(w, buf, n);
    if (st == XLLM_OK && ferror(f))
        st = xllm_fail(XLLM_ERR_IO, "reading %s: %s", path, strerror(errno));
    fclose(f);
    if (st == XLLM_OK)
        return xllm_blob_writer_commit(w, digest, size, was_new);
    xllm_blob_writer_abort(w);
    return st;
}

xllm_status xllm_store_add_bytes(xllm_store *s, const void *p, size_t n, char digest[XLLM_DIGEST_STR_LEN],
                                 int *was_new)
{
    xllm_blob_writer *w;
    xllm_status st = xllm_blob_writer_open(s, NULL, &w);
    if (st != XLLM_OK)
        return st;
    st = xllm_blob_writer_write(w, p, n);
    if (st != XLLM_OK) {
        xllm_blob_writer_abort(w);
        return st;
    }
    return xllm_blob_writer_commit(w, digest, NULL, was_new);
}
