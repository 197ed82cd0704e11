/* test_gguf.c - GGUF container: build -> write -> read round trips of every
 * value type, alignment variants, hand-built v2 files (bytes written by the
 * test, not the writer) and the getters' type rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "base/fs.h"
#include "format/gguf.h"
#include "fmt_util.h"

static uint64_t rd_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t rd_u32(const unsigned char *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void set_scalar(xllm_gguf *g, const char *key, xllm_gguf_type t, const void *p)
{
    xllm_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    memcpy(v.scalar, p, xllm_gguf_type_size(t));
    CHECK_OK(xllm_gguf_set_value(g, key, &v));
}

/* A container with one key of every scalar type, strings, every array kind
 * (nested 3 deep) and tensors of several dtypes. */
static xllm_gguf *build_sample(float *f32, uint16_t *f16, unsigned char *q8)
{
    xllm_gguf *g = NULL;
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint32_t u32 = 4000000000u; int32_t i32 = -2000000000; float f = 1.5f; uint8_t b = 1;
    uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll; double f64 = 3.0e300;
    int32_t arr_i32[5] = {1, -2, 3, -4, 5};
    double arr_f64[3] = {0.5, -1e-300, 7};
    uint8_t arr_b[4] = {1, 0, 1, 1};
    const char *toks[4] = {"<s>", "", "hello", "\xe4\xbd\xa0\xe5\xa5\xbd"};
    xllm_gguf_value inner[2], mid[2], outer;
    int16_t in0[3] = {1, 2, 3}, in1[1] = {-7};
    xllm_str mid1_strs[2] = {{"ab", 2}, {"c", 1}};
    uint64_t ne_f32[2] = {8, 3}, ne_f16[1] = {16}, ne_q8[2] = {64, 2};

    CHECK_OK(xllm_gguf_new(&g));
    if (!g)
        return NULL;
    CHECK_OK(xllm_gguf_set_str(g, "general.architecture", "llama"));
    set_scalar(g, "t.u8", XLLM_GGUF_UINT8, &u8);
    set_scalar(g, "t.i8", XLLM_GGUF_INT8, &i8);
    set_scalar(g, "t.u16", XLLM_GGUF_UINT16, &u16);
    set_scalar(g, "t.i16", XLLM_GGUF_INT16, &i16);
    CHECK_OK(xllm_gguf_set_u32(g, "t.u32", u32));
    CHECK_OK(xllm_gguf_set_i32(g, "t.i32", i32));
    CHECK_OK(xllm_gguf_set_f32(g, "t.f32", f));
    CHECK_OK(xllm_gguf_set_bool(g, "t.bool", b));
    CHECK_OK(xllm_gguf_set_u64(g, "t.u64", u64));
    set_scalar(g, "t.i64", XLLM_GGUF_INT64, &i64);
    set_scalar(g, "t.f64", XLLM_GGUF_FLOAT64, &f64);
    CHECK_OK(xllm_gguf_set_strn(g, "t.bin", "a\0b", 3));
    CHECK_OK(xllm_gguf_set_arr(g, "t.arr_i32", XLLM_GGUF_INT32, arr_i32, 5));
    CHECK_OK(xllm_gguf_set_arr(g, "t.arr_f64", XLLM_GGUF_FLOAT64, arr_f64, 3));
    CHECK_OK(xllm_gguf_set_arr(g, "t.arr_bool", XLLM_GGUF_BOOL, arr_b, 4));
    CHECK_OK(xllm_gguf_set_arr(g, "t.arr_empty", XLLM_GGUF_UINT8, NULL, 0));
    CHECK_OK(xllm_gguf_set_arr_str(g, "tokenizer.ggml.tokens", toks, NULL, 4));
    /* outer = [[ [1,2,3], [-7] ], [ ["ab","c"] ]] : 3 levels */
    memset(inner, 0, sizeof inner);
    memset(mid, 0, sizeof mid);
    memset(&outer, 0, sizeof outer);
    inner[0].type = inner[1].type = XLLM_GGUF_ARRAY;
    inner[0].arr_type = inner[1].arr_type = XLLM_GGUF_INT16;
    inner[0].arr_data = in0; inner[0].count = 3;
    inner[1].arr_data = in1; inner[1].count = 1;
    mid[0].type = XLLM_GGUF_ARRAY; mid[0].arr_type = XLLM_GGUF_ARRAY; mid[0].arr_sub = inner; mid[0].count = 2;
    mid[1].type = XLLM_GGUF_ARRAY; mid[1].arr_type = XLLM_GGUF_STRING; mid[1].arr_strs = mid1_strs; mid[1].count = 2;
    outer.type = XLLM_GGUF_ARRAY; outer.arr_type = XLLM_GGUF_ARRAY; outer.arr_sub = mid; outer.count = 2;
    CHECK_OK(xllm_gguf_set_value(g, "t.nested", &outer));

    for (int i = 0; i < 24; i++)
        f32[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < 16; i++)
        f16[i] = xllm_f32_to_f16((float)i / 8.0f);
    for (int i = 0; i < 2 * 68; i++)
        q8[i] = (unsigned char)(i * 7 + 1);
    CHECK_OK(xllm_gguf_add_tensor(g, "blk.0.attn_q.weight", XLLM_DTYPE_F32, 2, ne_f32, f32, 24 * 4));
    CHECK_OK(xllm_gguf_add_tensor(g, "output_norm.weight", XLLM_DTYPE_F16, 1, ne_f16, f16, 32));
    CHECK_OK(xllm_gguf_add_tensor(g, "token_embd.weight", XLLM_DTYPE_Q8_0, 2, ne_q8, q8, 2 * 68));
    return g;
}

