/* grammar_state.c - the per-sequence stack machine: stacks are hash-consed
 * (node = continue-at element + parent node), a state is an interned sorted
 * set of stacks, and each set memoizes its 256 byte transitions and its token
 * mask, so a state that repeats (inside a string, a digit run) costs a look-up.
 * Lazy mode (trigger words/tokens) lives here too. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "runtime/grammar_impl.h"

#define TRANS_UNKNOWN XLLM_GTRANS_UNKNOWN

typedef struct gnode {
    uint32_t pos, parent; /* parent 0: bottom of the stack */
} gnode;

typedef struct gset {
    uint32_t off, n;  /* items[off .. off + n): sorted node ids (0 = the empty stack) */
    int32_t *trans;   /* [256] next set, -1 dead, TRANS_UNKNOWN; NULL until used */
    uint64_t *mask;   /* cached token mask or NULL */
} gset;

struct xllm_grammar_state {
    const xllm_grammar *g;
    gnode *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *nhash, nhash_cap; /* node ids, 0 = free slot */
    uint32_t *items;
    size_t n_items, cap_items;
    gset *sets;
    uint32_t n_sets, cap_sets;
    uint32_t *shash, shash_cap; /* set id + 1, 0 = free slot */
    uint32_t *tmp;
    uint32_t n_tmp, cap_tmp;
    int32_t start, cur;
    int ended;
    size_t mask_bytes;
    void *walk;   /* mask walk: [depth + 1] rows, then [depth + 1] set ids */
    size_t walk_cap;
    uint64_t *wmask;
    size_t wmask_words;
    xllm_grammar_stats stats;
    /* lazy mode */
    int lazy, triggered;
    char **words;
    size_t n_words, max_word;
    int32_t *ttok;
    size_t n_ttok;
    char *scan;   /* [max_word - 1 + XLLM_MAX_TOKEN_BYTES]: held tail + token */
    size_t n_tail;
};

static uint32_t mix(uint32_t a, uint32_t b)
{
    uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    return h ^ (h >> 13);
}

static int rehash_nodes(xllm_grammar_state *s)
{
    uint32_t cap = s->nhash_cap ? s->nhash_cap * 2 : 1024;
    uint32_t *t = xllm_calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint32_t i = 1; i < s->n_nodes; i++) {
        uint32_t h = mix(s->nodes[i].pos, s->nodes[i].parent) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = i;
    }
    xllm_free(s->nhash);
    s->nhash = t;
    s->nhash_cap = cap;
    return 0;
}

/* Node id of (pos, parent), created when new; 0 on memory failure (0 is the
 * empty stack and never a real node). */
static uint32_t intern_node(xllm_grammar_state *s, uint32_t pos, uint32_t parent)
{
    if ((s->n_nodes + 1) * 2 > s->nhash_cap && rehash_nodes(s))
        return 0;
    uint32_t h = mix(pos, parent) & (s->nhash_cap - 1);
    for (; s->nhash[h]; h = (h + 1) & (s->nhash_cap - 1)) {
        gnode *n = &s->nodes[s->nhash[h]];
        if (n->pos == pos && n->parent == parent)
            return s->nhash[h];
    }
    if (s->n_nodes == s->cap_nodes) {
        uint32_t nc = s->cap_nodes * 2;
        gnode *q = xllm_realloc(s->nodes, (size_t)nc * sizeof *q);
        if (!q)
            return 0;
        s->nodes = q, s->cap_nodes = nc;
    }
    s->nodes[s->n_nodes] = (gnode){pos, parent};
    s->nhash[h] = s->n_nodes;
    return s->n_nodes++;
}

static int push_tmp(xllm_grammar_state *s, uint32_t v)
{
    if (s->n_tmp == s->cap_tmp) {
        if (s->cap_tmp >= XLLM_GRAMMAR_MAX_STACKS)
            return -1;
        uint32_t nc = s->cap_tmp ? s->cap_tmp * 2 : 64;
        uint32_t *q = xllm_realloc(s->tmp, (size_t)nc * sizeof *q);
        if (!q)
            return -1;
        s->tmp = q, s->cap_tmp = nc;
    }
    s->tmp[s->n_tmp++] = v;
    return 0;
}

