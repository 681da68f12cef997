// `swarmcore db copy` (README.md#command-line): every row of every table in STORED_TABLES that is copied, from
// one store to another (SQLite or PostgreSQL, either direction). Both stores are open, so both are migrated to
// this release's schema. The whole copy is one transaction on the target (emptying it first with --force) and
// one read transaction on the source; the row counts are checked before the target commits. API keys are sealed
// at rest with each end's own secret key: each is opened with the source's key and sealed again with the
// target's, so the target works with its key and never needs the source's.
import type { Row } from './rows.js';
import type { SecretBox } from './secret-box.js';
import { isSecretGenericData, type SqlDb } from './sql.js';
import { COPIED_TABLES, countRows, listColumns, unknownTables, type StoredTable } from './tables.js';

export class CopyRefusedError extends Error {}

export interface CopyEnd {
  db: SqlDb;
  box: SecretBox;
  /** Its name in messages (a path or a URL without password). */
  label: string;
}

export interface CopyResult {
  /** Rows per copied table, the same on both ends. */
  counts: Record<string, number>;
  /** API keys opened with the source's key and sealed with the target's. */
  resealed: number;
}

/** Rows read from the source per page, and rows per INSERT statement at most. */
const PAGE_ROWS = 500;
const MAX_PARAMS_PER_INSERT = 900;

export async function copyDatabase(from: CopyEnd, to: CopyEnd, options: { force: boolean }): Promise<CopyResult> {
  for (const end of [from, to]) {
    const unknown = await unknownTables(end.db);
    if (unknown.length > 0) throw new CopyRefusedError(`${end.label} has tables this release does not know (${unknown.join(', ')}): it was written by a newer release, use that one to copy it.`);
  }
  const columns = new Map<string, string[]>();
  for (const t of COPIED_TABLES) {
    const cols = await listColumns(from.db, t.name);
    const target = await listColumns(to.db, t.name);
    if ([...cols].sort().join(',') !== [...target].sort().join(',')) {
      throw new CopyRefusedError(`The table ${t.name} has other columns in ${from.label} (${cols.join(', ')}) than in ${to.label} (${target.join(', ')}).`);
    }
    columns.set(t.name, cols);
  }
  return from.db.transaction((src) =>
    to.db.transaction(async (dst) => {
      const before = await countRows(dst);
      if (Object.values(before).some((n) => n > 0)) {
        if (!options.force) {
          const held = Object.entries(before)
            .filter(([, n]) => n > 0)
            .map(([t, n]) => `${t} ${n}`)
            .join(', ');
          throw new CopyRefusedError(`${to.label} already holds data (${held}); give --force to replace it.`);
        }
        for (const t of [...COPIED_TABLES].reverse()) await emptyTable(dst, t);
      }
      const counts: Record<string, number> = {};
      let resealed = 0;
      for (const t of COPIED_TABLES) {
        const cols = columns.get(t.name)!;
        let copied = 0;
        for (let offset = 0; ; offset += PAGE_ROWS) {
          const page = await src.all(`SELECT ${cols.map(quote).join(', ')} FROM ${t.name} ORDER BY ${t.order} LIMIT ? OFFSET ?`, [PAGE_ROWS, offset]);
          const rows = t.skipRow ? page.filter((r) => !t.skipRow!(r)) : page;
          if (t.name === 'generic_data') {
            for (const r of rows) {
              if (!isSecretGenericData(String(r.dataname), String(r.name))) continue;
              r.data = to.box.seal(from.box.open(String(r.data)));
              resealed++;
            }
          }
          await insertRows(dst, t.name, cols, rows);
          copied += rows.length;
          if (page.length < PAGE_ROWS) break;
        }
        counts[t.name] = copied;
        if (t.serial && dst.engine === 'postgres') {
          // Explicit values leave a serial's sequence behind; the next insert must not reuse a copied value.
          await dst.all(`SELECT setval(pg_get_serial_sequence('${t.name}', '${t.serial}'), (SELECT COALESCE(MAX(${t.serial}), 0) + 1 FROM ${t.name}), false)`);
        }
      }
      const after = await countRows(dst);
      const differs = Object.keys(counts).filter((t) => after[t] !== counts[t]);
      if (differs.length > 0) throw new Error(`The copy was rolled back: ${differs.map((t) => `${t} has ${after[t]} rows in the target, ${counts[t]} were copied`).join('; ')}.`);
      const sourceCounts = await countRows(src);
      const lost = Object.keys(counts).filter((t) => sourceCounts[t] !== counts[t]);
      if (lost.length > 0) throw new Error(`The copy was rolled back: ${lost.map((t) => `${t} has ${sourceCounts[t]} rows in the source, ${counts[t]} were copied`).join('; ')}.`);
      return { counts, resealed };
    }),
  );
}

const quote = (name: string): string => `"${name}"`;

/** Deletes a table's rows, except those that belong to the target itself (its secret-key check). */
async function emptyTable(db: SqlDb, t: StoredTable): Promise<void> {
  if (!t.skipRow) {
    await db.run(`DELETE FROM ${t.name}`);
    return;
  }
  for (const r of await db.all(`SELECT key FROM ${t.name}`)) if (!t.skipRow(r)) await db.run(`DELETE FROM ${t.name} WHERE key = ?`, [r.key]);
}

/** Batch INSERTs; booleans come as 0/1 from SQLite and true/false from PostgreSQL, and each engine binds both. */
async function insertRows(db: SqlDb, table: string, cols: string[], rows: Row[]): Promise<void> {
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS_PER_INSERT / cols.length));
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += perStatement) {
    const part = rows.slice(i, i + perStatement);
    const values = part.flatMap((r) => cols.map((c) => normalize(r[c])));
    await db.run(`INSERT INTO ${table} (${cols.map(quote).join(', ')}) VALUES ${part.map(() => tuple).join(', ')}`, values);
  }
}

/** SQLite's 0/1 for a boolean reaches PostgreSQL as the text '1'/'0', which a boolean column accepts. */
const normalize = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);
