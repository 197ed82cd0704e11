/* sampler.h - turns a row of logits into the next token: penalties (repeat,
 * presence, frequency over a window of recent tokens), logit bias, then greedy
 * (temperature 0) or temperature + top-k + typical-p + top-p + min-p sampling
 * with a seeded PRNG (same seed, same logits -> same tokens).
 * Ownership: the sampler owns its scratch (sized once for n_vocab); the hot
 * path allocates nothing. Threading: one sampler per sequence. */
#ifndef XLLM_RUNTIME_SAMPLER_H
#define XLLM_RUNTIME_SAMPLER_H

#include <stdint.h>

#include "base/status.h"

typedef struct xllm_sampler_params {
    float temperature;       /* 0 = greedy; validated 0..2 by the API layer */
    int32_t top_k;           /* 0 = off */
    float top_p;             /* 1 = off */
    float min_p;             /* 0 = off */
    float typical_p;         /* 1 = off */
    float repeat_penalty;    /* 1 = off */
    float presence_penalty;  /* 0 = off */
    float frequency_penalty; /* 0 = off */
    int32_t penalty_last_n;  /* window of recent tokens the penalties see (0 = off, -1 = all) */
    uint64_t seed;
} xllm_sampler_params;

/* Ollama's defaults except temperature: 0.8, top_k 40, top_p 0.9, min_p 0,
 * repeat_penalty 1.1 over the last 64 tokens. */
xllm_sampler_params xllm_sampler_defaults(void);

typedef struct xllm_sampler xllm_sampler;

xllm_status xllm_sampler_new(const xllm_sampler_params *p, int32_t n_vocab, xllm_sampler **out);
void xllm_sampler_free(xllm_sampler *s);
/* Additive bias for one token (OpenAI logit_bias); -INFINITY bans it. */
xllm_status xllm_sampler_set_bias(xllm_sampler *s, int32_t token, float bias);
/* Sample from logits [n_vocab] (not modified). Returns the token id. */
int32_t xllm_sampler_sample(xllm_sampler *s, const float *logits);
/* Record a token that entered the sequence (prompt or generated) for penalties. */
void xllm_sampler_accept(xllm_sampler *s, int32_t token);
/* Log-probability of each candidate under the final distribution is not kept;
 * this gives log-softmax of the raw logits for `token` (for logprobs). */
float xllm_logprob(const float *logits, int32_t n_vocab, int32_t token);
/* The same in double (perplexity sums many of them). */
double xllm_logprob_d(const float *logits, int32_t n_vocab, int32_t token);
/* Log-softmax of the raw logits (accumulated in double): returns token's
 * logprob and writes the k most likely tokens (ids, logprobs; most likely
 * first, lower id first on ties) into top_ids / top_lp (k may be 0). */
float xllm_logprobs_top(const float *logits, int32_t n_vocab, int32_t token, int32_t k, int32_t *top_ids,
                        float *top_lp);
/* Index of the largest of v[n] (the first one on ties): plain greedy decoding. */
int32_t xllm_argmax(const float *v, int32_t n);

#endif
