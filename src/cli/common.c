/* common.c - shared CLI helpers: model opening, tensor statistics, error reporting. */
#include "cli/common.h"

#include <math.h>
#include <string.h>

#include "base/fs.h"
#include "base/sysinfo.h"
#include "model/hf.h"

xllm_status cli_open_container(const char *path, xllm_gguf **out)
{
    if (xllm_is_dir(path))
        return xllm_hf_open(path, out);
    return xllm_gguf_open(path, out);
}

xllm_status cli_model_open(const char *path, int n_threads, int n_ctx, int need_tokenizer, cli_model *m)
{
    return cli_model_open_kv(path, n_threads, n_ctx, XLLM_KV_F16, need_tokenizer, m);
}

xllm_status cli_model_open_kv(const char *path, int n_threads, int n_ctx, int32_t kv_type, int need_tokenizer,
                              cli_model *m)
{
    xllm_status st;
    xllm_session_params sp = xllm_session_params_default();
    double t0 = xllm_now();
    m->session = NULL;
    m->tok = NULL;
    sp.n_threads = n_threads;
    sp.n_ctx = n_ctx;
    sp.kv_type = kv_type;
    st = xllm_session_open_ex(path, &sp, &m->session);
    if (st != XLLM_OK)
        return st;
    m->load_seconds = xllm_now() - t0;
    {
        cli_tensor_stats ts;
        cli_tensor_stats_get(xllm_session_gguf(m->session), &ts);
        m->model_bytes = ts.n_bytes;
        m->quant = cli_dominant_dtype(&ts);
        m->arch = xllm_session_model(m->session)->hp.arch->name;
    }
    st = xllm_tokenizer_load(xllm_session_gguf(m->session), &m->tok);
    if (st != XLLM_OK && need_tokenizer) {
        xllm_fail_wrap(st, "%s: the model has no usable tokenizer", path);
        cli_model_close(m);
        return st;
    }
    xllm_clear_error();
    return XLLM_OK;
}

void cli_model_close(cli_model *m)
{
    xllm_tokenizer_free(m->tok);
    xllm_session_close(m->session);
    m->tok = NULL;
    m->session = NULL;
}

void cli_tensor_stats_get(const xllm_gguf *g, cli_tensor_stats *ts)
{
    memset(ts, 0, sizeof *ts);
    for (int64_t i = 0; i < xllm_gguf_n_tensors(g); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(g, i);
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            n *= t->ne[d];
        ts->n_params += n;
        ts->n_bytes += t->nbytes;
        if (t->dtype < XLLM_DTYPE_COUNT)
            ts->type_counts[t->dtype]++;
    }
}

const char *cli_dominant_dtype(const cli_tensor_stats *ts)
{
    int best = -1;
    for (int t = 0; t < XLLM_DTYPE_COUNT; t++)
        if (t != XLLM_DTYPE_F32 && ts->type_counts[t] && (best < 0 || ts->type_counts[t] > ts->type_counts[best]))
            best = t;
    return best < 0 ? (ts->type_counts[XLLM_DTYPE_F32] ? "F32" : "none") : xllm_dtype_name((uint32_t)best);
}

int cli_error(const char *cmd, xllm_status st)
{
    const char *msg = xllm_last_error();
    fprintf(stderr, "xllm %s: %s\n", cmd, msg[0] ? msg : xllm_status_str(st));
    return 1;
}

void cli_print_float(FILE *f, float v)
{
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, "%.9g", (double)v);
}

xllm_status cli_kv_type_parse(const char *name, int32_t *kv_type)
{
    *kv_type = name ? xllm_kv_type_parse(name) : XLLM_KV_F16;
    if (*kv_type < 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "--kv-type %s: expected f16, q8_0 or f32", name);
    return XLLM_OK;
}
