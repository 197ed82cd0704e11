/* gotmpl_chat.c - renders a chat with a Go template as Ollama's server does:
 * the chat's messages and tools become Ollama's typed template data, messages
 * are collated, and templates that do not range over .Messages are run once per
 * System/Prompt/Response turn with everything after {{ .Response }} cut from the
 * last one (Ollama's template.Execute). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/limits.h"
#include "template/gotmpl_impl.h"

#define TRY(x)                     \
    do {                           \
        xllm_status try_st_ = (x); \
        if (try_st_)               \
            return try_st_;        \
    } while (0)

static xllm_status bad(const char *what)
{
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "go template chat: %s", what);
}

static xllm_status oom(void)
{
    return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "go template chat: out of memory");
}

/* ---- typed values ---- */
static gt_val *alloc_vals(gt_arena *a, int n)
{
    return gt_alloc(a, sizeof(gt_val) * (size_t)(n > 0 ? n : 1));
}

static gt_val make_struct(gt_arena *a, const gt_type *t)
{
    return gt_zero_struct(a, t);
}

static gt_val typed_slice(gt_arena *a, const gt_type *t, int n)
{
    gt_val v = {.kind = GV_SLICE, .type = t};
    gt_seq *s = gt_alloc(a, sizeof(*s));
    if (s && (s->items = alloc_vals(a, n)) != NULL) {
        s->n = n;
        v.u.seq = s;
    } else {
        v.kind = GV_INVALID;
    }
    return v;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static gt_val arena_str(gt_arena *a, const char *s, size_t n)
{
    char *p = gt_strndup(a, s, n);
    return p ? gt_str(p, n) : gt_invalid();
}

/* []string (json null: nil) */
static xllm_status strings_of(gt_arena *a, const json_t *j, const gt_type *t, gt_val *out)
{
    out->kind = GV_SLICE;
    out->type = t;
    out->u.seq = NULL;
    if (!j || json_is_null(j))
        return XLLM_OK;
    if (!json_is_array(j))
        return bad("expected a list of strings");
    *out = typed_slice(a, t, (int)json_array_size(j));
    if (out->kind == GV_INVALID)
        return oom();
    for (size_t i = 0; i < json_array_size(j); i++) {
        const json_t *e = json_array_get(j, i);
        if (!json_is_string(e))
            return bad("expected a list of strings");
        out->u.seq->items[i] = gt_str(json_string_value(e), json_string_length(e));
    }
    return XLLM_OK;
}

static xllm_status any_of(gt_arena *a, const json_t *j, gt_val *out)
{
    if (!j) {
        *out = gt_nil();
        return XLLM_OK;
    }
    return gt_from_json(a, j, out) ? oom() : XLLM_OK;
}

static xllm_status tool_property(gt_arena *a, const json_t *j, int depth, gt_val *out);

/* *api.ToolPropertiesMap: properties in the JSON object's order */
static xllm_status props_omap(gt_arena *a, const json_t *j, int depth, gt_val *out)
{
    out->kind = GV_OMAP;
    out->type = NULL;
    out->u.seq = NULL;
    if (!j || json_is_null(j))
        return XLLM_OK;
    if (!json_is_object(j))
        return bad("tool properties must be an object");
    size_t n = json_object_size(j), i = 0;
    gt_seq *s = gt_alloc(a, sizeof(*s));
    if (!s || !(s->items = alloc_vals(a, (int)n)) || !(s->keys = gt_alloc(a, sizeof(char *) * (n + 1))) ||
        !(s->key_lens = gt_alloc(a, sizeof(size_t) * (n + 1))))
        return oom();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        s->keys[i] = k;
        s->key_lens[i] = strlen(k);
        TRY(tool_property(a, v, depth + 1, &s->items[i]));
        i++;
    }
    s->n = (int)i;
    out->u.seq = s;
    return XLLM_OK;
}

