/* test_store.c - the store on disk: Ollama's layout read as is (IDs checked
 * against sha256sum of the manifest file), leftover partials, refcounted
 * delete, copy, verified blob writes, damaged blobs reported with the
 * command to fetch them again, create, and export/import, each failure
 * leaving the tree byte-identical. */
#include <stdint.h>

#include "../test.h"
#include "store/archive.h"
#include "store/create.h"
#include "store/store.h"
#include "store_util.h"

/* A blob by hand, as Ollama writes it; digest "sha256:<hex>" into out. */
static void put_blob(const char *root, const char *data, size_t n, char out[XLLM_DIGEST_STR_LEN])
{
    char hex[65], path[512];
    FILE *f;
    xllm_sha256_buf(data, n, hex);
    snprintf(out, XLLM_DIGEST_STR_LEN, "sha256:%s", hex);
    snprintf(path, sizeof path, "%s/blobs/sha256-%s", root, hex);
    f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void put_manifest(const char *root, const char *rel, const char *json)
{
    char path[512], cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname %s/manifests/%s)\"", root, rel);
    su_run(cmd);
    snprintf(path, sizeof path, "%s/manifests/%s", root, rel);
    su_write(path, json);
}

static char gguf_data[64] = "GGUF\3\0\0\0 a tiny model body, not loadable";

/* An Ollama-like store: llama3:latest (model, template, params), a second
 * tag sharing the model blob, and a namespaced model. */
static void make_ollama_dir(const char *root, char model_d[XLLM_DIGEST_STR_LEN], char other_d[XLLM_DIGEST_STR_LEN])
{
    char tmpl_d[XLLM_DIGEST_STR_LEN], par_d[XLLM_DIGEST_STR_LEN], cfg_d[XLLM_DIGEST_STR_LEN];
    char json[2048], dir[512];
    snprintf(dir, sizeof dir, "%s/blobs", root);
    mkdir(root, 0755);
    mkdir(dir, 0755);
    put_blob(root, gguf_data, sizeof gguf_data, model_d);
    put_blob(root, "{{ .Prompt }}", 13, tmpl_d);
    put_blob(root, "{\"stop\":[\"<|eot_id|>\"],\"temperature\":0.6}", 41, par_d);
    put_blob(root, "{\"model_format\":\"gguf\"}", 23, cfg_d);
    put_blob(root, "GGUF other", 10, other_d);
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
             "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"%s\","
             "\"size\":23},\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"%s\","
             "\"size\":%zu},{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"%s\",\"size\":13},"
             "{\"mediaType\":\"application/vnd.ollama.image.params\",\"digest\":\"%s\",\"size\":41}]}",
             cfg_d, model_d, sizeof gguf_data, tmpl_d, par_d);
    put_manifest(root, "registry.ollama.ai/library/llama3/latest", json);
    put_manifest(root, "registry.ollama.ai/library/llama3/8b", json);
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\","
             "\"digest\":\"%s\",\"size\":10}]}",
             other_d);
    put_manifest(root, "registry.ollama.ai/someone/other/v1", json);
}

