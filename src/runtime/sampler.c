/* sampler.c - penalties, greedy and truncated sampling with a seeded PRNG. */
#include "runtime/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"

struct xllm_sampler {
    xllm_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];   /* xoshiro256** state */
    float *work;       /* [n_vocab] adjusted logits */
    float *bias;       /* [n_vocab] or NULL */
    int32_t *bias_ids; /* [XLLM_MAX_LOGIT_BIAS] the ids set, so a step adds only those */
    int32_t n_bias_ids, bias_dense; /* dense: more ids than the list holds, add all */
    int32_t *idx;      /* [n_vocab] candidate ids */
    float *prob;       /* [n_vocab] candidate probabilities */
    float *key;        /* [n_vocab] per-token sort keys (typical-p) */
    int32_t *counts;   /* [n_vocab] occurrences within the window */
    int32_t *recent;   /* ring of the last window tokens */
    int32_t window, n_recent, head;
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

xllm_sampler_params xllm_sampler_defaults(void)
{
    xllm_sampler_params p = {0.8f, 40, 0.9f, 0.0f, 1.0f, 1.1f, 0.0f, 0.0f, 64, 0};
    return p;
}

xllm_status xllm_sampler_new(const xllm_sampler_params *p, int32_t n_vocab, xllm_sampler **out)
{
    xllm_status rc = XLLM_ERR_OUT_OF_MEMORY;
    xllm_sampler *s = NULL;
    uint64_t seed;
    *out = NULL;
    if (n_vocab <= 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "sampler: vocabulary size %d", n_vocab);
    s = xllm_calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->window = p->penalty_last_n < 0 ? XLLM_SAMPLER_MAX_WINDOW : p->penalty_last_n;
    if (s->window > XLLM_SAMPLER_MAX_WINDOW)
        s->window = XLLM_SAMPLER_MAX_WINDOW;
    s->work = xllm_malloc(sizeof(float) * (size_t)n_vocab);
    s->idx = xllm_malloc(sizeof(int32_t) * (size_t)n_vocab);
    s->prob = xllm_malloc(sizeof(float) * (size_t)n_vocab);
    s->key = xllm_malloc(sizeof(float) * (size_t)n_vocab);
    s->counts = xllm_calloc((size_t)n_vocab, sizeof(int32_t));
    s->recent = s->window > 0 ? xllm_malloc(sizeof(int32_t) * (size_t)s->window) : NULL;
    if (!s->work || !s->idx || !s->prob || !s->key || !s->counts || (s->window > 0 && !s->recent))
        goto out;
    seed = p->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&seed);
    *out = s;
    s = NULL;
    rc = XLLM_OK;
out:
    if (rc != XLLM_OK)
        xllm_fail(rc, "sampler: out of memory for a vocabulary of %d", n_vocab);
    xllm_sampler_free(s);
    return rc;
}

void xllm_sampler_free(xllm_sampler *s)
{
    if (!s)
        return;
    xllm_free(s->work);
    xllm_free(s->bias);
    xllm_free(s->bias_ids);
    xllm_free(s->idx);
    xllm_free(s->prob);
    xllm_free(s->key);
    xllm_free(s->counts);
    xllm_free(s->recent);
    xllm_free(s);
}

xllm_status xllm_sampler_set_bias(xllm_sampler *s, int32_t token, float bias)
{
    if (token < 0 || token >= s->n_vocab)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "logit_bias: token id %d is outside the vocabulary (0..%d)",
                         token, s->n_vocab - 1);
    if (!s->bias) {
        s->bias = xllm_calloc((size_t)s->n_vocab, sizeof(float));
        s->bias_ids = xllm_malloc(sizeof(int32_t) * XLLM_MAX_LOGIT_BIAS);
        if (!s->bias || !s->bias_ids) {
            xllm_free(s->bias);
            xllm_free(s->bias_ids);
            s->bias = NULL, s->bias_ids = NULL;
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "logit_bias: out of memory");
        }
    }
    int32_t i = 0;
    while (i < s->n_bias_ids && s->bias_ids[i] != token)
        i++;
    if (i == s->n_bias_ids && i < XLLM_MAX_LOGIT_BIAS)
        s->bias_ids[s->n_bias_ids++] = token;
    else if (i == s->n_bias_ids)
        s->bias_dense = 1;
    s->bias[token] = bias;
    return XLLM_OK;
}

