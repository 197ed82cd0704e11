#!/usr/bin/env python3
"""Trains the small llama-architecture demo model (models/kjv-demo-hf/) from scratch on
the King James Bible, seeded, and writes it in Hugging Face layout with float64
reference outputs.

    /usr/bin/python3 tools/train_demo.py --corpus .data/kjv.txt --out OUT --preset cpu
    python3 tools/train_demo.py --corpus .data/kjv.txt --out OUT --preset gpu   # CUDA, bf16

Presets: `cpu` (about 1M parameters, a time budget on one thread) and `gpu` (about
8.4M parameters, bf16 autocast; the shipped model used --steps 1000 --dropout 0.2
--select-every 25 --warmup 100, see docs/demo-model.md).  Steps: split the corpus
(last 2% of verses held out; with --select-every, the 1% before them picks the best
checkpoint), train a byte-level BPE tokenizer on the training split
(tools/tok_train.py), train with AdamW + warmup + cosine decay for a wall-clock budget
or --steps, measure held-out perplexity in fp32, save config.json / model.safetensors /
tokenizer files, then float64 logits of 3 prompts (every position) and greedy 32-token
continuations (tools/arch_ref.py on the saved weights; cross-checked with
transformers where it is installed).  Writes OUT/kjv-demo-hf/, OUT/loss.csv,
OUT/train_log.txt.
"""

import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import arch_ref  # noqa: E402
import st_io  # noqa: E402
import tok_train  # noqa: E402

SPECIALS = ["<|bos|>", "<|eos|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
BOS, EOS = "<|bos|>", "<|eos|>"
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
PROMPTS = ["In the beginning", "And the LORD said unto Moses,", "Blessed are the"]

PRESETS = {
    "cpu": dict(dim=128, n_layer=4, n_head=4, n_kv=2, ffn=384, vocab=2048, ctx=128,
                batch=8, lr=3e-3, minutes=25.0, warmup=100, log_every=25, select_every=0,
                dropout=0.0),
    "gpu": dict(dim=256, n_layer=8, n_head=8, n_kv=4, ffn=768, vocab=8192, ctx=256,
                batch=64, lr=1.5e-3, minutes=4.5, warmup=200, log_every=50, select_every=250,
                dropout=0.1),
}

LOG = []


def log(*a):
    s = " ".join(str(x) for x in a)
    print(s, flush=True)
    LOG.append(s)


# ------------------------------------------------------------------ model (HF llama names)

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head, self.n_kv, self.hd = c["n_head"], c["n_kv"], c["dim"] // c["n_head"]
        self.p = c.get("dropout", 0.0)
        self.q_proj = nn.Linear(c["dim"], self.n_head * self.hd, bias=False)
        self.k_proj = nn.Linear(c["dim"], self.n_kv * self.hd, bias=False)
        self.v_proj = nn.Linear(c["dim"], self.n_kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.n_head * self.hd, c["dim"], bias=False)

    def forward(self, x, cos, sin):
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.n_head, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.n_kv, self.hd).transpose(1, 2)
        q = q * cos + arch_ref.rotate_half(q) * sin
        k = k * cos + arch_ref.rotate_half(k) * sin
        rep = self.n_head // self.n_kv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.p if self.training else 0.0)
        else:
            sc = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            mask = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1)
            a = torch.softmax(sc.masked_fill(mask, float("-inf")), dim=-1) @ v
        return self.o_proj(a.transpose(1, 2).reshape(b, s, -1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["dim"], c["ffn"], bias=False)
        self.up_proj = nn.Linear(c["dim"], c["ffn"], bias=False)
        self.down_proj = nn.Linear(c["ffn"], c["dim"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["dim"], c["eps"])
        self.post_attention_layernorm = RMSNorm(c["dim"], c["eps"])
        self.p = c.get("dropout", 0.0)

    def drop(self, x):
        return F.dropout(x, self.p, self.training) if self.p > 0 else x

    def forward(self, x, cos, sin):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cos, sin))
        return x + self.drop(self.mlp(self.post_attention_layernorm(x)))


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab"], c["dim"])
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["n_layer"])])
        self.norm = RMSNorm(c["dim"], c["eps"])


