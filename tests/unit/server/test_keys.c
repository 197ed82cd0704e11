/* test_keys.c - API key specs and the per-minute buckets (server/keys.c):
 * specs parse or fail with a message naming the option; a key bursts up to
 * its limit, is refused with the whole seconds until one more request fits,
 * refills at limit/60 per second; tokens are charged after the request and
 * may take the bucket below zero. Times are given, not slept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "server/keys.h"
#include "../test.h"

TEST(server_keys_parse)
{
    srv_key_cfg k;
    CHECK_OK(srv_key_parse("sk-abc", &k));
    CHECK_EQ_STR(k.key, "sk-abc");
    CHECK(k.rpm == 0 && k.tpm == 0 && k.priority == XLLM_PRIORITY_INTERACTIVE);
    CHECK_OK(srv_key_parse("team=b:rpm=60,tpm=1000,priority=batch", &k));
    CHECK_EQ_STR(k.key, "team=b");
    CHECK(k.rpm == 60 && k.tpm == 1000 && k.priority == XLLM_PRIORITY_BATCH);
    CHECK_OK(srv_key_parse("x:", &k)); /* empty option list */
    CHECK_EQ_STR(k.key, "x");
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"", "key is empty"},           {":rpm=1", "key is empty"},        {"k:rpm=-1", "rpm must be"},
        {"k:tpm=1e3", "tpm must be"},   {"k:rpm=", "rpm must be"},         {"k:burst=2", "unknown option 'burst'"},
        {"k:rpm", "not NAME=VALUE"},    {"k:priority=low", "interactive or batch"}, {"a b", "space"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(srv_key_parse(bad[i].spec, &k) == XLLM_ERR_INVALID_ARGUMENT, "%s", bad[i].spec);
        CHECK_MSG(strstr(xllm_last_error(), bad[i].msg) != NULL, "%s: %s", bad[i].spec, xllm_last_error());
    }
}

TEST(server_keys_file)
{
    char path[] = "/tmp/xllm-test-keys-XXXXXX";
    int fd = mkstemp(path);
    srv_key_cfg v[4];
    int n = -1;
    FILE *f;
    CHECK(fd >= 0);
    f = fdopen(fd, "w");
    fputs("# keys\n\n  alpha:rpm=5  \nbeta\n", f);
    fclose(f);
    CHECK_OK(srv_keys_read_file(path, v, 4, &n));
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(v[0].key, "alpha");
    CHECK(v[0].rpm == 5);
    CHECK_EQ_STR(v[1].key, "beta");
    f = fopen(path, "w");
    fputs("alpha\ngamma:rpm=x\n", f);
    fclose(f);
    CHECK(srv_keys_read_file(path, v, 4, &n) != XLLM_OK);
    CHECK_MSG(strstr(xllm_last_error(), ":2: ") && strstr(xllm_last_error(), "rpm must be"), "%s", xllm_last_error());
    unlink(path);
    CHECK(srv_keys_read_file("/nonexistent/keys", v, 4, &n) == XLLM_ERR_IO);
}

TEST(server_keys_find)
{
    srv_key_cfg c[2];
    srv_keys *k;
    CHECK_OK(srv_key_parse("alpha", &c[0]));
    CHECK_OK(srv_key_parse("beta:rpm=1,priority=batch", &c[1]));
    CHECK_OK(srv_keys_new(c, 2, &k));
    CHECK_EQ_INT(srv_keys_find(k, "alpha", 5), 0);
    CHECK_EQ_INT(srv_keys_find(k, "beta", 4), 1);
    CHECK_EQ_INT(srv_keys_find(k, "alph", 4), -1);
    CHECK_EQ_INT(srv_keys_find(k, "alphaa", 6), -1);
    CHECK_EQ_INT(srv_keys_find(k, "", 0), -1);
    CHECK(srv_keys_priority(k, 1) == XLLM_PRIORITY_BATCH);
    CHECK(srv_keys_priority(k, 0) == XLLM_PRIORITY_INTERACTIVE);
    srv_keys_free(k);
}

