/**
 * Matching-assisted annotation: suggested keypoints for an image of a category, matched from the
 * category's annotated images (exemplars) with a prompt's features and fused per schema keypoint
 * into one position with a confidence in [0, 1] and a visibility guess; the order in which to
 * label the category's unannotated images; how good the suggestions are on labelled images.
 *
 * Suggestions are never annotations: they are kept apart as pending suggestions (one set per image
 * and category, replaced by the next suggestion run), drawn hollow in Annotate, and become
 * keypoints only when the annotator accepts them (an ordinary `annotations:save`, so every
 * acceptance is one undoable change). COCO export leaves them out unless asked.
 *
 * The renderer imports this module at run time (defaults, the eval form's schema): zod, the other
 * contract modules and pure constants only.
 */
import { z } from 'zod';
import { FEATURE_DEFAULTS, SEED_MAX } from './runs.js';
import { method } from './spec.js';
import type { Reliability } from '../engine/suggest/reliability.js';

export type { Reliability, ReliabilityRow } from '../engine/suggest/reliability.js';

/**
 * How suggestions are judged when the caller says nothing: below `visibleThreshold` a keypoint is
 * suggested "not visible"; `acceptThreshold` is the confidence from which "accept all" takes a
 * suggestion (and suggest-eval counts one as accepted unchanged).
 */
export const SUGGEST_DEFAULTS = { visibleThreshold: 0.3, acceptThreshold: 0.5 } as const;

/** The PCK thresholds suggest-eval reports (fractions of the object's larger bbox side). */
export const SUGGEST_EVAL_ALPHAS = [0.05, 0.1, 0.15] as const;

/** One schema keypoint's suggestion, in the image's displayed frame (pixels): as stored, with the keypoint's name. */
export interface SuggestedKeypoint extends StoredSuggestion {
  name: string;
}

/** The suggestions for one image of a category, as computed by one run. */
export interface SuggestionSet {
  imageId: number;
  categoryId: number;
  /** The stored prompt used (null: a prompt given as it is, from the CLI). */
  promptId: number | null;
  prompt: string;
  /** Image ids of the exemplars matched from. */
  exemplars: number[];
  /** Every schema keypoint some exemplar has; schema keypoints no exemplar has are left out. */
  keypoints: SuggestedKeypoint[];
  /** Wall time of this image's suggestion (features included). */
  seconds: number;
  createdAt: number;
}

/** One entry of the "label next" queue. */
export interface QueueItem {
  imageId: number;
  path: string;
  /** Higher: a label is expected to help more. */
  score: number;
  /** Mean suggestion confidence over the schema (null: no suggestions yet). */
  confidence: number | null;
  /** 1 - the largest cosine similarity to a labelled image in feature space (null: no descriptor). */
  novelty: number | null;
  /** Why it is where it is, for a tooltip ("low confidence", "unlike the labelled images"). */
  reason: string;
}

export interface SuggestQueue {
  categoryId: number;
  /** Unannotated images in the recommended order (those never suggested for come last, by path). */
  items: QueueItem[];
  /** Images that have no suggestions yet (run a batch suggestion to rank them). */
  unranked: number;
}

/** Suggestion quality on labelled images treated as unlabelled. */
export interface SuggestEvalReport {
  category: string;
  prompt: string;
  exemplars: { imageId: number; path: string }[];
  alphas: number[];
  acceptThreshold: number;
  /** PCK per alpha over every visible keypoint of the evaluated images. */
  pck: Record<string, number>;
  /** Share of the visible ground-truth keypoints suggested with confidence >= acceptThreshold within alpha 0.1 (accepted unchanged). */
  acceptedUnchanged: number;
  /** Share of the visible ground-truth keypoints suggested with confidence >= acceptThreshold. */
  acceptedShare: number;
  perImage: { imageId: number; path: string; points: number; pck: Record<string, number>; seconds: number }[];
  perKeypoint: { kp: number; name: string; points: number; pck: Record<string, number>; meanConfidence: number }[];
  /** Mean wall time per evaluated image (features of the image included). */
  secondsPerImage: number;
  images: number;
  /** Confidence bins against PCK, and PCK of every suggestion at or above each bin's confidence (engine/suggest/reliability.ts). */
  reliability: Reliability;
}

const id = z.number().int().positive();
const size = z.number().int().min(64).max(2048).multipleOf(64, 'must be a multiple of 64');

/** Feature settings (the Compare view's defaults) and the prompt. */
export const suggestSettings = {
  promptId: id,
  modelId: id,
  dinoModelId: id.optional(),
  size: size.default(FEATURE_DEFAULTS.size),
  timestep: z.number().int().min(0).max(999).default(FEATURE_DEFAULTS.timestep),
  ensemble: z.number().int().min(1).max(32).default(FEATURE_DEFAULTS.ensemble),
  seed: z.number().int().min(0).max(SEED_MAX).default(FEATURE_DEFAULTS.seed),
  /** SD features (the prompt's), DINOv2 on the SD grid, or both fused (engine/sd4match/features/fusion.ts). */
  features: z.enum(['sd', 'dino', 'sd+dino']).default('sd'),
  /** SD's share w in `sd+dino` (DINOv2 gets 1 - w). */
  fusionWeight: z.number().min(0).max(1).default(0.5),
  /** Exemplar image ids (default: every image of the category with a labelled visible keypoint). */
  exemplarIds: z.array(id).min(1).max(1000).optional(),
  visibleThreshold: z.number().min(0).max(1).default(SUGGEST_DEFAULTS.visibleThreshold),
};

