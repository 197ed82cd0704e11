/* cmd_benchmark.c - `xllm benchmark MODEL`: prefill and decode speed of one
 * sequence (median of repeats), the decode roofline (weight bytes a step reads
 * against the read bandwidth measured here), memory, and, per concurrency
 * level N, throughput and latency percentiles of N requests driven through the
 * scheduler (continuous batching, as the runner serves them), arriving together
 * or as a Poisson stream. Text, JSON, Markdown or Prometheus. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "base/sysinfo.h"
#include "cli/args.h"
#include "cli/bench_http.h"
#include "cli/bench_report.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/measure.h"
#include "runtime/instance.h"
#include "runtime/json_schema.h"
#include "runtime/sampler.h"
#include "kernels/cpu/kernels.h"

#define XLLM_BENCH_MAX_EOG 16 /* end-of-generation tokens a vocabulary declares (Llama 3: 3) */

typedef struct bench_opts {
    int prompt_tokens, gen_tokens, repeats, threads, seed, bandwidth_mib;
    int json, report, prometheus, quiet;
    const char *concurrency;
    const char *kv_type;
    const char *device;
    double arrival_rate;
    int kv_blocks, step_tokens, shared_prefix;
    int *levels; /* parsed --concurrency */
    int n_levels, max_level;
    const char *grammar_file, *schema_file;
    char *gbnf;  /* the constraining grammar with its repeat rule (BENCH_ROOT), or NULL */
    int32_t eog[XLLM_BENCH_MAX_EOG]; /* end-of-generation tokens, banned by logit bias */
    float eog_bias[XLLM_BENCH_MAX_EOG];
    int32_t n_eog;
    int top_logprobs; /* per generated token of the concurrency levels */
} bench_opts;

/* A constrained request generates documents of the grammar one after another
 * (newline-separated) until its token budget, so every request runs as long
 * as an unconstrained one however early a document closes; the scheduler's
 * finishing aid ends the last document inside the grammar. End-of-generation
 * tokens are banned (logit bias -inf) in both runs, which keeps the output
 * inside the grammar where ignore_eos alone would not. */
#define BENCH_ROOT "xllm-bench-docs"
#define BENCH_REPEAT "\n" BENCH_ROOT " ::= root (\"\\n\" root)*\n"

/* One level's requests: prompts, and when each request was submitted and
 * each of its tokens arrived. */
typedef struct level_run {
    int32_t n_seq, n_prompt, n_gen;
    int32_t *prompts;   /* [max_seq][n_prompt] */
    double *t_submit;   /* [max_seq] */
    double *t_tok;      /* [max_seq][n_gen] */
    int32_t *n_got;     /* [max_seq] tokens so far */
    double *samples;    /* [max_seq * n_gen] percentile scratch */
    int32_t failed;     /* requests that ended in an error */
    xllm_progress *prog;
} level_run;

typedef struct level_slot {
    level_run *run;
    int32_t i;
} level_slot;

static void level_run_free(level_run *b)
{
    xllm_free(b->prompts);
    xllm_free(b->t_submit);
    xllm_free(b->t_tok);
    xllm_free(b->n_got);
    xllm_free(b->samples);
}

static xllm_status level_run_init(level_run *b, const xllm_instance *in, const bench_opts *o)
{
    size_t S = (size_t)o->max_level, G = (size_t)o->gen_tokens;
    memset(b, 0, sizeof *b);
    b->n_prompt = o->prompt_tokens;
    b->n_gen = o->gen_tokens;
    b->prompts = xllm_calloc(S * (size_t)b->n_prompt, sizeof(int32_t));
    b->t_submit = xllm_calloc(S, sizeof(double));
    b->t_tok = xllm_calloc(S * G, sizeof(double));
    b->n_got = xllm_calloc(S, sizeof(int32_t));
    b->samples = xllm_calloc(S * G, sizeof(double));
    if (!b->prompts || !b->t_submit || !b->t_tok || !b->n_got || !b->samples)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "benchmark: buffers for %d sequences", o->max_level);
    for (size_t s = 0; s < S; s++)
        cli_random_prompt(in->tok, in->info.n_vocab, (uint64_t)o->seed + 1 + s, b->prompts + s * (size_t)b->n_prompt,
                          b->n_prompt);
    return XLLM_OK;
}

