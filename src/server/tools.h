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

typedef struct srv_tools {
    json_t *tools;          /* [{type:"function", function:{name, description, parameters}}], NULL: none */
    srv_tool_choice choice;
    char named[128];        /* SRV_TOOL_NAMED */
    int parallel;           /* parallel_tool_calls (default 1) */
    srv_tool_format fmt;    /* set by srv_tools_setup */
} srv_tools;

/* tools / tool_choice / parallel_tool_calls of a request body. Anthropic's
 * {name, description, input_schema} and tool_choice {type: auto|any|tool|none}
 * are normalized to OpenAI's shape. Absent tools: t->tools NULL, returns 0. */
int srv_tools_decode(json_t *root, srv_api api, srv_tools *t, srv_err *e);
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

/* Tool calls in generated text: [{id, name, arguments (object)}] or NULL when
 * there are none; *content_len: the bytes of text before the first call (the
 * message content), or the reply's text for the generic format. *content
 * (generic "response", else NULL): a new string to use as the content. */
json_t *srv_tools_parse(const srv_tools *t, const char *text, size_t len, size_t *content_len, json_t **content);

struct srv_model;
/* A chat request's prompt, with its tools: decode the tools from root, pick
 * the format from the model's template, add the generic tool prompt to msgs
 * when the template knows no tools, set the call grammar (root, lazy
 * triggers) on g, and render msgs (with the tools) into g's prompt. */
int srv_tools_begin(struct srv_model *md, json_t *root, srv_api api, json_t *msgs, srv_tools *t, srv_gen_req *g,
                    srv_err *e);

/* A message's tool fields (tool_calls with arguments as objects, tool_call_id,
 * name) copied onto the plain message the template renders. */
void srv_tools_copy_message_fields(json_t *dst, json_t *src);

#endif
