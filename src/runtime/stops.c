/* stops.c - multi-string stop matching with hold-back of possible prefixes. */
#include "runtime/stops.h"

#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"

struct xllm_stops {
    char **s;        /* [n] stop strings */
    size_t *len;     /* [n] */
    int32_t n;
    size_t max_len;  /* longest stop string */
    char *pend;      /* held-back text, then the released copy */
    size_t n_pend, cap;
    char *rel;       /* released text of the last call */
};

xllm_status xllm_stops_new(const char *const *stops, int32_t n, size_t max_piece, xllm_stops **out)
{
    xllm_stops *m;
    *out = NULL;
    if (n < 0 || n > XLLM_MAX_STOP_STRINGS)
        return xllm_fail(XLLM_ERR_LIMIT, "stop strings: %d given, at most %d", n, XLLM_MAX_STOP_STRINGS);
    if (!(m = xllm_calloc(1, sizeof *m)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "stop matcher");
    m->s = xllm_calloc((size_t)n + 1, sizeof *m->s);
    m->len = xllm_calloc((size_t)n + 1, sizeof *m->len);
    if (!m->s || !m->len)
        goto oom;
    for (int32_t i = 0; i < n; i++) {
        size_t l = stops[i] ? strlen(stops[i]) : 0;
        if (l == 0 || l > XLLM_MAX_STOP_BYTES) {
            xllm_stops_free(m);
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "stop string %d: length %zu (must be 1..%d bytes)", i, l,
                             XLLM_MAX_STOP_BYTES);
        }
        if (!(m->s[i] = xllm_strdup(stops[i])))
            goto oom;
        m->len[i] = l;
        if (l > m->max_len)
            m->max_len = l;
        m->n = i + 1;
    }
    /* held text stays below max_len, so one piece always fits */
    m->cap = m->max_len + max_piece + 1;
    m->pend = xllm_malloc(m->cap);
    m->rel = xllm_malloc(m->cap);
    if (!m->pend || !m->rel)
        goto oom;
    *out = m;
    return XLLM_OK;
oom:
    xllm_stops_free(m);
    return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "stop matcher");
}

void xllm_stops_free(xllm_stops *m)
{
    if (!m)
        return;
    for (int32_t i = 0; i < m->n; i++)
        xllm_free(m->s[i]);
    xllm_free(m->s);
    xllm_free(m->len);
    xllm_free(m->pend);
    xllm_free(m->rel);
    xllm_free(m);
}

void xllm_stops_reset(xllm_stops *m) { m->n_pend = 0; }

/* Length of the longest suffix of p[0..n) that is a proper prefix of some stop. */
static size_t held_suffix(const xllm_stops *m, const char *p, size_t n)
{
    size_t best = 0;
    for (int32_t i = 0; i < m->n; i++) {
        size_t k = m->len[i] - 1 < n ? m->len[i] - 1 : n;
        for (; k > best; k--)
            if (!memcmp(p + n - k, m->s[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

/* Move the first n held bytes to the released text (appended after *out_len;
 * rel has room: the caller releases at most cap bytes per call in total). */
static void release(xllm_stops *m, size_t n, const char **out, size_t *out_len)
{
    if (*out_len + n > m->cap)
        n = m->cap - *out_len;
    memcpy(m->rel + *out_len, m->pend, n);
    memmove(m->pend, m->pend + n, m->n_pend - n);
    m->n_pend -= n;
    *out = m->rel;
    *out_len += n;
}

int32_t xllm_stops_push(xllm_stops *m, const char *text, size_t len, const char **out, size_t *out_len)
{
    size_t first = (size_t)-1;
    int32_t which = -1;
    *out = m->rel;
    *out_len = 0;
    if (m->n == 0) { /* nothing to watch: pass the text through */
        *out = text;
        *out_len = len;
        return -1;
    }
    while (len > 0) {
        size_t k = m->cap - m->n_pend < len ? m->cap - m->n_pend : len;
        memcpy(m->pend + m->n_pend, text, k);
        m->n_pend += k;
        text += k;
        len -= k;
        for (int32_t i = 0; i < m->n; i++) {
            char *hit = memmem(m->pend, m->n_pend, m->s[i], m->len[i]);
            if (hit && (size_t)(hit - m->pend) < first) {
                first = (size_t)(hit - m->pend);
                which = i;
            }
        }
        if (which >= 0) {
            m->n_pend = first;
            release(m, first, out, out_len);
            return which;
        }
        if (len > 0) /* buffer full: release what cannot start a stop */
            release(m, m->n_pend - held_suffix(m, m->pend, m->n_pend), out, out_len);
    }
    release(m, m->n_pend - held_suffix(m, m->pend, m->n_pend), out, out_len);
    return -1;
}

void xllm_stops_flush(xllm_stops *m, const char **out, size_t *out_len)
{
    *out_len = 0;
    *out = m->rel;
    if (m->pend)
        release(m, m->n_pend, out, out_len);
}

const char *xllm_stops_get(const xllm_stops *m, int32_t i) { return i >= 0 && i < m->n ? m->s[i] : NULL; }
int32_t xllm_stops_count(const xllm_stops *m) { return m->n; }
