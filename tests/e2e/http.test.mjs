// http.test.mjs - HTTP behaviour of xllm serve: CORS preflight, gzip, request
// ids, Host check, body limit, malformed JSON, bearer auth, disconnect
// cancellation, 64 concurrent streams each equal to its solo greedy output,
// graceful shutdown leaving no runner behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import OpenAI from 'openai';
import { startServer, MODEL, get, postJson, schedStats } from './harness.mjs';

let srv, client;
after(() => srv?.stop('SIGKILL'));
before(async () => {
  srv = await startServer();
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});

// Send raw bytes, return the whole response text (the server closes or we time out).
function raw(port, data, ms = 5000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => { s.destroy(); resolve(out); }, ms);
    s.on('data', (d) => { out += d; if (/\r\n\r\n/.test(out) && /Content-Length: (\d+)/i.test(out)) {
      const n = Number(out.match(/Content-Length: (\d+)/i)[1]);
      if (out.length - out.indexOf('\r\n\r\n') - 4 >= n) { clearTimeout(t); s.destroy(); resolve(out); }
    } });
    s.on('error', (e) => { clearTimeout(t); out ? resolve(out) : reject(e); });
    s.on('close', () => { clearTimeout(t); resolve(out); });
    s.write(data);
  });
}

test('CORS preflight and headers', async () => {
  const r = await get(`${srv.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,authorization' } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.match(r.headers.get('access-control-allow-methods'), /POST/);
  assert.match(r.headers.get('access-control-allow-headers'), /authorization/i);
  const g = await get(`${srv.url}/v1/models`, { headers: { Origin: 'http://example.com' } });
  assert.equal(g.headers.get('access-control-allow-origin'), '*');
});

test('gzip for large non-stream responses only when accepted', async () => {
  const content = 'And God said, Let there be light. '.repeat(400);
  const body = JSON.stringify({ content, with_pieces: true });
  const r = await raw(srv.port, `POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  assert.match(r, /Content-Encoding: gzip/i);
  const plain = await postJson(`${srv.url}/tokenize`, { content, with_pieces: true }, { 'Accept-Encoding': 'identity' });
  assert.equal(plain.headers.get('content-encoding'), null);
  const j = await plain.json();
  assert.ok(JSON.stringify(j).length >= 10240);
  // fetch decodes gzip itself: the same JSON
  const z = await postJson(`${srv.url}/tokenize`, { content, with_pieces: true }, { 'Accept-Encoding': 'gzip' });
  assert.equal(z.headers.get('content-encoding'), 'gzip');
  assert.deepEqual(await z.json(), j);
  const small = await get(`${srv.url}/v1/models`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(small.headers.get('content-encoding'), null);
  assert.ok(zlib.gzipSync);
});

test('X-Request-ID echoed or generated', async () => {
  const a = await get(`${srv.url}/v1/models`, { headers: { 'X-Request-ID': 'my-id-123', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
  assert.equal(a.headers.get('x-request-id'), 'my-id-123');
  const b = await get(`${srv.url}/v1/models`);
  assert.match(b.headers.get('x-request-id'), /^req-[0-9a-f]{24}$/);
  await new Promise((r) => setTimeout(r, 100));
  assert.match(srv.log(), /\[my-id-123\] traceparent=00-0af7651916cd43dd8448eb211c80319c/);
});

test('Host header check against DNS rebinding', async () => {
  const bad = await raw(srv.port, 'GET /v1/models HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n');
  assert.match(bad, /^HTTP\/1.1 403/);
  for (const h of ['localhost', `localhost:${srv.port}`, `127.0.0.1:${srv.port}`, '[::1]:1']) {
    const ok = await raw(srv.port, `GET /v1/models HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`);
    assert.match(ok, /^HTTP\/1.1 200/, h);
  }
});

test('body limit 413, malformed JSON with line and column, unknown route 404', async () => {
  const big = await raw(srv.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000000\r\n\r\n{"model":');
  assert.match(big, /^HTTP\/1.1 413/);
  assert.match(big, /limit/);
  const chunked = 'x'.repeat(1 << 20);
  let req = 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
  const sock = net.connect(srv.port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => { got += d; });
  sock.on('error', () => {});
  sock.write(req);
  for (let i = 0; i < 52 && !got; i++) await new Promise((r) => sock.write(`${(1 << 20).toString(16)}\r\n${chunked}\r\n`, r));
  sock.write('0\r\n\r\n');
  await new Promise((r) => setTimeout(r, 500));
  sock.destroy();
  assert.match(got, /^HTTP\/1.1 413/);
  const bad = await get(`${srv.url}/v1/chat/completions`, { method: 'POST', body: '{\n "model": "kjv",\n "messages": [}' });
  assert.equal(bad.status, 400);
  const j = await bad.json();
  assert.match(j.error.message, /line 3 column/);
  const nf = await get(`${srv.url}/v1/nothing`);
  assert.equal(nf.status, 404);
  const ollamaErr = await postJson(`${srv.url}/api/generate`, { prompt: 'x' });
  assert.equal(ollamaErr.status, 400);
  assert.equal(typeof (await ollamaErr.json()).error, 'string');
});

test('utilities: tokenize, detokenize, apply-template, openapi', async () => {
  const t = await (await postJson(`${srv.url}/tokenize`, { content: 'In the beginning' })).json();
  assert.ok(t.tokens.length >= 3);
  const d = await (await postJson(`${srv.url}/detokenize`, { tokens: t.tokens })).json();
  assert.equal(d.content, 'In the beginning');
  // expected: Python Jinja2 rendering the model's chat_template (tests/fixtures/kjv-demo/tokenizer_config.json)
  const a = await (await postJson(`${srv.url}/apply-template`, { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }] })).json();
  assert.equal(a.prompt, '<|bos|><|system|>\ns<|end|>\n<|user|>\nhi<|end|>\n<|assistant|>\n');
  const o = await (await get(`${srv.url}/openapi.json`)).json();
  assert.equal(o.openapi, '3.1.0');
  for (const p of ['/v1/chat/completions', '/api/generate', '/v1/messages', '/tokenize']) assert.ok(o.paths[p], p);
  const sys = await (await get(`${srv.url}/v0/system`)).json();
  assert.ok(sys.ram.total > 0 && sys.cpu.cores > 0);
});

test('client disconnect mid-stream cancels the sequence at once', async () => {
  const ac = new AbortController();
  const s = await client.completions.create({ model: MODEL, prompt: 'And it came to pass', max_tokens: 4000, temperature: 0.8, seed: 3, stream: true }, { signal: ac.signal });
  let n = 0;
  try {
    for await (const _ of s) { if (++n === 3) break; }
  } catch { /* aborted */ }
  ac.abort();
  let running = 1;
  const t0 = Date.now();
  while (Date.now() - t0 < 2000) {
    const st = await schedStats(srv.url);
    running = st ? st.running + st.waiting : 0;
    if (running === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(running, 0, 'the runner dropped the sequence');
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
});

test('64 concurrent streaming clients each get their solo greedy output', { timeout: 90000 }, async () => {
  const seeds = ['In the beginning', 'And God said', 'And the LORD spake', 'Blessed are', 'And it came to pass', 'Now the serpent', 'Then Jesus', 'And the earth'];
  const prompts = Array.from({ length: 64 }, (_, i) => `${seeds[i % seeds.length]} ${i}`);
  const req = (p) => ({ model: MODEL, prompt: p, max_tokens: 8, temperature: 0 });
  const solo = [];
  for (const p of prompts.slice(0, 16)) solo.push((await client.completions.create(req(p))).choices[0].text);
  const streamed = await Promise.all(prompts.map(async (p) => {
    let text = '';
    for await (const c of await client.completions.create({ ...req(p), stream: true })) text += c.choices[0]?.text ?? '';
    return text;
  }));
  for (let i = 16; i < 64; i++) solo.push((await client.completions.create(req(prompts[i]))).choices[0].text);
  for (let i = 0; i < 64; i++) assert.equal(streamed[i], solo[i], `client ${i}`);
});

test('bearer token: 401 without it, accepted with it', async () => {
  const s2 = await startServer({ env: { XLLM_API_KEY: 'sekret' } });
  const noKey = new OpenAI({ baseURL: `${s2.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(noKey.models.list(), OpenAI.AuthenticationError);
  const ok = new OpenAI({ baseURL: `${s2.url}/v1`, apiKey: 'sekret', maxRetries: 0 });
  assert.equal((await ok.models.list()).data[0].id, MODEL);
  await s2.stop('SIGTERM');
});

test('SIGTERM: the running request finishes, the server and its runner exit', { timeout: 60000 }, async () => {
  const s3 = await startServer();
  const c3 = new OpenAI({ baseURL: `${s3.url}/v1`, apiKey: 'x', maxRetries: 0 });
  await c3.completions.create({ model: MODEL, prompt: 'And', max_tokens: 1 });
  const h = await (await get(`${s3.url}/v0/health`)).json();
  const pid = h.models[0].pid;
  assert.ok(pid > 0);
  const running = c3.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 64, temperature: 0 });
  await new Promise((r) => setTimeout(r, 50));
  s3.proc.kill('SIGTERM');
  const r = await running;
  assert.ok(r.usage.completion_tokens >= 1);
  const ex = await s3.exited;
  assert.equal(ex.code, 0);
  let alive = true;
  for (let i = 0; i < 20 && alive; i++) { // 2 s: the runner exits on the shutdown frame, not by a kill after 5 s
    try { process.kill(pid, 0); await new Promise((x) => setTimeout(x, 100)); } catch { alive = false; }
  }
  assert.equal(alive, false, 'runner process is gone');
});

test('a runner that dies fails its requests; the next request starts a new one', { timeout: 60000 }, async () => {
  await client.completions.create({ model: MODEL, prompt: 'And', max_tokens: 1 });
  const h = await (await get(`${srv.url}/v0/health`)).json();
  const pid = h.models[0].pid;
  const s = await client.completions.create({ model: MODEL, prompt: 'And it came to pass', max_tokens: 4000, temperature: 0.8, seed: 1, stream: true });
  let failed = null;
  try {
    let n = 0;
    for await (const _ of s) if (++n === 2) process.kill(pid, 'SIGKILL');
  } catch (e) { failed = e; }
  assert.ok(failed, 'the stream ended with an error');
  assert.match(String(failed.message), /runner/);
  const r = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 2, temperature: 0 });
  assert.equal(r.usage.completion_tokens, 2);
  const h2 = await (await get(`${srv.url}/v0/health`)).json();
  assert.notEqual(h2.models[0].pid, pid);
});

test('hostile bodies: each a clear 4xx in the endpoint\'s error shape, the server unharmed', async () => {
  const deep = '{"model":"kjv","messages":' + '['.repeat(50000) + ']'.repeat(50000) + '}';
  const bodies = [
    Buffer.from(''), Buffer.from('[]'), Buffer.from('null'), Buffer.from('{"model":"kjv",'), Buffer.from(deep),
    Buffer.from('{"model":"kjv","messages":[{"role":"user","content":"hi"}],"max_tokens":1e400}'),
    Buffer.from('{"model":"kjv","messages":[{"role":"user","content":"hi"}],"temperature":"warm"}'),
    Buffer.from('{"model":"kjv","messages":[{"role":"user","content":"hi"}],"max_tokens":99999999999999999999999}'),
    Buffer.from('{"model":"kjv","messages":"hi","max_tokens":4}'),
    Buffer.from('{"model":["kjv"],"messages":[{"role":"user","content":"hi"}]}'),
    Buffer.concat([Buffer.from('{"model":"kjv","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}],"max_tokens":4}')]),
    Buffer.from('{"model":"kjv","messages":[{"role":"user","content":"hi"}],"stop":[' + '"x",'.repeat(100) + '"y"]}'),
    Buffer.from('{"model":"kjv","messages":[{"role":"user","content":"hi"}],"logit_bias":{"-1":5}}'),
  ];
  const shapes = { '/v1/chat/completions': (j) => typeof j.error.message === 'string', '/api/chat': (j) => typeof j.error === 'string', '/v1/messages': (j) => j.type === 'error' && typeof j.error.message === 'string', '/apply-template': (j) => typeof j.error.message === 'string' };
  for (const [path, ok] of Object.entries(shapes)) {
    for (const [i, b] of bodies.entries()) {
      if ((path === '/api/chat' || path === '/apply-template') && [6, 11, 12].includes(i)) continue; // fields those endpoints do not take
      const r = await get(srv.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
      assert.ok(r.status >= 400 && r.status < 500, `${path} body ${i}: status ${r.status}`);
      assert.ok(ok(await r.json()), `${path} body ${i}: error shape`);
    }
  }
  assert.equal((await get(`${srv.url}/v1/models`)).status, 200);
});
