/* cuda_kcheck.c - xllm-cuda-kcheck: the CUDA matmul kernels of every weight
 * type against a float64 CPU reference on random matrices (quantized by the
 * CPU engine's reference quantizers, dequantized by its reference
 * dequantizers), through both the mat-vec path (1, 3, 8 rows) and the cuBLAS
 * path (40 rows); also times the mat-vec kernel on a 4096 x 14336 matrix
 * (Llama-3-8B's ffn_down shape) to report its streaming bandwidth.
 * Exit status 0 = every type within its tolerance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "cuda_kernels.h"
#include "cuda_limits.h"
#include "cuda_pack.h"
#include "kernels/cpu/kernels.h"

/* GGUF types and the packed layouts the engine uploads Q4_0 / Q8_0 as */
static const uint32_t types[] = {XLLM_DTYPE_F32,  XLLM_DTYPE_F16,  XLLM_DTYPE_BF16, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q4_0,
                                 XLLM_DTYPE_Q4_1, XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1, XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K,
                                 XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q5_K, XLLM_DTYPE_Q6_K, XLLM_DTYPE_IQ4_NL, XC_T_Q8_0P,
                                 XC_T_Q4_0P};

static const char *tname(uint32_t t)
{
    return t == XC_T_Q4_0P ? "Q4_0P" : t == XC_T_Q8_0P ? "Q8_0P" : xllm_dtype_name(t);
}

/* Mat-vec rows whose bits differ between a batch of one and a batch of n (checked in check_type). */
static long inv_bad;

static uint32_t rs = 99;
static float frand(void)
{
    rs = rs * 1664525u + 1013904223u;
    return ((float)(rs >> 8) / 16777216.0f) * 2.0f - 1.0f;
}

