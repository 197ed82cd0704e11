/* kv_blocks.h - the KV block pool's bookkeeping: reference counts, an LRU
 * free list, and the prefix cache (full blocks found by a chained content
 * hash). The engine owns the KV memory; this module only decides which block
 * ids hold what.
 *
 * A full block's key is hash(parent key, its 16 token ids, salt); the block
 * also keeps its tokens and parent key so that a lookup is checked exactly
 * (a 64-bit collision can never hand out wrong KV). Freed blocks go to the
 * tail of the free list but keep their key until they are handed out again,
 * so a later request can still hit them; allocation takes the head (the
 * least recently freed).
 *
 * Ownership: the pool owns its arrays. Threading: single thread (the
 * scheduler's). No operation allocates after xllm_kv_blocks_new. */
#ifndef XLLM_RUNTIME_KV_BLOCKS_H
#define XLLM_RUNTIME_KV_BLOCKS_H

#include <stdint.h>

#include "base/status.h"
#include "xllm/engine.h"

typedef struct xllm_kv_blocks xllm_kv_blocks;

xllm_status xllm_kv_blocks_new(int32_t n_blocks, xllm_kv_blocks **out);
void xllm_kv_blocks_free(xllm_kv_blocks *p);

/* Key of a full block of XLLM_KV_BLOCK_SIZE tokens after a block with key
 * parent (0 for the first block). Never returns 0. */
uint64_t xllm_kv_block_key(uint64_t parent, const int32_t *tokens, uint64_t salt);

/* A fresh block (refcount 1, no key), or -1 when none is free. */
int32_t xllm_kv_blocks_alloc(xllm_kv_blocks *p);
/* The cached block holding exactly these tokens after parent (refcount +1),
 * or -1 on a miss. */
int32_t xllm_kv_blocks_lookup(xllm_kv_blocks *p, uint64_t key, uint64_t parent, const int32_t *tokens,
                              uint64_t salt);
/* Record that block b (owned, full, computed) holds tokens after parent. If
 * another block already has the key, b stays unkeyed. */
void xllm_kv_blocks_publish(xllm_kv_blocks *p, int32_t b, uint64_t key, uint64_t parent, const int32_t *tokens,
                            uint64_t salt);
void xllm_kv_blocks_ref(xllm_kv_blocks *p, int32_t b);
/* Drop one reference; at zero the block joins the free list's tail. */
void xllm_kv_blocks_release(xllm_kv_blocks *p, int32_t b);

int32_t xllm_kv_blocks_total(const xllm_kv_blocks *p);
int32_t xllm_kv_blocks_free_count(const xllm_kv_blocks *p);   /* refcount 0 (incl. cached) */
int32_t xllm_kv_blocks_cached_count(const xllm_kv_blocks *p); /* free and still keyed */
int32_t xllm_kv_blocks_refcount(const xllm_kv_blocks *p, int32_t b);

#endif
