// HTTP benchmark: swarmcore on SQLite and on PostgreSQL against a bare node:http server
// (bench/baseline-server.ts), all measured in the same run by autocannon in a separate process
// (bench/cannon.ts), alternating the order every round so machine drift affects every side alike. Results are
// ratios swarmcore/baseline per scenario and engine, then Login (argon2-bound: logins/s, CPU per login and
// other routes' p99 while 20 logins/s hash) and, opt-in, the scale scenarios. See bench/README.md.
//
//   npm run bench [-- --rounds 3 --duration 5 --warmup 2 --connections 50 --engines sqlite,postgres
//                     --only a,b --scale --profile --no-build]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import jpeg from 'jpeg-js';
import pg from 'pg';
import type { CannonRequest, CannonResult, CannonSpec } from './cannon.js';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './profile-summary.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CANNON = path.join(ROOT, 'bench/cannon.ts');
const CLI_JS = path.join(ROOT, 'dist/cli.js');
const RESULTS_DIR = path.join(ROOT, 'bench/results');
/** Where the bench makes (and drops) its own databases; trust auth as user postgres. */
const POSTGRES_ADMIN_URL = process.env.SWARMCORE_BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
/** The file name of the SQLite store inside the data dir (src/store/sqlite). */
const SQLITE_FILE = 'swarmcore.db';
/** Small files under web/ to GET, best first; the first one swarmcore serves with 200 is used. */
const STATIC_CANDIDATES = ['/imgs/swarmcore.svg', '/js/page.js', '/css/site.css', '/pages/main.html'];
/** Read-only session routes to measure, best first; the first one this build answers without error is used. */
const SESSION_ROUTE_CANDIDATES = ['GetCurrentStatus', 'GetMyUserData'];
const INVALID_SESSION_ID = '0123456789abcdef0123456789abcdef01234567';
/** Bodies of status-200 answers holding one of these are counted as failed. */
const ERROR_MARKERS = ['"error":', '"error_id":', '"preset_fail":'];
/** Accounts on, registration open, and X-Forwarded-For believed from 127.0.0.1 (one address per login). */
const LOGIN_SETTINGS = [
  'UserAuthorization.AuthorizationRequired=true',
  'UserAuthorization.Registration.AllowRegistration=true',
  'UserAuthorization.Registration.SimplePasswordRegistration=true',
  'Network.TrustedProxies=127.0.0.1',
];
/**
 * Bench users taken in turn by Login. The per-user limit is 15 logins a minute, and the whole Login phase (about
 * 2,700 logins at 150/s in 40 s) must stay under it: 150 users were too few once logins got faster (round 3 was
 * answered `ratelimit`).
 */
const LOGIN_USERS = 400;
const LOGIN_RATE = 20;
const PRESETS_FOR_USER_DATA = 20;
const SCALE_SESSIONS = 100_000;
const SCALE_STORED_SESSIONS = 1_000_000;
const SCALE_PRESETS = 1_000;
const SCALE_CALLS = 200;

type Engine = 'sqlite' | 'postgres';
const ENGINES: readonly Engine[] = ['sqlite', 'postgres'];
const THROUGHPUT_IDS = ['new-session', 'session-route', 'invalid-session', 'static-file', 'my-user-data', 'add-preset', 'change-settings'] as const;
const ALL_IDS = [...THROUGHPUT_IDS, 'login', 'scale'];

interface Options {
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  loginConnections: number;
  /** GetCurrentStatus connections beside the logins: a heavy load that leaves the server time to answer. */
  statusConnections: number;
  engines: Engine[];
  only: string[] | null;
  scale: boolean;
  profile: boolean;
  build: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      'login-connections': { type: 'string', default: '4' },
      'status-connections': { type: 'string', default: '10' },
      engines: { type: 'string', default: 'sqlite,postgres' },
      only: { type: 'string' },
      scale: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench [-- --rounds N --duration SEC --warmup SEC --connections N --login-connections N --status-connections N --engines sqlite,postgres --only id,id --scale --profile --no-build]');
    console.log(`scenarios (--only): ${ALL_IDS.join(', ')}`);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, not '${text}'.`);
    return n;
  };
  const engines = values.engines.split(',').map((s) => s.trim()).filter(Boolean);
  const badEngine = engines.find((e) => !ENGINES.includes(e as Engine));
  if (badEngine !== undefined || engines.length === 0) throw new Error(`--engines takes sqlite and/or postgres, not '${values.engines}'.`);
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : null;
  const unknown = (only ?? []).filter((id) => !ALL_IDS.includes(id));
  if (unknown.length > 0) throw new Error(`Unknown scenario ${unknown.join(', ')}; scenarios: ${ALL_IDS.join(', ')}.`);
  return {
    rounds: int('rounds', values.rounds, 1, 20),
    duration: int('duration', values.duration, 1, 60),
    warmup: int('warmup', values.warmup, 0, 30),
    connections: int('connections', values.connections, 1, 256),
    loginConnections: int('login-connections', values['login-connections'], 1, 64),
    statusConnections: int('status-connections', values['status-connections'], 1, 256),
    engines: [...new Set(engines as Engine[])],
    only,
    scale: values.scale,
    profile: values.profile,
    build: !values['no-build'],
  };
}

const wants = (o: Options, id: string): boolean => (id === 'scale' && o.scale) || (o.only ? o.only.includes(id) : id !== 'scale');

// ---------------------------------------------------------------------------------------------------------
// Processes and clean-up

interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly proc: ChildProcess;
  /** The last few KB of its stderr, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
/** Run at the end, on error and on Ctrl-C: data dirs and databases the bench made. */
const cleanups = new Set<() => Promise<void>>();

async function runCleanups(): Promise<void> {
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    await fn().catch((err: unknown) => console.error(`bench: clean-up failed: ${err instanceof Error ? err.message : String(err)}`));
  }
}

function startProcess(name: string, args: string[], pattern: RegExp): Promise<ServerProcess> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  let tail = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  exited.then(() => children.delete(proc), () => undefined); // `exited` never rejects
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start within 60 s:\n${tail}`));
    }, 60_000);
    const onData = (): void => {
      const m = pattern.exec(tail);
      if (!m) return;
      clearTimeout(timer);
      proc.stderr!.off('data', onData);
      proc.off('exit', onEarlyExit);
      resolve({
        name,
        url: m[1]!,
        proc,
        tail: () => tail,
        async stop() {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
          proc.kill('SIGTERM');
          await exited;
          clearTimeout(killer);
        },
      });
    };
    const onEarlyExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}) before listening:\n${tail}`));
    };
    proc.stderr!.on('data', onData);
    proc.once('exit', onEarlyExit);
  });
}

function startBaseline(staticFile: string): Promise<ServerProcess> {
  return startProcess('baseline', ['--import', 'tsx', path.join(ROOT, 'bench/baseline-server.ts'), staticFile], /baseline listening on (http:\/\/\S+)/);
}

/** Where one swarmcore instance keeps its data: a fresh temp dir, and for PostgreSQL a fresh database. */
interface StoreDir {
  engine: Engine;
  dataDir: string;
  databaseUrl: string | null;
  dispose(): Promise<void>;
}

async function withPostgres<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why PostgreSQL cannot be used, or null when it answers. */
async function postgresProblem(): Promise<string | null> {
  try {
    await withPostgres(POSTGRES_ADMIN_URL, (c) => c.query('SELECT 1'));
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function createStoreDir(engine: Engine): Promise<StoreDir> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `swarmcore-bench-${engine}-`));
  let databaseUrl: string | null = null;
  let dropDb = async (): Promise<void> => undefined;
  if (engine === 'postgres') {
    const name = `swarmcore_bench_${randomBytes(6).toString('hex')}`;
    dropDb = () => withPostgres(POSTGRES_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined);
    cleanups.add(dropDb);
    await withPostgres(POSTGRES_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
  }
  const removeDir = async (): Promise<void> => rmSync(dataDir, { recursive: true, force: true });
  cleanups.add(removeDir);
  return {
    engine,
    dataDir,
    databaseUrl,
    async dispose() {
      cleanups.delete(removeDir);
      cleanups.delete(dropDb);
      await removeDir();
      await dropDb();
    },
  };
}

function startSwarmcore(store: StoreDir, settings: string[], profileDir: string | null): Promise<ServerProcess> {
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const sets = settings.flatMap((s) => ['--set', s]);
  const db = store.databaseUrl ? ['--database-url', store.databaseUrl] : [];
  return startProcess(`swarmcore/${store.engine}`, [...nodeArgs, CLI_JS, 'serve', '--data-dir', store.dataDir, ...db, '--host', '127.0.0.1', '--port', '0', ...sets], /swarmcore listening on (http:\/\/\S+)/);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than src/. */
function ensureBuilt(): void {
  const built = existsSync(CLI_JS) ? statSync(CLI_JS).mtimeMs : 0;
  if (built >= newestMtime(path.join(ROOT, 'src'))) return;
  console.error('dist/ is missing or older than src/: running npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

function gitDescription(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (src/ modified)` : commit;
  } catch {
    return 'unknown';
  }
}

