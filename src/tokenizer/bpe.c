/* bpe.c - the merge models: byte-level BPE ("gpt2", merge ranks) and SentencePiece BPE
 * ("llama": by score as sentencepiece does, or by merge rank as Hugging Face's
 * tokenizer.json BPE does). Both run one engine: a doubly linked list of symbols and
 * a binary heap of candidate adjacent pairs, so a word of n symbols costs O(n log n)
 * (no quadratic rescans on long inputs without spaces). */
#include <string.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

typedef struct sym {
    uint32_t start, len; /* bytes in the work string; len 0 = merged away */
    int32_t prev, next;
    int32_t id;          /* vocabulary id, or -1 (SPM: a char not in the vocabulary) */
    int frozen;          /* sentencepiece user-defined piece: never merges */
} sym;

typedef struct pair {
    float prio;          /* higher first: -rank, or the merged piece's score */
    int32_t left;        /* left symbol; the right one is its next */
    uint32_t llen, rlen; /* both lengths when queued: if either changed, the entry is stale */
    int32_t result;      /* merged id */
} pair;

#define HEAP_D 4 /* a 4-ary heap: shallower, fewer cache misses than binary */

typedef struct engine {
    sym *s;
    size_t n, cap;
    pair *h;
    size_t hn, hcap;
} engine;

static int pair_before(const pair *a, const pair *b)
{
    if (a->prio != b->prio)
        return a->prio > b->prio;
    return a->left < b->left;
}

static xllm_status heap_reserve(engine *e)
{
    if (e->hn < e->hcap)
        return XLLM_OK;
    size_t cap = e->hcap ? e->hcap * 2 : 64;
    pair *h = xllm_realloc(e->h, cap * sizeof *h);
    if (!h)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (merge queue)");
    e->h = h;
    e->hcap = cap;
    return XLLM_OK;
}

static xllm_status heap_push_back(engine *e, pair p)
{
    xllm_status st = heap_reserve(e);
    if (!st)
        e->h[e->hn++] = p;
    return st;
}

static xllm_status heap_push(engine *e, pair p)
{
    xllm_status st = heap_reserve(e);
    if (st)
        return st;
    size_t i = e->hn++;
    while (i > 0) {
        size_t up = (i - 1) / HEAP_D;
        if (!pair_before(&p, &e->h[up]))
            break;
        e->h[i] = e->h[up];
        i = up;
    }
    e->h[i] = p;
    return XLLM_OK;
}

/* Move h[i] down to its place. */
static void sift_down(engine *e, size_t i)
{
    pair x = e->h[i];
    for (;;) {
        size_t c = HEAP_D * i + 1, best = c;
        if (c >= e->hn)
            break;
        size_t end = c + HEAP_D < e->hn ? c + HEAP_D : e->hn;
        for (size_t k = c + 1; k < end; k++)
            if (pair_before(&e->h[k], &e->h[best]))
                best = k;
        if (!pair_before(&e->h[best], &x))
            break;
        e->h[i] = e->h[best];
        i = best;
    }
    e->h[i] = x;
}

static pair heap_pop(engine *e)
{
    pair top = e->h[0];
    e->h[0] = e->h[--e->hn];
    if (e->hn)
        sift_down(e, 0);
    return top;
}

static xllm_status sym_push(engine *e, uint32_t start, uint32_t len, int32_t id, int frozen)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        sym *s = xllm_realloc(e->s, cap * sizeof *s);
        if (!s)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory (symbols)");
        e->s = s;
        e->cap = cap;
    }
    sym *x = &e->s[e->n];
    x->start = start;
    x->len = len;
    x->id = id;
    x->frozen = frozen;
    x->prev = (int32_t)e->n - 1;
    x->next = (int32_t)e->n + 1;
    e->n++;
    return XLLM_OK;
}

static void engine_free(engine *e)
{
    xllm_free(e->s);
    xllm_free(e->h);
}

