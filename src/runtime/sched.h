/* sched.h - the one generation path: continuous batching over a paged KV
 * cache with prefix caching, for any engine behind the ABI (CPU built in, CUDA
 * plugin). Requests join and leave between steps; each step is one engine
 * forward call carrying one decode token for every running sequence plus
 * prefill chunks of waiting / partly prefilled ones, under a token budget.
 *
 * Per request: tokens (prompt, then generated), a block table into the pool,
 * a sampler, a streaming detokenizer and a stop-string matcher. Every event
 * (a token with its text piece and logprobs, the final record) goes to the
 * request's callback, called from inside xllm_sched_step.
 *
 * Rules (also in docs/architecture.md):
 *  - decodes first (one token each), then prefill chunks of running
 *    sequences, then new admissions, until the step budget is used;
 *  - admission: interactive before batch, except that a batch request that
 *    has waited longer than params.batch_max_wait_ms goes before interactive
 *    ones (so batch work is never starved); FIFO within a class;
 *  - out of KV blocks: the most recently admitted running sequence is
 *    preempted (blocks released, tokens so far kept, requeued at the head of
 *    the queue, recomputed later; its streamed tokens are not re-sent);
 *  - a request that could never fit (prompt + 1 more than the pool or its
 *    context) fails at submit / admission with the numbers in the message;
 *  - cancellation is honoured at the start of the next step: the sequence
 *    leaves the batch and its blocks are released before the forward call.
 *
 * Ownership: the scheduler borrows the engine context and the tokenizer (they
 * outlive it); it copies everything in a submitted request. Threading: single
 * thread — submit, cancel, step and stats from one thread (the runner's loop
 * or the CLI). The step allocates nothing. */
#ifndef XLLM_RUNTIME_SCHED_H
#define XLLM_RUNTIME_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/status.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"
#include "xllm/engine.h"


typedef enum xllm_priority {
    XLLM_PRIORITY_INTERACTIVE = 0,
    XLLM_PRIORITY_BATCH = 1,
} xllm_priority;

typedef enum xllm_finish {
    XLLM_FINISH_NONE = 0,  /* still running */
    XLLM_FINISH_STOP,      /* end-of-generation token or stop string */
    XLLM_FINISH_LENGTH,    /* max_tokens or the context is full */
    XLLM_FINISH_CANCELLED,
    XLLM_FINISH_ERROR,
} xllm_finish;

const char *xllm_finish_str(xllm_finish f); /* "stop", "length", "cancelled", "error" */

typedef struct xllm_gen_params {
    xllm_sampler_params sampling;
    int32_t max_tokens;        /* <= 0: until the context is full */
    int32_t n_ctx;             /* context of this request; <= 0: the scheduler's */
    int32_t logprobs;          /* 1: report the chosen token's logprob */
    int32_t top_logprobs;      /* 0..XLLM_MAX_TOP_LOGPROBS alternatives per token */
    int32_t prompt_logprobs;   /* 1: logprobs of prompt tokens too (echo); disables prefix reuse */
    int32_t ignore_eos;        /* 1: end-of-generation tokens do not stop */
    xllm_priority priority;
    const char *const *stops;  /* [n_stops] stop strings (copied at submit) */
    int32_t n_stops;
    const int32_t *bias_tokens; /* [n_bias] logit_bias ids and values */
    const float *bias_values;
    int32_t n_bias;
    uint64_t cache_salt;       /* extra prefix-cache key (e.g. a LoRA id); 0 = none */
    const char *grammar;       /* GBNF constraining the output (NULL: none); compiled at submit,
                                  a malformed one fails the submit with line:column */
    const char *grammar_root;  /* start rule (NULL: "root") */
    const char *const *grammar_triggers; /* lazy grammar: enforced from the first of these words */
    int32_t n_grammar_triggers;
    const int32_t *grammar_trigger_tokens; /* ... or right after one of these tokens */
    int32_t n_grammar_trigger_tokens;
} xllm_gen_params;

/* Defaults: greedy (temperature 0, no penalties), max_tokens -1, no stops. */
xllm_gen_params xllm_gen_params_default(void);

typedef struct xllm_top_logprob {
    int32_t token;
    float logprob;
} xllm_top_logprob;

typedef enum xllm_gen_event_type {
    XLLM_EVENT_TOKEN = 1,  /* one generated (or, with prompt_logprobs, prompt) token */
    XLLM_EVENT_FINAL = 2,  /* last event of a request */
} xllm_gen_event_type;

