/* json_schema.c - JSON Schema -> GBNF: the schema walk (keywords checked
 * against a table, so an unsupported one is refused by name), objects with
 * ordered optional properties, arrays with prefixItems and counts, enum and
 * const, anyOf / oneOf / allOf where representable, local $ref with recursion. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "runtime/json_schema.h"
#include "runtime/json_schema_impl.h"

/* Keywords and what the converter does with them. */
enum { KW_USED, KW_NOTE, KW_REFUSE };
static const struct {
    const char *name;
    int what;
} keywords[] = {
    {"type", KW_USED}, {"properties", KW_USED}, {"required", KW_USED}, {"additionalProperties", KW_USED},
    {"enum", KW_USED}, {"const", KW_USED}, {"items", KW_USED}, {"prefixItems", KW_USED},
    {"minItems", KW_USED}, {"maxItems", KW_USED}, {"$ref", KW_USED}, {"$defs", KW_USED},
    {"definitions", KW_USED}, {"anyOf", KW_USED}, {"oneOf", KW_USED}, {"allOf", KW_USED},
    {"minLength", KW_USED}, {"maxLength", KW_USED}, {"pattern", KW_USED}, {"format", KW_USED},
    {"minimum", KW_USED}, {"maximum", KW_USED}, {"exclusiveMinimum", KW_USED}, {"exclusiveMaximum", KW_USED},
    {"uniqueItems", KW_USED},
    /* annotations: no effect on validity */
    {"title", KW_NOTE}, {"description", KW_NOTE}, {"default", KW_NOTE}, {"examples", KW_NOTE},
    {"$schema", KW_NOTE}, {"$id", KW_NOTE}, {"$comment", KW_NOTE}, {"deprecated", KW_NOTE},
    {"readOnly", KW_NOTE}, {"writeOnly", KW_NOTE}, {"contentMediaType", KW_NOTE}, {"strict", KW_NOTE},
};

xllm_status jc_fail(jconv *c, xllm_status st, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xllm_fail(st, "schema at #%s: %s", c->path, msg);
}

size_t jc_push(jconv *c, const char *seg)
{
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof c->path - old, "/%s", seg);
    if (n > 0)
        c->path_len = old + (size_t)n < sizeof c->path ? old + (size_t)n : sizeof c->path - 1;
    return old;
}

void jc_pop(jconv *c, size_t len)
{
    c->path_len = len;
    c->path[len] = 0;
}

xllm_status jc_rule(jconv *c, const char *body, int *rule)
{
    *rule = c->n_rules++;
    return xllm_buf_printf(&c->rules, "r%d ::= %s\n", *rule, body);
}

static xllm_status schema(jconv *c, const json_t *s, xllm_buf *b);

/* Convert s into its own rule and write the rule's name into b. */
static xllm_status schema_rule(jconv *c, const json_t *s, const char *seg, xllm_buf *b)
{
    xllm_buf body;
    xllm_buf_init(&body, XLLM_JSON_SCHEMA_MAX_GBNF);
    size_t old = seg ? jc_push(c, seg) : c->path_len;
    int r;
    xllm_status st = schema(c, s, &body);
    if (!st)
        st = jc_rule(c, body.data ? body.data : "\"\"", &r);
    if (!st)
        st = xllm_buf_printf(b, "r%d", r);
    jc_pop(c, old);
    xllm_buf_free(&body);
    return st;
}

static int kind_of_value(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return 1;
    case JSON_TRUE:
    case JSON_FALSE: return 2;
    case JSON_INTEGER:
    case JSON_REAL: return 4;
    case JSON_STRING: return 8;
    case JSON_ARRAY: return 16;
    default: return 32;
    }
}

static int kind_of_type(const char *t)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object", "integer"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(t, names[i]))
            return i == 6 ? 4 : 1 << i;
    return 0;
}

/* ---- $ref ---- */

