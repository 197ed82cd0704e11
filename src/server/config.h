/* config.h - the settings of `xllm serve` (SPEC S-6): one table of keys (YAML
 * path, type, range, environment variable, command-line flag) and one value
 * struct filled from defaults < ~/.xllm/config.yaml < environment < flags.
 *
 * Ownership: srv_conf owns its strings (srv_conf_free); srv_cfg of http.h
 * borrows them, so the srv_conf outlives the server. Errors are statuses with
 * a message naming the file, line and column (or the variable / flag) and
 * the allowed values; nothing here aborts or logs. Threading: none shared. */
#ifndef XLLM_SERVER_CONFIG_H
#define XLLM_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef enum srv_conf_type {
    SRV_CONF_STR,      /* any string */
    SRV_CONF_PATH,     /* a file or directory; a leading "~/" is $HOME */
    SRV_CONF_INT,      /* integer in [lo, hi] */
    SRV_CONF_NUM,      /* number in [lo, hi] */
    SRV_CONF_BOOL,     /* true/false (yes/no, on/off, 1/0) */
    SRV_CONF_ENUM,     /* one of choices ("a|b|c") */
    SRV_CONF_LIST,     /* a string or a list of strings, kept comma-joined */
    SRV_CONF_ROTATION, /* "daily", "never" or a size ("100M", "1G", "65536") */
    SRV_CONF_PRIORITY, /* mapping model -> high|normal|low, kept "name=level,..." */
} srv_conf_type;

/* Where a value came from (the later wins). */
typedef enum srv_conf_src {
    SRV_CONF_DEFAULT,
    SRV_CONF_FILE,
    SRV_CONF_ENV,
    SRV_CONF_FLAG,
} srv_conf_src;

typedef struct srv_conf {
    /* server */
    char *host;
    int64_t port, http_threads, gzip, workers;
    char *log_file, *log_rotation, *cors_origins, *api_key, *api_keys_file, *allowed_hosts;
    /* models */
    char *models_dir, *preload, *priority;
    int64_t replicas;
    /* inference */
    double idle_timeout, request_timeout;
    int64_t max_batch, max_queue, ctx_size, threads;
    char *kv_type;
    /* gpu */
    char *device;
    /* images */
    char *images_dir;
    double images_ttl_hours;
    /* where each table key's value came from (index of srv_conf_key_at) */
    uint8_t src[64];
} srv_conf;

typedef struct srv_conf_key {
    const char *path;    /* YAML path, "server.port" */
    srv_conf_type type;
    double lo, hi;       /* INT / NUM range */
    const char *choices; /* ENUM: "f16|q8_0|f32" */
    size_t off;          /* where it goes: offsetof(srv_conf, ...) */
    const char *env;     /* environment variable or NULL */
    const char *flag;    /* `xllm serve --FLAG` or NULL */
    const char *help;
    int unused;          /* accepted but not acted on yet: logged when set */
    const char *def;     /* default, as text */
} srv_conf_key;

int srv_conf_n_keys(void);
const srv_conf_key *srv_conf_key_at(int i);
/* The key of a YAML path or of a flag name; NULL if none. */
const srv_conf_key *srv_conf_find(const char *path);
const srv_conf_key *srv_conf_find_flag(const char *flag);

/* Defaults of every key. */
xllm_status srv_conf_init(srv_conf *c);
void srv_conf_free(srv_conf *c);

/* One value as text (an env variable or a flag; lists comma separated).
 * origin names it in errors ("XLLM_PORT", "--port"). */
xllm_status srv_conf_set(srv_conf *c, const srv_conf_key *k, const char *value, srv_conf_src src,
                         const char *origin);
/* A YAML document (name: the file's path for messages). Unknown keys and bad
 * values fail with "name:LINE:COLUMN: ..." and the allowed keys or values. */
xllm_status srv_conf_load_yaml(srv_conf *c, const char *name, const char *text, size_t len);
xllm_status srv_conf_load_file(srv_conf *c, const char *path);
/* Every key's environment variable that is set, through get (getenv). */
xllm_status srv_conf_load_env(srv_conf *c, const char *(*get)(const char *name));

/* The config file to read: flag_path, else XLLM_CONFIG, else
 * ~/.xllm/config.yaml when it exists (*required 0), else NULL. */
const char *srv_conf_path(const char *flag_path, char *buf, size_t cap, int *required);

/* Value of a key as text into buf (for logs and tests). */
const char *srv_conf_value_text(const srv_conf *c, const srv_conf_key *k, char *buf, size_t cap);
const char *srv_conf_src_name(srv_conf_src s);

/* Log rotation of a valid SRV_CONF_ROTATION text: *daily 1, or *max_bytes > 0,
 * or both 0 (never). */
void srv_conf_rotation(const char *text, int *daily, uint64_t *max_bytes);

#endif
