// Users: records live in the store; the hot-path view (effective permissions) is cached per user and dropped
// whenever any instance reports a change to that user or to the roles.
import type { EventBus } from '../cluster/events.js';
import { KeyedCache } from '../util/keyed-cache.js';
import { exactJson } from '../util/token-text.js';
import { parseJson } from '../store/rows.js';
import { sessionKey } from '../store/session-key.js';
import { TransactionScope, type LoginTokenRecord, type Store, type UserRecord, type UserSummary } from '../store/types.js';
import type { LoginTokenService } from './login-tokens.js';
import { hashPassword } from './passwords.js';
import { checkManagers, type RoleService } from './roles.js';
import type { Session } from './session.js';
import type { SessionService } from './sessions.js';
import { JsonText } from '../util/json-text.js';

/** The user everyone is when accounts are off, and direct local connections under the localhost bypass. */
export const LOCAL_USER_ID = 'local';

export interface UserAccess {
  readonly userId: string;
  /** Effective permission ids, canonically ordered (`*` first). */
  readonly permissions: readonly string[];
  /** `permissions` as JSON text, made once: GetNewSession and GetMyUserData send it on every call. */
  readonly permissionsJson: JsonText;
  has(permission: string): boolean;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
/** The generic-data name the reference keeps starred models under. */
const STARRED_MODELS = 'starred_models';
/** The permission that lets a user open sessions as someone else. */
const IMPERSONATE = 'manage_users';

/** What a user's own pages read on every load (GetMyUserData), kept per user until the user changes anywhere. */
export interface UserProfile {
  /** Only the settings this user changed, keyed by lowercase dotted id. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** As starredModels gives it. */
  readonly starred: unknown;
}

/** Users whose profile is kept in memory per instance. */
const CACHED_PROFILES = 10_000;

/** A user's access as cached: the load, and once it has found the user, what it found. */
interface AccessEntry {
  readonly loading: Promise<UserAccess | null>;
  found?: UserAccess;
}

export class UserService {
  private readonly access = new Map<string, AccessEntry>();
  private readonly profiles = new KeyedCache<UserProfile | null>(CACHED_PROFILES);

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly roles: RoleService,
    private readonly tokens: LoginTokenService,
    private readonly sessions: SessionService,
  ) {
    events.subscribe((e) => {
      if (e.type === 'user.changed') {
        this.access.delete(e.userId);
        this.profiles.drop(e.userId);
      } else if (e.type === 'roles.changed') this.access.clear();
      else if (e.type === 'resync') {
        this.access.clear();
        this.profiles.clear();
      }
    });
    // A role edited here may have taken manage_users from someone (other instances learn through the events).
    roles.onChange(() => this.endLapsedImpersonations());
  }

  get(id: string): Promise<UserRecord | null> {
    return this.store.users.get(id);
  }

  /**
   * The user's settings and starred models, from memory while nothing about the user changed (null: no such
   * user, which is not remembered). Callers must not modify the answer.
   */
  profile(id: string): Promise<UserProfile | null> {
    return this.profiles.get(id, async () => {
      const [user, starred] = await Promise.all([this.store.users.get(id), this.starredModels(id)]);
      if (user) return { settings: user.settings, starred };
      this.profiles.drop(id); // the entry exists by now: a user created later must be found
      return null;
    });
  }

  /** The user's effective permissions (cached; null when the user does not exist). */
  getAccess(userId: string): Promise<UserAccess | null> {
    let entry = this.access.get(userId);
    if (!entry) {
      const created: AccessEntry = { loading: this.loadAccess(userId) };
      this.access.set(userId, created);
      // Only existing users are remembered: a failed load or a missing user must be looked up again (unless
      // the entry has already been dropped and replaced by a newer load).
      const forget = (): void => void (this.access.get(userId) === created && this.access.delete(userId));
      created.loading.then((found) => (found ? void (created.found = found) : forget()), forget);
      entry = created;
    }
    return entry.loading;
  }

  /**
   * The user's access when it is loaded and cached, without waiting (undefined: call getAccess). The envelope
   * uses it so that a call whose session and access are both in memory runs without a promise.
   */
  accessNow(userId: string): UserAccess | undefined {
    return this.access.get(userId)?.found;
  }

  /** Whether the user may impersonate others: what sessions and tokens opened by impersonation depend on. */
  async mayImpersonate(userId: string): Promise<boolean> {
    return (await this.getAccess(userId))?.has(IMPERSONATE) === true;
  }

