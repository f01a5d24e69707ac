/**
 * A training run's settings and SD4Match's (paper §4 / DESIGN.md): Adam at 1e-2, batch 9, t = 261,
 * 768 px, 30k steps, validation at t = 50. The one source of these defaults: the contract's launch
 * schema, the CLI and the renderer's launch form read them from here.
 *
 * The renderer loads this module (through contract/runs.ts): keep it free of imports, pure constants
 * and types only (a layering test checks it).
 */

/** The three prompt designs (Single, Class, CPM); here so this module imports nothing. */
export type PromptKind = 'single' | 'class' | 'cpm';

export type Schedule = 'constant' | 'linear' | 'cosine';

export interface TrainConfig {
  prompt: PromptKind;
  steps: number;
  batch: number;
  lr: number;
  /** CPM's linear layers train at lr x this (the paper: 1e-3 vs 1e-2). */
  linearLrScale: number;
  schedule: Schedule;
  /** Micro-batches whose gradients are averaged per optimizer step. */
  accumulate: number;
  timestep: number;
  size: number;
  /** Validate every N steps (0: never); keeps the best prompt by PCK@0.1. */
  valEvery: number;
  /** At most this many validation pairs (0: all). */
  valPairs: number;
  valTimestep: number;
  checkpointEvery: number;
  seed: number;
  nLearnable: number;
}

export const TRAIN_DEFAULTS: TrainConfig = {
  prompt: 'single',
  steps: 30000,
  batch: 9,
  lr: 1e-2,
  linearLrScale: 0.1,
  schedule: 'constant',
  accumulate: 1,
  timestep: 261,
  size: 768,
  valEvery: 1000,
  valPairs: 200,
  valTimestep: 50,
  checkpointEvery: 500,
  seed: 0,
  nLearnable: 75,
};
