// Static files from the project's web/ folder. Paths are resolved inside that folder or not served at all.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '../core.js';

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
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (decoded.includes('\0')) return false;
  const file = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`);
  if (!file.startsWith(root + path.sep)) return false;
  let info;
  try {
    info = await stat(file);
  } catch {
    return false;
  }
  if (!info.isFile()) return false;
  res.statusCode = 200;
  res.setHeader('Content-Type', TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
  res.setHeader('Content-Length', info.size);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.method === 'HEAD') {
    res.end();
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

const EXTENSION_FILE = /^\/ExtensionFile\/([^/]+)(\/.*)$/;

/** `/ExtensionFile/<extension name>/<path>`: files from the folder that extension registered. */
export function serveExtensionFile(folders: ReadonlyMap<string, string>, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  const m = EXTENSION_FILE.exec(pathname);
  const folder = m ? folders.get(m[1]!) : undefined;
  return folder ? serveStatic(req, res, m![2]!, folder) : Promise.resolve(false);
}
