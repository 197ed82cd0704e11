/* fuzz_gguf.c - libFuzzer target: parse a GGUF buffer, then walk every key,
 * array element and tensor byte, and copy it all into a built container.
 * Build with `make fuzz`; run as tests/fuzz/README.md says. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "format/gguf.h"

static volatile uint64_t sink;

static void touch(const void *p, uint64_t n)
{
    const unsigned char *u = p;
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += u[i];
    sink += s;
}

static void walk_value(const xllm_gguf_value *v)
{
    if (v->type == XLLM_GGUF_STRING) {
        touch(v->str.ptr, v->str.len);
    } else if (v->type == XLLM_GGUF_ARRAY) {
        if (v->arr_type == XLLM_GGUF_STRING)
            for (uint64_t j = 0; j < v->count; j++)
                touch(v->arr_strs[j].ptr, v->arr_strs[j].len);
        else if (v->arr_type == XLLM_GGUF_ARRAY)
            for (uint64_t j = 0; j < v->count; j++)
                walk_value(&v->arr_sub[j]);
        else
            touch(v->arr_data, v->count * xllm_gguf_type_size(v->arr_type));
    } else {
        touch(v->scalar, xllm_gguf_type_size(v->type));
    }
}

static void walk_getters(const xllm_gguf *g, int64_t i)
{
    const char *key = xllm_gguf_key(g, i);
    uint32_t u;
    int64_t s;
    float f;
    int b;
    xllm_str str;
    xllm_gguf_type at;
    uint64_t count;
    char *dup;
    sink += xllm_gguf_find(g, key) == i;
    sink += xllm_gguf_get_u32(g, key, &u) + xllm_gguf_get_i64(g, key, &s) + xllm_gguf_get_f32(g, key, &f) +
            xllm_gguf_get_bool(g, key, &b) + xllm_gguf_get_str(g, key, &str);
    dup = xllm_gguf_dup_str(g, key);
    xllm_free(dup);
    if (xllm_gguf_get_arr(g, key, &at, &count) == XLLM_OK) {
        for (uint64_t j = 0; j < count && j < 4096; j++) {
            xllm_str e = xllm_gguf_arr_str(g, i, j);
            touch(e.ptr, e.len);
            sink += xllm_gguf_arr_get_f64(g, i, j) > 0.5; /* no float->int cast: NaN and huge values are legal */
        }
        sink += xllm_gguf_arr_data(g, i) != NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xllm_gguf *g = NULL, *copy = NULL;
    if (xllm_gguf_open_memory(data, size, "fuzz.gguf", &g) != XLLM_OK)
        return 0;
    sink += xllm_gguf_version(g) + xllm_gguf_alignment(g) + xllm_gguf_data_offset(g);
    if (xllm_gguf_new(&copy) != XLLM_OK)
        copy = NULL;
    for (int64_t i = 0; i < xllm_gguf_n_kv(g); i++) {
        touch(xllm_gguf_key(g, i), strlen(xllm_gguf_key(g, i)));
        sink += xllm_gguf_kv_type(g, i);
        walk_value(xllm_gguf_kv_value(g, i));
        walk_getters(g, i);
        if (copy)
            sink += xllm_gguf_copy_kv(copy, g, i);
    }
    for (int64_t i = 0; i < xllm_gguf_n_tensors(g); i++) {
        const xllm_gguf_tensor *t = xllm_gguf_tensor_at(g, i);
        if (xllm_gguf_find_tensor(g, t->name) != t)
            __builtin_trap();
        touch(t->data, t->nbytes);
        if (copy)
            sink += xllm_gguf_add_tensor(copy, t->name, t->dtype, t->n_dims, t->ne, t->data, t->nbytes);
    }
    if (copy && (xllm_gguf_n_kv(copy) != xllm_gguf_n_kv(g) || xllm_gguf_n_tensors(copy) != xllm_gguf_n_tensors(g)))
        __builtin_trap(); /* everything the reader accepts the builder must accept */
    xllm_gguf_close(copy);
    xllm_gguf_close(g);
    return 0;
}
