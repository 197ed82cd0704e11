/* test_sampler.c - sampler: greedy, determinism by seed, truncation, penalties,
 * and sampled frequencies against the exact softmax distribution. */
#include <math.h>

#include "../test.h"
#include "base/alloc.h"
#include "runtime/sampler.h"

static xllm_sampler_params plain(float temp)
{
    xllm_sampler_params p = xllm_sampler_defaults();
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.repeat_penalty = 1.0f;
    p.seed = 42;
    return p;
}

TEST(sampler_greedy_picks_argmax)
{
    float logits[5] = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f};
    xllm_sampler_params p = plain(0);
    xllm_sampler *s;
    CHECK_OK(xllm_sampler_new(&p, 5, &s));
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 1);
    CHECK_OK(xllm_sampler_set_bias(s, 1, -INFINITY));
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 3);
    CHECK(xllm_sampler_set_bias(s, 7, 1.0f) == XLLM_ERR_INVALID_ARGUMENT);
    xllm_sampler_free(s);
}

TEST(sampler_same_seed_same_tokens)
{
    float logits[16];
    int32_t a[50], b[50];
    for (int i = 0; i < 16; i++)
        logits[i] = (float)(i % 5) * 0.3f;
    for (int run = 0; run < 2; run++) {
        xllm_sampler_params p = plain(1.0f);
        xllm_sampler *s;
        CHECK_OK(xllm_sampler_new(&p, 16, &s));
        for (int i = 0; i < 50; i++)
            (run ? b : a)[i] = xllm_sampler_sample(s, logits);
        xllm_sampler_free(s);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
}

TEST(sampler_frequencies_match_softmax)
{
    /* chi-square against exp(l)/sum: 4 tokens, 20000 draws, 3 dof, p=0.001 -> 16.27 */
    float logits[4] = {0.0f, 1.0f, 0.5f, -1.0f};
    double expect[4], sum = 0, chi = 0;
    int count[4] = {0};
    xllm_sampler_params p = plain(1.0f);
    xllm_sampler *s;
    for (int i = 0; i < 4; i++)
        sum += expect[i] = exp(logits[i]);
    CHECK_OK(xllm_sampler_new(&p, 4, &s));
    for (int i = 0; i < 20000; i++)
        count[xllm_sampler_sample(s, logits)]++;
    for (int i = 0; i < 4; i++) {
        double e = 20000 * expect[i] / sum;
        chi += (count[i] - e) * (count[i] - e) / e;
    }
    CHECK_MSG(chi < 16.27, "chi-square %.2f", chi);
    xllm_sampler_free(s);
}

TEST(sampler_truncation_top_k_top_p_min_p)
{
    float logits[6] = {5.0f, 4.0f, 3.0f, 0.0f, -1.0f, -2.0f};
    xllm_sampler_params p = plain(1.0f);
    xllm_sampler *s;
    int seen[6] = {0};
    p.top_k = 2;
    CHECK_OK(xllm_sampler_new(&p, 6, &s));
    for (int i = 0; i < 2000; i++)
        seen[xllm_sampler_sample(s, logits)]++;
    CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] == 0 && seen[3] == 0);
    xllm_sampler_free(s);
    memset(seen, 0, sizeof seen);
    p.top_k = 0;
    p.top_p = 0.5f; /* p0 = 0.665 alone covers 0.5 */
    CHECK_OK(xllm_sampler_new(&p, 6, &s));
    for (int i = 0; i < 500; i++)
        seen[xllm_sampler_sample(s, logits)]++;
    CHECK_EQ_INT(seen[0], 500);
    xllm_sampler_free(s);
    memset(seen, 0, sizeof seen);
    p.top_p = 1.0f;
    p.min_p = 0.2f; /* keeps p >= 0.2 * p0: tokens 0 (1.0) and 1 (0.37) only */
    CHECK_OK(xllm_sampler_new(&p, 6, &s));
    for (int i = 0; i < 2000; i++)
        seen[xllm_sampler_sample(s, logits)]++;
    CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] == 0);
    xllm_sampler_free(s);
}

TEST(sampler_penalties_window)
{
    float logits[3] = {2.0f, 1.9f, 0.0f};
    xllm_sampler_params p = plain(0);
    xllm_sampler *s;
    p.repeat_penalty = 1.5f;
    p.penalty_last_n = 2;
    CHECK_OK(xllm_sampler_new(&p, 3, &s));
    xllm_sampler_accept(s, 0);
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 1); /* 2.0/1.5 < 1.9 */
    xllm_sampler_accept(s, 2);
    xllm_sampler_accept(s, 2); /* token 0 leaves the window of 2 */
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 0);
    xllm_sampler_free(s);
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.1f;
    p.presence_penalty = 0.0f;
    p.penalty_last_n = -1;
    CHECK_OK(xllm_sampler_new(&p, 3, &s));
    xllm_sampler_accept(s, 0);
    xllm_sampler_accept(s, 0); /* 2.0 - 2*0.1 = 1.8 < 1.9 */
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 1);
    xllm_sampler_free(s);
}

TEST(logprob_is_log_softmax)
{
    float logits[3] = {1.0f, 2.0f, 3.0f};
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK_NEAR(xllm_logprob(logits, 3, 1), 2.0 - log(z), 1e-6);
}

/* Locally typical sampling against the definition computed here in double:
 * keep the tokens closest to the entropy until their mass reaches typical_p,
 * renormalize; chi-square of 30000 draws (p = 0.001). */
