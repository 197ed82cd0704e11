/* matmul.c - xllm_matmul: quantize the activation rows once into the weight
 * type's vec_dot_type (per-thread scratch, grown once and reused), then split
 * the output rows across the pool; each task walks its rows in cache blocks
 * and hands register tiles (weight rows x activation rows) to the ISA's tile
 * kernel, so during prefill a weight row is fetched from memory once per
 * block of activations rather than once per activation. Weights that
 * xllm_weight_prepare repacked (kernels_impl.h's packed layouts) take the
 * packed tiles instead (Q8X, Q8_K or f32 activations), alone or several
 * projections of one input in one run (xllm_matmul_fused). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fs.h"
#include "base/status.h"
#include "base/sysinfo.h"
#include "kernels/cpu/kernels_impl.h"

#define ROW_UNIT 4          /* rows per task granule (the widest register tile) */
#define ROW_BLOCK 16        /* weight rows kept hot while a block of activations passes */
#define ACT_BLOCK 64        /* activation rows per cache block (about 64 x 4 KiB) */
#define TASKS_PER_THREAD 4  /* over-split so a descheduled thread is covered */
#define DECODE_TASKS_PER_THREAD 16 /* n = 1 packed runs: up to this many tasks per thread */
#define DECODE_MIN_GROUPS 8 /* ... of at least this many 16-row groups */
#define QUANT_MIN_ROWS 4    /* quantize activations on the pool from this many rows */
/* F16 weights (f32 activations): twice the rows per block while the f32
 * panel still fits L2, so each weight group is streamed from memory half as
 * often (measured +1.7 to +2.4 % on the 2048-column TinyLlama projections;
 * the 5632-column ffn_down, 2.9 MB at 128 rows, lost 2-4 % and keeps 64;
 * bench/RESULTS.md). */
#define F16_ACT_BLOCK 128
#define F16_PANEL_BYTES ((size_t)1 << 20)

/* ---- per-thread scratch for quantized activations ---- */

typedef struct scratch {
    void *data;
    size_t cap;
} scratch;

static _Thread_local scratch tls_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    scratch *s = arg;
    xllm_free(s->data);
    s->data = NULL;
    s->cap = 0;
}

static void scratch_key_create(void) { pthread_key_create(&scratch_key, scratch_free); }

/* The calling thread's scratch of at least bytes (64-byte aligned), or NULL. */
static void *scratch_get(size_t bytes)
{
    scratch *s = &tls_scratch;
    if (s->cap >= bytes)
        return s->data;
    pthread_once(&scratch_once, scratch_key_create);
    xllm_free(s->data);
    s->cap = 0;
    s->data = xllm_aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!s->data)
        return NULL;
    s->cap = bytes;
    pthread_setspecific(scratch_key, s); /* frees it when the thread exits */
    return s->data;
}

/* ---- tasks ---- */

typedef struct quant_job {
    xllm_quant_fn quantize;
    const float *x;
    int64_t cols, n;
    uint8_t *a;
    size_t a_stride;
} quant_job;

static void quant_task(void *arg, int task, int n_tasks)
{
    const quant_job *j = arg;
    int64_t r0 = j->n * task / n_tasks, r1 = j->n * (task + 1) / n_tasks;
    for (int64_t r = r0; r < r1; r++)
        j->quantize(j->x + r * j->cols, j->a + (size_t)r * j->a_stride, j->cols);
}

typedef struct mm_job {
    xllm_tile_fn tile;
    const uint8_t *w;
    size_t w_stride;
    int64_t rows, cols, n;
    const uint8_t *a;
    size_t a_stride;
    float *y;
} mm_job;

