// Login tokens (docs/COMPATIBILITY.md#login-tokens, docs/COMPATIBILITY.md#d7, #d8): `<hex(userId)>.<32-hex
// id>.<32-hex validation>`. Only a SHA-256 of the validation part is stored; checks are constant-time; tokens idle
// longer than the setting stop working.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EventBus } from '../cluster/events.js';
import type { ServerSettings } from '../settings/server-settings.js';
import type { LoginTokenRecord, Store } from '../store/types.js';

export const TOKEN_COOKIE = 'swarm_token';
/** How long the login cookie lives in the browser (the token itself ends by its own rules). */
export const TOKEN_COOKIE_SECONDS = 365 * 86400;

const AGENT_CHARS = /[^A-Za-z0-9 .:,;_\-*@#%[\]]/g;

/** The User-Agent header as a login token records it: printable ASCII only, `unknown` when absent. */
export function tokenAgent(header: string | string[] | undefined): string {
  return typeof header === 'string' ? header.replace(AGENT_CHARS, '') : 'unknown';
}
/** Stored last-use times (of tokens and sessions) are refreshed at most this often: a write per call is waste. */
export const LAST_USE_REFRESH_SECONDS = 300;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const hashValidation = (validation: string): string => `sha256:${createHash('sha256').update(validation, 'utf8').digest('hex')}`;

export interface ValidLogin {
  userId: string;
  tokenId: string;
  /** Set when the token was made inside a session opened by impersonation: that impersonator. */
  impersonatedBy: string | null;
}

/** Splits a raw token into its parts, or null when it cannot be one. */
export function parseToken(raw: string | undefined): { userId: string; tokenId: string; validation: string } | null {
  if (!raw || raw.length < 10 || raw.length > 1000) return null;
  const parts = raw.split('.');
  if (parts.length !== 3) return null;
  const [userHex, tokenId, validation] = parts as [string, string, string];
  if (userHex.length === 0 || userHex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(userHex)) return null;
  const userId = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.from(userHex, 'hex'));
  return { userId, tokenId, validation };
}

export class LoginTokenService {
  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly settings: ServerSettings,
  ) {}

  /**
   * Creates a token for the user; null when the user no longer exists. Returns the raw token, shown once.
   * `impersonatedBy` is the impersonator of the session it was made in, if any: the token ends with their right.
   */
  async create(userId: string, originAddress: string, userAgent: string, impersonatedBy: string | null = null): Promise<{ raw: string; record: LoginTokenRecord } | null> {
    const id = randomBytes(16).toString('hex');
    const validation = randomBytes(16).toString('hex');
    const now = nowSeconds();
    const record: LoginTokenRecord = { id, userId, validationHash: hashValidation(validation), originAddress, userAgent, impersonatedBy, createdAt: now, lastActive: now };
    if (!(await this.store.loginTokens.insert(record))) return null;
    return { raw: `${Buffer.from(userId, 'utf8').toString('hex')}.${id}.${validation}`, record };
  }

  /** Checks a raw token; on success records its use. */
  async validate(raw: string | undefined): Promise<ValidLogin | null> {
    const parsed = parseToken(raw);
    if (!parsed) return null;
    const record = await this.store.loginTokens.get(parsed.tokenId);
    if (!record || record.userId !== parsed.userId || record.id !== parsed.tokenId) return null;
    const expected = Buffer.from(record.validationHash, 'utf8');
    const actual = Buffer.from(hashValidation(parsed.validation), 'utf8');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    const now = nowSeconds();
    if (record.lastActive < now - this.idleSeconds()) {
      await this.revoke(record.userId, record.id);
      return null;
    }
    if (now - record.lastActive >= LAST_USE_REFRESH_SECONDS) await this.store.loginTokens.touch(record.id, now);
    return { userId: record.userId, tokenId: record.id, impersonatedBy: record.impersonatedBy };
  }

  /** Whether a token still exists and is not idle-expired (used when sessions are reloaded). */
  async isLive(tokenId: string): Promise<boolean> {
    const record = await this.store.loginTokens.get(tokenId);
    return record !== null && record.lastActive >= nowSeconds() - this.idleSeconds();
  }

  touch(tokenId: string, at: number): Promise<void> {
    return this.store.loginTokens.touch(tokenId, at);
  }

  list(userId: string): Promise<LoginTokenRecord[]> {
    return this.store.loginTokens.listByUser(userId);
  }

  /** Deletes one of the user's tokens and ends every session it created. */
  async revoke(userId: string, tokenId: string): Promise<boolean> {
    const { deleted, sessionIds } = await this.store.loginTokens.delete(userId, tokenId);
    if (sessionIds.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds });
    return deleted;
  }

  /** Deletes all of the user's tokens but `keep`, ending their sessions. */
  async revokeAllExcept(userId: string, keep: string | null): Promise<number> {
    const { tokenIds, sessionIds } = await this.store.loginTokens.deleteByUser(userId, keep);
    if (sessionIds.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds });
    return tokenIds.length;
  }

  /** Removes idle tokens and their sessions. */
  async sweep(): Promise<number> {
    const { tokenIds, sessionIds } = await this.store.loginTokens.deleteIdle(nowSeconds() - this.idleSeconds());
    if (sessionIds.length > 0) await this.events.publish({ type: 'sessions.ended', sessionIds });
    return tokenIds.length;
  }

  private idleSeconds(): number {
    return Math.max(1, this.settings.int('UserAuthorization.LoginTokenIdleDays')) * 86400;
  }
}
