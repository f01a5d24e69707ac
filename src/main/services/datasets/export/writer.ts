/**
 * What an export format's writer is (the dispatch in ./index.ts holds one per format), and the file
 * helpers writers share: atomic files, staged folders, copies of the dataset's images.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../../shared/errors.js';
import type { ExportModel } from './model.js';

export interface ExportWriter {
  /**
   * 'file': `out` is one file, replaced atomically. 'folder': `out` is a new (or empty) folder; the
   * writer fills a staging folder beside it that is renamed into place once complete, so a failed
   * export leaves nothing behind.
   */
  target: 'file' | 'folder';
  /** The file's extension ('file' writers), for suggested names and the dialog's hint. */
  extension?: string;
  /**
   * 'folder' writers: a file every export of the format has at its top (data.yaml, config.yaml). A
   * non-empty folder holding it is an earlier export that `overwrite` may replace; any other
   * non-empty folder is refused, whatever `overwrite` says.
   */
  marker?: string;
  /** Writes the export to `out` (the file, or the staging folder, which exists and is empty); `final`: where it ends up (absolute). */
  write(model: ExportModel, out: string, final: string): void;
}

/** Writes `data` to `file` through a temporary file beside it (never a half-written file). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    // a full disk must not leave a half-written file beside the one asked for
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes a text file under a (staging) folder, creating its parents. */
export function writeText(folder: string, rel: string, text: string): void {
  const file = path.join(folder, ...rel.split('/'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** An image copy a writer asked for: the dataset's file and where it goes in the export. */
interface ImageCopy {
  from: string;
  src: string;
  dest: string;
}

/** While a writer runs under `collectCopies`, the copies it asks for (made afterwards, asynchronously). */
let deferred: ImageCopy[] | null = null;

function missing(copy: ImageCopy): AppError {
  return new AppError('NOT_FOUND', `image ${copy.from} is missing: ${copy.src} does not exist (re-import the dataset, or restore the file)`);
}

/**
 * Copies one of the dataset's images (`root`/`from`) to `folder`/`to` (a reflink where the file
 * system has them): the tools want images and labels side by side, and linking would let a tool
 * that rewrites an image change the dataset's own. Under `collectCopies` the copy is only noted.
 */
export function copyImage(root: string, from: string, folder: string, to: string): void {
  const copy = { from, src: path.join(root, ...from.split('/')), dest: path.join(folder, ...to.split('/')) };
  if (deferred) {
    deferred.push(copy);
    return;
  }
  fs.mkdirSync(path.dirname(copy.dest), { recursive: true });
  try {
    fs.copyFileSync(copy.src, copy.dest, fs.constants.COPYFILE_FICLONE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(copy.src)) throw missing(copy);
    throw err;
  }
}

/** Runs a writer, noting the image copies it asks for instead of making them (see `makeCopies`). */
export function collectCopies(write: () => void): ImageCopy[] {
  const copies: ImageCopy[] = [];
  deferred = copies;
  try {
    write();
  } finally {
    deferred = null;
  }
  return copies;
}

/** Makes noted image copies with asynchronous file operations, a few at a time (the event loop stays free). */
export async function makeCopies(copies: readonly ImageCopy[], concurrency = 4): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < copies.length) {
      const copy = copies[next++]!;
      await fs.promises.mkdir(path.dirname(copy.dest), { recursive: true });
      try {
        await fs.promises.copyFile(copy.src, copy.dest, fs.constants.COPYFILE_FICLONE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(copy.src)) throw missing(copy);
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, copies.length) }, worker));
}
