/* bench_report.c - printing benchmark results as text, JSON, Markdown, Prometheus. */
#include "cli/bench_report.h"

#include <jansson.h>
#include <math.h>
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
    p = p < 0 ? 0 : p > 100 ? 100 : p;
    pos = p / 100.0 * (n - 1);
    lo = (int)pos;
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo);
}

double xllm_median(double *v, int n) { return xllm_percentile(v, n, 50); }

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* "16.0 MiB" below a GiB, else "1.10 GiB". */
static const char *size_str(uint64_t b, char buf[32])
{
    if (b < (1u << 30))
        snprintf(buf, 32, "%.1f MiB", mib(b));
    else
        snprintf(buf, 32, "%.2f GiB", mib(b) / 1024.0);
    return buf;
}

/* Tokens/s the memory bandwidth allows when a decode step reads bytes_per_token. */
static double roofline_tps(const xllm_bench_report *r)
{
    return r->decode_bytes_per_token ? r->bandwidth / (double)r->decode_bytes_per_token : 0.0;
}

static const char *str(const char *s) { return s ? s : ""; }

void xllm_bench_print_text(FILE *f, const xllm_bench_report *r)
{
    char size[32];
    fprintf(f, "model:      %s (%s, %s, %s)\n", str(r->model), str(r->arch), str(r->quant),
            size_str(r->model_bytes, size));
    fprintf(f, "cpu:        %s, %d threads of %d CPUs, kernels %s\n", str(r->cpu), r->threads, r->cpus,
            str(r->kernels));
    fprintf(f, "prompt:     %d %s; %d generated tokens per sequence\n", r->prompt_tokens, str(r->prompt_source),
            r->gen_tokens);
    fprintf(f, "load:       %.3f s\n", r->load_seconds);
    fprintf(f, "prefill:    %.2f tokens/s (%d-token prompt, median of %d)\n", r->prefill_tps, r->prompt_tokens,
            r->repeats);
    fprintf(f, "decode:     %.2f tokens/s (%d steps, median of %d)\n", r->decode_tps, r->gen_tokens - 1,
            r->repeats);
    fprintf(f, "ttft:       %.1f ms\n", r->ttft_seconds * 1e3);
    if (r->prefix_tokens)
        fprintf(f, "prefix:     %d shared tokens: first token %.1f ms cold, %.1f ms with %d cached (%.1f%%)\n",
                r->prefix_tokens, r->prefix_cold_ttft * 1e3, r->prefix_warm_ttft * 1e3, r->prefix_cached,
                r->prefix_cold_ttft > 0 ? 100 * r->prefix_warm_ttft / r->prefix_cold_ttft : 0.0);
    fprintf(f, "roofline:   %.3f of %.2f tokens/s (%.1f MB of weights per token at %.2f GB/s measured)\n",
            r->decode_roofline_ratio, roofline_tps(r), (double)r->decode_bytes_per_token / 1e6, r->bandwidth / 1e9);
    fprintf(f, "memory:     %.1f MiB resident, %.1f MiB peak\n", mib(r->rss_bytes), mib(r->peak_rss_bytes));
    fprintf(f, "other CPU:  %.1f%% of the machine used by other processes during the run%s\n",
            r->other_cpu_share * 100, r->other_cpu_share > 0.03 ? " (figures are likely low)" : "");
    if (!r->n_levels)
        return;
    fprintf(f, "\nconcurrency (%s):\n", str(r->concurrency_mode));
    fprintf(f, "%-11s %12s %12s %10s %10s %10s %10s %10s %10s %9s %8s %7s %9s %9s %9s\n", "sequences",
            "agg tok/s", "req tok/s", "ttft p50", "ttft p95", "ttft p99", "itl p50", "itl p95", "itl p99",
            "kv blocks", "prefix", "preempt", "step", "sched", "step cpu");
    for (int i = 0; i < r->n_levels; i++) {
        const xllm_bench_level *l = &r->levels[i];
        char name[24];
        snprintf(name, sizeof name, "%d%s", l->concurrency, l->constrained ? " grammar" : "");
        fprintf(f, "%-11s %12.2f %12.2f %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms %9d %8lld %7lld %7.2fms "
                   "%7.1fus %7.1fus\n",
                name, l->aggregate_tps, l->per_request_tps, l->ttft_p50 * 1e3, l->ttft_p95 * 1e3, l->ttft_p99 * 1e3,
                l->itl_p50 * 1e3, l->itl_p95 * 1e3, l->itl_p99 * 1e3, l->kv_blocks_peak, l->prefix_hits,
                l->preemptions, l->step_s * 1e3, l->sched_s * 1e6, l->step_cpu_s * 1e6);
    }
    if (r->n_levels && r->levels[0].arrival_rate > 0)
        fprintf(f, "arrivals: Poisson, %.2f requests/s\n", r->levels[0].arrival_rate);
    if (r->grammar)
        fprintf(f, "grammar: %s (each level unconstrained, then constrained: repeated documents to the token "
                   "budget)\n", r->grammar);
    for (int i = 1; r->grammar && i < r->n_levels; i++)
        if (r->levels[i].constrained && !r->levels[i - 1].constrained && r->levels[i - 1].aggregate_tps > 0)
            fprintf(f, "grammar cost at %d: %+.1f%% aggregate tokens/s\n", r->levels[i].concurrency,
                    100 * (r->levels[i].aggregate_tps / r->levels[i - 1].aggregate_tps - 1));
}

