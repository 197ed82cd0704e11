/* hf_import.c - a Hugging Face tokenizer directory (tokenizer.json +
 * tokenizer_config.json, or a SentencePiece tokenizer.model, or a BERT vocab.txt)
 * written into GGUF tokenizer metadata, exactly as the GGUF standard names it. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/base64.h"
#include "base/fs.h"
#include "base/limits.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tok_import.h"
#include "tokenizer/tok_internal.h"

#define KEY(s) "tokenizer.ggml." s
#define SP_SPACE "\xe2\x96\x81"

typedef struct imp {
    const char *dir;
    json_t *tj;  /* tokenizer.json */
    json_t *cfg; /* tokenizer_config.json (may be NULL) */
    const char *gmodel;
    int32_t n;
    char **tok;  /* [n] heap strings (may contain NUL: see tok_len) */
    uint64_t *tok_len;
    int32_t *type;
    float *score;
    char **merges;
    uint64_t *merge_len;
    size_t n_merges;
} imp;

static void imp_free(imp *m)
{
    for (int32_t i = 0; m->tok && i < m->n; i++)
        xllm_free(m->tok[i]);
    for (size_t i = 0; m->merges && i < m->n_merges; i++)
        xllm_free(m->merges[i]);
    xllm_free(m->tok);
    xllm_free(m->tok_len);
    xllm_free(m->type);
    xllm_free(m->score);
    xllm_free(m->merges);
    xllm_free(m->merge_len);
    json_decref(m->tj);
    json_decref(m->cfg);
}

