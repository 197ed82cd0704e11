/* convert_hf.c - GGUF -> Hugging Face directory: safetensors (one file, or
 * shards + model.safetensors.index.json) and a config.json transformers loads,
 * by running the tables of hf_tables.c backwards (inverse Q/K permutation,
 * gemma norms minus one, rope_freqs back to rope_scaling), plus tokenizer.json +
 * tokenizer_config.json from the GGUF vocabulary (tokenizer/hf_export.c). Built
 * in "<dir>.partial-XXXXXX" and renamed into place. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "base/fs.h"
#include "base/log.h"
#include "format/safetensors.h"
#include "kernels/cpu/kernels.h"
#include "model/convert.h"
#include "model/hf_map.h"
#include "tokenizer/hf_export.h"

#define DEFAULT_SHARD_BYTES (4ull << 30)

typedef struct rev_tensor {
    char name[256];                /* HF name */
    const xllm_gguf_tensor *in;
    uint8_t xform;
    uint64_t nbytes;               /* in the output dtype */
    int shard;
} rev_tensor;

typedef struct rev_job {
    const xllm_gguf *src;
    const xllm_hf_arch *arch;
    const char *arch_name;         /* general.architecture */
    uint32_t out_dtype;
    rev_tensor *t;
    int64_t n;
    int n_shards;
    uint32_t n_head, n_head_kv;
    char *tmp_dir;
} rev_job;

/* ---- names ---- */

/* Layer of name under pattern ("blk.%d.attn_q.weight"), 0 for a global
 * pattern that equals name, -1 when it does not match. */
static int match_pattern(const char *pat, const char *name)
{
    const char *d = strstr(pat, "%d");
    char *end;
    long l;
    if (!d)
        return strcmp(pat, name) ? -1 : 0;
    if (strncmp(name, pat, (size_t)(d - pat)))
        return -1;
    name += d - pat;
    if (*name < '0' || *name > '9')
        return -1;
    l = strtol(name, &end, 10);
    return strcmp(end, d + 2) || l > 1000000 ? -1 : (int)l;
}

static int is_config_tensor(const char *name)
{
    return !strcmp(name, "rope_freqs.weight") || !strcmp(name, "rope_factors_long.weight") ||
           !strcmp(name, "rope_factors_short.weight");
}

static xllm_status map_names(rev_job *j)
{
    int64_t k = 0;
    for (int64_t i = 0; i < xllm_gguf_n_tensors(j->src); i++) {
        const xllm_gguf_tensor *in = xllm_gguf_tensor_at(j->src, i);
        const xllm_hf_tensor_map *m;
        int layer = -1;
        for (m = j->arch->tensors; m->hf; m++)
            if ((layer = match_pattern(m->gguf, in->name)) >= 0)
                break;
        if (!m->hf) {
            if (!is_config_tensor(in->name))
                XLLM_WARN("%s: tensor '%s' has no Hugging Face name for %s; not written", xllm_gguf_path(j->src),
                          in->name, j->arch_name);
            continue;
        }
        snprintf(j->t[k].name, sizeof j->t[k].name, m->hf, layer);
        j->t[k].in = in;
        j->t[k].xform = m->xform;
        j->t[k].nbytes = xllm_st_dtype_size(j->out_dtype) * in->ne[0] * in->ne[1] * in->ne[2] * in->ne[3];
        k++;
    }
    j->n = k;
    return XLLM_OK;
}

/* ---- tensor data ---- */

static uint64_t gguf_row_of(uint64_t hf_row, uint64_t rows, uint32_t groups)
{
    uint64_t half = rows / groups / 2, h = hf_row / (2 * half), rem = hf_row % (2 * half);
    return h * 2 * half + 2 * (rem % half) + rem / half;
}

