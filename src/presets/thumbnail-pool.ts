// Runs preview thumbnails in worker processes, fairly between users: each user has one job running at most and a
// short queue, users take turns, and a job that overruns its time or memory ends its worker. See docs/ARCHITECTURE.md.
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { RefusalReason, ThumbnailResult } from './thumbnail.js';
import type { ThumbnailJob, ThumbnailReply } from './thumbnail-worker.js';

/** busy: the user already has their share queued; server-busy: every user's queues together are full; over-limits: the job overran. */
export type PoolRefusal = 'busy' | 'server-busy' | 'over-limits';
export type PoolResult = { ok: true; jpeg: Uint8Array } | { ok: false; reason: RefusalReason | PoolRefusal };

export interface ThumbnailPoolOptions {
  /** Jobs run at once, each in its own worker process. */
  workers: number;
  /** Jobs one user may have running or waiting; more are refused as busy. */
  perUserJobs: number;
  /** Jobs waiting across all users; more are refused as server-busy. */
  maxWaiting: number;
  /** A job running longer than this ends its worker and is refused as over-limits. */
  jobTimeoutMs: number;
  /** JavaScript heap of a worker process, in MiB; running out ends the worker and the job is over-limits. */
  heapMb: number;
  /** A worker that decoded more pixels than this is ended afterwards, so its memory goes back to the system. */
  recycleAbovePixels: number;
  /** An idle worker is ended after this long. */
  idleMs: number;
}

export const DEFAULT_POOL_OPTIONS: ThumbnailPoolOptions = {
  // One core stays with the event loop; the fairness rules, not the worker count, keep users from waiting on each other.
  workers: Math.max(1, Math.min(4, availableParallelism() - 1)),
  perUserJobs: 4,
  maxWaiting: 32,
  // A 24 MP decode takes 7-9 s of CPU on a 2-core test machine; the bound allows for a busy machine.
  jobTimeoutMs: 60_000,
  // A 24 MP 4:4:4 decode runs out of heap at 160 MB and fits in 256 MB.
  heapMb: 384,
  // A worker keeps about 50 bytes per pixel it decoded: over 4 MP, that is worth a new process (~50 ms built).
  recycleAbovePixels: 4_000_000,
  idleMs: 10_000,
};

export interface PoolJob {
  /** Whose job it is: jobs of one owner run one at a time and owners take turns. */
  owner: string;
  source: Uint8Array;
  metadata: string | null;
  /** Pixels the source's header claims (it was checked before queueing). */
  pixels: number;
  log?: Logger;
}

interface Queued extends PoolJob {
  resolve: (result: PoolResult) => void;
  queuedAt: number;
  sequence: number;
}

interface Slot {
  worker: ChildProcess | null;
  job: Queued | null;
  startedAt: number;
  deadline: NodeJS.Timeout | undefined;
  idle: NodeJS.Timeout | undefined;
}

export class ThumbnailPool {
  /** Waiting jobs per owner, oldest first. */
  private readonly waiting = new Map<string, Queued[]>();
  /** When each owner with jobs last had one started (a job sequence number): the least recently served goes next. */
  private readonly lastStarted = new Map<string, number>();
  private readonly running = new Set<string>();
  private readonly slots: Slot[];
  private waitingCount = 0;
  private sequence = 0;

  constructor(private readonly options: ThumbnailPoolOptions = DEFAULT_POOL_OPTIONS) {
    this.slots = Array.from({ length: Math.max(1, options.workers) }, () => ({ worker: null, job: null, startedAt: 0, deadline: undefined, idle: undefined }));
  }

  make(job: PoolJob): Promise<PoolResult> {
    const queue = this.waiting.get(job.owner) ?? [];
    if (queue.length + (this.running.has(job.owner) ? 1 : 0) >= this.options.perUserJobs) return Promise.resolve({ ok: false, reason: 'busy' });
    if (this.waitingCount >= this.options.maxWaiting) return Promise.resolve({ ok: false, reason: 'server-busy' });
    return new Promise((resolve) => {
      queue.push({ ...job, resolve, queuedAt: Date.now(), sequence: ++this.sequence });
      this.waiting.set(job.owner, queue);
      this.waitingCount++;
      job.log?.debug({ owner: job.owner, pixels: job.pixels, waiting: queue.length }, 'preview thumbnail queued');
      this.dispatch();
    });
  }

