/* status.h - the one status enum of xllm (X-macro list) and the thread-local
 * last-error message that goes with a failing status. */
#ifndef XLLM_BASE_STATUS_H
#define XLLM_BASE_STATUS_H

#define XLLM_STATUS_LIST(X)                                   \
    X(XLLM_OK, "ok")                                          \
    X(XLLM_ERR_INVALID_ARGUMENT, "invalid argument")          \
    X(XLLM_ERR_UNSUPPORTED, "unsupported")                    \
    X(XLLM_ERR_OUT_OF_MEMORY, "out of memory")                \
    X(XLLM_ERR_IO, "i/o error")                               \
    X(XLLM_ERR_FORMAT, "bad file format")                     \
    X(XLLM_ERR_NOT_FOUND, "not found")                        \
    X(XLLM_ERR_LIMIT, "limit exceeded")                       \
    X(XLLM_ERR_DEVICE, "device error")                        \
    X(XLLM_ERR_CANCELLED, "cancelled")                        \
    X(XLLM_ERR_TIMEOUT, "timeout")                            \
    X(XLLM_ERR_ABI_MISMATCH, "abi mismatch")                  \
    X(XLLM_ERR_INTERNAL, "internal error")

typedef enum xllm_status {
#define XLLM_STATUS_ENUM(name, text) name,
    XLLM_STATUS_LIST(XLLM_STATUS_ENUM)
#undef XLLM_STATUS_ENUM
    XLLM_STATUS_COUNT
} xllm_status;

/* Short fixed text of a status ("bad file format"). Never NULL. */
const char *xllm_status_str(xllm_status st);

/* Record a detailed message for the current thread and return st, so that
 * callers write: return xllm_fail(XLLM_ERR_FORMAT, "%s: truncated at %zu", ...). */
xllm_status xllm_fail(xllm_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context ("loading m.gguf: <old>"). */
xllm_status xllm_fail_wrap(xllm_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The current thread's last message ("" if none). Valid until the next xllm_fail. */
const char *xllm_last_error(void);
void xllm_clear_error(void);

#endif
