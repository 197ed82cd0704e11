/* tool_stream.c - tool calls out of generated text, incrementally: message
 * content, then each call's name and its arguments in raw JSON fragments, for
 * every call format of tools.h; srv_tools_parse is the same parser run once. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "server/http.h"
#include "server/tools.h"

enum {
    MODE_DECIDE = 0, /* Llama 3 / Mistral: the first non-blank characters say call or text */
    MODE_CONTENT,    /* plain text */
    MODE_JSON,       /* JSON values that may be calls */
    MODE_OUTSIDE,    /* Hermes: text, up to a <tool_call> */
    MODE_SEGMENT,    /* Hermes: inside <tool_call> */
};

enum { KEY_OTHER = 0, KEY_NAME, KEY_ARGS, KEY_RESPONSE, KEY_TOOL_CALL };
enum { ROLE_NONE = 0, ROLE_KEY, ROLE_NAME, ROLE_RESPONSE };

static const char HERMES_OPEN[] = "<tool_call>";
static const char *const MARKERS[] = {"<|python_tag|>", "[TOOL_CALLS]"};

static int generic_auto(const srv_tool_stream *s)
{
    return s->t->fmt == SRV_TF_GENERIC && s->t->choice == SRV_TOOL_AUTO;
}

static void emit(srv_tool_stream *s, srv_tool_delta_kind kind, const char *text, size_t len)
{
    srv_tool_delta d = {kind, s->n_calls, s->name, text, len};
    s->sink(s->ctx, &d);
}

static void flush_content(srv_tool_stream *s)
{
    if (s->content.len == 0)
        return;
    emit(s, SRV_TD_CONTENT, s->content.data, s->content.len);
    s->content.len = 0;
    s->content.data[0] = '\0';
}

static void flush_args(srv_tool_stream *s)
{
    if (!s->call_sent || s->args.len <= s->args_sent)
        return;
    emit(s, SRV_TD_ARGS, s->args.data + s->args_sent, s->args.len - s->args_sent);
    s->args_sent = s->args.len;
}

static void add_content(srv_tool_stream *s, const char *p, size_t n)
{
    if (n == 0)
        return;
    xllm_buf_append(&s->content, p, n);
    s->content_sent = 1;
}

static void start_call(srv_tool_stream *s)
{
    flush_content(s);
    s->name[s->name_len] = '\0';
    emit(s, SRV_TD_CALL, NULL, 0);
    s->call_sent = 1;
    flush_args(s);
}

/* The call object closed (or the text ended inside it). */
static void end_call(srv_tool_stream *s)
{
    if (s->have_name) {
        if (!s->call_sent)
            start_call(s);
        if (s->args.len == 0)
            xllm_buf_puts(&s->args, "{}");
        flush_args(s);
        emit(s, SRV_TD_CALL_END, s->args.data, s->args.len);
        s->n_calls++;
    }
    s->call_depth = 0;
    s->capturing = 0;
}

/* ---- decoded strings: the generic "response" text and call names ---- */

static void put_utf8(srv_tool_stream *s, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    add_content(s, u, n);
}

static void put_codepoint(srv_tool_stream *s, unsigned cp)
{
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (s->hi_surrogate)
            put_utf8(s, 0xFFFD);
        s->hi_surrogate = cp;
        return;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        put_utf8(s, s->hi_surrogate ? 0x10000 + ((s->hi_surrogate - 0xD800) << 10) + (cp - 0xDC00) : 0xFFFD);
        s->hi_surrogate = 0;
        return;
    }
    if (s->hi_surrogate)
        put_utf8(s, 0xFFFD);
    s->hi_surrogate = 0;
    put_utf8(s, cp);
}

/* One character of the "response" string; escaped: it follows a backslash. */
static void response_char(srv_tool_stream *s, char c, int escaped)
{
    static const char from[] = "ntrbf/\\\"", to[] = "\n\t\r\b\f/\\\"";
    const char *k;
    if (s->ulen > 0) { /* the hex digits of \uXXXX */
        s->ubuf[s->ulen - 1] = c;
        if (++s->ulen == 5) {
            s->ubuf[4] = '\0';
            s->ulen = 0;
            put_codepoint(s, (unsigned)strtoul(s->ubuf, NULL, 16));
        }
        return;
    }
    if (!escaped) {
        if (c != '\\')
            add_content(s, &c, 1);
        return;
    }
    if (c == 'u') {
        s->ulen = 1;
        return;
    }
    if ((k = strchr(from, c)) != NULL && c)
        add_content(s, &to[k - from], 1);
}

