/* bench_http.c - `xllm benchmark --server URL --model NAME`: drives any
 * OpenAI-compatible server (xllm, llama-server, Ollama, vLLM) through
 * streaming /v1/completions with N concurrent clients per level (libcurl
 * multi, one thread), and reports the in-process benchmark's concurrency
 * table: aggregate and per-request tokens/s, TTFT and inter-token latency
 * percentiles, one SSE chunk counted as one token. */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "base/limits.h"
#include "base/sysinfo.h"
#include "cli/args.h"
#include "cli/bench_http.h"
#include "cli/bench_report.h"

typedef struct hclient {
    CURL *h;
    xllm_buf line;      /* partial SSE line */
    double t_submit;
    double *t_tok;      /* [cap] arrival of each chunk with text */
    int32_t n_tok, cap;
    int failed;
    long http;
} hclient;

static void chunk_seen(hclient *c)
{
    if (c->n_tok < c->cap)
        c->t_tok[c->n_tok++] = xllm_now();
}

/* One SSE line: "data: {...}" with choices[0].text (or delta.content). */
static void sse_line(hclient *c, const char *s, size_t n)
{
    json_t *j, *ch;
    const char *text = NULL;
    if (n < 6 || strncmp(s, "data: ", 6) != 0 || (n == 12 && !strncmp(s + 6, "[DONE]", 6)))
        return;
    j = json_loadb(s + 6, n - 6, 0, NULL);
    ch = json_array_get(json_object_get(j, "choices"), 0);
    if (ch) {
        text = json_string_value(json_object_get(ch, "text"));
        if (!text)
            text = json_string_value(json_object_get(json_object_get(ch, "delta"), "content"));
        if (text && text[0])
            chunk_seen(c);
    }
    if (json_object_get(j, "error"))
        c->failed = 1;
    json_decref(j);
}

static size_t on_data(char *p, size_t sz, size_t nm, void *user)
{
    hclient *c = user;
    size_t n = sz * nm;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            sse_line(c, c->line.data ? c->line.data : "", c->line.len);
            c->line.len = 0;
        } else if (p[i] != '\r') {
            xllm_buf_append(&c->line, p + i, 1);
        }
    }
    return n;
}

typedef struct hopts {
    const char *server, *model, *concurrency, *api_key, *grammar_file;
    char *grammar; /* text of --grammar FILE, sent as the "grammar" extension field */
    int prompt_tokens, gen_tokens, json, seed;
} hopts;

/* Prompt: random token ids (as the in-process benchmark), ignore_eos so
 * every request generates gen_tokens (llama-server and xllm honour it). */
