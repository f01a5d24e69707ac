/**
 * A job process killed the way the kernel kills one that ran out of memory (SIGKILL, no message),
 * through the API with real job processes, ONNX Runtime and a SQLite file: the engine keeps
 * answering, the job fails with the reason, the run is marked failed by the supervisor and resumes
 * from its checkpoint; Compare's inference process keeps serving meanwhile, and when it is the
 * one killed, the request in hand fails with the reason and the next one starts a new process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, TrainStarted } from '../../src/main/contract/index.js';
import { type Api, createApi } from '../../src/main/api/handlers.js';
import { importDataset } from '../../src/main/services/datasets/import.js';
import { Store } from '../../src/main/store/db.js';
import { repos } from '../../src/main/store/repositories/index.js';
import { createInMemoryClient, type InMemoryClient } from '../../src/main/transport/in-memory.js';
import { HAVE_FIXTURES, modelPath } from '../helpers/fixtures.js';
import { writeShiftedSpair } from '../helpers/shifted-pairs.js';
import { tinySdWithTokenizer } from '../helpers/tokenizer-gen.js';
import { processAlive as alive } from '../../src/main/shared/processes.js';
import { ok, waitFor } from '../helpers/waiting.js';

let dir: string;
let db: string;
let api: Api;
let client: InMemoryClient;
let modelId: number;
let datasetId: number;
let emptyPromptId: number;
let pairId: number;

function runRecord(id: number) {
  const store = Store.open(db);
  try {
    return repos(store.db).runs.get(id)!;
  } finally {
    store.close();
  }
}

const predict = () => client.invoke('compare:predict', { pairId, promptIds: [emptyPromptId], modelId, size: 128, ensemble: 1 });

describe.skipIf(!HAVE_FIXTURES)('a job process killed for memory', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-job-kill-'));
    db = path.join(dir, 'ws.db');
    const sd = tinySdWithTokenizer(modelPath('sd'), path.join(dir, 'sd'));
    await writeShiftedSpair(path.join(dir, 'shift'), 14, 10, { size: 128 });
    const store = Store.open(db);
    try {
      const rep = await importDataset(store, { format: 'spair', root: path.join(dir, 'shift'), name: 'shift' });
      datasetId = rep.datasetId;
      modelId = repos(store.db).models.upsert({ name: 'tiny', kind: 'stable-diffusion', folder: sd }).id;
    } finally {
      store.close();
    }
    api = createApi({ db });
    client = createInMemoryClient(api);
    emptyPromptId = ok(await client.invoke('prompts:list', {})).find((p) => p.name === 'empty prompt')!.id;
    pairId = ok(await client.invoke('compare:pairs', { datasetId, split: 'val' })).pairs[0].id;
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails the training job and its run with the reason while the API and Compare keep working; the run resumes from its checkpoint', async () => {
    // Compare's inference process is up before the run starts
    ok(await predict());
    const inferencePid = api.context.inference().pid!;
    expect(inferencePid).toBeGreaterThan(0);

    const started: TrainStarted[] = [];
    const offStarted = client.on('train:started', (s) => started.push(s));
    const { runId, jobId } = ok(await client.invoke('runs:train', { modelId, datasetId, prompt: 'single', steps: 40, batch: 2, lr: 1e-2, size: 128, valEvery: 0, valPairs: 4, checkpointEvery: 2 }));
    // wait for a checkpoint past step 2, then kill the job's process without warning
    const job = await waitFor(async () => {
      const r = ok(await client.invoke('runs:get', { id: runId }));
      const j = ok(await client.invoke('jobs:list')).find((x) => x.id === jobId);
      return r.checkpoints.some((c) => c.step >= 4) && j?.pid ? j : undefined;
    });
    const record = runRecord(runId);
    expect(record.status).toBe('running');
    // the run records the process that runs it: the job's child, not the engine
    expect(record.pid).toBe(job.pid);
    expect(job.pid).not.toBe(process.pid);
    process.kill(job.pid!, 'SIGKILL');

    // the engine keeps answering, and Compare's process keeps serving
    expect(ok(await client.invoke('datasets:list', {})).map((d) => d.name)).toEqual(['shift']);
    expect(ok(await client.invoke('runs:list', {})).map((r) => r.id)).toContain(runId);
    const pred = ok(await predict());
    expect(pred.predictions).toHaveLength(1);
    expect(api.context.inference().pid).toBe(inferencePid);

    const failed = await waitFor(async () => {
      const j = ok(await client.invoke('jobs:list')).find((x) => x.id === jobId)!;
      return j.state === 'running' ? undefined : j;
    });
    expect(failed.state).toBe('failed');
    const m = new RegExp(
      `^the training process was killed by the operating system \\(SIGKILL\\), most likely because it ran out of memory; run ${runId} is marked failed and can be resumed from its checkpoint at step (\\d+)$`,
    ).exec(failed.error!.message);
    expect(m, failed.error!.message).not.toBeNull();
    const checkpointStep = Number(m![1]);
    expect(checkpointStep).toBeGreaterThanOrEqual(4);
    expect(alive(job.pid!)).toBe(false);

    const summary = ok(await client.invoke('runs:get', { id: runId }));
    expect(summary.status).toBe('failed');
    expect(summary.failureReason).toBe(failed.error!.message);
    expect(summary.resumable).toBe(true);
    expect(summary.jobId).toBeNull();

    // resumed through the API, it continues from the checkpoint, not from 0, and completes
    const { jobId: again } = ok(await client.invoke('runs:resume', { id: runId }));
    const done = await waitFor(async () => {
      const j = ok(await client.invoke('jobs:list')).find((x) => x.id === again)!;
      return j.state === 'running' ? undefined : j;
    });
    offStarted();
    expect(done.state, done.error?.message).toBe('completed');
    expect(started.filter((s) => s.runId === runId).map((s) => s.resumedFrom)).toEqual([0, checkpointStep]);
    const finished = ok(await client.invoke('runs:get', { id: runId }));
    expect(finished.status).toBe('completed');
    expect(finished.step).toBe(40);
    const loss = ok(await client.invoke('runs:metrics', { id: runId, names: ['loss'] })).loss;
    expect(loss.map((l) => l.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('fails the Compare request in hand when the inference process is killed, and the next request starts a new one', async () => {
    ok(await predict());
    const first = api.context.inference().pid!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => (api.context.inference().pid !== first ? true : undefined), 10_000);

    // a request whose process is killed before it answers fails with the reason
    const pending = predict();
    const second = await waitFor(() => api.context.inference().pid, 10_000);
    expect(second).not.toBe(first);
    process.kill(second, 'SIGKILL');
    const e = await pending;
    expect(e).toMatchObject({
      error: {
        code: 'PROCESS_GONE',
        message: 'the Compare inference process was killed by the operating system (SIGKILL), most likely because it ran out of memory; the next request starts a new one',
      },
    });

    // the next request starts a third process and is served
    const pred = ok(await predict());
    expect(pred.predictions).toHaveLength(1);
    const third = api.context.inference().pid!;
    expect([first, second]).not.toContain(third);
    // other work is unaffected: a job list still answers, nothing left running
    const jobs: JobInfo[] = ok(await client.invoke('jobs:list'));
    expect(jobs.filter((j) => j.state === 'running')).toEqual([]);
  });
});
