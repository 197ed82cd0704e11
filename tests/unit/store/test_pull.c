/* test_pull.c - pulls through the registry fixture (tests/registry_fixture.py):
 * the Ollama protocol with redirects and ranged parts, Hugging Face GGUF and
 * safetensors repos, a gated repo, update checks, and every failure (digest
 * mismatch, truncated transfer, 404 manifest and blob, stalled connection,
 * full disk) leaving the store tree byte-identical. */
#include <sys/resource.h>

#include "../test.h"
#include "store/http.h"
#include "store/pull.h"
#include "store/store.h"
#include "store_util.h"

typedef struct events {
    char text[8192];
    int n_bytes_events;
} events;

static void on_event(const xllm_pull_event *ev, void *ud)
{
    events *e = ud;
    size_t len = strlen(e->text);
    const char *last = len ? e->text + len - 1 : e->text;
    while (last > e->text && last[-1] != '\n')
        last--;
    if (ev->digest && ev->completed && ev->completed < ev->total)
        e->n_bytes_events++;
    if (len && !strncmp(last, ev->status, strlen(ev->status)) && last[strlen(ev->status)] == '\n')
        return; /* same status as the line before */
    if (len + strlen(ev->status) + 2 < sizeof e->text)
        snprintf(e->text + len, sizeof e->text - len, "%s\n", ev->status);
}

static xllm_status pull(xllm_store *s, const char *name, events *e)
{
    xllm_pull_opts o = {on_event, e, NULL};
    if (e)
        memset(e, 0, sizeof *e);
    return xllm_store_pull(s, name, e ? &o : NULL);
}

/* Pull that must fail with st and a message containing text, leaving the tree as it was. */
static void expect_failure(xllm_store *s, const char *root, const char *name, xllm_status want, const char *text)
{
    char before[65], after[65];
    xllm_status st;
    su_tree_hash(root, before);
    st = pull(s, name, NULL);
    CHECK_MSG(st == want, "pull %s: status %d, want %d (%s)", name, (int)st, (int)want, xllm_last_error());
    CHECK_MSG(strstr(xllm_last_error(), text) != NULL, "pull %s: '%s' lacks '%s'", name, xllm_last_error(), text);
    su_tree_hash(root, after);
    CHECK_MSG(!strcmp(before, after), "pull %s changed the store", name);
}

TEST(pull_ollama_registry_and_failures)
{
    su_fixture fx;
    char root[64];
    xllm_store *s = NULL;
    xllm_model_ref r;
    events e;
    if (!su_fixture_start(&fx)) {
        test_skip("needs python3 and tests/registry_fixture.py");
        return;
    }
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK_OK(xllm_store_open(root, &s));
    setenv("XLLM_PULL_PART_SIZE", "1000000", 1); /* the 2.5 MB model in 2 ranged parts */
    CHECK_OK(pull(s, "tiny", &e));
    unsetenv("XLLM_PULL_PART_SIZE");
    CHECK(!strncmp(e.text, "pulling manifest\npulling ", 25));
    CHECK(strstr(e.text, "\nverifying sha256 digest\nwriting manifest\nsuccess\n") != NULL);
    CHECK(su_fixture_log_contains(&fx, "manifests/latest | range= | accept=application/vnd.docker.distribution."
                                       "manifest.v2+json"));
    CHECK(su_fixture_log_contains(&fx, "GET /cdn/sha256:")); /* the redirect was followed */
    CHECK(su_fixture_log_contains(&fx, "range=bytes=0-1250"));
    CHECK(su_fixture_log_contains(&fx, "range=bytes=1250"));
    CHECK_OK(xllm_store_resolve(s, "tiny:latest", &r));
    {
        /* the manifest is kept byte for byte: the ID is the registry's digest */
        char url[160];
        xllm_http_reply rep;
        snprintf(url, sizeof url, "%s/v2/library/tiny/manifests/latest", fx.url);
        CHECK_OK(xllm_http_get(url, XLLM_MT_MANIFEST, NULL, 1 << 20, &rep));
        CHECK_EQ_STR(rep.docker_digest, r.entry.digest);
        xllm_http_reply_free(&rep);
    }
    {
        /* Ollama's layout on disk */
        char p[512];
        snprintf(p, sizeof p, "%s/manifests/registry.ollama.ai/library/tiny/latest", root);
        CHECK(xllm_path_exists(p));
        for (size_t i = 0; i < r.manifest.n_layers; i++) {
            snprintf(p, sizeof p, "%s/blobs/sha256-%s", root, r.manifest.layers[i].digest + 7);
            CHECK(xllm_path_exists(p));
        }
    }
    CHECK_EQ_STR(r.template_text, "{{ .System }} {{ .Prompt }}");
    CHECK_EQ_STR(r.system, "You are tiny.");
    CHECK_EQ_INT(r.n_licenses, 1);
    xllm_model_ref_free(&r);
    /* a second pull of the same model downloads nothing */
    CHECK_OK(pull(s, "tiny", &e));
    CHECK_EQ_INT(e.n_bytes_events, 0);

    expect_failure(s, root, "corrupt", XLLM_ERR_FORMAT, "digest mismatch");
    expect_failure(s, root, "truncated", XLLM_ERR_IO, "dropped");
    setenv("XLLM_PULL_PART_SIZE", "100000", 1); /* the same in 4 parallel parts */
    expect_failure(s, root, "truncated", XLLM_ERR_IO, "dropped");
    expect_failure(s, root, "corrupt", XLLM_ERR_FORMAT, "digest mismatch");
    unsetenv("XLLM_PULL_PART_SIZE");
    expect_failure(s, root, "no-such-model", XLLM_ERR_NOT_FOUND, "HTTP 404");
    expect_failure(s, root, "missingblob", XLLM_ERR_NOT_FOUND, "HTTP 404");
    setenv("XLLM_PULL_STALL_TIMEOUT", "1", 1);
    expect_failure(s, root, "stall", XLLM_ERR_TIMEOUT, "stalled");
    unsetenv("XLLM_PULL_STALL_TIMEOUT");
    expect_failure(s, root, "-bad", XLLM_ERR_INVALID_ARGUMENT, "invalid model name");
    xllm_store_close(s);
    su_rm_tree(root);
    su_fixture_stop(&fx);
}

