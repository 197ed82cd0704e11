/* test_gotmpl.c - the Go-template dialect against Go's own text/template: every
 * language case in tests/fixtures/gotemplates/lang.json and every template x
 * conversation golden under tests/fixtures/gotemplates/golden/ (both written by
 * tools/gotmpl_oracle, which runs Go's text/template with Ollama's functions,
 * data and collation) must render byte for byte the same, or fail where Go fails.
 * Plus detection, error positions, malformed chats and the execution limits. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "template/gotmpl.h"

#define FIX "tests/fixtures/gotemplates"

/* Render src with data (a JSON object) or chat; 0 ok (out set), else status. */
static int render(const char *src, size_t len, const json_t *data, const json_t *chat, xllm_buf *out)
{
    xllm_gotmpl *t;
    xllm_status st = xllm_gotmpl_parse(src, len, &t);
    if (st)
        return (int)st;
    st = chat ? xllm_gotmpl_render_chat(t, chat, out) : xllm_gotmpl_render(t, data, out);
    xllm_gotmpl_free(t);
    return (int)st;
}

static int show_diff(const char *name, const char *want, size_t wn, const char *got, size_t gn)
{
    size_t i = 0;
    while (i < wn && i < gn && want[i] == got[i])
        i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "  %s: differs at byte %zu\n    want: %.*s\n    got:  %.*s\n", name, i,
            (int)((wn - from) > 120 ? 120 : wn - from), want + from,
            (int)((gn - from) > 120 ? 120 : gn - from), got + from);
    return 0;
}

TEST(gotmpl_lang_vs_go)
{
    /* XLLM_GOTMPL_LANG names another case file (tools/gotmpl_oracle/diff_dir.sh) */
    const char *path = getenv("XLLM_GOTMPL_LANG");
    json_error_t je;
    json_t *cases = json_load_file(path && *path ? path : FIX "/lang.json", 0, &je);
    CHECK_MSG(cases != NULL, "lang.json: %s", je.text);
    if (!cases)
        return;
    size_t i, same = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *tmpl = json_object_get(c, "tmpl");
        json_t *want = json_object_get(c, "out");
        xllm_buf out;
        xllm_buf_init(&out, 0);
        int rc = render(json_string_value(tmpl), json_string_length(tmpl), json_object_get(c, "data"),
                        json_object_get(c, "chat"), &out);
        if (want) {
            int ok = rc == 0 && out.len == json_string_length(want) &&
                     memcmp(out.data ? out.data : "", json_string_value(want), out.len) == 0;
            if (!ok) {
                if (rc)
                    fprintf(stderr, "  %s: error: %s\n", name, xllm_last_error());
                else
                    show_diff(name, json_string_value(want), json_string_length(want), out.data ? out.data : "",
                              out.len);
            }
            CHECK_MSG(ok, "lang case %s differs from Go", name);
            same += ok;
        } else {
            CHECK_MSG(rc != 0, "lang case %s: Go fails (%s), we rendered \"%.*s\"", name,
                      json_string_value(json_object_get(c, "err")), (int)out.len, out.data ? out.data : "");
            same += rc != 0;
        }
        xllm_buf_free(&out);
    }
    fprintf(stderr, "  gotmpl lang: %zu / %zu cases identical to Go\n", same, json_array_size(cases));
    json_decref(cases);
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

