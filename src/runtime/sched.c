/* sched.c - continuous batching: admission, chunked prefill, decode, prefix
 * reuse, preemption by recompute, sampling, stops and the event stream. */
#include "runtime/sched.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "engine/engine_host.h"
#include "runtime/grammar.h"
#include "runtime/grammar_cache.h"
#include "runtime/kv_blocks.h"
#include "runtime/stops.h"

/* Logits rows beyond one per running sequence, for prompt logprobs. */
#define PROMPT_LP_ROWS 64

typedef enum seq_state { SEQ_WAITING, SEQ_RUNNING } seq_state;

typedef struct seq {
    uint64_t id;
    xllm_gen_params p;      /* stops / bias pointers cleared (copied below) */
    xllm_gen_cb cb;
    void *user;
    seq_state state;
    int cancelled;
    int32_t *tok;           /* [n_ctx] prompt, then generated tokens */
    int32_t n_tok, n_prompt, n_ctx, max_new;
    int32_t n_computed;     /* tokens whose KV is in the blocks */
    int32_t *blocks;        /* [n_ctx / BLOCK + 1] block table */
    uint64_t *keys;         /* [same] chained key of each full block */
    int32_t n_blocks, n_keyed;
    int32_t n_cached, n_generated, n_preempted;
    int32_t lp_next;        /* next prompt position whose logprob goes out (prompt_logprobs) */
    int32_t *bias_tok;      /* [n_bias] */
    float *bias_val;
    char **stop_strs;       /* [n_stops] */
    xllm_sampler *sampler;  /* made at first admission, kept through preemption */
    xllm_detok *detok;
    xllm_stops *stops;
    xllm_grammar_state *gstate; /* made at submit (its tables own the compiled grammar), or NULL */
    uint64_t admit_order;
    uint64_t t_submit, t_sched, t_first;
    struct seq *prev, *next; /* waiting queue links */
} seq;

typedef struct queue {
    seq *head, *tail;
    int32_t n;
} queue;

/* One sequence's part of the step being built. */
typedef struct step_part {
    seq *s;
    int32_t first, count;   /* tokens in the flat batch */
    int32_t row, n_rows;    /* logits rows */
} step_part;

struct xllm_sched {
    const xllm_engine_api *api;
    xllm_engine_ctx *ctx;
    const xllm_tokenizer *tok;
    xllm_sched_params p;
    xllm_kv_blocks *pool;
    int32_t n_vocab, max_batch, max_piece, rows_cap;
    uint64_t next_id, admit_counter;
    queue wait[2];          /* by priority */
    seq **running;          /* [max_running], in admission order */
    int32_t n_running;
    /* step buffers */
    int32_t *b_tok, *b_pos, *b_seq;
    uint8_t *b_want;
    const int32_t **b_tables;
    int32_t *b_counts;
    step_part *parts;
    float *logits;          /* [rows_cap][n_vocab] */
    float *masked;          /* [n_vocab] a row with the grammar mask applied */
    xllm_grammar_vocab *gvocab; /* made at the first grammar request */
    xllm_grammar_cache *gcache; /* with it, when params.grammar_cache */
    char *text;             /* [2 * max_piece + stop bytes] assembled event text */
    xllm_top_logprob top[XLLM_MAX_TOP_LOGPROBS];
    int32_t top_ids[XLLM_MAX_TOP_LOGPROBS];
    float top_lp[XLLM_MAX_TOP_LOGPROBS];
    xllm_sched_stats st;
    uint64_t rate_t0, rate_tokens;
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

const char *xllm_finish_str(xllm_finish f)
{
    static const char *const names[] = {"", "stop", "length", "cancelled", "error"};
    return f >= XLLM_FINISH_NONE && f <= XLLM_FINISH_ERROR ? names[f] : "error";
}

xllm_gen_params xllm_gen_params_default(void)
{
    xllm_gen_params p;
    memset(&p, 0, sizeof p);
    p.sampling = xllm_sampler_defaults();
    p.sampling.temperature = 0;
    p.sampling.repeat_penalty = 1;
    p.sampling.top_k = 0;
    p.sampling.top_p = 1;
    p.sampling.penalty_last_n = 0;
    p.max_tokens = -1;
    return p;
}

xllm_sched_params xllm_sched_params_default(void)
{
    xllm_sched_params p = {16, 1000, 0, 0, 2000, 1, 1};
    return p;
}

/* ---- queues ---- */

static void q_push(queue *q, seq *s, int front)
{
    s->prev = s->next = NULL;
    if (!q->head) {
        q->head = q->tail = s;
    } else if (front) {
        s->next = q->head;
        q->head->prev = s;
        q->head = s;
    } else {
        s->prev = q->tail;
        q->tail->next = s;
        q->tail = s;
    }
    q->n++;
}

static void q_remove(queue *q, seq *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        q->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        q->tail = s->prev;
    s->prev = s->next = NULL;
    q->n--;
}

/* ---- creation ---- */

/* Bound on the bytes one token's text can release: a token's piece is never
 * longer than its stored text (byte tokens, SPM's U+2581 and byte-level BPE
 * all shrink when decoded), plus a character held back by the detokenizer. */
static int32_t longest_piece(const xllm_tokenizer *tok, int32_t n_vocab)
{
    int32_t best = 16;
    for (int32_t i = 0; i < n_vocab; i++) {
        size_t n = 0;
        if (xllm_tokenizer_token_text(tok, i, &n) && (int32_t)n > best)
            best = (int32_t)n;
    }
    return best + 8;
}

static xllm_status check_params(xllm_sched_params *p, int32_t n_blocks, int32_t max_batch, int32_t n_ctx_train)
{
    int32_t pool_ctx = n_blocks * XLLM_KV_BLOCK_SIZE;
    if (p->max_running < 1 || p->max_running > XLLM_SCHED_MAX_RUNNING)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "scheduler: max running %d (1..%d)", p->max_running,
                         XLLM_SCHED_MAX_RUNNING);
    if (p->max_waiting < 0 || p->max_waiting > XLLM_SCHED_MAX_WAITING)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "scheduler: max waiting %d (0..%d)", p->max_waiting,
                         XLLM_SCHED_MAX_WAITING);
    if (p->step_tokens <= 0 || p->step_tokens > max_batch)
        p->step_tokens = max_batch;
    if (p->max_running > p->step_tokens)
        p->max_running = p->step_tokens;
    if (p->n_ctx <= 0)
        p->n_ctx = n_ctx_train > 0 ? n_ctx_train : pool_ctx;
    if (p->n_ctx > pool_ctx)
        p->n_ctx = pool_ctx;
    if (p->batch_max_wait_ms < 0)
        p->batch_max_wait_ms = 0;
    return XLLM_OK;
}

