// Group commit: writes requested while the store is busy with the previous group go to the store together, so
// fifty clients asking for a session at once cost one transaction (SQLite) or one round trip and one commit
// (PostgreSQL) instead of fifty. Each caller's promise settles only after its own row is committed, so what a
// client was told exists survives a crash exactly as a single write would.

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class BatchWriter<T> {
  private pending: Pending<T>[] = [];
  /** A flush is scheduled or under way; new items wait for it and go in the next group. */
  private running = false;

  /**
   * `writeMany` stores up to `maxBatch` items atomically; when it fails, each item is retried alone with
   * `writeOne`, so one bad item (a user deleted meanwhile, say) fails only its own caller.
   */
  constructor(
    private readonly writeMany: (items: readonly T[]) => Promise<void>,
    private readonly writeOne: (item: T) => Promise<void>,
    private readonly maxBatch: number,
  ) {}

  write(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.running) this.schedule();
    });
  }

  private schedule(): void {
    this.running = true;
    // setImmediate runs after this turn's I/O callbacks: every request that arrived with this one joins it.
    setImmediate(() => {
      this.flush()
        // flush settles every promise it takes; should anything escape it, the waiting callers hear of it.
        .catch((err: unknown) => {
          for (const b of this.pending.splice(0)) b.reject(err);
        })
        .finally(() => {
          this.running = false;
          // Items that arrived after the last group was taken, while the flush was ending.
          if (this.pending.length > 0) this.schedule();
        });
    });
  }

  /**
   * Writes groups one after another until none is waiting: while one group's write is under way (a PostgreSQL
   * round trip and commit), the requests arriving meanwhile gather into the next group.
   */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        if (batch.length === 1) await this.writeOne(batch[0]!.item);
        else await this.writeMany(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
        for (const b of batch) await this.writeOne(b.item).then(b.resolve, b.reject);
      }
    }
  }
}
