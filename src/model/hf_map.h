/* hf_map.h - the Hugging Face <-> GGUF mapping as data: one table per
 * architecture (HF tensor name pattern -> standard GGUF tensor name, the
 * transform applied on the way, and config.json key -> "<arch>.<key>"), plus
 * the few config.json readers the forward (hf_open.c) and reverse
 * (convert_hf.c) converters share. Internal to src/model.
 *
 * Patterns: "%d" stands for the layer number; patterns without it are global.
 * Config keys: "a|b" lists alternatives, the first present wins; the reverse
 * converter writes the first one.
 * Ownership: static read-only tables. Threading: no state. */
#ifndef XLLM_MODEL_HF_MAP_H
#define XLLM_MODEL_HF_MAP_H

#include <jansson.h>
#include <stdint.h>

#include "base/status.h"
#include "format/gguf.h"

/* What happens to a tensor between HF and GGUF (the reverse undoes it). */
typedef enum xllm_hf_xform {
    XLLM_HF_X_NONE = 0,
    XLLM_HF_X_PERMUTE_Q, /* llama: rotate-half rows -> interleaved pairs, n_head groups */
    XLLM_HF_X_PERMUTE_K, /* same with n_head_kv groups */
    XLLM_HF_X_ADD_ONE,   /* gemma RMSNorm stores w, computes x*(1+w): GGUF stores 1+w */
} xllm_hf_xform;

#define XLLM_HF_OPT 0x1u /* tensor may be absent (tied lm_head, optional biases) */

typedef struct xllm_hf_tensor_map {
    const char *hf;   /* "model.layers.%d.self_attn.q_proj.weight" */
    const char *gguf; /* "blk.%d.attn_q.weight" */
    uint8_t xform;    /* xllm_hf_xform */
    uint8_t flags;    /* XLLM_HF_OPT */
} xllm_hf_tensor_map;

typedef enum xllm_hf_need {
    XLLM_HF_REQ,  /* missing key = error */
    XLLM_HF_SKIP, /* missing (or null) key = no GGUF key */
} xllm_hf_need;

typedef struct xllm_hf_key_map {
    const char *gguf;  /* suffix after "<arch>.", e.g. "context_length" */
    const char *hf;    /* config.json key(s), "a|b" */
    uint8_t type;      /* XLLM_GGUF_UINT32, XLLM_GGUF_FLOAT32 or XLLM_GGUF_BOOL */
    uint8_t need;      /* xllm_hf_need */
} xllm_hf_key_map;

/* Architecture flags: the derived keys and tensors hf_open.c adds. */
#define XLLM_HF_F_ROPE 0x01u        /* rope.freq_base / dimension_count / scaling from rope params */
#define XLLM_HF_F_ENCODER 0x02u     /* attention.causal = false, pooling_type from modules.json */
#define XLLM_HF_F_SWA_PATTERN 0x04u /* attention.sliding_window_pattern from layer_types */
#define XLLM_HF_F_ATTN_SCALE 0x08u  /* attention.scale = 1/sqrt(query_pre_attn_scalar) */
#define XLLM_HF_F_TEXT_CONFIG 0x10u /* hyper-parameters may sit in config["text_config"] */
#define XLLM_HF_F_TIED_DEFAULT 0x20u /* tie_word_embeddings defaults to true (gemma) */

typedef struct xllm_hf_arch {
    const char *model_type; /* config.json "model_type" */
    const char *hf_class;   /* architectures[0] written by the reverse converter */
    const char *gguf_arch;  /* general.architecture */
    const xllm_hf_tensor_map *tensors; /* ends with {NULL} */
    const xllm_hf_key_map *keys;       /* ends with {NULL} */
    const char *const *strip;          /* substrings removed from HF names first (NULL-ended) */
    const char *const *skip;           /* HF names containing one of these are ignored (NULL-ended) */
    unsigned flags;                    /* XLLM_HF_F_* */
    int swa_period;                    /* default sliding pattern: layer i slides if i % p < p - 1 */
    const char *reverse_extra;         /* JSON object merged into a written config.json */
} xllm_hf_arch;

/* By config.json model_type, or else by any of architectures[] (class names). */
const xllm_hf_arch *xllm_hf_arch_find(const char *model_type, json_t *architectures);
/* The arch the reverse converter uses for a GGUF general.architecture. */
const xllm_hf_arch *xllm_hf_arch_for_gguf(const char *gguf_arch);
/* "llama, mistral, ..." (static string). */
const char *xllm_hf_arch_list(void);

/* ---- config.json readers ---- */

/* Value of the first present, non-null key among "a|b|c", or NULL. */
json_t *xllm_hf_cfg_get(json_t *cfg, const char *alts);
/* Number at alts; returns 1 and sets *v when present and numeric. */
int xllm_hf_cfg_num(json_t *cfg, const char *alts, double *v);

/* Rope parameters of one layer kind, normalized from transformers 4.x
 * (rope_theta, rope_scaling, rope_local_base_freq) and 5.x (rope_parameters,
 * possibly per layer type) config files. */
typedef struct xllm_hf_rope {
    int present;         /* any rope information found */
    double theta;
    char type[16];       /* "default", "linear", "llama3", "yarn", "longrope", ... */
    double factor;
    double low_freq_factor, high_freq_factor;
    double orig_ctx;     /* original_max_position_embeddings (0 if unknown) */
    json_t *long_factor, *short_factor; /* longrope lists (borrowed from cfg) */
} xllm_hf_rope;

/* kind: "full_attention" or "sliding_attention". def_theta is used when the
 * file names no base. */
void xllm_hf_cfg_rope(json_t *cfg, const char *kind, double def_theta, xllm_hf_rope *r);

/* llama3 rope frequency factors exactly as llama.cpp's converter writes
 * rope_freqs.weight (n = head_dim / 2 values). */
void xllm_hf_llama3_factors(const xllm_hf_rope *r, int head_dim, float *out);

/* Row permutation of llama Q/K: GGUF row (h, 2j+s) = HF row (h, s*half + j),
 * half = rows / n_head / 2. inverse != 0 maps back. Works on whole rows of
 * row_bytes bytes; rows must be a multiple of 2 * n_head. */
void xllm_hf_permute_rows(const void *src, void *dst, uint64_t rows, uint64_t row_bytes, uint32_t n_head,
                          int inverse);

#endif
