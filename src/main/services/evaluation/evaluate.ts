/**
 * Evaluation as an application service: resolve the dataset and prompt, run the PCK protocol,
 * and record the run, its summary metrics and per-pair results in the store (the Compare view and
 * the CLI read them back).
 */
import { AppError } from '../../shared/errors.js';
import { benchmarkOf, toEvalPair } from '../../engine/datasets/pair-geometry.js';
import type { TaskContext } from '../../engine/jobs/progress.js';
import { type EvalReport, evaluate, type Frame } from '../../engine/sd4match/matching/evaluate.js';
import { MATCH_METHODS, type MatchMethod } from '../../engine/sd4match/matching/matching.js';
import { inspectDinoFolder } from '../../engine/sd4match/model/model-folder.js';
import { describePrompt, type PromptSpec } from '../../engine/sd4match/features/pipeline.js';
import { createPipeline, type FeatureChoice, methodLabel, requireFeatureInputs } from '../../engine/sd4match/features/fusion.js';
import { loadLearnedPrompt } from '../../engine/sd4match/prompts/prompts.js';
import { checkFeaturesFit } from '../../engine/sd4match/memory/memory-estimate.js';
import { SdModel } from '../../engine/sd4match/model/sd-model.js';
import type { Split } from '../../store/repositories/datasets.js';
import { requireCategory, type Services } from '../app/context.js';
import { findOrCreatePrompt, modelRecord } from '../runs/records.js';

export interface EvalArgs {
  modelDir: string;
  dinoDir?: string;
  dataset: string;
  split: Split;
  category?: string;
  prompt: PromptSpec;
  /** SD features (default), DINOv2 on the SD grid, or both fused (engine/sd4match/features/fusion.ts). */
  features?: FeatureChoice;
  timestep: number;
  ensemble: number;
  size: number;
  seed: number;
  frame: Frame;
  limit?: number;
  methods?: MatchMethod[];
  alphas?: number[];
  /** Store the run (default true). */
  record?: boolean;
  /** The stored prompt the results belong to (default: found or created from `prompt`). */
  promptId?: number;
  /** How runs name the prompt (default: described from `prompt`). */
  promptName?: string;
  /** The timestep sweep this evaluation belongs to (recorded in the run's config). */
  sweep?: { id: string; timesteps: number[]; promptIds: number[] };
  /** A model already open for `modelDir` (a sweep's evaluations share one); left open. */
  sd?: SdModel;
}

export interface EvalOutcome {
  runId: number | null;
  promptId: number | null;
  report: EvalReport;
}

