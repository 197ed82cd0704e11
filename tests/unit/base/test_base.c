/* test_base.c - status messages, buffers, fp16 conversions, atomic files. */
#include <stdlib.h>
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
