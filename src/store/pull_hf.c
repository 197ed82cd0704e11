/* pull_hf.c - pulling hf.co/USER/REPO[:QUANT] from the Hugging Face Hub: the
 * file list (GET <endpoint>/api/models/USER/REPO?blobs=true: "sha" and
 * "siblings" [{rfilename, size, lfs: {sha256, size}}]), the file choice,
 * downloads from <endpoint>/USER/REPO/resolve/<sha>/<file>, and a manifest
 * written by xllm: one model layer (GGUF, plus an mmproj projector when the
 * repo has one) or one XLLM_MT_HF_FILE layer per safetensors-model file. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "store/download.h"
#include "store/http.h"
#include "store/pull.h"
#include "store/store_internal.h"

xllm_status store_pull_hf(xllm_store *s, const xllm_model_name *n, const xllm_pull_opts *o);
xllm_status store_check_hf(xllm_store *s, const xllm_model_name *n, const xllm_manifest *local, int *newer);

static void hf_endpoint(char *buf, size_t cap)
{
    const char *e = getenv("XLLM_HF_ENDPOINT");
    size_t len;
    snprintf(buf, cap, "%s", e && *e ? e : "https://huggingface.co");
    len = strlen(buf);
    while (len && buf[len - 1] == '/')
        buf[--len] = 0;
}

static const char *hf_token(void)
{
    const char *t = getenv("HF_TOKEN");
    return t && *t ? t : NULL;
}

/* ---- choosing files ------------------------------------------------------------ */

static int has_suffix_ci(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcasecmp(s + n - m, suf);
}

static int is_mmproj(const char *name) { return strcasestr(name, "mmproj") != NULL; }

/* tag appears in name as a token: not preceded by a letter/digit, followed by
 * '.', '-' or the end (so Q4_K does not match Q4_K_M). */
static int quant_match(const char *name, const char *tag)
{
    size_t tl = strlen(tag);
    for (const char *p = strcasestr(name, tag); p; p = strcasestr(p + 1, tag)) {
        char before = p > name ? p[-1] : 0, after = p[tl];
        if (isalnum((unsigned char)before))
            continue;
        if (after == 0 || after == '.' || after == '-')
            return 1;
    }
    return 0;
}

int xllm_hf_pick_gguf(const char *const *names, size_t n, const char *tag)
{
    static const char *prefs[] = {"Q4_K_M", "Q4_K_S", "Q5_K_M", "Q4_0", "Q8_0", "Q6_K", "F16", "BF16", NULL};
    int only = -1, count = 0;
    char have[512] = "";
    for (size_t i = 0; i < n; i++) {
        if (!has_suffix_ci(names[i], ".gguf") || is_mmproj(names[i]) || strchr(names[i], '/'))
            continue;
        count++;
        only = (int)i;
        if (strcasecmp(tag, "latest") != 0 && quant_match(names[i], tag))
            return (int)i;
        if (strlen(have) + strlen(names[i]) + 3 < sizeof have) {
            if (have[0])
                strcat(have, ", ");
            strcat(have, names[i]);
        }
    }
    if (!strcasecmp(tag, "latest")) {
        for (int p = 0; prefs[p]; p++)
            for (size_t i = 0; i < n; i++)
                if (has_suffix_ci(names[i], ".gguf") && !is_mmproj(names[i]) && !strchr(names[i], '/') &&
                    quant_match(names[i], prefs[p]))
                    return (int)i;
        if (count >= 1)
            return only;
    }
    if (!count)
        xllm_fail(XLLM_ERR_NOT_FOUND, "the repository has no GGUF file");
    else
        xllm_fail(XLLM_ERR_NOT_FOUND, "no GGUF file for quantization '%s' (files: %s)", tag, have);
    return -1;
}

typedef struct hf_file {
    const char *name;  /* rfilename (points into the JSON) */
    uint64_t size;     /* UINT64_MAX unknown */
    char sha[65];      /* LFS sha256 or "" */
    const char *media; /* layer media type */
} hf_file;

