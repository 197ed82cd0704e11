/* test_gguf_corrupt.c - hostile and broken GGUF files, crafted byte by byte:
 * each must fail cleanly (status + a message naming the file and the problem),
 * never crash or over-allocate. Buffers are exact-size heap copies so ASan
 * sees any read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/dtype.h"
#include "format/gguf.h"
#include "fmt_util.h"

static void hdr(tbytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    tb_put(b, "GGUF", 4);
    tb_u32(b, version);
    tb_u64(b, n_tensors);
    tb_u64(b, n_kv);
}

static void kv_u32(tbytes *b, const char *key, uint32_t v)
{
    tb_str(b, key);
    tb_u32(b, XLLM_GGUF_UINT32);
    tb_u32(b, v);
}

static void tinfo(tbytes *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
    tb_str(b, name);
    tb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        tb_u64(b, ne[d]);
    tb_u32(b, type);
    tb_u64(b, off);
}

/* Open an exact-size heap copy of b; expect failure with want_st (or any
 * failure if want_st is XLLM_OK) and a message holding both "bad.gguf" and want. */
static void expect_fail(const tbytes *b, xllm_status want_st, const char *want, int line)
{
    void *copy = malloc(b->len ? b->len : 1);
    xllm_gguf *g = NULL;
    xllm_status st;
    if (b->len)
        memcpy(copy, b->p, b->len);
    xllm_clear_error();
    st = xllm_gguf_open_memory(copy, b->len, "bad.gguf", &g);
    CHECK_MSG(st != XLLM_OK, "line %d: opened a bad file", line);
    CHECK_MSG(g == NULL, "line %d: container returned on failure", line);
    if (want_st != XLLM_OK)
        CHECK_MSG(st == want_st, "line %d: status %d, want %d (%s)", line, st, want_st, xllm_last_error());
    CHECK_MSG(strstr(xllm_last_error(), "bad.gguf") && strstr(xllm_last_error(), want),
              "line %d: message \"%s\" lacks \"%s\"", line, xllm_last_error(), want);
    xllm_gguf_close(g);
    free(copy);
}
#define EXPECT_FAIL(b, st, want) expect_fail((b), (st), (want), __LINE__)

/* A small valid file: 2 keys, 2 tensors, no trailing padding. */
static void valid_file(tbytes *b)
{
    uint64_t ne1[2] = {4, 2}, ne2[1] = {32};
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char q[18] = {0};
    hdr(b, 3, 2, 2);
    tb_str(b, "general.name");
    tb_u32(b, XLLM_GGUF_ARRAY);
    tb_u32(b, XLLM_GGUF_STRING);
    tb_u64(b, 2);
    tb_str(b, "ab");
    tb_str(b, "c");
    kv_u32(b, "general.alignment", 16);
    tinfo(b, "a", 2, ne1, XLLM_DTYPE_F32, 0);
    tinfo(b, "q", 1, ne2, XLLM_DTYPE_Q4_0, 32);
    tb_pad(b, 16);
    tb_put(b, data, 32);
    tb_put(b, q, 18);
}

TEST(gguf_truncated_at_every_offset)
{
    tbytes b = {0};
    xllm_gguf *g = NULL;
    valid_file(&b);
    CHECK_OK(xllm_gguf_open_memory(b.p, b.len, "ok.gguf", &g));
    xllm_gguf_close(g);
    for (size_t n = 0; n < b.len; n++) {
        tbytes t = {0};
        tb_put(&t, b.p, n);
        expect_fail(&t, XLLM_OK, "", (int)n);
        CHECK_MSG(xllm_last_error()[0] != 0, "empty message at length %zu", n);
        tb_free(&t);
    }
    tb_free(&b);
}

