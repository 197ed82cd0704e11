/* pull_progress.c - Ollama-style pull progress: spinners, bars, plain lines. */
#include "cli/pull_progress.h"

#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "cli/humanize.h"

#define MAX_LINES 256
#define RATE_SAMPLES 10

typedef struct line {
    char key[96];     /* digest (bars) or status text (spinners) */
    char message[128];
    int is_bar, stopped, printed;
    uint64_t total, current, initial;
    double started, stopped_at;
    double sample_t[RATE_SAMPLES];
    uint64_t sample_v[RATE_SAMPLES];
    int n_samples;
} line;

struct cli_pull_progress {
    FILE *out;
    int tty, width, drawn, spin;
    double last_draw;
    line lines[MAX_LINES];
    int n;
    char status[128];
};

static const char *spinner_parts[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

cli_pull_progress *cli_pull_progress_new(FILE *out, int tty, int width)
{
    cli_pull_progress *p = xllm_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    p->tty = tty;
    p->width = width > 0 ? width : 80;
    if (tty)
        fputs("\033[?25l", out);
    return p;
}

static void repeat(char **w, char *end, const char *s, int n)
{
    size_t len = strlen(s);
    for (int i = 0; i < n && *w + len < end; i++) {
        memcpy(*w, s, len);
        *w += len;
    }
    **w = 0;
}

/* Columns of a UTF-8 string (each code point one column here). */
static int columns(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void cli_pull_bar_line(char *buf, size_t cap, const char *message, uint64_t current, uint64_t total, double rate,
                       int stopped, int width)
{
    char pre[256], suf[128], v[32], m[32], *w, *end;
    double pct = total ? (double)current / (double)total * 100.0 : 0.0;
    int f, n;
    snprintf(pre, sizeof pre, "%s %3.0f%%", message, pct);
    w = suf;
    end = suf + sizeof suf - 1;
    cli_human_bytes((int64_t)total, m, sizeof m);
    if (!stopped) {
        cli_human_bytes((int64_t)current, v, sizeof v);
        repeat(&w, end, " ", 6 - (int)strlen(v));
        w += snprintf(w, (size_t)(end - w), "%s/", v);
        repeat(&w, end, " ", 6 - (int)strlen(m));
        w += snprintf(w, (size_t)(end - w), "%s", m);
    } else {
        repeat(&w, end, " ", 6 - (int)strlen(m));
        w += snprintf(w, (size_t)(end - w), "%s", m);
        repeat(&w, end, " ", 7);
    }
    if (!stopped && rate > 0) {
        char r[32], d[32];
        int64_t left = (int64_t)((double)(total - current) / rate);
        cli_human_bytes((int64_t)rate, r, sizeof r);
        w += snprintf(w, (size_t)(end - w), "  ");
        repeat(&w, end, " ", 6 - (int)strlen(r));
        w += snprintf(w, (size_t)(end - w), "%s/s  ", r);
        cli_short_duration(left, d, sizeof d);
        repeat(&w, end, " ", 6 - (int)strlen(d));
        w += snprintf(w, (size_t)(end - w), "%s", d);
    } else {
        repeat(&w, end, " ", 18);
    }
    /* 5: the two bar ends and a space on each side */
    f = width - columns(pre) - columns(suf) - 5;
    n = (int)((double)f * pct / 100.0);
    w = buf;
    end = buf + cap - 1;
    w += snprintf(w, cap, "%s ▕", pre);
    repeat(&w, end, "█", n);
    repeat(&w, end, " ", f - n);
    if (w + strlen(suf) + 8 < end)
        w += sprintf(w, "▏ %s", suf);
    *w = 0;
}

static double line_rate(const line *l)
{
    double num = 0, den = 0;
    if (l->stopped) {
        num = (double)(l->current - l->initial);
        den = (double)(long long)(l->stopped_at - l->started + 0.5);
    } else if (l->n_samples >= 2) {
        num = (double)(l->sample_v[l->n_samples - 1] - l->sample_v[0]);
        den = (double)(long long)(l->sample_t[l->n_samples - 1] - l->sample_t[0] + 0.5);
    } else if (l->n_samples == 1) {
        num = (double)(l->sample_v[0] - l->initial);
        den = (double)(long long)(l->sample_t[0] - l->started + 0.5);
    }
    return den > 0 ? num / den : 0;
}

static void render_line(cli_pull_progress *p, const line *l, char *buf, size_t cap)
{
    if (l->is_bar)
        cli_pull_bar_line(buf, cap, l->message, l->current, l->total, line_rate(l), l->stopped, p->width);
    else if (!l->stopped)
        snprintf(buf, cap, "%s %s ", l->message, spinner_parts[p->spin % 10]);
    else
        snprintf(buf, cap, "%s ", l->message);
}

static void draw(cli_pull_progress *p, int force)
{
    char buf[2048];
    double t = now_s();
    if (!p->tty || (!force && t - p->last_draw < 0.1))
        return;
    p->last_draw = t;
    p->spin++;
    if (p->drawn > 1)
        fprintf(p->out, "\033[%dA", p->drawn - 1);
    fputc('\r', p->out);
    for (int i = 0; i < p->n; i++) {
        render_line(p, &p->lines[i], buf, sizeof buf);
        fprintf(p->out, "\033[K%s%s", buf, i + 1 < p->n ? "\n" : "");
    }
    p->drawn = p->n;
    fflush(p->out);
}

static void plain_finish(cli_pull_progress *p, line *l)
{
    char size[32];
    if (p->tty || l->printed)
        return;
    l->printed = 1;
    if (l->is_bar) {
        cli_human_bytes((int64_t)l->total, size, sizeof size);
        fprintf(p->out, "%s 100%% %s\n", l->message, size);
    }
    fflush(p->out);
}

static void stop_spinners(cli_pull_progress *p)
{
    for (int i = 0; i < p->n; i++)
        if (!p->lines[i].is_bar)
            p->lines[i].stopped = 1;
}

static line *add_line(cli_pull_progress *p, const char *key)
{
    line *l;
    if (p->n == MAX_LINES) /* keep going; the oldest line is reused */
        memmove(&p->lines[0], &p->lines[1], sizeof(line) * (MAX_LINES - 1)), p->n--;
    l = &p->lines[p->n++];
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "%s", key);
    l->started = now_s();
    return l;
}

static void bar_event(cli_pull_progress *p, const xllm_pull_event *ev)
{
    line *l = NULL;
    double t = now_s();
    for (int i = 0; i < p->n && !l; i++)
        if (p->lines[i].is_bar && !strcmp(p->lines[i].key, ev->digest))
            l = &p->lines[i];
    if (!l) {
        const char *name = !strncmp(ev->digest, "sha256:", 7) ? ev->digest + 7 : ev->digest;
        stop_spinners(p);
        l = add_line(p, ev->digest);
        l->is_bar = 1;
        snprintf(l->message, sizeof l->message, "pulling %.12s:", name);
        l->initial = l->current = ev->completed;
    }
    l->total = ev->total;
    l->current = ev->completed > ev->total ? ev->total : ev->completed;
    if (l->n_samples == 0 || t - l->sample_t[l->n_samples - 1] > 1.0) {
        if (l->n_samples == RATE_SAMPLES) {
            memmove(l->sample_t, l->sample_t + 1, sizeof(double) * (RATE_SAMPLES - 1));
            memmove(l->sample_v, l->sample_v + 1, sizeof(uint64_t) * (RATE_SAMPLES - 1));
            l->n_samples--;
        }
        l->sample_t[l->n_samples] = t;
        l->sample_v[l->n_samples++] = l->current;
    }
    if (l->current >= l->total && !l->stopped) {
        l->stopped = 1;
        l->stopped_at = t;
        plain_finish(p, l);
        draw(p, 1);
        return;
    }
    draw(p, 0);
}

void cli_pull_progress_event(const xllm_pull_event *ev, void *ud)
{
    cli_pull_progress *p = ud;
    if (!p)
        return;
    if (ev->digest) {
        /* Ollama draws a bar from the first event with bytes in it. */
        if (ev->completed == 0 && ev->total != 0)
            return;
        bar_event(p, ev);
        return;
    }
    if (!strcmp(p->status, ev->status))
        return;
    snprintf(p->status, sizeof p->status, "%s", ev->status);
    stop_spinners(p);
    {
        line *l = add_line(p, ev->status);
        snprintf(l->message, sizeof l->message, "%s", ev->status);
        if (!p->tty)
            fprintf(p->out, "%s\n", ev->status), fflush(p->out), l->printed = 1;
    }
    draw(p, 1);
}

void cli_pull_progress_free(cli_pull_progress *p)
{
    if (!p)
        return;
    stop_spinners(p);
    if (p->tty) {
        draw(p, 1);
        fputs("\n\033[?25h", p->out);
        fflush(p->out);
    }
    xllm_free(p);
}
