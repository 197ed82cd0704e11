/* test_name.c - model names parsed, defaulted and printed as Ollama does
 * (cases from Ollama's documented name forms). */
#include "../test.h"
#include "base/alloc.h"
#include "store/details.h"
#include "store/manifest.h"
#include "store/name.h"

static void check_name(const char *in, const char *host, const char *ns, const char *model, const char *tag,
                       const char *display)
{
    xllm_model_name n;
    char buf[XLLM_NAME_STR_MAX];
    CHECK_OK(xllm_model_name_parse(in, &n));
    CHECK_EQ_STR(n.host, host);
    CHECK_EQ_STR(n.ns, ns);
    CHECK_EQ_STR(n.model, model);
    CHECK_EQ_STR(n.tag, tag);
    xllm_model_name_display(&n, buf, sizeof buf);
    CHECK_EQ_STR(buf, display);
}

TEST(name_defaults_and_forms)
{
    check_name("llama3", "registry.ollama.ai", "library", "llama3", "latest", "llama3:latest");
    check_name("llama3.2:3b", "registry.ollama.ai", "library", "llama3.2", "3b", "llama3.2:3b");
    check_name("jmorgan/mistral:q4", "registry.ollama.ai", "jmorgan", "mistral", "q4", "jmorgan/mistral:q4");
    check_name("example.com:5000/team/model:v1", "example.com:5000", "team", "model", "v1",
               "example.com:5000/team/model:v1");
    check_name("https://registry.ollama.ai/library/phi3:mini", "registry.ollama.ai", "library", "phi3", "mini",
               "phi3:mini");
    check_name("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co", "bartowski",
               "Llama-3.2-1B-Instruct-GGUF", "Q4_K_M", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M");
    check_name("huggingface.co/user/repo", "hf.co", "user", "repo", "latest", "hf.co/user/repo:latest");
    check_name("example.com:5000/team/model", "example.com:5000", "team", "model", "latest",
               "example.com:5000/team/model:latest");
}

TEST(name_invalid_parts_named)
{
    static const char *bad[] = {"", ":latest", "model:", "-model", "a/b/c/d/e", "bad.ns/model", "mo del",
                                "model:ta/g", "../x", "model:tag:more"};
    xllm_model_name n;
    char long_name[200];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(xllm_model_name_parse(bad[i], &n) == XLLM_ERR_INVALID_ARGUMENT, "'%s' accepted", bad[i]);
    CHECK(xllm_model_name_parse("bad.ns/model", &n) != XLLM_OK && strstr(xllm_last_error(), "namespace"));
    memset(long_name, 'a', 81);
    long_name[81] = 0;
    CHECK(xllm_model_name_parse(long_name, &n) == XLLM_ERR_INVALID_ARGUMENT);
    long_name[80] = 0;
    CHECK_OK(xllm_model_name_parse(long_name, &n));
}

TEST(name_equal_ignores_case_and_path)
{
    xllm_model_name a, b;
    char path[XLLM_NAME_STR_MAX];
    CHECK_OK(xllm_model_name_parse("Llama3:Latest", &a));
    CHECK_OK(xllm_model_name_parse("llama3", &b));
    CHECK(xllm_model_name_equal(&a, &b));
    xllm_model_name_path(&b, path, sizeof path);
    CHECK_EQ_STR(path, "registry.ollama.ai/library/llama3/latest");
    CHECK(!xllm_model_name_is_hf(&b));
}

TEST(manifest_parse_and_write)
{
    static const char text[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
        "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
        "\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000001\",\"size\":10},"
        "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
        "\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000002\",\"size\":100},"
        "{\"mediaType\":\"application/vnd.ollama.image.params\","
        "\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000003\",\"size\":5}]}";
    xllm_manifest m, back;
    char *out = NULL;
    size_t len = 0;
    CHECK_OK(xllm_manifest_parse(text, sizeof text - 1, &m));
    CHECK_EQ_INT(m.n_layers, 2);
    CHECK_EQ_INT(xllm_manifest_size(&m), 115);
    CHECK(xllm_manifest_find(&m, XLLM_MT_PARAMS) == &m.layers[1]);
    CHECK_OK(xllm_manifest_serialize(&m, &out, &len));
    CHECK_EQ_STR(out, text); /* the registry's compact key order, byte for byte */
    CHECK_OK(xllm_manifest_parse(out, len, &back));
    CHECK_EQ_STR(back.layers[0].digest, m.layers[0].digest);
    xllm_manifest_free(&back);
    xllm_manifest_remove_type(&m, XLLM_MT_MODEL);
    CHECK_EQ_INT(m.n_layers, 1);
    xllm_free(out);
    xllm_manifest_free(&m);
}

TEST(manifest_rejects_bad_digests)
{
    static const char *bad[] = {
        "{\"layers\":[{\"mediaType\":\"m\",\"digest\":\"sha256:../../etc/passwd\",\"size\":1}]}",
        "{\"layers\":[{\"mediaType\":\"m\",\"digest\":\"sha256:ABCDEF\",\"size\":1}]}",
        "{\"layers\":[{\"mediaType\":\"m\",\"digest\":\"md5:00\",\"size\":1}]}",
        "{\"layers\":[{\"mediaType\":\"m\",\"size\":1}]}",
        "{\"layers\":{}}",
        "[1,2]",
        "{\"layers\":[",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xllm_manifest m;
        CHECK_MSG(xllm_manifest_parse(bad[i], strlen(bad[i]), &m) == XLLM_ERR_FORMAT, "accepted: %s", bad[i]);
    }
    CHECK(xllm_digest_valid("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0));
    CHECK(!xllm_digest_valid("sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0));
    CHECK(xllm_digest_valid("sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1));
}

TEST(details_numbers_like_ollama)
{
    char b[32];
    static const struct {
        uint64_t n;
        const char *want;
    } cases[] = {{8030261248ull, "8.0B"}, {8000000000ull, "8B"}, {1235814400ull, "1.2B"}, {494032768, "494.03M"},
                 {7000000, "7M"},          {12345, "12K"},        {999, "999"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xllm_human_number(cases[i].n, b, sizeof b);
        CHECK_EQ_STR(b, cases[i].want);
    }
    CHECK_EQ_STR(xllm_file_type_name(15), "Q4_K_M");
    CHECK_EQ_STR(xllm_file_type_name(7), "Q8_0");
    CHECK(xllm_file_type_name(4) == NULL);
    CHECK(xllm_file_type_name(1000) == NULL);
}
