/* pull.h - downloading models into the store: the Ollama registry protocol
 * (GET <base>/v2/<ns>/<model>/manifests/<tag> with Docker's manifest Accept
 * header, blobs by digest at <base>/v2/<ns>/<model>/blobs/<digest>,
 * redirects followed) and Hugging Face (hf.co/USER/REPO[:QUANT]: the repo's
 * file list from <endpoint>/api/models/USER/REPO?blobs=true, one GGUF picked
 * by the quant tag, or a safetensors repo with config.json + tokenizer.json;
 * files from <endpoint>/USER/REPO/resolve/<revision>/<file>; HF_TOKEN as a
 * bearer token).
 *
 * Base URLs: XLLM_OLLAMA_REGISTRY (default https://registry.ollama.ai, used
 * for names on registry.ollama.ai; other hosts are https://<host>) and
 * XLLM_HF_ENDPOINT (default https://huggingface.co). Blobs of at least
 * XLLM_PULL_PART_SIZE bytes (default 100 MB) are fetched in up to
 * XLLM_PULL_PARTS (default 4) parallel Range requests into
 * blobs/sha256-<hex>.partial; each is SHA-256 verified before its atomic
 * rename. Any failure (digest mismatch, HTTP error, dropped or stalled
 * connection, full disk, cancel) removes the partial files and the blobs this
 * pull added, writes no manifest, and returns a status with a plain-English
 * message: the store is as it was.
 *
 * Progress: the callback gets Ollama's /api/pull objects in order: "pulling
 * manifest", then per layer "pulling <12 hex>" with digest/total/completed
 * (repeated as bytes arrive, at most every 100 ms), "verifying sha256
 * digest", "writing manifest", "success". A server streams these as NDJSON;
 * the CLI draws them (cli/pull_progress.c).
 * Threading: one pull per store handle at a time; the callback runs on the
 * calling thread; *cancel may be set from another thread. */
#ifndef XLLM_STORE_PULL_H
#define XLLM_STORE_PULL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct xllm_pull_event {
    const char *status;
    const char *digest; /* NULL for the plain status lines */
    uint64_t total, completed;
} xllm_pull_event;

typedef void (*xllm_pull_fn)(const xllm_pull_event *ev, void *ud);

typedef struct xllm_pull_opts {
    xllm_pull_fn progress; /* may be NULL */
    void *ud;
    volatile int *cancel; /* may be NULL; nonzero stops the pull (XLLM_ERR_CANCELLED) */
} xllm_pull_opts;

xllm_status xllm_store_pull(xllm_store *s, const char *name, const xllm_pull_opts *o);

/* Compare the local manifest of NAME with its source (cached metadata when
 * fresh). *newer: 1 the source has another version, 0 the same. */
xllm_status xllm_store_check_update(xllm_store *s, const char *name, int *newer);

/* The event as one line of /api/pull's NDJSON (no newline), Ollama's
 * field names and omissions: {"status":"pulling 0123456789ab","digest":
 * "sha256:...","total":N,"completed":M}; digest/total/completed left out
 * when empty or zero. Returns the length, or -1 when cap is too small. */
int xllm_pull_event_to_json(const xllm_pull_event *ev, char *buf, size_t cap);
/* The other way (a client reading /api/pull): ev's strings point into the
 * caller's status/digest buffers. An {"error": "..."} line is
 * XLLM_ERR_IO with that message. */
xllm_status xllm_pull_event_from_json(const char *line, size_t len, xllm_pull_event *ev, char *status,
                                      size_t status_cap, char *digest, size_t digest_cap);

/* Hugging Face file choice (exposed for tests): index into names[0..n) of
 * the GGUF for tag (case-insensitive quant such as "Q4_K_M"; "latest" picks
 * Q4_K_M, else Q4_0, Q8_0, ..., else the only one), never an mmproj file.
 * -1 with a message listing the quantizations there are. */
int xllm_hf_pick_gguf(const char *const *names, size_t n, const char *tag);

#endif
