/**
 * The workstation end to end in browser mode: the built renderer and the API served by the real
 * server (as `sd4match serve --db FILE` runs it) on a fresh database, driven in Debian's Chromium
 * with the mouse and the keyboard. One page walks through the workflow in order (import, schema,
 * annotation, reload, pairs, a benchmark, a large dataset, models); every view is photographed to
 * test-results/screens/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { requireBuilt } from '../helpers/build-output.js';
import { genSpair } from '../helpers/dataset-gen.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { canvasPoint, launchChromium, markers, openPage, screenshot, seedLargeFolderDataset, writeScene } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

const W = 480;
const H = 360;
/** Where the keypoints go: beak, eye, tail, foot (image pixels). */
const P = [
  [330, 150],
  [300, 120],
  [120, 170],
  [210, 300],
] as const;
const EYE_MOVED = [286, 104] as const;
const Q = [
  [340, 160],
  [310, 128],
] as const;

let tmp: string;
let dbFile: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
/** A second "window": the API in-process, for checking the store and changing it from elsewhere. */
let other: InMemoryClient;

beforeAll(async () => {
  requireBuilt('out/renderer/index.html');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-'));
  dbFile = path.join(tmp, 'workstation.db');
  await Promise.all([0, 1, 2].map((i) => writeScene(path.join(tmp, 'birds', `bird_${i}.jpg`), W, H, i)));
  await genSpair(path.join(tmp, 'SPair-71k'), { categories: ['cat', 'dog'], imagesPerCategory: 5, size: [160, 260] });
  server = await startServer({ port: 0, db: dbFile });
  other = createInMemoryClient(server.api);
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser, `${server.url}#/datasets`));
  await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
});

