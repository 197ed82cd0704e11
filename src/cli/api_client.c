/* api_client.c - HTTP calls from the CLI to the xllm server (libcurl), NDJSON
 * streams, and the background server start of `xllm run`. */
#include "cli/api_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/sysinfo.h"

#define API_DEFAULT_PORT "32769"
#define API_MAX_REPLY (64u << 20)
#define API_MAX_LINE (16u << 20)

static volatile sig_atomic_t interrupted;

void cli_api_interrupt(void) { interrupted = 1; }

const char *cli_api_base(void)
{
    static char base[512];
    const char *h = getenv("XLLM_HOST");
    const char *scheme = "http://", *rest;
    size_t n;
    if (!h || !*h)
        h = "127.0.0.1:" API_DEFAULT_PORT;
    rest = h;
    if (!strncmp(h, "http://", 7) || !strncmp(h, "https://", 8)) {
        scheme = "";
        rest = strstr(h, "://") + 3;
    }
    /* a bare host gets the default port */
    snprintf(base, sizeof base, "%s%s%s", scheme, h,
             strchr(rest, ':') || strchr(rest, ']') ? "" : ":" API_DEFAULT_PORT);
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        base[--n] = 0;
    return base;
}

typedef struct api_sink {
    xllm_buf *out;        /* plain replies */
    xllm_buf line;        /* streams: the line being assembled */
    CURL *curl;
    int (*on_line)(void *user, json_t *line);
    void *user;
    int stopped;          /* on_line asked to stop */
    long status;
    xllm_buf err;         /* body of an error reply */
} api_sink;

static size_t sink_plain(char *p, size_t sz, size_t n, void *u)
{
    api_sink *s = u;
    return s->out && xllm_buf_append(s->out, p, sz * n) != XLLM_OK ? 0 : sz * n;
}

static int deliver_line(api_sink *s)
{
    json_error_t e;
    json_t *j;
    int stop = 0;
    if (s->line.len == 0)
        return 0;
    if ((j = json_loadb(s->line.data, s->line.len, 0, &e)) != NULL) {
        stop = s->on_line(s->user, j);
        json_decref(j);
    }
    s->line.len = 0;
    return stop;
}

static size_t sink_stream(char *p, size_t sz, size_t n, void *u)
{
    api_sink *s = u;
    size_t len = sz * n;
    if (!s->status)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status >= 400)
        return xllm_buf_append(&s->err, p, len) == XLLM_OK ? len : 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            if (deliver_line(s)) {
                s->stopped = 1;
                return 0;
            }
        } else if (xllm_buf_append(&s->line, p + i, 1) != XLLM_OK) {
            return 0;
        }
    }
    return len;
}

static int on_progress(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)u;
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return interrupted ? 1 : 0;
}

static CURL *api_handle(const char *method, const char *path, const char *body, struct curl_slist **hdr)
{
    char url[1024];
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    snprintf(url, sizeof url, "%s%s", cli_api_base(), path);
    *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (getenv("XLLM_API_KEY")) {
        char auth[600];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", getenv("XLLM_API_KEY"));
        *hdr = curl_slist_append(*hdr, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    return c;
}

static xllm_status transport_error(CURLcode rc)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return xllm_fail(XLLM_ERR_CANCELLED, "interrupted");
    return xllm_fail(XLLM_ERR_IO, "could not reach the xllm server at %s: %s (is `xllm serve` running?)",
                     cli_api_base(), curl_easy_strerror(rc));
}

static void init_curl(void)
{
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

/* One request: body as compact JSON, the reply through write into s;
 * *status gets the HTTP status. Transport failures become statuses. */
static xllm_status perform(const char *method, const char *path, const json_t *body, api_sink *s,
                           size_t (*write)(char *, size_t, size_t, void *), long timeout_s, long *status)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdr = NULL;
    xllm_status st = XLLM_OK;
    CURLcode rc;
    CURL *c;
    init_curl();
    interrupted = 0;
    if (!(c = api_handle(method, path, text, &hdr))) {
        free(text);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "http client");
    }
    s->curl = c;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (timeout_s > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK && !s->stopped)
        st = transport_error(rc);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    free(text);
    return st;
}

xllm_status cli_api_call(const char *method, const char *path, const json_t *body, long *status, xllm_buf *out)
{
    api_sink s;
    memset(&s, 0, sizeof s);
    s.out = out;
    return perform(method, path, body, &s, sink_plain, 600, status);
}

