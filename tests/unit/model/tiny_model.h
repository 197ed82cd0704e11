/* tiny_model.h - builds tiny random-weight models of any supported
 * architecture as in-memory GGUF containers (F32 tensors under the standard
 * names the architecture table requires), for self-consistency tests of the
 * loader and the forward pass. Not an oracle: the HF fixtures are. */
#ifndef XLLM_TEST_TINY_MODEL_H
#define XLLM_TEST_TINY_MODEL_H

#include <stdint.h>

#include "format/gguf.h"

typedef struct tiny_cfg {
    const char *arch;     /* general.architecture */
    int32_t n_vocab, n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim, n_ctx;
    int32_t sliding_window; /* 0: none */
    float attn_softcap, final_softcap;
    int biases;           /* add every optional bias tensor */
    int fused_qkv;        /* attn_qkv instead of attn_q/k/v */
    int untied;           /* add output.weight */
    const char *skip;     /* tensor name to leave out (error tests) */
    const char *bad_shape; /* tensor name to give a wrong shape */
    uint64_t seed;
} tiny_cfg;

/* Sensible small defaults for arch (fused qkv for phi3 and nomic-bert). */
tiny_cfg tiny_default(const char *arch);
/* Build the container; returns 0 and *out on success. */
int tiny_build(const tiny_cfg *cfg, xllm_gguf **out);

#endif
