/**
 * Runs, prompts, evaluations and Compare. Training and evaluation run as jobs in job
 * processes; Compare's predictions and heatmaps go to the long-lived inference process. The engine
 * only validates, records and relays, so the UI stays responsive during a run, and a job process
 * killed for memory fails its job and marks its run failed (resumable from its checkpoint).
 */
import fs from 'node:fs';
import { AppError } from '../../shared/errors.js';
import { JobProcessGone } from '../../engine/jobs/job-process.js';
import { providerChoice } from '../../engine/onnx/providers.js';
import { resolveProviders } from '../../engine/onnx/runtime.js';
import type { JobTaskContext } from '../../engine/jobs/manager.js';
import { benchmarkOf, toEvalPair } from '../../engine/datasets/pair-geometry.js';
import { pckThreshold } from '../../engine/sd4match/matching/evaluate.js';
import { describePrompt, type PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import type { RunRecord } from '../../store/repositories/runs.js';
import { FEATURE_DEFAULTS } from '../../contract/runs.js';
import type { ComparePairRow, InvokeParsedArgs, InvokeResult, MemoryCheck, PckTable, PromptSummary, RunDetails, RunSummary } from '../../contract/index.js';
import type { AppContext } from '../app/app.js';
import { modelFolder as modelFolderOf, requireCategory, type Services } from '../app/context.js';
import { requireModelCan, requirePromptSupported } from '../models/models.js';
import { recordProcessDeath } from './process-death.js';
import { endActiveRun, heldElsewhere, isActive, recoverRuns, runDirOf, runJobs } from './lifecycle.js';
import type { TrainArgs, TrainRequest } from '../training/train.js';

const RESUMABLE = new Set(['paused', 'cancelled', 'failed']);

function bestPck(svc: Services, r: RunRecord): number | null {
  if (r.kind === 'train') {
    const s = svc.repos.runs.metricSeries(r.id, 'val_pck/0.1');
    return s.length ? Math.max(...s.map((x) => x.value)) : null;
  }
  const s = svc.repos.runs.metricSeries(r.id, 'pck/kernelsoftmax/0.1');
  return s.length ? s[s.length - 1].value : null;
}

function summary(ctx: AppContext, r: RunRecord): RunSummary {
  const svc = ctx.services();
  const ds = r.datasetId !== null ? svc.repos.datasets.find(r.datasetId) : undefined;
  const jobId = runJobs(ctx).get(r.id) ?? null;
  const job = jobId ? ctx.jobs.get(jobId) : undefined;
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    status: r.status,
    datasetId: r.datasetId,
    dataset: ds?.name ?? null,
    modelId: r.modelId,
    promptId: r.promptId,
    provider: r.provider,
    step: r.step,
    totalSteps: r.totalSteps,
    bestPck: bestPck(svc, r),
    config: r.config,
    failureReason: r.failureReason,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    seconds: r.startedAt !== null ? (r.activeMs + (r.status === 'running' && r.resumedAt !== null ? Math.max(0, Date.now() - r.resumedAt) : 0)) / 1000 : null,
    pastSeconds: r.activeMs / 1000,
    resumedAt: r.status === 'running' ? r.resumedAt : null,
    jobId: job && job.state === 'running' ? jobId : null,
    resumable: r.kind === 'train' && RESUMABLE.has(r.status) && fs.existsSync(`${runDirOf(svc, r.id)}/checkpoint.safetensors`),
  };
}

function requireRun(ctx: AppContext, id: number): RunRecord {
  const r = ctx.services().repos.runs.get(id);
  if (!r) throw new AppError('NOT_FOUND', `no run with id ${id}`);
  return r;
}

function modelFolder(ctx: AppContext, id: number, kind: 'stable-diffusion' | 'dinov2'): string {
  return modelFolderOf(ctx.services(), id, kind);
}

/**
 * What a training configuration refers to, checked as `runs:train` and `runs:estimate` need it:
 * registered model folders (the job opens them: parsing a UNet here would stall every window, and
 * a folder that became unusable fails the run with the reason), the dataset and category, and
 * enough training pairs for the batch.
 */
