// HTTP benchmark: swarmcore against a bare node:http server (bench/baseline-server.ts), both measured in the
// same run by autocannon as a separate process, alternating rounds so machine drift affects both. Results are
// ratios swarmcore/baseline per scenario. See bench/README.md.
//
//   npm run bench [-- --rounds 3 --duration 5 --warmup 2 --connections 10 --only a,b --profile --no-build]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './profile-summary.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AUTOCANNON = path.join(ROOT, 'node_modules/.bin/autocannon');
const CLI_JS = path.join(ROOT, 'dist/cli.js');
const RESULTS_DIR = path.join(ROOT, 'bench/results');
/** Small files under web/ to GET, best first; the first one swarmcore serves with 200 is used. */
const STATIC_CANDIDATES = ['/imgs/swarmcore.svg', '/js/page.js', '/css/site.css', '/pages/main.html'];
/** Read-only session routes to measure, best first; the first one this build answers without error is used. */
const SESSION_ROUTE_CANDIDATES = ['GetCurrentStatus', 'GetMyUserData'];
/** Used when none of the candidates exists: needs accounts on (sessions come from the localhost bypass). */
const SESSION_ROUTE_FALLBACK = 'ListMyAuthTokens';
const ACCOUNTS_ON = 'UserAuthorization.AuthorizationRequired=true';
const INVALID_SESSION_ID = '0123456789abcdef0123456789abcdef01234567';

interface Options {
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  only: string[] | null;
  profile: boolean;
  build: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '10' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench [-- --rounds N --duration SEC --warmup SEC --connections N --only id,id --profile --no-build]');
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, not '${text}'.`);
    return n;
  };
  return {
    rounds: int('rounds', values.rounds, 1, 20),
    duration: int('duration', values.duration, 1, 60),
    warmup: int('warmup', values.warmup, 0, 30),
    connections: int('connections', values.connections, 1, 256),
    only: values.only ? values.only.split(',').map((s) => s.trim()) : null,
    profile: values.profile,
    build: !values['no-build'],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Processes

interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly proc: ChildProcess;
  /** The last few KB of its stderr, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

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
      reject(new Error(`${name} did not start within 30 s:\n${tail}`));
    }, 30_000);
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

function startSwarmcore(dataDir: string, settings: string[], profileDir: string | null): Promise<ServerProcess> {
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const sets = settings.flatMap((s) => ['--set', s]);
  return startProcess('swarmcore', [...nodeArgs, CLI_JS, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', ...sets], /swarmcore listening on (http:\/\/\S+)/);
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

// ---------------------------------------------------------------------------------------------------------
// Scenarios and autocannon

interface Scenario {
  id: string;
  title: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** The status swarmcore must answer every request with (the baseline always answers 200). */
  swarmcoreStatus: number;
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
  /** Requests answered with another status than expected, or failed. */
  unexpected: number;
}

interface AutocannonJson {
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
}

function autocannon(url: string, s: Scenario, seconds: number, connections: number): Promise<AutocannonJson> {
  const args = ['--json', '--no-progress', '-c', String(connections), '-d', String(seconds), '-m', s.method];
  if (s.body !== undefined) args.push('-H', 'content-type=application/json', '-b', s.body);
  args.push(url + s.path);
  return new Promise((resolve, reject) => {
    const proc = spawn(AUTOCANNON, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(proc);
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4096)));
    const killer = setTimeout(() => proc.kill('SIGKILL'), (seconds + 30) * 1000);
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(killer);
      children.delete(proc);
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}:\n${err}`));
      try {
        resolve(JSON.parse(out) as AutocannonJson);
      } catch {
        reject(new Error(`autocannon printed no JSON:\n${out}\n${err}`));
      }
    });
  });
}

