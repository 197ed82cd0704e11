/* pull.c - pulling from an Ollama (Docker v2) registry: manifest, blobs in
 * order, verification, then the manifest; rollback on any failure. Also
 * the update check for `xllm list --check-updates`. */
#include "store/pull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "store/download.h"
#include "store/http.h"
#include "store/store_internal.h"

xllm_status store_pull_hf(xllm_store *s, const xllm_model_name *n, const xllm_pull_opts *o);
xllm_status store_check_hf(xllm_store *s, const xllm_model_name *n, const xllm_manifest *local, int *newer);

static void registry_base(const xllm_model_name *n, char *buf, size_t cap)
{
    const char *e = getenv("XLLM_OLLAMA_REGISTRY");
    size_t len;
    if (!strcasecmp(n->host, XLLM_NAME_DEFAULT_HOST))
        snprintf(buf, cap, "%s", e && *e ? e : "https://" XLLM_NAME_DEFAULT_HOST);
    else
        snprintf(buf, cap, "https://%s", n->host);
    len = strlen(buf);
    while (len && buf[len - 1] == '/')
        buf[--len] = 0;
}

/* GET the manifest; bytes are kept exactly (its digest is the model ID). */
static xllm_status fetch_manifest(const xllm_model_name *n, char *url, size_t url_cap, xllm_http_reply *r)
{
    char base[1024], disp[XLLM_NAME_STR_MAX];
    xllm_status st;
    registry_base(n, base, sizeof base);
    snprintf(url, url_cap, "%s/v2/%s/%s/manifests/%s", base, n->ns, n->model, n->tag);
    xllm_model_name_display(n, disp, sizeof disp);
    st = xllm_http_get(url, XLLM_MT_MANIFEST, NULL, XLLM_PULL_MAX_JSON, r);
    if (st != XLLM_OK)
        return xllm_fail_wrap(st, "pulling manifest of '%s'", disp);
    if (r->status == 404)
        return xllm_fail(XLLM_ERR_NOT_FOUND, "model '%s' not found in the registry (%s: HTTP 404)", disp, url);
    if (r->status != 200)
        return xllm_fail(XLLM_ERR_IO, "pulling manifest of '%s': %s answered HTTP %ld", disp, url, r->status);
    return XLLM_OK;
}

typedef struct pending {
    const xllm_layer *l;
    char *partial;
    int fd; /* open and locked until the blob is placed or dropped; -1: none */
} pending;

static xllm_status verify_and_place(xllm_store *s, pending *p, store_added *added)
{
    char hex[65], got[XLLM_DIGEST_STR_LEN];
    uint64_t size = 0;
    char *final;
    xllm_status st = xllm_sha256_file(p->partial, hex, &size);
    if (st != XLLM_OK)
        return st;
    snprintf(got, sizeof got, "sha256:%s", hex);
    if (strcmp(got, p->l->digest) != 0)
        return xllm_fail(XLLM_ERR_FORMAT,
                         "digest mismatch for layer %s: the downloaded data has %s; nothing was kept (try the pull "
                         "again; if it repeats, the registry serves a corrupt file)",
                         p->l->digest, got);
    if (size != p->l->size)
        return xllm_fail(XLLM_ERR_FORMAT, "layer %s: %llu bytes, the manifest says %llu", p->l->digest,
                         (unsigned long long)size, (unsigned long long)p->l->size);
    final = xllm_store_blob_path(s, p->l->digest);
    if (!final)
        return XLLM_ERR_OUT_OF_MEMORY;
    if (rename(p->partial, final) != 0) {
        st = xllm_fail(XLLM_ERR_IO, "cannot move %s into place", p->partial);
    } else {
        st = store_added_push(added, p->l->digest);
        xllm_free(p->partial); /* placed: nothing to remove */
        p->partial = NULL;
    }
    xllm_free(final);
    return st;
}

