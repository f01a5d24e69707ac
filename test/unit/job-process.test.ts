/**
 * Work in a job process (engine/jobs/job-process.ts): a forked child hosting the job's worker
 * thread relays progress, logs, events and the result; a cancel reaches a worker blocked in a long
 * synchronous step through the shared flag, raised by the child's free event loop; a child that
 * never checks is killed after the grace period; and a child that dies says how, in user terms,
 * with the signal's name. The workers here are small scripts speaking the worker protocol, run
 * inside the real child entry, so the blocking is exact and nothing races.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/main/shared/errors.js';
import { describeExit, JobProcessGone, runInProcess, type JobProcessEntry, type JobRuntime } from '../../src/main/engine/jobs/job-process.js';
import { sourceJobRuntime } from '../../src/main/services/jobs/runtime.js';
import { CancellationToken, type TaskContext } from '../../src/main/engine/jobs/progress.js';
import { utilityExit } from '../../src/main/electron/utility-exit.js';

const runtime = (body: string): JobRuntime => ({
  ...sourceJobRuntime(),
  worker: { eval: true, file: `const { workerData, parentPort } = require('node:worker_threads');\nconst post = (m) => parentPort.postMessage(m);\n${body}` },
});

function context(): TaskContext & { stages: string[]; logs: string[] } {
  const stages: string[] = [];
  const logs: string[] = [];
  return { token: new CancellationToken(), progress: (p) => stages.push(`${p.stage} ${p.done}/${p.total}`), log: (m) => logs.push(m), stages, logs };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return !alive(pid);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd4match-job-process-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('work in a job process', () => {
  it('relays progress, logs, events and the result from the worker it hosts, then leaves', async () => {
    const ctx = context();
    const events: unknown[] = [];
    let pid = 0;
    const r = await runInProcess<number>(
      runtime(`post({ type: 'progress', progress: { stage: 'adding', done: 1, total: 2, rate: 1, etaSeconds: 1 } });
post({ type: 'log', message: 'half way in process ' + process.pid });
post({ type: 'event', name: 'train:step', payload: { step: 1, big: new Float32Array([1.5, NaN]) } });
post({ type: 'done', result: workerData.payload.a + workerData.payload.b });`),
      'sum',
      { a: 2, b: 3 },
      ctx,
      { onEvent: (name, p) => events.push([name, p]), onSpawn: (p) => (pid = p) },
    );
    expect(r).toBe(5);
    expect(ctx.stages).toEqual(['adding 1/2']);
    // the worker runs inside the child, not in this process
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(process.pid);
    expect(ctx.logs).toEqual([`half way in process ${pid}`]);
    // structured clone across both hops: typed arrays and NaN survive
    expect(events).toEqual([['train:step', { step: 1, big: new Float32Array([1.5, NaN]) }]]);
    expect(await gone(pid)).toBe(true);
  });

  it('reaches a worker busy in a synchronous step through the shared flag the child raises', async () => {
    const ctx = context();
    // the worker never yields to its event loop: only the shared flag can tell it to stop
    const done = runInProcess(
      runtime(`post({ type: 'progress', progress: { stage: 'spinning', done: 0, total: 1, rate: 0, etaSeconds: null } });
const flag = new Int32Array(workerData.cancelFlag);
let checks = 0;
while (Atomics.load(flag, 0) === 0) checks++;
post({ type: 'error', error: { code: 'CANCELLED', message: 'Cancelled: stopped after ' + (checks > 0 ? 'some' : 'no') + ' checks' } });`),
      'spin',
      null,
      ctx,
    );
    const deadline = Date.now() + 30_000;
    while (ctx.stages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(ctx.stages).toEqual(['spinning 0/1']);
    ctx.token.cancel();
    await expect(done).rejects.toEqual(new CancelledError('Cancelled: stopped after some checks'));
  });

  it('kills a cancelled process whose worker does not stop within the grace period', async () => {
    const ctx = context();
    let pid = 0;
    const done = runInProcess(runtime(`post({ type: 'log', message: 'spinning' });\nfor (;;) {}`), 'stubborn', null, ctx, { cancelGraceMs: 300, onSpawn: (p) => (pid = p) });
    const deadline = Date.now() + 30_000;
    while (ctx.logs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const cancelledAt = Date.now();
    ctx.token.cancel();
    await expect(done).rejects.toThrow(/Cancelled: the stubborn process was stopped/);
    expect(Date.now() - cancelledAt).toBeGreaterThanOrEqual(290);
    expect(await gone(pid)).toBe(true);
  });

  it('reports a process killed by a signal with the signal name', async () => {
    const ctx = context();
    const err = await runInProcess(runtime(`process.kill(process.pid, 'SIGKILL');`), 'train', null, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobProcessGone);
    const g = err as JobProcessGone;
    expect(g.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(g.pid).toBeGreaterThan(0);
    expect(g.code).toBe('PROCESS_GONE');
    expect(g.message).toBe('the training process was killed by the operating system (SIGKILL), most likely because it ran out of memory');
    const t = await runInProcess(runtime(`process.kill(process.pid, 'SIGTERM');`), 'eval', null, context()).catch((e: unknown) => e);
    expect((t as JobProcessGone).message).toBe('the evaluation process was stopped by a signal (SIGTERM)');
  });

  it('reports a worker that dies without an answer, a child that exits early, and refuses to start when already cancelled', async () => {
    await expect(runInProcess(runtime(`process.exit(3)`), 'crashy', null, context())).rejects.toThrow('the crashy worker exited with code 3 before finishing');
    // a child entry that leaves before answering
    const quitter = path.join(tmp, 'quitter.mjs');
    fs.writeFileSync(quitter, 'process.exit(5);\n');
    const entry: JobProcessEntry = { file: quitter };
    const e = await runInProcess({ ...sourceJobRuntime(), entry }, 'compile', null, context()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(JobProcessGone);
    expect((e as JobProcessGone).message).toBe('the model compilation process exited unexpectedly with code 5 before finishing');
    const ctx = context();
    ctx.token.cancel();
    await expect(runInProcess(runtime(`post({ type: 'done', result: 1 })`), 'late', null, ctx)).rejects.toBeInstanceOf(CancelledError);
  });

  it('describes crashes, out-of-memory stops and launch failures', () => {
    expect(describeExit('training', { code: null, signal: 'SIGSEGV' })).toBe('the training process crashed (SIGSEGV)');
    expect(describeExit('training', { code: null, signal: 'SIGKILL', oom: true })).toBe('the training process ran out of memory and was stopped (SIGKILL)');
    expect(describeExit('training', { code: null, signal: null, error: 'spawn ENOENT' })).toBe('the training process could not start: spawn ENOENT');
  });
});

describe("Electron utility processes' exits", () => {
  it('takes the signal from the child-process-gone reason, since the exit event carries only a number', () => {
    expect(utilityExit(9, { reason: 'killed', exitCode: 9 }, 'linux')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(utilityExit(11, { reason: 'crashed', exitCode: 11 }, 'linux')).toEqual({ code: null, signal: 'SIGSEGV' });
    expect(utilityExit(9, { reason: 'oom', exitCode: 9 }, 'linux')).toEqual({ code: null, signal: 'SIGKILL', oom: true });
    expect(utilityExit(1, { reason: 'abnormal-exit', exitCode: 1 }, 'linux')).toEqual({ code: 1, signal: null });
    expect(utilityExit(0, undefined, 'linux')).toEqual({ code: 0, signal: null });
    // Windows has no signals: a crash keeps its exit code, a kill still reads as one
    expect(utilityExit(3221225477, { reason: 'crashed', exitCode: 3221225477 }, 'win32')).toEqual({ code: 3221225477, signal: null });
    expect(utilityExit(1, { reason: 'killed', exitCode: 1 }, 'win32')).toEqual({ code: null, signal: 'SIGKILL' });
  });
});
