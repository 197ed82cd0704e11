/* cmd_run.c - `xllm run MODEL [PROMPT]`, as `ollama run`: a model name is
 * served by the xllm server at XLLM_HOST (started in the background when none
 * answers); a local file or Hugging Face directory runs in-process through
 * the same scheduler. With a prompt (or text on a non-terminal stdin) it
 * answers once; on a terminal it opens the REPL (repl.c). Models with a chat
 * template are chatted with; others continue the text as given. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "cli/api_client.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/repl.h"
#include "cli/run_chat.h"

typedef struct run_opts {
    const char *temperature, *top_k, *top_p, *min_p, *repeat_penalty, *seed, *num_predict;
    int threads, ctx, verbose, raw;
    const char *kv_type;
} run_opts;

static int read_stdin(xllm_buf *b)
{
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (xllm_buf_append(b, chunk, got) != XLLM_OK)
            return -1;
    return 0;
}

/* Options given on the command line become session parameters (Ollama names). */
static xllm_status apply_options(run_chat *c, const run_opts *o)
{
    const struct {
        const char *name, *value;
    } set[] = {{"temperature", o->temperature}, {"top_k", o->top_k},   {"top_p", o->top_p},
               {"min_p", o->min_p},             {"repeat_penalty", o->repeat_penalty},
               {"seed", o->seed},               {"num_predict", o->num_predict}};
    xllm_status st = XLLM_OK;
    char ctx[16];
    for (size_t i = 0; i < sizeof set / sizeof set[0] && st == XLLM_OK; i++)
        if (set[i].value)
            st = run_chat_set_option(c, set[i].name, set[i].value);
    snprintf(ctx, sizeof ctx, "%d", o->ctx);
    if (st == XLLM_OK && o->ctx > 0)
        st = run_chat_set_option(c, "num_ctx", ctx);
    return st;
}

static xllm_status open_chat(run_chat *c, const char *model, const run_opts *o, int32_t kv_type)
{
    char self[4096];
    ssize_t n;
    if (!xllm_path_exists(model)) {
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return xllm_fail(XLLM_ERR_IO, "cannot find the xllm binary to start a server");
        self[n] = 0;
        xllm_status st = cli_api_ensure_server(self);
        if (st != XLLM_OK)
            return st;
    }
    return run_chat_open(c, model, o->threads, o->ctx, kv_type);
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    const char *pos[2];
    int n_pos = 0, rc;
    int32_t kv_type;
    run_chat c;
    xllm_buf in;
    xllm_status st;
    memset(&o, 0, sizeof o);
    const xllm_opt opts[] = {
        {"temperature", XLLM_OPT_STR, &o.temperature, "sampling temperature, 0 = greedy (default 0.8)"},
        {"top-k", XLLM_OPT_STR, &o.top_k, "keep the k most likely tokens, 0 = off (default 40)"},
        {"top-p", XLLM_OPT_STR, &o.top_p, "nucleus sampling mass (default 0.9)"},
        {"min-p", XLLM_OPT_STR, &o.min_p, "drop tokens below min-p times the top probability (default 0)"},
        {"repeat-penalty", XLLM_OPT_STR, &o.repeat_penalty, "penalty for recent tokens (default 1.1)"},
        {"seed", XLLM_OPT_STR, &o.seed, "random seed (default: from the clock)"},
        {"num-predict", XLLM_OPT_STR, &o.num_predict, "tokens to generate, -1 = until the end (default -1)"},
        CLI_OPT_THREADS(o.threads),
        CLI_OPT_CTX(o.ctx),
        CLI_OPT_KV_TYPE(o.kv_type),
        {"verbose", XLLM_OPT_FLAG, &o.verbose, "print token counts and timings after each answer"},
        {"raw", XLLM_OPT_FLAG, &o.raw, "no chat template: the model continues the text as given"},
    };
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 2, &n_pos,
                         "MODEL [PROMPT] [options]\n\n"
                         "MODEL is a name served by the xllm server at XLLM_HOST (default 127.0.0.1:32769; one\n"
                         "is started in the background when none answers), or a local .gguf file or Hugging Face\n"
                         "directory (run in-process). In the REPL: /? lists the commands.");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos < 1) {
        fprintf(stderr, "xllm run: need MODEL (a model name, a .gguf file or a Hugging Face directory)\n");
        return 2;
    }
    if ((st = cli_kv_type_parse(o.kv_type, &kv_type)) != XLLM_OK)
        return cli_error("run", st);
    if ((st = open_chat(&c, pos[0], &o, kv_type)) != XLLM_OK || (st = apply_options(&c, &o)) != XLLM_OK) {
        run_chat_close(&c);
        return cli_error("run", st);
    }
    c.verbose = o.verbose;
    c.raw = o.raw;
    rc = 0;
    if (n_pos == 2) {
        st = run_chat_turn(&c, pos[1]);
    } else if (!isatty(0)) {
        xllm_buf_init(&in, 64u << 20);
        st = read_stdin(&in) == 0 ? run_chat_turn(&c, in.data ? in.data : "")
                                  : xllm_fail(XLLM_ERR_LIMIT, "standard input is larger than 64 MiB");
        xllm_buf_free(&in);
    } else {
        rc = cli_repl(&c);
        st = XLLM_OK;
    }
    if (st != XLLM_OK)
        rc = cli_error("run", st);
    run_chat_close(&c);
    return rc;
}
