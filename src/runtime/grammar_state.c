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
    size_t min_rem;   /* fewest bytes to completion, once min_known */
    size_t max_after; /* largest min_rem after one allowed token, once after_known */
    int min_known, after_known;
} gset;

/* The tables states walk: interned stacks and stack sets with their memoized
 * byte transitions and token masks, plus the mask walk's scratch. One set of
 * tables serves every state made from another (xllm_grammar_state_new_shared);
 * it goes with the last of them. */
typedef struct gtables {
    const xllm_grammar *g;
    xllm_grammar *owned;        /* freed with the tables (xllm_grammar_state_new_owned) */
    uint32_t refs;              /* states using the tables */
    xllm_grammar_state *users;  /* those states (a flush keeps their positions) */
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
    int32_t start;
    size_t mask_bytes;
    void *walk;   /* mask walk: [depth + 1] rows, then [depth + 1] set ids */
    size_t walk_cap;
    uint64_t *wmask;
    size_t wmask_words;
    xllm_grammar_stats stats;
} gtables;

struct xllm_grammar_state {
    gtables *t;
    xllm_grammar_state *prev_user, *next_user;
    int32_t cur;
    int ended;
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

static int rehash_nodes(gtables *t)
{
    uint32_t cap = t->nhash_cap ? t->nhash_cap * 2 : 1024;
    uint32_t *ht = xllm_calloc(cap, sizeof *ht);
    if (!ht)
        return -1;
    for (uint32_t i = 1; i < t->n_nodes; i++) {
        uint32_t h = mix(t->nodes[i].pos, t->nodes[i].parent) & (cap - 1);
        while (ht[h])
            h = (h + 1) & (cap - 1);
        ht[h] = i;
    }
    xllm_free(t->nhash);
    t->nhash = ht;
    t->nhash_cap = cap;
    return 0;
}

/* Node id of (pos, parent), created when new; 0 on memory failure (0 is the
 * empty stack and never a real node). */
static uint32_t intern_node(gtables *t, uint32_t pos, uint32_t parent)
{
    if ((t->n_nodes + 1) * 2 > t->nhash_cap && rehash_nodes(t))
        return 0;
    uint32_t h = mix(pos, parent) & (t->nhash_cap - 1);
    for (; t->nhash[h]; h = (h + 1) & (t->nhash_cap - 1)) {
        gnode *n = &t->nodes[t->nhash[h]];
        if (n->pos == pos && n->parent == parent)
            return t->nhash[h];
    }
    if (t->n_nodes == t->cap_nodes) {
        uint32_t nc = t->cap_nodes * 2;
        gnode *q = xllm_realloc(t->nodes, (size_t)nc * sizeof *q);
        if (!q)
            return 0;
        t->nodes = q, t->cap_nodes = nc;
    }
    t->nodes[t->n_nodes] = (gnode){pos, parent};
    t->nhash[h] = t->n_nodes;
    return t->n_nodes++;
}

static int push_tmp(gtables *t, uint32_t v)
{
    if (t->n_tmp == t->cap_tmp) {
        if (t->cap_tmp >= XLLM_GRAMMAR_MAX_STACKS)
            return -1;
        uint32_t nc = t->cap_tmp ? t->cap_tmp * 2 : 64;
        uint32_t *q = xllm_realloc(t->tmp, (size_t)nc * sizeof *q);
        if (!q)
            return -1;
        t->tmp = q, t->cap_tmp = nc;
    }
    t->tmp[t->n_tmp++] = v;
    return 0;
}

/* All stacks that continue at element pos with parent below, each reduced
 * to a top that matches a byte (or the empty stack when everything is done).
 * Terminates: the compiler refused left recursion and empty loops. */
static int expand(gtables *t, uint32_t pos, uint32_t parent)
{
    const xllm_grammar *g = t->g;
    for (;;) {
        xllm_gelem e = g->elems[pos];
        if (e.type == GE_BYTES) {
            uint32_t id = intern_node(t, pos, parent);
            return id ? push_tmp(t, id) : -1;
        }
        if (e.type == GE_END) {
            if (!parent)
                return push_tmp(t, 0);
            gnode n = t->nodes[parent];
            pos = n.pos, parent = n.parent;
            continue;
        }
        uint32_t ret = parent; /* tail call: nothing left after the reference */
        if (g->elems[pos + 1].type != GE_END && !(ret = intern_node(t, pos + 1, parent)))
            return -1;
        for (uint32_t a = g->rule_alt[e.arg]; a < g->rule_alt[e.arg + 1]; a++)
            if (expand(t, g->alt_start[a], ret))
                return -1;
        return 0;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_unique(gtables *t)
{
    uint32_t *v = t->tmp, n = t->n_tmp;
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
    t->n_tmp = m;
}

static uint32_t hash_items(const uint32_t *v, uint32_t n)
{
    uint32_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = mix(h, v[i]);
    return h;
}

static int rehash_sets(gtables *t)
{
    uint32_t cap = t->shash_cap ? t->shash_cap * 2 : 256;
    uint32_t *ht = xllm_calloc(cap, sizeof *ht);
    if (!ht)
        return -1;
    for (uint32_t i = 0; i < t->n_sets; i++) {
        uint32_t h = hash_items(t->items + t->sets[i].off, t->sets[i].n) & (cap - 1);
        while (ht[h])
            h = (h + 1) & (cap - 1);
        ht[h] = i + 1;
    }
    xllm_free(t->shash);
    t->shash = ht;
    t->shash_cap = cap;
    return 0;
}

/* Set id of the sorted stacks in tmp; -1 when empty (dead), -2 on memory. */
static int32_t intern_set(gtables *t)
{
    if (!t->n_tmp)
        return -1;
    if ((t->n_sets + 1) * 2 > t->shash_cap && rehash_sets(t))
        return -2;
    uint32_t h = hash_items(t->tmp, t->n_tmp) & (t->shash_cap - 1);
    for (; t->shash[h]; h = (h + 1) & (t->shash_cap - 1)) {
        const gset *S = &t->sets[t->shash[h] - 1];
        if (S->n == t->n_tmp && !memcmp(t->items + S->off, t->tmp, t->n_tmp * sizeof *t->tmp))
            return (int32_t)t->shash[h] - 1;
    }
    if (t->n_items + t->n_tmp > t->cap_items) {
        size_t nc = t->cap_items * 2 + t->n_tmp;
        uint32_t *q = xllm_realloc(t->items, nc * sizeof *q);
        if (!q)
            return -2;
        t->items = q, t->cap_items = nc;
    }
    if (t->n_sets == t->cap_sets) {
        uint32_t nc = t->cap_sets * 2;
        gset *q = xllm_realloc(t->sets, (size_t)nc * sizeof *q);
        if (!q)
            return -2;
        t->sets = q, t->cap_sets = nc;
    }
    memcpy(t->items + t->n_items, t->tmp, t->n_tmp * sizeof *t->tmp);
    t->sets[t->n_sets] = (gset){(uint32_t)t->n_items, t->n_tmp, NULL, NULL, 0, 0, 0, 0};
    t->n_items += t->n_tmp;
    t->shash[h] = t->n_sets + 1;
    t->stats.sets++;
    return (int32_t)t->n_sets++;
}

static int32_t start_set(gtables *t)
{
    const xllm_grammar *g = t->g;
    t->n_tmp = 0;
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++)
        if (expand(t, g->alt_start[a], 0))
            return -2;
    sort_unique(t);
    return intern_set(t);
}

static int32_t tstep(gtables *t, int32_t set, uint8_t b)
{
    const int32_t *row = t->sets[set].trans;
    if (row && row[b] != TRANS_UNKNOWN)
        return row[b];
    const xllm_grammar *g = t->g;
    uint32_t off = t->sets[set].off, n = t->sets[set].n;
    t->n_tmp = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = t->items[off + i];
        if (!k)
            continue;
        gnode nd = t->nodes[k];
        if (xllm_byteset_has(&g->sets[g->elems[nd.pos].arg], b) && expand(t, nd.pos + 1, nd.parent))
            return -2;
    }
    sort_unique(t);
    int32_t r = intern_set(t);
    if (r != -2 && t->sets[set].trans)
        t->sets[set].trans[b] = r;
    return r;
}

int32_t xllm_gstate_step(xllm_grammar_state *s, int32_t set, uint8_t b)
{
    xllm_gstate_row(s, set);
    return tstep(s->t, set, b);
}

int32_t xllm_gstate_current(const xllm_grammar_state *s)
{
    return s->cur;
}

static int set_accepting(const gtables *t, int32_t set)
{
    return t->items[t->sets[set].off] == 0;
}

int xllm_gstate_set_accepting(const xllm_grammar_state *s, int32_t set)
{
    return set_accepting(s->t, set);
}

const uint64_t *xllm_gstate_mask(xllm_grammar_state *s, int32_t set)
{
    return s->t->sets[set].mask;
}

int xllm_gstate_keep_mask(xllm_grammar_state *s, int32_t set, const uint64_t *mask, size_t words)
{
    gtables *t = s->t;
    size_t bytes = words * sizeof *mask;
    if (t->mask_bytes + bytes > XLLM_GRAMMAR_MASK_CACHE)
        return 0;
    uint64_t *m = xllm_malloc(bytes);
    if (!m)
        return 0;
    memcpy(m, mask, bytes);
    t->sets[set].mask = m;
    t->mask_bytes += bytes;
    return 1;
}

void xllm_gstate_count(xllm_grammar_state *s, int hit)
{
    if (hit)
        s->t->stats.mask_hits++;
    else
        s->t->stats.mask_walks++;
}

const int32_t *xllm_gstate_row(xllm_grammar_state *s, int32_t set)
{
    gset *S = &s->t->sets[set];
    if (!S->trans && (S->trans = xllm_malloc(256 * sizeof *S->trans)))
        for (int i = 0; i < 256; i++)
            S->trans[i] = TRANS_UNKNOWN;
    return S->trans;
}

xllm_status xllm_gstate_scratch(xllm_grammar_state *s, size_t depth, size_t words, void **stack, uint64_t **mask)
{
    gtables *t = s->t;
    if (t->walk_cap < depth + 1) {
        xllm_free(t->walk);
        if (!(t->walk = xllm_malloc((depth + 1) * (sizeof(int32_t) + sizeof(int32_t *))))) {
            t->walk_cap = 0;
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
        }
        t->walk_cap = depth + 1;
    }
    if (t->wmask_words < words) {
        xllm_free(t->wmask);
        if (!(t->wmask = xllm_malloc(words * sizeof *t->wmask))) {
            t->wmask_words = 0;
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
        }
        t->wmask_words = words;
    }
    *stack = t->walk;
    *mask = t->wmask;
    return XLLM_OK;
}

/* ---- lifetime, flush ---- */

static void clear_tables(gtables *t)
{
    for (uint32_t i = 0; i < t->n_sets; i++) {
        xllm_free(t->sets[i].trans);
        xllm_free(t->sets[i].mask);
    }
    t->n_sets = 0, t->n_items = 0, t->n_nodes = 1, t->mask_bytes = 0;
    if (t->nhash)
        memset(t->nhash, 0, t->nhash_cap * sizeof *t->nhash);
    if (t->shash)
        memset(t->shash, 0, t->shash_cap * sizeof *t->shash);
}

/* Stacks of set `set` as element chains (top first) appended at chain[*at],
 * one length per stack in len[]. */
static void save_set(const gtables *t, int32_t set, uint32_t *chain, size_t *at, uint32_t *len)
{
    const gset *S = &t->sets[set];
    for (uint32_t i = 0; i < S->n; i++) {
        len[i] = 0;
        for (uint32_t k = t->items[S->off + i]; k; k = t->nodes[k].parent)
            chain[(*at)++] = t->nodes[k].pos, len[i]++;
    }
}

/* Re-intern n stacks saved by save_set; the set id, or < 0. */
static int32_t load_set(gtables *t, const uint32_t *chain, size_t *at, const uint32_t *len, uint32_t n)
{
    t->n_tmp = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t parent = 0;
        for (uint32_t j = len[i]; j-- > 0;)
            if (!(parent = intern_node(t, chain[*at + j], parent)))
                return -2;
        *at += len[i];
        if (push_tmp(t, parent))
            return -2;
    }
    sort_unique(t);
    return intern_set(t);
}

