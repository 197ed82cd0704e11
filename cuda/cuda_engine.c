/* cuda_engine.c - the CUDA engine context (weights uploaded once, paged KV
 * pool, scratch) and the forward pass, which mirrors the CPU engine's
 * table-driven layer loop (src/engine/cpu_engine.c) kernel by kernel. */
#include "cuda_engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fs.h"
#include "cuda_kernels.h"
#include "cuda_pack.h"
#include "cuda_plan.h"
#include "model/hf.h"

#define ALIGN 256
#define GRAPH_SLOTS 32 /* decode-step graphs kept: (tokens, table width, logits rows) shapes */

typedef struct xc_graph {
    int n_tokens, stride, n_rows; /* the shape it was captured for (0: empty slot) */
    cudaGraphExec_t exec;
} xc_graph;

typedef struct xc_set {
    xc_mat mat[XLLM_ROLE_COUNT];
    xc_mat qkv, gate_up; /* q|k|v and gate|up back to back, read as one matrix (.d NULL: not fused) */
    const float *vec[XLLM_ROLE_COUNT]; /* device */
} xc_set;

struct xc_ctx {
    xllm_gguf *g;
    xllm_model *m;
    const xllm_hparams *hp;
    xllm_engine_load_params p;
    xc_sizes sz;
    cudaStream_t stream;
    xck_blas blas;
    uint8_t *d_weights; /* one arena: matrices, vectors, rope tables */
    uint8_t *stage;     /* host buffer of the packing at upload (freed after it) */
    size_t stage_cap;
    xc_set glob, *layers;
    float *d_inv_freq, *d_inv_freq_swa;
    uint8_t *d_kv;      /* [n_layer][n_blocks] K blocks then V blocks per layer */
    /* scratch */
    float *x, *h, *q, *k, *v, *att, *big, *ff, *logits;
    void *d_scratch;
    int32_t *d_meta;    /* tokens, pos, seq, rows [T] each, then tables */
    size_t meta_cap;    /* int32 entries */
    int32_t *h_meta;    /* pinned staging of d_meta */
    xc_batch_plan plan;
    xc_graph graphs[GRAPH_SLOTS]; /* captured decode steps (batches of <= XC_MMV_MAX_TOKENS) */
    int use_graphs;
    int pending;        /* while enqueueing: x += h not yet added (fused into the next norm) */
    char error[XLLM_MAX_ERROR_MESSAGE];
};

static void drop_graphs(xc_ctx *c)
{
    for (int i = 0; i < GRAPH_SLOTS; i++) {
        if (c->graphs[i].n_tokens)
            cudaGraphExecDestroy(c->graphs[i].exec);
        c->graphs[i].n_tokens = 0;
    }
}

static xllm_status ctx_fail(xc_ctx *c, xllm_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static xllm_status ctx_fail(xc_ctx *c, xllm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return xllm_fail(st, "%s", c->error);
}

/* A launcher's or runtime call's code: 0, a cudaError_t, or -cublasStatus_t. */
static xllm_status dev_check(xc_ctx *c, int rc, const char *what)
{
    if (rc == 0)
        return XLLM_OK;
    if (rc < 0)
        return ctx_fail(c, XLLM_ERR_DEVICE, "cuda engine: %s: cuBLAS %s", what, xck_blas_error(-rc));
    return ctx_fail(c, rc == cudaErrorMemoryAllocation ? XLLM_ERR_OUT_OF_MEMORY : XLLM_ERR_DEVICE,
                    "cuda engine: %s: %s", what, cudaGetErrorString((cudaError_t)rc));
}

#define CK(call, what)                                             \
    do {                                                           \
        if ((st = dev_check(c, (int)(call), what)) != XLLM_OK)     \
            return st;                                             \
    } while (0)

xllm_status xc_open_model(const char *path, xllm_gguf **g, xllm_model **m)
{
    xllm_model_params mp = {0}; /* no CPU repacking */
    xllm_status st;
    *m = NULL;
    st = xllm_is_dir(path) ? xllm_hf_open(path, g) : xllm_gguf_open(path, g);
    if (st != XLLM_OK)
        return st;
    if ((st = xllm_model_load(*g, &mp, m)) != XLLM_OK) {
        xllm_gguf_close(*g);
        *g = NULL;
    }
    return st;
}

/* ---- device setup ---- */

static xllm_status pick_device(xc_ctx *c, int device)
{
    struct cudaDeviceProp prop;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess)
        return ctx_fail(c, XLLM_ERR_DEVICE, "cuda engine: no usable CUDA driver or GPU (%s)", cudaGetErrorString(e));
    if (device < 0 || device >= n)
        return ctx_fail(c, XLLM_ERR_DEVICE, "cuda engine: device cuda:%d does not exist (%d GPU%s)", device, n,
                        n == 1 ? "" : "s");
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess || (e = cudaSetDevice(device)) != cudaSuccess)
        return ctx_fail(c, XLLM_ERR_DEVICE, "cuda engine: cuda:%d: %s", device, cudaGetErrorString(e));
    if (prop.major < 9)
        return ctx_fail(c, XLLM_ERR_DEVICE,
                        "cuda engine: cuda:%d is %s (compute capability %d.%d); this build needs 9.0 or newer", device,
                        prop.name, prop.major, prop.minor);
    return XLLM_OK;
}

