// The Server section of the user page in a real browser (Debian Chromium through playwright-core), against the real
// server with accounts on: an administrator adds an account, gives it a role and resets its password while that
// person's page is open, which then asks them to log in again; someone without administrative permissions sees no
// Server section; refusals appear in the server's words beside the control; every part fits a phone and works by
// keyboard. After each action the server's state is read back through the API. The tests run in order on one server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { prehash, TestServer, needsService } from './helpers/server.js';
import { chromiumAvailable, horizontalOverflow, launchBrowser, newContext, screenshotPath, unlabelledFields, type ConsoleLog } from './helpers/browser.js';

// Functions passed to page.evaluate run in the browser; its globals are declared here for the type checker only.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const NO_CHROMIUM = 'Chromium is not installed at /usr/bin/chromium';
const BOSS_PASSWORD = 'boss password 1';
const VIEWER_PASSWORD = 'viewer password 2';
const CAROL_PASSWORD = 'carol first pass';
const CAROL_NEW_PASSWORD = 'carol second pass';
/** The test process is a trusted proxy, so each X-Forwarded-For address is a client of its own (rate limits, no localhost bypass). */
const API_ADDRESS = '203.0.113.70';
const LAST_MANAGER = 'That change would leave no account that can manage users (manage_users). Give that permission to another account first.';

