// ops.test.mjs - server operations: the bounded worker pool (64 concurrent
// streams that arrive while the model loads keep the thread count bounded and
// each get their solo greedy output), per-key rate limits (429 with
// Retry-After in OpenAI's, Anthropic's and Ollama's error shapes; the official
// clients raise RateLimitError), a full runner queue (503 queue_full), and
// GET /v0/metrics checked by a Prometheus text-format parser written here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, MODEL, MODEL_PATH, XLLM, get, postJson } from './harness.mjs';

// ---- a Prometheus text format (0.0.4) parser, from the format's rules ----
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// Label set text after '{' at s[i]: returns [labels, index after '}'].
function parseLabels(s, i, where) {
  const labels = {};
  for (;;) {
    if (s[i] === '}') return [labels, i + 1];
    const eq = s.indexOf('=', i);
    assert.ok(eq > i, `${where}: label without '='`);
    const name = s.slice(i, eq);
    assert.match(name, LABEL, `${where}: label name '${name}'`);
    assert.ok(!name.startsWith('__'), `${where}: reserved label name`);
    assert.ok(!(name in labels), `${where}: label '${name}' twice`);
    assert.equal(s[eq + 1], '"', `${where}: label value not quoted`);
    let v = '';
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const e = s[++j];
        assert.ok(e === '\\' || e === '"' || e === 'n', `${where}: bad escape \\${e}`);
        v += e === 'n' ? '\n' : e;
      } else {
        v += s[j];
      }
    }
    assert.equal(s[j], '"', `${where}: unterminated label value`);
    labels[name] = v;
    i = j + 1;
    if (s[i] === ',') i++;
    else assert.equal(s[i], '}', `${where}: expected ',' or '}'`);
  }
}

function parseValue(t, where) {
  if (t === '+Inf') return Infinity;
  if (t === '-Inf') return -Infinity;
  if (t === 'NaN') return NaN;
  assert.match(t, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `${where}: value '${t}'`);
  return Number(t);
}

