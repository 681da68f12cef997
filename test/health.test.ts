// GET /health/live and /health/ready: outside /API/, no session, limited by Network.HealthAllowedIPs (the client
// address as the rate limits see it), and readiness that really asks the database: on PostgreSQL, a database that
// refuses connections or a lost LISTEN connection turns it 503 with the reason, and it comes back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_URL, createTestDatabase, postgresAvailable, withPostgres } from './helpers/postgres.js';
import { get, type GetAnswer } from './helpers/get.js';
import { TestServer, eventually, needsService } from './helpers/server.js';

const REFUSED = (path: string, setting: string): unknown => ({ error: `This address may not read ${path} (see ${setting}).`, error_id: 'address_refused' });

describe('health endpoints', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start();
  });
  after(() => server.close());

  test('/health/live and /health/ready answer 200 JSON without a session, and HEAD answers without a body', async () => {
    const live = await get(`${server.url}/health/live`);
    assert.equal(live.status, 200);
    assert.equal(live.headers['content-type'], 'application/json');
    assert.equal(live.headers['cache-control'], 'no-store');
    assert.deepEqual(live.body, { status: 'live' });
    const ready = await get(`${server.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
    const head = await get(`${server.url}/health/ready`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  test('health checks create no session and make no API call (the metrics say so)', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await get(`${server.url}/health/ready`)).status, 200);
    const metrics = (await get(`${server.url}/metrics`)).text;
    assert.match(metrics, /^swarmcore_live_sessions 0$/m);
    assert.doesNotMatch(metrics, /^swarmcore_api_calls_total\{/m);
    assert.match(metrics, /^swarmcore_http_requests_total\{route="health",status="200"\} (2[2-9]|[3-9]\d)$/m);
  });

  test('other spellings of the paths are not the health endpoints', async () => {
    // The endpoints are exact paths; anything else is an ordinary (missing) page.
    for (const path of ['/Health/Live', '/health/live/', '/health/ready/x', '/METRICS']) {
      const r = await get(`${server.url}${path}`);
      assert.deepEqual([r.status, r.headers.location], [302, '/Error/404'], path);
    }
    // A query string is not part of the path.
    assert.deepEqual((await get(`${server.url}/health/live?probe=1`)).body, { status: 'live' });
  });
});

describe('Network.HealthAllowedIPs', () => {
  let server: TestServer;
  before(async () => {
    server = await TestServer.start({ settings: { 'Network.HealthAllowedIPs': '127.0.0.1,127.0.1.0/30,10.9.8.7', 'Network.TrustedProxies': '127.0.0.1' } });
  });
  after(() => server.close());

  test('an address in the list (exact or in a CIDR range) reads health; any other gets 403 address_refused', async () => {
    assert.deepEqual((await get(`${server.url}/health/live`, { localAddress: '127.0.0.1' })).body, { status: 'live' });
    assert.deepEqual((await get(`${server.url}/health/ready`, { localAddress: '127.0.1.2' })).body, { status: 'ready' });
    for (const address of ['127.0.0.2', '127.0.1.4']) {
      for (const path of ['/health/live', '/health/ready']) {
        const r = await get(`${server.url}${path}`, { localAddress: address });
        assert.equal(r.status, 403, `${address} ${path}`);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.deepEqual(r.body, REFUSED(path, 'Network.HealthAllowedIPs'));
      }
    }
  });

  test('behind a trusted proxy the forwarded client address decides, as for the rate limits', async () => {
    const allowed = await get(`${server.url}/health/live`, { headers: { 'X-Forwarded-For': '10.9.8.7' } });
    assert.deepEqual(allowed.body, { status: 'live' });
    const refused = await get(`${server.url}/health/live`, { headers: { 'X-Forwarded-For': '10.9.8.6' } });
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, REFUSED('/health/live', 'Network.HealthAllowedIPs'));
    // From an untrusted address the header is not believed: 127.0.0.2 itself is judged (and refused).
    const spoofed = await get(`${server.url}/health/live`, { localAddress: '127.0.0.2', headers: { 'X-Forwarded-For': '10.9.8.7' } });
    assert.equal(spoofed.status, 403);
  });
});

test('health endpoints answer a load balancer that lacks the Network.RequiredAuthorization secret; the rest still needs it', async () => {
  const server = await TestServer.start({ settings: { 'Network.RequiredAuthorization': 'Bearer s3cret' } });
  try {
    // 127.0.0.2 is not in Network.AuthBypassIPs.
    assert.equal((await get(`${server.url}/`, { localAddress: '127.0.0.2' })).status, 401);
    assert.deepEqual((await get(`${server.url}/health/ready`, { localAddress: '127.0.0.2' })).body, { status: 'ready' });
  } finally {
    await server.close();
  }
});

describe('readiness on PostgreSQL', () => {
  let available = false;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let server: TestServer | undefined;
  let name = '';
  before(async () => {
    available = await postgresAvailable();
    if (!available) return;
    db = await createTestDatabase();
    name = new URL(db.url).pathname.slice(1);
    server = await TestServer.start({ databaseUrl: db.url });
  });
  after(async () => {
    if (available) await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => undefined);
    await server?.close();
    await db?.drop();
  });
  const admin = (sql: string): Promise<unknown> => withPostgres(ADMIN_URL, (c) => c.query(sql));
  const ready = (): Promise<GetAnswer> => get(`${server!.url}/health/ready`);
  const NOT_REACHABLE = { status: 'not_ready', reason: 'The database cannot be reached.' };
  const BUS_DOWN = { status: 'not_ready', reason: 'The cluster event connection (PostgreSQL LISTEN) is down; reconnecting.' };

  test('a database that refuses connections makes /health/ready 503 with the reason, and 200 again once it is back', async (t) => {
    if (!needsService(t, available, `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host}`)) return;
    assert.deepEqual((await ready()).body, { status: 'ready' });
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
    let last: GetAnswer | undefined;
    assert.ok(await eventually(async () => ((last = await ready()), last.status === 503)), 'readiness turns 503');
    assert.deepEqual(last!.body, NOT_REACHABLE);
    // Liveness is about the process, not the database.
    assert.deepEqual((await get(`${server!.url}/health/live`)).body, { status: 'live' });
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    assert.ok(await eventually(async () => ((last = await ready()), last.status === 200)), `readiness comes back: ${last?.text}`);
    assert.deepEqual(last!.body, { status: 'ready' });
  });

  test('a lost LISTEN connection makes /health/ready 503 while the queries still work, and 200 once it reconnects', async (t) => {
    if (!needsService(t, available, `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host}`)) return;
    assert.ok(await eventually(async () => (await ready()).status === 200));
    // New connections are refused, so the event connection cannot come back; the pool keeps the connection it
    // has (the polling below keeps it in use), so the store itself still answers.
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND query LIKE 'LISTEN %'`);
    let last: GetAnswer | undefined;
    assert.ok(await eventually(async () => ((last = await ready()), last.status === 503 && JSON.stringify(last.body) === JSON.stringify(BUS_DOWN))), `readiness names the event connection: ${last?.text}`);
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    assert.ok(await eventually(async () => ((last = await ready()), last.status === 200)), `readiness comes back: ${last?.text}`);
    assert.deepEqual(last!.body, { status: 'ready' });
  });
});
