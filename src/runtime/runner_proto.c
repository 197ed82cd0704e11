/* runner_proto.c - encoders and decoders of the runner wire protocol: the
 * frame header, JSON control frames (field tables shared by both directions)
 * and the binary token / embed-reply frames (layouts in runner_proto.h). */
#include "runtime/runner_proto.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

static const char *const frame_names[XLLM_RF_COUNT] = {
    [XLLM_RF_HELLO] = "hello",   [XLLM_RF_SUBMIT] = "submit",     [XLLM_RF_SUBMIT_REPLY] = "submit-reply",
    [XLLM_RF_CANCEL] = "cancel", [XLLM_RF_TOKEN] = "token",       [XLLM_RF_FINAL] = "final",
    [XLLM_RF_STATS] = "stats",   [XLLM_RF_STATS_REPLY] = "stats-reply", [XLLM_RF_EMBED] = "embed",
    [XLLM_RF_EMBED_REPLY] = "embed-reply", [XLLM_RF_SHUTDOWN] = "shutdown", [XLLM_RF_ERROR] = "error",
};

const char *xllm_rframe_name(int type)
{
    return type > 0 && type < XLLM_RF_COUNT && frame_names[type] ? frame_names[type] : "unknown";
}

/* ---- bytes ---- */

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

xllm_status xllm_rproto_peek(const uint8_t *p, size_t n, xllm_rframe_header *h, size_t *total)
{
    *total = 0;
    if (n >= 1 && p[0] != XLLM_RPROTO_MAGIC0)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: bad magic byte 0x%02x (not an xllm runner stream)", p[0]);
    if (n >= 2 && p[1] != XLLM_RPROTO_MAGIC1)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: bad magic byte 0x%02x (not an xllm runner stream)", p[1]);
    if (n >= 3 && p[2] != XLLM_RUNNER_PROTOCOL)
        return xllm_fail(XLLM_ERR_ABI_MISMATCH, "runner protocol: version %u is not supported (this side speaks %u)",
                         p[2], XLLM_RUNNER_PROTOCOL);
    if (n < XLLM_RPROTO_HEADER_SIZE)
        return XLLM_OK;
    h->version = p[2];
    h->type = p[3];
    h->len = rd32(p + 4);
    if (h->len > XLLM_RUNNER_MAX_FRAME)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: %s frame of %u bytes exceeds the cap of %u",
                         xllm_rframe_name(h->type), h->len, XLLM_RUNNER_MAX_FRAME);
    if (n - XLLM_RPROTO_HEADER_SIZE >= h->len)
        *total = XLLM_RPROTO_HEADER_SIZE + (size_t)h->len;
    return XLLM_OK;
}

xllm_status xllm_rproto_status_parse(const char *s)
{
    for (int i = 0; s && i < XLLM_STATUS_COUNT; i++)
        if (!strcmp(s, xllm_status_str((xllm_status)i)))
            return (xllm_status)i;
    return XLLM_ERR_INTERNAL;
}

/* ---- frames ---- */

static xllm_status frame_begin(xllm_buf *out, int type, size_t *start)
{
    uint8_t h[XLLM_RPROTO_HEADER_SIZE] = {XLLM_RPROTO_MAGIC0, XLLM_RPROTO_MAGIC1, XLLM_RUNNER_PROTOCOL, (uint8_t)type};
    *start = out->len;
    return xllm_buf_append(out, h, sizeof h);
}

/* Patch the payload length in; on a failure (st or size) drop the frame. */
static xllm_status frame_end(xllm_buf *out, size_t start, xllm_status st)
{
    size_t len = out->len - start - XLLM_RPROTO_HEADER_SIZE;
    if (st == XLLM_OK && len > XLLM_RUNNER_MAX_FRAME)
        st = xllm_fail(XLLM_ERR_LIMIT, "runner protocol: %s frame of %zu bytes exceeds the cap of %u",
                       xllm_rframe_name((uint8_t)out->data[start + 3]), len, XLLM_RUNNER_MAX_FRAME);
    if (st != XLLM_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
        return st;
    }
    wr32((uint8_t *)out->data + start + 4, (uint32_t)len);
    return XLLM_OK;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return xllm_buf_append(data, buffer, size) == XLLM_OK ? 0 : -1;
}

/* Append obj as a frame of type; consumes obj (NULL: out of memory while building it). */
static xllm_status put_json(xllm_buf *out, int type, json_t *obj, xllm_status built)
{
    size_t start;
    xllm_status st = built;
    if (st == XLLM_OK && !obj)
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: building a %s frame", xllm_rframe_name(type));
    if (st == XLLM_OK && (st = frame_begin(out, type, &start)) == XLLM_OK) {
        if (json_dump_callback(obj, dump_cb, out, JSON_COMPACT) != 0)
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: writing a %s frame", xllm_rframe_name(type));
        st = frame_end(out, start, st);
    }
    json_decref(obj);
    return st;
}

static xllm_status load_json(const uint8_t *p, size_t len, const char *what, json_t **out)
{
    json_error_t err;
    *out = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!*out)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s frame: bad JSON at line %d column %d: %s", what,
                         err.line, err.column, err.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s frame is not a JSON object", what);
    }
    return XLLM_OK;
}

/* ---- field tables: one description of a struct's scalar fields, read and written ---- */

typedef enum fkind { F_I32, F_U32, F_U64, F_F32, F_F64, F_STR } fkind;

typedef struct field {
    const char *key;
    fkind kind;
    size_t off;
    size_t size; /* F_STR: bytes of the char array */
} field;

#define FLD(T, key, kind, m) {key, kind, offsetof(T, m), sizeof(((T *)0)->m)}

static const field gen_fields[] = {
    FLD(xllm_gen_params, "temperature", F_F32, sampling.temperature),
    FLD(xllm_gen_params, "top_k", F_I32, sampling.top_k),
    FLD(xllm_gen_params, "top_p", F_F32, sampling.top_p),
    FLD(xllm_gen_params, "min_p", F_F32, sampling.min_p),
    FLD(xllm_gen_params, "typical_p", F_F32, sampling.typical_p),
    FLD(xllm_gen_params, "repeat_penalty", F_F32, sampling.repeat_penalty),
    FLD(xllm_gen_params, "presence_penalty", F_F32, sampling.presence_penalty),
    FLD(xllm_gen_params, "frequency_penalty", F_F32, sampling.frequency_penalty),
    FLD(xllm_gen_params, "penalty_last_n", F_I32, sampling.penalty_last_n),
    FLD(xllm_gen_params, "seed", F_U64, sampling.seed),
    FLD(xllm_gen_params, "max_tokens", F_I32, max_tokens),
    FLD(xllm_gen_params, "n_ctx", F_I32, n_ctx),
    FLD(xllm_gen_params, "logprobs", F_I32, logprobs),
    FLD(xllm_gen_params, "top_logprobs", F_I32, top_logprobs),
    FLD(xllm_gen_params, "prompt_logprobs", F_I32, prompt_logprobs),
    FLD(xllm_gen_params, "ignore_eos", F_I32, ignore_eos),
    FLD(xllm_gen_params, "cache_salt", F_U64, cache_salt),
};

