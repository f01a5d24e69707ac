/**
 * The execution provider in the UI (browser mode, the real server, Chromium): with a machine probe
 * that found only a software WebGPU adapter (injected through the probe's cache file), the status
 * bar shows the CPU provider and, on hover and click, why WebGPU was skipped; Settings stores the
 * provider choice (WebGPU asked for by name is used; back to automatic, the CPU again); the run
 * form offers a provider, defaulting to the Settings'.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyAdapter } from '../../src/main/engine/onnx/adapter.js';
import type { MachineProbe } from '../../src/main/engine/onnx/provider-probe.js';
import { providerProbeKey } from '../../src/main/engine/onnx/runtime.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { requireBuilt } from '../helpers/build-output.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';

const LLVMPIPE = 'llvmpipe (LLVM 15.0.6, 256 bits)';

let tmp: string;
let db: string;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  requireBuilt('out/renderer/index.html');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-provider-ui-'));
  db = path.join(tmp, 'w.db');
  const probe: MachineProbe = {
    format: 1,
    key: providerProbeKey(),
    probedAt: 1,
    ortVersion: 'test',
    platform: `${process.platform}-${process.arch}`,
    providers: [
      { provider: 'webgpu', ok: true, adapter: { name: LLVMPIPE, ...classifyAdapter({ name: LLVMPIPE }) } },
      { provider: 'cpu', ok: true },
    ],
    log: {},
  };
  fs.mkdirSync(`${db}-cache`, { recursive: true });
  fs.writeFileSync(path.join(`${db}-cache`, 'provider-probe.json'), JSON.stringify(probe));
  server = await startServer({ port: 0, db });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function storedProvider(): string {
  const store = Store.open(db);
  try {
    return repos(store.db).settings.get().provider;
  } finally {
    store.close();
  }
}

describe('the execution provider in the UI', () => {
  it('says why WebGPU was skipped, lets Settings choose the provider, and offers one per run', async () => {
    const { page, problems } = await openPage(browser, server.url, { width: 1440, height: 900 });
    try {
      await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
      expect(await page.textContent('[data-testid="provider"]')).toBe('cpu');
      const skipped = "skipped: software adapter llvmpipe (LLVM 15.0.6, 256 bits) is slower than the CPU provider (Mesa's llvmpipe renders on the CPU)";
      expect(await page.textContent('[data-testid="provider-note"]')).toContain(`webgpu: ${skipped}`);
      // on hover: what was asked and what it resolved to
      expect(await page.getByTestId('provider-line').getAttribute('title')).toContain(`auto -> cpu (webgpu ${skipped})`);
      // on click: every provider and why
      await page.getByTestId('provider-line').click();
      await page.getByTestId('provider-panel').waitFor();
      expect(await page.getByTestId('provider-attempt-webgpu').textContent()).toContain(skipped);
      expect(await page.getByTestId('provider-panel').textContent()).toContain(`WebGPU adapter: ${LLVMPIPE} (software`);
      await screenshot(page, 'provider-panel');
      await page.keyboard.press('Escape');
      await page.getByTestId('provider-panel').waitFor({ state: 'detached' });

      await page.getByTestId('nav-settings').click();
      expect(await page.getByTestId('settings-adapter').textContent()).toContain(LLVMPIPE);
      const choice = page.getByTestId('settings-provider-choice');
      await expect.poll(() => choice.isEnabled()).toBe(true);
      expect(await choice.inputValue()).toBe('auto');
      // asked for by name, the software adapter is used (the user asked)
      await choice.selectOption('webgpu');
      await expect.poll(() => page.textContent('[data-testid="provider"]')).toBe('webgpu');
      expect(storedProvider()).toBe('webgpu');
      expect(await page.getByTestId('settings-provider-note').textContent()).toMatch(/^webgpu \(asked for; software adapter llvmpipe/);
      await choice.selectOption('auto');
      await expect.poll(() => page.textContent('[data-testid="provider"]')).toBe('cpu');
      expect(storedProvider()).toBe('auto');
      await screenshot(page, 'provider-settings');

      await page.getByTestId('nav-runs').click();
      await page.getByTestId('launch-form').waitFor();
      const runProvider = page.getByTestId('launch-provider');
      expect(await runProvider.inputValue()).toBe('');
      expect(await runProvider.locator('option').first().textContent()).toBe('As in Settings (auto)');
      expect(await runProvider.locator('option').allTextContents()).toEqual(expect.arrayContaining(['CPU', 'WebGPU (Vulkan, D3D12, Metal)']));
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
