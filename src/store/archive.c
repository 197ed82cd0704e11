/* archive.c - export / import of one model as a ustar archive. */
#include "store/archive.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "store/store_internal.h"

#define BLOCK 512
#define META_NAME "xllm-export.json"

/* ustar header fields: offset, length. */
enum { H_NAME = 0, H_MODE = 100, H_UID = 108, H_GID = 116, H_SIZE = 124, H_MTIME = 136, H_CHKSUM = 148,
       H_TYPE = 156, H_MAGIC = 257, H_VERSION = 263, H_PREFIX = 345 };

static void octal(unsigned char *f, size_t len, uint64_t v)
{
    snprintf((char *)f, len, "%0*llo", (int)len - 1, (unsigned long long)v);
}

static xllm_status header(unsigned char h[BLOCK], const char *name, uint64_t size, int64_t mtime)
{
    size_t n = strlen(name);
    unsigned sum = 0;
    memset(h, 0, BLOCK);
    if (n <= 100) {
        memcpy(h + H_NAME, name, n);
    } else {
        const char *cut = name + n - 100;
        while (*cut && *cut != '/')
            cut++;
        if (!*cut || (size_t)(cut - name) > 155)
            return xllm_fail(XLLM_ERR_LIMIT, "archive: path too long for tar: %s", name);
        memcpy(h + H_PREFIX, name, (size_t)(cut - name));
        memcpy(h + H_NAME, cut + 1, strlen(cut + 1));
    }
    octal(h + H_MODE, 8, 0644);
    octal(h + H_UID, 8, 0);
    octal(h + H_GID, 8, 0);
    if (size < 077777777777ull) {
        octal(h + H_SIZE, 12, size);
    } else {
        h[H_SIZE] = 0x80;
        for (int i = 11; i >= 4; i--, size >>= 8)
            h[H_SIZE + i] = (unsigned char)(size & 0xff);
    }
    octal(h + H_MTIME, 12, (uint64_t)mtime);
    h[H_TYPE] = '0';
    memcpy(h + H_MAGIC, "ustar", 6);
    memcpy(h + H_VERSION, "00", 2);
    memset(h + H_CHKSUM, ' ', 8);
    for (int i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + H_CHKSUM, 8, "%06o", sum);
    h[H_CHKSUM + 7] = ' ';
    return XLLM_OK;
}

static xllm_status put(FILE *f, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, f) != n)
        return xllm_fail(XLLM_ERR_IO, "archive: write failed: %s", strerror(errno));
    return XLLM_OK;
}

static xllm_status pad(FILE *f, uint64_t size)
{
    static const unsigned char zero[BLOCK];
    size_t r = (size_t)(size % BLOCK);
    return r ? put(f, zero, BLOCK - r) : XLLM_OK;
}

static xllm_status entry_bytes(FILE *f, const char *name, const void *p, size_t n)
{
    unsigned char h[BLOCK];
    xllm_status st = header(h, name, n, (int64_t)time(NULL));
    if (st == XLLM_OK)
        st = put(f, h, BLOCK);
    if (st == XLLM_OK)
        st = put(f, p, n);
    return st == XLLM_OK ? pad(f, n) : st;
}

static xllm_status entry_blob(xllm_store *s, FILE *f, const xllm_layer *l)
{
    unsigned char h[BLOCK], buf[1 << 16];
    char name[96];
    char *path = xllm_store_blob_path(s, l->digest);
    uint64_t done = 0;
    xllm_status st;
    FILE *in;
    if (!path)
        return XLLM_ERR_INVALID_ARGUMENT;
    in = fopen(path, "rb");
    if (!in) {
        st = xllm_fail(XLLM_ERR_NOT_FOUND, "archive: blob %s is missing: %s", path, strerror(errno));
        xllm_free(path);
        return st;
    }
    snprintf(name, sizeof name, "blobs/sha256-%s", l->digest + 7);
    st = header(h, name, l->size, (int64_t)time(NULL));
    if (st == XLLM_OK)
        st = put(f, h, BLOCK);
    while (st == XLLM_OK && done < l->size) {
        size_t want = l->size - done < sizeof buf ? (size_t)(l->size - done) : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        if (got == 0) {
            st = xllm_fail(XLLM_ERR_FORMAT, "archive: blob %s is shorter than the manifest says", path);
            break;
        }
        st = put(f, buf, got);
        done += got;
    }
    fclose(in);
    xllm_free(path);
    return st == XLLM_OK ? pad(f, l->size) : st;
}

