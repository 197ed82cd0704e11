/* test_modelfile.c - Modelfile parsing: instructions, quoting, multi-line
 * strings, Ollama's parameter types, and errors that name the line. */
#include <jansson.h>

#include "../test.h"
#include "base/alloc.h"
#include "store/modelfile.h"

TEST(modelfile_parses_every_instruction)
{
    static const char text[] = "# a comment\n"
                               "from llama3.2\n"
                               "\n"
                               "PARAMETER temperature 0.7\n"
                               "PARAMETER stop \"<|eot_id|>\"\n"
                               "PARAMETER stop <|end|>\n"
                               "PARAMETER Num_Ctx 4096\n"
                               "PARAMETER use_mmap false\n"
                               "TEMPLATE \"\"\"{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}\"\"\"\n"
                               "SYSTEM You are Mario.\n"
                               "MESSAGE user \"Is Toronto in Canada?\"\n"
                               "MESSAGE assistant yes\n"
                               "ADAPTER ./lora.gguf\n"
                               "LICENSE \"\"\"MIT\nLicense\"\"\"\n";
    xllm_modelfile mf;
    CHECK_OK(xllm_modelfile_parse(text, sizeof text - 1, "Modelfile", &mf));
    CHECK_EQ_INT(mf.n, 12);
    CHECK_EQ_INT(mf.cmds[0].kind, XLLM_MF_FROM);
    CHECK_EQ_STR(mf.cmds[0].value, "llama3.2");
    CHECK_EQ_INT(mf.cmds[0].line, 2);
    CHECK_EQ_STR(mf.cmds[2].value, "<|eot_id|>");
    CHECK_EQ_STR(mf.cmds[4].name, "num_ctx");
    CHECK_EQ_INT(mf.cmds[6].kind, XLLM_MF_TEMPLATE);
    CHECK_EQ_STR(mf.cmds[6].value, "{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}");
    CHECK_EQ_STR(mf.cmds[7].value, "You are Mario.");
    CHECK_EQ_INT(mf.cmds[7].line, 11);
    CHECK_EQ_STR(mf.cmds[8].name, "user");
    CHECK_EQ_STR(mf.cmds[8].value, "Is Toronto in Canada?");
    CHECK_EQ_STR(mf.cmds[11].value, "MIT\nLicense");
    CHECK_EQ_INT(mf.cmds[11].line, 15);
    xllm_modelfile_free(&mf);
}

static void expect_error(const char *text, const char *where, const char *what)
{
    xllm_modelfile mf;
    CHECK_MSG(xllm_modelfile_parse(text, strlen(text), "M", &mf) == XLLM_ERR_INVALID_ARGUMENT, "accepted: %s",
              text);
    CHECK_MSG(strstr(xllm_last_error(), where) != NULL, "'%s' lacks '%s'", xllm_last_error(), where);
    CHECK_MSG(strstr(xllm_last_error(), what) != NULL, "'%s' lacks '%s'", xllm_last_error(), what);
}

TEST(modelfile_errors_name_the_line)
{
    expect_error("FROM x\nPARAMETER temperature hot\n", "M:2:", "wants a number");
    expect_error("FROM x\n\nPARAMETER top_k 1.5\n", "M:3:", "wants an integer");
    expect_error("FROM x\nPARAMETER use_mmap maybe\n", "M:2:", "true or false");
    expect_error("FROM x\nPARAMETER warp_speed 9\n", "M:2:", "unknown parameter 'warp_speed'");
    expect_error("FROM x\nPARAMETER seed\n", "M:2:", "needs a value");
    expect_error("FROM x\nBOGUS 1\n", "M:2:", "unknown instruction");
    expect_error("FROM x\nMESSAGE robot hi\n", "M:2:", "role");
    expect_error("FROM x\nSYSTEM \"\"\"never\nclosed\n", "M:2:", "unterminated");
    expect_error("FROM x\nSYSTEM \"open\n", "M:2:", "unterminated");
    expect_error("FROM x\nFROM y\n", "M:2:", "second FROM");
    expect_error("# only a comment\nSYSTEM hi\n", "M:", "no FROM");
    expect_error("FROM x\nSYSTEM \"a\" trailing\n", "M:2:", "after the closing quote");
}

TEST(modelfile_param_types_match_ollama)
{
    json_t *o = json_object();
    char *s;
    CHECK_EQ_INT(xllm_param_type_of("temperature"), XLLM_PARAM_FLOAT);
    CHECK_EQ_INT(xllm_param_type_of("num_ctx"), XLLM_PARAM_INT);
    CHECK_EQ_INT(xllm_param_type_of("stop"), XLLM_PARAM_STRINGS);
    CHECK_EQ_INT(xllm_param_type_of("penalize_newline"), XLLM_PARAM_BOOL);
    CHECK_EQ_INT(xllm_param_type_of("nope"), -1);
    CHECK_OK(xllm_params_set(o, "stop", "a"));
    CHECK_OK(xllm_params_set(o, "stop", "b"));
    CHECK_OK(xllm_params_set(o, "temperature", "0.7"));
    CHECK_OK(xllm_params_set(o, "num_ctx", "8192"));
    CHECK_OK(xllm_params_set(o, "use_mlock", "True"));
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    CHECK_EQ_STR(s, "{\"num_ctx\":8192,\"stop\":[\"a\",\"b\"],\"temperature\":0.7,\"use_mlock\":true}");
    free(s);
    CHECK(xllm_params_set(o, "temperature", "1e999") == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_params_set(o, "seed", "99999999999999999999999") == XLLM_ERR_INVALID_ARGUMENT);
    json_decref(o);
}

TEST(modelfile_quote_round_trip)
{
    static const char *values[] = {"plain", " leading", "two\nlines", "say \"hi\"\nok"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        xllm_buf b;
        xllm_modelfile mf;
        xllm_buf_init(&b, 0);
        xllm_buf_puts(&b, "FROM x\nSYSTEM ");
        xllm_modelfile_quote(&b, values[i], 0);
        xllm_buf_puts(&b, "\n");
        CHECK_OK(xllm_modelfile_parse(b.data, b.len, "q", &mf));
        if (mf.n == 2)
            CHECK_EQ_STR(mf.cmds[1].value, values[i]);
        xllm_modelfile_free(&mf);
        xllm_buf_free(&b);
    }
}
