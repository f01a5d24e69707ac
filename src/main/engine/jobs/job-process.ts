/**
 * Job processes: ONNX Runtime work (training, evaluation, compiling, Compare inference) runs in a
 * child process that the engine supervises, so that the kernel killing it for memory takes that
 * job down and nothing else (the UI server, the store, other jobs). The child (process-entry.ts)
 * hosts the job's worker thread (worker-entry.ts) and relays messages both ways; its own event loop
 * stays free to receive 'cancel' and raise the shared flag that the worker's cancellation checks
 * read while it is busy in a long synchronous step.
 *
 * How a child starts is a `JobProcessLauncher`: `child_process.fork` here (`sd4match serve`, the
 * CLI, tests), Electron's `utilityProcess` in the desktop app (src/main/electron/job-process.ts,
 * injected through createApi's options), since engine code never imports 'electron'.
 */
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, type CarriedError, CancelledError, deserializeError } from '../../shared/errors.js';
import { type ProviderChoice, providerChoice } from '../onnx/providers.js';
import type { TaskContext } from './progress.js';
import type { WorkerMessage, WorkerScript } from './worker.js';

/** How a job process ended: an exit code, or the signal that killed it. */
export interface JobProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The platform said the process ran out of memory (Electron's 'oom' reason). */
  oom?: boolean;
  /** The process could not be started at all. */
  error?: string;
}

/** A worker script as it crosses a process boundary (a URL travels as its href). */
export interface PortableWorkerScript {
  file: string;
  url: boolean;
  execArgv?: string[];
  eval?: boolean;
}

/** What the supervising process sends a job process. */
export type ToJobProcess =
  /** `provider`: the execution provider the task's sessions use (the supervisor's choice, sent explicitly). */
  | { type: 'start'; task: string; payload: unknown; worker: PortableWorkerScript; provider?: ProviderChoice }
  /** Raise the worker's cancellation flag (and tell its event loop). */
  | { type: 'cancel' }
  /** Leave now (the work is over). */
  | { type: 'exit' }
  /** Anything else goes to the worker as it is (the inference task's requests and 'stop'). */
  | { type: 'request'; id: number; method: string; args: unknown }
  | { type: 'stop' };

/** What a job process sends back: its worker's messages, relayed as they are. */
export type FromJobProcess = WorkerMessage | { type: 'ready' } | { type: 'response'; id: number; result?: unknown; error?: CarriedError };

/** A running job process, whichever way it was launched. */
export interface JobProcess {
  /** The OS process id, once the process has spawned. */
  readonly pid: number | undefined;
  postMessage(message: ToJobProcess): void;
  on(event: 'spawn', listener: () => void): this;
  on(event: 'message', listener: (message: FromJobProcess) => void): this;
  /** Emitted once, after every message the process sent has been delivered. */
  on(event: 'exit', listener: (exit: JobProcessExit) => void): this;
  /** Ends the process without waiting for it. */
  kill(): void;
}

/** The script a job process runs: process-entry.ts from the sources, out/main/job-process.js built. */
export interface JobProcessEntry {
  file: string;
  execArgv?: string[];
}

export interface LaunchOptions {
  /** A name for process lists ('SD4Match training'). */
  name: string;
}

export interface JobProcessLauncher {
  launch(entry: JobProcessEntry, options: LaunchOptions): JobProcess;
}

/** Everything needed to start job processes: who launches them, their entry, the worker they host. */
export interface JobRuntime {
  launcher: JobProcessLauncher;
  entry: JobProcessEntry;
  worker: WorkerScript;
}

/** What a task's process is called in messages to the user. */
const TASK_TERMS: Record<string, string> = {
  train: 'training',
  eval: 'evaluation',
  'eval-report': 'evaluation',
  'suggest-preview': 'suggest',
  compile: 'model compilation',
  inference: 'Compare inference',
  'suggest-host': 'suggestion',
};

export function taskTerm(task: string): string {
  return TASK_TERMS[task] ?? task;
}

const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP', 'SIGSYS']);

