/* hf_open.c - builds the in-memory GGUF view of a Hugging Face model
 * directory from the per-architecture tables of hf_tables.c. */
#include "model/hf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "base/fs.h"
#include "base/log.h"
#include "format/safetensors.h"
#include "model/hf_map.h"
#include "tokenizer/hf_import.h"

typedef struct hf_build {
    const char *dir;
    char *cfg_path;
    json_t *root;
    json_t *cfg; /* root, or root["text_config"] */
    const xllm_hf_arch *arch;
    xllm_st_set *st;       /* owned by g once attached */
    xllm_gguf *g;
    char **names;          /* [n_st] names after strip, NULL when skipped */
    unsigned char *used;   /* [n_st] */
    int64_t n_st;
    uint32_t n_layer, n_head, n_head_kv, n_embd, head_dim, n_rot;
} hf_build;

int xllm_hf_is_model_dir(const char *path)
{
    char *p = xllm_path_join(path, "config.json");
    int ok = p && xllm_is_dir(path) && xllm_path_exists(p);
    xllm_free(p);
    return ok;
}

static void build_free(hf_build *b)
{
    for (int64_t i = 0; b->names && i < b->n_st; i++)
        xllm_free(b->names[i]);
    xllm_free(b->names);
    xllm_free(b->used);
    xllm_free(b->cfg_path);
    if (b->root)
        json_decref(b->root);
}

static xllm_status load_config(hf_build *b)
{
    json_error_t err;
    char *text = NULL;
    size_t len = 0;
    xllm_status st;
    json_t *mt;
    b->cfg_path = xllm_path_join(b->dir, "config.json");
    if (!b->cfg_path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (!xllm_is_dir(b->dir))
        return xllm_fail(XLLM_ERR_NOT_FOUND, "%s: not a directory (expected a Hugging Face model directory)",
                         b->dir);
    if ((st = xllm_read_file(b->cfg_path, XLLM_MAX_JSON_FILE, &text, &len)) != XLLM_OK)
        return st;
    b->root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &err); /* huge ints exist */
    xllm_free(text);
    if (!b->root)
        return xllm_fail(XLLM_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", b->cfg_path, err.line, err.column,
                         err.text);
    if (!json_is_object(b->root))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: not a JSON object", b->cfg_path);
    mt = json_object_get(b->root, "model_type");
    b->arch = xllm_hf_arch_find(json_string_value(mt), json_object_get(b->root, "architectures"));
    if (!b->arch) {
        json_t *a = json_object_get(b->root, "architectures");
        const char *cls = json_string_value(json_array_get(a, 0));
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: unsupported model_type '%s' (architectures: %s); supported: %s",
                         b->cfg_path, json_is_string(mt) ? json_string_value(mt) : "(none)", cls ? cls : "(none)",
                         xllm_hf_arch_list());
    }
    b->cfg = b->root;
    if ((b->arch->flags & XLLM_HF_F_TEXT_CONFIG) && json_is_object(json_object_get(b->root, "text_config")))
        b->cfg = json_object_get(b->root, "text_config");
    return XLLM_OK;
}

/* ---- metadata ---- */

static xllm_status set_key(hf_build *b, const char *suffix, uint8_t type, double v)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", b->arch->gguf_arch, suffix);
    switch (type) {
    case XLLM_GGUF_UINT32:
        return xllm_gguf_set_u32(b->g, key, (uint32_t)v);
    case XLLM_GGUF_BOOL:
        return xllm_gguf_set_bool(b->g, key, v != 0);
    default:
        return xllm_gguf_set_f32(b->g, key, (float)v);
    }
}

static xllm_status map_keys(hf_build *b)
{
    for (const xllm_hf_key_map *k = b->arch->keys; k->gguf; k++) {
        json_t *j = xllm_hf_cfg_get(b->cfg, k->hf);
        double v;
        xllm_status st;
        if (!j) {
            if (k->need == XLLM_HF_REQ)
                return xllm_fail(XLLM_ERR_FORMAT, "%s: missing key '%s' (needed for %s.%s)", b->cfg_path, k->hf,
                                 b->arch->gguf_arch, k->gguf);
            continue;
        }
        if (!json_is_number(j) && !json_is_boolean(j))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' is not a number", b->cfg_path, k->hf);
        xllm_hf_cfg_num(b->cfg, k->hf, &v);
        if (k->type == XLLM_GGUF_UINT32 && (v < 0 || v > 4294967295.0 || v != floor(v)))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: key '%s' = %g is not a valid count", b->cfg_path, k->hf, v);
        if ((st = set_key(b, k->gguf, k->type, v)) != XLLM_OK)
            return st;
    }
    return XLLM_OK;
}

