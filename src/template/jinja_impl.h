/* jinja_impl.h - internals of the Jinja2 interpreter shared by its files: the arena,
 * values (Python semantics), tokens, the syntax tree and the render context.
 * Everything a parse or a render allocates lives in one arena freed at the end, so
 * values are plain structs copied by value with no reference counts. */
#ifndef XLLM_TEMPLATE_JINJA_IMPL_H
#define XLLM_TEMPLATE_JINJA_IMPL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"
#include "template/jinja.h"

/* ---- arena (jinja_value.c) ---- */
typedef struct jarena_chunk jarena_chunk;
typedef struct jarena {
    jarena_chunk *head;
    size_t used;  /* bytes handed out, all chunks */
    size_t limit; /* cap on used */
} jarena;

void jarena_init(jarena *a, size_t limit);
void jarena_free(jarena *a);
/* NULL (with the error set) when out of memory or over the cap. */
void *jarena_alloc(jarena *a, size_t n);
char *jarena_strndup(jarena *a, const char *s, size_t n);

/* ---- values ---- */
typedef enum jv_type {
    JV_UNDEF,
    JV_NONE,
    JV_BOOL,
    JV_INT,
    JV_FLOAT,
    JV_STR,
    JV_LIST,   /* also tuples (flag JV_F_TUPLE) */
    JV_DICT,
    JV_NS,     /* namespace(): a dict with attribute access and assignment */
    JV_MACRO,
    JV_FUNC,   /* global function (range, namespace, raise_exception, ...) */
    JV_METHOD, /* bound method of a str / list / dict / loop / cycler */
    JV_LOOP,
    JV_CYCLER,
    JV_JOINER
} jv_type;

#define JV_F_TUPLE 1u
#define JV_F_GEN 2u     /* a generator in Python (map, select, ...): printing it is refused */
#define JV_F_KEYS 4u    /* dict.keys() view: prints as dict_keys([...]) */
#define JV_F_VALUES 8u  /* dict.values() */
#define JV_F_ITEMS 16u  /* dict.items() */

typedef struct jlist jlist;
typedef struct jdict jdict;
typedef struct jv jv;

struct jv {
    uint8_t type;
    uint8_t flags;
    uint16_t id; /* JV_FUNC / JV_METHOD: which function */
    union {
        int b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t n;
        } s;        /* JV_STR; JV_UNDEF: the name or hint for messages (may be NULL) */
        jlist *l;
        jdict *d;   /* JV_DICT, JV_NS */
        void *ptr;  /* JV_MACRO (jmacro), JV_LOOP (jloop), JV_CYCLER, JV_JOINER */
        jv *self;   /* JV_METHOD: the bound object */
    } u;
};

struct jlist {
    jv *v;
    size_t n, cap;
};

struct jdict {
    jv *k, *v;
    size_t n, cap;
};

jv jv_undef(const char *hint);
jv jv_none(void);
jv jv_bool(int b);
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_str(const char *p, size_t n);
jv jv_cstr(const char *s);

typedef struct jctx jctx;

jlist *jlist_new(jctx *c, size_t cap);
xllm_status jlist_push(jctx *c, jlist *l, jv v);
jdict *jdict_new(jctx *c, size_t cap);
xllm_status jdict_set(jctx *c, jdict *d, jv k, jv v);
/* NULL when absent. */
jv *jdict_get(const jdict *d, jv k);
jv *jdict_get_str(const jdict *d, const char *k, size_t n);

xllm_status jv_from_json(jctx *c, const json_t *j, jv *out);
int jv_truthy(jv v);
int jv_equal(jv a, jv b);
/* Python ordering; XLLM_ERR_INVALID_ARGUMENT for types Python cannot order. */
xllm_status jv_compare(jctx *c, jv a, jv b, int *cmp);
const char *jv_type_name(jv v); /* Python's type name: 'str', 'dict', ... */
int jv_is_number(jv v);         /* int, float or bool */
double jv_num(jv v);
/* Python str() / repr() appended to b. */
xllm_status jv_str_append(jctx *c, jv v, xllm_buf *b);
xllm_status jv_repr_append(jctx *c, jv v, xllm_buf *b);
/* json.dumps(v, ensure_ascii, indent, separators, sort_keys); indent: the string per
 * level, NULL for one line; separators NULL for json.dumps' defaults. */