static xllm_status tool_property(gt_arena *a, const json_t *j, int depth, gt_val *out)
{
    if (depth > 64)
        return bad("tool schema nested too deeply");
    *out = make_struct(a, &gt_type_tool_property);
    if (out->kind == GV_INVALID)
        return oom();
    if (json_is_null(j))
        return XLLM_OK;
    if (!json_is_object(j))
        return bad("a tool property must be an object");
    gt_val *f = out->u.seq->items;
    const json_t *anyof = json_object_get(j, "anyOf");
    if (anyof && !json_is_null(anyof)) {
        if (!json_is_array(anyof))
            return bad("anyOf must be a list");
        f[0] = typed_slice(a, gt_field_type(&gt_type_tool_property, 0), (int)json_array_size(anyof));
        if (f[0].kind == GV_INVALID)
            return oom();
        for (size_t i = 0; i < json_array_size(anyof); i++)
            TRY(tool_property(a, json_array_get(anyof, i), depth + 1, &f[0].u.seq->items[i]));
    }
    const json_t *type = json_object_get(j, "type");
    const gt_type *pt = gt_field_type(&gt_type_tool_property, 1);
    if (type && (json_is_string(type) || json_is_null(type))) {
        f[1] = typed_slice(a, pt, 1); /* PropertyType: one type ("" for null, as Go decodes it) */
        if (f[1].kind == GV_INVALID)
            return oom();
        f[1].u.seq->items[0] = json_is_string(type) ? gt_str(json_string_value(type), json_string_length(type))
                                                    : gt_str("", 0);
    } else if (type) {
        TRY(strings_of(a, type, pt, &f[1]));
    }
    TRY(any_of(a, json_object_get(j, "items"), &f[2]));
    const json_t *d = json_object_get(j, "description");
    if (d && !json_is_null(d)) {
        if (!json_is_string(d))
            return bad("a description must be a string");
        f[3] = gt_str(json_string_value(d), json_string_length(d));
    }
    const json_t *en = json_object_get(j, "enum");
    if (en && !json_is_null(en)) {
        if (!json_is_array(en))
            return bad("enum must be a list");
        TRY(any_of(a, en, &f[4]));
        f[4].type = gt_field_type(&gt_type_tool_property, 4);
    } else {
        f[4].type = gt_field_type(&gt_type_tool_property, 4);
    }
    TRY(props_omap(a, json_object_get(j, "properties"), depth, &f[5]));
    f[5].type = gt_field_type(&gt_type_tool_property, 5);
    TRY(strings_of(a, json_object_get(j, "required"), gt_field_type(&gt_type_tool_property, 6), &f[6]));
    return XLLM_OK;
}

/* templateTools from the chat's "tools" (nil when absent) */
static xllm_status build_tools(gt_arena *a, const json_t *tools, gt_val *out)
{
    out->kind = GV_SLICE;
    out->type = &gt_type_tools;
    out->u.seq = NULL;
    if (!tools || json_is_null(tools))
        return XLLM_OK;
    if (!json_is_array(tools))
        return bad("\"tools\" must be a list");
    int n = (int)json_array_size(tools);
    *out = typed_slice(a, &gt_type_tools, n);
    if (out->kind == GV_INVALID)
        return oom();
    const gt_type *tool_t = gt_type_tools.elem;
    for (int i = 0; i < n; i++) {
        const json_t *j = json_array_get(tools, (size_t)i);
        if (!json_is_object(j))
            return bad("a tool must be an object");
        gt_val tool = make_struct(a, tool_t);
        if (tool.kind == GV_INVALID)
            return oom();
        gt_val *tf = tool.u.seq->items;
        tf[0] = gt_str(jstr(j, "type"), strlen(jstr(j, "type")));
        TRY(any_of(a, json_object_get(j, "items"), &tf[1]));
        const json_t *fn = json_object_get(j, "function");
        gt_val *ff = tf[2].u.seq->items; /* templateToolFunction */
        if (fn && json_is_object(fn)) {
            ff[0] = gt_str(jstr(fn, "name"), strlen(jstr(fn, "name")));
            ff[1] = gt_str(jstr(fn, "description"), strlen(jstr(fn, "description")));
            const json_t *p = json_object_get(fn, "parameters");
            gt_val *pf = ff[2].u.seq->items; /* templateToolFunctionParameters */
            if (p && json_is_object(p)) {
                pf[0] = gt_str(jstr(p, "type"), strlen(jstr(p, "type")));
                TRY(any_of(a, json_object_get(p, "$defs"), &pf[1]));
                TRY(any_of(a, json_object_get(p, "items"), &pf[2]));
                TRY(strings_of(a, json_object_get(p, "required"), &gt_type_strings, &pf[3]));
                gt_val om;
                TRY(props_omap(a, json_object_get(p, "properties"), 0, &om));
                /* templateProperties: a plain map (sorted), nil when there are none */
                const gt_type *props_t = gt_field_type(gt_field_type(gt_field_type(tool_t, 2), 2), 4);
                if (om.u.seq)
                    TRY(gt_map_build(a, om.u.seq->n, om.u.seq->keys, om.u.seq->items, props_t, &pf[4]) ? oom()
                                                                                                   : XLLM_OK);
                else
                    pf[4] = (gt_val){.kind = GV_MAP, .type = props_t};
            }
        }
        out->u.seq->items[i] = tool;
    }
    return XLLM_OK;
}

