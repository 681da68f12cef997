// Security properties of accounts, sessions and tokens (docs/COMPATIBILITY.md#d6, #d7, #d9).
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sessionKey } from '../src/store/session-key.js';
import { queryStore, storedBytes } from './helpers/database.js';
import { TestServer, prehash, runCli } from './helpers/server.js';

const ACCOUNTS_ON = {
  'UserAuthorization.AuthorizationRequired': true,
  'UserAuthorization.AllowLocalhostBypass': false,
  'Network.TrustedProxies': '127.0.0.1',
};
let n = 1;
const client = (): Record<string, string> => ({ 'X-Forwarded-For': `10.1.${Math.floor(n / 250)}.${n++ % 250}` });

let server: TestServer;
let dataDir: string;
before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-sec-'));
  for (const name of ['timing_a', 'timing_b', 'secretive']) assert.equal((await runCli(['user', 'add', name, '--password', `${name}-pass`, '--data-dir', dataDir])).code, 0);
  server = await TestServer.start({ dataDir, settings: ACCOUNTS_ON });
});
after(() => server.close());

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timedLogin(username: string, password: string): Promise<number> {
  const start = performance.now();
  const res = await server.api('Login', { username, password }, client());
  const took = performance.now() - start;
  assert.deepEqual(res.body, { error_id: 'invalid_login' });
  return took;
}

describe('no user enumeration', () => {
  test('login for an unknown user costs about what a wrong password costs (medians of 20 within a factor of 3)', async () => {
    const wrong: number[] = [];
    const unknown: number[] = [];
    const badPassword = 'f'.repeat(64);
    // Warm up both paths (argon2 worker threads, the dummy hash).
    await timedLogin('timing_a', badPassword);
    await timedLogin('nobody_warmup', badPassword);
    for (let i = 0; i < 20; i++) {
      wrong.push(await timedLogin(i % 2 ? 'timing_a' : 'timing_b', badPassword));
      unknown.push(await timedLogin(`ghost_${i}_${randomBytes(3).toString('hex')}`, badPassword));
    }
    const ratio = median(unknown) / median(wrong);
    // Skipping the hash for unknown users would make the ratio tiny; a busy machine's noise stays well inside 3.
    assert.ok(ratio > 1 / 3 && ratio < 3, `unknown ${median(unknown).toFixed(1)} ms vs wrong ${median(wrong).toFixed(1)} ms`);
  });
});

describe('secrets at rest', () => {
  test('the database never contains a token validation part, a raw token, or a password in clear or client form', async () => {
    const password = await prehash('secretive', 'secretive-pass');
    const li = await server.api('Login', { username: 'secretive', password }, client());
    const token = /swarm_token=([^;]*)/.exec(li.headers.get('set-cookie')!)![1]!;
    const sid = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() })).body.session_id as string;
    const apiToken = (await server.call('CreateAuthToken', sid, { reason: 'check' })).body.token as string;
    const needles = [token, token.split('.')[2]!, apiToken, apiToken.split('.')[2]!, password, 'secretive-pass'];
    const bytes = await storedBytes(dataDir);
    assert.ok(bytes.length > 0);
    // The token id is stored (it is not secret), proving the search looks at the right data.
    assert.ok(bytes.includes(Buffer.from(token.split('.')[1]!)));
    for (const needle of needles) assert.ok(!bytes.includes(Buffer.from(needle)), `found ${needle.slice(0, 12)}... in the database`);
    const [user] = await queryStore(dataDir, "SELECT password_hash FROM users WHERE id = 'secretive'");
    assert.match(String(user!.password_hash), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});

