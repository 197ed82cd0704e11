/* fmt_util.h - helpers shared by the format tests: a scratch directory under
 * /tmp and a little-endian byte builder for hand-crafting files (an oracle
 * independent of the writer under test). Header-only, static functions. */
#ifndef XLLM_TEST_FMT_UTIL_H
#define XLLM_TEST_FMT_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Growable byte string; aborts the test binary on OOM (tests only). */
typedef struct tbytes {
    unsigned char *p;
    size_t len, cap;
} tbytes;

static inline void tb_put(tbytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}
static inline void tb_u8(tbytes *b, uint8_t v) { tb_put(b, &v, 1); }
static inline void tb_u32(tbytes *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    tb_put(b, x, 4);
}
static inline void tb_u64(tbytes *b, uint64_t v)
{
    tb_u32(b, (uint32_t)v);
    tb_u32(b, (uint32_t)(v >> 32));
}
static inline void tb_str(tbytes *b, const char *s)
{
    tb_u64(b, strlen(s));
    tb_put(b, s, strlen(s));
}
static inline void tb_pad(tbytes *b, size_t align)
{
    while (b->len % align)
        tb_u8(b, 0);
}
static inline void tb_free(tbytes *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* A fresh directory under /tmp (path in buf); returns 0 on failure. */
static inline int tmp_dir(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/xllm-fmt-XXXXXX");
    return mkdtemp(buf) != NULL;
}

static inline int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return 0;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Remove dir and the plain files in it (one level, as the tests create). */
static inline void rm_tree(const char *dir)
{
    char cmd[512];
    if (strncmp(dir, "/tmp/xllm-fmt-", 14) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

#endif
