/* engine_host.c - engine manifests (strict validation before dlopen), loading
 * engine libraries, and checking the table they report. */
#include "engine/engine_host.h"

#include <dlfcn.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "model/arch.h"

static const char *const known_formats[] = {"gguf", "safetensors", NULL};
static const char *const known_devices[] = {"cpu", "cuda", NULL};

/* xllm_status -> engine status, indexed by xllm_status. */
static const int status_map[XLLM_STATUS_COUNT] = {
    [XLLM_OK] = XLLM_ENGINE_OK,
    [XLLM_ERR_INVALID_ARGUMENT] = XLLM_ENGINE_INVALID_ARGUMENT,
    [XLLM_ERR_UNSUPPORTED] = XLLM_ENGINE_UNSUPPORTED,
    [XLLM_ERR_OUT_OF_MEMORY] = XLLM_ENGINE_OUT_OF_MEMORY,
    [XLLM_ERR_IO] = XLLM_ENGINE_IO_ERROR,
    [XLLM_ERR_FORMAT] = XLLM_ENGINE_INVALID_ARGUMENT,
    [XLLM_ERR_NOT_FOUND] = XLLM_ENGINE_IO_ERROR,
    [XLLM_ERR_LIMIT] = XLLM_ENGINE_INVALID_ARGUMENT,
    [XLLM_ERR_DEVICE] = XLLM_ENGINE_DEVICE_ERROR,
    [XLLM_ERR_CANCELLED] = XLLM_ENGINE_CANCELLED,
    [XLLM_ERR_TIMEOUT] = XLLM_ENGINE_TIMEOUT,
    [XLLM_ERR_ABI_MISMATCH] = XLLM_ENGINE_ABI_MISMATCH,
    [XLLM_ERR_INTERNAL] = XLLM_ENGINE_INTERNAL,
};

static const xllm_status status_back[] = {
    [XLLM_ENGINE_OK] = XLLM_OK,
    [XLLM_ENGINE_INVALID_ARGUMENT] = XLLM_ERR_INVALID_ARGUMENT,
    [XLLM_ENGINE_UNSUPPORTED] = XLLM_ERR_UNSUPPORTED,
    [XLLM_ENGINE_OUT_OF_MEMORY] = XLLM_ERR_OUT_OF_MEMORY,
    [XLLM_ENGINE_DEVICE_ERROR] = XLLM_ERR_DEVICE,
    [XLLM_ENGINE_IO_ERROR] = XLLM_ERR_IO,
    [XLLM_ENGINE_CANCELLED] = XLLM_ERR_CANCELLED,
    [XLLM_ENGINE_TIMEOUT] = XLLM_ERR_TIMEOUT,
    [XLLM_ENGINE_INTERNAL] = XLLM_ERR_INTERNAL,
    [XLLM_ENGINE_ABI_MISMATCH] = XLLM_ERR_ABI_MISMATCH,
};

int xllm_engine_status_from(xllm_status st)
{
    return (unsigned)st < XLLM_STATUS_COUNT ? status_map[st] : XLLM_ENGINE_INTERNAL;
}

xllm_status xllm_engine_status_to(int st)
{
    return st >= 0 && (size_t)st < sizeof status_back / sizeof status_back[0] ? status_back[st] : XLLM_ERR_INTERNAL;
}

/* ---- manifest ---- */

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > XLLM_ENGINE_MAX_NAME)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static xllm_status get_string(json_t *root, const char *key, const char *where, char **out)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: engine manifest lacks \"%s\"", where, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4096 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: engine manifest \"%s\" must be a non-empty string", where, key);
    *out = xllm_strdup(json_string_value(v));
    return *out ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
}

/* Non-empty array of non-empty strings; known (NULL: any) restricts values. */
static xllm_status get_list(json_t *root, const char *key, const char *const *known, const char *where, char ***out,
                            int *n_out)
{
    json_t *a = json_object_get(root, key);
    size_t n = json_array_size(a);
    if (!json_is_array(a) || n == 0 || n > XLLM_ENGINE_MAX_LIST)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: engine manifest \"%s\" must be a non-empty array of strings (at most %d)",
                         where, key, XLLM_ENGINE_MAX_LIST);
    *out = xllm_calloc(n, sizeof(char *));
    if (!*out)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    *n_out = (int)n;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !*s || strlen(s) > XLLM_ENGINE_MAX_NAME)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: engine manifest \"%s\"[%zu] must be a short non-empty string", where,
                             key, i);
        if (known && !in_list(s, known))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: engine manifest \"%s\" lists unknown value \"%s\"", where, key, s);
        if (!((*out)[i] = xllm_strdup(s)))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return XLLM_OK;
}

