// Test harness: runs the real server as a child process on a real SQLite file (or, with
// SWARMCORE_TEST_DATABASE_URL set, a real PostgreSQL database per data dir) and talks to it over HTTP and
// WebSocket. Nothing is mocked.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { SUITE_ON_POSTGRES, databaseForDataDir, dropDataDirDatabase } from './postgres.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'src/cli.ts');

export interface StartOptions {
  /** Reuse a data dir (for restart tests); a fresh temporary one otherwise. */
  dataDir?: string;
  /** Server settings for this run, as `--set Key=value`. */
  settings?: Record<string, string | number | boolean>;
  /** Store everything in this PostgreSQL database (shared with other servers) instead of the run's engine. */
  databaseUrl?: string;
  /** Extra CLI arguments after `serve`. */
  args?: string[];
  env?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export class TestServer {
  output = '';
  /** Set when the server stores in PostgreSQL; the CLI then uses the same database. */
  databaseUrl: string | undefined;
  /** Whether the test gave the database (shared by several servers, with the shared secret key). */
  private sharedDatabase = false;
  private constructor(
    readonly url: string,
    readonly dataDir: string,
    readonly proc: ChildProcess,
    private readonly ownsDir: boolean,
  ) {}

  static async start(options: StartOptions = {}): Promise<TestServer> {
    const ownsDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'swarmcore-test-'));
    const args = ['--import', 'tsx', CLI, 'serve', '--data-dir', dataDir, '--port', '0', '--log-level', 'warn'];
    const databaseUrl = options.databaseUrl ?? (SUITE_ON_POSTGRES ? await databaseForDataDir(dataDir) : undefined);
    if (databaseUrl) args.push('--database-url', databaseUrl);
    for (const [k, v] of Object.entries(options.settings ?? {})) args.push('--set', `${k}=${String(v)}`);
    args.push(...(options.args ?? []));
    const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...sharedKeyEnv(options.databaseUrl !== undefined), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${output}`)), 30_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const m = /swarmcore listening on (http:\/\/\S+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${output}`));
      });
    });
    const server = new TestServer(url, dataDir, proc, ownsDir);
    server.output = output;
    server.databaseUrl = databaseUrl;
    server.sharedDatabase = options.databaseUrl !== undefined;
    proc.stdout!.on('data', (c: Buffer) => (server.output += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (server.output += c.toString()));
    return server;
  }

  /** POSTs JSON to /API/<route>. */
  async api(route: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const res = await fetch(`${this.url}/API/${route}`, {
      method: 'POST',
      // A connection per call: on a busy machine fetch's idle timer can fire after the server has already closed an
      // idle keep-alive connection, and the next call on it fails with "other side closed".
      headers: { 'Content-Type': 'application/json', Connection: 'close', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    }).catch((err: Error) => {
      // fetch reports every transport failure as "fetch failed"; the cause says which one.
      throw new Error(`${route}: ${err.message} (${String((err.cause as Error | undefined)?.message ?? err.cause)})`, { cause: err });
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // non-JSON answers are checked through `text`
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  /** A new session id (as the local user unless headers say otherwise). */
  async session(headers: Record<string, string> = {}): Promise<string> {
    const res = await this.api('GetNewSession', {}, headers);
    if (typeof res.body.session_id !== 'string') throw new Error(`GetNewSession failed: ${res.text}`);
    return res.body.session_id;
  }

  /** Calls a route with a session id. */
  call(route: string, sessionId: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<ApiResponse> {
    return this.api(route, { session_id: sessionId, ...body }, headers);
  }

  /** Opens a WebSocket route, sends `input`, and collects every message until the server closes. */
  socket(route: string, input: unknown, headers: Record<string, string> = {}): Promise<{ messages: Record<string, unknown>[]; code: number }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.url.replace('http', 'ws')}/API/${route}`, { headers });
      const messages: Record<string, unknown>[] = [];
      ws.on('open', () => ws.send(typeof input === 'string' ? input : JSON.stringify(input)));
      ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
      ws.on('close', (code) => resolve({ messages, code }));
      ws.on('error', reject);
    });
  }

  /** Runs the CLI against this server's data dir. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return runCli([...args, '--data-dir', this.dataDir, ...(this.sharedDatabase && this.databaseUrl ? ['--database-url', this.databaseUrl] : [])]);
  }

  /** Stops gracefully (SIGTERM) or hard (SIGKILL); keeps the data dir. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill(signal);
    await exited;
  }

  /** Stops and removes the data dir (and its database) when the test made it. */
  async close(): Promise<void> {
    await this.stop();
    if (!this.ownsDir) return;
    rmSync(this.dataDir, { recursive: true, force: true });
    await dropDataDirDatabase(this.dataDir);
  }
}

/** A secret key for servers that share one database across data dirs: they must all seal with the same key. */
export const SHARED_SECRET_KEY = Buffer.alloc(32, 7).toString('base64');
const sharedKeyEnv = (shared: boolean): Record<string, string> => (shared && !process.env.SWARMCORE_SECRET_KEY ? { SWARMCORE_SECRET_KEY: SHARED_SECRET_KEY } : {});

/** Runs the CLI; in a PostgreSQL run, `--data-dir` brings that data dir's database along. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const dirAt = args.indexOf('--data-dir');
  const sharedDatabase = args.includes('--database-url');
  const extra = SUITE_ON_POSTGRES && dirAt >= 0 && !sharedDatabase ? ['--database-url', await databaseForDataDir(args[dirAt + 1]!)] : [];
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args, ...extra], { cwd: ROOT, env: { ...process.env, ...sharedKeyEnv(sharedDatabase), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Tests that need a service or a browser call this: skip with a reason, or fail when CI demands everything. */
export function needsService(t: { skip(message?: string): void }, available: boolean, reason: string): boolean {
  if (available) return true;
  if (process.env.SWARMCORE_REQUIRE_ALL === '1') throw new Error(`required for this run but unavailable: ${reason}`);
  t.skip(reason);
  return false;
}

/** The browser's client prehash of a password (what /Login sends). */
export async function prehash(userId: string, password: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(`swarmclientpw:${userId}:${password}`).digest('hex');
}

/**
 * Polls `check` until it holds or `ms` pass: for changes that reach a server through cluster events. The default
 * deadline is one a busy 2-core CI machine meets; a passing check returns as soon as it holds.
 */
export async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
