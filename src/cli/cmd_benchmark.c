/* cmd_benchmark.c - `xllm benchmark MODEL`: prefill and decode speed of one
 * sequence (median of repeats), the decode roofline (weight bytes a step reads
 * against the read bandwidth measured here), memory, and, per concurrency
 * level N, throughput and latency percentiles with N sequences decoded
 * together: one CPU-engine forward call per step over a flat batch of N tokens,
 * each sequence with its own KV blocks. Text, JSON, Markdown or Prometheus. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/sysinfo.h"
#include "cli/args.h"
#include "cli/bench_report.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/measure.h"
#include "runtime/sampler.h"
#include "kernels/cpu/kernels.h"

typedef struct bench_opts {
    int prompt_tokens, gen_tokens, repeats, threads, seed, bandwidth_mib;
    int json, report, prometheus, quiet;
    const char *concurrency;
    const char *kv_type_name; /* --kv-type */
    int32_t kv_type;
    int *levels; /* parsed --concurrency */
    int n_levels, max_level;
} bench_opts;

/* Buffers to run up to max_seq sequences together, allocated once. The level
 * runs drive the session's CPU context directly and use its whole KV pool
 * (sequence s owns blocks s*blocks_per_seq ...); the single-sequence runs go
 * through the session, which resets its own sequence first. */
typedef struct level_bufs {
    int32_t max_seq, n_prompt, n_gen, n_vocab, max_batch, blocks_per_seq;
    int32_t *prompts;       /* [max_seq][n_prompt] */
    int32_t *blocks;        /* [max_seq][blocks_per_seq] KV block ids, sequence s owns its own */
    const int32_t **tables; /* [max_seq] rows of blocks */
    int32_t *counts;        /* [max_seq] blocks_per_seq */
    int32_t *tok, *pos, *seq; /* [max_batch] one forward call's tokens */
    uint8_t *want;          /* [max_batch] logits wanted */
    int32_t *last;          /* [max_seq] the newest token of each sequence */
    float *logits;          /* [max_seq][n_vocab] */
    double *t_tok;          /* [max_seq][n_gen] when each token was there */
    double *samples;        /* [max_seq * n_gen] percentile scratch */
} level_bufs;

static void level_bufs_free(level_bufs *b)
{
    xllm_free(b->prompts);
    xllm_free(b->blocks);
    xllm_free(b->tables);
    xllm_free(b->counts);
    xllm_free(b->tok);
    xllm_free(b->pos);
    xllm_free(b->seq);
    xllm_free(b->want);
    xllm_free(b->last);
    xllm_free(b->logits);
    xllm_free(b->t_tok);
    xllm_free(b->samples);
}

static xllm_status level_bufs_init(level_bufs *b, cli_model *m, const bench_opts *o)
{
    size_t S = (size_t)o->max_level, G = (size_t)o->gen_tokens;
    memset(b, 0, sizeof *b);
    b->max_seq = o->max_level;
    b->n_prompt = o->prompt_tokens;
    b->n_gen = o->gen_tokens;
    b->n_vocab = xllm_session_n_vocab(m->session);
    b->max_batch = xllm_cpu_ctx_max_batch(xllm_session_ctx(m->session));
    b->blocks_per_seq = (o->prompt_tokens + o->gen_tokens + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    b->prompts = xllm_calloc(S * (size_t)b->n_prompt, sizeof(int32_t));
    b->blocks = xllm_calloc(S * (size_t)b->blocks_per_seq, sizeof(int32_t));
    b->tables = xllm_calloc(S, sizeof(int32_t *));
    b->counts = xllm_calloc(S, sizeof(int32_t));
    b->tok = xllm_calloc((size_t)b->max_batch, sizeof(int32_t));
    b->pos = xllm_calloc((size_t)b->max_batch, sizeof(int32_t));
    b->seq = xllm_calloc((size_t)b->max_batch, sizeof(int32_t));
    b->want = xllm_calloc((size_t)b->max_batch, 1);
    b->last = xllm_calloc(S, sizeof(int32_t));
    b->logits = xllm_calloc(S * (size_t)b->n_vocab, sizeof(float));
    b->t_tok = xllm_calloc(S * G, sizeof(double));
    b->samples = xllm_calloc(S * G, sizeof(double));
    if (!b->prompts || !b->blocks || !b->tables || !b->counts || !b->tok || !b->pos || !b->seq || !b->want ||
        !b->last || !b->logits || !b->t_tok || !b->samples)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "benchmark: buffers for %d sequences", o->max_level);
    for (size_t s = 0; s < S; s++) {
        for (int32_t k = 0; k < b->blocks_per_seq; k++)
            b->blocks[s * (size_t)b->blocks_per_seq + (size_t)k] = (int32_t)s * b->blocks_per_seq + k;
        b->tables[s] = b->blocks + s * (size_t)b->blocks_per_seq;
        b->counts[s] = b->blocks_per_seq;
        cli_random_prompt(m->tok, b->n_vocab, (uint64_t)o->seed + 1 + s, b->prompts + s * (size_t)b->n_prompt,
                          b->n_prompt);
    }
    return XLLM_OK;
}

