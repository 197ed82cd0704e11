/* cmd_embed.c - `xllm embed MODEL (--text T | --tokens ID,...) [--json]`: the
 * pooled, normalized embedding of an encoder model (bert, nomic-bert). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

int cmd_embed(int argc, char **argv)
{
    const char *text = NULL, *tokens_arg = NULL, *pos[1];
    int json = 0, threads = 0, n_pos = 0, n_tok = 0, rc;
    int *ids = NULL;
    int32_t *toks = NULL;
    size_t n = 0;
    float *emb = NULL;
    cli_model m = {0};
    xllm_status st;
    const xllm_opt opts[] = {
        {"text", XLLM_OPT_STR, &text, "text to embed (tokenized with the model's tokenizer)"},
        {"tokens", XLLM_OPT_STR, &tokens_arg, "comma-separated token ids instead of text"},
        {"json", XLLM_OPT_FLAG, &json, "print {\"embedding\": [...], \"dim\": D, \"tokens\": N}"},
        CLI_OPT_THREADS(threads),
    };
    rc = xllm_args_parse(argc, argv, opts, 4, pos, 1, &n_pos, "MODEL (--text T | --tokens ID,...) [--json]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1 || (!text) == (!tokens_arg)) {
        fprintf(stderr, "xllm embed: need MODEL and exactly one of --text or --tokens\n");
        return 2;
    }
    if (tokens_arg && (xllm_args_int_list(tokens_arg, &ids, &n_tok) || n_tok == 0)) {
        fprintf(stderr, "xllm embed: --tokens needs at least one token id\n");
        xllm_free(ids);
        return 2;
    }
    rc = 1;
    st = cli_model_open(pos[0], threads, 0, text != NULL, &m);
    if (st != XLLM_OK) {
        cli_error("embed", st);
        goto out;
    }
    if (!xllm_model_is_encoder(xllm_session_model(m.session))) {
        fprintf(stderr, "xllm embed: %s is not an embedding (encoder) model\n", pos[0]);
        goto out;
    }
    if (text) {
        st = xllm_tokenize(m.tok, text, strlen(text), 1, 1, &toks, &n);
        if (st != XLLM_OK) {
            cli_error("embed", st);
            goto out;
        }
    } else {
        int32_t n_vocab = xllm_session_n_vocab(m.session);
        toks = xllm_malloc(sizeof(int32_t) * (size_t)n_tok);
        if (!toks)
            goto out;
        for (int i = 0; i < n_tok; i++) {
            if (ids[i] < 0 || ids[i] >= n_vocab) {
                fprintf(stderr, "xllm embed: token id %d is outside the vocabulary (0..%d)\n", ids[i], n_vocab - 1);
                goto out;
            }
            toks[i] = ids[i];
        }
        n = (size_t)n_tok;
    }
    if (n == 0 || (int64_t)n > xllm_session_n_ctx(m.session)) {
        fprintf(stderr, "xllm embed: %zu tokens; the model takes 1..%d\n", n, xllm_session_n_ctx(m.session));
        goto out;
    }
    int32_t dim = xllm_session_n_embd(m.session);
    emb = xllm_malloc(sizeof(float) * (size_t)dim * n);
    if (!emb)
        goto out;
    st = xllm_session_embed(m.session, toks, (int32_t)n, emb);
    if (st != XLLM_OK) {
        cli_error("embed", st);
        goto out;
    }
    if (json)
        printf("{\"dim\": %d, \"tokens\": %zu, \"embedding\": [", dim, n);
    for (int32_t i = 0; i < dim; i++) {
        if (i)
            fputs(json ? ", " : " ", stdout);
        cli_print_float(stdout, emb[i]);
    }
    puts(json ? "]}" : "");
    rc = 0;
out:
    xllm_free(ids);
    xllm_free(toks);
    xllm_free(emb);
    cli_model_close(&m);
    return rc;
}