TEST(gguf_corrupt_header)
{
    tbytes b = {0};
    tb_put(&b, "GGUX", 4);
    tb_u32(&b, 3);
    tb_u64(&b, 0);
    tb_u64(&b, 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "not a GGUF file");
    tb_free(&b);
    tb_put(&b, "GG", 2);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "not a GGUF file");
    tb_free(&b);

    hdr(&b, 1, 0, 0);
    EXPECT_FAIL(&b, XLLM_ERR_UNSUPPORTED, "version 1");
    tb_free(&b);
    hdr(&b, 0x03000000u, 0, 0); /* a big-endian v3 file read little-endian */
    EXPECT_FAIL(&b, XLLM_ERR_UNSUPPORTED, "big-endian");
    tb_free(&b);
    hdr(&b, 7, 0, 0);
    EXPECT_FAIL(&b, XLLM_ERR_UNSUPPORTED, "version 7");
    tb_free(&b);

    hdr(&b, 3, 1ull << 60, 0);
    EXPECT_FAIL(&b, XLLM_ERR_LIMIT, "exceeds the limit");
    tb_free(&b);
    hdr(&b, 3, 0, UINT64_MAX);
    EXPECT_FAIL(&b, XLLM_ERR_LIMIT, "exceeds the limit");
    tb_free(&b);
    hdr(&b, 3, 1000, 60000); /* under the caps, but cannot fit in the file */
    kv_u32(&b, "a", 1);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "cannot fit");
    tb_free(&b);
}

TEST(gguf_corrupt_metadata)
{
    tbytes b = {0};
    /* string length past the end */
    hdr(&b, 3, 0, 1);
    tb_u64(&b, 1000);
    tb_put(&b, "general.name-and-some-more", 26);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "runs past the end of the file");
    tb_free(&b);
    /* hostile string length */
    hdr(&b, 3, 0, 1);
    tb_u64(&b, 1ull << 62);
    tb_put(&b, "0123456789abcdef", 16);
    EXPECT_FAIL(&b, XLLM_ERR_LIMIT, "exceeds the limit");
    tb_free(&b);
    /* value string past the end names the key */
    hdr(&b, 3, 0, 1);
    tb_str(&b, "general.name");
    tb_u32(&b, XLLM_GGUF_STRING);
    tb_u64(&b, 50);
    tb_put(&b, "short", 5);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "metadata key 'general.name'");
    tb_free(&b);
    /* array count hostile / past the end */
    hdr(&b, 3, 0, 1);
    tb_str(&b, "tokenizer.ggml.scores");
    tb_u32(&b, XLLM_GGUF_ARRAY);
    tb_u32(&b, XLLM_GGUF_FLOAT32);
    tb_u64(&b, 1ull << 40);
    EXPECT_FAIL(&b, XLLM_ERR_LIMIT, "exceeds the limit");
    tb_free(&b);
    hdr(&b, 3, 0, 1);
    tb_str(&b, "tokenizer.ggml.tokens");
    tb_u32(&b, XLLM_GGUF_ARRAY);
    tb_u32(&b, XLLM_GGUF_STRING);
    tb_u64(&b, 1000000);
    tb_str(&b, "a");
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "array of 1000000 elements runs past the end");
    tb_free(&b);
    /* unknown value type, unknown element type */
    hdr(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, 13);
    tb_u32(&b, 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "unknown value type 13");
    tb_free(&b);
    hdr(&b, 3, 0, 1);
    tb_str(&b, "k");
    tb_u32(&b, XLLM_GGUF_ARRAY);
    tb_u32(&b, 99);
    tb_u64(&b, 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "unknown array element type 99");
    tb_free(&b);
    /* duplicate key */
    hdr(&b, 3, 0, 2);
    kv_u32(&b, "llama.block_count", 1);
    kv_u32(&b, "llama.block_count", 2);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "duplicate key");
    tb_free(&b);
    /* key with a NUL byte, empty key */
    hdr(&b, 3, 0, 1);
    tb_u64(&b, 3);
    tb_put(&b, "a\0b", 3);
    tb_u32(&b, XLLM_GGUF_UINT8);
    tb_u8(&b, 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "NUL byte");
    tb_free(&b);
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "", 1);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "empty key");
    tb_free(&b);
    /* arrays nested 5 deep (limit 4) */
    hdr(&b, 3, 0, 1);
    tb_str(&b, "deep");
    tb_u32(&b, XLLM_GGUF_ARRAY);
    for (int d = 0; d < 4; d++) {
        tb_u32(&b, XLLM_GGUF_ARRAY);
        tb_u64(&b, 1);
    }
    tb_u32(&b, XLLM_GGUF_UINT8);
    tb_u64(&b, 0);
    EXPECT_FAIL(&b, XLLM_ERR_LIMIT, "nested deeper");
    tb_free(&b);
    /* 4 deep is fine */
    {
        xllm_gguf *g = NULL;
        hdr(&b, 3, 0, 1);
        tb_str(&b, "deep");
        tb_u32(&b, XLLM_GGUF_ARRAY);
        for (int d = 0; d < 3; d++) {
            tb_u32(&b, XLLM_GGUF_ARRAY);
            tb_u64(&b, 1);
        }
        tb_u32(&b, XLLM_GGUF_UINT8);
        tb_u64(&b, 2);
        tb_u8(&b, 7);
        tb_u8(&b, 9);
        CHECK_OK(xllm_gguf_open_memory(b.p, b.len, "deep.gguf", &g));
        if (g) {
            const xllm_gguf_value *v = xllm_gguf_kv_value(g, 0);
            v = &v->arr_sub[0].arr_sub[0].arr_sub[0];
            CHECK(v->arr_type == XLLM_GGUF_UINT8 && v->count == 2 && ((const uint8_t *)v->arr_data)[1] == 9);
        }
        xllm_gguf_close(g);
        tb_free(&b);
    }
    /* general.alignment: not a power of two, zero, wrong type */
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 48);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "power of two");
    tb_free(&b);
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "general.alignment", 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "power of two");
    tb_free(&b);
    hdr(&b, 3, 0, 1);
    tb_str(&b, "general.alignment");
    tb_u32(&b, XLLM_GGUF_UINT64);
    tb_u64(&b, 32);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "expected uint32");
    tb_free(&b);
}

