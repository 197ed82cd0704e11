// openai.test.mjs - the official `openai` client against a live xllm serve:
// models, chat and completions (stream and not), usage with cached tokens,
// stop strings, seeds, logprobs, n > 1, max tokens, echo (embeddings: embed.test.mjs),
// the Responses API, and the client's own error classes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, MODEL } from './harness.mjs';

let srv, client;
const LONG = 'And God said, Let there be light: and there was light. And God saw the light, that it was good: and God divided the light from the darkness.';

after(() => srv?.stop('SIGKILL'));
before(async () => {
  srv = await startServer();
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});

test('models list and retrieve', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), [MODEL]);
  assert.equal(list.data[0].object, 'model');
  const m = await client.models.retrieve(MODEL);
  assert.equal(m.id, MODEL);
  await assert.rejects(client.models.retrieve('nope'), OpenAI.NotFoundError);
});

test('chat completion: shape, usage, cached tokens on a repeat', async () => {
  const req = { model: MODEL, messages: [{ role: 'user', content: LONG }], max_tokens: 8, temperature: 0 };
  const a = await client.chat.completions.create(req);
  assert.equal(a.object, 'chat.completion');
  assert.match(a.id, /^chatcmpl-/);
  assert.equal(a.choices.length, 1);
  assert.equal(a.choices[0].message.role, 'assistant');
  assert.equal(typeof a.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(a.choices[0].finish_reason));
  assert.ok(a.usage.prompt_tokens > 16);
  assert.ok(a.usage.completion_tokens >= 1 && a.usage.completion_tokens <= 8);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
  assert.equal(typeof a.usage.prompt_tokens_details.cached_tokens, 'number');
  const b = await client.chat.completions.create(req);
  assert.equal(b.choices[0].message.content, a.choices[0].message.content, 'greedy is deterministic');
  assert.ok(b.usage.prompt_tokens_details.cached_tokens >= 16, `cached ${b.usage.prompt_tokens_details.cached_tokens}`);
});

test('chat stream with include_usage equals the non-stream answer', async () => {
  const req = { model: MODEL, messages: [{ role: 'user', content: 'In the beginning' }], max_tokens: 12, temperature: 0 };
  const whole = await client.chat.completions.create(req);
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null, finish = null, chunks = 0;
  for await (const c of stream) {
    chunks++;
    assert.equal(c.object, 'chat.completion.chunk');
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text += ch.delta.content ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.ok(chunks >= 2);
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  assert.ok('cached_tokens' in usage.prompt_tokens_details);
});

test('max_tokens, max_completion_tokens and length finish', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'And' }], max_completion_tokens: 3, temperature: 0 });
  assert.ok(r.usage.completion_tokens <= 3);
  const c = await client.completions.create({ model: MODEL, prompt: 'And the earth was', max_tokens: 5, temperature: 0 });
  assert.equal(c.object, 'text_completion');
  assert.equal(c.usage.completion_tokens, 5);
  assert.equal(c.choices[0].finish_reason, 'length');
});

test('stop strings cut the text and finish with stop', async () => {
  const base = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 24, temperature: 0 });
  const text = base.choices[0].text;
  const words = text.trim().split(/\s+/);
  assert.ok(words.length >= 3, text);
  const stop = ' ' + words[2];
  const r = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
});

test('seed: same seed same text, n > 1 gives n choices', async () => {
  const req = { model: MODEL, prompt: 'And the LORD', max_tokens: 10, temperature: 1, seed: 1234 };
  const a = await client.completions.create(req);
  const b = await client.completions.create(req);
  assert.equal(a.choices[0].text, b.choices[0].text);
  const n = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'And' }], max_tokens: 6, n: 3, temperature: 1, seed: 7 });
  assert.deepEqual(n.choices.map((c) => c.index), [0, 1, 2]);
  assert.ok(n.usage.completion_tokens >= 3);
});

test('logprobs: chat top_logprobs and completions echo with prompt logprobs', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'And' }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  for (const t of lp) {
    assert.equal(typeof t.token, 'string');
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(Math.abs(t.top_logprobs[0].logprob - t.logprob) < 1e-4, 'greedy picks the top token');
  }
  const c = await client.completions.create({ model: MODEL, prompt: 'And God said', max_tokens: 3, temperature: 0, echo: true, logprobs: 2 });
  const l = c.choices[0].logprobs;
  assert.ok(c.choices[0].text.startsWith('And God said'));
  assert.equal(l.tokens.length, l.token_logprobs.length);
  assert.ok(l.tokens.length > 3, 'prompt tokens are included');
  assert.equal(l.token_logprobs[0], null, 'first prompt token has no logprob');
});

test('completions stream', async () => {
  const s = await client.completions.create({ model: MODEL, prompt: 'In the beginning', max_tokens: 6, temperature: 0, stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.text ?? '';
  const w = await client.completions.create({ model: MODEL, prompt: 'In the beginning', max_tokens: 6, temperature: 0 });
  assert.equal(text, w.choices[0].text);
});

test('errors raise the client error classes', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'missing', messages: [{ role: 'user', content: 'x' }] }), (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 3 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [] }), (e) => e instanceof OpenAI.BadRequestError && /messages/.test(e.message));
  await assert.rejects(client.completions.create({ model: MODEL, prompt: '   ' }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'prompt');
  await assert.rejects(client.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'model');
  await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'xml' } }), OpenAI.BadRequestError);
});

test('responses API: text, stream events and previous_response_id', async () => {
  const r1 = await client.responses.create({ model: MODEL, input: 'And God said', max_output_tokens: 6, temperature: 0 });
  assert.equal(r1.object, 'response');
  assert.match(r1.id, /^resp_/);
  assert.ok(['completed', 'incomplete'].includes(r1.status));
  assert.equal(typeof r1.output_text, 'string');
  assert.ok(r1.usage.output_tokens >= 1);
  const r2 = await client.responses.create({ model: MODEL, input: 'And', previous_response_id: r1.id, max_output_tokens: 4, temperature: 0 });
  assert.ok(r2.usage.input_tokens > r1.usage.input_tokens, 'the earlier turn is part of the prompt');
  const s = await client.responses.create({ model: MODEL, input: 'And God said', max_output_tokens: 6, temperature: 0, stream: true });
  const types = [];
  let text = '';
  for await (const ev of s) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  assert.equal(types[0], 'response.created');
  assert.ok(types.includes('response.output_text.done'));
  assert.ok(['response.completed', 'response.incomplete'].includes(types.at(-1)));
  assert.equal(text, r1.output_text);
  await assert.rejects(client.responses.create({ model: MODEL, input: 'x', previous_response_id: 'resp_nope' }), OpenAI.NotFoundError);
});
