// The API envelope (docs/COMPATIBILITY.md#envelope): every outcome of docs/COMPATIBILITY.md#error-ids with its
// exact status and body.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { TestServer } from './helpers/server.js';

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.close());

async function raw(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(server.url + path, { redirect: 'manual', ...init });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain text answers stay text
  }
  return { status: res.status, body, headers: res.headers };
}

describe('request intake', () => {
  test('a wrong content type is refused with basic_api before anything else', async () => {
    for (const type of ['text/plain', 'text/json', 'application/x-www-form-urlencoded', '']) {
      const res = await raw('/API/GetNewSession', { method: 'POST', headers: type ? { 'Content-Type': type } : {}, body: '{}' });
      assert.equal(res.status, 400, type);
      assert.deepEqual(res.body, { error: 'Wrong content type', error_id: 'basic_api' });
    }
  });

  test('application/json with parameters and +json media types are accepted', async () => {
    for (const type of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/ld+json']) {
      const res = await raw('/API/GetNewSession', { method: 'POST', headers: { 'Content-Type': type }, body: '{}' });
      assert.equal(res.status, 200, type);
      assert.match((res.body as { session_id: string }).session_id, /^[0-9a-f]{52}$/);
    }
  });

  test('an empty body is a bad content length', async () => {
    const res = await raw('/API/GetNewSession', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'bad content length', error_id: 'basic_api' });
  });

  test('sessionless routes refuse bodies of 64 KiB and more without reading them, saying the body is too large', async () => {
    const res = await raw('/API/Login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'x'.repeat(70_000), password: 'y' }) });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'bad content length: the body is too large, Login accepts at most 65535 bytes', error_id: 'basic_api' });
    const pad = (n: number): string => JSON.stringify({ pad: 'x'.repeat(n - 10) });
    assert.equal(pad(65_536).length, 65_536);
    const atLimit = await raw('/api/getnewsession', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: pad(65_536) });
    assert.deepEqual(atLimit.body, { error: 'bad content length: the body is too large, GetNewSession accepts at most 65535 bytes', error_id: 'basic_api' });
    const below = await raw('/API/GetNewSession', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: pad(65_535) });
    assert.equal(below.status, 200);
  });

  test('every method but POST is redirected to /Error/NoGetAPI', async () => {
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const res = await raw('/API/GetNewSession', { method });
      assert.equal(res.status, 302, method);
      assert.equal(res.headers.get('location'), '/Error/NoGetAPI');
    }
  });

  test('invalid JSON, non-object JSON and invalid UTF-8 answer internal_error with a reason', async () => {
    const cases: Array<[string | Buffer, RegExp]> = [
      ['{"a":', /not a valid JSON object/],
      ['[1,2]', /top level is an array/],
      ['"text"', /top level is string/],
      ['null', /top level is null/],
      ['42', /top level is number/],
      [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not valid UTF-8/],
      ['['.repeat(100) + ']'.repeat(100), /nested deeper than 64/],
    ];
    for (const [body, message] of cases) {
      const res = await raw('/API/GetNewSession', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      assert.equal(res.status, 400, String(body));
      const b = res.body as { error: string; error_id: string };
      assert.equal(b.error_id, 'internal_error');
      assert.match(b.error, message);
    }
  });

  test('response headers: JSON without charset, explicit length, no-store', async () => {
    const res = await fetch(`${server.url}/API/GetNewSession`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    const text = await res.text();
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
  });
});

