/**
 * Training runs as an application service: validate the configuration before anything runs,
 * create (or resume) the run record, train, and stream metrics, validation results and
 * checkpoints into the store; the finished prompt goes to its file and into the store.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../shared/errors.js';
import { benchmarkOf, toEvalPair } from '../engine/datasets/pair-geometry.js';
import { readSafetensors } from '../engine/io/safetensors.js';
import type { TaskContext } from '../engine/jobs/progress.js';
import { inspectDinoFolder } from '../engine/sd4match/model-folder.js';
import type { PromptKind } from '../engine/sd4match/prompts.js';
import { SdModel } from '../engine/sd4match/sd-model.js';
import { checkTrainingFits, modelFileBytes } from '../engine/sd4match/memory-estimate.js';
import { type Schedule, TRAIN_DEFAULTS, type TrainConfig } from '../engine/sd4match/train-config.js';
import { keypointRows } from '../engine/sd4match/training-batch.js';
import { type StepReport, Trainer, type TrainResult, type ValidationReport } from '../engine/sd4match/trainer.js';
import { requireCategory, type Services } from './context.js';
import { modelRecord, storeLearnedPrompt } from './records.js';

/** How often step metrics are written to the store while a run trains. */
const METRICS_FLUSH_MS = 2000;

export interface TrainArgs {
  modelDir: string;
  dinoDir?: string;
  dataset: string;
  prompt: PromptKind;
  /** Restrict training (and validation) to one category. */
  category?: string;
  steps: number;
  batch: number;
  lr: number;
  schedule?: Schedule;
  accumulate?: number;
  timestep?: number;
  size?: number;
  valEvery?: number;
  valPairs?: number;
  checkpointEvery?: number;
  seed?: number;
  /** Where the prompt file goes (default: the run folder). */
  out?: string;
  name?: string;
}

export interface TrainHooksOut {
  onStart?(info: { runId: number; provider: string; config: TrainConfig; resumedFrom: number }): void;
  onStep?(r: StepReport & { runId: number }): void;
  onValidation?(r: ValidationReport & { runId: number }): void;
  onLog?(message: string): void;
}

export interface TrainOutcome {
  runId: number;
  promptId: number;
  result: TrainResult;
  seconds: number;
  provider: string;
}

export function runDirOf(svc: Services, runId: number): string {
  return path.join(path.dirname(svc.store.file), 'runs', String(runId));
}

function configOf(a: TrainArgs): TrainConfig {
  return {
    ...TRAIN_DEFAULTS,
    prompt: a.prompt,
    steps: a.steps,
    batch: a.batch,
    lr: a.lr,
    schedule: a.schedule ?? TRAIN_DEFAULTS.schedule,
    accumulate: a.accumulate ?? 1,
    timestep: a.timestep ?? TRAIN_DEFAULTS.timestep,
    size: a.size ?? TRAIN_DEFAULTS.size,
    valEvery: a.valEvery ?? TRAIN_DEFAULTS.valEvery,
    valPairs: a.valPairs ?? TRAIN_DEFAULTS.valPairs,
    checkpointEvery: a.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery,
    seed: a.seed ?? 0,
  };
}

