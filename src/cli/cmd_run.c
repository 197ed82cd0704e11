/* cmd_run.c - `xllm run MODEL [PROMPT]`: in-process text continuation. With a
 * prompt (or text on a non-terminal stdin) it prints one continuation; on a
 * terminal without a prompt it asks for prompts in a loop. The prompt is used
 * raw (no chat template yet). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"
#include "runtime/sampler.h"

typedef struct run_opts {
    double temperature, top_p, min_p, repeat_penalty;
    int top_k, seed, num_predict, threads, ctx, verbose;
} run_opts;

/* Generate from prompt; prints text as it completes. */
static xllm_status generate(cli_model *m, const run_opts *o, const char *prompt)
{
    xllm_status rc;
    int32_t *toks = NULL, n_vocab = xllm_session_n_vocab(m->session), next;
    size_t n = 0, len;
    float *logits = NULL;
    xllm_sampler *smp = NULL;
    xllm_detok *dt = NULL;
    xllm_sampler_params sp = xllm_sampler_defaults();
    const char *piece;
    int produced = 0, limit;
    sp.temperature = (float)o->temperature;
    sp.top_k = o->top_k;
    sp.top_p = (float)o->top_p;
    sp.min_p = (float)o->min_p;
    sp.repeat_penalty = (float)o->repeat_penalty;
    sp.seed = o->seed >= 0 ? (uint64_t)o->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    xllm_session_reset(m->session);
    rc = xllm_tokenize(m->tok, prompt, strlen(prompt), 1, 1, &toks, &n);
    if (rc != XLLM_OK)
        goto out;
    if (n == 0 || (int64_t)n >= xllm_session_n_ctx(m->session)) {
        rc = xllm_fail(XLLM_ERR_LIMIT, "the prompt is %zu tokens; the context holds %d", n,
                       xllm_session_n_ctx(m->session));
        goto out;
    }
    logits = xllm_malloc(sizeof(float) * (size_t)n_vocab);
    if (!logits) {
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    if ((rc = xllm_sampler_new(&sp, n_vocab, &smp)) != XLLM_OK || (rc = xllm_detok_new(m->tok, 0, &dt)) != XLLM_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        xllm_sampler_accept(smp, toks[i]);
    rc = xllm_session_eval(m->session, toks, (int32_t)n, 0, logits);
    limit = xllm_session_n_ctx(m->session) - (int)n;
    if (o->num_predict >= 0 && o->num_predict < limit)
        limit = o->num_predict;
    while (rc == XLLM_OK && produced < limit) {
        next = xllm_sampler_sample(smp, logits);
        if (xllm_tokenizer_is_eog(m->tok, next))
            break;
        xllm_sampler_accept(smp, next);
        produced++;
        if ((rc = xllm_detok_push(dt, next, &piece, &len)) != XLLM_OK)
            break;
        fwrite(piece, 1, len, stdout);
        fflush(stdout);
        if (produced < limit)
            rc = xllm_session_eval(m->session, &next, 1, 0, logits);
    }
    if (rc == XLLM_OK && (rc = xllm_detok_flush(dt, &piece, &len)) == XLLM_OK)
        fwrite(piece, 1, len, stdout);
    putchar('\n');
out:
    xllm_free(toks);
    xllm_free(logits);
    xllm_sampler_free(smp);
    xllm_detok_free(dt);
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

static int repl(cli_model *m, const run_opts *o)
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
    run_opts o = {0.8, 0.9, 0.0, 1.1, 40, -1, -1, 0, 0, 0};
    const char *pos[2];
    int n_pos = 0, rc;
    cli_model m = {0};
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
    };
    rc = xllm_args_parse(argc, argv, opts, 9, pos, 2, &n_pos, "MODEL [PROMPT] [options]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos < 1) {
        fprintf(stderr, "xllm run: need MODEL (a store name, a .gguf file or a Hugging Face directory)\n");
        return 2;
    }
    if (o.temperature < 0 || o.temperature > 2 || o.top_p <= 0 || o.top_p > 1 || o.min_p < 0 || o.min_p > 1 ||
        o.top_k < 0) {
        fprintf(stderr, "xllm run: temperature must be 0..2, top-p in (0,1], min-p in [0,1], top-k >= 0\n");
        return 2;
    }
    {
        char *path = NULL;
        st = cli_model_path(pos[0], &path);
        if (st == XLLM_OK)
            st = cli_model_open(path, o.threads, o.ctx, 1, &m);
        xllm_free(path);
    }
    if (st != XLLM_OK)
        return cli_error("run", st);
    rc = 0;
    if (n_pos == 2) {
        st = generate(&m, &o, pos[1]);
    } else if (!isatty(0)) {
        xllm_buf_init(&in, 64u << 20);
        st = read_stdin(&in) == 0 ? generate(&m, &o, in.data ? in.data : "")
                                  : xllm_fail(XLLM_ERR_LIMIT, "standard input is larger than 64 MiB");
        xllm_buf_free(&in);
    } else {
        rc = repl(&m, &o);
        st = XLLM_OK;
    }
    if (st != XLLM_OK)
        rc = cli_error("run", st);
    cli_model_close(&m);
    return rc;
}
