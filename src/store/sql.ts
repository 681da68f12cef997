// The one SQL store, for both engines. Statements are written once with `?` placeholders; each engine's
// connection (SqlDb) binds them its own way. What really differs per engine (events, rate-limit counters, the
// JSON operator the leases use) comes from the engine through `SqlEngineParts`.
import type { RateLimiter } from '../cluster/rate-limits.js';
import type { Logger } from 'pino';
import type { EventBus } from '../cluster/events.js';
import { MIGRATIONS, type Engine } from './migrations.js';
import { ids, json, nowSeconds, parseJson, presetFromRow, sessionFromRow, tokenFromRow, userColumns, userFromRow, type Row } from './rows.js';
import type { SecretBox } from './secret-box.js';
import { EMBEDDED_IMAGE, TransactionScope } from './types.js';
import type {
  AuditQuery,
  AuditRecord,
  AuditStore,
  GenericDataStore,
  KeyValueStore,
  LeaseStore,
  LoginTokenRecord,
  LoginTokenStore,
  OAuthLinkRecord,
  OAuthStore,
  PresetRecord,
  PresetStore,
  RoleRecord,
  RoleStore,
  SessionRecord,
  SessionStore,
  Store,
  StoreCallObserver,
  UserRecord,
  UserStore,
  UserSummary,
} from './types.js';

/** One engine's connection (or open transaction). Booleans bind as the engine stores them. */
export interface SqlDb {
  readonly engine: Engine;
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs a statement; the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs `fn` in one transaction (inside one already: simply runs it); `scope` as Store.transaction's. */
  transaction<T>(fn: (db: SqlDb) => Promise<T>, scope?: string): Promise<T>;
}

/** What each engine provides itself. */
export interface SqlEngineParts {
  location: string;
  /** `column ->> field` of a JSON text column, as text. */
  jsonText(column: string, field: string): string;
  createEventBus(log: Logger): EventBus;
  createRateLimiter(): RateLimiter;
  close(): Promise<void>;
}

/** The rule for which generic-data rows are secrets sealed at rest: SetAPIKey keeps each key in a row named `key`. */
export const isSecretGenericData = (_dataname: string, name: string): boolean => name === 'key';

/** Lists longer than this are sent in several statements (SQLite allows 32766 parameters, PostgreSQL 65535). */
const LIST_CHUNK = 500;
const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
function chunks<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += LIST_CHUNK) out.push(list.slice(i, i + LIST_CHUNK));
  return out;
}

/** The observer every statement reports to; shared by a store and the stores of its transactions. */
interface CallHook {
  observer: StoreCallObserver | undefined;
}

/**
 * Every statement of the store goes through here: times it for the observer (metrics). Inside a transaction the
 * statements are timed one by one and the transaction as a whole.
 */
class TimedDb implements SqlDb {
  readonly engine: Engine;
  constructor(
    private readonly inner: SqlDb,
    private readonly hook: CallHook,
  ) {
    this.engine = inner.engine;
  }

  private async timed<T>(operation: 'read' | 'write' | 'transaction', call: () => Promise<T>): Promise<T> {
    const observer = this.hook.observer;
    if (!observer) return call();
    const started = performance.now();
    let failed = true;
    try {
      const result = await call();
      failed = false;
      return result;
    } finally {
      observer(operation, (performance.now() - started) / 1000, failed);
    }
  }

