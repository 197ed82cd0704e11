/* store_internal.h - what the store's files share (store.c, pull.c,
 * create.c, archive.c): the store struct, directory creation, and a list of
 * blobs one operation added, so a failed pull/create/import can take them
 * away again and leave the store as it was. Not a public header. */
#ifndef XLLM_STORE_INTERNAL_H
#define XLLM_STORE_INTERNAL_H

#include "store/store.h"

struct xllm_store {
    char *dir;       /* root */
    char *blobs;     /* <dir>/blobs */
    char *manifests; /* <dir>/manifests */
};

/* mkdir -p (mode 0755). */
xllm_status store_mkdirs(const char *path);

/* Blobs created by one operation (digests), removed again by rollback. */
typedef struct store_added {
    char (*digests)[XLLM_DIGEST_STR_LEN];
    size_t n;
} store_added;

xllm_status store_added_push(store_added *a, const char *digest);
/* Remove every blob in a that no manifest refers to now; frees a. */
void store_added_rollback(xllm_store *s, store_added *a);
void store_added_free(store_added *a);

/* Remove blobs among digests[0..n) that no manifest refers to. */
void store_prune_blobs(xllm_store *s, const char (*digests)[XLLM_DIGEST_STR_LEN], size_t n);

/* "<blobs>/sha256-<hex>.partial" (heap). */
char *store_partial_path(const xllm_store *s, const char *digest);

/* The hf/<manifest hex> directory of a safetensors model (symlinks named by
 * each XLLM_MT_HF_FILE layer's title), made when missing (heap path). */
xllm_status store_hf_dir(xllm_store *s, const xllm_model_ref *r, char **out);
void store_hf_dir_remove(xllm_store *s, const char *manifest_digest);
/* 1 if a layer title is a plain file name (no '/', not "." or ".."-led). */
int store_title_ok(const char *t);

/* create with, besides the Modelfile commands, a /api/create "files" object
 * (json_t *, may be NULL). */
struct xllm_modelfile;
struct xllm_create_opts;
xllm_status store_create_run(xllm_store *s, const char *name, const struct xllm_modelfile *mf, void *files,
                             const struct xllm_create_opts *o);

#endif
