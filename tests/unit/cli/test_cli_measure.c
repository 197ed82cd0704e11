/* test_cli_measure.c - `xllm benchmark`, `xllm profile` and `xllm compare` as a
 * user runs them on the demo model (binary from $XLLM_BIN, set by `make
 * unit-test`): JSON that parses with the promised keys and sane values,
 * Prometheus output that passes the format check, the Markdown and text
 * forms, usage errors, and a model compared with itself. Small token counts
 * keep each run well under a second; nothing is timed. */
#include <jansson.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "prom_check.h"

#define DEMO_GGUF "models/kjv-demo.gguf"
#define HELDOUT "tests/fixtures/kjv-demo/heldout-rev22.txt"
#define SMALL_BENCH "--prompt-tokens 16 --gen-tokens 4 --repeats 2 --concurrency 1,3 --threads 1 " \
                    "--bandwidth-mib 8 --quiet"

/* Run a shell command, capture stdout (at most 4 MiB); *rc = exit status. */
static char *run_capture(const char *cmd, int *rc)
{
    FILE *p = popen(cmd, "r");
    char *out = NULL;
    size_t len = 0, cap = 0;
    int st;
    *rc = -1;
    if (!p)
        return NULL;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *n = cap >= (4u << 20) ? NULL : realloc(out, cap = cap ? cap * 2 : 65536);
            if (!n)
                break;
            out = n;
        }
        size_t got = fread(out + len, 1, 4096, p);
        if (!got)
            break;
        len += got;
    }
    if (out)
        out[len] = 0;
    st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static const char *xllm_bin(void)
{
    const char *bin = getenv("XLLM_BIN");
    if (!bin || !xllm_path_exists(bin) || !xllm_path_exists(DEMO_GGUF)) {
        test_skip("needs XLLM_BIN and models/kjv-demo.gguf");
        return NULL;
    }
    return bin;
}

static json_t *run_json(const char *cmd)
{
    int rc;
    char *out = run_capture(cmd, &rc);
    json_error_t err;
    json_t *o = out ? json_loads(out, 0, &err) : NULL;
    CHECK_MSG(rc == 0, "%s: exit %d", cmd, rc);
    CHECK_MSG(o != NULL, "%s: output is not one JSON object (%s)", cmd, o ? "" : err.text);
    free(out);
    return o;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    CHECK_MSG(json_is_number(v), "key %s missing or not a number", key);
    return json_number_value(v);
}

static void check_level(json_t *l, int concurrency)
{
    CHECK_EQ_INT(num(l, "concurrency"), concurrency);
    CHECK(num(l, "aggregate_tokens_per_s") > 0 && num(l, "per_request_tokens_per_s") > 0);
    CHECK(num(l, "ttft_p50_s") > 0 && num(l, "ttft_p50_s") <= num(l, "ttft_p95_s") &&
          num(l, "ttft_p95_s") <= num(l, "ttft_p99_s"));
    CHECK(num(l, "itl_p50_s") > 0 && num(l, "itl_p50_s") <= num(l, "itl_p95_s") &&
          num(l, "itl_p95_s") <= num(l, "itl_p99_s"));
}

