/* progress.h - progress of long CLI work (perplexity, benchmark runs, later
 * downloads) on stderr: on a terminal a bar with percent, count, rate and ETA
 * redrawn in place with '\r' (at most 10 times a second); otherwise a plain
 * line every 10 s and one at the end, so logs stay readable.
 *
 * A progress value is plain data owned by the caller (usually on the stack);
 * nothing is allocated. Threading: one thread drives one progress. */
#ifndef XLLM_CLI_PROGRESS_H
#define XLLM_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct xllm_progress {
    FILE *f;            /* stderr */
    const char *label;  /* "perplexity", "pulling 3f2a..." */
    const char *unit;   /* "tokens"; "B" shows sizes and speeds in kB/MB/GB */
    uint64_t total;     /* 0 = unknown (no bar, no percent, no ETA) */
    uint64_t done;
    double t_start;     /* xllm_now() at begin */
    double t_shown;     /* last redraw (terminal) or line (otherwise) */
    int tty;            /* f is a terminal: redraw a bar */
    int quiet;          /* show nothing */
    int shown;          /* something was drawn (terminal: a bar line is open) */
} xllm_progress;

/* Start showing progress of total units on stderr (quiet: show nothing). */
void xllm_progress_begin(xllm_progress *p, const char *label, const char *unit, uint64_t total, int quiet);
/* Report n more units done / the absolute count; redraws when due. NULL p is a no-op. */
void xllm_progress_add(xllm_progress *p, uint64_t n);
void xllm_progress_set(xllm_progress *p, uint64_t done);
/* The work is over. completed: the terminal bar is drawn a last time and
 * ended with a newline, otherwise one summary line (count, time, rate) is
 * printed. Not completed (an error follows): only the open bar line is ended.
 * NULL p is a no-op. */
void xllm_progress_end(xllm_progress *p, int completed);

/* The bar line (terminal form, without '\r') as it would be drawn elapsed
 * seconds after begin, into buf[cap] (always NUL-terminated). Returns the
 * length written. Exposed for tests. */
size_t xllm_progress_format(const xllm_progress *p, double elapsed, char *buf, size_t cap);

#endif
