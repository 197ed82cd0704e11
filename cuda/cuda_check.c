/* cuda_check.c - xllm-cuda-check, the GPU machine's test and benchmark driver
 * (bench/cuda-check runs it): loads a model on the CUDA plugin and on the
 * built-in CPU engine through the same engine ABI and compares logits,
 * greedy continuations, multi-sequence batches and batch invariance; times
 * prefill and batch-1 decode.
 *
 *   xllm-cuda-check compare MODEL [--kv f16|q8_0] [--tokens N] [--gen K] [--tol REL]
 *   xllm-cuda-check bench MODEL [--pp N] [--tg N] [--kv f16|q8_0]
 *   xllm-cuda-check info [MODEL]
 * The plugin's manifest: XLLM_ENGINE_PATH, else cuda.json next to this binary.
 * Exit status 0 = every check passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "engine/engine_host.h"

#define SEQS 4
#define SEQ_BLOCKS 64 /* blocks per sequence: 1024 positions */

typedef struct eng {
    xllm_engine *e;
    xllm_engine_ctx *ctx;
    xllm_engine_model_info info;
    int32_t tables[SEQS][SEQ_BLOCKS];
} eng;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *manifest_path(char *buf, size_t n)
{
    const char *env = getenv("XLLM_ENGINE_PATH");
    char exe[4096];
    ssize_t k;
    if (env && *env)
        return env;
    k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return "cuda.json";
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(buf, n, "%s/cuda.json", exe);
    return buf;
}

static int open_engine(eng *g, int cuda, const char *model, int32_t kv, int max_batch)
{
    char buf[4200];
    xllm_engine_load_params p;
    xllm_status st = cuda ? xllm_engine_open(manifest_path(buf, sizeof buf), &g->e) : xllm_engine_open_cpu(&g->e);
    int rc;
    if (st != XLLM_OK) {
        fprintf(stderr, "open %s engine: %s\n", cuda ? "cuda" : "cpu", xllm_last_error());
        return 1;
    }
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.model_path = model;
    p.n_blocks = SEQS * SEQ_BLOCKS;
    p.max_batch_tokens = max_batch;
    p.pooling = -1;
    p.normalize = 1;
    p.kv_type = cuda ? kv : XLLM_KV_F32;
    if ((rc = g->e->api->load(&p, &g->ctx)) != XLLM_ENGINE_OK) {
        fprintf(stderr, "load %s on %s: %s (status %d)\n", model, g->e->api->name, g->e->api->last_error(NULL), rc);
        return 1;
    }
    g->info.struct_size = sizeof g->info;
    g->e->api->model_info(g->ctx, &g->info);
    for (int s = 0; s < SEQS; s++)
        for (int b = 0; b < SEQ_BLOCKS; b++)
            g->tables[s][b] = s * SEQ_BLOCKS + b;
    return 0;
}

static void close_engine(eng *g)
{
    if (g->ctx)
        g->e->api->free(g->ctx);
    xllm_engine_close(g->e);
    memset(g, 0, sizeof *g);
}

/* One forward over n tokens; logits rows for want (NULL: all). */
static int run(eng *g, int n, const int32_t *tok, const int32_t *pos, const int32_t *seq, const uint8_t *want,
               float *logits)
{
    const int32_t *tabs[SEQS];
    int32_t counts[SEQS];
    xllm_batch b;
    int rc;
    for (int s = 0; s < SEQS; s++)
        tabs[s] = g->tables[s], counts[s] = SEQ_BLOCKS;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    b.n_tokens = n;
    b.tokens = tok;
    b.positions = pos;
    b.seq = seq;
    b.n_seqs = SEQS;
    b.block_tables = tabs;
    b.block_counts = counts;
    b.want_logits = want;
    b.logits = logits;
    if ((rc = g->e->api->forward(g->ctx, &b)) != XLLM_ENGINE_OK) {
        fprintf(stderr, "forward on %s: %s\n", g->e->api->name, g->e->api->last_error(g->ctx));
        return 1;
    }
    return 0;
}

/* One sequence's tokens at positions p0.. in chunks of up to chunk: every
 * row's logits into out, or (out NULL) none. */
