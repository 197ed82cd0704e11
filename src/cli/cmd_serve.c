/* cmd_serve.c - `xllm serve`: the HTTP server (OpenAI, Ollama, Anthropic,
 * xllm APIs) in the foreground until SIGINT/SIGTERM (graceful, 30 s), a
 * second signal exits at once. Models: --model NAME=PATH, repeatable; API
 * keys: --api-key SPEC (repeatable) beside the table's XLLM_API_KEY and
 * --api-keys FILE. The other settings come from server/config.h's table
 * (flags, XLLM_* variables, ~/.xllm/config.yaml or --config FILE). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "server/config.h"
#include "server/http.h"
#include "server/keys.h"
#include "server/preload.h"
#include "xllm/engine.h"

static volatile sig_atomic_t n_signals;

static void on_signal(int sig)
{
    (void)sig;
    if (++n_signals >= 2)
        _exit(130); /* runners exit with their parent */
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

static const char *env_get(const char *name) { return getenv(name); }

/* The settings: defaults < config file < environment < flags (flag_vals[i]
 * is the text given for key i, or NULL). 0 ok, else the message is printed. */
static int resolve_conf(srv_conf *c, const char *config_flag, const char *const *flag_vals, char *c_path, size_t cap)
{
    char buf[4096], where[80];
    int required;
    const char *path = srv_conf_path(config_flag, buf, sizeof buf, &required);
    if (srv_conf_init(c))
        goto fail;
    if (path && srv_conf_load_file(c, path))
        goto fail;
    if (srv_conf_load_env(c, env_get))
        goto fail;
    for (int i = 0; i < srv_conf_n_keys(); i++) {
        const srv_conf_key *k = srv_conf_key_at(i);
        if (!flag_vals[i])
            continue;
        snprintf(where, sizeof where, "--%s", k->flag);
        if (srv_conf_set(c, k, flag_vals[i], SRV_CONF_FLAG, where))
            goto fail;
    }
    snprintf(c_path, cap, "%s", path ? path : "");
    return 0;
fail:
    fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
    return -1;
}

/* Log where each setting other than a default came from; warn about the
 * ones accepted but not acted on yet. */
static void log_conf(const srv_conf *c, const char *path)
{
    char buf[4096];
    if (path[0])
        XLLM_INFO("xllm serve: config file %s", path);
    for (int i = 0; i < srv_conf_n_keys(); i++) {
        const srv_conf_key *k = srv_conf_key_at(i);
        if (c->src[i] == SRV_CONF_DEFAULT)
            continue;
        if (k->unused)
            XLLM_WARN("xllm serve: %s is accepted but not used yet (from the %s)", k->path,
                      srv_conf_src_name((srv_conf_src)c->src[i]));
        else
            XLLM_INFO("xllm serve: %s = %s (from the %s)", k->path,
                      strcmp(k->path, "server.api_key") ? srv_conf_value_text(c, k, buf, sizeof buf) : "(set)",
                      srv_conf_src_name((srv_conf_src)c->src[i]));
    }
}

static int32_t kv_type_of(const char *s)
{
    static const char *const names[] = {"f16", "q8_0", "f32"};
    for (int i = 0; i < XLLM_KV_TYPE_COUNT; i++)
        if (!strcmp(s, names[i]))
            return i;
    return 0; /* the table allows only the names above */
}

/* srv_cfg borrowing c's strings. */
static void server_cfg(const srv_conf *c, const char *bin, srv_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = c->host[0] ? c->host : "127.0.0.1";
    cfg->port = (int)c->port;
    cfg->http_threads = (int)c->http_threads;
    cfg->workers = (int)c->workers;
    cfg->api_key = c->api_key[0] ? c->api_key : NULL;
    cfg->cors_origin = c->cors_origins;
    cfg->no_gzip = !c->gzip;
    cfg->allowed_hosts = c->allowed_hosts;
    cfg->models.xllm_bin = getenv("XLLM_BIN") ? getenv("XLLM_BIN") : bin;
    cfg->models.n_threads = (int32_t)c->threads;
    cfg->models.kv_type = kv_type_of(c->kv_type);
    cfg->models.n_ctx = (int32_t)c->ctx_size;
    cfg->models.idle_timeout_s = c->idle_timeout;
    cfg->models.max_running = (int32_t)c->max_batch;
    cfg->models.max_waiting = (int32_t)c->max_queue;
    cfg->models.device = strcmp(c->device, "auto") ? c->device : NULL;
    cfg->models.run_dir = getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "/tmp";
}

