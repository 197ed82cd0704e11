/* repl.c - the interactive loop of `xllm run`, as Ollama's: libedit line
 * editing with history in ~/.xllm/history, multi-line input between """
 * marks or after <<<WORD until a line WORD, slash commands (/set, /show,
 * /clear, /load, /save, /bye, /?), Ctrl-C stops the answer (not the loop). */
#include "cli/repl.h"

#include <editline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli/api_client.h"

static volatile sig_atomic_t generating;

static void on_sigint(int sig)
{
    (void)sig;
    if (generating)
        run_chat_interrupt();
}

static void history_path(char *p, size_t cap)
{
    const char *home = getenv("HOME");
    snprintf(p, cap, "%s/.xllm", home ? home : "/tmp");
    mkdir(p, 0755);
    snprintf(p + strlen(p), cap - strlen(p), "/history");
}

static void help(void)
{
    printf("Available Commands:\n"
           "  /set            Set session variables\n"
           "  /show           Show model information\n"
           "  /load <model>   Load a session or model\n"
           "  /save <model>   Save your current session\n"
           "  /clear          Clear session context\n"
           "  /bye            Exit\n"
           "  /?, /help       Help for a command\n\n"
           "Use \"\"\" to begin a multi-line message, or <<<WORD ... WORD.\n\n");
}

static void help_set(void)
{
    printf("Available Commands:\n"
           "  /set parameter ...     Set a parameter\n"
           "  /set system <string>   Set system message\n"
           "  /set verbose           Show LLM stats\n"
           "  /set quiet             Disable LLM stats\n\n"
           "Parameters: seed, num_predict, top_k, top_p, min_p, typical_p, repeat_last_n, temperature,\n"
           "repeat_penalty, presence_penalty, frequency_penalty, num_ctx, stop, ... (Ollama's names)\n\n");
}

static void cmd_set(run_chat *c, char *args)
{
    char *what = strtok(args, " \t"), *rest = what ? strtok(NULL, "") : NULL;
    if (!what) {
        help_set();
    } else if (!strcmp(what, "parameter")) {
        char *name = rest ? strtok(rest, " \t") : NULL, *value = name ? strtok(NULL, "") : NULL;
        if (!name || !value) {
            printf("Usage: /set parameter <name> <value>\n");
        } else if (run_chat_set_option(c, name, value) != XLLM_OK) {
            printf("error: %s\n", xllm_last_error());
        } else {
            printf("Set parameter '%s' to '%s'\n", name, value);
        }
    } else if (!strcmp(what, "system")) {
        xllm_free(c->system);
        c->system = rest ? xllm_strdup(rest) : NULL;
        printf("Set system message.\n");
    } else if (!strcmp(what, "verbose") || !strcmp(what, "quiet")) {
        c->verbose = !strcmp(what, "verbose");
        printf("Set '%s' mode.\n", what);
    } else {
        printf("Unknown command '/set %s'. Type /? for help\n", what);
    }
}

