/* bench_report.c - printing benchmark results as text, JSON, Markdown, Prometheus. */
#include "cli/bench_report.h"

#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double xllm_percentile(double *v, int n, double p)
{
    double pos;
    int lo;
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    pos = p / 100.0 * (n - 1);
    lo = (int)pos;
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo);
}

double xllm_median(double *v, int n) { return xllm_percentile(v, n, 50); }

static double gib(uint64_t b) { return (double)b / (1024.0 * 1024.0 * 1024.0); }

void xllm_bench_print_text(FILE *f, const xllm_bench_report *r)
{
    fprintf(f, "model:      %s (%s, %s, %.2f GiB)\n", r->model, r->arch, r->quant, gib(r->model_bytes));
    fprintf(f, "cpu:        %s, %d threads, kernels %s\n", r->cpu, r->threads, r->kernels);
    fprintf(f, "load:       %.3f s\n", r->load_seconds);
    fprintf(f, "prefill:    %.2f tokens/s (%d-token prompt, median of %d)\n", r->prefill_tps, r->prompt_tokens,
            r->repeats);
    fprintf(f, "decode:     %.2f tokens/s (%d tokens, median of %d)\n", r->decode_tps, r->gen_tokens, r->repeats);
    fprintf(f, "ttft:       %.1f ms\n", r->ttft_seconds * 1e3);
    fprintf(f, "roofline:   %.2f of %.2f tokens/s (%.1f MB/token at %.1f GB/s measured)\n",
            r->decode_roofline_ratio,
            r->decode_bytes_per_token ? r->bandwidth / (double)r->decode_bytes_per_token : 0.0,
            (double)r->decode_bytes_per_token / 1e6, r->bandwidth / 1e9);
    fprintf(f, "memory:     %.1f MiB resident, %.1f MiB peak\n", (double)r->rss_bytes / 1048576.0,
            (double)r->peak_rss_bytes / 1048576.0);
    if (r->other_cpu_share > 0.03)
        fprintf(f, "warning:    other processes used %.0f%% of the CPU during the run; figures are low\n",
                r->other_cpu_share * 100);
    if (r->n_levels)
        fprintf(f, "\n%-11s %12s %12s %10s %10s %10s %10s %10s %10s\n", "concurrency", "agg tok/s",
                "req tok/s", "ttft p50", "ttft p95", "ttft p99", "itl p50", "itl p95", "itl p99");
    for (int i = 0; i < r->n_levels; i++) {
        const xllm_bench_level *l = &r->levels[i];
        fprintf(f, "%-11d %12.2f %12.2f %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms\n", l->concurrency,
                l->aggregate_tps, l->per_request_tps, l->ttft_p50 * 1e3, l->ttft_p95 * 1e3, l->ttft_p99 * 1e3,
                l->itl_p50 * 1e3, l->itl_p95 * 1e3, l->itl_p99 * 1e3);
    }
}

void xllm_bench_print_json(FILE *f, const xllm_bench_report *r)
{
    json_t *o = json_object(), *levels = json_array();
    json_object_set_new(o, "model", json_string(r->model));
    json_object_set_new(o, "architecture", json_string(r->arch));
    json_object_set_new(o, "quantization", json_string(r->quant));
    json_object_set_new(o, "kernels", json_string(r->kernels));
    json_object_set_new(o, "cpu", json_string(r->cpu));
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "prompt_tokens", json_integer(r->prompt_tokens));
    json_object_set_new(o, "gen_tokens", json_integer(r->gen_tokens));
    json_object_set_new(o, "repeats", json_integer(r->repeats));
    json_object_set_new(o, "load_seconds", json_real(r->load_seconds));
    json_object_set_new(o, "prefill_tokens_per_s", json_real(r->prefill_tps));
    json_object_set_new(o, "decode_tokens_per_s", json_real(r->decode_tps));
    json_object_set_new(o, "ttft_seconds", json_real(r->ttft_seconds));
    json_object_set_new(o, "model_bytes", json_integer((json_int_t)r->model_bytes));
    json_object_set_new(o, "decode_bytes_per_token", json_integer((json_int_t)r->decode_bytes_per_token));
    json_object_set_new(o, "memory_bandwidth_bytes_per_s", json_real(r->bandwidth));
    json_object_set_new(o, "decode_roofline_ratio", json_real(r->decode_roofline_ratio));
    json_object_set_new(o, "other_cpu_share", json_real(r->other_cpu_share));
    json_object_set_new(o, "rss_bytes", json_integer((json_int_t)r->rss_bytes));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)r->peak_rss_bytes));
    for (int i = 0; i < r->n_levels; i++) {
        const xllm_bench_level *l = &r->levels[i];
        json_t *e = json_object();
        json_object_set_new(e, "concurrency", json_integer(l->concurrency));
        json_object_set_new(e, "aggregate_tokens_per_s", json_real(l->aggregate_tps));
        json_object_set_new(e, "per_request_tokens_per_s", json_real(l->per_request_tps));
        json_object_set_new(e, "ttft_p50_s", json_real(l->ttft_p50));
        json_object_set_new(e, "ttft_p95_s", json_real(l->ttft_p95));
        json_object_set_new(e, "ttft_p99_s", json_real(l->ttft_p99));
        json_object_set_new(e, "itl_p50_s", json_real(l->itl_p50));
        json_object_set_new(e, "itl_p95_s", json_real(l->itl_p95));
        json_object_set_new(e, "itl_p99_s", json_real(l->itl_p99));
        json_array_append_new(levels, e);
    }
    json_object_set_new(o, "concurrency", levels);
    json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    fputc('\n', f);
    json_decref(o);
}