/* JSON numbers must be finite: NaN and infinities become null. */
static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *level_json(const xllm_bench_level *l)
{
    json_t *e = json_object();
    json_object_set_new(e, "concurrency", json_integer(l->concurrency));
    json_object_set_new(e, "seconds", jreal(l->seconds));
    json_object_set_new(e, "aggregate_tokens_per_s", jreal(l->aggregate_tps));
    json_object_set_new(e, "per_request_tokens_per_s", jreal(l->per_request_tps));
    json_object_set_new(e, "ttft_p50_s", jreal(l->ttft_p50));
    json_object_set_new(e, "ttft_p95_s", jreal(l->ttft_p95));
    json_object_set_new(e, "ttft_p99_s", jreal(l->ttft_p99));
    json_object_set_new(e, "itl_p50_s", jreal(l->itl_p50));
    json_object_set_new(e, "itl_p95_s", jreal(l->itl_p95));
    json_object_set_new(e, "itl_p99_s", jreal(l->itl_p99));
    json_object_set_new(e, "arrival_rate", jreal(l->arrival_rate));
    json_object_set_new(e, "kv_blocks_peak", json_integer(l->kv_blocks_peak));
    json_object_set_new(e, "prefix_cache_hits", json_integer(l->prefix_hits));
    json_object_set_new(e, "preemptions", json_integer(l->preemptions));
    json_object_set_new(e, "scheduler_share", jreal(l->sched_share));
    json_object_set_new(e, "constrained", json_boolean(l->constrained));
    json_object_set_new(e, "generated_tokens", json_integer(l->generated));
    json_object_set_new(e, "steps", json_integer(l->steps));
    json_object_set_new(e, "step_mean_s", jreal(l->step_s));
    json_object_set_new(e, "scheduler_per_step_s", jreal(l->sched_s));
    json_object_set_new(e, "step_cpu_mean_s", jreal(l->step_cpu_s));
    return e;
}

