// SQLite store (better-sqlite3, WAL). synchronous=NORMAL: in WAL mode every commit is in the log before the
// call returns, so an acknowledged write survives kill -9 of the server; only an OS crash or power loss can take
// the last commits, which FULL would prevent at the price of an fsync per write.
// better-sqlite3 is synchronous; each method is one short transaction, exposed through the async interface.
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
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
import { SQLITE_MIGRATIONS } from './migrations.js';
import { MemoryRateLimiter, type RateLimiter } from '../../cluster/rate-limits.js';
import { LocalEventBus, type ClusterEvent, type EventBus } from '../../cluster/events.js';

type DB = Database.Database;

export const SQLITE_FILE_NAME = 'swarmcore.db';

/** Opens (creating if needed) the database in `dataDir` and brings its schema up to date. */
export async function openSqliteStore(dataDir: string): Promise<Store> {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, SQLITE_FILE_NAME);
  const db = new Database(file);
  cacheStatements(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return new SqliteStore(db, file);
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

function migrate(db: DB): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
  for (const m of SQLITE_MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)').run(m.version, m.description, nowSeconds());
    }).immediate();
  }
}


class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly loginTokens: LoginTokenStore;
  readonly presets: PresetStore;
  readonly genericData: GenericDataStore;
  readonly roles: RoleStore;
  readonly settings: KeyValueStore;
  readonly meta: KeyValueStore;
  readonly leases: LeaseStore;

  constructor(
    private readonly db: DB,
    readonly location: string,
  ) {
    this.users = new SqliteUsers(db);
    this.sessions = new SqliteSessions(db);
    this.loginTokens = new SqliteLoginTokens(db);
    this.presets = new SqlitePresets(db);
    this.genericData = new SqliteGenericData(db);
    this.roles = new SqliteRoles(db);
    this.settings = new SqliteKeyValue(db, 'server_settings');
    this.meta = new SqliteKeyValue(db, 'server_meta');
    this.leases = new SqliteLeases(db);
  }

  private bus: SqliteEventBus | undefined;

  createEventBus(log: Logger): EventBus {
    this.bus ??= new SqliteEventBus(this.db, log);
    return this.bus;
  }

  createRateLimiter(): RateLimiter {
    return new MemoryRateLimiter();
  }

  async close(): Promise<void> {
    this.bus?.stop();
    if (this.db.open) this.db.close();
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
    if (this.db.open) {
      this.poll();
      const id = Number(this.db.prepare('INSERT INTO cluster_events (payload, created_at) VALUES (?, ?)').run(json(event), nowSeconds()).lastInsertRowid);
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
    if (!this.db.open) return;
    const version = this.dataVersion();
    if (version === this.lastVersion) return;
    this.lastVersion = version;
    const rows = this.db.prepare('SELECT id, payload FROM cluster_events WHERE id > ? ORDER BY id').all(this.lastId) as Row[];
    for (const r of rows) {
      const id = Number(r.id);
      this.lastId = id;
      if (this.own.delete(id)) continue;
      this.deliver(parseJson<ClusterEvent>(r.payload, { type: 'settings.changed' }));
    }
    this.db.prepare('DELETE FROM cluster_events WHERE created_at < ?').run(nowSeconds() - SqliteEventBus.KEEP_SECONDS);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}


const USER_COLUMNS = userColumns((v) => (v ? 1 : 0));

class SqliteUsers implements UserStore {
  constructor(private readonly db: DB) {}

  async get(id: string): Promise<UserRecord | null> {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return r ? userFromRow(r) : null;
  }

  async create(u: UserRecord): Promise<boolean> {
    const res = this.db
      .prepare('INSERT INTO users (id, password_hash, password_set_by_admin, roles, settings, param_edits, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
      .run(u.id, u.passwordHash, u.passwordSetByAdmin ? 1 : 0, json(u.roles), json(u.settings), u.paramEdits, u.createdAt);
    return res.changes === 1;
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
    const res = this.db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    return res.changes === 1;
  }

  async updateSettings(id: string, change: (current: Record<string, unknown>) => Record<string, unknown>): Promise<boolean> {
    return this.db
      .transaction(() => {
        const r = this.db.prepare('SELECT settings FROM users WHERE id = ?').get(id) as Row | undefined;
        if (!r) return false;
        const next = change(parseJson<Record<string, unknown>>(r.settings, {}));
        this.db.prepare('UPDATE users SET settings = ? WHERE id = ?').run(json(next), id);
        return true;
      })
      .immediate();
  }

  async delete(id: string): Promise<boolean> {
    // Sessions, tokens, presets and generic data go with it (ON DELETE CASCADE).
    return this.db.prepare('DELETE FROM users WHERE id = ?').run(id).changes === 1;
  }

  async listIds(): Promise<string[]> {
    return (this.db.prepare('SELECT id FROM users ORDER BY id').all() as Row[]).map((r) => String(r.id));
  }
}



class SqliteSessions implements SessionStore {
  constructor(private readonly db: DB) {}

  async insert(s: SessionRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO sessions (id, user_id, origin_address, origin_token, impersonated_by, created_at, last_active) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(s.id, s.userId, s.originAddress, s.originToken, s.impersonatedBy, s.createdAt, s.lastActive);
  }

  async get(id: string): Promise<SessionRecord | null> {
    const r = this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return r ? sessionFromRow(r) : null;
  }

  async touch(id: string, lastActive: number): Promise<void> {
    this.db.prepare('UPDATE sessions SET last_active = ? WHERE id = ? AND last_active < ?').run(lastActive, id, lastActive);
  }

  async delete(list: readonly string[]): Promise<void> {
    const del = this.db.prepare('DELETE FROM sessions WHERE id = ?');
    this.db.transaction(() => list.forEach((id) => del.run(id)))();
  }

  async deleteByUser(userId: string, keep: readonly string[] = []): Promise<string[]> {
    return ids(this.db.prepare('DELETE FROM sessions WHERE user_id = ? AND id NOT IN (SELECT value FROM json_each(?)) RETURNING id').all(userId, json(keep)));
  }

  async deleteIdle(cutoff: number): Promise<string[]> {
    return ids(this.db.prepare('DELETE FROM sessions WHERE last_active < ? RETURNING id').all(cutoff));
  }

  async listIdsByUser(userId: string): Promise<string[]> {
    return ids(this.db.prepare('SELECT id FROM sessions WHERE user_id = ?').all(userId));
  }

  async deleteByImpersonator(impersonator: string): Promise<string[]> {
    return ids(this.db.prepare('DELETE FROM sessions WHERE impersonated_by = ? RETURNING id').all(impersonator));
  }

  async listImpersonators(): Promise<string[]> {
    const sql = 'SELECT impersonated_by AS id FROM sessions WHERE impersonated_by IS NOT NULL UNION SELECT impersonated_by FROM login_tokens WHERE impersonated_by IS NOT NULL';
    return ids(this.db.prepare(sql).all());
  }
}


class SqliteLoginTokens implements LoginTokenStore {
  constructor(private readonly db: DB) {}

  async insert(t: LoginTokenRecord): Promise<boolean> {
    // Refused when the user no longer exists (the foreign key fails): the caller answers "could not create".
    const userExists = this.db.prepare('SELECT 1 FROM users WHERE id = ?').get(t.userId) !== undefined;
    if (!userExists) return false;
    this.db
      .prepare('INSERT INTO login_tokens (id, user_id, validation_hash, origin_address, user_agent, impersonated_by, created_at, last_active) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(t.id, t.userId, t.validationHash, t.originAddress, t.userAgent, t.impersonatedBy, t.createdAt, t.lastActive);
    return true;
  }

  async get(id: string): Promise<LoginTokenRecord | null> {
    const r = this.db.prepare('SELECT * FROM login_tokens WHERE id = ?').get(id) as Row | undefined;
    return r ? tokenFromRow(r) : null;
  }

  async listByUser(userId: string): Promise<LoginTokenRecord[]> {
    return (this.db.prepare('SELECT * FROM login_tokens WHERE user_id = ? ORDER BY seq').all(userId) as Row[]).map(tokenFromRow);
  }

  async touch(id: string, lastActive: number): Promise<void> {
    this.db.prepare('UPDATE login_tokens SET last_active = ? WHERE id = ? AND last_active < ?').run(lastActive, id, lastActive);
  }

  async delete(userId: string, id: string): Promise<{ deleted: boolean; sessionIds: string[] }> {
    return this.db
      .transaction(() => {
        const deleted = this.db.prepare('DELETE FROM login_tokens WHERE id = ? AND user_id = ?').run(id, userId).changes === 1;
        const sessionIds = deleted ? ids(this.db.prepare('DELETE FROM sessions WHERE origin_token = ? RETURNING id').all(id)) : [];
        return { deleted, sessionIds };
      })
      .immediate();
  }

  async deleteByUser(userId: string, keep: string | null): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.db
      .transaction(() => {
        const tokenIds = ids(this.db.prepare('DELETE FROM login_tokens WHERE user_id = ? AND id IS NOT ? RETURNING id').all(userId, keep));
        const delSessions = this.db.prepare('DELETE FROM sessions WHERE origin_token = ? RETURNING id');
        const sessionIds = tokenIds.flatMap((t) => ids(delSessions.all(t)));
        return { tokenIds, sessionIds };
      })
      .immediate();
  }

  /** Deletes the tokens matching `where` and the sessions they created, in one transaction. */
  private deleteWithSessions(where: string, value: unknown): { tokenIds: string[]; sessionIds: string[] } {
    return this.db
      .transaction(() => {
        const tokenIds = ids(this.db.prepare(`DELETE FROM login_tokens WHERE ${where} RETURNING id`).all(value));
        const delSessions = this.db.prepare('DELETE FROM sessions WHERE origin_token = ? RETURNING id');
        const sessionIds = tokenIds.flatMap((t) => ids(delSessions.all(t)));
        return { tokenIds, sessionIds };
      })
      .immediate();
  }

  async deleteIdle(cutoff: number): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('last_active < ?', cutoff);
  }

  async deleteByImpersonator(impersonator: string): Promise<{ tokenIds: string[]; sessionIds: string[] }> {
    return this.deleteWithSessions('impersonated_by = ?', impersonator);
  }
}


class SqlitePresets implements PresetStore {
  constructor(private readonly db: DB) {}

  async list(userId: string): Promise<PresetRecord[]> {
    return (this.db.prepare('SELECT * FROM presets WHERE user_id = ? ORDER BY seq').all(userId) as Row[]).map(presetFromRow);
  }

  async get(userId: string, key: string): Promise<PresetRecord | null> {
    const r = this.db.prepare('SELECT * FROM presets WHERE user_id = ? AND key = ?').get(userId, key) as Row | undefined;
    return r ? presetFromRow(r) : null;
  }

  private insertSync(userId: string, p: PresetRecord): boolean {
    const res = this.db
      .prepare(
        'INSERT INTO presets (user_id, key, title, author, description, preview_image, is_starred, param_map) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, key) DO NOTHING',
      )
      .run(userId, p.key, p.title, p.author, p.description, p.previewImage, p.isStarred ? 1 : 0, json(p.paramMap));
    return res.changes === 1;
  }

  async insert(userId: string, p: PresetRecord): Promise<boolean> {
    return this.insertSync(userId, p);
  }

  async replace(userId: string, oldKey: string, p: PresetRecord): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (oldKey === p.key) {
          const res = this.db
            .prepare('UPDATE presets SET title = ?, author = ?, description = ?, preview_image = ?, is_starred = ?, param_map = ? WHERE user_id = ? AND key = ?')
            .run(p.title, p.author, p.description, p.previewImage, p.isStarred ? 1 : 0, json(p.paramMap), userId, oldKey);
          return res.changes === 1;
        }
        if (this.db.prepare('SELECT 1 FROM presets WHERE user_id = ? AND key = ?').get(userId, p.key) !== undefined) return false;
        if (this.db.prepare('DELETE FROM presets WHERE user_id = ? AND key = ?').run(userId, oldKey).changes !== 1) return false;
        return this.insertSync(userId, p);
      })
      .immediate();
  }

  async delete(userId: string, key: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM presets WHERE user_id = ? AND key = ?').run(userId, key).changes === 1;
  }
}