static void mm_task(void *arg, int task, int n_tasks)
{
    const mm_job *j = arg;
    int64_t units = (j->rows + ROW_UNIT - 1) / ROW_UNIT;
    int64_t r0 = units * task / n_tasks * ROW_UNIT, r1 = units * (task + 1) / n_tasks * ROW_UNIT;
    if (r1 > j->rows)
        r1 = j->rows;
    for (int64_t c0 = 0; c0 < j->n; c0 += ACT_BLOCK) {
        int nc = (int)(j->n - c0 < ACT_BLOCK ? j->n - c0 : ACT_BLOCK);
        for (int64_t r = r0; r < r1; r += ROW_BLOCK) {
            int nr = (int)(r1 - r < ROW_BLOCK ? r1 - r : ROW_BLOCK);
            j->tile(j->cols, j->w + (size_t)r * j->w_stride, j->w_stride, nr,
                    j->a + (size_t)c0 * j->a_stride, j->a_stride, nc,
                    j->y + (size_t)c0 * (size_t)j->rows + (size_t)r, (size_t)j->rows);
        }
    }
}

/* ---- entry points ---- */

static xllm_status check_weight(const xllm_weight *w, const xllm_type_traits **tr, size_t *w_stride)
{
    int ok;
    if (!w || w->rows < 0 || w->cols < 0 || (!w->data && w->rows && w->cols))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "matmul: bad weight (NULL or negative shape)");
    *tr = xllm_type_traits_get(w->dtype);
    if (!*tr || !(*tr)->vec_dot)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "matmul: no CPU kernel for weights of type %s",
                         xllm_dtype_name(w->dtype));
    *w_stride = (size_t)xllm_dtype_row_bytes(w->dtype, (uint64_t)w->cols, &ok);
    if (!ok || !xllm_dtype_row_bytes((*tr)->vec_dot_type, (uint64_t)w->cols, &ok) || !ok)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "matmul: %lld columns do not fill whole %s/%s blocks",
                         (long long)w->cols, xllm_dtype_name(w->dtype), xllm_dtype_name((*tr)->vec_dot_type));
    return XLLM_OK;
}

/* ---- packed weights ---- */

#define PACK_ALIGN ((size_t)2 << 20) /* transparent huge pages: no TLB walk per 4 KiB streamed */
#define PACK_HDR 64                  /* the xllm_packed header, padded to a cache line */

/* Give the pages of the standard rows back once the packed copy replaces
 * them, so the two never both count (peak RSS ~ one copy of the weights). */
static void drop_source(const void *data, size_t bytes)
{
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !xllm_mmap_contains(data, bytes))
        return;
    uintptr_t lo = (uintptr_t)data & ~(uintptr_t)(pg - 1);
    uintptr_t hi = ((uintptr_t)data + bytes + (uintptr_t)pg - 1) & ~(uintptr_t)(pg - 1);
    madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advisory: failure only costs memory */
}

/* Repack on two threads when the weight is large: the repack runs once at
 * load, where the pool does not exist yet, and half of its time is the
 * kernel handing out fresh pages, which scales with threads. */
#define FILL_SPLIT_BYTES ((size_t)8 << 20)

typedef struct fill_half {
    xllm_packed *p;
    const void *src;
    size_t src_stride; /* bytes of one standard row group */
    int64_t g0, g1;
    int from_file; /* set by fill_thread: the rows were read with pread */
} fill_half;

#define FILL_CHUNK_BYTES ((size_t)256 << 10) /* standard rows read per pread */

/* Repack groups [g0, g1) from the file with pread, a chunk of groups at a
 * time, when the rows lie in a file mapping: touching the mapping costs a
 * page-table entry per 4 KiB page (measured 3x slower than pread here). 0
 * when the rows are not in a mapping (the first read says so) or a read
 * failed. */