static const json_t *resolve(jconv *c, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *cur = c->doc;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        p++;
        char seg[256];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof seg) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1'))
                seg[n++] = p[1] == '0' ? '~' : '/', p += 2;
            else
                seg[n++] = *p++;
        }
        seg[n] = 0;
        if (json_is_object(cur))
            cur = json_object_get(cur, seg);
        else if (json_is_array(cur)) {
            char *e;
            long i = strtol(seg, &e, 10);
            cur = *e || i < 0 ? NULL : json_array_get(cur, (size_t)i);
        } else
            cur = NULL;
    }
    return *p ? NULL : cur;
}

static xllm_status ref_rule(jconv *c, const char *ref, xllm_buf *b)
{
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].ref, ref))
            return xllm_buf_printf(b, "r%d", c->refs[i].rule);
    const json_t *target = resolve(c, ref);
    if (!target)
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "$ref '%s' (only local references into this document)", ref);
    if (c->n_refs == c->cap_refs) {
        size_t nc = c->cap_refs ? c->cap_refs * 2 : 8;
        jc_ref *q = xllm_realloc(c->refs, nc * sizeof *q);
        if (!q)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
        c->refs = q, c->cap_refs = nc;
    }
    int r = c->n_rules++; /* named before its body: recursion refers to it */
    c->refs[c->n_refs].ref = xllm_strdup(ref);
    if (!c->refs[c->n_refs].ref)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    c->refs[c->n_refs++].rule = r;
    xllm_buf body;
    xllm_buf_init(&body, XLLM_JSON_SCHEMA_MAX_GBNF);
    char saved[sizeof c->path];
    size_t saved_len = c->path_len;
    memcpy(saved, c->path, sizeof saved);
    snprintf(c->path, sizeof c->path, "%s", ref + 1);
    c->path_len = strlen(c->path);
    xllm_status st = schema(c, target, &body);
    memcpy(c->path, saved, sizeof saved);
    c->path_len = saved_len;
    if (!st)
        st = xllm_buf_printf(&c->rules, "r%d ::= %s\n", r, body.data ? body.data : "\"\"");
    xllm_buf_free(&body);
    return st ? st : xllm_buf_printf(b, "r%d", r);
}

/* ---- objects ---- */

static xllm_status key_literal(xllm_buf *b, const char *key)
{
    json_t *k = json_string(key);
    char *t = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
    json_decref(k);
    if (!t)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    xllm_status st = jc_literal(b, t, strlen(t));
    free(t);
    return st;
}

static int is_required(const json_t *req, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), key)) return 1;
    return 0;
}

/* Properties in declared order; optional ones may be left out. F_i (nothing
 * written yet) is a rule per optional property; the rest after the first is
 * a plain sequence of ("," kv)? and "," kv. */
