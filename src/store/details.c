/* details.c - model details (format, family, size, quantization) as Ollama
 * reports them. */
#include "store/details.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "format/gguf.h"

void xllm_human_number(uint64_t n, char *buf, size_t cap)
{
    double v;
    if (n >= 1000000000ull) {
        v = (double)n / 1e9;
        snprintf(buf, cap, v == floor(v) ? "%.0fB" : "%.1fB", v);
    } else if (n >= 1000000ull) {
        v = (double)n / 1e6;
        snprintf(buf, cap, v == floor(v) ? "%.0fM" : "%.2fM", v);
    } else if (n >= 1000) {
        snprintf(buf, cap, "%.0fK", (double)n / 1e3);
    } else {
        snprintf(buf, cap, "%llu", (unsigned long long)n);
    }
}

/* llama.cpp's LLAMA_FTYPE numbers (general.file_type). */
static const char *const ftype_names[] = {
    [0] = "F32",      [1] = "F16",     [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",    [8] = "Q5_0",
    [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L", [14] = "Q4_K_S",
    [15] = "Q4_K_M",  [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",   [19] = "IQ2_XXS", [20] = "IQ2_XS",
    [21] = "Q2_K_S",  [22] = "IQ3_XS", [23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S",
    [27] = "IQ3_M",   [28] = "IQ2_S",  [29] = "IQ2_M",  [30] = "IQ4_XS", [31] = "IQ1_M",  [32] = "BF16",
};

const char *xllm_file_type_name(uint32_t ftype)
{
    return ftype < sizeof ftype_names / sizeof ftype_names[0] ? ftype_names[ftype] : NULL;
}

xllm_status xllm_gguf_details(const char *path, xllm_model_details *d)
{
    xllm_gguf *g = NULL;
    xllm_str s;
    uint32_t ft;
    uint64_t params = 0;
    xllm_status st = xllm_gguf_open(path, &g);
    memset(d, 0, sizeof *d);
    snprintf(d->format, sizeof d->format, "gguf");
    if (st != XLLM_OK)
        return st;
    if (xllm_gguf_get_str(g, "general.architecture", &s) == XLLM_OK)
        snprintf(d->family, sizeof d->family, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
    for (int64_t i = 0; i < xllm_gguf_n_tensors(g); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(g, i);
        uint64_t n = 1;
        for (uint32_t k = 0; k < t->n_dims; k++)
            n *= t->ne[k];
        params += n;
    }
    if (params)
        xllm_human_number(params, d->parameter_size, sizeof d->parameter_size);
    if (xllm_gguf_get_u32(g, "general.file_type", &ft) == XLLM_OK && xllm_file_type_name(ft))
        snprintf(d->quantization_level, sizeof d->quantization_level, "%s", xllm_file_type_name(ft));
    xllm_gguf_close(g);
    xllm_clear_error();
    return XLLM_OK;
}

static void copy_field(json_t *o, const char *key, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v && *v)
        snprintf(dst, cap, "%s", v);
}

xllm_status xllm_model_ref_details(const xllm_model_ref *r, xllm_model_details *d)
{
    json_t *cfg = r->config_json ? json_loads(r->config_json, 0, NULL) : NULL;
    memset(d, 0, sizeof *d);
    if (r->model_is_dir) {
        char *p = xllm_path_join(r->model_path, "config.json"), *text = NULL;
        size_t len = 0;
        json_t *hf = NULL;
        snprintf(d->format, sizeof d->format, "safetensors");
        if (p && xllm_read_file(p, 1u << 20, &text, &len) == XLLM_OK && (hf = json_loads(text, 0, NULL)))
            copy_field(hf, "model_type", d->family, sizeof d->family);
        json_decref(hf);
        xllm_free(text);
        xllm_free(p);
        xllm_clear_error();
    } else if (r->model_path) {
        xllm_gguf_details(r->model_path, d); /* an unreadable file leaves the fields empty */
        xllm_clear_error();
    }
    if (json_is_object(cfg)) { /* what the registry says wins, as in Ollama */
        copy_field(cfg, "model_format", d->format, sizeof d->format);
        copy_field(cfg, "model_family", d->family, sizeof d->family);
        copy_field(cfg, "model_type", d->parameter_size, sizeof d->parameter_size);
        copy_field(cfg, "file_type", d->quantization_level, sizeof d->quantization_level);
    }
    json_decref(cfg);
    return XLLM_OK;
}
