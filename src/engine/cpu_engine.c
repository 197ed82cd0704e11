/* cpu_engine.c - the CPU engine context (KV pool, scratch, thread pool), the
 * batch checks, and the forward pass: embeddings, the table-driven layer loop
 * (every linear layer one matmul over all tokens of the batch), logits or
 * pooled embeddings. Attention lives in cpu_attention.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "engine/cpu_internal.h"
#include "engine/ops.h"

#define MAX2(a, b) ((a) > (b) ? (a) : (b))

xllm_cpu_params xllm_cpu_params_default(void)
{
    xllm_cpu_params p = {0, 512, 0, -1, 1, XLLM_KV_F16};
    return p;
}

static const struct {
    const char *name;
    uint32_t dtype;
} kv_types[XLLM_KV_TYPE_COUNT] = {
    [XLLM_KV_F16] = {"f16", XLLM_DTYPE_F16},
    [XLLM_KV_Q8_0] = {"q8_0", XLLM_DTYPE_Q8_0},
    [XLLM_KV_F32] = {"f32", XLLM_DTYPE_F32},
};

xllm_status xllm_cpu_kv_dtype(int32_t t, uint32_t *dtype)
{
    if (t < 0 || t >= XLLM_KV_TYPE_COUNT)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cpu engine: unknown KV type %d (0 f16, 1 q8_0, 2 f32)", t);
    *dtype = kv_types[t].dtype;
    return XLLM_OK;
}

const char *xllm_kv_type_name(int32_t t) { return t >= 0 && t < XLLM_KV_TYPE_COUNT ? kv_types[t].name : "?"; }

int32_t xllm_kv_type_parse(const char *name)
{
    for (int32_t t = 0; name && t < XLLM_KV_TYPE_COUNT; t++)
        if (strcmp(name, kv_types[t].name) == 0)
            return t;
    return -1;
}

static int is_encoder(const xllm_hparams *hp) { return (hp->arch->flags & XLLM_ARCH_F_ENCODER) != 0; }

static int64_t dim_q(const xllm_hparams *hp) { return (int64_t)hp->n_head * hp->head_dim_k; }
static int64_t dim_k(const xllm_hparams *hp) { return (int64_t)hp->n_head_kv * hp->head_dim_k; }
static int64_t dim_v(const xllm_hparams *hp) { return (int64_t)hp->n_head_kv * hp->head_dim_v; }
static int64_t dim_o(const xllm_hparams *hp) { return (int64_t)hp->n_head * hp->head_dim_v; }
static int64_t dim_big(const xllm_hparams *hp)
{
    return MAX2(dim_q(hp) + dim_k(hp) + dim_v(hp), xllm_dim_value(hp, XLLM_DIM_FF_UP));
}

/* Floats of scratch per token (see the scratch fields of xllm_cpu_ctx). */
static uint64_t scratch_floats_per_token(const xllm_hparams *hp)
{
    return 2 * (uint64_t)hp->n_embd + (uint64_t)dim_q(hp) + (uint64_t)dim_k(hp) + (uint64_t)dim_v(hp) +
           (uint64_t)dim_o(hp) + (uint64_t)dim_big(hp) + (uint64_t)hp->n_ff + 2 * (uint64_t)hp->n_rot;
}

void xllm_cpu_memory_required(const xllm_hparams *hp, const xllm_cpu_params *p, uint64_t *kv_bytes,
                              uint64_t *scratch_bytes)
{
    uint64_t T = p->max_batch_tokens > 0 ? (uint64_t)p->max_batch_tokens : 1;
    uint32_t kv = XLLM_DTYPE_F32;
    if (p->kv_type >= 0 && p->kv_type < XLLM_KV_TYPE_COUNT)
        kv = kv_types[p->kv_type].dtype;
    uint64_t per_block = (uint64_t)XLLM_KV_BLOCK_SIZE * (uint64_t)hp->n_head_kv *
                         (xllm_kv_row_bytes(kv, hp->head_dim_k) + xllm_kv_row_bytes(kv, hp->head_dim_v));
    *kv_bytes = is_encoder(hp) ? 0 : (uint64_t)(p->n_blocks > 0 ? p->n_blocks : 0) * per_block * hp->n_layer;
    *scratch_bytes = T * scratch_floats_per_token(hp) * sizeof(float) + (3 * T + 1) * sizeof(int32_t) +
                     (uint64_t)XLLM_MAX_THREADS * ((uint64_t)hp->head_dim_v + 16) * sizeof(float);
}

