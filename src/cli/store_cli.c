/* store_cli.c - store opening and the pull path shared by the CLI commands. */
#include "cli/store_cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "cli/common.h"
#include "cli/pull_progress.h"

xllm_store *cli_store_open(const char *cmd)
{
    xllm_store *s = NULL;
    xllm_status st = xllm_store_open(NULL, &s);
    if (st != XLLM_OK) {
        cli_error(cmd, st);
        return NULL;
    }
    return s;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static volatile int pull_cancelled; /* set by SIGINT/SIGTERM: the pull stops and cleans up */

static void on_signal(int sig)
{
    (void)sig;
    pull_cancelled = 1;
}

xllm_status cli_pull(xllm_store *s, const char *name)
{
    int tty = isatty(STDOUT_FILENO);
    cli_pull_progress *p = cli_pull_progress_new(stdout, tty, tty ? term_width() : 80);
    xllm_pull_opts o = {cli_pull_progress_event, p, &pull_cancelled};
    struct sigaction sa, old_int, old_term;
    xllm_status st;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    st = xllm_store_pull(s, name, &o);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cli_pull_progress_free(p);
    return st;
}

xllm_status cli_model_path(const char *arg, char **out)
{
    xllm_store *s = NULL;
    xllm_model_ref r;
    xllm_status st;
    *out = NULL;
    if (xllm_path_exists(arg) || strchr(arg, '/') == arg || !strncmp(arg, "./", 2) || strstr(arg, ".gguf")) {
        *out = xllm_strdup(arg);
        return *out ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    }
    st = xllm_store_open(NULL, &s);
    if (st != XLLM_OK)
        return st;
    st = xllm_store_resolve(s, arg, &r);
    xllm_store_close(s);
    if (st != XLLM_OK)
        return st;
    *out = r.model_path;
    r.model_path = NULL;
    xllm_model_ref_free(&r);
    return XLLM_OK;
}
