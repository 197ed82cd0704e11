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
#include "cuda_kernels.h"
#include "kernels/cpu/kernels.h"

static const uint32_t types[] = {XLLM_DTYPE_F32,  XLLM_DTYPE_F16,  XLLM_DTYPE_BF16, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q4_0,
                                 XLLM_DTYPE_Q4_1, XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1, XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K,
                                 XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q5_K, XLLM_DTYPE_Q6_K, XLLM_DTYPE_IQ4_NL};

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
    size_t rb = (size_t)xllm_dtype_row_bytes(t, (uint64_t)cols, &ok);
    uint8_t *wq = xllm_malloc(rb * (size_t)rows);
    float *wf = xllm_malloc(sizeof(float) * (size_t)(rows * cols)), *x = xllm_malloc(sizeof(float) * 64 * cols);
    float *y = xllm_malloc(sizeof(float) * 64 * rows);
    double *ref = xllm_malloc(sizeof(double) * 64 * rows);
    void *dw, *dx, *dy;
    xc_mat m;
    for (int64_t i = 0; i < rows * cols; i++)
        wf[i] = frand() * 0.5f + (i % 7 == 0 ? 0.3f : 0.0f);
    for (int64_t r = 0; r < rows; r++)
        xllm_quantize_row(t, wf + r * cols, wq + (size_t)r * rb, cols);
    for (int64_t r = 0; r < rows; r++)
        xllm_dequantize_row(t, wq + (size_t)r * rb, wf + r * cols, cols);
    for (int64_t i = 0; i < 64 * cols; i++)
        x[i] = frand();
    CUDA_OK(cudaMalloc(&dw, rb * (size_t)rows));
    CUDA_OK(cudaMalloc(&dx, sizeof(float) * 64 * cols));
    CUDA_OK(cudaMalloc(&dy, sizeof(float) * 64 * rows));
    CUDA_OK(cudaMemcpy(dw, wq, rb * (size_t)rows, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dx, x, sizeof(float) * 64 * cols, cudaMemcpyHostToDevice));
    m.dtype = t, m.rows = rows, m.cols = cols, m.row_bytes = rb, m.d = dw;
    for (int k = 0; k < 64; k++)
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
    xllm_free(wq);
    xllm_free(wf);
    xllm_free(x);
    xllm_free(y);
    xllm_free(ref);
    return 0;
}

/* Median time of the n=1 mat-vec over a large matrix, as GB/s of weight bytes. */
static void time_type(xck_blas *bl, uint32_t t, int64_t rows, int64_t cols, int n)
{
    int ok = 1;
    size_t rb = (size_t)xllm_dtype_row_bytes(t, (uint64_t)cols, &ok), bytes = rb * (size_t)rows;
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
    for (int r = 0; r < 20; r++) {
        m.d = dw[r % 4];
        cudaEventRecord(a, bl->stream);
        xck_matmul(bl, &m, dx, n, dy);
        cudaEventRecord(b, bl->stream);
        cudaEventSynchronize(b);
        cudaEventElapsedTime(&ms[r], a, b);
    }
    for (int i = 0; i < 20; i++) /* sort for the median */
        for (int j = i + 1; j < 20; j++)
            if (ms[j] < ms[i]) {
                float tmp = ms[i];
                ms[i] = ms[j], ms[j] = tmp;
            }
    printf("KTIME %-6s n=%d %lldx%lld %.1f MB: %.4f ms, %.0f GB/s\n", xllm_dtype_name(t), n, (long long)rows,
           (long long)cols, bytes / 1e6, ms[10], bytes / (ms[10] * 1e-3) / 1e9);
    for (int i = 0; i < 4; i++)
        cudaFree(dw[i]);
    cudaFree(dx);
    cudaFree(dy);
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
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        double worst;
        /* tolerance: the reference uses the same dequantized weights, so only
         * f32 accumulation (mat-vec) and f16 activations (cuBLAS) remain */
        double tol = types[i] == XLLM_DTYPE_F32 ? 1e-3 : 5e-3;
        check_type(&bl, types[i], 96, 512, ns, 4, &worst);
        printf("KCHECK %-6s rows 96 cols 512 n=1,3,8,40: worst rel L2 %.3g (tol %.0e) %s\n", xllm_dtype_name(types[i]),
               worst, tol, worst <= tol ? "ok" : "FAIL");
        fails += !(worst <= tol);
    }
    {
        uint32_t tt[] = {XLLM_DTYPE_F16, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q4_0, XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q6_K};
        for (size_t i = 0; i < sizeof tt / sizeof tt[0]; i++) {
            time_type(&bl, tt[i], 4096, 14336, 1);
            time_type(&bl, tt[i], 4096, 14336, 8);
        }
    }
    cudaFree(bl.act16);
    cudaFree(bl.w16);
    xck_blas_free(&bl);
    cudaStreamDestroy(s);
    printf("KRESULT %s (%d failing types)\n", fails ? "FAIL" : "PASS", fails);
    return fails != 0;
}
