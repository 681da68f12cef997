// The user page in Chromium: what the status bar says about the backends, how much of a phone screen (375 x 667) the
// content gets, where page messages sit, and what a language switch does to a message already shown.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ROOT, TestServer, needsService } from './helpers/server.js';
import { chromiumAvailable, horizontalOverflow, launchBrowser, newContext, screenshotPath, unlabelledFields, type ConsoleLog } from './helpers/browser.js';

const NO_CHROMIUM = 'Chromium is not installed at /usr/bin/chromium';
const FIXTURE = path.join(ROOT, 'test/fixtures/test-extension.ts');
const GERMAN = (JSON.parse(readFileSync(path.join(ROOT, 'languages/de.json'), 'utf8')) as { keys: Record<string, string> }).keys;
const SECTIONS = ['settings', 'presets', 'password', 'api-keys', 'tokens'];
const PASSWORD = 'phone screen 375 wide';
const ADDRESS = '198.51.100.40';

/** What the page says for the backend states whose reference message points at a Server tab swarmcore lacks. */
const OWN_WORDS = {
  empty: 'No image generation backend is registered on this server, so nothing can be generated yet. Backends are added by server extensions, which the server owner installs.',
  all_disabled: 'Every image generation backend on this server is turned off, so nothing can be generated until the server owner turns one on.',
  unknown: 'A backend reports a state this server does not know; the extension that adds it may need an update.',
};

type Spec = { id: string; status: string; enabled?: boolean };
type Box = { x: number; y: number; width: number; height: number };