/** Starts a new run (resumeRunId undefined) or resumes one; everything is checked before step 1. */
export async function runTraining(svc: Services, argsIn: TrainArgs | null, task: TaskContext, hooks: TrainHooksOut = {}, resumeRunId?: number): Promise<TrainOutcome> {
  let args: TrainArgs;
  let runId: number;
  if (resumeRunId !== undefined) {
    await svc.store.write(() => svc.repos.runs.recoverInterrupted());
    const run = svc.repos.runs.get(resumeRunId);
    if (!run) throw new AppError('NOT_FOUND', `no run with id ${resumeRunId}`);
    if (run.kind !== 'train') throw new AppError('INVALID_ARGUMENT', `run ${resumeRunId} is an evaluation, not a training run`);
    if (run.status === 'completed') throw new AppError('INVALID_ARGUMENT', `run ${resumeRunId} already completed`);
    if (run.status === 'running') throw new AppError('INVALID_ARGUMENT', `run ${resumeRunId} is running in process ${run.pid}`);
    if (run.status !== 'queued' && !fs.existsSync(path.join(runDirOf(svc, run.id), 'checkpoint.safetensors'))) {
      throw new AppError('INVALID_ARGUMENT', `run ${resumeRunId} has no checkpoint to resume from; start a new run`);
    }
    args = (run.config as { args: TrainArgs }).args;
    runId = run.id;
  } else {
    if (!argsIn) throw new AppError('INTERNAL', 'no training arguments');
    args = argsIn;
    runId = -1;
  }
  const cfg = configOf(args);
  const ds = svc.repos.datasets.resolve(args.dataset);
  const categoryId = args.category ? requireCategory(svc, ds.id, ds.name, args.category) : undefined;
  const train = svc.repos.pairs.list({ datasetId: ds.id, split: 'trn', categoryId }).map(toEvalPair);
  const val = svc.repos.pairs.list({ datasetId: ds.id, split: 'val', categoryId }).map((r) => toEvalPair({ ...r, flip: 0 }));
  if (train.length === 0) throw new AppError('INVALID_ARGUMENT', `dataset '${ds.name}' has no training (trn) pairs${args.category ? ` in category '${args.category}'` : ''}`);
  const sd = SdModel.open(args.modelDir, { cacheDir: svc.cacheDir, task });
  const dino = args.dinoDir ? inspectDinoFolder(args.dinoDir) : null;
  try {
    // refuse what will not fit before anything is recorded (this builds the step graph into its cache)
    task.progress({ stage: 'planning memory', done: 0, total: 1, detail: `${cfg.size} px, batch ${cfg.batch}` });
    checkTrainingFits(sd, { size: cfg.size, batch: cfg.batch, accumulate: cfg.accumulate, prompt: cfg.prompt, N: keypointRows(train), extraWeights: dino ? modelFileBytes(dino.model) : 0 }, await sd.provider());
  } catch (e) {
    await sd.dispose();
    // a run queued by the UI ends with the reason (a resumable one stays resumable)
    if (runId !== -1) await svc.store.write(() => svc.repos.runs.fail(runId, (e as Error).message));
    throw e;
  }
  const modelId = await modelRecord(svc, sd);
  if (runId === -1) {
    const created = await svc.store.write(() =>
      svc.repos.runs.create({ kind: 'train', name: args.name ?? `${args.prompt} on ${ds.name}`, config: { args, train: cfg }, modelId, datasetId: ds.id, totalSteps: cfg.steps }),
    );
    runId = created.id;
  }
  const runDir = runDirOf(svc, runId);
  const out = args.out ?? path.join(runDir, 'prompt.safetensors');
  const pending: { step: number; values: Record<string, number> }[] = [];
  let flushedAt = Date.now();
  const flush = async () => {
    flushedAt = Date.now();
    if (!pending.length) return;
    const batch = pending.splice(0);
    await svc.store.write(() => {
      for (const p of batch) svc.repos.runs.recordMetrics(runId, p.step, p.values);
      svc.repos.runs.progress(runId, batch[batch.length - 1].step);
    });
  };
  let trainer: Trainer;
  try {
    trainer = new Trainer(sd, dino, { train, val, benchmark: benchmarkOf(ds.format), dataset: ds.name }, cfg, {
      runDir,
      runId: String(runId),
      cache: svc.tensors,
      task,
      hooks: {
        onStep: (r) => {
          pending.push({ step: r.step, values: { loss: r.loss, lr: r.lr, steps_per_second: r.stepsPerSecond } });
          // a window opening the run mid-way reads its history from the store (past a checkpoint
          // these rows are provisional: a resume truncates what comes after the checkpoint it uses)
          if (Date.now() - flushedAt >= METRICS_FLUSH_MS) flush().catch((e: unknown) => hooks.onLog?.(`could not store metrics: ${(e as Error).message}`));
          hooks.onStep?.({ ...r, runId });
        },
        onValidation: (v) => {
          pending.push({ step: v.step, values: Object.fromEntries(Object.entries(v.pck).map(([a, x]) => [`val_pck/${a}`, x])) });
          hooks.onValidation?.({ ...v, runId });
        },
        onCheckpoint: (c) => {
          const bytes = fs.statSync(c.file).size;
          const sha = crypto.createHash('sha256').update(fs.readFileSync(c.file)).digest('hex');
          void flush().then(() =>
            svc.store.write(() => {
              const prev = svc.repos.runs.checkpoints(runId).find((k) => k.step === c.step);
              if (!prev) svc.repos.runs.addCheckpoint({ runId, step: c.step, path: c.file, bytes, sha256: sha });
            }),
          );
        },
        onLog: hooks.onLog,
      },
    });
    // a run created ahead (queued by the UI) starts fresh; one with a checkpoint continues from it
    const resuming = resumeRunId !== undefined && fs.existsSync(path.join(runDir, 'checkpoint.safetensors'));
    const resumedFrom = resuming ? readCheckpointStep(runDir) : 0;
    await trainer.prepare(resuming);
    await svc.store.write(() => svc.repos.runs.truncateMetricsAfter(runId, resumedFrom));
  } catch (e) {
    await sd.dispose();
    if (resumeRunId === undefined) await svc.store.write(() => svc.repos.runs.fail(runId, (e as Error).message));
    throw e;
  }
  const provider = await sd.provider();
  await svc.store.write(() => svc.repos.runs.start(runId, { provider }));
  hooks.onStart?.({ runId, provider, config: cfg, resumedFrom: trainer.stepCount });
  const start = Date.now();
  try {
    const result = await trainer.run(out);
    await flush();
    const promptId = await storeLearnedPrompt(svc, result.prompt, { modelId, datasetId: ds.id, runId, step: result.bestStep ?? result.steps, name: args.name ?? `${args.prompt} prompt (run ${runId})` });
    await svc.store.write(() => svc.repos.runs.complete(runId, promptId));
    return { runId, promptId, result, seconds: (Date.now() - start) / 1000, provider };
  } catch (e) {
    await flush().catch(() => {});
    const cancelled = (e as AppError).code === 'CANCELLED';
    await svc.store.write(() => (cancelled ? svc.repos.runs.cancel(runId) : svc.repos.runs.fail(runId, (e as Error).message)));
    throw e;
  } finally {
    await sd.dispose();
  }
}

function readCheckpointStep(runDir: string): number {
  const f = path.join(runDir, 'checkpoint.safetensors');
  return fs.existsSync(f) ? Number(readSafetensors(f).metadata.step ?? 0) : 0;
}
