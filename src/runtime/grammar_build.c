/* grammar_build.c - the grammar builder: rules and byte sets as the parser
 * makes them, character classes compiled to UTF-8 byte sequences, and the
 * final checks (productive, no left recursion) before flattening. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "runtime/grammar_impl.h"

void gb_free(gb_builder *b)
{
    for (uint32_t r = 0; r < b->n_rules; r++) {
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++)
            xllm_free(b->rules[r].alts[a].v);
        xllm_free(b->rules[r].alts);
        xllm_free(b->rules[r].name);
    }
    xllm_free(b->rules);
    xllm_free(b->sets);
    for (uint32_t i = 0; i < b->n_classes; i++)
        xllm_free(b->classes[i].ranges);
    memset(b, 0, sizeof *b);
}

static xllm_status grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return XLLM_OK;
    uint32_t nc = *cap ? *cap : 8;
    while (nc < need)
        nc *= 2;
    void *q = xllm_realloc(*p, (size_t)nc * elem);
    if (!q)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    *p = q;
    *cap = nc;
    return XLLM_OK;
}

xllm_status gb_new_rule(gb_builder *b, const char *name, size_t name_len, uint32_t *id)
{
    if (b->n_rules >= XLLM_GRAMMAR_MAX_RULES)
        return xllm_fail(XLLM_ERR_LIMIT, "grammar: more than %u rules", XLLM_GRAMMAR_MAX_RULES);
    xllm_status st = grow((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules);
    if (st)
        return st;
    gb_rule *r = &b->rules[b->n_rules];
    memset(r, 0, sizeof *r);
    r->name = xllm_strndup(name, name_len);
    if (!r->name)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    *id = b->n_rules++;
    return XLLM_OK;
}

xllm_status gb_new_alt(gb_builder *b, uint32_t rule)
{
    gb_rule *r = &b->rules[rule];
    xllm_status st = grow((void **)&r->alts, &r->cap_alts, r->n_alts + 1, sizeof *r->alts);
    if (st)
        return st;
    memset(&r->alts[r->n_alts++], 0, sizeof(gb_alt));
    return XLLM_OK;
}

xllm_status gb_push(gb_builder *b, uint32_t rule, xllm_gelem e)
{
    if (++b->n_elems > XLLM_GRAMMAR_MAX_ELEMS)
        return xllm_fail(XLLM_ERR_LIMIT, "grammar: more than %u elements", XLLM_GRAMMAR_MAX_ELEMS);
    gb_alt *a = &b->rules[rule].alts[b->rules[rule].n_alts - 1];
    xllm_status st = grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
    if (st)
        return st;
    a->v[a->n++] = e;
    return XLLM_OK;
}

xllm_status gb_set_index(gb_builder *b, const xllm_byteset *s, uint32_t *idx)
{
    int single = -1, count = 0;
    for (int i = 0; i < 256; i++)
        if (xllm_byteset_has(s, (unsigned)i) && count++ == 0)
            single = i;
    if (count == 1 && b->single[single] > 0) {
        *idx = (uint32_t)b->single[single] - 1;
        return XLLM_OK;
    }
    if (count != 1) /* classes are few: a linear look-up over recent ones */
        for (uint32_t i = b->n_sets > 64 ? b->n_sets - 64 : 0; i < b->n_sets; i++)
            if (!memcmp(&b->sets[i], s, sizeof *s)) {
                *idx = i;
                return XLLM_OK;
            }
    xllm_status st = grow((void **)&b->sets, &b->cap_sets, b->n_sets + 1, sizeof *b->sets);
    if (st)
        return st;
    b->sets[b->n_sets] = *s;
    if (count == 1)
        b->single[single] = (int32_t)b->n_sets + 1;
    *idx = b->n_sets++;
    return XLLM_OK;
}

/* ---- character classes -> UTF-8 byte sequences ---- */

typedef struct u8seq {
    int len;
    uint8_t lo[4], hi[4];
} u8seq;

typedef struct u8seqs {
    u8seq *v;
    uint32_t n, cap;
} u8seqs;

static int utf8_put(uint32_t c, uint8_t *o)
{
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xC0 | (c >> 6));
        o[1] = (uint8_t)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (c >> 12));
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 63));
        o[2] = (uint8_t)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (c >> 18));
    o[1] = (uint8_t)(0x80 | ((c >> 12) & 63));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 63));
    o[3] = (uint8_t)(0x80 | (c & 63));
    return 4;
}