function trainTarget(ctx: AppContext, a: Pick<InvokeParsedArgs<'runs:estimate'>, 'modelId' | 'dinoModelId' | 'datasetId' | 'prompt' | 'category' | 'batch'>) {
  const svc = ctx.services();
  const modelDir = modelFolder(ctx, a.modelId, 'stable-diffusion');
  requireModelCan(svc, a.modelId, a.prompt === 'cpm' ? 'cpm' : 'training');
  let dinoDir: string | undefined;
  if (a.prompt === 'cpm') {
    if (!a.dinoModelId) throw new AppError('INVALID_ARGUMENT', 'CPM prompts need a DINOv2 model: choose one');
    dinoDir = modelFolder(ctx, a.dinoModelId, 'dinov2');
  }
  const ds = svc.repos.datasets.find(a.datasetId);
  if (!ds) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  const categoryId = a.category ? requireCategory(svc, ds.id, ds.name, a.category) : undefined;
  const trn = svc.repos.pairs.list({ datasetId: ds.id, split: 'trn', categoryId }).length;
  if (trn === 0) throw new AppError('INVALID_ARGUMENT', `dataset '${ds.name}' has no training (trn) pairs${a.category ? ` in category '${a.category}'` : ''}`);
  if (a.batch > trn) throw new AppError('INVALID_ARGUMENT', `batch ${a.batch} is larger than the ${trn} training pairs of ${ds.name}`);
  return { modelDir, dinoDir, ds };
}

/**
 * Runs a training or evaluation task in a job process; if the process dies, the runs it was
 * running (and `runIds` not started yet) are marked failed here, with the reason.
 */
async function inRunProcess<T>(ctx: AppContext, task: JobTaskContext, name: 'train' | 'eval', payload: unknown, runIds: number[] = []): Promise<T> {
  try {
    return await ctx.jobs.inProcess<T>(name, payload, task);
  } catch (e) {
    if (e instanceof JobProcessGone) throw await recordProcessDeath(ctx.services(), e, { runIds });
    throw e;
  }
}

/**
 * Runs a training request (a queued run started afresh, or a resume) as a job and relays the run's
 * status to the UI. However the job ends (done, failed before or during training, cancelled before
 * its process started, its process killed), the run ends with it: whatever the job process could
 * not record is recorded here with the job's reason.
 */
function startTrainJob(ctx: AppContext, request: Exclude<TrainRequest, { kind: 'new' }>, title: string): string {
  const svc = ctx.services();
  const runId = request.runId;
  const { job, done } = ctx.jobs.run('train', title, (task) => inRunProcess(ctx, task, 'train', { db: svc.store.file, request }, [runId]));
  runJobs(ctx).set(runId, job.id);
  const announce = () => {
    const r = svc.repos.runs.get(runId);
    if (r) ctx.events.emit('run:updated', summary(ctx, r));
  };
  ctx.events.emit('run:updated', summary(ctx, requireRun(ctx, runId)));
  const unsubscribe = ctx.events.on('train:started', (s) => {
    if (s.runId === runId) announce();
  });
  done
    .then(
      () => null,
      (e: unknown) => e as Error,
    )
    .then(async (error) => {
      unsubscribe();
      runJobs(ctx).delete(runId);
      const r = svc.store.isOpen ? svc.repos.runs.get(runId) : undefined;
      // still active, so its process did not record an end: say it here (a resume that never ran stays as it was)
      if (r && isActive(r.status)) {
        const cancelled = !error || (error as AppError).code === 'CANCELLED';
        await svc.store.write(() => endActiveRun(svc, runId, cancelled ? 'cancelled' : 'failed', cancelled ? null : error.message)).catch(() => {});
      }
      if (svc.store.isOpen) announce();
    })
    .catch(() => {});
  return job.id;
}

const BASELINES: { name: string; spec: PromptSpec }[] = [
  { name: describePrompt({ kind: 'empty' }), spec: { kind: 'empty' } },
  { name: describePrompt({ kind: 'template' }), spec: { kind: 'template' } },
  { name: describePrompt({ kind: 'dino' }), spec: { kind: 'dino' } },
];

function baselineKind(spec: PromptSpec | undefined): 'empty' | 'template' | 'dino' | null {
  return spec?.kind === 'empty' || spec?.kind === 'template' || spec?.kind === 'dino' ? spec.kind : null;
}

