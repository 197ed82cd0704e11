/* tools.h - function calling for the chat APIs: the request's tools and
 * tool_choice (OpenAI, Ollama and Anthropic shapes) in one form, which call
 * format the model's template speaks (Hermes/Qwen <tool_call>, Llama 3.x JSON,
 * Mistral [TOOL_CALLS] JSON lists, or a generic JSON form for templates that
 * know no tools), the grammar that makes the calls valid (always for
 * `required` and a named function; once the call starts for `auto`), and the
 * calls parsed back out of the generated text.
 *
 * Ownership: srv_tools owns its JSON (srv_tools_free); returned JSON values
 * are new references. Threading: no shared state. */
#ifndef XLLM_SERVER_TOOLS_H
#define XLLM_SERVER_TOOLS_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/limits.h"
#include "server/params.h"

typedef enum srv_tool_choice {
    SRV_TOOL_AUTO = 0,
    SRV_TOOL_NONE,
    SRV_TOOL_REQUIRED,
    SRV_TOOL_NAMED,
} srv_tool_choice;

typedef enum srv_tool_format {
    SRV_TF_GENERIC = 0, /* auto: {"tool_call": {"name", "arguments"}} | {"response": text} with the tools in a
                           system message; required / named: the bare {"name", "arguments"} (grammar only) */
    SRV_TF_HERMES,      /* <tool_call>\n{"name", "arguments"}\n</tool_call> (Hermes, Qwen 2.5 / 3) */
    SRV_TF_LLAMA3,      /* {"name", "parameters"} (Llama 3.1-3.3 JSON tool calling) */
    SRV_TF_MISTRAL,     /* [TOOL_CALLS] [{"name", "arguments"}, ...] */
} srv_tool_format;

/* The request shape tools come in (field names differ; Ollama is lenient). */
typedef enum srv_tools_shape {
    SRV_TS_CHAT = 0,  /* OpenAI chat: {type:"function", function:{name, description, parameters, strict}} */
    SRV_TS_OLLAMA,    /* Ollama /api/chat: the chat shape, unknown fields ignored */
    SRV_TS_ANTHROPIC, /* {name, description, input_schema}; tool_choice {type, name, disable_parallel_tool_use} */
    SRV_TS_RESPONSES, /* {type:"function", name, description, parameters, strict}; tool_choice {type, name} */
} srv_tools_shape;

typedef struct srv_tools {
    json_t *tools;          /* [{type:"function", function:{name, description, parameters}}], NULL: none */
    srv_tool_choice choice;
    char named[128];        /* SRV_TOOL_NAMED */
    int parallel;           /* parallel_tool_calls (default 1) */
    srv_tool_format fmt;    /* set by srv_tools_setup */
} srv_tools;

/* tools / tool_choice / parallel_tool_calls of a request body in its shape,
 * normalized to OpenAI's chat shape. An unknown field, a name that is not
 * [a-zA-Z0-9_-]{1,64} or a tool type other than a function is a 400 naming
 * the field. Absent tools: t->tools NULL, returns 0. */
int srv_tools_decode(json_t *root, srv_tools_shape shape, srv_tools *t, srv_err *e);
void srv_tools_free(srv_tools *t);
int srv_tools_active(const srv_tools *t); /* tools given and choice not none */

/* Pick the call format from the template text (NULL: generic) and, for the
 * generic format, add a system message describing the tools to messages. */
int srv_tools_setup(srv_tools *t, const char *template_src, json_t *messages, srv_err *e);

/* The output grammar for the choice: *gbnf (heap) and *root (static or NULL
 * = "root"), and for `auto` the trigger words (static strings) after which
 * it applies (n 0: enforced from the start). Sets nothing when no grammar is
 * needed. */
int srv_tools_grammar(const srv_tools *t, char **gbnf, const char **root, const char *const **triggers,
                      int *n_triggers, srv_err *e);

/* ---- calls out of generated text (tool_stream.c) ----
 *
 * One incremental parser serves every API, streamed or not. Text is fed as
 * it is generated; the sink gets, in order: CONTENT (message text: what
 * precedes the first call; the decoded "response" string of the generic
 * format), CALL (a call starts: index, name; always before its arguments),
 * ARGS (raw fragments of the call's arguments JSON, joined they are the
 * arguments text) and CALL_END (the call's whole arguments text).
 * Deciding early: Hermes streams content up to a possible "<tool_call>"
 * (only a partial marker at the end is held); Llama 3 / Mistral decide at the
 * first non-blank character ('{' or '[' or their markers: a call, held until
 * its name is known; anything else: content, streamed); the generic format is
 * always JSON. Text after the first call is not content. Arguments stream
 * once the call's name is known (held before that, when a model writes them
 * first). */
