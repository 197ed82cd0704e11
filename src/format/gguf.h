/* gguf.h - GGUF v2/v3 files: one in-memory container used for reading (values
 * point into the read-only mmap), for building (values owned by the container)
 * and for writing (atomic: "<path>.partial" then rename).
 *
 * File layout (little-endian):
 *   off  size  field
 *   0    4     magic "GGUF"
 *   4    4     version (2 or 3; v1 is refused)
 *   8    8     n_tensors (u64)
 *   16   8     n_kv (u64)
 *   24   ...   n_kv metadata entries: string key, u32 value type, value
 *   ...  ...   n_tensors infos: string name, u32 n_dims, u64 ne[n_dims], u32 dtype, u64 offset
 *   ...  pad   to general.alignment (default 32)
 *   ...  ...   tensor data; each tensor at data_start + offset (offset aligned)
 *   string = u64 length + bytes (no NUL); array = u32 elem type + u64 count + elems
 *
 * Ownership: xllm_gguf_close frees everything, including the mapping; pointers
 * returned by getters live until then. A container built in memory borrows the
 * data of tensors added with xllm_gguf_add_tensor (caller keeps it alive until
 * the write) and owns data added with xllm_gguf_add_tensor_owned. Building
 * calls (set/remove/add_tensor) may move the structs that getters returned
 * (value views, tensor infos): look them up again afterwards; the bytes they
 * point to stay put.
 * Threading: concurrent readers are fine; building is single-threaded. */
#ifndef XLLM_FORMAT_GGUF_H
#define XLLM_FORMAT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "base/status.h"

typedef enum xllm_gguf_type {
    XLLM_GGUF_UINT8 = 0,
    XLLM_GGUF_INT8 = 1,
    XLLM_GGUF_UINT16 = 2,
    XLLM_GGUF_INT16 = 3,
    XLLM_GGUF_UINT32 = 4,
    XLLM_GGUF_INT32 = 5,
    XLLM_GGUF_FLOAT32 = 6,
    XLLM_GGUF_BOOL = 7,
    XLLM_GGUF_STRING = 8,
    XLLM_GGUF_ARRAY = 9,
    XLLM_GGUF_UINT64 = 10,
    XLLM_GGUF_INT64 = 11,
    XLLM_GGUF_FLOAT64 = 12,
    XLLM_GGUF_TYPE_COUNT
} xllm_gguf_type;

typedef struct xllm_str {
    const char *ptr; /* not NUL-terminated in general */
    uint64_t len;
} xllm_str;

