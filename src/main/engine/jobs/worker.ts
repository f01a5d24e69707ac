/**
 * The worker-thread protocol that worker-entry.ts speaks: what a job worker receives and posts.
 * Job workers run inside job processes (job-process.ts), whose child hosts the worker thread and
 * relays these messages (process-entry.ts).
 */
import type { CarriedError } from '../../shared/errors.js';
import type { ProviderChoice } from '../onnx/providers.js';
import type { JobProgress } from './progress.js';

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
  /** The execution provider the task's sessions use (`auto` or a provider by name). */
  provider?: ProviderChoice;
}

/** Messages a job worker posts (see worker-entry.ts). */
export type WorkerMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; message: string }
  | { type: 'event'; name: string; payload: unknown }
  | { type: 'done'; result: unknown }
  /** With its log-only detail and a bug's stack: the parent logs them (never sent to a client). */
  | { type: 'error'; error: CarriedError };
