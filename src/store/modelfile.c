/* modelfile.c - the Modelfile parser and Ollama's parameter table. */
#include "store/modelfile.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/limits.h"

/* Every parameter Ollama's api.Options / Runner accepts (including the ones
 * newer Ollama versions still parse but ignore), with its type. */
static const struct {
    const char *name;
    xllm_param_type type;
} params[] = {
    {"num_keep", XLLM_PARAM_INT},         {"seed", XLLM_PARAM_INT},
    {"num_predict", XLLM_PARAM_INT},      {"top_k", XLLM_PARAM_INT},
    {"top_p", XLLM_PARAM_FLOAT},          {"min_p", XLLM_PARAM_FLOAT},
    {"typical_p", XLLM_PARAM_FLOAT},      {"repeat_last_n", XLLM_PARAM_INT},
    {"temperature", XLLM_PARAM_FLOAT},    {"repeat_penalty", XLLM_PARAM_FLOAT},
    {"presence_penalty", XLLM_PARAM_FLOAT}, {"frequency_penalty", XLLM_PARAM_FLOAT},
    {"stop", XLLM_PARAM_STRINGS},         {"tfs_z", XLLM_PARAM_FLOAT},
    {"mirostat", XLLM_PARAM_INT},         {"mirostat_tau", XLLM_PARAM_FLOAT},
    {"mirostat_eta", XLLM_PARAM_FLOAT},   {"penalize_newline", XLLM_PARAM_BOOL},
    {"num_ctx", XLLM_PARAM_INT},          {"num_batch", XLLM_PARAM_INT},
    {"num_gpu", XLLM_PARAM_INT},          {"main_gpu", XLLM_PARAM_INT},
    {"low_vram", XLLM_PARAM_BOOL},        {"f16_kv", XLLM_PARAM_BOOL},
    {"logits_all", XLLM_PARAM_BOOL},      {"vocab_only", XLLM_PARAM_BOOL},
    {"use_mmap", XLLM_PARAM_BOOL},        {"use_mlock", XLLM_PARAM_BOOL},
    {"num_thread", XLLM_PARAM_INT},       {"numa", XLLM_PARAM_BOOL},
    {"num_gqa", XLLM_PARAM_INT},          {"rope_frequency_base", XLLM_PARAM_FLOAT},
    {"rope_frequency_scale", XLLM_PARAM_FLOAT},
};

int xllm_param_type_of(const char *name)
{
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (!strcmp(params[i].name, name))
            return (int)params[i].type;
    return -1;
}

static int parse_bool(const char *v, int *out)
{
    static const char *t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (int i = 0; i < 6; i++) {
        if (!strcmp(v, t[i]))
            return *out = 1, 1;
        if (!strcmp(v, f[i]))
            return *out = 0, 1;
    }
    return 0;
}

xllm_status xllm_params_set(void *obj, const char *name, const char *value)
{
    json_t *o = obj, *arr;
    int type = xllm_param_type_of(name), b;
    char *end;
    if (type < 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "unknown parameter '%s'", name);
    errno = 0;
    switch ((xllm_param_type)type) {
    case XLLM_PARAM_INT: {
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno == ERANGE)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "parameter %s wants an integer, not '%s'", name, value);
        json_object_set_new(o, name, json_integer(v));
        return XLLM_OK;
    }
    case XLLM_PARAM_FLOAT: {
        double v = strtod(value, &end);
        if (!*value || *end || errno == ERANGE || !isfinite(v) || fabs(v) > 3.4e38)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "parameter %s wants a number, not '%s'", name, value);
        json_object_set_new(o, name, json_real(v));
        return XLLM_OK;
    }
    case XLLM_PARAM_BOOL:
        if (!parse_bool(value, &b))
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "parameter %s wants true or false, not '%s'", name, value);
        json_object_set_new(o, name, json_boolean(b));
        return XLLM_OK;
    case XLLM_PARAM_STRINGS:
        arr = json_object_get(o, name);
        if (!json_is_array(arr)) {
            arr = json_array();
            json_object_set_new(o, name, arr);
        }
        json_array_append_new(arr, json_string(value));
        return XLLM_OK;
    }
    return XLLM_ERR_INTERNAL;
}

/* ---- parsing ------------------------------------------------------------------ */

typedef struct cursor {
    const char *p, *end;
    int line;
    const char *label;
} cursor;

static xllm_status perr(const cursor *c, int line, const char *fmt, const char *arg)
{
    return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s:%d: %s%s", c->label, line, fmt, arg ? arg : "");
}

