/* arch.c - architecture and tensor-role tables, and reading the standard GGUF
 * hyper-parameter keys into xllm_hparams. */
#include "model/arch.h"

#include "base/alloc.h"
#include "base/limits.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define B(r) XLLM_ROLE_BIT(XLLM_R_##r)

/* Standard GGUF tensor names (llama.cpp gguf-py TENSOR_NAMES) with ".weight"/".bias". */
static const xllm_role_info role_table[XLLM_ROLE_COUNT] = {
    [XLLM_R_TOKEN_EMBD] = {"token_embd.weight", 0, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_VOCAB},
    [XLLM_R_TOKEN_EMBD_NORM] = {"token_embd_norm.weight", 0, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_TOKEN_EMBD_NORM_B] = {"token_embd_norm.bias", 0, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_TOKEN_TYPES] = {"token_types.weight", 0, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_ANY},
    [XLLM_R_POS_EMBD] = {"position_embd.weight", 0, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_ANY},
    [XLLM_R_OUTPUT_NORM] = {"output_norm.weight", 0, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_OUTPUT_NORM_B] = {"output_norm.bias", 0, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_OUTPUT] = {"output.weight", 0, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_VOCAB},
    [XLLM_R_ROPE_FREQS] = {"rope_freqs.weight", 0, XLLM_ROLE_VECTOR, XLLM_DIM_ROT_HALF, XLLM_DIM_ONE},
    [XLLM_R_ROPE_FACTORS_SHORT] = {"rope_factors_short.weight", 0, XLLM_ROLE_VECTOR, XLLM_DIM_ROT_HALF, XLLM_DIM_ONE},
    [XLLM_R_ROPE_FACTORS_LONG] = {"rope_factors_long.weight", 0, XLLM_ROLE_VECTOR, XLLM_DIM_ROT_HALF, XLLM_DIM_ONE},
    [XLLM_R_ATTN_NORM] = {"attn_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_ATTN_NORM_B] = {"attn_norm.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_ATTN_Q] = {"attn_q.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_Q},
    [XLLM_R_ATTN_Q_B] = {"attn_q.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_Q, XLLM_DIM_ONE},
    [XLLM_R_ATTN_K] = {"attn_k.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_K},
    [XLLM_R_ATTN_K_B] = {"attn_k.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_K, XLLM_DIM_ONE},
    [XLLM_R_ATTN_V] = {"attn_v.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_V},
    [XLLM_R_ATTN_V_B] = {"attn_v.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_V, XLLM_DIM_ONE},
    [XLLM_R_ATTN_QKV] = {"attn_qkv.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_QKV},
    [XLLM_R_ATTN_QKV_B] = {"attn_qkv.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_QKV, XLLM_DIM_ONE},
    [XLLM_R_ATTN_OUT] = {"attn_output.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_O, XLLM_DIM_EMBD},
    [XLLM_R_ATTN_OUT_B] = {"attn_output.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_ATTN_Q_NORM] = {"attn_q_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_HEAD_K, XLLM_DIM_ONE},
    [XLLM_R_ATTN_K_NORM] = {"attn_k_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_HEAD_K, XLLM_DIM_ONE},
    [XLLM_R_ATTN_POST_NORM] = {"post_attention_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_ATTN_OUT_NORM] = {"attn_output_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_ATTN_OUT_NORM_B] = {"attn_output_norm.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_FFN_NORM] = {"ffn_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_FFN_NORM_B] = {"ffn_norm.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_FFN_GATE] = {"ffn_gate.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_FF},
    [XLLM_R_FFN_GATE_B] = {"ffn_gate.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_FF, XLLM_DIM_ONE},
    [XLLM_R_FFN_UP] = {"ffn_up.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_EMBD, XLLM_DIM_FF_UP},
    [XLLM_R_FFN_UP_B] = {"ffn_up.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_FF_UP, XLLM_DIM_ONE},
    [XLLM_R_FFN_DOWN] = {"ffn_down.weight", 1, XLLM_ROLE_MATRIX, XLLM_DIM_FF, XLLM_DIM_EMBD},
    [XLLM_R_FFN_DOWN_B] = {"ffn_down.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_FFN_POST_NORM] = {"post_ffw_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_LAYER_OUT_NORM] = {"layer_output_norm.weight", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
    [XLLM_R_LAYER_OUT_NORM_B] = {"layer_output_norm.bias", 1, XLLM_ROLE_VECTOR, XLLM_DIM_EMBD, XLLM_DIM_ONE},
};

/* Attention input: attn_qkv or attn_q/attn_k/attn_v (the loader accepts either
 * form for every arch, so these are optional bits everywhere). */
#define ATTN_IN (B(ATTN_Q) | B(ATTN_K) | B(ATTN_V) | B(ATTN_QKV))
#define ALL_BIASES (B(ATTN_Q_B) | B(ATTN_K_B) | B(ATTN_V_B) | B(ATTN_QKV_B) | B(ATTN_OUT_B) | \
                    B(FFN_GATE_B) | B(FFN_UP_B) | B(FFN_DOWN_B))
#define DECODER_REQ (B(TOKEN_EMBD) | B(OUTPUT_NORM) | B(ATTN_NORM) | B(ATTN_OUT) | B(FFN_NORM) | \
                     B(FFN_UP) | B(FFN_DOWN))
#define DECODER_OPT (B(OUTPUT) | B(ROPE_FREQS) | B(ROPE_FACTORS_SHORT) | B(ROPE_FACTORS_LONG) | ATTN_IN | ALL_BIASES)
#define ENCODER_REQ (B(TOKEN_EMBD) | B(TOKEN_TYPES) | B(TOKEN_EMBD_NORM) | B(TOKEN_EMBD_NORM_B) | \
                     B(ATTN_OUT) | B(ATTN_OUT_NORM) | B(ATTN_OUT_NORM_B) | B(FFN_UP) | B(FFN_DOWN) | \
                     B(LAYER_OUT_NORM) | B(LAYER_OUT_NORM_B))
#define ENCODER_OPT (ATTN_IN | ALL_BIASES | B(OUTPUT_NORM) | B(OUTPUT_NORM_B))

static const xllm_arch_desc arch_table[XLLM_ARCH_COUNT] = {
    [XLLM_ARCH_LLAMA] = {"llama", XLLM_ARCH_LLAMA, XLLM_NORM_RMS, XLLM_ROPE_NORM, XLLM_ACT_SILU, XLLM_FFN_GATED,
                         0, 1, 0, DECODER_REQ | B(FFN_GATE), DECODER_OPT},
    [XLLM_ARCH_QWEN2] = {"qwen2", XLLM_ARCH_QWEN2, XLLM_NORM_RMS, XLLM_ROPE_NEOX, XLLM_ACT_SILU, XLLM_FFN_GATED,
                         0, 1, 0, DECODER_REQ | B(FFN_GATE), DECODER_OPT},
    [XLLM_ARCH_QWEN3] = {"qwen3", XLLM_ARCH_QWEN3, XLLM_NORM_RMS, XLLM_ROPE_NEOX, XLLM_ACT_SILU, XLLM_FFN_GATED,
                         0, 1, 0, DECODER_REQ | B(FFN_GATE) | B(ATTN_Q_NORM) | B(ATTN_K_NORM), DECODER_OPT},
    [XLLM_ARCH_GEMMA2] = {"gemma2", XLLM_ARCH_GEMMA2, XLLM_NORM_RMS, XLLM_ROPE_NEOX, XLLM_ACT_GELU_TANH,
                          XLLM_FFN_GATED, XLLM_ARCH_F_EMBD_SCALE, 2, 0,
                          DECODER_REQ | B(FFN_GATE) | B(ATTN_POST_NORM) | B(FFN_POST_NORM), DECODER_OPT},
    [XLLM_ARCH_GEMMA3] = {"gemma3", XLLM_ARCH_GEMMA3, XLLM_NORM_RMS, XLLM_ROPE_NEOX, XLLM_ACT_GELU_TANH,
                          XLLM_FFN_GATED, XLLM_ARCH_F_EMBD_SCALE | XLLM_ARCH_F_SWA_OWN_ROPE, 6, 10000.0f,
                          DECODER_REQ | B(FFN_GATE) | B(ATTN_POST_NORM) | B(FFN_POST_NORM) | B(ATTN_Q_NORM) |
                              B(ATTN_K_NORM),
                          DECODER_OPT},
    [XLLM_ARCH_PHI3] = {"phi3", XLLM_ARCH_PHI3, XLLM_NORM_RMS, XLLM_ROPE_NEOX, XLLM_ACT_SILU, XLLM_FFN_GATED_FUSED,
                        0, 1, 0, DECODER_REQ, DECODER_OPT},
    [XLLM_ARCH_BERT] = {"bert", XLLM_ARCH_BERT, XLLM_NORM_LAYER, XLLM_ROPE_NONE, XLLM_ACT_GELU_ERF, XLLM_FFN_PLAIN,
                        XLLM_ARCH_F_ENCODER, 1, 0, ENCODER_REQ | B(POS_EMBD), ENCODER_OPT},
    [XLLM_ARCH_NOMIC_BERT] = {"nomic-bert", XLLM_ARCH_NOMIC_BERT, XLLM_NORM_LAYER, XLLM_ROPE_NEOX, XLLM_ACT_SILU,
                              XLLM_FFN_GATED, XLLM_ARCH_F_ENCODER, 1, 0, ENCODER_REQ | B(FFN_GATE), ENCODER_OPT},
};

const xllm_arch_desc *xllm_arch_find(const char *name)
{
    for (int i = 0; name && i < XLLM_ARCH_COUNT; i++)
        if (strcmp(arch_table[i].name, name) == 0)
            return &arch_table[i];
    return NULL;
}

const xllm_arch_desc *xllm_arch_get(xllm_arch_id id)
{
    return (unsigned)id < XLLM_ARCH_COUNT ? &arch_table[id] : NULL;
}

const xllm_role_info *xllm_role_get(xllm_role r)
{
    return (unsigned)r < XLLM_ROLE_COUNT ? &role_table[r] : NULL;
}

const char *xllm_arch_names(void)
{
    return "llama, qwen2, qwen3, gemma2, gemma3, phi3, bert, nomic-bert";
}

int64_t xllm_dim_value(const xllm_hparams *hp, xllm_dim d)
{
    int64_t q = (int64_t)hp->n_head * hp->head_dim_k;
    int64_t k = (int64_t)hp->n_head_kv * hp->head_dim_k;
    int64_t v = (int64_t)hp->n_head_kv * hp->head_dim_v;
    switch (d) {
    case XLLM_DIM_ONE: return 1;
    case XLLM_DIM_EMBD: return hp->n_embd;
    case XLLM_DIM_VOCAB: return hp->n_vocab;
    case XLLM_DIM_Q: return q;
    case XLLM_DIM_K: return k;
    case XLLM_DIM_V: return v;
    case XLLM_DIM_QKV: return q + k + v;
    case XLLM_DIM_O: return (int64_t)hp->n_head * hp->head_dim_v;
    case XLLM_DIM_FF: return hp->n_ff;
    case XLLM_DIM_FF_UP: return hp->arch->ffn == XLLM_FFN_GATED_FUSED ? 2 * (int64_t)hp->n_ff : hp->n_ff;
    case XLLM_DIM_HEAD_K: return hp->head_dim_k;
    case XLLM_DIM_ROT_HALF: return hp->n_rot / 2;
    case XLLM_DIM_ANY: return 0;
    }
    return 0;
}

/* ---- reading keys ---- */

typedef struct key_reader {
    const xllm_gguf *g;
    const char *arch;
    const char *file;
} key_reader;

static void key_name(const key_reader *kr, const char *suffix, char *buf, size_t n)
{
    snprintf(buf, n, "%s.%s", kr->arch, suffix);
}

/* Integer key, required or with a default; must lie in [lo, hi]. */
static xllm_status get_int(const key_reader *kr, const char *suffix, int required, int64_t def, int64_t lo,
                           int64_t hi, int32_t *out)
{
    char key[128];
    int64_t v;
    key_name(kr, suffix, key, sizeof key);
    xllm_status st = xllm_gguf_get_i64(kr->g, key, &v);
    if (st == XLLM_ERR_NOT_FOUND) {
        if (required)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: missing metadata key '%s'", kr->file, key);
        v = def;
    } else if (st != XLLM_OK) {
        return xllm_fail_wrap(st, "%s: key '%s'", kr->file, key);
    }
    if (v < lo || v > hi)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: metadata '%s' = %lld is out of range [%lld, %lld]", kr->file, key,
                         (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return XLLM_OK;
}

static xllm_status get_float(const key_reader *kr, const char *suffix, float def, float *out)
{
    char key[128];
    key_name(kr, suffix, key, sizeof key);
    xllm_status st = xllm_gguf_get_f32(kr->g, key, out);
    if (st == XLLM_ERR_NOT_FOUND) {
        *out = def;
        return XLLM_OK;
    }
    if (st != XLLM_OK)
        return xllm_fail_wrap(st, "%s: key '%s'", kr->file, key);
    if (!isfinite(*out))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: metadata '%s' is not a finite number", kr->file, key);
    return XLLM_OK;
}

/* rope.scaling.*: none / linear / llama3 (from metadata; a rope_freqs tensor wins). */
static xllm_status read_rope_scaling(const key_reader *kr, xllm_hparams *hp)
{
    char key[128];
    xllm_str type = {0};
    float factor = 1.0f;
    xllm_status st;
    key_name(kr, "rope.scaling.type", key, sizeof key);
    st = xllm_gguf_get_str(kr->g, key, &type);
    if (st != XLLM_OK && st != XLLM_ERR_NOT_FOUND)
        return xllm_fail_wrap(st, "%s: key '%s'", kr->file, key);
    if ((st = get_float(kr, "rope.scaling.factor", 1.0f, &factor)) != XLLM_OK ||
        (st = get_float(kr, "rope.scaling.attn_factor", 1.0f, &hp->rope_attn_factor)) != XLLM_OK)
        return st;
    hp->rope_freq_scale = 1.0f;
    if (type.len == 0 || (type.len == 4 && memcmp(type.ptr, "none", 4) == 0))
        return XLLM_OK;
    if (factor <= 0.0f)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: rope.scaling.factor %g must be > 0", kr->file, factor);
    if (type.len == 6 && memcmp(type.ptr, "linear", 6) == 0) {
        hp->rope_freq_scale = 1.0f / factor;
        return XLLM_OK;
    }
    if (type.len == 6 && memcmp(type.ptr, "llama3", 6) == 0) {
        hp->rope_llama3 = 1;
        hp->rope_llama3_factor = factor;
        if ((st = get_float(kr, "rope.scaling.low_freq_factor", 1.0f, &hp->rope_llama3_low)) != XLLM_OK ||
            (st = get_float(kr, "rope.scaling.high_freq_factor", 4.0f, &hp->rope_llama3_high)) != XLLM_OK ||
            (st = get_int(kr, "rope.scaling.original_context_length", 0, 8192, 1, INT32_MAX,
                          &hp->rope_llama3_orig_ctx)) != XLLM_OK)
            return st;
        if (!(hp->rope_llama3_high > hp->rope_llama3_low) || hp->rope_llama3_low <= 0.0f)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor",
                             kr->file);
        return XLLM_OK;
    }
    return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: rope scaling type '%.*s' is not supported (none, linear, llama3)",
                     kr->file, (int)(type.len > 64 ? 64 : type.len), type.ptr);
}

/* Which layers use the sliding window. */
static xllm_status read_swa_layers(const key_reader *kr, xllm_hparams *hp)
{
    char key[128];
    xllm_gguf_type at;
    uint64_t count;
    uint32_t period = hp->arch->swa_period;
    memset(hp->swa_layer, 0, sizeof hp->swa_layer);
    if (hp->n_swa <= 0)
        return XLLM_OK;
    key_name(kr, "attention.sliding_window_pattern", key, sizeof key);
    if (xllm_gguf_get_arr(kr->g, key, &at, &count) == XLLM_OK) {
        int64_t idx = xllm_gguf_find(kr->g, key);
        if (count != (uint64_t)hp->n_layer || at == XLLM_GGUF_STRING || at == XLLM_GGUF_ARRAY)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: '%s' must be a numeric array of %d elements (one per layer)",
                             kr->file, key, hp->n_layer);
        for (int32_t i = 0; i < hp->n_layer; i++)
            hp->swa_layer[i] = xllm_gguf_arr_get_f64(kr->g, idx, (uint64_t)i) != 0.0;
        return XLLM_OK;
    }
    if (xllm_gguf_find(kr->g, key) >= 0) {
        int32_t p;
        xllm_status st = get_int(kr, "attention.sliding_window_pattern", 1, 0, 1, XLLM_MAX_LAYERS, &p);
        if (st != XLLM_OK)
            return st;
        period = (uint32_t)p;
    }
    for (int32_t i = 0; i < hp->n_layer; i++)
        hp->swa_layer[i] = period <= 1 ? 1 : (uint32_t)i % period < period - 1;
    return XLLM_OK;
}

/* Files without "<arch>.attention.scale" (llama.cpp does not write it): the
 * 27B gemma models use query_pre_attn_scalar = n_embd / n_head instead of the
 * head size; llama.cpp recognizes them by layer count, and so do we. */
static const struct {
    xllm_arch_id arch;
    int32_t n_layer;
} embd_per_head_scale[] = {{XLLM_ARCH_GEMMA2, 46}, {XLLM_ARCH_GEMMA3, 62}};

static float default_attn_scale(const xllm_hparams *hp)
{
    for (size_t i = 0; i < sizeof embd_per_head_scale / sizeof embd_per_head_scale[0]; i++)
        if (hp->arch->id == embd_per_head_scale[i].arch && hp->n_layer == embd_per_head_scale[i].n_layer)
            return 1.0f / sqrtf((float)hp->n_embd / (float)hp->n_head);
    return 1.0f / sqrtf((float)hp->head_dim_k);
}

static xllm_status check_shape_rules(const key_reader *kr, const xllm_hparams *hp)
{
    if (hp->n_head % hp->n_head_kv != 0)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d", kr->file,
                         hp->n_head, hp->n_head_kv);
    if (hp->arch->rope != XLLM_ROPE_NONE && (hp->n_rot <= 0 || hp->n_rot % 2 || hp->n_rot > hp->head_dim_k))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: rope.dimension_count %d must be even and in [2, key_length %d]",
                         kr->file, hp->n_rot, hp->head_dim_k);
    if (hp->head_dim_k > XLLM_MAX_HEAD_DIM || hp->head_dim_v > XLLM_MAX_HEAD_DIM)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: head dimension %d/%d exceeds %d", kr->file, hp->head_dim_k,
                         hp->head_dim_v, XLLM_MAX_HEAD_DIM);
    return XLLM_OK;
}

xllm_status xllm_hparams_read(const xllm_gguf *g, xllm_hparams *hp)
{
    key_reader kr = {g, NULL, xllm_gguf_path(g)};
    char *arch_name = xllm_gguf_dup_str(g, "general.architecture");
    xllm_status st = XLLM_ERR_FORMAT;
    const xllm_gguf_tensor *te;
    int is_enc;
    memset(hp, 0, sizeof *hp);
    if (!arch_name) {
        xllm_str probe;
        if (xllm_gguf_get_str(g, "general.architecture", &probe) == XLLM_OK)
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory", kr.file);
        else
            st = xllm_fail(XLLM_ERR_FORMAT, "%s: missing string key 'general.architecture'", kr.file);
        goto out;
    }
    hp->arch = xllm_arch_find(arch_name);
    if (!hp->arch) {
        st = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (supported: %s)", kr.file,
                       arch_name, xllm_arch_names());
        goto out;
    }
    kr.arch = hp->arch->name;
    is_enc = (hp->arch->flags & XLLM_ARCH_F_ENCODER) != 0;
    if ((st = get_int(&kr, "block_count", 1, 0, 1, XLLM_MAX_LAYERS, &hp->n_layer)) != XLLM_OK ||
        (st = get_int(&kr, "embedding_length", 1, 0, 1, 1 << 20, &hp->n_embd)) != XLLM_OK ||
        (st = get_int(&kr, "feed_forward_length", 1, 0, 1, 1 << 22, &hp->n_ff)) != XLLM_OK ||
        (st = get_int(&kr, "context_length", 0, 2048, 1, INT32_MAX, &hp->n_ctx_train)) != XLLM_OK ||
        (st = get_int(&kr, "attention.head_count", 1, 0, 1, 4096, &hp->n_head)) != XLLM_OK ||
        (st = get_int(&kr, "attention.head_count_kv", 0, hp->n_head, 1, 4096, &hp->n_head_kv)) != XLLM_OK ||
        (st = get_int(&kr, "attention.key_length", 0, hp->n_embd / hp->n_head, 1, 1 << 16, &hp->head_dim_k)) !=
            XLLM_OK ||
        (st = get_int(&kr, "attention.value_length", 0, hp->head_dim_k, 1, 1 << 16, &hp->head_dim_v)) != XLLM_OK ||
        (st = get_int(&kr, "rope.dimension_count", 0, hp->head_dim_k, 0, 1 << 16, &hp->n_rot)) != XLLM_OK ||
        (st = get_int(&kr, "attention.sliding_window", 0, 0, 0, INT32_MAX, &hp->n_swa)) != XLLM_OK)
        goto out;
    if (hp->arch->rope == XLLM_ROPE_NONE)
        hp->n_rot = 0;
    if ((st = get_float(&kr, hp->arch->norm == XLLM_NORM_RMS ? "attention.layer_norm_rms_epsilon"
                                                              : "attention.layer_norm_epsilon",
                        hp->arch->norm == XLLM_NORM_RMS ? 1e-6f : 1e-12f, &hp->norm_eps)) != XLLM_OK ||
        (st = get_float(&kr, "rope.freq_base", 10000.0f, &hp->rope_base)) != XLLM_OK ||
        (st = get_float(&kr, "rope.freq_base_swa",
                        hp->arch->swa_rope_base > 0 ? hp->arch->swa_rope_base : hp->rope_base, &hp->rope_base_swa)) !=
            XLLM_OK ||
        (st = get_float(&kr, "attention.scale", default_attn_scale(hp), &hp->attn_scale)) != XLLM_OK ||
        (st = get_float(&kr, "attn_logit_softcapping", 0.0f, &hp->attn_softcap)) != XLLM_OK ||
        (st = get_float(&kr, "final_logit_softcapping", 0.0f, &hp->final_softcap)) != XLLM_OK ||
        (st = read_rope_scaling(&kr, hp)) != XLLM_OK || (st = read_swa_layers(&kr, hp)) != XLLM_OK)
        goto out;
    if (hp->rope_base <= 0.0f || hp->rope_base_swa <= 0.0f || hp->norm_eps < 0.0f || hp->attn_softcap < 0.0f ||
        hp->final_softcap < 0.0f) {
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: rope base, epsilon and soft-capping values must be positive", kr.file);
        goto out;
    }
    {
        int32_t causal = !is_enc, pooling = is_enc ? XLLM_POOLING_MEAN : XLLM_POOLING_NONE;
        if ((st = get_int(&kr, "attention.causal", 0, causal, 0, 1, &causal)) != XLLM_OK ||
            (st = get_int(&kr, "pooling_type", 0, pooling, 0, 3, &pooling)) != XLLM_OK)
            goto out;
        if (!is_enc && !causal) {
            st = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: non-causal decoder attention is not supported", kr.file);
            goto out;
        }
        hp->causal = causal;
        hp->pooling = (xllm_pooling)pooling;
        if (is_enc && hp->pooling == XLLM_POOLING_NONE)
            hp->pooling = XLLM_POOLING_MEAN;
    }
    hp->embd_scale = (hp->arch->flags & XLLM_ARCH_F_EMBD_SCALE) ? sqrtf((float)hp->n_embd) : 1.0f;
    te = xllm_gguf_find_tensor(g, "token_embd.weight");
    if (!te || te->n_dims < 2 || te->ne[1] < 1 || te->ne[1] > XLLM_MAX_VOCAB) {
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing or not a [n_vocab][n_embd] matrix",
                       kr.file);
        goto out;
    }
    hp->n_vocab = (int32_t)te->ne[1];
    st = check_shape_rules(&kr, hp);
out:
    xllm_free(arch_name);
    return st;
}
