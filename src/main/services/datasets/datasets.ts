/** Use cases of the datasets domain: import (as a job), list, details, delete, COCO export, images, folder listing. */
import fs from 'node:fs';
import path from 'node:path';
import { writeCocoFile } from './coco-export.js';
import { checkExportTarget, exportDatasetAsync } from './export/index.js';
import { DATASET_FORMATS, type ExportFormat } from '../../engine/datasets/domain.js';
import { importDataset, type ImportRequest } from './import.js';
import { realDir } from '../../engine/images/safe-path.js';
import { DatasetsRepo } from '../../store/repositories/datasets.js';
import type { ImportReportInfo } from '../../contract/index.js';
import { IMPORT_DIALOG_LABELS } from '../../contract/datasets.js';
import type { ImportWording } from '../../engine/datasets/types.js';
import type { Db } from '../../store/db.js';
import { AppError, FieldError } from '../../shared/errors.js';
import type { AppContext } from '../app/app.js';
import { capReport, categoryInfos, storeOf, toDatasetSummary } from '../app/catalog.js';

/** Skipped entries a job result carries (the full list stays in the dataset's last import). */
const JOB_SKIPPED = 100;
const DETAILS_SKIPPED = 500;

/** Hints in import errors name the import dialog's fields (the API's imports are the dialog's). */
const DIALOG_WORDING: ImportWording = {
  skipInvalid: `tick “${IMPORT_DIALOG_LABELS.skipInvalid}” to import the rest`,
  nameAnnotations: `choose the file as the “${IMPORT_DIALOG_LABELS.annotations}”`,
  otherName: `enter another “${IMPORT_DIALOG_LABELS.name}”`,
  useRoot: (_dir, annotations) => `choose that folder as the “${IMPORT_DIALOG_LABELS.root}”${annotations ? ` and ${annotations} as the “${IMPORT_DIALOG_LABELS.annotations}”` : ''}`,
};

/** An import as the dialog asks for it: a dataset folder of a format (see ImportRequest). */
export interface DatasetImport {
  format: ImportRequest['format'];
  root: string;
  name?: string;
  annotations?: string;
  category?: string;
  skipInvalid: boolean;
}

/** Where a COCO export goes, and whether pending suggestions fill in unlabelled keypoints. */
export interface CocoExport {
  file: string;
  overwrite: boolean;
  includePending: boolean;
}

/** The dataset `id`, or NOT_FOUND: every use case that takes a dataset id says so when there is none. */
export function requireDataset(db: Db, id: number) {
  const d = new DatasetsRepo(db).find(id);
  if (!d) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
  return d;
}

const FORMAT_NAMES: Record<ImportRequest['format'], string> = {
  spair: 'SPair-71k',
  pfpascal: 'PF-Pascal',
  pfwillow: 'PF-Willow',
  folder: 'folder',
  coco: 'COCO',
  yolo: 'YOLO pose',
  dlc: 'DeepLabCut',
  labelstudio: 'Label Studio',
  cvat: 'CVAT',
};

/** A directory that must exist, as a field error naming the input. */
function existingDir(field: string, dir: string, what: string): string {
  try {
    return realDir(dir, what);
  } catch (err) {
    if (err instanceof AppError) throw new FieldError(err.code, field, err.message);
    throw err;
  }
}

export async function listDatasets(ctx: AppContext) {
  return storeOf(ctx).read((db) => new DatasetsRepo(db).list().map(toDatasetSummary));
}

export async function datasetDetails(ctx: AppContext, id: number) {
  return storeOf(ctx).read((db) => {
    const repo = new DatasetsRepo(db);
    const d = repo.details(id);
    const last = d.lastImport as ImportReportInfo | null;
    return {
      ...toDatasetSummary(d),
      keypoints: d.keypoints,
      pairsBySplit: d.pairsBySplit,
      pairPoints: d.pairPoints,
      categoryList: categoryInfos(db, id),
      lastImport: last && capReport(last, DETAILS_SKIPPED),
    };
  });
}