/* The tables only grow while sequences run; past the flush limits they are
 * rebuilt holding just the start and every user's current state. */
static xllm_status maybe_flush(gtables *t)
{
    if (t->n_sets < XLLM_GRAMMAR_FLUSH_SETS && t->n_nodes < XLLM_GRAMMAR_FLUSH_NODES)
        return XLLM_OK;
    size_t total = 0, stacks = 0, at = 0, li = 0;
    for (xllm_grammar_state *u = t->users; u; u = u->next_user) {
        const gset *S = &t->sets[u->cur];
        stacks += S->n;
        for (uint32_t i = 0; i < S->n; i++)
            for (uint32_t k = t->items[S->off + i]; k; k = t->nodes[k].parent)
                total++;
    }
    uint32_t *chain = xllm_malloc((total + stacks + 1) * sizeof *chain), *len = chain + total;
    if (!chain)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    for (xllm_grammar_state *u = t->users; u; u = u->next_user) {
        save_set(t, u->cur, chain, &at, len + li);
        li += t->sets[u->cur].n;
    }
    uint32_t *nstk = xllm_malloc((t->refs + 1) * sizeof *nstk);
    if (!nstk) {
        xllm_free(chain);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    uint32_t nu = 0;
    for (xllm_grammar_state *u = t->users; u; u = u->next_user)
        nstk[nu++] = t->sets[u->cur].n;
    clear_tables(t);
    t->stats.flushes++;
    int bad = (t->start = start_set(t)) < 0;
    at = 0, li = 0, nu = 0;
    for (xllm_grammar_state *u = t->users; u; u = u->next_user) {
        u->cur = bad ? t->start : load_set(t, chain, &at, len + li, nstk[nu]);
        li += nstk[nu++];
        bad |= u->cur < 0;
    }
    xllm_free(nstk);
    xllm_free(chain);
    if (bad)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory rebuilding the state");
    return XLLM_OK;
}

static void tables_free(gtables *t)
{
    clear_tables(t);
    xllm_free(t->nodes);
    xllm_free(t->nhash);
    xllm_free(t->items);
    xllm_free(t->sets);
    xllm_free(t->shash);
    xllm_free(t->tmp);
    xllm_free(t->walk);
    xllm_free(t->wmask);
    xllm_grammar_free(t->owned);
    xllm_free(t);
}

static xllm_status tables_new(const xllm_grammar *g, gtables **out)
{
    gtables *t = xllm_calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    t->g = g;
    t->cap_nodes = 1024, t->cap_sets = 64, t->cap_items = 1024;
    t->nodes = xllm_malloc(t->cap_nodes * sizeof *t->nodes);
    t->sets = xllm_malloc(t->cap_sets * sizeof *t->sets);
    t->items = xllm_malloc(t->cap_items * sizeof *t->items);
    if (!t->nodes || !t->sets || !t->items) {
        tables_free(t);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    t->n_nodes = 1;
    t->nodes[0] = (gnode){0, 0};
    t->start = start_set(t);
    if (t->start < 0) {
        int oom = t->start == -2 && t->cap_tmp < XLLM_GRAMMAR_MAX_STACKS;
        tables_free(t);
        return oom ? xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory")
                   : xllm_fail(XLLM_ERR_LIMIT, "grammar: start state has more than %d stacks",
                               XLLM_GRAMMAR_MAX_STACKS);
    }
    *out = t;
    return XLLM_OK;
}

/* A state at the start of t, attached to it (t->refs counts it). */
static xllm_status state_attach(gtables *t, xllm_grammar_state **out)
{
    xllm_grammar_state *s = xllm_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    s->t = t;
    s->cur = t->start;
    s->next_user = t->users;
    if (t->users)
        t->users->prev_user = s;
    t->users = s;
    t->refs++;
    *out = s;
    return XLLM_OK;
}

xllm_status xllm_grammar_state_new(const xllm_grammar *g, xllm_grammar_state **out)
{
    gtables *t;
    xllm_status st = tables_new(g, &t);
    *out = NULL;
    if (st)
        return st;
    if ((st = state_attach(t, out)) != XLLM_OK)
        tables_free(t);
    return st;
}

xllm_status xllm_grammar_state_new_owned(xllm_grammar *g, xllm_grammar_state **out)
{
    xllm_status st = xllm_grammar_state_new(g, out);
    if (st)
        xllm_grammar_free(g);
    else
        (*out)->t->owned = g;
    return st;
}

xllm_status xllm_grammar_state_new_shared(xllm_grammar_state *like, xllm_grammar_state **out)
{
    return state_attach(like->t, out);
}

uint32_t xllm_grammar_state_sharers(const xllm_grammar_state *s)
{
    return s->t->refs;
}

const xllm_grammar *xllm_grammar_state_grammar(const xllm_grammar_state *s)
{
    return s->t->g;
}

void xllm_grammar_state_reset(xllm_grammar_state *s)
{
    s->cur = s->t->start;
    s->ended = 0;
    s->triggered = 0;
    s->n_tail = 0;
}

void xllm_grammar_state_free(xllm_grammar_state *s)
{
    if (!s)
        return;
    gtables *t = s->t;
    if (s->prev_user)
        s->prev_user->next_user = s->next_user;
    else
        t->users = s->next_user;
    if (s->next_user)
        s->next_user->prev_user = s->prev_user;
    if (--t->refs == 0)
        tables_free(t);
    for (size_t i = 0; i < s->n_words; i++)
        xllm_free(s->words[i]);
    xllm_free(s->words);
    xllm_free(s->ttok);
    xllm_free(s->scan);
    xllm_free(s);
}

void xllm_grammar_state_stats(const xllm_grammar_state *s, xllm_grammar_stats *out)
{
    *out = s->t->stats;
    out->sets = s->t->n_sets;
    out->nodes = s->t->n_nodes;
}

int xllm_grammar_can_end(const xllm_grammar_state *s)
{
    if (s->ended || (s->lazy && !s->triggered))
        return 1;
    return set_accepting(s->t, s->cur);
}

int xllm_grammar_done(const xllm_grammar_state *s)
{
    if (s->ended)
        return 1;
    if (s->lazy && !s->triggered)
        return 0;
    const gtables *t = s->t;
    return t->sets[s->cur].n == 1 && t->items[t->sets[s->cur].off] == 0;
}

/* ---- advancing ---- */

static xllm_status feed(xllm_grammar_state *s, const char *text, size_t len)
{
    xllm_status st = maybe_flush(s->t);
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
        s->cur = s->t->start;
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
                s->cur = s->t->start;
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

int xllm_gstate_max_after(const xllm_grammar_state *s, int32_t set, size_t *out)
{
    const gset *S = &s->t->sets[set];
    *out = S->max_after;
    return S->after_known;
}

void xllm_gstate_keep_max_after(xllm_grammar_state *s, int32_t set, size_t v)
{
    s->t->sets[set].max_after = v;
    s->t->sets[set].after_known = 1;
}

xllm_status xllm_gstate_prepare(xllm_grammar_state *s)
{
    return maybe_flush(s->t);
}

/* ---- finishing under a budget ---- */

/* Memoized per set: the finishing aid asks it for every allowed token. */
static size_t set_min(const xllm_grammar_state *s, int32_t set)
{
    size_t best = SIZE_MAX;
    gtables *t = s->t;
    gset *S = &t->sets[set];
    if (S->min_known)
        return S->min_rem;
    for (uint32_t i = 0; i < S->n && best; i++) {
        size_t sum = 0;
        for (uint32_t k = t->items[S->off + i]; k && sum < best; k = t->nodes[k].parent)
            sum += t->g->suffix_min[t->nodes[k].pos];
        if (sum < best)
            best = sum;
    }
    S->min_rem = best;
    S->min_known = 1;
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