typedef struct xllm_gguf_tensor {
    const char *name;        /* NUL-terminated copy */
    uint32_t dtype;          /* xllm_dtype */
    uint32_t n_dims;         /* 1..XLLM_MAX_DIMS */
    uint64_t ne[XLLM_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint64_t offset;         /* from the start of the data section (file) */
    uint64_t nbytes;
    const void *data;        /* [nbytes], in the mapping or in memory */
} xllm_gguf_tensor;

typedef struct xllm_gguf xllm_gguf;

/* A view of one metadata value (also used to pass a value to
 * xllm_gguf_set_value). Lives as long as the container; building calls may
 * move it (look it up again after set/remove). */
typedef struct xllm_gguf_value {
    xllm_gguf_type type;
    unsigned char scalar[8];  /* numeric/bool scalar: its little-endian bytes, zero-padded */
    xllm_str str;             /* STRING */
    xllm_gguf_type arr_type;  /* ARRAY: element type */
    uint64_t count;           /* ARRAY: element count */
    const void *arr_data;     /* ARRAY of numbers/bools: [count * element size] raw bytes */
    const xllm_str *arr_strs; /* ARRAY of STRING: [count] */
    const struct xllm_gguf_value *arr_sub; /* ARRAY of ARRAY: [count] */
} xllm_gguf_value;

/* Reading. Every offset, count and length is checked against the file; errors
 * name the file and what is wrong ("m.gguf: tensor 'blk.0.attn_q.weight' data
 * [offset 123, 4096 bytes] runs past the end of the file (size 2000)"). */
xllm_status xllm_gguf_open(const char *path, xllm_gguf **out);
/* Parse a buffer (the caller keeps it alive while the container is used);
 * name is used in error messages. Used by the fuzz target. */
xllm_status xllm_gguf_open_memory(const void *data, size_t size, const char *name, xllm_gguf **out);
/* Building: an empty v3 container. */
xllm_status xllm_gguf_new(xllm_gguf **out);
void xllm_gguf_close(xllm_gguf *g);

uint32_t xllm_gguf_version(const xllm_gguf *g);
uint64_t xllm_gguf_alignment(const xllm_gguf *g);
const char *xllm_gguf_path(const xllm_gguf *g); /* file path or the name given */

/* Metadata. Keys are NUL-terminated. find returns the index or -1. */
int64_t xllm_gguf_n_kv(const xllm_gguf *g);
const char *xllm_gguf_key(const xllm_gguf *g, int64_t i);
int64_t xllm_gguf_find(const xllm_gguf *g, const char *key);
xllm_gguf_type xllm_gguf_kv_type(const xllm_gguf *g, int64_t i);

/* Typed getters by key. Integer getters accept any integer type whose value
 * fits (and bool); f32 accepts f32/f64 and integers. They return
 * XLLM_ERR_NOT_FOUND when the key is absent (no message set) and
 * XLLM_ERR_FORMAT with a message when the type does not fit. */
xllm_status xllm_gguf_get_u32(const xllm_gguf *g, const char *key, uint32_t *out);
xllm_status xllm_gguf_get_i64(const xllm_gguf *g, const char *key, int64_t *out);
xllm_status xllm_gguf_get_f32(const xllm_gguf *g, const char *key, float *out);
xllm_status xllm_gguf_get_bool(const xllm_gguf *g, const char *key, int *out);
xllm_status xllm_gguf_get_str(const xllm_gguf *g, const char *key, xllm_str *out);
/* Heap copy (NUL-terminated, xllm_free) of a string value; NULL if absent/not a string. */
char *xllm_gguf_dup_str(const xllm_gguf *g, const char *key);

/* Arrays. arr_type is the element type (XLLM_GGUF_ARRAY for nested arrays).
 * arr_data gives the raw little-endian elements of a numeric array (count *
 * element size bytes; may be unaligned: read with memcpy). arr_str gives the
 * j-th string of a string array. arr_get_f64 converts any numeric element. */
xllm_status xllm_gguf_get_arr(const xllm_gguf *g, const char *key, xllm_gguf_type *arr_type, uint64_t *count);
const void *xllm_gguf_arr_data(const xllm_gguf *g, int64_t i);
xllm_str xllm_gguf_arr_str(const xllm_gguf *g, int64_t i, uint64_t j);
double xllm_gguf_arr_get_f64(const xllm_gguf *g, int64_t i, uint64_t j);

/* Tensors. */
int64_t xllm_gguf_n_tensors(const xllm_gguf *g);
const xllm_gguf_tensor *xllm_gguf_tensor_at(const xllm_gguf *g, int64_t i);
const xllm_gguf_tensor *xllm_gguf_find_tensor(const xllm_gguf *g, const char *name);

/* Building: set replaces an existing key of that name. */
xllm_status xllm_gguf_set_u32(xllm_gguf *g, const char *key, uint32_t v);
xllm_status xllm_gguf_set_i32(xllm_gguf *g, const char *key, int32_t v);
xllm_status xllm_gguf_set_u64(xllm_gguf *g, const char *key, uint64_t v);
xllm_status xllm_gguf_set_f32(xllm_gguf *g, const char *key, float v);
xllm_status xllm_gguf_set_bool(xllm_gguf *g, const char *key, int v);
xllm_status xllm_gguf_set_str(xllm_gguf *g, const char *key, const char *v);
/* Numeric array of count elements of elem_type (copied). */
xllm_status xllm_gguf_set_arr(xllm_gguf *g, const char *key, xllm_gguf_type elem_type, const void *data, uint64_t count);
/* String array (each string copied; lens[j] may be NULL-terminated length). */
xllm_status xllm_gguf_set_arr_str(xllm_gguf *g, const char *key, const char *const *strs, const uint64_t *lens, uint64_t count);
/* Copy a key (any type, arrays included) from another container. */
xllm_status xllm_gguf_copy_kv(xllm_gguf *dst, const xllm_gguf *src, int64_t i);
xllm_status xllm_gguf_remove(xllm_gguf *g, const char *key);

/* Add a tensor. ne[0] is the row length. data must hold exactly the dtype's
 * row bytes * rows. add_tensor borrows data; add_tensor_owned takes ownership
 * of a buffer from xllm_malloc (freed by close, also on failure). */
xllm_status xllm_gguf_add_tensor(xllm_gguf *g, const char *name, uint32_t dtype, uint32_t n_dims,
                                 const uint64_t *ne, const void *data, uint64_t nbytes);
xllm_status xllm_gguf_add_tensor_owned(xllm_gguf *g, const char *name, uint32_t dtype, uint32_t n_dims,
                                       const uint64_t *ne, void *data, uint64_t nbytes);

/* Keep a resource alive as long as the container (e.g. a safetensors mapping
 * whose bytes the tensors borrow); destroy(ptr) is called at close. */
xllm_status xllm_gguf_attach(xllm_gguf *g, void *ptr, void (*destroy)(void *));

/* Write a v3 file atomically (alignment from general.alignment, default 32). */
xllm_status xllm_gguf_write(const xllm_gguf *g, const char *path);

/* Additions beyond the first draft of this header. */
/* "uint32", "string", ... ("?" when out of range); element size in bytes of a
 * fixed-size type (0 for STRING, ARRAY and unknown types). */
const char *xllm_gguf_type_name(uint32_t t);
size_t xllm_gguf_type_size(uint32_t t);
/* The value of metadata entry i (NULL when out of range). */
const xllm_gguf_value *xllm_gguf_kv_value(const xllm_gguf *g, int64_t i);
/* Set key to a deep copy of v (any type, nested arrays included). */
xllm_status xllm_gguf_set_value(xllm_gguf *g, const char *key, const xllm_gguf_value *v);
/* Set a string of len bytes (may contain any bytes). */
xllm_status xllm_gguf_set_strn(xllm_gguf *g, const char *key, const char *v, uint64_t len);
/* Offset of the data section from the start of the file (0 for a container built in memory). */
uint64_t xllm_gguf_data_offset(const xllm_gguf *g);

#endif
