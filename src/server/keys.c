/* keys.c - API keys with per-minute request and token buckets and a
 * priority class (keys.h). */
#include "server/keys.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"

typedef struct key_state {
    srv_key_cfg cfg;
    double req_level, tok_level; /* bucket contents */
    double t_req, t_tok;         /* when they were last brought up to date */
} key_state;

struct srv_keys {
    pthread_mutex_t mu;
    int n;
    key_state v[];
};

static int parse_limit(const char *v, size_t len, int64_t *out)
{
    char tmp[32];
    char *end;
    long long x;
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, v, len);
    tmp[len] = '\0';
    errno = 0;
    x = strtoll(tmp, &end, 10);
    if (errno || *end || x < 0 || x > 1000000000000LL)
        return -1;
    *out = x;
    return 0;
}

xllm_status srv_key_parse(const char *spec, srv_key_cfg *out)
{
    const char *colon = strchr(spec, ':'), *p;
    size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
    memset(out, 0, sizeof *out);
    out->priority = XLLM_PRIORITY_INTERACTIVE;
    if (klen == 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: the key is empty (KEY[:rpm=N,tpm=N,priority=batch])");
    if (klen >= sizeof out->key)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: the key is longer than %zu bytes",
                         sizeof out->key - 1);
    for (size_t i = 0; i < klen; i++)
        if ((unsigned char)spec[i] <= 32 || (unsigned char)spec[i] >= 127)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: the key has a space or a non-ASCII byte");
    memcpy(out->key, spec, klen);
    out->key[klen] = '\0';
    for (p = colon ? colon + 1 : NULL; p && *p;) {
        const char *comma = strchr(p, ','), *eq;
        size_t len = comma ? (size_t)(comma - p) : strlen(p), nlen;
        eq = memchr(p, '=', len);
        if (!eq)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: '%.*s' is not NAME=VALUE (rpm, tpm, priority)",
                             (int)len, p);
        nlen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = len - nlen - 1;
        if (nlen == 3 && !strncmp(p, "rpm", 3)) {
            if (parse_limit(v, vlen, &out->rpm))
                return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: rpm must be a whole number >= 0");
        } else if (nlen == 3 && !strncmp(p, "tpm", 3)) {
            if (parse_limit(v, vlen, &out->tpm))
                return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: tpm must be a whole number >= 0");
        } else if (nlen == 8 && !strncmp(p, "priority", 8)) {
            if (vlen == 5 && !strncmp(v, "batch", 5))
                out->priority = XLLM_PRIORITY_BATCH;
            else if (vlen == 11 && !strncmp(v, "interactive", 11))
                out->priority = XLLM_PRIORITY_INTERACTIVE;
            else
                return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: priority must be interactive or batch");
        } else {
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "API key spec: unknown option '%.*s' (rpm, tpm, priority)",
                             (int)nlen, p);
        }
        p = comma ? comma + 1 : NULL;
    }
    return XLLM_OK;
}

xllm_status srv_keys_read_file(const char *path, srv_key_cfg *out, int max, int *n)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int ln = 0;
    *n = 0;
    if (!f)
        return xllm_fail(XLLM_ERR_IO, "cannot open the API key file %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e;
        ln++;
        if (!strchr(line, '\n') && !feof(f)) {
            fclose(f);
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s:%d: line longer than %zu bytes", path, ln, sizeof line - 2);
        }
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!*s || *s == '#')
            continue;
        if (*n == max) {
            fclose(f);
            return xllm_fail(XLLM_ERR_LIMIT, "%s:%d: more than %d API keys", path, ln, max);
        }
        if (srv_key_parse(s, &out[*n])) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", xllm_last_error());
            fclose(f);
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s:%d: %s", path, ln, msg);
        }
        (*n)++;
    }
    fclose(f);
    return XLLM_OK;
}

xllm_status srv_keys_new(const srv_key_cfg *cfg, int n, srv_keys **out)
{
    srv_keys *k;
    if (n < 0 || n > XLLM_SERVER_MAX_KEYS)
        return xllm_fail(XLLM_ERR_LIMIT, "more than %d API keys", XLLM_SERVER_MAX_KEYS);
    k = xllm_calloc(1, sizeof *k + (size_t)n * sizeof k->v[0]);
    if (!k)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "API keys");
    pthread_mutex_init(&k->mu, NULL);
    k->n = n;
    for (int i = 0; i < n; i++) {
        k->v[i].cfg = cfg[i];
        k->v[i].req_level = (double)cfg[i].rpm;
        k->v[i].tok_level = (double)cfg[i].tpm;
        k->v[i].t_req = k->v[i].t_tok = -1;
    }
    *out = k;
    return XLLM_OK;
}