/* ---- messages as Ollama's API layers read them ---- */
typedef struct msg {
    const char *role;
    char *content; /* arena; grown by collation */
    size_t content_len;
    const char *thinking;
    const json_t *calls;
    const char *tool_name, *call_id;
} msg;

static const char *first_str(const json_t *m, const char *const *keys)
{
    for (; *keys; keys++) {
        const char *s = json_string_value(json_object_get(m, *keys));
        if (s && *s)
            return s;
    }
    return "";
}

static const char *name_from_call_id(const json_t *msgs, size_t upto, const char *id)
{
    for (size_t i = upto; i-- > 0;) {
        const json_t *calls = json_object_get(json_array_get(msgs, i), "tool_calls");
        for (size_t k = 0; json_is_array(calls) && k < json_array_size(calls); k++) {
            const json_t *c = json_array_get(calls, k);
            const char *cid = json_string_value(json_object_get(c, "id"));
            if (cid && strcmp(cid, id) == 0)
                return jstr(json_object_get(c, "function"), "name");
        }
    }
    return "";
}

static char *lower_dup(gt_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *p = gt_strndup(a, s, n);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
    return p;
}

static xllm_status read_messages(gt_arena *a, const json_t *chat, msg **out, int *nout)
{
    const json_t *msgs = json_object_get(chat, "messages");
    if (!json_is_array(msgs))
        return bad("\"messages\" must be a list");
    size_t n = json_array_size(msgs), cap = n + 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_object_get(json_array_get(msgs, i), "content");
        if (json_is_array(c))
            cap += json_array_size(c);
    }
    msg *m = gt_alloc(a, sizeof(msg) * cap);
    if (!m)
        return oom();
    int k = 0;
    const json_t *sys = json_object_get(chat, "system");
    const json_t *m0 = json_array_get(msgs, 0);
    if (json_is_string(sys) && json_string_length(sys) > 0 &&
        !(n > 0 && strcasecmp(jstr(m0, "role"), "system") == 0)) {
        m[k].role = "system";
        m[k].content = (char *)json_string_value(sys);
        m[k].content_len = json_string_length(sys);
        m[k].thinking = m[k].tool_name = m[k].call_id = "";
        k++;
    }
    static const char *const think_keys[] = {"thinking", "reasoning_content", "reasoning", NULL};
    static const char *const name_keys[] = {"tool_name", "name", NULL};
    for (size_t i = 0; i < n; i++) {
        const json_t *j = json_array_get(msgs, i);
        if (!json_is_object(j))
            return bad("a message must be an object");
        const char *role = lower_dup(a, jstr(j, "role"));
        if (!role)
            return oom();
        const char *call_id = jstr(j, "tool_call_id");
        const char *tool_name = first_str(j, name_keys);
        if (strcmp(role, "tool") == 0 && !*tool_name && *call_id)
            tool_name = name_from_call_id(msgs, i, call_id);
        const json_t *calls = json_object_get(j, "tool_calls");
        if (calls && !json_is_null(calls) && !json_is_array(calls))
            return bad("\"tool_calls\" must be a list");
        const char *thinking = first_str(j, think_keys);
        const json_t *c = json_object_get(j, "content");
        if (json_is_array(c)) { /* list content: one message per text part */
            size_t parts = json_array_size(c);
            for (size_t p = 0; p < parts; p++) {
                const json_t *part = json_array_get(c, p);
                if (!json_is_object(part) || strcmp(jstr(part, "type"), "text") != 0)
                    return xllm_fail(XLLM_ERR_UNSUPPORTED, "go template chat: only text content parts are supported");
                const json_t *tx = json_object_get(part, "text");
                if (!json_is_string(tx))
                    return bad("invalid message format");
                m[k] = (msg){role, (char *)json_string_value(tx), json_string_length(tx), "", NULL, "", ""};
                k++;
            }
            if (parts) {
                m[k - 1].calls = calls;
                m[k - 1].tool_name = tool_name;
                m[k - 1].call_id = call_id;
                m[k - 1].thinking = thinking;
            }
            continue;
        }
        if (c && !json_is_null(c) && !json_is_string(c))
            return bad("message content must be a string, a list of parts or null");
        m[k] = (msg){role, c ? (char *)json_string_value(c) : NULL, c ? json_string_length(c) : 0,
                     thinking, calls, tool_name, call_id};
        if (!m[k].content)
            m[k].content = "";
        k++;
    }
    *out = m;
    *nout = k;
    return XLLM_OK;
}

