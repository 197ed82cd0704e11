/* status.c - status texts and the thread-local last-error buffer. */
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"

static _Thread_local char last_error[XLLM_MAX_ERROR_MESSAGE];

const char *xllm_status_str(xllm_status st)
{
    static const char *const texts[] = {
#define XLLM_STATUS_TEXT(name, text) text,
        XLLM_STATUS_LIST(XLLM_STATUS_TEXT)
#undef XLLM_STATUS_TEXT
    };
    if ((unsigned)st >= XLLM_STATUS_COUNT)
        return "unknown status";
    return texts[st];
}

xllm_status xllm_fail(xllm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

xllm_status xllm_fail_wrap(xllm_status st, const char *fmt, ...)
{
    char old[XLLM_MAX_ERROR_MESSAGE];
    char prefix[XLLM_MAX_ERROR_MESSAGE];
    va_list ap;
    memcpy(old, last_error, sizeof old);
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t n = strlen(prefix);
    memcpy(last_error, prefix, n + 1);
    if (old[0] && n + 2 < sizeof last_error) {
        memcpy(last_error + n, ": ", 3);
        strncat(last_error, old, sizeof last_error - n - 3);
    }
    return st;
}

const char *xllm_last_error(void) { return last_error; }
void xllm_clear_error(void) { last_error[0] = 0; }
