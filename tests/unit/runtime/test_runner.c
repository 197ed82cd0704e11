/* test_runner.c - end to end through real runner processes (`xllm runner`
 * from $XLLM_BIN, the demo model): 16 concurrent requests equal to their
 * solo greedy outputs, prefix-cache hits, cancellation, a client killed
 * mid-stream while another is served, malformed and unknown-version frames
 * on a raw socket (error frame back, runner survives), runner death failing
 * pending requests, shutdown / SIGTERM / parent death, and every process
 * reaped on every path. The runners' logs go to /dev/null unless
 * XLLM_TEST_RUNNER_LOG names a file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../test.h"
#include "base/alloc.h"
#include "runtime/runner_client.h"
#include "runtime/runner_proto.h"

#define DEMO "models/kjv-demo.gguf"
#define MAXTOK 256

/* What one request streamed (filled on the client's reader thread). */
typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t toks[MAXTOK];
    int32_t n;
    char text[4096];
    size_t len;
    int done;
    xllm_finish finish;
    char error[256];
    int32_t n_prompt, n_cached, n_generated;
    float logprob0;
    int32_t n_top0;
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_destroy(rec *r)
{
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void on_ev(void *user, const xllm_gen_event *ev)
{
    rec *r = user;
    pthread_mutex_lock(&r->mu);
    if (ev->type == XLLM_EVENT_FINAL) {
        r->done = 1;
        r->finish = ev->finish;
        r->n_prompt = ev->n_prompt;
        r->n_cached = ev->n_cached;
        r->n_generated = ev->n_generated;
        snprintf(r->error, sizeof r->error, "%s", ev->error ? ev->error : "");
        pthread_cond_broadcast(&r->cv);
    } else if (!ev->is_prompt) {
        if (r->n == 0) {
            r->logprob0 = ev->logprob;
            r->n_top0 = ev->n_top;
        }
        if (r->n < MAXTOK)
            r->toks[r->n++] = ev->token;
        if (ev->text_len && r->len + ev->text_len < sizeof r->text) {
            memcpy(r->text + r->len, ev->text, ev->text_len);
            r->len += ev->text_len;
        }
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Wait until the request is done (or has min_tokens tokens when > 0). */
static int rec_wait(rec *r, int min_tokens, int timeout_ms)
{
    struct timespec dl;
    int ok;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&r->mu);
    while (!r->done && !(min_tokens > 0 && r->n >= min_tokens))
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT)
            break;
    ok = r->done || (min_tokens > 0 && r->n >= min_tokens);
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static const char *bin(void)
{
    const char *b = getenv("XLLM_BIN");
    return b && access(b, X_OK) == 0 && access(DEMO, R_OK) == 0 ? b : NULL;
}

static void sock_path(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/xllm-test-%d-%s.sock", (int)getpid(), tag);
}

/* Spawn a runner on the demo model and connect to it. */
static int start(const char *tag, int max_running, xllm_runner_proc *proc, xllm_rclient **c)
{
    xllm_runner_spawn_params sp;
    char path[108];
    memset(&sp, 0, sizeof sp);
    sock_path(path, sizeof path, tag);
    sp.xllm_bin = bin();
    sp.model_path = DEMO;
    sp.socket_path = path;
    sp.n_threads = 2;
    sp.kv_type = XLLM_KV_F32;
    sp.kv_blocks = 400;
    sp.max_running = max_running;
    sp.step_tokens = 64; /* long prompts arrive in several chunks */
    sp.log_path = getenv("XLLM_TEST_RUNNER_LOG") ? getenv("XLLM_TEST_RUNNER_LOG") : "/dev/null";
    *c = NULL;
    if (xllm_runner_spawn(&sp, proc) != XLLM_OK)
        return 0;
    if (xllm_rclient_connect(path, 30000, c) != XLLM_OK) {
        test_fail(__FILE__, __LINE__, "connect: %s", xllm_last_error());
        kill(proc->pid, SIGKILL);
        xllm_runner_reap(proc, 1000);
        return 0;
    }
    return 1;
}

/* Shut down, reap, check the exit code and that the socket file is gone. */
static void stop(xllm_runner_proc *proc, xllm_rclient *c, int want_code)
{
    char path[108];
    snprintf(path, sizeof path, "%s", proc->socket_path);
    if (c && xllm_rclient_alive(c))
        CHECK_OK(xllm_rclient_shutdown(c));
    int code = xllm_runner_reap(proc, 10000);
    CHECK_EQ_INT(code, want_code);
    CHECK(access(path, F_OK) != 0);
    xllm_rclient_close(c);
}

static const char *const prompts[] = {
    "In the beginning",
    "And the LORD said unto Moses,",
    "Blessed are the meek:",
    "The LORD is my shepherd; I shall not want.",
    "And it came to pass",
    "For God so loved the world,",
    "Then Jesus said unto them,",
    "And Abraham begat Isaac;",
    "The heavens declare the glory of God;",
    "Now the serpent was more subtil",
    "Honour thy father and thy mother",
    "And the king of Egypt spake",
    "Thou shalt not",
    "And David arose, and went",
    "O give thanks unto the LORD; for he is good:",
    "And the children of Israel journeyed from Rameses to Succoth, about six hundred thousand",
};

static xllm_runner_request text_req(const char *text, int max_tokens)
{
    xllm_runner_request r;
    memset(&r, 0, sizeof r);
    r.prompt_text = text;
    r.prompt_len = strlen(text);
    r.add_special = 1;
    r.params = xllm_gen_params_default();
    r.params.max_tokens = max_tokens;
    return r;
}

TEST(runner_e2e_hello_and_stats)
{
    xllm_runner_proc proc;
    xllm_rclient *c;
    xllm_sched_stats s;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("hello", 16, &proc, &c))
        return;
    const xllm_runner_info *info = xllm_rclient_info(c);
    CHECK_EQ_INT(info->protocol, XLLM_RUNNER_PROTOCOL);
    CHECK_EQ_STR(info->engine, "cpu");
    CHECK_EQ_STR(info->arch, "llama");
    CHECK_EQ_STR(info->model_path, DEMO);
    CHECK_EQ_INT(info->n_vocab, 8192);
    CHECK_EQ_INT(info->n_blocks, 400);
    CHECK_EQ_INT(info->max_running, 16);
    CHECK_EQ_INT(info->is_encoder, 0);
    CHECK_EQ_INT(info->pid, proc.pid);
    CHECK(info->n_ctx > 0 && info->n_ctx <= info->n_ctx_train);
    CHECK(info->weight_bytes > 1000000);
    CHECK_OK(xllm_rclient_stats(c, &s, 5000));
    CHECK_EQ_INT(s.blocks_total, 400);
    CHECK_EQ_INT(s.running, 0);
    /* embeddings from a decoder: a clear refusal, the connection stays */
    const char *texts[] = {"x"};
    float *emb = NULL;
    int32_t dim = 0, nt[1];
    CHECK_EQ_INT(xllm_rclient_embed(c, texts, NULL, NULL, 1, 0, &emb, &dim, nt, 5000), XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "not an embedding model") != NULL);
    CHECK(emb == NULL);
    /* refusals come back as a status with the runner's message, no callback */
    xllm_runner_request r = text_req("x", 4);
    const int32_t bad[] = {1, 99999};
    rec q;
    uint64_t id = 7;
    rec_init(&q);
    r.prompt_text = NULL;
    r.prompt_tokens = bad;
    r.n_prompt_tokens = 2;
    CHECK_EQ_INT(xllm_rclient_submit(c, &r, on_ev, &q, &id), XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "outside the vocabulary") != NULL);
    CHECK_EQ_INT(id, 0);
    r.grammar = "root ::= \"a\" ("; /* malformed: refused with its position */
    r.prompt_tokens = bad;
    r.n_prompt_tokens = 1;
    CHECK_EQ_INT(xllm_rclient_submit(c, &r, on_ev, &q, &id), XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "1:") != NULL);
    CHECK(xllm_rclient_alive(c));
    CHECK_EQ_INT(xllm_rclient_cancel(c, 12345), XLLM_ERR_NOT_FOUND);
    CHECK_EQ_INT(q.done, 0);
    rec_destroy(&q);
    stop(&proc, c, 0);
}

