// harness.mjs - starts a live `xllm serve` on the demo model for the e2e tests
// (a free loopback port chosen by the server itself: --port 0), waits for it to
// listen, and always kills it (and so its runners) when the test file ends.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const XLLM = process.env.XLLM_BIN ? path.resolve(process.env.XLLM_BIN) : path.join(root, 'build/xllm');
export const MODEL_PATH = path.join(root, 'models/kjv-demo.gguf');
export const MODEL = 'kjv';

// Start a server (the caller registers after(() => srv.stop())); returns {url, port, proc, log(), stop()}. extraEnv merges into env.
export async function startServer({ args = [], env = {}, timeoutMs = 20000 } = {}) {
  const proc = spawn(XLLM, ['serve', '--port', '0', '--threads', '2', '--model', `${MODEL}=${MODEL_PATH}`, ...args], {
    cwd: root,
    // a store of its own, so a test never reads or writes ~/.xllm of the machine
    env: { ...process.env, XLLM_BIN: XLLM, XLLM_MODELS_DIR: mkdtempSync(path.join(os.tmpdir(), 'xllm-e2e-models-')), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`xllm serve did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = out.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    };
    proc.stdout.on('data', check);
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`xllm serve exited (${code}):\n${out}`)); });
  });
  const srv = {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    log: () => out,
    exited: new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig }))),
    async stop(sig = 'SIGTERM', waitMs = 15000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return srv.exited;
      proc.kill(sig);
      const t = setTimeout(() => proc.kill('SIGKILL'), waitMs);
      const r = await srv.exited;
      clearTimeout(t);
      return r;
    },
  };
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  return srv;
}

// fetch with a hard timeout.
export async function get(url, opts = {}) {
  return fetch(url, { ...opts, signal: opts.signal ?? AbortSignal.timeout(30000) });
}

export async function postJson(url, body, headers = {}) {
  return get(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

// Scheduler counters of the model's runner from /v0/health (null when not loaded).
export async function schedStats(url) {
  const h = await (await get(`${url}/v0/health`)).json();
  const m = h.models.find((x) => x.name === MODEL);
  return m && m.scheduler ? m.scheduler : null;
}

// Tool-call arguments ([{name, arguments (JSON text)}]) checked against
// schemaOf[name] with Python's jsonschema (tools/validate_schemas.py).
export function validateCalls(calls, schemaOf) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'xllm-tools-'));
  try {
    const recs = calls.map((c, i) => {
      const f = path.join(tmp, `s${i}.json`);
      writeFileSync(f, JSON.stringify(schemaOf[c.name]));
      return JSON.stringify({ schema: f, seed: i, output: c.arguments });
    });
    writeFileSync(path.join(tmp, 'o.jsonl'), recs.join('\n') + '\n');
    execFileSync('python3', [path.join(root, 'tools/validate_schemas.py'), path.join(tmp, 'o.jsonl')], { stdio: 'pipe' });
  } catch (e) {
    assert.fail(`arguments do not validate: ${e.stdout ?? e}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
