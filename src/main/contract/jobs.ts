/** Long-running jobs (imports, compiles, evaluations, training): list, cancel, and their updates. */
import { z } from 'zod';
import { method, noArgs } from './spec.js';

export type { JobInfo, JobProgress, JobState } from '../engine/jobs/progress.js';
import type { JobInfo } from '../engine/jobs/progress.js';

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