/** VmRSS of a process in bytes. */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

let clockTicks = 0;
/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSecondsOf(pid: number): number {
  if (!clockTicks) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are fields 14, 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

// ---------------------------------------------------------------------------------------------------------
// Load generation

let specNo = 0;
const specDir = mkdtempSync(path.join(os.tmpdir(), 'swarmcore-bench-specs-'));
cleanups.add(async () => rmSync(specDir, { recursive: true, force: true }));

/** One autocannon run in its own process (bench/cannon.ts). */
function cannon(spec: CannonSpec): Promise<CannonResult> {
  const file = path.join(specDir, `spec-${++specNo}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const limitSeconds = spec.amount !== undefined ? 600 : spec.duration + 60;
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CANNON, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4096)));
    const killer = setTimeout(() => proc.kill('SIGKILL'), limitSeconds * 1000);
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(killer);
      children.delete(proc);
      rmSync(file, { force: true });
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out) as CannonResult);
      } catch {
        reject(new Error(`autocannon printed no JSON:\n${out}\n${err}`));
      }
    });
  });
}

interface Run {
  round: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** connections / rps: the mean latency at sub-millisecond resolution (autocannon's latencies are whole ms). */
  meanMs: number;
  errors: number;
  timeouts: number;
  statusCounts: Record<string, number>;
  /** Requests answered with another status than expected, with an error in a 200 body, or failed. */
  unexpected: number;
  /** The start of the first 200 answer that held an error, to say which error it was. */
  firstBad: string | null;
  /** CPU µs (user + system) of the server process per request. */
  cpuUsPerRequest?: number;
  /** PostgreSQL runs: CPU µs of the database's backend processes per request. */
  dbCpuUsPerRequest?: number;
  /** CPU µs of the load generator per request (it shares the machine's cores with the server). */
  clientCpuUsPerRequest?: number;
}

/** What a warning adds about the first error answer of a run, if it kept one. */
const firstErrorNote = (firstBad: string | null): string => (firstBad ? `; the first error answer: ${firstBad}` : '');

function toRun(r: CannonResult, round: number, connections: number, expectStatus: number): Run {
  const statusCounts: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCounts[code] = v.count;
  const expected = statusCounts[String(expectStatus)] ?? 0;
  const rps = r.requests.total / r.duration;
  return {
    round,
    requests: r.requests.total,
    rps: Math.round(rps),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    meanMs: rps > 0 ? Math.round((connections / rps) * 1e6) / 1e3 : 0,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCounts,
    unexpected: r.requests.total - expected + r.errors + r.badBodies,
    firstBad: r.firstBad,
    ...(r.cpuMicros !== undefined && r.requests.total > 0 ? { clientCpuUsPerRequest: Math.round(r.cpuMicros / r.requests.total) } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------
// API calls made by the harness itself (set-up and the scale scenarios)

/** `timing.ms`, when given: from the call to the whole answer received, before the harness parses it. */
async function post(url: string, route: string, body: unknown, headers: Record<string, string> = {}, timing?: { ms: number }): Promise<{ status: number; json: Record<string, unknown>; bytes: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/API/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (timing) timing.ms = performance.now() - started;
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // checked through the status
  }
  return { status: res.status, json, bytes: Buffer.byteLength(text) };
}

const failed = (r: { status: number; json: Record<string, unknown> }): boolean => r.status !== 200 || 'error' in r.json || 'error_id' in r.json || 'preset_fail' in r.json;

async function newSession(url: string): Promise<{ id: string; userId: string }> {
  const r = await post(url, 'GetNewSession', {});
  if (r.status !== 200 || typeof r.json.session_id !== 'string') throw new Error(`GetNewSession answered ${r.status} ${JSON.stringify(r.json)}`);
  return { id: r.json.session_id, userId: String(r.json.user_id) };
}

/** The first route of `names` that answers this session with 200 and no error. */
async function pickRoute(url: string, sessionId: string, names: string[]): Promise<string | null> {
  for (const name of names) {
    if (!failed(await post(url, name, { session_id: sessionId }))) return name;
  }
  return null;
}

/** The first of STATIC_CANDIDATES that exists in web/ and that swarmcore answers with 200. */
async function pickStaticPath(url: string): Promise<string> {
  for (const candidate of STATIC_CANDIDATES) {
    if (!existsSync(path.join(ROOT, 'web', candidate))) continue;
    const res = await fetch(url + candidate, { redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status === 200) return candidate;
  }
  throw new Error(`swarmcore serves none of ${STATIC_CANDIDATES.join(', ')} from web/.`);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A real 96x64 JPEG (a colour gradient) as a data URL: the kind of preview the web page sends. */
function makePreview(): string {
  const width = 96;
  const height = 64;
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      data[p] = (x * 255) / width;
      data[p + 1] = (y * 255) / height;
      data[p + 2] = ((x + y) * 3) & 255;
      data[p + 3] = 255;
    }
  }
  return `data:image/jpeg;base64,${jpeg.encode({ data, width, height }, 80).data.toString('base64')}`;
}
const PREVIEW = makePreview();

/** A preset as the web page saves it: a title, a description and about ten parameters. */
function presetBody(title: string, n: number, variant: number, preview: boolean): Record<string, unknown> {
  return {
    title,
    description: `Bench preset ${n}${variant ? ' (edited)' : ''}: portrait lighting with a soft background, for the benchmark.`,
    param_map: {
      prompt: `a portrait of a lighthouse keeper ${n}, golden hour, detailed, 35mm`,
      negativeprompt: 'blurry, low quality, watermark',
      model: 'OfficialStableDiffusion/sd_xl_base_1.0.safetensors',
      steps: String(20 + variant),
      cfgscale: '7',
      seed: String(1000 + n),
      width: '1024',
      height: '1024',
      sampler: 'euler_ancestral',
      scheduler: 'karras',
    },
    ...(preview ? { preview_image: PREVIEW, preview_image_metadata: `{"prompt": "bench ${n}"}` } : {}),
    is_edit: variant > 0,
    ...(variant > 0 ? { editing: title } : {}),
  };
}

const presetTitle = (n: number): string => `bench preset ${n}`;
/** Every 4th preset has a preview image. */
const hasPreview = (n: number): boolean => n % 4 === 0;

/** Adds presets 0..count-1 for the session's user; every 4th with a preview. */
async function addPresets(url: string, sessionId: string, count: number): Promise<void> {
  await pool(
    Array.from({ length: count }, (_, n) => n),
    8,
    async (n) => {
      const body = { session_id: sessionId, ...presetBody(presetTitle(n), n, 0, hasPreview(n)) };
      // A user may have only a few previews being made at once; those are refused with preset_fail until one is done.
      for (let attempt = 0; ; attempt++) {
        const r = await post(url, 'AddNewPreset', body);
        if (!failed(r)) break;
        if (!hasPreview(n) || !('preset_fail' in r.json) || attempt >= 600) throw new Error(`AddNewPreset ${n} answered ${r.status} ${JSON.stringify(r.json)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  );
}

/** The prehash the browser sends as `password` (see test/helpers/server.ts). */
const clientPrehash = (userId: string, password: string): string => createHash('sha256').update(`swarmclientpw:${userId}:${password}`).digest('hex');

// ---------------------------------------------------------------------------------------------------------
// Throughput scenarios: baseline and every engine, alternating

/** One swarmcore instance with default settings (accounts off: the local user) and what the scenarios need. */
interface EngineServer {
  engine: Engine;
  store: StoreDir;
  server: ServerProcess;
  sessionId: string;
  sessionRoute: string;
  profileDir: string | null;
}

interface Scenario {
  id: string;
  title: string;
  /** The status swarmcore must answer every request with (the baseline always answers 200). */
  swarmcoreStatus: number;
  requests(e: EngineServer): CannonRequest[];
}

/** Presets the add-preset scenario edits (ones without a preview), each in two versions so every edit changes it. */
const EDITED_PRESETS = [1, 2, 3, 5, 6, 7, 9, 10, 11, 13];

function scenarios(staticPath: string, staticSize: number): Scenario[] {
  const api = (route: string, body: unknown): CannonRequest => ({ method: 'POST', path: `/API/${route}`, body: JSON.stringify(body) });
  return [
    { id: 'new-session', title: 'POST /API/GetNewSession (creates and stores a session)', swarmcoreStatus: 200, requests: () => [api('GetNewSession', {})] },
    { id: 'session-route', title: 'POST /API/GetCurrentStatus with a valid session (read-only)', swarmcoreStatus: 200, requests: (e) => [api(e.sessionRoute, { session_id: e.sessionId })] },
    { id: 'invalid-session', title: 'POST with an unknown session id (401 path)', swarmcoreStatus: 401, requests: (e) => [api(e.sessionRoute, { session_id: INVALID_SESSION_ID })] },
    { id: 'static-file', title: `GET ${staticPath} (static file, ${staticSize} bytes)`, swarmcoreStatus: 200, requests: () => [{ method: 'GET', path: staticPath }] },
    {
      id: 'my-user-data',
      title: `POST /API/GetMyUserData, user with ${PRESETS_FOR_USER_DATA} presets (10 params each, ${PRESETS_FOR_USER_DATA / 4} with a ${Math.round((PREVIEW.length * 3) / 4 / 1024)} KB JPEG preview)`,
      swarmcoreStatus: 200,
      requests: (e) => [api('GetMyUserData', { session_id: e.sessionId })],
    },
    {
      id: 'add-preset',
      title: `POST /API/AddNewPreset is_edit, cycling over ${EDITED_PRESETS.length} presets x 2 versions (no preview)`,
      swarmcoreStatus: 200,
      requests: (e) => [1, 2].flatMap((v) => EDITED_PRESETS.map((n) => api('AddNewPreset', { session_id: e.sessionId, ...presetBody(presetTitle(n), n, v, false) }))),
    },
    {
      id: 'change-settings',
      title: 'POST /API/ChangeUserSettings, two settings, alternating values',
      swarmcoreStatus: 200,
      requests: (e) => [api('ChangeUserSettings', { session_id: e.sessionId, settings: { language: 'en', 'fileformat.imageformat': 'PNG' } }), api('ChangeUserSettings', { session_id: e.sessionId, settings: { language: 'en', 'fileformat.imageformat': 'JPG' } })],
    },
  ];
}

interface Side {
  name: string;
  server: ServerProcess;
  /** The engine whose requests it gets; the baseline gets the first engine's (it ignores their content). */
  engine: EngineServer;
  expect(s: Scenario): number;
}

/** Checks every request of a scenario by hand before it is measured. */
async function checkScenario(side: Side, s: Scenario): Promise<void> {
  for (const r of s.requests(side.engine)) {
    const res = await fetch(side.server.url + r.path, {
      method: r.method,
      redirect: 'manual',
      ...(r.body !== undefined ? { headers: { 'content-type': 'application/json' }, body: r.body } : {}),
    });
    const text = await res.text();
    if (res.status !== side.expect(s)) throw new Error(`${side.name} answered ${r.method} ${r.path} with ${res.status}, expected ${side.expect(s)}: ${text.slice(0, 300)}`);
    if (res.status === 200 && ERROR_MARKERS.some((m) => text.includes(m))) throw new Error(`${side.name} answered ${r.method} ${r.path} ${r.body ?? ''} with an error: ${text.slice(0, 300)}`);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const round1 = (x: number): number => Math.round(x * 10) / 10;
/** Nearest-rank percentile of a sample. */
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

interface ScenarioResult {
  id: string;
  engine: Engine;
  title: string;
  request: string;
  baseline: { rps: number; p99Ms: number; meanMs: number; cpuUsPerRequest: number; clientCpuUsPerRequest: number; runs: Run[] };
  swarmcore: { rps: number; p99Ms: number; meanMs: number; cpuUsPerRequest: number; clientCpuUsPerRequest: number; dbCpuUsPerRequest?: number; runs: Run[] };
  /** Median over rounds of swarmcore rps / baseline rps of the same round. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** PostgreSQL only: median over rounds of PostgreSQL rps / SQLite rps of the same round. */
  vsSqlite?: number;
}

function summarize(s: Scenario, e: EngineServer, base: Run[], sc: Run[], sqlite: Run[] | undefined): ScenarioResult {
  const ratios = base.map((b, i) => sc[i]!.rps / b.rps);
  const side = (runs: Run[]) => ({ rps: Math.round(median(runs.map((r) => r.rps))), p99Ms: median(runs.map((r) => r.p99Ms)), meanMs: round3(median(runs.map((r) => r.meanMs))), runs });
  const first = s.requests(e)[0]!;
  return {
    id: s.id,
    engine: e.engine,
    title: s.title,
    request: `${first.method} ${first.path}${first.body !== undefined ? ` ${first.body.replace(/[0-9a-f]{40,52}/, '<session id>')}` : ''}`.slice(0, 300),
    baseline: { ...side(base), cpuUsPerRequest: median(base.map((r) => r.cpuUsPerRequest ?? 0)), clientCpuUsPerRequest: median(base.map((r) => r.clientCpuUsPerRequest ?? 0)) },
    swarmcore: {
      ...side(sc),
      cpuUsPerRequest: median(sc.map((r) => r.cpuUsPerRequest ?? 0)),
      clientCpuUsPerRequest: median(sc.map((r) => r.clientCpuUsPerRequest ?? 0)),
      ...(e.engine === 'postgres' ? { dbCpuUsPerRequest: median(sc.map((r) => r.dbCpuUsPerRequest ?? 0)) } : {}),
    },
    ratio: round3(median(ratios)),
    ratioMin: round3(Math.min(...ratios)),
    ratioMax: round3(Math.max(...ratios)),
    ...(e.engine === 'postgres' && sqlite ? { vsSqlite: round3(median(sc.map((r, i) => r.rps / sqlite[i]!.rps))) } : {}),
  };
}

/** The PostgreSQL backend processes serving a database (PostgreSQL runs on this machine). */
async function backendPids(databaseUrl: string): Promise<number[]> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const rows = await withPostgres(POSTGRES_ADMIN_URL, (c) => c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [name]));
  return rows.rows.map((r) => r.pid);
}

const cpuOrZero = (pid: number): number => {
  try {
    return cpuSecondsOf(pid);
  } catch {
    return 0; // exited
  }
};

/** Measures one run of a side, with the CPU its server (and database backends) spent on it. */
async function measure(side: Side, spec: CannonSpec, round: number, expectStatus: number): Promise<Run> {
  const pid = side.server.proc.pid!;
  const dbUrl = side.name === 'baseline' ? null : side.engine.store.databaseUrl;
  const db0 = new Map((dbUrl ? await backendPids(dbUrl) : []).map((p) => [p, cpuOrZero(p)]));
  const cpu0 = cpuOrZero(pid);
  const run = toRun(await cannon(spec), round, spec.connections, expectStatus);
  const cpu = cpuOrZero(pid) - cpu0;
  let dbCpu = 0;
  for (const p of dbUrl ? await backendPids(dbUrl) : []) dbCpu += cpuOrZero(p) - (db0.get(p) ?? 0);
  const per = (seconds: number): number => (run.requests > 0 ? Math.round((seconds * 1e6) / run.requests) : 0);
  return { ...run, cpuUsPerRequest: per(cpu), ...(dbUrl ? { dbCpuUsPerRequest: per(dbCpu) } : {}) };
}

async function runThroughput(o: Options, baseline: ServerProcess, engines: EngineServer[], list: Scenario[], warnings: string[]): Promise<ScenarioResult[]> {
  const sides: Side[] = [
    { name: 'baseline', server: baseline, engine: engines[0]!, expect: () => 200 },
    ...engines.map((e): Side => ({ name: e.server.name, server: e.server, engine: e, expect: (s) => s.swarmcoreStatus })),
  ];
  for (const s of list) for (const side of sides) await checkScenario(side, s);
  const spec = (side: Side, s: Scenario, seconds: number): CannonSpec => ({ url: side.server.url, connections: o.connections, duration: seconds, requests: s.requests(side.engine), badMarkers: ERROR_MARKERS });
  if (o.warmup > 0) {
    for (const s of list) for (const side of sides) await cannon(spec(side, s, o.warmup));
  }
  const runs = new Map<string, Run[]>(); // `${scenario} ${side}`
  for (let round = 1; round <= o.rounds; round++) {
    for (const s of list) {
      // Forward then backward: whichever goes first alternates, so a steady drift costs every side alike.
      const order = round % 2 === 1 ? sides : [...sides].reverse();
      for (const side of order) {
        const run = await measure(side, spec(side, s, o.duration), round, side.expect(s));
        if (side.server.proc.exitCode !== null || side.server.proc.signalCode !== null) throw new Error(`${side.name} died during ${s.id}:\n${side.server.tail()}`);
        if (run.unexpected > 0) warnings.push(`round ${round} ${s.id} ${side.name}: ${run.unexpected} of ${run.requests} requests failed or had an unexpected status or an error answer ${JSON.stringify(run.statusCounts)}${firstErrorNote(run.firstBad)}`);
        const key = `${s.id} ${side.name}`;
        runs.set(key, [...(runs.get(key) ?? []), run]);
        const cpu = run.cpuUsPerRequest !== undefined ? `  CPU ${run.cpuUsPerRequest} µs/req${run.dbCpuUsPerRequest !== undefined ? ` + db ${run.dbCpuUsPerRequest}` : ''}${run.clientCpuUsPerRequest !== undefined ? `, load generator ${run.clientCpuUsPerRequest}` : ''}` : '';
        console.error(`  round ${round} ${s.id.padEnd(15)} ${side.name.padEnd(18)} ${String(run.rps).padStart(6)} req/s  p99 ${run.p99Ms} ms${cpu}`);
      }
    }
  }
  const sqlite = engines.find((e) => e.engine === 'sqlite');
  return list.flatMap((s) => engines.map((e) => summarize(s, e, runs.get(`${s.id} baseline`)!, runs.get(`${s.id} ${e.server.name}`)!, sqlite ? runs.get(`${s.id} ${sqlite.server.name}`) : undefined)));
}

function throughputTable(results: ScenarioResult[]): string {
  const head = ['scenario', 'engine', 'baseline req/s', 'swarmcore req/s', 'ratio', 'round ratios', 'p99 ms base/sc', 'mean ms base/sc', 'pg/sqlite', 'CPU µs/req base / sc + db', 'load gen µs/req base / sc'];
  const rows = results.map((r) => [
    r.id,
    r.engine,
    String(r.baseline.rps),
    String(r.swarmcore.rps),
    r.ratio.toFixed(3),
    `${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)}`,
    `${r.baseline.p99Ms} / ${r.swarmcore.p99Ms}`,
    `${r.baseline.meanMs.toFixed(3)} / ${r.swarmcore.meanMs.toFixed(3)}`,
    r.vsSqlite !== undefined ? r.vsSqlite.toFixed(3) : '',
    `${r.baseline.cpuUsPerRequest} / ${r.swarmcore.cpuUsPerRequest}${r.swarmcore.dbCpuUsPerRequest !== undefined ? ` + ${r.swarmcore.dbCpuUsPerRequest}` : ''}`,
    `${r.baseline.clientCpuUsPerRequest} / ${r.swarmcore.clientCpuUsPerRequest}`,
  ]);
  return textTable(head, rows);
}

function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Login: argon2-bound, so logins/s and CPU per login, then other routes' p99 while 20 logins/s hash

interface LoginRun {
  round: number;
  logins: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU (user + system, all threads) per successful login. */
  cpuMsPerLogin: number;
  unexpected: number;
}

interface MixedRun {
  round: number;
  /** GetCurrentStatus alone (measured once, in round 1). */
  controlRps: number;
  controlP99Ms: number;
  /** GetCurrentStatus while Login runs at LOGIN_RATE/s. */
  statusRps: number;
  statusP99Ms: number;
  loginRps: number;
  loginP99Ms: number;
  unexpected: number;
}

interface LoginResult {
  engine: Engine;
  users: number;
  connections: number;
  runs: LoginRun[];
  loginsPerSecond: number;
  cpuMsPerLogin: number;
  /** 1000 / cpuMsPerLogin: logins one fully busy core could do. */
  loginsPerCpuSecond: number;
  p99Ms: number;
  mixed: MixedRun[];
  /** Median over rounds of GetCurrentStatus p99 while logins run; the target is under 10 ms. */
  statusP99Ms: number;
  statusP99MsMax: number;
  controlP99Ms: number;
}

async function runLogin(o: Options, engine: Engine, profileDir: string | null, warnings: string[]): Promise<LoginResult> {
  const store = await createStoreDir(engine);
  let server: ServerProcess | undefined;
  try {
    server = await startSwarmcore(store, LOGIN_SETTINGS, profileDir);
    const url = server.url;
    const users = Array.from({ length: LOGIN_USERS }, (_, i) => ({ name: `benchuser${i}`, password: `bench-password-${i}` }));
    // Registration hashes with argon2 too; each from its own address (the per-address limit is 5 a minute).
    await pool(users, 4, async (u, i) => {
      const r = await post(url, 'RegisterBasic', { username: u.name, password: clientPrehash(u.name, u.password) }, { 'x-forwarded-for': `10.255.${i >> 8}.${i & 255}` });
      if (failed(r)) throw new Error(`RegisterBasic ${u.name} answered ${r.status} ${JSON.stringify(r.json)}`);
    });
    const loginRequests: CannonRequest[] = users.map((u) => ({ method: 'POST', path: '/API/Login', body: JSON.stringify({ username: u.name, password: clientPrehash(u.name, u.password) }) }));
    const check = await post(url, 'Login', JSON.parse(loginRequests[0]!.body!), { 'x-forwarded-for': '10.254.0.1' });
    if (failed(check)) throw new Error(`Login answered ${check.status} ${JSON.stringify(check.json)}`);
    // The status route's session: a direct connection from this machine is the local owner (localhost bypass).
    const sid = (await newSession(url)).id;
    const statusRequests: CannonRequest[] = [{ method: 'POST', path: '/API/GetCurrentStatus', body: JSON.stringify({ session_id: sid }) }];
    const statusCheck = await post(url, 'GetCurrentStatus', { session_id: sid });
    if (failed(statusCheck)) throw new Error(`GetCurrentStatus with accounts on answered ${statusCheck.status} ${JSON.stringify(statusCheck.json)}`);
    // Every run goes on where the last one stopped (with room for requests in flight at its end): each login
    // has an address of its own, and the users are taken in turn across runs.
    let offset = 0;
    const runLogins = async (seconds: number, rate?: number): Promise<CannonResult> => {
      const r = await cannon({
        url,
        connections: rate ? Math.min(o.loginConnections, rate) : o.loginConnections,
        duration: seconds,
        ...(rate ? { overallRate: rate } : {}),
        requests: loginRequests,
        rotate: true,
        offset,
        badMarkers: ERROR_MARKERS,
      });
      offset += r.requests.total + 100;
      return r;
    };
    // Not `connections`: 50 connections keep the server saturated by GetCurrentStatus alone, and its p99 is then
    // the queue of those 50 (10 ms with no login running), not what hashing does to other routes (bench/README.md).
    const statusSpec = (seconds: number): CannonSpec => ({ url, connections: o.statusConnections, duration: seconds, requests: statusRequests, badMarkers: ERROR_MARKERS });
    if (o.warmup > 0) await runLogins(o.warmup);
    const runs: LoginRun[] = [];
    const mixed: MixedRun[] = [];
    let control: Run | undefined;
    const pid = server.proc.pid!;
    for (let round = 1; round <= o.rounds; round++) {
      const cpu0 = cpuSecondsOf(pid);
      const r = toRun(await runLogins(o.duration), round, o.loginConnections, 200);
      const cpu = cpuSecondsOf(pid) - cpu0;
      const logins = r.requests - r.unexpected;
      runs.push({ round, logins, rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, cpuMsPerLogin: logins > 0 ? round3((cpu * 1000) / logins) : 0, unexpected: r.unexpected });
      if (r.unexpected > 0) warnings.push(`login ${engine} round ${round}: ${r.unexpected} of ${r.requests} logins failed ${JSON.stringify(r.statusCounts)}${firstErrorNote(r.firstBad)}`);
      console.error(`  round ${round} login ${engine.padEnd(8)} ${r.rps} logins/s  p99 ${r.p99Ms} ms  ${runs.at(-1)!.cpuMsPerLogin} ms CPU/login`);

      // GetCurrentStatus alone once (round 1), then with logins every round.
      control ??= toRun(await cannon(statusSpec(o.duration)), round, o.statusConnections, 200);
      const [status, login] = await Promise.all([cannon(statusSpec(o.duration)), runLogins(o.duration, LOGIN_RATE)]);
      const s = toRun(status, round, o.statusConnections, 200);
      const l = toRun(login, round, 1, 200);
      const unexpected = (round === 1 ? control.unexpected : 0) + s.unexpected + l.unexpected;
      if (unexpected > 0) warnings.push(`login+status ${engine} round ${round}: ${unexpected} requests failed (status ${JSON.stringify(s.statusCounts)}, login ${JSON.stringify(l.statusCounts)})${firstErrorNote(l.firstBad ?? s.firstBad)}`);
      mixed.push({ round, controlRps: control.rps, controlP99Ms: control.p99Ms, statusRps: s.rps, statusP99Ms: s.p99Ms, loginRps: round1(l.requests / login.duration), loginP99Ms: l.p99Ms, unexpected });
      console.error(`  round ${round} GetCurrentStatus ${engine.padEnd(8)} p99 ${round === 1 ? `${control.p99Ms} ms alone, ` : ''}${s.p99Ms} ms with ${mixed.at(-1)!.loginRps} logins/s`);
    }
    const cpuMs = median(runs.map((r) => r.cpuMsPerLogin));
    return {
      engine,
      users: LOGIN_USERS,
      connections: o.loginConnections,
      runs,
      loginsPerSecond: Math.round(median(runs.map((r) => r.rps))),
      cpuMsPerLogin: round3(cpuMs),
      loginsPerCpuSecond: cpuMs > 0 ? round1(1000 / cpuMs) : 0,
      p99Ms: median(runs.map((r) => r.p99Ms)),
      mixed,
      statusP99Ms: median(mixed.map((m) => m.statusP99Ms)),
      statusP99MsMax: Math.max(...mixed.map((m) => m.statusP99Ms)),
      controlP99Ms: median(mixed.map((m) => m.controlP99Ms)),
    };
  } finally {
    await server?.stop().catch(() => undefined);
    await store.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Scale: 100,000 live sessions, restart over 1,000,000 stored sessions, a user with 1,000 presets

interface ScaleResult {
  engine: Engine;
  liveSessions: { count: number; seconds: number; perSecond: number; failed: number; rssStartMb: number; rssMb: number };
  restart: { stored: number; fillSeconds: number; listeningMs: number; firstAnswerMs: number; rssMb: number };
  presets: { count: number; answerBytes: number; calls: number; p50Ms: number; p99Ms: number; maxMs: number; meanMs: number };
}

const mb = (bytes: number): number => round1(bytes / 1048576);

/**
 * The raw (client-held) id of stored session i: 40 hex, the same formula in JavaScript and in SQL. Ids without the
 * creation time in front (docs/COMPATIBILITY.md#d53) are keyed by their plain SHA-256, as the server still accepts them.
 */
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const rawSessionId = (i: number): string => md5(String(i)) + md5(`x${i}`).slice(0, 8);
const RAW_ID_SQL = `md5(i::text) || substr(md5('x' || i::text), 1, 8)`;
/** The columns the server's session insert writes (src/store/sql.ts). */
const SESSION_INSERT_COLUMNS = 'id, user_id, origin_address, origin_token, impersonated_by, created_at, last_active';

/** Writes `count` sessions of `userId` straight into the store, shaped as the server writes them (id = SHA-256 of the raw id). */
async function fillSessions(store: StoreDir, userId: string, count: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  if (store.engine === 'sqlite') {
    const db = new Database(path.join(store.dataDir, SQLITE_FILE));
    try {
      db.pragma('journal_mode = WAL');
      const insert = db.prepare(`INSERT INTO sessions (${SESSION_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
      db.transaction(() => {
        for (let i = 1; i <= count; i++) {
          // Spread over the last day, as real activity would be.
          const at = now - (i % 86_400);
          insert.run(createHash('sha256').update(rawSessionId(i)).digest('hex'), userId, '127.0.0.1', null, null, at, at);
        }
      })();
    } finally {
      db.close();
    }
    return;
  }
  await withPostgres(store.databaseUrl!, async (c) => {
    await c.query(
      `INSERT INTO sessions (${SESSION_INSERT_COLUMNS})
       SELECT encode(sha256(convert_to(${RAW_ID_SQL}, 'UTF8')), 'hex'), $1, '127.0.0.1', NULL, NULL, $2::bigint - (i % 86400), $2::bigint - (i % 86400)
       FROM generate_series(1, $3::int) AS i`,
      [userId, now, count],
    );
    await c.query('ANALYZE sessions');
  });
}

async function runScale(engine: Engine, profileDir: (label: string) => string | null, warnings: string[]): Promise<ScaleResult> {
  // (a) live sessions made through the API
  let store = await createStoreDir(engine);
  let server: ServerProcess | undefined;
  try {
    server = await startSwarmcore(store, [], profileDir(`scale-sessions-${engine}`));
    await newSession(server.url);
    const rssStart = rssOf(server.proc.pid!);
    console.error(`  scale ${engine}: ${SCALE_SESSIONS} x GetNewSession`);
    const t0 = performance.now();
    const r = toRun(await cannon({ url: server.url, connections: 32, duration: 0, amount: SCALE_SESSIONS, requests: [{ method: 'POST', path: '/API/GetNewSession', body: '{}' }], badMarkers: ERROR_MARKERS }), 1, 32, 200);
    const seconds = (performance.now() - t0) / 1000;
    if (r.unexpected > 0) warnings.push(`scale ${engine}: ${r.unexpected} of ${r.requests} GetNewSession calls failed ${JSON.stringify(r.statusCounts)}`);
    const liveSessions = { count: r.requests, seconds: round1(seconds), perSecond: Math.round(r.requests / seconds), failed: r.unexpected, rssStartMb: mb(rssStart), rssMb: mb(rssOf(server.proc.pid!)) };
    console.error(`  scale ${engine}: ${liveSessions.count} sessions in ${liveSessions.seconds} s, RSS ${liveSessions.rssStartMb} -> ${liveSessions.rssMb} MB`);
    await server.stop();
    await store.dispose();

    // (b) restart over stored sessions, (c) on the same server: a user with many presets
    store = await createStoreDir(engine);
    server = await startSwarmcore(store, [], null);
    const { userId } = await newSession(server.url);
    await server.stop();
    console.error(`  scale ${engine}: writing ${SCALE_STORED_SESSIONS} sessions into the store`);
    const f0 = performance.now();
    await fillSessions(store, userId, SCALE_STORED_SESSIONS);
    const fillSeconds = round1((performance.now() - f0) / 1000);
    const probe = rawSessionId(SCALE_STORED_SESSIONS);
    const s0 = performance.now();
    server = await startSwarmcore(store, [], profileDir(`scale-restart-presets-${engine}`));
    const listeningMs = Math.round(performance.now() - s0);
    let firstAnswerMs = -1;
    while (performance.now() - s0 < 60_000) {
      const a = await post(server.url, 'GetCurrentStatus', { session_id: probe }).catch(() => null);
      if (a && !failed(a)) {
        firstAnswerMs = Math.round(performance.now() - s0);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (firstAnswerMs < 0) throw new Error(`scale ${engine}: a stored session was not accepted within 60 s of the restart`);
    const restart = { stored: SCALE_STORED_SESSIONS, fillSeconds, listeningMs, firstAnswerMs, rssMb: mb(rssOf(server.proc.pid!)) };
    console.error(`  scale ${engine}: restart over ${SCALE_STORED_SESSIONS} stored sessions: listening after ${listeningMs} ms, first answer after ${firstAnswerMs} ms`);

    const sid = (await newSession(server.url)).id;
    console.error(`  scale ${engine}: adding ${SCALE_PRESETS} presets`);
    await addPresets(server.url, sid, SCALE_PRESETS);
    let answerBytes = 0;
    for (let i = 0; i < 10; i++) await post(server.url, 'GetMyUserData', { session_id: sid });
    const times: number[] = [];
    for (let i = 0; i < SCALE_CALLS; i++) {
      // Timed to the last byte of the answer: the harness's own JSON.parse of 0.5 MB is not the server's time.
      const timing = { ms: 0 };
      const a = await post(server.url, 'GetMyUserData', { session_id: sid }, {}, timing);
      times.push(timing.ms);
      if (failed(a) || !Array.isArray(a.json.presets) || a.json.presets.length !== SCALE_PRESETS) throw new Error(`scale ${engine}: GetMyUserData answered ${a.status} with ${Array.isArray(a.json.presets) ? a.json.presets.length : 'no'} presets`);
      answerBytes = a.bytes;
    }
    const presets = {
      count: SCALE_PRESETS,
      answerBytes,
      calls: SCALE_CALLS,
      p50Ms: round1(percentile(times, 50)),
      p99Ms: round1(percentile(times, 99)),
      maxMs: round1(Math.max(...times)),
      meanMs: round1(times.reduce((a, b) => a + b, 0) / times.length),
    };
    console.error(`  scale ${engine}: GetMyUserData with ${SCALE_PRESETS} presets (${answerBytes} bytes): p50 ${presets.p50Ms} ms, p99 ${presets.p99Ms} ms`);
    return { engine, liveSessions, restart, presets };
  } finally {
    await server?.stop().catch(() => undefined);
    await store.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Targets (issue 9) and the report

interface Target {
  target: string;
  engine: Engine | 'both';
  measured: string;
  met: boolean | null;
}

function targets(results: ScenarioResult[], logins: LoginResult[], scale: ScaleResult[], engines: Engine[]): Target[] {
  const out: Target[] = [];
  const find = (id: string, engine: Engine): ScenarioResult | undefined => results.find((r) => r.id === id && r.engine === engine);
  const ratioTarget = (id: string, label: string, engine: Engine, min: number): void => {
    const r = find(id, engine);
    out.push({ target: `${label} >= ${min} of bare node:http`, engine, measured: r ? `${r.ratio.toFixed(3)} (rounds ${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)})` : 'not measured', met: r ? r.ratio >= min : null });
  };
  for (const e of engines) ratioTarget('session-route', 'GetCurrentStatus', e, 0.85);
  ratioTarget('my-user-data', 'GetMyUserData (20 presets)', 'sqlite', 0.6);
  if (engines.includes('postgres')) {
    const pgUserData = find('my-user-data', 'postgres');
    out.push({ target: 'GetMyUserData (20 presets) on PostgreSQL >= 0.9 of SQLite', engine: 'postgres', measured: pgUserData?.vsSqlite !== undefined ? pgUserData.vsSqlite.toFixed(3) : 'not measured', met: pgUserData?.vsSqlite !== undefined ? pgUserData.vsSqlite >= 0.9 : null });
  }
  ratioTarget('new-session', 'GetNewSession', 'sqlite', 0.4);
  if (engines.includes('postgres')) ratioTarget('new-session', 'GetNewSession', 'postgres', 0.3);
  for (const e of engines) {
    const l = logins.find((x) => x.engine === e);
    out.push({ target: `GetCurrentStatus p99 < 10 ms while ${LOGIN_RATE} logins/s hash`, engine: e, measured: l ? `${l.statusP99Ms} ms (max over rounds ${l.statusP99MsMax}, alone ${l.controlP99Ms})` : 'not measured', met: l ? l.statusP99Ms < 10 : null });
  }
  for (const e of engines) {
    const s = scale.find((x) => x.engine === e);
    out.push({ target: `RSS with ${SCALE_SESSIONS.toLocaleString('en')} live sessions < 200 MB`, engine: e, measured: s ? `${s.liveSessions.rssMb} MB` : 'not measured (--scale)', met: s ? s.liveSessions.rssMb < 200 : null });
    out.push({ target: `restart over ${SCALE_STORED_SESSIONS.toLocaleString('en')} stored sessions: first answer < 2 s`, engine: e, measured: s ? `${s.restart.firstAnswerMs} ms` : 'not measured (--scale)', met: s ? s.restart.firstAnswerMs < 2000 : null });
    out.push({ target: `GetMyUserData, user with ${SCALE_PRESETS.toLocaleString('en')} presets: p99 < 20 ms`, engine: e, measured: s ? `p50 ${s.presets.p50Ms} ms, p99 ${s.presets.p99Ms} ms` : 'not measured (--scale)', met: s ? s.presets.p99Ms < 20 : null });
  }
  return out;
}

function loginTable(logins: LoginResult[]): string {
  return textTable(
    ['engine', 'logins/s', 'p99 ms', 'CPU ms/login', 'logins per CPU s', `status p99 alone / with ${LOGIN_RATE} logins/s`, 'status req/s alone / with'],
    logins.map((l) => [
      l.engine,
      String(l.loginsPerSecond),
      String(l.p99Ms),
      l.cpuMsPerLogin.toFixed(1),
      l.loginsPerCpuSecond.toFixed(1),
      `${l.controlP99Ms} / ${l.statusP99Ms} ms`,
      `${Math.round(median(l.mixed.map((m) => m.controlRps)))} / ${Math.round(median(l.mixed.map((m) => m.statusRps)))}`,
    ]),
  );
}

function scaleTable(scale: ScaleResult[]): string {
  return textTable(
    ['engine', 'live sessions', 'made/s', 'RSS MB start/end', 'stored sessions', 'fill s', 'restart: listening / first answer ms', 'presets', 'GetMyUserData p50/p99 ms', 'answer KB'],
    scale.map((s) => [
      s.engine,
      String(s.liveSessions.count),
      String(s.liveSessions.perSecond),
      `${s.liveSessions.rssStartMb} / ${s.liveSessions.rssMb}`,
      String(s.restart.stored),
      String(s.restart.fillSeconds),
      `${s.restart.listeningMs} / ${s.restart.firstAnswerMs}`,
      String(s.presets.count),
      `${s.presets.p50Ms} / ${s.presets.p99Ms}`,
      String(Math.round(s.presets.answerBytes / 1024)),
    ]),
  );
}

function targetTable(list: Target[]): string {
  return textTable(
    ['engine', 'target', 'measured', 'met'],
    list.map((t) => [t.engine, t.target, t.measured, t.met === null ? '-' : t.met ? 'met' : 'NOT MET']),
  );
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions();
  if (o.build) ensureBuilt();
  if (!existsSync(CLI_JS)) throw new Error('dist/cli.js is missing; run npm run build.');
  const started = new Date();
  const loadBefore = os.loadavg()[0]!;
  const warnings: string[] = [];
  const profileRoot = o.profile ? path.join(RESULTS_DIR, 'profiles', started.toISOString().replace(/[:.]/g, '-')) : null;
  const profileDirs: { label: string; dir: string }[] = [];
  const nextProfileDir = (label: string): string | null => {
    if (!profileRoot) return null;
    const dir = path.join(profileRoot, `swarmcore-${label}`);
    profileDirs.push({ label, dir });
    return dir;
  };

  let engines = o.engines;
  if (engines.includes('postgres')) {
    const problem = await postgresProblem();
    if (problem !== null) {
      engines = engines.filter((e) => e !== 'postgres');
      const line = `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL.replace(/\/\/[^@/]*@/, '//')} (${problem}): measuring SQLite only.`;
      console.error(line);
      warnings.push(line);
      if (engines.length === 0) throw new Error('No engine left to measure.');
    }
  }
  const throughputIds = THROUGHPUT_IDS.filter((id) => wants(o, id));
  const doLogin = wants(o, 'login');
  const doScale = wants(o, 'scale');
  const nE = engines.length;
  const estimate = throughputIds.length * (nE + 1) * (o.warmup + o.rounds * o.duration) + (doLogin ? nE * (10 + o.warmup + (o.rounds * 2 + 1) * o.duration) : 0) + (doScale ? nE * 150 : 0);
  console.error(`swarmcore ${gitDescription()} vs bare node:http on ${engines.join(' and ')}; ${throughputIds.length} throughput scenarios${doLogin ? ', login' : ''}${doScale ? ', scale' : ''}; ${o.rounds} rounds x ${o.duration} s, ${o.connections} connections; about ${Math.ceil(estimate / 60)} min`);

  let baseline: ServerProcess | undefined;
  const servers: EngineServer[] = [];
  let results: ScenarioResult[] = [];
  const logins: LoginResult[] = [];
  const scale: ScaleResult[] = [];
  let staticPath = '';
  const phaseSeconds = { throughput: 0, login: 0, scale: 0 };
  try {
    if (throughputIds.length > 0) {
      for (const engine of engines) {
        const store = await createStoreDir(engine);
        const profileDir = nextProfileDir(engine);
        const server = await startSwarmcore(store, [], profileDir);
        const session = await newSession(server.url);
        const sessionRoute = await pickRoute(server.url, session.id, SESSION_ROUTE_CANDIDATES);
        if (sessionRoute === null) throw new Error(`No session route to measure: none of ${SESSION_ROUTE_CANDIDATES.join(', ')} answers without error.`);
        await addPresets(server.url, session.id, PRESETS_FOR_USER_DATA);
        servers.push({ engine, store, server, sessionId: session.id, sessionRoute, profileDir });
      }
      staticPath = await pickStaticPath(servers[0]!.server.url);
      const staticFile = path.join(ROOT, 'web', staticPath);
      baseline = await startBaseline(staticFile);
      const list = scenarios(staticPath, statSync(staticFile).size).filter((s) => throughputIds.includes(s.id as (typeof THROUGHPUT_IDS)[number]));
      results = await runThroughput(o, baseline, servers, list, warnings);
      for (const s of servers) {
        await s.server.stop();
        await s.store.dispose();
      }
      await baseline.stop();
    }
    phaseSeconds.throughput = Math.round((Date.now() - started.getTime()) / 1000);
    let mark = Date.now();
    if (doLogin) for (const engine of engines) logins.push(await runLogin(o, engine, nextProfileDir(`login-${engine}`), warnings));
    phaseSeconds.login = Math.round((Date.now() - mark) / 1000);
    mark = Date.now();
    if (doScale) for (const engine of engines) scale.push(await runScale(engine, nextProfileDir, warnings));
    phaseSeconds.scale = Math.round((Date.now() - mark) / 1000);

    const profiles: (ProfileSummary & { label: string })[] = [];
    for (const { label, dir } of profileDirs) {
      // One file per thread; the main thread's is the largest.
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
      const file = files.sort((a, b) => statSync(path.join(dir, b)).size - statSync(path.join(dir, a)).size)[0];
      if (file) profiles.push({ label, ...summarizeProfile(path.join(dir, file), 25) });
      else warnings.push(`No CPU profile was written to ${dir}.`);
    }
    if (profileRoot) warnings.push('Measured with --cpu-prof on swarmcore: the ratios are lowered by the profiler and are not comparable with normal runs.');
    const cpus = os.cpus();
    const load = { before: round3(loadBefore), after: round3(os.loadavg()[0]!) };
    // The bench itself keeps about two processes busy; a load well above that means other work competed.
    if (load.before > 1 || load.after > cpus.length + 1) warnings.push(`Other work was running (1-minute load ${load.before} before, ${load.after} after, on ${cpus.length} CPUs): expect wide round ratios.`);
    const targetList = targets(results, logins, scale, engines);
    const report = {
      date: started.toISOString(),
      seconds: Math.round((Date.now() - started.getTime()) / 1000),
      phaseSeconds,
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, load },
      options: { ...o, engines },
      swarmcore: { commit: gitDescription(), settings: [] as string[], sessionRoute: servers[0]?.sessionRoute ?? null },
      method:
        'Per round and scenario: the baseline and swarmcore on each engine measured one after another for `duration` s with autocannon (bench/cannon.ts, separate process, keep-alive, `connections` connections), order reversed every round. rps = requests / elapsed s; ratio = median over rounds of swarmcore rps / baseline rps of the same round; vsSqlite = median over rounds of PostgreSQL rps / SQLite rps. p99 is autocannon\'s (whole ms); meanMs = connections / rps. Login: logins/s with `loginConnections` connections, server CPU from /proc/<pid>/stat per successful login; then GetCurrentStatus with `statusConnections` connections alone and while Login runs at 20/s.',
      scenarios: results,
      login: logins,
      scale,
      targets: targetList,
      warnings,
      ...(profiles.length ? { profiles: profiles.map((p) => ({ ...p, file: path.relative(ROOT, p.file) })) } : {}),
    };
    // Only a full, unprofiled run replaces latest.json; partial and profiled runs are kept aside.
    const out = profileRoot ? path.join(profileRoot, 'result.json') : o.only ? path.join(RESULTS_DIR, 'partial.json') : path.join(RESULTS_DIR, 'latest.json');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
    renameSync(`${out}.tmp`, out);

    console.log('');
    console.log(`swarmcore/baseline (bare node:http), ${report.date}, ${report.machine.cpus} x ${report.machine.cpuModel}, node ${process.version}, load ${load.before} -> ${load.after}, ${report.seconds} s (throughput ${phaseSeconds.throughput}, login ${phaseSeconds.login}, scale ${phaseSeconds.scale})`);
    console.log(`${o.rounds} rounds x ${o.duration} s, ${o.connections} connections; engines ${engines.join(', ')}`);
    if (results.length) {
      console.log('');
      console.log(throughputTable(results));
      console.log('');
      for (const r of results.filter((x) => x.engine === engines[0])) console.log(`  ${r.id}: ${r.title}`);
    }
    if (logins.length) {
      console.log(`\nLogin (${o.loginConnections} connections, ${LOGIN_USERS} users, argon2id): logins/s, server CPU per login; GetCurrentStatus (${o.statusConnections} connections) alone and while ${LOGIN_RATE} logins/s run`);
      console.log(loginTable(logins));
    }
    if (scale.length) {
      console.log('\nScale');
      console.log(scaleTable(scale));
    }
    console.log('\nTargets');
    console.log(targetTable(targetList));
    for (const w of warnings) console.log(`warning: ${w}`);
    for (const p of profiles) console.log(`\nprofile ${p.label}:\n${formatProfileSummary(p)}`);
    console.log(`\nwritten to ${path.relative(ROOT, out)}`);
  } finally {
    for (const s of servers) await s.server.stop().catch(() => undefined);
    await baseline?.stop().catch(() => undefined);
    await runCleanups();
  }
}

let interrupted = false;
const interrupt = (): void => {
  if (interrupted) return;
  interrupted = true;
  for (const child of children) child.kill('SIGKILL');
  // Drop the databases and data dirs this run made before leaving (the servers are gone, so DROP succeeds).
  const exit = (): never => process.exit(130);
  setTimeout(exit, 15_000).unref();
  runCleanups().then(exit, exit);
};
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

main().catch(async (err: unknown) => {
  if (interrupted) return; // the interrupt handler cleans up and exits
  for (const child of children) child.kill('SIGKILL');
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  await runCleanups();
  process.exit(1);
});
