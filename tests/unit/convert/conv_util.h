/* conv_util.h - helpers of the converter tests: scratch directories, tiny
 * Hugging Face model directories written by hand (config.json text + F32
 * safetensors with the HF tensor names spelled out here, independently of the
 * converter's tables), and file comparisons. Header-only (static functions). */
#ifndef XLLM_TEST_CONV_UTIL_H
#define XLLM_TEST_CONV_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fs.h"
#include "base/log.h"
#include "format/safetensors.h"

#define CU_MAX_TENSORS 128

typedef struct cu_model {
    xllm_st_tensor t[CU_MAX_TENSORS];
    char names[CU_MAX_TENSORS][96];
    int n;
    uint64_t seed;
} cu_model;

static inline float cu_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* Add an F32 tensor of HF shape [rows, cols] (cols == 0: 1-D [rows]) with
 * values in [-0.5, 0.5) (norms: 1 +- 0.1) and a printf-style name. */
static inline void cu_add(cu_model *m, uint64_t rows, uint64_t cols, const char *fmt, int layer)
{
    xllm_st_tensor *t = &m->t[m->n];
    uint64_t n = rows * (cols ? cols : 1);
    float *d = xllm_malloc(n * sizeof *d);
    snprintf(m->names[m->n], sizeof m->names[0], fmt, layer);
    for (uint64_t i = 0; i < n; i++)
        d[i] = strstr(m->names[m->n], "norm") ? 1.0f + 0.1f * cu_rand(&m->seed) : 0.5f * cu_rand(&m->seed);
    memset(t, 0, sizeof *t);
    t->name = m->names[m->n];
    t->dtype = XLLM_DTYPE_F32;
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols ? cols : 1;
    t->data = d;
    t->nbytes = n * 4;
    m->n++;
}

static inline void cu_free(cu_model *m)
{
    for (int i = 0; i < m->n; i++)
        xllm_free((void *)m->t[i].data);
    m->n = 0;
}

/* Remove tensor `name` (to make a broken model). */
static inline void cu_drop(cu_model *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) {
            xllm_free((void *)m->t[i].data);
            for (int k = i; k + 1 < m->n; k++) {
                m->t[k] = m->t[k + 1];
                memcpy(m->names[k], m->names[k + 1], sizeof m->names[0]);
                m->t[k].name = m->names[k];
            }
            m->n--;
            return;
        }
}

static inline int cu_write_text(const char *dir, const char *name, const char *text)
{
    char *p = xllm_path_join(dir, name);
    FILE *f = p ? fopen(p, "wb") : NULL;
    int ok = f && fputs(text, f) >= 0;
    if (f)
        fclose(f);
    xllm_free(p);
    return ok;
}

static inline int cu_write_model(const char *dir, const cu_model *m, const char *config)
{
    char *p = xllm_path_join(dir, "model.safetensors");
    int ok = p && xllm_st_write(p, m->t, m->n, NULL, 0) == XLLM_OK && cu_write_text(dir, "config.json", config);
    xllm_free(p);
    return ok;
}

/* A fresh directory under /tmp (buf: at least 64 bytes). */
static inline int cu_mkdtemp(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/xllm-conv-XXXXXX");
    return mkdtemp(buf) != NULL;
}

static inline void cu_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *p;
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !(p = xllm_path_join(dir, e->d_name)))
            continue;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            cu_rm_tree(p);
        else
            unlink(p);
        xllm_free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Number of entries in dir whose name contains `part`. */
