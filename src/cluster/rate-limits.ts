// Fixed-window rate limits: the contract every store provides, and the in-memory one for a single instance (a
// database-backed implementation shares the counters between instances). The rules themselves belong to accounts/.

export interface RateLimitRule {
  name: string;
  max: number;
  periodMs: number;
}

export interface RateLimiter {
  /** Uses one attempt; false (nothing counted) when the window is full. */
  tryUse(rule: RateLimitRule, key: string): Promise<boolean>;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  async tryUse(rule: RateLimitRule, key: string): Promise<boolean> {
    const id = `${rule.name}\u0000${key}`;
    const now = this.clock();
    let w = this.windows.get(id);
    if (!w || now - w.start > rule.periodMs) {
      // Re-inserted, so the map stays ordered by window start and the oldest is always first.
      this.windows.delete(id);
      w = { start: now, count: 0 };
      this.windows.set(id, w);
    }
    if (w.count >= rule.max) return false;
    w.count++;
    this.evictOne(now, rule.periodMs);
    return true;
  }

  /** Keeps memory bounded: look at the oldest window and drop it once expired. */
  private evictOne(now: number, periodMs: number): void {
    for (const [id, w] of this.windows) {
      if (now - w.start > periodMs) this.windows.delete(id);
      break;
    }
  }
}
