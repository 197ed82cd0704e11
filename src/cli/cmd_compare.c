/* cmd_compare.c - `xllm compare M1 M2`: two models on the same work, one after
 * the other (each alone in memory): load time, resident memory, prefill and
 * decode tokens/s, perplexity on a text (llama-perplexity's windows, see
 * cli/perplexity.h) and greedy outputs for the same prompts, shown side by side
 * with the point where they part marked. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "base/sysinfo.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/compare_diff.h"
#include "cli/measure.h"
#include "cli/perplexity.h"

/* Public-domain English used when --text is not given: the Gettysburg Address
 * (Bliss copy) and the Preamble of the United States Constitution. */
static const char default_text[] =
    "Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in "
    "Liberty, and dedicated to the proposition that all men are created equal.\n"
    "Now we are engaged in a great civil war, testing whether that nation, or any nation so conceived and so "
    "dedicated, can long endure. We are met on a great battle-field of that war. We have come to dedicate a "
    "portion of that field, as a final resting place for those who here gave their lives that that nation might "
    "live. It is altogether fitting and proper that we should do this.\n"
    "But, in a larger sense, we can not dedicate -- we can not consecrate -- we can not hallow -- this ground. The "
    "brave men, living and dead, who struggled here, have consecrated it, far above our poor power to add or "
    "detract. The world will little note, nor long remember what we say here, but it can never forget what they "
    "did here. It is for us the living, rather, to be dedicated here to the unfinished work which they who fought "
    "here have thus far so nobly advanced. It is rather for us to be here dedicated to the great task remaining "
    "before us -- that from these honored dead we take increased devotion to that cause for which they gave the "
    "last full measure of devotion -- that we here highly resolve that these dead shall not have died in vain -- "
    "that this nation, under God, shall have a new birth of freedom -- and that government of the people, by the "
    "people, for the people, shall not perish from the earth.\n"
    "We the People of the United States, in Order to form a more perfect Union, establish Justice, insure "
    "domestic Tranquility, provide for the common defence, promote the general Welfare, and secure the Blessings "
    "of Liberty to ourselves and our Posterity, do ordain and establish this Constitution for the United States "
    "of America.\n";

static const char *const default_prompts[] = {
    "In the beginning",
    "Once upon a time",
    "The capital of France is",
    "The quick brown fox",
};

enum { DEFAULT_WINDOW = 512, MIN_WINDOW = 8 };

typedef struct compare_opts {
    const char *prompts_file, *text_file;
    int ctx, stride, num_predict, threads, json, quiet;
} compare_opts;

/* The shared work: prompts and the text, and the window both models use. */
typedef struct compare_work {
    const char *const *prompts; /* default_prompts or file_prompts */
    int n_prompts;
    const char **file_prompts;  /* [XLLM_COMPARE_MAX_PROMPTS] lines of prompts_buf */
    char *prompts_buf;          /* --prompts file contents */
    const char *text;           /* default_text or text_buf */
    char *text_buf;             /* --text file contents */
    int32_t window, stride;     /* decided on the first model */
} compare_work;

typedef struct model_result {
    const char *path, *arch, *quant;
    uint64_t model_bytes, rss_loaded, rss_end, peak_rss, vocab_hash;
    int32_t n_vocab;
    double load_s;
    cli_gen_stats gen;     /* summed over the prompts */
    int64_t text_tokens;
    xllm_ppl_result ppl;
    int32_t **ids;         /* [n_prompts][num_predict] greedy outputs */
    int32_t *n_ids;        /* [n_prompts] */
    char **texts;          /* [n_prompts] detokenized outputs */
} model_result;

static void result_free(model_result *r, int n_prompts)
{
    for (int i = 0; i < n_prompts; i++) {
        xllm_free(r->ids ? r->ids[i] : NULL);
        xllm_free(r->texts ? r->texts[i] : NULL);
    }
    xllm_free(r->ids);
    xllm_free(r->n_ids);
    xllm_free(r->texts);
}

