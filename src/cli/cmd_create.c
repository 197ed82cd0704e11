/* cmd_create.c - `xllm create NAME [-f Modelfile]`: a new model in the store
 * from a Modelfile (default ./Modelfile); relative paths in it are taken
 * from the Modelfile's directory, as Ollama does. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/pull_progress.h"
#include "cli/store_cli.h"
#include "store/create.h"

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? xllm_strndup(path, (size_t)(slash - path) + (slash == path)) : xllm_strdup(".");
}

int cmd_create(int argc, char **argv)
{
    const char *pos[1], *file = "Modelfile";
    int n_pos = 0, rc;
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    xllm_modelfile mf;
    xllm_store *s = NULL;
    xllm_status st;
    xllm_opt opts[] = {{"file", XLLM_OPT_STR, &file, "the Modelfile (default ./Modelfile); also -f"}};
    /* accept Ollama's "-f FILE" spelling */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-f"))
            argv[i] = "--file";
    rc = xllm_args_parse(argc, argv, opts, 1, pos, 1, &n_pos, "NAME [-f Modelfile]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1) {
        fprintf(stderr, "xllm create: need the NAME of the new model\n");
        return 2;
    }
    st = xllm_read_file(file, XLLM_MODELFILE_MAX_BYTES, &text, &len);
    if (st != XLLM_OK)
        return cli_error("create", st);
    st = xllm_modelfile_parse(text, len, file, &mf);
    xllm_free(text);
    if (st != XLLM_OK)
        return cli_error("create", st);
    dir = dir_of(file);
    if ((s = cli_store_open("create"))) {
        cli_pull_progress *p = cli_pull_progress_new(stdout, 0, 80);
        xllm_create_opts o = {dir, cli_pull_progress_event, p};
        st = xllm_store_create(s, pos[0], &mf, &o);
        cli_pull_progress_free(p);
        xllm_store_close(s);
        rc = st == XLLM_OK ? 0 : cli_error("create", st);
    } else {
        rc = 1;
    }
    xllm_free(dir);
    xllm_modelfile_free(&mf);
    return rc;
}
