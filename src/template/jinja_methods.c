/* jinja_methods.c - attribute and item access with the sandbox's rules, iteration,
 * Python's str / list / dict methods that templates call, the loop object, and the
 * globals transformers provides (range, dict, namespace, cycler, joiner,
 * raise_exception, strftime_now). Mutating methods (list.append, dict.update, ...)
 * are refused as ImmutableSandboxedEnvironment refuses them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "base/limits.h"
#include "template/jinja_impl.h"
#include "template/jinja_str.h"

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

enum {
    /* str */
    M_UPPER, M_LOWER, M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_STARTSWITH, M_ENDSWITH, M_REPLACE,
    M_TITLE, M_CAPITALIZE, M_FIND, M_RFIND, M_INDEX, M_COUNT, M_JOIN, M_SPLITLINES, M_ISDIGIT, M_ISALPHA,
    M_ISALNUM, M_ISSPACE, M_ISUPPER, M_ISLOWER, M_FORMAT, M_ZFILL,
    /* list */
    M_LINDEX, M_LCOUNT,
    /* dict */
    M_KEYS, M_VALUES, M_ITEMS, M_GET,
    /* loop, cycler */
    M_CYCLE, M_CHANGED, M_CNEXT, M_CRESET,
    /* refused by the sandbox */
    M_UNSAFE
};

typedef struct mname {
    const char *name;
    int id;
} mname;

static const mname str_methods[] = {
    {"upper", M_UPPER}, {"lower", M_LOWER}, {"strip", M_STRIP}, {"lstrip", M_LSTRIP}, {"rstrip", M_RSTRIP},
    {"split", M_SPLIT}, {"rsplit", M_RSPLIT}, {"startswith", M_STARTSWITH}, {"endswith", M_ENDSWITH},
    {"replace", M_REPLACE}, {"title", M_TITLE}, {"capitalize", M_CAPITALIZE}, {"find", M_FIND},
    {"rfind", M_RFIND}, {"index", M_INDEX}, {"count", M_COUNT}, {"join", M_JOIN}, {"splitlines", M_SPLITLINES},
    {"isdigit", M_ISDIGIT}, {"isalpha", M_ISALPHA}, {"isalnum", M_ISALNUM}, {"isspace", M_ISSPACE},
    {"isupper", M_ISUPPER}, {"islower", M_ISLOWER}, {"format", M_FORMAT}, {"zfill", M_ZFILL}, {NULL, 0}};
static const mname list_methods[] = {{"index", M_LINDEX}, {"count", M_LCOUNT}, {"append", M_UNSAFE},
                                     {"extend", M_UNSAFE}, {"insert", M_UNSAFE}, {"pop", M_UNSAFE},
                                     {"remove", M_UNSAFE}, {"reverse", M_UNSAFE}, {"sort", M_UNSAFE},
                                     {"clear", M_UNSAFE}, {NULL, 0}};
static const mname dict_methods[] = {{"keys", M_KEYS}, {"values", M_VALUES}, {"items", M_ITEMS}, {"get", M_GET},
                                     {"pop", M_UNSAFE}, {"popitem", M_UNSAFE}, {"setdefault", M_UNSAFE},
                                     {"update", M_UNSAFE}, {"clear", M_UNSAFE}, {NULL, 0}};

static int name_is(const char *name, size_t n, const char *s) { return strlen(s) == n && memcmp(name, s, n) == 0; }

static int find_in(const mname *t, const char *name, size_t n)
{
    for (; t->name; t++)
        if (name_is(name, n, t->name))
            return t->id;
    return -1;
}

static xllm_status bind(jctx *c, jv self, int id, jv *out)
{
    jv *p = jarena_alloc(&c->arena, sizeof *p);
    if (!p)
        return XLLM_ERR_LIMIT;
    *p = self;
    *out = (jv){.type = JV_METHOD, .id = (uint16_t)id, .u.self = p};
    return XLLM_OK;
}

