/**
 * Knowing before running out, end to end in browser mode: the built renderer against the real
 * server (as `sd4match serve --db FILE` runs it) with the tiny fixture model and a generated
 * SPair-style dataset, in Debian's Chromium. With the machine's free memory the launch form shows
 * what the run will need and Start stays enabled; with the server's free memory overridden to
 * almost nothing (SD4MATCH_AVAILABLE_MEMORY_GB, which the inference process inherits) the form
 * shows the engine's refusal and Start is disabled with it, and Compare says its settings will not
 * fit in place of predictions and heatmaps without asking for them.
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
import { createInMemoryClient } from '../../src/main/transport/in-memory.js';
import { requireBuilt } from '../helpers/build-output.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';

/** A first estimate at 768 px builds the training graph; a refusal also plans smaller batches and sizes. */
const SLOW = { timeout: 90_000, intervals: [50, 100, 200] };
const ENV = 'SD4MATCH_AVAILABLE_MEMORY_GB';
const savedEnv = process.env[ENV];

let tmp: string;
let dbFile: string;
let server: RunningServer | undefined;
let browser: Browser;
let datasetId: number;

/** A page on a fresh server, recording the API methods it sends over its WebSocket. */
async function open(hash: string): Promise<{ page: Page; problems: string[]; sent: string[] }> {
  const { page, problems } = await openPage(browser, 'about:blank');
  const sent: string[] = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      const m = /"method":"([^"]+)"/.exec(typeof f.payload === 'string' ? f.payload : f.payload.toString());
      if (m) sent.push(m[1]!);
    }),
  );
  await page.goto(`${server!.url}${hash}`);
  await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  return { page, problems, sent };
}

async function restartServer(): Promise<void> {
  await server?.close();
  server = await startServer({ port: 0, db: dbFile });
}

describe.skipIf(!HAVE_FIXTURES)('memory estimates in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    delete process.env[ENV];
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-memory-'));
    dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    await writeShiftedSpair(path.join(tmp, 'shift'), 14, 10, { size: 128 });
    const store = Store.open(dbFile);
    try {
      datasetId = (await importDataset(store, { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' })).datasetId;
      repos(store.db).models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd });
    } finally {
      store.close();
    }
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    if (savedEnv === undefined) delete process.env[ENV];
    else process.env[ENV] = savedEnv;
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows what a run will need against the free memory and keeps Start enabled', async () => {
    await restartServer();
    const { page, problems } = await open('#/runs');
    const line = page.getByTestId('launch-memory');
    // the paper's settings (768 px, batch 9) first
    await expect.poll(() => line.getAttribute('data-state'), SLOW).toBe('fits');
    expect(await line.textContent()).toMatch(/^\s*Memory: about \d+(\.\d+)? GB of \d+(\.\d+)? GB free \(weights .+ GB, activations \d+(\.\d+)? GB\)\s*$/);
    const paper = Number(await line.getAttribute('data-bytes'));
    expect(await page.getByTestId('launch-submit').isEnabled()).toBe(true);
    expect(await page.getByTestId('launch-submit').getAttribute('title')).toBeNull();
    // smaller settings: asked again, and less is needed
    await page.getByTestId('launch-batch').fill('2');
    await page.getByTestId('launch-size').fill('128');
    const settled = async () => ((await line.getAttribute('data-state')) === 'fits' ? Number(await line.getAttribute('data-bytes')) : NaN);
    await expect.poll(settled, SLOW).toBeLessThan(paper);
    expect(await line.textContent()).toMatch(/GB free/);
    await line.scrollIntoViewIfNeeded();
    await screenshot(page, 'memory-launch-fits');
    // a field that decides memory is invalid: nothing to estimate
    await page.getByTestId('launch-size').fill('100');
    await expect.poll(() => line.count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 180_000);

  it('with almost no free memory, says why Start is disabled and Compare refuses its settings without asking', async () => {
    process.env[ENV] = '0.01';
    await restartServer();
    const other = createInMemoryClient(server!.api);
    let emptyId: number;
    let pairId: number;
    try {
      const prompts = await other.invoke('prompts:list', {});
      if ('error' in prompts) throw new Error(prompts.error.message);
      emptyId = prompts.result.find((p) => p.name === 'empty prompt')!.id;
      const pairs = await other.invoke('compare:pairs', { datasetId, split: 'val' });
      if ('error' in pairs) throw new Error(pairs.error.message);
      pairId = pairs.result.pairs[0]!.id;
    } finally {
      other.close();
    }

    const { page, problems, sent } = await open('#/runs');
    const line = page.getByTestId('launch-memory');
    await expect.poll(() => line.getAttribute('data-state'), SLOW).toBe('refused');
    const message = (await line.textContent())!.trim();
    expect(message).toMatch(/^training at 768 px with batch 9 needs about \d+\.\d+ GB \(weights .+\), 0\.0\d? GB are available \(SD4MATCH_AVAILABLE_MEMORY_GB\): /);
    const submit = page.getByTestId('launch-submit');
    expect(await submit.isDisabled()).toBe(true);
    expect(await submit.getAttribute('title')).toBe(message);
    await submit.scrollIntoViewIfNeeded();
    await screenshot(page, 'memory-launch-refused');
    expect(sent).not.toContain('runs:train');

    await page.goto(`${server!.url}#/compare?dataset=${datasetId}&split=val&pair=${pairId}&prompts=${emptyId}`);
    const memory = page.getByTestId('compare-memory');
    await expect.poll(() => memory.getAttribute('data-state'), SLOW).toBe('refused');
    const refusal = (await memory.textContent())!.trim();
    expect(refusal).toMatch(/^features at 768 px, ensemble 8 .*needs about \d+\.\d+ GB, 0\.0\d? GB are free/);
    await expect.poll(() => page.getByTestId('compare-stage').getAttribute('data-state')).toBe('refused');
    expect((await page.getByTestId('predict-refused').textContent())!.trim()).toBe(refusal);
    expect(await page.getByTestId('pred-marker').count()).toBe(0);
    // a click on the source asks for no heatmap either
    const box = (await page.getByTestId('source-image').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.4, box.y + box.height * 0.5);
    await expect.poll(() => page.getByTestId('heatmaps').getAttribute('data-state')).toBe('refused');
    expect((await page.getByTestId('heatmaps-refused').textContent())!.trim()).toBe(refusal);
    await screenshot(page, 'memory-compare-refused');
    expect(sent).toContain('compare:estimate');
    expect(sent.filter((m) => m === 'compare:predict' || m === 'compare:heatmap')).toEqual([]);
    // a refusal is a warning in place, not an error toast
    expect(await page.getByTestId('toast').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 180_000);
});
