// Administrative routes: accounts, roles, permissions, connected users, global status and server settings, with
// the reference's names, parameters, permissions and answers (docs/COMPATIBILITY.md#administration), plus the
// audit log (docs/COMPATIBILITY.md#d30) and the Server section's user list (docs/COMPATIBILITY.md#d42). Where the
// reference is unsafe swarmcore is not (D37 to D41): a password reset or a deletion ends every login of the user
// everywhere, the last account holding manage_users stays, built-in roles stay, and server settings are checked as
// a whole before any is stored.
import { softError } from '../api/errors.js';
import type { Field, Fields } from '../api/params.js';
import { SUCCESS_OUTPUT, defineRoute, type SessionContext } from '../api/route.js';
import { cleanAccountName } from '../accounts/names.js';
import { LastManagerError } from '../accounts/roles.js';
import { checkUserSettingChanges, renderUserSettings } from '../accounts/user-settings.js';
import type { SettingDef, SettingValue } from '../settings/server-settings.js';
import { addCounts, zeroCounts, type WorkCounts } from '../generation/session-work.js';
import { CURRENT_STATUS_OUTPUT, GENERATION_COUNT_FIELDS } from './status.js';
import { optionSources } from './user-settings.js';

const GROUP = 'AdminAPI';
const NO_USER = 'No user by that name exists.';
const NO_ROLE = 'No role by that name exists.';
/** What ListServerSettings shows instead of a secret value; ChangeServerSettings leaves a setting sent back as this unchanged. */
const SECRET_SHOWN = '\t<secret>';
/** ListConnectedUsers shows sessions used this recently (and users with work). */
const PRESENT_SECONDS = 3 * 60;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Records an administrative action by the caller (who impersonated, if anyone, goes into the detail). */
async function audit(ctx: SessionContext, action: string, target: string | null, detail: Record<string, unknown> = {}): Promise<void> {
  const by = ctx.session.impersonatedBy;
  await ctx.audit.record({ userId: ctx.session.userId, address: ctx.request.clientAddress, action, target, detail: by === null ? detail : { ...detail, impersonated_by: by } });
}

/** The reference's error shape for a refused change that would leave nobody able to manage users. */
function lastManager(err: unknown): never {
  if (err instanceof LastManagerError) throw softError(err.message);
  throw err;
}

const NAME_PARAM = (what: string) => ({ name: { type: 'string', description: what } }) as const;

const SETTING_FIELDS: Fields = {
  type: { type: 'string', description: 'The value type (`text`, `integer`, `decimal`, `boolean`, `dropdown`, `list`) or `group`.' },
  name: { type: 'string', description: 'Its display name.' },
  value: { type: 'any', description: 'The current value (a list as `a || b`; a secret as a tab and `<secret>`; a group: its settings, keyed the same way).' },
  description: { type: 'string', description: 'What it does.' },
  values: { type: 'string[]', nullable: true, description: 'The choices of a dropdown; null otherwise.' },
  value_names: { type: 'string[]', nullable: true, description: 'The display names of `values`.' },
  is_secret: { type: 'bool', description: 'Whether the value is hidden.' },
  default_value: { type: 'any', optional: true, description: 'The default (not on groups and secrets).' },
};
const SETTINGS_MAP: Field = { type: 'map', key: '<setting id>', description: 'The settings tree, keyed by lower-case name.', values: { type: 'object', description: 'One setting, or a group of them.', fields: SETTING_FIELDS } };

export const adminListUsers = defineRoute({
  name: 'AdminListUsers',
  group: GROUP,
  description: 'Returns the id of every user, sorted.',
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: false,
  params: {},
  output: { users: { type: 'string[]', description: 'Every user id, sorted.' } },
  example: '"users": ["user1", "user2"]',
  async handler(ctx) {
    return { users: await ctx.users.listIds() };
  },
});

