/**
 * The pairs domain: listing and filtering a dataset's pairs, building new ones from annotated
 * images (correspondences = keypoints labelled on both images), moving pairs between splits.
 * Built pairs are stored like benchmark pairs, so evaluation and training use them as they are.
 */
import { z } from 'zod';
import { SPLITS, type Split } from './datasets.js';
import type { PairFlags } from '../engine/datasets/domain.js';
import { method } from './spec.js';

/** A row of a pairs page (the Pairs view's list). */
export interface PairSummary {
  id: number;
  name: string;
  split: Split;
  ordinal: number;
  categoryId: number;
  category: string;
  srcImageId: number;
  trgImageId: number;
  srcPath: string;
  trgPath: string;
  nPts: number;
  flags: PairFlags;
}

export interface PairDetail extends PairSummary {
  /** Source x, y and target x, y per correspondence, original image pixels. */
  points: [number, number, number, number][];
  /** The category keypoint index of each correspondence, when known. */
  kpIds: number[] | null;
  src: { width: number; height: number; bbox: [number, number, number, number] | null };
  trg: { width: number; height: number; bbox: [number, number, number, number] | null };
  flip: 0 | 1;
}

export type PairBuildMode = 'all' | 'random' | 'manual';

const id = z.number().int().positive();
const split = z.enum(SPLITS);

export const buildPairsSchema = z
  .object({
    datasetId: id,
    categoryId: id,
    /** Every pair of annotated images, N of them at random, or the listed ones. */
    mode: z.enum(['all', 'random', 'manual']),
    count: z.number().int().min(1, 'ask for at least one pair').max(100_000).optional(),
    seed: z.number().int().min(0).default(0),
    manual: z
      .array(z.object({ src: id, trg: id }).strict())
      .max(10_000)
      .optional(),
    split,
    /** Count occluded keypoints (visibility 1) as correspondences too. */
    includeOccluded: z.boolean().default(false),
    /** Pairs with fewer shared keypoints are left out. */
    minPoints: z.number().int().min(1).max(1000).default(1),
  })
  .strict();

export type BuildPairsArgs = z.input<typeof buildPairsSchema>;

const listQuery = {
  datasetId: id,
  split: split.optional(),
  categoryId: id.optional(),
  search: z.string().max(200).optional(),
  minPoints: z.number().int().min(0).optional(),
};

export const pairMethods = {
  /** A page of pairs (split order, then list order) and how many match the filters. */
  'pairs:list': method<{ total: number; items: PairSummary[] }>()(
    z.object({ ...listQuery, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(200) }).strict(),
  ),
  /** One pair with its correspondences. */
  'pairs:get': method<PairDetail>()(z.object({ id }).strict()),
  /**
   * Plans the pairs at once (refusing impossible requests, naming the field) and writes them as a
   * job. Names are `<src id>-<trg id>:<category>`: rebuilding a pair updates it, and a pair lives
   * in one split (building it into another moves it).
   */
  'pairs:build': method<{ jobId: string; planned: number; skipped: number }>()(buildPairsSchema),
  /** Moves pairs to a split (appended to its list order). */
  'pairs:set-split': method<{ moved: number }>()(z.object({ datasetId: id, ids: z.array(id).min(1).max(100_000), split }).strict()),
  'pairs:delete': method<{ deleted: number }>()(z.object({ datasetId: id, ids: z.array(id).min(1).max(100_000) }).strict()),
} as const;
