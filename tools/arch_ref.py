"""Plain PyTorch reference forward passes for the architectures xllm supports, read
from HF `config.json` dicts and HF tensor names, following transformers' modeling
code (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM,
Gemma3ForCausalLM, Phi3ForCausalLM, BertModel) with eager attention.

Written for float64 references where transformers is not installed; when it is,
`make_fixtures.py --check-hf` compares these outputs with transformers' own.
Functional style: weights are a {hf_name: tensor} dict, no nn.Module.

Semantics followed (HF):
  - RMSNorm: x * rsqrt(mean(x^2) + eps) * w   (Gemma: * (1 + w))
  - RoPE: NeoX / rotate-half layout on HF-ordered q/k rows, cos/sin of pos * inv_freq
    duplicated over both halves; llama3 / linear scaling as modeling_rope_utils.
  - Attention: softmax(q k^T * scale [+ tanh softcap] + causal [+ sliding] mask) v,
    GQA: query head h reads kv head h // (n_head / n_kv_head).
    Sliding window W: key j visible from query i iff 0 <= i - j < W.
  - Gemma: embeddings * sqrt(hidden); sandwich norms (post-attention and
    post-feedforward norms applied to the sub-layer output before the residual add);
    gelu_pytorch_tanh MLP; scale = query_pre_attn_scalar^-0.5; final logit softcap.
    Gemma2: even layers sliding.  Gemma3: layer_types (or sliding_window_pattern:
    layer i sliding iff (i + 1) % pattern != 0); sliding layers use
    rope_local_base_freq without scaling, global layers rope_theta + rope_scaling.
  - Qwen3 / Gemma3: per-head RMSNorm of q and k (q_norm, k_norm) before RoPE.
  - Qwen2: q/k/v biases.  Phi3: qkv_proj rows = [q | k | v], gate_up_proj rows =
    [gate | up].
  - BERT: post-LN encoder, exact (erf) GELU, learned absolute positions.
"""

import math

import torch


# ------------------------------------------------------------------ rope

def rope_inv_freq(theta, head_dim, scaling=None, dtype=torch.float64):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=dtype) / head_dim))
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind in (None, "default"):
        return inv
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":
        factor, lo, hi = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        old_ctx = scaling["original_max_position_embeddings"]
        lo_wl, hi_wl = old_ctx / lo, old_ctx / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old_ctx / wl - lo) / (hi - lo)
        mid = (1 - smooth) * inv / factor + smooth * inv
        medium = (wl >= hi_wl) & (wl <= lo_wl)
        return torch.where(medium, mid, out)
    raise ValueError(f"arch_ref: rope type {kind!r} not implemented")


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, inv_freq):
    """x: [heads, seq, head_dim]; positions 0..seq-1."""
    pos = torch.arange(x.shape[1], dtype=x.dtype)
    freqs = torch.outer(pos, inv_freq.to(x.dtype))
    cos = torch.cat((freqs.cos(), freqs.cos()), dim=-1)
    sin = torch.cat((freqs.sin(), freqs.sin()), dim=-1)
    return x * cos + rotate_half(x) * sin


# ------------------------------------------------------------------ pieces

def rms_norm(x, w, eps, gemma=False):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if gemma else y * w


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def linear(x, W, name, bias=False):
    y = x @ W[name + ".weight"].T
    if bias:
        y = y + W[name + ".bias"]
    return y


# ------------------------------------------------------------------ decoders

