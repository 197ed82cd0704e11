/* ref_check.h - compare the CPU engine with a fixture's reference outputs
 * (tests/fixtures/models/<arch>/reference.json, made by the oracle tools):
 * decoders on the logits of EVERY position of every case, encoders on the
 * pooled normalized embedding and the per-token hidden states. Reusable by
 * any test that can produce a GGUF container (HF view, converted GGUF,
 * quantized GGUF). The container is borrowed, not closed. */
#ifndef XLLM_TEST_REF_CHECK_H
#define XLLM_TEST_REF_CHECK_H

#include <stdint.h>

#include "format/gguf.h"

/* Largest relative L2 error ||ours - ref|| / ||ref|| over the cases (each
 * case's error taken over all its positions), or -1 with a message on stderr
 * if the fixture or the model cannot be read / run. */
double ref_check_logits(const char *fixture_dir, const xllm_gguf *g);
/* The same with the KV cache in kv_type (xllm_kv_type); ref_check_logits
 * uses XLLM_KV_F32, the exact one. */
double ref_check_logits_kv(const char *fixture_dir, const xllm_gguf *g, int32_t kv_type);

/* A copy of src (all metadata, all tensors) in which every 2-D tensor whose
 * row length is a multiple of dtype's block size is converted to dtype with
 * the reference quantizers; other tensors are copied as they are. *n_converted
 * (may be NULL) counts the converted tensors. NULL on failure. Close with
 * xllm_gguf_close. */
xllm_gguf *ref_convert_copy(const xllm_gguf *src, uint32_t dtype, int *n_converted);

#endif
