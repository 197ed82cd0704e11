/* test_cli_template.c - `xllm template` as a user runs it (binary from $XLLM_BIN):
 * the render on stdout byte for byte (nothing added), exit 0; errors on stderr with
 * a non-zero exit; --model takes the model's template and special tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/fs.h"

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static char *slurp(const char *path, size_t *len)
{
    char *data = NULL;
    if (xllm_read_file(path, 1 << 20, &data, len) != XLLM_OK)
        return NULL;
    return data;
}

TEST(cli_template_renders_bytes_and_reports_errors)
{
    const char *bin = getenv("XLLM_BIN");
    if (!bin || !xllm_path_exists(bin)) {
        test_skip("needs XLLM_BIN");
        return;
    }
    char dir[] = "/tmp/xllm-tpl-XXXXXX", cmd[1024], p_t[128], p_c[128], p_o[128], p_e[128];
    if (!mkdtemp(dir)) {
        test_fail(__FILE__, __LINE__, "mkdtemp");
        return;
    }
    snprintf(p_t, sizeof p_t, "%s/t.jinja", dir);
    snprintf(p_c, sizeof p_c, "%s/c.json", dir);
    snprintf(p_o, sizeof p_o, "%s/out", dir);
    snprintf(p_e, sizeof p_e, "%s/err", dir);
    CHECK(write_file(p_t, "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{{ extra }}\n"));
    CHECK(write_file(p_c, "{\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\"}],\"extra\":\"X\"}"));
    snprintf(cmd, sizeof cmd, "%s template %s %s >%s 2>%s", bin, p_t, p_c, p_o, p_e);
    CHECK_EQ_INT(run(cmd), 0);
    size_t n = 0;
    char *out = slurp(p_o, &n);
    /* the template's own trailing newline is dropped (Jinja2's keep_trailing_newline=False) */
    CHECK(out && n == strlen("<user>h\xc3\xa9\nX") && !memcmp(out, "<user>h\xc3\xa9\nX", n));
    xllm_free(out);

    CHECK(write_file(p_t, "line\n{{ messages[0].content.nope() }}"));
    snprintf(cmd, sizeof cmd, "%s template %s %s >%s 2>%s", bin, p_t, p_c, p_o, p_e);
    CHECK_EQ_INT(run(cmd), 1);
    char *err = slurp(p_e, &n);
    CHECK_MSG(err && strstr(err, "line 2"), "stderr: %s", err ? err : "(none)");
    xllm_free(err);

    CHECK(write_file(p_c, "[1, 2]"));
    snprintf(cmd, sizeof cmd, "%s template %s %s 2>/dev/null", bin, p_t, p_c);
    CHECK_EQ_INT(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "%s template %s 2>/dev/null", bin, p_t);
    CHECK_EQ_INT(run(cmd), 2);

    /* --model: the HF fixture's tokenizer_config.json template with its <s> / </s> */
    if (xllm_path_exists("tests/fixtures/models/llama3")) {
        CHECK(write_file(p_c, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"add_generation_prompt\":true}"));
        snprintf(cmd, sizeof cmd, "%s template --model tests/fixtures/models/llama3 %s >%s", bin, p_c, p_o);
        CHECK_EQ_INT(run(cmd), 0);
        out = slurp(p_o, &n);
        CHECK_MSG(out && !strcmp(out, "<s>user: Hi</s>\nassistant: "), "got: %s", out ? out : "(none)");
        xllm_free(out);
        CHECK(write_file(p_c, "{\"messages\":[],\"bos_token\":\"[B]\"}"));
        snprintf(cmd, sizeof cmd, "%s template --model tests/fixtures/models/llama3 %s >%s", bin, p_c, p_o);
        CHECK_EQ_INT(run(cmd), 0);
        out = slurp(p_o, &n);
        CHECK_MSG(out && !strcmp(out, "[B]"), "got: %s", out ? out : "(none)");
        xllm_free(out);
        snprintf(cmd, sizeof cmd, "%s template --model tests/fixtures/models/llama3 --name tool_use %s 2>%s", bin, p_c, p_e);
        CHECK_EQ_INT(run(cmd), 1);
        err = slurp(p_e, &n);
        CHECK_MSG(err && strstr(err, "tool_use"), "stderr: %s", err ? err : "(none)");
        xllm_free(err);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(run(cmd), 0);
}