xllm_status tok_json_load(const char *dir, const char *name, int required, json_t **out)
{
    char *path = xllm_path_join(dir, name);
    xllm_status rc = XLLM_OK;
    char *text = NULL;
    size_t len;
    *out = NULL;
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (!xllm_path_exists(path)) {
        if (required)
            rc = xllm_fail(XLLM_ERR_NOT_FOUND, "%s: no such file", path);
        goto out;
    }
    if ((rc = xllm_read_file(path, XLLM_MAX_JSON_FILE, &text, &len)))
        goto out;
    json_error_t err;
    /* configs carry integers past 64 bits (model_max_length: 1e30); nothing we read
     * from them is an integer, so read numbers as reals there */
    int flags = JSON_ALLOW_NUL | (strcmp(name, "tokenizer.json") ? JSON_DECODE_INT_AS_REAL : 0);
    *out = json_loadb(text, len, (size_t)flags, &err);
    if (!*out)
        rc = xllm_fail(XLLM_ERR_FORMAT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
out:
    xllm_free(text);
    xllm_free(path);
    return rc;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A config token entry: "text" or {"content": "text", ...}. */
static const char *token_content(json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_object(v))
        return jstr(v, "content");
    return NULL;
}

static int32_t find_token(const imp *m, const char *s)
{
    if (!s)
        return -1;
    size_t n = strlen(s);
    for (int32_t i = 0; i < m->n; i++)
        if (m->tok_len[i] == n && !memcmp(m->tok[i], s, n))
            return i;
    return -1;
}

static xllm_status set_token(imp *m, int64_t id, const char *s, size_t n)
{
    if (id < 0 || id >= m->n)
        return xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: token id %lld out of range", m->dir, (long long)id);
    if (n > XLLM_MAX_TOKEN_BYTES)
        return xllm_fail(XLLM_ERR_LIMIT, "%s/tokenizer.json: token %lld is %zu bytes", m->dir, (long long)id, n);
    char *c = xllm_malloc(n + 1);
    if (!c)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(c, s, n);
    c[n] = 0;
    xllm_free(m->tok[id]);
    m->tok[id] = c;
    m->tok_len[id] = n;
    return XLLM_OK;
}

/* ---- vocabulary ---- */

static int is_byte_token(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    return n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && strchr(hex, s[3]) && strchr(hex, s[4]) && s[3] &&
           s[4];
}

/* llama.cpp's "phantom space" form of a BERT vocabulary. */
static xllm_status bert_phantom(imp *m, int32_t id)
{
    const char *s = m->tok[id];
    size_t n = m->tok_len[id];
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        return XLLM_OK;
    if (n >= 2 && s[0] == '#' && s[1] == '#') {
        memmove(m->tok[id], s + 2, n - 1);
        m->tok_len[id] = n - 2;
        return XLLM_OK;
    }
    char *c = xllm_malloc(n + 4);
    if (!c)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(c, SP_SPACE, 3);
    memcpy(c + 3, s, n + 1);
    xllm_free(m->tok[id]);
    m->tok[id] = c;
    m->tok_len[id] = n + 3;
    return XLLM_OK;
}

static xllm_status read_vocab(imp *m, json_t *model, const char *mtype)
{
    json_t *vocab = json_object_get(model, "vocab");
    json_t *added = json_object_get(m->tj, "added_tokens");
    int unigram = !strcmp(mtype, "Unigram");
    int64_t max_id = -1;
    const char *k;
    json_t *v;
    size_t i;
    if (unigram ? !json_is_array(vocab) : !json_is_object(vocab))
        return xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: model.vocab is missing or malformed", m->dir);
    if (unigram)
        max_id = (int64_t)json_array_size(vocab) - 1;
    else
        json_object_foreach(vocab, k, v) if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    json_array_foreach(added, i, v) if (json_integer_value(json_object_get(v, "id")) > max_id) max_id =
        json_integer_value(json_object_get(v, "id"));
    if (max_id < 0 || max_id >= XLLM_MAX_VOCAB)
        return xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: vocabulary of %lld tokens", m->dir, (long long)max_id + 1);
    m->n = (int32_t)max_id + 1;
    m->tok = xllm_calloc((size_t)m->n, sizeof *m->tok);
    m->tok_len = xllm_calloc((size_t)m->n, sizeof *m->tok_len);
    m->type = xllm_malloc((size_t)m->n * sizeof *m->type);
    m->score = xllm_calloc((size_t)m->n, sizeof *m->score);
    if (!m->tok || !m->tok_len || !m->type || !m->score)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory for %d tokens", m->n);
    xllm_status st = XLLM_OK;
    if (unigram) {
        json_array_foreach(vocab, i, v) {
            json_t *p = json_array_get(v, 0);
            if (!json_is_string(p))
                return xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: unigram entry %zu malformed", m->dir, i);
            if ((st = set_token(m, (int64_t)i, json_string_value(p), json_string_length(p))))
                return st;
            m->score[i] = (float)json_number_value(json_array_get(v, 1));
        }
    } else {
        json_object_foreach(vocab, k, v) {
            if ((st = set_token(m, json_integer_value(v), k, strlen(k))))
                return st;
        }
    }
    for (int32_t id = 0; id < m->n; id++) {
        m->type[id] = XLLM_TOKEN_NORMAL;
        if (!m->tok[id]) { /* a gap in the ids */
            char pad[32];
            int n = snprintf(pad, sizeof pad, "[PAD%d]", id);
            if ((st = set_token(m, id, pad, (size_t)n)))
                return st;
            m->type[id] = XLLM_TOKEN_UNUSED;
        } else if (!strcmp(m->gmodel, "llama") && is_byte_token(m->tok[id], m->tok_len[id])) {
            m->type[id] = XLLM_TOKEN_BYTE;
        } else if (!strcmp(m->gmodel, "bert") && (st = bert_phantom(m, id))) {
            return st;
        }
    }
    json_array_foreach(added, i, v) {
        json_t *c = json_object_get(v, "content");
        int64_t id = json_integer_value(json_object_get(v, "id"));
        if (!json_is_string(c) || (st = set_token(m, id, json_string_value(c), json_string_length(c))))
            return st ? st : xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: added token %zu malformed", m->dir, i);
        m->type[id] = json_is_true(json_object_get(v, "special")) ? XLLM_TOKEN_CONTROL : XLLM_TOKEN_USER_DEFINED;
    }
    int32_t unk = -1;
    if (unigram && json_is_integer(json_object_get(model, "unk_id")))
        unk = (int32_t)json_integer_value(json_object_get(model, "unk_id"));
    else if (jstr(model, "unk_token"))
        unk = find_token(m, jstr(model, "unk_token"));
    if (unk >= 0 && unk < m->n)
        m->type[unk] = XLLM_TOKEN_UNKNOWN;
    return XLLM_OK;
}

/* ---- merges (and the scores derived from their ranks) ---- */

static xllm_status read_merges(imp *m, json_t *model)
{
    json_t *merges = json_object_get(model, "merges");
    size_t i;
    json_t *v;
    if (!json_is_array(merges))
        return xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: BPE model without merges", m->dir);
    m->n_merges = json_array_size(merges);
    m->merges = xllm_calloc(m->n_merges ? m->n_merges : 1, sizeof *m->merges);
    m->merge_len = xllm_calloc(m->n_merges ? m->n_merges : 1, sizeof *m->merge_len);
    int64_t *rank = xllm_malloc((size_t)m->n * sizeof *rank);
    if (!m->merges || !m->merge_len || !rank) {
        xllm_free(rank);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory for %zu merges", m->n_merges);
    }
    for (int32_t id = 0; id < m->n; id++)
        rank[id] = -1;
    /* token text -> id, to find each merge's result */
    json_t *vocab = json_object_get(model, "vocab");
    xllm_status st = XLLM_OK;
    json_array_foreach(merges, i, v) {
        const char *a, *b;
        size_t la, lb;
        if (json_is_string(v)) {
            a = json_string_value(v);
            const char *sp = strchr(a + (a[0] ? 1 : 0), ' ');
            if (!sp) {
                st = xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: merge %zu '%s' has no space", m->dir, i, a);
                break;
            }
            la = (size_t)(sp - a);
            b = sp + 1;
            lb = strlen(b);
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {
            a = json_string_value(json_array_get(v, 0));
            la = json_string_length(json_array_get(v, 0));
            b = json_string_value(json_array_get(v, 1));
            lb = json_string_length(json_array_get(v, 1));
            if (memchr(a, ' ', la) || memchr(b, ' ', lb)) {
                st = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s/tokenizer.json: merge %zu has a token with a space", m->dir, i);
                break;
            }
        } else {
            st = xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: merge %zu malformed", m->dir, i);
            break;
        }
        char *s = xllm_malloc(la + lb + 2);
        if (!s) {
            st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        memcpy(s, a, la);
        s[la] = ' ';
        memcpy(s + la + 1, b, lb);
        s[la + lb + 1] = 0;
        m->merges[i] = s;
        m->merge_len[i] = la + lb + 1;
        /* the merged token: vocab lookup of a+b (in place: close the gap) */
        memmove(s + la, s + la + 1, lb + 1);
        json_t *r = json_object_get(vocab, s);
        memmove(s + la + 1, s + la, lb + 1);
        s[la] = ' ';
        if (json_is_integer(r)) {
            int64_t id = json_integer_value(r);
            if (id >= 0 && id < m->n && rank[id] < 0)
                rank[id] = (int64_t)i;
        }
    }
    /* sentencepiece-style scores: earlier merge = higher score */
    for (int32_t id = 0; id < m->n && !st; id++)
        m->score[id] = rank[id] >= 0 ? -(float)rank[id] : -(float)(m->n_merges + (size_t)id);
    xllm_free(rank);
    return st;
}

/* ---- pre-tokenizer and normalizer ---- */

typedef struct pre_info {
    const char *regex[TOK_MAX_REGEX];
    int n;
    int byte_level;
    int prefix_space; /* ByteLevel/Metaspace add_prefix_space, Prepend U+2581 */
    int nfc;
    int replace_space; /* ' ' -> U+2581 (normalizer Replace or Metaspace) */
    int split_space;   /* Split on the string " " (a no-op once spaces are U+2581) */
    char bad[160];     /* what we could not place */
} pre_info;

#define RE_GPT2_JSON "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static void add_regex(pre_info *p, const char *re)
{
    if (p->n < TOK_MAX_REGEX)
        p->regex[p->n] = re;
    p->n++;
}

static void walk_pre(json_t *j, pre_info *p)
{
    const char *ty = jstr(j, "type");
    if (!ty)
        return;
    if (!strcmp(ty, "Sequence")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "pretokenizers"), i, v) walk_pre(v, p);
    } else if (!strcmp(ty, "Split")) {
        json_t *pat = json_object_get(j, "pattern");
        const char *re = jstr(pat, "Regex");
        const char *beh = jstr(j, "behavior");
        const char *str = jstr(pat, "String");
        if (re && beh && !strcmp(beh, "Isolated") && !json_is_true(json_object_get(j, "invert")))
            add_regex(p, re);
        else if (str && !strcmp(str, " "))
            p->split_space = 1;
        else if (!p->bad[0])
            snprintf(p->bad, sizeof p->bad, "Split(%s, %s)", re ? re : "String", beh ? beh : "?");
    } else if (!strcmp(ty, "ByteLevel")) {
        p->byte_level = 1;
        if (json_is_true(json_object_get(j, "add_prefix_space")))
            p->prefix_space = 1;
        if (!json_is_false(json_object_get(j, "use_regex")))
            add_regex(p, RE_GPT2_JSON);
    } else if (!strcmp(ty, "Digits")) {
        add_regex(p, json_is_true(json_object_get(j, "individual_digits")) ? "\\p{N}" : "\\p{N}+");
    } else if (!strcmp(ty, "Punctuation")) {
        add_regex(p, "[\\p{P}\\$\\+<=>\\^~\\|`]+");
    } else if (!strcmp(ty, "Metaspace")) {
        p->replace_space = 1;
        const char *scheme = jstr(j, "prepend_scheme");
        if ((scheme && strcmp(scheme, "never")) || json_is_true(json_object_get(j, "add_prefix_space")))
            p->prefix_space = 1;
    } else if (!p->bad[0]) {
        snprintf(p->bad, sizeof p->bad, "pre-tokenizer %s", ty);
    }
}

static void walk_norm(json_t *j, pre_info *p)
{
    const char *ty = jstr(j, "type");
    if (!ty)
        return;
    if (!strcmp(ty, "Sequence")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "normalizers"), i, v) walk_norm(v, p);
    } else if (!strcmp(ty, "NFC")) {
        p->nfc = 1;
    } else if (!strcmp(ty, "Prepend") && jstr(j, "prepend") && !strcmp(jstr(j, "prepend"), SP_SPACE)) {
        p->prefix_space = 1;
    } else if (!strcmp(ty, "Replace") && jstr(json_object_get(j, "pattern"), "String") &&
               !strcmp(jstr(json_object_get(j, "pattern"), "String"), " ") && jstr(j, "content") &&
               !strcmp(jstr(j, "content"), SP_SPACE)) {
        p->replace_space = 1;
    } else if (!strcmp(ty, "Precompiled") || !strcmp(ty, "BertNormalizer")) {
        /* handled by the model type (t5 charsmap, bert) */
    } else if (!p->bad[0]) {
        snprintf(p->bad, sizeof p->bad, "normalizer %s", ty);
    }
}