/* Ollama's collate: consecutive messages of one role (tool excepted) merged with
 * "\n\n"; all system contents joined with "\n\n". */
static xllm_status collate(gt_arena *a, msg *m, int n, int *nout, gt_val *system)
{
    xllm_buf sys;
    xllm_buf_init(&sys, 0);
    int k = 0, nsys = 0;
    xllm_status st = XLLM_OK;
    for (int i = 0; i < n && st == XLLM_OK; i++) {
        if (strcmp(m[i].role, "system") == 0) {
            if (nsys++)
                st = xllm_buf_append(&sys, "\n\n", 2);
            if (st == XLLM_OK)
                st = xllm_buf_append(&sys, m[i].content, m[i].content_len);
        }
        if (k > 0 && strcmp(m[k - 1].role, m[i].role) == 0 && strcmp(m[i].role, "tool") != 0) {
            size_t len = m[k - 1].content_len + 2 + m[i].content_len;
            char *c = gt_alloc(a, len + 1);
            if (!c) {
                st = oom();
                break;
            }
            memcpy(c, m[k - 1].content, m[k - 1].content_len);
            memcpy(c + m[k - 1].content_len, "\n\n", 2);
            memcpy(c + m[k - 1].content_len + 2, m[i].content, m[i].content_len);
            m[k - 1].content = c;
            m[k - 1].content_len = len;
        } else {
            m[k++] = m[i];
        }
    }
    if (st == XLLM_OK) {
        *system = arena_str(a, sys.data ? sys.data : "", sys.len);
        if (system->kind == GV_INVALID)
            st = oom();
    }
    xllm_buf_free(&sys);
    *nout = k;
    return st;
}

