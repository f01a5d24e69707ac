import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in test/helpers/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}
