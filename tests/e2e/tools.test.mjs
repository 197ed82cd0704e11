// tools.test.mjs - tool calling through the official clients: OpenAI tools
// with tool_choice required / a named function (always a valid call, even
// from the tiny demo model), streamed tool_calls deltas, auto, multi-turn
// history with tool results; Ollama /api/chat tools. Arguments are checked
// against the tool's parameter schema with Python's jsonschema.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startServer, MODEL, validateCalls, postJson } from './harness.mjs';

const srv = await startServer();
after(() => srv.stop());
const openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: srv.url });

const weather = { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'unit'], additionalProperties: false };
const clock = { type: 'object', properties: { zone: { type: 'string', maxLength: 8 } }, required: ['zone'] };
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: weather } },
  { type: 'function', function: { name: 'get_time', description: 'Time in a zone', parameters: clock } },
];
const schemaOf = { get_weather: weather, get_time: clock };

const validate = (calls) => validateCalls(calls, schemaOf);

const ask = [{ role: 'user', content: 'What is the weather in Paris?' }];

test('tool_choice required and named give valid calls', async () => {
  const calls = [];
  for (let seed = 0; seed < 4; seed++) {
    const r = await openai.chat.completions.create({ model: MODEL, messages: ask, tools, tool_choice: 'required',
      temperature: 1, seed, max_tokens: 80 });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.ok(c.message.tool_calls.length >= 1);
    for (const tc of c.message.tool_calls) {
      assert.match(tc.id, /^call_/);
      assert.equal(tc.type, 'function');
      assert.ok(tc.function.name in schemaOf);
      calls.push({ name: tc.function.name, arguments: tc.function.arguments });
    }
  }
  const named = await openai.chat.completions.create({ model: MODEL, messages: ask, tools, max_tokens: 80,
    tool_choice: { type: 'function', function: { name: 'get_time' } } });
  assert.equal(named.choices[0].message.tool_calls[0].function.name, 'get_time');
  calls.push({ name: 'get_time', arguments: named.choices[0].message.tool_calls[0].function.arguments });
  validate(calls);
});

test('streamed tool_calls: the name first, then several argument fragments that join into a valid call', async () => {
  const stream = await openai.chat.completions.create({ model: MODEL, messages: ask, tools, max_tokens: 80,
    tool_choice: { type: 'function', function: { name: 'get_weather' } }, stream: true });
  const acc = {};
  let finish = null, fragments = 0, first = null;
  for await (const chunk of stream) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    for (const d of ch.delta.tool_calls ?? []) {
      if (!acc[d.index]) { first = d; acc[d.index] = { name: '', arguments: '' }; } else assert.equal(d.id, undefined);
      if (d.function?.name) acc[d.index].name += d.function.name;
      if (d.function?.arguments) { acc[d.index].arguments += d.function.arguments; fragments++; }
    }
    finish = ch.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  // the first delta of a call: index, id, type, name and empty arguments, as OpenAI sends it
  assert.match(first.id, /^call_/);
  assert.equal(first.type, 'function');
  assert.equal(first.function.name, 'get_weather');
  assert.equal(first.function.arguments, '');
  assert.ok(fragments >= 3, `arguments came in ${fragments} fragments`);
  assert.equal(acc[0].name, 'get_weather');
  validate([acc[0]]);
  // the same call through the client's stream helper
  const final = await openai.chat.completions.stream({ model: MODEL, messages: ask, tools, max_tokens: 80,
    tool_choice: 'required' }).finalChatCompletion();
  const tc = final.choices[0].message.tool_calls[0];
  validate([{ name: tc.function.name, arguments: tc.function.arguments }]);
});

test('auto, streamed: the same content and calls as the whole answer (same seed)', async () => {
  for (let seed = 0; seed < 3; seed++) {
    const req = { model: MODEL, messages: ask, tools, max_tokens: 60, temperature: 1, seed };
    const whole = (await openai.chat.completions.create(req)).choices[0];
    let content = '', finish = null;
    const calls = [];
    for await (const chunk of await openai.chat.completions.create({ ...req, stream: true })) {
      const ch = chunk.choices[0];
      if (!ch) continue;
      content += ch.delta.content ?? '';
      for (const d of ch.delta.tool_calls ?? []) {
        calls[d.index] ??= { name: '', arguments: '' };
        calls[d.index].name += d.function?.name ?? '';
        calls[d.index].arguments += d.function?.arguments ?? '';
      }
      finish = ch.finish_reason ?? finish;
    }
    assert.equal(finish, whole.finish_reason);
    assert.equal(content, whole.message.content ?? '');
    const want = (whole.message.tool_calls ?? []).map((t) => ({ name: t.function.name, arguments: JSON.parse(t.function.arguments) }));
    assert.deepEqual(calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) })), want);
  }
});

test('unknown or invalid tool fields are a 400 naming the field', async () => {
  const bad = [{ type: 'function', function: { name: 'get_weather', paramters: weather } }];
  const r = await postJson(`${srv.url}/v1/chat/completions`, { model: MODEL, messages: ask, tools: bad, max_tokens: 4 });
  assert.equal(r.status, 400);
  const e = (await r.json()).error;
  assert.equal(e.param, 'tools[0].function.paramters');
  assert.match(e.message, /paramters/);
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: ask, max_tokens: 4,
    tools: [{ type: 'function', function: { name: 'has space' } }] }), (e) => e instanceof OpenAI.BadRequestError && /name/.test(e.message));
});

test('auto and none; tool results in the history; bad tool_choice is a 400', async () => {
  const auto = await openai.chat.completions.create({ model: MODEL, messages: ask, tools, max_tokens: 60 });
  const c = auto.choices[0];
  assert.ok(['stop', 'length', 'tool_calls'].includes(c.finish_reason));
  if (c.finish_reason === 'tool_calls') validate(c.message.tool_calls.map((t) => ({ name: t.function.name, arguments: t.function.arguments })));
  const none = await openai.chat.completions.create({ model: MODEL, messages: ask, tools, tool_choice: 'none', max_tokens: 8 });
  assert.equal(none.choices[0].message.tool_calls, undefined);
  const history = [...ask,
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '18 degrees' }];
  const next = await openai.chat.completions.create({ model: MODEL, messages: history, tools, max_tokens: 8 });
  assert.ok(next.choices[0].message);
  await assert.rejects(openai.chat.completions.create({ model: MODEL, messages: ask, tools, max_tokens: 8,
    tool_choice: { type: 'function', function: { name: 'nope' } } }), (e) => e instanceof OpenAI.BadRequestError && /nope/.test(e.message));
});

test('Ollama chat with tools answers with a valid call or text; streamed equals whole', async () => {
  const got = [];
  for (const stream of [false, true]) {
    let msg = { content: '', tool_calls: [] };
    const opts = { model: MODEL, messages: ask, tools, options: { num_predict: 80, seed: 3 } };
    if (stream) {
      for await (const part of await ollama.chat({ ...opts, stream: true })) {
        msg.content += part.message.content ?? '';
        msg.tool_calls.push(...(part.message.tool_calls ?? []));
      }
    } else {
      msg = (await ollama.chat(opts)).message;
    }
    const calls = msg.tool_calls ?? [];
    assert.ok(calls.length > 0 || msg.content.length > 0);
    for (const tc of calls) assert.equal(typeof tc.function.arguments, 'object');
    validate(calls.map((tc) => ({ name: tc.function.name, arguments: JSON.stringify(tc.function.arguments) })));
    got.push({ content: msg.content, calls: calls.map((tc) => tc.function) });
  }
  assert.deepEqual(got[1], got[0]);
});
