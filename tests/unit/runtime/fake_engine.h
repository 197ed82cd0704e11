/* fake_engine.h - a deterministic stand-in engine behind the ABI table for
 * scheduler tests: its "KV" stores the token id written at each block slot,
 * and a logits row depends on every token of the sequence as read back
 * through the block table, so a wrong table, a stale block or a bad prefix
 * reuse changes the output. It counts the tokens and calls it ran. */
#ifndef XLLM_TEST_FAKE_ENGINE_H
#define XLLM_TEST_FAKE_ENGINE_H

#include <stdint.h>

#include "xllm/engine.h"

typedef struct fake_engine {
    int32_t n_vocab, n_blocks, n_ctx_train;
    int32_t *kv;            /* [n_blocks][XLLM_KV_BLOCK_SIZE] token ids, -1 unwritten */
    int64_t tokens_run, calls, max_call_tokens;
    int32_t fail_next;      /* 1: the next forward fails */
    uint64_t spin_ns;       /* busy time per call (0: none) */
} fake_engine;

const xllm_engine_api *fake_engine_api(void);
/* The context handed to the scheduler is the fake_engine itself. */
int fake_engine_init(fake_engine *e, int32_t n_vocab, int32_t n_blocks, int32_t n_ctx_train);
void fake_engine_free(fake_engine *e);
/* Logits the engine gives after the sequence toks[0..n) (what a correct
 * forward pass over any batching must give). */
void fake_logits(int32_t n_vocab, const int32_t *toks, int32_t n, float *out);

#endif