static xllm_status produce(const rev_job *j, const rev_tensor *t, void *out, float *row)
{
    const xllm_gguf_tensor *in = t->in;
    uint64_t rows = in->ne[1] * in->ne[2] * in->ne[3], n = in->ne[0];
    uint32_t groups = t->xform == XLLM_HF_X_PERMUTE_Q ? j->n_head : j->n_head_kv;
    int ok = 1, permute = t->xform == XLLM_HF_X_PERMUTE_Q || t->xform == XLLM_HF_X_PERMUTE_K;
    uint64_t in_row = xllm_dtype_row_bytes(in->dtype, n, &ok), esz = xllm_st_dtype_size(j->out_dtype);
    xllm_status st;
    if (in->n_dims == 1 && permute) { /* a permuted bias: its elements are the rows */
        rows = n;
        n = 1;
    }
    if (permute && (groups == 0 || rows % (2 * (uint64_t)groups)))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s': %llu rows do not split into %u heads",
                         xllm_gguf_path(j->src), in->name, (unsigned long long)rows, groups);
    if (in->n_dims == 1 && permute) {
        float *all = xllm_malloc(rows * sizeof *all);
        if (!all)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        if ((st = xllm_dequantize_row(in->dtype, in->data, all, (int64_t)rows)) == XLLM_OK)
            for (uint64_t r = 0; r < rows; r++)
                row[r] = all[gguf_row_of(r, rows, groups)];
        xllm_free(all);
        return st == XLLM_OK ? xllm_quantize_row(j->out_dtype, row, out, (int64_t)rows) : st;
    }
    for (uint64_t r = 0; r < rows; r++) {
        uint64_t from = permute ? gguf_row_of(r, rows, groups) : r;
        if ((st = xllm_dequantize_row(in->dtype, (const char *)in->data + from * in_row, row, (int64_t)n)) != XLLM_OK)
            return st;
        if (t->xform == XLLM_HF_X_ADD_ONE)
            for (uint64_t i = 0; i < n; i++)
                row[i] -= 1.0f;
        if ((st = xllm_quantize_row(j->out_dtype, row, (char *)out + r * n * esz, (int64_t)n)) != XLLM_OK)
            return st;
    }
    return XLLM_OK;
}

static char *shard_name(int k, int n_shards)
{
    char buf[64];
    if (n_shards == 1)
        snprintf(buf, sizeof buf, "model.safetensors");
    else
        snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
    return xllm_strdup(buf);
}

static xllm_status write_shard(const rev_job *j, int k)
{
    xllm_st_tensor *ts = NULL;
    float *row = NULL;
    char *name = shard_name(k, j->n_shards), *path = NULL;
    int64_t m = 0;
    uint64_t max_row = 1;
    xllm_status st = XLLM_OK;
    for (int64_t i = 0; i < j->n; i++)
        if (j->t[i].shard == k) {
            uint64_t r = j->t[i].in->ne[0]; /* also the length of a permuted 1-D bias */
            max_row = r > max_row ? r : max_row;
            m++;
        }
    ts = xllm_calloc((size_t)m + 1, sizeof *ts);
    row = xllm_malloc(max_row * sizeof *row);
    path = name ? xllm_path_join(j->tmp_dir, name) : NULL;
    if (!ts || !row || !path) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    m = 0;
    for (int64_t i = 0; i < j->n && st == XLLM_OK; i++) {
        const rev_tensor *t = &j->t[i];
        xllm_st_tensor *o = &ts[m];
        if (t->shard != k)
            continue;
        o->name = t->name;
        o->dtype = j->out_dtype;
        o->n_dims = t->in->n_dims;
        for (uint32_t d = 0; d < o->n_dims; d++)
            o->shape[d] = t->in->ne[o->n_dims - 1 - d];
        o->nbytes = t->nbytes;
        if (!(o->data = xllm_malloc(t->nbytes ? t->nbytes : 1)))
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory converting '%s'", t->name);
        else
            st = produce(j, t, (void *)o->data, row);
        m++;
    }
    if (st == XLLM_OK)
        st = xllm_st_write(path, ts, m, NULL, 0);
out:
    for (int64_t i = 0; ts && i < m; i++)
        xllm_free((void *)ts[i].data);
    xllm_free(ts);
    xllm_free(row);
    xllm_free(name);
    xllm_free(path);
    return st;
}

