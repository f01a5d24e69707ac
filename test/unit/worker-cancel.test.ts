/**
 * Cancelling work in a worker thread (engine/jobs/worker.ts): the cancel reaches a worker whose
 * event loop is blocked in a long synchronous step through the shared flag, a worker that never
 * checks is terminated after the grace period, and progress and events are relayed. The workers
 * here are small scripts speaking the worker protocol, so the blocking is exact and nothing races.
 */
import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/main/api/errors.js';
import { CancellationToken, SharedFlagToken, type TaskContext } from '../../src/main/engine/jobs/progress.js';
import { runInWorker, type WorkerScript } from '../../src/main/engine/jobs/worker.js';

const script = (body: string): WorkerScript => ({
  eval: true,
  file: `const { workerData, parentPort } = require('node:worker_threads');\nconst post = (m) => parentPort.postMessage(m);\n${body}`,
});

function context(): TaskContext & { stages: string[]; logs: string[] } {
  const stages: string[] = [];
  const logs: string[] = [];
  return { token: new CancellationToken(), progress: (p) => stages.push(`${p.stage} ${p.done}/${p.total}`), log: (m) => logs.push(m), stages, logs };
}

describe('work in a worker thread', () => {
  it('relays progress, logs, events and the result', async () => {
    const ctx = context();
    const events: unknown[] = [];
    const r = await runInWorker<number>(
      script(`post({ type: 'progress', progress: { stage: 'adding', done: 1, total: 2, rate: 1, etaSeconds: 1 } });
post({ type: 'log', message: 'half way' });
post({ type: 'event', name: 'train:step', payload: { step: 1 } });
post({ type: 'done', result: workerData.payload.a + workerData.payload.b });`),
      'sum',
      { a: 2, b: 3 },
      ctx,
      { onEvent: (name, p) => events.push([name, p]) },
    );
    expect(r).toBe(5);
    expect(ctx.stages).toEqual(['adding 1/2']);
    expect(ctx.logs).toEqual(['half way']);
    expect(events).toEqual([['train:step', { step: 1 }]]);
  });

  it('reaches a worker busy in a synchronous step through the shared flag', async () => {
    const ctx = context();
    // the worker never yields to its event loop: only the shared flag can tell it to stop
    const done = runInWorker(
      script(`post({ type: 'progress', progress: { stage: 'spinning', done: 0, total: 1, rate: 0, etaSeconds: null } });
const flag = new Int32Array(workerData.cancelFlag);
let checks = 0;
while (Atomics.load(flag, 0) === 0) checks++;
post({ type: 'error', error: { code: 'CANCELLED', message: 'Cancelled: stopped after ' + (checks > 0 ? 'some' : 'no') + ' checks' } });`),
      'spin',
      null,
      ctx,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(ctx.stages).toEqual(['spinning 0/1']);
    ctx.token.cancel();
    await expect(done).rejects.toEqual(new CancelledError('Cancelled: stopped after some checks'));
  });

  it('terminates a cancelled worker that does not stop within the grace period', async () => {
    const ctx = context();
    const started = Date.now();
    const done = runInWorker(script(`for (;;) {}`), 'stubborn', null, ctx, { cancelGraceMs: 300 });
    setTimeout(() => ctx.token.cancel(), 100);
    await expect(done).rejects.toThrow(/Cancelled: the stubborn worker was stopped/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });

  it('reports a worker that dies without an answer, and refuses to start when already cancelled', async () => {
    await expect(runInWorker(script(`process.exit(3)`), 'crashy', null, context())).rejects.toThrow('the crashy worker exited with code 3 before finishing');
    const ctx = context();
    ctx.token.cancel();
    await expect(runInWorker(script(`post({ type: 'done', result: 1 })`), 'late', null, ctx)).rejects.toBeInstanceOf(CancelledError);
  });

  it('a shared-flag token sees a cancel raised from another holder of the buffer', () => {
    const buffer = new SharedArrayBuffer(4);
    const token = new SharedFlagToken(buffer);
    expect(token.cancelled).toBe(false);
    SharedFlagToken.raise(buffer);
    expect(token.cancelled).toBe(true);
    expect(() => token.throwIfCancelled()).toThrow(CancelledError);
  });
});