static void level_event(void *user, const xllm_gen_event *ev)
{
    level_slot *sl = user;
    level_run *b = sl->run;
    if (ev->type == XLLM_EVENT_FINAL) {
        b->failed += ev->finish == XLLM_FINISH_ERROR;
        return;
    }
    if (ev->token < 0 || b->n_got[sl->i] >= b->n_gen)
        return;
    b->t_tok[(size_t)sl->i * (size_t)b->n_gen + (size_t)b->n_got[sl->i]++] = xllm_now();
    xllm_progress_add(b->prog, b->n_got[sl->i] == 1 ? (uint64_t)b->n_prompt : 1u);
}

/* Figures over the tokens each request actually generated (a request may end
 * before n_gen, e.g. when its grammar is complete). */
static void summarize(level_run *b, int32_t n_seq, double t0, xllm_bench_level *out)
{
    int32_t G = b->n_gen, n = 0, m = 0;
    long long total = 0;
    double t_end = t0, req = 0;
    for (int32_t sq = 0; sq < n_seq; sq++) {
        const double *t = b->t_tok + (size_t)sq * (size_t)G;
        int32_t k = b->n_got[sq];
        if (!k)
            continue;
        total += k;
        t_end = t[k - 1] > t_end ? t[k - 1] : t_end;
        req += t[k - 1] > t[0] ? (k - 1) / (t[k - 1] - t[0]) : 0;
        b->samples[m++] = t[0] - b->t_submit[sq];
    }
    out->concurrency = n_seq;
    out->generated = total;
    out->seconds = t_end - t0;
    out->aggregate_tps = out->seconds > 0 ? (double)total / out->seconds : 0;
    out->per_request_tps = req / n_seq;
    out->ttft_p50 = xllm_percentile(b->samples, m, 50);
    out->ttft_p95 = xllm_percentile(b->samples, m, 95);
    out->ttft_p99 = xllm_percentile(b->samples, m, 99);
    for (int32_t sq = 0; sq < n_seq; sq++) {
        const double *t = b->t_tok + (size_t)sq * (size_t)G;
        for (int32_t k = 1; k < b->n_got[sq]; k++)
            b->samples[n++] = t[k] - t[k - 1];
    }
    out->itl_p50 = xllm_percentile(b->samples, n, 50);
    out->itl_p95 = xllm_percentile(b->samples, n, 95);
    out->itl_p99 = xllm_percentile(b->samples, n, 99);
}

static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Arrival offsets (s) of a Poisson stream of rate r (0: all at once). */
static double next_arrival(uint64_t *x, double rate)
{
    double u;
    if (rate <= 0)
        return 0;
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    u = ((double)(*x >> 11) + 0.5) * 0x1.0p-53;
    return -log(u) / rate;
}

/* n_seq requests through the scheduler, each with its own random prompt and
 * a fresh prefix-cache salt (nothing is reused across levels); constrained:
 * all under the benchmark's grammar. */