  /**
   * Ends, on every instance, the sessions and login tokens opened by impersonation whose impersonator no longer
   * holds manage_users or no longer exists. Checks only `among` when given, else every impersonator on record.
   */
  async endLapsedImpersonations(among?: readonly string[]): Promise<number> {
    let ended = 0;
    for (const impersonator of among ?? (await this.sessions.impersonators())) {
      if (!(await this.mayImpersonate(impersonator))) ended += await this.sessions.endImpersonationsBy(impersonator);
    }
    return ended;
  }

  private async loadAccess(userId: string): Promise<UserAccess | null> {
    const user = await this.store.users.get(userId);
    if (!user) return null;
    const permissions = await this.roles.permissionsOf(user.roles);
    const set = new Set(permissions);
    return { userId, permissions, permissionsJson: new JsonText(JSON.stringify(permissions)), has: (p) => set.has(p) || set.has('*') };
  }

  /**
   * Creates a user without a password if it does not exist yet (local user, X-SWARM-USER_ID). A user whose
   * access is cached exists: deletion anywhere drops the cache entry first.
   */
  async ensure(id: string, roles: readonly string[]): Promise<void> {
    if (this.access.has(id) && (await this.getAccess(id))) return;
    if (await this.store.users.get(id)) return;
    if (await this.store.users.create(newUserRecord(id, '', [...roles], true))) await this.changed(id);
  }

  /** Creates an account with a password in client form; null when the id is taken. */
  async register(id: string, clientPassword: string, roles: readonly string[], setByAdmin: boolean): Promise<UserRecord | null> {
    const hash = clientPassword === '' ? '' : await hashPassword(clientPassword);
    const record = newUserRecord(id, hash, [...roles], setByAdmin);
    if (!(await this.store.users.create(record))) return null;
    await this.changed(id);
    return record;
  }

  /** Every user id, sorted. */
  listIds(): Promise<string[]> {
    return this.store.users.listIds();
  }

  /** Every user with roles, creation time and last activity, sorted by id (the Server section's list). */
  listSummaries(): Promise<UserSummary[]> {
    return this.store.users.listSummaries();
  }

  /**
   * The user changes their own password: every other login token and session of the account ends, on every
   * instance; the session making the change (and the token it came from) stays.
   */
  async changeOwnPassword(id: string, clientPassword: string, keep: { sessionId: string; tokenId: string | null }): Promise<boolean> {
    return this.replacePassword(id, await hashPassword(clientPassword), false, keep);
  }

  /**
   * Sets a password from outside the account (an administrator, the CLI): every session and login token of the
   * account ends, on every instance, so whoever had taken it over is out at once.
   */
  async setPassword(id: string, clientPassword: string): Promise<boolean> {
    // A blank password removes it (the account can then only be used by impersonation or the localhost bypass).
    const hash = clientPassword.trim() === '' ? '' : await hashPassword(clientPassword);
    return this.replacePassword(id, hash, true, { sessionId: null, tokenId: null });
  }

  /**
   * Creates a login token from inside a session (CreateAuthToken). The token carries the session's impersonator,
   * and is withdrawn when the session was ended meanwhile (a password reset, say, whose event has not reached
   * this instance yet): ending a session's logins can never leave a token made from it behind.
   */
  async createLoginToken(session: Session, originAddress: string, reason: string): Promise<{ raw: string; record: LoginTokenRecord } | null> {
    const token = await this.tokens.create(session.userId, originAddress, reason, session.impersonatedBy);
    if (!token || (await this.sessions.isStored(session.id))) return token;
    await this.tokens.revoke(session.userId, token.record.id);
    return null;
  }

  /** Replaces a reference-format hash after a successful login, keeping who set the password. */
  async upgradePasswordHash(user: UserRecord, clientPassword: string): Promise<void> {
    await this.storePasswordHash(user.id, await hashPassword(clientPassword), user.passwordSetByAdmin);
  }

