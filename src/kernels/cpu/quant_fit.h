/* quant_fit.h - scale fitting shared by the reference quantizers: least-squares
 * searches for a symmetric scale (x ~ d * l) or a scale and offset
 * (x ~ scale * q + min). Pure functions over caller buffers; thread-safe. */
#ifndef XLLM_KERNELS_CPU_QUANT_FIT_H
#define XLLM_KERNELS_CPU_QUANT_FIT_H

#include <stdint.h>

/* Best d for x[0..n) ~ d * l, l integers in [qmin, qmax] (qmin < 0 < qmax);
 * writes the levels to l. Returns 0 (and l = 0) for an all-zero input. */
float xllm_fit_symmetric(const float *x, int n, int qmin, int qmax, int8_t *l);
/* Levels for a given (already rounded) d: l = clamp(round(x / d)). */
void xllm_requantize_symmetric(const float *x, int n, int qmin, int qmax, float d, int8_t *l);

/* Best (scale >= 0, min) for x ~ scale * q + min, q in [0, qmax]. With
 * min_le_zero the offset is kept <= 0 (K-quants store -min as unsigned). */
void xllm_fit_scale_min(const float *x, int n, int qmax, int min_le_zero,
                        float *scale, float *min, uint8_t *q);
/* q = clamp(round((x - min) / scale)) for given rounded scale and min. */
void xllm_requantize_scale_min(const float *x, int n, int qmax, float scale, float min, uint8_t *q);

#endif
