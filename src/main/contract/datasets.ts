/**
 * The datasets domain: importing (as a job), listing, deleting and exporting datasets; browsing
 * their images page by page; and the engine-side folder browser the path pickers use (the
 * renderer never touches the file system, and browser mode has no native dialogs).
 */
import { z } from 'zod';
import { method, noArgs, pathText } from './spec.js';

export { DATASET_FORMATS, type DatasetFormat, EXPORT_FORMATS, type ExportFormat, IMPORT_FORMATS, type ImportFormat, SPLITS, type Split } from '../engine/datasets/domain.js';
export { MAX_KEYPOINTS_PER_CATEGORY } from '../shared/limits.js';
export { IMPORT_DIALOG_LABELS } from './import-dialog.js';
import { type DatasetFormat, EXPORT_FORMATS, type ExportFormat, IMPORT_FORMATS, type ImportFormat, type Split } from '../engine/datasets/domain.js';

/** One keypoint of a category's schema. */
export interface KeypointDef {
  name: string;
  /** `#rrggbb`. */
  color: string;
}

export interface CategoryInfo {
  id: number;
  datasetId: number;
  name: string;
  ordinal: number;
  keypoints: KeypointDef[];
  /** 0-based keypoint index pairs. */
  skeleton: [number, number][];
  /** Symmetric pairs (0-based): their names swap when the image is mirrored (left_eye <-> right_eye). */
  flipPairs: [number, number][];
  images: number;
  /** Images with at least one labelled keypoint of this category. */
  annotated: number;
  pairs: Record<Split, number>;
}

export interface DatasetSummary {
  id: number;
  name: string;
  format: DatasetFormat;
  root: string;
  /** COCO: the annotation file; '' otherwise. */
  source: string;
  /** Keypoints and schemas may be edited here (folder and COCO datasets; benchmarks are read-only). */
  editable: boolean;
  images: number;
  categories: number;
  pairs: number;
  annotations: number;
  createdAt: number;
  updatedAt: number;
}

/** An entry left out of an import, and why. */
export interface SkippedInfo {
  file: string;
  entry?: string;
  reason: string;
}

/** The report of an import (what `sd4match import --json` prints; skipped entries capped). */
export interface ImportReportInfo {
  datasetId: number;
  name: string;
  /** The format read (YOLO, DeepLabCut... are stored as 'coco' datasets; see DatasetSummary.format). */
  format: ImportFormat;
  root: string;
  source: string;
  /** A new dataset (false: an existing one updated in place). */
  created: boolean;
  images: number;
  categories: number;
  annotations: number;
  /** Image-level keypoints (x, y, visibility). */
  keypoints: number;
  pairs: number;
  pairsBySplit: Record<Split, number>;
  /** Correspondences over all pairs. */
  pairPoints: number;
  /** Rows of an earlier import of the same root that are no longer in the source. */
  removed: { images: number; pairs: number; annotations: number; categories: number };
  skipped: SkippedInfo[];
  /** How many skipped entries there were in all (`skipped` lists at most the first 500). */
  skippedTotal?: number;
  seconds: { scanning: number; reading: number; checking: number; writing: number; total: number };
}

/** What `datasets:export` wrote (counts over the dataset; `suggested`: keypoints that are pending suggestions). */
export interface ExportResultInfo {
  format: ExportFormat;
  /** The file or folder written (absolute). */
  out: string;
  target: 'file' | 'folder';
  images: number;
  annotations: number;
  categories: number;
  keypoints: number;
  suggested: number;
}

export interface DatasetDetails extends DatasetSummary {
  keypoints: number;
  pairsBySplit: Record<Split, number>;
  pairPoints: number;
  categoryList: CategoryInfo[];
  lastImport: ImportReportInfo | null;
}

export type ImageFilter = 'all' | 'annotated' | 'unannotated';

/** A row of an image page (the Datasets view's grid). */
export interface ImageListItem {
  id: number;
  path: string;
  width: number;
  height: number;
  categoryId: number | null;
  /** Labelled keypoints over the image's annotations (of the page's category, when it has one). */
  keypoints: number;
}

export interface KeypointValue {
  /** Index into the category's keypoint list. */
  kp: number;
  x: number;
  y: number;
  /** 1 occluded (labelled, hidden), 2 visible. Absent keypoints have no entry. */
  visibility: 1 | 2;
}

export interface AnnotationInfo {
  categoryId: number;
  instance: number;
  bbox: [number, number, number, number] | null;
  keypoints: KeypointValue[];
}

export interface ImageDetail {
  id: number;
  datasetId: number;
  path: string;
  width: number;
  height: number;
  format: string;
  bytes: number;
  categoryId: number | null;
  annotations: AnnotationInfo[];
}