  all(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.timed('read', () => this.inner.all(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.timed('write', () => this.inner.run(sql, params));
  }

  transaction<T>(fn: (db: SqlDb) => Promise<T>, scope?: string): Promise<T> {
    // Already inside one, the engine runs fn with the same connection: no second transaction to time.
    return this.timed('transaction', () => this.inner.transaction((tx) => fn(tx === this.inner ? this : new TimedDb(tx, this.hook)), scope));
  }
}

/** The newest schema version this build knows. */
const LATEST_MIGRATION = Math.max(...MIGRATIONS.map((m) => m.version));

export class SqlStore implements Store {
  readonly engine: Engine;
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
  readonly audit: AuditStore;
  readonly oauth: OAuthStore;

  private readonly db: SqlDb;

  constructor(
    db: SqlDb,
    private readonly parts: SqlEngineParts,
    private readonly box: SecretBox,
    private readonly hook: CallHook = { observer: undefined },
  ) {
    this.db = db instanceof TimedDb ? db : new TimedDb(db, hook);
    db = this.db;
    this.engine = db.engine;
    this.location = parts.location;
    this.users = new SqlUsers(db);
    this.sessions = new SqlSessions(db);
    this.loginTokens = new SqlLoginTokens(db);
    this.presets = new SqlPresets(db);
    this.genericData = new SqlGenericData(db, box);
    this.roles = new SqlRoles(db);
    this.settings = new SqlKeyValue(db, 'server_settings');
    this.meta = new SqlKeyValue(db, 'server_meta');
    this.leases = new SqlLeases(db, parts);
    this.audit = new SqlAudit(db);
    this.oauth = new SqlOAuth(db);
  }

  /** The connection itself, for the database tools (copy.ts), which move rows rather than records. */
  get connection(): SqlDb {
    return this.db;
  }

  transaction<T>(fn: (tx: Store) => Promise<T>, scope?: string): Promise<T> {
    return this.db.transaction((tx) => fn(tx === this.db ? this : new SqlStore(tx, this.parts, this.box, this.hook)), scope);
  }

  async probe(): Promise<{ migrated: boolean }> {
    const row = (await this.db.all('SELECT MAX(version) AS version FROM schema_migrations'))[0];
    return { migrated: Number(row?.version ?? 0) >= LATEST_MIGRATION };
  }

  observeCalls(observer: StoreCallObserver): void {
    this.hook.observer = observer;
  }

  createEventBus(log: Logger): EventBus {
    return this.parts.createEventBus(log);
  }

  createRateLimiter(): RateLimiter {
    return this.parts.createRateLimiter();
  }

  close(): Promise<void> {
    return this.parts.close();
  }
}

/** The server_meta row that proves which secret key sealed this database's secrets. */
export const KEY_CHECK = 'secret_key_check';
const KEY_CHECK_TEXT = 'swarmcore secret key check';

/**
 * At open: refuses a secret key other than the one that sealed this database's secrets (instances sharing a
 * PostgreSQL database must share the key), then seals, in one pass, secret generic-data values still stored in
 * plain text (written before sealing existed).
 */
export async function prepareSecrets(db: SqlDb, box: SecretBox): Promise<number> {
  return db.transaction(async (tx) => {
    const check = (await tx.all('SELECT value FROM server_meta WHERE key = ?', [KEY_CHECK]))[0];
    if (check) {
      box.open(parseJson<string>(check.value, ''));
    } else {
      await tx.run('INSERT INTO server_meta (key, value) VALUES (?, ?)', [KEY_CHECK, json(box.seal(KEY_CHECK_TEXT))]);
    }
    const rows = await tx.all('SELECT user_id, dataname, name, data FROM generic_data WHERE name = ?', ['key']);
    let sealed = 0;
    for (const r of rows) {
      if (!isSecretGenericData(String(r.dataname), String(r.name)) || box.isSealed(String(r.data))) continue;
      await tx.run('UPDATE generic_data SET data = ? WHERE user_id = ? AND dataname = ? AND name = ?', [box.seal(String(r.data)), r.user_id, r.dataname, r.name]);
      sealed++;
    }
    return sealed;
  });
}

/** The connection under a store that openStore made (every store is a SqlStore). */
export function connectionOf(store: Store): SqlDb {
  if (!(store instanceof SqlStore)) throw new Error('This store is not an SQL store');
  return store.connection;
}

const USER_COLUMNS = userColumns((v) => v);

class SqlUsers implements UserStore {
  constructor(private readonly db: SqlDb) {}

  async get(id: string): Promise<UserRecord | null> {
    const r = (await this.db.all('SELECT * FROM users WHERE id = ?', [id]))[0];
    return r ? userFromRow(r) : null;
  }

  async create(u: UserRecord): Promise<boolean> {
    const n = await this.db.run(
      'INSERT INTO users (id, password_hash, password_set_by_admin, roles, settings, param_edits, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      [u.id, u.passwordHash, u.passwordSetByAdmin, json(u.roles), json(u.settings), u.paramEdits, u.createdAt],
    );
    return n === 1;
  }

  async update(id: string, patch: Partial<Omit<UserRecord, 'id' | 'createdAt'>>): Promise<boolean> {
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [field, value] of Object.entries(patch)) {
      const col = USER_COLUMNS[field];
      if (!col || value === undefined) continue;
      sets.push(`${col[0]} = ?`);
      values.push(col[1](value as never));
    }
    if (sets.length === 0) return (await this.get(id)) !== null;
    return (await this.db.run(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`, [...values, id])) === 1;
  }

  async updateSettings(id: string, change: (current: Record<string, unknown>) => Record<string, unknown>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // The row lock (PostgreSQL) or the write lock BEGIN IMMEDIATE took (SQLite) keeps concurrent changes apart.
      const r = (await tx.all(`SELECT settings FROM users WHERE id = ?${tx.engine === 'postgres' ? ' FOR UPDATE' : ''}`, [id]))[0];
      if (!r) return false;
      await tx.run('UPDATE users SET settings = ? WHERE id = ?', [json(change(parseJson<Record<string, unknown>>(r.settings, {}))), id]);
      return true;
    }, TransactionScope.user(id));
  }

  async delete(id: string): Promise<boolean> {
    // Sessions, tokens, presets and generic data go with it (ON DELETE CASCADE).
    return (await this.db.run('DELETE FROM users WHERE id = ?', [id])) === 1;
  }

  async listIds(): Promise<string[]> {
    return ids(await this.db.all('SELECT id FROM users ORDER BY id'));
  }

  async listRoles(): Promise<Array<{ id: string; roles: string[] }>> {
    return (await this.db.all('SELECT id, roles FROM users ORDER BY id')).map((r) => ({ id: String(r.id), roles: parseJson<string[]>(r.roles, []) }));
  }

  async listSummaries(): Promise<UserSummary[]> {
    const sql =
      'SELECT u.id, u.roles, u.created_at, (SELECT MAX(s.last_active) FROM sessions s WHERE s.user_id = u.id) AS session_last, ' +
      '(SELECT MAX(t.last_active) FROM login_tokens t WHERE t.user_id = u.id) AS token_last FROM users u ORDER BY u.id';
    return (await this.db.all(sql)).map((r) => {
      const last = [r.session_last, r.token_last].filter((v) => v !== null && v !== undefined).map(Number);
      return { id: String(r.id), roles: parseJson<string[]>(r.roles, []), createdAt: Number(r.created_at), lastActive: last.length > 0 ? Math.max(...last) : null };
    });
  }
}

const INSERT_SESSION = 'INSERT INTO sessions (id, user_id, origin_address, origin_token, impersonated_by, created_at, last_active) VALUES (?, ?, ?, ?, ?, ?, ?)';

/** Statement texts PostgreSQL keeps prepared on each connection (parsed and planned once), by name. */
const preparedNames = new Map<string, string>();
/** Marks a statement text to be kept prepared on PostgreSQL; for the hottest statements, whose text never varies. */
function prepared(sql: string): string {
  if (!preparedNames.has(sql)) preparedNames.set(sql, `swarmcore_${preparedNames.size + 1}`);
  return sql;
}
/** The name a statement text is prepared under on PostgreSQL, if it is one `prepared` marked. */
export function preparedName(sql: string): string | undefined {
  return preparedNames.get(sql);
}

/**
 * PostgreSQL: any number of new sessions as one prepared statement (one array per column), committed without
 * waiting for the WAL flush (`synchronous_commit` off for this statement's own transaction only). An answered
 * GetNewSession then survives kill -9 of swarmcore, as every write does, but not a crash of the PostgreSQL
 * server itself within about half a second: the client is told its session is unknown and makes a new one.
 * Ending sessions, tokens and passwords keep the synchronous commit (docs/DEPLOY.md). Never run inside an open
 * transaction: it would make that transaction's commit asynchronous too.
 */
const INSERT_SESSIONS_PG = prepared(
  "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)) INSERT INTO sessions (id, user_id, origin_address, origin_token, impersonated_by, created_at, last_active) SELECT u.* FROM quick, unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS u",
);

class SqlSessions implements SessionStore {
  constructor(private readonly db: SqlDb) {}

  async insert(s: SessionRecord): Promise<void> {
    await this.insertMany([s]);
  }

  async insertMany(list: readonly SessionRecord[]): Promise<void> {
    if (list.length === 0) return;
    const values = (s: SessionRecord): unknown[] => [s.id, s.userId, s.originAddress, s.originToken, s.impersonatedBy, s.createdAt, s.lastActive];
    if (this.db.engine === 'sqlite') {
      // SQLite keeps every statement text compiled, and a statement of n rows costs memory in proportion (about
      // 2.5 KiB a row): one cached single-row statement run n times inside one transaction (one commit) instead.
      if (list.length === 1) {
        await this.db.run(INSERT_SESSION, values(list[0]!));
        return;
      }
      await this.db.transaction(async (tx) => {
        for (const s of list) await tx.run(INSERT_SESSION, values(s));
      });
      return;
    }
    // PostgreSQL: one prepared statement, one round trip, whatever the number of rows.
    await this.db.run(INSERT_SESSIONS_PG, [list.map((s) => s.id), list.map((s) => s.userId), list.map((s) => s.originAddress), list.map((s) => s.originToken), list.map((s) => s.impersonatedBy), list.map((s) => s.createdAt), list.map((s) => s.lastActive)]);
  }

  async get(id: string): Promise<SessionRecord | null> {
    const r = (await this.db.all('SELECT * FROM sessions WHERE id = ?', [id]))[0];
    return r ? sessionFromRow(r) : null;
  }

  async touch(id: string, lastActive: number): Promise<void> {
    await this.db.run('UPDATE sessions SET last_active = ? WHERE id = ? AND last_active < ?', [lastActive, id, lastActive]);
  }

  async delete(list: readonly string[]): Promise<void> {
    if (list.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const part of chunks(list)) await tx.run(`DELETE FROM sessions WHERE id IN (${marks(part.length)})`, part);
    });
  }

  async deleteByUser(userId: string, keep: readonly string[] = []): Promise<string[]> {
    const notKept = keep.length > 0 ? ` AND id NOT IN (${marks(keep.length)})` : '';
    return ids(await this.db.all(`DELETE FROM sessions WHERE user_id = ?${notKept} RETURNING id`, [userId, ...keep]));
  }

  async deleteIdle(cutoff: number): Promise<string[]> {
    return ids(await this.db.all('DELETE FROM sessions WHERE last_active < ? RETURNING id', [cutoff]));
  }

  async listIdsByUser(userId: string): Promise<string[]> {
    return ids(await this.db.all('SELECT id FROM sessions WHERE user_id = ?', [userId]));
  }

  async deleteByImpersonator(impersonator: string): Promise<string[]> {
    return ids(await this.db.all('DELETE FROM sessions WHERE impersonated_by = ? RETURNING id', [impersonator]));
  }

  async listImpersonators(): Promise<string[]> {
    const sql = 'SELECT impersonated_by AS id FROM sessions WHERE impersonated_by IS NOT NULL UNION SELECT impersonated_by FROM login_tokens WHERE impersonated_by IS NOT NULL';
    return ids(await this.db.all(sql));
  }
}

class SqlLoginTokens implements LoginTokenStore {
  constructor(private readonly db: SqlDb) {}

  async insert(t: LoginTokenRecord): Promise<boolean> {
    // Inserting only while the user exists keeps a deleted user from getting a token.
    const n = await this.db.run(
      'INSERT INTO login_tokens (id, user_id, validation_hash, origin_address, user_agent, impersonated_by, created_at, last_active) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)',
      [t.id, t.userId, t.validationHash, t.originAddress, t.userAgent, t.impersonatedBy, t.createdAt, t.lastActive, t.userId],
    );
    return n === 1;
  }

  async get(id: string): Promise<LoginTokenRecord | null> {
    const r = (await this.db.all('SELECT * FROM login_tokens WHERE id = ?', [id]))[0];
    return r ? tokenFromRow(r) : null;
  }

  async listByUser(userId: string): Promise<LoginTokenRecord[]> {
    return (await this.db.all('SELECT * FROM login_tokens WHERE user_id = ? ORDER BY seq', [userId])).map(tokenFromRow);
  }

  async touch(id: string, lastActive: number): Promise<void> {
    await this.db.run('UPDATE login_tokens SET last_active = ? WHERE id = ? AND last_active < ?', [lastActive, id, lastActive]);
  }

  async delete(userId: string, id: string): Promise<{ deleted: boolean; sessionIds: string[] }> {
    return this.db.transaction(async (tx) => {
      const deleted = (await tx.run('DELETE FROM login_tokens WHERE id = ? AND user_id = ?', [id, userId])) === 1;
      const sessionIds = deleted ? ids(await tx.all('DELETE FROM sessions WHERE origin_token = ? RETURNING id', [id])) : [];
      return { deleted, sessionIds };
    }, TransactionScope.user(userId));
  }

  private deleteWithSessions(where: string, params: unknown[], scope?: string): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.db.transaction(async (tx) => {
      const tokenIds = ids(await tx.all(`DELETE FROM login_tokens WHERE ${where} RETURNING id`, params));
      const sessionIds: string[] = [];
      for (const part of chunks(tokenIds)) sessionIds.push(...ids(await tx.all(`DELETE FROM sessions WHERE origin_token IN (${marks(part.length)}) RETURNING id`, part)));
      return { tokenIds, sessionIds };
    }, scope);
  }

  deleteByUser(userId: string, keep: string | null): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('user_id = ? AND id IS DISTINCT FROM ?', [userId, keep], TransactionScope.user(userId));
  }

  deleteIdle(cutoff: number): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('last_active < ?', [cutoff]);
  }

  deleteByImpersonator(impersonator: string): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('impersonated_by = ?', [impersonator]);
  }
}

const INSERT_PRESET =
  'INSERT INTO presets (user_id, key, title, author, description, preview_image, has_image, is_starred, param_map) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO NOTHING';
const hasImage = (p: PresetRecord): boolean => p.previewImage.startsWith(EMBEDDED_IMAGE);
const presetValues = (userId: string, p: PresetRecord): unknown[] => [userId, p.key, p.title, p.author, p.description, p.previewImage, hasImage(p), p.isStarred, json(p.paramMap)];
/**
 * Every column but the embedded image, which can be most of a row's bytes: an embedded preview reads as the bare
 * EMBEDDED_IMAGE prefix. The image column is read only for rows without one (a short path or URL); PostgreSQL
 * then leaves a stored image in its TOAST table, and SQLite does not copy it out of its pages.
 */
const PRESET_SUMMARY_COLUMNS = `key, title, author, description, is_starred, param_map, CASE WHEN has_image THEN '${EMBEDDED_IMAGE}' ELSE preview_image END AS preview_image`;

class SqlPresets implements PresetStore {
  constructor(private readonly db: SqlDb) {}

  async list(userId: string): Promise<PresetRecord[]> {
    return (await this.db.all('SELECT * FROM presets WHERE user_id = ? ORDER BY seq', [userId])).map(presetFromRow);
  }

  async listWithoutImages(userId: string): Promise<PresetRecord[]> {
    return (await this.db.all(`SELECT ${PRESET_SUMMARY_COLUMNS} FROM presets WHERE user_id = ? ORDER BY seq`, [userId])).map(presetFromRow);
  }

  async get(userId: string, key: string): Promise<PresetRecord | null> {
    const r = (await this.db.all('SELECT * FROM presets WHERE user_id = ? AND key = ?', [userId, key]))[0];
    return r ? presetFromRow(r) : null;
  }

  async insert(userId: string, p: PresetRecord): Promise<boolean> {
    return (await this.db.run(INSERT_PRESET, presetValues(userId, p))) === 1;
  }

  async replace(userId: string, oldKey: string, p: PresetRecord, moveToEnd = false): Promise<boolean> {
    if (oldKey === p.key && !moveToEnd) {
      const n = await this.db.run('UPDATE presets SET title = ?, author = ?, description = ?, preview_image = ?, has_image = ?, is_starred = ?, param_map = ? WHERE user_id = ? AND key = ?', [
        p.title,
        p.author,
        p.description,
        p.previewImage,
        hasImage(p),
        p.isStarred,
        json(p.paramMap),
        userId,
        oldKey,
      ]);
      return n === 1;
    }
    class Refused extends Error {}
    try {
      return await this.db.transaction(async (tx) => {
        // A refusal must undo the delete: thrown, so the transaction rolls back.
        if ((await tx.run('DELETE FROM presets WHERE user_id = ? AND key = ?', [userId, oldKey])) !== 1) throw new Refused();
        if ((await tx.run(INSERT_PRESET, presetValues(userId, p))) !== 1) throw new Refused();
        return true;
      });
    } catch (err) {
      if (err instanceof Refused) return false;
      throw err;
    }
  }

  async delete(userId: string, key: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM presets WHERE user_id = ? AND key = ?', [userId, key])) === 1;
  }
}

class SqlGenericData implements GenericDataStore {
  constructor(
    private readonly db: SqlDb,
    private readonly box: SecretBox,
  ) {}

  async get(userId: string, dataname: string, name: string): Promise<string | null> {
    const r = (await this.db.all('SELECT data FROM generic_data WHERE user_id = ? AND dataname = ? AND name = ?', [userId, dataname, name]))[0];
    if (!r) return null;
    const data = String(r.data);
    return isSecretGenericData(dataname, name) ? this.box.open(data) : data;
  }

  async set(userId: string, dataname: string, name: string, data: string): Promise<void> {
    const stored = isSecretGenericData(dataname, name) ? this.box.seal(data) : data;
    await this.db.run('INSERT INTO generic_data (user_id, dataname, name, data) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, dataname, name) DO UPDATE SET data = excluded.data', [
      userId,
      dataname,
      name,
      stored,
    ]);
  }

  async delete(userId: string, dataname: string, name: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM generic_data WHERE user_id = ? AND dataname = ? AND name = ?', [userId, dataname, name])) === 1;
  }
}

class SqlRoles implements RoleStore {
  constructor(private readonly db: SqlDb) {}

  async list(): Promise<RoleRecord[]> {
    return (await this.db.all('SELECT data FROM roles ORDER BY seq, id')).map((r) => parseJson<RoleRecord>(r.data, null as never));
  }

  async put(role: RoleRecord): Promise<void> {
    // A new role goes after every existing one; an update keeps its place.
    await this.db.run('INSERT INTO roles (seq, id, data) VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM roles), ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data', [
      role.id,
      json(role),
    ]);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM roles WHERE id = ?', [id])) === 1;
  }
}

class SqlKeyValue implements KeyValueStore {
  constructor(
    private readonly db: SqlDb,
    private readonly table: 'server_settings' | 'server_meta',
  ) {}

  async all(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const r of await this.db.all(`SELECT key, value FROM ${this.table} ORDER BY key`)) out[String(r.key)] = parseJson<unknown>(r.value, null);
    return out;
  }

  async get(key: string): Promise<unknown> {
    const r = (await this.db.all(`SELECT value FROM ${this.table} WHERE key = ?`, [key]))[0];
    return r ? parseJson<unknown>(r.value, null) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (value === undefined) await this.db.run(`DELETE FROM ${this.table} WHERE key = ?`, [key]);
    else await this.db.run(`INSERT INTO ${this.table} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, json(value)]);
  }

  async setMany(entries: Readonly<Record<string, unknown>>): Promise<void> {
    await this.db.transaction(async (tx) => {
      const inTx = new SqlKeyValue(tx, this.table);
      for (const [key, value] of Object.entries(entries)) await inTx.set(key, value);
    });
  }
}

class SqlAudit implements AuditStore {
  constructor(private readonly db: SqlDb) {}