static xllm_status get_dim(hf_build *b, const char *suffix, uint32_t *out)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", b->arch->gguf_arch, suffix);
    if (xllm_gguf_get_u32(b->g, key, out) != XLLM_OK)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: no value for %s", b->cfg_path, key);
    return XLLM_OK;
}

static xllm_status read_dims(hf_build *b)
{
    xllm_status st;
    double v;
    if ((st = get_dim(b, "block_count", &b->n_layer)) != XLLM_OK ||
        (st = get_dim(b, "attention.head_count", &b->n_head)) != XLLM_OK ||
        (st = get_dim(b, "embedding_length", &b->n_embd)) != XLLM_OK)
        return st;
    if (b->n_layer == 0 || b->n_layer > XLLM_MAX_LAYERS || b->n_head == 0 || b->n_embd == 0)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: bad sizes (layers %u, heads %u, hidden %u; at most %d layers)",
                         b->cfg_path, b->n_layer, b->n_head, b->n_embd, XLLM_MAX_LAYERS);
    b->n_head_kv = b->n_head;
    if (xllm_hf_cfg_num(b->cfg, "num_key_value_heads", &v)) {
        if (v < 1 || (uint32_t)v > b->n_head || b->n_head % (uint32_t)v)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: num_key_value_heads %g does not divide %u heads", b->cfg_path, v,
                             b->n_head);
        b->n_head_kv = (uint32_t)v;
    } else if (!(b->arch->flags & XLLM_HF_F_ENCODER) &&
               (st = set_key(b, "attention.head_count_kv", XLLM_GGUF_UINT32, b->n_head)) != XLLM_OK) {
        return st;
    }
    b->head_dim = b->n_embd / b->n_head;
    if (xllm_hf_cfg_num(b->cfg, "head_dim", &v) && v >= 1)
        b->head_dim = (uint32_t)v;
    b->n_rot = b->head_dim;
    if (xllm_hf_cfg_num(b->cfg, "partial_rotary_factor", &v) && v > 0 && v <= 1)
        b->n_rot = (uint32_t)(v * b->n_embd) / b->n_head; /* llama.cpp phi3: int(pct * n_embd) // n_head */
    return XLLM_OK;
}

static xllm_status add_f32_tensor(hf_build *b, const char *name, const float *v, uint64_t n)
{
    float *data = xllm_malloc(n * sizeof *data);
    uint64_t ne[1] = {n};
    if (!data)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(data, v, n * sizeof *data);
    return xllm_gguf_add_tensor_owned(b->g, name, XLLM_DTYPE_F32, 1, ne, data, n * sizeof *data);
}

static xllm_status rope_factor_list(hf_build *b, json_t *list, const char *name, uint32_t n)
{
    float v[1024];
    if (!json_is_array(list) || json_array_size(list) != n || n > 1024)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: rope scaling factor list for %s must have %u numbers", b->cfg_path,
                         name, n);
    for (uint32_t i = 0; i < n; i++) {
        json_t *x = json_array_get(list, i);
        if (!json_is_number(x))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: rope scaling factor list holds a non-number", b->cfg_path);
        v[i] = (float)json_number_value(x);
    }
    return add_f32_tensor(b, name, v, n);
}

