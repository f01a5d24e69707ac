/**
 * Seeing what a prompt learned (SD4Match Fig. 3b, 4, 5; Tab. 2): images Stable Diffusion generates
 * from a prompt, and evaluations of prompts over a set of timesteps.
 *
 * Generation: any stored prompt (learned Single, Class for a category, CPM for a pair, the empty
 * and template baselines) or free text, with classifier-free guidance against the empty prompt and
 * DDIM sampling as diffusers runs it from the model folder's `scheduler_config.json`. A job
 * (progress per step, cancellable) generates what is not stored yet; every image is stored as a
 * PNG file with a row linking it to its prompt, seed and settings, and those settings are its cache
 * key: asking again returns the stored image. Images are served by id, like dataset images:
 * `GET /generated/<id>` in browser mode, `sd4match-image://generated/<id>` in Electron.
 *
 * Timestep sweeps: one evaluation run per prompt and timestep (stored like any other evaluation,
 * their config naming the sweep), read back as PCK against t per prompt.
 *
 * The renderer imports this module at run time (defaults, schemas): zod, the other contract
 * modules and pure constants only.
 */
import { z } from 'zod';
import { FEATURE_DEFAULTS, type MemoryCheck, SEED_MAX } from './runs.js';
import { method } from './spec.js';

/** Generation settings when the caller gives none (diffusers' defaults for SD 2-1, 25 DDIM steps). */
export const GENERATE_DEFAULTS = { steps: 25, guidance: 7.5, seeds: [0, 1, 2] } as const;

/** The timesteps of a sweep when the caller gives none (the paper's Fig. 3b range and its training t). */
export const SWEEP_TIMESTEPS = [0, 25, 50, 100, 150, 200, 261, 350, 500] as const;

const id = z.number().int().positive();
const size = z.number().int().min(64).max(2048).multipleOf(64, 'must be a multiple of 64');
const seed = z.number().int().min(0).max(SEED_MAX);
const split = z.enum(['trn', 'val', 'test']);

/**
 * What an image is generated from: a stored prompt (`category` for a Class prompt and the template
 * baseline; `pairId` for a CPM prompt, whose condition is the pair's two images), or free text.
 */
export const generateSourceSchema = z.union([
  z.object({ promptId: id, category: z.string().min(1).max(200).optional(), pairId: id.optional() }).strict(),
  z.object({ text: z.string().max(1000) }).strict(),
]);

export type GenerateSource = z.input<typeof generateSourceSchema>;

/** The settings of a generation: every one of them is part of the stored images' cache key. */
export const generateSettings = {
  modelId: id,
  /** DINOv2 model for CPM prompts (their condition is DINOv2 features of the pair). */
  dinoModelId: id.optional(),
  steps: z.number().int().min(1, 'steps must be at least 1').max(1000).default(GENERATE_DEFAULTS.steps),
  guidance: z.number().min(0, 'the guidance scale must be >= 0').max(100).default(GENERATE_DEFAULTS.guidance),
  /** Image side in pixels; default the model's own (768 for SD 2-1). */
  size: size.optional(),
};

export const generateStartSchema = z
  .object({
    ...generateSettings,
    /** Gallery rows. */
    sources: z.array(generateSourceSchema).min(1).max(64),
    /** Gallery columns: the same seeds for every row, so rows compare. */
    seeds: z.array(seed).min(1).max(16),
  })
  .strict();

export type GenerateStart = z.input<typeof generateStartSchema>;

/** One stored generated image. */
export interface GeneratedImage {
  id: number;
  /**
   * Its cache key: a digest of everything that decides its pixels. Sources that stand for the
   * same conditioning (the empty baseline and free text "") share images, so a gallery places an
   * image by key (GalleryCell.key), not by its prompt.
   */
  key: string;
  modelId: number | null;
  /** The stored prompt (null: free text, or a prompt deleted since). */
  promptId: number | null;
  /** How the UI names the source: the prompt's name (with its category or pair), or the free text in quotes. */
  label: string;
  /** Free text, or the text a baseline stood for ('' for the empty prompt); null for learned prompts. */
  text: string | null;
  category: string | null;
  pairId: number | null;
  seed: number;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  /** Wall time of its sampling and decoding. */
  seconds: number;
  provider: string;
  createdAt: number;
}

