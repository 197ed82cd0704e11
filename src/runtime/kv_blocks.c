/* kv_blocks.c - KV block reference counts, LRU free list and the prefix-cache
 * table (chained buckets of block ids keyed by the content hash). */
#include "runtime/kv_blocks.h"

#include <string.h>

#include "base/alloc.h"

struct xllm_kv_blocks {
    int32_t n;
    int32_t *ref;        /* [n] */
    uint64_t *key;       /* [n] 0 = unkeyed */
    uint64_t *parent;    /* [n] parent key of a keyed block */
    uint64_t *salt;      /* [n] */
    int32_t *tokens;     /* [n][XLLM_KV_BLOCK_SIZE] of a keyed block */
    int32_t *prev, *next; /* [n] free list links (-1 = none) */
    int32_t head, tail, n_free, n_cached;
    int32_t *bucket;     /* [n_buckets] first block of the chain */
    int32_t *chain;      /* [n] next block in the same bucket */
    uint32_t bucket_mask;
};

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

uint64_t xllm_kv_block_key(uint64_t parent, const int32_t *tokens, uint64_t salt)
{
    uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ull) ^ mix64(salt + 0x632be59bd9b4e019ull);
    for (int i = 0; i < XLLM_KV_BLOCK_SIZE; i++)
        h = mix64(h ^ ((uint64_t)(uint32_t)tokens[i] + ((uint64_t)i << 32)));
    return h ? h : 1;
}

xllm_status xllm_kv_blocks_new(int32_t n, xllm_kv_blocks **out)
{
    xllm_kv_blocks *p;
    uint32_t nb = 16;
    *out = NULL;
    if (n < 1)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "kv blocks: need at least one block, got %d", n);
    while (nb < (uint32_t)n * 2u && nb < (1u << 30))
        nb <<= 1;
    if (!(p = xllm_calloc(1, sizeof *p)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "kv blocks");
    p->n = n;
    p->ref = xllm_calloc((size_t)n, sizeof *p->ref);
    p->key = xllm_calloc((size_t)n, sizeof *p->key);
    p->parent = xllm_calloc((size_t)n, sizeof *p->parent);
    p->salt = xllm_calloc((size_t)n, sizeof *p->salt);
    p->tokens = xllm_calloc((size_t)n * XLLM_KV_BLOCK_SIZE, sizeof *p->tokens);
    p->prev = xllm_calloc((size_t)n, sizeof *p->prev);
    p->next = xllm_calloc((size_t)n, sizeof *p->next);
    p->chain = xllm_calloc((size_t)n, sizeof *p->chain);
    p->bucket = xllm_calloc(nb, sizeof *p->bucket);
    if (!p->ref || !p->key || !p->parent || !p->salt || !p->tokens || !p->prev || !p->next || !p->chain ||
        !p->bucket) {
        xllm_kv_blocks_free(p);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "kv blocks: tables for %d blocks", n);
    }
    p->bucket_mask = nb - 1;
    for (uint32_t i = 0; i < nb; i++)
        p->bucket[i] = -1;
    for (int32_t b = 0; b < n; b++) {
        p->prev[b] = b - 1;
        p->next[b] = b + 1 < n ? b + 1 : -1;
        p->chain[b] = -1;
    }
    p->head = 0;
    p->tail = n - 1;
    p->n_free = n;
    *out = p;
    return XLLM_OK;
}

void xllm_kv_blocks_free(xllm_kv_blocks *p)
{
    if (!p)
        return;
    xllm_free(p->ref);
    xllm_free(p->key);
    xllm_free(p->parent);
    xllm_free(p->salt);
    xllm_free(p->tokens);
    xllm_free(p->prev);
    xllm_free(p->next);
    xllm_free(p->chain);
    xllm_free(p->bucket);
    xllm_free(p);
}

