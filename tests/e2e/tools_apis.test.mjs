// tools_apis.test.mjs - tool calling on the Anthropic Messages API
// (@anthropic-ai/sdk: tool_choice any / tool, the stream helper's
// finalMessage(), tool_result history) and the OpenAI Responses API (openai:
// function tools non-streamed and streamed, function_call / function_call_output
// input items, previous_response_id). Inputs and arguments are checked against
// the tool's schema with Python's jsonschema.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startServer, MODEL, validateCalls, postJson } from './harness.mjs';

const srv = await startServer();
after(() => srv.stop());
const anthropic = new Anthropic({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });

const weather = { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'unit'], additionalProperties: false };
const clock = { type: 'object', properties: { zone: { type: 'string', maxLength: 8 } }, required: ['zone'] };
const schemaOf = { get_weather: weather, get_time: clock };
const antTools = [
  { name: 'get_weather', description: 'Weather of a city', input_schema: weather },
  { name: 'get_time', description: 'Time in a zone', input_schema: clock },
];
const rspTools = [
  { type: 'function', name: 'get_weather', description: 'Weather of a city', parameters: weather, strict: true },
  { type: 'function', name: 'get_time', description: 'Time in a zone', parameters: clock, strict: true },
];
const ask = [{ role: 'user', content: 'What is the weather in Paris?' }];
const validate = (calls) => validateCalls(calls, schemaOf);

test('anthropic: tool_choice any and tool give tool_use blocks with valid input', async () => {
  const uses = [];
  for (const temperature of [0, 1]) {
    const m = await anthropic.messages.create({ model: MODEL, max_tokens: 80, temperature, messages: ask, tools: antTools,
      tool_choice: { type: 'any' } });
    assert.equal(m.stop_reason, 'tool_use');
    const blocks = m.content.filter((b) => b.type === 'tool_use');
    assert.ok(blocks.length >= 1);
    for (const b of blocks) {
      assert.match(b.id, /^toolu_/);
      assert.ok(b.name in schemaOf);
      assert.equal(typeof b.input, 'object');
      uses.push({ name: b.name, arguments: JSON.stringify(b.input) });
    }
  }
  const named = await anthropic.messages.create({ model: MODEL, max_tokens: 80, messages: ask, tools: antTools,
    tool_choice: { type: 'tool', name: 'get_time', disable_parallel_tool_use: true } });
  const tu = named.content.filter((b) => b.type === 'tool_use');
  assert.equal(tu.length, 1);
  assert.equal(tu[0].name, 'get_time');
  uses.push({ name: 'get_time', arguments: JSON.stringify(tu[0].input) });
  validate(uses);
  const none = await anthropic.messages.create({ model: MODEL, max_tokens: 6, messages: ask, tools: antTools,
    tool_choice: { type: 'none' } });
  assert.ok(none.content.every((b) => b.type === 'text'));
  assert.notEqual(none.stop_reason, 'tool_use');
});

test('anthropic: messages.stream with tools: input_json_delta fragments, finalMessage() assembles the input', async () => {
  const req = { model: MODEL, max_tokens: 80, temperature: 0, messages: ask, tools: antTools,
    tool_choice: { type: 'tool', name: 'get_weather' } };
  const stream = anthropic.messages.stream(req);
  const events = [];
  let partial = '';
  stream.on('streamEvent', (ev) => {
    events.push(ev.type);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'input_json_delta') partial += ev.delta.partial_json;
  });
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  const tu = final.content.find((b) => b.type === 'tool_use');
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, JSON.parse(partial));
  assert.ok(events.filter((t) => t === 'content_block_delta').length >= 3);
  assert.equal(events[0], 'message_start');
  assert.ok(events.indexOf('content_block_start') < events.indexOf('content_block_delta'));
  assert.ok(events.lastIndexOf('content_block_stop') < events.indexOf('message_delta'));
  assert.equal(events.at(-1), 'message_stop');
  validate([{ name: 'get_weather', arguments: JSON.stringify(tu.input) }]);
  // the same request unstreamed: the same call (temperature 0)
  const whole = await anthropic.messages.create(req);
  assert.deepEqual(whole.content.find((b) => b.type === 'tool_use').input, tu.input);
});

test('anthropic and responses, tool_choice auto: the streamed answer equals the whole one', async () => {
  const req = { model: MODEL, max_tokens: 40, temperature: 0, messages: ask, tools: antTools };
  const whole = await anthropic.messages.create(req);
  const streamed = await anthropic.messages.stream(req).finalMessage();
  assert.deepEqual(streamed.content.map(({ id, ...b }) => b), whole.content.map(({ id, ...b }) => b));
  assert.equal(streamed.stop_reason, whole.stop_reason);
  const rreq = { model: MODEL, input: ask, tools: rspTools, max_output_tokens: 40, temperature: 0 };
  const rwhole = await openai.responses.create(rreq);
  const rstream = await openai.responses.stream(rreq).finalResponse();
  const shape = (r) => r.output.map((o) => o.type === 'message' ? o.content.map((c) => c.text).join('') : [o.name, o.arguments]);
  assert.deepEqual(shape(rstream), shape(rwhole));
  assert.ok(shape(rwhole).length >= 1);
});

