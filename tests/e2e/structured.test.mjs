// structured.test.mjs - structured output through the official clients:
// OpenAI response_format json_schema / json_object, Ollama format (schema and
// "json"), the `grammar` extension; every output is checked by a real
// validator (Python's jsonschema, tools/validate_schemas.py), over the schema
// corpus in tests/fixtures/schemas with several seeds.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startServer, MODEL } from './harness.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const dir = path.join(root, 'tests/fixtures/schemas');
const srv = await startServer();
after(() => srv.stop());
const openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: srv.url });

function validate(records) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'xllm-schemas-'));
  const file = path.join(tmp, 'outputs.jsonl');
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  try {
    execFileSync('python3', [path.join(root, 'tools/validate_schemas.py'), file], { stdio: 'pipe' });
  } catch (e) {
    assert.fail(`validator: ${e.stdout}${e.stderr}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

test('OpenAI json_schema and Ollama format outputs validate against their schemas', async () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const records = [];
  for (const [i, f] of files.entries()) {
    const schema = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    if (i % 2 === 0) {
      const r = await openai.chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: 'Answer in JSON.' }], max_tokens: 160,
        temperature: 1, seed: i, response_format: { type: 'json_schema', json_schema: { name: 's', schema, strict: true } },
      });
      records.push({ schema: path.join(dir, f), seed: i, output: r.choices[0].message.content });
    } else {
      const r = await ollama.generate({ model: MODEL, prompt: 'And God said', format: schema, stream: false,
        options: { num_predict: 160, seed: i, temperature: 1 } });
      records.push({ schema: path.join(dir, f), seed: i, output: r.response });
    }
  }
  assert.ok(records.length >= 100, `only ${records.length} schemas`);
  validate(records);
});

test('json_object mode, Ollama "json", and the grammar extension', async () => {
  const a = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'JSON please' }],
    max_tokens: 40, response_format: { type: 'json_object' } });
  assert.equal(typeof JSON.parse(a.choices[0].message.content), 'object');
  const b = await ollama.generate({ model: MODEL, prompt: 'And God said', format: 'json', stream: false, options: { num_predict: 12 } });
  assert.equal(typeof JSON.parse(b.response), 'object');
  const c = await openai.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 10, grammar: 'root ::= " yea" | " nay"' });
  assert.match(c.choices[0].text, /^ (yea|nay)$/);
  await assert.rejects(openai.completions.create({ model: MODEL, prompt: 'x', max_tokens: 4, grammar: 'root ::= (' }),
    (e) => e instanceof OpenAI.BadRequestError && /1:10/.test(e.message));
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 4,
    response_format: { type: 'json_schema', json_schema: { name: 'u', schema: { type: 'array', uniqueItems: true } } } }),
    (e) => e instanceof OpenAI.BadRequestError && /uniqueItems/.test(e.message));
});
