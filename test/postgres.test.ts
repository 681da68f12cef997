// PostgreSQL as the store (docs/COMPATIBILITY.md#storage): the same store contract as SQLite, and several
// instances on one database sharing sessions, logouts, rate limits and settings through LISTEN/NOTIFY.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import type { RateLimitRule } from '../src/cluster/rate-limits.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { TransactionScope, type PresetRecord, type Store } from '../src/store/types.js';
import { ADMIN_URL, createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { ROOT, TestServer, eventually, needsService, prehash, runCli } from './helpers/server.js';

const WRITER = path.join(ROOT, 'test/fixtures/settings-writer.ts');
const NO_PG = `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host}`;
let available = false;
before(async () => {
  available = await postgresAvailable();
});

const preset = (title: string, description = ''): PresetRecord => ({ key: title.toLowerCase(), title, author: 'u', description, previewImage: 'imgs/model_placeholder.jpg', isStarred: false, paramMap: { steps: '20' } });
const now = (): number => Math.floor(Date.now() / 1000);

/** One behaviour contract, run against both engines: the routes above the store rely on exactly this. */
async function storeContract(store: Store): Promise<void> {
  const user = { id: 'contract', passwordHash: '', passwordSetByAdmin: true, roles: ['user'], settings: {}, paramEdits: '', createdAt: now() };
  assert.equal(await store.users.create(user), true);
  assert.equal(await store.users.create(user), false);
  assert.deepEqual(await store.users.get('contract'), user);
  assert.deepEqual((await store.users.listRoles()).filter((u) => u.id === 'contract'), [{ id: 'contract', roles: ['user'] }], 'listRoles: every id with its roles');
  assert.deepEqual((await store.users.listSummaries()).filter((u) => u.id === 'contract'), [{ id: 'contract', roles: ['user'], createdAt: user.createdAt, lastActive: null }], 'listSummaries: no session or token yet');
  assert.equal(await store.users.get('CONTRACT'), null, 'ids are matched exactly');

  // A settings change is a read-modify-write of the whole map; each one keeps what the others wrote (the
  // concurrent case is proved per engine below, where writes can actually overlap).
  for (let i = 0; i < 3; i++) assert.equal(await store.users.updateSettings('contract', (s) => ({ ...s, [`k${i}`]: i })), true);
  assert.deepEqual((await store.users.get('contract'))!.settings, { k0: 0, k1: 1, k2: 2 });
  assert.equal(await store.users.updateSettings('nobody', (s) => s), false);

  // Presets: insert refuses an existing key; replace keeps position in place and moves a rename to the end.
  for (const t of ['A', 'B', 'C']) assert.equal(await store.presets.insert('contract', preset(t)), true);
  assert.equal(await store.presets.insert('contract', preset('a')), false);
  assert.equal(await store.presets.replace('contract', 'a', preset('A', 'edited')), true);
  assert.equal(await store.presets.replace('contract', 'b', preset('C')), false, 'a rename onto an existing title is refused');
  assert.equal(await store.presets.replace('contract', 'b', preset('D')), true);
  assert.deepEqual((await store.presets.list('contract')).map((p) => [p.title, p.description]), [['A', 'edited'], ['C', ''], ['D', '']]);
  assert.equal(await store.presets.replace('contract', 'zzz', preset('E')), false);
  // Lists without images give everything but an embedded image, which reads as its bare 'data:' prefix.
  const image = `data:image/jpeg;base64,${'A'.repeat(200_000)}`;
  assert.equal(await store.presets.replace('contract', 'c', { ...preset('C'), previewImage: image }), true);
  assert.equal(await store.presets.replace('contract', 'd', { ...preset('D'), previewImage: '/imgs/model_placeholder.jpg' }), true);
  const full = await store.presets.list('contract');
  assert.equal(full[1]!.previewImage, image);
  assert.deepEqual(await store.presets.listWithoutImages('contract'), full.map((p) => (p.previewImage === image ? { ...p, previewImage: 'data:' } : p)));
  assert.equal(await store.presets.replace('contract', 'c', preset('C')), true, 'an edit that drops the image');
  assert.deepEqual(await store.presets.listWithoutImages('contract'), await store.presets.list('contract'));
  assert.equal(await store.presets.replace('contract', 'a', preset('A'), true), true, 'moveToEnd on the same key');
  assert.deepEqual((await store.presets.list('contract')).map((p) => p.title), ['C', 'D', 'A']);

  // Login tokens: deleting one ends exactly its sessions; deleting all but one keeps that one's.
  const token = (id: string) => ({ id, userId: 'contract', validationHash: 'sha256:x', originAddress: 'here', userAgent: 'ua', impersonatedBy: null, createdAt: now(), lastActive: now() });
  assert.equal(await store.loginTokens.insert(token('t1')), true);
  assert.equal(await store.loginTokens.insert(token('t2')), true);
  assert.equal(await store.loginTokens.insert({ ...token('t3'), userId: 'ghost' }), false, 'no token for a user that does not exist');
  const session = (id: string, originToken: string | null) => ({ id, userId: 'contract', originAddress: 'here', originToken, impersonatedBy: null, createdAt: now(), lastActive: now() });
  for (const [id, t] of [['s1', 't1'], ['s2', 't1'], ['s3', 't2'], ['s4', null]] as const) await store.sessions.insert(session(id, t));
  assert.deepEqual(await store.loginTokens.delete('someone-else', 't1'), { deleted: false, sessionIds: [] });
  const del = await store.loginTokens.delete('contract', 't1');
  assert.deepEqual({ deleted: del.deleted, sessionIds: del.sessionIds.sort() }, { deleted: true, sessionIds: ['s1', 's2'] });
  assert.deepEqual((await store.sessions.deleteByUser('contract', ['s3'])).sort(), ['s4']);
  assert.deepEqual((await store.loginTokens.listByUser('contract')).map((t) => t.id), ['t2']);
  // The last activity is the latest of the remaining session's and token's.
  await store.sessions.touch('s3', 4_000_000_000);
  await store.loginTokens.touch('t2', 4_000_000_100);
  assert.deepEqual((await store.users.listSummaries()).find((u) => u.id === 'contract')?.lastActive, 4_000_000_100, 'listSummaries: the latest of sessions and tokens');

  // Impersonation: the impersonator's sessions, and the tokens made inside them with their sessions, go together.
  assert.equal(await store.loginTokens.insert({ ...token('t4'), impersonatedBy: 'boss' }), true);
  await store.sessions.insert({ ...session('s5', null), impersonatedBy: 'boss' });
  await store.sessions.insert(session('s6', 't4'));
  assert.equal((await store.sessions.get('s5'))?.impersonatedBy, 'boss');
  assert.equal((await store.loginTokens.get('t4'))?.impersonatedBy, 'boss');
  assert.equal((await store.loginTokens.get('t2'))?.impersonatedBy, null);
  assert.deepEqual(await store.sessions.listImpersonators(), ['boss']);
  assert.deepEqual(await store.sessions.deleteByImpersonator('boss'), ['s5']);
  assert.deepEqual(await store.loginTokens.deleteByImpersonator('boss'), { tokenIds: ['t4'], sessionIds: ['s6'] });
  assert.deepEqual(await store.sessions.listImpersonators(), []);

  // Deleting the user takes everything it owns.
  await store.genericData.set('contract', 'starred_models', 'full', '{}');
  assert.equal(await store.users.delete('contract'), true);
  assert.equal(await store.sessions.get('s3'), null);
  assert.equal(await store.loginTokens.get('t2'), null);
  assert.deepEqual(await store.presets.list('contract'), []);
  assert.equal(await store.genericData.get('contract', 'starred_models', 'full'), null);

  // Leases: one holder at a time; the holder renews; another takes over only after release or expiry.
  assert.equal(await store.leases.acquire('job', 'one', 60), true);
  assert.equal(await store.leases.acquire('job', 'two', 60), false);
  assert.equal(await store.leases.acquire('job', 'one', 60), true, 'the holder renews');
  await store.leases.release('job', 'two');
  assert.equal(await store.leases.acquire('job', 'two', 60), false, 'only the holder releases');
  await store.leases.release('job', 'one');
  assert.equal(await store.leases.acquire('job', 'two', 0), true);
  assert.ok(await eventually(() => store.leases.acquire('job', 'three', 60), 15_000), 'an expired lease can be taken');
  assert.equal(await store.leases.acquire('job', 'two', 60), false, 'the new holder keeps it');

  // The readiness probe: a fresh store has every migration applied; the call observer sees each statement and
  // transaction, failures included.
  assert.deepEqual(await store.probe(), { migrated: true });
  const calls: string[] = [];
  store.observeCalls((operation, seconds, failed) => calls.push(`${operation}:${failed ? 'failed' : 'ok'}:${seconds >= 0}`));
  await store.users.get('nobody');
  await store.transaction((tx) => tx.users.get('nobody'));
  await assert.rejects(store.transaction(async () => Promise.reject(new Error('rolled back'))));
  assert.deepEqual(calls, ['read:ok:true', 'read:ok:true', 'transaction:ok:true', 'transaction:failed:true']);
  store.observeCalls(() => undefined);

  // Settings: setMany stores every entry (undefined removes) in one transaction.
  await store.settings.setMany({ 'Contract.A': 1, 'Contract.B': ['x'] });
  await store.settings.setMany({ 'Contract.A': undefined, 'Contract.C': true });
  const stored = await store.settings.all();
  assert.deepEqual([stored['Contract.A'], stored['Contract.B'], stored['Contract.C']], [undefined, ['x'], true]);

  // Audit: newest first, filtered by user (actor or target), time and seq; pruned by age.
  await store.audit.insert({ at: 100, userId: 'a', attemptedName: null, address: '1.2.3.4', action: 'x.one', target: 'b', detail: { n: 1 } });
  await store.audit.insert({ at: 200, userId: null, attemptedName: 'who', address: 'cli', action: 'x.two', target: null, detail: {} });
  await store.audit.insert({ at: 300, userId: 'b', attemptedName: null, address: '::1', action: 'x.three', target: 'c', detail: { list: [1] } });
  const all = await store.audit.list({ limit: 10 });
  assert.deepEqual(all.map((e) => [e.action, e.at, e.userId, e.attemptedName, e.address, e.target, e.detail]), [
    ['x.three', 300, 'b', null, '::1', 'c', { list: [1] }],
    ['x.two', 200, null, 'who', 'cli', null, {}],
    ['x.one', 100, 'a', null, '1.2.3.4', 'b', { n: 1 }],
  ]);
  assert.deepEqual((await store.audit.list({ userId: 'b', limit: 10 })).map((e) => e.action), ['x.three', 'x.one']);
  assert.deepEqual((await store.audit.list({ since: 200, limit: 10 })).map((e) => e.action), ['x.three', 'x.two']);
  assert.deepEqual((await store.audit.list({ before: all[0]!.seq, limit: 1 })).map((e) => e.action), ['x.two']);
  assert.equal(await store.audit.prune(250), 2);
  assert.deepEqual((await store.audit.list({ limit: 10 })).map((e) => e.action), ['x.three']);

  // OAuth: one e-mail per account and each e-mail to one account, swapped atomically; pending entries taken once.
  assert.equal(await store.users.create({ ...user, id: 'linker' }), true);
  assert.equal(await store.users.create({ ...user, id: 'linker2' }), true);
  assert.equal(await store.oauth.setLink('linker', 'l@example.com', 'oidc', 10), 'ok');
  assert.equal(await store.oauth.setLink('linker2', 'l@example.com', 'oidc', 11), 'taken');
  assert.equal(await store.oauth.setLink('nobody-here', 'n@example.com', 'oidc', 11), 'no_user');
  assert.equal(await store.oauth.setLink('linker', 'l2@example.com', 'google', 12), 'ok');
  assert.equal(await store.oauth.byEmail('l@example.com'), null);
  assert.deepEqual(await store.oauth.byUser('linker'), { email: 'l2@example.com', userId: 'linker', provider: 'google', linkedAt: 12 });
  assert.equal(await store.oauth.setLink('linker2', 'l@example.com', 'admin', 13), 'ok');
  assert.equal(await store.oauth.setLink('linker2', null, 'admin', 14), 'ok');
  assert.equal(await store.oauth.byUser('linker2'), null);
  await store.oauth.putPending('p1', 'flow', { a: 1 }, 1000);
  await store.oauth.putPending('p2', 'tracker', { b: 2 }, 500);
  assert.deepEqual(await store.oauth.peekPending('p1', 'flow', 900), { a: 1 });
  assert.equal(await store.oauth.peekPending('p1', 'tracker', 900), null);
  assert.equal(await store.oauth.takePending('p2', 'tracker', 600), null, 'expired entries are not handed out');
  const taken = await Promise.all([store.oauth.takePending('p1', 'flow', 900), store.oauth.takePending('p1', 'flow', 900)]);
  assert.deepEqual(taken.filter((x) => x !== null), [{ a: 1 }]);
  await store.oauth.putPending('p3', 'flow', {}, 100);
  assert.equal(await store.oauth.prunePending(200), 1);
  assert.equal(await store.users.delete('linker'), true);
  assert.equal(await store.oauth.byEmail('l2@example.com'), null, "a deleted user's link goes with it");

  // Rate limits: a fixed window; refusals do not count; a new window starts after the period.
  const limiter = store.createRateLimiter();
  const rule: RateLimitRule = { name: 'contract', max: 3, periodMs: 300 };
  const results = [];
  for (let i = 0; i < 5; i++) results.push(await limiter.tryUse(rule, 'k'));
  assert.deepEqual(results, [true, true, true, false, false]);
  assert.equal(await limiter.tryUse(rule, 'other'), true);
  // Refused attempts do not count, so polling cannot extend the window.
  assert.ok(await eventually(() => limiter.tryUse(rule, 'k'), 15_000), 'a new window starts after the period');
}

describe('store contract', () => {
  test('SQLite meets the store contract', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-contract-'));
    const store = await openSqliteStore(dir);
    try {
      await storeContract(store);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL meets the store contract', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const db = await createTestDatabase();
    const store = await openPostgresStore(db.url, { dataDir: mkdtempSync(path.join(tmpdir(), 'swarmcore-contract-')) });
    try {
      await storeContract(store);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe('PostgreSQL transactions are serialised per scope', () => {
  test("one user's transaction does not wait for another user's, but a second one of the same user does", async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const db = await createTestDatabase();
    const store = await openPostgresStore(db.url, { dataDir: mkdtempSync(path.join(tmpdir(), 'swarmcore-scope-')) });
    try {
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      // Alice's transaction holds her scope's lock until released.
      const alice = store.transaction(async (tx) => {
        await tx.meta.set('probe.alice', '1');
        entered();
        await held;
        order.push('alice done');
      }, TransactionScope.user('alice'));
      await inside;
      // Bob's commits while Alice's is open; Alice's second one waits for her first.
      const aliceAgain = store.transaction(async () => void order.push('alice again'), TransactionScope.user('alice'));
      await store.transaction(async (tx) => {
        await tx.meta.set('probe.bob', '1');
        order.push('bob done');
      }, TransactionScope.user('bob'));
      release();
      await Promise.all([alice, aliceAgain]);
      assert.deepEqual(order, ['bob done', 'alice done', 'alice again']);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe('settings changes that overlap in time all survive', () => {
  const owner = { id: 'contract', passwordHash: '', passwordSetByAdmin: true, roles: ['user'], settings: {}, paramEdits: '', createdAt: now() };

  test('PostgreSQL: 40 changes of different keys sent at once over the connection pool are all kept', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const db = await createTestDatabase();
    const store = await openPostgresStore(db.url, { dataDir: mkdtempSync(path.join(tmpdir(), 'swarmcore-contract-')) });
    try {
      assert.equal(await store.users.create(owner), true);
      // The pool runs these on several connections, so the reads and writes of different changes interleave.
      const done = await Promise.all(Array.from({ length: 40 }, (_, i) => store.users.updateSettings('contract', (s) => ({ ...s, [`k${i}`]: i }))));
      assert.deepEqual(done, Array(40).fill(true));
      assert.deepEqual((await store.users.get('contract'))!.settings, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])));
    } finally {
      await store.close();
      await db.drop();
    }
  });

  test('SQLite: two processes changing different keys of one user in the same file at once lose none of them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-writers-'));
    const store = await openSqliteStore(dir);
    const PER_WRITER = 300;
    try {
      assert.equal(await store.users.create(owner), true);
      const writers = ['a', 'b'].map((prefix) => spawn(process.execPath, ['--import', 'tsx', WRITER, dir, prefix, String(PER_WRITER)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] }));
      const lines = writers.map((w) => readline.createInterface({ input: w.stdout! })[Symbol.asyncIterator]());
      for (const l of lines) assert.equal((await l.next()).value, 'ready');
      const exits = writers.map((w) => once(w, 'exit'));
      for (const w of writers) w.stdin!.end('go\n');
      for (const l of lines) assert.equal((await l.next()).value, 'done');
      assert.deepEqual(await Promise.all(exits), [[0, null], [0, null]]);
      const settings = (await store.users.get('contract'))!.settings;
      const missing = ['a', 'b'].flatMap((p) => Array.from({ length: PER_WRITER }, (_, i) => `${p}${i}`)).filter((k) => !(k in settings));
      assert.deepEqual(missing, []);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('several instances on one PostgreSQL database', () => {
  const ACCOUNTS = { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false };
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;

  before(async () => {
    if (!(await postgresAvailable())) return;
    db = await createTestDatabase();
    const dir = mkdtempSync(path.join(tmpdir(), 'swarmcore-pg-cli-'));
    assert.equal((await runCli(['user', 'add', 'shared_user', '--password', 'shared-password', '--data-dir', dir, '--database-url', db.url])).code, 0);
    // Both start at once on a database whose schema already exists; migrations are serialised by a lock.
    [a, b] = await Promise.all([TestServer.start({ databaseUrl: db.url, settings: ACCOUNTS }), TestServer.start({ databaseUrl: db.url, settings: ACCOUNTS })]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  async function loginOn(server: TestServer): Promise<string> {
    const res = await server.api('Login', { username: 'shared_user', password: await prehash('shared_user', 'shared-password') });
    assert.deepEqual(res.body, { success: 'true' });
    return /swarm_token=([^;]*)/.exec(res.headers.get('set-cookie')!)![1]!;
  }

  test('a session made on one instance works on the other, and logging out on one ends it on both', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const token = await loginOn(a!);
    const sid = (await b!.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    assert.equal((await a!.call('ListMyAuthTokens', sid)).status, 200);
    assert.equal((await b!.call('ListMyAuthTokens', sid)).status, 200);
    const out = await a!.call('Logout', sid, {}, { Cookie: `swarm_token=${token}` });
    assert.deepEqual(out.body, { success: 'true' });
    assert.ok(await eventually(async () => (await b!.call('ListMyAuthTokens', sid)).status === 401), 'instance B still accepts the ended session');
    assert.deepEqual(Object.keys((await b!.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body), ['error']);
  });

  test('revoking a token on one instance ends its sessions cached on the other', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const keep = await loginOn(a!);
    const revoked = await loginOn(b!);
    const keepSid = (await a!.api('GetNewSession', {}, { Cookie: `swarm_token=${keep}` })).body.session_id as string;
    const doomed = (await b!.api('GetNewSession', {}, { Cookie: `swarm_token=${revoked}` })).body.session_id as string;
    assert.equal((await b!.call('ListMyAuthTokens', doomed)).status, 200);
    assert.deepEqual((await a!.call('RevokeMyAuthToken', keepSid, { tokenId: revoked.split('.')[1] })).body, { success: true });
    assert.ok(await eventually(async () => (await b!.call('ListMyAuthTokens', doomed)).status === 401));
    assert.equal((await b!.call('ListMyAuthTokens', keepSid)).status, 200);
  });

  test('the login rate limit is shared: five attempts spread over two instances exhaust it', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const attempt = (s: TestServer) => s.api('Login', { username: 'nobody_pg', password: 'f'.repeat(64) }, { 'X-Forwarded-For': '198.51.100.7' });
    // X-Forwarded-For from an untrusted peer is ignored: the key is the socket address, shared by both.
    const c = await TestServer.start({ databaseUrl: db!.url, settings: { 'Network.TrustedProxies': '127.0.0.1' } });
    const d = await TestServer.start({ databaseUrl: db!.url, settings: { 'Network.TrustedProxies': '127.0.0.1' } });
    try {
      const bodies = [];
      for (const s of [c, d, c, d, c, d]) bodies.push((await attempt(s)).body);
      assert.deepEqual(bodies, [...Array(5).fill({ error_id: 'invalid_login' }), { error_id: 'ratelimit' }]);
    } finally {
      await c.close();
      await d.close();
    }
  });

  test("a user's presets, links, starred models and settings changed on one instance show in GetMyUserData on the other", async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const token = await loginOn(a!);
    const sidA = (await a!.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    const sidB = (await b!.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    const view = async (): Promise<unknown> => {
      const d = (await b!.call('GetMyUserData', sidB)).body as Record<string, unknown>;
      return [(d.presets as Array<{ title: string }>).map((p) => p.title), d.model_preset_links, d.starred_models, d.language];
    };
    // B answers from its memory from now on; each change on A must reach it.
    assert.deepEqual(await view(), [[], {}, {}, 'en']);
    assert.deepEqual((await a!.call('AddNewPreset', sidA, { title: 'shared', description: '', param_map: { steps: 20 } })).body, { success: true });
    assert.ok(await eventually(async () => JSON.stringify(await view()) === JSON.stringify([['shared'], {}, {}, 'en'])), 'B never saw the new preset');
    assert.deepEqual((await a!.call('SetPresetLinks', sidA, { 'Stable-Diffusion': { m: ['shared'] } })).body, { success: true });
    assert.deepEqual((await a!.call('SetStarredModels', sidA, { 'Stable-Diffusion': ['m.safetensors'] })).body, { success: true });
    assert.deepEqual((await a!.call('ChangeUserSettings', sidA, { settings: { language: 'de' } })).body, { success: true });
    const changed = [['shared'], { 'Stable-Diffusion': { m: ['shared'] } }, { 'Stable-Diffusion': ['m.safetensors'] }, 'de'];
    assert.ok(await eventually(async () => JSON.stringify(await view()) === JSON.stringify(changed)), `B shows ${JSON.stringify(await view())}`);
    assert.deepEqual((await a!.call('DeletePreset', sidA, { preset: 'shared' })).body, { success: true });
    assert.ok(await eventually(async () => JSON.stringify(((await view()) as unknown[])[0]) === '[]'), 'B still lists the deleted preset');
  });

  /** Whether the Login page of `server` offers password login (it reads the setting on every request). */
  async function offersPasswordLogin(server: TestServer): Promise<unknown> {
    const html = await (await fetch(`${server.url}/Login`)).text();
    const data = /<script type="application\/json" id="page-data">(.*?)<\/script>/s.exec(html);
    assert.ok(data, 'the Login page has a page-data block');
    return (JSON.parse(data[1]!) as Record<string, unknown>).allow_password_login;
  }

  test('a setting changed through the CLI reaches every instance, both ways', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    for (const s of [a!, b!]) assert.equal(await offersPasswordLogin(s), true);
    assert.equal((await a!.cli(['settings', 'set', 'UserAuthorization.AllowSimplePasswordLogin', 'false'])).code, 0);
    for (const s of [a!, b!]) {
      assert.ok(await eventually(async () => (await offersPasswordLogin(s)) === false, 15_000), `${s.url} still offers password login`);
      // The right password is refused too (a refusal for a disabled login uses no rate-limit attempt).
      const res = await s.api('Login', { username: 'shared_user', password: await prehash('shared_user', 'shared-password') });
      assert.deepEqual(res.body, { error_id: 'invalid_login' });
    }
    assert.equal((await a!.cli(['settings', 'set', 'UserAuthorization.AllowSimplePasswordLogin', 'true'])).code, 0);
    for (const s of [a!, b!]) assert.ok(await eventually(async () => (await offersPasswordLogin(s)) === true, 15_000), `${s.url} never offered password login again`);
  });

  test('acknowledged writes survive kill -9 of an instance', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const token = await loginOn(a!);
    const sid = (await a!.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => a!.call('CreateAuthToken', sid, { reason: `pg ${i}` })));
    await a!.stop('SIGKILL');
    a = await TestServer.start({ databaseUrl: db!.url, settings: ACCOUNTS });
    for (const m of made) {
      const res = await a.api('GetNewSession', {}, { 'X-Swarm-Token': m.body.token as string });
      assert.equal(res.body.user_id, 'shared_user');
    }
  });
});
