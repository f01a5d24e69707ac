/**
 * The job worker: runs one named task (training, evaluation, compiling, inference) in its own
 * thread with its own store connection, posting progress, logs, domain events and the result to
 * the thread that started it (the job process's, which relays them to the engine: see
 * process-entry.ts), and stopping at its next cancellation check when asked to (see worker.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { carryError } from '../../shared/errors.js';
import { RateMeter, SharedFlagToken, type TaskContext } from '../../engine/jobs/progress.js';
import type { WorkerData, WorkerMessage } from '../../engine/jobs/worker.js';
import { setProviderChoice } from '../../engine/onnx/providers.js';
import { workerTask } from './worker-tasks.js';

const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread');
const post = (m: WorkerMessage) => port.postMessage(m);
const { task, payload, cancelFlag, provider } = workerData as WorkerData;
// the supervisor's provider choice, given explicitly: the store's setting does not replace it
if (provider) setProviderChoice(provider, 'option');
const token = new SharedFlagToken(cancelFlag);
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') token.cancel('cancelled by the user');
});

const meter = new RateMeter();
const ctx: TaskContext = {
  token,
  progress: (p) => {
    const m = p.rate !== undefined ? { rate: p.rate, etaSeconds: p.etaSeconds ?? null } : meter.measure(p.stage, p.done, p.total);
    post({ type: 'progress', progress: { stage: p.stage, done: p.done, total: p.total, rate: m.rate, etaSeconds: m.etaSeconds, detail: p.detail } });
  },
  log: (message) => post({ type: 'log', message }),
};

const run = workerTask(task);
(async () => {
  if (!run) throw new Error(`unknown worker task '${task}'`);
  const result = await run(payload, ctx, (name, p) => post({ type: 'event', name, payload: p }));
  post({ type: 'done', result });
})().catch((err) => post({ type: 'error', error: carryError(err) }));