static inline int cu_count_entries(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Silence expected warnings (tiny models have no tokenizer); returns the
 * level to restore with xllm_log_set_level. */
static inline xllm_log_level cu_quiet(void)
{
    xllm_log_level prev = XLLM_LOG_ERROR;
    for (int l = XLLM_LOG_DEBUG; l <= XLLM_LOG_ERROR; l++)
        if (xllm_log_enabled((xllm_log_level)l)) {
            prev = (xllm_log_level)l;
            break;
        }
    xllm_log_set_level(XLLM_LOG_ERROR);
    return prev;
}

/* ---- tiny models, HF names written out ---- */

typedef struct cu_dims {
    int vocab, hidden, ff, layers, heads, kv_heads, head_dim;
} cu_dims;

/* llama / mistral / qwen2 / qwen3 / gemma2 / gemma3 layouts. */
enum { CU_LLAMA, CU_QWEN2, CU_QWEN3, CU_GEMMA2, CU_GEMMA3, CU_PHI3 };

static inline void cu_decoder(cu_model *m, int kind, cu_dims d, int tied)
{
    int q = d.heads * d.head_dim, kv = d.kv_heads * d.head_dim;
    cu_add(m, (uint64_t)d.vocab, (uint64_t)d.hidden, "model.embed_tokens.weight", 0);
    cu_add(m, (uint64_t)d.hidden, 0, "model.norm.weight", 0);
    if (!tied)
        cu_add(m, (uint64_t)d.vocab, (uint64_t)d.hidden, "lm_head.weight", 0);
    for (int l = 0; l < d.layers; l++) {
        cu_add(m, (uint64_t)d.hidden, 0, "model.layers.%d.input_layernorm.weight", l);
        cu_add(m, (uint64_t)d.hidden, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        if (kind == CU_PHI3) {
            cu_add(m, (uint64_t)(q + 2 * kv), (uint64_t)d.hidden, "model.layers.%d.self_attn.qkv_proj.weight", l);
            cu_add(m, (uint64_t)d.hidden, (uint64_t)q, "model.layers.%d.self_attn.o_proj.weight", l);
            cu_add(m, 2 * (uint64_t)d.ff, (uint64_t)d.hidden, "model.layers.%d.mlp.gate_up_proj.weight", l);
            cu_add(m, (uint64_t)d.hidden, (uint64_t)d.ff, "model.layers.%d.mlp.down_proj.weight", l);
            continue;
        }
        cu_add(m, (uint64_t)q, (uint64_t)d.hidden, "model.layers.%d.self_attn.q_proj.weight", l);
        cu_add(m, (uint64_t)kv, (uint64_t)d.hidden, "model.layers.%d.self_attn.k_proj.weight", l);
        cu_add(m, (uint64_t)kv, (uint64_t)d.hidden, "model.layers.%d.self_attn.v_proj.weight", l);
        cu_add(m, (uint64_t)d.hidden, (uint64_t)q, "model.layers.%d.self_attn.o_proj.weight", l);
        cu_add(m, (uint64_t)d.ff, (uint64_t)d.hidden, "model.layers.%d.mlp.gate_proj.weight", l);
        cu_add(m, (uint64_t)d.ff, (uint64_t)d.hidden, "model.layers.%d.mlp.up_proj.weight", l);
        cu_add(m, (uint64_t)d.hidden, (uint64_t)d.ff, "model.layers.%d.mlp.down_proj.weight", l);
        if (kind == CU_QWEN2) {
            cu_add(m, (uint64_t)q, 0, "model.layers.%d.self_attn.q_proj.bias", l);
            cu_add(m, (uint64_t)kv, 0, "model.layers.%d.self_attn.k_proj.bias", l);
            cu_add(m, (uint64_t)kv, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        }
        if (kind == CU_QWEN3 || kind == CU_GEMMA3) {
            cu_add(m, (uint64_t)d.head_dim, 0, "model.layers.%d.self_attn.q_norm.weight", l);
            cu_add(m, (uint64_t)d.head_dim, 0, "model.layers.%d.self_attn.k_norm.weight", l);
        }
        if (kind == CU_GEMMA2 || kind == CU_GEMMA3) {
            cu_add(m, (uint64_t)d.hidden, 0, "model.layers.%d.pre_feedforward_layernorm.weight", l);
            cu_add(m, (uint64_t)d.hidden, 0, "model.layers.%d.post_feedforward_layernorm.weight", l);
        }
    }
}

/* Byte equality of two safetensors tensors of the same name, shape and dtype. */
static inline int cu_same_tensor(const xllm_st_tensor *a, const xllm_st_tensor *b)
{
    if (!a || !b || a->dtype != b->dtype || a->n_dims != b->n_dims || a->nbytes != b->nbytes)
        return 0;
    for (uint32_t d = 0; d < a->n_dims; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return memcmp(a->data, b->data, a->nbytes) == 0;
}

#endif