static xllm_status tool_args(gt_arena *a, const json_t *args, const gt_type *t, gt_val *out)
{
    out->kind = GV_MAP;
    out->type = t;
    out->u.seq = NULL;
    if (!args || json_is_null(args))
        return XLLM_OK;
    json_t *parsed = NULL;
    if (json_is_string(args)) { /* OpenAI: arguments as a JSON string */
        parsed = json_loadb(json_string_value(args), json_string_length(args), JSON_DECODE_ANY, NULL);
        if (!parsed)
            return bad("tool call arguments are not valid JSON");
        args = parsed;
    }
    xllm_status st = XLLM_OK;
    if (!json_is_object(args)) {
        st = bad("tool call arguments must be an object");
    } else {
        gt_val m;
        st = gt_from_json(a, args, &m) ? oom() : XLLM_OK;
        if (st == XLLM_OK) {
            m.type = t;
            *out = m;
        }
    }
    if (parsed && st == XLLM_OK) /* its strings must outlive the parsed JSON */
        st = gt_val_own(a, out) ? oom() : XLLM_OK;
    json_decref(parsed);
    return st;
}

static xllm_status build_calls(gt_arena *a, const json_t *calls, gt_val *out)
{
    const gt_type *calls_t = gt_field_type(&gt_type_message, 4);
    out->kind = GV_SLICE;
    out->type = calls_t;
    out->u.seq = NULL;
    int n = json_is_array(calls) ? (int)json_array_size(calls) : 0;
    if (n == 0)
        return XLLM_OK;
    *out = typed_slice(a, calls_t, n);
    if (out->kind == GV_INVALID)
        return oom();
    for (int i = 0; i < n; i++) {
        const json_t *c = json_array_get(calls, (size_t)i);
        if (!json_is_object(c))
            return bad("a tool call must be an object");
        gt_val call = make_struct(a, calls_t->elem);
        if (call.kind == GV_INVALID)
            return oom();
        call.u.seq->items[0] = gt_str(jstr(c, "id"), strlen(jstr(c, "id")));
        const json_t *fn = json_object_get(c, "function");
        gt_val *ff = call.u.seq->items[1].u.seq->items;
        const json_t *ix = json_object_get(fn, "index");
        if (!ix)
            ix = json_object_get(c, "index");
        ff[0] = gt_int(json_is_integer(ix) ? (long long)json_integer_value(ix) : 0);
        ff[1] = gt_str(jstr(fn, "name"), strlen(jstr(fn, "name")));
        const gt_type *args_t = gt_field_type(gt_field_type(calls_t->elem, 1), 2);
        TRY(tool_args(a, json_object_get(fn, "arguments"), args_t, &ff[2]));
        out->u.seq->items[i] = call;
    }
    return XLLM_OK;
}

static xllm_status build_messages(gt_arena *a, const msg *m, int n, gt_val *out)
{
    out->kind = GV_SLICE;
    out->type = &gt_type_messages;
    out->u.seq = NULL;
    if (n == 0)
        return XLLM_OK;
    *out = typed_slice(a, &gt_type_messages, n);
    if (out->kind == GV_INVALID)
        return oom();
    for (int i = 0; i < n; i++) {
        gt_val st = make_struct(a, &gt_type_message);
        if (st.kind == GV_INVALID)
            return oom();
        gt_val *f = st.u.seq->items;
        f[0] = gt_str(m[i].role, strlen(m[i].role));
        f[1] = gt_str(m[i].content, m[i].content_len);
        f[2] = gt_str(m[i].thinking, strlen(m[i].thinking));
        TRY(build_calls(a, m[i].calls, &f[4]));
        f[5] = gt_str(m[i].tool_name, strlen(m[i].tool_name));
        f[6] = gt_str(m[i].call_id, strlen(m[i].call_id));
        gt_val ptr = st;
        ptr.kind = GV_PTR;
        ptr.type = &gt_type_message_ptr;
        out->u.seq->items[i] = ptr;
    }
    return XLLM_OK;
}

/* ---- Ollama's Vars(): lower-cased field and variable names ---- */
typedef struct vars_seen {
    int messages, response;
} vars_seen;

static xllm_status ident_pipe(const gt_pipe *p, vars_seen *v);

static void note_ident(const char *s, vars_seen *v)
{
    if (strcasecmp(s, "messages") == 0)
        v->messages = 1;
    if (strcasecmp(s, "response") == 0)
        v->response = 1;
}

