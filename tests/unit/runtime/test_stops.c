/* test_stops.c - stop strings across token boundaries, several at once,
 * hold-back of possible prefixes, UTF-8 kept whole. */
#include <string.h>

#include "../test.h"
#include "runtime/stops.h"

/* Feed pieces; return what was released in total, and the stop index. */
static int32_t feed(xllm_stops *m, const char *const *pieces, int n, char *out, size_t cap, int flush)
{
    size_t n_out = 0;
    int32_t hit = -1;
    out[0] = 0;
    for (int i = 0; i < n && hit < 0; i++) {
        const char *r;
        size_t k;
        hit = xllm_stops_push(m, pieces[i], strlen(pieces[i]), &r, &k);
        if (n_out + k < cap) {
            memcpy(out + n_out, r, k);
            n_out += k;
        }
    }
    if (hit < 0 && flush) {
        const char *r;
        size_t k;
        xllm_stops_flush(m, &r, &k);
        memcpy(out + n_out, r, k);
        n_out += k;
    }
    out[n_out] = 0;
    return hit;
}

TEST(stops_across_pieces)
{
    const char *stops[] = {"</s>", "\n\nUser:", "END"};
    const char *p1[] = {"Hello", " wor", "ld<", "/", "s>tail"};
    const char *p2[] = {"a\n", "\nUs", "e", "r: x"};
    const char *p3[] = {"<", "/t", "> fine ", "EN", "D"};
    const char *p4[] = {"no stop", " here\n\n", "Use"};
    char out[256];
    xllm_stops *m;
    CHECK(xllm_stops_new(stops, 3, 16, &m) == XLLM_OK);
    CHECK_EQ_INT(feed(m, p1, 5, out, sizeof out, 0), 0);
    CHECK_EQ_STR(out, "Hello world");
    xllm_stops_reset(m);
    CHECK_EQ_INT(feed(m, p2, 4, out, sizeof out, 0), 1);
    CHECK_EQ_STR(out, "a");
    xllm_stops_reset(m);
    CHECK_EQ_INT(feed(m, p3, 5, out, sizeof out, 0), 2);
    CHECK_EQ_STR(out, "</t> fine ");
    xllm_stops_reset(m);
    /* a possible prefix at the end is held back, then released by flush */
    CHECK_EQ_INT(feed(m, p4, 3, out, sizeof out, 0), -1);
    CHECK_EQ_STR(out, "no stop here");
    xllm_stops_reset(m);
    CHECK_EQ_INT(feed(m, p4, 3, out, sizeof out, 1), -1);
    CHECK_EQ_STR(out, "no stop here\n\nUse");
    CHECK_EQ_STR(xllm_stops_get(m, 1), "\n\nUser:");
    xllm_stops_free(m);
}

TEST(stops_earliest_wins_and_utf8)
{
    const char *stops[] = {"cd", "bc", "\xc3\xa9t\xc3\xa9"}; /* été */
    const char *p1[] = {"abcd"};
    const char *p2[] = {"l'\xc3\xa9", "t\xc3", "\xa9", " x"};
    char out[64];
    xllm_stops *m;
    CHECK(xllm_stops_new(stops, 3, 8, &m) == XLLM_OK);
    CHECK_EQ_INT(feed(m, p1, 1, out, sizeof out, 0), 1);
    CHECK_EQ_STR(out, "a");
    xllm_stops_reset(m);
    CHECK_EQ_INT(feed(m, p2, 4, out, sizeof out, 0), 2);
    CHECK_EQ_STR(out, "l'");
    xllm_stops_free(m);
}

TEST(stops_none_and_bad)
{
    const char *empty[] = {""};
    const char *r;
    size_t k;
    xllm_stops *m;
    CHECK(xllm_stops_new(NULL, 0, 8, &m) == XLLM_OK);
    CHECK_EQ_INT(xllm_stops_push(m, "abc", 3, &r, &k), -1);
    CHECK_EQ_INT(k, 3);
    CHECK(!memcmp(r, "abc", 3));
    xllm_stops_free(m);
    CHECK(xllm_stops_new(empty, 1, 8, &m) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_stops_new(empty, 100, 8, &m) == XLLM_ERR_LIMIT);
}
