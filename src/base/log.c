/* log.c - leveled logging to stderr (and a rotated file when asked); level
 * from XLLM_LOG on first use. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/limits.h"

static int current_level = -1;

/* The log file (fd < 0: none), under file_mu. */
static pthread_mutex_t file_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int fd, daily;
    uint64_t max_bytes, size;
    char day[32];   /* YYYY-MM-DD of the lines in the file */
    char path[4096];
} lf = {-1, 0, 0, 0, "", ""};

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

static void day_of(time_t t, char day[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(day, 32, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static int open_fd(void)
{
    struct stat sb;
    lf.fd = open(lf.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lf.fd < 0)
        return -1;
    lf.size = fstat(lf.fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    if (lf.size > 0)
        day_of(sb.st_mtime, lf.day); /* a file of an earlier day rotates at the first line */
    else
        lf.day[0] = '\0';
    return 0;
}

/* Move the current file aside (file_mu held) and start a new one. */
static void rotate(const char *day)
{
    char a[4200], b[4200];
    close(lf.fd);
    if (lf.daily) {
        snprintf(a, sizeof a, "%s.%s", lf.path, lf.day);
        rename(lf.path, a);
    } else {
        for (int i = XLLM_LOG_KEEP - 1; i >= 1; i--) {
            snprintf(a, sizeof a, "%s.%d", lf.path, i);
            snprintf(b, sizeof b, "%s.%d", lf.path, i + 1);
            rename(a, b);
        }
        snprintf(a, sizeof a, "%s.1", lf.path);
        rename(lf.path, a);
    }
    if (open_fd() == 0)
        snprintf(lf.day, sizeof lf.day, "%s", day);
}

static void file_write(const char *line, size_t n, const char *day)
{
    pthread_mutex_lock(&file_mu);
    if (lf.fd >= 0 && lf.size > 0 &&
        ((lf.daily && strcmp(lf.day, day) != 0) || (lf.max_bytes && lf.size + n > lf.max_bytes)))
        rotate(day);
    if (lf.fd >= 0) {
        if (!lf.day[0])
            snprintf(lf.day, sizeof lf.day, "%s", day);
        if (write(lf.fd, line, n) == (ssize_t)n)
            lf.size += n;
    }
    pthread_mutex_unlock(&file_mu);
}

xllm_status xllm_log_open_file(const char *path, int daily, uint64_t max_bytes)
{
    xllm_status st = XLLM_OK;
    if (strlen(path) >= sizeof lf.path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "log file path longer than %zu bytes", sizeof lf.path - 1);
    pthread_mutex_lock(&file_mu);
    if (lf.fd >= 0)
        close(lf.fd);
    snprintf(lf.path, sizeof lf.path, "%s", path);
    lf.daily = daily;
    lf.max_bytes = max_bytes;
    if (open_fd())
        st = xllm_fail(XLLM_ERR_IO, "log file %s: cannot open: %s", path, strerror(errno));
    pthread_mutex_unlock(&file_mu);
    return st;
}

void xllm_log_close_file(void)
{
    pthread_mutex_lock(&file_mu);
    if (lf.fd >= 0)
        close(lf.fd);
    lf.fd = -1;
    pthread_mutex_unlock(&file_mu);
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
    if (lf.fd >= 0) {
        char day[32];
        snprintf(day, sizeof day, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        file_write(line, strlen(line), day);
    }
}