static xllm_status object_props(jconv *c, const json_t *props, const json_t *req, xllm_buf *b)
{
    size_t n = json_object_size(props), i = 0;
    const char **keys = xllm_calloc(n + 1, sizeof *keys);
    const json_t **vals = xllm_calloc(n + 1, sizeof *vals);
    xllm_buf *kv = xllm_calloc(n + 1, sizeof *kv);
    xllm_status st = keys && vals && kv ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    const char *key;
    json_t *val;
    if (!st)
        json_object_foreach((json_t *)props, key, val) keys[i] = key, vals[i] = val, i++;
    for (i = 0; i < n && !st; i++) { /* kv_i: "\"key\"" ":" sp value */
        xllm_buf_init(&kv[i], XLLM_JSON_SCHEMA_MAX_GBNF);
        size_t old = jc_push(c, "properties");
        st = key_literal(&kv[i], keys[i]);
        st = st ? st : xllm_buf_puts(&kv[i], " \":\" " JC_SP " ");
        st = st ? st : schema_rule(c, vals[i], keys[i], &kv[i]);
        jc_pop(c, old);
    }
    /* rest[i] text built back to front */
    xllm_buf rest, tmp, first;
    xllm_buf_init(&rest, XLLM_JSON_SCHEMA_MAX_GBNF);
    xllm_buf_init(&tmp, XLLM_JSON_SCHEMA_MAX_GBNF);
    xllm_buf_init(&first, XLLM_JSON_SCHEMA_MAX_GBNF);
    char **rest_at = xllm_calloc(n + 2, sizeof *rest_at);
    if (!rest_at && !st)
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    for (size_t j = n + 1; j-- > 0 && !st;) {
        if (j < n) {
            tmp.len = 0;
            int r = is_required(req, keys[j]);
            st = xllm_buf_printf(&tmp, r ? "\",\" " JC_SP " %s %s" : "(\",\" " JC_SP " %s)? %s", kv[j].data,
                                 rest.data ? rest.data : "");
            if (!st) {
                rest.len = 0;
                st = xllm_buf_append(&rest, tmp.data, tmp.len);
            }
        }
        if (!st && !(rest_at[j] = xllm_strdup(rest.data ? rest.data : "")))
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    }
    /* first: F_0 */
    int next_rule = -1; /* F_{i+1} as a rule, -1 = empty */
    for (size_t j = n; j-- > 0 && !st;) {
        first.len = 0;
        if (is_required(req, keys[j]))
            st = xllm_buf_printf(&first, "%s %s", kv[j].data, rest_at[j + 1]);
        else if (next_rule >= 0)
            st = xllm_buf_printf(&first, "%s %s | r%d", kv[j].data, rest_at[j + 1], next_rule);
        else
            st = xllm_buf_printf(&first, "%s %s | \"\"", kv[j].data, rest_at[j + 1]);
        if (!st)
            st = jc_rule(c, first.data, &next_rule);
    }
    if (!st)
        st = next_rule >= 0 ? xllm_buf_printf(b, "\"{\" r%d \"}\"", next_rule) : xllm_buf_puts(b, "\"{\" \"}\"");
    for (i = 0; kv && i < n; i++)
        xllm_buf_free(&kv[i]);
    for (i = 0; rest_at && i < n + 1; i++)
        xllm_free(rest_at[i]);
    xllm_free(rest_at);
    xllm_buf_free(&rest);
    xllm_buf_free(&tmp);
    xllm_buf_free(&first);
    xllm_free(kv);
    xllm_free(keys);
    xllm_free(vals);
    return st;
}

static xllm_status object(jconv *c, const json_t *s, xllm_buf *b)
{
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required"),
           *add = json_object_get(s, "additionalProperties");
    if (props && !json_is_object(props))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "properties must be an object");
    if (req && !json_is_array(req))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "required must be an array");
    size_t i;
    json_t *v, *all = NULL;
    json_array_foreach(req, i, v)
    {
        if (!json_is_string(v))
            return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "required holds a non-string");
        if (props && json_object_get(props, json_string_value(v)))
            continue;
        if (json_is_false(add)) {
            json_decref(all);
            return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "required '%s' is not in properties and "
                           "additionalProperties is false", json_string_value(v));
        }
        /* a required key without its own schema takes additionalProperties' (or any value) */
        if (!all && !(all = props ? json_copy(props) : json_object()))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
        json_object_set_new(all, json_string_value(v), add && !json_is_true(add) ? json_incref(add) : json_true());
    }
    if (all) {
        xllm_status st = object_props(c, all, req, b);
        json_decref(all);
        return st;
    }
    if (props && json_object_size(props))
        return object_props(c, props, req, b);
    if (json_is_false(add))
        return xllm_buf_puts(b, "\"{\" \"}\"");
    if (!add || json_is_true(add))
        return xllm_buf_puts(b, JC_OBJECT);
    /* a map: any keys, values of the additionalProperties schema */
    xllm_buf val;
    xllm_buf_init(&val, XLLM_JSON_SCHEMA_MAX_GBNF);
    xllm_status st = schema_rule(c, add, "additionalProperties", &val);
    if (!st)
        st = xllm_buf_printf(b, "\"{\" (" JC_STRING " \":\" " JC_SP " %s (\",\" " JC_SP " " JC_STRING " \":\" " JC_SP
                             " %s)*)? \"}\"", val.data, val.data);
    xllm_buf_free(&val);
    return st;
}

/* ---- arrays ---- */