/* FNV-1a over the vocabulary (size, token texts and types): equal hashes mean
 * the two models tokenize alike, so their perplexities compare directly. */
static uint64_t vocab_hash(const xllm_tokenizer *tok)
{
    uint64_t h = 0xcbf29ce484222325ull;
    int32_t n = xllm_tokenizer_n_vocab(tok);
    for (int32_t id = 0; id < n; id++) {
        size_t len = 0;
        const char *t = xllm_tokenizer_token_text(tok, id, &len);
        for (size_t i = 0; t && i < len; i++)
            h = (h ^ (unsigned char)t[i]) * 0x100000001b3ull;
        h = (h ^ (uint64_t)xllm_tokenizer_token_type(tok, id) ^ 0xff00) * 0x100000001b3ull;
    }
    return h ^ (uint64_t)n;
}

/* The first model decides the window: --ctx, else min(512, its context),
 * cut to half the text's tokens when the text holds fewer than two windows
 * (llama-perplexity refuses such texts). */
static xllm_status choose_window(const compare_opts *o, xllm_session *s, int64_t n_tokens, compare_work *w)
{
    int32_t win = o->ctx > 0 ? o->ctx : DEFAULT_WINDOW;
    if (w->window)
        return XLLM_OK;
    if (!o->ctx) {
        if (win > xllm_session_n_ctx(s))
            win = xllm_session_n_ctx(s);
        if (n_tokens < 2 * (int64_t)win)
            win = (int32_t)(n_tokens / 2) & ~1;
        if (win < MIN_WINDOW)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "compare: the text is only %lld tokens; give a longer --text",
                             (long long)n_tokens);
    }
    w->window = win;
    w->stride = o->stride >= 0 ? o->stride : win / 2;
    return XLLM_OK;
}

static xllm_status run_perplexity(const compare_opts *o, cli_model *m, compare_work *w, const char *label,
                                  model_result *r)
{
    int32_t *ids = NULL;
    size_t n = 0;
    xllm_ppl_params p;
    xllm_progress prog;
    xllm_status st = xllm_tokenize(m->tok, w->text, strlen(w->text), 1, 0, &ids, &n);
    if (st != XLLM_OK)
        return st;
    r->text_tokens = (int64_t)n;
    if ((st = choose_window(o, m->session, (int64_t)n, w)) != XLLM_OK)
        goto out;
    p = (xllm_ppl_params){w->window, w->stride, xllm_tokenizer_bos(m->tok), m->tok};
    if (!xllm_tokenizer_add_bos(m->tok))
        p.bos = -1;
    xllm_progress_begin(&prog, label, "tokens",
                        (uint64_t)xllm_ppl_windows(&p, (int64_t)n) * (uint64_t)xllm_ppl_scored_per_window(&p),
                        o->quiet);
    st = xllm_perplexity(m->session, ids, (int64_t)n, &p, &prog, &r->ppl);
    xllm_progress_end(&prog, st == XLLM_OK);
out:
    xllm_free(ids);
    return st;
}