  /** Process ids of the live workers. */
  workerPids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.pid === undefined ? [] : [s.worker.pid]));
  }

  /** Ends every worker; running and waiting jobs are refused as over-limits. */
  close(): void {
    for (const queue of this.waiting.values()) for (const job of queue) job.resolve({ ok: false, reason: 'over-limits' });
    this.waiting.clear();
    this.lastStarted.clear();
    this.waitingCount = 0;
    for (const slot of this.slots) {
      if (slot.job) this.finish(slot, { ok: false, reason: 'over-limits' }, true);
      this.retire(slot);
    }
  }

  /**
   * The next job by turns: among owners with nothing running, the one served least recently (never served first,
   * then by who has waited longest), so no owner gets a second job started while another owner's first one waits.
   */
  private next(): Queued | null {
    let chosen: string | null = null;
    let best: [number, number] = [Infinity, Infinity];
    for (const [owner, queue] of this.waiting) {
      if (this.running.has(owner)) continue;
      const rank: [number, number] = [this.lastStarted.get(owner) ?? 0, queue[0]!.sequence];
      if (rank[0] < best[0] || (rank[0] === best[0] && rank[1] < best[1])) [chosen, best] = [owner, rank];
    }
    if (chosen === null) return null;
    const queue = this.waiting.get(chosen)!;
    const job = queue.shift()!;
    if (queue.length === 0) this.waiting.delete(chosen);
    this.waitingCount--;
    this.lastStarted.set(chosen, ++this.sequence);
    return job;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const job = this.next();
      if (!job) return;
      this.run(slot, job);
    }
  }

  private run(slot: Slot, job: Queued): void {
    clearTimeout(slot.idle);
    this.running.add(job.owner);
    slot.job = job;
    slot.startedAt = Date.now();
    const worker = slot.worker ?? this.spawn(slot);
    worker.ref();
    worker.channel?.ref();
    slot.deadline = setTimeout(() => {
      job.log?.info({ owner: job.owner, pixels: job.pixels, limitMs: this.options.jobTimeoutMs }, 'preview thumbnail overran its time; its worker was ended');
      this.finish(slot, { ok: false, reason: 'over-limits' }, true);
    }, this.options.jobTimeoutMs);
    job.log?.debug({ owner: job.owner, pixels: job.pixels, waitedMs: slot.startedAt - job.queuedAt }, 'preview thumbnail started');
    const message: ThumbnailJob = { source: job.source, metadata: job.metadata };
    worker.send(message, (err) => {
      if (err && slot.worker === worker && slot.job === job) this.finish(slot, { ok: false, reason: 'over-limits' }, true);
    });
  }

  private spawn(slot: Slot): ChildProcess {
    const heap = [`--max-old-space-size=${this.options.heapMb}`, '--max-semi-space-size=16'];
    const entry = workerEntry();
    const worker = fork(entry.file, [], { execArgv: [...entry.execArgv, ...heap], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    worker.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    worker.on('message', (reply: ThumbnailReply) => {
      const job = slot.job;
      if (slot.worker !== worker || !job) return;
      job.log?.debug({ owner: job.owner, pixels: job.pixels, ms: Date.now() - slot.startedAt, cpuMs: reply.cpuMs, result: reply.result.ok ? 'ok' : reply.result.reason }, 'preview thumbnail done');
      this.finish(slot, reply.result, job.pixels > this.options.recycleAbovePixels);
    });
    const lost = (code: number | null, signal: string | null): void => {
      if (slot.worker !== worker) return;
      slot.worker = null;
      const job = slot.job;
      job?.log?.warn({ owner: job.owner, pixels: job.pixels, code, signal, stderr: stderr.trim().slice(-500) }, 'preview thumbnail worker ended during a job');
      if (job) this.finish(slot, { ok: false, reason: 'over-limits' }, false);
    };
    worker.on('exit', lost);
    worker.on('error', () => {
      lost(null, null);
      worker.kill('SIGKILL');
    });
    slot.worker = worker;
    return worker;
  }

  private finish(slot: Slot, result: ThumbnailResult | PoolResult, endWorker: boolean): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    clearTimeout(slot.deadline);
    this.running.delete(job.owner);
    if (!this.waiting.has(job.owner)) this.lastStarted.delete(job.owner);
    if (endWorker) this.retire(slot);
    else if (slot.worker) {
      slot.worker.unref();
      slot.worker.channel?.unref();
      slot.idle = setTimeout(() => this.retire(slot), this.options.idleMs).unref();
    }
    job.resolve(result);
    this.dispatch();
  }

  private retire(slot: Slot): void {
    clearTimeout(slot.idle);
    const worker = slot.worker;
    slot.worker = null;
    worker?.kill('SIGKILL');
  }
}

/** The worker beside this file: the built .js, or under tsx (tests, development) the .ts with tsx loaded. */
function workerEntry(): { file: string; execArgv: string[] } {
  if (!import.meta.url.endsWith('.ts')) return { file: fileURLToPath(new URL('./thumbnail-worker.js', import.meta.url)), execArgv: [] };
  return { file: fileURLToPath(new URL('./thumbnail-worker.ts', import.meta.url)), execArgv: ['--import', import.meta.resolve('tsx')] };
}
