/**
 * The suggestion tasks (job process): `suggest` stores each image's pending set as it is done and
 * announces it (`suggest:changed`), returning counts; `suggest-preview` writes nothing and returns
 * the sets (the CLI); `suggest-eval` measures suggestion quality on labelled images.
 */
import type { TaskContext } from '../../engine/jobs/progress.js';
import { openServices } from '../app/context.js';
import { runSuggestEval, runSuggestPlan, type SuggestPlan } from './plan.js';

export async function suggestTask(p: { db: string; plan: SuggestPlan }, task: TaskContext, emit: (name: string, payload: unknown) => void) {
  const svc = openServices(p.db, { job: true });
  try {
    const r = await runSuggestPlan(svc, p.plan, task, { store: true, emit });
    return { images: r.sets.length, seconds: r.sets.reduce((t, s) => t + s.seconds, 0) };
  } finally {
    svc.close();
  }
}

export async function suggestPreviewTask(p: { db: string; plan: SuggestPlan }, task: TaskContext, emit: (name: string, payload: unknown) => void) {
  const svc = openServices(p.db, { job: true });
  try {
    return await runSuggestPlan(svc, p.plan, task, { store: false, emit });
  } finally {
    svc.close();
  }
}

export async function suggestEvalTask(p: { db: string; plan: SuggestPlan; acceptThreshold: number }, task: TaskContext) {
  const svc = openServices(p.db, { job: true });
  try {
    return await runSuggestEval(svc, p.plan, task, p.acceptThreshold);
  } finally {
    svc.close();
  }
}
