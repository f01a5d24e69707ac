/** Listing a folder on the engine's machine (the path pickers). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DirectoryListing, FileEntry } from '../../contract/index.js';
import { FieldError } from '../../shared/errors.js';

const MAX_LISTING = 2000;

/** A folder to list (default: the home folder), and which files to show beside its folders. */
export interface FolderQuery {
  dir?: string;
  files: 'none' | 'json' | 'all';
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

export async function listFiles({ dir, files }: FolderQuery): Promise<DirectoryListing> {
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
