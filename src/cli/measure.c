/* measure.c - timed greedy generation, decode byte counts, random prompts, CPU share. */
#include "cli/measure.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/sysinfo.h"
#include "cli/common.h"
#include "runtime/sampler.h"

double cli_prefill_tps(const cli_gen_stats *g) { return g->prefill_s > 0 ? g->n_prompt / g->prefill_s : 0; }
double cli_decode_tps(const cli_gen_stats *g) { return g->decode_s > 0 ? g->n_steps / g->decode_s : 0; }

typedef struct greedy_run {
    cli_gen_stats *st;
    int32_t *out;
    xllm_progress *prog;
    double t_submit, t_first, t_last;
    int32_t n_prefill_counted;
    xllm_finish finish;
    char error[256];
} greedy_run;

static void greedy_event(void *user, const xllm_gen_event *ev)
{
    greedy_run *g = user;
    double now = xllm_now();
    if (ev->type == XLLM_EVENT_FINAL) {
        g->finish = ev->finish;
        if (ev->error)
            snprintf(g->error, sizeof g->error, "%s", ev->error);
        return;
    }
    if (ev->token < 0)
        return;
    if (g->st->n_new == 0) {
        g->t_first = now;
        xllm_progress_add(g->prog, (uint64_t)g->st->n_prompt);
    } else {
        xllm_progress_add(g->prog, 1);
    }
    if (g->out)
        g->out[g->st->n_new] = ev->token;
    g->st->n_new++;
    g->t_last = now;
}

xllm_status cli_generate_greedy(xllm_instance *in, const int32_t *prompt, int32_t n_prompt, int32_t max_new,
                                int stop_at_eog, uint64_t salt, int32_t *out, xllm_progress *prog,
                                cli_gen_stats *st)
{
    xllm_gen_params p = xllm_gen_params_default();
    greedy_run g;
    xllm_status rc;
    memset(&g, 0, sizeof g);
    memset(st, 0, sizeof *st);
    st->n_prompt = n_prompt;
    g.st = st;
    g.out = out;
    g.prog = prog;
    p.max_tokens = max_new;
    p.ignore_eos = !stop_at_eog;
    p.cache_salt = salt;
    g.t_submit = xllm_now();
    if ((rc = xllm_sched_submit(in->sched, prompt, n_prompt, &p, greedy_event, &g, NULL)) != XLLM_OK)
        return rc;
    while (rc == XLLM_OK && !xllm_sched_idle(in->sched))
        rc = xllm_sched_step(in->sched);
    if (rc == XLLM_OK && g.finish == XLLM_FINISH_ERROR)
        rc = xllm_fail(XLLM_ERR_INTERNAL, "generation: %s", g.error);
    if (st->n_new > 0) {
        st->prefill_s = g.t_first - g.t_submit;
        st->n_steps = st->n_new - 1;
        st->decode_s = g.t_last - g.t_first;
    }
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

xllm_status cli_model_facts_get(const char *path, cli_model_facts *f)
{
    xllm_gguf *g = NULL;
    cli_tensor_stats ts;
    uint64_t embd = 0, skip = 0;
    int has_output = 0;
    xllm_status st = cli_open_container(path, &g);
    memset(f, 0, sizeof *f);
    if (st != XLLM_OK)
        return st;
    cli_tensor_stats_get(g, &ts);
    f->model_bytes = ts.n_bytes;
    snprintf(f->quant, sizeof f->quant, "%s", cli_dominant_dtype(&ts));
    {
        xllm_str a = {"unknown", 7};
        if (xllm_gguf_get_str(g, "general.architecture", &a) != XLLM_OK) {
            a.ptr = "unknown";
            a.len = 7;
        }
        snprintf(f->arch, sizeof f->arch, "%.*s", (int)a.len, a.ptr);
    }
    for (int64_t i = 0; i < xllm_gguf_n_tensors(g); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(g, i);
        if (!strcmp(t->name, "output.weight"))
            has_output = 1;
        else if (!strcmp(t->name, "token_embd.weight"))
            embd = t->nbytes;
        else if (!strcmp(t->name, "position_embd.weight") || !strcmp(t->name, "token_types.weight"))
            skip += t->nbytes;
    }
    f->decode_bytes = ts.n_bytes - skip - (has_output ? embd : 0);
    xllm_gguf_close(g);
    return XLLM_OK;
}
