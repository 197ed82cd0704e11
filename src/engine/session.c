/* session.c - one model, one CPU context, one sequence: the in-process path
 * the CLI and the reference tests use. */
#include "engine/session.h"

#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "model/hf.h"

struct xllm_session {
    xllm_gguf *g;
    xllm_model *m;
    xllm_cpu_ctx *c;
    int32_t n_ctx;     /* positions this session can hold (multiple of the block size) */
    int32_t n_past;
    int32_t max_batch;
    int32_t *blocks;   /* [n_ctx / BLOCK] = 0, 1, 2, ... */
    int32_t *pos;      /* [max_batch] */
    int32_t *seq;      /* [max_batch] zeros */
    uint8_t *want;     /* [max_batch] */
};

xllm_session_params xllm_session_params_default(void)
{
    xllm_session_params p = {0, 0, XLLM_KV_F16};
    return p;
}

xllm_status xllm_session_open(const char *path, int n_threads, int n_ctx, xllm_session **out)
{
    xllm_session_params p = xllm_session_params_default();
    p.n_threads = n_threads;
    p.n_ctx = n_ctx;
    return xllm_session_open_ex(path, &p, out);
}

xllm_status xllm_session_open_gguf(xllm_gguf *g, int n_threads, int n_ctx, xllm_session **out)
{
    xllm_session_params p = xllm_session_params_default();
    p.n_threads = n_threads;
    p.n_ctx = n_ctx;
    return xllm_session_open_gguf_ex(g, &p, out);
}

xllm_status xllm_session_open_ex(const char *path, const xllm_session_params *p, xllm_session **out)
{
    xllm_gguf *g = NULL;
    xllm_status st;
    *out = NULL;
    if (!path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "session: no model path");
    if (xllm_is_dir(path))
        st = xllm_hf_open(path, &g);
    else
        st = xllm_gguf_open(path, &g);
    if (st != XLLM_OK)
        return st;
    return xllm_session_open_gguf_ex(g, p, out);
}

xllm_status xllm_session_open_gguf_ex(xllm_gguf *g, const xllm_session_params *p, xllm_session **out)
{
    xllm_session *s = NULL;
    xllm_model_params mp = {1};
    xllm_cpu_params cp = xllm_cpu_params_default();
    xllm_status st;
    int enc, n_ctx = p ? p->n_ctx : 0;
    *out = NULL;
    s = xllm_calloc(1, sizeof *s);
    if (!s) {
        xllm_gguf_close(g);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "session");
    }
    s->g = g;
    if ((st = xllm_model_load(g, &mp, &s->m)) != XLLM_OK)
        goto out;
    enc = xllm_model_is_encoder(s->m);
    if (n_ctx <= 0)
        n_ctx = s->m->hp.n_ctx_train < 4096 ? s->m->hp.n_ctx_train : 4096;
    if (n_ctx > (1 << 24)) {
        st = xllm_fail(XLLM_ERR_LIMIT, "session: n_ctx %d exceeds %d", n_ctx, 1 << 24);
        goto out;
    }
    s->n_ctx = (n_ctx + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE * XLLM_KV_BLOCK_SIZE;
    s->max_batch = enc ? s->n_ctx : (s->n_ctx < 512 ? s->n_ctx : 512);
    cp.n_blocks = enc ? 0 : s->n_ctx / XLLM_KV_BLOCK_SIZE;
    cp.max_batch_tokens = s->max_batch;
    cp.n_threads = p ? p->n_threads : 0;
    cp.kv_type = p ? p->kv_type : XLLM_KV_F16;
    if ((st = xllm_cpu_ctx_create(s->m, &cp, &s->c)) != XLLM_OK)
        goto out;
    s->blocks = xllm_calloc((size_t)(s->n_ctx / XLLM_KV_BLOCK_SIZE) + 1, sizeof(int32_t));
    s->pos = xllm_calloc((size_t)s->max_batch, sizeof(int32_t));
    s->seq = xllm_calloc((size_t)s->max_batch, sizeof(int32_t));
    s->want = xllm_calloc((size_t)s->max_batch, 1);
    if (!s->blocks || !s->pos || !s->seq || !s->want) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "session buffers");
        goto out;
    }
    for (int32_t i = 0; i < s->n_ctx / XLLM_KV_BLOCK_SIZE; i++)
        s->blocks[i] = i;
    *out = s;
    s = NULL;
    st = XLLM_OK;