// Parse and check: HELP and TYPE before each family's samples, one family's
// samples contiguous, no series twice, histograms cumulative with +Inf equal
// to _count and a _sum. Returns {families: {name: {type, help, samples: [{name, labels, value}]}}}.
function parseProm(text) {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const families = {};
  const done = new Set();
  const series = new Set();
  let current = null;
  const familyOf = (name) => {
    if (families[name]) return name;
    for (const suf of ['_bucket', '_sum', '_count']) {
      const base = name.endsWith(suf) ? name.slice(0, -suf.length) : null;
      if (base && families[base] && families[base].type === 'histogram') return base;
    }
    return null;
  };
  text.split('\n').forEach((line, n) => {
    const where = `line ${n + 1} '${line}'`;
    if (line === '') return;
    let m;
    if ((m = line.match(/^# (HELP|TYPE) (\S+) ?(.*)$/))) {
      const [, kind, name, rest] = m;
      assert.match(name, NAME, where);
      assert.ok(name.startsWith('xllm_'), `${where}: prefix xllm_`);
      const f = (families[name] ??= { samples: [] });
      if (kind === 'HELP') {
        assert.equal(f.help, undefined, `${where}: second HELP`);
        assert.ok(!/\\[^\\n]/.test(rest.replace(/\\\\/g, '')), `${where}: HELP escapes only \\\\ and \\n`);
        f.help = rest;
      } else {
        assert.equal(f.type, undefined, `${where}: second TYPE`);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `${where}: type`);
        assert.equal(f.samples.length, 0, `${where}: TYPE after samples`);
        f.type = rest;
      }
      if (current !== name) { if (current) done.add(current); current = name; }
      assert.ok(!done.has(name) || current === name, `${where}: family split`);
      return;
    }
    assert.ok(!line.startsWith('#') || !/^# (HELP|TYPE)/.test(line), where);
    if (line.startsWith('#')) return;
    const brace = line.indexOf('{');
    const sp = line.indexOf(' ');
    const name = line.slice(0, brace >= 0 && brace < sp ? brace : sp);
    assert.match(name, NAME, where);
    let labels = {};
    let i = name.length;
    if (line[i] === '{') [labels, i] = parseLabels(line, i + 1, where);
    assert.equal(line[i], ' ', `${where}: space before the value`);
    const parts = line.slice(i + 1).split(' ');
    assert.ok(parts.length === 1 || (parts.length === 2 && /^-?\d+$/.test(parts[1])), `${where}: value [timestamp]`);
    const value = parseValue(parts[0], where);
    const fam = familyOf(name);
    assert.ok(fam, `${where}: sample without HELP/TYPE`);
    assert.ok(families[fam].help !== undefined && families[fam].type !== undefined, `${where}: HELP and TYPE first`);
    assert.equal(fam, current, `${where}: samples of ${fam} not contiguous`);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    assert.ok(!series.has(key), `${where}: series twice`);
    series.add(key);
    families[fam].samples.push({ name, labels, value });
  });
  for (const [name, f] of Object.entries(families)) {
    assert.ok(f.help !== undefined && f.type !== undefined, `${name}: HELP and TYPE`);
    if (f.type === 'counter') for (const s of f.samples) assert.ok(s.value >= 0, `${name}: counter >= 0`);
    if (f.type !== 'histogram') continue;
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket`);
    const sum = f.samples.filter((s) => s.name === `${name}_sum`);
    const count = f.samples.filter((s) => s.name === `${name}_count`);
    assert.ok(buckets.length >= 2 && sum.length === 1 && count.length === 1, `${name}: buckets, _sum, _count`);
    let prevLe = -Infinity, prev = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le, `${name} le`);
      assert.ok(le > prevLe, `${name}: le ascending`);
      assert.ok(b.value >= prev, `${name}: buckets cumulative`);
      prevLe = le; prev = b.value;
    }
    assert.equal(buckets.at(-1).labels.le, '+Inf', `${name}: last bucket +Inf`);
    assert.equal(buckets.at(-1).value, count[0].value, `${name}: +Inf equals _count`);
    assert.ok(sum[0].value >= 0, `${name}: _sum`);
  }
  return families;
}

// value of one series (labels a subset match); 0 when absent.
function val(fams, name, labels = {}) {
  const fam = fams[name] ?? fams[name.replace(/_(count|sum)$/, '')];
  if (!fam) return 0;
  const s = fam.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : 0;
}

async function scrape(url, headers = {}) {
  const r = await get(`${url}/v0/metrics`, { headers });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parseProm(await r.text());
}

test('the parser rejects what the format forbids', () => {
  const ok = '# HELP xllm_a a\n# TYPE xllm_a counter\nxllm_a{x="q\\"\\\\\\n"} 1\n';
  assert.equal(parseProm(ok).xllm_a.samples[0].labels.x, 'q"\\\n');
  const bad = [
    'xllm_a 1\n', // no HELP/TYPE
    '# HELP xllm_a a\n# TYPE xllm_a counter\nxllm_a{x="\\t"} 1\n', // bad escape
    '# HELP xllm_a a\n# TYPE xllm_a counter\nxllm_a 1\nxllm_a 2\n', // series twice
    '# HELP xllm_h h\n# TYPE xllm_h histogram\nxllm_h_bucket{le="1"} 2\nxllm_h_bucket{le="+Inf"} 1\nxllm_h_sum 1\nxllm_h_count 1\n',
    '# HELP xllm_h h\n# TYPE xllm_h histogram\nxllm_h_bucket{le="1"} 1\nxllm_h_bucket{le="+Inf"} 2\nxllm_h_sum 1\nxllm_h_count 3\n',
    '# HELP xllm_a a\n# TYPE xllm_a gauge\nxllm_a 1', // no final newline
  ];
  for (const b of bad) assert.throws(() => parseProm(b), undefined, JSON.stringify(b));
});

// ---- one server for the pool and metrics tests ----
const WEIRD = 'we"ird\\name';
// XLLM_BIN for the runners: the real binary started after a pause, so a
// model load takes long enough for every request of a test to arrive during it.
function slowXllm(seconds) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xllm-slow-'));
  const slow = path.join(dir, 'slow-xllm');
  writeFileSync(slow, `#!/bin/sh\nsleep ${seconds}\nexec '${XLLM}' "$@"\n`);
  chmodSync(slow, 0o755);
  return slow;
}

let srv;
after(() => srv?.stop('SIGKILL'));
before(async () => {
  srv = await startServer({ args: ['--model', `${WEIRD}=${MODEL_PATH}`], env: { XLLM_BIN: slowXllm(0.5) } });
});

function threads(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Threads:\s+(\d+)/m)[1]);
}

test('64 concurrent streams arriving while the model loads: bounded threads, solo greedy outputs', { timeout: 90000 }, async () => {
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
  const seeds = ['In the beginning', 'And God said', 'And the LORD spake', 'Blessed are', 'And it came to pass', 'Then Jesus'];
  const prompts = Array.from({ length: 64 }, (_, i) => `${seeds[i % seeds.length]} ${i}`);
  const req = (p) => ({ model: MODEL, prompt: p, max_tokens: 6, temperature: 0 });
  const idle = threads(srv.proc.pid);
  let maxThreads = idle;
  const timer = setInterval(() => { try { maxThreads = Math.max(maxThreads, threads(srv.proc.pid)); } catch { /* exited */ } }, 1);
  let streamed;
  try {
    streamed = await Promise.all(prompts.map(async (p) => {
      let text = '';
      for await (const c of await client.completions.create({ ...req(p), stream: true })) text += c.choices[0]?.text ?? '';
      return text;
    }));
  } finally {
    clearInterval(timer);
  }
  // main + 4 HTTP + 8 workers + 2 store + reaper = the idle count; + 1 runner reader
  assert.ok(maxThreads <= idle + 2, `threads: idle ${idle}, at most ${maxThreads} under 64 concurrent requests`);
  assert.ok(idle <= 20, `idle threads ${idle}`);
  // one worker loaded the model; the others' requests parked instead of blocking
  const waits = val(await scrape(srv.url), 'xllm_model_load_waits_total');
  assert.ok(waits >= 48 && waits <= 63, `${waits} requests waited for the load`);
  for (let i = 0; i < 64; i++) {
    const solo = (await client.completions.create(req(prompts[i]))).choices[0].text;
    assert.equal(streamed[i], solo, `client ${i}`);
  }
});

test('/v0/metrics: exposition format, counts that move, escaped model labels', { timeout: 60000 }, async () => {
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
  const before = await scrape(srv.url);
  const ep = { endpoint: '/v1/completions', status: '200' };
  const r1 = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 5, temperature: 0 });
  let n = 0;
  for await (const c of await client.completions.create({ model: MODEL, prompt: 'In the beginning', max_tokens: 5, temperature: 0, stream: true, stream_options: { include_usage: true } })) {
    if (c.usage) n = c.usage.completion_tokens;
  }
  await assert.rejects(client.completions.create({ model: 'nope', prompt: 'x' }), OpenAI.NotFoundError);
  // a request for the model with the odd name loads it: its per-model series carry the escaped label
  await client.completions.create({ model: WEIRD, prompt: 'And', max_tokens: 1 });
  const a = await scrape(srv.url);
  assert.equal(val(a, 'xllm_http_requests_total', ep) - val(before, 'xllm_http_requests_total', ep), 3);
  assert.equal(val(a, 'xllm_http_requests_total', { endpoint: '/v1/completions', status: '404' }) - val(before, 'xllm_http_requests_total', { endpoint: '/v1/completions', status: '404' }), 1);
  assert.ok(val(a, 'xllm_http_requests_total', { endpoint: '/v0/metrics', status: '200' }) >= 1);
  assert.equal(val(a, 'xllm_generated_tokens_total') - val(before, 'xllm_generated_tokens_total'), r1.usage.completion_tokens + n + 1);
  assert.ok(val(a, 'xllm_prompt_tokens_total') - val(before, 'xllm_prompt_tokens_total') >= r1.usage.prompt_tokens + 2);
  assert.equal(val(a, 'xllm_time_to_first_token_seconds_count') - val(before, 'xllm_time_to_first_token_seconds_count'), 3);
  assert.equal(val(a, 'xllm_inter_token_latency_seconds_count') - val(before, 'xllm_inter_token_latency_seconds_count'), (r1.usage.completion_tokens - 1) + (n - 1));
  assert.ok(val(a, 'xllm_time_to_first_token_seconds_sum') > val(before, 'xllm_time_to_first_token_seconds_sum'));
  assert.ok(val(a, 'xllm_model_loads_total') >= 2);
  for (const name of [MODEL, WEIRD]) {
    const lab = { model: name };
    assert.equal(val(a, 'xllm_model_loaded', lab), 1, `${name} loaded`);
    assert.ok(val(a, 'xllm_kv_blocks_free', lab) > 0, `${name} kv free`);
    assert.ok(a.xllm_kv_blocks_used.samples.some((s) => s.labels.model === name));
    assert.equal(val(a, 'xllm_queue_depth', lab), 0);
    assert.ok(val(a, 'xllm_runner_resident_bytes', lab) > 1e6);
    const hr = val(a, 'xllm_prefix_cache_hit_rate', lab);
    assert.ok(hr >= 0 && hr <= 1);
  }
  assert.ok(val(a, 'xllm_server_resident_bytes') > 1e6);
  assert.equal(val(a, 'xllm_workers'), 8);
  for (const f of ['xllm_running_batch_size', 'xllm_worker_queue_depth', 'xllm_runner_restarts_total', 'xllm_model_unloads_total', 'xllm_ram_available_bytes'])
    assert.ok(a[f], f);
});

