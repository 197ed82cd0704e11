/* fp16.h - IEEE half and bfloat16 <-> float conversions (scalar, exact,
 * round-to-nearest-even). Header-only so C and kernels inline them. */
#ifndef XLLM_BASE_FP16_H
#define XLLM_BASE_FP16_H

#include <stdint.h>
#include <string.h>

static inline float xllm_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t xllm_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float xllm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0)
            return xllm_bits_to_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31)
        return xllm_bits_to_f32(sign | 0x7f800000u | (man << 13));
    return xllm_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t xllm_f32_to_f16(float f)
{
    uint32_t x = xllm_f32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520 -> inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* below smallest normal half (2^-14): subnormal or 0 */
        /* add 0.5 (as float) so the mantissa lands in the low bits with RNE */
        float v = xllm_bits_to_f32(absx) + 0.5f;
        return (uint16_t)(sign | (xllm_f32_to_bits(v) - 0x3f000000u));
    }
    {
        uint32_t mant_odd = (absx >> 13) & 1;
        absx += 0xc8000fffu + mant_odd; /* rebias exponent (-112<<23) and round */
        return (uint16_t)(sign | (absx >> 13));
    }
}

static inline float xllm_bf16_to_f32(uint16_t h) { return xllm_bits_to_f32((uint32_t)h << 16); }

static inline uint16_t xllm_f32_to_bf16(float f)
{
    uint32_t x = xllm_f32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* nan: keep it quiet */
        return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + (0x7fffu + ((x >> 16) & 1))) >> 16);
}

#endif
