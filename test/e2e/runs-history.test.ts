/**
 * The Runs view as a user relies on it, in Chromium at 1440x900 against the real server (as
 * `sd4match serve --db FILE` runs it): a failed run says so and why on its card and in History
 * (resumable ones offer "Resume from step N"); History fits its panel with the important columns
 * first; a timestep sweep's evaluations are one History row that expands to them; the launch form
 * keeps its values per dataset across a reload and resets to the paper's; and the card of a
 * running run shows its checkpoints as they are written. Finished runs are written into the store
 * before the server starts (what the engine records for them); the live run is a real training
 * run of the tiny fixture model. Every state is photographed to test-results/screens/.
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
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { launchChromium, openPage, screenshot } from '../helpers/workstation.js';
import { okCall } from '../helpers/api-calls.js';

/** Long waits: the first training step compiles the training graph. */
const SLOW = { timeout: 150_000, intervals: [50, 100, 200] };
const VIEWPORT = { width: 1440, height: 900 };

/** What a job that failed before training records (the model folder changed after it was added). */
const EARLY_REASON = 'Opening the model sd-tiny: unet/model.onnx is truncated (2,048 of 1,114,112 bytes): the folder changed after it was added; add it again under Models';
/** What a run that failed mid-way records: long, as real reasons are. */
const LATE_REASON =
  'The job process stopped while training step 9 (killed for memory: it used 61.2 GB of 62.8 GB). The run can resume from its checkpoint at step 8; a smaller batch or image size needs less memory.';

let tmp: string;
let dbFile: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
let other: InMemoryClient;
let shiftId: number;
/** Seeded runs. */
let early: number;
let late: number;
let sweepRuns: number[];

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);
const row = (id: number) => page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);

/** A finished training run as the engine records it. */
function seedTrain(r: ReturnType<typeof repos>, name: string, datasetId: number, modelId: number, steps: number, end: (id: number) => void, checkpoints: number[] = []): number {
  const id = r.runs.create({ kind: 'train', name, config: { args: { prompt: 'single', steps, batch: 2, lr: 0.01, size: 64, checkpointEvery: 4 } }, modelId, datasetId, totalSteps: steps }).id;
  r.runs.start(id, { provider: 'cpu' });
  for (let s = 1; s <= (checkpoints.at(-1) ?? 0); s++) r.runs.recordMetrics(id, s, { loss: 2 - s * 0.05 });
  if (checkpoints.length) r.runs.progress(id, checkpoints.at(-1)!);
  const dir = path.join(tmp, 'runs', String(id));
  for (const step of checkpoints) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'checkpoint.safetensors'), 'x');
    r.runs.addCheckpoint({ runId: id, step, path: path.join(dir, 'checkpoint.safetensors'), bytes: 1, sha256: '0'.repeat(64) });
  }
  end(id);
  return id;
}

