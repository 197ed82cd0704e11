#!/usr/bin/env python3
"""demo_checks.py - transformers checks of the shipped demo model (GPU host, or any
machine with torch + transformers + tokenizers).

1. Loads the safetensors directory that `xllm convert models/kjv-demo.gguf DIR` wrote
   (our GGUF -> HF converter) with transformers' LlamaForCausalLM and compares its
   float64 logits with the committed references of tests/fixtures/kjv-demo (computed
   from the original training export): proves the GGUF round trip is lossless and
   that transformers accepts our export.
2. Writes heldout_reference.json: HF tokenizers' ids of tests/fixtures/kjv-demo/
   heldout.txt (held-out verses, never trained on) and the float64 negative
   log-likelihood of each non-overlapping window of WINDOW tokens, each scored after
   <|bos|> exactly as tools/train_demo.py's evaluate() does. The unit test
   tests/unit/model/test_demo_model.c recomputes both with xllm.

Usage: python3 tools/demo_checks.py HF_DIR FIXTURE_DIR OUT_DIR
"""
import json
import math
import os
import sys

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

WINDOW = 256


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    hf_dir, fix, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    model = LlamaForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float64,
                                             attn_implementation="eager").eval()
    ref = json.load(open(os.path.join(fix, "reference.json")))
    report = {"cases": []}
    with torch.no_grad():
        for c in ref["cases"]:
            want = np.fromfile(os.path.join(fix, c["logits_file"]), dtype="<f4")
            want = want.reshape(c["n_pos"], c["n_vocab"]).astype(np.float64)
            got = model(torch.tensor([c["tokens"]])).logits[0].numpy()
            report["cases"].append({"prompt": c["prompt"], "rel_l2": rel_l2(got, want)})
            print("case", c["prompt"], "rel L2", report["cases"][-1]["rel_l2"], flush=True)

        tok = Tokenizer.from_file(os.path.join(fix, "tokenizer.json"))
        text = open(os.path.join(fix, "heldout.txt"), encoding="utf-8").read()
        ids = tok.encode(text, add_special_tokens=False).ids
        bos = json.load(open(os.path.join(fix, "config.json")))["bos_token_id"]
        nll = []
        for j in range(0, len(ids) - WINDOW + 1, WINDOW):
            tgt = torch.tensor([ids[j:j + WINDOW]])
            inp = torch.cat([torch.tensor([[bos]]), tgt[:, :-1]], dim=1)
            logp = torch.log_softmax(model(inp).logits[0], dim=-1)
            nll.append(float(-logp[torch.arange(WINDOW), tgt[0]].sum()))
    total = sum(nll) / (len(nll) * WINDOW)
    held = {"source": "tools/demo_checks.py: HF tokenizers ids; transformers "
            "LlamaForCausalLM float64 on the xllm GGUF->safetensors export",
            "window": WINDOW, "bos": bos, "ids": ids, "window_nll": nll,
            "ppl": math.exp(total)}
    print("held-out windows", len(nll), "ppl", held["ppl"], flush=True)
    report["heldout_ppl"] = held["ppl"]
    json.dump(held, open(os.path.join(out, "heldout_reference.json"), "w"))
    json.dump(report, open(os.path.join(out, "demo_checks.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
