/**
 * Adding image files to a folder or COCO dataset (the UI's file picker and drop zone): the bytes
 * arrive over the API and are copied into the dataset's folder.
 *
 *   request checks (at once) -> checking images (job) -> writing (job)
 *
 * All or nothing per batch. The request is refused before a job starts when the dataset is a
 * benchmark (read-only), when a file is over the size limit or the batch is (TOO_LARGE, naming the
 * limit), when a name is not an image file's name, or when a name is taken and the caller asked to
 * be refused. Then every image is decoded with the importer's probe (hash, size in the format's
 * frame, EXIF orientation: the same rows an import writes); one that fails stops the batch, naming
 * it. Only then are files written: each under a hidden temporary name in the target folder (a
 * folder import skips hidden entries), then linked to its final name, which fails rather than
 * overwrite a file that appeared meanwhile, then the rows are inserted in one transaction. Any
 * failure removes every file this batch wrote. A crash between linking and COMMIT leaves image
 * files without rows, which the next import of the folder picks up; never rows without files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ADDABLE_IMAGE_EXTENSIONS,
  type AddedImage,
  type AddImageCollision,
  type AddImagesReport,
  formatBytes,
  MAX_ADD_IMAGES_REQUEST_BYTES,
  MAX_ADDED_IMAGE_BYTES,
} from '../../contract/dataset-images.js';
import { type ImageProbe, probeImageBuffer } from '../../engine/images/probe.js';
import { appliesExifOrientation } from '../../engine/images/orientation.js';
import { realDir } from '../../engine/images/safe-path.js';
import { silentTask, type TaskContext } from '../../engine/jobs/progress.js';
import { AppError, diskFullError, FieldError, isDiskFullError } from '../../shared/errors.js';
import type { Store } from '../../store/db.js';
import { type Dataset, DatasetsRepo } from '../../store/repositories/datasets.js';
import { ImagesRepo } from '../../store/repositories/images.js';
import type { AppContext } from '../app/app.js';
import { storeOf } from '../app/catalog.js';
import { EDITABLE_FORMATS } from '../annotations/editor.js';
import { pool } from '../../shared/pool.js';

/** One file of a batch, decoded from the request. */
export interface IncomingImage {
  /** The name as sent. */
  name: string;
  bytes: Buffer;
}

export interface AddImagesRequest {
  datasetId: number;
  files: IncomingImage[];
  onCollision: AddImageCollision;
  /** Images decoded in parallel (default: the number of cores, 2..4). */
  concurrency?: number;
}

export const ADD_STAGES = { checking: 'checking images', writing: 'writing' } as const;

/** Formats sharp reads that a dataset image may have (svg, pdf and raw pixel formats may not). */
const IMAGE_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif']);

const FORMAT_NAMES: Record<string, string> = { spair: 'SPair-71k', pfpascal: 'PF-Pascal', pfwillow: 'PF-Willow' };

/** `n` files named, the first five quoted: "'a.jpg', 'b.jpg' and 4 more". */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((n) => `'${n}'`);
  const more = names.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : shown[0]!;
}