/* Greedy outputs of every prompt (stopping at end of text), timings summed. */
static xllm_status run_prompts(const compare_opts *o, xllm_instance *m, const compare_work *w, model_result *r)
{
    xllm_status st = XLLM_OK;
    r->ids = xllm_calloc((size_t)w->n_prompts, sizeof *r->ids);
    r->n_ids = xllm_calloc((size_t)w->n_prompts, sizeof *r->n_ids);
    r->texts = xllm_calloc((size_t)w->n_prompts, sizeof *r->texts);
    if (!r->ids || !r->n_ids || !r->texts)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "compare: outputs");
    for (int i = 0; i < w->n_prompts && st == XLLM_OK; i++) {
        int32_t *prompt = NULL;
        size_t n = 0, len;
        cli_gen_stats g;
        r->ids[i] = xllm_calloc((size_t)o->num_predict, sizeof(int32_t));
        if (!r->ids[i])
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "compare: outputs");
        st = xllm_tokenize(m->tok, w->prompts[i], strlen(w->prompts[i]), 1, 1, &prompt, &n);
        if (st == XLLM_OK)
            st = cli_generate_greedy(m, prompt, (int32_t)n, o->num_predict, 1, (uint64_t)i + 1, r->ids[i], NULL,
                                     &g);
        xllm_free(prompt);
        if (st != XLLM_OK)
            break;
        r->n_ids[i] = g.n_new;
        r->gen.n_prompt += g.n_prompt;
        r->gen.n_steps += g.n_steps;
        r->gen.prefill_s += g.prefill_s;
        r->gen.decode_s += g.decode_s;
        st = xllm_detokenize(m->tok, r->ids[i], (size_t)g.n_new, 0, &r->texts[i], &len);
    }
    return st;
}

static xllm_status run_model(const char *path, const char *label, const compare_opts *o, compare_work *w,
                             model_result *r)
{
    cli_model m = {0};
    xllm_status st;
    r->path = path;
    xllm_reset_peak_rss();
    /* the session's default context (model's, at most 4096) unless the window needs more */
    if ((st = cli_model_open(path, o->threads, o->ctx > 4096 ? o->ctx : 0, 1, &m)) != XLLM_OK)
        return st;
    r->load_s = m.load_seconds;
    r->rss_loaded = xllm_rss_bytes();
    r->model_bytes = m.model_bytes;
    r->quant = m.quant;
    r->arch = m.arch;
    r->n_vocab = xllm_tokenizer_n_vocab(m.tok);
    r->vocab_hash = vocab_hash(m.tok);
    st = run_perplexity(o, &m, w, label, r);
    cli_model_close(&m);
    /* generation goes through the scheduler, in its own instance of the model */
    if (st == XLLM_OK) {
        xllm_instance_params ip = xllm_instance_params_default();
        xllm_instance *in = NULL;
        ip.model_path = path;
        ip.n_threads = o->threads;
        ip.sched.max_running = 1;
        if ((st = xllm_instance_open(&ip, &in)) == XLLM_OK)
            st = in->sched ? run_prompts(o, in, w, r)
                           : xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s is an embedding model", path);
        xllm_instance_close(in);
    }
    r->rss_end = xllm_rss_bytes();
    r->peak_rss = xllm_peak_rss_bytes();
    return st;
}

/* ---- output ---- */

static double mib(uint64_t b) { return (double)b / 1048576.0; }

static double bits_per_byte(const xllm_ppl_result *p)
{
    return p->n_bytes ? p->nll / (log(2.0) * (double)p->n_bytes) : 0;
}

static int term_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 100;
}

/* One row of the table; column A is w wide. */
static void print_row(int w, const char *name, const char *a, const char *b)
{
    printf("%-24s %-*s %s\n", name, w, a, b);
}

/* Prefill speed: the perplexity windows are the prefill work. */
static double prefill_tps(const model_result *r)
{
    return r->ppl.seconds > 0 ? r->ppl.n_evaluated / r->ppl.seconds : 0;
}

static void print_models(const model_result *r)
{
    char a[2][96];
    int w = (int)strlen(r[0].path) + 2 > 32 ? (int)strlen(r[0].path) + 2 : 32;
    print_row(w, "", "A", "B");
    print_row(w, "model", r[0].path, r[1].path);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%s, %s, %.1f MiB", r[k].arch, r[k].quant, mib(r[k].model_bytes));
    print_row(w, "type", a[0], a[1]);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%.3f s", r[k].load_s);
    print_row(w, "load", a[0], a[1]);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%.2f", prefill_tps(&r[k]));
    print_row(w, "prefill tokens/s", a[0], a[1]);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%.2f", cli_decode_tps(&r[k].gen));
    print_row(w, "decode tokens/s", a[0], a[1]);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%.4f", r[k].ppl.ppl);
    print_row(w, "perplexity", a[0], a[1]);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%.4f nats, %.4f bits/byte", r[k].ppl.nll / (double)r[k].ppl.n_scored,
                 bits_per_byte(&r[k].ppl));
    print_row(w, "per scored token", a[0], a[1]);
    for (int k = 0; k < 2; k++)
        snprintf(a[k], sizeof a[k], "%.1f / %.1f MiB", mib(r[k].rss_end), mib(r[k].peak_rss));
    print_row(w, "memory (RSS / peak)", a[0], a[1]);
}

