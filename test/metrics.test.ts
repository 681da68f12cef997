// GET /metrics: Prometheus text from the server's own registry, limited to Network.MetricsAllowedIPs (loopback by
// default), with labels from declared names and fixed kinds only (never a raw path, a user name or an id).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startServer } from '../src/http/server.js';
import { get } from './helpers/get.js';
import { TestServer, eventually } from './helpers/server.js';

/** The value of one exact series line (`name{labels}`), or null when the series is absent. */
function series(text: string, line: string): number | null {
  for (const l of text.split('\n')) {
    if (l.startsWith(`${line} `)) return Number(l.slice(line.length + 1));
  }
  return null;
}

describe('metrics of one server', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(() => server.close());
  const metrics = async (): Promise<string> => {
    const r = await get(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    return r.text;
  };

  test('the answer is Prometheus text with the process metrics and the swarmcore families', async () => {
    const r = await get(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    for (const family of ['swarmcore_http_requests_total counter', 'swarmcore_http_request_duration_seconds histogram', 'swarmcore_api_calls_total counter', 'swarmcore_logins_total counter', 'swarmcore_rate_limit_refusals_total counter', 'swarmcore_store_call_duration_seconds histogram', 'swarmcore_cluster_event_lag_seconds histogram', 'swarmcore_live_sessions gauge', 'process_cpu_user_seconds_total counter', 'nodejs_eventloop_lag_seconds gauge']) {
      assert.ok(r.text.includes(`# TYPE ${family}\n`), family);
    }
  });

  test('requests are counted by declared route name or a fixed kind, never by their path, user name or id', async () => {
    const sid = await server.session();
    await server.call('GetCurrentStatus', sid);
    await server.call('NoSuchRoute_7f3a9c', sid);
    await get(`${server.url}/View/someone_secret_name/raw/abc123.png`);
    await get(`${server.url}/css/nothing-here-4711.css`);
    await get(`${server.url}/`);
    const text = await metrics();
    assert.equal(series(text, 'swarmcore_api_calls_total{route="GetNewSession",transport="http",outcome="success"}'), 1);
    assert.equal(series(text, 'swarmcore_api_calls_total{route="GetCurrentStatus",transport="http",outcome="success"}'), 1);
    assert.equal(series(text, 'swarmcore_api_calls_total{route="unknown",transport="http",outcome="bad_route"}'), 1);
    assert.equal(series(text, 'swarmcore_http_requests_total{route="GetCurrentStatus",status="200"}'), 1);
    assert.equal(series(text, 'swarmcore_http_requests_total{route="unknown",status="400"}'), 1);
    assert.equal(series(text, 'swarmcore_http_request_duration_seconds_count{route="GetCurrentStatus"}'), 1);
    for (const raw of ['NoSuchRoute_7f3a9c', 'someone_secret_name', 'abc123', 'nothing-here-4711', sid]) assert.ok(!text.includes(raw), `${raw} is not in the metrics`);
    // Every route label is a declared route name or one of the fixed kinds.
    const kinds = new Set(['health', 'metrics', 'page', 'static', 'view_special', 'extension_file', 'unknown', 'GetNewSession', 'GetCurrentStatus']);
    const labels = [...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]!);
    assert.deepEqual(labels.filter((l) => !kinds.has(l)), []);
  });

  test('live sessions is a gauge of the sessions this instance holds', async () => {
    const before = series(await metrics(), 'swarmcore_live_sessions')!;
    await server.session();
    await server.session();
    assert.equal(series(await metrics(), 'swarmcore_live_sessions'), before + 2);
  });

  test('store calls are timed by operation', async () => {
    const text = await metrics();
    assert.ok(series(text, 'swarmcore_store_call_duration_seconds_count{operation="read",outcome="ok"}')! > 0);
    assert.ok(series(text, 'swarmcore_store_call_duration_seconds_count{operation="write",outcome="ok"}')! > 0);
  });

  test('logins are counted by result and the refusal by its rate-limit rule', async () => {
    // Five attempts per address a minute: five wrong passwords, then the rate limit.
    for (let i = 0; i < 6; i++) await server.api('Login', { username: 'nobody_here', password: 'wrong-password' });
    const text = await metrics();
    assert.equal(series(text, 'swarmcore_logins_total{result="failure"}'), 5);
    assert.equal(series(text, 'swarmcore_logins_total{result="rate_limited"}'), 1);
    assert.equal(series(text, 'swarmcore_rate_limit_refusals_total{rule="login-address"}'), 1);
    assert.equal(series(text, 'swarmcore_api_calls_total{route="Login",transport="http",outcome="ratelimit"}'), 1);
    assert.ok(!text.includes('nobody_here'));
  });

  test('an event another process publishes is received with its lag measured', async () => {
    // The CLI is another process on the same data: its setting change reaches the server as a cluster event.
    const r = await server.cli(['settings', 'set', 'UserAuthorization.InstanceTitle', 'Metrics test']);
    assert.equal(r.code, 0, r.stderr);
    let text = '';
    assert.ok(await eventually(async () => ((text = await metrics()), (series(text, 'swarmcore_cluster_event_lag_seconds_count{event="settings.changed"}') ?? 0) >= 1)), 'the lag of settings.changed is observed');
    assert.ok(series(text, 'swarmcore_cluster_event_lag_seconds_sum{event="settings.changed"}')! >= 0);
  });

  test('another client address is refused 403 by the default Network.MetricsAllowedIPs (loopback only)', async () => {
    const r = await get(`${server.url}/metrics`, { localAddress: '127.0.0.2' });
    assert.equal(r.status, 403);
    assert.deepEqual(r.body, { error: 'This address may not read /metrics (see Network.MetricsAllowedIPs).', error_id: 'address_refused' });
    // ::1 is in the default list too; 127.0.0.1 was allowed above.
  });
});