static xllm_status array(jconv *c, const json_t *s, xllm_buf *b)
{
    json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
    json_t *uniq = json_object_get(s, "uniqueItems");
    if (uniq && !json_is_false(uniq))
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "uniqueItems");
    if (json_is_array(items) && !prefix) /* draft 7 tuple form */
        prefix = items, items = NULL;
    if (prefix && !json_is_array(prefix))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "prefixItems must be an array");
    long long min = 0, max = -1;
    json_t *mi = json_object_get(s, "minItems"), *ma = json_object_get(s, "maxItems");
    if ((mi && (!json_is_integer(mi) || json_integer_value(mi) < 0)) ||
        (ma && (!json_is_integer(ma) || json_integer_value(ma) < 0)))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "minItems/maxItems must be non-negative integers");
    if (mi)
        min = json_integer_value(mi);
    if (ma)
        max = json_integer_value(ma);
    size_t p = prefix ? json_array_size(prefix) : 0;
    int extra = !json_is_false(items) && !(prefix && !items); /* items beyond the prefix */
    if (!extra && (max < 0 || max > (long long)p))
        max = (long long)p;
    if (max >= 0 && min > max)
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "no array length satisfies minItems %lld (max %lld)", min, max);
    if (min > XLLM_GRAMMAR_MAX_REPEAT || max > XLLM_GRAMMAR_MAX_REPEAT)
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "array length bound above %d", XLLM_GRAMMAR_MAX_REPEAT);
    if (max == 0)
        return xllm_buf_puts(b, "\"[\" \"]\"");
    xllm_buf e, *el = xllm_calloc(p + 1, sizeof *el);
    xllm_buf_init(&e, XLLM_JSON_SCHEMA_MAX_GBNF);
    xllm_status st = el ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    if (!st && extra)
        st = items ? schema_rule(c, items, "items", &e) : xllm_buf_puts(&e, JC_VALUE);
    for (size_t k = 0; k < p && !st; k++) {
        char seg[40];
        snprintf(seg, sizeof seg, "prefixItems/%zu", k);
        xllm_buf_init(&el[k], XLLM_JSON_SCHEMA_MAX_GBNF);
        st = schema_rule(c, json_array_get(prefix, k), seg, &el[k]);
    }
    /* element k >= 1 is written with its comma; counts min..max */
    xllm_buf body;
    xllm_buf_init(&body, XLLM_JSON_SCHEMA_MAX_GBNF);
    int opens = 0;
    for (size_t k = 0; !st && (max < 0 || (long long)k < max); k++) {
        const char *item = k < p ? el[k].data : e.data;
        const char *comma = k ? "\",\" " JC_SP " " : "";
        if (k >= p) { /* the rest are all `e`: one repetition */
            long long lo = min > (long long)k ? min - (long long)k : 0;
            if (k == 0) { /* no prefix: e ("," e){lo-1, max-1} */
                if (max < 0)
                    st = xllm_buf_printf(&body, "%s%s (\",\" " JC_SP " %s){%lld,}", min ? "" : "(", item, item,
                                         lo > 1 ? lo - 1 : 0);
                else
                    st = xllm_buf_printf(&body, "%s%s (\",\" " JC_SP " %s){%lld,%lld}", min ? "" : "(", item, item,
                                         lo > 1 ? lo - 1 : 0, max - 1);
                if (!st && !min)
                    st = xllm_buf_puts(&body, ")?");
            } else if (max < 0)
                st = xllm_buf_printf(&body, " (\",\" " JC_SP " %s){%lld,}", item, lo);
            else
                st = xllm_buf_printf(&body, " (\",\" " JC_SP " %s){%lld,%lld}", item, lo, max - (long long)k);
            break;
        }
        int optional = (long long)k >= min;
        st = xllm_buf_printf(&body, "%s%s%s", k ? " " : "", optional ? "(" : "", comma);
        st = st ? st : xllm_buf_puts(&body, item);
        opens += optional;
    }
    for (; !st && opens > 0; opens--)
        st = xllm_buf_puts(&body, ")?");
    if (!st)
        st = xllm_buf_printf(b, "\"[\" %s \"]\"", body.data ? body.data : "");
    xllm_buf_free(&body);
    for (size_t k = 0; el && k < p; k++)
        xllm_buf_free(&el[k]);
    xllm_free(el);
    xllm_buf_free(&e);
    return st;
}

/* ---- numbers ---- */

