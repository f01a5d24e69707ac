/**
 * Runs, prompts, evaluations and the Compare view: launching and watching training runs, running
 * evaluations as jobs, PCK tables, and predictions / similarity heatmaps of prompts on a pair.
 *
 * The renderer imports this module at run time (the launch form validates with `trainLaunchSchema`
 * and starts from `TRAIN_DEFAULTS`), so it may import only zod, the other contract modules and pure
 * constants (a layering test walks its imports).
 */
import { z } from 'zod';
import { PROVIDER_CHOICES } from '../engine/onnx/providers.js';
import { TRAIN_DEFAULTS } from '../engine/sd4match/training/train-config.js';
import { method } from './spec.js';

export { TRAIN_DEFAULTS };
export type { TrainConfig } from '../engine/sd4match/training/train-config.js';

/**
 * The largest seed: every random draw is seeded from 32 bits (engine/sd4match/random.ts takes
 * `seed >>> 0`), so a larger seed would silently repeat a smaller one's draws.
 */
export const SEED_MAX = 2 ** 32 - 1;

/**
 * Feature settings of evaluations, predictions and heatmaps when the caller gives none: the
 * paper's inference (its validation timestep, 8 noise draws averaged) at the training size.
 */
export const FEATURE_DEFAULTS = { size: TRAIN_DEFAULTS.size, timestep: TRAIN_DEFAULTS.valTimestep, ensemble: 8, seed: 0 } as const;

const id = z.number().int().positive();
const schedule = z.enum(['constant', 'linear', 'cosine']);
// multipleOf (not a refine) so the rule stays readable from the schema (the launch form's messages)
const size = z.number().int().min(64).max(2048).multipleOf(64, 'must be a multiple of 64');
const timestep = z.number().int().min(0).max(999);
const seed = z.number().int().min(0).max(SEED_MAX);

export const trainLaunchSchema = z
  .object({
    modelId: id,
    dinoModelId: id.optional(),
    datasetId: id,
    prompt: z.enum(['single', 'class', 'cpm']),
    category: z.string().min(1).optional(),
    steps: z.number().int().min(1).max(1_000_000),
    batch: z.number().int().min(1).max(64),
    lr: z.number().positive().max(10),
    schedule: schedule.default(TRAIN_DEFAULTS.schedule),
    accumulate: z.number().int().min(1).max(64).default(TRAIN_DEFAULTS.accumulate),
    timestep: timestep.default(TRAIN_DEFAULTS.timestep),
    size: size.default(TRAIN_DEFAULTS.size),
    valEvery: z.number().int().min(0).default(TRAIN_DEFAULTS.valEvery),
    valPairs: z.number().int().min(0).default(TRAIN_DEFAULTS.valPairs),
    checkpointEvery: z.number().int().min(1).default(TRAIN_DEFAULTS.checkpointEvery),
    seed: seed.default(TRAIN_DEFAULTS.seed),
    name: z.string().max(200).optional(),
    /** The execution provider: `auto` or one by name (default: the engine's setting). Recorded with the run. */
    provider: z.enum(PROVIDER_CHOICES).optional(),
  })
  .strict();

export type TrainLaunch = z.input<typeof trainLaunchSchema>;

/** The launch fields that decide a training run's memory: what `runs:estimate` takes. */
export const trainEstimateSchema = trainLaunchSchema.pick({ modelId: true, dinoModelId: true, datasetId: true, prompt: true, category: true, batch: true, accumulate: true, size: true }).strict();

export type TrainEstimate = z.input<typeof trainEstimateSchema>;

/**
 * A memory estimate against what the machine has free, and the refusal message when it will not
 * fit (what `runs:train`, `evals:start` and Compare would refuse with, said before running).
 */
export interface MemoryCheck {
  /** Peak bytes of the job process. */
  bytes: number;
  weights: number;
  activations: number;
  /** Free memory for the provider, or null when the provider does not report it (GPUs). */
  available: number | null;
  fits: boolean;
  /** Why it will not fit and the settings that would (null when it fits). */
  message: string | null;
  /** What the estimate covers, e.g. "training at 768 px with batch 9". */
  what: string;
}

