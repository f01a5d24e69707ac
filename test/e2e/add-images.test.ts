/**
 * Adding images to a dataset from the Datasets view, in Chromium against the real server (browser
 * mode: the bytes go over the WebSocket API): files chosen with the file picker are listed with
 * what is wrong with them before anything is sent, a taken name is added under a numbered one and
 * said so, the grid shows the new images; a file the engine cannot decode adds nothing and names
 * itself; files dropped on the grid open the dialog with them; a benchmark refuses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportReportInfo } from '../../src/main/contract/index.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { requireBuilt } from '../helpers/build-output.js';
import { genFolder, genSpair, imageBytes } from '../helpers/dataset-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';

/** The built renderer served (another build's output may be named, e.g. while out/ is being rebuilt). */
const RENDERER = process.env.SD4MATCH_E2E_RENDERER ?? 'out/renderer';

let tmp: string;
let server: RunningServer;
let client: InMemoryClient;
let browser: Browser;
let page: Page;
let problems: string[];
let folder: { id: number; root: string; images: number };
let benchmarkId: number;
const call = apiCalls(
  () => client,
  () => server.api,
);

async function imported(format: 'folder' | 'spair', root: string, name: string): Promise<ImportReportInfo> {
  const { jobId } = await call.ok('datasets:import', { format, root, name });
  const job = await call.finished(jobId);
  if (job.state !== 'completed') throw new Error(`import of ${root} failed: ${job.error?.message}`);
  return job.result as ImportReportInfo;
}

beforeAll(async () => {
  requireBuilt(path.join(RENDERER, 'index.html'));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-add-images-e2e-'));
  await genFolder(path.join(tmp, 'birds'), { images: 5 });
  await genSpair(path.join(tmp, 'spair'), { categories: ['cat'], imagesPerCategory: 3, pairs: { trn: 1, val: 1, test: 1 } });
  server = await startServer({ port: 0, db: path.join(tmp, 'w.db'), staticDir: RENDERER });
  client = createInMemoryClient(server.api);
  const r = await imported('folder', path.join(tmp, 'birds'), 'birds');
  folder = { id: r.datasetId, root: r.root, images: r.images };
  benchmarkId = (await imported('spair', path.join(tmp, 'spair'), 'SPair sample')).datasetId;
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser, `${server.url}#/datasets?dataset=${folder.id}`, { width: 1440, height: 900 }));
  await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  await page
    .getByTestId('grid-count')
    .filter({ hasText: `${folder.images} images` })
    .waitFor();
}, 90_000);