static void print_text(const compare_opts *o, const compare_work *w, const model_result *r, int shared)
{
    int col = (term_width() - 7) / 2;
    print_models(r);
    printf("\nvocabulary: %s\n",
           shared ? "shared, so the perplexities compare directly"
                  : "DIFFERENT: each perplexity is on the model's own tokenization; compare bits/byte instead");
    if (w->stride)
        printf("perplexity: windows of %d tokens, stride %d, the last %d of each scored (llama-perplexity -c %d "
               "--ppl-stride %d)\n",
               w->window, w->stride, w->stride, w->window, w->stride);
    else
        printf("perplexity: non-overlapping windows of %d tokens after BOS, positions %d..%d scored "
               "(llama-perplexity -c %d)\n",
               w->window, w->window / 2 + 1, w->window - 1, w->window);
    for (int k = 0; k < 2; k++)
        printf("            %c: %d windows, %lld of %lld text tokens scored\n", 'A' + k, r[k].ppl.n_windows,
               (long long)r[k].ppl.n_scored, (long long)r[k].text_tokens);
    printf("\ngreedy outputs (at most %d tokens, stopping at end of text; %s marks where they part):\n",
           o->num_predict, CLI_DIFF_MARK);
    for (int i = 0; i < w->n_prompts; i++) {
        cli_divergence d;
        cli_diverge(r[0].texts[i], strlen(r[0].texts[i]), r[0].ids[i], r[0].n_ids[i], r[1].texts[i],
                    strlen(r[1].texts[i]), r[1].ids[i], r[1].n_ids[i], shared, &d);
        printf("\n[%d] \"%s\": ", i + 1, w->prompts[i]);
        if (d.identical)
            printf("identical\n");
        else if (d.token >= 0)
            printf("part at token %d of the output\n", d.token + 1);
        else
            printf("part at byte %zu\n", d.byte == (size_t)-1 ? strlen(r[0].texts[i]) : d.byte);
        cli_print_side_by_side(stdout, "    ", r[0].texts[i], r[1].texts[i], d.byte, col);
    }
}

static json_t *model_json(const model_result *r, int n_prompts)
{
    json_t *o = json_object(), *p = json_object(), *outs = json_array();
    json_object_set_new(o, "model", json_string(r->path));
    json_object_set_new(o, "architecture", json_string(r->arch));
    json_object_set_new(o, "quantization", json_string(r->quant));
    json_object_set_new(o, "model_bytes", json_integer((json_int_t)r->model_bytes));
    json_object_set_new(o, "load_seconds", json_real(r->load_s));
    json_object_set_new(o, "rss_after_load_bytes", json_integer((json_int_t)r->rss_loaded));
    json_object_set_new(o, "rss_bytes", json_integer((json_int_t)r->rss_end));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)r->peak_rss));
    json_object_set_new(o, "prefill_tokens_per_s", json_real(prefill_tps(r)));
    json_object_set_new(o, "decode_tokens_per_s", json_real(cli_decode_tps(&r->gen)));
    json_object_set_new(o, "vocab_size", json_integer(r->n_vocab));
    json_object_set_new(p, "value", json_real(r->ppl.ppl));
    json_object_set_new(p, "nll_per_token", json_real(r->ppl.nll / (double)r->ppl.n_scored));
    json_object_set_new(p, "bits_per_byte", json_real(bits_per_byte(&r->ppl)));
    json_object_set_new(p, "text_tokens", json_integer(r->text_tokens));
    json_object_set_new(p, "windows", json_integer(r->ppl.n_windows));
    json_object_set_new(p, "scored_tokens", json_integer(r->ppl.n_scored));
    json_object_set_new(o, "perplexity", p);
    for (int i = 0; i < n_prompts; i++)
        json_array_append_new(outs, json_string(r->texts[i]));
    json_object_set_new(o, "outputs", outs);
    return o;
}