  async insert(e: Omit<AuditRecord, 'seq'>): Promise<void> {
    await this.db.run('INSERT INTO audit_log (at, user_id, attempted_name, address, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      e.at,
      e.userId,
      e.attemptedName,
      e.address,
      e.action,
      e.target,
      json(e.detail),
    ]);
  }

  async list(q: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.userId !== undefined) {
      where.push('(user_id = ? OR target = ?)');
      values.push(q.userId, q.userId);
    }
    if (q.since !== undefined) {
      where.push('at >= ?');
      values.push(q.since);
    }
    if (q.before !== undefined) {
      where.push('seq < ?');
      values.push(q.before);
    }
    const rows = await this.db.all(`SELECT * FROM audit_log${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`, [...values, q.limit]);
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: Number(r.at),
      userId: r.user_id === null ? null : String(r.user_id),
      attemptedName: r.attempted_name === null ? null : String(r.attempted_name),
      address: String(r.address),
      action: String(r.action),
      target: r.target === null ? null : String(r.target),
      detail: parseJson<Record<string, unknown>>(r.detail, {}),
    }));
  }

  async prune(cutoff: number): Promise<number> {
    return this.db.run('DELETE FROM audit_log WHERE at < ?', [cutoff]);
  }
}

/** Thrown inside setLink's transaction to undo it when the e-mail belongs to another account. */
class LinkTaken extends Error {}