static void skip_blanks(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static char *trimmed(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return xllm_strndup(s, n);
}

/* A value: """...""", "..." or the rest of the line. */
static xllm_status read_value(cursor *c, int line, char **out)
{
    *out = NULL;
    skip_blanks(c);
    if (c->end - c->p >= 3 && !memcmp(c->p, "\"\"\"", 3)) {
        const char *start = c->p + 3, *q = start;
        while (q + 3 <= c->end && memcmp(q, "\"\"\"", 3) != 0) {
            if (*q == '\n')
                c->line++;
            q++;
        }
        if (q + 3 > c->end)
            return perr(c, line, "unterminated \"\"\" string (opened here)", NULL);
        *out = xllm_strndup(start, (size_t)(q - start));
        c->p = q + 3;
    } else if (c->p < c->end && *c->p == '"') {
        xllm_buf b;
        xllm_buf_init(&b, 0);
        c->p++;
        while (c->p < c->end && *c->p != '"' && *c->p != '\n') {
            char ch = *c->p++;
            if (ch == '\\' && c->p < c->end && (*c->p == '"' || *c->p == '\\'))
                ch = *c->p++;
            if (xllm_buf_append(&b, &ch, 1) != XLLM_OK) {
                xllm_buf_free(&b);
                return XLLM_ERR_OUT_OF_MEMORY;
            }
        }
        if (c->p >= c->end || *c->p != '"') {
            xllm_buf_free(&b);
            return perr(c, line, "unterminated \"quoted\" string", NULL);
        }
        c->p++;
        *out = b.data ? xllm_buf_take(&b) : xllm_strdup("");
    } else {
        const char *start = c->p;
        while (c->p < c->end && *c->p != '\n')
            c->p++;
        *out = trimmed(start, (size_t)(c->p - start));
    }
    if (!*out)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    /* after a quoted value, only blanks until the end of the line */
    skip_blanks(c);
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p < c->end && *c->p != '\n') {
        xllm_free(*out);
        *out = NULL;
        return perr(c, line, "unexpected text after the closing quote", NULL);
    }
    return XLLM_OK;
}

/* A word (PARAMETER name, MESSAGE role). */
static char *read_word(cursor *c)
{
    const char *start;
    skip_blanks(c);
    start = c->p;
    while (c->p < c->end && !isspace((unsigned char)*c->p))
        c->p++;
    return c->p > start ? xllm_strndup(start, (size_t)(c->p - start)) : NULL;
}

static const struct {
    const char *word;
    xllm_mf_kind kind;
} instructions[] = {
    {"from", XLLM_MF_FROM},       {"parameter", XLLM_MF_PARAMETER}, {"template", XLLM_MF_TEMPLATE},
    {"system", XLLM_MF_SYSTEM},   {"adapter", XLLM_MF_ADAPTER},     {"license", XLLM_MF_LICENSE},
    {"message", XLLM_MF_MESSAGE},
};

static xllm_status add_cmd(xllm_modelfile *mf, xllm_mf_cmd *cmd)
{
    xllm_mf_cmd *v;
    if (mf->n >= XLLM_MODELFILE_MAX_COMMANDS)
        return xllm_fail(XLLM_ERR_LIMIT, "%s: more than %d instructions", mf->label, XLLM_MODELFILE_MAX_COMMANDS);
    v = xllm_realloc(mf->cmds, (mf->n + 1) * sizeof *v);
    if (!v)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    mf->cmds = v;
    v[mf->n++] = *cmd;
    return XLLM_OK;
}