typedef struct hf_plan {
    json_t *root;
    const char *revision;
    hf_file files[64];
    size_t n;
    const char *kind; /* "gguf" or "safetensors" */
} hf_plan;

static void file_from(json_t *sib, hf_file *f, const char *media)
{
    json_t *lfs = json_object_get(sib, "lfs"), *sz = json_object_get(sib, "size");
    memset(f, 0, sizeof *f);
    f->name = json_string_value(json_object_get(sib, "rfilename"));
    f->size = json_is_integer(sz) && json_integer_value(sz) >= 0 ? (uint64_t)json_integer_value(sz) : UINT64_MAX;
    f->media = media;
    if (json_is_object(lfs)) {
        const char *sha = json_string_value(json_object_get(lfs, "sha256"));
        json_t *ls = json_object_get(lfs, "size");
        if (sha && strlen(sha) == 64) {
            char d[XLLM_DIGEST_STR_LEN];
            snprintf(d, sizeof d, "sha256:%s", sha);
            if (xllm_digest_valid(d, 0))
                strcpy(f->sha, sha);
        }
        if (json_is_integer(ls) && json_integer_value(ls) >= 0)
            f->size = (uint64_t)json_integer_value(ls);
    }
}

static int wanted_hf_file(const char *name)
{
    static const char *exact[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                  "generation_config.json", "special_tokens_map.json", "tokenizer.model",
                                  "model.safetensors.index.json", NULL};
    if (strchr(name, '/'))
        return 0;
    for (int i = 0; exact[i]; i++)
        if (!strcmp(name, exact[i]))
            return 1;
    return has_suffix_ci(name, ".safetensors");
}

static xllm_status plan_files(hf_plan *p, const char *tag, const char *repo)
{
    json_t *sibs = json_object_get(p->root, "siblings");
    const char *names[1024];
    size_t n = 0;
    int pick, has_cfg = 0, has_tok = 0, has_st = 0;
    if (!json_is_array(sibs))
        return xllm_fail(XLLM_ERR_FORMAT, "hf.co/%s: the file list has no \"siblings\"", repo);
    for (size_t i = 0; i < json_array_size(sibs) && n < 1024; i++) {
        const char *nm = json_string_value(json_object_get(json_array_get(sibs, i), "rfilename"));
        names[n++] = nm ? nm : "";
    }
    pick = xllm_hf_pick_gguf(names, n, tag);
    if (pick >= 0) {
        if (strstr(names[pick], "-of-"))
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "hf.co/%s: %s is split into several files; not supported yet",
                             repo, names[pick]);
        file_from(json_array_get(sibs, (size_t)pick), &p->files[p->n++], XLLM_MT_MODEL);
        for (size_t i = 0; i < n; i++)
            if (has_suffix_ci(names[i], ".gguf") && is_mmproj(names[i]) && !strchr(names[i], '/')) {
                file_from(json_array_get(sibs, i), &p->files[p->n++], XLLM_MT_PROJECTOR);
                break;
            }
        p->kind = "gguf";
        return XLLM_OK;
    }
    for (size_t i = 0; i < n; i++) {
        has_cfg |= !strcmp(names[i], "config.json");
        has_tok |= !strcmp(names[i], "tokenizer.json");
        has_st |= has_suffix_ci(names[i], ".safetensors") && !strchr(names[i], '/');
    }
    if (!has_cfg || !has_tok || !has_st || strcasecmp(tag, "latest") != 0)
        return xllm_fail_wrap(XLLM_ERR_NOT_FOUND, "hf.co/%s:%s%s", repo, tag,
                              has_st ? " (a safetensors repo is pulled whole, without a quant tag, and needs "
                                       "config.json and tokenizer.json)"
                                     : "");
    xllm_clear_error();
    for (size_t i = 0; i < n; i++) {
        if (!wanted_hf_file(names[i]))
            continue;
        if (p->n == sizeof p->files / sizeof p->files[0])
            return xllm_fail(XLLM_ERR_LIMIT, "hf.co/%s: more than %zu model files", repo,
                             sizeof p->files / sizeof p->files[0]);
        file_from(json_array_get(sibs, i), &p->files[p->n++], XLLM_MT_HF_FILE);
    }
    p->kind = "safetensors";
    return XLLM_OK;
}

