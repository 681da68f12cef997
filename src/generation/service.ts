// The generation service: each live session's work counters and interrupts, the registered backends and the
// status GetCurrentStatus reports. It sits above accounts: it follows sessions through SessionService.watch.
import type { Session } from '../accounts/session.js';
import type { SessionService } from '../accounts/sessions.js';
import type { EventBus } from '../cluster/events.js';
import { BackendRegistry, type BackendStatusJson } from './backends.js';
import { SessionWork, addCounts, zeroCounts, type WorkCounts } from './session-work.js';
import { JsonText, keepAsJson } from '../util/json-text.js';

/** The counters of a session with no work on this instance, as JSON text. */
const NO_WORK = new JsonText(JSON.stringify(zeroCounts()));

export class GenerationService {
  /** Generation backends registered by extensions; GetCurrentStatus reports on them. */
  readonly backends = new BackendRegistry();
  /** Work by session key. */
  private readonly works = new Map<string, SessionWork>();
  /** The status answer of a session with no work, for the backends' status it was made from. */
  private idleAnswer: { backends: BackendStatusJson; answer: Record<string, unknown> } | null = null;

  constructor(
    private readonly events: EventBus,
    private readonly sessions: SessionService,
  ) {
    sessions.watch({
      forget: (key, ended) => {
        const work = this.works.get(key);
        this.works.delete(key);
        if (ended) work?.interrupt('session ended');
      },
      busy: (key) => (this.works.get(key)?.liveClaims().length ?? 0) > 0,
    });
    events.subscribe((e) => {
      if (e.type === 'sessions.interrupt') e.sessionIds.forEach((id) => this.works.get(id)?.interrupt());
    });
  }

  /** The session's work on this instance: hold a claim on it while generating. */
  workOf(session: Session): SessionWork {
    let work = this.works.get(session.key);
    if (!work) {
      work = new SessionWork();
      this.works.set(session.key, work);
    }
    return work;
  }

  /**
   * The object GetCurrentStatus answers with; generation sockets may push the same shape. Sessions with no work
   * share one frozen answer: callers must not modify it (copy it to add to it).
   */
  status(session: Session): Record<string, unknown> {
    const backends = this.backends.statusJson();
    const counts = this.works.get(session.key)?.counts;
    if (counts !== undefined) return { status: counts, backend_status: backends.status, supported_features: backends.features };
    // Most sessions have no work: they all get one answer, serialized once while the backends read the same.
    if (this.idleAnswer?.backends !== backends) {
      this.idleAnswer = { backends, answer: Object.freeze(keepAsJson({ status: NO_WORK, backend_status: backends.status, supported_features: backends.features })) };
    }
    return this.idleAnswer.answer;
  }

  /**
   * Stops the work of this session, or with `allOfUser` of every session of its user, on every instance (a
   * session may have work running on any instance that loaded it). Returns how many sessions were told.
   */
  async interrupt(session: Session, allOfUser: boolean): Promise<number> {
    // Events carry session keys, never the ids clients hold.
    const keys = allOfUser ? [session.key, ...(await this.sessions.idsOfUser(session.userId)).filter((key) => key !== session.key)] : [session.key];
    await this.events.publish({ type: 'sessions.interrupt', sessionIds: keys });
    return keys.length;
  }

  /** GetGlobalStatus: the counters summed over every session live on this instance, with the backends' status. */
  globalStatus(): Record<string, unknown> {
    const total = zeroCounts();
    for (const work of this.works.values()) addCounts(total, work.counts);
    return { status: total, backend_status: this.backends.status(), supported_features: this.backends.supportedFeatures() };
  }

  /** The counters of one session (by session key) on this instance. */
  countsOf(key: string): WorkCounts {
    const counts = zeroCounts();
    const work = this.works.get(key);
    if (work) addCounts(counts, work.counts);
    return counts;
  }

  /** Stops the work of every session of a user, on every instance (AdminInterruptUser). Returns how many sessions were told. */
  async interruptUser(userId: string): Promise<number> {
    const keys = await this.sessions.idsOfUser(userId);
    if (keys.length > 0) await this.events.publish({ type: 'sessions.interrupt', sessionIds: keys });
    return keys.length;
  }

  /** Stops every generation on this instance (the server is stopping). */
  stopAll(reason: string): void {
    for (const work of this.works.values()) work.interrupt(reason);
  }
}
