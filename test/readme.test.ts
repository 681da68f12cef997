// The README's embedding example is real code: extracted, run, and called over HTTP, so the documentation
// cannot drift from the library.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, TestServer, eventually, runCli } from './helpers/server.js';
import { README, readmeTables, settingsTables } from './helpers/settings-table.js';

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

test("the README's settings tables list every setting of a fresh server with its type, default and description", async () => {
  const tables = readmeTables(readFileSync(README, 'utf8'));
  assert.ok(tables !== null, 'the README has the settings-table markers');
  // On a mismatch, rewrite the tables: node --import tsx test/helpers/settings-table.ts --write
  assert.equal(tables, await settingsTables());
  assert.match(tables, /^\| `Network\.AuthBypassIPs` \| text \| `127\.0\.0\.1,::1,::ffff:127\.0\.0\.1` \| .+RequiredAuthorization.+ \|$/m);
});

/** The ```sh blocks of the README section under `heading`, in order. */
function shellBlocks(heading: string): string[] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, heading);
  const rest = readme.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/^#{2,3} /m));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** A command line split into words, with '...' quoting as the README writes it. */
const words = (line: string): string[] => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);

test("the README's accounts-on quick start works as written: the CLI makes the account, curl logs in and gets alice's session", async (t) => {
  const [setup, calls] = shellBlocks('### With accounts on');
  assert.ok(setup && calls, 'two sh blocks');
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-readme-login-'));
  let server: TestServer | undefined;
  try {
    for (const line of setup.split('\n').filter((l) => l.startsWith('npx swarmcore '))) {
      const out = await runCli([...words(line.slice('npx swarmcore '.length)), '--data-dir', dir]);
      assert.equal(out.code, 0, `${line}: ${out.stderr}`);
    }
    server = await TestServer.start({ dataDir: dir });
    const script = calls.replaceAll('http://127.0.0.1:7801', server.url);
    const run = spawnSync('bash', ['-e', '-c', script], { cwd: dir, encoding: 'utf8' });
    if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') return t.skip('bash is not installed');
    assert.equal(run.status, 0, run.stderr);
    // The block's comments show what each call prints.
    assert.ok(calls.includes('# {"success":"true"}') && calls.includes('# {"user_name":"alice", ...}'));
    assert.ok(run.stdout.startsWith('{"success":"true"}{"user_name":"alice",'), run.stdout);
    // The prehash the README tells scripts to compute is the one the account stores: Login takes it as well.
    const hex = spawnSync('bash', ['-c', "printf '%s' 'swarmclientpw:alice:correct horse' | sha256sum | cut -d' ' -f1"], { encoding: 'utf8' }).stdout.trim();
    assert.equal(hex, createHash('sha256').update('swarmclientpw:alice:correct horse').digest('hex'));
    assert.ok(readFileSync(path.join(ROOT, 'README.md'), 'utf8').includes("(`printf '%s' 'swarmclientpw:alice:correct horse' | sha256sum | cut -d' ' -f1`)"));
    assert.deepEqual((await server.api('Login', { username: 'alice', password: hex })).body, { success: 'true' });
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm start compiles only when a source is newer than the last build (bin/build-if-stale.js)', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.prestart, 'node bin/build-if-stale.js');
  assert.doesNotMatch(pkg.scripts.start!, /tsc/);
  // A project of its own, so the check runs the real compiler without touching this checkout's dist/.
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-prestart-'));
  try {
    mkdirSync(path.join(dir, 'src'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: [] } }));
    writeFileSync(path.join(dir, 'tsconfig.build.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }));
    writeFileSync(path.join(dir, 'src', 'cli.ts'), 'export const answer: number = 42;\n');
    const prestart = (): string => {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/build-if-stale.js'), dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stderr.trim();
    };
    const built = path.join(dir, 'dist', 'cli.js');
    assert.equal(prestart(), 'swarmcore: dist/ is missing, compiling src/.');
    assert.equal(readFileSync(built, 'utf8').trim(), 'export const answer = 42;');
    // Fresh dist/: no compile, the output is left exactly as it was.
    const before = statSync(built).mtimeMs;
    assert.equal(prestart(), 'swarmcore: dist/ is up to date, not compiling.');
    assert.equal(statSync(built).mtimeMs, before);
    // A source changed after the build (the build is made an hour older): compiled again, then fresh again.
    writeFileSync(path.join(dir, 'src', 'cli.ts'), 'export const answer: number = 43;\n');
    const hourAgo = new Date(statSync(path.join(dir, 'src', 'cli.ts')).mtimeMs - 3_600_000);
    utimesSync(built, hourAgo, hourAgo);
    assert.equal(prestart(), 'swarmcore: sources changed since the last build, compiling src/ into dist/.');
    assert.equal(readFileSync(built, 'utf8').trim(), 'export const answer = 43;');
    assert.equal(prestart(), 'swarmcore: dist/ is up to date, not compiling.');
    // A compile error fails the start instead of running an old build.
    writeFileSync(path.join(dir, 'src', 'cli.ts'), 'export const answer: number = "no";\n');
    utimesSync(built, hourAgo, hourAgo);
    const failed = spawnSync(process.execPath, [path.join(ROOT, 'bin/build-if-stale.js'), dir], { encoding: 'utf8' });
    assert.notEqual(failed.status, 0);
    assert.match(failed.stdout, /error TS2322/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
