// `swarmcore db backup` and `swarmcore db copy` (README.md#command-line), run as child processes exactly as a
// person runs them, on data made through the API of a real server; and the schema-version check that makes a
// restored backup from a newer release refuse to open.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../src/store/migrations.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { readSecretKeyFile, type SecretBox } from '../src/store/secret-box.js';
import { connectionOf, isSecretGenericData } from '../src/store/sql.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { COPIED_TABLES, STORED_TABLES, listTables } from '../src/store/tables.js';
import type { Store } from '../src/store/types.js';
import { createTestDatabase, postgresAvailable, withPostgres } from './helpers/postgres.js';
import { ROOT, SHARED_SECRET_KEY, TestServer, needsService, prehash, runCli, type ApiResponse } from './helpers/server.js';

/** No key from the environment: each data dir's own secret.key is what these tests are about. */
const NO_ENV_KEY = { SWARMCORE_SECRET_KEY: '' };
const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(args, NO_ENV_KEY);
const ROLE_EXTENSION = path.join(ROOT, 'test/fixtures/custom-role-extension.ts');
const KEY_TYPES = ['stability_api', 'civitai_api', 'huggingface_api'];

let work: string;
let pgOk = false;
before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'swarmcore-dbtools-'));
  pgOk = await postgresAvailable();
});
after(() => rmSync(work, { recursive: true, force: true }));

/** A failure is exactly one line on stderr, no stack trace, exit code 1. */
function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

function jpegDataUrl(seed: number): Promise<string> {
  return import('jpeg-js').then(({ default: jpeg }) => {
    const data = Buffer.alloc(16 * 16 * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * seed) % 251;
    return `data:image/jpeg;base64,${jpeg.encode({ data, width: 16, height: 16 }, 90).data.toString('base64')}`;
  });
}

async function login(server: TestServer, user: string, password: string): Promise<string> {
  const res = await server.api('Login', { username: user, password: await prehash(user, password) });
  assert.deepEqual(res.body, { success: 'true' }, `Login ${user}: ${res.text}`);
  const token = /swarm_token=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(token, 'Login sets the swarm_token cookie');
  return token;
}

