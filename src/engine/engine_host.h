/* engine_host.h - finds and opens compute engines behind the plugin ABI
 * (include/xllm/engine.h): validates an engine's JSON manifest before dlopen,
 * checks the ABI version and table the library reports after, and exposes the
 * built-in CPU engine through the same table.
 *
 * Ownership: xllm_engine_close unloads the library and frees the manifest;
 * engine contexts made through e->api must be freed before that.
 * Threading: opening/closing is single-threaded; the api table is read-only. */
#ifndef XLLM_ENGINE_ENGINE_HOST_H
#define XLLM_ENGINE_ENGINE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "xllm/engine.h"

/* Caps of manifest contents. */
#define XLLM_ENGINE_MAX_NAME 64
#define XLLM_ENGINE_MAX_LIST 256

typedef struct xllm_engine_manifest {
    char *name;            /* [a-z0-9_.-]{1,64} */
    char *version;
    uint32_t abi_version;  /* equals XLLM_ENGINE_ABI_VERSION once validated */
    char *library;         /* resolved path: relative names are taken from the manifest's folder */
    char **formats;        /* [n_formats] "gguf" | "safetensors" */
    int n_formats;
    char **architectures;  /* [n_architectures] general.architecture names */
    int n_architectures;
    char **devices;        /* [n_devices] "cpu" | "cuda" */
    int n_devices;
} xllm_engine_manifest;

typedef struct xllm_engine {
    const xllm_engine_api *api;
    xllm_engine_manifest manifest;
    void *dl;              /* dlopen handle; NULL for the built-in engine */
} xllm_engine;

/* Validate manifest text; where names the manifest file (errors, and the
 * folder that relative library names resolve against). */
xllm_status xllm_engine_manifest_parse(const char *text, size_t len, const char *where, xllm_engine_manifest *out);
xllm_status xllm_engine_manifest_load(const char *path, xllm_engine_manifest *out);
void xllm_engine_manifest_free(xllm_engine_manifest *m);
/* 1 if the manifest lists this format and architecture (either may be NULL: not checked). */
int xllm_engine_manifest_supports(const xllm_engine_manifest *m, const char *format, const char *arch);

/* Check a table an engine returned: ABI version, struct size, required
 * entries, and name (expected_name may be NULL). what names the engine in errors. */
xllm_status xllm_engine_check_api(const xllm_engine_api *api, const char *expected_name, const char *what);

/* Manifest -> validate -> dlopen -> entry -> check. */
xllm_status xllm_engine_open(const char *manifest_path, xllm_engine **out);
/* The built-in CPU engine (no library). */
xllm_status xllm_engine_open_cpu(xllm_engine **out);
void xllm_engine_close(xllm_engine *e);

/* Device choice: "cpu", "cuda", "cuda:N", "auto" or "null" (NULL or "": the
 * XLLM_DEVICE environment variable, else "cpu"). kind gets "cpu", "cuda",
 * "auto" or "null" (benchmarks: instant fixed logits)
 * (static strings), index the device number (0 unless ":N"). */
xllm_status xllm_device_parse(const char *spec, const char **kind, int32_t *index);
/* The manifest of a plugin engine: XLLM_ENGINE_PATH (a manifest file, or a
 * folder holding <kind>.json), else <kind>.json next to the running binary.
 * Writes the path into buf. */
xllm_status xllm_engine_manifest_find(const char *kind, char *buf, size_t n);
/* Open the engine for a device spec (xllm_device_parse). A plugin that
 * cannot be found or opened falls back to the CPU engine with a warning
 * ("auto": quietly); *device_index gets the GPU number for the load params.
 * The GPU itself is first touched by load: a caller whose plugin load fails
 * with XLLM_ENGINE_DEVICE_ERROR or UNSUPPORTED may fall back the same way. */
xllm_status xllm_engine_open_auto(const char *spec, xllm_engine **out, int32_t *device_index);

/* The CPU engine's table (cpu_plugin.c). */
const xllm_engine_api *xllm_engine_cpu_api(void);
/* The "null" device (null_engine.c, benchmarks): the CPU engine's load, a
 * forward that writes fixed logits at once. */
const xllm_engine_api *xllm_engine_null_api(void);

/* Coarse ABI status <-> xllm_status. */
int xllm_engine_status_from(xllm_status st);
xllm_status xllm_engine_status_to(int st);

#endif
