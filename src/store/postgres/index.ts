// PostgreSQL store (pg): the same interface as SQLite, for several instances on one database. Events travel
// over LISTEN/NOTIFY and rate-limit counters live in a table, so every instance sees the same state.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import pino, { type Logger } from 'pino';
import type { RateLimiter, RateLimitRule } from '../../cluster/rate-limits.js';
import { LocalEventBus, type ClusterEvent, type EventBus } from '../../cluster/events.js';
import { ids, json, nowSeconds, parseJson, presetFromRow, sessionFromRow, tokenFromRow, userColumns, userFromRow, type Row } from '../rows.js';
import type {
  GenericDataStore,
  KeyValueStore,
  LeaseStore,
  LoginTokenRecord,
  LoginTokenStore,
  PresetRecord,
  PresetStore,
  RoleRecord,
  RoleStore,
  SessionRecord,
  SessionStore,
  Store,
  UserRecord,
  UserStore,
} from '../types.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

type Queryable = pg.Pool | pg.PoolClient;

// BIGINT columns arrive as strings by default; every value here fits a double.
pg.types.setTypeParser(20, (v) => Number(v));

const EVENT_CHANNEL = 'swarmcore_events';
/** Session ids per notification (41 bytes each in JSON, well under the 8000-byte payload limit). */
const NOTIFY_IDS = 150;
const chunk = <T>(list: T[], size: number): T[][] => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
/** Arbitrary constant for pg_advisory_lock, so instances starting together migrate one at a time. */
const MIGRATION_LOCK = 7801_2026;

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

/** What a log line says about a connection error: pg attaches the client (with its connection settings) to some. */
function connectionError(err: unknown): { message: string; code?: string } {
  const e = err as { message?: unknown; code?: unknown };
  return { message: String(e.message ?? err), ...(typeof e.code === 'string' ? { code: e.code } : {}) };
}

export async function openPostgresStore(url: string, log: Logger = pino({ level: 'silent' })): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (err) => log.warn({ err: connectionError(err) }, 'an idle PostgreSQL connection failed; the pool replaces it'));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw new Error(`Cannot use the PostgreSQL database at ${redactUrl(url)}: ${(err as Error).message}`);
  }
  return new PostgresStore(pool, url, log);
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const applied = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: Row) => Number(r.version)));
    for (const m of POSTGRES_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [m.version, m.description, nowSeconds()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

/** Runs `fn` in one transaction on one connection. */
async function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function rows(db: Queryable, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await db.query(sql, params)).rows as Row[];
}

async function count(db: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  return (await db.query(sql, params)).rowCount ?? 0;
}


class PostgresStore implements Store {
  readonly engine = 'postgres' as const;
  readonly location: string;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly loginTokens: LoginTokenStore;
  readonly presets: PresetStore;
  readonly genericData: GenericDataStore;
  readonly roles: RoleStore;
  readonly settings: KeyValueStore;
  readonly meta: KeyValueStore;
  readonly leases: LeaseStore;
  private bus: PostgresEventBus | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly log: Logger,
  ) {
    this.location = redactUrl(url);
    this.users = new PgUsers(pool);
    this.sessions = new PgSessions(pool);
    this.loginTokens = new PgLoginTokens(pool);
    this.presets = new PgPresets(pool);
    this.genericData = new PgGenericData(pool);
    this.roles = new PgRoles(pool);
    this.settings = new PgKeyValue(pool, 'server_settings');
    this.meta = new PgKeyValue(pool, 'server_meta');
    this.leases = new PgLeases(pool);
  }

  createEventBus(log: Logger): EventBus {
    this.bus ??= new PostgresEventBus(this.pool, this.url, log);
    return this.bus;
  }

  createRateLimiter(): RateLimiter {
    return new PgRateLimiter(this.pool, this.log);
  }

  async close(): Promise<void> {
    await this.bus?.stop();
    await this.pool.end();
  }
}


const USER_COLUMNS = userColumns((v) => v);

