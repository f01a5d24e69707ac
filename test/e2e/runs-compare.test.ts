/**
 * Runs and Compare end to end in browser mode: the built renderer against the real server (as
 * `sd4match serve --db FILE` runs it) with the tiny fixture Stable Diffusion model and a generated
 * SPair-style dataset, driven in Debian's Chromium. A Single run is launched from the form and
 * watched (its loss chart gains points while it trains), cancelled, resumed and finished; its
 * prompt opens in Compare next to the empty baseline, with predictions drawn and heatmaps after a
 * click on the source; evaluations run as jobs from the PCK table, which is exported as CSV.
 * While the run trains, the engine's event-loop lag and the page's interaction latency are
 * measured. Finally the server is stopped during a second run and a fresh server resumes it from
 * its checkpoint. Every state is photographed to test-results/screens/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
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

let tmp: string;
let dbFile: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let problems: string[];
/** The API in-process, to check what the page shows against the store. */
let other: InMemoryClient;
let datasetId: number;

/** The API in-process: a call that must succeed. */
const call = okCall(() => other);

const byTestId = (id: string) => page.getByTestId(id);
const attr = async (testid: string, name: string) => (await byTestId(testid).first().getAttribute(name)) ?? '';
const lossPoints = async () => Number(await attr('loss-chart', 'data-points'));

/** Waits for the charted loss to pass `n` points; a run that failed meanwhile says why at once. */
async function lossBeyond(n: number): Promise<void> {
  await expect
    .poll(async () => {
      const run = (await call('runs:list', {})).find((r) => r.id === runId);
      if (run?.status === 'failed') throw new Error(`run ${runId} failed: ${run.failureReason}`);
      return lossPoints();
    }, SLOW)
    .toBeGreaterThan(n);
}

async function fill(testid: string, value: string): Promise<void> {
  await byTestId(testid).fill(value);
}

/** The launch settings that train quickly on the tiny model. */
async function fillTinyLaunch(name: string, steps: number): Promise<void> {
  await fill('launch-steps', String(steps));
  await fill('launch-batch', '2');
  await fill('launch-lr', '0.01');
  await fill('launch-size', '128');
  await fill('launch-val-every', '10');
  await fill('launch-val-pairs', '4');
  await fill('launch-checkpoint-every', '5');
  await fill('launch-name', name);
}

/**
 * In the page: does `act`, then waits frame by frame until `check` holds, and returns the
 * milliseconds from the action to the first painted frame that shows its effect.
 */
async function interaction(act: string, check: string): Promise<number> {
  return page.evaluate<number>(`(async () => {
    const t0 = performance.now();
    ${act};
    for (;;) {
      await new Promise((resolve) => requestAnimationFrame(() => resolve()));
      if (${check}) return performance.now() - t0;
      if (performance.now() - t0 > 5000) throw new Error(${JSON.stringify(`the page never showed: ${check}`)});
    }
  })()`);
}

const q = (testid: string) => `document.querySelector('[data-testid="${testid}"]')`;
const selectKind = (value: string) => `{ const s = ${q('runs-kind')}; s.value = '${value}'; s.dispatchEvent(new Event('change', { bubbles: true })); }`;

/** Twelve interactions of different kinds while a run trains: prompt kind radios (form state) and the history filter (routing, lists, the run panel and its charts unmounting and mounting again). */
const INTERACTIONS: [string, string][] = [
  [`${q('launch-prompt-cpm')}.click()`, `${q('launch-dino')}.disabled === false`],
  [`${q('launch-prompt-single')}.click()`, `${q('launch-dino')}.disabled === true`],
  [selectKind('eval'), `document.querySelectorAll('[data-testid="run-row"]').length === 0 && !${q('run-detail')}`],
  [selectKind(''), `document.querySelectorAll('[data-testid="run-row"]').length > 0 && !!${q('loss-chart')}`],
];

const INTERACTION_NAMES = ['kind→CPM', 'kind→Single', 'filter→eval', 'filter→all'];

