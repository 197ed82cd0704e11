/* config.c - `xllm serve` settings: the key table, values from text (flags,
 * environment) and from a YAML file through libyaml's document loader. */
#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "base/limits.h"

#define OFF(f) offsetof(srv_conf, f)
#define BIG 1e12

/* Every setting. Order: the YAML layout (sections as SPEC S-6 lists them). */
static const srv_conf_key keys[] = {
    {"server.host", SRV_CONF_STR, 0, 0, NULL, OFF(host), NULL, "host", "address to listen on (default 127.0.0.1)", 0,
     "127.0.0.1"},
    {"server.port", SRV_CONF_INT, 0, 65535, NULL, OFF(port), NULL, "port", "port (default 32769; 0 picks a free one)", 0,
     "32769"},
    {"server.http_threads", SRV_CONF_INT, 1, 256, NULL, OFF(http_threads), "XLLM_HTTP_THREADS", "http-threads",
     "HTTP threads (default 4)", 0, "4"},
    {"server.log_file", SRV_CONF_PATH, 0, 0, NULL, OFF(log_file), "XLLM_LOG_FILE", "log-file",
     "also write the log to this file (default: stderr only)", 0, ""},
    {"server.log_rotation", SRV_CONF_ROTATION, 0, 0, NULL, OFF(log_rotation), "XLLM_LOG_ROTATION", "log-rotation",
     "rotate the log file: daily (default), never, or a size like 100M", 0, "daily"},
    {"server.cors.allowed_origins", SRV_CONF_LIST, 0, 0, NULL, OFF(cors_origins), "XLLM_CORS_ORIGINS", "cors",
     "CORS origins allowed, comma separated (default *)", 0, "*"},
    {"server.gzip", SRV_CONF_BOOL, 0, 0, NULL, OFF(gzip), "XLLM_GZIP", "gzip",
     "gzip responses of 10 KB and more when the client accepts it (default true)", 0, "true"},
    {"server.workers", SRV_CONF_INT, 1, XLLM_SERVER_MAX_WORKERS, NULL, OFF(workers), "XLLM_WORKERS", "workers",
     "worker threads that start requests (default 8)", 0, "8"},
    {"server.api_key", SRV_CONF_STR, 0, 0, NULL, OFF(api_key), "XLLM_API_KEY", NULL,
     "bearer token without limits (default: none; --api-key SPEC adds keys)", 0, ""},
    {"server.api_keys_file", SRV_CONF_PATH, 0, 0, NULL, OFF(api_keys_file), "XLLM_API_KEYS_FILE", "api-keys",
     "file of API keys, one KEY[:rpm=N,tpm=N,priority=batch] a line", 0, ""},
    {"server.allowed_hosts", SRV_CONF_LIST, 0, 0, NULL, OFF(allowed_hosts), "XLLM_ALLOWED_HOSTS", "allow-host",
     "extra Host names accepted, comma separated", 0, ""},
    {"models.directory", SRV_CONF_PATH, 0, 0, NULL, OFF(models_dir), "XLLM_MODELS_DIR", "models-dir",
     "model store directory (default ~/.xllm/models)", 0, ""},
    {"models.preload", SRV_CONF_LIST, 0, 0, NULL, OFF(preload), "XLLM_PRELOAD", "preload",
     "models loaded at start, comma separated", 0, ""},
    {"models.priority", SRV_CONF_PRIORITY, 0, 0, NULL, OFF(priority), NULL, NULL,
     "per model: high, normal or low (not used yet)", 1, ""},
    {"models.replicas", SRV_CONF_INT, 1, 64, NULL, OFF(replicas), NULL, NULL, "runners per model (not used yet)", 1,
     "1"},
    {"inference.idle_timeout", SRV_CONF_NUM, -BIG, BIG, NULL, OFF(idle_timeout), "XLLM_IDLE_TIMEOUT", "keep-alive",
     "seconds an idle model stays loaded (default 300; < 0 forever)", 0, "300"},
    {"inference.request_timeout", SRV_CONF_NUM, 0, BIG, NULL, OFF(request_timeout), "XLLM_REQUEST_TIMEOUT", NULL,
     "seconds a request may run (0: no limit; not used yet)", 1, "0"},
    {"inference.max_batch", SRV_CONF_INT, 1, 4096, NULL, OFF(max_batch), "XLLM_MAX_BATCH", "max-batch",
     "sequences decoded together per model (default 16)", 0, "16"},
    {"inference.max_queue", SRV_CONF_INT, 1, 1000000, NULL, OFF(max_queue), "XLLM_MAX_QUEUE", "max-queue",
     "requests waiting per model before 'queue full' (default 1000)", 0, "1000"},
    {"inference.ctx_size", SRV_CONF_INT, 0, 1 << 24, NULL, OFF(ctx_size), "XLLM_CTX_SIZE", "ctx",
     "context length per request (default 0: the model's)", 0, "0"},
    {"inference.kv_type", SRV_CONF_ENUM, 0, 0, "f16|q8_0|f32", OFF(kv_type), "XLLM_KV_TYPE", "kv-type",
     "KV cache type (default f16)", 0, "f16"},
    {"inference.threads", SRV_CONF_INT, 0, XLLM_MAX_THREADS, NULL, OFF(threads), "XLLM_THREADS", "threads",
     "compute threads per runner (default 0: one per CPU)", 0, "0"},
    {"gpu.device", SRV_CONF_ENUM, 0, 0, "auto|cpu|cuda|cuda:0|cuda:1|cuda:2|cuda:3|cuda:4|cuda:5|cuda:6|cuda:7",
     OFF(device), "XLLM_DEVICE", "device", "where runners compute (default auto: the runner's default)", 0, "auto"},
    {"images.directory", SRV_CONF_PATH, 0, 0, NULL, OFF(images_dir), NULL, NULL, "image cache (not used yet)", 1, ""},
    {"images.ttl_hours", SRV_CONF_NUM, 0, BIG, NULL, OFF(images_ttl_hours), NULL, NULL,
     "hours images are kept (not used yet)", 1, "24"},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))