static xllm_status bound(jconv *c, const json_t *s, const char *key, int upper, int *has, int64_t *v)
{
    json_t *x = json_object_get(s, key);
    if (!x)
        return XLLM_OK;
    if (!json_is_number(x))
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "%s must be a number (draft-4 boolean form not supported)", key);
    double d = json_number_value(x);
    int excl = key[0] == 'e';
    if (fabs(d) > 1e15)
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "%s beyond +-1e15", key);
    double r = upper ? floor(d) : ceil(d);
    if (excl && r == d)
        r += upper ? -1 : 1;
    int64_t iv = (int64_t)r;
    if (!*has || (upper ? iv < *v : iv > *v))
        *v = iv;
    *has = 1;
    return XLLM_OK;
}

/* Integers, and bounded numbers (generated as the integers of the range). */
static xllm_status numeric(jconv *c, const json_t *s, int integer, xllm_buf *b)
{
    int hlo = 0, hhi = 0;
    int64_t lo = 0, hi = 0;
    xllm_status st;
    if ((st = bound(c, s, "minimum", 0, &hlo, &lo)) || (st = bound(c, s, "exclusiveMinimum", 0, &hlo, &lo)) ||
        (st = bound(c, s, "maximum", 1, &hhi, &hi)) || (st = bound(c, s, "exclusiveMaximum", 1, &hhi, &hi)))
        return st;
    if (!integer && !hlo && !hhi)
        return xllm_buf_puts(b, JC_NUMBER);
    if (hlo && hhi && lo > hi)
        return jc_fail(c, integer ? XLLM_ERR_INVALID_ARGUMENT : XLLM_ERR_UNSUPPORTED,
                       "no integer in the range%s", integer ? "" : " (bounded numbers are generated as integers)");
    return jc_int_range(c, b, hlo, lo, hhi, hi);
}

/* ---- combinators, enum, const ---- */

static int branch_kinds(jconv *c, const json_t *s, int depth)
{
    if (depth > 8 || !json_is_object(s))
        return 63;
    json_t *ref = json_object_get(s, "$ref"), *t = json_object_get(s, "type"), *k;
    if (ref && json_is_string(ref)) {
        const json_t *r = resolve(c, json_string_value(ref));
        return r ? branch_kinds(c, r, depth + 1) : 63;
    }
    if ((k = json_object_get(s, "const")))
        return kind_of_value(k);
    if ((k = json_object_get(s, "enum")) && json_is_array(k)) {
        int m = 0;
        size_t i;
        json_t *v;
        json_array_foreach(k, i, v) m |= kind_of_value(v);
        return m;
    }
    if (json_is_string(t))
        return kind_of_type(json_string_value(t)) ? kind_of_type(json_string_value(t)) : 63;
    if (json_is_array(t)) {
        int m = 0;
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v) m |= json_is_string(v) ? kind_of_type(json_string_value(v)) : 63;
        return m;
    }
    return 63;
}

static int is_note(const char *key)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (!strcmp(key, keywords[i].name))
            return keywords[i].what == KW_NOTE;
    return !strcmp(key, "$defs") || !strcmp(key, "definitions");
}

static int has_only(const json_t *s, const char *keep)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v)
    {
        if (!strcmp(key, keep) || !strcmp(key, "$defs") || !strcmp(key, "definitions"))
            continue;
        size_t i;
        for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
            if (!strcmp(key, keywords[i].name))
                break;
        if (i == sizeof keywords / sizeof keywords[0] || keywords[i].what != KW_NOTE)
            return 0;
    }
    return 1;
}

static xllm_status any_of(jconv *c, const json_t *s, const char *kw, xllm_buf *b)
{
    json_t *list = json_object_get(s, kw);
    if (!json_is_array(list) || !json_array_size(list))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "%s must be a non-empty array", kw);
    if (!has_only(s, kw))
        return jc_fail(c, XLLM_ERR_UNSUPPORTED, "%s beside other constraints", kw);
    size_t n = json_array_size(list);
    if (kw[0] == 'o') { /* oneOf: exactly one may match, so the branches must not overlap */
        int seen = 0;
        for (size_t i = 0; i < n; i++) {
            int k = branch_kinds(c, json_array_get(list, i), 0);
            if (k & seen)
                return jc_fail(c, XLLM_ERR_UNSUPPORTED, "oneOf whose branches may overlap (only branches of "
                               "different JSON types are supported)");
            seen |= k;
        }
    }
    xllm_status st = xllm_buf_puts(b, "(");
    for (size_t i = 0; i < n && !st; i++) {
        char seg[48];
        snprintf(seg, sizeof seg, "%s/%zu", kw, i);
        st = xllm_buf_puts(b, i ? " | " : "");
        st = st ? st : schema_rule(c, json_array_get(list, i), seg, b);
    }
    return st ? st : xllm_buf_puts(b, ")");
}