async function sessionFor(server: TestServer, token: string): Promise<string> {
  const res = await server.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` });
  assert.equal(typeof res.body.session_id, 'string', res.text);
  return res.body.session_id as string;
}

function ok(res: ApiResponse, route: string): void {
  assert.deepEqual(res.body, { success: true }, `${route}: ${res.text}`);
}

/** Everything a user sees of their own data through the API (times of use left out: using it changes them). */
async function viewOf(server: TestServer, token: string): Promise<Record<string, unknown>> {
  const sid = await sessionFor(server, token);
  const data = (await server.call('GetMyUserData', sid)).body;
  const images: Record<string, string> = {};
  for (const p of data.presets as Array<{ title: string }>) {
    const res = await fetch(`${server.url}/ViewSpecial/Preset/${encodeURIComponent(p.title)}`, { headers: { Cookie: `swarm_token=${token}`, Connection: 'close' } });
    images[p.title] = `${res.status} ${res.headers.get('content-type')} ${Buffer.from(await res.arrayBuffer()).toString('base64')}`;
  }
  const keys: Record<string, unknown> = {};
  for (const keyType of KEY_TYPES) keys[keyType] = (await server.call('GetAPIKeyStatus', sid, { keyType })).body;
  const tokens = ((await server.call('ListMyAuthTokens', sid)).body.tokens as Array<Record<string, unknown>>).map(({ last_active: _, is_current: __, ...rest }) => rest);
  const view = { data, images, settings: (await server.call('GetUserSettings', sid)).body, keys, tokens, exported: (await server.call('ExportUserPresets', sid)).body };
  // ?editid= is a per-process cache-buster (docs/COMPATIBILITY.md#edit-ids), not stored data.
  return JSON.parse(JSON.stringify(view).replace(/\?editid=\d+/g, '?editid=N')) as Record<string, unknown>;
}

/**
 * Every copied row of a store, secrets opened with its key and booleans as booleans: what must be equal, row for
 * row, on every end of a copy.
 */
async function dumpOf(store: Store, box: SecretBox): Promise<Record<string, unknown[]>> {
  const db = connectionOf(store);
  const out: Record<string, unknown[]> = {};
  for (const t of COPIED_TABLES) {
    const rows = (await db.all(`SELECT * FROM ${t.name} ORDER BY ${t.order}`)).filter((r) => !t.skipRow?.(r));
    out[t.name] = rows.map((r) => {
      const row: Record<string, unknown> = { ...r };
      for (const b of ['password_set_by_admin', 'is_starred', 'has_image']) if (b in row) row[b] = row[b] === true || row[b] === 1;
      if (t.name === 'generic_data' && isSecretGenericData(String(r.dataname), String(r.name))) row.data = `opened:${box.open(String(r.data))}`;
      return row;
    });
  }
  return out;
}

async function withStore<T>(open: () => Promise<Store>, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await open();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('the table list', () => {
  test('every table either engine holds is in STORED_TABLES, and every entry exists on some engine', async (t) => {
    const dir = path.join(work, 'tables');
    const sqlite = await withStore(
      () => openSqliteStore(dir),
      (s) => listTables(connectionOf(s)),
    );
    const known = STORED_TABLES.map((x) => x.name);
    assert.deepEqual(
      sqlite.filter((x) => !known.includes(x)),
      [],
      'SQLite tables missing from src/store/tables.ts',
    );
    if (!needsService(t, pgOk, 'PostgreSQL is not reachable')) return;
    const db = await createTestDatabase();
    try {
      const postgres = await withStore(
        () => openPostgresStore(db.url, { dataDir: dir }),
        (s) => listTables(connectionOf(s)),
      );
      assert.deepEqual(
        postgres.filter((x) => !known.includes(x)),
        [],
        'PostgreSQL tables missing from src/store/tables.ts',
      );
      assert.deepEqual(
        known.filter((x) => !sqlite.includes(x) && !postgres.includes(x)),
        [],
        'entries of src/store/tables.ts no engine has',
      );
      // What the copy leaves out is exactly the engine-specific and bookkeeping tables.
      assert.deepEqual(
        STORED_TABLES.filter((x) => x.copy !== true).map((x) => x.name),
        ['oauth_pending', 'schema_migrations', 'cluster_events', 'rate_limits'],
      );
    } finally {
      await db.drop();
    }
  });
});

describe('db copy', () => {
  test('a data set made through the API moves SQLite -> PostgreSQL -> SQLite with every row, answer, password, login token and API key intact', async (t) => {
    if (!needsService(t, pgOk, 'PostgreSQL is not reachable')) return;
    const a = path.join(work, 'copy-a');
    const c = path.join(work, 'copy-c');
    const pgKeyFile = path.join(work, 'pg.key');
    writeFileSync(pgKeyFile, `${SHARED_SECRET_KEY}\n`, { mode: 0o600 });
    const pgDb = await createTestDatabase();
    const users = { alice: 'alice password', carol: 'carol password', root_admin: 'root password' };
    try {
      // Users with built-in roles and a custom role; a stored server setting.
      assert.equal((await cli('user', 'add', 'alice', '--password', users.alice, '--data-dir', a)).code, 0);
      assert.equal((await cli('user', 'add', 'root_admin', '--password', users.root_admin, '--role', 'owner', '--data-dir', a)).code, 0);
      const carol = await cli('user', 'add', 'carol', '--password', users.carol, '--role', 'artist', '--extension', ROLE_EXTENSION, '--data-dir', a);
      assert.equal(carol.stdout, "Created user 'carol' with role 'artist'.\n", carol.stderr);
      assert.equal((await cli('settings', 'set', 'UserAuthorization.AuthorizationRequired', 'true', '--data-dir', a)).code, 0);

      const source = await TestServer.start({ dataDir: a, env: NO_ENV_KEY });
      const tokens: Record<string, string> = {};
      const sids: Record<string, string> = {};
      const before: Record<string, unknown> = {};
      try {
        let seed = 1;
        for (const [user, password] of Object.entries(users)) {
          tokens[user] = await login(source, user, password);
          const sid = (sids[user] = await sessionFor(source, tokens[user]));
          for (const title of [`${user} portrait`, `${user} landscape`]) {
            ok(await source.call('AddNewPreset', sid, { title, description: `by ${user}`, param_map: { prompt: `a ${title}`, steps: '20' }, preview_image: await jpegDataUrl(seed++) }), 'AddNewPreset');
          }
          ok(await source.call('ChangeUserSettings', sid, { settings: { language: 'de' } }), 'ChangeUserSettings');
          ok(await source.call('SetAPIKey', sid, { keyType: 'civitai_api', key: `civ-${user}-${randomBytes(4).toString('hex')}` }), 'SetAPIKey');
          ok(await source.call('SetAPIKey', sid, { keyType: 'huggingface_api', key: `hf-${user}` }), 'SetAPIKey');
          ok(await source.call('SetStarredModels', sid, { LoRA: [`${user}.safetensors`], 'Stable-Diffusion': ['base/xl.safetensors'] }), 'SetStarredModels');
          ok(await source.call('SetPresetLinks', sid, { LoRA: { [`${user}.safetensors`]: [`${user} portrait`] } }), 'SetPresetLinks');
          ok(await source.call('SetParamEdits', sid, { edits: { params: { steps: { visible: false } }, owner: user } }), 'SetParamEdits');
          assert.equal(typeof (await source.call('CreateAuthToken', sid, { reason: `${user}'s script` })).body.token, 'string');
        }
        for (const user of Object.keys(users)) before[user] = await viewOf(source, tokens[user]!);
        assert.deepEqual((before.carol as { data: { presets: unknown[] } }).data.presets.length, 2);
      } finally {
        await source.stop();
      }

      const aBox = readSecretKeyFile(path.join(a, 'secret.key'));
      const dumpA = await withStore(
        () => openSqliteStore(a, { secretBox: aBox }),
        (s) => dumpOf(s, aBox),
      );
      assert.deepEqual(
        dumpA.roles!.map((r) => (r as { id: string }).id),
        ['admin', 'artist', 'guest', 'owner', 'poweruser', 'user'],
      );
      assert.equal(dumpA.generic_data!.filter((r) => String((r as { data: string }).data).startsWith('opened:')).length, 6);

      // SQLite -> a fresh PostgreSQL database, sealed with another key.
      const toPg = await cli('db', 'copy', '--from', a, '--to', pgDb.url, '--to-secret-key-file', pgKeyFile);
      assert.equal(toPg.stderr, '');
      const counts = `users 4, roles 6, sessions ${dumpA.sessions!.length}, login_tokens 6, presets 6, generic_data ${dumpA.generic_data!.length}, server_settings 1, server_meta ${dumpA.server_meta!.length}, audit_log ${dumpA.audit_log!.length}, oauth_links 0`;
      assert.equal(toPg.stdout, `Copied ${a} to ${pgDb.url} (row counts checked on both ends): ${counts}.\nAPI keys: 6 sealed again with the target's key (${pgKeyFile}); start the target's servers with that key.\n`);
      const pgBox = readSecretKeyFile(pgKeyFile);
      const dumpPg = await withStore(
        () => openPostgresStore(pgDb.url, { dataDir: work, secretBox: pgBox }),
        (s) => dumpOf(s, pgBox),
      );
      assert.deepEqual(dumpPg, dumpA);

      // PostgreSQL -> a fresh SQLite data dir, which makes its own key.
      const toC = await cli('db', 'copy', '--from', pgDb.url, '--to', c, '--from-secret-key-file', pgKeyFile);
      assert.equal(toC.code, 0, toC.stderr);
      assert.equal(toC.stdout, `Copied ${pgDb.url} to ${c} (row counts checked on both ends): ${counts}.\nAPI keys: 6 sealed again with the target's key (${path.join(c, 'secret.key')}); start the target's servers with that key.\n`);
      assert.equal(statSync(path.join(c, 'secret.key')).mode & 0o777, 0o600);
      assert.notEqual(readFileSync(path.join(c, 'secret.key'), 'utf8'), readFileSync(path.join(a, 'secret.key'), 'utf8'));
      const cBox = readSecretKeyFile(path.join(c, 'secret.key'));
      const dumpC = await withStore(
        () => openSqliteStore(c, { secretBox: cBox }),
        (s) => dumpOf(s, cBox),
      );
      assert.deepEqual(dumpC, dumpA);

      // Servers on both copies answer every user exactly as the source did; passwords, tokens and sessions work.
      const servers = [
        await TestServer.start({ dataDir: path.join(work, 'pg-home'), databaseUrl: pgDb.url, env: { SWARMCORE_SECRET_KEY: SHARED_SECRET_KEY } }),
        await TestServer.start({ dataDir: c, env: NO_ENV_KEY }),
      ];
      try {
        for (const server of servers) {
          for (const [user, password] of Object.entries(users)) {
            assert.deepEqual(await viewOf(server, tokens[user]!), before[user], `${user} on ${server.databaseUrl ? 'PostgreSQL' : 'SQLite'}`);
            assert.equal((await server.call('GetMyUserData', sids[user]!)).body.user_name, user, 'a session opened on the source still answers');
            assert.equal(typeof (await sessionFor(server, await login(server, user, password))), 'string');
          }
        }
      } finally {
        for (const server of servers) await server.stop();
      }

      // The stored server setting came along.
      const setting = ['settings', 'get', 'UserAuthorization.AuthorizationRequired'];
      assert.equal((await runCli([...setting, '--data-dir', path.join(work, 'pg-home'), '--database-url', pgDb.url], { SWARMCORE_SECRET_KEY: SHARED_SECRET_KEY })).stdout, 'true\n');
      assert.equal((await cli(...setting, '--data-dir', c)).stdout, 'true\n');

      // A target that holds data is refused without --force; with it, it is replaced in one go.
      const refused = await cli('db', 'copy', '--from', a, '--to', c);
      assertOneLineError(refused, new RegExp(`^swarmcore: ${c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} already holds data \\(users 4, roles 6, .*\\); give --force to replace it\\.$`));
      const forced = await cli('db', 'copy', '--from', a, '--to', c, '--force');
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /^Copied .* \(row counts checked on both ends\): users 4, roles 6, /);
      const dumpForced = await withStore(
        () => openSqliteStore(c, { secretBox: cBox }),
        (s) => dumpOf(s, cBox),
      );
      assert.deepEqual(dumpForced.users, dumpA.users);
      assert.deepEqual(dumpForced.generic_data, dumpA.generic_data);
    } finally {
      await pgDb.drop();
    }
  });

  test('a source whose key is not the one that sealed it is refused before anything is written', async () => {
    const a = path.join(work, 'wrongkey-a');
    assert.equal((await cli('user', 'add', 'dora', '--password', 'dora password', '--data-dir', a)).code, 0);
    const wrongKey = path.join(work, 'wrong.key');
    writeFileSync(wrongKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const target = path.join(work, 'wrongkey-b');
    const r = await cli('db', 'copy', '--from', a, '--to', target, '--from-secret-key-file', wrongKey);
    assertOneLineError(r, /^swarmcore: Cannot open .*wrongkey-a: A sealed value cannot be opened with this secret key/);
    assert.equal(existsSync(target), false, 'no target data dir (nor key) was made');
  });
});

