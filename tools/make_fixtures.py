#!/usr/bin/env python3
"""Writes tiny seeded random-weight models of every supported architecture in Hugging
Face layout (config.json, model.safetensors, tokenizer files), with float64 reference
outputs, for the engine's tests (tests/fixtures/models/<name>/).

Generate (CPU, a few seconds; needs torch, numpy, python3-regex, jinja2 -- Debian's
python3-torch python3-numpy python3-regex python3-jinja2 are enough):
    /usr/bin/python3 tools/make_fixtures.py --corpus .data/kjv.txt --out tests/fixtures/models
Cross-check against transformers / tokenizers where they are installed:
    python3 tools/make_fixtures.py --check-hf tests/fixtures/models
Cross-check the tokenizers with tokenizers.js (node):
    node tools/check_tokenizers.mjs tests/fixtures/models

Per fixture dir:
    config.json (HF key names as transformers 4.x writes them), model.safetensors (F32),
    tokenizer.json, tokenizer_config.json, special_tokens_map.json (+ vocab.txt),
    reference.json + logits-K.f32 (decoders) or emb-K.f32 / hidden-K.f32 (encoders):
        raw little-endian float32, row-major [n_pos][n_vocab] / [dim] / [n_pos][dim]
    tokenizer_reference.json: texts -> token ids (and a rendered chat template)
References: float64 on CPU with tools/arch_ref.py / tools/nomic_bert_ref.py, from the
saved f32 weights.
"""

import argparse
import json
import math
import os
import random
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import arch_ref  # noqa: E402
import nomic_bert_ref  # noqa: E402
import st_io  # noqa: E402
import tok_train  # noqa: E402

SEED = 20251123
VOCAB = 320
DEC_SPECIALS = ["<unk>", "<s>", "</s>"]   # ids 0, 1, 2
BOS, EOS = 1, 2
DEC_CASE_LENS = [1, 5, 24]
SWA_CASE_LENS = [1, 5, 24, 40]           # gemma: beyond the sliding window of 8
ENC_CASE_LENS = [3, 17]
ENC_TEXT = "In the beginning God created the heaven and the earth."

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] + ': ' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
)
CHAT_MESSAGES = [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Who made the light?"},
                 {"role": "assistant", "content": "God."},
                 {"role": "user", "content": "When?"}]

TOKENIZER_TEXTS = [
    "In the beginning God created the heaven and the earth.",
    "And God said, Let there be light: and there was light.",
    "  two  spaces, tabs\tand\nnewlines  ",
    "Numbers 123 and 4567; punctuation!? (yes) -- 'quotes' \"double\" it's",
    "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600",
    "<s>specials</s> inside <unk> text",
    "",
]


def base_decoder(model_type, arch, **kw):
    cfg = {
        "architectures": [arch], "model_type": model_type,
        "vocab_size": VOCAB, "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 16, "max_position_embeddings": 128, "rms_norm_eps": 1e-6,
        "hidden_act": "silu", "attention_bias": False, "attention_dropout": 0.0,
        "initializer_range": 0.02, "bos_token_id": BOS, "eos_token_id": EOS,
        "pad_token_id": None, "rope_theta": 10000.0, "rope_scaling": None,
        "tie_word_embeddings": False, "torch_dtype": "float32", "use_cache": True,
    }
    cfg.update(kw)
    return cfg


