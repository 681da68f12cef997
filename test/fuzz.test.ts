// Bad input never crashes the server: thousands of malformed requests against every registered route, each
// answered with the reference's error shape, and the server keeps serving (reference/01 §2.11).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { TestServer } from './helpers/server.js';

let server: TestServer;
let sid: string;
let routes: string[];
before(async () => {
  server = await TestServer.start();
  sid = await server.session();
  // Every route the server knows, plus a few it does not.
  const { Core } = await import('../src/core.js');
  const core = await Core.open({ dataDir: server.dataDir });
  routes = [...core.routes.all().map((r) => r.name), 'NoSuchRoute', 'login/', ''];
  await core.close();
});
after(() => server.close());

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -0, 2 ** 53 + 1, '', ' ', 'x'.repeat(5000), '\u0000\u202e\ud800', '../../etc/passwd', '<script>', [], [1, 'a', null], {}, { a: { b: [] } }, 'none', 'True', '2025-01-01T00:00:00Z'];
const PARAM_NAMES = ['username', 'password', 'impersonateUser', 'reason', 'tokenId', 'title', 'description', 'param_map', 'preview_image', 'is_edit', 'editing', 'preset', 'settings', 'keyType', 'key', 'edits', 'language', 'message', 'other_sessions', 'oldPassword', 'newPassword', 'titles', 'theme', 'models'];

interface Req {
  route: string;
  method: string;
  contentType: string | null;
  body: Buffer;
  kind: string;
}

function makeRequest(r: () => number, i: number): Req {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const route = pick(routes);
  const kind = pick(['wrong-types', 'wrong-types', 'wrong-types', 'missing-fields', 'non-object', 'invalid-utf8', 'truncated', 'wrong-content-type', 'deep', 'wrong-method', 'no-session']);
  const input: Record<string, unknown> = kind === 'no-session' ? {} : { session_id: r() < 0.9 ? sid : pick(WEIRD_VALUES) };
  if (kind === 'wrong-types' || kind === 'no-session') for (let k = 0; k < 1 + r() * 5; k++) input[pick(PARAM_NAMES)] = pick(WEIRD_VALUES);
  let text = JSON.stringify(input);
  let body = Buffer.from(text);
  if (kind === 'non-object') body = Buffer.from(JSON.stringify(pick([[input], 'text', 42, null, true])));
  if (kind === 'invalid-utf8') body = Buffer.concat([Buffer.from(text.slice(0, -1)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"x"}')]);
  if (kind === 'truncated') body = Buffer.from(text.slice(0, Math.max(1, Math.floor(text.length * r()))));
  if (kind === 'deep') {
    text = `{"session_id":"${sid}","settings":${'['.repeat(500 + (i % 5000))}${']'.repeat(500 + (i % 5000))}}`;
    body = Buffer.from(text);
  }
  const contentType = kind === 'wrong-content-type' ? pick([null, 'text/plain', 'text/json', 'multipart/form-data', 'application/jsonx']) : 'application/json';
  const method = kind === 'wrong-method' ? pick(['GET', 'PUT', 'DELETE', 'PATCH']) : 'POST';
  return { route, method, contentType, body, kind };
}

function send(req: Req): Promise<{ status: number; text: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const headers: Record<string, string | number> = {};
    if (req.contentType) headers['Content-Type'] = req.contentType;
    if (req.method !== 'GET') headers['Content-Length'] = req.body.length;
    const r = http.request({ host: url.hostname, port: url.port, path: `/API/${req.route}`, method: req.method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    let answered = false;
    r.on('response', () => (answered = true));
    // The server may close the connection before a refused body is fully sent; only a missing answer is an error.
    r.on('error', (err) => (answered ? undefined : reject(err)));
    r.end(req.method === 'GET' ? undefined : req.body);
  });
}

/** Checks one answer has the reference's shape. */
function checkShape(req: Req, res: { status: number; text: string; location?: string }): void {
  const label = `${req.kind} ${req.method} /API/${req.route}: ${res.status} ${res.text.slice(0, 200)}`;
  if (req.method !== 'POST') {
    assert.equal(res.status, 302, label);
    assert.equal(res.location, '/Error/NoGetAPI', label);
    return;
  }
  assert.ok([200, 400, 401].includes(res.status), label);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  assert.equal(typeof body, 'object', label);
  if (res.status !== 200) {
    assert.equal(typeof body.error_id, 'string', label);
    assert.equal(typeof body.error, 'string', label);
  }
  if (req.kind === 'wrong-content-type') assert.deepEqual(body, { error: 'Wrong content type', error_id: 'basic_api' }, label);
  if (req.kind === 'invalid-utf8') assert.equal(body.error_id, 'internal_error', label);
  if (req.kind === 'non-object' || req.kind === 'deep') assert.ok(body.error_id === 'internal_error', label);
}

test('5,000 malformed requests to every route never crash the server and each gets the error shape', async () => {
  const r = rng(20261128);
  const requests = Array.from({ length: 5000 }, (_, i) => makeRequest(r, i));
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const req = requests[next++]!;
      counts[req.kind] = (counts[req.kind] ?? 0) + 1;
      checkShape(req, await send(req));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  assert.equal(Object.keys(counts).length, 9, JSON.stringify(counts));
  assert.equal(server.proc.exitCode, null);
  const alive = await server.api('GetNewSession');
  assert.match(alive.body.session_id as string, /^[0-9a-f]{40}$/);
});

test('10 MB bodies to sessionless routes are refused with bad content length and the server keeps serving', async () => {
  for (const route of ['Login', 'GetNewSession', 'RegisterBasic']) {
    const res = await send({ route, method: 'POST', contentType: 'application/json', body: Buffer.alloc(10 * 1024 * 1024, 0x20), kind: 'big' });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.text), { error: 'bad content length', error_id: 'basic_api' });
  }
  assert.match((await server.api('GetNewSession')).body.session_id as string, /^[0-9a-f]{40}$/);
});

test('concurrent calls on one session and one user all get answers', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => server.call(i % 2 ? 'GetNewSession' : 'ListMyAuthTokens', sid)));
  for (const res of results) assert.equal(res.status, 200);
});