static int fill_from_file(const fill_half *h)
{
    size_t per = FILL_CHUNK_BYTES / h->src_stride;
    int64_t step = per > 0 ? (int64_t)per : 1;
    uint8_t *buf = xllm_malloc((size_t)step * h->src_stride);
    int ok = buf != NULL;
    for (int64_t g = h->g0; ok && g < h->g1; g += step) {
        int64_t n = h->g1 - g < step ? h->g1 - g : step;
        xllm_packed view = *h->p;
        view.data = h->p->data + (size_t)g * h->p->group_bytes;
        ok = xllm_mmap_pread((const uint8_t *)h->src + (size_t)g * h->src_stride, (size_t)n * h->src_stride, buf) ==
             XLLM_OK;
        if (ok)
            xllm_pack_fill(&view, buf, 0, n);
    }
    xllm_free(buf);
    return ok;
}

/* Map the fresh destination pages of groups [g0, g1) in one call instead of
 * a page fault per page, then repack them. */
static void *fill_thread(void *arg)
{
    fill_half *h = arg;
    if (h->g1 <= h->g0)
        return NULL;
#ifdef MADV_POPULATE_WRITE
    uint8_t *dst = h->p->data + (size_t)h->g0 * h->p->group_bytes;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg > 0) {
        uintptr_t m = (uintptr_t)pg - 1, d0 = ((uintptr_t)dst + m) & ~m;
        uintptr_t d1 = ((uintptr_t)dst + (size_t)(h->g1 - h->g0) * h->p->group_bytes) & ~m;
        if (d1 > d0)
            madvise((void *)d0, d1 - d0, MADV_POPULATE_WRITE); /* advisory */
    }
#endif
    h->from_file = fill_from_file(h);
    if (!h->from_file)
        xllm_pack_fill(h->p, h->src, h->g0, h->g1);
    return NULL;
}

/* 1 when every row was read with pread (the mapped pages were never touched). */
static int fill_parallel(xllm_packed *p, const void *src, size_t src_stride, size_t bytes)
{
    int64_t groups = p->rows / XLLM_PACK_ROWS;
    fill_half lo = {p, src, src_stride, 0, groups / 2, 0}, hi = {p, src, src_stride, groups / 2, groups, 0};
    pthread_t t;
    if (bytes < FILL_SPLIT_BYTES || groups < 2 || xllm_online_cpus() < 2 ||
        pthread_create(&t, NULL, fill_thread, &hi) != 0) {
        lo.g1 = groups;
        fill_thread(&lo);
        return lo.from_file;
    }
    fill_thread(&lo);
    pthread_join(t, NULL);
    return lo.from_file && hi.from_file;
}

/* Bytes of the allocation behind a packed weight. */
static size_t packed_bytes(xllm_pack_format fmt, int64_t rows, int64_t cols)
{
    return PACK_HDR + (size_t)(rows / XLLM_PACK_ROWS) * xllm_pack_group_bytes(fmt, cols);
}

xllm_status xllm_weight_prepare(xllm_weight *w)
{
    const xllm_type_traits *tr;
    size_t w_stride;
    xllm_status rc = check_weight(w, &tr, &w_stride);
    if (rc || w->packed)
        return rc;
    xllm_pack_format fmt = xllm_pack_choose(w->dtype, w->rows, w->cols, xllm_kernels_isa());
    if (fmt == XLLM_PACK_NONE)
        return XLLM_OK;
    int64_t groups = w->rows / XLLM_PACK_ROWS;
    size_t gb = xllm_pack_group_bytes(fmt, w->cols);
    uint32_t at = xllm_pack_act_dtype(fmt);
    int64_t nb = at == XLLM_DTYPE_F32 ? w->cols : w->cols / (at == XLLM_DTYPE_Q8_K ? XLLM_QK_K : XLLM_QK32);
    if ((size_t)groups > (SIZE_MAX - PACK_ALIGN) / gb)
        return xllm_fail(XLLM_ERR_LIMIT, "weight_prepare: %lld x %lld weight too large", (long long)w->rows,
                         (long long)w->cols);
    size_t bytes = packed_bytes(fmt, w->rows, w->cols);
    uint8_t *mem = xllm_pages_alloc(bytes, bytes >= PACK_ALIGN);
    if (!mem)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "weight_prepare: %zu bytes for a packed %lld x %lld weight", bytes,
                         (long long)w->rows, (long long)w->cols);
    xllm_packed *p = (xllm_packed *)mem;
    *p = (xllm_packed){(uint32_t)fmt, w->rows, w->cols, nb, gb, mem + PACK_HDR};
    if (!fill_parallel(p, w->data, w_stride * XLLM_PACK_ROWS, bytes))
        drop_source(w->data, (size_t)w->rows * w_stride); /* pages the fill touched */
    w->packed = p;
    return XLLM_OK;
}

