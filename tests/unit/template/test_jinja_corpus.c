/* test_jinja_corpus.c - every real chat template of the corpus
 * (tests/fixtures/templates/corpus, collected by tools/collect_chat_templates.mjs)
 * rendered with every conversation of conversations.json must give exactly the
 * bytes Python's Jinja2, configured as transformers configures it, gave
 * (tools/make_template_goldens.py -> goldens/NAME.json); where Jinja2 raised, we
 * must fail too. Prints the counts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "template/chat_template.h"
#include "template/jinja.h"

#define FIX "tests/fixtures/templates/"

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        test_fail(__FILE__, __LINE__, "%s:%d: %s", path, e.line, e.text);
    return j;
}

/* Index of the first differing byte (for the failure message). */
static size_t first_diff(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    return i;
}

static json_t *find_conv(json_t *convs, const char *id)
{
    size_t i;
    json_t *c;
    json_array_foreach(convs, i, c) if (!strcmp(json_string_value(json_object_get(c, "id")), id)) return
        json_object_get(c, "context");
    return NULL;
}

TEST(jinja_corpus_matches_python_jinja2)
{
    json_t *sources = load_json(FIX "sources.json"), *convs_doc = load_json(FIX "conversations.json");
    if (!sources || !convs_doc) {
        json_decref(sources);
        json_decref(convs_doc);
        return;
    }
    char sde[32];
    snprintf(sde, sizeof sde, "%lld", (long long)json_integer_value(json_object_get(convs_doc, "source_date_epoch")));
    setenv("SOURCE_DATE_EPOCH", sde, 1);
    json_t *convs = json_object_get(convs_doc, "conversations");
    int n_templates = 0, n_same = 0, n_raise = 0, n_bad = 0, shown = 0;
    const char *name;
    json_t *unused;
    json_object_foreach(sources, name, unused) {
        char path[512], *src = NULL;
        size_t len = 0;
        xllm_jinja *t = NULL;
        snprintf(path, sizeof path, FIX "corpus/%s.jinja", name);
        if (xllm_read_file(path, 1u << 20, &src, &len) != XLLM_OK) {
            test_fail(__FILE__, __LINE__, "%s: %s", path, xllm_last_error());
            continue;
        }
        snprintf(path, sizeof path, FIX "goldens/%s.json", name);
        json_t *gold = load_json(path);
        n_templates++;
        xllm_chat_template *ct = NULL; /* the server's path: dialect detection, then the same render */
        CHECK_MSG(xllm_chat_template_new(src, len, &ct) == XLLM_OK && !xllm_chat_template_is_go(ct),
                  "%s: not taken as Jinja2 by xllm_chat_template_new: %s", name, xllm_last_error());
        if (xllm_jinja_parse(src, len, &t) != XLLM_OK) {
            test_fail(__FILE__, __LINE__, "%s: parse: %s", name, xllm_last_error());
            n_bad += (int)json_array_size(json_object_get(gold, "cases"));
            json_decref(gold);
            xllm_chat_template_free(ct);
            xllm_free(src);
            continue;
        }
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(gold, "cases"), i, cs) {
            const char *cid = json_string_value(json_object_get(cs, "conv"));
            json_t *ctx = json_deep_copy(find_conv(convs, cid)), *tokens = json_object_get(gold, "tokens");
            const char *k;
            json_t *v;
            json_object_foreach(tokens, k, v) if (!json_object_get(ctx, k)) json_object_set(ctx, k, v);
            xllm_buf out;
            xllm_buf_init(&out, 0);
            xllm_status st = xllm_jinja_render(t, ctx, &out);
            json_t *want = json_object_get(cs, "output");
            if (!want) {
                if (st != XLLM_OK) {
                    n_raise++;
                } else {
                    n_bad++;
                    if (shown++ < 10)
                        test_fail(__FILE__, __LINE__, "%s / %s: Jinja2 raised (%s), we rendered", name, cid,
                                  json_string_value(json_object_get(cs, "error")));
                }
            } else if (st != XLLM_OK) {
                n_bad++;
                if (shown++ < 10)
                    test_fail(__FILE__, __LINE__, "%s / %s: %s", name, cid, xllm_last_error());
            } else if (out.len != json_string_length(want) || memcmp(out.data ? out.data : "", json_string_value(want), out.len)) {
                n_bad++;
                size_t d = first_diff(out.data ? out.data : "", out.len, json_string_value(want), json_string_length(want));
                if (shown++ < 10)
                    test_fail(__FILE__, __LINE__, "%s / %s: differs at byte %zu: ours \"%.60s\" want \"%.60s\"", name,
                              cid, d, out.data + (d < out.len ? d : out.len),
                              json_string_value(want) + (d < json_string_length(want) ? d : json_string_length(want)));
            } else {
                n_same++;
                xllm_buf via;
                xllm_buf_init(&via, 0);
                CHECK_MSG(ct && xllm_chat_template_render(ct, ctx, &via) == XLLM_OK && via.len == out.len &&
                              !memcmp(via.data ? via.data : "", out.data ? out.data : "", out.len),
                          "%s / %s: xllm_chat_template_render differs from xllm_jinja_render", name, cid);
                xllm_buf_free(&via);
            }
            xllm_buf_free(&out);
            json_decref(ctx);
        }
        json_decref(gold);
        xllm_jinja_free(t);
        xllm_chat_template_free(ct);
        xllm_free(src);
    }
    printf("  jinja corpus: %d templates, %d pairs identical, %d raise as in Jinja2, %d differ\n", n_templates,
           n_same, n_raise, n_bad);
    CHECK(n_templates >= 60);
    CHECK_EQ_INT(n_bad, 0);
    json_decref(sources);
    json_decref(convs_doc);
}
