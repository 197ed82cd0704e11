/* pull_progress.h - draws xllm_pull_event progress as Ollama's CLI does. On a
 * terminal: one line per status (a spinner while it is the current one) and
 * one bar per layer, "pulling 0123456789ab:  45% ▕████      ▏ 1.2 GB/2.0 GB
 *  34 MB/s     12s", redrawn in place at most every 100 ms. Not on a
 * terminal: plain lines, one per status and one per finished layer
 * ("pulling 0123456789ab: 100% 2.0 GB"). The events come from the store
 * library now, and will come decoded from a server's /api/pull NDJSON later;
 * the renderer does not care which. Owned by the caller; one thread. */
#ifndef XLLM_CLI_PULL_PROGRESS_H
#define XLLM_CLI_PULL_PROGRESS_H

#include <stdio.h>

#include "store/pull.h"

typedef struct cli_pull_progress cli_pull_progress;

/* tty: draw bars (else plain lines); width: terminal columns (<= 0: 80). */
cli_pull_progress *cli_pull_progress_new(FILE *out, int tty, int width);
/* An xllm_pull_fn: pass the progress object as ud. */
void cli_pull_progress_event(const xllm_pull_event *ev, void *ud);
/* Final redraw (bars as finished) and cleanup; NULL-safe. */
void cli_pull_progress_free(cli_pull_progress *p);

/* One bar line as Ollama renders it (exposed for tests): message, values,
 * rate in bytes/s (<= 0: none), stopped (1: finished), terminal width. */
void cli_pull_bar_line(char *buf, size_t cap, const char *message, uint64_t current, uint64_t total, double rate,
                       int stopped, int width);

#endif
