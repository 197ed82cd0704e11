/* gotmpl_impl.h - internals of the Go text/template dialect shared by its files:
 * the arena, the parse tree (gotmpl_parse.c), the Go-like values with their type
 * descriptors (gotmpl_value.c), Go's fmt / encoding/json formatting
 * (gotmpl_fmt.c) and the executor (gotmpl_exec.c). Not a public header. */
#ifndef XLLM_TEMPLATE_GOTMPL_IMPL_H
#define XLLM_TEMPLATE_GOTMPL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/status.h"
#include "template/gotmpl.h"

/* ---- arena: every parse node and every render value lives in one ---- */
typedef struct gt_arena {
    struct gt_block *head;
    size_t used_bytes;
    size_t limit; /* 0: none */
} gt_arena;

void *gt_alloc(gt_arena *a, size_t n); /* zeroed; NULL when out of memory / over limit */
char *gt_strndup(gt_arena *a, const char *s, size_t n);
void gt_arena_free(gt_arena *a);

/* ---- parse tree ---- */
typedef enum gt_arg_kind {
    GA_FIELD,  /* .A.B */
    GA_CHAIN,  /* (pipe).A.B or $x form chained on a non-field term */
    GA_IDENT,  /* function name */
    GA_PIPE,   /* ( pipeline ) */
    GA_VAR,    /* $x.A.B */
    GA_BOOL,
    GA_DOT,
    GA_NIL,
    GA_NUMBER,
    GA_STRING,
} gt_arg_kind;

typedef struct gt_pipe gt_pipe;

typedef struct gt_arg {
    gt_arg_kind kind;
    int pos;             /* byte offset in the source, for messages */
    const char *name;    /* GA_IDENT function name, GA_VAR "$x" */
    int fn;              /* GA_IDENT: its gt_func */
    const char **idents; /* GA_FIELD / GA_VAR / GA_CHAIN field names */
    int nidents;
    struct gt_arg *node; /* GA_CHAIN: the chained term */
    gt_pipe *pipe;       /* GA_PIPE */
    int b;               /* GA_BOOL */
    /* GA_NUMBER: an ideal constant as Go's parse.NumberNode keeps it */
    int is_int, is_float, is_char;
    long long ival;
    double fval;
    const char *text; /* GA_NUMBER literal text; GA_STRING value */
    size_t text_len;
} gt_arg;

typedef struct gt_cmd {
    gt_arg **args;
    int nargs;
    int pos;
} gt_cmd;

struct gt_pipe {
    int pos;
    int is_assign; /* '=' rather than ':=' */
    const char **decl;
    int ndecl;
    gt_cmd **cmds;
    int ncmds;
};

typedef enum gt_node_kind {
    GN_TEXT,
    GN_ACTION,
    GN_IF,
    GN_RANGE,
    GN_WITH,
    GN_TEMPLATE,
    GN_BREAK,
    GN_CONTINUE,
} gt_node_kind;

typedef struct gt_list gt_list;

typedef struct gt_node {
    gt_node_kind kind;
    int pos;
    const char *text; /* GN_TEXT */
    size_t text_len;
    gt_pipe *pipe;    /* ACTION, IF, RANGE, WITH, TEMPLATE (may be NULL for TEMPLATE) */
    gt_list *list;    /* IF / RANGE / WITH body */
    gt_list *else_list;
    const char *name; /* GN_TEMPLATE */
} gt_node;

struct gt_list {
    gt_node **nodes;
    int n, cap;
};

typedef struct gt_define {
    const char *name;
    gt_list *list;
} gt_define;

struct xllm_gotmpl {
    gt_arena arena;
    char *src; /* copy of the source (text nodes point into it) */
    size_t src_len;
    gt_list *root;
    gt_define *defs;
    int ndefs;
};

/* Parse src into t (t->arena, t->src set by the caller). Errors name line:col. */
xllm_status gt_parse(xllm_gotmpl *t);
/* Line and column (1-based) of byte offset pos in src. */
void gt_line_col(const char *src, size_t len, int pos, int *line, int *col);
gt_list *gt_list_new(gt_arena *a);
xllm_status gt_list_add(gt_arena *a, gt_list *l, gt_node *n);

/* ---- values ---- */
typedef enum gt_kind {
    GV_INVALID, /* Go's zero reflect.Value: prints "<no value>" */
    GV_NIL,     /* a nil interface{} (JSON null, missing map key) */
    GV_BOOL,
    GV_INT,
    GV_UINT8, /* a byte from indexing a string */
    GV_FLOAT,
    GV_STRING,
    GV_SLICE,
    GV_MAP,   /* keys sorted (Go prints and ranges maps in key order) */
    GV_STRUCT,
    GV_PTR,   /* pointer to a struct (*templateMessage) */
    GV_OMAP,  /* *api.ToolPropertiesMap: ordered, opaque to templates */
} gt_kind;

typedef enum gt_stringer {
    GS_NONE,
    GS_JSON,          /* String() = json.Marshal (templateTools) */
    GS_JSON_OR_EMPTY, /* String() = "{}" when nil, else json.Marshal (templateArgs, ...) */
    GS_PROPTYPE,      /* api.PropertyType: one string, or fmt %v of the list */
} gt_stringer;

typedef struct gt_type gt_type;

typedef struct gt_field {
    const char *name;
    const char *json;
    int omitempty;
} gt_field;