xllm_status xllm_sched_new(const xllm_engine_api *api, xllm_engine_ctx *ctx, const xllm_tokenizer *tok,
                           int32_t n_blocks, int32_t max_batch_tokens, const xllm_sched_params *p,
                           xllm_sched **out)
{
    xllm_engine_model_info info;
    xllm_sched *s = NULL;
    xllm_status st;
    size_t T;
    *out = NULL;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (!api || !ctx || !tok || n_blocks < 1 || max_batch_tokens < 1)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "scheduler: engine, tokenizer, blocks and batch size needed");
    if (api->model_info(ctx, &info) != XLLM_ENGINE_OK)
        return xllm_fail(XLLM_ERR_INTERNAL, "scheduler: model info: %s", api->last_error(ctx));
    if (info.is_encoder)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "scheduler: %s is an embedding model (no generation)", info.arch);
    if (info.n_vocab != xllm_tokenizer_n_vocab(tok))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "scheduler: the model has %d logits, its vocabulary %d tokens",
                         info.n_vocab, xllm_tokenizer_n_vocab(tok));
    if (!(s = xllm_calloc(1, sizeof *s)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "scheduler");
    s->api = api;
    s->ctx = ctx;
    s->tok = tok;
    s->p = p ? *p : xllm_sched_params_default();
    s->n_vocab = info.n_vocab;
    s->max_batch = max_batch_tokens;
    s->next_id = 1;
    if ((st = check_params(&s->p, n_blocks, max_batch_tokens, info.n_ctx_train)) != XLLM_OK ||
        (st = xllm_kv_blocks_new(n_blocks, &s->pool)) != XLLM_OK)
        goto fail;
    s->max_piece = longest_piece(tok, s->n_vocab);
    s->rows_cap = s->p.max_running + PROMPT_LP_ROWS;
    T = (size_t)s->p.step_tokens;
    s->running = xllm_calloc((size_t)s->p.max_running, sizeof *s->running);
    s->b_tok = xllm_calloc(T, sizeof(int32_t));
    s->b_pos = xllm_calloc(T, sizeof(int32_t));
    s->b_seq = xllm_calloc(T, sizeof(int32_t));
    s->b_want = xllm_calloc(T, 1);
    s->b_tables = xllm_calloc((size_t)s->p.max_running, sizeof *s->b_tables);
    s->b_counts = xllm_calloc((size_t)s->p.max_running, sizeof *s->b_counts);
    s->parts = xllm_calloc((size_t)s->p.max_running, sizeof *s->parts);
    s->logits = xllm_calloc((size_t)s->rows_cap * (size_t)s->n_vocab, sizeof(float));
    s->text = xllm_malloc((size_t)s->max_piece * 2 + XLLM_MAX_STOP_BYTES + 16);
    s->masked = xllm_malloc(sizeof(float) * (size_t)s->n_vocab);
    if (!s->running || !s->b_tok || !s->b_pos || !s->b_seq || !s->b_want || !s->b_tables || !s->b_counts ||
        !s->parts || !s->logits || !s->text || !s->masked) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "scheduler: step buffers for %zu tokens", T);
        goto fail;
    }
    s->st.blocks_total = n_blocks;
    *out = s;
    return XLLM_OK;
fail:
    xllm_sched_free(s);
    return st;
}

static void seq_free(seq *q)
{
    if (!q)
        return;
    for (int32_t i = 0; q->stop_strs && i < q->p.n_stops; i++)
        xllm_free(q->stop_strs[i]);
    xllm_free(q->stop_strs);
    xllm_free(q->tok);
    xllm_free(q->blocks);
    xllm_free(q->keys);
    xllm_free(q->bias_tok);
    xllm_free(q->bias_val);
    xllm_sampler_free(q->sampler);
    xllm_detok_free(q->detok);
    xllm_stops_free(q->stops);
    xllm_grammar_state_free(q->gstate);
    xllm_free(q);
}

