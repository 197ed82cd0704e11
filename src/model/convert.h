/* convert.h - model conversion: Hugging Face directory or GGUF -> GGUF file
 * (optionally quantized, llama.cpp-compatible quantization mixes), GGUF ->
 * Hugging Face directory (safetensors + config.json + tokenizer.json +
 * tokenizer_config.json where the vocabulary can be written), and random-weight GGUF
 * models of real shapes for benchmarks.
 *
 * Outputs are atomic: a GGUF is written as "<path>.partial" and renamed; a
 * directory is built as "<dir>.partial-XXXXXX" and renamed. A failing or
 * interrupted conversion leaves nothing under the final name (a killed process
 * may leave a *.partial file behind, never a truncated output).
 *
 * Tensor types of a GGUF output (xllm_convert_tensor_type), as llama.cpp's
 * convert_hf_to_gguf.py + llama-quantize produce them:
 *   - F32 always: 1-D tensors (norms, biases, rope_freqs, rope_factors_*),
 *     "*_norm.weight", tensors not ending in ".weight", position_embd, token_types.
 *   - f32 / f16 / bf16: every other tensor in that type.
 *   - quantized types: the base type (q8_0 -> Q8_0, q4_k_m -> Q4_K, q5_k_m ->
 *     Q5_K, q6_k -> Q6_K, ...), then llama-quantize's rules:
 *       output.weight (token_embd.weight when there is no output tensor):
 *         Q6_K, except Q8_0 for the q8_0 type, and Q8_0 when ne[0] is not a
 *         multiple of the base type's block;
 *       token_embd.weight otherwise: the base type;
 *       q4_k_m / q5_k_m: attn_v.weight and ffn_down.weight of the layers where
 *         use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 *         -> Q6_K; attn_qkv.weight -> Q5_K (q4_k_m) / Q6_K (q5_k_m).
 *     Fallback when ne[0] is not a multiple of the chosen type's block (e.g.
 *     K-quants, 256, on 64-wide rows): Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0;
 *     any type still not fitting (or a 32-block type on a row of 48) -> F16.
 *   general.file_type is llama.cpp's LLAMA_FTYPE number of --type;
 *   general.quantization_version = 2.
 *
 * Threading: each call uses its own thread pool (n_threads); the calls are not
 * re-entrant with respect to the alloc fail-injection hook only. */
#ifndef XLLM_MODEL_CONVERT_H
#define XLLM_MODEL_CONVERT_H

#include <stdint.h>
#include <stdio.h>

#include "base/status.h"
#include "format/gguf.h"

typedef struct xllm_convert_opts {
    const char *type;   /* GGUF output: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k_m q5_k_m q6_k;
                         * NULL: bf16 for a BF16 source, else f16 (llama.cpp's default) */
    const char *dtype;  /* HF output: f32 f16 bf16; NULL: f32 when every weight is F32, else f16 */
    int n_threads;      /* <= 0: one per CPU */
    int progress;       /* print one line per tensor to stderr */
    uint64_t shard_bytes; /* HF output: max bytes per safetensors shard (0: 4 GiB) */
    int test_fail_after; /* tests only: > 0 fails the write after this many tensors */
} xllm_convert_opts;

/* in: an HF model directory or a .gguf file; out: a path ending in ".gguf"
 * (GGUF output) or a directory (HF output; must not exist or be empty). */
xllm_status xllm_convert(const char *in, const char *out, const xllm_convert_opts *o);

/* src: any model container (xllm_hf_open view or a GGUF file). */
xllm_status xllm_convert_to_gguf(const xllm_gguf *src, const char *path, const xllm_convert_opts *o);
xllm_status xllm_convert_to_hf(const xllm_gguf *src, const char *dir, const xllm_convert_opts *o);

/* ---- quantization mix ---- */

typedef struct xllm_ftype_info {
    const char *name;     /* "q4_k_m" */
    uint32_t llama_ftype; /* general.file_type (LLAMA_FTYPE_*) */
    uint32_t base;        /* xllm_dtype of most weights */
    int k_mix;            /* 1: q4_k_m / q5_k_m extra rules */
} xllm_ftype_info;

const xllm_ftype_info *xllm_ftype_find(const char *name); /* NULL if unknown */
const char *xllm_ftype_names(void);                       /* "f32, f16, ..." */

/* Counts the rules need: layers with attn_v / ffn_down, and whether an
 * output tensor exists. */
typedef struct xllm_mix_counts {
    int n_attn_v, n_ffn_down;
    int has_output;
} xllm_mix_counts;

void xllm_mix_count(const xllm_gguf *src, xllm_mix_counts *mc);
void xllm_mix_count_names(const char *const *names, int64_t n, xllm_mix_counts *mc);
/* The dtype tensor `name` of shape ne[0..n_dims) gets (see the header comment). */
uint32_t xllm_convert_tensor_type(const xllm_ftype_info *ft, const xllm_mix_counts *mc, const char *name,
                                  uint32_t n_dims, const uint64_t *ne);

/* ---- streaming GGUF output (shared by the converter and the generator) ---- */

/* Produce tensor i's bytes (exactly infos[i].nbytes) by writing them to f. */
typedef xllm_status (*xllm_conv_fill_fn)(void *ctx, int64_t i, FILE *f);

/* Write meta's metadata plus n tensors described by infos (name, dtype,
 * n_dims, ne, nbytes; data ignored) whose data fill() produces in order, as
 * the GGUF file path, atomically. Tensor data streams through an unlinked
 * scratch file next to path, so memory use stays bounded (disk: twice the
 * output while writing). meta is closed by the call in every case. */
xllm_status xllm_conv_write_gguf(xllm_gguf *meta, const xllm_gguf_tensor *infos, int64_t n, xllm_conv_fill_fn fill,
                                 void *ctx, const char *path);

/* ---- random-weight models ---- */

typedef struct xllm_gen_opts {
    const char *shape;     /* "tinyllama-1.1b" or "llama3-8b" */
    const char *type;      /* f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k_m q5_k_m q6_k */
    const char *vocab_dir; /* HF tokenizer directory (tokenizer.json); NULL: no vocabulary (warned) */
    uint64_t seed;
    int n_threads;
    int n_layer_override;  /* > 0: fewer layers (tests) */
} xllm_gen_opts;

/* A llama-architecture GGUF with the shape's real sizes and random weights
 * (~N(0, 0.02); quantized blocks drawn from a pool of reference-quantized
 * random blocks, so no full-size quantization runs). */
xllm_status xllm_gen_model(const xllm_gen_opts *o, const char *path);
const char *xllm_gen_shape_names(void);

#endif
