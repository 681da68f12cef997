// Every table the migrations make, on either engine, and what `swarmcore db copy` and `db backup` do with it
// (README.md#command-line). One list: the copy refuses a database holding a table missing here, and
// test/db-tools.test.ts compares it with both engines' real schemas, so a new table cannot be forgotten.
import type { Row } from './rows.js';
import { KEY_CHECK, type SqlDb } from './sql.js';

export interface StoredTable {
  name: string;
  /** Copied rows, or why the table is left out. */
  copy: true | { skip: string };
  /** A total order of its rows (primary key), for reading it in pages. */
  order?: string;
  /** A serial column whose PostgreSQL sequence must move past the copied values. */
  serial?: string;
  /** Rows of a copied table that stay out of a copy (each end keeps its own). */
  skipRow?: (row: Row) => boolean;
}

/** Row-level bookkeeping in server_meta that belongs to one database, not to the data. */
const ownMetaRow = (row: Row): boolean => String(row.key) === KEY_CHECK || String(row.key).startsWith('lease:');

/** In an order that inserts no row before the row it refers to (users first). */
export const STORED_TABLES: readonly StoredTable[] = [
  { name: 'users', copy: true, order: 'id' },
  { name: 'roles', copy: true, order: 'id', serial: 'seq' },
  { name: 'sessions', copy: true, order: 'id' },
  { name: 'login_tokens', copy: true, order: 'id', serial: 'seq' },
  { name: 'presets', copy: true, order: 'user_id, key', serial: 'seq' },
  { name: 'generic_data', copy: true, order: 'user_id, dataname, name' },
  { name: 'server_settings', copy: true, order: 'key' },
  // The secret-key check (each end's own key) and installer leases (held by a running process) stay behind.
  { name: 'server_meta', copy: true, order: 'key', skipRow: ownMetaRow },
  { name: 'audit_log', copy: true, order: 'seq', serial: 'seq' },
  { name: 'oauth_links', copy: true, order: 'email' },
  { name: 'oauth_pending', copy: { skip: 'sign-ins under way, each valid a few minutes' } },
  { name: 'schema_migrations', copy: { skip: "each database's record of its own migrations (both ends are migrated to the same version first)" } },
  { name: 'cluster_events', copy: { skip: 'SQLite only: events between running processes, kept five minutes' } },
  { name: 'rate_limits', copy: { skip: 'PostgreSQL only: rate-limit windows, at most an hour long' } },
];

export const COPIED_TABLES = STORED_TABLES.filter((t) => t.copy === true);

/** The tables that exist in a database (SQLite's own sqlite_* tables left out). */
export async function listTables(db: SqlDb): Promise<string[]> {
  const rows =
    db.engine === 'sqlite'
      ? await db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
      : await db.all("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name");
  return rows.map((r) => String(r.name));
}

/** A table's columns in their declared order. */
export async function listColumns(db: SqlDb, table: string): Promise<string[]> {
  const rows =
    db.engine === 'sqlite'
      ? await db.all('SELECT name FROM pragma_table_info(?) ORDER BY cid', [table])
      : await db.all('SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position', [table]);
  return rows.map((r) => String(r.name));
}

/** Tables in the database that STORED_TABLES does not know. */
export async function unknownTables(db: SqlDb): Promise<string[]> {
  const known = new Set(STORED_TABLES.map((t) => t.name));
  return (await listTables(db)).filter((t) => !known.has(t));
}

/** Rows per copied table, not counting the rows a copy leaves behind. */
export async function countRows(db: SqlDb): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of COPIED_TABLES) {
    if (t.skipRow) out[t.name] = (await db.all(`SELECT * FROM ${t.name}`)).filter((r) => !t.skipRow!(r)).length;
    else out[t.name] = Number((await db.all(`SELECT COUNT(*) AS n FROM ${t.name}`))[0]!.n);
  }
  return out;
}

/** "users 3, roles 5, ..." */
export const describeCounts = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
