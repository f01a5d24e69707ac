/**
 * Progress and cancellation for long work (imports, feature caching, evaluation, training).
 * Engine code takes a `TaskContext` and reports through it; the CLI prints a progress line, the
 * job manager turns reports into API events. Cancellation is cooperative: work calls
 * `throwIfCancelled()` between steps, so a step is all-or-nothing.
 */
import type { SerializedError } from '../../shared/errors.js';
import { CancelledError } from '../../shared/errors.js';

export type JobState = 'running' | 'completed' | 'failed' | 'cancelled';

export interface JobProgress {
  stage: string;
  done: number;
  total: number;
  rate: number;
  etaSeconds: number | null;
  detail?: string;
}

export interface JobInfo {
  id: string;
  /** 'import' | 'compile' | 'eval' | 'train' | ... */
  kind: string;
  title: string;
  state: JobState;
  progress: JobProgress | null;
  error: SerializedError | null;
  /** What the job returned (small JSON), when completed. */
  result: unknown;
  startedAt: number;
  finishedAt: number | null;
  /** The OS process doing the work, for jobs that run in a job process of their own. */
  pid?: number;
}

/** What is being done ('importing pairs', 'training'), how far, how fast; the API carries it as is. */
export type Progress = JobProgress;

export class CancellationToken {
  private reason: string | null = null;
  private readonly listeners = new Set<() => void>();

  cancel(reason = 'cancelled by the user'): void {
    if (this.reason !== null) return;
    this.reason = reason;
    for (const l of this.listeners) l();
  }

  get cancelled(): boolean {
    return this.reason !== null;
  }

  throwIfCancelled(): void {
    if (this.reason !== null) throw new CancelledError(`Cancelled: ${this.reason}`);
  }

  onCancel(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * A token another thread can cancel through a shared Int32 (1 = cancel): a worker busy in a long
 * synchronous step cannot receive messages, but its cancellation checks still see the flag.
 */
export class SharedFlagToken extends CancellationToken {
  private readonly flag: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    super();
    this.flag = new Int32Array(buffer);
  }

  override get cancelled(): boolean {
    return Atomics.load(this.flag, 0) === 1 || super.cancelled;
  }

  override throwIfCancelled(): void {
    if (Atomics.load(this.flag, 0) === 1) this.cancel('cancelled by the user');
    super.throwIfCancelled();
  }

  /** Sets the flag (from any thread holding the buffer). */
  static raise(buffer: SharedArrayBuffer): void {
    Atomics.store(new Int32Array(buffer), 0, 1);
  }
}

export interface TaskContext {
  token: CancellationToken;
  /** Reports progress; implementations throttle as they see fit. */
  progress(p: Omit<Progress, 'rate' | 'etaSeconds'> & Partial<Pick<Progress, 'rate' | 'etaSeconds'>>): void;
  log?(message: string): void;
}

/** Computes rate and ETA for a stage from the time it started. */
export class RateMeter {
  private start = Date.now();
  private stage = '';

  measure(stage: string, done: number, total: number): { rate: number; etaSeconds: number | null } {
    if (stage !== this.stage) {
      this.stage = stage;
      this.start = Date.now();
    }
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const etaSeconds = rate > 0 && total >= done ? (total - done) / rate : null;
    return { rate, etaSeconds };
  }
}

/** A context that ignores progress and is never cancelled (tests, one-shot scripts). */
export function silentTask(): TaskContext {
  return { token: new CancellationToken(), progress: () => {} };
}
