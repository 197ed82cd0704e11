/* test_pool.c - the thread pool: every task index runs exactly once, results
 * are visible after the run, many back-to-back runs (the decode pattern),
 * oversubscribed pools, sleeping workers woken again, and edge counts. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../test.h"
#include "base/status.h"
#include "kernels/cpu/kernels.h"

typedef struct count_ctx {
    _Atomic int *hits;
    int *plain;     /* written by tasks without atomics: checked after the run */
    int expect_n;
    _Atomic int bad_n;
} count_ctx;

static void count_task(void *arg, int task, int n_tasks)
{
    count_ctx *c = arg;
    if (n_tasks != c->expect_n)
        atomic_fetch_add(&c->bad_n, 1);
    atomic_fetch_add(&c->hits[task], 1);
    c->plain[task] = task * 3 + 1;
}

static void run_and_check(xllm_pool *p, int n_tasks)
{
    count_ctx c = {calloc((size_t)n_tasks + 1, sizeof(_Atomic int)), calloc((size_t)n_tasks + 1, sizeof(int)),
                   n_tasks, 0};
    xllm_pool_run(p, count_task, &c, n_tasks);
    for (int i = 0; i < n_tasks; i++) {
        CHECK_MSG(atomic_load(&c.hits[i]) == 1, "task %d ran %d times", i, atomic_load(&c.hits[i]));
        CHECK_EQ_INT(c.plain[i], i * 3 + 1);
    }
    CHECK_EQ_INT(atomic_load(&c.bad_n), 0);
    free((void *)c.hits);
    free(c.plain);
}

TEST(pool_runs_each_task_once)
{
    for (int threads = 1; threads <= 5; threads += 2) {
        xllm_pool *p;
        CHECK_OK(xllm_pool_create(threads, &p));
        CHECK_EQ_INT(xllm_pool_size(p), threads);
        int counts[] = {0, 1, 2, 3, 7, 64, 1000};
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
            run_and_check(p, counts[k]);
        xllm_pool_destroy(p);
    }
    run_and_check(NULL, 5); /* NULL pool: the caller runs everything */
}

TEST(pool_many_back_to_back_runs)
{
    xllm_pool *p;
    CHECK_OK(xllm_pool_create(3, &p));
    for (int i = 0; i < 1000; i++)
        run_and_check(p, 1 + i % 9);
    xllm_pool_destroy(p);
}

TEST(pool_wakes_sleeping_workers)
{
    xllm_pool *p;
    struct timespec pause = {0, 2000000}; /* 2 ms: longer than the spin budget */
    CHECK_OK(xllm_pool_create(2, &p));
    for (int i = 0; i < 5; i++) {
        nanosleep(&pause, NULL);
        run_and_check(p, 8);
    }
    xllm_pool_destroy(p);
}

TEST(pool_create_destroy_and_limits)
{
    xllm_pool *p = NULL;
    CHECK_OK(xllm_pool_create(0, &p)); /* one per CPU */
    CHECK(xllm_pool_size(p) >= 1);
    xllm_pool_destroy(p);
    xllm_pool_destroy(NULL);
    CHECK_EQ_INT(xllm_pool_create(100000, &p), XLLM_ERR_LIMIT);
    CHECK(p == NULL);
    CHECK_OK(xllm_pool_create(4, &p)); /* never run */
    xllm_pool_destroy(p);
}

typedef struct nest_ctx {
    xllm_pool *p;
    _Atomic int inner_hits;
} nest_ctx;

static void inner_task(void *arg, int task, int n_tasks)
{
    (void)task;
    (void)n_tasks;
    atomic_fetch_add(&((nest_ctx *)arg)->inner_hits, 1);
}

static void outer_task(void *arg, int task, int n_tasks)
{
    nest_ctx *c = arg;
    (void)task;
    (void)n_tasks;
    xllm_pool_run(c->p, inner_task, c, 5); /* nested: must not deadlock */
}

TEST(pool_nested_run_is_serial)
{
    nest_ctx c = {NULL, 0};
    CHECK_OK(xllm_pool_create(3, &c.p));
    xllm_pool_run(c.p, outer_task, &c, 4);
    CHECK_EQ_INT(atomic_load(&c.inner_hits), 20);
    xllm_pool_destroy(c.p);
}

static void *concurrent_runner(void *arg)
{
    for (int i = 0; i < 200; i++)
        run_and_check(arg, 1 + i % 7);
    return NULL;
}

TEST(pool_concurrent_callers_survive)
{
    xllm_pool *p;
    pthread_t t;
    CHECK_OK(xllm_pool_create(2, &p));
    CHECK_EQ_INT(pthread_create(&t, NULL, concurrent_runner, p), 0);
    concurrent_runner(p);
    pthread_join(t, NULL);
    xllm_pool_destroy(p);
}
