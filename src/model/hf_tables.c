/* hf_tables.c - one mapping table per architecture: Hugging Face tensor names
 * and config.json keys -> standard GGUF tensor names and "<arch>.*" keys (the
 * names of gguf-py's constants.py / tensor_mapping.py and llama.cpp's
 * convert_hf_to_gguf.py). */
#include <string.h>

#include "model/hf_map.h"

#define U32 XLLM_GGUF_UINT32
#define F32 XLLM_GGUF_FLOAT32
#define REQ XLLM_HF_REQ
#define SKIP XLLM_HF_SKIP
#define OPT XLLM_HF_OPT
#define PQ XLLM_HF_X_PERMUTE_Q
#define PK XLLM_HF_X_PERMUTE_K
#define P1 XLLM_HF_X_ADD_ONE

#define L(x) "model.layers.%d." x
#define B(x) "blk.%d." x

/* ---- tensors ---- */

/* Decoder rows every llama-like family shares. Q/K transforms differ per family. */
#define DEC_GLOBAL(NORM_X)                                            \
    {"model.embed_tokens.weight", "token_embd.weight", 0, 0},         \
    {"model.norm.weight", "output_norm.weight", NORM_X, 0},           \
    {"lm_head.weight", "output.weight", 0, OPT}
#define DEC_ATTN(QX, KX)                                              \
    {L("self_attn.q_proj.weight"), B("attn_q.weight"), QX, 0},        \
    {L("self_attn.k_proj.weight"), B("attn_k.weight"), KX, 0},        \
    {L("self_attn.v_proj.weight"), B("attn_v.weight"), 0, 0},         \
    {L("self_attn.o_proj.weight"), B("attn_output.weight"), 0, 0}
#define DEC_MLP                                                       \
    {L("mlp.gate_proj.weight"), B("ffn_gate.weight"), 0, 0},          \
    {L("mlp.up_proj.weight"), B("ffn_up.weight"), 0, 0},              \
    {L("mlp.down_proj.weight"), B("ffn_down.weight"), 0, 0}

static const xllm_hf_tensor_map llama_tensors[] = {
    DEC_GLOBAL(0),
    {L("input_layernorm.weight"), B("attn_norm.weight"), 0, 0},
    DEC_ATTN(PQ, PK),
    /* attention_bias=true checkpoints; llama.cpp permutes the q/k biases too */
    {L("self_attn.q_proj.bias"), B("attn_q.bias"), PQ, OPT},
    {L("self_attn.k_proj.bias"), B("attn_k.bias"), PK, OPT},
    {L("self_attn.v_proj.bias"), B("attn_v.bias"), 0, OPT},
    {L("self_attn.o_proj.bias"), B("attn_output.bias"), 0, OPT},
    {L("post_attention_layernorm.weight"), B("ffn_norm.weight"), 0, 0},
    DEC_MLP,
    {NULL, NULL, 0, 0},
};

static const xllm_hf_tensor_map qwen2_tensors[] = {
    DEC_GLOBAL(0),
    {L("input_layernorm.weight"), B("attn_norm.weight"), 0, 0},
    DEC_ATTN(0, 0),
    {L("self_attn.q_proj.bias"), B("attn_q.bias"), 0, 0},
    {L("self_attn.k_proj.bias"), B("attn_k.bias"), 0, 0},
    {L("self_attn.v_proj.bias"), B("attn_v.bias"), 0, 0},
    {L("post_attention_layernorm.weight"), B("ffn_norm.weight"), 0, 0},
    DEC_MLP,
    {NULL, NULL, 0, 0},
};

static const xllm_hf_tensor_map qwen3_tensors[] = {
    DEC_GLOBAL(0),
    {L("input_layernorm.weight"), B("attn_norm.weight"), 0, 0},
    DEC_ATTN(0, 0),
    {L("self_attn.q_norm.weight"), B("attn_q_norm.weight"), 0, 0},
    {L("self_attn.k_norm.weight"), B("attn_k_norm.weight"), 0, 0},
    {L("post_attention_layernorm.weight"), B("ffn_norm.weight"), 0, 0},
    DEC_MLP,
    {NULL, NULL, 0, 0},
};

/* Gemma 2/3: every RMSNorm weight gets +1 (llama.cpp Gemma2Model/Gemma3Model
 * modify_tensors: names ending in "norm.weight"). */