export const suggestStartSchema = z
  .object({
    categoryId: id,
    /** The images to suggest for (one: the image open in Annotate); omitted: every unannotated image of the category (a batch). */
    imageIds: z.array(id).min(1).max(100_000).optional(),
    ...suggestSettings,
  })
  .strict();

export const suggestEvalSchema = z
  .object({
    categoryId: id,
    ...suggestSettings,
    /** The first N annotated images (by path) are exemplars, the rest are evaluated (ignored with exemplarIds). */
    exemplars: z.number().int().min(1).max(1000).default(3),
    acceptThreshold: z.number().min(0).max(1).default(SUGGEST_DEFAULTS.acceptThreshold),
    /** Evaluate at most this many images. */
    limit: z.number().int().min(1).optional(),
  })
  .strict();

const imageCategory = z.object({ imageId: id, categoryId: id }).strict();

/** At most this many images after the open one have their features computed ahead. */
export const PREFETCH_AHEAD = 3;

export const suggestPrefetchSchema = z
  .object({
    categoryId: id,
    /** The image open in Annotate: prefetched first when its features are not cached yet. */
    openImageId: id.optional(),
    /** The next images in the order the annotator will open them (queue order with Label next, else strip order); those past PREFETCH_AHEAD are ignored. */
    imageIds: z.array(id).max(100),
    ...suggestSettings,
  })
  .strict();

/** Background feature prefetching in Annotate (suggest:prefetch), as the status bar shows it. */
export interface PrefetchStatus {
  /** The category being prefetched for (null: none). */
  categoryId: number | null;
  /** off: nothing asked; running; paused: a job the user started runs; done: every image asked for is ready. */
  state: 'off' | 'running' | 'paused' | 'done';
  /** Images whose features are ready, of `total` asked for (the open one included). */
  ready: number;
  total: number;
  /** The image whose features are being computed now. */
  imageId: number | null;
  /** Why it is paused or off, or which image failed ("training started"). */
  note: string | null;
}

export const suggestMethods = {
  /**
   * Suggests keypoints as a job (progress, cancel): for the given images, or for every unannotated
   * image of the category. Each image's set replaces its pending one when it is done; checked
   * whole before the job starts (schema, exemplars, prompt, images of the category's dataset).
   */
  'suggest:start': method<{ jobId: string }>()(suggestStartSchema),
  /** The pending suggestions of an image (null: none). */
  'suggest:get': method<SuggestionSet | null>()(imageCategory),
  /** Dismisses an image's pending suggestions. */
  'suggest:clear': method<{ cleared: boolean }>()(imageCategory),
  /** The category's unannotated images in the order to label them. */
  'suggest:queue': method<SuggestQueue>()(z.object({ categoryId: id }).strict()),
  /** Measures suggestion quality on the category's labelled images as a job; the job's result is a SuggestEvalReport. */
  'suggest:eval': method<{ jobId: string }>()(suggestEvalSchema),
  /**
   * Computes the features of the open image and the next ones ahead in a low-priority background
   * process (bounded in count and memory) so that Suggest on them has only matching left to do.
   * Replaces what was asked before; another category cancels it; it pauses while a job the user
   * started runs. Best effort: a request that cannot be planned (no exemplars yet) turns it off with
   * a note rather than failing.
   */
  'suggest:prefetch': method<PrefetchStatus>()(suggestPrefetchSchema),
  /** Stops prefetching (Annotate closed or has no category open). */
  'suggest:prefetch-stop': method<PrefetchStatus>()(z.object({}).strict()),
} as const;

export interface SuggestionsChanged {
  datasetId: number;
  categoryId: number;
  imageId: number;
}

export interface SuggestEvents {
  /** An image's pending suggestions were stored or cleared. */
  'suggest:changed': SuggestionsChanged;
  /** Background prefetching started, advanced, paused or stopped. */
  'suggest:prefetch': PrefetchStatus;
}

export const SUGGEST_EVENTS: readonly (keyof SuggestEvents)[] = ['suggest:changed', 'suggest:prefetch'];

/** One schema keypoint's fused suggestion, in the image's displayed frame (pixels). */
export interface StoredSuggestion {
  /** Index in the category's keypoint schema. */
  kp: number;
  x: number;
  y: number;
  /** In [0, 1]: similarity peak, cycle consistency and agreement between exemplars. */
  confidence: number;
  /** The visibility guess: false below the visibility threshold. */
  visible: boolean;
  /** Exemplars that had this keypoint labelled visible (candidates fused). */
  candidates: number;
  /** Share of the candidates' weight that agrees with the fused position, in [0, 1]. */
  agreement: number;
}
