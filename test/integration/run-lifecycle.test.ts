/**
 * One run lifecycle: every way out of a run's job ends the run in a terminal state with its reason,
 * and a run whose process is gone is found at start-up. With the real CLI's `serve` in a child
 * process (killed with SIGKILL, the way the system or a user kills it), real job processes, ONNX
 * Runtime on the tiny fixture model and a SQLite file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetails, RunSummary } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { runCli } from '../helpers/cli.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { TestClient, wsUrl } from '../helpers/ws-client.js';
import { processAlive as alive } from '../../src/main/shared/processes.js';
import { ok, waitFor } from '../helpers/waiting.js';

let dir: string;
let db: string;
let sdDir: string;
let modelId: number;
let datasetId: number;

function runRow(id: number) {
  const store = Store.open(db);
  try {
    return repos(store.db).runs.get(id)!;
  } finally {
    store.close();
  }
}

const launch = (over: Record<string, unknown> = {}) => ({
  modelId,
  datasetId,
  prompt: 'single' as const,
  steps: 400,
  batch: 1,
  lr: 1e-2,
  size: 64,
  valEvery: 0,
  valPairs: 0,
  checkpointEvery: 1,
  ...over,
});

describe.skipIf(!HAVE_FIXTURES)('one run lifecycle', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-run-life-'));
    db = path.join(dir, 'ws.db');
    sdDir = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 8, 6, { size: 64 });
    const store = Store.open(db);
    try {
      datasetId = (await importDataset(store, { format: 'spair', root: path.join(dir, 'shift'), name: 'shift' })).datasetId;
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sdDir }).id;
    } finally {
      store.close();
    }
  }, 120_000);

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a run whose server is killed mid-run is failed at the next start with its reason, resumable, and resumes to completion', async () => {
    const first = await startServeProcess(db);
    let runId: number;
    let jobPid: number;
    try {
      const c = await TestClient.connect(wsUrl(first.url));
      runId = ok<{ runId: number }>(await c.invoke('runs:train', launch())).runId;
      // the train:step events come as they happen: kill the server at step 4
      await waitFor(
        () => c.events.some((e) => e.event === 'train:step' && (e.payload as { runId: number; step: number }).runId === runId && (e.payload as { step: number }).step >= 4),
        120_000,
        'step 4',
      );
      jobPid = runRow(runId).pid!;
      expect(runRow(runId).status).toBe('running');
      await first.kill('SIGKILL');
    } finally {
      await first.kill();
    }
    // the job process goes with its server
    await waitFor(() => !alive(jobPid), 10_000, 'the job process to end');
    expect(runRow(runId).status).toBe('running');

    const second = await startServeProcess(db);
    try {
      const c = await TestClient.connect(wsUrl(second.url));
      const listed = ok<RunSummary[]>(await c.invoke('runs:list', {})).find((r) => r.id === runId)!;
      expect(listed.status).toBe('failed');
      expect(listed.resumable).toBe(true);
      expect(listed.failureReason).toMatch(/stopped/);
      expect(listed.failureReason).toMatch(/checkpoint at step \d+/);
      const details = ok<RunDetails>(await c.invoke('runs:get', { id: runId }));
      expect(details.checkpoints.length).toBeGreaterThanOrEqual(4);

      // resumed, it runs to the end
      const resumed = ok<{ runId: number; jobId: string }>(await c.invoke('runs:resume', { id: runId }));
      expect(resumed.runId).toBe(runId);
      await waitFor(async () => ok<RunSummary>(await c.invoke('runs:get', { id: runId })).status === 'completed', 240_000, 'the resumed run to complete');
      expect(runRow(runId).step).toBe(400);
      await c.close();
    } finally {
      await second.kill('SIGTERM');
    }
  }, 400_000);

  it('a run queued by a server that was killed before its job started is failed at the next start, and can be deleted', async () => {
    // a queued row owned by a process that is gone (a pid no process has)
    const store = Store.open(db);
    let queuedId: number;
    try {
      const r = repos(store.db);
      queuedId = r.runs.create({
        kind: 'train',
        name: 'orphan',
        config: { args: { modelDir: sdDir, dataset: String(datasetId), prompt: 'single', steps: 3, batch: 1, lr: 0.01 } },
        modelId,
        datasetId,
        totalSteps: 3,
      }).id;
      store.db.prepare('UPDATE runs SET pid = ? WHERE id = ?').run(2 ** 22 + 12345, queuedId);
    } finally {
      store.close();
    }
    const api = createApi({ db });
    const client = createInMemoryClient(api);
    try {
      const r = ok<RunSummary>(await client.invoke('runs:get', { id: queuedId }));
      expect(r.status).toBe('failed');
      expect(r.failureReason).toMatch(/queued/);
      expect(ok<{ deleted: boolean }>(await client.invoke('runs:delete', { id: queuedId })).deleted).toBe(true);
    } finally {
      client.close();
      await api.close();
    }
  }, 60_000);

  describe('through the API', () => {
    let api: Api;
    let client: InMemoryClient;
    beforeAll(() => {
      api = createApi({ db });
      client = createInMemoryClient(api);
    });
    afterAll(async () => {
      client?.close();
      await api?.close();
    });

    it('a run whose job fails before training starts ends failed with the reason, not queued', async () => {
      // the folder changed after it was added: the UNet is cut short
      const broken = path.join(dir, 'broken-sd');
      fs.cpSync(sdDir, broken, { recursive: true });
      const unet = path.join(broken, 'unet', 'model.onnx');
      fs.truncateSync(unet, Math.floor(fs.statSync(unet).size / 3));
      const store = Store.open(db);
      let brokenId: number;
      try {
        brokenId = repos(store.db).models.upsert({ name: 'broken', kind: 'stable-diffusion', folder: broken }).id;
      } finally {
        store.close();
      }
      const { runId, jobId } = ok<{ runId: number; jobId: string }>(await client.invoke('runs:train', launch({ modelId: brokenId, steps: 3 })));
      await waitFor(
        async () => {
          const jobs = ok<{ id: string; state: string }[]>(await client.invoke('jobs:list', {}));
          return jobs.find((j) => j.id === jobId)?.state === 'failed';
        },
        120_000,
        'the job to fail',
      );
      const r = await waitFor(
        async () => {
          const x = ok<RunSummary>(await client.invoke('runs:get', { id: runId }));
          return x.status !== 'queued' && x.status !== 'running' ? x : undefined;
        },
        10_000,
        'the run to end',
      );
      expect(r.status).toBe('failed');
      expect(r.failureReason).toMatch(/unet/i);
      expect(r.resumable).toBe(false);
    }, 180_000);

    it('cancelling a run whose job has not started training ends it cancelled, and delete works on a running run', async () => {
      const { runId } = ok<{ runId: number }>(await client.invoke('runs:train', launch({ steps: 2000 })));
      // cancel at once: the job process may still be opening the model
      expect(ok<{ cancelled: boolean }>(await client.invoke('runs:cancel', { id: runId })).cancelled).toBe(true);
      const r = await waitFor(
        async () => {
          const x = ok<RunSummary>(await client.invoke('runs:get', { id: runId }));
          return x.status !== 'queued' && x.status !== 'running' ? x : undefined;
        },
        60_000,
        'the run to end',
      );
      expect(r.status).toBe('cancelled');

      const second = ok<{ runId: number }>(await client.invoke('runs:train', launch({ steps: 2000 })));
      await waitFor(async () => ok<RunSummary>(await client.invoke('runs:get', { id: second.runId })).status === 'running', 60_000, 'the run to start');
      expect(ok<{ deleted: boolean }>(await client.invoke('runs:delete', { id: second.runId })).deleted).toBe(true);
      expect(runRow(second.runId)).toBeUndefined();
    }, 180_000);
  });

  it('the CLI fails, at start-up, runs whose process is gone', async () => {
    const store = Store.open(db);
    let lostId: number;
    try {
      const r = repos(store.db);
      const run = r.runs.create({ kind: 'train', name: 'lost', config: {}, modelId, datasetId, totalSteps: 10 });
      r.runs.start(run.id, { provider: 'cpu', pid: 2 ** 22 + 4321 });
      lostId = run.id;
    } finally {
      store.close();
    }
    const res = await runCli(['datasets', 'list', '--db', db]);
    expect(res.code, res.stderr).toBe(0);
    expect(runRow(lostId).status).toBe('failed');
    expect(runRow(lostId).failureReason).toMatch(/no checkpoint/);
  }, 60_000);
});