test('a full runner queue answers 503 queue_full', { timeout: 60000 }, async () => {
  const s = await startServer({ args: ['--max-batch', '1', '--max-queue', '1'] });
  try {
    const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
    await c.completions.create({ model: MODEL, prompt: 'And', max_tokens: 1 });
    const res = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => c.completions.create({ model: MODEL, prompt: `And God said ${i}`, max_tokens: 40, temperature: 0 })));
    const full = res.filter((r) => r.status === 'rejected');
    assert.ok(res.some((r) => r.status === 'fulfilled'));
    assert.ok(full.length >= 1, 'some were refused');
    for (const f of full) {
      assert.ok(f.reason instanceof OpenAI.InternalServerError, String(f.reason));
      assert.equal(f.reason.status, 503);
      assert.equal(f.reason.error.code, 'queue_full');
    }
  } finally {
    await s.stop('SIGKILL');
  }
});

test('per-key rate limits: 429 with Retry-After in each API shape; XLLM_API_KEY without limits', { timeout: 60000 }, async () => {
  const s = await startServer({
    env: { XLLM_API_KEY: 'plain' },
    args: ['--api-key', 'rq:rpm=2', '--api-key', 'tk:tpm=20', '--api-key', 'an:rpm=1', '--api-key=bt:priority=batch,rpm=100'],
  });
  try {
    const oa = (key) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: key, maxRetries: 0, timeout: 60000 });
    // requests per minute; OpenAI's x-ratelimit-* headers on what passes
    const first = await get(`${s.url}/v1/models`, { headers: { Authorization: 'Bearer rq' } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.equal(first.headers.get('x-ratelimit-limit-tokens'), null);
    await oa('rq').models.list();
    const e = await oa('rq').models.list().then(() => null, (x) => x);
    assert.ok(e instanceof OpenAI.RateLimitError, String(e));
    assert.equal(e.status, 429);
    assert.equal(e.error.type, 'requests');
    assert.equal(e.error.code, 'rate_limit_exceeded');
    assert.match(e.error.message, /Limit 2, Used 2/);
    assert.equal(e.headers.get('x-ratelimit-remaining-requests'), '0');
    const ra = Number(e.headers.get('retry-after'));
    assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 30, `Retry-After ${ra}`);
    // Ollama's shape, same key
    const ol = await postJson(`${s.url}/api/generate`, { model: MODEL, prompt: 'And', stream: false }, { Authorization: 'Bearer rq' });
    assert.equal(ol.status, 429);
    assert.ok(Number(ol.headers.get('retry-after')) >= 1);
    assert.equal(typeof (await ol.json()).error, 'string');
    // health and metrics are not limited
    assert.equal((await get(`${s.url}/v0/health`, { headers: { Authorization: 'Bearer rq' } })).status, 200);
    // tokens per minute: charged after the request (prompt + generated)
    const { data: r, response: rr } = await oa('tk').completions.create({ model: MODEL, prompt: 'And God said, Let there be light: and there was light.', max_tokens: 16, temperature: 0 }).withResponse();
    assert.ok(r.usage.total_tokens > 20);
    assert.equal(rr.headers.get('x-ratelimit-limit-tokens'), '20');
    assert.equal(rr.headers.get('x-ratelimit-remaining-tokens'), '20'); // counted after the request
    const t = await oa('tk').completions.create({ model: MODEL, prompt: 'And', max_tokens: 1 }).then(() => null, (x) => x);
    assert.ok(t instanceof OpenAI.RateLimitError, String(t));
    assert.equal(t.error.type, 'tokens');
    assert.ok(Number(t.headers.get('retry-after')) >= 1);
    // Anthropic's client and shape
    const an = new Anthropic({ baseURL: s.url, apiKey: 'an', maxRetries: 0, timeout: 60000 });
    const msg = { model: MODEL, max_tokens: 2, messages: [{ role: 'user', content: 'And God said' }] };
    await an.messages.create(msg);
    const ae = await an.messages.create(msg).then(() => null, (x) => x);
    assert.ok(ae instanceof Anthropic.RateLimitError, String(ae));
    assert.equal(ae.error.type, 'error');
    assert.equal(ae.error.error.type, 'rate_limit_error');
    assert.ok(Number(ae.headers.get('retry-after')) >= 1);
    // unknown key: 401; the plain XLLM_API_KEY has no limits; a batch key generates
    await assert.rejects(oa('nope').models.list(), OpenAI.AuthenticationError);
    for (let i = 0; i < 5; i++) await oa('plain').models.list();
    assert.equal((await oa('bt').completions.create({ model: MODEL, prompt: 'And', max_tokens: 2 })).usage.completion_tokens, 2);
    const m = await scrape(s.url, { Authorization: 'Bearer plain' });
    assert.equal(val(m, 'xllm_rate_limited_total', { limit: 'requests' }), 3);
    assert.equal(val(m, 'xllm_rate_limited_total', { limit: 'tokens' }), 1);
    assert.equal(val(m, 'xllm_http_requests_total', { endpoint: '/v1/models', status: '429' }), 1);
  } finally {
    await s.stop('SIGKILL');
  }
});

