/* test_log_file.c - the log file of base/log.c: lines are appended to the
 * file as well as stderr, rotated by size (PATH.1, PATH.2, ..., no line lost,
 * no file over the size) and daily (a file of an earlier UTC day moves to
 * PATH.YYYY-MM-DD at the first line of a new day). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "../test.h"

/* Lines of a file (0 when absent), and its size. */
static int count_lines(const char *path, long *size)
{
    char *text = NULL;
    size_t len = 0;
    int n = 0;
    *size = 0;
    if (xllm_read_file(path, 1u << 20, &text, &len))
        return 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    *size = (long)len;
    xllm_free(text);
    return n;
}

/* Run with stderr sent to /dev/null (the lines go there too). */
static int quiet_begin(void)
{
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    fflush(stderr);
    dup2(null, 2);
    close(null);
    return saved;
}

static void quiet_end(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

TEST(log_file_size_rotation)
{
    char dir[] = "/tmp/xllm-test-XXXXXX", path[128], p1[140];
    int total = 0, saved;
    long size;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/x.log", dir);
    CHECK_OK(xllm_log_open_file(path, 0, 4096));
    saved = quiet_begin();
    for (int i = 0; i < 100; i++)
        XLLM_WARN("line %03d of the size rotation test, padded to about a hundred bytes ........", i);
    quiet_end(saved);
    xllm_log_close_file();
    for (int i = 0; i <= 5; i++) {
        if (i)
            snprintf(p1, sizeof p1, "%s.%d", path, i);
        total += count_lines(i ? p1 : path, &size);
        CHECK_MSG(size <= 4096, "file %d has %ld bytes", i, size);
        unlink(i ? p1 : path);
    }
    CHECK_EQ_INT(total, 100); /* 3 files of ~40 lines: nothing dropped */
    rmdir(dir);
    CHECK(!xllm_path_exists(dir));
}

TEST(log_file_daily_rotation)
{
    char dir[] = "/tmp/xllm-test-XXXXXX", path[128], old[160], day[32];
    struct timeval tv[2];
    struct tm tm;
    time_t then = time(NULL) - 2 * 86400;
    FILE *f;
    long size;
    int saved;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/d.log", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("a line of two days ago\n", f);
    fclose(f);
    tv[0].tv_sec = tv[1].tv_sec = then;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    CHECK(utimes(path, tv) == 0);
    gmtime_r(&then, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    snprintf(old, sizeof old, "%s.%s", path, day);
    CHECK_OK(xllm_log_open_file(path, 1, 0));
    saved = quiet_begin();
    XLLM_WARN("a line of today");
    XLLM_WARN("another line of today");
    quiet_end(saved);
    xllm_log_close_file();
    CHECK_EQ_INT(count_lines(old, &size), 1);
    CHECK_EQ_INT(count_lines(path, &size), 2);
    /* a bad path is a status with the reason, not a crash */
    CHECK(xllm_log_open_file("/nonexistent-dir/x.log", 1, 0) == XLLM_ERR_IO);
    CHECK(strstr(xllm_last_error(), "/nonexistent-dir/x.log") != NULL);
    unlink(old);
    unlink(path);
    rmdir(dir);
}