static void assign_shards(rev_job *j, uint64_t limit)
{
    uint64_t used = 0;
    int k = 0;
    for (int64_t i = 0; i < j->n; i++) {
        if (used > 0 && used + j->t[i].nbytes > limit) {
            k++;
            used = 0;
        }
        j->t[i].shard = k;
        used += j->t[i].nbytes;
    }
    j->n_shards = k + 1;
}

static xllm_status write_json(const char *dir, const char *name, json_t *obj)
{
    char *path = xllm_path_join(dir, name);
    xllm_status st = XLLM_OK;
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (!obj || json_dump_file(obj, path, JSON_INDENT(2) | JSON_REAL_PRECISION(9)) != 0)
        st = xllm_fail(XLLM_ERR_IO, "%s: cannot write", path);
    xllm_free(path);
    return st;
}

static xllm_status write_index(const rev_job *j)
{
    json_t *idx = json_object(), *map = json_object(), *meta = json_object();
    uint64_t total = 0;
    xllm_status st;
    for (int64_t i = 0; i < j->n && idx && map; i++) {
        char *s = shard_name(j->t[i].shard, j->n_shards);
        json_object_set_new(map, j->t[i].name, json_string(s ? s : ""));
        xllm_free(s);
        total += j->t[i].nbytes;
    }
    json_object_set_new(meta, "total_size", json_integer((json_int_t)total));
    json_object_set_new(idx, "metadata", meta);
    json_object_set_new(idx, "weight_map", map);
    st = write_json(j->tmp_dir, "model.safetensors.index.json", idx);
    json_decref(idx);
    return st;
}

/* ---- config.json ---- */

/* The shortest decimal that reads back as the same float. */
static double short_float(float f)
{
    char buf[40];
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, f);
        if ((float)strtod(buf, NULL) == f)
            break;
    }
    return strtod(buf, NULL);
}

static int get_f32(const rev_job *j, const char *suffix, float *v)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", j->arch_name, suffix);
    return xllm_gguf_get_f32(j->src, key, v) == XLLM_OK;
}

static int get_u32(const rev_job *j, const char *suffix, uint32_t *v)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", j->arch_name, suffix);
    return xllm_gguf_get_u32(j->src, key, v) == XLLM_OK;
}

static void reverse_keys(const rev_job *j, json_t *c)
{
    for (const xllm_hf_key_map *k = j->arch->keys; k->gguf; k++) {
        char hf[64];
        float f;
        uint32_t u;
        snprintf(hf, sizeof hf, "%.*s", (int)strcspn(k->hf, "|"), k->hf);
        if (k->type == XLLM_GGUF_UINT32 && get_u32(j, k->gguf, &u)) {
            if (u || strcmp(k->gguf, "attention.sliding_window")) /* 0 = no window */
                json_object_set_new(c, hf, json_integer(u));
        } else if (k->type == XLLM_GGUF_FLOAT32 && get_f32(j, k->gguf, &f)) {
            json_object_set_new(c, hf, json_real(short_float(f)));
        }
    }
}

static void llama3_params(const float *f, int n, double theta, int head_dim, double orig_hint, xllm_hf_rope *r)
{
    int mids[2] = {-1, -1}, n_mid = 0;
    double s[2], wl[2];
    float check[1024];
    memset(r, 0, sizeof *r);
    snprintf(r->type, sizeof r->type, "llama3");
    r->theta = theta;
    r->factor = f[n - 1];
    r->low_freq_factor = 1.0;
    r->high_freq_factor = 4.0;
    r->orig_ctx = orig_hint > 0 ? orig_hint : 8192;
    for (int i = 0; i < n; i++)
        if (f[i] > 1.0f + 1e-6f && f[i] < (float)r->factor - 1e-6f)
            mids[n_mid < 2 ? n_mid++ : 1] = i;
    for (int k = 0; k < n_mid; k++) {
        float freq = 1.0f / powf((float)theta, (float)(2 * mids[k]) / (float)head_dim);
        wl[k] = 2 * M_PI / freq;
        s[k] = (1.0 / f[mids[k]] - 1.0 / r->factor) / (1.0 - 1.0 / r->factor);
    }
    if (n_mid == 2 && wl[0] != wl[1]) { /* s = orig/(hi-lo)/wl - lo/(hi-lo), with lo = 1 */
        double a = (s[1] - s[0]) / (1 / wl[1] - 1 / wl[0]), c = s[0] - a / wl[0];
        if (c < 0) {
            r->high_freq_factor = round((1 - 1 / c) * 1e6) / 1e6;
            r->orig_ctx = round(-a / c);
        }
    } else if (n_mid == 1) {
        r->orig_ctx = round(wl[0] * (3 * s[0] + 1));
    }
    xllm_hf_llama3_factors(r, head_dim, check);
    for (int i = 0; i < n; i++)
        if (fabsf(check[i] - f[i]) > 1e-4f * f[i]) {
            XLLM_WARN("rope_freqs: factors are not llama3's formula; writing the closest rope_scaling");
            break;
        }
}