void xllm_bench_print_json(FILE *f, const xllm_bench_report *r)
{
    json_t *o = json_object(), *levels = json_array();
    json_object_set_new(o, "model", json_string(str(r->model)));
    json_object_set_new(o, "architecture", json_string(str(r->arch)));
    json_object_set_new(o, "quantization", json_string(str(r->quant)));
    json_object_set_new(o, "kernels", json_string(str(r->kernels)));
    json_object_set_new(o, "cpu", json_string(str(r->cpu)));
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "cpus", json_integer(r->cpus));
    json_object_set_new(o, "prompt_source", json_string(str(r->prompt_source)));
    json_object_set_new(o, "prompt_tokens", json_integer(r->prompt_tokens));
    json_object_set_new(o, "gen_tokens", json_integer(r->gen_tokens));
    json_object_set_new(o, "repeats", json_integer(r->repeats));
    json_object_set_new(o, "load_seconds", jreal(r->load_seconds));
    json_object_set_new(o, "prefill_tokens_per_s", jreal(r->prefill_tps));
    json_object_set_new(o, "decode_tokens_per_s", jreal(r->decode_tps));
    json_object_set_new(o, "ttft_seconds", jreal(r->ttft_seconds));
    if (r->prefix_tokens) {
        json_object_set_new(o, "prefix_tokens", json_integer(r->prefix_tokens));
        json_object_set_new(o, "prefix_cached_tokens", json_integer(r->prefix_cached));
        json_object_set_new(o, "prefix_cold_ttft_seconds", jreal(r->prefix_cold_ttft));
        json_object_set_new(o, "prefix_warm_ttft_seconds", jreal(r->prefix_warm_ttft));
    }
    json_object_set_new(o, "model_bytes", json_integer((json_int_t)r->model_bytes));
    json_object_set_new(o, "decode_bytes_per_token", json_integer((json_int_t)r->decode_bytes_per_token));
    json_object_set_new(o, "memory_bandwidth_bytes_per_s", jreal(r->bandwidth));
    json_object_set_new(o, "decode_roofline_tokens_per_s", jreal(roofline_tps(r)));
    json_object_set_new(o, "decode_roofline_ratio", jreal(r->decode_roofline_ratio));
    json_object_set_new(o, "other_cpu_share", jreal(r->other_cpu_share));
    json_object_set_new(o, "rss_bytes", json_integer((json_int_t)r->rss_bytes));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)r->peak_rss_bytes));
    json_object_set_new(o, "concurrency_mode", json_string(str(r->concurrency_mode)));
    json_object_set_new(o, "kv_blocks_total", json_integer(r->kv_blocks_total));
    json_object_set_new(o, "kv_type", json_string(str(r->kv_type)));
    if (r->grammar)
        json_object_set_new(o, "grammar", json_string(r->grammar));
    for (int i = 0; i < r->n_levels; i++)
        json_array_append_new(levels, level_json(&r->levels[i]));
    json_object_set_new(o, "concurrency", levels);
    json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    fputc('\n', f);
    json_decref(o);
}

