// `swarmcore db backup` (README.md#command-line): a consistent copy of a SQLite data dir's database, made with
// SQLite's online backup while servers keep running. The copy is written beside the target under a temporary
// name, owner-only like every data file, turned into a single self-contained file (no -wal), counted, and only
// then given its name, so a failed backup never leaves a half-written FILE behind.
import Database from 'better-sqlite3';
import { closeSync, existsSync, linkSync, openSync, renameSync, rmSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { OWNER_ONLY } from './files.js';
import type { Row } from './rows.js';
import { SQLITE_FILE_NAME } from './sqlite/index.js';
import type { SqlDb } from './sql.js';
import { countRows } from './tables.js';

export class BackupRefusedError extends Error {}

export interface BackupResult {
  source: string;
  file: string;
  schemaVersion: number;
  counts: Record<string, number>;
}

/** How long the backup waits for a server's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;
/** Pages per backup step: all of them, so the copy is read in one transaction (one consistent snapshot). */
const ALL_PAGES = 0x7fffffff;

export async function backupSqlite(dataDir: string, target: string, options: { force: boolean }): Promise<BackupResult> {
  const source = path.join(dataDir, SQLITE_FILE_NAME);
  const file = path.resolve(target);
  if (!existsSync(source)) throw new BackupRefusedError(`There is no swarmcore database in ${dataDir} (no ${SQLITE_FILE_NAME}).`);
  if (file === path.resolve(source)) throw new BackupRefusedError('The backup cannot be written over the database it copies.');
  if (existsSync(file) && !options.force) throw new BackupRefusedError(`${file} exists already; give --force to replace it.`);
  if (!existsSync(path.dirname(file))) throw new BackupRefusedError(`The directory ${path.dirname(file)} does not exist.`);
  const temp = `${file}.tmp-${process.pid}`;
  removeWithSidecars(temp);
  // Created owner-only before SQLite writes into it.
  closeSync(openSync(temp, 'wx', OWNER_ONLY));
  try {
    const db = new Database(source, { fileMustExist: true });
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      await db.backup(temp, { progress: () => ALL_PAGES });
    } finally {
      db.close();
    }
    const copy = new Database(temp, { fileMustExist: true });
    let schemaVersion: number;
    let counts: Record<string, number>;
    try {
      // The copy carries the source's WAL mode; a backup is one file, whatever the server makes of it later.
      copy.pragma('journal_mode = DELETE');
      schemaVersion = Number((copy.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as Row).v);
      counts = await countRows(rawConnection(copy));
    } finally {
      copy.close();
    }
    chmodSync(temp, OWNER_ONLY);
    if (options.force) {
      // A stale -wal beside an old FILE would be replayed into the new one when it is opened.
      for (const sidecar of ['-wal', '-shm', '-journal']) rmSync(`${file}${sidecar}`, { force: true });
      renameSync(temp, file);
    } else {
      try {
        // Gives the name only if nothing took it meanwhile.
        linkSync(temp, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new BackupRefusedError(`${file} exists already; give --force to replace it.`);
        throw err;
      }
    }
    return { source, file, schemaVersion, counts };
  } finally {
    removeWithSidecars(temp);
  }
}

function removeWithSidecars(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
}

/** Enough of SqlDb over a plain better-sqlite3 handle for countRows (reads only). */
function rawConnection(db: Database.Database): SqlDb {
  const conn: SqlDb = {
    engine: 'sqlite',
    all: async (sql, params = []) => db.prepare(sql).all(...params) as Row[],
    run: async (sql, params = []) => db.prepare(sql).run(...params).changes,
    transaction: (fn) => fn(conn),
  };
  return conn;
}
