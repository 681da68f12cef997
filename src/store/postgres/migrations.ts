// Versioned schema changes for the PostgreSQL store; the same tables as SQLite's, in PostgreSQL types.
// Append only: a released migration is never edited.
import { IMPERSONATION_SQL, type Migration } from '../sqlite/migrations.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, sessions, login tokens, presets, generic data, roles, settings',
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL DEFAULT '',
        password_set_by_admin BOOLEAN NOT NULL DEFAULT TRUE,
        roles TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        param_edits TEXT NOT NULL DEFAULT '',
        created_at BIGINT NOT NULL
      );
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        origin_address TEXT NOT NULL,
        origin_token TEXT,
        created_at BIGINT NOT NULL,
        last_active BIGINT NOT NULL
      );
      CREATE INDEX sessions_by_user ON sessions(user_id);
      CREATE INDEX sessions_by_token ON sessions(origin_token);
      CREATE INDEX sessions_by_last_active ON sessions(last_active);
      CREATE TABLE login_tokens (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        validation_hash TEXT NOT NULL,
        origin_address TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_active BIGINT NOT NULL
      );
      CREATE INDEX login_tokens_by_user ON login_tokens(user_id);
      CREATE TABLE presets (
        seq BIGSERIAL PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT NOT NULL,
        description TEXT NOT NULL,
        preview_image TEXT NOT NULL,
        is_starred BOOLEAN NOT NULL,
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
        seq BIGSERIAL,
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
      CREATE TABLE rate_limits (
        key TEXT PRIMARY KEY,
        window_start BIGINT NOT NULL,
        count INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'who opened a session or login token by impersonation',
    sql: IMPERSONATION_SQL,
  },
];
