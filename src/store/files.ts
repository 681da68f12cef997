// Data files are the owner's alone: they hold password hashes, session keys and sealed API keys.
import { chmodSync, existsSync, statSync } from 'node:fs';

export const OWNER_ONLY = 0o600;
const OWNER_ONLY_DIR = 0o700;

/** Makes existing files owner-only (files from earlier versions were created 0644). */
export function restrictFiles(files: readonly string[]): void {
  for (const file of files) if (existsSync(file)) chmodSync(file, OWNER_ONLY);
}

/** Makes the data dir owner-only, when this process's user owns it (a directory someone else gave is left alone). */
export function restrictDataDir(dir: string): void {
  const { uid } = statSync(dir);
  if (process.getuid === undefined || uid === process.getuid()) chmodSync(dir, OWNER_ONLY_DIR);
}