out:
    xllm_session_close(s);
    return st;
}

void xllm_session_close(xllm_session *s)
{
    if (!s)
        return;
    xllm_cpu_ctx_free(s->c);
    xllm_model_free(s->m);
    xllm_gguf_close(s->g);
    xllm_free(s->blocks);
    xllm_free(s->pos);
    xllm_free(s->seq);
    xllm_free(s->want);
    xllm_free(s);
}

static void batch_init(xllm_session *s, xllm_batch *b, const int32_t *tokens, int32_t n)
{
    memset(b, 0, sizeof *b);
    b->struct_size = sizeof *b;
    b->n_tokens = n;
    b->tokens = tokens;
    b->positions = s->pos;
    b->seq = s->seq;
    b->n_seqs = 1;
}

xllm_status xllm_session_eval(xllm_session *s, const int32_t *tokens, int32_t n, int want_all_logits, float *out)
{
    int32_t nb = s->n_ctx / XLLM_KV_BLOCK_SIZE, V = s->m->hp.n_vocab;
    const int32_t *tables[1] = {s->blocks};
    if (xllm_model_is_encoder(s->m))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "session: %s is an embedding model; use embed",
                         s->m->hp.arch->name);
    if (n < 1 || !tokens)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "session: no tokens to evaluate");
    if (n > s->n_ctx - s->n_past)
        return xllm_fail(XLLM_ERR_LIMIT, "session: %d + %d tokens exceed the context of %d", s->n_past, n,
                         s->n_ctx);
    for (int32_t done = 0; done < n;) {
        int32_t k = n - done < s->max_batch ? n - done : s->max_batch;
        int last_chunk = done + k == n;
        xllm_batch b;
        xllm_status st;
        batch_init(s, &b, tokens + done, k);
        b.block_tables = tables;
        b.block_counts = &nb;
        b.want_logits = s->want;
        for (int32_t j = 0; j < k; j++) {
            s->pos[j] = s->n_past + j;
            s->want[j] = out && (want_all_logits || (last_chunk && j == k - 1));
        }
        b.logits = !out ? NULL : want_all_logits ? out + (size_t)done * (size_t)V : out;
        if ((st = xllm_cpu_forward(s->c, &b)) != XLLM_OK)
            return st;
        s->n_past += k;
        done += k;
    }
    return XLLM_OK;
}

xllm_status xllm_session_embed(xllm_session *s, const int32_t *tokens, int32_t n, float *out)
{
    xllm_batch b;
    if (!xllm_model_is_encoder(s->m))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "session: %s is not an embedding model", s->m->hp.arch->name);
    if (n < 1 || !tokens || !out)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "session: no tokens or output to embed");
    if (n > s->max_batch)
        return xllm_fail(XLLM_ERR_LIMIT, "session: %d tokens exceed the context of %d", n, s->max_batch);
    batch_init(s, &b, tokens, n);
    for (int32_t j = 0; j < n; j++)
        s->pos[j] = j;
    b.embeddings = out;
    return xllm_cpu_forward(s->c, &b);
}

void xllm_session_reset(xllm_session *s) { s->n_past = 0; }
int32_t xllm_session_n_past(const xllm_session *s) { return s->n_past; }
int32_t xllm_session_n_ctx(const xllm_session *s) { return s->n_ctx; }
int32_t xllm_session_n_vocab(const xllm_session *s) { return s->m->hp.n_vocab; }
int32_t xllm_session_n_embd(const xllm_session *s) { return s->m->hp.n_embd; }
const xllm_model *xllm_session_model(const xllm_session *s) { return s->m; }
const xllm_gguf *xllm_session_gguf(const xllm_session *s) { return s->g; }
xllm_cpu_ctx *xllm_session_ctx(xllm_session *s) { return s->c; }
