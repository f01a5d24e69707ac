/**
 * A long-lived job process for interactive inference (Compare: predictions, heatmaps): started on
 * first use, it keeps models, sessions and caches warm in its worker thread, answers requests one
 * at a time and never blocks the engine's event loop. If it dies (killed for memory, crashed), the
 * requests it had fail with the reason and the next request starts a new one.
 */
import { AppError, type CarriedError, deserializeError } from '../../shared/errors.js';
import { describeExit, retireJobProcess, startJobProcess, taskTerm, type JobRuntime, type StartedJobProcess } from './job-process.js';

interface Hosted {
  started: StartedJobProcess;
  /** Resolves once the worker listens for requests; rejects if the process ends first. */
  ready: Promise<void>;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>;
  /** Why it can no longer answer (set once). */
  failure: Error | null;
  /** Fails the process's waiting and pending requests with `err` (once). */
  fail(err: Error): void;
}

export class InferenceHost {
  private hosted: Hosted | null = null;
  private next = 1;

  /** `task`: the long-lived task the process runs ('inference' for Compare, 'suggest-host' for Annotate's suggestions). */
  constructor(
    private readonly runtime: () => JobRuntime,
    private readonly payload: unknown,
    private readonly task = 'inference',
  ) {}

  /** Whether a process is started (it may still be opening). */
  get running(): boolean {
    return this.hosted !== null;
  }

  /** The OS process serving requests, while there is one. */
  get pid(): number | undefined {
    return this.hosted?.started.proc.pid;
  }

  private start(): Hosted {
    if (this.hosted) return this.hosted;
    const started = startJobProcess(this.runtime(), this.task, this.payload);
    let markReady = () => {};
    let refuse: (e: Error) => void = () => {};
    const h: Hosted = {
      started,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        refuse = reject;
      }),
      pending: new Map(),
      failure: null,
      fail: () => {},
    };
    h.ready.catch(() => {});
    const fail = (err: Error) => {
      if (h.failure) return;
      h.failure = err;
      refuse(err);
      for (const p of h.pending.values()) p.reject(err);
      h.pending.clear();
      if (this.hosted === h) this.hosted = null;
    };
    h.fail = fail;
    started.proc.on('message', (m) => {
      if (m.type === 'ready') markReady();
      else if (m.type === 'response') {
        const r = m as { id: number; result?: unknown; error?: CarriedError };
        const p = h.pending.get(r.id);
        if (!p) return;
        h.pending.delete(r.id);
        if (r.error) p.reject(deserializeError(r.error));
        else p.resolve(r.result);
      } else if (m.type === 'error') {
        // the inference task itself failed (the store or a model could not be opened)
        fail(deserializeError(m.error));
        void retireJobProcess(started);
      } else if (m.type === 'done') {
        fail(new AppError('INTERNAL', `the ${taskTerm(this.task)} process stopped`));
        void retireJobProcess(started);
      }
    });
    started.proc.on('exit', (exit) => fail(new AppError('PROCESS_GONE', `${describeExit(taskTerm(this.task), exit)}; the next request starts a new one`)));
    this.hosted = h;
    return h;
  }

  async request<T>(method: string, args: unknown): Promise<T> {
    const h = this.start();
    await h.ready;
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      if (h.failure) return reject(h.failure);
      h.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      h.started.proc.postMessage({ type: 'request', id, method, args });
    });
  }

  /**
   * Stops the process at once, whatever it is doing (work that must yield, such as background
   * prefetching when the user starts a job): its pending requests fail with `reason`.
   */
  kill(reason: string): void {
    const h = this.hosted;
    if (!h) return;
    this.hosted = null;
    h.fail(new AppError('CANCELLED', reason));
    h.started.proc.kill();
  }

  /** Lets the requests in hand finish, then stops the process (killed if it takes too long). */
  async close(): Promise<void> {
    const h = this.hosted;
    if (!h) return;
    this.hosted = null;
    h.started.proc.postMessage({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<void>((r) => h.started.proc.on('message', (m) => (m.type === 'done' || m.type === 'error') && r()));
    await Promise.race([answered, h.started.exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    await retireJobProcess(h.started, 2000);
  }
}
