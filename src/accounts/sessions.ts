// Sessions (docs/COMPATIBILITY.md#sessions with docs/COMPATIBILITY.md#d1, #d3, #d9, #d53): ids of 160 random bits
// after their creation time, persisted, bound to the login token that created them, expired after 31 idle days. Live
// sessions are cached here; the cache is only a copy of the store, dropped by `sessions.ended` events from any
// instance. Store rows, the cache and events use the session key (sessionKey of the id); the raw id exists only in
// the client and in the Session a request resolved.
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../cluster/events.js';
import { SESSION_ID_RANDOM_BYTES, sessionIdTime, sessionKey } from '../store/session-key.js';
import type { SessionRecord, Store } from '../store/types.js';
import { BatchWriter } from '../util/batch-writer.js';
import { LAST_USE_REFRESH_SECONDS, type LoginTokenService } from './login-tokens.js';
import { Session } from './session.js';

export const SESSION_IDLE_SECONDS = 31 * 86400;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Random bytes drawn ahead for session ids: one call into the generator per 204 sessions instead of per session. */
const ID_POOL_BYTES = SESSION_ID_RANDOM_BYTES * 204;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

export function newSessionId(): string {
  if (idPoolOffset + SESSION_ID_RANDOM_BYTES > idPool.length) {
    idPool = randomBytes(ID_POOL_BYTES);
    idPoolOffset = 0;
  }
  const end = idPoolOffset + SESSION_ID_RANDOM_BYTES;
  const id = sessionIdTime(Date.now()) + idPool.toString('hex', idPoolOffset, end);
  // Each byte serves one id only; what was handed out is wiped from the pool.
  idPool.fill(0, idPoolOffset, end);
  idPoolOffset = end;
  return id;
}

/** What a layer above accounts keeps per live session (generation work) learns about it through this. */
export interface SessionWatcher {
  /** The session (by session key) left this process's memory; `ended` when it no longer exists at all. */
  forget(key: string, ended: boolean): void;
  /** True while the session (by session key) must stay in memory (work is running for it). */
  busy(key: string): boolean;
}

/** Sessions requested in one event-loop turn are stored by one statement of at most this many rows. */
const SESSION_INSERT_BATCH = 64;
/**
 * Most sessions kept in memory (about 270 bytes of heap each). Past it the oldest-created ones leave memory, as
 * idle ones do, and are read from the store at their next use: a client calling GetNewSession in a loop fills
 * the store, not the heap.
 */
export const MAX_LIVE_SESSIONS = 100_000;
/**
 * Sessions let go together once the cap is passed. A walk over the map from its oldest entry also passes every
 * slot freed since the map was last compacted: one walk per new session made a GetNewSession flood past the cap
 * spend about a tenth of its CPU there; one walk per this many sessions does not show.
 */
export const EVICTION_ROOM = 1000;