void xllm_sched_free(xllm_sched *s)
{
    if (!s)
        return;
    for (int k = 0; k < 2; k++)
        while (s->wait[k].head) {
            seq *q = s->wait[k].head;
            q_remove(&s->wait[k], q);
            seq_free(q);
        }
    for (int32_t i = 0; i < s->n_running; i++)
        seq_free(s->running[i]);
    xllm_kv_blocks_free(s->pool);
    xllm_free(s->running);
    xllm_free(s->b_tok);
    xllm_free(s->b_pos);
    xllm_free(s->b_seq);
    xllm_free(s->b_want);
    xllm_free(s->b_tables);
    xllm_free(s->b_counts);
    xllm_free(s->parts);
    xllm_free(s->logits);
    xllm_free(s->masked);
    xllm_grammar_cache_free(s->gcache);
    xllm_grammar_vocab_free(s->gvocab);
    xllm_free(s->text);
    xllm_free(s);
}

/* ---- submit / cancel ---- */

static xllm_status validate(const xllm_sched *s, const xllm_gen_params *p, int32_t n_prompt, int32_t n_ctx)
{
    const xllm_sampler_params *sp = &p->sampling;
    if (n_prompt < 1)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "the prompt is empty (no tokens)");
    if (!(sp->temperature >= 0 && sp->temperature <= 100) || !(sp->top_p > 0 && sp->top_p <= 1) ||
        sp->top_k < 0 || !(sp->min_p >= 0 && sp->min_p <= 1) || !(sp->typical_p > 0 && sp->typical_p <= 1) ||
        !(sp->repeat_penalty > 0) || !isfinite(sp->presence_penalty) || !isfinite(sp->frequency_penalty))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT,
                         "sampling parameters out of range (temperature %g, top_p %g, top_k %d, min_p %g, typical_p "
                         "%g, repeat_penalty %g)",
                         sp->temperature, sp->top_p, sp->top_k, sp->min_p, sp->typical_p, sp->repeat_penalty);
    if (p->top_logprobs < 0 || p->top_logprobs > XLLM_MAX_TOP_LOGPROBS)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "top_logprobs %d (0..%d)", p->top_logprobs,
                         XLLM_MAX_TOP_LOGPROBS);
    if (p->n_stops < 0 || p->n_stops > XLLM_MAX_STOP_STRINGS || (p->n_stops && !p->stops))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%d stop strings (at most %d)", p->n_stops,
                         XLLM_MAX_STOP_STRINGS);
    if (p->n_bias < 0 || p->n_bias > XLLM_MAX_LOGIT_BIAS || (p->n_bias && (!p->bias_tokens || !p->bias_values)))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "%d logit_bias entries (at most %d)", p->n_bias,
                         XLLM_MAX_LOGIT_BIAS);
    for (int32_t i = 0; i < p->n_bias; i++)
        if (p->bias_tokens[i] < 0 || p->bias_tokens[i] >= s->n_vocab)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "logit_bias: token id %d is outside the vocabulary (0..%d)",
                             p->bias_tokens[i], s->n_vocab - 1);
    if (n_ctx > s->p.n_ctx)
        return xllm_fail(XLLM_ERR_LIMIT, "context of %d tokens asked, this model instance serves at most %d", n_ctx,
                         s->p.n_ctx);
    if (n_prompt + 1 > n_ctx)
        return xllm_fail(XLLM_ERR_LIMIT,
                         "the prompt has %d tokens; with at least one token to generate it needs %d, the context "
                         "length is %d",
                         n_prompt, n_prompt + 1, n_ctx);
    return XLLM_OK;
}

static xllm_status seq_copy_params(seq *q, const xllm_gen_params *p)
{
    q->p = *p;
    q->p.stops = NULL;
    q->p.bias_tokens = NULL;
    q->p.bias_values = NULL;
    if (p->n_stops) {
        if (!(q->stop_strs = xllm_calloc((size_t)p->n_stops, sizeof *q->stop_strs)))
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "request stops");
        for (int32_t i = 0; i < p->n_stops; i++)
            if (!(q->stop_strs[i] = xllm_strdup(p->stops[i] ? p->stops[i] : "")))
                return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "request stops");
    }
    if (p->n_bias) {
        q->bias_tok = xllm_malloc(sizeof(int32_t) * (size_t)p->n_bias);
        q->bias_val = xllm_malloc(sizeof(float) * (size_t)p->n_bias);
        if (!q->bias_tok || !q->bias_val)
            return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "request logit bias");
        memcpy(q->bias_tok, p->bias_tokens, sizeof(int32_t) * (size_t)p->n_bias);
        memcpy(q->bias_val, p->bias_values, sizeof(float) * (size_t)p->n_bias);
    }
    return XLLM_OK;
}

/* The request's grammar state: from the grammar cache (shared with other
 * requests of the same grammar) or compiled for it alone; lazy when triggers
 * are given. */