/* allOf of object schemas: properties and required merged. */
static xllm_status all_of(jconv *c, const json_t *s, xllm_buf *b)
{
    json_t *list = json_object_get(s, "allOf");
    if (!json_is_array(list) || !json_array_size(list))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "allOf must be a non-empty array");
    json_t *merged = json_deep_copy(s);
    json_t *props = json_object(), *req = json_array();
    xllm_status st = merged && props && req ? XLLM_OK : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    size_t n = json_array_size(list);
    if (!st)
        json_object_del(merged, "allOf");
    /* the outer schema joins the branches */
    json_t **parts = xllm_calloc(n + 1, sizeof *parts);
    if (!parts && !st)
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        const json_t *p = json_array_get(list, i);
        json_t *ref = json_object_get(p, "$ref");
        if (ref && json_is_string(ref) && !(p = resolve(c, json_string_value(ref))))
            st = jc_fail(c, XLLM_ERR_UNSUPPORTED, "allOf/%zu: $ref not resolvable", i);
        parts[i] = (json_t *)p;
    }
    parts[n] = merged;
    for (size_t i = 0; i <= n && !st; i++) {
        const json_t *p = parts[i];
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)p, key, v)
        {
            if (!strcmp(key, "properties") && json_is_object(v)) {
                const char *pk;
                json_t *pv;
                json_object_foreach(v, pk, pv)
                {
                    json_t *had = json_object_get(props, pk);
                    if (had && !json_equal(had, pv))
                        st = jc_fail(c, XLLM_ERR_UNSUPPORTED, "allOf: property '%s' defined differently", pk);
                    else if (!had)
                        json_object_set(props, pk, pv);
                }
            } else if (!strcmp(key, "required") && json_is_array(v))
                json_array_extend(req, v);
            else if (!strcmp(key, "type")) {
                if (!json_is_string(v) || strcmp(json_string_value(v), "object"))
                    st = jc_fail(c, XLLM_ERR_UNSUPPORTED, "allOf of non-object schemas");
            } else if (!strcmp(key, "additionalProperties") && json_is_false(v)) {
                /* checked below, once every branch's properties are in */
            } else if (!is_note(key) && strcmp(key, "additionalProperties") && strcmp(key, "properties") &&
                       strcmp(key, "required") && (i < n || strcmp(key, "$ref")))
                st = jc_fail(c, XLLM_ERR_UNSUPPORTED, "allOf with '%s' (only object branches merge)", key);
        }
    }
    /* a branch that forbids other properties must declare all merged ones */
    for (size_t i = 0; i <= n && !st; i++) {
        if (!json_is_false(json_object_get(parts[i], "additionalProperties")))
            continue;
        const char *pk;
        json_t *pv, *own = json_object_get(parts[i], "properties");
        json_object_foreach(props, pk, pv) if (!st && (!own || !json_object_get(own, pk))) st = jc_fail(
            c, XLLM_ERR_UNSUPPORTED, "allOf: branch %zu has additionalProperties false but lacks '%s'", i, pk);
    }
    if (!st) {
        json_object_set_new(merged, "type", json_string("object"));
        json_object_set(merged, "properties", props);
        json_object_set(merged, "required", req);
        json_object_del(merged, "additionalProperties");
        st = schema(c, merged, b);
    }
    xllm_free(parts);
    json_decref(merged);
    json_decref(props);
    json_decref(req);
    return st;
}

