/**
 * A newcomer's first hour (issue 22), end to end in Chromium at 1440x900 against the real
 * `sd4match serve` in a child process, everything done through the page with the mouse and the
 * keyboard: add a model folder without a tokenizer (and read what it can do), then one with; import
 * an SPair-layout benchmark and a COCO keypoints file; label two images; Suggest on a third; start a
 * training run; SIGKILL the server mid-run (the page says the engine is gone) and start it again
 * (the same address: the page left open reconnects by itself);
 * the same page opens the new address and the run shows failed and resumable with its reason;
 * resume it to completion; compare its prompt with the empty prompt; visit another view and come
 * back with the selection intact; run a timestep sweep and watch it fill in.
 *
 * The API is used only to observe what the page cannot show (a job's process id, a run that failed
 * while waited on). Every step is photographed to test-results/screens/journey-*.png.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptSummary, RunSummary } from '../../src/main/contract/index.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { requireBuilt } from '../helpers/build-output.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { freePort, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { canvasPoint, launchChromium, markers, openPage, screenshot, writeScene } from '../helpers/workstation.js';
import { TestClient, wsUrl } from '../helpers/ws-client.js';

const VIEWPORT = { width: 1440, height: 900 };
/** Long waits: the first use of the model compiles its graphs, and the machine may be busy. */
const SLOW = { timeout: 180_000, intervals: [50, 100, 200] };
/** The training run: long enough that the kill lands mid-run, checkpointed every step. */
const STEPS = 300;
const KILL_AT = 4;
/** The COCO images (image pixels) and where beak, eye and tail are on them. */
const W = 160;
const H = 120;
const BIRDS = 4;
const P = [
  [110, 50],
  [100, 40],
  [40, 57],
] as const;

let tmp: string;
let dbFile: string;
let serve: ServeProcess;
/** The server's port: started again on the same store and port, it serves the same URL. */
let port: number;
let firstUrl: string;
/** The API as a second window sees it, to observe what the page cannot show. */
let observer: TestClient;
let browser: Browser;
let page: Page;
let problems: string[];
let bareFolder: string;
let fullFolder: string;
let runId: number;
let learned: PromptSummary;
let empty: PromptSummary;
/** Compare's selection before leaving the view. */
let compareHash: string;
let comparePair: string;

const byTestId = (id: string) => page.getByTestId(id);
const attr = async (testid: string, name: string) => (await byTestId(testid).first().getAttribute(name)) ?? '';
const card = (name: string) => page.locator(`[data-testid="model-card"][data-name="${name}"]`);
const chip = (id: number) => page.locator(`[data-testid="prompt-chip"][data-prompt-id="${id}"]`);
const runRow = (id: number) => page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
const hash = () => page.evaluate<string>('window.location.hash');

async function call<T>(method: string, args?: unknown): Promise<T> {
  const frame = (await observer.invoke(method, args)) as { result?: T; error?: { code: string; message: string } };
  if (frame.error) throw new Error(`${method}: ${frame.error.code}: ${frame.error.message}`);
  return frame.result as T;
}

/** Starts `sd4match serve` on the journey's database and connects the observer to it. */
async function startServe(): Promise<void> {
  serve = await startServeProcess(dbFile, { timeoutMs: 120_000, port });
  observer = await TestClient.connect(wsUrl(serve.url));
}

/** The run as the engine lists it; a failed one says why at once while it is waited on. */
async function runNotFailed(id: number): Promise<RunSummary> {
  const r = (await call<RunSummary[]>('runs:list', {})).find((x) => x.id === id);
  if (!r) throw new Error(`run ${id} is not listed`);
  if (r.status === 'failed') throw new Error(`run ${id} failed: ${r.failureReason}`);
  return r;
}