describe('identifiers', () => {
  test('session ids handed out over HTTP are distinct 52-character lowercase hex strings: 12 of creation time, then 160 bits that each come up set about half the time', async () => {
    const local = await TestServer.start();
    try {
      const ids: string[] = [];
      // In batches, so the machine's load cannot make a single request wait too long.
      for (let batch = 0; batch < 10; batch++) ids.push(...(await Promise.all(Array.from({ length: 100 }, () => local.session()))));
      ids.forEach((id) => assert.match(id, /^[0-9a-f]{52}$/));
      assert.equal(new Set(ids).size, ids.length);
      // The time part (docs/COMPATIBILITY.md#d53) is not secret; the 160 bits after it are what cannot be guessed.
      const secrets = ids.map((id) => id.slice(12));
      assert.equal(new Set(secrets).size, ids.length);
      // A counter, a timestamp, a fixed prefix or a short random part leaves some bits (almost) always 0 or 1.
      // For random bits the count over 1,000 ids is 500 ± 16 (one standard deviation); ±100 is not missed by chance.
      const setCounts = Array.from({ length: 160 }, (_, bit) => secrets.filter((id) => (parseInt(id[bit >> 2]!, 16) >> (3 - (bit & 3))) & 1).length);
      const skewed = setCounts.map((count, bit) => ({ bit, count })).filter(({ count }) => Math.abs(count - 500) > 100);
      assert.deepEqual(skewed, []);
    } finally {
      await local.close();
    }
  });
});

describe('expiry and legacy hashes', () => {
  test('sessions idle for 31 days and login tokens idle past the setting stop working', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'swarmcore-expiry-'));
    assert.equal((await runCli(['user', 'add', 'sleepy', '--password', 'sleepy-pass', '--data-dir', d])).code, 0);
    let s = await TestServer.start({ dataDir: d, settings: ACCOUNTS_ON });
    const li = await s.api('Login', { username: 'sleepy', password: await prehash('sleepy', 'sleepy-pass') }, client());
    const token = /swarm_token=([^;]*)/.exec(li.headers.get('set-cookie')!)![1]!;
    const fresh = (await s.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() })).body.session_id as string;
    const old = (await s.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() })).body.session_id as string;
    await s.stop();
    const now = Math.floor(Date.now() / 1000);
    // Stored by session key, never by the id the client holds.
    await queryStore(d, 'UPDATE sessions SET last_active = ? WHERE id = ?', [now - 31 * 86400 - 60, sessionKey(old)]);
    await queryStore(d, 'UPDATE sessions SET last_active = ? WHERE id = ?', [now - 30 * 86400, sessionKey(fresh)]);
    s = await TestServer.start({ dataDir: d, settings: ACCOUNTS_ON });
    try {
      assert.equal((await s.call('ListMyAuthTokens', old)).status, 401);
      assert.equal((await s.call('ListMyAuthTokens', fresh)).status, 200);
      await s.stop();
      await queryStore(d, 'UPDATE login_tokens SET last_active = ?', [now - 3 * 86400]);
      s = await TestServer.start({ dataDir: d, settings: { ...ACCOUNTS_ON, 'UserAuthorization.LoginTokenIdleDays': 2 } });
      const res = await s.api('GetNewSession', {}, { Cookie: `swarm_token=${token}`, ...client() });
      assert.deepEqual(Object.keys(res.body), ['error']);
      // The token's sessions went with it.
      assert.equal((await s.call('ListMyAuthTokens', fresh)).status, 401);
    } finally {
      await s.close();
    }
  });

  test("a reference swarmpw_v1 hash logs in once and is upgraded to argon2id", async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'swarmcore-legacy-'));
    assert.equal((await runCli(['user', 'add', 'oldtimer', '--password', 'placeholder', '--data-dir', d])).code, 0);
    const client_form = await prehash('oldtimer', 'ancient-pass');
    const salt = randomBytes(16);
    const hash = pbkdf2Sync(Buffer.from(`*SwarmHashedPw:oldtimer:${client_form}*`), salt, 10000, 32, 'sha256');
    await queryStore(d, "UPDATE users SET password_hash = ? WHERE id = 'oldtimer'", [`swarmpw_v1:${salt.toString('base64')}:${hash.toString('base64')}`]);
    const s = await TestServer.start({ dataDir: d, settings: ACCOUNTS_ON });
    try {
      assert.deepEqual((await s.api('Login', { username: 'oldtimer', password: 'f'.repeat(64) }, client())).body, { error_id: 'invalid_login' });
      assert.deepEqual((await s.api('Login', { username: 'oldtimer', password: client_form }, client())).body, { success: 'true' });
      const [stored] = await queryStore(d, "SELECT password_hash FROM users WHERE id = 'oldtimer'");
      assert.match(String(stored!.password_hash), /^\$argon2id\$/);
      assert.deepEqual((await s.api('Login', { username: 'oldtimer', password: client_form }, client())).body, { success: 'true' });
    } finally {
      await s.close();
    }
  });
});
