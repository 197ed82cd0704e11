/* test_pool.c - the server's worker pool (server/pool.c): every job runs
 * once, on at most n_threads threads at a time; an admitted push beyond the
 * queue cap is refused while a resumed one (admit 0) never is; freeing the
 * pool runs what is still queued, including jobs pushed by running jobs. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "server/pool.h"
#include "../test.h"

typedef struct tjob {
    srv_job job; /* first: the job pointer is the tjob */
    srv_pool *pool;
    atomic_int *runs, *live, *max_live;
    int push_again;    /* run() queues this job once more (admit 0) */
    pthread_mutex_t *gate; /* held by the test to keep workers busy */
} tjob;

static void tjob_run(srv_job *j)
{
    tjob *t = (tjob *)(void *)j;
    int live = atomic_fetch_add(t->live, 1) + 1, m = atomic_load(t->max_live);
    while (live > m && !atomic_compare_exchange_weak(t->max_live, &m, live))
        ;
    if (t->gate) {
        pthread_mutex_lock(t->gate);
        pthread_mutex_unlock(t->gate);
    } else {
        usleep(200);
    }
    atomic_fetch_sub(t->live, 1);
    atomic_fetch_add(t->runs, 1);
    if (t->push_again) {
        t->push_again = 0;
        srv_pool_push(t->pool, &t->job, 0);
    }
}

TEST(server_pool_runs_everything_bounded)
{
    static tjob jobs[200];
    atomic_int runs = 0, live = 0, max_live = 0;
    srv_pool *p;
    CHECK_OK(srv_pool_new("t-pool", 3, 1000, &p));
    CHECK_EQ_INT(srv_pool_threads(p), 3);
    for (int i = 0; i < 200; i++) {
        jobs[i] = (tjob){{NULL, tjob_run}, p, &runs, &live, &max_live, i % 10 == 0, NULL};
        CHECK_EQ_INT(srv_pool_push(p, &jobs[i].job, 1), 0);
    }
    srv_pool_free(p); /* drains: 200 jobs + the 20 pushed again */
    CHECK_EQ_INT(atomic_load(&runs), 220);
    CHECK(atomic_load(&max_live) <= 3);
    CHECK(atomic_load(&max_live) >= 1);
}

TEST(server_pool_queue_cap)
{
    static tjob jobs[8];
    atomic_int runs = 0, live = 0, max_live = 0;
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    srv_pool *p;
    int queued = -1, busy = -1;
    CHECK(srv_pool_new("t-pool", 0, 4, &p) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK_OK(srv_pool_new("t-pool", 1, 2, &p));
    pthread_mutex_lock(&gate);
    for (int i = 0; i < 8; i++)
        jobs[i] = (tjob){{NULL, tjob_run}, p, &runs, &live, &max_live, 0, &gate};
    CHECK_EQ_INT(srv_pool_push(p, &jobs[0].job, 1), 0);
    for (int i = 0; i < 200 && atomic_load(&live) == 0; i++) /* the worker takes it and blocks */
        usleep(1000);
    CHECK_EQ_INT(srv_pool_push(p, &jobs[1].job, 1), 0);
    CHECK_EQ_INT(srv_pool_push(p, &jobs[2].job, 1), 0);
    CHECK_EQ_INT(srv_pool_push(p, &jobs[3].job, 1), -1); /* two wait already */
    CHECK_EQ_INT(srv_pool_push(p, &jobs[4].job, 0), 0);  /* resumed work is never refused */
    srv_pool_counts(p, &queued, &busy);
    CHECK_EQ_INT(queued, 3);
    CHECK_EQ_INT(busy, 1);
    pthread_mutex_unlock(&gate);
    srv_pool_free(p);
    CHECK_EQ_INT(atomic_load(&runs), 4);
    CHECK_EQ_INT(atomic_load(&max_live), 1);
}