xllm_status xllm_store_export(xllm_store *s, const char *name, const char *path)
{
    static const unsigned char zero[2 * BLOCK];
    xllm_store_entry e;
    xllm_manifest m;
    xllm_atomic_file af;
    char *bytes = NULL, *meta = NULL, rel[XLLM_NAME_STR_MAX + 16], full[XLLM_NAME_STR_MAX];
    size_t len = 0;
    json_t *o;
    xllm_status st = xllm_store_read_manifest(s, name, &e, &m, &bytes, &len);
    if (st != XLLM_OK)
        return st;
    xllm_model_name_full(&e.name, full, sizeof full);
    o = json_pack("{s:s, s:i, s:s, s:s, s:I}", "format", "xllm-export", "version", 1, "name", full,
                  "manifest_digest", e.digest, "created", (json_int_t)time(NULL));
    meta = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    st = meta ? xllm_atomic_open(&af, path) : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    if (st == XLLM_OK) {
        snprintf(rel, sizeof rel, "manifests/");
        xllm_model_name_path(&e.name, rel + 10, sizeof rel - 10);
        st = entry_bytes(af.f, META_NAME, meta, strlen(meta));
        if (st == XLLM_OK)
            st = entry_bytes(af.f, rel, bytes, len);
        if (st == XLLM_OK && m.has_config)
            st = entry_blob(s, af.f, &m.config);
        for (size_t i = 0; st == XLLM_OK && i < m.n_layers; i++) {
            int dup = 0;
            for (size_t j = 0; j < i; j++)
                dup |= !strcmp(m.layers[j].digest, m.layers[i].digest);
            if (!dup)
                st = entry_blob(s, af.f, &m.layers[i]);
        }
        if (st == XLLM_OK)
            st = put(af.f, zero, sizeof zero);
        if (st == XLLM_OK)
            st = xllm_atomic_commit(&af);
        else
            xllm_atomic_abort(&af);
    }
    free(meta);
    xllm_free(bytes);
    xllm_manifest_free(&m);
    return st;
}

/* ---- import ---------------------------------------------------------------------- */

static int all_zero(const unsigned char *h)
{
    for (int i = 0; i < BLOCK; i++)
        if (h[i])
            return 0;
    return 1;
}

static xllm_status parse_header(const unsigned char *h, char name[260], uint64_t *size)
{
    unsigned sum = 0, want;
    char prefix[156], nm[101], ck[9];
    for (int i = 0; i < BLOCK; i++)
        sum += (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
    memcpy(ck, h + H_CHKSUM, 8);
    ck[8] = 0;
    want = (unsigned)strtoul(ck, NULL, 8);
    if (want != sum || memcmp(h + H_MAGIC, "ustar", 5) != 0)
        return xllm_fail(XLLM_ERR_FORMAT, "archive: not a tar archive made by xllm export (bad header)");
    if (h[H_SIZE] & 0x80) {
        *size = 0;
        for (int i = 4; i < 12; i++)
            *size = (*size << 8) | h[H_SIZE + i];
    } else {
        char sz[13];
        memcpy(sz, h + H_SIZE, 12);
        sz[12] = 0;
        *size = strtoull(sz, NULL, 8);
    }
    memcpy(nm, h + H_NAME, 100);
    nm[100] = 0;
    memcpy(prefix, h + H_PREFIX, 155);
    prefix[155] = 0;
    if (prefix[0])
        snprintf(name, 260, "%s/%s", prefix, nm);
    else
        snprintf(name, 260, "%s", nm);
    if (h[H_TYPE] != '0' && h[H_TYPE] != 0)
        return xllm_fail(XLLM_ERR_FORMAT, "archive: entry %s is not a plain file", name);
    return XLLM_OK;
}

static xllm_status read_exact(FILE *f, void *p, size_t n, const char *path)
{
    if (n && fread(p, 1, n, f) != n)
        return xllm_fail(XLLM_ERR_FORMAT, "%s: the archive ends early (truncated)", path);
    return XLLM_OK;
}

static xllm_status read_small(FILE *f, uint64_t size, char **out, const char *path)
{
    char *p;
    xllm_status st;
    if (size > XLLM_STORE_MAX_MANIFEST)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: metadata entry of %llu bytes", path, (unsigned long long)size);
    p = xllm_malloc((size_t)size + 1);
    if (!p)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    st = read_exact(f, p, (size_t)size, path);
    p[size] = 0;
    if (st == XLLM_OK) {
        unsigned char skip[BLOCK];
        size_t r = (size_t)(size % BLOCK);
        st = r ? read_exact(f, skip, BLOCK - r, path) : XLLM_OK;
    }
    if (st != XLLM_OK) {
        xllm_free(p);
        return st;
    }
    *out = p;
    return XLLM_OK;
}

static int listed(const xllm_manifest *m, const char *digest)
{
    if (m->has_config && !strcmp(m->config.digest, digest))
        return 1;
    for (size_t i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].digest, digest))
            return 1;
    return 0;
}

