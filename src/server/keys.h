/* keys.h - the server's API keys: each key may carry limits (requests and
 * tokens per minute) and a priority class (SPEC S-4). Limits are token
 * buckets that hold a minute's worth and refill continuously, so a key may
 * burst up to its limit and then goes at limit/60 per second; tokens are
 * charged after a request (prompt + generated), so one request may take the
 * bucket below zero and the key waits until it refills.
 *
 * Key spec (flag --api-key, one line of an --api-keys file):
 *   KEY[:rpm=N,tpm=N,priority=interactive|batch]
 * KEY is everything before the first ':' (so a key itself has no ':').
 *
 * Ownership: srv_keys copies the configs. Threading: find/priority read
 * constant data; admit and charge take the table's mutex. */
#ifndef XLLM_SERVER_KEYS_H
#define XLLM_SERVER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/status.h"
#include "runtime/sched.h"

typedef struct srv_key_cfg {
    char key[XLLM_SERVER_MAX_KEY_BYTES + 1];
    int64_t rpm, tpm;        /* 0: no limit */
    xllm_priority priority;
} srv_key_cfg;

/* Parse a spec (above); a clear message (no key text in it) on error. */
xllm_status srv_key_parse(const char *spec, srv_key_cfg *out);
/* Every spec line of a file (blank lines and '#' comments skipped) into
 * out[max]; *n is the count. Errors name the file and line. */
xllm_status srv_keys_read_file(const char *path, srv_key_cfg *out, int max, int *n);

typedef struct srv_keys srv_keys;

xllm_status srv_keys_new(const srv_key_cfg *cfg, int n, srv_keys **out);
void srv_keys_free(srv_keys *k);
int srv_keys_count(const srv_keys *k);
/* Index of the key equal to token[len] (compared in constant time), or -1. */
int srv_keys_find(const srv_keys *k, const char *token, size_t len);
xllm_priority srv_keys_priority(const srv_keys *k, int idx);

typedef enum srv_limit_kind { SRV_LIMIT_REQUESTS = 0, SRV_LIMIT_TOKENS = 1 } srv_limit_kind;

typedef struct srv_limit_hit {
    srv_limit_kind kind;
    int64_t limit;           /* per minute */
    int64_t used;            /* of it, now */
    int64_t retry_after_s;   /* whole seconds until the request would pass (>= 1) */
} srv_limit_hit;

/* What an admitted request leaves (the x-ratelimit-* response headers);
 * a limit of 0 means none (its remaining is then -1). */
typedef struct srv_limit_state {
    int64_t rpm, tpm;
    int64_t remaining_requests, remaining_tokens; /* after this request; tokens may be < 0 */
} srv_limit_state;

/* Counts one request of key idx at time now (seconds, monotonic). 0: admitted
 * (*st, may be NULL, gets the limits and what is left); -1: over a limit,
 * nothing counted, *hit says which and for how long. */
int srv_keys_admit(srv_keys *k, int idx, double now, srv_limit_hit *hit, srv_limit_state *st);
/* Tokens a finished request of key idx used (prompt + generated). */
void srv_keys_charge(srv_keys *k, int idx, int64_t tokens, double now);

#endif