static const field info_fields[] = {
    FLD(xllm_runner_info, "protocol", F_I32, protocol),
    FLD(xllm_runner_info, "engine", F_STR, engine),
    FLD(xllm_runner_info, "model_path", F_STR, model_path),
    FLD(xllm_runner_info, "arch", F_STR, arch),
    FLD(xllm_runner_info, "n_vocab", F_I32, n_vocab),
    FLD(xllm_runner_info, "n_embd", F_I32, n_embd),
    FLD(xllm_runner_info, "n_layer", F_I32, n_layer),
    FLD(xllm_runner_info, "n_ctx_train", F_I32, n_ctx_train),
    FLD(xllm_runner_info, "n_ctx", F_I32, n_ctx),
    FLD(xllm_runner_info, "is_encoder", F_I32, is_encoder),
    FLD(xllm_runner_info, "kv_type", F_I32, kv_type),
    FLD(xllm_runner_info, "kv_types", F_U32, kv_types),
    FLD(xllm_runner_info, "n_blocks", F_I32, n_blocks),
    FLD(xllm_runner_info, "max_running", F_I32, max_running),
    FLD(xllm_runner_info, "max_waiting", F_I32, max_waiting),
    FLD(xllm_runner_info, "weight_bytes", F_U64, weight_bytes),
    FLD(xllm_runner_info, "kv_bytes", F_U64, kv_bytes),
    FLD(xllm_runner_info, "scratch_bytes", F_U64, scratch_bytes),
    FLD(xllm_runner_info, "load_ns", F_U64, load_ns),
    FLD(xllm_runner_info, "pid", F_I32, pid),
};

static const field stats_fields[] = {
    FLD(xllm_sched_stats, "running", F_I32, running),
    FLD(xllm_sched_stats, "waiting", F_I32, waiting),
    FLD(xllm_sched_stats, "blocks_total", F_I32, blocks_total),
    FLD(xllm_sched_stats, "blocks_used", F_I32, blocks_used),
    FLD(xllm_sched_stats, "blocks_cached", F_I32, blocks_cached),
    FLD(xllm_sched_stats, "prefix_hits", F_U64, prefix_hits),
    FLD(xllm_sched_stats, "prefix_misses", F_U64, prefix_misses),
    FLD(xllm_sched_stats, "cached_tokens", F_U64, cached_tokens),
    FLD(xllm_sched_stats, "prompt_tokens", F_U64, prompt_tokens),
    FLD(xllm_sched_stats, "generated_tokens", F_U64, generated_tokens),
    FLD(xllm_sched_stats, "steps", F_U64, steps),
    FLD(xllm_sched_stats, "preemptions", F_U64, preemptions),
    FLD(xllm_sched_stats, "requests_done", F_U64, requests_done),
    FLD(xllm_sched_stats, "decode_tokens_per_s", F_F64, decode_tokens_per_s),
    FLD(xllm_sched_stats, "last_step_ns", F_U64, last_step_ns),
    FLD(xllm_sched_stats, "last_sched_ns", F_U64, last_sched_ns),
};

static const field final_fields[] = {
    FLD(xllm_gen_event, "id", F_U64, request_id),
    FLD(xllm_gen_event, "n_prompt", F_I32, n_prompt),
    FLD(xllm_gen_event, "n_cached", F_I32, n_cached),
    FLD(xllm_gen_event, "n_generated", F_I32, n_generated),
    FLD(xllm_gen_event, "n_preempted", F_I32, n_preempted),
    FLD(xllm_gen_event, "queue_ns", F_U64, t.queue_ns),
    FLD(xllm_gen_event, "prefill_ns", F_U64, t.prefill_ns),
    FLD(xllm_gen_event, "decode_ns", F_U64, t.decode_ns),
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static xllm_status fields_put(json_t *o, const field *f, size_t n, const void *base, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)base + f[i].off;
        json_t *v = NULL;
        int32_t i32;
        uint32_t u32;
        uint64_t u64;
        float f32;
        double f64;
        switch (f[i].kind) {
        case F_I32:
            memcpy(&i32, p, 4);
            v = json_integer(i32);
            break;
        case F_U32:
            memcpy(&u32, p, 4);
            v = json_integer(u32);
            break;
        case F_U64:
            memcpy(&u64, p, 8);
            v = json_integer((json_int_t)(int64_t)u64);
            break;
        case F_F32:
            memcpy(&f32, p, 4);
            if (!isfinite(f32))
                return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: %s: %s is %g, not a finite number",
                                 what, f[i].key, (double)f32);
            v = json_real(f32);
            break;
        case F_F64:
            memcpy(&f64, p, 8);
            v = json_real(isfinite(f64) ? f64 : 0.0);
            break;
        case F_STR:
            v = json_stringn(p, strnlen(p, f[i].size));
            if (!v)
                return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: %s: %s is not valid UTF-8", what,
                                 f[i].key);
            break;
        }
        if (json_object_set_new(o, f[i].key, v) != 0)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", what);
    }
    return XLLM_OK;
}

static xllm_status int_value(const json_t *v, int64_t lo, int64_t hi, const char *what, const char *key,
                             int64_t *out)
{
    if (!json_is_integer(v))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s: \"%s\" must be an integer", what, key);
    *out = (int64_t)json_integer_value(v);
    if (*out < lo || *out > hi)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s: \"%s\" = %lld is out of range", what, key,
                         (long long)*out);
    return XLLM_OK;
}

