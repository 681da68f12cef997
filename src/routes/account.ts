// The account's own secrets: password change and upstream API keys (docs/COMPATIBILITY.md). Keys are never
// logged and no route returns them.
import { softError } from '../api/errors.js';
import { SUCCESS_OUTPUT, defineRoute } from '../api/route.js';
import { verifyPassword } from '../accounts/passwords.js';
import { RATE_LIMITS } from '../accounts/rate-limits.js';

const GROUP = 'BasicAPIFeatures';

export const changePassword = defineRoute({
  name: 'ChangePassword',
  group: GROUP,
  description:
    'Changes your password. Every other login and session of your account ends; the one making this call stays. An account made by signing in with a provider has no password: it sets one with any oldPassword (the web page sends an empty one), see GetMyOAuthLink\'s `has_password`.',
  nonFinal: true,
  permission: 'edit_user_settings',
  userUpdate: true,
  params: {
    oldPassword: { type: 'string', description: 'The current password, in the client prehash form (ignored when the account has no password yet).' },
    newPassword: { type: 'string', description: 'The new password, in the client prehash form (8 to 500 characters).' },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { oldPassword, newPassword }) {
    const { users, session } = ctx;
    if (newPassword.length < 8) throw softError('The new password must have at least 8 characters.');
    if (newPassword.length > 500) throw softError('The new password is too long: 500 characters at most.');
    // The attempt counts before the old password is checked, so guessing it is rate limited too.
    if (!(await ctx.rateLimits.tryUse(RATE_LIMITS.passwordChange, session.userId))) {
      throw softError('Too many password changes in a short time. Wait a minute, then try again.');
    }
    const user = await users.get(session.userId);
    if (!user) throw softError('Your account no longer exists.');
    if (user.passwordHash !== '' && !(await verifyPassword(user.id, oldPassword, user.passwordHash)).ok) {
      throw softError('The old password is not correct, so the password was not changed.');
    }
    await users.changeOwnPassword(user.id, newPassword, { sessionId: session.id, tokenId: session.originToken });
    return { success: true };
  },
});

export const getMyOAuthLink = defineRoute({
  name: 'GetMyOAuthLink',
  group: GROUP,
  description: 'Tells which provider e-mail your account signs in with, whether it has a password, and which providers you may link (docs/COMPATIBILITY.md#d51).',
  permission: 'read_user_settings',
  userUpdate: false,
  params: {},
  output: {
    email: { type: 'string', description: 'The linked provider e-mail, or empty.' },
    provider: { type: 'string', description: 'How it was linked: `google`, `oidc`, `admin`, or empty.' },
    has_password: { type: 'bool', description: 'Whether the account has a password; without one it signs in only through its provider.' },
    providers: {
      type: 'array',
      description: 'The providers configured on this server; link one by opening `/OAuth/Start/<id>?link=1` in the browser.',
      items: { type: 'object', description: 'One provider.', fields: { id: { type: 'string', description: '`google` or `oidc`.' }, name: { type: 'string', description: 'Its name on buttons.' } } },
    },
  },
  example: '"email": "alice@example.com", "provider": "oidc", "has_password": false, "providers": [{"id": "oidc", "name": "Keycloak"}]',
  async handler(ctx) {
    const link = await ctx.oauth.linkOf(ctx.session.userId);
    const user = await ctx.users.get(ctx.session.userId);
    return { email: link?.email ?? '', provider: link?.provider ?? '', has_password: (user?.passwordHash ?? '') !== '', providers: ctx.oauth.providers() };
  },
});

export const unlinkMyOAuth = defineRoute({
  name: 'UnlinkMyOAuth',
  group: GROUP,
  description: 'Removes the provider e-mail your account signs in with. Refused while the account has no password, since you could not sign in any more.',
  permission: 'edit_user_settings',
  userUpdate: true,
  params: {},
  output: SUCCESS_OUTPUT,
  async handler(ctx) {
    const { session } = ctx;
    const link = await ctx.oauth.linkOf(session.userId);
    if (!link) throw softError('Your account has no provider sign-in to remove.');
    const user = await ctx.users.get(session.userId);
    if (!user || user.passwordHash === '') throw softError('Your account has no password, so removing the provider sign-in would lock you out. Set a password under Change Password first (leave the old password empty).');
    await ctx.oauth.setLink(session.userId, '', 'self');
    await ctx.audit.record({ userId: session.userId, address: ctx.request.clientAddress, action: 'oauth.unlink', target: session.userId, detail: { email: link.email } });
    return { success: true };
  },
});

export const setAPIKey = defineRoute({
  name: 'SetAPIKey',
  group: GROUP,
  description: 'Stores (or with `none` removes) your key for an upstream service such as Civitai or Hugging Face.',
  permission: 'edit_user_settings',
  userUpdate: true,
  params: {
    keyType: { type: 'string', description: 'Which key: `stability_api`, `civitai_api`, `huggingface_api`, or a type an extension added.' },
    key: { type: 'string', description: 'The key itself; `none` or an empty text removes the stored key.' },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { keyType, key }) {
    const { apiKeys, session } = ctx;
    if (!apiKeys.types.accepts(keyType)) {
      const shown = keyType.length > 60 ? `${keyType.slice(0, 60)}...` : keyType;
      throw softError(`Unknown key type '${shown}'. Known types: ${apiKeys.types.acceptedTypes().join(', ')}.`);
    }
    if (key === 'none' || key.trim() === '') await apiKeys.remove(session.userId, keyType);
    else await apiKeys.set(session.userId, keyType, key);
    return { success: true };
  },
});

export const getAPIKeyStatus = defineRoute({
  name: 'GetAPIKeyStatus',
  group: GROUP,
  description: 'Tells whether you have stored a key of this type and when it was last set. Never returns the key.',
  permission: 'read_user_settings',
  userUpdate: false,
  params: { keyType: { type: 'string', description: 'Which key, as for SetAPIKey.' } },
  output: { status: { type: 'string', description: '`not set`, or `last updated YYYY-MM-DD HH:MM` (server local time).' } },
  example: '"status": "last updated 2025-01-31 14:05" // or "not set"',
  async handler(ctx, { keyType }) {
    const updated = await ctx.apiKeys.lastUpdated(ctx.session.userId, keyType);
    return { status: updated === null ? 'not set' : `last updated ${updated}` };
  },
});

export const ACCOUNT_ROUTES = [changePassword, setAPIKey, getAPIKeyStatus, getMyOAuthLink, unlinkMyOAuth];