class PgUsers implements UserStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(id: string): Promise<UserRecord | null> {
    const r = (await rows(this.pool, 'SELECT * FROM users WHERE id = $1', [id]))[0];
    return r ? userFromRow(r) : null;
  }

  async create(u: UserRecord): Promise<boolean> {
    return (
      (await count(
        this.pool,
        'INSERT INTO users (id, password_hash, password_set_by_admin, roles, settings, param_edits, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING',
        [u.id, u.passwordHash, u.passwordSetByAdmin, json(u.roles), json(u.settings), u.paramEdits, u.createdAt],
      )) === 1
    );
  }

  async update(id: string, patch: Partial<Omit<UserRecord, 'id' | 'createdAt'>>): Promise<boolean> {
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [field, value] of Object.entries(patch)) {
      const col = USER_COLUMNS[field];
      if (!col || value === undefined) continue;
      values.push(col[1](value as never));
      sets.push(`${col[0]} = $${values.length}`);
    }
    if (sets.length === 0) return (await this.get(id)) !== null;
    values.push(id);
    return (await count(this.pool, `UPDATE users SET ${sets.join(', ')} WHERE id = $${values.length}`, values)) === 1;
  }

  async updateSettings(id: string, change: (current: Record<string, unknown>) => Record<string, unknown>): Promise<boolean> {
    return transaction(this.pool, async (c) => {
      const r = (await rows(c, 'SELECT settings FROM users WHERE id = $1 FOR UPDATE', [id]))[0];
      if (!r) return false;
      await c.query('UPDATE users SET settings = $1 WHERE id = $2', [json(change(parseJson<Record<string, unknown>>(r.settings, {}))), id]);
      return true;
    });
  }

  async delete(id: string): Promise<boolean> {
    return (await count(this.pool, 'DELETE FROM users WHERE id = $1', [id])) === 1;
  }

  async listIds(): Promise<string[]> {
    return ids(await rows(this.pool, 'SELECT id FROM users ORDER BY id'));
  }
}


class PgSessions implements SessionStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(s: SessionRecord): Promise<void> {
    await this.pool.query('INSERT INTO sessions (id, user_id, origin_address, origin_token, impersonated_by, created_at, last_active) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      s.id,
      s.userId,
      s.originAddress,
      s.originToken,
      s.impersonatedBy,
      s.createdAt,
      s.lastActive,
    ]);
  }

  async get(id: string): Promise<SessionRecord | null> {
    const r = (await rows(this.pool, 'SELECT * FROM sessions WHERE id = $1', [id]))[0];
    return r ? sessionFromRow(r) : null;
  }

  async touch(id: string, lastActive: number): Promise<void> {
    await this.pool.query('UPDATE sessions SET last_active = $1 WHERE id = $2 AND last_active < $1', [lastActive, id]);
  }

  async delete(list: readonly string[]): Promise<void> {
    if (list.length > 0) await this.pool.query('DELETE FROM sessions WHERE id = ANY($1::text[])', [[...list]]);
  }

  async deleteByUser(userId: string, keep: readonly string[] = []): Promise<string[]> {
    return ids(await rows(this.pool, 'DELETE FROM sessions WHERE user_id = $1 AND id <> ALL($2::text[]) RETURNING id', [userId, [...keep]]));
  }

  async deleteIdle(cutoff: number): Promise<string[]> {
    return ids(await rows(this.pool, 'DELETE FROM sessions WHERE last_active < $1 RETURNING id', [cutoff]));
  }

  async listIdsByUser(userId: string): Promise<string[]> {
    return ids(await rows(this.pool, 'SELECT id FROM sessions WHERE user_id = $1', [userId]));
  }

  async deleteByImpersonator(impersonator: string): Promise<string[]> {
    return ids(await rows(this.pool, 'DELETE FROM sessions WHERE impersonated_by = $1 RETURNING id', [impersonator]));
  }

  async listImpersonators(): Promise<string[]> {
    const sql = 'SELECT impersonated_by AS id FROM sessions WHERE impersonated_by IS NOT NULL UNION SELECT impersonated_by FROM login_tokens WHERE impersonated_by IS NOT NULL';
    return ids(await rows(this.pool, sql, []));
  }
}