#define GEMMA_LAYER                                                               \
    {L("input_layernorm.weight"), B("attn_norm.weight"), P1, 0},                  \
    DEC_ATTN(0, 0),                                                               \
    {L("post_attention_layernorm.weight"), B("post_attention_norm.weight"), P1, 0}, \
    {L("pre_feedforward_layernorm.weight"), B("ffn_norm.weight"), P1, 0},         \
    {L("post_feedforward_layernorm.weight"), B("post_ffw_norm.weight"), P1, 0},   \
    DEC_MLP

static const xllm_hf_tensor_map gemma2_tensors[] = {
    DEC_GLOBAL(P1),
    GEMMA_LAYER,
    {NULL, NULL, 0, 0},
};

static const xllm_hf_tensor_map gemma3_tensors[] = {
    DEC_GLOBAL(P1),
    GEMMA_LAYER,
    {L("self_attn.q_norm.weight"), B("attn_q_norm.weight"), P1, 0},
    {L("self_attn.k_norm.weight"), B("attn_k_norm.weight"), P1, 0},
    {NULL, NULL, 0, 0},
};

/* phi3: fused qkv (q rows, then k, then v) and gate_up (gate rows first). */
static const xllm_hf_tensor_map phi3_tensors[] = {
    DEC_GLOBAL(0),
    {L("input_layernorm.weight"), B("attn_norm.weight"), 0, 0},
    {L("self_attn.qkv_proj.weight"), B("attn_qkv.weight"), 0, 0},
    {L("self_attn.o_proj.weight"), B("attn_output.weight"), 0, 0},
    {L("post_attention_layernorm.weight"), B("ffn_norm.weight"), 0, 0},
    {L("mlp.gate_up_proj.weight"), B("ffn_up.weight"), 0, 0},
    {L("mlp.down_proj.weight"), B("ffn_down.weight"), 0, 0},
    {NULL, NULL, 0, 0},
};

#define BL(x) "encoder.layer.%d." x
#define WB(hf, gg) {hf ".weight", gg ".weight", 0, 0}, {hf ".bias", gg ".bias", 0, 0}

static const xllm_hf_tensor_map bert_tensors[] = {
    {"embeddings.word_embeddings.weight", "token_embd.weight", 0, 0},
    {"embeddings.position_embeddings.weight", "position_embd.weight", 0, 0},
    {"embeddings.token_type_embeddings.weight", "token_types.weight", 0, OPT},
    WB("embeddings.LayerNorm", "token_embd_norm"),
    WB(BL("attention.self.query"), B("attn_q")),
    WB(BL("attention.self.key"), B("attn_k")),
    WB(BL("attention.self.value"), B("attn_v")),
    WB(BL("attention.output.dense"), B("attn_output")),
    WB(BL("attention.output.LayerNorm"), B("attn_output_norm")),
    WB(BL("intermediate.dense"), B("ffn_up")),
    WB(BL("output.dense"), B("ffn_down")),
    WB(BL("output.LayerNorm"), B("layer_output_norm")),
    {NULL, NULL, 0, 0},
};

#define NL(x) "encoder.layers.%d." x

static const xllm_hf_tensor_map nomic_tensors[] = {
    {"embeddings.word_embeddings.weight", "token_embd.weight", 0, 0},
    {"embeddings.token_type_embeddings.weight", "token_types.weight", 0, OPT},
    WB("emb_ln", "token_embd_norm"),
    {NL("attn.Wqkv.weight"), B("attn_qkv.weight"), 0, 0},
    {NL("attn.out_proj.weight"), B("attn_output.weight"), 0, 0},
    WB(NL("norm1"), B("attn_output_norm")),
    {NL("mlp.fc11.weight"), B("ffn_up.weight"), 0, 0},
    {NL("mlp.fc12.weight"), B("ffn_gate.weight"), 0, 0},
    {NL("mlp.fc2.weight"), B("ffn_down.weight"), 0, 0},
    WB(NL("norm2"), B("layer_output_norm")),
    {NULL, NULL, 0, 0},
};

/* ---- config.json keys -> "<arch>.<key>" ---- */

