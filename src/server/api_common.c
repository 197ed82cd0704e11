/* api_common.c - what the API families share: the chat prompt from a model's
 * template, token counting, ids and timestamps, SSE / NDJSON framing. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "server/http.h"
#include "template/chat_template.h"

/* A model without a chat template: each message as "<|role|>\ntext<|end|>\n"
 * (the demo model's form) and the assistant header, as Ollama's default
 * template writes the bare prompt. */
static int render_plain(json_t *messages, int add_gen, xllm_buf *b)
{
    for (size_t i = 0; i < json_array_size(messages); i++) {
        json_t *m = json_array_get(messages, i);
        if (xllm_buf_printf(b, "<|%s|>\n%s<|end|>\n", json_string_value(json_object_get(m, "role")),
                            json_string_value(json_object_get(m, "content"))))
            return -1;
    }
    return add_gen && xllm_buf_puts(b, "<|assistant|>\n") ? -1 : 0;
}

/* 1 when text starts with the vocabulary's BOS text (the template wrote it). */
static int starts_with_bos(const xllm_tokenizer *tok, const char *text, size_t len)
{
    int32_t bos = xllm_tokenizer_bos(tok);
    size_t n = 0;
    const char *t = bos >= 0 ? xllm_tokenizer_token_text(tok, bos, &n) : NULL;
    return t && n > 0 && len >= n && !memcmp(text, t, n);
}

int srv_render_chat(srv_model *md, json_t *messages, int add_gen, char **prompt, size_t *len, int32_t *add_special,
                    srv_err *e)
{
    return srv_render_chat_tools(md, messages, NULL, add_gen, prompt, len, add_special, e);
}

int srv_render_chat_tools(srv_model *md, json_t *messages, json_t *tools, int add_gen, char **prompt, size_t *len,
                          int32_t *add_special, srv_err *e)
{
    const xllm_tokenizer *tok = NULL;
    const xllm_chat_template *tmpl;
    const xllm_gguf *meta;
    const char *terr;
    xllm_buf b;
    if (srv_model_tokenizer(md, &tok))
        return srv_err_set(e, 500, "model", NULL, "%s", xllm_last_error());
    tmpl = srv_model_template(md, &terr, &meta);
    if (!tmpl && terr)
        return srv_err_set(e, 500, "model", NULL, "the chat template of model '%s' cannot be used: %s",
                           srv_model_name(md), terr);
    xllm_buf_init(&b, XLLM_SERVER_MAX_BODY * 2u);
    if (tmpl) {
        json_t *chat = json_pack("{s:O, s:b}", "messages", messages, "add_generation_prompt", add_gen);
        if (chat && tools)
            json_object_set(chat, "tools", tools);
        xllm_status st = chat ? xllm_chat_template_add_special_tokens(meta, chat) : XLLM_ERR_OUT_OF_MEMORY;
        if (!st)
            st = xllm_chat_template_render(tmpl, chat, &b);
        json_decref(chat);
        if (st) {
            xllm_buf_free(&b);
            return srv_err_set(e, st == XLLM_ERR_LIMIT ? 413 : 400, "messages", NULL,
                               "rendering the chat template failed: %s", xllm_last_error());
        }
    } else if (render_plain(messages, add_gen, &b)) {
        xllm_buf_free(&b);
        return srv_err_set(e, 413, "messages", NULL, "the rendered chat prompt is too long");
    }
    *add_special = b.data && starts_with_bos(tok, b.data, b.len) ? 0 : 1;
    *len = b.len;
    *prompt = b.data ? xllm_buf_take(&b) : xllm_strdup("");
    return *prompt ? 0 : srv_err_set(e, 500, "", NULL, "out of memory");
}

int srv_count_tokens(srv_model *md, const char *text, size_t len, int add_special, int32_t *n, srv_err *e)
{
    const xllm_tokenizer *tok;
    int32_t *ids = NULL;
    size_t cnt = 0;
    if (srv_model_tokenizer(md, &tok))
        return srv_err_set(e, 500, "model", NULL, "%s", xllm_last_error());
    if (xllm_tokenize(tok, text, len, add_special, 1, &ids, &cnt))
        return srv_err_set(e, 400, "", NULL, "tokenizing failed: %s", xllm_last_error());
    xllm_free(ids);
    *n = (int32_t)cnt;
    return 0;
}

json_t *srv_token_json(const xllm_tokenizer *tok, int32_t id)
{
    char buf[256];
    int32_t n = tok ? xllm_token_to_piece(tok, id, 1, buf, sizeof buf) : -1;
    json_t *j;
    if (n < 0)
        return json_string("");
    if (n >= (int32_t)sizeof buf)
        n = sizeof buf - 1;
    j = json_stringn(buf, (size_t)n);
    if (!j) {
        /* a byte token alone is not UTF-8: write it as OpenAI does, "bytes:\xNN" */
        char hex[16 * 4 + 8];
        size_t o = snprintf(hex, sizeof hex, "bytes:");
        for (int32_t i = 0; i < n && o + 5 < sizeof hex; i++)
            o += snprintf(hex + o, sizeof hex - o, "\\x%02x", (unsigned char)buf[i]);
        j = json_string(hex);
    }
    return j;
}

void srv_make_id(const char *prefix, char buf[64])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[12];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t o;
    if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        for (size_t i = 0; i < sizeof rnd; i++)
            rnd[i] = (unsigned char)((ts.tv_nsec >> (i % 8 * 8)) ^ (i * 37) ^ rand());
    }
    if (fd >= 0)
        close(fd);
    o = (size_t)snprintf(buf, 40, "%s", prefix);
    for (size_t i = 0; i < sizeof rnd; i++) {
        buf[o++] = hex[rnd[i] >> 4];
        buf[o++] = hex[rnd[i] & 15];
    }
    buf[o] = '\0';
}

int64_t srv_unix_now(void)
{
    return (int64_t)time(NULL);
}

double srv_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void srv_rfc3339(double unix_s, char buf[40])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    char base[32];
    gmtime_r(&t, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, 40, "%s.%06dZ", base, (int)((unix_s - (double)t) * 1e6));
}

void srv_sse(xllm_buf *out, const char *event, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return;
    if (event)
        xllm_buf_printf(out, "event: %s\n", event);
    xllm_buf_puts(out, "data: ");
    xllm_buf_puts(out, s);
    xllm_buf_puts(out, "\n\n");
    free(s);
}

void srv_ndjson(xllm_buf *out, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return;
    xllm_buf_puts(out, s);
    xllm_buf_puts(out, "\n");
    free(s);
}
