// store.test.mjs - the model store through the server with the official
// `ollama` npm client: pull (progress events) from the registry fixture
// (tests/registry_fixture.py on loopback, XLLM_OLLAMA_REGISTRY), list, show,
// create, copy, delete, ps, blobs HEAD/POST, push refused, then generation on
// pulled and created models. The server gets its own XLLM_MODELS_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import { startServer, get } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xllm-store-e2e-'));
const modelsDir = path.join(tmp, 'models');
let fixture, srv, ol;

async function startFixture() {
  const portFile = path.join(tmp, 'port');
  const proc = spawn('python3', [path.join(root, 'tests/registry_fixture.py'), '--port-file', portFile, '--time-limit', '240'], { stdio: 'ignore' });
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (fs.existsSync(portFile) && fs.readFileSync(portFile, 'utf8').trim()) {
      return { proc, url: `http://127.0.0.1:${fs.readFileSync(portFile, 'utf8').trim()}` };
    }
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error('registry fixture did not start');
}

before(async () => {
  fixture = await startFixture();
  process.on('exit', () => { try { fixture.proc.kill('SIGKILL'); } catch { /* gone */ } });
  srv = await startServer({ env: { XLLM_MODELS_DIR: modelsDir, XLLM_OLLAMA_REGISTRY: fixture.url } });
  ol = new Ollama({ host: srv.url });
});

