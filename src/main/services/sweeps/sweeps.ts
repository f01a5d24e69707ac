/**
 * Timestep sweeps (SD4Match Fig. 3b: a prompt trained at t = 261 matches best near t = 50): the
 * same evaluation of several prompts at several timesteps, each an evaluation run stored like any
 * other (its config names the sweep and the whole plan), run by the `sweep` worker task in one job
 * process that opens the model once. Read back as PCK against t per prompt.
 */
import crypto from 'node:crypto';
import type { InvokeParsedArgs, InvokeResult, SweepResult, SweepSummary } from '../../contract/index.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import { MATCH_METHODS } from '../../engine/sd4match/matching/matching.js';
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import { AppError } from '../../shared/errors.js';
import type { Split } from '../../store/repositories/datasets.js';
import type { RunRecord } from '../../store/repositories/runs.js';
import type { AppContext } from '../app/app.js';
import { promptSpecOf } from '../prompts/resolve.js';
import { modelFolder, requireCategory, type Services } from '../app/context.js';
import { requirePromptSupported } from '../models/models.js';
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

/** A sweep a job of this engine runs: its plan lists it before its first evaluation is stored. */
interface RunningSweep {
  jobId: string;
  plan: SweepPlan;
  createdAt: number;
}

/** Which job runs which sweep, per engine. */
const jobOfSweep = new WeakMap<AppContext, Map<string, RunningSweep>>();

