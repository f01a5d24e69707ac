/**
 * A job process (see job-process.ts): hosts one job worker thread (worker-entry.ts) and relays
 * between it and the supervising process. Its own event loop does nothing else, so a 'cancel'
 * reaches it at once and it raises the shared flag that the worker's cancellation checks read
 * even while the worker is busy in a long synchronous ONNX Runtime call.
 *
 * Started by Electron's `utilityProcess.fork` (talks through `process.parentPort`) or by
 * `child_process.fork` (talks through `process.send` / `process.on('message')`).
 */
import { Worker } from 'node:worker_threads';
import { carryError } from '../../shared/errors.js';
import type { FromJobProcess, ToJobProcess } from './job-process.js';
import { SharedFlagToken } from './progress.js';
import type { WorkerData } from './worker.js';

interface ParentPortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
let toParent: (m: FromJobProcess) => void;
let onParent: (listener: (m: ToJobProcess) => void) => void;
if (parentPort) {
  toParent = (m) => parentPort.postMessage(m);
  onParent = (l) => parentPort.on('message', (e) => l(e.data as ToJobProcess));
} else if (process.send) {
  toParent = (m) => {
    if (process.connected) process.send!(m);
  };
  onParent = (l) => process.on('message', (m) => l(m as ToJobProcess));
  // The supervisor is gone (killed, crashed): nobody would record this job's outcome, so stop at
  // once, as the job did when it ran inside that process.
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
} else {
  throw new Error('process-entry must run as a job process (utilityProcess.fork or child_process.fork)');
}

// Ctrl-C in a terminal reaches the whole process group: the supervisor decides (it cancels).
process.on('SIGINT', () => {});

let worker: Worker | null = null;
let cancelFlag: SharedArrayBuffer | null = null;
let answered = false;

function start(m: Extract<ToJobProcess, { type: 'start' }>): void {
  if (worker) return;
  cancelFlag = new SharedArrayBuffer(4);
  const workerData: WorkerData = { task: m.task, payload: m.payload, cancelFlag, ...(m.provider ? { provider: m.provider } : {}) };
  const file = m.worker.url ? new URL(m.worker.file) : m.worker.file;
  // execArgv is explicit: a worker would otherwise inherit this process's (tsx's loader flags)
  worker = new Worker(file, { workerData, execArgv: m.worker.execArgv ?? [], eval: m.worker.eval });
  worker.on('message', (wm: FromJobProcess) => {
    if (wm.type === 'done' || wm.type === 'error') answered = true;
    toParent(wm);
  });
  worker.on('error', (err) => {
    if (answered) return;
    answered = true;
    toParent({ type: 'error', error: carryError(err) });
  });
  worker.on('exit', (code) => {
    if (!answered) {
      answered = true;
      toParent({ type: 'error', error: { code: 'INTERNAL', message: `the ${m.task} worker exited with code ${code} before finishing` } });
    }
    // the supervisor sends 'exit' once it has the answer; leave anyway if it never does
    setTimeout(() => process.exit(0), 10_000).unref();
  });
}

onParent((m) => {
  if (m.type === 'start') start(m);
  else if (m.type === 'cancel') {
    if (cancelFlag) SharedFlagToken.raise(cancelFlag);
    worker?.postMessage({ type: 'cancel' });
  } else if (m.type === 'exit') process.exit(0);
  else worker?.postMessage(m);
});
