// Debian's Chromium driven by playwright-core (STACK.md): a fresh profile per launch, and a record of every console
// error and uncaught page error so tests can demand a clean console.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { ROOT } from './server.js';

// Functions passed to page.evaluate run in the browser; its globals are declared here for the type checker only.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** Launches headless Chromium; playwright gives every launch a new temporary profile directory. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ConsoleLog {
  /** Console errors and uncaught exceptions, as `<page url> <text>`. */
  errors: string[];
}

/** A context whose pages report console errors into `log`. */
export async function newContext(browser: Browser, log: ConsoleLog, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  context.on('page', (page) => watch(page, log));
  return context;
}

function watch(page: Page, log: ConsoleLog): void {
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(`${page.url()} ${m.text()}`);
  });
  page.on('pageerror', (e) => log.errors.push(`${page.url()} uncaught: ${e.message}`));
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, `${name}.png`);
}

/** Fields a person can use that have no accessible name (label, aria-label or aria-labelledby). */
export function unlabelledFields(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const node of document.querySelectorAll('input, select, textarea, button')) {
      const e = node;
      if (e.type === 'hidden' || e.hidden || e.closest('[hidden]') || e.getClientRects().length === 0) continue;
      const labelled = (e.labels && e.labels.length > 0 && [...e.labels].some((l) => l.textContent!.trim() !== '')) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e.tagName === 'BUTTON' && e.textContent!.trim() !== '');
      if (!labelled) out.push(e.outerHTML.slice(0, 120));
    }
    return out;
  });
}

/** How far the page is wider than the window (0 = no sideways scrolling). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}