describe.skipIf(!HAVE_FIXTURES)('Runs: failures, History and the launch form in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-history-'));
    dbFile = path.join(tmp, 'workstation.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'sd-tiny'));
    await writeShiftedSpair(path.join(tmp, 'shift'), 8, 6, { size: 64 });
    await writeShiftedSpair(path.join(tmp, 'other'), 6, 4, { size: 64 });
    const store = Store.open(dbFile);
    try {
      shiftId = (await importDataset(store, { format: 'spair', root: path.join(tmp, 'shift'), name: 'shift' })).datasetId;
      await importDataset(store, { format: 'spair', root: path.join(tmp, 'other'), name: 'other_pairs' });
      const r = repos(store.db);
      const modelId = r.models.upsert({ name: 'sd-tiny', kind: 'stable-diffusion', folder: sd }).id;
      seedTrain(r, 'finished single', shiftId, modelId, 12, (id) => {
        r.runs.progress(id, 12);
        r.runs.complete(id);
      });
      // failed before its first step: no checkpoint, nothing to resume
      early = r.runs.create({ kind: 'train', name: 'broken model', config: { args: { prompt: 'single', steps: 12 } }, modelId, datasetId: shiftId, totalSteps: 12 }).id;
      r.runs.fail(early, EARLY_REASON);
      late = seedTrain(r, 'killed mid-way', shiftId, modelId, 40, (id) => r.runs.fail(id, LATE_REASON), [4, 8]);
      // a timestep sweep: one evaluation per timestep, each its own run
      const plan = { timesteps: [0, 50, 100, 200], promptIds: [] as number[] };
      sweepRuns = plan.timesteps.map((t, i) => {
        const id = r.runs.create({
          kind: 'eval',
          name: `empty prompt t=${t}`,
          config: { dataset: 'shift', split: 'val', prompt: 'empty prompt', timestep: t, ensemble: 1, size: 64, seed: 0, sweep: 'sweep-test1', sweepPlan: plan },
          modelId,
          datasetId: shiftId,
          totalSteps: 2,
        }).id;
        r.runs.start(id, { provider: 'cpu' });
        r.runs.recordMetrics(id, 2, { 'pck/kernelsoftmax/0.1': 0.2 + 0.1 * i });
        r.runs.progress(id, 2);
        r.runs.complete(id);
        return id;
      });
    } finally {
      store.close();
    }
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/runs?run=${late}`, VIEWPORT));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a failed resumable run shows its status, its reason in full and "Resume from step 8" on its card', async () => {
    await expect.poll(() => byTestId('run-detail').getAttribute('data-run-id')).toBe(String(late));
    expect(await byTestId('run-status').textContent()).toBe('failed');
    expect(await byTestId('run-failure').textContent()).toContain(LATE_REASON);
    // the whole reason is on screen, not cut off
    const failure = byTestId('run-failure');
    expect(await failure.evaluate((el) => el.scrollWidth <= el.clientWidth + 1 && el.scrollHeight <= el.clientHeight + 1)).toBe(true);
    await expect.poll(() => byTestId('run-resume').textContent()).toBe('Resume from step 8');
    expect(await byTestId('run-checkpoint').textContent()).toBe('step 8');
    await screenshot(page, 'runs-failed-card');
  });

  it('a run that failed before training says why, and that nothing can be resumed', async () => {
    await row(early).click();
    await expect.poll(() => byTestId('run-detail').getAttribute('data-run-id')).toBe(String(early));
    expect(await byTestId('run-status').textContent()).toBe('failed');
    expect(await byTestId('run-failure').textContent()).toContain(EARLY_REASON);
    expect(await byTestId('run-resume').count()).toBe(0);
    expect(await byTestId('run-resume-note').textContent()).toMatch(/No checkpoint was written/);
  });

  it('History shows each failure with its reason, truncated with the whole reason on hover', async () => {
    for (const [id, reason] of [
      [late, LATE_REASON],
      [early, EARLY_REASON],
    ] as const) {
      expect(await row(id).getAttribute('data-status')).toBe('failed');
      const cell = row(id).getByTestId('run-row-reason');
      expect(await cell.getAttribute('title')).toBe(reason);
      expect((await cell.textContent())!.trim().length).toBeGreaterThan(0);
      // one line in the table, ellipsed
      const box = (await cell.boundingBox())!;
      expect(box.height).toBeLessThan(24);
    }
  });

  it('History fits its panel at 1440 px: name, status, step and PCK first and in view, the rest scrolls inside the panel', async () => {
    const panel = (await page.locator('section.history').boundingBox())!;
    expect(panel.x + panel.width).toBeLessThanOrEqual(VIEWPORT.width);
    const headers = await byTestId('runs-table').locator('thead th').allTextContents();
    expect(headers.slice(0, 4).map((h) => h.trim())).toEqual(['Name', 'Status', 'Step', 'PCK@0.1']);
    for (const h of ['Name', 'Status', 'Step', 'PCK@0.1']) {
      const th = (await byTestId('runs-table').locator('thead th', { hasText: h }).first().boundingBox())!;
      expect(th.x + th.width, `the ${h} column`).toBeLessThanOrEqual(panel.x + panel.width);
    }
    // whatever does not fit scrolls inside the panel: the page itself never scrolls sideways
    expect(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    const last = (await byTestId('runs-table').locator('thead th').last().boundingBox())!;
    if (last.x + last.width > panel.x + panel.width) {
      expect(
        await byTestId('runs-table-scroll').evaluate(
          (el) => el.scrollWidth > el.clientWidth && (globalThis as unknown as { getComputedStyle(e: unknown): { overflowX: string } }).getComputedStyle(el).overflowX !== 'hidden',
        ),
      ).toBe(true);
    }
    await screenshot(page, 'runs-history');
  });

  it('shows a timestep sweep as one History row that expands to its evaluations', async () => {
    const group = page.locator('[data-testid="sweep-row"][data-sweep-id="sweep-test1"]');
    await group.waitFor();
    expect(await group.getByTestId('sweep-row-count').textContent()).toMatch(/4 evaluations/);
    expect(await group.getAttribute('data-status')).toBe('completed');
    // collapsed: its evaluations are not rows of their own
    for (const id of sweepRuns) expect(await row(id).count()).toBe(0);
    await group.getByTestId('sweep-toggle').click();
    for (const id of sweepRuns) await row(id).waitFor();
    expect(await group.getAttribute('aria-expanded')).toBe('true');
    await row(sweepRuns[1]!).click();
    await expect.poll(() => byTestId('run-detail').getAttribute('data-run-id')).toBe(String(sweepRuns[1]));
    await screenshot(page, 'runs-history-sweep');
    // the evaluations filter shows the sweep too
    await byTestId('runs-kind').selectOption('eval');
    await group.waitFor();
    await group.getByTestId('sweep-toggle').click();
    for (const id of sweepRuns) await row(id).waitFor({ state: 'detached' });
    await byTestId('runs-kind').selectOption('');
  });

  it('keeps the launch form’s values per dataset across a reload, and resets them to the paper’s', async () => {
    await byTestId('launch-dataset').selectOption({ label: 'shift' });
    await byTestId('launch-steps').fill('120');
    await byTestId('launch-batch').fill('3');
    await byTestId('launch-size').fill('128');
    await byTestId('launch-schedule').selectOption('cosine');
    await byTestId('launch-provider').selectOption('cpu');
    await byTestId('launch-dataset').selectOption({ label: 'other_pairs' });
    await byTestId('launch-steps').fill('77');
    await byTestId('launch-batch').fill('2');
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    // the last dataset, with its values
    await expect.poll(() => byTestId('launch-dataset').locator('option:checked').textContent()).toBe('other_pairs');
    expect(await byTestId('launch-steps').inputValue()).toBe('77');
    expect(await byTestId('launch-batch').inputValue()).toBe('2');
    // the other dataset's values come back with it
    await byTestId('launch-dataset').selectOption({ label: 'shift' });
    await expect.poll(() => byTestId('launch-steps').inputValue()).toBe('120');
    expect(await byTestId('launch-batch').inputValue()).toBe('3');
    expect(await byTestId('launch-size').inputValue()).toBe('128');
    expect(await byTestId('launch-schedule').inputValue()).toBe('cosine');
    expect(await byTestId('launch-provider').inputValue()).toBe('cpu');
    await byTestId('launch-defaults').click();
    expect(await byTestId('launch-defaults').textContent()).toMatch(/Reset to paper defaults/);
    expect(await byTestId('launch-steps').inputValue()).toBe('30000');
    expect(await byTestId('launch-batch').inputValue()).toBe('9');
    expect(await byTestId('launch-size').inputValue()).toBe('768');
    expect(await byTestId('launch-schedule').inputValue()).toBe('constant');
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await expect.poll(() => byTestId('launch-dataset').locator('option:checked').textContent()).toBe('shift');
    expect(await byTestId('launch-steps').inputValue()).toBe('30000');
    await screenshot(page, 'runs-form');
  });

  it('the card of a running run shows its checkpoints as they are written', async () => {
    await byTestId('launch-dataset').selectOption({ label: 'shift' });
    await byTestId('launch-steps').fill('400');
    await byTestId('launch-batch').fill('1');
    await byTestId('launch-size').fill('64');
    await byTestId('launch-val-every').fill('0');
    await byTestId('launch-checkpoint-every').fill('1');
    await byTestId('launch-name').fill('checkpointing');
    await byTestId('launch-submit').click();
    await expect.poll(async () => (await call('runs:list', {})).some((r) => r.name === 'checkpointing')).toBe(true);
    const id = (await call('runs:list', {})).find((r) => r.name === 'checkpointing')!.id;
    await expect.poll(() => byTestId('run-detail').getAttribute('data-run-id')).toBe(String(id));
    await expect
      .poll(async () => {
        const r = (await call('runs:list', {})).find((x) => x.id === id)!;
        if (r.status === 'failed') throw new Error(`run ${id} failed: ${r.failureReason}`);
        return r.status === 'running' && (await call('runs:get', { id })).checkpoints.length >= 2;
      }, SLOW)
      .toBe(true);
    // the card follows while the run goes on
    await expect
      .poll(async () => (await byTestId('run-detail').getAttribute('data-status')) === 'running' && /^step \d+$/.test((await byTestId('run-checkpoint').textContent()) ?? ''), { timeout: 20_000 })
      .toBe(true);
    const shown = Number((await byTestId('run-checkpoint').textContent())!.replace(/\D/g, ''));
    const stored = (await call('runs:get', { id })).checkpoints.map((c) => c.step);
    expect(stored).toContain(shown);
    await screenshot(page, 'runs-running-checkpoint');
    await byTestId('run-cancel').click();
    await expect.poll(() => byTestId('run-detail').getAttribute('data-status'), SLOW).toBe('cancelled');
    expect(problems).toEqual([]);
  }, 200_000);
});
