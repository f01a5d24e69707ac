/**
 * The job worker: runs one named task (training, evaluation) in its own thread with its own store
 * connection, posting progress, logs, domain events and the result to the engine thread, and
 * stopping after the current step when asked to cancel.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../../api/errors.js';
import type { WorkerMessage } from './manager.js';
import { CancellationToken, RateMeter, type TaskContext } from './progress.js';
import { WORKER_TASKS } from './worker-tasks.js';

const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread');
const post = (m: WorkerMessage) => port.postMessage(m);
const token = new CancellationToken();
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') token.cancel('cancelled by the user');
});

const { task, payload } = workerData as { task: string; payload: unknown };
const meter = new RateMeter();
const ctx: TaskContext = {
  token,
  progress: (p) => {
    const m = p.rate !== undefined ? { rate: p.rate, etaSeconds: p.etaSeconds ?? null } : meter.measure(p.stage, p.done, p.total);
    post({ type: 'progress', progress: { stage: p.stage, done: p.done, total: p.total, rate: m.rate, etaSeconds: m.etaSeconds, detail: p.detail } });
  },
  log: (message) => post({ type: 'log', message }),
};

const run = WORKER_TASKS[task];
(async () => {
  if (!run) throw new Error(`unknown worker task '${task}'`);
  const result = await run(payload, ctx, (name, p) => post({ type: 'event', name, payload: p }));
  post({ type: 'done', result });
})().catch((err) => post({ type: 'error', error: serializeError(err) }));
