// Per-session generation bookkeeping (docs/COMPATIBILITY.md#interrupts-and-generation-claims): the four counters
// GetCurrentStatus reports, changed only through claims, and the interrupt that cancels every claim alive at that
// moment.

export interface WorkCounts {
  waiting_gens: number;
  loading_models: number;
  waiting_backends: number;
  live_gens: number;
}

/** Amounts to add to (or take from) a claim; missing fields count as zero. */
export interface ClaimCounts {
  /** Generations requested and not finished yet. */
  gens?: number;
  /** Model loads in progress for this session. */
  modelLoads?: number;
  /** Requests waiting to get a backend. */
  backendWaits?: number;
  /** Generations running on a backend now. */
  liveGens?: number;
}

const FIELDS = [
  ['gens', 'waiting_gens'],
  ['modelLoads', 'loading_models'],
  ['backendWaits', 'waiting_backends'],
  ['liveGens', 'live_gens'],
] as const satisfies ReadonlyArray<readonly [keyof ClaimCounts, keyof WorkCounts]>;

/** Four zero counters: a session with no work. */
export const zeroCounts = (): WorkCounts => ({ waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 });

/** Adds `add`'s counters to `into`'s (totals over several sessions). */
export function addCounts(into: WorkCounts, add: Readonly<WorkCounts>): void {
  for (const [, field] of FIELDS) into[field] += add[field];
}

/** A whole, non-negative amount; anything else is a programming error in the caller. */
function amount(counts: ClaimCounts, key: keyof ClaimCounts): number {
  const n = counts[key] ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Claim count '${key}' must be a whole number >= 0, not ${String(n)}`);
  return n;
}

let lastClaimId = 0;

/**
 * A share of a session's counters held by one piece of work. Its `signal` aborts when the session is
 * interrupted (only interrupts after the claim was made) or when the claim itself is cancelled. Release it in
 * `finally` (or with `using`): whatever it still holds is then taken off the session's counters.
 */
export class GenerationClaim {
  /** Process-wide, increasing from 1. */
  readonly id = ++lastClaimId;
  private readonly held = zeroCounts();
  private readonly controller = new AbortController();
  private released = false;

  /** @internal made by `SessionWork.claim` */
  constructor(private readonly work: SessionWork) {}

  /** Aborts on an interrupt of the session or on `cancel()`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** Throws the abort reason when the work should stop; call it between slices of work. */
  throwIfCancelled(): void {
    this.controller.signal.throwIfAborted();
  }

  /** What this claim still adds to the session's counters. */
  get counts(): Readonly<WorkCounts> {
    return { ...this.held };
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Adds to this claim and to the session. Ignored after release, so late work cannot leak counts. */
  extend(counts: ClaimCounts): this {
    const add = FIELDS.map(([k]) => amount(counts, k));
    if (this.released) return this;
    FIELDS.forEach(([, field], i) => {
      this.held[field] += add[i]!;
      this.work.adjust(field, add[i]!);
    });
    return this;
  }

  /** Takes finished amounts off; never more than this claim holds, so no counter goes below zero. */
  complete(counts: ClaimCounts): this {
    const take = FIELDS.map(([k]) => amount(counts, k));
    FIELDS.forEach(([, field], i) => {
      const n = Math.min(take[i]!, this.held[field]);
      this.held[field] -= n;
      this.work.adjust(field, -n);
    });
    return this;
  }

  /** Stops this claim's work only (the session's other work goes on). */
  cancel(reason: unknown = new Error('The work was cancelled.')): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Completes everything still held and unregisters; safe to call more than once. */
  release(): void {
    if (this.released) return;
    for (const [, field] of FIELDS) {
      this.work.adjust(field, -this.held[field]);
      this.held[field] = 0;
    }
    this.released = true;
    this.work.forget(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

export class InterruptedError extends Error {
  constructor(message = 'The generation was interrupted.') {
    super(message);
    this.name = 'InterruptedError';
  }
}

export class SessionWork {
  private controller = new AbortController();
  private readonly current = zeroCounts();
  private readonly claims = new Map<number, GenerationClaim>();

  /** A snapshot of the session's counters. */
  get counts(): WorkCounts {
    return { ...this.current };
  }

  /** Aborts at the next interrupt; for work that holds no claim. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Claims alive now, oldest first. */
  liveClaims(): GenerationClaim[] {
    return [...this.claims.values()];
  }

  /** Starts a claim holding `counts`. Only interrupts after this call cancel it. */
  claim(counts: ClaimCounts = {}): GenerationClaim {
    const claim = new GenerationClaim(this);
    this.claims.set(claim.id, claim);
    try {
      claim.extend(counts);
    } catch (err) {
      this.claims.delete(claim.id);
      throw err;
    }
    return claim;
  }

  /** Runs `work` holding a claim and releases it however the work ends. */
  async run<T>(counts: ClaimCounts, work: (claim: GenerationClaim) => Promise<T> | T): Promise<T> {
    const claim = this.claim(counts);
    try {
      return await work(claim);
    } finally {
      claim.release();
    }
  }

  /** Cancels every claim alive now and every holder of the current signal; later work is unaffected. */
  interrupt(reason = 'The generation was interrupted.'): void {
    const old = this.controller;
    this.controller = new AbortController();
    const error = new InterruptedError(reason);
    for (const claim of [...this.claims.values()]) claim.cancel(error);
    old.abort(error);
  }

  /** @internal */
  adjust(field: keyof WorkCounts, delta: number): void {
    this.current[field] += delta;
  }

  /** @internal */
  forget(claim: GenerationClaim): void {
    this.claims.delete(claim.id);
  }
}