async function measure(server: ServerProcess, s: Scenario, round: number, o: Options, expectStatus: number): Promise<Run> {
  const r = await autocannon(server.url, s, o.duration, o.connections);
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) throw new Error(`${server.name} died during ${s.id}:\n${server.tail()}`);
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
    meanMs: rps > 0 ? Math.round((o.connections / rps) * 1e6) / 1e3 : 0,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCounts,
    unexpected: r.requests.total - expected + r.errors,
  };
}

async function post(url: string, route: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/API/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // checked through the status
  }
  return { status: res.status, json };
}

async function newSession(url: string): Promise<string> {
  const r = await post(url, 'GetNewSession', {});
  if (r.status !== 200 || typeof r.json.session_id !== 'string') throw new Error(`GetNewSession answered ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.session_id;
}

/** The first route of `names` that answers this session with 200 and no error. */
async function pickRoute(url: string, sessionId: string, names: string[]): Promise<string | null> {
  for (const name of names) {
    const r = await post(url, name, { session_id: sessionId });
    if (r.status === 200 && !('error' in r.json) && !('error_id' in r.json)) return name;
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

/** Checks one request of a scenario by hand before it is measured. */
async function checkScenario(server: ServerProcess, s: Scenario, expectStatus: number): Promise<void> {
  const res = await fetch(server.url + s.path, {
    method: s.method,
    redirect: 'manual',
    ...(s.body !== undefined ? { headers: { 'content-type': 'application/json' }, body: s.body } : {}),
  });
  await res.arrayBuffer();
  if (res.status !== expectStatus) throw new Error(`${server.name} answered ${s.method} ${s.path} with ${res.status}, expected ${expectStatus}.`);
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

interface ScenarioResult {
  id: string;
  title: string;
  request: string;
  baseline: { rps: number; p99Ms: number; meanMs: number; runs: Run[] };
  swarmcore: { rps: number; p99Ms: number; meanMs: number; runs: Run[] };
  /** Median over rounds of swarmcore rps / baseline rps of the same round. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
}

function summarize(s: Scenario, base: Run[], sc: Run[]): ScenarioResult {
  const ratios = base.map((b, i) => sc[i]!.rps / b.rps);
  const side = (runs: Run[]) => ({ rps: Math.round(median(runs.map((r) => r.rps))), p99Ms: median(runs.map((r) => r.p99Ms)), meanMs: round3(median(runs.map((r) => r.meanMs))), runs });
  return {
    id: s.id,
    title: s.title,
    request: `${s.method} ${s.path}${s.body !== undefined ? ` ${s.body.replace(/[0-9a-f]{40}/, '<40 hex>')}` : ''}`,
    baseline: side(base),
    swarmcore: side(sc),
    ratio: round3(median(ratios)),
    ratioMin: round3(Math.min(...ratios)),
    ratioMax: round3(Math.max(...ratios)),
  };
}

function table(results: ScenarioResult[]): string {
  const head = ['scenario', 'baseline req/s', 'swarmcore req/s', 'ratio', 'round ratios', 'p99 ms base/sc', 'mean ms base/sc'];
  const rows = results.map((r) => [
    r.id,
    String(r.baseline.rps),
    String(r.swarmcore.rps),
    r.ratio.toFixed(3),
    `${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)}`,
    `${r.baseline.p99Ms} / ${r.swarmcore.p99Ms}`,
    `${r.baseline.meanMs.toFixed(3)} / ${r.swarmcore.meanMs.toFixed(3)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions();
  if (o.build) ensureBuilt();
  if (!existsSync(CLI_JS)) throw new Error('dist/cli.js is missing; run npm run build.');
  const started = new Date();
  const loadBefore = os.loadavg()[0]!;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'swarmcore-bench-'));
  const profileRoot = o.profile ? path.join(RESULTS_DIR, 'profiles', started.toISOString().replace(/[:.]/g, '-')) : null;
  let profileDir: string | null = null;
  let instance = 0;
  const nextProfileDir = (): string | null => (profileRoot ? path.join(profileRoot, `swarmcore-${++instance}`) : null);
  const warnings: string[] = [];
  let baseline: ServerProcess | undefined;
  let swarmcore: ServerProcess | undefined;
  try {
    let settings: string[] = [];
    profileDir = nextProfileDir();
    swarmcore = await startSwarmcore(dataDir, settings, profileDir);
    let sessionId = await newSession(swarmcore.url);
    let sessionRoute = await pickRoute(swarmcore.url, sessionId, SESSION_ROUTE_CANDIDATES);
    if (sessionRoute === null) {
      // No cheap read-only route with accounts off yet: measure ListMyAuthTokens with accounts on instead.
      await swarmcore.stop();
      if (profileDir) rmSync(profileDir, { recursive: true, force: true });
      settings = [ACCOUNTS_ON];
      profileDir = nextProfileDir();
      swarmcore = await startSwarmcore(dataDir, settings, profileDir);
      sessionId = await newSession(swarmcore.url);
      sessionRoute = await pickRoute(swarmcore.url, sessionId, [SESSION_ROUTE_FALLBACK]);
      if (sessionRoute === null) throw new Error(`No session route to measure: none of ${[...SESSION_ROUTE_CANDIDATES, SESSION_ROUTE_FALLBACK].join(', ')} answers without error.`);
      warnings.push(`No ${SESSION_ROUTE_CANDIDATES.join('/')} route yet: measured ${SESSION_ROUTE_FALLBACK} with ${ACCOUNTS_ON} (sessions by localhost bypass) for every scenario.`);
    }
    const staticPath = await pickStaticPath(swarmcore.url);
    const staticFile = path.join(ROOT, 'web', staticPath);
    baseline = await startBaseline(staticFile);

    const all: Scenario[] = [
      { id: 'new-session', title: 'POST /API/GetNewSession (creates and stores a session)', method: 'POST', path: '/API/GetNewSession', body: '{}', swarmcoreStatus: 200 },
      { id: 'session-route', title: `POST /API/${sessionRoute} with a valid session (read-only)`, method: 'POST', path: `/API/${sessionRoute}`, body: JSON.stringify({ session_id: sessionId }), swarmcoreStatus: 200 },
      { id: 'invalid-session', title: 'POST with an unknown session id (401 path)', method: 'POST', path: `/API/${sessionRoute}`, body: JSON.stringify({ session_id: INVALID_SESSION_ID }), swarmcoreStatus: 401 },
      { id: 'static-file', title: `GET ${staticPath} (static file, ${statSync(staticFile).size} bytes)`, method: 'GET', path: staticPath, swarmcoreStatus: 200 },
    ];
    const unknown = (o.only ?? []).filter((id) => !all.some((s) => s.id === id));
    if (unknown.length > 0) throw new Error(`Unknown scenario ${unknown.join(', ')}; scenarios: ${all.map((s) => s.id).join(', ')}.`);
    const scenarios = o.only ? all.filter((s) => o.only!.includes(s.id)) : all;

    const sides = [
      { server: baseline, expect: (_: Scenario) => 200 },
      { server: swarmcore, expect: (s: Scenario) => s.swarmcoreStatus },
    ];
    for (const s of scenarios) for (const side of sides) await checkScenario(side.server, s, side.expect(s));

    const totalSeconds = scenarios.length * 2 * (o.warmup + o.rounds * o.duration);
    console.error(`swarmcore ${gitDescription()} vs bare node:http; ${scenarios.length} scenarios, ${o.rounds} rounds x ${o.duration} s, ${o.connections} connections; about ${totalSeconds} s`);
    if (o.warmup > 0) {
      for (const s of scenarios) for (const side of sides) await autocannon(side.server.url, s, o.warmup, o.connections);
    }
    const runs = new Map<string, { base: Run[]; sc: Run[] }>(scenarios.map((s) => [s.id, { base: [], sc: [] }]));
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of scenarios) {
        // A/B then B/A: whichever goes first alternates, so a steady drift costs both sides alike.
        const order = round % 2 === 1 ? [0, 1] : [1, 0];
        for (const i of order) {
          const side = sides[i]!;
          const run = await measure(side.server, s, round, o, side.expect(s));
          if (run.unexpected > 0) warnings.push(`round ${round} ${s.id} ${side.server.name}: ${run.unexpected} of ${run.requests} requests failed or had an unexpected status ${JSON.stringify(run.statusCounts)}`);
          (i === 0 ? runs.get(s.id)!.base : runs.get(s.id)!.sc).push(run);
          console.error(`  round ${round} ${s.id.padEnd(15)} ${side.server.name.padEnd(9)} ${String(run.rps).padStart(6)} req/s  p99 ${run.p99Ms} ms`);
        }
      }
    }
    await swarmcore.stop();
    await baseline.stop();

    const results = scenarios.map((s) => summarize(s, runs.get(s.id)!.base, runs.get(s.id)!.sc));
    let profile: ProfileSummary | null = null;
    if (profileDir) {
      // One file per thread; the main thread's is the largest.
      const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      const file = files.sort((a, b) => statSync(path.join(profileDir!, b)).size - statSync(path.join(profileDir!, a)).size)[0];
      if (file) profile = summarizeProfile(path.join(profileDir, file), 25);
      else warnings.push(`No CPU profile was written to ${profileDir}.`);
      warnings.push('Measured with --cpu-prof on swarmcore: the ratios are lowered by the profiler and are not comparable with normal runs.');
    }
    const cpus = os.cpus();
    const load = { before: round3(loadBefore), after: round3(os.loadavg()[0]!) };
    // The bench itself keeps about two processes busy; a load well above that means other work competed.
    if (load.before > 1 || load.after > cpus.length + 1) warnings.push(`Other work was running (1-minute load ${load.before} before, ${load.after} after, on ${cpus.length} CPUs): expect wide round ratios.`);
    const report = {
      date: started.toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, load },
      options: o,
      swarmcore: { commit: gitDescription(), settings, sessionRoute },
      method: 'Per round and scenario: baseline and swarmcore each measured for `duration` s with autocannon (separate process, keep-alive, `connections` connections), order alternating per round. rps = requests / elapsed s; ratio = median over rounds of swarmcore rps / baseline rps of the same round. p99 is autocannon\'s (whole ms); meanMs = connections / rps.',
      scenarios: results,
      warnings,
      ...(profile ? { profile: { ...profile, file: path.relative(ROOT, profile.file) } } : {}),
    };
    // Only a full, unprofiled run replaces latest.json; partial and profiled runs are kept aside.
    const out = profileRoot ? path.join(profileRoot, 'result.json') : o.only ? path.join(RESULTS_DIR, 'partial.json') : path.join(RESULTS_DIR, 'latest.json');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${out}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
    renameSync(`${out}.tmp`, out);

    console.log('');
    console.log(`swarmcore/baseline (bare node:http), ${report.date}, ${report.machine.cpus} x ${report.machine.cpuModel}, node ${process.version}`);
    console.log(`${o.rounds} rounds x ${o.duration} s, ${o.connections} connections; session route ${sessionRoute}${settings.length ? ` (--set ${settings.join(' --set ')})` : ''}`);
    console.log('');
    console.log(table(results));
    console.log('');
    for (const r of results) console.log(`  ${r.id}: ${r.title}`);
    for (const w of warnings) console.log(`warning: ${w}`);
    if (profile) console.log(`\n${formatProfileSummary(profile)}`);
    console.log(`\nwritten to ${path.relative(ROOT, out)}`);
  } finally {
    await swarmcore?.stop().catch(() => undefined);
    await baseline?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const interrupt = (): void => {
  for (const child of children) child.kill('SIGKILL');
  process.exit(130);
};
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

main().catch((err: unknown) => {
  for (const child of children) child.kill('SIGKILL');
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
