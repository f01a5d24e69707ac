/**
 * COCO export: a dataset's images, categories (keypoint names, skeleton, colours) and image-level
 * annotations from the store as a COCO keypoints document (the format engine/datasets/coco.ts
 * reads back). Sizes and keypoints are written as stored, in the dataset's frame
 * (engine/images/orientation.ts): for folder and COCO datasets the displayed frame, EXIF
 * orientation applied, as browser-based tools read COCO files; for benchmarks the stored pixels.
 * Pending keypoint suggestions are not annotations and stay out unless asked for.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CocoAnnotation, CocoFile } from '../../engine/datasets/coco.js';
import { pathTextProblem } from '../../engine/datasets/fs-util.js';
import { AppError } from '../../shared/errors.js';
import { ENGINE_VERSION } from '../../shared/version.js';
import type { Db } from '../../store/db.js';
import { type Category, DatasetsRepo } from '../../store/repositories/datasets.js';
import { type Annotation, type ImageRecord, ImagesRepo, type Keypoint } from '../../store/repositories/images.js';
import { SuggestionsRepo } from '../../store/repositories/suggestions.js';

export interface CocoExportOptions {
  /**
   * Pending suggestions fill in the schema keypoints their image's annotation (instance 0) leaves
   * unlabelled, with v = 2 when suggested visible and 1 when not; the annotation lists them in
   * `suggested` (and is created when the image has none in the category). Default: left out.
   */
  includePending?: boolean;
}

/** An annotation as written: the stored one, with the suggested keypoints merged in. */
interface ExportEntry extends Annotation {
  /** Schema indices of the keypoints that are suggestions. */
  suggested: number[];
}

/**
 * Merges the dataset's pending suggestion sets into its annotations, creating the annotations
 * images have none of, in the order annotationsOfDataset gives (image path, category, instance).
 */
function withPending(db: Db, categories: readonly Category[], images: readonly ImageRecord[], annotations: readonly Annotation[]): ExportEntry[] {
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
  const entries: ExportEntry[] = annotations.map((a) => ({ ...a, ...(a.instance === 0 ? merge(a.keypoints, `${a.imageId}/${a.categoryId}`) : { suggested: [] }) }));
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

function toCocoAnnotation(a: ExportEntry, cat: Category, cocoCategoryId: number): CocoAnnotation {
  const flat = new Array<number>(cat.keypoints.length * 3).fill(0);
  for (const k of a.keypoints) {
    if (k.kp >= cat.keypoints.length) continue;
    flat[3 * k.kp] = k.x;
    flat[3 * k.kp + 1] = k.y;
    flat[3 * k.kp + 2] = k.visibility;
  }
  let box = a.bbox;
  if (!box && a.keypoints.length > 0) {
    const xs = a.keypoints.map((k) => k.x);
    const ys = a.keypoints.map((k) => k.y);
    box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }
  const [x1, y1, x2, y2] = box ?? [0, 0, 0, 0];
  return {
    id: a.id,
    image_id: a.imageId,
    category_id: cocoCategoryId,
    keypoints: flat,
    num_keypoints: a.keypoints.length,
    bbox: [x1, y1, x2 - x1, y2 - y1],
    area: a.area ?? (x2 - x1) * (y2 - y1),
    iscrowd: a.iscrowd,
    ...(a.suggested.length > 0 ? { suggested: a.suggested } : {}),
  };
}

/** The COCO keypoints document for a dataset's images and image-level annotations. */
export function exportCoco(db: Db, datasetId: number, options: CocoExportOptions = {}): CocoFile {
  const datasets = new DatasetsRepo(db);
  const imagesRepo = new ImagesRepo(db);
  const d = datasets.resolve(datasetId);
  const categories = datasets.categories(d.id);
  const external = categories.map((c) => c.externalId);
  const useExternal = external.every((id) => id !== null && id > 0) && new Set(external).size === external.length;
  const cocoId = new Map(categories.map((c, i) => [c.id, useExternal ? c.externalId! : i + 1]));
  const images = imagesRepo.list(d.id);
  const annotations = imagesRepo.annotationsOfDataset(d.id);
  const entries = options.includePending ? withPending(db, categories, images, annotations) : annotations.map((a) => ({ ...a, suggested: [] }));
  const catById = new Map(categories.map((c) => [c.id, c]));
  return {
    info: {
      description: `${d.name} (${d.format}) exported by SD4Match Workstation`,
      version: ENGINE_VERSION,
      date_created: new Date().toISOString(),
      dataset_root: d.root,
    },
    images: images.map((m) => ({ id: m.id, file_name: m.path, width: m.width, height: m.height })),
    categories: categories.map((c) => ({
      id: cocoId.get(c.id)!,
      name: c.name,
      supercategory: c.supercategory ?? '',
      keypoints: c.keypoints.map((k) => k.name),
      skeleton: c.skeleton.map(([a, b]) => [a + 1, b + 1] as [number, number]),
      keypoint_colors: c.keypoints.map((k) => k.color),
      ...(c.flipPairs.length ? { flip_pairs: c.flipPairs.map(([a, b]) => [a + 1, b + 1] as [number, number]) } : {}),
    })),
    annotations: entries.map((a) => toCocoAnnotation(a, catById.get(a.categoryId)!, cocoId.get(a.categoryId)!)),
  };
}

/** Writes the COCO document for a dataset to `file` (atomically); returns counts (`suggested`: keypoints that are suggestions). */
export function writeCocoFile(
  db: Db,
  datasetId: number,
  file: string,
  options: CocoExportOptions = {},
): { file: string; images: number; annotations: number; categories: number; keypoints: number; suggested: number } {
  const problem = pathTextProblem(file);
  if (problem) throw new AppError('INVALID_ARGUMENT', `the output file is refused: ${problem}`);
  const doc = exportCoco(db, datasetId, options);
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const tmp = `${abs}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(doc));
    fs.renameSync(tmp, abs);
  } catch (err) {
    // a full disk must not leave a half-written file beside the one asked for
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return {
    file: abs,
    images: doc.images.length,
    annotations: doc.annotations.length,
    categories: doc.categories.length,
    keypoints: doc.annotations.reduce((n, a) => n + a.num_keypoints, 0),
    suggested: doc.annotations.reduce((n, a) => n + (a.suggested?.length ?? 0), 0),
  };
}