TEST(server_keys_requests_per_minute)
{
    srv_key_cfg c;
    srv_keys *k;
    srv_limit_hit hit;
    srv_limit_state left;
    CHECK_OK(srv_key_parse("k:rpm=3", &c));
    CHECK_OK(srv_keys_new(&c, 1, &k));
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(srv_keys_admit(k, 0, 100.0, &hit, &left), 0);
        CHECK_EQ_INT((int)left.remaining_requests, 2 - i);
        CHECK_EQ_INT((int)left.rpm, 3);
        CHECK_EQ_INT((int)left.remaining_tokens, -1); /* no token limit */
    }
    CHECK_EQ_INT(srv_keys_admit(k, 0, 100.0, &hit, NULL), -1);
    CHECK(hit.kind == SRV_LIMIT_REQUESTS);
    CHECK_EQ_INT((int)hit.limit, 3);
    CHECK_EQ_INT((int)hit.used, 3);
    CHECK_EQ_INT((int)hit.retry_after_s, 20); /* one request refills in 60 / 3 s */
    CHECK_EQ_INT(srv_keys_admit(k, 0, 110.0, &hit, NULL), -1);
    CHECK_EQ_INT((int)hit.retry_after_s, 10);
    CHECK_EQ_INT(srv_keys_admit(k, 0, 119.5, &hit, NULL), -1);
    CHECK_EQ_INT((int)hit.retry_after_s, 1); /* whole seconds, rounded up */
    CHECK_EQ_INT(srv_keys_admit(k, 0, 120.0, &hit, NULL), 0);
    CHECK_EQ_INT(srv_keys_admit(k, 0, 120.0, &hit, NULL), -1);
    /* a long pause refills to the limit, never beyond */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(srv_keys_admit(k, 0, 1000.0, &hit, NULL), 0);
    CHECK_EQ_INT(srv_keys_admit(k, 0, 1000.0, &hit, NULL), -1);
    srv_keys_free(k);
}

TEST(server_keys_tokens_per_minute)
{
    srv_key_cfg c;
    srv_keys *k;
    srv_limit_hit hit;
    CHECK_OK(srv_key_parse("k:tpm=600", &c));
    CHECK_OK(srv_keys_new(&c, 1, &k));
    CHECK_EQ_INT(srv_keys_admit(k, 0, 10.0, &hit, NULL), 0);
    CHECK_EQ_INT(srv_keys_admit(k, 0, 10.0, &hit, NULL), 0); /* no token is counted before the end */
    srv_keys_charge(k, 0, 500, 11.0);
    {
        srv_limit_state st;
        CHECK_EQ_INT(srv_keys_admit(k, 0, 11.0, &hit, &st), 0);
        CHECK_EQ_INT((int)st.remaining_tokens, 100); /* full at 10 s (capped), 500 charged at 11 s */
        CHECK_EQ_INT((int)st.remaining_requests, -1);
    }
    srv_keys_charge(k, 0, 300, 11.0); /* 200 below zero: 20 s at 10 tokens/s */
    CHECK_EQ_INT(srv_keys_admit(k, 0, 11.0, &hit, NULL), -1);
    CHECK(hit.kind == SRV_LIMIT_TOKENS);
    CHECK_EQ_INT((int)hit.limit, 600);
    CHECK_EQ_INT((int)hit.used, 800);
    CHECK_EQ_INT((int)hit.retry_after_s, 20);
    CHECK_EQ_INT(srv_keys_admit(k, 0, 30.0, &hit, NULL), -1);
    CHECK_EQ_INT((int)hit.retry_after_s, 1);
    CHECK_EQ_INT(srv_keys_admit(k, 0, 31.5, &hit, NULL), 0);
    /* a key without limits never refuses and ignores charges */
    srv_keys_free(k);
    CHECK_OK(srv_key_parse("free", &c));
    CHECK_OK(srv_keys_new(&c, 1, &k));
    srv_keys_charge(k, 0, 1000000, 1.0);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(srv_keys_admit(k, 0, 1.0, &hit, NULL), 0);
    srv_keys_free(k);
}

/* A client that waits exactly Retry-After is admitted (tokens: the bucket
 * was back at 0, which refused; requests: float error left it below 1). */
TEST(server_keys_retry_after_is_enough)
{
    static const char *const specs[] = {"k:tpm=600", "k:tpm=60", "k:rpm=3", "k:rpm=7", "k:rpm=60"};
    for (size_t si = 0; si < sizeof specs / sizeof specs[0]; si++) {
        for (int start = 0; start < 40; start++) {
            srv_key_cfg c;
            srv_keys *k;
            srv_limit_hit hit;
            double now = 1000.0 + start * 0.37;
            int refused = 0;
            CHECK_OK(srv_key_parse(specs[si], &c));
            CHECK_OK(srv_keys_new(&c, 1, &k));
            for (int i = 0; i < 100 && !refused; i++) {
                refused = srv_keys_admit(k, 0, now, &hit, NULL) != 0;
                if (!refused)
                    srv_keys_charge(k, 0, 7 + start, now); /* tokens keys go below zero */
            }
            CHECK(refused);
            if (refused) {
                now += (double)hit.retry_after_s;
                if (srv_keys_admit(k, 0, now, &hit, NULL) != 0) {
                    printf("  %s start %d: refused again after Retry-After\n", specs[si], start);
                    CHECK(0);
                }
            }
            srv_keys_free(k);
        }
    }
}