static void print_json(const compare_opts *o, const compare_work *w, const model_result *r, int shared)
{
    json_t *root = json_object(), *models = json_array(), *rule = json_object(), *prompts = json_array();
    json_array_append_new(models, model_json(&r[0], w->n_prompts));
    json_array_append_new(models, model_json(&r[1], w->n_prompts));
    json_object_set_new(root, "models", models);
    json_object_set_new(root, "shared_vocabulary", json_boolean(shared));
    json_object_set_new(rule, "window", json_integer(w->window));
    json_object_set_new(rule, "stride", json_integer(w->stride));
    json_object_set_new(root, "perplexity_rule", rule);
    json_object_set_new(root, "num_predict", json_integer(o->num_predict));
    for (int i = 0; i < w->n_prompts; i++) {
        json_t *e = json_object(), *outs = json_array();
        cli_divergence d;
        cli_diverge(r[0].texts[i], strlen(r[0].texts[i]), r[0].ids[i], r[0].n_ids[i], r[1].texts[i],
                    strlen(r[1].texts[i]), r[1].ids[i], r[1].n_ids[i], shared, &d);
        json_object_set_new(e, "prompt", json_string(w->prompts[i]));
        json_object_set_new(e, "identical", json_boolean(d.identical));
        json_object_set_new(e, "diverge_token", d.token >= 0 ? json_integer(d.token) : json_null());
        json_object_set_new(e, "diverge_byte", d.byte != (size_t)-1 ? json_integer((json_int_t)d.byte) : json_null());
        json_array_append_new(outs, json_string(r[0].texts[i]));
        json_array_append_new(outs, json_string(r[1].texts[i]));
        json_object_set_new(e, "outputs", outs);
        json_array_append_new(prompts, e);
    }
    json_object_set_new(root, "prompts", prompts);
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    putchar('\n');
    json_decref(root);
}

/* ---- inputs ---- */

/* One prompt per non-empty line of the file. */
static xllm_status load_prompts(const char *path, compare_work *w)
{
    size_t len = 0;
    char *save = NULL;
    xllm_status st;
    w->prompts = default_prompts;
    w->n_prompts = (int)(sizeof default_prompts / sizeof default_prompts[0]);
    if (!path)
        return XLLM_OK;
    if ((st = xllm_read_file(path, 1u << 20, &w->prompts_buf, &len)) != XLLM_OK)
        return st;
    w->prompts = w->file_prompts = xllm_calloc(XLLM_COMPARE_MAX_PROMPTS, sizeof(char *));
    w->n_prompts = 0;
    if (!w->file_prompts)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "compare: prompts");
    for (char *line = strtok_r(w->prompts_buf, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        if (w->n_prompts == XLLM_COMPARE_MAX_PROMPTS)
            return xllm_fail(XLLM_ERR_LIMIT, "%s: more than %d prompts", path, XLLM_COMPARE_MAX_PROMPTS);
        w->file_prompts[w->n_prompts++] = line;
    }
    if (!w->n_prompts)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%s: no prompts (one per line)", path);
    return XLLM_OK;
}

