/* util.c - tokenizer helpers: hash maps (vocabulary text -> id, merge pair -> rank),
 * a byte trie, UTF-8 decoding/validation/repair, the GPT-2 byte<->unicode map. */
#include <string.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

xllm_status tok_ids_push(tok_ids *a, int32_t id)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = xllm_realloc(a->v, cap * sizeof *v);
        if (!v)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for %zu ids", cap);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return XLLM_OK;
}

void tok_ids_free(tok_ids *a)
{
    xllm_free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t tok_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0x100000001b3ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ mix64(w)) * 0x100000001b3ull;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(h ^ w ^ ((uint64_t)n << 56));
}

static uint32_t table_size(size_t n)
{
    uint32_t size = 16;
    while (size < n * 2 + 16)
        size <<= 1;
    return size;
}

xllm_status tok_strmap_build(xllm_tokenizer *t)
{
    tok_strmap *m = &t->map;
    uint32_t size = table_size((size_t)t->n_vocab);
    m->slots = xllm_malloc((size_t)size * sizeof *m->slots);
    if (!m->slots)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for the vocabulary map");
    memset(m->slots, 0xff, (size_t)size * sizeof *m->slots);
    m->mask = size - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = tok_text(t, id);
        uint32_t i = (uint32_t)tok_hash(s, t->len[id]) & m->mask;
        for (;; i = (i + 1) & m->mask) {
            int32_t o = m->slots[i];
            if (o < 0) {
                m->slots[i] = id;
                break;
            }
            /* duplicate text: the first id wins (as vocab lookups in HF/llama.cpp do) */
            if (t->len[o] == t->len[id] && !memcmp(tok_text(t, o), s, t->len[id]))
                break;
        }
    }
    return XLLM_OK;
}

int32_t tok_find(const xllm_tokenizer *t, const char *s, size_t n)
{
    const tok_strmap *m = &t->map;
    if (!m->slots)
        return -1;
    uint32_t i = (uint32_t)tok_hash(s, n) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        int32_t o = m->slots[i];
        if (o < 0)
            return -1;
        if (t->len[o] == n && !memcmp(tok_text(t, o), s, n))
            return o;
    }
}

xllm_status tok_pairmap_init(tok_pairmap *m, size_t n)
{
    uint32_t size = table_size(n);
    m->keys = xllm_calloc(size, sizeof *m->keys);
    m->rank = xllm_malloc((size_t)size * sizeof *m->rank);
    m->result = xllm_malloc((size_t)size * sizeof *m->result);
    m->mask = size - 1;
    if (!m->keys || !m->rank || !m->result) {
        tok_pairmap_free(m);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for %zu merges", n);
    }
    return XLLM_OK;
}

xllm_status tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t result)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint32_t i = (uint32_t)mix64(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key)
            return XLLM_OK; /* a repeated merge keeps its first (best) rank */
        if (!m->keys[i]) {
            m->keys[i] = key;
            m->rank[i] = rank;
            m->result[i] = result;
            return XLLM_OK;
        }
    }
}

int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, int32_t *rank, int32_t *result)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint32_t i = (uint32_t)mix64(key) & m->mask;
    for (;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) {
            *rank = m->rank[i];
            *result = m->result[i];
            return 1;
        }
        if (!m->keys[i])
            return 0;
    }
}

void tok_pairmap_free(tok_pairmap *m)
{
    xllm_free(m->keys);
    xllm_free(m->rank);
    xllm_free(m->result);
    memset(m, 0, sizeof *m);
}

/* ---- trie ---- */

xllm_status tok_trie_init(tok_trie *tr)
{
    memset(tr, 0, sizeof *tr);
    tr->cap_nodes = 64;
    tr->term = xllm_malloc((size_t)tr->cap_nodes * sizeof *tr->term);
    tr->edge_mask = 127;
    tr->edge_key = xllm_calloc(tr->edge_mask + 1, sizeof *tr->edge_key);
    tr->edge_to = xllm_malloc((tr->edge_mask + 1) * sizeof *tr->edge_to);
    if (!tr->term || !tr->edge_key || !tr->edge_to) {
        tok_trie_free(tr);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for a trie");
    }
    tr->term[0] = -1;
    tr->n_nodes = 1;
    return XLLM_OK;
}

static void edge_insert(uint64_t *keys, int32_t *to, uint32_t mask, uint64_t key, int32_t dst)
{
    uint32_t i = (uint32_t)mix64(key) & mask;
    while (keys[i])
        i = (i + 1) & mask;
    keys[i] = key;
    to[i] = dst;
}

static xllm_status trie_grow_edges(tok_trie *tr)
{
    uint32_t mask = tr->edge_mask * 2 + 1;
    uint64_t *keys = xllm_calloc((size_t)mask + 1, sizeof *keys);
    int32_t *to = xllm_malloc(((size_t)mask + 1) * sizeof *to);
    if (!keys || !to) {
        xllm_free(keys);
        xllm_free(to);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for a trie");
    }
    for (uint32_t i = 0; i <= tr->edge_mask; i++)
        if (tr->edge_key[i])
            edge_insert(keys, to, mask, tr->edge_key[i], tr->edge_to[i]);
    xllm_free(tr->edge_key);
    xllm_free(tr->edge_to);
    tr->edge_key = keys;
    tr->edge_to = to;
    tr->edge_mask = mask;
    return XLLM_OK;
}