export type RunStatus = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface RunSummary {
  id: number;
  kind: 'train' | 'eval';
  name: string;
  status: RunStatus;
  datasetId: number | null;
  dataset: string | null;
  modelId: number | null;
  promptId: number | null;
  provider: string | null;
  step: number;
  totalSteps: number | null;
  /** Training: best validation PCK@0.1; evaluation: kernel soft-argmax PCK@0.1. */
  bestPck: number | null;
  config: Record<string, unknown>;
  failureReason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /**
   * Seconds spent running, over every start and stop (a night between cancel and resume does not
   * count), up to now while it runs; null before it first starts.
   */
  seconds: number | null;
  /** The part of `seconds` before the current start (all of it unless running). */
  pastSeconds: number;
  /** While it runs: when it last started or resumed (ms); a UI ticks pastSeconds + (now - resumedAt). */
  resumedAt: number | null;
  /** The job running it in this engine, if any. */
  jobId: string | null;
  resumable: boolean;
}

export interface RunDetails extends RunSummary {
  checkpoints: { step: number; createdAt: number }[];
  metricNames: string[];
}

export interface MetricPoint {
  step: number;
  value: number;
}

export interface PromptSummary {
  id: number;
  name: string;
  kind: 'single' | 'class' | 'cpm' | 'baseline';
  runId: number | null;
  datasetId: number | null;
  modelId: number | null;
  categories: string[];
  createdAt: number;
  /** Needs a DINOv2 model (CPM prompts and the DINOv2 baseline). */
  needsDino: boolean;
  /** Which baseline a baseline prompt is (null for learned prompts). */
  baseline: 'empty' | 'template' | 'dino' | null;
}

const evalSettings = {
  modelId: id,
  dinoModelId: id.optional(),
  size: size.default(FEATURE_DEFAULTS.size),
  timestep: timestep.default(FEATURE_DEFAULTS.timestep),
  ensemble: z.number().int().min(1).max(32).default(FEATURE_DEFAULTS.ensemble),
  seed: seed.default(FEATURE_DEFAULTS.seed),
  /** SD features (the prompt's), DINOv2 on the SD grid, or both fused (engine/sd4match/features/fusion.ts). */
  features: z.enum(['sd', 'dino', 'sd+dino']).default('sd'),
  /** SD's share w in `sd+dino` (DINOv2 gets 1 - w). */
  fusionWeight: z.number().min(0).max(1).default(0.5),
};

export const evalLaunchSchema = z
  .object({
    ...evalSettings,
    datasetId: id,
    split: z.enum(['trn', 'val', 'test']).default('test'),
    promptId: id,
    category: z.string().min(1).optional(),
    limit: z.number().int().min(1).optional(),
    frame: z.enum(['resized', 'original']).default('resized'),
  })
  .strict();

export type EvalLaunch = z.input<typeof evalLaunchSchema>;

export interface PckTable {
  method: string;
  alpha: number;
  categories: string[];
  rows: { promptId: number; prompt: string; runId: number; overall: number; categories: Record<string, number>; pairs: number; finishedAt: number }[];
}

export interface ComparePairRow {
  id: number;
  name: string;
  category: string;
  srcImageId: number;
  trgImageId: number;
  nPts: number;
  /** Mean error (in PCK-threshold units) under the chosen evaluation, when it has one. */
  error: number | null;
}

export interface PairView {
  id: number;
  name: string;
  category: string;
  split: string;
  src: { imageId: number; width: number; height: number; kps: [number, number][]; bbox: [number, number, number, number] | null };
  trg: { imageId: number; width: number; height: number; kps: [number, number][]; bbox: [number, number, number, number] | null };
  flags: Record<string, number | null>;
  /** PCK threshold θ in target-image pixels (the original frame). */
  threshold: number;
}

export interface Prediction {
  promptId: number;
  prompt: string;
  /** Target-image pixels, one per source keypoint. */
  matches: [number, number][];
  /** Distance to the ground truth in target-image pixels. */
  errors: number[];
  correct: boolean[];
  pck: number;
}

export interface Heatmap {
  promptId: number;
  /** Grid size of the target feature map. */
  width: number;
  height: number;
  /** Cosine similarity per cell, row-major (values in [-1, 1]). */
  values: number[];
  /** The kernel soft-argmax prediction for the clicked point, target-image pixels. */
  match: [number, number];
}