void xllm_sampler_accept(xllm_sampler *s, int32_t token)
{
    if (s->window <= 0 || token < 0 || token >= s->n_vocab)
        return;
    if (s->n_recent == s->window) {
        s->counts[s->recent[s->head]]--;
        s->n_recent--;
    }
    s->recent[s->head] = token;
    s->head = (s->head + 1) % s->window;
    s->n_recent++;
    s->counts[token]++;
}

static void apply_penalties(xllm_sampler *s)
{
    const xllm_sampler_params *p = &s->p;
    int pen = p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f;
    if (!pen || s->n_recent == 0)
        return;
    /* walk the ring once per distinct token: counts[] marks occurrences */
    for (int i = 0; i < s->n_recent; i++) {
        int32_t t = s->recent[(s->head - 1 - i + s->window) % s->window];
        float *l = &s->work[t];
        int32_t c = s->counts[t];
        if (c <= 0 || isinf(*l))
            continue;
        if (p->repeat_penalty != 1.0f)
            *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)c * p->frequency_penalty + p->presence_penalty;
        s->counts[t] = -c; /* visited: restore below */
    }
    for (int i = 0; i < s->n_recent; i++) {
        int32_t t = s->recent[(s->head - 1 - i + s->window) % s->window];
        if (s->counts[t] < 0)
            s->counts[t] = -s->counts[t];
    }
}

/* Eight running maxima (independent chains the compiler can vectorize), then
 * the first index holding the largest: the same answer as the plain loop. */
#define LANES 8
static inline __attribute__((always_inline)) float max_of(const float *v, int32_t n)
{
    float m[LANES], best = -INFINITY;
    int32_t i = 0;
    for (int k = 0; k < LANES; k++)
        m[k] = -INFINITY;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            m[k] = v[i + k] > m[k] ? v[i + k] : m[k];
    for (; i < n; i++)
        best = v[i] > best ? v[i] : best;
    for (int k = 0; k < LANES; k++)
        best = m[k] > best ? m[k] : best;
    return best;
}

int32_t xllm_argmax(const float *v, int32_t n)
{
    float mx = max_of(v, n);
    for (int32_t i = 0; i < n; i++)
        if (v[i] == mx)
            return i;
    return 0; /* all NaN */
}

static int better(const float *w, int32_t a, int32_t b) { return w[a] > w[b] || (w[a] == w[b] && a < b); }

/* Min-heap of candidate ids by work[] (the worst kept candidate on top). */
static void heap_sift(int32_t *h, int32_t n, int32_t i, const float *w)
{
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && better(w, h[m], h[l]))
            m = l;
        if (r < n && better(w, h[m], h[r]))
            m = r;
        if (m == i)
            return;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Put the k best tokens (all when k <= 0) in idx[0..n) sorted best first; returns n.
 * Banned tokens (-inf) are never candidates. O(V log k). */
static int32_t top_candidates(xllm_sampler *s, int32_t k)
{
    int32_t n = 0, cap = k > 0 && k < s->n_vocab ? k : s->n_vocab;
    const float *w = s->work;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        if (isinf(w[i]) && w[i] < 0)
            continue;
        if (n < cap) {
            s->idx[n++] = i;
            if (n == cap)
                for (int32_t j = n / 2 - 1; j >= 0; j--)
                    heap_sift(s->idx, n, j, w);
        } else if (better(w, i, s->idx[0])) {
            s->idx[0] = i;
            heap_sift(s->idx, n, 0, w);
        }
    }
    if (n < cap)
        for (int32_t j = n / 2 - 1; j >= 0; j--)
            heap_sift(s->idx, n, j, w);
    /* heap sort: repeatedly move the worst to the end -> best first */
    for (int32_t end = n - 1; end > 0; end--) {
        int32_t t = s->idx[0];
        s->idx[0] = s->idx[end];
        s->idx[end] = t;
        heap_sift(s->idx, end, 0, w);
    }
    return n;
}

