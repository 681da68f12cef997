// The administrative routes against the real server: who may call each one (every built-in role and a custom
// role), the reference's parameter shapes and answers, and the safety rules swarmcore adds (docs/COMPATIBILITY.md
// D37 to D41); then the same changes reaching a second instance on one PostgreSQL database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, postgresAvailable } from './helpers/postgres.js';
import { TestServer, eventually, needsService, prehash } from './helpers/server.js';

const NO_PERMISSION = { error: 'You lack permission for this route.', error_id: 'bad_permissions' };
const NO_USER = { error: 'No user by that name exists.' };
const NO_ROLE = { error: 'No role by that name exists.' };
const LAST_MANAGER = { error: 'That change would leave no account that can manage users (manage_users). Give that permission to another account first.' };
const ACCOUNTS = { 'UserAuthorization.AuthorizationRequired': true, 'UserAuthorization.AllowLocalhostBypass': false };

/** A session as `user` (accounts off: the X-SWARM-USER_ID header names an existing user). */
const as = (server: TestServer, user: string): Promise<string> => server.session({ 'X-SWARM-USER_ID': user });

/** Creates a user with one role through AdminAddUser, as the local owner. */
async function addUser(server: TestServer, owner: string, name: string, role: string, password = 'initial-password'): Promise<void> {
  const res = await server.call('AdminAddUser', owner, { name, password: await prehash(name, password), role });
  assert.deepEqual(res.body, { success: true }, `AdminAddUser ${name}`);
}

const EDIT_DEFAULTS = { description: '', max_outpath_depth: 5, max_t2i_simultaneous: 32, allow_unsafe_outpaths: false, model_whitelist: '', model_blacklist: '' };

