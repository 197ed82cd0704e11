/* json_schema.h - JSON Schema (a jansson value) -> GBNF text for the grammar
 * engine (grammar.h). The grammar generates a subset of the schema's
 * instances, always valid ones: compact JSON (no whitespace, or one optional
 * space after ':' and ',' with XLLM_JSON_SPACE), properties in declared order,
 * only declared properties when there are any. What cannot be expressed
 * (uniqueItems, multipleOf, not, if/then/else, remote $ref, ...) is refused
 * with XLLM_ERR_UNSUPPORTED naming the schema path, never ignored; a schema
 * that no value can satisfy gives XLLM_ERR_INVALID_ARGUMENT.
 * docs/architecture.md lists what is supported and refused.
 *
 * Ownership: *gbnf is a NUL-terminated heap string the caller frees with
 * xllm_free. Threading: no shared state. */
#ifndef XLLM_RUNTIME_JSON_SCHEMA_H
#define XLLM_RUNTIME_JSON_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "base/status.h"

enum {
    XLLM_JSON_SPACE = 1 /* allow one optional space after ':' and ',' */
};

/* schema: a JSON object or boolean (true = any JSON value). The start rule
 * is "root". */
xllm_status xllm_json_schema_to_gbnf(const json_t *schema, unsigned flags, char **gbnf, size_t *len);
/* "json_object" mode: any JSON object (values of any type). */
xllm_status xllm_json_object_gbnf(unsigned flags, char **gbnf, size_t *len);

#endif
