/* test_args.c - CLI option parsing. */
#include "../test.h"
#include "base/alloc.h"
#include "cli/args.h"

TEST(args_parse_options_and_positionals)
{
    int flag = 0, n = 0, npos = 0;
    double t = 0;
    const char *s = NULL, *pos[3];
    xllm_opt opts[] = {
        {"json", XLLM_OPT_FLAG, &flag, ""},
        {"threads", XLLM_OPT_INT, &n, ""},
        {"temperature", XLLM_OPT_FLOAT, &t, ""},
        {"text", XLLM_OPT_STR, &s, ""},
    };
    char *argv[] = {"cmd", "model.gguf", "--json", "--threads", "4", "--temperature=0.5", "--text", "hi", "--", "--x"};
    CHECK_EQ_INT(xllm_args_parse(10, argv, opts, 4, pos, 3, &npos, ""), 0);
    CHECK_EQ_INT(flag, 1);
    CHECK_EQ_INT(n, 4);
    CHECK_NEAR(t, 0.5, 0);
    CHECK_EQ_STR(s, "hi");
    CHECK_EQ_INT(npos, 2);
    CHECK_EQ_STR(pos[1], "--x");
    char *bad[] = {"cmd", "--threads", "x4"};
    CHECK_EQ_INT(xllm_args_parse(3, bad, opts, 4, pos, 3, &npos, ""), 2);
    char *unknown[] = {"cmd", "--nope"};
    CHECK_EQ_INT(xllm_args_parse(2, unknown, opts, 4, pos, 3, &npos, ""), 2);
}

TEST(args_int_list)
{
    int *v, n;
    CHECK_EQ_INT(xllm_args_int_list("1,22,-3", &v, &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(v[1], 22);
    CHECK_EQ_INT(v[2], -3);
    xllm_free(v);
    CHECK(xllm_args_int_list("1,,2", &v, &n) != 0);
    CHECK(xllm_args_int_list("1;2", &v, &n) != 0);
}
