/* cmd_convert.c - `xllm convert IN OUT`: HF directory or GGUF -> GGUF file
 * (--type), or GGUF -> HF directory (--dtype). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/convert.h"

int cmd_convert(int argc, char **argv)
{
    const char *type = NULL, *dtype = NULL, *pos[2];
    int threads = 0, quiet = 0, n_pos = 0, rc;
    xllm_convert_opts o = {0};
    const xllm_opt opts[] = {
        {"type", XLLM_OPT_STR, &type,
         "GGUF output type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k_m q5_k_m q6_k (default: f16, bf16 for bf16 input)"},
        {"dtype", XLLM_OPT_STR, &dtype, "Hugging Face output dtype: f32 f16 bf16 (default: f32 for f32 input, else f16)"},
        {"threads", XLLM_OPT_INT, &threads, "threads for quantization (default: all CPUs)"},
        {"quiet", XLLM_OPT_FLAG, &quiet, "no per-tensor progress lines"},
    };
    const char *usage = "IN OUT [--type T | --dtype D]\n"
                        "  IN:  a Hugging Face model directory (config.json + safetensors) or a .gguf file\n"
                        "  OUT: a path ending in .gguf (GGUF output) or a new directory (safetensors + config.json)";
    rc = xllm_args_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 2, &n_pos, usage);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 2) {
        fprintf(stderr, "Usage: xllm convert %s\n", usage);
        return 2;
    }
    o.type = type;
    o.dtype = dtype;
    o.n_threads = threads;
    o.progress = !quiet;
    if (xllm_convert(pos[0], pos[1], &o) != XLLM_OK) {
        fprintf(stderr, "xllm convert: %s\n", xllm_last_error());
        return 1;
    }
    if (!quiet)
        fprintf(stderr, "wrote %s\n", pos[1]);
    return 0;
}