static xllm_status ctx_fail(xllm_cpu_ctx *c, xllm_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static xllm_status ctx_fail(xllm_cpu_ctx *c, xllm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return xllm_fail(st, "%s", c->error);
}

static xllm_status alloc_scratch(xllm_cpu_ctx *c)
{
    const xllm_hparams *hp = c->hp;
    size_t T = (size_t)c->p.max_batch_tokens;
    float *f;
    c->task_floats = (size_t)hp->head_dim_v + 16;
    f = xllm_aligned_alloc(64, sizeof(float) * (T * scratch_floats_per_token(hp) + (size_t)c->n_tasks * c->task_floats));
    c->seq_start = xllm_calloc(3 * T + 1, sizeof(int32_t));
    if (!f || !c->seq_start) {
        xllm_free(f);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cpu engine: scratch for %zu tokens", T);
    }
    c->x = f;
    c->h = c->x + T * (size_t)hp->n_embd;
    c->q = c->h + T * (size_t)hp->n_embd;
    c->k = c->q + T * (size_t)dim_q(hp);
    c->v = c->k + T * (size_t)dim_k(hp);
    c->att = c->v + T * (size_t)dim_v(hp);
    c->big = c->att + T * (size_t)dim_o(hp);
    c->ff = c->big + T * (size_t)dim_big(hp);
    c->rope = c->ff + T * (size_t)hp->n_ff;
    c->task = c->rope + 2 * T * (size_t)hp->n_rot;
    c->seq_tok = c->seq_start + T + 1;
    c->rows = c->seq_tok + T;
    return XLLM_OK;
}

xllm_status xllm_cpu_ctx_create(const xllm_model *m, const xllm_cpu_params *p, xllm_cpu_ctx **out)
{
    xllm_cpu_ctx *c;
    xllm_status st;
    *out = NULL;
    if (!m || !p || p->max_batch_tokens < 1 || p->max_batch_tokens > (1 << 20) || p->n_blocks < 0 ||
        p->pooling < -1 || p->pooling > XLLM_POOLING_LAST || p->kv_type < 0 || p->kv_type >= XLLM_KV_TYPE_COUNT)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "cpu engine: bad parameters (max_batch_tokens in [1, 2^20], "
                                                    "n_blocks >= 0, pooling -1..3, kv_type 0..2)");
    c = xllm_calloc(1, sizeof *c);
    if (!c)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cpu engine context");
    c->m = m;
    c->hp = &m->hp;
    c->p = *p;
    c->pooling = p->pooling >= 0 ? (xllm_pooling)p->pooling : m->hp.pooling;
    c->kv_dtype = kv_types[p->kv_type].dtype;
    {
        int ok1 = 1, ok2 = 1;
        const xllm_weight *te = &m->glob.mat[XLLM_R_TOKEN_EMBD], *pe = &m->glob.mat[XLLM_R_POS_EMBD];
        c->embd_row_bytes = (size_t)xllm_dtype_row_bytes(te->dtype, (uint64_t)te->cols, &ok1);
        if (pe->data)
            c->pos_row_bytes = (size_t)xllm_dtype_row_bytes(pe->dtype, (uint64_t)pe->cols, &ok2);
        if (!ok1 || !ok2) {
            st = xllm_fail(XLLM_ERR_INTERNAL, "cpu engine: embedding row size");
            goto out;
        }
    }
    if ((st = xllm_pool_create(p->n_threads, &c->pool)) != XLLM_OK)
        goto out;
    c->n_tasks = xllm_pool_size(c->pool);
    if (c->n_tasks < 1)
        c->n_tasks = 1;
    if ((st = alloc_scratch(c)) != XLLM_OK)
        goto out;
    if (!is_encoder(c->hp) && p->n_blocks > 0) {
        uint64_t kv_bytes, scratch;
        c->k_row_bytes = xllm_kv_row_bytes(c->kv_dtype, c->hp->head_dim_k);
        c->v_row_bytes = xllm_kv_row_bytes(c->kv_dtype, c->hp->head_dim_v);
        c->k_block_bytes = (size_t)XLLM_KV_BLOCK_SIZE * (size_t)c->hp->n_head_kv * c->k_row_bytes;
        c->v_block_bytes = (size_t)XLLM_KV_BLOCK_SIZE * (size_t)c->hp->n_head_kv * c->v_row_bytes;
        c->layer_bytes = (size_t)p->n_blocks * (c->k_block_bytes + c->v_block_bytes);
        xllm_cpu_memory_required(c->hp, p, &kv_bytes, &scratch);
        c->kv_bytes = kv_bytes <= SIZE_MAX ? (size_t)kv_bytes : 0;
        /* zeroed, backed as used; 2 MiB pages: one fault per 2 MiB of KV (4 KiB faults
         * took ~9 us per attention step on this VM, measured) */
        c->kv = c->kv_bytes ? xllm_pages_alloc(c->kv_bytes, 1) : NULL;
        if (!c->kv) {
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cpu engine: KV pool of %llu bytes (%d blocks)",
                           (unsigned long long)kv_bytes, p->n_blocks);
            goto out;
        }
    }
    *out = c;
    c = NULL;
    st = XLLM_OK;