/* All stacks that continue at element pos with parent below, each reduced
 * to a top that matches a byte (or the empty stack when everything is done).
 * Terminates: the compiler refused left recursion and empty loops. */
static int expand(xllm_grammar_state *s, uint32_t pos, uint32_t parent)
{
    const xllm_grammar *g = s->g;
    for (;;) {
        xllm_gelem e = g->elems[pos];
        if (e.type == GE_BYTES) {
            uint32_t id = intern_node(s, pos, parent);
            return id ? push_tmp(s, id) : -1;
        }
        if (e.type == GE_END) {
            if (!parent)
                return push_tmp(s, 0);
            gnode n = s->nodes[parent];
            pos = n.pos, parent = n.parent;
            continue;
        }
        uint32_t ret = parent; /* tail call: nothing left after the reference */
        if (g->elems[pos + 1].type != GE_END && !(ret = intern_node(s, pos + 1, parent)))
            return -1;
        for (uint32_t a = g->rule_alt[e.arg]; a < g->rule_alt[e.arg + 1]; a++)
            if (expand(s, g->alt_start[a], ret))
                return -1;
        return 0;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_unique(xllm_grammar_state *s)
{
    uint32_t *v = s->tmp, n = s->n_tmp;
    if (n < 16) {
        for (uint32_t i = 1; i < n; i++) {
            uint32_t x = v[i], j = i;
            for (; j > 0 && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    } else
        qsort(v, n, sizeof *v, cmp_u32);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!m || v[m - 1] != v[i])
            v[m++] = v[i];
    s->n_tmp = m;
}

static uint32_t hash_items(const uint32_t *v, uint32_t n)
{
    uint32_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = mix(h, v[i]);
    return h;
}

static int rehash_sets(xllm_grammar_state *s)
{
    uint32_t cap = s->shash_cap ? s->shash_cap * 2 : 256;
    uint32_t *t = xllm_calloc(cap, sizeof *t);
    if (!t)
        return -1;
    for (uint32_t i = 0; i < s->n_sets; i++) {
        uint32_t h = hash_items(s->items + s->sets[i].off, s->sets[i].n) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = i + 1;
    }
    xllm_free(s->shash);
    s->shash = t;
    s->shash_cap = cap;
    return 0;
}

/* Set id of the sorted stacks in tmp; -1 when empty (dead), -2 on memory. */
static int32_t intern_set(xllm_grammar_state *s)
{
    if (!s->n_tmp)
        return -1;
    if ((s->n_sets + 1) * 2 > s->shash_cap && rehash_sets(s))
        return -2;
    uint32_t h = hash_items(s->tmp, s->n_tmp) & (s->shash_cap - 1);
    for (; s->shash[h]; h = (h + 1) & (s->shash_cap - 1)) {
        gset *t = &s->sets[s->shash[h] - 1];
        if (t->n == s->n_tmp && !memcmp(s->items + t->off, s->tmp, s->n_tmp * sizeof *s->tmp))
            return (int32_t)s->shash[h] - 1;
    }
    if (s->n_items + s->n_tmp > s->cap_items) {
        size_t nc = s->cap_items * 2 + s->n_tmp;
        uint32_t *q = xllm_realloc(s->items, nc * sizeof *q);
        if (!q)
            return -2;
        s->items = q, s->cap_items = nc;
    }
    if (s->n_sets == s->cap_sets) {
        uint32_t nc = s->cap_sets * 2;
        gset *q = xllm_realloc(s->sets, (size_t)nc * sizeof *q);
        if (!q)
            return -2;
        s->sets = q, s->cap_sets = nc;
    }
    memcpy(s->items + s->n_items, s->tmp, s->n_tmp * sizeof *s->tmp);
    s->sets[s->n_sets] = (gset){(uint32_t)s->n_items, s->n_tmp, NULL, NULL};
    s->n_items += s->n_tmp;
    s->shash[h] = s->n_sets + 1;
    s->stats.sets++;
    return (int32_t)s->n_sets++;
}

static int32_t start_set(xllm_grammar_state *s)
{
    const xllm_grammar *g = s->g;
    s->n_tmp = 0;
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++)
        if (expand(s, g->alt_start[a], 0))
            return -2;
    sort_unique(s);
    return intern_set(s);
}

int32_t xllm_gstate_step(xllm_grammar_state *s, int32_t set, uint8_t b)
{
    const int32_t *row = xllm_gstate_row(s, set);
    if (row && row[b] != TRANS_UNKNOWN)
        return row[b];
    const xllm_grammar *g = s->g;
    uint32_t off = s->sets[set].off, n = s->sets[set].n;
    s->n_tmp = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = s->items[off + i];
        if (!k)
            continue;
        gnode nd = s->nodes[k];
        if (xllm_byteset_has(&g->sets[g->elems[nd.pos].arg], b) && expand(s, nd.pos + 1, nd.parent))
            return -2;
    }
    sort_unique(s);
    int32_t r = intern_set(s);
    if (r != -2 && s->sets[set].trans)
        s->sets[set].trans[b] = r;
    return r;
}

int32_t xllm_gstate_current(const xllm_grammar_state *s)
{
    return s->cur;
}

int xllm_gstate_set_accepting(const xllm_grammar_state *s, int32_t set)
{
    return s->items[s->sets[set].off] == 0;
}

const uint64_t *xllm_gstate_mask(xllm_grammar_state *s, int32_t set)
{
    return s->sets[set].mask;
}

int xllm_gstate_keep_mask(xllm_grammar_state *s, int32_t set, const uint64_t *mask, size_t words)
{
    size_t bytes = words * sizeof *mask;
    if (s->mask_bytes + bytes > XLLM_GRAMMAR_MASK_CACHE)
        return 0;
    uint64_t *m = xllm_malloc(bytes);
    if (!m)
        return 0;
    memcpy(m, mask, bytes);
    s->sets[set].mask = m;
    s->mask_bytes += bytes;
    return 1;
}

void xllm_gstate_count(xllm_grammar_state *s, int hit)
{
    if (hit)
        s->stats.mask_hits++;
    else
        s->stats.mask_walks++;
}

const int32_t *xllm_gstate_row(xllm_grammar_state *s, int32_t set)
{
    gset *S = &s->sets[set];
    if (!S->trans && (S->trans = xllm_malloc(256 * sizeof *S->trans)))
        for (int i = 0; i < 256; i++)
            S->trans[i] = TRANS_UNKNOWN;
    return S->trans;
}

xllm_status xllm_gstate_scratch(xllm_grammar_state *s, size_t depth, size_t words, void **stack, uint64_t **mask)
{
    if (s->walk_cap < depth + 1) {
        xllm_free(s->walk);
        if (!(s->walk = xllm_malloc((depth + 1) * (sizeof(int32_t) + sizeof(int32_t *))))) {
            s->walk_cap = 0;
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
        }
        s->walk_cap = depth + 1;
    }
    if (s->wmask_words < words) {
        xllm_free(s->wmask);
        if (!(s->wmask = xllm_malloc(words * sizeof *s->wmask))) {
            s->wmask_words = 0;
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
        }
        s->wmask_words = words;
    }
    *stack = s->walk;
    *mask = s->wmask;
    return XLLM_OK;
}

/* ---- lifetime, flush ---- */

static void clear_tables(xllm_grammar_state *s)
{
    for (uint32_t i = 0; i < s->n_sets; i++) {
        xllm_free(s->sets[i].trans);
        xllm_free(s->sets[i].mask);
    }
    s->n_sets = 0, s->n_items = 0, s->n_nodes = 1, s->mask_bytes = 0;
    if (s->nhash)
        memset(s->nhash, 0, s->nhash_cap * sizeof *s->nhash);
    if (s->shash)
        memset(s->shash, 0, s->shash_cap * sizeof *s->shash);
}

/* The tables only grow while a sequence runs; past the flush limits they are
 * rebuilt holding just the start and the current state. */
static xllm_status maybe_flush(xllm_grammar_state *s)
{
    if (s->n_sets < XLLM_GRAMMAR_FLUSH_SETS && s->n_nodes < XLLM_GRAMMAR_FLUSH_NODES)
        return XLLM_OK;
    gset cur = s->sets[s->cur];
    size_t total = 0;
    for (uint32_t i = 0; i < cur.n; i++)
        for (uint32_t k = s->items[cur.off + i]; k; k = s->nodes[k].parent)
            total++;
    uint32_t *chain = xllm_malloc((total + cur.n) * sizeof *chain), *len = chain + total;
    if (!chain)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    size_t at = 0;
    for (uint32_t i = 0; i < cur.n; i++) {
        len[i] = 0;
        for (uint32_t k = s->items[cur.off + i]; k; k = s->nodes[k].parent)
            chain[at++] = s->nodes[k].pos, len[i]++;
    }
    clear_tables(s);
    s->stats.flushes++;
    xllm_status st = XLLM_OK;
    s->start = start_set(s);
    s->n_tmp = 0;
    at = 0;
    for (uint32_t i = 0; i < cur.n && !st; i++) {
        uint32_t parent = 0;
        for (uint32_t j = len[i]; j-- > 0;)
            if (!(parent = intern_node(s, chain[at + j], parent)))
                st = XLLM_ERR_OUT_OF_MEMORY;
        at += len[i];
        if (!st && push_tmp(s, parent))
            st = XLLM_ERR_OUT_OF_MEMORY;
    }
    xllm_free(chain);
    if (!st) {
        sort_unique(s);
        s->cur = intern_set(s);
    }
    if (st || s->start < 0 || s->cur < 0)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory rebuilding the state");
    return XLLM_OK;
}

xllm_status xllm_grammar_state_new(const xllm_grammar *g, xllm_grammar_state **out)
{
    *out = NULL;
    xllm_grammar_state *s = xllm_calloc(1, sizeof *s);
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    s->g = g;
    s->cap_nodes = 1024, s->cap_sets = 64, s->cap_items = 1024;
    s->nodes = xllm_malloc(s->cap_nodes * sizeof *s->nodes);
    s->sets = xllm_malloc(s->cap_sets * sizeof *s->sets);
    s->items = xllm_malloc(s->cap_items * sizeof *s->items);
    if (!s->nodes || !s->sets || !s->items) {
        xllm_grammar_state_free(s);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    s->n_nodes = 1;
    s->nodes[0] = (gnode){0, 0};
    s->start = s->cur = start_set(s);
    if (s->start < 0) {
        xllm_grammar_state_free(s);
        return s->start == -2 && s->cap_tmp < XLLM_GRAMMAR_MAX_STACKS
                   ? xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory")
                   : xllm_fail(XLLM_ERR_LIMIT, "grammar: start state has more than %d stacks",
                               XLLM_GRAMMAR_MAX_STACKS);
    }
    *out = s;
    return XLLM_OK;
}

void xllm_grammar_state_reset(xllm_grammar_state *s)
{
    s->cur = s->start;
    s->ended = 0;
    s->triggered = 0;
    s->n_tail = 0;
}

void xllm_grammar_state_free(xllm_grammar_state *s)
{
    if (!s)
        return;
    clear_tables(s);
    xllm_free(s->nodes);
    xllm_free(s->nhash);
    xllm_free(s->items);
    xllm_free(s->sets);
    xllm_free(s->shash);
    xllm_free(s->tmp);
    xllm_free(s->walk);
    xllm_free(s->wmask);
    for (size_t i = 0; i < s->n_words; i++)
        xllm_free(s->words[i]);
    xllm_free(s->words);
    xllm_free(s->ttok);
    xllm_free(s->scan);
    xllm_free(s);
}

void xllm_grammar_state_stats(const xllm_grammar_state *s, xllm_grammar_stats *out)
{
    *out = s->stats;
    out->sets = s->n_sets;
    out->nodes = s->n_nodes;
}

int xllm_grammar_can_end(const xllm_grammar_state *s)
{
    if (s->ended || (s->lazy && !s->triggered))
        return 1;
    return xllm_gstate_set_accepting(s, s->cur);
}

int xllm_grammar_done(const xllm_grammar_state *s)
{
    if (s->ended)
        return 1;
    if (s->lazy && !s->triggered)
        return 0;
    return s->sets[s->cur].n == 1 && s->items[s->sets[s->cur].off] == 0;
}

/* ---- advancing ---- */

static xllm_status feed(xllm_grammar_state *s, const char *text, size_t len)
{
    xllm_status st = maybe_flush(s);
    if (st)
        return st;
    int32_t c = s->cur;
    for (size_t i = 0; i < len; i++) {
        c = xllm_gstate_step(s, c, (uint8_t)text[i]);
        if (c == -2)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory (or more than %d stacks)",
                             XLLM_GRAMMAR_MAX_STACKS);
        if (c < 0)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: byte %zu (0x%02x) of the text is not allowed here",
                             i, (unsigned char)text[i]);
    }
    s->cur = c;
    return XLLM_OK;
}

