// Opens the store the options ask for: PostgreSQL for a `postgres://` URL, else SQLite in the data dir.
import type { Logger } from 'pino';
import { openPostgresStore } from './postgres/index.js';
import { openSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export interface StoreOptions {
  /** SQLite's home, and where secret.key lives when SWARMCORE_SECRET_KEY is not set (for PostgreSQL too). */
  dataDir: string;
  databaseUrl?: string | undefined;
  /** Where the store reports background failures (lost connections, failed clean-ups). */
  log?: Logger | undefined;
}

export function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgresStore(options.databaseUrl, { dataDir: options.dataDir, log: options.log }) : openSqliteStore(options.dataDir);
}