async function saved(): Promise<void> {
  await expect.poll(() => byTestId('save-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('saved');
}

async function currentImage(): Promise<string> {
  return (await byTestId('annotation-canvas').getAttribute('data-image-id')) ?? '';
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A COCO keypoints file as another tool exports it: a "bird" category, one instance per image, no keypoint placed yet. */
async function writeCoco(root: string): Promise<void> {
  const images = [];
  for (let i = 0; i < BIRDS; i++) {
    await writeScene(path.join(root, 'images', `bird_${i}.jpg`), W, H, i);
    images.push({ id: i + 1, file_name: `images/bird_${i}.jpg`, width: W, height: H });
  }
  const annotations = images.map((img) => ({
    id: 100 + img.id,
    image_id: img.id,
    category_id: 1,
    keypoints: [0, 0, 0, 0, 0, 0, 0, 0, 0],
    num_keypoints: 0,
    bbox: [10, 10, W - 20, H - 20],
    area: (W - 20) * (H - 20),
    iscrowd: 0,
  }));
  const categories = [{ id: 1, name: 'bird', supercategory: 'animal', keypoints: ['beak', 'eye', 'tail'], skeleton: [[1, 2]] }];
  fs.writeFileSync(path.join(root, 'annotations.json'), JSON.stringify({ info: { description: 'birds from the garden' }, images, annotations, categories }));
}

describe.skipIf(!HAVE_FIXTURES)('a newcomer’s journey in Chromium at 1440x900 (browser mode, real serve process)', () => {
  beforeAll(async () => {
    requireBuilt('out/renderer/index.html');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-e2e-journey-'));
    dbFile = path.join(tmp, 'journey.db');
    // what the newcomer has on disk: two model folders, a benchmark and a COCO file
    bareFolder = path.join(tmp, 'models', 'sd-no-tokenizer');
    fs.cpSync(modelPath('sd'), bareFolder, { recursive: true });
    fullFolder = tinySdWithTokenizer(modelPath('sd'), path.join(tmp, 'models', 'sd-tiny'));
    await writeShiftedSpair(path.join(tmp, 'SPair-mini'), 10, 7, { size: 64 });
    await writeCoco(path.join(tmp, 'garden'));
    port = await freePort();
    await startServe();
    firstUrl = serve.url;
    browser = await launchChromium();
    ({ page, problems } = await openPage(browser, `${serve.url}#/models`, VIEWPORT));
    await page.waitForSelector('[data-testid="status"][data-state="ready"]', { timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await observer?.close();
    await browser?.close();
    await serve?.kill('SIGTERM');
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('1. adds a model folder without a tokenizer and sees what it can and cannot do', async () => {
    await byTestId('models-empty').waitFor();
    await screenshot(page, 'journey-01-models-empty');
    await byTestId('add-model').click();
    await byTestId('add-model-dialog').waitFor();
    await byTestId('model-folder').fill(bareFolder);
    await byTestId('validate-model').click();
    const report = byTestId('validation-report');
    await expect.poll(() => report.getAttribute('data-ok'), { timeout: 60_000 }).toBe('true');
    const list = report.getByTestId('capability-list');
    expect(Number(await list.getAttribute('data-off'))).toBeGreaterThan(1);
    expect(await list.getByTestId('capability-missing').textContent()).toMatch(/no tokenizer\/ folder/);
    expect(await list.locator('[data-capability="training"]').getAttribute('data-ok')).toBe('false');
    expect(await list.locator('[data-capability="training"] [data-testid="capability-reason"]').isVisible()).toBe(true);
    await screenshot(page, 'journey-02-model-without-tokenizer');
    await byTestId('add-model-submit').click();
    await byTestId('add-model-dialog').waitFor({ state: 'detached' });
    await card('sd-no-tokenizer').waitFor();
    expect(await card('sd-no-tokenizer').locator('[data-capability="training"]').getAttribute('data-ok')).toBe('false');
  }, 120_000);

  it('2. adds the folder with a tokenizer: everything but CPM (no DINOv2 model)', async () => {
    await byTestId('add-model').click();
    await byTestId('add-model-dialog').waitFor();
    await byTestId('model-folder').fill(fullFolder);
    await byTestId('validate-model').click();
    await expect.poll(() => byTestId('validation-report').getAttribute('data-ok'), { timeout: 60_000 }).toBe('true');
    expect(await byTestId('validation-report').getByTestId('capability-list').getAttribute('data-off')).toBe('1');
    await byTestId('add-model-submit').click();
    await byTestId('add-model-dialog').waitFor({ state: 'detached' });
    const c = card('sd-tiny');
    await c.waitFor();
    expect(await c.getByTestId('capability-list').getAttribute('data-off')).toBe('1');
    expect(await c.locator('[data-capability="training"]').getAttribute('data-ok')).toBe('true');
    await page.waitForTimeout(300);
    await screenshot(page, 'journey-03-models');
  }, 120_000);

  it('3. imports an SPair-layout benchmark', async () => {
    await byTestId('nav-datasets').click();
    await byTestId('import-dataset').click();
    await byTestId('import-dialog').waitFor();
    await byTestId('import-format').selectOption('spair');
    await byTestId('import-root').fill(path.join(tmp, 'SPair-mini'));
    await screenshot(page, 'journey-04-import-spair-form');
    await byTestId('import-submit').click();
    const dialog = byTestId('import-dialog');
    await dialog.getByTestId('import-report').waitFor({ timeout: 60_000 });
    expect(await dialog.getByTestId('report-pairs').textContent()).toMatch(/^10 \(trn 7, val 3/);
    await screenshot(page, 'journey-05-import-spair-report');
    await byTestId('import-open').click();
    // named after the benchmark, not the folder
    await expect.poll(() => byTestId('dataset-name').textContent()).toBe('SPair-71k');
    await expect.poll(() => byTestId('grid-cell').count()).toBeGreaterThan(0);
  }, 120_000);

  it('4. imports a COCO keypoints file', async () => {
    await byTestId('import-dataset').click();
    await byTestId('import-dialog').waitFor();
    await byTestId('import-format').selectOption('coco');
    await byTestId('import-root').fill(path.join(tmp, 'garden'));
    await byTestId('import-name').fill('garden birds');
    await byTestId('import-submit').click();
    const dialog = byTestId('import-dialog');
    await dialog.getByTestId('import-report').waitFor({ timeout: 60_000 });
    expect(await dialog.getByTestId('report-images').textContent()).toBe(String(BIRDS));
    await screenshot(page, 'journey-06-import-coco-report');
    await byTestId('import-open').click();
    await expect.poll(() => byTestId('dataset-name').textContent()).toBe('garden birds');
    await expect.poll(() => byTestId('grid-cell').count()).toBe(BIRDS);
    await page.waitForTimeout(300);
    await screenshot(page, 'journey-07-datasets-coco');
  }, 120_000);

  it('5. labels two images with the mouse', async () => {
    await byTestId('open-annotate').click();
    await byTestId('annotation-canvas').waitFor();
    const first = await currentImage();
    for (const [x, y] of P) {
      const p = await canvasPoint(page, x, y);
      await page.mouse.click(p.x, p.y);
    }
    await expect.poll(async () => [...(await markers(page)).keys()].sort()).toEqual([0, 1, 2]);
    await saved();
    await screenshot(page, 'journey-08-annotate-first');
    await byTestId('next-image').click();
    await expect.poll(currentImage).not.toBe(first);
    await expect.poll(async () => (await markers(page)).size).toBe(0);
    for (const [x, y] of P) {
      const p = await canvasPoint(page, x + 5, y + 4);
      await page.mouse.click(p.x, p.y);
    }
    await expect.poll(async () => [...(await markers(page)).keys()].sort()).toEqual([0, 1, 2]);
    await saved();
    await screenshot(page, 'journey-09-annotate-second');
  }, 120_000);

  it('6. Suggests on a third image: off on the model without a tokenizer (saying why), rings from the one with', async () => {
    const second = await currentImage();
    await byTestId('next-image').click();
    await expect.poll(currentImage).not.toBe(second);
    const panel = byTestId('suggest-panel');
    await panel.waitFor();
    await expect.poll(() => byTestId('suggest-prompt').locator('option').count()).toBeGreaterThan(0);
    await byTestId('suggest-prompt').selectOption({ label: 'empty prompt' });
    await byTestId('suggest-model').selectOption({ label: 'sd-no-tokenizer' });
    await byTestId('suggest-missing').waitFor();
    expect(await byTestId('suggest-missing').textContent()).toMatch(/^sd-no-tokenizer cannot use the empty prompt: no tokenizer\//);
    expect(await byTestId('suggest-run').isDisabled()).toBe(true);
    await screenshot(page, 'journey-10-suggest-off');
    await byTestId('suggest-model').selectOption({ label: 'sd-tiny' });
    await byTestId('suggest-missing').waitFor({ state: 'detached' });
    const details = byTestId('suggest-settings');
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
    await byTestId('suggest-size').fill('64');
    await byTestId('suggest-ensemble').fill('1');
    await expect.poll(() => byTestId('suggest-settings-error').count()).toBe(0);
    await byTestId('suggest-run').click();
    await expect
      .poll(async () => {
        const failed = (await call<{ state: string; title: string; error?: { message: string } }[]>('jobs:list')).find((j) => j.state === 'failed');
        if (failed) throw new Error(`${failed.title} failed: ${failed.error?.message}`);
        return byTestId('suggestion').count();
      }, SLOW)
      .toBe(3);
    await byTestId('suggest-summary').waitFor();
    await screenshot(page, 'journey-11-suggested');
    // accept them all (from confidence 0)
    await byTestId('suggest-accept-threshold').fill('0');
    await expect.poll(() => byTestId('suggest-accept-all').textContent()).toMatch(/Accept 3/);
    await byTestId('suggest-accept-all').click();
    await expect.poll(async () => [...(await markers(page)).keys()].sort()).toEqual([0, 1, 2]);
    await saved();
    await screenshot(page, 'journey-12-suggestions-accepted');
    expect(problems).toEqual([]);
  }, 240_000);

  it('7. starts a training run: the model without a tokenizer cannot train, the other can', async () => {
    await byTestId('nav-runs').click();
    await byTestId('launch-form').waitFor();
    await byTestId('launch-model').selectOption({ label: 'sd-no-tokenizer' });
    await byTestId('launch-cannot').waitFor();
    expect(await byTestId('launch-submit').isDisabled()).toBe(true);
    await screenshot(page, 'journey-13-launch-cannot');
    await byTestId('launch-model').selectOption({ label: 'sd-tiny' });
    await byTestId('launch-cannot').waitFor({ state: 'detached' });
    await byTestId('launch-dataset').selectOption({ label: 'SPair-71k' });
    await byTestId('launch-prompt-single').check();
    await byTestId('launch-steps').fill(String(STEPS));
    await byTestId('launch-batch').fill('1');
    await byTestId('launch-lr').fill('0.01');
    await byTestId('launch-size').fill('64');
    await byTestId('launch-val-every').fill('0');
    await byTestId('launch-checkpoint-every').fill('1');
    await byTestId('launch-name').fill('my first prompt');
    await byTestId('launch-submit').click();
    await byTestId('run-detail').waitFor();
    await expect.poll(() => attr('run-detail', 'data-run-id')).not.toBe('');
    runId = Number(await attr('run-detail', 'data-run-id'));
    // the card counts the steps: the kill lands once it shows step 4
    await expect
      .poll(async () => {
        await runNotFailed(runId);
        return Number(((await byTestId('run-step').textContent()) ?? '').split('/')[0]!.replace(/\D/g, ''));
      }, SLOW)
      .toBeGreaterThanOrEqual(KILL_AT);
    expect(await attr('run-detail', 'data-status')).toBe('running');
    await screenshot(page, 'journey-14-training');
  }, 240_000);

  it('8. the server is killed mid-run (SIGKILL): the page says the engine is gone and that what it shows may be out of date', async () => {
    const store = Store.open(dbFile);
    let jobPid: number | null;
    try {
      jobPid = repos(store.db).runs.get(runId)!.pid;
    } finally {
      store.close();
    }
    await observer.close();
    await serve.kill('SIGKILL');
    // the job process goes with its server
    if (jobPid !== null) await expect.poll(() => alive(jobPid!), { timeout: 20_000 }).toBe(false);
    // the kill landed mid-run
    const after = Store.open(dbFile);
    try {
      const row = repos(after.db).runs.get(runId)!;
      expect(row.status).toBe('running');
      expect(row.step).toBeLessThan(STEPS);
    } finally {
      after.close();
    }
    // what the page says meanwhile: not "ready" with the run still "running"
    await expect.poll(() => attr('status', 'data-state'), { timeout: 15_000 }).toBe('disconnected');
    expect(await byTestId('connection-lost').textContent()).toMatch(/Disconnected from the engine.*out of date/s);
    await screenshot(page, 'journey-15-server-gone');
  }, 120_000);

  it('9. the server is started again: the run shows failed and resumable, with its reason', async () => {
    await startServe();
    // the same address as before (the store keeps its token): the page left open reconnects by itself
    expect(serve.url).toBe(firstUrl);
    await expect.poll(() => attr('status', 'data-state'), { timeout: 60_000 }).toBe('ready');
    expect(await byTestId('connection-lost').count()).toBe(0);
    // (the requests cut off by the kill were reported while it was away)
    problems.length = 0;
    await expect.poll(() => attr('run-detail', 'data-run-id')).toBe(String(runId));
    await expect.poll(() => attr('run-detail', 'data-status')).toBe('failed');
    expect(await byTestId('run-status').textContent()).toBe('failed');
    const reason = (await byTestId('run-failure-reason').textContent()) ?? '';
    expect(reason).toMatch(/the process running it stopped unexpectedly/i);
    const m = /resume it from its checkpoint at step (\d+)/.exec(reason);
    expect(m, `the reason names the checkpoint: ${reason}`).not.toBeNull();
    const at = Number(m![1]);
    expect(at).toBeGreaterThanOrEqual(KILL_AT - 1);
    await expect.poll(() => byTestId('run-resume').textContent()).toBe(`Resume from step ${at}`);
    expect(await byTestId('run-resume').isEnabled()).toBe(true);
    expect(await byTestId('run-checkpoint').textContent()).toBe(`step ${at}`);
    // the card and the chart show what was stored before the kill, not what the page last heard
    expect(await byTestId('run-detail').textContent()).toMatch(new RegExp(`Step\\s*${at} / ${STEPS}`));
    await expect.poll(async () => Number(await attr('loss-chart', 'data-points')), { timeout: 20_000 }).toBeGreaterThanOrEqual(at);
    expect(await byTestId('run-resume-note').textContent()).toMatch(new RegExp(`Resumes from the checkpoint at step ${at}`));
    // History says so too
    expect(await runRow(runId).getAttribute('data-status')).toBe('failed');
    expect(await runRow(runId).getByTestId('run-row-reason').getAttribute('title')).toBe(reason);
    await screenshot(page, 'journey-16-run-failed-resumable');
  }, 240_000);

  it('10. resumes the run to completion', async () => {
    await byTestId('run-resume').click();
    await expect.poll(() => attr('run-detail', 'data-status'), SLOW).toBe('running');
    await byTestId('run-failure').waitFor({ state: 'detached' });
    await screenshot(page, 'journey-17-resumed');
    await expect
      .poll(
        async () => {
          await runNotFailed(runId);
          return attr('run-detail', 'data-status');
        },
        { timeout: 300_000, interval: 300 },
      )
      .toBe('completed');
    expect(await byTestId('run-step').textContent()).toBe(`${STEPS} / ${STEPS}`);
    expect(await runRow(runId).getAttribute('data-status')).toBe('completed');
    expect(await runRow(runId).getByTestId('run-row-step').textContent()).toBe(`${STEPS}/${STEPS}`);
    await page.waitForTimeout(300);
    await screenshot(page, 'journey-18-completed');
    expect(problems).toEqual([]);
  }, 360_000);

  it('11. compares the learned prompt with the empty prompt on a validation pair', async () => {
    await byTestId('run-open-compare').click();
    await byTestId('view-compare').waitFor();
    const list = await call<PromptSummary[]>('prompts:list', {});
    learned = list.find((p) => p.runId === runId)!;
    empty = list.find((p) => p.name === 'empty prompt')!;
    await expect.poll(() => chip(learned.id).getAttribute('data-selected')).toBe('true');
    expect(await byTestId('compare-size').inputValue()).toBe('64');
    await byTestId('compare-ensemble').fill('1');
    await byTestId('compare-ensemble').press('Enter');
    await chip(empty.id).click();
    await expect.poll(() => chip(empty.id).getAttribute('data-selected')).toBe('true');
    expect(await byTestId('compare-split').inputValue()).toBe('val');
    await expect.poll(() => byTestId('compare-pair-row').count()).toBe(3);
    await byTestId('compare-pair-row').nth(1).click();
    await expect.poll(() => attr('compare-stage', 'data-state'), SLOW).toBe('ready');
    const n = await byTestId('gt-marker').count();
    expect(n).toBeGreaterThan(0);
    for (const id of [learned.id, empty.id]) await expect.poll(() => page.locator(`[data-testid="pred-marker"][data-prompt-id="${id}"]`).count()).toBe(n);
    comparePair = await attr('compare-stage', 'data-pair-id');
    await page.waitForTimeout(300);
    await screenshot(page, 'journey-19-compare');
    expect(problems).toEqual([]);
  }, 240_000);

  it('12. visits another view and comes back to the same selection', async () => {
    await byTestId('compare-tab-sweep').click();
    await byTestId('sweep-panel').waitFor();
    compareHash = await hash();
    expect(compareHash).toContain(`pair=${comparePair}`);
    expect(compareHash).toContain('tab=sweep');
    await byTestId('nav-runs').click();
    await byTestId('view-runs').waitFor();
    await byTestId('run-detail').waitFor();
    // the finished run's history is still there
    await expect.poll(() => attr('loss-chart', 'data-points'), { timeout: 20_000 }).toBe(String(STEPS));
    await screenshot(page, 'journey-20-away-in-runs');
    await byTestId('nav-compare').click();
    await byTestId('view-compare').waitFor();
    expect(await hash()).toBe(compareHash);
    await byTestId('sweep-panel').waitFor();
    expect(await byTestId('compare-tab-sweep').getAttribute('aria-selected')).toBe('true');
    for (const id of [learned.id, empty.id]) expect(await chip(id).getAttribute('data-selected')).toBe('true');
    await byTestId('compare-tab-pair').click();
    await expect.poll(() => attr('compare-stage', 'data-pair-id')).toBe(comparePair);
    await expect.poll(() => attr('compare-stage', 'data-state'), SLOW).toBe('ready');
    expect(await page.locator('[data-testid="compare-pair-row"][data-selected="true"]').getAttribute('data-pair-id')).toBe(comparePair);
    await page.waitForTimeout(300);
    await screenshot(page, 'journey-21-compare-back');
    expect(problems).toEqual([]);
  }, 180_000);

  it('13. runs a timestep sweep and watches it fill in', async () => {
    await byTestId('compare-tab-sweep').click();
    await byTestId('sweep-panel').waitFor();
    await expect.poll(() => byTestId('sweep-prompt').count()).toBe(2);
    const timesteps = [0, 50, 100, 150, 200, 261, 350, 500];
    await byTestId('sweep-timesteps').fill(timesteps.join(', '));
    await byTestId('sweep-ensemble').fill('1');
    await byTestId('sweep-size').fill('64');
    await expect.poll(() => attr('sweep-memory', 'data-state'), SLOW).toBe('fits');
    await screenshot(page, 'journey-22-sweep-form');
    await byTestId('sweep-start').click();
    await expect.poll(() => attr('sweep-result', 'data-state'), { timeout: 20_000, interval: 20 }).toBe('running');
    expect(await byTestId('sweep-none').count()).toBe(0);
    // points appear while it runs
    let seenRunning = false;
    await expect
      .poll(
        async () => {
          const state = await attr('sweep-result', 'data-state');
          if (state !== 'running') throw new Error(`the sweep ended (${state}) before a point was shown while it ran`);
          const points = Number(await attr('sweep-chart', 'data-points'));
          if (points > 0 && !seenRunning) {
            seenRunning = true;
            await screenshot(page, 'journey-23-sweep-filling-in');
          }
          return points;
        },
        { timeout: 180_000, interval: 50 },
      )
      .toBeGreaterThan(0);
    expect(await byTestId('sweep-progress-text').textContent()).toMatch(new RegExp(`^\\d of ${timesteps.length} timesteps`));
    await expect.poll(() => attr('sweep-result', 'data-state'), SLOW).toBe('done');
    await expect.poll(async () => Number(await attr('sweep-chart', 'data-points'))).toBe(2 * timesteps.length);
    await page.waitForTimeout(300);
    await screenshot(page, 'journey-24-sweep-done');
    expect(problems).toEqual([]);
  }, 240_000);
});