/* Untriggered lazy state: look for a trigger word in held tail + text. */
static xllm_status watch(xllm_grammar_state *s, const char *text, size_t len)
{
    if (!s->n_words)
        return XLLM_OK;
    if (len > XLLM_MAX_TOKEN_BYTES)
        return xllm_fail(XLLM_ERR_LIMIT, "grammar: text piece of %zu bytes", len);
    memcpy(s->scan + s->n_tail, text, len);
    size_t n = s->n_tail + len, best = SIZE_MAX;
    for (size_t w = 0; w < s->n_words; w++) {
        const char *hit = memmem(s->scan, n, s->words[w], strlen(s->words[w]));
        if (hit && (size_t)(hit - s->scan) < best)
            best = (size_t)(hit - s->scan);
    }
    if (best != SIZE_MAX) {
        s->triggered = 1;
        s->cur = s->start;
        return feed(s, s->scan + best, n - best);
    }
    size_t keep = s->max_word - 1 < n ? s->max_word - 1 : n;
    memmove(s->scan, s->scan + n - keep, keep);
    s->n_tail = keep;
    return XLLM_OK;
}

xllm_status xllm_grammar_state_set_lazy(xllm_grammar_state *s, const xllm_grammar_triggers *t)
{
    if (t->n_words > XLLM_GRAMMAR_MAX_TRIGGERS || t->n_tokens > XLLM_GRAMMAR_MAX_TRIGGERS)
        return xllm_fail(XLLM_ERR_LIMIT, "grammar: more than %d triggers", XLLM_GRAMMAR_MAX_TRIGGERS);
    size_t max = 1;
    for (size_t i = 0; i < t->n_words; i++) {
        size_t l = strlen(t->words[i]);
        if (!l || l > XLLM_GRAMMAR_MAX_TRIGGER_LEN)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: trigger word %zu is empty or longer than %d bytes",
                             i, XLLM_GRAMMAR_MAX_TRIGGER_LEN);
        if (l > max)
            max = l;
    }
    s->words = xllm_calloc(t->n_words + 1, sizeof *s->words);
    s->ttok = xllm_malloc((t->n_tokens + 1) * sizeof *s->ttok);
    s->scan = xllm_malloc(max + XLLM_MAX_TOKEN_BYTES);
    if (!s->words || !s->ttok || !s->scan)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    for (; s->n_words < t->n_words; s->n_words++)
        if (!(s->words[s->n_words] = xllm_strdup(t->words[s->n_words])))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    if (t->n_tokens)
        memcpy(s->ttok, t->tokens, t->n_tokens * sizeof *s->ttok);
    s->n_ttok = t->n_tokens;
    s->max_word = max;
    s->lazy = 1;
    s->triggered = 0;
    s->n_tail = 0;
    return XLLM_OK;
}