export interface FileEntry {
  name: string;
  kind: 'dir' | 'file';
}

export interface DirectoryListing {
  /** Absolute path listed. */
  dir: string;
  /** Its parent (null at a root). */
  parent: string | null;
  /** Folders first, then files, by name; hidden entries left out. */
  entries: FileEntry[];
  /** More entries than listed. */
  truncated: boolean;
  /** Starting points: the home folder, the default models folder, file-system roots. */
  places: { label: string; path: string }[];
}

const id = z.number().int().positive();
const path = pathText;
const optionalText = (what: string) => z.string().trim().min(1, `${what} is empty`).max(200).optional();

export const importArgsSchema = z
  .object({
    format: z.enum(IMPORT_FORMATS),
    root: path('the dataset folder'),
    name: optionalText('the dataset name'),
    /** COCO: the keypoints JSON (default: annotations.json or the only .json); the tools' formats: their file (data.yaml, config.yaml, ...). */
    annotations: path('the annotation file').optional(),
    /** Folder: the category (default: the folder's name). */
    category: optionalText('the category name'),
    skipInvalid: z.boolean().default(false),
  })
  .strict();

export type ImportArgs = z.input<typeof importArgsSchema>;

const imageQuery = {
  datasetId: id,
  categoryId: id.optional(),
  filter: z.enum(['all', 'annotated', 'unannotated']).default('all'),
  search: z.string().max(200).optional(),
};

export const datasetMethods = {
  'datasets:list': method<DatasetSummary[]>()(noArgs),
  /** Counts per split and category, the categories' keypoint schemas, and the last import's report. */
  'datasets:get': method<DatasetDetails>()(z.object({ id }).strict()),
  /**
   * Imports a dataset as a job (all or nothing, with progress; the job's result is the report).
   * A folder that does not exist or a name in use is refused at once, naming the field.
   */
  'datasets:import': method<{ jobId: string }>()(importArgsSchema),
  /** Deletes a dataset and its annotations and pairs from the database (files stay on disk). */
  'datasets:delete': method<{ deleted: { images: number; pairs: number; categories: number; annotations: number } }>()(z.object({ id }).strict()),
  /**
   * Writes the dataset's images and keypoints as COCO keypoints JSON on the engine's machine.
   * `includePending`: pending suggestions fill in unlabelled keypoints, listed per annotation in
   * `suggested` (`suggested` in the result counts them).
   */
  'datasets:export-coco': method<{ file: string; images: number; annotations: number; categories: number; keypoints: number; suggested: number }>()(
    z.object({ id, file: path('the output file'), overwrite: z.boolean().default(false), includePending: z.boolean().default(false) }).strict(),
  ),
  /**
   * Writes the dataset in an export format on the engine's machine (docs/formats.md): COCO as one
   * JSON file, YOLO pose and DeepLabCut as a folder (new, empty, or an earlier export of the same
   * format with `overwrite`). Nothing is written when the dataset does not fit the format.
   */
  'datasets:export': method<ExportResultInfo>()(
    z
      .object({
        datasetId: id,
        format: z.enum(EXPORT_FORMATS),
        out: path('the output'),
        overwrite: z.boolean().default(false),
        includePending: z.boolean().default(false),
      })
      .strict(),
  ),
  /** A page of a dataset's images in path order (browsing grid, annotation strip). */
  'images:list': method<{ total: number; items: ImageListItem[] }>()(
    z.object({ ...imageQuery, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(200) }).strict(),
  ),
  /** Where an image sits in the order `images:list` uses (-1: not listed under these filters). */
  'images:locate': method<{ index: number }>()(z.object({ ...imageQuery, imageId: id }).strict()),
  /** One image with every annotation and keypoint. */
  'images:get': method<ImageDetail>()(z.object({ id }).strict()),
  /** Lists a folder on the engine's machine (path pickers). Without `dir`: the home folder. */
  'files:list': method<DirectoryListing>()(
    z
      .object({
        dir: z
          .string()
          .max(4096)
          .refine((s) => !s.includes('\0'), 'the path contains a NUL byte, which no file path can hold')
          .optional(),
        files: z.enum(['none', 'json', 'all']).default('none'),
      })
      .strict(),
  ),
} as const;

export interface DatasetChanged {
  id: number;
  reason: 'imported' | 'deleted' | 'schema' | 'pairs';
}

export interface DatasetEvents {
  /** A dataset was imported or re-imported, deleted, or its schemas or pairs changed. */
  'dataset:changed': DatasetChanged;
}

export const DATASET_EVENTS: readonly (keyof DatasetEvents)[] = ['dataset:changed'];