/* Fields present in o overwrite base; missing ones keep the caller's defaults. */
static xllm_status fields_get(const json_t *o, const field *f, size_t n, void *base, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(o, f[i].key);
        char *p = (char *)base + f[i].off;
        int64_t x;
        xllm_status st = XLLM_OK;
        if (!v)
            continue;
        switch (f[i].kind) {
        case F_I32:
            if ((st = int_value(v, INT32_MIN, INT32_MAX, what, f[i].key, &x)) == XLLM_OK) {
                int32_t i32 = (int32_t)x;
                memcpy(p, &i32, 4);
            }
            break;
        case F_U32:
            if ((st = int_value(v, 0, UINT32_MAX, what, f[i].key, &x)) == XLLM_OK) {
                uint32_t u32 = (uint32_t)x;
                memcpy(p, &u32, 4);
            }
            break;
        case F_U64:
            if ((st = int_value(v, INT64_MIN, INT64_MAX, what, f[i].key, &x)) == XLLM_OK) {
                uint64_t u64 = (uint64_t)x;
                memcpy(p, &u64, 8);
            }
            break;
        case F_F32:
        case F_F64:
            if (!json_is_number(v)) {
                st = xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s: \"%s\" must be a number", what, f[i].key);
            } else if (f[i].kind == F_F32) {
                double d = json_number_value(v);
                float f32 = (float)d;
                if (!isfinite(f32))
                    st = xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s: \"%s\" = %g is out of range", what,
                                   f[i].key, d);
                memcpy(p, &f32, 4);
            } else {
                double d = json_number_value(v);
                memcpy(p, &d, 8);
            }
            break;
        case F_STR:
            if (!json_is_string(v))
                st = xllm_fail(XLLM_ERR_FORMAT, "runner protocol: %s: \"%s\" must be a string", what, f[i].key);
            else
                snprintf(p, f[i].size, "%s", json_string_value(v));
            break;
        }
        if (st != XLLM_OK)
            return st;
    }
    return XLLM_OK;
}

/* A message as a JSON string; one that is not UTF-8 (it may quote wire
 * bytes) is replaced by a note rather than lost. */
static json_t *msg_string(const char *m)
{
    json_t *v = json_string(m ? m : "");
    return v ? v : json_string("(message not UTF-8)");
}

static xllm_status set_u64(json_t *o, const char *key, uint64_t v)
{
    return json_object_set_new(o, key, json_integer((json_int_t)(int64_t)v)) == 0
               ? XLLM_OK
               : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", key);
}

static xllm_status set_str(json_t *o, const char *key, const char *s, size_t len, const char *what)
{
    json_t *v = json_stringn(s, len);
    if (!v)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: %s: %s is not valid UTF-8", what, key);
    return json_object_set_new(o, key, v) == 0 ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol");
}

static int get_u64(const json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return 0;
    *out = (uint64_t)(int64_t)json_integer_value(v);
    return 1;
}

