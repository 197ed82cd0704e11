// embed.test.mjs - embeddings through the official clients on the tiny BERT
// fixture (tests/fixtures/models/bert, a Hugging Face directory): OpenAI
// token-array inputs against the sentence-transformers reference vectors
// (float and base64), Ollama /api/embed and /api/embeddings, and a decoder
// model's clear refusal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startServer, XLLM } from './harness.mjs';

const dir = path.resolve(path.dirname(XLLM), '..', 'tests/fixtures/models/bert');
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8'));
let srv, client;
after(() => srv?.stop('SIGKILL'));
before(async () => {
  srv = await startServer({ args: ['--model', `bert=${dir}`] });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
});

function refVec(c) {
  const b = fs.readFileSync(path.join(dir, c.embedding_file));
  return Array.from(new Float32Array(b.buffer, b.byteOffset, b.length / 4));
}

test('OpenAI embeddings of token arrays match the reference (float and base64)', async () => {
  const cases = ref.cases;
  const f = await client.embeddings.create({ model: 'bert', input: cases.map((c) => c.tokens), encoding_format: 'float' });
  assert.equal(f.data.length, cases.length);
  assert.equal(f.usage.prompt_tokens, cases.reduce((a, c) => a + c.tokens.length, 0));
  for (const [i, c] of cases.entries()) {
    const want = refVec(c), got = f.data[i].embedding;
    assert.equal(got.length, want.length);
    const err = Math.max(...got.map((v, k) => Math.abs(v - want[k])));
    assert.ok(err < 1e-4, `case ${i}: max abs error ${err}`);
  }
  // the openai client asks for base64 by default and decodes it itself
  const b = await client.embeddings.create({ model: 'bert', input: [cases[0].tokens] });
  assert.ok(Math.max(...b.data[0].embedding.map((v, k) => Math.abs(v - f.data[0].embedding[k]))) < 1e-6);
});

test('Ollama embed and embeddings', async () => {
  const ollama = new Ollama({ host: srv.url });
  const e = await ollama.embed({ model: 'bert', input: ['hello world', 'the cat'] });
  assert.equal(e.embeddings.length, 2);
  assert.equal(e.embeddings[0].length, 64);
  assert.ok(e.prompt_eval_count > 0 && e.total_duration > 0);
  const norm = Math.hypot(...e.embeddings[0]);
  assert.ok(Math.abs(norm - 1) < 1e-4, `normalized: ${norm}`);
  const old = await ollama.embeddings({ model: 'bert', prompt: 'hello world' });
  assert.ok(Math.max(...old.embedding.map((v, k) => Math.abs(v - e.embeddings[0][k]))) < 1e-6);
});

test('a decoder model asked for embeddings: a clear 400', async () => {
  const s2 = await startServer();
  const c2 = new OpenAI({ baseURL: `${s2.url}/v1`, apiKey: 'x', maxRetries: 0 });
  await assert.rejects(c2.embeddings.create({ model: 'kjv', input: 'x' }), (e) => e instanceof OpenAI.BadRequestError && /not an embedding model/.test(e.message));
  await s2.stop('SIGKILL');
});