typedef enum srv_tool_delta_kind {
    SRV_TD_CONTENT = 0,
    SRV_TD_CALL,
    SRV_TD_ARGS,
    SRV_TD_CALL_END,
} srv_tool_delta_kind;

typedef struct srv_tool_delta {
    srv_tool_delta_kind kind;
    int index;          /* CALL, ARGS, CALL_END: the call's index (0, 1, ...) */
    const char *name;   /* CALL */
    const char *text;   /* CONTENT, ARGS: the fragment; CALL_END: all arguments */
    size_t len;
} srv_tool_delta;

typedef void (*srv_tool_sink)(void *ctx, const srv_tool_delta *d);

typedef struct srv_tool_stream {
    const srv_tools *t;
    srv_tool_sink sink;
    void *ctx;
    int mode;               /* MODE_* in tool_stream.c */
    xllm_buf hold;          /* text not decided yet (marker prefix; JSON that may not be a call) */
    xllm_buf content;       /* content of this feed, not yet sent */
    xllm_buf args;          /* the current call's arguments text */
    size_t args_sent;
    char name[128];
    int name_len, have_name, call_sent, n_calls, content_sent, capturing;
    /* the JSON scanner */
    int depth, call_depth, in_str, esc, str_role;
    unsigned char kind[XLLM_TOOL_JSON_MAX_DEPTH];  /* '{' or '[' per level */
    unsigned char state[XLLM_TOOL_JSON_MAX_DEPTH]; /* objects: expecting a key (0) or a value (1) */
    unsigned char key[XLLM_TOOL_JSON_MAX_DEPTH];   /* objects: the current key's class */
    char keybuf[16];
    int key_len;
    char ubuf[8];           /* a \uXXXX escape of a decoded string being read */
    int ulen;
    unsigned hi_surrogate;
} srv_tool_stream;

/* Start parsing the output of a request with active tools. */
void srv_tool_stream_init(srv_tool_stream *s, const srv_tools *t, srv_tool_sink sink, void *ctx);
/* Feed generated text; deltas decided by it go to the sink before return. */
void srv_tool_stream_feed(srv_tool_stream *s, const char *text, size_t len);
/* The end of the output: held text goes out as content, an unfinished call
 * ends (its arguments may then be incomplete JSON). */
void srv_tool_stream_finish(srv_tool_stream *s);
void srv_tool_stream_free(srv_tool_stream *s);

/* The whole text at once: [{id (id_prefix + random), name, arguments
 * (object)}] or NULL when there is no call whose arguments are a JSON
 * object; *content: a new string, the message text ("" when there is none
 * beside calls; the whole text when nothing parsed). */
json_t *srv_tools_parse(const srv_tools *t, const char *text, size_t len, const char *id_prefix, json_t **content);

struct srv_model;
/* A chat request's prompt, with its tools: decode the tools from root, pick
 * the format from the model's template, add the generic tool prompt to msgs
 * when the template knows no tools, set the call grammar (root, lazy
 * triggers) on g, and render msgs (with the tools) into g's prompt. */
int srv_tools_begin(struct srv_model *md, json_t *root, srv_tools_shape shape, json_t *msgs, srv_tools *t,
                    srv_gen_req *g, srv_err *e);

/* History with tool calls (tool_messages.c), into OpenAI chat messages for
 * srv_decode_messages (*out: new reference). Anthropic: assistant tool_use
 * blocks become tool_calls, user tool_result blocks tool messages (content a
 * string or blocks; is_error prefixes "Error: "); a messages value that is no
 * list is passed on for srv_decode_messages to report. Responses API: message
 * items as they are, function_call items assistant tool_calls (consecutive
 * ones one turn), function_call_output items tool messages. A malformed
 * item is a 400 naming it. */
int srv_tools_anthropic_history(json_t *messages, json_t **out, srv_err *e);
int srv_tools_responses_input(json_t *input, json_t **out, srv_err *e);
/* Tool messages without a name get the name of the call they answer. */
void srv_tools_fill_tool_names(json_t *msgs);

/* A message's tool fields (tool_calls with arguments as objects, tool_call_id,
 * name) copied onto the plain message the template renders. */
void srv_tools_copy_message_fields(json_t *dst, json_t *src);

#endif
