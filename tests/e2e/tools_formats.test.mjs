// tools_formats.test.mjs - the call formats of real templates through the
// server: the demo model re-created with Ollama Go templates that speak
// Hermes/Qwen <tool_call>, Mistral [TOOL_CALLS] and Llama 3.1 JSON calls, and
// a forced call streamed on OpenAI chat (and, for Hermes, on Anthropic and the
// Responses API: the parser is the same for every API, so once is enough). The
// grammar makes the demo model write the format; the parser must get the
// calls back, valid against the tool's schema (Python's jsonschema).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startServer, MODEL_PATH, validateCalls, postJson } from './harness.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
// the tool prompts of these templates outgrow the demo model's 256 positions
const srv = await startServer({ args: ['--ctx', '1024'] });
after(() => srv.stop());
const anthropic = new Anthropic({ baseURL: srv.url, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const openai = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: 'unused', maxRetries: 0 });

const weather = { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'unit'], additionalProperties: false };
const validate = (args) => validateCalls([{ name: 'get_weather', arguments: args }], { get_weather: weather });
const ask = [{ role: 'user', content: 'What is the weather in Paris?' }];
const formats = { hermes: 'qwen-tools-legacy', mistral: 'mistral-v0.3-tools', llama3: 'llama3.1-instruct-tools' };

before(async () => {
  for (const [name, tmpl] of Object.entries(formats)) {
    const template = readFileSync(path.join(root, 'tests/fixtures/gotemplates/templates', `${tmpl}.gotmpl`), 'utf8');
    const r = await postJson(`${srv.url}/api/create`, { model: name, from: MODEL_PATH, template, stream: false });
    assert.equal(r.status, 200, await r.text());
  }
});

for (const model of Object.keys(formats)) {
  test(`${model} format: the streamed chat call${model === 'hermes' ? ', Anthropic and Responses' : ''}`, async () => {
    // OpenAI chat, streamed: the name first, then argument fragments
    let args = '', name = '', n = 0, finish = null;
    // one call: with parallel calls allowed the tiny model may go on writing calls
    const stream = await openai.chat.completions.create({ model, messages: ask, max_tokens: 120, stream: true,
      parallel_tool_calls: false,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    for await (const chunk of stream) {
      const ch = chunk.choices[0];
      if (!ch) continue;
      assert.equal(ch.delta.content ?? '', '', 'a forced call has no content');
      for (const d of ch.delta.tool_calls ?? []) {
        name += d.function?.name ?? '';
        if (d.function?.arguments) { args += d.function.arguments; n++; }
      }
      finish = ch.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(name, 'get_weather');
    assert.ok(n >= 3, `${n} fragments`);
    validate(args);
    if (model !== 'hermes') return;
    // Anthropic, streamed through the SDK's helper
    const m = await anthropic.messages.stream({ model, max_tokens: 120, messages: ask,
      tools: [{ name: 'get_weather', input_schema: weather }], tool_choice: { type: 'any', disable_parallel_tool_use: true } }).finalMessage();
    assert.equal(m.stop_reason, 'tool_use');
    const tu = m.content.find((b) => b.type === 'tool_use');
    validate(JSON.stringify(tu.input));
    // the Responses API, whole
    const r = await openai.responses.create({ model, input: ask, max_output_tokens: 120, tool_choice: 'required',
      parallel_tool_calls: false,
      tools: [{ type: 'function', name: 'get_weather', parameters: weather }] });
    const fc = r.output.find((o) => o.type === 'function_call');
    assert.equal(fc.name, 'get_weather');
    validate(fc.arguments);
  });
}
