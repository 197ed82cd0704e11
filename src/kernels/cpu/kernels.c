/* kernels.c - the dtype traits table, CPU feature detection and variant
 * choice, and the public row (de)quantization entry points. */
#include <cpuid.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtype.h"
#include "base/status.h"
#include "kernels/cpu/kernels_impl.h"

#define ROW_FNS(name) .dequantize_row = xllm_dequantize_row_##name, .quantize_row = xllm_quantize_row_##name
#define DOT_FNS(name, act)                                                            \
    .vec_dot = xllm_vec_dot_##name##_ref, .vec_dot_type = act,                        \
    .tile = {xllm_tile_##name##_ref, xllm_tile_##name##_avx2, xllm_tile_##name##_avx512}

#define ACT_FNS(name) \
    .quantize_act = {xllm_quantize_row_##name, xllm_quantize_row_##name##_avx2, xllm_quantize_row_##name##_avx512}

static const xllm_type_traits traits[XLLM_DTYPE_COUNT] = {
    [XLLM_DTYPE_F32] = {ROW_FNS(f32), DOT_FNS(f32, XLLM_DTYPE_F32)},
    [XLLM_DTYPE_F16] = {ROW_FNS(f16), DOT_FNS(f16, XLLM_DTYPE_F32)},
    [XLLM_DTYPE_BF16] = {ROW_FNS(bf16), DOT_FNS(bf16, XLLM_DTYPE_F32)},
    [XLLM_DTYPE_Q4_0] = {ROW_FNS(q4_0), DOT_FNS(q4_0, XLLM_DTYPE_Q8_0)},
    [XLLM_DTYPE_Q4_1] = {ROW_FNS(q4_1), DOT_FNS(q4_1, XLLM_DTYPE_Q8_0)},
    [XLLM_DTYPE_Q5_0] = {ROW_FNS(q5_0), DOT_FNS(q5_0, XLLM_DTYPE_Q8_0)},
    [XLLM_DTYPE_Q5_1] = {ROW_FNS(q5_1), DOT_FNS(q5_1, XLLM_DTYPE_Q8_0)},
    [XLLM_DTYPE_Q8_0] = {ROW_FNS(q8_0), DOT_FNS(q8_0, XLLM_DTYPE_Q8_0), ACT_FNS(q8_0)},
    [XLLM_DTYPE_Q8_1] = {ROW_FNS(q8_1)},
    [XLLM_DTYPE_Q2_K] = {ROW_FNS(q2_k), DOT_FNS(q2_k, XLLM_DTYPE_Q8_K)},
    [XLLM_DTYPE_Q3_K] = {ROW_FNS(q3_k), DOT_FNS(q3_k, XLLM_DTYPE_Q8_K)},
    [XLLM_DTYPE_Q4_K] = {ROW_FNS(q4_k), DOT_FNS(q4_k, XLLM_DTYPE_Q8_K)},
    [XLLM_DTYPE_Q5_K] = {ROW_FNS(q5_k), DOT_FNS(q5_k, XLLM_DTYPE_Q8_K)},
    [XLLM_DTYPE_Q6_K] = {ROW_FNS(q6_k), DOT_FNS(q6_k, XLLM_DTYPE_Q8_K)},
    [XLLM_DTYPE_Q8_K] = {ROW_FNS(q8_k), ACT_FNS(q8_k)},
    [XLLM_DTYPE_IQ4_NL] = {ROW_FNS(iq4_nl), DOT_FNS(iq4_nl, XLLM_DTYPE_Q8_0)},
};

const xllm_type_traits *xllm_type_traits_get(uint32_t t)
{
    return t < XLLM_DTYPE_COUNT ? &traits[t] : NULL;
}

/* ---- CPU features and variant choice ---- */

static const char *const isa_names[XLLM_ISA_COUNT] = {"scalar", "avx2", "avx512"};

const char *xllm_isa_name(xllm_isa isa)
{
    return isa >= 0 && isa < XLLM_ISA_COUNT ? isa_names[isa] : "?";
}

/* F16C is CPUID.1:ECX bit 29 (not every compiler's __builtin_cpu_supports
 * knows it; the OS-state check is covered by the avx2 test before it). */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

/* The first feature of isa the CPU lacks, or NULL if it has them all. */
static const char *missing_feature(xllm_isa isa)
{
    __builtin_cpu_init();
    if (isa >= XLLM_ISA_AVX2) {
        if (!__builtin_cpu_supports("avx2"))
            return "avx2";
        if (!__builtin_cpu_supports("fma"))
            return "fma";
        if (!has_f16c())
            return "f16c";
    }
    if (isa >= XLLM_ISA_AVX512) {
        if (!__builtin_cpu_supports("avx512f"))
            return "avx512f";
        if (!__builtin_cpu_supports("avx512bw"))
            return "avx512bw";
        if (!__builtin_cpu_supports("avx512vl"))
            return "avx512vl";
        if (!__builtin_cpu_supports("avx512dq"))
            return "avx512dq";
        if (!__builtin_cpu_supports("avx512vnni"))
            return "avx512vnni";
    }
    return NULL;
}

int xllm_isa_supported(xllm_isa isa)
{
    return isa >= 0 && isa < XLLM_ISA_COUNT && missing_feature(isa) == NULL;
}

static xllm_isa best_isa(void)
{
    for (int isa = XLLM_ISA_COUNT - 1; isa > XLLM_ISA_SCALAR; isa--)
        if (xllm_isa_supported((xllm_isa)isa))
            return (xllm_isa)isa;
    return XLLM_ISA_SCALAR;
}

/* -1 until initialized; relaxed atomics so tests may flip it between runs. */
static _Atomic int active_isa = -1;

/* XLLM_CPU_ISA=scalar|avx2|avx512 forces a lower kernel family (to measure
 * or test every path on one machine, or to work around a bad kernel); one the
 * CPU lacks is an error naming the missing feature. */
xllm_status xllm_kernels_init(void)
{
    const char *env = getenv("XLLM_CPU_ISA");
    if (env && *env && strcmp(env, "auto") != 0) {
        for (int isa = 0; isa < XLLM_ISA_COUNT; isa++)
            if (!strcmp(env, isa_names[isa]))
                return xllm_kernels_set_isa((xllm_isa)isa);
        atomic_store_explicit(&active_isa, (int)XLLM_ISA_SCALAR, memory_order_relaxed);
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "XLLM_CPU_ISA=%s: expected scalar, avx2, avx512 or auto", env);
    }
    atomic_store_explicit(&active_isa, (int)best_isa(), memory_order_relaxed);
    return XLLM_OK;
}

xllm_isa xllm_kernels_isa(void)
{
    int isa = atomic_load_explicit(&active_isa, memory_order_relaxed);
    if (isa < 0) {
        xllm_kernels_init();
        isa = atomic_load_explicit(&active_isa, memory_order_relaxed);
    }
    return (xllm_isa)isa;
}

const char *xllm_kernels_variant(void) { return xllm_isa_name(xllm_kernels_isa()); }

xllm_status xllm_kernels_set_isa(xllm_isa isa)
{
    const char *missing;
    if (isa < 0 || isa >= XLLM_ISA_COUNT)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "kernels: unknown ISA %d", (int)isa);
    missing = missing_feature(isa);
    if (missing)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "kernels: the CPU lacks %s needed by the %s kernels", missing,
                         isa_names[isa]);
    atomic_store_explicit(&active_isa, (int)isa, memory_order_relaxed);
    return XLLM_OK;
}

