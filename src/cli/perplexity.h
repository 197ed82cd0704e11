/* perplexity.h - perplexity of a token sequence under a model, windowed the way
 * llama.cpp's llama-perplexity tool does it (tools/perplexity/perplexity.cpp),
 * so figures can be compared with it:
 *
 *   stride > 0 (llama-perplexity --ppl-stride S; `xllm compare` uses S = n_ctx/2):
 *     window w covers tokens [w*S, w*S + n_ctx) of the text and is evaluated
 *     from an empty KV cache; only its last S tokens are scored, each from the
 *     logits of the position before it. Windows: (n - n_ctx + S - 1) / S (so
 *     n must exceed n_ctx); the first n_ctx - S tokens of the text are never
 *     scored (not even in the first window), nor a tail after the last window.
 *     No BOS is inserted (the text's own BOS, if it has one, starts window 0).
 *   stride == 0 (llama-perplexity's default):
 *     non-overlapping windows [w*n_ctx, (w+1)*n_ctx), w < n / n_ctx; the first
 *     token of each is replaced by bos (when bos >= 0); the tokens at window
 *     positions n_ctx/2 + 1 .. n_ctx - 1 are scored (n_ctx - 1 - n_ctx/2 each).
 *
 * Unlike llama-perplexity this does not refuse texts shorter than 2 * n_ctx
 * tokens: any text with at least one window is scored.
 * Perplexity = exp(sum of -log p(token) / tokens scored), log-softmax in double.
 *
 * Ownership: the session is borrowed and left reset (n_past 0). Scratch (one
 * window of ids, XLLM_PPL_LOGIT_ROWS logits rows) is allocated per call.
 * Threading: one thread per session. */
#ifndef XLLM_CLI_PERPLEXITY_H
#define XLLM_CLI_PERPLEXITY_H

#include <stdint.h>

#include "base/status.h"
#include "cli/progress.h"
#include "engine/session.h"
#include "tokenizer/tokenizer.h"

/* Logits rows requested per evaluation call (bounds scratch to rows x n_vocab floats). */
#define XLLM_PPL_LOGIT_ROWS 64

typedef struct xllm_ppl_params {
    int32_t n_ctx;   /* window length, >= 2 (4 in chunk mode), <= the session's context */
    int32_t stride;  /* 0: llama-perplexity default chunks; else 1 .. n_ctx - 1 */
    int32_t bos;     /* chunk mode: id put first in each window; -1: keep the text's token */
    const xllm_tokenizer *tok; /* optional: count the bytes of scored tokens (bits per byte) */
} xllm_ppl_params;

typedef struct xllm_ppl_result {
    double nll;           /* sum over scored tokens of -ln p (nats) */
    int64_t n_scored;     /* tokens scored */
    int64_t n_bytes;      /* bytes of the scored tokens' text (0 without tok) */
    int32_t n_windows;
    int64_t n_evaluated;  /* tokens run through the model */
    double seconds;       /* wall time of the evaluation */
    double ppl;           /* exp(nll / n_scored) */
} xllm_ppl_result;

/* Windows the rule makes for n tokens (0 when the text is too short). */
int32_t xllm_ppl_windows(const xllm_ppl_params *p, int64_t n);

/* Score tokens[n] under the session's model with p's rule. prog (optional)
 * counts scored tokens; its total should be the scored count the rule gives
 * (xllm_ppl_windows * tokens per window). */
xllm_status xllm_perplexity(xllm_session *s, const int32_t *tokens, int64_t n, const xllm_ppl_params *p,
                            xllm_progress *prog, xllm_ppl_result *out);

/* Tokens each window scores under p (stride, or n_ctx - 1 - n_ctx/2). */
int32_t xllm_ppl_scored_per_window(const xllm_ppl_params *p);

#endif