function sweepJobs(ctx: AppContext): Map<string, RunningSweep> {
  let m = jobOfSweep.get(ctx);
  if (!m) jobOfSweep.set(ctx, (m = new Map()));
  return m;
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
      if (missing.length) throw new AppError('INVALID_ARGUMENT', `${name} has no prompt for categor${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} (it has: ${spec.prompt.meta.categories.join(', ')})`);
    }
    return { promptId: p.promptId, name };
  });
  const id = `sweep-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  return { id, modelDir: a.modelDir, dinoDir: a.dinoDir, datasetId: ds.id, split: a.split, category: a.category, limit: a.limit, size: a.size, ensemble: a.ensemble, seed: a.seed, timesteps, prompts };
}

/**
 * Runs a sweep's evaluations, timestep by timestep (every prompt's line grows together), with one
 * model open for all of them; each is its own stored run, so a cancelled sweep keeps what it did.
 */
export async function runSweep(svc: Services, plan: SweepPlan, task: TaskContext): Promise<{ sweepId: string; runs: { runId: number | null; promptId: number | null; timestep: number; pck: number }[] }> {
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

export async function startSweep(ctx: AppContext, a: InvokeParsedArgs<'evals:sweep'>): Promise<InvokeResult<'evals:sweep'>> {
  const svc = ctx.services();
  const plan = planSweep(svc, {
    modelDir: modelFolder(svc, a.modelId, 'stable-diffusion'),
    dinoDir: a.dinoModelId !== undefined ? modelFolder(svc, a.dinoModelId, 'dinov2') : undefined,
    datasetId: a.datasetId,
    split: a.split,
    category: a.category,
    limit: a.limit,
    size: a.size,
    ensemble: a.ensemble,
    seed: a.seed,
    timesteps: a.timesteps,
    prompts: a.promptIds.map((promptId) => ({ promptId, name: '' })),
  });
  const ds = svc.repos.datasets.find(a.datasetId)!;
  const title = `timestep sweep of ${plan.prompts.length} prompt${plan.prompts.length > 1 ? 's' : ''} over ${plan.timesteps.length} timesteps on ${ds.name}/${a.split}`;
  const { job, done } = ctx.jobs.run('sweep', title, (task) => ctx.jobs.inProcess('sweep', { db: svc.store.file, plan }, task));
  const jobs = sweepJobs(ctx);
  jobs.set(plan.id, { jobId: job.id, plan, createdAt: Date.now() });
  done.catch(() => {}).finally(() => jobs.delete(plan.id));
  return { jobId: job.id, sweepId: plan.id };
}

interface SweepConfig {
  sweep?: string;
  sweepPlan?: { timesteps: number[]; promptIds: number[] };
  split?: string;
  category?: string | null;
  limit?: number | null;
  size?: number;
  ensemble?: number;
  timestep?: number;
}

function sweepRuns(svc: Services, filter: (r: RunRecord, c: SweepConfig) => boolean): Map<string, RunRecord[]> {
  const bySweep = new Map<string, RunRecord[]>();
  for (const r of svc.repos.runs.list({ kind: 'eval' })) {
    const c = r.config as SweepConfig;
    if (typeof c.sweep !== 'string' || !filter(r, c)) continue;
    let list = bySweep.get(c.sweep);
    if (!list) bySweep.set(c.sweep, (list = []));
    list.push(r);
  }
  return bySweep;
}

function summaryOf(ctx: AppContext, id: string, runs: RunRecord[]): SweepSummary {
  const svc = ctx.services();
  const first = runs.reduce((a, b) => (a.createdAt <= b.createdAt ? a : b));
  const c = first.config as SweepConfig;
  const promptIds = c.sweepPlan?.promptIds ?? [...new Set(runs.map((r) => r.promptId).filter((p): p is number => p !== null))];
  const timesteps = c.sweepPlan?.timesteps ?? [...new Set(runs.map((r) => (r.config as SweepConfig).timestep ?? 0))].sort((a, b) => a - b);
  const jobId = sweepJobs(ctx).get(id)?.jobId;
  return {
    id,
    datasetId: first.datasetId ?? 0,
    split: c.split ?? 'test',
    category: c.category ?? null,
    limit: c.limit ?? null,
    size: c.size ?? 0,
    ensemble: c.ensemble ?? 0,
    timesteps,
    prompts: promptIds.map((p) => ({ promptId: p, name: svc.repos.prompts.get(p)?.name ?? `prompt ${p}` })),
    completed: runs.filter((r) => r.status === 'completed').length,
    total: promptIds.length * timesteps.length,
    running: jobId !== undefined && ctx.jobs.get(jobId)?.state === 'running',
    jobId: jobId !== undefined && ctx.jobs.get(jobId)?.state === 'running' ? jobId : null,
    createdAt: first.createdAt,
  };
}

/**
 * A sweep whose job runs but has stored no evaluation yet (the model is opening, the first
 * features are computed): shown from its plan, so the UI shows it running from the start.
 */
function plannedSummary(ctx: AppContext, id: string, s: RunningSweep): SweepSummary {
  const svc = ctx.services();
  const promptIds = s.plan.prompts.flatMap((p) => ('promptId' in p ? [p.promptId] : []));
  const running = ctx.jobs.get(s.jobId)?.state === 'running';
  return {
    id,
    datasetId: s.plan.datasetId,
    split: s.plan.split,
    category: s.plan.category ?? null,
    limit: s.plan.limit ?? null,
    size: s.plan.size,
    ensemble: s.plan.ensemble,
    timesteps: s.plan.timesteps,
    prompts: promptIds.map((p) => ({ promptId: p, name: svc.repos.prompts.get(p)?.name ?? `prompt ${p}` })),
    completed: 0,
    total: promptIds.length * s.plan.timesteps.length,
    running,
    jobId: running ? s.jobId : null,
    createdAt: s.createdAt,
  };
}

export async function listSweeps(ctx: AppContext, a: InvokeParsedArgs<'evals:sweeps'>): Promise<InvokeResult<'evals:sweeps'>> {
  const svc = ctx.services();
  if (!svc.repos.datasets.find(a.datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  const sweeps = sweepRuns(svc, (r) => r.datasetId === a.datasetId);
  const stored = [...sweeps].map(([id, runs]) => summaryOf(ctx, id, runs));
  const planned = [...sweepJobs(ctx)].filter(([id, s]) => s.plan.datasetId === a.datasetId && !sweeps.has(id)).map(([id, s]) => plannedSummary(ctx, id, s));
  return [...stored, ...planned].sort((x, y) => y.createdAt - x.createdAt);
}

export async function sweepResult(ctx: AppContext, a: InvokeParsedArgs<'evals:sweepResult'>): Promise<SweepResult> {
  const svc = ctx.services();
  const runs = sweepRuns(svc, (_, c) => c.sweep === a.sweepId).get(a.sweepId);
  const planned = sweepJobs(ctx).get(a.sweepId);
  if (!runs && !planned) throw new AppError('NOT_FOUND', `no timestep sweep '${a.sweepId}'`);
  const summary = runs ? summaryOf(ctx, a.sweepId, runs) : plannedSummary(ctx, a.sweepId, planned!);
  const latest = new Map<string, RunRecord>();
  for (const r of runs ?? []) {
    if (r.status !== 'completed' || r.promptId === null) continue;
    const k = `${r.promptId}:${(r.config as SweepConfig).timestep}`;
    const prev = latest.get(k);
    if (!prev || (r.finishedAt ?? 0) > (prev.finishedAt ?? 0)) latest.set(k, r);
  }
  const promptIds = [...new Set([...summary.prompts.map((p) => p.promptId), ...[...latest.values()].map((r) => r.promptId!)])];
  const series = promptIds.map((promptId) => {
    const p = svc.repos.prompts.get(promptId);
    const points = [...latest.values()]
      .filter((r) => r.promptId === promptId)
      .map((r) => {
        const byMethod: Record<string, Record<string, number>> = {};
        for (const m of MATCH_METHODS) {
          for (const alpha of ['0.05', '0.1', '0.15']) {
            const v = svc.repos.runs.metricSeries(r.id, `pck/${m}/${alpha}`).at(-1)?.value;
            if (v !== undefined) (byMethod[m] ??= {})[alpha] = v;
          }
        }
        return { timestep: (r.config as SweepConfig).timestep ?? 0, runId: r.id, pck: byMethod.kernelsoftmax ?? {}, byMethod };
      })
      .sort((x, y) => x.timestep - y.timestep);
    const trained = p && p.kind !== 'baseline' ? (p.config as { timestep?: number }).timestep : undefined;
    return { promptId, prompt: p?.name ?? `prompt ${promptId}`, trainTimestep: typeof trained === 'number' ? trained : null, points };
  });
  return { ...summary, series };
}