static xllm_status run_level(xllm_instance *in, level_run *b, int32_t n_seq, int constrained, const bench_opts *o,
                             xllm_bench_level *out)
{
    level_slot slots[XLLM_BENCH_MAX_CONCURRENCY];
    xllm_sched_stats s0, s1;
    xllm_gen_params g = xllm_gen_params_default();
    xllm_status st = XLLM_OK;
    uint64_t x = (uint64_t)o->seed * 0x9e3779b97f4a7c15ull + (uint64_t)n_seq, sched_ns = 0, step_ns = 0;
    double t0 = xllm_now(), due = t0, cpu0 = thread_cpu_s();
    int32_t submitted = 0;
    b->n_seq = n_seq;
    b->failed = 0;
    memset(b->n_got, 0, sizeof(int32_t) * (size_t)n_seq);
    g.max_tokens = b->n_gen;
    g.ignore_eos = 1;
    g.cache_salt = ((uint64_t)n_seq << 32) | 0x5a17u | ((uint64_t)constrained << 16);
    g.logprobs = o->top_logprobs > 0;
    g.top_logprobs = o->top_logprobs;
    if (o->gbnf) {
        g.bias_tokens = o->eog;
        g.bias_values = o->eog_bias;
        g.n_bias = o->n_eog;
    }
    if (constrained) {
        g.grammar = o->gbnf;
        g.grammar_root = BENCH_ROOT;
    }
    xllm_sched_stats_get(in->sched, &s0);
    memset(out, 0, sizeof *out);
    while (st == XLLM_OK && (submitted < n_seq || !xllm_sched_idle(in->sched))) {
        double now = xllm_now();
        while (submitted < n_seq && now >= due) {
            slots[submitted].run = b;
            slots[submitted].i = submitted;
            b->t_submit[submitted] = now;
            if ((st = xllm_sched_submit(in->sched, b->prompts + (size_t)submitted * (size_t)b->n_prompt,
                                        b->n_prompt, &g, level_event, &slots[submitted], NULL)) != XLLM_OK)
                break;
            submitted++;
            due += next_arrival(&x, o->arrival_rate);
        }
        if (st != XLLM_OK)
            break;
        if (xllm_sched_idle(in->sched)) { /* waiting for the next arrival */
            continue;
        }
        st = xllm_sched_step(in->sched);
        xllm_sched_stats_get(in->sched, &s1);
        sched_ns += s1.last_sched_ns;
        step_ns += s1.last_step_ns;
        if (s1.blocks_used > out->kv_blocks_peak)
            out->kv_blocks_peak = s1.blocks_used;
    }
    if (st == XLLM_OK && b->failed)
        st = xllm_fail(XLLM_ERR_INTERNAL, "benchmark: %d requests failed", b->failed);
    if (st != XLLM_OK)
        return st;
    summarize(b, n_seq, t0, out);
    xllm_sched_stats_get(in->sched, &s1);
    out->arrival_rate = o->arrival_rate;
    out->prefix_hits = (long long)(s1.prefix_hits - s0.prefix_hits);
    out->preemptions = (long long)(s1.preemptions - s0.preemptions);
    out->sched_share = step_ns ? (double)sched_ns / (double)step_ns : 0;
    out->constrained = constrained;
    out->steps = (long long)(s1.steps - s0.steps);
    out->step_s = out->steps ? (double)step_ns / 1e9 / (double)out->steps : 0;
    out->sched_s = out->steps ? (double)sched_ns / 1e9 / (double)out->steps : 0;
    out->step_cpu_s = out->steps ? (thread_cpu_s() - cpu0) / (double)out->steps : 0;
    return XLLM_OK;
}

/* Single sequence, o->repeats times: medians of prefill/decode speed and TTFT. */
static xllm_status run_single(xllm_instance *in, const bench_opts *o, const int32_t *prompt, xllm_progress *prog,
                              xllm_bench_report *r)
{
    double *v = xllm_calloc((size_t)o->repeats * 3, sizeof(double));
    double *pre = v, *dec = v + o->repeats, *ttft = v + 2 * o->repeats;
    xllm_status st = v ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "benchmark: repeats");
    cli_gen_stats g;
    for (int i = 0; st == XLLM_OK && i < o->repeats; i++) {
        st = cli_generate_greedy(in, prompt, o->prompt_tokens, o->gen_tokens, 0, 0x51u + (uint64_t)i, NULL, prog,
                                 &g);
        pre[i] = cli_prefill_tps(&g);
        dec[i] = cli_decode_tps(&g);
        ttft[i] = g.prefill_s;
    }
    if (st == XLLM_OK) {
        r->prefill_tps = xllm_median(pre, o->repeats);
        r->decode_tps = xllm_median(dec, o->repeats);
        r->ttft_seconds = xllm_median(ttft, o->repeats);
    }
    xllm_free(v);
    return st;
}

