/* prom_check.h - a line-by-line checker of the Prometheus text exposition
 * format (version 0.0.4), written from the format's rules, for the tests of
 * `xllm benchmark --prometheus`:
 *   - the text ends with a newline; empty lines are ignored; '#' lines other
 *     than HELP / TYPE are comments;
 *   - "# HELP name text": valid metric name, text escapes only \\ and \n, at
 *     most one HELP per name;
 *   - "# TYPE name type": type is counter, gauge, histogram, summary or
 *     untyped, at most one per name, before any sample of that name;
 *   - sample: name [ "{" label="value" { "," label="value" } [","] "}" ]
 *     " " value [ " " timestamp ]; names [a-zA-Z_:][a-zA-Z0-9_:]*, label
 *     names [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" and not repeated
 *     in a sample, label values escape only \\ \" \n; the value is a float
 *     (or NaN, +Inf, -Inf), the timestamp an integer;
 *   - the samples of one metric family are contiguous; no series twice;
 *   - a histogram's samples are name_bucket (with le), name_sum and
 *     name_count; a summary's name (with quantile), name_sum, name_count.
 * Stricter than the format, as our output promises: every sample's family
 * has HELP and TYPE before it, and every name starts with `prefix`.
 * Header-only (static functions). */
#ifndef XLLM_TEST_PROM_CHECK_H
#define XLLM_TEST_PROM_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_FAMILIES 256
#define PROM_MAX_SERIES 2048

typedef struct prom_family_state {
    char name[128];
    int help, type, sampled, closed;
    int kind; /* index in the TYPE names + 1 (3 histogram, 4 summary) */
} prom_family_state;

typedef struct prom_state {
    prom_family_state fam[PROM_MAX_FAMILIES];
    int n_fam, current;
    char *series[PROM_MAX_SERIES];
    int n_series;
    char *err;
    size_t errcap;
    int line;
} prom_state;

static int prom_err(prom_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int prom_err(prom_state *s, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(s->err, s->errcap, "line %d: ", s->line);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < s->errcap)
        vsnprintf(s->err + n, s->errcap - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int prom_name_start(char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int prom_name_char(char c, int colon) { return prom_name_start(c, colon) || (c >= '0' && c <= '9'); }

/* Length of the (metric, colon = 1; label, colon = 0) name at p, 0 if none. */
static size_t prom_name_len(const char *p, int colon)
{
    size_t n = 0;
    if (!prom_name_start(p[0], colon))
        return 0;
    while (prom_name_char(p[n], colon))
        n++;
    return n;
}

static prom_family_state *prom_family(prom_state *s, const char *name, size_t len, int create)
{
    for (int i = 0; i < s->n_fam; i++)
        if (strlen(s->fam[i].name) == len && !strncmp(s->fam[i].name, name, len))
            return &s->fam[i];
    if (!create || s->n_fam == PROM_MAX_FAMILIES || len >= sizeof s->fam[0].name)
        return NULL;
    memset(&s->fam[s->n_fam], 0, sizeof s->fam[0]);
    memcpy(s->fam[s->n_fam].name, name, len);
    return &s->fam[s->n_fam++];
}

static int prom_float(const char *p, size_t len)
{
    char buf[64], *end;
    if (!len || len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = 0;
    if (!strcmp(buf, "NaN") || !strcmp(buf, "+Inf") || !strcmp(buf, "-Inf"))
        return 1;
    if (strpbrk(buf, "nNiI")) /* strtod would take "nan", "inf": the format spells them as above */
        return 0;
    strtod(buf, &end);
    return *end == 0;
}

static int prom_comment(prom_state *s, const char *p, const char *prefix)
{
    int is_help = !strncmp(p, "# HELP ", 7), is_type = !strncmp(p, "# TYPE ", 7);
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    prom_family_state *f;
    size_t n;
    if (!is_help && !is_type)
        return 0;
    p += 7;
    if (!(n = prom_name_len(p, 1)) || (p[n] != ' ' && p[n] != 0))
        return prom_err(s, "bad metric name in HELP/TYPE");
    if (strncmp(p, prefix, strlen(prefix)))
        return prom_err(s, "metric name without the prefix %s", prefix);
    if (!(f = prom_family(s, p, n, 1)))
        return prom_err(s, "too many families");
    if (f->sampled)
        return prom_err(s, "HELP/TYPE of %s after its samples", f->name);
    if ((is_help && f->help++) || (is_type && f->type++))
        return prom_err(s, "second %s for %s", is_help ? "HELP" : "TYPE", f->name);
    p += n + (p[n] == ' ');
    if (is_help) {
        for (; *p; p++)
            if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
                return prom_err(s, "bad escape in HELP text");
            else if (*p == '\\')
                p++;
        return 0;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(p, types[i])) {
            f->kind = (int)i + 1;
            return 0;
        }
    return prom_err(s, "unknown TYPE '%s'", p);
}

/* Labels from just after '{' to just after '}'; *pp advances. */
static int prom_labels(prom_state *s, const char **pp)
{
    const char *p = *pp, *names[32];
    size_t lens[32];
    int n_names = 0;
    while (*p != '}') {
        size_t n = prom_name_len(p, 0);
        if (!n || !strncmp(p, "__", 2))
            return prom_err(s, "bad label name");
        for (int i = 0; i < n_names; i++)
            if (lens[i] == n && !strncmp(names[i], p, n))
                return prom_err(s, "label %.*s repeated", (int)n, p);
        if (n_names == 32)
            return prom_err(s, "too many labels");
        names[n_names] = p;
        lens[n_names++] = n;
        p += n;
        if (p[0] != '=' || p[1] != '"')
            return prom_err(s, "label without =\"value\"");
        for (p += 2; *p != '"'; p++) {
            if (!*p)
                return prom_err(s, "unterminated label value");
            if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                return prom_err(s, "bad escape in label value");
            if (*p == '\\')
                p++;
        }
        p++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return prom_err(s, "expected ',' or '}' after a label");
    }
    *pp = p + 1;
    return 0;
}

static int prom_sample(prom_state *s, const char *line, const char *prefix)
{
    const char *p = line, *sp;
    size_t n = prom_name_len(p, 1);
    prom_family_state *f;
    int fi;
    if (!n)
        return prom_err(s, "bad metric name");
    if (strncmp(p, prefix, strlen(prefix)))
        return prom_err(s, "metric name without the prefix %s", prefix);
    f = prom_family(s, p, n, 0);
    if (!f) { /* a histogram's or summary's suffixed samples */
        static const char *const sufs[] = {"_bucket", "_sum", "_count"};
        for (size_t i = 0; !f && i < 3; i++) {
            size_t sl = strlen(sufs[i]);
            if (n > sl && !strncmp(p + n - sl, sufs[i], sl) && (f = prom_family(s, p, n - sl, 0)) &&
                !(f->kind == 3 || (f->kind == 4 && i > 0)))
                f = NULL;
        }
    }
    if (!f || !f->help || !f->type)
        return prom_err(s, "sample of %.*s without HELP and TYPE before it", (int)n, p);
    fi = (int)(f - s->fam);
    if (f->closed || (s->current >= 0 && s->current != fi && f->sampled))
        return prom_err(s, "samples of %s are not contiguous", f->name);
    if (s->current >= 0 && s->current != fi)
        s->fam[s->current].closed = 1;
    s->current = fi;
    f->sampled = 1;
    p += n;
    if (*p == '{') {
        p++;
        if (prom_labels(s, &p))
            return -1;
    }
    for (int i = 0; i < s->n_series; i++)
        if (strlen(s->series[i]) == (size_t)(p - line) && !strncmp(s->series[i], line, (size_t)(p - line)))
            return prom_err(s, "series repeated");
    if (s->n_series < PROM_MAX_SERIES && (s->series[s->n_series] = strndup(line, (size_t)(p - line))))
        s->n_series++;
    if (*p++ != ' ')
        return prom_err(s, "expected a space before the value");
    sp = strchr(p, ' ');
    if (!prom_float(p, sp ? (size_t)(sp - p) : strlen(p)))
        return prom_err(s, "bad value '%s'", p);
    if (sp) {
        char *end;
        strtoll(sp + 1, &end, 10);
        if (end == sp + 1 || *end)
            return prom_err(s, "bad timestamp");
    }
    return 0;
}

/* 0 if text is valid (and every name starts with prefix), else -1 with err. */
static int prom_check(const char *text, const char *prefix, char *err, size_t errcap)
{
    prom_state *s = calloc(1, sizeof *s);
    const char *p = text;
    int rc = 0;
    char line[4096];
    if (!s)
        return -1;
    s->err = err;
    s->errcap = errcap;
    s->current = -1;
    err[0] = 0;
    if (!*text || text[strlen(text) - 1] != '\n')
        rc = prom_err(s, "the text does not end with a newline");
    while (!rc && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        s->line++;
        if (len >= sizeof line) {
            rc = prom_err(s, "line too long");
            break;
        }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl != NULL);
        if (!len)
            continue;
        rc = line[0] == '#' ? prom_comment(s, line, prefix) : prom_sample(s, line, prefix);
    }
    for (int i = 0; i < s->n_series; i++)
        free(s->series[i]);
    free(s);
    return rc;
}

#endif