/* ---- special tokens and flags ---- */

/* The post-processor's template: does it put a special token first / last? */
static void template_ends(json_t *pp, int32_t *first, int32_t *last, const imp *m)
{
    const char *ty = jstr(pp, "type");
    if (!ty)
        return;
    if (!strcmp(ty, "Sequence")) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(pp, "processors"), i, v) template_ends(v, first, last, m);
    } else if (!strcmp(ty, "TemplateProcessing")) {
        json_t *single = json_object_get(pp, "single");
        size_t n = json_array_size(single);
        if (!n)
            return;
        json_t *a = json_object_get(json_array_get(single, 0), "SpecialToken");
        json_t *z = json_object_get(json_array_get(single, n - 1), "SpecialToken");
        if (a)
            *first = find_token(m, jstr(a, "id"));
        if (z)
            *last = find_token(m, jstr(z, "id"));
    } else if (!strcmp(ty, "BertProcessing") || !strcmp(ty, "RobertaProcessing")) {
        *first = find_token(m, json_string_value(json_array_get(json_object_get(pp, "cls"), 0)));
        *last = find_token(m, json_string_value(json_array_get(json_object_get(pp, "sep"), 0)));
    }
}

static xllm_status set_id(xllm_gguf *g, const char *key, int32_t id)
{
    return id >= 0 ? xllm_gguf_set_u32(g, key, (uint32_t)id) : XLLM_OK;
}