TEST(gotmpl_corpus_vs_go)
{
    DIR *td = opendir(FIX "/templates");
    CHECK(td != NULL);
    if (!td)
        return;
    int pairs = 0, same = 0, ntmpl = 0;
    struct dirent *te;
    while ((te = readdir(td))) {
        if (!ends_with(te->d_name, ".gotmpl"))
            continue;
        char path[512], base[256];
        snprintf(path, sizeof path, FIX "/templates/%s", te->d_name);
        snprintf(base, sizeof base, "%.*s", (int)(strlen(te->d_name) - 7), te->d_name);
        char *src;
        size_t slen;
        CHECK_OK(xllm_read_file(path, 1 << 20, &src, &slen));
        xllm_gotmpl *t = NULL;
        xllm_status pst = xllm_gotmpl_parse(src, slen, &t);
        CHECK_MSG(pst == XLLM_OK, "%s: %s", te->d_name, xllm_last_error());
        ntmpl++;
        DIR *cd = opendir(FIX "/conversations");
        struct dirent *ce;
        while (t && cd && (ce = readdir(cd))) {
            if (!ends_with(ce->d_name, ".json"))
                continue;
            char cpath[512], gpath[600], epath[600];
            snprintf(cpath, sizeof cpath, FIX "/conversations/%s", ce->d_name);
            int cl = (int)strlen(ce->d_name) - 5;
            snprintf(gpath, sizeof gpath, FIX "/golden/%s/%.*s.txt", base, cl, ce->d_name);
            snprintf(epath, sizeof epath, FIX "/golden/%s/%.*s.err", base, cl, ce->d_name);
            json_error_t je;
            json_t *chat = json_load_file(cpath, 0, &je);
            CHECK_MSG(chat != NULL, "%s: %s", cpath, je.text);
            xllm_buf out;
            xllm_buf_init(&out, 0);
            xllm_status st = chat ? xllm_gotmpl_render_chat(t, chat, &out) : XLLM_ERR_FORMAT;
            char *want = NULL;
            size_t wlen = 0;
            pairs++;
            if (xllm_read_file(gpath, 1 << 24, &want, &wlen) == XLLM_OK) {
                int ok = st == XLLM_OK && out.len == wlen && memcmp(out.data ? out.data : "", want, wlen) == 0;
                if (!ok && st)
                    fprintf(stderr, "  %s x %s: error: %s\n", base, ce->d_name, xllm_last_error());
                else if (!ok)
                    show_diff(gpath, want, wlen, out.data ? out.data : "", out.len);
                CHECK_MSG(ok, "%s x %s differs from Go", base, ce->d_name);
                same += ok;
            } else {
                CHECK_MSG(xllm_path_exists(epath), "no golden for %s x %s", base, ce->d_name);
                CHECK_MSG(st != XLLM_OK, "%s x %s: Go fails, we rendered", base, ce->d_name);
                same += st != XLLM_OK;
            }
            xllm_free(want);
            xllm_buf_free(&out);
            json_decref(chat);
        }
        if (cd)
            closedir(cd);
        xllm_gotmpl_free(t);
        xllm_free(src);
    }
    closedir(td);
    fprintf(stderr, "  gotmpl corpus: %d templates, %d / %d pairs identical to Go\n", ntmpl, same, pairs);
    CHECK(pairs > 0);
}