void xllm_bench_print_markdown(FILE *f, const xllm_bench_report *r)
{
    fprintf(f, "### xllm benchmark: %s\n\n", r->model);
    fprintf(f, "%s, %s, %.2f GiB; %s, %d threads, kernels %s\n\n", r->arch, r->quant, gib(r->model_bytes), r->cpu,
            r->threads, r->kernels);
    fprintf(f, "| metric | value |\n|---|---|\n");
    fprintf(f, "| load | %.3f s |\n", r->load_seconds);
    fprintf(f, "| prefill (%d tokens) | %.2f tokens/s |\n", r->prompt_tokens, r->prefill_tps);
    fprintf(f, "| decode (%d tokens) | %.2f tokens/s |\n", r->gen_tokens, r->decode_tps);
    fprintf(f, "| time to first token | %.1f ms |\n", r->ttft_seconds * 1e3);
    fprintf(f, "| memory bandwidth (measured) | %.1f GB/s |\n", r->bandwidth / 1e9);
    fprintf(f, "| decode roofline ratio | %.3f |\n", r->decode_roofline_ratio);
    fprintf(f, "| peak RSS | %.1f MiB |\n", (double)r->peak_rss_bytes / 1048576.0);
    if (!r->n_levels)
        return;
    fprintf(f, "\n| concurrency | aggregate tok/s | per-request tok/s | TTFT p50 | TTFT p95 | TTFT p99 | ITL p50 | "
               "ITL p95 | ITL p99 |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_levels; i++) {
        const xllm_bench_level *l = &r->levels[i];
        fprintf(f, "| %d | %.2f | %.2f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n",
                l->concurrency, l->aggregate_tps, l->per_request_tps, l->ttft_p50 * 1e3, l->ttft_p95 * 1e3,
                l->ttft_p99 * 1e3, l->itl_p50 * 1e3, l->itl_p95 * 1e3, l->itl_p99 * 1e3);
    }
}

/* Label values are escaped as the exposition format requires (\\, \", \n). */
static void prom_label(FILE *f, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*v, f);
    }
}

static void prom_gauge(FILE *f, const char *name, const char *help, const xllm_bench_report *r, double v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s{model=\"", name, help, name, name);
    prom_label(f, r->model);
    fprintf(f, "\"} %.9g\n", v);
}

void xllm_bench_print_prometheus(FILE *f, const xllm_bench_report *r)
{
    prom_gauge(f, "xllm_bench_prefill_tokens_per_second", "Prefill tokens per second, one sequence.", r,
               r->prefill_tps);
    prom_gauge(f, "xllm_bench_decode_tokens_per_second", "Decode tokens per second, one sequence.", r, r->decode_tps);
    prom_gauge(f, "xllm_bench_ttft_seconds", "Time to first token.", r, r->ttft_seconds);
    prom_gauge(f, "xllm_bench_load_seconds", "Model load time.", r, r->load_seconds);
    prom_gauge(f, "xllm_bench_model_bytes", "Tensor bytes of the model.", r, (double)r->model_bytes);
    prom_gauge(f, "xllm_bench_memory_bandwidth_bytes_per_second", "Measured memory read bandwidth.", r, r->bandwidth);
    prom_gauge(f, "xllm_bench_decode_roofline_ratio", "Decode speed over the memory-bandwidth limit.", r,
               r->decode_roofline_ratio);
    prom_gauge(f, "xllm_bench_peak_rss_bytes", "Peak resident memory.", r, (double)r->peak_rss_bytes);
    if (!r->n_levels)
        return;
    static const struct {
        const char *name, *help;
        size_t off;
    } series[] = {
        {"xllm_bench_aggregate_tokens_per_second", "Generated tokens per second over all sequences.",
         offsetof(xllm_bench_level, aggregate_tps)},
        {"xllm_bench_request_tokens_per_second", "Mean decode tokens per second of one sequence.",
         offsetof(xllm_bench_level, per_request_tps)},
    };
    for (size_t s = 0; s < sizeof series / sizeof series[0]; s++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", series[s].name, series[s].help, series[s].name);
        for (int i = 0; i < r->n_levels; i++) {
            fprintf(f, "%s{model=\"", series[s].name);
            prom_label(f, r->model);
            fprintf(f, "\",concurrency=\"%d\"} %.9g\n", r->levels[i].concurrency,
                    *(const double *)((const char *)&r->levels[i] + series[s].off));
        }
    }
    static const struct {
        const char *name, *help;
        size_t off[3];
    } quantiles[] = {
        {"xllm_bench_ttft_seconds_quantile", "Time to first token by quantile.",
         {offsetof(xllm_bench_level, ttft_p50), offsetof(xllm_bench_level, ttft_p95),
          offsetof(xllm_bench_level, ttft_p99)}},
        {"xllm_bench_inter_token_seconds_quantile", "Inter-token latency by quantile.",
         {offsetof(xllm_bench_level, itl_p50), offsetof(xllm_bench_level, itl_p95),
          offsetof(xllm_bench_level, itl_p99)}},
    };
    static const char *const qnames[3] = {"0.5", "0.95", "0.99"};
    for (size_t s = 0; s < sizeof quantiles / sizeof quantiles[0]; s++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", quantiles[s].name, quantiles[s].help, quantiles[s].name);
        for (int i = 0; i < r->n_levels; i++)
            for (int q = 0; q < 3; q++) {
                fprintf(f, "%s{model=\"", quantiles[s].name);
                prom_label(f, r->model);
                fprintf(f, "\",concurrency=\"%d\",quantile=\"%s\"} %.9g\n", r->levels[i].concurrency, qnames[q],
                        *(const double *)((const char *)&r->levels[i] + quantiles[s].off[q]));
            }
    }
}
