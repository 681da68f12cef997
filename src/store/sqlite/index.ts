// SQLite engine (better-sqlite3, WAL) for one machine. synchronous=NORMAL: in WAL mode every commit is in the
// log before the call returns, so an acknowledged write survives kill -9 of the server; only an OS crash or
// power loss can take the last commits, which FULL would prevent at the price of an fsync per write.
// better-sqlite3 is synchronous; the one connection is shared, and an open transaction holds it until it ends
// (other callers wait their turn), so `transaction(fn)` may await between its statements.
import type { Logger } from 'pino';
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { MemoryRateLimiter } from '../../cluster/rate-limits.js';
import { LocalEventBus, type ClusterEvent } from '../../cluster/events.js';
import { DatabaseTimeoutError } from '../errors.js';
import { OWNER_ONLY, restrictDataDir, restrictFiles } from '../files.js';
import { MIGRATIONS, checkSchemaVersion, migrationSql } from '../migrations.js';
import { json, nowSeconds, parseJson, type Row } from '../rows.js';
import { loadSecretBox, type SecretBox } from '../secret-box.js';
import { sessionKey } from '../session-key.js';
import { SqlStore, prepareSecrets, type SqlDb } from '../sql.js';
import type { Store } from '../types.js';

type DB = Database.Database;

export const SQLITE_FILE_NAME = 'swarmcore.db';
/** How long a statement waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

export interface SqliteStoreOptions {
  /** Seals secrets at rest; by default the key from SWARMCORE_SECRET_KEY or `<dataDir>/secret.key`. */
  secretBox?: SecretBox;
}

/** Opens (creating if needed) the database in `dataDir` and brings its schema up to date. */
export async function openSqliteStore(dataDir: string, options: SqliteStoreOptions = {}): Promise<Store> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrictDataDir(dataDir);
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  // Created owner-only before SQLite opens it; SQLite gives the -wal and -shm files the same mode.
  closeSync(openSync(file, 'a', OWNER_ONLY));
  const box = options.secretBox ?? loadSecretBox(dataDir);
  const db = new Database(file);
  try {
    cacheStatements(db);
    // The busy timeout first: switching to WAL needs a lock that several processes starting at once contend for.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.function('swarmcore_session_key', { deterministic: true }, (id: unknown) => sessionKey(String(id)));
    migrate(db);
    restrictFiles([file, `${file}-wal`, `${file}-shm`]);
    const conn = new SqliteConnection(db);
    await prepareSecrets(conn, box);
    let bus: SqliteEventBus | undefined;
    return new SqlStore(conn, {
      location: file,
      jsonText: (column, field) => `json_extract(${column}, '$.${field}')`,
      createEventBus: (log) => (bus ??= new SqliteEventBus(conn, db, log)),
      createRateLimiter: () => new MemoryRateLimiter(),
      close: async () => {
        bus?.stop();
        await conn.idle();
        if (db.open) db.close();
      },
    }, box);
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Every statement text is compiled once: preparing costs more than running most of these queries. */
function cacheStatements(db: DB): void {
  const cache = new Map<string, Database.Statement>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  }) as DB['prepare'];
}

/**
 * Reads the applied versions and applies the rest in one IMMEDIATE transaction, so processes starting together
 * on a new data dir take turns: the second sees what the first applied instead of creating the tables again.
 */
function migrate(db: DB): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
    checkSchemaVersion(applied);
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      const sql = migrationSql(m, 'sqlite');
      if (sql.trim() !== '') db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)').run(m.version, m.description, nowSeconds());
    }
  }).immediate();
}

const bind = (params: readonly unknown[]): unknown[] => params.map((v) => (v === true ? 1 : v === false ? 0 : v === undefined ? null : v));

/** Another process holding the write lock past the busy timeout is the SQLite form of a database not answering. */
function bounded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DatabaseTimeoutError(BUSY_TIMEOUT_MS / 1000);
    throw err;
  }
}

function runAll(db: DB, sql: string, params: readonly unknown[]): Row[] {
  return bounded(() => {
    const statement = db.prepare(sql);
    return statement.reader ? (statement.all(...bind(params)) as Row[]) : (statement.run(...bind(params)), []);
  });
}

function runChanges(db: DB, sql: string, params: readonly unknown[]): number {
  return bounded(() => {
    const statement = db.prepare(sql);
    if (statement.reader) return statement.all(...bind(params)).length;
    return statement.run(...bind(params)).changes;
  });
}

