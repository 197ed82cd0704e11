/* runner_proto.h - the wire protocol between a runner process and its clients
 * (the server, the tests): 8-byte framed messages over a Unix stream socket.
 * Encoders append one whole frame to a capped buffer; decoders read one
 * frame's payload and check every length against what remains.
 *
 * Frame header (all integers little-endian):
 *
 *   offset size field
 *   0      1    magic 'X' (0x58)
 *   1      1    magic 'R' (0x52)
 *   2      1    protocol version (XLLM_RUNNER_PROTOCOL)
 *   3      1    frame type (xllm_rframe_type)
 *   4      4    payload length in bytes (u32, <= XLLM_RUNNER_MAX_FRAME)
 *   8      len  payload
 *
 * Payloads: JSON objects (jansson, compact) for the control frames, which are
 * rare and grow by adding keys (a reader ignores keys it does not know and
 * takes the documented default for missing ones, so additive changes need no
 * new version); compact binary for the per-token frame (sent for every token
 * of every stream: no JSON allocation in the runner's step, floats exact) and
 * for the embed reply (n x n_embd floats, exact and 4 bytes each). u64 values
 * in JSON (seeds, salts) travel as the int64 with the same bits.
 *
 * TOKEN payload:                    EMBED_REPLY payload:
 *   0   8  request id (u64)           0    8    tag (u64)
 *   8   4  token id (i32)             8    4    n inputs (u32)
 *   12  4  logprob (f32, NaN: none)   12   4    n_embd (u32)
 *   16  1  flags (bit 0: is_prompt)   16   4n   token count per input (i32)
 *   17  1  n_top (0..20)              ..   4n*n_embd  embeddings (f32, row-major)
 *   18  2  reserved (0)
 *   20  4  text length T (u32)
 *   24  8*n_top  (token i32, logprob f32) most likely first
 *   ..  T  text piece (UTF-8, not NUL-terminated)
 *
 * A payload's length must be exactly what its fields say. Requests that want
 * an answer (submit, stats, embed) carry a client-chosen "tag" that the reply
 * (or an ERROR frame) repeats. Ownership: decoded structs that own memory have
 * a _free function; the others point into the payload. Threading: pure
 * functions, no shared state. */
#ifndef XLLM_RUNTIME_RUNNER_PROTO_H
#define XLLM_RUNTIME_RUNNER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"
#include "base/status.h"
#include "runtime/runner_client.h"
#include "runtime/sched.h"

#define XLLM_RUNNER_PROTOCOL 1
#define XLLM_RPROTO_MAGIC0 0x58
#define XLLM_RPROTO_MAGIC1 0x52
#define XLLM_RPROTO_HEADER_SIZE 8
#define XLLM_RPROTO_TOKEN_FIXED 24

typedef enum xllm_rframe_type {
    XLLM_RF_HELLO = 1,        /* runner -> client, right after accept: xllm_runner_info */
    XLLM_RF_SUBMIT = 2,       /* client -> runner: {tag, text | tokens, params...} */
    XLLM_RF_SUBMIT_REPLY = 3, /* runner -> client: {tag, id} or {tag, status, message} */
    XLLM_RF_CANCEL = 4,       /* client -> runner: {id} */
    XLLM_RF_TOKEN = 5,        /* runner -> client: binary, one token event */
    XLLM_RF_FINAL = 6,        /* runner -> client: last event of a request */
    XLLM_RF_STATS = 7,        /* client -> runner: {tag} */
    XLLM_RF_STATS_REPLY = 8,  /* runner -> client: {tag, every xllm_sched_stats field} */
    XLLM_RF_EMBED = 9,        /* client -> runner: {tag, inputs: [text | [ids]], truncate} */
    XLLM_RF_EMBED_REPLY = 10, /* runner -> client: binary */
    XLLM_RF_SHUTDOWN = 11,    /* client -> runner: empty; cancel everything and exit */
    XLLM_RF_ERROR = 12,       /* either way: {tag?, status, message} */
    XLLM_RF_COUNT
} xllm_rframe_type;

const char *xllm_rframe_name(int type); /* "hello", ... ; "unknown" */

typedef struct xllm_rframe_header {
    uint8_t version;
    uint8_t type;
    uint32_t len; /* payload bytes */
} xllm_rframe_header;

/* Look at the first n bytes of a stream. A whole frame there: XLLM_OK, *h
 * filled and *total = 8 + payload length. Not enough bytes yet: XLLM_OK and
 * *total = 0. A bad header (magic: FORMAT, version: ABI_MISMATCH, length over
 * XLLM_RUNNER_MAX_FRAME: LIMIT) is an error with a message: the stream cannot
 * be resynchronized and must be closed. The type is not checked (an unknown
 * type is skipped by the caller, with an ERROR frame back). */
xllm_status xllm_rproto_peek(const uint8_t *p, size_t n, xllm_rframe_header *h, size_t *total);

/* Statuses on the wire are their xllm_status_str text; unknown text: INTERNAL. */
xllm_status xllm_rproto_status_parse(const char *s);

/* ---- encoders: each appends one whole frame to out (nothing on failure) ---- */

xllm_status xllm_rproto_put_hello(xllm_buf *out, const xllm_runner_info *info);
/* INVALID_ARGUMENT for what JSON cannot carry (text that is not UTF-8, NaN or
 * infinite parameters other than a -inf / +inf logit bias) or neither /
 * both prompt forms. */
