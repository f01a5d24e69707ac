/**
 * Paths inside a dataset root. Image rows store paths relative to their dataset's root with '/'
 * separators; every file access resolves them here, refusing anything that would leave the root:
 * absolute paths, '..' segments, NUL bytes, and symlinks that point outside.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.js';

/** Whether `candidate` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * Checks a dataset-relative path ('a/b/c.jpg'): not empty, not absolute (no leading '/', no drive
 * letter), no backslashes, no NUL, no '.' or '..' or empty segments. Returns the reason it is
 * refused, or null when it is acceptable.
 */
export function relativePathProblem(rel: string): string | null {
  if (rel.length === 0) return 'the path is empty';
  if (rel.includes('\0')) return 'the path contains a NUL byte';
  if (rel.includes('\\')) return 'the path contains a backslash';
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) return 'the path is absolute';
  for (const seg of rel.split('/')) {
    if (seg === '..') return "the path contains '..'";
    if (seg === '.' || seg === '') return "the path has an empty or '.' segment";
  }
  return null;
}

/** Turns a path as written in a dataset file ('./a\\b.jpg') into the stored form ('a/b.jpg'). */
export function normalizeDatasetPath(p: string): string {
  return p
    .replaceAll('\\', '/')
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** The real (symlink-free) absolute path of a directory that must exist. */
export function realDir(dir: string, what = 'directory'): string {
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(dir));
  } catch {
    throw new AppError('NOT_FOUND', `${what} ${path.resolve(dir)} does not exist`);
  }
  if (!fs.statSync(real).isDirectory()) throw new AppError('INVALID_ARGUMENT', `${what} ${real} is not a directory`);
  return real;
}

/**
 * Resolves `rel` under `rootReal` (itself already real) to the real absolute path of an existing
 * file, following symlinks and refusing any that leave the root. Throws FORBIDDEN for paths that
 * escape, NOT_FOUND for files that do not exist.
 */
export function resolveInsideRoot(rootReal: string, rel: string): string {
  const problem = relativePathProblem(rel);
  if (problem) throw new AppError('FORBIDDEN', `refusing image path '${rel}': ${problem}`);
  const joined = path.join(rootReal, ...rel.split('/'));
  if (!isInside(rootReal, joined)) throw new AppError('FORBIDDEN', `refusing image path '${rel}': it leaves the dataset root ${rootReal}`);
  let real: string;
  try {
    real = fs.realpathSync(joined);
  } catch {
    throw new AppError('NOT_FOUND', `${rel} does not exist under ${rootReal}`);
  }
  if (!isInside(rootReal, real)) throw new AppError('FORBIDDEN', `refusing image path '${rel}': it resolves to ${real}, outside the dataset root ${rootReal}`);
  if (!fs.statSync(real).isFile()) throw new AppError('NOT_FOUND', `${rel} is not a file`);
  return real;
}
