// Sessions, login, logout, registration and login tokens (docs/COMPATIBILITY.md: what the reference does and
// where swarmcore differs).
import { apiError, softError } from '../api/errors.js';
import { SUCCESS_OUTPUT, defineRoute, type RouteContext } from '../api/route.js';
import { TOKEN_COOKIE, TOKEN_COOKIE_SECONDS, parseToken, tokenAgent } from '../accounts/login-tokens.js';
import { RESERVED_USER_NAMES, cleanAccountName, cleanUserId } from '../accounts/names.js';
import { dummyVerify, verifyPassword } from '../accounts/passwords.js';
import { RATE_LIMITS } from '../accounts/rate-limits.js';
import { requestToken, resolveRequestUser } from '../accounts/request-user.js';

const GROUP = 'BasicAPIFeatures';

function accountsRequired(ctx: RouteContext): boolean {
  return ctx.settings.bool('UserAuthorization.AuthorizationRequired');
}

function requireAccounts(ctx: RouteContext): void {
  if (!accountsRequired(ctx)) throw softError('Accounts are not enabled on this server, so there are no login tokens.');
}

/** Both rate limits of Login and RegisterBasic; throws `ratelimit` when either is exhausted. */
async function consumeLoginAttempt(ctx: RouteContext, name: string): Promise<void> {
  const limits = ctx.rateLimits;
  if (!(await limits.tryUse(RATE_LIMITS.loginByAddress, ctx.request.clientAddress))) throw apiError('ratelimit');
  if (!(await limits.tryUse(RATE_LIMITS.loginByUser, name))) throw apiError('ratelimit');
}

/**
 * The checks both self-registrations make on a new user name, in the reference's order: its form (with
 * `badInput` for the route's other input), then the rate limits, then whether it may be taken. Returns the
 * cleaned name.
 */
async function claimableName(ctx: RouteContext, username: string, badInput: boolean): Promise<string> {
  const name = cleanAccountName(username);
  if (name.length < 3 || name.length > 100 || badInput) throw apiError('invalid_input');
  await consumeLoginAttempt(ctx, name);
  if (!/^[a-z]/.test(name) || RESERVED_USER_NAMES.has(name) || (await ctx.users.get(name))) throw apiError('username_exists');
  return name;
}

export const getNewSession = defineRoute({
  name: 'GetNewSession',
  group: GROUP,
  description: 'Creates a new session and returns it with basic user and server data. Call this before any other route; it needs no session itself.',
  sessionless: true,
  permission: null,
  userUpdate: false,
  params: {
    impersonateUser: { type: 'string', description: 'With the manage_users permission: open the session as this user instead.', default: null },
  },
  output: [
    {
      session_id: { type: 'string', description: 'The new session (52 hex characters); send it with every other call.' },
      user_id: { type: 'string', description: "The session's user." },
      output_append_user: { type: 'bool', description: 'The server setting Paths.AppendUserNameToOutputPath.' },
      version: { type: 'string', description: 'The server version.' },
      server_id: { type: 'string', description: 'A random id per server process; it changes on restart.' },
      permissions: { type: 'string[]', description: "The user's permission ids (`*` for all)." },
    },
    { error_id: { type: 'string', description: 'impersonateUser was refused.', values: ['bad_impersonate'] }, error: { type: 'string', description: 'The reason in words.' } },
  ],
  example: '"session_id": "52 hex characters",\n"user_id": "username",\n"output_append_user": true,\n"version": "1.2.3",\n"server_id": "uuid",\n"permissions": ["permission1", "permission2"]',
  async handler(ctx, { impersonateUser }) {
    const { users, sessions } = ctx;
    const who = await resolveRequestUser(ctx, ctx.request);
    if (!who) throw softError('You are not logged in, or your login has expired.');
    let userId = who.userId;
    // The session depends on whoever impersonated: this caller, or the one inside whose session the token was made.
    let impersonatedBy = who.impersonatedBy;
    if (impersonateUser !== null && impersonateUser.trim() !== '') {
      if (!(await users.mayImpersonate(who.userId))) throw apiError('bad_impersonate', 'You do not have permission to impersonate other users.');
      const target = await users.get(cleanUserId(impersonateUser));
      if (!target) throw apiError('bad_impersonate', 'There is no user by that name to impersonate.');
      userId = target.id;
      impersonatedBy = who.userId;
      await ctx.audit.record({ userId: who.userId, address: ctx.request.clientAddress, action: 'user.impersonate', target: target.id });
    }
    const access = await users.getAccess(userId);
    if (!access) throw softError('You are not logged in, or your login has expired.');
    const ip = ctx.request.ipString;
    const session = await sessions.create(userId, ip.length > 100 ? `${ip.slice(0, 100)}...` : ip, who.tokenId, impersonatedBy);
    return {
      session_id: session.id,
      user_id: userId,
      output_append_user: ctx.settings.bool('Paths.AppendUserNameToOutputPath'),
      version: ctx.server.version,
      server_id: ctx.server.serverId,
      permissions: access.permissionsJson,
    };
  },
});

