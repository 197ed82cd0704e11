/* test_safetensors.c - safetensors: hand-written files (JSON typed by the
 * test), sharded directories, corrupt headers, and writer round trips checked
 * against the raw bytes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "base/fs.h"
#include "format/safetensors.h"
#include "fmt_util.h"

/* A file: u64 header length, header text padded with spaces to align, data. */
static void st_file(tbytes *b, const char *header, size_t align, const void *data, size_t n)
{
    size_t hl = strlen(header), padded = align ? (hl + align - 1) / align * align : hl;
    tb_u64(b, padded);
    tb_put(b, header, hl);
    for (size_t i = hl; i < padded; i++)
        tb_u8(b, ' ');
    tb_put(b, data, n);
}

static xllm_status open_copy(const tbytes *b, xllm_st_set **s)
{
    /* exact-size heap copy so ASan sees reads past the end; kept alive with the set via a static */
    static void *keep;
    free(keep);
    keep = malloc(b->len ? b->len : 1);
    if (b->len)
        memcpy(keep, b->p, b->len);
    return xllm_st_open_memory(keep, b->len, "bad.safetensors", s);
}

TEST(st_read_handmade)
{
    tbytes b = {0};
    xllm_st_set *s = NULL;
    float w[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 in f16 */
    unsigned char data[36];
    const xllm_st_tensor *t;
    memcpy(data, h, 4);
    memcpy(data + 4, w, 24);
    memset(data + 28, 0xab, 8); /* 4 BF16 of a [2,2] + nothing */
    /* the scalar BOOL takes the one byte appended after data */
    st_file(&b,
            "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
            "\"b.bias\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
            "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,28]},"
            "\"c\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[28,36]},"
            "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[36,36]},"
            "\"flag\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[36,37]}}",
            8, data, sizeof data);
    tb_u8(&b, 1);
    CHECK_OK(open_copy(&b, &s));
    if (!s)
        goto out;
    CHECK_EQ_INT(xllm_st_n_tensors(s), 5);
    CHECK_EQ_STR(xllm_st_tensor_at(s, 0)->name, "a.weight"); /* sorted by name */
    CHECK_EQ_STR(xllm_st_tensor_at(s, 4)->name, "flag");
    t = xllm_st_find(s, "a.weight");
    CHECK(t && t->dtype == XLLM_DTYPE_F32 && t->n_dims == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(t && t->shape[2] == 1 && t->nbytes == 24 && !memcmp(t->data, w, 24) && t->elem_size == 4);
    t = xllm_st_find(s, "b.bias");
    CHECK(t && t->dtype == XLLM_DTYPE_F16 && t->nbytes == 4);
    if (t) {
        uint16_t x;
        memcpy(&x, (const char *)t->data + 2, 2);
        CHECK(xllm_f16_to_f32(x) == -2.0f);
    }
    t = xllm_st_find(s, "c");
    CHECK(t && t->dtype == XLLM_DTYPE_BF16 && !strcmp(t->st_dtype, "BF16"));
    t = xllm_st_find(s, "empty");
    CHECK(t && t->nbytes == 0 && t->n_dims == 2);
    t = xllm_st_find(s, "flag");
    CHECK(t && t->dtype == XLLM_ST_DTYPE_OTHER && !strcmp(t->st_dtype, "BOOL") && t->n_dims == 0 && t->nbytes == 1);
    CHECK(xllm_st_find(s, "zzz") == NULL);
    CHECK_EQ_STR(xllm_st_meta_get(s, "format"), "pt");
    CHECK_EQ_STR(xllm_st_meta_get(s, "note"), "x");
    CHECK_EQ_INT(xllm_st_n_meta(s), 2);
    CHECK(xllm_st_meta_get(s, "nope") == NULL);
out:
    xllm_st_close(s);
    tb_free(&b);
}

static void expect_st_fail(const char *header, const void *data, size_t n, xllm_status want_st, const char *want,
                           int line)
{
    tbytes b = {0};
    xllm_st_set *s = NULL;
    xllm_status st;
    st_file(&b, header, 8, data, n);
    xllm_clear_error();
    st = open_copy(&b, &s);
    CHECK_MSG(st != XLLM_OK && s == NULL, "line %d: opened a bad file", line);
    if (want_st != XLLM_OK)
        CHECK_MSG(st == want_st, "line %d: status %d want %d (%s)", line, st, want_st, xllm_last_error());
    CHECK_MSG(strstr(xllm_last_error(), "bad.safetensors") && strstr(xllm_last_error(), want),
              "line %d: message \"%s\" lacks \"%s\"", line, xllm_last_error(), want);
    xllm_st_close(s);
    tb_free(&b);
}
#define EXPECT_ST_FAIL(h, d, n, st, want) expect_st_fail((h), (d), (n), (st), (want), __LINE__)

TEST(st_corrupt_headers)
{
    unsigned char d[64] = {0};
    tbytes b = {0};
    xllm_st_set *s = NULL;
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 8, XLLM_ERR_FORMAT,
                   "outside the data region (8 bytes)");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", d, 16, XLLM_ERR_FORMAT,
                   "has 12 bytes but its F32 shape needs 16");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", d, 16, XLLM_ERR_FORMAT,
                   "outside the data region");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d, 16, XLLM_ERR_FORMAT,
                   "shape[0] is not a non-negative integer");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", d, 16, XLLM_ERR_FORMAT,
                   "shape[0]");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", d, 16,
                   XLLM_ERR_UNSUPPORTED, "5 dimensions");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
                   d, 16, XLLM_ERR_FORMAT, "overflows");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 16, XLLM_ERR_UNSUPPORTED,
                   "unsupported dtype 'Q4'");
    EXPECT_ST_FAIL("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", d, 16, XLLM_ERR_FORMAT, "no dtype");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", d, 16, XLLM_ERR_FORMAT, "no shape");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", d, 16, XLLM_ERR_FORMAT,
                   "data_offsets is not [begin, end]");
    EXPECT_ST_FAIL("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   d, 16, XLLM_ERR_FORMAT, "duplicate");
    EXPECT_ST_FAIL("{\"a\":[1,2]}", d, 16, XLLM_ERR_FORMAT, "entry is not an object");
    EXPECT_ST_FAIL("[1,2]", d, 16, XLLM_ERR_FORMAT, "not start with '{'");
    EXPECT_ST_FAIL("{\"a\":", d, 16, XLLM_ERR_FORMAT, "bad JSON header");
    EXPECT_ST_FAIL("{\"__metadata__\":{\"format\":1}}", d, 16, XLLM_ERR_FORMAT, "is not a string");
    EXPECT_ST_FAIL("{\"__metadata__\":[]}", d, 16, XLLM_ERR_FORMAT, "__metadata__ is not an object");
    EXPECT_ST_FAIL("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 16, XLLM_ERR_FORMAT,
                   "empty");

    /* header length past the end / hostile / tiny file */
    tb_u64(&b, 1000);
    tb_put(&b, "{}", 2);
    CHECK(open_copy(&b, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "header of 1000 bytes runs past the end") != NULL);
    tb_free(&b);
    tb_u64(&b, UINT64_MAX);
    tb_put(&b, "{}", 2);
    CHECK(open_copy(&b, &s) == XLLM_ERR_LIMIT);
    tb_free(&b);
    tb_put(&b, "abc", 3);
    CHECK(open_copy(&b, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "not a safetensors file") != NULL);
    tb_free(&b);
    /* an empty header object is a valid file with no tensors */
    st_file(&b, "{}", 8, NULL, 0);
    CHECK_OK(open_copy(&b, &s));
    CHECK(s && xllm_st_n_tensors(s) == 0);
    xllm_st_close(s);
    tb_free(&b);
}

