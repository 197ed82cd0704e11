/* run_chat.h - one conversation of `xllm run`: its model, history, system
 * prompt and options, and a turn that sends the user's text and streams the
 * answer to stdout. Two backends behind the same calls: a server (model
 * names: POST /api/chat, as Ollama's CLI does) or an in-process instance
 * (a local file: the model's chat template when it has one, else the text is
 * continued as is).
 *
 * Ownership: the conversation owns its JSON, instance and template.
 * Threading: one thread; run_chat_interrupt may be called from a signal
 * handler to stop the answer in progress. */
#ifndef XLLM_CLI_RUN_CHAT_H
#define XLLM_CLI_RUN_CHAT_H

#include <jansson.h>

#include "base/status.h"
#include "runtime/instance.h"
#include "template/chat_template.h"

typedef struct run_chat {
    char *model;                 /* name (server) or path (in-process) */
    xllm_instance *in;           /* in-process backend, else NULL */
    xllm_gguf *g;                /* in-process: the model's metadata (template, special tokens) */
    xllm_chat_template *tmpl;    /* in-process: NULL = plain continuation */
    json_t *messages;            /* [{role, content}], the history */
    json_t *options;             /* Ollama option names -> values (/set parameter) */
    char *system;                /* /set system, or NULL */
    int verbose;                 /* /set verbose: timings after each answer */
    int raw;                     /* no template: the text is continued as given, no history */
    int n_threads, n_ctx;
    int32_t kv_type;
} run_chat;

/* path_or_name: a file or directory that exists -> in-process; else a server
 * model name (the server must answer; see cli_api_ensure_server). */
xllm_status run_chat_open(run_chat *c, const char *path_or_name, int n_threads, int n_ctx, int32_t kv_type);
void run_chat_close(run_chat *c);
/* Send text as the user's message and stream the answer to stdout (history
 * kept). An interrupt stops the answer; what was said so far is kept. */
xllm_status run_chat_turn(run_chat *c, const char *text);
/* Set an Ollama option by name from text ("temperature", "0.2"); errors name
 * the parameter and the expected type. */
xllm_status run_chat_set_option(run_chat *c, const char *name, const char *value);
void run_chat_clear(run_chat *c);         /* forget the history */
void run_chat_show_info(const run_chat *c); /* /show info */
void run_chat_interrupt(void);

#endif