static size_t align_up(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* Two matrices of a set one matmul can read as one (placed back to back):
 * both present, same type and width. */
static int fusable(const xllm_tensors *t, xllm_role a, xllm_role b)
{
    const xllm_weight *x = &t->mat[a], *y = &t->mat[b];
    return x->data && y->data && x->dtype == y->dtype && x->cols == y->cols;
}

/* One matrix to the device at off, packed (cuda_pack.h) when pack is set and
 * its type has a packed layout; d describes it (size pass: d NULL). */
static xllm_status put_matrix(xc_ctx *c, const xllm_weight *w, int pack, size_t off, size_t n, xc_mat *d, size_t rb)
{
    uint32_t t = pack ? xc_pack_dtype(w->dtype, w->cols) : w->dtype;
    const void *src = w->data;
    xllm_status st;
    if (t != w->dtype) {
        if (n > c->stage_cap) {
            uint8_t *p = xllm_realloc(c->stage, n);
            if (!p)
                return ctx_fail(c, XLLM_ERR_OUT_OF_MEMORY, "cuda engine: %zu bytes of host staging", n);
            c->stage = p, c->stage_cap = n;
        }
        xc_pack_rows(w->dtype, w->data, w->rows, w->cols, c->stage);
        src = c->stage;
    }
    CK(cudaMemcpy(c->d_weights + off, src, n, cudaMemcpyHostToDevice), "upload weights");
    d->dtype = t;
    d->rows = w->rows;
    d->cols = w->cols;
    d->row_bytes = rb;
    d->d = c->d_weights + off;
    return XLLM_OK;
}

/* Walk every tensor of a set: size pass (dst NULL) or upload pass. Matrices
 * first (q, k, v and gate, up back to back when fusable: dst->qkv, gate_up),
 * packed except the token embedding (its rows are gathered in GGUF layout);
 * then the f32 vectors. */
static xllm_status place_set(xc_ctx *c, const xllm_tensors *t, xc_set *dst, size_t *off, const xc_set *share)
{
    const xllm_hparams *hp = c->hp;
    int qkv = fusable(t, XLLM_R_ATTN_Q, XLLM_R_ATTN_K) && fusable(t, XLLM_R_ATTN_Q, XLLM_R_ATTN_V);
    int gu = hp->arch->ffn == XLLM_FFN_GATED && fusable(t, XLLM_R_FFN_GATE, XLLM_R_FFN_UP) &&
             !t->vec[XLLM_R_FFN_GATE_B] && !t->vec[XLLM_R_FFN_UP_B];
    xllm_status st;
    for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
        const xllm_role_info *ri = xllm_role_get((xllm_role)r);
        const xllm_weight *w = &t->mat[r];
        int ok = 1, glue = (qkv && (r == XLLM_R_ATTN_K || r == XLLM_R_ATTN_V)) || (gu && r == XLLM_R_FFN_UP);
        if (ri->kind == XLLM_ROLE_VECTOR || !w->data)
            continue;
        if (!xc_dtype_supported(w->dtype))
            return ctx_fail(c, XLLM_ERR_UNSUPPORTED, "cuda engine: tensor %s has type %s, which has no CUDA kernel",
                            ri->name, xllm_dtype_name(w->dtype));
        if (w->cols % 32)
            return ctx_fail(c, XLLM_ERR_UNSUPPORTED, "cuda engine: tensor %s rows of %lld are not a multiple of 32",
                            ri->name, (long long)w->cols);
        size_t rb = (size_t)xllm_dtype_row_bytes(w->dtype, (uint64_t)w->cols, &ok), n = rb * (size_t)w->rows;
        if (share && r == XLLM_R_OUTPUT && w->data == c->m->glob.mat[XLLM_R_TOKEN_EMBD].data) {
            if (dst)
                dst->mat[r] = share->mat[XLLM_R_TOKEN_EMBD]; /* tied embeddings: one copy */
            continue;
        }
        if (!glue)
            *off = align_up(*off);
        if (dst && (st = put_matrix(c, w, r != XLLM_R_TOKEN_EMBD, *off, n, &dst->mat[r], rb)) != XLLM_OK)
            return st;
        *off += n;
    }
    *off = align_up(*off);
    if (dst && qkv) {
        dst->qkv = dst->mat[XLLM_R_ATTN_Q];
        dst->qkv.rows += dst->mat[XLLM_R_ATTN_K].rows + dst->mat[XLLM_R_ATTN_V].rows;
    }
    if (dst && gu) {
        dst->gate_up = dst->mat[XLLM_R_FFN_GATE];
        dst->gate_up.rows += dst->mat[XLLM_R_FFN_UP].rows;
    }
    for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
        const xllm_role_info *ri = xllm_role_get((xllm_role)r);
        size_t n = ri->kind == XLLM_ROLE_VECTOR && t->vec[r] ? (size_t)xllm_dim_value(hp, ri->ne0) * sizeof(float) : 0;
        if (!n)
            continue;
        if (dst) {
            CK(cudaMemcpy(c->d_weights + *off, t->vec[r], n, cudaMemcpyHostToDevice), "upload vector");
            dst->vec[r] = (const float *)(c->d_weights + *off);
        }
        *off += align_up(n);
    }
    return XLLM_OK;
}

