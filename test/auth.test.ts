// Login, sessions bound to login tokens, logout, token management, registration and impersonation, with accounts
// required (docs/COMPATIBILITY.md#login-tokens, docs/COMPATIBILITY.md#account-routes, with
// docs/COMPATIBILITY.md#deliberate-differences).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestServer, prehash, runCli } from './helpers/server.js';

const ACCOUNTS_ON = {
  'UserAuthorization.AuthorizationRequired': true,
  'UserAuthorization.AllowLocalhostBypass': false,
  'Network.TrustedProxies': '127.0.0.1',
};

let server: TestServer;
let dataDir: string;
let nextClient = 1;
/** A fresh client address (through the trusted proxy) so rate limits of one test do not touch another. */
const client = (): Record<string, string> => ({ 'X-Forwarded-For': `10.0.0.${nextClient++}` });

async function login(user: string, password: string, headers = client()): Promise<{ token: string | null; body: Record<string, unknown>; setCookie: string | null }> {
  const res = await server.api('Login', { username: user, password: await prehash(user, password) }, headers);
  const setCookie = res.headers.get('set-cookie');
  const token = /swarm_token=([^;]*)/.exec(setCookie ?? '')?.[1] ?? null;
  return { token, body: res.body, setCookie };
}

async function sessionFor(token: string, headers = client()): Promise<string> {
  const res = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...headers });
  assert.equal(typeof res.body.session_id, 'string', res.text);
  return res.body.session_id as string;
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-auth-'));
  for (const [name, role] of [['alice', 'user'], ['bob', 'user'], ['carol', 'guest'], ['admin1', 'owner']]) {
    const r = await runCli(['user', 'add', name!, '--password', `${name}-password`, '--role', role!, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
  }
  server = await TestServer.start({ dataDir, settings: ACCOUNTS_ON });
});
after(() => server.close());