void xllm_kernels_force_scalar(int on)
{
    atomic_store_explicit(&active_isa, on ? (int)XLLM_ISA_SCALAR : (int)best_isa(), memory_order_relaxed);
}

/* ---- rows ---- */

static xllm_status check_row(const char *what, uint32_t t, const void *p, const void *q, int64_t n)
{
    const xllm_dtype_info *info = xllm_dtype_get(t);
    if (!info)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: unknown dtype %u", what, t);
    if (n < 0 || n % info->block_elems)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: %lld elements is not a multiple of %s's block of %u",
                         what, (long long)n, info->name, info->block_elems);
    if (n > 0 && (!p || !q))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: NULL buffer", what);
    return XLLM_OK;
}

xllm_status xllm_dequantize_row(uint32_t t, const void *src, float *dst, int64_t n)
{
    xllm_status rc = check_row("dequantize_row", t, src, dst, n);
    if (rc)
        return rc;
    if (!traits[t].dequantize_row)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "dequantize_row: no dequantizer for %s", xllm_dtype_name(t));
    traits[t].dequantize_row(src, dst, n);
    return XLLM_OK;
}

xllm_status xllm_quantize_row(uint32_t t, const float *src, void *dst, int64_t n)
{
    xllm_status rc = check_row("quantize_row", t, src, dst, n);
    if (rc)
        return rc;
    if (!traits[t].quantize_row)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "quantize_row: no quantizer for %s", xllm_dtype_name(t));
    traits[t].quantize_row(src, dst, n);
    return XLLM_OK;
}

int xllm_can_quantize(uint32_t t)
{
    return t < XLLM_DTYPE_COUNT && traits[t].quantize_row != NULL;
}
