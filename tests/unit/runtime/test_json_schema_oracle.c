/* test_json_schema_oracle.c - the schema oracle: for every schema under
 * tests/fixtures/schemas (tools/gen_schemas.py) and several seeds, sample the
 * demo model (models/kjv-demo.gguf) with the schema's grammar applied to the
 * logits, write each output to a temporary JSONL file, and have
 * tools/validate_schemas.py check them all with Python's jsonschema. After a
 * few sampled tokens the test finishes the instance by taking, among the
 * allowed tokens, one that shortens the remaining grammar most (the 256-token
 * context must hold it). Under ASan a subset runs. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "engine/session.h"
#include "runtime/grammar.h"
#include "runtime/json_schema.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

#define SCHEMA_DIR "tests/fixtures/schemas"
#define SAMPLED 24 /* tokens sampled freely under the mask before finishing */

#if defined(__SANITIZE_ADDRESS__)
enum { STRIDE = 10, SEEDS = 1 };
#else
enum { STRIDE = 1, SEEDS = 2 };
#endif

typedef struct {
    xllm_session *sess;
    xllm_tokenizer *tok;
    xllm_grammar_vocab *voc;
    float *logits, *masked;
    int32_t n_vocab;
} oracle;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Among allowed tokens: the fewest remaining bytes, then the larger logit. */
static int32_t finishing_token(oracle *o, xllm_grammar_state *g)
{
    int32_t best = -1;
    size_t best_rem = SIZE_MAX;
    for (int32_t t = 0; t < o->n_vocab; t++) {
        size_t rem;
        if (isinf(o->masked[t]) || xllm_grammar_peek(g, o->voc, t, &rem))
            continue;
        if (rem < best_rem || (rem == best_rem && o->masked[t] > o->masked[best]))
            best = t, best_rem = rem;
    }
    return best;
}

/* One constrained generation; the output text goes to *out (heap). */
static xllm_status generate(oracle *o, const xllm_grammar *gr, uint64_t seed, char **out)
{
    xllm_grammar_state *g = NULL;
    xllm_sampler *smp = NULL;
    xllm_sampler_params p = xllm_sampler_defaults();
    p.temperature = 1.0f, p.top_k = 0, p.top_p = 1.0f, p.repeat_penalty = 1.0f, p.seed = seed;
    xllm_buf text;
    xllm_buf_init(&text, 1u << 20);
    xllm_status st = xllm_grammar_state_new(gr, &g);
    st = st ? st : xllm_sampler_new(&p, o->n_vocab, &smp);
    xllm_session_reset(o->sess);
    int32_t prompt[2] = {xllm_tokenizer_bos(o->tok) >= 0 ? xllm_tokenizer_bos(o->tok) : 0, 0};
    int32_t n_prompt = 1;
    st = st ? st : xllm_session_eval(o->sess, prompt, n_prompt, 0, o->logits);
    int32_t ctx = xllm_session_n_ctx(o->sess);
    for (int32_t step = 0; !st && xllm_session_n_past(o->sess) < ctx; step++) {
        memcpy(o->masked, o->logits, (size_t)o->n_vocab * sizeof *o->masked);
        if ((st = xllm_grammar_apply(g, o->voc, o->masked)))
            break;
        int32_t t = step < SAMPLED ? xllm_sampler_sample(smp, o->masked) : finishing_token(o, g);
        if (t < 0 || isinf(o->masked[t])) {
            st = xllm_fail(XLLM_ERR_INTERNAL, "step %d: no allowed token (%d)", step, t);
            break;
        }
        if ((st = xllm_grammar_accept(g, o->voc, t)))
            break;
        if (xllm_tokenizer_is_eog(o->tok, t))
            break;
        char piece[256];
        int32_t n = xllm_token_to_piece(o->tok, t, 0, piece, sizeof piece);
        if ((st = xllm_buf_append(&text, piece, (size_t)(n > 0 ? n : 0))))
            break;
        if (xllm_grammar_done(g))
            break;
        if (xllm_session_n_past(o->sess) + 1 >= ctx)
            break;
        st = xllm_session_eval(o->sess, &t, 1, 0, o->logits);
    }
    if (!st && !xllm_grammar_can_end(g))
        st = xllm_fail(XLLM_ERR_LIMIT, "context full before the grammar could end: %.*s", (int)text.len,
                       text.data ? text.data : "");
    if (!st)
        *out = xllm_buf_take(&text);
    xllm_buf_free(&text);
    xllm_sampler_free(smp);
    xllm_grammar_state_free(g);
    return st;
}

