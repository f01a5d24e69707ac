/**
 * The `eval` and `eval-report` tasks (job process): evaluate a stored prompt (`promptId`, the API)
 * or a prompt given as it is (`prompt`, the CLI). `eval` returns a summary for the job list,
 * `eval-report` the whole report (per pair included).
 */
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import type { EvalReport } from '../../engine/sd4match/matching/evaluate.js';
import { openServices } from '../app/context.js';
import { promptSpecOf } from '../prompts/resolve.js';
import { type EvalArgs, runEvaluation } from './evaluate.js';

/** The evaluation tasks' arguments: a stored prompt by id, or a prompt as it is. */
export type EvalTaskArgs = Omit<EvalArgs, 'prompt' | 'promptName' | 'promptId'> & { promptId?: number; prompt?: PromptSpec };

async function evaluateIn(db: string, args: EvalTaskArgs, task: TaskContext) {
  const svc = openServices(db, { job: true });
  try {
    const { promptId, prompt, ...rest } = args;
    const spec = prompt ? { spec: prompt, name: undefined } : promptSpecOf(svc, promptId!);
    return await runEvaluation(svc, { ...rest, prompt: spec.spec, promptName: spec.name, promptId }, task);
  } finally {
    svc.close();
  }
}

export async function evalTask(p: { db: string; args: EvalTaskArgs }, task: TaskContext) {
  const r = await evaluateIn(p.db, p.args, task);
  const pck = Object.fromEntries(Object.entries(r.report.pck).map(([m, t]) => [m, Object.fromEntries(Object.entries(t).map(([a, x]) => [a, x.image]))]));
  return { runId: r.runId, promptId: r.promptId, pairs: r.report.pairs, pck };
}

export async function evalReportTask(p: { db: string; args: EvalTaskArgs }, task: TaskContext): Promise<{ runId: number | null; promptId: number | null; report: EvalReport }> {
  const r = await evaluateIn(p.db, p.args, task);
  return { runId: r.runId, promptId: r.promptId, report: r.report };
}
