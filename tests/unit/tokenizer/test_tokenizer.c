/* test_tokenizer.c - tokenizer behaviour on tiny hand-made GGUF vocabularies whose
 * right answers are worked out by hand in the comments (no npm needed): BPE merge
 * order, sentencepiece scores and byte fallback, special-token matching, streaming
 * detokenization of split characters, the capped-buffer API, and the errors for
 * malformed metadata (also under injected allocation failures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test.h"
#include "base/alloc.h"
#include "format/gguf.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

#define SP "\xe2\x96\x81" /* U+2581 */

static int32_t find(const xllm_tokenizer *t, const char *s)
{
    return xllm_tokenizer_find(t, s, strlen(s));
}

/* Tokenize and compare with a list of token texts. */
static void expect(const xllm_tokenizer *t, const char *text, int add, int parse, const char *const *want, size_t nw)
{
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(xllm_tokenize(t, text, strlen(text), add, parse, &ids, &n));
    int same = n == nw;
    for (size_t i = 0; same && i < n; i++)
        same = ids[i] == find(t, want[i]);
    if (!same) {
        fprintf(stderr, "  '%s' gave:", text);
        for (size_t i = 0; i < n; i++) {
            size_t l;
            const char *s = xllm_tokenizer_token_text(t, ids[i], &l);
            fprintf(stderr, " [%.*s]", (int)l, s ? s : "?");
        }
        fprintf(stderr, "\n");
    }
    CHECK(same);
    xllm_free(ids);
}
#define EXPECT(t, text, add, parse, ...)                                              \
    do {                                                                              \
        const char *const w_[] = {__VA_ARGS__};                                       \
        expect(t, text, add, parse, w_, sizeof w_ / sizeof w_[0]);                    \
    } while (0)

/* ---- a byte-level BPE vocabulary: the 256 byte chars, three merges, specials ---- */

static void byte_char(int b, char *out)
{
    /* GPT-2 map: printable Latin-1 stays, the rest go to U+0100.. in order */
    int printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
    int cp = b;
    if (!printable) {
        cp = 256;
        for (int k = 0; k < b; k++)
            cp += !((k >= 0x21 && k <= 0x7e) || (k >= 0xa1 && k <= 0xac) || (k >= 0xae));
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    }
}

static xllm_gguf *bpe_vocab(const char *pre)
{
    static char bytes[256][4];
    const char *tok[300];
    int32_t type[300];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        byte_char(b, bytes[b]);
        tok[n] = bytes[b];
        type[n++] = 1;
    }
    const char *extra[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "<|a|>", "<|ab|>", "<u>", "<|eot|>"};
    const int32_t extra_type[] = {1, 1, 1, 3, 3, 4, 3};
    for (int k = 0; k < 7; k++) {
        tok[n] = extra[k];
        type[n++] = extra_type[k];
    }
    const char *merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he"};
    xllm_gguf *g = NULL;
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.ggml.model", "gpt2"));
    if (pre)
        CHECK_OK(xllm_gguf_set_str(g, "tokenizer.ggml.pre", pre));
    CHECK_OK(xllm_gguf_set_arr_str(g, "tokenizer.ggml.tokens", tok, NULL, (uint64_t)n));
    CHECK_OK(xllm_gguf_set_arr(g, "tokenizer.ggml.token_type", XLLM_GGUF_INT32, type, (uint64_t)n));
    CHECK_OK(xllm_gguf_set_arr_str(g, "tokenizer.ggml.merges", merges, NULL, 3));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.bos_token_id", 256 + 3));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.eos_token_id", 256 + 4));
    CHECK_OK(xllm_gguf_set_bool(g, "tokenizer.ggml.add_bos_token", 1));
    return g;
}

