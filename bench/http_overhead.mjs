// http_overhead.mjs - per-request cost of xllm serve (or any server): N
// sequential requests over one keep-alive connection, mean / p50 / p99 in ms.
//   node bench/http_overhead.mjs URL MODEL [N]
// Measures GET /v1/models and a 1-token /v1/completions (prompt "And", greedy).
import http from 'node:http';

const [url, model, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 2000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function req(method, path, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const r = http.request(u, { method, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    r.on('error', reject);
    r.end(body);
  });
}

async function run(name, n, fn) {
  for (let i = 0; i < Math.min(50, n); i++) await fn();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  const mean = t.reduce((a, b) => a + b, 0) / n;
  console.log(`${name.padEnd(28)} n=${n}  mean ${mean.toFixed(3)} ms  p50 ${t[n >> 1].toFixed(3)} ms  p99 ${t[Math.floor(n * 0.99)].toFixed(3)} ms`);
}

const one = JSON.stringify({ model, prompt: 'And', max_tokens: 1, temperature: 0 });
await run('GET /v1/models', N, () => req('GET', '/v1/models'));
await run('POST /v1/completions (1 tok)', Math.max(50, N / 10), () => req('POST', '/v1/completions', one));
agent.destroy();
