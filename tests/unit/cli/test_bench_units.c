/* test_bench_units.c - the pieces of the measuring commands that need no
 * model: percentiles, the progress line, the benchmark report printers
 * (Prometheus checked with prom_check.h, JSON parsed back with jansson), and
 * where two outputs part. */
#include <jansson.h>
#include <stdlib.h>

#include "../test.h"
#include "cli/bench_report.h"
#include "cli/compare_diff.h"
#include "cli/progress.h"
#include "prom_check.h"

TEST(bench_percentiles)
{
    double v[5] = {5, 1, 4, 2, 3}, e[4] = {4, 1, 3, 2}, one[1] = {7};
    CHECK_NEAR(xllm_percentile(v, 5, 50), 3, 0);
    CHECK_NEAR(xllm_percentile(v, 5, 0), 1, 0);
    CHECK_NEAR(xllm_percentile(v, 5, 100), 5, 0);
    CHECK_NEAR(xllm_percentile(v, 5, 25), 2, 0);
    CHECK_NEAR(xllm_percentile(v, 5, 95), 4.8, 1e-12);  /* numpy.percentile(..., 95) */
    CHECK_NEAR(xllm_percentile(v, 5, 99), 4.96, 1e-12);
    CHECK_NEAR(xllm_percentile(v, 5, -10), 1, 0);       /* clamped */
    CHECK_NEAR(xllm_percentile(v, 5, 250), 5, 0);
    CHECK_NEAR(xllm_median(e, 4), 2.5, 0);
    CHECK_NEAR(xllm_percentile(one, 1, 99), 7, 0);
    CHECK_NEAR(xllm_percentile(one, 0, 50), 0, 0);
    CHECK(v[0] == 1 && v[4] == 5); /* sorted in place */
}

TEST(progress_line_format)
{
    xllm_progress p;
    char buf[256];
    xllm_progress_begin(&p, "perplexity", "tokens", 200, 1);
    p.done = 50;
    xllm_progress_format(&p, 2.0, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "perplexity  25% [======>") != NULL, "%s", buf);
    CHECK_MSG(strstr(buf, "] 50/200 tokens  25.0 tokens/s  ETA 0:06") != NULL, "%s", buf);
    p.done = 200;
    xllm_progress_format(&p, 4.0, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "100% [========================]") && !strstr(buf, "ETA"), "%s", buf);

    xllm_progress_begin(&p, "pulling", "B", 2000000000ull, 1);
    p.done = 500000000ull;
    xllm_progress_format(&p, 10.0, buf, sizeof buf);
    CHECK_MSG(strstr(buf, " 25% [") && strstr(buf, "] 500.0 MB/2.0 GB  50.0 MB/s  ETA 0:30"), "%s", buf);

    xllm_progress_begin(&p, "counting", "tokens", 0, 1); /* unknown total: count and rate only */
    p.done = 1234;
    xllm_progress_format(&p, 1.0, buf, sizeof buf);
    CHECK_EQ_STR(buf, "counting 1234 tokens  1234 tokens/s");
    CHECK(xllm_progress_format(&p, 1.0, buf, 8) == 7 && strlen(buf) == 7); /* truncated, terminated */
}

/* A report with values of every kind and label text that needs escaping. */
static void sample_report(xllm_bench_report *r)
{
    memset(r, 0, sizeof *r);
    r->model = "models/we\"ird\\name\nx.gguf";
    r->arch = "llama";
    r->quant = "Q4_0";
    r->kernels = "avx2";
    r->cpu = "CPU \"X\" 3.0GHz";
    r->prompt_source = "random token ids";
    r->concurrency_mode = "batched";
    r->threads = 2;
    r->cpus = 2;
    r->prompt_tokens = 16;
    r->gen_tokens = 4;
    r->repeats = 1;
    r->prefill_tps = 1234.5;
    r->decode_tps = 20.25;
    r->model_bytes = 637655968ull;
    r->decode_bytes_per_token = 600000000ull;
    r->bandwidth = 1.5e10;
    r->decode_roofline_ratio = 0.81;
    r->n_levels = 2;
    r->levels[0] = (xllm_bench_level){1, 2.0, 20, 20, 0.1, 0.1, 0.1, 0.05, 0.06, 0.07, 0, 6, 0, 0, 0.01};
    r->levels[1] = (xllm_bench_level){4, 3.0, 60, 15, 0.3, 0.4, 0.45, 0.06, 0.08, 0.09, 0, 24, 3, 1, 0.01};
}

static char *print_to_string(void (*print)(FILE *, const xllm_bench_report *), const xllm_bench_report *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    print(f, r);
    fclose(f);
    return text;
}

TEST(bench_prometheus_format)
{
    xllm_bench_report r;
    char err[256], *text;
    sample_report(&r);
    text = print_to_string(xllm_bench_print_prometheus, &r);
    CHECK(text != NULL);
    CHECK_MSG(text && prom_check(text, "xllm_bench_", err, sizeof err) == 0, "%s", err);
    CHECK(text && strstr(text, "model=\"models/we\\\"ird\\\\name\\nx.gguf\""));
    CHECK(text && strstr(text, "xllm_bench_level_ttft_seconds{model=") && strstr(text, ",concurrency=\"4\","
                                                                                       "quantile=\"0.99\"} 0.45\n"));
    CHECK(text && strstr(text, "xllm_bench_model_bytes{") && strstr(text, "} 637655968\n"));
    free(text);
}

