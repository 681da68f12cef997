// The backend registry and the status GetCurrentStatus reports (docs/COMPATIBILITY.md#backend-status). swarmcore
// runs no backend itself: applications register objects that describe theirs, and their state is read from them
// on each call. Only the JSON text made from that state is kept (`statusJson`), for as long as the state is the
// same.
import { JsonText } from '../util/json-text.js';

/** A backend's own state, as the reference's enum, lower-cased. */
export type BackendStatus = 'disabled' | 'errored' | 'waiting' | 'loading' | 'idle' | 'running';

/** What a registered backend tells swarmcore. Implement the fields as getters to report live state. */
export interface Backend {
  /** Unique among registered backends. */
  readonly id: string;
  /** Text-to-image backends (the default) decide `backend_status`; every backend may add features. */
  readonly textToImage?: boolean;
  /** False when an administrator turned the backend off. */
  readonly enabled: boolean;
  readonly status: BackendStatus;
  /** Feature ids this backend supports (reported while it is enabled and not idle). */
  readonly features: Iterable<string>;
}

/** The aggregate status values, in the order of the rules that produce them. */
export type OverallBackendStatus = 'empty' | 'all_disabled' | 'errored' | 'some_loading' | 'running' | 'loading' | 'disabled' | 'idle' | 'unknown';

export interface BackendStatusReport {
  status: OverallBackendStatus;
  /** The UI's styling class: `error`, `warn`, `soft` or empty. */
  class: '' | 'error' | 'warn' | 'soft';
  /** Shown to the user; the UI translates it by its exact English text. */
  message: string;
  any_loading: boolean;
}

// Wire-visible texts (docs/COMPATIBILITY.md#backend-status): clients translate them by exact text.
export const BACKEND_STATUS_MESSAGES = {
  empty: 'No backends present. You must configure backends in the Backends section of the Server tab before you can continue.',
  all_disabled: 'All backends are disabled. You must enable backends in the Backends section of the Server tab before you can continue.',
  errored: 'Some backends have errored on the server. Check the server logs for details.',
  some_loading: 'Some backends are ready, but others are still loading...',
  running: '',
  loading: 'Backends are still loading on the server...',
  disabled: 'Some backends are disabled. Please enable or configure them to continue.',
  idle: 'All backends are idle. Cannot generate until at least one backend is running.',
  unknown: 'Something is wrong with your backends. Please check the Backends section of the Server tab, or the server logs.',
} as const satisfies Record<OverallBackendStatus, string>;

const report = (status: OverallBackendStatus, cls: BackendStatusReport['class'], anyLoading: boolean): BackendStatusReport => ({
  status,
  class: cls,
  message: BACKEND_STATUS_MESSAGES[status],
  any_loading: anyLoading,
});

/** The first matching rule of docs/COMPATIBILITY.md#backend-status over the text-to-image backends. */
export function overallStatus(backends: readonly Backend[]): BackendStatusReport {
  const t2i = backends.filter((b) => b.textToImage !== false);
  const statuses = t2i.map((b) => b.status);
  const loading = statuses.filter((s) => s === 'waiting' || s === 'loading').length;
  const running = statuses.includes('running');
  if (t2i.length === 0) return report('empty', 'error', false);
  if (t2i.every((b) => !b.enabled)) return report('all_disabled', 'error', false);
  if (statuses.includes('errored')) return report('errored', 'error', loading > 0);
  if (running && loading > 0) return report('some_loading', 'warn', true);
  if (running) return report('running', '', false);
  if (loading > 0) return report('loading', 'soft', true);
  if (statuses.includes('disabled')) return report('disabled', 'warn', false);
  if (statuses.includes('idle')) return report('idle', 'warn', false);
  // Only reachable when a backend reports a state outside BackendStatus (e.g. from untyped JavaScript).
  return report('unknown', 'error', false);
}

/** `backend_status` and `supported_features` as JSON text. */
export interface BackendStatusJson {
  status: JsonText;
  features: JsonText;
}

export class BackendRegistry {
  private readonly byId = new Map<string, Backend>();
  private readonly serverFeatures = new Set<string>();
  /** Counts changes of the registry itself (backends and server features added or removed). */
  private version = 0;
  private json: { state: string; value: BackendStatusJson } | null = null;

  /** Registers a backend; returns a function that removes it again. */
  add(backend: Backend): () => void {
    if (this.byId.has(backend.id)) throw new Error(`Backend '${backend.id}' is registered twice`);
    this.byId.set(backend.id, backend);
    this.version++;
    return () => this.remove(backend.id);
  }

  remove(id: string): boolean {
    this.version++;
    return this.byId.delete(id);
  }

  get(id: string): Backend | undefined {
    return this.byId.get(id);
  }

  /** Registered backends in registration order. */
  all(): Backend[] {
    return [...this.byId.values()];
  }

  /** A feature the server supports whatever its backends do (listed in every `supported_features`). */
  addFeature(feature: string): void {
    this.serverFeatures.add(feature);
    this.version++;
  }

  status(): BackendStatusReport {
    return overallStatus(this.all());
  }

  /**
   * Server features plus those of every enabled, non-idle backend of any kind (errored and loading backends
   * count, as in the reference), sorted by code unit so the JSON text only changes when the set does.
   */
  /**
   * status() and supportedFeatures() as JSON text (what GetCurrentStatus sends), made again only when the registry
   * or a backend's enabled flag, status or features read differently from last time.
   */
  statusJson(): BackendStatusJson {
    let state = String(this.version);
    for (const b of this.byId.values()) state += `\u0000${b.textToImage === false ? 0 : 1}${b.enabled ? 1 : 0}${b.status}\u0001${[...b.features].join('\u0001')}`;
    if (this.json === null || this.json.state !== state) {
      this.json = { state, value: { status: new JsonText(JSON.stringify(this.status())), features: new JsonText(JSON.stringify(this.supportedFeatures())) } };
    }
    return this.json.value;
  }

  supportedFeatures(): string[] {
    const set = new Set(this.serverFeatures);
    for (const b of this.byId.values()) {
      if (!b.enabled || b.status === 'idle') continue;
      for (const f of b.features) set.add(f);
    }
    return [...set].sort();
  }
}