out:
    xllm_cpu_ctx_free(c);
    return st;
}

void xllm_cpu_ctx_free(xllm_cpu_ctx *c)
{
    if (!c)
        return;
    if (c->pool)
        xllm_pool_destroy(c->pool);
    xllm_pages_free(c->kv, c->kv_bytes);
    xllm_free(c->x);
    xllm_free(c->seq_start);
    xllm_free(c);
}

const xllm_model *xllm_cpu_ctx_model(const xllm_cpu_ctx *c) { return c->m; }
int32_t xllm_cpu_ctx_n_blocks(const xllm_cpu_ctx *c) { return c->kv ? c->p.n_blocks : 0; }
int32_t xllm_cpu_ctx_max_batch(const xllm_cpu_ctx *c) { return c->p.max_batch_tokens; }
xllm_pooling xllm_cpu_ctx_pooling(const xllm_cpu_ctx *c) { return c->pooling; }
int32_t xllm_cpu_ctx_kv_type(const xllm_cpu_ctx *c) { return c->p.kv_type; }

xllm_status xllm_cpu_kv_copy_block(xllm_cpu_ctx *c, int32_t src, int32_t dst)
{
    if (!c->kv || src < 0 || dst < 0 || src >= c->p.n_blocks || dst >= c->p.n_blocks)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "kv_copy_block: blocks %d -> %d out of range [0, %d)", src,
                        dst, c->kv ? c->p.n_blocks : 0);
    for (int32_t l = 0; l < c->hp->n_layer && src != dst; l++) {
        uint8_t *k = xllm_cpu_k_layer(c, l), *v = xllm_cpu_v_layer(c, l);
        memcpy(k + (size_t)dst * c->k_block_bytes, k + (size_t)src * c->k_block_bytes, c->k_block_bytes);
        memcpy(v + (size_t)dst * c->v_block_bytes, v + (size_t)src * c->v_block_bytes, c->v_block_bytes);
    }
    return XLLM_OK;
}

