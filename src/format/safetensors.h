/* safetensors.h - Hugging Face safetensors files: open one file, a byte
 * buffer, or a model directory (single model.safetensors or shards listed by
 * model.safetensors.index.json) as one read-only set of tensors over mmaps;
 * and write a file atomically in the layout transformers loads.
 *
 * File layout (little-endian):
 *   off     size  field
 *   0       8     N = length of the JSON header (u64); at most XLLM_MAX_SAFETENSORS_HEADER
 *   8       N     JSON header, UTF-8, starts with '{'; writers pad it with spaces
 *                 so that 8 + N is a multiple of 8
 *   8+N     ...   data region; a tensor's bytes are [8+N+begin, 8+N+end)
 * Header: {"__metadata__": {"format": "pt", ...string: string},
 *          "<name>": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ...}
 *   dtype: F64 F32 F16 BF16 I64 I32 I16 I8 (mapped to xllm_dtype) and U8 BOOL U16
 *   U32 U64 F8_E4M3 F8_E5M2 (accepted as XLLM_ST_DTYPE_OTHER); others are refused.
 *   shape is row-major, shape[0] outermost; end - begin == prod(shape) * element size.
 * Sharded directory: model.safetensors.index.json = {"weight_map": {"<name>": "<shard file>"}}
 *   with shard files (plain names, no '/') in the same directory.
 *
 * Ownership: xllm_st_close frees the set, its names and its mappings; tensor
 * pointers and data live until then. Threading: concurrent readers are fine. */
#ifndef XLLM_FORMAT_SAFETENSORS_H
#define XLLM_FORMAT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/status.h"

/* dtype of a tensor whose safetensors type has no xllm_dtype (U8, BOOL, F8...). */
#define XLLM_ST_DTYPE_OTHER 0xffffffffu

typedef struct xllm_st_tensor {
    const char *name;     /* NUL-terminated */
    uint32_t dtype;       /* xllm_dtype (F32, F16, BF16, F64, I64, I32, I16, I8) or XLLM_ST_DTYPE_OTHER */
    uint32_t n_dims;      /* 0..XLLM_MAX_DIMS (0: a scalar) */
    uint64_t shape[XLLM_MAX_DIMS]; /* safetensors order: shape[0] outermost, shape[n_dims-1] contiguous; unused = 1 */
    const void *data;     /* [nbytes], in the mapping */
    uint64_t nbytes;      /* prod(shape) * elem_size */
    const char *st_dtype; /* the file's dtype string ("F32", "U8"...); static */
    uint32_t elem_size;   /* bytes per element */
    uint32_t file;        /* index of the file (shard) it lives in */
} xllm_st_tensor;

typedef struct xllm_st_set xllm_st_set;

/* One .safetensors file. Errors name the file and the problem. */
xllm_status xllm_st_open_file(const char *path, xllm_st_set **out);
/* A directory with model.safetensors.index.json (sharded) or model.safetensors.
 * A path to a regular file is opened as with xllm_st_open_file. */
xllm_status xllm_st_open_dir(const char *dir, xllm_st_set **out);
/* Parse a buffer the caller keeps alive while the set is used (fuzzing, tests). */
xllm_status xllm_st_open_memory(const void *data, size_t size, const char *name, xllm_st_set **out);
void xllm_st_close(xllm_st_set *s);

/* Tensors sorted by name. find returns NULL when absent. */
int64_t xllm_st_n_tensors(const xllm_st_set *s);
const xllm_st_tensor *xllm_st_tensor_at(const xllm_st_set *s, int64_t i);
const xllm_st_tensor *xllm_st_find(const xllm_st_set *s, const char *name);

/* Files of the set (one, or one per shard) by index. */
int64_t xllm_st_n_files(const xllm_st_set *s);
const char *xllm_st_file_path(const xllm_st_set *s, int64_t i);

/* __metadata__ string map (of all shards; the first shard wins a repeated key). */
int64_t xllm_st_n_meta(const xllm_st_set *s);
const char *xllm_st_meta_key(const xllm_st_set *s, int64_t i);
const char *xllm_st_meta_value(const xllm_st_set *s, int64_t i);
const char *xllm_st_meta_get(const xllm_st_set *s, const char *key); /* NULL when absent */

/* Element size and name of an xllm_dtype in safetensors (0 / NULL when it has none). */
uint32_t xllm_st_dtype_size(uint32_t dtype);
const char *xllm_st_dtype_name(uint32_t dtype);

/* Write a safetensors file atomically. Each tensor needs name, dtype (one of
 * the mapped xllm_dtypes, or XLLM_ST_DTYPE_OTHER with st_dtype and elem_size
 * set), n_dims, shape, data and nbytes == prod(shape) * element size; data is
 * written in the order given. meta holds n_meta (key, value) pairs as 2*n_meta
 * strings; "format": "pt" is added unless meta has a "format" key. */
xllm_status xllm_st_write(const char *path, const xllm_st_tensor *tensors, int64_t n, const char *const *meta,
                          int64_t n_meta);

#endif
