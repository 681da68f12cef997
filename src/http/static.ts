// Static files from the project's web/ folder. Paths are resolved inside that folder or not served at all.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '../util/project.js';
import { canonicalPath } from './request-path.js';

export const WEB_ROOT = path.join(PROJECT_ROOT, 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serves `pathname` from `root` (web/ by default) when such a file exists; false otherwise. */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string, root: string = WEB_ROOT): Promise<boolean> {
  const canonical = canonicalPath(pathname);
  if (canonical === null) return false;
  const file = path.resolve(root, `.${canonical}`);
  if (!file.startsWith(root + path.sep)) return false;
  const entry = await cachedFile(file);
  if (!entry) return false;
  res.setHeader('Content-Type', TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('ETag', entry.etag);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.headers['if-none-match'] === entry.etag) {
    res.statusCode = 304;
    res.end();
    return true;
  }
  res.statusCode = 200;
  res.setHeader('Content-Length', entry.size);
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  if (entry.body) {
    res.end(entry.body);
    return true;
  }
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    stream.on('end', resolve);
    stream.pipe(res);
  });
  return true;
}

export interface FileEntry {
  size: number;
  etag: string;
  /** The content, for files small enough to keep in memory. */
  body: Buffer | null;
  mtimeMs: number;
  checkedAt: number;
}

/** Files up to this size are served from memory. */
const MEMORY_MAX_BYTES = 256 * 1024;
/** How long a file is trusted unchanged before it is looked at again. */
const RECHECK_MS = 1000;
const files = new Map<string, FileEntry>();

/** The file's size, validator and (small files) content; null when there is no such file. Re-checked at most every second. */
export async function cachedFile(file: string): Promise<FileEntry | null> {
  const now = Date.now();
  const known = files.get(file);
  if (known && now - known.checkedAt < RECHECK_MS) return known;
  let info;
  try {
    info = await stat(file);
  } catch {
    files.delete(file);
    return null;
  }
  if (!info.isFile()) return null;
  if (known && known.mtimeMs === info.mtimeMs && known.size === info.size) {
    known.checkedAt = now;
    return known;
  }
  let body: Buffer | null = null;
  if (info.size <= MEMORY_MAX_BYTES) {
    try {
      body = await readFile(file);
    } catch {
      return null;
    }
  }
  const entry = { size: body?.length ?? info.size, etag: `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`, body, mtimeMs: info.mtimeMs, checkedAt: now };
  if (body) files.set(file, entry);
  return entry;
}

const EXTENSION_FILE = /^\/ExtensionFile\/([^/]+)(\/.*)$/;

/** `/ExtensionFile/<extension name>/<path>`: files from the folder that extension registered. */
export function serveExtensionFile(folders: ReadonlyMap<string, string>, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  const m = EXTENSION_FILE.exec(pathname);
  const folder = m ? folders.get(m[1]!) : undefined;
  return folder ? serveStatic(req, res, m![2]!, folder) : Promise.resolve(false);
}
