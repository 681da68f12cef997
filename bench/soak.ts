// Soak: mixed API traffic over 50 sessions on 50 keep-alive connections for 60 s against a real server in
// its own process (bench/soak-server.ts), then three figures with their bounds:
//   errors                  every answer must be 200 and no error (0 allowed)
//   RSS growth              from the end of the warm-up to the end, read from /proc (under 10 %)
//   event-loop delay p99    measured inside the server over the measured part (under 20 ms)
// Exits 1 when a bound is missed.
//
//   npm run soak [-- --seconds 60 --connections 50 --warmup 10 --profile DIR]
// --profile writes the server's V8 CPU profile into DIR (read it with bench/profile-summary.ts).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MAX_RSS_GROWTH = 0.1;
const MAX_P99_MS = 20;

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  onResponse(status: number, body: string): void;
}
interface Client {
  setRequests(requests: Request[]): void;
}
interface Result {
  requests: { total: number; average: number };
  latency: { p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<Result>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, connections: { type: 'string', default: '50' }, warmup: { type: 'string' }, profile: { type: 'string' }, rate: { type: 'string', default: '2000' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const warmup = values.warmup === undefined ? Math.min(10, Math.floor(seconds / 4)) : Number(values.warmup);
if (!(seconds >= 2 && connections >= 1 && warmup >= 0 && warmup < seconds)) throw new Error('--seconds must be at least 2, --connections at least 1, --warmup below --seconds');

/** VmRSS of a process in bytes, from /proc. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-soak-'));
const child = fork(path.join(HERE, 'soak-server.ts'), [dataDir], { execArgv: ['--import', 'tsx', '--expose-gc', ...(values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [])], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const replies: ((m: { type: string; [k: string]: unknown }) => void)[] = [];
child.on('message', (m: { type: string }) => replies.shift()?.(m));
const ask = <T>(type: string): Promise<T> =>
  new Promise((resolve) => {
    replies.push((m) => resolve(m as T));
    if (type !== 'ready') child.send({ type });
  });

try {
  const { url } = await ask<{ url: string }>('ready');
  const post = async (route: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}/API/${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, unknown>;
  };
  const sessions: string[] = [];
  for (let i = 0; i < connections; i++) sessions.push((await post('GetNewSession', {})).session_id as string);

  const failures: string[] = [];
  let badAnswers = 0;
  const check = (route: string) => (status: number, body: string) => {
    let ok = status === 200;
    if (ok) {
      try {
        const j = JSON.parse(body) as Record<string, unknown>;
        ok = !('error' in j || 'error_id' in j || 'preset_fail' in j);
      } catch {
        ok = false;
      }
    }
    if (!ok && ++badAnswers <= 5) failures.push(`${route}: ${status} ${body.slice(0, 200)}`);
  };
  /** One connection's loop: reads, writes and a new session, each connection on its own session and preset. */
  const mix = (sid: string, n: number): Request[] =>
    (
      [
        ['GetMyUserData', {}],
        ['GetCurrentStatus', {}],
        ['AddNewPreset', { title: `soak ${n}`, description: 'soak preset', param_map: { prompt: `a prompt ${n}`, steps: 20 }, is_edit: true, editing: `soak ${n}` }],
        ['GetUserSettings', {}],
        ['SetStarredModels', { 'Stable-Diffusion': [`model-${n}.safetensors`] }],
        ['ExportUserPresets', {}],
        ['ChangeUserSettings', { settings: { language: 'en' } }],
        ['DeletePreset', { preset: `soak ${n}` }],
        ['SetParamEdits', { edits: { steps: { visible: true } } }],
        ['GetNewSession', {}],
      ] as const
    ).map(([route, body]) => ({
      method: 'POST',
      path: `/API/${route}`,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(route === 'GetNewSession' ? body : { session_id: sid, ...body }),
      onResponse: check(route),
    }));
  let clientNo = 0;
  const run = autocannon({
    url,
    connections,
    duration: seconds,
    ...(Number(values.rate) > 0 ? { overallRate: Number(values.rate) } : {}),
    setupClient: (client: Client) => {
      const n = clientNo++;
      client.setRequests(mix(sessions[n % sessions.length]!, n));
    },
  });

  let before = 0;
  let heapBefore = { heapUsed: 0, external: 0 };
  const warmed = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      (async () => {
        heapBefore = await ask<typeof heapBefore>('gc');
        before = rss(child.pid!);
        await ask('reset');
        resolve();
      })().catch(reject);
    }, warmup * 1000),
  );
  const result = await run;
  await warmed;
  const loop = await ask<{ p99Ms: number; maxMs: number; meanMs: number }>('report');
  const heapAfter = await ask<typeof heapBefore>('gc');
  const after = rss(child.pid!);
  const growth = (after - before) / before;
  const errors = result.errors + result.timeouts + result.non2xx + badAnswers;
  const mb = (b: number): string => (b / 1048576).toFixed(1);
  console.log(`soak: ${seconds} s (${warmup} s warm-up), ${connections} connections, ${result.requests.total} requests (${Math.round(result.requests.average)}/s), latency p99 ${result.latency.p99} ms`);
  console.log(`errors: ${errors} (connection ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, error answers ${badAnswers}) - must be 0`);
  console.log(`RSS: ${mb(before)} MB after warm-up -> ${mb(after)} MB at the end: ${(growth * 100).toFixed(1)} % growth - must be under ${MAX_RSS_GROWTH * 100} %`);
  // Not bounded, but tells a leak in JavaScript objects (heap) from memory the allocators keep (RSS only).
  console.log(`  after GC: V8 heap used ${mb(heapBefore.heapUsed)} -> ${mb(heapAfter.heapUsed)} MB, external and array buffers ${mb(heapBefore.external)} -> ${mb(heapAfter.external)} MB`);
  console.log(`event-loop delay in the server: p99 ${loop.p99Ms.toFixed(1)} ms (mean ${loop.meanMs.toFixed(1)}, max ${loop.maxMs.toFixed(1)}) - must be under ${MAX_P99_MS} ms`);
  for (const f of failures) console.log(`  bad answer: ${f}`);
  const missed = [errors > 0 && 'errors', growth >= MAX_RSS_GROWTH && 'RSS growth', loop.p99Ms >= MAX_P99_MS && 'event-loop p99'].filter(Boolean);
  console.log(missed.length ? `FAILED: ${missed.join(', ')}` : 'all bounds met');
  process.exitCode = missed.length ? 1 : 0;
} finally {
  child.send({ type: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
}