class PgLoginTokens implements LoginTokenStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(t: LoginTokenRecord): Promise<boolean> {
    // Inserting only when the user still exists keeps a deleted user from getting a token.
    return (
      (await count(
        this.pool,
        'INSERT INTO login_tokens (id, user_id, validation_hash, origin_address, user_agent, impersonated_by, created_at, last_active) SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)',
        [t.id, t.userId, t.validationHash, t.originAddress, t.userAgent, t.impersonatedBy, t.createdAt, t.lastActive],
      )) === 1
    );
  }

  async get(id: string): Promise<LoginTokenRecord | null> {
    const r = (await rows(this.pool, 'SELECT * FROM login_tokens WHERE id = $1', [id]))[0];
    return r ? tokenFromRow(r) : null;
  }

  async listByUser(userId: string): Promise<LoginTokenRecord[]> {
    return (await rows(this.pool, 'SELECT * FROM login_tokens WHERE user_id = $1 ORDER BY seq', [userId])).map(tokenFromRow);
  }

  async touch(id: string, lastActive: number): Promise<void> {
    await this.pool.query('UPDATE login_tokens SET last_active = $1 WHERE id = $2 AND last_active < $1', [lastActive, id]);
  }

  async delete(userId: string, id: string): Promise<{ deleted: boolean; sessionIds: string[] }> {
    return transaction(this.pool, async (c) => {
      const deleted = (await count(c, 'DELETE FROM login_tokens WHERE id = $1 AND user_id = $2', [id, userId])) === 1;
      const sessionIds = deleted ? ids(await rows(c, 'DELETE FROM sessions WHERE origin_token = $1 RETURNING id', [id])) : [];
      return { deleted, sessionIds };
    });
  }

  private async deleteWithSessions(where: string, params: unknown[]): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return transaction(this.pool, async (c) => {
      const tokenIds = ids(await rows(c, `DELETE FROM login_tokens WHERE ${where} RETURNING id`, params));
      const sessionIds = tokenIds.length > 0 ? ids(await rows(c, 'DELETE FROM sessions WHERE origin_token = ANY($1::text[]) RETURNING id', [tokenIds])) : [];
      return { tokenIds, sessionIds };
    });
  }

  deleteByUser(userId: string, keep: string | null): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('user_id = $1 AND id IS DISTINCT FROM $2', [userId, keep]);
  }

  deleteIdle(cutoff: number): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('last_active < $1', [cutoff]);
  }

  deleteByImpersonator(impersonator: string): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('impersonated_by = $1', [impersonator]);
  }
}


const INSERT_PRESET =
  'INSERT INTO presets (user_id, key, title, author, description, preview_image, is_starred, param_map) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id, key) DO NOTHING';
const presetValues = (userId: string, p: PresetRecord): unknown[] => [userId, p.key, p.title, p.author, p.description, p.previewImage, p.isStarred, json(p.paramMap)];

class PgPresets implements PresetStore {
  constructor(private readonly pool: pg.Pool) {}

  async list(userId: string): Promise<PresetRecord[]> {
    return (await rows(this.pool, 'SELECT * FROM presets WHERE user_id = $1 ORDER BY seq', [userId])).map(presetFromRow);
  }

  async get(userId: string, key: string): Promise<PresetRecord | null> {
    const r = (await rows(this.pool, 'SELECT * FROM presets WHERE user_id = $1 AND key = $2', [userId, key]))[0];
    return r ? presetFromRow(r) : null;
  }

  async insert(userId: string, p: PresetRecord): Promise<boolean> {
    return (await count(this.pool, INSERT_PRESET, presetValues(userId, p))) === 1;
  }

  async replace(userId: string, oldKey: string, p: PresetRecord): Promise<boolean> {
    if (oldKey === p.key) {
      const n = await count(this.pool, 'UPDATE presets SET title = $1, author = $2, description = $3, preview_image = $4, is_starred = $5, param_map = $6 WHERE user_id = $7 AND key = $8', [
        p.title,
        p.author,
        p.description,
        p.previewImage,
        p.isStarred,
        json(p.paramMap),
        userId,
        oldKey,
      ]);
      return n === 1;
    }
    class Refused extends Error {}
    try {
      return await transaction(this.pool, async (c) => {
        if ((await count(c, 'DELETE FROM presets WHERE user_id = $1 AND key = $2', [userId, oldKey])) !== 1) throw new Refused();
        if ((await count(c, INSERT_PRESET, presetValues(userId, p))) !== 1) throw new Refused();
        return true;
      });
    } catch (err) {
      if (err instanceof Refused) return false;
      throw err;
    }
  }

  async delete(userId: string, key: string): Promise<boolean> {
    return (await count(this.pool, 'DELETE FROM presets WHERE user_id = $1 AND key = $2', [userId, key])) === 1;
  }
}

