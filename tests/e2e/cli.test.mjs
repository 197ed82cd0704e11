// cli.test.mjs - the Ollama-style commands that talk to a server: `xllm run NAME`
// streams through /api/chat or /api/generate (the same greedy text as the
// in-process run of the file), `xllm ps` prints Ollama's columns, `xllm stop`
// unloads, and `xllm run` starts a background server when none answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, XLLM, MODEL, MODEL_PATH, get } from './harness.mjs';

function xllm(args, env = {}, input) {
  return new Promise((resolve) => {
    const p = execFile(XLLM, args, { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
    if (input !== undefined) { p.stdin.end(input); }
  });
}

const srv = await startServer();
after(() => srv.stop());
const env = { XLLM_HOST: `127.0.0.1:${srv.port}` };
const greedy = ['--raw', '--temperature', '0', '--num-predict', '16'];

test('run NAME through the server equals the in-process run of the file', async () => {
  const viaServer = await xllm(['run', MODEL, 'And the LORD said unto Moses,', ...greedy], env);
  const local = await xllm(['run', MODEL_PATH, 'And the LORD said unto Moses,', ...greedy], env);
  assert.equal(viaServer.code, 0, viaServer.stderr);
  assert.equal(local.code, 0, local.stderr);
  assert.ok(viaServer.stdout.trim().length > 10);
  assert.equal(viaServer.stdout, local.stdout);
  const piped = await xllm(['run', MODEL, ...greedy], env, 'And the LORD said unto Moses,');
  assert.equal(piped.stdout, viaServer.stdout);
});

test('ps lists the loaded model as Ollama does; stop unloads it', async () => {
  await xllm(['run', MODEL, 'In the beginning', ...greedy], env);
  const ps = await xllm(['ps'], env);
  assert.equal(ps.code, 0, ps.stderr);
  const lines = ps.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME\s+ID\s+SIZE\s+PROCESSOR\s+UNTIL\s*$/);
  assert.match(lines[1], new RegExp(`^${MODEL}\\s+[0-9a-f]{12}\\s+\\d+(\\.\\d)? [KMG]?B\\s+100% CPU\\s+\\d+ minutes from now\\s*$`));
  const stop = await xllm(['stop', MODEL], env);
  assert.equal(stop.code, 0, stop.stderr);
  const after = await xllm(['ps'], env);
  assert.equal(after.stdout.trimEnd().split('\n').length, 1, after.stdout);
  const bad = await xllm(['stop', 'no-such-model'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not found/);
});

test('run starts a background server when none answers', async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const home = mkdtempSync(path.join(os.tmpdir(), 'xllm-home-'));
  const e = { XLLM_HOST: `127.0.0.1:${port}`, HOME: home, XLLM_MODELS_DIR: path.join(home, 'models') };
  try {
    const r = await xllm(['run', 'no-such-model', 'hello'], e);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not found/);
    const v = await get(`http://127.0.0.1:${port}/api/version`);
    assert.equal(v.status, 200);
  } finally {
    execFile('pkill', ['-f', `serve --host 127.0.0.1 --port ${port}`]);
    rmSync(home, { recursive: true, force: true });
  }
});

test('stop aborts the running requests of a model and unloads it', async () => {
  const long = fetch(`${srv.url}/api/generate`, { method: 'POST', signal: AbortSignal.timeout(60000),
    body: JSON.stringify({ model: MODEL, prompt: 'And God said', options: { num_predict: 100000, num_ctx: 256 } }) });
  const res = await long;
  const reader = res.body.getReader();
  await reader.read(); // the first token is there: the request is running
  const t0 = Date.now();
  const stop = await xllm(['stop', MODEL], env);
  assert.equal(stop.code, 0, stop.stderr);
  let text = '';
  for (;;) { const { done, value } = await reader.read(); if (done) break; text += new TextDecoder().decode(value); }
  assert.ok(Date.now() - t0 < 10000, 'the stream ended soon after stop');
  for (let i = 0; i < 50; i++) {
    const ps = await xllm(['ps'], env);
    if (ps.stdout.trimEnd().split('\n').length === 1) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('the model is still loaded after stop');
});

test('the REPL on a terminal: multi-line input, /set, /show, /clear, history', async () => {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const home = mkdtempSync(path.join(os.tmpdir(), 'xllm-repl-'));
  try {
    const cmd = `${XLLM} run ${MODEL_PATH} --temperature 0 --num-predict 6`;
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    const waitFor = async (re, ms = 20000) => {
      const t0 = Date.now();
      while (!re.test(out)) {
        if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const send = async (line, re) => { p.stdin.write(line + '\r'); await waitFor(re); };
    await waitFor(/>>> /);
    await send('/set parameter temperature 0', /Set parameter 'temperature' to '0'/);
    await send('/set parameter bogus 1', /unknown parameter 'bogus'/);
    await send('"""In the', /\.\.\. /);
    await send('beginning"""', /\n>>> [^\n]*$/);
    await send('/show info', /architecture\s+llama/);
    await send('<<<EOF', /\.\.\. /);
    await send('And God', /\.\.\. /);
    await send('EOF', /\n>>> [^\n]*$/);
    await send('/clear', /Cleared session context/);
    await send('/nope', /Unknown command '\/nope'/);
    p.stdin.write('/bye\r');
    const code = await new Promise((r) => p.on('exit', r));
    assert.equal(code, 0, out);
    const hist = readFileSync(path.join(home, '.xllm/history'), 'utf8');
    assert.match(hist, /In\\040the\\012beginning/); // libedit's history format escapes spaces and newlines
    assert.match(hist, /And\\040God\n/);
    assert.match(hist, /\/clear/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
