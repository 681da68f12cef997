// PostgreSQL engine (pg) for several instances on one database. Events travel over LISTEN/NOTIFY and
// rate-limit counters live in a table, so every instance sees the same state. Every call is bounded: a
// database that does not answer within the bound fails the call with DatabaseTimeoutError instead of hanging.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import type { RateLimiter, RateLimitRule } from '../../cluster/rate-limits.js';
import { LocalEventBus, type ClusterEvent } from '../../cluster/events.js';
import { DatabaseTimeoutError } from '../errors.js';
import { MIGRATIONS, checkSchemaVersion, migrationSql } from '../migrations.js';
import { json, nowSeconds, parseJson, type Row } from '../rows.js';
import { loadSecretBox, type SecretBox } from '../secret-box.js';
import { SqlStore, prepareSecrets, preparedName, type SqlDb } from '../sql.js';
import type { Store } from '../types.js';

// BIGINT columns arrive as strings by default; every value here fits a double.
pg.types.setTypeParser(20, (v) => Number(v));

const EVENT_CHANNEL = 'swarmcore_events';
/** Session keys per notification (79 bytes each in JSON: 6,320 bytes, well under the 8000-byte payload limit). */
const NOTIFY_IDS = 80;
const chunk = <T>(list: T[], size: number): T[][] => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
/** Arbitrary constants for pg_advisory_lock: migrations, and store transactions, each run one at a time. */
const MIGRATION_LOCK = 7801_2026;
const TRANSACTION_LOCK = 7801_2027;
/** The first key of scoped transaction locks (the second is the scope's hash). */
const SCOPE_LOCK_CLASS = 7801;
/** PostgreSQL's error code for a transaction it ended to break a deadlock, and how often one is run at most. */
const DEADLOCK_DETECTED = '40P01';
const DEADLOCK_ATTEMPTS = 3;
/** The bound on every database call unless SWARMCORE_DATABASE_TIMEOUT_MS says otherwise. */
export const DEFAULT_DATABASE_TIMEOUT_MS = 10_000;

/** The URL without its password, for start-up output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

export interface PostgresStoreOptions {
  /** Where the secret key file lives when SWARMCORE_SECRET_KEY is not set. */
  dataDir: string;
  secretBox?: SecretBox;
  /** The bound on each database call (default: SWARMCORE_DATABASE_TIMEOUT_MS, else 10 s). */
  timeoutMs?: number;
  /** Where background failures (lost connections, failed clean-ups) are reported. */
  log?: Logger | undefined;
}

/** What a log line says about a connection error: pg attaches the client (with its connection settings) to some. */
function connectionError(err: unknown): { message: string; code?: string } {
  const e = err as { message?: unknown; code?: unknown };
  return { message: String(e.message ?? err), ...(typeof e.code === 'string' ? { code: e.code } : {}) };
}

function timeoutFromEnv(): number {
  const n = Number(process.env.SWARMCORE_DATABASE_TIMEOUT_MS);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_DATABASE_TIMEOUT_MS;
}

