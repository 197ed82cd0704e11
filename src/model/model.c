/* model.c - model loading: find each role's tensor by standard GGUF name,
 * check shape and dtype against the architecture table, copy vectors to f32,
 * and precompute the rope frequencies. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"

typedef struct loader {
    const xllm_gguf *g;
    const xllm_hparams *hp;
    const char *file;
    uint64_t mask; /* roles to look for: required | optional */
} loader;

static void role_name(const xllm_role_info *ri, int layer, char *buf, size_t n)
{
    if (ri->per_layer)
        snprintf(buf, n, "blk.%d.%s", layer, ri->name);
    else
        snprintf(buf, n, "%s", ri->name);
}

static void shape_str(const xllm_gguf_tensor *t, char *buf, size_t n)
{
    int k = snprintf(buf, n, "[");
    for (uint32_t d = 0; d < t->n_dims && k > 0 && (size_t)k < n; d++)
        k += snprintf(buf + k, n - (size_t)k, d ? ", %llu" : "%llu", (unsigned long long)t->ne[d]);
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, "]");
}

static void expected_str(const xllm_hparams *hp, const xllm_role_info *ri, char *buf, size_t n)
{
    int64_t e0 = xllm_dim_value(hp, ri->ne0), e1 = xllm_dim_value(hp, ri->ne1);
    if (ri->kind == XLLM_ROLE_VECTOR)
        snprintf(buf, n, "[%lld]", (long long)e0);
    else if (ri->ne1 == XLLM_DIM_ANY)
        snprintf(buf, n, "[%lld, N]", (long long)e0);
    else
        snprintf(buf, n, "[%lld, %lld]", (long long)e0, (long long)e1);
}

/* Shape and dtype of one found tensor. */
static xllm_status check_tensor(const loader *ld, const xllm_role_info *ri, const char *name,
                                const xllm_gguf_tensor *t)
{
    char have[96], want[96];
    int64_t e0 = xllm_dim_value(ld->hp, ri->ne0), e1 = xllm_dim_value(ld->hp, ri->ne1);
    int ok = 1;
    const xllm_dtype_info *di = xllm_dtype_get(t->dtype);
    for (uint32_t d = 2; d < t->n_dims; d++)
        ok &= t->ne[d] == 1;
    ok &= (int64_t)t->ne[0] == e0;
    if (ri->kind == XLLM_ROLE_VECTOR)
        ok &= t->n_dims == 1 || t->ne[1] == 1;
    else
        ok &= t->n_dims >= 2 && (ri->ne1 == XLLM_DIM_ANY ? t->ne[1] >= 1 : (int64_t)t->ne[1] == e1);
    if (!ok) {
        shape_str(t, have, sizeof have);
        expected_str(ld->hp, ri, want, sizeof want);
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", ld->file, name, have, want);
    }
    if (!di || di->block_bytes == 0 || t->ne[0] % di->block_elems != 0 || !t->data)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported type %s for row length %llu",
                         ld->file, name, xllm_dtype_name(t->dtype), (unsigned long long)t->ne[0]);
    return XLLM_OK;
}

/* Probe the kernels with the first row so an unsupported dtype fails at load. */
static xllm_status probe_row(const loader *ld, const char *name, const xllm_gguf_tensor *t, float *tmp)
{
    xllm_status st = xllm_dequantize_row(t->dtype, t->data, tmp, (int64_t)t->ne[0]);
    if (st != XLLM_OK)
        return xllm_fail_wrap(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' (type %s)", ld->file, name,
                              xllm_dtype_name(t->dtype));
    return XLLM_OK;
}

static int64_t n_sets(const xllm_hparams *hp) { return 1 + (int64_t)hp->n_layer; }

/* Pass 1: find, check and count. found[set][role] is the tensor or NULL. */
static xllm_status find_all(const loader *ld, const xllm_gguf_tensor **found, uint64_t *n_vec_floats,
                            uint64_t *bytes)
{
    char name[128];
    xllm_status st;
    *n_vec_floats = 0;
    *bytes = 0;
    for (int64_t s = 0; s < n_sets(ld->hp); s++) {
        for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
            const xllm_role_info *ri = xllm_role_get((xllm_role)r);
            const xllm_gguf_tensor *t;
            found[s * XLLM_ROLE_COUNT + r] = NULL;
            if (!(ld->mask & XLLM_ROLE_BIT(r)) || (ri->per_layer != (s > 0)))
                continue;
            role_name(ri, (int)(s - 1), name, sizeof name);
            t = xllm_gguf_find_tensor(ld->g, name);
            if (!t) {
                if (ld->hp->arch->required & XLLM_ROLE_BIT(r)) {
                    char want[96];
                    expected_str(ld->hp, ri, want, sizeof want);
                    return xllm_fail(XLLM_ERR_FORMAT, "%s: missing tensor '%s' (expected shape %s for %s)", ld->file,
                                     name, want, ld->hp->arch->name);
                }
                continue;
            }
            if ((st = check_tensor(ld, ri, name, t)) != XLLM_OK)
                return st;
            if (ri->kind == XLLM_ROLE_VECTOR)
                *n_vec_floats += t->ne[0];
            *bytes += t->nbytes;
            found[s * XLLM_ROLE_COUNT + r] = t;
        }
    }
    return XLLM_OK;
}