static int type_ok(const json_t *types, const json_t *v)
{
    if (!types)
        return 1;
    size_t n = json_is_array(types) ? json_array_size(types) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_is_array(types) ? json_array_get(types, i) : types;
        const char *name = json_string_value(t);
        if (!name)
            continue;
        if (!strcmp(name, "integer") ? json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) ==
                                                                                     json_real_value(v))
                                     : kind_of_type(name) == kind_of_value(v))
            return 1;
    }
    return 0;
}

static xllm_status enum_const(jconv *c, const json_t *s, xllm_buf *b)
{
    json_t *cst = json_object_get(s, "const"), *en = json_object_get(s, "enum"), *types = json_object_get(s, "type");
    if (en && !json_is_array(en))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "enum must be an array");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v) if (strcmp(key, "const") && strcmp(key, "enum") && strcmp(key, "type") &&
                                                 !is_note(key)) return jc_fail(c, XLLM_ERR_UNSUPPORTED,
                                                                               "'%s' beside enum/const", key);
    size_t n = cst ? 1 : json_array_size(en);
    int alts = 0;
    xllm_status st = xllm_buf_puts(b, "(");
    for (size_t i = 0; i < n && !st; i++) {
        const json_t *x = cst ? cst : json_array_get(en, i);
        if (en && cst && !json_equal(x, cst))
            continue;
        if (!type_ok(types, x))
            continue;
        st = xllm_buf_puts(b, alts++ ? " | " : "");
        st = st ? st : jc_value_literal(c, b, x);
    }
    if (!st && !alts)
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "no value of enum/const has the schema's type");
    return st ? st : xllm_buf_puts(b, ")");
}

/* ---- dispatch ---- */

static xllm_status check_keywords(jconv *c, const json_t *s)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v)
    {
        size_t i;
        for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
            if (!strcmp(key, keywords[i].name))
                break;
        if (i == sizeof keywords / sizeof keywords[0])
            return jc_fail(c, XLLM_ERR_UNSUPPORTED, "keyword '%s' is not supported", key);
    }
    return XLLM_OK;
}

static xllm_status typed(jconv *c, const json_t *s, const char *t, xllm_buf *b)
{
    if (!strcmp(t, "object"))
        return object(c, s, b);
    if (!strcmp(t, "array"))
        return array(c, s, b);
    if (!strcmp(t, "string"))
        return jc_string(c, s, b);
    if (!strcmp(t, "integer"))
        return numeric(c, s, 1, b);
    if (!strcmp(t, "number"))
        return numeric(c, s, 0, b);
    if (!strcmp(t, "boolean"))
        return xllm_buf_puts(b, "(\"true\" | \"false\")");
    if (!strcmp(t, "null"))
        return xllm_buf_puts(b, "\"null\"");
    return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "unknown type '%s'", t);
}

/* No "type": the type that the constraining keywords imply. */
static const char *implied_type(jconv *c, const json_t *s, xllm_status *st)
{
    static const struct {
        const char *kw, *type;
    } implies[] = {
        {"properties", "object"}, {"required", "object"}, {"additionalProperties", "object"},
        {"items", "array"}, {"prefixItems", "array"}, {"minItems", "array"}, {"maxItems", "array"},
        {"minLength", "string"}, {"maxLength", "string"}, {"pattern", "string"}, {"format", "string"},
        {"minimum", "number"}, {"maximum", "number"}, {"exclusiveMinimum", "number"},
        {"exclusiveMaximum", "number"},
    };
    const char *found = NULL;
    *st = XLLM_OK;
    for (size_t i = 0; i < sizeof implies / sizeof implies[0]; i++)
        if (json_object_get(s, implies[i].kw)) {
            if (found && strcmp(found, implies[i].type)) {
                *st = jc_fail(c, XLLM_ERR_UNSUPPORTED, "keywords of several types without \"type\"");
                return NULL;
            }
            found = implies[i].type;
        }
    return found;
}

