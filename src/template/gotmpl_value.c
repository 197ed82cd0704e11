/* gotmpl_value.c - the Go-like values templates see: JSON-derived interface{}
 * values (float64 numbers, sorted maps) and the typed structs Ollama's template
 * package passes (templateMessage, templateTool, api.ToolProperty, ...). */
#include <stdlib.h>
#include <string.h>

#include "template/gotmpl_impl.h"

/* ---- Ollama's template-facing types (template/template.go, api/types.go) ---- */
static const gt_field f_message[] = {
    {"Role", "Role", 0},         {"Content", "Content", 0},   {"Thinking", "Thinking", 0},
    {"Images", "Images", 0},     {"ToolCalls", "ToolCalls", 0}, {"ToolName", "ToolName", 0},
    {"ToolCallID", "ToolCallID", 0},
};
static const gt_field f_call[] = {{"ID", "ID", 0}, {"Function", "Function", 0}};
static const gt_field f_callfn[] = {{"Index", "Index", 0}, {"Name", "Name", 0}, {"Arguments", "Arguments", 0}};
static const gt_field f_tool[] = {{"Type", "type", 0}, {"Items", "items", 1}, {"Function", "function", 0}};
static const gt_field f_toolfn[] = {
    {"Name", "name", 0}, {"Description", "description", 0}, {"Parameters", "parameters", 0}};
static const gt_field f_params[] = {{"Type", "type", 0},         {"Defs", "$defs", 1},
                                    {"Items", "items", 1},       {"Required", "required", 1},
                                    {"Properties", "properties", 0}};
static const gt_field f_prop[] = {{"AnyOf", "anyOf", 1},         {"Type", "type", 1},
                                  {"Items", "items", 1},         {"Description", "description", 1},
                                  {"Enum", "enum", 1},           {"Properties", "properties", 1},
                                  {"Required", "required", 1}};

#define NF(f) (int)(sizeof(f) / sizeof((f)[0]))

const gt_type gt_type_strings = {.name = "[]string", .kind = GV_SLICE, .elem_kind = GV_STRING};
static const gt_type t_images = {.name = "[]api.ImageData", .kind = GV_SLICE};
const gt_type gt_type_tool_property = {.name = "api.ToolProperty", .kind = GV_STRUCT, .fields = f_prop,
                                       .nfields = NF(f_prop), .tsmethod = 1};
static const gt_type t_anyof = {.name = "[]api.ToolProperty", .kind = GV_SLICE,
                                .elem = &gt_type_tool_property};
static const gt_type t_proptype = {.name = "api.PropertyType", .kind = GV_SLICE, .elem_kind = GV_STRING,
                                   .stringer = GS_PROPTYPE, .proptype_json = 1};
static const gt_type t_enum = {.name = "[]interface {}", .kind = GV_SLICE};
static const gt_type t_omap = {.name = "*api.ToolPropertiesMap", .kind = GV_OMAP,
                               .elem = &gt_type_tool_property};
static const gt_type t_props = {.name = "template.templateProperties", .kind = GV_MAP,
                                .elem = &gt_type_tool_property, .stringer = GS_JSON_OR_EMPTY};
static const gt_type t_params = {.name = "template.templateToolFunctionParameters", .kind = GV_STRUCT,
                                 .fields = f_params, .nfields = NF(f_params)};
static const gt_type t_toolfn = {.name = "template.templateToolFunction", .kind = GV_STRUCT,
                                 .fields = f_toolfn, .nfields = NF(f_toolfn)};
static const gt_type t_tool = {.name = "template.templateTool", .kind = GV_STRUCT, .fields = f_tool,
                               .nfields = NF(f_tool)};
const gt_type gt_type_tools = {.name = "template.templateTools", .kind = GV_SLICE, .elem = &t_tool,
                               .stringer = GS_JSON};