/* ---- per-call word cache: a word (pre-tokenizer piece, SPM chunk) seen before in
 * the same call reuses its ids. Grows from 1k slots; long words and words past
 * the cap are not cached. ---- */
#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1u << 16)

typedef struct centry {
    uint64_t hash;
    uint32_t used;          /* 0 = empty slot */
    uint32_t off, len;      /* the word: pool[off, off + len) */
    uint32_t first, n;      /* its ids: ids[first, first + n) */
} centry;

struct tok_cache {
    centry *slots; /* [mask + 1] */
    uint32_t mask, used;
    xllm_buf pool; /* copies of the cached words */
    tok_ids ids;
};

static centry *cache_slot(centry *slots, uint32_t mask, const char *pool, const char *w, size_t n, uint64_t h)
{
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        centry *e = &slots[i];
        if (!e->used || (e->hash == h && e->len == n && !memcmp(pool + e->off, w, n)))
            return e;
    }
}

/* Emit the cached ids of w, if any (returns 1). */
static int cache_get(tok_cache *c, const char *w, size_t n, uint64_t h, tok_ids *out, xllm_status *st)
{
    if (!c || !c->slots || n > CACHE_MAX_WORD)
        return 0;
    centry *e = cache_slot(c->slots, c->mask, c->pool.data, w, n, h);
    if (!e->used)
        return 0;
    *st = XLLM_OK;
    for (uint32_t k = 0; k < e->n && !*st; k++)
        *st = tok_ids_push(out, c->ids.v[e->first + k]);
    return 1;
}

static int cache_grow(tok_cache *c)
{
    uint32_t size = c->slots ? (c->mask + 1) * 2 : 1024;
    centry *slots = xllm_calloc(size, sizeof *slots);
    if (!slots)
        return 0;
    for (uint32_t i = 0; c->slots && i <= c->mask; i++)
        if (c->slots[i].used)
            *cache_slot(slots, size - 1, c->pool.data, c->pool.data + c->slots[i].off, c->slots[i].len,
                        c->slots[i].hash) = c->slots[i];
    xllm_free(c->slots);
    c->slots = slots;
    c->mask = size - 1;
    return 1;
}

/* Remember the ids out->v[mark, out->n) for w (best effort: failures only skip). */
static void cache_put(tok_cache *c, const char *w, size_t n, uint64_t h, const tok_ids *out, size_t mark)
{
    if (!c || n > CACHE_MAX_WORD || c->used >= CACHE_MAX_ENTRIES)
        return;
    if ((!c->slots || (c->used + 1) * 2 > c->mask + 1) && !cache_grow(c))
        return;
    centry *e = cache_slot(c->slots, c->mask, c->pool.data, w, n, h);
    if (e->used)
        return;
    uint32_t first = (uint32_t)c->ids.n, off = (uint32_t)c->pool.len;
    for (size_t k = mark; k < out->n; k++)
        if (tok_ids_push(&c->ids, out->v[k])) {
            c->ids.n = first;
            return;
        }
    if (xllm_buf_append(&c->pool, w, n)) {
        c->ids.n = first;
        return;
    }
    e->hash = h;
    e->used = 1;
    e->off = off;
    e->len = (uint32_t)n;
    e->first = first;
    e->n = (uint32_t)(out->n - mark);
    c->used++;
}

tok_cache *tok_cache_new(void)
{
    tok_cache *c = xllm_calloc(1, sizeof(tok_cache));
    if (c)
        xllm_buf_init(&c->pool, 0);
    return c;
}

void tok_cache_free(tok_cache *c)
{
    if (!c)
        return;
    xllm_free(c->slots);
    xllm_buf_free(&c->pool);
    tok_ids_free(&c->ids);
    xllm_free(c);
}

/* How a model scores a candidate pair. Returns 0 when the pair cannot merge. */
typedef int (*pair_fn)(const xllm_tokenizer *t, const char *w, const sym *a, const sym *b, float *prio,
                       int32_t *result);

