/* cmd_genmodel.c - `xllm gen-model` (developer tool for bench/make-models):
 * a random-weight llama GGUF of a real model's shape. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/convert.h"

int cmd_genmodel(int argc, char **argv)
{
    const char *shape = NULL, *type = "f16", *vocab = NULL, *pos[1];
    int threads = 0, layers = 0, seed = 1, n_pos = 0, rc;
    xllm_gen_opts o = {0};
    const xllm_opt opts[] = {
        {"shape", XLLM_OPT_STR, &shape, "tinyllama-1.1b or llama3-8b"},
        {"type", XLLM_OPT_STR, &type, "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k_m q5_k_m q6_k (default f16)"},
        {"vocab-from", XLLM_OPT_STR, &vocab, "Hugging Face tokenizer directory (tokenizer.json) for the vocabulary"},
        {"threads", XLLM_OPT_INT, &threads, "threads (default: all CPUs)"},
        {"layers", XLLM_OPT_INT, &layers, "fewer layers than the real shape (tests)"},
        {"seed", XLLM_OPT_INT, &seed, "random seed (default 1)"},
    };
    const char *usage = "--shape S [--type T] [--vocab-from DIR] OUT.gguf";
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos, usage);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1 || !shape) {
        fprintf(stderr, "Usage: xllm gen-model %s\n", usage);
        return 2;
    }
    o.shape = shape;
    o.type = type;
    o.vocab_dir = vocab;
    o.n_threads = threads;
    o.n_layer_override = layers;
    o.seed = (uint64_t)(unsigned)seed;
    if (xllm_gen_model(&o, pos[0]) != XLLM_OK) {
        fprintf(stderr, "xllm gen-model: %s\n", xllm_last_error());
        return 1;
    }
    return 0;
}
