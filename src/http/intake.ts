// Reading an API request's body under the front door's bounds (src/http/limits.ts). The bound, in one sentence:
// until a request's session is known to be valid, the server holds at most 64 KiB of its body in memory (and at
// most PRE_SESSION_TOTAL_BYTES for all such requests), the rest only in a private spill file under a total spill
// budget; a large body reaches memory only for a valid session, under a total in-flight budget, and is then
// parsed a bounded slice per event-loop turn.
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { Core } from '../core.js';
import { resolveSession } from '../api/envelope.js';
import { DatabaseTimeoutError } from '../store/errors.js';
import { ApiError, apiError } from '../api/errors.js';
import type { RequestInfo } from '../api/route.js';
import {
  BODY_GRACE_MS,
  BODY_IDLE_MS,
  BODY_MIN_BYTES_PER_SECOND,
  PRE_SESSION_MEMORY_BYTES,
  PRE_SESSION_TOTAL_BYTES,
  REFUSED_BODY_LINGER_MS,
  inFlightBudgetBytes,
  spillBudgetBytes,
} from './limits.js';
import { SessionIdScanner, type ScanVerdict } from './session-scanner.js';

/** The client went away mid-body: nothing to answer, and not a server fault. */
export class ClientGone extends Error {
  constructor(why: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // a client's doing: no stack worth logging
    super(why);
    Error.stackTraceLimit = limit;
    this.name = 'ClientGone';
  }
}

/** A shared byte budget: reservations succeed while the total stays within the limit (read at each reservation). */
export class ByteBudget {
  private used = 0;
  constructor(readonly limit: () => number) {}
  take(n: number): boolean {
    if (this.used + n > this.limit()) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
  get inUse(): number {
    return this.used;
  }
}

const busy = (): ApiError => apiError('server_busy');
const shortBody = (): ApiError => apiError('basic_api', 'bad content length');
const tooSlow = (): ApiError => apiError('basic_api', 'The request body arrived too slowly.');

/** Bytes a request holds against the budgets; released once its call is answered. */
export class Holding {
  /** Most requests hold once (their small body): that hold needs no list. */
  private first: ByteBudget | null = null;
  private firstBytes = 0;
  private more: [ByteBudget, number][] | null = null;
  hold(budget: ByteBudget, n: number): void {
    if (!budget.take(n)) throw busy();
    if (this.first === null) {
      this.first = budget;
      this.firstBytes = n;
    } else (this.more ??= []).push([budget, n]);
  }
  release(): void {
    const first = this.first;
    const more = this.more;
    this.first = null;
    this.more = null;
    first?.give(this.firstBytes);
    if (more) for (const [budget, n] of more) budget.give(n);
  }
}

/** Pulls a body chunk by chunk, refusing a body that stalls, drips or ends short (a half-close). */
class BodyPull {
  private readonly queue: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private readonly timer: NodeJS.Timeout;
  private waitingSince = 0;
  private waitedMs = 0;
  received = 0;
  private readonly onData = (chunk: Buffer): void => {
    this.queue.push(chunk);
    this.req.pause();
    this.wake?.();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake?.();
  };
  private readonly onGone = (): void => {
    if (!this.ended) this.fail(new ClientGone('the client closed the connection mid-body'));
  };

  constructor(
    private readonly req: IncomingMessage,
    private readonly intake: Intake,
  ) {
    req.pause();
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onGone);
    req.on('close', this.onGone);
    intake.pending.set(req.socket, () => this.fail(shortBody()));
    this.timer = setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake?.();
  }

  private check(): void {
    if (this.waitingSince === 0) return; // the server, not the client, is busy: that time does not count
    const now = Date.now();
    const waited = this.waitedMs + (now - this.waitingSince);
    if (now - this.waitingSince > BODY_IDLE_MS || (waited > BODY_GRACE_MS && (this.received * 1000) / waited < BODY_MIN_BYTES_PER_SECOND)) this.fail(tooSlow());
  }

  /** The next chunk, or null at the end of the body. */
  async next(): Promise<Buffer | null> {
    this.waitingSince = Date.now();
    try {
      while (this.queue.length === 0 && !this.ended && !this.failure) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.req.resume();
        });
        this.wake = null;
      }
      if (this.failure) throw this.failure;
      const chunk = this.queue.shift();
      if (chunk === undefined) return null;
      this.received += chunk.length;
      return chunk;
    } finally {
      this.waitedMs += Date.now() - this.waitingSince;
      this.waitingSince = 0;
    }
  }

  done(): void {
    clearInterval(this.timer);
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.req.off('error', this.onGone);
    this.req.off('close', this.onGone);
    this.intake.pending.delete(this.req.socket);
  }
}

