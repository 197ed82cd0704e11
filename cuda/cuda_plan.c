/* cuda_plan.c - the CUDA engine's host-side planning: supported types and
 * shapes, device memory sizes, and batch checks + block-table flattening. */
#include "cuda_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"

static const uint32_t supported_dtypes[] = {
    XLLM_DTYPE_F32,  XLLM_DTYPE_F16,  XLLM_DTYPE_BF16, XLLM_DTYPE_Q8_0, XLLM_DTYPE_Q4_0,
    XLLM_DTYPE_Q4_1, XLLM_DTYPE_Q5_0, XLLM_DTYPE_Q5_1, XLLM_DTYPE_Q2_K, XLLM_DTYPE_Q3_K,
    XLLM_DTYPE_Q4_K, XLLM_DTYPE_Q5_K, XLLM_DTYPE_Q6_K, XLLM_DTYPE_IQ4_NL,
};

int xc_dtype_supported(uint32_t dtype)
{
    for (size_t i = 0; i < sizeof supported_dtypes / sizeof supported_dtypes[0]; i++)
        if (supported_dtypes[i] == dtype)
            return 1;
    return 0;
}

uint32_t xc_kv_types(void) { return 1u << XLLM_KV_F16 | 1u << XLLM_KV_Q8_0; }

int xc_kv_supported(int32_t kv) { return kv >= 0 && kv < XLLM_KV_TYPE_COUNT && (xc_kv_types() >> kv & 1u); }

uint64_t xc_kv_row_bytes(int32_t kv, int64_t n)
{
    return kv == XLLM_KV_Q8_0 ? (uint64_t)n / 32 * 34 : kv == XLLM_KV_F32 ? (uint64_t)n * 4 : (uint64_t)n * 2;
}

xllm_status xc_model_check(const xllm_hparams *hp, const char *what)
{
    if (hp->arch->flags & XLLM_ARCH_F_ENCODER)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: cuda engine runs decoders only; %s is an encoder (use --device cpu)",
                         what, hp->arch->name);
    if (hp->head_dim_k > XC_MAX_HEAD_DIM || hp->head_dim_v > XC_MAX_HEAD_DIM || hp->n_rot > hp->head_dim_k)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: head dims %d/%d exceed the cuda engine's %d", what, hp->head_dim_k,
                         hp->head_dim_v, XC_MAX_HEAD_DIM);
    if (hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: %d heads are not a multiple of %d kv heads", what, hp->n_head,
                         hp->n_head_kv);
    return XLLM_OK;
}

/* ---- sizes ---- */

static void add_tensors(const xllm_hparams *hp, const xllm_tensors *t, int skip_output, xc_sizes *s, int *ok,
                        int *quantized)
{
    for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
        const xllm_role_info *ri = xllm_role_get((xllm_role)r);
        const xllm_weight *w = &t->mat[r];
        if (ri->kind == XLLM_ROLE_VECTOR) {
            if (t->vec[r])
                s->weight_bytes += (uint64_t)xllm_dim_value(hp, ri->ne0) * sizeof(float);
            continue;
        }
        if (!w->data || (skip_output && r == XLLM_R_OUTPUT && w->data == t->mat[XLLM_R_TOKEN_EMBD].data))
            continue; /* tied embeddings: one device copy */
        s->weight_bytes += (uint64_t)w->rows * xllm_dtype_row_bytes(w->dtype, (uint64_t)w->cols, ok);
        if ((uint64_t)w->rows * (uint64_t)w->cols > s->max_matrix_elems)
            s->max_matrix_elems = (uint64_t)w->rows * (uint64_t)w->cols;
        if (w->cols > s->max_cols)
            s->max_cols = w->cols;
        if (w->dtype != XLLM_DTYPE_F16 && w->dtype != XLLM_DTYPE_F32 && w->dtype != XLLM_DTYPE_BF16)
            *quantized = 1;
    }
}

/* Floats of f32 scratch per batch token (mirrors the CPU engine's buffers). */
static uint64_t floats_per_token(const xllm_hparams *hp)
{
    uint64_t dq = (uint64_t)hp->n_head * hp->head_dim_k, dk = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    uint64_t dv = (uint64_t)hp->n_head_kv * hp->head_dim_v, dout = (uint64_t)hp->n_head * hp->head_dim_v;
    uint64_t up = (uint64_t)xllm_dim_value(hp, XLLM_DIM_FF_UP), big = dq + dk + dv > up ? dq + dk + dv : up;
    if (big < 2 * (uint64_t)hp->n_ff) /* decode reads gate|up as one matrix into big */
        big = 2 * (uint64_t)hp->n_ff;
    return 2 * (uint64_t)hp->n_embd + dq + dk + dv + dout + big + (uint64_t)hp->n_ff + (uint64_t)hp->n_vocab;
}

