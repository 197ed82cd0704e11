/* cpu_attention.c - the attention half of a layer on CPU: per-token q/k/v
 * finishing (biases, q/k norm, rope, KV block write in the context's KV
 * type) and attention over the paged KV blocks (decoders) or over the batch's
 * own f32 tokens (encoders), with an online softmax over chunks of up to one
 * block of positions. */
#include <math.h>
#include <string.h>

#include "engine/cpu_internal.h"
#include "engine/ops.h"

static void add_bias(float *x, const float *b, int64_t n)
{
    if (b)
        xllm_op_add(x, b, n);
}

static void qkv_row(void *arg, int64_t i)
{
    xllm_layer_job *job = arg;
    xllm_cpu_ctx *c = job->c;
    const xllm_hparams *hp = c->hp;
    const xllm_tensors *L = job->L;
    int64_t dq = (int64_t)hp->n_head * hp->head_dim_k, dk = (int64_t)hp->n_head_kv * hp->head_dim_k;
    int64_t dv = (int64_t)hp->n_head_kv * hp->head_dim_v;
    float *q = c->q + i * dq, *k = c->k + i * dk, *v = c->v + i * dv;
    if (L->mat[XLLM_R_ATTN_QKV].data) {
        float *f = c->big + i * (dq + dk + dv);
        add_bias(f, L->vec[XLLM_R_ATTN_QKV_B], dq + dk + dv);
        memcpy(q, f, sizeof(float) * (size_t)dq);
        memcpy(k, f + dq, sizeof(float) * (size_t)dk);
        memcpy(v, f + dq + dk, sizeof(float) * (size_t)dv);
    }
    add_bias(q, L->vec[XLLM_R_ATTN_Q_B], dq);
    add_bias(k, L->vec[XLLM_R_ATTN_K_B], dk);
    add_bias(v, L->vec[XLLM_R_ATTN_V_B], dv);
    for (int32_t h = 0; h < hp->n_head; h++) {
        float *qh = q + (int64_t)h * hp->head_dim_k;
        if (L->vec[XLLM_R_ATTN_Q_NORM])
            xllm_op_rms_norm(qh, L->vec[XLLM_R_ATTN_Q_NORM], hp->norm_eps, qh, hp->head_dim_k);
        if (hp->n_rot)
            xllm_op_rope(hp->arch->rope, qh, job->rope + i * hp->n_rot, hp->n_rot);
    }
    for (int32_t h = 0; h < hp->n_head_kv; h++) {
        float *kh = k + (int64_t)h * hp->head_dim_k;
        if (L->vec[XLLM_R_ATTN_K_NORM])
            xllm_op_rms_norm(kh, L->vec[XLLM_R_ATTN_K_NORM], hp->norm_eps, kh, hp->head_dim_k);
        if (hp->n_rot)
            xllm_op_rope(hp->arch->rope, kh, job->rope + i * hp->n_rot, hp->n_rot);
    }
    if (c->kv) {
        const xllm_batch *b = c->b;
        int32_t pos = b->positions[i], slot = pos % XLLM_KV_BLOCK_SIZE;
        int32_t blk = b->block_tables[b->seq[i]][pos / XLLM_KV_BLOCK_SIZE];
        uint8_t *kb = xllm_cpu_k_layer(c, job->layer) + (size_t)blk * c->k_block_bytes;
        uint8_t *vb = xllm_cpu_v_layer(c, job->layer) + (size_t)blk * c->v_block_bytes;
        for (int32_t h = 0; h < hp->n_head_kv; h++) {
            size_t row = (size_t)h * XLLM_KV_BLOCK_SIZE + (size_t)slot;
            xllm_kv_store_row(c->kv_dtype, k + (int64_t)h * hp->head_dim_k, hp->head_dim_k, kb + row * c->k_row_bytes);
            xllm_kv_store_row(c->kv_dtype, v + (int64_t)h * hp->head_dim_v, hp->head_dim_v, vb + row * c->v_row_bytes);
        }
    }
}

void xllm_cpu_qkv_finish(xllm_layer_job *job)
{
    xllm_cpu_par_for(job->c, job->c->b->n_tokens, qkv_row, job);
}

/* ---- attention ---- */

typedef struct att_state {
    float m;    /* running max score */
    float l;    /* running sum of exp(score - m) */
    float *acc; /* [head_dim_v] running weighted sum of V */
} att_state;

/* Fold n (<= BLOCK) keys (rows of kv) into the state: online softmax (kernels). */
static void att_chunk(att_state *st, const xllm_hparams *hp, uint32_t kv, const float *q, const void *const *kr,
                      const void *const *vr, int n)
{
    xllm_attn_fold(kv, q, kr, vr, n, hp->head_dim_k, hp->head_dim_v, hp->attn_scale, hp->attn_softcap, &st->m,
                   &st->l, st->acc);
}