void xllm_bench_print_markdown(FILE *f, const xllm_bench_report *r)
{
    char size[32];
    fprintf(f, "### xllm benchmark: %s\n\n", str(r->model));
    fprintf(f, "%s, %s, %s; %s, %d threads of %d CPUs, kernels %s; prompt: %d %s\n\n", str(r->arch),
            str(r->quant), size_str(r->model_bytes, size), str(r->cpu), r->threads, r->cpus, str(r->kernels),
            r->prompt_tokens, str(r->prompt_source));
    fprintf(f, "| metric | value |\n|---|---|\n");
    fprintf(f, "| load | %.3f s |\n", r->load_seconds);
    fprintf(f, "| prefill (%d tokens) | %.2f tokens/s |\n", r->prompt_tokens, r->prefill_tps);
    fprintf(f, "| decode (%d steps) | %.2f tokens/s |\n", r->gen_tokens - 1, r->decode_tps);
    fprintf(f, "| time to first token | %.1f ms |\n", r->ttft_seconds * 1e3);
    fprintf(f, "| weights read per decode step | %.1f MB |\n", (double)r->decode_bytes_per_token / 1e6);
    fprintf(f, "| memory bandwidth (measured) | %.2f GB/s |\n", r->bandwidth / 1e9);
    fprintf(f, "| decode roofline ratio | %.3f (limit %.2f tokens/s) |\n", r->decode_roofline_ratio,
            roofline_tps(r));
    fprintf(f, "| RSS / peak RSS | %.1f / %.1f MiB |\n", mib(r->rss_bytes), mib(r->peak_rss_bytes));
    fprintf(f, "| CPU used by other processes | %.1f%% |\n", r->other_cpu_share * 100);
    if (!r->n_levels)
        return;
    fprintf(f, "\nConcurrency (%s; median repeats do not apply: one run per level):\n\n", str(r->concurrency_mode));
    fprintf(f, "| sequences | aggregate tok/s | per-request tok/s | TTFT p50 | TTFT p95 | TTFT p99 | ITL p50 | "
               "ITL p95 | ITL p99 |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_levels; i++) {
        const xllm_bench_level *l = &r->levels[i];
        fprintf(f, "| %d%s | %.2f | %.2f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n",
                l->concurrency, l->constrained ? " (grammar)" : "", l->aggregate_tps, l->per_request_tps, l->ttft_p50 * 1e3, l->ttft_p95 * 1e3,
                l->ttft_p99 * 1e3, l->itl_p50 * 1e3, l->itl_p95 * 1e3, l->itl_p99 * 1e3);
    }
}

/* ---- Prometheus text exposition format (version 0.0.4) ---- */

