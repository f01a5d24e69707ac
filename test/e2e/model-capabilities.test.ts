/**
 * What a model can do, in Chromium against the real server (browser mode) at 1440 x 900: a Stable
 * Diffusion folder without a tokenizer is added through the dialog, which states what it can and
 * cannot do and why; its card keeps saying so; the Runs launch form chosen on it says why it
 * cannot train and keeps Start off, while the full folder can; "Check again" then Save on a model
 * updates it in place and says "Updated". Screenshots in test-results/screens/model-capabilities-*.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { requireBuilt } from '../helpers/build-output.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { launchChromium, openPage, screenshot, writeScene } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

let tmp: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
let other: InMemoryClient;
let bare: string;
let full: string;

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

/** Waits for an import job; throws unless it completed. */
async function finished(jobId: string): Promise<void> {
  for (let t = 0; (await call('jobs:list')).find((j) => j.id === jobId)?.state === 'running'; t++) {
    if (t > 300) throw new Error('the import did not finish');
    await new Promise((r) => setTimeout(r, 100));
  }
  const job = (await call('jobs:list')).find((j) => j.id === jobId);
  if (job?.state !== 'completed') throw new Error(`the import ended ${job?.state}: ${job?.error?.message}`);
}

const byTestId = (id: string) => page.getByTestId(id);
const card = (name: string) => page.locator(`[data-testid="model-card"][data-name="${name}"]`);

