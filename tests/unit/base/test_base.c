/* test_base.c - status messages, buffers, fp16 conversions, atomic files,
 * the file-mapping registry and page allocations. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/fp16.h"
#include "base/fs.h"
#include "base/status.h"

TEST(status_message_and_wrap)
{
    CHECK_EQ_INT(xllm_fail(XLLM_ERR_FORMAT, "bad %d", 7), XLLM_ERR_FORMAT);
    CHECK_EQ_STR(xllm_last_error(), "bad 7");
    xllm_fail_wrap(XLLM_ERR_FORMAT, "file %s", "a.gguf");
    CHECK_EQ_STR(xllm_last_error(), "file a.gguf: bad 7");
    CHECK_EQ_STR(xllm_status_str(XLLM_ERR_OUT_OF_MEMORY), "out of memory");
}

TEST(buf_cap_enforced)
{
    xllm_buf b;
    xllm_buf_init(&b, 8);
    CHECK_OK(xllm_buf_puts(&b, "abcd"));
    CHECK_OK(xllm_buf_printf(&b, "%d", 123));
    CHECK_EQ_STR(b.data, "abcd123");
    CHECK_EQ_INT(xllm_buf_puts(&b, "xy"), XLLM_ERR_LIMIT);
    xllm_buf_free(&b);
}

TEST(alloc_fail_injection)
{
    void *p;
    xllm_alloc_fail_after(1);
    p = xllm_malloc(10);
    CHECK(p != NULL);
    CHECK(xllm_malloc(10) == NULL);
    xllm_alloc_fail_after(-1);
    xllm_free(p);
}

TEST(fp16_roundtrip_exhaustive)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = xllm_f16_to_f32((uint16_t)h);
        uint16_t back = xllm_f32_to_f16(f);
        if (f != f)
            continue;
        if (back != h)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(xllm_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(xllm_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(xllm_f32_to_f16(1e6f), 0x7c00);
    CHECK_EQ_INT(xllm_f32_to_f16(1.00048828125f), 0x3c00); /* tie rounds to even */
    CHECK_EQ_INT(xllm_f32_to_bf16(1.0f), 0x3f80);
    CHECK_NEAR(xllm_bf16_to_f32(0x4049), 3.140625, 0);
}

TEST(atomic_file_commit_and_abort)
{
    char dir[] = "/tmp/xllm-test-XXXXXX";
    char *path;
    xllm_atomic_file af;
    CHECK(mkdtemp(dir) != NULL);
    path = xllm_path_join(dir, "out.bin");
    CHECK_OK(xllm_atomic_open(&af, path));
    fputs("hello", af.f);
    xllm_atomic_abort(&af);
    CHECK(!xllm_path_exists(path));
    CHECK_OK(xllm_atomic_open(&af, path));
    fputs("hello", af.f);
    CHECK_OK(xllm_atomic_commit(&af));
    CHECK(xllm_path_exists(path));
    unlink(path);
    rmdir(dir);
    xllm_free(path);
}

/* The mapping registry: pread of a mapped range gives the mapped bytes;
 * ranges outside any mapping, straddling its end, or of a closed mapping are
 * refused; heap memory is not a mapping. Pages backed lazily come zeroed. */
TEST(mmap_registry_pread_and_pages)
{
    char dir[] = "/tmp/xllm-test-XXXXXX";
    unsigned char data[10000], got[10000];
    xllm_mmap m;
    CHECK(mkdtemp(dir) != NULL);
    char *path = xllm_path_join(dir, "m.bin");
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    CHECK(f && fwrite(data, 1, sizeof data, f) == sizeof data);
    if (f)
        fclose(f);
    CHECK_OK(xllm_mmap_open(&m, path));
    CHECK(xllm_mmap_contains(m.data + 100, 5000));
    CHECK(xllm_mmap_contains(m.data, m.size));
    CHECK(!xllm_mmap_contains(m.data + 9000, 1001)); /* past the end */
    CHECK(!xllm_mmap_contains(data, 10));
    CHECK_OK(xllm_mmap_pread(m.data + 4093, 5000, got));
    CHECK(memcmp(got, data + 4093, 5000) == 0);
    CHECK_EQ_INT(xllm_mmap_pread(data, 10, got), XLLM_ERR_NOT_FOUND);
    const unsigned char *old = m.data;
    xllm_mmap_close(&m);
    CHECK(!xllm_mmap_contains(old, 10));
    unlink(path);
    rmdir(dir);
    xllm_free(path);

    size_t n = ((size_t)5 << 20) + 123; /* huge-page aligned, with a tail */
    unsigned char *p = xllm_pages_alloc(n, 1);
    CHECK(p != NULL && ((uintptr_t)p & (((size_t)2 << 20) - 1)) == 0);
    if (p) {
        CHECK(p[0] == 0 && p[n - 1] == 0);
        p[n - 1] = 1;
        xllm_pages_free(p, n);
    }
    CHECK(xllm_pages_alloc(0, 0) == NULL);
}
