/**
 * The job manager: long work (imports, compiles, evaluations, training) runs as jobs with an id,
 * a state, throttled progress and cooperative cancellation. This process owns and schedules them;
 * jobs that run ONNX Runtime sessions run in a job process it supervises (job-process.ts: a child
 * process hosting the job's worker thread), so that one killed for memory fails that job only:
 * `runInProcess` starts one with a task name and a JSON payload and relays its messages.
 */
import { AppError, serializeError } from '../../shared/errors.js';
import { logError } from '../../shared/log.js';
import type { JobInfo, JobProgress } from './progress.js';
import { runInProcess, type JobProcess, type JobRuntime, type RunInProcessOptions } from './job-process.js';
import { CancellationToken, RateMeter, type TaskContext } from './progress.js';

export interface JobManagerOptions {
  /** Receives every state change and (throttled) progress update. */
  onUpdate?(info: JobInfo): void;
  /** Domain events a worker task emits (training steps, validation). */
  onEvent?(name: string, payload: unknown): void;
  onLog?(job: JobInfo, message: string): void;
  /** How job processes start: launcher, entry, and the worker they host. */
  runtime?: () => JobRuntime;
  /** Minimum milliseconds between progress updates per job. */
  progressIntervalMs?: number;
  /** Finished jobs kept in the list. */
  keepFinished?: number;
}

interface Entry {
  info: JobInfo;
  token: CancellationToken;
  lastEmit: number;
  /** Job processes working for it now. */
  procs: Set<JobProcess>;
}

/**
 * Task name -> the payload its sender passes and the result its worker returns. The application
 * gives its own (services/jobs/tasks.ts), so that senders and the worker agree on every task.
 */
export type TaskMapShape = Record<string, { payload: unknown; result: unknown }>;

/** The context a job's work receives: a TaskContext that knows its job. */
export interface JobTaskContext extends TaskContext {
  readonly jobId: string;
}

let serial = 0;

export class JobManager<M extends TaskMapShape = TaskMapShape> {
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
    return true;
  }

  /**
   * Cancels every running job and waits until they stopped (resumable ones checkpoint); the job
   * processes of those that did not stop in time are killed.
   */
  async cancelAll(timeoutMs = 60_000): Promise<void> {
    const running = [...this.jobs.values()].filter((e) => e.info.state === 'running');
    for (const e of running) this.cancel(e.info.id);
    const deadline = Date.now() + timeoutMs;
    while (running.some((e) => e.info.state === 'running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const e of running) for (const p of e.procs) p.kill();
  }

  private create(kind: string, title: string): Entry {
    const id = `${kind}-${Date.now().toString(36)}-${(serial++).toString(36)}`;
    const entry: Entry = {
      info: { id, kind, title, state: 'running', progress: null, error: null, result: null, startedAt: Date.now(), finishedAt: null },
      token: new CancellationToken(),
      lastEmit: 0,
      procs: new Set(),
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
      // clients see the job's code and message; its detail (or a bug's stack) only goes to the log
      logError(`job ${e.info.id} (${e.info.title})`, outcome.error);
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
  run<T>(kind: string, title: string, fn: (task: JobTaskContext) => Promise<T>): { job: JobInfo; done: Promise<T> } {
    const e = this.create(kind, title);
    const meter = new RateMeter();
    const task: JobTaskContext = {
      jobId: e.info.id,
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

  /** Runs a named task in a job process (ONNX Runtime work: compiling, evaluating, training). */
  runInProcess<K extends keyof M & string>(
    kind: string,
    title: string,
    task: K,
    payload: M[K]['payload'],
    opts: Pick<RunInProcessOptions, 'cancelGraceMs'> = {},
  ): { job: JobInfo; done: Promise<M[K]['result']> } {
    this.runtime(); // refuse before creating the job
    return this.run(kind, title, (ctx) => this.inProcess(task, payload, ctx, opts));
  }

  /**
   * Runs a named task in a job process as part of a job started with `run` (work around it, such
   * as storing the result, stays in this process); its domain events are the job's, and the job
   * records the process id. A process that dies rejects with a `JobProcessGone`.
   */
  inProcess<K extends keyof M & string>(task: K, payload: M[K]['payload'], ctx: TaskContext & { jobId?: string }, opts: Pick<RunInProcessOptions, 'cancelGraceMs'> = {}): Promise<M[K]['result']> {
    const e = ctx.jobId !== undefined ? this.jobs.get(ctx.jobId) : undefined;
    return runInProcess<M[K]['result']>(this.runtime(), task, payload, ctx, {
      ...opts,
      onEvent: (name, p) => this.opts.onEvent?.(name, p),
      onProcess: (started) => {
        if (!e) return;
        e.procs.add(started.proc);
        void started.exited.then(() => e.procs.delete(started.proc));
      },
      onSpawn: (pid) => {
        if (!e) return;
        e.info.pid = pid;
        this.opts.onUpdate?.({ ...e.info });
      },
    });
  }

  private runtime(): JobRuntime {
    if (!this.opts.runtime) throw new AppError('INTERNAL', 'this engine has no job processes configured');
    return this.opts.runtime();
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