export const adminListUserSummaries = defineRoute({
  name: 'AdminListUserSummaries',
  group: GROUP,
  description: "Returns every user with roles, creation time and last activity, sorted by id: the Server section's list (not in the reference).",
  permission: 'manage_users',
  userUpdate: false,
  params: {},
  output: {
    users: {
      type: 'array',
      description: 'Every user, sorted by id.',
      items: {
        type: 'object',
        description: 'One user.',
        fields: {
          id: { type: 'string', description: 'The user id.' },
          roles: { type: 'string[]', description: 'Role ids, in the user\'s order.' },
          created: { type: 'long', description: 'When the account was created, in Unix seconds.' },
          last_used: { type: 'long', nullable: true, description: 'The latest activity of a session or login token the user still has, in Unix seconds; null when there is none.' },
        },
      },
    },
  },
  example: '"users": [{"id": "alice", "roles": ["user"], "created": 1700000000, "last_used": 1700003600}]',
  async handler(ctx) {
    return { users: (await ctx.users.listSummaries()).map((u) => ({ id: u.id, roles: u.roles, created: u.createdAt, last_used: u.lastActive })) };
  },
});

export const adminAddUser = defineRoute({
  name: 'AdminAddUser',
  group: GROUP,
  description: 'Creates an account with a password and one role.',
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: true,
  params: {
    ...NAME_PARAM('The name of the new user (only A-Z, a-z, 0-9 and _ are kept; lower-cased).'),
    password: { type: 'string', description: 'The initial password, in the client prehash form.' },
    role: { type: 'string', description: 'The role of the new user.' },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name, password, role }) {
    const id = cleanAccountName(name);
    if (id.length < 3) throw softError('Username must be at least 3 characters long, A-Z 0-9 only.');
    if (password.length < 8) throw softError('Password must be at least 8 characters long.');
    if (id.length > 70 || password.length > 500) throw softError('Username or password too long.');
    if (!(await ctx.roles.get(role))) throw softError(NO_ROLE);
    if (!(await ctx.users.register(id, password, [role], true))) throw softError('A user by that name already exists, or registration failed.');
    await audit(ctx, 'user.add', id, { role });
    return { success: true };
  },
});

export const adminSetUserPassword = defineRoute({
  name: 'AdminSetUserPassword',
  group: GROUP,
  description: "Sets a user's password (blank removes it). Every session and login token of that user ends, on every instance.",
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: true,
  params: { ...NAME_PARAM('The name of the user.'), password: { type: 'string', description: 'The new password, in the client prehash form; blank removes the password.' } },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name, password }) {
    if (!(await ctx.users.get(name))) throw softError(NO_USER);
    const clear = password.trim() === '';
    if (!clear && password.length < 8) throw softError('Password must be at least 8 characters long.');
    if (!clear && password.length > 500) throw softError('Password too long.');
    if (!(await ctx.users.setPassword(name, clear ? '' : password))) throw softError(NO_USER);
    await audit(ctx, 'user.set_password', name, { cleared: clear });
    return { success: true };
  },
});

export const adminChangeUserSettings = defineRoute({
  name: 'AdminChangeUserSettings',
  group: GROUP,
  description: "Changes a user's settings, roles included. Every entry is checked first; if one is wrong, nothing changes. Unknown ids are ignored.",
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: true,
  params: {
    ...NAME_PARAM('The name of the user.'),
    settings: {
      type: 'object',
      description: 'Dotted setting id (any letter case) to its new value; `roles` takes a list or comma-separated role ids.',
      shape: { type: 'map', key: '<setting id>', description: 'The changes.', values: { type: 'any', description: "The new value, of the setting's type." } },
    },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name, settings }) {
    if (!(await ctx.users.get(name))) throw softError(NO_USER);
    const check = checkUserSettingChanges(settings, await optionSources(ctx), (id) => ctx.userSettings.get(id), true);
    if (!check.ok) throw softError(check.message);
    const { roles, ...rest } = check.changes;
    let newRoles: string[] | null = null;
    if (roles !== undefined) {
      newRoles = roles as string[];
      const known = await ctx.roles.all();
      const unknown = newRoles.find((r) => !known.has(r));
      if (unknown !== undefined) throw softError(`There is no role '${unknown.length > 60 ? `${unknown.slice(0, 60)}...` : unknown}'.`);
    }
    if (roles === undefined && Object.keys(rest).length === 0) return { success: true };
    const ok = await ctx.users.adminChange(name, rest, newRoles).catch(lastManager);
    if (!ok) throw softError(NO_USER);
    await audit(ctx, 'user.change_settings', name, { settings: Object.keys(rest), ...(newRoles ? { roles: newRoles } : {}) });
    return { success: true };
  },
});

