/**
 * The worker-thread protocol (worker-entry.ts speaks it), and running one named task
 * (worker-tasks.ts) in a worker thread of this process on behalf of a TaskContext: the worker's
 * progress and logs go to the context, its domain events to `onEvent`, and cancelling the
 * context's token raises a shared flag the worker's cancellation checks read (its event loop may
 * be busy in a long synchronous step). Tasks that checkpoint on cancellation are waited for;
 * others may be given `cancelGraceMs`, after which the worker is terminated.
 *
 * The engine's jobs do not run their workers here but in job processes (job-process.ts), whose
 * child hosts the worker thread the same way (process-entry.ts).
 */
import { Worker } from 'node:worker_threads';
import { AppError, CancelledError, deserializeError, type SerializedError } from '../../api/errors.js';
import type { JobProgress } from '../../api/contract/jobs.js';
import { SharedFlagToken, type TaskContext } from './progress.js';

/** How a worker thread is started: the built worker.js, or a tsx bootstrap from the sources. */
export interface WorkerScript {
  file: string | URL;
  execArgv?: string[];
  eval?: boolean;
}

/** What worker-entry.ts receives. */
export interface WorkerData {
  task: string;
  payload: unknown;
  /** One Int32; 1 = cancel. */
  cancelFlag: SharedArrayBuffer;
}

/** Messages a job worker posts (see worker-entry.ts). */
export type WorkerMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; message: string }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'done'; result: unknown }
  | { type: 'error'; error: SerializedError };

export function startWorker(script: WorkerScript, task: string, payload: unknown): { worker: Worker; cancelFlag: SharedArrayBuffer } {
  const cancelFlag = new SharedArrayBuffer(4);
  const workerData: WorkerData = { task, payload, cancelFlag };
  const worker = new Worker(script.file, { workerData, execArgv: script.execArgv, eval: script.eval });
  return { worker, cancelFlag };
}

export interface RunInWorkerOptions {
  onEvent?(name: string, payload: unknown): void;
  /** Terminate a cancelled worker that has not stopped after this long (default: wait for it). */
  cancelGraceMs?: number;
}

export async function runInWorker<T>(script: WorkerScript, taskName: string, payload: unknown, task: TaskContext, opts: RunInWorkerOptions = {}): Promise<T> {
  task.token.throwIfCancelled();
  const { worker, cancelFlag } = startWorker(script, taskName, payload);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | null = null;
    const settle = (outcome: { result: unknown } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      offCancel();
      if (killTimer) clearTimeout(killTimer);
      void worker.terminate();
      if ('result' in outcome) resolve(outcome.result as T);
      else reject(outcome.error);
    };
    const offCancel = task.token.onCancel(() => {
      SharedFlagToken.raise(cancelFlag);
      worker.postMessage({ type: 'cancel' });
      if (opts.cancelGraceMs !== undefined) killTimer = setTimeout(() => settle({ error: new CancelledError(`Cancelled: the ${taskName} worker was stopped`) }), opts.cancelGraceMs);
    });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') task.progress(m.progress);
      else if (m.type === 'log') task.log?.(m.message);
      else if (m.type === 'event') opts.onEvent?.(m.name, m.payload);
      else if (m.type === 'done') settle({ result: m.result });
      else if (m.type === 'error') settle({ error: deserializeError(m.error) });
    });
    worker.on('error', (err) => settle({ error: err }));
    worker.on('exit', (code) => settle({ error: new AppError('INTERNAL', `the ${taskName} worker exited with code ${code} before finishing`) }));
  });
}