export async function startImport(ctx: AppContext, args: DatasetImport) {
  const store = storeOf(ctx);
  // Checked now, so the form can say what is wrong next to the input; the import checks again.
  const root = existingDir('root', args.root, 'dataset folder');
  if (args.format !== 'folder' && args.annotations !== undefined) {
    const file = path.resolve(args.annotations);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new FieldError('NOT_FOUND', 'annotations', `annotation file ${file} does not exist`);
  }
  if (args.name !== undefined) {
    const other = await store.read((db) => new DatasetsRepo(db).findByName(args.name!));
    // the tools' formats are stored as COCO datasets (engine/datasets/domain.ts)
    const stored = (DATASET_FORMATS as readonly string[]).includes(args.format) ? args.format : 'coco';
    if (other && !(other.format === stored && other.root === root)) {
      throw new FieldError('CONFLICT', 'name', `a dataset named '${args.name}' already exists (${other.format} at ${other.root}); choose another name`);
    }
  }
  const title = `Import ${FORMAT_NAMES[args.format]} from ${path.basename(root) || root}`;
  const { job } = ctx.jobs.run('import', title, async (task) => {
    const report = await importDataset(
      store,
      {
        format: args.format,
        root,
        ...(args.name === undefined ? {} : { name: args.name }),
        ...(args.annotations === undefined ? {} : { annotations: args.annotations }),
        ...(args.category === undefined ? {} : { category: args.category }),
        skipInvalid: args.skipInvalid,
        wording: DIALOG_WORDING,
      },
      task,
    );
    const info: ImportReportInfo = report;
    // committed: windows hear of the dataset before the job reports completion
    ctx.events.emit('dataset:changed', { id: report.datasetId, reason: 'imported' });
    return capReport(info, JOB_SKIPPED);
  });
  return { jobId: job.id };
}

export async function deleteDataset(ctx: AppContext, id: number) {
  const deleted = await storeOf(ctx).write((db) => {
    const repo = new DatasetsRepo(db);
    if (!repo.find(id)) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
    return repo.delete(id);
  });
  ctx.events.emit('dataset:changed', { id, reason: 'deleted' });
  return { deleted };
}

/** An export as the Export dialog asks for it (see exportDataset in export/index.ts). */
export interface DatasetExport {
  datasetId: number;
  format: ExportFormat;
  out: string;
  overwrite: boolean;
  includePending: boolean;
}

/** Writes a dataset in any export format; problems with the output are field errors on `out`. */
export async function exportAs(ctx: AppContext, { datasetId, format, out, overwrite, includePending }: DatasetExport) {
  const abs = path.resolve(out);
  const parent = path.dirname(abs);
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) throw new FieldError('NOT_FOUND', 'out', `folder ${parent} does not exist`);
  try {
    // the Export dialog's checkbox, by its label
    checkExportTarget(format, abs, overwrite, format === 'coco' ? 'tick “Overwrite the file if it exists”' : 'tick “Replace an earlier export of this format in the folder”');
  } catch (err) {
    if (err instanceof AppError) throw new FieldError(err.code, 'out', err.message);
    throw err;
  }
  const store = storeOf(ctx);
  await store.read((db) => requireDataset(db, datasetId));
  // the images are copied after the read, without holding the event loop (other requests go on)
  return exportDatasetAsync(store, datasetId, format, abs, { overwrite, includePending });
}

export async function exportCoco(ctx: AppContext, id: number, { file, overwrite, includePending }: CocoExport) {
  const out = path.resolve(file);
  const parent = path.dirname(out);
  if (!fs.existsSync(parent) || !fs.statSync(parent).isDirectory()) throw new FieldError('NOT_FOUND', 'file', `folder ${parent} does not exist`);
  if (fs.existsSync(out)) {
    if (fs.statSync(out).isDirectory()) throw new FieldError('INVALID_ARGUMENT', 'file', `${out} is a folder; name a .json file`);
    if (!overwrite) throw new FieldError('CONFLICT', 'file', `${out} already exists; tick "overwrite" to replace it`);
  }
  return storeOf(ctx).read((db) => {
    if (!new DatasetsRepo(db).find(id)) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
    return writeCocoFile(db, id, out, { includePending });
  });
}