static xllm_status forward(xllm_session *s, level_bufs *b, int32_t n_tokens, int32_t n_seq, const uint8_t *want)
{
    xllm_batch bt;
    memset(&bt, 0, sizeof bt);
    bt.struct_size = sizeof bt;
    bt.n_tokens = n_tokens;
    bt.tokens = b->tok;
    bt.positions = b->pos;
    bt.seq = b->seq;
    bt.n_seqs = n_seq;
    bt.block_tables = b->tables;
    bt.block_counts = b->counts;
    bt.want_logits = want;
    bt.logits = b->logits;
    return xllm_cpu_forward(xllm_session_ctx(s), &bt);
}

/* All prompts, packed in order into forward calls of up to max_batch tokens;
 * a sequence's first token is there when the call holding its last prompt
 * token returns. */
static xllm_status prefill_all(xllm_session *s, level_bufs *b, int32_t n_seq, xllm_progress *prog)
{
    int64_t total = (int64_t)n_seq * b->n_prompt;
    for (int64_t q = 0; q < total;) {
        int32_t k = total - q < b->max_batch ? (int32_t)(total - q) : b->max_batch, rows = 0;
        xllm_status st;
        double now;
        for (int32_t j = 0; j < k; j++) {
            int32_t sq = (int32_t)((q + j) / b->n_prompt), p = (int32_t)((q + j) % b->n_prompt);
            b->tok[j] = b->prompts[(size_t)sq * (size_t)b->n_prompt + (size_t)p];
            b->pos[j] = p;
            b->seq[j] = sq;
            b->want[j] = p == b->n_prompt - 1;
        }
        if ((st = forward(s, b, k, n_seq, b->want)) != XLLM_OK)
            return st;
        now = xllm_now();
        for (int32_t j = 0; j < k; j++)
            if (b->want[j]) {
                b->last[b->seq[j]] = xllm_argmax(b->logits + (size_t)rows++ * (size_t)b->n_vocab, b->n_vocab);
                b->t_tok[(size_t)b->seq[j] * (size_t)b->n_gen] = now;
            }
        q += k;
        xllm_progress_add(prog, (uint64_t)k);
    }
    return XLLM_OK;
}

/* Decode step k (1 .. n_gen-1): every sequence's newest token in one call. */
static xllm_status decode_step(xllm_session *s, level_bufs *b, int32_t n_seq, int32_t k, xllm_progress *prog)
{
    xllm_status st;
    double now;
    for (int32_t sq = 0; sq < n_seq; sq++) {
        b->tok[sq] = b->last[sq];
        b->pos[sq] = b->n_prompt + k - 1;
        b->seq[sq] = sq;
    }
    if ((st = forward(s, b, n_seq, n_seq, NULL)) != XLLM_OK)
        return st;
    now = xllm_now();
    for (int32_t sq = 0; sq < n_seq; sq++) {
        b->last[sq] = xllm_argmax(b->logits + (size_t)sq * (size_t)b->n_vocab, b->n_vocab);
        b->t_tok[(size_t)sq * (size_t)b->n_gen + (size_t)k] = now;
    }
    xllm_progress_add(prog, (uint64_t)n_seq);
    return XLLM_OK;
}