static xllm_status write_specials(imp *m, xllm_gguf *g)
{
    json_t *cfg = m->cfg;
    int32_t bos = find_token(m, token_content(json_object_get(cfg, "bos_token")));
    int32_t eos = find_token(m, token_content(json_object_get(cfg, "eos_token")));
    int32_t unk = find_token(m, token_content(json_object_get(cfg, "unk_token")));
    int32_t pad = find_token(m, token_content(json_object_get(cfg, "pad_token")));
    int32_t first = -1, last = -1;
    template_ends(json_object_get(m->tj, "post_processor"), &first, &last, m);
    int bert = !strcmp(m->gmodel, "bert");
    if (unk < 0)
        for (int32_t i = 0; i < m->n; i++)
            if (m->type[i] == XLLM_TOKEN_UNKNOWN) {
                unk = i;
                break;
            }
    int add_bos = first >= 0, add_eos = last >= 0;
    json_t *ab = json_object_get(cfg, "add_bos_token"), *ae = json_object_get(cfg, "add_eos_token");
    if (json_is_boolean(ab))
        add_bos = json_is_true(ab);
    if (json_is_boolean(ae))
        add_eos = json_is_true(ae);
    if (bos < 0 && add_bos && !bert)
        bos = first;
    if (eos < 0 && add_eos && !bert)
        eos = last;
    xllm_status st;
    if ((st = set_id(g, KEY("unknown_token_id"), unk)) || (st = set_id(g, KEY("padding_token_id"), pad)))
        return st;
    if (bert) {
        int32_t cls = find_token(m, token_content(json_object_get(cfg, "cls_token")));
        int32_t sep = find_token(m, token_content(json_object_get(cfg, "sep_token")));
        int32_t mask = find_token(m, token_content(json_object_get(cfg, "mask_token")));
        if (cls < 0)
            cls = first >= 0 ? first : find_token(m, "[CLS]");
        if (sep < 0)
            sep = last >= 0 ? last : find_token(m, "[SEP]");
        if (mask < 0)
            mask = find_token(m, "[MASK]");
        if ((st = set_id(g, KEY("cls_token_id"), cls)) || (st = set_id(g, KEY("seperator_token_id"), sep)) ||
            (st = set_id(g, KEY("mask_token_id"), mask)) || (st = set_id(g, KEY("bos_token_id"), cls)) ||
            (st = xllm_gguf_set_bool(g, KEY("add_bos_token"), first >= 0)) ||
            (st = xllm_gguf_set_bool(g, KEY("add_eos_token"), 0)) ||
            (st = xllm_gguf_set_bool(g, KEY("add_sep_token"), last >= 0)))
            return st;
        return XLLM_OK;
    }
    if ((st = set_id(g, KEY("bos_token_id"), bos)) || (st = set_id(g, KEY("eos_token_id"), eos)) ||
        (st = xllm_gguf_set_bool(g, KEY("add_bos_token"), add_bos && bos >= 0)) ||
        (st = xllm_gguf_set_bool(g, KEY("add_eos_token"), add_eos && eos >= 0)))
        return st;
    return XLLM_OK;
}

