// The installer page in Chromium when a model download fails for real (a local model host answers 404): the server
// is installed, and the page keeps the report naming the missing models on screen, through a language switch,
// until the person chooses to go on (docs/COMPATIBILITY.md#d45).
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { ROOT, TestServer, needsService } from './helpers/server.js';
import { chromiumAvailable, launchBrowser, newContext, screenshotPath, type ConsoleLog } from './helpers/browser.js';
import { ModelHost, makeFile } from './helpers/model-files.js';

const NO_CHROMIUM = 'Chromium is not installed at /usr/bin/chromium';
const GERMAN = (JSON.parse(readFileSync(path.join(ROOT, 'languages/de.json'), 'utf8')) as { keys: Record<string, string> }).keys;

describe('the installer page when a model download fails', () => {
  let server: TestServer;
  let host: ModelHost;
  let browser: Browser;
  const tiny = makeFile(40_000);
  const log: ConsoleLog = { errors: [] };

  before(async () => {
    if (!chromiumAvailable) return;
    host = await ModelHost.start({ 'tiny.bin': tiny, 'gone.bin': makeFile(1000, 'missing') });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'swarmcore-web-install-'));
    const model = (id: string, name: string, file: string, sha256: string, size: number): object => ({ id, name, description: '', url: `${host.url}/${file}`, sha256, size, file: `Stable-Diffusion/${file}`, default: true });
    writeFileSync(
      path.join(dataDir, 'catalog.json'),
      JSON.stringify({ models: [model('gone', 'Vanished Model', 'gone.bin', '0'.repeat(64), 1000), model('tiny', 'Tiny Test Model', 'tiny.bin', tiny.sha256, tiny.bytes.length)] }),
    );
    server = await TestServer.start({ dataDir, settings: { 'Install.ModelCatalog': 'catalog.json' } });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await host?.close();
  });

  test('a failed model download is reported by name and stays on screen, through a language switch, until Continue is pressed', async (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    const context = await newContext(browser, log, { viewport: { width: 375, height: 667 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/Install`);
    const socketClosed = new Promise<void>((resolve) => page.on('websocket', (ws) => ws.on('close', () => resolve())));
    await page.getByRole('button', { name: 'Agree' }).click();
    await page.getByRole('button', { name: 'Just Install' }).click();
    await page.getByRole('button', { name: 'Install Now' }).click();

    const report = page.locator('#install-message');
    await report.locator('li').first().waitFor({ timeout: 60_000 });
    // The run is over: the socket closed and the server counts as installed.
    await socketClosed;
    assert.match((await server.cli(['settings', 'get'])).stdout, /^IsInstalled = true$/m);
    assert.equal(await report.getAttribute('class'), 'message error');
    assert.deepEqual(await report.locator('p').allTextContents(), [
      'The server is installed, but these models could not be downloaded:',
      'The server works without them. The log below says more; you can put the files into the Models folder of the data directory yourself later.',
    ]);
    assert.deepEqual(await report.locator('li').allTextContents(), ['Vanished Model: the server answered HTTP 404 Not Found']);
    const logText = await page.locator('#install-log').textContent();
    assert.match(logText!, /Could not download Vanished Model from '.*\/gone\.bin': the server answered HTTP 404 Not Found\./);
    assert.match(logText!, /Tiny Test Model downloaded and verified\./);
    // The model that worked is there; the way forward is one button, and installing again is not offered.
    assert.ok(readFileSync(path.join(server.dataDir, 'Models', 'Stable-Diffusion', 'tiny.bin')).equals(tiny.bytes));
    const next = page.getByRole('button', { name: 'Continue without them' });
    assert.equal(await next.isVisible(), true);
    assert.equal(await page.evaluate('document.activeElement.id'), 'install-continue');
    assert.equal(await page.getByRole('button', { name: 'Install Now' }).isDisabled(), true);
    await page.screenshot({ path: screenshotPath('pages/install-missing-models-375'), fullPage: true });

    // A language switch words the report again instead of dropping it; the names and reasons stay.
    await page.getByLabel('Language').selectOption('de');
    await page.getByRole('button', { name: GERMAN['Continue without them']! }).waitFor();
    assert.deepEqual(await report.locator('p').allTextContents(), [
      GERMAN['The server is installed, but these models could not be downloaded:'],
      GERMAN['The server works without them. The log below says more; you can put the files into the Models folder of the data directory yourself later.'],
    ]);
    assert.deepEqual(await report.locator('li').allTextContents(), ['Vanished Model: the server answered HTTP 404 Not Found']);
    assert.equal(new URL(page.url()).pathname, '/Install');

    // Only pressing Continue moves on.
    await page.getByRole('button', { name: GERMAN['Continue without them']! }).click();
    await page.waitForURL('**/Text2Image');
    await context.close();
  });

  test('the installer page wrote no error to the console', (t) => {
    if (!needsService(t, chromiumAvailable, NO_CHROMIUM)) return;
    assert.deepEqual(log.errors, []);
  });
});