void xllm_weight_release(xllm_weight *w)
{
    if (!w)
        return;
    const xllm_packed *p = w->packed;
    if (p)
        xllm_pages_free(w->packed, packed_bytes((xllm_pack_format)p->format, p->rows, p->cols));
    w->packed = NULL;
}

/* The packed tile of isa for p, or NULL. */
static xllm_packed_fn packed_tile(const xllm_packed *p, xllm_isa isa)
{
    static const xllm_packed_fn avx512[XLLM_PACK_COUNT] = {
        [XLLM_PACK_Q4_0X16] = xllm_packed_q4_0x16_avx512,
        [XLLM_PACK_Q8_0X16] = xllm_packed_q8_0x16_avx512,
        [XLLM_PACK_IQ4_NLX16] = xllm_packed_iq4_nlx16_avx512,
        [XLLM_PACK_Q4_1X16] = xllm_packed_q4_1x16_avx512,
        [XLLM_PACK_Q5_0X16] = xllm_packed_q5_0x16_avx512,
        [XLLM_PACK_Q5_1X16] = xllm_packed_q5_1x16_avx512,
        [XLLM_PACK_Q4_KX16] = xllm_packed_q4_kx16_avx512,
        [XLLM_PACK_Q5_KX16] = xllm_packed_q5_kx16_avx512,
        [XLLM_PACK_Q6_KX16] = xllm_packed_q6_kx16_avx512,
        [XLLM_PACK_Q3_KX16] = xllm_packed_q3_kx16_avx512,
        [XLLM_PACK_Q2_KX16] = xllm_packed_q2_kx16_avx512,
        [XLLM_PACK_F16X16] = xllm_packed_f16x16_avx512,
    };
    static const xllm_packed_fn avx2[XLLM_PACK_COUNT] = {
        [XLLM_PACK_Q4_0X16] = xllm_packed_q4_0x16_avx2,
        [XLLM_PACK_Q6_KX16] = xllm_packed_q6_kx16_avx2,
        [XLLM_PACK_Q8_0X16] = xllm_packed_q8_0x16_avx2,
        [XLLM_PACK_F16X16] = xllm_packed_f16x16_avx2,
    };
    if (p->format >= XLLM_PACK_COUNT)
        return NULL;
    return isa == XLLM_ISA_AVX512 ? avx512[p->format] : isa == XLLM_ISA_AVX2 ? avx2[p->format] : NULL;
}

#define PK_MAX_W 4 /* weights of one fused packed run (q, k, v: 3 used) */

/* Packed weights sharing the input, split over the pool as one list of
 * row groups (fused projections: one activation quantization, one run). */
typedef struct pk_job {
    int count;
    xllm_packed_fn tile[PK_MAX_W];
    const xllm_packed *p[PK_MAX_W];
    float *y[PK_MAX_W];
    int64_t end[PK_MAX_W]; /* cumulative group counts */
    int64_t n;
    int64_t act_block; /* activation rows per cache block */
    const uint8_t *a;
    size_t a_stride;
} pk_job;

