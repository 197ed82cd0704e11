/* ktest_util.h - helpers of the kernel tests: a seeded generator, random
 * rows, and raw little-endian field writers for hand-built blocks. */
#ifndef XLLM_TESTS_KTEST_UTIL_H
#define XLLM_TESTS_KTEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct krng {
    uint64_t s;
} krng;

static inline uint32_t krng_u32(krng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}

/* uniform in [0, 1) */
static inline double krng_unit(krng *r) { return (krng_u32(r) >> 8) / 16777216.0; }

static inline float krng_gauss(krng *r)
{
    double u = krng_unit(r) + 1e-12, v = krng_unit(r);
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Gaussian values with an occasional outlier, like real weights. */
static inline void krng_fill(krng *r, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        float g = krng_gauss(r) * scale;
        if (krng_u32(r) % 97 == 0)
            g *= 6;
        x[i] = g;
    }
}

static inline void put16(uint8_t *p, size_t off, uint16_t v)
{
    p[off] = (uint8_t)v;
    p[off + 1] = (uint8_t)(v >> 8);
}

static inline void put32f(uint8_t *p, size_t off, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    for (int i = 0; i < 4; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

static inline void fill_nan(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = NAN;
}

#endif
