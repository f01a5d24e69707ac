/**
 * Training runs as an application service: validate the configuration before anything runs,
 * create (or resume) the run record, train, and stream metrics, validation results and
 * checkpoints into the store; the finished prompt goes to its file and into the store.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';
import { benchmarkOf, toEvalPair } from '../../engine/datasets/pair-geometry.js';
import { readSafetensors } from '../../engine/io/safetensors.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import { inspectDinoFolder } from '../../engine/sd4match/model/model-folder.js';
import type { PromptKind } from '../../engine/sd4match/prompts/prompts.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import { checkTrainingFits, modelFileBytes } from '../../engine/sd4match/memory/memory-estimate.js';
import { type Schedule, TRAIN_DEFAULTS, type TrainConfig } from '../../engine/sd4match/training/train-config.js';
import { keypointRows } from '../../engine/sd4match/training/training-batch.js';
import { type StepReport, Trainer, type TrainResult, type ValidationReport } from '../../engine/sd4match/training/trainer.js';
import { type ProviderChoice, providerChoice } from '../../engine/onnx/providers.js';
import { resolveProviders } from '../../engine/onnx/runtime.js';
import { requireCategory, type Services } from '../app/context.js';
import { modelRecord, storeLearnedPrompt } from '../runs/records.js';
import { endActiveRun, HEARTBEAT_MS, isActive, recoverRuns, runDirOf } from '../runs/lifecycle.js';

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
  /** The execution provider asked for (`auto` or one by name; default: the process's choice). Kept in the run's config. */
  provider?: ProviderChoice;
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

/**
 * What a training job does. `new`: a run from settings (the CLI), recorded only once they are
 * checked, memory included. `queued`: a run the API recorded ahead (queued), started afresh.
 * `resume`: a paused, cancelled or failed run continued from its checkpoint.
 */
export type TrainRequest = { kind: 'new'; args: TrainArgs } | { kind: 'queued'; runId: number } | { kind: 'resume'; runId: number };

/** The recorded run a `queued` or `resume` request is about, checked for what the request needs. */
function recordedRun(svc: Services, req: Exclude<TrainRequest, { kind: 'new' }>): { runId: number; args: TrainArgs } {
  const run = svc.repos.runs.get(req.runId);
  if (!run) throw new AppError('NOT_FOUND', `no run with id ${req.runId}`);
  if (run.kind !== 'train') throw new AppError('INVALID_ARGUMENT', `run ${req.runId} is an evaluation, not a training run`);
  if (req.kind === 'queued') {
    if (run.status !== 'queued') throw new AppError('INVALID_ARGUMENT', `run ${req.runId} is ${run.status}, not queued: it cannot be started afresh`);
  } else {
    if (run.status === 'completed') throw new AppError('INVALID_ARGUMENT', `run ${req.runId} already completed`);
    if (isActive(run.status)) throw new AppError('INVALID_ARGUMENT', `run ${req.runId} is ${run.status} in process ${run.pid}`);
    if (!fs.existsSync(path.join(runDirOf(svc, run.id), 'checkpoint.safetensors'))) {
      throw new AppError('INVALID_ARGUMENT', `run ${req.runId} has no checkpoint to resume from; start a new run`);
    }
  }
  return { runId: run.id, args: (run.config as { args: TrainArgs }).args };
}

/**
 * Runs a training request to its end; everything is checked before step 1. Every way out ends the
 * run it is about in a state with its reason: an error before or during training fails it (a
 * resume that cannot start leaves it failed and still resumable), a cancel cancels it.
 */
