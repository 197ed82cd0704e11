/* test.h - the in-repo unit test harness. A test is a function declared with
 * TEST(name); it registers itself at start-up. CHECK* macros record failures and
 * continue; the runner prints "N passed, N failed". Tests may read fixtures
 * under tests/fixtures (the runner's working directory is the repo root). */
#ifndef XLLM_TEST_H
#define XLLM_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

void test_register(const char *name, void (*fn)(void), const char *file);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Skip the current test with a reason (counted apart, not as passed). */
void test_skip(const char *why);

#define TEST(name)                                                              \
    static void name(void);                                                     \
    __attribute__((constructor)) static void test_reg_##name(void)              \
    {                                                                           \
        test_register(#name, name, __FILE__);                                   \
    }                                                                           \
    static void name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond))                                                            \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond))                                                            \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                         \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        long long test_a_ = (long long)(a), test_b_ = (long long)(b);           \
        if (test_a_ != test_b_)                                                 \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,     \
                      test_a_, test_b_);                                        \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                      \
    do {                                                                        \
        const char *test_a_ = (a), *test_b_ = (b);                              \
        if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_) != 0)              \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                      test_a_ ? test_a_ : "(null)", test_b_ ? test_b_ : "(null)"); \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                   \
    do {                                                                        \
        double test_a_ = (a), test_b_ = (b);                                    \
        if (!(fabs(test_a_ - test_b_) <= (tol)))                                \
            test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)", #a, \
                      #b, test_a_, test_b_, (double)(tol));                     \
    } while (0)

#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        int test_st_ = (int)(expr);                                             \
        if (test_st_ != 0)                                                      \
            test_fail(__FILE__, __LINE__, "%s failed: status %d: %s", #expr,    \
                      test_st_, xllm_last_error());                             \
    } while (0)

#endif
