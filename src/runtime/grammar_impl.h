/* grammar_impl.h - internals shared by the grammar files: the compiled rule
 * graph (grammar_parse.c builds it, grammar_check.c validates and flattens it)
 * and the stack machine step that the vocabulary's mask walk drives.
 *
 * Compiled form: one flat element array. An alternative is a run of elements
 * ended by GE_END; rule r's alternatives start at alt_start[rule_alt[r] ..
 * rule_alt[r + 1]). GE_BYTES matches one byte from byte set arg; GE_REF calls
 * rule arg. Character classes were already turned into UTF-8 byte rules. */
#ifndef XLLM_RUNTIME_GRAMMAR_IMPL_H
#define XLLM_RUNTIME_GRAMMAR_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/grammar.h"

enum { GE_END = 0, GE_BYTES = 1, GE_REF = 2 };

typedef struct xllm_gelem {
    uint32_t type : 2;
    uint32_t arg : 30;
} xllm_gelem;

typedef struct xllm_byteset {
    uint64_t w[4];
} xllm_byteset;

static inline int xllm_byteset_has(const xllm_byteset *s, unsigned b)
{
    return (int)((s->w[b >> 6] >> (b & 63)) & 1u);
}

struct xllm_grammar {
    xllm_gelem *elems;    /* [n_elems] */
    uint32_t n_elems;
    uint32_t *alt_start;  /* [n_alts] element index of each alternative */
    uint32_t *rule_alt;   /* [n_rules + 1] */
    uint32_t n_rules;
    xllm_byteset *sets;   /* [n_sets] */
    uint32_t n_sets;
    uint32_t root;
    uint32_t *suffix_min; /* [n_elems] fewest bytes from element i to its alternative's end */
};

/* ---- builder (parse -> check) ---- */

typedef struct gb_alt {
    xllm_gelem *v;
    uint32_t n, cap;
} gb_alt;

typedef struct gb_rule {
    char *name;           /* generated rules carry the user rule's name */
    gb_alt *alts;
    uint32_t n_alts, cap_alts;
    int defined;
    int user;             /* written by the user (found by name) */
    int ref_line, ref_col; /* first reference (for "undefined rule") */
} gb_rule;

typedef struct gb_class_entry {
    uint32_t (*ranges)[2];
    size_t n;
    xllm_gelem e;
} gb_class_entry;

typedef struct gb_builder {
    gb_rule *rules;
    uint32_t n_rules, cap_rules;
    xllm_byteset *sets;
    uint32_t n_sets, cap_sets;
    int32_t single[256];  /* byte set index of each one-byte set, -1 unknown */
    uint64_t n_elems;     /* total, against XLLM_GRAMMAR_MAX_ELEMS */
    gb_class_entry classes[32]; /* recent classes (a schema grammar reuses a few) */
    uint32_t n_classes, next_class;
} gb_builder;

void gb_free(gb_builder *b);
xllm_status gb_new_rule(gb_builder *b, const char *name, size_t name_len, uint32_t *id);
xllm_status gb_new_alt(gb_builder *b, uint32_t rule);
xllm_status gb_push(gb_builder *b, uint32_t rule, xllm_gelem e); /* to the rule's last alternative */
xllm_status gb_set_index(gb_builder *b, const xllm_byteset *s, uint32_t *idx);

/* Code point ranges [lo, hi] (sorted, merged, no surrogates) -> elements that
 * match one character: a single GE_BYTES when all are ASCII, else a GE_REF to
 * a new rule of UTF-8 byte sequences. */
xllm_status gb_class(gb_builder *b, const uint32_t (*ranges)[2], size_t n, xllm_gelem *out);

/* Validate (every rule productive, no left recursion or empty loops) and
 * flatten into g. Errors name the rule. */
xllm_status gb_finish(gb_builder *b, uint32_t root, xllm_grammar *g);

/* ---- state step (grammar_state.c), used by grammar_vocab.c ---- */

#define XLLM_GTRANS_UNKNOWN (-3)
/* Next stack set after byte b from set id `set`; -1 when b is not allowed,
 * -2 on memory failure. Memoized. */
int32_t xllm_gstate_step(xllm_grammar_state *s, int32_t set, uint8_t b);
/* The memo row of a set: [256] next set id, -1 dead, XLLM_GTRANS_UNKNOWN not
 * computed yet (then call step). Stable until the next flush; NULL on memory. */
const int32_t *xllm_gstate_row(xllm_grammar_state *s, int32_t set);
int32_t xllm_gstate_current(const xllm_grammar_state *s);
int xllm_gstate_set_accepting(const xllm_grammar_state *s, int32_t set);
/* The cached mask of a set (NULL when not cached) and storing one (the state
 * copies it when its cache budget allows; returns 1 when kept). */
const uint64_t *xllm_gstate_mask(xllm_grammar_state *s, int32_t set);
int xllm_gstate_keep_mask(xllm_grammar_state *s, int32_t set, const uint64_t *mask, size_t words);
void xllm_gstate_count(xllm_grammar_state *s, int hit);
/* Scratch for the vocabulary walk, sized once: stack has room for depth + 1
 * row pointers followed by depth + 1 set ids; mask for words. */
xllm_status xllm_gstate_scratch(xllm_grammar_state *s, size_t depth, size_t words, void **stack, uint64_t **mask);
/* kind: 0 banned, 1 text (bytes text[len]), 2 end of generation. */
xllm_status xllm_gstate_accept_token(xllm_grammar_state *s, int32_t token, int kind, const char *text, size_t len);
int xllm_gstate_ended(const xllm_grammar_state *s);
int xllm_gstate_lazy_open(const xllm_grammar_state *s); /* lazy and not triggered yet */
xllm_status xllm_gstate_prepare(xllm_grammar_state *s); /* flush oversized tables */
/* Memo of xllm_grammar_max_after per set: 1 and *out when known. */
int xllm_gstate_max_after(const xllm_grammar_state *s, int32_t set, size_t *out);
void xllm_gstate_keep_max_after(xllm_grammar_state *s, int32_t set, size_t v);
/* Fewest bytes to completion after a token (state unchanged); no message set. */
xllm_status xllm_gstate_peek(xllm_grammar_state *s, int kind, const char *text, size_t len, size_t *remaining);

#endif