TEST(store_reads_ollama_layout_as_is)
{
    char root[64], model_d[XLLM_DIGEST_STR_LEN], other_d[XLLM_DIGEST_STR_LEN], cmd[256], want_id[80] = "";
    xllm_store *s = NULL;
    xllm_store_entry *v = NULL;
    size_t n = 0;
    xllm_model_ref r;
    FILE *p;
    CHECK(su_mkdtemp(root, sizeof root));
    make_ollama_dir(root, model_d, other_d);
    /* Ollama's own partial download files are left alone, ours removed. */
    snprintf(cmd, sizeof cmd, "touch %s/blobs/sha256-1234-partial-0 %s/blobs/sha256-aa.partial", root, root);
    su_run(cmd);
    CHECK_OK(xllm_store_open(root, &s));
    if (!s)
        return;
    snprintf(cmd, sizeof cmd, "%s/blobs/sha256-aa.partial", root);
    CHECK(!xllm_path_exists(cmd));
    snprintf(cmd, sizeof cmd, "%s/blobs/sha256-1234-partial-0", root);
    CHECK(xllm_path_exists(cmd));
    /* The ID is the manifest file's sha256 (independent oracle: sha256sum). */
    snprintf(cmd, sizeof cmd, "sha256sum %s/manifests/registry.ollama.ai/library/llama3/latest", root);
    p = popen(cmd, "r");
    if (p) {
        if (!fgets(want_id, 13, p))
            want_id[0] = 0;
        pclose(p);
    }
    CHECK_OK(xllm_store_list(s, &v, &n));
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i].display, "llama3:latest")) {
            CHECK_EQ_STR(v[i].id, want_id);
            CHECK_EQ_INT(v[i].size, 23 + sizeof gguf_data + 13 + 41);
            CHECK(v[i].modified > 0);
        } else {
            CHECK(!strcmp(v[i].display, "llama3:8b") || !strcmp(v[i].display, "someone/other:v1"));
        }
    }
    xllm_free(v);
    CHECK_OK(xllm_store_resolve(s, "LLAMA3", &r)); /* case-insensitive, default tag */
    CHECK(r.model_path && strstr(r.model_path, model_d + 7));
    CHECK_EQ_STR(r.template_text, "{{ .Prompt }}");
    CHECK_EQ_STR(r.params_json, "{\"stop\":[\"<|eot_id|>\"],\"temperature\":0.6}");
    CHECK_EQ_STR(r.config_json, "{\"model_format\":\"gguf\"}");
    CHECK_EQ_STR(r.entry.display, "llama3:latest");
    xllm_model_ref_free(&r);
    CHECK(xllm_store_resolve(s, "missing", &r) == XLLM_ERR_NOT_FOUND);
    CHECK(strstr(xllm_last_error(), "xllm pull missing") != NULL);
    xllm_store_close(s);
    su_rm_tree(root);
}

TEST(store_delete_counts_references)
{
    char root[64], model_d[XLLM_DIGEST_STR_LEN], other_d[XLLM_DIGEST_STR_LEN], path[512];
    xllm_store *s = NULL;
    xllm_store_entry *v = NULL;
    size_t n = 0;
    CHECK(su_mkdtemp(root, sizeof root));
    make_ollama_dir(root, model_d, other_d);
    CHECK_OK(xllm_store_open(root, &s));
    if (!s)
        return;
    CHECK_OK(xllm_store_copy(s, "someone/other:v1", "copy-of-other"));
    CHECK_OK(xllm_store_delete(s, "llama3:latest"));
    CHECK(xllm_store_has_blob(s, model_d, UINT64_MAX)); /* llama3:8b still uses it */
    CHECK_OK(xllm_store_delete(s, "llama3:8b"));
    CHECK(!xllm_store_has_blob(s, model_d, UINT64_MAX));
    snprintf(path, sizeof path, "%s/manifests/registry.ollama.ai/library/llama3", root);
    CHECK(!xllm_path_exists(path)); /* empty directories pruned */
    CHECK_OK(xllm_store_delete(s, "someone/other:v1"));
    CHECK(xllm_store_has_blob(s, other_d, UINT64_MAX)); /* the copy keeps it */
    CHECK_OK(xllm_store_delete(s, "copy-of-other"));
    CHECK(!xllm_store_has_blob(s, other_d, UINT64_MAX));
    CHECK(xllm_store_delete(s, "copy-of-other") == XLLM_ERR_NOT_FOUND);
    CHECK_OK(xllm_store_list(s, &v, &n));
    CHECK_EQ_INT(n, 0);
    xllm_free(v);
    snprintf(path, sizeof path, "%s/manifests/registry.ollama.ai", root);
    CHECK(!xllm_path_exists(path));
    snprintf(path, sizeof path, "%s/blobs", root);
    CHECK(xllm_path_exists(path));
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", path);
        CHECK_EQ_INT(su_run(cmd), 0); /* every blob went with its last manifest */
    }
    xllm_store_close(s);
    su_rm_tree(root);
}

