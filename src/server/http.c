/* http.c - the libmicrohttpd daemon of `xllm serve`: request lifecycle, the
 * route table, the checks every request passes (Host, auth, body limit,
 * CORS preflight), replies (gzip, request id, error shapes) and the log line. */
#include "server/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/sysinfo.h"
#include "server/http_internal.h"

/* Responses at least this large are gzipped when the client accepts it. */
#define SRV_GZIP_MIN 10240

typedef struct route {
    const char *method;
    const char *path;   /* exact, or ending in '*' for a prefix */
    srv_handler fn;
} route;

static const route routes[] = {
    {"POST", "/v1/chat/completions", srv_openai_chat},
    {"POST", "/v1/completions", srv_openai_completions},
    {"POST", "/v1/embeddings", srv_openai_embeddings},
    {"GET", "/v1/models", srv_openai_models},
    {"GET", "/v1/models/*", srv_openai_model},
    {"POST", "/v1/responses", srv_openai_responses},
    {"POST", "/v1/messages", srv_anthropic_messages},
    {"POST", "/v1/messages/count_tokens", srv_anthropic_count_tokens},
    {"POST", "/api/generate", srv_ollama_generate},
    {"POST", "/api/chat", srv_ollama_chat},
    {"POST", "/api/embed", srv_ollama_embed},
    {"POST", "/api/embeddings", srv_ollama_embeddings},
    {"GET", "/api/tags", srv_ollama_tags},
    {"POST", "/api/show", srv_ollama_show},
    {"GET", "/api/ps", srv_ollama_ps},
    {"GET", "/api/version", srv_ollama_version},
    {"POST", "/api/pull", srv_store_pull},
    {"POST", "/api/create", srv_store_create},
    {"POST", "/api/copy", srv_store_copy},
    {"DELETE", "/api/delete", srv_store_delete},
    {"POST", "/api/push", srv_store_push},
    {"HEAD", "/api/blobs/*", srv_store_blob},
    {"POST", "/api/blobs/*", srv_store_blob},
    {"GET", "/", srv_ollama_root},
    {"HEAD", "/", srv_ollama_root},
    {"GET", "/v0/health", srv_xllm_health},
    {"GET", "/v0/system", srv_xllm_system},
    {"GET", "/v0/metrics", srv_xllm_metrics},
    {"POST", "/tokenize", srv_xllm_tokenize},
    {"POST", "/detokenize", srv_xllm_detokenize},
    {"POST", "/apply-template", srv_xllm_apply_template},
    {"GET", "/openapi.json", srv_xllm_openapi},
};

_Static_assert(sizeof routes / sizeof routes[0] < SRV_METRICS_ENDPOINTS, "metrics count every route plus other");

int srv_route_count(void) { return (int)(sizeof routes / sizeof routes[0]); }

/* The endpoint label of route i: its path, with a trailing wildcard named
 * ("/v1/models/{id}", "/api/blobs/{digest}"); i out of range: "other". */
const char *srv_route_label(int i)
{
    if (i < 0 || i >= srv_route_count())
        return "other";
    if (!strcmp(routes[i].path, "/v1/models/*"))
        return "/v1/models/{id}";
    if (!strcmp(routes[i].path, "/api/blobs/*"))
        return "/api/blobs/{digest}";
    return routes[i].path;
}

static int route_match(const route *rt, const char *path)
{
    size_t n = strlen(rt->path);
    if (rt->path[n - 1] == '*')
        return !strncmp(path, rt->path, n - 1) && path[n - 1] != '\0';
    return !strcmp(path, rt->path);
}

static srv_api api_of(const char *path)
{
    if (!strncmp(path, "/v1/messages", 12))
        return SRV_API_ANTHROPIC;
    if (!strncmp(path, "/v1/", 4))
        return SRV_API_OPENAI;
    if (!strncmp(path, "/api/", 5))
        return SRV_API_OLLAMA;
    return SRV_API_XLLM;
}

/* ---- request objects ---- */

static void req_unref(srv_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->api_state && r->api_state_free)
        r->api_state_free(r->api_state);
    srv_upload_free(r);
    xllm_buf_free(&r->body);
    xllm_buf_free(&r->out);
    xllm_free(r);
}

srv *srv_req_server(srv_req *r) { return r->s; }
const char *srv_req_path(srv_req *r) { return r->path; }
const char *srv_req_method(srv_req *r) { return r->method; }
const char *srv_req_id(srv_req *r) { return r->id; }
srv_api srv_req_api(srv_req *r) { return r->api; }
double srv_req_start(srv_req *r) { return r->t_start; }

