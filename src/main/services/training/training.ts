/**
 * Training's use cases: a run is started (its settings checked, the run recorded as queued, then
 * trained by a job) or resumed (a stopped run continues from its checkpoint) by two distinct
 * paths, and a configuration's memory is estimated before it runs. The job process's body is
 * task.ts; the training itself train.ts. The command line drives the same `trainInProcess`.
 */
import { AppError } from '../../shared/errors.js';
import { providerChoice, type ProviderChoice } from '../../engine/onnx/providers.js';
import { resolveProviders } from '../../engine/onnx/runtime.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import type { Schedule } from '../../engine/sd4match/training/train-config.js';
import { type AppContext, jobRunner } from '../app/app.js';
import { modelFolder, requireCategory, type Services } from '../app/context.js';
import type { TaskRunner } from '../jobs/tasks.js';
import type { TrainingEstimateInput } from '../memory/estimates.js';
import { askInference } from '../compare/ask.js';
import { requireModelCan } from '../models/capabilities.js';
import { inRunProcess, type ProcessDeathOptions } from '../runs/process-death.js';
import { endActiveRun, isActive, recoverRuns, runJobs } from '../runs/lifecycle.js';
import { requireRun, runSummary } from '../runs/runs.js';
import type { TrainArgs, TrainRequest } from './train.js';
import type { TrainedPrompt } from './task.js';

/** A training run's settings, as a window launches it: registered models and dataset by id. */
export interface TrainSettings {
  modelId: number;
  /** A DINOv2 model (CPM prompts). */
  dinoModelId?: number;
  datasetId: number;
  prompt: 'single' | 'class' | 'cpm';
  /** Train on one category only. */
  category?: string;
  steps: number;
  batch: number;
  lr: number;
  schedule: Schedule;
  accumulate: number;
  timestep: number;
  size: number;
  valEvery: number;
  valPairs: number;
  checkpointEvery: number;
  seed: number;
  name?: string;
  /** The execution provider (default: the engine's setting); recorded with the run. */
  provider?: ProviderChoice;
}

/**
 * Trains in a job process (`run`: the API's job manager, or a process the command supervises): a
 * new run, a queued one or a resume. If the process dies, the runs it was running (and `runIds`
 * not started yet) are marked failed here with the reason; `narrate` logs the run's start and
 * validations as lines for a terminal.
 */
export function trainInProcess(run: TaskRunner, svc: Services, request: TrainRequest, task: TaskContext, opts: ProcessDeathOptions & { narrate?: boolean } = {}): Promise<TrainedPrompt> {
  const { narrate, ...death } = opts;
  return inRunProcess(run, svc, 'train', { db: svc.store.file, request, ...(narrate ? { narrate } : {}) }, task, death);
}

/**
 * What a training configuration refers to, checked as starting a run and estimating its memory
 * need it: registered model folders (the job opens them: parsing a UNet here would stall every
 * window, and a folder that became unusable fails the run with the reason), the dataset and
 * category, and enough training pairs for the batch.
 */
function trainTarget(ctx: AppContext, a: Pick<TrainingEstimateInput, 'modelId' | 'dinoModelId' | 'datasetId' | 'prompt' | 'category' | 'batch'>) {
  const svc = ctx.services();
  const modelDir = modelFolder(svc, a.modelId, 'stable-diffusion');
  requireModelCan(svc, a.modelId, a.prompt === 'cpm' ? 'cpm' : 'training');
  let dinoDir: string | undefined;
  if (a.prompt === 'cpm') {
    if (!a.dinoModelId) throw new AppError('INVALID_ARGUMENT', 'CPM prompts need a DINOv2 model: choose one');
    dinoDir = modelFolder(svc, a.dinoModelId, 'dinov2');
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
 * Runs a training request (a queued run started afresh, or a resume) as a job and relays the run's
 * status to the UI. However the job ends (done, failed before or during training, cancelled before
 * its process started, its process killed), the run ends with it: whatever the job process could
 * not record is recorded here with the job's reason.
 */
function startTrainJob(ctx: AppContext, request: Exclude<TrainRequest, { kind: 'new' }>, title: string): string {
  const svc = ctx.services();
  const runId = request.runId;
  const { job, done } = ctx.jobs.run('train', title, (task) => trainInProcess(jobRunner(ctx), svc, request, task, { runIds: [runId] }));
  runJobs(ctx).set(runId, job.id);
  const announce = () => {
    const r = svc.repos.runs.get(runId);
    if (r) ctx.events.emit('run:updated', runSummary(ctx, r));
  };
  ctx.events.emit('run:updated', runSummary(ctx, requireRun(ctx, runId)));
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

export async function startTraining(ctx: AppContext, a: TrainSettings) {
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

export async function estimateTraining(ctx: AppContext, a: TrainingEstimateInput) {
  trainTarget(ctx, a);
  // the inference process plans it: building the step graph takes seconds on a full-size model
  return askInference(ctx, 'estimateTraining', {
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

export async function resumeTraining(ctx: AppContext, id: number) {
  const svc = ctx.services();
  await svc.store.write(() => recoverRuns(svc));
  const r = requireRun(ctx, id);
  if (r.kind !== 'train') throw new AppError('INVALID_ARGUMENT', `run ${id} is an evaluation; only training runs resume`);
  // a run that just stopped may still be finishing its job (its process records the status first)
  const previous = runJobs(ctx).get(id);
  for (let waited = 0; previous && ctx.jobs.get(previous)?.state === 'running' && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  if (previous && ctx.jobs.get(previous)?.state === 'running') throw new AppError('INVALID_ARGUMENT', `run ${id} is still running`);
  runJobs(ctx).delete(id);
  if (!runSummary(ctx, r).resumable) throw new AppError('INVALID_ARGUMENT', `run ${id} is ${r.status} and cannot be resumed${r.status === 'completed' ? '' : ' (no checkpoint)'}`);
  return { runId: id, jobId: startTrainJob(ctx, { kind: 'resume', runId: id }, `training ${r.name} (resumed)`) };
}