export const adminDeleteUser = defineRoute({
  name: 'AdminDeleteUser',
  group: GROUP,
  description: 'Deletes an account with its sessions, login tokens, presets and data; its sessions end on every instance. The last account that can manage users cannot be deleted.',
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: true,
  params: NAME_PARAM('The name of the user to delete.'),
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name }) {
    if (!(await ctx.users.get(name))) throw softError(NO_USER);
    if (name === ctx.session.userId) throw softError('You may not delete yourself.');
    if (!(await ctx.users.delete(name).catch(lastManager))) throw softError(NO_USER);
    await audit(ctx, 'user.delete', name);
    return { success: true };
  },
});

export const adminGetUserInfo = defineRoute({
  name: 'AdminGetUserInfo',
  group: GROUP,
  description: 'Returns what an administrator may know of a user: who set the password, the settings (roles included) and the generation limit.',
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: false,
  params: NAME_PARAM('The name of the user.'),
  output: {
    user_id: { type: 'string', description: 'The user id.' },
    password_set_by_admin: { type: 'bool', description: 'True when an administrator (or the command line) set the password.' },
    settings: { ...SETTINGS_MAP, description: "The user's settings, as GetUserSettings shows them, with `roles`." },
    oauth_email: { type: 'string', description: 'The provider e-mail the user signs in with (AdminSetUserOAuthEmail, RegisterOAuth), or empty.' },
    max_t2i: { type: 'int', description: "The most generations the user may run at once: the highest of the user's roles (at least 1)." },
  },
  example: '"user_id": "alice",\n"password_set_by_admin": true,\n"settings": {...},\n"oauth_email": "",\n"max_t2i": 32',
  async handler(ctx, { name }) {
    const user = await ctx.users.get(name);
    if (!user) throw softError(NO_USER);
    const roles = await ctx.roles.all();
    const maxT2i = Math.max(1, ...user.roles.map((r) => roles.get(r)?.maxT2ISimultaneous ?? 0));
    return {
      user_id: user.id,
      password_set_by_admin: user.passwordSetByAdmin,
      settings: renderUserSettings({ ...user.settings, roles: user.roles }, ctx.settings, await optionSources(ctx), ctx.userSettings.tree(), true),
      oauth_email: (await ctx.oauth.linkOf(user.id))?.email ?? '',
      max_t2i: maxT2i,
    };
  },
});

export const adminSetUserOAuthEmail = defineRoute({
  name: 'AdminSetUserOAuthEmail',
  group: GROUP,
  description:
    "Sets the OAuth / OpenID Connect e-mail a user signs in with (any configured provider vouching for it signs them in), or with an empty email removes it. An e-mail linked to another account is refused and nothing changes (docs/COMPATIBILITY.md#d50).",
  nonFinal: true,
  permission: 'manage_users',
  userUpdate: true,
  params: { ...NAME_PARAM('The name of the user.'), email: { type: 'string', description: 'The OAuth e-mail to set for the user, or an empty text to clear it.' } },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name, email }) {
    if (!(await ctx.users.get(name))) throw softError(NO_USER);
    const clean = email.trim().toLowerCase();
    if (clean !== '' && (clean.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(clean))) throw softError('That is not an e-mail address.');
    const result = await ctx.oauth.setLink(name, clean, 'admin');
    if (result === 'no_user') throw softError(NO_USER);
    if (result === 'taken') throw softError('That OAuth email is already linked to another account.');
    await audit(ctx, 'user.set_oauth_email', name, { email: clean });
    return { success: true };
  },
});