TEST(tok_bpe_merges_by_rank)
{
    xllm_gguf *g = bpe_vocab("gpt-2");
    xllm_tokenizer *t = NULL;
    CHECK_OK(xllm_tokenizer_load(g, &t));
    xllm_gguf_close(g);
    if (!t)
        return;
    /* gpt-2 split: "the" | " the". "the": t h e -> (h,e) rank 1 -> [t][he].
     * " the": Ġ t h e -> (Ġ,t) rank 0, (h,e) rank 1, (Ġt,he) rank 2 -> [Ġthe]. */
    EXPECT(t, "the the", 0, 1, "t", "he", "\xc4\xa0the");
    /* add_special puts BOS (<|a|>) first; no EOS since add_eos is off */
    EXPECT(t, "the", 1, 1, "<|a|>", "t", "he");
    /* longest special first: <|ab|> beats <|a|>; without parsing they are bytes;
     * the user-defined <u> is matched either way */
    EXPECT(t, "<|ab|><u>", 0, 1, "<|ab|>", "<u>");
    EXPECT(t, "<|a|>x", 0, 0, "<", "|", "a", "|", ">", "x", );
    EXPECT(t, "x<u>", 0, 0, "x", "<u>");
    /* invalid UTF-8 reads as U+FFFD (EF BF BD as three byte chars) */
    char repl[3][4];
    byte_char(0xef, repl[0]);
    byte_char(0xbf, repl[1]);
    byte_char(0xbd, repl[2]);
    EXPECT(t, "\xff", 0, 1, repl[0], repl[1], repl[2]);
    /* accessors */
    CHECK_EQ_INT(xllm_tokenizer_type(t), XLLM_VOCAB_BPE);
    CHECK_EQ_INT(xllm_tokenizer_n_vocab(t), 263);
    CHECK_EQ_INT(xllm_tokenizer_bos(t), 259);
    CHECK(xllm_tokenizer_add_bos(t));
    CHECK(!xllm_tokenizer_add_eos(t));
    CHECK(xllm_tokenizer_is_special(t, 259));
    CHECK(!xllm_tokenizer_is_special(t, 261)); /* user-defined */
    CHECK(xllm_tokenizer_is_eog(t, 260));      /* EOS */
    CHECK_EQ_INT(xllm_tokenizer_eot(t), -1);   /* "<|eot|>" is not a known turn end */
    xllm_tokenizer_free(t);
}

TEST(tok_capped_buffer_and_pieces)
{
    xllm_gguf *g = bpe_vocab("gpt-2");
    xllm_tokenizer *t = NULL;
    CHECK_OK(xllm_tokenizer_load(g, &t));
    xllm_gguf_close(g);
    if (!t)
        return;
    int32_t ids[2];
    size_t n = 0;
    CHECK_EQ_INT(xllm_tokenize_into(t, "the the", 7, 0, 1, ids, 2, &n), XLLM_ERR_LIMIT);
    CHECK_EQ_INT(n, 3);
    CHECK_OK(xllm_tokenize_into(t, "the", 3, 0, 1, ids, 2, &n));
    CHECK_EQ_INT(n, 2);
    char buf[8];
    int32_t id = find(t, "\xc4\xa0the");
    CHECK_EQ_INT(xllm_token_to_piece(t, id, 1, buf, sizeof buf), 4);
    CHECK(!memcmp(buf, " the", 4));
    CHECK_EQ_INT(xllm_token_to_piece(t, id, 1, buf, 2), 4); /* needs 4, wrote 2 */
    CHECK_EQ_INT(xllm_token_to_piece(t, 259, 0, buf, sizeof buf), 0); /* control, not rendered */
    CHECK_EQ_INT(xllm_token_to_piece(t, 259, 1, buf, sizeof buf), 5);
    CHECK_EQ_INT(xllm_token_to_piece(t, 9999, 1, buf, sizeof buf), -1);
    int32_t bad = 9999;
    char *text;
    size_t len;
    CHECK_EQ_INT(xllm_detokenize(t, &bad, 1, 1, &text, &len), XLLM_ERR_INVALID_ARGUMENT);
    xllm_tokenizer_free(t);
}

