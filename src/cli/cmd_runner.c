/* cmd_runner.c - `xllm runner --socket PATH --model PATH [...]` (hidden): one
 * model instance served over a Unix socket to the server (runtime/runner.h).
 * The server starts it through xllm_runner_spawn; it is not meant for users. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/runner.h"

/* "123", "512K", "64M", "2G" (powers of 1024) -> bytes; 0 on a bad value. */
static long long parse_bytes(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    long long mul = 1;
    if (end == s || v <= 0)
        return 0;
    switch (*end) {
    case 'k': case 'K': mul = 1ll << 10; end++; break;
    case 'm': case 'M': mul = 1ll << 20; end++; break;
    case 'g': case 'G': mul = 1ll << 30; end++; break;
    case 't': case 'T': mul = 1ll << 40; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B')
        end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
    if (*end || v > (1ll << 62) / mul)
        return 0;
    return v * mul;
}

int cmd_runner(int argc, char **argv)
{
    const char *socket = NULL, *model = NULL, *kv_type = NULL, *kv_mem = NULL, *device = NULL, *client_buf = NULL;
    const char *pos[1];
    int threads = 0, kv_blocks = 0, ctx = 0, max_running = 16, max_queue = 1000, step_tokens = 0, parent = 0;
    int n_pos = 0, rc;
    xllm_runner_params rp;
    xllm_status st;
    const xllm_opt opts[] = {
        {"socket", XLLM_OPT_STR, &socket, "Unix socket path to listen on (required)"},
        {"model", XLLM_OPT_STR, &model, "GGUF file or Hugging Face directory (required)"},
        CLI_OPT_THREADS(threads),
        CLI_OPT_KV_TYPE(kv_type),
        {"kv-mem", XLLM_OPT_STR, &kv_mem, "KV pool size in bytes (K/M/G suffixes; default: a share of free RAM)"},
        {"kv-blocks", XLLM_OPT_INT, &kv_blocks, "KV pool size in blocks of 16 tokens (overrides --kv-mem)"},
        CLI_OPT_CTX(ctx),
        {"max-running", XLLM_OPT_INT, &max_running, "sequences decoded together (default 16)"},
        {"max-queue", XLLM_OPT_INT, &max_queue, "waiting requests before 'queue full' (default 1000)"},
        {"step-tokens", XLLM_OPT_INT, &step_tokens, "token budget of one step (default 512)"},
        {"device", XLLM_OPT_STR, &device, "cpu (default); cuda[:N] needs the CUDA engine plugin"},
        {"parent-pid", XLLM_OPT_INT, &parent, "exit when this process is no longer the parent (set by the server)"},
        {"client-buffer", XLLM_OPT_STR, &client_buf,
         "unsent bytes kept per client before it is dropped (default: one largest frame + 16M)"},
    };
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos,
                         "--socket PATH --model PATH [options]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!socket || !model) {
        fprintf(stderr, "xllm runner: --socket and --model are required\n");
        return 2;
    }
    if (max_running < 1 || max_queue < 1 || step_tokens < 0 || kv_blocks < 0) {
        fprintf(stderr, "xllm runner: --max-running and --max-queue must be >= 1, --step-tokens and --kv-blocks >= 0\n");
        return 2;
    }
    memset(&rp, 0, sizeof rp);
    rp.inst = xllm_instance_params_default();
    if (kv_mem && !(rp.inst.kv_mem = parse_bytes(kv_mem))) {
        fprintf(stderr, "xllm runner: --kv-mem %s: expected a byte count such as 2147483648 or 2G\n", kv_mem);
        return 2;
    }
    if (client_buf && !(rp.max_client_out = parse_bytes(client_buf))) {
        fprintf(stderr, "xllm runner: --client-buffer %s: expected a byte count such as 65536 or 64K\n", client_buf);
        return 2;
    }
    if ((st = cli_kv_type_parse(kv_type, &rp.inst.kv_type)) != XLLM_OK) {
        fprintf(stderr, "xllm runner: %s\n", xllm_last_error());
        return 2;
    }
    rp.socket_path = socket;
    rp.device = device;
    rp.parent_pid = parent;
    rp.inst.model_path = model;
    rp.inst.n_threads = threads;
    rp.inst.kv_blocks = kv_blocks;
    rp.inst.n_ctx = ctx;
    rp.inst.max_batch_tokens = step_tokens > 0 ? step_tokens : 512;
    if (rp.inst.max_batch_tokens < max_running)
        rp.inst.max_batch_tokens = max_running; /* every running sequence decodes in one step */
    rp.inst.sched.max_running = max_running;
    rp.inst.sched.max_waiting = max_queue;
    rp.inst.sched.step_tokens = rp.inst.max_batch_tokens;
    st = xllm_runner_serve(&rp);
    if (st != XLLM_OK) {
        xllm_log(XLLM_LOG_ERROR, "xllm runner: %s", xllm_last_error());
        return 1;
    }
    return 0;
}
