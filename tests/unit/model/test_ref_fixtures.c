/* test_ref_fixtures.c - the oracle test of the forward pass: every fixture
 * model under tests/fixtures/models, opened as a Hugging Face directory
 * (xllm_hf_open, F32 weights), must reproduce the reference logits of every
 * position (encoders: pooled embeddings and hidden states) with relative L2
 * error <= 1e-4. */
#include <stdio.h>
#include <stdlib.h>

#include "../test.h"
#include "base/fs.h"
#include "base/status.h"
#include "model/hf.h"
#include "ref_check.h"

#define REF_F32_TOL 1e-4

static void check_fixture(const char *arch)
{
    char dir[256];
    xllm_gguf *g = NULL;
    double err;
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", arch);
    if (!xllm_path_exists(dir)) {
        test_skip("fixture not generated");
        return;
    }
    CHECK_OK(xllm_hf_open(dir, &g));
    if (!g)
        return;
    err = ref_check_logits(dir, g);
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "  %s f32: max rel L2 %.3g\n", arch, err);
    CHECK_MSG(err >= 0 && err <= REF_F32_TOL, "%s: relative L2 error %.3g (tolerance %g)", arch, err, REF_F32_TOL);
    xllm_gguf_close(g);
}

TEST(ref_llama) { check_fixture("llama"); }
TEST(ref_llama3) { check_fixture("llama3"); }
TEST(ref_qwen2) { check_fixture("qwen2"); }
TEST(ref_qwen3) { check_fixture("qwen3"); }
TEST(ref_gemma2) { check_fixture("gemma2"); }
TEST(ref_gemma3) { check_fixture("gemma3"); }
TEST(ref_phi3) { check_fixture("phi3"); }
TEST(ref_bert) { check_fixture("bert"); }
TEST(ref_nomic_bert) { check_fixture("nomic-bert"); }