static xllm_status upload(xc_ctx *c)
{
    const xllm_hparams *hp = c->hp;
    size_t total = 0, off = 0, half = (size_t)hp->n_rot / 2 * sizeof(float);
    xllm_status st;
    if ((st = place_set(c, &c->m->glob, NULL, &total, &c->glob)) != XLLM_OK)
        return st;
    for (int32_t l = 0; l < hp->n_layer; l++)
        if ((st = place_set(c, &c->m->layers[l], NULL, &total, NULL)) != XLLM_OK)
            return st;
    total += 2 * align_up(half ? half : 4);
    CK(cudaMalloc((void **)&c->d_weights, total), "weights");
    if ((st = place_set(c, &c->m->glob, &c->glob, &off, &c->glob)) != XLLM_OK)
        return st;
    for (int32_t l = 0; l < hp->n_layer; l++)
        if ((st = place_set(c, &c->m->layers[l], &c->layers[l], &off, NULL)) != XLLM_OK)
            return st;
    xllm_free(c->stage);
    c->stage = NULL, c->stage_cap = 0;
    c->d_inv_freq = (float *)(c->d_weights + off);
    c->d_inv_freq_swa = (float *)(c->d_weights + off + align_up(half ? half : 4));
    if (half) {
        CK(cudaMemcpy(c->d_inv_freq, c->m->rope_inv_freq, half, cudaMemcpyHostToDevice), "rope table");
        CK(cudaMemcpy(c->d_inv_freq_swa, c->m->rope_inv_freq_swa, half, cudaMemcpyHostToDevice), "rope table");
    }
    return XLLM_OK;
}

static xllm_status alloc_scratch(xc_ctx *c)
{
    const xllm_hparams *hp = c->hp;
    size_t T = (size_t)c->p.max_batch_tokens;
    size_t dq = (size_t)hp->n_head * hp->head_dim_k, dk = (size_t)hp->n_head_kv * hp->head_dim_k;
    size_t dv = (size_t)hp->n_head_kv * hp->head_dim_v, dout = (size_t)hp->n_head * hp->head_dim_v;
    size_t up = (size_t)xllm_dim_value(hp, XLLM_DIM_FF_UP), big = dq + dk + dv > up ? dq + dk + dv : up;
    if (big < 2 * (size_t)hp->n_ff) /* gate|up fused: both halves */
        big = 2 * (size_t)hp->n_ff;
    size_t sizes[] = {T * hp->n_embd, T * hp->n_embd, T * dq, T * dk, T * dv, T * dout, T * big, T * hp->n_ff,
                      T * hp->n_vocab};
    float **dst[] = {&c->x, &c->h, &c->q, &c->k, &c->v, &c->att, &c->big, &c->ff, &c->logits};
    size_t total = 0, off = 0, act = align_up(T * (size_t)c->sz.max_cols * 2);
    size_t w16 = T > XC_MMV_MAX_TOKENS ? align_up((size_t)c->sz.max_matrix_elems * 2) : 0;
    size_t xq = align_up((size_t)XC_MMV_MAX_TOKENS * (size_t)c->sz.max_cols);
    size_t xd = align_up((size_t)XC_MMV_MAX_TOKENS * (size_t)c->sz.max_cols / 32 * 8);
    const char *q8 = getenv("XLLM_CUDA_Q8ACT");
    xllm_status st;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += align_up(sizes[i] * sizeof(float));
    CK(cudaMalloc(&c->d_scratch, total + act + w16 + xq + xd), "scratch");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *dst[i] = (float *)((uint8_t *)c->d_scratch + off);
        off += align_up(sizes[i] * sizeof(float));
    }
    c->blas.act16 = (uint8_t *)c->d_scratch + off;
    c->blas.w16 = w16 ? (uint8_t *)c->d_scratch + off + act : NULL;
    if (!(q8 && q8[0] == '0')) { /* int8 activations for the decode mat-vec of Q8_0/Q4_0/Q4_K/Q6_K */
        c->blas.xq = (int8_t *)c->d_scratch + off + act + w16;
        c->blas.xd = (uint8_t *)c->d_scratch + off + act + w16 + xq;
    }
    return XLLM_OK;
}

