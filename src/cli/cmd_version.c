/* cmd_version.c - `xllm version`. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("xllm version %s\n", XLLM_VERSION);
    return 0;
}