describe('who may call each administrative route', () => {
  let server: TestServer;
  let owner: string;
  before(async () => {
    server = await TestServer.start();
    owner = await server.session();
    for (const [name, role] of [
      ['r_owner', 'owner'],
      ['r_admin', 'admin'],
      ['r_poweruser', 'poweruser'],
      ['r_user', 'user'],
      ['r_guest', 'guest'],
      ['r_custom', 'user'],
    ]) {
      await addUser(server, owner, name!, role!);
    }
    assert.deepEqual((await server.call('AdminAddRole', owner, { name: 'Panel Reader' })).body, { success: true });
    const edit = await server.call('AdminEditRole', owner, { name: 'panelreader', ...EDIT_DEFAULTS, permissions: 'read_server_info_panels, read_server_settings,fundamental' });
    assert.deepEqual(edit.body, { success: true });
    assert.deepEqual((await server.call('AdminChangeUserSettings', owner, { name: 'r_custom', settings: { roles: ['panelreader'] } })).body, { success: true });
  });
  after(() => server.close());

  // Each route with a call that changes nothing when allowed, and what it answers then.
  const CALLS: Array<{ route: string; permission: string; body: Record<string, unknown>; allowed: (body: Record<string, unknown>) => void }> = [
    { route: 'AdminListUsers', permission: 'manage_users', body: {}, allowed: (b) => assert.deepEqual(b, { users: ['local', 'r_admin', 'r_custom', 'r_guest', 'r_owner', 'r_poweruser', 'r_user'] }) },
    { route: 'AdminListUserSummaries', permission: 'manage_users', body: {}, allowed: (b) => assert.deepEqual((b.users as Array<{ id: string; roles: string[] }>).map((u) => [u.id, u.roles]), [['local', ['owner']], ['r_admin', ['admin']], ['r_custom', ['panelreader']], ['r_guest', ['guest']], ['r_owner', ['owner']], ['r_poweruser', ['poweruser']], ['r_user', ['user']]]) },
    { route: 'AdminAddUser', permission: 'manage_users', body: { name: 'x', password: 'p'.repeat(64), role: 'user' }, allowed: (b) => assert.deepEqual(b, { error: 'Username must be at least 3 characters long, A-Z 0-9 only.' }) },
    { route: 'AdminSetUserPassword', permission: 'manage_users', body: { name: 'nobody_here', password: 'p'.repeat(64) }, allowed: (b) => assert.deepEqual(b, NO_USER) },
    { route: 'AdminDeleteUser', permission: 'manage_users', body: { name: 'nobody_here' }, allowed: (b) => assert.deepEqual(b, NO_USER) },
    { route: 'AdminGetUserInfo', permission: 'manage_users', body: { name: 'nobody_here' }, allowed: (b) => assert.deepEqual(b, NO_USER) },
    { route: 'AdminChangeUserSettings', permission: 'manage_users', body: { name: 'nobody_here', settings: {} }, allowed: (b) => assert.deepEqual(b, NO_USER) },
    { route: 'AdminListRoles', permission: 'configure_roles', body: {}, allowed: (b) => assert.deepEqual(Object.keys(b.roles as object), ['owner', 'admin', 'poweruser', 'user', 'guest', 'panelreader']) },
    { route: 'AdminAddRole', permission: 'configure_roles', body: { name: 'x' }, allowed: (b) => assert.deepEqual(b, { error: 'Role name must be at least 3 characters long, A-Z 0-9 only.' }) },
    { route: 'AdminEditRole', permission: 'configure_roles', body: { name: 'no_such_role', ...EDIT_DEFAULTS, permissions: '' }, allowed: (b) => assert.deepEqual(b, NO_ROLE) },
    { route: 'AdminDeleteRole', permission: 'configure_roles', body: { name: 'no_such_role' }, allowed: (b) => assert.deepEqual(b, NO_ROLE) },
    { route: 'AdminListPermissions', permission: 'configure_roles', body: {}, allowed: (b) => assert.equal((b.ordered as string[])[0], '*') },
    { route: 'AdminSetUserOAuthEmail', permission: 'manage_users', body: { name: 'nobody_here', email: '' }, allowed: (b) => assert.deepEqual(b, NO_USER) },
    { route: 'AdminInterruptUser', permission: 'interrupt_others', body: { name: 'nobody_here' }, allowed: (b) => assert.deepEqual(b, NO_USER) },
    { route: 'ListConnectedUsers', permission: 'read_server_info_panels', body: {}, allowed: (b) => assert.ok(Array.isArray(b.users)) },
    { route: 'GetGlobalStatus', permission: 'read_server_info_panels', body: {}, allowed: (b) => assert.deepEqual(b.status, { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 }) },
    { route: 'ListServerSettings', permission: 'read_server_settings', body: {}, allowed: (b) => assert.equal((b.settings as Record<string, { type: string }>).userauthorization!.type, 'group') },
    { route: 'ChangeServerSettings', permission: 'edit_server_settings', body: { settings: {} }, allowed: (b) => assert.deepEqual(b, { success: true }) },
    { route: 'AdminListAuditLog', permission: 'view_audit_log', body: { limit: 1 }, allowed: (b) => assert.equal((b.entries as unknown[]).length, 1) },
  ];

  // The permission table: the built-in roles' defaults by level, and the custom role's own list.
  const ADMIN_LEVEL = ['interrupt_others', 'read_server_info_panels', 'read_server_settings', 'edit_server_settings', 'view_audit_log'];
  const HOLDS: Record<string, (p: string) => boolean> = {
    r_owner: () => true,
    r_admin: (p) => ADMIN_LEVEL.includes(p),
    r_poweruser: () => false,
    r_user: () => false,
    r_guest: () => false,
    r_custom: (p) => ['read_server_info_panels', 'read_server_settings'].includes(p),
  };

  for (const [user, holds] of Object.entries(HOLDS)) {
    test(`${user.slice(2)}: allowed exactly the routes whose permission the role holds, refused the rest with bad_permissions`, async () => {
      const sid = await as(server, user);
      for (const c of CALLS) {
        const res = await server.call(c.route, sid, c.body);
        if (holds(c.permission)) {
          assert.equal(res.status, 200, `${user} ${c.route}: ${res.text}`);
          c.allowed(res.body);
        } else {
          assert.deepEqual({ status: res.status, body: res.body }, { status: 400, body: NO_PERMISSION }, `${user} ${c.route}`);
        }
      }
    });
  }
});

