// Per-request costs for the scaling model in bench/README.md: for each measured route and engine, the store
// calls (from the server's own /metrics counters, which time every statement and transaction; on PostgreSQL a
// transaction adds two round trips, BEGIN with its advisory lock and COMMIT, which those counters do not see), the bytes on the wire (the client socket's counters) and the server's CPU
// (/proc/<pid>/stat). Calls are sequential on one keep-alive connection, so CPU per call here is a little higher
// than under load (no batching of session inserts, no shared wake-ups); the throughput bench gives the loaded figure.
//
//   node --import tsx bench/roundtrips.ts [--calls 300] [--engines sqlite,postgres]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const POSTGRES_ADMIN_URL = process.env.SWARMCORE_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const TICKS = 100; // USER_HZ on Linux
type Engine = 'sqlite' | 'postgres';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '300' }, engines: { type: 'string', default: 'sqlite,postgres' } } });
const CALLS = Number(values.calls);
const engines = values.engines!.split(',') as Engine[];

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
}

function cpuSecondsIfAlive(pid: number): number | null {
  try {
    return cpuSeconds(pid);
  } catch {
    return null;
  }
}

/** One keep-alive connection; returns the answer and the bytes each way for this call. */
class Client {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  constructor(private readonly port: number) {}
  call(method: 'GET' | 'POST', pathName: string, body?: unknown): Promise<{ status: number; text: string; sent: number; received: number }> {
    const data = body === undefined ? '' : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, path: pathName, method, agent: this.agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
        const chunks: Buffer[] = [];
        const socket = res.socket; // handed back to the agent (and null here) once the answer has ended
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ...socketBytes(socket) }));
      });
      req.on('error', reject);
      req.end(data);
    });
  }
  close(): void {
    this.agent.destroy();
  }
}

/** Bytes each way on a socket since the last call for it. */
const seen = new WeakMap<object, { sent: number; received: number }>();
function socketBytes(s: Socket): { sent: number; received: number } {
  const last = seen.get(s) ?? { sent: 0, received: 0 };
  const now = { sent: s.bytesWritten, received: s.bytesRead };
  seen.set(s, now);
  return { sent: now.sent - last.sent, received: now.received - last.received };
}

/** The server's store-call counters by operation, from /metrics. */
async function storeCalls(client: Client): Promise<Record<string, number>> {
  const text = (await client.call('GET', '/metrics')).text;
  const out: Record<string, number> = { read: 0, write: 0, transaction: 0 };
  for (const m of text.matchAll(/^swarmcore_store_call_duration_seconds_count\{operation="(\w+)",outcome="\w+"\} (\d+)/gm)) out[m[1]!]! += Number(m[2]);
  return out;
}

interface RouteCost {
  route: string;
  engine: Engine;
  calls: number;
  storeReads: number;
  storeWrites: number;
  storeTransactions: number;
  /** PostgreSQL round trips per call: store reads + writes + 2 per transaction (BEGIN with its lock in one query, COMMIT). */
  roundTrips: number;
  bytesIn: number;
  bytesOut: number;
  cpuUs: number;
  /** PostgreSQL: CPU of the database's backend processes per call. */
  dbCpuUs: number | null;
  /** PostgreSQL: CPU per call of a second, idle instance on the same database (the cluster event it receives). */
  peerCpuUs: number | null;
  /** Mean time per call, sequential, one connection. */
  wallUs: number;
}

async function startServer(dataDir: string, dbUrl: string | null, servers: ChildProcess[]): Promise<{ pid: number; port: number }> {
  const args = [path.join(ROOT, 'dist/cli.js'), 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...(dbUrl ? ['--database-url', dbUrl] : [])];
  const server = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    server.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', (code) => reject(new Error(`swarmcore exited (${code}): ${text}`)));
  });
  return { pid: server.pid!, port };
}

/** The PostgreSQL backend processes serving one database (this machine's PostgreSQL). */
function backendPids(db: string): Promise<number[]> {
  return withPg(POSTGRES_ADMIN_URL, async (c) => (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db])).rows.map((r) => r.pid));
}

function presetBody(n: number, steps: number, edit: boolean): Record<string, unknown> {
  return {
    title: `rt preset ${n}`,
    description: `Bench preset ${n}: portrait lighting with a soft background, for the benchmark.`,
    param_map: { prompt: `a portrait of a lighthouse keeper ${n}, golden hour, detailed, 35mm`, negativeprompt: 'blurry, low quality, watermark', model: 'OfficialStableDiffusion/sd_xl_base_1.0.safetensors', steps: String(steps), cfgscale: '7', seed: String(1000 + n), width: '1024', height: '1024', sampler: 'euler_ancestral', scheduler: 'karras' },
    is_edit: edit,
    ...(edit ? { editing: `rt preset ${n}` } : {}),
  };
}

