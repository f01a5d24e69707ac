/**
 * What a prompt kind (Single, Class, CPM) contributes to a training run, behind one interface so
 * that the trainer never asks which kind it trains: the parameters and their initial values, the
 * token embeddings of a batch's prompts, the parameters' gradients from the step graph's gradient
 * of those token embeddings, each parameter's learning rate, and the learned prompt file.
 *
 * Checkpoints hold nothing kind-specific beyond the parameters (named by the strategy): fixed rows
 * (SOS, EOS, padding) are embeddings of fixed ids, rebuilt by `init` when a run resumes.
 */
import type { HostTensor } from '../../../onnx/ir.js';
import type { DinoFolder } from '../../model/model-folder.js';
import type { EvalPair } from '../../matching/evaluate.js';
import type { Pipeline } from '../../features/pipeline.js';
import type { PromptKind } from '../prompts.js';
import type { Rng } from '../../features/random.js';
import type { SdModel } from '../../model/sd-model.js';
import type { TrainConfig } from '../../training/train-config.js';

/** Trainable tensors by name (the names checkpoints and Adam moments are keyed by). */
export type Params = Record<string, HostTensor>;

/** What a strategy may read: the model, the trainer's pipeline (DINOv2 patches), the settings, the training pairs. */
export interface PromptContext {
  sd: SdModel;
  pipe: Pipeline;
  cfg: TrainConfig;
  train: EvalPair[];
}

/** The prompts of one batch as the step graph takes them. */
export interface BatchPrompts {
  /** Token embeddings [p, CONTEXT_LENGTH, D] of the p prompts the batch uses. */
  tokens: HostTensor;
  /** promptOf[b]: which of the p prompts conditions both images of pair b. */
  promptOf: number[];
}

export interface PromptStrategy<P extends BatchPrompts = BatchPrompts> {
  readonly kind: PromptKind;
  /**
   * Builds the fixed rows and returns the initial parameters, drawn from `rng` (the seed's first
   * draws, before the data order). Called once per run, a resumed one included; the other methods
   * need it.
   */
  init(rng: Rng): Promise<Params>;
  /** The token embeddings of the prompts that `batch` uses, for parameters `params`. */
  batchPrompts(batch: EvalPair[], params: Params): Promise<P>;
  /** Gradients of the parameters from d loss / d token embeddings [p, CONTEXT_LENGTH, D] of `prompts`. */
  paramGrads(prompts: P, gradTokens: HostTensor): Promise<Params>;
  /** The learning rate of parameter `name` when the run's rate is `lr`. */
  learningRate(name: string, lr: number): number;
  /** The learned prompt file's tensors and the categories its metadata lists. */
  promptFile(params: Params): { tensors: Record<string, HostTensor>; categories: string[] };
}

/** A prompt kind: the models it needs, the step graph's prompt count, and its strategy. */
export interface PromptKindSpec {
  /** Throws when a model the kind needs is missing. */
  checkModels(dino: DinoFolder | null): void;
  /** Prompts the step graph takes per step of B pairs (the most a batch can use). */
  promptsPerStep(B: number): number;
  create(ctx: PromptContext): PromptStrategy;
}