export const adminInterruptUser = defineRoute({
  name: 'AdminInterruptUser',
  group: GROUP,
  description: "Stops the generations of every session of a user, on every instance.",
  nonFinal: true,
  permission: 'interrupt_others',
  userUpdate: true,
  params: NAME_PARAM('The name of the user to interrupt.'),
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name }) {
    if (!(await ctx.users.get(name))) throw softError(NO_USER);
    const sessions = await ctx.generation.interruptUser(name);
    await audit(ctx, 'user.interrupt', name, { interrupted: sessions });
    return { success: true };
  },
});

const ROLE_FIELDS: Fields = {
  name: { type: 'string', description: 'Display name.' },
  description: { type: 'string', description: 'What the role is for.' },
  max_outpath_depth: { type: 'int', description: 'How deep output paths may go.' },
  is_auto_generated: { type: 'bool', description: 'True for the built-in roles, which cannot be deleted.' },
  model_whitelist: { type: 'string[]', description: 'Models the role may use (empty: any).' },
  model_blacklist: { type: 'string[]', description: 'Models the role may not use.' },
  permissions: { type: 'string[]', description: 'Permission ids, in stored order.' },
  max_t2i_simultaneous: { type: 'int', description: 'How many generations a user of this role may run at once.' },
  allow_unsafe_outpaths: { type: 'bool', description: 'Whether unsafe output paths are allowed.' },
};

export const adminListRoles = defineRoute({
  name: 'AdminListRoles',
  group: GROUP,
  description: 'Returns every role with its settings and permissions, in creation order.',
  nonFinal: true,
  permission: 'configure_roles',
  userUpdate: false,
  params: {},
  output: { roles: { type: 'map', key: '<role id>', description: 'Every role.', values: { type: 'object', description: 'One role.', fields: ROLE_FIELDS } } },
  example: '"roles": {"user": {"name": "User", "description": "...", "max_outpath_depth": 5, "is_auto_generated": true, "model_whitelist": [], "model_blacklist": [], "permissions": ["first", "second"], "max_t2i_simultaneous": 32, "allow_unsafe_outpaths": false}}',
  async handler(ctx) {
    const roles: Record<string, unknown> = {};
    for (const r of (await ctx.roles.all()).values()) {
      roles[r.id] = {
        name: r.name,
        description: r.description,
        max_outpath_depth: r.maxOutPathDepth,
        is_auto_generated: r.isAutoGenerated,
        model_whitelist: [...r.modelWhitelist],
        model_blacklist: [...r.modelBlacklist],
        permissions: [...r.permissions],
        max_t2i_simultaneous: r.maxT2ISimultaneous,
        allow_unsafe_outpaths: r.allowUnsafeOutpaths,
      };
    }
    return { roles };
  },
});

export const adminAddRole = defineRoute({
  name: 'AdminAddRole',
  group: GROUP,
  description: 'Creates a role without permissions. Its id is the name with only A-Z, a-z, 0-9 and _ kept, lower-cased.',
  nonFinal: true,
  permission: 'configure_roles',
  userUpdate: true,
  params: NAME_PARAM('The name of the new role.'),
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name }) {
    const id = cleanAccountName(name);
    if (id.length < 3) throw softError('Role name must be at least 3 characters long, A-Z 0-9 only.');
    if (id.length > 70 || name.length > 200) throw softError('Role name too long.');
    if (!(await ctx.roles.create(id, name))) throw softError('A role by that name already exists.');
    await audit(ctx, 'role.add', id, { name });
    return { success: true };
  },
});

const splitList = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