/** What happened to a job process, in user terms. */
export function describeExit(what: string, exit: JobProcessExit): string {
  if (exit.error) return `the ${what} process could not start: ${exit.error}`;
  if (exit.oom) return `the ${what} process ran out of memory and was stopped${exit.signal ? ` (${exit.signal})` : ''}`;
  if (exit.signal === 'SIGKILL') return `the ${what} process was killed by the operating system (SIGKILL), most likely because it ran out of memory`;
  if (exit.signal && CRASH_SIGNALS.has(exit.signal)) return `the ${what} process crashed (${exit.signal})`;
  if (exit.signal) return `the ${what} process was stopped by a signal (${exit.signal})`;
  return `the ${what} process exited unexpectedly with code ${exit.code} before finishing`;
}

/**
 * A job process ended before its work did (killed, crashed, exited). Supervisors that know which
 * runs it was running catch it to mark them failed (see services/runs/process-death.ts).
 */
export class JobProcessGone extends AppError {
  constructor(
    /** The task's name in user terms ('training'). */
    readonly what: string,
    readonly pid: number | undefined,
    readonly exit: JobProcessExit,
  ) {
    super('PROCESS_GONE', describeExit(what, exit));
    this.name = 'JobProcessGone';
  }
}

/**
 * The environment of a job process. On Linux, glibc's malloc is tuned for ONNX Runtime sessions
 * that run without a memory arena (runtime.ts), so activations go back to the system after each run:
 * - allocations from 1 MB up are mapped on their own (a fixed mmap threshold; glibc's default
 *   raises it to 32 MB after the first large free, and tensors below that then stay in the heap,
 *   fragmented: on the tiny model at 512 px a fifth of the peak);
 * - large allocations are backed with transparent huge pages (when the system allows them on
 *   request), so that taking them again page by page does not cost up to a fifth of a run at full
 *   size (SD 2-1 at 768 px: training step 79.5 s -> 65.4 s, VAE encode 33 s -> 28 s).
 * SD4MATCH_HUGE_PAGES=0 leaves glibc as it is.
 */
export function jobProcessEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (process.platform !== 'linux' || base.SD4MATCH_HUGE_PAGES === '0') return { ...base };
  const ours = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576';
  return { ...base, GLIBC_TUNABLES: base.GLIBC_TUNABLES ? `${base.GLIBC_TUNABLES}:${ours}` : ours };
}

// ------------------------------------------------------------------------------------------------
// child_process.fork
// ------------------------------------------------------------------------------------------------

class ForkedJobProcess extends EventEmitter implements JobProcess {
  private readonly child;
  private ended = false;

