/* convert_gguf.c - any model container (HF view or GGUF) -> GGUF file:
 * per-tensor output types from convert_mix.c, rows converted in parallel on a
 * thread pool, tensor by tensor in bounded chunks through the streaming sink.
 * Also the `xllm convert` dispatcher (input kind x output kind). */
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fs.h"
#include "kernels/cpu/kernels.h"
#include "model/convert.h"
#include "model/hf.h"

/* Output bytes converted per pool run: bounds memory, keeps threads busy. */
#define CONV_CHUNK_BYTES (16u << 20)

typedef struct conv_job {
    const xllm_gguf *src;
    xllm_gguf_tensor *infos;   /* [n] output tensors (name borrowed from src) */
    int64_t n;
    xllm_pool *pool;
    int n_tasks;
    float **row_f32;           /* [n_tasks][max_row] scratch */
    unsigned char *chunk;      /* [CONV_CHUNK_BYTES or one row] */
    /* the chunk being converted */
    const xllm_gguf_tensor *in;
    uint32_t out_dtype;
    uint64_t row_len, in_row_bytes, out_row_bytes, row0, n_rows;
    int failed;                /* set by a task; read after the pool run */
    const xllm_convert_opts *o;
} conv_job;

static void convert_task(void *ctx, int task, int n_tasks)
{
    conv_job *j = ctx;
    uint64_t per = (j->n_rows + (uint64_t)n_tasks - 1) / (uint64_t)n_tasks;
    uint64_t a = per * (uint64_t)task, b = a + per < j->n_rows ? a + per : j->n_rows;
    for (uint64_t r = a; r < b; r++) {
        const unsigned char *in = (const unsigned char *)j->in->data + (j->row0 + r) * j->in_row_bytes;
        unsigned char *out = j->chunk + r * j->out_row_bytes;
        if (j->in->dtype == j->out_dtype) {
            memcpy(out, in, j->out_row_bytes);
            continue;
        }
        if (xllm_dequantize_row(j->in->dtype, in, j->row_f32[task], (int64_t)j->row_len) != XLLM_OK ||
            xllm_quantize_row(j->out_dtype, j->row_f32[task], out, (int64_t)j->row_len) != XLLM_OK)
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
    }
}

static void print_shape(char *buf, size_t cap, const xllm_gguf_tensor *t)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < t->n_dims && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%llu", d ? " x " : "", (unsigned long long)t->ne[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

static xllm_status fill_tensor(void *ctx, int64_t i, FILE *f)
{
    conv_job *j = ctx;
    const xllm_gguf_tensor *in = xllm_gguf_tensor_at(j->src, i);
    const xllm_gguf_tensor *out = &j->infos[i];
    uint64_t rows = in->ne[1] * in->ne[2] * in->ne[3], per_chunk;
    int ok = 1;
    if (j->o->test_fail_after > 0 && i >= j->o->test_fail_after)
        return xllm_fail(XLLM_ERR_CANCELLED, "conversion interrupted (test hook) before tensor '%s'", in->name);
    j->in = in;
    j->out_dtype = out->dtype;
    j->row_len = in->ne[0];
    j->in_row_bytes = xllm_dtype_row_bytes(in->dtype, in->ne[0], &ok);
    j->out_row_bytes = xllm_dtype_row_bytes(out->dtype, in->ne[0], &ok);
    per_chunk = j->out_row_bytes ? CONV_CHUNK_BYTES / j->out_row_bytes : 1;
    if (per_chunk == 0)
        per_chunk = 1;
    if (j->o->progress) {
        char shape[96];
        print_shape(shape, sizeof shape, in);
        fprintf(stderr, "[%4lld/%4lld] %-36s %-5s -> %-5s %s\n", (long long)i + 1, (long long)j->n, in->name,
                xllm_dtype_name(in->dtype), xllm_dtype_name(out->dtype), shape);
    }
    for (uint64_t r = 0; r < rows; r += per_chunk) {
        j->row0 = r;
        j->n_rows = rows - r < per_chunk ? rows - r : per_chunk;
        j->failed = 0;
        xllm_pool_run(j->pool, convert_task, j, j->n_tasks);
        if (j->failed)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: tensor '%s': cannot convert %s to %s",
                             xllm_gguf_path(j->src), in->name, xllm_dtype_name(in->dtype),
                             xllm_dtype_name(out->dtype));
        if (fwrite(j->chunk, 1, j->n_rows * j->out_row_bytes, f) != j->n_rows * j->out_row_bytes)
            return xllm_fail(XLLM_ERR_IO, "writing tensor '%s' failed", in->name);
    }
    return XLLM_OK;
}