static xllm_status token_array(const int32_t *ids, int32_t n, json_t **out)
{
    json_t *a = json_array();
    *out = NULL;
    for (int32_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_integer(ids[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    if (!a)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: token array");
    *out = a;
    return XLLM_OK;
}

/* A JSON array of integers -> heap int32 array (n may be 0). */
static xllm_status read_tokens(const json_t *a, size_t max, const char *what, int32_t **ids, int32_t *n)
{
    size_t i, cnt = json_array_size(a);
    json_t *v;
    *ids = NULL;
    *n = 0;
    if (cnt > max)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: %s: %zu tokens exceed the cap of %zu", what, cnt, max);
    if (!(*ids = xllm_malloc(sizeof(int32_t) * (cnt ? cnt : 1))))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s tokens", what);
    json_array_foreach(a, i, v)
    {
        int64_t x;
        xllm_status st = int_value(v, INT32_MIN, INT32_MAX, what, "tokens", &x);
        if (st != XLLM_OK) {
            xllm_free(*ids);
            *ids = NULL;
            return st;
        }
        (*ids)[i] = (int32_t)x;
    }
    *n = (int32_t)cnt;
    return XLLM_OK;
}

static char *dup_json_string(const json_t *v, size_t *len)
{
    size_t n = json_string_length(v);
    char *s = xllm_malloc(n + 1);
    if (s) {
        memcpy(s, json_string_value(v), n);
        s[n] = 0;
    }
    if (len)
        *len = n;
    return s;
}

/* ---- hello ---- */

xllm_status xllm_rproto_put_hello(xllm_buf *out, const xllm_runner_info *info)
{
    json_t *o = json_object();
    xllm_status st = o ? fields_put(o, info_fields, N_OF(info_fields), info, "hello") : XLLM_OK;
    return put_json(out, XLLM_RF_HELLO, o, st);
}

xllm_status xllm_rproto_get_hello(const uint8_t *p, size_t len, xllm_runner_info *out)
{
    json_t *o;
    xllm_status st;
    memset(out, 0, sizeof *out);
    if ((st = load_json(p, len, "hello", &o)) != XLLM_OK)
        return st;
    st = fields_get(o, info_fields, N_OF(info_fields), out, "hello");
    json_decref(o);
    return st;
}

/* ---- submit ---- */

static const char *priority_name(xllm_priority p) { return p == XLLM_PRIORITY_BATCH ? "batch" : "interactive"; }

static xllm_status put_bias(json_t *o, const xllm_gen_params *gp)
{
    json_t *a = json_array();
    if (!a || json_object_set_new(o, "logit_bias", a) != 0)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: logit_bias");
    if (gp->n_bias < 0 || (gp->n_bias > 0 && (!gp->bias_tokens || !gp->bias_values)))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit: logit_bias arrays missing");
    for (int32_t i = 0; i < gp->n_bias; i++) {
        float b = gp->bias_values[i];
        json_t *pair;
        if (isnan(b))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit: logit_bias of token %d is NaN",
                             gp->bias_tokens[i]);
        pair = json_pack("[Io]", (json_int_t)gp->bias_tokens[i],
                         isinf(b) ? json_string(b < 0 ? "-inf" : "inf") : json_real(b));
        if (!pair || json_array_append_new(a, pair) != 0)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: logit_bias");
    }
    return XLLM_OK;
}

/* An array of n strings (NULL or not UTF-8: INVALID_ARGUMENT). */
static xllm_status put_strings(json_t *o, const char *key, const char *const *v, int32_t n)
{
    json_t *a = json_array();
    if (!a || json_object_set_new(o, key, a) != 0)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", key);
    if (n < 0 || (n > 0 && !v))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit: %s missing", key);
    for (int32_t i = 0; i < n; i++) {
        json_t *s = v[i] ? json_string(v[i]) : NULL;
        if (!s)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit: %s entry %d is NULL or not UTF-8",
                             key, i);
        if (json_array_append_new(a, s) != 0)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", key);
    }
    return XLLM_OK;
}

/* The grammar travels from the request's slot, or else from its params. */
static xllm_status put_grammar(json_t *o, const xllm_runner_request *r)
{
    const xllm_gen_params *gp = &r->params;
    const char *g = r->grammar ? r->grammar : gp->grammar;
    json_t *a;
    xllm_status st;
    if (!g)
        return XLLM_OK;
    if ((st = set_str(o, "grammar", g, strlen(g), "submit")) != XLLM_OK ||
        (gp->grammar_root && (st = set_str(o, "grammar_root", gp->grammar_root, strlen(gp->grammar_root), "submit"))) ||
        (gp->n_grammar_triggers &&
         (st = put_strings(o, "grammar_triggers", gp->grammar_triggers, gp->n_grammar_triggers)) != XLLM_OK))
        return st;
    if (gp->n_grammar_trigger_tokens > 0) {
        if (!gp->grammar_trigger_tokens)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit: grammar trigger tokens missing");
        if ((st = token_array(gp->grammar_trigger_tokens, gp->n_grammar_trigger_tokens, &a)) != XLLM_OK)
            return st;
        if (json_object_set_new(o, "grammar_trigger_tokens", a) != 0)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: submit");
    }
    return XLLM_OK;
}

static xllm_status build_submit(json_t *o, uint64_t tag, const xllm_runner_request *r)
{
    const xllm_gen_params *gp = &r->params;
    xllm_status st;
    json_t *a;
    if ((r->prompt_text != NULL) == (r->prompt_tokens != NULL))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit needs exactly one of prompt text or tokens");
    if ((st = set_u64(o, "tag", tag)) != XLLM_OK ||
        (st = fields_put(o, gen_fields, N_OF(gen_fields), gp, "submit")) != XLLM_OK)
        return st;
    if (r->prompt_text) {
        if ((st = set_str(o, "text", r->prompt_text, r->prompt_len, "submit")) != XLLM_OK)
            return st;
    } else {
        if (r->n_prompt_tokens < 0)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: submit: negative token count");
        if ((st = token_array(r->prompt_tokens, r->n_prompt_tokens, &a)) != XLLM_OK)
            return st;
        if (json_object_set_new(o, "tokens", a) != 0)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: submit");
    }
    if (json_object_set_new(o, "add_special", json_integer(r->add_special)) != 0 ||
        json_object_set_new(o, "parse_special", json_integer(r->parse_special)) != 0 ||
        json_object_set_new(o, "priority", json_string(priority_name(gp->priority))) != 0)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: submit");
    if ((st = put_strings(o, "stops", gp->stops, gp->n_stops)) != XLLM_OK || (st = put_bias(o, gp)) != XLLM_OK ||
        (st = put_grammar(o, r)) != XLLM_OK)
        return st;
    if (r->trace_id && (st = set_str(o, "trace_id", r->trace_id, strlen(r->trace_id), "submit")) != XLLM_OK)
        return st;
    return XLLM_OK;
}

xllm_status xllm_rproto_put_submit(xllm_buf *out, uint64_t tag, const xllm_runner_request *r)
{
    json_t *o = json_object();
    xllm_status st = o ? build_submit(o, tag, r) : XLLM_OK;
    return put_json(out, XLLM_RF_SUBMIT, o, st);
}

void xllm_rproto_submit_free(xllm_rproto_submit *s)
{
    if (!s)
        return;
    for (int32_t i = 0; s->stops && i < s->req.params.n_stops; i++)
        xllm_free(s->stops[i]);
    xllm_free(s->stops);
    xllm_free(s->text);
    xllm_free(s->tokens);
    xllm_free(s->bias_tokens);
    xllm_free(s->bias_values);
    for (int32_t i = 0; s->grammar_triggers && i < s->req.params.n_grammar_triggers; i++)
        xllm_free(s->grammar_triggers[i]);
    xllm_free(s->grammar_triggers);
    xllm_free(s->grammar_trigger_tokens);
    xllm_free(s->grammar);
    xllm_free(s->grammar_root);
    xllm_free(s->trace_id);
    uint64_t tag = s->tag;
    memset(s, 0, sizeof *s);
    s->tag = tag;
}

static xllm_status get_opt_string(const json_t *o, const char *key, size_t max, int cut, char **out)
{
    json_t *v = json_object_get(o, key);
    size_t n;
    if (!v || json_is_null(v))
        return XLLM_OK;
    if (!json_is_string(v))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"%s\" must be a string", key);
    n = json_string_length(v);
    if (n > max && !cut)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: submit: \"%s\" of %zu bytes exceeds the cap of %zu", key,
                         n, max);
    if (!(*out = xllm_strndup(json_string_value(v), n > max ? max : n)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", key);
    return XLLM_OK;
}

/* key: an array of 1..max_len-byte strings, at most max_n; *n counts the
 * entries made so far (so a partial array is freed whole on failure). */
static xllm_status get_strings(const json_t *o, const char *key, size_t max_n, size_t max_len, char ***out,
                               int32_t *n)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i, cnt;
    if (!a)
        return XLLM_OK;
    if (!json_is_array(a))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"%s\" must be an array of strings", key);
    if ((cnt = json_array_size(a)) > max_n)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: submit: %zu \"%s\" exceed the cap of %zu", cnt, key, max_n);
    if (cnt && !(*out = xllm_calloc(cnt, sizeof(char *))))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", key);
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max_len)
            return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"%s\" entry %zu must be a string of 1..%zu bytes",
                             key, i, max_len);
        if (!((*out)[i] = dup_json_string(v, NULL)))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: %s", key);
        *n = (int32_t)i + 1;
    }
    return XLLM_OK;
}

static xllm_status get_stops(const json_t *o, xllm_rproto_submit *s)
{
    xllm_status st = get_strings(o, "stops", XLLM_MAX_STOP_STRINGS, XLLM_MAX_STOP_BYTES, &s->stops,
                                 &s->req.params.n_stops);
    s->req.params.stops = (const char *const *)s->stops;
    return st;
}