describe('the user page in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let owner: string;
  const log: ConsoleLog = { errors: [] };

  before(async () => {
    if (!chromiumAvailable) return;
    server = await TestServer.start({
      args: ['--extension', FIXTURE],
      settings: { IsInstalled: true, 'UserAuthorization.AuthorizationRequired': true, 'Network.TrustedProxies': '127.0.0.1' },
    });
    const added = await server.cli(['user', 'add', 'carol', '--password', PASSWORD, '--role', 'user']);
    assert.equal(added.code, 0, added.stderr);
    owner = await server.session();
    browser = await launchBrowser();
    const context = await newContext(browser, log, { extraHTTPHeaders: { 'X-Forwarded-For': ADDRESS } });
    page = await context.newPage();
    await page.goto(`${server.url}/Login`);
    await page.getByLabel('Username').fill('carol');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log In' }).click();
    await page.waitForURL('**/Text2Image');
    await page.locator('#settings-fields input').first().waitFor();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function setBackends(backends: Spec[]): Promise<void> {
    assert.deepEqual((await server.call('FixtureSetBackends', owner, { backends })).body, { success: true });
  }

  /** Waits (the bar asks every 3 s) until the status bar says exactly `text`. */
  async function statusSays(text: string): Promise<void> {
    await page.locator('#backend-text').filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).waitFor({ timeout: 30_000 });
  }

  /** How many lines the status text covers (its boxes' distinct tops). */
  async function statusLines(): Promise<number> {
    const tops = await page.locator('#backend-text').evaluate((e) => [...e.getClientRects()].map((r) => Math.round(r.top)));
    return new Set(tops).size;
  }

  async function box(selector: string): Promise<Box> {
    const b = await page.locator(selector).boundingBox();
    assert.ok(b, `${selector} has no box`);
    return b;
  }

  test('the status bar words the empty, all-disabled and unknown backend states without a Server tab, and keeps the reference words for the others', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    // The wire keeps the reference's text; only the page words these three states itself.
    const wire = (await server.call('GetCurrentStatus', owner)).body.backend_status as { status: string; message: string };
    assert.deepEqual([wire.status, wire.message], ['empty', 'No backends present. You must configure backends in the Backends section of the Server tab before you can continue.']);
    await statusSays(OWN_WORDS.empty);
    await setBackends([{ id: 'a', status: 'running', enabled: false }]);
    await statusSays(OWN_WORDS.all_disabled);
    await setBackends([{ id: 'a', status: 'sleeping' }]);
    await statusSays(OWN_WORDS.unknown);
    await setBackends([{ id: 'a', status: 'errored' }]);
    await statusSays('Some backends have errored on the server. Check the server logs for details.');
    await setBackends([{ id: 'a', status: 'running' }]);
    await statusSays('Backends are running.');
    assert.equal(await page.locator('#statusbar').getAttribute('class'), 'statusbar');
    for (const words of Object.values(OWN_WORDS)) assert.doesNotMatch(words, /Server tab/);
    // Each has its German words.
    for (const words of Object.values(OWN_WORDS)) assert.ok(GERMAN[words], words);
  });

  test('at 375 x 667 every section gets at least 60 % of the screen: a compact header, the pills in one sideways-scrolling row and a one-line status bar', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    await setBackends([]);
    await page.setViewportSize({ width: 375, height: 667 });
    await statusSays(OWN_WORDS.empty);
    const shares: string[] = [];
    for (const section of SECTIONS) {
      await page.goto(`${server.url}/Text2Image#${section}`);
      await page.locator(`#${section}`).waitFor();
      await page.locator('#settings-fields input').first().waitFor({ state: 'attached' });
      await statusSays(OWN_WORDS.empty);
      // Measured at the top of the page, where the header and pills take the most room (opening #section may
      // have scrolled to the card).
      await page.evaluate('window.scrollTo(0, 0)');
      assert.equal(await page.evaluate('window.scrollY'), 0);
      const card = await box(`#${section}`);
      const bar = await box('#statusbar');
      // The content area: from the top of the section's card to the status bar, before any scrolling (a short card
      // leaves the rest of that area empty, but it is still the content's).
      const visible = bar.y - Math.max(card.y, 0);
      const share = visible / 667;
      shares.push(`${section} ${(share * 100).toFixed(1)} %`);
      assert.ok(share >= 0.6, `#${section} gets ${(share * 100).toFixed(1)} % of the screen (card from ${card.y} px, status bar from ${bar.y} px)`);
      assert.equal(await horizontalOverflow(page), 0, `${section} scrolls sideways`);
      assert.deepEqual(await unlabelledFields(page), []);
      // The status text is one line (an inline element has boxes on as many lines as it covers).
      assert.equal(await statusLines(), 1);
      // The shown pills share one row (a pill hidden for lack of permission has no box), and the current one is scrolled into view within it.
      const tops = new Set(await page.locator('.section-nav li').evaluateAll((items) => items.filter((li) => li.getClientRects().length > 0).map((li) => Math.round(li.getBoundingClientRect().top))));
      assert.equal(tops.size, 1, `the pills are on ${tops.size} rows`);
      const row = await box('.section-nav ul');
      const pill = await box('.section-nav a[aria-current="page"]');
      assert.ok(pill.x >= row.x - 1 && pill.x + pill.width <= row.x + row.width + 1, `the ${section} pill is outside the visible row`);
      await page.screenshot({ path: screenshotPath(`pages/user-${section}-375x667`) });
    }
    t.diagnostic(`visible share of the screen per section at 375 x 667: ${shares.join(', ')}`);
    // The header keeps Log Out, the theme and the language within its rows.
    assert.equal(await page.getByRole('button', { name: 'Log Out' }).isVisible(), true);
    // The … button opens the status bar to its whole text, and closes it again.
    const more = page.getByRole('button', { name: 'Show the whole status' });
    await more.click();
    assert.equal(await more.getAttribute('aria-expanded'), 'true');
    assert.ok((await statusLines()) > 1, 'the opened status bar still shows one line');
    assert.equal(await page.evaluate('(() => { const s = document.getElementById("status-text"); return s.scrollWidth <= s.clientWidth && s.scrollHeight <= s.clientHeight; })()'), true);
    await page.screenshot({ path: screenshotPath('pages/user-status-open-375x667') });
    await more.click();
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    assert.equal(await statusLines(), 1);
    // At desktop width the bar has room for the whole text, and the … button is not shown.
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.equal(await more.isVisible(), false);
  });

  test('a page message sits inside the content column, as wide as the cards, at 375 and 1280 px', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const themes = ['modern_light', 'modern_dark'];
    for (const [i, width] of [375, 1280].entries()) {
      await page.setViewportSize({ width, height: width === 375 ? 667 : 900 });
      await page.goto(`${server.url}/Text2Image#settings`);
      await page.locator('#settings-fields input').first().waitFor();
      await page.locator('#theme-select option').first().waitFor({ state: 'attached' });
      await page.getByLabel('Theme').selectOption(themes[i]!);
      await page.locator('#page-message', { hasText: /^Theme changed to / }).waitFor();
      const message = await box('#page-message');
      const card = await box('#settings');
      assert.ok(Math.abs(message.x - card.x) <= 1 && Math.abs(message.width - card.width) <= 1, `at ${width} px the message is at ${message.x}+${message.width}, the card at ${card.x}+${card.width}`);
      // Between the section pills and the card.
      const nav = await box('.section-nav');
      assert.ok(message.y >= nav.y + nav.height && message.y + message.height <= card.y, `at ${width} px the message is not between the pills and the card`);
      assert.equal(await horizontalOverflow(page), 0);
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: screenshotPath(`pages/user-message-${width}`) });
    }
  });

  test('a language switch clears a message worded in the old language and words its own in the new one', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.url}/Text2Image#settings`);
    await page.locator('#settings-fields input').first().waitFor();
    await page.getByRole('button', { name: 'Save Settings' }).click();
    const settingsMessage = page.locator('#settings-message');
    await settingsMessage.filter({ hasText: 'Nothing to save: no setting was changed.' }).waitFor();
    await page.locator('#language-select option[value="de"]').waitFor({ state: 'attached' });
    await page.getByLabel('Language').selectOption('de');
    await page.locator('#page-message').filter({ hasText: GERMAN['Language changed.']! }).waitFor();
    assert.equal(await page.locator('#page-message').textContent(), GERMAN['Language changed.']);
    assert.equal(await settingsMessage.textContent(), '');
    assert.equal(await settingsMessage.isVisible(), false);
    await page.getByLabel(GERMAN.Language!).selectOption('en');
    await page.locator('#page-message').filter({ hasText: /^Language changed\.$/ }).waitFor();
  });

  test('the user page wrote no error to the console', (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    assert.deepEqual(log.errors, []);
  });
});
