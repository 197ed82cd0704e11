/* grammar.h - grammar-constrained decoding: GBNF grammars (llama.cpp's syntax)
 * compiled once per request into a byte-level pushdown automaton, a per-model
 * token trie, and a per-sequence state that masks logits before sampling.
 *
 * Three objects, three lifetimes:
 *   xllm_grammar        compiled grammar; immutable, shared by any number of
 *                       states and threads. Freed with xllm_grammar_free.
 *   xllm_grammar_vocab  the vocabulary's token byte strings in a trie (built
 *                       once per model); immutable, shared by all states.
 *   xllm_grammar_state  one sequence's position in the grammar, over tables
 *                       (interned stacks, byte transitions, token masks of
 *                       states seen before) that it may share with other
 *                       states of the same grammar (xllm_grammar_state_new_
 *                       shared): a state one sequence has walked through is
 *                       a cache hit for the others. States that share tables
 *                       are used from one thread at a time, all of them
 *                       together. A state keeps a pointer to its grammar
 *                       (free the state first, unless the tables own it:
 *                       xllm_grammar_state_new_owned).
 *
 * The automaton works on bytes: character classes are compiled into UTF-8
 * byte sequences, so a token may end inside a multi-byte character and a
 * token may span several grammar elements. Only valid UTF-8 is ever allowed.
 *
 * Tokens: text and user-defined tokens are their bytes; end-of-generation
 * tokens (EOS, EOT, ...) are allowed exactly where the grammar accepts; every
 * other control/unknown/unused token, and every token with no bytes, is banned.
 *
 * Lazy mode (tool calls): xllm_grammar_state_set_lazy gives trigger words and
 * trigger tokens. Until one appears, apply masks nothing and accept only
 * watches the text. A trigger word starts the grammar at the word's first
 * byte (the grammar must match the word itself, e.g. root ::= "<tool_call>"
 * ...), also when the word was split over several tokens; the rest of the
 * token that completed the word is fed too. A trigger token starts the
 * grammar right after that token (its bytes are not fed). */
#ifndef XLLM_RUNTIME_GRAMMAR_H
#define XLLM_RUNTIME_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

typedef struct xllm_grammar xllm_grammar;
typedef struct xllm_grammar_vocab xllm_grammar_vocab;
typedef struct xllm_grammar_state xllm_grammar_state;

/* Compile len bytes of GBNF; root: the start rule's name (NULL = "root").
 * Malformed text: XLLM_ERR_INVALID_ARGUMENT with "line:col: reason"; rules
 * that are left-recursive, loop without consuming input, or can never finish
 * are refused the same way. Caps: src/base/limits.h (XLLM_GRAMMAR_*). */
xllm_status xllm_grammar_compile(const char *gbnf, size_t len, const char *root, xllm_grammar **out);
void xllm_grammar_free(xllm_grammar *g);
/* Number of rules after desugaring (groups and repetitions become rules). */
uint32_t xllm_grammar_n_rules(const xllm_grammar *g);

xllm_status xllm_grammar_vocab_new(const xllm_tokenizer *tok, xllm_grammar_vocab **out);
void xllm_grammar_vocab_free(xllm_grammar_vocab *v);
int32_t xllm_grammar_vocab_n(const xllm_grammar_vocab *v);

xllm_status xllm_grammar_state_new(const xllm_grammar *g, xllm_grammar_state **out);
/* The same, and the tables own g (freed with the last state sharing them;
 * freed here when this fails). */
xllm_status xllm_grammar_state_new_owned(xllm_grammar *g, xllm_grammar_state **out);
/* A new state at the start of like's grammar sharing like's tables (its
 * caches warm from every sequence so far). Freeing states in any order is
 * fine: the tables go with the last one. */
xllm_status xllm_grammar_state_new_shared(xllm_grammar_state *like, xllm_grammar_state **out);
uint32_t xllm_grammar_state_sharers(const xllm_grammar_state *s); /* states on s's tables, s included */
const xllm_grammar *xllm_grammar_state_grammar(const xllm_grammar_state *s);
/* Back to the start (and untriggered in lazy mode); caches are kept, so a
 * state reused for the next request with the same grammar starts warm. */
void xllm_grammar_state_reset(xllm_grammar_state *s);
void xllm_grammar_state_free(xllm_grammar_state *s);

typedef struct xllm_grammar_triggers {
    const char *const *words; /* NUL-terminated, non-empty */
    size_t n_words;
    const int32_t *tokens;
    size_t n_tokens;
} xllm_grammar_triggers;
/* Make the state lazy (copies the triggers). Call before the first accept. */
xllm_status xllm_grammar_state_set_lazy(xllm_grammar_state *s, const xllm_grammar_triggers *t);
int xllm_grammar_triggered(const xllm_grammar_state *s); /* 1 when enforcing */

/* logits[n_vocab]: every token the grammar does not allow next becomes
 * -INFINITY. A state must always be used with the same vocab. Fails only for
 * memory (then logits are left untouched). */
xllm_status xllm_grammar_apply(xllm_grammar_state *s, const xllm_grammar_vocab *v, float *logits);
/* The allowed tokens as a bitset bits[(n_vocab + 63) / 64] (bit i of word
 * i / 64 = token i). */
xllm_status xllm_grammar_allowed(xllm_grammar_state *s, const xllm_grammar_vocab *v, uint64_t *bits);
/* Advance by a sampled token. A token the grammar does not allow gives
 * XLLM_ERR_INVALID_ARGUMENT and leaves the state as it was. */
xllm_status xllm_grammar_accept(xllm_grammar_state *s, const xllm_grammar_vocab *v, int32_t token);
/* Advance by raw text (a forced prefix, tests). Same contract as accept. */
xllm_status xllm_grammar_accept_bytes(xllm_grammar_state *s, const char *text, size_t len);
/* 1 when the text so far is a complete sentence of the grammar (generation
 * may stop here; EOS is allowed). Lazy and untriggered: 1. */
int xllm_grammar_can_end(const xllm_grammar_state *s);
/* 1 when nothing more can follow (complete and no byte may extend it, or an
 * end-of-generation token was accepted). */
int xllm_grammar_done(const xllm_grammar_state *s);

/* Finishing under a token budget (max_tokens close, a small context): the
 * fewest bytes that complete the grammar from here (0 = can end), and the
 * same after a candidate token without taking it (XLLM_ERR_INVALID_ARGUMENT
 * when the token is not allowed; no message is set, so it is cheap to call for
 * every allowed token). Choosing, among allowed tokens, one that lowers the
 * remaining length ends the output in at most that many tokens. */
size_t xllm_grammar_min_remaining(const xllm_grammar_state *s);
xllm_status xllm_grammar_peek(xllm_grammar_state *s, const xllm_grammar_vocab *v, int32_t token, size_t *remaining);
/* The largest of those remaining lengths over every allowed token (0 when
 * lazy and untriggered or ended), memoized per grammar state in the shared
 * tables: when the budget left covers it, no allowed token needs a peek. */
xllm_status xllm_grammar_max_after(xllm_grammar_state *s, const xllm_grammar_vocab *v, size_t *out);

/* Cache counters of a state's tables (benchmarks; summed over the states
 * sharing them): masks computed by a trie walk vs served from the cache,
 * distinct grammar states (stack sets) interned, table flushes. */
typedef struct xllm_grammar_stats {
    uint64_t mask_walks, mask_hits, sets, nodes, flushes;
} xllm_grammar_stats;
void xllm_grammar_state_stats(const xllm_grammar_state *s, xllm_grammar_stats *out);

#endif