/* Library: a relative path inside the manifest's folder (no "..", not absolute). */
static xllm_status resolve_library(const char *where, xllm_engine_manifest *m)
{
    const char *slash = strrchr(where, '/');
    char *dir, *path;
    if (m->library[0] == '/' || strstr(m->library, "..") || strchr(m->library, '\\'))
        return xllm_fail(XLLM_ERR_FORMAT,
                         "%s: engine manifest \"library\" must be a path relative to the manifest's folder: \"%s\"",
                         where, m->library);
    dir = slash ? xllm_strndup(where, (size_t)(slash - where)) : xllm_strdup(".");
    path = dir ? xllm_path_join(dir, m->library) : NULL;
    xllm_free(dir);
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    xllm_free(m->library);
    m->library = path;
    return XLLM_OK;
}

xllm_status xllm_engine_manifest_parse(const char *text, size_t len, const char *where, xllm_engine_manifest *out)
{
    json_error_t err;
    json_t *root, *abi;
    xllm_status st;
    memset(out, 0, sizeof *out);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return xllm_fail(XLLM_ERR_FORMAT, "%s:%d:%d: engine manifest is not valid JSON: %s", where, err.line,
                         err.column, err.text);
    st = XLLM_ERR_FORMAT;
    if (!json_is_object(root)) {
        xllm_fail(st, "%s: engine manifest must be a JSON object", where);
        goto out;
    }
    if ((st = get_string(root, "name", where, &out->name)) != XLLM_OK ||
        (st = get_string(root, "version", where, &out->version)) != XLLM_OK ||
        (st = get_string(root, "library", where, &out->library)) != XLLM_OK)
        goto out;
    if (!valid_name(out->name)) {
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: engine name \"%s\" must be 1-%d characters of [a-z0-9_.-]", where,
                       out->name, XLLM_ENGINE_MAX_NAME);
        goto out;
    }
    abi = json_object_get(root, "abi_version");
    if (!json_is_integer(abi) || json_integer_value(abi) < 1 || json_integer_value(abi) > UINT32_MAX) {
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: engine manifest \"abi_version\" must be a positive integer", where);
        goto out;
    }
    out->abi_version = (uint32_t)json_integer_value(abi);
    if (out->abi_version != XLLM_ENGINE_ABI_VERSION) {
        st = xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: engine \"%s\" is built for engine ABI %u, this xllm speaks ABI %u",
                       where, out->name, out->abi_version, XLLM_ENGINE_ABI_VERSION);
        goto out;
    }
    if ((st = get_list(root, "formats", known_formats, where, &out->formats, &out->n_formats)) != XLLM_OK ||
        (st = get_list(root, "architectures", NULL, where, &out->architectures, &out->n_architectures)) != XLLM_OK ||
        (st = get_list(root, "devices", known_devices, where, &out->devices, &out->n_devices)) != XLLM_OK ||
        (st = resolve_library(where, out)) != XLLM_OK)
        goto out;
    st = XLLM_OK;
out:
    json_decref(root);
    if (st != XLLM_OK)
        xllm_engine_manifest_free(out);
    return st;
}

xllm_status xllm_engine_manifest_load(const char *path, xllm_engine_manifest *out)
{
    char *text = NULL;
    size_t len = 0;
    xllm_status st;
    memset(out, 0, sizeof *out);
    if ((st = xllm_read_file(path, 1u << 20, &text, &len)) != XLLM_OK)
        return st;
    st = xllm_engine_manifest_parse(text, len, path, out);
    xllm_free(text);
    return st;
}

static void free_list(char **l, int n)
{
    for (int i = 0; l && i < n; i++)
        xllm_free(l[i]);
    xllm_free(l);
}

