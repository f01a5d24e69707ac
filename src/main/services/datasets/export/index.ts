/**
 * Dataset export in any of the export formats: the store is read once into the neutral model
 * (./model.ts), then the format's writer turns it into files. One writer per format, in the
 * table below; a format is added by writing its module and listing it here (and in
 * engine/datasets/domain.ts's EXPORT_FORMATS).
 *
 * Files are replaced atomically; folders are staged beside the target and renamed into place, so
 * a failed export leaves nothing half-written.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ExportFormat } from '../../../engine/datasets/domain.js';
import { pathTextProblem } from '../../../engine/datasets/fs-util.js';
import { AppError } from '../../../shared/errors.js';
import type { Db, Store } from '../../../store/db.js';
import { cocoWriter } from './coco.js';
import { dlcWriter } from './dlc.js';
import { type ExportModel, type ExportOptions, gatherExport } from './model.js';
import { collectCopies, type ExportWriter, makeCopies } from './writer.js';
import { yoloWriter } from './yolo.js';
import { labelStudioWriter } from './labelstudio.js';
import { cvatWriter } from './cvat.js';
import type { ExportResultInfo } from '../../../contract/datasets.js';

/** The writer of each export format. */
export const EXPORT_WRITERS: Record<ExportFormat, ExportWriter> = {
  coco: cocoWriter,
  yolo: yoloWriter,
  dlc: dlcWriter,
  labelstudio: labelStudioWriter,
  cvat: cvatWriter,
};

export interface DatasetExportOptions extends ExportOptions {
  /** Replace an existing file, or a folder holding an earlier export of the same format. Default: refuse. */
  overwrite?: boolean;
}

/** What an export wrote (the contract's record: counts over the whole dataset; `suggested`: keypoints that are suggestions). */
export type ExportResult = ExportResultInfo;

function isEmptyDir(dir: string): boolean {
  return fs.readdirSync(dir).length === 0;
}

/**
 * Checks where an export of `format` may go, before anything is read: the file or folder, what is
 * there already, and `overwrite`. Returns the absolute path. Errors name the path and what to do.
 */
export function checkExportTarget(format: ExportFormat, out: string, overwrite = false, howToOverwrite = 'pass --overwrite'): string {
  const writer = EXPORT_WRITERS[format];
  if (!writer) throw new AppError('INVALID_ARGUMENT', `unknown export format '${String(format)}' (one of ${Object.keys(EXPORT_WRITERS).join(', ')})`);
  const problem = pathTextProblem(out);
  if (problem) throw new AppError('INVALID_ARGUMENT', `the output ${writer.target} is refused: ${problem}`);
  const abs = path.resolve(out);
  if (!fs.existsSync(abs)) return abs;
  const isDir = fs.statSync(abs).isDirectory();
  if (writer.target === 'file') {
    if (isDir) throw new AppError('INVALID_ARGUMENT', `${abs} is a folder; ${format} exports one file: name a ${writer.extension ?? ''} file`);
    if (!overwrite) throw new AppError('CONFLICT', `${abs} already exists; ${howToOverwrite} to replace it, or choose another file`);
    return abs;
  }
  if (!isDir) throw new AppError('INVALID_ARGUMENT', `${abs} is a file; ${format} exports a folder: name a new or empty folder`);
  if (isEmptyDir(abs)) return abs;
  if (writer.marker && fs.existsSync(path.join(abs, writer.marker))) {
    if (!overwrite) throw new AppError('CONFLICT', `${abs} holds an earlier ${format} export; ${howToOverwrite} to replace it, or choose a new or empty folder`);
    return abs;
  }
  throw new AppError('CONFLICT', `${abs} is a folder that is not empty (and holds no ${format} export to replace); choose a new or empty folder`);
}

/** Moves a complete staging folder to `abs` (replacing an empty folder or an earlier export there). */
function placeFolder(staging: string, abs: string): void {
  if (!fs.existsSync(abs)) {
    fs.renameSync(staging, abs);
    return;
  }
  const old = `${abs}.${process.pid}.old`;
  fs.renameSync(abs, old);
  try {
    fs.renameSync(staging, abs);
  } catch (err) {
    fs.renameSync(old, abs);
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
}

/** A staging folder beside `abs` no other export (of this process or another) uses. */
let staged = 0;
function stagingFor(abs: string): string {
  return `${abs}.${process.pid}-${++staged}.tmp`;
}

function counts(format: ExportFormat, abs: string, target: 'file' | 'folder', model: ExportModel): ExportResult {
  return {
    format,
    out: abs,
    target,
    images: model.images.length,
    annotations: model.annotations.length,
    categories: model.categories.length,
    keypoints: model.annotations.reduce((n, a) => n + a.keypoints.length, 0),
    suggested: model.annotations.reduce((n, a) => n + a.suggested.length, 0),
  };
}

/**
 * Writes dataset `datasetId` in `format` to `out` (a file for COCO, a folder for the others; see
 * docs/formats.md), synchronously: for the CLI and for tests inside `store.read`. Throws, having
 * written nothing, when the target is refused, the dataset does not fit the format (said with the
 * category or image at fault), or an image file is missing.
 */
export function exportDataset(db: Db, datasetId: number, format: ExportFormat, out: string, options: DatasetExportOptions = {}): ExportResult {
  const abs = checkExportTarget(format, out, options.overwrite ?? false);
  const writer = EXPORT_WRITERS[format];
  const model = gatherExport(db, datasetId, options);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  if (writer.target === 'file') {
    writer.write(model, abs, abs);
  } else {
    const staging = stagingFor(abs);
    fs.mkdirSync(staging);
    try {
      writer.write(model, staging, abs);
      placeFolder(staging, abs);
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw err;
    }
  }
  return counts(format, abs, writer.target, model);
}

/**
 * The same as `exportDataset` for a server: the store is read in one short read transaction, and
 * the files are written after it, the images copied with asynchronous file operations, so that
 * other requests are answered while a large export copies its images.
 */
export async function exportDatasetAsync(store: Store, datasetId: number, format: ExportFormat, out: string, options: DatasetExportOptions = {}): Promise<ExportResult> {
  const abs = checkExportTarget(format, out, options.overwrite ?? false);
  const writer = EXPORT_WRITERS[format];
  const model = await store.read((db) => gatherExport(db, datasetId, options));
  await fs.promises.mkdir(path.dirname(abs), { recursive: true });
  if (writer.target === 'file') {
    writer.write(model, abs, abs);
    return counts(format, abs, writer.target, model);
  }
  const staging = stagingFor(abs);
  await fs.promises.mkdir(staging);
  try {
    const copies = collectCopies(() => writer.write(model, staging, abs));
    await makeCopies(copies);
    // checked again: another export may have filled the folder meanwhile
    checkExportTarget(format, abs, options.overwrite ?? false);
    placeFolder(staging, abs);
  } catch (err) {
    await fs.promises.rm(staging, { recursive: true, force: true });
    throw err;
  }
  return counts(format, abs, writer.target, model);
}
