/* perplexity.c - windowed perplexity of a token sequence (llama-perplexity's rules). */
#include "cli/perplexity.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sysinfo.h"
#include "runtime/sampler.h"

int32_t xllm_ppl_scored_per_window(const xllm_ppl_params *p)
{
    return p->stride > 0 ? p->stride : p->n_ctx - 1 - p->n_ctx / 2;
}

/* A window and stride that score at least one token. */
static int params_ok(const xllm_ppl_params *p)
{
    return p->n_ctx >= 2 && p->stride >= 0 && p->stride < p->n_ctx && xllm_ppl_scored_per_window(p) >= 1;
}

int32_t xllm_ppl_windows(const xllm_ppl_params *p, int64_t n)
{
    int64_t w;
    if (!params_ok(p))
        return 0;
    if (p->stride > 0)
        w = n > p->n_ctx ? (n - p->n_ctx + p->stride - 1) / p->stride : 0;
    else
        w = n / p->n_ctx;
    return w > INT32_MAX ? INT32_MAX : (int32_t)w;
}

static int64_t token_bytes(const xllm_tokenizer *tok, int32_t id)
{
    char piece[64];
    int32_t n = tok ? xllm_token_to_piece(tok, id, 0, piece, sizeof piece) : 0;
    return n > 0 ? n : 0;
}

/* Evaluate one window win[n_ctx] from an empty cache; score from window
 * position `from` on. Scratch: logits[XLLM_PPL_LOGIT_ROWS][n_vocab]. */
static xllm_status score_window(xllm_session *s, const int32_t *win, int32_t n_ctx, int32_t from,
                                const xllm_ppl_params *p, float *logits, xllm_progress *prog, xllm_ppl_result *r)
{
    int32_t V = xllm_session_n_vocab(s);
    xllm_status st;
    xllm_session_reset(s);
    if (from - 1 > 0 && (st = xllm_session_eval(s, win, from - 1, 0, NULL)) != XLLM_OK)
        return st;
    for (int32_t q = from - 1; q < n_ctx - 1;) {
        int32_t k = n_ctx - 1 - q < XLLM_PPL_LOGIT_ROWS ? n_ctx - 1 - q : XLLM_PPL_LOGIT_ROWS;
        if ((st = xllm_session_eval(s, win + q, k, 1, logits)) != XLLM_OK)
            return st;
        for (int32_t j = 0; j < k; j++) {
            int32_t target = win[q + j + 1];
            r->nll += -xllm_logprob_d(logits + (size_t)j * (size_t)V, V, target);
            r->n_bytes += token_bytes(p->tok, target);
        }
        r->n_scored += k;
        q += k;
        xllm_progress_add(prog, (uint64_t)k);
    }
    r->n_evaluated += n_ctx - 1;
    return XLLM_OK;
}

xllm_status xllm_perplexity(xllm_session *s, const int32_t *tokens, int64_t n, const xllm_ppl_params *p,
                            xllm_progress *prog, xllm_ppl_result *out)
{
    xllm_status st;
    int32_t n_windows = xllm_ppl_windows(p, n), V = xllm_session_n_vocab(s);
    int32_t step = p->stride > 0 ? p->stride : p->n_ctx;
    int32_t from = p->n_ctx - xllm_ppl_scored_per_window(p);
    int32_t *win = NULL;
    float *logits = NULL;
    double t0 = xllm_now();
    memset(out, 0, sizeof *out);
    if (!params_ok(p))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT,
                         "perplexity: window %d with stride %d scores nothing (stride 1 .. window - 1, or 0 with "
                         "a window of at least 3)",
                         p->n_ctx, p->stride);
    if (p->n_ctx > xllm_session_n_ctx(s))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "perplexity: window of %d tokens exceeds the context of %d",
                         p->n_ctx, xllm_session_n_ctx(s));
    if (n_windows < 1)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "perplexity: the text has %lld tokens; a window of %d needs %s %d",
                         (long long)n, p->n_ctx, p->stride > 0 ? "more than" : "at least", p->n_ctx);
    win = xllm_malloc(sizeof(int32_t) * (size_t)p->n_ctx);
    logits = xllm_malloc(sizeof(float) * (size_t)XLLM_PPL_LOGIT_ROWS * (size_t)V);
    if (!win || !logits) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "perplexity: scratch for %d logits rows", XLLM_PPL_LOGIT_ROWS);
        goto out;
    }
    for (int32_t w = 0; w < n_windows; w++) {
        memcpy(win, tokens + (int64_t)w * step, sizeof(int32_t) * (size_t)p->n_ctx);
        if (p->stride == 0 && p->bos >= 0)
            win[0] = p->bos;
        if ((st = score_window(s, win, p->n_ctx, from, p, logits, prog, out)) != XLLM_OK)
            goto out;
        out->n_windows++;
    }
    out->seconds = xllm_now() - t0;
    out->ppl = exp(out->nll / (double)out->n_scored);
    st = XLLM_OK;
out:
    xllm_session_reset(s);
    xllm_free(win);
    xllm_free(logits);
    return st;
}