async function measureInteractions(rounds: number): Promise<{ what: string; ms: number }[]> {
  const out: { what: string; ms: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const [act, check] = INTERACTIONS[i % INTERACTIONS.length]!;
    out.push({ what: INTERACTION_NAMES[i % INTERACTIONS.length]!, ms: await interaction(act, check) });
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Event-loop delay of this process (the engine's) from the launch request to the run's end, and while steps run. */
let lagAll: IntervalHistogram;
let lag: IntervalHistogram;
/** UI interaction latencies, with what was done. */
const latencies: { what: string; ms: number }[] = [];
let runId: number;

describe.skipIf(!HAVE_FIXTURES)('Runs and Compare in Chromium (browser mode)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-runs-'));
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
    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${server.url}#/runs`));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    other?.close();
    await browser?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('checks the launch form before starting: field messages, nothing created', async () => {
    await byTestId('runs-empty').waitFor();
    await byTestId('launch-form').waitFor();
    // the paper's settings are prefilled
    expect(await byTestId('launch-steps').inputValue()).toBe('30000');
    expect(await byTestId('launch-batch').inputValue()).toBe('9');
    expect(await byTestId('launch-lr').inputValue()).toBe('0.01');
    expect(await byTestId('launch-timestep').inputValue()).toBe('261');
    expect(await byTestId('launch-size').inputValue()).toBe('768');
    await expect.poll(() => byTestId('launch-model').locator('option:checked').textContent()).toBe('sd-tiny');
    await expect.poll(() => byTestId('launch-dataset').locator('option:checked').textContent()).toBe('shift');
    await fill('launch-steps', 'many');
    await fill('launch-size', '100');
    await byTestId('launch-submit').click();
    expect(await byTestId('launch-steps-error').textContent()).toMatch(/whole number from 1/);
    expect(await byTestId('launch-size-error').textContent()).toMatch(/multiple of 64/);
    expect(await byTestId('launch-batch-error').count()).toBe(0);
    await fill('launch-steps', '30');
    await fill('launch-size', '128');
    await fill('launch-batch', '50');
    await byTestId('launch-submit').click();
    expect(await byTestId('launch-batch-error').textContent()).toBe('Larger than the 10 training pairs of shift.');
    // CPM without a DINOv2 model says why
    await byTestId('launch-prompt-cpm').check();
    expect(await byTestId('launch-dino-error').textContent()).toMatch(/register one under Models/);
    await byTestId('launch-prompt-single').check();
    await screenshot(page, 'runs-launch-invalid');
    expect(await call('runs:list', {})).toEqual([]);
  }, 180_000);

  it('launches a Single run of 30 steps and draws its loss while it trains; the engine and the page stay responsive', async () => {
    await fillTinyLaunch('tiny single', 30);
    lagAll = monitorEventLoopDelay({ resolution: 5 });
    lag = monitorEventLoopDelay({ resolution: 5 });
    lagAll.enable();
    await byTestId('launch-submit').click();
    await byTestId('run-detail').waitFor();
    runId = Number(await attr('run-detail', 'data-run-id'));
    expect(runId).toBeGreaterThan(0);
    await lossBeyond(0);
    lag.enable();
    await lossBeyond(await lossPoints());
    expect(await attr('run-detail', 'data-status')).toBe('running');
    expect(await byTestId('run-provider').textContent()).toBe('cpu');
    await expect.poll(() => byTestId('run-speed').textContent()).toMatch(/^\d+\.\d\d$/);
    await expect.poll(() => byTestId('run-eta').textContent()).toMatch(/\d/);
    await screenshot(page, 'runs-training');
    // the run keeps training while the page is used
    latencies.push(...(await measureInteractions(4)));
    expect(await attr('run-detail', 'data-status')).toBe('running');
  }, 180_000);

  it('cancels the run (resumable from its checkpoint), resumes it and sees it finish in the history', async () => {
    await byTestId('run-cancel').click();
    await expect.poll(() => attr('run-detail', 'data-status'), SLOW).toBe('cancelled');
    const at = await lossPoints();
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(30);
    await expect(byTestId('run-resume').isEnabled()).resolves.toBe(true);
    expect(await byTestId('run-resume-note').textContent()).toMatch(/Resumes from the checkpoint at step \d+/);
    expect(await page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`).getAttribute('data-status')).toBe('cancelled');
    await screenshot(page, 'runs-cancelled');

    await byTestId('run-resume').click();
    await expect.poll(() => attr('run-detail', 'data-status'), SLOW).toBe('running');
    // the page while the resumed run trains
    latencies.push(...(await measureInteractions(8)));
    await expect.poll(() => attr('run-detail', 'data-status'), SLOW).toBe('completed');
    lag.disable();
    lagAll.disable();

    const row = page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`);
    expect(await row.getAttribute('data-status')).toBe('completed');
    expect(await row.getByTestId('run-row-step').textContent()).toBe('30/30');
    const best = (await call('runs:get', { id: runId })).bestPck!;
    expect(await row.getByTestId('run-row-best').textContent()).toBe(`${(100 * best).toFixed(1)}%`);
    // every step once, validation at steps 10, 20 and 30
    await expect.poll(lossPoints).toBe(30);
    await expect.poll(async () => Number(await attr('pck-chart', 'data-points'))).toBe(3);
    await screenshot(page, 'runs-completed');

    const sorted = latencies.map((l) => l.ms).sort((a, b) => a - b);
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    console.log(
      `[responsiveness] engine event-loop lag while steps run: p50 ${ms(lag.percentile(50))} ms, p99 ${ms(lag.percentile(99))} ms, max ${ms(lag.max)} ms ` +
        `(from the launch request on: p99 ${ms(lagAll.percentile(99))} ms, max ${ms(lagAll.max)} ms) | ` +
        `UI interaction latency (action to painted frame, ${sorted.length} interactions): p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    );
    console.log(`[responsiveness] interactions: ${latencies.map((l) => `${l.what} ${l.ms.toFixed(0)}`).join(', ')}`);
    expect(lag.percentile(99) / 1e6).toBeLessThan(100);
    expect(percentile(sorted, 95)).toBeLessThan(250);
  }, 180_000);

  it('opens the learned prompt in Compare next to the empty baseline and draws their predictions', async () => {
    await byTestId('run-open-compare').click();
    await byTestId('view-compare').waitFor();
    const learned = (await call('prompts:list', {})).find((p) => p.runId === runId)!;
    const empty = (await call('prompts:list', {})).find((p) => p.name === 'empty prompt')!;
    const chip = (id: number) => page.locator(`[data-testid="prompt-chip"][data-prompt-id="${id}"]`);
    await expect.poll(() => chip(learned.id).getAttribute('data-selected')).toBe('true');
    expect(await chip(empty.id).getAttribute('data-selected')).toBe('false');
    // compared at the size the prompt was trained at; one noise draw keeps it quick
    expect(await byTestId('compare-size').inputValue()).toBe('128');
    await fill('compare-ensemble', '1');
    await byTestId('compare-ensemble').press('Enter');
    await chip(empty.id).click();
    await expect.poll(() => chip(empty.id).getAttribute('data-selected')).toBe('true');
    // the dataset has train and validation pairs: Compare starts on validation
    expect(await byTestId('compare-split').inputValue()).toBe('val');
    await byTestId('compare-empty').waitFor();
    await expect.poll(() => byTestId('compare-pair-row').count()).toBe(4);
    await byTestId('compare-pair-row').first().click();
    await expect.poll(() => attr('compare-stage', 'data-state'), SLOW).toBe('ready');
    const pairId = Number(await attr('compare-stage', 'data-pair-id'));
    const view = await call('compare:pair', { pairId });
    const n = view.src.kps.length;
    expect(await byTestId('src-kp').count()).toBe(n);
    expect(await byTestId('gt-marker').count()).toBe(n);
    await expect.poll(() => byTestId('pred-marker').count()).toBe(2 * n);
    for (const id of [learned.id, empty.id]) expect(await page.locator(`[data-testid="pred-marker"][data-prompt-id="${id}"]`).count()).toBe(n);
    // the legend's PCK agrees with the engine's predictions at α = 0.1
    const pred = await call('compare:predict', { pairId, promptIds: [learned.id, empty.id], modelId: (await call('models:list'))[0]!.id, size: 128, ensemble: 1, alpha: 0.1 });
    for (const p of pred.predictions) {
      const legend = page.locator(`[data-testid="legend-item"][data-prompt-id="${p.promptId}"] [data-testid="legend-pck"]`);
      expect(Number(await legend.getAttribute('data-pck'))).toBeCloseTo(p.pck, 9);
      const correct = await page.locator(`[data-testid="pred-marker"][data-prompt-id="${p.promptId}"][data-correct="true"]`).count();
      expect(correct).toBe(p.correct.filter(Boolean).length);
      const mean = page.locator(`[data-testid="legend-item"][data-prompt-id="${p.promptId}"] [data-testid="legend-mean"]`);
      expect(Number(await mean.getAttribute('data-mean'))).toBeCloseTo(p.errors.reduce((a, b) => a + b, 0) / p.errors.length / pred.threshold, 6);
    }
    await screenshot(page, 'compare-predictions');
    // another α judges the same predictions again, as the engine does
    await byTestId('compare-alpha').selectOption('0.15');
    const loose = await call('compare:predict', { pairId, promptIds: [learned.id, empty.id], modelId: (await call('models:list'))[0]!.id, size: 128, ensemble: 1, alpha: 0.15 });
    for (const p of loose.predictions) {
      await expect.poll(() => page.locator(`[data-testid="pred-marker"][data-prompt-id="${p.promptId}"][data-correct="true"]`).count()).toBe(p.correct.filter(Boolean).length);
    }
    expect(await attr('compare-stage', 'data-state')).toBe('ready');
    await byTestId('compare-alpha').selectOption('0.1');
  }, 180_000);

  it('shows each prompt’s similarity heatmap on the target after a click on the source', async () => {
    const src = byTestId('source-image');
    const box = (await src.boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.37, box.y + box.height * 0.61);
    await byTestId('src-point').waitFor();
    await expect.poll(() => attr('heatmaps', 'data-state'), SLOW).toBe('ready');
    await expect.poll(() => byTestId('heatmap-canvas').count()).toBe(2);
    // each canvas holds a coloured map, not a blank one
    const stats = await byTestId('heatmap-canvas').evaluateAll((els) =>
      els.map((el) => {
        const c = el as unknown as { width: number; height: number; getContext(t: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let opaque = 0;
        const colours = new Set<number>();
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3]! > 0) opaque++;
          colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        }
        return { pixels: c.width * c.height, opaque, colours: colours.size };
      }),
    );
    for (const s of stats) {
      expect(s.pixels).toBeGreaterThan(1);
      expect(s.opaque).toBe(s.pixels);
      expect(s.colours).toBeGreaterThan(2);
    }
    expect(await byTestId('heatmap-match').count()).toBe(2);
    await byTestId('heatmaps').scrollIntoViewIfNeeded();
    await page.waitForTimeout(400);
    await screenshot(page, 'compare-heatmap');
  }, 180_000);

  it('evaluates prompts as jobs from the PCK table, sorts pairs by error and exports the table as CSV', async () => {
    const prompts = await call('prompts:list', {});
    const learned = prompts.find((p) => p.runId === runId)!;
    const empty = prompts.find((p) => p.name === 'empty prompt')!;
    const row = (id: number) => page.locator(`[data-testid="pck-row"][data-prompt-id="${id}"]`);
    expect(await row(learned.id).getAttribute('data-state')).toBe('none');
    expect(await byTestId('export-csv').isDisabled()).toBe(true);
    for (const p of [learned, empty]) {
      await row(p.id).getByTestId('run-eval').click();
      await expect.poll(() => row(p.id).getAttribute('data-state')).toBe('running');
      await expect.poll(() => row(p.id).getAttribute('data-state'), SLOW).toBe('done');
      expect(await row(p.id).getByTestId('pck-overall').textContent()).toMatch(/^\d+\.\d$/);
    }
    const table = await call('evals:table', { datasetId, split: 'val' });
    expect(table.rows).toHaveLength(2);
    for (const r of table.rows) {
      expect(await row(r.promptId).getByTestId('pck-overall').textContent()).toBe((100 * r.overall).toFixed(1));
      expect(await row(r.promptId).getByTestId('pck-cell').allTextContents()).toEqual(table.categories.map((c) => (100 * r.categories[c]!).toFixed(1)));
    }
    await screenshot(page, 'compare-pck-table');

    // pairs worst first under the learned prompt's evaluation
    const evalRun = (await call('runs:list', { kind: 'eval' })).find((r) => r.promptId === learned.id)!;
    await byTestId('sort-eval').selectOption(String(evalRun.id));
    await expect.poll(async () => (await byTestId('compare-pair-row').first().getAttribute('data-error')) !== '').toBe(true);
    const errors = await byTestId('compare-pair-row').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-error'))));
    expect(errors).toHaveLength(4);
    expect([...errors].sort((a, b) => b - a)).toEqual(errors);

    const [download] = await Promise.all([page.waitForEvent('download'), byTestId('export-csv').click()]);
    const csv = await call('evals:csv', { datasetId, split: 'val' });
    expect(download.suggestedFilename()).toBe(csv.filename);
    expect(fs.readFileSync((await download.path())!, 'utf8')).toBe(csv.csv);
    expect(csv.csv.split('\n')[0]).toBe('prompt,all,cat');
    await byTestId('theme-toggle').click();
    await page.waitForTimeout(200);
    await screenshot(page, 'compare-pck-table-dark');
    await byTestId('theme-toggle').click();
    expect(problems).toEqual([]);
  }, 180_000);

  it('opens the history of a long run: 30,000 loss points charted, the page stays usable', async () => {
    const steps = 30_000;
    const store = Store.open(dbFile);
    let id: number;
    try {
      const r = repos(store.db);
      const model = r.models.list().find((m) => m.name === 'sd-tiny')!;
      id = r.runs.create({ kind: 'train', name: 'long history', config: { args: { prompt: 'single', steps } }, modelId: model.id, datasetId, totalSteps: steps }).id;
      r.runs.start(id, { provider: 'cpu' });
      store.db.transaction(() => {
        for (let step = 1; step <= steps; step++) {
          // a decaying, noisy loss with a spike every 1,000 steps
          const loss = 5 * Math.exp(-step / 8000) + 0.2 * Math.sin(step * 12.9898) + (step % 1000 === 0 ? 3 : 0);
          r.runs.recordMetrics(id, step, { loss, lr: 0.01 });
          if (step % 1000 === 0) r.runs.recordMetrics(id, step, { 'val_pck/0.05': 0.2, 'val_pck/0.1': 0.4, 'val_pck/0.15': 0.5 });
        }
        r.runs.progress(id, steps);
      })();
      r.runs.complete(id);
    } finally {
      store.close();
    }
    const t0 = Date.now();
    // (the run was written behind the server's back: load the page afresh)
    await page.goto(`${server.url}#/runs?run=${id}`);
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await expect.poll(() => attr('run-detail', 'data-run-id')).toBe(String(id));
    await expect.poll(lossPoints, SLOW).toBe(steps);
    await expect.poll(async () => Number(await attr('pck-chart', 'data-points'))).toBe(30);
    const opened = Date.now() - t0;
    console.log(`[long run] ${steps} loss points (the chart draws them decimated, min-max per pixel column): loaded and charted in ${opened} ms`);
    await screenshot(page, 'runs-long-history');
    expect(problems).toEqual([]);
  }, 180_000);

  it('a run interrupted by stopping the server resumes from its checkpoint with a fresh server', async () => {
    await byTestId('nav-runs').click();
    await byTestId('launch-form').waitFor();
    await fillTinyLaunch('interrupted', 60);
    await byTestId('launch-submit').click();
    await expect.poll(async () => Number(await attr('run-detail', 'data-run-id')), SLOW).not.toBe(runId);
    const second = Number(await attr('run-detail', 'data-run-id'));
    await expect.poll(lossPoints, SLOW).toBeGreaterThanOrEqual(8);
    expect(problems).toEqual([]);
    // the window goes first (the run carries on without it), then the server stops
    await page.context().close();
    await server.close();
    other.close();
    const store = Store.open(dbFile);
    try {
      const r = repos(store.db).runs.get(second)!;
      expect(r.status).toBe('cancelled');
      expect(r.step).toBeGreaterThanOrEqual(8);
      expect(fs.existsSync(path.join(tmp, 'runs', String(second), 'checkpoint.safetensors'))).toBe(true);
    } finally {
      store.close();
    }

    server = await startServer({ port: 0, db: dbFile });
    other = createInMemoryClient(server.api);
    ({ page, problems } = await openPage(browser, `${server.url}#/runs?run=${second}`));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 30_000 });
    await expect.poll(() => attr('run-detail', 'data-status')).toBe('cancelled');
    expect(await byTestId('run-resume').isEnabled()).toBe(true);
    // the history up to the interruption is there
    await expect.poll(lossPoints).toBeGreaterThanOrEqual(5);
    await screenshot(page, 'runs-interrupted');
    await byTestId('run-resume').click();
    await expect.poll(() => attr('run-detail', 'data-status'), SLOW).toBe('running');
    await expect.poll(() => attr('run-detail', 'data-status'), SLOW).toBe('completed');
    await expect.poll(lossPoints).toBe(60);
    expect(await page.locator(`[data-testid="run-row"][data-run-id="${second}"]`).getAttribute('data-status')).toBe('completed');
    await screenshot(page, 'runs-resumed-after-restart');
    expect(problems).toEqual([]);
  }, 180_000);
});
