/* hf_dir.c - a Hugging Face safetensors model kept in the store as one blob
 * per file is shown to the loader as a directory of symlinks
 * <store>/hf/<manifest hex>/<file name> -> <store>/blobs/sha256-<hex>. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "store/store_internal.h"

int store_title_ok(const char *t)
{
    return t && *t && t[0] != '.' && !strchr(t, '/') && !strchr(t, '\\') && strlen(t) < 256;
}

/* Remove a directory holding only symlinks / plain files (ours). */
static void remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d) {
        while ((e = readdir(d))) {
            char *p;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            p = xllm_path_join(dir, e->d_name);
            if (p)
                unlink(p);
            xllm_free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static char *hf_path(const xllm_store *s, const char *manifest_digest, const char *suffix)
{
    char rel[160];
    snprintf(rel, sizeof rel, "hf/%s%s", manifest_digest + 7, suffix);
    return xllm_path_join(s->dir, rel);
}

xllm_status store_hf_dir(xllm_store *s, const xllm_model_ref *r, char **out)
{
    char *dir = hf_path(s, r->entry.digest, ""), *tmp = NULL;
    char suffix[48];
    xllm_status st = XLLM_OK;
    *out = NULL;
    if (!dir)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    if (xllm_is_dir(dir)) {
        *out = dir;
        return XLLM_OK;
    }
    snprintf(suffix, sizeof suffix, ".tmp-%d", (int)getpid());
    tmp = hf_path(s, r->entry.digest, suffix);
    if (!tmp) {
        xllm_free(dir);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
    }
    remove_flat_dir(tmp);
    st = store_mkdirs(tmp);
    for (size_t i = 0; st == XLLM_OK && i < r->manifest.n_layers; i++) {
        const xllm_layer *l = &r->manifest.layers[i];
        char *blob, *link;
        if (strcmp(l->media_type, XLLM_MT_HF_FILE) != 0)
            continue;
        if (!store_title_ok(l->title)) {
            st = xllm_fail(XLLM_ERR_FORMAT, "model '%s': layer %zu has a bad file name '%.80s'", r->entry.display, i,
                           l->title ? l->title : "");
            break;
        }
        blob = xllm_store_blob_path(s, l->digest);
        link = xllm_path_join(tmp, l->title);
        if (!blob || !link)
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "store: no memory");
        else if (symlink(blob, link) != 0)
            st = xllm_fail(XLLM_ERR_IO, "cannot create %s: %s", link, strerror(errno));
        xllm_free(blob);
        xllm_free(link);
    }
    if (st == XLLM_OK && rename(tmp, dir) != 0 && !xllm_is_dir(dir))
        st = xllm_fail(XLLM_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    remove_flat_dir(tmp);
    xllm_free(tmp);
    if (st != XLLM_OK) {
        xllm_free(dir);
        return st;
    }
    *out = dir;
    return XLLM_OK;
}

void store_hf_dir_remove(xllm_store *s, const char *manifest_digest)
{
    char *dir = hf_path(s, manifest_digest, ""), *root;
    if (dir && xllm_is_dir(dir))
        remove_flat_dir(dir);
    xllm_free(dir);
    root = xllm_path_join(s->dir, "hf");
    if (root)
        rmdir(root); /* only when empty */
    xllm_free(root);
}