export const adminEditRole = defineRoute({
  name: 'AdminEditRole',
  group: GROUP,
  description: "Replaces a role's description, limits, model lists and permissions. Takes effect on each affected user's next call, on every instance. The owner role keeps `*`; a change that would leave no account able to manage users is refused.",
  nonFinal: true,
  permission: 'configure_roles',
  userUpdate: true,
  params: {
    ...NAME_PARAM('The role id.'),
    description: { type: 'string', description: 'The description text for the role.' },
    max_outpath_depth: { type: 'int', description: 'The maximum output path depth.' },
    max_t2i_simultaneous: { type: 'int', description: 'The maximum number of simultaneous generations.' },
    allow_unsafe_outpaths: { type: 'bool', description: 'Whether to allow unsafe output paths.' },
    model_whitelist: { type: 'string', description: 'Comma-separated model names the role may use.' },
    model_blacklist: { type: 'string', description: 'Comma-separated model names the role may not use.' },
    permissions: { type: 'string', description: 'Comma-separated permission ids.' },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, p) {
    if (p.description.length > 2000 || p.model_whitelist.length > 100_000 || p.model_blacklist.length > 100_000 || p.permissions.length > 100_000) throw softError('A value is too long.');
    const permissions = splitList(p.permissions);
    const edit = {
      description: p.description,
      maxOutPathDepth: p.max_outpath_depth,
      maxT2ISimultaneous: p.max_t2i_simultaneous,
      allowUnsafeOutpaths: p.allow_unsafe_outpaths,
      modelWhitelist: splitList(p.model_whitelist),
      modelBlacklist: splitList(p.model_blacklist),
      permissions,
    };
    const result = await ctx.roles.edit(p.name, edit).catch(lastManager);
    if (result === 'missing') throw softError(NO_ROLE);
    await audit(ctx, 'role.edit', p.name, { permissions, max_outpath_depth: p.max_outpath_depth, max_t2i_simultaneous: p.max_t2i_simultaneous, allow_unsafe_outpaths: p.allow_unsafe_outpaths });
    return { success: true };
  },
});

export const adminDeleteRole = defineRoute({
  name: 'AdminDeleteRole',
  group: GROUP,
  description: 'Deletes a custom role and takes it from every user who had it (one transaction). Built-in roles cannot be deleted.',
  nonFinal: true,
  permission: 'configure_roles',
  userUpdate: true,
  params: NAME_PARAM('The role id.'),
  output: SUCCESS_OUTPUT,
  async handler(ctx, { name }) {
    const result = await ctx.roles.remove(name).catch(lastManager);
    if (result === 'missing') throw softError(NO_ROLE);
    if (result === 'builtin') throw softError('That role is an auto-generated core role and cannot be deleted.');
    await audit(ctx, 'role.delete', name, { users: result.users.slice(0, 50), user_count: result.users.length });
    return { success: true };
  },
});

export const adminListPermissions = defineRoute({
  name: 'AdminListPermissions',
  group: GROUP,
  description: 'Returns every registered permission with its group, default level and safety level, and the canonical order.',
  nonFinal: true,
  permission: 'configure_roles',
  userUpdate: false,
  params: {},
  output: {
    permissions: {
      type: 'map',
      key: '<permission id>',
      description: 'Every permission.',
      values: {
        type: 'object',
        description: 'One permission.',
        fields: {
          name: { type: 'string', description: 'Display name.' },
          description: { type: 'string', description: 'What it allows.' },
          default: { type: 'string', description: 'The lowest built-in role level that gets it by default.', values: ['NOBODY', 'ADMINS', 'POWERUSERS', 'USER', 'GUEST'] },
          group: { type: 'object', description: 'Its group.', fields: { name: { type: 'string', description: 'Group name.' }, description: { type: 'string', description: 'Group description.' } } },
          safety_level: { type: 'string', description: 'How dangerous it is.', values: ['POWERFUL', 'RISKY', 'UNTESTED', 'SAFE'] },
          alt_safety_text: { type: 'string', nullable: true, description: 'A warning in words, or null.' },
        },
      },
    },
    ordered: { type: 'string[]', description: 'Every permission id in canonical order.' },
  },
  example: '"permissions": {"perm_name": {"name": "Perm Name", "description": "...", "default": "USER", "group": {"name": "My Group", "description": "..."}, "safety_level": "UNTESTED", "alt_safety_text": null}},\n"ordered": ["perm_name"]',
  handler(ctx) {
    const permissions: Record<string, unknown> = {};
    for (const p of ctx.permissions.all()) {
      permissions[p.id] = { name: p.name, description: p.description, default: p.default, group: { name: p.group.name, description: p.group.description }, safety_level: p.safety, alt_safety_text: p.altSafetyText };
    }
    return { permissions, ordered: [...ctx.permissions.ordered()] };
  },
});

