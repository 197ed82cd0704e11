/* grammar_cache.h - compiled grammars shared between requests: states of the
 * same grammar text (and root rule) share one compiled grammar and one set of
 * tables (interned states, transitions, token masks), so the n choices of a
 * request and concurrent requests with one schema pay each trie walk once.
 *
 * The cache belongs to one vocabulary (the scheduler's): the masks in its
 * tables are for that vocabulary, so the key is (vocabulary, root, text).
 * Entries are looked up by a 64-bit hash and verified byte for byte. At most
 * XLLM_GRAMMAR_CACHE_ENTRIES grammars are kept; a new one evicts the least
 * recently used (preferring one no live state uses). Eviction only drops the
 * cache's reference: live states keep their tables, which go with the last.
 *
 * Ownership: states handed out are the caller's (xllm_grammar_state_free, in
 * any order, before or after xllm_grammar_cache_free). Threading: one thread
 * — the cache and every state it made (they share tables) are used from the
 * scheduler's thread. */
#ifndef XLLM_RUNTIME_GRAMMAR_CACHE_H
#define XLLM_RUNTIME_GRAMMAR_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "runtime/grammar.h"

typedef struct xllm_grammar_cache xllm_grammar_cache;

typedef struct xllm_grammar_cache_stats {
    uint64_t hits, misses, evictions;
    uint32_t entries;
} xllm_grammar_cache_stats;

/* v: the vocabulary every state will be used with (borrowed, outlives the cache). */
xllm_status xllm_grammar_cache_new(const xllm_grammar_vocab *v, xllm_grammar_cache **out);
void xllm_grammar_cache_free(xllm_grammar_cache *c);
/* A new state at the start of grammar text[len] (root NULL = "root"), on the
 * shared tables of that grammar; compiled on a miss (errors as
 * xllm_grammar_compile; nothing is cached then). */
xllm_status xllm_grammar_cache_state(xllm_grammar_cache *c, const char *text, size_t len, const char *root,
                                     xllm_grammar_state **out);
void xllm_grammar_cache_get_stats(const xllm_grammar_cache *c, xllm_grammar_cache_stats *out);

#endif
