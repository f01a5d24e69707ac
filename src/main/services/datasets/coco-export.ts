/**
 * COCO export: a dataset's images, categories (keypoint names, skeleton, colours) and image-level
 * annotations from the store as a COCO keypoints document (the format engine/datasets/coco.ts
 * reads back). Sizes and keypoints are written as stored, in the dataset's frame
 * (engine/images/orientation.ts): for folder and COCO datasets the displayed frame, EXIF
 * orientation applied, as browser-based tools read COCO files; for benchmarks the stored pixels.
 * Pending keypoint suggestions are not annotations and stay out unless asked for.
 *
 * The document is built by the COCO writer of the export dispatch (export/coco.ts) from the
 * neutral export model (export/model.ts); these are the COCO-only entry points
 * (`datasets export-coco`, `datasets:export-coco`).
 */
import path from 'node:path';
import type { CocoFile } from '../../engine/datasets/coco.js';
import { pathTextProblem } from '../../engine/datasets/fs-util.js';
import { AppError } from '../../shared/errors.js';
import type { Db } from '../../store/db.js';
import { cocoDocument } from './export/coco.js';
import { type ExportOptions, gatherExport } from './export/model.js';
import { writeFileAtomic } from './export/writer.js';

/** See ExportOptions (export/model.ts): `includePending` fills in unlabelled keypoints with pending suggestions. */
export type CocoExportOptions = ExportOptions;

/** The COCO keypoints document for a dataset's images and image-level annotations. */
export function exportCoco(db: Db, datasetId: number, options: CocoExportOptions = {}): CocoFile {
  return cocoDocument(gatherExport(db, datasetId, options));
}

/** Writes the COCO document for a dataset to `file` (atomically, replacing it); returns counts (`suggested`: keypoints that are suggestions). */
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
  writeFileAtomic(abs, JSON.stringify(doc));
  return {
    file: abs,
    images: doc.images.length,
    annotations: doc.annotations.length,
    categories: doc.categories.length,
    keypoints: doc.annotations.reduce((n, a) => n + a.num_keypoints, 0),
    suggested: doc.annotations.reduce((n, a) => n + (a.suggested?.length ?? 0), 0),
  };
}