#define CUDA_OK(x)                                                                   \
    do {                                                                             \
        cudaError_t e_ = (x);                                                        \
        if (e_ != cudaSuccess) {                                                     \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* rel L2 of the GPU result against the float64 reference, worst over n values. */
static int check_type(xck_blas *bl, uint32_t t, int64_t rows, int64_t cols, const int *ns, int nn, double *worst)
{
    int ok = 1;
    uint32_t base = xc_pack_base(t);
    size_t rb = (size_t)xllm_dtype_row_bytes(base, (uint64_t)cols, &ok);
    uint8_t *wq = xllm_malloc(rb * (size_t)rows), *wp = xllm_malloc(rb * (size_t)rows);
    float *y1 = xllm_malloc(sizeof(float) * rows);
    float *wf = xllm_malloc(sizeof(float) * (size_t)(rows * cols)), *x = xllm_malloc(sizeof(float) * 64 * (size_t)cols);
    float *y = xllm_malloc(sizeof(float) * 64 * rows);
    double *ref = xllm_malloc(sizeof(double) * 64 * rows);
    void *dw, *dx, *dy;
    xc_mat m;
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = frand() * 0.5f + (i % 7 == 0 ? 0.3f : 0.0f);
    for (int64_t r = 0; r < rows; r++)
        xllm_quantize_row(base, wf + r * cols, wq + (size_t)r * rb, cols);
    for (int64_t r = 0; r < rows; r++)
        xllm_dequantize_row(base, wq + (size_t)r * rb, wf + r * cols, cols);
    if (t != base) { /* the engine's upload packing */
        xc_pack_rows(base, wq, rows, cols, wp);
        memcpy(wq, wp, rb * (size_t)rows);
    }
    for (int64_t i = 0; i < 64 * cols; i++)
        x[i] = frand();
    CUDA_OK(cudaMalloc(&dw, rb * (size_t)rows));
    CUDA_OK(cudaMalloc(&dx, sizeof(float) * 64 * cols));
    CUDA_OK(cudaMalloc(&dy, sizeof(float) * 64 * rows));
    CUDA_OK(cudaMemcpy(dw, wq, rb * (size_t)rows, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dx, x, sizeof(float) * 64 * cols, cudaMemcpyHostToDevice));
    m.dtype = t, m.rows = rows, m.cols = cols, m.row_bytes = rb, m.d = dw;
    for (int k = 0; k < 40; k++)
        for (int64_t r = 0; r < rows; r++) {
            double s = 0;
            for (int64_t c = 0; c < cols; c++)
                s += (double)wf[r * cols + c] * x[k * cols + c];
            ref[k * rows + r] = s;
        }
    *worst = 0;
    for (int i = 0; i < nn; i++) {
        double num = 0, den = 0;
        CUDA_OK(cudaMemset(dy, 0xff, sizeof(float) * 64 * rows)); /* NaN poison */
        int rc = xck_matmul(bl, &m, dx, ns[i], dy);
        if (rc) {
            fprintf(stderr, "matmul %s n=%d: rc %d\n", xllm_dtype_name(t), ns[i], rc);
            *worst = INFINITY;
            break;
        }
        CUDA_OK(cudaMemcpy(y, dy, sizeof(float) * (size_t)ns[i] * rows, cudaMemcpyDeviceToHost));
        if (ns[i] == 1) /* token 0 alone, to hold the mat-vec batches against bit for bit */
            memcpy(y1, y, sizeof(float) * rows);
        else if (ns[i] <= XC_MMV_MAX_TOKENS && ns[0] == 1)
            for (int64_t j = 0; j < rows; j++)
                inv_bad += memcmp(&y[j], &y1[j], sizeof(float)) != 0;
        for (int64_t j = 0; j < ns[i] * rows; j++) {
            double e = isfinite(y[j]) ? y[j] - ref[j] : INFINITY;
            num += e * e;
            den += ref[j] * ref[j];
        }
        double rel = sqrt(num / den);
        if (!(rel <= *worst))
            *worst = rel;
    }
    cudaFree(dw);
    cudaFree(dx);
    cudaFree(dy);
    xllm_free(wp);
    xllm_free(y1);
    xllm_free(wq);
    xllm_free(wf);
    xllm_free(x);
    xllm_free(y);
    xllm_free(ref);
    return 0;
}

/* Median time of the mat-vec over a matrix, as GB/s of weight bytes. */
static void time_type(xck_blas *bl, uint32_t t, int64_t rows, int64_t cols, int n)
{
    int ok = 1;
    size_t rb = (size_t)xllm_dtype_row_bytes(xc_pack_base(t), (uint64_t)cols, &ok), bytes = rb * (size_t)rows;
    void *dw[4], *dx, *dy;
    cudaEvent_t a, b;
    float ms[20];
    xc_mat m;
    for (int i = 0; i < 4; i++) { /* 4 copies rotate so L2 (60 MB) holds none */
        CUDA_OK(cudaMalloc(&dw[i], bytes));
        CUDA_OK(cudaMemset(dw[i], 0x11, bytes));
    }
    CUDA_OK(cudaMalloc(&dx, sizeof(float) * 8 * cols));
    CUDA_OK(cudaMalloc(&dy, sizeof(float) * 8 * rows));
    CUDA_OK(cudaMemset(dx, 0, sizeof(float) * 8 * cols));
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    m.dtype = t, m.rows = rows, m.cols = cols, m.row_bytes = rb;
    for (int r = 0; r < 20; r++) { /* 8 back-to-back matmuls a sample: the GPU never waits for the host */
        cudaEventRecord(a, bl->stream);
        for (int k = 0; k < 8; k++) {
            m.d = dw[(8 * r + k) % 4];
            xck_matmul(bl, &m, dx, n, dy);
        }
        cudaEventRecord(b, bl->stream);
        cudaEventSynchronize(b);
        cudaEventElapsedTime(&ms[r], a, b);
        ms[r] /= 8;
    }
    for (int i = 0; i < 20; i++) /* sort for the median */
        for (int j = i + 1; j < 20; j++)
            if (ms[j] < ms[i]) {
                float tmp = ms[i];
                ms[i] = ms[j], ms[j] = tmp;
            }
    printf("KTIME %-6s n=%d %lldx%lld %.1f MB R=%d: %.4f ms, %.0f GB/s\n", tname(t), n, (long long)rows,
           (long long)cols, bytes / 1e6, bl->mmvq_rows, ms[10], bytes / (ms[10] * 1e-3) / 1e9);
    for (int i = 0; i < 4; i++)
        cudaFree(dw[i]);
    cudaFree(dx);
    cudaFree(dy);
}

/* q/k/v finishing (no rope, norm or bias) + attention over a shuffled block
 * table against a float64 reference: all positions in one call, then again
 * one token per call. Returns the worst rel L2 of the attention output. */
static double check_attention(int n_head, int n_kv, int hd, int np, int one_by_one)
{
    int nb = 8, q_dim = n_head * hd, kv_dim = n_kv * hd;
    size_t kbb = (size_t)16 * n_kv * hd * 2;
    float *q = xllm_malloc(sizeof(float) * np * q_dim), *k = xllm_malloc(sizeof(float) * np * kv_dim);
    float *v = xllm_malloc(sizeof(float) * np * kv_dim), *out = xllm_malloc(sizeof(float) * np * q_dim);
    int32_t meta[64 * 2 + 8], table[8] = {5, 2, 7, 0, 3, 1, 6, 4};
    void *dq, *dk, *dv, *dout, *dkv, *dmeta;
    double worst = 0, scale = 1.0 / sqrt((double)hd);
    for (int i = 0; i < np * q_dim; i++)
        q[i] = frand();
    for (int i = 0; i < np * kv_dim; i++)
        k[i] = frand(), v[i] = frand();
    CUDA_OK(cudaMalloc(&dq, sizeof(float) * np * q_dim));
    CUDA_OK(cudaMalloc(&dk, sizeof(float) * np * kv_dim));
    CUDA_OK(cudaMalloc(&dv, sizeof(float) * np * kv_dim));
    CUDA_OK(cudaMalloc(&dout, sizeof(float) * np * q_dim));
    CUDA_OK(cudaMalloc(&dkv, 2 * kbb * nb));
    CUDA_OK(cudaMalloc(&dmeta, sizeof meta));
    CUDA_OK(cudaMemset(dkv, 0, 2 * kbb * nb));
    for (int t0 = 0; t0 < np; t0 += one_by_one ? 1 : np) {
        int n = one_by_one ? 1 : np;
        xck_batch b;
        xck_qkv_args qa;
        xck_attn_args aa;
        xck_kv kv = {dkv, (uint8_t *)dkv + kbb * nb, kbb, kbb, 0};
        for (int i = 0; i < n; i++)
            meta[i] = t0 + i, meta[64 + i] = 0;
        memcpy(meta + 128, table, sizeof table);
        CUDA_OK(cudaMemcpy(dmeta, meta, sizeof meta, cudaMemcpyHostToDevice));
        CUDA_OK(cudaMemcpy(dq, q + (size_t)t0 * q_dim, sizeof(float) * n * q_dim, cudaMemcpyHostToDevice));
        CUDA_OK(cudaMemcpy(dk, k + (size_t)t0 * kv_dim, sizeof(float) * n * kv_dim, cudaMemcpyHostToDevice));
        CUDA_OK(cudaMemcpy(dv, v + (size_t)t0 * kv_dim, sizeof(float) * n * kv_dim, cudaMemcpyHostToDevice));
        b.n_tokens = n, b.pos = (int32_t *)dmeta, b.seq = (int32_t *)dmeta + 64, b.tables = (int32_t *)dmeta + 128;
        b.table_stride = 8;
        memset(&qa, 0, sizeof qa);
        qa.q_in = dq, qa.k_in = dk, qa.v_in = dv, qa.sq = q_dim, qa.sk = kv_dim, qa.sv = kv_dim;
        qa.n_head = n_head, qa.n_kv = n_kv, qa.hd_k = hd, qa.hd_v = hd, qa.q_out = dq;
        memset(&aa, 0, sizeof aa);
        aa.q = dq, aa.out = (float *)dout + (size_t)t0 * q_dim, aa.n_head = n_head, aa.n_kv = n_kv;
        aa.hd_k = hd, aa.hd_v = hd, aa.scale = (float)scale, aa.wide = one_by_one; /* both fold widths */
        if (xck_qkv(0, &b, &qa, &kv) || xck_attention(0, &b, &aa, &kv)) {
            fprintf(stderr, "attention launch failed\n");
            return INFINITY;
        }
        CUDA_OK(cudaDeviceSynchronize());
    }
    CUDA_OK(cudaMemcpy(out, dout, sizeof(float) * np * q_dim, cudaMemcpyDeviceToHost));
    for (int t = 0; t < np; t++)
        for (int h = 0; h < n_head; h++) {
            int g = h / (n_head / n_kv);
            double sc[64], mx = -1e300, l = 0, num = 0, den = 0;
            for (int j = 0; j <= t; j++) {
                double d = 0;
                for (int e = 0; e < hd; e++) /* keys and values as the f16 cache holds them */
                    d += (double)q[(size_t)t * q_dim + h * hd + e] *
                         xllm_f16_to_f32(xllm_f32_to_f16(k[(size_t)j * kv_dim + g * hd + e]));
                sc[j] = d * scale;
                mx = sc[j] > mx ? sc[j] : mx;
            }
            for (int j = 0; j <= t; j++)
                l += exp(sc[j] - mx);
            for (int e = 0; e < hd; e++) {
                double o = 0;
                for (int j = 0; j <= t; j++)
                    o += exp(sc[j] - mx) / l * xllm_f16_to_f32(xllm_f32_to_f16(v[(size_t)j * kv_dim + g * hd + e]));
                double diff = out[(size_t)t * q_dim + h * hd + e] - o;
                num += diff * diff, den += o * o;
            }
            double rel = sqrt(num / den);
            if (!(rel <= worst)) {
                worst = rel;
                if (rel > 1e-3)
                    printf("ATT  bad: token %d head %d rel %.3g\n", t, h, rel);
            }
        }
    cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dout), cudaFree(dkv), cudaFree(dmeta);
    xllm_free(q), xllm_free(k), xllm_free(v), xllm_free(out);
    return worst;
}

int main(void)
{
    xck_blas bl = {0};
    cudaStream_t s;
    int fails = 0, ns[] = {1, 3, 8, 40};
    size_t act = 64 * 4096 * 2, w16 = (size_t)14336 * 4096 * 2;
    xllm_kernels_init();
    CUDA_OK(cudaStreamCreate(&s));
    if (xck_blas_init(&bl, s)) {
        fprintf(stderr, "cuBLAS init failed\n");
        return 1;
    }
    CUDA_OK(cudaMalloc(&bl.act16, act));
    CUDA_OK(cudaMalloc(&bl.w16, w16));
    if (!getenv("XLLM_CUDA_Q8ACT") || getenv("XLLM_CUDA_Q8ACT")[0] != '0') {
        CUDA_OK(cudaMalloc((void **)&bl.xq, 8 * 14336));
        CUDA_OK(cudaMalloc(&bl.xd, 8 * 14336 / 32 * 8));
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        double worst;
        /* tolerance: the reference uses the same dequantized weights, so only
         * f32 accumulation (mat-vec) and f16 activations (cuBLAS) remain */
        double tol = types[i] == XLLM_DTYPE_F32 ? 1e-3 : xck_mmvq_supported(types[i]) ? 1e-2 : 5e-3;
        check_type(&bl, types[i], 96, 512, ns, 4, &worst);
        printf("KCHECK %-6s rows 96 cols 512 n=1,3,8,40: worst rel L2 %.3g (tol %.0e) %s\n", tname(types[i]),
               worst, tol, worst <= tol ? "ok" : "FAIL");
        fails += !(worst <= tol);
    }
    {
        static const uint32_t big[] = {XLLM_DTYPE_F16, XLLM_DTYPE_Q4_K, XLLM_DTYPE_F32, XC_T_Q8_0P, XC_T_Q4_0P};
        int nb[] = {1, 5, 16, 40};
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
            double worst;
            check_type(&bl, big[i], 1024, 5632, nb, 4, &worst);
            double tol = xck_mmvq_supported(big[i]) ? 1e-2 : 5e-3;
            printf("KCHECK %-6s rows 1024 cols 5632 n=1,5,16,40: worst rel L2 %.3g %s\n", tname(big[i]), worst,
                   worst <= tol ? "ok" : "FAIL");
            fails += !(worst <= tol);
        }
    }
    {
        static const int shapes[][3] = {{8, 4, 32}, {32, 4, 64}, {4, 2, 16}, {32, 8, 128}};
        for (int i = 0; i < 4; i++)
            for (int obo = 0; obo < 2; obo++) {
                double w = check_attention(shapes[i][0], shapes[i][1], shapes[i][2], 40, obo);
                printf("KCHECK attention heads %d/%d dim %d, 40 positions %s: worst rel L2 %.3g %s\n", shapes[i][0],
                       shapes[i][1], shapes[i][2], obo ? "one per call" : "in one call", w, w <= 1e-4 ? "ok" : "FAIL");
                fails += !(w <= 1e-4);
            }
    }
    {
        uint32_t tt[] = {XLLM_DTYPE_F16, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q4_0, XC_T_Q8_0P, XC_T_Q4_0P, XLLM_DTYPE_Q4_K,
                         XLLM_DTYPE_Q6_K};
        for (size_t i = 0; i < sizeof tt / sizeof tt[0]; i++) {
            time_type(&bl, tt[i], 4096, 14336, 1);
            time_type(&bl, tt[i], 4096, 14336, 8);
            for (int r = 1; r <= 4 && xck_mmvq_supported(tt[i]) && getenv("XLLM_KCHECK_TUNE"); r *= 2) {
                bl.mmvq_rows = r; /* rows per warp of the int8 mat-vec, also on the 2048-row shape */
                time_type(&bl, tt[i], 4096, 14336, 1);
                time_type(&bl, tt[i], 4096, 14336, 8);
                time_type(&bl, tt[i], 2560, 2048, 1);
                bl.mmvq_rows = 0;
            }
        }
    }
    cudaFree(bl.act16);
    cudaFree(bl.w16);
    xck_blas_free(&bl);
    cudaStreamDestroy(s);
    printf("KCHECK batch invariance of the mat-vec (n=3,5,8 vs n=1, token 0): %ld rows differ %s\n", inv_bad,
           inv_bad ? "FAIL" : "ok");
    fails += inv_bad != 0;
    printf("KRESULT %s (%d failing types)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