TEST(runner_e2e_16_concurrent_equal_solo)
{
    static rec solo[16], both[16];
    xllm_runner_proc proc;
    xllm_rclient *c;
    uint64_t ids[16];
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("conc", 16, &proc, &c))
        return;
    for (int i = 0; i < 16; i++) { /* one at a time */
        xllm_runner_request r = text_req(prompts[i], 8 + i);
        rec_init(&solo[i]);
        CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &solo[i], &ids[i]));
        CHECK(rec_wait(&solo[i], 0, 30000));
    }
    for (int i = 0; i < 16; i++) { /* all together, with logprobs on some */
        xllm_runner_request r = text_req(prompts[i], 8 + i);
        r.params.logprobs = i % 2;
        r.params.top_logprobs = i % 4 == 1 ? 5 : 0;
        rec_init(&both[i]);
        CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &both[i], &ids[i]));
    }
    for (int i = 0; i < 16; i++) {
        CHECK(rec_wait(&both[i], 0, 60000));
        CHECK_EQ_INT(solo[i].finish == XLLM_FINISH_LENGTH || solo[i].finish == XLLM_FINISH_STOP, 1);
        CHECK_EQ_INT(both[i].finish, solo[i].finish);
        CHECK_EQ_INT(both[i].n, solo[i].n);
        CHECK_MSG(both[i].n == solo[i].n && !memcmp(both[i].toks, solo[i].toks, sizeof(int32_t) * (size_t)solo[i].n),
                  "request %d: batched tokens differ from solo", i);
        CHECK_EQ_INT(both[i].len, solo[i].len);
        CHECK(both[i].len == solo[i].len && !memcmp(both[i].text, solo[i].text, solo[i].len));
        CHECK_EQ_INT(both[i].n_generated, solo[i].n);
        if (i % 2)
            CHECK(both[i].logprob0 <= 0 && !isnan(both[i].logprob0));
        CHECK_EQ_INT(both[i].n_top0, i % 4 == 1 ? 5 : 0);
    }
    CHECK(solo[0].len > 0);
    for (int i = 0; i < 16; i++) {
        rec_destroy(&solo[i]);
        rec_destroy(&both[i]);
    }
    stop(&proc, c, 0);
}