describe('login', () => {
  test('a correct login answers the string "true" and sets an HttpOnly SameSite=Lax cookie for one year', async () => {
    const { token, body, setCookie } = await login('alice', 'alice-password');
    assert.deepEqual(body, { success: 'true' });
    assert.match(token!, /^616c696365\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    assert.match(setCookie!, /; Path=\/; SameSite=Lax; HttpOnly$/);
    assert.match(setCookie!, /Max-Age=31536000/);
    assert.doesNotMatch(setCookie!, /Secure/);
  });

  test('the cookie is Secure when a trusted proxy says the request came over HTTPS', async () => {
    const { setCookie } = await login('alice', 'alice-password', { ...client(), 'X-Forwarded-Proto': 'https' });
    assert.match(setCookie!, /; Secure$/);
  });

  test('a wrong password, an unknown user and bad lengths all answer only invalid_login', async () => {
    assert.deepEqual((await login('alice', 'wrong-password')).body, { error_id: 'invalid_login' });
    assert.deepEqual((await login('nobody_here', 'whatever-pw')).body, { error_id: 'invalid_login' });
    assert.deepEqual((await server.api('Login', { username: 'al', password: 'x'.repeat(64) }, client())).body, { error_id: 'invalid_login' });
    assert.deepEqual((await server.api('Login', { username: 'alice', password: 'short' }, client())).body, { error_id: 'invalid_login' });
  });

  test('the user name is cleaned like the reference: case and punctuation do not matter', async () => {
    const res = await server.api('Login', { username: ' A.L-I C E ', password: await prehash('alice', 'alice-password') }, client());
    assert.deepEqual(res.body, { success: 'true' });
  });

  test('the server-side prehash form logs in too', async () => {
    const res = await server.api('Login', { username: 'alice', password: '__swarmdoprehash:swarmclientpw:alice:alice-password' }, client());
    assert.deepEqual(res.body, { success: 'true' });
  });

  test('the sixth attempt in a minute from one address is refused with ratelimit, even with the right password', async () => {
    const from = client();
    for (let i = 0; i < 5; i++) assert.deepEqual((await login('bob', 'wrong-password', from)).body, { error_id: 'invalid_login' });
    assert.deepEqual((await login('bob', 'bob-password', from)).body, { error_id: 'ratelimit' });
    // Another address is not affected.
    assert.deepEqual((await login('bob', 'bob-password')).body, { success: 'true' });
  });

  test('a spoofed X-Forwarded-For from an untrusted peer does not escape the address limit', async () => {
    const other = await TestServer.start({ settings: { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false } });
    try {
      const results: unknown[] = [];
      for (let i = 0; i < 6; i++) results.push((await other.api('Login', { username: 'ghost', password: 'x'.repeat(64) }, { 'X-Forwarded-For': `192.0.2.${i}` })).body);
      assert.deepEqual(results.slice(0, 5), Array(5).fill({ error_id: 'invalid_login' }));
      assert.deepEqual(results[5], { error_id: 'ratelimit' });
    } finally {
      await other.close();
    }
  });

  test('a login from a client that sends no User-Agent header at all succeeds and its token is listed as "unknown"', async () => {
    // fetch always adds a User-Agent; node:http sends only the headers given here.
    const body = JSON.stringify({ username: 'alice', password: await prehash('alice', 'alice-password') });
    const sent = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...client() };
    const answer = await new Promise<{ text: string; cookie: string; requestHeaders: string[] }>((resolve, reject) => {
      const req = http.request(`${server.url}/API/Login`, { method: 'POST', headers: sent }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ text, cookie: String(res.headers['set-cookie'] ?? ''), requestHeaders: req.getHeaderNames() }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(answer.requestHeaders.includes('user-agent'), false);
    assert.equal(answer.text, '{"success":"true"}');
    const token = /swarm_token=([^;]*)/.exec(answer.cookie)![1]!;
    const sid = await sessionFor(token);
    const listed = ((await server.call('ListMyAuthTokens', sid)).body.tokens as Array<Record<string, unknown>>).find((t) => t.id === token.split('.')[1]);
    assert.equal(listed?.user_agent, 'unknown');
  });
});

describe('sessions bound to login tokens', () => {
  test('without a login, GetNewSession is refused when localhost bypass is off', async () => {
    const res = await server.api('GetNewSession', {}, client());
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ['error']);
  });

  test('a login token gives a session of its user with the role permissions', async () => {
    const { token } = await login('carol', 'carol-password');
    const res = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() });
    assert.equal(res.body.user_id, 'carol');
    assert.deepEqual(res.body.permissions, ['fundamental_model_access', 'use_tokenizer', 'fundamental_generate_tab_access', 'read_user_settings', 'fundamental']);
    assert.match(res.body.session_id as string, /^[0-9a-f]{52}$/);
    assert.equal(res.body.output_append_user, true);
  });

  test('a tampered token validation part is refused', async () => {
    const { token } = await login('alice', 'alice-password');
    const bad = token!.slice(0, -1) + (token!.endsWith('0') ? '1' : '0');
    const res = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${bad}`, ...client() });
    assert.deepEqual(Object.keys(res.body), ['error']);
  });

  test('a role without the route permission gets bad_permissions with status 400', async () => {
    const { token } = await login('carol', 'carol-password');
    const sid = await sessionFor(token!);
    const res = await server.call('CreateAuthToken', sid, { reason: 'script' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error_id, 'bad_permissions');
  });

  test('after Logout the session answers 401 and the token is gone from ListMyAuthTokens', async () => {
    const first = await login('alice', 'alice-password');
    const second = await login('alice', 'alice-password');
    const sid = await sessionFor(first.token!);
    const sibling = await sessionFor(first.token!);
    const other = await sessionFor(second.token!);
    const firstId = first.token!.split('.')[1];
    const res = await server.call('Logout', sid, {}, { Cookie: `swarm_token=${first.token}` });
    assert.deepEqual(res.body, { success: 'true' });
    assert.match(res.headers.get('set-cookie')!, /^swarm_token=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=\/; SameSite=Lax; HttpOnly$/);
    assert.equal((await server.call('GetMyUserData', sid)).status, 401);
    assert.equal((await server.call('ListMyAuthTokens', sibling)).status, 401);
    const list = await server.call('ListMyAuthTokens', other);
    const ids = (list.body.tokens as Array<{ id: string }>).map((t) => t.id);
    assert.ok(!ids.includes(firstId!));
    // The copied cookie no longer opens sessions either.
    const again = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${first.token}`, ...client() });
    assert.deepEqual(Object.keys(again.body), ['error']);
  });

  test('RevokeMyAuthToken ends every session of that token and only those', async () => {
    const a = await login('bob', 'bob-password');
    const b = await login('bob', 'bob-password');
    const sa = await sessionFor(a.token!);
    const sb = await sessionFor(b.token!);
    const res = await server.call('RevokeMyAuthToken', sb, { tokenId: a.token!.split('.')[1] });
    assert.deepEqual(res.body, { success: true });
    assert.equal((await server.call('ListMyAuthTokens', sa)).status, 401);
    assert.equal((await server.call('ListMyAuthTokens', sb)).status, 200);
    const again = await server.call('RevokeMyAuthToken', sb, { tokenId: a.token!.split('.')[1] });
    assert.deepEqual(Object.keys(again.body), ['error']);
  });

  test("a user cannot revoke another user's token", async () => {
    const alice = await login('alice', 'alice-password');
    const bob = await login('bob', 'bob-password');
    const bobSession = await sessionFor(bob.token!);
    const aliceSession = await sessionFor(alice.token!);
    const res = await server.call('RevokeMyAuthToken', bobSession, { tokenId: alice.token!.split('.')[1] });
    assert.deepEqual(Object.keys(res.body), ['error']);
    assert.equal((await server.call('ListMyAuthTokens', aliceSession)).status, 200);
  });

  test('CreateAuthToken makes a token that opens sessions, listed with its reason and marked not current', async () => {
    const { token } = await login('alice', 'alice-password');
    const sid = await sessionFor(token!);
    assert.deepEqual((await server.call('CreateAuthToken', sid, { reason: '   ' })).body, { error: 'The reason must be between 1 and 500 characters.' });
    const made = await server.call('CreateAuthToken', sid, { reason: 'nightly script' });
    const apiToken = made.body.token as string;
    assert.match(apiToken, /^616c696365\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    const viaHeader = await server.api('GetNewSession', {}, { 'X-Swarm-Token': apiToken, ...client() });
    assert.equal(viaHeader.body.user_id, 'alice');
    const list = await server.call('ListMyAuthTokens', sid);
    const tokens = list.body.tokens as Array<Record<string, unknown>>;
    const mine = tokens.find((t) => t.id === apiToken.split('.')[1])!;
    assert.equal(mine.user_agent, 'nightly script');
    assert.equal(mine.is_current, false);
    assert.equal(mine.origin_address, '127.0.0.1');
    assert.equal(tokens.find((t) => t.id === token!.split('.')[1])!.is_current, true);
  });
});

