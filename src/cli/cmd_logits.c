/* cmd_logits.c - `xllm logits MODEL --tokens ID,ID,... [--all]`: the model's
 * logits as one JSON object, for checking the engine against other engines. */
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

int cmd_logits(int argc, char **argv)
{
    const char *tokens_arg = NULL, *pos[1];
    int all = 0, threads = 0, n_pos = 0, n_tok = 0, rc;
    int *ids = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    cli_model m = {0};
    xllm_status st;
    const xllm_opt opts[] = {
        {"tokens", XLLM_OPT_STR, &tokens_arg, "comma-separated token ids (required)"},
        {"all", XLLM_OPT_FLAG, &all, "print the logits of every position, not only the last"},
        CLI_OPT_THREADS(threads),
    };
    rc = xllm_args_parse(argc, argv, opts, 3, pos, 1, &n_pos, "MODEL --tokens ID,ID,... [--all]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1 || !tokens_arg) {
        fprintf(stderr, "xllm logits: need MODEL and --tokens ID,ID,...\n");
        return 2;
    }
    if (xllm_args_int_list(tokens_arg, &ids, &n_tok) || n_tok == 0) {
        fprintf(stderr, "xllm logits: --tokens needs at least one token id\n");
        xllm_free(ids);
        return 2;
    }
    rc = 1;
    st = cli_model_open(pos[0], threads, n_tok > 4096 ? n_tok : 0, 0, &m);
    if (st != XLLM_OK) {
        cli_error("logits", st);
        goto out;
    }
    int32_t n_vocab = xllm_session_n_vocab(m.session);
    if (n_tok > xllm_session_n_ctx(m.session)) {
        fprintf(stderr, "xllm logits: %d tokens exceed the context of %d\n", n_tok, xllm_session_n_ctx(m.session));
        goto out;
    }
    toks = xllm_malloc(sizeof(int32_t) * (size_t)n_tok);
    logits = xllm_malloc(sizeof(float) * (size_t)n_vocab * (size_t)(all ? n_tok : 1));
    if (!toks || !logits) {
        fprintf(stderr, "xllm logits: out of memory\n");
        goto out;
    }
    for (int i = 0; i < n_tok; i++) {
        if (ids[i] < 0 || ids[i] >= n_vocab) {
            fprintf(stderr, "xllm logits: token id %d is outside the vocabulary (0..%d)\n", ids[i], n_vocab - 1);
            goto out;
        }
        toks[i] = ids[i];
    }
    st = xllm_session_eval(m.session, toks, n_tok, all, logits);
    if (st != XLLM_OK) {
        cli_error("logits", st);
        goto out;
    }
    printf("{\"n_vocab\": %d, \"tokens\": [", n_vocab);
    for (int i = 0; i < n_tok; i++)
        printf("%s%d", i ? ", " : "", ids[i]);
    printf("], \"logits\": [");
    for (int r = 0; r < (all ? n_tok : 1); r++) {
        printf("%s[", r ? ", " : "");
        for (int32_t v = 0; v < n_vocab; v++) {
            if (v)
                fputs(", ", stdout);
            cli_print_float(stdout, logits[(size_t)r * (size_t)n_vocab + (size_t)v]);
        }
        putchar(']');
    }
    printf("]}\n");
    rc = 0;
out:
    xllm_free(ids);
    xllm_free(toks);
    xllm_free(logits);
    cli_model_close(&m);
    return rc;
}
