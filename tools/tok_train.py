"""Pure-Python trainers and encoders for byte-level BPE and WordPiece tokenizers,
written out in Hugging Face `tokenizer.json` format.

Used by make_fixtures.py and train_demo.py where the HF `tokenizers` package is not
installed.  The encoders follow the HF pipeline for the components written here
(added-token split -> normalizer -> pre-tokenizer -> model -> post-processor) and
are cross-checked against tokenizers.js (tools/check_tokenizers.mjs) and, where
it is installed, HF `tokenizers` itself (make_fixtures.py --check-hf).

Needs: python3-regex (for \\p{L} / \\p{N} in the GPT-2 pre-tokenizer pattern).
"""

import collections
import heapq
import json
import unicodedata

import regex

# GPT-2's pre-tokenizer pattern, as HF ByteLevel(use_regex=True) applies it.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_GPT2_RE = regex.compile(GPT2_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def _added_token(tid, content):
    return {"id": tid, "content": content, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": True}


def _split_specials(text, specials):
    """Split text on added special tokens (longest first), as HF's AddedVocabulary does.
    Returns [(is_special, piece)]."""
    if not specials:
        return [(False, text)] if text else []
    pat = regex.compile("|".join(regex.escape(s) for s in sorted(specials, key=len, reverse=True)))
    out, pos = [], 0
    for m in pat.finditer(text):
        if m.start() > pos:
            out.append((False, text[pos:m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append((False, text[pos:]))
    return out


def _train_merges(word_freqs, budget, min_frequency, join):
    """Classic BPE over a {tuple(symbols): freq} table.  Each step merges the most
    frequent adjacent pair (ties: smallest pair), until the merges have made `budget`
    distinct new symbols or no pair reaches min_frequency.  join(a, b) -> merged
    symbol.  Returns [(a, b)] (two pairs may make the same symbol)."""
    known = {s for w in word_freqs for s in w}
    n_new = 0
    words = [list(w) for w in word_freqs]
    freqs = list(word_freqs.values())
    counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            counts[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while n_new < budget and heap:
        negc, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -negc:
            continue                                  # stale entry
        if -negc < min_frequency:
            break
        merges.append(pair)
        new_sym = join(*pair)
        if new_sym not in known:
            known.add(new_sym)
            n_new += 1
        changed = set()
        for i in list(where[pair]):
            w, f = words[i], freqs[i]
            for a, b in zip(w, w[1:]):
                counts[(a, b)] -= f
                changed.add((a, b))
            nw, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == pair[0] and w[j + 1] == pair[1]:
                    nw.append(new_sym)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for a, b in zip(nw, nw[1:]):
                counts[(a, b)] += f
                where[(a, b)].add(i)
                changed.add((a, b))
        del counts[pair]
        where.pop(pair, None)
        for p in changed:
            c = counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            elif p in counts:
                del counts[p]
    return merges


# ------------------------------------------------------------------ byte-level BPE

class ByteBPE:
    """GPT-2 style byte-level BPE (HF ByteLevel pre-tokenizer + BPE model)."""

    def __init__(self, vocab, merges, specials, bos=None, add_bos=True, eos=None, add_eos=False):
        self.vocab = vocab                    # token string -> id
        self.inv = {i: t for t, i in vocab.items()}
        self.merges = merges                  # [(a, b)] in priority order
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.specials = specials              # [content] (ids in vocab)
        self.bos, self.add_bos = bos, add_bos
        self.eos, self.add_eos = eos, add_eos
        self._cache = {}

    @classmethod
    def from_json(cls, obj):
        """Reads back a tokenizer.json written by to_json()."""
        m = obj["model"]
        merges = [tuple(x.split(" ", 1)) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        specials = [t["content"] for t in obj["added_tokens"]]
        single = (obj.get("post_processor") or {}).get("single", [])
        toks = [x["SpecialToken"]["id"] for x in single if "SpecialToken" in x]
        seq_at = next((i for i, x in enumerate(single) if "Sequence" in x), 0)
        bos = toks[0] if toks and "SpecialToken" in single[0] else None
        eos = single[-1]["SpecialToken"]["id"] if single and seq_at < len(single) - 1 else None
        return cls(m["vocab"], merges, specials, bos, bos is not None, eos, eos is not None)

    @classmethod
    def train(cls, lines, vocab_size, specials, min_frequency=2, bos=None, add_bos=True,
              eos=None, add_eos=False):
        word_freqs = collections.Counter()
        for line in lines:
            for piece in _GPT2_RE.findall(line):
                word_freqs[tuple(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))] += 1
        vocab = {s: i for i, s in enumerate(specials)}
        for b in range(256):
            vocab[BYTE_TO_CHAR[b]] = len(vocab)
        merges = _train_merges(word_freqs, vocab_size - len(vocab), min_frequency, lambda a, b: a + b)
        for a, b in merges:
            if a + b not in vocab:
                vocab[a + b] = len(vocab)
        return cls(vocab, merges, list(specials), bos, add_bos, eos, add_eos)

    def _bpe(self, word):
        if word in self._cache:
            return self._cache[word]
        syms = list(word)
        while len(syms) > 1:
            best, bi = None, -1
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            a, b = syms[bi], syms[bi + 1]
            out, i = [], 0
            while i < len(syms):                  # merge every occurrence of this pair
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        self._cache[word] = syms
        return syms

    def encode(self, text, add_special_tokens=False):
        ids = []
        for is_special, piece in _split_specials(text, self.specials):
            if is_special:
                ids.append(self.vocab[piece])
                continue
            for p in _GPT2_RE.findall(piece):
                word = "".join(BYTE_TO_CHAR[b] for b in p.encode("utf-8"))
                ids.extend(self.vocab[s] for s in self._bpe(word))
        if add_special_tokens:
            if self.add_bos and self.bos is not None:
                ids = [self.vocab[self.bos]] + ids
            if self.add_eos and self.eos is not None:
                ids = ids + [self.vocab[self.eos]]
        return ids

    def decode(self, ids, skip_special_tokens=False):
        out, buf = [], bytearray()
        for i in ids:
            t = self.inv[i]
            if t in self.specials:
                if buf:
                    out.append(buf.decode("utf-8", errors="replace"))
                    buf = bytearray()
                if not skip_special_tokens:
                    out.append(t)
                continue
            buf.extend(CHAR_TO_BYTE[c] for c in t)
        if buf:
            out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def to_json(self):
        single, pair, special = [], [], {}
        if self.add_bos and self.bos is not None:
            single.append({"SpecialToken": {"id": self.bos, "type_id": 0}})
            pair.append({"SpecialToken": {"id": self.bos, "type_id": 0}})
            special[self.bos] = {"id": self.bos, "ids": [self.vocab[self.bos]], "tokens": [self.bos]}
        single.append({"Sequence": {"id": "A", "type_id": 0}})
        pair.append({"Sequence": {"id": "A", "type_id": 0}})
        if self.add_eos and self.eos is not None:
            single.append({"SpecialToken": {"id": self.eos, "type_id": 0}})
            pair.append({"SpecialToken": {"id": self.eos, "type_id": 0}})
            special[self.eos] = {"id": self.eos, "ids": [self.vocab[self.eos]], "tokens": [self.eos]}
        if self.add_bos and self.bos is not None:
            pair.append({"SpecialToken": {"id": self.bos, "type_id": 1}})
        pair.append({"Sequence": {"id": "B", "type_id": 1}})
        if self.add_eos and self.eos is not None:
            pair.append({"SpecialToken": {"id": self.eos, "type_id": 1}})
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [_added_token(self.vocab[s], s) for s in self.specials],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                              "use_regex": True},
            "post_processor": {"type": "TemplateProcessing", "single": single, "pair": pair,
                               "special_tokens": special},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }


# ------------------------------------------------------------------ WordPiece (BERT)

def _is_bert_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def bert_normalize(text, lowercase=True):
    """HF BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None->lowercase, lowercase)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in "\t\n\r" or cat == "Zs":
            out.append(" ")
            continue
        if cat in ("Cc", "Cf"):
            continue
        if _is_cjk(cp):
            out.append(" " + ch + " ")
            continue
        out.append(ch)
    s = "".join(out)
    if lowercase:
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        s = s.lower()
    return s


def bert_pretokenize(text):
    """HF BertPreTokenizer: split on whitespace, isolate each punctuation character."""
    words, cur = [], []
    for ch in text:
        if ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        elif _is_bert_punct(ch):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return words


class WordPiece:
    SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    def __init__(self, vocab, max_chars=100):
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.max_chars = max_chars

    @classmethod
    def train(cls, lines, vocab_size, min_frequency=2):
        """BPE-style merges over words with '##' continuation symbols (what HF's
        WordPieceTrainer does), then the vocab is used with greedy longest match."""
        word_freqs = collections.Counter()
        for line in lines:
            for w in bert_pretokenize(bert_normalize(line)):
                word_freqs[tuple([w[0]] + ["##" + c for c in w[1:]])] += 1
        alphabet = sorted({s for w in word_freqs for s in w})
        vocab = {s: i for i, s in enumerate(cls.SPECIALS)}
        for s in alphabet:
            vocab[s] = len(vocab)
        join = lambda a, b: a + (b[2:] if b.startswith("##") else b)
        for a, b in _train_merges(word_freqs, vocab_size - len(vocab), min_frequency, join):
            t = join(a, b)
            if t not in vocab:
                vocab[t] = len(vocab)
        return cls(vocab)

    def _word(self, w):
        if len(w) > self.max_chars:
            return [self.vocab["[UNK]"]]
        ids, start = [], 0
        while start < len(w):
            end, found = len(w), None
            while start < end:
                sub = w[start:end] if start == 0 else "##" + w[start:end]
                if sub in self.vocab:
                    found = self.vocab[sub]
                    break
                end -= 1
            if found is None:
                return [self.vocab["[UNK]"]]
            ids.append(found)
            start = end
        return ids

    def encode(self, text, add_special_tokens=False):
        ids = []
        for is_special, piece in _split_specials(text, self.SPECIALS):
            if is_special:
                ids.append(self.vocab[piece])
                continue
            for w in bert_pretokenize(bert_normalize(piece)):
                ids.extend(self._word(w))
        if add_special_tokens:
            ids = [self.vocab["[CLS]"]] + ids + [self.vocab["[SEP]"]]
        return ids

    def decode(self, ids, skip_special_tokens=False):
        """HF WordPiece decoder (cleanup=True): per token, strip '##' or prepend a space
        (not for the first token), then the cleanup replacements on that token alone."""
        toks = [self.inv[i] for i in ids if not (skip_special_tokens and self.inv[i] in self.SPECIALS)]
        out = []
        for i, t in enumerate(toks):
            if i:
                t = t[2:] if t.startswith("##") else " " + t
            for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                         (" n't", "n't"), (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"),
                         (" 've", "'ve"), (" 're", "'re")):
                t = t.replace(a, b)
            out.append(t)
        return "".join(out)

    def vocab_txt(self):
        return "".join(self.inv[i] + "\n" for i in range(len(self.inv)))

    def to_json(self):
        cls_id, sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [_added_token(self.vocab[s], s) for s in self.SPECIALS],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": None, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                "special_tokens": {
                    "[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
                    "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]}}},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": self.max_chars, "vocab": self.vocab},
        }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
