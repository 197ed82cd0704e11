/* cmd_template.c - `xllm template TEMPLATE_FILE CONTEXT.json` and
 * `xllm template --model MODEL [--name NAME] CONTEXT.json`: render a chat template
 * (Jinja2 or Ollama Go dialect) to stdout byte for byte. Every top-level key of
 * CONTEXT.json is a template variable; with --model the model's special tokens
 * (bos_token, eos_token, ...) are added unless the context sets them. The hidden
 * --bench N times the render (best of N, one core; figures in bench/RESULTS.md). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "template/chat_template.h"

static int fail(xllm_status st)
{
    fprintf(stderr, "xllm template: %s: %s\n", xllm_status_str(st), xllm_last_error());
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(const xllm_chat_template *t, const json_t *ctx, int reps)
{
    double best = 1e30, total = 0, *times = xllm_calloc((size_t)reps, sizeof *times);
    xllm_buf out;
    if (!times)
        return fail(xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory"));
    xllm_buf_init(&out, 0);
    for (int r = 0; r < reps; r++) {
        out.len = 0;
        double t0 = now();
        xllm_status st = xllm_chat_template_render(t, ctx, &out);
        double dt = now() - t0;
        if (st) {
            xllm_buf_free(&out);
            xllm_free(times);
            return fail(st);
        }
        times[r] = dt;
        total += dt;
        if (dt < best)
            best = dt;
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    fprintf(stderr, "render: %zu bytes, best %.4f ms, median %.4f ms, mean %.4f ms over %d runs\n", out.len,
            best * 1e3, times[reps / 2] * 1e3, total / reps * 1e3, reps);
    xllm_buf_free(&out);
    xllm_free(times);
    return 0;
}

int cmd_template(int argc, char **argv)
{
    const char *model = NULL, *name = NULL, *pos[2];
    int n_pos = 0, reps = 0, rc = 1;
    const xllm_opt opts[] = {
        {"model", XLLM_OPT_STR, &model, "use this model's chat template and special tokens (GGUF or HF directory)"},
        {"name", XLLM_OPT_STR, &name, "with --model: the named template tokenizer.chat_template.NAME (e.g. tool_use)"},
        {"bench", XLLM_OPT_INT, &reps, "[dev] time the render: best of N runs, output discarded"},
    };
    int prc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 2, &n_pos,
                              "(TEMPLATE_FILE | --model MODEL [--name NAME]) CONTEXT.json");
    if (prc)
        return prc == 1 ? 0 : prc;
    if (n_pos != (model ? 1 : 2) || (name && !model)) {
        fprintf(stderr, "xllm template: give TEMPLATE_FILE CONTEXT.json, or --model MODEL CONTEXT.json\n");
        return 2;
    }
    char *src = NULL, *ctx_text = NULL;
    size_t src_len = 0, ctx_len = 0;
    xllm_gguf *g = NULL;
    xllm_chat_template *t = NULL;
    json_t *ctx = NULL;
    xllm_buf out;
    xllm_status st;
    json_error_t jerr;
    xllm_buf_init(&out, 0);
    if ((st = xllm_read_file(pos[n_pos - 1], XLLM_MAX_JSON_FILE, &ctx_text, &ctx_len))) {
        rc = fail(st);
        goto out;
    }
    ctx = json_loadb(ctx_text, ctx_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(ctx)) {
        if (ctx)
            fprintf(stderr, "xllm template: %s: the context must be a JSON object\n", pos[n_pos - 1]);
        else
            fprintf(stderr, "xllm template: %s:%d:%d: %s\n", pos[n_pos - 1], jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (model) {
        xllm_str s;
        if ((st = cli_open_container(model, &g)) || (st = xllm_chat_template_source(g, name, &s)) ||
            (st = xllm_chat_template_add_special_tokens(g, ctx))) {
            rc = fail(st);
            goto out;
        }
        st = xllm_chat_template_new(s.ptr, s.len, &t);
    } else {
        if ((st = xllm_read_file(pos[0], XLLM_JINJA_MAX_SOURCE, &src, &src_len))) {
            rc = fail(st);
            goto out;
        }
        st = xllm_chat_template_new(src, src_len, &t);
    }
    if (st) {
        rc = fail(st);
        goto out;
    }
    if (reps > 0) {
        rc = bench(t, ctx, reps);
        goto out;
    }
    if ((st = xllm_chat_template_render(t, ctx, &out))) {
        rc = fail(st);
        goto out;
    }
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len) {
        fprintf(stderr, "xllm template: writing stdout failed\n");
        goto out;
    }
    rc = fflush(stdout) ? 1 : 0;
out:
    xllm_buf_free(&out);
    xllm_chat_template_free(t);
    json_decref(ctx);
    xllm_gguf_close(g);
    xllm_free(src);
    xllm_free(ctx_text);
    return rc;
}