int jinja_method_find(jv v, const char *name, size_t n, jv *out)
{
    const mname *t = v.type == JV_STR ? str_methods : v.type == JV_LIST ? list_methods
                     : v.type == JV_DICT ? dict_methods : NULL;
    int id = t ? find_in(t, name, n) : -1;
    if (v.type == JV_LOOP && (name_is(name, n, "cycle") || name_is(name, n, "changed")))
        id = name_is(name, n, "cycle") ? M_CYCLE : M_CHANGED;
    if (v.type == JV_CYCLER && (name_is(name, n, "next") || name_is(name, n, "reset")))
        id = name_is(name, n, "next") ? M_CNEXT : M_CRESET;
    if (id < 0)
        return 0;
    out->type = JV_METHOD;
    out->id = (uint16_t)id;
    return 1;
}

static xllm_status unsafe(jctx *c, jv obj, const char *name, size_t n, jv *out)
{
    char *h = jarena_alloc(&c->arena, n + 80);
    if (!h)
        return XLLM_ERR_LIMIT;
    snprintf(h, n + 80, "access to attribute '%.*s' of '%s' object is unsafe.", (int)n, name, jv_type_name(obj));
    *out = jv_undef(h);
    return XLLM_OK;
}

static xllm_status no_attr(jctx *c, jv obj, const char *name, size_t n, jv *out)
{
    char *h = jarena_alloc(&c->arena, n + 64);
    if (!h)
        return XLLM_ERR_LIMIT;
    if (obj.type == JV_NONE)
        snprintf(h, n + 64, "'None' has no attribute '%.*s'", (int)n, name);
    else
        snprintf(h, n + 64, "'%s object' has no attribute '%.*s'", jv_type_name(obj), (int)n, name);
    *out = jv_undef(h);
    return XLLM_OK;
}

static xllm_status loop_attr(jctx *c, jloop *lp, const char *name, size_t n, jv *out)
{
    size_t len = lp->items->n, i = lp->index;
    if (name_is(name, n, "index")) *out = jv_int((int64_t)i + 1);
    else if (name_is(name, n, "index0")) *out = jv_int((int64_t)i);
    else if (name_is(name, n, "revindex")) *out = jv_int((int64_t)(len - i));
    else if (name_is(name, n, "revindex0")) *out = jv_int((int64_t)(len - i - 1));
    else if (name_is(name, n, "first")) *out = jv_bool(i == 0);
    else if (name_is(name, n, "last")) *out = jv_bool(i + 1 == len);
    else if (name_is(name, n, "length")) *out = jv_int((int64_t)len);
    else if (name_is(name, n, "depth")) *out = jv_int(lp->depth);
    else if (name_is(name, n, "depth0")) *out = jv_int(lp->depth - 1);
    else if (name_is(name, n, "previtem"))
        *out = i ? lp->items->v[i - 1] : jv_undef("there is no previous item");
    else if (name_is(name, n, "nextitem"))
        *out = i + 1 < len ? lp->items->v[i + 1] : jv_undef("there is no next item");
    else
        return no_attr(c, (jv){.type = JV_LOOP}, name, n, out);
    return XLLM_OK;
}

typedef struct jcycler {
    jlist *items;
    size_t pos;
} jcycler;

xllm_status jinja_getattr(jctx *c, jv obj, const char *name, size_t n, jv *out)
{
    jv m;
    if (n && name[0] == '_')
        return unsafe(c, obj, name, n, out);
    if (obj.type == JV_NS) {
        jv *v = jdict_get_str(obj.u.d, name, n);
        if (v) {
            *out = *v;
            return XLLM_OK;
        }
        return no_attr(c, obj, name, n, out);
    }
    if (obj.type == JV_LOOP && !name_is(name, n, "cycle") && !name_is(name, n, "changed"))
        return loop_attr(c, obj.u.ptr, name, n, out);
    if (obj.type == JV_CYCLER && name_is(name, n, "current")) {
        jcycler *cy = obj.u.ptr;
        *out = cy->items->v[cy->pos];
        return XLLM_OK;
    }
    if (jinja_method_find(obj, name, n, &m)) {
        if (m.id == M_UNSAFE)
            return unsafe(c, obj, name, n, out);
        return bind(c, obj, m.id, out);
    }
    if (obj.type == JV_DICT) {
        jv *v = jdict_get_str(obj.u.d, name, n);
        if (v) {
            *out = *v;
            return XLLM_OK;
        }
    }
    return no_attr(c, obj, name, n, out);
}

