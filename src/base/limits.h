/* limits.h - every hard cap of xllm in one place, each with its reason
 * (in the manner of sqlite's sqliteLimit.h). Readers of untrusted files and
 * wire data check against these before allocating. */
#ifndef XLLM_BASE_LIMITS_H
#define XLLM_BASE_LIMITS_H

/* Longest error message kept per thread; longer ones are truncated. */
#define XLLM_MAX_ERROR_MESSAGE 1024

/* GGUF: real models have < 2,000 tensors (405B: ~1,300); 1<<16 is generous and
 * keeps a hostile count from driving a huge allocation. */
#define XLLM_MAX_TENSORS 65536
/* GGUF: metadata keys per file; real files have < 100 (plus arrays). */
#define XLLM_MAX_METADATA_KV 65536
/* GGUF: longest string (key, value or tensor name). Chat templates reach ~20 KB;
 * 16 MiB bounds a hostile length. */
#define XLLM_MAX_GGUF_STRING (16u << 20)
/* GGUF: longest metadata array (vocabularies reach 262,144 tokens; merges ~500k). */
#define XLLM_MAX_GGUF_ARRAY (16u << 20)
/* GGUF: nesting depth of arrays of arrays. */
#define XLLM_MAX_GGUF_ARRAY_DEPTH 4
/* Tensor rank supported by GGUF (ggml's GGML_MAX_DIMS). */
#define XLLM_MAX_DIMS 4
/* safetensors: JSON header size cap (the format itself caps it at 100 MB). */
#define XLLM_MAX_SAFETENSORS_HEADER (100u << 20)
/* safetensors: shards per model (405B models ship ~191 shards). */
#define XLLM_MAX_SHARDS 1024
/* Largest JSON config / tokenizer.json we read (tokenizer.json files reach ~35 MB). */
#define XLLM_MAX_JSON_FILE (256u << 20)
/* Tokenizer: vocabulary size cap (largest real vocabularies ~262k). */
#define XLLM_MAX_VOCAB (1u << 21)
/* Longest single token text in bytes. */
#define XLLM_MAX_TOKEN_BYTES 65536
/* Architecture: layers per model cap (largest real ~126). */
#define XLLM_MAX_LAYERS 512
/* Threads in the CPU compute pool. */
#define XLLM_MAX_THREADS 256

/* Sampler: largest penalty window ("all" means this many recent tokens). */
#define XLLM_SAMPLER_MAX_WINDOW 65536

#endif
