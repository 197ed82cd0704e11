/* log.c - leveled logging to stderr; level from XLLM_LOG on first use. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int current_level = -1;

static void init_level(void)
{
    const char *env = getenv("XLLM_LOG");
    current_level = XLLM_LOG_WARN;
    if (!env)
        return;
    if (!strcmp(env, "debug"))
        current_level = XLLM_LOG_DEBUG;
    else if (!strcmp(env, "info"))
        current_level = XLLM_LOG_INFO;
    else if (!strcmp(env, "error"))
        current_level = XLLM_LOG_ERROR;
}

void xllm_log_set_level(xllm_log_level level) { current_level = (int)level; }

int xllm_log_enabled(xllm_log_level level)
{
    if (current_level < 0)
        init_level();
    return (int)level >= current_level;
}

void xllm_log(xllm_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;
    if (!xllm_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    fputs(line, stderr);
}
