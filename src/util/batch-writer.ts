// Group commit: writes requested during one event-loop turn go to the store together, so fifty clients asking
// for a session at once cost one transaction (SQLite) or one round trip (PostgreSQL) instead of fifty. Each
// caller's promise settles only after its own row is committed, so what a client was told exists survives a
// crash exactly as a single write would.

export class BatchWriter<T> {
  private pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

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
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after this turn's I/O callbacks: every request that arrived with this one joins it.
        setImmediate(() => {
          // flush settles every promise it takes; should anything escape it, the waiting callers hear of it.
          this.flush().catch((err: unknown) => {
            for (const b of this.pending.splice(0)) b.reject(err);
          });
        });
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
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