/* The log file of the settings, when one is named. */
static int open_log(const srv_conf *c)
{
    int daily;
    uint64_t max_bytes;
    if (!c->log_file[0])
        return 0;
    srv_conf_rotation(c->log_rotation, &daily, &max_bytes);
    if (xllm_log_open_file(c->log_file, daily, max_bytes)) {
        fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
        return -1;
    }
    XLLM_INFO("xllm serve: logging to %s (rotation %s)", c->log_file, c->log_rotation);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *config_path = NULL, *flag_vals[64] = {0}, *specs[XLLM_SERVER_MAX_MODELS], *pos[1];
    xllm_opt opts[66];
    int n_opts = 0, n_pos = 0, n_models = 0, rc;
    int n_key_specs = 0, n_keys = 0;
    const char *key_specs[XLLM_SERVER_MAX_KEYS];
    static srv_key_cfg keys[XLLM_SERVER_MAX_KEYS];
    srv_conf conf;
    srv_cfg cfg;
    srv *s = NULL;
    srv_preload *pre = NULL;
    char bin[4096], conf_path[4096];
    ssize_t bl;
    struct sigaction sa;

    if (!getenv("XLLM_LOG"))
        xllm_log_set_level(XLLM_LOG_INFO); /* a server logs every request (SPEC S-6) */
    opts[n_opts++] = (xllm_opt){"config", XLLM_OPT_STR, &config_path,
                                "config file (default ~/.xllm/config.yaml when it exists; XLLM_CONFIG)"};
    for (int i = 0; i < srv_conf_n_keys(); i++) {
        const srv_conf_key *k = srv_conf_key_at(i);
        if (k->flag)
            opts[n_opts++] = (xllm_opt){k->flag, XLLM_OPT_STR, &flag_vals[i], k->help};
    }
    if (take_repeated(&argc, argv, "--model", "NAME=PATH", specs, XLLM_SERVER_MAX_MODELS, &n_models) ||
        take_repeated(&argc, argv, "--api-key", "KEY[:rpm=N,tpm=N,priority=batch]", key_specs, XLLM_SERVER_MAX_KEYS,
                      &n_key_specs))
        return 2;
    rc = xllm_args_parse(argc, argv, opts, n_opts, pos, 0, &n_pos,
                         "[--config FILE] [--host H] [--port P] [--model NAME=PATH]... [--preload NAME,...]\n"
                         "           [--api-key KEY[:rpm=N,tpm=N,priority=interactive|batch]]... [--api-keys FILE]\n\n"
                         "Settings: flag > XLLM_* variable > config file (~/.xllm/config.yaml) > default.");
    if (rc)
        return rc == 1 ? 0 : 2;
    if (resolve_conf(&conf, config_path, flag_vals, conf_path, sizeof conf_path)) {
        srv_conf_free(&conf);
        return 2;
    }
    if (open_log(&conf)) {
        srv_conf_free(&conf);
        return 2;
    }
    if (load_keys(key_specs, n_key_specs, conf.api_keys_file[0] ? conf.api_keys_file : NULL, keys, &n_keys)) {
        srv_conf_free(&conf);
        return 2;
    }
    log_conf(&conf, conf_path);
    if (conf.models_dir[0])
        setenv("XLLM_MODELS_DIR", conf.models_dir, 1); /* the store reads it */
    bl = readlink("/proc/self/exe", bin, sizeof bin - 1);
    bin[bl > 0 ? bl : 0] = '\0';
    server_cfg(&conf, bin[0] ? bin : argv[0], &cfg);
    cfg.keys = keys;
    cfg.n_keys = n_keys;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    if (srv_new(&cfg, &s)) {
        fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
        goto out;
    }
    for (int i = 0; i < n_models; i++) {
        char name[256];
        const char *eq = strchr(specs[i], '=');
        if (!eq || eq == specs[i] || !eq[1] || (size_t)(eq - specs[i]) >= sizeof name) {
            fprintf(stderr, "xllm serve: --model '%s': expected NAME=PATH\n", specs[i]);
            rc = 2;
            goto out;
        }
        snprintf(name, sizeof name, "%.*s", (int)(eq - specs[i]), specs[i]);
        if (srv_models_add(srv_get_models(s), name, eq + 1)) {
            fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
            goto out;
        }
    }
    srv_models_sync_store(srv_get_models(s)); /* the store's models; --model names win */
    if (srv_preload_start(srv_get_models(s), conf.preload, &pre)) {
        fprintf(stderr, "xllm serve: %s\n", xllm_last_error());
        rc = 2;
        goto out;
    }
    printf("xllm serve: listening on http://%s:%d\n", strchr(cfg.host, ':') ? "[::1]" : cfg.host, srv_port(s));
    if (srv_models_count(srv_get_models(s)) == 0)
        printf("xllm serve: no models yet; restart with --model NAME=PATH (e.g. --model kjv=models/kjv-demo.gguf)\n");
    for (int i = 0; i < n_models; i++)
        printf("xllm serve: model '%s' (loads on first request)\n", srv_model_name(srv_models_at(srv_get_models(s), i)));
    fflush(stdout);
    while (!n_signals)
        pause();
    XLLM_INFO("xllm serve: stopping (finishing running requests, at most %d s; a second signal exits at once)",
              XLLM_SERVER_SHUTDOWN_S);
    rc = 0;
out:
    srv_preload_join(pre);
    if (s)
        srv_free(s, rc ? 0 : XLLM_SERVER_SHUTDOWN_S);
    xllm_log_close_file();
    srv_conf_free(&conf);
    return rc;
}
