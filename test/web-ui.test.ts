// The web UI in a real browser (Debian Chromium through playwright-core), against the real server: the installer
// on a fresh server, then a person on the network logs out, fails a login, hits the rate limit, logs in and uses
// each part of the user page; after each action the server's state is read back through the API. The tests run in
// order on one server (the installer first, the password change last).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import jpeg from 'jpeg-js';
import type { Browser, Page } from 'playwright-core';
import { eventually, prehash, ROOT, TestServer, needsService } from './helpers/server.js';
import { chromiumAvailable, launchBrowser, newContext, screenshotPath, type ConsoleLog } from './helpers/browser.js';
import { ModelHost, makeFile } from './helpers/model-files.js';
import { ERROR_IDS } from '../src/api/errors.js';

// Functions passed to page.evaluate run in the browser; its globals are declared here for the type checker only.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const ALICE_PASSWORD = 'correct horse 42';
const NEW_PASSWORD = 'battery staple 43';
/** X-Forwarded-For addresses: the test process is a trusted proxy, so each one is its own client for rate limits. */
const API_ADDRESS = '203.0.113.200';
/** The example backend gives the status bar real, interruptible work. */
const EXAMPLE = path.join(ROOT, 'examples/procedural-images/index.ts');
/** About twenty seconds of rendering unless interrupted. */
const LONG = { images: 1, prompt: 'a lighthouse at dusk', seed: 7, width: 1024, height: 1024, steps: 1000 };

/** Waits until the page's theme stylesheets are exactly `hrefs` (the old ones go once the new ones have loaded). */
async function themeLoaded(page: Page, hrefs: string[]): Promise<void> {
  await page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll('link[data-theme-sheet]')].map((l: { getAttribute(n: string): string }) => l.getAttribute('href'))) === JSON.stringify(want), hrefs);
}

function smallJpeg(): Buffer {
  const width = 64;
  const height = 48;
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 7) % 256, (i * 3) % 256, 160, 255], i * 4);
  return Buffer.from(jpeg.encode({ data, width, height }, 90).data);
}

const NO_CHROMIUM = 'Chromium is not installed at /usr/bin/chromium';