TEST(st_truncated_at_every_offset)
{
    tbytes b = {0};
    float w[4] = {1, 2, 3, 4};
    st_file(&b, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, w, 16);
    for (size_t n = 0; n < b.len; n++) {
        tbytes t = {0};
        xllm_st_set *s = NULL;
        tb_put(&t, b.p, n);
        CHECK_MSG(open_copy(&t, &s) != XLLM_OK && !s, "opened a file truncated to %zu bytes", n);
        CHECK(xllm_last_error()[0] != 0);
        xllm_st_close(s);
        tb_free(&t);
    }
    tb_free(&b);
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

TEST(st_write_roundtrip)
{
    char dir[64], path[128];
    float a[6] = {1, -2, 3, -4, 5, -6};
    uint16_t h[3] = {1, 2, 3}, bf[2] = {0x3f80, 0x4000};
    int64_t ids[2] = {-1, 1ll << 40};
    xllm_st_tensor ts[4];
    const char *meta[2] = {"producer", "xllm"};
    xllm_st_set *s = NULL;
    char *raw = NULL;
    size_t raw_len = 0;
    if (!tmp_dir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    memset(ts, 0, sizeof ts);
    ts[0] = (xllm_st_tensor){.name = "model.embed_tokens.weight", .dtype = XLLM_DTYPE_F32, .n_dims = 2,
                             .shape = {3, 2}, .data = a, .nbytes = 24};
    ts[1] = (xllm_st_tensor){.name = "h", .dtype = XLLM_DTYPE_F16, .n_dims = 1, .shape = {3}, .data = h, .nbytes = 6};
    ts[2] = (xllm_st_tensor){.name = "bf", .dtype = XLLM_DTYPE_BF16, .n_dims = 2, .shape = {1, 2}, .data = bf,
                             .nbytes = 4};
    ts[3] = (xllm_st_tensor){.name = "ids", .dtype = XLLM_DTYPE_I64, .n_dims = 1, .shape = {2}, .data = ids,
                             .nbytes = 16};
    CHECK_OK(xllm_st_write(path, ts, 4, meta, 1));

    /* raw layout: header length multiple of 8, '{' first, space padding, data in order */
    CHECK_OK(xllm_read_file(path, 1 << 20, &raw, &raw_len));
    if (raw) {
        const unsigned char *u = (const unsigned char *)raw;
        uint64_t hl = rd64(u);
        json_t *root;
        json_error_t err;
        CHECK_EQ_INT(hl % 8, 0);
        CHECK_EQ_INT(raw_len, 8 + hl + 24 + 6 + 4 + 16);
        CHECK(u[8] == '{');
        root = json_loadb(raw + 8, hl, 0, &err);
        CHECK(root != NULL);
        if (root) {
            json_t *e = json_object_get(root, "h");
            CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(root, "__metadata__"), "format")), "pt");
            CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(root, "__metadata__"), "producer")), "xllm");
            CHECK_EQ_STR(json_string_value(json_object_get(e, "dtype")), "F16");
            CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(e, "data_offsets"), 0)), 24);
            CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(e, "data_offsets"), 1)), 30);
            e = json_object_get(root, "model.embed_tokens.weight");
            CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(e, "shape"), 0)), 3);
            CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(e, "shape"), 1)), 2);
            json_decref(root);
        }
        CHECK(!memcmp(raw + 8 + hl, a, 24));
        CHECK(!memcmp(raw + 8 + hl + 24, h, 6));
        free(raw);
    }
    CHECK_OK(xllm_st_open_dir(dir, &s)); /* single model.safetensors */
    if (s) {
        const xllm_st_tensor *t = xllm_st_find(s, "ids");
        CHECK_EQ_INT(xllm_st_n_tensors(s), 4);
        CHECK(t && t->dtype == XLLM_DTYPE_I64 && !memcmp(t->data, ids, 16));
        t = xllm_st_find(s, "bf");
        CHECK(t && t->dtype == XLLM_DTYPE_BF16 && t->shape[0] == 1 && t->shape[1] == 2 && !memcmp(t->data, bf, 4));
        CHECK_EQ_STR(xllm_st_meta_get(s, "producer"), "xllm");
    }
    xllm_st_close(s);

    /* writer refusals */
    ts[1].nbytes = 5;
    CHECK(xllm_st_write(path, ts, 4, NULL, 0) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "'h'") != NULL);
    ts[1].nbytes = 6;
    ts[1].dtype = XLLM_DTYPE_Q4_K;
    CHECK(xllm_st_write(path, ts, 4, NULL, 0) == XLLM_ERR_UNSUPPORTED);
    ts[1].dtype = XLLM_DTYPE_F16;
    ts[1].name = "ids";
    CHECK(xllm_st_write(path, ts, 4, NULL, 0) == XLLM_ERR_INVALID_ARGUMENT);
    CHECK(strstr(xllm_last_error(), "duplicate") != NULL);
    rm_tree(dir);
}