class SqliteGenericData implements GenericDataStore {
  constructor(private readonly db: DB) {}

  async get(userId: string, dataname: string, name: string): Promise<string | null> {
    const r = this.db.prepare('SELECT data FROM generic_data WHERE user_id = ? AND dataname = ? AND name = ?').get(userId, dataname, name) as Row | undefined;
    return r ? String(r.data) : null;
  }

  async set(userId: string, dataname: string, name: string, data: string): Promise<void> {
    this.db
      .prepare('INSERT INTO generic_data (user_id, dataname, name, data) VALUES (?, ?, ?, ?) ON CONFLICT (user_id, dataname, name) DO UPDATE SET data = excluded.data')
      .run(userId, dataname, name, data);
  }

  async delete(userId: string, dataname: string, name: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM generic_data WHERE user_id = ? AND dataname = ? AND name = ?').run(userId, dataname, name).changes === 1;
  }
}

class SqliteRoles implements RoleStore {
  constructor(private readonly db: DB) {}

  async list(): Promise<RoleRecord[]> {
    return (this.db.prepare('SELECT data FROM roles ORDER BY rowid').all() as Row[]).map((r) => parseJson<RoleRecord>(r.data, null as never));
  }

  async put(role: RoleRecord): Promise<void> {
    this.db.prepare('INSERT INTO roles (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data').run(role.id, json(role));
  }

