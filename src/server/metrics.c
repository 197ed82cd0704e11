/* metrics.c - lock-free counters and histograms of the server and their
 * Prometheus text exposition (metrics.h). */
#include "server/metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const int status_codes[SRV_METRICS_STATUSES - 1] = {200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405,
                                                           408, 409, 413, 415, 422, 429, 499, 500, 501, 502, 503, 504,
                                                           507};

/* Latency buckets, seconds: time to first token spans a cached prompt on a
 * GPU (ms) to a long prefill or a model load on a CPU (a minute); the gap
 * between tokens is ms to a second. */
static const double ttft_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const double itl_le[] = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56};

static void hist_init(srv_hist *h, const double *le, int n)
{
    h->n = n;
    for (int i = 0; i < n; i++)
        h->le[i] = le[i];
    for (int i = 0; i <= SRV_HIST_MAX_BUCKETS; i++)
        atomic_init(&h->in[i], 0);
    atomic_init(&h->sum_ns, 0);
}

void srv_metrics_init(srv_metrics *m)
{
    for (int e = 0; e < SRV_METRICS_ENDPOINTS; e++)
        for (int s = 0; s < SRV_METRICS_STATUSES; s++)
            atomic_init(&m->requests[e][s], 0);
    atomic_init(&m->tokens_in, 0);
    atomic_init(&m->tokens_out, 0);
    atomic_init(&m->tokens_cached, 0);
    atomic_init(&m->rate_limited[0], 0);
    atomic_init(&m->rate_limited[1], 0);
    atomic_init(&m->load_waits, 0);
    hist_init(&m->ttft, ttft_le, (int)(sizeof ttft_le / sizeof ttft_le[0]));
    hist_init(&m->itl, itl_le, (int)(sizeof itl_le / sizeof itl_le[0]));
}

void srv_metrics_observe(srv_hist *h, double seconds)
{
    int i = 0;
    if (!(seconds > 0))
        seconds = 0;
    while (i < h->n && seconds > h->le[i])
        i++;
    atomic_fetch_add_explicit(&h->in[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(seconds * 1e9 + 0.5), memory_order_relaxed);
}

int srv_metrics_status_code(int i)
{
    return i >= 0 && i < SRV_METRICS_STATUSES - 1 ? status_codes[i] : 0;
}

void srv_metrics_count_request(srv_metrics *m, int endpoint, int status)
{
    int s = SRV_METRICS_STATUSES - 1;
    if (endpoint < 0 || endpoint >= SRV_METRICS_ENDPOINTS)
        endpoint = SRV_METRICS_ENDPOINTS - 1;
    for (int i = 0; i < SRV_METRICS_STATUSES - 1; i++)
        if (status_codes[i] == status) {
            s = i;
            break;
        }
    atomic_fetch_add_explicit(&m->requests[endpoint][s], 1, memory_order_relaxed);
}

/* ---- Prometheus text ---- */

void srv_prom_family(xllm_buf *out, const char *name, const char *type, const char *help)
{
    xllm_buf_printf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            xllm_buf_append(out, "\\\\", 2);
        else if (*p == '\n')
            xllm_buf_append(out, "\\n", 2);
        else
            xllm_buf_append(out, p, 1);
    }
    xllm_buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

void srv_prom_escape(xllm_buf *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            xllm_buf_append(out, "\\\\", 2);
        else if (*p == '"')
            xllm_buf_append(out, "\\\"", 2);
        else if (*p == '\n')
            xllm_buf_append(out, "\\n", 2);
        else
            xllm_buf_append(out, p, 1);
    }
}

static void put_value(xllm_buf *out, double v)
{
    if (isnan(v))
        xllm_buf_printf(out, "NaN");
    else if (isinf(v))
        xllm_buf_printf(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9e15)
        xllm_buf_printf(out, "%.0f", v);
    else
        xllm_buf_printf(out, "%.9g", v);
}

void srv_prom_sample(xllm_buf *out, const char *name, const char *labels, double value)
{
    if (labels && labels[0])
        xllm_buf_printf(out, "%s{%s} ", name, labels);
    else
        xllm_buf_printf(out, "%s ", name);
    put_value(out, value);
    xllm_buf_append(out, "\n", 1);
}

void srv_prom_hist(xllm_buf *out, const char *name, const char *help, srv_hist *h)
{
    uint64_t cum = 0, in[SRV_HIST_MAX_BUCKETS + 1];
    char line[192];
    srv_prom_family(out, name, "histogram", help);
    for (int i = 0; i <= h->n; i++)
        in[i] = atomic_load_explicit(&h->in[i], memory_order_relaxed);
    for (int i = 0; i < h->n; i++) {
        cum += in[i];
        snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
        xllm_buf_append(out, line, strlen(line));
    }
    cum += in[h->n];
    snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name,
             (unsigned long long)cum, name, atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9, name,
             (unsigned long long)cum);
    xllm_buf_append(out, line, strlen(line));
}