export class SessionService {
  /** Live sessions by session key. */
  private readonly live = new Map<string, Session>();
  /**
   * The same sessions by the id the client holds, so a call on a live session costs a map lookup rather than a
   * SHA-256 of its id. Always changed together with `live` (`keep`, `leave`); holds no session `live` does not.
   */
  private readonly byId = new Map<string, Session>();
  private readonly inserts: BatchWriter<SessionRecord>;
  private readonly loading = new Map<string, Promise<Session | null>>();
  private readonly watchers: SessionWatcher[] = [];

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly tokens: LoginTokenService,
    private readonly log: Logger,
  ) {
    this.inserts = new BatchWriter(
      (list) => store.sessions.insertMany(list),
      (one) => store.sessions.insert(one),
      SESSION_INSERT_BATCH,
    );
    events.subscribe((e) => {
      if (e.type === 'sessions.ended') e.sessionIds.forEach((key) => this.drop(key));
      else if (e.type === 'user.changed' && e.deleted) {
        for (const s of this.live.values()) if (s.userId === e.userId) this.drop(s.key);
      } else if (e.type === 'resync') {
        return this.revalidate(); // the bus logs a failure
      }
    });
  }

  /** How many sessions this instance holds in memory. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Registers a watcher of sessions leaving memory. */
  watch(watcher: SessionWatcher): void {
    this.watchers.push(watcher);
  }

  /** `impersonatedBy`: the user who opened it by impersonation; it ends when they lose manage_users. */
  async create(userId: string, originAddress: string, originToken: string | null, impersonatedBy: string | null = null): Promise<Session> {
    const now = nowSeconds();
    const id = newSessionId();
    const record = { id: sessionKey(id), userId, originAddress, originToken, impersonatedBy, createdAt: now, lastActive: now };
    await this.inserts.write(record);
    const session = new Session(record, id);
    this.remember(session);
    return session;
  }

  /** Finds a live session by the client's id; loads it from the store when another instance (or a previous run) created it. */
  async get(id: string): Promise<Session | null> {
    return this.cached(id) ?? this.lookUp(id);
  }

  /** The live session of this id when this instance holds it and it is not idle: no store call, no hashing. */
  cached(id: string): Session | undefined {
    const session = this.byId.get(id);
    return session !== undefined && session.lastUsed >= nowSeconds() - SESSION_IDLE_SECONDS ? session : undefined;
  }

  private lookUp(id: string): Promise<Session | null> {
    const key = sessionKey(id);
    const cached = this.live.get(key);
    // Not cached, or idle by this instance's view: the store may know of use elsewhere.
    if (cached) this.leave(cached);
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
    this.remember(session);
    return session;
  }

  /** Records a call on the session; the store is refreshed at most every few minutes. */
  touch(session: Session): void {
    const now = nowSeconds();
    session.lastUsed = now;
    if (now - session.persistedLastActive < LAST_USE_REFRESH_SECONDS) return;
    session.persistedLastActive = now;
    // A lost refresh only makes the session look idle a little earlier; the call itself goes on.
    this.store.sessions.touch(session.key, now).catch((err: unknown) => this.log.warn({ err }, "recording the session's last use failed"));
    if (session.originToken) this.tokens.touch(session.originToken, now).catch((err: unknown) => this.log.warn({ err }, "recording the login token's last use failed"));
  }

  /** Ends sessions (by the ids clients hold) on every instance. */
  async end(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.map(sessionKey);
    await this.store.sessions.delete(keys);
    await this.events.publish({ type: 'sessions.ended', sessionIds: keys });
  }

  /**
   * Ends, on every instance, the sessions this user opened by impersonation and the login tokens made inside
   * them (with the sessions those tokens opened). Returns how many sessions ended.
   */
  async endImpersonationsBy(impersonator: string): Promise<number> {
    const direct = await this.store.sessions.deleteByImpersonator(impersonator);
    const { sessionIds: viaTokens } = await this.store.loginTokens.deleteByImpersonator(impersonator);
    const keys = [...direct, ...viaTokens];
    if (keys.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds: keys });
    return keys.length;
  }

  /** Users who opened sessions or login tokens by impersonation that still exist. */
  impersonators(): Promise<string[]> {
    return this.store.sessions.listImpersonators();
  }

  /** Whether the session (by the id the client holds) still exists in the store; this cache may not have heard yet that it ended. */
  async isStored(id: string): Promise<boolean> {
    return (await this.store.sessions.get(sessionKey(id))) !== null;
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

  /** Sessions live in this process. */
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
      if (s.lastUsed >= cutoff || this.isBusy(s)) continue;
      await this.evict(s);
      evicted++;
    }
    return evicted;
  }

  /** Deletes sessions idle for 31 days, here and in the store. */
  async sweep(): Promise<number> {
    const cutoff = nowSeconds() - SESSION_IDLE_SECONDS;
    const ids = await this.store.sessions.deleteIdle(cutoff);
    if (ids.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds: ids });
    for (const s of [...this.live.values()]) if (s.lastUsed < cutoff) this.drop(s.key);
    return ids.length;
  }

  /** Drops cached sessions the store no longer has (after events may have been missed). */
  private async revalidate(): Promise<void> {
    for (const s of [...this.live.values()]) {
      if (!(await this.store.sessions.get(s.key).catch(() => s))) this.drop(s.key);
    }
  }

  /**
   * Keeps a session in memory, making room past MAX_LIVE_SESSIONS by letting the oldest (not busy) go, down to
   * EVICTION_ROOM below the cap at once.
   */
  private remember(session: Session): void {
    this.keep(session);
    if (this.live.size <= MAX_LIVE_SESSIONS) return;
    for (const s of this.live.values()) {
      if (this.live.size <= MAX_LIVE_SESSIONS - EVICTION_ROOM) break;
      // evict leaves memory at once; only its last-use write is still under way (it logs its own failure).
      if (s !== session && !this.isBusy(s)) this.evict(s).catch(() => undefined);
    }
  }

  private isBusy(s: Session): boolean {
    return this.watchers.some((w) => w.busy(s.key));
  }

  /** Lets a session leave memory (it stays in the store), recording its last use there first if newer. */
  private async evict(s: Session): Promise<void> {
    this.leave(s);
    for (const w of this.watchers) w.forget(s.key, false);
    if (s.lastUsed > s.persistedLastActive) {
      await this.store.sessions.touch(s.key, s.lastUsed).catch((err: unknown) => this.log.warn({ err }, "recording an evicted session's last use failed"));
    }
  }

  private drop(key: string): void {
    const s = this.live.get(key);
    if (!s) return;
    this.leave(s);
    for (const w of this.watchers) w.forget(key, true);
  }

  private keep(s: Session): void {
    this.live.set(s.key, s);
    this.byId.set(s.id, s);
  }

  private leave(s: Session): void {
    this.live.delete(s.key);
    this.byId.delete(s.id);
  }
}