/** "5 seconds", "3 minutes", "2 hours", "4 days". */
function ago(seconds: number): string {
  const unit = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (seconds < 60) return unit(seconds, 'second');
  if (seconds < 3600) return unit(Math.floor(seconds / 60), 'minute');
  if (seconds < 86400) return unit(Math.floor(seconds / 3600), 'hour');
  return unit(Math.floor(seconds / 86400), 'day');
}

export const listConnectedUsers = defineRoute({
  name: 'ListConnectedUsers',
  group: GROUP,
  description: 'Returns the users with a session used in the last 3 minutes, or with generations under way, on this instance.',
  permission: 'read_server_info_panels',
  userUpdate: false,
  params: {},
  output: {
    users: {
      type: 'array',
      description: 'Connected users, sorted by id.',
      items: {
        type: 'object',
        description: 'One user.',
        fields: {
          id: { type: 'string', description: 'The user id.' },
          last_active_seconds: { type: 'double', description: 'Seconds since the user last made a call.' },
          active_sessions: { type: 'array', description: 'Where the recently used sessions come from.', items: { type: 'object', description: 'One address.', fields: { address: { type: 'string', description: 'The origin address.' }, count: { type: 'int', description: 'How many sessions.' } } } },
          last_active: { type: 'string', description: '`<time> ago`.' },
          ...GENERATION_COUNT_FIELDS,
        },
      },
    },
  },
  example: '"users": [{"id": "alice", "last_active_seconds": 0, "active_sessions": [{"address": "127.0.0.1", "count": 1}], "last_active": "10 seconds ago", "waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0}]',
  handler(ctx) {
    const now = nowSeconds();
    const byUser = new Map<string, { last: number; addresses: Map<string, number>; counts: WorkCounts }>();
    for (const s of ctx.sessions.liveSessions()) {
      let u = byUser.get(s.userId);
      if (!u) {
        u = { last: 0, addresses: new Map(), counts: zeroCounts() };
        byUser.set(s.userId, u);
      }
      u.last = Math.max(u.last, s.lastUsed);
      addCounts(u.counts, ctx.generation.countsOf(s.key));
      if (now - s.lastUsed < PRESENT_SECONDS) u.addresses.set(s.originAddress, (u.addresses.get(s.originAddress) ?? 0) + 1);
    }
    const users = [...byUser.entries()]
      .filter(([, u]) => now - u.last <= PRESENT_SECONDS || Object.values(u.counts).some((n) => n > 0))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, u]) => {
        const idle = Math.max(0, now - u.last);
        return {
          id,
          last_active_seconds: idle,
          active_sessions: [...u.addresses].map(([address, count]) => ({ address, count })),
          last_active: `${ago(idle)} ago`,
          ...u.counts,
        };
      });
    return { users };
  },
});

export const getGlobalStatus = defineRoute({
  name: 'GetGlobalStatus',
  group: GROUP,
  description: "Returns the generation counters of every session on this instance together, the backends' overall state and the features they support.",
  nonFinal: true,
  permission: 'read_server_info_panels',
  userUpdate: false,
  params: {},
  output: CURRENT_STATUS_OUTPUT,
  example: '"status": {"waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0},\n"backend_status": {"status": "running", "class": "", "message": "", "any_loading": false},\n"supported_features": ["feature_id1", "feature_id2"]',
  handler(ctx) {
    return ctx.generation.globalStatus();
  },
});