static void reverse_rope(const rev_job *j, json_t *c, uint32_t head_dim)
{
    const xllm_gguf_tensor *rf = xllm_gguf_find_tensor(j->src, "rope_freqs.weight");
    const xllm_gguf_tensor *lf = xllm_gguf_find_tensor(j->src, "rope_factors_long.weight");
    const xllm_gguf_tensor *sf = xllm_gguf_find_tensor(j->src, "rope_factors_short.weight");
    char key[160];
    xllm_str type = {0};
    float theta = 10000.0f, v;
    uint32_t rot, n_embd = 0;
    json_t *sc = NULL;
    get_f32(j, "rope.freq_base", &theta);
    json_object_set_new(c, "rope_theta", json_real(short_float(theta)));
    if (get_f32(j, "rope.freq_base_swa", &v))
        json_object_set_new(c, "rope_local_base_freq", json_real(short_float(v)));
    if (get_u32(j, "rope.dimension_count", &rot) && rot != head_dim && head_dim && get_u32(j, "embedding_length", &n_embd))
        json_object_set_new(c, "partial_rotary_factor", json_real(short_float((float)rot / (float)head_dim)));
    snprintf(key, sizeof key, "%s.rope.scaling.type", j->arch_name);
    xllm_gguf_get_str(j->src, key, &type);
    if (rf && rf->dtype == XLLM_DTYPE_F32 && rf->ne[0] == head_dim / 2 && head_dim / 2 <= 1024) {
        float f[1024];
        xllm_hf_rope r;
        uint32_t orig = 0;
        memcpy(f, rf->data, rf->ne[0] * sizeof(float));
        get_u32(j, "rope.scaling.original_context_length", &orig);
        llama3_params(f, (int)rf->ne[0], theta, (int)head_dim, orig, &r);
        sc = json_pack("{s:s, s:f, s:f, s:f, s:I}", "rope_type", "llama3", "factor", short_float((float)r.factor),
                       "low_freq_factor", r.low_freq_factor, "high_freq_factor", r.high_freq_factor,
                       "original_max_position_embeddings", (json_int_t)r.orig_ctx);
    } else if (lf && sf && lf->dtype == XLLM_DTYPE_F32 && sf->dtype == XLLM_DTYPE_F32) {
        json_t *l = json_array(), *s = json_array();
        for (uint64_t i = 0; i < lf->ne[0]; i++)
            json_array_append_new(l, json_real(short_float(((const float *)lf->data)[i])));
        for (uint64_t i = 0; i < sf->ne[0]; i++)
            json_array_append_new(s, json_real(short_float(((const float *)sf->data)[i])));
        sc = json_pack("{s:s, s:s, s:o, s:o}", "type", "longrope", "rope_type", "longrope", "long_factor", l,
                       "short_factor", s);
    } else if (type.ptr && ((type.len == 6 && !memcmp(type.ptr, "linear", 6)) ||
                            (type.len == 4 && !memcmp(type.ptr, "yarn", 4)))) {
        float factor = 1.0f;
        uint32_t orig;
        get_f32(j, "rope.scaling.factor", &factor);
        sc = json_pack("{s:s%, s:f}", "rope_type", type.ptr, (size_t)type.len, "factor", short_float(factor));
        if (sc && type.len == 4 && get_u32(j, "rope.scaling.original_context_length", &orig))
            json_object_set_new(sc, "original_max_position_embeddings", json_integer(orig));
    }
    if (sc)
        json_object_set_new(c, "rope_scaling", sc);
}

