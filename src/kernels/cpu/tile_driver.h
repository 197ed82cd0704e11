/* tile_driver.h - the tile driver every ISA file of the dot kernels shares:
 * walk weight rows in groups of NR (the last group repeats its final row and
 * stores only the real ones) and activations in groups of up to TILE_NC (4),
 * calling name##_micro specialised for the group's width. Included by
 * dot_avx2.c and dot_avx512.c, each compiled for its own ISA. */
#ifndef XLLM_KERNELS_CPU_TILE_DRIVER_H
#define XLLM_KERNELS_CPU_TILE_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#define TILE_NC 4 /* activations per register tile */

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

#endif