export const login = defineRoute({
  name: 'Login',
  group: GROUP,
  description: 'Logs in with a user name and password and sets the swarm_token cookie. Meant for people in the web UI; scripts should use a token from CreateAuthToken.',
  nonFinal: true,
  sessionless: true,
  permission: null,
  userUpdate: false,
  params: {
    username: { type: 'string', description: 'Login user name.' },
    password: { type: 'string', description: 'Login password, in the client prehash form.' },
  },
  output: [{ success: { type: 'string', description: 'The text `true` (a string, as the reference sends it).', values: ['true'] } }, { error_id: { type: 'string', description: 'Why the login was refused (`internal_error`: the login token could not be stored).', values: ['invalid_login', 'ratelimit', 'internal_error'] } }],
  example: '"success": "true" // and sets a cookie\n// or\n"error_id": "invalid_login" // or "ratelimit"',
  async handler(ctx, { username, password }) {
    const { users } = ctx;
    if (!ctx.settings.bool('UserAuthorization.AllowSimplePasswordLogin')) throw apiError('invalid_login');
    const name = cleanAccountName(username);
    if (name.length < 3 || name.length > 100 || password.length < 8 || password.length > 500) throw apiError('invalid_login');
    await consumeLoginAttempt(ctx, name);
    const user = await users.get(name);
    // Unknown users and users without a password cost one full hash too, so timing tells nothing.
    const result = user && user.passwordHash !== '' ? await verifyPassword(user.id, password, user.passwordHash) : await dummyVerify(password);
    // Every attempt that passed the rate limits is recorded (the limits bound how many rows one caller writes);
    // the name as typed, never the password. Both outcomes write the same row, so timing tells nothing.
    const attempt = { userId: user?.id ?? null, attemptedName: username, address: ctx.request.clientAddress, target: user?.id ?? null };
    if (!user || !result.ok) {
      await ctx.audit.record({ ...attempt, action: 'login.failure' });
      throw apiError('invalid_login');
    }
    if (result.needsUpgrade) await users.upgradePasswordHash(user, password);
    const token = await ctx.loginTokens.create(user.id, ctx.request.ipString, tokenAgent(ctx.request.headers['user-agent']));
    // The user was deleted between the password check and now; the reference answers this with status 200.
    if (!token) throw apiError('internal_error', null, 200);
    await ctx.audit.record({ ...attempt, action: 'login.success' });
    ctx.response.setCookie(TOKEN_COOKIE, token.raw, { maxAgeSeconds: TOKEN_COOKIE_SECONDS });
    return { success: 'true' };
  },
});

export const logout = defineRoute({
  name: 'Logout',
  group: GROUP,
  description: 'Logs out: deletes the login token, ends every session created from it and clears the cookie.',
  nonFinal: true,
  permission: 'fundamental',
  userUpdate: true,
  params: {},
  output: { success: { type: 'string', description: 'The text `true` (a string, as the reference sends it).', values: ['true'] } },
  example: '"success": "true"',
  async handler(ctx) {
    const { session } = ctx;
    if (!accountsRequired(ctx)) throw softError('Accounts are not enabled on this server, so there is no account to log out of.');
    const tokenId = session.originToken ?? parseToken(requestToken(ctx.request))?.tokenId ?? null;
    if (tokenId === null) throw softError('You do not seem to be logged in.');
    await ctx.loginTokens.revoke(session.userId, tokenId);
    await ctx.sessions.end([session.id]);
    ctx.response.clearCookie(TOKEN_COOKIE);
    return { success: 'true' };
  },
});