DECODER_TYPES = ("llama", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3")


class DecoderSpec:
    """Everything the forward pass needs, read once from config.json."""

    def __init__(self, cfg):
        t = cfg["model_type"]
        if t not in DECODER_TYPES:
            raise ValueError(f"arch_ref: model_type {t!r} not supported")
        self.type = t
        self.hidden = cfg["hidden_size"]
        self.n_layer = cfg["num_hidden_layers"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_head
        self.head_dim = cfg.get("head_dim") or self.hidden // self.n_head
        self.eps = cfg["rms_norm_eps"]
        self.gemma = t.startswith("gemma")
        self.tied = cfg.get("tie_word_embeddings", self.gemma)
        self.qkv_bias = t == "qwen2" or cfg.get("attention_bias", False)
        self.qk_norm = t in ("qwen3", "gemma3_text")
        self.fused = t == "phi3"
        if self.gemma:
            self.scale = cfg["query_pre_attn_scalar"] ** -0.5
        else:
            self.scale = self.head_dim ** -0.5
        self.attn_cap = cfg.get("attn_logit_softcapping") if self.gemma else None
        self.final_cap = cfg.get("final_logit_softcapping") if self.gemma else None
        act = cfg.get("hidden_activation") or cfg.get("hidden_act", "silu")
        self.act = {"silu": torch.nn.functional.silu, "gelu_pytorch_tanh": gelu_tanh}[act]
        theta = cfg.get("rope_theta", 10000.0)
        scaling = cfg.get("rope_scaling")
        global_freq = rope_inv_freq(theta, self.head_dim, scaling)
        self.window = [None] * self.n_layer
        self.inv_freq = [global_freq] * self.n_layer
        if t == "gemma2":
            for i in range(0, self.n_layer, 2):
                self.window[i] = cfg["sliding_window"]
        elif t == "gemma3_text":
            types = cfg.get("layer_types")
            if not types:
                pat = cfg.get("sliding_window_pattern", 6)
                types = ["sliding_attention" if (i + 1) % pat else "full_attention"
                         for i in range(self.n_layer)]
            local_freq = rope_inv_freq(cfg.get("rope_local_base_freq", 10000.0), self.head_dim)
            for i, lt in enumerate(types):
                if lt == "sliding_attention":
                    self.window[i] = cfg["sliding_window"]
                    self.inv_freq[i] = local_freq
        elif cfg.get("use_sliding_window") or (t == "phi3" and cfg.get("sliding_window")):
            raise ValueError("arch_ref: sliding window for this model type is not implemented")


def attention(x, W, p, spec, layer):
    s = x.shape[0]
    hd = spec.head_dim
    if spec.fused:
        qkv = linear(x, W, p + "qkv_proj")
        nq, nk = spec.n_head * hd, spec.n_kv * hd
        q, k, v = qkv[:, :nq], qkv[:, nq:nq + nk], qkv[:, nq + nk:]
    else:
        q = linear(x, W, p + "q_proj", spec.qkv_bias)
        k = linear(x, W, p + "k_proj", spec.qkv_bias)
        v = linear(x, W, p + "v_proj", spec.qkv_bias)
    q = q.view(s, spec.n_head, hd).transpose(0, 1)          # [h, s, d]
    k = k.view(s, spec.n_kv, hd).transpose(0, 1)
    v = v.view(s, spec.n_kv, hd).transpose(0, 1)
    if spec.qk_norm:
        q = rms_norm(q, W[p + "q_norm.weight"], spec.eps, spec.gemma)
        k = rms_norm(k, W[p + "k_norm.weight"], spec.eps, spec.gemma)
    q = apply_rope(q, spec.inv_freq[layer])
    k = apply_rope(k, spec.inv_freq[layer])
    rep = spec.n_head // spec.n_kv
    k = k.repeat_interleave(rep, dim=0)
    v = v.repeat_interleave(rep, dim=0)
    scores = (q @ k.transpose(-1, -2)) * spec.scale          # [h, s, s]
    if spec.attn_cap:
        scores = torch.tanh(scores / spec.attn_cap) * spec.attn_cap
    i = torch.arange(s)[:, None]
    j = torch.arange(s)[None, :]
    visible = j <= i
    if spec.window[layer]:
        visible = visible & (i - j < spec.window[layer])
    scores = scores.masked_fill(~visible, float("-inf"))
    a = torch.softmax(scores, dim=-1) @ v                    # [h, s, d]
    a = a.transpose(0, 1).reshape(s, spec.n_head * hd)
    return linear(a, W, p + "o_proj")


def mlp(x, W, p, spec):
    if spec.fused:
        gu = linear(x, W, p + "gate_up_proj")
        n = gu.shape[-1] // 2
        gate, up = gu[:, :n], gu[:, n:]
    else:
        gate, up = linear(x, W, p + "gate_proj"), linear(x, W, p + "up_proj")
    return linear(spec.act(gate) * up, W, p + "down_proj")


def decoder_forward(cfg, W, ids, dtype=torch.float64):
    """cfg: config.json dict; W: {hf name: tensor}; ids: list[int] -> logits [s, vocab]."""
    spec = DecoderSpec(cfg)
    W = {k: v.to(dtype) for k, v in W.items()}
    g = spec.gemma
    x = W["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
    if g:
        x = x * torch.tensor(spec.hidden ** 0.5, dtype=dtype)
    for layer in range(spec.n_layer):
        p = f"model.layers.{layer}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], spec.eps, g)
        h = attention(h, W, p + "self_attn.", spec, layer)
        if g:
            h = rms_norm(h, W[p + "post_attention_layernorm.weight"], spec.eps, g)
            x = x + h
            h = rms_norm(x, W[p + "pre_feedforward_layernorm.weight"], spec.eps, g)
            h = mlp(h, W, p + "mlp.", spec)
            x = x + rms_norm(h, W[p + "post_feedforward_layernorm.weight"], spec.eps, g)
        else:
            x = x + h
            h = rms_norm(x, W[p + "post_attention_layernorm.weight"], spec.eps, g)
            x = x + mlp(h, W, p + "mlp.", spec)
    x = rms_norm(x, W["model.norm.weight"], spec.eps, g)
    head = W["model.embed_tokens.weight"] if spec.tied else W["lm_head.weight"]
    logits = x @ head.T
    if spec.final_cap:
        logits = torch.tanh(logits / spec.final_cap) * spec.final_cap
    return logits


def decoder_tensor_shapes(cfg):
    """{hf name: shape} of the checkpoint a config describes (what transformers saves)."""
    spec = DecoderSpec(cfg)
    H, I, V, hd = spec.hidden, cfg["intermediate_size"], cfg["vocab_size"], spec.head_dim
    nq, nk = spec.n_head * hd, spec.n_kv * hd
    out = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
    if not spec.tied:
        out["lm_head.weight"] = (V, H)
    for layer in range(spec.n_layer):
        p = f"model.layers.{layer}."
        out[p + "input_layernorm.weight"] = (H,)
        out[p + "post_attention_layernorm.weight"] = (H,)
        if spec.gemma:
            out[p + "pre_feedforward_layernorm.weight"] = (H,)
            out[p + "post_feedforward_layernorm.weight"] = (H,)
        a = p + "self_attn."
        if spec.fused:
            out[a + "qkv_proj.weight"] = (nq + 2 * nk, H)
            out[p + "mlp.gate_up_proj.weight"] = (2 * I, H)
        else:
            out[a + "q_proj.weight"] = (nq, H)
            out[a + "k_proj.weight"] = (nk, H)
            out[a + "v_proj.weight"] = (nk, H)
            out[p + "mlp.gate_proj.weight"] = (I, H)
            out[p + "mlp.up_proj.weight"] = (I, H)
            if spec.qkv_bias:
                out[a + "q_proj.bias"] = (nq,)
                out[a + "k_proj.bias"] = (nk,)
                out[a + "v_proj.bias"] = (nk,)
        out[a + "o_proj.weight"] = (H, nq)
        out[p + "mlp.down_proj.weight"] = (H, I)
        if spec.qk_norm:
            out[a + "q_norm.weight"] = (hd,)
            out[a + "k_norm.weight"] = (hd,)
    return out


# ------------------------------------------------------------------ BERT

def bert_forward(cfg, W, ids, type_ids=None, dtype=torch.float64):
    """HF BertModel last_hidden_state for one unpadded sequence: [s, hidden]."""
    W = {k: v.to(dtype) for k, v in W.items()}
    eps = cfg["layer_norm_eps"]
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = H // nh
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise ValueError("arch_ref: only hidden_act=gelu is implemented for bert")
    s = len(ids)
    ids_t = torch.tensor(ids, dtype=torch.long)
    tt = torch.zeros(s, dtype=torch.long) if type_ids is None else torch.tensor(type_ids)
    e = "embeddings."
    x = (W[e + "word_embeddings.weight"][ids_t] + W[e + "position_embeddings.weight"][:s]
         + W[e + "token_type_embeddings.weight"][tt])
    x = layer_norm(x, W[e + "LayerNorm.weight"], W[e + "LayerNorm.bias"], eps)
    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = linear(x, W, p + "attention.self.query", True).view(s, nh, hd).transpose(0, 1)
        k = linear(x, W, p + "attention.self.key", True).view(s, nh, hd).transpose(0, 1)
        v = linear(x, W, p + "attention.self.value", True).view(s, nh, hd).transpose(0, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v
        a = linear(a.transpose(0, 1).reshape(s, H), W, p + "attention.output.dense", True)
        x = layer_norm(a + x, W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        h = torch.nn.functional.gelu(linear(x, W, p + "intermediate.dense", True))
        h = linear(h, W, p + "output.dense", True)
        x = layer_norm(h + x, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    return x


def bert_tensor_shapes(cfg, pooler=True):
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    e = "embeddings."
    out = {e + "word_embeddings.weight": (cfg["vocab_size"], H),
           e + "position_embeddings.weight": (cfg["max_position_embeddings"], H),
           e + "token_type_embeddings.weight": (cfg["type_vocab_size"], H),
           e + "LayerNorm.weight": (H,), e + "LayerNorm.bias": (H,)}
    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            out[p + n + ".weight"] = (H, H)
            out[p + n + ".bias"] = (H,)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            out[p + n + ".weight"] = (H,)
            out[p + n + ".bias"] = (H,)
        out[p + "intermediate.dense.weight"] = (I, H)
        out[p + "intermediate.dense.bias"] = (I,)
        out[p + "output.dense.weight"] = (H, I)
        out[p + "output.dense.bias"] = (H,)
    if pooler:
        out["pooler.dense.weight"] = (H, H)
        out["pooler.dense.bias"] = (H,)
    return out
