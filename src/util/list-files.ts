// Recursive file listing for the data-dir folders users pick files from (autocompletions, sounds).
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Files under `root` whose extension is listed, as sorted relative paths with `/`; [] when the folder is missing. */
export async function listFiles(root: string, extensions: readonly string[]): Promise<string[]> {
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