/* The "error" of an error reply ({"error": "..."} or {"error": {"message": ...}}). */
static xllm_status reply_error(long status, const xllm_buf *b)
{
    json_t *j = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL, *e = j ? json_object_get(j, "error") : NULL;
    const char *msg = json_is_string(e) ? json_string_value(e)
                      : json_is_object(e) ? json_string_value(json_object_get(e, "message"))
                                          : NULL;
    xllm_status st = xllm_fail(status < 500 ? XLLM_ERR_INVALID_ARGUMENT : XLLM_ERR_INTERNAL, "%s (HTTP %ld)",
                               msg ? msg : "the server refused the request", status);
    json_decref(j);
    return st;
}

xllm_status cli_api_stream(const char *path, const json_t *body, int (*on_line)(void *user, json_t *line),
                           void *user)
{
    api_sink s;
    long status = 0;
    xllm_status st;
    memset(&s, 0, sizeof s);
    xllm_buf_init(&s.line, API_MAX_LINE);
    xllm_buf_init(&s.err, 1u << 20);
    s.on_line = on_line;
    s.user = user;
    st = perform("POST", path, body, &s, sink_stream, 0, &status);
    if (status >= 400)
        st = reply_error(status, &s.err);
    else if (st == XLLM_OK)
        deliver_line(&s); /* a last line without a newline */
    xllm_buf_free(&s.line);
    xllm_buf_free(&s.err);
    return st;
}

int cli_api_alive(void)
{
    xllm_buf b;
    long status = 0;
    int ok;
    xllm_buf_init(&b, 1u << 16);
    ok = cli_api_call("GET", "/api/version", NULL, &status, &b) == XLLM_OK && status == 200;
    xllm_buf_free(&b);
    xllm_clear_error();
    return ok;
}

/* host and port of the base address, for `serve --host --port`. */
static int split_base(char *host, size_t hcap, char *port, size_t pcap)
{
    const char *b = strstr(cli_api_base(), "://"), *colon;
    b = b ? b + 3 : cli_api_base();
    if (*b == '[') { /* [v6]:port */
        const char *end = strchr(b, ']');
        if (!end)
            return -1;
        snprintf(host, hcap, "%.*s", (int)(end - b - 1), b + 1);
        colon = strchr(end, ':');
    } else {
        colon = strrchr(b, ':');
        snprintf(host, hcap, "%.*s", colon ? (int)(colon - b) : (int)strlen(b), b);
    }
    snprintf(port, pcap, "%s", colon ? colon + 1 : API_DEFAULT_PORT);
    return 0;
}

static int is_local(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strncmp(host, "127.", 4);
}

static void exec_server(const char *self, const char *host, const char *port)
{
    char dir[1024], log[1100];
    const char *home = getenv("HOME");
    int fd;
    setsid();
    snprintf(dir, sizeof dir, "%s/.xllm", home ? home : "/tmp");
    mkdir(dir, 0755);
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/logs");
    mkdir(dir, 0755);
    snprintf(log, sizeof log, "%s/server.log", dir);
    if ((fd = open("/dev/null", O_RDONLY)) >= 0)
        dup2(fd, 0);
    if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    execl(self, self, "serve", "--host", host, "--port", port, (char *)NULL);
    _exit(127);
}

xllm_status cli_api_ensure_server(const char *self)
{
    char host[256], port[16];
    pid_t pid;
    if (cli_api_alive())
        return XLLM_OK;
    if (split_base(host, sizeof host, port, sizeof port) || !is_local(host))
        return xllm_fail(XLLM_ERR_IO, "no xllm server answers at %s", cli_api_base());
    if ((pid = fork()) < 0)
        return xllm_fail(XLLM_ERR_IO, "could not start a server: fork failed");
    if (pid == 0)
        exec_server(self, host, port);
    for (int i = 0; i < 300; i++) { /* 30 s */
        int wst;
        struct timespec ts = {0, 100000000};
        if (waitpid(pid, &wst, WNOHANG) == pid)
            return xllm_fail(XLLM_ERR_IO, "the xllm server started for %s exited (status %d); see ~/.xllm/logs/server.log",
                             cli_api_base(), WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
        if (cli_api_alive())
            return XLLM_OK;
        nanosleep(&ts, NULL);
    }
    return xllm_fail(XLLM_ERR_TIMEOUT, "the xllm server started at %s did not answer within 30 s", cli_api_base());
}