test('bad --api-key specs are refused at start with a clear message', async () => {
  for (const [spec, re] of [['k:rpm=x', /rpm must be/], ['k:burst=3', /unknown option 'burst'/], [':rpm=1', /key is empty/], ['k:priority=high', /interactive or batch/]]) {
    await assert.rejects(startServer({ args: ['--api-key', spec], timeoutMs: 5000 }), re);
  }
});

test('at most two model loads at once: a third unloaded model waits without a worker', { timeout: 60000 }, async () => {
  const names = ['m1', 'm2', 'm3'];
  const s = await startServer({ args: names.flatMap((n) => ['--model', `${n}=${MODEL_PATH}`]), env: { XLLM_BIN: slowXllm(1) } });
  try {
    const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
    const reqs = names.map((n) => c.completions.create({ model: n, prompt: 'And God said', max_tokens: 2, temperature: 0 }));
    let maxLoading = 0, maxBusy = 0, m;
    for (let t0 = Date.now(); Date.now() - t0 < 20000;) {
      m = parseProm(await (await get(`${s.url}/v0/metrics`)).text());
      const loading = names.reduce((a, n) => a + val(m, 'xllm_model_loading', { model: n }), 0);
      maxLoading = Math.max(maxLoading, loading);
      maxBusy = Math.max(maxBusy, val(m, 'xllm_workers_busy'));
      if (val(m, 'xllm_model_loads_total') === 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const r of await Promise.all(reqs)) assert.equal(r.usage.completion_tokens, 2);
    assert.equal(maxLoading, 2, 'two loads ran together, never three');
    assert.ok(maxBusy <= 3, `workers busy at most ${maxBusy} (two loads + this scrape)`);
    assert.ok(val(m, 'xllm_model_load_waits_total') >= 1, 'the third request parked');
  } finally {
    await s.stop('SIGKILL');
  }
});

test('SIGTERM while requests wait for a slow model load: each is answered, the server exits 0', { timeout: 60000 }, async () => {
  const s = await startServer({ env: { XLLM_BIN: slowXllm(1.5) } }); // every request below parks on the load
  try {
    const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 60000 });
    const reqs = Array.from({ length: 12 }, (_, i) => c.completions.create({ model: MODEL, prompt: `And God said ${i}`, max_tokens: 3, temperature: 0 }));
    let m;
    for (let t0 = Date.now(); Date.now() - t0 < 10000;) { // all 12 in the server, 11 parked (one worker loads)
      m = parseProm(await (await get(`${s.url}/v0/metrics`)).text());
      if (val(m, 'xllm_generations_active') === 12 && val(m, 'xllm_model_load_waits_total') === 11) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(val(m, 'xllm_model_load_waits_total'), 11);
    assert.equal(val(m, 'xllm_model_loads_total'), 0, 'still loading');
    assert.ok(val(m, 'xllm_workers_busy') <= 2, 'parked requests hold no worker');
    s.proc.kill('SIGTERM');
    // not yet submitted when the stop began: refused with 503 once the load ends, never left hanging
    for (const r of await Promise.allSettled(reqs)) {
      if (r.status === 'fulfilled') assert.equal(r.value.usage.completion_tokens, 3);
      else assert.ok(r.reason.status === 503 && /shutting down/.test(r.reason.message), String(r.reason));
    }
    const ex = await s.exited;
    assert.equal(ex.code, 0, s.log().slice(-2000));
  } finally {
    await s.stop('SIGKILL');
  }
});

test('SIGTERM while a --preload load runs: the load gives up, the server exits at once', { timeout: 60000 }, async () => {
  // the runner takes 20 s to start: the server must not wait for it to stop
  const s = await startServer({ args: ['--preload', MODEL], env: { XLLM_BIN: slowXllm(20) } });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    const ex = await s.exited;
    assert.equal(ex.code, 0, s.log().slice(-2000));
    assert.ok(Date.now() - t0 < 8000, `exit took ${Date.now() - t0} ms`);
  } finally {
    await s.stop('SIGKILL');
  }
});