TEST(gotmpl_detect_dialect)
{
    static const struct {
        const char *src;
        int go;
    } cases[] = {
        {"{{ .System }} {{ .Prompt }}", 1},
        {"{{- range .Messages }}{{ .Content }}{{ end }}", 1},
        {"{{ if .Tools }}x{{ end }}", 1},
        {"{{ $x := 1 }}", 1},
        {"{{/* c */}}hi", 1},
        {"{{- range $i, $m := .Messages }}", 1},
        {"{{ range(3)|list }}", 0},
        {"{{ if(x) }}", 0},
        {"{% for m in messages %}{{ m.content }}{% endfor %}", 0},
        {"{{ bos_token }}{{ messages[0]['content'] }}", 0},
        {"{#- comment #}{{ .x }}", 0},
        {"plain text", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(xllm_gotmpl_detect(cases[i].src, strlen(cases[i].src)) == cases[i].go, "detect(%s)",
                  cases[i].src);
}

TEST(gotmpl_error_positions)
{
    xllm_gotmpl *t;
    const char *src = "line one\n  {{ if .X }}\n{{ .Y ^ }}";
    CHECK(xllm_gotmpl_parse(src, strlen(src), &t) == XLLM_ERR_FORMAT);
    CHECK_MSG(strstr(xllm_last_error(), "line 3, column 7") != NULL, "got: %s", xllm_last_error());
    const char *src2 = "ab\n{{ index .l 5 }}";
    CHECK_OK(xllm_gotmpl_parse(src2, strlen(src2), &t));
    json_t *d = json_pack("{s:[i]}", "l", 1);
    xllm_buf out;
    xllm_buf_init(&out, 0);
    CHECK(xllm_gotmpl_render(t, d, &out) != XLLM_OK);
    CHECK_MSG(strstr(xllm_last_error(), "line 2, column 4") && strstr(xllm_last_error(), "out of range"),
              "got: %s", xllm_last_error());
    CHECK_EQ_INT(out.len, 0);
    xllm_buf_free(&out);
    json_decref(d);
    xllm_gotmpl_free(t);
}

TEST(gotmpl_limits)
{
    static const char *const runaway[] = {
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
        "{{ define \"r\" }}{{ template \"r\" . }}{{ template \"r\" . }}{{ end }}{{ range .l }}{{ template \"r\" . }}{{ end }}",
    };
    for (size_t i = 0; i < sizeof runaway / sizeof runaway[0]; i++) {
        xllm_gotmpl *t;
        CHECK_OK(xllm_gotmpl_parse(runaway[i], strlen(runaway[i]), &t));
        json_t *d = json_pack("{s:[i,i]}", "l", 1, 2);
        xllm_buf out;
        xllm_buf_init(&out, 0);
        CHECK_EQ_INT(xllm_gotmpl_render(t, d, &out), XLLM_ERR_LIMIT);
        xllm_buf_free(&out);
        json_decref(d);
        xllm_gotmpl_free(t);
    }
    /* nesting beyond the parse depth limit is an error, not a stack overflow */
    xllm_buf deep;
    xllm_buf_init(&deep, 0);
    for (int i = 0; i < 5000; i++)
        xllm_buf_puts(&deep, "{{ if 1 }}");
    xllm_gotmpl *t;
    CHECK(xllm_gotmpl_parse(deep.data, deep.len, &t) == XLLM_ERR_FORMAT);
    xllm_buf_free(&deep);
}

TEST(gotmpl_ollama_functions)
{
    /* currentDate honours SOURCE_DATE_EPOCH (UTC) for reproducible renders */
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    const char *src = "{{ currentDate }} {{ yesterdayDate }}";
    xllm_buf out;
    xllm_buf_init(&out, 0);
    CHECK_EQ_INT(render(src, strlen(src), NULL, NULL, &out), 0);
    CHECK_EQ_STR(out.data, "2023-11-14 2023-11-13");
    xllm_buf_free(&out);
    unsetenv("SOURCE_DATE_EPOCH");
}

TEST(gotmpl_chat_input_errors)
{
    /* malformed chats are a status and a message, never a crash or a guess */
    static const char *const bad[] = {
        "[]",
        "{\"messages\": 5}",
        "{\"messages\": [5]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": 7}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}",
        "{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"function\": {\"name\": \"f\", "
        "\"arguments\": \"{not json\"}}]}]}",
        "{\"messages\": [], \"think\": \"extreme\"}",
        "{\"messages\": [], \"tools\": {}}",
        "{\"messages\": [], \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", "
        "\"parameters\": {\"properties\": {\"x\": {\"type\": 5}}}}}]}",
    };
    const char *src = "{{ range .Messages }}{{ .Content }}{{ end }}{{ .Tools }}";
    xllm_gotmpl *t;
    CHECK_OK(xllm_gotmpl_parse(src, strlen(src), &t));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *chat = json_loads(bad[i], 0, NULL);
        CHECK(chat != NULL);
        xllm_buf out;
        xllm_buf_init(&out, 0);
        xllm_status st = xllm_gotmpl_render_chat(t, chat, &out);
        CHECK_MSG(st != XLLM_OK && *xllm_last_error(), "chat %zu accepted", i);
        CHECK_EQ_INT(out.len, 0);
        xllm_buf_free(&out);
        json_decref(chat);
    }
    xllm_gotmpl_free(t);
}

TEST(gotmpl_output_cap)
{
    /* the caller's buffer cap is honoured: a render that outgrows it fails cleanly */
    const char *src = "{{ range .l }}{{ range $.l }}0123456789{{ end }}{{ end }}";
    xllm_gotmpl *t;
    CHECK_OK(xllm_gotmpl_parse(src, strlen(src), &t));
    json_t *l = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(l, json_integer(i));
    json_t *d = json_pack("{s:o}", "l", l);
    xllm_buf out;
    xllm_buf_init(&out, 1000);
    CHECK(xllm_gotmpl_render(t, d, &out) != XLLM_OK);
    xllm_buf_free(&out);
    xllm_buf_init(&out, 0);
    CHECK_OK(xllm_gotmpl_render(t, d, &out));
    CHECK_EQ_INT(out.len, 100000);
    xllm_buf_free(&out);
    json_decref(d);
    xllm_gotmpl_free(t);
}

TEST(gotmpl_printf_nul_verb)
{
    /* a NUL after % is a verb like any other (found by fuzz_gotmpl) */
    static const char src[] = "{{ printf \"a%\x00|%\x00\" 99.5 }}";
    xllm_buf out;
    xllm_buf_init(&out, 0);
    CHECK_EQ_INT(render(src, sizeof src - 1, NULL, NULL, &out), 0);
    static const char want[] = "a%!\x00(float64=99.5)|%!\x00(MISSING)";
    CHECK_EQ_INT(out.len, sizeof want - 1);
    CHECK(out.data && memcmp(out.data, want, sizeof want - 1) == 0);
    xllm_buf_free(&out);
}
