/* test_jinja_features.c - small templates covering each statement, operator, filter,
 * test and method, rendered against Python's Jinja2 as transformers configures it
 * (goldens/features.json from tools/make_template_goldens.py): identical bytes, or
 * an error where Jinja2 raised. Also: the limits and the errors xllm gives for what
 * it does not support (clear errors, never a render). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/buf.h"
#include "base/limits.h"
#include "template/chat_template.h"
#include "template/jinja.h"

static xllm_status render_str(const char *src, const char *vars_json, xllm_buf *out)
{
    xllm_jinja *t = NULL;
    json_t *vars = vars_json ? json_loads(vars_json, 0, NULL) : json_object();
    xllm_status st = xllm_jinja_parse(src, strlen(src), &t);
    if (!st)
        st = xllm_jinja_render(t, vars, out);
    xllm_jinja_free(t);
    json_decref(vars);
    return st;
}

TEST(jinja_features_match_python_jinja2)
{
    json_error_t e;
    json_t *doc = json_load_file("tests/fixtures/templates/goldens/features.json", 0, &e);
    CHECK_MSG(doc != NULL, "features.json: %s", e.text);
    if (!doc)
        return;
    setenv("SOURCE_DATE_EPOCH", "1733011200", 1);
    json_t *vars = json_object_get(doc, "vars");
    size_t i;
    json_t *c;
    int same = 0, raised = 0;
    json_array_foreach(json_object_get(doc, "cases"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *src = json_string_value(json_object_get(c, "template"));
        json_t *want = json_object_get(c, "output");
        json_t *ctx = json_deep_copy(vars);
        json_object_set_new(ctx, "add_generation_prompt", json_true());
        xllm_jinja *t = NULL;
        xllm_buf out;
        xllm_buf_init(&out, 0);
        xllm_status st = xllm_jinja_parse(src, json_string_length(json_object_get(c, "template")), &t);
        if (!st)
            st = xllm_jinja_render(t, ctx, &out);
        if (!want) {
            CHECK_MSG(st != XLLM_OK, "%s: Jinja2 raised (%s) but we rendered \"%s\"", name,
                      json_string_value(json_object_get(c, "error")), out.data ? out.data : "");
            raised += st != XLLM_OK;
        } else if (st != XLLM_OK) {
            test_fail(__FILE__, __LINE__, "%s: %s", name, xllm_last_error());
        } else {
            int ok = out.len == json_string_length(want) && !memcmp(out.data ? out.data : "", json_string_value(want), out.len);
            CHECK_MSG(ok, "%s:\n    ours: %s\n    want: %s", name, out.data ? out.data : "", json_string_value(want));
            same += ok;
        }
        xllm_buf_free(&out);
        xllm_jinja_free(t);
        json_decref(ctx);
    }
    printf("  jinja features: %d identical, %d raise as in Jinja2, of %zu\n", same, raised,
           json_array_size(json_object_get(doc, "cases")));
    json_decref(doc);
}

TEST(jinja_errors_name_line_and_column)
{
    xllm_buf out;
    xllm_buf_init(&out, 0);
    CHECK_EQ_INT(render_str("line one\n  {{ 1 +* 2 }}", NULL, &out), XLLM_ERR_FORMAT);
    CHECK_MSG(strstr(xllm_last_error(), "line 2, column 9") != NULL, "%s", xllm_last_error());
    CHECK_EQ_INT(render_str("a\nb {{ x.y }}", NULL, &out), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(xllm_last_error(), "line 2") && strstr(xllm_last_error(), "'x' is undefined"), "%s",
              xllm_last_error());
    CHECK_EQ_INT(render_str("{{ raise_exception('nope: ' ~ 3) }}", NULL, &out), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(xllm_last_error(), "nope: 3") != NULL, "%s", xllm_last_error());
    xllm_buf_free(&out);
}

TEST(jinja_limits_are_clear_errors)
{
    xllm_buf out;
    xllm_buf_init(&out, 0);
    /* steps: nested loops that would run 10^10 iterations */
    CHECK_EQ_INT(render_str("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", NULL,
                            &out), XLLM_ERR_LIMIT);
    CHECK(strstr(xllm_last_error(), "steps") != NULL);
    /* recursion */
    CHECK_EQ_INT(render_str("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", NULL, &out), XLLM_ERR_LIMIT);
    CHECK(strstr(xllm_last_error(), "nested") != NULL);
    /* output size */
    out.len = 0;
    CHECK_EQ_INT(render_str("{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", NULL, &out), XLLM_ERR_LIMIT);
    CHECK(strstr(xllm_last_error(), "output") != NULL);
    /* memory: a string doubled until it exceeds the arena */
    CHECK_EQ_INT(render_str("{% set ns = namespace(s='x' * 1000000) %}{% for i in range(30) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", NULL, &out),
                 XLLM_ERR_LIMIT);
    /* parser depth */
    char deep[4096];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{{ ");
    for (int i = 0; i < 1000; i++)
        deep[k++] = '(';
    snprintf(deep + k, sizeof deep - k, " }}");
    CHECK_EQ_INT(render_str(deep, NULL, &out), XLLM_ERR_LIMIT);
    xllm_buf_free(&out);
}

TEST(jinja_unsupported_is_an_error_not_a_render)
{
    static const char *const cases[] = {
        "{% include 'x.j2' %}", "{% extends 'base' %}", "{% block b %}{% endblock %}", "{% import 'm' as m %}",
        "{% for x in [1] recursive %}{% endfor %}", "{{ 'a %s' % 1 }}", "{{ '{}'.format(1) }}",
        "{{ [1]|groupby('a') }}", "{{ 'x'|truncate(1) }}", "{{ 'x'|format(1) }}", "{{ 99999999999999999999 }}",
        "{{ 9223372036854775807 + 1 }}", "{{ lipsum() }}", "{{ range }}", "{{ [1,2]|map('string') }}",
        "{{ 'x' is escaped }}",
    };
    xllm_buf out;
    xllm_buf_init(&out, 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        out.len = 0;
        xllm_status st = render_str(cases[i], NULL, &out);
        CHECK_MSG(st == XLLM_ERR_UNSUPPORTED, "%s: status %d: %s", cases[i], st, xllm_last_error());
    }
    xllm_buf_free(&out);
}

TEST(chat_template_dispatch_and_special_tokens)
{
    xllm_chat_template *t = NULL;
    const char *src = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}";
    CHECK_OK(xllm_chat_template_new(src, strlen(src), &t));
    if (!t)
        return;
    CHECK_EQ_INT(xllm_chat_template_is_go(t), 0);
    json_t *chat = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"bos_token\":\"<s>\"}", 0, NULL);
    xllm_buf out;
    xllm_buf_init(&out, 0);
    CHECK_OK(xllm_chat_template_render(t, chat, &out));
    CHECK_EQ_STR(out.data, "<s>[user]hi");
    xllm_chat_template_free(t);
    /* transformers' defaults for absent tools / documents / add_generation_prompt */
    src = "{{ tools is none }}{{ documents is none }}{{ add_generation_prompt }}{{ tools is defined }}";
    CHECK_OK(xllm_chat_template_new(src, strlen(src), &t));
    out.len = 0;
    CHECK_OK(xllm_chat_template_render(t, chat, &out));
    CHECK_EQ_STR(out.data, "TrueTrueFalseTrue");
    xllm_buf_free(&out);
    json_decref(chat);
    xllm_chat_template_free(t);

    xllm_gguf *g = NULL;
    CHECK_OK(xllm_gguf_new(&g));
    if (!g)
        return;
    xllm_str s;
    CHECK_EQ_INT(xllm_chat_template_source(g, NULL, &s), XLLM_ERR_NOT_FOUND);
    CHECK(strstr(xllm_last_error(), "no chat template") != NULL);
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.chat_template", "plain"));
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.chat_template.tool_use", "tools"));
    CHECK_OK(xllm_chat_template_source(g, NULL, &s));
    CHECK(s.len == 5 && !memcmp(s.ptr, "plain", 5));
    CHECK_OK(xllm_chat_template_source(g, "tool_use", &s));
    CHECK(s.len == 5 && !memcmp(s.ptr, "tools", 5));
    CHECK_EQ_INT(xllm_chat_template_source(g, "rag", &s), XLLM_ERR_NOT_FOUND);
    const char *toks[] = {"<unk>", "<s>", "</s>", "a"};
    CHECK_OK(xllm_gguf_set_arr_str(g, "tokenizer.ggml.tokens", toks, NULL, 4));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.bos_token_id", 1));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.eos_token_id", 2));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.unknown_token_id", 0));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.padding_token_id", 99)); /* out of range: skipped */
    chat = json_loads("{\"eos_token\":\"<mine>\"}", 0, NULL);
    CHECK_OK(xllm_chat_template_add_special_tokens(g, chat));
    CHECK_EQ_STR(json_string_value(json_object_get(chat, "bos_token")), "<s>");
    CHECK_EQ_STR(json_string_value(json_object_get(chat, "eos_token")), "<mine>");
    CHECK_EQ_STR(json_string_value(json_object_get(chat, "unk_token")), "<unk>");
    CHECK(json_object_get(chat, "pad_token") == NULL);
    json_decref(chat);
    xllm_gguf_close(g);
}

TEST(chat_template_go_dialect_dispatch)
{
    xllm_chat_template *t = NULL;
    const char *src = "{{- range .Messages }}<{{ .Role }}>{{ .Content }}\n{{ end }}";
    CHECK_OK(xllm_chat_template_new(src, strlen(src), &t));
    if (!t)
        return;
    CHECK_EQ_INT(xllm_chat_template_is_go(t), 1);
    json_t *chat = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, NULL);
    xllm_buf out;
    xllm_buf_init(&out, 0);
    CHECK_OK(xllm_chat_template_render(t, chat, &out));
    CHECK_EQ_STR(out.data, "<user>hi\n");
    xllm_buf_free(&out);
    json_decref(chat);
    xllm_chat_template_free(t);
}