void srv_req_charge_tokens(srv_req *r, int64_t prompt, int64_t generated)
{
    if (prompt > 0)
        atomic_fetch_add(&r->s->metrics.tokens_in, (uint64_t)prompt);
    if (r->key >= 0)
        srv_keys_charge(r->s->keys, r->key, prompt + generated, xllm_now());
}
void *srv_req_api_state(srv_req *r) { return r->api_state; }
srv_models *srv_get_models(srv *s) { return s->models; }
int srv_port(const srv *s) { return s->port; }

const char *srv_req_body(srv_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *srv_req_header(srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- replies ---- */

/* Access-Control-Allow-Origin: "*", or the request's Origin when it is in
 * the configured list (comma separated), else none. */
static const char *cors_allow(srv_req *r)
{
    const char *list = r->s->cors_origin, *o = srv_req_header(r, "Origin"), *p;
    size_t n;
    if (!strcmp(list, "*"))
        return list;
    if (!o || !o[0])
        return NULL;
    n = strlen(o);
    for (p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, o, n))
            return o;
        p += len + (comma ? 1 : 0);
    }
    return NULL;
}

void srv_add_limit_headers(srv_req *r, struct MHD_Response *resp)
{
    char v[32];
    if (r->lim.rpm > 0) {
        snprintf(v, sizeof v, "%lld", (long long)r->lim.rpm);
        MHD_add_response_header(resp, "x-ratelimit-limit-requests", v);
        snprintf(v, sizeof v, "%lld", (long long)r->lim.remaining_requests);
        MHD_add_response_header(resp, "x-ratelimit-remaining-requests", v);
    }
    if (r->lim.tpm > 0) {
        snprintf(v, sizeof v, "%lld", (long long)r->lim.tpm);
        MHD_add_response_header(resp, "x-ratelimit-limit-tokens", v);
        snprintf(v, sizeof v, "%lld", (long long)(r->lim.remaining_tokens > 0 ? r->lim.remaining_tokens : 0));
        MHD_add_response_header(resp, "x-ratelimit-remaining-tokens", v);
    }
}

static void add_common_headers(srv_req *r, struct MHD_Response *resp)
{
    srv_add_limit_headers(r, resp);
    const char *allow = cors_allow(r);
    MHD_add_response_header(resp, "X-Request-ID", r->id);
    if (allow)
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", allow);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "X-Request-ID");
    if (strcmp(r->s->cors_origin, "*") != 0)
        MHD_add_response_header(resp, "Vary", "Origin");
}

static int accepts_gzip(srv_req *r)
{
    const char *ae = srv_req_header(r, "Accept-Encoding");
    return ae && strstr(ae, "gzip") != NULL;
}