TEST(json_schema_oracle_demo_model)
{
    if (!xllm_path_exists("models/kjv-demo.gguf") || system("python3 -c 'import jsonschema' 2>/dev/null") != 0) {
        test_skip("needs models/kjv-demo.gguf and python3-jsonschema");
        return;
    }
    oracle o = {0};
    CHECK_OK(xllm_session_open("models/kjv-demo.gguf", 1, 0, &o.sess));
    if (!o.sess)
        return;
    CHECK_OK(xllm_tokenizer_load(xllm_session_gguf(o.sess), &o.tok));
    CHECK_OK(xllm_grammar_vocab_new(o.tok, &o.voc));
    o.n_vocab = xllm_session_n_vocab(o.sess);
    o.logits = xllm_malloc((size_t)o.n_vocab * sizeof(float));
    o.masked = xllm_malloc((size_t)o.n_vocab * sizeof(float));
    char *names[512];
    int n_names = 0;
    DIR *d = opendir(SCHEMA_DIR);
    for (struct dirent *e; d && (e = readdir(d)) && n_names < 512;)
        if (strstr(e->d_name, ".json"))
            names[n_names++] = xllm_strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n_names, sizeof *names, cmp_str);
    CHECK_MSG(n_names >= 100, "only %d schemas in " SCHEMA_DIR, n_names);
    char tmp[] = "/tmp/xllm-schema-oracle-XXXXXX";
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f != NULL);
    int made = 0;
    for (int i = 0; f && o.voc && i < n_names; i += STRIDE) {
        char path[512];
        snprintf(path, sizeof path, SCHEMA_DIR "/%s", names[i]);
        json_error_t je;
        json_t *s = json_load_file(path, 0, &je);
        char *gbnf = NULL;
        size_t len = 0;
        xllm_grammar *gr = NULL;
        xllm_status st = s ? xllm_json_schema_to_gbnf(s, 0, &gbnf, &len) : XLLM_ERR_FORMAT;
        st = st ? st : xllm_grammar_compile(gbnf, len, NULL, &gr);
        CHECK_MSG(!st, "%s: %s", path, s ? xllm_last_error() : je.text);
        for (uint64_t seed = 1; !st && seed <= SEEDS; seed++) {
            char *out = NULL;
            xllm_status gs = generate(&o, gr, seed * 7919 + (uint64_t)i, &out);
            CHECK_MSG(!gs, "%s seed %llu: %s", path, (unsigned long long)seed, xllm_last_error());
            if (gs)
                continue;
            json_t *rec = json_pack("{s:s,s:I,s:s}", "schema", path, "seed", (json_int_t)seed, "output", out);
            char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
            CHECK_MSG(line != NULL, "%s: output is not UTF-8: %s", path, out);
            if (line)
                fprintf(f, "%s\n", line), made++;
            free(line);
            json_decref(rec);
            xllm_free(out);
        }
        xllm_grammar_free(gr);
        xllm_free(gbnf);
        json_decref(s);
    }
    if (f)
        fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "python3 tools/validate_schemas.py %s", tmp);
    CHECK_MSG(made > 0 && system(cmd) == 0, "validator refused outputs (%d written)", made);
    unlink(tmp);
    for (int i = 0; i < n_names; i++)
        xllm_free(names[i]);
    xllm_free(o.logits);
    xllm_free(o.masked);
    xllm_grammar_vocab_free(o.voc);
    xllm_tokenizer_free(o.tok);
    xllm_session_close(o.sess);
}
