// An administrator locks a thief out at once: a password set from outside the account, a deleted account, or
// an impersonator who loses manage_users ends the affected sessions and login tokens on every instance.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Core } from '../src/core.js';
import { newRole } from '../src/accounts/roles.js';
import { createTestDatabase, postgresAvailable, ADMIN_URL } from './helpers/postgres.js';
import { queryStore } from './helpers/database.js';
import { TestServer, eventually, needsService, prehash, runCli } from './helpers/server.js';

const NO_PG = `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host}`;
const ACCOUNTS = { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false };
const ENDED = { error: 'Invalid session ID. You may need to refresh the page.', error_id: 'invalid_session_id' };

let available = false;
let db: { url: string; drop: () => Promise<void> } | undefined;
let a: TestServer | undefined;
let b: TestServer | undefined;

before(async () => {
  available = await postgresAvailable();
  if (!available) return;
  db = await createTestDatabase();
  // Logins come "through a proxy" from different addresses, so the shared per-address login limit stays out of the way.
  const settings = { ...ACCOUNTS, 'Network.TrustedProxies': '127.0.0.1' };
  [a, b] = await Promise.all([TestServer.start({ databaseUrl: db.url, settings }), TestServer.start({ databaseUrl: db.url, settings })]);
});
after(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

async function addUser(name: string, password: string, role = 'user'): Promise<void> {
  const r = await a!.cli(['user', 'add', name, '--password', password, '--role', role]);
  assert.equal(r.code, 0, r.stderr);
}

let logins = 0;

/** Logs in on one instance; returns the raw login token. */
async function login(server: TestServer, name: string, password: string): Promise<string> {
  const res = await server.api('Login', { username: name, password: await prehash(name, password) }, { 'X-Forwarded-For': `198.51.100.${++logins}` });
  assert.deepEqual(res.body, { success: 'true' });
  return /swarm_token=([^;]*)/.exec(res.headers.get('set-cookie')!)![1]!;
}

async function sessionFrom(server: TestServer, token: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await server.api('GetNewSession', body, { 'X-Swarm-Token': token });
  assert.equal(typeof res.body.session_id, 'string', res.text);
  return res.body.session_id as string;
}

/** The session answers on both instances (so both have it cached). */
async function assertLive(sid: string): Promise<void> {
  for (const s of [a!, b!]) assert.equal((await s.call('GetCurrentStatus', sid)).status, 200);
}

/** Waits until the session is refused on both instances, and checks the exact refusal. */
async function assertEndedEverywhere(sid: string, what: string): Promise<void> {
  for (const s of [a!, b!]) {
    assert.ok(await eventually(async () => (await s.call('GetCurrentStatus', sid)).status === 401, 5000), `${what} still works on ${s === a ? 'A' : 'B'}`);
    assert.deepEqual((await s.call('GetCurrentStatus', sid)).body, ENDED);
  }
}

/** A login token no instance accepts any more. */
async function assertTokenDead(token: string, what: string): Promise<void> {
  for (const s of [a!, b!]) {
    assert.deepEqual((await s.api('GetNewSession', {}, { 'X-Swarm-Token': token })).body, { error: 'You are not logged in, or your login has expired.' }, `${what} still opens sessions`);
  }
}

describe('several instances on one PostgreSQL database', () => {
  test("a password set with the CLI ends the user's sessions and login tokens on every instance", async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    await addUser('victim', 'old-password');
    const tokenA = await login(a!, 'victim', 'old-password');
    const tokenB = await login(b!, 'victim', 'old-password');
    const sidA = await sessionFrom(a!, tokenA);
    const sidB = await sessionFrom(b!, tokenB);
    const scriptToken = (await a!.call('CreateAuthToken', sidA, { reason: 'a script' })).body.token as string;
    const sidScript = await sessionFrom(b!, scriptToken);
    for (const sid of [sidA, sidB, sidScript]) await assertLive(sid);

    const r = await a!.cli(['user', 'set-password', 'victim', 'new-password']);
    assert.deepEqual([r.code, r.stdout], [0, "Password of 'victim' changed.\n"]);

    for (const [sid, what] of [[sidA, 'the session from A'], [sidB, 'the session from B'], [sidScript, 'the script session']] as const) await assertEndedEverywhere(sid, what);
    for (const [token, what] of [[tokenA, 'the login on A'], [tokenB, 'the login on B'], [scriptToken, 'the script token']] as const) await assertTokenDead(token, what);
    // The owner of the account gets back in with the new password only.
    assert.deepEqual((await b!.api('Login', { username: 'victim', password: await prehash('victim', 'old-password') })).body, { error_id: 'invalid_login' });
    await sessionFrom(b!, await login(b!, 'victim', 'new-password'));
  });

  test("a user deleted with the CLI loses every session and login token on every instance", async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    await addUser('leaver', 'leaver-password');
    const token = await login(a!, 'leaver', 'leaver-password');
    const sid = await sessionFrom(b!, token);
    await assertLive(sid);
    assert.equal((await a!.cli(['user', 'delete', 'leaver'])).code, 0);
    await assertEndedEverywhere(sid, 'the deleted user’s session');
    await assertTokenDead(token, 'the deleted user’s token');
  });

  test('sessions opened by impersonation, and login tokens made inside them, end on every instance when the impersonator loses manage_users', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    await addUser('boss', 'boss-password', 'owner');
    await addUser('impersonated', 'impersonated-password');
    const bossToken = await login(a!, 'boss', 'boss-password');
    const opened = await a!.api('GetNewSession', { impersonateUser: 'impersonated' }, { 'X-Swarm-Token': bossToken });
    assert.equal(opened.body.user_id, 'impersonated');
    const impersonatedSid = opened.body.session_id as string;
    const insideToken = (await b!.call('CreateAuthToken', impersonatedSid, { reason: 'made while impersonating' })).body.token as string;
    const fromInsideToken = await sessionFrom(b!, insideToken);
    const bossSid = await sessionFrom(b!, bossToken);
    const ownSid = await sessionFrom(a!, await login(b!, 'impersonated', 'impersonated-password'));
    for (const sid of [impersonatedSid, fromInsideToken, bossSid, ownSid]) await assertLive(sid);

    const r = await a!.cli(['user', 'set-role', 'boss', 'user']);
    assert.deepEqual([r.code, r.stdout], [0, "Role of 'boss' is now 'user'.\n"]);

    await assertEndedEverywhere(impersonatedSid, 'the impersonated session');
    await assertEndedEverywhere(fromInsideToken, 'the session from the token made while impersonating');
    await assertTokenDead(insideToken, 'the token made while impersonating');
    // Only what rested on the right to impersonate ends: both users' own logins go on.
    await assertLive(bossSid);
    await assertLive(ownSid);
    assert.deepEqual((await b!.api('GetNewSession', { impersonateUser: 'impersonated' }, { 'X-Swarm-Token': bossToken })).body, {
      error: 'You do not have permission to impersonate other users.',
      error_id: 'bad_impersonate',
    });
  });

  test('sessions opened by impersonation end on every instance when the impersonator is deleted', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    await addUser('former_boss', 'former-password', 'owner');
    await addUser('impersonated_two', 'impersonated-password');
    const bossToken = await login(b!, 'former_boss', 'former-password');
    const impersonatedSid = await sessionFrom(b!, bossToken, { impersonateUser: 'impersonated_two' });
    const insideToken = (await a!.call('CreateAuthToken', impersonatedSid, { reason: 'made while impersonating' })).body.token as string;
    await assertLive(impersonatedSid);
    assert.equal((await a!.cli(['user', 'delete', 'former_boss'])).code, 0);
    await assertEndedEverywhere(impersonatedSid, 'the session opened by a deleted impersonator');
    await assertTokenDead(insideToken, 'the token made while a deleted user impersonated');
  });
});