/* The disk filling up: a child process with RLIMIT_FSIZE below the blob size
 * (a tmpfs of a few MB would need root and mount; the file-size limit gives
 * the same failing write, EFBIG instead of ENOSPC, without privileges). */
TEST(pull_full_disk_leaves_store_unchanged)
{
    su_fixture fx;
    char root[64], before[65], after[65];
    xllm_store *s = NULL;
    pid_t pid;
    int status = 0;
    if (!su_fixture_start(&fx)) {
        test_skip("needs python3 and tests/registry_fixture.py");
        return;
    }
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK_OK(xllm_store_open(root, &s));
    CHECK_OK(pull(s, "shared", NULL));
    su_tree_hash(root, before);
    pid = fork();
    if (pid == 0) {
        struct rlimit rl = {300000, 300000};
        xllm_status st;
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        st = pull(s, "corrupt", NULL); /* its model blob is 400 KB */
        _exit(st == XLLM_ERR_IO && strstr(xllm_last_error(), "file size limit") ? 0 : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    su_tree_hash(root, after);
    CHECK_EQ_STR(after, before);
    xllm_store_close(s);
    su_rm_tree(root);
    su_fixture_stop(&fx);
}

TEST(pull_hugging_face)
{
    su_fixture fx;
    char root[64], path[512];
    xllm_store *s = NULL;
    xllm_model_ref r;
    events e;
    if (!su_fixture_start(&fx)) {
        test_skip("needs python3 and tests/registry_fixture.py");
        return;
    }
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK_OK(xllm_store_open(root, &s));
    CHECK_OK(pull(s, "hf.co/tester/tiny-GGUF", &e)); /* latest: Q4_K_M */
    CHECK_OK(xllm_store_resolve(s, "hf.co/tester/tiny-GGUF", &r));
    CHECK(su_file_contains(r.model_path, "hf-q4"));
    xllm_model_ref_free(&r);
    CHECK_OK(pull(s, "hf.co/tester/tiny-GGUF:q8_0", &e)); /* case-insensitive quant */
    CHECK_OK(xllm_store_resolve(s, "hf.co/tester/tiny-GGUF:q8_0", &r));
    CHECK(su_file_contains(r.model_path, "hf-q8"));
    xllm_model_ref_free(&r);
    expect_failure(s, root, "hf.co/tester/tiny-GGUF:Q2_K", XLLM_ERR_NOT_FOUND, "tiny-Q8_0.gguf");
    expect_failure(s, root, "hf.co/tester/absent", XLLM_ERR_NOT_FOUND, "HF_TOKEN");
    expect_failure(s, root, "hf.co/tester/gated", XLLM_ERR_NOT_FOUND, "HF_TOKEN");
    setenv("HF_TOKEN", "fixture-token", 1);
    CHECK_OK(pull(s, "hf.co/tester/gated", &e));
    unsetenv("HF_TOKEN");
    CHECK(su_fixture_log_contains(&fx, "auth=Bearer fixture-token"));
    /* a safetensors repo: one layer per file, shown as a directory */
    CHECK_OK(pull(s, "hf.co/tester/tiny-llama", &e));
    CHECK_OK(xllm_store_resolve(s, "hf.co/tester/tiny-llama", &r));
    CHECK_EQ_INT(r.model_is_dir, 1);
    snprintf(path, sizeof path, "%s/config.json", r.model_path ? r.model_path : "");
    CHECK(su_file_contains(path, "LlamaForCausalLM"));
    snprintf(path, sizeof path, "%s/reference.json", r.model_path ? r.model_path : "");
    CHECK(!xllm_path_exists(path)); /* only the files a model needs */
    xllm_model_ref_free(&r);
    CHECK_OK(xllm_store_delete(s, "hf.co/tester/tiny-llama"));
    snprintf(path, sizeof path, "%s/hf", root);
    CHECK(!xllm_path_exists(path));
    xllm_store_close(s);
    su_rm_tree(root);
    su_fixture_stop(&fx);
}

TEST(pull_hf_pick_quant)
{
    static const char *names[] = {"README.md", "m-Q4_K.gguf", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "mmproj-m-f16.gguf",
                                  "sub/m-Q2_K.gguf"};
    CHECK_EQ_INT(xllm_hf_pick_gguf(names, 6, "latest"), 2);
    CHECK_EQ_INT(xllm_hf_pick_gguf(names, 6, "q4_k"), 1);
    CHECK_EQ_INT(xllm_hf_pick_gguf(names, 6, "Q8_0"), 3);
    CHECK_EQ_INT(xllm_hf_pick_gguf(names, 6, "f16"), -1); /* mmproj is never the model */
    CHECK_EQ_INT(xllm_hf_pick_gguf(names, 6, "Q2_K"), -1); /* only top-level files */
    CHECK(strstr(xllm_last_error(), "m-Q4_K_M.gguf") != NULL);
    CHECK_EQ_INT(xllm_hf_pick_gguf(names + 3, 1, "latest"), 0);
    CHECK_EQ_INT(xllm_hf_pick_gguf(names, 1, "latest"), -1);
}

TEST(pull_check_updates_and_cache)
{
    su_fixture fx;
    char root[64], url[128];
    xllm_store *s = NULL;
    xllm_http_reply r;
    int newer = -1;
    if (!su_fixture_start(&fx)) {
        test_skip("needs python3 and tests/registry_fixture.py");
        return;
    }
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK_OK(xllm_store_open(root, &s));
    CHECK_OK(pull(s, "tiny", NULL));
    CHECK_OK(pull(s, "hf.co/tester/tiny-GGUF", NULL));
    CHECK_OK(xllm_store_check_update(s, "tiny", &newer));
    CHECK_EQ_INT(newer, 0);
    CHECK_OK(xllm_store_check_update(s, "hf.co/tester/tiny-GGUF", &newer));
    CHECK_EQ_INT(newer, 0);
    snprintf(url, sizeof url, "%s/_fixture/bump/tiny", fx.url);
    CHECK_OK(xllm_http_get(url, NULL, NULL, 1024, &r));
    xllm_http_reply_free(&r);
    CHECK_OK(xllm_store_check_update(s, "tiny", &newer)); /* cached reply: still fresh */
    CHECK_EQ_INT(newer, 0);
    setenv("XLLM_REGISTRY_CACHE_TTL", "0", 1);
    CHECK_OK(xllm_store_check_update(s, "tiny", &newer));
    unsetenv("XLLM_REGISTRY_CACHE_TTL");
    CHECK_EQ_INT(newer, 1);
    {
        /* pulling the new version drops the blobs only the old one had */
        xllm_manifest old;
        CHECK_OK(xllm_store_read_manifest(s, "tiny", NULL, &old, NULL, NULL));
        CHECK_OK(pull(s, "tiny", NULL));
        CHECK_OK(xllm_store_check_update(s, "tiny", &newer));
        CHECK_EQ_INT(newer, 0);
        if (old.n_layers > 3) {
            CHECK(xllm_store_has_blob(s, old.layers[0].digest, UINT64_MAX)); /* model: the same in both */
            CHECK(!xllm_store_has_blob(s, old.layers[3].digest, UINT64_MAX)); /* old params */
        }
        xllm_manifest_free(&old);
    }
    xllm_store_close(s);
    su_rm_tree(root);
    su_fixture_stop(&fx);
}

TEST(pull_events_as_ndjson)
{
    xllm_pull_event ev = {"pulling 0123456789ab", "sha256:0123456789abcdef", 2000, 500}, back;
    char line[256], status[64], digest[80];
    CHECK_EQ_INT(xllm_pull_event_to_json(&ev, line, sizeof line), (int)strlen(line));
    CHECK_EQ_STR(line, "{\"status\":\"pulling 0123456789ab\",\"digest\":\"sha256:0123456789abcdef\",\"total\":2000,"
                       "\"completed\":500}");
    CHECK_OK(xllm_pull_event_from_json(line, strlen(line), &back, status, sizeof status, digest, sizeof digest));
    CHECK_EQ_STR(back.status, ev.status);
    CHECK_EQ_STR(back.digest, ev.digest);
    CHECK_EQ_INT(back.total, 2000);
    CHECK_EQ_INT(back.completed, 500);
    ev = (xllm_pull_event){"success", NULL, 0, 0};
    xllm_pull_event_to_json(&ev, line, sizeof line);
    CHECK_EQ_STR(line, "{\"status\":\"success\"}");
    CHECK_EQ_INT(xllm_pull_event_to_json(&ev, line, 8), -1);
    {
        const char *err_line = "{\"error\":\"pull model manifest: file does not exist\"}";
        CHECK(xllm_pull_event_from_json(err_line, strlen(err_line), &back, status, sizeof status, digest,
                                        sizeof digest) == XLLM_ERR_IO);
    }
    CHECK(strstr(xllm_last_error(), "file does not exist") != NULL);
    CHECK(xllm_pull_event_from_json("nope", 4, &back, status, sizeof status, digest, sizeof digest) ==
          XLLM_ERR_FORMAT);
}