static void check_scalar(const xllm_gguf *g, const char *key, xllm_gguf_type t, const void *want)
{
    int64_t i = xllm_gguf_find(g, key);
    const xllm_gguf_value *v = xllm_gguf_kv_value(g, i);
    CHECK_MSG(v != NULL, "missing key %s", key);
    if (!v)
        return;
    CHECK_EQ_INT(v->type, t);
    CHECK_MSG(!memcmp(v->scalar, want, xllm_gguf_type_size(t)), "value of %s differs", key);
}

static void check_sample(const xllm_gguf *g, const float *f32, const uint16_t *f16, const unsigned char *q8)
{
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint32_t u32v = 0; int64_t i64v = 0; float fv = 0; int bv = 0;
    uint8_t b1 = 1; uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll; double f64 = 3.0e300;
    int32_t i32 = -2000000000; float f = 1.5f;
    xllm_str s;
    xllm_gguf_type at;
    uint64_t cnt;
    int64_t i;
    const xllm_gguf_value *v;
    const xllm_gguf_tensor *t;

    CHECK_EQ_INT(xllm_gguf_n_kv(g), 19);
    CHECK_EQ_STR(xllm_gguf_key(g, 0), "general.architecture");
    CHECK_EQ_STR(xllm_gguf_key(g, 18), "t.nested");
    CHECK_OK(xllm_gguf_get_str(g, "general.architecture", &s));
    CHECK(s.len == 5 && !memcmp(s.ptr, "llama", 5));
    check_scalar(g, "t.u8", XLLM_GGUF_UINT8, &u8);
    check_scalar(g, "t.i8", XLLM_GGUF_INT8, &i8);
    check_scalar(g, "t.u16", XLLM_GGUF_UINT16, &u16);
    check_scalar(g, "t.i16", XLLM_GGUF_INT16, &i16);
    check_scalar(g, "t.i32", XLLM_GGUF_INT32, &i32);
    check_scalar(g, "t.f32", XLLM_GGUF_FLOAT32, &f);
    check_scalar(g, "t.bool", XLLM_GGUF_BOOL, &b1);
    check_scalar(g, "t.u64", XLLM_GGUF_UINT64, &u64);
    check_scalar(g, "t.i64", XLLM_GGUF_INT64, &i64);
    check_scalar(g, "t.f64", XLLM_GGUF_FLOAT64, &f64);
    CHECK_OK(xllm_gguf_get_u32(g, "t.u32", &u32v));
    CHECK(u32v == 4000000000u);
    CHECK_OK(xllm_gguf_get_i64(g, "t.i64", &i64v));
    CHECK(i64v == i64);
    CHECK_OK(xllm_gguf_get_f32(g, "t.f32", &fv));
    CHECK(fv == 1.5f);
    CHECK_OK(xllm_gguf_get_bool(g, "t.bool", &bv));
    CHECK_EQ_INT(bv, 1);
    CHECK_OK(xllm_gguf_get_str(g, "t.bin", &s));
    CHECK(s.len == 3 && !memcmp(s.ptr, "a\0b", 3));

    CHECK_OK(xllm_gguf_get_arr(g, "t.arr_i32", &at, &cnt));
    CHECK(at == XLLM_GGUF_INT32 && cnt == 5);
    i = xllm_gguf_find(g, "t.arr_i32");
    CHECK(xllm_gguf_arr_get_f64(g, i, 3) == -4.0);
    CHECK(isnan(xllm_gguf_arr_get_f64(g, i, 5)));
    {
        int32_t x[5];
        memcpy(x, xllm_gguf_arr_data(g, i), sizeof x);
        CHECK(x[0] == 1 && x[1] == -2 && x[4] == 5);
    }
    i = xllm_gguf_find(g, "t.arr_f64");
    CHECK(xllm_gguf_arr_get_f64(g, i, 1) == -1e-300);
    i = xllm_gguf_find(g, "t.arr_bool");
    CHECK(xllm_gguf_arr_get_f64(g, i, 0) == 1.0 && xllm_gguf_arr_get_f64(g, i, 1) == 0.0);
    CHECK_OK(xllm_gguf_get_arr(g, "t.arr_empty", &at, &cnt));
    CHECK(at == XLLM_GGUF_UINT8 && cnt == 0);

    CHECK_OK(xllm_gguf_get_arr(g, "tokenizer.ggml.tokens", &at, &cnt));
    CHECK(at == XLLM_GGUF_STRING && cnt == 4);
    i = xllm_gguf_find(g, "tokenizer.ggml.tokens");
    s = xllm_gguf_arr_str(g, i, 0);
    CHECK(s.len == 3 && !memcmp(s.ptr, "<s>", 3));
    CHECK(xllm_gguf_arr_str(g, i, 1).len == 0);
    s = xllm_gguf_arr_str(g, i, 3);
    CHECK(s.len == 6 && !memcmp(s.ptr, "\xe4\xbd\xa0\xe5\xa5\xbd", 6));
    CHECK(xllm_gguf_arr_str(g, i, 4).ptr == NULL);
    CHECK(xllm_gguf_arr_data(g, i) == NULL);

    v = xllm_gguf_kv_value(g, xllm_gguf_find(g, "t.nested"));
    CHECK(v && v->type == XLLM_GGUF_ARRAY && v->arr_type == XLLM_GGUF_ARRAY && v->count == 2);
    if (v && v->count == 2 && v->arr_sub) {
        const xllm_gguf_value *m0 = &v->arr_sub[0], *m1 = &v->arr_sub[1];
        CHECK(m0->arr_type == XLLM_GGUF_ARRAY && m0->count == 2);
        CHECK(m1->arr_type == XLLM_GGUF_STRING && m1->count == 2);
        if (m0->count == 2 && m0->arr_sub) {
            int16_t x[3];
            CHECK(m0->arr_sub[0].arr_type == XLLM_GGUF_INT16 && m0->arr_sub[0].count == 3);
            memcpy(x, m0->arr_sub[0].arr_data, 6);
            CHECK(x[0] == 1 && x[2] == 3);
            memcpy(x, m0->arr_sub[1].arr_data, 2);
            CHECK(m0->arr_sub[1].count == 1 && x[0] == -7);
        }
        if (m1->count == 2 && m1->arr_strs)
            CHECK(m1->arr_strs[1].len == 1 && m1->arr_strs[1].ptr[0] == 'c');
    }

    CHECK_EQ_INT(xllm_gguf_n_tensors(g), 3);
    t = xllm_gguf_find_tensor(g, "blk.0.attn_q.weight");
    CHECK(t && t == xllm_gguf_tensor_at(g, 0));
    if (t) {
        CHECK(t->dtype == XLLM_DTYPE_F32 && t->n_dims == 2 && t->ne[0] == 8 && t->ne[1] == 3 && t->ne[2] == 1);
        CHECK(t->nbytes == 96 && !memcmp(t->data, f32, 96));
    }
    t = xllm_gguf_find_tensor(g, "output_norm.weight");
    CHECK(t && t->dtype == XLLM_DTYPE_F16 && t->nbytes == 32 && !memcmp(t->data, f16, 32));
    t = xllm_gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->dtype == XLLM_DTYPE_Q8_0 && t->nbytes == 136 && !memcmp(t->data, q8, 136));
    CHECK(xllm_gguf_find_tensor(g, "nope") == NULL);
}

