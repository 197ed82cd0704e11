/* test_cli_convert.c - the `xllm convert` and `xllm gen-model` commands as a
 * user runs them (binary from $XLLM_BIN, set by `make unit-test`): exit codes,
 * outputs, and error messages that name the input. */
#include <stdlib.h>

#include "../test.h"
#include "conv_util.h"

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int file_contains(const char *path, const char *text)
{
    char *data = NULL;
    size_t len = 0;
    int found = xllm_read_file(path, 1 << 20, &data, &len) == XLLM_OK && strstr(data, text) != NULL;
    xllm_free(data);
    return found;
}

TEST(cli_convert_and_gen_model)
{
    const char *bin = getenv("XLLM_BIN");
    const char *fixture = "tests/fixtures/models/qwen2";
    char dir[64], cmd[1024], path[160];
    if (!bin || !xllm_path_exists(bin) || !xllm_path_exists(fixture)) {
        test_skip("needs XLLM_BIN and the fixtures");
        return;
    }
    CHECK(cu_mkdtemp(dir, sizeof dir));
    snprintf(cmd, sizeof cmd, "%s convert %s %s/q.gguf --type q8_0 --quiet", bin, fixture, dir);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(path, sizeof path, "%s/q.gguf", dir);
    CHECK(xllm_path_exists(path));
    snprintf(cmd, sizeof cmd, "%s convert %s/q.gguf %s/hf --dtype f16 --quiet", bin, dir, dir);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(path, sizeof path, "%s/hf/config.json", dir);
    CHECK(file_contains(path, "\"Qwen2ForCausalLM\""));
    snprintf(cmd, sizeof cmd, "%s convert %s 2>/dev/null", bin, fixture);
    CHECK_EQ_INT(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s convert %s/missing %s/x.gguf 2>%s/err.txt", bin, dir, dir, dir);
    CHECK_EQ_INT(run(cmd), 1);
    snprintf(path, sizeof path, "%s/err.txt", dir);
    CHECK(file_contains(path, "/missing"));
    snprintf(cmd, sizeof cmd, "%s gen-model --shape test-tiny --type q4_k_m --vocab-from tests/fixtures/models/llama %s/g.gguf", bin, dir);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s gen-model --shape nope %s/n.gguf 2>/dev/null", bin, dir);
    CHECK_EQ_INT(run(cmd), 1);
    cu_rm_tree(dir);
}