static int rank_pair(const xllm_tokenizer *t, const char *w, const sym *a, const sym *b, float *prio,
                     int32_t *result)
{
    (void)w;
    int32_t rank;
    if (a->id < 0 || b->id < 0 || !tok_pairmap_get(&t->merges, a->id, b->id, &rank, result))
        return 0;
    *prio = -(float)rank;
    return 1;
}

/* sentencepiece: the concatenation must be a normal, user-defined or unused piece. */
static int score_pair(const xllm_tokenizer *t, const char *w, const sym *a, const sym *b, float *prio,
                      int32_t *result)
{
    if (a->frozen || b->frozen)
        return 0;
    int32_t id = tok_find(t, w + a->start, (size_t)a->len + b->len);
    if (id < 0)
        return 0;
    uint8_t ty = t->types[id];
    if (ty != XLLM_TOKEN_NORMAL && ty != XLLM_TOKEN_USER_DEFINED && ty != XLLM_TOKEN_UNUSED &&
        ty != XLLM_TOKEN_UNDEFINED)
        return 0;
    *prio = t->scores[id];
    *result = id;
    return 1;
}

static xllm_status try_pair(engine *e, const xllm_tokenizer *t, const char *w, pair_fn fn, int32_t l)
{
    if (l < 0)
        return XLLM_OK;
    int32_t r = e->s[l].next;
    if (r < 0 || (size_t)r >= e->n)
        return XLLM_OK;
    pair p;
    if (!fn(t, w, &e->s[l], &e->s[r], &p.prio, &p.result))
        return XLLM_OK;
    p.left = l;
    p.llen = e->s[l].len;
    p.rlen = e->s[r].len;
    return heap_push(e, p);
}

/* Merge until no candidate is left. The symbols must be set up (prev/next chain). */
static xllm_status engine_run(engine *e, const xllm_tokenizer *t, const char *w, pair_fn fn)
{
    if (!e->n)
        return XLLM_OK;
    e->s[e->n - 1].next = -1;
    /* all first pairs, then one O(n) heapify */
    e->hn = 0;
    for (size_t i = 0; i + 1 < e->n; i++) {
        pair p;
        if (!fn(t, w, &e->s[i], &e->s[i + 1], &p.prio, &p.result))
            continue;
        p.left = (int32_t)i;
        p.llen = e->s[i].len;
        p.rlen = e->s[i + 1].len;
        xllm_status st = heap_push_back(e, p);
        if (st)
            return st;
    }
    for (size_t i = e->hn / HEAP_D + 1; i-- > 0;)
        if (i < e->hn)
            sift_down(e, i);
    while (e->hn) {
        pair p = heap_pop(e);
        sym *a = &e->s[p.left];
        if (a->len != p.llen || a->next < 0 || e->s[a->next].len != p.rlen)
            continue; /* stale: one side merged since */
        sym *b = &e->s[a->next];
        a->len += b->len;
        a->id = p.result;
        b->len = 0;
        a->next = b->next;
        if (b->next >= 0)
            e->s[b->next].prev = p.left;
        xllm_status st = try_pair(e, t, w, fn, a->prev);
        if (!st)
            st = try_pair(e, t, w, fn, p.left);
        if (st)
            return st;
    }
    return XLLM_OK;
}

/* ---- byte-level BPE ---- */