/* rope.* keys and the rope_freqs / rope_factors_* tensors. */
static xllm_status map_rope(hf_build *b)
{
    xllm_hf_rope r;
    xllm_status st;
    double ctx = 0, orig;
    xllm_hf_cfg_rope(b->cfg, "full_attention", !strcmp(b->arch->gguf_arch, "gemma3") ? 1e6 : 10000.0, &r);
    if ((st = set_key(b, "rope.freq_base", XLLM_GGUF_FLOAT32, r.theta)) != XLLM_OK ||
        (st = set_key(b, "rope.dimension_count", XLLM_GGUF_UINT32, b->n_rot)) != XLLM_OK)
        return st;
    if (b->arch->flags & XLLM_HF_F_SWA_PATTERN) {
        xllm_hf_rope s;
        xllm_hf_cfg_rope(b->cfg, "sliding_attention", r.theta, &s);
        if ((st = set_key(b, "rope.freq_base_swa", XLLM_GGUF_FLOAT32, s.theta)) != XLLM_OK)
            return st;
    }
    if (!strcmp(r.type, "default"))
        return XLLM_OK;
    if (!strcmp(r.type, "linear") || !strcmp(r.type, "yarn")) {
        char key[160];
        snprintf(key, sizeof key, "%s.rope.scaling.type", b->arch->gguf_arch);
        if ((st = xllm_gguf_set_str(b->g, key, r.type)) != XLLM_OK ||
            (st = set_key(b, "rope.scaling.factor", XLLM_GGUF_FLOAT32, r.factor)) != XLLM_OK)
            return st;
        if (r.orig_ctx > 0)
            return set_key(b, "rope.scaling.original_context_length", XLLM_GGUF_UINT32, r.orig_ctx);
        return XLLM_OK;
    }
    if (!strcmp(r.type, "llama3")) { /* llama.cpp: only the rope_freqs tensor, no scaling keys */
        float f[1024];
        if (b->head_dim / 2 > 1024)
            return xllm_fail(XLLM_ERR_LIMIT, "%s: head_dim %u too large", b->cfg_path, b->head_dim);
        xllm_hf_llama3_factors(&r, (int)b->head_dim, f);
        return add_f32_tensor(b, "rope_freqs.weight", f, b->head_dim / 2);
    }
    if (!strcmp(r.type, "longrope") || !strcmp(r.type, "su")) {
        /* llama.cpp Phi3MiniModel: attn_factor from the context growth */
        double scale;
        xllm_hf_cfg_num(b->cfg, "max_position_embeddings", &ctx);
        orig = r.orig_ctx > 0 ? r.orig_ctx : ctx;
        scale = orig > 0 ? ctx / orig : 1.0;
        if ((st = set_key(b, "rope.scaling.attn_factor", XLLM_GGUF_FLOAT32,
                          scale > 1.0 ? sqrt(1 + log(scale) / log(orig)) : 1.0)) != XLLM_OK ||
            (st = rope_factor_list(b, r.long_factor, "rope_factors_long.weight", b->n_rot / 2)) != XLLM_OK)
            return st;
        return rope_factor_list(b, r.short_factor, "rope_factors_short.weight", b->n_rot / 2);
    }
    XLLM_WARN("%s: rope scaling type '%s' is not converted; positions beyond the trained context will differ",
              b->cfg_path, r.type);
    return XLLM_OK;
}

static xllm_status map_swa_pattern(hf_build *b)
{
    char key[160];
    uint8_t pat[XLLM_MAX_LAYERS];
    json_t *types = json_object_get(b->cfg, "layer_types");
    double p = b->arch->swa_period;
    snprintf(key, sizeof key, "%s.attention.sliding_window", b->arch->gguf_arch);
    if (xllm_gguf_find(b->g, key) < 0)
        return XLLM_OK;
    xllm_hf_cfg_num(b->cfg, "sliding_window_pattern", &p);
    if (json_is_array(types) && json_array_size(types) != b->n_layer)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: layer_types has %zu entries for %u layers", b->cfg_path,
                         json_array_size(types), b->n_layer);
    for (uint32_t i = 0; i < b->n_layer; i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (t)
            pat[i] = !strcmp(t, "sliding_attention");
        else
            pat[i] = p >= 1 && i % (uint32_t)p < (uint32_t)p - 1;
    }
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", b->arch->gguf_arch);
    return xllm_gguf_set_arr(b->g, key, XLLM_GGUF_BOOL, pat, b->n_layer);
}