# (name, config, case lengths, notes)
DECODERS = [
    ("llama", base_decoder("llama", "LlamaForCausalLM", hidden_size=256, intermediate_size=256,
                           head_dim=64, rms_norm_eps=1e-5, mlp_bias=False, pretraining_tp=1),
     DEC_CASE_LENS,
     "hidden 256 / intermediate 256 so every row length is a multiple of 256 (K-quants); "
     "4 heads of 64, 2 kv heads; untied"),
    ("llama3", base_decoder("llama", "LlamaForCausalLM", rms_norm_eps=1e-5, mlp_bias=False,
                            pretraining_tp=1, rope_theta=500000.0, tie_word_embeddings=True,
                            rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                          "original_max_position_embeddings": 64}),
     DEC_CASE_LENS,
     "llama3 rope scaling, theta 5e5; original_max_position_embeddings 64 puts the 8 "
     "frequencies of head_dim 16 in all three bands (kept, smoothed, divided); tied"),
    ("qwen2", base_decoder("qwen2", "Qwen2ForCausalLM", rope_theta=1000000.0,
                           tie_word_embeddings=True, use_sliding_window=False,
                           sliding_window=128, max_window_layers=2),
     DEC_CASE_LENS, "q/k/v biases; use_sliding_window false (as real Qwen2 configs); tied"),
    ("qwen3", base_decoder("qwen3", "Qwen3ForCausalLM", rope_theta=1000000.0, head_dim=32,
                           tie_word_embeddings=True, use_sliding_window=False,
                           sliding_window=None, max_window_layers=2),
     DEC_CASE_LENS,
     "q/k RMSNorm per head; explicit head_dim 32 != hidden/heads (q_proj 64->128); tied"),
    ("gemma2", base_decoder("gemma2", "Gemma2ForCausalLM", num_hidden_layers=4,
                            hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh",
                            tie_word_embeddings=True, query_pre_attn_scalar=24,
                            attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
                            sliding_window=8, cache_implementation="hybrid"),
     SWA_CASE_LENS,
     "4 layers: 0,2 sliding (window 8), 1,3 global; softcaps 2.0 / 3.0 (small so tanh "
     "bites at these logit scales); query_pre_attn_scalar 24 != head_dim 16"),
    ("gemma3", base_decoder("gemma3_text", "Gemma3ForCausalLM", num_hidden_layers=4,
                            hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh",
                            tie_word_embeddings=True, query_pre_attn_scalar=24,
                            attn_logit_softcapping=None, final_logit_softcapping=None,
                            sliding_window=8, sliding_window_pattern=4,
                            layer_types=["sliding_attention"] * 3 + ["full_attention"],
                            rope_theta=1000000.0, rope_local_base_freq=10000.0,
                            rope_scaling={"rope_type": "linear", "factor": 8.0},
                            cache_implementation="hybrid"),
     SWA_CASE_LENS,
     "4 layers: 0-2 sliding (window 8, rope_local_base_freq 1e4, no scaling), 3 global "
     "(rope_theta 1e6, linear factor 8 as gemma-3-4b); q/k norm; both layer_types and "
     "sliding_window_pattern given"),
    ("phi3", base_decoder("phi3", "Phi3ForCausalLM", rms_norm_eps=1e-5,
                          original_max_position_embeddings=128, partial_rotary_factor=1.0,
                          sliding_window=None, resid_pdrop=0.0, embd_pdrop=0.0),
     DEC_CASE_LENS, "fused qkv_proj (rows q, k, v) and gate_up_proj (rows gate, up); no rope scaling; untied"),
]

BERT_CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "vocab_size": VOCAB,
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0, "max_position_embeddings": 128,
    "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
    "pad_token_id": 0, "position_embedding_type": "absolute", "use_cache": True,
    "classifier_dropout": None, "torch_dtype": "float32",
}


def log(*a):
    print(*a, flush=True)


write_json = tok_train.write_json


# ---------------------------------------------------------------- weights

