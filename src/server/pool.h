/* pool.h - the server's bounded worker pool: a fixed number of threads and a
 * FIFO of jobs, so no request ever gets a thread of its own. Jobs are
 * intrusive (a srv_job inside the caller's object), so queueing never
 * allocates; a job that must wait (a model that is loading) returns and is
 * pushed again when it can go on, instead of blocking its worker.
 *
 * Ownership: the pool owns its threads, never the jobs (each job's owner
 * keeps it alive until run() returns). Threading: push from any thread; run()
 * is called on a worker with no pool lock held. srv_pool_free drains: every
 * job queued before or during it runs, then the threads are joined. */
#ifndef XLLM_SERVER_POOL_H
#define XLLM_SERVER_POOL_H

#include "base/status.h"

typedef struct srv_job {
    struct srv_job *next;
    void (*run)(struct srv_job *j);
} srv_job;

typedef struct srv_pool srv_pool;

/* n_threads workers (1..XLLM_SERVER_MAX_WORKERS), at most max_queue jobs
 * waiting for admitted pushes; name (<= 15 chars) names the threads. */
xllm_status srv_pool_new(const char *name, int n_threads, int max_queue, srv_pool **out);
/* Queue j. admit = 1: a new piece of work, refused (-1) when max_queue jobs
 * wait already or the pool is draining; admit = 0: work already admitted
 * (a parked job resumed), always queued. 0 when queued. */
int srv_pool_push(srv_pool *p, srv_job *j, int admit);
/* Jobs waiting, and workers running one (a snapshot, for metrics). */
void srv_pool_counts(srv_pool *p, int *queued, int *busy);
int srv_pool_threads(const srv_pool *p);
/* Run what is queued (jobs pushed meanwhile too), join the workers, free. */
void srv_pool_free(srv_pool *p);

#endif
