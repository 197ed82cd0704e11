/* tiny_model.c - see tiny_model.h. Shapes come from the architecture tables
 * (the thing under test only decides names and shapes, not values). */
#include "tiny_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "model/arch.h"

tiny_cfg tiny_default(const char *arch)
{
    tiny_cfg c = {0};
    c.arch = arch;
    c.n_vocab = 64;
    c.n_embd = 32;
    c.n_ff = 48;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.head_dim = 8;
    c.n_ctx = 128;
    c.seed = 1234;
    c.fused_qkv = !strcmp(arch, "phi3") || !strcmp(arch, "nomic-bert");
    if (!strcmp(arch, "bert") || !strcmp(arch, "nomic-bert"))
        c.n_head_kv = c.n_head;
    return c;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float rng_uniform(uint64_t *s) /* [-1, 1) */
{
    return (float)((double)(rng_next(s) >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static int set_keys(xllm_gguf *g, const tiny_cfg *c, const xllm_arch_desc *a)
{
    char k[128];
    int rc = 0;
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, c->arch), k)
    rc |= xllm_gguf_set_str(g, "general.architecture", c->arch);
    rc |= xllm_gguf_set_u32(g, KEY("block_count"), (uint32_t)c->n_layer);
    rc |= xllm_gguf_set_u32(g, KEY("context_length"), (uint32_t)c->n_ctx);
    rc |= xllm_gguf_set_u32(g, KEY("embedding_length"), (uint32_t)c->n_embd);
    rc |= xllm_gguf_set_u32(g, KEY("feed_forward_length"), (uint32_t)c->n_ff);
    rc |= xllm_gguf_set_u32(g, KEY("attention.head_count"), (uint32_t)c->n_head);
    rc |= xllm_gguf_set_u32(g, KEY("attention.head_count_kv"), (uint32_t)c->n_head_kv);
    rc |= xllm_gguf_set_u32(g, KEY("attention.key_length"), (uint32_t)c->head_dim);
    rc |= xllm_gguf_set_u32(g, KEY("attention.value_length"), (uint32_t)c->head_dim);
    rc |= xllm_gguf_set_f32(g, a->norm == XLLM_NORM_RMS ? KEY("attention.layer_norm_rms_epsilon")
                                                        : KEY("attention.layer_norm_epsilon"),
                            1e-5f);
    if (a->rope != XLLM_ROPE_NONE) {
        rc |= xllm_gguf_set_f32(g, KEY("rope.freq_base"), 10000.0f);
        rc |= xllm_gguf_set_u32(g, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
    }
    if (c->sliding_window)
        rc |= xllm_gguf_set_u32(g, KEY("attention.sliding_window"), (uint32_t)c->sliding_window);
    if (c->attn_softcap > 0)
        rc |= xllm_gguf_set_f32(g, KEY("attn_logit_softcapping"), c->attn_softcap);
    if (c->final_softcap > 0)
        rc |= xllm_gguf_set_f32(g, KEY("final_logit_softcapping"), c->final_softcap);
#undef KEY
    return rc;
}

static int wanted(const tiny_cfg *c, const xllm_arch_desc *a, int r)
{
    uint64_t bit = XLLM_ROLE_BIT(r);
    const xllm_role_info *ri = xllm_role_get((xllm_role)r);
    int is_bias = strstr(ri->name, ".bias") != NULL;
    if (r == XLLM_R_ATTN_QKV)
        return c->fused_qkv;
    if (r == XLLM_R_ATTN_Q || r == XLLM_R_ATTN_K || r == XLLM_R_ATTN_V)
        return !c->fused_qkv;
    if (r == XLLM_R_OUTPUT)
        return c->untied && (a->optional & bit);
    if (a->required & bit)
        return 1;
    if (!(a->optional & bit) || !c->biases || !is_bias)
        return 0;
    if (r == XLLM_R_ATTN_QKV_B)
        return c->fused_qkv;
    if (r == XLLM_R_ATTN_Q_B || r == XLLM_R_ATTN_K_B || r == XLLM_R_ATTN_V_B)
        return !c->fused_qkv;
    if (r == XLLM_R_FFN_GATE_B)
        return a->ffn == XLLM_FFN_GATED;
    return 1;
}

static int add_tensor(xllm_gguf *g, const tiny_cfg *c, const xllm_hparams *hp, int r, int layer, uint64_t *rng)
{
    const xllm_role_info *ri = xllm_role_get((xllm_role)r);
    char name[128];
    uint64_t ne[2];
    int is_norm = strstr(ri->name, "norm.weight") != NULL, is_bias = strstr(ri->name, ".bias") != NULL;
    float *data;
    size_t n;
    if (ri->per_layer)
        snprintf(name, sizeof name, "blk.%d.%s", layer, ri->name);
    else
        snprintf(name, sizeof name, "%s", ri->name);
    if (c->skip && !strcmp(c->skip, name))
        return 0;
    ne[0] = (uint64_t)xllm_dim_value(hp, ri->ne0);
    ne[1] = ri->ne1 == XLLM_DIM_ANY ? (r == XLLM_R_POS_EMBD ? (uint64_t)c->n_ctx : 2) : (uint64_t)xllm_dim_value(hp, ri->ne1);
    if (c->bad_shape && !strcmp(c->bad_shape, name))
        ne[0] += 1;
    n = (size_t)(ne[0] * ne[1]);
    data = xllm_malloc(n * sizeof(float));
    if (!data)
        return -1;
    for (size_t i = 0; i < n; i++) {
        float u = rng_uniform(rng);
        if (is_norm)
            data[i] = 1.0f + 0.2f * u;
        else if (is_bias)
            data[i] = 0.1f * u;
        else if (ri->kind == XLLM_ROLE_MATRIX && r != XLLM_R_TOKEN_EMBD && r != XLLM_R_POS_EMBD &&
                 r != XLLM_R_TOKEN_TYPES)
            data[i] = u * 1.5f / sqrtf((float)ne[0]);
        else
            data[i] = u;
    }
    return xllm_gguf_add_tensor_owned(g, name, XLLM_DTYPE_F32, ri->kind == XLLM_ROLE_VECTOR ? 1 : 2, ne, data,
                                      n * sizeof(float)) == XLLM_OK
               ? 0
               : -1;
}

int tiny_build(const tiny_cfg *c, xllm_gguf **out)
{
    const xllm_arch_desc *a = xllm_arch_find(c->arch);
    xllm_hparams hp;
    xllm_gguf *g = NULL;
    uint64_t rng = c->seed * 0x9E3779B97F4A7C15ull + 1;
    *out = NULL;
    if (!a || xllm_gguf_new(&g) != XLLM_OK)
        return -1;
    memset(&hp, 0, sizeof hp);
    hp.arch = a;
    hp.n_vocab = c->n_vocab;
    hp.n_embd = c->n_embd;
    hp.n_ff = c->n_ff;
    hp.n_head = c->n_head;
    hp.n_head_kv = c->n_head_kv;
    hp.head_dim_k = hp.head_dim_v = c->head_dim;
    hp.n_rot = a->rope == XLLM_ROPE_NONE ? 0 : c->head_dim;
    if (set_keys(g, c, a))
        goto fail;
    for (int layer = -1; layer < c->n_layer; layer++)
        for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
            const xllm_role_info *ri = xllm_role_get((xllm_role)r);
            if (ri->per_layer != (layer >= 0) || !wanted(c, a, r))
                continue;
            if (add_tensor(g, c, &hp, r, layer, &rng))
                goto fail;
        }
    *out = g;
    return 0;
fail:
    xllm_gguf_close(g);
    return -1;
}