export async function runEvaluation(svc: Services, a: EvalArgs, task: TaskContext): Promise<EvalOutcome> {
  const ds = svc.repos.datasets.resolve(a.dataset);
  const categoryId = a.category ? requireCategory(svc, ds.id, ds.name, a.category) : undefined;
  const records = svc.repos.pairs.list({ datasetId: ds.id, split: a.split, categoryId, limit: a.limit });
  if (records.length === 0) throw new AppError('INVALID_ARGUMENT', `dataset '${ds.name}' has no ${a.split} pairs${a.category ? ` in category '${a.category}'` : ''}`);
  // test and val pairs are never flipped; PF-Pascal flips only training pairs
  const pairs = records.map((r) => toEvalPair(a.split === 'trn' ? r : { ...r, flip: 0 }));
  if (a.features) requireFeatureInputs(a.features, a.prompt, !!a.dinoDir);
  if (a.prompt.kind === 'file') {
    const p = loadLearnedPrompt(a.prompt.file);
    if (p.meta.kind === 'class') {
      const missing = [...new Set(pairs.map((x) => x.category))].filter((c) => !p.meta.categories.includes(c));
      if (missing.length)
        throw new AppError('INVALID_ARGUMENT', `${a.prompt.file} has no prompt for categor${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} (it has: ${p.meta.categories.join(', ')})`);
    }
  }
  const sd = a.sd ?? SdModel.open(a.modelDir, { cacheDir: svc.cacheDir, task });
  const ownModel = a.sd === undefined;
  const dino = a.dinoDir ? inspectDinoFolder(a.dinoDir) : null;
  try {
    checkFeaturesFit(sd, a.size, a.ensemble, await sd.provider());
  } catch (e) {
    if (ownModel) await sd.dispose();
    throw e;
  }
  const pipe = createPipeline(sd, a.prompt, { size: a.size, timestep: a.timestep, ensemble: a.ensemble, seed: a.seed }, svc.tensors, dino, a.features);
  const methods = a.methods ?? [...MATCH_METHODS];
  const alphas = a.alphas ?? [0.05, 0.1, 0.15];
  const record = a.record ?? true;
  let runId: number | null = null;
  let promptId: number | null = null;
  const config = {
    dataset: ds.name,
    split: a.split,
    category: a.category ?? null,
    prompt: a.promptName ?? describePrompt(a.prompt),
    features: a.features?.features ?? 'sd',
    fusionWeight: a.features?.features === 'sd+dino' ? a.features.weight : null,
    method: methodLabel(a.promptName ?? describePrompt(a.prompt), a.features),
    promptFile: a.prompt.kind === 'file' ? a.prompt.file : null,
    timestep: a.timestep,
    ensemble: a.ensemble,
    size: a.size,
    seed: a.seed,
    frame: a.frame,
    limit: a.limit ?? null,
    methods,
    alphas,
    model: sd.folder.dir,
    modelHash: sd.compiled.modelHash,
    ...(a.sweep ? { sweep: a.sweep.id, sweepPlan: { timesteps: a.sweep.timesteps, promptIds: a.sweep.promptIds } } : {}),
  };
  if (record) {
    const modelId = await modelRecord(svc, sd);
    promptId = a.promptId ?? (await findOrCreatePrompt(svc, a.prompt, modelId, sd));
    const run = await svc.store.write((db) => {
      void db;
      const r = svc.repos.runs.create({ kind: 'eval', name: `${config.method} on ${ds.name}/${a.split}`, config, modelId, datasetId: ds.id, promptId, totalSteps: pairs.length });
      return svc.repos.runs.start(r.id, { provider: 'pending' });
    });
    runId = run.id;
  }
  try {
    const report = await evaluate(pipe, pairs, { benchmark: benchmarkOf(ds.format), frame: a.frame, methods, alphas }, task);
    if (runId !== null) {
      const id = runId;
      const metrics: Record<string, number> = {};
      for (const m of methods) {
        for (const [alpha, t] of Object.entries(report.pck[m])) {
          metrics[`pck/${m}/${alpha}`] = t.image;
          metrics[`pck_point/${m}/${alpha}`] = t.point;
          for (const [c, v] of Object.entries(t.categories)) metrics[`pck/${m}/${alpha}/category/${c}`] = v;
          for (const [f, levels] of Object.entries(t.flags)) for (const [l, v] of Object.entries(levels)) metrics[`pck/${m}/${alpha}/${f}/${l}`] = v;
        }
      }
      await svc.store.write(() => {
        svc.repos.runs.recordMetrics(id, 0, metrics);
        svc.repos.evalResults.record(
          id,
          report.perPair.flatMap((r) => methods.map((m) => ({ pairId: Number(r.id), method: m, error: r.error[m], pck: r.pck[m] }))),
        );
        svc.repos.runs.setProvider(id, report.provider);
        svc.repos.runs.progress(id, pairs.length);
        svc.repos.runs.complete(id);
      });
    }
    return { runId, promptId, report };
  } catch (e) {
    if (runId !== null) {
      const id = runId;
      const cancelled = (e as AppError).code === 'CANCELLED';
      await svc.store.write(() => (cancelled ? svc.repos.runs.cancel(id) : svc.repos.runs.fail(id, (e as Error).message)));
    }
    throw e;
  } finally {
    await pipe.dispose();
    if (ownModel) await sd.dispose();
  }
}