/* ---- parallel helper ---- */

typedef struct par_job {
    void (*fn)(void *arg, int64_t i);
    void *arg;
    int64_t n;
} par_job;

static void par_task(void *ctx, int task, int n_tasks)
{
    par_job *j = ctx;
    int64_t lo = j->n * task / n_tasks, hi = j->n * (task + 1) / n_tasks;
    for (int64_t i = lo; i < hi; i++)
        j->fn(j->arg, i);
}

void xllm_cpu_par_for(xllm_cpu_ctx *c, int64_t n, void (*fn)(void *arg, int64_t i), void *arg)
{
    par_job j = {fn, arg, n};
    int tasks = n < c->n_tasks ? (int)n : c->n_tasks;
    if (tasks <= 1)
        par_task(&j, 0, 1);
    else
        xllm_pool_run(c->pool, par_task, &j, tasks);
}

/* ---- batch checks ---- */

static xllm_status check_tokens(xllm_cpu_ctx *c, const xllm_batch *b)
{
    const xllm_hparams *hp = c->hp;
    const xllm_weight *pe = &c->m->glob.mat[XLLM_R_POS_EMBD];
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= hp->n_vocab)
            return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: token %d = %d is outside the vocabulary [0, %d)", i,
                            b->tokens[i], hp->n_vocab);
        if (b->seq[i] < 0 || b->seq[i] >= b->n_seqs)
            return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: token %d has sequence %d, n_seqs is %d", i,
                            b->seq[i], b->n_seqs);
        if (b->positions[i] < 0 || b->positions[i] > INT32_MAX - XLLM_KV_BLOCK_SIZE)
            return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: token %d has position %d", i, b->positions[i]);
        if (pe->data && b->positions[i] >= pe->rows)
            return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: position %d exceeds the model's %lld positions",
                            b->positions[i], (long long)pe->rows);
    }
    return XLLM_OK;
}

/* Decoders: every block a token writes or reads must be listed and in range. */
static xllm_status check_blocks(xllm_cpu_ctx *c, const xllm_batch *b)
{
    int32_t *maxpos = c->seq_tok; /* [n_seqs] temporarily; n_seqs <= T */
    if (!c->kv)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: this context has no KV blocks (n_blocks = 0)");
    if (!b->block_tables)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: block_tables is NULL");
    for (int32_t s = 0; s < b->n_seqs; s++)
        maxpos[s] = -1;
    for (int32_t i = 0; i < b->n_tokens; i++)
        maxpos[b->seq[i]] = MAX2(maxpos[b->seq[i]], b->positions[i]);
    for (int32_t s = 0; s < b->n_seqs; s++) {
        int32_t need = maxpos[s] < 0 ? 0 : maxpos[s] / XLLM_KV_BLOCK_SIZE + 1;
        if (need && !b->block_tables[s])
            return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: sequence %d has no block table", s);
        if (b->block_counts && b->block_counts[s] < need)
            return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT,
                            "batch: sequence %d reaches position %d but its block table has %d blocks (need %d)", s,
                            maxpos[s], b->block_counts[s], need);
        for (int32_t k = 0; k < need; k++)
            if (b->block_tables[s][k] < 0 || b->block_tables[s][k] >= c->p.n_blocks)
                return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: sequence %d block %d is id %d, pool has %d",
                                s, k, b->block_tables[s][k], c->p.n_blocks);
    }
    return XLLM_OK;
}