/* gzip data into a heap buffer (*out, *out_len), 0 ok. */
static int gzip_buf(const char *data, size_t len, char **out, size_t *out_len)
{
    z_stream z;
    size_t cap = compressBound(len) + 64;
    char *buf = xllm_malloc(cap);
    int rc;
    if (!buf)
        return -1;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        xllm_free(buf);
        return -1;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        xllm_free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* A reply with extra headers (NULL-terminated name, value pairs). */
static void reply_raw_headers(srv_req *r, int status, const char *content_type, const char *data, size_t len,
                              const char *const *headers)
{
    struct MHD_Response *resp;
    char *gz = NULL;
    size_t gz_len = 0;
    if (r->replied) {
        XLLM_ERROR("[%s] internal: second reply ignored", r->id);
        return;
    }
    r->replied = 1;
    r->status = status;
    if (len >= SRV_GZIP_MIN && !r->s->no_gzip && accepts_gzip(r) && gzip_buf(data, len, &gz, &gz_len) == 0) {
        resp = MHD_create_response_from_buffer(gz_len, gz, MHD_RESPMEM_MUST_COPY);
        xllm_free(gz);
        if (resp) {
            MHD_add_response_header(resp, "Content-Encoding", "gzip");
            MHD_add_response_header(resp, "Vary", "Accept-Encoding");
        }
    } else {
        resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    }
    if (!resp)
        return;
    if (content_type)
        MHD_add_response_header(resp, "Content-Type", content_type);
    add_common_headers(r, resp);
    for (int i = 0; headers && headers[i]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
    MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
}

void srv_reply_raw(srv_req *r, int status, const char *content_type, const char *data, size_t len)
{
    reply_raw_headers(r, status, content_type, data, len, NULL);
}

void srv_reply_json(srv_req *r, int status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\"}}";
        srv_reply_raw(r, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    srv_reply_raw(r, status, "application/json", s, strlen(s));
    free(s);
}

static const char *openai_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "invalid_request_error";
    case 413: return "invalid_request_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *anthropic_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

/* The error body in r's API shape. */
json_t *srv_error_body(srv_api api, const srv_err *e)
{
    switch (api) {
    case SRV_API_OLLAMA:
        return json_pack("{s:s}", "error", e->msg);
    case SRV_API_ANTHROPIC:
        return json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", anthropic_type(e->status),
                         "message", e->msg);
    default:
        return json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", e->msg, "type", openai_type(e->status),
                         "param", e->param[0] ? json_string(e->param) : json_null(), "code",
                         e->code[0] ? json_string(e->code) : json_null());
    }
}

void srv_reply_err(srv_req *r, const srv_err *e)
{
    XLLM_INFO("[%s] %s %s -> %d: %s", r->id, r->method, r->path, e->status, e->msg);
    srv_reply_json(r, e->status, srv_error_body(r->api, e));
}

void srv_reply_error(srv_req *r, int status, const char *param, const char *code, const char *fmt, ...)
{
    srv_err e;
    va_list ap;
    e.status = status;
    snprintf(e.param, sizeof e.param, "%s", param ? param : "");
    snprintf(e.code, sizeof e.code, "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    srv_reply_err(r, &e);
}

json_t *srv_req_json(srv_req *r)
{
    srv_err e;
    json_t *j = srv_parse_json(r->body.data, r->body.len, &e);
    if (!j)
        srv_reply_err(r, &e);
    return j;
}

srv_model *srv_req_model(srv_req *r, const char *name)
{
    srv_model *md = srv_models_lookup(r->s->models, name);
    if (md)
        return md;
    if (srv_models_count(r->s->models) == 0)
        srv_reply_error(r, 404, "model", "model_not_found",
                        "model '%s' not found: this server serves no models; start it with "
                        "`xllm serve --model NAME=PATH`",
                        name);
    else
        srv_reply_error(r, 404, "model", "model_not_found",
                        "model '%s' not found; GET /v1/models lists the models this server has", name);
    return NULL;
}

/* ---- checks ---- */

/* Host header against DNS rebinding: the bound address, localhost names,
 * loopback literals, configured names; a wildcard bind accepts IP literals. */
static int host_allowed(srv *s, const char *host)
{
    char h[256];
    size_t n;
    const char *p;
    unsigned char tmp[16];
    if (!host)
        return 1; /* HTTP/1.0 without Host */
    snprintf(h, sizeof h, "%s", host);
    if (h[0] == '[') {
        char *end = strchr(h, ']');
        if (!end)
            return 0;
        *end = '\0';
        memmove(h, h + 1, strlen(h + 1) + 1);
    } else if ((p = strrchr(h, ':')) && strchr(h, ':') == p) {
        h[p - h] = '\0';
    }
    n = strlen(h);
    if (n && h[n - 1] == '.')
        h[--n] = '\0';
    if (!strcasecmp(h, "localhost") || (n > 10 && !strcasecmp(h + n - 10, ".localhost")) || !strcmp(h, "127.0.0.1") ||
        !strcmp(h, "::1") || !strcasecmp(h, s->host))
        return 1;
    if (s->wildcard && (inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1))
        return 1;
    if (s->allowed_hosts[0]) {
        const char *a = s->allowed_hosts;
        while (*a) {
            const char *c = strchr(a, ',');
            size_t l = c ? (size_t)(c - a) : strlen(a);
            if ((l == 1 && *a == '*') || (l == n && !strncasecmp(a, h, n)))
                return 1;
            a += l + (c ? 1 : 0);
        }
    }
    return 0;
}

/* Bearer token (OpenAI, Ollama) or x-api-key (Anthropic) against the keys;
 * sets r->key. 1 when allowed. */
static int auth_ok(srv_req *r)
{
    const char *a, *k;
    r->key = -1;
    if (!r->s->keys)
        return 1;
    a = srv_req_header(r, "Authorization");
    if (a && !strncasecmp(a, "Bearer ", 7))
        r->key = srv_keys_find(r->s->keys, a + 7, strlen(a + 7));
    k = srv_req_header(r, "x-api-key");
    if (r->key < 0 && k)
        r->key = srv_keys_find(r->s->keys, k, strlen(k));
    return r->key >= 0;
}

/* 429 in the API's shape with Retry-After (whole seconds). OpenAI sends type
 * "requests" or "tokens" and code "rate_limit_exceeded"; Anthropic type
 * "rate_limit_error"; Ollama a plain error string. */
static void reply_rate_limited(srv_req *r, const srv_limit_hit *hit)
{
    const char *what = hit->kind == SRV_LIMIT_REQUESTS ? "requests" : "tokens";
    char msg[320], retry[32], limit[32];
    int rq = hit->kind == SRV_LIMIT_REQUESTS;
    const char *headers[] = {"Retry-After", retry, rq ? "x-ratelimit-limit-requests" : "x-ratelimit-limit-tokens", limit,
                             rq ? "x-ratelimit-remaining-requests" : "x-ratelimit-remaining-tokens", "0", NULL};
    json_t *body;
    char *text;
    snprintf(msg, sizeof msg,
             "Rate limit reached for this API key on %s per min (%s): Limit %lld, Used %lld. Please try again in %llds.",
             what, hit->kind == SRV_LIMIT_REQUESTS ? "RPM" : "TPM", (long long)hit->limit, (long long)hit->used,
             (long long)hit->retry_after_s);
    snprintf(retry, sizeof retry, "%lld", (long long)hit->retry_after_s);
    snprintf(limit, sizeof limit, "%lld", (long long)hit->limit);
    atomic_fetch_add(&r->s->metrics.rate_limited[hit->kind], 1);
    if (r->api == SRV_API_OLLAMA)
        body = json_pack("{s:s}", "error", msg);
    else if (r->api == SRV_API_ANTHROPIC)
        body = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", "rate_limit_error", "message", msg);
    else
        body = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message", msg, "type", what, "param", "code",
                         "rate_limit_exceeded");
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    XLLM_INFO("[%s] %s %s -> 429: %s", r->id, r->method, r->path, msg);
    if (text)
        reply_raw_headers(r, 429, "application/json", text, strlen(text), headers);
    else
        srv_reply_error(r, 500, "", NULL, "out of memory");
    free(text);
}

static void reply_preflight(srv_req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    const char *rh = srv_req_header(r, "Access-Control-Request-Headers");
    r->replied = 1;
    r->status = 204;
    if (!resp)
        return;
    add_common_headers(r, resp);
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, DELETE, HEAD, OPTIONS");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            rh ? rh : "Authorization, Content-Type, X-Request-ID, x-api-key, anthropic-version");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
    MHD_queue_response(r->conn, 204, resp);
    MHD_destroy_response(resp);
}

static void make_request_id(srv_req *r)
{
    const char *h = srv_req_header(r, "X-Request-ID");
    size_t n = h ? strlen(h) : 0, ok = n > 0 && n < sizeof r->id;
    for (size_t i = 0; ok && i < n; i++)
        ok = h[i] > 32 && h[i] < 127;
    if (ok)
        snprintf(r->id, sizeof r->id, "%s", h);
    else
        srv_make_id("req-", r->id);
    h = srv_req_header(r, "traceparent");
    if (h && strlen(h) < sizeof r->traceparent)
        snprintf(r->traceparent, sizeof r->traceparent, "%s", h);
}

/* First call for a request: everything decided from the headers. Returns 1
 * when a reply was queued already. */
static int on_headers(srv_req *r)
{
    const char *cl = srv_req_header(r, "Content-Length");
    make_request_id(r);
    if (!host_allowed(r->s, srv_req_header(r, "Host"))) {
        srv_reply_error(r, 403, "", "host_not_allowed",
                        "Host '%.100s' is not allowed (DNS-rebinding protection); add it with XLLM_ALLOWED_HOSTS",
                        srv_req_header(r, "Host"));
        return 1;
    }
    if (!strcmp(r->method, "OPTIONS")) {
        reply_preflight(r);
        return 1;
    }
    if (!auth_ok(r)) {
        srv_reply_error(r, 401, "", "invalid_api_key",
                        "missing or wrong API key: send 'Authorization: Bearer <key>' (XLLM_API_KEY or --api-key of "
                        "the server)");
        return 1;
    }
    if (r->key >= 0 && strncmp(r->path, "/v0/", 4) != 0) { /* health and metrics are not rate limited */
        srv_limit_hit hit;
        if (srv_keys_admit(r->s->keys, r->key, xllm_now(), &hit, &r->lim)) {
            reply_rate_limited(r, &hit);
            return 1;
        }
    }
    if (!strcmp(r->method, "POST") && !strncmp(r->path, "/api/blobs/", 11))
        return srv_upload_begin(r);
    if (cl && strtoull(cl, NULL, 10) > XLLM_SERVER_MAX_BODY) {
        srv_reply_error(r, 413, "", "request_too_large", "request body of %s bytes is larger than the limit of %u bytes",
                        cl, XLLM_SERVER_MAX_BODY);
        return 1;
    }
    return 0;
}

static void dispatch(srv_req *r)
{
    int path_known = 0;
    if (r->too_large) {
        srv_reply_error(r, 413, "", "request_too_large", "request body is larger than the limit of %u bytes",
                        XLLM_SERVER_MAX_BODY);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!route_match(&routes[i], r->path))
            continue;
        path_known = 1;
        if (!strcmp(routes[i].method, r->method)) {
            routes[i].fn(r);
            if (!r->replied && !r->gen && !r->task)
                srv_reply_error(r, 500, "", NULL, "internal error: the handler sent no reply");
            return;
        }
    }
    if (path_known)
        srv_reply_error(r, 405, "", NULL, "method %s is not allowed on %s", r->method, r->path);
    else
        srv_reply_error(r, 404, "", "not_found", "no such endpoint: %s %s", r->method, r->path);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    srv *s = cls;
    srv_req *r = *con_cls;
    (void)version;
    if (!r) {
        r = xllm_calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        atomic_init(&r->refs, 1);
        r->s = s;
        r->key = -1;
        r->conn = conn;
        r->t_start = xllm_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        r->api = api_of(r->path);
        xllm_buf_init(&r->body, XLLM_SERVER_MAX_BODY);
        xllm_buf_init(&r->out, 0);
        *con_cls = r;
        if (atomic_load(&s->stopping)) {
            make_request_id(r);
            srv_reply_error(r, 503, "", "shutting_down", "the server is shutting down");
            return MHD_YES;
        }
        if (on_headers(r))
            return MHD_YES;
        return MHD_YES;
    }
    if (r->replied)
        return MHD_YES;
    if (*upload_size && r->upload) {
        srv_upload_chunk(r, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large && xllm_buf_append(&r->body, upload_data, *upload_size))
            r->too_large = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->dispatched) {
        r->dispatched = 1;
        dispatch(r);
        return MHD_YES;
    }
    if (r->task)
        srv_task_step(r);
    else
        srv_gen_resume_step(r);
    return MHD_YES;
}