/* Split [lo, hi] until every piece is a product of byte ranges (the usual
 * construction: cut at encoding-length limits, then at continuation-byte
 * boundaries). */
static xllm_status utf8_split(u8seqs *out, uint32_t lo, uint32_t hi)
{
    static const uint32_t lim[3] = {0x7F, 0x7FF, 0xFFFF};
    if (lo > hi)
        return XLLM_OK;
    for (int i = 0; i < 3; i++)
        if (lo <= lim[i] && hi > lim[i]) {
            xllm_status st = utf8_split(out, lo, lim[i]);
            return st ? st : utf8_split(out, lim[i] + 1, hi);
        }
    if (hi >= 0x80)
        for (int i = 1; i < 4; i++) {
            uint32_t m = (1u << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if (lo & m) {
                    xllm_status st = utf8_split(out, lo, lo | m);
                    return st ? st : utf8_split(out, (lo | m) + 1, hi);
                }
                if ((hi & m) != m) {
                    xllm_status st = utf8_split(out, lo, (hi & ~m) - 1);
                    return st ? st : utf8_split(out, hi & ~m, hi);
                }
            }
        }
    xllm_status st = grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v);
    if (st)
        return st;
    u8seq *q = &out->v[out->n++];
    q->len = utf8_put(lo, q->lo);
    utf8_put(hi, q->hi);
    return XLLM_OK;
}

static void set_range(xllm_byteset *s, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        s->w[c >> 6] |= 1ull << (c & 63);
}

static int class_equal(const gb_class_entry *e, const uint32_t (*r)[2], size_t n)
{
    return e->n == n && !memcmp(e->ranges, r, n * sizeof *r);
}

static xllm_status class_build(gb_builder *b, const uint32_t (*ranges)[2], size_t n, xllm_gelem *out)
{
    xllm_byteset ascii = {{0}};
    u8seqs seqs = {0};
    xllm_status st = XLLM_OK;
    for (size_t i = 0; i < n && !st; i++) {
        if (ranges[i][0] < 0x80)
            set_range(&ascii, ranges[i][0], ranges[i][1] < 0x80 ? ranges[i][1] : 0x7F);
        if (ranges[i][1] >= 0x80)
            st = utf8_split(&seqs, ranges[i][0] < 0x80 ? 0x80 : ranges[i][0], ranges[i][1]);
    }
    int has_ascii = ascii.w[0] || ascii.w[1];
    if (st)
        goto out;
    if (!seqs.n) {
        uint32_t idx;
        if (!has_ascii) {
            st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "empty character class");
            goto out;
        }
        st = gb_set_index(b, &ascii, &idx);
        *out = (xllm_gelem){GE_BYTES, idx};
        goto out;
    }
    uint32_t rule;
    if ((st = gb_new_rule(b, "char-class", 10, &rule)))
        goto out;
    b->rules[rule].defined = 1;
    if (has_ascii) {
        uint32_t idx;
        if ((st = gb_new_alt(b, rule)) || (st = gb_set_index(b, &ascii, &idx)) ||
            (st = gb_push(b, rule, (xllm_gelem){GE_BYTES, idx})))
            goto out;
    }
    /* one alternative per distinct (length, continuation ranges); lead bytes merged */
    for (uint32_t i = 0; i < seqs.n && !st; i++) {
        u8seq *q = &seqs.v[i];
        if (!q->len)
            continue;
        xllm_byteset lead = {{0}};
        set_range(&lead, q->lo[0], q->hi[0]);
        for (uint32_t j = i + 1; j < seqs.n; j++) {
            u8seq *o = &seqs.v[j];
            if (o->len == q->len && !memcmp(o->lo + 1, q->lo + 1, (size_t)q->len - 1) &&
                !memcmp(o->hi + 1, q->hi + 1, (size_t)q->len - 1)) {
                set_range(&lead, o->lo[0], o->hi[0]);
                o->len = 0;
            }
        }
        uint32_t idx;
        if ((st = gb_new_alt(b, rule)) || (st = gb_set_index(b, &lead, &idx)) ||
            (st = gb_push(b, rule, (xllm_gelem){GE_BYTES, idx})))
            break;
        for (int k = 1; k < q->len && !st; k++) {
            xllm_byteset t = {{0}};
            set_range(&t, q->lo[k], q->hi[k]);
            if (!(st = gb_set_index(b, &t, &idx)))
                st = gb_push(b, rule, (xllm_gelem){GE_BYTES, idx});
        }
    }
    *out = (xllm_gelem){GE_REF, rule};