static xllm_status bpe_word(const xllm_tokenizer *t, engine *e, const char *w, size_t n, xllm_buf *scratch,
                            tok_cache *cache, tok_ids *out)
{
    xllm_status st;
    uint64_t h = n <= CACHE_MAX_WORD ? tok_hash(w, n) : 0;
    if (n <= CACHE_MAX_WORD && cache_get(cache, w, n, h, out, &st))
        return st;
    size_t mark = out->n;
    if (t->pre && t->pre->ignore_merges) {
        /* a word that is itself a token is emitted whole (Llama 3's ignore_merges) */
        scratch->len = 0;
        for (size_t i = 0; i < n; i++) {
            char u[4];
            size_t k = tok_utf8_encode(tok_byte_to_cp((uint8_t)w[i]), u);
            if ((st = xllm_buf_append(scratch, u, k)))
                return st;
        }
        int32_t id = tok_find(t, scratch->data ? scratch->data : "", scratch->len);
        if (id >= 0) {
            if ((st = tok_ids_push(out, id)))
                return st;
            if (n <= CACHE_MAX_WORD)
                cache_put(cache, w, n, h, out, mark);
            return XLLM_OK;
        }
    }
    e->n = 0;
    for (size_t i = 0; i < n; i++)
        if ((st = sym_push(e, (uint32_t)i, 1, t->byte_tok[(uint8_t)w[i]], 0)))
            return st;
    if ((st = engine_run(e, t, w, rank_pair)))
        return st;
    for (int32_t i = 0; i >= 0; i = e->s[i].next) {
        int32_t id = e->s[i].id;
        if (id < 0)
            id = t->unk; /* the vocabulary lacks this byte */
        if (id >= 0 && (st = tok_ids_push(out, id)))
            return st;
    }
    if (n <= CACHE_MAX_WORD)
        cache_put(cache, w, n, h, out, mark);
    return XLLM_OK;
}

xllm_status tok_bpe_fragment(const xllm_tokenizer *t, const char *s, size_t n, tok_cache *cache, tok_ids *out)
{
    char *norm = NULL, *pref = NULL;
    size_t nlen;
    tok_span *spans = NULL;
    size_t n_spans = 0;
    engine e = {0};
    xllm_buf scratch;
    xllm_buf_init(&scratch, 0);
    xllm_status rc = XLLM_OK;
    if (t->pre && t->pre->nfc) {
        if ((rc = tok_nfc(s, n, &norm, &nlen)))
            goto out;
        if (norm) {
            s = norm;
            n = nlen;
        }
    }
    if (t->add_space_prefix && n && s[0] != ' ') {
        pref = xllm_malloc(n + 2);
        if (!pref) {
            rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
            goto out;
        }
        pref[0] = ' ';
        memcpy(pref + 1, s, n);
        s = pref;
        n++;
    }
    if ((rc = tok_pre_split(t, s, n, &spans, &n_spans)))
        goto out;
    for (size_t i = 0; i < n_spans; i++)
        if ((rc = bpe_word(t, &e, s + spans[i].start, spans[i].end - spans[i].start, &scratch, cache, out)))
            goto out;
out:
    xllm_free(norm);
    xllm_free(pref);
    xllm_free(spans);
    xllm_buf_free(&scratch);
    engine_free(&e);
    return rc;
}

/* ---- SentencePiece BPE ---- */

/* Emit a final SPM symbol: its id, else its bytes as <0xNN> tokens, else unknown. */
static xllm_status spm_emit_unknown(const xllm_tokenizer *t, const char *p, size_t n, tok_ids *out)
{
    int have_bytes = 1;
    for (size_t k = 0; k < n && have_bytes; k++)
        have_bytes = t->byte_tok[(uint8_t)p[k]] >= 0;
    xllm_status st = XLLM_OK;
    if (have_bytes) {
        for (size_t k = 0; k < n && !st; k++)
            st = tok_ids_push(out, t->byte_tok[(uint8_t)p[k]]);
    } else if (t->unk >= 0) {
        st = tok_ids_push(out, t->unk);
    }
    return st;
}

