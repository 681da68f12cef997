// The storage layer on both engines: one schema, start-up races, bounded calls, secrets at rest, file modes.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { ServerSettings } from '../src/settings/server-settings.js';
import { MIGRATIONS, migrationSql } from '../src/store/migrations.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { SECRET_KEY_FILE } from '../src/store/secret-box.js';
import { sessionKey } from '../src/store/session-key.js';
import { SQLITE_FILE_NAME, openSqliteStore } from '../src/store/sqlite/index.js';
import type { Store } from '../src/store/types.js';
import { postgresBytes } from './helpers/database.js';
import { ADMIN_URL, createTestDatabase, postgresAvailable, withPostgres } from './helpers/postgres.js';
import { ROOT, SHARED_SECRET_KEY, TestServer, needsService, runCli } from './helpers/server.js';

const NO_PG = `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host}`;
let available = false;
before(async () => {
  available = await postgresAvailable();
});

const tempDir = (label: string): string => mkdtempSync(path.join(tmpdir(), `swarmcore-${label}-`));
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function newDir(label: string): string {
  const d = tempDir(label);
  dirs.push(d);
  return d;
}

/** Runs a TypeScript file in a new Node process (through tsx). */
function runNode(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

type Schema = Record<string, { columns: string[]; indexes: string[] }>;
/** Tables one engine has for what it does its own way: SQLite's event rows, PostgreSQL's rate-limit counters. */
const ENGINE_TABLES = ['cluster_events', 'rate_limits'];

function sqliteSchema(file: string): Schema {
  const db = new Database(file, { readonly: true });
  try {
    const out: Schema = {};
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    for (const t of tables.filter((t) => !ENGINE_TABLES.includes(t))) {
      const cols = db.prepare(`SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info('${t}') ORDER BY cid`).all() as Array<{ name: string; type: string; nn: number; pk: number }>;
      const indexes = (db.prepare(`SELECT name FROM pragma_index_list('${t}') WHERE origin = 'c' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
      out[t] = { columns: cols.map((c) => `${c.name} ${/TEXT/i.test(c.type) ? 'text' : 'number'}${c.nn || c.pk ? ' not null' : ''}${c.pk ? ' key' : ''}`), indexes };
    }
    return out;
  } finally {
    db.close();
  }
}

async function postgresSchema(url: string): Promise<Schema> {
  return withPostgres(url, async (c) => {
    const out: Schema = {};
    const cols = (
      await c.query(`SELECT c.table_name AS t, c.column_name AS name, c.data_type AS type, c.is_nullable AS nullable,
          EXISTS (SELECT 1 FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name
                  WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS pk
        FROM information_schema.columns c WHERE c.table_schema = 'public' ORDER BY c.table_name, c.ordinal_position`)
    ).rows as Array<{ t: string; name: string; type: string; nullable: string; pk: boolean }>;
    for (const col of cols) {
      if (ENGINE_TABLES.includes(col.t)) continue;
      (out[col.t] ??= { columns: [], indexes: [] }).columns.push(`${col.name} ${col.type === 'text' ? 'text' : 'number'}${col.nullable === 'NO' ? ' not null' : ''}${col.pk ? ' key' : ''}`);
    }
    const indexes = (await c.query("SELECT tablename AS t, indexname AS name FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname")).rows as Array<{ t: string; name: string }>;
    for (const i of indexes) if (out[i.t]) out[i.t]!.indexes.push(i.name);
    return out;
  });
}

describe('one schema from one source', () => {
  test('SQLite and PostgreSQL end with the same tables, columns, keys and indexes', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const dir = newDir('schema');
    const sqlite = await openSqliteStore(dir);
    await sqlite.close();
    const db = await createTestDatabase();
    try {
      const postgres = await openPostgresStore(db.url, { dataDir: dir });
      await postgres.close();
      const lite = sqliteSchema(path.join(dir, SQLITE_FILE_NAME));
      assert.deepEqual(Object.keys(lite), ['audit_log', 'generic_data', 'login_tokens', 'oauth_links', 'oauth_pending', 'presets', 'roles', 'schema_migrations', 'server_meta', 'server_settings', 'sessions', 'users']);
      assert.deepEqual(await postgresSchema(db.url), lite);
    } finally {
      await db.drop();
    }
  });
});

describe('start-up races', () => {
  test('concurrent first starts on one SQLite data dir all succeed', async () => {
    const opener = path.join(ROOT, 'test/fixtures/open-store.ts');
    for (let round = 0; round < 3; round++) {
      const dir = newDir('first-start');
      const results = await Promise.all(Array.from({ length: 8 }, () => runNode([opener, dir])));
      assert.deepEqual(
        results.map((r) => [r.code, r.stderr]),
        results.map(() => [0, '']),
      );
      const db = new Database(path.join(dir, SQLITE_FILE_NAME), { readonly: true });
      const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version);
      db.close();
      assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
    }
  });

  async function rolesOf(url: string): Promise<{ roles: Record<string, string[]>; tracked: string[] }> {
    return withPostgres(url, async (c) => {
      const roles: Record<string, string[]> = {};
      for (const r of (await c.query('SELECT id, data FROM roles ORDER BY id')).rows as Array<{ id: string; data: string }>) roles[r.id] = (JSON.parse(r.data) as { permissions: string[] }).permissions;
      const tracked = JSON.parse(((await c.query("SELECT value FROM server_meta WHERE key = 'roles.tracked_permissions'")).rows[0] as { value: string }).value) as string[];
      return { roles, tracked };
    });
  }
  const sorted = (r: { roles: Record<string, string[]>; tracked: string[] }) => ({
    roles: Object.fromEntries(Object.entries(r.roles).map(([id, p]) => [id, [...p].sort()])),
    tracked: [...r.tracked].sort(),
  });

  test('several instances starting together on one PostgreSQL leave the role defaults applied once and intact', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const extension = path.join(ROOT, 'test/fixtures/test-extension.ts');
    const dir = newDir('roles');
    const reference = await createTestDatabase();
    try {
      assert.equal((await runCli(['user', 'add', 'alone', '--password', 'pw123456', '--data-dir', dir, '--database-url', reference.url, '--extension', extension])).code, 0);
      const expected = sorted(await rolesOf(reference.url));
      assert.ok(expected.roles.user!.includes('fixture_everyday'), 'the extension permission reaches the user role');
      for (let round = 0; round < 1; round++) {
        const db = await createTestDatabase();
        try {
          // Half the instances know the extension's permissions and half do not: none may undo another's grants.
          const starts = Array.from({ length: 6 }, (_, i) =>
            runCli(['user', 'add', `starter_${i}`, '--password', 'pw123456', '--data-dir', dir, '--database-url', db.url, ...(i % 2 === 0 ? ['--extension', extension] : [])]),
          );
          assert.deepEqual((await Promise.all(starts)).map((r) => r.code), [0, 0, 0, 0, 0, 0]);
          const got = await rolesOf(db.url);
          for (const [id, permissions] of Object.entries(got.roles)) assert.equal(new Set(permissions).size, permissions.length, `role ${id} lists a permission twice`);
          assert.equal(new Set(got.tracked).size, got.tracked.length, 'a permission is tracked twice');
          assert.deepEqual(sorted(got), expected);
        } finally {
          await db.drop();
        }
      }
    } finally {
      await reference.drop();
    }
  });

  test('settings reloads applied out of order never leave a stale value', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const db = await createTestDatabase();
    const dir = newDir('reload');
    const writer = await openPostgresStore(db.url, { dataDir: dir });
    const reader = await openPostgresStore(db.url, { dataDir: dir });
    const writerBus = writer.createEventBus(pino({ level: 'silent' }));
    const readerBus = reader.createEventBus(pino({ level: 'silent' }));
    try {
      const a = new ServerSettings(writer.settings, writerBus);
      const b = new ServerSettings(reader.settings, readerBus);
      await b.reload();
      for (let round = 0; round < 5; round++) {
        // Many changes in a burst: the reader reloads once per event, with reads on up to ten connections.
        for (let i = 1; i <= 30; i++) await a.set('UserAuthorization.InstanceTitle', `round ${round} change ${i}`);
        const last = `round ${round} change 30`;
        for (let i = 0; i < 200 && b.string('UserAuthorization.InstanceTitle') !== last; i++) await new Promise((r) => setTimeout(r, 25));
        assert.equal(b.string('UserAuthorization.InstanceTitle'), last);
        // Reads still under way when the last value arrived must not replace it afterwards.
        await new Promise((r) => setTimeout(r, 500));
        await b.reload();
        assert.equal(b.string('UserAuthorization.InstanceTitle'), last);
      }
    } finally {
      await writerBus.close();
      await readerBus.close();
      await writer.close();
      await reader.close();
      await db.drop();
    }
  });
});

describe('a database that stops answering', () => {
  test('a frozen PostgreSQL makes API calls answer a timeout error instead of hanging, and the server recovers', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const db = await createTestDatabase();
    const server = await TestServer.start({ databaseUrl: db.url, env: { SWARMCORE_DATABASE_TIMEOUT_MS: '1500' } });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      assert.equal(typeof (await server.session()), 'string');
      // Another connection holds every table the call needs: to the server, the database has frozen.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE sessions, users IN ACCESS EXCLUSIVE MODE');
      const frozen = await server.api('GetNewSession');
      assert.deepEqual(
        { status: frozen.status, body: frozen.body },
        {
          status: 400,
          body: { error: "The database did not answer within 1.5 seconds. Try again shortly; if this persists, the server's database is unavailable.", error_id: 'internal_error' },
        },
      );
      await locker.query('ROLLBACK');
      assert.equal(typeof (await server.session()), 'string', 'the server answers again once the database does');
    } finally {
      await locker.end();
      await server.close();
      await db.drop();
    }
  });
});

describe('secrets at rest', () => {
  const API_KEY = 'civitai-SECRET-key-0123456789abcdef';

  async function storeAndCheck(server: TestServer, bytes: () => Promise<Buffer>): Promise<string> {
    const sid = await server.session();
    assert.deepEqual((await server.call('SetAPIKey', sid, { keyType: 'civitai_api', key: API_KEY })).body, { success: true });
    const all = await bytes();
    assert.ok(all.includes(Buffer.from(sessionKey(sid))), 'the session is stored, under its key');
    assert.ok(!all.includes(Buffer.from(sid)), 'a live session id is stored');
    assert.ok(!all.includes(Buffer.from(API_KEY)), 'the API key is stored in plain text');
    return sid;
  }

  async function keyThroughStore(store: Store, userId: string): Promise<string | null> {
    try {
      return await store.genericData.get(userId, 'civitai_api', 'key');
    } finally {
      await store.close();
    }
  }

  test('a copied SQLite file holds no live session id and no API key in plain text, and the server works after restart', async () => {
    const dir = newDir('sealed-sqlite');
    let server = await TestServer.start({ dataDir: dir });
    const sid = await storeAndCheck(server, async () => {
      const files = [SQLITE_FILE_NAME, `${SQLITE_FILE_NAME}-wal`].map((f) => path.join(dir, f)).filter((f) => existsSync(f));
      return Buffer.concat(files.map((f) => readFileSync(f)));
    });
    await server.stop();
    server = await TestServer.start({ dataDir: dir });
    try {
      assert.equal((await server.call('GetMyUserData', sid)).status, 200, 'the session survives the restart');
      assert.match(String((await server.call('GetAPIKeyStatus', sid, { keyType: 'civitai_api' })).body.status), /^last updated /);
    } finally {
      await server.stop();
    }
    assert.equal(await keyThroughStore(await openSqliteStore(dir), 'local'), API_KEY);
  });

  test('a pg_dump-like copy of PostgreSQL holds no live session id and no API key in plain text, and the server works after restart', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const dir = newDir('sealed-pg');
    const db = await createTestDatabase();
    try {
      let server = await TestServer.start({ dataDir: dir, databaseUrl: db.url });
      const sid = await storeAndCheck(server, () => postgresBytes(db.url));
      await server.stop();
      server = await TestServer.start({ dataDir: dir, databaseUrl: db.url });
      try {
        assert.equal((await server.call('GetMyUserData', sid)).status, 200, 'the session survives the restart');
      } finally {
        await server.stop();
      }
      // The servers were given the shared test key (several data dirs on one database must share one).
      process.env.SWARMCORE_SECRET_KEY = SHARED_SECRET_KEY;
      try {
        assert.equal(await keyThroughStore(await openPostgresStore(db.url, { dataDir: dir }), 'local'), API_KEY);
      } finally {
        delete process.env.SWARMCORE_SECRET_KEY;
      }
    } finally {
      await db.drop();
    }
  });

  test('an API key stored in plain text by an older version is sealed at the next start and still reads back', async () => {
    const dir = newDir('legacy-key');
    await (await openSqliteStore(dir)).close();
    const db = new Database(path.join(dir, SQLITE_FILE_NAME));
    db.exec("INSERT INTO users (id, roles, created_at) VALUES ('local', '[]', 0)");
    db.prepare("INSERT INTO generic_data (user_id, dataname, name, data) VALUES ('local', 'civitai_api', 'key', ?)").run(API_KEY);
    db.close();
    const store = await openSqliteStore(dir);
    const check = new Database(path.join(dir, SQLITE_FILE_NAME), { readonly: true });
    const stored = (check.prepare("SELECT data FROM generic_data WHERE name = 'key'").get() as { data: string }).data;
    check.close();
    assert.match(stored, /^scbox1:/);
    assert.equal(await keyThroughStore(store, 'local'), API_KEY);
  });

  test('a changed sealed API key is refused, not decrypted', async () => {
    const dir = newDir('tampered');
    let store = await openSqliteStore(dir);
    await store.users.create({ id: 'u', passwordHash: '', passwordSetByAdmin: true, roles: [], settings: {}, paramEdits: '', createdAt: 0 });
    await store.genericData.set('u', 'civitai_api', 'key', API_KEY);
    await store.close();
    const db = new Database(path.join(dir, SQLITE_FILE_NAME));
    const sealed = (db.prepare("SELECT data FROM generic_data WHERE name = 'key'").get() as { data: string }).data;
    const [iv, body, tag] = sealed.slice('scbox1:'.length).split(':') as [string, string, string];
    const flipped = Buffer.from(body, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    db.prepare("UPDATE generic_data SET data = ? WHERE name = 'key'").run(`scbox1:${iv}:${flipped.toString('base64')}:${tag}`);
    db.close();
    store = await openSqliteStore(dir);
    try {
      await assert.rejects(store.genericData.get('u', 'civitai_api', 'key'), /cannot be opened with this secret key/);
    } finally {
      await store.close();
    }
  });

  test('a database opened with another secret key is refused at start with a message naming the key', async () => {
    const dir = newDir('other-key');
    await (await openSqliteStore(dir)).close();
    rmSync(path.join(dir, SECRET_KEY_FILE));
    await assert.rejects(openSqliteStore(dir), /cannot be opened with this secret key: every instance must use the same SWARMCORE_SECRET_KEY or secret\.key/);
  });

  test('sessions stored by raw id before the upgrade keep working under their session key', async (t) => {
    const rawId = 'a'.repeat(40);
    const engines: Array<[string, (dir: string) => Promise<Store>, (dir: string) => Promise<void>]> = [
      [
        'sqlite',
        (dir) => openSqliteStore(dir),
        async (dir) => {
          const db = new Database(path.join(dir, SQLITE_FILE_NAME));
          for (const m of MIGRATIONS.filter((m) => m.version < 4)) db.exec(migrationSql(m, 'sqlite'));
          db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL); INSERT INTO schema_migrations VALUES (1, '', 0), (2, '', 0), (3, '', 0)");
          db.exec(`INSERT INTO users (id, roles, created_at) VALUES ('old', '[]', 0); INSERT INTO sessions VALUES ('${rawId}', 'old', 'here', NULL, 0, ${Math.floor(Date.now() / 1000)})`);
          db.close();
        },
      ],
    ];
    for (const [engine, open, seed] of engines) {
      const dir = newDir(`upgrade-${engine}`);
      await seed(dir);
      const store = await open(dir);
      try {
        assert.equal(await store.sessions.get(rawId), null, `${engine}: the raw id is no longer stored`);
        assert.equal((await store.sessions.get(sessionKey(rawId)))?.userId, 'old');
      } finally {
        await store.close();
      }
    }
    if (!needsService(t, available, NO_PG)) return;
    const db = await createTestDatabase();
    try {
      await withPostgres(db.url, async (c) => {
        for (const m of MIGRATIONS.filter((m) => m.version < 4)) await c.query(migrationSql(m, 'postgres'));
        await c.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL); INSERT INTO schema_migrations VALUES (1, '', 0), (2, '', 0), (3, '', 0)");
        await c.query(`INSERT INTO users (id, roles, created_at) VALUES ('old', '[]', 0); INSERT INTO sessions VALUES ('${rawId}', 'old', 'here', NULL, 0, ${Math.floor(Date.now() / 1000)})`);
      });
      const store = await openPostgresStore(db.url, { dataDir: newDir('upgrade-pg') });
      try {
        assert.equal(await store.sessions.get(rawId), null, 'postgres: the raw id is no longer stored');
        assert.equal((await store.sessions.get(sessionKey(rawId)))?.userId, 'old');
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('data files', () => {
  const modeOf = (file: string): string => (statSync(file).mode & 0o777).toString(8);

  test('the data dir, the database files and the secret key are the owner\'s only, and older 0755/0644 modes are fixed at start', async () => {
    const dir = newDir('modes');
    const server = await TestServer.start({ dataDir: dir });
    await server.session();
    const files = [SQLITE_FILE_NAME, `${SQLITE_FILE_NAME}-wal`, `${SQLITE_FILE_NAME}-shm`, SECRET_KEY_FILE];
    const modes = (): string[][] => [['.', modeOf(dir)], ...files.map((f) => [f, modeOf(path.join(dir, f))])];
    const ownerOnly = [['.', '700'], ...files.map((f) => [f, '600'])];
    try {
      assert.deepEqual(modes(), ownerOnly);
    } finally {
      await server.stop();
    }
    chmodSync(dir, 0o755);
    for (const f of [SQLITE_FILE_NAME, SECRET_KEY_FILE]) chmodSync(path.join(dir, f), 0o644);
    const again = await TestServer.start({ dataDir: dir });
    await again.session();
    try {
      assert.deepEqual(modes(), ownerOnly);
    } finally {
      await again.stop();
    }
  });
});