/* grammar, its start rule and lazy triggers (words, token ids) */
static xllm_status get_grammar(const json_t *o, xllm_rproto_submit *s)
{
    xllm_gen_params *gp = &s->req.params;
    json_t *tt = json_object_get(o, "grammar_trigger_tokens");
    xllm_status st;
    if ((st = get_opt_string(o, "grammar", XLLM_GRAMMAR_MAX_TEXT, 0, &s->grammar)) != XLLM_OK ||
        (st = get_opt_string(o, "grammar_root", XLLM_GRAMMAR_MAX_TRIGGER_LEN, 0, &s->grammar_root)) != XLLM_OK)
        return st;
    s->req.grammar = gp->grammar = s->grammar;
    gp->grammar_root = s->grammar_root;
    st = get_strings(o, "grammar_triggers", XLLM_GRAMMAR_MAX_TRIGGERS, XLLM_GRAMMAR_MAX_TRIGGER_LEN,
                     &s->grammar_triggers, &gp->n_grammar_triggers);
    gp->grammar_triggers = (const char *const *)s->grammar_triggers;
    if (st != XLLM_OK || !tt)
        return st;
    if (!json_is_array(tt))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"grammar_trigger_tokens\" must be an array of ids");
    st = read_tokens(tt, XLLM_GRAMMAR_MAX_TRIGGERS, "grammar_trigger_tokens", &s->grammar_trigger_tokens,
                     &gp->n_grammar_trigger_tokens);
    gp->grammar_trigger_tokens = s->grammar_trigger_tokens;
    return st;
}

static xllm_status bias_value(const json_t *v, size_t i, float *out)
{
    const char *t = json_string_value(v);
    if (json_is_number(v) && isfinite((float)json_number_value(v))) {
        *out = (float)json_number_value(v);
        return XLLM_OK;
    }
    if (t && (!strcmp(t, "-inf") || !strcmp(t, "inf"))) {
        *out = t[0] == '-' ? -INFINITY : INFINITY;
        return XLLM_OK;
    }
    return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: logit_bias entry %zu needs a number or \"-inf\"", i);
}

static xllm_status get_bias(const json_t *o, xllm_rproto_submit *s)
{
    json_t *a = json_object_get(o, "logit_bias"), *v;
    size_t i, n;
    if (!a)
        return XLLM_OK;
    if (!json_is_array(a))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"logit_bias\" must be an array of [token, bias]");
    if ((n = json_array_size(a)) > XLLM_MAX_LOGIT_BIAS)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: submit: %zu logit_bias entries exceed the cap of %d", n,
                         XLLM_MAX_LOGIT_BIAS);
    if (n == 0)
        return XLLM_OK;
    s->bias_tokens = xllm_malloc(sizeof(int32_t) * n);
    s->bias_values = xllm_malloc(sizeof(float) * n);
    if (!s->bias_tokens || !s->bias_values)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: logit_bias");
    json_array_foreach(a, i, v)
    {
        int64_t tok;
        xllm_status st;
        if (!json_is_array(v) || json_array_size(v) != 2)
            return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: logit_bias entry %zu must be [token, bias]", i);
        if ((st = int_value(json_array_get(v, 0), INT32_MIN, INT32_MAX, "submit", "logit_bias", &tok)) != XLLM_OK ||
            (st = bias_value(json_array_get(v, 1), i, &s->bias_values[i])) != XLLM_OK)
            return st;
        s->bias_tokens[i] = (int32_t)tok;
    }
    s->req.params.bias_tokens = s->bias_tokens;
    s->req.params.bias_values = s->bias_values;
    s->req.params.n_bias = (int32_t)n;
    return XLLM_OK;
}

static xllm_status get_prompt(const json_t *o, xllm_rproto_submit *s)
{
    json_t *text = json_object_get(o, "text"), *toks = json_object_get(o, "tokens");
    if ((text != NULL) == (toks != NULL))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit needs exactly one of \"text\" or \"tokens\"");
    if (text) {
        if (!json_is_string(text))
            return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"text\" must be a string");
        if (!(s->text = dup_json_string(text, &s->req.prompt_len)))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: prompt");
        s->req.prompt_text = s->text;
        return XLLM_OK;
    }
    if (!json_is_array(toks))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"tokens\" must be an array of token ids");
    xllm_status st = read_tokens(toks, XLLM_RUNNER_MAX_PROMPT_TOKENS, "submit", &s->tokens, &s->req.n_prompt_tokens);
    s->req.prompt_tokens = s->tokens;
    return st;
}

static xllm_status decode_submit(const json_t *o, xllm_rproto_submit *s)
{
    xllm_runner_request *r = &s->req;
    const char *prio;
    xllm_status st;
    json_t *v;
    int64_t x;
    r->params = xllm_gen_params_default();
    r->add_special = 1;
    r->parse_special = 0;
    if ((st = fields_get(o, gen_fields, N_OF(gen_fields), &r->params, "submit")) != XLLM_OK)
        return st;
    if ((v = json_object_get(o, "add_special")) && (st = int_value(v, 0, 1, "submit", "add_special", &x)) == XLLM_OK)
        r->add_special = (int32_t)x;
    if (st == XLLM_OK && (v = json_object_get(o, "parse_special")) &&
        (st = int_value(v, 0, 1, "submit", "parse_special", &x)) == XLLM_OK)
        r->parse_special = (int32_t)x;
    if (st != XLLM_OK)
        return st;
    if ((v = json_object_get(o, "priority"))) {
        prio = json_string_value(v);
        if (!prio || (strcmp(prio, "interactive") && strcmp(prio, "batch")))
            return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: submit: \"priority\" must be \"interactive\" or \"batch\"");
        r->params.priority = !strcmp(prio, "batch") ? XLLM_PRIORITY_BATCH : XLLM_PRIORITY_INTERACTIVE;
    }
    if ((st = get_prompt(o, s)) != XLLM_OK || (st = get_stops(o, s)) != XLLM_OK || (st = get_bias(o, s)) != XLLM_OK ||
        (st = get_grammar(o, s)) != XLLM_OK ||
        (st = get_opt_string(o, "trace_id", XLLM_RUNNER_MAX_TRACE_ID, 1, &s->trace_id)) != XLLM_OK)
        return st;
    r->trace_id = s->trace_id;
    return XLLM_OK;
}

xllm_status xllm_rproto_get_submit(const uint8_t *p, size_t len, xllm_rproto_submit *out)
{
    json_t *o;
    xllm_status st;
    memset(out, 0, sizeof *out);
    if ((st = load_json(p, len, "submit", &o)) != XLLM_OK)
        return st;
    get_u64(o, "tag", &out->tag);
    if ((st = decode_submit(o, out)) != XLLM_OK)
        xllm_rproto_submit_free(out);
    json_decref(o);
    return st;
}