TEST(store_blob_writer_verifies)
{
    char root[64], d[XLLM_DIGEST_STR_LEN], hex[65], want[XLLM_DIGEST_STR_LEN], before[65], after[65];
    xllm_store *s = NULL;
    xllm_blob_writer *w = NULL;
    int was_new = -1;
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK_OK(xllm_store_open(root, &s));
    if (!s)
        return;
    xllm_sha256_buf("hello", 5, hex);
    snprintf(want, sizeof want, "sha256:%s", hex);
    su_tree_hash(root, before);
    CHECK_OK(xllm_blob_writer_open(s, want, &w));
    CHECK_OK(xllm_blob_writer_write(w, "hellO", 5));
    CHECK(xllm_blob_writer_commit(w, d, NULL, &was_new) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "digest mismatch") != NULL);
    su_tree_hash(root, after);
    CHECK_EQ_STR(after, before);
    CHECK_OK(xllm_blob_writer_open(s, want, &w));
    {
        /* another store_open (say `xllm list` beside a running upload) keeps a live partial */
        xllm_store *s2 = NULL;
        char cmd[300];
        snprintf(cmd, sizeof cmd, "ls %s/blobs | grep -q 'partial$'", root);
        CHECK_OK(xllm_store_open(root, &s2));
        xllm_store_close(s2);
        CHECK_EQ_INT(su_run(cmd), 0);
    }
    CHECK_OK(xllm_blob_writer_write(w, "hel", 3));
    CHECK_OK(xllm_blob_writer_write(w, "lo", 2));
    CHECK_OK(xllm_blob_writer_commit(w, d, NULL, &was_new));
    CHECK_EQ_STR(d, want);
    CHECK_EQ_INT(was_new, 1);
    CHECK_OK(xllm_store_add_bytes(s, "hello", 5, d, &was_new));
    CHECK_EQ_INT(was_new, 0);
    CHECK(xllm_blob_writer_open(s, "sha256:nothex", &w) == XLLM_ERR_INVALID_ARGUMENT);
    xllm_store_close(s);
    su_rm_tree(root);
}

TEST(store_damaged_blob_names_the_fix)
{
    char root[64], model_d[XLLM_DIGEST_STR_LEN], other_d[XLLM_DIGEST_STR_LEN], path[512];
    xllm_store *s = NULL;
    xllm_model_ref r;
    FILE *f;
    CHECK(su_mkdtemp(root, sizeof root));
    make_ollama_dir(root, model_d, other_d);
    CHECK_OK(xllm_store_open(root, &s));
    if (!s)
        return;
    snprintf(path, sizeof path, "%s/blobs/sha256-%s", root, model_d + 7);
    CHECK(truncate(path, 10) == 0);
    CHECK(xllm_store_resolve(s, "llama3", &r) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "wrong size") != NULL);
    CHECK(strstr(xllm_last_error(), "xllm rm llama3:latest && xllm pull llama3:latest") != NULL);
    f = fopen(path, "wb");
    if (f) {
        char junk[sizeof gguf_data];
        memset(junk, 'x', sizeof junk);
        fwrite(junk, 1, sizeof junk, f);
        fclose(f);
    }
    CHECK(xllm_store_resolve(s, "llama3", &r) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "not a GGUF") != NULL);
    unlink(path);
    CHECK(xllm_store_resolve(s, "llama3", &r) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "missing") != NULL);
    /* never re-fetched: still missing */
    CHECK(!xllm_path_exists(path));
    xllm_store_close(s);
    su_rm_tree(root);
}

