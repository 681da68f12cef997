// An administrator locks a thief out at once: a password set from outside the account, a deleted account, or
// an impersonator who loses manage_users ends the affected sessions and login tokens on every instance.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, postgresAvailable, ADMIN_URL } from './helpers/postgres.js';
import { TestServer, eventually, needsService, prehash } from './helpers/server.js';

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
  [a, b] = await Promise.all([TestServer.start({ databaseUrl: db.url, settings: ACCOUNTS }), TestServer.start({ databaseUrl: db.url, settings: ACCOUNTS })]);
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

/** Logs in on one instance; returns the raw login token. */
async function login(server: TestServer, name: string, password: string): Promise<string> {
  const res = await server.api('Login', { username: name, password: await prehash(name, password) });
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
});
