// Data files are the owner's alone: they hold password hashes, session keys and sealed API keys.
import { chmodSync, existsSync } from 'node:fs';

export const OWNER_ONLY = 0o600;

/** Makes existing files owner-only (files from earlier versions were created 0644). */
export function restrictFiles(files: readonly string[]): void {
  for (const file of files) if (existsSync(file)) chmodSync(file, OWNER_ONLY);
}
