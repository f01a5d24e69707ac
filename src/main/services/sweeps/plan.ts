/**
 * A timestep sweep's plan and its run: the prompts and timesteps to evaluate, checked, and the
 * job-process body that evaluates each (one stored evaluation run per prompt and timestep). Free
 * of the application context: the job process runs it on its own services.
 */
import crypto from 'node:crypto';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import { AppError } from '../../shared/errors.js';
import type { Split } from '../../store/repositories/datasets.js';
import { promptSpecOf } from '../prompts/resolve.js';
import { requireCategory, type Services } from '../app/context.js';
import { requirePromptSupported } from '../models/capabilities.js';
import { type EvalOutcome, runEvaluation } from '../evaluation/evaluate.js';

/** Everything a sweep job needs, checked, serialisable. */
export interface SweepPlan {
  id: string;
  modelDir: string;
  dinoDir?: string;
  datasetId: number;
  split: Split;
  category?: string;
  limit?: number;
  size: number;
  ensemble: number;
  seed: number;
  timesteps: number[];
  /** Stored prompts (the API), or prompts as they are (the CLI: recorded on first use). */
  prompts: ({ promptId: number; name: string } | { spec: PromptSpec; name: string })[];
}

/** What a plan is made from. */
export interface SweepInput {
  modelDir: string;
  dinoDir?: string;
  datasetId: number;
  split: Split;
  category?: string;
  limit?: number;
  size: number;
  ensemble: number;
  seed: number;
  timesteps: number[];
  prompts: SweepPlan['prompts'];
}

/**
 * Resolves and checks a sweep whole before anything runs: the dataset, its pairs in the split
 * (and category), the timesteps, and every stored prompt (DINOv2 for those that need it, a Class
 * prompt's categories covering the pairs').
 */
export function planSweep(svc: Services, a: SweepInput): SweepPlan {
  const ds = svc.repos.datasets.find(a.datasetId);
  if (!ds) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  const categoryId = a.category ? requireCategory(svc, ds.id, ds.name, a.category) : undefined;
  const pairs = svc.repos.pairs.list({ datasetId: ds.id, split: a.split, categoryId, limit: a.limit });
  if (pairs.length === 0) throw new AppError('INVALID_ARGUMENT', `dataset '${ds.name}' has no ${a.split} pairs${a.category ? ` in category '${a.category}'` : ''}`);
  const timesteps = [...new Set(a.timesteps)].sort((x, y) => x - y);
  if (timesteps.length === 0) throw new AppError('INVALID_ARGUMENT', 'choose at least one timestep');
  for (const t of timesteps) if (!Number.isInteger(t) || t < 0 || t > 999) throw new AppError('INVALID_ARGUMENT', `timestep ${t} is not an integer in 0..999`);
  if (a.prompts.length === 0) throw new AppError('INVALID_ARGUMENT', 'choose at least one prompt');
  const pairCategories = [...new Set(pairs.map((p) => p.category))];
  const prompts = a.prompts.map((p) => {
    if (!('promptId' in p)) {
      requirePromptSupported(svc, a.modelDir, p.spec);
      return p;
    }
    const { spec, name, needsDino } = promptSpecOf(svc, p.promptId);
    requirePromptSupported(svc, a.modelDir, spec);
    if (needsDino && !a.dinoDir) throw new AppError('INVALID_ARGUMENT', `${name} needs a DINOv2 model: choose one`);
    if (spec.kind === 'learned' && spec.prompt.meta.kind === 'class') {
      const missing = pairCategories.filter((c) => !spec.prompt.meta.categories.includes(c));
      if (missing.length)
        throw new AppError('INVALID_ARGUMENT', `${name} has no prompt for categor${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} (it has: ${spec.prompt.meta.categories.join(', ')})`);
    }
    return { promptId: p.promptId, name };
  });
  const id = `sweep-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  return { id, modelDir: a.modelDir, dinoDir: a.dinoDir, datasetId: ds.id, split: a.split, category: a.category, limit: a.limit, size: a.size, ensemble: a.ensemble, seed: a.seed, timesteps, prompts };
}

/** What a sweep did: its evaluation runs (PCK@0.1 per image, kernel soft-argmax), in plan order. */
export interface SweepOutcome {
  sweepId: string;
  runs: { runId: number | null; promptId: number | null; timestep: number; pck: number }[];
}

/**
 * Runs a sweep's evaluations, timestep by timestep (every prompt's line grows together), with one
 * model open for all of them; each is its own stored run, so a cancelled sweep keeps what it did.
 */
export async function runSweep(svc: Services, plan: SweepPlan, task: TaskContext): Promise<SweepOutcome> {
  const sd = SdModel.open(plan.modelDir, { cacheDir: svc.cacheDir, task });
  const evals = plan.timesteps.flatMap((timestep) => plan.prompts.map((prompt) => ({ timestep, prompt })));
  const storedIds = plan.prompts.filter((p): p is { promptId: number; name: string } => 'promptId' in p).map((p) => p.promptId);
  const runs: { runId: number | null; promptId: number | null; timestep: number; pck: number }[] = [];
  try {
    for (const [i, e] of evals.entries()) {
      task.token.throwIfCancelled();
      const stage = `sweep: t = ${e.timestep}, ${e.prompt.name} (${i + 1}/${evals.length})`;
      const sub: TaskContext = { token: task.token, progress: (p) => task.progress({ ...p, stage, done: i * p.total + p.done, total: evals.length * p.total }), log: task.log };
      const stored = 'promptId' in e.prompt ? { spec: promptSpecOf(svc, e.prompt.promptId).spec, promptId: e.prompt.promptId } : { spec: e.prompt.spec, promptId: undefined };
      const r: EvalOutcome = await runEvaluation(
        svc,
        {
          modelDir: plan.modelDir,
          dinoDir: plan.dinoDir,
          dataset: String(plan.datasetId),
          split: plan.split,
          category: plan.category,
          prompt: stored.spec,
          promptId: stored.promptId,
          promptName: e.prompt.name,
          timestep: e.timestep,
          ensemble: plan.ensemble,
          size: plan.size,
          seed: plan.seed,
          frame: 'resized',
          limit: plan.limit,
          sweep: { id: plan.id, timesteps: plan.timesteps, promptIds: storedIds },
          sd,
        },
        sub,
      );
      runs.push({ runId: r.runId, promptId: r.promptId, timestep: e.timestep, pck: r.report.pck.kernelsoftmax?.['0.1']?.image ?? NaN });
    }
    return { sweepId: plan.id, runs };
  } finally {
    await sd.dispose();
  }
}