TEST(cli_benchmark_json)
{
    const char *bin = xllm_bin();
    char cmd[512];
    json_t *o, *levels;
    double bpt, mb;
    if (!bin)
        return;
    snprintf(cmd, sizeof cmd, "%s benchmark %s " SMALL_BENCH " --json", bin, DEMO_GGUF);
    if (!(o = run_json(cmd)))
        return;
    CHECK(num(o, "prefill_tokens_per_s") > 0);
    CHECK(num(o, "decode_tokens_per_s") > 0);
    CHECK(num(o, "memory_bandwidth_bytes_per_s") > 1e8);
    CHECK_EQ_INT(num(o, "threads"), 1);
    CHECK_EQ_INT(num(o, "prompt_tokens"), 16);
    CHECK_EQ_INT(num(o, "gen_tokens"), 4);
    /* the demo model: 16.8 MB of tensors, output head tied to the embedding,
     * so a decode step reads every matrix (all but the f32 norm vectors) */
    mb = num(o, "model_bytes");
    bpt = num(o, "decode_bytes_per_token");
    CHECK(mb > 16e6 && mb < 17.2e6);
    CHECK(bpt > 0.95 * mb && bpt <= mb);
    CHECK_NEAR(num(o, "decode_roofline_ratio"),
               num(o, "decode_tokens_per_s") / (num(o, "memory_bandwidth_bytes_per_s") / bpt),
               1e-6 * num(o, "decode_roofline_ratio"));
    CHECK(num(o, "decode_roofline_ratio") > 0);
    CHECK(num(o, "ttft_seconds") > 0 && num(o, "load_seconds") > 0);
    CHECK(num(o, "rss_bytes") > mb / 2 && num(o, "peak_rss_bytes") >= num(o, "rss_bytes"));
    CHECK(num(o, "other_cpu_share") >= 0 && num(o, "other_cpu_share") <= 1);
    levels = json_object_get(o, "concurrency");
    CHECK_EQ_INT(json_array_size(levels), 2);
    if (json_array_size(levels) == 2) {
        check_level(json_array_get(levels, 0), 1);
        check_level(json_array_get(levels, 1), 3);
    }
    json_decref(o);
}

/* --json-schema: each level twice, the second constrained, both generating
 * the full budget (documents repeat until it; end tokens banned). */
TEST(cli_benchmark_json_schema)
{
    const char *bin = xllm_bin();
    char cmd[512];
    json_t *o, *levels;
    int rc;
    if (!bin)
        return;
    snprintf(cmd, sizeof cmd,
             "%s benchmark %s --prompt-tokens 16 --gen-tokens 40 --repeats 1 --concurrency 3 --threads 1 "
             "--bandwidth-mib 8 --quiet --json --json-schema bench/schemas/typical.json",
             bin, DEMO_GGUF);
    if (!(o = run_json(cmd)))
        return;
    CHECK_EQ_STR(json_string_value(json_object_get(o, "grammar")), "bench/schemas/typical.json");
    levels = json_object_get(o, "concurrency");
    CHECK_EQ_INT(json_array_size(levels), 2);
    for (size_t i = 0; i < json_array_size(levels) && i < 2; i++) {
        json_t *l = json_array_get(levels, i);
        check_level(l, 3);
        CHECK_EQ_INT(json_is_true(json_object_get(l, "constrained")), (int)i);
        CHECK_EQ_INT(num(l, "generated_tokens"), 120);
        CHECK(num(l, "steps") >= 40 && num(l, "scheduler_per_step_s") > 0 &&
              num(l, "scheduler_per_step_s") < num(l, "step_mean_s"));
    }
    json_decref(o);
    snprintf(cmd, sizeof cmd, "%s benchmark %s --quiet --json-schema %s 2>&1", bin, DEMO_GGUF, HELDOUT);
    char *out = run_capture(cmd, &rc);
    CHECK(rc != 0 && out && strstr(out, HELDOUT));
    free(out);
}

TEST(cli_benchmark_prometheus_report_text)
{
    const char *bin = xllm_bin();
    char cmd[512], err[256], *out;
    int rc;
    if (!bin)
        return;
    snprintf(cmd, sizeof cmd, "%s benchmark %s " SMALL_BENCH " --prometheus", bin, DEMO_GGUF);
    out = run_capture(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && prom_check(out, "xllm_bench_", err, sizeof err) == 0, "%s", out ? err : "no output");
    CHECK(out && strstr(out, "\nxllm_bench_decode_roofline_ratio{model=\"" DEMO_GGUF "\"} "));
    CHECK(out && strstr(out, "xllm_bench_level_inter_token_seconds{model=\"" DEMO_GGUF "\",concurrency=\"3\","
                             "quantile=\"0.95\"} "));
    free(out);
    snprintf(cmd, sizeof cmd, "%s benchmark %s " SMALL_BENCH " --report", bin, DEMO_GGUF);
    out = run_capture(cmd, &rc);
    CHECK(rc == 0 && out && strstr(out, "| decode roofline ratio |") && strstr(out, "\n| 3 | "));
    free(out);
    snprintf(cmd, sizeof cmd, "%s benchmark %s " SMALL_BENCH " --concurrency ''", bin, DEMO_GGUF);
    out = run_capture(cmd, &rc);
    CHECK(rc == 0 && out && strstr(out, "decode:") && strstr(out, "roofline:") && !strstr(out, "concurrency"));
    free(out);
}