function pckTable(ctx: AppContext, a: { datasetId: number; split: string; method: string; alpha: number }): PckTable {
  const svc = ctx.services();
  if (!svc.repos.datasets.find(a.datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
  // a timestep sweep's evaluations are read as sweeps (services/sweeps.ts), not as a prompt's latest PCK
  const runs = svc.repos.runs
    .list({ kind: 'eval', status: 'completed' })
    .filter((r) => r.datasetId === a.datasetId && (r.config as { split?: string }).split === a.split && !(r.config as { category?: string | null }).category && !(r.config as { sweep?: string }).sweep);
  const latest = new Map<number, RunRecord>();
  for (const r of runs) {
    if (r.promptId === null) continue;
    const prev = latest.get(r.promptId);
    if (!prev || (r.finishedAt ?? 0) > (prev.finishedAt ?? 0)) latest.set(r.promptId, r);
  }
  const key = `pck/${a.method}/${a.alpha}`;
  const cats = new Set<string>();
  const rows: PckTable['rows'] = [];
  for (const [promptId, r] of latest) {
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
    rows.push({ promptId, prompt: svc.repos.prompts.get(promptId)?.name ?? `prompt ${promptId}`, runId: r.id, overall: value(key), categories, pairs: r.totalSteps ?? 0, finishedAt: r.finishedAt ?? 0 });
  }
  rows.sort((x, y) => y.overall - x.overall);
  return { method: a.method, alpha: a.alpha, categories: [...cats].sort(), rows };
}

function csvCell(v: string | number): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? (100 * v).toFixed(2) : '') : v;
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export async function listRuns(ctx: AppContext, { kind }: InvokeParsedArgs<'runs:list'>) {
    const svc = ctx.services();
    return svc.repos.runs.list(kind ? { kind } : {}).sort((a, b) => b.id - a.id).map((r) => summary(ctx, r));
  }

export async function runDetails(ctx: AppContext, { id }: InvokeParsedArgs<'runs:get'>): Promise<RunDetails> {
    const r = requireRun(ctx, id);
    const svc = ctx.services();
    return { ...summary(ctx, r), checkpoints: svc.repos.runs.checkpoints(id).map((c) => ({ step: c.step, createdAt: c.createdAt })), metricNames: svc.repos.runs.metricNames(id) };
  }

export async function runMetrics(ctx: AppContext, { id, names, afterStep }: InvokeParsedArgs<'runs:metrics'>) {
    requireRun(ctx, id);
    const svc = ctx.services();
    const wanted = names ?? svc.repos.runs.metricNames(id);
    return Object.fromEntries(wanted.map((n) => [n, svc.repos.runs.metricSeries(id, n, afterStep)]));
  }

export async function startTraining(ctx: AppContext, a: InvokeParsedArgs<'runs:train'>) {
    const svc = ctx.services();
    const { modelDir, dinoDir, ds } = trainTarget(ctx, a);
    const args: TrainArgs = {
      modelDir,
      dinoDir,
      dataset: String(ds.id),
      prompt: a.prompt,
      category: a.category,
      steps: a.steps,
      batch: a.batch,
      lr: a.lr,
      schedule: a.schedule,
      accumulate: a.accumulate,
      timestep: a.timestep,
      size: a.size,
      valEvery: a.valEvery,
      valPairs: a.valPairs,
      checkpointEvery: a.checkpointEvery,
      seed: a.seed,
      name: a.name,
      // the request is recorded with the run (and a resume keeps it); one that cannot run here is refused now
      provider: (await resolveProviders(a.provider ?? providerChoice(), a.provider ? 'the run form' : 'the Settings')).requested,
    };
    const name = a.name ?? `${a.prompt} on ${ds.name}`;
    const run = await svc.store.write(() => svc.repos.runs.create({ kind: 'train', name, config: { args }, modelId: a.modelId, datasetId: ds.id, totalSteps: a.steps }));
    const jobId = startTrainJob(ctx, { kind: 'queued', runId: run.id }, `training ${name}`);
    return { runId: run.id, jobId };
  }

export async function estimateTraining(ctx: AppContext, a: InvokeParsedArgs<'runs:estimate'>) {
    trainTarget(ctx, a);
    // the inference process plans it: building the step graph takes seconds on a full-size model
    return ctx.inference().request<MemoryCheck>('estimateTraining', {
      modelId: a.modelId,
      ...(a.prompt === 'cpm' ? { dinoModelId: a.dinoModelId } : {}),
      datasetId: a.datasetId,
      ...(a.category ? { category: a.category } : {}),
      prompt: a.prompt,
      batch: a.batch,
      accumulate: a.accumulate,
      size: a.size,
    });
  }

export async function resumeTraining(ctx: AppContext, { id }: InvokeParsedArgs<'runs:resume'>) {
    const svc = ctx.services();
    await svc.store.write(() => recoverRuns(svc));
    const r = requireRun(ctx, id);
    if (r.kind !== 'train') throw new AppError('INVALID_ARGUMENT', `run ${id} is an evaluation; only training runs resume`);
    // a run that just stopped may still be finishing its job (its process records the status first)
    const previous = runJobs(ctx).get(id);
    for (let waited = 0; previous && ctx.jobs.get(previous)?.state === 'running' && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    if (previous && ctx.jobs.get(previous)?.state === 'running') throw new AppError('INVALID_ARGUMENT', `run ${id} is still running`);
    runJobs(ctx).delete(id);
    if (!summary(ctx, r).resumable) throw new AppError('INVALID_ARGUMENT', `run ${id} is ${r.status} and cannot be resumed${r.status === 'completed' ? '' : ' (no checkpoint)'}`);
    return { runId: id, jobId: startTrainJob(ctx, { kind: 'resume', runId: id }, `training ${r.name} (resumed)`) };
  }

/**
 * Cancels an active run: its job here is cancelled (a training run checkpoints first). A run whose
 * process is gone is failed with the reason (it is not running anywhere); one that another process
 * runs (a `train` in a terminal, another server) is refused with where it runs.
 */
export async function cancelRun(ctx: AppContext, { id }: InvokeParsedArgs<'runs:cancel'>) {
  const svc = ctx.services();
  requireRun(ctx, id);
  const jobId = runJobs(ctx).get(id);
  if (jobId && ctx.jobs.cancel(jobId)) return { cancelled: true };
  await svc.store.write(() => recoverRuns(svc));
  const r = requireRun(ctx, id);
  if (heldElsewhere(r)) throw new AppError('INVALID_ARGUMENT', `run ${id} is ${r.status} in another process (pid ${r.pid}: a command line \`train\` or another workstation); stop it there`);
  if (isActive(r.status)) {
    await svc.store.write(() => endActiveRun(svc, id, 'cancelled', null));
    ctx.events.emit('run:updated', summary(ctx, requireRun(ctx, id)));
    return { cancelled: true };
  }
  return { cancelled: false };
}

/** Deletes a run with its metrics, checkpoints and files; an active run is cancelled first. */
export async function deleteRun(ctx: AppContext, { id }: InvokeParsedArgs<'runs:delete'>) {
  const svc = ctx.services();
  let r = requireRun(ctx, id);
  if (isActive(r.status) || runJobs(ctx).has(id)) {
    await cancelRun(ctx, { id });
    // its job checkpoints and records its end; wait for that before removing its folder
    for (let waited = 0; runJobs(ctx).has(id) && waited < 60_000; waited += 50) await new Promise((res) => setTimeout(res, 50));
    r = requireRun(ctx, id);
    if (runJobs(ctx).has(id) || isActive(r.status)) throw new AppError('INVALID_ARGUMENT', `run ${id} is still stopping; delete it again in a moment`);
  }
  await svc.store.write(() => svc.repos.runs.delete(id));
  fs.rmSync(runDirOf(svc, id), { recursive: true, force: true });
  return { deleted: true };
}

export async function listPrompts(ctx: AppContext, { datasetId }: InvokeParsedArgs<'prompts:list'>): Promise<PromptSummary[]> {
    const svc = ctx.services();
    if (datasetId !== undefined && !svc.repos.datasets.find(datasetId)) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
    await svc.store.write(() => {
      const have = new Set(svc.repos.prompts.list({ kind: 'baseline' }).map((p) => p.name));
      for (const b of BASELINES) if (!have.has(b.name)) svc.repos.prompts.create({ name: b.name, kind: 'baseline', config: { spec: b.spec } });
    });
    return svc.repos.prompts
      .list({})
      .filter((p) => datasetId === undefined || p.kind === 'baseline' || p.datasetId === datasetId)
      .map((p) => ({
        id: p.id,
        name: p.name,
        kind: p.kind,
        runId: p.runId,
        datasetId: p.datasetId,
        modelId: p.modelId,
        categories: ((p.config as { categories?: string[] }).categories ?? []) as string[],
        createdAt: p.createdAt,
        needsDino: p.kind === 'cpm' || (p.kind === 'baseline' && (p.config as { spec?: PromptSpec }).spec?.kind === 'dino'),
        baseline: p.kind === 'baseline' ? baselineKind((p.config as { spec?: PromptSpec }).spec) : null,
      }));
  }

export async function startEvaluation(ctx: AppContext, a: InvokeParsedArgs<'evals:start'>) {
    const svc = ctx.services();
    const modelDir = modelFolder(ctx, a.modelId, 'stable-diffusion');
    const p = svc.repos.prompts.get(a.promptId);
    if (!p) throw new AppError('NOT_FOUND', `no prompt with id ${a.promptId}`);
    const spec = p.kind === 'baseline' ? (p.config as { spec?: PromptSpec }).spec : undefined;
    if (spec) requirePromptSupported(svc, modelDir, spec);
    const needsDino = p.kind === 'cpm' || spec?.kind === 'dino';
    if (needsDino && !a.dinoModelId) throw new AppError('INVALID_ARGUMENT', `${p.name} needs a DINOv2 model: choose one`);
    const dinoDir = a.dinoModelId ? modelFolder(ctx, a.dinoModelId, 'dinov2') : undefined;
    const ds = svc.repos.datasets.find(a.datasetId);
    if (!ds) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
    const args = { modelDir, dinoDir, dataset: String(ds.id), split: a.split, category: a.category, timestep: a.timestep, ensemble: a.ensemble, size: a.size, seed: a.seed, frame: a.frame, limit: a.limit, promptId: a.promptId };
    const { job } = ctx.jobs.run('eval', `evaluating ${p.name} on ${ds.name}/${a.split}`, (task) => inRunProcess(ctx, task, 'eval', { db: svc.store.file, args }));
    return { jobId: job.id };
  }

export async function pckTableOf(ctx: AppContext, a: InvokeParsedArgs<'evals:table'>) {
  return pckTable(ctx, a);
}

export async function pckCsv(ctx: AppContext, a: InvokeParsedArgs<'evals:csv'>) {
    const t = pckTable(ctx, a);
    const ds = ctx.services().repos.datasets.find(a.datasetId);
    const lines = [['prompt', 'all', ...t.categories].map(csvCell).join(','), ...t.rows.map((r) => [csvCell(r.prompt), csvCell(r.overall), ...t.categories.map((c) => csvCell(r.categories[c] ?? NaN))].join(','))];
    return { csv: `${lines.join('\n')}\n`, filename: `pck-${(ds?.name ?? 'dataset').replace(/\W+/g, '_')}-${a.split}-${a.method}-${a.alpha}.csv` };
  }

export async function comparePairs(ctx: AppContext, a: InvokeParsedArgs<'compare:pairs'>) {
    const svc = ctx.services();
    const ds = svc.repos.datasets.find(a.datasetId);
    if (!ds) throw new AppError('NOT_FOUND', `no dataset with id ${a.datasetId}`);
    const categoryId = a.category ? requireCategory(svc, ds.id, ds.name, a.category) : undefined;
    const pairs = svc.repos.pairs.list({ datasetId: a.datasetId, split: a.split, categoryId });
    const errors = new Map<number, number>();
    if (a.evalRunId) for (const e of svc.repos.evalResults.list(a.evalRunId, 'kernelsoftmax')) errors.set(e.pairId, e.error);
    const rows: ComparePairRow[] = pairs.map((p) => ({ id: p.id, name: p.name, category: p.category, srcImageId: p.src.imageId, trgImageId: p.trg.imageId, nPts: p.nPts, error: errors.get(p.id) ?? null }));
    if (a.evalRunId) rows.sort((x, y) => (y.error ?? -1) - (x.error ?? -1));
    return { pairs: rows.slice(a.offset, a.offset + a.limit), total: rows.length };
  }

export async function comparePair(ctx: AppContext, { pairId }: InvokeParsedArgs<'compare:pair'>) {
    const r = ctx.services().repos.pairs.get(pairId);
    if (!r) throw new AppError('NOT_FOUND', `no pair with id ${pairId}`);
    const p = toEvalPair(r.split === 'trn' ? r : { ...r, flip: 0 });
    return {
      id: r.id,
      name: r.name,
      category: r.category,
      split: r.split,
      src: { imageId: r.src.imageId, width: r.src.width, height: r.src.height, kps: p.srcKps, bbox: r.src.bbox },
      trg: { imageId: r.trg.imageId, width: r.trg.width, height: r.trg.height, kps: p.trgKps, bbox: r.trg.bbox },
      flags: p.flags ?? {},
      threshold: pckThreshold(p, benchmarkOf(r.format), 'original', FEATURE_DEFAULTS.size),
    };
  }

export async function predict(ctx: AppContext, a: InvokeParsedArgs<'compare:predict'>): Promise<InvokeResult<'compare:predict'>> {
  return ctx.inference().request('predict', a);
}

export async function heatmap(ctx: AppContext, a: InvokeParsedArgs<'compare:heatmap'>): Promise<InvokeResult<'compare:heatmap'>> {
  return ctx.inference().request('heatmap', a);
}

export async function estimateCompare(ctx: AppContext, a: InvokeParsedArgs<'compare:estimate'>) {
    modelFolder(ctx, a.modelId, 'stable-diffusion');
    return ctx.inference().request<MemoryCheck>('estimateFeatures', a);
  }