xllm_status tok_import_chat_templates(const char *dir, json_t *cfg, xllm_gguf *g)
{
    json_t *ct = json_object_get(cfg, "chat_template");
    xllm_status st = XLLM_OK;
    if (json_is_string(ct))
        return xllm_gguf_set_strn(g, "tokenizer.chat_template", json_string_value(ct), json_string_length(ct));
    if (json_is_array(ct)) {
        size_t i;
        json_t *v;
        json_array_foreach(ct, i, v) {
            const char *name = jstr(v, "name");
            json_t *tpl = json_object_get(v, "template");
            if (!name || !json_is_string(tpl))
                continue;
            char key[256];
            if (!strcmp(name, "default"))
                snprintf(key, sizeof key, "tokenizer.chat_template");
            else
                snprintf(key, sizeof key, "tokenizer.chat_template.%s", name);
            if ((st = xllm_gguf_set_strn(g, key, json_string_value(tpl), json_string_length(tpl))))
                return st;
        }
        return XLLM_OK;
    }
    /* newer repositories keep the template in its own file */
    char *path = xllm_path_join(dir, "chat_template.jinja");
    if (!path)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (xllm_path_exists(path)) {
        char *text;
        size_t len;
        if (!(st = xllm_read_file(path, XLLM_MAX_GGUF_STRING, &text, &len))) {
            st = xllm_gguf_set_strn(g, "tokenizer.chat_template", text, len);
            xllm_free(text);
        }
    }
    xllm_free(path);
    return st;
}