/* sentence-transformers pooling (modules.json -> <path>/config.json), as llama.cpp. */
static xllm_status map_pooling(hf_build *b)
{
    char *path = xllm_path_join(b->dir, "modules.json"), *text = NULL, *pcfg = NULL;
    json_t *mods = NULL, *pool = NULL;
    const char *sub = NULL;
    xllm_status st = XLLM_OK;
    size_t len;
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (!xllm_path_exists(path))
        goto out;
    if ((st = xllm_read_file(path, XLLM_MAX_JSON_FILE, &text, &len)) != XLLM_OK)
        goto out;
    mods = json_loadb(text, len, 0, NULL);
    for (size_t i = 0; json_is_array(mods) && i < json_array_size(mods); i++) {
        json_t *m = json_array_get(mods, i);
        const char *type = json_string_value(json_object_get(m, "type"));
        if (type && !strcmp(type, "sentence_transformers.models.Pooling"))
            sub = json_string_value(json_object_get(m, "path"));
    }
    if (!sub)
        goto out;
    xllm_free(text);
    text = NULL;
    pcfg = xllm_malloc(strlen(b->dir) + strlen(sub) + 16);
    if (!pcfg) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    sprintf(pcfg, "%s/%s/config.json", b->dir, sub);
    if ((st = xllm_read_file(pcfg, XLLM_MAX_JSON_FILE, &text, &len)) != XLLM_OK)
        goto out;
    pool = json_loadb(text, len, 0, NULL);
    if (!json_is_object(pool)) {
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: not a JSON object", pcfg);
        goto out;
    }
    if (json_is_true(json_object_get(pool, "pooling_mode_mean_tokens")))
        st = set_key(b, "pooling_type", XLLM_GGUF_UINT32, 1);
    else if (json_is_true(json_object_get(pool, "pooling_mode_cls_token")))
        st = set_key(b, "pooling_type", XLLM_GGUF_UINT32, 2);
    else if (json_is_true(json_object_get(pool, "pooling_mode_lasttoken")))
        st = set_key(b, "pooling_type", XLLM_GGUF_UINT32, 3);
    else
        XLLM_WARN("%s: pooling mode not supported (only mean, cls, last); no pooling_type written", pcfg);
out:
    if (mods)
        json_decref(mods);
    if (pool)
        json_decref(pool);
    xllm_free(text);
    xllm_free(pcfg);
    xllm_free(path);
    return st;
}

static xllm_status map_derived(hf_build *b)
{
    xllm_status st;
    double v;
    if ((b->arch->flags & XLLM_HF_F_ROPE) && (st = map_rope(b)) != XLLM_OK)
        return st;
    if ((b->arch->flags & XLLM_HF_F_SWA_PATTERN) && (st = map_swa_pattern(b)) != XLLM_OK)
        return st;
    if ((b->arch->flags & XLLM_HF_F_ATTN_SCALE) && xllm_hf_cfg_num(b->cfg, "query_pre_attn_scalar", &v) && v > 0 &&
        (st = set_key(b, "attention.scale", XLLM_GGUF_FLOAT32, 1.0 / sqrt(v))) != XLLM_OK)
        return st;
    if (b->arch->flags & XLLM_HF_F_ENCODER) {
        if ((st = set_key(b, "attention.causal", XLLM_GGUF_BOOL, 0)) != XLLM_OK)
            return st;
        return map_pooling(b);
    }
    return XLLM_OK;
}

/* ---- tensors ---- */

static int is_skipped(const xllm_hf_arch *a, const char *name)
{
    for (const char *const *s = a->skip; s && *s; s++)
        if (strstr(name, *s))
            return 1;
    return 0;
}

/* Names with the arch's strip substrings removed (NULL for skipped tensors). */
static xllm_status index_names(hf_build *b)
{
    b->n_st = xllm_st_n_tensors(b->st);
    b->names = xllm_calloc((size_t)b->n_st + 1, sizeof *b->names);
    b->used = xllm_calloc((size_t)b->n_st + 1, 1);
    if (!b->names || !b->used)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < b->n_st; i++) {
        const char *name = xllm_st_tensor_at(b->st, i)->name;
        char *n;
        if (is_skipped(b->arch, name))
            continue;
        if (!(n = xllm_strdup(name)))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        for (const char *const *s = b->arch->strip; s && *s; s++) {
            char *p;
            size_t k = strlen(*s);
            while ((p = strstr(n, *s)))
                memmove(p, p + k, strlen(p + k) + 1);
        }
        b->names[i] = n;
    }
    return XLLM_OK;
}