#define DEC_KEYS                                                        \
    {"context_length", "max_position_embeddings", U32, REQ},            \
    {"embedding_length", "hidden_size", U32, REQ},                      \
    {"block_count", "num_hidden_layers", U32, REQ},                     \
    {"feed_forward_length", "intermediate_size", U32, REQ},             \
    {"attention.head_count", "num_attention_heads", U32, REQ},          \
    {"attention.head_count_kv", "num_key_value_heads", U32, SKIP},      \
    {"attention.layer_norm_rms_epsilon", "rms_norm_eps", F32, REQ},     \
    {"attention.key_length", "head_dim", U32, SKIP},                    \
    {"attention.value_length", "head_dim", U32, SKIP}

static const xllm_hf_key_map llama_keys[] = {
    DEC_KEYS,
    {"vocab_size", "vocab_size", U32, SKIP},
    {"attention.sliding_window", "sliding_window", U32, SKIP}, /* mistral v0.1 */
    {NULL, NULL, 0, 0},
};

static const xllm_hf_key_map qwen_keys[] = {
    DEC_KEYS,
    {NULL, NULL, 0, 0},
};

static const xllm_hf_key_map gemma2_keys[] = {
    DEC_KEYS,
    {"attn_logit_softcapping", "attn_logit_softcapping", F32, SKIP},
    {"final_logit_softcapping", "final_logit_softcapping", F32, SKIP},
    {"attention.sliding_window", "sliding_window", U32, SKIP},
    {NULL, NULL, 0, 0},
};

static const xllm_hf_key_map gemma3_keys[] = {
    DEC_KEYS,
    {"final_logit_softcapping", "final_logit_softcapping", F32, SKIP},
    {"attention.sliding_window", "sliding_window", U32, SKIP},
    {NULL, NULL, 0, 0},
};

static const xllm_hf_key_map phi3_keys[] = {
    DEC_KEYS,
    {"rope.scaling.original_context_length", "original_max_position_embeddings", U32, SKIP},
    {"attention.sliding_window", "sliding_window", U32, SKIP},
    {NULL, NULL, 0, 0},
};

static const xllm_hf_key_map bert_keys[] = {
    {"context_length", "max_position_embeddings", U32, REQ},
    {"embedding_length", "hidden_size", U32, REQ},
    {"block_count", "num_hidden_layers", U32, REQ},
    {"feed_forward_length", "intermediate_size", U32, REQ},
    {"attention.head_count", "num_attention_heads", U32, REQ},
    {"attention.layer_norm_epsilon", "layer_norm_eps", F32, REQ},
    {NULL, NULL, 0, 0},
};

static const xllm_hf_key_map nomic_keys[] = {
    {"context_length", "max_trained_positions|n_positions", U32, REQ},
    {"embedding_length", "n_embd|hidden_size", U32, REQ},
    {"block_count", "n_layer|num_hidden_layers", U32, REQ},
    {"feed_forward_length", "n_inner|intermediate_size", U32, REQ},
    {"attention.head_count", "n_head|num_attention_heads", U32, REQ},
    {"attention.layer_norm_epsilon", "layer_norm_epsilon|layer_norm_eps", F32, REQ},
    {"rope.freq_base", "rotary_emb_base", F32, REQ},
    {NULL, NULL, 0, 0},
};

/* ---- architectures ---- */

static const char *const dec_skip[] = {"rotary_emb.inv_freq", NULL};
static const char *const gemma3_strip[] = {"language_model.", NULL};
static const char *const gemma3_skip[] = {"rotary_emb.inv_freq", "vision_tower.", "multi_modal_projector.",
                                          "vision_model.", NULL};
static const char *const bert_strip[] = {"bert.", NULL};
static const char *const bert_skip[] = {"pooler.", "cls.", "embeddings.position_ids", NULL};
static const char *const nomic_skip[] = {"pooler.", NULL};

#define ROPE XLLM_HF_F_ROPE

