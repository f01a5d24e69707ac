/**
 * Timestep sweeps (SD4Match Fig. 3b: a prompt trained at t = 261 matches best near t = 50): the
 * same evaluation of several prompts at several timesteps, each an evaluation run stored like any
 * other (its config names the sweep and the whole plan), run by the `sweep` worker task in one job
 * process that opens the model once. Read back as PCK against t per prompt.
 */
import type { SweepResult, SweepSummary } from '../../contract/index.js';
import { MATCH_METHODS } from '../../engine/sd4match/matching/matching.js';
import { AppError } from '../../shared/errors.js';
import type { RunRecord } from '../../store/repositories/runs.js';
import { type AppContext, jobRunner } from '../app/app.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { TaskRunner } from '../jobs/tasks.js';
import { inRunProcess, type ProcessDeathOptions } from '../runs/process-death.js';
import { modelFolder, type Services } from '../app/context.js';
import { planSweep, type SweepOutcome, type SweepPlan } from './plan.js';

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
 * Runs a sweep's evaluations in a job process (the API's job, or a command's). With `death`, a
 * process that dies has the runs it was running marked failed here with the reason (the command
 * line); without, they are left to the recovery every process runs when it opens the store.
 */
export function sweepInProcess(run: TaskRunner, svc: Services, plan: SweepPlan, task: TaskContext, death?: ProcessDeathOptions): Promise<SweepOutcome> {
  const payload = { db: svc.store.file, plan };
  return death ? inRunProcess(run, svc, 'sweep', payload, task, death) : run('sweep', payload, task);
}

/** A sweep as a window asks for it: stored prompts on a registered model and a dataset split, at each timestep. */
export interface SweepRequest {
  modelId: number;
  dinoModelId?: number;
  datasetId: number;
  split: 'trn' | 'val' | 'test';
  promptIds: number[];
  timesteps: number[];
  category?: string;
  /** Only the first N pairs of the split. */
  limit?: number;
  size: number;
  ensemble: number;
  seed: number;
}

export async function startSweep(ctx: AppContext, a: SweepRequest): Promise<{ jobId: string; sweepId: string }> {
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
  const { job, done } = ctx.jobs.run('sweep', title, (task) => sweepInProcess(jobRunner(ctx), svc, plan, task));
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

export async function listSweeps(ctx: AppContext, datasetId: number): Promise<SweepSummary[]> {
  const svc = ctx.services();
  if (!svc.repos.datasets.find(datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
  const sweeps = sweepRuns(svc, (r) => r.datasetId === datasetId);
  const stored = [...sweeps].map(([id, runs]) => summaryOf(ctx, id, runs));
  const planned = [...sweepJobs(ctx)].filter(([id, s]) => s.plan.datasetId === datasetId && !sweeps.has(id)).map(([id, s]) => plannedSummary(ctx, id, s));
  return [...stored, ...planned].sort((x, y) => y.createdAt - x.createdAt);
}

export async function sweepResult(ctx: AppContext, sweepId: string): Promise<SweepResult> {
  const svc = ctx.services();
  const runs = sweepRuns(svc, (_, c) => c.sweep === sweepId).get(sweepId);
  const planned = sweepJobs(ctx).get(sweepId);
  if (!runs && !planned) throw new AppError('NOT_FOUND', `no timestep sweep '${sweepId}'`);
  const summary = runs ? summaryOf(ctx, sweepId, runs) : plannedSummary(ctx, sweepId, planned!);
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