describe('the web UI in Chromium', () => {
  let server: TestServer;
  let host: ModelHost;
  let browser: Browser;
  const model = makeFile(2_000_000);
  const log: ConsoleLog = { errors: [] };
  /** Console errors a test provokes on purpose (e.g. the 401 of a forgotten session). */
  const expectedErrors: RegExp[] = [];

  before(async () => {
    if (!chromiumAvailable) return;
    host = await ModelHost.start({ 'tiny.safetensors': model });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-web-'));
    writeFileSync(
      path.join(dataDir, 'catalog.json'),
      JSON.stringify({ models: [{ id: 'tiny', name: 'Tiny Test Model', description: 'Two megabytes of test bytes.', url: `${host.url}/tiny.safetensors`, sha256: model.sha256, size: model.bytes.length, file: 'Stable-Diffusion/tiny.safetensors', default: true }] }),
    );
    server = await TestServer.start({
      dataDir,
      args: ['--extension', EXAMPLE],
      settings: {
        'UserAuthorization.AuthorizationRequired': true,
        'Network.TrustedProxies': '127.0.0.1',
        'Install.ModelCatalog': 'catalog.json',
        'UserAuthorization.InstanceTitle': 'Family <Server> & Co',
        'UserAuthorization.LoginNotice':
          '<b>Private</b> server. <script>window.hacked=1</script><img src=x onerror="window.hacked=2"><a href="javascript:window.hacked=3">bad</a> <a href="https://example.com/help" onclick="window.hacked=4">help</a>',
      },
    });
    const added = await server.cli(['user', 'add', 'alice', '--password', ALICE_PASSWORD, '--role', 'user']);
    assert.equal(added.code, 0, added.stderr);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await host?.close();
  });

  /** Logs alice in over the API (as another client) and returns a session id for checking server state. */
  async function apiSession(password = ALICE_PASSWORD): Promise<string> {
    const res = await server.api('Login', { username: 'alice', password: await prehash('alice', password) }, { 'X-Forwarded-For': API_ADDRESS, 'User-Agent': 'test-checker' });
    assert.deepEqual(res.body, { success: 'true' });
    const token = /swarm_token=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')![1]!;
    const session = await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, 'X-Forwarded-For': API_ADDRESS });
    return session.body.session_id as string;
  }

  async function settingsOf(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const line of (await server.cli(['settings', 'get'])).stdout.split('\n')) {
      const m = /^(\S+) = (.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!;
    }
    return out;
  }

  test('a fresh server is installed through the wizard: live theme preview, language switch, a verified model download, then the user page', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log);
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/Install');

    // The language picker translates the page through GetLanguage at once.
    await page.getByLabel('Language').selectOption('de');
    await page.getByRole('heading', { name: 'Willkommen' }).waitFor();
    assert.equal(await page.title(), 'Installieren — Family <Server> & Co');
    await page.getByLabel('Sprache').selectOption('en');
    await page.getByRole('heading', { name: 'Welcome' }).waitFor();

    await page.getByRole('button', { name: 'Agree' }).click();
    await page.getByRole('button', { name: 'Customize Settings' }).click();
    // Picking a theme restyles this page with exactly the registry's stylesheets.
    await page.getByLabel('Catppuccin Latte').check();
    await themeLoaded(page, ['/css/themes/modern.css', '/css/themes/ctp_latte.css']);
    assert.deepEqual(
      await page.evaluate(() => [document.documentElement.dataset.theme, [...document.querySelectorAll('link[data-theme-sheet]')].map((l) => l.getAttribute('href')), document.documentElement.className]),
      ['ctp_latte', ['/css/themes/modern.css', '/css/themes/ctp_latte.css'], 'theme-light'],
    );
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel(/Just Yourself \(LAN\)/).check();
    assert.equal(await page.getByLabel(/^Public/).isDisabled(), true);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel(/^None/).check();
    await page.getByLabel('Use AMD GPU support').check();
    await page.getByRole('button', { name: 'Next' }).click();
    assert.equal(await page.getByLabel(/Tiny Test Model/).isChecked(), true);
    await page.getByRole('button', { name: 'Next' }).click();
    assert.deepEqual(await page.locator('#summary dd').allTextContents(), ['Catppuccin Latte', 'Just Yourself (LAN)', 'None', 'Yes', 'Tiny Test Model', 'English']);
    await page.screenshot({ path: screenshotPath('walk-installer-summary') });
    await page.getByRole('button', { name: 'Install Now' }).click();
    await page.waitForURL('**/Text2Image');

    const s = await settingsOf();
    assert.deepEqual(
      [s.IsInstalled, s['DefaultUser.Theme'], s['DefaultUser.Language'], s['Network.Host'], s['Install.Backend'], s['Install.AMD']],
      ['true', 'ctp_latte', 'en', '0.0.0.0', 'none', 'true'],
    );
    const file = path.join(server.dataDir, 'Models', 'Stable-Diffusion', 'tiny.safetensors');
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), model.sha256);
    // The owner's page opens in the installed default theme.
    await page.locator('#settings-fields input').first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'ctp_latte');
    assert.equal(await page.locator('#user-name').textContent(), 'local');
    await context.close();
  });

  test('a network user is sent to Login, logs out, fails a login, hits the rate limit message, and logs in with the keyboard', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.7' } });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/Login');
    // The instance title is text; the notice keeps its formatting and safe link, and nothing in it ran.
    assert.equal(await page.locator('.brand-name').textContent(), 'Family <Server> & Co');
    assert.equal(await page.title(), 'Log In — Family <Server> & Co');
    assert.equal(
      await page.locator('#login-notice').innerHTML(),
      '<b>Private</b> server. <a>bad</a> <a href="https://example.com/help" target="_blank" rel="noopener noreferrer">help</a>',
    );
    assert.equal(await page.evaluate(() => window.hacked), undefined);

    const loginBody = page.waitForRequest((r) => r.url().endsWith('/API/Login'));
    await page.getByLabel('Username').fill('  Alice ');
    await page.getByLabel('Password').fill(ALICE_PASSWORD);
    await page.getByRole('button', { name: 'Log In' }).click();
    // The browser sends the SHA-256 prehash made with the cleaned, lower-cased user id.
    assert.deepEqual((await loginBody).postDataJSON(), { username: '  Alice ', password: await prehash('alice', ALICE_PASSWORD) });
    await page.waitForURL('**/Text2Image');
    await page.locator('#user-name', { hasText: 'alice' }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'swarm_token')!.value;

    await page.getByRole('button', { name: 'Log Out' }).click();
    await page.waitForURL('**/Login');
    // The token of that login is gone on the server.
    const again = await server.api('GetNewSession', {}, { 'X-Swarm-Token': cookie, 'X-Forwarded-For': API_ADDRESS });
    assert.deepEqual(again.body, { error: 'You are not logged in, or your login has expired.' });

    const message = page.locator('#login-message');
    const attempt = async (): Promise<string> => {
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('wrong password');
      const answer = page.waitForResponse((r) => r.url().endsWith('/API/Login'));
      await page.getByRole('button', { name: 'Log In' }).click();
      await answer;
      await page.waitForFunction(() => document.querySelector('#login-message')!.textContent !== '');
      const text = (await message.textContent())!;
      await page.evaluate(() => (document.querySelector('#login-message')!.textContent = ''));
      return text;
    };
    // One login of this address already counted; four wrong ones fill the five-a-minute budget.
    const texts = [await attempt(), await attempt(), await attempt(), await attempt(), await attempt()];
    assert.deepEqual(texts, [...Array(4).fill('Invalid username or password.'), 'Too many attempts. Wait a minute and try again.']);
    // The focus went back to the password field, ready for another try.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');

    // The limit is per address: from another one, log in using only the keyboard.
    await context.setExtraHTTPHeaders({ 'X-Forwarded-For': '198.51.100.8' });
    await page.goto(`${server.url}/Login`);
    for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement?.id)) !== 'username'; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'username');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type(ALICE_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/Text2Image');
    await context.close();
  });

  // The user-page tests below share one browser page logged in as alice and one API session that reads the server's
  // state back: the login rate limits allow only a few logins a minute per address and per user.
  let userPage: Page | undefined;
  let checker: string | undefined;
  const USER_PAGE_ADDRESS = '198.51.100.9';

  /** alice's user page, logged in through the login form on first use. */
  async function openUserPage(): Promise<Page> {
    if (userPage && !userPage.isClosed()) return userPage;
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': USER_PAGE_ADDRESS } });
    const page = await context.newPage();
    page.on('dialog', (d) => d.accept().catch((err: unknown) => log.errors.push(`accepting a dialog failed: ${String(err)}`)));
    await page.goto(`${server.url}/Login`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(ALICE_PASSWORD);
    await page.getByRole('button', { name: 'Log In' }).click();
    await page.waitForURL('**/Text2Image');
    await page.locator('#settings-fields input').first().waitFor();
    userPage = page;
    return page;
  }

  /** The checking client's session as alice (a login of its own, from another address). */
  async function checkerSession(): Promise<string> {
    checker ??= await apiSession();
    return checker;
  }

  /** Calls a route as alice from the checking client. */
  async function api(route: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return (await server.call(route, await checkerSession(), body, { 'X-Forwarded-For': API_ADDRESS })).body;
  }

  /** One of alice's settings as GetUserSettings reports it, by dotted id. */
  async function settingValue(dotted: string): Promise<unknown> {
    let node = (await api('GetUserSettings')).settings as Record<string, { value: unknown }>;
    const parts = dotted.split('.');
    for (const p of parts.slice(0, -1)) node = node[p]!.value as Record<string, { value: unknown }>;
    return node[parts.at(-1)!]!.value;
  }

  test('the settings editor saves one control of each type, refuses an empty number in words, and Undo restores the saved values', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByLabel('Save Files').uncheck();
    await page.getByLabel(/^Max Prompt Lines/).fill('12');
    await page.getByLabel(/^Hover Delay Seconds/).fill('1.25');
    await page.locator('summary', { hasText: 'Auto Complete' }).click();
    await page.getByLabel(/^Suffix/).fill(', ');
    await page.locator('summary', { hasText: 'File Format' }).click();
    await page.getByLabel(/^Image Format/).selectOption('JPG');
    assert.equal(await page.locator('#settings-dirty').isVisible(), true);
    await page.getByRole('button', { name: 'Save Settings' }).click();
    await page.locator('#settings-message', { hasText: 'Settings saved.' }).waitFor();
    assert.deepEqual(
      [await settingValue('savefiles'), await settingValue('maxpromptlines'), await settingValue('hoverdelayseconds'), await settingValue('autocomplete.suffix'), await settingValue('fileformat.imageformat')],
      [false, 12, 1.25, ', ', 'JPG'],
    );
    // A number field left empty is refused in words, and Undo restores the saved values without a request.
    await page.getByLabel(/^Max Prompt Lines/).fill('');
    await page.getByRole('button', { name: 'Save Settings' }).click();
    assert.equal(await page.locator('#settings-message').textContent(), 'Max Prompt Lines needs a number.');
    await page.getByRole('button', { name: 'Undo changes' }).click();
    assert.equal(await page.getByLabel(/^Max Prompt Lines/).inputValue(), '12');
    assert.equal(await settingValue('maxpromptlines'), 12);
  });

  test('a theme picked on the user page restyles it at once, is stored on the account and survives a reload', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByLabel('Theme', { exact: true }).selectOption('modern_light');
    await page.locator('#page-message', { hasText: 'Theme changed to Modern Light.' }).waitFor();
    await themeLoaded(page, ['/css/themes/modern.css', '/css/themes/modern_light.css']);
    assert.deepEqual(
      await page.evaluate(() => [document.documentElement.dataset.theme, [...document.querySelectorAll('link[data-theme-sheet]')].map((l) => l.getAttribute('href'))]),
      ['modern_light', ['/css/themes/modern.css', '/css/themes/modern_light.css']],
    );
    assert.equal(await settingValue('theme'), 'modern_light');
    assert.equal((await page.context().cookies()).find((c) => c.name === 'sui_theme_id')?.value, 'modern_light');
    await page.reload();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'modern_light');
  });

  test('switching the language translates the whole user page and the account keeps the choice', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByLabel('Language').selectOption('de');
    await page.getByRole('link', { name: 'Benutzereinstellungen' }).waitFor();
    assert.equal(await page.title(), 'Ihr Konto — Family <Server> & Co');
    assert.equal((await api('GetMyUserData')).language, 'de');
    assert.equal(await page.getByRole('button', { name: 'Einstellungen speichern' }).count(), 1);
    await page.getByLabel('Sprache').selectOption('en');
    await page.getByRole('link', { name: 'User Settings' }).waitFor();
    assert.equal((await api('GetMyUserData')).language, 'en');
  });

  test("an upstream API key set and removed on the page is set and removed on the server, with the server's status shown", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByRole('link', { name: 'API Keys' }).click();
    await page.getByLabel('Civitai key').fill('civitai-secret-123');
    await page.locator('[data-key-row="civitai_api"]').getByRole('button', { name: 'Set Key' }).click();
    await page.locator('#keys-message', { hasText: 'Civitai key saved.' }).waitFor();
    const keyStatus = (await api('GetAPIKeyStatus', { keyType: 'civitai_api' })).status as string;
    assert.match(keyStatus, /^last updated \d{4}-\d\d-\d\d \d\d:\d\d$/);
    assert.equal(await page.locator('[data-key-status="civitai_api"]').textContent(), keyStatus);
    assert.equal(await page.getByLabel('Civitai key').inputValue(), '');
    await page.locator('[data-key-row="civitai_api"]').getByRole('button', { name: 'Remove Key' }).click();
    await page.locator('#keys-message', { hasText: 'Civitai key removed.' }).waitFor();
    assert.deepEqual(await api('GetAPIKeyStatus', { keyType: 'civitai_api' }), { status: 'not set' });
    assert.equal(await page.locator('[data-key-status="civitai_api"]').textContent(), 'not set');
  });

  test('presets are added with a preview image, renamed, duplicated, exported exactly as ExportUserPresets answers, and deleted', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByRole('link', { name: 'Presets' }).click();
    await page.getByRole('button', { name: 'Add Preset' }).click();
    await page.getByLabel('Preset Title').fill('Portraits/Warm light');
    await page.getByLabel('Description').fill('Soft evening light');
    await page.locator('.param-name').first().fill('prompt');
    await page.locator('.param-value').first().fill('a cat by a window');
    await page.getByRole('button', { name: 'Add a parameter' }).click();
    await page.locator('.param-name').nth(1).fill('steps');
    await page.locator('.param-value').nth(1).fill('20');
    await page.getByLabel('Choose an image').setInputFiles({ name: 'cat.jpg', mimeType: 'image/jpeg', buffer: smallJpeg() });
    await page.waitForFunction(() => document.querySelector('#preset-preview').src.startsWith('data:image/jpeg'));
    await page.getByLabel('Starred').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#presets-message', { hasText: 'Preset "Portraits/Warm light" saved.' }).waitFor();
    let presets = (await api('GetMyUserData')).presets as Array<Record<string, unknown>>;
    assert.deepEqual(
      presets.map((p) => ({ ...p, preview_image: String(p.preview_image).replace(/editid=\d+$/, 'editid=N') })),
      [{ author: 'alice', title: 'Portraits/Warm light', description: 'Soft evening light', preview_image: '/ViewSpecial/Preset/Portraits/Warm%20light?editid=N', is_starred: true, param_map: { prompt: 'a cat by a window', steps: '20' } }],
    );
    // The list shows the server's thumbnail.
    await page.waitForFunction(() => {
      const img = document.querySelector('.preset-item img');
      return img !== null && img.complete && img.naturalWidth > 0 && img.src.includes('/ViewSpecial/Preset/');
    });

    await page.getByRole('button', { name: 'Edit Portraits/Warm light' }).click();
    assert.equal(await page.getByLabel('Preset Title').inputValue(), 'Portraits/Warm light');
    await page.getByLabel('Preset Title').fill('Portraits/Golden hour');
    await page.getByLabel('Description').fill('Low sun');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#presets-message', { hasText: 'Preset "Portraits/Golden hour" saved.' }).waitFor();
    presets = (await api('GetMyUserData')).presets as Array<Record<string, unknown>>;
    assert.deepEqual(
      presets.map((p) => [p.title, p.description, String(p.preview_image).startsWith('/ViewSpecial/Preset/Portraits/Golden%20hour?editid='), p.param_map]),
      [['Portraits/Golden hour', 'Low sun', true, { prompt: 'a cat by a window', steps: '20' }]],
    );

    await page.getByRole('button', { name: 'Duplicate Portraits/Golden hour' }).click();
    await page.locator('#presets-message', { hasText: 'duplicated' }).waitFor();
    presets = (await api('GetMyUserData')).presets as Array<Record<string, unknown>>;
    assert.deepEqual(
      presets.map((p) => p.title),
      ['Portraits/Golden hour', 'Portraits/Golden hour (2)'],
    );
    await page.locator('.preset-item', { hasText: 'Portraits/Golden hour (2)' }).waitFor();

    // Export only the ticked preset, then everything: the files hold exactly ExportUserPresets' answers.
    await page.locator('.preset-item', { hasText: 'Portraits/Golden hour (2)' }).getByLabel('Select for export').check();
    const [selectedFile] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export selected' }).click()]);
    assert.deepEqual(JSON.parse(readFileSync((await selectedFile.path())!, 'utf8')), (await api('ExportUserPresets', { titles: ['Portraits/Golden hour (2)'] })).presets);
    const [allFile] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export Presets' }).click()]);
    const exported = JSON.parse(readFileSync((await allFile.path())!, 'utf8')) as Array<Record<string, unknown>>;
    assert.deepEqual(exported, (await api('ExportUserPresets')).presets);
    assert.equal(exported.length, 2);
    assert.match(String(exported[0]!.preview_image), /^data:image\/jpeg;base64,/);

    await page.getByRole('button', { name: 'Delete Portraits/Golden hour (2)' }).click();
    await page.locator('#presets-message', { hasText: 'Preset "Portraits/Golden hour (2)" deleted.' }).waitFor();
    assert.deepEqual(((await api('GetMyUserData')).presets as Array<Record<string, unknown>>).map((p) => p.title), ['Portraits/Golden hour']);
    await page.screenshot({ path: screenshotPath('walk-user-presets'), fullPage: true });
  });

  test("a login token made on the page is shown once and works; once revoked it works no more; the page's own login cannot be revoked there", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByRole('link', { name: 'Login Tokens' }).click();
    await page.getByLabel('Reason', { exact: true }).fill('backup script');
    await page.getByRole('button', { name: 'Create Token' }).click();
    await page.locator('#token-once').waitFor();
    const token = await page.getByLabel('Copy this token now; it will not be shown again.').inputValue();
    assert.match(token, /^616c696365\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    const listed = ((await api('ListMyAuthTokens')).tokens as Array<Record<string, unknown>>).find((x) => x.user_agent === 'backup script');
    assert.ok(listed, 'the new token is listed by the server');
    assert.equal((await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, 'X-Forwarded-For': API_ADDRESS })).body.user_id, 'alice');
    await page.getByRole('button', { name: 'Hide' }).click();
    assert.equal(await page.locator('#token-once').isHidden(), true);
    assert.equal(await page.locator('#token-value').inputValue(), '');
    await page.getByRole('button', { name: 'Revoke the token "backup script"' }).click();
    await page.locator('#tokens-message', { hasText: 'Token revoked.' }).waitFor();
    assert.equal(((await api('ListMyAuthTokens')).tokens as Array<Record<string, unknown>>).some((x) => x.id === listed.id), false);
    assert.deepEqual((await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, 'X-Forwarded-For': API_ADDRESS })).body, { error: 'You are not logged in, or your login has expired.' });
    // This browser's own login is marked and has no Revoke button.
    assert.equal(await page.locator('#token-rows tr', { hasText: 'This login' }).count(), 1);
  });

  test("Interrupt stops this page's work and Interrupt All also another session's, as the status bar shows", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    const status = (await api('GetCurrentStatus')) as { backend_status: { status: string; message: string } };
    assert.equal(status.backend_status.status, 'running');
    await page.locator('#backend-text', { hasText: 'Backends are running.' }).waitFor();
    const pageSession = await page.evaluate(async () => ((await import('/js/api.js' as string)) as { currentSession(): { session_id: string } }).currentSession().session_id);
    // Work on this page's session shows in its status bar; Interrupt stops it.
    const pageWork = server.call('GenerateText2Image', pageSession, LONG, { 'X-Forwarded-For': API_ADDRESS });
    await page.locator('#work-counts', { hasText: 'generating: 1' }).waitFor();
    const single = page.waitForRequest((r) => r.url().endsWith('/API/InterruptAll'));
    await page.getByRole('button', { name: 'Interrupt', exact: true }).click();
    assert.equal((await single).postDataJSON().other_sessions, false);
    assert.deepEqual((await pageWork).body, { images: [] });
    await page.locator('#page-message', { hasText: "Stopped this page's work." }).waitFor();
    await page.locator('#work-counts', { hasText: /^$/ }).waitFor({ state: 'attached' });
    // Work on another session of the same account stops only with Interrupt All.
    const otherWork = server.call('GenerateText2Image', await checkerSession(), LONG, { 'X-Forwarded-For': API_ADDRESS });
    assert.ok(await eventually(async () => ((await api('GetCurrentStatus')).status as { live_gens: number }).live_gens === 1, 15_000), 'the second generation never started');
    const all = page.waitForRequest((r) => r.url().endsWith('/API/InterruptAll'));
    await page.getByRole('button', { name: 'Interrupt All' }).click();
    assert.equal((await all).postDataJSON().other_sessions, true);
    assert.deepEqual((await otherWork).body, { images: [] });
    await page.locator('#page-message', { hasText: 'Stopped the work of all your sessions.' }).waitFor();
    assert.deepEqual((await api('GetCurrentStatus')).status, { waiting_gens: 0, loading_models: 0, waiting_backends: 0, live_gens: 0 });
  });

  test('a session the server has forgotten is renewed and the call retried', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    expectedErrors.push(/status of 401/);
    const renewed = page.waitForRequest((r) => r.url().endsWith('/API/GetNewSession'));
    await page.evaluate(async () => {
      const api = (await import('/js/api.js' as string)) as { setSessionId(id: string): void };
      api.setSessionId('0'.repeat(40));
    });
    await page.getByRole('link', { name: 'User Settings' }).click();
    await page.getByLabel(/^Max Prompt Lines/).fill('14');
    await page.getByRole('button', { name: 'Save Settings' }).click();
    await renewed;
    await page.locator('#settings-message', { hasText: 'Settings saved.' }).waitFor();
    assert.equal(await settingValue('maxpromptlines'), 14);
  });

  test("a wrong old password is refused in words; the right one changes the password, ends the other logins and keeps this browser's", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const page = await openUserPage();
    await page.getByRole('link', { name: 'Change Password' }).click();
    await page.getByLabel('Old Password').fill('not my password');
    await page.getByLabel('New Password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat New Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change Password' }).click();
    await page.locator('#password-message', { hasText: 'The old password is not correct, so the password was not changed.' }).waitFor();
    await page.getByLabel('Old Password').fill(ALICE_PASSWORD);
    await page.getByRole('button', { name: 'Change Password' }).click();
    await page.locator('#password-message', { hasText: 'Password changed. Your other logins were signed out.' }).waitFor();
    // The checker's own login was one of the "other" logins; the old password no longer works, the new one does.
    assert.equal((await server.call('GetMyUserData', await checkerSession(), {}, { 'X-Forwarded-For': API_ADDRESS })).body.error_id, 'invalid_session_id');
    const old = await server.api('Login', { username: 'alice', password: await prehash('alice', ALICE_PASSWORD) }, { 'X-Forwarded-For': API_ADDRESS });
    assert.deepEqual(old.body, { error_id: 'invalid_login' });
    checker = await apiSession(NEW_PASSWORD);
    assert.equal((await api('GetMyUserData')).user_name, 'alice');
    // This browser stays logged in.
    await page.reload();
    await page.locator('#user-name', { hasText: 'alice' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/Text2Image');
  });


  test('a browser without WebCrypto sends the __swarmdoprehash form, which logs in the same account', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.10' } });
    // A string, not a function: tsx would wrap a function in helpers the page does not have.
    await context.addInitScript({ content: "Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined });" });
    const page = await context.newPage();
    await page.goto(`${server.url}/Login`);
    const sent = page.waitForRequest((r) => r.url().endsWith('/API/Login'));
    await page.getByLabel('Username').fill('ALICE');
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Log In' }).click();
    assert.equal((await sent).postDataJSON().password, `__swarmdoprehash:swarmclientpw:alice:${NEW_PASSWORD}`);
    await page.waitForURL('**/Text2Image');
    await context.close();
  });

  test("the pages have words of their own for every error id in the server's registry", async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log);
    const page = await context.newPage();
    await page.goto(`${server.url}/Login`);
    const ids = [...Object.keys(ERROR_IDS), 'an_id_no_server_sends'];
    const words = await page.evaluate(async (all) => {
      const api = (await import('/js/api.js' as string)) as { describeFailure(body: unknown): string };
      return all.map((id) => api.describeFailure({ error_id: id }));
    }, ids);
    const fallback = (id: string): string => `The server refused the request (${id}).`;
    assert.deepEqual(
      ids.filter((id, i) => words[i] === fallback(id)),
      ['an_id_no_server_sends'],
    );
    await context.close();
  });

  test('no page wrote an unexpected error to the console', (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const unexpected = log.errors.filter((e) => !expectedErrors.some((re) => re.test(e)));
    assert.deepEqual(unexpected, []);
    assert.ok(existsSync(screenshotPath('walk-user-presets')));
  });
});