describe('db backup', () => {
  test('a backup taken while a server writes opens on its own and holds every write acknowledged before it began', async (t) => {
    const dir = path.join(work, 'backup-live');
    const server = await TestServer.start({ dataDir: dir, env: NO_ENV_KEY });
    const file = path.join(work, 'live.db');
    const acknowledged: string[] = [];
    let stop = false;
    let sid: string;
    try {
      sid = await server.session();
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          const title = `p${String(i).padStart(5, '0')}`;
          ok(await server.call('AddNewPreset', sid, { title, description: '', param_map: { n: String(i) } }), 'AddNewPreset');
          acknowledged.push(title);
        }
      })();
      while (acknowledged.length < 20) await new Promise((r) => setTimeout(r, 20));
      const before = [...acknowledged];
      const r = await cli('db', 'backup', file, '--data-dir', dir);
      const duringBackup = acknowledged.length;
      t.diagnostic(`${before.length} presets acknowledged before the backup began, ${duringBackup} when it ended`);
      // A few more writes after the backup, so it is certain that writing went on throughout.
      while (acknowledged.length < duringBackup + 5) await new Promise((res) => setTimeout(res, 20));
      stop = true;
      await writer;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Backed up ${path.join(dir, 'swarmcore.db')} to ${file} \\(schema version ${SCHEMA_VERSION}, owner-only\\): users 1, roles 5, sessions \\d+, login_tokens 0, presets \\d+, generic_data 0, server_settings 0, server_meta \\d+, audit_log \\d+, oauth_links 0\\.\\n$`));
      assert.equal(r.stderr, `Keep ${path.join(dir, 'secret.key')} too, as privately as the backup and apart from it: the API keys in the backup are sealed with it and cannot be read without it.\n`);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(existsSync(`${file}-wal`), false, 'the backup is one file');

      // Restore: the backup as the database of a data dir, with the source's secret.key.
      const restored = path.join(work, 'restored');
      mkdirSync(restored, { mode: 0o700 });
      copyFileSync(file, path.join(restored, 'swarmcore.db'));
      copyFileSync(path.join(dir, 'secret.key'), path.join(restored, 'secret.key'));
      const copy = await TestServer.start({ dataDir: restored, env: NO_ENV_KEY });
      try {
        const titles = ((await copy.call('GetMyUserData', await copy.session())).body.presets as Array<{ title: string }>).map((p) => p.title);
        // A consistent snapshot: the first n presets written, for some n covering all acknowledged before it began.
        assert.ok(titles.length >= before.length, `${titles.length} presets in the backup, ${before.length} acknowledged before it`);
        assert.deepEqual(titles, acknowledged.slice(0, titles.length));
        assert.match(r.stdout, new RegExp(`presets ${titles.length},`));
      } finally {
        await copy.stop();
      }
    } finally {
      stop = true;
      await server.stop();
    }
  });

  test('an existing FILE is refused without --force and replaced with it', async () => {
    const dir = path.join(work, 'backup-force');
    assert.equal((await cli('user', 'add', 'erin', '--password', 'erin password', '--data-dir', dir)).code, 0);
    const file = path.join(work, 'force.db');
    writeFileSync(file, 'not a database');
    assertOneLineError(await cli('db', 'backup', file, '--data-dir', dir), new RegExp(`^swarmcore: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} exists already; give --force to replace it\\.$`));
    assert.equal(readFileSync(file, 'utf8'), 'not a database');
    const r = await cli('db', 'backup', file, '--data-dir', dir, '--force');
    assert.equal(r.code, 0, r.stderr);
    const db = new Database(file, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT id FROM users ORDER BY id').all(), [{ id: 'erin' }, { id: 'local' }]);
    } finally {
      db.close();
    }
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('on PostgreSQL it writes nothing and gives the pg_dump command, without the password', async () => {
    const file = path.join(work, 'pg-backup.dump');
    const r = await cli('db', 'backup', file, '--database-url', 'postgres://swarm:hunter2@db.example:5432/swarm');
    assertOneLineError(
      r,
      new RegExp(
        `^swarmcore: db backup copies a SQLite data dir; postgres://swarm:\\*\\*\\*@db\\.example:5432/swarm is PostgreSQL: back it up with pg_dump --format=custom --file=${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} 'postgres://swarm:\\*\\*\\*@db\\.example:5432/swarm' \\(restore into an empty database with pg_restore --no-owner --dbname=URL .*\\)\\.$`,
      ),
    );
    assert.doesNotMatch(r.stderr, /hunter2/);
    assert.equal(existsSync(file), false);
  });
});