/* A label value, escaped as the format requires (\\, \", \n). */
static void prom_label(FILE *f, const char *name, const char *v, int first)
{
    fprintf(f, "%s%s=\"", first ? "" : ",", name);
    for (v = str(v); *v; v++) {
        if (*v == '\n')
            fputs("\\n", f);
        else if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

/* A sample value: Go-parsable floats, NaN and +Inf/-Inf spelled as the format does. */
static void prom_value(FILE *f, double v)
{
    if (isnan(v))
        fputs(" NaN\n", f);
    else if (isinf(v))
        fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
    else
        fprintf(f, " %.9g\n", v);
}

static void prom_family(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

enum { PROM_DOUBLE, PROM_U64, PROM_INT };

/* A report field as a sample value (integers exactly, even above 2^53). */
static void prom_field(FILE *f, const void *base, size_t off, int kind)
{
    const char *p = (const char *)base + off;
    if (kind == PROM_U64)
        fprintf(f, " %llu\n", (unsigned long long)*(const uint64_t *)p);
    else if (kind == PROM_INT)
        fprintf(f, " %d\n", *(const int *)p);
    else
        prom_value(f, *(const double *)p);
}

#define RF(member, kind) offsetof(xllm_bench_report, member), kind
#define LF(member) offsetof(xllm_bench_level, member)

static const struct {
    const char *name, *help;
    size_t off;
    int kind;
} prom_scalars[] = {
    {"xllm_bench_prefill_tokens_per_second", "Prefill tokens per second, one sequence (median).",
     RF(prefill_tps, PROM_DOUBLE)},
    {"xllm_bench_decode_tokens_per_second", "Decode tokens per second, one sequence (median).",
     RF(decode_tps, PROM_DOUBLE)},
    {"xllm_bench_ttft_seconds", "Time to first token, one sequence (median).", RF(ttft_seconds, PROM_DOUBLE)},
    {"xllm_bench_load_seconds", "Model load time.", RF(load_seconds, PROM_DOUBLE)},
    {"xllm_bench_model_bytes", "Tensor bytes of the model file.", RF(model_bytes, PROM_U64)},
    {"xllm_bench_decode_bytes_per_token", "Weight bytes read per decode step.", RF(decode_bytes_per_token, PROM_U64)},
    {"xllm_bench_memory_bandwidth_bytes_per_second", "Measured memory read bandwidth.", RF(bandwidth, PROM_DOUBLE)},
    {"xllm_bench_decode_roofline_ratio", "Decode speed over the memory-bandwidth limit.",
     RF(decode_roofline_ratio, PROM_DOUBLE)},
    {"xllm_bench_resident_bytes", "Resident memory after the run.", RF(rss_bytes, PROM_U64)},
    {"xllm_bench_peak_resident_bytes", "Peak resident memory.", RF(peak_rss_bytes, PROM_U64)},
    {"xllm_bench_other_cpu_share", "Share of the machine's CPU used by other processes during the run.",
     RF(other_cpu_share, PROM_DOUBLE)},
    {"xllm_bench_threads", "Compute threads.", RF(threads, PROM_INT)},
    {"xllm_bench_prompt_tokens", "Prompt tokens per sequence.", RF(prompt_tokens, PROM_INT)},
    {"xllm_bench_generated_tokens", "Generated tokens per sequence.", RF(gen_tokens, PROM_INT)},
};

static const struct {
    const char *name, *help;
    size_t off[3]; /* one value, or the 0.5 / 0.95 / 0.99 quantiles */
    int n;
} prom_levels[] = {
    {"xllm_bench_aggregate_tokens_per_second", "Generated tokens per second over all sequences of a level.",
     {LF(aggregate_tps)}, 1},
    {"xllm_bench_request_tokens_per_second", "Mean decode tokens per second of one sequence of a level.",
     {LF(per_request_tps)}, 1},
    {"xllm_bench_level_ttft_seconds", "Time to first token by quantile over the sequences of a level.",
     {LF(ttft_p50), LF(ttft_p95), LF(ttft_p99)}, 3},
    {"xllm_bench_level_inter_token_seconds", "Inter-token latency by quantile over the sequences of a level.",
     {LF(itl_p50), LF(itl_p95), LF(itl_p99)}, 3},
};

void xllm_bench_print_prometheus(FILE *f, const xllm_bench_report *r)
{
    static const char *const qnames[3] = {"0.5", "0.95", "0.99"};
    prom_family(f, "xllm_bench_info", "What was measured (labels); the value is always 1.");
    fputs("xllm_bench_info{", f);
    prom_label(f, "model", r->model, 1);
    prom_label(f, "architecture", r->arch, 0);
    prom_label(f, "quantization", r->quant, 0);
    prom_label(f, "cpu", r->cpu, 0);
    prom_label(f, "kernels", r->kernels, 0);
    prom_label(f, "prompt_source", r->prompt_source, 0);
    prom_label(f, "concurrency_mode", r->concurrency_mode, 0);
    fputc('}', f);
    prom_value(f, 1);
    for (size_t s = 0; s < sizeof prom_scalars / sizeof prom_scalars[0]; s++) {
        prom_family(f, prom_scalars[s].name, prom_scalars[s].help);
        fprintf(f, "%s{", prom_scalars[s].name);
        prom_label(f, "model", r->model, 1);
        fputc('}', f);
        prom_field(f, r, prom_scalars[s].off, prom_scalars[s].kind);
    }
    for (size_t s = 0; r->n_levels && s < sizeof prom_levels / sizeof prom_levels[0]; s++) {
        prom_family(f, prom_levels[s].name, prom_levels[s].help);
        for (int i = 0; i < r->n_levels; i++)
            for (int q = 0; q < prom_levels[s].n; q++) {
                fprintf(f, "%s{", prom_levels[s].name);
                prom_label(f, "model", r->model, 1);
                fprintf(f, ",concurrency=\"%d\"", r->levels[i].concurrency);
                if (r->grammar)
                    fprintf(f, ",constrained=\"%d\"", r->levels[i].constrained);
                if (prom_levels[s].n == 3)
                    prom_label(f, "quantile", qnames[q], 0);
                fputc('}', f);
                prom_field(f, &r->levels[i], prom_levels[s].off[q], PROM_DOUBLE);
            }
    }
}