static xllm_status load_inputs(const compare_opts *o, compare_work *w)
{
    size_t len;
    xllm_status st = load_prompts(o->prompts_file, w);
    if (st != XLLM_OK)
        return st;
    w->text = default_text;
    if (!o->text_file)
        return XLLM_OK;
    if ((st = xllm_read_file(o->text_file, XLLM_PPL_MAX_TEXT_BYTES, &w->text_buf, &len)) != XLLM_OK)
        return st;
    w->text = w->text_buf;
    return XLLM_OK;
}

static void work_free(compare_work *w)
{
    xllm_free(w->file_prompts);
    xllm_free(w->prompts_buf);
    xllm_free(w->text_buf);
}

static int compare(const char *m1, const char *m2, const compare_opts *o)
{
    compare_work w;
    model_result r[2];
    xllm_status st;
    memset(&w, 0, sizeof w);
    memset(r, 0, sizeof r);
    st = load_inputs(o, &w);
    if (st == XLLM_OK)
        st = run_model(m1, "perplexity A", o, &w, &r[0]);
    if (st == XLLM_OK)
        st = run_model(m2, "perplexity B", o, &w, &r[1]);
    if (st == XLLM_OK) {
        int shared = r[0].n_vocab == r[1].n_vocab && r[0].vocab_hash == r[1].vocab_hash;
        if (o->json)
            print_json(o, &w, r, shared);
        else
            print_text(o, &w, r, shared);
    }
    result_free(&r[0], w.n_prompts);
    result_free(&r[1], w.n_prompts);
    work_free(&w);
    return st == XLLM_OK ? 0 : cli_error("compare", st);
}

int cmd_compare(int argc, char **argv)
{
    compare_opts o = {NULL, NULL, 0, -1, 32, 0, 0, 0};
    const char *pos[2];
    int n_pos = 0, rc;
    const xllm_opt opts[] = {
        {"prompts", XLLM_OPT_STR, &o.prompts_file, "file with one prompt per line (default: 4 built-in prompts)"},
        {"text", XLLM_OPT_STR, &o.text_file, "text to score (default: built-in public-domain English)"},
        {"ctx", XLLM_OPT_INT, &o.ctx, "perplexity window in tokens (default: min(512, context), halved to fit "
                                      "the text)"},
        {"ppl-stride", XLLM_OPT_INT, &o.stride, "window stride (default: window/2; 0 = llama-perplexity's "
                                                "non-overlapping chunks)"},
        {"num-predict", XLLM_OPT_INT, &o.num_predict, "tokens generated per prompt (default 32)"},
        CLI_OPT_THREADS(o.threads),
        {"json", XLLM_OPT_FLAG, &o.json, "print one JSON object"},
        {"quiet", XLLM_OPT_FLAG, &o.quiet, "no progress on stderr"},
    };
    rc = xllm_args_parse(
        argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 2, &n_pos,
        "M1 M2 [options]\n\n"
        "Runs both models (one at a time) on the same work: perplexity of the text and greedy outputs\n"
        "of the prompts (shown side by side, the point where they part marked). Perplexity follows\n"
        "llama.cpp's llama-perplexity: the text is tokenized with BOS; with a stride S (default half\n"
        "the window W) window i is tokens [i*S, i*S+W), evaluated from an empty cache, and only its\n"
        "last S tokens are scored (as llama-perplexity -c W --ppl-stride S: the first W-S tokens of\n"
        "the text are never scored); with --ppl-stride 0, non-overlapping windows of W with BOS as\n"
        "their first token, scoring positions W/2+1 .. W-1 (llama-perplexity -c W). Models with\n"
        "different vocabularies are each scored on their own tokenization (compare bits/byte).");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 2 || o.num_predict < 1 || o.ctx < 0 || (o.ctx && o.ctx < 3) || o.stride < -1) {
        fprintf(stderr, "xllm compare: need M1 M2, --num-predict >= 1, --ctx >= 3 and --ppl-stride >= 0\n");
        return 2;
    }
    return compare(pos[0], pos[1], &o);
}
