/* ref_check.c - see ref_check.h. */
#include "ref_check.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/dtype.h"
#include "engine/cpu_engine.h"
#include "kernels/cpu/kernels.h"
#include "model/model.h"

/* Read a raw little-endian f32 file of exactly n floats. */
static float *read_f32(const char *dir, const char *name, size_t n)
{
    char *path = xllm_path_join(dir, name), *data = NULL;
    size_t len = 0;
    float *out = NULL;
    if (path && xllm_read_file(path, 1u << 30, &data, &len) == XLLM_OK && len == n * sizeof(float)) {
        out = malloc(n * sizeof(float));
        if (out)
            memcpy(out, data, n * sizeof(float));
    } else {
        fprintf(stderr, "  ref_check: %s: missing or not %zu floats (%zu bytes)\n", path ? path : name, n, len);
    }
    xllm_free(path);
    xllm_free(data);
    return out;
}

static double rel_l2(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        if (!isfinite(a[i]))
            return INFINITY;
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static int read_tokens(json_t *c, int32_t **tok, int32_t *n)
{
    json_t *t = json_object_get(c, "tokens");
    *n = (int32_t)json_array_size(t);
    *tok = malloc(sizeof(int32_t) * (size_t)(*n ? *n : 1));
    if (!*tok || *n < 1)
        return -1;
    for (int32_t i = 0; i < *n; i++)
        (*tok)[i] = (int32_t)json_integer_value(json_array_get(t, (size_t)i));
    return 0;
}

/* One forward over the whole case as one sequence. */
static double run_case(const xllm_model *m, const char *dir, json_t *cs, int32_t kv_type)
{
    xllm_cpu_params p = xllm_cpu_params_default();
    xllm_cpu_ctx *ctx = NULL;
    int32_t *tok = NULL, *pos = NULL, *seq = NULL, *blocks = NULL, n = 0, nb;
    float *out = NULL, *ref = NULL;
    double err = -1;
    int enc = xllm_model_is_encoder(m);
    int64_t D = m->hp.n_embd, V = m->hp.n_vocab;
    if (read_tokens(cs, &tok, &n))
        goto out;
    nb = (n + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    pos = calloc((size_t)n, sizeof *pos);
    seq = calloc((size_t)n, sizeof *seq);
    blocks = calloc((size_t)nb, sizeof *blocks);
    out = calloc((size_t)n * (size_t)(enc ? D : V), sizeof *out);
    if (!pos || !seq || !blocks || !out)
        goto out;
    for (int32_t i = 0; i < n; i++)
        pos[i] = i;
    for (int32_t i = 0; i < nb; i++)
        blocks[i] = nb - 1 - i; /* any order: blocks are just ids */
    p.n_blocks = enc ? 0 : nb;
    p.max_batch_tokens = n;
    p.kv_type = kv_type;
    for (int pass = 0; pass < (enc ? 2 : 1); pass++) {
        const char *file = json_string_value(json_object_get(cs, enc && pass ? "hidden_file" : enc ? "embedding_file"
                                                                                                 : "logits_file"));
        size_t count = enc ? (size_t)(pass ? n : 1) * (size_t)D : (size_t)n * (size_t)V;
        const int32_t *tables[1] = {blocks};
        xllm_batch b = {sizeof b, n, tok, pos, seq, 1, tables, &nb, NULL, NULL, NULL};
        double e;
        if (!file)
            continue;
        p.pooling = enc && pass ? XLLM_POOLING_NONE : -1;
        p.normalize = 1;
        if (xllm_cpu_ctx_create(m, &p, &ctx) != XLLM_OK) {
            fprintf(stderr, "  ref_check: context: %s\n", xllm_last_error());
            goto out;
        }
        if (enc)
            b.embeddings = out;
        else
            b.logits = out;
        if (xllm_cpu_forward(ctx, &b) != XLLM_OK) {
            fprintf(stderr, "  ref_check: forward: %s\n", xllm_last_error());
            goto out;
        }
        xllm_cpu_ctx_free(ctx);
        ctx = NULL;
        free(ref);
        if (!(ref = read_f32(dir, file, count)))
            goto out;
        e = rel_l2(out, ref, count);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  %s %s (%d tokens): rel L2 %.3g\n", dir, file, n, e);
        err = e > err ? e : err;
    }
out:
    xllm_cpu_ctx_free(ctx);
    free(tok);
    free(pos);
    free(seq);
    free(blocks);
    free(out);
    free(ref);
    return err;
}

double ref_check_logits(const char *fixture_dir, const xllm_gguf *g)
{
    return ref_check_logits_kv(fixture_dir, g, XLLM_KV_F32);
}

double ref_check_logits_kv(const char *fixture_dir, const xllm_gguf *g, int32_t kv_type)
{
    char *path = xllm_path_join(fixture_dir, "reference.json");
    json_error_t jerr;
    json_t *root = path ? json_load_file(path, 0, &jerr) : NULL;
    json_t *cases = json_object_get(root, "cases");
    xllm_model *m = NULL;
    double worst = 0;
    if (!json_is_array(cases) || json_array_size(cases) == 0) {
        fprintf(stderr, "  ref_check: %s: no cases\n", path ? path : fixture_dir);
        worst = -1;
        goto out;
    }
    if (xllm_model_load(g, NULL, &m) != XLLM_OK) {
        fprintf(stderr, "  ref_check: %s: load: %s\n", fixture_dir, xllm_last_error());
        worst = -1;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(cases); i++) {
        double e = run_case(m, fixture_dir, json_array_get(cases, i), kv_type);
        if (e < 0) {
            worst = -1;
            goto out;
        }
        worst = e > worst ? e : worst;
    }
out:
    xllm_model_free(m);
    if (root)
        json_decref(root);
    xllm_free(path);
    return worst;
}

/* Convert one 2-D tensor row by row into a new owned buffer. */
static int convert_tensor(xllm_gguf *dst, const xllm_gguf_tensor *t, uint32_t dtype)
{
    int ok = 0;
    uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    uint64_t src_rb = xllm_dtype_row_bytes(t->dtype, t->ne[0], &ok);
    uint64_t dst_rb = ok ? xllm_dtype_row_bytes(dtype, t->ne[0], &ok) : 0;
    float *row = ok ? malloc(sizeof(float) * (size_t)t->ne[0]) : NULL;
    unsigned char *out = ok ? xllm_malloc((size_t)(dst_rb * rows)) : NULL;
    int rc = -1;
    if (!row || !out)
        goto done;
    for (uint64_t r = 0; r < rows; r++)
        if (xllm_dequantize_row(t->dtype, (const unsigned char *)t->data + r * src_rb, row, (int64_t)t->ne[0]) ||
            xllm_quantize_row(dtype, row, out + r * dst_rb, (int64_t)t->ne[0]))
            goto done;
    rc = xllm_gguf_add_tensor_owned(dst, t->name, dtype, t->n_dims, t->ne, out, dst_rb * rows) == XLLM_OK ? 0 : -1;
    out = NULL; /* owned by dst now, also on failure */
done:
    free(row);
    xllm_free(out);
    return rc;
}

xllm_gguf *ref_convert_copy(const xllm_gguf *src, uint32_t dtype, int *n_converted)
{
    xllm_gguf *dst = NULL;
    const xllm_dtype_info *di = xllm_dtype_get(dtype);
    int n = 0;
    if (!di || xllm_gguf_new(&dst) != XLLM_OK)
        return NULL;
    for (int64_t i = 0; i < xllm_gguf_n_kv(src); i++)
        if (xllm_gguf_copy_kv(dst, src, i) != XLLM_OK)
            goto fail;
    for (int64_t i = 0; i < xllm_gguf_n_tensors(src); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(src, i);
        if (t->n_dims >= 2 && t->ne[0] % di->block_elems == 0 && t->dtype != dtype) {
            if (convert_tensor(dst, t, dtype))
                goto fail;
            n++;
        } else if (xllm_gguf_add_tensor(dst, t->name, t->dtype, t->n_dims, t->ne, t->data, t->nbytes) != XLLM_OK) {
            goto fail;
        }
    }
    if (n_converted)
        *n_converted = n;
    return dst;
fail:
    fprintf(stderr, "  ref_convert_copy: %s\n", xllm_last_error());
    xllm_gguf_close(dst);
    return NULL;
}