typedef struct xllm_gen_timings {
    uint64_t queue_ns;   /* submit -> first scheduled */
    uint64_t prefill_ns; /* first scheduled -> first generated token */
    uint64_t decode_ns;  /* first generated token -> finish */
} xllm_gen_timings;

typedef struct xllm_gen_event {
    xllm_gen_event_type type;
    uint64_t request_id;
    /* TOKEN */
    int32_t token;
    int32_t is_prompt;         /* 1: a prompt token's logprob (prompt_logprobs) */
    const char *text;          /* text released by this token (may be empty: held back
                                  for UTF-8 or a possible stop string); not NUL-terminated */
    size_t text_len;
    float logprob;             /* of token, from the raw logits (NAN when not asked / first prompt token) */
    int32_t n_top;
    const xllm_top_logprob *top; /* [n_top], most likely first */
    /* FINAL */
    xllm_finish finish;
    const char *error;         /* FINISH_ERROR: what went wrong */
    const char *stop_string;   /* FINISH_STOP by a stop string: which one (else NULL) */
    int32_t n_prompt;          /* prompt tokens */
    int32_t n_cached;          /* prompt tokens served from the prefix cache */
    int32_t n_generated;
    int32_t n_preempted;       /* times this request was preempted */
    xllm_gen_timings t;
} xllm_gen_event;

typedef void (*xllm_gen_cb)(void *user, const xllm_gen_event *ev);

typedef struct xllm_sched_params {
    int32_t max_running;       /* sequences in the batch (default 16) */
    int32_t max_waiting;       /* queue length before submit fails with LIMIT (default 1000) */
    int32_t step_tokens;       /* token budget of one step (default: engine max_batch_tokens) */
    int32_t n_ctx;             /* default and largest context per request (default: model's, capped by the pool) */
    int32_t batch_max_wait_ms; /* a batch request waiting longer goes first (default 2000) */
    int32_t prefix_cache;      /* 1 (default): reuse cached prefix blocks */
    int32_t grammar_cache;     /* 1 (default): requests with the same grammar share its compiled
                                  form and mask caches (grammar_cache.h); 0: one per request */
} xllm_sched_params;

xllm_sched_params xllm_sched_params_default(void);

typedef struct xllm_sched_stats {
    int32_t running, waiting;
    int32_t blocks_total, blocks_used, blocks_cached; /* cached: free but still holding a prefix hash */
    uint64_t prefix_hits, prefix_misses;     /* full prompt blocks looked up */
    uint64_t cached_tokens;                  /* prompt tokens served from the cache, total */
    uint64_t prompt_tokens, generated_tokens;
    uint64_t steps, preemptions, requests_done;
    double decode_tokens_per_s;              /* generated tokens / busy time over the last few seconds */
    uint64_t last_step_ns;                   /* wall time of the last step, forward included */
    uint64_t last_sched_ns;                  /* of which bookkeeping outside the forward call */
    uint64_t grammar_hits, grammar_misses;   /* grammar cache: submits that found / compiled their grammar */
} xllm_sched_stats;

typedef struct xllm_sched xllm_sched;

/* n_blocks: the KV blocks the engine context was loaded with; max_batch_tokens:
 * its largest forward call. */
xllm_status xllm_sched_new(const xllm_engine_api *api, xllm_engine_ctx *ctx, const xllm_tokenizer *tok,
                           int32_t n_blocks, int32_t max_batch_tokens, const xllm_sched_params *p,
                           xllm_sched **out);
void xllm_sched_free(xllm_sched *s); /* pending requests get no more events */

/* Queue a request for prompt[n_prompt] (copied). *id receives its id (unique
 * per scheduler, > 0). Fails (no event) when the queue is full, the prompt is
 * empty or can never fit, or a parameter is out of range. */
xllm_status xllm_sched_submit(xllm_sched *s, const int32_t *prompt, int32_t n_prompt, const xllm_gen_params *p,
                              xllm_gen_cb cb, void *user, uint64_t *id);
/* Ask a request to stop: its FINAL event (finish cancelled) comes from the
 * next step. Unknown / finished ids: XLLM_ERR_NOT_FOUND. */
xllm_status xllm_sched_cancel(xllm_sched *s, uint64_t id);
/* Run one step (no-op when idle). An engine failure fails the requests of
 * that step with FINISH_ERROR and returns the status. */
xllm_status xllm_sched_step(xllm_sched *s);
int xllm_sched_idle(const xllm_sched *s); /* 1: nothing running or waiting */
void xllm_sched_stats_get(const xllm_sched *s, xllm_sched_stats *out);
int32_t xllm_sched_n_ctx(const xllm_sched *s);

#endif