TEST(tok_stream_holds_split_characters)
{
    xllm_gguf *g = bpe_vocab("gpt-2");
    xllm_tokenizer *t = NULL;
    CHECK_OK(xllm_tokenizer_load(g, &t));
    xllm_gguf_close(g);
    if (!t)
        return;
    /* "é" (C3 A9) then "x": the byte tokens of é come one at a time */
    int32_t *ids;
    size_t n;
    CHECK_OK(xllm_tokenize(t, "\xc3\xa9x", 3, 0, 1, &ids, &n));
    CHECK_EQ_INT(n, 3);
    xllm_detok *d = NULL;
    CHECK_OK(xllm_detok_new(t, 1, &d));
    const char *p;
    size_t pl;
    CHECK_OK(xllm_detok_push(d, ids[0], &p, &pl));
    CHECK_EQ_INT(pl, 0); /* half a character: held */
    CHECK_OK(xllm_detok_push(d, ids[1], &p, &pl));
    CHECK_EQ_INT(pl, 2);
    CHECK(!memcmp(p, "\xc3\xa9", 2));
    CHECK_OK(xllm_detok_push(d, ids[2], &p, &pl));
    CHECK(pl == 1 && p[0] == 'x');
    /* a lead byte left at the end comes out as U+FFFD on flush */
    CHECK_OK(xllm_detok_push(d, ids[0], &p, &pl));
    CHECK_EQ_INT(pl, 0);
    CHECK_OK(xllm_detok_flush(d, &p, &pl));
    CHECK(pl == 3 && !memcmp(p, "\xef\xbf\xbd", 3));
    CHECK_EQ_INT(xllm_detok_push(d, -5, &p, &pl), XLLM_ERR_INVALID_ARGUMENT);
    xllm_detok_free(d);
    xllm_free(ids);
    xllm_tokenizer_free(t);
}

TEST(tok_bad_metadata_is_an_error)
{
    xllm_tokenizer *t = NULL;
    xllm_gguf *g = bpe_vocab("no-such-pre");
    CHECK_EQ_INT(xllm_tokenizer_load(g, &t), XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "no-such-pre") != NULL);
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.ggml.model", "rwkv"));
    CHECK_EQ_INT(xllm_tokenizer_load(g, &t), XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "rwkv") != NULL);
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.ggml.model", "gpt2"));
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.ggml.pre", "qwen2"));
    int32_t types[3] = {1, 9, 1};
    CHECK_OK(xllm_gguf_set_arr(g, "tokenizer.ggml.token_type", XLLM_GGUF_INT32, types, 3));
    CHECK_EQ_INT(xllm_tokenizer_load(g, &t), XLLM_ERR_FORMAT); /* wrong count */
    CHECK_OK(xllm_gguf_remove(g, "tokenizer.ggml.token_type"));
    CHECK_OK(xllm_gguf_remove(g, "tokenizer.ggml.merges"));
    CHECK_EQ_INT(xllm_tokenizer_load(g, &t), XLLM_ERR_FORMAT); /* gpt2 needs merges */
    CHECK(t == NULL);
    xllm_gguf_close(g);
}

TEST(tok_survives_allocation_failures)
{
    xllm_gguf *g = bpe_vocab("llama-bpe");
    for (long k = 0; k < 400; k += 7) {
        xllm_tokenizer *t = NULL;
        xllm_alloc_fail_after(k);
        xllm_status st = xllm_tokenizer_load(g, &t);
        if (!st) {
            int32_t *ids = NULL;
            size_t n;
            if (!xllm_tokenize(t, "the <|a|> the\xff", 14, 1, 1, &ids, &n))
                xllm_free(ids);
        }
        xllm_alloc_fail_after(-1);
        CHECK(st == XLLM_OK || st == XLLM_ERR_OUT_OF_MEMORY);
        xllm_tokenizer_free(t);
    }
    xllm_gguf_close(g);
}

/* ---- a SentencePiece vocabulary (score mode: no merges in the file) ---- */

static xllm_gguf *spm_vocab(int with_bytes)
{
    const char *tok[] = {"<unk>", "<s>", "</s>", SP, "a", "b", SP "a", "ab", SP "ab", "<0xC3>", "<0xA9>"};
    const float score[] = {0, 0, 0, -1, -2, -3, -4, -5, -6, 0, 0};
    const int32_t type[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6, 6};
    uint64_t n = with_bytes ? 11 : 9;
    xllm_gguf *g = NULL;
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_OK(xllm_gguf_set_str(g, "tokenizer.ggml.model", "llama"));
    CHECK_OK(xllm_gguf_set_arr_str(g, "tokenizer.ggml.tokens", tok, NULL, n));
    CHECK_OK(xllm_gguf_set_arr(g, "tokenizer.ggml.scores", XLLM_GGUF_FLOAT32, score, n));
    CHECK_OK(xllm_gguf_set_arr(g, "tokenizer.ggml.token_type", XLLM_GGUF_INT32, type, n));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.bos_token_id", 1));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.eos_token_id", 2));
    CHECK_OK(xllm_gguf_set_u32(g, "tokenizer.ggml.unknown_token_id", 0));
    return g;
}