static xllm_status schema(jconv *c, const json_t *s, xllm_buf *b)
{
    if (json_is_true(s))
        return xllm_buf_puts(b, JC_VALUE);
    if (json_is_false(s))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "schema false accepts no value");
    if (!json_is_object(s))
        return jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "a schema must be an object or a boolean");
    if (++c->depth > XLLM_JSON_SCHEMA_MAX_DEPTH)
        return jc_fail(c, XLLM_ERR_LIMIT, "schema nested deeper than %d", XLLM_JSON_SCHEMA_MAX_DEPTH);
    xllm_status st = check_keywords(c, s);
    json_t *ref = json_object_get(s, "$ref"), *type = json_object_get(s, "type");
    if (st)
        ;
    else if (ref) {
        if (!json_is_string(ref))
            st = jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "$ref must be a string");
        else if (!has_only(s, "$ref"))
            st = jc_fail(c, XLLM_ERR_UNSUPPORTED, "keywords beside $ref");
        else
            st = ref_rule(c, json_string_value(ref), b);
    } else if (json_object_get(s, "const") || json_object_get(s, "enum"))
        st = enum_const(c, s, b);
    else if (json_object_get(s, "anyOf"))
        st = any_of(c, s, "anyOf", b);
    else if (json_object_get(s, "oneOf"))
        st = any_of(c, s, "oneOf", b);
    else if (json_object_get(s, "allOf"))
        st = all_of(c, s, b);
    else if (json_is_string(type))
        st = typed(c, s, json_string_value(type), b);
    else if (json_is_array(type)) {
        size_t n = json_array_size(type);
        if (!n)
            st = jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "empty type list");
        st = st ? st : xllm_buf_puts(b, "(");
        for (size_t i = 0; i < n && !st; i++) {
            const char *t = json_string_value(json_array_get(type, i));
            if (!t) {
                st = jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "type list holds a non-string");
                break;
            }
            st = xllm_buf_puts(b, i ? " | " : "");
            st = st ? st : typed(c, s, t, b);
        }
        st = st ? st : xllm_buf_puts(b, ")");
    } else if (type)
        st = jc_fail(c, XLLM_ERR_INVALID_ARGUMENT, "type must be a string or an array");
    else {
        const char *t = implied_type(c, s, &st);
        if (!st)
            st = t ? typed(c, s, t, b) : xllm_buf_puts(b, JC_VALUE);
    }
    c->depth--;
    return st;
}

static xllm_status convert(const json_t *doc, unsigned flags, char **gbnf, size_t *len)
{
    *gbnf = NULL;
    jconv c;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    c.flags = flags;
    xllm_buf_init(&c.rules, XLLM_JSON_SCHEMA_MAX_GBNF);
    xllm_buf root;
    xllm_buf_init(&root, XLLM_JSON_SCHEMA_MAX_GBNF);
    xllm_status st = schema(&c, doc, &root);
    if (!st) {
        xllm_buf out;
        xllm_buf_init(&out, XLLM_JSON_SCHEMA_MAX_GBNF);
        st = xllm_buf_printf(&out, "root ::= %s\n", root.data);
        st = st ? st : xllm_buf_append(&out, c.rules.data ? c.rules.data : "", c.rules.len);
        if (!st) {
            xllm_buf_free(&c.rules);
            c.rules = out;
            st = jc_write_common(&c);
        } else
            xllm_buf_free(&out);
        if (st == XLLM_ERR_LIMIT)
            st = xllm_fail(XLLM_ERR_LIMIT, "schema: grammar longer than %u bytes", XLLM_JSON_SCHEMA_MAX_GBNF);
    }
    if (!st) {
        *len = c.rules.len;
        *gbnf = xllm_buf_take(&c.rules);
    }
    xllm_buf_free(&c.rules);
    xllm_buf_free(&root);
    for (size_t i = 0; i < c.n_refs; i++)
        xllm_free(c.refs[i].ref);
    xllm_free(c.refs);
    return st;
}

xllm_status xllm_json_schema_to_gbnf(const json_t *schema_doc, unsigned flags, char **gbnf, size_t *len)
{
    return convert(schema_doc, flags, gbnf, len);
}

xllm_status xllm_json_object_gbnf(unsigned flags, char **gbnf, size_t *len)
{
    json_t *s = json_pack("{s:s}", "type", "object");
    if (!s)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "schema: out of memory");
    xllm_status st = convert(s, flags, gbnf, len);
    json_decref(s);
    return st;
}