static xllm_status check_batch(xllm_cpu_ctx *c, const xllm_batch *b)
{
    xllm_status st;
    if (!b || b->struct_size < sizeof(xllm_batch))
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: NULL or struct_size %u < %zu", b ? b->struct_size : 0,
                        sizeof(xllm_batch));
    if (b->n_tokens < 1 || b->n_tokens > c->p.max_batch_tokens)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: n_tokens %d outside [1, max_batch_tokens %d]",
                        b->n_tokens, c->p.max_batch_tokens);
    if (b->n_seqs < 1 || b->n_seqs > c->p.max_batch_tokens)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: n_seqs %d outside [1, %d]", b->n_seqs,
                        c->p.max_batch_tokens);
    if (!b->tokens || !b->positions || !b->seq)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: tokens, positions and seq are required");
    if ((st = check_tokens(c, b)) != XLLM_OK)
        return st;
    if (is_encoder(c->hp))
        return b->embeddings ? XLLM_OK
                             : ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: encoder model needs an embeddings buffer");
    c->n_rows = 0;
    for (int32_t i = 0; i < b->n_tokens; i++)
        if (!b->want_logits || b->want_logits[i])
            c->rows[c->n_rows++] = i;
    if (c->n_rows && !b->logits)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "batch: %d logits rows wanted but logits is NULL", c->n_rows);
    return check_blocks(c, b);
}

/* ---- forward ---- */

static void embed_row(void *arg, int64_t i)
{
    xllm_cpu_ctx *c = arg;
    const xllm_hparams *hp = c->hp;
    const xllm_tensors *G = &c->m->glob;
    const xllm_weight *te = &G->mat[XLLM_R_TOKEN_EMBD];
    int64_t D = hp->n_embd;
    float *x = c->x + i * D, *tmp = c->h + i * D;
    xllm_dequantize_row(te->dtype, (const char *)te->data + c->embd_row_bytes * (size_t)c->b->tokens[i], x, D);
    if (hp->embd_scale != 1.0f)
        for (int64_t d = 0; d < D; d++)
            x[d] *= hp->embd_scale;
    if (G->mat[XLLM_R_POS_EMBD].data) {
        const xllm_weight *pe = &G->mat[XLLM_R_POS_EMBD];
        xllm_dequantize_row(pe->dtype, (const char *)pe->data + c->pos_row_bytes * (size_t)c->b->positions[i], tmp, D);
        xllm_op_add(x, tmp, D);
    }
    if (G->mat[XLLM_R_TOKEN_TYPES].data) { /* token type 0 */
        xllm_dequantize_row(G->mat[XLLM_R_TOKEN_TYPES].dtype, G->mat[XLLM_R_TOKEN_TYPES].data, tmp, D);
        xllm_op_add(x, tmp, D);
    }
    if (G->vec[XLLM_R_TOKEN_EMBD_NORM])
        xllm_op_norm(hp->arch->norm, x, G->vec[XLLM_R_TOKEN_EMBD_NORM], G->vec[XLLM_R_TOKEN_EMBD_NORM_B],
                     hp->norm_eps, x, D);
}

static void rope_row(void *arg, int64_t i)
{
    xllm_cpu_ctx *c = arg;
    int32_t nr = c->hp->n_rot, T = c->p.max_batch_tokens;
    float ms = c->hp->rope_attn_factor;
    xllm_op_rope_table(c->m->rope_inv_freq, c->b->positions[i], nr / 2, ms, c->rope + i * nr);
    xllm_op_rope_table(c->m->rope_inv_freq_swa, c->b->positions[i], nr / 2, ms, c->rope + ((int64_t)T + i) * nr);
}

/* h = norm(x) with the given weight/bias roles (pre-norm). */
typedef struct norm_job {
    xllm_cpu_ctx *c;
    const float *w, *b;
    const float *src;
    float *dst;
} norm_job;

static void norm_row(void *arg, int64_t i)
{
    norm_job *j = arg;
    int64_t D = j->c->hp->n_embd;
    xllm_op_norm(j->c->hp->arch->norm, j->src + i * D, j->w, j->b, j->c->hp->norm_eps, j->dst + i * D, D);
}

static void norm_rows(xllm_cpu_ctx *c, const float *w, const float *b, const float *src, float *dst, int64_t n)
{
    norm_job j = {c, w, b, src, dst};
    xllm_cpu_par_for(c, n, norm_row, &j);
}