_Static_assert(sizeof keys / sizeof keys[0] <= sizeof((srv_conf *)0)->src, "srv_conf.src too small");

int srv_conf_n_keys(void) { return N_KEYS; }

const srv_conf_key *srv_conf_key_at(int i) { return i >= 0 && i < N_KEYS ? &keys[i] : NULL; }

const srv_conf_key *srv_conf_find(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].path, path))
            return &keys[i];
    return NULL;
}

const srv_conf_key *srv_conf_find_flag(const char *flag)
{
    for (int i = 0; i < N_KEYS; i++)
        if (keys[i].flag && !strcmp(keys[i].flag, flag))
            return &keys[i];
    return NULL;
}

const char *srv_conf_src_name(srv_conf_src s)
{
    static const char *const names[] = {"default", "config file", "environment", "command line"};
    return (unsigned)s < 4 ? names[s] : "?";
}

/* ---- values ---- */

static char **str_at(srv_conf *c, const srv_conf_key *k) { return (char **)((char *)c + k->off); }
static int64_t *int_at(srv_conf *c, const srv_conf_key *k) { return (int64_t *)((char *)c + k->off); }
static double *num_at(srv_conf *c, const srv_conf_key *k) { return (double *)((char *)c + k->off); }

static int is_text_type(srv_conf_type t)
{
    return t == SRV_CONF_STR || t == SRV_CONF_PATH || t == SRV_CONF_ENUM || t == SRV_CONF_LIST || t == SRV_CONF_ROTATION ||
           t == SRV_CONF_PRIORITY;
}

/* What a key accepts, for error messages. */
static void allowed_text(const srv_conf_key *k, char *buf, size_t cap)
{
    switch (k->type) {
    case SRV_CONF_INT:
        snprintf(buf, cap, "an integer from %.0f to %.0f", k->lo, k->hi);
        break;
    case SRV_CONF_NUM:
        if (k->lo <= -BIG)
            snprintf(buf, cap, "a number (seconds; negative: forever)");
        else
            snprintf(buf, cap, "a number of at least %g", k->lo);
        break;
    case SRV_CONF_BOOL:
        snprintf(buf, cap, "true or false");
        break;
    case SRV_CONF_ENUM:
        snprintf(buf, cap, "one of %s", k->choices);
        break;
    case SRV_CONF_LIST:
        snprintf(buf, cap, "a string or a list of strings");
        break;
    case SRV_CONF_ROTATION:
        snprintf(buf, cap, "daily, never, or a size like 100M (K, M, G suffixes, at least 4K)");
        break;
    case SRV_CONF_PRIORITY:
        snprintf(buf, cap, "a mapping of model names to high, normal or low");
        break;
    default:
        snprintf(buf, cap, "a string");
    }
}