void srv_keys_free(srv_keys *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->mu);
    xllm_free(k);
}

int srv_keys_count(const srv_keys *k) { return k ? k->n : 0; }

int srv_keys_find(const srv_keys *k, const char *token, size_t len)
{
    int found = -1;
    for (int i = 0; k && i < k->n; i++) {
        const char *key = k->v[i].cfg.key;
        size_t kl = strlen(key);
        unsigned char diff = kl != len;
        for (size_t j = 0; j < len; j++)
            diff |= (unsigned char)(token[j] ^ key[j < kl ? j : 0]);
        if (!diff && found < 0)
            found = i;
    }
    return found;
}

xllm_priority srv_keys_priority(const srv_keys *k, int idx)
{
    return k && idx >= 0 && idx < k->n ? k->v[idx].cfg.priority : XLLM_PRIORITY_INTERACTIVE;
}

#define LEVEL_SLACK 1e-6

/* Refill a bucket of cap per minute to now. */
static void refill(double *level, double *t, int64_t cap, double now)
{
    if (*t >= 0 && now > *t)
        *level = fmin((double)cap, *level + (now - *t) * (double)cap / 60.0);
    *t = now;
}

static int64_t secs_for(double missing, int64_t per_minute)
{
    double s = ceil(missing * 60.0 / (double)per_minute - 1e-9);
    return s < 1 ? 1 : (int64_t)s;
}

int srv_keys_admit(srv_keys *k, int idx, double now, srv_limit_hit *hit, srv_limit_state *st)
{
    key_state *s;
    int rc = 0;
    if (st) {
        memset(st, 0, sizeof *st);
        st->remaining_requests = st->remaining_tokens = -1;
    }
    if (!k || idx < 0 || idx >= k->n)
        return 0;
    s = &k->v[idx];
    pthread_mutex_lock(&k->mu);
    if (s->cfg.rpm > 0)
        refill(&s->req_level, &s->t_req, s->cfg.rpm, now);
    if (s->cfg.tpm > 0)
        refill(&s->tok_level, &s->t_tok, s->cfg.tpm, now);
    /* LEVEL_SLACK: float error of the refill must not refuse a client that
     * waited exactly Retry-After (the level is then 1 request, or 0 tokens) */
    if (s->cfg.rpm > 0 && s->req_level < 1.0 - LEVEL_SLACK) {
        hit->kind = SRV_LIMIT_REQUESTS;
        hit->limit = s->cfg.rpm;
        hit->used = s->cfg.rpm - (int64_t)floor(s->req_level);
        hit->retry_after_s = secs_for(1.0 - s->req_level, s->cfg.rpm);
        rc = -1;
    } else if (s->cfg.tpm > 0 && s->tok_level < -LEVEL_SLACK) { /* refused while below zero */
        hit->kind = SRV_LIMIT_TOKENS;
        hit->limit = s->cfg.tpm;
        hit->used = s->cfg.tpm - (int64_t)floor(s->tok_level);
        hit->retry_after_s = secs_for(-s->tok_level, s->cfg.tpm);
        rc = -1;
    } else {
        if (s->cfg.rpm > 0)
            s->req_level -= 1.0;
        if (st) {
            st->rpm = s->cfg.rpm;
            st->tpm = s->cfg.tpm;
            if (s->cfg.rpm > 0)
                st->remaining_requests = (int64_t)floor(s->req_level);
            if (s->cfg.tpm > 0)
                st->remaining_tokens = (int64_t)floor(s->tok_level);
        }
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

void srv_keys_charge(srv_keys *k, int idx, int64_t tokens, double now)
{
    key_state *s;
    if (!k || idx < 0 || idx >= k->n || tokens <= 0 || k->v[idx].cfg.tpm <= 0)
        return;
    s = &k->v[idx];
    pthread_mutex_lock(&k->mu);
    refill(&s->tok_level, &s->t_tok, s->cfg.tpm, now);
    s->tok_level -= (double)tokens;
    pthread_mutex_unlock(&k->mu);
}
