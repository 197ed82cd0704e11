/* cmd_tokenize.c - `xllm tokenize MODEL (--text T | --file F)` prints token ids;
 * `xllm detokenize MODEL ID...` prints text. MODEL is a GGUF file (vocabulary-only
 * is fine) or a Hugging Face directory. The hidden --bench option times tokenizing
 * the text (or a generated 1 MiB text: --bench-gen repeat|random) on one core
 * (numbers in bench/RESULTS.md). */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

#define TOK_MAX_INPUT (1u << 30)

static int fail(const char *cmd, xllm_status st)
{
    fprintf(stderr, "xllm %s: %s: %s\n", cmd, xllm_status_str(st), xllm_last_error());
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The same generator as tools/tok_node_bench.mjs (xorshift64, top byte). */
static char *bench_random_bytes(size_t n)
{
    char *b = xllm_malloc(n + 1);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; b && i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (char)(x >> 56);
    }
    return b;
}

/* First 16 hex digits of SHA-256 over the ids written as "1 2 3" (to compare with
 * the reference tokenizer's ids on the same text). */
static void ids_digest(const int32_t *ids, size_t n, char out[17])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdl = 0;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        char num[16];
        int k = snprintf(num, sizeof num, i ? " %d" : "%d", ids[i]);
        EVP_DigestUpdate(c, num, (size_t)k);
    }
    EVP_DigestFinal_ex(c, md, &mdl);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int bench(const xllm_tokenizer *tok, const char *text, size_t len, int reps, int add, int parse)
{
    double best = 1e30;
    int32_t *ids = NULL;
    size_t n = 0;
    for (int r = 0; r < (reps > 0 ? reps : 3); r++) {
        xllm_free(ids);
        double t0 = now();
        xllm_status st = xllm_tokenize(tok, text, len, add, parse, &ids, &n);
        double dt = now() - t0;
        if (st)
            return fail("tokenize", st);
        if (dt < best)
            best = dt;
    }
    char dg[17];
    ids_digest(ids, n, dg);
    printf("{\"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.4f, \"mb_per_s\": %.1f, \"digest\": \"%s\"}\n", len, n,
           best, (double)len / best / 1e6, dg);
    xllm_free(ids);
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *text = NULL, *file = NULL, *gen = NULL, *pos[1];
    int no_add = 0, no_parse = 0, json = 0, reps = 0, n_pos = 0;
    const xllm_opt opts[] = {
        {"text", XLLM_OPT_STR, &text, "text to tokenize"},
        {"file", XLLM_OPT_STR, &file, "file whose contents to tokenize"},
        {"no-add-special", XLLM_OPT_FLAG, &no_add, "do not add BOS/EOS as the vocabulary asks"},
        {"no-parse-special", XLLM_OPT_FLAG, &no_parse, "treat special-token text as plain text"},
        {"json", XLLM_OPT_FLAG, &json, "print a JSON array"},
        {"bench", XLLM_OPT_INT, &reps, "[dev] time tokenizing: best of N runs, one core"},
        {"bench-gen", XLLM_OPT_STR, &gen, "[dev] benchmark a generated 1 MiB text: repeat | random"},
    };
    int rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos,
                             "MODEL (--text T | --file F) [--no-add-special] [--no-parse-special] [--json]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1 || (!!text + !!file + !!gen) != 1) {
        fprintf(stderr, "xllm tokenize: give MODEL and exactly one of --text or --file\n");
        return 2;
    }
    xllm_tokenizer *tok = NULL;
    char *buf = NULL;
    size_t len = text ? strlen(text) : 0;
    xllm_status st = xllm_tokenizer_open_path(pos[0], &tok);
    if (st)
        return fail("tokenize", st);
    if (file && (st = xllm_read_file(file, TOK_MAX_INPUT, &buf, &len))) {
        xllm_tokenizer_free(tok);
        return fail("tokenize", st);
    }
    if (gen) {
        len = 1u << 20;
        if (!strcmp(gen, "random"))
            buf = bench_random_bytes(len);
        else if ((buf = xllm_malloc(len + 1)))
            memset(buf, 'a', len);
        if (!buf) {
            xllm_tokenizer_free(tok);
            return fail("tokenize", xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory"));
        }
    }
    const char *in = buf ? buf : text;
    if (reps || gen) {
        rc = bench(tok, in, len, reps, !no_add, !no_parse);
    } else {
        int32_t *ids;
        size_t n;
        if ((st = xllm_tokenize(tok, in, len, !no_add, !no_parse, &ids, &n))) {
            rc = fail("tokenize", st);
        } else {
            printf("%s", json ? "[" : "");
            for (size_t i = 0; i < n; i++)
                printf(i ? (json ? ", %d" : " %d") : "%d", ids[i]);
            printf("%s\n", json ? "]" : "");
            xllm_free(ids);
        }
    }
    xllm_free(buf);
    xllm_tokenizer_free(tok);
    return rc;
}

int cmd_detokenize(int argc, char **argv)
{
    int no_render = 0, n_pos = 0;
    const xllm_opt opts[] = {
        {"no-render-special", XLLM_OPT_FLAG, &no_render, "leave out special tokens (BOS, EOS, chat markers)"},
    };
    const char **pos = xllm_calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return fail("detokenize", xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory"));
    int rc = xllm_args_parse(argc, argv, opts, 1, pos, argc, &n_pos, "MODEL ID... [--no-render-special]");
    if (rc) {
        xllm_free(pos);
        return rc == 1 ? 0 : rc;
    }
    if (n_pos < 1) {
        fprintf(stderr, "xllm detokenize: give MODEL and token ids\n");
        xllm_free(pos);
        return 2;
    }
    int32_t *ids = xllm_calloc((size_t)n_pos, sizeof *ids);
    size_t n = 0;
    for (int i = 1; ids && i < n_pos; i++) {
        char *end;
        long v = strtol(pos[i], &end, 10);
        if (*end || end == pos[i] || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "xllm detokenize: '%s' is not a token id\n", pos[i]);
            xllm_free(ids);
            xllm_free(pos);
            return 2;
        }
        ids[n++] = (int32_t)v;
    }
    xllm_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0;
    xllm_status st = ids ? xllm_tokenizer_open_path(pos[0], &tok) : xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "out of memory");
    if (!st)
        st = xllm_detokenize(tok, ids, n, !no_render, &text, &len);
    if (st) {
        rc = fail("detokenize", st);
    } else {
        fwrite(text, 1, len, stdout);
        printf("\n");
    }
    xllm_free(text);
    xllm_free(ids);
    xllm_free(pos);
    xllm_tokenizer_free(tok);
    return rc;
}