xllm_status jinja_getitem(jctx *c, jv obj, jv key, jv *out)
{
    if (obj.type == JV_DICT || obj.type == JV_NS) {
        jv *v = jdict_get(obj.u.d, key);
        if (v) {
            *out = *v;
            return XLLM_OK;
        }
    } else if ((obj.type == JV_LIST || obj.type == JV_STR) && (key.type == JV_INT || key.type == JV_BOOL)) {
        int64_t i = key.type == JV_BOOL ? key.u.b : key.u.i;
        int64_t n = obj.type == JV_LIST ? (int64_t)obj.u.l->n : (int64_t)utf8_count(obj.u.s.p, obj.u.s.n);
        if (i < 0)
            i += n;
        if (i >= 0 && i < n) {
            if (obj.type == JV_LIST) {
                *out = obj.u.l->v[i];
            } else {
                size_t b = utf8_offset(obj.u.s.p, obj.u.s.n, (size_t)i);
                size_t e = b + utf8_offset(obj.u.s.p + b, obj.u.s.n - b, 1);
                *out = jv_str(obj.u.s.p + b, e - b);
            }
            return XLLM_OK;
        }
        char *h = jarena_alloc(&c->arena, 64);
        if (!h)
            return XLLM_ERR_LIMIT;
        snprintf(h, 64, "%s object has no element %lld", jv_type_name(obj), (long long)i);
        *out = jv_undef(h);
        return XLLM_OK;
    }
    if (key.type == JV_STR)
        return jinja_getattr(c, obj, key.u.s.p, key.u.s.n, out);
    char *h = jarena_alloc(&c->arena, 64);
    if (!h)
        return XLLM_ERR_LIMIT;
    snprintf(h, 64, "%s object has no element of that key", jv_type_name(obj));
    *out = jv_undef(h);
    return XLLM_OK;
}

xllm_status jinja_iterate(jctx *c, jv v, jlist **out)
{
    switch (v.type) {
    case JV_LIST: *out = v.u.l; return XLLM_OK;
    case JV_UNDEF: *out = jlist_new(c, 0); return *out ? XLLM_OK : XLLM_ERR_LIMIT;
    case JV_DICT: {
        jlist *l = jlist_new(c, v.u.d->n);
        if (!l)
            return XLLM_ERR_LIMIT;
        memcpy(l->v, v.u.d->k, v.u.d->n * sizeof(jv));
        l->n = v.u.d->n;
        *out = l;
        return XLLM_OK;
    }
    case JV_STR: {
        jlist *l = jlist_new(c, utf8_count(v.u.s.p, v.u.s.n));
        if (!l)
            return XLLM_ERR_LIMIT;
        for (size_t i = 0; i < v.u.s.n;) {
            size_t k = utf8_offset(v.u.s.p + i, v.u.s.n - i, 1);
            l->v[l->n++] = jv_str(v.u.s.p + i, k);
            i += k;
        }
        *out = l;
        return XLLM_OK;
    }
    default: return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'%s' object is not iterable", jv_type_name(v));
    }
}

jv *jargs_get(const jargs *a, size_t i, const char *kw)
{
    if (i < a->npos)
        return &a->pos[i];
    for (size_t k = 0; kw && k < a->nkw; k++)
        if (name_is(a->kwn[k], a->kwl[k], kw))
            return &a->kwv[k];
    return NULL;
}