static xllm_status bad_value(const char *where, const srv_conf_key *k, const char *value, const char *why)
{
    char allowed[256];
    allowed_text(k, allowed, sizeof allowed);
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: %s: '%.80s' %s; allowed: %s", where, k->path, value, why,
                     allowed);
}

/* Size text ("100M", "65536", "1G") to bytes; 0 when not a size. */
static uint64_t parse_size(const char *s)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;
    if (!isdigit((unsigned char)s[0]))
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || v == 0)
        return 0;
    if (*end == 'K' || *end == 'k')
        mul = 1u << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1u << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1u << 30;
    if (mul > 1)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || v > UINT64_MAX / mul)
        return 0;
    return (uint64_t)v * mul;
}

void srv_conf_rotation(const char *text, int *daily, uint64_t *max_bytes)
{
    *daily = 0;
    *max_bytes = 0;
    if (!text || !text[0] || !strcmp(text, "daily"))
        *daily = 1;
    else if (strcmp(text, "never") != 0)
        *max_bytes = parse_size(text);
}

static int parse_bool(const char *v, int64_t *out)
{
    static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, t[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(v, f[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* "name=level,name2=level" */
static int check_priority(const char *v, char *why, size_t cap)
{
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char level[16];
        if (!eq || eq >= p + len || eq == p) {
            snprintf(why, cap, "is not NAME=LEVEL");
            return -1;
        }
        snprintf(level, sizeof level, "%.*s", (int)(p + len - eq - 1 < 15 ? p + len - eq - 1 : 15), eq + 1);
        if (!in_choices("high|normal|low", level)) {
            snprintf(why, cap, "gives the level '%s'", level);
            return -1;
        }
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

/* Validate one text value for k; why says what is wrong. */
static int check_value(const srv_conf_key *k, const char *v, int64_t *iv, double *dv, char *why, size_t cap)
{
    char *end;
    switch (k->type) {
    case SRV_CONF_INT: {
        long long x;
        errno = 0;
        x = strtoll(v, &end, 10);
        if (!v[0] || *end || errno) {
            snprintf(why, cap, "is not an integer");
            return -1;
        }
        if ((double)x < k->lo || (double)x > k->hi) {
            snprintf(why, cap, "is out of range");
            return -1;
        }
        *iv = x;
        return 0;
    }
    case SRV_CONF_NUM:
        errno = 0;
        *dv = strtod(v, &end);
        if (!v[0] || *end || errno || !isfinite(*dv)) {
            snprintf(why, cap, "is not a number");
            return -1;
        }
        if (*dv < k->lo || *dv > k->hi) {
            snprintf(why, cap, "is out of range");
            return -1;
        }
        return 0;
    case SRV_CONF_BOOL:
        if (parse_bool(v, iv)) {
            snprintf(why, cap, "is not a boolean");
            return -1;
        }
        return 0;
    case SRV_CONF_ENUM:
        if (!in_choices(k->choices, v)) {
            snprintf(why, cap, "is not allowed");
            return -1;
        }
        return 0;
    case SRV_CONF_ROTATION:
        if (strcmp(v, "daily") && strcmp(v, "never") && parse_size(v) < 4096) {
            snprintf(why, cap, "is not a rotation");
            return -1;
        }
        return 0;
    case SRV_CONF_PRIORITY:
        return check_priority(v, why, cap);
    default:
        return 0;
    }
}

xllm_status srv_conf_set(srv_conf *c, const srv_conf_key *k, const char *value, srv_conf_src src,
                         const char *origin)
{
    char why[96];
    int64_t iv = 0;
    double dv = 0;
    if (check_value(k, value, &iv, &dv, why, sizeof why))
        return bad_value(origin, k, value, why);
    if (is_text_type(k->type)) {
        const char *home = getenv("HOME");
        char *s, **dst = str_at(c, k);
        if (k->type == SRV_CONF_PATH && !strncmp(value, "~/", 2) && home && home[0]) {
            size_t n = strlen(home) + strlen(value);
            if ((s = xllm_malloc(n)))
                snprintf(s, n, "%s%s", home, value + 1);
        } else {
            s = xllm_strdup(value);
        }
        if (!s)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "config");
        xllm_free(*dst);
        *dst = s;
    } else if (k->type == SRV_CONF_NUM) {
        *num_at(c, k) = dv;
    } else {
        *int_at(c, k) = iv;
    }
    c->src[k - keys] = (uint8_t)src;
    return XLLM_OK;
}

xllm_status srv_conf_init(srv_conf *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_KEYS; i++) {
        xllm_status st = srv_conf_set(c, &keys[i], keys[i].def, SRV_CONF_DEFAULT,
                                      "default");
        if (st) {
            srv_conf_free(c);
            return st;
        }
    }
    return XLLM_OK;
}

void srv_conf_free(srv_conf *c)
{
    for (int i = 0; i < N_KEYS; i++)
        if (is_text_type(keys[i].type)) {
            xllm_free(*str_at(c, &keys[i]));
            *str_at(c, &keys[i]) = NULL;
        }
}

const char *srv_conf_value_text(const srv_conf *c, const srv_conf_key *k, char *buf, size_t cap)
{
    srv_conf *m = (srv_conf *)c;
    if (is_text_type(k->type))
        snprintf(buf, cap, "%s", *str_at(m, k) ? *str_at(m, k) : "");
    else if (k->type == SRV_CONF_NUM)
        snprintf(buf, cap, "%g", *num_at(m, k));
    else if (k->type == SRV_CONF_BOOL)
        snprintf(buf, cap, "%s", *int_at(m, k) ? "true" : "false");
    else
        snprintf(buf, cap, "%lld", (long long)*int_at(m, k));
    return buf;
}

xllm_status srv_conf_load_env(srv_conf *c, const char *(*get)(const char *name))
{
    for (int i = 0; i < N_KEYS; i++) {
        const char *v = keys[i].env ? get(keys[i].env) : NULL;
        xllm_status st;
        if (v && (st = srv_conf_set(c, &keys[i], v, SRV_CONF_ENV, keys[i].env)))
            return st;
    }
    return XLLM_OK;
}

const char *srv_conf_path(const char *flag_path, char *buf, size_t cap, int *required)
{
    const char *env = getenv("XLLM_CONFIG"), *home = getenv("HOME");
    *required = 1;
    if (flag_path && flag_path[0])
        return flag_path;
    if (env && env[0])
        return env;
    *required = 0;
    if (!home || !home[0] || snprintf(buf, cap, "%s/.xllm/config.yaml", home) >= (int)cap)
        return NULL;
    return xllm_path_exists(buf) ? buf : NULL;
}

/* ---- YAML ---- */

typedef struct yload {
    srv_conf *c;
    yaml_document_t *doc;
    const char *name;
} yload;

static xllm_status at_node(yload *y, yaml_node_t *n, const char *fmt, const char *a, const char *b)
{
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s:%zu:%zu: %s%s%s", y->name, n->start_mark.line + 1,
                     n->start_mark.column + 1, fmt, a ? a : "", b ? b : "");
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain "~", "null" or empty scalar. */
static int is_null(yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!s[0] || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}

/* Whether some key lies under prefix ("server.cors"). */
static int is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < N_KEYS; i++)
        if (!strncmp(keys[i].path, prefix, n) && keys[i].path[n] == '.')
            return 1;
    return 0;
}

/* The names allowed directly under prefix ("" for the top), comma separated. */
static void children(const char *prefix, char *buf, size_t cap)
{
    size_t n = strlen(prefix), len = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_KEYS; i++) {
        const char *rest = keys[i].path + n + (n ? 1 : 0), *dot;
        int dup = 0;
        size_t rl;
        if (n && (strncmp(keys[i].path, prefix, n) || keys[i].path[n] != '.'))
            continue;
        dot = strchr(rest, '.');
        rl = dot ? (size_t)(dot - rest) : strlen(rest);
        for (int j = 0; j < i && !dup; j++) {
            const char *r2 = keys[j].path + n + (n ? 1 : 0);
            dup = (!n || (!strncmp(keys[j].path, prefix, n) && keys[j].path[n] == '.')) && !strncmp(r2, rest, rl) &&
                  (r2[rl] == '.' || r2[rl] == '\0');
        }
        if (!dup && len + rl + 3 < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%.*s", len ? ", " : "", (int)rl, rest);
    }
}

/* A sequence of scalars (or one scalar) comma-joined into out. */
static xllm_status list_text(yload *y, const srv_conf_key *k, yaml_node_t *v, xllm_buf *out)
{
    yaml_node_item_t *it;
    if (scalar(v))
        return xllm_buf_append(out, scalar(v), strlen(scalar(v))) ? xllm_fail(XLLM_ERR_LIMIT, "config") : XLLM_OK;
    if (v->type != YAML_SEQUENCE_NODE)
        return at_node(y, v, k->path, ": must be a string or a list of strings", NULL);
    for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(y->doc, *it);
        const char *s = scalar(e);
        if (!s)
            return at_node(y, e ? e : v, k->path, ": each entry must be a string", NULL);
        if (!s[0] || strchr(s, ','))
            return at_node(y, e, k->path, ": an entry is empty or has a comma: ", s);
        if ((out->len && xllm_buf_append(out, ",", 1)) || xllm_buf_append(out, s, strlen(s)))
            return at_node(y, e, k->path, ": the list is too long", NULL);
    }
    return XLLM_OK;
}

