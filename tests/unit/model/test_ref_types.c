/* test_ref_types.c - the fixture models with their weights converted in
 * memory to F16, BF16, Q8_0, Q4_0 and Q4_K (reference quantizers; norms and
 * biases stay F32; Q4_K only where rows are multiples of 256, i.e. the llama
 * fixture), checked against the same f32 reference logits with looser, named
 * tolerances. The converter's own GGUF round trip is tested by its owner. */
#include <stdio.h>
#include <stdlib.h>

#include "../test.h"
#include "base/dtype.h"
#include "base/fs.h"
#include "model/hf.h"
#include "ref_check.h"

/* Relative L2 error of all logits, per weight type. Measured maxima over the
 * nine fixtures (docs/engine.md): F16 8.3e-4, BF16 7.1e-3, Q8_0 2.9e-2 (weights
 * and activations quantized), Q4_0 0.32, Q4_K 0.29; these leave about 2x
 * headroom. A wrong block layout or dequantizer gives errors near 1. */
static const struct {
    uint32_t dtype;
    double tol;
} type_tol[] = {
    {XLLM_DTYPE_F16, 2e-3},
    {XLLM_DTYPE_BF16, 1.5e-2},
    {XLLM_DTYPE_Q8_0, 6e-2},
    {XLLM_DTYPE_Q4_0, 0.5},
    {XLLM_DTYPE_Q4_K, 0.5},
};

static void check_types(const char *arch)
{
    char dir[256];
    xllm_gguf *g = NULL;
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", arch);
    if (!xllm_path_exists(dir)) {
        test_skip("fixture not generated");
        return;
    }
    CHECK_OK(xllm_hf_open(dir, &g));
    for (size_t k = 0; g && k < sizeof type_tol / sizeof type_tol[0]; k++) {
        int n = 0;
        xllm_gguf *q = ref_convert_copy(g, type_tol[k].dtype, &n);
        double err;
        CHECK(q != NULL);
        if (!q)
            continue;
        if (n == 0) { /* no row fits the block size (Q4_K on 64-wide models) */
            xllm_gguf_close(q);
            continue;
        }
        err = ref_check_logits(dir, q);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "  %s %s (%d tensors): max rel L2 %.3g\n", arch, xllm_dtype_name(type_tol[k].dtype), n,
                    err);
        CHECK_MSG(err >= 0 && err <= type_tol[k].tol, "%s %s: relative L2 error %.3g (tolerance %g)", arch,
                  xllm_dtype_name(type_tol[k].dtype), err, type_tol[k].tol);
        xllm_gguf_close(q);
    }
    xllm_gguf_close(g);
}

TEST(ref_types_llama) { check_types("llama"); }
TEST(ref_types_llama3) { check_types("llama3"); }
TEST(ref_types_qwen2) { check_types("qwen2"); }
TEST(ref_types_qwen3) { check_types("qwen3"); }
TEST(ref_types_gemma2) { check_types("gemma2"); }
TEST(ref_types_gemma3) { check_types("gemma3"); }
TEST(ref_types_phi3) { check_types("phi3"); }
TEST(ref_types_bert) { check_types("bert"); }
TEST(ref_types_nomic_bert) { check_types("nomic-bert"); }
