// tool_stream_latency.mjs - when a streamed tool call reaches the client: the
// time from the request to the first tool_calls delta (the name), to the first
// argument fragment and to the finish, and the number of argument deltas, for
// a forced call (tool_choice named) on /v1/chat/completions, greedy.
//   node bench/tool_stream_latency.mjs URL MODEL [N]
const [url, model, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 10);
const weather = { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['c', 'f'] } },
  required: ['city', 'unit'], additionalProperties: false };
const body = JSON.stringify({ model, stream: true, max_tokens: 80, temperature: 0,
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
  tool_choice: { type: 'function', function: { name: 'get_weather' } } });

async function once() {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const dec = new TextDecoder();
  let buf = '', name = null, frag = null, done = null, n = 0;
  for await (const part of r.body) {
    buf += dec.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i).replace(/^data: /, '');
      buf = buf.slice(i + 2);
      if (ev === '[DONE]') continue;
      const ch = JSON.parse(ev).choices?.[0];
      for (const d of ch?.delta?.tool_calls ?? []) {
        if (d.function?.name && name === null) name = performance.now() - t0;
        if (d.function?.arguments) { n++; if (frag === null) frag = performance.now() - t0; }
      }
      if (ch?.finish_reason) done = performance.now() - t0;
    }
  }
  return { name, frag, done, n };
}

const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
await once(); // warm: the model loads
const runs = [];
for (let i = 0; i < N; i++) runs.push(await once());
const f = (k) => med(runs.map((r) => r[k])).toFixed(1);
console.log(`N=${N} median ms: first tool delta (name) ${f('name')}, first argument fragment ${f('frag')}, finish ${f('done')}; argument deltas ${f('n')}`);