/* The route of a path whatever the method (metrics); the count: unknown. */
static int route_index(const char *path)
{
    for (int i = 0; i < srv_route_count(); i++)
        if (route_match(&routes[i], path))
            return i;
    return srv_route_count();
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    srv_req *r = *con_cls;
    (void)cls;
    (void)conn;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->gen)
        srv_gen_detach(r, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (r->task)
        srv_task_detach(r);
    srv_metrics_count_request(&r->s->metrics, route_index(r->path), r->replied ? r->status : 499);
    if (r->traceparent[0])
        XLLM_INFO("[%s] traceparent=%s %s %s %d %.1f ms%s", r->id, r->traceparent, r->method, r->path, r->status,
                  (xllm_now() - r->t_start) * 1e3, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)");
    else
        XLLM_INFO("[%s] %s %s %d %.1f ms%s", r->id, r->method, r->path, r->status, (xllm_now() - r->t_start) * 1e3,
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)");
    req_unref(r);
}

void srv_req_ref(srv_req *r) { atomic_fetch_add(&r->refs, 1); }
void srv_req_unref(srv_req *r) { req_unref(r); }

/* ---- daemon ---- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    XLLM_WARN("http: %s", line);
}

/* XLLM_API_KEY's key (no limits) first, then the configured ones. */
static xllm_status make_keys(const srv_cfg *cfg, srv_keys **out)
{
    srv_key_cfg v[XLLM_SERVER_MAX_KEYS];
    int n = 0;
    *out = NULL;
    if (cfg->api_key && cfg->api_key[0]) {
        memset(&v[0], 0, sizeof v[0]);
        if (strlen(cfg->api_key) >= sizeof v[0].key)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "XLLM_API_KEY is longer than %zu bytes", sizeof v[0].key - 1);
        snprintf(v[0].key, sizeof v[0].key, "%s", cfg->api_key);
        n = 1;
    }
    if (cfg->n_keys > XLLM_SERVER_MAX_KEYS - n)
        return xllm_fail(XLLM_ERR_LIMIT, "more than %d API keys", XLLM_SERVER_MAX_KEYS);
    for (int i = 0; i < cfg->n_keys; i++)
        v[n++] = cfg->keys[i];
    return n ? srv_keys_new(v, n, out) : XLLM_OK;
}

