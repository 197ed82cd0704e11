/* cmd_run.c - `xllm run MODEL [PROMPT]`: in-process text continuation. With a
 * prompt (or text on a non-terminal stdin) it prints one continuation; on a
 * terminal without a prompt it asks for prompts in a loop. The prompt is used
 * raw (no chat template yet). Generation goes through the scheduler, as in
 * the runner. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/instance.h"
#include "runtime/sampler.h"

typedef struct run_opts {
    double temperature, top_p, min_p, repeat_penalty;
    int top_k, seed, num_predict, threads, ctx, verbose;
    const char *kv_type;
    const char *device;
} run_opts;

static void print_event(void *user, const xllm_gen_event *ev)
{
    xllm_gen_event *last = user;
    if (ev->type == XLLM_EVENT_TOKEN && ev->text_len) {
        fwrite(ev->text, 1, ev->text_len, stdout);
        fflush(stdout);
    }
    if (ev->type == XLLM_EVENT_FINAL)
        *last = *ev;
}

/* Generate from prompt through the scheduler; prints text as it completes. */
static xllm_status generate(xllm_instance *in, const run_opts *o, const char *prompt)
{
    xllm_status rc;
    int32_t *toks = NULL;
    size_t n = 0;
    xllm_gen_params g = xllm_gen_params_default();
    xllm_gen_event fin;
    memset(&fin, 0, sizeof fin);
    g.sampling = xllm_sampler_defaults();
    g.sampling.temperature = (float)o->temperature;
    g.sampling.top_k = o->top_k;
    g.sampling.top_p = (float)o->top_p;
    g.sampling.min_p = (float)o->min_p;
    g.sampling.repeat_penalty = (float)o->repeat_penalty;
    g.sampling.seed = o->seed >= 0 ? (uint64_t)o->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    g.max_tokens = o->num_predict;
    if ((rc = xllm_tokenize(in->tok, prompt, strlen(prompt), 1, 1, &toks, &n)) != XLLM_OK)
        goto out;
    if ((rc = xllm_sched_submit(in->sched, toks, (int32_t)n, &g, print_event, &fin, NULL)) != XLLM_OK)
        goto out;
    while (rc == XLLM_OK && !xllm_sched_idle(in->sched))
        rc = xllm_sched_step(in->sched);
    putchar('\n');
    fflush(stdout);
    if (rc == XLLM_OK && fin.finish == XLLM_FINISH_ERROR)
        rc = xllm_fail(XLLM_ERR_INTERNAL, "%s", fin.error ? fin.error : "generation failed");
    if (rc == XLLM_OK && o->verbose)
        fprintf(stderr, "prompt %d tokens (%d cached), %d generated, finish %s; prefill %.1f ms, decode %.1f tok/s\n",
                fin.n_prompt, fin.n_cached, fin.n_generated, xllm_finish_str(fin.finish), fin.t.prefill_ns / 1e6,
                fin.t.decode_ns ? (fin.n_generated - 1) * 1e9 / (double)fin.t.decode_ns : 0.0);
out:
    xllm_free(toks);
    return rc;
}

static int read_stdin(xllm_buf *b)
{
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (xllm_buf_append(b, chunk, got) != XLLM_OK)
            return -1;
    return 0;
}

static int repl(xllm_instance *m, const run_opts *o)
{
    char line[8192];
    for (;;) {
        fputs(">>> ", stdout);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
            break;
        line[strcspn(line, "\n")] = 0;
        if (!strcmp(line, "/bye"))
            break;
        if (!line[0])
            continue;
        xllm_status st = generate(m, o, line);
        if (st != XLLM_OK)
            cli_error("run", st);
    }
    putchar('\n');
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {0.8, 0.9, 0.0, 1.1, 40, -1, -1, 0, 0, 0, NULL, NULL};
    const char *pos[2];
    int n_pos = 0, rc;
    xllm_instance *m = NULL;
    xllm_instance_params ip = xllm_instance_params_default();
    xllm_buf in;
    xllm_status st;
    const xllm_opt opts[] = {
        {"temperature", XLLM_OPT_FLOAT, &o.temperature, "sampling temperature, 0 = greedy (default 0.8)"},
        {"top-k", XLLM_OPT_INT, &o.top_k, "keep the k most likely tokens, 0 = off (default 40)"},
        {"top-p", XLLM_OPT_FLOAT, &o.top_p, "nucleus sampling mass (default 0.9)"},
        {"min-p", XLLM_OPT_FLOAT, &o.min_p, "drop tokens below min-p times the top probability (default 0)"},
        {"repeat-penalty", XLLM_OPT_FLOAT, &o.repeat_penalty, "penalty for recent tokens (default 1.1)"},
        {"seed", XLLM_OPT_INT, &o.seed, "random seed (default: from the clock)"},
        {"num-predict", XLLM_OPT_INT, &o.num_predict, "tokens to generate, -1 = until the end (default -1)"},
        CLI_OPT_THREADS(o.threads),
        CLI_OPT_CTX(o.ctx),
        CLI_OPT_KV_TYPE(o.kv_type),
        CLI_OPT_DEVICE(o.device),
        {"verbose", XLLM_OPT_FLAG, &o.verbose, "print token counts and speed to stderr"},
    };
    rc = xllm_args_parse(argc, argv, opts, 11, pos, 2, &n_pos, "MODEL [PROMPT] [options]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos < 1) {
        fprintf(stderr, "xllm run: need MODEL (a .gguf file or a Hugging Face directory)\n");
        return 2;
    }
    if (o.temperature < 0 || o.temperature > 2 || o.top_p <= 0 || o.top_p > 1 || o.min_p < 0 || o.min_p > 1 ||
        o.top_k < 0) {
        fprintf(stderr, "xllm run: temperature must be 0..2, top-p in (0,1], min-p in [0,1], top-k >= 0\n");
        return 2;
    }
    ip.model_path = pos[0];
    ip.n_threads = o.threads;
    ip.device = o.device;
    ip.n_ctx = o.ctx;
    ip.sched.max_running = 1;
    if ((st = cli_kv_type_parse(o.kv_type, &ip.kv_type)) != XLLM_OK || (st = xllm_instance_open(&ip, &m)) != XLLM_OK)
        return cli_error("run", st);
    if (!m->sched) {
        xllm_instance_close(m);
        fprintf(stderr, "xllm run: %s is an embedding model; use xllm embed\n", pos[0]);
        return 1;
    }
    rc = 0;
    if (n_pos == 2) {
        st = generate(m, &o, pos[1]);
    } else if (!isatty(0)) {
        xllm_buf_init(&in, 64u << 20);
        st = read_stdin(&in) == 0 ? generate(m, &o, in.data ? in.data : "")
                                  : xllm_fail(XLLM_ERR_LIMIT, "standard input is larger than 64 MiB");
        xllm_buf_free(&in);
    } else {
        rc = repl(m, &o);
        st = XLLM_OK;
    }
    if (st != XLLM_OK)
        rc = cli_error("run", st);
    xllm_instance_close(m);
    return rc;
}
