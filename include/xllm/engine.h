/* engine.h - the xllm engine plugin ABI (plain C, no xllm internals).
 *
 * An engine is a shared object with a JSON manifest next to it:
 *   {"name": "cuda", "version": "0.1.0", "abi_version": 1, "library": "libxllm-cuda.so",
 *    "formats": ["gguf", "safetensors"], "architectures": ["llama", ...], "devices": ["cuda"]}
 * The host validates the manifest before dlopen, then calls the exported
 * function XLLM_ENGINE_ENTRY_SYMBOL and checks the abi_version and struct_size
 * it reports. The CPU engine is built in and exposed through the same table.
 *
 * Rules that keep the ABI stable:
 *  - every struct starts with abi_version or struct_size; new fields and new
 *    entries are only appended; a reader uses a field only if struct_size
 *    covers it;
 *  - entries marked optional may be NULL; their comment says the default;
 *  - status codes are coarse (xllm_engine_status); details come as text from
 *    last_error(ctx) (ctx NULL: the calling thread's last error from a call
 *    that had no context, e.g. load or memory_required).
 * Threading: one context is used by one thread at a time; different contexts
 * may run in parallel. Strings returned by the engine stay valid until the
 * next call on the same context (or, for NULL ctx, on the same thread). */
#ifndef XLLM_ENGINE_H
#define XLLM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XLLM_ENGINE_ABI_VERSION 1u
#define XLLM_ENGINE_ENTRY_SYMBOL "xllm_engine_entry"
/* Tokens per KV block; block tables index blocks of this many positions. */
#define XLLM_KV_BLOCK_SIZE 16

typedef enum xllm_engine_status {
    XLLM_ENGINE_OK = 0,
    XLLM_ENGINE_INVALID_ARGUMENT = 1,
    XLLM_ENGINE_UNSUPPORTED = 2,
    XLLM_ENGINE_OUT_OF_MEMORY = 3,
    XLLM_ENGINE_DEVICE_ERROR = 4,
    XLLM_ENGINE_IO_ERROR = 5,
    XLLM_ENGINE_CANCELLED = 6,
    XLLM_ENGINE_TIMEOUT = 7,
    XLLM_ENGINE_INTERNAL = 8,
    XLLM_ENGINE_ABI_MISMATCH = 9,
} xllm_engine_status;

/* One forward step over a flat batch of tokens from many sequences (prefill
 * chunks and decode tokens mixed). A token at position p of sequence s writes
 * its K/V into block block_tables[s][p / XLLM_KV_BLOCK_SIZE], slot
 * p % XLLM_KV_BLOCK_SIZE, then attends to positions 0..p of s (a
 * sliding-window layer: max(0, p - window + 1)..p); positions before this
 * batch must have been written by earlier calls into the same blocks.
 * Encoders: each sequence is whole in the batch and attends bidirectionally;
 * block tables are not used (may be NULL). */
/* Element type of the KV cache (xllm_engine_load_params.kv_type). */
typedef enum xllm_kv_type {
    XLLM_KV_F16 = 0,  /* default: half the memory and attention bandwidth of f32 */
    XLLM_KV_Q8_0 = 1, /* GGUF Q8_0 blocks (32 elements: f16 scale + 32 int8) along head_dim */
    XLLM_KV_F32 = 2,  /* exactness tests */
    XLLM_KV_TYPE_COUNT
} xllm_kv_type;

typedef struct xllm_batch {
    uint32_t struct_size;              /* sizeof(xllm_batch) of the caller */
    int32_t n_tokens;
    const int32_t *tokens;             /* [n_tokens] token ids */
    const int32_t *positions;          /* [n_tokens] position within its sequence */
    const int32_t *seq;                /* [n_tokens] index into the per-sequence arrays */
    int32_t n_seqs;
    const int32_t *const *block_tables; /* [n_seqs][block_counts[s]] KV block ids */
    const int32_t *block_counts;       /* [n_seqs] entries in each block table (checked) */
    const uint8_t *want_logits;        /* [n_tokens] 1 = write a logits row; NULL = every token */
    float *logits;                     /* [n_want][n_vocab], rows in token order (decoders) */
    float *embeddings;                 /* encoders: [n_seqs][n_embd] pooled (+ normalized),
                                          or [n_tokens][n_embd] when pooling is none */
} xllm_batch;

typedef struct xllm_engine_load_params {
    uint32_t struct_size;     /* sizeof(xllm_engine_load_params) of the caller */
    const char *model_path;   /* GGUF file or Hugging Face directory */
    int32_t n_blocks;         /* KV blocks per layer to allocate (0 for encoders) */
    int32_t max_batch_tokens; /* largest n_tokens of one forward call */
    int32_t n_threads;        /* CPU threads (<= 0: one per CPU) */
    int32_t device;           /* device index for GPU engines (CPU: ignored) */
    int32_t pooling;          /* encoders: -1 = the model's pooling_type, else 0 none/1 mean/2 cls/3 last */
    int32_t normalize;        /* encoders: 1 = L2-normalize pooled embeddings */
    int32_t kv_type;          /* xllm_kv_type; absent (older caller): XLLM_KV_F16. An engine
                                 that lacks the type fails load with UNSUPPORTED */
} xllm_engine_load_params;

typedef struct xllm_engine_memory {
    uint32_t struct_size;
    uint64_t weight_bytes;  /* model weights as read (mapped or device copy) */
    uint64_t kv_bytes;      /* KV block pool */
    uint64_t scratch_bytes; /* activations for max_batch_tokens */
    uint64_t total_bytes;
} xllm_engine_memory;

typedef struct xllm_engine_model_info {
    uint32_t struct_size;
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_ctx_train;
    int32_t block_size;       /* XLLM_KV_BLOCK_SIZE */
    int32_t is_encoder;       /* 1: forward writes embeddings, not logits */
    int32_t pooling;          /* encoders: pooling in effect */
    char arch[32];            /* general.architecture */
    uint32_t kv_types;        /* bit (1u << t) set for every xllm_kv_type t the engine supports */
    int32_t kv_type;          /* the KV type of this context */
} xllm_engine_model_info;

typedef struct xllm_engine_ctx xllm_engine_ctx;

typedef struct xllm_engine_api {
    uint32_t abi_version; /* XLLM_ENGINE_ABI_VERSION the engine was built for */
    uint32_t struct_size; /* sizeof(xllm_engine_api) of the engine */
    const char *name;     /* must equal the manifest's name */
    const char *version;

    /* Memory a load with these parameters would need, before loading. */
    int (*memory_required)(const xllm_engine_load_params *p, xllm_engine_memory *out);
    /* Load the model and allocate KV + scratch. On failure *out is NULL and
     * last_error(NULL) says why. */
    int (*load)(const xllm_engine_load_params *p, xllm_engine_ctx **out);
    void (*free)(xllm_engine_ctx *ctx); /* NULL-safe */
    int (*forward)(xllm_engine_ctx *ctx, const xllm_batch *batch);
    const char *(*last_error)(xllm_engine_ctx *ctx);
    int (*model_info)(xllm_engine_ctx *ctx, xllm_engine_model_info *out);

    /* Optional (may be NULL): copy one KV block (all layers) from src to dst,
     * for copy-on-write of a shared partial block. Default when NULL: the
     * runtime recomputes the tokens instead. */
    int (*kv_copy_block)(xllm_engine_ctx *ctx, int32_t src, int32_t dst);
} xllm_engine_api;

/* The one exported symbol: returns the engine's table (static storage), or
 * NULL if the engine cannot serve a host of host_abi_version. */
typedef const xllm_engine_api *(*xllm_engine_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif
