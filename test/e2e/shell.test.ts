/**
 * The application shell end to end in browser mode: the built renderer served by the real server
 * (as `sd4match serve` runs it) and opened in Debian's Chromium through playwright-core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { ENGINE_VERSION } from '../../src/main/shared/version.js';
import { requireBuilt } from '../helpers/build-output.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';

let tmp: string;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  requireBuilt('out/renderer/index.html');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-shell-'));
  server = await startServer({ port: 0, db: path.join(tmp, 'w.db') });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('application shell in Chromium (browser mode)', () => {
  it('shows the app name, the mode and the execution provider, and the versions in Settings', async () => {
    const { page, problems } = await openPage(browser, server.url, { width: 1100, height: 640 });
    try {
      await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
      expect(await page.textContent('[data-testid="app-name"]')).toBe('SD4Match Workstation');
      expect(await page.textContent('[data-testid="mode"]')).toMatch(/Browser/);
      expect(await page.textContent('[data-testid="provider"]')).toBe('cpu');
      // Faster providers are not available on the test machine: the status bar says why.
      expect(await page.textContent('[data-testid="provider-note"]')).toMatch(/^\(.+: .+\)$/);
      await page.getByTestId('nav-settings').click();
      expect(await page.textContent('[data-testid="engine-version"]')).toBe(ENGINE_VERSION);
      expect(await page.textContent('[data-testid="ort-version"]')).toMatch(/^\d+\.\d+\.\d+/);
      expect(await page.textContent('[data-testid="platform"]')).toBe(`${process.platform}-${process.arch}`);
      expect(await page.getByTestId('provider-attempts').locator('tbody tr').count()).toBeGreaterThanOrEqual(1);
      await screenshot(page, 'shell');
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('follows the dark colour scheme', async () => {
    const { page, problems } = await openPage(browser, server.url, { colorScheme: 'dark', width: 1100, height: 640 });
    try {
      await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
      // A string expression: this file is type-checked without the DOM library.
      const background = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      expect(background).toBe('rgb(21, 23, 28)');
      await screenshot(page, 'shell-dark');
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('keeps the view in the address, so the back button and a reload return to it', async () => {
    const { page } = await openPage(browser, server.url);
    try {
      await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
      await page.getByTestId('nav-models').click();
      await page.getByTestId('nav-pairs').click();
      expect(new URL(page.url()).hash).toBe('#/pairs');
      await page.goBack();
      await page.getByTestId('view-models').waitFor();
      await page.reload();
      await page.getByTestId('view-models').waitFor();
      // Alt+digit switches views
      await page.keyboard.press('Alt+7');
      await page.getByTestId('view-settings').waitFor();
      expect(new URL(page.url()).searchParams.get('token')).toBe(server.token);
    } finally {
      await page.context().close();
    }
  });

  it('explains what to do when the page URL has no token', async () => {
    const { page } = await openPage(browser, `${server.origin}/`);
    try {
      await page.waitForSelector('[data-testid="status"][data-state="error"]', { timeout: 30_000 });
      expect(await page.textContent('[data-testid="error-message"]')).toMatch(/no access token.*sd4match serve/);
    } finally {
      await page.context().close();
    }
  });
});
