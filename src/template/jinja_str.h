/* jinja_str.h - Python str operations on UTF-8 values for the Jinja2 interpreter
 * (case mapping, strip, split, replace, splitlines, character classes). Results live
 * in the render arena; substrings may point into the input. */
#ifndef XLLM_TEMPLATE_JINJA_STR_H
#define XLLM_TEMPLATE_JINJA_STR_H

#include "template/jinja_impl.h"

enum { JCASE_UPPER, JCASE_LOWER, JCASE_PYTITLE, JCASE_CAPITALIZE, JCASE_JINJA_TITLE };
enum { JCLS_DIGIT, JCLS_ALPHA, JCLS_ALNUM, JCLS_SPACE, JCLS_UPPER, JCLS_LOWER };

int jcp_isspace(int32_t cp);
xllm_status jstr_case(jctx *c, jv s, int mode, jv *out);
/* mode: 1 left, 2 right, 3 both; chars NULL: whitespace. */
jv jstr_strip(jv s, const jv *chars, int mode);
xllm_status jstr_split(jctx *c, jv s, const jv *sep, int64_t maxsplit, int from_right, jv *out);
xllm_status jstr_replace(jctx *c, jv s, jv old, jv new_, int64_t count, jv *out);
int64_t jstr_count(jv s, jv sub);
int64_t jstr_find(jv s, jv sub, int last); /* code point index, -1 */
xllm_status jstr_join(jctx *c, const jlist *items, jv sep, jv *out);
xllm_status jstr_splitlines(jctx *c, jv s, int keepends, jv *out);
int jstr_is(jv s, int cls);
xllm_status jstr_zfill(jctx *c, jv s, int64_t width, jv *out);

#endif
