/**
 * The neutral export model: what every export format writes, gathered from the store once. A
 * dataset's images (paths relative to its root, sizes in its frame), categories (keypoint names
 * and colours, skeleton, symmetric pairs, all 0-based) and image-level annotations (keypoints x, y
 * in pixels with visibility 1 occluded | 2 visible; absent keypoints have no entry), optionally
 * with the pending suggestions filling in unlabelled keypoints. Writers (./coco.ts, ./yolo.ts...)
 * turn it into their files; none reads the store itself.
 */
import type { Db } from '../../../store/db.js';
import { type Category, type Dataset, DatasetsRepo } from '../../../store/repositories/datasets.js';
import { type Annotation, type ImageRecord, ImagesRepo, type Keypoint } from '../../../store/repositories/images.js';
import { SuggestionsRepo } from '../../../store/repositories/suggestions.js';

/** An annotation as exported: the stored one, with the suggested keypoints merged in. */
export interface ExportAnnotation extends Annotation {
  /** Schema indices of the keypoints that are suggestions (empty unless pending ones were asked for). */
  suggested: number[];
}

export interface ExportModel {
  dataset: Dataset;
  /** In the dataset's order (ordinal). */
  categories: Category[];
  /** In path order. */
  images: ImageRecord[];
  /** By image (in `images` order), category, instance. */
  annotations: ExportAnnotation[];
}

export interface ExportOptions {
  /**
   * Pending suggestions fill in the schema keypoints their image's annotation (instance 0) leaves
   * unlabelled, with visibility 2 when suggested visible and 1 when not, listed in `suggested` (the
   * annotation is created when the image has none in the category). Default: left out.
   */
  includePending?: boolean;
}

/**
 * Merges the dataset's pending suggestion sets into its annotations, creating the annotations
 * images have none of, in the order annotationsOfDataset gives (image path, category, instance).
 */
function withPending(db: Db, categories: readonly Category[], images: readonly ImageRecord[], annotations: readonly Annotation[]): ExportAnnotation[] {
  const suggestions = new SuggestionsRepo(db);
  const schemaSize = new Map(categories.map((c) => [c.id, c.keypoints.length]));
  const pending = new Map(categories.flatMap((c) => suggestions.listForCategory(c.id)).map((s) => [`${s.imageId}/${s.categoryId}`, s]));
  const merge = (stored: readonly Keypoint[], key: string): { keypoints: Keypoint[]; suggested: number[] } => {
    const set = pending.get(key);
    if (!set) return { keypoints: [...stored], suggested: [] };
    pending.delete(key);
    const labelled = new Set(stored.map((k) => k.kp));
    const extra = set.keypoints.filter((k) => k.kp < schemaSize.get(set.categoryId)! && !labelled.has(k.kp));
    const keypoints = [...stored, ...extra.map((k) => ({ kp: k.kp, x: k.x, y: k.y, visibility: (k.visible ? 2 : 1) as 1 | 2 }))].sort((a, b) => a.kp - b.kp);
    return { keypoints, suggested: extra.map((k) => k.kp) };
  };
  const entries: ExportAnnotation[] = annotations.map((a) => ({ ...a, ...(a.instance === 0 ? merge(a.keypoints, `${a.imageId}/${a.categoryId}`) : { suggested: [] }) }));
  // sets left over: images with no annotation (instance 0) in the category
  let nextId = annotations.reduce((m, a) => Math.max(m, a.id), 0) + 1;
  for (const [key, set] of [...pending]) {
    const { keypoints, suggested } = merge([], key);
    if (keypoints.length === 0) continue;
    entries.push({ id: nextId++, imageId: set.imageId, categoryId: set.categoryId, instance: 0, bbox: null, area: null, iscrowd: 0, externalId: null, keypoints, suggested });
  }
  const rank = new Map(images.map((m, i) => [m.id, i]));
  // stable: the stored annotations keep their order among themselves
  return entries.sort((a, b) => rank.get(a.imageId)! - rank.get(b.imageId)! || a.categoryId - b.categoryId || a.instance - b.instance);
}

/** Reads what an export writes, in one read of the store. */
export function gatherExport(db: Db, datasetId: number, options: ExportOptions = {}): ExportModel {
  const datasets = new DatasetsRepo(db);
  const imagesRepo = new ImagesRepo(db);
  const dataset = datasets.resolve(datasetId);
  const categories = datasets.categories(dataset.id);
  const images = imagesRepo.list(dataset.id);
  const annotations = imagesRepo.annotationsOfDataset(dataset.id);
  return {
    dataset,
    categories,
    images,
    annotations: options.includePending ? withPending(db, categories, images, annotations) : annotations.map((a) => ({ ...a, suggested: [] })),
  };
}

/** The box of an annotation: its own, else the tight box around its keypoints (null: neither). */
export function boxOf(a: Pick<Annotation, 'bbox' | 'keypoints'>): [number, number, number, number] | null {
  if (a.bbox) return a.bbox;
  if (a.keypoints.length === 0) return null;
  const xs = a.keypoints.map((k) => k.x);
  const ys = a.keypoints.map((k) => k.y);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