after(async () => {
  if (srv) await srv.stop('SIGTERM'); // graceful: the server reaps its runners
  if (fixture) {
    fixture.proc.kill('SIGKILL');
    if (fixture.proc.exitCode === null && fixture.proc.signalCode === null) await new Promise((r) => fixture.proc.on('exit', r));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('pull streams progress objects and lists the model', { timeout: 60000 }, async () => {
  const events = [];
  for await (const ev of await ol.pull({ model: 'tiny', stream: true })) events.push(ev);
  const st = events.map((e) => e.status);
  assert.equal(st[0], 'pulling manifest');
  assert.equal(st.at(-1), 'success');
  assert.ok(st.includes('verifying sha256 digest') && st.includes('writing manifest'), st.join(','));
  const layer = events.find((e) => e.digest && e.total > 2000000);
  assert.ok(layer, 'a progress object for the model layer');
  assert.match(layer.status, /^pulling [0-9a-f]{12}$/);
  const last = events.filter((e) => e.digest === layer.digest).at(-1);
  assert.equal(last.completed, last.total);

  const res = await ol.pull({ model: 'kjv-demo', stream: false });
  assert.equal(res.status, 'success');

  const { models } = await ol.list();
  const names = models.map((m) => m.name);
  assert.ok(names.includes('tiny:latest') && names.includes('kjv-demo:latest') && names.includes('kjv'), names.join(','));
  const t = models.find((m) => m.name === 'tiny:latest');
  assert.match(t.digest, /^[0-9a-f]{64}$/);
  assert.ok(t.size > 2500000);
  assert.equal(t.details.format, 'gguf');
  const manifest = fs.readFileSync(path.join(modelsDir, 'manifests/registry.ollama.ai/library/tiny/latest'));
  assert.equal(t.digest, createHash('sha256').update(manifest).digest('hex'), 'digest is the manifest sha256');
  const v1 = await (await get(`${srv.url}/v1/models`)).json();
  assert.ok(v1.data.some((m) => m.id === 'tiny:latest'));
});

test('pull errors: unknown model and bad name', { timeout: 30000 }, async () => {
  await assert.rejects(ol.pull({ model: 'nosuchmodel', stream: false }), (e) => /nosuchmodel|not found|exist/i.test(e.message));
  await assert.rejects(async () => { for await (const _ of await ol.pull({ model: 'nosuchmodel', stream: true })); }, /./);
  await assert.rejects(ol.pull({ model: 'bad name!', stream: false }), (e) => e.status_code === 400);
});

test('a client leaving a streamed pull cancels it: no manifest, no partial blob', { timeout: 45000 }, async () => {
  const ac = new AbortController();
  const res = await fetch(`${srv.url}/api/pull`, { method: 'POST', body: JSON.stringify({ model: 'stall' }), signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = '';
  while (!/"pulling [0-9a-f]{12}"/.test(text)) {
    const { value, done } = await reader.read();
    assert.ok(!done, `stream ended early: ${text}`);
    text += Buffer.from(value).toString();
  }
  const partials = () => fs.readdirSync(path.join(modelsDir, 'blobs')).filter((f) => f.endsWith('.partial'));
  for (let i = 0; i < 100 && !partials().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(partials().length >= 1, `the stalled blob is being written (${text})`);
  ac.abort();
  for (let i = 0; i < 150 && partials().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(partials(), [], 'the cancelled pull removed its partial blob');
  assert.ok(!fs.existsSync(path.join(modelsDir, 'manifests/registry.ollama.ai/library/stall')));
});

for (const stream of [false, true]) {
  test(`SIGTERM during a ${stream ? 'streamed' : 'non-streamed'} pull stops it: the server exits at once, no partial blob`, { timeout: 45000 }, async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'stop-'));
    const s = await startServer({ env: { XLLM_MODELS_DIR: dir, XLLM_OLLAMA_REGISTRY: fixture.url } });
    const body = stream ? { model: 'stall' } : { model: 'stall', stream: false };
    const pending = fetch(`${s.url}/api/pull`, { method: 'POST', body: JSON.stringify(body) }).catch((e) => e);
    const partials = () => (fs.existsSync(path.join(dir, 'blobs')) ? fs.readdirSync(path.join(dir, 'blobs')) : []).filter((f) => f.endsWith('.partial'));
    for (let i = 0; i < 100 && !partials().length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(partials().length >= 1, 'the stalled blob is being written');
    const t0 = Date.now();
    s.proc.kill('SIGTERM'); // the registry stalls for 30 s: a pull that kept going would hold the exit that long
    const ex = await s.exited;
    assert.equal(ex.code, 0, `${JSON.stringify(ex)}\n${s.log().slice(-3000)}`);
    assert.ok(Date.now() - t0 < 10000, `exit took ${Date.now() - t0} ms`);
    await pending;
    assert.deepEqual(partials(), [], 'the stopped pull removed its partial blob');
  });
}

test('show a pulled model: template, system, parameters, modelfile, license', { timeout: 30000 }, async () => {
  const s = await ol.show({ model: 'tiny' });
  assert.equal(s.template, '{{ .System }} {{ .Prompt }}');
  assert.equal(s.system, 'You are tiny.');
  assert.match(s.parameters, /^stop\s+"<\|end\|>"$/m);
  assert.match(s.parameters, /^temperature\s+0\.5$/m);
  assert.match(s.modelfile, /^FROM /m);
  assert.match(s.modelfile, /TEMPLATE/);
  assert.ok(s.details && s.model_info);
});

test('create from a pulled model, copy, delete (404 when absent)', { timeout: 60000 }, async () => {
  const events = [];
  for await (const ev of await ol.create({ model: 'bible', from: 'kjv-demo', system: 'Speak as the King James Bible.', parameters: { temperature: 0.25, num_predict: 3 }, stream: true })) events.push(ev.status);
  assert.equal(events.at(-1), 'success', events.join(','));
  const s = await ol.show({ model: 'bible' });
  assert.equal(s.system, 'Speak as the King James Bible.');
  assert.match(s.parameters, /temperature\s+0\.25/);

  await assert.rejects(ol.create({ model: 'q', from: 'kjv-demo', quantize: 'q4_K_M', stream: false }), /quantiz/i);
  // the older body: a Modelfile text
  const r = await fetch(`${srv.url}/api/create`, { method: 'POST', body: JSON.stringify({ name: 'bible2', modelfile: 'FROM kjv-demo\nPARAMETER temperature 0.1\n', stream: false }) });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await r.json()).status, 'success');

  await ol.copy({ source: 'bible', destination: 'bible-copy' });
  let names = (await ol.list()).models.map((m) => m.name);
  assert.ok(names.includes('bible:latest') && names.includes('bible-copy:latest') && names.includes('bible2:latest'), names.join(','));
  await assert.rejects(ol.copy({ source: 'nothere', destination: 'x' }), (e) => e.status_code === 404);

  await ol.delete({ model: 'bible-copy' });
  await ol.delete({ model: 'bible2' });
  names = (await ol.list()).models.map((m) => m.name);
  assert.ok(!names.includes('bible-copy:latest') && !names.includes('bible2:latest') && names.includes('bible:latest'), names.join(','));
  await assert.rejects(ol.delete({ model: 'bible-copy' }), (e) => e.status_code === 404);
  await assert.rejects(ol.show({ model: 'bible-copy' }), (e) => e.status_code === 404);
});

test('a created model\'s Go template and system layer shape the prompt', { timeout: 60000 }, async () => {
  const res = await ol.create({ model: 'framed', from: 'kjv-demo', template: '{{ .System }} {{ .Prompt }}', system: 'In the beginning', stream: false });
  assert.equal(res.status, 'success');
  const count = async (content) => (await (await fetch(`${srv.url}/tokenize`, { method: 'POST', body: JSON.stringify({ model: 'kjv', content, add_special: true }) })).json()).tokens.length;
  const want = await count('In the beginning God created');
  const g = await ol.generate({ model: 'framed', prompt: 'God created', options: { num_predict: 1 } });
  assert.equal(g.prompt_eval_count, want, 'prompt = system + " " + prompt through the Go template');
  const g2 = await ol.generate({ model: 'framed', prompt: 'God created', system: 'And', options: { num_predict: 1 } });
  assert.equal(g2.prompt_eval_count, await count('And God created'), 'the request\'s system replaces the layer');
  const c = await ol.chat({ model: 'framed', messages: [{ role: 'user', content: 'God created' }], options: { num_predict: 1 } });
  assert.equal(c.prompt_eval_count, want, 'chat: the system layer added, the Go template collapsing the messages');
  await ol.delete({ model: 'framed' });
});

test('blobs: HEAD 404/200, POST verified (400 on mismatch, 201 created)', { timeout: 30000 }, async () => {
  const data = Buffer.from('a blob for the e2e test\n');
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const url = `${srv.url}/api/blobs/${digest}`;
  assert.equal((await fetch(url, { method: 'HEAD' })).status, 404);
  const bad = await fetch(url, { method: 'POST', body: Buffer.from('other bytes') });
  assert.equal(bad.status, 400);
  assert.ok((await bad.json()).error);
  assert.equal((await fetch(url, { method: 'HEAD' })).status, 404, 'a mismatch stores nothing');
  assert.equal((await fetch(url, { method: 'POST', body: data })).status, 201);
  assert.equal((await fetch(url, { method: 'HEAD' })).status, 200);
  assert.equal(fs.readFileSync(path.join(modelsDir, 'blobs', digest.replace(':', '-'))).toString(), data.toString());
  assert.equal((await fetch(`${srv.url}/api/blobs/sha256:xyz`, { method: 'HEAD' })).status, 400);
  assert.equal((await fetch(`${srv.url}/api/blobs/sha256:xyz`, { method: 'POST', body: data })).status, 400);
  // an upload streams into the store: larger than the 50 MB body limit of the JSON endpoints
  const big = Buffer.alloc(51 * 1000 * 1000 + 1, 'GGUF-big-blob ');
  const bigDigest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
  assert.equal((await fetch(`${srv.url}/api/blobs/${bigDigest}`, { method: 'POST', body: big })).status, 201);
  assert.equal(fs.statSync(path.join(modelsDir, 'blobs', bigDigest.replace(':', '-'))).size, big.length);
});

test('create from an uploaded GGUF blob (files), as current clients send it', { timeout: 60000 }, async () => {
  const gguf = fs.readFileSync(path.join(root, 'models/kjv-demo.gguf'));
  const digest = `sha256:${createHash('sha256').update(gguf).digest('hex')}`;
  assert.equal((await fetch(`${srv.url}/api/blobs/${digest}`, { method: 'POST', body: gguf })).status, 201);
  const res = await ol.create({ model: 'uploaded', files: { 'kjv-demo.gguf': digest }, parameters: { num_predict: 2 }, stream: false });
  assert.equal(res.status, 'success');
  await assert.rejects(ol.create({ model: 'u2', files: { 'x.gguf': `sha256:${'0'.repeat(64)}` }, stream: false }), /./);
  const g = await ol.generate({ model: 'uploaded', prompt: 'And God said' });
  assert.equal(g.eval_count, 2);
  await ol.delete({ model: 'uploaded' });
});

test('push is refused with Ollama\'s error shape', { timeout: 30000 }, async () => {
  await assert.rejects(ol.push({ model: 'tiny', stream: false }), (e) => e.status_code === 501 && /not supported/.test(e.message));
});

test('generate and chat on pulled and created models, then ps', { timeout: 90000 }, async () => {
  const g = await ol.generate({ model: 'kjv-demo', prompt: 'And God said', options: { num_predict: 4, temperature: 0 } });
  assert.equal(g.done, true);
  assert.ok(g.eval_count >= 1);
  // bible's params layer (num_predict 3) is the default; the request's options override it
  const b = await ol.generate({ model: 'bible', prompt: 'And God said', options: { temperature: 0 } });
  assert.equal(b.eval_count, 3);
  const b2 = await ol.generate({ model: 'bible', prompt: 'And God said', options: { temperature: 0, num_predict: 5 } });
  assert.equal(b2.eval_count, 5);
  const c = await ol.chat({ model: 'bible', messages: [{ role: 'user', content: 'In the beginning' }] });
  assert.equal(c.done, true);
  assert.equal(c.message.role, 'assistant');
  const ps = await ol.ps();
  const names = ps.models.map((m) => m.name);
  assert.ok(names.includes('kjv-demo:latest') && names.includes('bible:latest'), names.join(','));
  // deleting a loaded (idle) model unloads it; pulling it back serves it again
  await ol.delete({ model: 'kjv-demo' });
  assert.ok(!(await ol.ps()).models.some((m) => m.name === 'kjv-demo:latest'));
  assert.ok(!(await ol.list()).models.some((m) => m.name === 'kjv-demo:latest'));
  await assert.rejects(ol.generate({ model: 'kjv-demo', prompt: 'x' }), (e) => e.status_code === 404);
  assert.equal((await ol.pull({ model: 'kjv-demo', stream: false })).status, 'success');
  const again = await ol.generate({ model: 'kjv-demo', prompt: 'And God said', options: { num_predict: 2 } });
  assert.equal(again.eval_count, 2);
});
