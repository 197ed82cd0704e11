/* quant_fit.c - least-squares scale searches of the reference quantizers. */
#include "kernels/cpu/quant_fit.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu/kernels_impl.h"

#define FIT_MAX_N 256 /* longest group fitted at once (a K-quant super-block) */
/* Search widths: candidate scales tried per group. Quality flattens out
 * around these; each step costs a pass over the group. */
#define FIT_SYM_STEPS 6   /* symmetric: extreme mapped to qmin -+ 0.1 * k */
#define FIT_MIN_TRIALS 5  /* scale + min: range spread over qmax + 0.5 * t levels */

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void xllm_requantize_symmetric(const float *x, int n, int qmin, int qmax, float d, int8_t *l)
{
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++)
        l[i] = (int8_t)clampi(xllm_nearest_int(x[i] * id), qmin, qmax);
}

float xllm_fit_symmetric(const float *x, int n, int qmin, int qmax, int8_t *l)
{
    int8_t trial[FIT_MAX_N];
    float amax = 0, max = 0, best_score = -1, best_d = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax == 0) {
        memset(l, 0, (size_t)n);
        return 0;
    }
    /* Map the extreme value to levels around the wider end of the range
     * (and once to the other end), refit d by least squares, and keep the
     * levels that explain most of the energy. */
    for (int k = -FIT_SYM_STEPS; k <= FIT_SYM_STEPS + 1; k++) {
        float level = k <= FIT_SYM_STEPS ? (float)qmin - 0.1f * (float)k : (float)qmax;
        float sxl = 0, sll = 0;
        xllm_requantize_symmetric(x, n, qmin, qmax, max / level, trial);
        for (int i = 0; i < n; i++) {
            sxl += x[i] * trial[i];
            sll += (float)(trial[i] * trial[i]);
        }
        if (sll > 0 && sxl * sxl / sll > best_score) {
            best_score = sxl * sxl / sll;
            best_d = sxl / sll;
            memcpy(l, trial, (size_t)n);
        }
    }
    return best_d;
}

void xllm_requantize_scale_min(const float *x, int n, int qmax, float scale, float min, uint8_t *q)
{
    float is = scale > 0 ? 1.0f / scale : 0.0f;
    for (int i = 0; i < n; i++)
        q[i] = (uint8_t)clampi(xllm_nearest_int((x[i] - min) * is), 0, qmax);
}

/* Least-squares (scale, min) for fixed levels q; returns 0 if degenerate. */
static int refit(const float *x, int n, const uint8_t *q, int min_le_zero, float *scale, float *min)
{
    double sq = 0, sqq = 0, sx = 0, sxq = 0;
    for (int i = 0; i < n; i++) {
        sq += q[i];
        sqq += (double)q[i] * q[i];
        sx += x[i];
        sxq += (double)x[i] * q[i];
    }
    double det = n * sqq - sq * sq;
    if (det <= 0)
        return 0;
    double s = (n * sxq - sq * sx) / det, m = (sqq * sx - sq * sxq) / det;
    if (min_le_zero && m > 0) {
        m = 0;
        s = sqq > 0 ? sxq / sqq : 0;
    }
    if (s <= 0)
        return 0;
    *scale = (float)s;
    *min = (float)m;
    return 1;
}

static float sq_error(const float *x, int n, float scale, float min, const uint8_t *q)
{
    float e = 0;
    for (int i = 0; i < n; i++) {
        float d = scale * q[i] + min - x[i];
        e += d * d;
    }
    return e;
}

void xllm_fit_scale_min(const float *x, int n, int qmax, int min_le_zero,
                        float *scale, float *min, uint8_t *q)
{
    uint8_t trial[FIT_MAX_N];
    float lo = x[0], hi = x[0], best = INFINITY;
    for (int i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    if (min_le_zero)
        lo = fminf(lo, 0);
    *scale = 0;
    *min = lo;
    memset(q, 0, (size_t)n);
    if (hi <= lo)
        return;
    /* Spread the range over slightly fewer or more levels, refit, keep best. */
    for (int t = -1; t < FIT_MIN_TRIALS - 1; t++) {
        float s = (hi - lo) / ((float)qmax + 0.5f * (float)t), m = lo;
        for (int pass = 0; pass < 2; pass++) {
            xllm_requantize_scale_min(x, n, qmax, s, m, trial);
            if (!refit(x, n, trial, min_le_zero, &s, &m))
                break;
        }
        xllm_requantize_scale_min(x, n, qmax, s, m, trial);
        float e = sq_error(x, n, s, m, trial);
        if (e < best) {
            best = e;
            *scale = s;
            *min = m;
            memcpy(q, trial, (size_t)n);
        }
    }
}
