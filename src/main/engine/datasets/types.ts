/**
 * What a format reader produces before anything touches the database: categories, images (with
 * image-level annotations) and pairs, plus the problems found. The import pipeline then checks the
 * images, validates geometry against the real image sizes, and writes it all in one transaction.
 */
import { AppError, type ErrorCode } from '../../shared/errors.js';
import { type DatasetFormat, defaultKeypointColor, type KeypointDef, type Split } from './domain.js';
import type { Box } from './domain.js';
import type { PairFlags } from './domain.js';
import type { TaskContext } from '../jobs/progress.js';

/** Where an entry came from: the file (relative to the dataset root) and the entry in it. */
export interface Origin {
  file: string;
  /** 'line 12', "pair '000001-...'", 'annotation id 7' ... (absent for whole-file problems). */
  entry?: string;
}

export interface SkippedEntry extends Origin {
  reason: string;
}

export interface ParsedCategory {
  name: string;
  ordinal: number;
  externalId?: number | null;
  supercategory?: string | null;
  keypoints: KeypointDef[];
  skeleton: [number, number][];
  /** Symmetric pairs (0-based), from formats that carry them (YOLO's flip_idx); none when absent. */
  flipPairs?: [number, number][];
}

export interface ParsedKeypoint {
  kp: number;
  x: number;
  y: number;
  visibility: 1 | 2;
}

export interface ParsedAnnotation {
  category: string;
  instance: number;
  bbox: Box | null;
  area?: number | null;
  iscrowd?: 0 | 1;
  externalId?: number | null;
  keypoints: ParsedKeypoint[];
  origin: Origin;
}

export interface ParsedImage {
  /** Relative to the dataset root, '/' separators. */
  path: string;
  /** The category the benchmark files the image under (null: none). */
  category: string | null;
  externalId?: number | null;
  /** Sizes annotation files state (SPair imsize, COCO width/height), checked against the file. */
  declaredSizes?: { width: number; height: number; origin: Origin }[];
  annotations: ParsedAnnotation[];
  /** The first entry that referenced the image (named in errors about it). */
  origin: Origin;
}

export interface ParsedPair {
  split: Split;
  /** Unique within the split: the key re-imports update by. */
  name: string;
  ordinal: number;
  category: string;
  src: string;
  trg: string;
  srcBbox: Box | null;
  trgBbox: Box | null;
  /** n x 4: src x, src y, trg x, trg y. */
  points: Float64Array;
  kpIds: number[] | null;
  flip: 0 | 1;
  flags: PairFlags;
  origin: Origin;
}

export interface ParsedDataset {
  format: DatasetFormat;
  defaultName: string;
  /** COCO: the annotation file (absolute, real); '' otherwise. */
  source: string;
  categories: ParsedCategory[];
  images: Map<string, ParsedImage>;
  pairs: ParsedPair[];
  /**
   * Image-level annotations are the user's (a folder to annotate): re-imports add and remove
   * images but never touch annotations or keypoint schemas.
   */
  userAnnotations: boolean;
  /** Build image-level annotations from pair keypoints with kp ids (SPair, PF-Willow). */
  deriveImageAnnotations: boolean;
  /**
   * Keypoints and boxes are fractions of the image's size times this (YOLO: 1, Label Studio: 100),
   * turned into pixels once the images are measured (readers check the range themselves, naming
   * the entry). Absent: pixels.
   */
  relativeTo?: number;
}

export const NO_FLAGS: PairFlags = { viewpointVariation: null, scaleVariation: null, truncation: null, occlusion: null, mirror: null };

/**
 * How import errors name the inputs that fix them: the CLI's flags by default, or the fields of
 * whatever form started the import (the import dialog passes its own words, see
 * services/datasets.ts), so that a hint never sends a user looking for a flag they cannot type.
 */
export interface ImportWording {
  /** After 'and N more problems': how to import the valid entries anyway. */
  skipInvalid: string;
  /** After a missing or ambiguous COCO file: how to name it. */
  nameAnnotations: string;
  /** After a name that is taken: how to choose another. */
  otherName: string;
  /** After images that are missing under the root but found under `dir`: how to use `dir` as the root (with the COCO `annotations` file, when there is one). */
  useRoot(dir: string, annotations: string | null): string;
}

/** The CLI's wording (`sd4match import`), and the default. */
export const CLI_WORDING: ImportWording = {
  skipInvalid: 'skip invalid entries with --skip-invalid to import the rest',
  nameAnnotations: 'name the COCO file with --annotations',
  otherName: 'choose another --name',
  useRoot: (dir, annotations) => `pass --root ${dir}${annotations ? ` --annotations ${annotations}` : ''}`,
};