TEST(runner_e2e_prefix_cache_hits)
{
    xllm_runner_proc proc;
    xllm_rclient *c;
    xllm_sched_stats s0, s1;
    int32_t toks[80];
    rec a, b;
    uint64_t id;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("prefix", 4, &proc, &c))
        return;
    for (int i = 0; i < 80; i++)
        toks[i] = 100 + (i * 37) % 5000; /* 80 tokens: 5 full blocks */
    xllm_runner_request r = text_req("", 4);
    r.prompt_text = NULL;
    r.prompt_tokens = toks;
    r.n_prompt_tokens = 70;
    rec_init(&a);
    rec_init(&b);
    CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &a, &id));
    CHECK(rec_wait(&a, 0, 30000));
    CHECK_EQ_INT(a.n_prompt, 70);
    CHECK_EQ_INT(a.n_cached, 0);
    CHECK_OK(xllm_rclient_stats(c, &s0, 5000));
    r.n_prompt_tokens = 80; /* same first 70 tokens, then more */
    CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &b, &id));
    CHECK(rec_wait(&b, 0, 30000));
    CHECK_OK(xllm_rclient_stats(c, &s1, 5000));
    CHECK_EQ_INT(b.n_prompt, 80);
    CHECK_EQ_INT(b.n_cached, 64); /* the 4 full blocks of the shared 70 */
    CHECK_EQ_INT(s1.cached_tokens - s0.cached_tokens, 64);
    CHECK(s1.prefix_hits - s0.prefix_hits >= 4);
    CHECK_EQ_INT(s1.prompt_tokens - s0.prompt_tokens, 80);
    CHECK_EQ_INT(b.n_generated, 4);
    rec_destroy(&a);
    rec_destroy(&b);
    stop(&proc, c, 0);
}

TEST(runner_e2e_cancel)
{
    xllm_runner_proc proc;
    xllm_rclient *c;
    rec q;
    uint64_t id;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("cancel", 4, &proc, &c))
        return;
    xllm_runner_request r = text_req("In the beginning", -1);
    r.params.ignore_eos = 1; /* runs until the context is full unless cancelled */
    rec_init(&q);
    CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &q, &id));
    CHECK(rec_wait(&q, 3, 30000));
    CHECK_OK(xllm_rclient_cancel(c, id));
    CHECK(rec_wait(&q, 0, 30000));
    CHECK_EQ_INT(q.finish, XLLM_FINISH_CANCELLED);
    CHECK(q.n_generated >= 3 && q.n_generated < xllm_rclient_info(c)->n_ctx - 10);
    rec_destroy(&q);
    stop(&proc, c, 0);
}

TEST(runner_e2e_client_killed_mid_stream)
{
    xllm_runner_proc proc;
    xllm_rclient *a, *b;
    xllm_sched_stats s;
    rec qa, qb, solo;
    uint64_t id;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("kill", 4, &proc, &a))
        return;
    CHECK_OK(xllm_rclient_connect(proc.socket_path, 5000, &b));
    xllm_runner_request ra = text_req("In the beginning", -1), rb = text_req(prompts[3], 24);
    ra.params.ignore_eos = 1;
    rec_init(&qa);
    rec_init(&qb);
    rec_init(&solo);
    CHECK_OK(xllm_rclient_submit(b, &rb, on_ev, &solo, &id)); /* b's output alone first */
    CHECK(rec_wait(&solo, 0, 30000));
    CHECK_OK(xllm_rclient_submit(a, &ra, on_ev, &qa, &id));
    CHECK(rec_wait(&qa, 2, 30000));
    CHECK_OK(xllm_rclient_submit(b, &rb, on_ev, &qb, &id));
    CHECK(rec_wait(&qb, 1, 30000));
    xllm_rclient_close(a); /* its socket closes mid-stream */
    CHECK(rec_wait(&qa, 0, 100));
    CHECK_EQ_INT(qa.finish, XLLM_FINISH_ERROR); /* the closed client's own view */
    CHECK(rec_wait(&qb, 0, 30000));
    CHECK_EQ_INT(qb.finish, solo.finish);
    CHECK(qb.n == solo.n && !memcmp(qb.toks, solo.toks, sizeof(int32_t) * (size_t)solo.n));
    /* a's request was cancelled in the runner: nothing left running */
    for (int i = 0; i < 200; i++) {
        CHECK_OK(xllm_rclient_stats(b, &s, 5000));
        if (s.running == 0 && s.waiting == 0)
            break;
        usleep(10000);
    }
    CHECK_EQ_INT(s.running, 0);
    CHECK_EQ_INT(s.waiting, 0);
    CHECK_EQ_INT(s.requests_done, 3);
    rec_destroy(&qa);
    rec_destroy(&qb);
    rec_destroy(&solo);
    stop(&proc, b, 0);
}

