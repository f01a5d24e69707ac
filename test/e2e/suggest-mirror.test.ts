/**
 * Symmetric pairs in the browser: the schema dialog finds and edits left/right pairs, and Suggest
 * on a mirror image of a labelled scene calls its left eye left (the tiny fixture model, the built
 * renderer against the real server, Debian's Chromium). Screens go to test-results/screens/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { requireBuilt } from '../helpers/build-output.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeScene } from '../helpers/scenes.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

const W = 96;
const H = 80;
const SIZE = { width: W, height: H };
const SCHEMA = ['left_eye', 'right_eye', 'nose', 'Left ear', 'Right ear'];
/** Scene 0's keypoints (image pixels), one per schema entry. */
const KPS = [
  [20, 18],
  [70, 30],
  [44, 50],
  [12, 62],
  [84, 66],
] as const;
const KPS_OTHER = [
  [60, 50],
  [30, 20],
  [80, 70],
  [50, 10],
  [16, 40],
] as const;
/** The keypoint each one becomes in the mirror image. */
const MIRROR = [1, 0, 2, 4, 3];
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };

let tmp: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
let other: InMemoryClient;
let categoryId: number;
let datasetId: number;
const ids: Record<string, number> = {};

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);

describe.skipIf(!HAVE_FIXTURES)('Symmetric pairs and mirrored suggestions in Chromium', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-mirror-'));
    const dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    const root = path.join(tmp, 'cats');
    fs.mkdirSync(root);
    await writeScene(path.join(root, 'a_scene.png'), 21, SIZE);
    await writeScene(path.join(root, 'b_scene.png'), 22, SIZE);
    await writeScene(path.join(root, 'c_mirrored.png'), 21, SIZE, { mirrored: true });
    const store = Store.open(dbFile);
    try {
      datasetId = (await importDataset(store, { format: 'folder', root, name: 'cats' })).datasetId;
      repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd });
    } finally {
      store.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    categoryId = (await call('datasets:get', { id: datasetId })).categoryList[0]!.id;
    await call('categories:set-schema', { categoryId, keypoints: SCHEMA.map((name, i) => ({ name, color: ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231'][i]! })), skeleton: [] });
    for (const img of (await call('images:list', { datasetId, categoryId })).items) ids[img.path.replace(/\.png$/, '')] = img.id;
    for (const [name, kps] of [
      ['a_scene', KPS],
      ['b_scene', KPS_OTHER],
    ] as const) {
      await call('annotations:save', { imageId: ids[name]!, categoryId, keypoints: kps.map(([x, y], kp) => ({ kp, x, y, visibility: 2 as const })), baseVersion: 0, action: 'label' });
    }
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/annotate?dataset=${datasetId}&category=${categoryId}&image=${ids.c_mirrored}`, { width: 1440, height: 900 }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('finds left/right pairs by name, refuses a keypoint in two pairs, and saves them', async () => {
    await byTestId('edit-schema').click();
    await byTestId('schema-editor').waitFor();
    await expect.poll(() => byTestId('schema-pairs-empty').count()).toBe(1);
    await byTestId('schema-find-pairs').click();
    await expect.poll(() => byTestId('schema-pair').count()).toBe(2);
    // a third pair reusing left_eye is pointed out before anything is sent
    await byTestId('schema-add-pair').click();
    const third = byTestId('schema-pair').nth(2);
    await third.locator('select').nth(0).selectOption({ label: '1. left_eye' });
    await third.locator('select').nth(1).selectOption({ label: '3. nose' });
    await byTestId('schema-save').click();
    await expect.poll(() => byTestId('schema-pair-error').allTextContents()).toEqual(['left_eye is already in pair 1.']);
    expect((await call('datasets:get', { id: datasetId })).categoryList[0]!.flipPairs).toEqual([]);
    await screenshot(page, 'schema-pairs-error');
    await third.getByRole('button', { name: 'Delete pair 3' }).click();
    await screenshot(page, 'schema-pairs');
    await byTestId('schema-save').click();
    await byTestId('schema-editor').waitFor({ state: 'detached' });
    const category = (await call('datasets:get', { id: datasetId })).categoryList[0]!;
    expect(category.flipPairs).toEqual([
      [0, 1],
      [3, 4],
    ]);
  });

  it('suggests on the mirror image of a labelled scene with the names swapped by the pairs', async () => {
    await byTestId('suggest-panel').waitFor();
    await expect.poll(() => byTestId('suggest-prompt').locator('option').count()).toBeGreaterThan(0);
    await byTestId('suggest-prompt').selectOption({ label: 'empty prompt' });
    const details = byTestId('suggest-settings');
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await byTestId('suggest-size').fill('256');
    await byTestId('suggest-ensemble').fill('1');
    await byTestId('suggest-run').click();
    await expect
      .poll(async () => {
        const failed = (await call('jobs:list')).find((j) => j.state === 'failed');
        if (failed) throw new Error(`${failed.title} failed: ${failed.error?.message}`);
        return byTestId('suggestion').count();
      }, SLOW)
      .toBe(SCHEMA.length);
    const rings = await byTestId('suggestion').evaluateAll((els) =>
      els.map((el) => ({ kp: Number(el.getAttribute('data-kp')), x: Number(el.getAttribute('data-x')), y: Number(el.getAttribute('data-y')) })),
    );
    for (const r of rings) {
      // the mirror image's left eye is where scene a's right eye went
      const [x, y] = KPS[MIRROR[r.kp]!]!;
      expect(Math.hypot(r.x - (W - x), r.y - y), `${SCHEMA[r.kp]} at (${r.x}, ${r.y})`).toBeLessThanOrEqual(0.05 * W);
    }
    await screenshot(page, 'suggest-mirrored');
    expect(problems).toEqual([]);
  }, 200_000);
});
