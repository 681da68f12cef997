// Sessions (reference/01 §3 with PRODUCT.md §2 fixes): 160-bit ids, persisted, bound to the login token that
// created them, expired after 31 idle days. Live sessions are cached here; the cache is only a copy of the
// store, dropped by `sessions.ended` events from any instance. Store rows, the cache and events use the session
// key (sessionKey of the id); the raw id exists only in the client and in the Session a request resolved.
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../cluster/events.js';
import { sessionKey } from '../store/session-key.js';
import type { Store } from '../store/types.js';
import { LAST_USE_REFRESH_SECONDS, type LoginTokenService } from './login-tokens.js';
import { Session } from './session.js';

export const SESSION_IDLE_SECONDS = 31 * 86400;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export function newSessionId(): string {
  return randomBytes(20).toString('hex');
}

export class SessionService {
  /** Live sessions by session key. */
  private readonly live = new Map<string, Session>();
  private readonly loading = new Map<string, Promise<Session | null>>();

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly tokens: LoginTokenService,
  ) {
    events.subscribe((e) => {
      if (e.type === 'sessions.ended') e.sessionIds.forEach((key) => this.drop(key));
      else if (e.type === 'user.changed' && e.deleted) {
        for (const s of this.live.values()) if (s.userId === e.userId) this.drop(s.key);
      } else if (e.type === 'sessions.interrupt') {
        e.sessionIds.forEach((key) => this.live.get(key)?.work.interrupt());
      } else if (e.type === 'resync') {
        void this.revalidate();
      }
    });
  }

  async create(userId: string, originAddress: string, originToken: string | null): Promise<Session> {
    const now = nowSeconds();
    const id = newSessionId();
    const record = { id: sessionKey(id), userId, originAddress, originToken, createdAt: now, lastActive: now };
    await this.store.sessions.insert(record);
    const session = new Session(record, id);
    this.live.set(session.key, session);
    return session;
  }

  /** Finds a live session by the client's id; loads it from the store when another instance (or a previous run) created it. */
  async get(id: string): Promise<Session | null> {
    const key = sessionKey(id);
    const cached = this.live.get(key);
    if (cached && cached.lastUsed >= nowSeconds() - SESSION_IDLE_SECONDS) return cached;
    // Not cached, or idle by this instance's view: the store may know of use elsewhere.
    if (cached) this.live.delete(key);
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(key, id).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  private async load(key: string, id: string): Promise<Session | null> {
    const record = await this.store.sessions.get(key);
    if (!record) return null;
    const stale = record.lastActive < nowSeconds() - SESSION_IDLE_SECONDS;
    const tokenGone = record.originToken !== null && !(await this.tokens.isLive(record.originToken));
    const userGone = (await this.store.users.get(record.userId)) === null;
    if (stale || tokenGone || userGone) {
      await this.store.sessions.delete([key]);
      return null;
    }
    const session = this.live.get(key) ?? new Session(record, id);
    this.live.set(key, session);
    return session;
  }

  /** Records a call on the session; the store is refreshed at most every few minutes. */
  touch(session: Session): void {
    const now = nowSeconds();
    session.lastUsed = now;
    if (now - session.persistedLastActive < LAST_USE_REFRESH_SECONDS) return;
    session.persistedLastActive = now;
    void this.store.sessions.touch(session.key, now).catch(() => undefined);
    if (session.originToken) void this.tokens.touch(session.originToken, now).catch(() => undefined);
  }

  /** Ends sessions (by the ids clients hold) on every instance. */
  async end(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.map(sessionKey);
    await this.store.sessions.delete(keys);
    await this.events.publish({ type: 'sessions.ended', sessionIds: keys });
  }

  /** Ends every session of a user except the listed ones (ids clients hold). */
  async endUserSessions(userId: string, keep: readonly string[] = []): Promise<void> {
    const keys = await this.store.sessions.deleteByUser(userId, keep.map(sessionKey));
    if (keys.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds: keys });
  }

  /** The session keys of all sessions of a user, on every instance (what `sessions.interrupt` events carry). */
  idsOfUser(userId: string): Promise<string[]> {
    return this.store.sessions.listIdsByUser(userId);
  }

  /** Sessions live in this process (for status and interrupts). */
  liveSessions(): IterableIterator<Session> {
    return this.live.values();
  }

  /**
   * Forgets (in memory only) sessions unused for a while and holding no work; the store still has them and
   * the next call loads them again. Keeps memory bounded by recent use, not by 31 days of sessions.
   */
  async evictIdle(maxIdleSeconds: number): Promise<number> {
    const cutoff = nowSeconds() - maxIdleSeconds;
    let evicted = 0;
    for (const s of [...this.live.values()]) {
      if (s.lastUsed >= cutoff || s.work.liveClaims().length > 0) continue;
      this.live.delete(s.key);
      evicted++;
      if (s.lastUsed > s.persistedLastActive) await this.store.sessions.touch(s.key, s.lastUsed).catch(() => undefined);
    }
    return evicted;
  }

  /** Deletes sessions idle for 31 days, here and in the store. */
  async sweep(): Promise<number> {
    const cutoff = nowSeconds() - SESSION_IDLE_SECONDS;
    const ids = await this.store.sessions.deleteIdle(cutoff);
    if (ids.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds: ids });
    for (const s of this.live.values()) if (s.lastUsed < cutoff) this.live.delete(s.key);
    return ids.length;
  }

  /** Drops cached sessions the store no longer has (after events may have been missed). */
  private async revalidate(): Promise<void> {
    for (const s of [...this.live.values()]) {
      if (!(await this.store.sessions.get(s.key).catch(() => s))) this.drop(s.key);
    }
  }

  private drop(key: string): void {
    const s = this.live.get(key);
    if (!s) return;
    this.live.delete(key);
    s.work.interrupt('session ended');
  }
}
