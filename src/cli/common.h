/* common.h - pieces several CLI commands share: opening a model path (a GGUF
 * file or a Hugging Face directory) as a GGUF container, opening a session plus
 * its tokenizer, what a container's tensors are (types, bytes), reporting a
 * failed status, and printing floats exactly. */
#ifndef XLLM_CLI_COMMON_H
#define XLLM_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "base/dtype.h"
#include "base/status.h"
#include "engine/session.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

/* path is a directory -> Hugging Face view; else a GGUF file. */
xllm_status cli_open_container(const char *path, xllm_gguf **out);

/* A loaded model with its tokenizer (tok is NULL when the model has none),
 * and what the reports say about it. */
typedef struct cli_model {
    xllm_session *session;
    xllm_tokenizer *tok;
    double load_seconds;
    const char *arch, *quant; /* architecture name, cli_dominant_dtype */
    uint64_t model_bytes;     /* tensor data bytes */
} cli_model;

xllm_status cli_model_open(const char *path, int n_threads, int n_ctx, int need_tokenizer, cli_model *m);
/* The same with the KV cache in kv_type (xllm_kv_type; cli_model_open: f16). */
xllm_status cli_model_open_kv(const char *path, int n_threads, int n_ctx, int32_t kv_type, int need_tokenizer,
                              cli_model *m);
void cli_model_close(cli_model *m);

/* Tensor statistics of a container: count per dtype, parameters, data bytes. */
typedef struct cli_tensor_stats {
    int type_counts[XLLM_DTYPE_COUNT];
    uint64_t n_params, n_bytes;
} cli_tensor_stats;
void cli_tensor_stats_get(const xllm_gguf *g, cli_tensor_stats *ts);
/* The most common tensor type other than F32 ("Q4_0"), else "F32" or "none". */
const char *cli_dominant_dtype(const cli_tensor_stats *ts);

/* The option-table rows the model commands share (args.h's xllm_opt). */
#define CLI_OPT_THREADS(var) {"threads", XLLM_OPT_INT, &(var), "compute threads (default: one per CPU)"}
#define CLI_OPT_CTX(var) {"ctx", XLLM_OPT_INT, &(var), "context length (default: the model's, at most 4096)"}
#define CLI_OPT_DEVICE(var) {"device", XLLM_OPT_STR, &(var), "cpu (default), cuda, cuda:N or auto (the CUDA plugin when present); null: no compute (benchmarks)"}
#define CLI_OPT_KV_TYPE(var) {"kv-type", XLLM_OPT_STR, &(var), "KV cache element type: f16 (default), q8_0, f32"}

/* "f16" | "q8_0" | "f32" (NULL: f16) -> xllm_kv_type. */
xllm_status cli_kv_type_parse(const char *name, int32_t *kv_type);

/* Print "xllm CMD: <last error>" to stderr and return 1. */
int cli_error(const char *cmd, xllm_status st);

/* Shortest decimal that reads back to the same float ("%.9g", NaN/inf as null). */
void cli_print_float(FILE *f, float v);

#endif
