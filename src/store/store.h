/* store.h - the model store: content-addressed blobs and manifests in
 * Ollama's layout, so an Ollama models directory works as is:
 *
 *   <dir>/blobs/sha256-<64 hex>                      one file per layer
 *   <dir>/blobs/sha256-<64 hex>.partial              a download or write in flight
 *   <dir>/manifests/<host>/<namespace>/<model>/<tag> manifest JSON (manifest.h)
 *   <dir>/hf/<64 hex>/                               xllm only: a Hugging Face
 *        safetensors model's files as symlinks to its blobs (hex = manifest digest)
 *
 * <dir> is XLLM_MODELS_DIR, else ~/.xllm/models. Opening removes leftover
 * *.partial blobs (only xllm's spelling; Ollama's "-partial" files are left to
 * Ollama); a partial file that a live writer holds (flock) is kept, so a
 * `xllm list` beside a running pull does not break it. A model's ID is the first 12 hex digits of the SHA-256 of its
 * manifest file, its size the sum of the layer sizes, its modification time
 * the manifest file's. A blob is deleted only when no manifest refers to it
 * any more (found by scanning the manifests).
 *
 * Ownership: xllm_store_open returns a store the caller closes; list arrays,
 * resolved references and paths are the caller's (freed by the functions
 * named beside them). Threading: a store handle may be used by one thread at
 * a time; several processes may share a directory (writes are atomic renames,
 * but two concurrent deletes and pulls of one blob may race as in Ollama). */
#ifndef XLLM_STORE_STORE_H
#define XLLM_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/sha256.h"
#include "base/status.h"
#include "store/manifest.h"
#include "store/name.h"

typedef struct xllm_store xllm_store;

/* dir NULL: $XLLM_MODELS_DIR, else $HOME/.xllm/models. Creates blobs/ and
 * manifests/ when missing. */
xllm_status xllm_store_open(const char *dir, xllm_store **out);
void xllm_store_close(xllm_store *s);
const char *xllm_store_dir(const xllm_store *s);

/* ---- listing ---------------------------------------------------------- */

typedef struct xllm_store_entry {
    xllm_model_name name;
    char display[XLLM_NAME_STR_MAX]; /* "llama3:latest" (xllm_model_name_display) */
    char digest[XLLM_DIGEST_STR_LEN]; /* sha256 of the manifest file */
    char id[13];                      /* digest's first 12 hex digits */
    uint64_t size;                    /* layers + config */
    int64_t modified;                 /* manifest mtime, unix seconds */
} xllm_store_entry;

/* Every valid manifest, newest first (as Ollama's /api/tags). *out is an
 * array of *n entries (xllm_free). Unreadable manifests are skipped. */
xllm_status xllm_store_list(xllm_store *s, xllm_store_entry **out, size_t *n);

/* ---- resolving a name --------------------------------------------------- */

/* What a runner and the chat code need to run a model by name. Text layers
 * are read into memory (NULL when the model has none). */
typedef struct xllm_model_ref {
    xllm_store_entry entry;
    xllm_manifest manifest;
    char *model_path;       /* GGUF blob, or the hf/<hex> directory */
    int model_is_dir;       /* 1: model_path is a Hugging Face directory */
    char *projector_path;   /* vision projector blob or NULL */
    char **adapter_paths;   /* [n_adapters] LoRA adapter blobs */
    size_t n_adapters;
    char *template_text;    /* template layer (Go or Jinja text) */
    char *system;           /* system layer */
    char *params_json;      /* params layer: JSON object text */
    char *messages_json;    /* messages layer: JSON array text */
    char *config_json;      /* config blob */
    char **licenses;        /* [n_licenses] license layers */
    size_t n_licenses;
} xllm_model_ref;

/* Find NAME (exact path first, then a case-insensitive match, as Ollama
 * compares names) and check its blobs: every layer present with the size the
 * manifest says, the model layer starting with "GGUF". A missing model is
 * XLLM_ERR_NOT_FOUND; a bad blob XLLM_ERR_FORMAT with a message that names
 * the blob and the command to fetch it again. Free with xllm_model_ref_free. */
xllm_status xllm_store_resolve(xllm_store *s, const char *name, xllm_model_ref *out);
void xllm_model_ref_free(xllm_model_ref *r);

/* ---- changing the store ------------------------------------------------- */

/* Remove NAME's manifest, then every blob of it no other manifest uses. */
xllm_status xllm_store_delete(xllm_store *s, const char *name);
/* A new name for the same manifest (blobs shared). DST is replaced if it
 * exists (its blobs pruned as for xllm_store_write_manifest). */
xllm_status xllm_store_copy(xllm_store *s, const char *src, const char *dst);

/* Write manifest bytes under a name (atomic). When it replaces a manifest,
 * the blobs only the old one used are removed (Ollama prunes so after a
 * pull that brings a new version). */
xllm_status xllm_store_write_manifest(xllm_store *s, const xllm_model_name *name, const char *bytes, size_t len);

/* "<dir>/blobs/sha256-<hex>" for a "sha256:<hex>" digest (heap, xllm_free);
 * NULL on a malformed digest or no memory (with a message). */
char *xllm_store_blob_path(const xllm_store *s, const char *digest);
/* 1 if the blob exists (and has that size when size != UINT64_MAX). */
int xllm_store_has_blob(const xllm_store *s, const char *digest, uint64_t size);

/* A blob written as a stream (the server's POST /api/blobs/:digest, create,
 * import). expected: "sha256:<hex>" to verify, or NULL to take the digest of
 * what was written. commit verifies, fsyncs and renames into blobs/ (an
 * existing blob is kept); *was_new (may be NULL) says whether it created the
 * blob. abort removes the partial file. Both free w. */
typedef struct xllm_blob_writer xllm_blob_writer;
xllm_status xllm_blob_writer_open(xllm_store *s, const char *expected, xllm_blob_writer **out);
xllm_status xllm_blob_writer_write(xllm_blob_writer *w, const void *p, size_t n);
xllm_status xllm_blob_writer_commit(xllm_blob_writer *w, char digest[XLLM_DIGEST_STR_LEN], uint64_t *size,
                                    int *was_new);
void xllm_blob_writer_abort(xllm_blob_writer *w);

/* Convenience: a file or a buffer as a blob. */
xllm_status xllm_store_add_file(xllm_store *s, const char *path, char digest[XLLM_DIGEST_STR_LEN], uint64_t *size,
                                int *was_new);
xllm_status xllm_store_add_bytes(xllm_store *s, const void *p, size_t n, char digest[XLLM_DIGEST_STR_LEN],
                                 int *was_new);

/* Read a manifest by name: raw bytes (heap) and the parsed form. */
xllm_status xllm_store_read_manifest(xllm_store *s, const char *name, xllm_store_entry *entry, xllm_manifest *m,
                                     char **bytes, size_t *len);

#endif