TEST(gguf_roundtrip_all_types)
{
    char dir[64], path[128];
    float f32[24];
    uint16_t f16[16];
    unsigned char q8[136];
    xllm_gguf *g, *r = NULL;
    if (!tmp_dir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    g = build_sample(f32, f16, q8);
    if (!g)
        return;
    check_sample(g, f32, f16, q8); /* the builder answers like the reader */
    CHECK_OK(xllm_gguf_write(g, path));
    CHECK_OK(xllm_gguf_open(path, &r));
    if (r) {
        check_sample(r, f32, f16, q8);
        CHECK_EQ_INT(xllm_gguf_version(r), 3);
        CHECK_EQ_INT(xllm_gguf_alignment(r), 32);
        CHECK_EQ_STR(xllm_gguf_path(r), path);
        /* independent layout checks on the raw bytes */
        {
            const xllm_gguf_tensor *t0 = xllm_gguf_tensor_at(r, 0), *t2 = xllm_gguf_tensor_at(r, 2);
            const unsigned char *base = (const unsigned char *)t0->data - xllm_gguf_data_offset(r);
            CHECK(!memcmp(base, "GGUF", 4));
            CHECK_EQ_INT(rd_u32(base + 4), 3);
            CHECK_EQ_INT(rd_u64(base + 8), 3);
            CHECK_EQ_INT(rd_u64(base + 16), 19);
            CHECK_EQ_INT(rd_u64(base + 24), strlen("general.architecture"));
            CHECK(!memcmp(base + 32, "general.architecture", 20));
            CHECK_EQ_INT(xllm_gguf_data_offset(r) % 32, 0);
            /* 96 bytes at 0, 32 bytes at 96, 136 bytes at 128 */
            CHECK_EQ_INT(xllm_gguf_tensor_at(r, 1)->offset, 96);
            CHECK_EQ_INT(t2->offset, 128);
        }
        /* read -> write gives the same bytes; editing a read container mixes
         * borrowed and owned values (ASan checks the frees) */
        {
            char path2[160];
            char *x = NULL, *y = NULL;
            size_t nx = 0, ny = 0;
            xllm_gguf *e = NULL;
            snprintf(path2, sizeof path2, "%s/copy.gguf", dir);
            CHECK_OK(xllm_gguf_write(r, path2));
            CHECK_OK(xllm_read_file(path, 1 << 20, &x, &nx));
            CHECK_OK(xllm_read_file(path2, 1 << 20, &y, &ny));
            CHECK(x && y && nx == ny && !memcmp(x, y, nx));
            xllm_free(x);
            xllm_free(y);
            CHECK_OK(xllm_gguf_open(path2, &e));
            if (e) {
                xllm_str s;
                CHECK_OK(xllm_gguf_set_str(e, "general.architecture", "qwen2"));
                CHECK_OK(xllm_gguf_remove(e, "t.u8"));
                CHECK_OK(xllm_gguf_set_u32(e, "new.key", 9));
                CHECK_OK(xllm_gguf_write(e, path));
                xllm_gguf_close(e);
                e = NULL;
                CHECK_OK(xllm_gguf_open(path, &e));
                CHECK(e && xllm_gguf_n_kv(e) == 19 && xllm_gguf_find(e, "t.u8") < 0);
                CHECK(e && xllm_gguf_get_str(e, "general.architecture", &s) == XLLM_OK && s.len == 5);
                CHECK(e && !memcmp(xllm_gguf_find_tensor(e, "token_embd.weight")->data, q8, 136));
                xllm_gguf_close(e);
            }
        }
        /* copy every key into a new container: same answers */
        {
            xllm_gguf *c = NULL;
            CHECK_OK(xllm_gguf_new(&c));
            for (int64_t i = 0; c && i < xllm_gguf_n_kv(r); i++)
                CHECK_OK(xllm_gguf_copy_kv(c, r, i));
            for (int64_t i = 0; c && i < xllm_gguf_n_tensors(r); i++) {
                const xllm_gguf_tensor *t = xllm_gguf_tensor_at(r, i);
                CHECK_OK(xllm_gguf_add_tensor(c, t->name, t->dtype, t->n_dims, t->ne, t->data, t->nbytes));
            }
            if (c)
                check_sample(c, f32, f16, q8); /* c borrows r's tensor bytes: check before closing r */
            xllm_gguf_close(c);
        }
    }
    xllm_gguf_close(r);
    xllm_gguf_close(g);
    rm_tree(dir);
}

TEST(gguf_alignment_variants)
{
    static const uint32_t aligns[] = {1, 8, 64, 4096};
    char dir[64], path[128];
    float a[3] = {1, 2, 3}, b[5] = {4, 5, 6, 7, 8};
    uint64_t ne_a[1] = {3}, ne_b[1] = {5};
    if (!tmp_dir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/a.gguf", dir);
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        xllm_gguf *g = NULL, *r = NULL;
        uint32_t al = aligns[k];
        CHECK_OK(xllm_gguf_new(&g));
        if (!g)
            continue;
        CHECK_OK(xllm_gguf_set_u32(g, "general.alignment", al));
        CHECK_OK(xllm_gguf_add_tensor(g, "a", XLLM_DTYPE_F32, 1, ne_a, a, 12));
        CHECK_OK(xllm_gguf_add_tensor(g, "b", XLLM_DTYPE_F32, 1, ne_b, b, 20));
        CHECK_OK(xllm_gguf_write(g, path));
        CHECK_OK(xllm_gguf_open(path, &r));
        if (r) {
            const xllm_gguf_tensor *tb = xllm_gguf_find_tensor(r, "b");
            uint64_t want_b = (12 + al - 1) / al * al;
            CHECK_EQ_INT(xllm_gguf_alignment(r), al);
            CHECK_EQ_INT(xllm_gguf_data_offset(r) % al, 0);
            CHECK(tb && tb->offset == want_b && !memcmp(tb->data, b, 20));
            CHECK(!memcmp(xllm_gguf_find_tensor(r, "a")->data, a, 12));
        }
        xllm_gguf_close(r);
        xllm_gguf_close(g);
    }
    /* a bad alignment is refused by the writer */
    {
        xllm_gguf *g = NULL;
        CHECK_OK(xllm_gguf_new(&g));
        CHECK_OK(xllm_gguf_set_u32(g, "general.alignment", 48));
        CHECK(xllm_gguf_write(g, path) == XLLM_ERR_FORMAT);
        CHECK(strstr(xllm_last_error(), "power of two") != NULL);
        CHECK_OK(xllm_gguf_set_u32(g, "general.alignment", 0));
        CHECK(xllm_gguf_write(g, path) == XLLM_ERR_FORMAT);
        xllm_gguf_close(g);
    }
    rm_tree(dir);
}

/* A v2 file built byte by byte: 2 keys, 1 F32 tensor [4]. */
static void build_v2(tbytes *b)
{
    float x[4] = {1.0f, -2.0f, 0.5f, 8.0f};
    tb_put(b, "GGUF", 4);
    tb_u32(b, 2);
    tb_u64(b, 1);
    tb_u64(b, 2);
    tb_str(b, "general.name");
    tb_u32(b, XLLM_GGUF_STRING);
    tb_str(b, "tiny");
    tb_str(b, "tiny.context_length");
    tb_u32(b, XLLM_GGUF_UINT32);
    tb_u32(b, 128);
    tb_str(b, "w");
    tb_u32(b, 1);
    tb_u64(b, 4);
    tb_u32(b, XLLM_DTYPE_F32);
    tb_u64(b, 0);
    tb_pad(b, 32);
    tb_put(b, x, 16);
}

TEST(gguf_v2_handmade)
{
    tbytes b = {0};
    xllm_gguf *g = NULL;
    uint32_t ctx = 0;
    char *name;
    build_v2(&b);
    CHECK_OK(xllm_gguf_open_memory(b.p, b.len, "v2.gguf", &g));
    if (g) {
        const xllm_gguf_tensor *t = xllm_gguf_find_tensor(g, "w");
        CHECK_EQ_INT(xllm_gguf_version(g), 2);
        CHECK_OK(xllm_gguf_get_u32(g, "tiny.context_length", &ctx));
        CHECK_EQ_INT(ctx, 128);
        name = xllm_gguf_dup_str(g, "general.name");
        CHECK_EQ_STR(name, "tiny");
        xllm_free(name);
        CHECK(t && t->nbytes == 16 && t->data == b.p + b.len - 16);
        CHECK_EQ_INT(xllm_gguf_data_offset(g), b.len - 16);
        if (t) {
            float x;
            memcpy(&x, (const char *)t->data + 4, 4);
            CHECK(x == -2.0f);
        }
    }
    xllm_gguf_close(g);
    tb_free(&b);
}

TEST(gguf_vocab_only)
{
    tbytes b = {0};
    xllm_gguf *g = NULL;
    tb_put(&b, "GGUF", 4);
    tb_u32(&b, 3);
    tb_u64(&b, 0);
    tb_u64(&b, 1);
    tb_str(&b, "tokenizer.ggml.tokens");
    tb_u32(&b, XLLM_GGUF_ARRAY);
    tb_u32(&b, XLLM_GGUF_STRING);
    tb_u64(&b, 2);
    tb_str(&b, "a");
    tb_str(&b, "bc");
    /* no padding at the end: a file without tensors needs none */
    CHECK_OK(xllm_gguf_open_memory(b.p, b.len, "vocab.gguf", &g));
    if (g) {
        CHECK_EQ_INT(xllm_gguf_n_tensors(g), 0);
        CHECK(xllm_gguf_arr_str(g, 0, 1).len == 2);
    }
    xllm_gguf_close(g);
    tb_free(&b);
}

TEST(gguf_getter_type_rules)
{
    xllm_gguf *g = NULL;
    uint32_t u = 0;
    int64_t i = 0;
    float f = 0;
    int bv = 0;
    xllm_str s;
    int8_t neg = -1;
    xllm_gguf_value v;
    CHECK_OK(xllm_gguf_new(&g));
    if (!g)
        return;
    CHECK_OK(xllm_gguf_set_i32(g, "neg", -5));
    CHECK_OK(xllm_gguf_set_u64(g, "big", 1ull << 40));
    CHECK_OK(xllm_gguf_set_u64(g, "huge", UINT64_MAX));
    CHECK_OK(xllm_gguf_set_f32(g, "f", 0.25f));
    CHECK_OK(xllm_gguf_set_bool(g, "b", 1));
    CHECK_OK(xllm_gguf_set_str(g, "s", "x"));
    memset(&v, 0, sizeof v);
    v.type = XLLM_GGUF_INT8;
    memcpy(v.scalar, &neg, 1);
    CHECK_OK(xllm_gguf_set_value(g, "i8", &v));

    xllm_clear_error();
    CHECK(xllm_gguf_get_u32(g, "absent", &u) == XLLM_ERR_NOT_FOUND);
    CHECK_EQ_STR(xllm_last_error(), "");
    CHECK(xllm_gguf_get_u32(g, "neg", &u) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "'neg'") && strstr(xllm_last_error(), "does not fit"));
    CHECK(xllm_gguf_get_u32(g, "big", &u) == XLLM_ERR_FORMAT);
    CHECK(xllm_gguf_get_u32(g, "f", &u) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "float32") != NULL);
    CHECK(xllm_gguf_get_u32(g, "s", &u) == XLLM_ERR_FORMAT);
    CHECK_OK(xllm_gguf_get_u32(g, "b", &u));
    CHECK_EQ_INT(u, 1);
    CHECK_OK(xllm_gguf_get_i64(g, "neg", &i));
    CHECK_EQ_INT(i, -5);
    CHECK_OK(xllm_gguf_get_i64(g, "i8", &i));
    CHECK_EQ_INT(i, -1);
    CHECK_OK(xllm_gguf_get_i64(g, "big", &i));
    CHECK(i == (int64_t)1 << 40);
    CHECK(xllm_gguf_get_i64(g, "huge", &i) == XLLM_ERR_FORMAT);
    CHECK_OK(xllm_gguf_get_f32(g, "neg", &f));
    CHECK(f == -5.0f);
    CHECK_OK(xllm_gguf_get_f32(g, "f", &f));
    CHECK(f == 0.25f);
    CHECK(xllm_gguf_get_f32(g, "s", &f) == XLLM_ERR_FORMAT);
    {
        double big = 1e300;
        xllm_gguf_value fv;
        memset(&fv, 0, sizeof fv);
        fv.type = XLLM_GGUF_FLOAT64;
        memcpy(fv.scalar, &big, 8);
        CHECK_OK(xllm_gguf_set_value(g, "f64", &fv));
        CHECK(xllm_gguf_get_f32(g, "f64", &f) == XLLM_ERR_FORMAT);
        CHECK(strstr(xllm_last_error(), "does not fit a 32-bit float") != NULL);
    }
    CHECK_OK(xllm_gguf_get_bool(g, "b", &bv));
    CHECK_EQ_INT(bv, 1);
    CHECK(xllm_gguf_get_bool(g, "neg", &bv) == XLLM_ERR_FORMAT);
    CHECK(xllm_gguf_get_str(g, "neg", &s) == XLLM_ERR_FORMAT);
    CHECK(xllm_gguf_get_arr(g, "s", NULL, NULL) == XLLM_ERR_FORMAT);
    CHECK(xllm_gguf_dup_str(g, "neg") == NULL);
    CHECK_EQ_INT(xllm_gguf_kv_type(g, 99), XLLM_GGUF_TYPE_COUNT);
    CHECK(xllm_gguf_key(g, -1) == NULL);
    xllm_gguf_close(g);
}