static xllm_status import_blob(xllm_store *s, FILE *f, const char *ename, uint64_t size, const xllm_manifest *m,
                               store_added *added, const char *path)
{
    char digest[XLLM_DIGEST_STR_LEN];
    unsigned char buf[1 << 16];
    xllm_blob_writer *w = NULL;
    uint64_t done = 0;
    int was_new = 0;
    xllm_status st;
    snprintf(digest, sizeof digest, "sha256:%s", ename + 13);
    if (strncmp(ename, "blobs/sha256-", 13) != 0 || !xllm_digest_valid(digest, 0) || !listed(m, digest))
        return xllm_fail(XLLM_ERR_FORMAT, "%s: unexpected entry '%s' (not a blob of the manifest)", path, ename);
    st = xllm_blob_writer_open(s, digest, &w);
    while (st == XLLM_OK && done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        st = read_exact(f, buf, want, path);
        if (st == XLLM_OK)
            st = xllm_blob_writer_write(w, buf, want);
        done += want;
    }
    if (st == XLLM_OK) {
        size_t r = (size_t)(size % BLOCK);
        st = r ? read_exact(f, buf, BLOCK - r, path) : XLLM_OK;
    }
    if (st != XLLM_OK) {
        xllm_blob_writer_abort(w);
        return st;
    }
    st = xllm_blob_writer_commit(w, NULL, NULL, &was_new);
    if (st != XLLM_OK)
        return xllm_fail_wrap(st, "%s: %s", path, ename);
    return was_new ? store_added_push(added, digest) : XLLM_OK;
}

static xllm_status check_complete(xllm_store *s, const xllm_manifest *m, const char *path)
{
    for (size_t i = 0; i <= m->n_layers; i++) {
        const xllm_layer *l = i < m->n_layers ? &m->layers[i] : &m->config;
        if (i == m->n_layers && !m->has_config)
            break;
        if (!xllm_store_has_blob(s, l->digest, l->size))
            return xllm_fail(XLLM_ERR_FORMAT, "%s: blob %s is missing from the archive", path, l->digest);
    }
    return XLLM_OK;
}

xllm_status xllm_store_import(xllm_store *s, const char *path, const char *name, char display[XLLM_NAME_STR_MAX])
{
    unsigned char h[BLOCK];
    char ename[260], *meta = NULL, *bytes = NULL;
    size_t bytes_len = 0;
    uint64_t size = 0;
    int entries = 0;
    xllm_model_name n;
    xllm_manifest m;
    store_added added = {0};
    xllm_status st = XLLM_OK;
    FILE *f = fopen(path, "rb");
    memset(&m, 0, sizeof m);
    memset(&n, 0, sizeof n);
    if (!f)
        return xllm_fail(errno == ENOENT ? XLLM_ERR_NOT_FOUND : XLLM_ERR_IO, "%s: %s", path, strerror(errno));
    while (st == XLLM_OK) {
        if (fread(h, 1, BLOCK, f) != BLOCK) {
            st = xllm_fail(XLLM_ERR_FORMAT, "%s: the archive ends early (truncated)", path);
            break;
        }
        if (all_zero(h))
            break;
        if (++entries > XLLM_ARCHIVE_MAX_ENTRIES) {
            st = xllm_fail(XLLM_ERR_LIMIT, "%s: more than %d entries", path, XLLM_ARCHIVE_MAX_ENTRIES);
            break;
        }
        st = parse_header(h, ename, &size);
        if (st != XLLM_OK)
            break;
        if (entries == 1) {
            json_t *o = NULL;
            const char *nm = NULL;
            if (strcmp(ename, META_NAME) != 0) {
                st = xllm_fail(XLLM_ERR_FORMAT, "%s: not made by xllm export (no %s first)", path, META_NAME);
                break;
            }
            st = read_small(f, size, &meta, path);
            if (st == XLLM_OK && (!(o = json_loads(meta, 0, NULL)) ||
                                  !(nm = json_string_value(json_object_get(o, "name")))))
                st = xllm_fail(XLLM_ERR_FORMAT, "%s: %s has no model name", path, META_NAME);
            if (st == XLLM_OK)
                st = xllm_model_name_parse(name ? name : nm, &n);
            json_decref(o);
        } else if (entries == 2) {
            if (strncmp(ename, "manifests/", 10) != 0) {
                st = xllm_fail(XLLM_ERR_FORMAT, "%s: the second entry is not the manifest", path);
                break;
            }
            st = read_small(f, size, &bytes, path);
            bytes_len = (size_t)size;
            if (st == XLLM_OK)
                st = xllm_manifest_parse(bytes, bytes_len, &m);
        } else {
            st = import_blob(s, f, ename, size, &m, &added, path);
        }
    }
    if (st == XLLM_OK && entries < 2)
        st = xllm_fail(XLLM_ERR_FORMAT, "%s: no model in the archive", path);
    if (st == XLLM_OK)
        st = check_complete(s, &m, path);
    if (st == XLLM_OK)
        st = xllm_store_write_manifest(s, &n, bytes, bytes_len);
    if (st == XLLM_OK) {
        store_added_free(&added);
        if (display)
            xllm_model_name_display(&n, display, XLLM_NAME_STR_MAX);
    } else {
        store_added_rollback(s, &added);
    }
    fclose(f);
    xllm_free(meta);
    xllm_free(bytes);
    xllm_manifest_free(&m);
    return st;
}