TEST(sampler_typical_p_distribution)
{
    float logits[6] = {2.0f, 1.5f, 1.0f, 0.2f, -0.5f, -2.0f};
    double p[6], key[6], h = 0, sum = 0, keep[6] = {0}, kept = 0, chi = 0, crit[] = {0, 10.83, 13.82, 16.27,
                                                                                        18.47, 20.52};
    int order[6], count[6] = {0}, n_keep = 0;
    xllm_sampler_params sp = plain(1.0f);
    xllm_sampler *s;
    for (int i = 0; i < 6; i++)
        sum += p[i] = exp(logits[i]);
    for (int i = 0; i < 6; i++) {
        p[i] /= sum;
        h -= p[i] * log(p[i]);
    }
    for (int i = 0; i < 6; i++) {
        key[i] = fabs(-log(p[i]) - h);
        order[i] = i;
    }
    for (int i = 0; i < 6; i++) /* selection sort by key */
        for (int j = i + 1; j < 6; j++)
            if (key[order[j]] < key[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    for (int i = 0; i < 6 && kept < 0.7; i++) {
        keep[order[i]] = p[order[i]];
        kept += p[order[i]];
        n_keep++;
    }
    sp.typical_p = 0.7f;
    sp.seed = 7;
    CHECK_OK(xllm_sampler_new(&sp, 6, &s));
    for (int i = 0; i < 30000; i++)
        count[xllm_sampler_sample(s, logits)]++;
    for (int i = 0; i < 6; i++) {
        double e = 30000 * keep[i] / kept;
        if (keep[i] == 0) {
            CHECK_MSG(count[i] == 0, "token %d outside the typical set drawn %d times", i, count[i]);
            continue;
        }
        chi += (count[i] - e) * (count[i] - e) / e;
    }
    CHECK(n_keep >= 2 && n_keep < 6);
    CHECK_MSG(chi < crit[n_keep - 1], "chi-square %.2f with %d kept", chi, n_keep);
    xllm_sampler_free(s);
}

/* Presence and frequency penalties subtract from the logits of tokens seen
 * in the window (OpenAI's definition): with both, a token seen twice loses
 * 2 * frequency + presence. */
TEST(sampler_presence_frequency_penalties)
{
    float logits[3] = {1.0f, 1.0f, 0.0f};
    xllm_sampler_params sp = plain(0);
    xllm_sampler *s;
    sp.presence_penalty = 0.3f;
    sp.frequency_penalty = 0.2f;
    sp.penalty_last_n = 8;
    CHECK_OK(xllm_sampler_new(&sp, 3, &s));
    xllm_sampler_accept(s, 0);
    xllm_sampler_accept(s, 0);
    /* token 0: 1 - 0.4 - 0.3 = 0.3; token 1: 1.0 -> 1 wins */
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 1);
    xllm_sampler_accept(s, 1);
    xllm_sampler_accept(s, 1);
    xllm_sampler_accept(s, 1);
    logits[2] = 0.35f; /* 0: 0.3, 1: 1 - 0.6 - 0.3 = 0.1, 2: 0.35 */
    CHECK_EQ_INT(xllm_sampler_sample(s, logits), 2);
    xllm_sampler_free(s);
}

/* Top-k logprobs over a Llama-sized row (wide range, masked -inf entries,
 * ties, a length that is not a multiple of the lanes) against log-softmax
 * and a full sort computed here in double; argmax against the plain loop. */
TEST(logprobs_top_matches_double_oracle)
{
    enum { N = 32003, K = 20 };
    float *lg = xllm_malloc(N * sizeof *lg);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int32_t ids[K];
    float lp[K];
    for (int round = 0; round < 4; round++) {
        double mx = -INFINITY, sum = 0;
        for (int32_t i = 0; i < N; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(x >> 11) * 0x1.0p-53;
            lg[i] = (float)((u - 0.5) * (round == 3 ? 400.0 : 30.0) + round * 7.0);
            if (round == 1 && i % 3 == 0)
                lg[i] = -INFINITY; /* a grammar mask */
        }
        lg[N - 1] = lg[17] = (float)(round * 7.0 + 300.0); /* a tie at the top; the max sits in the tail */
        for (int32_t i = 0; i < N; i++)
            mx = lg[i] > mx ? lg[i] : mx;
        for (int32_t i = 0; i < N; i++)
            sum += exp((double)lg[i] - mx);
        int32_t best = 0;
        for (int32_t i = 1; i < N; i++)
            if (lg[i] > lg[best])
                best = i;
        CHECK_EQ_INT(xllm_argmax(lg, N), best);
        CHECK_EQ_INT(best, 17);
        float got = xllm_logprobs_top(lg, N, 5, K, ids, lp);
        double want5 = (double)lg[5] - mx - log(sum); /* tolerance: 1e-5 or the float's rounding */
        CHECK_NEAR(got, want5, 1e-5 + 1.2e-7 * fabs(want5));
        CHECK_EQ_INT(ids[0], 17);
        CHECK_EQ_INT(ids[1], N - 1);
        for (int k = 0; k < K; k++) {
            double want = (double)lg[ids[k]] - mx - log(sum);
            CHECK_NEAR(lp[k], want, 1e-5 + 1.2e-7 * fabs(want));
            /* the k-th best: exactly k entries are larger, or equal with a lower id */
            int32_t above = 0;
            for (int32_t i = 0; i < N; i++)
                above += lg[i] > lg[ids[k]] || (lg[i] == lg[ids[k]] && i < ids[k]);
            CHECK_EQ_INT(above, k);
        }
    }
    xllm_free(lg);
}
