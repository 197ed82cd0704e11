/* log.h - leveled logging to stderr (XLLM_LOG=debug|info|warn|error).
 * Thread-safe: each line is written with one call. */
#ifndef XLLM_BASE_LOG_H
#define XLLM_BASE_LOG_H

typedef enum xllm_log_level {
    XLLM_LOG_DEBUG,
    XLLM_LOG_INFO,
    XLLM_LOG_WARN,
    XLLM_LOG_ERROR,
} xllm_log_level;

void xllm_log(xllm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xllm_log_set_level(xllm_log_level level);
int xllm_log_enabled(xllm_log_level level);

#define XLLM_DEBUG(...) xllm_log(XLLM_LOG_DEBUG, __VA_ARGS__)
#define XLLM_INFO(...) xllm_log(XLLM_LOG_INFO, __VA_ARGS__)
#define XLLM_WARN(...) xllm_log(XLLM_LOG_WARN, __VA_ARGS__)
#define XLLM_ERROR(...) xllm_log(XLLM_LOG_ERROR, __VA_ARGS__)

#endif
