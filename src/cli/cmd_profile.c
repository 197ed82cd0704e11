/* cmd_profile.c - `xllm profile MODEL [--prompt TEXT]`: what one request costs
 * on this machine: load time, resident memory (before and after load, after
 * generating, peak), time to first token for the first request after load
 * (cold: weights still paging in) and for a second one (warm), and prefill and
 * decode tokens/s of a real, tokenized prompt, through the scheduler. CPU
 * engine (no VRAM yet). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sysinfo.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/measure.h"
#include "kernels/cpu/kernels.h"
#include "runtime/instance.h"

#define PROFILE_DEFAULT_PROMPT "In the beginning God created the heaven and the earth."

typedef struct profile_opts {
    const char *prompt;
    int num_predict, threads, ctx, json;
    const char *kv_type;
    const char *device;
} profile_opts;

typedef struct profile_result {
    const char *model, *arch, *quant, *prompt;
    int threads;
    uint64_t model_bytes, rss_before, rss_loaded, rss_end, peak_rss;
    double load_s;
    cli_gen_stats cold, warm;
    cli_model_facts facts;
} profile_result;

static void print_text(const profile_result *p)
{
    printf("model:        %s (%s, %s, %.1f MiB of tensors)\n", p->model, p->arch, p->quant,
           (double)p->model_bytes / 1048576.0);
    printf("engine:       cpu, kernels %s, %d threads of %d CPUs (%s)\n", xllm_kernels_variant(), p->threads,
           xllm_online_cpus(), xllm_cpu_name());
    printf("load:         %.3f s\n", p->load_s);
    printf("memory:       %.1f MiB resident before load, %.1f MiB after load, %.1f MiB after generating; "
           "peak %.1f MiB\n",
           (double)p->rss_before / 1048576.0, (double)p->rss_loaded / 1048576.0, (double)p->rss_end / 1048576.0,
           (double)p->peak_rss / 1048576.0);
    printf("prompt:       %d tokens, %d generated (greedy)\n", p->warm.n_prompt, p->warm.n_new);
    printf("first token:  %.1f ms cold (first request after load), %.1f ms warm\n", p->cold.prefill_s * 1e3,
           p->warm.prefill_s * 1e3);
    printf("prefill:      %.2f tokens/s warm (%.2f cold)\n", cli_prefill_tps(&p->warm), cli_prefill_tps(&p->cold));
    printf("decode:       %.2f tokens/s warm (%.2f cold), %d steps\n", cli_decode_tps(&p->warm),
           cli_decode_tps(&p->cold), p->warm.n_steps);
}

static void print_json(const profile_result *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(p->model));
    json_object_set_new(o, "architecture", json_string(p->arch));
    json_object_set_new(o, "quantization", json_string(p->quant));
    json_object_set_new(o, "engine", json_string("cpu"));
    json_object_set_new(o, "kernels", json_string(xllm_kernels_variant()));
    json_object_set_new(o, "threads", json_integer(p->threads));
    json_object_set_new(o, "model_bytes", json_integer((json_int_t)p->model_bytes));
    json_object_set_new(o, "load_seconds", json_real(p->load_s));
    json_object_set_new(o, "rss_before_load_bytes", json_integer((json_int_t)p->rss_before));
    json_object_set_new(o, "rss_after_load_bytes", json_integer((json_int_t)p->rss_loaded));
    json_object_set_new(o, "rss_bytes", json_integer((json_int_t)p->rss_end));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)p->peak_rss));
    json_object_set_new(o, "prompt", json_string(p->prompt));
    json_object_set_new(o, "prompt_tokens", json_integer(p->warm.n_prompt));
    json_object_set_new(o, "gen_tokens", json_integer(p->warm.n_new));
    json_object_set_new(o, "decode_steps", json_integer(p->warm.n_steps));
    json_object_set_new(o, "ttft_cold_seconds", json_real(p->cold.prefill_s));
    json_object_set_new(o, "ttft_seconds", json_real(p->warm.prefill_s));
    json_object_set_new(o, "prefill_tokens_per_s", json_real(cli_prefill_tps(&p->warm)));
    json_object_set_new(o, "decode_tokens_per_s", json_real(cli_decode_tps(&p->warm)));
    json_object_set_new(o, "prefill_cold_tokens_per_s", json_real(cli_prefill_tps(&p->cold)));
    json_object_set_new(o, "decode_cold_tokens_per_s", json_real(cli_decode_tps(&p->cold)));
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
    putchar('\n');
    json_decref(o);
}

/* Load, then the same greedy request twice through the scheduler (cold,
 * warm; the second with a fresh prefix-cache salt, so it recomputes). */
