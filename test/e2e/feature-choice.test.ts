/**
 * The feature choice (SD, DINOv2, SD+DINOv2 with SD's weight w) in Compare's settings and in
 * Annotate's Suggest panel, in Chromium at 1440x900 against the real server with the tiny fixture
 * Stable Diffusion and DINOv2 models: predictions and suggestions are computed with the chosen
 * features and named by them ("SD+DINOv2 (w=0.25), empty prompt"). Screens go to
 * test-results/screens/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptSummary } from '../../src/main/contract/index.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { requireBuilt } from '../helpers/build-output.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { launchChromium, openPage, screenshot, writeScene } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

/** Long waits: the first request opens the models. */
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };

let tmp: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
let other: InMemoryClient;
let pairsId: number;
let birdsId: number;
let categoryId: number;
let imageIds: number[];
let empty: PromptSummary;
let modelId: number;
let dinoModelId: number;

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);

describe.skipIf(!HAVE_FIXTURES)('the feature choice in Compare and Suggest (Chromium, browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-features-'));
    const dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    await writeShiftedSpair(path.join(tmp, 'shift'), 4, 2, { size: 128 });
    await Promise.all(Array.from({ length: 3 }, (_, i) => writeScene(path.join(tmp, 'birds', `bird_${i}.jpg`), 160, 120, i)));
    const store = Store.open(dbFile);
    try {
      pairsId = (await importDataset(store, { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' })).datasetId;
      birdsId = (await importDataset(store, { format: 'folder', root: path.join(tmp, 'birds'), name: 'birds' })).datasetId;
      modelId = repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd }).id;
      dinoModelId = repos(store.db).models.upsert({ name: 'dino-tiny', kind: 'dinov2', folder: modelPath('dinov2') }).id;
    } finally {
      store.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    empty = (await call('prompts:list', {})).find((p) => p.name === 'empty prompt')!;
    categoryId = (await call('datasets:get', { id: birdsId })).categoryList[0]!.id;
    await call('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: 'beak', color: '#e6194b' },
        { name: 'tail', color: '#4363d8' },
      ],
      skeleton: [],
    });
    imageIds = (await call('images:list', { datasetId: birdsId, categoryId })).items.map((i) => i.id);
    await call('annotations:save', {
      imageId: imageIds[0]!,
      categoryId,
      keypoints: [
        { kp: 0, x: 110, y: 50, visibility: 2 },
        { kp: 1, x: 40, y: 57, visibility: 2 },
      ],
      baseVersion: 0,
      action: 'label',
    });
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/compare?dataset=${pairsId}&split=val`, { width: 1440, height: 900 }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('Compare: SD+DINOv2 at w = 0.25 predicts on the pair, named by its features', async () => {
    for (const [k, v] of [
      ['size', '128'],
      ['ensemble', '1'],
    ]) {
      await byTestId(`compare-${k}`).fill(v);
      await byTestId(`compare-${k}`).press('Enter');
    }
    expect(await byTestId('compare-features').inputValue()).toBe('sd');
    expect(await byTestId('compare-fusion-weight').count()).toBe(0);
    await byTestId('compare-features').selectOption('sd+dino');
    expect(await byTestId('compare-fusion-weight').inputValue()).toBe('0.5');
    await byTestId('compare-fusion-weight').fill('1.5');
    await byTestId('compare-fusion-weight').press('Enter');
    await expect.poll(() => byTestId('compare-settings-error').textContent()).toBe('SD weight: a number from 0 to 1');
    await byTestId('compare-fusion-weight').fill('0.25');
    await byTestId('compare-fusion-weight').press('Enter');
    await expect.poll(() => byTestId('compare-settings-error').count()).toBe(0);
    expect(await byTestId('compare-dino').inputValue()).not.toBe('');

    await page.locator(`[data-testid="prompt-chip"][data-prompt-id="${empty.id}"]`).click();
    await byTestId('compare-pair-row').first().click();
    await expect.poll(() => byTestId('compare-stage').getAttribute('data-state'), SLOW).toBe('ready');
    await expect.poll(() => page.locator(`[data-testid="legend-item"][data-prompt-id="${empty.id}"] .name`).textContent()).toBe('SD+DINOv2 (w=0.25), empty prompt');
    await screenshot(page, 'feature-choice-compare');
    // remembered with the other settings
    const saved = JSON.parse((await page.evaluate<string | null>("localStorage.getItem('sd4match.compare.settings')")) ?? '{}') as Record<string, unknown>;
    expect(saved).toMatchObject({ features: 'sd+dino', fusionWeight: 0.25 });
    expect(problems).toEqual([]);
  }, 200_000);

  it('the PCK table has a row per prompt and feature choice, each named by its features', async () => {
    for (const extra of [{}, { features: 'sd+dino' as const, fusionWeight: 0.25, dinoModelId }]) {
      const { jobId } = await call('evals:start', { modelId, datasetId: pairsId, split: 'val', promptId: empty.id, size: 128, ensemble: 1, ...extra });
      await expect
        .poll(async () => {
          const j = (await call('jobs:list')).find((x) => x.id === jobId);
          if (j?.state === 'failed') throw new Error(j.error?.message);
          return j?.state;
        }, SLOW)
        .toBe('completed');
    }
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    const rows = page.locator(`[data-testid="pck-row"][data-prompt-id="${empty.id}"]`);
    await expect.poll(async () => (await rows.locator('.name .truncate').allTextContents()).sort(), SLOW).toEqual(['SD+DINOv2 (w=0.25), empty prompt', 'empty prompt']);
    await rows.first().scrollIntoViewIfNeeded();
    await screenshot(page, 'feature-choice-pck-table');
    expect(problems).toEqual([]);
  }, 200_000);

  it('Suggest: SD+DINOv2 in the panel; the suggestions are computed and stored with those features', async () => {
    await page.evaluate(`window.location.hash = ${JSON.stringify(`#/annotate?dataset=${birdsId}&category=${categoryId}&image=${imageIds[1]}`)}`);
    await byTestId('suggest-panel').waitFor();
    await expect.poll(() => byTestId('suggest-prompt').locator('option').count()).toBeGreaterThan(0);
    await byTestId('suggest-prompt').selectOption({ label: 'empty prompt' });
    expect(await byTestId('suggest-features').inputValue()).toBe('sd');
    await byTestId('suggest-features').selectOption('sd+dino');
    await byTestId('suggest-fusion-weight').fill('0.25');
    expect(await byTestId('suggest-dino').inputValue()).not.toBe('');
    const details = byTestId('suggest-settings');
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await byTestId('suggest-size').fill('64');
    await byTestId('suggest-ensemble').fill('1');
    await expect.poll(() => byTestId('suggest-settings-error').count()).toBe(0);
    await byTestId('suggest-run').click();
    await expect
      .poll(async () => {
        const failed = (await call('jobs:list')).find((j) => j.state === 'failed');
        if (failed) throw new Error(`${failed.title} failed: ${failed.error?.message}`);
        return (await call('suggest:get', { imageId: imageIds[1]!, categoryId }))?.prompt ?? null;
      }, SLOW)
      .toBe('SD+DINOv2 (w=0.25), empty prompt');
    await expect.poll(() => byTestId('suggestion').count(), SLOW).toBe(2);
    await screenshot(page, 'feature-choice-suggest');
    expect(problems).toEqual([]);
  }, 200_000);
});
