/* ops.h - the small element-wise operations of the forward pass (norms, rope,
 * activations, soft-capping), written as plain loops for the compiler to
 * vectorize. Header-only; no state, no allocation, any thread. */
#ifndef XLLM_ENGINE_OPS_H
#define XLLM_ENGINE_OPS_H

#include <math.h>
#include <stdint.h>

#include "kernels/cpu/kernels.h"
#include "model/arch.h"

/* y[n] = x / rms(x) * w (w NULL: 1). y may equal x. */
static inline void xllm_op_rms_norm(const float *x, const float *w, float eps, float *y, int64_t n)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    if (w)
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * r * w[i];
    else
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] * r;
}

/* y[n] = (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL). y may equal x. */
static inline void xllm_op_layer_norm(const float *x, const float *w, const float *b, float eps, float *y, int64_t n)
{
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    float mean = (float)(s / (double)n);
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - mean;
        ss += d * d;
    }
    float r = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (int64_t i = 0; i < n; i++) {
        float v = (x[i] - mean) * r;
        if (w)
            v *= w[i];
        if (b)
            v += b[i];
        y[i] = v;
    }
}

static inline void xllm_op_norm(xllm_norm_kind kind, const float *x, const float *w, const float *b, float eps,
                                float *y, int64_t n)
{
    if (kind == XLLM_NORM_RMS)
        xllm_op_rms_norm(x, w, eps, y, n);
    else
        xllm_op_layer_norm(x, w, b, eps, y, n);
}

/* Rotate the first n_rot dims of one head x[head_dim] in place; cs holds
 * cos[n_rot/2] then sin[n_rot/2] for this position. */
static inline void xllm_op_rope(xllm_rope_kind kind, float *x, const float *cs, int32_t n_rot)
{
    int32_t half = n_rot / 2;
    const float *c = cs, *s = cs + half;
    if (kind == XLLM_ROPE_NORM) {
        for (int32_t i = 0; i < half; i++) {
            float a = x[2 * i], b = x[2 * i + 1];
            x[2 * i] = a * c[i] - b * s[i];
            x[2 * i + 1] = a * s[i] + b * c[i];
        }
    } else if (kind == XLLM_ROPE_NEOX) {
        for (int32_t i = 0; i < half; i++) {
            float a = x[i], b = x[i + half];
            x[i] = a * c[i] - b * s[i];
            x[i + half] = a * s[i] + b * c[i];
        }
    }
}

/* cs[0..half) = mscale * cos(pos * inv_freq), cs[half..2 half) = mscale * sin;
 * the angle is an f32 product as in HF. */
static inline void xllm_op_rope_table(const float *inv_freq, int32_t pos, int32_t half, float mscale, float *cs)
{
    for (int32_t i = 0; i < half; i++) {
        float ang = (float)pos * inv_freq[i];
        cs[i] = (float)cos((double)ang) * mscale;
        cs[half + i] = (float)sin((double)ang) * mscale;
    }
}

static inline float xllm_op_gelu_tanh1(float x)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

static inline float xllm_op_gelu_erf1(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

static inline float xllm_op_silu1(float x) { return x / (1.0f + expf(-x)); }

static inline float xllm_op_act1(xllm_act a, float x)
{
    switch (a) {
    case XLLM_ACT_SILU: return xllm_op_silu1(x);
    case XLLM_ACT_GELU_TANH: return xllm_op_gelu_tanh1(x);
    case XLLM_ACT_GELU_ERF: return xllm_op_gelu_erf1(x);
    }
    return x;
}

/* out[n] = act(g) * u  (u NULL: act(g)). out may equal g. */
static inline void xllm_op_act_mul(xllm_act a, const float *g, const float *u, float *out, int64_t n)
{
    if (a == XLLM_ACT_SILU) {
        xllm_silu_mul(g, u, out, n); /* vectorized exp (kernels) */
        return;
    }
    if (u)
        for (int64_t i = 0; i < n; i++)
            out[i] = xllm_op_act1(a, g[i]) * u[i];
    else
        for (int64_t i = 0; i < n; i++)
            out[i] = xllm_op_act1(a, g[i]);
}

/* x = cap * tanh(x / cap) for cap > 0. */
static inline void xllm_op_softcap(float *x, int64_t n, float cap)
{
    if (cap <= 0.0f)
        return;
    for (int64_t i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] / cap);
}

static inline void xllm_op_add(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

/* Scale x[n] to unit L2 norm (left as is when the norm is 0). */
static inline void xllm_op_l2_normalize(float *x, int64_t n)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    if (ss > 0.0) {
        float r = (float)(1.0 / sqrt(ss));
        for (int64_t i = 0; i < n; i++)
            x[i] *= r;
    }
}

#endif
