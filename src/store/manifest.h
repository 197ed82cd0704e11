/* manifest.h - Docker/OCI image manifests as the Ollama registry writes them:
 *   {"schemaVersion":2,
 *    "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 *    "config":{"mediaType":"application/vnd.docker.container.image.v1+json",
 *              "digest":"sha256:<hex>","size":N},
 *    "layers":[{"mediaType":"application/vnd.ollama.image.model",
 *               "digest":"sha256:<hex>","size":N}, ...]}
 * Every digest is checked to be "sha256:" + 64 lowercase hex digits (it
 * becomes a file name). An xllm_manifest owns its layer array and strings;
 * xllm_manifest_free releases them. No threading rules (plain values). */
#ifndef XLLM_STORE_MANIFEST_H
#define XLLM_STORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "base/sha256.h"
#include "base/status.h"

#define XLLM_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define XLLM_MT_CONFIG "application/vnd.docker.container.image.v1+json"
#define XLLM_MT_MODEL "application/vnd.ollama.image.model"
#define XLLM_MT_TEMPLATE "application/vnd.ollama.image.template"
#define XLLM_MT_SYSTEM "application/vnd.ollama.image.system"
#define XLLM_MT_PARAMS "application/vnd.ollama.image.params"
#define XLLM_MT_LICENSE "application/vnd.ollama.image.license"
#define XLLM_MT_ADAPTER "application/vnd.ollama.image.adapter"
#define XLLM_MT_PROJECTOR "application/vnd.ollama.image.projector"
#define XLLM_MT_MESSAGES "application/vnd.ollama.image.messages"
/* xllm's own: one file of a Hugging Face safetensors model directory; the
 * file name is the layer's "org.opencontainers.image.title" annotation. */
#define XLLM_MT_HF_FILE "application/vnd.xllm.hf.file"

typedef struct xllm_layer {
    char media_type[128];
    char digest[XLLM_DIGEST_STR_LEN];
    uint64_t size;
    char *title; /* annotation "org.opencontainers.image.title", or NULL */
} xllm_layer;

typedef struct xllm_manifest {
    int has_config;
    xllm_layer config;
    xllm_layer *layers;
    size_t n_layers;
} xllm_manifest;

xllm_status xllm_manifest_parse(const char *json, size_t len, xllm_manifest *out);
/* Compact JSON (heap, NUL-terminated, xllm_free) in the registry's key order. */
xllm_status xllm_manifest_serialize(const xllm_manifest *m, char **out, size_t *len);
void xllm_manifest_free(xllm_manifest *m);

/* Append a layer (copies title). */
xllm_status xllm_manifest_add(xllm_manifest *m, const char *media_type, const char *digest, uint64_t size,
                              const char *title);
/* Remove every layer of that media type. */
void xllm_manifest_remove_type(xllm_manifest *m, const char *media_type);
/* First layer of that media type, or NULL. */
const xllm_layer *xllm_manifest_find(const xllm_manifest *m, const char *media_type);
/* Sum of the layer sizes plus the config's (what Ollama's list shows). */
uint64_t xllm_manifest_size(const xllm_manifest *m);

#endif