export async function runTraining(svc: Services, req: TrainRequest, task: TaskContext, hooks: TrainHooksOut = {}): Promise<TrainOutcome> {
  if (req.kind !== 'new') await svc.store.write(() => recoverRuns(svc));
  const recorded = req.kind === 'new' ? null : recordedRun(svc, req);
  let runId = recorded?.runId ?? -1;
  const args = recorded?.args ?? (req as { args: TrainArgs }).args;
  /** Ends the run (once recorded) with the reason of what stopped it before its training loop. */
  const endBeforeTraining = async (e: unknown) => {
    if (runId === -1) return;
    const cancelled = (e as AppError).code === 'CANCELLED';
    const message = (e as Error).message;
    await svc.store.write(() => {
      if (req.kind === 'resume') {
        // it stays resumable (its checkpoint is kept), with why this attempt did not start
        if (!cancelled) svc.repos.runs.fail(runId, `resuming failed: ${message}`);
      } else endActiveRun(svc, runId, cancelled ? 'cancelled' : 'failed', cancelled ? null : message);
    });
  };
  let sd: SdModel;
  let trainer: Trainer;
  let cfg: TrainConfig;
  let ds: ReturnType<Services['repos']['datasets']['resolve']>;
  let modelId: number;
  let out: string;
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
  try {
    cfg = configOf(args);
    ds = svc.repos.datasets.resolve(args.dataset);
    const categoryId = args.category ? requireCategory(svc, ds.id, ds.name, args.category) : undefined;
    const train = svc.repos.pairs.list({ datasetId: ds.id, split: 'trn', categoryId }).map(toEvalPair);
    const val = svc.repos.pairs.list({ datasetId: ds.id, split: 'val', categoryId }).map((r) => toEvalPair({ ...r, flip: 0 }));
    if (train.length === 0) throw new AppError('INVALID_ARGUMENT', `dataset '${ds.name}' has no training (trn) pairs${args.category ? ` in category '${args.category}'` : ''}`);
    sd = SdModel.open(args.modelDir, { cacheDir: svc.cacheDir, task, providers: args.provider });
    try {
      const dino = args.dinoDir ? inspectDinoFolder(args.dinoDir) : null;
      // refuse what will not fit before anything is recorded (this builds the step graph into its cache)
      task.progress({ stage: 'planning memory', done: 0, total: 1, detail: `${cfg.size} px, batch ${cfg.batch}` });
      checkTrainingFits(
        sd,
        { size: cfg.size, batch: cfg.batch, accumulate: cfg.accumulate, prompt: cfg.prompt, N: keypointRows(train), extraWeights: dino ? modelFileBytes(dino.model) : 0 },
        await sd.provider(),
      );
      modelId = await modelRecord(svc, sd);
      if (runId === -1) {
        // what was asked and what it resolved to, e.g. `auto -> cpu (webgpu skipped: software adapter ...)`
        const providerNote = (await resolveProviders(args.provider ?? providerChoice())).note;
        const created = await svc.store.write(() =>
          svc.repos.runs.create({
            kind: 'train',
            name: args.name ?? `${args.prompt} on ${ds.name}`,
            config: { args: { ...args, provider: args.provider ?? providerChoice() }, train: cfg, provider: providerNote },
            modelId,
            datasetId: ds.id,
            totalSteps: cfg.steps,
          }),
        );
        runId = created.id;
      }
      const runDir = runDirOf(svc, runId);
      out = args.out ?? path.join(runDir, 'prompt.safetensors');
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
      // a queued run starts fresh; a resumed one continues from its checkpoint
      const resuming = req.kind === 'resume';
      const resumedFrom = resuming ? readCheckpointStep(runDir) : 0;
      await trainer.prepare(resuming);
      await svc.store.write(() => svc.repos.runs.truncateMetricsAfter(runId, resumedFrom));
    } catch (e) {
      await sd.dispose();
      throw e;
    }
  } catch (e) {
    await endBeforeTraining(e);
    throw e;
  }
  const provider = await sd.provider();
  await svc.store.write(() => svc.repos.runs.start(runId, { provider }));
  hooks.onStart?.({ runId, provider, config: cfg, resumedFrom: trainer.stepCount });
  const start = Date.now();
  // a long validation or graph build between steps must not look like a dead process
  const heartbeat = setInterval(() => void svc.store.write(() => svc.repos.runs.heartbeat(runId)).catch(() => {}), HEARTBEAT_MS);
  heartbeat.unref();
  try {
    const result = await trainer.run(out);
    await flush();
    const promptId = await storeLearnedPrompt(svc, result.prompt, {
      modelId,
      datasetId: ds.id,
      runId,
      step: result.bestStep ?? result.steps,
      name: args.name ?? `${args.prompt} prompt (run ${runId})`,
    });
    await svc.store.write(() => svc.repos.runs.complete(runId, promptId));
    return { runId, promptId, result, seconds: (Date.now() - start) / 1000, provider };
  } catch (e) {
    await flush().catch(() => {});
    const cancelled = (e as AppError).code === 'CANCELLED';
    await svc.store.write(() => endActiveRun(svc, runId, cancelled ? 'cancelled' : 'failed', cancelled ? null : (e as Error).message));
    throw e;
  } finally {
    clearInterval(heartbeat);
    await sd.dispose();
  }
}

function readCheckpointStep(runDir: string): number {
  const f = path.join(runDir, 'checkpoint.safetensors');
  return fs.existsSync(f) ? Number(readSafetensors(f).metadata.step ?? 0) : 0;
}
