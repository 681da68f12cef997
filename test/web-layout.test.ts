// Every page at a phone width (375 px) and a desktop width (1280 px): no sideways scrolling, every field
// labelled, a clean console, and a screenshot in test-artifacts/pages/. Also: the installer can be completed with
// the keyboard alone, and registration works with the cleaned, lower-cased name everywhere.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { prehash, TestServer, needsService } from './helpers/server.js';
import { chromiumAvailable, horizontalOverflow, launchBrowser, newContext, screenshotPath, unlabelledFields, type ConsoleLog } from './helpers/browser.js';

// Functions passed to page.evaluate run in the browser; its globals are declared here for the type checker only.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const NO_CHROMIUM = 'Chromium is not installed at /usr/bin/chromium';
const WIDTHS = [375, 1280];
const BOB_PASSWORD = 'hunter2 but longer';

describe('pages at phone and desktop widths', () => {
  let server: TestServer;
  let browser: Browser;
  const log: ConsoleLog = { errors: [] };

  before(async () => {
    if (!chromiumAvailable) return;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-layout-'));
    writeFileSync(path.join(dataDir, 'catalog.json'), JSON.stringify({ models: [] }));
    server = await TestServer.start({
      dataDir,
      settings: {
        'UserAuthorization.AuthorizationRequired': true,
        'Network.TrustedProxies': '127.0.0.1',
        'UserAuthorization.Registration.AllowRegistration': true,
        'UserAuthorization.Registration.SimplePasswordRegistration': true,
        'Install.ModelCatalog': 'catalog.json',
      },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Loads `url` at each width, checks the layout and labels, and saves `<name>-<width>.png`. */
  async function checkPage(context: BrowserContext, url: string, name: string, ready: (page: Page) => Promise<unknown>): Promise<void> {
    const page = await context.newPage();
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
      await page.goto(url);
      await ready(page);
      assert.equal(await horizontalOverflow(page), 0, `${name} scrolls sideways at ${width} px`);
      assert.deepEqual(await unlabelledFields(page), [], `${name} has fields without a label at ${width} px`);
      await page.screenshot({ path: screenshotPath(`pages/${name}-${width}`), fullPage: true });
    }
    await page.close();
  }

  test('the installer can be completed with the keyboard alone at phone width', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    // Someone on the network without a login is told to log in as the owner, and cannot start the install.
    const stranger = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.30' } });
    const strangerPage = await stranger.newPage();
    await strangerPage.goto(`${server.url}/Install`);
    await strangerPage.locator('#session-message', { hasText: 'Log in as the server owner to run the installer.' }).waitFor();
    assert.equal(await strangerPage.locator('#install-button').isDisabled(), true);
    await stranger.close();
    const context = await newContext(browser, log, { viewport: { width: 375, height: 812 } });
    await checkPage(context, `${server.url}/Install`, 'install', (p) => p.getByRole('heading', { name: 'Welcome' }).waitFor());
    // A second tab that will try to install after the first one has finished.
    const late = await context.newPage();
    await late.goto(`${server.url}/Install`);
    await late.getByRole('button', { name: 'Agree' }).click();
    await late.getByRole('button', { name: 'Just Install' }).click();
    const page = await context.newPage();
    await page.goto(`${server.url}/Install`);
    const focused = (): Promise<string> => page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent?.trim() || document.activeElement?.value || ''}`);
    /** Presses Tab until the focused element's description matches. */
    const tabTo = async (want: RegExp): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        if (want.test(await focused())) return;
        await page.keyboard.press('Tab');
      }
      assert.fail(`keyboard focus never reached ${want}; it is on ${await focused()}`);
    };
    await tabTo(/^BUTTON Agree$/);
    await page.keyboard.press('Enter');
    await tabTo(/^BUTTON Customize Settings$/);
    await page.keyboard.press('Enter');
    // Arrow keys move through a radio group: from Modern Dark to Modern Light.
    await tabTo(/^INPUT modern_dark$/);
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'modern_light');
    // The README's picture of the installer (regenerated here; docs/installer.png is a copy).
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: screenshotPath('readme-installer') });
    await page.setViewportSize({ width: 375, height: 812 });
    await tabTo(/^BUTTON Next$/);
    await page.keyboard.press('Enter');
    await tabTo(/^INPUT just_self$/);
    await tabTo(/^BUTTON Next$/);
    await page.keyboard.press('Enter');
    await tabTo(/^INPUT comfyui$/);
    await page.keyboard.press('ArrowDown');
    await tabTo(/^BUTTON Next$/);
    await page.keyboard.press('Enter');
    await tabTo(/^BUTTON Next$/);
    await page.keyboard.press('Enter');
    assert.deepEqual(await page.locator('#summary dd').allTextContents(), ['Modern Light', 'Just Yourself', 'None', 'No', 'None', 'English']);
    await page.screenshot({ path: screenshotPath('pages/install-summary-375'), fullPage: true });
    await tabTo(/^BUTTON Install Now$/);
    await page.keyboard.press('Enter');
    await page.waitForURL('**/Text2Image');
    // The other tab is told in words, and may try again.
    await late.getByRole('button', { name: 'Install Now' }).click();
    await late.locator('#install-message', { hasText: 'This server is already installed.' }).waitFor();
    assert.equal(await late.getByRole('button', { name: 'Install Now' }).isEnabled(), true);
    const settings = (await server.cli(['settings', 'get'])).stdout;
    assert.match(settings, /^DefaultUser\.Theme = modern_light$/m);
    assert.match(settings, /^Install\.Backend = none$/m);
    await context.close();
  });

  test('an account registered as "Bob" logs in typing "BOB", and through the API as "bob"', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.20' } });
    await checkPage(context, `${server.url}/Login`, 'login', (p) => p.getByLabel('Username').waitFor());
    await checkPage(context, `${server.url}/Register`, 'register', (p) => p.getByLabel('Confirm Password').waitFor());
    const page = await context.newPage();
    await page.goto(`${server.url}/Login`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL('**/Register');
    await page.getByLabel('Username').fill('Bob');
    await page.getByLabel('Password', { exact: true }).fill(BOB_PASSWORD);
    await page.getByLabel('Confirm Password').fill('something else');
    await page.getByRole('button', { name: 'Register' }).click();
    assert.equal(await page.locator('#register-message').textContent(), 'Passwords do not match.');
    await page.getByLabel('Confirm Password').fill(BOB_PASSWORD);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL('**/Text2Image');
    await page.locator('#user-name', { hasText: 'bob' }).waitFor();
    await page.getByRole('button', { name: 'Log Out' }).click();
    await page.waitForURL('**/Login');
    await page.getByLabel('Username').fill('BOB');
    await page.getByLabel('Password').fill(BOB_PASSWORD);
    await page.getByRole('button', { name: 'Log In' }).click();
    await page.waitForURL('**/Text2Image');
    const api = await server.api('Login', { username: 'bob', password: await prehash('bob', BOB_PASSWORD) }, { 'X-Forwarded-For': '203.0.113.50' });
    assert.deepEqual(api.body, { success: 'true' });
    // Taking the name again is refused in words.
    const other = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.21' } });
    const again = await other.newPage();
    await again.goto(`${server.url}/Register`);
    await again.getByLabel('Username').fill('bob');
    await again.getByLabel('Password', { exact: true }).fill(BOB_PASSWORD);
    await again.getByLabel('Confirm Password').fill(BOB_PASSWORD);
    await again.getByRole('button', { name: 'Register' }).click();
    await again.locator('#register-message', { hasText: 'That username is taken.' }).waitFor();
    await other.close();
    await context.close();
  });

  test('the user page and the error pages fit 375 and 1280 px, with every field labelled', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': '198.51.100.22' } });
    const page = await context.newPage();
    await page.goto(`${server.url}/Login`);
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill(BOB_PASSWORD);
    await page.getByRole('button', { name: 'Log In' }).click();
    await page.waitForURL('**/Text2Image');
    // Something to show: two presets and a token.
    const token = /swarm_token=([^;]+)/.exec((await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; '))![1]!;
    const sid = (await server.api('GetNewSession', {}, { 'X-Swarm-Token': token, 'X-Forwarded-For': '198.51.100.22' })).body.session_id as string;
    const examples: Array<[string, string]> = [
      ['Landscapes/Misty morning', 'Soft light over hills'],
      ['Portrait studio', 'Neutral grey backdrop'],
    ];
    for (const [title, description] of examples) {
      const res = await server.call('AddNewPreset', sid, { title, description, param_map: { prompt: title.toLowerCase(), steps: '24', cfgscale: '6.5' } }, { 'X-Forwarded-For': '198.51.100.22' });
      assert.deepEqual(res.body, { success: true });
    }
    await server.call('CreateAuthToken', sid, { reason: 'nightly backup script' }, { 'X-Forwarded-For': '198.51.100.22' });
    await page.close();
    for (const section of ['settings', 'presets', 'password', 'api-keys', 'tokens']) {
      await checkPage(context, `${server.url}/Text2Image#${section}`, `user-${section}`, async (p) => {
        // Sections other than the shown one are hidden, so wait for their content to exist, not to show.
        await p.locator('#settings-fields input').first().waitFor({ state: 'attached' });
        await p.locator('#token-rows tr').first().waitFor({ state: 'attached' });
        await p.locator('[data-key-status="civitai_api"]', { hasText: 'not set' }).waitFor({ state: 'attached' });
        await p.locator(`#${section}`).waitFor();
      });
    }
    // The README's picture of the user page (docs/user-page.png is a copy).
    const shot = await context.newPage();
    await shot.setViewportSize({ width: 1280, height: 800 });
    await shot.goto(`${server.url}/Text2Image#presets`);
    await shot.locator('.preset-item').nth(1).waitFor();
    await shot.screenshot({ path: screenshotPath('readme-user-page') });
    await shot.close();
    for (const name of ['404', 'Internal', 'BasicAPI', 'NoGetAPI', 'Permissions']) {
      await checkPage(context, `${server.url}/Error/${name}`, `error-${name.toLowerCase()}`, (p) => p.locator('h1').waitFor());
    }
    await context.close();
  });

  test('no page wrote an error to the console', (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    // The 404 and 500 pages are served with those statuses (as the reference does); the browser logs the status.
    const statusOfErrorPage = /\/Error\/(404|Internal) Failed to load resource: the server responded with a status of (404|500) /;
    assert.deepEqual(log.errors.filter((e) => !statusOfErrorPage.test(e)), []);
  });
});