const SETTING_TYPE_NAMES = { bool: 'boolean', int: 'integer', decimal: 'decimal', string: 'text', 'string[]': 'list' } as const;
const shown = (v: SettingValue): unknown => (Array.isArray(v) ? v.join(' || ') : v);

/** The server settings as a tree of groups keyed by lower-case name, as the reference lists its settings. */
function renderServerSettings(defs: readonly SettingDef[], valueOf: (key: string) => SettingValue): Record<string, unknown> {
  interface Group {
    type: 'group';
    name: string;
    value: Record<string, unknown>;
    description: string;
    values: null;
    value_names: null;
    is_secret: false;
  }
  const root: Record<string, unknown> = {};
  for (const def of defs) {
    const parts = def.key.split('.');
    let level = root;
    for (const part of parts.slice(0, -1)) {
      const k = part.toLowerCase();
      let group = level[k] as Group | undefined;
      if (!group) {
        group = { type: 'group', name: part, value: {}, description: '', values: null, value_names: null, is_secret: false };
        level[k] = group;
      }
      level = group.value;
    }
    const name = parts[parts.length - 1]!;
    const secret = def.secret === true;
    const entry: Record<string, unknown> = {
      type: def.values ? 'dropdown' : SETTING_TYPE_NAMES[def.type],
      name,
      value: secret ? SECRET_SHOWN : shown(valueOf(def.key)),
      description: def.description,
      values: def.values ? [...def.values] : null,
      value_names: def.values ? [...def.values] : null,
      is_secret: secret,
    };
    if (!secret) entry.default_value = shown(def.default);
    level[name.toLowerCase()] = entry;
  }
  return root;
}

export const listServerSettings = defineRoute({
  name: 'ListServerSettings',
  group: GROUP,
  description: 'Returns the server settings with their types, current values, defaults and descriptions, as a tree of groups.',
  permission: 'read_server_settings',
  userUpdate: false,
  params: {},
  output: { settings: SETTINGS_MAP },
  example: '"settings": {"userauthorization": {"type": "group", "name": "UserAuthorization", "value": {"authorizationrequired": {"type": "boolean", "name": "AuthorizationRequired", "value": false, "description": "...", "values": null, "value_names": null, "is_secret": false, "default_value": false}}, ...}}',
  handler(ctx) {
    return { settings: renderServerSettings(ctx.settings.all(), (k) => ctx.settings.get(k)) };
  },
});

export const changeServerSettings = defineRoute({
  name: 'ChangeServerSettings',
  group: GROUP,
  description: "Changes server settings on every instance. Every entry is checked first (known setting, its type, its allowed values); if one is wrong, nothing changes and the error names it. A secret sent back as ListServerSettings shows it is left unchanged.",
  permission: 'edit_server_settings',
  userUpdate: true,
  params: {
    settings: {
      type: 'object',
      description: 'Dotted setting id (any letter case, e.g. `userauthorization.logintokenidledays`) to its new value.',
      shape: { type: 'map', key: '<setting id>', description: 'The changes.', values: { type: 'any', description: "The new value, of the setting's type (a list as an array or comma-separated text)." } },
    },
  },
  output: SUCCESS_OUTPUT,
  async handler(ctx, { settings }) {
    const changes: Record<string, unknown> = {};
    const shownDetail: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(settings)) {
      const def = ctx.settings.find(key);
      const label = key.length > 80 ? `${key.slice(0, 80)}...` : key;
      if (!def) throw softError(`Unknown setting '${label}': nothing was changed.`);
      if (def.secret && value === SECRET_SHOWN) continue;
      if (value === null || value === undefined) throw softError(`The setting '${def.key}' needs a value: nothing was changed.`);
      let checked: SettingValue;
      try {
        checked = await ctx.settings.validate(def.key, value);
      } catch (err) {
        throw softError(`${(err as Error).message}: nothing was changed.`);
      }
      if (def.key === 'UserAuthorization.AuthorizationRequired' && checked === true) {
        const me = await ctx.users.get(ctx.session.userId);
        if (!me || me.passwordHash === '') {
          throw softError("Tried to enable authorization mode, but your account does not have a password. Configure your account login information before enabling authorization, so you don't get locked out.");
        }
      }
      changes[def.key] = checked;
      shownDetail[def.key] = def.secret ? '(secret)' : checked;
    }
    const keys = await ctx.settings.setMany(changes);
    if (keys.length > 0) {
      ctx.log.warn({ userId: ctx.session.userId, settings: keys }, 'server settings changed');
      await audit(ctx, 'settings.change', keys.length === 1 ? keys[0]! : null, { settings: shownDetail });
    }
    return { success: true };
  },
});