/** A gallery cell: a source (index into `sources`) and a seed, with its stored image if there is one. */
export interface GalleryCell {
  source: number;
  seed: number;
  /** The cache key the cell's image is (or will be) stored under. */
  key: string;
  image: GeneratedImage | null;
  /** A running generation job is making this image. */
  pending: boolean;
}

export interface GalleryLookup {
  /** The size the images are (or will be) generated at. */
  size: number;
  /** The running generation job making some of these images (from any window), or null. */
  jobId: string | null;
  /** One label per source, as stored images will carry it. */
  labels: string[];
  /** Row-major: sources x seeds. */
  cells: GalleryCell[];
}

export const sweepStartSchema = z
  .object({
    modelId: id,
    dinoModelId: id.optional(),
    datasetId: id,
    split: split.default('test'),
    promptIds: z.array(id).min(1).max(8),
    timesteps: z
      .array(z.number().int().min(0).max(999))
      .min(1)
      .max(32)
      .default([...SWEEP_TIMESTEPS]),
    category: z.string().min(1).optional(),
    /** Evaluate on the first N pairs of the split (a sweep of the whole test split takes long). */
    limit: z.number().int().min(1).optional(),
    size: size.default(FEATURE_DEFAULTS.size),
    ensemble: z.number().int().min(1).max(32).default(FEATURE_DEFAULTS.ensemble),
    seed: seed.default(FEATURE_DEFAULTS.seed),
  })
  .strict();

export type SweepStart = z.input<typeof sweepStartSchema>;

export interface SweepSummary {
  id: string;
  datasetId: number;
  split: string;
  category: string | null;
  limit: number | null;
  size: number;
  ensemble: number;
  timesteps: number[];
  prompts: { promptId: number; name: string }[];
  /** Evaluation runs completed / planned (prompts x timesteps). */
  completed: number;
  total: number;
  /** A job is still running it. */
  running: boolean;
  /** That job (cancel it with jobs:cancel), or null. */
  jobId: string | null;
  createdAt: number;
}

export interface SweepPoint {
  timestep: number;
  runId: number;
  /** PCK per alpha ('0.05', '0.1', '0.15') under kernel soft-argmax, per image. */
  pck: Record<string, number>;
  /** PCK per matching method (kernelsoftmax, softmax, nn, bilinear), then per alpha. */
  byMethod: Record<string, Record<string, number>>;
}

export interface SweepResult extends SweepSummary {
  series: {
    promptId: number;
    prompt: string;
    /** The timestep the prompt was trained at (learned prompts), to mark on the chart. */
    trainTimestep: number | null;
    points: SweepPoint[];
  }[];
}

export const generateMethods = {
  /**
   * Generates the gallery's images that are not stored yet as one job (progress per denoising
   * step, cancellable; each image stored when it is done, so a cancelled job keeps what it
   * finished). Everything is checked before the job starts. `jobId` is null when every image is
   * stored already.
   */
  'generate:start': method<{ jobId: string | null; cached: number; queued: number }>()(generateStartSchema),
  /** The stored images of a gallery (nothing runs). */
  'generate:lookup': method<GalleryLookup>()(generateStartSchema),
  /** Peak memory of generating at this size (full UNet on a batch of 2, then the VAE decoder), against what is free. */
  'generate:estimate': method<MemoryCheck>()(z.object({ modelId: id, size: size.optional() }).strict()),
  /** Starts evaluations of prompts over timesteps as one job; every evaluation is a stored run. */
  'evals:sweep': method<{ jobId: string; sweepId: string }>()(sweepStartSchema),
  /** The dataset's timestep sweeps, newest first. */
  'evals:sweeps': method<SweepSummary[]>()(z.object({ datasetId: id }).strict()),
  /** PCK against timestep per prompt of a sweep (the runs completed so far). */
  'evals:sweepResult': method<SweepResult>()(z.object({ sweepId: z.string().min(1).max(100) }).strict()),
} as const;

export interface GenerateEvents {
  /** An image was generated and stored. */
  'generate:image': GeneratedImage;
}

export const GENERATE_EVENTS: readonly (keyof GenerateEvents)[] = ['generate:image'];