int32_t tok_trie_child(const tok_trie *tr, int32_t node, uint8_t byte)
{
    uint64_t key = (((uint64_t)node << 8) | byte) + 1;
    uint32_t i = (uint32_t)mix64(key) & tr->edge_mask;
    for (;; i = (i + 1) & tr->edge_mask) {
        if (tr->edge_key[i] == key)
            return tr->edge_to[i];
        if (!tr->edge_key[i])
            return -1;
    }
}

xllm_status tok_trie_add(tok_trie *tr, const char *s, size_t n, int32_t id)
{
    int32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t c = (uint8_t)s[k];
        int32_t next = tok_trie_child(tr, node, c);
        if (next < 0) {
            if (tr->n_nodes == tr->cap_nodes) {
                int32_t cap = tr->cap_nodes * 2;
                int32_t *term = xllm_realloc(tr->term, (size_t)cap * sizeof *term);
                if (!term)
                    return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for a trie");
                tr->term = term;
                tr->cap_nodes = cap;
            }
            /* keep the edge table at most half full */
            if ((uint32_t)tr->n_nodes * 2 >= tr->edge_mask) {
                xllm_status st = trie_grow_edges(tr);
                if (st)
                    return st;
            }
            next = tr->n_nodes++;
            tr->term[next] = -1;
            edge_insert(tr->edge_key, tr->edge_to, tr->edge_mask, (((uint64_t)node << 8) | c) + 1, next);
        }
        node = next;
    }
    if (tr->term[node] < 0)
        tr->term[node] = id;
    return XLLM_OK;
}

size_t tok_trie_longest(const tok_trie *tr, const char *s, size_t n, int32_t *id)
{
    size_t best = 0;
    int32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        node = tok_trie_child(tr, node, (uint8_t)s[k]);
        if (node < 0)
            break;
        if (tr->term[node] >= 0) {
            best = k + 1;
            *id = tr->term[node];
        }
    }
    return best;
}

void tok_trie_free(tok_trie *tr)
{
    xllm_free(tr->term);
    xllm_free(tr->edge_key);
    xllm_free(tr->edge_to);
    memset(tr, 0, sizeof *tr);
}

/* ---- UTF-8 ---- */

/* Valid range of the second byte for lead byte c (Unicode table 3-7). */
static void second_range(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (c == 0xe0)
        *lo = 0xa0;
    else if (c == 0xed)
        *hi = 0x9f;
    else if (c == 0xf0)
        *lo = 0x90;
    else if (c == 0xf4)
        *hi = 0x8f;
}

static size_t lead_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/* Number of bytes of a well-formed prefix of the sequence at s (0 = bad lead). */
static size_t valid_prefix(const unsigned char *s, size_t n, size_t *need)
{
    size_t want = lead_len(s[0]);
    *need = want;
    if (want <= 1)
        return want;
    unsigned char lo, hi;
    second_range(s[0], &lo, &hi);
    size_t k = 1;
    if (k < n && s[k] >= lo && s[k] <= hi) {
        k++;
        while (k < want && k < n && s[k] >= 0x80 && s[k] <= 0xbf)
            k++;
    }
    return k;
}

size_t tok_utf8_valid_len(const unsigned char *s, size_t n)
{
    size_t need;
    size_t k = valid_prefix(s, n, &need);
    return (k == need && need > 0) ? need : 0;
}

size_t tok_utf8_invalid_len(const unsigned char *s, size_t n)
{
    size_t need;
    size_t k = valid_prefix(s, n, &need);
    return k ? k : 1;
}

size_t tok_utf8_len_lenient(unsigned char c)
{
    size_t k = lead_len(c);
    return k ? k : 1;
}

uint32_t tok_utf8_decode(const unsigned char *s, size_t n, size_t *adv)
{
    size_t k = tok_utf8_valid_len(s, n);
    if (!k) {
        *adv = tok_utf8_invalid_len(s, n);
        return 0xfffd;
    }
    *adv = k;
    switch (k) {
    case 1:
        return s[0];
    case 2:
        return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
    case 3:
        return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    default:
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
               ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    }
}

size_t tok_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

xllm_status tok_utf8_sanitize(const char *text, size_t len, char **out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    *out = NULL;
    *out_len = len;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = tok_utf8_valid_len(s + i, len - i);
        if (!k)
            break;
        i += k;
    }
    if (i == len)
        return XLLM_OK;
    /* each invalid subpart (>= 1 byte) becomes 3 bytes */
    if (len > ((size_t)-1) / 3 - 1)
        return xllm_fail(XLLM_ERR_LIMIT, "tokenizer: text too long (%zu bytes)", len);
    char *o = xllm_malloc(len * 3 + 1);
    if (!o)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for %zu bytes of text", len);
    memcpy(o, text, i);
    size_t w = i;
    while (i < len) {
        size_t k = tok_utf8_valid_len(s + i, len - i);
        if (k) {
            memcpy(o + w, s + i, k);
            w += k;
            i += k;
        } else {
            memcpy(o + w, "\xef\xbf\xbd", 3);
            w += 3;
            i += tok_utf8_invalid_len(s + i, len - i);
        }
    }
    o[w] = 0;
    *out = o;
    *out_len = w;
    return XLLM_OK;
}

/* ---- GPT-2 byte-level map: printable Latin-1 bytes stand for themselves, the
 * other 68 bytes take code points 256.. in byte order. ---- */

static int byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

uint32_t tok_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b))
        return b;
    uint32_t n = 0;
    for (unsigned k = 0; k < b; k++)
        n += !byte_is_printable(k);
    return 256 + n;
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    uint32_t n = 0;
    for (unsigned k = 0; k < 256; k++) {
        if (!byte_is_printable(k)) {
            if (n == cp - 256)
                return (int)k;
            n++;
        }
    }
    return -1;
}