static int run_seq(eng *g, int s, int p0, int n, const int32_t *tok, float *out, int chunk)
{
    int32_t *pos = xllm_calloc((size_t)n, sizeof *pos), *seq = xllm_calloc((size_t)n, sizeof *seq);
    int rc = 0, V = g->info.n_vocab;
    for (int i = 0; i < n; i++)
        pos[i] = p0 + i, seq[i] = s;
    for (int d = 0; d < n && !rc; d += chunk) {
        int k = n - d < chunk ? n - d : chunk;
        uint8_t *want = xllm_calloc((size_t)k, 1);
        for (int i = 0; i < k; i++)
            want[i] = out != NULL;
        rc = run(g, k, tok + d, pos + d, seq + d, want, out ? out + (size_t)d * V : NULL);
        xllm_free(want);
    }
    xllm_free(pos);
    xllm_free(seq);
    return rc;
}

typedef struct diff {
    double rel, max_abs;
} diff;

static diff compare(const float *a, const float *ref, int64_t n)
{
    double num = 0, den = 0, mx = 0;
    diff d;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)a[i] - ref[i];
        if (!isfinite(a[i]))
            e = INFINITY;
        num += e * e;
        den += (double)ref[i] * ref[i];
        if (fabs(e) > mx)
            mx = fabs(e);
    }
    d.rel = den > 0 ? sqrt(num / den) : sqrt(num);
    d.max_abs = mx;
    return d;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static uint32_t rng_state = 12345;
static int32_t rnd(int32_t n)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (int32_t)((rng_state >> 8) % (uint32_t)n);
}

static int32_t parse_kv(const char *s) { return s && !strcmp(s, "q8_0") ? XLLM_KV_Q8_0 : XLLM_KV_F16; }

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

/* Batch invariance on the GPU: seq 0's decode token alone vs inside a small
 * and a large mixed batch (the other sequences' tokens at their own positions). */
static int invariance(eng *g, const int32_t *prompt, int np, double *small_diff, double *large_diff)
{
    int V = g->info.n_vocab, rc = 0;
    float *alone = xllm_malloc(sizeof(float) * (size_t)V * 24);
    int32_t tok[24], pos[24], seq[24];
    uint8_t want[24];
    /* seqs 1 and 2 get 33 and 17 prompt tokens */
    rc |= run_seq(g, 1, 0, 33, prompt, NULL, 64);
    rc |= run_seq(g, 2, 0, 17, prompt + 5, NULL, 64);
    tok[0] = prompt[np - 1], pos[0] = np - 1, seq[0] = 0, want[0] = 1;
    rc |= run(g, 1, tok, pos, seq, want, alone);
    /* small batch: seq 0 token in the middle of 5 */
    tok[0] = prompt[3], pos[0] = 33, seq[0] = 1;
    tok[1] = prompt[4], pos[1] = 17, seq[1] = 2;
    tok[2] = prompt[np - 1], pos[2] = np - 1, seq[2] = 0;
    tok[3] = prompt[6], pos[3] = 34, seq[3] = 1;
    tok[4] = prompt[7], pos[4] = 0, seq[4] = 3;
    for (int i = 0; i < 5; i++)
        want[i] = 1;
    rc |= run(g, 5, tok, pos, seq, want, alone + V);
    *small_diff = compare(alone + 3 * (size_t)V, alone, V).max_abs; /* batch row 2 is seq 0's */
    /* large batch (cuBLAS path): 20 tokens of seq 3 then seq 0's token */
    for (int i = 0; i < 20; i++)
        tok[i] = prompt[i % np], pos[i] = i, seq[i] = 3, want[i] = 0;
    tok[20] = prompt[np - 1], pos[20] = np - 1, seq[20] = 0, want[20] = 1;
    rc |= run(g, 21, tok, pos, seq, want, alone + V);
    *large_diff = compare(alone + V, alone, V).max_abs;
    xllm_free(alone);
    return rc;
}

