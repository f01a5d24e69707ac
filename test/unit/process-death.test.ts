/**
 * The supervisor's bookkeeping when a job process dies (engine/jobs/process-death.ts): the runs
 * it was running are marked failed with the reason, a training run's message names the step its
 * checkpoint file resumes from, runs of other processes are left alone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/main/engine/io/safetensors.js';
import { JobProcessGone } from '../../src/main/engine/jobs/job-process.js';
import { recordProcessDeath } from '../../src/main/services/runs/process-death.js';
import { openServices, type Services } from '../../src/main/services/app/context.js';
import { checkpointStep, runDirOf } from '../../src/main/services/runs/lifecycle.js';

let dir: string;
let svc: Services;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-death-'));
  svc = openServices(path.join(dir, 'ws.db'));
});
afterEach(() => {
  svc.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const DEAD = 999_999_001;
const OTHER = 999_999_002;
const killed = () => new JobProcessGone('training', DEAD, { code: null, signal: 'SIGKILL' });

function running(kind: 'train' | 'eval', pid: number): number {
  const r = svc.repos.runs.create({ kind, config: {} });
  svc.repos.runs.start(r.id, { provider: 'cpu', pid });
  return r.id;
}

describe('a dead job process and its runs', () => {
  it('marks failed the runs it was running, naming the checkpoint step of a training run', async () => {
    const train = running('train', DEAD);
    const evalRun = running('eval', DEAD);
    const elsewhere = running('train', OTHER);
    writeSafetensors(path.join(runDirOf(svc, train), 'checkpoint.safetensors'), { x: { dtype: 'float32', dims: [1], data: new Float32Array([1]) } }, { step: '500' });
    expect(checkpointStep(svc, train)).toBe(500);

    const err = await recordProcessDeath(svc, killed(), { resumeHint: (id) => `sd4match train --resume ${id}` });
    const head = 'the training process was killed by the operating system (SIGKILL), most likely because it ran out of memory';
    expect(err.code).toBe('PROCESS_GONE');
    expect(err.message).toBe(
      `${head}; run ${train} is marked failed and can be resumed from its checkpoint at step 500 (sd4match train --resume ${train}); evaluation run ${evalRun} is marked failed`,
    );
    const t = svc.repos.runs.get(train)!;
    expect(t.status).toBe('failed');
    expect(t.failureReason).toBe(`${head}; run ${train} is marked failed and can be resumed from its checkpoint at step 500 (sd4match train --resume ${train})`);
    expect(t.resumedAt).toBeNull();
    expect(svc.repos.runs.get(evalRun)!.failureReason).toBe(`${head}; evaluation run ${evalRun} is marked failed`);
    expect(svc.repos.runs.get(elsewhere)!.status).toBe('running');
  });

  it('fails a run created for the process that never started, and says when there is no checkpoint', async () => {
    const queued = svc.repos.runs.create({ kind: 'train', config: {} }).id;
    const err = await recordProcessDeath(svc, killed(), { runIds: [queued] });
    expect(err.message).toMatch(new RegExp(`; run ${queued} is marked failed; it had not written a checkpoint yet, so start it again$`));
    expect(svc.repos.runs.get(queued)!.status).toBe('failed');
    // a process that ran no run: just what happened to it
    expect((await recordProcessDeath(svc, killed())).message).toBe(killed().message);
  });
});