  async delete(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM roles WHERE id = ?').run(id).changes === 1;
  }
}

class SqliteKeyValue implements KeyValueStore {
  constructor(
    private readonly db: DB,
    private readonly table: 'server_settings' | 'server_meta',
  ) {}

  async all(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const r of this.db.prepare(`SELECT key, value FROM ${this.table} ORDER BY key`).all() as Row[]) out[String(r.key)] = parseJson<unknown>(r.value, null);
    return out;
  }

  async get(key: string): Promise<unknown> {
    const r = this.db.prepare(`SELECT value FROM ${this.table} WHERE key = ?`).get(key) as Row | undefined;
    return r ? parseJson<unknown>(r.value, null) : undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.db.prepare(`DELETE FROM ${this.table} WHERE key = ?`).run(key);
    else this.db.prepare(`INSERT INTO ${this.table} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, json(value));
  }
}

class SqliteLeases implements LeaseStore {
  constructor(private readonly db: DB) {}

  async acquire(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const now = nowSeconds();
    const res = this.db
      .prepare(
        `INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE json_extract(server_meta.value, '$.owner') = ? OR json_extract(server_meta.value, '$.expires') < ?`,
      )
      .run(`lease:${name}`, json({ owner, expires: now + ttlSeconds }), owner, now);
    return res.changes === 1;
  }

  async release(name: string, owner: string): Promise<void> {
    this.db.prepare("DELETE FROM server_meta WHERE key = ? AND json_extract(value, '$.owner') = ?").run(`lease:${name}`, owner);
  }
}
