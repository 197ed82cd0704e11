/* log.h - leveled logging to stderr (XLLM_LOG=debug|info|warn|error), and
 * optionally also to a file rotated daily or by size (`xllm serve --log-file`).
 * Thread-safe: each line is written with one call; rotation under a mutex. */
#ifndef XLLM_BASE_LOG_H
#define XLLM_BASE_LOG_H

#include <stdint.h>

#include "base/status.h"

typedef enum xllm_log_level {
    XLLM_LOG_DEBUG,
    XLLM_LOG_INFO,
    XLLM_LOG_WARN,
    XLLM_LOG_ERROR,
} xllm_log_level;

void xllm_log(xllm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xllm_log_set_level(xllm_log_level level);
int xllm_log_enabled(xllm_log_level level);

/* Also write every line to path (appended, created 0644). Rotation: daily
 * renames the file to PATH.YYYY-MM-DD (the day it was written) when a line of
 * a new UTC day comes; max_bytes > 0 renames it to PATH.1 (PATH.1 to PATH.2,
 * ... keeping XLLM_LOG_KEEP files) before a line would pass the size. */
xllm_status xllm_log_open_file(const char *path, int daily, uint64_t max_bytes);
void xllm_log_close_file(void);

#define XLLM_DEBUG(...) xllm_log(XLLM_LOG_DEBUG, __VA_ARGS__)
#define XLLM_INFO(...) xllm_log(XLLM_LOG_INFO, __VA_ARGS__)
#define XLLM_WARN(...) xllm_log(XLLM_LOG_WARN, __VA_ARGS__)
#define XLLM_ERROR(...) xllm_log(XLLM_LOG_ERROR, __VA_ARGS__)

#endif