/* Two requests sharing their first o->shared_prefix tokens (then 16 of their
 * own): time to first token of the first (cold) and of the second, which
 * takes the shared blocks from the prefix cache. */
static xllm_status run_prefix(xllm_instance *in, const bench_opts *o, xllm_bench_report *r)
{
    int32_t n = o->shared_prefix + 16, *p = xllm_calloc((size_t)n, sizeof(int32_t));
    xllm_sched_stats s0, s1;
    cli_gen_stats g;
    xllm_status st = p ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "benchmark: prefix prompt");
    if (st != XLLM_OK)
        return st;
    cli_random_prompt(in->tok, in->info.n_vocab, (uint64_t)o->seed + 1000, p, n);
    st = cli_generate_greedy(in, p, n, 2, 0, 0x9e37u, NULL, NULL, &g);
    r->prefix_cold_ttft = g.prefill_s;
    cli_random_prompt(in->tok, in->info.n_vocab, (uint64_t)o->seed + 2000, p + o->shared_prefix, 16);
    xllm_sched_stats_get(in->sched, &s0);
    if (st == XLLM_OK)
        st = cli_generate_greedy(in, p, n, 2, 0, 0x9e37u, NULL, NULL, &g);
    xllm_sched_stats_get(in->sched, &s1);
    r->prefix_warm_ttft = g.prefill_s;
    r->prefix_tokens = o->shared_prefix;
    r->prefix_cached = (int)(s1.cached_tokens - s0.cached_tokens);
    xllm_free(p);
    return st;
}

static uint64_t work_tokens(const bench_opts *o)
{
    uint64_t per_seq = (uint64_t)o->prompt_tokens + (uint64_t)o->gen_tokens - 1, n = (uint64_t)o->repeats;
    for (int i = 0; i < o->n_levels; i++)
        n += (uint64_t)o->levels[i] * (o->gbnf ? 2u : 1u);
    return n * per_seq;
}

/* Everything after the model is loaded: warm-up, repeats, levels. */
static xllm_status measure(xllm_instance *in, const bench_opts *o, xllm_bench_report *r)
{
    level_run b;
    xllm_progress prog;
    cli_gen_stats g;
    xllm_status st = level_run_init(&b, in, o);
    /* warm-up: page in the mapped weights and start the threads, untimed */
    if (st == XLLM_OK)
        st = cli_generate_greedy(in, b.prompts, o->prompt_tokens < 16 ? o->prompt_tokens : 16, 2, 0, 0x77u, NULL,
                                 NULL, &g);
    if (st != XLLM_OK)
        goto out;
    xllm_progress_begin(&prog, "benchmark", "tokens", work_tokens(o), o->quiet);
    b.prog = &prog;
    st = run_single(in, o, b.prompts, &prog, r);
    if (st == XLLM_OK && o->shared_prefix > 0)
        st = run_prefix(in, o, r);
    for (int i = 0; i < o->n_levels && st == XLLM_OK; i++) {
        st = run_level(in, &b, o->levels[i], 0, o, &r->levels[r->n_levels++]);
        if (st == XLLM_OK && o->gbnf)
            st = run_level(in, &b, o->levels[i], 1, o, &r->levels[r->n_levels++]);
    }
    xllm_progress_end(&prog, st == XLLM_OK);
out:
    level_run_free(&b);
    return st;
}

/* --grammar FILE (GBNF, start rule root) or --json-schema FILE, plus the
 * repeat rule; NULL gbnf when neither was given. */
static xllm_status load_grammar(bench_opts *o)
{
    char *text = NULL;
    size_t len = 0;
    xllm_status st = XLLM_OK;
    if (o->schema_file) {
        json_error_t je;
        json_t *js = json_load_file(o->schema_file, 0, &je);
        if (!js)
            return xllm_fail(XLLM_ERR_FORMAT, "%s:%d: %s", o->schema_file, je.line, je.text);
        st = xllm_json_schema_to_gbnf(js, 0, &text, &len);
        json_decref(js);
    } else if (o->grammar_file)
        st = xllm_read_file(o->grammar_file, XLLM_GRAMMAR_MAX_TEXT, &text, &len);
    if (st != XLLM_OK || !text)
        return st;
    o->gbnf = xllm_malloc(len + sizeof BENCH_REPEAT);
    if (o->gbnf) {
        memcpy(o->gbnf, text, len);
        memcpy(o->gbnf + len, BENCH_REPEAT, sizeof BENCH_REPEAT);
    }
    xllm_free(text);
    return o->gbnf ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "benchmark: grammar");
}