/* ---- writing ---- */

static xllm_status write_arrays(imp *m, xllm_gguf *g)
{
    xllm_status st = xllm_gguf_set_arr_str(g, KEY("tokens"), (const char *const *)m->tok, m->tok_len, (uint64_t)m->n);
    if (!st)
        st = xllm_gguf_set_arr(g, KEY("scores"), XLLM_GGUF_FLOAT32, m->score, (uint64_t)m->n);
    if (!st)
        st = xllm_gguf_set_arr(g, KEY("token_type"), XLLM_GGUF_INT32, m->type, (uint64_t)m->n);
    if (!st && m->merges)
        st = xllm_gguf_set_arr_str(g, KEY("merges"), (const char *const *)m->merges, m->merge_len, m->n_merges);
    return st;
}

static json_t *find_precompiled(json_t *j)
{
    const char *ty = jstr(j, "type");
    if (ty && !strcmp(ty, "Precompiled"))
        return json_object_get(j, "precompiled_charsmap");
    size_t i;
    json_t *v, *r;
    json_array_foreach(json_object_get(j, "normalizers"), i, v) if ((r = find_precompiled(v))) return r;
    return NULL;
}

static xllm_status import_json(imp *m, xllm_gguf *g)
{
    json_t *model = json_object_get(m->tj, "model");
    const char *mtype = jstr(model, "type");
    pre_info pre = {0};
    xllm_status st;
    walk_pre(json_object_get(m->tj, "pre_tokenizer"), &pre);
    walk_norm(json_object_get(m->tj, "normalizer"), &pre);
    if (pre.split_space && !pre.replace_space && !pre.bad[0])
        snprintf(pre.bad, sizeof pre.bad, "Split on ' ' without a U+2581 normalizer");
    json_t *dec = json_object_get(m->tj, "decoder");
    if (!mtype && json_object_get(model, "merges"))
        mtype = "BPE";
    if (!mtype)
        return xllm_fail(XLLM_ERR_FORMAT, "%s/tokenizer.json: no model type", m->dir);
    if (!strcmp(mtype, "BPE")) {
        const char *dt = jstr(dec, "type");
        m->gmodel = pre.byte_level || (dt && !strcmp(dt, "ByteLevel")) ? "gpt2" : "llama";
    } else if (!strcmp(mtype, "WordPiece")) {
        m->gmodel = "bert";
    } else if (!strcmp(mtype, "Unigram")) {
        m->gmodel = "t5";
    } else {
        return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s/tokenizer.json: model type %s is not supported", m->dir, mtype);
    }
    if ((st = read_vocab(m, model, mtype)))
        return st;
    if (!strcmp(mtype, "BPE") && (st = read_merges(m, model)))
        return st;
    if ((st = xllm_gguf_set_str(g, KEY("model"), m->gmodel)))
        return st;
    if (!strcmp(m->gmodel, "gpt2")) {
        if (pre.bad[0] || pre.n > TOK_MAX_REGEX)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s/tokenizer.json: unsupported %s", m->dir,
                             pre.bad[0] ? pre.bad : "pre-tokenizer (too many splits)");
        int ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
        const tok_pre_def *d = tok_pre_match(pre.regex, pre.n, pre.nfc, ignore_merges);
        if (!d)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s/tokenizer.json: unknown pre-tokenizer regex%s '%s'%s%s", m->dir,
                             pre.n > 1 ? "es" : "", pre.n ? pre.regex[0] : "(none)", pre.n > 1 ? " + ..." : "",
                             pre.nfc ? " with NFC" : "");
        if ((st = xllm_gguf_set_str(g, KEY("pre"), d->name)) ||
            (st = xllm_gguf_set_bool(g, KEY("add_space_prefix"), pre.prefix_space)))
            return st;
    } else if (!strcmp(m->gmodel, "llama") || !strcmp(m->gmodel, "t5")) {
        if (pre.bad[0] || pre.nfc)
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s/tokenizer.json: unsupported %s for a SentencePiece vocabulary",
                             m->dir, pre.nfc ? "NFC normalizer" : pre.bad);
        if ((st = xllm_gguf_set_bool(g, KEY("add_space_prefix"), pre.prefix_space)))
            return st;
        json_t *pc = find_precompiled(json_object_get(m->tj, "normalizer"));
        if (pc && json_is_string(pc)) {
            size_t n = json_string_length(pc);
            unsigned char *blob = xllm_malloc(n / 4 * 3 + 4);
            if (!blob)
                return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
            size_t bn = xllm_base64_decode(json_string_value(pc), blob);
            st = xllm_gguf_set_arr(g, KEY("precompiled_charsmap"), XLLM_GGUF_UINT8, blob, bn);
            xllm_free(blob);
            if (st)
                return st;
        }
    } else { /* bert */
        json_t *bn = json_object_get(m->tj, "normalizer");
        const char *nt = jstr(bn, "type");
        if (nt && !strcmp(nt, "BertNormalizer") && json_is_false(json_object_get(bn, "lowercase")))
            return xllm_fail(XLLM_ERR_UNSUPPORTED, "%s/tokenizer.json: cased BERT (lowercase: false) is not supported",
                             m->dir);
    }
    if ((st = write_arrays(m, g)) || (st = write_specials(m, g)))
        return st;
    return tok_import_chat_templates(m->dir, m->cfg, g);
}

xllm_status xllm_tokenizer_import_hf(const char *dir, xllm_gguf *g)
{
    imp m = {0};
    m.dir = dir;
    xllm_status rc = tok_json_load(dir, "tokenizer_config.json", 0, &m.cfg);
    if (rc)
        goto out;
    char *p = xllm_path_join(dir, "tokenizer.json");
    int have_json = p && xllm_path_exists(p);
    xllm_free(p);
    if (have_json) {
        if (!(rc = tok_json_load(dir, "tokenizer.json", 1, &m.tj)))
            rc = import_json(&m, g);
        goto out;
    }
    p = xllm_path_join(dir, "tokenizer.model");
    int have_spm = p && xllm_path_exists(p);
    if (have_spm) {
        rc = tok_import_spm_model(p, g);
        if (!rc)
            rc = tok_import_spm_config(dir, m.cfg, g);
        xllm_free(p);
        goto out;
    }
    xllm_free(p);
    rc = xllm_fail(XLLM_ERR_NOT_FOUND, "%s: no tokenizer.json or tokenizer.model", dir);
out:
    imp_free(&m);
    return rc;
}
