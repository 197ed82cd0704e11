/* session.h - the simplest way to run a model in-process: open a GGUF file or
 * a Hugging Face directory, load it, and evaluate one token sequence at a
 * time on the CPU engine (used by `xllm logits`, `xllm run`, `xllm embed`,
 * `xllm benchmark` and the reference-logit tests).
 *
 * A session owns its container, model and CPU context, and one sequence whose
 * KV blocks are 0..n_ctx/16 of the context's pool. xllm_session_close frees
 * everything. Threading: one thread at a time per session. */
#ifndef XLLM_ENGINE_SESSION_H
#define XLLM_ENGINE_SESSION_H

#include <stdint.h>

#include "base/status.h"
#include "engine/cpu_engine.h"
#include "format/gguf.h"
#include "model/model.h"

typedef struct xllm_session xllm_session;

typedef struct xllm_session_params {
    int n_threads;   /* <= 0: one per CPU */
    int n_ctx;       /* <= 0: min(model context, 4096) */
    int32_t kv_type; /* xllm_kv_type of the KV cache: XLLM_KV_F16 (default), _Q8_0, _F32 */
} xllm_session_params;

/* n_threads 0, n_ctx 0, kv_type XLLM_KV_F16. */
xllm_session_params xllm_session_params_default(void);

xllm_status xllm_session_open_ex(const char *path, const xllm_session_params *p, xllm_session **out);
/* Same over a container the caller already opened; the session takes
 * ownership of g (closed by xllm_session_close, also on failure). */
xllm_status xllm_session_open_gguf_ex(xllm_gguf *g, const xllm_session_params *p, xllm_session **out);
/* The defaults with n_threads and n_ctx (f16 KV). */
xllm_status xllm_session_open(const char *path, int n_threads, int n_ctx, xllm_session **out);
xllm_status xllm_session_open_gguf(xllm_gguf *g, int n_threads, int n_ctx, xllm_session **out);
void xllm_session_close(xllm_session *s);

/* Append n tokens at the current position and run them (in chunks of the
 * context's batch size). out: want_all_logits ? [n][n_vocab] : [n_vocab] of
 * the last token; may be NULL to only fill the KV cache. Decoders only. */
xllm_status xllm_session_eval(xllm_session *s, const int32_t *tokens, int32_t n, int want_all_logits, float *out);
/* Encoders: pooled (and normalized, per the model) embedding of one whole
 * sequence into out[n_embd]; out is [n][n_embd] when the model's pooling is none. */
xllm_status xllm_session_embed(xllm_session *s, const int32_t *tokens, int32_t n, float *out);
/* Forget the sequence (next eval starts at position 0). */
void xllm_session_reset(xllm_session *s);

int32_t xllm_session_n_past(const xllm_session *s);
int32_t xllm_session_n_ctx(const xllm_session *s);
int32_t xllm_session_n_vocab(const xllm_session *s);
int32_t xllm_session_n_embd(const xllm_session *s);
const xllm_model *xllm_session_model(const xllm_session *s);
const xllm_gguf *xllm_session_gguf(const xllm_session *s); /* metadata, tokenizer keys */
xllm_cpu_ctx *xllm_session_ctx(xllm_session *s);

#endif
