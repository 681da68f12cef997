// One autocannon measurement in its own process, for bench/run.ts: the load generator never shares an event
// loop with the harness or the server. Takes a JSON spec file, prints autocannon's result as JSON on stdout
// with `badBodies` (answers of status 200 whose body holds an error) added.
//
//   node --import tsx bench/cannon.ts <spec.json>
//
// Requests: `requests` is cycled by every connection, each connection starting one further along the list, so
// a list of edits spreads over its targets. With `rotate`, every request instead takes the next body of the
// list across all connections and a `X-Forwarded-For` address of its own (logins through a trusted proxy,
// so the per-address and per-user login limits are not what is measured).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface CannonRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

export interface CannonSpec {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration: number;
  /** Stop after this many requests in all. */
  amount?: number;
  /** Requests per second over all connections. */
  overallRate?: number;
  requests: CannonRequest[];
  rotate?: boolean;
  /** With `rotate`: where this run's count starts, so consecutive runs use new addresses and go on through the list. */
  offset?: number;
  /** Count 200 answers whose body contains one of these strings as bad. */
  badMarkers?: string[];
}

export interface CannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
  requests: { total: number; average: number };
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  badBodies: number;
  firstBad: string | null;
  /** CPU µs (user + system) the load generator's process spent on the run. */
  cpuMicros?: number;
}

interface Built {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  setupRequest?: (req: Built) => Built;
  onResponse?: (status: number, body: string) => void;
}
interface Client {
  setRequests(requests: Built[]): void;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<Omit<CannonResult, 'badBodies' | 'firstBad'>>;

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as CannonSpec;
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  let badBodies = 0;
  let firstBad: string | null = null;
  const markers = spec.badMarkers ?? [];
  const onResponse = markers.length
    ? (status: number, body: string): void => {
        if (status !== 200 || !markers.some((m) => body.includes(m))) return;
        badBodies++;
        firstBad ??= body.slice(0, 300);
      }
    : undefined;
  const headersOf = (r: CannonRequest): Record<string, string> => (r.body !== undefined ? { 'content-type': 'application/json' } : {});
  const build = (r: CannonRequest): Built => ({
    method: r.method,
    path: r.path,
    headers: headersOf(r),
    ...(r.body !== undefined ? { body: r.body } : {}),
    ...(onResponse ? { onResponse } : {}),
  });
  let next = spec.offset ?? 0;
  const rotating = (): Built => ({
    ...build(spec.requests[0]!),
    setupRequest: (req: Built): Built => {
      const n = next++;
      const r = spec.requests[n % spec.requests.length]!;
      // 10.0.0.0/8 gives 16 million addresses: one per request.
      return { ...req, path: r.path, body: r.body!, headers: { ...headersOf(r), 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` } };
    },
  });
  let clientNo = 0;
  // The load generator's own CPU: on these 2-core machines it shares the cores with the server, so an answer
  // that costs it more to read (a large one) lowers the ceiling of both sides.
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration }),
    ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
    setupClient: (client: Client) => {
      if (spec.rotate) return client.setRequests([rotating()]);
      const n = clientNo++ % spec.requests.length;
      client.setRequests([...spec.requests.slice(n), ...spec.requests.slice(0, n)].map(build));
    },
  });
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(JSON.stringify({ ...result, badBodies, firstBad, cpuMicros: cpu.user + cpu.system }));
}

main().catch((err: unknown) => {
  process.stderr.write(`cannon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
