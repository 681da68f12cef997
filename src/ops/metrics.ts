// The server's Prometheus metrics (README.md#health-and-metrics): one registry per server, never prom-client's
// global one, so several servers in one process (tests, embedding) keep their own counts. Every label value
// comes from a fixed set or from declared names (route names, rate-limit rule names, error ids, event types):
// never a raw path, a user name, an address or an id, so the number of series stays bounded.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { CellCounter, CellHistogram } from './metric-cells.js';

/** What the front door calls a request that is not an API call, or an API call to no registered route. */
export type RequestKind = 'health' | 'metrics' | 'page' | 'static' | 'view_special' | 'extension_file' | 'unknown';

/** Seconds: from a fast cached answer to the database bound (10 s) and beyond. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Status codes as label text, made once per code rather than per request. */
const statusTexts = new Map<number, string>();
function statusText(status: number): string {
  let text = statusTexts.get(status);
  if (text === undefined) statusTexts.set(status, (text = String(status)));
  return text;
}

export class Metrics {
  readonly registry = new Registry();
  /** Every HTTP request by what it was (an API route's declared name or a fixed kind) and its status code. */
  private readonly httpRequests: CellCounter;
  private readonly httpDuration: CellHistogram;
  /** Every API call (HTTP or WebSocket) by route and outcome: `success`, an error_id, or `error`. */
  private readonly apiCalls: CellCounter;
  private readonly logins: CellCounter;
  private readonly rateLimitRefusals: CellCounter;
  private readonly storeDuration: CellHistogram;
  private readonly eventLag: CellHistogram;
  private liveSessionCount: () => number = () => 0;
  private readonly knownErrorIds: ReadonlySet<string>;

  /** `errorIds`: the registered error ids, the only ones used as label values (any other is `error`). */
  constructor(errorIds: Iterable<string>) {
    this.knownErrorIds = new Set(errorIds);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // The metrics counted on every request are cells (src/ops/metric-cells.ts), not prom-client's own types.
    const r = this.registry;
    this.httpRequests = new CellCounter('swarmcore_http_requests_total', 'HTTP requests answered, by API route name (or page, static, health, metrics, unknown, ...) and status code.', ['route', 'status'], r);
    this.httpDuration = new CellHistogram('swarmcore_http_request_duration_seconds', 'Time from the request arriving to its answer being sent, by API route name or kind.', ['route'], LATENCY_BUCKETS, r);
    this.apiCalls = new CellCounter('swarmcore_api_calls_total', 'API calls by route, transport (http, websocket) and outcome (success, an error_id, or error for a plain error).', ['route', 'transport', 'outcome'], r);
    this.logins = new CellCounter('swarmcore_logins_total', 'Login attempts by result (success, failure, rate_limited, error).', ['result'], r);
    this.rateLimitRefusals = new CellCounter('swarmcore_rate_limit_refusals_total', 'Attempts refused by a rate limit, by rule.', ['rule'], r);
    this.storeDuration = new CellHistogram('swarmcore_store_call_duration_seconds', 'Database statements and transactions by operation (read, write, transaction) and outcome (ok, error).', ['operation', 'outcome'], LATENCY_BUCKETS, r);
    this.eventLag = new CellHistogram('swarmcore_cluster_event_lag_seconds', 'Time from another process publishing a cluster event to this one receiving it, by event type.', ['event'], [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], r);
    const liveSessions = (): number => this.liveSessionCount();
    new Gauge({
      name: 'swarmcore_live_sessions',
      help: 'Sessions held in this instance’s memory (used in the last 15 minutes, or with work running).',
      registers,
      collect() {
        this.set(liveSessions());
      },
    });
  }

  /** Where the live-session gauge reads its value. */
  countLiveSessions(count: () => number): void {
    this.liveSessionCount = count;
  }

  /** One answered HTTP request. `status` 0: the client left before an answer was sent. */
  request(route: string, status: number, seconds: number): void {
    this.httpRequests.inc(route, status === 0 ? 'none' : statusText(status));
    this.httpDuration.observe(seconds, route);
  }

  /** One API call's answer; Login's also counts as a login by its result. */
  apiCall(route: string, transport: 'http' | 'websocket', body: Record<string, unknown> | null): void {
    const outcome = this.outcomeOf(body);
    this.apiCalls.inc(route, transport, outcome);
    if (route === 'Login') this.logins.inc(outcome === 'success' ? 'success' : outcome === 'invalid_login' ? 'failure' : outcome === 'ratelimit' ? 'rate_limited' : 'error');
  }

  private outcomeOf(body: Record<string, unknown> | null): string {
    if (body === null) return 'error';
    const id = body.error_id;
    if (typeof id === 'string') return this.knownErrorIds.has(id) ? id : 'error';
    return 'error' in body ? 'error' : 'success';
  }

  rateLimitRefused(rule: string): void {
    this.rateLimitRefusals.inc(rule);
  }

  storeCall(operation: 'read' | 'write' | 'transaction', seconds: number, failed: boolean): void {
    this.storeDuration.observe(seconds, operation, failed ? 'error' : 'ok');
  }

  eventReceived(event: string, lagSeconds: number): void {
    this.eventLag.observe(Math.max(0, lagSeconds), event);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
