// Versioned schema changes for both engines, from one source. Shared SQL is written once with type words that
// each engine spells its own way ({bool}, {int64}, {serial}); only what really differs per engine (the event
// table, the rate-limit table) is given per engine. Append only: a released migration is never edited, and its
// text per engine must stay exactly what earlier releases ran (test/store.test.ts compares the final schemas).
export type Engine = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  description: string;
  /** Shared SQL with type words, or the SQL per engine ('' = nothing to do on that engine). */
  sql: string | Record<Engine, string>;
}

const TYPE_WORDS: Record<Engine, Record<string, string>> = {
  sqlite: { bool: 'INTEGER', int64: 'INTEGER', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', true: '1', false: '0' },
  postgres: { bool: 'BOOLEAN', int64: 'BIGINT', serial: 'BIGSERIAL PRIMARY KEY', true: 'TRUE', false: 'FALSE' },
};

/** The SQL a migration runs on one engine. */
export function migrationSql(m: Migration, engine: Engine): string {
  const text = typeof m.sql === 'string' ? m.sql : m.sql[engine];
  return text.replace(/\{(\w+)\}/g, (word, name: string) => TYPE_WORDS[engine][name] ?? word);
}

/** SQL function name a migration may call to turn a stored raw session id into its session key. */
export const SESSION_KEY_SQL: Record<Engine, (column: string) => string> = {
  // Registered on the connection by the SQLite store before it migrates (see sessionKey in session-key.ts).
  sqlite: (column) => `swarmcore_session_key(${column})`,
  postgres: (column) => `encode(sha256(convert_to(${column}, 'UTF8')), 'hex')`,
};

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, sessions, login tokens, presets, generic data, roles, settings',
    sql: {
      sqlite: shared1('', ''),
      postgres: shared1(
        'seq BIGSERIAL,\n',
        `
      CREATE TABLE rate_limits (
        key TEXT PRIMARY KEY,
        window_start BIGINT NOT NULL,
        count INTEGER NOT NULL
      );`,
      ),
    },
  },
  {
    version: 2,
    description: 'cluster events shared by every process on the database',
    sql: {
      // PostgreSQL carries events over LISTEN/NOTIFY instead.
      sqlite: `
      CREATE TABLE cluster_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
      postgres: '',
    },
  },
  {
    version: 3,
    description: 'roles keep their creation order in a seq column on SQLite too (PostgreSQL has it since 1)',
    sql: {
      sqlite: `
      CREATE TABLE roles_new (
        seq INTEGER NOT NULL DEFAULT 0,
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL
      );
      INSERT INTO roles_new (seq, id, data) SELECT rowid, id, data FROM roles ORDER BY rowid;
      DROP TABLE roles;
      ALTER TABLE roles_new RENAME TO roles;
    `,
      postgres: '',
    },
  },
  {
    version: 4,
    description: 'sessions are stored by session key (SHA-256 of the id), never by the raw id',
    sql: {
      sqlite: `UPDATE sessions SET id = ${SESSION_KEY_SQL.sqlite('id')};`,
      postgres: `UPDATE sessions SET id = ${SESSION_KEY_SQL.postgres('id')};`,
    },
  },
  {
    version: 5,
    description: 'who opened a session or login token by impersonation',
    sql: `
      ALTER TABLE sessions ADD COLUMN impersonated_by TEXT;
      ALTER TABLE login_tokens ADD COLUMN impersonated_by TEXT;
      CREATE INDEX sessions_by_impersonator ON sessions(impersonated_by);
      CREATE INDEX login_tokens_by_impersonator ON login_tokens(impersonated_by);
    `,
  },
  {
    version: 6,
    description: 'presets say whether they hold an embedded preview image, so lists can skip the image itself',
    sql: `
      ALTER TABLE presets ADD COLUMN has_image {bool} NOT NULL DEFAULT {false};
      UPDATE presets SET has_image = (preview_image LIKE 'data:%');
    `,
  },
  {
    version: 7,
    description: 'the audit log: administrative actions and login results (never a secret)',
    sql: `
      CREATE TABLE audit_log (
        seq {serial},
        at {int64} NOT NULL,
        user_id TEXT,
        attempted_name TEXT,
        address TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT NOT NULL
      );
      CREATE INDEX audit_log_by_at ON audit_log(at);
      CREATE INDEX audit_log_by_user ON audit_log(user_id);
    `,
  },
  {
    version: 8,
    description: 'OpenID Connect sign-in: the provider e-mail linked to each account, and pending sign-ins any instance can finish',
    sql: `
      CREATE TABLE oauth_links (
        email TEXT PRIMARY KEY,
        user_id TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        linked_at {int64} NOT NULL
      );
      CREATE TABLE oauth_pending (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at {int64} NOT NULL
      );
      CREATE INDEX oauth_pending_by_expiry ON oauth_pending(expires_at);
    `,
  },
  {
    version: 9,
    description: 'sessions index login tokens and impersonators only where there is one',
    // Most sessions have no login token (accounts off) and no impersonator: partial indexes skip them, so a new
    // session updates two secondary indexes instead of four. sessions_by_last_active stays: without it the sweep
    // that runs at every start scans the whole table (bench/README.md measured 3.5 s with 1,000,000 sessions on
    // PostgreSQL against 0.65 s with it).
    sql: `
      DROP INDEX sessions_by_token;
      CREATE INDEX sessions_by_token ON sessions(origin_token) WHERE origin_token IS NOT NULL;
      DROP INDEX sessions_by_impersonator;
      CREATE INDEX sessions_by_impersonator ON sessions(impersonated_by) WHERE impersonated_by IS NOT NULL;
    `,
  },
];

/** The schema version this release writes: the last migration's. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** A database a newer release has migrated past what this one knows: opening it could damage it. */
export class SchemaTooNewError extends Error {}

/**
 * Refuses a database that records migrations this release does not have (a newer release wrote it, or a backup
 * from one was restored): it runs nothing on it, so the newer release can still open it unchanged.
 */
export function checkSchemaVersion(applied: Iterable<number>): void {
  const newest = Math.max(0, ...applied);
  if (newest > SCHEMA_VERSION) {
    throw new SchemaTooNewError(
      `The database has schema version ${newest}, newer than this swarmcore release knows (${SCHEMA_VERSION}): it was written by a newer release. Run that release, or restore a backup made by this one.`,
    );
  }
}

/** Version 1 as both engines ran it; `rolesSeq` and `extra` are the PostgreSQL-only parts it had. */
function shared1(rolesSeq: string, extra: string): string {
  return `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL DEFAULT '',
        password_set_by_admin {bool} NOT NULL DEFAULT {true},
        roles TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        param_edits TEXT NOT NULL DEFAULT '',
        created_at {int64} NOT NULL
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        origin_address TEXT NOT NULL,
        origin_token TEXT,
        created_at {int64} NOT NULL,
        last_active {int64} NOT NULL
      );
      CREATE INDEX sessions_by_user ON sessions(user_id);
      CREATE INDEX sessions_by_token ON sessions(origin_token);
      CREATE INDEX sessions_by_last_active ON sessions(last_active);
      CREATE TABLE login_tokens (
        seq {serial},
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        validation_hash TEXT NOT NULL,
        origin_address TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        created_at {int64} NOT NULL,
        last_active {int64} NOT NULL
      );
      CREATE INDEX login_tokens_by_user ON login_tokens(user_id);
      CREATE TABLE presets (
        seq {serial},
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT NOT NULL,
        description TEXT NOT NULL,
        preview_image TEXT NOT NULL,
        is_starred {bool} NOT NULL,
        param_map TEXT NOT NULL,
        UNIQUE (user_id, key)
      );
      CREATE TABLE generic_data (
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        dataname TEXT NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (user_id, dataname, name)
      );
      CREATE TABLE roles (
        ${rolesSeq}id TEXT PRIMARY KEY,
        data TEXT NOT NULL
      );
      CREATE TABLE server_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE server_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );${extra}
    `;
}