static xllm_status ident_list(const gt_list *l, vars_seen *v)
{
    for (int i = 0; l && i < l->n; i++) {
        const gt_node *n = l->nodes[i];
        switch (n->kind) {
        case GN_ACTION: TRY(ident_pipe(n->pipe, v)); break;
        case GN_TEMPLATE:
            if (!n->pipe)
                return xllm_fail(XLLM_ERR_FORMAT, "go template: undefined template specified");
            TRY(ident_pipe(n->pipe, v));
            break;
        case GN_IF:
        case GN_RANGE:
        case GN_WITH:
            TRY(ident_pipe(n->pipe, v));
            TRY(ident_list(n->list, v));
            TRY(ident_list(n->else_list, v));
            break;
        default: break;
        }
    }
    return XLLM_OK;
}

static xllm_status ident_pipe(const gt_pipe *p, vars_seen *v)
{
    for (int c = 0; c < p->ncmds; c++) {
        for (int i = 0; i < p->cmds[c]->nargs; i++) {
            const gt_arg *a = p->cmds[c]->args[i];
            if (a->kind == GA_FIELD || a->kind == GA_VAR) {
                if (a->kind == GA_VAR)
                    note_ident(a->name, v);
                for (int k = 0; k < a->nidents; k++)
                    note_ident(a->idents[k], v);
            } else if (a->kind == GA_PIPE) {
                TRY(ident_pipe(a->pipe, v));
            }
        }
    }
    return XLLM_OK;
}

/* ---- Ollama's deleteNode: everything after the first .Response field, in tree order ---- */
typedef struct cutter {
    gt_arena *a;
    int cut;
    int broken; /* Go panics here (a cut else-branch): refuse */
} cutter;

static int is_response_field(const gt_arg *a)
{
    if (a->kind != GA_FIELD)
        return 0;
    for (int i = 0; i < a->nidents; i++)
        if (strcmp(a->idents[i], "Response") == 0)
            return 1;
    return 0;
}

static gt_pipe *cut_pipe(cutter *c, const gt_pipe *p);

static gt_list *cut_list(cutter *c, const gt_list *l)
{
    if (c->cut)
        return NULL;
    gt_list *nl = gt_list_new(c->a);
    if (!nl)
        return NULL;
    for (int i = 0; i < l->n; i++) {
        const gt_node *n = l->nodes[i];
        if (c->cut)
            continue; /* deleted */
        gt_node *nn = gt_alloc(c->a, sizeof(*nn));
        if (!nn)
            return NULL;
        *nn = *n;
        if (n->kind == GN_IF || n->kind == GN_WITH || n->kind == GN_RANGE) {
            nn->list = cut_list(c, n->list);
            if (!nn->list) {
                c->broken = 1;
                return NULL;
            }
            if (n->else_list) {
                if (c->cut) {
                    c->broken = 1; /* Go: nil *ListNode type assertion panics */
                    return NULL;
                }
                nn->else_list = cut_list(c, n->else_list);
                if (!nn->else_list) {
                    c->broken = 1;
                    return NULL;
                }
            }
        } else if (n->kind == GN_ACTION) {
            nn->pipe = cut_pipe(c, n->pipe);
            if (c->broken)
                return NULL;
            if (!nn->pipe)
                continue;
        }
        if (gt_list_add(c->a, nl, nn)) {
            c->broken = 1;
            return NULL;
        }
    }
    return nl;
}

