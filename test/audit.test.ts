// The audit log (docs/COMPATIBILITY.md#d30) against the real server: what administrative actions and logins
// record (who, when, from where, what, on whom), that no secret ever lands in it, the command line's `audit`,
// the AdminListAuditLog route, and pruning after UserAuthorization.AuditLogDays.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { queryStore } from './helpers/database.js';
import { TestServer, prehash } from './helpers/server.js';
import type { AdminListAuditLogResult } from '../src/client/routes.generated.js';

const ACCOUNTS = { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false, 'Network.TrustedProxies': '127.0.0.1' };
const EDIT = { description: '', max_outpath_depth: 5, max_t2i_simultaneous: 32, allow_unsafe_outpaths: false, model_whitelist: '', model_blacklist: '' };

/** One audit entry as AdminListAuditLog answers it (the type generated from the route's declaration). */
type Entry = AdminListAuditLogResult['entries'][number];

describe('the audit log', () => {
  let server: TestServer;
  let admin: string;
  let adminToken: string;
  let address = 0;
  /** Every secret a test sends: none may appear in the audit table. */
  const secrets: string[] = [];

  const login = async (user: string, password: string, from = `203.0.113.${++address}`) => {
    const hashed = await prehash(user.replace(/[^A-Za-z0-9_]/g, '').toLowerCase(), password);
    secrets.push(password, hashed);
    return server.api('Login', { username: user, password: hashed }, { 'X-Forwarded-For': from });
  };
  const tokenOf = (res: { headers: Headers }): string => /swarm_token=([^;]*)/.exec(res.headers.get('set-cookie')!)![1]!;
  const entries = async (body: Record<string, unknown> = {}): Promise<Entry[]> => (await server.call('AdminListAuditLog', admin, body)).body.entries as Entry[];

  before(async () => {
    server = await TestServer.start({ settings: ACCOUNTS });
    assert.equal((await server.cli(['user', 'add', 'auditor', '--password', 'auditor-password', '--role', 'owner'])).code, 0);
    secrets.push('auditor-password');
    const res = await login('auditor', 'auditor-password', '198.51.100.20');
    adminToken = tokenOf(res);
    secrets.push(adminToken);
    admin = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${adminToken}` })).body.session_id as string;
    secrets.push(admin);
  });
  after(() => server.close());

  test('a login success and failures are recorded with the name as typed, the client address and no password', async () => {
    assert.equal((await server.cli(['user', 'add', 'carol', '--password', 'carol-password'])).code, 0);
    assert.deepEqual((await login('carol', 'carol-password', '198.51.100.31')).body, { success: 'true' });
    assert.deepEqual((await login('carol', 'wrong-password', '198.51.100.32')).body, { error_id: 'invalid_login' });
    assert.deepEqual((await login('Nobody_Known', 'whatever-password', '198.51.100.33')).body, { error_id: 'invalid_login' });
    // A name full of characters Login drops is stored as typed, but bounded.
    const long = `${'!'.repeat(300)}carol`;
    assert.deepEqual((await login(long, 'wrong-password', '198.51.100.34')).body, { error_id: 'invalid_login' });
    const logins = (await entries({ limit: 4 })).reverse();
    const now = Math.floor(Date.now() / 1000);
    for (const e of logins) assert.ok(now - e.time >= 0 && now - e.time < 3600, `time ${e.time}`);
    assert.deepEqual(
      logins.map((e) => ({ ...e, seq: 0, time: 0 })),
      [
        { seq: 0, time: 0, user_id: 'carol', attempted_name: 'carol', address: '198.51.100.31', action: 'login.success', target: 'carol', detail: {} },
        { seq: 0, time: 0, user_id: 'carol', attempted_name: 'carol', address: '198.51.100.32', action: 'login.failure', target: 'carol', detail: {} },
        { seq: 0, time: 0, user_id: null, attempted_name: 'Nobody_Known', address: '198.51.100.33', action: 'login.failure', target: null, detail: {} },
        { seq: 0, time: 0, user_id: 'carol', attempted_name: `${'!'.repeat(100)}...`, address: '198.51.100.34', action: 'login.failure', target: 'carol', detail: {} },
      ],
    );
  });

  test('every administrative route that changes something records who, from where, what and on whom', async () => {
    const call = async (route: string, body: Record<string, unknown>) => {
      const res = await server.call(route, admin, body, { 'X-Forwarded-For': '192.0.2.77' });
      assert.deepEqual(res.body, { success: true }, `${route}: ${res.text}`);
    };
    const pw = await prehash('dave', 'dave-password-1');
    const pw2 = await prehash('dave', 'dave-password-2');
    secrets.push('dave-password-1', 'dave-password-2', pw, pw2);
    await call('AdminAddUser', { name: 'dave', password: pw, role: 'user' });
    await call('AdminSetUserPassword', { name: 'dave', password: pw2 });
    await call('AdminChangeUserSettings', { name: 'dave', settings: { maxpromptlines: 12, roles: 'user,guest' } });
    await call('AdminInterruptUser', { name: 'dave' });
    await call('AdminAddRole', { name: 'Reviewers' });
    await call('AdminEditRole', { name: 'reviewers', ...EDIT, permissions: 'fundamental,read_server_settings' });
    await call('AdminDeleteRole', { name: 'reviewers' });
    await call('ChangeServerSettings', { settings: { 'UserAuthorization.InstanceTitle': 'Audited', 'Network.RequiredAuthorization': 'shared-header-secret' } });
    secrets.push('shared-header-secret');
    await call('AdminDeleteUser', { name: 'dave' });
    const got = (await entries({ limit: 9 })).reverse();
    assert.deepEqual(
      got.map((e) => [e.user_id, e.address, e.action, e.target, e.detail]),
      [
        ['auditor', '192.0.2.77', 'user.add', 'dave', { role: 'user' }],
        ['auditor', '192.0.2.77', 'user.set_password', 'dave', { cleared: false }],
        ['auditor', '192.0.2.77', 'user.change_settings', 'dave', { settings: ['maxpromptlines'], roles: ['user', 'guest'] }],
        ['auditor', '192.0.2.77', 'user.interrupt', 'dave', { interrupted: 0 }],
        ['auditor', '192.0.2.77', 'role.add', 'reviewers', { name: 'Reviewers' }],
        ['auditor', '192.0.2.77', 'role.edit', 'reviewers', { permissions: ['fundamental', 'read_server_settings'], max_outpath_depth: 5, max_t2i_simultaneous: 32, allow_unsafe_outpaths: false }],
        ['auditor', '192.0.2.77', 'role.delete', 'reviewers', { users: [], user_count: 0 }],
        ['auditor', '192.0.2.77', 'settings.change', null, { settings: { 'UserAuthorization.InstanceTitle': 'Audited', 'Network.RequiredAuthorization': '(secret)' } }],
        ['auditor', '192.0.2.77', 'user.delete', 'dave', {}],
      ],
    );
    // A refused change records nothing.
    const before = (await entries({ limit: 1 }))[0]!.seq;
    await server.call('AdminDeleteUser', admin, { name: 'auditor' });
    await server.call('ChangeServerSettings', admin, { settings: { 'Network.Port': 'eighty' } });
    assert.equal((await entries({ limit: 1 }))[0]!.seq, before);
  });

  test('AdminListAuditLog filters by user, time and page', async () => {
    const carol = await entries({ user: 'carol' });
    assert.ok(carol.length >= 3);
    assert.ok(carol.every((e) => e.user_id === 'carol' || e.target === 'carol'));
    const first = await entries({ limit: 2 });
    const next = await entries({ limit: 2, before: first[1]!.seq });
    assert.ok(next[0]!.seq < first[1]!.seq);
    assert.deepEqual(await entries({ since: Math.floor(Date.now() / 1000) + 3600 }), []);
    assert.deepEqual((await server.call('AdminListAuditLog', admin, { limit: 'many' })).status, 200);
  });

  test('the command line records its changes and prints the log, filtered by user and date, as text or JSON', async () => {
    assert.equal((await server.cli(['user', 'add', 'erin', '--password', 'erin-password', '--role', 'user'])).code, 0);
    assert.equal((await server.cli(['user', 'set-role', 'erin', 'guest'])).code, 0);
    assert.equal((await server.cli(['user', 'set-password', 'erin', 'erin-password-2'])).code, 0);
    assert.equal((await server.cli(['settings', 'set', 'UserAuthorization.LoginTokenIdleDays', '200'])).code, 0);
    assert.equal((await server.cli(['user', 'delete', 'erin'])).code, 0);
    secrets.push('erin-password', 'erin-password-2');
    const out = await server.cli(['audit', '--user', 'erin', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Entry & { time: string });
    assert.deepEqual(
      lines.map((e) => [e.user_id, e.address, e.action, e.target, e.detail]),
      [
        [null, 'cli', 'user.delete', 'erin', { via: 'cli' }],
        [null, 'cli', 'user.set_password', 'erin', { cleared: false, via: 'cli' }],
        [null, 'cli', 'user.change_settings', 'erin', { roles: ['guest'], via: 'cli' }],
        [null, 'cli', 'user.add', 'erin', { role: 'user', via: 'cli' }],
      ],
    );
    assert.match(lines[0]!.time, /^\d{4}-\d\d-\d\dT/);
    const settings = await server.cli(['audit', '--json', '--limit', '20']);
    assert.ok(settings.stdout.includes('"action":"settings.change","target":"UserAuthorization.LoginTokenIdleDays","detail":{"settings":{"UserAuthorization.LoginTokenIdleDays":200},"via":"cli"}'), settings.stdout);
    const text = await server.cli(['audit', '--user', 'erin', '--limit', '1']);
    assert.match(text.stdout.trim(), /^\S+\tuser\.delete\tby=-\tfrom=cli\ttarget=erin\t\{"via":"cli"\}$/);
    const tomorrow = new Date(Date.now() + 86400_000).toISOString().slice(0, 10);
    assert.deepEqual((await server.cli(['audit', '--since', tomorrow])).stdout, '');
    const bad = await server.cli(['audit', '--since', 'yesterday']);
    assert.deepEqual([bad.code, bad.stderr.trim()], [1, "swarmcore: --since needs an ISO date such as 2026-11-30 or 2026-11-30T12:00:00Z, not 'yesterday'."]);
  });

  test('opening a session as another user is recorded, and what that session changes names the impersonator', async () => {
    const opened = await server.api('GetNewSession', { impersonateUser: 'carol' }, { Cookie: `swarm_token=${adminToken}`, 'X-Forwarded-For': '192.0.2.99' });
    assert.equal(opened.body.user_id, 'carol');
    secrets.push(opened.body.session_id as string);
    const [entry] = await entries({ limit: 1 });
    assert.deepEqual([entry!.user_id, entry!.address, entry!.action, entry!.target, entry!.detail], ['auditor', '192.0.2.99', 'user.impersonate', 'carol', {}]);
    // carol (role user) may not administer; the owner impersonating the owner-made account 'auditor2' may, and the entry says who impersonated.
    assert.equal((await server.cli(['user', 'add', 'auditor2', '--password', 'auditor2-password', '--role', 'owner'])).code, 0);
    const as2 = (await server.api('GetNewSession', { impersonateUser: 'auditor2' }, { Cookie: `swarm_token=${adminToken}` })).body.session_id as string;
    secrets.push(as2);
    assert.deepEqual((await server.call('AdminAddRole', as2, { name: 'Impersonated Role' }, { 'X-Forwarded-For': '192.0.2.98' })).body, { success: true });
    const [added] = await entries({ limit: 1 });
    assert.deepEqual([added!.user_id, added!.address, added!.action, added!.target, added!.detail], ['auditor2', '192.0.2.98', 'role.add', 'impersonatedrole', { name: 'Impersonated Role', impersonated_by: 'auditor' }]);
  });

  test('the audit table never holds a password, prehash, token or session id used in these tests', async () => {
    // A token made for a script, and its sessions, are secrets too.
    const made = (await server.call('CreateAuthToken', admin, { reason: 'audit test' })).body.token as string;
    secrets.push(made, ...made.split('.').slice(1));
    secrets.push(...adminToken.split('.').slice(1));
    const sid = (await server.api('GetNewSession', {}, { Cookie: `swarm_token=${made}` })).body.session_id as string;
    secrets.push(sid, createHash('sha256').update(sid).digest('hex'), createHash('sha256').update(admin).digest('hex'));
    await server.call('AdminSetUserPassword', sid, { name: 'carol', password: await prehash('carol', 'carol-password-3') });
    secrets.push('carol-password-3', await prehash('carol', 'carol-password-3'));
    const rows = await queryStore(server.dataDir, 'SELECT * FROM audit_log');
    assert.ok(rows.length >= 20, `only ${rows.length} rows`);
    const text = JSON.stringify(rows);
    for (const secret of secrets) assert.ok(!text.includes(secret), `the audit table holds a secret (${secret.slice(0, 6)}...)`);
  });

  test('entries older than UserAuthorization.AuditLogDays are removed by the periodic sweep', async () => {
    const day = 86400;
    const now = Math.floor(Date.now() / 1000);
    await queryStore(server.dataDir, "INSERT INTO audit_log (at, user_id, attempted_name, address, action, target, detail) VALUES (?, NULL, NULL, 'cli', 'test.old', 'ancient', '{}')", [now - 100 * day]);
    // The sweep runs whenever the store is opened (a CLI command) and hourly in a server.
    assert.equal((await server.cli(['settings', 'set', 'UserAuthorization.AuditLogDays', '120'])).code, 0);
    const kept = await server.cli(['audit', '--user', 'ancient', '--json']);
    assert.equal(kept.stdout.trim().split('\n').length, 1);
    assert.equal((await server.cli(['settings', 'set', 'UserAuthorization.AuditLogDays', '90'])).code, 0);
    const gone = await server.cli(['audit', '--user', 'ancient', '--json']);
    assert.equal(gone.stdout, '');
    assert.ok((await server.cli(['audit', '--json', '--limit', '1000'])).stdout.includes('"action":"login.success"'), 'recent entries stay');
  });
});