static void reverse_swa(const rev_job *j, json_t *c, uint32_t n_layer)
{
    char key[160];
    xllm_gguf_type at;
    uint64_t count;
    int64_t idx;
    json_t *lt;
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", j->arch_name);
    idx = xllm_gguf_find(j->src, key);
    if (idx < 0 || xllm_gguf_get_arr(j->src, key, &at, &count) != XLLM_OK || at == XLLM_GGUF_STRING ||
        at == XLLM_GGUF_ARRAY || count != n_layer)
        return;
    lt = json_array();
    for (uint64_t i = 0; i < count; i++)
        json_array_append_new(lt, json_string(xllm_gguf_arr_get_f64(j->src, idx, i) != 0 ? "sliding_attention"
                                                                                       : "full_attention"));
    json_object_set_new(c, "layer_types", lt);
    if (!strcmp(j->arch_name, "gemma3")) /* older transformers read the period */
        for (uint32_t p = 1; p <= n_layer; p++) {
            uint32_t i;
            for (i = 0; i < n_layer; i++)
                if ((xllm_gguf_arr_get_f64(j->src, idx, i) != 0) != (i % p < p - 1))
                    break;
            if (i == n_layer) {
                json_object_set_new(c, "sliding_window_pattern", json_integer(p));
                break;
            }
        }
}

static void reverse_tokens(const rev_job *j, json_t *c)
{
    static const char *const ids[][2] = {{"tokenizer.ggml.bos_token_id", "bos_token_id"},
                                         {"tokenizer.ggml.eos_token_id", "eos_token_id"},
                                         {"tokenizer.ggml.padding_token_id", "pad_token_id"}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint32_t v;
        if (xllm_gguf_get_u32(j->src, ids[i][0], &v) == XLLM_OK)
            json_object_set_new(c, ids[i][1], json_integer(v));
    }
}

static const char *torch_dtype(uint32_t t)
{
    return t == XLLM_DTYPE_F32 ? "float32" : t == XLLM_DTYPE_F16 ? "float16" : "bfloat16";
}

static json_t *build_config(const rev_job *j)
{
    json_t *c = json_object(), *arr = json_array(), *extra = NULL;
    const xllm_gguf_tensor *emb = xllm_gguf_find_tensor(j->src, "token_embd.weight");
    const xllm_gguf_tensor *types = xllm_gguf_find_tensor(j->src, "token_types.weight");
    uint32_t n_embd = 0, n_head = 0, n_layer = 0, head_dim = 0, ctx = 0;
    float scale;
    if (!c || !arr)
        goto fail;
    json_array_append_new(arr, json_string(j->arch->hf_class));
    json_object_set_new(c, "architectures", arr);
    arr = NULL;
    json_object_set_new(c, "model_type", json_string(j->arch->model_type));
    if (j->arch->reverse_extra && (extra = json_loads(j->arch->reverse_extra, 0, NULL))) {
        json_object_update(c, extra);
        json_decref(extra);
    }
    reverse_keys(j, c);
    get_u32(j, "embedding_length", &n_embd);
    get_u32(j, "attention.head_count", &n_head);
    get_u32(j, "block_count", &n_layer);
    if (!get_u32(j, "attention.key_length", &head_dim) && n_head)
        head_dim = n_embd / n_head;
    if (j->arch->flags & XLLM_HF_F_ROPE) {
        json_object_set_new(c, "head_dim", json_integer(head_dim));
        reverse_rope(j, c, head_dim);
    }
    if (j->arch->flags & XLLM_HF_F_SWA_PATTERN)
        reverse_swa(j, c, n_layer);
    if ((j->arch->flags & XLLM_HF_F_ATTN_SCALE) && get_f32(j, "attention.scale", &scale) && scale > 0)
        json_object_set_new(c, "query_pre_attn_scalar",
                            json_integer((json_int_t)llround(1.0 / ((double)scale * (double)scale))));
    if (!strcmp(j->arch_name, "nomic-bert") && get_u32(j, "context_length", &ctx))
        json_object_set_new(c, "n_positions", json_integer(ctx));
    if (emb)
        json_object_set_new(c, "vocab_size", json_integer((json_int_t)emb->ne[1]));
    if (types)
        json_object_set_new(c, "type_vocab_size", json_integer((json_int_t)types->ne[1]));
    if (!(j->arch->flags & XLLM_HF_F_ENCODER))
        json_object_set_new(c, "tie_word_embeddings",
                            json_boolean(xllm_gguf_find_tensor(j->src, "output.weight") == NULL));
    reverse_tokens(j, c);
    json_object_set_new(c, "torch_dtype", json_string(torch_dtype(j->out_dtype)));
    return c;
fail:
    if (c)
        json_decref(c);
    if (arr)
        json_decref(arr);
    return NULL;
}

