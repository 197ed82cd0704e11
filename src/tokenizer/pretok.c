/* pretok.c - byte-level BPE pre-tokenizers: the table of tokenizer.ggml.pre values
 * with the regexes of each (as Hugging Face tokenizer.json writes them, applied one
 * after another as "Isolated" splits), compiled with PCRE2 (UTF, UCP, JIT); and the
 * NFC normalizer some of them ask for (utf8proc). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

/* GPT-2's pattern (ByteLevel pre-tokenizer with use_regex). */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3                                                                       \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "       \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                        \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "            \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* the Punctuation pre-tokenizer (Contiguous): ASCII punctuation + \p{P} */
#define RE_PUNCT "[\\p{P}\\$\\+<=>\\^~\\|`]+"
/* CJK block split used by DeepSeek's first models */
#define RE_DS_CJK "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9e\xbf]+"

static const tok_pre_def pre_table[] = {
    {"gpt-2", {RE_GPT2}, 0, 0},
    {"llama-bpe", {RE_LLAMA3}, 0, 1},
    {"qwen2", {RE_QWEN2}, 1, 0},
    {"deepseek-v3",
     {"\\p{N}{1,3}", "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
     0, 0},
    {"deepseek-llm",
     {"[\r\n]",
      "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf\xc7\x84-"
      "\xca\x93\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd\xcd\xbf\xce\x86\xce\x88-"
      "\xce\x8a\xce\x8c\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96"
      "\xe1\x82\xa0-\xe1\x83\x85\xe1\x8e\xa0-\xe1\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba"
      "\xe1\xb2\xbd-\xe1\xb2\xbf\xe1\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a"
      "\xe1\xb8\x80-\xe1\xbc\x95\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d"
      "\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd\xe1\xbe\x80-"
      "\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe\xe1\xbf\x82-\xe1\xbf\x84\xe1\xbf\x86-\xe1\xbf\x8c"
      "\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-\xe1\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4"
      "\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87\xe2\x84\x8a-\xe2\x84\x93\xe2\x84\x95\xe2\x84\x99-"
      "\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2\x84\xa8\xe2\x84\xaa-\xe2\x84\xad\xe2\x84\xaf-\xe2\x84\xb4"
      "\xe2\x84\xb9\xe2\x84\xbc-\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89\xe2\x85\x8e\xe2\x86\x83\xe2\x86\x84"
      "\xe2\xb0\x80-\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae\xe2\xb3\xb2\xe2\xb3\xb3"
      "\xea\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf\xea\x9d\xb1-\xea\x9e\x87"
      "\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86\xef\xac\x93-\xef\xac\x97"
      "\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a\xf0\x90\x90\x80-\xf0\x90\x91\x8f\xf0\x90\x92\xb0-"
      "\xf0\x90\x93\x93\xf0\x90\x93\x98-\xf0\x90\x93\xbb\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2\xf0\x90\xb3\x80-"
      "\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-\xf0\x91\xa3\x9f\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+",
      "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f\xe3\x80\x80-"
      "\xe3\x80\x82]+",
      "\\s+$", RE_DS_CJK, "\\p{N}+"},
     0, 0},
    {"deepseek-coder", {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DS_CJK, "\\p{N}"}, 0, 0},
    {"falcon", {RE_PUNCT, RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0},
    {"starcoder", {"\\p{N}", RE_GPT2}, 0, 0},
    {"refact", {"\\p{N}", RE_GPT2}, 0, 0},
    {"command-r", {"\\p{N}", RE_GPT2}, 0, 0},
    {"smollm", {"\\p{N}", RE_GPT2}, 0, 0},
    {"codeshell", {"\\p{N}", RE_GPT2}, 0, 0},
    {"exaone", {"\\p{N}", RE_GPT2}, 0, 0},
    {"minerva-7b", {"\\p{N}", RE_GPT2}, 0, 0},
    {"mpt", {RE_GPT2}, 0, 0},
    {"olmo", {RE_GPT2}, 0, 0},
    {"jais", {RE_GPT2}, 0, 0},
    {"smaug-bpe", {RE_LLAMA3}, 0, 0},
    {"dbrx", {RE_LLAMA3}, 0, 0},
    {"chatglm-bpe", {RE_LLAMA3}, 0, 0},
    {"llama3", {RE_LLAMA3}, 0, 1},
    {"llama-v3", {RE_LLAMA3}, 0, 1},
    {"stablelm2", {RE_QWEN2}, 0, 0},
    {"tekken",
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n"
      "\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     0, 1},
    {"gpt-4o",
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|"
      "'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}"
      "\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+"
      "(?!\\S)|\\s+"},
     0, 0},
    {"bloom", {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"}, 0, 0},
    {"poro-chat", {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"}, 0, 0},
    {"viking",
     {" ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+", "\\p{N}"},
     0, 0},
    /* llama.cpp's fallback for BPE vocabularies it could not identify */
    {"default",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
      "\\p{N}+", "[0-9][0-9][0-9]"},
     0, 0},
};

const tok_pre_def *tok_pre_find(const char *name)
{
    for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++)
        if (!strcmp(pre_table[i].name, name))
            return &pre_table[i];
    return NULL;
}

/* The row with these regexes and NFC flag; among equal ones, the one whose
 * ignore_merges agrees (tokenizer.json's model.ignore_merges), else the first. */
const tok_pre_def *tok_pre_match(const char *const *regex, int n, int nfc, int ignore_merges)
{
    const tok_pre_def *first = NULL;
    for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++) {
        const tok_pre_def *d = &pre_table[i];
        int k = 0;
        while (k < TOK_MAX_REGEX && d->regex[k])
            k++;
        if (k != n || d->nfc != nfc)
            continue;
        int same = 1;
        for (int j = 0; j < n && same; j++)
            same = !strcmp(d->regex[j], regex[j]);
        if (same && d->ignore_merges == ignore_merges)
            return d;
        if (same && !first)
            first = d;
    }
    return first;
}

/* Oniguruma (Hugging Face's regex engine) reads \s as the Unicode White_Space
 * property; PCRE2 with UCP adds U+180E. Spell the class out. */
#define WS_CLASS "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

static xllm_status translate(const char *src, xllm_buf *out)
{
    int in_class = 0;
    xllm_status st = XLLM_OK;
    for (const char *p = src; *p && !st; p++) {
        if (*p == '\\' && p[1]) {
            char c = p[1];
            if (c == 's')
                st = xllm_buf_puts(out, in_class ? WS_CLASS : "[" WS_CLASS "]");
            else if (c == 'S' && !in_class)
                st = xllm_buf_puts(out, "[^" WS_CLASS "]");
            else
                st = xllm_buf_append(out, p, 2);
            p++;
            continue;
        }
        if (*p == '[' && !in_class) {
            in_class = 1;
            st = xllm_buf_append(out, p, 1);
            if (!st && p[1] == '^')
                st = xllm_buf_append(out, ++p, 1);
            if (!st && p[1] == ']') /* a leading ']' is literal */
                st = xllm_buf_append(out, ++p, 1);
            continue;
        }
        if (*p == ']' && in_class)
            in_class = 0;
        st = xllm_buf_append(out, p, 1);
    }
    return st;
}

xllm_status tok_pre_compile(xllm_tokenizer *t)
{
    const tok_pre_def *d = t->pre;
    xllm_status rc = XLLM_OK;
    for (int i = 0; i < TOK_MAX_REGEX && d->regex[i]; i++) {
        xllm_buf b;
        xllm_buf_init(&b, 1u << 20);
        rc = translate(d->regex[i], &b);
        if (rc) {
            xllm_buf_free(&b);
            return rc;
        }
        int err;
        PCRE2_SIZE erroff;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)b.data, b.len, PCRE2_UTF | PCRE2_UCP, &err, &erroff, NULL);
        xllm_buf_free(&b);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return xllm_fail(XLLM_ERR_INTERNAL, "tokenizer: pre-tokenizer '%s' regex %d does not compile: %s",
                             d->name, i, (const char *)msg);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT the interpreter still works */
        t->re[t->n_re++] = re;
    }
    return rc;
}

void tok_pre_free(xllm_tokenizer *t)
{
    for (int i = 0; i < t->n_re; i++)
        pcre2_code_free(t->re[i]);
    t->n_re = 0;
}

typedef struct span_vec {
    tok_span *v;
    size_t n, cap;
} span_vec;

static xllm_status span_push(span_vec *a, size_t s, size_t e)
{
    if (s == e)
        return XLLM_OK;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        tok_span *v = xllm_realloc(a->v, cap * sizeof *v);
        if (!v)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory splitting text");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].start = s;
    a->v[a->n].end = e;
    a->n++;
    return XLLM_OK;
}

/* Split one span with one regex: matches and the text between them all become spans. */
static xllm_status split_span(pcre2_code *re, pcre2_match_data *md, pcre2_match_context *mc, const char *text,
                              tok_span sp, span_vec *out)
{
    const unsigned char *subj = (const unsigned char *)text + sp.start;
    size_t n = sp.end - sp.start, pos = 0, prev = 0;
    while (pos <= n) {
        int rc = pcre2_match(re, subj, n, pos, PCRE2_NO_UTF_CHECK, md, mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return xllm_fail(XLLM_ERR_INTERNAL, "tokenizer: pre-tokenizer regex failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) { /* empty match: step over one character */
            if (ms >= n)
                break;
            pos = ms + tok_utf8_len_lenient(subj[ms]);
            continue;
        }
        xllm_status st = span_push(out, sp.start + prev, sp.start + ms);
        if (!st)
            st = span_push(out, sp.start + ms, sp.start + me);
        if (st)
            return st;
        prev = pos = me;
    }
    return span_push(out, sp.start + prev, sp.end);
}

xllm_status tok_pre_split(const xllm_tokenizer *t, const char *text, size_t len, tok_span **spans, size_t *n)
{
    span_vec cur = {0}, next = {0};
    xllm_status rc = span_push(&cur, 0, len);
    pcre2_match_data *md = NULL;
    pcre2_match_context *mc = NULL;
    pcre2_jit_stack *js = NULL;
    if (rc)
        goto out;
    mc = pcre2_match_context_create(NULL);
    js = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
    if (!mc || !js) {
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for the regex matcher");
        goto out;
    }
    pcre2_jit_stack_assign(mc, NULL, js);
    for (int r = 0; r < t->n_re; r++) {
        md = pcre2_match_data_create_from_pattern(t->re[r], NULL);
        if (!md) {
            rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory for the regex matcher");
            goto out;
        }
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++) {
            rc = split_span(t->re[r], md, mc, text, cur.v[i], &next);
            if (rc)
                goto out;
        }
        pcre2_match_data_free(md);
        md = NULL;
        span_vec tmp = cur;
        cur = next;
        next = tmp;
    }
    *spans = cur.v;
    *n = cur.n;
    cur.v = NULL;
out:
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    pcre2_jit_stack_free(js);
    xllm_free(cur.v);
    xllm_free(next.v);
    return rc;
}

xllm_status tok_nfc(const char *text, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = len;
    size_t i = 0;
    while (i < len && (unsigned char)text[i] < 0x80)
        i++;
    if (i == len)
        return XLLM_OK; /* ASCII is already NFC */
    if (len > (size_t)0x3fffffff)
        return xllm_fail(XLLM_ERR_LIMIT, "tokenizer: text too long to normalize (%zu bytes)", len);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "tokenizer: NFC normalization failed: %s",
                         utf8proc_errmsg(n));
    char *o = xllm_malloc((size_t)n + 1);
    if (!o) {
        free(dst);
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "tokenizer: out of memory normalizing text");
    }
    memcpy(o, dst, (size_t)n);
    o[n] = 0;
    free(dst);
    *out = o;
    *out_len = (size_t)n;
    return XLLM_OK;
}
