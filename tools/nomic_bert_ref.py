"""Small PyTorch reference implementation of NomicBertModel (nomic-embed-text-v1.x).

transformers has no built-in `nomic_bert`; the hub checkpoints need remote code,
which is unavailable offline.  This module re-implements the encoder from its
published description so that tools/make_fixtures.py can write a tiny random
nomic-bert fixture with reference outputs.

Sources (read, not copied):
  - nomic-ai/nomic-embed-text-v1.5 `modeling_hf_nomic_bert.py` and
    `configuration_hf_nomic_bert.py` (the hub's remote code; NomicBertModel,
    NomicBertEmbeddings, NomicBertAttention, NomciBertGatedMLP, NomicBertBlock).
  - nomic-ai/nomic-embed-text-v1.5 `config.json` (key names: n_embd, n_head,
    n_layer, n_inner, rotary_emb_base 1000, rotary_emb_fraction 1.0,
    rotary_emb_interleaved false, layer_norm_epsilon 1e-12, prenorm false,
    qkv_proj_bias / mlp_fc1_bias / mlp_fc2_bias false, activation_function
    swiglu, type_vocab_size 2, n_positions 8192, max_trained_positions 2048,
    pad_vocab_size_multiple 64).
  - Tensor names as in the v1.5 safetensors (and as llama.cpp's converter maps
    them): embeddings.word_embeddings.weight, embeddings.token_type_embeddings.weight,
    emb_ln.{weight,bias}, encoder.layers.N.attn.Wqkv.weight,
    encoder.layers.N.attn.out_proj.weight, encoder.layers.N.mlp.fc11.weight (up),
    encoder.layers.N.mlp.fc12.weight (gate), encoder.layers.N.mlp.fc2.weight (down),
    encoder.layers.N.norm1.{weight,bias}, encoder.layers.N.norm2.{weight,bias}.

Architecture (post-norm, like BERT):
  x  = LayerNorm_emb(word_emb[ids] + token_type_emb[type_ids])   # no position table
  per layer:
    qkv = x @ Wqkv^T           -> [s, 3, n_head, head_dim]  (q block, k block, v block)
    q,k = rotary(q,k)          # NeoX style (rotate halves, not interleaved),
                               # inv_freq_i = base^(-2i/rot_dim), rot_dim = head_dim*fraction
    a   = softmax(q k^T / sqrt(head_dim)) v   (bidirectional)
    x   = norm1(x + a @ out_proj^T)
    m   = fc2( fc11(x) * silu(fc12(x)) )
    x   = norm2(x + m)
  embedding = L2-normalize(mean over tokens of x)   (sentence-transformers mean pooling)

Note: the remote code rounds the MLP width up to a multiple of 256
(NomciBertGatedMLP's multiple_of=256), so n_inner must be a multiple of 256 for
the config and the tensors to agree.  The rotary angles here are computed in the
module's dtype (float64 for references); the remote code computes them in float32.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def default_config(vocab_size=320, n_embd=64, n_head=4, n_layer=2, n_inner=256, n_positions=128):
    """A config.json dict with the key names nomic-embed-text-v1.5 uses."""
    return {
        "architectures": ["NomicBertModel"],
        "model_type": "nomic_bert",
        "activation_function": "swiglu",
        "attn_pdrop": 0.0,
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": 0,
        "causal": False,
        "dense_seq_output": True,
        "embd_pdrop": 0.0,
        "fused_bias_fc": True,
        "fused_dropout_add_ln": True,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-12,
        "max_trained_positions": n_positions,
        "mlp_fc1_bias": False,
        "mlp_fc2_bias": False,
        "n_embd": n_embd,
        "n_head": n_head,
        "n_inner": n_inner,
        "n_layer": n_layer,
        "n_positions": n_positions,
        "pad_vocab_size_multiple": 64,
        "parallel_block": False,
        "parallel_block_tied_norm": False,
        "prenorm": False,
        "qkv_proj_bias": False,
        "resid_pdrop": 0.0,
        "rotary_emb_base": 1000,
        "rotary_emb_fraction": 1.0,
        "rotary_emb_interleaved": False,
        "rotary_emb_scale_base": None,
        "rotary_scaling_factor": None,
        "summary_first_dropout": 0.0,
        "torch_dtype": "float32",
        "type_vocab_size": 2,
        "use_cache": True,
        "use_flash_attn": True,
        "use_rms_norm": False,
        "use_xentropy": True,
        "vocab_size": vocab_size,
    }


def check_config(cfg):
    """Refuse configs this reference does not implement."""
    if cfg.get("prenorm", False):
        raise ValueError("nomic_bert_ref: prenorm=true is not implemented")
    if cfg.get("activation_function") != "swiglu":
        raise ValueError("nomic_bert_ref: only activation_function=swiglu is implemented")
    if cfg.get("rotary_emb_interleaved", False):
        raise ValueError("nomic_bert_ref: interleaved rotary is not implemented")
    if cfg.get("rotary_scaling_factor") or cfg.get("rotary_emb_scale_base"):
        raise ValueError("nomic_bert_ref: rotary scaling is not implemented")
    if cfg.get("rotary_emb_fraction", 0.0) <= 0.0:
        raise ValueError("nomic_bert_ref: learned position embeddings are not implemented")
    if cfg["n_inner"] % 256 != 0:
        raise ValueError("nomic_bert_ref: n_inner must be a multiple of 256 (remote code rounds it)")
    if cfg.get("qkv_proj_bias") or cfg.get("mlp_fc1_bias") or cfg.get("mlp_fc2_bias"):
        raise ValueError("nomic_bert_ref: biases are not implemented (v1.5 has none)")


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], cfg["n_embd"])

    def forward(self, ids, type_ids):
        return self.word_embeddings(ids) + self.token_type_embeddings(type_ids)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg["n_head"]
        self.head_dim = cfg["n_embd"] // cfg["n_head"]
        self.rot_dim = int(self.head_dim * cfg["rotary_emb_fraction"])
        self.base = float(cfg["rotary_emb_base"])
        self.Wqkv = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"], bias=False)
        self.out_proj = nn.Linear(cfg["n_embd"], cfg["n_embd"], bias=False)

    def rotary(self, x):
        # x: [b, s, h, d]
        s = x.shape[1]
        idx = torch.arange(0, self.rot_dim, 2, dtype=x.dtype, device=x.device)
        inv_freq = 1.0 / (self.base ** (idx / self.rot_dim))           # [rot/2]
        t = torch.arange(s, dtype=x.dtype, device=x.device)
        freqs = torch.outer(t, inv_freq)                                 # [s, rot/2]
        cos = torch.cat((freqs.cos(), freqs.cos()), dim=-1)[None, :, None, :]
        sin = torch.cat((freqs.sin(), freqs.sin()), dim=-1)[None, :, None, :]
        xr, xp = x[..., : self.rot_dim], x[..., self.rot_dim:]
        return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)

    def forward(self, x):
        b, s, _ = x.shape
        qkv = self.Wqkv(x).view(b, s, 3, self.n_head, self.head_dim)
        q, k, v = qkv.unbind(dim=2)                                      # [b, s, h, d]
        q, k = self.rotary(q), self.rotary(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))                 # [b, h, s, d]
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        a = torch.softmax(scores, dim=-1) @ v                            # [b, h, s, d]
        a = a.transpose(1, 2).reshape(b, s, self.n_head * self.head_dim)
        return self.out_proj(a)


class GatedMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc11 = nn.Linear(cfg["n_embd"], cfg["n_inner"], bias=False)
        self.fc12 = nn.Linear(cfg["n_embd"], cfg["n_inner"], bias=False)
        self.fc2 = nn.Linear(cfg["n_inner"], cfg["n_embd"], bias=False)

    def forward(self, x):
        return self.fc2(self.fc11(x) * F.silu(self.fc12(x)))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        eps = cfg["layer_norm_epsilon"]
        self.attn = Attention(cfg)
        self.mlp = GatedMLP(cfg)
        self.norm1 = nn.LayerNorm(cfg["n_embd"], eps=eps)
        self.norm2 = nn.LayerNorm(cfg["n_embd"], eps=eps)

    def forward(self, x):
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.mlp(x))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class NomicBertModel(nn.Module):
    """State-dict names match nomic-ai/nomic-embed-text-v1.5's model.safetensors."""

    def __init__(self, cfg):
        super().__init__()
        check_config(cfg)
        self.cfg = cfg
        self.embeddings = Embeddings(cfg)
        self.emb_ln = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])
        self.encoder = Encoder(cfg)

    def forward(self, ids, type_ids=None):
        """ids: [b, s] int64 -> last hidden states [b, s, n_embd]."""
        if type_ids is None:
            type_ids = torch.zeros_like(ids)
        x = self.emb_ln(self.embeddings(ids, type_ids))
        return self.encoder(x)


def mean_pool_normalize(hidden):
    """hidden: [b, s, d] (no padding) -> L2-normalized mean over s, [b, d]."""
    pooled = hidden.mean(dim=1)
    return pooled / pooled.norm(dim=-1, keepdim=True).clamp_min(1e-12)
