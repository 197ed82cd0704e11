/* grammar_cache.c - compiled grammars with warm tables shared by every request
 * of the same grammar text: a small LRU array keyed by a hash of root + text,
 * verified byte for byte. */
#include "runtime/grammar_cache.h"

#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"

typedef struct gc_entry {
    uint64_t hash, last_use;
    char *text, *root;        /* root "" = default */
    size_t len;
    xllm_grammar_state *proto; /* idle state at the start; owns the grammar via its tables */
} gc_entry;

struct xllm_grammar_cache {
    const xllm_grammar_vocab *v;
    gc_entry e[XLLM_GRAMMAR_CACHE_ENTRIES];
    uint32_t n;
    uint64_t clock;
    xllm_grammar_cache_stats st;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

xllm_status xllm_grammar_cache_new(const xllm_grammar_vocab *v, xllm_grammar_cache **out)
{
    *out = xllm_calloc(1, sizeof **out);
    if (!*out)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar cache: out of memory");
    (*out)->v = v;
    return XLLM_OK;
}

static void entry_clear(gc_entry *e)
{
    xllm_grammar_state_free(e->proto);
    xllm_free(e->text);
    xllm_free(e->root);
    memset(e, 0, sizeof *e);
}

void xllm_grammar_cache_free(xllm_grammar_cache *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++)
        entry_clear(&c->e[i]);
    xllm_free(c);
}

/* The slot for a new entry: a free one, else the least recently used one that
 * no live state shares, else the least recently used. */
static gc_entry *slot_for_new(xllm_grammar_cache *c)
{
    if (c->n < XLLM_GRAMMAR_CACHE_ENTRIES)
        return &c->e[c->n++];
    gc_entry *idle = NULL, *any = NULL;
    for (uint32_t i = 0; i < c->n; i++) {
        gc_entry *e = &c->e[i];
        if (!any || e->last_use < any->last_use)
            any = e;
        if (xllm_grammar_state_sharers(e->proto) == 1 && (!idle || e->last_use < idle->last_use))
            idle = e;
    }
    gc_entry *e = idle ? idle : any;
    entry_clear(e);
    c->st.evictions++;
    return e;
}

xllm_status xllm_grammar_cache_state(xllm_grammar_cache *c, const char *text, size_t len, const char *root,
                                     xllm_grammar_state **out)
{
    const char *r = root ? root : "";
    size_t rl = strlen(r);
    uint64_t h = fnv(fnv(0xCBF29CE484222325ull, r, rl + 1), text, len);
    xllm_grammar *g = NULL;
    xllm_grammar_state *proto = NULL;
    xllm_status st;
    *out = NULL;
    for (uint32_t i = 0; i < c->n; i++) {
        gc_entry *e = &c->e[i];
        if (e->hash == h && e->len == len && !strcmp(e->root, r) && !memcmp(e->text, text, len)) {
            e->last_use = ++c->clock;
            c->st.hits++;
            return xllm_grammar_state_new_shared(e->proto, out);
        }
    }
    if ((st = xllm_grammar_compile(text, len, root, &g)) != XLLM_OK)
        return st;
    if ((st = xllm_grammar_state_new_owned(g, &proto)) != XLLM_OK)
        return st;
    if ((st = xllm_grammar_state_new_shared(proto, out)) != XLLM_OK) {
        xllm_grammar_state_free(proto);
        return st;
    }
    c->st.misses++;
    char *tcopy = xllm_malloc(len + 1), *rcopy = xllm_strdup(r);
    if (!tcopy || !rcopy) { /* not cached; the state works alone */
        xllm_free(tcopy);
        xllm_free(rcopy);
        xllm_grammar_state_free(proto);
        return XLLM_OK;
    }
    memcpy(tcopy, text, len);
    tcopy[len] = 0;
    gc_entry *e = slot_for_new(c);
    *e = (gc_entry){h, ++c->clock, tcopy, rcopy, len, proto};
    return XLLM_OK;
}

void xllm_grammar_cache_get_stats(const xllm_grammar_cache *c, xllm_grammar_cache_stats *out)
{
    *out = c->st;
    out->entries = c->n;
}