static const gt_type t_args = {.name = "template.templateArgs", .kind = GV_MAP,
                               .stringer = GS_JSON_OR_EMPTY};
static const gt_type t_callfn = {.name = "template.templateToolCallFunction", .kind = GV_STRUCT,
                                 .fields = f_callfn, .nfields = NF(f_callfn)};
static const gt_type t_call = {.name = "template.templateToolCall", .kind = GV_STRUCT, .fields = f_call,
                               .nfields = NF(f_call)};
static const gt_type t_calls = {.name = "[]template.templateToolCall", .kind = GV_SLICE, .elem = &t_call};
const gt_type gt_type_message = {.name = "template.templateMessage", .kind = GV_STRUCT,
                                 .fields = f_message, .nfields = NF(f_message)};
const gt_type gt_type_message_ptr = {.name = "*template.templateMessage", .kind = GV_PTR,
                                     .elem = &gt_type_message};
const gt_type gt_type_messages = {.name = "[]*template.templateMessage", .kind = GV_SLICE,
                                  .elem = &gt_type_message_ptr};

/* field types of the structs above, by (struct type, index) */

const gt_type *gt_field_type(const gt_type *st, int i)
{
    if (st == &gt_type_message)
        return i == 3 ? &t_images : i == 4 ? &t_calls : NULL;
    if (st == &t_call)
        return i == 1 ? &t_callfn : NULL;
    if (st == &t_callfn)
        return i == 2 ? &t_args : NULL;
    if (st == &t_tool)
        return i == 2 ? &t_toolfn : NULL;
    if (st == &t_toolfn)
        return i == 2 ? &t_params : NULL;
    if (st == &t_params)
        return i == 3 ? &gt_type_strings : i == 4 ? &t_props : NULL;
    if (st == &gt_type_tool_property) {
        static const gt_type *const ft[] = {&t_anyof, &t_proptype, NULL, NULL, &t_enum, &t_omap,
                                            &gt_type_strings};
        return ft[i];
    }
    return NULL;
}

/* kind of a struct field that holds a basic value (for zero values) */
static gt_kind field_basic_kind(const gt_type *st, int i)
{
    if (st == &gt_type_message)
        return i == 3 || i == 4 ? GV_SLICE : GV_STRING;
    if (st == &t_callfn)
        return i == 0 ? GV_INT : i == 1 ? GV_STRING : GV_MAP;
    if (st == &t_call)
        return i == 0 ? GV_STRING : GV_STRUCT;
    if (st == &t_tool)
        return i == 0 ? GV_STRING : i == 1 ? GV_NIL : GV_STRUCT;
    if (st == &t_toolfn)
        return i == 2 ? GV_STRUCT : GV_STRING;
    if (st == &t_params)
        return i == 0 ? GV_STRING : i == 1 || i == 2 ? GV_NIL : i == 3 ? GV_SLICE : GV_MAP;
    if (st == &gt_type_tool_property) {
        static const gt_kind k[] = {GV_SLICE, GV_SLICE, GV_NIL, GV_STRING, GV_SLICE, GV_OMAP, GV_SLICE};
        return k[i];
    }
    return GV_NIL;
}

gt_val gt_invalid(void)
{
    gt_val v = {.kind = GV_INVALID};
    return v;
}

gt_val gt_nil(void)
{
    gt_val v = {.kind = GV_NIL};
    return v;
}

gt_val gt_bool(int b)
{
    gt_val v = {.kind = GV_BOOL};
    v.u.b = b != 0;
    return v;
}

gt_val gt_int(long long i)
{
    gt_val v = {.kind = GV_INT};
    v.u.i = i;
    return v;
}

gt_val gt_float(double f)
{
    gt_val v = {.kind = GV_FLOAT};
    v.u.f = f;
    return v;
}

gt_val gt_str(const char *p, size_t n)
{
    gt_val v = {.kind = GV_STRING};
    v.u.s.p = p ? p : "";
    v.u.s.n = n;
    return v;
}