/* sentence-transformers modules.json + 1_Pooling/config.json for encoders. */
static xllm_status write_pooling(const rev_job *j)
{
    uint32_t pool = 0, n_embd = 0;
    char *sub = NULL;
    json_t *mods, *pc;
    xllm_status st;
    if (!(j->arch->flags & XLLM_HF_F_ENCODER) || !get_u32(j, "pooling_type", &pool) || pool < 1 || pool > 3)
        return XLLM_OK;
    get_u32(j, "embedding_length", &n_embd);
    mods = json_pack("[{s:i, s:s, s:s, s:s}, {s:i, s:s, s:s, s:s}]", "idx", 0, "name", "0", "path", "", "type",
                     "sentence_transformers.models.Transformer", "idx", 1, "name", "1", "path", "1_Pooling", "type",
                     "sentence_transformers.models.Pooling");
    pc = json_pack("{s:i, s:b, s:b, s:b, s:b, s:b, s:b}", "word_embedding_dimension", (int)n_embd,
                   "pooling_mode_cls_token", pool == 2, "pooling_mode_mean_tokens", pool == 1,
                   "pooling_mode_max_tokens", 0, "pooling_mode_mean_sqrt_len_tokens", 0,
                   "pooling_mode_weightedmean_tokens", 0, "pooling_mode_lasttoken", pool == 3);
    st = write_json(j->tmp_dir, "modules.json", mods);
    if (st == XLLM_OK && !(sub = xllm_path_join(j->tmp_dir, "1_Pooling")))
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == XLLM_OK && mkdir(sub, 0755) != 0)
        st = xllm_fail(XLLM_ERR_IO, "%s: cannot create: %s", sub, strerror(errno));
    if (st == XLLM_OK)
        st = write_json(sub, "config.json", pc);
    if (mods)
        json_decref(mods);
    if (pc)
        json_decref(pc);
    xllm_free(sub);
    return st;
}

/* tokenizer.json + tokenizer_config.json. A vocabulary the exporter cannot write
 * (or none) costs only a warning: the weights are still converted. */
static xllm_status write_tokenizer(const rev_job *j)
{
    xllm_status st = xllm_tokenizer_export_hf(j->src, j->tmp_dir);
    if (st == XLLM_ERR_NOT_FOUND) {
        XLLM_WARN("%s: no tokenizer.ggml.model; no tokenizer files written", xllm_gguf_path(j->src));
        return XLLM_OK;
    }
    if (st == XLLM_ERR_UNSUPPORTED || st == XLLM_ERR_FORMAT) {
        XLLM_WARN("%s; no tokenizer files written", xllm_last_error());
        return XLLM_OK;
    }
    return st;
}

/* ---- output directory ---- */

static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *p;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!(p = xllm_path_join(dir, e->d_name)))
            continue;
        if (xllm_is_dir(p) && depth > 0)
            remove_tree(p, depth - 1);
        else
            unlink(p);
        xllm_free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    if (d)
        closedir(d);
    return empty;
}

static xllm_status make_tmp_dir(const char *dir, char **out)
{
    size_t n = strlen(dir);
    char *t;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (xllm_path_exists(dir) && (!xllm_is_dir(dir) || !dir_is_empty(dir)))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: exists and is not an empty directory; refusing to overwrite",
                         dir);
    if (!(t = xllm_malloc(n + sizeof ".partial-XXXXXX")))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(t, dir, n);
    memcpy(t + n, ".partial-XXXXXX", sizeof ".partial-XXXXXX");
    if (!mkdtemp(t)) {
        xllm_status st = xllm_fail(XLLM_ERR_IO, "%.*s: cannot create a temporary directory beside it: %s", (int)n,
                                   dir, strerror(errno));
        xllm_free(t);
        return st;
    }
    chmod(t, 0755);
    *out = t;
    return XLLM_OK;
}

