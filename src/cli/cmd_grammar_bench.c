/* cmd_grammar_bench.c - `xllm grammar-bench` [dev]: the cost of grammar-
 * constrained decoding. Compile time of JSON schemas (schema -> GBNF ->
 * automaton) and, per vocabulary, the time of one masked step (apply) while
 * a simulated decode walks each schema's grammar with random allowed tokens,
 * split into cache misses (trie walks) and hits. Figures go to bench/RESULTS.md. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "runtime/grammar.h"
#include "runtime/json_schema.h"
#include "tokenizer/tokenizer.h"

#define MAX_SCHEMAS 1024

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* CPU time of this thread: on a shared machine wall time counts the time
 * other processes held the core. */
static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_d);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static int cmp_s(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct bench_schema {
    char *path;
    xllm_grammar *g;
} bench_schema;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* A random allowed token: uniform start, first allowed at or after it. */
static int32_t random_allowed(const float *l, int32_t n, uint64_t *rng)
{
    int32_t start = (int32_t)(rng_next(rng) % (uint64_t)n);
    for (int32_t k = 0; k < n; k++) {
        int32_t t = (start + k) % n;
        if (!isinf(l[t]))
            return t;
    }
    return -1;
}

static int32_t finishing(xllm_grammar_state *s, const xllm_grammar_vocab *v, const float *l, int32_t n)
{
    int32_t best = -1;
    size_t best_rem = SIZE_MAX, rem;
    for (int32_t t = 0; t < n; t++)
        if (!isinf(l[t]) && !xllm_grammar_peek(s, v, t, &rem) && rem < best_rem)
            best = t, best_rem = rem;
    return best;
}

static int bench_vocab(const char *path, bench_schema *sc, int n_sc, int steps, uint64_t seed)
{
    xllm_tokenizer *tok = NULL;
    xllm_grammar_vocab *v = NULL;
    if (xllm_tokenizer_open_path(path, &tok)) {
        fprintf(stderr, "xllm grammar-bench: %s: %s\n", path, xllm_last_error());
        return 1;
    }
    double t0 = now_us();
    if (xllm_grammar_vocab_new(tok, &v)) {
        fprintf(stderr, "xllm grammar-bench: %s\n", xllm_last_error());
        xllm_tokenizer_free(tok);
        return 1;
    }
    double build_ms = (now_us() - t0) / 1e3;
    int32_t n = xllm_grammar_vocab_n(v);
    size_t cap = (size_t)n_sc * (size_t)steps * 4 + 16;
    double *all = xllm_malloc(cap * sizeof *all), *miss = xllm_malloc(cap * sizeof *miss),
           *hit = xllm_malloc(cap * sizeof *hit), *acc = xllm_malloc(cap * sizeof *acc);
    float *l = xllm_malloc((size_t)n * sizeof *l);
    size_t n_all = 0, n_miss = 0, n_hit = 0, n_acc = 0, tokens = 0, bytes = 0;
    uint64_t rng = seed | 1;
    for (int i = 0; i < n_sc && all && miss && hit && acc && l; i++) {
        xllm_grammar_state *s = NULL;
        if (xllm_grammar_state_new(sc[i].g, &s))
            continue;
        for (int step = 0; n_all < cap && step < steps * 4; step++) {
            for (int32_t t = 0; t < n; t++)
                l[t] = 0.0f;
            xllm_grammar_stats before, after;
            xllm_grammar_state_stats(s, &before);
            double a = now_us();
            xllm_grammar_apply(s, v, l);
            double dt = now_us() - a;
            xllm_grammar_state_stats(s, &after);
            all[n_all++] = dt;
            if (after.mask_walks > before.mask_walks)
                miss[n_miss++] = dt;
            else
                hit[n_hit++] = dt;
            int32_t t = step < steps ? random_allowed(l, n, &rng) : finishing(s, v, l, n);
            if (t < 0)
                break;
            size_t len = 0;
            xllm_tokenizer_token_text(tok, t, &len);
            a = now_us();
            if (xllm_grammar_accept(s, v, t))
                break;
            acc[n_acc++] = now_us() - a;
            tokens++;
            bytes += len;
            if (xllm_grammar_done(s) || (step >= steps && xllm_grammar_can_end(s)))
                break;
        }
        xllm_grammar_state_free(s);
    }
    double sum = 0;
    for (size_t k = 0; k < n_all; k++)
        sum += all[k];
    size_t nm = n_miss, nh = n_hit;
    printf("%-44s %7d  build %6.1f ms  steps %5zu  mean %7.1f us  p50 %7.1f  p99 %8.1f  max %8.1f  "
           "miss %4.1f%% (p50 %7.1f us)  hit p50 %5.1f us  accept p50 %4.2f us\n",
           path, n, build_ms, n_all, n_all ? sum / (double)n_all : 0, pct(all, n_all, 0.5), pct(all, n_all, 0.99),
           pct(all, n_all, 1.0), n_all ? 100.0 * (double)nm / (double)n_all : 0, pct(miss, nm, 0.5),
           pct(hit, nh, 0.5), pct(acc, n_acc, 0.5));
    (void)bytes;
    xllm_free(all);
    xllm_free(miss);
    xllm_free(hit);
    xllm_free(acc);
    xllm_free(l);
    xllm_grammar_vocab_free(v);
    xllm_tokenizer_free(tok);
    return 0;
}

/* n streams per schema decoding together, round robin (as the scheduler
 * steps them): mean time of apply + accept per stream-step, with a state of
 * its own per stream, then with all streams on shared tables. */
static int bench_streams(const char *path, bench_schema *sc, int n_sc, int steps, int n, uint64_t seed)
{
    xllm_tokenizer *tok = NULL;
    xllm_grammar_vocab *v = NULL;
    if (xllm_tokenizer_open_path(path, &tok) || xllm_grammar_vocab_new(tok, &v)) {
        fprintf(stderr, "xllm grammar-bench: %s: %s\n", path, xllm_last_error());
        xllm_tokenizer_free(tok);
        return 1;
    }
    int32_t nv = xllm_grammar_vocab_n(v);
    float *l = xllm_malloc((size_t)nv * sizeof *l);
    xllm_grammar_state **st = xllm_calloc((size_t)n, sizeof *st);
    double us[2] = {0, 0};
    size_t cnt[2] = {0, 0};
    for (int shared = 0; shared < 2 && l && st; shared++) {
        uint64_t rng = seed | 1;
        for (int i = 0; i < n_sc; i++) {
            int ok = 1;
            for (int k = 0; k < n && ok; k++)
                ok = !(k && shared ? xllm_grammar_state_new_shared(st[0], &st[k])
                                   : xllm_grammar_state_new(sc[i].g, &st[k]));
            for (int step = 0; ok && step < steps; step++)
                for (int k = 0; k < n; k++) {
                    if (xllm_grammar_done(st[k]))
                        continue;
                    for (int32_t t = 0; t < nv; t++)
                        l[t] = 0.0f;
                    double a = cpu_us();
                    xllm_grammar_apply(st[k], v, l);
                    double b = cpu_us();
                    int32_t t = step < steps - 8 ? random_allowed(l, nv, &rng) : finishing(st[k], v, l, nv);
                    double c = cpu_us();
                    if (t >= 0)
                        xllm_grammar_accept(st[k], v, t);
                    us[shared] += (b - a) + (cpu_us() - c);
                    cnt[shared]++;
                }
            for (int k = 0; k < n; k++)
                xllm_grammar_state_free(st[k]), st[k] = NULL;
        }
    }
    printf("%-44s %d streams x %d schemas: apply+accept %.1f us per stream-step with separate states, "
           "%.1f us with shared tables (thread CPU time)\n",
           path, n, n_sc, cnt[0] ? us[0] / (double)cnt[0] : 0, cnt[1] ? us[1] / (double)cnt[1] : 0);
    xllm_free(l);
    xllm_free(st);
    xllm_grammar_vocab_free(v);
    xllm_tokenizer_free(tok);
    return 0;
}

int cmd_grammar_bench(int argc, char **argv)
{
    const char *dir = "tests/fixtures/schemas", *pos[8];
    int n_pos = 0, steps = 64, max_sc = 40, seed = 1, streams = 0;
    const xllm_opt opts[] = {
        {"schemas", XLLM_OPT_STR, &dir, "directory of JSON schemas (default tests/fixtures/schemas)"},
        {"count", XLLM_OPT_INT, &max_sc, "schemas decoded per vocabulary (default 40)"},
        {"steps", XLLM_OPT_INT, &steps, "random tokens per schema before finishing (default 64)"},
        {"seed", XLLM_OPT_INT, &seed, "token choice seed"},
        {"streams", XLLM_OPT_INT, &streams,
         "also N streams per schema stepped together, separate states vs shared tables (default 0: not run)"},
    };
    int rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 8, &n_pos,
                             "VOCAB... (GGUF files or Hugging Face tokenizer directories) [--schemas DIR]");
    if (rc)
        return rc == 1 ? 0 : rc;
    char *names[MAX_SCHEMAS];
    int n_names = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) && n_names < MAX_SCHEMAS;)
        if (strstr(e->d_name, ".json"))
            names[n_names++] = xllm_strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n_names, sizeof *names, cmp_s);
    bench_schema *sc = xllm_calloc((size_t)n_names + 1, sizeof *sc);
    double *ct = xllm_malloc(((size_t)n_names + 1) * sizeof *ct), *cg = xllm_malloc(((size_t)n_names + 1) * sizeof *cg);
    int n_sc = 0;
    size_t gbnf_bytes = 0;
    for (int i = 0; sc && ct && cg && i < n_names; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_t *js = json_load_file(path, 0, NULL);
        char *gbnf = NULL;
        size_t len = 0;
        xllm_grammar *g = NULL;
        double a = now_us();
        xllm_status st = js ? xllm_json_schema_to_gbnf(js, 0, &gbnf, &len) : XLLM_ERR_FORMAT;
        double b = now_us();
        st = st ? st : xllm_grammar_compile(gbnf, len, NULL, &g);
        double c = now_us();
        if (!st) {
            cg[n_sc] = b - a;
            ct[n_sc] = c - a;
            gbnf_bytes += len;
            sc[n_sc].path = xllm_strdup(path);
            sc[n_sc++].g = g;
        } else
            fprintf(stderr, "xllm grammar-bench: %s: %s\n", path, xllm_last_error());
        xllm_free(gbnf);
        json_decref(js);
        xllm_free(names[i]);
    }
    printf("schemas %d (%s): GBNF %zu bytes mean; schema->GBNF p50 %.0f us; schema->automaton p50 %.0f us, "
           "p90 %.0f us, max %.0f us\n",
           n_sc, dir, n_sc ? gbnf_bytes / (size_t)n_sc : 0, pct(cg, (size_t)n_sc, 0.5), pct(ct, (size_t)n_sc, 0.5),
           pct(ct, (size_t)n_sc, 0.9), pct(ct, (size_t)n_sc, 1.0));
    int use = n_sc < max_sc ? n_sc : max_sc;
    for (int i = 0; i < n_pos && !rc; i++)
        rc = bench_vocab(pos[i], sc, use, steps, (uint64_t)seed);
    for (int i = 0; i < n_pos && !rc && streams > 0; i++)
        rc = bench_streams(pos[i], sc, use, steps, streams > 256 ? 256 : streams, (uint64_t)seed);
    for (int i = 0; i < n_sc; i++) {
        xllm_grammar_free(sc[i].g);
        xllm_free(sc[i].path);
    }
    xllm_free(sc);
    xllm_free(ct);
    xllm_free(cg);
    return rc;
}