static gt_pipe *cut_pipe(cutter *c, const gt_pipe *p)
{
    if (c->cut)
        return NULL;
    gt_pipe *np = gt_alloc(c->a, sizeof(*np));
    gt_cmd **cmds = np ? gt_alloc(c->a, sizeof(*cmds) * (size_t)(p->ncmds ? p->ncmds : 1)) : NULL;
    if (!cmds) {
        c->broken = 1;
        return NULL;
    }
    *np = *p;
    np->cmds = cmds;
    np->ncmds = 0;
    for (int i = 0; i < p->ncmds; i++) {
        const gt_cmd *cmd = p->cmds[i];
        gt_cmd *nc = gt_alloc(c->a, sizeof(*nc));
        gt_arg **args = nc ? gt_alloc(c->a, sizeof(*args) * (size_t)cmd->nargs) : NULL;
        if (!args) {
            c->broken = 1;
            return NULL;
        }
        *nc = *cmd;
        nc->args = args;
        nc->nargs = 0;
        for (int k = 0; k < cmd->nargs; k++) {
            const gt_arg *a = cmd->args[k];
            if (is_response_field(a)) {
                c->cut = 1;
                args[nc->nargs++] = (gt_arg *)a;
                continue;
            }
            if (c->cut)
                continue;
            if (a->kind == GA_PIPE) {
                gt_arg *na = gt_alloc(c->a, sizeof(*na));
                if (!na) {
                    c->broken = 1;
                    return NULL;
                }
                *na = *a;
                na->pipe = cut_pipe(c, a->pipe);
                if (c->broken)
                    return NULL;
                if (!na->pipe)
                    continue;
                args[nc->nargs++] = na;
                continue;
            }
            args[nc->nargs++] = (gt_arg *)a;
        }
        if (nc->nargs == 0)
            return NULL;
        np->cmds[np->ncmds++] = nc;
    }
    return np->ncmds ? np : NULL;
}

/* ---- the data maps ---- */
typedef struct think_vals {
    gt_val think, level, is_set;
} think_vals;

static xllm_status data_map(gt_arena *a, const char **keys, const gt_val *vals, int n, gt_val *out)
{
    return gt_map_build(a, n, keys, vals, NULL, out) ? oom() : XLLM_OK;
}

static xllm_status turn_data(gt_arena *a, gt_val sys, gt_val prompt, gt_val resp, const think_vals *tv,
                             gt_val *out)
{
    const char *keys[] = {"System", "Prompt", "Response", "Think", "ThinkLevel", "IsThinkSet"};
    gt_val vals[] = {sys, prompt, resp, tv->think, tv->level, tv->is_set};
    return data_map(a, keys, vals, 6, out);
}

static xllm_status read_think(const json_t *chat, think_vals *tv)
{
    const json_t *t = json_object_get(chat, "think");
    tv->think = gt_bool(0);
    tv->level = gt_str("", 0);
    tv->is_set = gt_bool(t && !json_is_null(t));
    if (!t || json_is_null(t))
        return XLLM_OK;
    if (json_is_boolean(t)) {
        tv->think = gt_bool(json_is_true(t));
        if (json_is_true(t))
            tv->level = gt_str("medium", 6);
        return XLLM_OK;
    }
    if (json_is_string(t)) {
        const char *s = json_string_value(t);
        if (strcmp(s, "high") && strcmp(s, "medium") && strcmp(s, "low"))
            return bad("think must be true, false, \"high\", \"medium\" or \"low\"");
        tv->think = gt_bool(1);
        tv->level = gt_str(s, strlen(s));
        return XLLM_OK;
    }
    return bad("think must be a boolean or a string");
}

static xllm_status append_response(gt_arena *a, const gt_list *root, gt_list **out)
{
    static const char *const resp_ident[] = {"Response"};
    gt_list *l = gt_list_new(a);
    gt_node *n = gt_alloc(a, sizeof(*n));
    gt_pipe *p = gt_alloc(a, sizeof(*p));
    gt_cmd *c = gt_alloc(a, sizeof(*c));
    gt_cmd **cmds = gt_alloc(a, sizeof(*cmds));
    gt_arg *arg = gt_alloc(a, sizeof(*arg));
    gt_arg **args = gt_alloc(a, sizeof(*args));
    if (!l || !n || !p || !c || !cmds || !arg || !args)
        return oom();
    for (int i = 0; i < root->n; i++)
        TRY(gt_list_add(a, l, root->nodes[i]) ? oom() : XLLM_OK);
    arg->kind = GA_FIELD;
    arg->idents = (const char **)resp_ident;
    arg->nidents = 1;
    args[0] = arg;
    c->args = args;
    c->nargs = 1;
    cmds[0] = c;
    p->cmds = cmds;
    p->ncmds = 1;
    n->kind = GN_ACTION;
    n->pipe = p;
    TRY(gt_list_add(a, l, n) ? oom() : XLLM_OK);
    *out = l;
    return XLLM_OK;
}

