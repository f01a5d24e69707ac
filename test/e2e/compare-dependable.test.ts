/**
 * Compare in a user's hands (issue 22, items 10, 11, 14, 15), end to end in browser mode: the built
 * renderer against the real server with the tiny fixture Stable Diffusion model (and a tokenizer)
 * and a generated two-category SPair-style dataset, driven in Chromium at 1440x900.
 *
 * - The shell never scrolls: after a click on a source keypoint (the heatmaps appear and are
 *   brought into view), the wheel over the side bar leaves the side bar and the status bar where
 *   they were.
 * - Compare's selection (prompts, pair, tab) survives a visit to another view.
 * - Every series of the PCK chart has its own colour, whichever prompts are chosen.
 * - A running timestep sweep is shown filling in: listed as running, with its progress in
 *   timesteps and its first points charted before it ends.
 * Every state is photographed to test-results/screens/.
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
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

/** Long waits: the first request opens the model. */
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };
const WIDTH = 1440;
const HEIGHT = 900;

let tmp: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
/** The API in-process, to check what the page shows against the store. */
let other: InMemoryClient;
let datasetId: number;
let empty: PromptSummary;
let template: PromptSummary;

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);
const attr = async (testid: string, name: string) => (await byTestId(testid).first().getAttribute(name)) ?? '';
const chip = (id: number) => page.locator(`[data-testid="prompt-chip"][data-prompt-id="${id}"]`);
const hash = () => page.evaluate<string>('window.location.hash');

