/* tile_driver.h - what every ISA file of the dot kernels shares: the weight
 * kinds each file's micro kernels are specialised for, their block geometry,
 * and the tile driver: walk weight rows in groups of NR (the last group repeats its final row and
 * stores only the real ones) and activations in groups of up to TILE_NC (4),
 * calling name##_micro specialised for the group's width. Included by
 * dot_avx2.c and dot_avx512.c, each compiled for its own ISA. */
#ifndef XLLM_KERNELS_CPU_TILE_DRIVER_H
#define XLLM_KERNELS_CPU_TILE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#define TILE_NC 4 /* activations per register tile */

/* Weight kinds of the three micro-kernel families: float rows (f32
 * activations), 32-element blocks (Q8_0 activations), 256-element K-quant
 * super-blocks (Q8_K activations). */
enum { FW_F32, FW_F16, FW_BF16 };
enum { B_Q4_0, B_Q4_1, B_Q5_0, B_Q5_1, B_Q8_0, B_IQ4_NL };
enum { K_Q2, K_Q3, K_Q4, K_Q5, K_Q6 };
#define Q8_0_BYTES 34 /* one Q8_0 activation block */

/* Bytes of one 32-element block of kind k, and the offset of its quants. */
static inline __attribute__((always_inline)) int blk_bytes(const int k)
{
    return k == B_Q4_0 ? 18 : k == B_Q4_1 ? 20 : k == B_Q5_0 ? 22 : k == B_Q5_1 ? 24 : k == B_Q8_0 ? 34 : 18;
}
static inline __attribute__((always_inline)) int blk_qs(const int k)
{
    return k == B_Q4_1 ? 4 : k == B_Q5_0 ? 6 : k == B_Q5_1 ? 8 : 2;
}

/* Defines xllm_tile_<name>_<isa>(), an xllm_tile_fn (kernels_impl.h). */
#define XLLM_DEFINE_TILE_DRIVER(name, isa, NR)                                              \
    void xllm_tile_##name##_##isa(int64_t n, const void *w, size_t ws, int nr, const void *a, \
                                  size_t as, int nc, float *y, size_t ys)                  \
    {                                                                                       \
        for (int r0 = 0; r0 < nr; r0 += NR) {                                               \
            int rn = nr - r0 < NR ? nr - r0 : NR;                                           \
            const uint8_t *wr[NR];                                                          \
            for (int k = 0; k < NR; k++)                                                    \
                wr[k] = (const uint8_t *)w + (size_t)(r0 + (k < rn ? k : rn - 1)) * ws;     \
            for (int c0 = 0; c0 < nc; c0 += TILE_NC) {                                      \
                const uint8_t *ac = (const uint8_t *)a + (size_t)c0 * as;                   \
                float *yc = y + (size_t)c0 * ys + (size_t)r0;                               \
                switch (nc - c0 < TILE_NC ? nc - c0 : TILE_NC) {                            \
                case 1: name##_micro(n, wr, rn, ac, as, yc, ys, 1); break;                  \
                case 2: name##_micro(n, wr, rn, ac, as, yc, ys, 2); break;                  \
                case 3: name##_micro(n, wr, rn, ac, as, yc, ys, 3); break;                  \
                default: name##_micro(n, wr, rn, ac, as, yc, ys, 4); break;                 \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }

/* One tile of a micro-kernel family: name##_micro calls the family's micro
 * kernel (float_micro, blk_micro, k_micro, defined by the including ISA file)
 * with the weight kind fixed, and the driver above wraps it. */
#define XLLM_DEFINE_KIND_TILE(name, isa, micro, kind, NR)                                   \
    static inline __attribute__((always_inline)) void name##_micro(                          \
        int64_t n, const uint8_t *const *wr, int rn, const uint8_t *a, size_t as, float *y,   \
        size_t ys, const int NC)                                                              \
    {                                                                                         \
        micro(kind, n, wr, rn, a, as, y, ys, NC);                                             \
    }                                                                                         \
    XLLM_DEFINE_TILE_DRIVER(name, isa, NR)

/* The tiles of each family every ISA file defines (kernels_impl.h names them). */
#define XLLM_DEFINE_FLOAT_TILES(isa, NR)                                                    \
    XLLM_DEFINE_KIND_TILE(f32, isa, float_micro, FW_F32, NR)                                  \
    XLLM_DEFINE_KIND_TILE(f16, isa, float_micro, FW_F16, NR)                                  \
    XLLM_DEFINE_KIND_TILE(bf16, isa, float_micro, FW_BF16, NR)
#define XLLM_DEFINE_BLOCK_TILES(isa, NR)                                                    \
    XLLM_DEFINE_KIND_TILE(q4_0, isa, blk_micro, B_Q4_0, NR)                                   \
    XLLM_DEFINE_KIND_TILE(q4_1, isa, blk_micro, B_Q4_1, NR)                                   \
    XLLM_DEFINE_KIND_TILE(q5_0, isa, blk_micro, B_Q5_0, NR)                                   \
    XLLM_DEFINE_KIND_TILE(q5_1, isa, blk_micro, B_Q5_1, NR)                                   \
    XLLM_DEFINE_KIND_TILE(q8_0, isa, blk_micro, B_Q8_0, NR)                                   \
    XLLM_DEFINE_KIND_TILE(iq4_nl, isa, blk_micro, B_IQ4_NL, NR)
#define XLLM_DEFINE_KQUANT_TILES(isa, NR)                                                   \
    XLLM_DEFINE_KIND_TILE(q2_k, isa, k_micro, K_Q2, NR)                                       \
    XLLM_DEFINE_KIND_TILE(q3_k, isa, k_micro, K_Q3, NR)                                       \
    XLLM_DEFINE_KIND_TILE(q4_k, isa, k_micro, K_Q4, NR)                                       \
    XLLM_DEFINE_KIND_TILE(q5_k, isa, k_micro, K_Q5, NR)                                       \
    XLLM_DEFINE_KIND_TILE(q6_k, isa, k_micro, K_Q6, NR)

#endif