/* Room for 4 * T entries plus a block-table matrix of `tables` entries. */
static xllm_status meta_reserve(xc_ctx *c, size_t tables)
{
    size_t need = 4 * (size_t)c->p.max_batch_tokens + tables;
    xllm_status st;
    if (need <= c->meta_cap)
        return XLLM_OK;
    need += need / 2;
    drop_graphs(c); /* they hold the old buffer's address */
    if (c->d_meta)
        cudaFree(c->d_meta);
    if (c->h_meta)
        cudaFreeHost(c->h_meta);
    c->d_meta = NULL;
    c->h_meta = NULL;
    c->meta_cap = 0;
    CK(cudaMalloc((void **)&c->d_meta, need * sizeof(int32_t)), "batch buffers");
    CK(cudaMallocHost((void **)&c->h_meta, need * sizeof(int32_t)), "pinned batch buffers");
    c->meta_cap = need;
    return XLLM_OK;
}

static xllm_status read_params(xc_ctx *c, const xllm_engine_load_params *p)
{
    xllm_engine_load_params *q = &c->p;
    memset(q, 0, sizeof *q);
    q->max_batch_tokens = 512;
    q->kv_type = XLLM_KV_F16;
    if (!p || p->struct_size < offsetof(xllm_engine_load_params, device) + sizeof(int32_t))
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "cuda engine: load params missing or too old");
    memcpy(q, p, p->struct_size < sizeof *q ? p->struct_size : sizeof *q);
    if (p->struct_size < offsetof(xllm_engine_load_params, kv_type) + sizeof(int32_t))
        q->kv_type = XLLM_KV_F16;
    if (!q->model_path)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "cuda engine: no model_path");
    if (q->max_batch_tokens < 1 || q->max_batch_tokens > (1 << 16) || q->n_blocks < 0)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT,
                        "cuda engine: bad parameters (max_batch_tokens in [1, 65536], n_blocks >= 0)");
    if (!xc_kv_supported(q->kv_type))
        return ctx_fail(c, XLLM_ERR_UNSUPPORTED, "cuda engine: KV type %d is not supported (f16, q8_0)", q->kv_type);
    return XLLM_OK;
}

xllm_status xc_ctx_create(const xllm_engine_load_params *p, xc_ctx **out)
{
    xc_ctx *c = xllm_calloc(1, sizeof *c);
    const char *inv = getenv("XLLM_CUDA_INVARIANT");
    xllm_status st;
    *out = NULL;
    if (!c)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cuda engine context");
    if ((st = read_params(c, p)) != XLLM_OK)
        goto out;
    if ((st = xc_open_model(c->p.model_path, &c->g, &c->m)) != XLLM_OK) {
        snprintf(c->error, sizeof c->error, "%s", xllm_last_error());
        goto out;
    }
    c->hp = &c->m->hp;
    if ((st = xc_model_check(c->hp, c->p.model_path)) != XLLM_OK ||
        (st = xc_plan_sizes(c->m, c->p.n_blocks, c->p.max_batch_tokens, c->p.kv_type, &c->sz)) != XLLM_OK)
        goto out;
    if (c->p.kv_type == XLLM_KV_Q8_0 && (c->hp->head_dim_k % 32 || c->hp->head_dim_v % 32)) {
        st = ctx_fail(c, XLLM_ERR_UNSUPPORTED, "cuda engine: q8_0 KV needs head dims that are multiples of 32");
        goto out;
    }
    if (!(c->layers = xllm_calloc((size_t)c->hp->n_layer, sizeof *c->layers))) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "cuda engine layers");
        goto out;
    }
    if ((st = pick_device(c, c->p.device)) != XLLM_OK)
        goto out;
    if ((st = dev_check(c, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "stream")) != XLLM_OK)
        goto out;
    {
        int br = xck_blas_init(&c->blas, c->stream);
        if ((st = dev_check(c, br ? -br : 0, "cuBLAS init")) != XLLM_OK)
            goto out;
    }
    c->blas.mmv_only = inv && inv[0] == '1';
    {
        const char *g = getenv("XLLM_CUDA_GRAPHS");
        c->use_graphs = !(g && g[0] == '0');
    }
    if ((st = upload(c)) != XLLM_OK || (st = alloc_scratch(c)) != XLLM_OK || (st = meta_reserve(c, 0)) != XLLM_OK)
        goto out;
    if (c->sz.kv_bytes &&
        (st = dev_check(c, cudaMalloc((void **)&c->d_kv, (size_t)c->sz.kv_bytes), "KV pool")) != XLLM_OK)
        goto out;
    if (c->d_kv && (st = dev_check(c, cudaMemset(c->d_kv, 0, (size_t)c->sz.kv_bytes), "KV pool")) != XLLM_OK)
        goto out;
    *out = c;
    c = NULL;
    st = XLLM_OK;
