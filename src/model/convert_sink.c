/* convert_sink.c - streaming GGUF output: tensor data produced one tensor at
 * a time goes to an unlinked scratch file next to the output, which is then
 * mapped and handed to the atomic GGUF writer. Memory stays bounded by the
 * page cache; nothing is left behind on failure (the scratch file has no name). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/alloc.h"
#include "model/convert.h"

static FILE *scratch_open(const char *path)
{
    size_t n = strlen(path);
    char *tmpl = xllm_malloc(n + sizeof ".data-XXXXXX.partial");
    FILE *f = NULL;
    int fd;
    if (!tmpl)
        return NULL;
    memcpy(tmpl, path, n);
    memcpy(tmpl + n, ".data-XXXXXX.partial", sizeof ".data-XXXXXX.partial");
    fd = mkstemps(tmpl, (int)strlen(".partial"));
    if (fd >= 0) {
        unlink(tmpl);
        f = fdopen(fd, "w+b");
        if (!f)
            close(fd);
    }
    xllm_free(tmpl);
    return f;
}

/* Refuse early when the disk cannot hold the scratch data plus the output. */
static xllm_status check_space(const char *path, const xllm_gguf_tensor *infos, int64_t n)
{
    struct statvfs sv;
    char *dir = xllm_strdup(path), *slash;
    uint64_t need = 0, have;
    int ok;
    if (!dir)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = 0;
    ok = statvfs(slash ? dir : ".", &sv) == 0;
    xllm_free(dir);
    for (int64_t i = 0; i < n; i++)
        need += infos[i].nbytes;
    need *= 2;
    have = ok ? (uint64_t)sv.f_bavail * sv.f_frsize : UINT64_MAX;
    if (have < need)
        return xllm_fail(XLLM_ERR_IO, "%s: needs %.1f GB of free disk while writing (tensor data twice), %.1f GB free",
                         path, (double)need / 1e9, (double)have / 1e9);
    return XLLM_OK;
}

xllm_status xllm_conv_write_gguf(xllm_gguf *meta, const xllm_gguf_tensor *infos, int64_t n, xllm_conv_fill_fn fill,
                                 void *ctx, const char *path)
{
    static const unsigned char empty[1];
    xllm_status st = XLLM_OK;
    uint64_t *off = NULL, pos = 0;
    unsigned char *map = NULL;
    FILE *f = NULL;
    if ((st = check_space(path, infos, n)) != XLLM_OK)
        goto out;
    if (n > 0 && !(off = xllm_calloc((size_t)n, sizeof *off))) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    if (n > 0 && !(f = scratch_open(path))) {
        st = xllm_fail(XLLM_ERR_IO, "%s: cannot create a scratch file next to it: %s", path, strerror(errno));
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        off[i] = pos;
        if ((st = fill(ctx, i, f)) != XLLM_OK)
            goto out;
        if (ferror(f) || ftello(f) < 0 || (uint64_t)ftello(f) != pos + infos[i].nbytes) {
            st = xllm_fail(XLLM_ERR_IO, "%s: writing tensor '%s' (%llu bytes) failed: %s", path, infos[i].name,
                           (unsigned long long)infos[i].nbytes, ferror(f) ? strerror(errno) : "short write");
            goto out;
        }
        pos += infos[i].nbytes;
    }
    if (f && fflush(f) != 0) {
        st = xllm_fail(XLLM_ERR_IO, "%s: writing tensor data failed: %s", path, strerror(errno));
        goto out;
    }
    if (pos > 0) {
        map = mmap(NULL, pos, PROT_READ, MAP_SHARED, fileno(f), 0);
        if (map == MAP_FAILED) {
            map = NULL;
            st = xllm_fail(XLLM_ERR_IO, "%s: cannot map %llu bytes of scratch data: %s", path,
                           (unsigned long long)pos, strerror(errno));
            goto out;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        const void *data = infos[i].nbytes ? (const void *)(map + off[i]) : (const void *)empty;
        if ((st = xllm_gguf_add_tensor(meta, infos[i].name, infos[i].dtype, infos[i].n_dims, infos[i].ne, data,
                                       infos[i].nbytes)) != XLLM_OK)
            goto out;
    }
    st = xllm_gguf_write(meta, path);
out:
    xllm_gguf_close(meta);
    if (map)
        munmap(map, pos);
    if (f)
        fclose(f);
    xllm_free(off);
    return st;
}