static xllm_status pick_dtype(const xllm_gguf *src, const char *name, uint32_t *out)
{
    int t;
    if (!name) {
        *out = XLLM_DTYPE_F32;
        for (int64_t i = 0; i < xllm_gguf_n_tensors(src); i++)
            if (xllm_gguf_tensor_at(src, i)->dtype != XLLM_DTYPE_F32)
                *out = XLLM_DTYPE_F16;
        return XLLM_OK;
    }
    t = xllm_dtype_from_name(name);
    if (t != XLLM_DTYPE_F32 && t != XLLM_DTYPE_F16 && t != XLLM_DTYPE_BF16)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "unknown --dtype '%s' (use f32, f16 or bf16)", name);
    *out = (uint32_t)t;
    return XLLM_OK;
}

xllm_status xllm_convert_to_hf(const xllm_gguf *src, const char *dir, const xllm_convert_opts *o)
{
    static const xllm_convert_opts defaults;
    rev_job j;
    json_t *cfg = NULL;
    char *arch = xllm_gguf_dup_str(src, "general.architecture");
    xllm_status st;
    memset(&j, 0, sizeof j);
    o = o ? o : &defaults;
    j.src = src;
    j.arch_name = arch;
    if (!arch) {
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: no general.architecture", xllm_gguf_path(src));
        goto out;
    }
    if (!(j.arch = xllm_hf_arch_for_gguf(arch))) {
        st = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: architecture '%s' has no Hugging Face mapping (supported: %s)",
                       xllm_gguf_path(src), arch, xllm_hf_arch_list());
        goto out;
    }
    if ((st = pick_dtype(src, o->dtype, &j.out_dtype)) != XLLM_OK || (st = xllm_kernels_init()) != XLLM_OK)
        goto out;
    get_u32(&j, "attention.head_count", &j.n_head);
    j.n_head_kv = j.n_head;
    get_u32(&j, "attention.head_count_kv", &j.n_head_kv);
    if (!(j.t = xllm_calloc((size_t)xllm_gguf_n_tensors(src) + 1, sizeof *j.t))) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    if ((st = map_names(&j)) != XLLM_OK || (st = make_tmp_dir(dir, &j.tmp_dir)) != XLLM_OK)
        goto out;
    assign_shards(&j, o->shard_bytes ? o->shard_bytes : DEFAULT_SHARD_BYTES);
    for (int k = 0; k < j.n_shards && st == XLLM_OK; k++) {
        if (o->test_fail_after > 0 && k >= o->test_fail_after)
            st = xllm_fail(XLLM_ERR_CANCELLED, "conversion interrupted (test hook) before shard %d", k + 1);
        else
            st = write_shard(&j, k);
    }
    if (st == XLLM_OK && j.n_shards > 1)
        st = write_index(&j);
    if (st == XLLM_OK && !(cfg = build_config(&j)))
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory building config.json");
    if (st == XLLM_OK)
        st = write_json(j.tmp_dir, "config.json", cfg);
    if (st == XLLM_OK)
        st = write_pooling(&j);
    if (st == XLLM_OK)
        st = write_tokenizer(&j);
    if (st == XLLM_OK) {
        if (xllm_is_dir(dir))
            rmdir(dir); /* empty (checked above) */
        if (rename(j.tmp_dir, dir) != 0)
            st = xllm_fail(XLLM_ERR_IO, "%s: rename from %s failed: %s", dir, j.tmp_dir, strerror(errno));
    }
out:
    if (st != XLLM_OK && j.tmp_dir)
        remove_tree(j.tmp_dir, 1);
    if (cfg)
        json_decref(cfg);
    xllm_free(j.tmp_dir);
    xllm_free(j.t);
    xllm_free(arch);
    return st;
}
