/* main.c - unit test runner: runs every registered test (or those whose name
 * or file contains argv[1]) and prints "N passed, N failed" and the CPU
 * kernels used (XLLM_CPU_ISA=scalar|avx2|avx512 forces a lower family). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/kernels.h"
#include "test.h"

#define MAX_TESTS 4096

struct test_case {
    const char *name;
    void (*fn)(void);
    const char *file;
};

static struct test_case tests[MAX_TESTS];
static int n_tests;
static int current_failed;
static const char *current_skip;

void test_register(const char *name, void (*fn)(void), const char *file)
{
    if (n_tests < MAX_TESTS)
        tests[n_tests++] = (struct test_case){name, fn, file};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (current_failed < 10) {
        fprintf(stderr, "  %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    current_failed++;
}

void test_skip(const char *why) { current_skip = why; }

int main(int argc, char **argv)
{
    int passed = 0, failed = 0, skipped = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;
    int verbose = getenv("TEST_VERBOSE") != NULL;
    for (int i = 0; i < n_tests; i++) {
        struct timespec t0, t1;
        if (filter && !strstr(tests[i].name, filter) && !strstr(tests[i].file, filter))
            continue;
        current_failed = 0;
        current_skip = NULL;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (current_failed) {
            failed++;
            fprintf(stderr, "FAIL %s (%s)\n", tests[i].name, tests[i].file);
        } else if (current_skip) {
            skipped++;
            fprintf(stderr, "skip %s: %s\n", tests[i].name, current_skip);
        } else {
            passed++;
            if (verbose)
                fprintf(stderr, "ok   %s (%.3f s)\n", tests[i].name,
                        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
        }
    }
    printf("%d passed, %d failed", passed, failed);
    if (skipped)
        printf(", %d skipped", skipped);
    printf(" (CPU kernels: %s)\n", xllm_kernels_variant()); /* XLLM_CPU_ISA picks a lower one */
    return failed ? 1 : 0;
}