function linkFromRow(r: Row): OAuthLinkRecord {
  return { email: String(r.email), userId: String(r.user_id), provider: String(r.provider), linkedAt: Number(r.linked_at) };
}

class SqlOAuth implements OAuthStore {
  constructor(private readonly db: SqlDb) {}

  async byEmail(email: string): Promise<OAuthLinkRecord | null> {
    const r = (await this.db.all('SELECT * FROM oauth_links WHERE email = ?', [email]))[0];
    return r ? linkFromRow(r) : null;
  }

  async byUser(userId: string): Promise<OAuthLinkRecord | null> {
    const r = (await this.db.all('SELECT * FROM oauth_links WHERE user_id = ?', [userId]))[0];
    return r ? linkFromRow(r) : null;
  }

  async setLink(userId: string, email: string | null, provider: string, at: number): Promise<'ok' | 'taken' | 'no_user'> {
    try {
      return await this.db.transaction(async (tx) => {
        if ((await tx.all('SELECT id FROM users WHERE id = ?', [userId])).length === 0) return 'no_user' as const;
        await tx.run('DELETE FROM oauth_links WHERE user_id = ?', [userId]);
        if (email === null) return 'ok' as const;
        // Another account's row (even one being written by another instance right now) keeps the e-mail.
        const n = await tx.run('INSERT INTO oauth_links (email, user_id, provider, linked_at) VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING', [email, userId, provider, at]);
        if (n !== 1) throw new LinkTaken();
        return 'ok' as const;
      }, TransactionScope.user(userId));
    } catch (err) {
      if (err instanceof LinkTaken) return 'taken';
      throw err;
    }
  }

