/**
 * The job manager: long work (imports, compiles, evaluations, training) runs as jobs with an id,
 * a state, throttled progress and cooperative cancellation. Jobs that run ONNX Runtime sessions
 * belong in a worker thread (onnxruntime-node runs inferences on the calling thread): `runWorker`
 * starts one with a task name and JSON payload and relays its messages.
 */
import { Worker } from 'node:worker_threads';
import { AppError, CancelledError, type SerializedError, serializeError } from '../../api/errors.js';
import type { JobInfo, JobProgress } from '../../api/contract/jobs.js';
import { CancellationToken, RateMeter, type TaskContext } from './progress.js';

/** Messages a job worker posts (see worker-entry.ts). */
export type WorkerMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; message: string }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'done'; result: unknown }
  | { type: 'error'; error: SerializedError };

export interface JobManagerOptions {
  /** Receives every state change and (throttled) progress update. */
  onUpdate?(info: JobInfo): void;
  /** Domain events a worker job emits (training steps, validation). */
  onEvent?(job: JobInfo, name: string, payload: unknown): void;
  onLog?(job: JobInfo, message: string): void;
  /** How a worker task is started: the worker script and its execArgv. */
  workerScript?: () => { file: string | URL; execArgv?: string[] };
  /** Minimum milliseconds between progress updates per job. */
  progressIntervalMs?: number;
  /** Finished jobs kept in the list. */
  keepFinished?: number;
}

interface Entry {
  info: JobInfo;
  token: CancellationToken;
  lastEmit: number;
  worker?: Worker;
}

let serial = 0;

export class JobManager {
  private readonly jobs = new Map<string, Entry>();

  constructor(private readonly opts: JobManagerOptions = {}) {}

  list(): JobInfo[] {
    return [...this.jobs.values()].map((e) => ({ ...e.info }));
  }

  get(id: string): JobInfo | undefined {
    const e = this.jobs.get(id);
    return e && { ...e.info };
  }

  /** Requests cancellation; true when the job was running. */
  cancel(id: string): boolean {
    const e = this.jobs.get(id);
    if (!e || e.info.state !== 'running') return false;
    e.token.cancel('cancelled by the user');
    e.worker?.postMessage({ type: 'cancel' });
    return true;
  }

  /** Cancels every running job and waits until they stopped (resumable ones checkpoint). */
  async cancelAll(timeoutMs = 60_000): Promise<void> {
    const running = [...this.jobs.values()].filter((e) => e.info.state === 'running');
    for (const e of running) this.cancel(e.info.id);
    const deadline = Date.now() + timeoutMs;
    while (running.some((e) => e.info.state === 'running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  private create(kind: string, title: string): Entry {
    const id = `${kind}-${Date.now().toString(36)}-${(serial++).toString(36)}`;
    const entry: Entry = {
      info: { id, kind, title, state: 'running', progress: null, error: null, result: null, startedAt: Date.now(), finishedAt: null },
      token: new CancellationToken(),
      lastEmit: 0,
    };
    this.jobs.set(id, entry);
    this.prune();
    this.opts.onUpdate?.({ ...entry.info });
    return entry;
  }

  private progress(e: Entry, p: JobProgress): void {
    e.info.progress = p;
    const now = Date.now();
    const finishedStage = p.done >= p.total;
    if (now - e.lastEmit < (this.opts.progressIntervalMs ?? 200) && !finishedStage) return;
    e.lastEmit = now;
    this.opts.onUpdate?.({ ...e.info });
  }

  private finish(e: Entry, outcome: { result?: unknown; error?: unknown }): void {
    if (outcome.error !== undefined) {
      const err = serializeError(outcome.error);
      e.info.state = err.code === 'CANCELLED' ? 'cancelled' : 'failed';
      e.info.error = err;
    } else {
      e.info.state = 'completed';
      e.info.result = outcome.result ?? null;
    }
    e.info.finishedAt = Date.now();
    this.opts.onUpdate?.({ ...e.info });
  }

  private prune(): void {
    const keep = this.opts.keepFinished ?? 50;
    const finished = [...this.jobs.values()].filter((e) => e.info.state !== 'running');
    for (const e of finished.slice(0, Math.max(0, finished.length - keep))) this.jobs.delete(e.info.id);
  }

  /** Runs `fn` in this thread (I/O-bound work that yields: imports, compiles of small models). */
  run<T>(kind: string, title: string, fn: (task: TaskContext) => Promise<T>): { job: JobInfo; done: Promise<T> } {
    const e = this.create(kind, title);
    const meter = new RateMeter();
    const task: TaskContext = {
      token: e.token,
      progress: (p) => {
        const m = p.rate !== undefined ? { rate: p.rate, etaSeconds: p.etaSeconds ?? null } : meter.measure(p.stage, p.done, p.total);
        this.progress(e, { stage: p.stage, done: p.done, total: p.total, rate: m.rate, etaSeconds: m.etaSeconds, detail: p.detail });
      },
      log: (message) => this.opts.onLog?.({ ...e.info }, message),
    };
    const done = (async () => {
      try {
        const result = await fn(task);
        this.finish(e, { result: summarize(result) });
        return result;
      } catch (err) {
        this.finish(e, { error: err });
        throw err;
      }
    })();
    done.catch(() => {});
    return { job: { ...e.info }, done };
  }

  /** Runs a named task in a worker thread (ONNX Runtime work that would block the event loop). */
  runWorker<T>(kind: string, title: string, task: string, payload: unknown): { job: JobInfo; done: Promise<T> } {
    if (!this.opts.workerScript) throw new AppError('INTERNAL', 'this engine has no job worker configured');
    const e = this.create(kind, title);
    const { file, execArgv } = this.opts.workerScript();
    const worker = new Worker(file, { workerData: { task, payload }, execArgv });
    e.worker = worker;
    const done = new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: { result?: unknown; error?: unknown }) => {
        if (settled) return;
        settled = true;
        this.finish(e, outcome);
        if (outcome.error !== undefined) reject(outcome.error);
        else resolve(outcome.result as T);
      };
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') this.progress(e, m.progress);
        else if (m.type === 'log') this.opts.onLog?.({ ...e.info }, m.message);
        else if (m.type === 'event') this.opts.onEvent?.({ ...e.info }, m.name, m.payload);
        else if (m.type === 'done') settle({ result: m.result });
        else if (m.type === 'error') settle({ error: m.error.code === 'CANCELLED' ? new CancelledError(m.error.message) : new AppError(m.error.code, m.error.message) });
      });
      worker.on('error', (err) => settle({ error: err }));
      worker.on('exit', (code) => {
        if (!settled) settle({ error: new AppError('INTERNAL', `the job worker exited with code ${code} before finishing`) });
      });
    });
    done.catch(() => {});
    return { job: { ...e.info }, done };
  }
}

/** Job results travel as small JSON; large values are summarised by their keys. */
function summarize(v: unknown): unknown {
  try {
    const s = JSON.stringify(v);
    return s && s.length < 64_000 ? JSON.parse(s) : { summary: 'result too large to show' };
  } catch {
    return null;
  }
}
