/* store_cli.h - what the store commands (pull, list, show, rm, cp, create,
 * export, import) share: opening the store at XLLM_MODELS_DIR / ~/.xllm/models
 * with a plain error, and the pull entry point that the commands call (today
 * the store library in-process; when a server is running, the same events
 * will come from its /api/pull). */
#ifndef XLLM_CLI_STORE_CLI_H
#define XLLM_CLI_STORE_CLI_H

#include "store/pull.h"
#include "store/store.h"

/* Open the store or print "xllm CMD: ..." and return NULL. */
xllm_store *cli_store_open(const char *cmd);

/* Pull NAME with Ollama's progress on stdout; Ctrl-C (or SIGTERM) cancels it
 * cleanly (partial files removed, XLLM_ERR_CANCELLED). Returns the status
 * (the message is left in xllm_last_error for the caller to print). */
xllm_status cli_pull(xllm_store *s, const char *name);

/* The file or directory to load for a MODEL argument: the path itself when
 * it exists, else the store name's model blob (or safetensors directory).
 * Heap string (xllm_free). */
xllm_status cli_model_path(const char *arg, char **out);

#endif
