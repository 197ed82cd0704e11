/* create.h - `create NAME -f Modelfile` as a store operation (the server's
 * /api/create will call the same): FROM a store name (pulled when missing),
 * a GGUF file, a Hugging Face directory or a blob digest; then TEMPLATE,
 * SYSTEM, PARAMETER (merged over the base's, new names win), MESSAGE,
 * ADAPTER and LICENSE become layers with Ollama's media types. Progress
 * statuses as Ollama's ("gathering model components", "copying file
 * sha256:...", "using existing layer sha256:...", "creating new layer
 * sha256:...", "writing manifest", "success"). On failure the blobs this
 * call added are removed and no manifest is written.
 * Threading: as the store handle. */
#ifndef XLLM_STORE_CREATE_H
#define XLLM_STORE_CREATE_H

#include "store/modelfile.h"
#include "store/pull.h"
#include "store/store.h"

typedef struct xllm_create_opts {
    const char *base_dir;  /* relative FROM / ADAPTER paths start here (NULL: cwd) */
    xllm_pull_fn progress; /* may be NULL */
    void *ud;
} xllm_create_opts;

xllm_status xllm_store_create(xllm_store *s, const char *name, const xllm_modelfile *mf, const xllm_create_opts *o);

/* The body of Ollama's POST /api/create as current clients send it:
 *   {"model": NAME, "from": NAME|PATH, "files": {"f.gguf": "sha256:..."},
 *    "adapters": {"a.gguf": "sha256:..."}, "template": T, "system": S,
 *    "license": L | [L...], "parameters": {...}, "messages": [{role, content}],
 *    "quantize": Q}
 * or as older ones do ({"name"|"model": NAME, "modelfile": TEXT}). Blobs named
 * in files/adapters must be in the store already (POST /api/blobs). Errors
 * name the field. "quantize" is refused (not supported yet). */
xllm_status xllm_store_create_request(xllm_store *s, const char *json, size_t len, const xllm_create_opts *o);

/* A Modelfile that rebuilds a resolved model (`show --modelfile`), heap text. */
xllm_status xllm_store_modelfile_text(const xllm_model_ref *r, char **out);

#endif