/* A mapping model -> level into "name=level,...". */
static xllm_status priority_text(yload *y, const srv_conf_key *k, yaml_node_t *v, xllm_buf *out)
{
    yaml_node_pair_t *p;
    if (v->type != YAML_MAPPING_NODE)
        return at_node(y, v, k->path, ": must be a mapping of model names to high, normal or low", NULL);
    for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(y->doc, p->key), *vn = yaml_document_get_node(y->doc, p->value);
        const char *name = scalar(kn), *level = scalar(vn);
        if (!name || !level || !name[0] || strchr(name, ',') || strchr(name, '='))
            return at_node(y, kn ? kn : v, k->path, ": entries must be NAME: high|normal|low", NULL);
        if (!in_choices("high|normal|low", level))
            return at_node(y, vn, k->path, ": allowed: high, normal or low, not ", level);
        if ((out->len && xllm_buf_append(out, ",", 1)) || xllm_buf_append(out, name, strlen(name)) ||
            xllm_buf_append(out, "=", 1) || xllm_buf_append(out, level, strlen(level)))
            return at_node(y, vn, k->path, ": too many entries", NULL);
    }
    return XLLM_OK;
}

static xllm_status load_value(yload *y, const srv_conf_key *k, yaml_node_t *v)
{
    char where[600];
    xllm_buf b;
    xllm_status st;
    snprintf(where, sizeof where, "%s:%zu:%zu", y->name, v->start_mark.line + 1, v->start_mark.column + 1);
    if (k->type != SRV_CONF_LIST && k->type != SRV_CONF_PRIORITY) {
        const char *s = scalar(v);
        char allowed[256];
        if (!s) {
            allowed_text(k, allowed, sizeof allowed);
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: %s: must be a single value; allowed: %s", where, k->path,
                             allowed);
        }
        if (is_null(v) && k->type != SRV_CONF_STR && k->type != SRV_CONF_PATH)
            return bad_value(where, k, s, "is empty");
        return srv_conf_set(y->c, k, is_null(v) ? "" : s, SRV_CONF_FILE, where);
    }
    if (is_null(v))
        return srv_conf_set(y->c, k, "", SRV_CONF_FILE, where);
    xllm_buf_init(&b, 64u << 10);
    st = k->type == SRV_CONF_LIST ? list_text(y, k, v, &b) : priority_text(y, k, v, &b);
    if (!st && xllm_buf_append(&b, "", 1))
        st = xllm_fail(XLLM_ERR_LIMIT, "%s: %s: too long", where, k->path);
    if (!st)
        st = srv_conf_set(y->c, k, b.data, SRV_CONF_FILE, where);
    xllm_buf_free(&b);
    return st;
}

