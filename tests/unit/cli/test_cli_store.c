/* test_cli_store.c - the store commands as a user runs them (binary from
 * $XLLM_BIN) against the registry fixture: pull's plain and terminal output,
 * list's columns, show for names and paths, cp, rm, create (errors naming
 * the line), export/import, --check-updates, exit codes. */
#include <regex.h>

#include "../test.h"
#include "../store/store_util.h"

typedef struct cli_env {
    const char *bin;
    char dir[64], out[128], err[128];
} cli_env;

/* Run "BIN ARGS >out 2>err" and return the exit code. */
static int xrun(cli_env *e, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", e->bin, args, e->out, e->err);
    return su_run(cmd);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (xllm_read_file(path, 1 << 24, &data, &len) != XLLM_OK) {
        xllm_clear_error();
        return xllm_strdup("");
    }
    return data;
}

static int matches(const char *text, const char *pattern)
{
    regex_t re;
    int ok;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE) != 0)
        return 0;
    ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

#define OUT_MATCHES(e, pat)                                                                                   \
    do {                                                                                                      \
        char *o_ = slurp((e)->out);                                                                           \
        CHECK_MSG(matches(o_, pat), "output does not match /%s/:\n%s", pat, o_);                              \
        xllm_free(o_);                                                                                        \
    } while (0)
#define ERR_HAS(e, text)                                                                                      \
    do {                                                                                                      \
        char *o_ = slurp((e)->err);                                                                           \
        CHECK_MSG(strstr(o_, text) != NULL, "stderr lacks '%s':\n%s", text, o_);                              \
        xllm_free(o_);                                                                                        \
    } while (0)