/* The output types and sizes; NULL-safe cleanup by the caller. */
static xllm_status plan(conv_job *j, const xllm_ftype_info *ft, uint64_t *max_row, uint64_t *max_chunk)
{
    xllm_mix_counts mc;
    xllm_mix_count(j->src, &mc);
    *max_row = 1;
    *max_chunk = 1;
    for (int64_t i = 0; i < j->n; i++) {
        const xllm_gguf_tensor *in = xllm_gguf_tensor_at(j->src, i);
        xllm_gguf_tensor *out = &j->infos[i];
        uint64_t row;
        int ok = 1;
        *out = *in;
        out->data = NULL;
        out->dtype = xllm_convert_tensor_type(ft, &mc, in->name, in->n_dims, in->ne);
        if (out->dtype != in->dtype && !xllm_can_quantize(out->dtype))
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "tensor '%s': no quantizer for %s", in->name,
                             xllm_dtype_name(out->dtype));
        row = xllm_dtype_row_bytes(out->dtype, in->ne[0], &ok);
        if (!ok || row == 0)
            return xllm_fail(XLLM_ERR_FORMAT, "%s: tensor '%s': row of %llu elements does not fit %s",
                             xllm_gguf_path(j->src), in->name, (unsigned long long)in->ne[0],
                             xllm_dtype_name(out->dtype));
        out->nbytes = row * in->ne[1] * in->ne[2] * in->ne[3];
        if (in->ne[0] > *max_row)
            *max_row = in->ne[0];
        row = out->nbytes < CONV_CHUNK_BYTES ? out->nbytes : row > CONV_CHUNK_BYTES ? row : CONV_CHUNK_BYTES;
        if (row > *max_chunk) /* a chunk: up to CONV_CHUNK_BYTES of whole rows, or one row */
            *max_chunk = row;
    }
    return XLLM_OK;
}

static const xllm_ftype_info *default_ftype(const xllm_gguf *src)
{
    for (int64_t i = 0; i < xllm_gguf_n_tensors(src); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(src, i);
        if (t->n_dims >= 2)
            return xllm_ftype_find(t->dtype == XLLM_DTYPE_BF16 ? "bf16" : "f16");
    }
    return xllm_ftype_find("f16");
}

static xllm_status copy_metadata(const xllm_gguf *src, const xllm_ftype_info *ft, xllm_gguf **out)
{
    xllm_gguf *g = NULL;
    xllm_status st = xllm_gguf_new(&g);
    for (int64_t i = 0; st == XLLM_OK && i < xllm_gguf_n_kv(src); i++) {
        const char *k = xllm_gguf_key(src, i);
        if (strcmp(k, "general.file_type") && strcmp(k, "general.quantization_version"))
            st = xllm_gguf_copy_kv(g, src, i);
    }
    if (st == XLLM_OK)
        st = xllm_gguf_set_u32(g, "general.quantization_version", 2);
    if (st == XLLM_OK)
        st = xllm_gguf_set_u32(g, "general.file_type", ft->llama_ftype);
    if (st != XLLM_OK) {
        xllm_gguf_close(g);
        return st;
    }
    *out = g;
    return XLLM_OK;
}

xllm_status xllm_convert_to_gguf(const xllm_gguf *src, const char *path, const xllm_convert_opts *o)
{
    static const xllm_convert_opts defaults;
    const xllm_ftype_info *ft;
    conv_job j;
    xllm_gguf *meta = NULL;
    uint64_t max_row = 1, max_chunk = 0;
    xllm_status st;
    memset(&j, 0, sizeof j);
    j.o = o ? o : &defaults;
    j.src = src;
    j.n = xllm_gguf_n_tensors(src);
    ft = j.o->type ? xllm_ftype_find(j.o->type) : default_ftype(src);
    if (!ft)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "unknown --type '%s' (use one of: %s)", j.o->type,
                         xllm_ftype_names());
    if ((st = xllm_kernels_init()) != XLLM_OK)
        return st;
    if (j.n > 0 && !(j.infos = xllm_calloc((size_t)j.n, sizeof *j.infos))) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    if ((st = plan(&j, ft, &max_row, &max_chunk)) != XLLM_OK)
        goto out;
    if ((st = xllm_pool_create(j.o->n_threads, &j.pool)) != XLLM_OK)
        goto out;
    j.n_tasks = xllm_pool_size(j.pool);
    j.row_f32 = xllm_calloc((size_t)j.n_tasks, sizeof *j.row_f32);
    j.chunk = xllm_malloc(max_chunk);
    if (!j.row_f32 || !j.chunk) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    for (int t = 0; t < j.n_tasks; t++)
        if (!(j.row_f32[t] = xllm_malloc(max_row * sizeof(float)))) {
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
            goto out;
        }
    if ((st = copy_metadata(src, ft, &meta)) != XLLM_OK)
        goto out;
    st = xllm_conv_write_gguf(meta, j.infos, j.n, fill_tensor, &j, path); /* closes meta */
out:
    for (int t = 0; j.row_f32 && t < j.n_tasks; t++)
        xllm_free(j.row_f32[t]);
    xllm_free(j.row_f32);
    xllm_free(j.chunk);
    xllm_free(j.infos);
    if (j.pool)
        xllm_pool_destroy(j.pool);
    return st;
}

static int ends_with_gguf(const char *s)
{
    size_t n = strlen(s);
    return n >= 5 && !strcasecmp(s + n - 5, ".gguf");
}

xllm_status xllm_convert(const char *in, const char *out, const xllm_convert_opts *o)
{
    xllm_gguf *src = NULL;
    xllm_status st;
    if (xllm_hf_is_model_dir(in))
        st = xllm_hf_open(in, &src);
    else if (xllm_is_dir(in))
        return xllm_fail(XLLM_ERR_NOT_FOUND, "%s: a directory without config.json (not a Hugging Face model)", in);
    else
        st = xllm_gguf_open(in, &src);
    if (st != XLLM_OK)
        return st;
    if (ends_with_gguf(out))
        st = xllm_convert_to_gguf(src, out, o);
    else
        st = xllm_convert_to_hf(src, out, o);
    xllm_gguf_close(src);
    return st;
}
