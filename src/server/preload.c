/* preload.c - load the listed models at server start, each on its own thread. */
#include "server/preload.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"

typedef struct preload_one {
    pthread_t th;
    int started;
    atomic_int done;
    srv_model *md;
} preload_one;

struct srv_preload {
    srv_models *m;
    int n;
    preload_one one[XLLM_SERVER_MAX_PRELOAD];
};

static void *load_main(void *arg)
{
    preload_one *o = arg;
    xllm_rclient *rc;
    int http = 0;
    XLLM_INFO("server: preloading model '%s'", srv_model_name(o->md));
    if (srv_model_acquire(o->md, &rc, &http))
        XLLM_ERROR("server: preloading model '%s' failed: %s", srv_model_name(o->md), xllm_last_error());
    else
        srv_model_release(o->md, NAN);
    atomic_store(&o->done, 1);
    return NULL;
}

xllm_status srv_preload_start(srv_models *m, const char *list, srv_preload **out)
{
    srv_preload *p;
    const char *s = list;
    *out = NULL;
    if (!list || !list[0])
        return XLLM_OK;
    if (!(p = xllm_calloc(1, sizeof *p)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "preload");
    p->m = m;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char name[256];
        srv_model *md;
        if (len == 0 || len >= sizeof name) {
            xllm_free(p);
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "preload: '%.60s' is not a model name", s);
        }
        snprintf(name, sizeof name, "%.*s", (int)len, s);
        if (!(md = srv_models_lookup(m, name))) {
            xllm_free(p);
            return xllm_fail(XLLM_ERR_NOT_FOUND, "preload: no model named '%s' (served: --model NAME=PATH or the store)",
                             name);
        }
        if (p->n == XLLM_SERVER_MAX_PRELOAD) {
            xllm_free(p);
            return xllm_fail(XLLM_ERR_LIMIT, "preload: more than %d models", XLLM_SERVER_MAX_PRELOAD);
        }
        p->one[p->n++].md = md;
        s += len + (comma ? 1 : 0);
    }
    for (int i = 0; i < p->n; i++)
        p->one[i].started = pthread_create(&p->one[i].th, NULL, load_main, &p->one[i]) == 0;
    *out = p;
    return XLLM_OK;
}

void srv_preload_join(srv_preload *p)
{
    int running = 0;
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        running |= p->one[i].started && !atomic_load(&p->one[i].done);
    if (running) /* the server stops: a load still running gives up (it could take minutes) */
        srv_models_stop(p->m);
    for (int i = 0; i < p->n; i++)
        if (p->one[i].started)
            pthread_join(p->one[i].th, NULL);
    xllm_free(p);
}