static xllm_status profile(const char *path, const profile_opts *o, xllm_instance **in, profile_result *p)
{
    xllm_instance_params ip = xllm_instance_params_default();
    cli_model_facts *mf = &p->facts;
    int32_t *ids = NULL;
    size_t n = 0;
    xllm_status st;
    if ((st = cli_model_facts_get(path, mf)) != XLLM_OK)
        return st;
    xllm_reset_peak_rss();
    p->rss_before = xllm_rss_bytes();
    ip.model_path = path;
    ip.n_threads = o->threads;
    ip.device = o->device;
    ip.n_ctx = o->ctx;
    ip.sched.max_running = 1;
    if ((st = cli_kv_type_parse(o->kv_type, &ip.kv_type)) != XLLM_OK || (st = xllm_instance_open(&ip, in)) != XLLM_OK)
        return st;
    if (!(*in)->sched)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s is an embedding model (no generation to profile)", path);
    p->load_s = (*in)->load_s;
    p->rss_loaded = xllm_rss_bytes();
    p->model_bytes = mf->model_bytes;
    p->quant = mf->quant;
    p->arch = mf->arch;
    if ((st = xllm_tokenize((*in)->tok, o->prompt, strlen(o->prompt), 1, 1, &ids, &n)) != XLLM_OK)
        return st;
    st = cli_generate_greedy(*in, ids, (int32_t)n, o->num_predict, 0, 1, NULL, NULL, &p->cold);
    if (st == XLLM_OK)
        st = cli_generate_greedy(*in, ids, (int32_t)n, o->num_predict, 0, 2, NULL, NULL, &p->warm);
    p->rss_end = xllm_rss_bytes();
    p->peak_rss = xllm_peak_rss_bytes();
    xllm_free(ids);
    return st;
}

int cmd_profile(int argc, char **argv)
{
    profile_opts o = {PROFILE_DEFAULT_PROMPT, 32, 0, 0, 0, NULL, NULL};
    profile_result p;
    xllm_instance *in = NULL;
    const char *pos[1];
    int n_pos = 0, rc;
    xllm_status st;
    const xllm_opt opts[] = {
        {"prompt", XLLM_OPT_STR, &o.prompt, "prompt text (default: \"" PROFILE_DEFAULT_PROMPT "\")"},
        {"num-predict", XLLM_OPT_INT, &o.num_predict, "tokens to generate, greedy, not stopped at end of text "
                                                      "(default 32)"},
        CLI_OPT_THREADS(o.threads),
        CLI_OPT_CTX(o.ctx),
        CLI_OPT_KV_TYPE(o.kv_type),
        CLI_OPT_DEVICE(o.device),
        {"json", XLLM_OPT_FLAG, &o.json, "print one JSON object"},
    };
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos,
                         "MODEL [options]\n\n"
                         "Load time, resident memory, time to first token (first request after load, then a\n"
                         "second identical one) and prefill / decode tokens/s for a tokenized prompt.");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1 || o.num_predict < 2) {
        fprintf(stderr, "xllm profile: need MODEL (a .gguf file or a Hugging Face directory) and "
                        "--num-predict >= 2\n");
        return 2;
    }
    memset(&p, 0, sizeof p);
    p.model = pos[0];
    p.prompt = o.prompt;
    o.threads = o.threads > 0 ? o.threads : xllm_online_cpus();
    p.threads = o.threads;
    st = profile(pos[0], &o, &in, &p);
    if (st == XLLM_OK && o.json)
        print_json(&p);
    else if (st == XLLM_OK)
        print_text(&p);
    xllm_instance_close(in);
    return st == XLLM_OK ? 0 : cli_error("profile", st);
}
