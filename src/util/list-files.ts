// Recursive file listing for the data-dir folders users pick files from (autocompletions, sounds).
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** How long a listing is reused: a file copied into the folder shows up within this time. */
const LISTING_TTL_MS = 2000;
const listings = new Map<string, { at: number; files: Promise<readonly string[]> }>();

/**
 * Files under `root` whose extension is listed, as sorted relative paths with `/`; [] when the folder is missing.
 * Settings routes ask for the same folders on every call, and a recursive walk costs more than the rest of such a
 * call, so a listing is shared by the callers of the next two seconds (and by concurrent ones while it runs).
 */
export function listFiles(root: string, extensions: readonly string[]): Promise<readonly string[]> {
  const key = `${root}\0${extensions.join(',')}`;
  const now = performance.now();
  const cached = listings.get(key);
  if (cached && now - cached.at < LISTING_TTL_MS) return cached.files;
  if (listings.size > 64) listings.clear();
  const files = walk(root, extensions);
  listings.set(key, { at: now, files });
  return files;
}

async function walk(root: string, extensions: readonly string[]): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const ext = path.extname(e.name).toLowerCase().slice(1);
    if (!extensions.includes(ext)) continue;
    // Node 20 names the folder `parentPath` (older 20.x: `path`).
    const dir = (e as unknown as { parentPath?: string; path?: string }).parentPath ?? (e as unknown as { path: string }).path;
    out.push(path.relative(root, path.join(dir, e.name)).split(path.sep).join('/'));
  }
  return out.sort();
}