afterAll(async () => {
  client?.close();
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const byTestId = (id: string) => page.getByTestId(id);

/** Files in the dataset's folder (names only, hidden ones included). */
const folderFiles = () => fs.readdirSync(folder.root).sort();

async function openDialog(): Promise<void> {
  await byTestId('add-images').click();
  await byTestId('add-images-dialog').waitFor();
}

describe('adding images from the Datasets view', () => {
  it('adds files chosen with the file picker, renaming a taken name, and shows them in the grid', async () => {
    await openDialog();
    const jpeg = await imageBytes(120, 80, 'jpeg', 2);
    const png = await imageBytes(90, 120, 'png', 5);
    await byTestId('add-images-input').setInputFiles([
      { name: 'heron.jpg', mimeType: 'image/jpeg', buffer: jpeg },
      { name: 'img_0.jpg', mimeType: 'image/jpeg', buffer: jpeg },
      { name: 'field notes.txt', mimeType: 'text/plain', buffer: Buffer.from('seen at dawn\n') },
      { name: 'egret.png', mimeType: 'image/png', buffer: png },
    ]);
    await expect.poll(() => byTestId('add-images-file').count()).toBe(4);
    // the text file is refused here, before anything is sent
    const bad = page.locator('[data-testid="add-images-file"][data-name="field notes.txt"]');
    expect(await bad.getByTestId('add-images-file-problem').textContent()).toContain('not a supported image type (.txt; one of .jpg .jpeg .png');
    await byTestId('add-images-submit').click();
    expect(await byTestId('add-images-error').textContent()).toBe('1 file cannot be added (see the list): remove it to add the rest.');
    expect(folderFiles()).not.toContain('heron.jpg');
    await screenshot(page, 'add-images-dialog-picked');

    await bad.getByRole('button', { name: 'Remove field notes.txt' }).click();
    expect(await byTestId('add-images-rename').isChecked()).toBe(true);
    await byTestId('add-images-submit').click();
    await byTestId('add-images-report').waitFor({ timeout: 60_000 });
    expect(await byTestId('add-images-added').textContent()).toBe('3 images');
    expect(await byTestId('add-images-renamed').textContent()).toContain('img_0.jpg → img_0 (2).jpg');
    await screenshot(page, 'add-images-dialog-done');
    expect(fs.readFileSync(path.join(folder.root, 'heron.jpg')).equals(jpeg)).toBe(true);
    expect(fs.readFileSync(path.join(folder.root, 'img_0 (2).jpg')).equals(jpeg)).toBe(true);

    await byTestId('add-images-close').click();
    // the view heard of the change: counts and grid follow without a reload
    await page
      .getByTestId('grid-count')
      .filter({ hasText: `${folder.images + 3} images` })
      .waitFor();
    expect(await byTestId('stat-images').textContent()).toBe(String(folder.images + 3));
    await page.locator('[data-testid="grid-cell"][title="heron.jpg"] img').waitFor();
    await page.locator('[data-testid="grid-cell"][title="img_0 (2).jpg"]').waitFor();
    await screenshot(page, 'add-images-grid-after');
  });

  it('adds nothing when one of the files is not a decodable image, and names it', async () => {
    const before = folderFiles();
    await openDialog();
    const good = await imageBytes(64, 64, 'jpeg', 1);
    const truncated = (await imageBytes(200, 150, 'jpeg', 3)).subarray(0, 500);
    await byTestId('add-images-input').setInputFiles([
      { name: 'ok_one.jpg', mimeType: 'image/jpeg', buffer: good },
      { name: 'cut_short.jpg', mimeType: 'image/jpeg', buffer: truncated },
      { name: 'ok_two.jpg', mimeType: 'image/jpeg', buffer: good },
    ]);
    await byTestId('add-images-submit').click();
    await byTestId('add-images-error').waitFor({ timeout: 60_000 });
    expect(await byTestId('add-images-error').textContent()).toMatch(/^file 2 of 3, cut_short\.jpg: corrupt or truncated jpeg image .*; nothing was added$/);
    expect(folderFiles()).toEqual(before);
    // the list is kept, the bad file marked, so it can be removed and the rest added
    expect(await byTestId('add-images-file').count()).toBe(3);
    expect(await page.locator('[data-testid="add-images-file"][data-blamed="true"]').getAttribute('data-name')).toBe('cut_short.jpg');
    await screenshot(page, 'add-images-dialog-bad-file');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await byTestId('add-images-dialog').waitFor({ state: 'detached' });
  });

  it('opens the dialog with the files dropped on the image grid', async () => {
    const png = await imageBytes(48, 48, 'png', 7);
    const data = png.toString('base64');
    // a drag from the desktop, as the browser reports it to the page
    const transfer = await page.evaluateHandle(
      ([b64, name]) => {
        // (the page's DOM classes: this tsconfig has no DOM types)
        const dom = globalThis as unknown as {
          DataTransfer: new () => { items: { add(file: unknown): void } };
          File: new (parts: Uint8Array[], name: string, options: { type: string }) => unknown;
        };
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new dom.DataTransfer();
        dt.items.add(new dom.File([bytes], name, { type: 'image/png' }));
        return dt;
      },
      [data, 'dropped.png'] as const,
    );
    const area = byTestId('grid-area');
    await area.dispatchEvent('dragenter', { dataTransfer: transfer });
    await area.dispatchEvent('dragover', { dataTransfer: transfer });
    await byTestId('grid-drop-hint').waitFor();
    expect(await byTestId('grid-drop-hint').textContent()).toContain('Drop to add the images to birds');
    await screenshot(page, 'add-images-grid-drop-hint');
    await area.dispatchEvent('drop', { dataTransfer: transfer });
    await byTestId('add-images-dialog').waitFor();
    await expect.poll(() => byTestId('add-images-file').count()).toBe(1);
    expect(await byTestId('add-images-file').getAttribute('data-name')).toBe('dropped.png');
    await screenshot(page, 'add-images-dialog-dropped');
    await byTestId('add-images-submit').click();
    await byTestId('add-images-report').waitFor({ timeout: 60_000 });
    await byTestId('add-images-close').click();
    await page.locator('[data-testid="grid-cell"][title="dropped.png"]').waitFor();
    expect(fs.existsSync(path.join(folder.root, 'dropped.png'))).toBe(true);
  });

  it('does not offer adding to a benchmark, and says why', async () => {
    await page.locator(`[data-testid="dataset-item"][data-name="SPair sample"]`).click();
    await byTestId('dataset-name').filter({ hasText: 'SPair sample' }).waitFor();
    const button = byTestId('add-images');
    expect(await button.isDisabled()).toBe(true);
    expect(await button.getAttribute('title')).toBe('SPair-71k is a benchmark: its images come from its annotation files and are read-only. Import a folder of images to add your own.');
    expect(benchmarkId).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });
});