/* Attention input (qkv or q/k/v) and FFN form, which the role bits cannot say. */
static xllm_status check_groups(const loader *ld, const xllm_gguf_tensor **found)
{
    for (int32_t l = 0; l < ld->hp->n_layer; l++) {
        const xllm_gguf_tensor **f = found + (int64_t)(l + 1) * XLLM_ROLE_COUNT;
        int separate = f[XLLM_R_ATTN_Q] && f[XLLM_R_ATTN_K] && f[XLLM_R_ATTN_V];
        if (!f[XLLM_R_ATTN_QKV] && !separate)
            return xllm_fail(XLLM_ERR_FORMAT,
                             "%s: layer %d has neither 'blk.%d.attn_qkv.weight' nor all of attn_q/attn_k/attn_v",
                             ld->file, l, l);
    }
    return XLLM_OK;
}

static void set_weight(xllm_weight *w, const xllm_gguf_tensor *t)
{
    memset(w, 0, sizeof *w);
    w->dtype = t->dtype;
    w->cols = (int64_t)t->ne[0];
    w->rows = (int64_t)t->ne[1];
    w->data = t->data;
}

/* Pass 2: fill the tensor sets; vectors dequantized into m->vec_data. */
static xllm_status fill_all(xllm_model *m, const loader *ld, const xllm_gguf_tensor **found)
{
    float *dst = m->vec_data;
    for (int64_t s = 0; s < n_sets(ld->hp); s++) {
        xllm_tensors *ts = s == 0 ? &m->glob : &m->layers[s - 1];
        for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
            const xllm_gguf_tensor *t = found[s * XLLM_ROLE_COUNT + r];
            if (!t)
                continue;
            if (xllm_role_get((xllm_role)r)->kind == XLLM_ROLE_MATRIX) {
                set_weight(&ts->mat[r], t);
                continue;
            }
            if (xllm_dequantize_row(t->dtype, t->data, dst, (int64_t)t->ne[0]) != XLLM_OK)
                return xllm_fail_wrap(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s'", ld->file, t->name);
            ts->vec[r] = dst;
            dst += t->ne[0];
        }
    }
    return XLLM_OK;
}

/* HF computes inv_freq = 1 / base^(2i/d) in f32; llama3 smoothing as in
 * transformers' _compute_llama3_parameters. factors: rope_freqs tensor or NULL. */
static void rope_freqs(const xllm_hparams *hp, float base, int scaled, const float *factors, float *out)
{
    int32_t half = hp->n_rot / 2;
    for (int32_t i = 0; i < half; i++) {
        float expo = (float)(2 * i) / (float)hp->n_rot;
        float inv = 1.0f / (float)pow((double)base, (double)expo);
        if (scaled && factors) {
            inv /= factors[i];
        } else if (scaled && hp->rope_llama3) {
            double wavelen = 2.0 * M_PI / inv;
            double lo_wl = hp->rope_llama3_orig_ctx / hp->rope_llama3_low;
            double hi_wl = hp->rope_llama3_orig_ctx / hp->rope_llama3_high;
            if (wavelen > lo_wl) {
                inv /= hp->rope_llama3_factor;
            } else if (wavelen >= hi_wl) {
                double smooth = (hp->rope_llama3_orig_ctx / wavelen - hp->rope_llama3_low) /
                                (hp->rope_llama3_high - hp->rope_llama3_low);
                inv = (float)((1.0 - smooth) * inv / hp->rope_llama3_factor + smooth * inv);
            }
        }
        if (scaled)
            inv *= hp->rope_freq_scale;
        out[i] = inv;
    }
}

static xllm_status setup_rope(xllm_model *m)
{
    const xllm_hparams *hp = &m->hp;
    int own = (hp->arch->flags & XLLM_ARCH_F_SWA_OWN_ROPE) != 0;
    size_t half = (size_t)(hp->n_rot / 2);
    if (hp->n_rot == 0)
        return XLLM_OK;
    m->rope_inv_freq = xllm_calloc(2 * half, sizeof(float));
    if (!m->rope_inv_freq)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "rope tables");
    m->rope_inv_freq_swa = m->rope_inv_freq + half;
    const float *factors = m->glob.vec[XLLM_R_ROPE_FREQS];
    if (!factors) /* phi3 longrope: the short factors hold within the original context */
        factors = m->glob.vec[XLLM_R_ROPE_FACTORS_SHORT];
    rope_freqs(hp, hp->rope_base, 1, factors, m->rope_inv_freq);
    rope_freqs(hp, hp->rope_base_swa, !own, factors, m->rope_inv_freq_swa);
    return XLLM_OK;
}