TEST(store_create_and_archive_round_trip)
{
    char root[64], root2[64], gguf[128], mfpath[128], tar[128], before[65], after[65], name[XLLM_NAME_STR_MAX];
    static const char mf_text[] = "FROM ./m.gguf\nPARAMETER temperature 0.2\nPARAMETER stop END\n"
                                  "SYSTEM \"\"\"Be brief.\"\"\"\nMESSAGE user hi\nLICENSE Apache-2.0\n";
    xllm_store *s = NULL, *s2 = NULL;
    xllm_modelfile mf;
    xllm_model_ref r, r2;
    xllm_create_opts o = {NULL, NULL, NULL};
    FILE *f;
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK(su_mkdtemp(root2, sizeof root2));
    snprintf(gguf, sizeof gguf, "%s/m.gguf", root2);
    f = fopen(gguf, "wb");
    if (f) {
        fwrite(gguf_data, 1, sizeof gguf_data, f);
        fclose(f);
    }
    o.base_dir = root2;
    CHECK_OK(xllm_store_open(root, &s));
    if (!s)
        return;
    CHECK_OK(xllm_modelfile_parse(mf_text, sizeof mf_text - 1, "Modelfile", &mf));
    CHECK_OK(xllm_store_create(s, "made:v1", &mf, &o));
    xllm_modelfile_free(&mf);
    CHECK_OK(xllm_store_resolve(s, "made:v1", &r));
    CHECK_EQ_STR(r.params_json, "{\"stop\":[\"END\"],\"temperature\":0.2}");
    CHECK_EQ_STR(r.system, "Be brief.");
    CHECK_EQ_STR(r.messages_json, "[{\"content\":\"hi\",\"role\":\"user\"}]");
    CHECK_EQ_INT(r.n_licenses, 1);
    /* FROM a store name: layers inherited, params merged (new names win) */
    {
        static const char t2[] = "FROM made:v1\nPARAMETER temperature 0.9\nPARAMETER num_ctx 256\n";
        CHECK_OK(xllm_modelfile_parse(t2, sizeof t2 - 1, "M2", &mf));
        CHECK_OK(xllm_store_create(s, "made:v2", &mf, &o));
        xllm_modelfile_free(&mf);
        CHECK_OK(xllm_store_resolve(s, "made:v2", &r2));
        CHECK_EQ_STR(r2.params_json, "{\"num_ctx\":256,\"stop\":[\"END\"],\"temperature\":0.9}");
        CHECK_EQ_STR(r2.model_path, r.model_path);
        CHECK_EQ_STR(r2.system, "Be brief.");
        xllm_model_ref_free(&r2);
    }
    /* FROM a blob digest */
    {
        char t4[200];
        const xllm_layer *ml = xllm_manifest_find(&r.manifest, XLLM_MT_MODEL);
        snprintf(t4, sizeof t4, "FROM %s\n", ml ? ml->digest : "sha256:missing");
        CHECK_OK(xllm_modelfile_parse(t4, strlen(t4), "M4", &mf));
        CHECK_OK(xllm_store_create(s, "by-digest", &mf, &o));
        xllm_modelfile_free(&mf);
        CHECK_OK(xllm_store_resolve(s, "by-digest", &r2));
        CHECK_EQ_STR(r2.model_path, r.model_path);
        xllm_model_ref_free(&r2);
    }
    /* a failing create changes nothing */
    su_tree_hash(root, before);
    {
        static const char t3[] = "FROM ./m.gguf\nSYSTEM new text\nADAPTER ./missing-adapter.gguf\n";
        CHECK_OK(xllm_modelfile_parse(t3, sizeof t3 - 1, "M3", &mf));
        CHECK(xllm_store_create(s, "broken", &mf, &o) != XLLM_OK);
        CHECK(strstr(xllm_last_error(), "M3:3") != NULL);
        xllm_modelfile_free(&mf);
    }
    su_tree_hash(root, after);
    CHECK_EQ_STR(after, before);
    /* export, import elsewhere: same manifest ID */
    snprintf(tar, sizeof tar, "%s/made.tar", root2);
    CHECK_OK(xllm_store_export(s, "made:v1", tar));
    snprintf(mfpath, sizeof mfpath, "%s/store2", root2);
    CHECK_OK(xllm_store_open(mfpath, &s2));
    if (s2) {
        CHECK_OK(xllm_store_import(s2, tar, NULL, name));
        CHECK_EQ_STR(name, "made:v1");
        CHECK_OK(xllm_store_resolve(s2, "made:v1", &r2));
        CHECK_EQ_STR(r2.entry.id, r.entry.id);
        xllm_model_ref_free(&r2);
        /* a flipped byte in a blob: refused, the store unchanged */
        {
            char *data = NULL;
            size_t len = 0;
            CHECK_OK(xllm_read_file(tar, 1 << 24, &data, &len));
            char *hit = data ? memmem(data, len, gguf_data, sizeof gguf_data) : NULL;
            CHECK(hit != NULL);
            if (hit) {
                hit[20] ^= 1; /* inside the model blob */
                f = fopen(tar, "wb");
                if (f) {
                    fwrite(data, 1, len, f);
                    fclose(f);
                }
            }
            xllm_free(data);
        }
        su_tree_hash(mfpath, before);
        CHECK(xllm_store_import(s2, tar, "again", name) != XLLM_OK);
        su_tree_hash(mfpath, after);
        CHECK_EQ_STR(after, before);
        xllm_store_close(s2);
    }
    xllm_model_ref_free(&r);
    xllm_store_close(s);
    su_rm_tree(root);
    su_rm_tree(root2);
}