static gt_val zero_of(gt_arena *a, const gt_type *t, gt_kind basic);


gt_val gt_zero_struct(gt_arena *a, const gt_type *t)
{
    gt_val v = {.kind = GV_STRUCT, .type = t};
    gt_seq *s = gt_alloc(a, sizeof(*s));
    gt_val *items = s ? gt_alloc(a, sizeof(gt_val) * (size_t)t->nfields) : NULL;
    if (!items)
        return gt_invalid();
    s->n = t->nfields;
    s->items = items;
    for (int i = 0; i < t->nfields; i++)
        items[i] = zero_of(a, gt_field_type(t, i), field_basic_kind(t, i));
    v.u.seq = s;
    return v;
}

static gt_val zero_of(gt_arena *a, const gt_type *t, gt_kind basic)
{
    if (t && t->kind == GV_STRUCT)
        return gt_zero_struct(a, t);
    gt_val v = {.kind = t ? t->kind : basic, .type = t};
    if (!t && basic == GV_STRING)
        v = gt_str("", 0);
    if (!t && basic == GV_STRUCT)
        v = gt_invalid();
    return v; /* nil slice / map / pointer, 0, false */
}

gt_val gt_zero_elem(gt_arena *a, const gt_type *map_type)
{
    if (!map_type || !map_type->elem)
        return gt_nil();
    return zero_of(a, map_type->elem, GV_NIL);
}

const char *gt_type_name(const gt_val *v)
{
    if (v->type)
        return v->type->name;
    switch (v->kind) {
    case GV_INVALID: return "<no value>";
    case GV_NIL: return "interface {}";
    case GV_BOOL: return "bool";
    case GV_INT: return "int";
    case GV_UINT8: return "uint8";
    case GV_FLOAT: return "float64";
    case GV_STRING: return "string";
    case GV_SLICE: return "[]interface {}";
    case GV_MAP: return "map[string]interface {}";
    default: return "struct";
    }
}

int gt_is_truthy(const gt_val *v)
{
    switch (v->kind) {
    case GV_INVALID:
    case GV_NIL: return 0;
    case GV_BOOL: return v->u.b;
    case GV_INT:
    case GV_UINT8: return v->u.i != 0;
    case GV_FLOAT: return v->u.f != 0;
    case GV_STRING: return v->u.s.n > 0;
    case GV_SLICE:
    case GV_MAP: return v->u.seq && v->u.seq->n > 0;
    case GV_STRUCT: return 1;
    case GV_PTR:
    case GV_OMAP: return v->u.seq != NULL;
    }
    return 0;
}

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

typedef struct kv_idx {
    const char *k;
    size_t n;
    int i;
} kv_idx;

static int kv_cmp(const void *x, const void *y)
{
    const kv_idx *a = x, *b = y;
    int c = key_cmp(a->k, a->n, b->k, b->n);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

xllm_status gt_map_build(gt_arena *a, int n, const char **keys, const gt_val *vals, const gt_type *type,
                         gt_val *out)
{
    gt_val v = {.kind = GV_MAP, .type = type};
    gt_seq *s = gt_alloc(a, sizeof(*s));
    kv_idx *idx = s ? gt_alloc(a, sizeof(*idx) * (size_t)(n ? n : 1)) : NULL;
    if (!idx)
        return XLLM_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < n; i++)
        idx[i] = (kv_idx){keys[i], strlen(keys[i]), i};
    qsort(idx, (size_t)n, sizeof(*idx), kv_cmp);
    s->items = gt_alloc(a, sizeof(gt_val) * (size_t)(n ? n : 1));
    s->keys = gt_alloc(a, sizeof(char *) * (size_t)(n ? n : 1));
    s->key_lens = gt_alloc(a, sizeof(size_t) * (size_t)(n ? n : 1));
    if (!s->items || !s->keys || !s->key_lens)
        return XLLM_ERR_OUT_OF_MEMORY;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && key_cmp(s->keys[m - 1], s->key_lens[m - 1], idx[i].k, idx[i].n) == 0)
            m--; /* a later duplicate wins */
        s->keys[m] = idx[i].k;
        s->key_lens[m] = idx[i].n;
        s->items[m] = vals[idx[i].i];
        m++;
    }
    s->n = m;
    v.u.seq = s;
    *out = v;
    return XLLM_OK;
}