async function measureEngine(engine: Engine): Promise<RouteCost[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `swarmcore-rt-${engine}-`));
  const dbName = `swarmcore_rt_${randomBytes(6).toString('hex')}`;
  let dbUrl: string | null = null;
  if (engine === 'postgres') {
    await withPg(POSTGRES_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${dbName}`));
    const u = new URL(POSTGRES_ADMIN_URL);
    u.pathname = `/${dbName}`;
    dbUrl = u.toString();
  }
  const servers: ChildProcess[] = [];
  try {
    const first = await startServer(dataDir, dbUrl, servers);
    const pid = first.pid;
    const port = first.port;
    // PostgreSQL: a second instance on the same database, idle, to measure what other instances pay for each
    // write's cluster event (LISTEN/NOTIFY fan-out).
    // Same data dir: the instances of one database share its secret key.
    const peer = dbUrl ? await startServer(dataDir, dbUrl, servers) : null;
    const client = new Client(port);
    const sid = (JSON.parse((await client.call('POST', '/API/GetNewSession', {})).text) as { session_id: string }).session_id;
    for (let n = 0; n < 20; n++) await client.call('POST', '/API/AddNewPreset', { session_id: sid, ...presetBody(n, 20, false) });
    const routes: Array<{ route: string; method: 'GET' | 'POST'; path: string; body: (i: number) => unknown }> = [
      { route: 'GetNewSession', method: 'POST', path: '/API/GetNewSession', body: () => ({}) },
      { route: 'GetCurrentStatus', method: 'POST', path: '/API/GetCurrentStatus', body: () => ({ session_id: sid }) },
      { route: 'GetCurrentStatus, unknown session', method: 'POST', path: '/API/GetCurrentStatus', body: () => ({ session_id: '0123456789abcdef0123456789abcdef01234567' }) },
      { route: 'GetMyUserData (20 presets)', method: 'POST', path: '/API/GetMyUserData', body: () => ({ session_id: sid }) },
      { route: 'AddNewPreset (edit)', method: 'POST', path: '/API/AddNewPreset', body: (i) => ({ session_id: sid, ...presetBody(i % 10, 21 + (Math.floor(i / 10) % 2), true) }) },
      { route: 'ChangeUserSettings', method: 'POST', path: '/API/ChangeUserSettings', body: (i) => ({ session_id: sid, settings: { language: 'en', 'fileformat.imageformat': i % 2 ? 'PNG' : 'JPG' } }) },
      { route: 'static file', method: 'GET', path: '/imgs/swarmcore.svg', body: () => undefined },
    ];
    const out: RouteCost[] = [];
    for (const r of routes) {
      for (let i = 0; i < 20; i++) await client.call(r.method, r.path, r.body(i)); // warm-up, not counted
      const s0 = await storeCalls(client);
      const backends = dbName && dbUrl ? await backendPids(dbName) : [];
      const d0 = backends.map(cpuSecondsIfAlive);
      const c0 = cpuSeconds(pid);
      const e0 = peer ? cpuSeconds(peer.pid) : 0;
      const w0 = performance.now();
      let bytesIn = 0;
      let bytesOut = 0;
      for (let i = 0; i < CALLS; i++) {
        const a = await client.call(r.method, r.path, r.body(i + 20));
        bytesIn += a.sent;
        bytesOut += a.received;
      }
      const w1 = performance.now();
      const c1 = cpuSeconds(pid);
      const e1 = peer ? cpuSeconds(peer.pid) : 0;
      // A pooled connection closed meanwhile (idle timeout) is left out: its last seconds are not counted.
      const dbSeconds = backends.map(cpuSecondsIfAlive).reduce((sum: number, end, i) => sum + (end !== null && d0[i] !== null ? end - d0[i]! : 0), 0);
      const s1 = await storeCalls(client);
      // The two /metrics reads between make no store call.
      const per = (n: number): number => Math.round((n / CALLS) * 100) / 100;
      const reads = per(s1.read! - s0.read!);
      const writes = per(s1.write! - s0.write!);
      const transactions = per(s1.transaction! - s0.transaction!);
      out.push({
        route: r.route,
        engine,
        calls: CALLS,
        storeReads: reads,
        storeWrites: writes,
        storeTransactions: transactions,
        roundTrips: Math.round((reads + writes + 2 * transactions) * 100) / 100,
        bytesIn: Math.round(bytesIn / CALLS),
        bytesOut: Math.round(bytesOut / CALLS),
        cpuUs: Math.round(((c1 - c0) / CALLS) * 1e6),
        dbCpuUs: dbUrl ? Math.round((dbSeconds / CALLS) * 1e6) : null,
        peerCpuUs: peer ? Math.round(((e1 - e0) / CALLS) * 1e6) : null,
        wallUs: Math.round(((w1 - w0) / CALLS) * 1000),
      });
      console.error(`  ${engine} ${r.route}: ${JSON.stringify(out[out.length - 1])}`);
    }
    client.close();
    return out;
  } finally {
    for (const server of servers) {
      if (server.exitCode !== null) continue;
      server.kill('SIGTERM');
      await new Promise((res) => server.once('exit', res));
    }
    if (engine === 'postgres') await withPg(POSTGRES_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const all: RouteCost[] = [];
for (const e of engines) all.push(...(await measureEngine(e)));
console.log('| route | engine | store reads | store writes | transactions | PG round trips | bytes in | bytes out | server CPU µs | PG CPU µs | other instance CPU µs | wall µs |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const c of all) console.log(`| ${c.route} | ${c.engine} | ${c.storeReads} | ${c.storeWrites} | ${c.storeTransactions} | ${c.engine === 'postgres' ? c.roundTrips : '-'} | ${c.bytesIn} | ${c.bytesOut} | ${c.cpuUs} | ${c.dbCpuUs ?? '-'} | ${c.peerCpuUs ?? '-'} | ${c.wallUs} |`);
console.log(JSON.stringify(all));
