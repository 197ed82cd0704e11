/* json_schema_impl.h - internals of the schema converter shared by
 * json_schema.c (schema walk, objects, arrays, combinators, $ref) and
 * json_schema_str.c (literals, strings, formats, patterns, integer ranges). */
#ifndef XLLM_RUNTIME_JSON_SCHEMA_IMPL_H
#define XLLM_RUNTIME_JSON_SCHEMA_IMPL_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

typedef struct jc_ref {
    char *ref;
    int rule;
} jc_ref;

typedef struct jconv {
    const json_t *doc;
    xllm_buf rules;     /* rule definitions written so far */
    unsigned flags;
    int n_rules;
    char path[512];     /* JSON pointer of the schema being converted */
    size_t path_len;
    int depth;
    jc_ref *refs;
    size_t n_refs, cap_refs;
} jconv;

/* Fails with "schema PATH: message". */
xllm_status jc_fail(jconv *c, xllm_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write "rN ::= body" and return N in *rule. */
xllm_status jc_rule(jconv *c, const char *body, int *rule);
/* Path segments: push returns the old length to pop back to. */
size_t jc_push(jconv *c, const char *seg);
void jc_pop(jconv *c, size_t len);

/* GBNF literal of n bytes (quoted, escaped). */
xllm_status jc_literal(xllm_buf *b, const char *s, size_t n);
/* GBNF literal of a JSON value in its compact form. */
xllm_status jc_value_literal(jconv *c, xllm_buf *b, const json_t *v);
/* {"type": "string", ...}: minLength/maxLength, pattern, format. */
xllm_status jc_string(jconv *c, const json_t *s, xllm_buf *b);
/* Integers in [lo, hi]; has_lo / has_hi 0 = unbounded on that side. */
xllm_status jc_int_range(jconv *c, xllm_buf *b, int has_lo, int64_t lo, int has_hi, int64_t hi);

/* Names of the shared rules every converted grammar carries. */
#define JC_VALUE "value"
#define JC_STRING "string"
#define JC_CHAR "char"
#define JC_NUMBER "number"
#define JC_INTEGER "integer"
#define JC_OBJECT "object"
#define JC_ARRAY "array"
#define JC_SP "sp"
/* The shared rules' text (flags: XLLM_JSON_SPACE). */
xllm_status jc_write_common(jconv *c);

#endif