xllm_status xllm_rproto_put_submit_reply(xllm_buf *out, uint64_t tag, uint64_t id, xllm_status st,
                                         const char *message)
{
    json_t *o = json_object();
    xllm_status bs = XLLM_OK;
    if (o && (bs = set_u64(o, "tag", tag)) == XLLM_OK) {
        if (st == XLLM_OK)
            bs = set_u64(o, "id", id);
        else if (json_object_set_new(o, "status", json_string(xllm_status_str(st))) != 0 ||
                 json_object_set_new(o, "message", msg_string(message)) != 0)
            bs = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: submit reply");
    }
    return put_json(out, XLLM_RF_SUBMIT_REPLY, o, bs);
}

xllm_status xllm_rproto_get_submit_reply(const uint8_t *p, size_t len, uint64_t *tag, uint64_t *id,
                                         xllm_status *st, char *msg, size_t cap)
{
    json_t *o;
    xllm_status rc;
    const char *m;
    if ((rc = load_json(p, len, "submit-reply", &o)) != XLLM_OK)
        return rc;
    *tag = *id = 0;
    get_u64(o, "tag", tag);
    if (get_u64(o, "id", id)) {
        *st = XLLM_OK;
        if (cap)
            msg[0] = 0;
    } else {
        *st = xllm_rproto_status_parse(json_string_value(json_object_get(o, "status")));
        if (*st == XLLM_OK)
            *st = XLLM_ERR_INTERNAL;
        m = json_string_value(json_object_get(o, "message"));
        if (cap)
            snprintf(msg, cap, "%s", m ? m : "refused");
    }
    json_decref(o);
    return XLLM_OK;
}

/* ---- cancel, stats, shutdown, error ---- */

static xllm_status put_u64_frame(xllm_buf *out, int type, const char *key, uint64_t v)
{
    json_t *o = json_object();
    return put_json(out, type, o, o ? set_u64(o, key, v) : XLLM_OK);
}

xllm_status xllm_rproto_put_cancel(xllm_buf *out, uint64_t id) { return put_u64_frame(out, XLLM_RF_CANCEL, "id", id); }
xllm_status xllm_rproto_put_stats_req(xllm_buf *out, uint64_t tag)
{
    return put_u64_frame(out, XLLM_RF_STATS, "tag", tag);
}

xllm_status xllm_rproto_get_cancel(const uint8_t *p, size_t len, uint64_t *id)
{
    json_t *o;
    xllm_status st;
    if ((st = load_json(p, len, "cancel", &o)) != XLLM_OK)
        return st;
    if (!get_u64(o, "id", id))
        st = xllm_fail(XLLM_ERR_FORMAT, "runner protocol: cancel frame without an integer \"id\"");
    json_decref(o);
    return st;
}

int xllm_rproto_get_tag(const uint8_t *p, size_t len, uint64_t *tag)
{
    json_t *o = json_loadb((const char *)p, len, JSON_ALLOW_NUL, NULL);
    int ok = json_is_object(o) && get_u64(o, "tag", tag);
    json_decref(o);
    return ok;
}

xllm_status xllm_rproto_put_stats(xllm_buf *out, uint64_t tag, const xllm_sched_stats *s)
{
    json_t *o = json_object();
    xllm_status st = XLLM_OK;
    if (o && (st = set_u64(o, "tag", tag)) == XLLM_OK)
        st = fields_put(o, stats_fields, N_OF(stats_fields), s, "stats");
    return put_json(out, XLLM_RF_STATS_REPLY, o, st);
}

xllm_status xllm_rproto_get_stats(const uint8_t *p, size_t len, uint64_t *tag, xllm_sched_stats *out)
{
    json_t *o;
    xllm_status st;
    memset(out, 0, sizeof *out);
    if ((st = load_json(p, len, "stats-reply", &o)) != XLLM_OK)
        return st;
    *tag = 0;
    get_u64(o, "tag", tag);
    st = fields_get(o, stats_fields, N_OF(stats_fields), out, "stats-reply");
    json_decref(o);
    return st;
}

xllm_status xllm_rproto_put_shutdown(xllm_buf *out)
{
    size_t start;
    xllm_status st = frame_begin(out, XLLM_RF_SHUTDOWN, &start);
    return st == XLLM_OK ? frame_end(out, start, XLLM_OK) : st;
}

xllm_status xllm_rproto_put_error(xllm_buf *out, int has_tag, uint64_t tag, xllm_status st, const char *message)
{
    json_t *o = json_object(), *m = msg_string(message);
    xllm_status bs = XLLM_OK;
    if (o && has_tag)
        bs = set_u64(o, "tag", tag);
    if (o && bs == XLLM_OK &&
        (json_object_set_new(o, "status", json_string(xllm_status_str(st))) != 0 ||
         json_object_set_new(o, "message", m) != 0))
        bs = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: error frame");
    else if (!o)
        json_decref(m);
    return put_json(out, XLLM_RF_ERROR, o, bs);
}

xllm_status xllm_rproto_get_error(const uint8_t *p, size_t len, int *has_tag, uint64_t *tag, xllm_status *st,
                                  char *msg, size_t cap)
{
    json_t *o;
    xllm_status rc;
    const char *m;
    if ((rc = load_json(p, len, "error", &o)) != XLLM_OK)
        return rc;
    *tag = 0;
    *has_tag = get_u64(o, "tag", tag);
    *st = xllm_rproto_status_parse(json_string_value(json_object_get(o, "status")));
    if (*st == XLLM_OK)
        *st = XLLM_ERR_INTERNAL;
    m = json_string_value(json_object_get(o, "message"));
    if (cap)
        snprintf(msg, cap, "%s", m ? m : "");
    json_decref(o);
    return XLLM_OK;
}

/* ---- token and final events ---- */

static xllm_status put_token(xllm_buf *out, const xllm_gen_event *ev)
{
    uint8_t fix[XLLM_RPROTO_TOKEN_FIXED];
    size_t start;
    xllm_status st;
    int32_t n_top = ev->n_top;
    if (n_top < 0 || n_top > XLLM_MAX_TOP_LOGPROBS || (n_top > 0 && !ev->top) || (ev->text_len && !ev->text))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: token event with %d top logprobs", n_top);
    if (ev->text_len > XLLM_RUNNER_MAX_FRAME)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: token text of %zu bytes", ev->text_len);
    wr64(fix, ev->request_id);
    wr32(fix + 8, (uint32_t)ev->token);
    wr32(fix + 12, f32_bits(ev->logprob));
    fix[16] = ev->is_prompt ? 1 : 0;
    fix[17] = (uint8_t)n_top;
    fix[18] = fix[19] = 0;
    wr32(fix + 20, (uint32_t)ev->text_len);
    if ((st = frame_begin(out, XLLM_RF_TOKEN, &start)) != XLLM_OK)
        return st;
    if ((st = xllm_buf_reserve(out, sizeof fix + 8 * (size_t)n_top + ev->text_len)) == XLLM_OK) {
        uint8_t *w = (uint8_t *)out->data + out->len; /* reserved: write in place */
        memcpy(w, fix, sizeof fix);
        w += sizeof fix;
        for (int32_t i = 0; i < n_top; i++, w += 8) {
            wr32(w, (uint32_t)ev->top[i].token);
            wr32(w + 4, f32_bits(ev->top[i].logprob));
        }
        if (ev->text_len)
            memcpy(w, ev->text, ev->text_len);
        out->len += sizeof fix + 8 * (size_t)n_top + ev->text_len;
        out->data[out->len] = 0;
    }
    return frame_end(out, start, st);
}