/* After a projection into h: bias, sandwich norm, residual add, post-LN. */
typedef struct residual_job {
    xllm_cpu_ctx *c;
    const float *bias, *post_norm, *post_ln, *post_ln_b;
} residual_job;

static void residual_row(void *arg, int64_t i)
{
    residual_job *j = arg;
    const xllm_hparams *hp = j->c->hp;
    int64_t D = hp->n_embd;
    float *h = j->c->h + i * D, *x = j->c->x + i * D;
    if (j->bias)
        xllm_op_add(h, j->bias, D);
    if (j->post_norm) /* gemma sandwich norm */
        xllm_op_norm(hp->arch->norm, h, j->post_norm, NULL, hp->norm_eps, h, D);
    xllm_op_add(x, h, D);
    if (j->post_ln)
        xllm_op_norm(hp->arch->norm, x, j->post_ln, j->post_ln_b, hp->norm_eps, x, D);
}

static void residual(xllm_cpu_ctx *c, const xllm_tensors *L, xllm_role bias, xllm_role post_norm, xllm_role post_ln,
                     xllm_role post_ln_b)
{
    residual_job j = {c, L->vec[bias], L->vec[post_norm], L->vec[post_ln], L->vec[post_ln_b]};
    xllm_cpu_par_for(c, c->b->n_tokens, residual_row, &j);
}

static void act_row(void *arg, int64_t i)
{
    xllm_layer_job *job = arg;
    xllm_cpu_ctx *c = job->c;
    const xllm_hparams *hp = c->hp;
    const xllm_tensors *L = job->L;
    int64_t F = hp->n_ff, up_w = xllm_dim_value(hp, XLLM_DIM_FF_UP);
    float *big = c->big + i * up_w, *ff = c->ff + i * F;
    if (L->vec[XLLM_R_FFN_UP_B])
        xllm_op_add(big, L->vec[XLLM_R_FFN_UP_B], up_w);
    switch (hp->arch->ffn) {
    case XLLM_FFN_GATED: /* big = up(x), ff = gate(x) */
        if (L->vec[XLLM_R_FFN_GATE_B])
            xllm_op_add(ff, L->vec[XLLM_R_FFN_GATE_B], F);
        xllm_op_act_mul(hp->arch->act, ff, big, ff, F);
        break;
    case XLLM_FFN_GATED_FUSED: /* big = [gate, up] */
        xllm_op_act_mul(hp->arch->act, big, big + F, ff, F);
        break;
    case XLLM_FFN_PLAIN:
        xllm_op_act_mul(hp->arch->act, big, NULL, ff, F);
        break;
    }
}

static xllm_status matmul(xllm_cpu_ctx *c, const xllm_weight *w, const float *x, int64_t n, float *y)
{
    xllm_status st = xllm_matmul(c->pool, w, x, n, y);
    if (st != XLLM_OK)
        return ctx_fail(c, st, "matmul [%lld x %lld] failed: %s", (long long)w->rows, (long long)w->cols,
                        xllm_last_error());
    return XLLM_OK;
}

/* Projections of one input (q/k/v, up/gate) in one pool run where possible. */
static xllm_status matmul_fused(xllm_cpu_ctx *c, const xllm_weight *const *w, int count, const float *x, int64_t n,
                                float *const *y)
{
    xllm_status st = xllm_matmul_fused(c->pool, w, count, x, n, y);
    if (st != XLLM_OK)
        return ctx_fail(c, st, "projection matmul [%lld x %lld] failed: %s", (long long)w[0]->rows,
                        (long long)w[0]->cols, xllm_last_error());
    return XLLM_OK;
}

