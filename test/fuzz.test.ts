// Bad input never crashes the server: a seeded slice of the fuzzer in bench/fuzzer.ts (the long run is
// `npm run fuzz`) over every declared route and WebSocket route, plus oversized bodies and concurrent calls.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { runFuzz } from '../bench/fuzzer.js';
import { TestServer } from './helpers/server.js';

let server: TestServer;
let sid: string;
before(async () => {
  server = await TestServer.start();
  sid = await server.session();
});
after(() => server.close());

/** Fixed, so a failure here replays with `npm run fuzz -- --seed 20261129 --requests 1500 --lanes 2`. */
const SLICE_SEED = 20261129;

test('1,500 seeded hostile calls over every route: answers in the error shape, no 5xx, no leak, refused calls change nothing', async () => {
  const r = await runFuzz({ seed: SLICE_SEED, requests: 1500, lanes: 2 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.requests, 1500);
  assert.deepEqual(
    r.routes.filter((name) => !r.byRoute[name]),
    [],
    'every declared route was called',
  );
  assert.ok(r.routes.includes('InstallConfirmWS') && r.webSocketCalls > 0, 'WebSocket routes were called over a WebSocket');
  assert.ok(r.succeeded > 0 && r.refused > 0, `both successes and refusals: ${r.succeeded}/${r.refused}`);
  for (const kind of ['valid', 'wrong-types', 'bad-session', 'invalid-utf8', 'truncated', 'swapped-transport', 'proto-keys']) assert.ok(r.byKind[kind]! > 0, kind);
});

function send(req: { route: string; method: string; contentType: string | null; body: Buffer }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    const headers: Record<string, string | number> = { 'Content-Length': req.body.length };
    if (req.contentType) headers['Content-Type'] = req.contentType;
    const r = http.request({ host: url.hostname, port: url.port, path: `/API/${req.route}`, method: req.method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    let answered = false;
    r.on('response', () => (answered = true));
    // The server may close the connection before a refused body is fully sent; only a missing answer is an error.
    r.on('error', (err) => (answered ? undefined : reject(err)));
    r.end(req.body);
  });
}

test('10 MB bodies to sessionless routes are refused as too large and the server keeps serving', async () => {
  for (const route of ['Login', 'GetNewSession', 'RegisterBasic']) {
    const res = await send({ route, method: 'POST', contentType: 'application/json', body: Buffer.alloc(10 * 1024 * 1024, 0x20) });
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(res.text), { error: `bad content length: the body is too large, ${route} accepts at most 65535 bytes`, error_id: 'basic_api' });
  }
  assert.match((await server.api('GetNewSession')).body.session_id as string, /^[0-9a-f]{52}$/);
});

test('concurrent calls on one session and one user all get answers', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => server.call(i % 2 ? 'GetNewSession' : 'ListMyAuthTokens', sid)));
  for (const res of results) assert.equal(res.status, 200);
});
