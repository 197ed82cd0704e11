// models.test.mjs - the model manager through the API: the memory check
// refuses a load that cannot fit (503, with the numbers), unloads idle
// runners least recently used first to make room, and never unloads a model
// that is serving a request. XLLM_MEM_BUDGET pins "free memory" to a budget
// minus what loaded runners need, so this runs the same on any machine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, MODEL_PATH, get } from './harness.mjs';

const servers = [];
after(() => Promise.all(servers.map((s) => s.stop('SIGKILL'))));

async function loaded(url) {
  const ps = await (await get(`${url}/api/ps`)).json();
  return ps.models.map((m) => m.name).sort();
}

test('memory check: refusal with numbers, LRU unload of idle runners, busy runners kept', { timeout: 90000 }, async () => {
  const tiny = await startServer({ env: { XLLM_MEM_BUDGET: '1000' } });
  servers.push(tiny);
  const c0 = new OpenAI({ baseURL: `${tiny.url}/v1`, apiKey: 'x', maxRetries: 0 });
  let need = 0;
  await assert.rejects(c0.completions.create({ model: 'kjv', prompt: 'And', max_tokens: 1 }), (e) => {
    assert.equal(e.status, 503);
    const m = e.message.match(/needs ([\d.]+) MiB .* only ([\d.]+) MiB is free/);
    assert.ok(m, e.message);
    need = Number(m[1]) * 1048576;
    return true;
  });
  await tiny.stop('SIGTERM');

  const budget = Math.round(need * 1.5); // room for one runner, not two
  const s = await startServer({ env: { XLLM_MEM_BUDGET: String(budget) }, args: ['--model', `other=${MODEL_PATH}`] });
  servers.push(s);
  const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0 });
  await c.completions.create({ model: 'kjv', prompt: 'And', max_tokens: 1 });
  assert.deepEqual(await loaded(s.url), ['kjv']);
  await c.completions.create({ model: 'other', prompt: 'And', max_tokens: 1 });
  assert.deepEqual(await loaded(s.url), ['other'], 'the idle kjv runner made room');
  // while 'other' streams, a load of kjv must not unload it: refused instead
  const ac = new AbortController();
  const stream = await c.completions.create({ model: 'other', prompt: 'And it came to pass', max_tokens: 4000, temperature: 0.8, seed: 2, stream: true }, { signal: ac.signal });
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  await assert.rejects(c.completions.create({ model: 'kjv', prompt: 'And', max_tokens: 1 }), (e) => e.status === 503 && /needs/.test(e.message));
  assert.deepEqual(await loaded(s.url), ['other']);
  ac.abort();
  try { await it.return?.(); } catch { /* aborted */ }
});
