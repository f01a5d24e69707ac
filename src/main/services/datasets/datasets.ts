/** Use cases of the datasets domain: import (as a job), list, details, delete, COCO export, images, folder listing. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCocoFile } from './coco-export.js';
import { importDataset } from './import.js';
import { realDir } from '../../engine/images/safe-path.js';
import { DatasetsRepo } from '../../store/repositories/datasets.js';
import { ImagesRepo } from '../../store/repositories/images.js';
import type { DirectoryListing, FileEntry, ImageDetail, ImportReportInfo, InvokeParsedArgs } from '../../contract/index.js';
import { IMPORT_DIALOG_LABELS } from '../../contract/datasets.js';
import type { ImportWording } from '../../engine/datasets/types.js';
import type { Db } from '../../store/db.js';
import { AppError, FieldError } from '../../shared/errors.js';
import type { AppContext } from '../app/app.js';
import { capReport, categoryInfos, storeOf, toDatasetSummary } from '../app/catalog.js';


/** Skipped entries a job result carries (the full list stays in the dataset's last import). */
const JOB_SKIPPED = 100;
const DETAILS_SKIPPED = 500;
const MAX_LISTING = 2000;

/** Hints in import errors name the import dialog's fields (the API's imports are the dialog's). */
const DIALOG_WORDING: ImportWording = {
  skipInvalid: `tick “${IMPORT_DIALOG_LABELS.skipInvalid}” to import the rest`,
  nameAnnotations: `choose the file as the “${IMPORT_DIALOG_LABELS.annotations}”`,
  otherName: `enter another “${IMPORT_DIALOG_LABELS.name}”`,
  useRoot: (_dir, annotations) => `choose that folder as the “${IMPORT_DIALOG_LABELS.root}”${annotations ? ` and ${annotations} as the “${IMPORT_DIALOG_LABELS.annotations}”` : ''}`,
};

/** The dataset `id`, or NOT_FOUND: every use case that takes a dataset id says so when there is none. */
export function requireDataset(db: Db, id: number) {
  const d = new DatasetsRepo(db).find(id);
  if (!d) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
  return d;
}

const FORMAT_NAMES = { spair: 'SPair-71k', pfpascal: 'PF-Pascal', pfwillow: 'PF-Willow', folder: 'folder', coco: 'COCO' } as const;

/** A directory that must exist, as a field error naming the input. */
function existingDir(field: string, dir: string, what: string): string {
  try {
    return realDir(dir, what);
  } catch (err) {
    if (err instanceof AppError) throw new FieldError(err.code, field, err.message);
    throw err;
  }
}

/** The folder `models/` beside the workstation's package.json, when running from a checkout. */
function defaultModelsDir(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      const models = path.join(dir, 'models');
      return fs.existsSync(models) ? models : null;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

function places(): DirectoryListing['places'] {
  const list: DirectoryListing['places'] = [{ label: 'Home', path: os.homedir() }];
  const models = defaultModelsDir();
  if (models) list.push({ label: 'models/', path: models });
  if (process.platform === 'win32') {
    for (const letter of 'CDEFGHIJ') {
      const drive = `${letter}:\\`;
      if (fs.existsSync(drive)) list.push({ label: drive, path: drive });
    }
  } else {
    list.push({ label: '/', path: '/' });
  }
  return list;
}

export async function listDatasets(ctx: AppContext) {
  return storeOf(ctx).read((db) => new DatasetsRepo(db).list().map(toDatasetSummary));
}

export async function datasetDetails(ctx: AppContext, { id }: InvokeParsedArgs<'datasets:get'>) {
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

export async function startImport(ctx: AppContext, args: InvokeParsedArgs<'datasets:import'>) {
    const store = storeOf(ctx);
    // Checked now, so the form can say what is wrong next to the input; the import checks again.
    const root = existingDir('root', args.root, 'dataset folder');
    if (args.format === 'coco' && args.annotations !== undefined) {
      const file = path.resolve(args.annotations);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new FieldError('NOT_FOUND', 'annotations', `annotation file ${file} does not exist`);
    }
    if (args.name !== undefined) {
      const other = await store.read((db) => new DatasetsRepo(db).findByName(args.name!));
      if (other && !(other.format === args.format && other.root === root)) {
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

export async function deleteDataset(ctx: AppContext, { id }: InvokeParsedArgs<'datasets:delete'>) {
    const deleted = await storeOf(ctx).write((db) => {
      const repo = new DatasetsRepo(db);
      if (!repo.find(id)) throw new AppError('NOT_FOUND', `no dataset with id ${id}`);
      return repo.delete(id);
    });
    ctx.events.emit('dataset:changed', { id, reason: 'deleted' });
    return { deleted };
  }

export async function exportCoco(ctx: AppContext, { id, file, overwrite, includePending }: InvokeParsedArgs<'datasets:export-coco'>) {
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

export async function listImages(ctx: AppContext, { datasetId, categoryId, filter, search, offset, limit }: InvokeParsedArgs<'images:list'>) {
  return storeOf(ctx).read((db) => {
    requireDataset(db, datasetId);
    return new ImagesRepo(db).page(datasetId, { categoryId, filter, search: search || undefined, offset, limit });
  });
}

export async function locateImage(ctx: AppContext, { datasetId, categoryId, filter, search, imageId }: InvokeParsedArgs<'images:locate'>) {
  return storeOf(ctx).read((db) => {
    requireDataset(db, datasetId);
    return { index: new ImagesRepo(db).indexOf(datasetId, imageId, { categoryId, filter, search: search || undefined }) };
  });
}

export async function imageDetail(ctx: AppContext, { id }: InvokeParsedArgs<'images:get'>): Promise<ImageDetail> {
  return storeOf(ctx).read((db) => {
      const repo = new ImagesRepo(db);
      const img = repo.get(id);
      if (!img) throw new AppError('NOT_FOUND', `no image with id ${id}`);
      return {
        id: img.id,
        datasetId: img.datasetId,
        path: img.path,
        width: img.width,
        height: img.height,
        format: img.format,
        bytes: img.bytes,
        categoryId: img.categoryId,
        annotations: repo.annotations(id).map((a) => ({ categoryId: a.categoryId, instance: a.instance, bbox: a.bbox, keypoints: a.keypoints })),
      };
    });
}

export async function listFiles(_ctx: AppContext, { dir, files }: InvokeParsedArgs<'files:list'>): Promise<DirectoryListing> {
    const target = path.resolve(dir && dir.trim() ? dir.trim() : os.homedir());
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(target, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new FieldError('NOT_FOUND', 'dir', `${target} does not exist`);
      if (code === 'ENOTDIR') throw new FieldError('INVALID_ARGUMENT', 'dir', `${target} is a file, not a folder`);
      if (code === 'EACCES' || code === 'EPERM') throw new FieldError('FORBIDDEN', 'dir', `${target}: permission denied`);
      throw err;
    }
    const wanted = (name: string) => files === 'all' || (files === 'json' && name.toLowerCase().endsWith('.json'));
    const list: FileEntry[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          isDir = fs.statSync(path.join(target, e.name)).isDirectory();
        } catch {
          continue; // broken link
        }
      }
      if (isDir) list.push({ name: e.name, kind: 'dir' });
      else if (wanted(e.name)) list.push({ name: e.name, kind: 'file' });
    }
    list.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name, undefined, { numeric: true }) : a.kind === 'dir' ? -1 : 1));
    const parent = path.dirname(target);
    return { dir: target, parent: parent === target ? null : parent, entries: list.slice(0, MAX_LISTING), truncated: list.length > MAX_LISTING, places: places() };
  }