export const runMethods = {
  'runs:list': method<RunSummary[]>()(z.object({ kind: z.enum(['train', 'eval']).optional() }).strict()),
  'runs:get': method<RunDetails>()(z.object({ id }).strict()),
  /** Metric series of a run (after a step, for live charts). */
  'runs:metrics': method<Record<string, MetricPoint[]>>()(z.object({ id, names: z.array(z.string()).optional(), afterStep: z.number().int().default(-1) }).strict()),
  /** Validates the configuration, creates the run and starts it as a job. */
  'runs:train': method<{ runId: number; jobId: string }>()(trainLaunchSchema),
  /**
   * The peak memory a training run with these settings will need, against what is free: nothing
   * runs (a first estimate at a new size builds the training graph, which takes a few seconds).
   */
  'runs:estimate': method<MemoryCheck>()(trainEstimateSchema),
  /** Continues a paused, cancelled or failed run from its checkpoint. */
  'runs:resume': method<{ runId: number; jobId: string }>()(z.object({ id }).strict()),
  'runs:cancel': method<{ cancelled: boolean }>()(z.object({ id }).strict()),
  'runs:delete': method<{ deleted: boolean }>()(z.object({ id }).strict()),
  /** Learned prompts and the baselines (empty, template, DINOv2). */
  'prompts:list': method<PromptSummary[]>()(z.object({ datasetId: id.optional() }).strict()),
  /** Evaluates a prompt on a dataset split as a job; results land in the store. */
  'evals:start': method<{ jobId: string }>()(evalLaunchSchema),
  /** PCK per category per prompt from the latest stored evaluation of each prompt. */
  'evals:table': method<PckTable>()(
    z.object({ datasetId: id, split: z.enum(['trn', 'val', 'test']).default('test'), method: z.string().default('kernelsoftmax'), alpha: z.number().positive().default(0.1) }).strict(),
  ),
  'evals:csv': method<{ csv: string; filename: string }>()(
    z.object({ datasetId: id, split: z.enum(['trn', 'val', 'test']).default('test'), method: z.string().default('kernelsoftmax'), alpha: z.number().positive().default(0.1) }).strict(),
  ),
  /** Pairs to compare on, optionally sorted by error under an evaluation run (worst first). */
  'compare:pairs': method<{ pairs: ComparePairRow[]; total: number }>()(
    z
      .object({
        datasetId: id,
        split: z.enum(['trn', 'val', 'test']).default('test'),
        category: z.string().optional(),
        evalRunId: id.optional(),
        limit: z.number().int().min(1).max(1000).default(200),
        offset: z.number().int().min(0).default(0),
      })
      .strict(),
  ),
  'compare:pair': method<PairView>()(z.object({ pairId: id }).strict()),
  /** Predictions of several prompts for the pair's source keypoints. */
  'compare:predict': method<{ predictions: Prediction[]; threshold: number }>()(
    z
      .object({
        pairId: id,
        promptIds: z.array(id).min(1).max(8),
        alpha: z.number().positive().default(0.1),
        method: z.enum(['kernelsoftmax', 'softmax', 'nn', 'bilinear']).default('kernelsoftmax'),
        ...evalSettings,
      })
      .strict(),
  ),
  /** Similarity of one source point with every target cell, per prompt. */
  'compare:heatmap': method<{ heatmaps: Heatmap[] }>()(z.object({ pairId: id, promptIds: z.array(id).min(1).max(8), point: z.tuple([z.number(), z.number()]), ...evalSettings }).strict()),
  /** The peak memory of computing features (predictions, heatmaps, evaluations) at these settings, against what is free. */
  'compare:estimate': method<MemoryCheck>()(z.object({ modelId: evalSettings.modelId, size: evalSettings.size, ensemble: evalSettings.ensemble }).strict()),
} as const;

export interface TrainStarted {
  runId: number;
  provider: string;
  resumedFrom: number;
  steps: number;
}

export interface TrainStep {
  runId: number;
  step: number;
  loss: number;
  lr: number;
  stepsPerSecond: number;
  etaSeconds: number;
}

export interface TrainValidation {
  runId: number;
  step: number;
  pck: Record<string, number>;
  best: boolean;
}

export interface RunEvents {
  'train:started': TrainStarted;
  'train:step': TrainStep;
  'train:validation': TrainValidation;
  /** A run changed status (started, completed, failed, cancelled). */
  'run:updated': RunSummary;
}

export const RUN_EVENTS: readonly (keyof RunEvents)[] = ['train:started', 'train:step', 'train:validation', 'run:updated'];