out:
    if (c && st != XLLM_OK)
        xllm_fail(st, "%s", c->error[0] ? c->error : xllm_last_error());
    xc_ctx_free(c);
    return st;
}

void xc_ctx_free(xc_ctx *c)
{
    if (!c)
        return;
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    drop_graphs(c);
    xck_blas_free(&c->blas);
    if (c->d_weights)
        cudaFree(c->d_weights);
    if (c->d_kv)
        cudaFree(c->d_kv);
    if (c->d_scratch)
        cudaFree(c->d_scratch);
    if (c->d_meta)
        cudaFree(c->d_meta);
    if (c->h_meta)
        cudaFreeHost(c->h_meta);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    xc_batch_plan_free(&c->plan);
    xllm_free(c->stage);
    xllm_free(c->layers);
    xllm_model_free(c->m);
    xllm_gguf_close(c->g);
    xllm_free(c);
}

const xllm_model *xc_ctx_model(const xc_ctx *c) { return c->m; }
int32_t xc_ctx_kv_type(const xc_ctx *c) { return c->p.kv_type; }
const char *xc_ctx_error(const xc_ctx *c) { return c->error; }

static xck_kv layer_kv(const xc_ctx *c, int32_t l)
{
    xck_kv kv;
    uint8_t *base = c->d_kv + (size_t)l * (size_t)c->p.n_blocks * c->sz.kv_block_bytes;
    kv.k = base;
    kv.v = base + (size_t)c->p.n_blocks * c->sz.k_block_bytes;
    kv.k_block_bytes = c->sz.k_block_bytes;
    kv.v_block_bytes = c->sz.kv_block_bytes - c->sz.k_block_bytes;
    kv.kv_type = c->p.kv_type;
    return kv;
}

xllm_status xc_kv_copy_block(xc_ctx *c, int32_t src, int32_t dst)
{
    xllm_status st;
    if (!c->d_kv || src < 0 || dst < 0 || src >= c->p.n_blocks || dst >= c->p.n_blocks)
        return ctx_fail(c, XLLM_ERR_INVALID_ARGUMENT, "kv_copy_block: blocks %d -> %d out of range [0, %d)", src, dst,
                        c->d_kv ? c->p.n_blocks : 0);
    for (int32_t l = 0; l < c->hp->n_layer && src != dst; l++) {
        xck_kv kv = layer_kv(c, l);
        CK(xck_kv_copy(c->stream, &kv, src, dst), "kv_copy_block");
    }
    CK(cudaStreamSynchronize(c->stream), "kv_copy_block");
    return XLLM_OK;
}

/* ---- forward ---- */

/* y = W x. *xq_ok: the int8 scratch already holds x (an earlier matmul on
 * the same x, or the fused norm that made it); set once this one made it. */
static xllm_status matmul(xc_ctx *c, const xc_mat *w, const float *x, int n, float *y, int *xq_ok)
{
    int q8 = c->blas.xq && n <= XC_MMV_MAX_TOKENS && xck_mmvq_supported(w->dtype);
    xllm_status st;
    CK(xck_matmul_ex(&c->blas, w, x, n, y, q8 && *xq_ok), "matmul");
    if (q8)
        *xq_ok = 1;
    return XLLM_OK;
}

/* Decode-sized batches read fused q|k|v and gate|up matrices (one launch
 * each); larger ones the separate matrices (the cuBLAS path's f16 scratch
 * holds one of them). */
static int use_fused(const xc_mat *m, int n) { return m->d && n <= XC_MMV_MAX_TOKENS; }

/* The residual a block left pending (x += h) is added now, alone. */
static xllm_status flush_residual(xc_ctx *c, int n)
{
    xllm_status st;
    if (!c->pending)
        return XLLM_OK;
    c->pending = 0;
    CK(xck_residual(c->stream, c->hp->arch->norm, c->h, c->x, NULL, NULL, NULL, NULL, 0.0f, n, c->hp->n_embd),
       "residual");
    return XLLM_OK;
}

/* in = norm(x + pending residual) into h, quantized for `next` when it runs
 * the int8 mat-vec (*xq_ok); without a norm weight, in = x. */
static xllm_status block_input(xc_ctx *c, const float *w, const float *b, const xc_mat *next, int n,
                               const float **in, int *xq_ok)
{
    const xllm_hparams *hp = c->hp;
    int q8 = c->blas.xq && n <= XC_MMV_MAX_TOKENS && xck_mmvq_supported(next->dtype) && hp->n_embd % 32 == 0;
    xllm_status st;
    *xq_ok = 0;
    if (!w) {
        *in = c->x;
        return flush_residual(c, n);
    }
    CK(xck_res_norm(c->stream, hp->arch->norm, c->x, c->pending ? c->h : NULL, w, b, hp->norm_eps, c->h, n,
                    hp->n_embd, q8 ? c->blas.xq : NULL, c->blas.xd), "norm");
    c->pending = 0;
    *in = c->h;
    *xq_ok = q8;
    return XLLM_OK;
}