int xllm_grammar_triggered(const xllm_grammar_state *s)
{
    return !s->lazy || s->triggered;
}

int xllm_gstate_lazy_open(const xllm_grammar_state *s)
{
    return s->lazy && !s->triggered;
}

xllm_status xllm_grammar_accept_bytes(xllm_grammar_state *s, const char *text, size_t len)
{
    if (s->ended)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: text after the end of generation");
    if (s->lazy && !s->triggered)
        return watch(s, text, len);
    return feed(s, text, len);
}

/* Token kinds come from the vocab (grammar_vocab.c): 0 banned, 1 text, 2 end. */
xllm_status xllm_gstate_accept_token(xllm_grammar_state *s, int32_t token, int kind, const char *text, size_t len)
{
    if (s->ended)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: token %d after the end of generation", token);
    if (s->lazy && !s->triggered) {
        for (size_t i = 0; i < s->n_ttok; i++)
            if (s->ttok[i] == token) {
                s->triggered = 1;
                s->cur = s->start;
                return XLLM_OK;
            }
        if (kind == 2)
            s->ended = 1;
        return kind == 1 ? watch(s, text, len) : XLLM_OK;
    }
    if (kind == 2) {
        if (!xllm_gstate_set_accepting(s, s->cur))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: end token %d where the grammar is not complete",
                             token);
        s->ended = 1;
        return XLLM_OK;
    }
    if (kind == 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "grammar: control token %d is not allowed", token);
    xllm_status st = feed(s, text, len);
    if (st)
        return xllm_fail_wrap(st, "token %d", token);
    return XLLM_OK;
}

