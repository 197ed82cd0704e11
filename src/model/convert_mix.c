/* convert_mix.c - output types of a conversion: the --type table (with
 * llama.cpp's LLAMA_FTYPE numbers) and the per-tensor rule that reproduces
 * llama-quantize's mixes (see convert.h for the rule in words). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/dtype.h"
#include "model/convert.h"

static const xllm_ftype_info ftypes[] = {
    {"f32", 0, XLLM_DTYPE_F32, 0},    {"f16", 1, XLLM_DTYPE_F16, 0},     {"bf16", 32, XLLM_DTYPE_BF16, 0},
    {"q8_0", 7, XLLM_DTYPE_Q8_0, 0},  {"q4_0", 2, XLLM_DTYPE_Q4_0, 0},   {"q4_1", 3, XLLM_DTYPE_Q4_1, 0},
    {"q5_0", 8, XLLM_DTYPE_Q5_0, 0},  {"q5_1", 9, XLLM_DTYPE_Q5_1, 0},   {"q4_k_m", 15, XLLM_DTYPE_Q4_K, 1},
    {"q5_k_m", 17, XLLM_DTYPE_Q5_K, 1}, {"q6_k", 18, XLLM_DTYPE_Q6_K, 0},
};

const xllm_ftype_info *xllm_ftype_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (!strcasecmp(ftypes[i].name, name))
            return &ftypes[i];
    return NULL;
}

const char *xllm_ftype_names(void) { return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k_m, q5_k_m, q6_k"; }

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Layer number of "blk.N.<rest>" when rest == role, else -1. */
static int layer_of(const char *name, const char *role)
{
    char *end;
    long l;
    if (strncmp(name, "blk.", 4))
        return -1;
    l = strtol(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || strcmp(end + 1, role) || l < 0)
        return -1;
    return (int)l;
}

static void count_one(xllm_mix_counts *mc, const char *name)
{
    mc->n_attn_v += layer_of(name, "attn_v.weight") >= 0;
    mc->n_ffn_down += layer_of(name, "ffn_down.weight") >= 0;
    mc->has_output |= !strcmp(name, "output.weight");
}

void xllm_mix_count_names(const char *const *names, int64_t n, xllm_mix_counts *mc)
{
    memset(mc, 0, sizeof *mc);
    for (int64_t i = 0; i < n; i++)
        count_one(mc, names[i]);
}

void xllm_mix_count(const xllm_gguf *src, xllm_mix_counts *mc)
{
    memset(mc, 0, sizeof *mc);
    for (int64_t i = 0; i < xllm_gguf_n_tensors(src); i++)
        count_one(mc, xllm_gguf_tensor_at(src, i)->name);
}

static int use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int fits(uint32_t t, uint64_t ne0)
{
    const xllm_dtype_info *d = xllm_dtype_get(t);
    return d && ne0 % d->block_elems == 0;
}

static int keep_f32(const char *name, uint32_t n_dims)
{
    return n_dims <= 1 || ends_with(name, "_norm.weight") || !ends_with(name, ".weight") ||
           !strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight");
}

uint32_t xllm_convert_tensor_type(const xllm_ftype_info *ft, const xllm_mix_counts *mc, const char *name,
                                  uint32_t n_dims, const uint64_t *ne)
{
    uint32_t t = ft->base;
    int l;
    if (keep_f32(name, n_dims))
        return XLLM_DTYPE_F32;
    if (t == XLLM_DTYPE_F32 || t == XLLM_DTYPE_F16 || t == XLLM_DTYPE_BF16)
        return t;
    if (!strcmp(name, "output.weight") || (!mc->has_output && !strcmp(name, "token_embd.weight"))) {
        if (!fits(t, ne[0]))
            t = XLLM_DTYPE_Q8_0;
        else if (t != XLLM_DTYPE_Q8_0)
            t = XLLM_DTYPE_Q6_K;
    } else if (ft->k_mix && (l = layer_of(name, "attn_v.weight")) >= 0) {
        if (use_more_bits(l, mc->n_attn_v))
            t = XLLM_DTYPE_Q6_K;
    } else if (ft->k_mix && (l = layer_of(name, "ffn_down.weight")) >= 0) {
        if (use_more_bits(l, mc->n_ffn_down))
            t = XLLM_DTYPE_Q6_K;
    } else if (ft->k_mix && ends_with(name, "attn_qkv.weight")) {
        t = ft->base == XLLM_DTYPE_Q4_K ? XLLM_DTYPE_Q5_K : XLLM_DTYPE_Q6_K;
    }
    if (!fits(t, ne[0])) {
        t = t == XLLM_DTYPE_Q4_K ? XLLM_DTYPE_Q5_0
          : t == XLLM_DTYPE_Q5_K ? XLLM_DTYPE_Q5_1
          : t == XLLM_DTYPE_Q6_K ? XLLM_DTYPE_Q8_0
          : XLLM_DTYPE_F16;
        if (!fits(t, ne[0]))
            t = XLLM_DTYPE_F16;
    }
    return t;
}
