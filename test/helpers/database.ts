// Reads a test server's stored data directly, on whichever engine this run uses: SQLite's file in the data
// dir, or (SWARMCORE_TEST_DATABASE_URL runs) the data dir's PostgreSQL database.
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SUITE_ON_POSTGRES, databaseForDataDir, withPostgres } from './postgres.js';

export type Row = Record<string, unknown>;

/** Runs one statement (`?` placeholders) on the data dir's database; the rows it returns. */
export async function queryStore(dataDir: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  if (SUITE_ON_POSTGRES) {
    let n = 0;
    return withPostgres(await databaseForDataDir(dataDir), async (c) => (await c.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Row[]);
  }
  const db = new Database(path.join(dataDir, 'swarmcore.db'));
  try {
    const statement = db.prepare(sql);
    return statement.reader ? (statement.all(...params) as Row[]) : (statement.run(...params), []);
  } finally {
    db.close();
  }
}

/** Everything a copy of the database holds: SQLite's file bytes (with the WAL), or every row of every table. */
export async function storedBytes(dataDir: string, databaseUrl?: string): Promise<Buffer> {
  if (databaseUrl || SUITE_ON_POSTGRES) return postgresBytes(databaseUrl ?? (await databaseForDataDir(dataDir)));
  const parts = ['swarmcore.db', 'swarmcore.db-wal'].map((f) => path.join(dataDir, f)).filter((f) => existsSync(f));
  return Buffer.concat(parts.map((f) => readFileSync(f)));
}

/** A pg_dump-like text of a PostgreSQL database: each table's rows as JSON. */
export function postgresBytes(url: string): Promise<Buffer> {
  return withPostgres(url, async (c) => {
    const tables = (await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).rows as Array<{ tablename: string }>;
    const text: string[] = [];
    for (const { tablename } of tables) text.push(tablename, JSON.stringify((await c.query(`SELECT * FROM "${tablename}"`)).rows));
    return Buffer.from(text.join('\n'));
  });
}
