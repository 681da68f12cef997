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

/** A handler may work asynchronously; the bus reports its failure instead of letting it end the process. */
export type EventHandler = (event: ClusterEvent) => void | Promise<void>;

export interface EventBus {
  /** Delivers to this instance's handlers (synchronously) and to every other instance. */
  publish(event: ClusterEvent): Promise<void>;
  subscribe(handler: EventHandler): () => void;
  close(): Promise<void>;
}

export class LocalEventBus implements EventBus {
  private readonly handlers = new Set<EventHandler>();

  constructor(protected readonly log: Logger) {}

  async publish(event: ClusterEvent): Promise<void> {
    this.deliver(event);
  }

  /**
   * Runs every handler; one failing handler (at once or later) does not stop the others, and its failure is
   * logged, never thrown: events arrive in the background, where a throw would end the process.
   */
  protected deliver(event: ClusterEvent): void {
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
