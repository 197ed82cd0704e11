/* hf_config.c - config.json readers shared by the HF -> GGUF view and the
 * reverse converter: alternative keys, rope parameters of transformers 4.x and
 * 5.x files, llama3 rope factors, and the llama Q/K row permutation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/hf_map.h"

json_t *xllm_hf_cfg_get(json_t *cfg, const char *alts)
{
    char key[128];
    const char *p = alts;
    if (!json_is_object(cfg) || !alts)
        return NULL;
    while (*p) {
        size_t n = strcspn(p, "|");
        if (n < sizeof key) {
            json_t *v;
            memcpy(key, p, n);
            key[n] = 0;
            v = json_object_get(cfg, key);
            if (v && !json_is_null(v))
                return v;
        }
        p += n;
        if (*p == '|')
            p++;
    }
    return NULL;
}

int xllm_hf_cfg_num(json_t *cfg, const char *alts, double *v)
{
    json_t *j = xllm_hf_cfg_get(cfg, alts);
    if (!json_is_number(j) && !json_is_boolean(j))
        return 0;
    *v = json_is_boolean(j) ? (double)json_is_true(j) : json_number_value(j);
    return 1;
}

static void rope_from(json_t *o, xllm_hf_rope *r)
{
    json_t *t = xllm_hf_cfg_get(o, "rope_type|type");
    double v;
    if (json_is_string(t))
        snprintf(r->type, sizeof r->type, "%s", json_string_value(t));
    if (xllm_hf_cfg_num(o, "rope_theta", &v))
        r->theta = v;
    if (xllm_hf_cfg_num(o, "factor", &v))
        r->factor = v;
    if (xllm_hf_cfg_num(o, "low_freq_factor", &v))
        r->low_freq_factor = v;
    if (xllm_hf_cfg_num(o, "high_freq_factor", &v))
        r->high_freq_factor = v;
    if (xllm_hf_cfg_num(o, "original_max_position_embeddings", &v))
        r->orig_ctx = v;
    if (json_is_array(json_object_get(o, "long_factor")))
        r->long_factor = json_object_get(o, "long_factor");
    if (json_is_array(json_object_get(o, "short_factor")))
        r->short_factor = json_object_get(o, "short_factor");
    r->present = 1;
}

void xllm_hf_cfg_rope(json_t *cfg, const char *kind, double def_theta, xllm_hf_rope *r)
{
    json_t *rp = json_object_get(cfg, "rope_parameters");
    int sliding = !strcmp(kind, "sliding_attention");
    double v;
    memset(r, 0, sizeof *r);
    snprintf(r->type, sizeof r->type, "default");
    r->theta = def_theta;
    r->factor = 1.0;
    r->low_freq_factor = 1.0;
    r->high_freq_factor = 4.0;
    if (xllm_hf_cfg_num(cfg, "original_max_position_embeddings", &v))
        r->orig_ctx = v;
    if (json_is_object(rp)) { /* transformers 5: one dict, or one per layer type */
        json_t *per = json_object_get(rp, kind);
        json_t *full = json_object_get(rp, "full_attention");
        if (json_is_object(per))
            rope_from(per, r);
        else if (json_is_object(full))
            rope_from(full, r);
        else
            rope_from(rp, r);
        return;
    }
    if (xllm_hf_cfg_num(cfg, "rope_theta", &v)) {
        r->theta = v;
        r->present = 1;
    }
    if (sliding && xllm_hf_cfg_num(cfg, "rope_local_base_freq", &v)) {
        r->theta = v; /* gemma3 local layers: own base, no scaling */
        r->present = 1;
        return;
    }
    if (json_is_object(json_object_get(cfg, "rope_scaling")))
        rope_from(json_object_get(cfg, "rope_scaling"), r);
}

void xllm_hf_llama3_factors(const xllm_hf_rope *r, int head_dim, float *out)
{
    /* float32 throughout, as the converter's torch code computes it */
    const float two_pi = (float)(2.0 * M_PI);
    float old_ctx = r->orig_ctx > 0 ? (float)r->orig_ctx : 8192.0f;
    float low = (float)r->low_freq_factor, high = (float)r->high_freq_factor, factor = (float)r->factor;
    float low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    for (int i = 0; i < head_dim / 2; i++) {
        float freq = 1.0f / powf((float)r->theta, (float)(2 * i) / (float)head_dim);
        float wavelen = two_pi / freq;
        if (wavelen < high_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            out[i] = factor;
        } else {
            float smooth = (old_ctx / wavelen - low) / (high - low);
            out[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
}

void xllm_hf_permute_rows(const void *src, void *dst, uint64_t rows, uint64_t row_bytes, uint32_t n_head,
                          int inverse)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    uint64_t half = rows / n_head / 2;
    for (uint64_t h = 0; h < n_head; h++)
        for (uint64_t j = 0; j < half; j++)
            for (uint64_t k = 0; k < 2; k++) {
                uint64_t gguf_row = h * 2 * half + 2 * j + k;
                uint64_t hf_row = h * 2 * half + k * half + j;
                uint64_t from = inverse ? gguf_row : hf_row, to = inverse ? hf_row : gguf_row;
                memcpy(d + to * row_bytes, s + from * row_bytes, row_bytes);
            }
}