static int64_t find_name(const hf_build *b, const char *name)
{
    for (int64_t i = 0; i < b->n_st; i++)
        if (b->names[i] && !strcmp(b->names[i], name))
            return i;
    return -1;
}

/* Source elements as f32 (F32, F16, BF16). */
static void to_f32(const xllm_st_tensor *t, float *dst, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (t->dtype == XLLM_DTYPE_F32) {
            memcpy(&dst[i], (const char *)t->data + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, (const char *)t->data + 2 * i, 2);
            dst[i] = t->dtype == XLLM_DTYPE_F16 ? xllm_f16_to_f32(h) : xllm_bf16_to_f32(h);
        }
    }
}

static xllm_status add_mapped(hf_build *b, const xllm_st_tensor *t, const char *gname, uint8_t xform)
{
    uint64_t ne[XLLM_MAX_DIMS], n = 1, rows;
    int to_float = t->n_dims == 1 || xform == XLLM_HF_X_ADD_ONE;
    uint32_t dtype = to_float ? XLLM_DTYPE_F32 : t->dtype;
    uint64_t nbytes;
    void *data;
    if (t->dtype != XLLM_DTYPE_F32 && t->dtype != XLLM_DTYPE_F16 && t->dtype != XLLM_DTYPE_BF16)
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (only F32, F16, BF16 are supported)",
                         xllm_st_file_path(b->st, t->file), t->name, t->st_dtype);
    if (t->n_dims < 1 || t->n_dims > XLLM_MAX_DIMS)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has %u dimensions", xllm_st_file_path(b->st, t->file),
                         t->name, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++) {
        ne[d] = t->shape[t->n_dims - 1 - d];
        n *= ne[d];
    }
    rows = t->shape[0];
    if (!to_float && xform == XLLM_HF_X_NONE)
        return xllm_gguf_add_tensor(b->g, gname, dtype, t->n_dims, ne, t->data, t->nbytes);
    nbytes = to_float ? n * 4 : t->nbytes;
    if (!(data = xllm_malloc(nbytes ? nbytes : 1)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory copying tensor '%s'", t->name);
    if (to_float)
        to_f32(t, data, n);
    else
        memcpy(data, t->data, nbytes);
    if (xform == XLLM_HF_X_ADD_ONE) {
        for (uint64_t i = 0; i < n; i++)
            ((float *)data)[i] += 1.0f;
    } else if (xform == XLLM_HF_X_PERMUTE_Q || xform == XLLM_HF_X_PERMUTE_K) {
        uint32_t groups = xform == XLLM_HF_X_PERMUTE_Q ? b->n_head : b->n_head_kv;
        void *tmp;
        if (rows % (2 * (uint64_t)groups)) {
            xllm_free(data);
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' has %llu rows, not a multiple of 2 x %u heads",
                             xllm_st_file_path(b->st, t->file), t->name, (unsigned long long)rows, groups);
        }
        if (!(tmp = xllm_malloc(nbytes))) {
            xllm_free(data);
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory permuting tensor '%s'", t->name);
        }
        xllm_hf_permute_rows(data, tmp, rows, nbytes / rows, groups, 0);
        xllm_free(data);
        data = tmp;
    }
    return xllm_gguf_add_tensor_owned(b->g, gname, dtype, t->n_dims, ne, data, nbytes);
}

static xllm_status map_one(hf_build *b, const xllm_hf_tensor_map *m, int layer)
{
    char hname[256], gname[256];
    int64_t i;
    snprintf(hname, sizeof hname, m->hf, layer);
    snprintf(gname, sizeof gname, m->gguf, layer);
    i = find_name(b, hname);
    if (i < 0) {
        if (m->flags & XLLM_HF_OPT)
            return XLLM_OK;
        return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s' is missing from the safetensors files (needed for %s)",
                         b->dir, hname, b->arch->gguf_arch);
    }
    b->used[i] = 1;
    return add_mapped(b, xllm_st_tensor_at(b->st, i), gname, m->xform);
}