static xllm_status want_str(jctx *c, jv *v, const char *what)
{
    if (!v || v->type != JV_STR)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "%s must be a string", what);
    return XLLM_OK;
}

static xllm_status str_method(jctx *c, int id, jv s, const jargs *a, jv *out)
{
    jv *a0 = jargs_get(a, 0, NULL), *a1 = jargs_get(a, 1, NULL);
    switch (id) {
    case M_UPPER:
    case M_LOWER: return jstr_case(c, s, id == M_UPPER ? JCASE_UPPER : JCASE_LOWER, out);
    case M_TITLE: return jstr_case(c, s, JCASE_PYTITLE, out);
    case M_CAPITALIZE: return jstr_case(c, s, JCASE_CAPITALIZE, out);
    case M_STRIP:
    case M_LSTRIP:
    case M_RSTRIP: {
        jv *chars = jargs_get(a, 0, "chars");
        if (chars && chars->type != JV_NONE)
            TRY(want_str(c, chars, "strip's argument"));
        int mode = id == M_STRIP ? 3 : id == M_LSTRIP ? 1 : 2;
        *out = jstr_strip(s, chars && chars->type == JV_STR ? chars : NULL, mode);
        return XLLM_OK;
    }
    case M_SPLIT:
    case M_RSPLIT: {
        jv *sep = jargs_get(a, 0, "sep"), *max = jargs_get(a, 1, "maxsplit");
        int64_t m = max && max->type == JV_INT ? max->u.i : -1;
        if (sep && sep->type != JV_NONE)
            TRY(want_str(c, sep, "split's separator"));
        if (sep && sep->type == JV_STR && !sep->u.s.n)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "empty separator");
        return jstr_split(c, s, sep && sep->type == JV_STR ? sep : NULL, m, id == M_RSPLIT, out);
    }
    case M_STARTSWITH:
    case M_ENDSWITH: {
        if (!a0)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "startswith/endswith take one argument");
        size_t cut[2] = {0, s.u.s.n}; /* optional start, end: code point indices */
        int64_t len = (int64_t)utf8_count(s.u.s.p, s.u.s.n);
        for (size_t i = 1; i < 3; i++) {
            jv *x = jargs_get(a, i, NULL);
            if (!x || x->type == JV_NONE)
                continue;
            if (x->type != JV_INT)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT,
                            "slice indices must be integers or None or have an __index__ method");
            int64_t at = x->u.i < 0 ? x->u.i + len : x->u.i;
            if (i == 1 && at > len) { /* Python: a start past the end never matches */
                *out = jv_bool(0);
                return XLLM_OK;
            }
            at = at < 0 ? 0 : at > len ? len : at;
            cut[i - 1] = utf8_offset(s.u.s.p, s.u.s.n, (size_t)at);
        }
        if (cut[1] < cut[0]) {
            *out = jv_bool(0);
            return XLLM_OK;
        }
        s = jv_str(s.u.s.p + cut[0], cut[1] - cut[0]);
        jlist one = {a0, 1, 1}, *opts = &one;
        if (a0->type == JV_LIST && (a0->flags & JV_F_TUPLE))
            opts = a0->u.l;
        int hit = 0;
        for (size_t i = 0; i < opts->n; i++) {
            jv p = opts->v[i];
            TRY(want_str(c, &p, "startswith/endswith's argument"));
            if (p.u.s.n <= s.u.s.n &&
                memcmp(s.u.s.p + (id == M_STARTSWITH ? 0 : s.u.s.n - p.u.s.n), p.u.s.p, p.u.s.n) == 0)
                hit = 1;
        }
        *out = jv_bool(hit);
        return XLLM_OK;
    }
    case M_REPLACE: {
        jv *cnt = jargs_get(a, 2, "count");
        TRY(want_str(c, a0, "replace's first argument"));
        TRY(want_str(c, a1, "replace's second argument"));
        return jstr_replace(c, s, *a0, *a1, cnt && cnt->type == JV_INT ? cnt->u.i : -1, out);
    }
    case M_FIND:
    case M_RFIND:
    case M_INDEX:
    case M_COUNT: {
        TRY(want_str(c, a0, "the argument"));
        if (jargs_get(a, 1, NULL))
            return jerr(c, XLLM_ERR_UNSUPPORTED, "start/end arguments of find/index/count");
        if (id == M_COUNT) {
            *out = jv_int(jstr_count(s, *a0));
            return XLLM_OK;
        }
        int64_t at = jstr_find(s, *a0, id == M_RFIND);
        if (at < 0 && id == M_INDEX)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "substring not found");
        *out = jv_int(at);
        return XLLM_OK;
    }
    case M_JOIN: {
        jlist *items;
        if (!a0)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "join takes one argument");
        TRY(jinja_iterate(c, *a0, &items));
        for (size_t i = 0; i < items->n; i++)
            if (items->v[i].type != JV_STR)
                return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "sequence item %zu: expected str instance, %s found", i,
                            jv_type_name(items->v[i]));
        return jstr_join(c, items, s, out);
    }
    case M_SPLITLINES: {
        jv *keep = jargs_get(a, 0, "keepends");
        return jstr_splitlines(c, s, keep && jv_truthy(*keep), out);
    }
    case M_ISDIGIT:
    case M_ISALPHA:
    case M_ISALNUM:
    case M_ISSPACE:
    case M_ISUPPER:
    case M_ISLOWER: {
        static const int kinds[] = {[M_ISDIGIT] = JCLS_DIGIT, [M_ISALPHA] = JCLS_ALPHA, [M_ISALNUM] = JCLS_ALNUM,
                                    [M_ISSPACE] = JCLS_SPACE, [M_ISUPPER] = JCLS_UPPER, [M_ISLOWER] = JCLS_LOWER};
        *out = jv_bool(jstr_is(s, kinds[id]));
        return XLLM_OK;
    }
    case M_ZFILL: {
        if (!a0 || a0->type != JV_INT)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "zfill takes an integer");
        return jstr_zfill(c, s, a0->u.i, out);
    }
    default: return jerr(c, XLLM_ERR_UNSUPPORTED, "str.format (use the ~ operator or the format filter instead)");
    }
}

