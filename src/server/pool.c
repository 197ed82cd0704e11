/* pool.c - a fixed set of worker threads over one FIFO of intrusive jobs
 * (pool.h): the server's generations, blocking tasks and store jobs run here
 * instead of on a thread per request. */
#include "server/pool.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"

struct srv_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job *head, *tail;
    int queued, busy, max_queue;
    int stopping;
    int n_threads;
    char name[16];
    pthread_t th[];
};

static void *worker_main(void *arg)
{
    srv_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        srv_job *j = p->head;
        if (!j) {
            if (p->stopping)
                break;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        j->next = NULL;
        j->run(j);
        pthread_mutex_lock(&p->mu);
        p->busy--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

xllm_status srv_pool_new(const char *name, int n_threads, int max_queue, srv_pool **out)
{
    srv_pool *p;
    pthread_attr_t at;
    if (n_threads < 1 || n_threads > XLLM_SERVER_MAX_WORKERS)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "worker threads must be 1..%d, not %d", XLLM_SERVER_MAX_WORKERS,
                         n_threads);
    p = xllm_calloc(1, sizeof *p + (size_t)n_threads * sizeof p->th[0]);
    if (!p)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "worker pool");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queue = max_queue;
    snprintf(p->name, sizeof p->name, "%s", name);
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 1u << 20);
    for (; p->n_threads < n_threads; p->n_threads++) {
        if (pthread_create(&p->th[p->n_threads], &at, worker_main, p) != 0)
            break;
        pthread_setname_np(p->th[p->n_threads], p->name);
    }
    pthread_attr_destroy(&at);
    if (p->n_threads == 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        xllm_free(p);
        return xllm_fail(XLLM_ERR_INTERNAL, "cannot start worker threads");
    }
    *out = p;
    return XLLM_OK;
}

int srv_pool_push(srv_pool *p, srv_job *j, int admit)
{
    pthread_mutex_lock(&p->mu);
    if (admit && (p->stopping || p->queued >= p->max_queue)) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void srv_pool_counts(srv_pool *p, int *queued, int *busy)
{
    pthread_mutex_lock(&p->mu);
    *queued = p->queued;
    *busy = p->busy;
    pthread_mutex_unlock(&p->mu);
}

int srv_pool_threads(const srv_pool *p) { return p->n_threads; }

void srv_pool_free(srv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    xllm_free(p);
}
