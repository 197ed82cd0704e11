/* measure.h - measuring helpers shared by `xllm benchmark`, `xllm profile` and
 * `xllm compare`: greedy generation timed as prefill (time to first token) and
 * decode, the weight bytes one decode step reads, reproducible random prompts,
 * and how much of the machine's CPU other processes took during a run.
 *
 * Ownership: sessions and tokenizers are borrowed; outputs go to caller
 * buffers. Threading: one thread per session. */
#ifndef XLLM_CLI_MEASURE_H
#define XLLM_CLI_MEASURE_H

#include <stdint.h>

#include "base/status.h"
#include "cli/progress.h"
#include "engine/session.h"
#include "runtime/instance.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct cli_gen_stats {
    int32_t n_prompt;  /* tokens evaluated as the prompt */
    int32_t n_new;     /* tokens produced; the first comes from the prompt's logits */
    int32_t n_steps;   /* single-token decode steps run after the prompt */
    double prefill_s;  /* prompt evaluation + first pick = time to first token */
    double decode_s;   /* the n_steps decode steps (each with its pick) */
} cli_gen_stats;

double cli_prefill_tps(const cli_gen_stats *g); /* n_prompt / prefill_s (0 when unmeasured) */
double cli_decode_tps(const cli_gen_stats *g);  /* n_steps / decode_s (0 when unmeasured) */

/* Greedy continuation of prompt[n_prompt] through the instance's scheduler,
 * alone: at most max_new (>= 1) tokens, fewer when the context fills or, with
 * stop_at_eog, at the first end-of-generation token (not produced). salt keys
 * the prefix cache (a fresh salt: nothing cached is reused). out (optional,
 * [max_new]) receives the ids; prog (optional) counts evaluated tokens. */
xllm_status cli_generate_greedy(xllm_instance *in, const int32_t *prompt, int32_t n_prompt, int32_t max_new,
                                int stop_at_eog, uint64_t salt, int32_t *out, xllm_progress *prog,
                                cli_gen_stats *st);

/* n reproducible pseudo-random ids in [0, n_vocab) from seed; with tok,
 * control tokens are skipped and ids[0] is BOS when the vocabulary adds one. */
void cli_random_prompt(const xllm_tokenizer *tok, int32_t n_vocab, uint64_t seed, int32_t *ids, int32_t n);

/* What reports say about a model file, read from its metadata without
 * loading it: architecture, dominant weight type, tensor bytes, and the
 * bytes a decode step reads (from the tensor table: every tensor once, as
 * stored, but the token / position / token-type embeddings, of which a step
 * reads one row; the token embedding counts when it doubles as the output
 * head). */
typedef struct cli_model_facts {
    char arch[32], quant[16];
    uint64_t model_bytes, decode_bytes;
} cli_model_facts;
xllm_status cli_model_facts_get(const char *path, cli_model_facts *f);

/* CPU time of this process and of the whole machine since start. */
typedef struct cli_cpu_meter {
    double wall, proc, machine;
} cli_cpu_meter;
void cli_cpu_meter_start(cli_cpu_meter *m);
/* Share (0..1) of all CPUs' time since start that other processes used. */
double cli_cpu_meter_other_share(const cli_cpu_meter *m);

#endif