static void pk_task(void *arg, int task, int n_tasks)
{
    const pk_job *j = arg;
    int64_t total = j->end[j->count - 1];
    /* even split points: the n = 1 kernels stream groups in pairs */
    int64_t t0 = (total * task / n_tasks) & ~(int64_t)1;
    int64_t t1 = task + 1 == n_tasks ? total : (total * (task + 1) / n_tasks) & ~(int64_t)1;
    for (int64_t c0 = 0; c0 < j->n; c0 += j->act_block) {
        int nc = (int)(j->n - c0 < j->act_block ? j->n - c0 : j->act_block);
        int64_t start = 0;
        for (int k = 0; k < j->count; start = j->end[k++]) {
            int64_t g0 = t0 > start ? t0 - start : 0, g1 = (t1 < j->end[k] ? t1 : j->end[k]) - start;
            if (g0 >= g1)
                continue;
            j->tile[k](j->p[k], g0, g1, j->a + (size_t)c0 * j->a_stride, j->a_stride, nc,
                       j->y[k] + (size_t)c0 * (size_t)j->p[k]->rows, (size_t)j->p[k]->rows);
        }
    }
}

/* Quantize the n activation rows into at (the scratch of the calling thread),
 * spread over the pool when there are enough rows. */
static xllm_status quantize_activations(xllm_pool *pool, xllm_quant_fn quantize, size_t a_stride, const float *x,
                                        int64_t n, int64_t cols, const uint8_t **out, size_t *out_stride)
{
    int threads = xllm_pool_size(pool);
    if ((size_t)n > SIZE_MAX / a_stride)
        return xllm_fail(XLLM_ERR_LIMIT, "matmul: %lld activation rows overflow the scratch size", (long long)n);
    uint8_t *a = scratch_get((size_t)n * a_stride);
    if (!a)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "matmul: scratch for %lld x %lld activations", (long long)n,
                         (long long)cols);
    quant_job qj = {quantize, x, cols, n, a, a_stride};
    int qtasks = n >= QUANT_MIN_ROWS && threads > 1 ? (n < threads ? (int)n : threads) : 1;
    xllm_pool_run(qtasks > 1 ? pool : NULL, quant_task, &qj, qtasks);
    *out = a;
    *out_stride = a_stride;
    return XLLM_OK;
}

/* The packed path of count weights of the same packed layout and columns. */
static xllm_status matmul_packed(xllm_pool *pool, xllm_isa isa, const xllm_weight *const *w, int count,
                                 const float *x, int64_t n, float *const *y)
{
    const xllm_packed *pk = w[0]->packed;
    int threads = xllm_pool_size(pool);
    pk_job pj = {.count = count, .n = n};
    xllm_status rc;
    for (int k = 0; k < count; k++) {
        pj.p[k] = w[k]->packed;
        pj.tile[k] = packed_tile(pj.p[k], isa);
        pj.y[k] = y[k];
        pj.end[k] = (k ? pj.end[k - 1] : 0) + pj.p[k]->rows / XLLM_PACK_ROWS;
    }
    /* packed tiles exist for AVX-512 and (fewer) for AVX2 */
    xllm_quant_fn qf = isa == XLLM_ISA_AVX512 ? xllm_quantize_row_q8x_avx512 : xllm_quantize_row_q8x_avx2;
    size_t as = (size_t)(pk->cols / XLLM_QK32) * XLLM_Q8X_BYTES;
    uint32_t at = xllm_pack_act_dtype((xllm_pack_format)pk->format);
    if (at == XLLM_DTYPE_Q8_K) {
        qf = isa == XLLM_ISA_AVX512 ? xllm_quantize_row_q8_k_avx512 : xllm_quantize_row_q8_k_avx2;
        as = (size_t)(pk->cols / XLLM_QK_K) * sizeof(xllm_block_q8_k);
    }
    pj.act_block = ACT_BLOCK;
    if (at == XLLM_DTYPE_F32) {
        pj.a = (const uint8_t *)x;
        pj.a_stride = (size_t)pk->cols * sizeof(float);
        if (pj.a_stride * F16_ACT_BLOCK <= F16_PANEL_BYTES)
            pj.act_block = F16_ACT_BLOCK;
    } else if ((rc = quantize_activations(pool, qf, as, x, n, pk->cols, &pj.a, &pj.a_stride)) != XLLM_OK) {
        return rc;
    }
    int64_t groups = pj.end[count - 1];
    int64_t tasks = threads > 1 ? (int64_t)threads * TASKS_PER_THREAD : 1;
    if (n == 1 && threads > 1 && groups / DECODE_MIN_GROUPS > tasks) /* finer, so the threads finish together */
        tasks = groups / DECODE_MIN_GROUPS < threads * DECODE_TASKS_PER_THREAD ? groups / DECODE_MIN_GROUPS
                                                                               : threads * DECODE_TASKS_PER_THREAD;
    if (tasks > groups)
        tasks = groups;
    xllm_pool_run(pool, pk_task, &pj, (int)tasks);
    return XLLM_OK;
}