int gt_map_get(const gt_val *m, const char *key, size_t n, gt_val *out)
{
    const gt_seq *s = m->u.seq;
    if (!s)
        return 0;
    if (m->kind == GV_OMAP) {
        for (int i = 0; i < s->n; i++)
            if (key_cmp(s->keys[i], s->key_lens[i], key, n) == 0) {
                *out = s->items[i];
                return 1;
            }
        return 0;
    }
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = key_cmp(s->keys[mid], s->key_lens[mid], key, n);
        if (c == 0) {
            *out = s->items[mid];
            return 1;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

xllm_status gt_from_json(gt_arena *a, const json_t *j, gt_val *out)
{
    switch (json_typeof(j)) {
    case JSON_NULL: *out = gt_nil(); return XLLM_OK;
    case JSON_TRUE: *out = gt_bool(1); return XLLM_OK;
    case JSON_FALSE: *out = gt_bool(0); return XLLM_OK;
    case JSON_INTEGER: *out = gt_float((double)json_integer_value(j)); return XLLM_OK;
    case JSON_REAL: *out = gt_float(json_real_value(j)); return XLLM_OK;
    case JSON_STRING: *out = gt_str(json_string_value(j), json_string_length(j)); return XLLM_OK;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        gt_seq *s = gt_alloc(a, sizeof(*s));
        gt_val *items = s ? gt_alloc(a, sizeof(gt_val) * (n ? n : 1)) : NULL;
        if (!items)
            return XLLM_ERR_OUT_OF_MEMORY;
        for (size_t i = 0; i < n; i++) {
            xllm_status st = gt_from_json(a, json_array_get(j, i), &items[i]);
            if (st)
                return st;
        }
        s->n = (int)n;
        s->items = items;
        out->kind = GV_SLICE;
        out->type = NULL;
        out->u.seq = s;
        return XLLM_OK;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        const char **keys = gt_alloc(a, sizeof(char *) * (n ? n : 1));
        gt_val *vals = gt_alloc(a, sizeof(gt_val) * (n ? n : 1));
        if (!keys || !vals)
            return XLLM_ERR_OUT_OF_MEMORY;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            keys[i] = k;
            xllm_status st = gt_from_json(a, v, &vals[i]);
            if (st)
                return st;
            i++;
        }
        return gt_map_build(a, (int)i, keys, vals, NULL, out);
    }
    }
    return XLLM_ERR_INVALID_ARGUMENT;
}

xllm_status gt_val_own(gt_arena *a, gt_val *v)
{
    if (v->kind == GV_STRING) {
        char *p = gt_strndup(a, v->u.s.p, v->u.s.n);
        if (!p)
            return XLLM_ERR_OUT_OF_MEMORY;
        v->u.s.p = p;
        return XLLM_OK;
    }
    if (v->kind != GV_SLICE && v->kind != GV_MAP && v->kind != GV_STRUCT && v->kind != GV_OMAP)
        return XLLM_OK;
    gt_seq *s = v->u.seq;
    for (int i = 0; s && i < s->n; i++) {
        if (s->keys) {
            char *k = gt_strndup(a, s->keys[i], s->key_lens[i]);
            if (!k)
                return XLLM_ERR_OUT_OF_MEMORY;
            s->keys[i] = k;
        }
        xllm_status st = gt_val_own(a, &s->items[i]);
        if (st)
            return st;
    }
    return XLLM_OK;
}