/** Why `name` cannot be an added image's file name, or null. */
export function imageNameProblem(name: string): string | null {
  if (/[\\/]/.test(name)) return 'the name contains a folder separator; send the file name only';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains a control character';
  if (name.trim() !== name) return 'the name starts or ends with a space';
  if (name.startsWith('.')) return 'the name starts with a dot: a hidden file, which a folder import leaves out';
  if (Buffer.byteLength(name) > 255) return 'the name is longer than 255 bytes, more than file systems allow';
  const ext = path.extname(name).toLowerCase();
  if (!(ADDABLE_IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
    return `not a supported image type (extension '${ext || 'none'}'; one of ${ADDABLE_IMAGE_EXTENSIONS.join(' ')})`;
  }
  return null;
}

/** Bytes a base64 text decodes to, without decoding it. */
function base64Length(data: string): number {
  const pad = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - pad;
}

/** The field an error about one file of the batch names: `files.<0-based index>` (the dialog marks that file). */
export function fileField(index: number): string {
  return `files.${index}`;
}

/**
 * Decodes the request's files and checks what needs no image decoding: names, base64, the size
 * limits (TOO_LARGE naming the file and the limit). Throws for the first problem found.
 */
export function decodeFiles(files: readonly { name: string; data: string }[]): IncomingImage[] {
  let total = 0;
  for (const [i, f] of files.entries()) {
    const which = `file ${i + 1} of ${files.length} ('${f.name}')`;
    const problem = imageNameProblem(f.name);
    if (problem) throw new FieldError('INVALID_ARGUMENT', fileField(i), `${which}: ${problem}; nothing was added`);
    const size = base64Length(f.data);
    if (size > MAX_ADDED_IMAGE_BYTES) {
      throw new FieldError('TOO_LARGE', fileField(i), `${which} is ${formatBytes(size)}; an added image may be at most ${formatBytes(MAX_ADDED_IMAGE_BYTES)}; nothing was added`);
    }
    total += size;
  }
  if (total > MAX_ADD_IMAGES_REQUEST_BYTES) {
    throw new AppError(
      'TOO_LARGE',
      `the ${files.length} files come to ${formatBytes(total)}; one batch may carry at most ${formatBytes(MAX_ADD_IMAGES_REQUEST_BYTES)}; add them in several batches (nothing was added)`,
    );
  }
  return files.map((f, i) => {
    if (f.data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(f.data)) {
      throw new FieldError('INVALID_ARGUMENT', fileField(i), `file ${i + 1} of ${files.length} ('${f.name}'): its data is not base64; nothing was added`);
    }
    return { name: f.name, bytes: Buffer.from(f.data, 'base64') };
  });
}

/** A dataset images may be added to, or FORBIDDEN saying why not. */
function writableDataset(store: Store, datasetId: number): Promise<{ dataset: Dataset; categoryId: number | null; paths: string[] }> {
  return store.read((db) => {
    const repo = new DatasetsRepo(db);
    const dataset = repo.find(datasetId);
    if (!dataset) throw new AppError('NOT_FOUND', `no dataset with id ${datasetId}`);
    if (!EDITABLE_FORMATS.has(dataset.format)) {
      throw new AppError(
        'FORBIDDEN',
        `'${dataset.name}' is a ${FORMAT_NAMES[dataset.format] ? `${FORMAT_NAMES[dataset.format]} benchmark` : `${dataset.format} dataset`}: its images come from its annotation files and are read-only; import a folder of images (or a COCO file) to add images of your own`,
      );
    }
    const categories = repo.categories(datasetId);
    const paths = [...new ImagesRepo(db).idsByPath(datasetId).keys()];
    // A folder dataset's images join its category; a COCO dataset's join its only one, or none
    // (an image with no category and no annotation is listed under every category).
    return { dataset, categoryId: categories.length === 1 ? categories[0]!.id : null, paths };
  });
}

/**
 * The folder new images go to, relative to the root ('' for the root): where most of the dataset's
 * images are (a COCO dataset's `images/`), the root when it has none.
 */
export function targetFolder(paths: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const p of paths) {
    const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    counts.set(dir, (counts.get(dir) ?? 0) + 1);
  }
  let best = '';
  let most = 0;
  for (const [dir, n] of counts) {
    if (n > most || (n === most && dir.length < best.length)) [best, most] = [dir, n];
  }
  return best;
}

/** The first free name `<stem> (k).<ext>`, k = 2, 3, ... */
function freeName(name: string, taken: (n: string) => boolean): string {
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let k = 2; ; k++) {
    const candidate = `${stem} (${k})${ext}`;
    if (!taken(candidate)) return candidate;
  }
}

/**
 * The final name of each file: its own, or (`rename`) the first free one when it is taken in the
 * folder, by an image row, or by an earlier file of the batch. Names compare without case, as
 * they do on the file systems of macOS and Windows. `refuse` throws CONFLICT naming every taken one.
 */