/* Merge one chunk w[from, to) of the normalized text and emit its ids. */
static xllm_status spm_chunk(const xllm_tokenizer *t, engine *e, const char *p, size_t from, size_t to,
                             tok_cache *cache, tok_ids *out)
{
    int ranks = t->spm_mode == TOK_SPM_RANKS;
    int last_unk = 0;
    xllm_status rc = XLLM_OK;
    size_t n = to - from, mark = out->n;
    uint64_t h = n <= CACHE_MAX_WORD ? tok_hash(p + from, n) : 0;
    if (n <= CACHE_MAX_WORD && cache_get(cache, p + from, n, h, out, &rc))
        return rc;
    e->n = 0;
    for (size_t i = from; i < to;) {
        int32_t id = -1;
        size_t k = 0;
        int frozen = 0;
        if (t->user_defined_in_model && (k = tok_trie_longest(&t->user_trie, p + i, to - i, &id)))
            frozen = 1;
        else {
            k = tok_utf8_len_lenient((unsigned char)p[i]);
            if (k > to - i)
                k = to - i;
            id = tok_find(t, p + i, k);
        }
        if (ranks && id < 0) {
            /* Hugging Face BPE: byte fallback, else one (fused) unknown symbol */
            int have_bytes = 1;
            for (size_t b = 0; b < k && have_bytes; b++)
                have_bytes = t->byte_tok[(uint8_t)p[i + b]] >= 0;
            if (have_bytes) {
                for (size_t b = 0; b < k && !rc; b++)
                    rc = sym_push(e, (uint32_t)(i + b), 1, t->byte_tok[(uint8_t)p[i + b]], 1);
                last_unk = 0;
            } else if (last_unk) {
                e->s[e->n - 1].len += (uint32_t)k;
            } else {
                rc = sym_push(e, (uint32_t)i, (uint32_t)k, t->unk, 1);
                last_unk = 1;
            }
        } else {
            rc = sym_push(e, (uint32_t)i, (uint32_t)k, id, frozen);
            last_unk = 0;
        }
        if (rc)
            return rc;
        i += k;
    }
    if (!e->n || (rc = engine_run(e, t, p, ranks ? rank_pair : score_pair)))
        return rc;
    for (int32_t i = 0; i >= 0 && !rc; i = e->s[i].next) {
        const sym *x = &e->s[i];
        if (ranks)
            rc = x->id >= 0 ? tok_ids_push(out, x->id) : XLLM_OK;
        else if (x->id >= 0 && t->types[x->id] != XLLM_TOKEN_UNKNOWN)
            rc = tok_ids_push(out, x->id);
        else
            rc = spm_emit_unknown(t, p + x->start, x->len, out);
    }
    if (!rc && n <= CACHE_MAX_WORD)
        cache_put(cache, p + from, n, h, out, mark);
    return rc;
}

static int glued(const xllm_tokenizer *t, uint32_t c)
{
    size_t lo = 0, hi = t->n_spm_glue;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->spm_glue[mid] == c)
            return 1;
        if (t->spm_glue[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

xllm_status tok_spm_fragment(const xllm_tokenizer *t, const char *s, size_t n, int prefix, tok_cache *cache,
                             tok_ids *out)
{
    xllm_buf w;
    xllm_buf_init(&w, 0);
    engine e = {0};
    xllm_status rc = tok_sp_normalize(t, s, n, prefix, &w);
    if (rc || !w.len)
        goto out;
    if (w.len >= UINT32_MAX) {
        rc = xllm_fail(XLLM_ERR_LIMIT, "tokenizer: %zu bytes of text in one piece is too long", w.len);
        goto out;
    }
    /* cut before each run of U+2581 that no token can glue to the char before it */
    const unsigned char *p = (const unsigned char *)w.data;
    size_t from = 0, i = 0, adv;
    uint32_t prev = 0x2581;
    while (i < w.len && !rc) {
        uint32_t c = tok_utf8_decode(p + i, w.len - i, &adv);
        if (c == 0x2581 && prev != 0x2581 && i > from && t->spm_chunks && !glued(t, prev)) {
            rc = spm_chunk(t, &e, w.data, from, i, cache, out);
            from = i;
        }
        prev = c;
        i += adv;
    }
    if (!rc && from < w.len)
        rc = spm_chunk(t, &e, w.data, from, w.len, cache, out);
out:
    xllm_buf_free(&w);
    engine_free(&e);
    return rc;
}