static void find_eog(bench_opts *o, const xllm_instance *in)
{
    for (int32_t t = 0; t < in->info.n_vocab && o->n_eog < XLLM_BENCH_MAX_EOG; t++)
        if (xllm_tokenizer_is_eog(in->tok, t)) {
            o->eog[o->n_eog] = t;
            o->eog_bias[o->n_eog++] = -INFINITY;
        }
}

static int check_opts(bench_opts *o)
{
    if (o->prompt_tokens < 1 || o->gen_tokens < 2 || o->repeats < 1 || o->repeats > XLLM_BENCH_MAX_REPEATS ||
        o->bandwidth_mib < 0 || o->bandwidth_mib > 65536 || o->json + o->report + o->prometheus > 1) {
        fprintf(stderr, "xllm benchmark: need --prompt-tokens >= 1, --gen-tokens >= 2, --repeats 1..%d, "
                        "--bandwidth-mib 0..65536 and at most one of --json, --report, --prometheus\n",
                XLLM_BENCH_MAX_REPEATS);
        return 2;
    }
    if (!(o->arrival_rate >= 0) || o->step_tokens < 1 || o->kv_blocks < 0 || o->shared_prefix < 0 ||
        o->shared_prefix > (1 << 20)) {
        fprintf(stderr, "xllm benchmark: need --arrival-rate >= 0, --step-tokens >= 1, --kv-blocks >= 0, "
                        "--shared-prefix 0..1048576\n");
        return 2;
    }
    if (o->top_logprobs < 0 || o->top_logprobs > XLLM_MAX_TOP_LOGPROBS) {
        fprintf(stderr, "xllm benchmark: --top-logprobs 0..%d\n", XLLM_MAX_TOP_LOGPROBS);
        return 2;
    }
    if (o->grammar_file && o->schema_file) {
        fprintf(stderr, "xllm benchmark: --grammar or --json-schema, not both\n");
        return 2;
    }
    if (!o->concurrency[0])
        return 0;
    if (xllm_args_int_list(o->concurrency, &o->levels, &o->n_levels))
        return 2;
    if (o->n_levels > XLLM_BENCH_MAX_LEVELS) {
        fprintf(stderr, "xllm benchmark: at most %d concurrency levels\n", XLLM_BENCH_MAX_LEVELS);
        return 2;
    }
    for (int i = 0; i < o->n_levels; i++) {
        if (o->levels[i] < 1 || o->levels[i] > XLLM_BENCH_MAX_CONCURRENCY) {
            fprintf(stderr, "xllm benchmark: concurrency %d outside 1..%d\n", o->levels[i],
                    XLLM_BENCH_MAX_CONCURRENCY);
            return 2;
        }
        o->max_level = o->levels[i] > o->max_level ? o->levels[i] : o->max_level;
    }
    return 0;
}

static void print_report(const bench_opts *o, const xllm_bench_report *r)
{
    if (r->other_cpu_share > 0.03)
        fprintf(stderr,
                "xllm benchmark: warning: other processes used %.0f%% of the machine's CPU during the run; the "
                "figures are likely low\n",
                r->other_cpu_share * 100);
    if (o->json)
        xllm_bench_print_json(stdout, r);
    else if (o->report)
        xllm_bench_print_markdown(stdout, r);
    else if (o->prometheus)
        xllm_bench_print_prometheus(stdout, r);
    else
        xllm_bench_print_text(stdout, r);
}