/* The block output h goes into x: left pending for the next norm when it is
 * a plain add, else now (bias, sandwich norm, post-LN). */
static xllm_status block_residual(xc_ctx *c, const float *bias, const float *post_norm, const float *post_ln,
                                  const float *post_ln_b, int n)
{
    const xllm_hparams *hp = c->hp;
    xllm_status st;
    if (!bias && !post_norm && !post_ln) {
        c->pending = 1;
        return XLLM_OK;
    }
    CK(xck_residual(c->stream, hp->arch->norm, c->h, c->x, bias, post_norm, post_ln, post_ln_b, hp->norm_eps, n,
                    hp->n_embd), "residual");
    return XLLM_OK;
}

static xllm_status attention_block(xc_ctx *c, const xc_set *L, int32_t l, const xck_batch *kb)
{
    const xllm_hparams *hp = c->hp;
    int n = kb->n_tokens, swa = hp->swa_layer[l], xq_ok = 0, att_q = 0;
    int64_t dq = (int64_t)hp->n_head * hp->head_dim_k, dk = (int64_t)hp->n_head_kv * hp->head_dim_k;
    int64_t dv = (int64_t)hp->n_head_kv * hp->head_dim_v;
    const xc_mat *first = use_fused(&L->qkv, n) ? &L->qkv
                          : L->mat[XLLM_R_ATTN_QKV].d ? &L->mat[XLLM_R_ATTN_QKV] : &L->mat[XLLM_R_ATTN_Q];
    const float *in;
    xck_qkv_args qa;
    xck_attn_args aa;
    xck_kv kv = layer_kv(c, l);
    xllm_status st;
    memset(&qa, 0, sizeof qa);
    memset(&aa, 0, sizeof aa);
    if ((st = block_input(c, L->vec[XLLM_R_ATTN_NORM], L->vec[XLLM_R_ATTN_NORM_B], first, n, &in, &xq_ok)) != XLLM_OK)
        return st;
    if (first == &L->qkv || first == &L->mat[XLLM_R_ATTN_QKV]) {
        const float *b = first == &L->qkv ? NULL : L->vec[XLLM_R_ATTN_QKV_B];
        if ((st = matmul(c, first, in, n, c->big, &xq_ok)) != XLLM_OK)
            return st;
        qa.q_in = c->big, qa.k_in = c->big + dq, qa.v_in = c->big + dq + dk;
        qa.sq = qa.sk = qa.sv = dq + dk + dv;
        if (b)
            qa.bq = b, qa.bk = b + dq, qa.bv = b + dq + dk;
        else
            qa.bq = L->vec[XLLM_R_ATTN_Q_B], qa.bk = L->vec[XLLM_R_ATTN_K_B], qa.bv = L->vec[XLLM_R_ATTN_V_B];
    } else {
        if ((st = matmul(c, &L->mat[XLLM_R_ATTN_Q], in, n, c->q, &xq_ok)) != XLLM_OK ||
            (st = matmul(c, &L->mat[XLLM_R_ATTN_K], in, n, c->k, &xq_ok)) != XLLM_OK ||
            (st = matmul(c, &L->mat[XLLM_R_ATTN_V], in, n, c->v, &xq_ok)) != XLLM_OK)
            return st;
        qa.q_in = c->q, qa.k_in = c->k, qa.v_in = c->v;
        qa.sq = dq, qa.sk = dk, qa.sv = dv;
        qa.bq = L->vec[XLLM_R_ATTN_Q_B], qa.bk = L->vec[XLLM_R_ATTN_K_B], qa.bv = L->vec[XLLM_R_ATTN_V_B];
    }
    qa.q_norm = L->vec[XLLM_R_ATTN_Q_NORM], qa.k_norm = L->vec[XLLM_R_ATTN_K_NORM], qa.eps = hp->norm_eps;
    qa.n_head = hp->n_head, qa.n_kv = hp->n_head_kv, qa.hd_k = hp->head_dim_k, qa.hd_v = hp->head_dim_v;
    qa.n_rot = hp->n_rot, qa.rope_kind = hp->arch->rope;
    qa.inv_freq = swa ? c->d_inv_freq_swa : c->d_inv_freq, qa.mscale = hp->rope_attn_factor;
    qa.q_out = c->q;
    CK(xck_qkv(c->stream, kb, &qa, &kv), "q/k/v");
    aa.q = c->q, aa.out = c->att;
    aa.n_head = hp->n_head, aa.n_kv = hp->n_head_kv, aa.hd_k = hp->head_dim_k, aa.hd_v = hp->head_dim_v;
    aa.scale = hp->attn_scale, aa.softcap = hp->attn_softcap, aa.window = swa ? hp->n_swa : 0;
    aa.wide = c->blas.mmv_only || n <= XC_MMV_MAX_TOKENS; /* invariant mode: one fold order for every batch */
    if (aa.wide && c->blas.xq && n <= XC_MMV_MAX_TOKENS && xck_mmvq_supported(L->mat[XLLM_R_ATTN_OUT].dtype) &&
        hp->head_dim_v % 32 == 0) { /* the output projection's int8 input, made by the attention kernel */
        aa.xq = c->blas.xq, aa.xd = c->blas.xd;
        att_q = 1;
    }
    CK(xck_attention(c->stream, kb, &aa, &kv), "attention");
    if ((st = matmul(c, &L->mat[XLLM_R_ATTN_OUT], c->att, n, c->h, &att_q)) != XLLM_OK)
        return st;
    return block_residual(c, L->vec[XLLM_R_ATTN_OUT_B], L->vec[XLLM_R_ATTN_POST_NORM], L->vec[XLLM_R_ATTN_OUT_NORM],
                          L->vec[XLLM_R_ATTN_OUT_NORM_B], n);
}