static xllm_status prepare_weights(xllm_model *m)
{
    for (int64_t s = 0; s < n_sets(&m->hp); s++) {
        xllm_tensors *ts = s == 0 ? &m->glob : &m->layers[s - 1];
        for (int r = 0; r < XLLM_ROLE_COUNT; r++) {
            /* token_embd / position / type tables are read row by row from data */
            if (r == XLLM_R_TOKEN_EMBD || r == XLLM_R_POS_EMBD || r == XLLM_R_TOKEN_TYPES || !ts->mat[r].data)
                continue;
            xllm_status st = xllm_weight_prepare(&ts->mat[r]);
            if (st != XLLM_OK)
                return st;
        }
    }
    return XLLM_OK;
}

xllm_status xllm_model_load(const xllm_gguf *g, const xllm_model_params *p, xllm_model **out)
{
    xllm_status st;
    xllm_model *m = NULL;
    const xllm_gguf_tensor **found = NULL;
    float *probe = NULL;
    uint64_t n_vec = 0, bytes = 0;
    loader ld;
    *out = NULL;
    if (!g)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "xllm_model_load: no container");
    m = xllm_calloc(1, sizeof *m);
    if (!m)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "model");
    if ((st = xllm_hparams_read(g, &m->hp)) != XLLM_OK)
        goto out;
    ld = (loader){g, &m->hp, xllm_gguf_path(g), m->hp.arch->required | m->hp.arch->optional};
    found = xllm_calloc((size_t)n_sets(&m->hp) * XLLM_ROLE_COUNT, sizeof *found);
    m->layers = xllm_calloc((size_t)m->hp.n_layer, sizeof *m->layers);
    st = XLLM_ERR_OUT_OF_MEMORY;
    if (!found || !m->layers) {
        xllm_fail(st, "model tables");
        goto out;
    }
    if ((st = find_all(&ld, found, &n_vec, &bytes)) != XLLM_OK || (st = check_groups(&ld, found)) != XLLM_OK)
        goto out;
    for (int64_t i = 0; i < n_sets(&m->hp) * XLLM_ROLE_COUNT; i++) {
        const xllm_gguf_tensor *t = found[i];
        if (t && xllm_role_get((xllm_role)(i % XLLM_ROLE_COUNT))->kind == XLLM_ROLE_MATRIX) {
            float *buf = xllm_realloc(probe, sizeof(float) * (size_t)t->ne[0]);
            if (!buf) {
                st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "probe row");
                goto out;
            }
            probe = buf;
            if ((st = probe_row(&ld, t->name, t, probe)) != XLLM_OK)
                goto out;
        }
    }
    m->vec_data = xllm_malloc(sizeof(float) * (size_t)(n_vec ? n_vec : 1));
    if (!m->vec_data) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "model vectors (%llu floats)", (unsigned long long)n_vec);
        goto out;
    }
    m->gguf = g;
    m->weight_bytes = bytes;
    if ((st = fill_all(m, &ld, found)) != XLLM_OK)
        goto out;
    if (!m->glob.mat[XLLM_R_OUTPUT].data && !(m->hp.arch->flags & XLLM_ARCH_F_ENCODER)) {
        m->glob.mat[XLLM_R_OUTPUT] = m->glob.mat[XLLM_R_TOKEN_EMBD];
        m->tied_output = 1;
    }
    if ((st = setup_rope(m)) != XLLM_OK)
        goto out;
    if (p && p->prepare_weights && (st = prepare_weights(m)) != XLLM_OK)
        goto out;
    *out = m;
    m = NULL;
    st = XLLM_OK;
out:
    xllm_free(found);
    xllm_free(probe);
    xllm_model_free(m);
    return st;
}

void xllm_model_free(xllm_model *m)
{
    if (!m)
        return;
    for (int64_t s = 0; m->layers && s < n_sets(&m->hp); s++) {
        xllm_tensors *ts = s == 0 ? &m->glob : &m->layers[s - 1];
        for (int r = 0; r < XLLM_ROLE_COUNT; r++)
            if (ts->mat[r].packed)
                xllm_weight_release(&ts->mat[r]);
    }
    xllm_free(m->layers);
    xllm_free(m->vec_data);
    xllm_free(m->rope_inv_freq);
    xllm_free(m);
}

xllm_status xllm_model_memory_required(const xllm_gguf *g, uint64_t *weight_bytes)
{
    xllm_hparams hp;
    xllm_status st;
    const xllm_gguf_tensor **found;
    uint64_t n_vec = 0, bytes = 0;
    loader ld;
    *weight_bytes = 0;
    if ((st = xllm_hparams_read(g, &hp)) != XLLM_OK)
        return st;
    ld = (loader){g, &hp, xllm_gguf_path(g), hp.arch->required | hp.arch->optional};
    found = xllm_calloc((size_t)n_sets(&hp) * XLLM_ROLE_COUNT, sizeof *found);
    if (!found)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "model tables");
    st = find_all(&ld, found, &n_vec, &bytes);
    xllm_free(found);
    if (st == XLLM_OK)
        *weight_bytes = bytes + n_vec * sizeof(float);
    return st;
}