class PgGenericData implements GenericDataStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(userId: string, dataname: string, name: string): Promise<string | null> {
    const r = (await rows(this.pool, 'SELECT data FROM generic_data WHERE user_id = $1 AND dataname = $2 AND name = $3', [userId, dataname, name]))[0];
    return r ? String(r.data) : null;
  }

  async set(userId: string, dataname: string, name: string, data: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO generic_data (user_id, dataname, name, data) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, dataname, name) DO UPDATE SET data = EXCLUDED.data',
      [userId, dataname, name, data],
    );
  }

  async delete(userId: string, dataname: string, name: string): Promise<boolean> {
    return (await count(this.pool, 'DELETE FROM generic_data WHERE user_id = $1 AND dataname = $2 AND name = $3', [userId, dataname, name])) === 1;
  }
}

class PgRoles implements RoleStore {
  constructor(private readonly pool: pg.Pool) {}

  async list(): Promise<RoleRecord[]> {
    return (await rows(this.pool, 'SELECT data FROM roles ORDER BY seq')).map((r) => parseJson<RoleRecord>(r.data, null as never));
  }

  async put(role: RoleRecord): Promise<void> {
    await this.pool.query('INSERT INTO roles (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data', [role.id, json(role)]);
  }

  async delete(id: string): Promise<boolean> {
    return (await count(this.pool, 'DELETE FROM roles WHERE id = $1', [id])) === 1;
  }
}

class PgKeyValue implements KeyValueStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly table: 'server_settings' | 'server_meta',
  ) {}

  async all(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const r of await rows(this.pool, `SELECT key, value FROM ${this.table} ORDER BY key`)) out[String(r.key)] = parseJson<unknown>(r.value, null);
    return out;
  }

  async get(key: string): Promise<unknown> {
    const r = (await rows(this.pool, `SELECT value FROM ${this.table} WHERE key = $1`, [key]))[0];
    return r ? parseJson<unknown>(r.value, null) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (value === undefined) await this.pool.query(`DELETE FROM ${this.table} WHERE key = $1`, [key]);
    else await this.pool.query(`INSERT INTO ${this.table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, json(value)]);
  }
}

class PgLeases implements LeaseStore {
  constructor(private readonly pool: pg.Pool) {}

  async acquire(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const now = nowSeconds();
    const n = await count(
      this.pool,
      `INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
       WHERE (server_meta.value::json ->> 'owner') = $3 OR (server_meta.value::json ->> 'expires')::bigint < $4`,
      [`lease:${name}`, json({ owner, expires: now + ttlSeconds }), owner, now],
    );
    return n === 1;
  }

  async release(name: string, owner: string): Promise<void> {
    await this.pool.query("DELETE FROM server_meta WHERE key = $1 AND (value::json ->> 'owner') = $2", [`lease:${name}`, owner]);
  }
}

/**
 * Fixed windows in one row per key, changed by a single atomic upsert. A refused attempt leaves the count at
 * max + 1, which is how the statement tells the caller "refused" without a second query.
 */
class PgRateLimiter implements RateLimiter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  async tryUse(rule: RateLimitRule, key: string): Promise<boolean> {
    const nowMs = Date.now();
    const r = (
      await rows(
        this.pool,
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
      this.pool.query('DELETE FROM rate_limits WHERE window_start < $1', [nowMs - 3600_000]).catch((err: unknown) => this.log.warn({ err: connectionError(err) }, 'removing old rate-limit windows failed'));
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
    private readonly pool: pg.Pool,
    private readonly url: string,
    log: Logger,
  ) {
    super(log);
    this.ready = this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', (err) => {
      this.log.warn({ err: connectionError(err) }, 'the PostgreSQL event connection failed; reconnecting');
      this.reconnect(client);
    });
    client.on('end', () => this.reconnect(client));
    client.on('notification', (msg) => {
      if (msg.channel !== EVENT_CHANNEL || !msg.payload) return;
      const { from, event } = parseJson<{ from: string; event: ClusterEvent }>(msg.payload, { from: this.instance, event: { type: 'settings.changed' } });
      if (from !== this.instance) this.deliver(event);
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
    for (const part of parts) await this.pool.query('SELECT pg_notify($1, $2)', [EVENT_CHANNEL, json({ from: this.instance, event: part })]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ready.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }
}