static xllm_status ffn_block(xc_ctx *c, const xc_set *L, int n)
{
    const xllm_hparams *hp = c->hp;
    const xc_mat *first = use_fused(&L->gate_up, n) ? &L->gate_up : &L->mat[XLLM_R_FFN_UP];
    const float *in;
    int xq_ok = 0, ff_q = 0;
    xllm_status st;
    if ((st = block_input(c, L->vec[XLLM_R_FFN_NORM], L->vec[XLLM_R_FFN_NORM_B], first, n, &in, &xq_ok)) != XLLM_OK)
        return st;
    if (first == &L->gate_up) { /* big = gate | up per token: the fused activation's layout */
        const xc_mat *down = &L->mat[XLLM_R_FFN_DOWN];
        if ((st = matmul(c, &L->gate_up, in, n, c->big, &xq_ok)) != XLLM_OK)
            return st;
        if (c->blas.xq && xck_mmvq_supported(down->dtype) && hp->n_ff % 32 == 0) { /* + ff's int8 form */
            CK(xck_act_q(c->stream, hp->arch->act, c->big, c->ff, n, hp->n_ff, c->blas.xq, c->blas.xd), "activation");
            ff_q = 1;
        } else {
            CK(xck_act(c->stream, XLLM_FFN_GATED_FUSED, hp->arch->act, c->big, c->ff, NULL, NULL, n, hp->n_ff),
               "activation");
        }
    } else {
        if ((st = matmul(c, &L->mat[XLLM_R_FFN_UP], in, n, c->big, &xq_ok)) != XLLM_OK)
            return st;
        if (hp->arch->ffn == XLLM_FFN_GATED &&
            (st = matmul(c, &L->mat[XLLM_R_FFN_GATE], in, n, c->ff, &xq_ok)) != XLLM_OK)
            return st;
        CK(xck_act(c->stream, hp->arch->ffn, hp->arch->act, c->big, c->ff, L->vec[XLLM_R_FFN_UP_B],
                   L->vec[XLLM_R_FFN_GATE_B], n, hp->n_ff), "activation");
    }
    if ((st = matmul(c, &L->mat[XLLM_R_FFN_DOWN], c->ff, n, c->h, &ff_q)) != XLLM_OK)
        return st;
    return block_residual(c, L->vec[XLLM_R_FFN_DOWN_B], L->vec[XLLM_R_FFN_POST_NORM], L->vec[XLLM_R_LAYER_OUT_NORM],
                          L->vec[XLLM_R_LAYER_OUT_NORM_B], n);
}

/* The batch arrays to the device in one copy. */
static xllm_status stage_batch(xc_ctx *c, const xllm_batch *b, xck_batch *kb, int32_t **d_rows)
{
    size_t T = (size_t)c->p.max_batch_tokens, n = (size_t)b->n_tokens;
    size_t tables = (size_t)c->plan.n_seqs * (size_t)c->plan.table_stride;
    int32_t *h, *d;
    xllm_status st;
    if ((st = meta_reserve(c, tables)) != XLLM_OK)
        return st;
    h = c->h_meta, d = c->d_meta;
    memcpy(h, b->tokens, n * sizeof(int32_t));
    memcpy(h + T, b->positions, n * sizeof(int32_t));
    memcpy(h + 2 * T, b->seq, n * sizeof(int32_t));
    memcpy(h + 3 * T, c->plan.rows, (size_t)c->plan.n_rows * sizeof(int32_t));
    memcpy(h + 4 * T, c->plan.tables, tables * sizeof(int32_t));
    CK(cudaMemcpyAsync(d, h, (4 * T + tables) * sizeof(int32_t), cudaMemcpyHostToDevice, c->stream), "batch upload");
    kb->n_tokens = b->n_tokens;
    kb->pos = d + T;
    kb->seq = d + 2 * T;
    kb->tables = d + 4 * T;
    kb->table_stride = c->plan.table_stride;
    *d_rows = d + 3 * T;
    return XLLM_OK;
}