describe('the Server section in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const log: ConsoleLog = { errors: [] };
  /** Console errors a test provokes on purpose (the 401 a page gets for a session the server ended). */
  const expectedErrors: RegExp[] = [];
  let adminPage: Page | undefined;
  let bossSession: string | undefined;

  before(async () => {
    if (!chromiumAvailable) return;
    server = await TestServer.start({ settings: { 'UserAuthorization.AuthorizationRequired': true, 'Network.TrustedProxies': '127.0.0.1', IsInstalled: true } });
    for (const [name, password, role] of [
      ['boss', BOSS_PASSWORD, 'owner'],
      ['viewer', VIEWER_PASSWORD, 'user'],
    ] as const) {
      const added = await server.cli(['user', 'add', name, '--password', password, '--role', role]);
      assert.equal(added.code, 0, added.stderr);
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Logs in through the login form in a new context of its own address; returns the page on /Text2Image. */
  async function loginPage(name: string, password: string, address: string, width = 1280): Promise<Page> {
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': address }, viewport: { width, height: width === 375 ? 812 : 900 } });
    const page = await context.newPage();
    page.on('dialog', (d) => d.accept().catch((err: unknown) => log.errors.push(`accepting a dialog failed: ${String(err)}`)));
    await page.goto(`${server.url}/Login`);
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log In' }).click();
    await page.waitForURL('**/Text2Image');
    await page.locator('#user-name', { hasText: name }).waitFor();
    return page;
  }

  /** The administrator's page (boss, role owner), logged in once. */
  async function bossPage(): Promise<Page> {
    if (adminPage && !adminPage.isClosed()) return adminPage;
    adminPage = await loginPage('boss', BOSS_PASSWORD, '198.51.100.60');
    return adminPage;
  }

  /** Calls a route as boss from a separate API login, to read the server's state back. */
  async function api(route: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (!bossSession) {
      const res = await server.api('Login', { username: 'boss', password: await prehash('boss', BOSS_PASSWORD) }, { 'X-Forwarded-For': API_ADDRESS, 'User-Agent': 'test-checker' });
      assert.deepEqual(res.body, { success: 'true' });
      const token = /swarm_token=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!;
      bossSession = (await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, 'X-Forwarded-For': API_ADDRESS })).body.session_id as string;
    }
    return (await server.call(route, bossSession, body, { 'X-Forwarded-For': API_ADDRESS })).body;
  }

  /** Opens a part of the Server section by its address and waits until the route that fills it has answered. */
  async function openPart(page: Page, hash: string, route: string): Promise<void> {
    const answered = page.waitForResponse((r) => r.url().endsWith(`/API/${route}`));
    await page.goto(`${server.url}/Text2Image#${hash}`);
    await answered;
  }

  async function rolesOf(user: string): Promise<string[] | undefined> {
    return ((await api('AdminListUserSummaries')).users as Array<{ id: string; roles: string[] }>).find((u) => u.id === user)?.roles;
  }

  test('an administrator adds an account and gives it a role; a password reset while its page is open makes that page ask to log in again', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const admin = await bossPage();
    const listed = admin.waitForResponse((r) => r.url().endsWith('/API/AdminListUserSummaries'));
    await admin.getByRole('link', { name: 'Server', exact: true }).click();
    await admin.getByRole('heading', { name: 'Users' }).waitFor();
    await listed;
    await admin.locator('tr[data-user-id="viewer"]').waitFor();
    assert.equal(new URL(admin.url()).hash, '#server');
    // The owner may open every part.
    assert.deepEqual(await admin.locator('.server-nav a:visible').allTextContents(), ['Users', 'Roles', 'Server Settings', 'Audit Log']);
    assert.deepEqual(await admin.locator('#user-rows tr strong').allTextContents(), ['boss', 'local', 'viewer']);

    await admin.getByLabel('Username').fill('Carol');
    await admin.getByLabel('Initial password').fill(CAROL_PASSWORD);
    await admin.getByLabel('Role', { exact: true }).selectOption('user');
    await admin.getByRole('button', { name: 'Add User' }).click();
    await admin.locator('#user-add-message', { hasText: 'Account carol added.' }).waitFor();
    assert.deepEqual(await rolesOf('carol'), ['user']);
    const carolRow = admin.locator('tr[data-user-id="carol"]');
    assert.deepEqual(await carolRow.locator('td').allTextContents(), ['carol', 'User (user)', await carolRow.locator('td').nth(2).textContent(), 'no login now', 'Manage']);

    // A second role through the account's dialog.
    await admin.getByRole('button', { name: 'Manage carol' }).click();
    await admin.getByRole('heading', { name: 'Account: carol' }).waitFor();
    await admin.getByLabel('PowerUser (poweruser)').check();
    await admin.getByRole('button', { name: 'Save Roles' }).click();
    await admin.locator('#user-roles-message', { hasText: 'Roles of carol saved.' }).waitFor();
    assert.deepEqual(await rolesOf('carol'), ['poweruser', 'user']);
    await admin.getByRole('button', { name: 'Close' }).click();
    assert.equal(await carolRow.locator('td').nth(1).textContent(), 'PowerUser (poweruser), User (user)');

    // carol logs in elsewhere and opens her page; she may not administer anything.
    const carol = await loginPage('carol', CAROL_PASSWORD, '198.51.100.61');
    assert.equal(await carol.locator('#server-nav-item').isHidden(), true);
    await carol.locator('#settings-fields input').first().waitFor();

    // The administrator resets her password while her page is open.
    expectedErrors.push(/status of 401/);
    await admin.getByRole('button', { name: 'Manage carol' }).click();
    const dialog = admin.locator('#user-dialog');
    await dialog.getByLabel('New password for the account').fill(CAROL_NEW_PASSWORD);
    await dialog.getByLabel('Repeat the new password').fill(CAROL_NEW_PASSWORD);
    await admin.getByRole('button', { name: 'Reset Password' }).click();
    await admin.locator('#user-password-message', { hasText: 'Password of carol reset. Every login of the account has ended.' }).waitFor();

    // Her page notices at its next status poll and asks her to log in again, with the keyboard focus on the link.
    const ended = carol.getByRole('dialog', { name: 'Your login has ended' });
    await ended.waitFor({ timeout: 30_000 });
    assert.equal(
      await carol.locator('#login-ended-text').textContent(),
      'This page is no longer logged in: you logged out elsewhere, your password was changed or reset, or an administrator ended your login. Log in again to go on.',
    );
    assert.equal(await carol.evaluate(() => document.activeElement?.id), 'login-again');
    await carol.keyboard.press('Enter');
    await carol.waitForURL('**/Login');
    await carol.getByLabel('Username').fill('carol');
    await carol.getByLabel('Password').fill(CAROL_NEW_PASSWORD);
    await carol.getByRole('button', { name: 'Log In' }).click();
    await carol.waitForURL('**/Text2Image');
    await carol.context().close();

    // Every step is in the audit log, and the log's table shows exactly what AdminListAuditLog answers for carol.
    await admin.getByRole('button', { name: 'Close' }).click();
    const firstPage = admin.waitForResponse((r) => r.url().endsWith('/API/AdminListAuditLog'));
    await admin.getByRole('link', { name: 'Audit Log' }).click();
    await firstPage;
    await admin.getByLabel('User', { exact: true }).fill('carol');
    await admin.getByRole('button', { name: 'Show entries' }).click();
    const expected = ((await api('AdminListAuditLog', { user: 'carol' })).entries as Array<{ seq: number; action: string }>).map((e) => [String(e.seq), e.action]);
    await admin.locator('#audit-message', { hasText: `${expected.length} entries shown, newest first.` }).waitFor();
    const shown = await admin.locator('#audit-rows tr').evaluateAll((rows: Array<{ dataset: { seq: string }; querySelector(s: string): { textContent: string } }>) => rows.map((r) => [r.dataset.seq, r.querySelector('td:nth-child(4) .setting-id').textContent]));
    assert.deepEqual(shown, expected);
    assert.deepEqual(
      expected.map(([, action]) => action),
      ['login.success', 'user.set_password', 'login.success', 'user.change_settings', 'user.add'],
    );
  });

  test('a user without administrative permissions has no Server pill, and #server opens their settings instead', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await loginPage('viewer', VIEWER_PASSWORD, '198.51.100.62');
    assert.equal(await page.getByRole('link', { name: 'Server', exact: true }).count(), 0);
    await page.goto(`${server.url}/Text2Image#server-users`);
    await page.locator('#settings-fields input').first().waitFor();
    assert.deepEqual([await page.locator('#settings').isVisible(), await page.locator('#server').isVisible()], [true, false]);
    // The server refuses the routes anyway.
    const sid = await page.evaluate(async () => ((await import('/js/api.js' as string)) as { currentSession(): { session_id: string } }).currentSession().session_id);
    assert.deepEqual((await server.call('AdminListUserSummaries', sid, {}, { 'X-Forwarded-For': '198.51.100.62' })).body, { error: 'You lack permission for this route.', error_id: 'bad_permissions' });
    await page.context().close();
  });

  test("refusals appear in the server's words beside the control: demoting or deleting oneself as the last manager, a setting value the server rejects", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const admin = await bossPage();
    await openPart(admin, 'server-users', 'AdminListUserSummaries');
    await admin.getByRole('button', { name: 'Manage boss' }).click();
    await admin.getByLabel('Owner (owner)').uncheck();
    await admin.getByLabel('User (user)').check();
    await admin.getByRole('button', { name: 'Save Roles' }).click();
    await admin.locator('#user-roles-message', { hasText: LAST_MANAGER }).waitFor();
    assert.deepEqual(await rolesOf('boss'), ['owner']);
    await admin.getByRole('button', { name: 'Delete this user' }).click();
    await admin.locator('#user-delete-message', { hasText: 'You may not delete yourself.' }).waitFor();
    assert.ok((await rolesOf('boss')) !== undefined);
    await admin.getByRole('button', { name: 'Close' }).click();

    // A theme id the server does not have: refused as a whole, in the words ChangeServerSettings answers.
    const settingsListed = admin.waitForResponse((r) => r.url().endsWith('/API/ListServerSettings'));
    await admin.getByRole('link', { name: 'Server Settings' }).click();
    await settingsListed;
    const theme = admin.locator('[data-server-setting-id="defaultuser.theme"]');
    await theme.fill('no_such_theme');
    await admin.getByRole('button', { name: 'Save Server Settings' }).click();
    const words = (await api('ChangeServerSettings', { settings: { 'defaultuser.theme': 'no_such_theme' } })).error as string;
    assert.match(words, /^Setting DefaultUser\.Theme must be one of: .*; not 'no_such_theme': nothing was changed\.$/);
    await admin.locator('#server-settings-message', { hasText: words }).waitFor();
    // A number outside its range is refused on the page before any request, naming the range.
    await admin.getByRole('button', { name: 'Undo changes' }).click();
    await admin.getByLabel(/^Login Token Idle Days/).fill('0');
    await admin.getByRole('button', { name: 'Save Server Settings' }).click();
    assert.equal(await admin.locator('#server-settings-message').textContent(), 'Login Token Idle Days must be from 1 to 36500.');
    // A good value is saved, and one that needs a restart says so.
    await admin.getByLabel(/^Login Token Idle Days/).fill('30');
    await admin.locator('[data-server-setting-id="network.port"]').fill('7900');
    await admin.getByRole('button', { name: 'Save Server Settings' }).click();
    await admin.locator('#server-settings-message', { hasText: 'Server settings saved. Restart the server for these to take effect: Port.' }).waitFor();
    const settings = (await server.cli(['settings', 'get'])).stdout;
    assert.match(settings, /^UserAuthorization\.LoginTokenIdleDays = 30$/m);
    assert.match(settings, /^Network\.Port = 7900$/m);
  });

  test('a role is added and given grouped permissions in its editor; a built-in role offers no Delete', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const admin = await bossPage();
    await openPart(admin, 'server-roles', 'AdminListPermissions');
    await admin.getByLabel('Role name').fill('Painters');
    await admin.getByRole('button', { name: 'Add Role' }).click();
    // The new role's editor opens at once; its permissions come grouped as AdminListPermissions groups them.
    await admin.getByRole('heading', { name: 'Role: Painters (painters)' }).waitFor();
    const permissions = (await api('AdminListPermissions')) as { permissions: Record<string, { group: { name: string } }>; ordered: string[] };
    const groups = [...new Set(permissions.ordered.map((id) => permissions.permissions[id]!.group.name))];
    assert.deepEqual(await admin.locator('#role-permissions legend').allTextContents(), groups);
    await admin.locator('[data-permission="read_server_settings"] input').check();
    const editor = admin.locator('#role-dialog');
    await editor.getByLabel('Generations at once').fill('3');
    await editor.getByLabel('Purpose').fill('People who paint.');
    // The picture shows the Admin group from its heading.
    await editor.locator('fieldset', { has: admin.locator('[data-permission="read_server_settings"]') }).locator('legend').evaluate((e: { scrollIntoView(o: unknown): void }) => e.scrollIntoView({ block: 'start' }));
    await admin.screenshot({ path: screenshotPath('readme-server-roles') });
    await admin.getByRole('button', { name: 'Save Role' }).click();
    await admin.locator('#roles-message', { hasText: 'Role painters saved. It applies at the next request of each of its users.' }).waitFor();
    const painters = ((await api('AdminListRoles')).roles as Record<string, { description: string; permissions: string[]; max_t2i_simultaneous: number }>).painters!;
    assert.deepEqual([painters.description, painters.permissions, painters.max_t2i_simultaneous], ['People who paint.', ['read_server_settings'], 3]);
    await admin.getByRole('button', { name: 'Edit role user' }).click();
    assert.equal(await admin.getByRole('button', { name: 'Delete Role' }).isHidden(), true);
    await admin.getByRole('button', { name: 'Cancel' }).click();
    await admin.getByRole('button', { name: 'Edit role painters' }).click();
    await admin.getByRole('button', { name: 'Delete Role' }).click();
    await admin.locator('#roles-message', { hasText: 'Role painters deleted.' }).waitFor();
    assert.equal(((await api('AdminListRoles')).roles as Record<string, unknown>).painters, undefined);
  });

  test('a user who may only read server settings sees that part alone, read-only', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    assert.deepEqual((await api('AdminAddRole', { name: 'readers' })).success, true);
    const edit = { name: 'readers', description: '', max_outpath_depth: 5, max_t2i_simultaneous: 1, allow_unsafe_outpaths: false, model_whitelist: '', model_blacklist: '', permissions: 'read_server_settings' };
    assert.deepEqual(await api('AdminEditRole', edit), { success: true });
    assert.deepEqual(await api('AdminChangeUserSettings', { name: 'viewer', settings: { roles: ['user', 'readers'] } }), { success: true });
    const page = await loginPage('viewer', VIEWER_PASSWORD, '198.51.100.63');
    await page.getByRole('link', { name: 'Server', exact: true }).click();
    await page.getByRole('heading', { name: 'Server Settings' }).waitFor();
    assert.deepEqual(await page.locator('.server-nav a:visible').allTextContents(), ['Server Settings']);
    await page.getByText('You may read these settings but not change them.').waitFor();
    await page.getByLabel(/^Instance Title/).waitFor();
    assert.equal(await page.getByLabel(/^Instance Title/).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Save Server Settings' }).isHidden(), true);
    await page.context().close();
  });

  test("an account's sign-in e-mail is set, refused when another account has it, and cleared in its dialog, by keyboard at 375 px", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const oauthEmailOf = async (user: string): Promise<unknown> => (await api('AdminGetUserInfo', { name: user })).oauth_email;
    assert.deepEqual(await api('AdminSetUserOAuthEmail', { name: 'viewer', email: 'viewer@example.org' }), { success: true });
    assert.equal(await oauthEmailOf('carol'), '');
    const page = await loginPage('boss', BOSS_PASSWORD, '198.51.100.65', 375);
    const listed = page.waitForResponse((r) => r.url().endsWith('/API/AdminListUserSummaries'));
    await page.goto(`${server.url}/Text2Image#server-users`);
    await listed;
    await page.locator('tr[data-user-id="carol"] button').focus();
    const field = page.locator('#user-oauth-email');
    const message = page.locator('#user-oauth-message');
    /** Opens carol's dialog with Enter on her Manage button; returns the field's value once AdminGetUserInfo has filled it. */
    const openCarol = async (): Promise<string> => {
      const info = page.waitForResponse((r) => r.url().endsWith('/API/AdminGetUserInfo'));
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Account: carol' }).waitFor();
      await info;
      await page.waitForFunction(() => !document.getElementById('user-oauth-email').disabled, undefined, { timeout: 30_000 });
      return field.inputValue();
    };
    /** Moves the keyboard focus with Tab to the sign-in e-mail field, then types `text` over its value and presses Enter. */
    const typeAndSubmit = async (text: string): Promise<void> => {
      for (let i = 0; i < 80 && (await page.evaluate(() => document.activeElement?.id)) !== 'user-oauth-email'; i++) await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'user-oauth-email');
      await page.keyboard.press('Control+A');
      if (text === '') await page.keyboard.press('Delete');
      else await page.keyboard.type(text);
      await page.keyboard.press('Enter');
    };
    assert.equal(await openCarol(), '');
    assert.equal(await page.getByLabel('Sign-in e-mail (OpenID Connect / Google)').inputValue(), '');
    // The dialog fits the phone: nothing in it scrolls sideways and the field lies inside the screen.
    assert.deepEqual(
      await page.evaluate(() => {
        const dialog = document.getElementById('user-dialog');
        const box = document.getElementById('user-oauth-email').getBoundingClientRect();
        return [dialog.scrollWidth - dialog.clientWidth, box.left >= 0 && box.right <= window.innerWidth];
      }),
      [0, true],
    );
    assert.deepEqual(await unlabelledFields(page), []);

    // Set: the server keeps it in lower case, and the field and the message show what it stored.
    await typeAndSubmit('Carol.Paints@Example.ORG');
    await message.locator('text=carol now signs in with the provider e-mail carol.paints@example.org.').waitFor();
    assert.equal(await message.textContent(), 'carol now signs in with the provider e-mail carol.paints@example.org.');
    assert.equal(await field.inputValue(), 'carol.paints@example.org');
    assert.equal(await oauthEmailOf('carol'), 'carol.paints@example.org');
    await field.scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshotPath('pages/server-user-oauth-375') });

    // Another account's address: refused in the server's words beside the field; neither link changes.
    await typeAndSubmit('viewer@example.org');
    await message.locator('text=That OAuth email is already linked to another account.').waitFor();
    assert.equal(await message.textContent(), 'That OAuth email is already linked to another account.');
    assert.deepEqual([await oauthEmailOf('carol'), await oauthEmailOf('viewer')], ['carol.paints@example.org', 'viewer@example.org']);

    // Reopened, the dialog shows the stored address again, not the refused one.
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Account: carol' }).waitFor({ state: 'hidden' });
    assert.equal(await openCarol(), 'carol.paints@example.org');
    assert.equal(await message.textContent(), '');

    // Cleared: the link is gone; the other account keeps its own.
    await typeAndSubmit('');
    await message.locator('text=carol no longer signs in with a provider e-mail.').waitFor();
    assert.equal(await message.textContent(), 'carol no longer signs in with a provider e-mail.');
    assert.equal(await field.inputValue(), '');
    assert.deepEqual([await oauthEmailOf('carol'), await oauthEmailOf('viewer')], ['', 'viewer@example.org']);
    await page.context().close();
  });

  test('each Server part fits 375 and 1280 px with every field labelled, and an account is managed by keyboard alone', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await loginPage('boss', BOSS_PASSWORD, '198.51.100.64', 375);
    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
      for (const part of ['users', 'roles', 'settings', 'audit']) {
        await page.goto(`${server.url}/Text2Image#server-${part}`);
        await page.locator(`#server-${part}`).waitFor();
        const rows = { users: '#user-rows tr', roles: '#role-rows tr', settings: '#server-settings-fields input', audit: '#audit-rows tr' }[part]!;
        await page.locator(rows).first().waitFor();
        assert.equal(await horizontalOverflow(page), 0, `${part} scrolls sideways at ${width} px`);
        assert.deepEqual(await unlabelledFields(page), [], `${part} has fields without a label at ${width} px`);
        await page.screenshot({ path: screenshotPath(`pages/server-${part}-${width}`), fullPage: true });
      }
    }
    // The README's pictures (docs/server-users.png and docs/server-settings.png are copies).
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${server.url}/Text2Image#server-users`);
    await page.locator('#user-rows tr').nth(2).waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshotPath('readme-server-users') });
    await page.goto(`${server.url}/Text2Image#server-settings`);
    await page.locator('#server-settings-fields input').first().waitFor();
    await page.locator('[data-server-setting-group="userauthorization"]').scrollIntoViewIfNeeded();
    await page.evaluate(() => window.scrollBy(0, -40));
    await page.screenshot({ path: screenshotPath('readme-server-settings') });

    // Keyboard alone: from the Users heading, Tab to carol's Manage button, open it, give her the guest role too.
    await page.setViewportSize({ width: 375, height: 812 });
    const listed = page.waitForResponse((r) => r.url().endsWith('/API/AdminListUserSummaries'));
    await page.goto(`${server.url}/Text2Image#server-users`);
    await listed;
    await page.locator('tr[data-user-id="carol"]').waitFor();
    const focused = (): Promise<string> => page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent?.trim() || document.activeElement?.value || ''}`);
    const tabTo = async (want: RegExp): Promise<void> => {
      for (let i = 0; i < 80; i++) {
        if (want.test(await focused())) return;
        await page.keyboard.press('Tab');
      }
      assert.fail(`keyboard focus never reached ${want}; it is on ${await focused()}`);
    };
    await tabTo(/^BUTTON Manage carol$/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Account: carol' }).waitFor();
    await tabTo(/^INPUT guest$/);
    await page.keyboard.press('Space');
    await tabTo(/^BUTTON Save Roles$/);
    await page.keyboard.press('Enter');
    await page.locator('#user-roles-message', { hasText: 'Roles of carol saved.' }).waitFor();
    assert.deepEqual(await rolesOf('carol'), ['poweruser', 'user', 'guest']);
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Account: carol' }).waitFor({ state: 'hidden' });
    // The dialog's close event, which hands the focus back, comes a task after the dialog is hidden; when the list
    // was redrawn while the dialog was open, the focus is on the page body until then.
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Manage carol');
    assert.equal(await focused(), 'BUTTON Manage carol');
    await page.context().close();
  });

  test('no page wrote an unexpected error to the console', (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const unexpected = log.errors.filter((e) => !expectedErrors.some((re) => re.test(e)));
    assert.deepEqual(unexpected, []);
  });
});
