/** Use cases of the job list: every job this engine knows of, and cancelling one. */
import type { JobInfo } from '../../engine/jobs/progress.js';
import type { AppContext } from '../app/app.js';

/** Every job of this engine, running and recently finished. */
export async function listJobs(ctx: AppContext): Promise<JobInfo[]> {
  return ctx.jobs.list();
}

/** Asks a running job to stop at its next cancellation check (a training run checkpoints first). */
export async function cancelJob(ctx: AppContext, id: string): Promise<{ cancelled: boolean }> {
  return { cancelled: ctx.jobs.cancel(id) };
}
