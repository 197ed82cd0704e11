/* cmd_cp.c - `xllm cp SRC DST`: a second name for a model (blobs shared). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"

int cmd_cp(int argc, char **argv)
{
    const char *pos[2];
    int n_pos = 0, rc;
    xllm_store *s;
    xllm_status st;
    rc = xllm_args_parse(argc, argv, NULL, 0, pos, 2, &n_pos, "SOURCE DESTINATION");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 2) {
        fprintf(stderr, "xllm cp: need SOURCE and DESTINATION model names\n");
        return 2;
    }
    if (!(s = cli_store_open("cp")))
        return 1;
    st = xllm_store_copy(s, pos[0], pos[1]);
    xllm_store_close(s);
    if (st != XLLM_OK)
        return cli_error("cp", st);
    printf("copied '%s' to '%s'\n", pos[0], pos[1]);
    return 0;
}