/** Opens Compare at `params` (the hash changes in place: the page keeps its state modules). */
async function compareAt(params: Record<string, string | number>): Promise<void> {
  const q = new URLSearchParams(Object.entries({ dataset: datasetId, split: 'val', ...params }).map(([k, v]): [string, string] => [k, String(v)]));
  await page.evaluate(`window.location.hash = ${JSON.stringify(`#/compare?${q.toString()}`)}`);
  await byTestId('view-compare').waitFor();
}

/** Where the shell is: the document's scroll, the side bar's top and the status bar's bottom. */
async function shell(): Promise<{ documentScroll: number; shellScroll: number; sidebarTop: number; statusBottom: number }> {
  return page.evaluate(`(() => {
    const app = document.querySelector('.app');
    return {
      documentScroll: document.scrollingElement.scrollTop,
      shellScroll: app.scrollTop + document.querySelector('main.main').scrollTop + document.body.scrollTop,
      sidebarTop: document.querySelector('nav.sidebar').getBoundingClientRect().top,
      statusBottom: document.querySelector('[data-testid="status"]').getBoundingClientRect().bottom,
    };
  })()`);
}

/**
 * The saturated colours a canvas is painted with: those covering at least a quarter of the area of
 * the most used one (bar fills, not the blended pixels along their edges).
 */
async function canvasColours(testid: string): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const c = document.querySelector('[data-testid="${testid}"] canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const counts = new Map();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] < 250) continue;
      const r = d[i], g = d[i + 1], b = d[i + 2];
      // greys are text, grid lines and axes
      if (Math.max(r, g, b) - Math.min(r, g, b) < 40) continue;
      const key = 'rgb(' + r + ',' + g + ',' + b + ')';
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    const most = Math.max(0, ...counts.values());
    return [...counts].filter(([, n]) => n >= most / 4).map(([k]) => k);
  })()`);
}

describe.skipIf(!HAVE_FIXTURES)('Compare in a user’s hands in Chromium at 1440x900 (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-compare-'));
    const dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    // 6 training pairs, then 6 validation pairs: 3 of cats and 3 of dogs
    await writeShiftedSpair(path.join(tmp, 'shift'), 12, 6, { size: 128, categories: ['cat', 'dog'] });
    const store = Store.open(dbFile);
    try {
      datasetId = (await importDataset(store, { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' })).datasetId;
      repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd });
    } finally {
      store.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    const list = await call('prompts:list', {});
    empty = list.find((p) => p.name === 'empty prompt')!;
    template = list.find((p) => p.kind === 'baseline' && p.id !== empty.id && !p.needsDino)!;
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/compare?dataset=${datasetId}&split=val`, { width: WIDTH, height: HEIGHT }));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    // features at the images' size with one noise draw keep every request quick
    await byTestId('compare-size').fill('128');
    await byTestId('compare-size').press('Enter');
    await byTestId('compare-ensemble').fill('1');
    await byTestId('compare-ensemble').press('Enter');
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('never scrolls the shell: the wheel over the side bar after a click on a source keypoint leaves the side bar and the status bar in place', async () => {
    await chip(empty.id).click();
    await chip(template.id).click();
    await expect.poll(() => chip(template.id).getAttribute('data-selected')).toBe('true');
    await byTestId('compare-pair-row').first().click();
    await expect.poll(() => attr('compare-stage', 'data-state'), SLOW).toBe('ready');
    await byTestId('src-kp').first().locator('circle').click();
    await expect.poll(() => attr('heatmaps', 'data-state'), SLOW).toBe('ready');
    // the maps are brought into view (smoothly)
    await page.waitForTimeout(800);
    const nav = (await byTestId('nav-datasets').boundingBox())!;
    await page.mouse.move(nav.x + nav.width / 2, HEIGHT / 2);
    for (let i = 0; i < 4; i++) {
      await page.mouse.wheel(0, 400);
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(400);
    await screenshot(page, 'compare-dependable-wheel-over-sidebar');
    const at = await shell();
    expect(at.documentScroll).toBe(0);
    expect(at.shellScroll).toBe(0);
    expect(at.sidebarTop).toBe(0);
    expect(Math.round(at.statusBottom)).toBe(HEIGHT);
    // nor does a script: a scroll of the shell or the page (as scrollIntoView or focus would do) is undone
    await page.evaluate(`(() => {
      document.querySelector('.app').scrollTop = 300;
      document.querySelector('main.main').scrollTop = 300;
      window.scrollTo(0, 300);
    })()`);
    await page.waitForTimeout(200);
    expect(await shell()).toEqual({ documentScroll: 0, shellScroll: 0, sidebarTop: 0, statusBottom: HEIGHT });
    // the view itself still scrolls: the wheel over it moves its column
    const stage = (await byTestId('compare-stage').boundingBox())!;
    await page.mouse.move(stage.x + stage.width / 2, stage.y + 40);
    await page.mouse.wheel(0, -2000);
    await page.waitForTimeout(400);
    expect((await shell()).documentScroll).toBe(0);
    expect(Math.round((await shell()).statusBottom)).toBe(HEIGHT);
    expect(problems).toEqual([]);
  }, 180_000);

  it('keeps Compare’s selection (prompts, pair, tab) when the user visits another view and comes back', async () => {
    const pairId = await attr('compare-stage', 'data-pair-id');
    expect(pairId).not.toBe('');
    await byTestId('compare-tab-sweep').click();
    await byTestId('sweep-panel').waitFor();
    const before = await hash();
    expect(before).toContain(`pair=${pairId}`);
    expect(before).toContain('tab=sweep');
    expect(before).toContain(`prompts=${empty.id}%2C${template.id}`);

    await byTestId('nav-datasets').click();
    await byTestId('view-datasets').waitFor();
    expect(await hash()).toMatch(/^#\/datasets/);
    await byTestId('nav-compare').click();
    await byTestId('view-compare').waitFor();
    expect(await hash()).toBe(before);
    await byTestId('sweep-panel').waitFor();
    expect(await byTestId('compare-tab-sweep').getAttribute('aria-selected')).toBe('true');
    for (const p of [empty, template]) expect(await chip(p.id).getAttribute('data-selected')).toBe('true');
    await byTestId('compare-tab-pair').click();
    await expect.poll(() => attr('compare-stage', 'data-pair-id')).toBe(pairId);
    expect(await page.locator(`[data-testid="compare-pair-row"][data-selected="true"]`).getAttribute('data-pair-id')).toBe(pairId);

    // with the keyboard (Alt+2 Datasets, Alt+6 Compare) too
    await page.keyboard.press('Alt+2');
    await byTestId('view-datasets').waitFor();
    await page.keyboard.press('Alt+6');
    await byTestId('view-compare').waitFor();
    await expect.poll(() => attr('compare-stage', 'data-pair-id')).toBe(pairId);
    expect(await hash()).toBe(before.replace(/&?tab=sweep/, ''));
    expect(problems).toEqual([]);
  }, 180_000);

  it('draws every prompt of the PCK chart in its own colour, whichever prompts are chosen', async () => {
    await compareAt({ prompts: `${empty.id},${template.id}` });
    // both at once (the second queues behind the first)
    const row = (id: number) => page.locator(`[data-testid="pck-row"][data-prompt-id="${id}"]`);
    for (const p of [empty, template]) await row(p.id).getByTestId('run-eval').click();
    for (const p of [empty, template]) await expect.poll(() => row(p.id).getAttribute('data-state'), SLOW).toBe('done');
    const table = await call('evals:table', { datasetId, split: 'val' });
    expect(table.rows).toHaveLength(2);
    // only the prompt drawn second stays chosen: the first is drawn as an unchosen prompt
    const second = table.rows[1]!.promptId;
    const first = table.rows[0]!.promptId;
    await compareAt({ prompts: second, pck: 'chart' });
    // a fresh window: the chosen prompt is the first (and only) one chosen there
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await expect.poll(() => chip(first).getAttribute('data-selected')).toBe('false');
    expect(await chip(second).getAttribute('data-selected')).toBe('true');
    await expect.poll(() => attr('category-chart', 'data-series')).toBe('2');
    await page.waitForTimeout(300);
    await screenshot(page, 'compare-dependable-pck-chart');
    // what is painted: two bar colours, not one
    expect(await canvasColours('category-chart')).toHaveLength(2);
    const colours = (await attr('category-chart', 'data-colours')).split(' ');
    expect(colours).toHaveLength(2);
    expect(new Set(colours).size).toBe(2);
    // the chosen prompt has the same colour in the chart as on its chip
    const chipColour = await page.evaluate<string>(`getComputedStyle(document.querySelector('[data-testid="prompt-chip"][data-prompt-id="${second}"] .swatch')).backgroundColor`);
    const index = table.rows.findIndex((r) => r.promptId === second);
    expect(
      await page.evaluate<string>(
        `(() => { const s = document.createElement('span'); s.style.color = ${JSON.stringify(colours[index])}; document.body.append(s); const c = getComputedStyle(s).color; s.remove(); return c; })()`,
      ),
    ).toBe(chipColour);
    expect(problems).toEqual([]);
  }, 240_000);

  it('shows a running timestep sweep filling in: running, its progress in timesteps, points before it ends', async () => {
    await compareAt({ prompts: `${empty.id},${template.id}`, tab: 'sweep' });
    await byTestId('sweep-panel').waitFor();
    await expect.poll(() => byTestId('sweep-prompt').count()).toBe(2);
    await byTestId('sweep-timesteps').fill('0, 50, 100, 150, 200, 261, 350, 500, 700');
    await byTestId('sweep-ensemble').fill('1');
    await byTestId('sweep-size').fill('128');
    await expect.poll(() => attr('sweep-memory', 'data-state'), SLOW).toBe('fits');
    await byTestId('sweep-start').click();
    // at once: the new sweep is shown running (its evaluations have not started yet)
    await expect.poll(() => attr('sweep-result', 'data-state'), { timeout: 10_000, interval: 20 }).toBe('running');
    const sweepId = await attr('sweep-result', 'data-sweep-id');
    expect(sweepId).toMatch(/^sweep-/);
    expect(await byTestId('sweep-none').count()).toBe(0);
    // the axis is the sweep's timesteps, not 0..1
    expect(await attr('sweep-chart', 'data-x-range')).toBe('0-700');

    // points appear while it runs
    let seen: { points: number; text: string } | null = null;
    await expect
      .poll(
        async () => {
          const state = await attr('sweep-result', 'data-state');
          if (state !== 'running') throw new Error(`the sweep ended (${state}) before a point was shown while it ran`);
          const points = Number(await attr('sweep-chart', 'data-points'));
          if (points > 0) seen = { points, text: (await byTestId('sweep-progress-text').textContent()) ?? '' };
          return points;
        },
        { timeout: 150_000, interval: 50 },
      )
      .toBeGreaterThan(0);
    await screenshot(page, 'compare-dependable-sweep-running');
    expect(seen!.text).toMatch(/^\d of 9 timesteps/);
    await expect.poll(() => attr('sweep-result', 'data-state'), SLOW).toBe('done');
    await expect.poll(async () => Number(await attr('sweep-chart', 'data-points'))).toBe(18);
    const result = await call('evals:sweepResult', { sweepId });
    expect(result.completed).toBe(18);
    expect(await byTestId('sweep-progress-text').count()).toBe(0);
    await screenshot(page, 'compare-dependable-sweep-done');
    expect(problems).toEqual([]);
  }, 240_000);

  it('lists a sweep as running from the moment it starts, from its plan, before its first evaluation is stored', async () => {
    const { jobId, sweepId } = await call('evals:sweep', {
      modelId: (await call('models:list'))[0]!.id,
      datasetId,
      split: 'val',
      promptIds: [empty.id],
      timesteps: [50, 261],
      limit: 1,
      size: 128,
      ensemble: 1,
    });
    const listed = (await call('evals:sweeps', { datasetId })).find((x) => x.id === sweepId);
    expect(listed).toMatchObject({
      id: sweepId,
      running: true,
      jobId,
      completed: 0,
      total: 2,
      timesteps: [50, 261],
      split: 'val',
      limit: 1,
      size: 128,
      ensemble: 1,
      prompts: [{ promptId: empty.id, name: empty.name }],
    });
    const result = await call('evals:sweepResult', { sweepId });
    expect(result.series).toEqual([{ promptId: empty.id, prompt: empty.name, trainTimestep: null, points: [] }]);
    await expect.poll(async () => (await call('jobs:list')).find((j) => j.id === jobId)?.state, SLOW).toBe('completed');
    expect((await call('evals:sweeps', { datasetId })).filter((x) => x.id === sweepId)).toMatchObject([{ running: false, jobId: null, completed: 2, total: 2 }]);
  }, 120_000);

  it('photographs Compare’s tabs at 1440x900 (Pair, Gallery, Timesteps)', async () => {
    const pair = (await call('compare:pairs', { datasetId, split: 'val' })).pairs[1]!;
    await compareAt({ prompts: `${empty.id},${template.id}`, pair: pair.id });
    await expect.poll(() => attr('compare-stage', 'data-state'), SLOW).toBe('ready');
    await page.waitForTimeout(300);
    await screenshot(page, 'compare-dependable-tab-pair');
    await byTestId('compare-tab-gallery').click();
    await page.waitForTimeout(500);
    await screenshot(page, 'compare-dependable-tab-gallery');
    await byTestId('compare-tab-sweep').click();
    await byTestId('sweep-panel').waitFor();
    await page.waitForTimeout(300);
    await screenshot(page, 'compare-dependable-tab-sweep');
    expect(problems).toEqual([]);
  }, 120_000);
});
