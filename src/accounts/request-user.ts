// Who a request is (docs/COMPATIBILITY.md#request-user, with the bypass no longer overriding a real login:
// docs/COMPATIBILITY.md#d16).
import type { IncomingHttpHeaders } from 'node:http';
import type { ServerSettings } from '../settings/server-settings.js';
import { TOKEN_COOKIE, type LoginTokenService, type ValidLogin } from './login-tokens.js';
import { cleanUserId } from './names.js';
import { LOCAL_USER_ID, type UserService } from './users.js';

export interface RequestUser {
  userId: string;
  /** The login token that proved it; null for accounts-off and localhost-bypass users. */
  tokenId: string | null;
  /** Set when that token was made inside a session opened by impersonation: the impersonator. */
  impersonatedBy: string | null;
}

/** What identifies a caller: the parts of a request (see RequestInfo in src/api/route.ts) this file reads. */
export interface RequestCredentials {
  readonly headers: IncomingHttpHeaders;
  readonly cookies: Readonly<Record<string, string>>;
  /** True when this request counts as the local user under `UserAuthorization.AllowLocalhostBypass`. */
  readonly localhostBypass: boolean;
}

/** The services the answer depends on (a route context or the services object has them). */
export interface RequestUserServices {
  readonly settings: ServerSettings;
  readonly loginTokens: LoginTokenService;
  readonly users: UserService;
}

/** The raw login token of a request: the `swarm_token` cookie, or the `X-Swarm-Token` header for API clients. */
export function requestToken(info: RequestCredentials): string | undefined {
  const header = info.headers['x-swarm-token'];
  return info.cookies[TOKEN_COOKIE] ?? (Array.isArray(header) ? header[0] : header);
}

/**
 * Checks a raw login token; a token made inside a session opened by impersonation is refused, and deleted with
 * its sessions, once its impersonator may no longer impersonate.
 */
export async function validLogin(s: RequestUserServices, raw: string | undefined): Promise<ValidLogin | null> {
  const login = await s.loginTokens.validate(raw);
  if (!login || login.impersonatedBy === null || (await s.users.mayImpersonate(login.impersonatedBy))) return login;
  await s.loginTokens.revoke(login.userId, login.tokenId);
  return null;
}

export async function resolveRequestUser(s: RequestUserServices, info: RequestCredentials): Promise<RequestUser | null> {
  if (s.settings.bool('UserAuthorization.AuthorizationRequired')) {
    const login = await validLogin(s, requestToken(info));
    if (login) return login;
    if (info.localhostBypass) {
      await s.users.ensure(LOCAL_USER_ID, ['owner']);
      return { userId: LOCAL_USER_ID, tokenId: null, impersonatedBy: null };
    }
    return null;
  }
  const header = info.headers['x-swarm-user_id'];
  const named = Array.isArray(header) ? header[0] : header;
  if (named !== undefined) {
    const userId = cleanUserId(named);
    const roles = userId === LOCAL_USER_ID ? ['owner'] : s.settings.list('DefaultUser.Roles');
    await s.users.ensure(userId, roles);
    return { userId, tokenId: null, impersonatedBy: null };
  }
  await s.users.ensure(LOCAL_USER_ID, ['owner']);
  return { userId: LOCAL_USER_ID, tokenId: null, impersonatedBy: null };
}