static xllm_status fetch_listing(const xllm_model_name *n, int use_cache, hf_plan *p)
{
    char ep[1024], url[2048], repo[200];
    char *body = NULL;
    size_t len = 0;
    json_error_t err;
    xllm_http_reply r;
    xllm_status st = XLLM_OK;
    memset(p, 0, sizeof *p);
    hf_endpoint(ep, sizeof ep);
    snprintf(repo, sizeof repo, "%s/%s", n->ns, n->model);
    snprintf(url, sizeof url, "%s/api/models/%s?blobs=true", ep, repo);
    if (!use_cache || xllm_http_cache_get(url, &body, &len) != XLLM_OK) {
        st = xllm_http_get(url, "application/json", hf_token(), XLLM_PULL_MAX_JSON, &r);
        if (st == XLLM_OK && (r.status == 401 || r.status == 403))
            st = xllm_fail(XLLM_ERR_NOT_FOUND,
                           "hf.co/%s: access denied (HTTP %ld): the repository is gated, private or does not exist; "
                           "for a gated one set HF_TOKEN to a token that has access",
                           repo, r.status);
        else if (st == XLLM_OK && r.status == 404)
            st = xllm_fail(XLLM_ERR_NOT_FOUND, "hf.co/%s: repository not found (%s: HTTP 404)", repo, url);
        else if (st == XLLM_OK && r.status != 200)
            st = xllm_fail(XLLM_ERR_IO, "hf.co/%s: %s answered HTTP %ld", repo, url, r.status);
        if (st == XLLM_OK) {
            xllm_http_cache_put(url, r.body.data, r.body.len);
            len = r.body.len;
            body = xllm_buf_take(&r.body);
        }
        xllm_http_reply_free(&r);
        if (st != XLLM_OK)
            return st;
    }
    p->root = json_loadb(body, len, 0, &err);
    xllm_free(body);
    if (!json_is_object(p->root)) {
        json_decref(p->root);
        p->root = NULL;
        return xllm_fail(XLLM_ERR_FORMAT, "hf.co/%s: the file list is not a JSON object", repo);
    }
    p->revision = json_string_value(json_object_get(p->root, "sha"));
    if (!p->revision || !*p->revision || strchr(p->revision, '/'))
        p->revision = "main";
    st = plan_files(p, n->tag, repo);
    if (st != XLLM_OK) {
        json_decref(p->root);
        p->root = NULL;
    }
    return st;
}

/* ---- downloading ---------------------------------------------------------------- */

static xllm_status place_file(xllm_store *s, const char *partial, const hf_file *f, char digest[XLLM_DIGEST_STR_LEN],
                              uint64_t *size, store_added *added)
{
    char hex[65];
    char *final;
    xllm_status st = xllm_sha256_file(partial, hex, size);
    if (st != XLLM_OK)
        return st;
    if (f->sha[0] && strcmp(hex, f->sha) != 0)
        return xllm_fail(XLLM_ERR_FORMAT,
                         "digest mismatch for %s: the Hub lists sha256:%s, the downloaded data has sha256:%s; "
                         "nothing was kept",
                         f->name, f->sha, hex);
    if (f->size != UINT64_MAX && *size != f->size)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: %llu bytes downloaded, the Hub lists %llu", f->name,
                         (unsigned long long)*size, (unsigned long long)f->size);
    snprintf(digest, XLLM_DIGEST_STR_LEN, "sha256:%s", hex);
    if (xllm_store_has_blob(s, digest, *size))
        return unlink(partial), XLLM_OK;
    final = xllm_store_blob_path(s, digest);
    if (!final)
        return XLLM_ERR_OUT_OF_MEMORY;
    st = rename(partial, final) == 0 ? store_added_push(added, digest)
                                     : xllm_fail(XLLM_ERR_IO, "cannot move %s into place", partial);
    xllm_free(final);
    return st;
}