static xllm_status dict_view(jctx *c, jdict *d, int id, jv *out)
{
    jlist *l = jlist_new(c, d->n);
    if (!l)
        return XLLM_ERR_LIMIT;
    for (size_t i = 0; i < d->n; i++) {
        if (id == M_ITEMS) {
            jlist *pair = jlist_new(c, 2);
            if (!pair)
                return XLLM_ERR_LIMIT;
            pair->v[0] = d->k[i];
            pair->v[1] = d->v[i];
            pair->n = 2;
            l->v[i] = (jv){.type = JV_LIST, .flags = JV_F_TUPLE, .u.l = pair};
        } else {
            l->v[i] = id == M_KEYS ? d->k[i] : d->v[i];
        }
    }
    l->n = d->n;
    *out = (jv){.type = JV_LIST, .flags = id == M_ITEMS ? JV_F_ITEMS : id == M_KEYS ? JV_F_KEYS : JV_F_VALUES,
                .u.l = l};
    return XLLM_OK;
}

xllm_status jinja_method_call(jctx *c, jv m, const jargs *a, jv *out)
{
    jv self = *m.u.self;
    jv *a0 = jargs_get(a, 0, NULL);
    switch (m.id) {
    case M_LINDEX:
    case M_LCOUNT: {
        int64_t cnt = 0;
        if (!a0)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "index/count take one argument");
        for (size_t i = 0; i < self.u.l->n; i++)
            if (jv_equal(self.u.l->v[i], *a0)) {
                if (m.id == M_LINDEX) {
                    *out = jv_int((int64_t)i);
                    return XLLM_OK;
                }
                cnt++;
            }
        if (m.id == M_LINDEX)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "value is not in list");
        *out = jv_int(cnt);
        return XLLM_OK;
    }
    case M_KEYS:
    case M_VALUES:
    case M_ITEMS: return dict_view(c, self.u.d, m.id, out);
    case M_GET: {
        jv *dflt = jargs_get(a, 1, NULL);
        if (!a0)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "get takes a key");
        jv *v = jdict_get(self.u.d, *a0);
        *out = v ? *v : dflt ? *dflt : jv_none();
        return XLLM_OK;
    }
    case M_CYCLE: {
        jloop *lp = self.u.ptr;
        if (!a->npos)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "no items for cycling given");
        *out = a->pos[lp->index % a->npos];
        return XLLM_OK;
    }
    case M_CHANGED: {
        jloop *lp = self.u.ptr;
        jlist *l = jlist_new(c, a->npos);
        if (!l)
            return XLLM_ERR_LIMIT;
        memcpy(l->v, a->pos, a->npos * sizeof(jv));
        l->n = a->npos;
        jv now = {.type = JV_LIST, .u.l = l};
        int changed = !lp->has_changed || !jv_equal(lp->last_changed, now);
        lp->last_changed = now;
        lp->has_changed = 1;
        *out = jv_bool(changed);
        return XLLM_OK;
    }
    case M_CNEXT: {
        jcycler *cy = self.u.ptr;
        *out = cy->items->v[cy->pos];
        cy->pos = (cy->pos + 1) % cy->items->n;
        return XLLM_OK;
    }
    case M_CRESET: ((jcycler *)self.u.ptr)->pos = 0; *out = jv_none(); return XLLM_OK;
    default: return str_method(c, m.id, self, a, out);
    }
}