static xllm_status seq_grammar(xllm_sched *s, seq *q, const xllm_gen_params *p)
{
    xllm_grammar_triggers tr;
    xllm_grammar_cache_stats cs;
    xllm_grammar *g = NULL;
    xllm_status st;
    if (!p->grammar)
        return XLLM_OK;
    if (!s->gvocab && (st = xllm_grammar_vocab_new(s->tok, &s->gvocab)) != XLLM_OK)
        return st;
    if (s->p.grammar_cache && !s->gcache && (st = xllm_grammar_cache_new(s->gvocab, &s->gcache)) != XLLM_OK)
        return st;
    if (s->gcache) {
        st = xllm_grammar_cache_state(s->gcache, p->grammar, strlen(p->grammar), p->grammar_root, &q->gstate);
        xllm_grammar_cache_get_stats(s->gcache, &cs);
        s->st.grammar_hits = cs.hits, s->st.grammar_misses = cs.misses;
    } else if ((st = xllm_grammar_compile(p->grammar, strlen(p->grammar), p->grammar_root, &g)) == XLLM_OK) {
        st = xllm_grammar_state_new_owned(g, &q->gstate);
        s->st.grammar_misses++;
    }
    if (st)
        return st;
    if (p->n_grammar_triggers <= 0 && p->n_grammar_trigger_tokens <= 0)
        return XLLM_OK;
    tr.words = p->grammar_triggers;
    tr.n_words = p->n_grammar_triggers > 0 ? (size_t)p->n_grammar_triggers : 0;
    tr.tokens = p->grammar_trigger_tokens;
    tr.n_tokens = p->n_grammar_trigger_tokens > 0 ? (size_t)p->n_grammar_trigger_tokens : 0;
    return xllm_grammar_state_set_lazy(q->gstate, &tr);
}

xllm_status xllm_sched_submit(xllm_sched *s, const int32_t *prompt, int32_t n_prompt, const xllm_gen_params *p,
                              xllm_gen_cb cb, void *user, uint64_t *id)
{
    xllm_gen_params def = xllm_gen_params_default();
    int32_t n_ctx, blocks_needed;
    xllm_status st;
    seq *q = NULL;
    if (!p)
        p = &def;
    n_ctx = p->n_ctx > 0 ? p->n_ctx : s->p.n_ctx;
    if ((st = validate(s, p, prompt ? n_prompt : 0, n_ctx)) != XLLM_OK)
        return st;
    for (int32_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= s->n_vocab)
            return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "prompt token %d: id %d is outside the vocabulary (0..%d)", i,
                             prompt[i], s->n_vocab - 1);
    blocks_needed = (n_prompt + 1 + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    if (blocks_needed > xllm_kv_blocks_total(s->pool))
        return xllm_fail(XLLM_ERR_LIMIT, "the prompt has %d tokens and needs %d KV blocks; the pool has %d in all",
                         n_prompt, blocks_needed, xllm_kv_blocks_total(s->pool));
    if (s->wait[0].n + s->wait[1].n >= s->p.max_waiting)
        return xllm_fail(XLLM_ERR_LIMIT, "queue full: %d requests waiting (limit %d)", s->wait[0].n + s->wait[1].n,
                         s->p.max_waiting);
    if (!(q = xllm_calloc(1, sizeof *q)))
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "request");
    q->tok = xllm_malloc(sizeof(int32_t) * (size_t)n_ctx);
    q->blocks = xllm_malloc(sizeof(int32_t) * (size_t)(n_ctx / XLLM_KV_BLOCK_SIZE + 1));
    q->keys = xllm_malloc(sizeof(uint64_t) * (size_t)(n_ctx / XLLM_KV_BLOCK_SIZE + 1));
    if (!q->tok || !q->blocks || !q->keys) {
        st = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "request of %d tokens", n_ctx);
        goto fail;
    }
    if ((st = seq_copy_params(q, p)) != XLLM_OK || (st = seq_grammar(s, q, p)) != XLLM_OK)
        goto fail;
    memcpy(q->tok, prompt, sizeof(int32_t) * (size_t)n_prompt);
    q->n_tok = q->n_prompt = n_prompt;
    q->n_ctx = n_ctx;
    q->max_new = p->max_tokens > 0 && p->max_tokens < n_ctx - n_prompt ? p->max_tokens : n_ctx - n_prompt;
    q->cb = cb;
    q->user = user;
    q->id = s->next_id++;
    q->t_submit = now_ns();
    q->state = SEQ_WAITING;
    q_push(&s->wait[p->priority == XLLM_PRIORITY_BATCH], q, 0);
    if (id)
        *id = q->id;
    return XLLM_OK;
fail:
    seq_free(q);
    return st;
}

static seq *find_seq(xllm_sched *s, uint64_t id)
{
    for (int32_t i = 0; i < s->n_running; i++)
        if (s->running[i]->id == id)
            return s->running[i];
    for (int k = 0; k < 2; k++)
        for (seq *q = s->wait[k].head; q; q = q->next)
            if (q->id == id)
                return q;
    return NULL;
}

xllm_status xllm_sched_cancel(xllm_sched *s, uint64_t id)
{
    seq *q = find_seq(s, id);
    if (!q)
        return xllm_fail(XLLM_ERR_NOT_FOUND, "request %llu is not running or waiting", (unsigned long long)id);
    q->cancelled = 1;
    return XLLM_OK;
}

/* ---- events ---- */