static int cmd_compare(const char *model, int argc, char **argv)
{
    int np = atoi(opt(argc, argv, "--tokens", "24")), gen = atoi(opt(argc, argv, "--gen", "16"));
    double tol = atof(opt(argc, argv, "--tol", "0.02"));
    int32_t kv = parse_kv(opt(argc, argv, "--kv", "f16"));
    eng cpu = {0}, gpu = {0};
    int rc = 1, V, same = 0, first_div = -1, agree = 0;
    float *lc = NULL, *lg = NULL;
    int32_t *prompt = NULL, *seq_c = NULL, *seq_g = NULL;
    diff worst = {0, 0};
    double inv_small = -1, inv_large = -1;
    if (open_engine(&cpu, 0, model, XLLM_KV_F32, 64) || open_engine(&gpu, 1, model, kv, 64))
        goto out;
    V = cpu.info.n_vocab;
    if (np < 2 || np > 512 || gen < 0 || gen > 256)
        goto out;
    prompt = xllm_malloc(sizeof(int32_t) * (size_t)(np + gen + 64)); /* the invariance batches read up to 40 */
    lc = xllm_malloc(sizeof(float) * (size_t)V * (size_t)np);
    lg = xllm_malloc(sizeof(float) * (size_t)V * (size_t)np);
    seq_c = xllm_malloc(sizeof(int32_t) * (size_t)(gen + 1));
    seq_g = xllm_malloc(sizeof(int32_t) * (size_t)(gen + 1));
    rng_state = 12345;
    for (int i = 0; i < np + gen + 64; i++)
        prompt[i] = rnd(V);
    /* prefill in one batch (the GPU's cuBLAS path when np > 8) */
    if (run_seq(&cpu, 0, 0, np, prompt, lc, 64) || run_seq(&gpu, 0, 0, np, prompt, lg, 64))
        goto out;
    for (int i = 0; i < np; i++) {
        diff d = compare(lg + (size_t)i * V, lc + (size_t)i * V, V);
        agree += argmax(lg + (size_t)i * V, V) == argmax(lc + (size_t)i * V, V);
        if (d.rel > worst.rel)
            worst.rel = d.rel;
        if (d.max_abs > worst.max_abs)
            worst.max_abs = d.max_abs;
    }
    /* the same prompt one token per call (seq 3) and two per call (seq 2) on
     * the GPU: which rows differ from the CPU's batch */
    {
        float *ls = xllm_malloc(sizeof(float) * (size_t)V * (size_t)np);
        float *l2 = xllm_malloc(sizeof(float) * (size_t)V * (size_t)np);
        double w1 = 0, w2 = 0;
        if (run_seq(&gpu, 3, 0, np, prompt, ls, 1) || run_seq(&gpu, 2, 0, np, prompt, l2, 2))
            goto out;
        for (int i = 0; i < np; i++) {
            double a = compare(lg + (size_t)i * V, lc + (size_t)i * V, V).rel;
            double b1 = compare(ls + (size_t)i * V, lc + (size_t)i * V, V).rel;
            double b2 = compare(l2 + (size_t)i * V, lc + (size_t)i * V, V).rel;
            w1 = b1 > w1 ? b1 : w1;
            w2 = b2 > w2 ? b2 : w2;
            if (getenv("XC_ROWS"))
                printf("rows     %3d: batch %.3g one-by-one %.3g two-by-two %.3g\n", i, a, b1, b2);
        }
        printf("prefill  one token per call: worst rel L2 %.3g; two per call: %.3g\n", w1, w2);
        if (w1 > worst.rel)
            worst.rel = w1;
        if (w2 > worst.rel)
            worst.rel = w2;
        xllm_free(ls);
        xllm_free(l2);
    }
    /* decode rows (mat-vec path): greedy continuations, each engine its own */
    {
        diff dworst = {0, 0};
        int32_t tc = argmax(lc + (size_t)(np - 1) * V, V), tg = argmax(lg + (size_t)(np - 1) * V, V);
        for (int k = 0; k < gen; k++) {
            seq_c[k] = tc, seq_g[k] = tg;
            if (tc != tg && first_div < 0)
                first_div = k;
            if (run_seq(&cpu, 0, np + k, 1, &tc, lc, 1) || run_seq(&gpu, 0, np + k, 1, &tg, lg, 1))
                goto out;
            if (first_div < 0) {
                diff d = compare(lg, lc, V);
                if (d.rel > dworst.rel)
                    dworst.rel = d.rel;
                if (d.max_abs > dworst.max_abs)
                    dworst.max_abs = d.max_abs;
            }
            tc = argmax(lc, V), tg = argmax(lg, V);
        }
        same = first_div < 0;
        printf("decode   worst rel L2 %.3g, max |diff| %.3g over %d steps (until any divergence)\n", dworst.rel,
               dworst.max_abs, gen);
        if (dworst.rel > worst.rel)
            worst.rel = dworst.rel;
    }
    printf("prefill  %d tokens: worst rel L2 %.3g, max |diff| %.3g, argmax agree %d/%d\n", np, worst.rel,
           worst.max_abs, agree, np);
    printf("greedy   %d tokens: %s", gen, same ? "identical" : "DIFFERENT");
    if (!same)
        printf(" from step %d", first_div);
    printf("\n");
    /* multi-sequence batch vs CPU: the same mixed batch on both */
    {
        int32_t tok[6], pos[6], sq[6];
        uint8_t want[6] = {1, 1, 1, 1, 1, 1};
        float *mc = xllm_malloc(sizeof(float) * (size_t)V * 6), *mg = xllm_malloc(sizeof(float) * (size_t)V * 6);
        diff mw = {0, 0};
        int bad = run_seq(&cpu, 1, 0, 9, prompt, NULL, 64) || run_seq(&gpu, 1, 0, 9, prompt, NULL, 64);
        for (int i = 0; i < 6; i++)
            tok[i] = prompt[(i * 7) % np];
        pos[0] = 9, sq[0] = 1;  /* decode of seq 1 */
        pos[1] = 0, sq[1] = 2;  /* prefill chunk of seq 2 */
        pos[2] = 1, sq[2] = 2;
        pos[3] = 2, sq[3] = 2;
        pos[4] = 10, sq[4] = 1; /* and the next token of seq 1 in the same batch */
        pos[5] = 3, sq[5] = 2;
        bad = bad || run(&cpu, 6, tok, pos, sq, want, mc) || run(&gpu, 6, tok, pos, sq, want, mg);
        for (int i = 0; i < 6 && !bad; i++) {
            diff d = compare(mg + (size_t)i * V, mc + (size_t)i * V, V);
            if (d.rel > mw.rel)
                mw.rel = d.rel;
        }
        printf("batch    mixed 2-sequence batch of 6 rows: worst rel L2 %.3g%s\n", mw.rel, bad ? " (FAILED to run)" : "");
        if (mw.rel > worst.rel)
            worst.rel = mw.rel;
        xllm_free(mc);
        xllm_free(mg);
        if (bad)
            goto out;
    }
    if (invariance(&gpu, prompt, np, &inv_small, &inv_large))
        goto out;
    printf("invariance seq alone vs in a 5-token batch: max |diff| %.3g (%s); vs in a 21-token batch: %.3g (%s)\n",
           inv_small, inv_small == 0 ? "bit-exact" : "differs", inv_large, inv_large == 0 ? "bit-exact" : "differs");
    rc = worst.rel <= tol && inv_small == 0 ? 0 : 1;
    printf("RESULT %s %s kv=%s rel=%.3g tol=%.3g greedy=%s inv_small=%.3g inv_large=%.3g\n", rc ? "FAIL" : "PASS",
           model, kv == XLLM_KV_Q8_0 ? "q8_0" : "f16", worst.rel, tol, same ? "same" : "diff", inv_small, inv_large);
out:
    xllm_free(lc);
    xllm_free(lg);
    xllm_free(prompt);
    xllm_free(seq_c);
    xllm_free(seq_g);
    close_engine(&gpu);
    close_engine(&cpu);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_bench(const char *model, int argc, char **argv)
{
    int pp = atoi(opt(argc, argv, "--pp", "512")), tg = atoi(opt(argc, argv, "--tg", "128"));
    int32_t kv = parse_kv(opt(argc, argv, "--kv", "f16"));
    char buf[4200];
    eng gpu = {0};
    xllm_engine_memory mem;
    xllm_engine_load_params p;
    double t0, load_s, pp_t[3], tg_s;
    int rc = 1, V;
    int32_t *tok = NULL;
    float *logits = NULL;
    if (pp < 1 || pp > 1024 || tg < 1 || tg > 512)
        return 2;
    t0 = now();
    if (open_engine(&gpu, 1, model, kv, pp))
        goto out;
    load_s = now() - t0;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.model_path = model;
    p.n_blocks = SEQS * SEQ_BLOCKS;
    p.max_batch_tokens = pp;
    p.kv_type = kv;
    mem.struct_size = sizeof mem;
    (void)manifest_path(buf, sizeof buf);
    if (gpu.e->api->memory_required(&p, &mem) != XLLM_ENGINE_OK)
        goto out;
    V = gpu.info.n_vocab;
    tok = xllm_malloc(sizeof(int32_t) * (size_t)(pp + tg));
    logits = xllm_malloc(sizeof(float) * (size_t)V);
    rng_state = 777;
    for (int i = 0; i < pp + tg; i++)
        tok[i] = rnd(V);
    if (run_seq(&gpu, 0, 0, pp, tok, NULL, pp)) /* warm-up */
        goto out;
    for (int r = 0; r < 3; r++) {
        double t = now();
        if (run_seq(&gpu, 0, 0, pp, tok, NULL, pp)) /* no logits: the prompt's KV only */
            goto out;
        pp_t[r] = now() - t;
    }
    qsort(pp_t, 3, sizeof pp_t[0], cmp_double);
    /* batch-1 decode from position 0 (as llama-bench tg), after a warm-up of 8 */
    if (run_seq(&gpu, 1, 0, 8, tok, NULL, 1))
        goto out;
    t0 = now();
    {
        int32_t t = tok[0];
        for (int i = 0; i < tg; i++) {
            if (run_seq(&gpu, 2, i, 1, &t, logits, 1))
                goto out;
            t = argmax(logits, V);
        }
    }
    tg_s = now() - t0;
    printf("BENCH %s kv=%s weights_bytes=%llu kv_bytes=%llu scratch_bytes=%llu load_s=%.2f pp%d_tok_s=%.1f "
           "tg%d_tok_s=%.1f tg_ms=%.4f\n",
           model, kv == XLLM_KV_Q8_0 ? "q8_0" : "f16", (unsigned long long)mem.weight_bytes,
           (unsigned long long)mem.kv_bytes, (unsigned long long)mem.scratch_bytes, load_s, pp, pp / pp_t[1], tg,
           tg / tg_s, 1e3 * tg_s / tg);
    rc = 0;
out:
    xllm_free(tok);
    xllm_free(logits);
    close_engine(&gpu);
    return rc;
}

/* The plugin's table, manifest and (GPU-free) planning; a load that fails says why. */
static int cmd_info(const char *model)
{
    char buf[4200];
    const char *mp = manifest_path(buf, sizeof buf);
    xllm_engine *e = NULL;
    xllm_engine_load_params p;
    xllm_engine_memory mem;
    xllm_engine_ctx *ctx = NULL;
    if (xllm_engine_open(mp, &e) != XLLM_OK) {
        fprintf(stderr, "open %s: %s\n", mp, xllm_last_error());
        return 1;
    }
    printf("engine %s %s abi %u from %s\n", e->api->name, e->api->version, e->api->abi_version, e->manifest.library);
    if (model) {
        memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        p.model_path = model;
        p.n_blocks = 64;
        p.max_batch_tokens = 512;
        mem.struct_size = sizeof mem;
        if (e->api->memory_required(&p, &mem) == XLLM_ENGINE_OK)
            printf("memory %s: weights %llu kv %llu scratch %llu total %llu\n", model,
                   (unsigned long long)mem.weight_bytes, (unsigned long long)mem.kv_bytes,
                   (unsigned long long)mem.scratch_bytes, (unsigned long long)mem.total_bytes);
        else
            printf("memory_required: %s\n", e->api->last_error(NULL));
        if (e->api->load(&p, &ctx) == XLLM_ENGINE_OK)
            printf("load ok\n");
        else
            printf("load failed: %s\n", e->api->last_error(NULL));
        e->api->free(ctx);
    }
    xllm_engine_close(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "compare"))
        return cmd_compare(argv[2], argc - 3, argv + 3);
    if (argc >= 3 && !strcmp(argv[1], "bench"))
        return cmd_bench(argv[2], argc - 3, argv + 3);
    if (argc >= 2 && !strcmp(argv[1], "info"))
        return cmd_info(argc >= 3 ? argv[2] : NULL);
    fprintf(stderr, "usage: xllm-cuda-check compare|bench MODEL [options] | info [MODEL]\n");
    return 2;
}
