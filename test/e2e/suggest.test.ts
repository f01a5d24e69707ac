/**
 * Matching-assisted annotation end to end in browser mode: the built renderer against the real
 * server (as `sd4match serve --db FILE` runs it) with the tiny fixture Stable Diffusion model and
 * a folder dataset of generated scenes, driven in Debian's Chromium. Two images are labelled (one
 * through the API, one with the mouse); on a third, suggestions from the empty prompt are drawn
 * as hollow rings with their confidence, one is dragged to correct it, the rest are accepted from
 * confidence 0, undone, redone, and found stored after a reload; a fourth image's suggestions stay
 * pending and out of the COCO export; a batch over every unannotated image is cancelled from the
 * panel (the background prefetch of the next images' features, shown in the status bar, pauses for
 * it); the strip follows the label-next queue; suggest-eval reports on the labelled images.
 * Every state is photographed to test-results/screens/.
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
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { canvasPoint, launchChromium, markers, openPage, screenshot, writeScene } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

const W = 160;
const H = 120;
/** Enough unannotated images that a batch at slow settings is still running when Cancel is clicked. */
const IMAGES = 24;
/** beak, eye, tail on the labelled images (image pixels). */
const P = [
  [110, 50],
  [100, 40],
  [40, 57],
] as const;
/** Long waits: the first suggestion opens the model and compiles its feature graph. */
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };

let tmp: string;
let dbFile: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
/** The API in-process, to check what the page shows against the store. */
let other: InMemoryClient;
let datasetId: number;
let categoryId: number;
let imageIds: number[];
let imagePaths: string[];

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);