static int cmp_key_asc(const void *a, const void *b, void *ctx)
{
    const float *key = ctx;
    float x = key[*(const int32_t *)a], y = key[*(const int32_t *)b];
    return (x > y) - (x < y);
}

/* Locally typical sampling: order by |-log p - H|, keep until mass >= typical_p.
 * Leaves idx/prob reordered; returns the new count. */
static int32_t typical_filter(xllm_sampler *s, int32_t n, float typical_p)
{
    double h = 0, acc = 0;
    int32_t cut = n;
    for (int32_t i = 0; i < n; i++)
        if (s->prob[i] > 0)
            h -= s->prob[i] * log(s->prob[i]);
    for (int32_t i = 0; i < n; i++) {
        int32_t t = s->idx[i];
        s->key[t] = (float)fabs(-log(s->prob[i] > 0 ? s->prob[i] : 1e-30) - h);
        s->work[t] = s->prob[i]; /* work is free now: token-indexed probabilities */
    }
    qsort_r(s->idx, (size_t)n, sizeof(int32_t), cmp_key_asc, s->key);
    for (int32_t i = 0; i < n; i++) {
        s->prob[i] = s->work[s->idx[i]];
        acc += s->prob[i];
        if (acc >= typical_p) {
            cut = i + 1;
            break;
        }
    }
    /* back to most-probable-first for top-p and min-p */
    for (int32_t i = 0; i < cut; i++)
        s->key[s->idx[i]] = -s->work[s->idx[i]];
    qsort_r(s->idx, (size_t)cut, sizeof(int32_t), cmp_key_asc, s->key);
    for (int32_t i = 0; i < cut; i++)
        s->prob[i] = s->work[s->idx[i]];
    return cut;
}