xllm_status xc_plan_sizes(const xllm_model *m, int32_t n_blocks, int32_t max_batch_tokens, int32_t kv_type,
                          xc_sizes *out)
{
    const xllm_hparams *hp = &m->hp;
    int ok = 1, quantized = 0;
    uint64_t T = max_batch_tokens > 0 ? (uint64_t)max_batch_tokens : 1;
    memset(out, 0, sizeof *out);
    if (!xc_kv_supported(kv_type))
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "cuda engine: KV type %d is not supported (f16, q8_0)", kv_type);
    add_tensors(hp, &m->glob, 1, out, &ok, &quantized);
    for (int32_t l = 0; l < hp->n_layer; l++)
        add_tensors(hp, &m->layers[l], 0, out, &ok, &quantized);
    if (!ok)
        return xllm_fail(XLLM_ERR_INTERNAL, "cuda engine: tensor size overflow");
    out->weight_bytes += (uint64_t)hp->n_rot * sizeof(float); /* two rope tables of n_rot/2 */
    out->k_block_bytes =
        (uint64_t)XLLM_KV_BLOCK_SIZE * hp->n_head_kv * xc_kv_row_bytes(kv_type, hp->head_dim_k);
    out->kv_block_bytes =
        out->k_block_bytes + (uint64_t)XLLM_KV_BLOCK_SIZE * hp->n_head_kv * xc_kv_row_bytes(kv_type, hp->head_dim_v);
    out->kv_bytes = (uint64_t)(n_blocks > 0 ? n_blocks : 0) * out->kv_block_bytes * (uint64_t)hp->n_layer;
    out->scratch_bytes = T * floats_per_token(hp) * sizeof(float) + T * (uint64_t)out->max_cols * 2 +
                         4 * T * sizeof(int32_t) + (uint64_t)XC_MMV_MAX_TOKENS * (uint64_t)out->max_cols * 5 / 4;
    if (T > XC_MMV_MAX_TOKENS && quantized)
        out->scratch_bytes += out->max_matrix_elems * 2; /* dequantized f16 copy of one matrix */
    return XLLM_OK;
}

/* ---- batches ---- */

static xllm_status plan_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static xllm_status plan_fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s", err);
}

static xllm_status grow(int32_t **a, size_t *cap, size_t need)
{
    int32_t *p;
    if (need <= *cap)
        return XLLM_OK;
    if (!(p = xllm_realloc(*a, need * sizeof(int32_t))))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cuda engine: batch plan of %zu entries", need);
    *a = p;
    *cap = need;
    return XLLM_OK;
}

static xllm_status check_tokens(const xllm_hparams *hp, const xllm_batch *b, char *err, size_t n)
{
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= hp->n_vocab)
            return plan_fail(err, n, "batch: token %d = %d is outside the vocabulary [0, %d)", i, b->tokens[i],
                             hp->n_vocab);
        if (b->seq[i] < 0 || b->seq[i] >= b->n_seqs)
            return plan_fail(err, n, "batch: token %d has sequence %d, n_seqs is %d", i, b->seq[i], b->n_seqs);
        if (b->positions[i] < 0 || b->positions[i] > INT32_MAX - XLLM_KV_BLOCK_SIZE)
            return plan_fail(err, n, "batch: token %d has position %d", i, b->positions[i]);
    }
    return XLLM_OK;
}

int32_t xc_table_width(int32_t need)
{
    int32_t w = XC_TABLE_MIN_WIDTH;
    while (w < need && w < (INT32_MAX >> 1))
        w <<= 1;
    return w < need ? need : w;
}

