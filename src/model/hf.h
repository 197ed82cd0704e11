/* hf.h - a Hugging Face model directory (config.json + model.safetensors or a
 * sharded model.safetensors.index.json, + tokenizer files) seen as an
 * in-memory GGUF container with standard GGUF names, so that the engine and
 * the converter only ever read GGUF.
 *
 * What the view holds (see hf_tables.c for the per-architecture tables):
 *   - general.architecture, general.name, general.file_type (0 F32, 1 F16,
 *     32 BF16: the dtype of the 2-D weights)
 *   - every standard "<arch>.*" hyper-parameter key derived from config.json
 *     (context_length, embedding_length, block_count, feed_forward_length,
 *     attention.head_count[_kv], attention.layer_norm[_rms]_epsilon,
 *     attention.key_length/value_length, rope.freq_base, rope.dimension_count,
 *     rope.scaling.type/factor/original_context_length/attn_factor,
 *     rope.freq_base_swa, attention.sliding_window[_pattern] (bool per layer),
 *     attention.scale (gemma: 1/sqrt(query_pre_attn_scalar)),
 *     attn_logit_softcapping, final_logit_softcapping, attention.causal,
 *     pooling_type (from sentence-transformers modules.json))
 *   - tensors under standard GGUF names with GGUF shapes (safetensors
 *     [out, in] -> ne[0] = in, ne[1] = out). 2-D data is borrowed from the
 *     safetensors mapping (F32/F16/BF16 as stored); owned copies where the
 *     data changes as llama.cpp's convert_hf_to_gguf.py changes it:
 *       llama/mistral attn_q/attn_k rows permuted from HF's rotate-half order
 *         to interleaved pairs (qwen, gemma, phi3 keep HF's order: NEOX rope);
 *       gemma2/gemma3 RMSNorm weights stored as 1 + w;
 *       1-D tensors (norms, biases) converted to F32;
 *       rope_freqs.weight (llama3 rope scaling) and rope_factors_long/short
 *         (phi3 longrope) generated from config.json.
 *     tie_word_embeddings: no output.weight tensor.
 *   - tokenizer.ggml.* and tokenizer.chat_template from tokenizer.json /
 *     tokenizer_config.json / tokenizer.model (absent: a warning, no keys).
 *
 * Errors name the file and the problem; an unknown model_type names it and the
 * supported list.
 * Ownership: *out is closed with xllm_gguf_close, which also unmaps the
 * safetensors files. Threading: the result is read-only and may be read from
 * any thread. */
#ifndef XLLM_MODEL_HF_H
#define XLLM_MODEL_HF_H

#include "base/status.h"
#include "format/gguf.h"

xllm_status xllm_hf_open(const char *dir, xllm_gguf **out);

/* 1 if path is a directory holding config.json (an HF model directory). */
int xllm_hf_is_model_dir(const char *path);

#endif
