// Cross-instance events. Every cache in swarmcore is invalidated through these, never by assuming this process
// is the only writer. The local bus delivers in-process; a PostgreSQL bus (LISTEN/NOTIFY) will deliver the same
// events to every instance sharing the database.
import type { Logger } from 'pino';

export type ClusterEvent =
  /** These sessions no longer exist (logout, revocation, expiry, password change, user deletion). */
  | { type: 'sessions.ended'; sessionIds: string[] }
  /** A user's record changed (roles, password) or the user was deleted. */
  | { type: 'user.changed'; userId: string; deleted?: boolean }
  /** A user's presets or preset links changed. */
  | { type: 'presets.changed'; userId: string }
  /** Role definitions changed. */
  | { type: 'roles.changed' }
  /** Server settings changed. */
  | { type: 'settings.changed' }
  /** Interrupt the generation work of these sessions. */
  | { type: 'sessions.interrupt'; sessionIds: string[] }
  /** Events may have been missed (a lost database connection): every cache checks itself against the store. */
  | { type: 'resync' };

/** Every event type, for labels that must come from a fixed set (metrics). */
export const CLUSTER_EVENT_TYPES: ReadonlySet<string> = new Set<ClusterEvent['type']>(['sessions.ended', 'user.changed', 'roles.changed', 'settings.changed', 'sessions.interrupt', 'resync']);

/** Told of each event another process sent: its type and the seconds from publishing to receipt. */
export type EventLagObserver = (type: ClusterEvent['type'], lagSeconds: number) => void;

/** A handler may work asynchronously; the bus reports its failure instead of letting it end the process. */
export type EventHandler = (event: ClusterEvent) => void | Promise<void>;

export interface EventBus {
  /** Delivers to this instance's handlers (synchronously) and to every other instance. */
  publish(event: ClusterEvent): Promise<void>;
  subscribe(handler: EventHandler): () => void;
  close(): Promise<void>;
  /** False while events from other instances cannot arrive (a lost PostgreSQL LISTEN connection); absent: always true. */
  connected?(): boolean;
  /** Reports how late events from other processes arrive (metrics). */
  observeLag?(observer: EventLagObserver): void;
}

export class LocalEventBus implements EventBus {
  private readonly handlers = new Set<EventHandler>();
  private lagObserver: EventLagObserver | undefined;

  constructor(protected readonly log: Logger) {}

  connected(): boolean {
    return true;
  }

  observeLag(observer: EventLagObserver): void {
    this.lagObserver = observer;
  }

  async publish(event: ClusterEvent): Promise<void> {
    this.deliver(event);
  }

  /**
   * Runs every handler; one failing handler (at once or later) does not stop the others, and its failure is
   * logged, never thrown: events arrive in the background, where a throw would end the process. `sentAtMs`:
   * when another process published it (its clock, milliseconds since the epoch), for the lag metric.
   */
  protected deliver(event: ClusterEvent, sentAtMs?: number): void {
    if (sentAtMs !== undefined && Number.isFinite(sentAtMs) && CLUSTER_EVENT_TYPES.has(event.type)) this.lagObserver?.(event.type, (Date.now() - sentAtMs) / 1000);
    for (const h of this.handlers) {
      try {
        const pending: unknown = h(event);
        if (pending instanceof Promise) pending.catch((err: unknown) => this.handlerFailed(event, err));
      } catch (err) {
        this.handlerFailed(event, err);
      }
    }
  }

  private handlerFailed(event: ClusterEvent, err: unknown): void {
    this.log.error({ err, event: event.type }, `handling the cluster event '${event.type}' failed; the server keeps running`);
  }

  subscribe(handler: EventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
