// Sign-in with OpenID Connect in Chromium, end to end: the login page's provider button, the real provider's
// (oidc-provider on localhost) login and consent pages, and back signed in; a new address picks a user name on
// the register page's flow; a refused sign-in shows its reason in words. The browser sends X-Forwarded-For so
// the localhost bypass does not apply to it, while the test's own API calls from this machine are the owner's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumAvailable, launchBrowser, newContext, screenshotPath, type ConsoleLog } from './helpers/browser.js';
import { acceptServer, registrationSettings, startProvider, type TestProvider } from './helpers/oidc-provider.js';
import { TestServer, needsService, prehash } from './helpers/server.js';

const SECRET = 'web-oidc-client-secret-0123456789';

describe('OpenID Connect sign-in in the browser', () => {
  let provider: TestProvider;
  let server: TestServer;
  let browser: Browser | null = null;
  before(async () => {
    if (!chromiumAvailable) return;
    provider = await startProvider();
    server = await TestServer.start({
      settings: { ...registrationSettings(provider, SECRET), 'UserAuthorization.OAuth.OIDCDisplayName': 'Test SSO', IsInstalled: true },
    });
    acceptServer(provider, server.url, SECRET);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await provider?.close();
  });

  /** Signs in at the provider's own pages (login, then consent) until it sends the browser back. */
  async function atProvider(page: Page, login: string): Promise<void> {
    await page.waitForURL((u) => u.href.startsWith(provider.issuer), { timeout: 30_000 });
    for (let step = 0; step < 5 && page.url().startsWith(provider.issuer); step++) {
      if ((await page.locator('input[name="login"]').count()) > 0) {
        await page.fill('input[name="login"]', login);
        await page.fill('input[name="password"]', 'any password');
      }
      const from = page.url();
      await Promise.all([page.waitForURL((u) => u.href !== from, { timeout: 30_000 }), page.click('button[type="submit"]')]);
    }
  }

  /** Console errors on this server's pages (the provider's development pages load fonts from the Internet). */
  const ours = (log: ConsoleLog): string[] => log.errors.filter((e) => e.startsWith(server.url));

  async function freshPage(log: ConsoleLog): Promise<Page> {
    const context = await newContext(browser!, log, { extraHTTPHeaders: { 'X-Forwarded-For': '10.1.2.3' } });
    return context.newPage();
  }

  test('a linked user clicks the login page button, signs in at the provider and lands on the user page signed in', async (t) => {
    if (!needsService(t, chromiumAvailable, 'Chromium is not installed')) return;
    const sid = await server.session();
    assert.equal((await server.call('AdminAddUser', sid, { name: 'alice', password: await prehash('alice', 'password1'), role: 'user' })).status, 200);
    assert.deepEqual((await server.call('AdminSetUserOAuthEmail', sid, { name: 'alice', email: 'alice@example.com' })).body, { success: true });
    const log: ConsoleLog = { errors: [] };
    const page = await freshPage(log);
    await page.goto(`${server.url}/Login`);
    const button = page.locator('[data-oauth-provider="oidc"]');
    assert.equal(await button.textContent(), 'Sign in with Test SSO');
    await button.click();
    await atProvider(page, 'alice@example.com');
    await page.waitForURL(`${server.url}/Text2Image`, { timeout: 30_000 });
    await page.locator('#user-name', { hasText: 'alice' }).waitFor({ timeout: 30_000 });
    // The user page's provider block names the linked address.
    await page.locator('#oauth-link', { hasText: 'alice@example.com' }).waitFor({ state: 'attached', timeout: 30_000 });
    await page.screenshot({ path: screenshotPath('oidc-signed-in') });
    assert.deepEqual(ours(log), []);
    await page.context().close();
  });

  test('a new address starts from the register page, picks a user name and is signed in without a password', async (t) => {
    if (!needsService(t, chromiumAvailable, 'Chromium is not installed')) return;
    const log: ConsoleLog = { errors: [] };
    const page = await freshPage(log);
    await page.goto(`${server.url}/Register`);
    await page.click('[data-oauth-provider="oidc"]');
    await atProvider(page, 'newcomer@example.com');
    await page.locator('#oauth-register').waitFor({ state: 'visible', timeout: 30_000 });
    assert.match((await page.textContent('#oauth-register-intro')) ?? '', /Test SSO confirmed your address newcomer@example\.com/);
    assert.match(await page.inputValue('input[name="oauth_tracker_key"]'), /^[0-9a-f]{64}$/);
    await page.screenshot({ path: screenshotPath('oidc-pick-name') });
    await page.fill('#username', 'Newcomer');
    await page.click('#oauth-register-button');
    await page.waitForURL(`${server.url}/Text2Image`, { timeout: 30_000 });
    await page.locator('#user-name', { hasText: 'newcomer' }).waitFor({ timeout: 30_000 });
    // No password yet: the user page says how to set one.
    await page.locator('#no-password-note').waitFor({ state: 'attached', timeout: 30_000 });
    assert.deepEqual(ours(log), []);
    await page.context().close();
  });

  test('a refused sign-in (unverified e-mail) shows the reason in words', async (t) => {
    if (!needsService(t, chromiumAvailable, 'Chromium is not installed')) return;
    const log: ConsoleLog = { errors: [] };
    const page = await freshPage(log);
    await page.goto(`${server.url}/Login`);
    await page.click('[data-oauth-provider="oidc"]');
    await atProvider(page, 'unverified.eve@example.com');
    await page.locator('#oauth-refused').waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await page.textContent('#oauth-refused-reason'), 'The provider has not verified the e-mail address eve@example.com, so it cannot be used to sign in.');
    // The refusal page is answered 403; the browser reports that status as a console error, nothing else.
    assert.deepEqual(ours(log).filter((e) => !/status of 403/.test(e)), []);
    await page.context().close();
  });
});