function chooseNames(files: readonly IncomingImage[], dir: string, relDir: string, storedPaths: readonly string[], onCollision: AddImageCollision): string[] {
  const prefix = relDir ? `${relDir}/` : '';
  const stored = new Set(storedPaths.map((p) => p.toLowerCase()));
  const chosen = new Set<string>();
  const taken = (n: string) => chosen.has(n.toLowerCase()) || stored.has(`${prefix}${n}`.toLowerCase()) || fs.existsSync(path.join(dir, n));
  const clashes: string[] = [];
  const names = files.map((f) => {
    let name = f.name;
    if (taken(name)) {
      if (onCollision === 'refuse') clashes.push(name);
      else name = freeName(name, taken);
    }
    chosen.add(name.toLowerCase());
    return name;
  });
  if (clashes.length > 0) {
    throw new AppError(
      'CONFLICT',
      `${nameList(clashes)} ${clashes.length === 1 ? 'is' : 'are'} already taken in ${dir} (or twice in the batch); nothing was added. Choose “Keep both” to add ${clashes.length === 1 ? 'it' : 'them'} under a numbered name, or rename the file${clashes.length === 1 ? '' : 's'}`,
    );
  }
  return names;
}

/** What the request checks found: the dataset, where the files go and under which names. */
interface Plan {
  dataset: Dataset;
  categoryId: number | null;
  /** Absolute target folder. */
  dir: string;
  /** Relative to the root ('' for the root). */
  relDir: string;
  names: string[];
}

/** The checks done before a job starts (nothing decoded yet); throws for the first problem. */
async function plan(store: Store, req: AddImagesRequest): Promise<Plan> {
  const { dataset, categoryId, paths } = await writableDataset(store, req.datasetId);
  const root = realDir(dataset.root, `the folder of dataset '${dataset.name}'`);
  const relDir = targetFolder(paths);
  const dir = path.join(root, ...(relDir ? relDir.split('/') : []));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new AppError('NOT_FOUND', `the images folder ${dir} of dataset '${dataset.name}' does not exist; nothing was added`);
  const names = chooseNames(req.files, dir, relDir, paths, req.onCollision);
  return { dataset, categoryId, dir, relDir, names };
}

/** Decodes every image (the importer's probe); throws IMAGE_INVALID naming the first bad file. */
async function checkAll(files: readonly IncomingImage[], orient: boolean, task: TaskContext, concurrency: number): Promise<ImageProbe[]> {
  const probes: ImageProbe[] = new Array<ImageProbe>(files.length);
  const bad: { index: number; message: string }[] = [];
  let done = 0;
  task.progress({ stage: ADD_STAGES.checking, done: 0, total: files.length });
  await pool(files, concurrency, async (f, i) => {
    task.token.throwIfCancelled();
    if (bad.length > 0) return;
    try {
      const probe = await probeImageBuffer(f.bytes, f.name, { orient });
      if (!IMAGE_FORMATS.has(probe.format)) throw new AppError('IMAGE_INVALID', `${f.name}: not a supported image type (the file holds ${probe.format}; one of JPEG, PNG, WebP, TIFF, GIF, AVIF)`);
      probes[i] = probe;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      bad.push({ index: i, message: err.message });
    } finally {
      task.progress({ stage: ADD_STAGES.checking, done: ++done, total: files.length, detail: f.name });
    }
  });
  if (bad.length > 0) {
    // the first bad file in the batch's order, whichever decoding finished first
    const first = bad.reduce((a, b) => (b.index < a.index ? b : a));
    throw new FieldError('IMAGE_INVALID', fileField(first.index), `file ${first.index + 1} of ${files.length}, ${first.message}; nothing was added`);
  }
  return probes;
}

/** Removes files this batch wrote; never throws (a file that cannot be removed is logged by the caller's error). */
function removeAll(files: readonly string[]): void {
  for (const f of files) fs.rmSync(f, { force: true });
}

/** File-system errors worded for the user: which folder, what went wrong. */
function writeError(err: unknown, dir: string, what: string): unknown {
  if (isDiskFullError(err)) return diskFullError(what, dir, err);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AppError('FORBIDDEN', `cannot write ${what} into ${dir}: ${code === 'EROFS' ? 'the file system is read-only' : 'permission denied'}; nothing was added`, String(err));
  }
  return err;
}

/**
 * Links `tmp` to `final` without replacing anything: link() fails with EEXIST when the name was
 * taken meanwhile. Where hard links are not supported (some network and FAT file systems), a
 * rename after an existence check.
 */