static const xllm_hf_arch archs[] = {
    {"llama", "LlamaForCausalLM", "llama", llama_tensors, llama_keys, NULL, dec_skip, ROPE, 0,
     "{\"hidden_act\": \"silu\"}"},
    {"mistral", "MistralForCausalLM", "llama", llama_tensors, llama_keys, NULL, dec_skip, ROPE, 0,
     "{\"hidden_act\": \"silu\"}"},
    {"qwen2", "Qwen2ForCausalLM", "qwen2", qwen2_tensors, qwen_keys, NULL, dec_skip, ROPE, 0,
     "{\"hidden_act\": \"silu\", \"use_sliding_window\": false}"},
    {"qwen3", "Qwen3ForCausalLM", "qwen3", qwen3_tensors, qwen_keys, NULL, dec_skip, ROPE, 0,
     "{\"hidden_act\": \"silu\", \"use_sliding_window\": false}"},
    {"gemma2", "Gemma2ForCausalLM", "gemma2", gemma2_tensors, gemma2_keys, NULL, dec_skip,
     ROPE | XLLM_HF_F_SWA_PATTERN | XLLM_HF_F_ATTN_SCALE | XLLM_HF_F_TIED_DEFAULT, 2,
     "{\"hidden_activation\": \"gelu_pytorch_tanh\", \"hidden_act\": \"gelu_pytorch_tanh\"}"},
    {"gemma3_text", "Gemma3ForCausalLM", "gemma3", gemma3_tensors, gemma3_keys, gemma3_strip, gemma3_skip,
     ROPE | XLLM_HF_F_SWA_PATTERN | XLLM_HF_F_ATTN_SCALE | XLLM_HF_F_TIED_DEFAULT, 6,
     "{\"hidden_activation\": \"gelu_pytorch_tanh\"}"},
    {"gemma3", "Gemma3ForConditionalGeneration", "gemma3", gemma3_tensors, gemma3_keys, gemma3_strip,
     gemma3_skip,
     ROPE | XLLM_HF_F_SWA_PATTERN | XLLM_HF_F_ATTN_SCALE | XLLM_HF_F_TIED_DEFAULT | XLLM_HF_F_TEXT_CONFIG, 6,
     NULL},
    {"phi3", "Phi3ForCausalLM", "phi3", phi3_tensors, phi3_keys, NULL, dec_skip, ROPE, 0,
     "{\"hidden_act\": \"silu\"}"},
    {"bert", "BertModel", "bert", bert_tensors, bert_keys, bert_strip, bert_skip, XLLM_HF_F_ENCODER, 0,
     "{\"hidden_act\": \"gelu\", \"position_embedding_type\": \"absolute\"}"},
    {"nomic_bert", "NomicBertModel", "nomic-bert", nomic_tensors, nomic_keys, NULL, nomic_skip,
     XLLM_HF_F_ENCODER, 0,
     "{\"activation_function\": \"swiglu\", \"causal\": false, \"prenorm\": false, "
     "\"rotary_emb_fraction\": 1.0, \"rotary_emb_interleaved\": false, \"rotary_emb_scale_base\": null, "
     "\"qkv_proj_bias\": false, \"mlp_fc1_bias\": false, \"mlp_fc2_bias\": false}"},
};

#define N_ARCHS (sizeof archs / sizeof archs[0])

const xllm_hf_arch *xllm_hf_arch_find(const char *model_type, json_t *architectures)
{
    for (size_t i = 0; model_type && i < N_ARCHS; i++)
        if (!strcmp(archs[i].model_type, model_type))
            return &archs[i];
    for (size_t j = 0; json_is_array(architectures) && j < json_array_size(architectures); j++) {
        const char *cls = json_string_value(json_array_get(architectures, j));
        for (size_t i = 0; cls && i < N_ARCHS; i++)
            if (!strcmp(archs[i].hf_class, cls))
                return &archs[i];
    }
    return NULL;
}

const xllm_hf_arch *xllm_hf_arch_for_gguf(const char *gguf_arch)
{
    for (size_t i = 0; gguf_arch && i < N_ARCHS; i++)
        if (!strcmp(archs[i].gguf_arch, gguf_arch))
            return &archs[i]; /* first entry per GGUF arch is the canonical HF class */
    return NULL;
}

const char *xllm_hf_arch_list(void)
{
    return "llama (LlamaForCausalLM), mistral (MistralForCausalLM -> llama), qwen2, qwen3, gemma2, "
           "gemma3_text (Gemma3ForCausalLM), gemma3 (text part of Gemma3ForConditionalGeneration), phi3, "
           "bert, nomic_bert (NomicBertModel -> nomic-bert)";
}