describe.skipIf(!HAVE_FIXTURES)('model capabilities in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-caps-'));
    full = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'models', 'sd-full'));
    bare = path.join(tmp, 'models', 'sd-bare');
    fs.cpSync(full, bare, { recursive: true });
    fs.rmSync(path.join(bare, 'tokenizer'), { recursive: true });
    await writeShiftedSpair(path.join(tmp, 'shift'), 6, 3, { size: 128 });
    server = await startServer({ port: 0, db: path.join(tmp, 'w.db') });
    other = createInMemoryClient(server.api);
    const { jobId } = await call('datasets:import', { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' });
    await finished(jobId);
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/models`, { width: 1440, height: 900 }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('adding a folder without a tokenizer states what it cannot do and why, in the dialog and on its card', async () => {
    await byTestId('add-model').click();
    await byTestId('add-model-dialog').waitFor();
    await byTestId('model-folder').fill(bare);
    await byTestId('model-name').fill('sd without tokenizer');
    await byTestId('validate-model').click();
    const report = byTestId('validation-report');
    await expect.poll(() => report.getAttribute('data-ok')).toBe('true');
    const list = report.getByTestId('capability-list');
    expect(await list.getAttribute('data-off')).toBe('5');
    const training = list.locator('[data-capability="training"]');
    expect(await training.getAttribute('data-ok')).toBe('false');
    // the missing part is named once, each use says why it needs it
    expect(await list.getByTestId('capability-missing').textContent()).toBe('Missing: no tokenizer/ folder (vocab.json + merges.txt, or tokenizer.json)');
    expect(await training.getByTestId('capability-reason').textContent()).toMatch(/^Single, Class and CPM prompts start from the tokenizer's start, end and padding tokens/);
    expect(await list.locator('[data-capability="features"] [data-testid="capability-reason"]').textContent()).toMatch(/empty prompt/);
    await screenshot(page, 'model-capabilities-dialog');
    await byTestId('add-model-submit').click();
    await byTestId('add-model-dialog').waitFor({ state: 'detached' });
    const c = card('sd without tokenizer');
    await c.waitFor();
    expect(await c.getByTestId('capability-list').getAttribute('data-off')).toBe('5');
    expect(await c.locator('[data-capability="generation"] [data-testid="capability-reason"]').isVisible()).toBe(true);
    // the full folder, added from another window, can do all but CPM (no DINOv2 model registered)
    await call('models:add', { kind: 'stable-diffusion', folder: full, name: 'sd full' });
    const f = card('sd full');
    await f.waitFor();
    expect(await f.getByTestId('capability-list').getAttribute('data-off')).toBe('1');
    expect(await f.locator('[data-capability="cpm"] [data-testid="capability-reason"]').textContent()).toMatch(/^no DINOv2 model is registered/);
    await screenshot(page, 'model-capabilities-cards');
  });

  it('the launch form says why the chosen model cannot train and keeps Start off; the full model can', async () => {
    await byTestId('nav-runs').click();
    await byTestId('launch-form').waitFor();
    await byTestId('launch-model').selectOption({ label: 'sd without tokenizer' });
    const cannot = byTestId('launch-cannot');
    await cannot.waitFor();
    expect(await cannot.textContent()).toMatch(/^sd without tokenizer cannot train prompts: no tokenizer\/ folder/);
    expect(await cannot.isVisible()).toBe(true);
    expect(await byTestId('launch-submit').isDisabled()).toBe(true);
    await screenshot(page, 'model-capabilities-launch');
    await byTestId('launch-model').selectOption({ label: 'sd full' });
    await cannot.waitFor({ state: 'detached' });
    expect(await byTestId('launch-submit').isDisabled()).toBe(false);
    // CPM on the full model: no DINOv2 model is registered, so it says that instead
    await byTestId('launch-prompt-cpm').check();
    await cannot.waitFor();
    expect(await cannot.textContent()).toMatch(/^sd full cannot train CPM prompts: no DINOv2 model is registered/);
    await byTestId('launch-prompt-single').check();
    await cannot.waitFor({ state: 'detached' });
  });

  it('Suggest with the empty prompt is off on the model without a tokenizer, saying why', async () => {
    // a folder of images with a schema and one labelled image: what Suggest works on
    await Promise.all([0, 1, 2].map((i) => writeScene(path.join(tmp, 'birds', `bird_${i}.jpg`), 320, 240, i)));
    const { jobId } = await call('datasets:import', { format: 'folder', root: path.join(tmp, 'birds'), name: 'birds' });
    await finished(jobId);
    const ds = (await call('datasets:list')).find((d) => d.name === 'birds')!;
    const cat = (await call('datasets:get', { id: ds.id })).categoryList[0]!;
    await call('categories:set-schema', {
      categoryId: cat.id,
      keypoints: [
        { name: 'beak', color: '#e6194b' },
        { name: 'eye', color: '#3cb44b' },
      ],
      skeleton: [],
    });
    const images = (await call('images:list', { datasetId: ds.id, categoryId: cat.id })).items;
    await call('annotations:save', {
      imageId: images[0]!.id,
      categoryId: cat.id,
      keypoints: [
        { kp: 0, x: 200, y: 100, visibility: 2 },
        { kp: 1, x: 180, y: 80, visibility: 2 },
      ],
      baseVersion: 0,
      action: 'label',
    });
    const image = images[1]!;
    const empty = (await call('prompts:list', {})).find((p) => p.baseline === 'empty')!;
    await page.goto(`${server.url}#/annotate?dataset=${ds.id}&category=${cat.id}&image=${image.id}`);
    await byTestId('suggest-panel').waitFor();
    await byTestId('suggest-prompt').selectOption(String(empty.id));
    await byTestId('suggest-model').selectOption({ label: 'sd without tokenizer' });
    const missing = byTestId('suggest-missing');
    await missing.waitFor();
    expect(await missing.textContent()).toMatch(/^sd without tokenizer cannot use the empty prompt: no tokenizer\/ folder .*Choose a learned prompt or the DINOv2 baseline\.$/);
    expect(await byTestId('suggest-run').isDisabled()).toBe(true);
    await screenshot(page, 'model-capabilities-suggest');
    await byTestId('suggest-model').selectOption({ label: 'sd full' });
    await missing.waitFor({ state: 'detached' });
    expect(await byTestId('suggest-run').isDisabled()).toBe(false);
  });

  it('"Check again" then Save updates the model in place and says "Updated"', async () => {
    await byTestId('nav-models').click();
    const f = card('sd full');
    await f.waitFor();
    const before = (await call('models:list')).find((m) => m.name === 'sd full')!;
    await f.getByRole('button', { name: 'Check again' }).click();
    await byTestId('add-model-dialog').waitFor();
    await byTestId('add-model-submit').click();
    const toast = page.locator('[data-testid="toast"][data-kind="success"]').last();
    await toast.waitFor();
    expect(await toast.textContent()).toMatch(/Updated sd full/);
    await screenshot(page, 'model-capabilities-updated');
    const after = await call('models:list');
    expect(
      after
        .filter((m) => m.kind === 'stable-diffusion')
        .map((m) => [m.id, m.name])
        .sort(),
    ).toEqual(
      [
        [before.id, 'sd full'],
        [after.find((m) => m.name === 'sd without tokenizer')!.id, 'sd without tokenizer'],
      ].sort(),
    );
    expect(problems).toEqual([]);
  });
});
