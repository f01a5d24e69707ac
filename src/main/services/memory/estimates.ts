/**
 * Memory estimates: what computing features (evaluation, Compare, Suggest), a training step or a
 * generation at given settings will need, against what the provider has free. Memory plans of the
 * graphs only: nothing runs. The inference process answers them (services/compare/inference.ts
 * hosts the models they read), so that building a step graph never stalls the engine.
 */
import type { MemoryCheck } from '../../contract/index.js';
import { toEvalPair } from '../../engine/datasets/pair-geometry.js';
import { inspectDinoFolder } from '../../engine/sd4match/model/model-folder.js';
import {
  availableMemory,
  checkFeaturesFit,
  checkGenerationFits,
  checkTrainingFits,
  estimateFeatureMemory,
  estimateGenerationMemory,
  estimateTrainingMemory,
  type MemoryEstimate,
  modelFileBytes,
} from '../../engine/sd4match/memory/memory-estimate.js';
import type { Generator } from '../../engine/sd4match/generation/generate.js';
import { keypointRows } from '../../engine/sd4match/training/training-batch.js';
import type { SdModel } from '../../engine/sd4match/model/sd-model.js';
import { AppError } from '../../shared/errors.js';
import type { Services } from '../app/context.js';

/** A training configuration as the estimate reads it. */
export interface TrainingEstimateInput {
  modelId: number;
  dinoModelId?: number;
  datasetId: number;
  category?: string;
  prompt: 'single' | 'class' | 'cpm';
  batch: number;
  accumulate: number;
  size: number;
}

function memoryCheck(check: () => MemoryEstimate, estimate: () => MemoryEstimate, provider: string): MemoryCheck {
  const available = availableMemory(provider)?.bytes ?? null;
  try {
    const e = check();
    return { bytes: e.bytes, weights: e.weights, activations: e.activations, available, fits: true, message: null, what: e.what };
  } catch (err) {
    if ((err as AppError).code !== 'OUT_OF_MEMORY') throw err;
    const e = estimate();
    return { bytes: e.bytes, weights: e.weights, activations: e.activations, available, fits: false, message: (err as Error).message, what: e.what };
  }
}

/**
 * What an evaluation or Compare request at these settings will need, against what is free; a
 * memory plan of the feature graph, nothing is run.
 */
export async function estimateFeatures(sd: SdModel, a: { size: number; ensemble: number }): Promise<MemoryCheck> {
  const provider = await sd.provider();
  return memoryCheck(
    () => checkFeaturesFit(sd, a.size, a.ensemble, provider),
    () => estimateFeatureMemory(sd, a.size, a.ensemble),
    provider,
  );
}

/** What a training run with these settings will need (its step graph is built into the cache). */
export async function estimateTraining(svc: Services, sd: SdModel, a: TrainingEstimateInput): Promise<MemoryCheck> {
  const provider = await sd.provider();
  const categoryId = a.category ? svc.repos.datasets.findCategory(a.datasetId, a.category)?.id : undefined;
  const train = svc.repos.pairs.list({ datasetId: a.datasetId, split: 'trn', categoryId }).map(toEvalPair);
  if (train.length === 0) throw new AppError('INVALID_ARGUMENT', 'the dataset has no training (trn) pairs');
  const dino = a.dinoModelId ? svc.repos.models.get(a.dinoModelId) : null;
  const args = { size: a.size, batch: a.batch, accumulate: a.accumulate, prompt: a.prompt, N: keypointRows(train), extraWeights: dino ? modelFileBytes(inspectDinoFolder(dino.folder).model) : 0 };
  return memoryCheck(
    () => checkTrainingFits(sd, args, provider),
    () => estimateTrainingMemory(sd, args),
    provider,
  );
}

/** What generating at this size will need (full UNet on a batch of 2, then the decoder); nothing runs. */
export async function estimateGeneration(sd: SdModel, gen: Generator, size: number): Promise<MemoryCheck> {
  const provider = await sd.provider();
  await gen.plannedProvider();
  return memoryCheck(
    () => checkGenerationFits(sd, gen, size, provider),
    () => estimateGenerationMemory(sd, gen, size),
    provider,
  );
}