/* What the report says about the model and the run, before measuring. */
static void describe(const char *path, const bench_opts *o, const cli_model_facts *mf, const xllm_instance *in,
                     char *prompt_src, size_t cap, xllm_bench_report *r)
{
    snprintf(prompt_src, cap, "random token ids (seed %d, BOS first when the vocabulary adds one, no control tokens)",
             o->seed);
    r->model = path;
    r->arch = mf->arch;
    r->quant = mf->quant;
    r->kernels = xllm_kernels_variant();
    r->cpu = xllm_cpu_name();
    r->prompt_source = prompt_src;
    r->concurrency_mode = "scheduler";
    r->threads = o->threads;
    r->cpus = xllm_online_cpus();
    r->prompt_tokens = o->prompt_tokens;
    r->gen_tokens = o->gen_tokens;
    r->repeats = o->repeats;
    r->load_seconds = in->load_s;
    r->model_bytes = mf->model_bytes;
    r->decode_bytes_per_token = mf->decode_bytes;
    r->kv_blocks_total = in->n_blocks;
    r->kv_type = xllm_kv_type_name(in->info.kv_type);
}

static int benchmark(const char *path, bench_opts *o)
{
    xllm_instance *in = NULL;
    xllm_instance_params ip = xllm_instance_params_default();
    cli_model_facts mf;
    cli_cpu_meter cpu;
    xllm_bench_report r;
    xllm_status st;
    char prompt_src[128];
    int32_t longest = o->prompt_tokens + o->gen_tokens > o->shared_prefix + 18 ? o->prompt_tokens + o->gen_tokens
                                                                                : o->shared_prefix + 18;
    int32_t bps = (longest + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    memset(&r, 0, sizeof r);
    o->threads = o->threads > 0 ? o->threads : xllm_online_cpus();
    o->max_level = o->max_level > 1 ? o->max_level : 1;
    if ((st = cli_model_facts_get(path, &mf)) != XLLM_OK || (st = load_grammar(o)) != XLLM_OK)
        return cli_error("benchmark", st);
    cli_cpu_meter_start(&cpu);
    /* bandwidth first, then the peak RSS starts over, so its buffer does not count */
    r.bandwidth = xllm_measure_read_bandwidth(o->threads, (uint64_t)o->bandwidth_mib << 20);
    xllm_reset_peak_rss();
    ip.model_path = path;
    ip.n_threads = o->threads;
    ip.device = o->device;
    ip.n_ctx = bps * XLLM_KV_BLOCK_SIZE;
    ip.kv_blocks = o->kv_blocks > 0 ? o->kv_blocks : o->max_level * bps;
    ip.max_batch_tokens = o->step_tokens;
    ip.sched.max_running = o->max_level;
    ip.sched.max_waiting = XLLM_BENCH_MAX_CONCURRENCY;
    if ((st = cli_kv_type_parse(o->kv_type, &ip.kv_type)) != XLLM_OK || (st = xllm_instance_open(&ip, &in)) != XLLM_OK)
        return cli_error("benchmark", st);
    if (!in->sched) {
        xllm_instance_close(in);
        fprintf(stderr, "xllm benchmark: %s is an embedding model (no generation to measure)\n", path);
        return 1;
    }
    describe(path, o, &mf, in, prompt_src, sizeof prompt_src, &r);
    r.grammar = o->gbnf ? (o->schema_file ? o->schema_file : o->grammar_file) : NULL;
    find_eog(o, in);
    if ((st = measure(in, o, &r)) == XLLM_OK) {
        r.decode_roofline_ratio =
            r.bandwidth > 0 ? r.decode_tps / (r.bandwidth / (double)r.decode_bytes_per_token) : 0;
        r.rss_bytes = xllm_rss_bytes();
        r.peak_rss_bytes = xllm_peak_rss_bytes();
        r.other_cpu_share = cli_cpu_meter_other_share(&cpu);
        print_report(o, &r);
    }
    xllm_instance_close(in);
    return st == XLLM_OK ? 0 : cli_error("benchmark", st);
}

int cmd_benchmark(int argc, char **argv)
{
    if (xllm_bench_http_wanted(argc, argv)) /* --server URL: an HTTP server instead of a model file */
        return xllm_bench_http(argc, argv);
    bench_opts o = {128, 32, 3, 0, 1, 0, 0, 0, 0, 0, "1,4,16", NULL, NULL, 0, 0, 512, 0, NULL, 0, 0,
                    NULL, NULL, NULL, {0}, {0}, 0, 0};
    const char *pos[1];
    int n_pos = 0, rc;
    const xllm_opt opts[] = {
        {"prompt-tokens", XLLM_OPT_INT, &o.prompt_tokens, "prompt length, random token ids (default 128)"},
        {"gen-tokens", XLLM_OPT_INT, &o.gen_tokens,
         "tokens generated per sequence: 1 from the prompt + N-1 decode steps (default 32)"},
        {"repeats", XLLM_OPT_INT, &o.repeats, "single-sequence runs; medians are reported (default 3)"},
        {"threads", XLLM_OPT_INT, &o.threads, "compute threads, also for the bandwidth probe (default: all CPUs)"},
        {"concurrency", XLLM_OPT_STR, &o.concurrency,
         "sequences decoded together, one run per level; \"\" skips (default 1,4,16)"},
        {"seed", XLLM_OPT_INT, &o.seed, "seed of the random prompt ids (default 1)"},
        {"bandwidth-mib", XLLM_OPT_INT, &o.bandwidth_mib, "buffer of the read-bandwidth probe in MiB (default 0: 4 x the last-level cache, at least 256)"},
        {"json", XLLM_OPT_FLAG, &o.json, "print one JSON object"},
        {"report", XLLM_OPT_FLAG, &o.report, "print a Markdown report"},
        {"prometheus", XLLM_OPT_FLAG, &o.prometheus, "print Prometheus text exposition format"},
        {"quiet", XLLM_OPT_FLAG, &o.quiet, "no progress on stderr"},
        {"arrival-rate", XLLM_OPT_FLOAT, &o.arrival_rate,
         "requests/s of a Poisson arrival stream per level (default 0: all arrive together)"},
        CLI_OPT_KV_TYPE(o.kv_type),
        CLI_OPT_DEVICE(o.device),
        {"kv-blocks", XLLM_OPT_INT, &o.kv_blocks, "KV pool blocks (default: enough for the largest level)"},
        {"step-tokens", XLLM_OPT_INT, &o.step_tokens, "token budget of one scheduler step (default 512)"},
        {"shared-prefix", XLLM_OPT_INT, &o.shared_prefix,
         "also time two requests sharing N prompt tokens: first token cold and from the prefix cache (default 0)"},
        {"grammar", XLLM_OPT_STR, &o.grammar_file,
         "GBNF file (start rule root): each level runs again with every request constrained by it"},
        {"json-schema", XLLM_OPT_STR, &o.schema_file, "JSON schema file: as --grammar, with the schema's grammar"},
        {"top-logprobs", XLLM_OPT_INT, &o.top_logprobs,
         "concurrency levels: every token's logprob and N alternatives (0..20, default 0)"},
    };
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos,
                         "MODEL [options]\n\n"
                         "Prefill and decode tokens/s of one sequence (median of --repeats), time to first token,\n"
                         "the weight bytes a decode step reads (token embedding excluded unless it is the output\n"
                         "head) against the memory read bandwidth measured here (decode_roofline_ratio), memory,\n"
                         "and per concurrency level N: N sequences with their own random prompts prefilled and\n"
                         "decoded together (one forward call per step), aggregate and per-request tokens/s, TTFT\n"
                         "and inter-token latency p50/p95/p99. Greedy decoding; end-of-text tokens do not stop it.\n"
                         "A running server instead: xllm benchmark --server URL --model NAME (see its --help).");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1) {
        fprintf(stderr, "xllm benchmark: need MODEL (a .gguf file or a Hugging Face directory)\n");
        return 2;
    }
    rc = check_opts(&o);
    if (!rc)
        rc = benchmark(pos[0], &o);
    xllm_free(o.levels);
    xllm_free(o.gbnf);
    return rc;
}