/* ---- globals ---- */
enum { G_RANGE, G_DICT, G_NAMESPACE, G_RAISE, G_STRFTIME, G_CYCLER, G_JOINER, G_LIPSUM };
static const mname globals[] = {{"range", G_RANGE}, {"dict", G_DICT}, {"namespace", G_NAMESPACE},
                                {"raise_exception", G_RAISE}, {"strftime_now", G_STRFTIME},
                                {"cycler", G_CYCLER}, {"joiner", G_JOINER}, {"lipsum", G_LIPSUM}, {NULL, 0}};

int jinja_global_find(const char *name, size_t n, jv *out)
{
    int id = find_in(globals, name, n);
    if (id < 0)
        return 0;
    *out = (jv){.type = JV_FUNC, .id = (uint16_t)id};
    return 1;
}

static xllm_status do_range(jctx *c, const jargs *a, jv *out)
{
    int64_t v[3] = {0, 0, 1};
    if (a->npos < 1 || a->npos > 3 || a->nkw)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "range expects 1 to 3 integer arguments");
    for (size_t i = 0; i < a->npos; i++) {
        if (a->pos[i].type != JV_INT && a->pos[i].type != JV_BOOL)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "'%s' object cannot be interpreted as an integer",
                        jv_type_name(a->pos[i]));
        v[a->npos == 1 ? 1 : i] = a->pos[i].type == JV_BOOL ? a->pos[i].u.b : a->pos[i].u.i;
    }
    if (v[2] == 0)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "range() arg 3 must not be zero");
    double cnt = v[2] > 0 ? ((double)v[1] - (double)v[0]) / (double)v[2] : ((double)v[0] - (double)v[1]) / (double)-v[2];
    if (cnt > XLLM_JINJA_MAX_RANGE)
        return jerr(c, XLLM_ERR_LIMIT, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
                    XLLM_JINJA_MAX_RANGE);
    jlist *l = jlist_new(c, cnt > 0 ? (size_t)cnt + 1 : 0);
    if (!l)
        return XLLM_ERR_LIMIT;
    for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2])
        l->v[l->n++] = jv_int(i);
    *out = (jv){.type = JV_LIST, .u.l = l};
    return XLLM_OK;
}

