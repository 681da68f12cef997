// Per-key values loaded on first use and kept until dropped: what services use to answer repeated reads (a
// user's presets, settings, starred models) without a store round trip while nothing changed. Whoever changes
// the data drops the key, on every instance, through a cluster event (docs/ARCHITECTURE.md, "Caches").

/**
 * A load is remembered from the moment it starts, so a drop that comes while it runs removes it: the caller
 * that started it still gets its (older) answer, but the next caller loads again. A load that fails is not
 * kept. At most `capacity` keys are kept; the oldest goes first.
 */
export class KeyedCache<V> {
  private readonly entries = new Map<string, Promise<V>>();

  constructor(private readonly capacity: number) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit) return hit;
    const loading = load();
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, loading);
    loading.catch(() => {
      if (this.entries.get(key) === loading) this.entries.delete(key);
    });
    return loading;
  }

  drop(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
