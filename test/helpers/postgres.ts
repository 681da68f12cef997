// Real PostgreSQL databases for tests: each test file makes its own uniquely named database and drops it.
// With SWARMCORE_TEST_DATABASE_URL set (the second pass of `npm test`), every test server stores in
// PostgreSQL: one database per data dir, so a restart on the same data dir finds its data again.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';

/** The server to create test databases on; trust auth as user postgres on the development and CI machines. */
export const ADMIN_URL = process.env.SWARMCORE_TEST_DATABASE_URL || (process.env.SWARMCORE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

/** Set when this run's servers store in PostgreSQL instead of SQLite. */
export const SUITE_ON_POSTGRES = (process.env.SWARMCORE_TEST_DATABASE_URL ?? '') !== '';
/** The engine this run's test servers use, for test names and skips. */
export const SUITE_ENGINE: 'sqlite' | 'postgres' = SUITE_ON_POSTGRES ? 'postgres' : 'sqlite';

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `fn` on a new connection to `url`, closed afterwards. */
export async function withPostgres<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const admin = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPostgres(ADMIN_URL, fn);

/** Creates an empty database; returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `swarmcore_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    url: urlOf(name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

const dataDirDatabases = new Map<string, Promise<string>>();
let cleanupRegistered = false;

function urlOf(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The database of a data dir for this run (created on first use, dropped when the test file ends). */
export function databaseForDataDir(dataDir: string): Promise<string> {
  const dir = path.resolve(dataDir);
  let pending = dataDirDatabases.get(dir);
  if (!pending) {
    // Whatever a test file leaves is dropped when its process has nothing else to do (a hook of node:test
    // would belong to whichever test happens to be running).
    if (!cleanupRegistered) {
      cleanupRegistered = true;
      process.once('beforeExit', () => {
        // Best effort: a database left behind is dropped by the next run's clean-up of stale test databases.
        Promise.all([...dataDirDatabases.keys()].map((d) => dropDataDirDatabase(d).catch(() => undefined))).catch(() => undefined);
      });
    }
    const name = `swarmcore_dir_${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
    pending = admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${name}`);
    }).then(() => urlOf(name));
    dataDirDatabases.set(dir, pending);
  }
  return pending;
}

/** Drops the database of a data dir now (its servers have stopped). */
export async function dropDataDirDatabase(dataDir: string): Promise<void> {
  const dir = path.resolve(dataDir);
  const pending = dataDirDatabases.get(dir);
  if (!pending) return;
  dataDirDatabases.delete(dir);
  const name = new URL(await pending).pathname.slice(1);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

