/* store_util.h - helpers of the store tests: scratch directories, a hash of
 * a whole directory tree (names, types, link targets, contents) to prove a
 * failed operation left a store byte-identical, small files, and the registry
 * fixture server (tests/registry_fixture.py) started on a free loopback port
 * with a hard time limit and stopped after. Header-only (static functions). */
#ifndef XLLM_TEST_STORE_UTIL_H
#define XLLM_TEST_STORE_UTIL_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/sha256.h"

static inline int su_mkdtemp(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/xllm-store-XXXXXX");
    return mkdtemp(buf) != NULL;
}

static inline void su_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *p;
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !(p = xllm_path_join(dir, e->d_name)))
            continue;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            su_rm_tree(p);
        else
            unlink(p);
        xllm_free(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static inline void su_hash_dir(xllm_sha256 *h, const char *dir, const char *rel)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        char path[4096], r[4096];
        struct stat sb;
        if (strcmp(nm, ".") && strcmp(nm, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, nm);
            snprintf(r, sizeof r, "%s/%s", rel, nm);
            xllm_sha256_update(h, r, strlen(r) + 1);
            if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
                xllm_sha256_update(h, "D", 1);
                su_hash_dir(h, path, r);
            } else if (S_ISLNK(sb.st_mode)) {
                char t[4096];
                ssize_t k = readlink(path, t, sizeof t);
                xllm_sha256_update(h, "L", 1);
                if (k > 0)
                    xllm_sha256_update(h, t, (size_t)k);
            } else {
                char *data = NULL;
                size_t len = 0;
                xllm_sha256_update(h, "F", 1);
                if (xllm_read_file(path, 1u << 30, &data, &len) == XLLM_OK)
                    xllm_sha256_update(h, data, len);
                xllm_free(data);
            }
        }
        free(list[i]);
    }
    free(list);
}

/* Hash of everything under dir (64 hex + NUL). */
static inline void su_tree_hash(const char *dir, char hex[65])
{
    xllm_sha256 h;
    xllm_sha256_init(&h);
    su_hash_dir(&h, dir, "");
    xllm_sha256_final(&h, hex);
}

static inline int su_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static inline int su_file_contains(const char *path, const char *text)
{
    char *data = NULL;
    size_t len = 0;
    int found = xllm_read_file(path, 1 << 24, &data, &len) == XLLM_OK && memmem(data, len, text, strlen(text)) != NULL;
    xllm_free(data);
    return found;
}

/* Exit status of a shell command. */
static inline int su_run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* ---- the registry fixture -------------------------------------------------- */

typedef struct su_fixture {
    pid_t pid;
    int port;
    char dir[64];   /* scratch: port file, request log */
    char url[64];   /* http://127.0.0.1:PORT */
} su_fixture;

/* Start it and point XLLM_OLLAMA_REGISTRY / XLLM_HF_ENDPOINT / XLLM_CACHE_DIR
 * at it. 0 when python3 or the script is missing (the test skips). */
static inline int su_fixture_start(su_fixture *f)
{
    char port_file[128], log_file[128], cache[128];
    memset(f, 0, sizeof f[0]);
    if (!xllm_path_exists("tests/registry_fixture.py") || su_run("command -v python3 >/dev/null 2>&1") != 0)
        return 0;
    if (!su_mkdtemp(f->dir, sizeof f->dir))
        return 0;
    snprintf(port_file, sizeof port_file, "%s/port", f->dir);
    snprintf(log_file, sizeof log_file, "%s/requests.log", f->dir);
    f->pid = fork();
    if (f->pid == 0) {
        execlp("python3", "python3", "tests/registry_fixture.py", "--port-file", port_file, "--log", log_file,
               "--time-limit", "120", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && f->pid > 0; i++) { /* at most 10 s */
        char *text = NULL;
        size_t len = 0;
        struct timespec ts = {0, 50 * 1000 * 1000};
        if (xllm_read_file(port_file, 64, &text, &len) == XLLM_OK) {
            f->port = atoi(text);
            xllm_free(text);
            break;
        }
        xllm_clear_error();
        nanosleep(&ts, NULL);
    }
    if (f->port <= 0) {
        if (f->pid > 0) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, NULL, 0);
        }
        su_rm_tree(f->dir);
        return 0;
    }
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    snprintf(cache, sizeof cache, "%s/cache", f->dir);
    setenv("XLLM_OLLAMA_REGISTRY", f->url, 1);
    setenv("XLLM_HF_ENDPOINT", f->url, 1);
    setenv("XLLM_CACHE_DIR", cache, 1);
    unsetenv("HF_TOKEN");
    return 1;
}

static inline void su_fixture_stop(su_fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    f->pid = 0;
    unsetenv("XLLM_OLLAMA_REGISTRY");
    unsetenv("XLLM_HF_ENDPOINT");
    unsetenv("XLLM_CACHE_DIR");
    if (f->dir[0])
        su_rm_tree(f->dir);
}

static inline int su_fixture_log_contains(const su_fixture *f, const char *text)
{
    char p[128];
    snprintf(p, sizeof p, "%s/requests.log", f->dir);
    return su_file_contains(p, text);
}

#endif