static void cmd_show(run_chat *c, const char *what)
{
    if (!what || !strcmp(what, "info")) {
        run_chat_show_info(c);
    } else if (!strcmp(what, "system")) {
        printf("%s\n", c->system ? c->system : "No system message was specified for this model.");
    } else if (!strcmp(what, "parameters")) {
        char *s = json_dumps(c->options, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        printf("Unknown command '/show %s'. Type /? for help\n", what);
    }
}

/* /save NAME: a new model from this one with the session's system prompt,
 * parameters and messages (POST /api/create). */
static void cmd_save(run_chat *c, const char *name)
{
    xllm_buf b;
    long status = 0;
    json_t *req;
    if (!name || c->in) {
        printf(c->in ? "/save needs a model served by the xllm server (not a local file)\n"
                     : "Usage: /save <modelname>\n");
        return;
    }
    req = json_pack("{s:s,s:s,s:O,s:O,s:b}", "model", name, "from", c->model, "parameters", c->options, "messages",
                    c->messages, "stream", 0);
    if (c->system)
        json_object_set_new(req, "system", json_string(c->system));
    xllm_buf_init(&b, 1u << 20);
    if (cli_api_call("POST", "/api/create", req, &status, &b) != XLLM_OK || status != 200)
        printf("error: could not save '%s' (%s)\n", name, status ? b.data ? b.data : "" : xllm_last_error());
    else
        printf("Created new model '%s'\n", name);
    json_decref(req);
    xllm_buf_free(&b);
}

static void cmd_load(run_chat *c, const char *name)
{
    run_chat next;
    if (!name) {
        printf("Usage: /load <modelname>\n");
        return;
    }
    if (run_chat_open(&next, name, c->n_threads, c->n_ctx, c->kv_type) != XLLM_OK) {
        printf("error: %s\n", xllm_last_error());
        run_chat_close(&next);
        return;
    }
    printf("Loading model '%s'\n", name);
    run_chat_close(c);
    *c = next;
}

/* 1 when the REPL should end. */
static int slash_command(run_chat *c, char *line)
{
    char *cmd = strtok(line, " \t"), *args = strtok(NULL, "");
    if (!strcmp(cmd, "/bye") || !strcmp(cmd, "/exit"))
        return 1;
    if (!strcmp(cmd, "/?") || !strcmp(cmd, "/help"))
        help();
    else if (!strcmp(cmd, "/set"))
        cmd_set(c, args ? args : (char[]){0});
    else if (!strcmp(cmd, "/show"))
        cmd_show(c, args ? strtok(args, " \t") : NULL);
    else if (!strcmp(cmd, "/clear")) {
        run_chat_clear(c);
        printf("Cleared session context\n");
    } else if (!strcmp(cmd, "/load"))
        cmd_load(c, args ? strtok(args, " \t") : NULL);
    else if (!strcmp(cmd, "/save"))
        cmd_save(c, args ? strtok(args, " \t") : NULL);
    else
        printf("Unknown command '%s'. Type /? for help\n", cmd);
    return 0;
}

/* Lines until the closing mark: """ at the end of a line, or a line equal
 * to word. The opening line's text after the mark starts the message. */
static int read_multiline(xllm_buf *msg, const char *first, const char *word)
{
    char *line;
    if (first && *first)
        xllm_buf_puts(msg, first);
    while ((line = readline("... ")) != NULL) {
        size_t n = strlen(line);
        int end = word ? !strcmp(line, word) : n >= 3 && !strcmp(line + n - 3, "\"\"\"");
        if (!(word && end)) { /* the closing WORD line is not part of the message */
            if (msg->len)
                xllm_buf_puts(msg, "\n");
            xllm_buf_append(msg, line, end ? n - 3 : n);
        }
        free(line);
        if (end)
            return 0;
    }
    return -1;
}

int cli_repl(run_chat *c)
{
    char hist[1024], *line;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    history_path(hist, sizeof hist);
    using_history();
    read_history(hist);
    printf("Type /? for help, /bye to exit.\n");
    while ((line = readline(">>> ")) != NULL) {
        xllm_buf msg;
        int quit = 0;
        xllm_buf_init(&msg, 64u << 20);
        if (!strncmp(line, "\"\"\"", 3)) {
            if (read_multiline(&msg, line + 3, NULL))
                quit = 1;
        } else if (!strncmp(line, "<<<", 3) && line[3] && !strchr(line + 3, ' ')) {
            if (read_multiline(&msg, NULL, line + 3))
                quit = 1;
        } else {
            xllm_buf_puts(&msg, line);
        }
        if (msg.len)
            add_history(msg.data);
        free(line);
        if (!quit && msg.len && msg.data[0] == '/') {
            quit = slash_command(c, msg.data);
        } else if (!quit && msg.len) {
            generating = 1;
            if (run_chat_turn(c, msg.data) != XLLM_OK)
                fprintf(stderr, "Error: %s\n", xllm_last_error());
            generating = 0;
        }
        xllm_buf_free(&msg);
        if (quit)
            break;
    }
    write_history(hist);
    return 0;
}
