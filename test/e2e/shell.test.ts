/**
 * The application shell end to end in browser mode: the built renderer served by the real server
 * (as `sd4match serve` runs it) and opened in Debian's Chromium through playwright-core.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { ENGINE_VERSION } from '../../src/main/version.js';
import { requireBuilt } from '../helpers/build-output.js';
import { repoPath } from '../helpers/paths.js';

const CHROMIUM = process.env.SD4MATCH_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SCREENS = repoPath('test-results/screens');

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  requireBuilt('out/renderer/index.html');
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium with \`apt-get install -y chromium\` (or set SD4MATCH_CHROMIUM)`);
  }
  mkdirSync(SCREENS, { recursive: true });
  server = await startServer({ port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Opens a page that records console errors, page errors and CSP violations. */
async function openPage(url: string, colorScheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1100, height: 640 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(url);
  return { page, problems };
}

describe('application shell in Chromium (browser mode)', () => {
  it('shows the app name, engine version, ONNX Runtime version and the execution provider', async () => {
    const { page, problems } = await openPage(server.url);
    try {
      await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
      expect(await page.textContent('[data-testid="app-name"]')).toBe('SD4Match Workstation');
      expect(await page.textContent('[data-testid="mode"]')).toMatch(/Browser/);
      expect(await page.textContent('[data-testid="engine-version"]')).toBe(ENGINE_VERSION);
      expect(await page.textContent('[data-testid="ort-version"]')).toMatch(/^\d+\.\d+\.\d+/);
      expect(await page.textContent('[data-testid="provider"]')).toBe('cpu');
      // Faster providers are not available on the test machine: the page says why.
      const line = (await page.textContent('[data-testid="provider-line"]')) ?? '';
      expect(line).toMatch(/^cpu \(.+: .+\)$/);
      expect(await page.textContent('[data-testid="platform"]')).toBe(`${process.platform}-${process.arch}`);
      await page.screenshot({ path: path.join(SCREENS, 'shell.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('follows the dark colour scheme', async () => {
    const { page, problems } = await openPage(server.url, 'dark');
    try {
      await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
      // A string expression: this file is type-checked without the DOM library.
      const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      expect(background).toBe('rgb(21, 23, 28)');
      await page.screenshot({ path: path.join(SCREENS, 'shell-dark.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('explains what to do when the page URL has no token', async () => {
    const { page } = await openPage(`${server.origin}/`);
    try {
      await page.waitForSelector('[data-testid="status"][data-state="error"]', { timeout: 30_000 });
      expect(await page.textContent('[data-testid="error-message"]')).toMatch(/no access token.*sd4match serve/);
    } finally {
      await page.context().close();
    }
  });
});
