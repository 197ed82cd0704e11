/* api_client.h - the CLI's side of the HTTP API, as Ollama's CLI talks to its
 * server: the server's address (XLLM_HOST: "host:port" or a URL; default
 * 127.0.0.1:32769), JSON requests, NDJSON streams delivered line by line, and
 * starting a local server in the background when none answers.
 *
 * Ownership: replies are caller buffers (xllm_buf). Threading: one request at
 * a time per thread; cli_api_interrupt may be called from a signal handler to
 * abort the transfer in progress. */
#ifndef XLLM_CLI_API_CLIENT_H
#define XLLM_CLI_API_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

/* "http://host:port" without a trailing slash (static storage, rebuilt from
 * XLLM_HOST on every call). */
const char *cli_api_base(void);

/* method "GET"/"POST"/"DELETE"; body may be NULL. *status gets the HTTP status;
 * the reply body goes to out (may be NULL). Transport failures are XLLM_ERR_IO
 * with the address in the message. */
xllm_status cli_api_call(const char *method, const char *path, const json_t *body, long *status, xllm_buf *out);

/* POST body and call on_line for every line of an NDJSON reply, parsed; a
 * non-zero return from on_line stops the transfer. An HTTP error status
 * becomes XLLM_ERR_INVALID_ARGUMENT (4xx) or XLLM_ERR_INTERNAL (5xx) with the
 * server's "error" text; an interrupt gives XLLM_ERR_CANCELLED. */
xllm_status cli_api_stream(const char *path, const json_t *body, int (*on_line)(void *user, json_t *line),
                           void *user);

/* Abort the transfer in progress (async-signal-safe). */
void cli_api_interrupt(void);

/* 1 if a server answers at cli_api_base(). */
int cli_api_alive(void);
/* Make sure a server answers: if none does and the address is this machine,
 * start `self serve` detached (log in ~/.xllm/logs/server.log) and wait for
 * it (up to 30 s). self: the path of the running xllm binary. */
xllm_status cli_api_ensure_server(const char *self);

#endif