void xllm_engine_manifest_free(xllm_engine_manifest *m)
{
    if (!m)
        return;
    xllm_free(m->name);
    xllm_free(m->version);
    xllm_free(m->library);
    free_list(m->formats, m->n_formats);
    free_list(m->architectures, m->n_architectures);
    free_list(m->devices, m->n_devices);
    memset(m, 0, sizeof *m);
}

static int list_has(char **l, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(l[i], s))
            return 1;
    return 0;
}

int xllm_engine_manifest_supports(const xllm_engine_manifest *m, const char *format, const char *arch)
{
    return (!format || list_has(m->formats, m->n_formats, format)) &&
           (!arch || list_has(m->architectures, m->n_architectures, arch));
}

/* ---- libraries ---- */

xllm_status xllm_engine_check_api(const xllm_engine_api *api, const char *expected_name, const char *what)
{
    if (!api)
        return xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: engine entry returned no table for host ABI %u", what,
                         XLLM_ENGINE_ABI_VERSION);
    if (api->abi_version != XLLM_ENGINE_ABI_VERSION) {
        XLLM_ERROR("%s: engine reports ABI %u, host ABI %u", what, api->abi_version, XLLM_ENGINE_ABI_VERSION);
        return xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: engine reports ABI version %u, this xllm speaks %u", what,
                         api->abi_version, XLLM_ENGINE_ABI_VERSION);
    }
    if (api->struct_size < offsetof(xllm_engine_api, kv_copy_block))
        return xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: engine table of %u bytes is smaller than ABI %u's %zu", what,
                         api->struct_size, XLLM_ENGINE_ABI_VERSION, offsetof(xllm_engine_api, kv_copy_block));
    if (!api->name || !api->version || !api->memory_required || !api->load || !api->free || !api->forward ||
        !api->last_error || !api->model_info)
        return xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: engine table lacks a required entry", what);
    if (expected_name && strcmp(api->name, expected_name) != 0)
        return xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: library reports engine \"%s\", manifest says \"%s\"", what,
                         api->name, expected_name);
    return XLLM_OK;
}

xllm_status xllm_engine_open(const char *manifest_path, xllm_engine **out)
{
    xllm_engine *e;
    xllm_engine_entry_fn entry;
    xllm_status st;
    *out = NULL;
    e = xllm_calloc(1, sizeof *e);
    if (!e)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if ((st = xllm_engine_manifest_load(manifest_path, &e->manifest)) != XLLM_OK)
        goto out;
    e->dl = dlopen(e->manifest.library, RTLD_NOW | RTLD_LOCAL);
    if (!e->dl) {
        const char *why = dlerror();
        st = xllm_fail(XLLM_ERR_IO, "%s: cannot load engine library %s: %s", manifest_path, e->manifest.library,
                       why ? why : "unknown error");
        goto out;
    }
    *(void **)&entry = dlsym(e->dl, XLLM_ENGINE_ENTRY_SYMBOL);
    if (!entry) {
        st = xllm_fail(XLLM_ERR_ABI_MISMATCH, "%s: %s does not export %s", manifest_path, e->manifest.library,
                       XLLM_ENGINE_ENTRY_SYMBOL);
        goto out;
    }
    e->api = entry(XLLM_ENGINE_ABI_VERSION);
    if ((st = xllm_engine_check_api(e->api, e->manifest.name, e->manifest.library)) != XLLM_OK)
        goto out;
    *out = e;
    e = NULL;
out:
    xllm_engine_close(e);
    return st;
}

