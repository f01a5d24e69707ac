/**
 * Seeing what a prompt learned, end to end in browser mode: the built renderer against the real
 * server (as `sd4match serve --db FILE` runs it) with the tiny fixture Stable Diffusion model (and
 * a tokenizer, so free text works) and a generated two-category SPair-style dataset, driven in
 * Debian's Chromium, with learned Single, Class and CPM prompts written as prompt files (random
 * parameters) and a DINOv2 model. Compare's PCK per category is drawn as grouped bars from stored
 * evaluations and exported; the gallery generates the empty prompt and a free-text row at two
 * seeds, shows the images full size with a PNG to save, serves them again from the store without a
 * job, and a long generation is cancelled mid-denoising without cells claiming images that were
 * not made; its rows follow the sources (a Class prompt per category, CPM for the chosen pair,
 * notes where nothing can be generated); a timestep sweep of the empty and the learned Single
 * prompt fills its chart with a line per prompt and marks the training timestep. Every state is
 * photographed to test-results/screens/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, PromptSummary } from '../../src/main/contract/index.js';
import { loadLearnedPrompt } from '../../src/main/engine/sd4match/prompts/prompts.js';
import { SdModel } from '../../src/main/engine/sd4match/model/sd-model.js';
import { openServices } from '../../src/main/services/app/context.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { storeLearnedPrompt } from '../../src/main/services/runs/records.js';
import { startServer, type RunningServer } from '../../src/main/server.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { requireBuilt } from '../helpers/build-output.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writePromptFile } from '../helpers/prompt-files.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

/** Long waits: the first request opens the model. */
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TEXT = 'a photo of a cat';
/** Few steps keep the gallery quick on the tiny model. */
const STEPS = 4;
/** Free memory as the engine sees it (the inference process inherits it). */
const MEMORY_ENV = 'SD4MATCH_AVAILABLE_MEMORY_GB';
const savedEnv = process.env[MEMORY_ENV];

let tmp: string;
let dbFile: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
/** The API in-process, to check what the page shows against the store. */
let other: InMemoryClient;
let datasetId: number;
let modelId: number;
let empty: PromptSummary;
let template: PromptSummary;
let dino: PromptSummary;
/** Learned prompts (random parameters) by kind. */
const learned: Record<'single' | 'class' | 'cpm', number> = { single: 0, class: 0, cpm: 0 };

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

async function finished(jobId: string): Promise<JobInfo> {
  let info: JobInfo | undefined;
  await expect
    .poll(async () => {
      info = (await call('jobs:list')).find((j) => j.id === jobId);
      return info?.state;
    }, SLOW)
    .not.toBe('running');
  return info!;
}

const byTestId = (id: string) => page.getByTestId(id);
const attr = async (testid: string, name: string) => (await byTestId(testid).first().getAttribute(name)) ?? '';

