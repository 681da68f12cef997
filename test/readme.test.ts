// The README's embedding example is real code: extracted, run, and called over HTTP, so the documentation
// cannot drift from the library.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, eventually } from './helpers/server.js';

function embeddingExample(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Embedding swarmcore'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'the Embedding swarmcore section has a ts code block');
  return code;
}

test("the README's embedding example starts a server whose extension route holds a claim and stops on InterruptAll", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-readme-'));
  const source = embeddingExample()
    .replace("from 'swarmcore'", `from ${JSON.stringify(path.join(ROOT, 'src/index.ts'))}`)
    .replace("dataDir: './data'", `dataDir: ${JSON.stringify(dir)}`)
    .replace('port: 7801', 'port: 0');
  const file = path.join(dir, 'app.mts');
  writeFileSync(file, source);
  const proc = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start in 30 s:\n${output}`)), 30_000);
      const onData = (c: Buffer): void => {
        output += c.toString();
        const m = /listening on (http:\/\/\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
    const call = async (route: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const res = await fetch(`${url}/API/${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return (await res.json()) as Record<string, unknown>;
    };
    const { session_id } = (await call('GetNewSession', {})) as { session_id: string };
    const running = call('EchoText', { session_id, text: 'hi', times: 100 });
    let status: Record<string, unknown> = {};
    await eventually(async () => {
      status = await call('GetCurrentStatus', { session_id });
      return (status.status as { live_gens: number }).live_gens === 1;
    });
    assert.deepEqual(status, {
      status: { waiting_gens: 1, loading_models: 0, waiting_backends: 0, live_gens: 1 },
      backend_status: { status: 'running', class: '', message: '', any_loading: false },
      supported_features: ['echo_always', 'echo_text'],
    });
    assert.deepEqual(await call('InterruptAll', { session_id }), { success: true });
    const answer = await running;
    assert.equal(answer.interrupted, true);
    assert.ok((answer.words as string[]).length < 100);
    assert.deepEqual(await call('EchoText', { session_id, text: 'yo', times: 2 }), { words: ['yo', 'yo'], interrupted: false });
    assert.deepEqual(await call('EchoText', { session_id, text: 'yo', times: 0 }), { error: 'times must be between 1 and 100.' });
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