  constructor(entry: JobProcessEntry) {
    super();
    // execArgv is explicit: by default a fork inherits ours (vitest's, the CLI's tsx flags)
    this.child = fork(entry.file, [], { execArgv: entry.execArgv ?? [], env: jobProcessEnv(), serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('spawn', () => this.emit('spawn'));
    this.child.on('message', (m) => this.emit('message', m));
    // 'close' rather than 'exit': it comes after the IPC channel drained, so a last 'done' is never lost
    this.child.on('close', (code, signal) => this.end({ code, signal }));
    this.child.on('error', (err) => {
      // a process that never started has no 'close' to wait for
      if (this.child.pid === undefined) this.end({ code: null, signal: null, error: err.message });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  postMessage(message: ToJobProcess): void {
    if (this.ended || !this.child.connected) return;
    this.child.send(message, (err) => {
      // the process is gone: its 'close' reports why
      void err;
    });
  }

  kill(): void {
    if (!this.ended) this.child.kill('SIGKILL');
  }

  private end(exit: JobProcessExit): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('exit', exit);
  }
}

/** Job processes as Node child processes (`child_process.fork`). */
export const forkLauncher: JobProcessLauncher = {
  launch: (entry) => new ForkedJobProcess(entry),
};

// ------------------------------------------------------------------------------------------------
// Starting and supervising
// ------------------------------------------------------------------------------------------------

function portable(w: WorkerScript): PortableWorkerScript {
  return { file: String(w.file), url: w.file instanceof URL, execArgv: w.execArgv, eval: w.eval };
}

export interface StartedJobProcess {
  proc: JobProcess;
  /** Settles when the process has ended (never rejects). */
  exited: Promise<JobProcessExit>;
}

/**
 * Launches a job process and tells it which task its worker runs, and on which execution provider
 * (default: this process's choice: `--provider`, or the store's setting).
 */
export function startJobProcess(runtime: JobRuntime, task: string, payload: unknown, provider: ProviderChoice = providerChoice()): StartedJobProcess {
  const proc = runtime.launcher.launch(runtime.entry, { name: `SD4Match ${taskTerm(task)}` });
  const exited = new Promise<JobProcessExit>((resolve) => proc.on('exit', resolve));
  // both transports queue messages sent before the child listens
  proc.postMessage({ type: 'start', task, payload, worker: portable(runtime.worker), provider });
  return { proc, exited };
}

/**
 * Asks a job process whose work is over to leave, and kills it if it has not after `graceMs`.
 * Resolves once it is gone.
 */
export async function retireJobProcess(p: StartedJobProcess, graceMs = 5000): Promise<void> {
  p.proc.postMessage({ type: 'exit' });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
  const outcome = await Promise.race([p.exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    p.proc.kill();
    await p.exited;
  }
}

export interface RunInProcessOptions {
  onEvent?(name: string, payload: unknown): void;
  /** The process, as soon as it is launched. */
  onProcess?(started: StartedJobProcess): void;
  /** The process's OS id, once it has spawned. */
  onSpawn?(pid: number): void;
  /** Kill a cancelled process that has not stopped after this long (default: wait for it). */
  cancelGraceMs?: number;
}

/**
 * Runs one named task (services/jobs/tasks.ts) in a job process on behalf of a TaskContext, as
 * a worker thread would: progress and logs go to the context, domain events to `onEvent`,
 * cancelling the context's token raises the worker's shared flag. A process that ends before its
 * task did rejects with a `JobProcessGone` saying what happened.
 */
export async function runInProcess<T>(runtime: JobRuntime, taskName: string, payload: unknown, task: TaskContext, opts: RunInProcessOptions = {}): Promise<T> {
  task.token.throwIfCancelled();
  const started = startJobProcess(runtime, taskName, payload);
  const { proc } = started;
  opts.onProcess?.(started);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let killTimer: NodeJS.Timeout | null = null;
    const settle = (outcome: { result: unknown } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      offCancel();
      if (killTimer) clearTimeout(killTimer);
      void retireJobProcess(started);
      if ('result' in outcome) resolve(outcome.result as T);
      else reject(outcome.error);
    };
    const offCancel = task.token.onCancel(() => {
      proc.postMessage({ type: 'cancel' });
      if (opts.cancelGraceMs !== undefined) {
        killTimer = setTimeout(() => {
          proc.kill();
          settle({ error: new CancelledError(`Cancelled: the ${taskTerm(taskName)} process was stopped`) });
        }, opts.cancelGraceMs);
      }
    });
    proc.on('spawn', () => {
      if (proc.pid !== undefined) opts.onSpawn?.(proc.pid);
    });
    proc.on('message', (m) => {
      if (m.type === 'progress') task.progress(m.progress);
      else if (m.type === 'log') task.log?.(m.message);
      else if (m.type === 'event') opts.onEvent?.(m.name, m.payload);
      else if (m.type === 'done') settle({ result: m.result });
      else if (m.type === 'error') settle({ error: deserializeError(m.error) });
    });
    proc.on('exit', (exit) => settle({ error: new JobProcessGone(taskTerm(taskName), proc.pid, exit) }));
  });
}

/** The job process entry (process-entry.ts) from the TypeScript sources, through tsx's loader. */
export function sourceProcessEntry(): JobProcessEntry {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return { file: path.join(here, 'process-entry.ts'), execArgv: ['--import', import.meta.resolve('tsx')] };
}
