/**
 * Knowing before running out, through the API with the tiny fixture model, real job processes and
 * a SQLite file: `runs:estimate` and `compare:estimate` say what a training run or a feature
 * computation will need against what is free; with the free memory overridden to almost nothing
 * (SD4MATCH_AVAILABLE_MEMORY_GB, inherited by the inference and job processes) the estimates say
 * it will not fit and why, a training run fails with that reason before it trains, and Compare
 * refuses its predictions with OUT_OF_MEMORY.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { ok, waitFor } from '../helpers/waiting.js';

const ENV = 'SD4MATCH_AVAILABLE_MEMORY_GB';
const savedEnv = process.env[ENV];

let dir: string;
let db: string;
let api: Api;
let client: InMemoryClient;
let modelId: number;
let datasetId: number;

const training = (over: Record<string, unknown> = {}) => ({ modelId, datasetId, prompt: 'single' as const, batch: 2, accumulate: 1, size: 128, ...over });

/** A fresh engine (its inference process and job processes start with the environment as it is now). */
async function restart(): Promise<void> {
  client?.close();
  await api?.close();
  api = createApi({ db });
  client = createInMemoryClient(api);
}

describe.skipIf(!HAVE_FIXTURES)('memory estimates through the API', () => {
  beforeAll(async () => {
    delete process.env[ENV];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-memory-api-'));
    db = path.join(dir, 'ws.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 8, 6, { size: 128 });
    const store = Store.open(db);
    try {
      datasetId = (await importDataset(store, { format: 'spair', root: path.join(dir, 'shift'), name: 'shift' })).datasetId;
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    await restart();
  }, 120_000);

  afterAll(async () => {
    if (savedEnv === undefined) delete process.env[ENV];
    else process.env[ENV] = savedEnv;
    client?.close();
    await api?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('estimates a training run and a feature computation that fit in the free memory', async () => {
    const t = ok(await client.invoke('runs:estimate', training()));
    expect(t).toMatchObject({ fits: true, message: null, what: 'training at 128 px with batch 2' });
    expect(t.weights).toBeGreaterThan(0);
    expect(t.activations).toBeGreaterThan(0);
    expect(t.bytes).toBeGreaterThan(t.weights);
    expect(t.available).toBeGreaterThan(t.bytes);
    // a larger batch holds more activations
    const t4 = ok(await client.invoke('runs:estimate', training({ batch: 4 })));
    expect(t4.activations).toBeGreaterThan(t.activations);

    const f = ok(await client.invoke('compare:estimate', { modelId, size: 128, ensemble: 2 }));
    expect(f).toMatchObject({ fits: true, message: null });
    expect(f.what).toMatch(/^features at 128 px, ensemble 2/);
    expect(f.weights).toBeGreaterThan(0);
    expect(f.bytes).toBeGreaterThan(f.weights);
    expect(f.available).toBeGreaterThan(0);
  }, 120_000);

  it('refuses estimates of what does not exist or could not start, as runs:train does', async () => {
    expect(await client.invoke('runs:estimate', training({ modelId: 999 }))).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no model with id 999' } });
    expect(await client.invoke('runs:estimate', training({ datasetId: 999 }))).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no dataset with id 999' } });
    expect(await client.invoke('runs:estimate', training({ category: 'zebra' }))).toMatchObject({ error: { message: expect.stringMatching(/no category 'zebra'/) } });
    expect(await client.invoke('runs:estimate', training({ prompt: 'cpm' }))).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/DINOv2/) } });
    expect(await client.invoke('runs:estimate', training({ batch: 7 }))).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: 'batch 7 is larger than the 6 training pairs of shift' } });
    expect(await client.invokeRaw('runs:estimate', { ...training(), size: 100 })).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/size/) } });
    // only the fields that decide memory
    expect(await client.invokeRaw('runs:estimate', { ...training(), steps: 10 })).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    expect(await client.invoke('compare:estimate', { modelId: 999, size: 128, ensemble: 1 })).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no model with id 999' } });
    expect(await client.invokeRaw('compare:estimate', { modelId, size: 128, ensemble: 33 })).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/ensemble/) } });
  });

  describe('with almost no free memory', () => {
    beforeAll(async () => {
      process.env[ENV] = '0.01';
      await restart();
    }, 60_000);

    it('says the settings will not fit, how much they need and what is free', async () => {
      const t = ok(await client.invoke('runs:estimate', training()));
      expect(t.fits).toBe(false);
      expect(t.available).toBe(0.01e9);
      expect(t.bytes).toBeGreaterThan(t.weights);
      expect(t.message).toMatch(
        /^training at 128 px with batch 2 needs about \d+\.\d+ GB \(weights \d+\.\d+ GB, activations \d+\.\d+ GB\), 0\.0\d? GB are available \(SD4MATCH_AVAILABLE_MEMORY_GB\): /,
      );
      expect(t.message).toMatch(/no batch or image size fits/);

      const f = ok(await client.invoke('compare:estimate', { modelId, size: 128, ensemble: 1 }));
      expect(f.fits).toBe(false);
      expect(f.message).toMatch(/^features at 128 px, ensemble 1 .*needs about \d+\.\d+ GB, 0\.0\d? GB are free/);
    }, 120_000);

    it('a training run fails with the reason before it trains', async () => {
      const { runId, jobId } = ok(await client.invoke('runs:train', { ...training(), steps: 5, lr: 1e-2, valEvery: 0, checkpointEvery: 5 }));
      const failed = await waitFor(async () => {
        const r: RunSummary = ok(await client.invoke('runs:get', { id: runId }));
        return r.status === 'failed' ? r : undefined;
      });
      expect(failed.failureReason).toMatch(/^training at 128 px with batch 2 needs about \d+\.\d+ GB .*0\.0\d? GB are available/);
      expect(failed.step).toBe(0);
      const job = await waitFor(async () => ok(await client.invoke('jobs:list')).find((j) => j.id === jobId && j.state === 'failed'));
      expect(job.error).toMatchObject({ code: 'OUT_OF_MEMORY', message: failed.failureReason });
    }, 120_000);

    it('Compare refuses predictions and heatmaps with OUT_OF_MEMORY', async () => {
      const empty = ok(await client.invoke('prompts:list', {})).find((p) => p.name === 'empty prompt')!;
      const pair = ok(await client.invoke('compare:pairs', { datasetId, split: 'val' })).pairs[0]!;
      const pred = await client.invoke('compare:predict', { pairId: pair.id, promptIds: [empty.id], modelId, size: 128, ensemble: 1 });
      expect(pred).toMatchObject({ error: { code: 'OUT_OF_MEMORY', message: expect.stringMatching(/needs about \d+\.\d+ GB, 0\.0\d? GB are free/) } });
      const heat = await client.invoke('compare:heatmap', { pairId: pair.id, promptIds: [empty.id], point: [10, 10], modelId, size: 128, ensemble: 1 });
      expect(heat).toMatchObject({ error: { code: 'OUT_OF_MEMORY' } });
    }, 120_000);
  });
});
