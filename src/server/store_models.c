/* store_models.c - the model store's models in the server's model manager:
 * every manifest of XLLM_MODELS_DIR (~/.xllm/models) resolved to its blob and
 * text layers, re-read on a miss and after the store endpoints change it. */
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "server/models.h"
#include "store/store.h"

static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;

static int in_list(const xllm_store_entry *v, size_t n, const srv_model *md)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].display, srv_model_name(md)) && !strcmp(srv_model_digest(md), v[i].digest))
            return 1;
    return 0;
}

static void add_entry(srv_models *m, xllm_store *s, const xllm_store_entry *e)
{
    xllm_model_ref ref;
    srv_store_layers sl;
    srv_model *md = srv_models_find(m, e->display);
    if (md && (!srv_model_from_store(md) || !strcmp(srv_model_digest(md), e->digest)))
        return; /* a --model name wins; an unchanged store model stays */
    if (!md && srv_models_unhide(m, e->display, e->digest))
        return;
    memset(&ref, 0, sizeof ref);
    if (xllm_store_resolve(s, e->display, &ref)) {
        XLLM_WARN("server: store model '%s' skipped: %s", e->display, xllm_last_error());
        return;
    }
    if (md)
        srv_models_hide(m, md); /* replaced by a new version */
    memset(&sl, 0, sizeof sl);
    sl.digest = e->digest;
    sl.size = e->size;
    sl.mtime = e->modified;
    sl.template_text = ref.template_text;
    sl.system = ref.system;
    sl.params_json = ref.params_json;
    if (srv_models_add_store(m, e->display, ref.model_path, &sl))
        XLLM_WARN("server: store model '%s' skipped: %s", e->display, xllm_last_error());
    xllm_model_ref_free(&ref);
}

void srv_models_sync_store(srv_models *m)
{
    xllm_store *s = NULL;
    xllm_store_entry *v = NULL;
    size_t n = 0;
    pthread_mutex_lock(&sync_mu);
    if (xllm_store_open(NULL, &s) || xllm_store_list(s, &v, &n)) {
        XLLM_WARN("server: cannot read the model store: %s", xllm_last_error());
        goto out;
    }
    for (int i = srv_models_count(m) - 1; i >= 0; i--) {
        srv_model *md = srv_models_at(m, i);
        if (md && srv_model_from_store(md) && !in_list(v, n, md))
            srv_models_hide(m, md);
    }
    for (size_t i = 0; i < n; i++)
        add_entry(m, s, &v[i]);
out:
    xllm_free(v);
    xllm_store_close(s);
    xllm_clear_error();
    pthread_mutex_unlock(&sync_mu);
}

srv_model *srv_models_lookup(srv_models *m, const char *name)
{
    srv_model *md = srv_models_find(m, name);
    if (md)
        return md;
    srv_models_sync_store(m);
    return srv_models_find(m, name);
}