xllm_status xllm_matmul(xllm_pool *pool, const xllm_weight *w, const float *x, int64_t n, float *y)
{
    const xllm_type_traits *tr;
    size_t w_stride;
    xllm_status rc = check_weight(w, &tr, &w_stride);
    if (rc)
        return rc;
    if (n < 0 || (n > 0 && w->rows > 0 && (!x || !y)))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "matmul: bad activations (NULL or n = %lld)", (long long)n);
    if (n == 0 || w->rows == 0)
        return XLLM_OK;
    if (w->cols == 0) {
        memset(y, 0, (size_t)n * (size_t)w->rows * sizeof(float));
        return XLLM_OK;
    }

    xllm_isa isa = xllm_kernels_isa();
    int threads = xllm_pool_size(pool);
    if (w->packed && packed_tile(w->packed, isa))
        return matmul_packed(pool, isa, &w, 1, x, n, &y);
    xllm_isa tile_isa = isa;
    while (!tr->tile[tile_isa]) /* the scalar tile always exists */
        tile_isa--;

    mm_job job = {tr->tile[tile_isa], w->data, w_stride, w->rows, w->cols, n, (const uint8_t *)x,
                  (size_t)w->cols * sizeof(float), y};
    if (tr->vec_dot_type != XLLM_DTYPE_F32) {
        const xllm_type_traits *ta = xllm_type_traits_get(tr->vec_dot_type);
        int ok;
        size_t a_stride = (size_t)xllm_dtype_row_bytes(tr->vec_dot_type, (uint64_t)w->cols, &ok);
        rc = quantize_activations(pool, ta->quantize_act[isa] ? ta->quantize_act[isa] : ta->quantize_row, a_stride, x,
                                  n, w->cols, &job.a, &job.a_stride);
        if (rc)
            return rc;
    }
    int64_t units = (w->rows + ROW_UNIT - 1) / ROW_UNIT;
    int64_t tasks = threads > 1 ? (int64_t)threads * TASKS_PER_THREAD : 1;
    if (tasks > units)
        tasks = units;
    xllm_pool_run(pool, mm_task, &job, (int)tasks);
    return XLLM_OK;
}

xllm_status xllm_matmul_fused(xllm_pool *pool, const xllm_weight *const *w, int count, const float *x, int64_t n,
                              float *const *y)
{
    int same = count >= 1 && count <= PK_MAX_W && n > 0;
    xllm_isa isa = xllm_kernels_isa();
    for (int k = 0; same && k < count; k++) {
        const xllm_packed *p = w[k] ? w[k]->packed : NULL;
        same = p && packed_tile(p, isa) && p->format == ((const xllm_packed *)w[0]->packed)->format &&
               p->cols == ((const xllm_packed *)w[0]->packed)->cols && x && y[k];
    }
    if (same)
        return matmul_packed(pool, isa, w, count, x, n, y);
    for (int k = 0; k < count; k++) {
        xllm_status rc = xllm_matmul(pool, w[k], x, n, y[k]);
        if (rc)
            return rc;
    }
    return XLLM_OK;
}