static void emit_final(xllm_sched *s, seq *q, xllm_finish f, const char *error, const char *stop)
{
    xllm_gen_event ev;
    uint64_t t = now_ns();
    memset(&ev, 0, sizeof ev);
    ev.type = XLLM_EVENT_FINAL;
    ev.request_id = q->id;
    ev.token = -1;
    ev.logprob = NAN;
    ev.finish = f;
    ev.error = error;
    ev.stop_string = stop;
    ev.n_prompt = q->n_prompt;
    ev.n_cached = q->n_cached;
    ev.n_generated = q->n_generated;
    ev.n_preempted = q->n_preempted;
    ev.t.queue_ns = q->t_sched ? q->t_sched - q->t_submit : t - q->t_submit;
    ev.t.prefill_ns = q->t_first ? q->t_first - q->t_sched : (q->t_sched ? t - q->t_sched : 0);
    ev.t.decode_ns = q->t_first ? t - q->t_first : 0;
    s->st.requests_done++;
    if (q->cb)
        q->cb(q->user, &ev);
}

static void emit_token(xllm_sched *s, seq *q, int32_t token, int is_prompt, const char *text, size_t len, float lp,
                       int32_t n_top)
{
    xllm_gen_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = XLLM_EVENT_TOKEN;
    ev.request_id = q->id;
    ev.token = token;
    ev.is_prompt = is_prompt;
    ev.text = text;
    ev.text_len = len;
    ev.logprob = lp;
    for (int32_t i = 0; i < n_top; i++) {
        s->top[i].token = s->top_ids[i];
        s->top[i].logprob = s->top_lp[i];
    }
    ev.n_top = n_top;
    ev.top = s->top;
    if (q->cb)
        q->cb(q->user, &ev);
}

/* ---- block bookkeeping ---- */

static void seq_release_blocks(xllm_sched *s, seq *q)
{
    for (int32_t i = 0; i < q->n_blocks; i++)
        xllm_kv_blocks_release(s->pool, q->blocks[i]);
    q->n_blocks = q->n_keyed = 0;
    q->n_computed = 0;
}

static void running_remove(xllm_sched *s, seq *q)
{
    for (int32_t i = 0; i < s->n_running; i++)
        if (s->running[i] == q) {
            memmove(s->running + i, s->running + i + 1, sizeof *s->running * (size_t)(s->n_running - i - 1));
            s->n_running--;
            return;
        }
}

static void finish(xllm_sched *s, seq *q, xllm_finish f, const char *error, const char *stop)
{
    if (q->state == SEQ_RUNNING)
        running_remove(s, q);
    else
        q_remove(&s->wait[q->p.priority == XLLM_PRIORITY_BATCH], q);
    seq_release_blocks(s, q);
    emit_final(s, q, f, error, stop);
    seq_free(q);
}

/* Publish the keys of full blocks computed so far (prompt and generated). */
static void publish_blocks(xllm_sched *s, seq *q)
{
    int32_t full = q->n_computed / XLLM_KV_BLOCK_SIZE;
    for (; q->n_keyed < full; q->n_keyed++) {
        int32_t b = q->n_keyed;
        uint64_t parent = b ? q->keys[b - 1] : 0;
        const int32_t *t = q->tok + (size_t)b * XLLM_KV_BLOCK_SIZE;
        q->keys[b] = xllm_kv_block_key(parent, t, q->p.cache_salt);
        if (s->p.prefix_cache && !q->p.prompt_logprobs)
            xllm_kv_blocks_publish(s->pool, q->blocks[b], q->keys[b], parent, t, q->p.cache_salt);
    }
}

static void preempt(xllm_sched *s, seq *q)
{
    running_remove(s, q);
    seq_release_blocks(s, q);
    q->n_preempted++;
    q->state = SEQ_WAITING;
    q_push(&s->wait[q->p.priority == XLLM_PRIORITY_BATCH], q, 1);
    s->st.preemptions++;
}

/* Reuse cached full blocks of q's tokens (never the block of its last token,
 * which must be computed for logits), then allocate blocks for the rest of
 * its tokens. Returns 0 and holds nothing when the pool cannot cover it. */