int32_t xllm_sampler_sample(xllm_sampler *s, const float *logits)
{
    const xllm_sampler_params *p = &s->p;
    int32_t n, cut;
    double sum = 0, acc, r;
    memcpy(s->work, logits, sizeof(float) * (size_t)s->n_vocab);
    if (s->bias && s->bias_dense)
        for (int32_t i = 0; i < s->n_vocab; i++)
            s->work[i] += s->bias[i];
    else if (s->bias)
        for (int32_t i = 0; i < s->n_bias_ids; i++)
            s->work[s->bias_ids[i]] += s->bias[s->bias_ids[i]];
    apply_penalties(s);
    if (p->temperature <= 0.0f)
        return xllm_argmax(s->work, s->n_vocab);
    n = top_candidates(s, p->top_k);
    if (n == 0)
        return xllm_argmax(logits, s->n_vocab);
    for (int32_t i = 0; i < n; i++) {
        s->prob[i] = expf((s->work[s->idx[i]] - s->work[s->idx[0]]) / p->temperature);
        sum += s->prob[i];
    }
    for (int32_t i = 0; i < n; i++)
        s->prob[i] = (float)(s->prob[i] / sum);
    cut = n;
    if (p->typical_p > 0.0f && p->typical_p < 1.0f)
        cut = typical_filter(s, n, p->typical_p);
    if (p->top_p > 0.0f && p->top_p < 1.0f) {
        acc = 0;
        for (int32_t i = 0; i < cut; i++) {
            acc += s->prob[i];
            if (acc >= p->top_p) {
                cut = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f)
        for (int32_t i = 1; i < cut; i++)
            if (s->prob[i] < p->min_p * s->prob[0]) {
                cut = i;
                break;
            }
    sum = 0;
    for (int32_t i = 0; i < cut; i++)
        sum += s->prob[i];
    r = rng_uniform(s->rng) * sum;
    acc = 0;
    for (int32_t i = 0; i < cut; i++) {
        acc += s->prob[i];
        if (r < acc)
            return s->idx[i];
    }
    return s->idx[cut - 1];
}

double xllm_logprob_d(const float *logits, int32_t n_vocab, int32_t token)
{
    double mx = logits[xllm_argmax(logits, n_vocab)], sum = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - mx);
    return (double)logits[token] - mx - log(sum);
}

float xllm_logprob(const float *logits, int32_t n_vocab, int32_t token)
{
    return (float)xllm_logprob_d(logits, n_vocab, token);
}

/* exp(x) for x <= 0, four floats at once (GCC/Clang vector extensions, so
 * plain SSE2 code without -ffast-math or libm): x = k ln2 + r with |r| <=
 * ln2 / 2, a degree-6 Taylor polynomial for e^r (relative error < 2e-7),
 * 2^k put into the exponent bits. Below -87 the result is 0 (it would be a
 * denormal, far under a logit sum's rounding). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) v4f exp_neg4(v4f x)
{
    const v4f lo = {-87, -87, -87, -87};
    v4i ok = x > lo;
    v4f c = (v4f)((ok & (v4i)x) | (~ok & (v4i)lo));
    v4f kf = (c * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
    v4f r = c - kf * 0.693145752f - kf * 1.42860677e-6f;
    v4f p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    v4i e = (__builtin_convertvector(kf, v4i) + 127) << 23;
    return (v4f)((v4i)(p * (v4f)e) & ok);
}

/* sum of exp(v[i] - mx): float lanes, flushed into a double every block. */
static double sum_exp(const float *v, int32_t n, float mx)
{
    double sum = 0;
    int32_t i = 0;
    while (i + LANES <= n) {
        v4f a0 = {0}, a1 = {0}, x0, x1;
        int32_t end = n - i > 1024 ? i + 1024 : n;
        for (; i + LANES <= end; i += LANES) {
            memcpy(&x0, v + i, sizeof x0);
            memcpy(&x1, v + i + 4, sizeof x1);
            a0 += exp_neg4(x0 - mx);
            a1 += exp_neg4(x1 - mx);
        }
        for (int k = 0; k < 4; k++)
            sum += (double)a0[k] + (double)a1[k];
    }
    for (; i < n; i++)
        sum += exp((double)v[i] - mx);
    return sum;
}

/* Insert logits[i] into the sorted top list (n entries, k places). */
static void top_insert(const float *logits, int32_t i, int32_t k, int32_t *n, int32_t *top_ids, float *top_lp)
{
    float v = logits[i];
    int32_t j = *n < k ? (*n)++ : k - 1;
    for (; j > 0 && v > top_lp[j - 1]; j--) {
        top_lp[j] = top_lp[j - 1];
        top_ids[j] = top_ids[j - 1];
    }
    top_lp[j] = v;
    top_ids[j] = i;
}

/* The k best in a sorted list: a block of eight is looked at one by one only
 * when its maximum (vectorized) beats the k-th so far, which after the first
 * few hundred tokens is rare; then one log-sum-exp pass. Nothing allocated,
 * nothing sorted in full. Same order as inserting every token in turn. */
float xllm_logprobs_top(const float *logits, int32_t n_vocab, int32_t token, int32_t k, int32_t *top_ids,
                        float *top_lp)
{
    double lz;
    float mx, thr;
    int32_t n = 0, i = 0;
    for (; k > 0 && i < n_vocab && n < k; i++)
        top_insert(logits, i, k, &n, top_ids, top_lp);
    thr = n ? top_lp[n - 1] : 0;
    for (; n == k && i + LANES <= n_vocab; i += LANES) {
        float m = max_of(logits + i, LANES);
        if (!(m > thr))
            continue;
        for (int32_t j = i; j < i + LANES; j++)
            if (logits[j] > thr) {
                top_insert(logits, j, k, &n, top_ids, top_lp);
                thr = top_lp[k - 1];
            }
    }
    for (; n == k && i < n_vocab; i++)
        if (logits[i] > thr) {
            top_insert(logits, i, k, &n, top_ids, top_lp);
            thr = top_lp[k - 1];
        }
    mx = n ? top_lp[0] : max_of(logits, n_vocab);
    lz = (double)mx + log(sum_exp(logits, n_vocab, mx));
    for (int32_t j = 0; j < n; j++)
        top_lp[j] = (float)((double)top_lp[j] - lz);
    return token >= 0 && token < n_vocab ? (float)((double)logits[token] - lz) : NAN;
}