describe('schema versions', () => {
  const newer = SCHEMA_VERSION + 1;
  const refusal = new RegExp(`The database has schema version ${newer}, newer than this swarmcore release knows \\(${SCHEMA_VERSION}\\): it was written by a newer release\\. Run that release, or restore a backup made by this one\\.$`);

  test('a backup from an older schema version is restored by migrating it forward at start', async () => {
    const dir = path.join(work, 'older-source');
    assert.equal((await cli('user', 'add', 'gina', '--password', 'gina password', '--data-dir', dir)).code, 0);
    const file = path.join(work, 'older.db');
    assert.equal((await cli('db', 'backup', file, '--data-dir', dir)).code, 0);
    // Turn the backup back into what version 7 wrote: migration 9 only made two session indexes partial, and
    // migration 8 only added the oauth_links and oauth_pending tables.
    assert.equal(SCHEMA_VERSION, 9, 'this test undoes migrations 8 and 9; move it to the newest migration when one is added');
    const db = new Database(file);
    db.exec(`
      DROP INDEX sessions_by_token;
      CREATE INDEX sessions_by_token ON sessions(origin_token);
      DROP INDEX sessions_by_impersonator;
      CREATE INDEX sessions_by_impersonator ON sessions(impersonated_by);
      DROP TABLE oauth_links;
      DROP TABLE oauth_pending;
      DELETE FROM schema_migrations WHERE version IN (8, 9);
    `);
    db.close();
    const restored = path.join(work, 'older-restored');
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(file, path.join(restored, 'swarmcore.db'));
    copyFileSync(path.join(dir, 'secret.key'), path.join(restored, 'secret.key'));
    const server = await TestServer.start({ dataDir: restored, env: NO_ENV_KEY, settings: { 'UserAuthorization.AuthorizationRequired': true } });
    try {
      assert.equal(typeof (await sessionFor(server, await login(server, 'gina', 'gina password'))), 'string');
    } finally {
      await server.stop();
    }
    const check = new Database(path.join(restored, 'swarmcore.db'), { readonly: true });
    try {
      assert.deepEqual(
        check.prepare('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => (r as { version: number }).version),
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
    } finally {
      check.close();
    }
  });

  test('a SQLite database from a newer release is refused with one line and left as it was', async () => {
    const dir = path.join(work, 'newer-sqlite');
    assert.equal((await cli('user', 'add', 'fred', '--password', 'fred password', '--data-dir', dir)).code, 0);
    const file = path.join(dir, 'swarmcore.db');
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, 0)').run(newer, 'from the future');
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = readFileSync(file);
    assertOneLineError(await cli('user', 'list', '--data-dir', dir), new RegExp(`^swarmcore: ${refusal.source}`));
    await assert.rejects(TestServer.start({ dataDir: dir, env: NO_ENV_KEY }), /server exited with 1/);
    assert.ok(readFileSync(file).equals(bytes), 'the refused database is unchanged');
  });

  test('a PostgreSQL database from a newer release is refused with one line', async (t) => {
    if (!needsService(t, pgOk, 'PostgreSQL is not reachable')) return;
    const pgDb = await createTestDatabase();
    try {
      const home = path.join(work, 'newer-pg');
      assert.equal((await cli('user', 'list', '--data-dir', home, '--database-url', pgDb.url)).code, 0);
      await withPostgres(pgDb.url, (c) => c.query("INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, 'from the future', 0)", [newer]));
      assertOneLineError(await cli('user', 'list', '--data-dir', home, '--database-url', pgDb.url), new RegExp(`^swarmcore: Cannot use the PostgreSQL database at .*: ${refusal.source}`));
    } finally {
      await pgDb.drop();
    }
  });
});
