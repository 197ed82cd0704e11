/* metrics.h - the server's counters for GET /v0/metrics and the Prometheus
 * text format (version 0.0.4) they are written in: requests by endpoint and
 * status, tokens, the time-to-first-token and inter-token histograms.
 *
 * Ownership: srv_metrics is a fixed block inside the server (no allocation
 * per request, whatever the traffic). Threading: every counter is an atomic,
 * updated from any thread without a lock; a scrape reads them one by one (a
 * histogram's buckets are summed at read time, so +Inf always equals _count
 * of the same read). The writers append to a caller's buffer. */
#ifndef XLLM_SERVER_METRICS_H
#define XLLM_SERVER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"

/* Route-table endpoints we count (plus one "other" for unknown paths). */
#define SRV_METRICS_ENDPOINTS 48
/* HTTP statuses counted one by one (srv_metrics_status_code); the rest is "other". */
#define SRV_METRICS_STATUSES 26
#define SRV_HIST_MAX_BUCKETS 16

typedef struct srv_hist {
    int n;                   /* finite buckets */
    double le[SRV_HIST_MAX_BUCKETS];       /* upper bounds, seconds, ascending */
    atomic_uint_least64_t in[SRV_HIST_MAX_BUCKETS + 1]; /* per bucket (not cumulative); [n] is > le[n-1] */
    atomic_uint_least64_t sum_ns;
} srv_hist;

typedef struct srv_metrics {
    atomic_uint_least64_t requests[SRV_METRICS_ENDPOINTS][SRV_METRICS_STATUSES];
    atomic_uint_least64_t tokens_in, tokens_out, tokens_cached;
    atomic_uint_least64_t rate_limited[2]; /* by requests / by tokens */
    atomic_uint_least64_t load_waits;      /* requests that parked while their model loaded */
    srv_hist ttft, itl;
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
/* One observation in seconds (negative counts as 0). */
void srv_metrics_observe(srv_hist *h, double seconds);
/* endpoint: 0..SRV_METRICS_ENDPOINTS-1 (out of range: the last, "other"). */
void srv_metrics_count_request(srv_metrics *m, int endpoint, int status);
/* The status of index i, or 0 for the "other" slot. */
int srv_metrics_status_code(int i);

/* ---- Prometheus text ---- */
/* "# HELP name help\n# TYPE name type\n" (help escaped). */
void srv_prom_family(xllm_buf *out, const char *name, const char *type, const char *help);
/* Append a label value with \\, \" and \n escaped. */
void srv_prom_escape(xllm_buf *out, const char *value);
/* One sample: name{labels} value; labels is the text between the braces
 * (already escaped, may be NULL or ""). Integers print without exponent. */
void srv_prom_sample(xllm_buf *out, const char *name, const char *labels, double value);
/* A whole histogram family: cumulative _bucket lines with le, +Inf, _sum, _count. */
void srv_prom_hist(xllm_buf *out, const char *name, const char *help, srv_hist *h);

#endif