export async function openPostgresStore(url: string, options: PostgresStoreOptions): Promise<Store> {
  const timeoutMs = options.timeoutMs ?? timeoutFromEnv();
  const log = options.log ?? pino({ level: 'silent' });
  const box = options.secretBox ?? loadSecretBox(options.dataDir);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: timeoutMs,
    // The server cancels a statement (lock waits included) at the bound; the client gives up a little later
    // when the server itself is frozen or unreachable; a transaction left idle by a frozen holder is ended.
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1000,
    idle_in_transaction_session_timeout: timeoutMs * 3,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (err) => log.warn({ err: connectionError(err) }, 'an idle PostgreSQL connection failed; the pool replaces it'));
  const db = new PgConnection(pool, timeoutMs);
  try {
    await migrate(pool, timeoutMs);
    await prepareSecrets(db, box);
  } catch (err) {
    await pool.end();
    throw new Error(`Cannot use the PostgreSQL database at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  let bus: PostgresEventBus | undefined;
  return new SqlStore(
    db,
    {
      location: redactUrl(url),
      jsonText: (column, field) => `(${column}::json ->> '${field}')`,
      createEventBus: (busLog) => (bus ??= new PostgresEventBus(db, url, busLog)),
      createRateLimiter: () => new PgRateLimiter(db, log),
      close: async () => {
        await bus?.stop();
        await pool.end();
      },
    },
    box,
  );
}

async function migrate(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const client = await pool.connect();
  try {
    // Instances starting together migrate one at a time; the wait for the lock is not a hang, so unbounded.
    await client.query('SET statement_timeout = 0');
    // The client-side bound is lifted for this one wait too (pg reads query_timeout from the query's config).
    await client.query({ text: 'SELECT pg_advisory_lock($1)', values: [MIGRATION_LOCK], query_timeout: 600_000 } as pg.QueryConfig);
    await client.query('BEGIN');
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const applied = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => Number(r.version)));
      checkSchemaVersion(applied);
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        const sql = migrationSql(m, 'postgres');
        if (sql.trim() !== '') await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [m.version, m.description, nowSeconds()]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.query(`SET statement_timeout = ${timeoutMs}`).catch(() => undefined);
    client.release();
  }
}

/** `?` placeholders become `$1, $2, ...` (never inside quoted text), once per statement text. */
const numbered = new Map<string, string>();
function toPg(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/'[^']*'|\?/g, (m) => (m === '?' ? `$${++n}` : m));
    numbered.set(sql, out);
  }
  return out;
}

const TIMEOUT_MESSAGES = ['Query read timeout', 'timeout exceeded when trying to connect', 'Connection terminated due to connection timeout', 'timeout expired'];

/** Timeouts (statement canceled at the bound, no answer, no connection in time) become DatabaseTimeoutError. */
function asTimeout(err: unknown, timeoutMs: number): unknown {
  const e = err as { code?: string; message?: string };
  const timedOut = e.code === '57014' || e.code === '25P03' || TIMEOUT_MESSAGES.some((m) => e.message?.includes(m));
  return timedOut ? new DatabaseTimeoutError(Math.round(timeoutMs / 100) / 10) : err;
}

/** Statements on the pool (each on any free connection) or on one client (inside a transaction). */
class PgStatements implements SqlDb {
  readonly engine = 'postgres' as const;
  constructor(
    private readonly target: pg.Pool | pg.PoolClient,
    readonly timeoutMs: number,
  ) {}

  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    try {
      return (await this.target.query(toPg(sql), params as unknown[])).rows as Row[];
    } catch (err) {
      throw asTimeout(err, this.timeoutMs);
    }
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    try {
      const name = preparedName(sql);
      if (name !== undefined) return (await this.target.query({ name, text: toPg(sql), values: params as unknown[] })).rowCount ?? 0;
      return (await this.target.query(toPg(sql), params as unknown[])).rowCount ?? 0;
    } catch (err) {
      throw asTimeout(err, this.timeoutMs);
    }
  }

  /**
   * SQL text without parameters, sent as one simple-protocol query: it may hold several statements, which
   * PostgreSQL runs in order and answers in one round trip. Not numbered or cached like `all`/`run` (its text
   * may differ on every call).
   */
  async simple(sql: string): Promise<void> {
    try {
      await this.target.query(sql);
    } catch (err) {
      throw asTimeout(err, this.timeoutMs);
    }
  }

  /** Inside a transaction already: simply runs `fn` (PgConnection overrides this for the pool). */
  transaction<T>(fn: (db: SqlDb) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

class PgConnection extends PgStatements {
  constructor(
    readonly pool: pg.Pool,
    timeoutMs: number,
  ) {
    super(pool, timeoutMs);
  }

  /**
   * One transaction on one pooled client. It takes its scope's advisory lock first, so transactions of one
   * scope run one at a time across every instance, as SQLite's BEGIN IMMEDIATE makes them: a read-modify-write
   * inside one sees no concurrent change of what it read, with no serialization failures to retry. Different
   * scopes (two users' presets, say) run side by side; one lock for all of them made every write of every user
   * wait for the one before (the bench measured writes at a sixteenth of SQLite's rate).
   */
  override async transaction<T>(fn: (db: SqlDb) => Promise<T>, scope?: string): Promise<T> {
    // Transactions of different scopes can meet on the same rows in different orders; PostgreSQL then ends one
    // of them as a deadlock. Everything it did was rolled back, so it simply runs again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(fn, scope);
      } catch (err) {
        if ((err as { code?: string }).code !== DEADLOCK_DETECTED || attempt >= DEADLOCK_ATTEMPTS) throw err;
      }
    }
  }

  private async transactionOnce<T>(fn: (db: SqlDb) => Promise<T>, scope: string | undefined): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw asTimeout(err, this.timeoutMs);
    }
    const tx = new PgStatements(client, this.timeoutMs);
    let failure: unknown;
    try {
      // BEGIN and the lock in one simple-protocol query: one round trip instead of two for every transaction
      // (bench/README.md#scaling-model). The single-key and the two-key lock spaces do not overlap: a scope never
      // meets TRANSACTION_LOCK.
      const lock = scope === undefined ? `pg_advisory_xact_lock(${TRANSACTION_LOCK})` : `pg_advisory_xact_lock(${SCOPE_LOCK_CLASS}, hashtext(${pg.escapeLiteral(scope)}))`;
      await tx.simple(`BEGIN; SELECT ${lock}`);
      const result = await fn(tx);
      await tx.run('COMMIT');
      return result;
    } catch (err) {
      failure = err;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      // A client that timed out may still be stuck in its query: it is destroyed, not reused.
      client.release(failure instanceof DatabaseTimeoutError ? failure : undefined);
    }
  }
}

/**
 * Fixed windows in one row per key, changed by a single atomic upsert. A refused attempt leaves the count at
 * max + 1, which is how the statement tells the caller "refused" without a second query.
 */
class PgRateLimiter implements RateLimiter {
  constructor(
    private readonly db: PgConnection,
    private readonly log: Logger,
  ) {}

  async tryUse(rule: RateLimitRule, key: string): Promise<boolean> {
    const nowMs = Date.now();
    const r = (
      await this.db.all(
        `INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
         ON CONFLICT (key) DO UPDATE SET
           window_start = CASE WHEN $2 - rate_limits.window_start > $3 THEN $2 ELSE rate_limits.window_start END,
           count = CASE WHEN $2 - rate_limits.window_start > $3 THEN 1 ELSE LEAST(rate_limits.count + 1, $4 + 1) END
         RETURNING count`,
        [`${rule.name}\u0001${key}`, nowMs, rule.periodMs, rule.max],
      )
    )[0]!;
    if (Math.random() < 0.01) {
      // Old windows only take space; a failed clean-up is retried by a later call.
      this.db.run('DELETE FROM rate_limits WHERE window_start < ?', [nowMs - 3600_000]).catch((err: unknown) => this.log.warn({ err: connectionError(err) }, 'removing old rate-limit windows failed'));
    }
    return Number(r.count) <= rule.max;
  }
}

/** LISTEN/NOTIFY: each instance listens on one dedicated connection and skips the notifications it sent. */
class PostgresEventBus extends LocalEventBus {
  private readonly instance = randomUUID();
  private client: pg.Client | null = null;
  private stopped = false;
  private readonly ready: Promise<void>;

  constructor(
    private readonly db: PgConnection,
    private readonly url: string,
    log: Logger,
  ) {
    super(log);
    this.ready = this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: this.db.timeoutMs });
    client.on('error', (err) => {
      this.log.warn({ err: connectionError(err) }, 'the PostgreSQL event connection failed; reconnecting');
      this.reconnect(client);
    });
    client.on('end', () => this.reconnect(client));
    client.on('notification', (msg) => {
      if (msg.channel !== EVENT_CHANNEL || !msg.payload) return;
      const { from, event, sentAt } = parseJson<{ from: string; event: ClusterEvent; sentAt?: number }>(msg.payload, { from: this.instance, event: { type: 'settings.changed' } });
      if (from !== this.instance) this.deliver(event, typeof sentAt === 'number' ? sentAt : undefined);
    });
    await client.connect();
    await client.query(`LISTEN ${EVENT_CHANNEL}`);
    this.client = client;
  }

  private reconnect(old: pg.Client): void {
    if (this.stopped || this.client !== old) return;
    this.client = null;
    // Whatever was missed while disconnected is unknown: every cache starts over.
    const retry = (): void => {
      if (this.stopped) return;
      this.connect().then(
        () => this.deliver({ type: 'resync' }),
        (err: unknown) => {
          this.log.warn({ err: connectionError(err) }, 'reconnecting the PostgreSQL event connection failed; trying again in a second');
          setTimeout(retry, 1000).unref();
        },
      );
    };
    setTimeout(retry, 200).unref();
  }

  override async publish(event: ClusterEvent): Promise<void> {
    await this.ready;
    this.deliver(event);
    // A notification carries at most 8000 bytes: long session lists travel in several.
    const parts = 'sessionIds' in event && event.sessionIds.length > NOTIFY_IDS ? chunk(event.sessionIds, NOTIFY_IDS).map((sessionIds) => ({ ...event, sessionIds })) : [event];
    for (const part of parts) await this.db.all('SELECT pg_notify(?, ?)', [EVENT_CHANNEL, json({ from: this.instance, event: part, sentAt: Date.now() })]);
  }

  /** Whether the LISTEN connection is up (false from its loss until it is back). */
  override connected(): boolean {
    return this.client !== null && !this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ready.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }
}