  async putPending(id: string, kind: string, data: Record<string, unknown>, expiresAt: number): Promise<void> {
    await this.db.run('INSERT INTO oauth_pending (id, kind, data, expires_at) VALUES (?, ?, ?, ?)', [id, kind, json(data), expiresAt]);
  }

  async peekPending(id: string, kind: string, now: number): Promise<Record<string, unknown> | null> {
    const r = (await this.db.all('SELECT data FROM oauth_pending WHERE id = ? AND kind = ? AND expires_at > ?', [id, kind, now]))[0];
    return r ? parseJson<Record<string, unknown>>(r.data, {}) : null;
  }

  async takePending(id: string, kind: string, now: number): Promise<Record<string, unknown> | null> {
    // One statement: of two instances taking the same entry, only one gets the row back.
    const rows = await this.db.all('DELETE FROM oauth_pending WHERE id = ? AND kind = ? RETURNING data, expires_at', [id, kind]);
    const r = rows[0];
    return r && Number(r.expires_at) > now ? parseJson<Record<string, unknown>>(r.data, {}) : null;
  }

  prunePending(now: number): Promise<number> {
    return this.db.run('DELETE FROM oauth_pending WHERE expires_at <= ?', [now]);
  }
}

class SqlLeases implements LeaseStore {
  constructor(
    private readonly db: SqlDb,
    private readonly parts: SqlEngineParts,
  ) {}

  async acquire(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const now = nowSeconds();
    const owned = this.parts.jsonText('server_meta.value', 'owner');
    const expires = this.parts.jsonText('server_meta.value', 'expires');
    const n = await this.db.run(
      `INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
       WHERE ${owned} = ? OR CAST(${expires} AS BIGINT) < ?`,
      [`lease:${name}`, json({ owner, expires: now + ttlSeconds }), owner, now],
    );
    return n === 1;
  }

  async release(name: string, owner: string): Promise<void> {
    await this.db.run(`DELETE FROM server_meta WHERE key = ? AND ${this.parts.jsonText('value', 'owner')} = ?`, [`lease:${name}`, owner]);
  }
}
