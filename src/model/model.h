/* model.h - a loaded model: hyper-parameters plus every tensor the forward
 * pass uses, found by standard GGUF name and checked against the shapes the
 * architecture table expects.
 *
 * Every model reaches the loader as a GGUF container (a GGUF file, or a
 * Hugging Face directory mapped to GGUF names by xllm_hf_open).
 * Ownership: the model borrows the container (and its mapped tensor data):
 * keep it open until xllm_model_free. Norm weights and biases are copied to
 * f32 (owned by the model). Matrices stay in the container's dtype.
 * Threading: a loaded model is read-only; many contexts may share it. */
#ifndef XLLM_MODEL_MODEL_H
#define XLLM_MODEL_MODEL_H

#include <stdint.h>

#include "base/status.h"
#include "format/gguf.h"
#include "kernels/cpu/kernels.h"
#include "model/arch.h"

/* Tensors of one role set (the globals, or one layer), indexed by xllm_role.
 * A role absent from the file has mat[r].data == NULL and vec[r] == NULL. */
typedef struct xllm_tensors {
    xllm_weight mat[XLLM_ROLE_COUNT]; /* matrix roles: [rows][cols] as stored */
    const float *vec[XLLM_ROLE_COUNT]; /* vector roles: f32 [ne0] */
} xllm_tensors;

typedef struct xllm_model_params {
    int prepare_weights; /* call xllm_weight_prepare on every matrix (kernel repacking) */
} xllm_model_params;

typedef struct xllm_model {
    xllm_hparams hp;
    const xllm_gguf *gguf;  /* borrowed */
    xllm_tensors glob;      /* token_embd [n_vocab][n_embd], output [n_vocab][n_embd] (tied: = token_embd) ... */
    xllm_tensors *layers;   /* [n_layer] */
    float *vec_data;        /* all f32 vectors, one allocation */
    float *rope_inv_freq;     /* [n_rot/2] global layers' inverse frequencies (scaling applied) */
    float *rope_inv_freq_swa; /* [n_rot/2] sliding-window layers' inverse frequencies */
    uint64_t weight_bytes;  /* bytes of tensor data the model reads */
    int tied_output;        /* output.weight absent: logits use token_embd */
} xllm_model;

/* Load and validate: every required tensor present with the expected shape
 * and a supported dtype; errors name the tensor and the expected/actual shape.
 * p may be NULL (defaults). */
xllm_status xllm_model_load(const xllm_gguf *g, const xllm_model_params *p, xllm_model **out);
void xllm_model_free(xllm_model *m);

static inline const xllm_hparams *xllm_model_hparams(const xllm_model *m) { return &m->hp; }
static inline int xllm_model_is_encoder(const xllm_model *m)
{
    return (m->hp.arch->flags & XLLM_ARCH_F_ENCODER) != 0;
}

/* Bytes of tensor data a load of g would read (weights only; no KV/scratch),
 * without loading. Fails like xllm_hparams_read on bad metadata. */
xllm_status xllm_model_memory_required(const xllm_gguf *g, uint64_t *weight_bytes);

#endif
