/* stops.h - watches generated text for several stop strings at once, across
 * token boundaries: text is held back while it may still become the start of
 * a stop string, and the stop string itself is never released.
 *
 * Ownership: the matcher copies the stop strings and owns its pending buffer
 * (capped by the longest stop string plus one piece). Threading: one per
 * sequence. Nothing is allocated after xllm_stops_new. */
#ifndef XLLM_RUNTIME_STOPS_H
#define XLLM_RUNTIME_STOPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

typedef struct xllm_stops xllm_stops;

/* max_piece: the longest text one push may bring (a token's bytes). */
xllm_status xllm_stops_new(const char *const *stops, int32_t n, size_t max_piece, xllm_stops **out);
void xllm_stops_free(xllm_stops *m);
void xllm_stops_reset(xllm_stops *m);

/* Add text; *out and *out_len receive what may now be released (valid until the
 * next call). Returns the index of the stop string found (the text before it
 * is released, the rest dropped), or -1. */
int32_t xllm_stops_push(xllm_stops *m, const char *text, size_t len, const char **out, size_t *out_len);
/* End of generation without a stop: release everything held back. */
void xllm_stops_flush(xllm_stops *m, const char **out, size_t *out_len);
const char *xllm_stops_get(const xllm_stops *m, int32_t i);
int32_t xllm_stops_count(const xllm_stops *m);

#endif