/* An engine built into the binary (api) serving one device name. */
static xllm_status open_builtin(const xllm_engine_api *api, const char *device, xllm_engine **out)
{
    static const char *const formats[] = {"gguf", "safetensors"};
    xllm_engine *e = xllm_calloc(1, sizeof *e);
    xllm_engine_manifest *m;
    xllm_status st = XLLM_ERR_OUT_OF_MEMORY;
    *out = NULL;
    if (!e)
        return xllm_fail(st, "out of memory");
    m = &e->manifest;
    e->api = api;
    m->abi_version = XLLM_ENGINE_ABI_VERSION;
    m->name = xllm_strdup(e->api->name);
    m->version = xllm_strdup(e->api->version);
    m->formats = xllm_calloc(2, sizeof(char *));
    m->architectures = xllm_calloc(XLLM_ARCH_COUNT, sizeof(char *));
    m->devices = xllm_calloc(1, sizeof(char *));
    if (!m->name || !m->version || !m->formats || !m->architectures || !m->devices)
        goto fail;
    for (; m->n_formats < 2; m->n_formats++)
        if (!(m->formats[m->n_formats] = xllm_strdup(formats[m->n_formats])))
            goto fail;
    for (; m->n_architectures < XLLM_ARCH_COUNT; m->n_architectures++)
        if (!(m->architectures[m->n_architectures] =
                  xllm_strdup(xllm_arch_get((xllm_arch_id)m->n_architectures)->name)))
            goto fail;
    if (!(m->devices[0] = xllm_strdup(device)))
        goto fail;
    m->n_devices = 1;
    if ((st = xllm_engine_check_api(e->api, NULL, "built-in engine")) != XLLM_OK)
        goto fail;
    *out = e;
    return XLLM_OK;
fail:
    xllm_engine_close(e);
    return st == XLLM_ERR_OUT_OF_MEMORY ? xllm_fail(st, "out of memory") : st;
}

xllm_status xllm_engine_open_cpu(xllm_engine **out)
{
    return open_builtin(xllm_engine_cpu_api(), "cpu", out);
}

void xllm_engine_close(xllm_engine *e)
{
    if (!e)
        return;
    xllm_engine_manifest_free(&e->manifest);
    if (e->dl)
        dlclose(e->dl);
    xllm_free(e);
}

/* ---- device choice ---- */

xllm_status xllm_device_parse(const char *spec, const char **kind, int32_t *index)
{
    const char *s = spec && *spec ? spec : getenv("XLLM_DEVICE");
    char *end;
    long n;
    *kind = "cpu";
    *index = 0;
    if (!s || !*s || !strcmp(s, "cpu"))
        return XLLM_OK;
    if (!strcmp(s, "auto") || !strcmp(s, "null")) {
        *kind = !strcmp(s, "auto") ? "auto" : "null";
        return XLLM_OK;
    }
    if (strncmp(s, "cuda", 4) || (s[4] && s[4] != ':'))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "device \"%s\": expected cpu, cuda, cuda:N, auto or null", s);
    *kind = "cuda";
    if (!s[4])
        return XLLM_OK;
    n = strtol(s + 5, &end, 10);
    if (end == s + 5 || *end || n < 0 || n > 255)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "device \"%s\": the GPU number must be 0..255", s);
    *index = (int32_t)n;
    return XLLM_OK;
}

xllm_status xllm_engine_manifest_find(const char *kind, char *buf, size_t n)
{
    const char *env = getenv("XLLM_ENGINE_PATH");
    char exe[4096];
    ssize_t k;
    if (env && *env) {
        if (xllm_is_dir(env))
            snprintf(buf, n, "%s/%s.json", env, kind);
        else
            snprintf(buf, n, "%s", env);
        return XLLM_OK;
    }
    k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return xllm_fail(XLLM_ERR_NOT_FOUND, "cannot find the running binary to look for %s.json", kind);
    exe[k] = 0;
    *strrchr(exe, '/') = 0; /* an absolute path always has one */
    snprintf(buf, n, "%s/%s.json", exe, kind);
    return XLLM_OK;
}

xllm_status xllm_engine_open_auto(const char *spec, xllm_engine **out, int32_t *device_index)
{
    const char *kind;
    char path[4200];
    xllm_status st;
    *out = NULL;
    if ((st = xllm_device_parse(spec, &kind, device_index)) != XLLM_OK)
        return st;
    if (!strcmp(kind, "cpu"))
        return xllm_engine_open_cpu(out);
    if (!strcmp(kind, "null"))
        return open_builtin(xllm_engine_null_api(), "null", out);
    if ((st = xllm_engine_manifest_find("cuda", path, sizeof path)) == XLLM_OK &&
        (st = xllm_engine_open(path, out)) == XLLM_OK)
        return XLLM_OK;
    if (!strcmp(kind, "auto"))
        XLLM_INFO("no GPU engine (%s); using the CPU engine", xllm_last_error());
    else
        XLLM_WARN("device %s: %s; using the CPU engine", kind, xllm_last_error());
    *device_index = 0;
    return xllm_engine_open_cpu(out);
}
