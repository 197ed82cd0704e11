/* attn_bench.c - CPU time of the decode attention at long context per KV
 * element type: one query token of a TinyLlama-shape model (32 heads, 4 KV
 * heads, head_dim 64, 22 layers) against ctx positions of KV rows in the
 * engine's paged layout ([block][kv_head][slot][head_dim], one
 * xllm_attn_fold per block of 16, as cpu_attention.c calls it), the KV of all
 * layers far larger than the caches. One thread; time is the process's CPU
 * time (robust to a shared machine's time slicing, not to its cache and
 * memory traffic). Build and run:
 *   make build/libxllm.a && cc -O2 -Isrc -Iinclude bench/attn_bench.c build/libxllm.a -lm -pthread \
 *       -ljansson -lpcre2-8 -lutf8proc -lcrypto -ldl -o build/attn-bench && build/attn-bench [ctx] [reps]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dtype.h"
#include "kernels/cpu/kernels.h"

enum { N_LAYER = 22, N_HEAD = 32, N_KV = 4, HD = 64, BLOCK = 16 };

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    /* the first row: the scalar reference, which is what AVX2 CPUs ran
     * before the typed kernels (f32 KV only) */
    static const uint32_t types[] = {XLLM_DTYPE_F32, XLLM_DTYPE_F32, XLLM_DTYPE_F16, XLLM_DTYPE_Q8_0};
    static const char *const names[] = {"f32 (scalar reference)", "f32", "f16", "q8_0"};
    int ctx = argc > 1 ? atoi(argv[1]) : 1024, reps = argc > 2 ? atoi(argv[2]) : 5;
    int nb = (ctx + BLOCK - 1) / BLOCK;
    float q[HD], acc[HD], row[HD];
    unsigned seed = 1;
    if (ctx < 1 || reps < 1 || xllm_kernels_init() != XLLM_OK)
        return 2;
    for (int i = 0; i < HD; i++)
        q[i] = (float)((seed = seed * 1103515245u + 12345u) >> 16 & 1023) / 1024.0f - 0.5f;
    printf("kernels %s, ctx %d, %d layers x %d heads (%d KV heads) x head_dim %d, best of %d\n",
           xllm_kernels_variant(), ctx, N_LAYER, N_HEAD, N_KV, HD, reps);
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        size_t rb = xllm_kv_row_bytes(types[t], HD), blk = (size_t)N_KV * BLOCK * rb;
        size_t layer = (size_t)nb * 2 * blk, bytes = layer * N_LAYER;
        unsigned char *kv = malloc(bytes);
        double best = 1e30, sink = 0;
        if (!kv)
            return 1;
        for (size_t r = 0; r < bytes / rb; r++) {
            for (int i = 0; i < HD; i++)
                row[i] = (float)((seed = seed * 1103515245u + 12345u) >> 16 & 1023) / 512.0f - 1.0f;
            xllm_kv_store_row(types[t], row, HD, kv + r * rb);
        }
        for (int rep = 0; rep < reps; rep++) {
            double t0 = cpu_seconds();
            for (int l = 0; l < N_LAYER; l++)
                for (int h = 0; h < N_HEAD; h++) {
                    const unsigned char *kl = kv + (size_t)l * layer, *vl = kl + (size_t)nb * blk;
                    float m = -INFINITY, s = 0;
                    memset(acc, 0, sizeof acc);
                    for (int b = 0; b < nb; b++) {
                        const void *kr[BLOCK], *vr[BLOCK];
                        int n = b == nb - 1 ? ctx - b * BLOCK : BLOCK;
                        for (int j = 0; j < n; j++) {
                            kr[j] = kl + (size_t)b * blk + ((size_t)(h / (N_HEAD / N_KV)) * BLOCK + (size_t)j) * rb;
                            vr[j] = vl + (size_t)b * blk + ((size_t)(h / (N_HEAD / N_KV)) * BLOCK + (size_t)j) * rb;
                        }
                        (t == 0 ? xllm_attn_fold_ref : xllm_attn_fold)(types[t], q, kr, vr, n, HD, HD, 0.125f,
                                                                       0.0f, &m, &s, acc);
                    }
                    sink += acc[0] / s;
                }
            double dt = cpu_seconds() - t0;
            best = dt < best ? dt : best;
        }
        printf("  %-22s KV %6.1f MB: %7.3f ms per decode token (%.2f GB/s of KV)  [%g]\n", names[t], bytes / 1e6,
               best * 1e3, bytes / best / 1e9, sink);
        free(kv);
    }
    return 0;
}