export function describeOrigin(o: Origin): string {
  return o.entry ? `${o.file}: ${o.entry}` : o.file;
}

/**
 * Problems found while reading. `invalid()` marks an entry that cannot be imported: an error
 * (nothing is imported) unless skipping invalid entries was asked for, when it becomes a skipped
 * entry in the report. `skip()` records an entry always left out (with its reason); `fatal()`
 * stops at once.
 */
export class Problems {
  readonly skipped: SkippedEntry[] = [];
  readonly errors: (SkippedEntry & { code: ErrorCode })[] = [];
  /** A sentence that explains the errors as a whole (e.g. where the missing images seem to be), appended to the error thrown. */
  hint: string | null = null;

  constructor(
    readonly skipInvalid: boolean,
    readonly wording: ImportWording = CLI_WORDING,
  ) {}

  invalid(origin: Origin, reason: string, code: ErrorCode = 'DATASET_INVALID'): void {
    const e = { ...origin, reason };
    if (this.skipInvalid) this.skipped.push(e);
    else this.errors.push({ ...e, code });
  }

  skip(origin: Origin, reason: string): void {
    this.skipped.push({ ...origin, reason });
  }

  /** The error for a problem that stops the import whatever the options: `throw problems.fatal(...)`. */
  fatal(origin: Origin, reason: string, code: ErrorCode = 'DATASET_INVALID'): AppError {
    return new AppError(code, `${describeOrigin(origin)}: ${reason}`);
  }

  /** Throws the first error (and how many more there are) if there is any. */
  throwIfErrors(): void {
    const first = this.errors[0];
    if (!first) return;
    const more = this.errors.length - 1;
    const tail = more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'}; ${this.wording.skipInvalid})` : '';
    throw new AppError(first.code, `${describeOrigin(first)}: ${first.reason}${tail}${this.hint ? `. ${this.hint}` : ''}`);
  }
}

/** What readers get: the root, the problem list, progress, and a cooperative yield point. */
export interface ReadContext {
  /** Real absolute path of the dataset root. */
  root: string;
  problems: Problems;
  /** How hints name the caller's inputs (the CLI's flags or the dialog's fields). */
  wording: ImportWording;
  task: TaskContext;
  /** Yields to the event loop now and then (keeps a UI responsive) and honours cancellation. */
  tick(): Promise<void>;
  progress(stage: string, done: number, total: number, detail?: string): void;
}

export interface ReaderOptions {
  /** COCO and the tools' formats: the annotation file (COCO default: the only .json in the root or root/annotations). */
  annotations?: string;
  /** Folder: the category name (default: the folder's name). */
  category?: string;
}

export type Reader = (ctx: ReadContext, options: ReaderOptions) => Promise<ParsedDataset>;

// ----------------------------------------------------------------------------------------------
// Small validators shared by the readers
// ----------------------------------------------------------------------------------------------

export function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A box [x1, y1, x2, y2] with x1 <= x2, y1 <= y2, or the reason it is not one. */
export function parseBox(v: unknown): Box | string {
  if (!Array.isArray(v) || v.length !== 4 || !v.every(isFiniteNumber)) return 'must be 4 numbers [x1, y1, x2, y2]';
  const [x1, y1, x2, y2] = v as number[];
  if (x2! < x1! || y2! < y1!) return `[${v.join(', ')}] has x2 < x1 or y2 < y1`;
  return [x1!, y1!, x2!, y2!];
}

/** A list of [x, y] points, or the reason it is not one. */
export function parsePointList(v: unknown): [number, number][] | string {
  if (!Array.isArray(v)) return 'must be a list of [x, y] points';
  for (let i = 0; i < v.length; i++) {
    const p = v[i] as unknown;
    if (!Array.isArray(p) || p.length !== 2 || !isFiniteNumber(p[0]) || !isFiniteNumber(p[1])) return `point ${i} must be [x, y] numbers, got ${JSON.stringify(p)}`;
  }
  return v as [number, number][];
}

export function keypointDefs(names: string[]): KeypointDef[] {
  return names.map((name, i) => ({ name, color: defaultKeypointColor(i) }));
}

/** Gets or creates the ParsedImage for `path`. */
export function imageFor(images: Map<string, ParsedImage>, path: string, category: string | null, origin: Origin): ParsedImage {
  let img = images.get(path);
  if (!img) {
    img = { path, category, annotations: [], origin };
    images.set(path, img);
  }
  return img;
}

/** Records a size an annotation file states for an image (checked against the file later). */
export function declareSize(img: ParsedImage, size: { width: number; height: number }, origin: Origin): void {
  const list = (img.declaredSizes ??= []);
  if (!list.some((d) => d.width === size.width && d.height === size.height)) list.push({ ...size, origin });
}
