/* progress.c - the stderr progress bar / progress lines of long CLI work. */
#include "cli/progress.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "base/sysinfo.h"

enum {
    BAR_WIDTH = 24,
};
#define REDRAW_SECONDS 0.1 /* terminal: at most 10 redraws a second */
#define LINE_SECONDS 10.0  /* not a terminal: one line every 10 s */

void xllm_progress_begin(xllm_progress *p, const char *label, const char *unit, uint64_t total, int quiet)
{
    memset(p, 0, sizeof *p);
    p->f = stderr;
    p->label = label ? label : "";
    p->unit = unit ? unit : "";
    p->total = total;
    p->quiet = quiet;
    p->tty = isatty(fileno(stderr));
    p->t_start = p->t_shown = xllm_now();
}

static int is_bytes(const xllm_progress *p) { return !strcmp(p->unit, "B"); }

/* Append printf output at *len, never past cap - 1. */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (*len + 1 >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

/* An amount in the progress's unit: "1234 tokens" or "1.2 GB". */
static void put_amount(const xllm_progress *p, char *buf, size_t cap, size_t *len, double v, int with_unit)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    if (!is_bytes(p)) {
        put(buf, cap, len, "%.0f%s%s", v, with_unit && p->unit[0] ? " " : "", with_unit ? p->unit : "");
        return;
    }
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    put(buf, cap, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void put_rate(const xllm_progress *p, char *buf, size_t cap, size_t *len, double rate)
{
    if (is_bytes(p)) {
        put_amount(p, buf, cap, len, rate, 1);
        put(buf, cap, len, "/s");
    } else {
        put(buf, cap, len, rate < 100 ? "%.1f %s/s" : "%.0f %s/s", rate, p->unit[0] ? p->unit : "units");
    }
}

size_t xllm_progress_format(const xllm_progress *p, double elapsed, char *buf, size_t cap)
{
    size_t len = 0;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    if (!cap)
        return 0;
    buf[0] = 0;
    put(buf, cap, &len, "%s ", p->label);
    if (p->total) {
        uint64_t done = p->done < p->total ? p->done : p->total;
        int fill = (int)((double)done / (double)p->total * BAR_WIDTH);
        put(buf, cap, &len, "%3d%% [", (int)(100.0 * (double)done / (double)p->total));
        for (int i = 0; i < BAR_WIDTH; i++)
            put(buf, cap, &len, "%c", i < fill ? '=' : i == fill ? '>' : ' ');
        put(buf, cap, &len, "] ");
        put_amount(p, buf, cap, &len, (double)p->done, is_bytes(p));
        put(buf, cap, &len, "/");
    }
    put_amount(p, buf, cap, &len, (double)(p->total ? p->total : p->done), 1);
    if (elapsed > 0 && p->done) {
        put(buf, cap, &len, "  ");
        put_rate(p, buf, cap, &len, rate);
    }
    if (p->total && rate > 0 && p->done < p->total) {
        double eta = (double)(p->total - p->done) / rate;
        put(buf, cap, &len, "  ETA %d:%02d", (int)(eta / 60), (int)eta % 60);
    }
    return len;
}

static void draw(xllm_progress *p, double now)
{
    char line[256];
    xllm_progress_format(p, now - p->t_start, line, sizeof line);
    if (p->tty)
        fprintf(p->f, "\r%s\033[K", line); /* erase what a longer earlier line left */
    else
        fprintf(p->f, "%s\n", line);
    fflush(p->f);
    p->t_shown = now;
    p->shown = 1;
}

void xllm_progress_set(xllm_progress *p, uint64_t done)
{
    double now;
    if (!p || p->quiet)
        return;
    p->done = done;
    now = xllm_now();
    if (now - p->t_shown >= (p->tty ? REDRAW_SECONDS : LINE_SECONDS))
        draw(p, now);
}

void xllm_progress_add(xllm_progress *p, uint64_t n)
{
    if (p)
        xllm_progress_set(p, p->done + n);
}

void xllm_progress_end(xllm_progress *p, int completed)
{
    char amount[64], rate[64] = "";
    size_t a = 0, r = 0;
    double now, dt;
    if (!p || p->quiet)
        return;
    if (!completed) {
        if (p->tty && p->shown)
            fputc('\n', p->f);
        return;
    }
    now = xllm_now();
    if (p->tty) {
        draw(p, now);
        fputc('\n', p->f);
        return;
    }
    dt = now - p->t_start;
    put_amount(p, amount, sizeof amount, &a, (double)p->done, 1);
    if (dt > 0)
        put_rate(p, rate, sizeof rate, &r, (double)p->done / dt);
    fprintf(p->f, "%s: done, %s in %.1f s%s%s%s\n", p->label, amount, dt, r ? " (" : "", rate, r ? ")" : "");
    fflush(p->f);
}
