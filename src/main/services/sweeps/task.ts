/** The `sweep` task (job process): evaluates prompts over timesteps, one stored evaluation run per prompt and timestep. */
import type { TaskContext } from '../../engine/jobs/progress.js';
import { openServices } from '../app/context.js';
import { runSweep, type SweepPlan } from './plan.js';

export async function sweepTask(p: { db: string; plan: SweepPlan }, task: TaskContext) {
  const svc = openServices(p.db, { job: true });
  try {
    return await runSweep(svc, p.plan, task);
  } finally {
    svc.close();
  }
}
