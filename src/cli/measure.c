/* measure.c - timed greedy generation, decode byte counts, random prompts, CPU share. */
#include "cli/measure.h"

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/sysinfo.h"
#include "runtime/sampler.h"

double cli_prefill_tps(const cli_gen_stats *g) { return g->prefill_s > 0 ? g->n_prompt / g->prefill_s : 0; }
double cli_decode_tps(const cli_gen_stats *g) { return g->decode_s > 0 ? g->n_steps / g->decode_s : 0; }

xllm_status cli_generate_greedy(xllm_session *s, const int32_t *prompt, int32_t n_prompt, int32_t max_new,
                                const xllm_tokenizer *stop, int32_t *out, xllm_progress *prog, cli_gen_stats *st)
{
    int32_t V = xllm_session_n_vocab(s), next;
    float *logits = xllm_malloc(sizeof(float) * (size_t)V);
    xllm_status rc;
    double t0, t1;
    st->n_prompt = n_prompt;
    st->n_new = st->n_steps = 0;
    st->prefill_s = st->decode_s = 0;
    if (!logits)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "generate: logits of %d tokens", V);
    xllm_session_reset(s);
    t0 = xllm_now();
    if ((rc = xllm_session_eval(s, prompt, n_prompt, 0, logits)) != XLLM_OK)
        goto out;
    next = xllm_argmax(logits, V);
    t1 = xllm_now();
    st->prefill_s = t1 - t0;
    xllm_progress_add(prog, (uint64_t)n_prompt);
    while (!(stop && xllm_tokenizer_is_eog(stop, next))) {
        if (out)
            out[st->n_new] = next;
        if (++st->n_new >= max_new || xllm_session_n_past(s) >= xllm_session_n_ctx(s))
            break;
        if ((rc = xllm_session_eval(s, &next, 1, 0, logits)) != XLLM_OK)
            goto out;
        next = xllm_argmax(logits, V);
        st->n_steps++;
        xllm_progress_add(prog, 1);
    }
    st->decode_s = xllm_now() - t1;
out:
    xllm_free(logits);
    return rc;
}

static uint64_t xorshift64(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

void cli_random_prompt(const xllm_tokenizer *tok, int32_t n_vocab, uint64_t seed, int32_t *ids, int32_t n)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    int32_t i = 0;
    if (n > 0 && tok && xllm_tokenizer_add_bos(tok) && xllm_tokenizer_bos(tok) >= 0)
        ids[i++] = xllm_tokenizer_bos(tok);
    for (; i < n; i++) {
        int32_t id = (int32_t)(xorshift64(&x) % (uint64_t)n_vocab);
        /* a vocabulary of only control tokens is not a real one: give up after a few draws */
        for (int tries = 0; tok && xllm_tokenizer_is_special(tok, id) && tries < 64; tries++)
            id = (int32_t)(xorshift64(&x) % (uint64_t)n_vocab);
        ids[i] = id;
    }
}

static uint64_t matrix_bytes(const xllm_weight *w)
{
    int ok;
    uint64_t row = xllm_dtype_row_bytes(w->dtype, (uint64_t)w->cols, &ok);
    return ok && w->data ? row * (uint64_t)w->rows : 0;
}

uint64_t cli_decode_bytes_per_token(const xllm_model *m)
{
    uint64_t bytes = 0;
    for (int r = 0; r < XLLM_ROLE_COUNT; r++)
        if (r != XLLM_R_TOKEN_EMBD && r != XLLM_R_POS_EMBD && r != XLLM_R_TOKEN_TYPES)
            bytes += matrix_bytes(&m->glob.mat[r]); /* OUTPUT counts token_embd when tied */
    for (int32_t l = 0; l < m->hp.n_layer; l++)
        for (int r = 0; r < XLLM_ROLE_COUNT; r++)
            bytes += matrix_bytes(&m->layers[l].mat[r]);
    return bytes;
}

void cli_cpu_meter_start(cli_cpu_meter *m)
{
    m->wall = xllm_now();
    m->proc = xllm_process_cpu_seconds();
    m->machine = xllm_machine_busy_cpu_seconds();
}

double cli_cpu_meter_other_share(const cli_cpu_meter *m)
{
    double wall = xllm_now() - m->wall;
    double other = (xllm_machine_busy_cpu_seconds() - m->machine) - (xllm_process_cpu_seconds() - m->proc);
    if (wall <= 0 || other <= 0)
        return 0;
    other /= wall * xllm_online_cpus();
    return other > 1 ? 1 : other;
}
