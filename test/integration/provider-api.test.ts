/**
 * The execution provider through the API (in-memory transport, real job processes, ONNX Runtime,
 * a SQLite file): the provider setting is stored with the database and becomes the engine's
 * choice, `app:info` says what was asked and what it resolved to, `runs:train` takes a provider for
 * one run and records it (the request in the run's config, the provider used on the run), and a
 * provider that cannot run here is refused before a run is created.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { apiCalls } from '../helpers/api-calls.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';

let dir: string;
let db: string;
let api: Api;
let client: InMemoryClient;
let modelId: number;
let datasetId: number;
const { ok, fail, finished } = apiCalls(
  () => client,
  () => api,
);

const launch = (over: Record<string, unknown> = {}) => ({ modelId, datasetId, prompt: 'single' as const, steps: 2, batch: 2, lr: 1e-2, size: 64, valEvery: 0, checkpointEvery: 2, ...over });

describe.skipIf(!HAVE_FIXTURES)('the execution provider through the API', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-provider-api-'));
    db = path.join(dir, 'ws.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 6, 4, { size: 64 });
    const store = Store.open(db);
    try {
      datasetId = (await importDataset(store, { format: 'spair', root: path.join(dir, 'shift'), name: 'shift' })).datasetId;
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    api = createApi({ db });
    client = createInMemoryClient(api);
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores the provider setting and makes it the engine choice', async () => {
    expect(await ok('app:settings')).toEqual({ provider: 'auto' });
    const info = await ok('app:info');
    expect(info).toMatchObject({ requestedProvider: 'auto', requestedBy: 'settings' });
    expect(info.providerNote).toMatch(new RegExp(`^auto -> ${info.provider}`));
    expect(await fail('app:setSettings', { provider: 'gpu' })).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'provider' });
    expect(await ok('app:setSettings', { provider: 'cpu' })).toEqual({ provider: 'cpu' });
    expect(await ok('app:info')).toMatchObject({ provider: 'cpu', requestedProvider: 'cpu', requestedBy: 'settings', providerNote: 'cpu' });
    const store = Store.open(db);
    try {
      expect(repos(store.db).settings.get()).toEqual({ provider: 'cpu' });
    } finally {
      store.close();
    }
    await ok('app:setSettings', { provider: 'auto' });
  });

  it('records the provider a run asked for and the one it ran on', async () => {
    const { runId, jobId } = await ok('runs:train', launch({ provider: 'cpu' }));
    expect((await finished(jobId)).state).toBe('completed');
    const run = await ok('runs:get', { id: runId });
    expect(run.provider).toBe('cpu');
    expect(run.config).toMatchObject({ args: { provider: 'cpu' } });
    // without one: the Settings' (auto), recorded as asked
    const second = await ok('runs:train', launch());
    expect((await finished(second.jobId)).state).toBe('completed');
    expect((await ok('runs:get', { id: second.runId })).config).toMatchObject({ args: { provider: 'auto' } });
  });

  it('refuses a provider that cannot run here, or is no provider, before creating a run', async () => {
    const before = (await ok('runs:list', {})).length;
    expect(await fail('runs:train', launch({ provider: 'fastest' }))).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'provider' });
    const info = await ok('app:info');
    if (!info.providerAttempts.some((a) => a.provider === 'cuda' && a.ok)) {
      const e = await fail('runs:train', launch({ provider: 'cuda' }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/^the cuda execution provider \(the run form\) (cannot run on this machine: .+|is not available on .+)$/);
    }
    expect((await ok('runs:list', {})).length).toBe(before);
  });
});
