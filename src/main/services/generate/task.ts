/** The `generate` task (job process): generates a plan's images, each stored and announced when it is done. */
import type { TaskContext } from '../../engine/jobs/progress.js';
import { openServices } from '../app/context.js';
import { type GenerationPlan, runGenerationPlan } from './plan.js';

export async function generateTask(p: { db: string; plan: GenerationPlan }, task: TaskContext, emit: (name: string, payload: unknown) => void) {
  const svc = openServices(p.db, { job: true });
  try {
    return await runGenerationPlan(svc, p.plan, task, emit);
  } finally {
    svc.close();
  }
}
