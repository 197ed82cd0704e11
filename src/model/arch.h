/* arch.h - the supported model architectures as data: one description per
 * architecture (norm, rope style, activation, FFN shape, required tensors,
 * sliding-window pattern) and one table of GGUF tensor roles (standard GGUF
 * name, kind, expected shape). The loader and the forward pass read these
 * tables; there is no per-architecture forward function.
 *
 * Hyper-parameters come from standard GGUF metadata keys "<arch>.<key>"
 * (xllm_hparams_read). Ownership: everything here is static, read-only data
 * except xllm_hparams, a plain value filled by the caller.
 * Threading: read-only tables, safe from any thread. */
#ifndef XLLM_MODEL_ARCH_H
#define XLLM_MODEL_ARCH_H

#include <stdint.h>

#include "base/limits.h"
#include "base/status.h"
#include "format/gguf.h"

typedef enum xllm_arch_id {
    XLLM_ARCH_LLAMA,
    XLLM_ARCH_QWEN2,
    XLLM_ARCH_QWEN3,
    XLLM_ARCH_GEMMA2,
    XLLM_ARCH_GEMMA3,
    XLLM_ARCH_PHI3,
    XLLM_ARCH_BERT,
    XLLM_ARCH_NOMIC_BERT,
    XLLM_ARCH_COUNT
} xllm_arch_id;

typedef enum xllm_norm_kind {
    XLLM_NORM_RMS,   /* x / sqrt(mean(x^2) + eps) * w   (GGUF stores gemma's 1+w already added) */
    XLLM_NORM_LAYER, /* (x - mean) / sqrt(var + eps) * w + b */
} xllm_norm_kind;

typedef enum xllm_rope_kind {
    XLLM_ROPE_NONE,
    XLLM_ROPE_NORM, /* rotate adjacent pairs (x[2i], x[2i+1]); llama GGUF (Q/K permuted by the converter) */
    XLLM_ROPE_NEOX, /* rotate (x[i], x[i + n_rot/2]); HF rotate_half layout */
} xllm_rope_kind;

typedef enum xllm_act {
    XLLM_ACT_SILU,
    XLLM_ACT_GELU_TANH,
    XLLM_ACT_GELU_ERF,
} xllm_act;

typedef enum xllm_ffn_kind {
    XLLM_FFN_GATED,       /* down(act(gate(x)) * up(x)) */
    XLLM_FFN_GATED_FUSED, /* phi3: ffn_up holds [gate; up] (2*n_ff rows), gate first */
    XLLM_FFN_PLAIN,       /* bert: down(act(up(x))) */
} xllm_ffn_kind;

/* GGUF "<arch>.pooling_type" values. */
typedef enum xllm_pooling {
    XLLM_POOLING_NONE = 0,
    XLLM_POOLING_MEAN = 1,
    XLLM_POOLING_CLS = 2,
    XLLM_POOLING_LAST = 3,
} xllm_pooling;

/* Tensor roles. Globals first, then per-layer roles ("blk.N." prefix). */
typedef enum xllm_role {
    XLLM_R_TOKEN_EMBD,
    XLLM_R_TOKEN_EMBD_NORM,
    XLLM_R_TOKEN_EMBD_NORM_B,
    XLLM_R_TOKEN_TYPES,
    XLLM_R_POS_EMBD,
    XLLM_R_OUTPUT_NORM,
    XLLM_R_OUTPUT_NORM_B,
    XLLM_R_OUTPUT,
    XLLM_R_ROPE_FREQS,          /* llama3: per-frequency divisors */
    XLLM_R_ROPE_FACTORS_SHORT,  /* phi3 longrope: divisors used within the original context */
    XLLM_R_ROPE_FACTORS_LONG,   /* phi3 longrope: divisors beyond it (not used yet) */
    XLLM_R_FIRST_LAYER_ROLE,
    XLLM_R_ATTN_NORM = XLLM_R_FIRST_LAYER_ROLE,
    XLLM_R_ATTN_NORM_B,
    XLLM_R_ATTN_Q,
    XLLM_R_ATTN_Q_B,
    XLLM_R_ATTN_K,
    XLLM_R_ATTN_K_B,
    XLLM_R_ATTN_V,
    XLLM_R_ATTN_V_B,
    XLLM_R_ATTN_QKV,
    XLLM_R_ATTN_QKV_B,
    XLLM_R_ATTN_OUT,
    XLLM_R_ATTN_OUT_B,
    XLLM_R_ATTN_Q_NORM,
    XLLM_R_ATTN_K_NORM,
    XLLM_R_ATTN_POST_NORM,  /* gemma: norm of the attention output before the residual add */
    XLLM_R_ATTN_OUT_NORM,   /* bert: post-LN after the attention residual add */
    XLLM_R_ATTN_OUT_NORM_B,
    XLLM_R_FFN_NORM,
    XLLM_R_FFN_NORM_B,
    XLLM_R_FFN_GATE,
    XLLM_R_FFN_GATE_B,
    XLLM_R_FFN_UP,
    XLLM_R_FFN_UP_B,
    XLLM_R_FFN_DOWN,
    XLLM_R_FFN_DOWN_B,
    XLLM_R_FFN_POST_NORM,   /* gemma: norm of the FFN output before the residual add */
    XLLM_R_LAYER_OUT_NORM,  /* bert: post-LN after the FFN residual add */
    XLLM_R_LAYER_OUT_NORM_B,
    XLLM_ROLE_COUNT
} xllm_role;

#define XLLM_ROLE_BIT(r) (UINT64_C(1) << (r))