xllm_status xllm_rproto_get_token(const uint8_t *p, size_t len, xllm_gen_event *ev, xllm_top_logprob *top)
{
    uint32_t n_top, tlen;
    memset(ev, 0, sizeof *ev);
    if (len < XLLM_RPROTO_TOKEN_FIXED)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: token frame of %zu bytes is shorter than %d", len,
                         XLLM_RPROTO_TOKEN_FIXED);
    n_top = p[17];
    tlen = rd32(p + 20);
    if (n_top > XLLM_MAX_TOP_LOGPROBS)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: token frame with %u top logprobs (max %d)", n_top,
                         XLLM_MAX_TOP_LOGPROBS);
    if ((uint64_t)XLLM_RPROTO_TOKEN_FIXED + 8u * n_top + tlen != len)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: token frame of %zu bytes, its fields say %llu", len,
                         (unsigned long long)(XLLM_RPROTO_TOKEN_FIXED + 8ull * n_top + tlen));
    ev->type = XLLM_EVENT_TOKEN;
    ev->request_id = rd64(p);
    ev->token = (int32_t)rd32(p + 8);
    ev->logprob = bits_f32(rd32(p + 12));
    ev->is_prompt = p[16] & 1;
    ev->n_top = (int32_t)n_top;
    for (uint32_t i = 0; i < n_top; i++) {
        top[i].token = (int32_t)rd32(p + XLLM_RPROTO_TOKEN_FIXED + 8 * i);
        top[i].logprob = bits_f32(rd32(p + XLLM_RPROTO_TOKEN_FIXED + 8 * i + 4));
    }
    ev->top = top;
    ev->text = (const char *)p + XLLM_RPROTO_TOKEN_FIXED + 8 * n_top;
    ev->text_len = tlen;
    return XLLM_OK;
}

static xllm_status build_final(json_t *o, const xllm_gen_event *ev)
{
    xllm_status st = fields_put(o, final_fields, N_OF(final_fields), ev, "final");
    if (st != XLLM_OK)
        return st;
    if (json_object_set_new(o, "finish", json_string(xllm_finish_str(ev->finish))) != 0)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: final");
    if (ev->error) {
        if (json_object_set_new(o, "error", msg_string(ev->error)) != 0)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: final");
    }
    if (ev->stop_string && (st = set_str(o, "stop_string", ev->stop_string, strlen(ev->stop_string), "final")))
        return st;
    return XLLM_OK;
}

xllm_status xllm_rproto_put_event(xllm_buf *out, const xllm_gen_event *ev)
{
    json_t *o;
    if (ev->type == XLLM_EVENT_TOKEN)
        return put_token(out, ev);
    if (ev->type != XLLM_EVENT_FINAL)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: event type %d", (int)ev->type);
    o = json_object();
    return put_json(out, XLLM_RF_FINAL, o, o ? build_final(o, ev) : XLLM_OK);
}

static xllm_finish finish_parse(const char *s)
{
    for (int f = XLLM_FINISH_STOP; s && f <= XLLM_FINISH_ERROR; f++)
        if (!strcmp(s, xllm_finish_str((xllm_finish)f)))
            return (xllm_finish)f;
    return XLLM_FINISH_NONE;
}

xllm_status xllm_rproto_get_final(const uint8_t *p, size_t len, xllm_rproto_final *out)
{
    json_t *o;
    xllm_status st;
    const char *s;
    memset(&out->ev, 0, sizeof out->ev);
    out->error[0] = out->stop[0] = 0;
    if ((st = load_json(p, len, "final", &o)) != XLLM_OK)
        return st;
    out->ev.type = XLLM_EVENT_FINAL;
    if ((st = fields_get(o, final_fields, N_OF(final_fields), &out->ev, "final")) == XLLM_OK) {
        out->ev.finish = finish_parse(json_string_value(json_object_get(o, "finish")));
        if (out->ev.finish == XLLM_FINISH_NONE)
            st = xllm_fail(XLLM_ERR_FORMAT, "runner protocol: final frame without a known \"finish\"");
    }
    if (st == XLLM_OK && (s = json_string_value(json_object_get(o, "error")))) {
        snprintf(out->error, sizeof out->error, "%s", s);
        out->ev.error = out->error;
    }
    if (st == XLLM_OK && (s = json_string_value(json_object_get(o, "stop_string")))) {
        snprintf(out->stop, sizeof out->stop, "%s", s);
        out->ev.stop_string = out->stop;
    }
    if (st == XLLM_OK && out->ev.finish == XLLM_FINISH_ERROR && !out->ev.error)
        out->ev.error = "runner gave no error text";
    json_decref(o);
    return st;
}

/* ---- embeddings ---- */

xllm_status xllm_rproto_put_embed_req(xllm_buf *out, uint64_t tag, const char *const *texts,
                                      const int32_t *const *tokens, const int32_t *n_tok, int32_t n,
                                      int32_t truncate)
{
    json_t *o = json_object(), *a = json_array(), *v;
    xllm_status st = XLLM_OK;
    if (!o || !a || json_object_set_new(o, "inputs", a) != 0) {
        json_decref(a);
        return put_json(out, XLLM_RF_EMBED, o, xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: embed"));
    }
    if (n < 1 || n > XLLM_RUNNER_MAX_EMBED_INPUTS || (!texts && (!tokens || !n_tok)))
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: embed needs 1..%d inputs, got %d",
                       XLLM_RUNNER_MAX_EMBED_INPUTS, n);
    for (int32_t i = 0; st == XLLM_OK && i < n; i++) {
        if (texts) {
            if (!texts[i] || !(v = json_string(texts[i])))
                st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: embed input %d is NULL or not UTF-8", i);
        } else if (n_tok[i] < 0 || (n_tok[i] > 0 && !tokens[i])) {
            st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: embed input %d has no tokens", i);
        } else {
            st = token_array(tokens[i], n_tok[i], &v);
        }
        if (st == XLLM_OK && json_array_append_new(a, v) != 0)
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: embed");
    }
    if (st == XLLM_OK && ((st = set_u64(o, "tag", tag)) != XLLM_OK ||
                          json_object_set_new(o, "truncate", json_integer(truncate ? 1 : 0)) != 0))
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: embed");
    return put_json(out, XLLM_RF_EMBED, o, st);
}

