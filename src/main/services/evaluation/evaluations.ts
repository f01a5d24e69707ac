/**
 * Evaluation's use cases: a prompt evaluated on a dataset split as a job (results land in the
 * store), and the PCK table of each prompt's latest evaluation (as data or CSV). The job
 * process's body is task.ts; the evaluation itself evaluate.ts.
 */
import { AppError } from '../../shared/errors.js';
import type { PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import { DEFAULT_FUSION_WEIGHT, type FeatureSource, methodLabel } from '../../engine/sd4match/features/fusion.js';
import type { RunRecord } from '../../store/repositories/runs.js';
import type { PckTable } from '../../contract/index.js';
import { type AppContext, jobRunner } from '../app/app.js';
import { modelFolder } from '../app/context.js';
import { requirePromptSupported } from '../models/capabilities.js';
import { inRunProcess, type ProcessDeathOptions } from '../runs/process-death.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { EvalSummary, TaskResult, TaskRunner } from '../jobs/tasks.js';
import type { Services } from '../app/context.js';
import type { EvalTaskArgs } from './task.js';

/**
 * Evaluates a prompt in a job process (`run`: the API's job manager, or a process a command
 * supervises); if the process dies, its run is marked failed here with the reason. The result is
 * a summary for the job list.
 */
export function evaluateInProcess(run: TaskRunner, svc: Services, args: EvalTaskArgs, task: TaskContext, death: ProcessDeathOptions = {}): Promise<EvalSummary> {
  return inRunProcess(run, svc, 'eval', { db: svc.store.file, args }, task, death);
}

/** As `evaluateInProcess`, with the whole report (per pair included) as the result (the command line). */
export function evaluateReportInProcess(run: TaskRunner, svc: Services, args: EvalTaskArgs, task: TaskContext, death: ProcessDeathOptions = {}): Promise<TaskResult<'eval-report'>> {
  return inRunProcess(run, svc, 'eval-report', { db: svc.store.file, args }, task, death);
}

/** An evaluation as a window launches it: a stored prompt on a registered model and dataset. */
export interface EvaluationSettings {
  modelId: number;
  dinoModelId?: number;
  datasetId: number;
  split: 'trn' | 'val' | 'test';
  promptId: number;
  category?: string;
  limit?: number;
  frame: 'resized' | 'original';
  size: number;
  timestep: number;
  ensemble: number;
  seed: number;
  /** SD features (default), DINOv2 on the SD grid, or both fused with SD's share `fusionWeight`. */
  features?: FeatureSource;
  fusionWeight?: number;
}

/** Which PCK table: a dataset split, under a matching method at a threshold alpha. */
export interface PckTableQuery {
  datasetId: number;
  split: 'trn' | 'val' | 'test';
  method: string;
  alpha: number;
}

function pckTable(ctx: AppContext, a: PckTableQuery): PckTable {
  const svc = ctx.services();
  if (!svc.repos.datasets.find(a.datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  // a timestep sweep's evaluations are read as sweeps (services/sweeps/), not as a prompt's latest PCK
  const runs = svc.repos.runs
    .list({ kind: 'eval', status: 'completed' })
    .filter(
      (r) => r.datasetId === a.datasetId && (r.config as { split?: string }).split === a.split && !(r.config as { category?: string | null }).category && !(r.config as { sweep?: string }).sweep,
    );
  // one row per prompt and feature choice (SD alone, DINOv2, SD+DINOv2 at a weight): its latest run
  const latest = new Map<string, RunRecord>();
  for (const r of runs) {
    if (r.promptId === null) continue;
    const c = r.config as { features?: string; fusionWeight?: number | null };
    const k = JSON.stringify([r.promptId, c.features ?? 'sd', c.fusionWeight ?? null]);
    const prev = latest.get(k);
    if (!prev || (r.finishedAt ?? 0) > (prev.finishedAt ?? 0)) latest.set(k, r);
  }
  const key = `pck/${a.method}/${a.alpha}`;
  const cats = new Set<string>();
  const rows: PckTable['rows'] = [];
  for (const r of latest.values()) {
    const promptId = r.promptId!;
    const c = r.config as { features?: FeatureSource; fusionWeight?: number | null };
    const names = svc.repos.runs.metricNames(r.id);
    if (!names.includes(key)) continue;
    const value = (n: string) => svc.repos.runs.metricSeries(r.id, n).at(-1)?.value ?? NaN;
    const categories: Record<string, number> = {};
    for (const n of names) {
      if (n.startsWith(`${key}/category/`)) {
        const c = n.slice(`${key}/category/`.length);
        categories[c] = value(n);
        cats.add(c);
      }
    }
    rows.push({
      promptId,
      prompt: methodLabel(svc.repos.prompts.get(promptId)?.name ?? `prompt ${promptId}`, { features: c.features ?? 'sd', weight: c.fusionWeight ?? DEFAULT_FUSION_WEIGHT }),
      runId: r.id,
      overall: value(key),
      categories,
      pairs: r.totalSteps ?? 0,
      finishedAt: r.finishedAt ?? 0,
    });
  }
  rows.sort((x, y) => y.overall - x.overall);
  return { method: a.method, alpha: a.alpha, categories: [...cats].sort(), rows };
}

function csvCell(v: string | number): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? (100 * v).toFixed(2) : '') : v;
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export async function startEvaluation(ctx: AppContext, a: EvaluationSettings) {
  const svc = ctx.services();
  const modelDir = modelFolder(svc, a.modelId, 'stable-diffusion');
  const p = svc.repos.prompts.get(a.promptId);
  if (!p) throw new AppError('NOT_FOUND', `no prompt with id ${a.promptId}`);
  const spec = p.kind === 'baseline' ? (p.config as { spec?: PromptSpec }).spec : undefined;
  if (spec) requirePromptSupported(svc, modelDir, spec);
  const needsDino = p.kind === 'cpm' || spec?.kind === 'dino';
  if (needsDino && !a.dinoModelId) throw new AppError('INVALID_ARGUMENT', `${p.name} needs a DINOv2 model: choose one`);
  const features = { features: a.features ?? 'sd', weight: a.fusionWeight ?? DEFAULT_FUSION_WEIGHT };
  if (features.features !== 'sd' && !a.dinoModelId) throw new AppError('INVALID_ARGUMENT', `${methodLabel(p.name, features)} needs a DINOv2 model: choose one`);
  const dinoDir = a.dinoModelId ? modelFolder(svc, a.dinoModelId, 'dinov2') : undefined;
  const ds = svc.repos.datasets.find(a.datasetId);
  if (!ds) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  const args = {
    modelDir,
    dinoDir,
    dataset: String(ds.id),
    split: a.split,
    category: a.category,
    timestep: a.timestep,
    ensemble: a.ensemble,
    size: a.size,
    seed: a.seed,
    frame: a.frame,
    limit: a.limit,
    promptId: a.promptId,
    features,
  };
  const { job } = ctx.jobs.run('eval', `evaluating ${methodLabel(p.name, features)} on ${ds.name}/${a.split}`, (task) => evaluateInProcess(jobRunner(ctx), svc, args, task));
  return { jobId: job.id };
}

export async function pckTableOf(ctx: AppContext, a: PckTableQuery) {
  return pckTable(ctx, a);
}

export async function pckCsv(ctx: AppContext, a: PckTableQuery) {
  const t = pckTable(ctx, a);
  const ds = ctx.services().repos.datasets.find(a.datasetId);
  const lines = [
    ['prompt', 'all', ...t.categories].map(csvCell).join(','),
    ...t.rows.map((r) => [csvCell(r.prompt), csvCell(r.overall), ...t.categories.map((c) => csvCell(r.categories[c] ?? NaN))].join(',')),
  ];
  return { csv: `${lines.join('\n')}\n`, filename: `pck-${(ds?.name ?? 'dataset').replace(/\W+/g, '_')}-${a.split}-${a.method}-${a.alpha}.csv` };
}
