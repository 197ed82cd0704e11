/* cmd_serve.c - `xllm serve`: the HTTP server (OpenAI, Ollama, Anthropic,
 * xllm APIs) in the foreground until SIGINT/SIGTERM (graceful, 30 s), a
 * second signal exits at once. Models: --model NAME=PATH, repeatable; API
 * keys: XLLM_API_KEY, --api-key SPEC (repeatable), --api-keys FILE. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "server/http.h"
#include "server/keys.h"
#include "xllm/engine.h"

static volatile sig_atomic_t n_signals;

static void on_signal(int sig)
{
    (void)sig;
    if (++n_signals >= 2)
        _exit(130); /* runners exit with their parent */
}

static int parse_kv_type(const char *s, int32_t *out)
{
    static const char *const names[] = {"f16", "q8_0", "f32"};
    for (int i = 0; i < XLLM_KV_TYPE_COUNT; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return -1;
}

/* Take every "--FLAG VALUE" / "--FLAG=VALUE" of a repeatable flag out of argv
 * (flag "--model", what "NAME=PATH" for the messages). */
static int take_repeated(int *argc, char **argv, const char *flag, const char *what, const char **specs, int max,
                         int *n)
{
    int o = 1;
    size_t fl = strlen(flag);
    *n = 0;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], flag) && i + 1 < *argc)
            v = argv[++i];
        else if (!strncmp(argv[i], flag, fl) && argv[i][fl] == '=')
            v = argv[i] + fl + 1;
        else if (!strcmp(argv[i], flag)) {
            fprintf(stderr, "xllm serve: %s needs %s\n", flag, what);
            return -1;
        }
        if (v) {
            if (*n == max) {
                fprintf(stderr, "xllm serve: more than %d %s\n", max, flag);
                return -1;
            }
            specs[(*n)++] = v;
        } else {
            argv[o++] = argv[i];
        }
    }
    *argc = o;
    return 0;
}