/* Every kernel of one forward after the batch upload (capturable). */
static xllm_status enqueue_layers(xc_ctx *c, const xck_batch *kb, const int32_t *d_rows, int nr)
{
    const xllm_hparams *hp = c->hp;
    xllm_status st;
    CK(xck_embed(c->stream, &c->glob.mat[XLLM_R_TOKEN_EMBD], c->d_meta, kb->n_tokens, hp->embd_scale, c->x), "embed");
    int xq_ok = 0;
    c->pending = 0;
    for (int32_t l = 0; l < hp->n_layer; l++)
        if ((st = attention_block(c, &c->layers[l], l, kb)) != XLLM_OK ||
            (st = ffn_block(c, &c->layers[l], kb->n_tokens)) != XLLM_OK)
            return st;
    if ((st = flush_residual(c, kb->n_tokens)) != XLLM_OK || !nr)
        return st;
    CK(xck_norm(c->stream, hp->arch->norm, c->x, d_rows, c->glob.vec[XLLM_R_OUTPUT_NORM],
                c->glob.vec[XLLM_R_OUTPUT_NORM_B], hp->norm_eps, c->h, nr, hp->n_embd), "output norm");
    if ((st = matmul(c, &c->glob.mat[XLLM_R_OUTPUT], c->h, nr, c->logits, &xq_ok)) != XLLM_OK)
        return st;
    if (hp->final_softcap > 0.0f)
        CK(xck_softcap(c->stream, c->logits, (int64_t)nr * hp->n_vocab, hp->final_softcap), "softcap");
    return XLLM_OK;
}

/* Decode-sized batches replay a captured graph of enqueue_layers (launch
 * overhead otherwise dominates a small model's step); the shape picks it. */
static xllm_status run_graph(xc_ctx *c, const xck_batch *kb, const int32_t *d_rows, int nr)
{
    xc_graph *g = NULL, *free_slot = NULL;
    cudaGraph_t graph = NULL;
    xllm_status st;
    for (int i = 0; i < GRAPH_SLOTS && !g; i++) {
        xc_graph *s = &c->graphs[i];
        if (s->n_tokens == kb->n_tokens && s->stride == kb->table_stride && s->n_rows == nr)
            g = s;
        else if (!s->n_tokens && !free_slot)
            free_slot = s;
    }
    if (!g) {
        if (!free_slot) {
            drop_graphs(c);
            free_slot = &c->graphs[0];
        }
        CK(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal), "graph capture");
        st = enqueue_layers(c, kb, d_rows, nr);
        {
            cudaError_t e = cudaStreamEndCapture(c->stream, &graph);
            if (st == XLLM_OK && (st = dev_check(c, (int)e, "graph capture")) == XLLM_OK)
                st = dev_check(c, (int)cudaGraphInstantiate(&free_slot->exec, graph, 0), "graph instantiate");
        }
        if (graph)
            cudaGraphDestroy(graph);
        if (st != XLLM_OK)
            return st;
        g = free_slot;
        g->n_tokens = kb->n_tokens, g->stride = kb->table_stride, g->n_rows = nr;
    }
    CK(cudaGraphLaunch(g->exec, c->stream), "graph launch");
    return XLLM_OK;
}

static xllm_status run_layers(xc_ctx *c, const xllm_batch *b)
{
    const xllm_hparams *hp = c->hp;
    xck_batch kb;
    int32_t *d_rows;
    int nr = c->plan.n_rows;
    xllm_status st;
    if ((st = stage_batch(c, b, &kb, &d_rows)) != XLLM_OK)
        return st;
    if (c->use_graphs && b->n_tokens <= XC_MMV_MAX_TOKENS)
        st = run_graph(c, &kb, d_rows, nr);
    else
        st = enqueue_layers(c, &kb, d_rows, nr);
    if (st != XLLM_OK || !nr)
        return st;
    CK(cudaMemcpyAsync(b->logits, c->logits, (size_t)nr * (size_t)hp->n_vocab * sizeof(float),
                       cudaMemcpyDeviceToHost, c->stream), "logits download");
    return XLLM_OK;
}

xllm_status xc_forward(xc_ctx *c, const xllm_batch *b)
{
    xllm_status st;
    c->error[0] = 0;
    if ((st = xc_batch_plan_make(c->hp, c->d_kv ? c->p.n_blocks : 0, c->p.max_batch_tokens, b, &c->plan, c->error,
                                 sizeof c->error)) != XLLM_OK)
        return st;
    st = run_layers(c, b);
    {
        cudaError_t e = cudaStreamSynchronize(c->stream);
        if (st == XLLM_OK && e != cudaSuccess)
            st = dev_check(c, (int)e, "forward");
    }
    return st;
}
