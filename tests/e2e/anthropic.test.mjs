// anthropic.test.mjs - the official `@anthropic-ai/sdk` client against a live
// xllm serve: messages (system, multi-turn, stop_sequences), the event stream,
// count_tokens and the client's error classes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer, MODEL } from './harness.mjs';

let srv, client;
after(() => srv?.stop('SIGKILL'));
before(async () => {
  srv = await startServer();
  client = new Anthropic({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});

const messages = [
  { role: 'user', content: 'In the beginning' },
  { role: 'assistant', content: 'God created the heaven and the earth.' },
  { role: 'user', content: 'And God said' },
];

test('messages: shape, usage, stop reasons', async () => {
  const m = await client.messages.create({ model: MODEL, max_tokens: 8, temperature: 0, system: 'Answer in KJV English.', messages });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.equal(m.content[0].type, 'text');
  assert.ok(['end_turn', 'max_tokens'].includes(m.stop_reason));
  assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens >= 1);
  const words = m.content[0].text.trim().split(/\s+/);
  if (words.length >= 2) {
    const s = await client.messages.create({ model: MODEL, max_tokens: 8, temperature: 0, system: 'Answer in KJV English.', messages, stop_sequences: [words[1]] });
    assert.equal(s.stop_reason, 'stop_sequence');
    assert.equal(s.stop_sequence, words[1]);
  }
});

test('stream: event order and the same text', async () => {
  const req = { model: MODEL, max_tokens: 8, temperature: 0, messages };
  const whole = await client.messages.create(req);
  const stream = await client.messages.create({ ...req, stream: true });
  const types = [];
  let text = '';
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'content_block_delta') text += ev.delta.text;
  }
  assert.equal(types[0], 'message_start');
  assert.equal(types[1], 'content_block_start');
  assert.ok(types.includes('content_block_stop'));
  assert.equal(types.at(-2), 'message_delta');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(text, whole.content[0].text);
  const final = await client.messages.stream(req).finalMessage();
  assert.equal(final.content[0].text, whole.content[0].text);
  assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
});

test('count_tokens matches the prompt', async () => {
  const c = await client.messages.countTokens({ model: MODEL, messages });
  const m = await client.messages.create({ model: MODEL, max_tokens: 1, temperature: 0, messages });
  assert.equal(c.input_tokens, m.usage.input_tokens + m.usage.cache_read_input_tokens);
});

test('errors raise the client error classes', async () => {
  await assert.rejects(client.messages.create({ model: 'nope', max_tokens: 4, messages }), Anthropic.NotFoundError);
  await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 4, temperature: 1.5, messages }), Anthropic.BadRequestError);
  await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 4, messages: [] }), Anthropic.BadRequestError);
});
