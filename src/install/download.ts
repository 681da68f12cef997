// Verified, resumable file downloads. Bytes go to `<target>.part`; an interrupted transfer continues from the
// part's length with an HTTP Range request; the finished file must match the expected SHA-256 (and size, when
// known) before it is renamed into place, so a file at `target` is always complete and verified.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';

export interface DownloadRequest {
  url: string;
  target: string;
  sha256: string;
  /** Expected size in bytes, or null when unknown. */
  size: number | null;
  signal: AbortSignal;
  /** Called at most every `progressMs` and once at the end of each transfer. */
  onProgress?(done: number, total: number, perSecond: number): void | Promise<void>;
  /** Transfers tried before giving up (each one resumes where the last stopped). Default 3. */
  attempts?: number;
  /** Wait before a retry, in ms, multiplied by the attempt number. Default 1000. */
  retryDelayMs?: number;
  progressMs?: number;
}

export type DownloadOutcome =
  | { result: 'present'; bytes: number }
  | { result: 'downloaded'; bytes: number; resumedFrom: number; transfers: number };

/** A download that cannot succeed; `kind` says whether the network or the bytes were at fault. */
export class DownloadError extends Error {
  constructor(
    readonly kind: 'http' | 'io' | 'verify',
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    const s = await stat(file);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

async function hashFile(file: string, hash: Hash, signal: AbortSignal): Promise<void> {
  const stream = createReadStream(file, { signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

export async function sha256OfFile(file: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(file, hash, signal);
  return hash.digest('hex');
}

/** `bytes=<start>-` ranges answered as `bytes <start>-<end>/<total>`; returns start and total (total may be null). */
function parseContentRange(header: string | null): { start: number; total: number | null } | null {
  const m = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!m) return null;
  return { start: Number(m[1]), total: m[3] === '*' ? null : Number(m[3]) };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

function describe(err: unknown): string {
  const e = err as Error & { cause?: Error & { code?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}

export async function download(req: DownloadRequest): Promise<DownloadOutcome> {
  const { target, signal } = req;
  const expected = req.sha256.toLowerCase();
  const attempts = req.attempts ?? 3;
  const part = `${target}.part`;
  await mkdir(path.dirname(target), { recursive: true });

  const existing = await sizeOf(target);
  if (existing !== null && (req.size === null || existing === req.size) && (await sha256OfFile(target, signal)) === expected) {
    return { result: 'present', bytes: existing };
  }

  let resumedFrom = -1;
  let lastError: DownloadError | null = null;
  for (let transfer = 1; transfer <= attempts; transfer++) {
    signal.throwIfAborted();
    if (transfer > 1) await sleep((req.retryDelayMs ?? 1000) * (transfer - 1), signal);
    let offset = (await sizeOf(part)) ?? 0;
    if (req.size !== null && offset > req.size) {
      await truncate(part, 0);
      offset = 0;
    }
    let res: Response;
    try {
      res = await fetch(req.url, { headers: offset > 0 ? { Range: `bytes=${offset}-` } : {}, signal, redirect: 'follow' });
    } catch (err) {
      signal.throwIfAborted();
      lastError = new DownloadError('io', `the connection failed: ${describe(err)}`);
      continue;
    }
    if (res.status === 416 && offset > 0) {
      // The part may already hold every byte (a crash after the last write); the hash decides.
      await res.body?.cancel();
      if ((req.size === null || offset === req.size) && (await sha256OfFile(part, signal)) === expected) {
        await rename(part, target);
        return { result: 'downloaded', bytes: offset, resumedFrom: offset, transfers: transfer };
      }
      await rm(part, { force: true });
      lastError = new DownloadError('verify', 'the partial file did not match; starting over');
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      const error = new DownloadError('http', `the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw error;
      lastError = error;
      continue;
    }
    let start = 0;
    let total: number | null;
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== offset) {
        await res.body?.cancel();
        await rm(part, { force: true });
        lastError = new DownloadError('http', 'the server sent a different part of the file than asked for');
        continue;
      }
      start = offset;
      total = range.total;
    } else {
      const length = res.headers.get('content-length');
      total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
    }
    total ??= req.size;
    if (req.size !== null && total !== null && total !== req.size) {
      await res.body?.cancel();
      throw new DownloadError('verify', `the server offers ${total} bytes but ${req.size} were expected`);
    }
    if (resumedFrom < 0) resumedFrom = start;

    const hash = createHash('sha256');
    if (start > 0) await hashFile(part, hash, signal);
    const file = await open(part, start > 0 ? 'a' : 'w');
    let done = start;
    let windowStart = Date.now();
    let windowBytes = 0;
    let lastReport = 0;
    let perSecond = 0;
    const report = async (force: boolean): Promise<void> => {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        perSecond = Math.round((windowBytes * 1000) / (now - windowStart));
        windowStart = now;
        windowBytes = 0;
      }
      if (!force && now - lastReport < (req.progressMs ?? 250)) return;
      lastReport = now;
      await req.onProgress?.(done, total ?? 0, perSecond);
    };
    try {
      if (!res.body) throw new TypeError('the answer had no body');
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        await file.write(chunk);
        done += chunk.length;
        windowBytes += chunk.length;
        if (req.size !== null && done > req.size) throw new DownloadError('verify', `the server sent more than the expected ${req.size} bytes`);
        await report(false);
      }
    } catch (err) {
      await file.close();
      signal.throwIfAborted();
      if (err instanceof DownloadError) {
        await rm(part, { force: true });
        throw err;
      }
      lastError = new DownloadError('io', `the transfer stopped after ${done} bytes: ${describe(err)}`);
      continue;
    }
    await file.close();
    await report(true);
    if (total !== null && done < total) {
      lastError = new DownloadError('io', `the transfer ended after ${done} of ${total} bytes`);
      continue;
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      await rm(part, { force: true });
      throw new DownloadError('verify', `the file's SHA-256 is ${actual}, not the expected ${expected}`);
    }
    await rename(part, target);
    return { result: 'downloaded', bytes: done, resumedFrom, transfers: transfer };
  }
  throw lastError ?? new DownloadError('io', 'the download failed');
}