/* The parts srv_new made (models before the pools: that stops their jobs). */
static void free_parts(srv *s)
{
    if (s->models)
        srv_models_stop(s->models);
    srv_pool_free(s->pool);
    srv_pool_free(s->store_pool);
    srv_models_free(s->models);
    srv_keys_free(s->keys);
    srv_responses_free(s);
    pthread_mutex_destroy(&s->gen_mu);
    pthread_cond_destroy(&s->gen_cv);
    xllm_free(s);
}

xllm_status srv_new(const srv_cfg *cfg, srv **out)
{
    srv *s;
    struct addrinfo hints, *ai = NULL;
    char port[16];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    xllm_status st;
    int threads = cfg->http_threads > 0 ? cfg->http_threads : 4;

    s = xllm_calloc(1, sizeof *s);
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "server");
    snprintf(s->host, sizeof s->host, "%s", cfg->host && cfg->host[0] ? cfg->host : "127.0.0.1");
    snprintf(s->cors_origin, sizeof s->cors_origin, "%s", cfg->cors_origin && cfg->cors_origin[0] ? cfg->cors_origin : "*");
    s->no_gzip = cfg->no_gzip;
    snprintf(s->allowed_hosts, sizeof s->allowed_hosts, "%s", cfg->allowed_hosts ? cfg->allowed_hosts : "");
    s->wildcard = !strcmp(s->host, "0.0.0.0") || !strcmp(s->host, "::");
    s->t_start = xllm_now();
    pthread_mutex_init(&s->gen_mu, NULL);
    pthread_cond_init(&s->gen_cv, NULL);
    srv_metrics_init(&s->metrics);
    srv_responses_init(s);
    if ((st = make_keys(cfg, &s->keys)) ||
        (st = srv_pool_new("xllm-worker", cfg->workers > 0 ? cfg->workers : XLLM_SERVER_WORKERS,
                           XLLM_SERVER_MAX_QUEUE, &s->pool)) ||
        (st = srv_pool_new("xllm-store", XLLM_SERVER_STORE_THREADS, XLLM_SERVER_MAX_STORE_JOBS, &s->store_pool)) ||
        (st = srv_models_new(&cfg->models, &s->models))) {
        free_parts(s);
        return st;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", cfg->port);
    if (getaddrinfo(s->host, port, &hints, &ai) != 0 || !ai) {
        free_parts(s);
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cannot resolve --host '%s'", cfg->host);
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                            NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                            s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)XLLM_SERVER_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)XLLM_SERVER_CONN_MEMORY,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        free_parts(s);
        return xllm_fail(XLLM_ERR_IO, "cannot listen on %s:%d (address in use or not allowed)", cfg->host, cfg->port);
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return XLLM_OK;
}

void srv_free(srv *s, double wait_s)
{
    double t0 = xllm_now();
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    MHD_socket lsock = MHD_quiesce_daemon(s->d);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    pthread_mutex_lock(&s->gen_mu);
    while (s->n_gens > 0 && xllm_now() - t0 < wait_s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->gen_cv, &s->gen_mu, &ts);
    }
    pthread_mutex_unlock(&s->gen_mu);
    srv_gen_cancel_all(s);
    srv_models_stop(s->models); /* requests parked on a loading model fail now; a load gives up */
    t0 = xllm_now();
    pthread_mutex_lock(&s->gen_mu);
    while (s->n_gens > 0 && xllm_now() - t0 < 3) {
        pthread_mutex_unlock(&s->gen_mu);
        usleep(20000);
        pthread_mutex_lock(&s->gen_mu);
    }
    pthread_mutex_unlock(&s->gen_mu);
    srv_close_suspended(s, 5);
    usleep(100000); /* let resumed connections write their last bytes */
    MHD_stop_daemon(s->d);
    free_parts(s); /* drains the pools (jobs see the connections gone), then the runners stop */
}