test('an empty Network.MetricsAllowedIPs lets any address read /metrics', async () => {
  const server = await TestServer.start({ settings: { 'Network.MetricsAllowedIPs': '' } });
  try {
    const r = await get(`${server.url}/metrics`, { localAddress: '127.0.0.2' });
    assert.equal(r.status, 200);
    assert.match(r.text, /^# TYPE swarmcore_live_sessions gauge$/m);
  } finally {
    await server.close();
  }
});

test('two servers in one process keep their own metrics', async () => {
  const dirs = [mkdtempSync(path.join(tmpdir(), 'swarmcore-metrics-')), mkdtempSync(path.join(tmpdir(), 'swarmcore-metrics-'))];
  const [a, b] = await Promise.all(dirs.map((dataDir) => startServer({ dataDir, port: 0, logger: pino({ level: 'silent' }) })));
  try {
    const post = (url: string): Promise<Response> => fetch(`${url}/API/GetNewSession`, { method: 'POST', headers: { 'Content-Type': 'application/json', Connection: 'close' }, body: '{}' });
    for (let i = 0; i < 3; i++) await (await post(a!.url)).text();
    await (await post(b!.url)).text();
    const line = 'swarmcore_api_calls_total{route="GetNewSession",transport="http",outcome="success"}';
    assert.equal(series((await get(`${a!.url}/metrics`)).text, line), 3);
    assert.equal(series((await get(`${b!.url}/metrics`)).text, line), 1);
  } finally {
    await a!.close();
    await b!.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

describe('per-request metric cells', () => {
  test('a cell counter and histogram print exactly what prom-client prints for the same counts and observations', async () => {
    const { Counter, Histogram, Registry } = await import('prom-client');
    const { CellCounter, CellHistogram } = await import('../src/ops/metric-cells.js');
    const bounds = [0.001, 0.0025, 0.005, 0.01];
    const ours = new Registry();
    const theirs = new Registry();
    const cellCounter = new CellCounter('t_requests_total', 'Requests.', ['route', 'status'], ours);
    const cellHistogram = new CellHistogram('t_duration_seconds', 'Durations.', ['route'], bounds, ours);
    const counter = new Counter({ name: 't_requests_total', help: 'Requests.', labelNames: ['route', 'status'], registers: [theirs] });
    const histogram = new Histogram({ name: 't_duration_seconds', help: 'Durations.', labelNames: ['route'], buckets: bounds, registers: [theirs] });
    // Values on a bound, between bounds and above the last, for two label sets in interleaved order.
    const calls: Array<[string, string, number]> = [['A', '200', 0.001], ['B', '401', 0.0011], ['A', '200', 0.003], ['A', '404', 0.5], ['B', '401', 0.0025], ['A', '200', 0]];
    for (const [route, status, seconds] of calls) {
      cellCounter.inc(route, status);
      counter.inc({ route, status });
      cellHistogram.observe(seconds, route);
      histogram.observe({ route }, seconds);
    }
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.ok(text.includes('t_duration_seconds_bucket{le="0.001",route="A"} 2\n'), text);
    assert.ok(text.includes('t_duration_seconds_bucket{le="+Inf",route="A"} 4\n'), text);
    assert.ok(text.includes('t_requests_total{route="B",status="401"} 2\n'), text);
  });
});