static int admit_blocks(xllm_sched *s, seq *q)
{
    int32_t need = (q->n_tok + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE;
    int32_t reusable = (q->n_tok - 1) / XLLM_KV_BLOCK_SIZE, hits = 0;
    uint64_t parent = 0;
    if (s->p.prefix_cache && !q->p.prompt_logprobs)
        for (; hits < reusable; hits++) {
            const int32_t *t = q->tok + (size_t)hits * XLLM_KV_BLOCK_SIZE;
            uint64_t key = xllm_kv_block_key(parent, t, q->p.cache_salt);
            int32_t b = xllm_kv_blocks_lookup(s->pool, key, parent, t, q->p.cache_salt);
            if (b < 0)
                break;
            q->blocks[hits] = b;
            q->keys[hits] = key;
            parent = key;
        }
    if (xllm_kv_blocks_free_count(s->pool) < need - hits) {
        for (int32_t i = 0; i < hits; i++)
            xllm_kv_blocks_release(s->pool, q->blocks[i]);
        return 0;
    }
    for (int32_t i = hits; i < need; i++)
        q->blocks[i] = xllm_kv_blocks_alloc(s->pool);
    q->n_blocks = need;
    q->n_keyed = hits;
    q->n_computed = hits * XLLM_KV_BLOCK_SIZE;
    if (!q->admit_order) { /* first admission: the prompt's cache figures */
        q->n_cached = q->n_computed;
        s->st.prefix_hits += (uint64_t)hits;
        s->st.prefix_misses += (uint64_t)(reusable - hits);
        s->st.cached_tokens += (uint64_t)q->n_computed;
        s->st.prompt_tokens += (uint64_t)q->n_prompt;
    }
    return 1;
}

/* The sampler, detokenizer and stop matcher of a request, made once. */
static xllm_status seq_prepare(xllm_sched *s, seq *q)
{
    xllm_status st;
    if (q->sampler)
        return XLLM_OK;
    if ((st = xllm_sampler_new(&q->p.sampling, s->n_vocab, &q->sampler)) != XLLM_OK ||
        (st = xllm_detok_new(s->tok, 0, &q->detok)) != XLLM_OK ||
        (st = xllm_stops_new((const char *const *)q->stop_strs, q->p.n_stops, (size_t)s->max_piece, &q->stops)) !=
            XLLM_OK)
        return st;
    xllm_detok_continue(q->detok);
    for (int32_t i = 0; i < q->p.n_bias; i++)
        if ((st = xllm_sampler_set_bias(q->sampler, q->bias_tok[i], q->bias_val[i])) != XLLM_OK)
            return st;
    for (int32_t i = 0; i < q->n_prompt; i++)
        xllm_sampler_accept(q->sampler, q->tok[i]);
    return XLLM_OK;
}

/* Next waiting request by the priority rule (see sched.h). */
static seq *next_waiting(xllm_sched *s, uint64_t t)
{
    seq *b = s->wait[1].head, *i = s->wait[0].head;
    if (b && (!i || t - b->t_submit >= (uint64_t)s->p.batch_max_wait_ms * 1000000ull))
        return b;
    return i ? i : b;
}

/* ---- building a step ---- */

static void add_part(xllm_sched *s, int32_t *n_parts, int32_t *n_tok, int32_t *n_rows, seq *q, int32_t count)
{
    step_part *pt = &s->parts[*n_parts];
    int32_t want_all = q->p.prompt_logprobs && q->n_computed < q->n_prompt;
    pt->s = q;
    pt->first = *n_tok;
    pt->count = count;
    pt->row = *n_rows;
    pt->n_rows = 0;
    for (int32_t j = 0; j < count; j++) {
        int32_t pos = q->n_computed + j;
        int last = pos == q->n_tok - 1;
        s->b_tok[*n_tok + j] = q->tok[pos];
        s->b_pos[*n_tok + j] = pos;
        s->b_seq[*n_tok + j] = *n_parts;
        s->b_want[*n_tok + j] = (uint8_t)(last || want_all);
        pt->n_rows += s->b_want[*n_tok + j];
    }
    s->b_tables[*n_parts] = q->blocks;
    s->b_counts[*n_parts] = q->n_blocks;
    *n_tok += count;
    *n_rows += pt->n_rows;
    (*n_parts)++;
}

/* Tokens q may put in this step within budget and free logits rows. */
static int32_t chunk_of(const seq *q, int32_t budget, int32_t rows_left)
{
    int32_t c = q->n_tok - q->n_computed;
    if (c > budget)
        c = budget;
    if (q->p.prompt_logprobs && q->n_computed < q->n_prompt && c > rows_left)
        c = rows_left;
    return c;
}

/* A decode of q needs the block for position n_computed. */
static int decode_block(xllm_sched *s, seq *q)
{
    int32_t b;
    if (q->n_computed / XLLM_KV_BLOCK_SIZE < q->n_blocks)
        return 1;
    if ((b = xllm_kv_blocks_alloc(s->pool)) < 0)
        return 0;
    q->blocks[q->n_blocks++] = b;
    return 1;
}

static int32_t build_step(xllm_sched *s, int32_t *n_parts_out, int32_t *n_rows_out)
{
    int32_t n_parts = 0, n_tok = 0, n_rows = 0, budget = s->p.step_tokens;
    uint64_t t = now_ns();
    /* running sequences, oldest first: decodes and unfinished prefills */
    for (int32_t i = 0; i < s->n_running && budget > 0; i++) {
        seq *q = s->running[i];
        int32_t c;
        int ok;
        while (!(ok = decode_block(s, q))) { /* out of blocks: preempt the newest */
            seq *v = s->running[s->n_running - 1];
            preempt(s, v);
            if (v == q)
                break;
        }
        if (!ok)
            break; /* q was the newest: nothing runs after it */
        c = chunk_of(q, budget, s->rows_cap - n_rows);
        if (c > 0) {
            add_part(s, &n_parts, &n_tok, &n_rows, q, c);
            budget -= c;
        }
    }
    /* admissions */
    while (budget > 0 && s->n_running < s->p.max_running && s->rows_cap - n_rows > 0) {
        seq *q = next_waiting(s, t);
        int32_t c;
        if (!q)
            break;
        if (seq_prepare(s, q) != XLLM_OK) {
            finish(s, q, XLLM_FINISH_ERROR, xllm_last_error(), NULL);
            continue;
        }
        if (!admit_blocks(s, q)) {
            if (s->n_running > 0)
                break; /* wait for running sequences to free blocks */
            xllm_fail(XLLM_ERR_LIMIT, "the request has grown to %d tokens and needs %d KV blocks; the pool has %d",
                      q->n_tok, (q->n_tok + XLLM_KV_BLOCK_SIZE - 1) / XLLM_KV_BLOCK_SIZE,
                      xllm_kv_blocks_total(s->pool));
            finish(s, q, XLLM_FINISH_ERROR, xllm_last_error(), NULL);
            continue;
        }
        q_remove(&s->wait[q->p.priority == XLLM_PRIORITY_BATCH], q);
        q->state = SEQ_RUNNING;
        q->admit_order = ++s->admit_counter;
        if (!q->t_sched)
            q->t_sched = t;
        s->running[s->n_running++] = q;
        c = chunk_of(q, budget, s->rows_cap - n_rows);
        add_part(s, &n_parts, &n_tok, &n_rows, q, c);
        budget -= c;
    }
    *n_parts_out = n_parts;
    *n_rows_out = n_rows;
    return n_tok;
}

/* ---- after the forward call ---- */

static int32_t top_count(const xllm_sched *s, const seq *q)
{
    int32_t k = q->p.top_logprobs;
    return k < s->n_vocab ? k : s->n_vocab;
}

/* Prompt logprobs of the tokens after each computed prompt position. */
static void emit_prompt_logprobs(xllm_sched *s, seq *q, const step_part *pt)
{
    int32_t k = top_count(s, q);
    if (q->lp_next == 0) {
        emit_token(s, q, q->tok[0], 1, NULL, 0, NAN, 0);
        q->lp_next = 1;
    }
    for (int32_t j = 0; j < pt->n_rows; j++) {
        int32_t pos = q->n_computed + j; /* row j: logits after position pos */
        const float *row = s->logits + (size_t)(pt->row + j) * (size_t)s->n_vocab;
        float lp;
        if (pos + 1 >= q->n_prompt || pos + 1 < q->lp_next)
            continue;
        lp = xllm_logprobs_top(row, s->n_vocab, q->tok[pos + 1], k, s->top_ids, s->top_lp);
        emit_token(s, q, q->tok[pos + 1], 1, NULL, 0, lp, k);
        q->lp_next = pos + 2;
    }
}

/* Text released by token t: detokenizer, then the stop matcher; on the last
 * token everything held back is flushed. Returns the stop index or -1. */
static int32_t token_text(xllm_sched *s, seq *q, int32_t t, int last, size_t *len)
{
    const char *piece, *rel;
    size_t np = 0, nr = 0;
    int32_t hit;
    *len = 0;
    if (t >= 0 && xllm_detok_push(q->detok, t, &piece, &np) != XLLM_OK)
        np = 0;
    hit = xllm_stops_push(q->stops, t >= 0 ? piece : "", np, &rel, &nr);
    memcpy(s->text, rel, nr);
    *len = nr;
    if (hit < 0 && last) {
        if (xllm_detok_flush(q->detok, &piece, &np) == XLLM_OK && np) {
            hit = xllm_stops_push(q->stops, piece, np, &rel, &nr);
            memcpy(s->text + *len, rel, nr);
            *len += nr;
        }
        if (hit < 0) {
            xllm_stops_flush(q->stops, &rel, &nr);
            memcpy(s->text + *len, rel, nr);
            *len += nr;
        }
    }
    return hit;
}

/* Sample the next token of q from its last logits row; returns 1 when q finished. */
/* Near the token budget, keep only tokens after which the grammar's shortest
 * completion still fits in what is left (a token is at least one byte), so the
 * output ends inside the language. Checked within CLOSE_MARGIN tokens of the
 * point where the shortest completion no longer fits at all. */
#define CLOSE_MARGIN 64
static void close_in(xllm_sched *s, seq *q)
{
    size_t rem = xllm_grammar_min_remaining(q->gstate), after, most;
    int64_t left = (int64_t)q->max_new - q->n_generated - 1; /* tokens after this one */
    int32_t fits = 0;
    if (rem == 0 || left > (int64_t)rem + CLOSE_MARGIN)
        return;
    /* every allowed token fits (memoized per grammar state): nothing to drop */
    if (xllm_grammar_max_after(q->gstate, s->gvocab, &most) == XLLM_OK && (int64_t)most <= left)
        return;
    for (int pass = 0; pass < 2; pass++) { /* count first: if nothing fits, keep the grammar's mask */
        for (int32_t t = 0; t < s->n_vocab; t++) {
            int ok;
            if (s->masked[t] == -INFINITY)
                continue;
            ok = xllm_grammar_peek(q->gstate, s->gvocab, t, &after) == XLLM_OK && (int64_t)after <= left;
            if (pass == 0)
                fits += ok;
            else if (!ok)
                s->masked[t] = -INFINITY;
        }
        if (fits == 0)
            return;
    }
}

/* The sampled token, with the grammar's mask applied to a copy of the row. */
static int32_t pick(xllm_sched *s, seq *q, const float *row)
{
    if (!q->gstate)
        return xllm_sampler_sample(q->sampler, row);
    memcpy(s->masked, row, sizeof(float) * (size_t)s->n_vocab);
    if (xllm_grammar_apply(q->gstate, s->gvocab, s->masked) != XLLM_OK)
        return -1;
    if (xllm_grammar_triggered(q->gstate))
        close_in(s, q);
    return xllm_sampler_sample(q->sampler, s->masked);
}

static int sample_next(xllm_sched *s, seq *q, const float *row)
{
    int32_t t = pick(s, q, row), k = top_count(s, q), hit;
    float lp = NAN;
    size_t len;
    int eog, last;
    uint64_t now = now_ns();
    if (t < 0 || (q->gstate && xllm_grammar_accept(q->gstate, s->gvocab, t) != XLLM_OK)) {
        finish(s, q, XLLM_FINISH_ERROR, "grammar: no token can continue the output", NULL);
        return 1;
    }
    eog = xllm_tokenizer_is_eog(s->tok, t) && !q->p.ignore_eos;
    if (!q->t_first)
        q->t_first = now;
    if (eog) {
        token_text(s, q, -1, 1, &len);
        if (len)
            emit_token(s, q, -1, 0, s->text, len, NAN, 0);
        finish(s, q, XLLM_FINISH_STOP, NULL, NULL);
        return 1;
    }
    if (q->p.logprobs || k)
        lp = xllm_logprobs_top(row, s->n_vocab, t, k, s->top_ids, s->top_lp);
    xllm_sampler_accept(q->sampler, t);
    q->tok[q->n_tok++] = t;
    q->n_generated++;
    s->st.generated_tokens++;
    s->rate_tokens++;
    last = q->n_generated >= q->max_new || q->n_tok >= q->n_ctx;
    if (q->gstate && xllm_grammar_done(q->gstate)) /* nothing more can follow */
        last = 2;
    hit = token_text(s, q, t, last, &len);
    emit_token(s, q, t, 0, s->text, len, lp, k);
    if (hit >= 0) {
        finish(s, q, XLLM_FINISH_STOP, NULL, xllm_stops_get(q->stops, hit));
        return 1;
    }
    if (last) {
        finish(s, q, last == 2 ? XLLM_FINISH_STOP : XLLM_FINISH_LENGTH, NULL, NULL);
        return 1;
    }
    return 0;
}

static void after_forward(xllm_sched *s, int32_t n_parts)
{
    for (int32_t i = 0; i < n_parts; i++) {
        step_part *pt = &s->parts[i];
        seq *q = pt->s;
        if (q->p.prompt_logprobs && q->n_computed < q->n_prompt)
            emit_prompt_logprobs(s, q, pt);
        q->n_computed += pt->count;
        publish_blocks(s, q);
        if (q->n_computed == q->n_tok)
            sample_next(s, q, s->logits + (size_t)(pt->row + pt->n_rows - 1) * (size_t)s->n_vocab);
    }
}

static void drop_cancelled(xllm_sched *s)
{
    for (int32_t i = s->n_running - 1; i >= 0; i--)
        if (s->running[i]->cancelled)
            finish(s, s->running[i], XLLM_FINISH_CANCELLED, NULL, NULL);
    for (int k = 0; k < 2; k++)
        for (seq *q = s->wait[k].head, *nx; q; q = nx) {
            nx = q->next;
            if (q->cancelled)
                finish(s, q, XLLM_FINISH_CANCELLED, NULL, NULL);
        }
}

static void fail_step(xllm_sched *s, int32_t n_parts, const char *msg)
{
    for (int32_t i = 0; i < n_parts; i++)
        finish(s, s->parts[i].s, XLLM_FINISH_ERROR, msg, NULL);
}

static void update_rate(xllm_sched *s, uint64_t t)
{
    if (!s->rate_t0)
        s->rate_t0 = t;
    if (t - s->rate_t0 >= 2000000000ull) {
        s->st.decode_tokens_per_s = (double)s->rate_tokens * 1e9 / (double)(t - s->rate_t0);
        s->rate_t0 = t;
        s->rate_tokens = 0;
    }
}

xllm_status xllm_sched_step(xllm_sched *s)
{
    xllm_batch b;
    int32_t n_parts = 0, n_rows = 0, n_tok;
    uint64_t t0 = now_ns(), t1, t2;
    int rc;
    drop_cancelled(s);
    n_tok = build_step(s, &n_parts, &n_rows);
    if (n_tok == 0)
        return XLLM_OK;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b;
    b.n_tokens = n_tok;
    b.tokens = s->b_tok;
    b.positions = s->b_pos;
    b.seq = s->b_seq;
    b.n_seqs = n_parts;
    b.block_tables = s->b_tables;
    b.block_counts = s->b_counts;
    b.want_logits = s->b_want;
    b.logits = s->logits;
    t1 = now_ns();
    rc = s->api->forward(s->ctx, &b);
    t2 = now_ns();
    if (rc != XLLM_ENGINE_OK) {
        xllm_status st = xllm_fail(xllm_engine_status_to(rc), "engine forward: %s", s->api->last_error(s->ctx));
        fail_step(s, n_parts, xllm_last_error());
        return st;
    }
    after_forward(s, n_parts);
    s->st.steps++;
    s->st.last_step_ns = now_ns() - t0;
    s->st.last_sched_ns = s->st.last_step_ns - (t2 - t1);
    update_rate(s, t2);
    return XLLM_OK;
}

int xllm_sched_idle(const xllm_sched *s) { return s->n_running == 0 && s->wait[0].n == 0 && s->wait[1].n == 0; }
int32_t xllm_sched_n_ctx(const xllm_sched *s) { return s->p.n_ctx; }

void xllm_sched_stats_get(const xllm_sched *s, xllm_sched_stats *out)
{
    *out = s->st;
    out->running = s->n_running;
    out->waiting = s->wait[0].n + s->wait[1].n;
    out->blocks_total = xllm_kv_blocks_total(s->pool);
    out->blocks_used = out->blocks_total - xllm_kv_blocks_free_count(s->pool);
    out->blocks_cached = xllm_kv_blocks_cached_count(s->pool);
}