test('anthropic: a history with tool_use and tool_result (string, blocks, is_error) is rendered', async () => {
  const history = (result) => [...ask,
    { role: 'assistant', content: [{ type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', unit: 'c' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: result }] }];
  const short = await anthropic.messages.countTokens({ model: MODEL, tools: antTools, messages: history('18') });
  const long = await anthropic.messages.countTokens({ model: MODEL, tools: antTools,
    messages: history([{ type: 'text', text: '18 degrees, light rain from the west and rising' }]) });
  assert.ok(long.input_tokens > short.input_tokens + 5, `${long.input_tokens} vs ${short.input_tokens}`);
  const m = await anthropic.messages.create({ model: MODEL, max_tokens: 8, tools: antTools, messages: [...history('18').slice(0, 2),
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'service down', is_error: true }] }] });
  assert.equal(m.type, 'message');
  await assert.rejects(anthropic.messages.create({ model: MODEL, max_tokens: 8, messages: [...ask,
    { role: 'assistant', content: [{ type: 'tool_use', name: 'get_weather', input: {} }] }] }),
  (e) => e instanceof Anthropic.BadRequestError && /tool_use/.test(e.message));
});

test('anthropic: unknown tool fields and bad tool_choice are 400s naming the field', async () => {
  const r = await postJson(`${srv.url}/v1/messages`, { model: MODEL, max_tokens: 8, messages: ask,
    tools: [{ name: 'get_weather', input_schema: weather, inputschema: {} }] });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /tools\[0\]\.inputschema/);
  await assert.rejects(anthropic.messages.create({ model: MODEL, max_tokens: 8, messages: ask, tools: antTools,
    tool_choice: { type: 'tool', name: 'nope' } }), (e) => e instanceof Anthropic.BadRequestError && /nope/.test(e.message));
  await assert.rejects(anthropic.messages.create({ model: MODEL, max_tokens: 8, messages: ask,
    tools: [{ type: 'web_search_20250305', name: 'web_search' }] }), Anthropic.BadRequestError);
});

test('responses: function tools, not streamed: a function_call output item with valid arguments', async () => {
  const calls = [];
  for (const tool_choice of ['required', { type: 'function', name: 'get_time' }]) {
    const r = await openai.responses.create({ model: MODEL, input: 'What is the weather in Paris?', tools: rspTools,
      tool_choice, max_output_tokens: 80 });
    assert.equal(r.status, 'completed');
    const fc = r.output.filter((o) => o.type === 'function_call');
    assert.ok(fc.length >= 1);
    for (const c of fc) {
      assert.match(c.id, /^fc_/);
      assert.match(c.call_id, /^call_/);
      assert.equal(c.status, 'completed');
      assert.equal(typeof c.arguments, 'string');
      calls.push({ name: c.name, arguments: c.arguments });
    }
    if (typeof tool_choice === 'object') assert.equal(fc[0].name, 'get_time');
    assert.deepEqual(r.tools.map((t) => t.name), ['get_weather', 'get_time']);
  }
  validate(calls);
});

test('responses: streamed function call events, finalResponse() has the call', async () => {
  const stream = openai.responses.stream({ model: MODEL, input: ask, tools: rspTools, max_output_tokens: 80,
    tool_choice: { type: 'function', name: 'get_weather' } });
  const types = [];
  let deltas = '', done = null, added = null;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.output_item.added') added = structuredClone(ev.item); // the helper grows its snapshot in place
    if (ev.type === 'response.function_call_arguments.delta') deltas += ev.delta;
    if (ev.type === 'response.function_call_arguments.done') done = ev.arguments;
  }
  const final = await stream.finalResponse();
  assert.equal(added.type, 'function_call');
  assert.equal(added.name, 'get_weather');
  assert.equal(added.arguments, '');
  assert.ok(types.filter((t) => t === 'response.function_call_arguments.delta').length >= 3);
  assert.equal(done, deltas);
  assert.ok(types.indexOf('response.function_call_arguments.done') < types.indexOf('response.output_item.done'));
  assert.equal(types.at(-1), 'response.completed');
  const fc = final.output.find((o) => o.type === 'function_call');
  assert.equal(fc.arguments, deltas);
  validate([{ name: 'get_weather', arguments: fc.arguments }]);
});

test('responses: function_call and function_call_output input items, previous_response_id after a call', async () => {
  const items = (out) => [{ role: 'user', content: 'What is the weather in Paris?' },
    { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' },
    { type: 'function_call_output', call_id: 'call_1', output: out }];
  const a = await openai.responses.create({ model: MODEL, input: items('18'), tools: rspTools, max_output_tokens: 4 });
  const b = await openai.responses.create({ model: MODEL, input: items('18 degrees, light rain from the west and rising'),
    tools: rspTools, max_output_tokens: 4 });
  assert.ok(b.usage.input_tokens > a.usage.input_tokens + 5, `${b.usage.input_tokens} vs ${a.usage.input_tokens}`);
  const first = await openai.responses.create({ model: MODEL, input: 'Weather in Paris?', tools: rspTools,
    tool_choice: 'required', max_output_tokens: 80 });
  const call = first.output.find((o) => o.type === 'function_call');
  const next = await openai.responses.create({ model: MODEL, previous_response_id: first.id, tools: rspTools,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '18 degrees' }], max_output_tokens: 4 });
  assert.equal(next.previous_response_id, first.id);
  assert.ok(next.usage.input_tokens > first.usage.input_tokens);
});

test('responses: unknown tool types and fields are 400s naming the field', async () => {
  await assert.rejects(openai.responses.create({ model: MODEL, input: 'hi', tools: [{ type: 'web_search' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /tools\[0\]/.test(e.message));
  const r = await postJson(`${srv.url}/v1/responses`, { model: MODEL, input: 'hi',
    tools: [{ type: 'function', name: 'f', parameters: {}, strictt: true }] });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.param, 'tools[0].strictt');
  await assert.rejects(openai.responses.create({ model: MODEL, input: [{ type: 'function_call', name: 'f' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /input\[0\]/.test(e.message));
});