/* One tensor description followed by data_len bytes of data (alignment 32). */
static void one_tensor(tbytes *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off,
                       size_t data_len)
{
    hdr(b, 3, 1, 0);
    tinfo(b, name, n_dims, ne, type, off);
    tb_pad(b, 32);
    for (size_t i = 0; i < data_len; i++)
        tb_u8(b, (uint8_t)i);
}

TEST(gguf_corrupt_tensors)
{
    tbytes b = {0};
    uint64_t ne[5] = {32, 2, 1, 1, 1}, big[3] = {1ull << 32, 1ull << 32, 1ull << 32}, zero[2] = {32, 0};
    uint64_t odd[1] = {33};

    one_tensor(&b, "blk.0.attn_q.weight", 2, ne, XLLM_DTYPE_F32, 0, 100);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "tensor 'blk.0.attn_q.weight' data (offset 96, 256 bytes) runs past the end of the file (196 bytes)");
    tb_free(&b);
    one_tensor(&b, "t", 2, ne, XLLM_DTYPE_F32, 1ull << 63, 256); /* offset overflow */
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "runs past the end of the file");
    tb_free(&b);
    one_tensor(&b, "t", 2, ne, XLLM_DTYPE_F32, 4, 300);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "data offset 4 is not a multiple of the alignment 32");
    tb_free(&b);
    one_tensor(&b, "t", 2, ne, 4, 0, 256); /* removed Q4_2 */
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "unknown type 4");
    tb_free(&b);
    one_tensor(&b, "t", 2, ne, 1000, 0, 256);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "unknown type 1000");
    tb_free(&b);
    one_tensor(&b, "t", 0, ne, XLLM_DTYPE_F32, 0, 256);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "0 dimensions");
    tb_free(&b);
    one_tensor(&b, "t", 5, ne, XLLM_DTYPE_F32, 0, 256);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "5 dimensions");
    tb_free(&b);
    one_tensor(&b, "t", 2, zero, XLLM_DTYPE_F32, 0, 256);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "dimension 1 is 0");
    tb_free(&b);
    one_tensor(&b, "t", 3, big, XLLM_DTYPE_F32, 0, 256);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "overflows");
    tb_free(&b);
    one_tensor(&b, "t", 1, odd, XLLM_DTYPE_Q4_0, 0, 256);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "not a multiple of the Q4_0 block size 32");
    tb_free(&b);
    /* duplicate tensor name */
    hdr(&b, 3, 2, 0);
    tinfo(&b, "w", 1, ne, XLLM_DTYPE_F32, 0);
    tinfo(&b, "w", 1, ne, XLLM_DTYPE_F32, 128);
    tb_pad(&b, 32);
    for (int i = 0; i < 256; i++)
        tb_u8(&b, 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "duplicate tensor name");
    tb_free(&b);
    /* hostile name bytes are shown printable in messages */
    one_tensor(&b, "a\x01\xff", 2, ne, 1000, 0, 0);
    EXPECT_FAIL(&b, XLLM_ERR_FORMAT, "tensor 'a?\?'");
    tb_free(&b);
}