/* Download file i into its partial file (*partial, heap), or note that its
 * blob is there already (*partial NULL). */
static xllm_status fetch_file(xllm_store *s, const xllm_model_name *n, const hf_plan *p, size_t i,
                              const xllm_pull_opts *o, char **partial, int *fd)
{
    const hf_file *f = &p->files[i];
    char ep[1024], url[4096], status[300], digest[XLLM_DIGEST_STR_LEN], pname[96];
    char *esc;
    store_dl d;
    *partial = NULL;
    if (f->sha[0]) {
        snprintf(digest, sizeof digest, "sha256:%s", f->sha);
        snprintf(status, sizeof status, "pulling %.12s", f->sha);
        if (f->size != UINT64_MAX && xllm_store_has_blob(s, digest, f->size)) {
            store_emit(o, status, digest, f->size, f->size);
            return XLLM_OK;
        }
    } else {
        snprintf(status, sizeof status, "pulling %.200s", f->name);
    }
    hf_endpoint(ep, sizeof ep);
    esc = curl_easy_escape(NULL, f->name, 0);
    if (!esc)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    snprintf(url, sizeof url, "%s/%s/%s/resolve/%s/%s", ep, n->ns, n->model, p->revision, esc);
    curl_free(esc);
    snprintf(pname, sizeof pname, "hf-%d-%zu.partial", (int)getpid(), i);
    *partial = xllm_path_join(s->blobs, pname);
    if (!*partial)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    memset(&d, 0, sizeof d);
    d.url = url;
    d.bearer = hf_token();
    d.path = *partial;
    d.size = f->size;
    d.status = status;
    d.digest = f->sha[0] ? digest : NULL;
    d.opts = o;
    d.keep_fd = fd;
    store_emit(o, status, d.digest, f->size == UINT64_MAX ? 0 : f->size, 0);
    return store_download(&d);
}

static xllm_status fetch_all(xllm_store *s, const xllm_model_name *n, const hf_plan *p, const xllm_pull_opts *o,
                             xllm_manifest *m, store_added *added)
{
    char *partials[sizeof p->files / sizeof p->files[0]] = {0};
    int fds[sizeof p->files / sizeof p->files[0]];
    xllm_status st = XLLM_OK;
    int any = 0;
    for (size_t i = 0; i < p->n; i++)
        fds[i] = -1;
    for (size_t i = 0; st == XLLM_OK && i < p->n; i++) {
        st = fetch_file(s, n, p, i, o, &partials[i], &fds[i]);
        any |= partials[i] != NULL;
    }
    if (st == XLLM_OK && any)
        store_emit(o, "verifying sha256 digest", NULL, 0, 0);
    for (size_t i = 0; st == XLLM_OK && i < p->n; i++) {
        const hf_file *f = &p->files[i];
        char digest[XLLM_DIGEST_STR_LEN];
        uint64_t size = f->size;
        snprintf(digest, sizeof digest, "sha256:%s", f->sha);
        if (partials[i] && fds[i] >= 0) {
            st = place_file(s, partials[i], f, digest, &size, added);
            if (st == XLLM_OK) { /* placed (or dropped as a duplicate): nothing left to remove */
                xllm_free(partials[i]);
                partials[i] = NULL;
            }
        }
        if (st == XLLM_OK)
            st = xllm_manifest_add(m, f->media, digest, size, !strcmp(f->media, XLLM_MT_HF_FILE) ? f->name : NULL);
    }
    for (size_t i = 0; i < p->n; i++) {
        if (partials[i] && fds[i] >= 0)
            unlink(partials[i]);
        if (fds[i] >= 0)
            close(fds[i]);
        xllm_free(partials[i]);
    }
    return st;
}