TEST(gguf_builder_set_remove_errors)
{
    xllm_gguf *g = NULL;
    uint32_t u = 0;
    float d[8] = {0};
    uint64_t ne[2] = {4, 2}, ne_bad[1] = {0}, ne_q[1] = {16};
    CHECK_OK(xllm_gguf_new(&g));
    if (!g)
        return;
    CHECK_OK(xllm_gguf_set_u32(g, "a", 1));
    CHECK_OK(xllm_gguf_set_str(g, "b", "two"));
    CHECK_OK(xllm_gguf_set_u32(g, "c", 3));
    CHECK_OK(xllm_gguf_set_u32(g, "b", 22)); /* replaces in place */
    CHECK_EQ_INT(xllm_gguf_n_kv(g), 3);
    CHECK_EQ_STR(xllm_gguf_key(g, 1), "b");
    CHECK_OK(xllm_gguf_get_u32(g, "b", &u));
    CHECK_EQ_INT(u, 22);
    CHECK_OK(xllm_gguf_remove(g, "a"));
    CHECK(xllm_gguf_remove(g, "a") == XLLM_ERR_NOT_FOUND);
    CHECK_EQ_INT(xllm_gguf_n_kv(g), 2);
    CHECK_EQ_INT(xllm_gguf_find(g, "c"), 1);
    CHECK_EQ_INT(xllm_gguf_find(g, "a"), -1);
    /* many keys: the index grows */
    for (int i = 0; i < 300; i++) {
        char k[32];
        snprintf(k, sizeof k, "k.%d", i);
        CHECK_OK(xllm_gguf_set_u32(g, k, (uint32_t)i));
    }
    CHECK_OK(xllm_gguf_get_u32(g, "k.277", &u));
    CHECK_EQ_INT(u, 277);
    CHECK(xllm_gguf_set_str(g, "", "x") == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(xllm_gguf_set_arr(g, "x", XLLM_GGUF_STRING, d, 1) == XLLM_ERR_INVALID_ARGUMENT);

    CHECK_OK(xllm_gguf_add_tensor(g, "t", XLLM_DTYPE_F32, 2, ne, d, 32));
    CHECK(xllm_gguf_add_tensor(g, "t", XLLM_DTYPE_F32, 2, ne, d, 32) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "duplicate") != NULL);
    CHECK(xllm_gguf_add_tensor(g, "u", XLLM_DTYPE_F32, 2, ne, d, 31) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "needs 32") != NULL);
    CHECK(xllm_gguf_add_tensor(g, "v", XLLM_DTYPE_F32, 1, ne_bad, d, 0) != XLLM_OK);
    CHECK(xllm_gguf_add_tensor(g, "w", XLLM_DTYPE_F32, 5, ne, d, 32) != XLLM_OK);
    CHECK(xllm_gguf_add_tensor(g, "x", 4, 1, ne_q, d, 32) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "unknown type") != NULL);
    CHECK(xllm_gguf_add_tensor(g, "y", XLLM_DTYPE_Q4_K, 1, ne_q, d, 9) != XLLM_OK);
    CHECK(strstr(xllm_last_error(), "multiple of the Q4_K block size 256") != NULL);
    /* owned data is freed on failure too (ASan would see a leak) */
    {
        void *own = xllm_malloc(32);
        CHECK(xllm_gguf_add_tensor_owned(g, "t", XLLM_DTYPE_F32, 2, ne, own, 32) != XLLM_OK);
        own = xllm_malloc(32);
        memset(own, 0, 32);
        CHECK_OK(xllm_gguf_add_tensor_owned(g, "t2", XLLM_DTYPE_F32, 2, ne, own, 32));
    }
    CHECK_EQ_INT(xllm_gguf_n_tensors(g), 2);
    /* llama.cpp refuses tensor names of 64+ bytes: the builder never writes one */
    {
        char longname[70];
        memset(longname, 'n', 64);
        longname[64] = 0;
        CHECK(xllm_gguf_add_tensor(g, longname, XLLM_DTYPE_F32, 2, ne, d, 32) == XLLM_ERR_INVALID_ARGUMENT);
        longname[63] = 0;
        CHECK_OK(xllm_gguf_add_tensor(g, longname, XLLM_DTYPE_F32, 2, ne, d, 32));
    }
    xllm_gguf_close(g);
}

static int attach_count;
static void attach_destroy(void *p) { attach_count += *(int *)p; }

TEST(gguf_attach_runs_at_close)
{
    xllm_gguf *g = NULL;
    int one = 1;
    attach_count = 0;
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_OK(xllm_gguf_attach(g, &one, attach_destroy));
    CHECK_OK(xllm_gguf_attach(g, &one, attach_destroy));
    xllm_gguf_close(g);
    CHECK_EQ_INT(attach_count, 2);
}