function linkNoClobber(tmp: string, final: string): void {
  try {
    fs.linkSync(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    if (fs.existsSync(final)) throw Object.assign(new Error(`${final} exists`), { code: 'EEXIST' });
    fs.renameSync(tmp, final);
  }
}

/**
 * Adds the batch (see the module comment); returns what was added. `plan` checks must have
 * passed (startAddImages runs them before the job); they are run again here, since the folder or
 * the dataset may have changed while the job waited.
 */
export async function addImages(store: Store, req: AddImagesRequest, task: TaskContext = silentTask()): Promise<AddImagesReport> {
  const p = await plan(store, req);
  const concurrency = req.concurrency ?? Math.max(2, Math.min(4, os.availableParallelism()));
  const probes = await checkAll(req.files, appliesExifOrientation(p.dataset.format), task, concurrency);
  task.token.throwIfCancelled();

  const total = req.files.length;
  const written: string[] = [];
  const temps: string[] = [];
  let current = '';
  try {
    task.progress({ stage: ADD_STAGES.writing, done: 0, total });
    const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
    for (const [i, f] of req.files.entries()) {
      current = p.names[i]!;
      // hidden, and short whatever the name's length
      const tmp = path.join(p.dir, `.sd4match-add.${tag}.${i}.tmp`);
      temps.push(tmp);
      fs.writeFileSync(tmp, f.bytes, { flag: 'wx' });
      task.progress({ stage: ADD_STAGES.writing, done: i, total, detail: current });
      task.token.throwIfCancelled();
    }
    for (const [i] of req.files.entries()) {
      current = p.names[i]!;
      const final = path.join(p.dir, current);
      try {
        linkNoClobber(temps[i]!, final);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new AppError('CONFLICT', `${current} appeared in ${p.dir} while the batch was being added; nothing was added (add the batch again)`);
        }
        throw err;
      }
      written.push(final);
    }
    current = '';
    const added = await store.write((db) => {
      const images = new ImagesRepo(db);
      return req.files.map((f, i): AddedImage => {
        const rel = p.relDir ? `${p.relDir}/${p.names[i]!}` : p.names[i]!;
        if (images.findByPath(p.dataset.id, rel)) throw new AppError('CONFLICT', `another client added ${rel} to '${p.dataset.name}' meanwhile; nothing was added (add the batch again)`);
        const probe = probes[i]!;
        const id = images.upsert(p.dataset.id, {
          path: rel,
          categoryId: p.categoryId,
          width: probe.width,
          height: probe.height,
          format: probe.format,
          bytes: probe.bytes,
          sha256: probe.sha256,
          externalId: null,
        });
        return { id, path: rel, name: f.name, renamed: p.names[i] !== f.name, width: probe.width, height: probe.height };
      });
    });
    task.progress({ stage: ADD_STAGES.writing, done: total, total });
    const note =
      p.dataset.format === 'coco' ? `The COCO file ${p.dataset.source} is not changed: export the dataset to COCO to include the new images (importing that file again would drop them).` : null;
    return { datasetId: p.dataset.id, folder: p.dir, added, bytes: req.files.reduce((n, f) => n + f.bytes.length, 0), note };
  } catch (err) {
    removeAll(written);
    throw writeError(err, p.dir, current ? `the image ${current}` : 'the images');
  } finally {
    removeAll(temps);
  }
}

/**
 * The use case behind `datasets:add-images`: decodes and checks the request (TOO_LARGE, FORBIDDEN,
 * CONFLICT and bad names are refused at once), then adds the batch as a job whose result is the
 * report. Windows hear `dataset:changed` once the rows are committed.
 */
export async function startAddImages(ctx: AppContext, args: { datasetId: number; files: { name: string; data: string }[]; onCollision: AddImageCollision }): Promise<{ jobId: string }> {
  const store = storeOf(ctx);
  const files = decodeFiles(args.files);
  const req: AddImagesRequest = { datasetId: args.datasetId, files, onCollision: args.onCollision };
  const { dataset } = await plan(store, req);
  const title = `Add ${files.length} image${files.length === 1 ? '' : 's'} to ${dataset.name}`;
  const { job } = ctx.jobs.run('add-images', title, async (task) => {
    const report = await addImages(store, req, task);
    ctx.events.emit('dataset:changed', { id: report.datasetId, reason: 'imported' });
    return report;
  });
  return { jobId: job.id };
}