static void summarize(level_bufs *b, int32_t n_seq, double t0, xllm_bench_level *out)
{
    int32_t G = b->n_gen, n = 0;
    double t_end = t0, req = 0;
    for (int32_t sq = 0; sq < n_seq; sq++) {
        const double *t = b->t_tok + (size_t)sq * (size_t)G;
        t_end = t[G - 1] > t_end ? t[G - 1] : t_end;
        req += t[G - 1] > t[0] ? (G - 1) / (t[G - 1] - t[0]) : 0;
        b->samples[sq] = t[0] - t0;
    }
    out->concurrency = n_seq;
    out->seconds = t_end - t0;
    out->aggregate_tps = out->seconds > 0 ? (double)n_seq * G / out->seconds : 0;
    out->per_request_tps = req / n_seq;
    out->ttft_p50 = xllm_percentile(b->samples, n_seq, 50);
    out->ttft_p95 = xllm_percentile(b->samples, n_seq, 95);
    out->ttft_p99 = xllm_percentile(b->samples, n_seq, 99);
    for (int32_t sq = 0; sq < n_seq; sq++) {
        const double *t = b->t_tok + (size_t)sq * (size_t)G;
        for (int32_t k = 1; k < G; k++)
            b->samples[n++] = t[k] - t[k - 1];
    }
    out->itl_p50 = xllm_percentile(b->samples, n, 50);
    out->itl_p95 = xllm_percentile(b->samples, n, 95);
    out->itl_p99 = xllm_percentile(b->samples, n, 99);
}

static xllm_status run_level(xllm_session *s, level_bufs *b, int32_t n_seq, xllm_progress *prog,
                             xllm_bench_level *out)
{
    double t0 = xllm_now();
    xllm_status st = prefill_all(s, b, n_seq, prog);
    for (int32_t k = 1; st == XLLM_OK && k < b->n_gen; k++)
        st = decode_step(s, b, n_seq, k, prog);
    if (st == XLLM_OK)
        summarize(b, n_seq, t0, out);
    return st;
}