/* Every block a token writes or reads: listed, in range; copied into plan->tables. */
static xllm_status plan_tables(int32_t n_blocks, const xllm_batch *b, xc_batch_plan *p, char *err, size_t n)
{
    int32_t stride = 1;
    xllm_status st;
    if ((st = grow(&p->rows, &p->cap_rows, (size_t)b->n_seqs)) != XLLM_OK) /* rows as max-position scratch */
        return st;
    for (int32_t s = 0; s < b->n_seqs; s++)
        p->rows[s] = -1;
    for (int32_t i = 0; i < b->n_tokens; i++)
        if (b->positions[i] > p->rows[b->seq[i]])
            p->rows[b->seq[i]] = b->positions[i];
    for (int32_t s = 0; s < b->n_seqs; s++) {
        int32_t need = p->rows[s] < 0 ? 0 : p->rows[s] / XLLM_KV_BLOCK_SIZE + 1;
        if (need > n_blocks)
            return plan_fail(err, n, "batch: sequence %d reaches position %d, beyond the pool's %d blocks", s,
                             p->rows[s], n_blocks);
        if (need > stride)
            stride = need;
    }
    stride = xc_table_width(stride);
    if ((st = grow(&p->tables, &p->cap_tables, (size_t)b->n_seqs * (size_t)stride)) != XLLM_OK)
        return st;
    memset(p->tables, 0, sizeof(int32_t) * (size_t)b->n_seqs * (size_t)stride);
    for (int32_t s = 0; s < b->n_seqs; s++) {
        int32_t need = p->rows[s] < 0 ? 0 : p->rows[s] / XLLM_KV_BLOCK_SIZE + 1;
        if (need && !b->block_tables[s])
            return plan_fail(err, n, "batch: sequence %d has no block table", s);
        if (b->block_counts && b->block_counts[s] < need)
            return plan_fail(err, n, "batch: sequence %d reaches position %d but its block table has %d blocks (need %d)",
                             s, p->rows[s], b->block_counts[s], need);
        for (int32_t k = 0; k < need; k++) {
            int32_t id = b->block_tables[s][k];
            if (id < 0 || id >= n_blocks)
                return plan_fail(err, n, "batch: sequence %d block %d is id %d, pool has %d", s, k, id, n_blocks);
            p->tables[(size_t)s * (size_t)stride + (size_t)k] = id;
        }
    }
    p->table_stride = stride;
    return XLLM_OK;
}

xllm_status xc_batch_plan_make(const xllm_hparams *hp, int32_t n_blocks, int32_t max_batch_tokens,
                               const xllm_batch *b, xc_batch_plan *p, char *err, size_t n)
{
    xllm_status st;
    if (!b || b->struct_size < sizeof(xllm_batch))
        return plan_fail(err, n, "batch: NULL or struct_size %u < %zu", b ? b->struct_size : 0, sizeof(xllm_batch));
    if (b->n_tokens < 1 || b->n_tokens > max_batch_tokens)
        return plan_fail(err, n, "batch: n_tokens %d outside [1, max_batch_tokens %d]", b->n_tokens,
                         max_batch_tokens);
    if (b->n_seqs < 1 || b->n_seqs > max_batch_tokens)
        return plan_fail(err, n, "batch: n_seqs %d outside [1, %d]", b->n_seqs, max_batch_tokens);
    if (!b->tokens || !b->positions || !b->seq)
        return plan_fail(err, n, "batch: tokens, positions and seq are required");
    if ((st = check_tokens(hp, b, err, n)) != XLLM_OK)
        return st;
    if (n_blocks <= 0)
        return plan_fail(err, n, "batch: this context has no KV blocks (n_blocks = 0)");
    if (!b->block_tables)
        return plan_fail(err, n, "batch: block_tables is NULL");
    if ((st = plan_tables(n_blocks, b, p, err, n)) != XLLM_OK)
        return st;
    if ((st = grow(&p->rows, &p->cap_rows, (size_t)b->n_tokens)) != XLLM_OK)
        return st;
    p->n_rows = 0;
    for (int32_t i = 0; i < b->n_tokens; i++)
        if (!b->want_logits || b->want_logits[i])
            p->rows[p->n_rows++] = i;
    if (p->n_rows && !b->logits)
        return plan_fail(err, n, "batch: %d logits rows wanted but logits is NULL", p->n_rows);
    p->n_tokens = b->n_tokens;
    p->n_seqs = b->n_seqs;
    return XLLM_OK;
}

void xc_batch_plan_free(xc_batch_plan *p)
{
    if (!p)
        return;
    xllm_free(p->tables);
    xllm_free(p->rows);
    memset(p, 0, sizeof *p);
}