async function saved(): Promise<void> {
  await expect.poll(() => byTestId('save-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('saved');
}

async function currentImage(): Promise<number> {
  return Number((await byTestId('annotation-canvas').getAttribute('data-image-id')) ?? '');
}

interface Ring {
  kp: number;
  x: number;
  y: number;
  confidence: string;
  visible: boolean;
}

/** The suggestion rings on the canvas. */
async function rings(): Promise<Ring[]> {
  return byTestId('suggestion').evaluateAll((els) =>
    els.map((el) => ({
      kp: Number(el.getAttribute('data-kp')),
      x: Number(el.getAttribute('data-x')),
      y: Number(el.getAttribute('data-y')),
      confidence: el.getAttribute('data-confidence') ?? '',
      visible: el.getAttribute('data-visible') === 'true',
    })),
  );
}

const ringKps = async () => (await rings()).map((r) => r.kp).sort();
const markerKps = async () => [...(await markers(page)).keys()].sort();

async function stored(imageId: number) {
  return call('annotations:get', { imageId, categoryId });
}

/** Opens the panel's feature settings and sets the size and ensemble. */
async function featureSettings(size: number, ensemble: number): Promise<void> {
  const details = byTestId('suggest-settings');
  if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
  await byTestId('suggest-size').fill(String(size));
  await byTestId('suggest-ensemble').fill(String(ensemble));
  await expect.poll(() => byTestId('suggest-settings-error').count()).toBe(0);
}

/** Waits for the open image's suggestions (a failed job says why at once). */
async function suggestedFor(imageId: number, kps: number[]): Promise<void> {
  await expect
    .poll(async () => {
      const failed = (await call('jobs:list')).find((j) => j.state === 'failed');
      if (failed) throw new Error(`${failed.title} failed: ${failed.error?.message}`);
      return (await call('suggest:get', { imageId, categoryId })) !== null && (await ringKps()).join(',') === kps.join(',');
    }, SLOW)
    .toBe(true);
}

describe.skipIf(!HAVE_FIXTURES)('Assisted annotation in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-suggest-'));
    dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    await Promise.all(Array.from({ length: IMAGES }, (_, i) => writeScene(path.join(tmp, 'birds', `bird_${String(i).padStart(2, '0')}.jpg`), W, H, i)));
    const store = Store.open(dbFile);
    try {
      datasetId = (await importDataset(store, { format: 'folder', root: path.join(tmp, 'birds'), name: 'birds' })).datasetId;
      repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd });
    } finally {
      store.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    categoryId = (await call('datasets:get', { id: datasetId })).categoryList[0]!.id;
    await call('categories:set-schema', {
      categoryId,
      keypoints: [
        { name: 'beak', color: '#e6194b' },
        { name: 'eye', color: '#3cb44b' },
        { name: 'tail', color: '#4363d8' },
      ],
      skeleton: [[0, 1]],
    });
    const list = (await call('images:list', { datasetId, categoryId })).items;
    imageIds = list.map((i) => i.id);
    imagePaths = list.map((i) => i.path);
    // the first image is labelled through the API, the second in the page
    await call('annotations:save', { imageId: imageIds[0]!, categoryId, keypoints: P.map(([x, y], kp) => ({ kp, x, y, visibility: 2 as const })), baseVersion: 0, action: 'label' });
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/annotate?dataset=${datasetId}&category=${categoryId}&image=${imageIds[1]}`, { width: 1400, height: 860 }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('labels the second image with the mouse', async () => {
    await byTestId('annotation-canvas').waitFor();
    await expect.poll(currentImage).toBe(imageIds[1]);
    for (const [x, y] of P) {
      const p = await canvasPoint(page, x + 4, y + 3);
      await page.mouse.click(p.x, p.y);
    }
    await expect.poll(markerKps).toEqual([0, 1, 2]);
    await saved();
    await screenshot(page, 'suggest-panel');
    expect((await stored(imageIds[1]!)).keypoints.map((k) => [k.kp, k.visibility])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
  });

  it('suggests for the third image with the empty prompt and the tiny model: hollow rings with their confidence', async () => {
    await page.keyboard.press('d');
    await expect.poll(currentImage).toBe(imageIds[2]);
    await byTestId('suggest-panel').waitFor();
    await expect.poll(() => byTestId('suggest-prompt').locator('option').count()).toBeGreaterThan(0);
    await byTestId('suggest-prompt').selectOption({ label: 'empty prompt' });
    await expect.poll(() => byTestId('suggest-model').locator('option:checked').textContent()).toBe('sd-tiny');
    await featureSettings(64, 1);
    expect(await byTestId('suggest-visible-threshold').inputValue()).toBe('0.3');
    expect(await byTestId('suggest-accept-threshold').inputValue()).toBe('0.5');
    await byTestId('suggest-run').click();
    await byTestId('suggest-progress').waitFor();
    await screenshot(page, 'suggest-progress');
    await suggestedFor(imageIds[2]!, [0, 1, 2]);
    await byTestId('suggest-progress').waitFor({ state: 'detached' });
    for (const r of await rings()) {
      expect(r.confidence, `confidence of keypoint ${r.kp}`).toMatch(/^[01]\.\d\d$/);
      expect(r.x).toBeGreaterThanOrEqual(0);
      expect(r.x).toBeLessThanOrEqual(W);
      expect(r.y).toBeGreaterThanOrEqual(0);
      expect(r.y).toBeLessThanOrEqual(H);
    }
    expect(await markerKps()).toEqual([]);
    expect(await byTestId('suggest-pending-count').textContent()).toBe('3 pending');
    // the keypoint rows offer each suggestion; labelled images are not marked pending
    await expect.poll(() => page.locator('[data-testid="kp-row"][data-state="suggested"]').count()).toBe(3);
    expect(await page.locator(`[data-testid="strip-item"][data-image-id="${imageIds[2]}"]`).getAttribute('data-pending')).toBe('true');
    expect(await page.locator(`[data-testid="strip-item"][data-image-id="${imageIds[0]}"]`).getAttribute('data-pending')).toBe('false');
    // nothing is stored as keypoints by suggesting
    expect((await stored(imageIds[2]!)).keypoints).toEqual([]);
    await screenshot(page, 'suggest-rings');
  }, 200_000);

  let before: Ring[];
  const TAIL_TO = { x: 30, y: 95 };

  it('corrects one suggestion by dragging it, accepts the rest from confidence 0, undoes and redoes', async () => {
    const image = imageIds[2]!;
    before = await rings();
    const tail = before.find((r) => r.kp === 2)!;
    // the tail becomes current: it wins a tie with another ring on the same spot
    await page.keyboard.press('3');
    const from = await canvasPoint(page, tail.x, tail.y);
    const to = await canvasPoint(page, TAIL_TO.x, TAIL_TO.y);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 8 });
    await page.mouse.up();
    await expect.poll(markerKps).toEqual([2]);
    await saved();
    let state = await stored(image);
    expect(state.undoAction).toBe('correct suggestion tail');
    expect(state.keypoints).toHaveLength(1);
    expect(Math.abs(state.keypoints[0]!.x - TAIL_TO.x)).toBeLessThanOrEqual(1);
    expect(Math.abs(state.keypoints[0]!.y - TAIL_TO.y)).toBeLessThanOrEqual(1);
    expect(state.keypoints[0]!.visibility).toBe(tail.visible ? 2 : 1);
    expect(await ringKps()).toEqual([0, 1]);

    await byTestId('suggest-accept-threshold').fill('0');
    await expect.poll(() => byTestId('suggest-accept-all').textContent()).toMatch(/Accept 2/);
    await byTestId('suggest-accept-all').click();
    await expect.poll(markerKps).toEqual([0, 1, 2]);
    expect(await ringKps()).toEqual([]);
    await saved();
    state = await stored(image);
    expect(state.undoAction).toBe('accept 2 suggestions');
    for (const r of before.filter((x) => x.kp !== 2)) {
      const k = state.keypoints.find((x) => x.kp === r.kp)!;
      expect(Math.abs(k.x - r.x), `x of keypoint ${r.kp}`).toBeLessThanOrEqual(0.01);
      expect(Math.abs(k.y - r.y), `y of keypoint ${r.kp}`).toBeLessThanOrEqual(0.01);
      expect(k.visibility, `visibility of keypoint ${r.kp}`).toBe(r.visible ? 2 : 1);
    }
    await screenshot(page, 'suggest-accepted');

    // undo brings the two suggestions back, redo accepts them again
    await byTestId('undo-button').click();
    await expect.poll(markerKps).toEqual([2]);
    await expect.poll(ringKps).toEqual([0, 1]);
    await saved();
    expect((await stored(image)).redoAction).toBe('accept 2 suggestions');
    await screenshot(page, 'suggest-undone');
    await page.keyboard.press('Control+Shift+Z');
    await expect.poll(markerKps).toEqual([0, 1, 2]);
    await expect.poll(ringKps).toEqual([]);
    await saved();
    expect((await stored(image)).undoAction).toBe('accept 2 suggestions');
  }, 60_000);

  it('finds the accepted keypoints stored after a reload', async () => {
    await page.reload();
    await byTestId('annotation-canvas').waitFor();
    await expect.poll(currentImage).toBe(imageIds[2]);
    await expect.poll(markerKps).toEqual([0, 1, 2]);
    expect(await ringKps()).toEqual([]);
    const state = await stored(imageIds[2]!);
    expect(state.keypoints.map((k) => k.kp)).toEqual([0, 1, 2]);
    expect(state.canUndo).toBe(true);
    const m = await markers(page);
    for (const k of state.keypoints) {
      expect(Math.abs(m.get(k.kp)!.x - k.x)).toBeLessThanOrEqual(0.01);
      expect(m.get(k.kp)!.visibility).toBe(k.visibility);
    }
    // the panel's settings and prompt are remembered
    await expect.poll(() => byTestId('suggest-prompt').locator('option:checked').textContent()).toBe('empty prompt');
    expect(await byTestId('suggest-accept-threshold').inputValue()).toBe('0');
  });

  it('keeps a fourth image suggested for but not accepted out of the COCO export', async () => {
    await page.keyboard.press('d');
    await expect.poll(currentImage).toBe(imageIds[3]);
    await page.keyboard.press('s');
    await suggestedFor(imageIds[3]!, [0, 1, 2]);
    await screenshot(page, 'suggest-pending');
    expect((await stored(imageIds[3]!)).keypoints).toEqual([]);
    const file = path.join(tmp, 'birds-coco.json');
    await call('datasets:export-coco', { id: datasetId, file });
    const coco = JSON.parse(fs.readFileSync(file, 'utf8')) as { images: { id: number; file_name: string }[]; annotations: { image_id: number; num_keypoints: number; keypoints: number[] }[] };
    const cocoId = (p: string) => coco.images.find((im) => im.file_name === p || im.file_name.endsWith(`/${p}`))?.id;
    const labelled = [0, 1, 2].map((i) => cocoId(imagePaths[i]!));
    expect(
      coco.annotations
        .filter((a) => a.num_keypoints > 0)
        .map((a) => a.image_id)
        .sort(),
    ).toEqual([...labelled].sort());
    const fourth = cocoId(imagePaths[3]!);
    expect(coco.annotations.filter((a) => a.image_id === fourth && a.num_keypoints > 0)).toEqual([]);
    // the pending suggestions are still there to review
    expect((await call('suggest:get', { imageId: imageIds[3]!, categoryId }))?.keypoints).toHaveLength(3);
  }, 200_000);

  it('cancels a batch suggestion for every unannotated image from the panel', async () => {
    // slow settings, so that the batch is still running when Cancel is clicked
    await featureSettings(256, 16);
    // meanwhile the open and next images' features are computed in the background at these settings: the status bar says so
    await expect.poll(() => byTestId('status-prefetch').getAttribute('data-state'), SLOW).toBe('running');
    expect(await byTestId('status-prefetch').textContent()).toMatch(/^\s*Prefetching features [1-4]\/4\s*$/);
    await page.setViewportSize({ width: 1440, height: 900 });
    await screenshot(page, 'suggest-prefetch');
    await byTestId('suggest-batch').click();
    await byTestId('suggest-batch-progress').waitFor();
    // a job the user started: the prefetch stops and waits for it to end
    await expect.poll(() => byTestId('status-prefetch').getAttribute('data-state')).toBe('paused');
    expect(await byTestId('status-prefetch').textContent()).toMatch(/Prefetching paused \(\d\/4 ready\)/);
    await screenshot(page, 'suggest-prefetch-paused');
    await page.setViewportSize({ width: 1400, height: 860 });
    await expect.poll(() => byTestId('suggest-batch-progress-cancel').isEnabled(), SLOW).toBe(true);
    await screenshot(page, 'suggest-batch');
    await byTestId('suggest-batch-progress-cancel').click();
    await expect.poll(() => byTestId('suggest-batch-outcome').textContent(), SLOW).toMatch(/^Cancelled/);
    const [newest] = (await call('jobs:list')).sort((a, b) => b.startedAt - a.startedAt);
    expect(newest?.state, `the batch job: ${JSON.stringify(newest)}`).toBe('cancelled');
    // cancelling shows nothing but the outcome: no error toast
    expect(await page.locator('[data-testid="toast"][data-kind="error"]').count()).toBe(0);
    await featureSettings(64, 1);
    await screenshot(page, 'suggest-batch-cancelled');
  }, 200_000);

  it('orders the strip by the label-next queue, and the next-image key follows it', async () => {
    await byTestId('suggest-queue-toggle').check();
    const queue = await call('suggest:queue', { categoryId });
    expect(queue.items.map((q) => q.imageId)).not.toContain(imageIds[2]);
    expect(queue.items.map((q) => q.imageId)).toContain(imageIds[3]);
    await expect.poll(async () => (await byTestId('strip-item').first().getAttribute('data-image-id')) ?? '').toBe(String(queue.items[0]!.imageId));
    expect(await byTestId('strip-rank').first().textContent()).toBe('1');
    expect(await byTestId('strip-item').first().getAttribute('title')).toContain(queue.items[0]!.reason);
    // the fourth image has pending suggestions, unlike the ones never suggested for
    expect(await page.locator(`[data-testid="strip-item"][data-image-id="${imageIds[3]}"]`).getAttribute('data-pending')).toBe('true');
    const at = queue.items.findIndex((q) => q.imageId === imageIds[3]);
    await page.keyboard.press('d');
    const next = queue.items[at + 1]!.imageId;
    await expect.poll(currentImage).toBe(next);
    await screenshot(page, 'suggest-queue');
    await byTestId('suggest-queue-toggle').uncheck();
    await expect.poll(async () => (await byTestId('strip-item').first().getAttribute('data-image-id')) ?? '').toBe(String(imageIds[0]));
  });

  it("suggests on opening an image when asked to, and Enter accepts the current keypoint's suggestion", async () => {
    await byTestId('suggest-auto').check();
    expect(await page.evaluate<string | null>("localStorage.getItem('sd4match.suggest.auto')")).toBe('1');
    let target: number | undefined;
    const open = await currentImage();
    for (const id of imageIds.slice(4)) {
      if (id !== open && (await call('suggest:get', { imageId: id, categoryId })) === null) {
        target = id;
        break;
      }
    }
    expect(target, 'an image never suggested for').toBeDefined();
    await page.locator(`[data-testid="strip-item"][data-image-id="${target}"]`).click();
    await expect.poll(currentImage).toBe(target);
    await suggestedFor(target!, [0, 1, 2]);
    await page.getByTestId('annotation-canvas').focus();
    await page.keyboard.press('1');
    await page.keyboard.press('Enter');
    await expect.poll(markerKps).toEqual([0]);
    await saved();
    expect((await stored(target!)).undoAction).toBe('accept suggestion beak');
    expect(await ringKps()).toEqual([1, 2]);
    await screenshot(page, 'suggest-auto');
    await byTestId('suggest-auto').uncheck();
  }, 200_000);

  it('reports suggestion quality on the labelled images', async () => {
    await byTestId('suggest-eval-open').click();
    await byTestId('suggest-eval-dialog').waitFor();
    await byTestId('suggest-eval-exemplars').fill('1');
    await byTestId('suggest-eval-limit').fill('2');
    await byTestId('suggest-eval-run').click();
    await byTestId('suggest-eval-report').waitFor({ timeout: 150_000 });
    const pck = await byTestId('suggest-eval-pck').allTextContents();
    expect(pck).toHaveLength(3);
    for (const v of pck) expect(v).toMatch(/^\d+(\.\d)?%$/);
    // image 0 is the exemplar; two of the other labelled images are evaluated
    expect(await byTestId('suggest-eval-images').textContent()).toBe('2');
    expect(await byTestId('suggest-eval-keypoint').count()).toBe(3);
    expect(await byTestId('suggest-eval-image').count()).toBe(2);
    // the reliability table: five confidence bins whose points add up to every scored keypoint
    const rows = byTestId('suggest-eval-reliability-row');
    expect(await rows.count()).toBe(5);
    const points = await rows.evaluateAll((els) => els.map((el) => Number(el.querySelectorAll('td')[1]?.textContent)));
    const scored = (await byTestId('suggest-eval-image').evaluateAll((els) => els.map((el) => Number(el.querySelectorAll('td')[1]?.textContent)))).reduce((t, n) => t + n, 0);
    expect(points.reduce((t, n) => t + n, 0)).toBe(scored);
    await screenshot(page, 'suggest-eval');
    await page.keyboard.press('Escape');
    await byTestId('suggest-eval-dialog').waitFor({ state: 'detached' });
    expect(problems).toEqual([]);
  }, 200_000);
});
