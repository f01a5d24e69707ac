/** File-system helpers for the dataset readers (synchronous: small files, read between yields). */
import fs from 'node:fs';
import path from 'node:path';

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Names of the visible subdirectories of `dir`, sorted. */
export function subdirectories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name)))))
    .map((e) => e.name)
    .sort();
}

/** The file's text, or null when it does not exist. Other read errors are thrown. */
export function readTextIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The file's bytes, or null when it does not exist. */
export function readBytesIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** JSON.parse's message without the engine's prefix. */
export function jsonError(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/^JSON\.parse: /, '');
}

/** The file name without directory and extension ('a/b/2008_000123.jpg' -> '2008_000123'). */
export function stem(p: string): string {
  const base = p.split('/').pop() ?? p;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
