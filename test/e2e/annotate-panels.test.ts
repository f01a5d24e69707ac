/**
 * Annotate and Pairs as a user meets them, in Chromium at 1440x900 against the real server (as
 * `sd4match serve --db FILE` runs it) with the tiny fixture Stable Diffusion model: a Suggest that
 * fails says why inside the Suggest panel (no toast over it), until dismissed or retried; after a
 * point is dragged, a click on the image places the next keypoint instead of moving the dragged
 * one again; point labels at the image's edge stay inside the image; and the Pairs view shows
 * names with underscores whole. Every state is photographed to test-results/screens/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
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

const W = 320;
const H = 240;
const VIEWPORT = { width: 1440, height: 900 };
/** Long waits: the first suggestion opens the model and compiles its feature graph. */
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };
const KEYPOINTS = ['left_eye', 'beak_tip', 'tail_end'];

let tmp: string;
let dbFile: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
let other: InMemoryClient;
let datasetId: number;
let categoryId: number;
let imageIds: number[];

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);
const errorToasts = () => page.locator('[data-testid="toast"][data-kind="error"]');

async function currentImage(): Promise<number> {
  return Number((await byTestId('annotation-canvas').getAttribute('data-image-id')) ?? '');
}

async function saved(): Promise<void> {
  await expect.poll(() => byTestId('save-status').getAttribute('data-state'), { timeout: 10_000 }).toBe('saved');
}

async function openImage(i: number): Promise<void> {
  await page.goto(`${server.url}#/annotate?dataset=${datasetId}&category=${categoryId}&image=${imageIds[i]}`);
  await page.reload();
  await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  await byTestId('annotation-canvas').waitFor();
  await expect.poll(currentImage).toBe(imageIds[i]);
}

async function clickImage(x: number, y: number): Promise<void> {
  const p = await canvasPoint(page, x, y);
  await page.mouse.click(p.x, p.y);
}

/** Whether `inner` lies within `outer` (to half a pixel). */
function inside(inner: { x: number; y: number; width: number; height: number }, outer: { x: number; y: number; width: number; height: number }): boolean {
  return inner.x >= outer.x - 0.5 && inner.y >= outer.y - 0.5 && inner.x + inner.width <= outer.x + outer.width + 0.5 && inner.y + inner.height <= outer.y + outer.height + 0.5;
}

/**
 * Text under `root` that its own box cuts off: elements that hide their overflow and whose text
 * reaches their bottom or top edge. "_" is drawn at the very bottom of the font's box (and its
 * antialiasing below it): a box that hides its overflow must leave a pixel of room under the text.
 */
async function clippedText(root: Locator): Promise<string[]> {
  interface Rect {
    top: number;
    bottom: number;
    width: number;
    height: number;
  }
  interface El {
    tagName: string;
    classList: Iterable<string>;
    childNodes: Iterable<{ nodeType: number; textContent: string | null }>;
    getBoundingClientRect(): Rect;
    querySelectorAll(s: string): Iterable<El>;
  }
  interface Win {
    getComputedStyle(el: El): { overflowX: string; overflowY: string };
    document: { createRange(): { selectNodeContents(n: unknown): void; getClientRects(): Iterable<Rect> } };
  }
  return root.evaluate((root) => {
    const win = globalThis as unknown as Win;
    const el = root as unknown as El;
    const out: string[] = [];
    for (const node of [el, ...el.querySelectorAll('*')]) {
      const style = win.getComputedStyle(node);
      if (style.overflowY === 'visible' && style.overflowX === 'visible') continue;
      const box = node.getBoundingClientRect();
      // (visually hidden labels are clipped on purpose)
      if (box.height <= 1 || box.width <= 1) continue;
      for (const child of node.childNodes) {
        // 3: a text node
        if (child.nodeType !== 3 || !child.textContent?.trim()) continue;
        const range = win.document.createRange();
        range.selectNodeContents(child);
        for (const r of range.getClientRects()) {
          if (r.bottom + 1 > box.bottom || r.top < box.top - 0.5)
            out.push(
              `${node.tagName.toLowerCase()}.${[...node.classList].join('.')}: "${child.textContent.trim()}" (text ${r.top.toFixed(1)}–${r.bottom.toFixed(1)}, box ${box.top.toFixed(1)}–${box.bottom.toFixed(1)})`,
            );
        }
      }
    }
    return out;
  });
}