static xllm_status pull_layers(xllm_store *s, const xllm_model_name *n, const xllm_manifest *m,
                               const xllm_pull_opts *o, store_added *added)
{
    char base[1024], url[2048], status[40];
    size_t total = m->n_layers + (m->has_config ? 1 : 0), np = 0;
    pending *pend = xllm_calloc(total ? total : 1, sizeof *pend);
    xllm_status st = XLLM_OK;
    if (!pend)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "pull: no memory");
    registry_base(n, base, sizeof base);
    for (size_t i = 0; i < total && st == XLLM_OK; i++) {
        const xllm_layer *l = i < m->n_layers ? &m->layers[i] : &m->config;
        store_dl d;
        int dup = 0;
        snprintf(status, sizeof status, "pulling %.12s", l->digest + 7);
        for (size_t j = 0; j < np; j++)
            dup |= !strcmp(pend[j].l->digest, l->digest);
        if (dup || xllm_store_has_blob(s, l->digest, l->size)) {
            store_emit(o, status, l->digest, l->size, l->size);
            continue;
        }
        pend[np].l = l;
        pend[np].fd = -1;
        pend[np].partial = store_partial_path(s, l->digest);
        if (!pend[np].partial) {
            st = XLLM_ERR_OUT_OF_MEMORY;
            break;
        }
        snprintf(url, sizeof url, "%s/v2/%s/%s/blobs/%s", base, n->ns, n->model, l->digest);
        memset(&d, 0, sizeof d);
        d.url = url;
        d.path = pend[np].partial;
        d.size = l->size;
        d.status = status;
        d.digest = l->digest;
        d.opts = o;
        d.keep_fd = &pend[np].fd;
        np++;
        store_emit(o, status, l->digest, l->size, 0);
        st = store_download(&d);
    }
    if (st == XLLM_OK)
        store_emit(o, "verifying sha256 digest", NULL, 0, 0);
    for (size_t i = 0; i < np && st == XLLM_OK; i++)
        if (pend[i].partial)
            st = verify_and_place(s, &pend[i], added);
    for (size_t i = 0; i < np; i++) {
        if (pend[i].partial && pend[i].fd >= 0)
            unlink(pend[i].partial); /* still ours (locked): not placed */
        if (pend[i].fd >= 0)
            close(pend[i].fd);
        xllm_free(pend[i].partial);
    }
    xllm_free(pend);
    return st;
}

static xllm_status pull_ollama(xllm_store *s, const xllm_model_name *n, const xllm_pull_opts *o)
{
    char url[2048];
    xllm_http_reply r;
    xllm_manifest m;
    store_added added = {0};
    xllm_status st;
    memset(&m, 0, sizeof m);
    store_emit(o, "pulling manifest", NULL, 0, 0);
    st = fetch_manifest(n, url, sizeof url, &r);
    if (st == XLLM_OK)
        st = xllm_manifest_parse(r.body.data, r.body.len, &m);
    if (st == XLLM_OK && m.n_layers > XLLM_PULL_MAX_LAYERS)
        st = xllm_fail(XLLM_ERR_LIMIT, "manifest has %zu layers (limit %d)", m.n_layers, XLLM_PULL_MAX_LAYERS);
    if (st == XLLM_OK && !xllm_manifest_find(&m, XLLM_MT_MODEL))
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: the manifest has no model layer", url);
    if (st == XLLM_OK)
        xllm_http_cache_put(url, r.body.data, r.body.len);
    if (st == XLLM_OK)
        st = pull_layers(s, n, &m, o, &added);
    if (st == XLLM_OK) {
        store_emit(o, "writing manifest", NULL, 0, 0);
        st = xllm_store_write_manifest(s, n, r.body.data, r.body.len);
    }
    if (st == XLLM_OK) {
        store_added_free(&added);
        store_emit(o, "success", NULL, 0, 0);
    } else {
        store_added_rollback(s, &added);
    }
    xllm_manifest_free(&m);
    xllm_http_reply_free(&r);
    return st;
}

xllm_status xllm_store_pull(xllm_store *s, const char *name, const xllm_pull_opts *o)
{
    xllm_model_name n;
    xllm_status st = xllm_model_name_parse(name, &n);
    if (st != XLLM_OK)
        return st;
    if (xllm_model_name_is_hf(&n))
        return store_pull_hf(s, &n, o);
    return pull_ollama(s, &n, o);
}

xllm_status xllm_store_check_update(xllm_store *s, const char *name, int *newer)
{
    xllm_store_entry e;
    xllm_manifest local;
    char url[2048], hex[65];
    char *body = NULL;
    size_t len = 0;
    xllm_http_reply r;
    xllm_status st = xllm_store_read_manifest(s, name, &e, &local, NULL, NULL);
    *newer = 0;
    if (st != XLLM_OK)
        return st;
    if (xllm_model_name_is_hf(&e.name)) {
        st = store_check_hf(s, &e.name, &local, newer);
        xllm_manifest_free(&local);
        return st;
    }
    xllm_manifest_free(&local);
    {
        char base[1024];
        registry_base(&e.name, base, sizeof base);
        snprintf(url, sizeof url, "%s/v2/%s/%s/manifests/%s", base, e.name.ns, e.name.model, e.name.tag);
    }
    if (xllm_http_cache_get(url, &body, &len) != XLLM_OK) {
        st = fetch_manifest(&e.name, url, sizeof url, &r);
        if (st != XLLM_OK) {
            xllm_http_reply_free(&r);
            return st;
        }
        xllm_http_cache_put(url, r.body.data, r.body.len);
        len = r.body.len;
        body = xllm_buf_take(&r.body);
        xllm_http_reply_free(&r);
    }
    xllm_sha256_buf(body, len, hex);
    *newer = strcmp(hex, e.digest + 7) != 0;
    xllm_free(body);
    return XLLM_OK;
}