TEST(cli_measure_usage_errors)
{
    const char *bin = xllm_bin();
    static const char *const bad[] = {
        "benchmark " DEMO_GGUF " --gen-tokens 1",
        "benchmark " DEMO_GGUF " --concurrency 1,0",
        "benchmark " DEMO_GGUF " --concurrency 1,x",
        "benchmark " DEMO_GGUF " --json --prometheus",
        "benchmark",
        "profile " DEMO_GGUF " --num-predict 1",
        "compare " DEMO_GGUF,
        "compare " DEMO_GGUF " " DEMO_GGUF " --ppl-stride -2",
    };
    char cmd[512];
    int rc;
    if (!bin)
        return;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", bin, bad[i]);
        free(run_capture(cmd, &rc));
        CHECK_MSG(rc == 2, "'%s': exit %d, want 2", bad[i], rc);
    }
    for (int i = 0; i < 3; i++) {
        char *out;
        snprintf(cmd, sizeof cmd, "%s %s --help", bin, (const char *[]){"benchmark", "profile", "compare"}[i]);
        out = run_capture(cmd, &rc);
        CHECK(rc == 0 && out && strstr(out, "Usage: xllm "));
        free(out);
    }
    snprintf(cmd, sizeof cmd, "%s profile tests/fixtures/missing.gguf 2>&1", bin);
    {
        char *out = run_capture(cmd, &rc);
        CHECK(rc == 1 && out && strstr(out, "missing.gguf"));
        free(out);
    }
}

TEST(cli_profile_json)
{
    const char *bin = xllm_bin();
    char cmd[512];
    json_t *o;
    if (!bin)
        return;
    snprintf(cmd, sizeof cmd,
             "%s profile %s --prompt 'And the LORD said unto Moses,' --num-predict 4 --threads 1 --json", bin,
             DEMO_GGUF);
    if (!(o = run_json(cmd)))
        return;
    CHECK_EQ_INT(num(o, "prompt_tokens"), 8); /* <|bos|> + 7, as reference.json has them */
    CHECK_EQ_INT(num(o, "gen_tokens"), 4);
    CHECK_EQ_INT(num(o, "decode_steps"), 3);
    CHECK(num(o, "load_seconds") > 0 && num(o, "ttft_seconds") > 0 && num(o, "ttft_cold_seconds") > 0);
    CHECK(num(o, "prefill_tokens_per_s") > 0 && num(o, "decode_tokens_per_s") > 0);
    CHECK(num(o, "rss_after_load_bytes") > num(o, "rss_before_load_bytes"));
    CHECK(num(o, "peak_rss_bytes") >= num(o, "rss_bytes") && num(o, "rss_bytes") > 0);
    json_decref(o);
}