/* ---- raw socket: frames by hand ---- */

static int raw_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one frame (header + payload into buf); returns its type, 0 on EOF or timeout. */
static int raw_read(int fd, uint8_t *buf, size_t cap, uint32_t *len)
{
    size_t got = 0, need = XLLM_RPROTO_HEADER_SIZE;
    while (got < need) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            return 0;
        ssize_t n = recv(fd, buf + got, need - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
        if (got == XLLM_RPROTO_HEADER_SIZE) {
            *len = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 | (uint32_t)buf[7] << 24;
            if (XLLM_RPROTO_HEADER_SIZE + (size_t)*len > cap)
                return 0;
            need += *len;
        }
    }
    return buf[3];
}

static void raw_send(int fd, int version, int type, const char *payload, size_t len)
{
    uint8_t h[8] = {XLLM_RPROTO_MAGIC0, XLLM_RPROTO_MAGIC1, (uint8_t)version, (uint8_t)type,
                    (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    CHECK(send(fd, h, 8, MSG_NOSIGNAL) == 8);
    if (len)
        CHECK(send(fd, payload, len, MSG_NOSIGNAL) == (ssize_t)len);
}

static int expect_error(int fd, xllm_status want)
{
    static uint8_t buf[1 << 16];
    uint32_t len;
    int has_tag, t;
    uint64_t tag;
    xllm_status st;
    char msg[256];
    while ((t = raw_read(fd, buf, sizeof buf, &len)) != 0 && t != XLLM_RF_ERROR && t != XLLM_RF_SUBMIT_REPLY) {
    }
    if (t == XLLM_RF_SUBMIT_REPLY) {
        uint64_t id;
        if (xllm_rproto_get_submit_reply(buf + 8, len, &tag, &id, &st, msg, sizeof msg) != XLLM_OK)
            return 0;
        return st == want;
    }
    if (t != XLLM_RF_ERROR || xllm_rproto_get_error(buf + 8, len, &has_tag, &tag, &st, msg, sizeof msg) != XLLM_OK)
        return 0;
    CHECK_MSG(st == want, "error frame: %s: %s", xllm_status_str(st), msg);
    return st == want;
}

TEST(runner_e2e_malformed_frames)
{
    static uint8_t buf[1 << 16];
    xllm_runner_proc proc;
    xllm_rclient *c;
    uint32_t len;
    rec q;
    uint64_t id;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("malformed", 4, &proc, &c))
        return;
    int fd = raw_connect(proc.socket_path);
    CHECK(fd >= 0);
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), XLLM_RF_HELLO);
    /* bad JSON in a well-framed submit: refused, the connection stays */
    raw_send(fd, XLLM_RUNNER_PROTOCOL, XLLM_RF_SUBMIT, "{\"tag\":1,\"text\":", 16);
    CHECK(expect_error(fd, XLLM_ERR_FORMAT));
    raw_send(fd, XLLM_RUNNER_PROTOCOL, XLLM_RF_CANCEL, "[]", 2);
    CHECK(expect_error(fd, XLLM_ERR_FORMAT));
    /* an unknown frame type: skipped with an error */
    raw_send(fd, XLLM_RUNNER_PROTOCOL, 99, "{\"tag\":5}", 9);
    CHECK(expect_error(fd, XLLM_ERR_UNSUPPORTED));
    raw_send(fd, XLLM_RUNNER_PROTOCOL, XLLM_RF_TOKEN, "\x01\x02", 2); /* runner -> client type */
    CHECK(expect_error(fd, XLLM_ERR_UNSUPPORTED));
    raw_send(fd, XLLM_RUNNER_PROTOCOL, XLLM_RF_STATS, "{\"tag\":2}", 9); /* still served */
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), XLLM_RF_STATS_REPLY);
    /* an unknown version: error frame, then the connection is closed */
    raw_send(fd, XLLM_RUNNER_PROTOCOL + 1, XLLM_RF_STATS, "{}", 2);
    CHECK(expect_error(fd, XLLM_ERR_ABI_MISMATCH));
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), 0);
    close(fd);
    /* garbage (an HTTP request on the socket) and an oversized length */
    fd = raw_connect(proc.socket_path);
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), XLLM_RF_HELLO);
    CHECK(send(fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL) == 18);
    CHECK(expect_error(fd, XLLM_ERR_FORMAT));
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), 0);
    close(fd);
    fd = raw_connect(proc.socket_path);
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), XLLM_RF_HELLO);
    uint8_t huge[8] = {XLLM_RPROTO_MAGIC0, XLLM_RPROTO_MAGIC1, XLLM_RUNNER_PROTOCOL, XLLM_RF_SUBMIT, 0xff, 0xff, 0xff, 0x7f};
    CHECK(send(fd, huge, 8, MSG_NOSIGNAL) == 8);
    CHECK(expect_error(fd, XLLM_ERR_LIMIT));
    close(fd);
    /* a client that vanishes with a half frame sent */
    fd = raw_connect(proc.socket_path);
    CHECK(send(fd, huge, 5, MSG_NOSIGNAL) == 5);
    close(fd);
    /* the runner still serves the well-behaved client */
    xllm_runner_request r = text_req("In the beginning", 5);
    rec_init(&q);
    CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &q, &id));
    CHECK(rec_wait(&q, 0, 30000));
    CHECK_EQ_INT(q.n_generated, 5);
    rec_destroy(&q);
    stop(&proc, c, 0);
}

