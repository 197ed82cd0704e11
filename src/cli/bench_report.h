/* bench_report.h - the results of `xllm benchmark` / `xllm profile` and their
 * four output formats: text (default), JSON, Markdown (--report) and the
 * Prometheus text exposition format (--prometheus). Plain data; the caller
 * fills it and owns it. */
#ifndef XLLM_CLI_BENCH_REPORT_H
#define XLLM_CLI_BENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#define XLLM_BENCH_MAX_LEVELS 16

typedef struct xllm_bench_level {
    int concurrency;         /* sequences decoded together */
    double seconds;          /* wall time from submitting all to the last token */
    double aggregate_tps;    /* generated tokens of all sequences / seconds */
    double per_request_tps;  /* mean over sequences of their decode tokens/s (after the first token) */
    double ttft_p50, ttft_p95, ttft_p99; /* seconds from submit to first token */
    double itl_p50, itl_p95, itl_p99;    /* seconds between tokens of one sequence */
    double arrival_rate;     /* requests/s of a Poisson stream; 0: all submitted together */
    int kv_blocks_peak;      /* most KV blocks in use at once */
    long long prefix_hits;   /* prompt blocks served from the prefix cache */
    long long preemptions;   /* sequences preempted for lack of blocks */
    double sched_share;      /* scheduler bookkeeping time / step time */
    int constrained;         /* 1: every request under the --grammar / --json-schema grammar */
    long long generated;     /* tokens generated in all (aggregate_tps counts these) */
    long long steps;         /* scheduler steps of the level */
    double step_s;           /* mean wall time of one step, forward included */
    double sched_s;          /* mean bookkeeping time of one step (outside the forward call) */
    double step_cpu_s;       /* mean CPU time of the driving thread per step (--device null: the
                                scheduler's cost without other processes' share of the core) */
} xllm_bench_level;

typedef struct xllm_bench_report {
    const char *model;
    const char *arch;
    const char *quant;             /* dominant weight type */
    const char *kernels;           /* kernel variant in use */
    const char *cpu;
    const char *prompt_source;     /* what the prompt tokens are ("random token ids, seed 1") */
    const char *concurrency_mode;  /* how sequences of a level run ("batched") */
    int threads, cpus;             /* compute threads; online CPUs of the machine */
    int prompt_tokens;             /* prompt length of every sequence */
    int gen_tokens;                /* tokens generated per sequence: the first from the
                                      prompt's logits, then gen_tokens - 1 decode steps */
    int repeats;                   /* single-sequence runs (medians are over these) */
    double load_seconds;
    double prefill_tps;            /* median of repeats, one sequence */
    double decode_tps;             /* median of repeats, one sequence: decode steps / their time */
    double ttft_seconds;           /* prompt_tokens prefill + first token, median */
    uint64_t model_bytes;          /* tensor bytes in the file */
    uint64_t decode_bytes_per_token; /* weights read per decode step */
    double bandwidth;              /* measured read bandwidth, bytes/s */
    double decode_roofline_ratio;  /* decode_tps / (bandwidth / bytes_per_token) */
    double other_cpu_share;        /* share of machine CPU used by other processes */
    uint64_t rss_bytes, peak_rss_bytes;
    int kv_blocks_total;           /* the scheduler's KV pool */
    int prefix_tokens;             /* --shared-prefix: tokens the two requests share (0: not run) */
    int prefix_cached;             /* prompt tokens the second request took from the prefix cache */
    double prefix_cold_ttft, prefix_warm_ttft; /* seconds to first token, first and second request */
    const char *kv_type;           /* "f16", "q8_0", "f32" */
    const char *grammar;           /* --grammar / --json-schema file (NULL: none); each level then
                                      runs unconstrained and constrained, one after the other */
    int n_levels;
    xllm_bench_level levels[XLLM_BENCH_MAX_LEVELS];
} xllm_bench_report;

void xllm_bench_print_text(FILE *f, const xllm_bench_report *r);
void xllm_bench_print_json(FILE *f, const xllm_bench_report *r);
void xllm_bench_print_markdown(FILE *f, const xllm_bench_report *r);
void xllm_bench_print_prometheus(FILE *f, const xllm_bench_report *r);

/* p-th percentile (0..100, clamped) of v[n] by linear interpolation between
 * closest ranks (numpy's default); sorts v in place; 0 when n == 0. */
double xllm_percentile(double *v, int n, double p);
/* Median of v[n] (sorts in place). */
double xllm_median(double *v, int n);

#endif