describe('administrative routes: answers and safety rules', () => {
  let server: TestServer;
  let owner: string;
  before(async () => {
    server = await TestServer.start();
    owner = await server.session();
  });
  after(() => server.close());

  test("AdminAddUser cleans the name as the reference does and refuses a taken name, a short password and an unknown role in the reference's words", async () => {
    assert.deepEqual((await server.call('AdminAddUser', owner, { name: 'New.User-1', password: 'p'.repeat(64), role: 'user' })).body, { success: true });
    assert.deepEqual((await server.call('AdminListUsers', owner)).body, { users: ['local', 'newuser1'] });
    assert.deepEqual((await server.call('AdminAddUser', owner, { name: 'newuser1', password: 'p'.repeat(64), role: 'user' })).body, { error: 'A user by that name already exists, or registration failed.' });
    assert.deepEqual((await server.call('AdminAddUser', owner, { name: 'other', password: 'short', role: 'user' })).body, { error: 'Password must be at least 8 characters long.' });
    assert.deepEqual((await server.call('AdminAddUser', owner, { name: 'n'.repeat(71), password: 'p'.repeat(64), role: 'user' })).body, { error: 'Username or password too long.' });
    assert.deepEqual((await server.call('AdminAddUser', owner, { name: 'other', password: 'p'.repeat(64), role: 'nope' })).body, NO_ROLE);
    assert.match(String((await server.call('AdminAddUser', owner, { name: 'other', password: 'p'.repeat(64) })).body.error), /role/);
  });

  test('AdminListUserSummaries lists each account with its roles, when it was created and when it was last active', async () => {
    const from = Math.floor(Date.now() / 1000);
    await addUser(server, owner, 'summary_idle', 'guest');
    await addUser(server, owner, 'summary_busy', 'poweruser');
    const to = Math.floor(Date.now() / 1000);
    type Summary = { id: string; roles: string[]; created: number; last_used: number | null };
    const summaries = async (): Promise<Summary[]> => ((await server.call('AdminListUserSummaries', owner)).body.users as Summary[]).filter((u) => u.id.startsWith('summary_'));
    let listed = await summaries();
    assert.deepEqual(listed.map((u) => [u.id, u.roles, u.last_used]), [['summary_busy', ['poweruser'], null], ['summary_idle', ['guest'], null]]);
    for (const u of listed) assert.ok(u.created >= from && u.created <= to, `${u.id} created at ${u.created}, outside ${from}..${to}`);
    // A session of summary_busy counts as activity once it is stored.
    const sid = await as(server, 'summary_busy');
    assert.equal((await server.call('GetMyUserData', sid)).status, 200);
    assert.ok(await eventually(async () => (await summaries())[0]!.last_used !== null, 30_000), 'the session never showed as activity');
    listed = await summaries();
    assert.ok(listed[0]!.last_used! >= listed[0]!.created && listed[0]!.last_used! <= Math.floor(Date.now() / 1000));
    assert.equal(listed[1]!.last_used, null);
  });

  test('AdminGetUserInfo shows who set the password, the settings with the roles, and the highest limit of the roles', async () => {
    await addUser(server, owner, 'info_user', 'poweruser');
    const res = await server.call('AdminGetUserInfo', owner, { name: 'info_user' });
    const settings = res.body.settings as Record<string, { value: unknown; type: string }>;
    assert.deepEqual({ ...res.body, settings: undefined }, { user_id: 'info_user', password_set_by_admin: true, settings: undefined, oauth_email: '', max_t2i: 32 });
    assert.deepEqual(settings.roles, { ...settings.roles, type: 'list', value: 'poweruser' });
    assert.equal(settings.theme!.type, 'dropdown');
  });

  test('AdminChangeUserSettings checks every entry before storing any, and changes roles and settings together', async () => {
    await addUser(server, owner, 'settings_user', 'user');
    const bad = await server.call('AdminChangeUserSettings', owner, { name: 'settings_user', settings: { maxpromptlines: 20, theme: 'no_such_theme' } });
    assert.match(String(bad.body.error), /^The setting 'theme' must be one of: /);
    const unknownRole = await server.call('AdminChangeUserSettings', owner, { name: 'settings_user', settings: { maxpromptlines: 20, roles: 'user,ghost' } });
    assert.deepEqual(unknownRole.body, { error: "There is no role 'ghost'." });
    let info = (await server.call('AdminGetUserInfo', owner, { name: 'settings_user' })).body.settings as Record<string, { value: unknown }>;
    assert.deepEqual([info.maxpromptlines!.value, info.roles!.value], [10, 'user']);
    assert.deepEqual((await server.call('AdminChangeUserSettings', owner, { name: 'settings_user', settings: { MaxPromptLines: 20, roles: ['user', 'poweruser'] } })).body, { success: true });
    info = (await server.call('AdminGetUserInfo', owner, { name: 'settings_user' })).body.settings as Record<string, { value: unknown }>;
    assert.deepEqual([info.maxpromptlines!.value, info.roles!.value], [20, 'user || poweruser']);
    // The new role counts on the user's next call.
    const sid = await as(server, 'settings_user');
    assert.equal((await server.call('GetMyUserData', sid)).status, 200);
  });

  test('AdminSetUserPassword ends every session and login token of the user; the new password works and the old does not', async () => {
    const on = await TestServer.start({ settings: { ...ACCOUNTS, 'Network.TrustedProxies': '127.0.0.1' } });
    try {
      let address = 0;
      const login = (user: string, password: string) => on.api('Login', { username: user, password }, { 'X-Forwarded-For': `192.0.2.${++address}` });
      assert.equal((await on.cli(['user', 'add', 'reset_admin', '--password', 'admin-password', '--role', 'owner'])).code, 0);
      assert.equal((await on.cli(['user', 'add', 'reset_me', '--password', 'old-password'])).code, 0);
      const tokenOf = (res: { headers: Headers }): string => /swarm_token=([^;]*)/.exec(res.headers.get('set-cookie')!)![1]!;
      const adminToken = tokenOf(await login('reset_admin', await prehash('reset_admin', 'admin-password')));
      const admin = (await on.api('GetNewSession', {}, { Cookie: `swarm_token=${adminToken}` })).body.session_id as string;
      const victimLogin = await login('reset_me', await prehash('reset_me', 'old-password'));
      assert.deepEqual(victimLogin.body, { success: 'true' });
      const token = tokenOf(victimLogin);
      const victim = (await on.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string;
      assert.equal((await on.call('GetMyUserData', victim)).status, 200);
      assert.deepEqual((await on.call('AdminSetUserPassword', admin, { name: 'reset_me', password: await prehash('reset_me', 'new-password') })).body, { success: true });
      assert.equal((await on.call('GetMyUserData', victim)).status, 401);
      assert.deepEqual(Object.keys((await on.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body), ['error']);
      assert.deepEqual((await login('reset_me', await prehash('reset_me', 'old-password'))).body, { error_id: 'invalid_login' });
      assert.deepEqual((await login('reset_me', await prehash('reset_me', 'new-password'))).body, { success: 'true' });
      assert.deepEqual((await on.call('AdminSetUserPassword', admin, { name: 'reset_me', password: 'short' })).body, { error: 'Password must be at least 8 characters long.' });
      assert.deepEqual((await on.call('AdminSetUserPassword', admin, { name: 'nobody_here', password: 'p'.repeat(64) })).body, NO_USER);
      // A blank password removes it: no password login works any more.
      assert.deepEqual((await on.call('AdminSetUserPassword', admin, { name: 'reset_me', password: '' })).body, { success: true });
      assert.deepEqual((await login('reset_me', await prehash('reset_me', 'new-password'))).body, { error_id: 'invalid_login' });
    } finally {
      await on.close();
    }
  });

  test('AdminDeleteUser deletes the user with its sessions; nobody deletes themselves', async () => {
    await addUser(server, owner, 'doomed', 'user');
    const sid = await as(server, 'doomed');
    assert.equal((await server.call('GetMyUserData', sid)).status, 200);
    assert.deepEqual((await server.call('AdminDeleteUser', owner, { name: 'doomed' })).body, { success: true });
    assert.equal((await server.call('GetMyUserData', sid)).status, 401);
    assert.deepEqual((await server.call('AdminDeleteUser', owner, { name: 'doomed' })).body, NO_USER);
    assert.deepEqual((await server.call('AdminDeleteUser', owner, { name: 'local' })).body, { error: 'You may not delete yourself.' });
  });

  test('the last account that can manage users cannot be deleted or demoted, by user, role edit or role deletion', async () => {
    const fresh = await TestServer.start();
    try {
      const local = await fresh.session();
      await addUser(fresh, local, 'boss', 'user');
      await fresh.call('AdminAddRole', local, { name: 'managers' });
      assert.deepEqual((await fresh.call('AdminEditRole', local, { name: 'managers', ...EDIT_DEFAULTS, permissions: 'manage_users' })).body, { success: true });
      assert.deepEqual((await fresh.call('AdminChangeUserSettings', local, { name: 'boss', settings: { roles: 'user,managers' } })).body, { success: true });
      // boss is the only account (local does not count) holding manage_users.
      assert.deepEqual((await fresh.call('AdminDeleteUser', local, { name: 'boss' })).body, LAST_MANAGER);
      assert.deepEqual((await fresh.call('AdminChangeUserSettings', local, { name: 'boss', settings: { roles: 'user' } })).body, LAST_MANAGER);
      assert.deepEqual((await fresh.call('AdminEditRole', local, { name: 'managers', ...EDIT_DEFAULTS, permissions: 'fundamental' })).body, LAST_MANAGER);
      assert.deepEqual((await fresh.call('AdminDeleteRole', local, { name: 'managers' })).body, LAST_MANAGER);
      // Nothing changed: boss still manages users.
      const boss = await as(fresh, 'boss');
      assert.equal((await fresh.call('AdminListUsers', boss)).status, 200);
      // With a second manager, the first may go.
      await addUser(fresh, local, 'boss2', 'admin');
      assert.deepEqual((await fresh.call('AdminChangeUserSettings', local, { name: 'boss2', settings: { roles: ['owner'] } })).body, { success: true });
      assert.deepEqual((await fresh.call('AdminChangeUserSettings', local, { name: 'boss', settings: { roles: 'user' } })).body, { success: true });
      assert.deepEqual(await fresh.call('AdminListUsers', boss).then((r) => r.body), NO_PERMISSION);
      // boss2 is now the last manager: the API refuses, the command line (the operator holding the database) may.
      assert.deepEqual((await fresh.call('AdminDeleteUser', local, { name: 'boss2' })).body, LAST_MANAGER);
      const cli = await fresh.cli(['user', 'delete', 'boss2']);
      assert.deepEqual([cli.code, cli.stdout], [0, "Deleted user 'boss2' with its sessions, login tokens, presets and data.\n"]);
    } finally {
      await fresh.close();
    }
  });

  test('built-in roles cannot be deleted; deleting a custom role takes it from every user who had it', async () => {
    for (const role of ['owner', 'admin', 'poweruser', 'user', 'guest']) {
      assert.deepEqual((await server.call('AdminDeleteRole', owner, { name: role })).body, { error: 'That role is an auto-generated core role and cannot be deleted.' });
    }
    assert.deepEqual((await server.call('AdminAddRole', owner, { name: 'Temp Role' })).body, { success: true });
    assert.deepEqual((await server.call('AdminAddRole', owner, { name: 'temprole' })).body, { error: 'A role by that name already exists.' });
    await server.call('AdminEditRole', owner, { name: 'temprole', ...EDIT_DEFAULTS, permissions: 'interrupt_others' });
    await addUser(server, owner, 'temp_a', 'temprole');
    await addUser(server, owner, 'temp_b', 'user');
    await server.call('AdminChangeUserSettings', owner, { name: 'temp_b', settings: { roles: 'user,temprole' } });
    const a = await as(server, 'temp_a');
    assert.deepEqual((await server.call('AdminInterruptUser', a, { name: 'temp_b' })).body, { success: true });
    assert.deepEqual((await server.call('AdminDeleteRole', owner, { name: 'temprole' })).body, { success: true });
    assert.deepEqual((await server.call('AdminInterruptUser', a, { name: 'temp_b' })).body, NO_PERMISSION);
    const roleOf = async (name: string): Promise<unknown> => ((await server.call('AdminGetUserInfo', owner, { name })).body.settings as Record<string, { value: unknown }>).roles!.value;
    assert.deepEqual([await roleOf('temp_a'), await roleOf('temp_b')], ['', 'user']);
    assert.deepEqual((await server.call('AdminDeleteRole', owner, { name: 'temprole' })).body, NO_ROLE);
  });

  test('AdminListRoles and AdminEditRole use the reference field names; the owner role keeps *', async () => {
    const roles = (await server.call('AdminListRoles', owner)).body.roles as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(roles.guest!), ['name', 'description', 'max_outpath_depth', 'is_auto_generated', 'model_whitelist', 'model_blacklist', 'permissions', 'max_t2i_simultaneous', 'allow_unsafe_outpaths']);
    assert.deepEqual((await server.call('AdminEditRole', owner, { name: 'guest', description: 'Visitors', max_outpath_depth: '3', max_t2i_simultaneous: 2, allow_unsafe_outpaths: 'true', model_whitelist: 'a, b,', model_blacklist: '', permissions: 'fundamental' })).body, { success: true });
    const guest = ((await server.call('AdminListRoles', owner)).body.roles as Record<string, Record<string, unknown>>).guest;
    assert.deepEqual(guest, { name: 'Guest', description: 'Visitors', max_outpath_depth: 3, is_auto_generated: true, model_whitelist: ['a', 'b'], model_blacklist: [], permissions: ['fundamental'], max_t2i_simultaneous: 2, allow_unsafe_outpaths: true });
    assert.match(String((await server.call('AdminEditRole', owner, { name: 'guest', ...EDIT_DEFAULTS, max_outpath_depth: 'deep', permissions: '' })).body.error), /max_outpath_depth/);
    await server.call('AdminEditRole', owner, { name: 'owner', ...EDIT_DEFAULTS, permissions: 'fundamental' });
    const ownerRole = ((await server.call('AdminListRoles', owner)).body.roles as Record<string, { permissions: string[] }>).owner!;
    assert.deepEqual(ownerRole.permissions, ['*', 'fundamental']);
  });

  test('AdminListPermissions lists every permission with its group and levels, and the canonical order', async () => {
    const body = (await server.call('AdminListPermissions', owner)).body as { permissions: Record<string, unknown>; ordered: string[] };
    const manage = body.permissions.manage_users as { group: { name: string; description: string } };
    assert.deepEqual(manage, { name: 'Manage Users', description: 'Create, edit and delete accounts; in effect total control.', default: 'NOBODY', group: { name: 'Admin', description: manage.group.description }, safety_level: 'POWERFUL', alt_safety_text: null });
    assert.deepEqual(new Set(body.ordered), new Set(Object.keys(body.permissions)));
    assert.equal(body.ordered.length, Object.keys(body.permissions).length);
  });

  test('ListServerSettings shows groups, types, values, defaults and hides secrets', async () => {
    await server.cli(['settings', 'set', 'Network.RequiredAuthorization', 'very-secret-header']);
    const settings = (await server.call('ListServerSettings', owner)).body.settings as Record<string, { value: Record<string, Record<string, unknown>> }>;
    const network = settings.network!.value;
    assert.deepEqual(network.port, { type: 'integer', name: 'Port', value: 7801, description: 'Port to listen on.', values: null, value_names: null, is_secret: false, default_value: 7801 });
    assert.deepEqual(network.requiredauthorization, { type: 'text', name: 'RequiredAuthorization', value: '\t<secret>', description: 'When set, every request must carry exactly this Authorization header, except from the addresses in Network.AuthBypassIPs; others get 401.', values: null, value_names: null, is_secret: true });
    assert.deepEqual(network.trustedproxies!.type, 'list');
    assert.deepEqual((settings.install!.value.backend as Record<string, unknown>).values, ['', 'comfyui', 'none']);
    assert.ok(!JSON.stringify(settings).includes('very-secret-header'));
    await server.cli(['settings', 'set', 'Network.RequiredAuthorization', '']);
  });

  test('ChangeServerSettings checks every value against its type and allowed values, refuses unknown keys, and applies all or nothing', async () => {
    const before = (await server.cli(['settings', 'get', 'UserAuthorization.LoginTokenIdleDays'])).stdout.trim();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ 'UserAuthorization.LoginTokenIdleDays': 30, 'No.Such.Setting': 1 }, "Unknown setting 'No.Such.Setting': nothing was changed."],
      [{ 'UserAuthorization.LoginTokenIdleDays': 30, 'Network.Port': 'eighty' }, 'Setting Network.Port takes a whole number, not "eighty": nothing was changed.'],
      [{ 'UserAuthorization.LoginTokenIdleDays': 30, 'Install.Backend': 'other' }, "Setting Install.Backend must be one of: (empty), comfyui, none; not 'other': nothing was changed."],
      [{ 'UserAuthorization.LoginTokenIdleDays': 30, 'UserAuthorization.AllowLocalhostBypass': 'maybe' }, 'Setting UserAuthorization.AllowLocalhostBypass takes true or false, not "maybe": nothing was changed.'],
      [{ 'UserAuthorization.LoginTokenIdleDays': 30, 'UserAuthorization.InstanceTitle': null }, "The setting 'UserAuthorization.InstanceTitle' needs a value: nothing was changed."],
    ];
    for (const [settings, error] of cases) {
      assert.deepEqual((await server.call('ChangeServerSettings', owner, { settings })).body, { error });
      assert.equal((await server.cli(['settings', 'get', 'UserAuthorization.LoginTokenIdleDays'])).stdout.trim(), before);
    }
    const ok = await server.call('ChangeServerSettings', owner, { settings: { 'userauthorization.logintokenidledays': '30', 'UserAuthorization.InstanceTitle': 'Lab', 'Network.AllowedHosts': 'a.example, b.example' } });
    assert.deepEqual(ok.body, { success: true });
    assert.deepEqual(
      await Promise.all(['UserAuthorization.LoginTokenIdleDays', 'UserAuthorization.InstanceTitle', 'Network.AllowedHosts'].map(async (k) => (await server.cli(['settings', 'get', k])).stdout.trim())),
      ['30', 'Lab', 'a.example,b.example'],
    );
  });

  test('ChangeServerSettings refuses to turn accounts on for a caller without a password, in the reference words', async () => {
    const res = await server.call('ChangeServerSettings', owner, { settings: { 'UserAuthorization.AuthorizationRequired': true } });
    assert.deepEqual(res.body, { error: "Tried to enable authorization mode, but your account does not have a password. Configure your account login information before enabling authorization, so you don't get locked out." });
  });

  test('ListConnectedUsers shows recently active users with their addresses; GetGlobalStatus sums every session', async () => {
    await addUser(server, owner, 'connected_one', 'user');
    const sid = await as(server, 'connected_one');
    await server.call('GetMyUserData', sid);
    const users = (await server.call('ListConnectedUsers', owner)).body.users as Array<Record<string, unknown>>;
    const one = users.find((u) => u.id === 'connected_one')!;
    assert.deepEqual({ ...one, last_active_seconds: 0, last_active: '' }, { id: 'connected_one', last_active_seconds: 0, active_sessions: [{ address: '127.0.0.1', count: 1 }], last_active: '', waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 });
    assert.match(String(one.last_active), /^\d+ seconds? ago$/);
    assert.deepEqual(users.map((u) => u.id), [...users.map((u) => u.id as string)].sort());
    const status = (await server.call('GetGlobalStatus', owner)).body;
    assert.deepEqual(Object.keys(status), ['status', 'backend_status', 'supported_features']);
  });
});