TEST(runner_e2e_runner_death_fails_pending)
{
    xllm_runner_proc proc;
    xllm_rclient *c;
    rec q[3];
    uint64_t id;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("death", 2, &proc, &c))
        return;
    xllm_runner_request r = text_req("In the beginning", -1);
    r.params.ignore_eos = 1;
    for (int i = 0; i < 3; i++) { /* two running, one waiting */
        rec_init(&q[i]);
        CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &q[i], &id));
    }
    CHECK(rec_wait(&q[0], 2, 30000));
    kill(proc.pid, SIGKILL);
    for (int i = 0; i < 3; i++) {
        CHECK(rec_wait(&q[i], 0, 10000));
        CHECK_EQ_INT(q[i].finish, XLLM_FINISH_ERROR);
        CHECK(strstr(q[i].error, "runner exited") != NULL);
    }
    CHECK(!xllm_rclient_alive(c));
    CHECK_EQ_INT(xllm_rclient_submit(c, &r, on_ev, &q[0], &id), XLLM_ERR_IO);
    CHECK(strstr(xllm_last_error(), "runner exited") != NULL);
    xllm_sched_stats s;
    CHECK_EQ_INT(xllm_rclient_stats(c, &s, 1000), XLLM_ERR_IO);
    CHECK_EQ_INT(xllm_runner_reap(&proc, 5000), -SIGKILL);
    CHECK(access(proc.socket_path, F_OK) != 0); /* reap removed the stale socket */
    xllm_rclient_close(c);
    for (int i = 0; i < 3; i++)
        rec_destroy(&q[i]);
}

TEST(runner_e2e_shutdown_and_sigterm_cancel)
{
    xllm_runner_proc proc;
    xllm_rclient *c;
    rec q;
    uint64_t id;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    for (int how = 0; how < 2; how++) {
        if (!start(how ? "term" : "shut", 2, &proc, &c))
            return;
        xllm_runner_request r = text_req("In the beginning", -1);
        r.params.ignore_eos = 1;
        rec_init(&q);
        CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &q, &id));
        CHECK(rec_wait(&q, 2, 30000));
        if (how)
            kill(proc.pid, SIGTERM);
        else
            CHECK_OK(xllm_rclient_shutdown(c));
        CHECK(rec_wait(&q, 0, 10000));
        CHECK_EQ_INT(q.finish, XLLM_FINISH_CANCELLED); /* graceful: the final event arrives */
        CHECK_EQ_INT(xllm_runner_reap(&proc, 10000), 0);
        CHECK(access(proc.socket_path, F_OK) != 0);
        xllm_rclient_close(c);
        rec_destroy(&q);
    }
}