TEST(tok_spm_scores_prefix_and_fallback)
{
    xllm_gguf *g = spm_vocab(1);
    xllm_tokenizer *t = NULL;
    CHECK_OK(xllm_tokenizer_load(g, &t));
    xllm_gguf_close(g);
    if (!t)
        return;
    /* "ab" -> "▁ab": pairs ▁a (-4), ab (-5): ▁a first, then ▁a+b = ▁ab (-6) */
    EXPECT(t, "ab", 0, 0, SP "ab");
    /* "ba": ▁b and ba are not pieces -> [▁][b][a] */
    EXPECT(t, "ba", 0, 0, SP, "b", "a");
    /* add_bos defaults on for llama; after <s> in the text a new prefix starts */
    EXPECT(t, "a<s>a", 1, 1, "<s>", SP "a", "<s>", SP "a");
    /* control text is plain text without parsing: '<' is unknown, 's' too */
    EXPECT(t, "\xc3\xa9", 0, 0, SP, "<0xC3>", "<0xA9>");
    char *text;
    size_t len;
    int32_t ids[4] = {1, 8, 9, 10}; /* <s> ▁ab <0xC3> <0xA9> */
    CHECK_OK(xllm_detokenize(t, ids, 4, 1, &text, &len));
    CHECK_EQ_STR(text, "<s> ab\xc3\xa9");
    xllm_free(text);
    CHECK_OK(xllm_detokenize(t, ids, 4, 0, &text, &len));
    CHECK_EQ_STR(text, "ab\xc3\xa9"); /* the leading space of the first piece goes */
    xllm_free(text);
    xllm_tokenizer_free(t);
    /* without byte pieces an unknown character becomes <unk> */
    g = spm_vocab(0);
    CHECK_OK(xllm_tokenizer_load(g, &t));
    xllm_gguf_close(g);
    if (t)
        EXPECT(t, "\xc3\xa9", 0, 0, SP, "<unk>");
    xllm_tokenizer_free(t);
}

/* ---- importer errors ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(tok_import_rejects_unknown_pretokenizer)
{
    char dir[64], path[96];
    snprintf(dir, sizeof dir, "/tmp/xllm-tokimp-%d", (int)getpid());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    write_file(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]},"
                     " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
                     "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"[a-z]+|zzz\"}, \"behavior\": \"Isolated\"},"
                     "{\"type\": \"ByteLevel\", \"use_regex\": false}]}}");
    xllm_gguf *g = NULL;
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_EQ_INT(xllm_tokenizer_import_hf(dir, g), XLLM_ERR_UNSUPPORTED);
    CHECK(strstr(xllm_last_error(), "[a-z]+|zzz") != NULL);
    xllm_gguf_close(g);
    /* a truncated SentencePiece model */
    unlink(path);
    snprintf(path, sizeof path, "%s/tokenizer.model", dir);
    write_file(path, "\x0a\x05\x0a\x03");
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_EQ_INT(xllm_tokenizer_import_hf(dir, g), XLLM_ERR_FORMAT);
    xllm_gguf_close(g);
    unlink(path);
    CHECK_OK(xllm_gguf_new(&g));
    CHECK_EQ_INT(xllm_tokenizer_import_hf(dir, g), XLLM_ERR_NOT_FOUND);
    xllm_gguf_close(g);
    rmdir(dir);
}

/* ---- the committed BERT vocabulary (no npm needed) ---- */

TEST(tok_bert_fixture)
{
    xllm_tokenizer *t = NULL;
    CHECK_OK(xllm_tokenizer_open_path("tests/fixtures/tokenizer/bert", &t));
    if (!t)
        return;
    CHECK_EQ_INT(xllm_tokenizer_type(t), XLLM_VOCAB_WPM);
    /* uncased, accents stripped, punctuation split, [CLS] ... [SEP] added */
    int32_t *ids;
    size_t n;
    const char *in = "And GOD said, \"Let there be light\"";
    CHECK_OK(xllm_tokenize(t, in, strlen(in), 1, 1, &ids, &n));
    CHECK(n >= 2 && ids[0] == find(t, "[CLS]") && ids[n - 1] == find(t, "[SEP]"));
    char *text;
    size_t len;
    CHECK_OK(xllm_detokenize(t, ids, n, 0, &text, &len));
    CHECK_EQ_STR(text, "and god said, \" let there be light \"");
    xllm_free(text);
    xllm_free(ids);
    xllm_tokenizer_free(t);
}
