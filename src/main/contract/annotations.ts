/**
 * The annotation domain: a category's keypoint schema (ordered names, colours, skeleton) and the
 * keypoints of one object instance on an image, saved whole on every change, with undo and redo
 * kept in the store (they work across saves, reloads and windows).
 */
import { z } from 'zod';
import type { CategoryInfo, KeypointValue } from './datasets.js';
import { MAX_KEYPOINTS_PER_CATEGORY } from '../shared/limits.js';
import { method } from './spec.js';

/** One instance's keypoints as the store holds them, and where its history stands. */
export interface AnnotationState {
  imageId: number;
  categoryId: number;
  instance: number;
  keypoints: KeypointValue[];
  /** Grows with every change (save, undo, redo); a save names the version it started from. */
  version: number;
  canUndo: boolean;
  canRedo: boolean;
  /** What undo / redo would revert or reapply ('place nose', 'move tail', ...). */
  undoAction: string | null;
  redoAction: string | null;
}

export interface SchemaChange {
  category: CategoryInfo;
  /** Labelled keypoints renumbered to follow the new order. */
  renumbered: number;
  /** Labelled keypoints deleted with their schema entry. */
  removed: number;
  /** Pairs whose correspondences changed. */
  pairs: number;
}

const id = z.number().int().positive();
const instanceKey = { imageId: id, categoryId: id, instance: z.number().int().min(0).default(0) };

export const keypointValueSchema = z
  .object({
    kp: z.number().int().min(0).max(999),
    x: z.number().finite(),
    y: z.number().finite(),
    visibility: z.union([z.literal(1), z.literal(2)]),
  })
  .strict();

export const schemaArgs = z
  .object({
    categoryId: id,
    keypoints: z
      .array(
        z
          .object({
            name: z.string().max(200),
            color: z.string(),
            /** The entry's index in the current schema (null for a new keypoint): labelled points follow it. */
            from: z.number().int().min(0).nullable().default(null),
          })
          .strict(),
      )
      .max(MAX_KEYPOINTS_PER_CATEGORY, `a category has at most ${MAX_KEYPOINTS_PER_CATEGORY} keypoints`),
    skeleton: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])).max(1000),
    /**
     * Symmetric pairs (left_eye <-> right_eye), indices into the new `keypoints`; each keypoint in
     * at most one. Absent: the current pairs follow renamed, reordered and deleted entries.
     */
    flipPairs: z
      .array(z.tuple([z.number().int().min(0), z.number().int().min(0)]))
      .max(1000)
      .optional(),
  })
  .strict();

export type SchemaArgs = z.input<typeof schemaArgs>;

export const annotationMethods = {
  /**
   * Replaces a category's keypoint schema. Checked whole before anything is written (names present
   * and unique, colours `#rrggbb`, skeleton edges between two different keypoints, no duplicates,
   * symmetric pairs of two different keypoints, each keypoint in at most one);
   * labelled keypoints and pair correspondences follow renamed, reordered and deleted entries.
   */
  'categories:set-schema': method<SchemaChange>()(schemaArgs),
  /** The keypoints of one instance (default 0) of a category on an image. */
  'annotations:get': method<AnnotationState>()(z.object(instanceKey).strict()),
  /**
   * Saves the whole keypoint state of one instance as one undo step. Refused (CONFLICT) when
   * `baseVersion` is not the stored version: another window changed it meanwhile.
   */
  'annotations:save': method<AnnotationState>()(
    z.object({ ...instanceKey, keypoints: z.array(keypointValueSchema).max(1000), baseVersion: z.number().int().min(0), action: z.string().max(200).default('edit') }).strict(),
  ),
  /** Steps back one change (no change when there is nothing to undo). */
  'annotations:undo': method<AnnotationState>()(z.object({ ...instanceKey, baseVersion: z.number().int().min(0) }).strict()),
  /** Reapplies the change undo reverted. */
  'annotations:redo': method<AnnotationState>()(z.object({ ...instanceKey, baseVersion: z.number().int().min(0) }).strict()),
} as const;

export interface AnnotationChanged {
  datasetId: number;
  imageId: number;
  categoryId: number;
  instance: number;
  version: number;
  /** Labelled keypoints now on the instance. */
  keypoints: number;
}

export interface AnnotationEvents {
  /** An instance's keypoints changed (save, undo or redo, in any window). */
  'annotation:changed': AnnotationChanged;
}

export const ANNOTATION_EVENTS: readonly (keyof AnnotationEvents)[] = ['annotation:changed'];