/* --api-key specs, then the lines of --api-keys FILE, into keys[*n]. */
static int load_keys(const char **specs, int n_specs, const char *file, srv_key_cfg *keys, int *n)
{
    int n_file = 0;
    *n = 0;
    for (int i = 0; i < n_specs; i++) {
        if (*n == XLLM_SERVER_MAX_KEYS || srv_key_parse(specs[i], &keys[*n])) {
            fprintf(stderr, "xllm serve: --api-key #%d: %s\n", i + 1,
                    *n == XLLM_SERVER_MAX_KEYS ? "too many keys" : xllm_last_error());
            return -1;
        }
        (*n)++;
    }
    if (file && srv_keys_read_file(file, keys + *n, XLLM_SERVER_MAX_KEYS - 1 - *n, &n_file)) {
        fprintf(stderr, "xllm serve: --api-keys: %s\n", xllm_last_error());
        return -1;
    }
    *n += n_file;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *host = "127.0.0.1", *kv = "f16", *cors = "*", *allowed = NULL, *keys_file = NULL;
    int port = 32769, threads = 0, http_threads = 4, workers = XLLM_SERVER_WORKERS, ctx = 0, n_pos = 0, n_models = 0;
    int n_key_specs = 0, n_keys = 0, max_batch = 0, max_queue = 0;
    const char *key_specs[XLLM_SERVER_MAX_KEYS];
    static srv_key_cfg keys[XLLM_SERVER_MAX_KEYS];
    double keep_alive = 300;
    const char *specs[XLLM_SERVER_MAX_MODELS];
    const char *pos[1];
    const xllm_opt opts[] = {
        {"host", XLLM_OPT_STR, &host, "address to listen on (default 127.0.0.1)"},
        {"port", XLLM_OPT_INT, &port, "port (default 32769; 0 picks a free one)"},
        {"threads", XLLM_OPT_INT, &threads, "compute threads per runner (default: one per CPU)"},
        {"http-threads", XLLM_OPT_INT, &http_threads, "HTTP threads (default 4)"},
        {"workers", XLLM_OPT_INT, &workers, "worker threads that start requests (default 8)"},
        {"api-keys", XLLM_OPT_STR, &keys_file, "file of API keys, one KEY[:rpm=N,tpm=N,priority=batch] a line"},
        {"kv-type", XLLM_OPT_STR, &kv, "KV cache type: f16 (default), q8_0, f32"},
        {"ctx", XLLM_OPT_INT, &ctx, "context length per request (default: the model's)"},
        {"max-batch", XLLM_OPT_INT, &max_batch, "sequences a runner runs at once (default 16)"},
        {"max-queue", XLLM_OPT_INT, &max_queue, "requests a runner queues (default 1000; 503 beyond)"},
        {"keep-alive", XLLM_OPT_FLOAT, &keep_alive, "seconds an idle model stays loaded (default 300; < 0 forever)"},
        {"cors", XLLM_OPT_STR, &cors, "Access-Control-Allow-Origin (default *)"},
        {"allow-host", XLLM_OPT_STR, &allowed, "extra Host names accepted, comma separated"},
    };
    srv_cfg cfg;
    srv *s = NULL;
    xllm_status st;
    int32_t kv_type = 0;
    char bin[4096];
    ssize_t bl;
    struct sigaction sa;
    int rc;

    if (!getenv("XLLM_LOG"))
        xllm_log_set_level(XLLM_LOG_INFO); /* a server logs every request (SPEC S-6) */
    if (take_repeated(&argc, argv, "--model", "NAME=PATH", specs, XLLM_SERVER_MAX_MODELS, &n_models) ||
        take_repeated(&argc, argv, "--api-key", "KEY[:rpm=N,tpm=N,priority=batch]", key_specs, XLLM_SERVER_MAX_KEYS,
                      &n_key_specs))
        return 2;
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos,
                         "xllm serve [--host H] [--port P] [--model NAME=PATH]... [--threads N] [--kv-type T] [--ctx N]\n"
                         "           [--api-key KEY[:rpm=N,tpm=N,priority=interactive|batch]]... [--api-keys FILE]");
    if (rc)
        return rc == 1 ? 0 : 2;
    if (load_keys(key_specs, n_key_specs, keys_file, keys, &n_keys))
        return 2;
    if (max_batch < 0 || max_queue < 0) {
        fprintf(stderr, "xllm serve: --max-batch and --max-queue must be >= 0 (0: the runner's default)\n");
        return 2;
    }
    if (workers < 1 || workers > XLLM_SERVER_MAX_WORKERS) {
        fprintf(stderr, "xllm serve: --workers %d: expected 1..%d\n", workers, XLLM_SERVER_MAX_WORKERS);
        return 2;
    }
    if (parse_kv_type(kv, &kv_type)) {
        fprintf(stderr, "xllm serve: --kv-type '%s': expected f16, q8_0 or f32\n", kv);
        return 2;
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "xllm serve: --port %d is not a port\n", port);
        return 2;
    }
    bl = readlink("/proc/self/exe", bin, sizeof bin - 1);
    bin[bl > 0 ? bl : 0] = '\0';
    memset(&cfg, 0, sizeof cfg);
    cfg.host = host;
    cfg.port = port;
    cfg.http_threads = http_threads;
    cfg.workers = workers;
    cfg.api_key = getenv("XLLM_API_KEY");
    cfg.keys = keys;
    cfg.n_keys = n_keys;
    cfg.cors_origin = cors;
    cfg.allowed_hosts = allowed ? allowed : getenv("XLLM_ALLOWED_HOSTS");
    cfg.models.xllm_bin = getenv("XLLM_BIN") ? getenv("XLLM_BIN") : (bin[0] ? bin : argv[0]);
    cfg.models.n_threads = threads;
    cfg.models.kv_type = kv_type;
    cfg.models.n_ctx = ctx;
    cfg.models.max_running = max_batch;
    cfg.models.max_waiting = max_queue;
    cfg.models.idle_timeout_s = keep_alive;
    cfg.models.run_dir = getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "/tmp";

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((st = srv_new(&cfg, &s))) {
        fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
        return 1;
    }
    for (int i = 0; i < n_models; i++) {
        char name[256];
        const char *eq = strchr(specs[i], '=');
        if (!eq || eq == specs[i] || !eq[1] || (size_t)(eq - specs[i]) >= sizeof name) {
            fprintf(stderr, "xllm serve: --model '%s': expected NAME=PATH\n", specs[i]);
            srv_free(s, 0);
            return 2;
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - specs[i]), specs[i]);
        if ((st = srv_models_add(srv_get_models(s), name, eq + 1))) {
            fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
            srv_free(s, 0);
            return 1;
        }
    }
    srv_models_sync_store(srv_get_models(s)); /* the store's models; --model names win */
    printf("xllm serve: listening on http://%s:%d\n", strchr(host, ':') ? "[::1]" : host, srv_port(s));
    if (srv_models_count(srv_get_models(s)) == 0)
        printf("xllm serve: no models yet; restart with --model NAME=PATH (e.g. --model kjv=models/kjv-demo.gguf)\n");
    for (int i = 0; i < n_models; i++)
        printf("xllm serve: model '%s' (loads on first request)\n", srv_model_name(srv_models_at(srv_get_models(s), i)));
    fflush(stdout);
    while (!n_signals)
        pause();
    XLLM_INFO("xllm serve: stopping (finishing running requests, at most %d s; a second signal exits at once)",
              XLLM_SERVER_SHUTDOWN_S);
    srv_free(s, XLLM_SERVER_SHUTDOWN_S);
    return 0;
}