/* Decoder: keys lo..p of the token's sequence from the KV blocks. */
static void attend_paged(const xllm_layer_job *job, int64_t i, int32_t kvh, const float *q, att_state *st)
{
    const xllm_cpu_ctx *c = job->c;
    const xllm_hparams *hp = c->hp;
    const xllm_batch *b = c->b;
    int32_t p = b->positions[i], lo = 0;
    const int32_t *table = b->block_tables[b->seq[i]];
    const uint8_t *kl = xllm_cpu_k_layer(c, job->layer), *vl = xllm_cpu_v_layer(c, job->layer);
    const void *kr[XLLM_KV_BLOCK_SIZE], *vr[XLLM_KV_BLOCK_SIZE];
    if (job->swa && p - hp->n_swa + 1 > 0)
        lo = p - hp->n_swa + 1;
    /* one fold per KV block: the chunks depend only on the token's position */
    for (int32_t blk = lo / XLLM_KV_BLOCK_SIZE; blk <= p / XLLM_KV_BLOCK_SIZE; blk++) {
        int32_t j0 = blk * XLLM_KV_BLOCK_SIZE, j1 = j0 + XLLM_KV_BLOCK_SIZE - 1, n = 0;
        const uint8_t *kb = kl + (size_t)table[blk] * c->k_block_bytes +
                            (size_t)kvh * XLLM_KV_BLOCK_SIZE * c->k_row_bytes;
        const uint8_t *vb = vl + (size_t)table[blk] * c->v_block_bytes +
                            (size_t)kvh * XLLM_KV_BLOCK_SIZE * c->v_row_bytes;
        if (j0 < lo)
            j0 = lo;
        if (j1 > p)
            j1 = p;
        for (int32_t j = j0; j <= j1; j++, n++) {
            kr[n] = kb + (size_t)(j % XLLM_KV_BLOCK_SIZE) * c->k_row_bytes;
            vr[n] = vb + (size_t)(j % XLLM_KV_BLOCK_SIZE) * c->v_row_bytes;
        }
        att_chunk(st, hp, c->kv_dtype, q, kr, vr, n);
    }
}

/* Encoder: every token of the same sequence in this batch (causal: p' <= p). */
static void attend_batch(const xllm_layer_job *job, int64_t i, int32_t kvh, const float *q, att_state *st)
{
    const xllm_cpu_ctx *c = job->c;
    const xllm_hparams *hp = c->hp;
    const xllm_batch *b = c->b;
    int32_t s = b->seq[i], p = b->positions[i], n = 0;
    int64_t dk = (int64_t)hp->n_head_kv * hp->head_dim_k, dv = (int64_t)hp->n_head_kv * hp->head_dim_v;
    const void *kr[XLLM_KV_BLOCK_SIZE], *vr[XLLM_KV_BLOCK_SIZE];
    for (int32_t t = c->seq_start[s]; t < c->seq_start[s + 1]; t++) {
        int32_t j = c->seq_tok[t], pj = b->positions[j];
        if ((hp->causal && pj > p) || (job->swa && p - pj >= hp->n_swa) || (job->swa && pj - p >= hp->n_swa))
            continue;
        kr[n] = c->k + j * dk + (int64_t)kvh * hp->head_dim_k;
        vr[n] = c->v + j * dv + (int64_t)kvh * hp->head_dim_v;
        if (++n == XLLM_KV_BLOCK_SIZE) {
            att_chunk(st, hp, XLLM_DTYPE_F32, q, kr, vr, n);
            n = 0;
        }
    }
    if (n)
        att_chunk(st, hp, XLLM_DTYPE_F32, q, kr, vr, n);
}

typedef struct att_job {
    xllm_layer_job *job;
    int64_t n_pairs;
} att_job;

static void att_task(void *arg, int task, int n_tasks)
{
    att_job *aj = arg;
    xllm_layer_job *job = aj->job;
    xllm_cpu_ctx *c = job->c;
    const xllm_hparams *hp = c->hp;
    int32_t group = hp->n_head / hp->n_head_kv;
    float *acc = c->task + (size_t)task * c->task_floats;
    /* interleaved pairs: long and short causal rows spread over tasks */
    for (int64_t pair = task; pair < aj->n_pairs; pair += n_tasks) {
        int64_t i = pair / hp->n_head;
        int32_t h = (int32_t)(pair % hp->n_head);
        const float *q = c->q + i * hp->n_head * hp->head_dim_k + (int64_t)h * hp->head_dim_k;
        float *out = c->att + i * hp->n_head * hp->head_dim_v + (int64_t)h * hp->head_dim_v;
        att_state st = {-INFINITY, 0.0f, acc};
        memset(acc, 0, sizeof(float) * (size_t)hp->head_dim_v);
        if (c->kv)
            attend_paged(job, i, h / group, q, &st);
        else
            attend_batch(job, i, h / group, q, &st);
        for (int32_t d = 0; d < hp->head_dim_v; d++)
            out[d] = st.l > 0.0f ? acc[d] / st.l : 0.0f;
    }
}

void xllm_cpu_attention(xllm_layer_job *job)
{
    xllm_cpu_ctx *c = job->c;
    att_job aj = {job, (int64_t)c->b->n_tokens * c->hp->n_head};
    int n = aj.n_pairs < c->n_tasks ? (int)aj.n_pairs : c->n_tasks;
    if (n <= 1)
        att_task(&aj, 0, 1);
    else
        xllm_pool_run(c->pool, att_task, &aj, n);
}