static char *request_body(const hopts *o, int idx)
{
    json_t *p = json_array(), *b;
    uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)(o->seed * 1000003 + idx);
    char *s;
    for (int i = 0; i < o->prompt_tokens; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        json_array_append_new(p, json_integer(100 + (json_int_t)(x % 900)));
    }
    b = json_pack("{s:s, s:o, s:i, s:f, s:b, s:b}", "model", o->model, "prompt", p, "max_tokens", o->gen_tokens,
                  "temperature", 0.0, "stream", 1, "ignore_eos", 1);
    if (o->grammar) /* GBNF on /v1/completions: an extension both xllm and llama-server read */
        json_object_set_new(b, "grammar", json_string(o->grammar));
    s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static int run_level(const hopts *o, int n, xllm_bench_level *lv)
{
    CURLM *m = curl_multi_init();
    hclient *cl = xllm_calloc((size_t)n, sizeof *cl);
    char **bodies = xllm_calloc((size_t)n, sizeof *bodies);
    char url[2048], auth[512];
    struct curl_slist *hdr = NULL;
    double t0, t_end = 0, *samples;
    int running = 0, rc = 0, n_ok = 0, n_s = 0;
    long long total = 0;
    double req_tps = 0;
    snprintf(url, sizeof url, "%s/v1/completions", o->server);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    if (o->api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->api_key);
        hdr = curl_slist_append(hdr, auth);
    }
    t0 = xllm_now();
    for (int i = 0; i < n; i++) {
        hclient *c = &cl[i];
        bodies[i] = request_body(o, i);
        c->cap = o->gen_tokens + 8;
        c->t_tok = xllm_calloc((size_t)c->cap, sizeof(double));
        xllm_buf_init(&c->line, 1u << 20);
        c->h = curl_easy_init();
        curl_easy_setopt(c->h, CURLOPT_URL, url);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, bodies[i]);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 600L);
        c->t_submit = xllm_now();
        curl_multi_add_handle(m, c->h);
    }
    do {
        CURLMsg *msg;
        int left;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg == CURLMSG_DONE) {
                hclient *c;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->http);
                if (msg->data.result != CURLE_OK || c->http != 200)
                    c->failed = 1;
            }
        }
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    } while (running);
    samples = xllm_calloc((size_t)n * (size_t)(o->gen_tokens + 8), sizeof *samples);
    memset(lv, 0, sizeof *lv);
    lv->concurrency = n;
    for (int i = 0; i < n; i++) {
        hclient *c = &cl[i];
        if (c->failed || c->n_tok == 0) {
            rc = 1;
            continue;
        }
        n_ok++;
        total += c->n_tok;
        if (c->t_tok[c->n_tok - 1] > t_end)
            t_end = c->t_tok[c->n_tok - 1];
        if (c->n_tok > 1)
            req_tps += (c->n_tok - 1) / (c->t_tok[c->n_tok - 1] - c->t_tok[0]);
    }
    lv->seconds = t_end - t0;
    lv->aggregate_tps = lv->seconds > 0 ? (double)total / lv->seconds : 0;
    lv->per_request_tps = n_ok ? req_tps / n_ok : 0;
    for (int i = 0; i < n; i++)
        if (!cl[i].failed && cl[i].n_tok)
            samples[n_s++] = cl[i].t_tok[0] - cl[i].t_submit;
    lv->ttft_p50 = xllm_percentile(samples, n_s, 50);
    lv->ttft_p95 = xllm_percentile(samples, n_s, 95);
    lv->ttft_p99 = xllm_percentile(samples, n_s, 99);
    n_s = 0;
    for (int i = 0; i < n; i++)
        for (int k = 1; !cl[i].failed && k < cl[i].n_tok; k++)
            samples[n_s++] = cl[i].t_tok[k] - cl[i].t_tok[k - 1];
    lv->itl_p50 = xllm_percentile(samples, n_s, 50);
    lv->itl_p95 = xllm_percentile(samples, n_s, 95);
    lv->itl_p99 = xllm_percentile(samples, n_s, 99);
    if (rc)
        fprintf(stderr, "xllm benchmark: %d of %d requests at concurrency %d failed (HTTP %ld)\n", n - n_ok, n, n,
                cl[0].http);
    for (int i = 0; i < n; i++) {
        curl_multi_remove_handle(m, cl[i].h);
        curl_easy_cleanup(cl[i].h);
        xllm_buf_free(&cl[i].line);
        xllm_free(cl[i].t_tok);
        free(bodies[i]);
    }
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
    xllm_free(samples);
    xllm_free(bodies);
    xllm_free(cl);
    return rc;
}

static void print_text(const hopts *o, const xllm_bench_level *lv, int n)
{
    printf("server:     %s, model %s\n", o->server, o->model);
    printf("prompt:     %d random token ids; %d generated tokens per request (streaming /v1/completions, "
           "greedy, ignore_eos%s%s)\n",
           o->prompt_tokens, o->gen_tokens, o->grammar ? ", grammar " : "", o->grammar ? o->grammar_file : "");
    printf("\nconcurrency (HTTP clients at once):\n");
    printf("%-11s %12s %12s %10s %10s %10s %10s %10s %10s\n", "sequences", "agg tok/s", "req tok/s", "ttft p50",
           "ttft p95", "ttft p99", "itl p50", "itl p95", "itl p99");
    for (int i = 0; i < n; i++)
        printf("%-11d %12.2f %12.2f %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms %8.1fms\n", lv[i].concurrency,
               lv[i].aggregate_tps, lv[i].per_request_tps, lv[i].ttft_p50 * 1e3, lv[i].ttft_p95 * 1e3,
               lv[i].ttft_p99 * 1e3, lv[i].itl_p50 * 1e3, lv[i].itl_p95 * 1e3, lv[i].itl_p99 * 1e3);
}