static void string_char(srv_tool_stream *s, char c, int escaped)
{
    switch (s->str_role) {
    case ROLE_KEY:
        if (c != '\\' || escaped) {
            if (s->key_len < (int)sizeof s->keybuf - 1)
                s->keybuf[s->key_len++] = c;
            else
                s->key_len = (int)sizeof s->keybuf; /* too long for a key we know */
        }
        break;
    case ROLE_NAME:
        if ((c != '\\' || escaped) && s->name_len < (int)sizeof s->name - 1)
            s->name[s->name_len++] = c;
        break;
    case ROLE_RESPONSE: response_char(s, c, escaped); break;
    default: break;
    }
}

static int key_class(const srv_tool_stream *s)
{
    const char *args = s->t->fmt == SRV_TF_LLAMA3 ? "parameters" : "arguments";
    const char *k = s->keybuf;
    if (s->key_len >= (int)sizeof s->keybuf)
        return KEY_OTHER;
    if (!strcmp(k, "name"))
        return KEY_NAME;
    if (!strcmp(k, args) || !strcmp(k, "arguments"))
        return KEY_ARGS;
    if (!strcmp(k, "response"))
        return KEY_RESPONSE;
    return !strcmp(k, "tool_call") ? KEY_TOOL_CALL : KEY_OTHER;
}

/* ---- the JSON scanner ---- */

static int top_is(const srv_tool_stream *s, char kind)
{
    return s->depth > 0 && s->depth <= XLLM_TOOL_JSON_MAX_DEPTH && s->kind[s->depth - 1] == kind;
}