TEST(cli_store_commands)
{
    su_fixture fx;
    cli_env e;
    char models[128], path[256], args[512];
    char *out;
    e.bin = getenv("XLLM_BIN");
    if (!e.bin || !xllm_path_exists(e.bin)) {
        test_skip("needs XLLM_BIN");
        return;
    }
    if (!su_fixture_start(&fx)) {
        test_skip("needs python3 and tests/registry_fixture.py");
        return;
    }
    CHECK(su_mkdtemp(e.dir, sizeof e.dir));
    snprintf(e.out, sizeof e.out, "%s/out", e.dir);
    snprintf(e.err, sizeof e.err, "%s/err", e.dir);
    snprintf(models, sizeof models, "%s/models", e.dir);
    setenv("XLLM_MODELS_DIR", models, 1);

    /* pull, not on a terminal: Ollama's status lines, plain */
    CHECK_EQ_INT(xrun(&e, "pull tiny"), 0);
    OUT_MATCHES(&e, "^pulling manifest\n(pulling [0-9a-f]{12}: 100% [0-9.]+ [KMG]?B\n){6}verifying sha256 digest\n"
                    "writing manifest\nsuccess\n$");
    /* on a terminal (script gives a pty): bars */
    snprintf(args, sizeof args, "script -qec '%s pull shared' /dev/null >%s 2>&1", e.bin, e.out);
    if (su_run("command -v script >/dev/null") == 0) {
        CHECK_EQ_INT(su_run(args), 0);
        OUT_MATCHES(&e, "pulling [0-9a-f]{12}: 100% ▕(█)+▏ +2.5 MB");
        OUT_MATCHES(&e, "success");
    }
    CHECK_EQ_INT(xrun(&e, "pull corrupt"), 1);
    ERR_HAS(&e, "xllm pull: digest mismatch");
    CHECK_EQ_INT(xrun(&e, "pull nothing-here"), 1);
    ERR_HAS(&e, "not found in the registry");
    CHECK_EQ_INT(xrun(&e, "pull"), 2);
    /* Ctrl-C during a (stalled) download: a clean stop */
    snprintf(args, sizeof args, "%s pull stall >%s 2>%s & p=$!; sleep 2; kill -INT $p; wait $p", e.bin, e.out, e.err);
    CHECK_EQ_INT(su_run(args), 1);
    ERR_HAS(&e, "pull cancelled");
    snprintf(args, sizeof args, "ls %s/blobs | grep -q partial", models);
    CHECK(su_run(args) != 0);

    /* list: Ollama's columns, four spaces after each */
    CHECK_EQ_INT(xrun(&e, "list"), 0);
    OUT_MATCHES(&e, "^NAME             ID              SIZE      MODIFIED +\n");
    OUT_MATCHES(&e, "\ntiny:latest      [0-9a-f]{12}    2.5 MB    [A-Za-z0-9 ]+ ago +\n");
    OUT_MATCHES(&e, "\nshared:latest    [0-9a-f]{12}    2.5 MB    ");
    CHECK_EQ_INT(xrun(&e, "ls sha"), 0);
    out = slurp(e.out);
    CHECK(!strstr(out, "tiny:latest") && strstr(out, "shared:latest"));
    xllm_free(out);
    CHECK_EQ_INT(xrun(&e, "list --check-updates"), 0);
    OUT_MATCHES(&e, "^NAME +ID +SIZE +MODIFIED +UPDATE +\n");
    OUT_MATCHES(&e, "\ntiny:latest +[0-9a-f]{12} +2.5 MB .* ago +up to date +\n");

    /* show by name */
    CHECK_EQ_INT(xrun(&e, "show tiny --parameters"), 0);
    OUT_MATCHES(&e, "^stop                           \"<\\|end\\|>\"\ntemperature                    0.5\n$");
    CHECK_EQ_INT(xrun(&e, "show tiny --modelfile"), 0);
    OUT_MATCHES(&e, "\nFROM .*/models/blobs/sha256-[0-9a-f]{64}\nTEMPLATE \"\"\"\\{\\{ .System \\}\\} "
                    "\\{\\{ .Prompt \\}\\}\"\"\"\nSYSTEM \"\"\"You are tiny.\"\"\"\nPARAMETER stop <\\|end\\|>\n"
                    "PARAMETER temperature 0.5\nLICENSE \"\"\"Tiny License 1.0\nUse freely.\"\"\"\n$");
    CHECK_EQ_INT(xrun(&e, "show tiny --template"), 0);
    OUT_MATCHES(&e, "^\\{\\{ .System \\}\\} \\{\\{ .Prompt \\}\\}\n$");
    CHECK_EQ_INT(xrun(&e, "show tiny --system"), 0);
    OUT_MATCHES(&e, "^You are tiny.\n$");
    CHECK_EQ_INT(xrun(&e, "show tiny --license"), 0);
    OUT_MATCHES(&e, "^Tiny License 1.0\nUse freely.\n$");
    CHECK_EQ_INT(xrun(&e, "show tiny"), 0);
    OUT_MATCHES(&e, "architecture +llama");
    OUT_MATCHES(&e, "\n  Parameters\n    stop +\"<\\|end\\|>\"\n");
    OUT_MATCHES(&e, "\n  License\n    Tiny License 1.0\n");
    CHECK_EQ_INT(xrun(&e, "show no-such"), 1);
    ERR_HAS(&e, "model 'no-such' not found");
    if (xllm_path_exists("models/kjv-demo.gguf")) { /* paths keep working */
        CHECK_EQ_INT(xrun(&e, "show models/kjv-demo.gguf"), 0);
        OUT_MATCHES(&e, "file +models/kjv-demo.gguf");
    }

    /* cp and rm */
    CHECK_EQ_INT(xrun(&e, "cp tiny mine/copy:v1"), 0);
    OUT_MATCHES(&e, "^copied 'tiny' to 'mine/copy:v1'\n$");
    CHECK_EQ_INT(xrun(&e, "rm tiny"), 0);
    OUT_MATCHES(&e, "^deleted 'tiny'\n$");
    CHECK_EQ_INT(xrun(&e, "show mine/copy:v1 --system"), 0); /* its blobs stayed */
    CHECK_EQ_INT(xrun(&e, "rm tiny"), 1);
    ERR_HAS(&e, "not found");

    /* create */
    snprintf(path, sizeof path, "%s/Modelfile", e.dir);
    su_write(path, "FROM shared\nPARAMETER num_ctx 128\nPARAMETER top_k many\n");
    snprintf(args, sizeof args, "create bad -f %s", path);
    CHECK_EQ_INT(xrun(&e, args), 1);
    ERR_HAS(&e, "Modelfile:3: PARAMETER: parameter top_k wants an integer, not 'many'");
    su_write(path, "FROM shared\nPARAMETER num_ctx 128\nSYSTEM \"\"\"Two\nlines\"\"\"\n");
    snprintf(args, sizeof args, "create made -f %s", path);
    CHECK_EQ_INT(xrun(&e, args), 0);
    OUT_MATCHES(&e, "^gathering model components\n(.*\n)*writing manifest\nsuccess\n$");
    CHECK_EQ_INT(xrun(&e, "show made --parameters"), 0);
    OUT_MATCHES(&e, "^num_ctx                        128\ntemperature                    0.9\n$");

    /* export / import */
    snprintf(args, sizeof args, "export made %s/made.tar", e.dir);
    CHECK_EQ_INT(xrun(&e, args), 0);
    snprintf(args, sizeof args, "XLLM_MODELS_DIR=%s/other %s import %s/made.tar >%s 2>%s", e.dir, e.bin, e.dir,
             e.out, e.err);
    CHECK_EQ_INT(su_run(args), 0);
    OUT_MATCHES(&e, "^imported 'made:latest'\n$");
    snprintf(args, sizeof args, "import %s/nothing.tar", e.dir);
    CHECK_EQ_INT(xrun(&e, args), 1);

    /* help and usage */
    static const char *cmds[] = {"pull", "list", "show", "rm", "cp", "create", "export", "import"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        CHECK_MSG(xrun(&e, args) == 0, "%s --help", cmds[i]);
    }
    unsetenv("XLLM_MODELS_DIR");
    su_rm_tree(e.dir);
    su_fixture_stop(&fx);
}
