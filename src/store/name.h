/* name.h - Ollama model names: [scheme://][host/][namespace/]model[:tag],
 * parsed and filled with Ollama's defaults (host registry.ollama.ai,
 * namespace library, tag latest) and validated part by part as Ollama does
 * (first character a letter, digit or '_'; then also '-', '.', '_'; no '.'
 * in a namespace; ':' only in a host). hf.co/USER/REPO[:QUANT] names are the
 * same shape with host hf.co (huggingface.co is accepted and becomes hf.co).
 * A name is a plain value (fixed arrays); no ownership, no threading rules. */
#ifndef XLLM_STORE_NAME_H
#define XLLM_STORE_NAME_H

#include <stddef.h>

#include "base/status.h"

#define XLLM_NAME_DEFAULT_HOST "registry.ollama.ai"
#define XLLM_NAME_DEFAULT_NAMESPACE "library"
#define XLLM_NAME_DEFAULT_TAG "latest"
#define XLLM_NAME_HF_HOST "hf.co"

/* Ollama's part lengths: host up to 350 bytes, the others up to 80. */
#define XLLM_NAME_HOST_MAX 350
#define XLLM_NAME_PART_MAX 80
/* Room for "host/namespace/model:tag" with every part at its maximum. */
#define XLLM_NAME_STR_MAX (XLLM_NAME_HOST_MAX + 3 * XLLM_NAME_PART_MAX + 8)

typedef struct xllm_model_name {
    char host[XLLM_NAME_HOST_MAX + 1];
    char ns[XLLM_NAME_PART_MAX + 1];
    char model[XLLM_NAME_PART_MAX + 1];
    char tag[XLLM_NAME_PART_MAX + 1];
} xllm_model_name;

/* Parse and validate; XLLM_ERR_INVALID_ARGUMENT with a message naming the
 * bad part otherwise. */
xllm_status xllm_model_name_parse(const char *s, xllm_model_name *out);

/* The shortest form Ollama prints: "model:tag" for the default host and
 * namespace, "ns/model:tag" for the default host, else "host/ns/model:tag". */
void xllm_model_name_display(const xllm_model_name *n, char *buf, size_t cap);
/* "host/ns/model:tag" always. */
void xllm_model_name_full(const xllm_model_name *n, char *buf, size_t cap);
/* Manifest path relative to manifests/: "host/ns/model/tag". */
void xllm_model_name_path(const xllm_model_name *n, char *buf, size_t cap);
/* 1 if the name lives on Hugging Face (host hf.co). */
int xllm_model_name_is_hf(const xllm_model_name *n);
/* Case-insensitive equality of all four parts (Ollama compares names so). */
int xllm_model_name_equal(const xllm_model_name *a, const xllm_model_name *b);

#endif