static xllm_status attention_block(xllm_cpu_ctx *c, xllm_layer_job *job)
{
    const xllm_tensors *L = job->L;
    int64_t T = c->b->n_tokens;
    const float *in = c->h;
    xllm_status st;
    if (L->vec[XLLM_R_ATTN_NORM])
        norm_rows(c, L->vec[XLLM_R_ATTN_NORM], L->vec[XLLM_R_ATTN_NORM_B], c->x, c->h, T);
    else
        in = c->x; /* post-LN archs: the residual stream is already normalized */
    if (L->mat[XLLM_R_ATTN_QKV].data) {
        if ((st = matmul(c, &L->mat[XLLM_R_ATTN_QKV], in, T, c->big)) != XLLM_OK)
            return st;
    } else {
        const xllm_weight *w[3] = {&L->mat[XLLM_R_ATTN_Q], &L->mat[XLLM_R_ATTN_K], &L->mat[XLLM_R_ATTN_V]};
        float *y[3] = {c->q, c->k, c->v};
        if ((st = matmul_fused(c, w, 3, in, T, y)) != XLLM_OK)
            return st;
    }
    xllm_cpu_qkv_finish(job);
    xllm_cpu_attention(job);
    if ((st = matmul(c, &L->mat[XLLM_R_ATTN_OUT], c->att, T, c->h)) != XLLM_OK)
        return st;
    residual(c, L, XLLM_R_ATTN_OUT_B, XLLM_R_ATTN_POST_NORM, XLLM_R_ATTN_OUT_NORM, XLLM_R_ATTN_OUT_NORM_B);
    return XLLM_OK;
}

static xllm_status ffn_block(xllm_cpu_ctx *c, xllm_layer_job *job)
{
    const xllm_tensors *L = job->L;
    int64_t T = c->b->n_tokens;
    const float *in = c->h;
    xllm_status st;
    if (L->vec[XLLM_R_FFN_NORM])
        norm_rows(c, L->vec[XLLM_R_FFN_NORM], L->vec[XLLM_R_FFN_NORM_B], c->x, c->h, T);
    else
        in = c->x;
    {
        const xllm_weight *w[2] = {&L->mat[XLLM_R_FFN_UP], &L->mat[XLLM_R_FFN_GATE]};
        float *y[2] = {c->big, c->ff};
        if ((st = matmul_fused(c, w, c->hp->arch->ffn == XLLM_FFN_GATED ? 2 : 1, in, T, y)) != XLLM_OK)
            return st;
    }
    xllm_cpu_par_for(c, T, act_row, job);
    if ((st = matmul(c, &L->mat[XLLM_R_FFN_DOWN], c->ff, T, c->h)) != XLLM_OK)
        return st;
    residual(c, L, XLLM_R_FFN_DOWN_B, XLLM_R_FFN_POST_NORM, XLLM_R_LAYER_OUT_NORM, XLLM_R_LAYER_OUT_NORM_B);
    return XLLM_OK;
}

/* Decoders: final norm and lm_head on the rows that want logits. */
static xllm_status logits_out(xllm_cpu_ctx *c)
{
    const xllm_hparams *hp = c->hp;
    const xllm_tensors *G = &c->m->glob;
    int64_t D = hp->n_embd;
    xllm_status st;
    if (!c->n_rows)
        return XLLM_OK;
    for (int32_t r = 0; r < c->n_rows; r++)
        memcpy(c->h + (int64_t)r * D, c->x + (int64_t)c->rows[r] * D, sizeof(float) * (size_t)D);
    norm_rows(c, G->vec[XLLM_R_OUTPUT_NORM], G->vec[XLLM_R_OUTPUT_NORM_B], c->h, c->h, c->n_rows);
    if ((st = matmul(c, &G->mat[XLLM_R_OUTPUT], c->h, c->n_rows, c->b->logits)) != XLLM_OK)
        return st;
    if (hp->final_softcap > 0.0f)
        xllm_op_softcap(c->b->logits, (int64_t)c->n_rows * hp->n_vocab, hp->final_softcap);
    return XLLM_OK;
}