int xllm_gstate_ended(const xllm_grammar_state *s)
{
    return s->ended;
}

xllm_status xllm_gstate_prepare(xllm_grammar_state *s)
{
    return maybe_flush(s);
}

/* ---- finishing under a budget ---- */

static size_t set_min(const xllm_grammar_state *s, int32_t set)
{
    size_t best = SIZE_MAX;
    const gset *S = &s->sets[set];
    for (uint32_t i = 0; i < S->n && best; i++) {
        size_t sum = 0;
        for (uint32_t k = s->items[S->off + i]; k && sum < best; k = s->nodes[k].parent)
            sum += s->g->suffix_min[s->nodes[k].pos];
        if (sum < best)
            best = sum;
    }
    return best;
}

size_t xllm_grammar_min_remaining(const xllm_grammar_state *s)
{
    if (s->ended || (s->lazy && !s->triggered))
        return 0;
    return set_min(s, s->cur);
}

xllm_status xllm_gstate_peek(xllm_grammar_state *s, int kind, const char *text, size_t len, size_t *remaining)
{
    if (s->ended || kind == 0 || (kind == 2 && !xllm_gstate_set_accepting(s, s->cur)))
        return XLLM_ERR_INVALID_ARGUMENT;
    if (kind == 2 || (s->lazy && !s->triggered)) {
        *remaining = 0;
        return XLLM_OK;
    }
    int32_t c = s->cur;
    for (size_t i = 0; i < len && c >= 0; i++)
        c = xllm_gstate_step(s, c, (uint8_t)text[i]);
    if (c < 0)
        return c == -2 ? XLLM_ERR_OUT_OF_MEMORY : XLLM_ERR_INVALID_ARGUMENT;
    *remaining = set_min(s, c);
    return XLLM_OK;
}