out:
    xllm_free(seqs.v);
    return st;
}

xllm_status gb_class(gb_builder *b, const uint32_t (*ranges)[2], size_t n, xllm_gelem *out)
{
    for (uint32_t i = 0; i < b->n_classes; i++)
        if (class_equal(&b->classes[i], ranges, n)) {
            *out = b->classes[i].e;
            return XLLM_OK;
        }
    xllm_status st = class_build(b, ranges, n, out);
    if (st || !n)
        return st;
    gb_class_entry *e = &b->classes[b->next_class];
    if (b->n_classes == 32)
        xllm_free(e->ranges);
    e->ranges = xllm_malloc(n * sizeof *ranges);
    if (!e->ranges) {
        e->n = 0;
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    memcpy(e->ranges, ranges, n * sizeof *ranges);
    e->n = n;
    e->e = *out;
    b->next_class = (b->next_class + 1) % 32;
    if (b->n_classes < 32)
        b->n_classes++;
    return XLLM_OK;
}

/* ---- checks and flattening ---- */

/* Fixpoint: nullable (can match the empty string) and productive (can match
 * some finite string). */
static void fixpoints(const gb_builder *b, uint8_t *nullable, uint8_t *productive)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (uint32_t r = 0; r < b->n_rules; r++) {
            const gb_rule *R = &b->rules[r];
            for (uint32_t a = 0; a < R->n_alts && !(nullable[r] && productive[r]); a++) {
                int nul = 1, prod = 1;
                for (uint32_t i = 0; i < R->alts[a].n; i++) {
                    xllm_gelem e = R->alts[a].v[i];
                    if (e.type == GE_BYTES)
                        nul = 0;
                    else {
                        nul &= nullable[e.arg];
                        prod &= productive[e.arg];
                    }
                }
                if (nul && !nullable[r])
                    nullable[r] = 1, changed = 1;
                if (prod && !productive[r])
                    productive[r] = 1, changed = 1;
            }
        }
    }
}

static const char *rule_label(const gb_builder *b, uint32_t r)
{
    /* generated rules report the user rule they came from (their name) */
    return b->rules[r].name;
}

/* Left-corner graph: r -> t when t can be called before any byte is consumed
 * in r. A cycle means left recursion or a loop over the empty string, which
 * the stack machine could expand forever. Iterative DFS with colors. */
static xllm_status check_left(const gb_builder *b, uint32_t root, const uint8_t *nullable, uint8_t *color)
{
    uint32_t *stk = xllm_malloc((size_t)b->n_rules * 3 * sizeof *stk);
    if (!stk)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    xllm_status st = XLLM_OK;
    uint32_t sp = 0; /* frames: rule, alt, elem */
    stk[sp++] = root, stk[sp++] = 0, stk[sp++] = 0;
    color[root] = 1;
    while (sp && !st) {
        uint32_t r = stk[sp - 3], *a = &stk[sp - 2], *i = &stk[sp - 1];
        const gb_rule *R = &b->rules[r];
        if (*a >= R->n_alts) {
            color[r] = 2;
            sp -= 3;
            continue;
        }
        const gb_alt *A = &R->alts[*a];
        if (*i >= A->n || (*i > 0 && (A->v[*i - 1].type == GE_BYTES || !nullable[A->v[*i - 1].arg]))) {
            (*a)++, *i = 0;
            continue;
        }
        xllm_gelem e = A->v[(*i)++];
        if (e.type != GE_REF)
            continue;
        if (color[e.arg] == 1)
            st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT,
                           "rule '%s' is left-recursive or repeats something that can be empty",
                           rule_label(b, e.arg));
        else if (color[e.arg] == 0) {
            color[e.arg] = 1;
            stk[sp++] = e.arg, stk[sp++] = 0, stk[sp++] = 0;
        }
    }
    xllm_free(stk);
    return st;
}