describe('session resolution and routing', () => {
  test('route names match case-insensitively; a trailing slash is another route', async () => {
    for (const path of ['/API/GetNewSession', '/api/getnewsession', '/Api/GETNEWSESSION']) {
      const res = await raw(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(res.status, 200, path);
    }
    const sid = await server.session();
    const res = await server.api('ListMyAuthTokens/', { session_id: sid });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'Unknown API route', error_id: 'bad_route' });
  });

  test('percent-escapes in the path are decoded before the route name is read; an encoded slash or odd characters name an unknown route', async () => {
    const post = (path: string, body: unknown) => raw(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    for (const path of ['/API/Get%4EewSession', '/API/get%6eewsession', '/%41PI/GetNewSession', '/%61%70%69/%47%65%74%4E%65%77%53%65%73%73%69%6F%6E']) {
      const res = await post(path, {});
      assert.equal(res.status, 200, path);
      assert.match(String((res.body as Record<string, unknown>).session_id), /^[0-9a-f]{52}$/, path);
    }
    const sid = await server.session();
    assert.deepEqual((await post('/API/List%4DyAuthTokens', { session_id: sid })).status, 200);
    for (const path of ['/API/ListMyAuthTokens%2F', '/API%2FListMyAuthTokens', '/API/%2FListMyAuthTokens', '/API/List%00MyAuthTokens', '/API/List%FFMyAuthTokens', '/API/List%E2%80%8BMyAuthTokens', '/API/ListMyAuthTokens%3F', '/API/%zzListMyAuthTokens']) {
      const res = await post(path, { session_id: sid });
      if (path.startsWith('/API%2F')) {
        // Not an API path at all: an encoded slash is no separator, so this is an unknown page.
        assert.equal(res.status, 302, path);
        assert.equal(res.headers.get('location'), '/Error/404', path);
        continue;
      }
      assert.equal(res.status, 400, path);
      assert.deepEqual(res.body, { error: 'Unknown API route', error_id: 'bad_route' }, path);
    }
  });

  test('a session route without a session id answers missing session id; an unknown route says it is unknown, with the same id', async () => {
    const known = await server.api('ListMyAuthTokens', {});
    assert.equal(known.status, 400);
    assert.deepEqual(known.body, { error: 'missing session id', error_id: 'basic_api' });
    const unknown = await server.api('NoSuchRoute', {});
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body, { error: "Unknown API route 'nosuchroute', and the request has no session id.", error_id: 'basic_api' });
  });

  test('an unknown session answers 401 invalid_session_id before the route is looked up', async () => {
    for (const [route, sid] of [['ListMyAuthTokens', 'f'.repeat(40)], ['NoSuchRoute', 'abc'], ['ListMyAuthTokens', null], ['ListMyAuthTokens', 12]] as const) {
      const res = await server.api(route, { session_id: sid });
      assert.equal(res.status, 401);
      assert.equal(res.body.error_id, 'invalid_session_id');
      assert.equal(typeof res.body.error, 'string');
    }
  });

  test('a session id is read from X-Session-ID only when the body has none', async () => {
    const sid = await server.session();
    const viaHeader = await server.api('ListMyAuthTokens', {}, { 'X-Session-ID': sid });
    assert.equal(viaHeader.status, 200);
    const bodyWins = await server.api('ListMyAuthTokens', { session_id: 'nope' }, { 'X-Session-ID': sid });
    assert.equal(bodyWins.status, 401);
  });

  test('session ids are matched exactly: upper-case is another session', async () => {
    const sid = await server.session();
    const res = await server.api('ListMyAuthTokens', { session_id: sid.toUpperCase() });
    assert.equal(res.status, 401);
  });

  test('a missing required parameter and a wrong type use the reference message templates', async () => {
    const sid = await server.session();
    const missing = await server.call('RevokeMyAuthToken', sid, {});
    assert.equal(missing.status, 200);
    assert.deepEqual(missing.body, { error: "Missing required parameter 'tokenId'" });
    const wrongType = await server.call('InterruptAll', sid, { other_sessions: 'yes' });
    assert.equal(wrongType.status, 200);
    assert.deepEqual(wrongType.body, { error: "Invalid value 'yes' for parameter 'other_sessions', must be type 'Boolean'" });
    const jsonTrue = await server.call('InterruptAll', sid, { other_sessions: true });
    assert.deepEqual(jsonTrue.body, { success: true });
  });

  test('a number longer than a double holds is quoted in the error with the digits sent', async () => {
    const sid = await server.session();
    for (const digits of ['9223372036854775807', '123456789012345678901234567890', '-18446744073709551616']) {
      const res = await server.api('InterruptAll', `{"session_id":"${sid}","other_sessions":${digits}}`);
      assert.deepEqual(res.body, { error: `Invalid value '${digits}' for parameter 'other_sessions', must be type 'Boolean'` });
    }
  });
});

describe('WebSocket transport', () => {
  function open(path: string, headers: Record<string, string> = {}): Promise<{ messages: unknown[]; code: number }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(server.url.replace('http', 'ws') + path, { headers });
      const messages: unknown[] = [];
      ws.on('open', () => ws.send(JSON.stringify({})));
      ws.on('message', (d) => messages.push(JSON.parse(String(d))));
      ws.on('close', (code) => resolve({ messages, code }));
      ws.on('error', reject);
    });
  }

  test('an HTTP route called over a WebSocket sends bad_request_method and closes normally', async () => {
    const res = await open('/API/GetNewSession');
    assert.equal(res.code, 1000);
    assert.equal(res.messages.length, 1);
    assert.equal((res.messages[0] as { error_id: string }).error_id, 'bad_request_method');
  });

  test('an unknown route over a WebSocket with a valid session sends bad_route and closes', async () => {
    const sid = await server.session();
    const res = await open('/API/NoSuchRoute', { 'X-Session-ID': sid });
    assert.equal(res.code, 1000);
    assert.deepEqual(res.messages, [{ error: 'Unknown API route', error_id: 'bad_route' }]);
  });

  test('a WebSocket call without a session sends missing session id and closes', async () => {
    const known = await open('/API/InstallConfirmWS');
    assert.deepEqual(known.messages, [{ error: 'missing session id', error_id: 'basic_api' }]);
    assert.equal(known.code, 1000);
    const unknown = await open('/API/NoSuchRoute');
    assert.deepEqual(unknown.messages, [{ error: "Unknown API route 'nosuchroute', and the request has no session id.", error_id: 'basic_api' }]);
    assert.equal(unknown.code, 1000);
  });

  test('invalid JSON as the first message sends internal_error and closes', async () => {
    const res = await new Promise<{ messages: unknown[]; code: number }>((resolve, reject) => {
      const ws = new WebSocket(server.url.replace('http', 'ws') + '/API/GetNewSession');
      const messages: unknown[] = [];
      ws.on('open', () => ws.send('{not json'));
      ws.on('message', (d) => messages.push(JSON.parse(String(d))));
      ws.on('close', (code) => resolve({ messages, code }));
      ws.on('error', reject);
    });
    assert.equal(res.code, 1000);
    assert.equal((res.messages[0] as { error_id: string }).error_id, 'internal_error');
  });
});
