/* chat_template.c - chat rendering for every request: dialect detection (Go or
 * Jinja2), the model's template from its GGUF / HF metadata, and the special-token
 * variables from its vocabulary. */
#include "template/chat_template.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "template/gotmpl.h"
#include "template/jinja.h"

struct xllm_chat_template {
    xllm_jinja *jinja;  /* one of the two is set */
    xllm_gotmpl *go;
};

xllm_status xllm_chat_template_new(const char *src, size_t len, xllm_chat_template **out)
{
    xllm_status rc = XLLM_ERR_OUT_OF_MEMORY;
    xllm_chat_template *t = xllm_calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        return xllm_fail(rc, "out of memory for a chat template");
    if (xllm_gotmpl_detect(src, len))
        rc = xllm_gotmpl_parse(src, len, &t->go);
    else
        rc = xllm_jinja_parse(src, len, &t->jinja);
    if (rc) {
        xllm_chat_template_free(t);
        return rc;
    }
    *out = t;
    return XLLM_OK;
}

void xllm_chat_template_free(xllm_chat_template *t)
{
    if (!t)
        return;
    xllm_jinja_free(t->jinja);
    xllm_gotmpl_free(t->go);
    xllm_free(t);
}

int xllm_chat_template_is_go(const xllm_chat_template *t) { return t->go != NULL; }

xllm_status xllm_chat_template_render(const xllm_chat_template *t, const json_t *chat, xllm_buf *out)
{
    if (!json_is_object(chat))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "chat must be a JSON object");
    if (t->go)
        return xllm_gotmpl_render_chat(t->go, chat, out);
    /* transformers always passes tools and documents (None when absent) and
     * add_generation_prompt (False): templates test `tools is not none` */
    static const char *const keys[] = {"tools", "documents", "add_generation_prompt"};
    json_t *vars = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        if (json_object_get(chat, keys[i]))
            continue;
        if (!vars && !(vars = json_copy((json_t *)chat)))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory copying a chat");
        if (json_object_set_new(vars, keys[i], i == 2 ? json_false() : json_null())) {
            json_decref(vars);
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory copying a chat");
        }
    }
    xllm_status st = xllm_jinja_render(t->jinja, vars ? vars : chat, out);
    json_decref(vars);
    return st;
}

xllm_status xllm_chat_template_source(const xllm_gguf *g, const char *name, xllm_str *out)
{
    char key[256];
    if (name)
        snprintf(key, sizeof key, "tokenizer.chat_template.%s", name);
    else
        snprintf(key, sizeof key, "tokenizer.chat_template");
    xllm_status st = xllm_gguf_get_str(g, key, out);
    if (st == XLLM_ERR_NOT_FOUND) {
        if (name)
            return xllm_fail(st, "%s: the model has no chat template named '%s' (no %s)", xllm_gguf_path(g), name,
                             key);
        return xllm_fail(st, "%s: the model has no chat template (no tokenizer.chat_template, "
                             "tokenizer_config.json chat_template or chat_template.jinja)", xllm_gguf_path(g));
    }
    return st;
}

xllm_status xllm_chat_template_add_special_tokens(const xllm_gguf *g, json_t *chat)
{
    static const char *const names[] = {"bos", "eos", "unk", "pad", "sep", "cls", "mask"};
    static const char *const ids[] = {"bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id",
                                      "seperator_token_id", "cls_token_id", "mask_token_id"};
    xllm_gguf_type at;
    uint64_t n_tokens = 0;
    int64_t tokens = xllm_gguf_find(g, "tokenizer.ggml.tokens");
    if (tokens < 0 || xllm_gguf_get_arr(g, "tokenizer.ggml.tokens", &at, &n_tokens) || at != XLLM_GGUF_STRING)
        return XLLM_OK;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char key[64], var[32];
        int64_t id;
        snprintf(var, sizeof var, "%s_token", names[i]);
        snprintf(key, sizeof key, "tokenizer.ggml.%s", ids[i]);
        if (json_object_get(chat, var) || xllm_gguf_get_i64(g, key, &id) != XLLM_OK)
            continue;
        if (id < 0 || (uint64_t)id >= n_tokens)
            continue;
        xllm_str s = xllm_gguf_arr_str(g, tokens, (uint64_t)id);
        json_t *v = json_stringn(s.ptr, s.len);
        if (!v) /* not UTF-8: a template could not use it either */
            continue;
        if (json_object_set_new(chat, var, v))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory adding %s", var);
    }
    xllm_clear_error();
    return XLLM_OK;
}
