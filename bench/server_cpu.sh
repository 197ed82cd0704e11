#!/bin/bash
# server_cpu.sh - CPU time the server process spends per request (utime+stime
# from /proc/PID/stat, 10 ms ticks), which other processes' load does not
# move the way it moves latency:
#   bench/server_cpu.sh [XLLM_BINARY]   (default build/xllm; run from the repo root)
# Sequential keep-alive requests: 4,000 GET /v1/models, 400 one-token
# /v1/completions, 1,000 GET /v0/metrics (the runner's ticks for the scrapes too).
set -e
B=${1:-build/xllm}
tmp=$(mktemp -d)
cat > "$tmp/loop.mjs" <<'JS'
import http from 'node:http';
const [url, kind, n] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const req = (method, path, body) => new Promise((resolve, reject) => {
  const r = http.request(new URL(path, url), { method, agent, headers: body ? { 'content-type': 'application/json' } : {} },
    (res) => { res.resume(); res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)))); });
  r.on('error', reject); r.end(body);
});
const body = JSON.stringify({ model: 'kjv', prompt: 'And', max_tokens: 1, temperature: 0 });
for (let i = 0; i < Number(n); i++) {
  if (kind === 'models') await req('GET', '/v1/models');
  else if (kind === 'metrics') await req('GET', '/v0/metrics');
  else await req('POST', '/v1/completions', body);
}
agent.destroy();
JS
XLLM_BIN=$B XLLM_MODELS_DIR=$tmp $B serve --port 0 --threads 2 --model kjv=models/kjv-demo.gguf > "$tmp/log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; rm -rf "$tmp"' EXIT
for i in $(seq 50); do grep -q 'listening on' "$tmp/log" && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://[^:]*:[0-9]*' "$tmp/log" | grep -o '[0-9]*$')
U="http://127.0.0.1:$PORT"
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
node "$tmp/loop.mjs" "$U" comp 5 # load the model
RP=$(curl -s "$U/v0/health" | grep -o '"pid":[0-9]*' | cut -d: -f2)
c0=$(ticks $SP); node "$tmp/loop.mjs" "$U" models 4000
c1=$(ticks $SP); node "$tmp/loop.mjs" "$U" comp 400
c2=$(ticks $SP); r2=$(ticks $RP); m="1000 /v0/metrics"
node "$tmp/loop.mjs" "$U" metrics 1000 2>/dev/null || m="/v0/metrics: not served by this binary,"
c3=$(ticks $SP); r3=$(ticks $RP)
echo "$B: 4000 GET /v1/models $((c1 - c0)) ticks; 400 1-token completions $((c2 - c1)) ticks;" \
     "$m $((c3 - c2)) ticks (runner $((r3 - r2))); $(uptime | sed 's/.*load/load/')"