static xllm_status check_cmd(const cursor *c, xllm_mf_cmd *cmd, void *scratch_params)
{
    if (cmd->kind == XLLM_MF_PARAMETER) {
        xllm_status st;
        for (char *q = cmd->name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        st = xllm_params_set(scratch_params, cmd->name, cmd->value);
        if (st != XLLM_OK)
            return xllm_fail_wrap(st, "%s:%d: PARAMETER", c->label, cmd->line);
    }
    if (cmd->kind == XLLM_MF_MESSAGE && strcmp(cmd->name, "system") != 0 && strcmp(cmd->name, "user") != 0 &&
        strcmp(cmd->name, "assistant") != 0)
        return perr(c, cmd->line, "MESSAGE role must be system, user or assistant, not ", cmd->name);
    if ((cmd->kind == XLLM_MF_FROM || cmd->kind == XLLM_MF_ADAPTER) && !cmd->value[0])
        return perr(c, cmd->line, cmd->kind == XLLM_MF_FROM ? "FROM needs a model" : "ADAPTER needs a file", NULL);
    return XLLM_OK;
}

static xllm_status parse_line(cursor *c, xllm_modelfile *mf, json_t *scratch, int *n_from)
{
    const char *w = c->p;
    int line = c->line, k = -1;
    size_t wl;
    xllm_mf_cmd cmd;
    xllm_status st;
    while (c->p < c->end && (isalpha((unsigned char)*c->p)))
        c->p++;
    wl = (size_t)(c->p - w);
    for (size_t i = 0; i < sizeof instructions / sizeof instructions[0]; i++)
        if (wl == strlen(instructions[i].word) && !strncasecmp(w, instructions[i].word, wl))
            k = (int)i;
    if (k < 0 || (c->p < c->end && !isspace((unsigned char)*c->p))) {
        char word[40];
        snprintf(word, sizeof word, "%.*s", (int)(wl ? (wl > 30 ? 30 : wl) : 1), w);
        return perr(c, line,
                    "unknown instruction (want FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE or MESSAGE): ",
                    word);
    }
    memset(&cmd, 0, sizeof cmd);
    cmd.kind = instructions[k].kind;
    cmd.line = line;
    if (cmd.kind == XLLM_MF_PARAMETER || cmd.kind == XLLM_MF_MESSAGE) {
        cmd.name = read_word(c);
        if (!cmd.name)
            return perr(c, line, cmd.kind == XLLM_MF_PARAMETER ? "PARAMETER needs a name and a value"
                                                                : "MESSAGE needs a role and a text", NULL);
    }
    st = read_value(c, line, &cmd.value);
    if (st == XLLM_OK && cmd.kind == XLLM_MF_PARAMETER && !cmd.value[0])
        st = perr(c, line, "PARAMETER needs a value: ", cmd.name);
    if (st == XLLM_OK)
        st = check_cmd(c, &cmd, scratch);
    if (st == XLLM_OK && cmd.kind == XLLM_MF_FROM && ++*n_from > 1)
        st = perr(c, line, "a second FROM (a Modelfile has one)", NULL);
    if (st == XLLM_OK)
        st = add_cmd(mf, &cmd);
    if (st != XLLM_OK) {
        xllm_free(cmd.name);
        xllm_free(cmd.value);
    }
    return st;
}

xllm_status xllm_modelfile_parse(const char *text, size_t len, const char *label, xllm_modelfile *out)
{
    cursor c = {text, text + len, 1, label ? label : "Modelfile"};
    json_t *scratch = json_object();
    xllm_status st = XLLM_OK;
    int n_from = 0;
    memset(out, 0, sizeof *out);
    out->label = xllm_strdup(c.label);
    if (!out->label || !scratch) {
        json_decref(scratch);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "no memory");
    }
    c.label = out->label;
    if (len > XLLM_MODELFILE_MAX_BYTES)
        st = xllm_fail(XLLM_ERR_LIMIT, "%s: larger than %u bytes", c.label, XLLM_MODELFILE_MAX_BYTES);
    while (st == XLLM_OK && c.p < c.end) {
        skip_blanks(&c);
        if (c.p < c.end && *c.p == '#')
            while (c.p < c.end && *c.p != '\n')
                c.p++;
        else if (c.p < c.end && *c.p != '\n' && *c.p != '\r')
            st = parse_line(&c, out, scratch, &n_from);
        while (st == XLLM_OK && c.p < c.end && (*c.p == '\r' || *c.p == '\n')) {
            if (*c.p == '\n')
                c.line++;
            c.p++;
        }
    }
    if (st == XLLM_OK && n_from == 0)
        st = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: no FROM line (say which model to build on)", c.label);
    json_decref(scratch);
    if (st != XLLM_OK)
        xllm_modelfile_free(out);
    return st;
}

void xllm_modelfile_free(xllm_modelfile *mf)
{
    for (size_t i = 0; i < mf->n; i++) {
        xllm_free(mf->cmds[i].name);
        xllm_free(mf->cmds[i].value);
    }
    xllm_free(mf->cmds);
    xllm_free(mf->label);
    memset(mf, 0, sizeof *mf);
}

xllm_status xllm_modelfile_quote(xllm_buf *b, const char *v, int triple)
{
    size_t n = strlen(v);
    int multi = strchr(v, '\n') || (n && (v[0] == ' ' || v[n - 1] == ' ')) || (n && v[0] == '"');
    if (triple || (multi && strchr(v, '"')) || strchr(v, '\n'))
        return xllm_buf_printf(b, "\"\"\"%s\"\"\"", v);
    if (multi)
        return xllm_buf_printf(b, "\"%s\"", v);
    return xllm_buf_puts(b, v);
}