TEST(store_create_from_api_request)
{
    char root[64], d[XLLM_DIGEST_STR_LEN], cfg[XLLM_DIGEST_STR_LEN], req[2048], before[65], after[65], path[512];
    xllm_store *s = NULL;
    xllm_model_ref r;
    CHECK(su_mkdtemp(root, sizeof root));
    CHECK_OK(xllm_store_open(root, &s));
    if (!s)
        return;
    CHECK_OK(xllm_store_add_bytes(s, gguf_data, sizeof gguf_data, d, NULL)); /* as POST /api/blobs would */
    snprintf(req, sizeof req,
             "{\"model\":\"api-made\",\"files\":{\"m.gguf\":\"%s\"},\"template\":\"{{ .Prompt }}\","
             "\"system\":\"S\",\"license\":[\"L1\",\"L2\"],\"parameters\":{\"temperature\":0.3,\"num_ctx\":2048.0,"
             "\"stop\":[\"a\",\"b\"]},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             d);
    CHECK_OK(xllm_store_create_request(s, req, strlen(req), NULL));
    CHECK_OK(xllm_store_resolve(s, "api-made", &r));
    CHECK(r.model_path && strstr(r.model_path, d + 7));
    CHECK_EQ_STR(r.template_text, "{{ .Prompt }}");
    CHECK_EQ_STR(r.params_json, "{\"num_ctx\":2048,\"stop\":[\"a\",\"b\"],\"temperature\":0.3}");
    CHECK_EQ_INT(r.n_licenses, 2);
    xllm_model_ref_free(&r);
    /* the older clients' form: a Modelfile text */
    snprintf(req, sizeof req, "{\"name\":\"old-style\",\"modelfile\":\"FROM api-made\\nSYSTEM other\"}");
    CHECK_OK(xllm_store_create_request(s, req, strlen(req), NULL));
    CHECK_OK(xllm_store_resolve(s, "old-style", &r));
    CHECK_EQ_STR(r.system, "other");
    CHECK_EQ_STR(r.template_text, "{{ .Prompt }}");
    xllm_model_ref_free(&r);
    /* a safetensors model from uploaded files */
    CHECK_OK(xllm_store_add_bytes(s, "{\"model_type\":\"llama\"}", 22, cfg, NULL));
    snprintf(req, sizeof req, "{\"model\":\"st\",\"files\":{\"config.json\":\"%s\",\"model.safetensors\":\"%s\"}}", cfg,
             d);
    CHECK_OK(xllm_store_create_request(s, req, strlen(req), NULL));
    CHECK_OK(xllm_store_resolve(s, "st", &r));
    CHECK_EQ_INT(r.model_is_dir, 1);
    snprintf(path, sizeof path, "%s/config.json", r.model_path ? r.model_path : "");
    CHECK(su_file_contains(path, "llama"));
    xllm_model_ref_free(&r);
    /* errors name the field and change nothing */
    su_tree_hash(root, before);
    snprintf(req, sizeof req, "{\"model\":\"q\",\"from\":\"api-made\",\"quantize\":\"q4_K_M\"}");
    CHECK(xllm_store_create_request(s, req, strlen(req), NULL) == XLLM_ERR_UNSUPPORTED);
    snprintf(req, sizeof req,
             "{\"model\":\"q\",\"files\":{\"m.gguf\":\"sha256:%064d\"}}", 0);
    CHECK(xllm_store_create_request(s, req, strlen(req), NULL) == XLLM_ERR_NOT_FOUND);
    CHECK(strstr(xllm_last_error(), "not in the store") != NULL);
    snprintf(req, sizeof req, "{\"model\":\"q\",\"from\":\"api-made\",\"parameters\":{\"top_k\":0.5}}");
    CHECK(xllm_store_create_request(s, req, strlen(req), NULL) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "top_k") != NULL);
    snprintf(req, sizeof req, "{\"model\":\"q\"}");
    CHECK(xllm_store_create_request(s, req, strlen(req), NULL) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_store_create_request(s, "{", 1, NULL) == XLLM_ERR_INVALID_ARGUMENT);
    su_tree_hash(root, after);
    CHECK_EQ_STR(after, before);
    xllm_store_close(s);
    su_rm_tree(root);
}
