// Per-session generation bookkeeping: the four counters GetCurrentStatus reports and the interrupt signal.
// Interrupting aborts the current signal and replaces it, so only work started before the interrupt stops.

export interface WorkCounts {
  waiting_gens: number;
  loading_models: number;
  waiting_backends: number;
  live_gens: number;
}

export class SessionWork {
  private controller = new AbortController();
  readonly counts: WorkCounts = { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 };

  /** The signal that work starting now should watch. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  interrupt(reason = 'interrupted'): void {
    const old = this.controller;
    this.controller = new AbortController();
    old.abort(new Error(reason));
  }
}
