// ChangePassword and API keys over HTTP (docs/COMPATIBILITY.md#changepassword,
// docs/COMPATIBILITY.md#api-keys-and-generic-data, docs/COMPATIBILITY.md#d2).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { queryStore } from './helpers/database.js';
import { TestServer, prehash, runCli } from './helpers/server.js';

const ACCOUNTS_ON = { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false, 'Network.TrustedProxies': '127.0.0.1' };
let n = 1;
/** A distinct client address per login, so the per-address login limit never interferes. */
const client = (): Record<string, string> => ({ 'X-Forwarded-For': `10.7.${Math.floor(n / 250)}.${n++ % 250}` });

let server: TestServer;
before(async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-account-'));
  for (const name of ['bob', 'carl', 'dora', 'keys1', 'keys2']) {
    assert.equal((await runCli(['user', 'add', name, '--password', 'pw123456', '--data-dir', dataDir])).code, 0);
  }
  server = await TestServer.start({ dataDir, settings: ACCOUNTS_ON, args: ['--log-level', 'debug'] });
});
after(() => server.close());

async function login(user: string, password: string): Promise<string | null> {
  const res = await server.api('Login', { username: user, password: await prehash(user, password) }, client());
  return /swarm_token=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? null;
}

async function sessionFor(token: string): Promise<string> {
  const res = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() });
  assert.equal(typeof res.body.session_id, 'string', res.text);
  return res.body.session_id as string;
}

const change = async (sid: string, user: string, oldPw: string, newPw: string) =>
  server.call('ChangePassword', sid, { oldPassword: await prehash(user, oldPw), newPassword: await prehash(user, newPw) });