  /**
   * Stores a new password hash and ends every other login of the user (all of them when nothing is kept) in one
   * transaction, so a crash can never leave the new password stored with the old logins still alive; the
   * events that reach the other instances go out after it.
   */
  private async replacePassword(id: string, passwordHash: string, setByAdmin: boolean, keep: { sessionId: string | null; tokenId: string | null }): Promise<boolean> {
    const ended = await this.store.transaction(async (tx) => {
      if (!(await tx.users.update(id, { passwordHash, passwordSetByAdmin: setByAdmin }))) return null;
      const viaTokens = await tx.loginTokens.deleteByUser(id, keep.tokenId);
      const direct = await tx.sessions.deleteByUser(id, keep.sessionId === null ? [] : [sessionKey(keep.sessionId)]);
      return [...viaTokens.sessionIds, ...direct];
    }, TransactionScope.user(id));
    if (ended === null) return false;
    await this.changed(id);
    if (ended.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds: ended });
    return true;
  }

  private async storePasswordHash(id: string, passwordHash: string, setByAdmin: boolean): Promise<boolean> {
    const ok = await this.store.users.update(id, { passwordHash, passwordSetByAdmin: setByAdmin });
    if (ok) await this.changed(id);
    return ok;
  }

  /** Merges checked setting values into the user's own settings. */
  async changeSettings(id: string, changes: Readonly<Record<string, unknown>>): Promise<boolean> {
    const ok = await this.store.users.updateSettings(id, (current) => ({ ...current, ...changes }));
    if (ok) await this.changed(id);
    return ok;
  }

  /** Stores the UI's parameter layout edits (opaque to the server). */
  async setParamEdits(id: string, edits: Readonly<Record<string, unknown>>): Promise<boolean> {
    const ok = await this.store.users.update(id, { paramEdits: exactJson(edits) });
    if (ok) await this.changed(id);
    return ok;
  }

  /** The user's starred models, `{"<model type>": ["<model name>", ...]}` as last stored. */
  async starredModels(id: string): Promise<unknown> {
    return parseJson(await this.store.genericData.get(id, STARRED_MODELS, 'full'), {});
  }

  async setStarredModels(id: string, starred: Readonly<Record<string, unknown>>): Promise<void> {
    await this.store.genericData.set(id, STARRED_MODELS, 'full', exactJson(starred));
    await this.changed(id);
  }

  /**
   * Replaces the user's roles; what they opened by impersonation ends if they lose manage_users. The command line's
   * `user set-role`: the operator holding the database may demote the last manager (the API may not, adminChange).
   */
  async setRoles(id: string, roles: readonly string[]): Promise<boolean> {
    return this.adminChange(id, {}, roles, false);
  }

  /**
   * An administrator's change to a user: settings merged in and, when given, the roles replaced, in one
   * transaction. Throws LastManagerError (nothing changes) when the roles would leave no account holding
   * manage_users; what the user opened by impersonation ends if they lose manage_users.
   */
  async adminChange(id: string, settings: Readonly<Record<string, unknown>>, roles: readonly string[] | null, keepLastManager = true): Promise<boolean> {
    const ok = await this.store.transaction(async (tx) => {
      const user = await tx.users.get(id);
      if (!user) return false;
      if (roles !== null) {
        if (keepLastManager) await checkManagers(tx, { users: new Map([[id, roles]]) });
        await tx.users.update(id, { roles: [...roles] });
      }
      if (Object.keys(settings).length > 0) await tx.users.updateSettings(id, (current) => ({ ...current, ...settings }));
      return true;
    });
    if (!ok) return false;
    await this.changed(id);
    await this.endLapsedImpersonations([id]);
    return true;
  }

  /**
   * Deletes a user with its sessions, tokens, presets and data, and ends its live sessions everywhere, with
   * the sessions and tokens it opened by impersonating others.
   */
  async delete(id: string, keepLastManager = true): Promise<boolean> {
    // One transaction: the last account holding manage_users is refused (LastManagerError) unless the caller is the
    // command line (keepLastManager false: the operator holding the database), and no session made between the
    // listing and the delete is missed.
    const sessionIds = await this.store.transaction(async (tx) => {
      if (!(await tx.users.get(id))) return null;
      if (keepLastManager) await checkManagers(tx, { users: new Map([[id, null]]) });
      const ids = await tx.sessions.listIdsByUser(id);
      await tx.users.delete(id);
      return ids;
    });
    if (sessionIds === null) return false;
    await this.events.publish({ type: 'sessions.ended', sessionIds });
    await this.events.publish({ type: 'user.changed', userId: id, deleted: true });
    await this.sessions.endImpersonationsBy(id);
    return true;
  }

  /** Drops what is cached about the user here and on every other instance. */
  changed(userId: string): Promise<void> {
    this.profiles.drop(userId);
    return this.events.publish({ type: 'user.changed', userId });
  }
}

export function newUserRecord(id: string, passwordHash: string, roles: string[], passwordSetByAdmin: boolean): UserRecord {
  return { id, passwordHash, passwordSetByAdmin, roles, settings: {}, paramEdits: '', createdAt: nowSeconds() };
}