class DemoLlama(nn.Module):
    """Llama with tied embeddings; state_dict names are HF LlamaForCausalLM's."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.lm_head = nn.Linear(c["dim"], c["vocab"], bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight
        hd = c["dim"] // c["n_head"]
        self.register_buffer("inv_freq", arch_ref.rope_inv_freq(c["rope_theta"], hd, None,
                                                                torch.float32), persistent=False)
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 2:
                s = std / math.sqrt(2 * c["n_layer"]) if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                nn.init.normal_(p, 0.0, s)

    def forward(self, ids):
        s = ids.shape[1]
        pos = torch.arange(s, device=ids.device, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        cos = torch.cat((freqs.cos(), freqs.cos()), -1)[None, None]
        sin = torch.cat((freqs.sin(), freqs.sin()), -1)[None, None]
        x = self.model.embed_tokens(ids)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))


def hf_config(c, bos_id, eos_id):
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": c["vocab"], "hidden_size": c["dim"], "intermediate_size": c["ffn"],
        "num_hidden_layers": c["n_layer"], "num_attention_heads": c["n_head"],
        "num_key_value_heads": c["n_kv"], "head_dim": c["dim"] // c["n_head"],
        "max_position_embeddings": c["ctx"], "rms_norm_eps": c["eps"], "hidden_act": "silu",
        "rope_theta": c["rope_theta"], "rope_scaling": None, "attention_bias": False,
        "attention_dropout": 0.0, "mlp_bias": False, "pretraining_tp": 1,
        "initializer_range": 0.02, "bos_token_id": bos_id, "eos_token_id": eos_id,
        "pad_token_id": None, "tie_word_embeddings": True, "torch_dtype": "float32",
        "use_cache": True,
    }


# ------------------------------------------------------------------ data

def load_split(path, val_frac):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    n_val = max(1, int(round(len(lines) * val_frac)))
    return lines[:-n_val], lines[-n_val:]


def encode_lines(tok, lines):
    ids = []
    for line in lines:
        ids.extend(tok.encode(line + "\n", False))
    return torch.tensor(ids, dtype=torch.long)


def get_batch(data, bos, batch, ctx, gen, device):
    idx = torch.randint(0, len(data) - ctx, (batch,), generator=gen)
    tgt = torch.stack([data[i:i + ctx] for i in idx.tolist()])
    inp = torch.cat([torch.full((batch, 1), bos, dtype=torch.long), tgt[:, :-1]], dim=1)
    return inp.to(device), tgt.to(device)


@torch.no_grad()
def evaluate(model, data, bos, ctx, device, tok):
    """fp32 cross-entropy over non-overlapping ctx windows, each after <|bos|>."""
    model.eval()
    total, count, nbytes = 0.0, 0, 0
    for j in range(0, len(data) - ctx + 1, ctx):
        tgt = data[j:j + ctx][None]
        inp = torch.cat([torch.tensor([[bos]]), tgt[:, :-1]], dim=1)
        logits = model(inp.to(device)).float()
        total += F.cross_entropy(logits[0], tgt[0].to(device), reduction="sum").item()
        count += ctx
        nbytes += len(tok.decode(tgt[0].tolist()).encode("utf-8"))
    model.train()
    return total / count, count, total / math.log(2) / nbytes


# ------------------------------------------------------------------ tokenizer reference

REF_TEXTS = [
    "In the beginning God created the heaven and the earth.",
    "And the LORD said unto Moses, Stretch out thine hand.",
    "  two  spaces, tabs\tand\nnewlines  ",
    "Numbers 123 and 4567; punctuation!? (yes) -- 'quotes' \"double\" it's",
    "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001F600",
    "<|user|>specials<|end|> inside <|bos|> text",
    "",
]
REF_CHAT = [{"role": "system", "content": "Answer in the words of the King James Bible."},
            {"role": "user", "content": "What was made on the first day?"},
            {"role": "assistant", "content": "Light."},
            {"role": "user", "content": "And on the second?"}]


def write_tokenizer_reference(tok, out_model):
    """texts -> ids (with and without <|bos|>), decodes, and the chat template rendered
    with jinja2; checked by tools/check_tokenizers.mjs."""
    import jinja2
    cases = [{"text": t, "ids": tok.encode(t, False), "ids_with_special": tok.encode(t, True)}
             for t in REF_TEXTS]
    rendered = jinja2.Environment().from_string(CHAT_TEMPLATE).render(
        messages=REF_CHAT, add_generation_prompt=True, bos_token=BOS, eos_token=EOS)
    tok_train.write_json(os.path.join(out_model, "tokenizer_reference.json"), {
        "source": "tools/tok_train.py encoder; equal to HF tokenizers 0.23.2 (Rust core) and "
                  "tokenizers.js (tools/check_tokenizers.mjs)",
        "cases": cases,
        "decode": [{"ids": x["ids"], "text": tok.decode(x["ids"])} for x in cases],
        "chat": {"messages": REF_CHAT, "add_generation_prompt": True, "bos_token": BOS,
                 "eos_token": EOS, "rendered": rendered, "ids": tok.encode(rendered, False)}})


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--minutes", type=float, help="training wall-clock budget")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (cpu preset)")
    ap.add_argument("--steps", type=int, help="fix the step count instead of timing a probe")
    ap.add_argument("--dropout", type=float, help="residual and attention dropout (training)")
    ap.add_argument("--select-every", type=int,
                    help="evaluate a 1%% selection split every N steps and keep the best checkpoint")
    ap.add_argument("--warmup", type=int, help="warm-up steps")
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--tokenizer-reference-only", metavar="DIR",
                    help="only (re)write DIR/tokenizer_reference.json from DIR/tokenizer.json")
    args = ap.parse_args()
    if args.tokenizer_reference_only:
        with open(os.path.join(args.tokenizer_reference_only, "tokenizer.json"), encoding="utf-8") as f:
            tok = tok_train.ByteBPE.from_json(json.load(f))
        write_tokenizer_reference(tok, args.tokenizer_reference_only)
        return

    c = dict(PRESETS[args.preset], eps=1e-5, rope_theta=10000.0)
    if args.minutes:
        c["minutes"] = args.minutes
    for k in ("dropout", "select_every", "warmup"):
        if getattr(args, k) is not None:
            c[k] = getattr(args, k)
    device = "cuda" if args.preset == "gpu" else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads)
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    out_model = os.path.join(args.out, "kjv-demo-hf")
    os.makedirs(out_model, exist_ok=True)
    log(f"preset {args.preset} {json.dumps(c)} seed {args.seed} torch {torch.__version__} device {device}"
        + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else f" threads {args.threads}"))

    t0 = time.time()
    train_lines, val_lines = load_split(args.corpus, 0.02)
    dev_lines = []
    if c["select_every"]:   # 1% of verses before the held-out 2%: checkpoint selection
        n_dev = int(round((len(train_lines) + len(val_lines)) * 0.01))
        train_lines, dev_lines = train_lines[:-n_dev], train_lines[-n_dev:]
    tok = tok_train.ByteBPE.train(train_lines, c["vocab"], SPECIALS, bos=BOS, eos=EOS)
    assert len(tok.vocab) == c["vocab"], len(tok.vocab)
    bos_id, eos_id = tok.vocab[BOS], tok.vocab[EOS]
    train_ids, val_ids = encode_lines(tok, train_lines), encode_lines(tok, val_lines)
    dev_ids = encode_lines(tok, dev_lines) if dev_lines else None
    if dev_lines:
        log(f"selection split: {len(dev_lines)} verses ({len(dev_ids)} tokens) from "
            f"{dev_lines[0][:40]!r}")
    log(f"corpus: {len(train_lines)} train verses ({len(train_ids)} tokens), {len(val_lines)} "
        f"held-out verses ({len(val_ids)} tokens) from {val_lines[0][:40]!r}; tokenizer "
        f"{time.time() - t0:.1f}s")

    model = DemoLlama(c).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"params {n_params} (tied embeddings {c['vocab'] * c['dim']})")
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=c["lr"], betas=(0.9, 0.95), eps=1e-8)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else None

    def step_fn(lr):
        for g in opt.param_groups:
            g["lr"] = lr
        inp, tgt = get_batch(train_ids, bos_id, c["batch"], c["ctx"], gen, device)
        if amp:
            with amp:
                logits = model(inp)
        else:
            logits = model(inp)
        loss = F.cross_entropy(logits.float().view(-1, c["vocab"]), tgt.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    # Time a few warm-up steps (at warm-up learning rates) to size the schedule.
    budget = c["minutes"] * 60.0
    t_train = time.time()
    probe = 10
    losses = [step_fn(c["lr"] * (i + 1) / c["warmup"]) for i in range(probe)]
    if device == "cuda":   # the first steps pay for CUDA start-up: time 20 more
        torch.cuda.synchronize()
        t_probe = time.time()
        losses += [step_fn(c["lr"] * (i + 1) / c["warmup"]) for i in range(probe, probe + 20)]
        torch.cuda.synchronize()
        probe += 20
        per_step = (time.time() - t_probe) / 20
    else:
        per_step = (time.time() - t_train) / probe
    total_steps = args.steps or max(probe + 1, int(budget / per_step))
    log(f"{per_step * 1000:.0f} ms/step ({c['batch'] * c['ctx'] / per_step:.0f} tok/s) -> "
        f"{total_steps} steps for {c['minutes']} min")

    def lr_at(step):
        if step < c["warmup"]:
            return c["lr"] * (step + 1) / c["warmup"]
        frac = (step - c["warmup"]) / max(1, total_steps - c["warmup"])
        return c["lr"] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    rows = []
    acc = losses[:]
    step = probe
    best = (float("inf"), 0, None)          # (dev loss, step, state)
    while step < total_steps:
        acc.append(step_fn(lr_at(step)))
        step += 1
        if step % c["log_every"] == 0 or step == total_steps:
            el = time.time() - t_train
            rows.append({"step": step, "tokens": step * c["batch"] * c["ctx"],
                         "lr": f"{lr_at(step - 1):.6g}", "train_loss": f"{sum(acc) / len(acc):.4f}",
                         "elapsed_s": f"{el:.1f}"})
            if c["select_every"]:
                rows[-1]["dev_loss"] = ""
                if step % c["select_every"] == 0 or step == total_steps:
                    dev_ce = evaluate(model, dev_ids, bos_id, c["ctx"], device, tok)[0]
                    rows[-1]["dev_loss"] = f"{dev_ce:.4f}"
                    if dev_ce < best[0]:
                        best = (dev_ce, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
            if len(rows) % 8 == 1 or step == total_steps:
                log(f"step {step}/{total_steps} loss {rows[-1]['train_loss']} lr {rows[-1]['lr']} "
                    f"{el:.0f}s" + (f" dev {rows[-1]['dev_loss']}" if rows[-1].get("dev_loss") else ""))
            acc = []
        if not args.steps and time.time() - t_train > budget * 1.15:
            log(f"stopping early at step {step}: over the time budget")
            break
    train_s = time.time() - t_train
    final_train = float(rows[-1]["train_loss"]) if rows else float("nan")
    with open(os.path.join(args.out, "loss.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    selected = step
    if best[2] is not None:
        if best[1] != step:
            model.load_state_dict(best[2])
        selected = best[1]
        log(f"selected the checkpoint of step {selected} (dev loss {best[0]:.4f}, "
            f"dev ppl {math.exp(best[0]):.2f})")
    model.float()
    val_ce, val_n, val_bpb = evaluate(model, val_ids, bos_id, c["ctx"], device, tok)
    tr_ce, _, _ = evaluate(model, train_ids[-len(val_ids):], bos_id, c["ctx"], device, tok)
    log(f"trained {step} steps ({step * c['batch'] * c['ctx']} tokens, "
        f"{step * c['batch'] * c['ctx'] / len(train_ids):.2f} epochs) in {train_s:.0f}s; "
        f"final train loss {final_train:.4f}; held-out (fp32) loss {val_ce:.4f} ppl "
        f"{math.exp(val_ce):.2f} over {val_n} tokens, {val_bpb:.3f} bits/byte; "
        f"same-size train tail loss {tr_ce:.4f}")

    model.eval()

    # ---- save in HF layout
    cfg = hf_config(c, bos_id, eos_id)
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    size32 = sum(v.numel() for v in sd.values()) * 4
    if size32 >= 20 * 2**20:
        sd = {k: v.half() for k, v in sd.items()}
        cfg["torch_dtype"] = "float16"
    st_io.save(sd, os.path.join(out_model, "model.safetensors"))
    tok_train.write_json(os.path.join(out_model, "config.json"), cfg)
    tok_train.write_json(os.path.join(out_model, "generation_config.json"),
                         {"bos_token_id": bos_id, "eos_token_id": eos_id, "do_sample": False})
    tok_train.write_json(os.path.join(out_model, "tokenizer.json"), tok.to_json())
    tok_train.write_json(os.path.join(out_model, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS,
        "add_bos_token": True, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "model_max_length": c["ctx"],
        "added_tokens_decoder": {str(tok.vocab[s]): {"content": s, "lstrip": False,
                                                     "normalized": False, "rstrip": False,
                                                     "single_word": False, "special": True}
                                 for s in SPECIALS},
        "chat_template": CHAT_TEMPLATE})
    tok_train.write_json(os.path.join(out_model, "special_tokens_map.json"),
                         {"bos_token": BOS, "eos_token": EOS,
                          "additional_special_tokens": SPECIALS[2:]})

    write_tokenizer_reference(tok, out_model)

    # ---- references from the saved weights, float64
    W = st_io.load(os.path.join(out_model, "model.safetensors"))
    cases, greedy = [], []
    for k, p in enumerate(PROMPTS):
        ids = tok.encode(p, True)
        with torch.no_grad():
            l64 = arch_ref.decoder_forward(cfg, W, ids)
            mine = model.cpu().double()(torch.tensor([ids]))[0]
        agree = float((mine - l64).norm() / l64.norm())
        fn = f"logits-{k}.f32"
        np.ascontiguousarray(l64.numpy(), dtype="<f4").tofile(os.path.join(out_model, fn))
        cases.append({"prompt": p, "tokens": ids, "logits_file": fn, "n_pos": len(ids),
                      "n_vocab": c["vocab"], "train_model_vs_ref_rel_l2": agree})
        seq = list(ids)
        for _ in range(32):
            with torch.no_grad():
                nxt = int(arch_ref.decoder_forward(cfg, W, seq)[-1].argmax())
            seq.append(nxt)
        new = seq[len(ids):]
        greedy.append({"prompt": p, "prompt_tokens": ids, "new_tokens": new,
                       "text": tok.decode(new)})
        log(f"greedy {p!r} -> {tok.decode(new)!r}")
    ref = {"arch": "llama", "dtype": cfg["torch_dtype"].replace("float", "f"),
           "compute": "CPU float64 with tools/arch_ref.py from the saved weights; greedy = "
                      "argmax of full recomputation each step, 32 new tokens, no stop on EOS",
           "seed": args.seed, "cases": cases, "greedy": greedy,
           "metrics": {"params": n_params, "steps": step, "selected_step": selected,
                       "selection_dev_loss": best[0] if best[2] is not None else None,
                       "train_seconds": round(train_s, 1),
                       "tokens_seen": step * c["batch"] * c["ctx"],
                       "final_train_loss": final_train, "heldout_loss": val_ce,
                       "heldout_ppl": math.exp(val_ce), "heldout_bits_per_byte": val_bpb,
                       "heldout_tokens": val_n}}
    try:
        import transformers   # optional cross-check
        hf = transformers.AutoModelForCausalLM.from_pretrained(
            out_model, attn_implementation="eager").double().eval()
        errs = []
        for cse, g in zip(cases, greedy):
            with torch.no_grad():
                lh = hf(torch.tensor([cse["tokens"]])).logits[0]
                gen_ids = hf.generate(torch.tensor([g["prompt_tokens"]]), do_sample=False,
                                      max_new_tokens=32, min_new_tokens=32)[0].tolist()
            want = np.fromfile(os.path.join(out_model, cse["logits_file"]), "<f4")
            errs.append((float(np.abs(lh.numpy().ravel() - want).max()),
                         gen_ids[len(g["prompt_tokens"]):] == g["new_tokens"]))
        ref["hf_check"] = {"transformers": transformers.__version__, "max_abs_logit_diff_and_greedy_equal": errs}
        log("transformers check", errs)
    except ImportError:
        ref["hf_check"] = "transformers not installed where this ran"
    except Exception as e:   # keep the run's outputs; report the failure
        ref["hf_check"] = "failed: " + repr(e)[:500]
        log("transformers check failed:", repr(e)[:500])
    tok_train.write_json(os.path.join(out_model, "reference.json"), ref)
    with open(os.path.join(args.out, "train_log.txt"), "w") as f:
        f.write("\n".join(LOG) + "\n")
    log(f"done in {time.time() - t0:.0f}s total")


if __name__ == "__main__":
    main()
