// ollama.test.mjs - the official `ollama` client against a live xllm serve:
// generate and chat (NDJSON stream and not) with the final statistics,
// context continuation, options, tags, show, ps, version, errors (embed:
// embed.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { startServer, MODEL, get } from './harness.mjs';

let srv, ollama;
const T = { timeout: 60000 };

after(() => srv?.stop('SIGKILL'));
before(async () => {
  srv = await startServer();
  ollama = new Ollama({ host: srv.url });
});

function checkStats(r) {
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason));
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'])
    assert.equal(typeof r[k], 'number', k);
  assert.ok(r.total_duration > 0 && r.eval_duration > 0);
  assert.ok(r.total_duration >= r.eval_duration, 'durations are nanoseconds of one request');
  assert.ok(r.eval_count >= 1);
}

test('version, root, tags', T, async () => {
  const v = await ollama.version();
  assert.equal(typeof v.version, 'string');
  assert.equal(await (await get(srv.url + '/')).text(), 'Ollama is running');
  const t = await ollama.list();
  assert.equal(t.models.length, 1);
  assert.equal(t.models[0].name, MODEL);
  assert.equal(t.models[0].details.format, 'gguf');
  assert.equal(t.models[0].details.family, 'llama');
  assert.ok(t.models[0].size > 1e6);
});

test('generate non-stream: statistics in ns, context continues', T, async () => {
  const r = await ollama.generate({ model: MODEL, prompt: 'In the beginning', stream: false, options: { temperature: 0, num_predict: 6 } });
  assert.equal(typeof r.response, 'string');
  checkStats(r);
  assert.equal(r.eval_count, 6);
  assert.equal(r.done_reason, 'length');
  assert.ok(Array.isArray(r.context) && r.context.length > r.eval_count);
  const r2 = await ollama.generate({ model: MODEL, prompt: 'And', context: r.context, stream: false, options: { temperature: 0, num_predict: 3 } });
  checkStats(r2);
  assert.ok(r2.context.length > r.context.length);
});

test('generate stream equals non-stream (raw prompt, seed)', T, async () => {
  const opts = { temperature: 0, num_predict: 8 };
  const whole = await ollama.generate({ model: MODEL, prompt: 'And God said', raw: true, stream: false, options: opts });
  let text = '', last = null;
  for await (const part of await ollama.generate({ model: MODEL, prompt: 'And God said', raw: true, stream: true, options: opts })) {
    text += part.response;
    last = part;
  }
  assert.equal(text, whole.response);
  checkStats(last);
  const s1 = await ollama.generate({ model: MODEL, prompt: 'And', raw: true, stream: false, options: { seed: 5, temperature: 1, num_predict: 8 } });
  const s2 = await ollama.generate({ model: MODEL, prompt: 'And', raw: true, stream: false, options: { seed: 5, temperature: 1, num_predict: 8 } });
  assert.equal(s1.response, s2.response);
});

test('chat stream and non-stream, system, stop option', T, async () => {
  const messages = [{ role: 'system', content: 'Speak as the KJV.' }, { role: 'user', content: 'And God said' }];
  const r = await ollama.chat({ model: MODEL, messages, stream: false, options: { temperature: 0, num_predict: 10 } });
  assert.equal(r.message.role, 'assistant');
  checkStats(r);
  let text = '';
  for await (const part of await ollama.chat({ model: MODEL, messages, stream: true, options: { temperature: 0, num_predict: 10 } })) text += part.message.content;
  assert.equal(text, r.message.content);
  const words = r.message.content.trim().split(/\s+/);
  if (words.length >= 2) {
    const cut = await ollama.chat({ model: MODEL, messages, stream: false, options: { temperature: 0, num_predict: 10, stop: [words[1]] } });
    assert.ok(!cut.message.content.includes(words[1]));
  }
});

test('show, ps, keep_alive 0 unloads', T, async () => {
  const s = await ollama.show({ model: MODEL });
  assert.match(s.template, /assistant/);
  assert.equal(s.details.family, 'llama');
  assert.equal(s.model_info['general.architecture'], 'llama');
  await ollama.generate({ model: MODEL, prompt: 'And', stream: false, options: { num_predict: 1 } });
  const ps = await ollama.ps();
  assert.equal(ps.models.length, 1);
  assert.equal(ps.models[0].name, MODEL);
  assert.ok(ps.models[0].size > 0);
  assert.ok(Date.parse(ps.models[0].expires_at) > Date.now());
  const u = await ollama.generate({ model: MODEL, prompt: '', keep_alive: 0 });
  assert.equal(u.done_reason, 'unload');
  const ps2 = await ollama.ps();
  assert.equal(ps2.models.length, 0);
  const l = await ollama.generate({ model: MODEL, prompt: '' });
  assert.equal(l.done_reason, 'load');
  assert.equal((await ollama.ps()).models.length, 1);
});

test('errors: unknown model 404, a bad format and images refused with the field named', T, async () => {
  await assert.rejects(ollama.generate({ model: 'nope', prompt: 'x', stream: false }), (e) => e.name === 'ResponseError' && e.status_code === 404);
  await assert.rejects(ollama.generate({ model: MODEL, prompt: 'x', stream: false, format: 'yaml' }), (e) => e.status_code === 400 && /format/.test(e.error));
  await assert.rejects(ollama.generate({ model: MODEL, prompt: 'x', stream: false, images: ['aGk='] }), (e) => e.status_code === 400 && /images/.test(e.error));
  await assert.rejects(ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: false, options: { temperature: 9 } }), (e) => e.status_code === 400 && /temperature/.test(e.error));
});
