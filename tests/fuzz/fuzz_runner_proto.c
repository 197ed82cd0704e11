/* fuzz_runner_proto.c - libFuzzer target: random bytes as a runner protocol
 * stream. Frames are cut with xllm_rproto_peek exactly as the runner and the
 * client do, each payload goes to the decoder of its type, and whatever
 * decodes is encoded again and decoded a second time (it must succeed and
 * agree). The raw input also goes to every decoder directly, so payload
 * parsers see bytes that no valid header would frame. Build: make fuzz; run:
 *   build-fuzz/fuzz_runner_proto -max_total_time=120 -max_len=4096 tests/fuzz/corpus/runner */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "runtime/runner_proto.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static void submit_again(const xllm_rproto_submit *s)
{
    xllm_buf b;
    xllm_rproto_submit t;
    xllm_buf_init(&b, 0);
    /* text that came in may hold bytes JSON cannot take back (it cannot: it
     * arrived as JSON), so a re-encode must succeed */
    if (xllm_rproto_put_submit(&b, s->tag, &s->req) == XLLM_OK) {
        check(xllm_rproto_get_submit((const uint8_t *)b.data + 8, b.len - 8, &t) == XLLM_OK);
        check(t.req.params.n_stops == s->req.params.n_stops && t.req.params.n_bias == s->req.params.n_bias);
        check(t.req.prompt_len == s->req.prompt_len && t.req.n_prompt_tokens == s->req.n_prompt_tokens);
        xllm_rproto_submit_free(&t);
    }
    xllm_buf_free(&b);
}

static void decode(int type, const uint8_t *p, size_t len)
{
    xllm_runner_info info;
    xllm_rproto_submit s;
    xllm_rproto_final f;
    xllm_rproto_embed e;
    xllm_sched_stats stats;
    xllm_gen_event ev;
    xllm_top_logprob top[XLLM_MAX_TOP_LOGPROBS];
    uint64_t tag, id;
    xllm_status st;
    int32_t n, dim, ntok[4];
    float *emb = NULL;
    int has_tag;
    char msg[256];
    switch (type) {
    case XLLM_RF_HELLO:
        xllm_rproto_get_hello(p, len, &info);
        break;
    case XLLM_RF_SUBMIT:
        if (xllm_rproto_get_submit(p, len, &s) == XLLM_OK) {
            submit_again(&s);
            xllm_rproto_submit_free(&s);
        }
        break;
    case XLLM_RF_SUBMIT_REPLY:
        xllm_rproto_get_submit_reply(p, len, &tag, &id, &st, msg, sizeof msg);
        break;
    case XLLM_RF_CANCEL:
        xllm_rproto_get_cancel(p, len, &id);
        break;
    case XLLM_RF_TOKEN:
        if (xllm_rproto_get_token(p, len, &ev, top) == XLLM_OK) {
            volatile char sink = 0;
            for (size_t i = 0; i < ev.text_len; i++)
                sink ^= ev.text[i];
            (void)sink;
        }
        break;
    case XLLM_RF_FINAL:
        xllm_rproto_get_final(p, len, &f);
        break;
    case XLLM_RF_STATS:
        xllm_rproto_get_tag(p, len, &tag);
        break;
    case XLLM_RF_STATS_REPLY:
        xllm_rproto_get_stats(p, len, &tag, &stats);
        break;
    case XLLM_RF_EMBED:
        if (xllm_rproto_get_embed_req(p, len, &e) == XLLM_OK)
            xllm_rproto_embed_free(&e);
        break;
    case XLLM_RF_EMBED_REPLY:
        if (xllm_rproto_get_embed_reply(p, len, &tag, 4, &n, &dim, ntok, &emb) == XLLM_OK)
            xllm_free(emb);
        break;
    case XLLM_RF_ERROR:
        xllm_rproto_get_error(p, len, &has_tag, &tag, &st, msg, sizeof msg);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (int t = 1; t < XLLM_RF_COUNT; t++)
        decode(t, data, size);
    while (off < size) {
        xllm_rframe_header h;
        size_t total;
        if (xllm_rproto_peek(data + off, size - off, &h, &total) != XLLM_OK || total == 0)
            break;
        check(total == XLLM_RPROTO_HEADER_SIZE + (size_t)h.len && total <= size - off);
        decode(h.type, data + off + XLLM_RPROTO_HEADER_SIZE, h.len);
        off += total;
    }
    return 0;
}