static xllm_status map_tensors(hf_build *b)
{
    xllm_status st;
    if ((st = index_names(b)) != XLLM_OK)
        return st;
    for (const xllm_hf_tensor_map *m = b->arch->tensors; m->hf; m++)
        if (!strstr(m->hf, "%d") && (st = map_one(b, m, 0)) != XLLM_OK)
            return st;
    for (uint32_t l = 0; l < b->n_layer; l++)
        for (const xllm_hf_tensor_map *m = b->arch->tensors; m->hf; m++)
            if (strstr(m->hf, "%d") && (st = map_one(b, m, (int)l)) != XLLM_OK)
                return st;
    for (int64_t i = 0; i < b->n_st; i++)
        if (b->names[i] && !b->used[i]) {
            const xllm_st_tensor *t = xllm_st_tensor_at(b->st, i);
            return xllm_fail(XLLM_ERR_FORMAT, "%s: unexpected tensor '%s' for %s (not in its mapping table%s)",
                             xllm_st_file_path(b->st, t->file), t->name, b->arch->gguf_arch,
                             strstr(t->name, "layers.") ? "; more layers than num_hidden_layers?" : "");
        }
    return XLLM_OK;
}

/* ---- general.* and tokenizer ---- */

static xllm_status map_general(hf_build *b)
{
    char name[256];
    const char *base = b->dir;
    size_t n;
    xllm_status st;
    /* basename without trailing slashes */
    n = strlen(base);
    while (n > 1 && base[n - 1] == '/')
        n--;
    for (size_t i = n; i > 0; i--)
        if (base[i - 1] == '/') {
            base += i;
            n -= i;
            break;
        }
    snprintf(name, sizeof name, "%.*s", (int)n, base);
    if ((st = xllm_gguf_set_str(b->g, "general.architecture", b->arch->gguf_arch)) != XLLM_OK)
        return st;
    return xllm_gguf_set_str(b->g, "general.name", name[0] ? name : b->arch->gguf_arch);
}

static xllm_status map_file_type(hf_build *b)
{
    uint32_t ft = 0; /* LLAMA_FTYPE_ALL_F32 */
    for (int64_t i = 0; i < xllm_gguf_n_tensors(b->g); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(b->g, i);
        if (t->n_dims >= 2) {
            ft = t->dtype == XLLM_DTYPE_F16 ? 1 : t->dtype == XLLM_DTYPE_BF16 ? 32 : 0;
            break;
        }
    }
    return xllm_gguf_set_u32(b->g, "general.file_type", ft);
}

static xllm_status map_tokenizer(hf_build *b)
{
    char *a = xllm_path_join(b->dir, "tokenizer.json"), *m = xllm_path_join(b->dir, "tokenizer.model");
    int have = (a && xllm_path_exists(a)) || (m && xllm_path_exists(m));
    xllm_status st = XLLM_OK;
    xllm_free(a);
    xllm_free(m);
    if (!have) {
        XLLM_WARN("%s: no tokenizer.json or tokenizer.model; the model has no vocabulary", b->dir);
        return XLLM_OK;
    }
    if ((st = xllm_tokenizer_import_hf(b->dir, b->g)) != XLLM_OK)
        return xllm_fail_wrap(st, "%s: tokenizer", b->dir);
    return XLLM_OK;
}

static void st_destroy(void *p) { xllm_st_close(p); }

xllm_status xllm_hf_open(const char *dir, xllm_gguf **out)
{
    hf_build b;
    xllm_status st;
    memset(&b, 0, sizeof b);
    b.dir = dir;
    *out = NULL;
    if ((st = load_config(&b)) != XLLM_OK)
        goto out;
    if ((st = xllm_st_open_dir(dir, &b.st)) != XLLM_OK)
        goto out;
    if ((st = xllm_gguf_new(&b.g)) != XLLM_OK) {
        xllm_st_close(b.st);
        goto out;
    }
    if ((st = xllm_gguf_attach(b.g, b.st, st_destroy)) != XLLM_OK) /* destroys b.st on failure */
        goto out;
    if ((st = map_general(&b)) != XLLM_OK || (st = map_keys(&b)) != XLLM_OK || (st = read_dims(&b)) != XLLM_OK ||
        (st = map_derived(&b)) != XLLM_OK || (st = map_tensors(&b)) != XLLM_OK ||
        (st = map_file_type(&b)) != XLLM_OK || (st = map_tokenizer(&b)) != XLLM_OK)
        goto out;
    *out = b.g;
    b.g = NULL;
out:
    if (b.g)
        xllm_gguf_close(b.g);
    build_free(&b);
    return st;
}