export const registerBasic = defineRoute({
  name: 'RegisterBasic',
  group: GROUP,
  description: 'Creates an account with a user name and password, when the server allows self-registration. Does not log in.',
  nonFinal: true,
  sessionless: true,
  permission: null,
  userUpdate: false,
  params: {
    username: { type: 'string', description: 'The new user name (letters, digits and _; starts with a letter).' },
    password: { type: 'string', description: 'The new password, in the client prehash form.' },
  },
  output: [
    { success: { type: 'string', description: 'The text `true` (a string, as the reference sends it).', values: ['true'] } },
    { error_id: { type: 'string', description: 'Why the account was not created.', values: ['invalid_input', 'ratelimit', 'username_exists', 'registration_failed'] } },
    { error_id: { type: 'string', description: 'Self-registration is turned off.', values: ['registration_disabled'] }, error: { type: 'string', description: 'The reason in words.' } },
  ],
  example: '"success": "true"\n// or\n"error_id": "invalid_input" // or "ratelimit", "username_exists", "registration_failed", "registration_disabled"',
  async handler(ctx, { username, password }) {
    const s = ctx.settings;
    if (!s.bool('UserAuthorization.Registration.AllowRegistration') || !s.bool('UserAuthorization.Registration.SimplePasswordRegistration')) {
      throw apiError('registration_disabled');
    }
    const name = await claimableName(ctx, username, password.length < 8 || password.length > 500);
    const created = await ctx.users.register(name, password, [s.string('UserAuthorization.Registration.NewUserDefaultRole')], false);
    if (!created) throw apiError('username_exists');
    return { success: 'true' };
  },
});

export const registerOAuth = defineRoute({
  name: 'RegisterOAuth',
  group: GROUP,
  description:
    'Creates an account for a person who signed in with an OAuth / OpenID Connect provider whose e-mail no account has yet, with the user name they picked, links the e-mail and logs them in (sets the swarm_token cookie). Only the pick-a-user-name page can call it: the tracker key is shown there once and expires (docs/COMPATIBILITY.md#d49).',
  nonFinal: true,
  sessionless: true,
  permission: null,
  userUpdate: false,
  params: {
    username: { type: 'string', description: 'The new user name (letters, digits and _; starts with a letter).' },
    oauth_tracker_key: { type: 'string', description: 'The one-time key from the pick-a-user-name page.' },
    oauth_type: { type: 'string', description: 'The provider the key came from: `google` or `oidc`.' },
  },
  output: [
    { success: { type: 'string', description: 'The text `true` (a string, as the reference sends it).', values: ['true'] } },
    { error_id: { type: 'string', description: 'Why the account was not created (`invalid_input` also for an unknown, used or expired tracker key).', values: ['invalid_input', 'ratelimit', 'username_exists', 'registration_failed'] } },
    { error_id: { type: 'string', description: 'Registration through a provider is turned off.', values: ['registration_disabled'] }, error: { type: 'string', description: 'The reason in words.' } },
  ],
  example: '"success": "true" // and sets a cookie\n// or\n"error_id": "invalid_input" // or "ratelimit", "username_exists", "registration_failed", "registration_disabled"',
  async handler(ctx, { username, oauth_tracker_key, oauth_type }) {
    const s = ctx.settings;
    if (!ctx.oauth.registrationAllowed()) throw apiError('registration_disabled');
    const name = await claimableName(ctx, username, false);
    const address = ctx.request.clientAddress;
    // Taken here, once: of two calls with the same key (on any instance), one gets it.
    const tracker = await ctx.oauth.takeTracker(oauth_tracker_key);
    if (!tracker || tracker.provider !== oauth_type.trim().toLowerCase()) {
      if (tracker) await ctx.oauth.returnTracker(oauth_tracker_key, tracker);
      await ctx.audit.record({ userId: null, attemptedName: username, address, action: 'oauth.refused', detail: { reason: 'bad_tracker_key', provider: oauth_type.slice(0, 20) } });
      throw apiError('invalid_input');
    }
    const created = await ctx.users.register(name, '', [s.string('UserAuthorization.Registration.NewUserDefaultRole')], false);
    if (!created) {
      await ctx.oauth.returnTracker(oauth_tracker_key, tracker);
      throw apiError('username_exists');
    }
    if ((await ctx.oauth.setLink(name, tracker.email, tracker.provider)) !== 'ok') {
      // Someone linked the e-mail to another account meanwhile: the new account stays without a provider login.
      await ctx.users.delete(name, false);
      throw apiError('registration_failed');
    }
    await ctx.audit.record({ userId: name, address, action: 'oauth.register', target: name, detail: { provider: tracker.provider, email: tracker.email } });
    const token = await ctx.loginTokens.create(name, ctx.request.ipString, tokenAgent(ctx.request.headers['user-agent']));
    if (!token) throw apiError('internal_error', null, 200);
    ctx.response.setCookie(TOKEN_COOKIE, token.raw, { maxAgeSeconds: TOKEN_COOKIE_SECONDS });
    return { success: 'true' };
  },
});

