/* cmd_rm.c - `xllm rm MODEL...`: delete models; a blob goes with the last
 * manifest that uses it. Prints "deleted 'NAME'" per model, as Ollama. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"

#define RM_MAX_NAMES 256

int cmd_rm(int argc, char **argv)
{
    const char *pos[RM_MAX_NAMES];
    int n_pos = 0, rc, failed = 0;
    xllm_store *s;
    rc = xllm_args_parse(argc, argv, NULL, 0, pos, RM_MAX_NAMES, &n_pos, "MODEL [MODEL...]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos < 1) {
        fprintf(stderr, "xllm rm: need at least one MODEL\n");
        return 2;
    }
    if (!(s = cli_store_open("rm")))
        return 1;
    for (int i = 0; i < n_pos; i++) {
        xllm_status st = xllm_store_delete(s, pos[i]);
        if (st != XLLM_OK) {
            cli_error("rm", st);
            failed = 1;
            continue;
        }
        printf("deleted '%s'\n", pos[i]);
    }
    xllm_store_close(s);
    return failed;
}