/* Single sequence, o->repeats times: medians of prefill/decode speed and TTFT. */
static xllm_status run_single(cli_model *m, const bench_opts *o, const int32_t *prompt, xllm_progress *prog,
                              xllm_bench_report *r)
{
    double *v = xllm_calloc((size_t)o->repeats * 3, sizeof(double));
    double *pre = v, *dec = v + o->repeats, *ttft = v + 2 * o->repeats;
    xllm_status st = v ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "benchmark: repeats");
    cli_gen_stats g;
    for (int i = 0; st == XLLM_OK && i < o->repeats; i++) {
        st = cli_generate_greedy(m->session, prompt, o->prompt_tokens, o->gen_tokens, NULL, NULL, prog, &g);
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

static uint64_t work_tokens(const bench_opts *o)
{
    uint64_t per_seq = (uint64_t)o->prompt_tokens + (uint64_t)o->gen_tokens - 1, n = (uint64_t)o->repeats;
    for (int i = 0; i < o->n_levels; i++)
        n += (uint64_t)o->levels[i];
    return n * per_seq;
}

/* Everything after the model is loaded: warm-up, repeats, levels. */
static xllm_status measure(cli_model *m, const bench_opts *o, xllm_bench_report *r)
{
    level_bufs b;
    xllm_progress prog;
    cli_gen_stats g;
    xllm_status st = level_bufs_init(&b, m, o);
    /* warm-up: page in the mapped weights and start the threads, untimed */
    if (st == XLLM_OK)
        st = cli_generate_greedy(m->session, b.prompts, o->prompt_tokens < 16 ? o->prompt_tokens : 16, 2, NULL,
                                 NULL, NULL, &g);
    if (st != XLLM_OK)
        goto out;
    xllm_progress_begin(&prog, "benchmark", "tokens", work_tokens(o), o->quiet);
    st = run_single(m, o, b.prompts, &prog, r);
    for (int i = 0; i < o->n_levels && st == XLLM_OK; i++)
        st = run_level(m->session, &b, o->levels[i], &prog, &r->levels[r->n_levels++]);
    xllm_progress_end(&prog, st == XLLM_OK);
out:
    level_bufs_free(&b);
    return st;
}

static int check_opts(bench_opts *o)
{
    if (o->prompt_tokens < 1 || o->gen_tokens < 2 || o->repeats < 1 || o->repeats > XLLM_BENCH_MAX_REPEATS ||
        o->bandwidth_mib < 1 || o->bandwidth_mib > 65536 || o->json + o->report + o->prometheus > 1) {
        fprintf(stderr, "xllm benchmark: need --prompt-tokens >= 1, --gen-tokens >= 2, --repeats 1..%d, "
                        "--bandwidth-mib 1..65536 and at most one of --json, --report, --prometheus\n",
                XLLM_BENCH_MAX_REPEATS);
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
static void describe(const char *path, const bench_opts *o, const cli_model *m, char *prompt_src, size_t cap,
                     xllm_bench_report *r)
{
    snprintf(prompt_src, cap, "random token ids (seed %d%s)", o->seed,
             m->tok ? ", BOS first when the vocabulary adds one, no control tokens" : "");
    r->model = path;
    r->arch = m->arch;
    r->quant = m->quant;
    r->kernels = xllm_kernels_variant();
    r->cpu = xllm_cpu_name();
    r->prompt_source = prompt_src;
    r->concurrency_mode = "batched: the sequences of a level share one forward call per step";
    r->threads = o->threads;
    r->cpus = xllm_online_cpus();
    r->prompt_tokens = o->prompt_tokens;
    r->gen_tokens = o->gen_tokens;
    r->repeats = o->repeats;
    r->load_seconds = m->load_seconds;
    r->model_bytes = m->model_bytes;
    r->decode_bytes_per_token = cli_decode_bytes_per_token(xllm_session_model(m->session));
}

static int benchmark(const char *path, bench_opts *o)
{
    cli_model m = {0};
    cli_cpu_meter cpu;
    xllm_bench_report r;
    xllm_status st;
    char prompt_src[96];
    int32_t bps = (o->prompt_tokens + o->gen_tokens + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    memset(&r, 0, sizeof r);
    o->threads = o->threads > 0 ? o->threads : xllm_online_cpus();
    o->max_level = o->max_level > 1 ? o->max_level : 1;
    cli_cpu_meter_start(&cpu);
    /* bandwidth first, then the peak RSS starts over, so its buffer does not count */
    r.bandwidth = xllm_measure_read_bandwidth(o->threads, (uint64_t)o->bandwidth_mib << 20);
    xllm_reset_peak_rss();
    /* the session's KV pool holds bps blocks for each of max_level sequences */
    if ((st = cli_model_open_kv(path, o->threads, o->max_level * bps * XLLM_KV_BLOCK_SIZE, o->kv_type, 0, &m)) !=
        XLLM_OK)
        return cli_error("benchmark", st);
    describe(path, o, &m, prompt_src, sizeof prompt_src, &r);
    if ((st = measure(&m, o, &r)) == XLLM_OK) {
        r.decode_roofline_ratio =
            r.bandwidth > 0 ? r.decode_tps / (r.bandwidth / (double)r.decode_bytes_per_token) : 0;
        r.rss_bytes = xllm_rss_bytes();
        r.peak_rss_bytes = xllm_peak_rss_bytes();
        r.other_cpu_share = cli_cpu_meter_other_share(&cpu);
        print_report(o, &r);
    }
    cli_model_close(&m);
    return st == XLLM_OK ? 0 : cli_error("benchmark", st);
}

int cmd_benchmark(int argc, char **argv)
{
    bench_opts o = {128, 32, 3, 0, 1, 256, 0, 0, 0, 0, "1,4,16", NULL, XLLM_KV_F16, NULL, 0, 0};
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
        CLI_OPT_KV_TYPE(o.kv_type_name),
        {"bandwidth-mib", XLLM_OPT_INT, &o.bandwidth_mib, "buffer of the read-bandwidth probe in MiB (default 256)"},
        {"json", XLLM_OPT_FLAG, &o.json, "print one JSON object"},
        {"report", XLLM_OPT_FLAG, &o.report, "print a Markdown report"},
        {"prometheus", XLLM_OPT_FLAG, &o.prometheus, "print Prometheus text exposition format"},
        {"quiet", XLLM_OPT_FLAG, &o.quiet, "no progress on stderr"},
    };
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos,
                         "MODEL [options]\n\n"
                         "Prefill and decode tokens/s of one sequence (median of --repeats), time to first token,\n"
                         "the weight bytes a decode step reads (token embedding excluded unless it is the output\n"
                         "head) against the memory read bandwidth measured here (decode_roofline_ratio), memory,\n"
                         "and per concurrency level N: N sequences with their own random prompts prefilled and\n"
                         "decoded together (one forward call per step), aggregate and per-request tokens/s, TTFT\n"
                         "and inter-token latency p50/p95/p99. Greedy decoding; end-of-text tokens do not stop it.");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1) {
        fprintf(stderr, "xllm benchmark: need MODEL (a .gguf file or a Hugging Face directory)\n");
        return 2;
    }
    rc = check_opts(&o);
    if (!rc && (o.kv_type = cli_kv_type("benchmark", o.kv_type_name)) < 0)
        rc = 2;
    if (!rc)
        rc = benchmark(pos[0], &o);
    xllm_free(o.levels);
    return rc;
}