static void write_shard(const char *dir, const char *name, const char *tname, float v)
{
    char path[256];
    float d[2] = {v, v + 1};
    xllm_st_tensor t = {.name = tname, .dtype = XLLM_DTYPE_F32, .n_dims = 1, .shape = {2}, .data = d, .nbytes = 8};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_OK(xllm_st_write(path, &t, 1, NULL, 0));
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(write_bytes(path, text, strlen(text)));
}

TEST(st_sharded_dir)
{
    char dir[64];
    xllm_st_set *s = NULL;
    if (!tmp_dir(dir, sizeof dir)) {
        CHECK(0);
        return;
    }
    write_shard(dir, "model-00001-of-00002.safetensors", "a", 1);
    write_shard(dir, "model-00002-of-00002.safetensors", "b", 10);
    write_text(dir, "model.safetensors.index.json",
               "{\"metadata\":{\"total_size\":16},\"weight_map\":{\"b\":\"model-00002-of-00002.safetensors\","
               "\"a\":\"model-00001-of-00002.safetensors\"}}");
    CHECK_OK(xllm_st_open_dir(dir, &s));
    if (s) {
        const xllm_st_tensor *a = xllm_st_find(s, "a"), *b = xllm_st_find(s, "b");
        float x;
        CHECK_EQ_INT(xllm_st_n_tensors(s), 2);
        CHECK_EQ_INT(xllm_st_n_files(s), 2);
        CHECK(a && b && a->file != b->file);
        if (b) {
            memcpy(&x, b->data, 4);
            CHECK(x == 10.0f);
            CHECK(strstr(xllm_st_file_path(s, b->file), "model-00002-of-00002.safetensors") != NULL);
        }
        CHECK_EQ_STR(xllm_st_meta_get(s, "format"), "pt");
    }
    xllm_st_close(s);
    s = NULL;

    /* listed in the wrong shard */
    write_text(dir, "model.safetensors.index.json",
               "{\"weight_map\":{\"a\":\"model-00002-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}}");
    CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "tensor 'a' is listed in model-00002-of-00002.safetensors but not found") != NULL);
    /* path traversal in a shard name */
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"../etc/passwd\"}}");
    CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "does not name a shard file") != NULL);
    /* missing shard */
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"gone.safetensors\"}}");
    CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_NOT_FOUND);
    CHECK(strstr(xllm_last_error(), "gone.safetensors") != NULL);
    /* the same tensor in two shards */
    write_shard(dir, "model-00002-of-00002.safetensors", "a", 10);
    write_text(dir, "model.safetensors.index.json",
               "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\"}}");
    CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "appears in both") != NULL);
    /* bad index JSON, no weight_map */
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\":");
    CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "model.safetensors.index.json: bad JSON") != NULL);
    write_text(dir, "model.safetensors.index.json", "{}");
    CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_FORMAT);
    CHECK(strstr(xllm_last_error(), "no weight_map") != NULL);
    CHECK(s == NULL);
    rm_tree(dir);

    /* an empty directory */
    if (tmp_dir(dir, sizeof dir)) {
        CHECK(xllm_st_open_dir(dir, &s) == XLLM_ERR_NOT_FOUND);
        CHECK(strstr(xllm_last_error(), "no model.safetensors") != NULL);
        rm_tree(dir);
    }
    CHECK(xllm_st_open_dir("/nonexistent/dir", &s) == XLLM_ERR_NOT_FOUND);
}