/** Opens Compare at `params` (the hash changes in place: the page keeps its state modules). */
async function compareAt(params: Record<string, string | number>): Promise<void> {
  const q = new URLSearchParams(Object.entries({ dataset: datasetId, split: 'val', ...params }).map(([k, v]): [string, string] => [k, String(v)]));
  await page.evaluate(`window.location.hash = ${JSON.stringify(`#/compare?${q.toString()}`)}`);
  await byTestId('view-compare').waitFor();
}

async function setField(testid: string, value: string): Promise<void> {
  await byTestId(testid).fill(value);
  await byTestId(testid).press('Enter');
}

/** The gallery's cells: source, seed, state and image id. */
async function cells(): Promise<{ source: number; seed: number; state: string; image: number | null }[]> {
  return byTestId('gallery-cell').evaluateAll((els) =>
    els.map((el) => ({
      source: Number(el.getAttribute('data-source')),
      seed: Number(el.getAttribute('data-seed')),
      state: el.getAttribute('data-state') ?? '',
      image: el.getAttribute('data-image-id') ? Number(el.getAttribute('data-image-id')) : null,
    })),
  );
}

/** What the tests read of an <img> (the tests compile without the DOM's types). */
interface LoadedImage {
  complete: boolean;
  naturalWidth: number;
}

/** The gallery's images that have loaded (natural width > 0). */
async function loadedImages(): Promise<number> {
  return byTestId('gallery-image').evaluateAll((els) => els.filter((el) => (el as unknown as LoadedImage).complete && (el as unknown as LoadedImage).naturalWidth > 0).length);
}

describe.skipIf(!HAVE_FIXTURES)('Gallery, timestep sweeps and PCK per category in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    delete process.env[MEMORY_ENV];
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-generate-'));
    dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    // 6 training pairs, then 6 validation pairs: 3 of cats and 3 of dogs
    await writeShiftedSpair(path.join(tmp, 'shift'), 12, 6, { size: 128, categories: ['cat', 'dog'] });
    const store = Store.open(dbFile);
    try {
      datasetId = (await importDataset(store, { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' })).datasetId;
      modelId = repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd }).id;
      repos(store.db).models.upsert({ name: 'dino-tiny', kind: 'dinov2', folder: modelPath('dinov2') });
    } finally {
      store.close();
    }
    const m = SdModel.open(sd, { cacheDir: path.join(tmp, 'hash-cache') });
    const modelHash = m.compiled.modelHash;
    await m.dispose();
    const svc = openServices(dbFile);
    try {
      // the Single prompt is evaluated at 128 px in the sweep: it says it was trained there, at t = 261
      const kinds: ['single' | 'class' | 'cpm', { imageSize: number; categories?: string[]; dino?: number }][] = [
        ['single', { imageSize: 128 }],
        ['class', { imageSize: 256, categories: ['cat', 'dog'] }],
        ['cpm', { imageSize: 256, dino: 32 }],
      ];
      for (const [kind, extra] of kinds) {
        const file = path.join(tmp, `${kind}.safetensors`);
        writePromptFile(file, kind, { modelHash, hidden: 32, timestep: 261, ...extra });
        learned[kind] = await storeLearnedPrompt(svc, loadLearnedPrompt(file), { modelId, datasetId, name: `${kind} prompt` });
      }
    } finally {
      svc.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    const list = await call('prompts:list', {});
    empty = list.find((p) => p.name === 'empty prompt')!;
    template = list.find((p) => p.kind === 'baseline' && p.name.startsWith('template'))!;
    dino = list.find((p) => p.kind === 'baseline' && p.needsDino)!;
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/compare?dataset=${datasetId}&split=val`, { width: 1360, height: 900 }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 180_000);

  afterAll(async () => {
    if (savedEnv === undefined) delete process.env[MEMORY_ENV];
    else process.env[MEMORY_ENV] = savedEnv;
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('draws the PCK per category as grouped bars from stored evaluations, with an "All" group, and exports PNG and CSV', async () => {
    for (const p of [empty, template]) {
      const { jobId } = await call('evals:start', { modelId, datasetId, split: 'val', promptId: p.id, size: 128, ensemble: 1 });
      const info = await finished(jobId);
      expect(info.state, info.error?.message).toBe('completed');
    }
    await compareAt({ prompts: `${empty.id},${template.id}`, pck: 'chart' });
    const chart = byTestId('category-chart');
    const table = await call('evals:table', { datasetId, split: 'val' });
    expect(table.categories).toEqual(['cat', 'dog']);
    await expect.poll(() => chart.getAttribute('data-series'), SLOW).toBe('2');
    expect(await chart.getAttribute('data-groups')).toBe('3');
    expect(await chart.getAttribute('data-group-labels')).toBe('All|cat|dog');
    expect(await chart.getAttribute('data-bars')).toBe('6');
    expect(await attr('pck-panel', 'data-view')).toBe('chart');
    await byTestId('pck-panel').scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await screenshot(page, 'compare-category-chart');

    const [csvDownload] = await Promise.all([page.waitForEvent('download'), byTestId('export-chart-csv').click()]);
    const csv = await call('evals:csv', { datasetId, split: 'val' });
    expect(csvDownload.suggestedFilename()).toBe(csv.filename);
    expect(fs.readFileSync((await csvDownload.path())!, 'utf8')).toBe(csv.csv);
    const [pngDownload] = await Promise.all([page.waitForEvent('download'), byTestId('export-chart-png').click()]);
    expect(pngDownload.suggestedFilename()).toMatch(/^pck-per-category-shift-val-.*\.png$/);
    expect(fs.readFileSync((await pngDownload.path())!).subarray(0, 8)).toEqual(PNG_MAGIC);

    // back to the table: the same numbers
    await byTestId('pck-view-table').click();
    await byTestId('pck-table').waitFor();
    await expect.poll(() => byTestId('pck-row').count()).toBeGreaterThanOrEqual(2);
    await byTestId('theme-toggle').click();
    await byTestId('pck-view-chart').click();
    await page.waitForTimeout(300);
    await screenshot(page, 'compare-category-chart-dark');
    await byTestId('theme-toggle').click();
    expect(problems).toEqual([]);
  }, 300_000);

  it('generates the empty prompt and a free-text row at two seeds, shows them full size with a PNG to save, and serves them again from the store', async () => {
    await compareAt({ prompts: String(empty.id), tab: 'gallery' });
    await byTestId('gallery').waitFor();
    expect(await attr('compare-tab-gallery', 'aria-selected')).toBe('true');
    // the defaults of the contract
    expect(await byTestId('gallery-steps').inputValue()).toBe('25');
    expect(await byTestId('gallery-guidance').inputValue()).toBe('7.5');
    expect(await byTestId('gallery-seeds').inputValue()).toBe('0, 1, 2');
    expect(await byTestId('gallery-size').inputValue()).toBe('');
    await setField('gallery-steps', String(STEPS));
    await setField('gallery-seeds', '0, 1');
    await byTestId('gallery-text').fill(TEXT);
    await byTestId('gallery-add-text').click();
    await expect.poll(() => byTestId('gallery-row').count()).toBe(2);
    await expect.poll(async () => (await cells()).map((c) => c.state)).toEqual(['empty', 'empty', 'empty', 'empty']);
    await expect.poll(() => attr('gallery-memory', 'data-state'), SLOW).toBe('fits');
    await expect.poll(() => byTestId('gallery-generate').textContent()).toMatch(/Generate 4/);
    const jobsBefore = (await call('jobs:list')).length;
    await screenshot(page, 'gallery-empty');

    await byTestId('gallery-generate').click();
    await expect.poll(() => attr('gallery', 'data-state'), SLOW).toBe('completed');
    await expect.poll(async () => (await cells()).filter((c) => c.state === 'stored').length, SLOW).toBe(4);
    await expect.poll(loadedImages, SLOW).toBe(4);
    expect((await call('jobs:list')).length).toBe(jobsBefore + 1);
    // the images are what the engine stored for these settings
    const request = { modelId, steps: STEPS, sources: [{ promptId: empty.id }, { text: TEXT }], seeds: [0, 1] };
    const lookup = await call('generate:lookup', request);
    expect(lookup.cells.every((c) => c.image !== null)).toBe(true);
    expect((await cells()).map((c) => c.image)).toEqual(lookup.cells.map((c) => c.image!.id));
    expect(lookup.cells.map((c) => [c.source, c.seed])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    // two seeds draw two different images from the same prompt
    const [a, b] = await page.evaluate<string[]>(`[...document.querySelectorAll('[data-testid="gallery-image"]')].slice(0, 2).map((img) => {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      return Array.from(g.getImageData(0, 0, c.width, c.height).data.slice(0, 4096)).join(',');
    })`);
    expect(a).not.toBe(b);
    expect(await byTestId('gallery-status').textContent()).toMatch(/Generated 4 images/);
    await screenshot(page, 'gallery-generated');

    // full size, with the PNG to save
    await byTestId('gallery-image').first().click();
    const full = byTestId('gallery-full-image');
    await full.waitFor();
    await expect.poll(() => full.evaluate((el) => (el as unknown as LoadedImage).naturalWidth)).toBe(lookup.size);
    const save = byTestId('gallery-save-png');
    const href = (await save.getAttribute('href'))!;
    expect(href).toMatch(new RegExp(`^/generated/${lookup.cells[0]!.image!.id}\\?`));
    expect(await save.getAttribute('download')).toMatch(/seed0.*\.png$/);
    const response = await page.request.get(new URL(href, server.url).toString());
    expect(response.status()).toBe(200);
    expect((await response.body()).subarray(0, 8)).toEqual(PNG_MAGIC);
    const [download] = await Promise.all([page.waitForEvent('download'), save.click()]);
    expect(fs.readFileSync((await download.path())!).subarray(0, 8)).toEqual(PNG_MAGIC);
    await screenshot(page, 'gallery-full-size');
    await page.keyboard.press('Escape');
    await expect.poll(() => byTestId('gallery-modal').count()).toBe(0);

    // asked again: the store answers, no job
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await expect.poll(async () => (await cells()).filter((c) => c.state === 'stored').length, SLOW).toBe(4);
    await expect.poll(loadedImages).toBe(4);
    expect(await byTestId('gallery-generate').textContent()).toMatch(/All stored/);
    expect(await byTestId('gallery-generate').isDisabled()).toBe(true);
    const again = await call('generate:start', request);
    expect(again).toEqual({ jobId: null, cached: 4, queued: 0 });
    expect((await call('jobs:list')).length).toBe(jobsBefore + 1);
    await screenshot(page, 'gallery-cached');
    expect(problems).toEqual([]);
  }, 300_000);

  it('cancels a long generation: the job is cancelled and no cell claims an image that was not made', async () => {
    await setField('gallery-steps', '800');
    await setField('gallery-seeds', '7, 8');
    await expect.poll(async () => (await cells()).map((c) => c.state)).toEqual(['empty', 'empty', 'empty', 'empty']);
    await expect.poll(() => byTestId('gallery-generate').isEnabled()).toBe(true);
    await byTestId('gallery-generate').click();
    await expect.poll(() => attr('gallery', 'data-state')).toBe('running');
    const jobId = await attr('gallery-status', 'data-job');
    expect(jobId).not.toBe('');
    await expect.poll(() => byTestId('gallery-cell').locator('.spinner').count()).toBe(4);
    // progress per denoising step: count, rate and time left
    await expect.poll(() => byTestId('gallery-progress').textContent(), SLOW).toMatch(/step \d+\/800/);
    await expect.poll(() => byTestId('gallery-progress').textContent(), SLOW).toMatch(/generating · [\d,]+\/[\d,]+ · [\d.]+\/s · about .+ left/);
    await screenshot(page, 'gallery-running');
    // a reload (as another window would) finds the running job: its cells pending, its progress, Cancel
    await page.reload();
    await expect.poll(() => attr('gallery-status', 'data-job'), SLOW).toBe(jobId);
    await expect.poll(() => byTestId('gallery-cell').locator('.spinner').count(), SLOW).toBe(4);
    await expect.poll(() => byTestId('gallery-progress').textContent(), SLOW).toMatch(/step \d+\/800/);
    await byTestId('gallery-cancel').click();
    await expect.poll(() => attr('gallery', 'data-state'), SLOW).toBe('cancelled');
    expect((await call('jobs:list')).find((j) => j.id === jobId)?.state).toBe('cancelled');
    const lookup = await call('generate:lookup', { modelId, steps: 800, sources: [{ promptId: empty.id }, { text: TEXT }], seeds: [7, 8] });
    const made = lookup.cells.filter((c) => c.image !== null).length;
    expect(made).toBeLessThan(4);
    const shown = await cells();
    expect(shown.filter((c) => c.state === 'stored').length).toBe(made);
    expect(shown.filter((c) => c.state === 'pending')).toEqual([]);
    expect(shown.map((c) => c.image)).toEqual(lookup.cells.map((c) => c.image?.id ?? null));
    expect(await byTestId('gallery-cell').filter({ hasText: 'seed 7' }).count()).toBe(2 - lookup.cells.filter((c) => c.seed === 7 && c.image).length);
    expect(await byTestId('gallery-status').textContent()).toMatch(new RegExp(`Cancelled: ${made} of 4 images made`));
    await screenshot(page, 'gallery-cancelled');
    expect(problems).toEqual([]);
  }, 300_000);

  it('lays out a row per source: a Class prompt per category (one under a category filter), CPM for the chosen pair, notes where nothing can be generated', async () => {
    await setField('gallery-steps', String(STEPS));
    await setField('gallery-seeds', '0, 1');
    await compareAt({ prompts: `${learned.class},${learned.cpm},${template.id},${dino.id}`, tab: 'gallery' });
    const rows = async () =>
      byTestId('gallery-row').evaluateAll((els) => els.map((el) => `${el.getAttribute('data-row-key')}|${el.getAttribute('data-source')}|${el.querySelector('.name')?.textContent ?? ''}`));
    const notes = async () => byTestId('gallery-note').evaluateAll((els) => els.map((el) => `${el.getAttribute('data-row-key')}: ${el.textContent?.trim()}`));
    // no pair, no category: the Class prompt's two categories, CPM and the template wait for a pair, DINOv2 cannot
    await expect
      .poll(rows, SLOW)
      .toEqual([
        `${learned.class}:cat|0|class prompt · cat`,
        `${learned.class}:dog|1|class prompt · dog`,
        `${learned.cpm}:||cpm prompt`,
        `${template.id}:||${template.name}`,
        `${dino.id}:||DINOv2 features`,
        `text:0|2|"${TEXT}"`,
      ]);
    expect(await notes()).toEqual([
      `${learned.cpm}:: Choose a pair on the left: a CPM prompt is conditioned on a pair’s two images.`,
      `${template.id}:: Choose a pair or a category: the template names the category.`,
      `${dino.id}:: DINOv2 features have no text conditioning: there is nothing to generate from.`,
    ]);
    await expect.poll(async () => (await cells()).length).toBe(6);
    await screenshot(page, 'gallery-rows-no-pair');

    // a pair of dogs: CPM for it, the template for its category
    const dogPair = page.locator('[data-testid="compare-pair-row"]').filter({ hasText: ':dog' }).first();
    await dogPair.click();
    const pairName = (await dogPair.locator('.mono, .name').first().textContent())?.trim() ?? '';
    await expect
      .poll(rows, SLOW)
      .toEqual([
        `${learned.class}:cat|0|class prompt · cat`,
        `${learned.class}:dog|1|class prompt · dog`,
        expect.stringMatching(new RegExp(`^${learned.cpm}:\\d+\\|2\\|cpm prompt · .*:dog$`)),
        `${template.id}:dog|3|template "a photo of a dog"`,
        `${dino.id}:||DINOv2 features`,
        `text:0|4|"${TEXT}"`,
      ]);
    expect(pairName).toMatch(/dog/);
    await expect.poll(async () => (await cells()).length).toBe(10);
    expect(await attr('gallery', 'data-total')).toBe('10');
    await screenshot(page, 'gallery-rows-pair');

    // a category filter: the Class prompt's row for that category only
    await byTestId('compare-category').selectOption('cat');
    await expect
      .poll(rows, SLOW)
      .toEqual([`${learned.class}:cat|0|class prompt · cat`, `${learned.cpm}:||cpm prompt`, `${template.id}:cat|1|template "a photo of a cat"`, `${dino.id}:||DINOv2 features`, `text:0|2|"${TEXT}"`]);
    await byTestId('compare-category').selectOption('');
    // a row that cannot be generated is never asked for
    expect(problems).toEqual([]);
  }, 300_000);

  it('runs a timestep sweep of two prompts and charts PCK against t, a line per prompt', async () => {
    await compareAt({ prompts: `${empty.id},${learned.single}`, tab: 'sweep' });
    await byTestId('sweep-panel').waitFor();
    await expect.poll(() => byTestId('sweep-prompt').count()).toBe(2);
    expect(await byTestId('sweep-timesteps').inputValue()).toBe('0, 25, 50, 100, 150, 200, 261, 350, 500');
    await byTestId('sweep-timesteps').fill('50, 261, 500');
    await byTestId('sweep-limit').fill('2');
    await byTestId('sweep-ensemble').fill('1');
    await byTestId('sweep-size').fill('128');
    await expect.poll(() => attr('sweep-memory', 'data-state'), SLOW).toBe('fits');
    await byTestId('sweep-start').click();
    await expect.poll(() => attr('sweep-result', 'data-sweep-id'), SLOW).not.toBe('');
    const sweepId = await attr('sweep-result', 'data-sweep-id');
    await expect.poll(() => attr('sweep-result', 'data-state'), SLOW).toBe('done');
    const chart = byTestId('sweep-chart');
    await expect.poll(() => chart.getAttribute('data-points'), SLOW).toBe('6');
    expect(await chart.getAttribute('data-series')).toBe('2');
    expect(await chart.getAttribute('data-series-points')).toBe('3,3');
    // the Single prompt was trained at t = 261: a dashed line marks it
    expect(await chart.getAttribute('data-marks')).toBe('1');
    const result = await call('evals:sweepResult', { sweepId });
    expect(result.timesteps).toEqual([50, 261, 500]);
    expect(result.completed).toBe(6);
    expect(result.series.map((x) => x.promptId).sort()).toEqual([empty.id, learned.single].sort());
    expect(result.series.find((x) => x.promptId === learned.single)!.trainTimestep).toBe(261);
    // the table under the chart says the same
    for (const x of result.series) {
      const row = page.locator(`[data-testid="sweep-row"][data-prompt-id="${x.promptId}"] td.num`);
      expect(await row.allTextContents()).toEqual(result.timesteps.map((t) => (100 * x.points.find((p) => p.timestep === t)!.pck['0.1']!).toFixed(1)));
    }
    expect(await byTestId('sweep-select').inputValue()).toBe(sweepId);
    await byTestId('sweep-result').scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await screenshot(page, 'sweep-chart');
    await byTestId('theme-toggle').click();
    await page.waitForTimeout(300);
    await screenshot(page, 'sweep-chart-dark');
    await byTestId('theme-toggle').click();
    expect(problems).toEqual([]);
  }, 300_000);

  it('refuses to generate or sweep at settings that will not fit in the free memory, saying why', async () => {
    await page.context().close();
    other.close();
    await server.close();
    process.env[MEMORY_ENV] = '0.01';
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    ({ page, problems } = await openPage(browser, `${server.url}#/compare?dataset=${datasetId}&split=val&prompts=${empty.id}&tab=gallery`, { width: 1360, height: 900 }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await setField('gallery-seeds', '21, 22');
    await expect.poll(() => attr('gallery-memory', 'data-state'), SLOW).toBe('refused');
    expect(await byTestId('gallery-memory').textContent()).toMatch(/GB/);
    await expect.poll(() => byTestId('gallery-generate').textContent()).toMatch(/Generate 2/);
    expect(await byTestId('gallery-generate').isDisabled()).toBe(true);
    expect(await byTestId('gallery-generate').getAttribute('title')).toMatch(/GB/);
    await screenshot(page, 'gallery-refused');
    await byTestId('compare-tab-sweep').click();
    await expect.poll(() => attr('sweep-memory', 'data-state'), SLOW).toBe('refused');
    expect(await byTestId('sweep-start').isDisabled()).toBe(true);
    expect((await call('jobs:list')).filter((j) => j.state === 'running')).toEqual([]);
    expect(problems).toEqual([]);
  }, 300_000);
});
