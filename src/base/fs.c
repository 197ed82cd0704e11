/* fs.c - mmap, whole-file reads and atomic writes. */
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

/* The file mappings open in this process, with a descriptor each, so that a
 * reader of a mapped range may pread it instead of touching the mapping
 * (xllm_mmap_pread) and may know that its pages can be dropped. */
#define MAX_MAPS 256

static struct {
    const unsigned char *data;
    size_t size;
    int fd;
} maps[MAX_MAPS];
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;

static void maps_add(const unsigned char *data, size_t size, int fd)
{
    int added = 0;
    pthread_mutex_lock(&maps_lock);
    for (int i = 0; i < MAX_MAPS && !added; i++)
        if (!maps[i].data) {
            maps[i].data = data;
            maps[i].size = size;
            maps[i].fd = fd;
            added = 1;
        }
    pthread_mutex_unlock(&maps_lock);
    if (!added) /* the table is full: the mapping works, only without pread */
        close(fd);
}

static void maps_remove(const unsigned char *data)
{
    pthread_mutex_lock(&maps_lock);
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].data == data) {
            close(maps[i].fd);
            maps[i].data = NULL;
            break;
        }
    pthread_mutex_unlock(&maps_lock);
}

/* A duplicate of the descriptor (the caller closes it; a concurrent close
 * of the mapping cannot hand its number to another file) and the file offset
 * of [p, p + n) when it lies in one registered mapping: -1 otherwise. */
static int maps_find(const void *p, size_t n, off_t *off)
{
    uintptr_t a = (uintptr_t)p;
    int fd = -1;
    pthread_mutex_lock(&maps_lock);
    for (int i = 0; i < MAX_MAPS && fd < 0; i++) {
        uintptr_t b = (uintptr_t)maps[i].data;
        if (maps[i].data && a >= b && a - b <= maps[i].size && n <= maps[i].size - (a - b)) {
            fd = fcntl(maps[i].fd, F_DUPFD_CLOEXEC, 0);
            *off = (off_t)(a - b);
            if (fd < 0)
                break;
        }
    }
    pthread_mutex_unlock(&maps_lock);
    return fd;
}

xllm_status xllm_mmap_open(xllm_mmap *m, const char *path)
{
    struct stat sb;
    void *p;
    int fd;
    m->data = NULL;
    m->size = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xllm_fail(errno == ENOENT ? XLLM_ERR_NOT_FOUND : XLLM_ERR_IO, "%s: cannot open: %s",
                         path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return xllm_fail(XLLM_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return XLLM_OK;
    }
    p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return xllm_fail(XLLM_ERR_IO, "%s: cannot map %lld bytes: %s", path,
                         (long long)sb.st_size, strerror(e));
    }
    m->data = p;
    m->size = (size_t)sb.st_size;
    maps_add(m->data, m->size, fd);
    return XLLM_OK;
}

void xllm_mmap_close(xllm_mmap *m)
{
    if (m->data) {
        maps_remove(m->data);
        munmap((void *)m->data, m->size);
    }
    m->data = NULL;
    m->size = 0;
}

int xllm_mmap_contains(const void *p, size_t n)
{
    off_t off;
    int fd = maps_find(p, n, &off);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

xllm_status xllm_mmap_pread(const void *p, size_t n, void *dst)
{
    off_t off;
    int fd = maps_find(p, n, &off);
    if (fd < 0)
        return XLLM_ERR_NOT_FOUND;
    xllm_status rc = XLLM_OK;
    for (size_t done = 0; done < n && rc == XLLM_OK;) {
        ssize_t r = pread(fd, (unsigned char *)dst + done, n - done, off + (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) /* an error, or the file shrank under the mapping */
            rc = XLLM_ERR_IO;
        else
            done += (size_t)r;
    }
    close(fd);
    return rc;
}

xllm_status xllm_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    xllm_status rc = XLLM_ERR_IO;
    FILE *f = NULL;
    char *data = NULL;
    long size;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    f = fopen(path, "rb");
    if (!f) {
        rc = xllm_fail(errno == ENOENT ? XLLM_ERR_NOT_FOUND : XLLM_ERR_IO, "%s: cannot open: %s",
                       path, strerror(errno));
        goto out;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = xllm_fail(XLLM_ERR_IO, "%s: cannot determine size", path);
        goto out;
    }
    if ((size_t)size > max) {
        rc = xllm_fail(XLLM_ERR_LIMIT, "%s: %ld bytes exceeds the limit of %zu", path, size, max);
        goto out;
    }
    data = xllm_malloc((size_t)size + 1);
    if (!data) {
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory reading %ld bytes", path, size);
        goto out;
    }
    if (fread(data, 1, (size_t)size, f) != (size_t)size) {
        rc = xllm_fail(XLLM_ERR_IO, "%s: short read", path);
        goto out;
    }
    data[size] = 0;
    *out = data;
    data = NULL;
    if (out_len)
        *out_len = (size_t)size;
    rc = XLLM_OK;
out:
    if (f)
        fclose(f);
    xllm_free(data);
    return rc;
}

int xllm_path_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int xllm_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *xllm_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = xllm_malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

xllm_status xllm_atomic_open(xllm_atomic_file *af, const char *path)
{
    size_t n = strlen(path);
    af->f = NULL;
    af->final_path = xllm_strdup(path);
    af->tmp_path = xllm_malloc(n + sizeof ".partial");
    if (!af->final_path || !af->tmp_path) {
        xllm_atomic_abort(af);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".partial", sizeof ".partial");
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) {
        xllm_status st = xllm_fail(XLLM_ERR_IO, "%s: cannot create: %s", af->tmp_path, strerror(errno));
        xllm_atomic_abort(af);
        return st;
    }
    return XLLM_OK;
}

xllm_status xllm_atomic_commit(xllm_atomic_file *af)
{
    xllm_status rc = XLLM_OK;
    int bad = fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0;
    int err = errno;
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    af->f = NULL;
    if (bad)
        rc = xllm_fail(XLLM_ERR_IO, "%s: write failed: %s", af->final_path, strerror(err));
    else if (rename(af->tmp_path, af->final_path) != 0)
        rc = xllm_fail(XLLM_ERR_IO, "%s: rename failed: %s", af->final_path, strerror(errno));
    xllm_atomic_abort(af);
    return rc;
}

void xllm_atomic_abort(xllm_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp_path)
        unlink(af->tmp_path);
    xllm_free(af->tmp_path);
    xllm_free(af->final_path);
    af->tmp_path = af->final_path = NULL;
}