/* A model against itself: the same outputs and the same perplexity. */
TEST(cli_compare_self)
{
    const char *bin = xllm_bin();
    char cmd[512], dir[] = "/tmp/xllm-compare-XXXXXX", path[64], text[64], *out;
    json_t *o, *models, *prompts;
    FILE *f;
    int rc;
    if (!bin || !mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/prompts.txt", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("And the LORD said unto Moses,\n\nBlessed are the\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s compare %s %s --prompts %s --text " HELDOUT " --ctx 128 --num-predict 8 --threads 1 "
             "--quiet --json", bin, DEMO_GGUF, DEMO_GGUF, path);
    if ((o = run_json(cmd)) != NULL) {
        json_t *a, *b;
        models = json_object_get(o, "models");
        prompts = json_object_get(o, "prompts");
        a = json_object_get(json_array_get(models, 0), "perplexity");
        b = json_object_get(json_array_get(models, 1), "perplexity");
        CHECK(json_is_true(json_object_get(o, "shared_vocabulary")));
        CHECK_EQ_INT(num(json_object_get(o, "perplexity_rule"), "window"), 128);
        CHECK_EQ_INT(num(json_object_get(o, "perplexity_rule"), "stride"), 64);
        CHECK(num(a, "value") == num(b, "value"));
        /* held-out verses: the model card's held-out split scores 45.4 */
        CHECK_MSG(num(a, "value") > 10 && num(a, "value") < 200, "held-out perplexity %.2f", num(a, "value"));
        CHECK(num(a, "scored_tokens") == num(a, "windows") * 64 && num(a, "windows") >= 3);
        CHECK(num(a, "bits_per_byte") > 0.5 && num(a, "bits_per_byte") < 4);
        CHECK_EQ_INT(json_array_size(prompts), 2);
        for (size_t i = 0; i < json_array_size(prompts); i++) {
            json_t *p = json_array_get(prompts, i), *outs = json_object_get(p, "outputs");
            CHECK(json_is_true(json_object_get(p, "identical")) && json_is_null(json_object_get(p, "diverge_token")));
            CHECK_EQ_STR(json_string_value(json_array_get(outs, 0)), json_string_value(json_array_get(outs, 1)));
        }
        /* reference.json: greedy after "And the LORD said unto Moses," starts " Go up, and get thee" */
        CHECK(strncmp(json_string_value(json_array_get(json_object_get(json_array_get(prompts, 0), "outputs"), 0)),
                      " Go up, and get thee", 20) == 0);
        json_decref(o);
    }
    /* text form, on a one-verse text: the default window shrinks to half the text (36 tokens) */
    snprintf(text, sizeof text, "%s/verse.txt", dir);
    f = fopen(text, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("And he shewed me a pure river of water of life, clear as crystal, proceeding out of the throne of "
              "God and of the Lamb.\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s compare %s %s --prompts %s --text %s --num-predict 4 --threads 1 --quiet", bin,
             DEMO_GGUF, DEMO_GGUF, path, text);
    out = run_capture(cmd, &rc);
    CHECK(rc == 0 && out && strstr(out, "vocabulary: shared") && strstr(out, "\"Blessed are the\": identical"));
    CHECK(out && strstr(out, "perplexity: windows of 18 tokens, stride 9"));
    free(out);
    remove(text);
    remove(path);
    rmdir(dir);
}

/* XLLM_CPU_ISA forces a kernel family: the benchmark reports it, the scalar
 * path gives the same greedy text as the best one (the demo model's F16
 * weights), and an unknown name is refused with a message. */
TEST(cli_cpu_isa_override)
{
    const char *bin = xllm_bin();
    char cmd[1024], *best, *scalar, *bad;
    json_t *o;
    int rc;
    if (!bin)
        return;
    snprintf(cmd, sizeof cmd,
             "XLLM_CPU_ISA=scalar %s benchmark %s --prompt-tokens 8 --gen-tokens 2 --repeats 1 --concurrency '' "
             "--quiet --json 2>/dev/null",
             bin, DEMO_GGUF);
    o = run_json(cmd);
    CHECK(o && !strcmp(json_string_value(json_object_get(o, "kernels")), "scalar"));
    json_decref(o);
    snprintf(cmd, sizeof cmd, "%s run %s 'In the beginning' --temperature 0 --num-predict 12 2>/dev/null", bin,
             DEMO_GGUF);
    best = run_capture(cmd, &rc);
    snprintf(cmd, sizeof cmd, "XLLM_CPU_ISA=scalar %s run %s 'In the beginning' --temperature 0 --num-predict 12 "
             "2>/dev/null", bin, DEMO_GGUF);
    scalar = run_capture(cmd, &rc);
    CHECK(best && scalar && best[0] && !strcmp(best, scalar));
    snprintf(cmd, sizeof cmd, "XLLM_CPU_ISA=sse9 %s show %s 2>&1", bin, DEMO_GGUF);
    bad = run_capture(cmd, &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK(bad && strstr(bad, "XLLM_CPU_ISA=sse9") != NULL);
    free(best);
    free(scalar);
    free(bad);
}
