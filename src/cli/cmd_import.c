/* cmd_import.c - `xllm import PATH [NAME]`: add the model in an archive made
 * by `xllm export` to the store; every blob's digest is verified. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/store_cli.h"
#include "store/archive.h"

int cmd_import(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    char name[XLLM_NAME_STR_MAX];
    int n_pos = 0, rc;
    xllm_store *s;
    xllm_status st;
    rc = xllm_args_parse(argc, argv, NULL, 0, pos, 2, &n_pos, "PATH [NAME]  (NAME: store it under another name)");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos < 1) {
        fprintf(stderr, "xllm import: need the archive PATH\n");
        return 2;
    }
    if (!(s = cli_store_open("import")))
        return 1;
    st = xllm_store_import(s, pos[0], pos[1], name);
    xllm_store_close(s);
    if (st != XLLM_OK)
        return cli_error("import", st);
    printf("imported '%s'\n", name);
    return 0;
}