afterAll(async () => {
  other?.close();
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);

async function saved(): Promise<void> {
  await expect.poll(() => byTestId('save-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('saved');
}

async function currentImage(): Promise<string> {
  return (await byTestId('annotation-canvas').getAttribute('data-image-id')) ?? '';
}

async function clickImage(x: number, y: number): Promise<void> {
  const p = await canvasPoint(page, x, y);
  await page.mouse.click(p.x, p.y);
}

/** Asserts the markers on the canvas: kp -> [x, y, visibility], to a pixel. */
async function expectMarkers(expected: Record<number, readonly [number, number, number]>): Promise<void> {
  await expect.poll(async () => [...(await markers(page)).keys()].sort(), { timeout: 10_000 }).toEqual(Object.keys(expected).map(Number).sort());
  const m = await markers(page);
  for (const [kp, [x, y, v]] of Object.entries(expected)) {
    const got = m.get(Number(kp))!;
    expect(Math.abs(got.x - x), `x of keypoint ${kp}`).toBeLessThanOrEqual(1);
    expect(Math.abs(got.y - y), `y of keypoint ${kp}`).toBeLessThanOrEqual(1);
    expect(got.visibility, `visibility of keypoint ${kp}`).toBe(v);
  }
}

/** Waits until every rendered thumbnail has loaded (they come from the image route). */
async function thumbnailsLoaded(): Promise<void> {
  await expect
    .poll(() =>
      page
        .locator('[data-testid="grid-cell"] img')
        .evaluateAll((imgs) => imgs.every((i) => (i as unknown as { complete: boolean; naturalWidth: number }).complete && (i as unknown as { naturalWidth: number }).naturalWidth > 0)),
    )
    .toBe(true);
}

let birdsId: number;
let categoryId: number;
let imageIds: number[];

describe('the workstation in Chromium (browser mode)', () => {
  it('imports a folder of images, with inline messages for bad input', async () => {
    await byTestId('datasets-empty').waitFor();
    await screenshot(page, 'datasets-empty');
    await byTestId('import-dataset').click();
    await byTestId('import-dialog').waitFor();
    await byTestId('import-submit').click();
    expect(await byTestId('import-root-error').textContent()).toBe('Choose the dataset folder.');
    await byTestId('import-root').fill(path.join(tmp, 'no-such-folder'));
    await byTestId('import-submit').click();
    await expect.poll(() => byTestId('import-root-error').textContent()).toMatch(/no-such-folder does not exist/);
    await byTestId('import-root').fill(path.join(tmp, 'birds'));
    await byTestId('import-name').fill('   ');
    await byTestId('import-submit').click();
    expect(await byTestId('import-name-error').textContent()).toMatch(/cannot be blank/);
    expect(await call('datasets:list')).toEqual([]);
    await byTestId('import-name').fill('');
    await byTestId('import-submit').click();
    const dialog = byTestId('import-dialog');
    await dialog.getByTestId('import-report').waitFor();
    expect(await dialog.getByTestId('report-images').textContent()).toBe('3');
    await screenshot(page, 'datasets-import-report');
    await byTestId('import-open').click();
    await expect.poll(() => byTestId('dataset-name').textContent()).toBe('birds');
    await expect.poll(() => byTestId('grid-cell').count()).toBe(3);
    // thumbnails come from the image route
    await thumbnailsLoaded();
    await screenshot(page, 'datasets');
    const [d] = await call('datasets:list');
    birdsId = d!.id;
    categoryId = (await call('datasets:get', { id: birdsId })).categoryList[0]!.id;
    imageIds = (await call('images:list', { datasetId: birdsId })).items.map((i) => i.id);
  });

  it('defines a 4-keypoint schema; empty and duplicate names are pointed out and nothing is saved', async () => {
    await byTestId('open-annotate').click();
    await byTestId('define-schema').click();
    await byTestId('schema-editor').waitFor();
    for (let i = 0; i < 4; i++) await byTestId('schema-add').click();
    const names = byTestId('schema-name');
    await names.nth(0).fill('beak');
    await names.nth(1).fill('eye');
    await names.nth(2).fill('Beak');
    await byTestId('schema-save').click();
    const errors = await byTestId('schema-error').allTextContents();
    expect(errors).toEqual(['Keypoint 1 already has this name.', 'Give this keypoint a name.']);
    expect((await call('datasets:get', { id: birdsId })).categoryList[0]!.keypoints).toEqual([]);
    await names.nth(2).fill('tail');
    await names.nth(3).fill('foot');
    await byTestId('schema-add-edge').click();
    await screenshot(page, 'annotate-schema');
    await byTestId('schema-save').click();
    await byTestId('annotation-canvas').waitFor();
    const category = (await call('datasets:get', { id: birdsId })).categoryList[0]!;
    expect(category.keypoints.map((k) => k.name)).toEqual(['beak', 'eye', 'tail', 'foot']);
    expect(category.skeleton).toEqual([[0, 1]]);
  });

  it('annotates three images with the mouse and the keyboard: place, move, visibility, delete, copy, undo, redo', async () => {
    // image 1: click places beak, eye, tail, foot in turn
    await expect.poll(currentImage).toBe(String(imageIds[0]));
    for (const [x, y] of P) await clickImage(x, y);
    await expectMarkers({ 0: [...P[0], 2], 1: [...P[1], 2], 2: [...P[2], 2], 3: [...P[3], 2] });
    await saved();
    // drag the eye
    const from = await canvasPoint(page, ...P[1]);
    const to = await canvasPoint(page, ...EYE_MOVED);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 8 });
    await page.mouse.up();
    await expectMarkers({ 1: [...EYE_MOVED, 2], 0: [...P[0], 2], 2: [...P[2], 2], 3: [...P[3], 2] });
    await saved();
    // the tail is occluded
    await page.keyboard.press('3');
    await page.keyboard.press('v');
    await expect.poll(async () => (await markers(page)).get(2)?.visibility).toBe(1);
    await saved();
    // undo twice (visibility, move), then redo both with the two redo shortcuts
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await markers(page)).get(2)?.visibility).toBe(2);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await markers(page)).get(1)?.x).toBe(P[1][0]);
    await page.keyboard.press('Control+y');
    await expect.poll(async () => Math.abs((await markers(page)).get(1)!.x - EYE_MOVED[0]) <= 1).toBe(true);
    await page.keyboard.press('Control+Shift+Z');
    await expect.poll(async () => (await markers(page)).get(2)?.visibility).toBe(1);
    await saved();
    await screenshot(page, 'annotate');

    // image 2: copy the previous image's keypoints, delete the foot, nudge the eye
    await page.keyboard.press('d');
    await expect.poll(currentImage).toBe(String(imageIds[1]));
    await expect.poll(async () => (await markers(page)).size).toBe(0);
    await page.keyboard.press('c');
    await expectMarkers({ 0: [...P[0], 2], 1: [...EYE_MOVED, 2], 2: [...P[2], 1], 3: [...P[3], 2] });
    await page.keyboard.press('4');
    await page.keyboard.press('Delete');
    await expect.poll(async () => (await markers(page)).has(3)).toBe(false);
    await page.keyboard.press('2');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await expectMarkers({ 0: [...P[0], 2], 1: [EYE_MOVED[0] + 3, EYE_MOVED[1], 2], 2: [...P[2], 1] });
    await saved();

    // image 3: zoom in at the pointer, pan by dragging the image, place two points there,
    // delete one and bring it back, fit again
    await byTestId('next-image').click();
    await expect.poll(currentImage).toBe(String(imageIds[2]));
    const canvas = byTestId('annotation-canvas');
    const fitted = Number(await canvas.getAttribute('data-scale'));
    const centre = await canvasPoint(page, W / 2, H / 2);
    await page.mouse.move(centre.x, centre.y);
    await page.mouse.wheel(0, -400);
    await expect.poll(async () => Number(await canvas.getAttribute('data-scale'))).toBeGreaterThan(fitted * 1.5);
    const tx = Number(await canvas.getAttribute('data-tx'));
    const box = (await canvas.boundingBox())!;
    const grab = { x: box.x + box.width / 2, y: box.y + box.height * 0.7 };
    await page.mouse.move(grab.x, grab.y);
    await page.mouse.down();
    await page.mouse.move(grab.x - 120, grab.y, { steps: 6 });
    await page.mouse.up();
    await expect.poll(async () => Number(await canvas.getAttribute('data-tx'))).toBeCloseTo(tx - 120, 0);
    expect((await markers(page)).size).toBe(0); // a drag pans, it places nothing
    await clickImage(...Q[0]);
    await clickImage(...Q[1]);
    await page.keyboard.press('q'); // from the tail back to the eye
    await page.keyboard.press('Delete');
    await expect.poll(async () => (await markers(page)).has(1)).toBe(false);
    await byTestId('undo-button').click();
    await expectMarkers({ 0: [...Q[0], 2], 1: [...Q[1], 2] });
    await saved();
    await page.keyboard.press('f');
    await expect.poll(async () => Number(await canvas.getAttribute('data-scale'))).toBeCloseTo(fitted, 5);
    await page.keyboard.press('?');
    await byTestId('help-overlay').waitFor();
    await screenshot(page, 'annotate-help');
    await page.keyboard.press('Escape');
    await byTestId('help-overlay').waitFor({ state: 'detached' });

    // the store has exactly what the canvas shows
    const stored = await Promise.all(imageIds.map((imageId) => call('annotations:get', { imageId, categoryId })));
    expect(stored.map((s) => s.keypoints.map((k) => [k.kp, k.visibility]))).toEqual([
      [
        [0, 2],
        [1, 2],
        [2, 1],
        [3, 2],
      ],
      [
        [0, 2],
        [1, 2],
        [2, 1],
      ],
      [
        [0, 2],
        [1, 2],
      ],
    ]);
  });

  it('finds everything saved after reloading the page, and undo still works across the reload', async () => {
    await page.reload();
    await byTestId('annotation-canvas').waitFor();
    await expect.poll(currentImage).toBe(String(imageIds[2]));
    await expectMarkers({ 0: [...Q[0], 2], 1: [...Q[1], 2] });
    await page.keyboard.press('a');
    await expect.poll(currentImage).toBe(String(imageIds[1]));
    await expectMarkers({ 0: [...P[0], 2], 1: [EYE_MOVED[0] + 3, EYE_MOVED[1], 2], 2: [...P[2], 1] });
    await page.keyboard.press('PageUp');
    await expect.poll(currentImage).toBe(String(imageIds[0]));
    await expectMarkers({ 0: [...P[0], 2], 1: [...EYE_MOVED, 2], 2: [...P[2], 1], 3: [...P[3], 2] });
    // undo reaches back past the reload: the tail was visible before
    await byTestId('undo-button').click();
    await expect.poll(async () => (await markers(page)).get(2)?.visibility).toBe(2);
    await byTestId('redo-button').click();
    await expect.poll(async () => (await markers(page)).get(2)?.visibility).toBe(1);
    await saved();
    await byTestId('theme-toggle').click();
    await page.waitForTimeout(150);
    await screenshot(page, 'annotate-dark');
    await byTestId('theme-toggle').click();
  });

  it('shows a change made in another window', async () => {
    const state = await call('annotations:get', { imageId: imageIds[0]!, categoryId });
    const keypoints = state.keypoints.map((k) => (k.kp === 3 ? { ...k, x: 250 } : k));
    await call('annotations:save', { imageId: imageIds[0]!, categoryId, keypoints, baseVersion: state.version, action: 'move foot elsewhere' });
    await expect.poll(async () => (await markers(page)).get(3)?.x).toBe(250);
    await byTestId('undo-button').click();
    await expect.poll(async () => (await markers(page)).get(3)?.x).toBe(P[3][0]);
    await saved();
  });

  it('builds pairs from the annotated images, and lists and filters them', async () => {
    await byTestId('nav-pairs').click();
    await byTestId('build-pairs').waitFor();
    await byTestId('mode-random').check();
    await byTestId('pairs-count').fill('lots');
    await byTestId('build-submit').click();
    expect(await byTestId('pairs-count-error').textContent()).toMatch(/whole number/);
    await byTestId('mode-all').check();
    await byTestId('build-submit').click();
    await expect.poll(() => byTestId('pair-row').count()).toBe(3);
    await byTestId('mode-manual').check();
    await byTestId('pairs-src').selectOption({ label: 'bird_2.jpg' });
    await byTestId('pairs-trg').selectOption({ label: 'bird_0.jpg' });
    await byTestId('pairs-split').selectOption('test');
    await byTestId('build-submit').click();
    await expect.poll(() => byTestId('pair-row').count()).toBe(1);
    expect(await byTestId('filter-split').inputValue()).toBe('test');
    await byTestId('filter-split').selectOption('');
    await expect.poll(() => byTestId('pair-row').count()).toBe(4);
    await page.locator('[data-testid="pair-row"] button').first().click();
    await byTestId('pair-preview').waitFor();
    await screenshot(page, 'pairs');
    await byTestId('filter-min').fill('3');
    await byTestId('filter-min').press('Enter');
    await byTestId('pairs-none').waitFor();
    await byTestId('filter-min').fill('');
    await byTestId('filter-min').press('Enter');
    await expect.poll(() => byTestId('pair-row').count()).toBe(4);
    // correspondences: the keypoints visible on both images (beak and eye)
    const pairs = await call('pairs:list', { datasetId: birdsId });
    expect(pairs.items.map((p) => [p.name, p.split, p.nPts])).toEqual([
      [`${imageIds[0]}-${imageIds[1]}:birds`, 'trn', 2],
      [`${imageIds[0]}-${imageIds[2]}:birds`, 'trn', 2],
      [`${imageIds[1]}-${imageIds[2]}:birds`, 'trn', 2],
      [`${imageIds[2]}-${imageIds[0]}:birds`, 'test', 2],
    ]);
    expect((await call('pairs:get', { id: pairs.items[0]!.id })).kpIds).toEqual([0, 1]);
    // tick two pairs and move them to validation
    const trnBoxes = page.locator('[data-testid="pair-row"][data-split="trn"] input[type="checkbox"]');
    await trnBoxes.nth(0).check();
    await trnBoxes.nth(1).check();
    await byTestId('bulk-actions').getByRole('combobox').selectOption('val');
    await byTestId('move-pairs').click();
    await expect.poll(() => page.locator('[data-testid="pair-row"][data-split="val"]').count()).toBe(2);
    expect((await call('pairs:list', { datasetId: birdsId, split: 'val' })).items.map((p) => p.name)).toEqual([pairs.items[0]!.name, pairs.items[1]!.name]);
  });

  it('exports the annotations as COCO keypoints, asking before overwriting', async () => {
    await byTestId('nav-datasets').click();
    await byTestId('export-coco').click();
    const file = path.join(tmp, 'birds', 'birds-coco.json');
    expect(await byTestId('export-file').inputValue()).toBe(file);
    await byTestId('export-submit').click();
    await byTestId('export-dialog').waitFor({ state: 'detached' });
    const coco = JSON.parse(fs.readFileSync(file, 'utf8')) as { categories: { keypoints: string[]; skeleton: number[][] }[]; annotations: { num_keypoints: number }[] };
    expect(coco.categories[0]).toMatchObject({ keypoints: ['beak', 'eye', 'tail', 'foot'], skeleton: [[1, 2]] });
    expect(coco.annotations.map((a) => a.num_keypoints)).toEqual([4, 3, 2]);
    await byTestId('export-coco').click();
    await byTestId('export-submit').click();
    await expect.poll(() => byTestId('export-file-error').textContent()).toMatch(/already exists/);
    await byTestId('export-overwrite').check();
    await byTestId('export-submit').click();
    await byTestId('export-dialog').waitFor({ state: 'detached' });
  });

  it('imports a generated SPair-71k dataset and browses its categories, images and pairs', async () => {
    await byTestId('nav-datasets').click();
    await byTestId('import-dataset').click();
    await byTestId('import-format').selectOption('spair');
    await byTestId('import-root').fill(path.join(tmp, 'SPair-71k'));
    await byTestId('import-submit').click();
    const dialog = byTestId('import-dialog');
    await dialog.getByTestId('import-report').waitFor({ timeout: 30_000 });
    expect(await dialog.getByTestId('report-pairs').textContent()).toMatch(/^11 \(trn 6, val 2, test 3\)/);
    await byTestId('import-open').click();
    await expect.poll(() => byTestId('dataset-name').textContent()).toBe('SPair-71k');
    // the grid loads after the dataset opens: wait for its first page before reading its size
    await expect.poll(async () => Number(await byTestId('image-grid').getAttribute('data-total'))).toBeGreaterThan(0);
    const total = Number(await byTestId('image-grid').getAttribute('data-total'));
    await byTestId('category-select').selectOption({ label: (await byTestId('category-select').locator('option').nth(2).textContent())! });
    await expect.poll(async () => Number(await byTestId('image-grid').getAttribute('data-total'))).toBeLessThan(total);
    await byTestId('grid-cell').first().click();
    await byTestId('detail-keypoints').waitFor();
    await expect.poll(() => page.locator('[data-testid="image-detail"] img').evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
    expect(await byTestId('detail-annotate').count()).toBe(0); // benchmark keypoints are read-only
    await screenshot(page, 'datasets-image-detail');
    await page.keyboard.press('Escape');
    await byTestId('image-detail').waitFor({ state: 'detached' });
    await screenshot(page, 'datasets-spair');
    await byTestId('nav-pairs').click();
    await byTestId('pairs-dataset').selectOption({ label: 'SPair-71k' });
    await expect.poll(() => byTestId('pairs-table').getAttribute('data-total')).toBe('11');
    await byTestId('filter-split').selectOption('test');
    await expect.poll(() => byTestId('pair-row').count()).toBe(3);
    await byTestId('filter-search').fill(':dog');
    await expect.poll(async () => (await byTestId('pair-row').allTextContents()).every((t) => t.includes('dog'))).toBe(true);
    expect(await page.getByText('its pairs come from its annotation files').count()).toBe(1);
    await screenshot(page, 'pairs-spair');
  });

  it('browses 10,000 images with a bounded number of rendered cells', async () => {
    await seedLargeFolderDataset(dbFile, path.join(tmp, 'large'), 10_000, 'large');
    // written behind the engine's back: a reload lists it
    await page.goto(`${server.url}#/datasets`);
    await page.reload();
    await page.locator('[data-testid="dataset-item"][data-name="large"]').click();
    await expect.poll(() => byTestId('image-grid').getAttribute('data-total')).toBe('10000');
    const columns = Number(await byTestId('image-grid').getAttribute('data-columns'));
    await expect.poll(() => byTestId('grid-cell').count()).toBeGreaterThan(0);
    const atTop = await byTestId('grid-cell').count();
    const bound = columns * 12;
    expect(atTop).toBeLessThanOrEqual(bound);
    const scroller = byTestId('image-grid-scroller');
    const started = Date.now();
    for (const fraction of [0.25, 0.5, 0.75, 1]) {
      await scroller.evaluate((el, f) => {
        const e = el as unknown as { scrollTop: number; scrollHeight: number; clientHeight: number };
        e.scrollTop = (e.scrollHeight - e.clientHeight) * f;
      }, fraction);
      await page.waitForTimeout(50);
      expect(await byTestId('grid-cell').count()).toBeLessThanOrEqual(bound);
    }
    const last = (await call('images:list', { datasetId: (await call('datasets:list')).find((d) => d.name === 'large')!.id, offset: 9999, limit: 1 })).items[0]!;
    await page.locator(`[data-testid="grid-cell"][data-image-id="${last.id}"]`).waitFor();
    expect(Date.now() - started).toBeLessThan(10_000);
    await thumbnailsLoaded();
    expect(await page.locator('[data-testid="image-grid"] *').count()).toBeLessThan(2000);
    await screenshot(page, 'datasets-large');
  });

  it.skipIf(!HAVE_FIXTURES)('adds and validates model folders and compiles one with progress; a failed compile shows the engine message', async () => {
    const sd = path.join(tmp, 'models', 'sd-tiny');
    fs.cpSync(modelPath('sd'), sd, { recursive: true });
    await byTestId('nav-models').click();
    await byTestId('models-empty').waitFor();
    await byTestId('add-model').click();
    await byTestId('add-model-submit').click();
    expect(await byTestId('model-folder-error').textContent()).toBe('Choose the model folder.');
    await byTestId('model-folder').fill(path.join(tmp, 'birds'));
    await byTestId('add-model-submit').click();
    await expect.poll(() => byTestId('validation-report').getAttribute('data-ok')).toBe('false');
    expect(await byTestId('validation-problems').locator('li').count()).toBeGreaterThanOrEqual(3);
    expect(await call('models:list')).toEqual([]);
    await screenshot(page, 'models-validation');
    await byTestId('model-folder').fill(sd);
    await byTestId('add-model-submit').click();
    await byTestId('add-model-dialog').waitFor({ state: 'detached' });
    await byTestId('model-card').waitFor();
    expect(await byTestId('compiled-state').textContent()).toBe('not compiled');
    await byTestId('compile-model').click();
    await expect.poll(() => byTestId('compiled-state').textContent(), { timeout: 60_000 }).toBe('compiled');
    await screenshot(page, 'models');
    // a folder broken after it was added: the job fails and the toast carries the engine's message
    fs.rmSync(path.join(sd, 'unet', 'model.onnx'));
    await byTestId('compile-model').click();
    const toast = page.locator('[data-testid="toast"][data-kind="error"]');
    await toast.waitFor({ timeout: 60_000 });
    expect(await toast.textContent()).toMatch(/Compiling sd-tiny.*unet[\\/]model\.onnx is missing/s);
    await screenshot(page, 'models-error');
  });

  it('shows the provider, the database and the jobs in the status bar, and every view in both themes', async () => {
    expect(await byTestId('provider').textContent()).toBe('cpu');
    expect(await byTestId('db-path').textContent()).toBe(dbFile);
    await byTestId('jobs-button').click();
    await byTestId('jobs-panel').waitFor();
    expect(await page.locator('[data-testid="job"][data-kind="import"][data-state="completed"]').count()).toBe(2);
    expect(await page.locator('[data-testid="job"][data-kind="pairs"][data-state="completed"]').count()).toBe(2);
    await screenshot(page, 'status-jobs');
    await page.keyboard.press('Escape');
    for (const theme of ['light', 'dark'] as const) {
      if (theme === 'dark') await byTestId('theme-toggle').click();
      for (const view of ['models', 'datasets', 'annotate', 'pairs', 'runs', 'compare', 'settings'] as const) {
        await byTestId(`nav-${view}`).click();
        await byTestId(`view-${view}`).waitFor();
        if (view === 'runs' || view === 'compare') await byTestId(`${view}-empty`).waitFor();
        await page.waitForTimeout(250);
        await screenshot(page, `${view}-${theme}`);
      }
    }
    // the theme is remembered
    await page.reload();
    await byTestId('view-settings').waitFor();
    expect(await page.evaluate<string | undefined>('document.documentElement.dataset.theme')).toBe('dark');
    expect(problems).toEqual([]);
  });
});