xllm_status jv_tojson(jctx *c, jv v, const char *indent, const char *item_sep, const char *key_sep,
                      int sort_keys, int ascii, xllm_buf *b);
/* str(v) as a string value in the arena (strings are returned as is). */
xllm_status jv_to_str(jctx *c, jv v, jv *out);
void jfloat_repr(double f, char *buf, size_t cap);
/* Number of code points of UTF-8 text; byte offset of code point i. */
size_t utf8_count(const char *p, size_t n);
size_t utf8_offset(const char *p, size_t n, size_t cp);

/* ---- tokens (jinja_lex.c) ---- */
typedef enum jtok_type {
    JT_EOF,
    JT_TEXT,        /* template data between tags (already whitespace-controlled) */
    JT_VAR_BEGIN,   /* {{ */
    JT_VAR_END,     /* }} */
    JT_BLOCK_BEGIN, /* {% */
    JT_BLOCK_END,   /* %} */
    JT_NAME,
    JT_STRING,      /* decoded value in s/n */
    JT_INT,
    JT_FLOAT,
    JT_OP           /* operator text in s/n */
} jtok_type;

typedef struct jtok {
    uint8_t type;
    int line, col;
    const char *s; /* text (arena or source) */
    size_t n;
    int64_t i;
    double f;
} jtok;

typedef struct jtoks {
    jtok *t;
    size_t n, cap;
} jtoks;

/* Lex src (newlines already normalized, trailing newline removed) into toks. */
xllm_status jinja_lex(jarena *a, const char *src, size_t len, jtoks *toks);

/* ---- syntax tree (jinja_parse.c) ---- */
typedef enum jn_kind {
    /* statements */
    JN_TEXT,
    JN_OUTPUT,
    JN_IF,       /* a: cond, body, c: else (a JN_IF for elif, or a body list) */
    JN_FOR,      /* targets (names), a: iter, b: filter cond, body, c: else body */
    JN_SET,      /* a: target, b: value */
    JN_SETBLOCK, /* a: target, filters: b (a JN_FILTER chain on JN_CAPTURE), body */
    JN_MACRO,    /* name, params (names) + defaults (args), body */
    JN_CALLBLOCK,/* a: call expression, params/defaults: caller's, body */
    JN_FILTERBLOCK, /* b: filter chain applied to the body text */
    JN_BREAK,
    JN_CONTINUE,
    JN_WITH,     /* targets + args: assignments, body */
    JN_GENERATION,
    /* expressions */
    JN_LITERAL,  /* lit */
    JN_NAME,     /* name */
    JN_CAPTURE,  /* placeholder for the captured body in block filters */
    JN_GETATTR,  /* a . name */
    JN_GETITEM,  /* a [ b ] */
    JN_SLICE,    /* a [ b : c : d ] (any may be NULL) */
    JN_CALL,     /* a ( args, kwnames/kwargs ) */
    JN_FILTER,   /* a | name(args) ; a NULL in a filter block */
    JN_TEST,     /* a is [not] name(args); op = negated */
    JN_UNARY,    /* op: '-', '+', 'n' (not) */
    JN_BINARY,   /* op: + - * / F(//) % P(**) ~ */
    JN_AND,
    JN_OR,
    JN_COMPARE,  /* a, then ops[i] against args[i] */
    JN_COND,     /* b if a else c */
    JN_LIST,
    JN_TUPLE,
    JN_DICT      /* args: k0, v0, k1, v1, ... */
} jn_kind;

/* compare ops */
enum { JC_EQ, JC_NE, JC_LT, JC_LE, JC_GT, JC_GE, JC_IN, JC_NOTIN };

