// Versioned schema changes for the SQLite store. Append only: a released migration is never edited.
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** The same statements in both engines: sessions and tokens remember the impersonator, so they end with the right. */
export const IMPERSONATION_SQL = `
  ALTER TABLE sessions ADD COLUMN impersonated_by TEXT;
  ALTER TABLE login_tokens ADD COLUMN impersonated_by TEXT;
  CREATE INDEX sessions_by_impersonator ON sessions(impersonated_by);
  CREATE INDEX login_tokens_by_impersonator ON login_tokens(impersonated_by);
`;

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, sessions, login tokens, presets, generic data, roles, settings',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL DEFAULT '',
        password_set_by_admin INTEGER NOT NULL DEFAULT 1,
        roles TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        param_edits TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        origin_address TEXT NOT NULL,
        origin_token TEXT,
        created_at INTEGER NOT NULL,
        last_active INTEGER NOT NULL
      );
      CREATE INDEX sessions_by_user ON sessions(user_id);
      CREATE INDEX sessions_by_token ON sessions(origin_token);
      CREATE INDEX sessions_by_last_active ON sessions(last_active);
      CREATE TABLE login_tokens (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        validation_hash TEXT NOT NULL,
        origin_address TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_active INTEGER NOT NULL
      );
      CREATE INDEX login_tokens_by_user ON login_tokens(user_id);
      CREATE TABLE presets (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT NOT NULL,
        description TEXT NOT NULL,
        preview_image TEXT NOT NULL,
        is_starred INTEGER NOT NULL,
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
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL
      );
      CREATE TABLE server_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE server_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'cluster events shared by every process on the database',
    sql: `
      CREATE TABLE cluster_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    description: 'who opened a session or login token by impersonation',
    sql: IMPERSONATION_SQL,
  },
];