void xllm_rproto_embed_free(xllm_rproto_embed *e)
{
    if (!e)
        return;
    for (int32_t i = 0; i < e->n; i++) {
        if (e->texts)
            xllm_free(e->texts[i]);
        if (e->tokens)
            xllm_free(e->tokens[i]);
    }
    xllm_free(e->texts);
    xllm_free(e->tokens);
    xllm_free(e->n_tokens);
    uint64_t tag = e->tag;
    memset(e, 0, sizeof *e);
    e->tag = tag;
}

static xllm_status decode_embed(const json_t *o, xllm_rproto_embed *e)
{
    json_t *a = json_object_get(o, "inputs"), *v = json_object_get(o, "truncate");
    size_t i, n = json_array_size(a);
    xllm_status st = XLLM_OK;
    int64_t x;
    if (v && (st = int_value(v, 0, 1, "embed", "truncate", &x)) != XLLM_OK)
        return st;
    e->truncate = v ? (int32_t)x : 0;
    if (!json_is_array(a) || n < 1 || n > XLLM_RUNNER_MAX_EMBED_INPUTS)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: embed: \"inputs\" must be an array of 1..%d inputs",
                         XLLM_RUNNER_MAX_EMBED_INPUTS);
    e->texts = xllm_calloc(n, sizeof(char *));
    e->tokens = xllm_calloc(n, sizeof(int32_t *));
    e->n_tokens = xllm_calloc(n, sizeof(int32_t));
    if (!e->texts || !e->tokens || !e->n_tokens)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: embed");
    e->n = (int32_t)n;
    json_array_foreach(a, i, v)
    {
        if (json_is_string(v)) {
            if (!(e->texts[i] = dup_json_string(v, NULL)))
                return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: embed");
        } else if (json_is_array(v)) {
            if ((st = read_tokens(v, XLLM_RUNNER_MAX_PROMPT_TOKENS, "embed", &e->tokens[i], &e->n_tokens[i])))
                return st;
        } else {
            return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: embed input %zu must be a string or token ids", i);
        }
    }
    return XLLM_OK;
}

xllm_status xllm_rproto_get_embed_req(const uint8_t *p, size_t len, xllm_rproto_embed *out)
{
    json_t *o;
    xllm_status st;
    memset(out, 0, sizeof *out);
    if ((st = load_json(p, len, "embed", &o)) != XLLM_OK)
        return st;
    get_u64(o, "tag", &out->tag);
    if ((st = decode_embed(o, out)) != XLLM_OK)
        xllm_rproto_embed_free(out);
    json_decref(o);
    return st;
}

xllm_status xllm_rproto_put_embed_reply(xllm_buf *out, uint64_t tag, int32_t n, int32_t n_embd,
                                        const int32_t *n_tokens, const float *data)
{
    uint8_t fix[16];
    size_t start, count;
    xllm_status st;
    if (n < 0 || n > XLLM_RUNNER_MAX_EMBED_INPUTS || n_embd < 0 || n_embd > (1 << 20))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "runner protocol: embed reply of %d x %d", n, n_embd);
    count = (size_t)n * (size_t)n_embd;
    if (16 + 4 * (size_t)n + 4 * count > XLLM_RUNNER_MAX_FRAME)
        return xllm_fail(XLLM_ERR_LIMIT, "runner protocol: embed reply of %d x %d floats exceeds the frame cap of %u",
                         n, n_embd, XLLM_RUNNER_MAX_FRAME);
    wr64(fix, tag);
    wr32(fix + 8, (uint32_t)n);
    wr32(fix + 12, (uint32_t)n_embd);
    if ((st = frame_begin(out, XLLM_RF_EMBED_REPLY, &start)) != XLLM_OK)
        return st;
    if ((st = xllm_buf_reserve(out, 16 + 4 * (size_t)n + 4 * count)) == XLLM_OK) {
        uint8_t *w;
        xllm_buf_append(out, fix, 16);
        w = (uint8_t *)out->data + out->len;
        for (int32_t i = 0; i < n; i++)
            wr32(w + 4 * (size_t)i, (uint32_t)n_tokens[i]);
        w += 4 * (size_t)n;
        for (size_t i = 0; i < count; i++)
            wr32(w + 4 * i, f32_bits(data[i]));
        out->len += 4 * (size_t)n + 4 * count;
        out->data[out->len] = 0;
    }
    return frame_end(out, start, st);
}

uint64_t xllm_rproto_embed_reply_tag(const uint8_t *p, size_t len) { return len >= 8 ? rd64(p) : 0; }

xllm_status xllm_rproto_get_embed_reply(const uint8_t *p, size_t len, uint64_t *tag, int32_t n_max, int32_t *n,
                                        int32_t *n_embd, int32_t *n_tokens, float **out)
{
    uint32_t cnt, dim;
    size_t count;
    *out = NULL;
    if (len < 16)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: embed reply of %zu bytes", len);
    *tag = rd64(p);
    cnt = rd32(p + 8);
    dim = rd32(p + 12);
    if (cnt > (uint32_t)n_max || dim > (1u << 20))
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: embed reply of %u x %u (asked for %d inputs)", cnt, dim,
                         n_max);
    count = (size_t)cnt * dim;
    if (16 + 4 * (size_t)cnt + 4 * count != len)
        return xllm_fail(XLLM_ERR_FORMAT, "runner protocol: embed reply of %zu bytes, its fields say %zu", len,
                         16 + 4 * (size_t)cnt + 4 * count);
    if (!(*out = xllm_malloc(4 * (count ? count : 1))))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "runner protocol: embed reply");
    for (uint32_t i = 0; i < cnt; i++)
        n_tokens[i] = (int32_t)rd32(p + 16 + 4 * (size_t)i);
    p += 16 + 4 * (size_t)cnt;
    for (size_t i = 0; i < count; i++)
        (*out)[i] = bits_f32(rd32(p + 4 * i));
    *n = (int32_t)cnt;
    *n_embd = (int32_t)dim;
    return XLLM_OK;
}