static xllm_status legacy(const xllm_gotmpl *t, gt_arena *a, const gt_list *root, const msg *m, int n,
                          const think_vals *tv, xllm_buf *out)
{
    gt_val empty = gt_str("", 0), sys = empty, prompt = empty, resp = empty, d;
    for (int i = 0; i < n; i++) {
        gt_val content = gt_str(m[i].content, m[i].content_len);
        int is_sys = strcmp(m[i].role, "system") == 0, is_user = strcmp(m[i].role, "user") == 0;
        if ((is_sys && (prompt.u.s.n || resp.u.s.n)) || (is_user && resp.u.s.n)) {
            TRY(turn_data(a, sys, prompt, resp, tv, &d));
            TRY(gt_execute(t, root, a, &d, NULL, out));
            sys = prompt = resp = empty;
        }
        if (is_sys)
            sys = content;
        else if (is_user)
            prompt = content;
        else if (strcmp(m[i].role, "assistant") == 0)
            resp = content;
    }
    cutter c = {.a = a};
    gt_list *last = cut_list(&c, root);
    if (c.broken || !last)
        return xllm_fail(XLLM_ERR_UNSUPPORTED,
                         "go template: {{ .Response }} inside a block with an {{ else }} "
                         "(Ollama's last-turn cut fails on it)");
    TRY(turn_data(a, sys, prompt, resp, tv, &d));
    gt_exec_opts opts = {.no_extra_funcs = 1, .no_defines = 1, .missing_invalid = 1};
    return gt_execute(t, last, a, &d, &opts, out);
}

static xllm_status render_chat(const xllm_gotmpl *t, gt_arena *a, const json_t *chat, xllm_buf *out)
{
    if (!json_is_object(chat))
        return bad("the chat must be a JSON object");
    vars_seen vs = {0};
    TRY(ident_list(t->root, &vs));
    for (int i = 0; i < t->ndefs; i++)
        TRY(ident_list(t->defs[i].list, &vs));
    const gt_list *root = t->root;
    gt_list *with_resp = NULL;
    if (!vs.messages && !vs.response) {
        TRY(append_response(a, t->root, &with_resp));
        root = with_resp;
    }
    think_vals tv;
    TRY(read_think(chat, &tv));
    msg *m = NULL;
    int n = 0;
    TRY(read_messages(a, chat, &m, &n));
    gt_val system;
    TRY(collate(a, m, n, &n, &system));
    if (!vs.messages)
        return legacy(t, a, root, m, n, &tv, out);
    gt_val msgs, tools, d;
    TRY(build_messages(a, m, n, &msgs));
    TRY(build_tools(a, json_object_get(chat, "tools"), &tools));
    const char *keys[] = {"System", "Messages", "Tools", "Response", "Think", "ThinkLevel", "IsThinkSet"};
    gt_val vals[] = {system, msgs, tools, gt_str("", 0), tv.think, tv.level, tv.is_set};
    TRY(data_map(a, keys, vals, 7, &d));
    return gt_execute(t, root, a, &d, NULL, out);
}

xllm_status xllm_gotmpl_render_chat(const xllm_gotmpl *t, const json_t *chat, xllm_buf *out)
{
    if (!t || !out)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "go template: no template or output");
    gt_arena a = {.limit = XLLM_GOTMPL_MAX_ARENA};
    size_t start = out->len;
    xllm_status st = render_chat(t, &a, chat, out);
    if (st) {
        out->len = start;
        if (out->data)
            out->data[start] = 0;
    }
    gt_arena_free(&a);
    return st;
}