describe('registration', () => {
  test('registration is refused with registration_disabled unless both settings allow it', async () => {
    const res = await server.api('RegisterBasic', { username: 'newbie', password: 'x'.repeat(64) }, client());
    assert.deepEqual(res.body, { error: 'Registration is disabled on this server.', error_id: 'registration_disabled' });
  });

  test('with registration on: invalid_input, username_exists for taken, reserved and digit-first names, then success', async () => {
    const reg = await TestServer.start({
      settings: { ...ACCOUNTS_ON, 'UserAuthorization.Registration.AllowRegistration': true, 'UserAuthorization.Registration.SimplePasswordRegistration': true },
    });
    try {
      const call = (u: string, p = 'x'.repeat(64)): Promise<Record<string, unknown>> => reg.api('RegisterBasic', { username: u, password: p }, client()).then((r) => r.body);
      assert.deepEqual(await call('ab'), { error_id: 'invalid_input' });
      assert.deepEqual(await call('dave', 'short'), { error_id: 'invalid_input' });
      assert.deepEqual(await call('admin'), { error_id: 'username_exists' });
      assert.deepEqual(await call('1dave'), { error_id: 'username_exists' });
      assert.deepEqual(await call('Dave'), { success: 'true' });
      assert.deepEqual(await call('dave'), { error_id: 'username_exists' });
      const li = await reg.api('Login', { username: 'dave', password: 'x'.repeat(64) }, client());
      assert.deepEqual(li.body, { success: 'true' });
      const token = /swarm_token=([^;]*)/.exec(li.headers.get('set-cookie')!)![1];
      const s = await reg.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() });
      assert.equal(s.body.user_id, 'dave');
      assert.ok((s.body.permissions as string[]).includes('manage_presets'));
      assert.ok(!(s.body.permissions as string[]).includes('manage_users'));
    } finally {
      await reg.close();
    }
  });
});

describe('impersonation', () => {
  test('an owner may impersonate an existing user; blank means no impersonation', async () => {
    const { token } = await login('admin1', 'admin1-password');
    const as = await server.api('GetNewSession', { impersonateUser: 'bob' }, { Cookie: `swarm_token=${token}`, ...client() });
    assert.equal(as.body.user_id, 'bob');
    const blank = await server.api('GetNewSession', { impersonateUser: '' }, { Cookie: `swarm_token=${token}`, ...client() });
    assert.equal(blank.body.user_id, 'admin1');
    const missing = await server.api('GetNewSession', { impersonateUser: 'nobody_at_all' }, { Cookie: `swarm_token=${token}`, ...client() });
    assert.equal(missing.body.error_id, 'bad_impersonate');
  });

  test('a user without manage_users cannot impersonate', async () => {
    const { token } = await login('bob', 'bob-password');
    const res = await server.api('GetNewSession', { impersonateUser: 'alice' }, { Cookie: `swarm_token=${token}`, ...client() });
    assert.deepEqual(res.body, { error: 'You do not have permission to impersonate other users.', error_id: 'bad_impersonate' });
  });
});

describe('across restarts', () => {
  test('a session and its token still work after a restart', async () => {
    const { token } = await login('alice', 'alice-password');
    const sid = await sessionFor(token!);
    await server.stop();
    server = await TestServer.start({ dataDir, settings: ACCOUNTS_ON });
    assert.equal((await server.call('ListMyAuthTokens', sid)).status, 200);
    assert.equal((await sessionFor(token!)).length, 52);
  });
});