static void print_json(const hopts *o, const xllm_bench_level *lv, int n)
{
    json_t *levels = json_array(), *j;
    for (int i = 0; i < n; i++)
        json_array_append_new(
            levels, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "concurrency", lv[i].concurrency,
                              "seconds", lv[i].seconds, "aggregate_tokens_per_s", lv[i].aggregate_tps,
                              "per_request_tokens_per_s", lv[i].per_request_tps, "ttft_p50_s", lv[i].ttft_p50,
                              "ttft_p95_s", lv[i].ttft_p95, "ttft_p99_s", lv[i].ttft_p99, "itl_p50_s", lv[i].itl_p50,
                              "itl_p95_s", lv[i].itl_p95, "itl_p99_s", lv[i].itl_p99));
    j = json_pack("{s:s, s:s, s:i, s:i, s:o*, s:o}", "server", o->server, "model", o->model, "prompt_tokens",
                  o->prompt_tokens, "gen_tokens", o->gen_tokens, "grammar_file",
                  o->grammar ? json_string(o->grammar_file) : NULL, "levels", levels);
    json_dumpf(j, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(j);
}

/* The --grammar file's text (capped like a request body), or NULL after a message. */
static char *read_grammar(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    xllm_status st = xllm_read_file(path, XLLM_GRAMMAR_MAX_TEXT, &text, &len);
    if (st != XLLM_OK) {
        fprintf(stderr, "xllm benchmark: --grammar %s: %s\n", path, xllm_last_error());
        return NULL;
    }
    return text;
}

int xllm_bench_http_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--server") || !strncmp(argv[i], "--server=", 9))
            return 1;
    return 0;
}

int xllm_bench_http(int argc, char **argv)
{
    hopts o = {NULL, NULL, "1,4,16", NULL, NULL, NULL, 128, 32, 0, 1};
    const char *pos[1];
    int n_pos = 0, rc, *levels = NULL, n_levels = 0;
    xllm_bench_level lv[XLLM_BENCH_MAX_LEVELS];
    const xllm_opt opts[] = {
        {"server", XLLM_OPT_STR, &o.server, "base URL of an OpenAI-compatible server (http://127.0.0.1:32769)"},
        {"model", XLLM_OPT_STR, &o.model, "model name the server knows"},
        {"concurrency", XLLM_OPT_STR, &o.concurrency, "clients at once, one run per level (default 1,4,16)"},
        {"prompt-tokens", XLLM_OPT_INT, &o.prompt_tokens, "prompt length in random token ids (default 128)"},
        {"gen-tokens", XLLM_OPT_INT, &o.gen_tokens, "tokens generated per request (default 32)"},
        {"seed", XLLM_OPT_INT, &o.seed, "seed of the random prompts (default 1)"},
        {"api-key", XLLM_OPT_STR, &o.api_key, "bearer token"},
        {"grammar", XLLM_OPT_STR, &o.grammar_file, "GBNF file: every request constrained by it (\"grammar\" field)"},
        {"json", XLLM_OPT_FLAG, &o.json, "print one JSON object"},
    };
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos,
                         "--server URL --model NAME [--concurrency 1,4,16] [--prompt-tokens N] [--gen-tokens N] "
                         "[--grammar FILE]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!o.server || !o.model) {
        fprintf(stderr, "xllm benchmark: --server needs --model NAME\n");
        return 2;
    }
    if (o.prompt_tokens < 1 || o.gen_tokens < 1 || xllm_args_int_list(o.concurrency, &levels, &n_levels) ||
        n_levels < 1 || n_levels > XLLM_BENCH_MAX_LEVELS) {
        fprintf(stderr, "xllm benchmark: bad --prompt-tokens, --gen-tokens or --concurrency\n");
        xllm_free(levels);
        return 2;
    }
    for (int i = 0; i < n_levels; i++)
        if (levels[i] < 1 || levels[i] > XLLM_BENCH_MAX_CONCURRENCY) {
            fprintf(stderr, "xllm benchmark: --concurrency %d: 1..%d\n", levels[i], XLLM_BENCH_MAX_CONCURRENCY);
            xllm_free(levels);
            return 2;
        }
    if (o.grammar_file && !(o.grammar = read_grammar(o.grammar_file))) {
        xllm_free(levels);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    {
        hopts w = o; /* warm-up: the first request may load the model */
        xllm_bench_level dummy;
        w.gen_tokens = 2;
        if (run_level(&w, 1, &dummy)) {
            fprintf(stderr, "xllm benchmark: the warm-up request to %s failed\n", o.server);
            curl_global_cleanup();
            xllm_free(levels);
            xllm_free(o.grammar);
            return 1;
        }
    }
    rc = 0;
    for (int i = 0; i < n_levels; i++)
        rc |= run_level(&o, levels[i], &lv[i]);
    if (o.json)
        print_json(&o, lv, n_levels);
    else
        print_text(&o, lv, n_levels);
    curl_global_cleanup();
    xllm_free(levels);
    xllm_free(o.grammar);
    return rc ? 1 : 0;
}
