// tok_hf_check.mjs - the independent check of an exported tokenizer.json: Hugging Face
// tokenizers' Rust core (npm `tokenizers`, as in tok_node_ids.mjs) encodes the corpus
// with DIR/tokenizer.json and the ids are compared with the committed expected ids of
// tests/fixtures/tokenizer/NAME.expected.jsonl. Run by tests/unit/tokenizer (after
// `npm ci`):
//   node tools/tok_hf_check.mjs DIR NAME [--sentencepiece]
// Prints one line "hf-check NAME ids A/N nosplit B/N special C/N decode D/M" (stdout)
// and the first differences (stderr). --sentencepiece: the expected ids are
// sentencepiece's, which never parses control tokens: compare the ids of the
// tokenizer without its special added tokens (HF's encode_special_tokens), only.
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';
const require = createRequire(import.meta.url);
const tk = require('tokenizers');

const [dir, name] = process.argv.slice(2);
const sp = process.argv.includes('--sentencepiece');
const FIX = 'tests/fixtures/tokenizer';

const dec = new TextDecoder('utf-8'); // invalid bytes -> U+FFFD per maximal subpart
const corpus = fs.readFileSync(path.join(FIX, 'corpus.jsonl'), 'utf8').trim().split('\n').map((l) => {
  const o = JSON.parse(l);
  return o.b64 !== undefined ? dec.decode(Buffer.from(o.b64, 'base64')) : o.text;
});
const rows = fs.readFileSync(path.join(FIX, name + '.expected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

const json = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
const tok = tk.Tokenizer.fromString(json);
const nosplit = tk.Tokenizer.fromString(withoutSpecials(json));

// The same tokenizer without its special added tokens (what our parse_special=0
// does). xllm writes "added_tokens" first, before "normalizer": cut that array out
// rather than re-serializing megabytes of vocabulary.
function withoutSpecials(text) {
  const a = text.indexOf('"added_tokens":'), b = text.indexOf(',"normalizer":');
  if (a < 0 || b < a) {
    const j = JSON.parse(text);
    j.added_tokens = j.added_tokens.filter((t) => !t.special);
    return JSON.stringify(j);
  }
  const added = JSON.parse(text.slice(a + 15, b)).filter((t) => !t.special);
  return text.slice(0, a + 15) + JSON.stringify(added) + text.slice(b);
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const n = { ids: 0, nosplit: 0, special: 0, decode: 0, decodeChecked: 0 };
let reported = 0;
const report = (what, i, got, want) => {
  if (reported++ < 6)
    console.error(`  ${name} ${what} string ${i}: ${JSON.stringify(corpus[i]).slice(0, 80)}\n    want ${JSON.stringify(want).slice(0, 200)}\n    got  ${JSON.stringify(got).slice(0, 200)}`);
};

for (let i = 0; i < corpus.length; i++) {
  const row = rows[i];
  // the reduced tokenizer may renumber added tokens: map back through their text
  const ns = (await nosplit.encode(corpus[i], null, { addSpecialTokens: false })).getIds()
    .map((x) => tok.tokenToId(nosplit.idToToken(x)));
  if (sp) {
    if (same(ns, row.ids)) n.ids++; else report('ids', i, ns, row.ids);
    continue;
  }
  const ids = (await tok.encode(corpus[i], null, { addSpecialTokens: false })).getIds();
  if (same(ids, row.ids)) n.ids++; else report('ids', i, ids, row.ids);
  if (same(ns, row.ids_nosplit || row.ids)) n.nosplit++; else report('nosplit', i, ns, row.ids_nosplit || row.ids);
  const spc = (await tok.encode(corpus[i], null, { addSpecialTokens: true })).getIds();
  if (same(spc, row.ids_special || row.ids)) n.special++; else report('special', i, spc, row.ids_special || row.ids);
  for (const skip of [false, true]) {
    const want = skip ? (row.decoded_skip ?? row.decoded) : row.decoded;
    const got = await tok.decode(row.ids, skip);
    n.decodeChecked++;
    if (got === want) n.decode++; else report(`decode(skip ${skip})`, i, got, want);
  }
}
const N = corpus.length;
console.log(sp ? `hf-check ${name} ids ${n.ids}/${N} nosplit ${n.ids}/${N} special ${n.ids}/${N} decode 0/0`
  : `hf-check ${name} ids ${n.ids}/${N} nosplit ${n.nosplit}/${N} special ${n.special}/${N} decode ${n.decode}/${n.decodeChecked}`);