export const adminListAuditLog = defineRoute({
  name: 'AdminListAuditLog',
  group: GROUP,
  description: 'Returns audit log entries, newest first: administrative actions and login results (not in the reference).',
  permission: 'view_audit_log',
  userUpdate: false,
  params: {
    user: { type: 'string', description: 'Only entries by or about this user id.', default: null },
    since: { type: 'long', description: 'Only entries at or after this time (Unix seconds).', default: null },
    before: { type: 'long', description: 'Only entries older than this `seq` (to page back).', default: null },
    limit: { type: 'int', description: 'At most this many entries (1 to 1000).', default: 100 },
  },
  output: {
    entries: {
      type: 'array',
      description: 'The entries, newest first.',
      items: {
        type: 'object',
        description: 'One entry.',
        fields: {
          seq: { type: 'long', description: 'Its place in the log.' },
          time: { type: 'long', description: 'When, in Unix seconds.' },
          user_id: { type: 'string', nullable: true, description: 'Who acted; null for the command line and failed logins with an unknown name.' },
          attempted_name: { type: 'string', nullable: true, description: 'Logins: the name as typed (at most 100 characters).' },
          address: { type: 'string', description: 'The client address, or `cli`.' },
          action: { type: 'string', description: 'What was done, e.g. `login.success`, `login.failure`, `user.add`, `user.delete`, `user.impersonate`, `role.edit`, `settings.change` (docs/COMPATIBILITY.md#d30 lists them all).' },
          target: { type: 'string', nullable: true, description: 'The user, role or setting acted on.' },
          detail: { type: 'any', description: 'A small JSON object; never a password, token or session id.' },
        },
      },
    },
  },
  example: '"entries": [{"seq": 12, "time": 1700000000, "user_id": "alice", "attempted_name": null, "address": "127.0.0.1", "action": "user.delete", "target": "bob", "detail": {}}]',
  async handler(ctx, { user, since, before, limit }) {
    const entries = await ctx.audit.list({ ...(user !== null ? { userId: user } : {}), ...(since !== null ? { since } : {}), ...(before !== null ? { before } : {}), limit });
    return {
      entries: entries.map((e) => ({ seq: e.seq, time: e.at, user_id: e.userId, attempted_name: e.attemptedName, address: e.address, action: e.action, target: e.target, detail: e.detail })),
    };
  },
});

export const ADMIN_ROUTES = [
  adminListUsers,
  adminListUserSummaries,
  adminAddUser,
  adminSetUserPassword,
  adminChangeUserSettings,
  adminDeleteUser,
  adminGetUserInfo,
  adminSetUserOAuthEmail,
  adminInterruptUser,
  adminListRoles,
  adminAddRole,
  adminEditRole,
  adminDeleteRole,
  adminListPermissions,
  listConnectedUsers,
  getGlobalStatus,
  listServerSettings,
  changeServerSettings,
  adminListAuditLog,
];
