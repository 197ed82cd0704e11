/* cmd_export.c - `xllm export MODEL PATH`: the model, its manifest and its
 * metadata in one tar archive (store/archive.h). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"
#include "store/archive.h"

int cmd_export(int argc, char **argv)
{
    const char *pos[2];
    int n_pos = 0, rc;
    xllm_store *s;
    xllm_status st;
    rc = xllm_args_parse(argc, argv, NULL, 0, pos, 2, &n_pos, "MODEL PATH (a .tar archive)");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 2) {
        fprintf(stderr, "xllm export: need MODEL and the archive PATH\n");
        return 2;
    }
    if (!(s = cli_store_open("export")))
        return 1;
    st = xllm_store_export(s, pos[0], pos[1]);
    xllm_store_close(s);
    if (st != XLLM_OK)
        return cli_error("export", st);
    printf("exported '%s' to %s\n", pos[0], pos[1]);
    return 0;
}