/** A private file for the part of a body that arrives while its session is unknown. */
class Spill {
  private readonly out: WriteStream;
  private failure: Error | null = null;
  bytes = 0;
  constructor(readonly file: string) {
    this.out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    this.out.on('error', (err) => (this.failure = err));
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.bytes += chunk.length;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  /** Copies the spilled bytes into `target` at `offset`. */
  async readInto(target: Buffer, offset: number): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.failure) throw this.failure;
    const file = await open(this.file, 'r');
    try {
      for (let done = 0; done < this.bytes; ) {
        const { bytesRead } = await file.read(target, offset + done, Math.min(this.bytes - done, 1024 * 1024), done);
        if (bytesRead === 0) throw new Error('spill file ended early');
        done += bytesRead;
      }
    } finally {
      await file.close();
    }
  }

  async discard(): Promise<void> {
    this.out.destroy();
    await unlink(this.file).catch(() => undefined);
  }
}

function processIsGone(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The envelope's session rule, asked early: the one function to re-point when sessions move. */
export async function sessionIsValid(core: Core, id: string, request: RequestInfo): Promise<boolean> {
  try {
    await resolveSession(core.services, { session_id: id }, request);
    return true;
  } catch (err) {
    if (err instanceof ApiError) return false;
    // A database that did not answer is not a verdict on the session: the client hears why, as from the envelope.
    if (err instanceof DatabaseTimeoutError) throw apiError('internal_error', err.message);
    throw err;
  }
}

/** The bodies in flight on one server, with their budgets and spill folder. */
export class Intake {
  readonly preSession = new ByteBudget(() => PRE_SESSION_TOTAL_BYTES);
  /** Both follow Network.MaxNetworkRequestMegabytes as it is now. */
  readonly inFlight = new ByteBudget(() => inFlightBudgetBytes(this.maxRequestBytes()));
  readonly spill = new ByteBudget(() => spillBudgetBytes(this.maxRequestBytes()));
  /** Bodies being read, by socket: a half-close ends them at once (see `bodyEndedEarly`). */
  readonly pending = new Map<Socket, () => void>();
  private spillCount = 0;

  constructor(
    private readonly core: Core,
    readonly spillDir: string,
    private readonly maxRequestBytes: () => number,
  ) {}

  /**
   * This process's spill folder, `<data dir>/request-spill/<pid>`, only its owner may enter. Folders that
   * earlier runs left (their process is gone) are removed; those of other live instances sharing the data dir stay.
   */
  static async open(core: Core, maxRequestBytes: () => number): Promise<Intake> {
    const root = path.join(core.dataDir, 'request-spill');
    await mkdir(root, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(root)) {
      if (entry !== String(process.pid) && processIsGone(Number(entry))) await rm(path.join(root, entry), { recursive: true, force: true });
    }
    const dir = path.join(root, String(process.pid));
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    return new Intake(core, dir, maxRequestBytes);
  }

  async close(): Promise<void> {
    await rm(this.spillDir, { recursive: true, force: true });
  }

  /** The client half-closed its socket before the body was complete: answer that body at once. */
  bodyEndedEarly(socket: Socket): boolean {
    const end = this.pending.get(socket);
    if (!end) return false;
    end();
    return true;
  }

  /**
   * A body of at most PRE_SESSION_MEMORY_BYTES that node has already read in full, taken at once with no pull,
   * listeners or timer; else null (then `read`). The 'request' event comes before node's parser has handed over
   * the rest of the packet it is parsing, so call this at least one microtask after it: a small body that came
   * with its headers (nearly every API call) is then already buffered.
   */
  takeWhole(req: IncomingMessage, length: number, holding: Holding): Buffer | null {
    if (length > PRE_SESSION_MEMORY_BYTES) return null;
    const whole = takeComplete(req, length);
    if (whole !== null) holding.hold(this.preSession, length);
    return whole;
  }

  /**
   * Reads a body of `length` bytes (the declared Content-Length, already within the route's cap). Bodies up to
   * PRE_SESSION_MEMORY_BYTES are read whole; the envelope checks their session. Larger ones go through
   * `readLarge`. Bytes held are recorded in `holding`, to release after the call is answered.
   */
  async read(req: IncomingMessage, info: RequestInfo, length: number, holding: Holding): Promise<Buffer> {
    const pull = new BodyPull(req, this);
    try {
      if (length <= PRE_SESSION_MEMORY_BYTES) {
        holding.hold(this.preSession, length);
        const body = Buffer.allocUnsafe(length);
        await this.copyRest(pull, body, 0, length);
        return body;
      }
      return await this.readLarge(pull, info, length, holding);
    } finally {
      pull.done();
    }
  }

  private async copyRest(pull: BodyPull, body: Buffer, offset: number, length: number): Promise<void> {
    let at = offset;
    for (;;) {
      const chunk = await pull.next();
      if (chunk === null) break;
      if (at + chunk.length > length) throw shortBody(); // node frames by Content-Length; kept as a guard
      chunk.copy(body, at);
      at += chunk.length;
    }
    if (at !== length) throw shortBody();
  }

  private async readLarge(pull: BodyPull, info: RequestInfo, length: number, holding: Holding): Promise<Buffer> {
    const header = info.headers['x-session-id'];
    const headerId = Array.isArray(header) ? header[0] : header;
    // A valid X-Session-ID admits the body before a byte of it is read. The body's own session_id still decides
    // which session the call runs as (the envelope's rule); this only decides whether the bytes may be held.
    if (headerId !== undefined && headerId !== '' && (await sessionIsValid(this.core, headerId, info))) return this.admit(pull, length, holding, [], null);
    const scanner = new SessionIdScanner();
    const head: Buffer[] = [];
    let headBytes = 0;
    let spill: Spill | null = null;
    const spillHolding = new Holding();
    try {
      for (;;) {
        const chunk = await pull.next();
        if (chunk === null) throw apiError('internal_error', 'The request body is not a valid JSON object: it ends inside its top-level object.');
        const verdict = scanner.feed(chunk);
        // Once a chunk has gone to the spill file, every later one follows it there: a small chunk that would
        // still fit in memory must not jump ahead of the spilled bytes.
        if (spill === null && headBytes + chunk.length <= PRE_SESSION_MEMORY_BYTES) {
          holding.hold(this.preSession, chunk.length);
          head.push(chunk);
          headBytes += chunk.length;
        } else {
          spillHolding.hold(this.spill, chunk.length);
          spill ??= new Spill(path.join(this.spillDir, String(++this.spillCount)));
          await spill.write(chunk);
        }
        if (verdict) {
          await this.judge(verdict, headerId, info);
          return await this.admit(pull, length, holding, head, spill);
        }
      }
    } finally {
      spillHolding.release();
      await spill?.discard();
    }
  }

  /** Refuses the body unless the session the scanner found (or, without one in the body, the header's) is valid. */
  private async judge(verdict: ScanVerdict, headerId: string | undefined, info: RequestInfo): Promise<void> {
    switch (verdict.kind) {
      case 'id':
        if (verdict.id !== '' && (await sessionIsValid(this.core, verdict.id, info))) return;
        throw apiError('invalid_session_id');
      case 'not_a_session':
        throw apiError('invalid_session_id');
      case 'not_object':
        throw apiError('internal_error', 'The request body is not a valid JSON object: the top level is not an object.');
      case 'absent':
        // The header was already found invalid, or there is none: the envelope's answers for each.
        throw headerId === undefined ? apiError('basic_api', 'missing session id') : apiError('invalid_session_id');
    }
  }

  /** The session is valid: the whole body comes into memory under the in-flight budget. */
  private async admit(pull: BodyPull, length: number, holding: Holding, head: Buffer[], spill: Spill | null): Promise<Buffer> {
    holding.hold(this.inFlight, length);
    // Reserved at the declared length now that the session is valid; pages are touched only as bytes arrive.
    const body = Buffer.allocUnsafe(length);
    let at = 0;
    for (const chunk of head) {
      chunk.copy(body, at);
      at += chunk.length;
    }
    if (spill) {
      if (at + spill.bytes > length) throw shortBody();
      await spill.readInto(body, at);
      at += spill.bytes;
    }
    await this.copyRest(pull, body, at, length);
    return body;
  }
}

/**
 * The whole body when node has already read all of it, else null. Node frames a body by its Content-Length, so
 * `length` bytes buffered are all of it (the parser may mark the message complete only a moment later).
 */
function takeComplete(req: IncomingMessage, length: number): Buffer | null {
  if (req.readableLength !== length || req.readableFlowing === true) return null;
  const body = req.read() as Buffer | null;
  if (body === null || body.length !== length) throw shortBody(); // cannot happen: node frames by Content-Length
  return body;
}

/**
 * Answers a request whose body will not be used: the answer goes out at once, then the rest of the body is read
 * and discarded for at most REFUSED_BODY_LINGER_MS, so a client still sending gets to read the answer; a body
 * that ends in time leaves a keep-alive connection open for reuse.
 */
export function answerRefusedBody(req: IncomingMessage, res: ServerResponse, send: () => void): void {
  if (req.complete) return send();
  const socket = req.socket;
  let bodyDone = false;
  let answered = false;
  const linger = setTimeout(() => socket.destroy(), REFUSED_BODY_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  // When the client asked for Connection: close, node destroys the socket right after the answer; with body
  // bytes still arriving that is a reset, which can discard the answer before the client reads it. Half-close
  // instead, and close fully once the body has ended (or the linger ran out).
  socket.destroySoon = () => {
    answered = true;
    if (socket.writable) socket.end();
    if (bodyDone) socket.destroy();
  };
  req.once('end', () => {
    bodyDone = true;
    clearTimeout(linger);
    if (answered) socket.destroy();
  });
  res.once('finish', () => req.resume());
  send();
}
