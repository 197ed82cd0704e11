/* cmd_pull.c - `xllm pull MODEL`: download a model into the store with
 * Ollama's progress display. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"

int cmd_pull(int argc, char **argv)
{
    const char *pos[1];
    int n_pos = 0, rc;
    xllm_store *s;
    xllm_status st;
    rc = xllm_args_parse(argc, argv, NULL, 0, pos, 1, &n_pos,
                         "MODEL\n\nMODEL: name[:tag] from the Ollama registry (XLLM_OLLAMA_REGISTRY), or\n"
                         "hf.co/USER/REPO[:QUANT] from Hugging Face (XLLM_HF_ENDPOINT, HF_TOKEN).");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1) {
        fprintf(stderr, "xllm pull: need one MODEL (for example: xllm pull llama3.2)\n");
        return 2;
    }
    if (!(s = cli_store_open("pull")))
        return 1;
    st = cli_pull(s, pos[0]);
    xllm_store_close(s);
    if (st != XLLM_OK)
        return cli_error("pull", st);
    return 0;
}