static xllm_status kw_dict(jctx *c, const jargs *a, int type, jv *out)
{
    jdict *d = jdict_new(c, a->nkw);
    if (!d)
        return XLLM_ERR_LIMIT;
    if (a->npos > 1)
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "dict / namespace take at most one positional argument");
    if (a->npos) {
        jv src = a->pos[0];
        if (src.type != JV_DICT && src.type != JV_NS)
            return jerr(c, XLLM_ERR_UNSUPPORTED, "dict() / namespace() from a %s", jv_type_name(src));
        for (size_t i = 0; i < src.u.d->n; i++)
            TRY(jdict_set(c, d, src.u.d->k[i], src.u.d->v[i]));
    }
    for (size_t i = 0; i < a->nkw; i++)
        TRY(jdict_set(c, d, jv_str(a->kwn[i], a->kwl[i]), a->kwv[i]));
    *out = (jv){.type = (uint8_t)type, .u.d = d};
    return XLLM_OK;
}

static xllm_status do_strftime(jctx *c, const jargs *a, jv *out)
{
    jv *fmt = jargs_get(a, 0, NULL);
    TRY(want_str(c, fmt, "strftime_now's format"));
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
    struct tm tm;
    /* transformers uses datetime.now(): local time; SOURCE_DATE_EPOCH renders in UTC */
    if (sde && *sde)
        gmtime_r(&now, &tm);
    else
        localtime_r(&now, &tm);
    char f[256], *buf = jarena_alloc(&c->arena, 512);
    if (!buf)
        return XLLM_ERR_LIMIT;
    snprintf(f, sizeof f, "%.*s", (int)fmt->u.s.n, fmt->u.s.p);
    size_t n = strftime(buf, 512, f, &tm);
    if (!n && f[0])
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "strftime_now: format gives no text or too much");
    *out = jv_str(buf, n);
    return XLLM_OK;
}

xllm_status jinja_global_call(jctx *c, jv f, const jargs *a, jv *out)
{
    if (f.type == JV_JOINER) {
        jlist *st = f.u.ptr; /* v[0]: separator, v[1]: used flag */
        *out = jv_truthy(st->v[1]) ? st->v[0] : jv_str("", 0);
        st->v[1] = jv_bool(1);
        return XLLM_OK;
    }
    switch (f.id) {
    case G_RANGE: return do_range(c, a, out);
    case G_DICT: return kw_dict(c, a, JV_DICT, out);
    case G_NAMESPACE: return kw_dict(c, a, JV_NS, out);
    case G_RAISE: {
        jv *m = jargs_get(a, 0, NULL);
        jv s = jv_str("", 0);
        if (m)
            TRY(jv_to_str(c, *m, &s));
        return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "raise_exception: %.*s", (int)s.u.s.n, s.u.s.p);
    }
    case G_STRFTIME: return do_strftime(c, a, out);
    case G_CYCLER: {
        jcycler *cy = jarena_alloc(&c->arena, sizeof *cy);
        if (!cy || !(cy->items = jlist_new(c, a->npos)))
            return XLLM_ERR_LIMIT;
        if (!a->npos)
            return jerr(c, XLLM_ERR_INVALID_ARGUMENT, "cycler needs at least one item");
        memcpy(cy->items->v, a->pos, a->npos * sizeof(jv));
        cy->items->n = a->npos;
        cy->pos = 0;
        *out = (jv){.type = JV_CYCLER, .u.ptr = cy};
        return XLLM_OK;
    }
    case G_JOINER: {
        jv *sep = jargs_get(a, 0, "sep");
        jlist *st = jlist_new(c, 2);
        if (!st)
            return XLLM_ERR_LIMIT;
        st->v[0] = sep ? *sep : jv_str(", ", 2);
        st->v[1] = jv_bool(0);
        st->n = 2;
        *out = (jv){.type = JV_JOINER, .u.ptr = st};
        return XLLM_OK;
    }
    default: return jerr(c, XLLM_ERR_UNSUPPORTED, "lipsum() (random text)");
    }
}