TEST(gguf_open_file_errors)
{
    char dir[64], path[128];
    xllm_gguf *g = NULL;
    tbytes b = {0};
    CHECK(xllm_gguf_open("/nonexistent/x.gguf", &g) == XLLM_ERR_NOT_FOUND);
    CHECK(strstr(xllm_last_error(), "/nonexistent/x.gguf") != NULL);
    if (!tmp_dir(dir, sizeof dir))
        return;
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    CHECK(write_bytes(path, "", 0));
    CHECK(xllm_gguf_open(path, &g) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "empty.gguf: not a GGUF file") != NULL);
    snprintf(path, sizeof path, "%s/x.gguf", dir);
    hdr(&b, 3, 1, 0);
    {
        uint64_t ne[1] = {1024};
        tinfo(&b, "blk.0.attn_q.weight", 1, ne, XLLM_DTYPE_F32, 0);
    }
    tb_pad(&b, 32);
    CHECK(write_bytes(path, b.p, b.len));
    CHECK(xllm_gguf_open(path, &g) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "x.gguf: tensor 'blk.0.attn_q.weight' data (offset 96, 4096 bytes) runs past the end of the file (96 bytes)") != NULL);
    CHECK(g == NULL);
    tb_free(&b);
    rm_tree(dir);
}

/* Every allocation failing in turn: clean failure, no leak (ASan), then success. */
TEST(gguf_alloc_failures)
{
    tbytes b = {0};
    int succeeded = 0;
    valid_file(&b);
    for (long n = 0; n < 200 && !succeeded; n++) {
        xllm_gguf *g = NULL;
        xllm_status st;
        xllm_alloc_fail_after(n);
        st = xllm_gguf_open_memory(b.p, b.len, "ok.gguf", &g);
        xllm_alloc_fail_after(-1);
        if (st == XLLM_OK) {
            succeeded = 1;
            CHECK_EQ_INT(xllm_gguf_n_tensors(g), 2);
        } else {
            CHECK_EQ_INT(st, XLLM_ERR_OUT_OF_MEMORY);
            CHECK(g == NULL);
        }
        xllm_gguf_close(g);
    }
    CHECK(succeeded);
    /* the builder too */
    succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        xllm_gguf *g = NULL;
        const char *strs[2] = {"x", "yy"};
        float d[4] = {0};
        uint64_t ne[1] = {4};
        xllm_status st;
        xllm_alloc_fail_after(n);
        st = xllm_gguf_new(&g);
        if (st == XLLM_OK)
            st = xllm_gguf_set_str(g, "a", "b");
        if (st == XLLM_OK)
            st = xllm_gguf_set_arr_str(g, "s", strs, NULL, 2);
        if (st == XLLM_OK)
            st = xllm_gguf_add_tensor(g, "t", XLLM_DTYPE_F32, 1, ne, d, 16);
        if (st == XLLM_OK)
            st = xllm_gguf_add_tensor_owned(g, "o", XLLM_DTYPE_F32, 1, ne, xllm_calloc(4, 4), 16);
        xllm_alloc_fail_after(-1);
        if (st == XLLM_OK) {
            succeeded = 1;
            CHECK_EQ_INT(xllm_gguf_n_kv(g), 2);
            CHECK_EQ_INT(xllm_gguf_n_tensors(g), 2);
        }
        xllm_gguf_close(g);
    }
    CHECK(succeeded);
    tb_free(&b);
}