TEST(runner_e2e_exits_when_parent_dies)
{
    xllm_runner_spawn_params sp;
    char path[108];
    int pipefd[2], status;
    pid_t mid, runner = 0;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    /* orphans are re-parented to this process, so it can reap the runner */
    CHECK_EQ_INT(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    CHECK_EQ_INT(pipe(pipefd), 0);
    sock_path(path, sizeof path, "orphan");
    memset(&sp, 0, sizeof sp);
    sp.xllm_bin = bin();
    sp.model_path = DEMO;
    sp.socket_path = path;
    sp.log_path = "/dev/null";
    sp.n_threads = 1;
    sp.kv_blocks = 64;
    mid = fork();
    if (mid == 0) { /* the middle process: spawn, wait for the socket, report, die */
        xllm_runner_proc p;
        xllm_rclient *c = NULL;
        if (xllm_runner_spawn(&sp, &p) != XLLM_OK || xllm_rclient_connect(path, 30000, &c) != XLLM_OK)
            _exit(1);
        if (write(pipefd[1], &p.pid, sizeof p.pid) != sizeof p.pid)
            _exit(1);
        _exit(0); /* no close, no reap: the runner is orphaned with a live connection */
    }
    close(pipefd[1]);
    CHECK(read(pipefd[0], &runner, sizeof runner) == sizeof runner);
    close(pipefd[0]);
    CHECK(waitpid(mid, &status, 0) == mid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (runner > 0) {
        xllm_runner_proc p = {runner, ""};
        snprintf(p.socket_path, sizeof p.socket_path, "%s", path);
        CHECK_EQ_INT(xllm_runner_reap(&p, 10000), 0); /* exited by itself, cleanly */
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(runner_e2e_spawn_failures_are_statuses)
{
    xllm_runner_spawn_params sp;
    xllm_runner_proc proc;
    xllm_rclient *c = NULL;
    char path[108];
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    memset(&sp, 0, sizeof sp);
    sock_path(path, sizeof path, "bad");
    sp.xllm_bin = bin();
    sp.model_path = "/nonexistent/model.gguf";
    sp.socket_path = path;
    sp.log_path = "/dev/null";
    CHECK_OK(xllm_runner_spawn(&sp, &proc));
    /* the runner fails to load and exits 1; connect gives up with a status */
    CHECK(xllm_rclient_connect(path, 300, &c) != XLLM_OK);
    CHECK(c == NULL);
    CHECK_EQ_INT(xllm_runner_reap(&proc, 10000), 1);
    sp.kv_type = 99;
    CHECK_EQ_INT(xllm_runner_spawn(&sp, &proc), XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(xllm_rclient_connect("/tmp/no-such-xllm.sock", 50, &c), XLLM_ERR_TIMEOUT);
}

static float *load_f32(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *v = f ? xllm_malloc(n * sizeof(float)) : NULL;
    if (v && fread(v, sizeof(float), n, f) != n) {
        xllm_free(v);
        v = NULL;
    }
    if (f)
        fclose(f);
    return v;
}

/* Encoder: embeddings of several inputs in one request, against the
 * float64 reference of tests/fixtures/models/bert (tools/arch_ref.py). */
TEST(runner_e2e_embed_encoder)
{
    const char *dir = "tests/fixtures/models/bert";
    xllm_runner_spawn_params sp;
    xllm_runner_proc proc;
    xllm_rclient *c = NULL;
    char path[108];
    float *emb = NULL;
    int32_t dim = 0, nt[3];
    if (!bin() || access(dir, R_OK) != 0) {
        test_skip("needs XLLM_BIN and the bert fixture");
        return;
    }
    memset(&sp, 0, sizeof sp);
    sock_path(path, sizeof path, "embed");
    sp.xllm_bin = bin();
    sp.model_path = dir;
    sp.socket_path = path;
    sp.log_path = "/dev/null";
    sp.n_threads = 1;
    sp.kv_blocks = 8;
    sp.step_tokens = 32; /* one forward call: at most 32 tokens per input */
    CHECK_OK(xllm_runner_spawn(&sp, &proc));
    CHECK_OK(xllm_rclient_connect(path, 30000, &c));
    if (!c) {
        xllm_runner_reap(&proc, 1000);
        return;
    }
    CHECK_EQ_INT(xllm_rclient_info(c)->is_encoder, 1);
    CHECK_EQ_INT(xllm_rclient_info(c)->n_embd, 64);
    /* the token ids of the fixture's three cases, from its reference.json */
    static int32_t cases[3][64];
    const int32_t *toks[3];
    int32_t n_in[3];
    int n_case = 0;
    json_t *ref_js = json_load_file("tests/fixtures/models/bert/reference.json", 0, NULL), *cs, *v;
    size_t ci, k;
    cs = json_object_get(ref_js, "cases");
    json_array_foreach(cs, ci, v)
    {
        json_t *tk = json_object_get(v, "tokens"), *t;
        if (n_case == 3)
            break;
        n_in[n_case] = 0;
        json_array_foreach(tk, k, t)
        {
            if (k < 64)
                cases[n_case][n_in[n_case]++] = (int32_t)json_integer_value(t);
        }
        toks[n_case] = cases[n_case];
        n_case++;
    }
    json_decref(ref_js);
    CHECK_EQ_INT(n_case, 3);
    CHECK_OK(xllm_rclient_embed(c, NULL, toks, n_in, 3, 0, &emb, &dim, nt, 30000));
    CHECK_EQ_INT(dim, 64);
    for (int i = 0; emb && i < 3; i++) {
        char ref_path[128];
        snprintf(ref_path, sizeof ref_path, "%s/emb-%d.f32", dir, i);
        float *ref = load_f32(ref_path, 64);
        double num = 0, den = 0;
        CHECK_EQ_INT(nt[i], n_in[i]);
        for (int k = 0; ref && k < 64; k++) {
            double d = (double)emb[i * 64 + k] - ref[k];
            num += d * d;
            den += (double)ref[k] * ref[k];
        }
        CHECK_MSG(ref && sqrt(num / den) < 1e-4, "case %d: rel L2 %g", i, ref ? sqrt(num / den) : -1.0);
        xllm_free(ref);
    }
    xllm_free(emb);
    emb = NULL;
    /* text input (tokenized by the runner, [CLS] ... [SEP]) */
    const char *texts[] = {"hello world"};
    CHECK_OK(xllm_rclient_embed(c, texts, NULL, NULL, 1, 0, &emb, &dim, nt, 30000));
    CHECK(nt[0] >= 3);
    xllm_free(emb);
    emb = NULL;
    /* longer than one forward call: refused, or cut with truncate */
    static int32_t longer[40];
    const int32_t *lp[1] = {longer};
    int32_t ln[1] = {40};
    for (int i = 0; i < 40; i++)
        longer[i] = 5 + i;
    CHECK_EQ_INT(xllm_rclient_embed(c, NULL, lp, ln, 1, 0, &emb, &dim, nt, 30000), XLLM_ERR_LIMIT);
    CHECK(emb == NULL);
    CHECK_OK(xllm_rclient_embed(c, NULL, lp, ln, 1, 1, &emb, &dim, nt, 30000));
    CHECK_EQ_INT(nt[0], 32);
    xllm_free(emb);
    /* generation on an encoder: refused */
    xllm_runner_request r = text_req("x", 4);
    rec q;
    uint64_t id;
    rec_init(&q);
    CHECK_EQ_INT(xllm_rclient_submit(c, &r, on_ev, &q, &id), XLLM_ERR_UNSUPPORTED);
    rec_destroy(&q);
    stop(&proc, c, 0);
}

/* A client that stops reading: once its unsent output passes
 * --client-buffer the runner drops it and cancels its requests, and another
 * client is served throughout. The output is made by 16 streaming requests
 * plus a flood of stats requests (their replies pile up at once, so the test
 * does not wait for enough tokens to fill the socket buffers). */
TEST(runner_e2e_slow_reader_dropped)
{
    static uint8_t buf[1 << 16];
    char path[108], parent[16];
    xllm_runner_proc proc = {0, ""};
    xllm_rclient *b = NULL;
    xllm_sched_stats s;
    uint32_t len;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    sock_path(path, sizeof path, "slow");
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    proc.pid = fork();
    if (proc.pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (getenv("XLLM_TEST_RUNNER_LOG"))
            fd = open(getenv("XLLM_TEST_RUNNER_LOG"), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        execl(bin(), bin(), "runner", "--socket", path, "--model", DEMO, "--threads", "2", "--kv-type", "f32",
              "--kv-blocks", "400", "--step-tokens", "64", "--client-buffer", "16K", "--parent-pid", parent, (char *)NULL);
        _exit(127);
    }
    snprintf(proc.socket_path, sizeof proc.socket_path, "%s", path);
    CHECK_OK(xllm_rclient_connect(path, 30000, &b));
    if (!b) {
        xllm_runner_reap(&proc, 1000);
        return;
    }
    int fd = raw_connect(path);
    CHECK_EQ_INT(raw_read(fd, buf, sizeof buf, &len), XLLM_RF_HELLO);
    xllm_buf out;
    xllm_buf_init(&out, 0);
    for (int i = 0; i < 16; i++) {
        int32_t toks[8] = {1, 100 + i, 200, 300, 400, 500, 600, 700};
        xllm_runner_request r = text_req("", -1);
        r.prompt_text = NULL;
        r.prompt_tokens = toks;
        r.n_prompt_tokens = 8;
        r.params.ignore_eos = 1; /* would run to the end of the context */
        CHECK_OK(xllm_rproto_put_submit(&out, (uint64_t)i + 1, &r));
    }
    CHECK(send(fd, out.data, out.len, MSG_NOSIGNAL) == (ssize_t)out.len);
    CHECK(raw_read(fd, buf, sizeof buf, &len) == XLLM_RF_SUBMIT_REPLY); /* streaming has begun */
    out.len = 0;
    for (int i = 0; i < 2000; i++) /* ~0.8 MB of replies, never read */
        CHECK_OK(xllm_rproto_put_stats_req(&out, 100 + (uint64_t)i));
    CHECK(send(fd, out.data, out.len, MSG_NOSIGNAL) == (ssize_t)out.len);
    xllm_buf_free(&out);
    for (int i = 0; i < 1000; i++) {
        CHECK_OK(xllm_rclient_stats(b, &s, 30000));
        if (s.requests_done == 16 && s.running == 0 && s.waiting == 0)
            break;
        usleep(20000);
    }
    CHECK_EQ_INT(s.requests_done, 16); /* all 16 cancelled */
    CHECK_EQ_INT(s.running, 0);
    CHECK(s.generated_tokens < 16 * 100); /* cut short, not run to the end of the context */
    /* what reached fd ends in EOF (the runner closed it), without the 16 finals */
    int finals = 0, t;
    while ((t = raw_read(fd, buf, sizeof buf, &len)) != 0)
        finals += t == XLLM_RF_FINAL;
    CHECK(finals < 16);
    close(fd);
    /* the other client is still served */
    xllm_runner_request r = text_req("In the beginning", 5);
    rec q;
    uint64_t id;
    rec_init(&q);
    CHECK_OK(xllm_rclient_submit(b, &r, on_ev, &q, &id));
    CHECK(rec_wait(&q, 0, 30000));
    CHECK_EQ_INT(q.n_generated, 5);
    rec_destroy(&q);
    stop(&proc, b, 0);
}

/* A callback may cancel (its own request here); a synchronous call from a
 * callback is refused instead of deadlocking the reader thread. */
typedef struct self_cancel {
    rec r;
    xllm_rclient *c;
    uint64_t id;
    xllm_status cancel_st, submit_st;
    int tried;
} self_cancel;

static void on_ev_cancel(void *user, const xllm_gen_event *ev)
{
    self_cancel *sc = user;
    if (ev->type == XLLM_EVENT_TOKEN && !sc->tried && sc->r.n >= 2) {
        xllm_runner_request r = text_req("x", 1);
        uint64_t id;
        sc->tried = 1;
        sc->submit_st = xllm_rclient_submit(sc->c, &r, on_ev, &sc->r, &id);
        sc->cancel_st = xllm_rclient_cancel(sc->c, ev->request_id);
    }
    on_ev(&sc->r, ev);
}

TEST(runner_e2e_cancel_from_callback)
{
    static self_cancel sc;
    xllm_runner_proc proc;
    xllm_rclient *c;
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("cbcancel", 2, &proc, &c))
        return;
    xllm_runner_request r = text_req("In the beginning", -1);
    r.params.ignore_eos = 1;
    rec_init(&sc.r);
    sc.c = c;
    CHECK_OK(xllm_rclient_submit(c, &r, on_ev_cancel, &sc, &sc.id));
    CHECK(rec_wait(&sc.r, 0, 30000));
    CHECK_EQ_INT(sc.tried, 1);
    CHECK_EQ_INT(sc.submit_st, XLLM_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sc.cancel_st, XLLM_OK);
    CHECK_EQ_INT(sc.r.finish, XLLM_FINISH_CANCELLED);
    rec_destroy(&sc.r);
    stop(&proc, c, 0);
}

/* A grammar travels to the runner's scheduler: every output fits it, greedy
 * and sampled, batched together. */
TEST(runner_e2e_grammar)
{
    static rec q[4];
    xllm_runner_proc proc;
    xllm_rclient *c;
    uint64_t id;
    const char *gbnf = "root ::= \" \" (\"Amen\" | \"Selah\") \", \" [a-z]+ (\" \" [a-z]+){1,3} \".\"\n";
    if (!bin()) {
        test_skip("needs XLLM_BIN and " DEMO);
        return;
    }
    if (!start("grammar", 4, &proc, &c))
        return;
    for (int i = 0; i < 4; i++) {
        xllm_runner_request r = text_req("And the LORD said", 40);
        r.params.grammar = gbnf; /* through params for two, the request slot for two */
        if (i & 1) {
            r.params.grammar = NULL;
            r.grammar = gbnf;
        }
        r.params.sampling.temperature = i >= 2 ? 1.0f : 0.0f;
        r.params.sampling.seed = (uint64_t)i;
        rec_init(&q[i]);
        CHECK_OK(xllm_rclient_submit(c, &r, on_ev, &q[i], &id));
    }
    for (int i = 0; i < 4; i++) {
        const char *t = q[i].text, *p;
        int words = 0;
        CHECK(rec_wait(&q[i], 0, 30000));
        q[i].text[q[i].len] = 0;
        CHECK_MSG(q[i].finish == XLLM_FINISH_STOP, "request %d finished %d: '%s'", i, q[i].finish, t);
        CHECK_MSG(!strncmp(t, " Amen, ", 7) || !strncmp(t, " Selah, ", 8), "request %d: '%s'", i, t);
        p = strchr(t, ',');
        for (p = p ? p + 2 : t; *p && *p != '.'; p++) {
            CHECK_MSG((*p >= 'a' && *p <= 'z') || *p == ' ', "request %d: '%s'", i, t);
            words += *p == ' ';
        }
        CHECK_MSG(*p == '.' && p[1] == 0 && words >= 1 && words <= 3, "request %d: '%s'", i, t);
    }
    CHECK(q[0].len == q[1].len && !memcmp(q[0].text, q[1].text, q[0].len)); /* both greedy: same text */
    for (int i = 0; i < 4; i++)
        rec_destroy(&q[i]);
    stop(&proc, c, 0);
}