/* The checker itself must reject what the format forbids. */
TEST(bench_prometheus_checker_rejects)
{
    static const char *const bad[] = {
        "# TYPE xllm_bench_a gauge\nxllm_bench_a 1\n",                                   /* no HELP */
        "# HELP xllm_bench_a h\nxllm_bench_a 1\n",                                       /* no TYPE */
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a 1",              /* no final newline */
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a{m=\"x} 1\n",    /* unterminated */
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a{m=\"\\x\"} 1\n", /* bad escape */
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a{m=\"1\",m=\"2\"} 1\n",
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a{__m=\"1\"} 1\n",
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a one\n",
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a nan\n",
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\nxllm_bench_a 1\nxllm_bench_a 2\n", /* repeated */
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gaug\nxllm_bench_a 1\n",
        "# HELP xllm_bench_a h\n# TYPE xllm_bench_a gauge\n# HELP xllm_bench_b h\n# TYPE xllm_bench_b gauge\n"
        "xllm_bench_a{x=\"1\"} 1\nxllm_bench_b 1\nxllm_bench_a{x=\"2\"} 1\n",          /* interleaved */
        "# HELP other_a h\n# TYPE other_a gauge\nother_a 1\n",                           /* prefix */
        "# HELP xllm_bench-a h\n# TYPE xllm_bench-a gauge\nxllm_bench-a 1\n",
    };
    const char *good = "# HELP xllm_bench_a h \\\\ \\n\n# TYPE xllm_bench_a gauge\n\n# plain comment\n"
                       "xllm_bench_a{x=\"a\\\"b\\\\c\\n\",y=\"\",} +Inf 1700000000000\nxllm_bench_a -1.5e-3\n";
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(prom_check(bad[i], "xllm_bench_", err, sizeof err) != 0, "accepted bad case %zu", i);
    CHECK_MSG(prom_check(good, "xllm_bench_", err, sizeof err) == 0, "%s", err);
}

TEST(bench_json_and_markdown)
{
    xllm_bench_report r;
    json_error_t jerr;
    json_t *o, *levels;
    char *text, *md;
    sample_report(&r);
    r.ttft_seconds = NAN; /* not finite: must come out as null, not break the JSON */
    text = print_to_string(xllm_bench_print_json, &r);
    o = text ? json_loads(text, 0, &jerr) : NULL;
    CHECK_MSG(o != NULL, "JSON does not parse: %s", o ? "" : jerr.text);
    CHECK(json_is_null(json_object_get(o, "ttft_seconds")));
    CHECK_NEAR(json_real_value(json_object_get(o, "decode_roofline_ratio")), 0.81, 1e-9);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "model_bytes")), 637655968);
    levels = json_object_get(o, "concurrency");
    CHECK_EQ_INT(json_array_size(levels), 2);
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(levels, 1), "itl_p99_s")), 0.09, 1e-12);
    md = print_to_string(xllm_bench_print_markdown, &r);
    CHECK(md && strstr(md, "| 4 | 60.00 | 15.00 |"));
    json_decref(o);
    free(text);
    free(md);
}

TEST(compare_divergence)
{
    const int32_t a[] = {1, 2, 3}, b[] = {1, 2, 4}, c[] = {1, 2};
    cli_divergence d;
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    cli_diverge("ab cd", 5, a, 3, "ab cd", 5, a, 3, 1, &d);
    CHECK(d.identical && d.token == -1 && d.byte == (size_t)-1);
    cli_diverge("ab cd", 5, a, 3, "ab ce", 5, b, 3, 1, &d);
    CHECK(!d.identical && d.token == 2 && d.byte == 4);
    cli_diverge("ab", 2, c, 2, "ab cd", 5, a, 3, 1, &d); /* one output stops early */
    CHECK(!d.identical && d.token == 2 && d.byte == 2);
    /* without a shared vocabulary only texts count; the byte backs up to a character start */
    cli_diverge("x\xc3\xa9", 3, a, 3, "x\xc3\xa8", 3, c, 2, 0, &d);
    CHECK(!d.identical && d.token == -1 && d.byte == 1);
    cli_diverge("same", 4, a, 3, "same", 4, c, 2, 0, &d);
    CHECK(d.identical);
    f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    cli_print_side_by_side(f, "  ", "one\ntwo three", "one\ntwo four", 8, 8);
    fclose(f);
    CHECK_EQ_STR(text, "  one\xe2\x86\xb5two  | one\xe2\x86\xb5two \n"
                       "  \xc2\xbbthree   | \xc2\xbb" "four\n");
    free(text);
    /* wide characters take two columns: 8 columns hold four CJK ideographs */
    f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    cli_print_side_by_side(f, "", "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97" "ab", "x", (size_t)-1, 8);
    fclose(f);
    CHECK_EQ_STR(text, "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97 | x\nab       | \n");
    free(text);
}