describe('ChangePassword', () => {
  test("ends every other login token and session of the user and keeps the caller's", async () => {
    const tokenA = (await login('bob', 'pw123456'))!;
    const tokenB = (await login('bob', 'pw123456'))!;
    const callerSession = await sessionFor(tokenA);
    const sameTokenOtherSession = await sessionFor(tokenA);
    const otherTokenSession = await sessionFor(tokenB);
    const otherUserSession = await sessionFor((await login('carl', 'pw123456'))!);

    assert.deepEqual((await change(callerSession, 'bob', 'pw123456', 'new-pass-1')).body, { success: true });

    for (const ended of [otherTokenSession, sameTokenOtherSession]) {
      const res = await server.call('GetMyUserData', ended);
      assert.equal(res.status, 401);
      assert.equal(res.body.error_id, 'invalid_session_id');
    }
    assert.equal((await server.call('GetMyUserData', callerSession)).status, 200);
    assert.equal((await server.call('GetMyUserData', otherUserSession)).status, 200);
    // The other token is gone; the caller's still opens sessions.
    const withB = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${tokenB}`, ...client() });
    assert.equal(typeof withB.body.session_id, 'undefined');
    await sessionFor(tokenA);
    const tokens = (await server.call('ListMyAuthTokens', callerSession, {}, { Cookie: `swarm_token=${tokenA}` })).body.tokens as Array<{ is_current: boolean }>;
    assert.deepEqual(tokens.map((t) => t.is_current), [true]);
    // Only the new password logs in now, and it is no longer marked as set by an administrator.
    assert.equal(await login('bob', 'pw123456'), null);
    assert.notEqual(await login('bob', 'new-pass-1'), null);
    const [row] = (await queryStore(server.dataDir, 'SELECT password_hash, password_set_by_admin FROM users WHERE id = ?', ['bob'])) as Array<{ password_hash: string; password_set_by_admin: unknown }>;
    assert.match(row!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(Boolean(row!.password_set_by_admin), false);
  });

  test('a wrong old password is refused and changes nothing', async () => {
    const sid = await sessionFor((await login('dora', 'pw123456'))!);
    assert.deepEqual((await change(sid, 'dora', 'wrong-old', 'whatever-1')).body, { error: 'The old password is not correct, so the password was not changed.' });
    assert.notEqual(await login('dora', 'pw123456'), null);
  });

  test('new passwords shorter than 8 or longer than 500 characters are refused', async () => {
    const sid = await sessionFor((await login('dora', 'pw123456'))!);
    const short = await server.call('ChangePassword', sid, { oldPassword: 'x', newPassword: '1234567' });
    assert.deepEqual(short.body, { error: 'The new password must have at least 8 characters.' });
    const long = await server.call('ChangePassword', sid, { oldPassword: 'x', newPassword: 'a'.repeat(501) });
    assert.deepEqual(long.body, { error: 'The new password is too long: 500 characters at most.' });
    assert.deepEqual((await server.call('ChangePassword', sid, { newPassword: 'a'.repeat(10) })).body, { error: "Missing required parameter 'oldPassword'" });
  });

  test('the sixth attempt within a minute is rate limited, even with the right old password', async () => {
    const sid = await sessionFor((await login('carl', 'pw123456'))!);
    for (let i = 0; i < 5; i++) {
      assert.deepEqual((await change(sid, 'carl', 'not-it', 'whatever-1')).body, { error: 'The old password is not correct, so the password was not changed.' });
    }
    assert.deepEqual((await change(sid, 'carl', 'pw123456', 'whatever-1')).body, { error: 'Too many password changes in a short time. Wait a minute, then try again.' });
    assert.notEqual(await login('carl', 'pw123456'), null);
  });

  test('with accounts off, the local user without a password may set one (the old one is ignored)', async () => {
    const local = await TestServer.start();
    try {
      const sid = await local.session();
      const other = await local.session();
      const res = await local.call('ChangePassword', sid, { oldPassword: 'anything', newPassword: await prehash('local', 'local-pass') });
      assert.deepEqual(res.body, { success: true });
      assert.equal((await local.call('GetMyUserData', other)).status, 401);
      assert.equal((await local.call('GetMyUserData', sid)).status, 200);
    } finally {
      await local.close();
    }
  });
});

describe('API keys', () => {
  test('status is "not set", then "last updated YYYY-MM-DD HH:MM" in server local time, then "not set" after none', async () => {
    const sid = await sessionFor((await login('keys1', 'pw123456'))!);
    assert.deepEqual((await server.call('GetAPIKeyStatus', sid, { keyType: 'civitai_api' })).body, { status: 'not set' });
    const before = new Date();
    assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'civitai_api', key: 'civ-secret-123' })).body, { success: true });
    const status = String((await server.call('GetAPIKeyStatus', sid, { keyType: 'civitai_api' })).body.status);
    const m = /^last updated (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(status);
    assert.ok(m, status);
    const stamp = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
    assert.ok(Math.abs(stamp.getTime() - before.getTime()) < 2 * 60_000, status);
    assert.deepEqual((await server.call('GetAPIKeyStatus', sid, { keyType: 'huggingface_api' })).body, { status: 'not set' });
    assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'civitai_api', key: 'none' })).body, { success: true });
    assert.deepEqual((await server.call('GetAPIKeyStatus', sid, { keyType: 'civitai_api' })).body, { status: 'not set' });
  });

  test('a blank key unsets like none', async () => {
    const sid = await sessionFor((await login('keys1', 'pw123456'))!);
    await server.call('SetAPIKey', sid, { keyType: 'huggingface_api', key: 'hf_abc' });
    assert.match(String((await server.call('GetAPIKeyStatus', sid, { keyType: 'huggingface_api' })).body.status), /^last updated /);
    assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'huggingface_api', key: '  ' })).body, { success: true });
    assert.deepEqual((await server.call('GetAPIKeyStatus', sid, { keyType: 'huggingface_api' })).body, { status: 'not set' });
  });

  test('the server list and the UI registry are both accepted; anything else is refused by name', async () => {
    const sid = await sessionFor((await login('keys1', 'pw123456'))!);
    for (const keyType of ['stability_api', 'civitai_api', 'huggingface_api']) {
      assert.deepEqual((await server.call('SetAPIKey', sid, { keyType, key: 'k' })).body, { success: true }, keyType);
    }
    assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'openai_api', key: 'k' })).body, {
      error: "Unknown key type 'openai_api'. Known types: stability_api, civitai_api, huggingface_api.",
    });
    assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'Civitai_API', key: 'k' })).body.error, "Unknown key type 'Civitai_API'. Known types: stability_api, civitai_api, huggingface_api.");
  });

  test('a stored key is never returned by any route nor written to the log', async () => {
    const secret = 'sk-very-secret-value-9f8e7d';
    const token = (await login('keys2', 'pw123456'))!;
    const sid = await sessionFor(token);
    await server.call('SetAPIKey', sid, { keyType: 'stability_api', key: secret });
    const outputs = await Promise.all(
      ['GetMyUserData', 'GetUserSettings', 'ExportUserPresets', 'ListMyAuthTokens', 'GetCurrentStatus'].map((r) => server.call(r, sid, {}, { Cookie: `swarm_token=${token}` })),
    );
    outputs.push(await server.call('GetAPIKeyStatus', sid, { keyType: 'stability_api' }));
    for (const o of outputs) assert.ok(!o.text.includes(secret), o.text.slice(0, 200));
    assert.ok(!server.output.includes(secret));
  });

  test("two users' keys never mix", async () => {
    const a = await sessionFor((await login('keys1', 'pw123456'))!);
    const b = await sessionFor((await login('keys2', 'pw123456'))!);
    await server.call('SetAPIKey', a, { keyType: 'civitai_api', key: 'only-a' });
    await server.call('SetAPIKey', b, { keyType: 'civitai_api', key: 'none' });
    assert.match(String((await server.call('GetAPIKeyStatus', a, { keyType: 'civitai_api' })).body.status), /^last updated /);
    assert.deepEqual((await server.call('GetAPIKeyStatus', b, { keyType: 'civitai_api' })).body, { status: 'not set' });
  });
});

describe('/ViewSpecial/Preset with accounts on', () => {
  test('without a login the preview route answers 400 invalid_user; with the login cookie it finds the preset', async () => {
    const anonymous = await fetch(`${server.url}/ViewSpecial/Preset/anything`, { headers: client() });
    assert.equal(anonymous.status, 400);
    assert.deepEqual(await anonymous.json(), { error: 'Invalid or unauthorized.', error_id: 'invalid_user' });
    const token = (await login('dora', 'pw123456'))!;
    const sid = await sessionFor(token);
    const image = 'data:image/jpeg;base64,' + (await import('jpeg-js')).default.encode({ data: Buffer.alloc(16 * 16 * 4, 90), width: 16, height: 16 }, 80).data.toString('base64');
    assert.deepEqual((await server.call('AddNewPreset', sid, { title: 'Mine', description: '', param_map: {}, preview_image: image })).body, { success: true });
    const res = await fetch(`${server.url}/ViewSpecial/Preset/mine`, { headers: { Cookie: `swarm_token=${token}`, ...client() } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
  });
});