xllm_status xllm_rproto_put_submit(xllm_buf *out, uint64_t tag, const xllm_runner_request *r);
/* st == XLLM_OK: accepted with id; else refused with message. */
xllm_status xllm_rproto_put_submit_reply(xllm_buf *out, uint64_t tag, uint64_t id, xllm_status st,
                                         const char *message);
xllm_status xllm_rproto_put_cancel(xllm_buf *out, uint64_t id);
/* TOKEN (binary) or FINAL (JSON) by ev->type. */
xllm_status xllm_rproto_put_event(xllm_buf *out, const xllm_gen_event *ev);
xllm_status xllm_rproto_put_stats_req(xllm_buf *out, uint64_t tag);
xllm_status xllm_rproto_put_stats(xllm_buf *out, uint64_t tag, const xllm_sched_stats *s);
/* texts[n] (NUL-terminated) or, when texts is NULL, tokens[n][n_tok[i]]. */
xllm_status xllm_rproto_put_embed_req(xllm_buf *out, uint64_t tag, const char *const *texts,
                                      const int32_t *const *tokens, const int32_t *n_tok, int32_t n,
                                      int32_t truncate);
xllm_status xllm_rproto_put_embed_reply(xllm_buf *out, uint64_t tag, int32_t n, int32_t n_embd,
                                        const int32_t *n_tokens, const float *data);
xllm_status xllm_rproto_put_shutdown(xllm_buf *out);
/* has_tag 0: an error not tied to a request (a malformed frame). */
xllm_status xllm_rproto_put_error(xllm_buf *out, int has_tag, uint64_t tag, xllm_status st, const char *message);

/* ---- decoders of one payload (p, len) ---- */

xllm_status xllm_rproto_get_hello(const uint8_t *p, size_t len, xllm_runner_info *out);

/* A decoded submit; req's pointers point into the storage here. */
typedef struct xllm_rproto_submit {
    uint64_t tag;
    xllm_runner_request req;
    char *text;
    int32_t *tokens;
    char **stops;        /* [req.params.n_stops] */
    int32_t *bias_tokens;
    float *bias_values;
    char *grammar;       /* req.grammar == req.params.grammar */
    char *grammar_root;
    char **grammar_triggers; /* [req.params.n_grammar_triggers] */
    int32_t *grammar_trigger_tokens;
    char *trace_id;
} xllm_rproto_submit;

/* On failure out holds nothing to free, and out->tag is still the tag when
 * the payload had a readable one (so the refusal can be matched), else 0. */
xllm_status xllm_rproto_get_submit(const uint8_t *p, size_t len, xllm_rproto_submit *out);
void xllm_rproto_submit_free(xllm_rproto_submit *s);

/* *st: XLLM_OK with *id, or the refusal with message copied into msg[cap]. */
xllm_status xllm_rproto_get_submit_reply(const uint8_t *p, size_t len, uint64_t *tag, uint64_t *id,
                                         xllm_status *st, char *msg, size_t cap);
xllm_status xllm_rproto_get_cancel(const uint8_t *p, size_t len, uint64_t *id);
/* ev->text and the top entries point into p / top[XLLM_MAX_TOP_LOGPROBS]. */
xllm_status xllm_rproto_get_token(const uint8_t *p, size_t len, xllm_gen_event *ev, xllm_top_logprob *top);

/* A decoded FINAL; ev.error / ev.stop_string point into the buffers here. */
typedef struct xllm_rproto_final {
    xllm_gen_event ev;
    char error[XLLM_MAX_ERROR_MESSAGE];
    char stop[XLLM_MAX_STOP_BYTES + 1];
} xllm_rproto_final;
xllm_status xllm_rproto_get_final(const uint8_t *p, size_t len, xllm_rproto_final *out);

/* The tag of any tagged JSON frame (submit, stats, embed, replies, error):
 * 1 and *tag when present and readable, else 0. */
int xllm_rproto_get_tag(const uint8_t *p, size_t len, uint64_t *tag);
xllm_status xllm_rproto_get_stats(const uint8_t *p, size_t len, uint64_t *tag, xllm_sched_stats *out);

/* A decoded embed request (texts or token arrays). */
typedef struct xllm_rproto_embed {
    uint64_t tag;
    int32_t n;
    int32_t truncate;
    char **texts;      /* [n]: NULL entries where that input is token ids */
    int32_t **tokens;  /* [n] */
    int32_t *n_tokens; /* [n] */
} xllm_rproto_embed;
xllm_status xllm_rproto_get_embed_req(const uint8_t *p, size_t len, xllm_rproto_embed *out);
void xllm_rproto_embed_free(xllm_rproto_embed *e);
/* The tag of an EMBED_REPLY payload (its first 8 bytes; 0 when shorter). */
uint64_t xllm_rproto_embed_reply_tag(const uint8_t *p, size_t len);
/* out: heap [n][n_embd] (xllm_free); n_tokens[n_max]. */
xllm_status xllm_rproto_get_embed_reply(const uint8_t *p, size_t len, uint64_t *tag, int32_t n_max, int32_t *n,
                                        int32_t *n_embd, int32_t *n_tokens, float **out);
/* *has_tag, *tag, *st and the message copied into msg[cap]. */
xllm_status xllm_rproto_get_error(const uint8_t *p, size_t len, int *has_tag, uint64_t *tag, xllm_status *st,
                                  char *msg, size_t cap);

#endif