/** Statements inside an open transaction: straight onto the connection, which the transaction holds. */
class SqliteTransaction implements SqlDb {
  readonly engine = 'sqlite' as const;
  constructor(private readonly db: DB) {}
  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return runAll(this.db, sql, params);
  }
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return runChanges(this.db, sql, params);
  }
  transaction<T>(fn: (db: SqlDb) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

class SqliteConnection implements SqlDb {
  readonly engine = 'sqlite' as const;
  /** Settles when the open transaction ends; null while none is open. */
  private held: Promise<void> | null = null;

  constructor(private readonly db: DB) {}

  /** Waits until no transaction holds the connection. */
  async idle(): Promise<void> {
    while (this.held) await this.held;
  }

  get busy(): boolean {
    return this.held !== null;
  }

  // Each waits inline and then runs without yielding: between the check and the statement no transaction starts.
  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    while (this.held) await this.held;
    return runAll(this.db, sql, params);
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    while (this.held) await this.held;
    return runChanges(this.db, sql, params);
  }

  async transaction<T>(fn: (db: SqlDb) => Promise<T>): Promise<T> {
    while (this.held) await this.held;
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    try {
      // IMMEDIATE takes the write lock now: no other process can change what this transaction reads.
      bounded(() => this.db.exec('BEGIN IMMEDIATE'));
      try {
        const result = await fn(new SqliteTransaction(this.db));
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.held = null;
      release();
    }
  }
}

/**
 * Events between processes sharing the SQLite file (a running server and the CLI, say): each publish is a
 * row; every process polls for rows written by other connections, which `PRAGMA data_version` reveals cheaply.
 */
class SqliteEventBus extends LocalEventBus {
  static readonly POLL_MS = 250;
  static readonly KEEP_SECONDS = 300;
  private lastId: number;
  private lastVersion: number;
  private readonly own = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly conn: SqliteConnection,
    private readonly db: DB,
    log: Logger,
  ) {
    super(log);
    this.lastId = Number((db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM cluster_events').get() as Row).id);
    this.lastVersion = this.dataVersion();
    this.timer = setInterval(() => this.pollLogged(), SqliteEventBus.POLL_MS);
    this.timer.unref();
  }

  private dataVersion(): number {
    return Number(this.db.pragma('data_version', { simple: true }));
  }

  override async publish(event: ClusterEvent): Promise<void> {
    // Never inside someone's open transaction: its rollback would take the event along.
    while (this.conn.busy) await this.conn.idle();
    if (this.db.open) {
      this.poll();
      const id = Number(this.db.prepare('INSERT INTO cluster_events (payload, created_at) VALUES (?, ?)').run(json({ ...event, sentAt: Date.now() }), nowSeconds()).lastInsertRowid);
      // Our own commit leaves data_version alone; if it moved, another process wrote meanwhile and the next
      // poll must read past our row without delivering it twice.
      if (this.dataVersion() === this.lastVersion) this.lastId = id;
      else this.own.add(id);
    }
    this.deliver(event);
  }

  /** The timer's poll: a failing read (a locked or damaged file) is logged and tried again next time. */
  private pollLogged(): void {
    try {
      this.poll();
    } catch (err) {
      this.log.error({ err }, 'reading events from the SQLite file failed; trying again shortly');
    }
  }

  private poll(): void {
    if (!this.db.open || this.conn.busy) return;
    const version = this.dataVersion();
    if (version === this.lastVersion) return;
    this.lastVersion = version;
    const rows = this.db.prepare('SELECT id, payload FROM cluster_events WHERE id > ? ORDER BY id').all(this.lastId) as Row[];
    for (const r of rows) {
      const id = Number(r.id);
      this.lastId = id;
      if (this.own.delete(id)) continue;
      // The row carries when it was written (for the lag metric) next to the event's own fields.
      const { sentAt, ...event } = parseJson<ClusterEvent & { sentAt?: number }>(r.payload, { type: 'settings.changed' });
      this.deliver(event as ClusterEvent, typeof sentAt === 'number' ? sentAt : undefined);
    }
    this.db.prepare('DELETE FROM cluster_events WHERE created_at < ?').run(nowSeconds() - SqliteEventBus.KEEP_SECONDS);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