def random_weights(shapes, seed, gemma=False):
    """Every tensor drawn so activations are O(1) (attention far from uniform, softcaps
    bite, logits std ~2): linear weights N/sqrt(fan_in); embeddings and lm_head
    2N/sqrt(hidden); norm weights 1+0.1N (Gemma: 0.1N, it multiplies by 1+w);
    norm biases 0.1N; other biases 0.2N.  Drawn in sorted-name order."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name in sorted(shapes):
        shape = shapes[name]
        r = torch.randn(shape, generator=g, dtype=torch.float64)
        is_norm = any(k in name for k in ("norm", "LayerNorm", "emb_ln"))
        if is_norm:
            if name.endswith(".bias"):
                v = 0.1 * r
            else:
                v = (0.0 if gemma else 1.0) + 0.1 * r
        elif len(shape) == 1:
            v = 0.2 * r
        elif "embed" in name or name == "lm_head.weight":
            v = r * (2.0 / math.sqrt(shape[1]))
        else:
            v = r / math.sqrt(shape[1])
        out[name] = v.to(torch.float32)
    return out


def save_f32(path, arr):
    np.ascontiguousarray(np.asarray(arr), dtype="<f4").tofile(path)


def rand_tokens(seed, n, vocab=VOCAB):
    r = random.Random(seed)
    return [r.randrange(vocab) for _ in range(n)]


def rel_l2(a, b):
    return float((a - b).norm() / b.norm())


# ---------------------------------------------------------------- tokenizers

def read_corpus(path, max_bytes):
    lines, total = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                lines.append(line)
                total += len(line) + 1
                if total >= max_bytes:
                    break
    return lines


def render_chat(template, messages, bos, eos):
    import jinja2
    env = jinja2.Environment()
    return env.from_string(template).render(messages=messages, add_generation_prompt=True,
                                            bos_token=bos, eos_token=eos)


def tokenizer_reference(tok, chat):
    cases = [{"text": t, "ids": tok.encode(t, False), "ids_with_special": tok.encode(t, True)}
             for t in TOKENIZER_TEXTS]
    out = {"source": "tools/tok_train.py encoder; equal to HF tokenizers 0.23.2 (Rust core) and "
                     "tokenizers.js (tools/check_tokenizers.mjs)",
           "cases": cases,
           "decode": [{"ids": c["ids"], "text": tok.decode(c["ids"])} for c in cases]}
    if chat:
        text = render_chat(CHAT_TEMPLATE, CHAT_MESSAGES, "<s>", "</s>")
        out["chat"] = {"messages": CHAT_MESSAGES, "add_generation_prompt": True,
                       "bos_token": "<s>", "eos_token": "</s>", "rendered": text,
                       "ids": tok.encode(text, False)}
    return out


def write_decoder_tokenizer(bpe, d):
    write_json(os.path.join(d, "tokenizer.json"), bpe.to_json())
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False,
        "clean_up_tokenization_spaces": False, "model_max_length": 128,
        "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False,
                                          "rstrip": False, "single_word": False, "special": True}
                                 for i, s in enumerate(DEC_SPECIALS)},
        "chat_template": CHAT_TEMPLATE,
    })
    write_json(os.path.join(d, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})
    write_json(os.path.join(d, "tokenizer_reference.json"), tokenizer_reference(bpe, True))


def write_bert_tokenizer(wp, d):
    write_json(os.path.join(d, "tokenizer.json"), wp.to_json())
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write(wp.vocab_txt())
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "tokenizer_class": "BertTokenizer", "do_lower_case": True,
        "tokenize_chinese_chars": True, "strip_accents": None,
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]",
        "clean_up_tokenization_spaces": True, "model_max_length": 128,
    })
    write_json(os.path.join(d, "special_tokens_map.json"), {
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "cls_token": "[CLS]", "mask_token": "[MASK]"})
    write_json(os.path.join(d, "tokenizer_reference.json"), tokenizer_reference(wp, False))


def write_st_modules(d, dim, normalize):
    mods = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        mods.append({"idx": 2, "name": "2", "path": "2_Normalize",
                     "type": "sentence_transformers.models.Normalize"})
    write_json(os.path.join(d, "modules.json"), mods)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": dim, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True})
    write_json(os.path.join(d, "sentence_bert_config.json"),
               {"max_seq_length": 128, "do_lower_case": False})


# ---------------------------------------------------------------- fixtures

def versions():
    v = {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    try:
        import jinja2
        v["jinja2"] = jinja2.__version__
    except ImportError:
        pass
    return v


def make_decoder(idx, spec, out, bpe, vers):
    name, cfg, lens, notes = spec
    seed = SEED + 100 * idx
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    shapes = arch_ref.decoder_tensor_shapes(cfg)
    W = random_weights(shapes, seed, gemma=cfg["model_type"].startswith("gemma"))
    st_io.save(W, os.path.join(d, "model.safetensors"))
    write_json(os.path.join(d, "config.json"), cfg)
    write_json(os.path.join(d, "generation_config.json"),
               {"bos_token_id": BOS, "eos_token_id": EOS, "do_sample": False})
    write_decoder_tokenizer(bpe, d)
    W = st_io.load(os.path.join(d, "model.safetensors"))       # reference from saved f32
    cases, worst = [], 0.0
    for k, n in enumerate(lens):
        toks = rand_tokens(seed + k, n)
        with torch.no_grad():
            l64 = arch_ref.decoder_forward(cfg, W, toks, torch.float64)
            l32 = arch_ref.decoder_forward(cfg, W, toks, torch.float32).double()
        worst = max(worst, rel_l2(l32, l64))
        fn = f"logits-{k}.f32"
        save_f32(os.path.join(d, fn), l64.numpy())
        cases.append({"tokens": toks, "logits_file": fn, "n_pos": n, "n_vocab": VOCAB,
                      "logits_std": round(l64.std().item(), 4),
                      "argmax": l64.argmax(dim=-1).tolist()})
    write_json(os.path.join(d, "reference.json"), {
        "arch": cfg["model_type"], "hf_class": cfg["architectures"][0], "dtype": "f32",
        "compute": "CPU float64 with tools/arch_ref.py from the saved f32 weights "
                   "(rope angles in float64 too)",
        "seed": seed, "notes": notes, "versions": vers,
        "f32_vs_f64_rel_l2": worst, "cases": cases})
    n_params = sum(int(np.prod(s)) for s in shapes.values())
    log(f"  {name}: {n_params} params, f32-vs-f64 rel {worst:.1e}, "
        f"logits std {cases[-1]['logits_std']}")
    return n_params


def encoder_cases(d, seed, forward, dim, wp):
    token_lists = [rand_tokens(seed + k, n) for k, n in enumerate(ENC_CASE_LENS)]
    token_lists.append(wp.encode(ENC_TEXT, True))
    cases, worst = [], 0.0
    for k, toks in enumerate(token_lists):
        with torch.no_grad():
            h = forward(toks, torch.float64)                                    # [s, dim]
            h32 = forward(toks, torch.float32).double()
        worst = max(worst, rel_l2(h32, h))
        emb = nomic_bert_ref.mean_pool_normalize(h[None])[0]
        save_f32(os.path.join(d, f"emb-{k}.f32"), emb.numpy())
        save_f32(os.path.join(d, f"hidden-{k}.f32"), h.numpy())
        c = {"tokens": toks, "embedding_file": f"emb-{k}.f32", "hidden_file": f"hidden-{k}.f32",
             "n_pos": len(toks), "dim": dim, "pooling": "mean", "normalized": True,
             "token_type_ids": "all 0", "position_ids": "0..n_pos-1"}
        if k == len(token_lists) - 1:
            c["text"] = ENC_TEXT
        cases.append(c)
    return cases, worst


def make_bert(idx, out, wp, vers):
    seed = SEED + 100 * idx
    d = os.path.join(out, "bert")
    os.makedirs(d, exist_ok=True)
    cfg = BERT_CONFIG
    shapes = arch_ref.bert_tensor_shapes(cfg)
    st_io.save(random_weights(shapes, seed), os.path.join(d, "model.safetensors"))
    write_json(os.path.join(d, "config.json"), cfg)
    write_bert_tokenizer(wp, d)
    write_st_modules(d, cfg["hidden_size"], normalize=True)
    W = st_io.load(os.path.join(d, "model.safetensors"))
    cases, worst = encoder_cases(d, seed, lambda t, dt: arch_ref.bert_forward(cfg, W, t, dtype=dt),
                                 cfg["hidden_size"], wp)
    write_json(os.path.join(d, "reference.json"), {
        "arch": "bert", "hf_class": "BertModel", "dtype": "f32",
        "compute": "CPU float64 with tools/arch_ref.py from the saved f32 weights; mean pooling "
                   "over all tokens (no padding), then L2 normalize (sentence-transformers)",
        "seed": seed, "versions": vers, "f32_vs_f64_rel_l2": worst, "cases": cases})
    n = sum(int(np.prod(s)) for s in shapes.values())
    log(f"  bert: {n} params, f32-vs-f64 rel {worst:.1e}")
    return n


def make_nomic(idx, out, wp, vers):
    seed = SEED + 100 * idx
    d = os.path.join(out, "nomic-bert")
    os.makedirs(d, exist_ok=True)
    cfg = nomic_bert_ref.default_config(vocab_size=VOCAB)
    shapes = {k: tuple(v.shape) for k, v in nomic_bert_ref.NomicBertModel(cfg).state_dict().items()}
    st_io.save(random_weights(shapes, seed), os.path.join(d, "model.safetensors"))
    write_json(os.path.join(d, "config.json"), cfg)
    write_bert_tokenizer(wp, d)
    write_st_modules(d, cfg["n_embd"], normalize=False)
    model = nomic_bert_ref.NomicBertModel(json.load(open(os.path.join(d, "config.json"))))
    model.load_state_dict(st_io.load(os.path.join(d, "model.safetensors")), strict=True)
    model.eval()

    def fwd(toks, dt):
        return model.to(dt)(torch.tensor([toks], dtype=torch.long))[0]

    cases, worst = encoder_cases(d, seed, fwd, cfg["n_embd"], wp)
    write_json(os.path.join(d, "reference.json"), {
        "arch": "nomic-bert", "hf_class": "NomicBertModel", "dtype": "f32",
        "compute": "CPU float64 with tools/nomic_bert_ref.py from the saved f32 weights; mean "
                   "pooling, then L2 normalize",
        "seed": seed, "versions": vers, "f32_vs_f64_rel_l2": worst,
        "tensor_names": sorted(shapes), "cases": cases})
    n = sum(int(np.prod(s)) for s in shapes.values())
    log(f"  nomic-bert: {n} params, f32-vs-f64 rel {worst:.1e}")
    return n


def write_readme(out, vers, corpus_note, rows):
    lines = [
        "# Tiny model fixtures",
        "",
        "Seeded random-weight models of every supported architecture, in Hugging Face",
        "layout, with float64 reference outputs. Generated by `tools/make_fixtures.py`;",
        "do not edit by hand, regenerate instead (byte-identical on re-run):",
        "",
        "```sh",
        "apt-get install python3-torch python3-numpy python3-regex python3-jinja2 bible-kjv",
        "mkdir -p .data && bible -f \"Gen1:1-Rev22:21\" | sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' > .data/kjv.txt",
        "/usr/bin/python3 tools/make_fixtures.py --corpus .data/kjv.txt --out tests/fixtures/models",
        "JSDEPS=/tmp/jsdeps node tools/check_tokenizers.mjs tests/fixtures/models   # HF tokenizers (Rust) + tokenizers.js",
        "python3 tools/make_fixtures.py --check-hf tests/fixtures/models            # where transformers exists",
        "```",
        "",
        f"- versions: `{json.dumps(vers)}`",
        f"- seeds: base {SEED}; fixture k (table order) draws weights with {SEED} + 100*k",
        "  and case j's token ids with that seed + j (Python `random.Random`).",
        f"- tokenizer corpus: {corpus_note}",
        "- weights: F32 safetensors; every tensor drawn from a normal: linear weights",
        "  std 1/sqrt(fan_in), embeddings / lm_head std 2/sqrt(hidden), norm weights",
        "  1 + 0.1N (Gemma: 0.1N, since Gemma multiplies by 1 + w), norm biases 0.1N,",
        "  other biases 0.2N, so activations are O(1) and the references discriminate",
        "  (attention far from uniform, softcaps non-linear, logits std about 2).",
        "- references: float64 on CPU from the saved f32 weights, by `tools/arch_ref.py`",
        "  (decoders, BERT; follows transformers' modeling code, eager attention) and",
        "  `tools/nomic_bert_ref.py`. `tools/make_fixtures.py --check-hf DIR` compares",
        "  every reference with transformers (float64, eager) and every tokenizer",
        "  reference with HF tokenizers: run on the GPU host with transformers 5.17.0,",
        "  tokenizers 0.23.2, torch 2.11, every decoder and BERT case agreed to <= 2.3e-7",
        "  relative L2 (HF computes rope cos/sin in f32) and every tokenizer case was",
        "  equal; log in `check_hf.txt`. nomic-bert cannot be checked there (no remote",
        "  code offline).",
        "- `f32_vs_f64_rel_l2` in each reference.json: the same reference code run in",
        "  float32 against float64 (relative L2 over all logits): the order of agreement",
        "  an f32 engine should reach.",
        "- files `logits-K.f32`, `emb-K.f32`, `hidden-K.f32`: raw little-endian float32,",
        "  row-major [n_pos][n_vocab], [dim], [n_pos][dim]; every position is stored.",
        "- decoders share one byte-level BPE tokenizer (GPT-2 regex and byte map; vocab",
        "  320 = `<unk>` 0, `<s>` 1, `</s>` 2, the 256 byte symbols, 61 merges; a",
        "  TemplateProcessing post-processor prepends `<s>`; merges stored as \"a b\"",
        "  strings) with a small Jinja chat template in tokenizer_config.json.",
        "  bert and nomic-bert share one lowercase WordPiece tokenizer (vocab 320:",
        "  `[PAD]` 0, `[UNK]` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4; vocab.txt too).",
        "- case token ids are random in [0, 320) (specials included), except the",
        "  last encoder case, which carries `text` and its `[CLS] ... [SEP]` ids.",
        "- `tokenizer_reference.json`: texts -> ids with and without the post-processor,",
        "  decodes, and (decoders) the chat template rendered for four messages. Written",
        "  by tools/tok_train.py's encoders and checked equal, every id and decode, with",
        "  HF tokenizers 0.23.2 (the Rust core, npm `tokenizers` node binding) and",
        "  tokenizers.js; the template render with @huggingface/jinja.",
        "- config.json uses the key names that transformers 4.x writes and hub models",
        "  carry (`rope_theta`, `rope_scaling`, `rope_local_base_freq`,",
        "  `sliding_window_pattern`; gemma3 also has `layer_types`). nomic-bert's",
        "  config.json and tensor names are those of nomic-ai/nomic-embed-text-v1.5.",
        "",
        "| fixture | class | params | notes |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| `{r[0]}` | {r[1]} | {r[2]} | {r[3]} |")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def generate(args):
    torch.manual_seed(SEED)
    vers = versions()
    log("versions", vers)
    lines = read_corpus(args.corpus, args.corpus_bytes)
    corpus_note = (f"the first {sum(len(x) + 1 for x in lines)} bytes ({len(lines)} verses) of "
                   f"the King James Bible (public domain; Debian's bible-kjv, "
                   f"`bible -f \"Gen1:1-Rev22:21\"` with the verse references stripped)")
    bpe = tok_train.ByteBPE.train(lines, VOCAB, DEC_SPECIALS, bos="<s>", eos="</s>")
    assert len(bpe.vocab) == VOCAB, len(bpe.vocab)
    wp = tok_train.WordPiece.train(lines, VOCAB)
    assert len(wp.vocab) == VOCAB, len(wp.vocab)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for i, spec in enumerate(DECODERS):
        n = make_decoder(i, spec, args.out, bpe, vers)
        rows.append((spec[0], spec[1]["architectures"][0], n, spec[3]))
    n = make_bert(len(DECODERS), args.out, wp, vers)
    rows.append(("bert", "BertModel", n,
                 "post-LN, exact GELU, learned positions, pooler kept (unused); "
                 "sentence-transformers modules.json: mean pooling + Normalize"))
    n = make_nomic(len(DECODERS) + 1, args.out, wp, vers)
    rows.append(("nomic-bert", "NomicBertModel", n,
                 "fused Wqkv, rotary base 1000 over the whole head, SwiGLU (fc11 up, "
                 "fc12 gate), post-LN, n_inner 256, no biases; modules.json: mean pooling"))
    write_readme(args.out, vers, corpus_note, rows)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    log(f"total bytes {total}")


# ---------------------------------------------------------------- check against transformers

def check_hf(root, tol=1e-4):
    """Compare every stored reference with transformers' own forward (float64, eager)
    and every tokenizer_reference.json with HF tokenizers.  Returns failures."""
    import transformers
    from tokenizers import Tokenizer
    log("transformers", transformers.__version__)
    fails = 0
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        ref_path = os.path.join(d, "reference.json")
        if not os.path.isfile(ref_path):
            continue
        ref = json.load(open(ref_path))
        try:
            if name == "nomic-bert":
                log(f"  {name}: skipped (transformers has no nomic_bert without remote code)")
                model = None
            elif "logits_file" in ref["cases"][0]:
                model = transformers.AutoModelForCausalLM.from_pretrained(
                    d, attn_implementation="eager").double().eval()
            else:
                model = transformers.AutoModel.from_pretrained(
                    d, attn_implementation="eager").double().eval()
            for c in ref["cases"] if model is not None else []:
                ids = torch.tensor([c["tokens"]])
                with torch.no_grad():
                    if "logits_file" in c:
                        got = model(input_ids=ids, use_cache=False).logits[0]
                        want = np.fromfile(os.path.join(d, c["logits_file"]), "<f4")
                    else:
                        got = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                                    token_type_ids=torch.zeros_like(ids)).last_hidden_state[0]
                        want = np.fromfile(os.path.join(d, c["hidden_file"]), "<f4")
                want = torch.from_numpy(want.astype(np.float64)).reshape(got.shape)
                err = rel_l2(got.double(), want)
                ok = err < tol
                fails += not ok
                log(f"  {name} n_pos={c['n_pos']}: rel l2 {err:.2e} {'ok' if ok else 'FAIL'}")
        except Exception as e:   # report and go on to the next fixture
            fails += 1
            log(f"  {name}: FAIL {e!r}")
        tref = os.path.join(d, "tokenizer_reference.json")
        if os.path.isfile(tref):
            tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            tr = json.load(open(tref))
            bad = [c["text"] for c in tr["cases"]
                   if tok.encode(c["text"], add_special_tokens=False).ids != c["ids"]
                   or tok.encode(c["text"], add_special_tokens=True).ids != c["ids_with_special"]]
            fails += len(bad)
            log(f"  {name} tokenizer: {len(tr['cases']) - len(bad)}/{len(tr['cases'])} ok {bad}")
    log(f"check-hf: {fails} failures")
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output root (tests/fixtures/models)")
    ap.add_argument("--corpus", help="plain text, one passage a line")
    ap.add_argument("--corpus-bytes", type=int, default=400000)
    ap.add_argument("--check-hf", metavar="DIR", help="compare DIR's fixtures with transformers")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    if args.check_hf:
        return 1 if check_hf(args.check_hf) else 0
    if not args.out or not args.corpus:
        ap.error("--out and --corpus are required to generate")
    if os.path.isdir(args.out):
        for name in [s[0] for s in DECODERS] + ["bert", "nomic-bert"]:
            shutil.rmtree(os.path.join(args.out, name), ignore_errors=True)
    generate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