/* A name cut at the buffer's end may end inside a character: drop its bytes. */
static void name_trim_utf8(srv_tool_stream *s)
{
    int i = s->name_len, cont = 0, need;
    unsigned char lead;
    while (i > 0 && cont < 4 && ((unsigned char)s->name[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return;
    lead = (unsigned char)s->name[i - 1];
    need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
    if (need > cont)
        s->name_len = i - 1;
}

static void string_end(srv_tool_stream *s)
{
    if (s->str_role == ROLE_KEY) {
        s->keybuf[s->key_len < (int)sizeof s->keybuf ? s->key_len : (int)sizeof s->keybuf - 1] = '\0';
        s->key[s->depth - 1] = (unsigned char)key_class(s);
    } else if (s->str_role == ROLE_NAME && !s->have_name) {
        name_trim_utf8(s);
        s->have_name = 1;
        start_call(s);
    }
    if (s->capturing && s->depth == s->call_depth)
        s->capturing = 0; /* the arguments were a string */
}

static int string_role(srv_tool_stream *s)
{
    int k;
    if (!top_is(s, '{'))
        return ROLE_NONE;
    if (s->state[s->depth - 1] == 0) {
        s->key_len = 0;
        return ROLE_KEY;
    }
    k = s->key[s->depth - 1];
    if (s->call_depth && s->depth == s->call_depth && k == KEY_NAME && !s->have_name) {
        s->name_len = 0;
        return ROLE_NAME;
    }
    if (!s->call_depth && s->depth == 1 && k == KEY_RESPONSE && generic_auto(s) && s->n_calls == 0) {
        s->content_sent = 1;
        return ROLE_RESPONSE;
    }
    return ROLE_NONE;
}

static int is_call_object(const srv_tool_stream *s)
{
    if (s->call_depth || s->n_calls >= XLLM_TOOL_MAX_CALLS)
        return 0;
    if (generic_auto(s))
        return s->depth == 2 && s->kind[0] == '{' && s->key[0] == KEY_TOOL_CALL;
    return s->depth == 1 || (s->depth == 2 && s->kind[0] == '[');
}

static void push(srv_tool_stream *s, char c)
{
    s->depth++;
    if (s->depth > XLLM_TOOL_JSON_MAX_DEPTH)
        return;
    s->kind[s->depth - 1] = (unsigned char)c;
    s->state[s->depth - 1] = 0;
    s->key[s->depth - 1] = KEY_OTHER;
    if (c == '{' && is_call_object(s)) {
        s->call_depth = s->depth;
        s->name_len = 0;
        s->have_name = 0;
        s->call_sent = 0;
        s->args.len = 0;
        s->args_sent = 0;
    }
}

static void pop(srv_tool_stream *s)
{
    if (s->depth == 0)
        return;
    if (s->call_depth && s->depth == s->call_depth)
        end_call(s);
    s->depth--;
    if (s->capturing && s->depth == s->call_depth)
        s->capturing = 0; /* the arguments object closed */
}

static int blank(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static void scan(srv_tool_stream *s, char c)
{
    if (s->in_str) {
        if (s->capturing)
            xllm_buf_append(&s->args, &c, 1);
        if (c == '"' && !s->esc) {
            s->in_str = 0;
            string_end(s);
        } else {
            string_char(s, c, s->esc);
            s->esc = !s->esc && c == '\\';
        }
        return;
    }
    if (s->capturing && s->depth == s->call_depth && (c == ',' || c == '}'))
        s->capturing = 0; /* a scalar value ended */
    if (!s->capturing && s->call_depth && s->depth == s->call_depth && top_is(s, '{') &&
        s->state[s->depth - 1] == 1 && s->key[s->depth - 1] == KEY_ARGS && s->args.len == 0 && !blank(c) &&
        c != ',' && c != '}')
        s->capturing = 1;
    if (s->capturing)
        xllm_buf_append(&s->args, &c, 1);
    switch (c) {
    case '"':
        s->in_str = 1;
        s->esc = 0;
        s->ulen = 0;
        s->str_role = string_role(s);
        break;
    case '{':
    case '[': push(s, c); break;
    case '}':
    case ']': pop(s); break;
    case ':':
        if (top_is(s, '{'))
            s->state[s->depth - 1] = 1;
        break;
    case ',':
        if (top_is(s, '{')) {
            s->state[s->depth - 1] = 0;
            s->key[s->depth - 1] = KEY_OTHER;
        }
        break;
    default: break;
    }
}

/* ---- top level: markers and the decision between text and calls ---- */

/* hold minus blanks and a leading call marker; *marked: a marker was there.
 * Returns 1 while the start could still become a marker. */
static int decide_rest(const srv_tool_stream *s, const char **rest, size_t *n)
{
    const char *p = s->hold.data, *end = p + s->hold.len;
    while (p < end && blank(*p))
        p++;
    for (size_t i = 0; i < sizeof MARKERS / sizeof MARKERS[0]; i++) {
        size_t m = strlen(MARKERS[i]), have = (size_t)(end - p);
        if (have < m && !memcmp(p, MARKERS[i], have))
            return 1;
        if (have >= m && !memcmp(p, MARKERS[i], m)) {
            p += m;
            while (p < end && blank(*p))
                p++;
            break;
        }
    }
    *rest = p;
    *n = (size_t)(end - p);
    return 0;
}

static void decide(srv_tool_stream *s)
{
    const char *rest;
    size_t n;
    if (decide_rest(s, &rest, &n) || n == 0)
        return;
    if (*rest == '{' || *rest == '[') {
        s->mode = MODE_JSON;
        for (size_t i = 0; i < n; i++)
            scan(s, rest[i]);
        return;
    }
    s->mode = MODE_CONTENT;
    add_content(s, s->hold.data, s->hold.len);
}

/* Hermes text: release what cannot begin "<tool_call>"; enter the call on it. */
static void outside(srv_tool_stream *s)
{
    size_t k = 0, n = s->hold.len, m = sizeof HERMES_OPEN - 1;
    if (n >= m && !memcmp(s->hold.data + n - m, HERMES_OPEN, m)) {
        if (s->n_calls == 0)
            add_content(s, s->hold.data, n - m);
        s->hold.len = 0;
        s->mode = MODE_SEGMENT;
        return;
    }
    while (k < n && memcmp(s->hold.data + k, HERMES_OPEN, n - k < m ? n - k : m))
        k++;
    if (k == 0)
        return;
    if (s->n_calls == 0)
        add_content(s, s->hold.data, k);
    memmove(s->hold.data, s->hold.data + k, n - k);
    s->hold.len = n - k;
    s->hold.data[s->hold.len] = '\0';
}

static void feed_char(srv_tool_stream *s, char c)
{
    switch (s->mode) {
    case MODE_CONTENT: add_content(s, &c, 1); break;
    case MODE_DECIDE:
        xllm_buf_append(&s->hold, &c, 1);
        decide(s);
        break;
    case MODE_JSON:
        xllm_buf_append(&s->hold, &c, 1);
        scan(s, c);
        break;
    case MODE_OUTSIDE:
        xllm_buf_append(&s->hold, &c, 1);
        outside(s);
        break;
    default: /* MODE_SEGMENT */
        scan(s, c);
        if (s->depth == 0 && !s->in_str && (c == '}' || c == ']'))
            s->mode = MODE_OUTSIDE;
        break;
    }
}

void srv_tool_stream_init(srv_tool_stream *s, const srv_tools *t, srv_tool_sink sink, void *ctx)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->sink = sink;
    s->ctx = ctx;
    xllm_buf_init(&s->hold, 0);
    xllm_buf_init(&s->content, 0);
    xllm_buf_init(&s->args, 0);
    s->mode = t->fmt == SRV_TF_HERMES ? MODE_OUTSIDE : t->fmt == SRV_TF_GENERIC ? MODE_JSON : MODE_DECIDE;
}

void srv_tool_stream_feed(srv_tool_stream *s, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        feed_char(s, text[i]);
    flush_content(s);
    flush_args(s);
}

void srv_tool_stream_finish(srv_tool_stream *s)
{
    if (s->mode == MODE_DECIDE || (s->mode == MODE_OUTSIDE && s->n_calls == 0))
        add_content(s, s->hold.data, s->hold.len);
    if (s->call_depth)
        end_call(s);
    if (s->mode == MODE_JSON && s->n_calls == 0 && !s->content_sent)
        add_content(s, s->hold.data, s->hold.len); /* JSON, but not a call */
    s->hold.len = 0;
    flush_content(s);
    flush_args(s);
}

void srv_tool_stream_free(srv_tool_stream *s)
{
    xllm_buf_free(&s->hold);
    xllm_buf_free(&s->content);
    xllm_buf_free(&s->args);
}

/* ---- the whole text at once ---- */

typedef struct parse_acc {
    const char *id_prefix;
    xllm_buf content;
    json_t *calls;
} parse_acc;

static void parse_sink(void *ctx, const srv_tool_delta *d)
{
    parse_acc *a = ctx;
    json_t *args;
    char id[64];
    if (d->kind == SRV_TD_CONTENT) {
        xllm_buf_append(&a->content, d->text, d->len);
        return;
    }
    if (d->kind != SRV_TD_CALL_END)
        return;
    args = json_loadb(d->text, d->len, 0, NULL);
    if (json_is_object(args)) {
        srv_make_id(a->id_prefix, id);
        json_array_append_new(a->calls, json_pack("{s:s,s:s,s:O}", "id", id, "name", d->name, "arguments", args));
    }
    json_decref(args);
}

json_t *srv_tools_parse(const srv_tools *t, const char *text, size_t len, const char *id_prefix, json_t **content)
{
    parse_acc a = {id_prefix, {0}, json_array()};
    srv_tool_stream s;
    xllm_buf_init(&a.content, 0);
    srv_tool_stream_init(&s, t, parse_sink, &a);
    srv_tool_stream_feed(&s, text ? text : "", text ? len : 0);
    srv_tool_stream_finish(&s);
    srv_tool_stream_free(&s);
    if (json_array_size(a.calls) == 0) {
        json_decref(a.calls);
        a.calls = NULL;
        if (a.content.len == 0) /* nothing parsed: the text is the answer */
            xllm_buf_append(&a.content, text ? text : "", text ? len : 0);
    }
    *content = json_stringn(a.content.data ? a.content.data : "", a.content.len);
    if (!*content)
        *content = json_string("");
    xllm_buf_free(&a.content);
    return a.calls;
}
