// config.test.mjs - `xllm serve` settings and a store model's Modelfile layers:
// a config file (--config) with preload, log file, CORS list and gzip off; bad
// files refused with file:line:column before the server starts; precedence
// flag > environment > file. Then a model created with PARAMETER / SYSTEM lines
// answers on /v1/chat/completions, /v1/completions, /v1/responses and
// /v1/messages (official openai and @anthropic-ai/sdk clients) exactly as the
// plain model does when the request spells the same fields out, and a
// request's own field wins over the layer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, XLLM, MODEL, MODEL_PATH, get, postJson } from './harness.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xllm-config-e2e-'));
const modelsDir = path.join(tmp, 'models');
const SYSTEM = 'In the beginning';
const STOPS = ['people', 'sinned'];
const N_PREDICT = 8;
let srv, oai, ant;
const servers = [];

before(async () => {
  const mf = path.join(tmp, 'Modelfile');
  fs.writeFileSync(mf, `FROM ${MODEL_PATH}\nPARAMETER temperature 0\nPARAMETER num_predict ${N_PREDICT}\n` +
    STOPS.map((s) => `PARAMETER stop "${s}"\n`).join('') + `SYSTEM """${SYSTEM}"""\n`);
  const c = spawnSync(XLLM, ['create', 'bible', '-f', mf], { env: { ...process.env, XLLM_MODELS_DIR: modelsDir }, encoding: 'utf8', timeout: 60000 });
  assert.equal(c.status, 0, c.stdout + c.stderr);
  srv = await startServer({ env: { XLLM_MODELS_DIR: modelsDir } });
  servers.push(srv);
  oai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
  ant = new Anthropic({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});

after(async () => {
  for (const s of servers) await s.stop('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
});

// The oracle: what the layer's stop strings make of the plain model's text.
function cut(text) {
  let end = text.length;
  for (const s of STOPS) { const i = text.indexOf(s); if (i >= 0 && i < end) end = i; }
  return text.slice(0, end);
}
let cuts = 0; // outputs the layer's stop strings really shortened
function expectCut(got, plain, what) {
  assert.equal(got, cut(plain), `${what}: '${got}' vs plain '${plain}'`);
  if (cut(plain) !== plain) cuts++;
}

test('chat/completions: the params and system layers as defaults; the request wins', { timeout: 60000 }, async () => {
  const user = [{ role: 'user', content: 'God created' }];
  const plain = await oai.chat.completions.create({ model: MODEL, messages: [{ role: 'system', content: SYSTEM }, ...user], temperature: 0, max_tokens: N_PREDICT });
  const layered = await oai.chat.completions.create({ model: 'bible', messages: user });
  expectCut(layered.choices[0].message.content, plain.choices[0].message.content, 'chat');
  assert.equal(layered.usage.prompt_tokens, plain.usage.prompt_tokens); // the system layer is in the prompt
  // the request's own fields win: max_tokens, stop, and its own system message
  const mine = await oai.chat.completions.create({ model: 'bible', messages: [{ role: 'system', content: 'And God said' }, ...user], max_tokens: 3, stop: ['zzz'] });
  const mineRef = await oai.chat.completions.create({ model: MODEL, messages: [{ role: 'system', content: 'And God said' }, ...user], max_tokens: 3, temperature: 0 });
  assert.equal(mine.usage.completion_tokens, 3);
  assert.equal(mine.choices[0].message.content, mineRef.choices[0].message.content);
  // a stream gets the same defaults
  let text = '';
  for await (const ch of await oai.chat.completions.create({ model: 'bible', messages: user, stream: true })) text += ch.choices[0]?.delta?.content ?? '';
  assert.equal(text, layered.choices[0].message.content);
});

test('completions: num_predict instead of OpenAI\'s 16, stop strings from the layer', { timeout: 60000 }, async () => {
  const prompt = 'And God said';
  const plain = await oai.completions.create({ model: MODEL, prompt, temperature: 0, max_tokens: N_PREDICT });
  const layered = await oai.completions.create({ model: 'bible', prompt });
  expectCut(layered.choices[0].text, plain.choices[0].text, 'completions');
  assert.ok(layered.usage.completion_tokens <= N_PREDICT);
  const own = await oai.completions.create({ model: 'bible', prompt, max_tokens: 2 });
  assert.equal(own.usage.completion_tokens, 2);
});

test('responses: layer defaults and the system layer without instructions', { timeout: 60000 }, async () => {
  const input = 'God created';
  const plain = await oai.responses.create({ model: MODEL, input, instructions: SYSTEM, temperature: 0, max_output_tokens: N_PREDICT });
  const layered = await oai.responses.create({ model: 'bible', input });
  expectCut(layered.output_text, plain.output_text, 'responses');
  const own = await oai.responses.create({ model: 'bible', input, max_output_tokens: 2 });
  assert.equal(own.usage.output_tokens, 2);
});

test('messages (Anthropic): layer temperature, stop and system; stop_sequences and system win', { timeout: 60000 }, async () => {
  const messages = [{ role: 'user', content: 'God created' }];
  const plain = await ant.messages.create({ model: MODEL, max_tokens: N_PREDICT, system: SYSTEM, temperature: 0, messages });
  const layered = await ant.messages.create({ model: 'bible', max_tokens: N_PREDICT, messages });
  expectCut(layered.content[0]?.text ?? '', plain.content[0].text, 'messages');
  assert.equal(layered.usage.input_tokens, plain.usage.input_tokens);
  const own = await ant.messages.create({ model: 'bible', max_tokens: N_PREDICT, stop_sequences: ['zzz'], system: 'And God said', messages });
  const ownRef = await ant.messages.create({ model: MODEL, max_tokens: N_PREDICT, system: 'And God said', temperature: 0, messages });
  assert.equal(own.content[0]?.text ?? '', ownRef.content[0].text);
  const n = await ant.messages.countTokens({ model: 'bible', messages });
  assert.equal(n.input_tokens, plain.usage.input_tokens);
});

test('the layer\'s stop strings were exercised', () => {
  assert.ok(cuts > 0, 'no output reached a stop string of the layer; pick STOPS from the demo model\'s greedy text');
});

// Start `xllm serve` expecting it to fail; returns {code, out}.
function serveFails(args, env = {}) {
  const r = spawnSync(XLLM, ['serve', '--port', '0', ...args], { env: { ...process.env, XLLM_MODELS_DIR: modelsDir, ...env }, encoding: 'utf8', timeout: 20000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('bad config files and values stop the server with file, line, column', () => {
  const bad = path.join(tmp, 'bad.yaml');
  fs.writeFileSync(bad, 'server:\n  port: 8080\n  prot: 1\n');
  let r = serveFails(['--config', bad]);
  assert.equal(r.code, 2);
  assert.match(r.out, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:3: unknown key 'prot' in server; allowed: host, port`));
  fs.writeFileSync(bad, 'inference:\n  kv_type: q4\n');
  r = serveFails([], { XLLM_CONFIG: bad });
  assert.equal(r.code, 2);
  assert.match(r.out, /bad\.yaml:2:12: inference\.kv_type: 'q4' is not allowed; allowed: one of f16\|q8_0\|f32/);
  r = serveFails(['--config', path.join(tmp, 'missing.yaml')]);
  assert.equal(r.code, 2);
  assert.match(r.out, /missing\.yaml/);
  r = serveFails([], { XLLM_MAX_QUEUE: 'many' });
  assert.match(r.out, /XLLM_MAX_QUEUE: inference\.max_queue: 'many' is not an integer/);
  r = serveFails(['--preload', 'nosuchmodel']);
  assert.equal(r.code, 2);
  assert.match(r.out, /preload: no model named 'nosuchmodel'/);
});

test('a config file: preload, log file, CORS origins, gzip off; flags and variables over the file', { timeout: 60000 }, async () => {
  const log = path.join(tmp, 'xllm.log');
  const cfg = path.join(tmp, 'config.yaml');
  fs.writeFileSync(cfg, [
    'server:',
    `  log_file: ${log}`,
    '  log_rotation: 1M',
    '  cors:',
    '    allowed_origins: [http://a.example, http://b.example]',
    '  gzip: false',
    'models:',
    `  preload: [${MODEL}]`,
    '  priority: {kjv: high}',
    'inference:',
    '  max_batch: 4',
    '  max_queue: 9',
    '  idle_timeout: 120',
  ].join('\n') + '\n');
  const s = await startServer({ args: ['--config', cfg, '--max-batch', '3'], env: { XLLM_MODELS_DIR: modelsDir, XLLM_MAX_QUEUE: '7' } });
  servers.push(s);
  // the model loads without a request
  let h;
  for (let i = 0; i < 200; i++) {
    h = await (await get(`${s.url}/v0/health`)).json();
    if (h.models.find((m) => m.name === MODEL)?.state === 'loaded') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(h.models.find((m) => m.name === MODEL)?.state, 'loaded', JSON.stringify(h));
  const out = s.log();
  assert.match(out, /inference\.max_batch = 3 \(from the command line\)/);
  assert.match(out, /inference\.max_queue = 7 \(from the environment\)/);
  assert.match(out, /inference\.idle_timeout = 120 \(from the config file\)/);
  assert.match(out, /models\.priority is accepted but not used yet/);
  // CORS: a listed origin is echoed, another gets none
  const a = await get(`${s.url}/v1/models`, { headers: { Origin: 'http://b.example' } });
  assert.equal(a.headers.get('access-control-allow-origin'), 'http://b.example');
  const b = await get(`${s.url}/v1/models`, { headers: { Origin: 'http://evil.example' } });
  assert.equal(b.headers.get('access-control-allow-origin'), null);
  // gzip off: a large response stays plain
  const content = 'And God said, Let there be light. '.repeat(400);
  const z = await postJson(`${s.url}/tokenize`, { model: MODEL, content, with_pieces: true }, { 'Accept-Encoding': 'gzip' });
  assert.equal(z.status, 200, await z.clone().text());
  assert.ok((await z.clone().text()).length >= 10240);
  assert.equal(z.headers.get('content-encoding'), null);
  // the log file has the request lines too
  const text = fs.readFileSync(log, 'utf8');
  assert.match(text, /GET \/v1\/models 200/);
  assert.match(text, /preloading model 'kjv'/);
});
