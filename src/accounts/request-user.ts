// Who a request is (reference/01 §5.4-§5.5, with the bypass no longer overriding a real login).
import type { Core } from '../core.js';
import type { RequestInfo } from '../api/route.js';
import { TOKEN_COOKIE } from './login-tokens.js';
import { cleanUserId } from './names.js';

export interface RequestUser {
  userId: string;
  /** The login token that proved it; null for accounts-off and localhost-bypass users. */
  tokenId: string | null;
}

/** The raw login token of a request: the `swarm_token` cookie, or the `X-Swarm-Token` header for API clients. */
export function requestToken(info: RequestInfo): string | undefined {
  const header = info.headers['x-swarm-token'];
  return info.cookies[TOKEN_COOKIE] ?? (Array.isArray(header) ? header[0] : header);
}

export async function resolveRequestUser(core: Core, info: RequestInfo): Promise<RequestUser | null> {
  if (core.settings.bool('UserAuthorization.AuthorizationRequired')) {
    const login = await core.loginTokens.validate(requestToken(info));
    if (login) return { userId: login.userId, tokenId: login.tokenId };
    if (info.localhostBypass) {
      await core.users.ensure(core.localUserId, ['owner']);
      return { userId: core.localUserId, tokenId: null };
    }
    return null;
  }
  const header = info.headers['x-swarm-user_id'];
  const named = Array.isArray(header) ? header[0] : header;
  if (named !== undefined) {
    const userId = cleanUserId(named);
    const roles = userId === core.localUserId ? ['owner'] : core.settings.list('DefaultUser.Roles');
    await core.users.ensure(userId, roles);
    return { userId, tokenId: null };
  }
  await core.users.ensure(core.localUserId, ['owner']);
  return { userId: core.localUserId, tokenId: null };
}
