/* modelfile.h - Ollama's Modelfile: parsing, parameter validation, and
 * writing one back (`xllm show --modelfile`).
 *
 *   # comment
 *   FROM <model name | GGUF path | Hugging Face directory | sha256:<hex>>
 *   PARAMETER <name> <value>      every Ollama parameter, checked by type
 *   TEMPLATE <text>               SYSTEM <text>   LICENSE <text>
 *   ADAPTER <path | sha256:<hex>> MESSAGE <system|user|assistant> <text>
 *
 * Instructions are case-insensitive. A value is the rest of the line, a
 * "quoted string" (\" and \\ escapes) or a """multi-line string""". Errors
 * name the file and line ("Modelfile:7: ..."), XLLM_ERR_INVALID_ARGUMENT.
 * Ownership: xllm_modelfile owns its commands and strings
 * (xllm_modelfile_free). No threading rules. */
#ifndef XLLM_STORE_MODELFILE_H
#define XLLM_STORE_MODELFILE_H

#include <stddef.h>

#include "base/buf.h"
#include "base/status.h"

typedef enum xllm_mf_kind {
    XLLM_MF_FROM,
    XLLM_MF_PARAMETER,
    XLLM_MF_TEMPLATE,
    XLLM_MF_SYSTEM,
    XLLM_MF_ADAPTER,
    XLLM_MF_LICENSE,
    XLLM_MF_MESSAGE,
} xllm_mf_kind;

typedef struct xllm_mf_cmd {
    xllm_mf_kind kind;
    int line;    /* 1-based line of the instruction */
    char *name;  /* PARAMETER name (lowercase) or MESSAGE role; else NULL */
    char *value;
} xllm_mf_cmd;

typedef struct xllm_modelfile {
    xllm_mf_cmd *cmds;
    size_t n;
    char *label; /* file name used in messages */
} xllm_modelfile;

/* label: what errors call the file ("Modelfile" or its path). Checks every
 * PARAMETER and MESSAGE, and that there is exactly one FROM. */
xllm_status xllm_modelfile_parse(const char *text, size_t len, const char *label, xllm_modelfile *out);
void xllm_modelfile_free(xllm_modelfile *mf);

typedef enum xllm_param_type { XLLM_PARAM_INT, XLLM_PARAM_FLOAT, XLLM_PARAM_BOOL, XLLM_PARAM_STRINGS } xllm_param_type;

/* The type of an Ollama parameter name; -1 when there is no such parameter. */
int xllm_param_type_of(const char *name);

/* Set name = value (text as in a Modelfile) in a jansson object (json_t *),
 * validated by type; "stop" values accumulate into an array. The message
 * (no file/line) says what is wrong. */
xllm_status xllm_params_set(void *params_json_object, const char *name, const char *value);

/* Append a value as a Modelfile argument: bare when it is one line without
 * leading/trailing space, else "quoted" or """triple-quoted""" (always
 * triple when triple is set). */
xllm_status xllm_modelfile_quote(xllm_buf *b, const char *value, int triple);

#endif