/* reached[r] = 1 for every rule reachable from root. */
static xllm_status reach(const gb_builder *b, uint32_t root, uint8_t *reached)
{
    uint32_t *stk = xllm_malloc((size_t)b->n_rules * sizeof *stk), sp = 0;
    if (!stk)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    memset(reached, 0, b->n_rules);
    reached[root] = 1;
    stk[sp++] = root;
    while (sp) {
        const gb_rule *R = &b->rules[stk[--sp]];
        for (uint32_t a = 0; a < R->n_alts; a++)
            for (uint32_t i = 0; i < R->alts[a].n; i++) {
                xllm_gelem e = R->alts[a].v[i];
                if (e.type == GE_REF && !reached[e.arg]) {
                    reached[e.arg] = 1;
                    stk[sp++] = e.arg;
                }
            }
    }
    xllm_free(stk);
    return XLLM_OK;
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Fewest bytes each rule can match (fixpoint from "infinite"), then the
 * suffix sums per element: what finishing a stack costs at least. */
static xllm_status min_lengths(xllm_grammar *g)
{
    uint32_t *rmin = xllm_malloc(((size_t)g->n_rules + 1) * sizeof *rmin);
    g->suffix_min = xllm_malloc(((size_t)g->n_elems + 1) * sizeof *g->suffix_min);
    if (!rmin || !g->suffix_min) {
        xllm_free(rmin);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    }
    for (uint32_t r = 0; r < g->n_rules; r++)
        rmin[r] = UINT32_MAX;
    for (int changed = 1; changed;) {
        changed = 0;
        for (uint32_t r = 0; r < g->n_rules; r++)
            for (uint32_t a = g->rule_alt[r]; a < g->rule_alt[r + 1]; a++) {
                uint32_t sum = 0;
                for (uint32_t i = g->alt_start[a]; g->elems[i].type != GE_END; i++)
                    sum = sat_add(sum, g->elems[i].type == GE_BYTES ? 1 : rmin[g->elems[i].arg]);
                if (sum < rmin[r])
                    rmin[r] = sum, changed = 1;
            }
    }
    for (uint32_t i = g->n_elems; i-- > 0;) {
        xllm_gelem e = g->elems[i];
        g->suffix_min[i] = e.type == GE_END ? 0 : sat_add(e.type == GE_BYTES ? 1 : rmin[e.arg], g->suffix_min[i + 1]);
    }
    xllm_free(rmin);
    return XLLM_OK;
}

xllm_status gb_finish(gb_builder *b, uint32_t root, xllm_grammar *g)
{
    xllm_status st = XLLM_OK;
    uint8_t *nullable = xllm_calloc(b->n_rules, 3);
    if (!nullable)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
    uint8_t *productive = nullable + b->n_rules, *color = productive + b->n_rules;
    fixpoints(b, nullable, productive);
    if ((st = check_left(b, root, nullable, color)))
        goto out;
    if ((st = reach(b, root, color)))
        goto out;
    for (uint32_t r = 0; r < b->n_rules; r++)
        if (color[r] && !productive[r]) { /* reachable from root */
            st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "rule '%s' can never finish (every alternative recurses)",
                           rule_label(b, r));
            goto out;
        }
    uint64_t n_alts = 0, n_elems = 0;
    for (uint32_t r = 0; r < b->n_rules; r++) {
        n_alts += b->rules[r].n_alts;
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++)
            n_elems += b->rules[r].alts[a].n + 1;
    }
    g->elems = xllm_malloc((size_t)(n_elems + 1) * sizeof *g->elems);
    g->alt_start = xllm_malloc((size_t)(n_alts + 1) * sizeof *g->alt_start);
    g->rule_alt = xllm_malloc(((size_t)b->n_rules + 1) * sizeof *g->rule_alt);
    if (!g->elems || !g->alt_start || !g->rule_alt) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "grammar: out of memory");
        goto out;
    }
    uint32_t ne = 0, na = 0;
    for (uint32_t r = 0; r < b->n_rules; r++) {
        g->rule_alt[r] = na;
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++) {
            g->alt_start[na++] = ne;
            if (b->rules[r].alts[a].n) /* an empty alternative has no array (memcpy from NULL is UB) */
                memcpy(g->elems + ne, b->rules[r].alts[a].v, b->rules[r].alts[a].n * sizeof *g->elems);
            ne += b->rules[r].alts[a].n;
            g->elems[ne++] = (xllm_gelem){GE_END, 0};
        }
    }
    g->rule_alt[b->n_rules] = na;
    g->n_elems = ne;
    g->n_rules = b->n_rules;
    if ((st = min_lengths(g)))
        goto out;
    g->root = root;
    g->sets = b->sets;
    g->n_sets = b->n_sets;
    b->sets = NULL;
    b->n_sets = b->cap_sets = 0;
out:
    xllm_free(nullable);
    return st;
}
