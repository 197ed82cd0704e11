/* api_metrics.c - GET /v0/metrics: the server's counters (metrics.h), the
 * worker pool, the model manager and every loaded runner's scheduler stats
 * in Prometheus text format, prefix xllm_ (SPEC S-2). A task: asking the
 * runners for their stats is a round trip each. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/sysinfo.h"
#include "server/http_internal.h"

typedef struct model_snap {
    char name[256];
    srv_model_state st;
    int have_stats;
    xllm_sched_stats ss;
    uint64_t rss;
} model_snap;

typedef struct metrics_job {
    srv *s;
    xllm_buf out;
} metrics_job;

/* Resident bytes of a process (its /proc/PID/statm), 0 when unknown. */
static uint64_t pid_rss(int pid)
{
    char path[64];
    unsigned long long size = 0, res = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void one(xllm_buf *o, const char *name, const char *type, const char *help, double v)
{
    srv_prom_family(o, name, type, help);
    srv_prom_sample(o, name, NULL, v);
}

/* model="<escaped name>" into lab. */
static void model_label(xllm_buf *lab, const char *name)
{
    lab->len = 0;
    xllm_buf_append(lab, "model=\"", 7);
    srv_prom_escape(lab, name);
    xllm_buf_append(lab, "\"", 1);
}

typedef enum { PM_LOADED, PM_LOADING, PM_ACTIVE, PM_WAITING, PM_RUNNING, PM_BLK_USED, PM_BLK_FREE, PM_BLK_CACHED, PM_HIT_RATE,
               PM_HITS, PM_MISSES, PM_TPS, PM_MEM, PM_RSS, PM_PREEMPT } per_model_kind;

static const struct {
    per_model_kind kind;
    const char *name, *type, *help;
    int needs_stats;
} per_model[] = {
    {PM_LOADED, "xllm_model_loaded", "gauge", "1 when the model's runner is up", 0},
    {PM_LOADING, "xllm_model_loading", "gauge", "1 while the model's runner is starting", 0},
    {PM_ACTIVE, "xllm_model_active_requests", "gauge", "requests holding the model", 0},
    {PM_WAITING, "xllm_queue_depth", "gauge", "requests waiting in the runner's scheduler queue", 1},
    {PM_RUNNING, "xllm_running_batch_size", "gauge", "sequences in the running batch", 1},
    {PM_BLK_USED, "xllm_kv_blocks_used", "gauge", "KV cache blocks in use", 1},
    {PM_BLK_FREE, "xllm_kv_blocks_free", "gauge", "KV cache blocks free (cached ones included)", 1},
    {PM_BLK_CACHED, "xllm_kv_blocks_cached", "gauge", "free KV blocks still holding a reusable prefix", 1},
    {PM_HIT_RATE, "xllm_prefix_cache_hit_rate", "gauge",
     "share of full prompt blocks found in the prefix cache since the runner started (0..1)", 1},
    {PM_HITS, "xllm_prefix_cache_hits_total", "counter", "full prompt blocks found in the prefix cache", 1},
    {PM_MISSES, "xllm_prefix_cache_misses_total", "counter", "full prompt blocks not in the prefix cache", 1},
    {PM_TPS, "xllm_decode_tokens_per_second", "gauge", "generated tokens per busy second over the last seconds", 1},
    {PM_MEM, "xllm_model_memory_bytes", "gauge", "weights plus KV cache of the loaded model", 0},
    {PM_RSS, "xllm_runner_resident_bytes", "gauge", "resident memory of the model's runner process", 0},
    {PM_PREEMPT, "xllm_preemptions_total", "counter", "sequences preempted (recomputed) for lack of KV blocks", 1},
};

static double per_model_value(per_model_kind k, const model_snap *m)
{
    const xllm_sched_stats *s = &m->ss;
    switch (k) {
    case PM_LOADED: return m->st.loaded;
    case PM_LOADING: return m->st.loading;
    case PM_ACTIVE: return m->st.active;
    case PM_WAITING: return s->waiting;
    case PM_RUNNING: return s->running;
    case PM_BLK_USED: return s->blocks_used;
    case PM_BLK_FREE: return s->blocks_total - s->blocks_used;
    case PM_BLK_CACHED: return s->blocks_cached;
    case PM_HIT_RATE:
        return s->prefix_hits + s->prefix_misses ? (double)s->prefix_hits / (double)(s->prefix_hits + s->prefix_misses)
                                                 : 0;
    case PM_HITS: return (double)s->prefix_hits;
    case PM_MISSES: return (double)s->prefix_misses;
    case PM_TPS: return s->decode_tokens_per_s;
    case PM_MEM: return (double)(m->st.weight_bytes + m->st.kv_bytes);
    case PM_RSS: return (double)m->rss;
    case PM_PREEMPT: return (double)s->preemptions;
    }
    return 0;
}

/* Series given for every model, loaded or not. */
static int every_model(per_model_kind k) { return k == PM_LOADED || k == PM_LOADING || k == PM_ACTIVE; }

static void write_models(xllm_buf *o, model_snap *v, int n)
{
    xllm_buf lab;
    xllm_buf_init(&lab, 0);
    for (size_t f = 0; f < sizeof per_model / sizeof per_model[0]; f++) {
        int any = 0;
        for (int i = 0; i < n && !any; i++)
            any = per_model[f].needs_stats ? v[i].have_stats : (every_model(per_model[f].kind) || v[i].st.loaded);
        if (!any)
            continue;
        srv_prom_family(o, per_model[f].name, per_model[f].type, per_model[f].help);
        for (int i = 0; i < n; i++) {
            if (per_model[f].needs_stats ? !v[i].have_stats : (!every_model(per_model[f].kind) && !v[i].st.loaded))
                continue;
            model_label(&lab, v[i].name);
            srv_prom_sample(o, per_model[f].name, lab.data, per_model_value(per_model[f].kind, &v[i]));
        }
    }
    xllm_buf_free(&lab);
}

static void write_requests(xllm_buf *o, srv_metrics *m)
{
    char lab[160];
    srv_prom_family(o, "xllm_http_requests_total", "counter", "HTTP requests answered, by endpoint and status");
    for (int e = 0; e < SRV_METRICS_ENDPOINTS; e++)
        for (int s = 0; s < SRV_METRICS_STATUSES; s++) {
            uint64_t n = atomic_load_explicit(&m->requests[e][s], memory_order_relaxed);
            int code = srv_metrics_status_code(s);
            char st[8];
            if (!n)
                continue;
            snprintf(st, sizeof st, code ? "%d" : "other", code);
            snprintf(lab, sizeof lab, "endpoint=\"%s\",status=\"%s\"",
                     srv_route_label(e < srv_route_count() ? e : -1), st);
            srv_prom_sample(o, "xllm_http_requests_total", lab, (double)n);
        }
}

static void metrics_work(void *arg, const srv_task_model *tm)
{
    metrics_job *j = arg;
    srv *s = j->s;
    srv_metrics *m = &s->metrics;
    xllm_buf *o = &j->out;
    int nm = srv_models_count(s->models), queued, busy, n_gens;
    model_snap *v = nm ? xllm_calloc((size_t)nm, sizeof *v) : NULL;
    srv_models_counts mc;
    (void)tm;
    if (!v)
        nm = 0;
    for (int i = 0; i < nm; i++) {
        srv_model *md = srv_models_at(s->models, i);
        if (!md) {
            nm = i;
            break;
        }
        snprintf(v[i].name, sizeof v[i].name, "%s", srv_model_name(md));
        srv_model_state_get(md, &v[i].st);
        if (v[i].st.loaded) {
            v[i].have_stats = srv_model_stats(md, &v[i].ss) == 0;
            v[i].rss = v[i].st.pid > 0 ? pid_rss(v[i].st.pid) : 0;
        }
    }
    srv_models_counts_get(s->models, &mc);
    srv_pool_counts(s->pool, &queued, &busy);
    pthread_mutex_lock(&s->gen_mu);
    n_gens = s->n_gens;
    pthread_mutex_unlock(&s->gen_mu);

    write_requests(o, m);
    srv_prom_family(o, "xllm_rate_limited_total", "counter", "requests refused with 429, by the limit they hit");
    srv_prom_sample(o, "xllm_rate_limited_total", "limit=\"requests\"", (double)atomic_load(&m->rate_limited[0]));
    srv_prom_sample(o, "xllm_rate_limited_total", "limit=\"tokens\"", (double)atomic_load(&m->rate_limited[1]));
    one(o, "xllm_prompt_tokens_total", "counter", "prompt tokens of finished generations and embedding inputs",
        (double)atomic_load(&m->tokens_in));
    one(o, "xllm_generated_tokens_total", "counter", "tokens generated", (double)atomic_load(&m->tokens_out));
    one(o, "xllm_cached_prompt_tokens_total", "counter", "prompt tokens served from the prefix cache",
        (double)atomic_load(&m->tokens_cached));
    srv_prom_hist(o, "xllm_time_to_first_token_seconds",
                  "from the request's arrival to its first generated token (model load included)", &m->ttft);
    srv_prom_hist(o, "xllm_inter_token_latency_seconds", "between two generated tokens of one sequence", &m->itl);
    one(o, "xllm_generations_active", "gauge", "generating requests in flight", n_gens);
    one(o, "xllm_model_load_waits_total", "counter",
        "generating requests that waited for their model's load without holding a worker",
        (double)atomic_load(&m->load_waits));
    one(o, "xllm_worker_queue_depth", "gauge", "jobs waiting for a worker thread", queued);
    one(o, "xllm_workers_busy", "gauge", "worker threads running a job", busy);
    one(o, "xllm_workers", "gauge", "worker threads", srv_pool_threads(s->pool));
    one(o, "xllm_model_loads_total", "counter", "runner processes started and ready", (double)mc.loads);
    one(o, "xllm_model_load_failures_total", "counter", "model loads that failed or were refused",
        (double)mc.load_failures);
    one(o, "xllm_model_unloads_total", "counter", "runners stopped (keep_alive, LRU, stop, exit)", (double)mc.unloads);
    one(o, "xllm_runner_restarts_total", "counter",
        "runners that exited on their own (the next request of the model starts a new one)", (double)mc.runner_exits);
    one(o, "xllm_models", "gauge", "models served", nm);
    write_models(o, v, nm);
    one(o, "xllm_server_resident_bytes", "gauge", "resident memory of the server process", (double)xllm_rss_bytes());
    one(o, "xllm_ram_total_bytes", "gauge", "RAM of the machine", (double)xllm_total_ram_bytes());
    one(o, "xllm_ram_available_bytes", "gauge", "RAM available (MemAvailable)", (double)srv_mem_available());
    one(o, "xllm_uptime_seconds", "gauge", "seconds since the server started", xllm_now() - s->t_start);
    xllm_free(v);
}

static void metrics_finish(srv_req *r, void *arg)
{
    metrics_job *j = arg;
    if (j->out.len == 0 || !j->out.data)
        srv_reply_error(r, 500, "", NULL, "out of memory writing the metrics");
    else
        srv_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", j->out.data, j->out.len);
}

static void metrics_free(void *arg)
{
    metrics_job *j = arg;
    xllm_buf_free(&j->out);
    xllm_free(j);
}

void srv_xllm_metrics(srv_req *r)
{
    metrics_job *j = xllm_calloc(1, sizeof *j);
    if (!j) {
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    j->s = srv_req_server(r);
    xllm_buf_init(&j->out, 0);
    srv_task_start(r, NULL, 0, metrics_work, metrics_finish, j, metrics_free);
}
