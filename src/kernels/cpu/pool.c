/* pool.c - the persistent compute thread pool. Workers are created once and
 * wait on a generation counter (spin a short while, then futex); a run
 * publishes the job, bumps the generation, takes part in the work itself and
 * waits until every worker has checked in for that generation. Tasks are
 * handed out by an atomic counter, so each index runs exactly once.
 * Misuse is survived, not undefined: a run issued from inside a task, or
 * while another thread's run of the same pool is in progress, executes
 * serially on the calling thread. */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/status.h"
#include "kernels/cpu/kernels.h"

/* How long a waiting thread spins before it sleeps in the kernel. Decode
 * issues hundreds of runs per token a few microseconds apart; 50 us keeps
 * the workers hot between them without burning a core when idle. */
#define POOL_SPIN_NS 50000L

typedef void (*pool_fn)(void *ctx, int task, int n_tasks);

struct xllm_pool {
    int n_threads;        /* workers + the calling thread */
    pthread_t *workers;   /* [n_threads - 1], joined by xllm_pool_destroy */
    _Atomic uint32_t gen;  /* futex word of the workers: bumped once per run */
    _Atomic uint32_t done; /* futex word of the caller: workers finished this run */
    _Atomic int next;      /* next task index to hand out */
    _Atomic int sleepers;  /* workers sleeping (or about to) on gen */
    _Atomic int caller_sleeping;
    _Atomic int stop;
    _Atomic int busy;      /* a run is in progress (misuse guard) */
    /* The job. Written by the caller before the release of gen, read by the
     * workers after acquiring it; not touched again until all checked in. */
    pool_fn fn;
    void *ctx;
    int n_tasks;
};

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Spin budget of one wait: returns 0 once POOL_SPIN_NS have passed. */
typedef struct spin_state {
    long start;
    unsigned iter;
} spin_state;

static int spin_more(spin_state *s)
{
    if ((s->iter++ & 63) == 0) {
        long t = now_ns();
        if (!s->start)
            s->start = t;
        else if (t - s->start > POOL_SPIN_NS)
            return 0;
    }
    cpu_relax();
    return 1;
}

/* Set while this thread executes pool tasks: a run issued from inside a task
 * (nested) executes serially instead of deadlocking on its own pool. */
static _Thread_local int in_task;

static void run_tasks(struct xllm_pool *p)
{
    for (;;) {
        int task = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (task >= p->n_tasks)
            break;
        p->fn(p->ctx, task, p->n_tasks);
    }
}

/* Wait for gen to move past seen; returns the new generation. */
static uint32_t worker_wait(struct xllm_pool *p, uint32_t seen)
{
    spin_state s = {0, 0};
    uint32_t g;
    do {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen)
            return g;
    } while (spin_more(&s));
    atomic_fetch_add(&p->sleepers, 1); /* seq_cst: pairs with the load in run */
    while ((g = atomic_load(&p->gen)) == seen)
        futex_wait(&p->gen, seen);
    atomic_fetch_sub(&p->sleepers, 1);
    return g;
}

/* The caller's wait until all n_workers have checked in for this run. */
static void caller_wait(struct xllm_pool *p, uint32_t n_workers)
{
    spin_state s = {0, 0};
    uint32_t d;
    do {
        if (atomic_load_explicit(&p->done, memory_order_acquire) == n_workers)
            return;
    } while (spin_more(&s));
    atomic_store(&p->caller_sleeping, 1); /* seq_cst: pairs with the worker's check */
    while ((d = atomic_load(&p->done)) != n_workers)
        futex_wait(&p->done, d);
    atomic_store(&p->caller_sleeping, 0);
}

static void *worker_main(void *arg)
{
    struct xllm_pool *p = arg;
    uint32_t seen = 0;
    int n_workers = p->n_threads - 1;
    for (;;) {
        seen = worker_wait(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            break;
        in_task = 1;
        run_tasks(p);
        in_task = 0;
        if ((int)atomic_fetch_add(&p->done, 1) + 1 == n_workers && atomic_load(&p->caller_sleeping))
            futex_wake(&p->done, 1);
    }
    return NULL;
}

static int online_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void stop_workers(struct xllm_pool *p, int n_started)
{
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    atomic_fetch_add(&p->gen, 1);
    futex_wake(&p->gen, INT_MAX);
    for (int i = 0; i < n_started; i++)
        pthread_join(p->workers[i], NULL);
}

xllm_status xllm_pool_create(int n_threads, xllm_pool **out)
{
    xllm_status rc = XLLM_ERR_OUT_OF_MEMORY;
    struct xllm_pool *p = NULL;
    int started = 0;
    *out = NULL;
    if (n_threads <= 0)
        n_threads = online_cpus();
    if (n_threads > XLLM_MAX_THREADS)
        return xllm_fail(XLLM_ERR_LIMIT, "pool: %d threads exceeds the cap of %d", n_threads, XLLM_MAX_THREADS);
    p = xllm_calloc(1, sizeof(*p));
    if (!p)
        goto out;
    p->n_threads = n_threads;
    p->workers = xllm_calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->workers)
        goto out;
    for (; started < n_threads - 1; started++) {
        int err = pthread_create(&p->workers[started], NULL, worker_main, p);
        if (err) {
            rc = xllm_fail(XLLM_ERR_INTERNAL, "pool: creating worker %d of %d: %s", started + 1,
                           n_threads - 1, strerror(err));
            goto out;
        }
        char name[16];
        snprintf(name, sizeof(name), "xllm-pool-%d", (started + 1) & 0xfff);
        pthread_setname_np(p->workers[started], name);
    }
    *out = p;
    p = NULL;
    rc = XLLM_OK;
out:
    if (p) {
        if (rc == XLLM_ERR_OUT_OF_MEMORY)
            rc = xllm_fail(rc, "pool: allocating %d threads", n_threads);
        stop_workers(p, started);
        xllm_free(p->workers);
        xllm_free(p);
    }
    return rc;
}

void xllm_pool_destroy(xllm_pool *p)
{
    if (!p)
        return;
    stop_workers(p, p->n_threads - 1);
    xllm_free(p->workers);
    xllm_free(p);
}

int xllm_pool_size(const xllm_pool *p) { return p ? p->n_threads : 1; }

static void run_serial(void (*fn)(void *ctx, int task, int n_tasks), void *ctx, int n_tasks)
{
    for (int t = 0; t < n_tasks; t++)
        fn(ctx, t, n_tasks);
}

void xllm_pool_run(xllm_pool *p, void (*fn)(void *ctx, int task, int n_tasks), void *ctx, int n_tasks)
{
    int n_workers = p ? p->n_threads - 1 : 0;
    if (n_tasks <= 0)
        return;
    if (n_workers == 0 || n_tasks == 1 || in_task) {
        run_serial(fn, ctx, n_tasks);
        return;
    }
    if (atomic_exchange_explicit(&p->busy, 1, memory_order_acquire)) {
        run_serial(fn, ctx, n_tasks); /* another thread is running this pool */
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1); /* seq_cst: publishes the job (release) */
    if (atomic_load(&p->sleepers) > 0)
        futex_wake(&p->gen, INT_MAX);
    in_task = 1;
    run_tasks(p);
    in_task = 0;
    caller_wait(p, (uint32_t)n_workers); /* after it the job may be rewritten */
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}