static void free_list_remove(xllm_kv_blocks *p, int32_t b)
{
    if (p->prev[b] >= 0)
        p->next[p->prev[b]] = p->next[b];
    else
        p->head = p->next[b];
    if (p->next[b] >= 0)
        p->prev[p->next[b]] = p->prev[b];
    else
        p->tail = p->prev[b];
    p->prev[b] = p->next[b] = -1;
    p->n_free--;
}

static void free_list_push_tail(xllm_kv_blocks *p, int32_t b)
{
    p->prev[b] = p->tail;
    p->next[b] = -1;
    if (p->tail >= 0)
        p->next[p->tail] = b;
    else
        p->head = b;
    p->tail = b;
    p->n_free++;
}

static void unkey(xllm_kv_blocks *p, int32_t b)
{
    int32_t *link = &p->bucket[p->key[b] & p->bucket_mask];
    while (*link >= 0 && *link != b)
        link = &p->chain[*link];
    if (*link == b)
        *link = p->chain[b];
    p->chain[b] = -1;
    p->key[b] = 0;
}

int32_t xllm_kv_blocks_alloc(xllm_kv_blocks *p)
{
    int32_t b = p->head;
    if (b < 0)
        return -1;
    free_list_remove(p, b);
    if (p->key[b]) {
        unkey(p, b);
        p->n_cached--;
    }
    p->ref[b] = 1;
    return b;
}

static int same_content(const xllm_kv_blocks *p, int32_t b, uint64_t key, uint64_t parent, const int32_t *tokens,
                        uint64_t salt)
{
    return p->key[b] == key && p->parent[b] == parent && p->salt[b] == salt &&
           !memcmp(p->tokens + (size_t)b * XLLM_KV_BLOCK_SIZE, tokens, XLLM_KV_BLOCK_SIZE * sizeof *tokens);
}

static int32_t find(const xllm_kv_blocks *p, uint64_t key)
{
    int32_t b = p->bucket[key & p->bucket_mask];
    while (b >= 0 && p->key[b] != key)
        b = p->chain[b];
    return b;
}

int32_t xllm_kv_blocks_lookup(xllm_kv_blocks *p, uint64_t key, uint64_t parent, const int32_t *tokens,
                              uint64_t salt)
{
    int32_t b = find(p, key);
    if (b < 0 || !same_content(p, b, key, parent, tokens, salt))
        return -1;
    if (p->ref[b] == 0) {
        free_list_remove(p, b);
        p->n_cached--;
    }
    p->ref[b]++;
    return b;
}

void xllm_kv_blocks_publish(xllm_kv_blocks *p, int32_t b, uint64_t key, uint64_t parent, const int32_t *tokens,
                            uint64_t salt)
{
    uint32_t h;
    if (b < 0 || b >= p->n || p->key[b] || find(p, key) >= 0)
        return;
    h = (uint32_t)(key & p->bucket_mask);
    p->key[b] = key;
    p->parent[b] = parent;
    p->salt[b] = salt;
    memcpy(p->tokens + (size_t)b * XLLM_KV_BLOCK_SIZE, tokens, XLLM_KV_BLOCK_SIZE * sizeof *tokens);
    p->chain[b] = p->bucket[h];
    p->bucket[h] = b;
}

void xllm_kv_blocks_ref(xllm_kv_blocks *p, int32_t b) { p->ref[b]++; }

void xllm_kv_blocks_release(xllm_kv_blocks *p, int32_t b)
{
    if (b < 0 || b >= p->n || p->ref[b] <= 0)
        return;
    if (--p->ref[b] == 0) {
        free_list_push_tail(p, b);
        if (p->key[b])
            p->n_cached++;
    }
}

int32_t xllm_kv_blocks_total(const xllm_kv_blocks *p) { return p->n; }
int32_t xllm_kv_blocks_free_count(const xllm_kv_blocks *p) { return p->n_free; }
int32_t xllm_kv_blocks_cached_count(const xllm_kv_blocks *p) { return p->n_cached; }
int32_t xllm_kv_blocks_refcount(const xllm_kv_blocks *p, int32_t b) { return p->ref[b]; }
