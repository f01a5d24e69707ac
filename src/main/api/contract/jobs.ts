/** Long-running jobs (imports, compiles, evaluations, training): list, cancel, and their updates. */
import { z } from 'zod';
import type { SerializedError } from '../../shared/errors.js';
import { method, noArgs } from './spec.js';

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

export const jobMethods = {
  /** Jobs of this engine process: running ones and the recently finished. */
  'jobs:list': method<JobInfo[]>()(noArgs),
  /** Asks a job to stop after its current step (resumable jobs checkpoint first). */
  'jobs:cancel': method<{ cancelled: boolean }>()(z.object({ id: z.string().min(1) }).strict()),
} as const;

export interface JobEvents {
  /** A job started, progressed (throttled) or finished. */
  'job:updated': JobInfo;
}

export const JOB_EVENTS: readonly (keyof JobEvents)[] = ['job:updated'];