typedef struct jnode jnode;
struct jnode {
    uint8_t kind;
    uint8_t op;
    int line, col;
    jnode *next;        /* next statement in a body */
    jnode *a, *b, *c, *d;
    jnode *body;
    jnode **args;       /* positional args / list items / dict k,v / defaults */
    size_t nargs;
    const char **kwnames; /* keyword names, parallel to kwargs */
    size_t *kwlens;
    jnode **kwargs;
    size_t nkw;
    const char *name;   /* JN_NAME, JN_GETATTR, JN_FILTER, JN_TEST, JN_MACRO; JN_TEXT text */
    size_t name_len;
    const char **names; /* JN_FOR targets, JN_MACRO params, JN_WITH targets */
    size_t *name_lens;
    size_t nnames;
    uint8_t *ops;       /* JN_COMPARE */
    int filter_id;      /* JN_FILTER / JN_TEST: table index */
    int recursive;
    jv lit;
};

xllm_status jinja_parse_tokens(jarena *a, const jtoks *toks, jnode **root);

/* ---- render (jinja_eval.c) ---- */
typedef struct jscope jscope;
struct jscope {
    jscope *parent;
    const char **names;
    size_t *lens;
    jv *vals;
    size_t n, cap;
    int captured; /* a macro closure refers to this scope: never reuse it */
};

typedef struct jmacro {
    const jnode *def;
    jscope *closure;
    const jnode *caller_body; /* set for the `caller` macro of a call block */
} jmacro;

typedef struct jloop {
    jlist *items;
    size_t index; /* 0-based */
    int depth;
    jv last_changed;
    int has_changed;
} jloop;

struct jctx {
    jarena arena;
    xllm_buf *out;
    size_t out_base;     /* out->len when this render (or capture) began */
    jv capture;          /* the captured body a block filter applies to */
    const char *src;     /* template source, for messages */
    uint64_t steps;
    int depth;
    int ctrl;            /* 0, JCTRL_BREAK, JCTRL_CONTINUE */
    jscope *globals;
    const jnode *where;  /* node being evaluated, for error positions */
};

enum { JCTRL_NONE, JCTRL_BREAK, JCTRL_CONTINUE };

/* Fail with "line L, column C: <message>" at the current node. */
xllm_status jerr(jctx *c, xllm_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
xllm_status jinja_eval(jctx *c, const jnode *n, jscope *sc, jv *out);
/* Call a callable value (macro, function, method) with evaluated args. */
xllm_status jinja_call(jctx *c, jv fn, jv *args, size_t nargs, const char **kwn, const size_t *kwl, jv *kwv,
                       size_t nkw, jv *out);

/* ---- filters, tests (jinja_filters.c), methods and globals (jinja_methods.c) ---- */
int jinja_filter_find(const char *name, size_t n); /* -1 when Jinja has no such filter */
int jinja_test_find(const char *name, size_t n);
/* kwargs are passed as (name, value) arrays. */
typedef struct jargs {
    jv *pos;
    size_t npos;
    const char **kwn;
    const size_t *kwl;
    jv *kwv;
    size_t nkw;
} jargs;
xllm_status jinja_filter_apply(jctx *c, int id, jv v, const jargs *a, jscope *sc, jv *out);
xllm_status jinja_test_apply(jctx *c, int id, jv v, const jargs *a, int *out);
/* Bind v.name: a method of str / list / dict / loop, or 0 when there is none. */
int jinja_method_find(jv v, const char *name, size_t n, jv *out);
xllm_status jinja_method_call(jctx *c, jv m, const jargs *a, jv *out);
int jinja_global_find(const char *name, size_t n, jv *out);
xllm_status jinja_global_call(jctx *c, jv f, const jargs *a, jv *out);
/* Argument i (positional) or keyword kw; NULL when absent. */
jv *jargs_get(const jargs *a, size_t i, const char *kw);
/* Item access obj[key] with Jinja's getitem-then-getattr rule. */
xllm_status jinja_getitem(jctx *c, jv obj, jv key, jv *out);
xllm_status jinja_getattr(jctx *c, jv obj, const char *name, size_t n, jv *out);
/* A list of the items iterating v yields (dict: keys, str: characters). */
xllm_status jinja_iterate(jctx *c, jv v, jlist **out);
xllm_status jinja_check_step(jctx *c);

#endif