export const createAuthToken = defineRoute({
  name: 'CreateAuthToken',
  group: GROUP,
  description: 'Creates a login token for scripts and bots. The token is shown once; send it as the swarm_token cookie (or X-Swarm-Token header) to GetNewSession.',
  permission: 'edit_user_settings',
  userUpdate: true,
  params: { reason: { type: 'string', description: 'What the token is for (1 to 500 characters); shown in the token list.' } },
  output: { token: { type: 'string', description: 'The new login token, `<user hex>.<id>.<secret>`; shown only this once.' } },
  example: '"token": "<user hex>.<id>.<secret>"',
  async handler(ctx, { reason }) {
    requireAccounts(ctx);
    if (reason.trim() === '' || reason.length > 500) throw softError('The reason must be between 1 and 500 characters.');
    const token = await ctx.users.createLoginToken(ctx.session, ctx.request.ipString, reason);
    if (!token) throw softError('The token could not be created.');
    return { token: token.raw };
  },
});

export const listMyAuthTokens = defineRoute({
  name: 'ListMyAuthTokens',
  group: GROUP,
  description: "Lists the user's login tokens (browser logins and tokens made for scripts).",
  permission: 'read_user_settings',
  userUpdate: false,
  params: {},
  output: {
    tokens: {
      type: 'array',
      description: "The user's login tokens, oldest first.",
      items: {
        type: 'object',
        description: 'One login token (never its secret).',
        fields: {
          id: { type: 'string', description: 'The token id (32 hex characters), for RevokeMyAuthToken.' },
          created: { type: 'long', description: 'When it was made, in Unix seconds.' },
          last_active: { type: 'long', description: 'When it was last used, in Unix seconds.' },
          user_agent: { type: 'string', description: 'The browser that logged in, or the reason given to CreateAuthToken; `unknown` if none.' },
          origin_address: { type: 'string', description: 'The address it was made from; `unknown` if none.' },
          is_current: { type: 'bool', description: 'True for the token this request logged in with.' },
        },
      },
    },
  },
  example: '"tokens": [{"id": "...", "created": 1700000000, "last_active": 1700000000, "user_agent": "...", "origin_address": "...", "is_current": true}]',
  async handler(ctx) {
    requireAccounts(ctx);
    const current = ctx.session.originToken ?? parseToken(requestToken(ctx.request))?.tokenId ?? null;
    const tokens = await ctx.loginTokens.list(ctx.session.userId);
    return {
      tokens: tokens.map((t) => ({
        id: t.id,
        created: t.createdAt,
        last_active: t.lastActive,
        user_agent: t.userAgent || 'unknown',
        origin_address: t.originAddress || 'unknown',
        is_current: t.id === current,
      })),
    };
  },
});

export const revokeMyAuthToken = defineRoute({
  name: 'RevokeMyAuthToken',
  group: GROUP,
  description: 'Deletes one of your login tokens; every session created from it ends.',
  permission: 'edit_user_settings',
  userUpdate: true,
  params: { tokenId: { type: 'string', description: 'The token id, as ListMyAuthTokens shows it.' } },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { tokenId }) {
    requireAccounts(ctx);
    if (!(await ctx.loginTokens.revoke(ctx.session.userId, tokenId))) throw softError('You have no token with that id.');
    return { success: true };
  },
});

export const AUTH_ROUTES = [getNewSession, login, logout, registerBasic, registerOAuth, createAuthToken, listMyAuthTokens, revokeMyAuthToken];
