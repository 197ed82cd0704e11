/* matmul_bench.c - one thread's speed of xllm_matmul for one weight type and
 * shape: random rows quantized with the reference quantizer, prepared
 * (repacked where the ISA has a packed layout), then n activation rows,
 * best of reps; time is the calling thread's CPU time (robust to a shared
 * machine's time slicing, not to its cache and memory traffic). Prints
 * GMAC/s and a checksum (the same for any kernel of equal results). Build and run:
 *   make build/libxllm.a && cc -O2 -Isrc -Iinclude bench/matmul_bench.c build/libxllm.a -lm -pthread \
 *       -ljansson -lpcre2-8 -lutf8proc -lcrypto -lmicrohttpd -lcurl -lz -ledit -ldl -o build/matmul-bench
 *   XLLM_CPU_ISA=avx2 build/matmul-bench ROWS COLS N REPS [DTYPE_ID (2 = Q4_0 default, 8 Q8_0, 14 Q6_K)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/dtype.h"
#include "kernels/cpu/kernels_impl.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float rnd(void) { return (float)rand() / (float)RAND_MAX - 0.5f; }

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: matmul-bench ROWS COLS N REPS [DTYPE_ID]\n");
        return 2;
    }
    int64_t rows = atoll(argv[1]), cols = atoll(argv[2]);
    int n = atoi(argv[3]), reps = atoi(argv[4]), ok;
    uint32_t t = argc > 5 ? (uint32_t)atoi(argv[5]) : XLLM_DTYPE_Q4_0;
    size_t rb = (size_t)xllm_dtype_row_bytes(t, (uint64_t)cols, &ok);
    uint8_t *std = malloc(rb * (size_t)rows);
    float *x = malloc(sizeof(float) * (size_t)(cols * n)), *y = malloc(sizeof(float) * (size_t)(rows * n));
    if (!ok || rows < 1 || n < 1 || reps < 1 || !std || !x || !y)
        return 2;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t e = 0; e < cols; e++)
            x[e] = 0.1f * rnd();
        if (xllm_quantize_row(t, x, std + rb * (size_t)i, cols) != XLLM_OK)
            return 2;
    }
    xllm_weight w = {t, rows, cols, std, NULL};
    if (xllm_weight_prepare(&w) != XLLM_OK)
        return 2;
    for (int64_t e = 0; e < cols * n; e++)
        x[e] = rnd();
    xllm_matmul(NULL, &w, x, n, y); /* warm */
    double best = 1e30, sum = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        xllm_matmul(NULL, &w, x, n, y);
        double d = cpu_now() - t0;
        best = d < best ? d : best;
    }
    for (int64_t i = 0; i < rows * n; i++)
        sum += y[i];
    printf("%s %lldx%lld n=%d kernels=%s packed=%d best %.3f ms %.1f GMAC/s checksum %.6g\n", xllm_dtype_name(t),
           (long long)rows, (long long)cols, n, xllm_isa_name(xllm_kernels_isa()), w.packed != NULL, best * 1e3,
           (double)rows * (double)cols * n / best * 1e-9, sum);
    xllm_weight_release(&w);
    free(std);
    free(x);
    free(y);
    return 0;
}