/* Encoders: optional output norm, then pooling per sequence (or per token). */
static void pool_out(xllm_cpu_ctx *c)
{
    const xllm_batch *b = c->b;
    const xllm_tensors *G = &c->m->glob;
    int64_t D = c->hp->n_embd;
    if (G->vec[XLLM_R_OUTPUT_NORM])
        norm_rows(c, G->vec[XLLM_R_OUTPUT_NORM], G->vec[XLLM_R_OUTPUT_NORM_B], c->x, c->x, b->n_tokens);
    if (c->pooling == XLLM_POOLING_NONE) {
        memcpy(b->embeddings, c->x, sizeof(float) * (size_t)(b->n_tokens * D));
        return;
    }
    for (int32_t s = 0; s < b->n_seqs; s++) {
        float *e = b->embeddings + (int64_t)s * D;
        int32_t n = c->seq_start[s + 1] - c->seq_start[s], pick = -1;
        memset(e, 0, sizeof(float) * (size_t)D);
        for (int32_t t = c->seq_start[s]; t < c->seq_start[s + 1]; t++) {
            int32_t i = c->seq_tok[t];
            if (c->pooling == XLLM_POOLING_MEAN)
                xllm_op_add(e, c->x + (int64_t)i * D, D);
            else if (pick < 0 || (c->pooling == XLLM_POOLING_CLS ? b->positions[i] < b->positions[pick]
                                                                  : b->positions[i] > b->positions[pick]))
                pick = i;
        }
        if (c->pooling == XLLM_POOLING_MEAN && n > 0)
            for (int64_t d = 0; d < D; d++)
                e[d] /= (float)n;
        else if (pick >= 0)
            memcpy(e, c->x + (int64_t)pick * D, sizeof(float) * (size_t)D);
        if (c->p.normalize)
            xllm_op_l2_normalize(e, D);
    }
}

/* Counting sort of the batch's tokens by sequence (encoders). */
static void group_by_seq(xllm_cpu_ctx *c)
{
    const xllm_batch *b = c->b;
    memset(c->seq_start, 0, sizeof(int32_t) * (size_t)(b->n_seqs + 1));
    for (int32_t i = 0; i < b->n_tokens; i++)
        c->seq_start[b->seq[i] + 1]++;
    for (int32_t s = 0; s < b->n_seqs; s++)
        c->seq_start[s + 1] += c->seq_start[s];
    for (int32_t i = 0; i < b->n_tokens; i++)
        c->seq_tok[c->seq_start[b->seq[i]]++] = i;
    for (int32_t s = b->n_seqs; s > 0; s--)
        c->seq_start[s] = c->seq_start[s - 1];
    c->seq_start[0] = 0;
}

xllm_status xllm_cpu_forward(xllm_cpu_ctx *c, const xllm_batch *b)
{
    const xllm_hparams *hp = c->hp;
    xllm_status st;
    if ((st = check_batch(c, b)) != XLLM_OK)
        return st;
    c->b = b;
    if (is_encoder(hp))
        group_by_seq(c);
    xllm_cpu_par_for(c, b->n_tokens, embed_row, c);
    if (hp->n_rot)
        xllm_cpu_par_for(c, b->n_tokens, rope_row, c);
    for (int32_t l = 0; l < hp->n_layer; l++) {
        xllm_layer_job job = {c, &c->m->layers[l], l, hp->swa_layer[l], NULL};
        job.rope = c->rope + (job.swa ? (size_t)c->p.max_batch_tokens * (size_t)hp->n_rot : 0);
        if ((st = attention_block(c, &job)) != XLLM_OK || (st = ffn_block(c, &job)) != XLLM_OK)
            goto out;
    }
    if (is_encoder(hp))
        pool_out(c);
    else
        st = logits_out(c);
out:
    c->b = NULL;
    return st;
}