describe('administrative changes reach every instance on one PostgreSQL database', () => {
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let available = false;
  const NO_PG = 'PostgreSQL is not reachable';

  before(async () => {
    available = await postgresAvailable();
    if (!available) return;
    db = await createTestDatabase();
    const TRUST = { ...ACCOUNTS, 'Network.TrustedProxies': '127.0.0.1' };
    [a, b] = await Promise.all([TestServer.start({ databaseUrl: db.url, settings: TRUST }), TestServer.start({ databaseUrl: db.url, settings: TRUST })]);
    assert.equal((await a.cli(['user', 'add', 'pg_admin', '--password', 'admin-password', '--role', 'owner'])).code, 0);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  let address = 0;
  /** Logs in on `s` from a fresh forwarded address (the login limit counts per address) and opens a session. */
  async function sessionOn(s: TestServer, user: string, password: string): Promise<{ sid: string; token: string }> {
    const res = await s.api('Login', { username: user, password: await prehash(user, password) }, { 'X-Forwarded-For': `198.51.100.${++address}` });
    assert.deepEqual(res.body, { success: 'true' }, `login ${user}`);
    const token = /swarm_token=([^;]*)/.exec(res.headers.get('set-cookie')!)![1]!;
    return { sid: (await s.api('GetNewSession', {}, { Cookie: `swarm_token=${token}` })).body.session_id as string, token };
  }

  test('a password reset on one instance ends the user’s sessions and tokens on the other', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const admin = await sessionOn(a!, 'pg_admin', 'admin-password');
    await addUser(a!, admin.sid, 'pg_reset', 'user', 'old-password');
    const victim = await sessionOn(b!, 'pg_reset', 'old-password');
    assert.equal((await b!.call('GetMyUserData', victim.sid)).status, 200);
    assert.deepEqual((await a!.call('AdminSetUserPassword', admin.sid, { name: 'pg_reset', password: await prehash('pg_reset', 'new-password') })).body, { success: true });
    assert.ok(await eventually(async () => (await b!.call('GetMyUserData', victim.sid)).status === 401), 'instance B still accepts the reset user’s session');
    assert.deepEqual(Object.keys((await b!.api('GetNewSession', {}, { Cookie: `swarm_token=${victim.token}` })).body), ['error']);
  });

  test('a role change on one instance takes effect on the other at the user’s next call', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const admin = await sessionOn(a!, 'pg_admin', 'admin-password');
    await addUser(a!, admin.sid, 'pg_promoted', 'user', 'user-password');
    const user = await sessionOn(b!, 'pg_promoted', 'user-password');
    assert.deepEqual((await b!.call('ListServerSettings', user.sid)).body, NO_PERMISSION);
    assert.deepEqual((await a!.call('AdminChangeUserSettings', admin.sid, { name: 'pg_promoted', settings: { roles: 'admin' } })).body, { success: true });
    assert.ok(await eventually(async () => (await b!.call('ListServerSettings', user.sid)).status === 200), 'instance B still uses the old roles');
    // And a role's permissions: taking read_server_settings from admin reaches B too.
    const adminRole = ((await a!.call('AdminListRoles', admin.sid)).body.roles as Record<string, { permissions: string[] }>).admin!;
    await a!.call('AdminEditRole', admin.sid, { name: 'admin', ...EDIT_DEFAULTS, permissions: adminRole.permissions.filter((p) => p !== 'read_server_settings').join(',') });
    assert.ok(await eventually(async () => (await b!.call('ListServerSettings', user.sid)).status === 400), 'instance B still uses the old role permissions');
  });

  test('a deletion on one instance ends the user’s sessions on the other', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const admin = await sessionOn(a!, 'pg_admin', 'admin-password');
    await addUser(a!, admin.sid, 'pg_doomed', 'user', 'user-password');
    const user = await sessionOn(b!, 'pg_doomed', 'user-password');
    assert.equal((await b!.call('GetMyUserData', user.sid)).status, 200);
    assert.deepEqual((await a!.call('AdminDeleteUser', admin.sid, { name: 'pg_doomed' })).body, { success: true });
    assert.ok(await eventually(async () => (await b!.call('GetMyUserData', user.sid)).status === 401), 'instance B still accepts the deleted user’s session');
  });

  test('a server setting changed through ChangeServerSettings on one instance applies on the other', async (t) => {
    if (!needsService(t, available, NO_PG)) return;
    const admin = await sessionOn(a!, 'pg_admin', 'admin-password');
    const onB = await sessionOn(b!, 'pg_admin', 'admin-password');
    assert.deepEqual((await a!.call('ChangeServerSettings', admin.sid, { settings: { 'UserAuthorization.InstanceTitle': 'Shared Title' } })).body, { success: true });
    const title = async (): Promise<unknown> => ((await b!.call('ListServerSettings', onB.sid)).body.settings as Record<string, { value: Record<string, { value: unknown }> }>).userauthorization!.value.instancetitle!.value;
    assert.ok(await eventually(async () => (await title()) === 'Shared Title'), 'instance B still shows the old title');
  });
});