/* A mapping at prefix ("" top level, "server", "server.cors"). */
static xllm_status load_mapping(yload *y, yaml_node_t *m, const char *prefix)
{
    yaml_node_pair_t *p;
    if (m->type != YAML_MAPPING_NODE) {
        char allowed[512];
        children(prefix, allowed, sizeof allowed);
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s:%zu:%zu: %s%smust be a mapping with the keys: %s", y->name,
                         m->start_mark.line + 1, m->start_mark.column + 1, prefix, prefix[0] ? " " : "", allowed);
    }
    for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(y->doc, p->key), *vn = yaml_document_get_node(y->doc, p->value);
        const char *name = scalar(kn);
        char path[160], allowed[512];
        const srv_conf_key *k;
        xllm_status st;
        if (!kn || !vn || !name)
            return at_node(y, kn ? kn : m, "keys must be plain names", NULL, NULL);
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(scalar(yaml_document_get_node(y->doc, q->key)), name))
                return at_node(y, kn, "duplicate key '", name, "'");
        if (snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name) >= (int)sizeof path ||
            strchr(name, '.') || !name[0])
            k = NULL;
        else
            k = srv_conf_find(path);
        if (k)
            st = load_value(y, k, vn);
        else if (name[0] && !strchr(name, '.') && strlen(path) < sizeof path - 1 && is_section(path))
            st = is_null(vn) ? XLLM_OK : load_mapping(y, vn, path);
        else {
            children(prefix, allowed, sizeof allowed);
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s:%zu:%zu: unknown key '%.60s'%s%s; allowed: %s", y->name,
                             kn->start_mark.line + 1, kn->start_mark.column + 1, name, prefix[0] ? " in " : "",
                             prefix, allowed);
        }
        if (st)
            return st;
    }
    return XLLM_OK;
}