static xllm_status add_config(xllm_store *s, const xllm_model_name *n, const hf_plan *p, xllm_manifest *m,
                              store_added *added)
{
    json_t *c = json_object(), *diff = json_array(), *src = json_object(), *rootfs = json_object();
    char *text;
    int was_new = 0;
    xllm_status st;
    for (size_t i = 0; i < m->n_layers; i++)
        json_array_append_new(diff, json_string(m->layers[i].digest));
    json_object_set_new(c, "model_format", json_string(p->kind));
    json_object_set_new(c, "model_family", json_string(""));
    json_object_set_new(c, "model_type", json_string(""));
    json_object_set_new(c, "file_type", json_string("")); /* details come from the GGUF itself */
    json_object_set_new(c, "architecture", json_string("amd64"));
    json_object_set_new(c, "os", json_string("linux"));
    json_object_set_new(rootfs, "type", json_string("layers"));
    json_object_set_new(rootfs, "diff_ids", diff);
    json_object_set_new(c, "rootfs", rootfs);
    json_object_set_new(src, "repo", json_pack("s++", n->ns, "/", n->model));
    json_object_set_new(src, "revision", json_string(p->revision));
    json_object_set_new(c, "xllm_source", src);
    text = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(c);
    if (!text)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    st = xllm_store_add_bytes(s, text, strlen(text), m->config.digest, &was_new);
    m->config.size = strlen(text);
    free(text);
    if (st != XLLM_OK)
        return st;
    snprintf(m->config.media_type, sizeof m->config.media_type, "%s", XLLM_MT_CONFIG);
    m->has_config = 1;
    return was_new ? store_added_push(added, m->config.digest) : XLLM_OK;
}

xllm_status store_pull_hf(xllm_store *s, const xllm_model_name *n, const xllm_pull_opts *o)
{
    hf_plan p;
    xllm_manifest m;
    store_added added = {0};
    char *bytes = NULL;
    size_t len = 0;
    xllm_status st;
    memset(&m, 0, sizeof m);
    store_emit(o, "pulling manifest", NULL, 0, 0);
    st = fetch_listing(n, 0, &p);
    if (st == XLLM_OK)
        st = fetch_all(s, n, &p, o, &m, &added);
    if (st == XLLM_OK)
        st = add_config(s, n, &p, &m, &added);
    if (st == XLLM_OK)
        st = xllm_manifest_serialize(&m, &bytes, &len);
    if (st == XLLM_OK) {
        store_emit(o, "writing manifest", NULL, 0, 0);
        st = xllm_store_write_manifest(s, n, bytes, len);
    }
    if (st == XLLM_OK) {
        store_added_free(&added);
        store_emit(o, "success", NULL, 0, 0);
    } else {
        store_added_rollback(s, &added);
    }
    xllm_free(bytes);
    xllm_manifest_free(&m);
    json_decref(p.root);
    return st;
}

xllm_status store_check_hf(xllm_store *s, const xllm_model_name *n, const xllm_manifest *local, int *newer)
{
    hf_plan p;
    xllm_status st = fetch_listing(n, 1, &p);
    (void)s;
    *newer = 0;
    if (st != XLLM_OK)
        return st;
    for (size_t i = 0; i < p.n; i++) {
        int found = 0;
        char d[XLLM_DIGEST_STR_LEN];
        if (!p.files[i].sha[0])
            continue; /* small git files: no content digest to compare */
        snprintf(d, sizeof d, "sha256:%s", p.files[i].sha);
        for (size_t j = 0; j < local->n_layers && !found; j++)
            found = !strcmp(local->layers[j].digest, d);
        if (!found)
            *newer = 1;
    }
    json_decref(p.root);
    return XLLM_OK;
}