/* Symbolic tensor dimensions, resolved from the hyper-parameters. */
typedef enum xllm_dim {
    XLLM_DIM_ONE,      /* unused dimension (1) */
    XLLM_DIM_EMBD,     /* n_embd */
    XLLM_DIM_VOCAB,    /* n_vocab */
    XLLM_DIM_Q,        /* n_head * head_dim_k */
    XLLM_DIM_K,        /* n_head_kv * head_dim_k */
    XLLM_DIM_V,        /* n_head_kv * head_dim_v */
    XLLM_DIM_QKV,      /* Q + K + V */
    XLLM_DIM_O,        /* n_head * head_dim_v */
    XLLM_DIM_FF,       /* n_ff */
    XLLM_DIM_FF_UP,    /* n_ff, or 2 * n_ff for XLLM_FFN_GATED_FUSED */
    XLLM_DIM_HEAD_K,   /* head_dim_k */
    XLLM_DIM_ROT_HALF, /* n_rot / 2 */
    XLLM_DIM_ANY,      /* any size >= 1 (positions, token types) */
} xllm_dim;

typedef enum xllm_role_kind {
    XLLM_ROLE_MATRIX, /* kept as xllm_weight (mapped, any supported dtype) */
    XLLM_ROLE_VECTOR, /* dequantized to f32 at load */
} xllm_role_kind;

typedef struct xllm_role_info {
    const char *name;  /* GGUF name; per-layer roles get the "blk.%d." prefix */
    int per_layer;
    xllm_role_kind kind;
    xllm_dim ne0, ne1; /* expected ne[0] (row length) and ne[1] (rows; ONE for vectors) */
} xllm_role_info;

/* Architecture flags. */
#define XLLM_ARCH_F_ENCODER 0x1u    /* embedding model: bidirectional, pooled output */
#define XLLM_ARCH_F_EMBD_SCALE 0x2u /* multiply token embeddings by sqrt(n_embd) (gemma) */
#define XLLM_ARCH_F_SWA_OWN_ROPE 0x4u /* sliding-window layers use rope.freq_base_swa and no rope scaling (gemma3) */

typedef struct xllm_arch_desc {
    const char *name; /* general.architecture */
    xllm_arch_id id;
    xllm_norm_kind norm;
    xllm_rope_kind rope;
    xllm_act act;
    xllm_ffn_kind ffn;
    unsigned flags;
    /* Sliding window: when "<arch>.attention.sliding_window" is set, layer i
     * uses it if i % period < period - 1 (period 1: every layer), unless
     * "<arch>.attention.sliding_window_pattern" says otherwise. */
    uint32_t swa_period;
    float swa_rope_base; /* default rope base of sliding-window layers (0: same as global) */
    uint64_t required;   /* role bits that must be present */
    uint64_t optional;   /* role bits used when present */
} xllm_arch_desc;

/* NULL when unknown. */
const xllm_arch_desc *xllm_arch_find(const char *name);
const xllm_arch_desc *xllm_arch_get(xllm_arch_id id);
const xllm_role_info *xllm_role_get(xllm_role r);
/* Comma-separated list of supported architecture names (static string). */
const char *xllm_arch_names(void);

typedef struct xllm_hparams {
    const xllm_arch_desc *arch;
    int32_t n_vocab;      /* rows of token_embd */
    int32_t n_ctx_train;  /* <arch>.context_length */
    int32_t n_embd;       /* residual width D */
    int32_t n_layer;
    int32_t n_ff;         /* FFN hidden width F */
    int32_t n_head;       /* query heads */
    int32_t n_head_kv;    /* key/value heads (GQA: n_head % n_head_kv == 0) */
    int32_t head_dim_k;   /* attention.key_length (default n_embd / n_head) */
    int32_t head_dim_v;   /* attention.value_length (default head_dim_k) */
    int32_t n_rot;        /* rope.dimension_count (default head_dim_k; 0 for no rope) */
    float norm_eps;       /* rms or layer-norm epsilon, per the arch's norm kind */
    float rope_base;      /* rope.freq_base */
    float rope_base_swa;  /* sliding-window layers (gemma3: 10000) */
    float rope_freq_scale; /* 1 / rope.scaling.factor for linear scaling, else 1 */
    float rope_attn_factor; /* rope.scaling.attn_factor: cos/sin multiplier (phi3 longrope), default 1 */
    /* llama3 scaling computed from metadata when no rope_freqs tensor exists */
    int rope_llama3;
    float rope_llama3_factor, rope_llama3_low, rope_llama3_high;
    int32_t rope_llama3_orig_ctx;
    int32_t n_swa;        /* attention.sliding_window (0: none) */
    uint8_t swa_layer[XLLM_MAX_LAYERS]; /* 1 = this layer uses the sliding window */
    float attn_scale;     /* score multiplier: attention.scale or 1/sqrt(head_dim_k) */
    float attn_softcap;   /* attn_logit_softcapping (0: off) */
    float final_softcap;  /* final_logit_softcapping (0: off) */
    float embd_scale;     /* sqrt(n_embd) for gemma, else 1 */
    int causal;           /* attention.causal (decoders 1, encoders 0) */
    xllm_pooling pooling; /* pooling_type (encoders; default mean) */
} xllm_hparams;

/* Read and check the hyper-parameters of g ("general.architecture" and the
 * "<arch>.*" keys). n_vocab comes from the token_embd tensor. Errors name the
 * file and the key. */
xllm_status xllm_hparams_read(const xllm_gguf *g, xllm_hparams *hp);

/* Resolve a symbolic dimension (0 for XLLM_DIM_ANY). */
int64_t xllm_dim_value(const xllm_hparams *hp, xllm_dim d);

#endif