static xllm_status parse_error(yaml_parser_t *p, const char *name)
{
    return xllm_fail(XLLM_ERR_FORMAT, "%s:%zu:%zu: not valid YAML: %s%s%s", name, p->problem_mark.line + 1,
                     p->problem_mark.column + 1, p->problem ? p->problem : "syntax error",
                     p->context ? " " : "", p->context ? p->context : "");
}

/* Nesting deeper than any settings file needs is refused from the event
 * stream first: libyaml's document loader takes quadratic time on deep
 * nesting (200,000 levels: minutes). */
static xllm_status check_depth(const char *name, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    xllm_status st = XLLM_OK;
    int depth = 0;
    if (!yaml_parser_initialize(&parser))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_type_t t;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = parse_error(&parser, name);
            break;
        }
        t = ev.type;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > XLLM_SERVER_MAX_CONFIG_DEPTH)
                st = xllm_fail(XLLM_ERR_LIMIT, "%s:%zu:%zu: nested deeper than %d levels", name,
                               ev.start_mark.line + 1, ev.start_mark.column + 1, XLLM_SERVER_MAX_CONFIG_DEPTH);
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (st || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return st;
}

xllm_status srv_conf_load_yaml(srv_conf *c, const char *name, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root;
    xllm_status st = XLLM_OK;
    yload y = {c, &doc, name};
    if (len > XLLM_SERVER_MAX_CONFIG)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: larger than %u bytes", name, XLLM_SERVER_MAX_CONFIG);
    if ((st = check_depth(name, text, len)))
        return st;
    if (!yaml_parser_initialize(&parser))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        st = parse_error(&parser, name);
        yaml_parser_delete(&parser);
        return st;
    }
    root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root))
        st = load_mapping(&y, root, "");
    if (!st && root) {
        if (!yaml_parser_load(&parser, &extra)) {
            st = parse_error(&parser, name);
        } else {
            if (yaml_document_get_root_node(&extra))
                st = xllm_fail(XLLM_ERR_FORMAT, "%s:%zu:%zu: more than one YAML document", name,
                               extra.start_mark.line + 1, extra.start_mark.column + 1);
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return st;
}

xllm_status srv_conf_load_file(srv_conf *c, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    xllm_status st = xllm_read_file(path, XLLM_SERVER_MAX_CONFIG, &text, &len);
    if (st)
        return st; /* names the path */
    st = srv_conf_load_yaml(c, path, text, len);
    xllm_free(text);
    return st;
}