test('a session opened by impersonation is refused at its next use once its impersonator lost manage_users, though no event said so', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-lockout-'));
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dir]);
  try {
    assert.equal((await cli('user', 'add', 'chief', '--password', 'chief-password', '--role', 'owner')).code, 0);
    assert.equal((await cli('user', 'add', 'worker', '--password', 'worker-password')).code, 0);
    let server = await TestServer.start({ dataDir: dir, settings: ACCOUNTS });
    const chiefToken = await login(server, 'chief', 'chief-password');
    const sid = await sessionFrom(server, chiefToken, { impersonateUser: 'worker' });
    const insideToken = (await server.call('CreateAuthToken', sid, { reason: 'inside' })).body.token as string;
    await server.stop();
    // The role changes behind every server's back: no event, no instance to end anything.
    await queryStore(dir, "UPDATE users SET roles = '[\"user\"]' WHERE id = 'chief'");
    server = await TestServer.start({ dataDir: dir, settings: ACCOUNTS });
    try {
      assert.deepEqual((await server.call('GetCurrentStatus', sid)).body, ENDED);
      assert.deepEqual((await server.api('GetNewSession', {}, { 'X-Swarm-Token': insideToken })).body, { error: 'You are not logged in, or your login has expired.' });
      await sessionFrom(server, chiefToken);
    } finally {
      await server.stop();
    }
    const [counts] = await queryStore(dir, "SELECT (SELECT COUNT(*) FROM sessions WHERE impersonated_by = 'chief') AS sessions, (SELECT COUNT(*) FROM login_tokens WHERE impersonated_by = 'chief') AS tokens");
    assert.deepEqual({ sessions: Number(counts!.sessions), tokens: Number(counts!.tokens) }, { sessions: 0, tokens: 0 }, 'refused at use, they are deleted too');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('taking manage_users away from a role ends the sessions and login tokens its members opened by impersonation', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-lockout-role-'));
  const core = await Core.open({ dataDir: dir });
  try {
    const { roles, users, sessions, loginTokens } = core.services;
    await roles.put({ ...newRole('keyholder', 'Keyholder', 'May impersonate.', false), permissions: ['manage_users'] });
    await users.register('keeper', '', ['keyholder'], true);
    await users.register('kept', '', ['user'], true);
    assert.equal(await users.mayImpersonate('keeper'), true);
    const impersonated = await sessions.create('kept', 'test', null, 'keeper');
    const token = (await loginTokens.create('kept', 'test', 'inside', 'keeper'))!;
    const fromToken = await sessions.create('kept', 'test', token.record.id, 'keeper');
    const own = await sessions.create('kept', 'test', null);

    await roles.put({ ...(await roles.get('keyholder'))!, permissions: ['edit_user_settings'] });

    assert.equal(await sessions.get(impersonated.id), null);
    assert.equal(await sessions.get(fromToken.id), null);
    assert.equal(await loginTokens.validate(token.raw), null);
    assert.equal((await sessions.get(own.id))?.id, own.id, "the user's own session stays");
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