struct gt_type {
    const char *name; /* Go's name, for messages and %T */
    gt_kind kind;
    gt_stringer stringer;
    const gt_field *fields; /* struct fields in order */
    int nfields;
    const gt_type *elem; /* slice / map / ptr element; NULL: interface{} */
    int elem_kind;       /* basic element kind when elem is NULL and not interface (e.g. []string) */
    int proptype_json;   /* api.PropertyType's MarshalJSON */
    int tsmethod;        /* has ToTypeScriptType() */
};

typedef struct gt_val gt_val;

typedef struct gt_seq { /* slice, map, struct fields, ordered map */
    int n;
    gt_val *items;
    const char **keys; /* maps: sorted (GV_MAP) or insertion order (GV_OMAP) */
    size_t *key_lens;
} gt_seq;

struct gt_val {
    gt_kind kind;
    const gt_type *type; /* NULL: the JSON-derived interface{} types */
    union {
        int b;
        long long i;
        double f;
        struct {
            const char *p;
            size_t n;
        } s;
        gt_seq *seq; /* NULL: a nil slice / map / pointer */
    } u;
};

extern const gt_type gt_type_message_ptr, gt_type_message, gt_type_messages, gt_type_tools,
    gt_type_tool_property, gt_type_strings;
/* Copy v's strings and keys into the arena (v came from a JSON value about to be freed). */
xllm_status gt_val_own(gt_arena *a, gt_val *v);
/* api.ToolProperty.ToTypeScriptType of a ToolProperty struct value. */
xllm_status gt_ts_type(xllm_buf *out, const gt_val *prop);

/* Type of field i of a struct type (NULL: a basic or interface{} field). */
const gt_type *gt_field_type(const gt_type *st, int i);
/* A struct of type t with every field at its zero value. */
gt_val gt_zero_struct(gt_arena *a, const gt_type *t);
gt_val gt_invalid(void);
gt_val gt_nil(void);
gt_val gt_bool(int b);
gt_val gt_int(long long i);
gt_val gt_float(double f);
gt_val gt_str(const char *p, size_t n);
/* Go type name of v ("float64", "map[string]interface {}", "[]*template.templateMessage"). */
const char *gt_type_name(const gt_val *v);
int gt_is_truthy(const gt_val *v);
/* JSON value -> interface{}-typed Go value (maps sorted by key). */
xllm_status gt_from_json(gt_arena *a, const json_t *j, gt_val *out);
/* Map lookup (sorted); returns 1 when found. */
int gt_map_get(const gt_val *m, const char *key, size_t n, gt_val *out);
/* Zero value of a map's element type (interface{}: GV_NIL). */
gt_val gt_zero_elem(gt_arena *a, const gt_type *map_type);
xllm_status gt_map_build(gt_arena *a, int n, const char **keys, const gt_val *vals, const gt_type *type,
                         gt_val *out); /* sorts; later duplicates win */

/* ---- formatting (Go's fmt and encoding/json) ---- */
/* fmt.Fprint of one operand (%v), with String() methods. */
xllm_status gt_print(xllm_buf *out, const gt_val *v);
/* fmt.Sprint(args...) / Sprintln. */
xllm_status gt_sprint(xllm_buf *out, const gt_val *args, int n, int ln);
/* fmt.Sprintf. */
xllm_status gt_sprintf(xllm_buf *out, const char *fmt, size_t fmt_len, const gt_val *args, int n);
/* json.Marshal (HTML-escaped, map keys sorted, struct tags honoured). */
xllm_status gt_json(xllm_buf *out, const gt_val *v);
/* strconv.FormatFloat(f, 'g', -1, 64) */
void gt_format_float_g(char *dst, size_t cap, double f);
/* unicode.IsPrint (approximated outside ASCII) and one UTF-8 rune (-1: invalid). */
int gt_is_print(long r);
int gt_utf8_decode(const char *s, size_t n, long *cp);
/* Go's strconv.Quote */
xllm_status gt_quote(xllm_buf *out, const char *s, size_t n);

/* ---- execution ---- */
typedef struct gt_exec_opts {
    int no_extra_funcs; /* Ollama's last legacy turn runs without its functions */
    int no_defines;     /* ... and without the defined templates */
    int missing_invalid; /* ... and with missingkey's default: a missing key is no value */
} gt_exec_opts;

xllm_status gt_execute(const xllm_gotmpl *t, const gt_list *root, gt_arena *a, const gt_val *data,
                       const gt_exec_opts *opts, xllm_buf *out);
/* "line:col" prefix helper for messages */
xllm_status gt_fail_at(const xllm_gotmpl *t, int pos, xllm_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Go's builtin functions and the ones Ollama's template package adds (json,
 * currentDate, yesterdayDate, toTypeScriptType). */
typedef enum gt_func {
    GF_AND, GF_OR, GF_NOT, GF_LEN, GF_INDEX, GF_SLICE, GF_EQ, GF_NE, GF_LT, GF_LE, GF_GT, GF_GE,
    GF_PRINT, GF_PRINTF, GF_PRINTLN, GF_HTML, GF_JS, GF_URLQUERY, GF_CALL,
    GF_JSON, GF_CURRENT_DATE, GF_YESTERDAY_DATE, GF_TS_TYPE,
    GF_COUNT
} gt_func;
/* The gt_func of a function name, -1 when there is none. */
int gt_func_id(const char *name, size_t n);

#endif