describe.skipIf(!HAVE_FIXTURES)('Annotate and Pairs panels in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-panels-'));
    dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    // the same model with its UNet cut short after it was added: its Suggest job fails
    const broken = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-broken'));
    const unet = path.join(broken, 'unet', 'model.onnx');
    fs.chmodSync(unet, 0o644);
    fs.truncateSync(unet, 2048);
    await Promise.all([0, 1, 2, 3, 4].map((i) => writeScene(path.join(tmp, 'sea_birds', `sea_bird_${i}.jpg`), W, H, i)));
    const store = Store.open(dbFile);
    try {
      datasetId = (await importDataset(store, { format: 'folder', root: path.join(tmp, 'sea_birds'), name: 'sea_birds' })).datasetId;
      repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd });
      repos(store.db).models.upsert({ name: 'sd-broken', kind: 'stable-diffusion', folder: broken });
    } finally {
      store.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    categoryId = (await call('datasets:get', { id: datasetId })).categoryList[0]!.id;
    const colors = ['#e6194b', '#3cb44b', '#4363d8'];
    await call('categories:set-schema', { categoryId, keypoints: KEYPOINTS.map((name, i) => ({ name, color: colors[i]! })), skeleton: [] });
    imageIds = (await call('images:list', { datasetId, categoryId })).items.map((i) => i.id);
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/annotate?dataset=${datasetId}&category=${categoryId}&image=${imageIds[1]}`, VIEWPORT));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a Suggest the engine refuses says why inside the Suggest panel, with no toast over it, until dismissed', async () => {
    await byTestId('suggest-panel').waitFor();
    await expect.poll(() => byTestId('suggest-prompt').locator('option').count()).toBeGreaterThan(0);
    await byTestId('suggest-prompt').selectOption({ label: 'empty prompt' });
    await byTestId('suggest-model').selectOption({ label: 'sd-tiny' });
    await byTestId('suggest-run').click();
    // no image is labelled yet: nothing to learn from
    const error = byTestId('suggest-error');
    await error.waitFor();
    expect(await byTestId('suggest-error-message').textContent()).toMatch(/no exemplars: label the visible keypoints of at least one image first/);
    expect(inside((await error.boundingBox())!, (await byTestId('suggest-panel').boundingBox())!)).toBe(true);
    expect(await errorToasts().count()).toBe(0);
    // it stays (a toast would have gone), and the panel stays usable around it
    await page.waitForTimeout(1500);
    expect(await error.isVisible()).toBe(true);
    expect(await byTestId('suggest-run').isEnabled()).toBe(true);
    await screenshot(page, 'annotate-suggest-error');
    await byTestId('suggest-error-dismiss').click();
    await error.waitFor({ state: 'detached' });
    expect(await errorToasts().count()).toBe(0);
  });

  it('a Suggest job that fails (a model folder changed after it was added) says why in the panel; a retry clears it', async () => {
    // one labelled image as the exemplar
    await call('annotations:save', {
      imageId: imageIds[0]!,
      categoryId,
      keypoints: [
        { kp: 0, x: 200, y: 90, visibility: 2 },
        { kp: 1, x: 230, y: 100, visibility: 2 },
        { kp: 2, x: 60, y: 120, visibility: 2 },
      ],
      baseVersion: 0,
      action: 'label',
    });
    await byTestId('suggest-model').selectOption({ label: 'sd-broken' });
    const details = byTestId('suggest-settings');
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await byTestId('suggest-size').fill('64');
    await byTestId('suggest-ensemble').fill('1');
    await byTestId('suggest-run').click();
    await byTestId('suggest-error').waitFor({ timeout: 60_000 });
    expect(await byTestId('suggest-error-message').textContent()).toMatch(/sd-broken|model\.onnx|unet/i);
    expect(await errorToasts().count()).toBe(0);
    await screenshot(page, 'annotate-suggest-job-error');
    // the retry with a working model starts clean and suggests
    await byTestId('suggest-model').selectOption({ label: 'sd-tiny' });
    await byTestId('suggest-run').click();
    expect(await byTestId('suggest-error').count()).toBe(0);
    await expect
      .poll(async () => {
        if (await byTestId('suggest-error').count()) throw new Error(`Suggest failed: ${await byTestId('suggest-error-message').textContent()}`);
        return byTestId('suggestion').count();
      }, SLOW)
      .toBe(3);
    expect(await errorToasts().count()).toBe(0);
    await byTestId('suggest-clear').click();
    await expect.poll(() => byTestId('suggestion').count()).toBe(0);
  }, 200_000);

  it('after a point is dragged, a click on the image places the next keypoint, not the dragged one', async () => {
    await openImage(2);
    await clickImage(100, 80);
    await clickImage(150, 90);
    await expect.poll(async () => [...(await markers(page)).keys()]).toEqual([0, 1]);
    await saved();
    // drag the first point elsewhere
    const from = await canvasPoint(page, 100, 80);
    const to = await canvasPoint(page, 120, 140);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 6 });
    await page.mouse.up();
    await saved();
    // then a click on empty image: the third keypoint goes there, the dragged one stays put
    await clickImage(250, 200);
    await expect.poll(async () => [...(await markers(page)).keys()]).toEqual([0, 1, 2]);
    await saved();
    const m = await markers(page);
    expect(Math.abs(m.get(0)!.x - 120)).toBeLessThanOrEqual(1);
    expect(Math.abs(m.get(0)!.y - 140)).toBeLessThanOrEqual(1);
    expect(Math.abs(m.get(2)!.x - 250)).toBeLessThanOrEqual(1);
    const stored = (await call('annotations:get', { imageId: imageIds[2]!, categoryId })).keypoints;
    expect(stored.map((k) => k.kp)).toEqual([0, 1, 2]);
    // a click on a point (no drag) still selects it for the keys
    const p1 = await canvasPoint(page, 150, 90);
    await page.mouse.click(p1.x, p1.y);
    await expect.poll(() => page.locator('[data-testid="kp-row"].current').getAttribute('data-kp')).toBe('1');
  });

  it('keeps point labels inside the image at its edges', async () => {
    await openImage(3);
    // top-right, bottom-right and bottom-left corners
    await clickImage(W - 1, 1);
    await clickImage(W - 2, H - 1);
    await clickImage(1, H - 2);
    await expect.poll(async () => [...(await markers(page)).keys()]).toEqual([0, 1, 2]);
    await saved();
    const image = (await page.locator('.canvas img.picture').boundingBox())!;
    const labels = page.locator('[data-testid="kp-marker"] text');
    expect(await labels.count()).toBe(3);
    for (let i = 0; i < 3; i++) {
      const label = labels.nth(i);
      expect(inside((await label.boundingBox())!, image), `label "${await label.textContent()}" inside the image`).toBe(true);
    }
    // the current point's label (with its name) too
    await page.keyboard.press('1');
    await page.waitForTimeout(100);
    for (let i = 0; i < 3; i++) expect(inside((await labels.nth(i).boundingBox())!, image)).toBe(true);
    await screenshot(page, 'annotate-edge-labels');
  });

  it('shows names with underscores whole in the Pairs view', async () => {
    await call('annotations:save', {
      imageId: imageIds[1]!,
      categoryId,
      keypoints: [
        { kp: 0, x: 190, y: 95, visibility: 2 },
        { kp: 1, x: 220, y: 105, visibility: 2 },
        { kp: 2, x: 70, y: 125, visibility: 2 },
      ],
      baseVersion: (await call('annotations:get', { imageId: imageIds[1]!, categoryId })).version,
      action: 'label',
    });
    const { jobId } = await call('pairs:build', { datasetId, categoryId, mode: 'all', split: 'trn' });
    await expect.poll(async () => (await call('jobs:list')).find((j) => j.id === jobId)?.state).toBe('completed');
    await page.goto(`${server.url}#/pairs?dataset=${datasetId}`);
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await expect.poll(() => byTestId('pair-row').count()).toBeGreaterThan(0);
    expect(await clippedText(byTestId('view-pairs'))).toEqual([]);
    await byTestId('pair-row').first().locator('.c-name').click();
    await byTestId('pair-preview').waitFor();
    expect(await clippedText(byTestId('view-pairs'))).toEqual([]);
    await screenshot(page, 'pairs-underscores');
    expect(problems).toEqual([]);
  });
});
